//! Exit codes and the error categories that map to them.
//!
//! 0 ok · 1 runtime failure · 2 usage or spec error · 3 data checks failed beyond the allowed
//! share. Library errors are typed; the command edge wraps them with context (anyhow), and the
//! exit code is read from the innermost typed error.

use std::process::ExitCode;

/// The process exit codes duibiao documents.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    Ok = 0,
    Failure = 1,
    Usage = 2,
    DataChecks = 3,
}

/// An error that decides its own exit code (spec errors, data-check failures).
#[derive(Debug, thiserror::Error)]
pub enum Categorised {
    /// The command line or the pipeline file is wrong: exit 2.
    #[error("{0}")]
    Usage(String),
    /// Data checks failed beyond the allowed share: exit 3.
    #[error("{0}")]
    DataChecks(String),
}

impl Exit {
    /// The exit code for an error: the first categorised error in its chain, else 1.
    pub fn of(error: &anyhow::Error) -> Exit {
        for cause in error.chain() {
            match cause.downcast_ref::<Categorised>() {
                Some(Categorised::Usage(_)) => return Exit::Usage,
                Some(Categorised::DataChecks(_)) => return Exit::DataChecks,
                None => {}
            }
        }
        Exit::Failure
    }
}

impl From<Exit> for ExitCode {
    fn from(exit: Exit) -> ExitCode {
        ExitCode::from(exit as u8)
    }
}
