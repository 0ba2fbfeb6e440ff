//! Exit codes and how an error maps to one.
//!
//! 0 ok · 1 runtime failure · 2 usage or spec error · 3 data checks failed beyond the allowed
//! share. Library errors are typed; the command edge wraps them with context (anyhow), and the
//! exit code is read from the innermost typed error.

use std::process::ExitCode;

use crate::job::error::Categorised;

/// The process exit codes duibiao documents.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    Ok = 0,
    Failure = 1,
    Usage = 2,
    DataChecks = 3,
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
