//! Exit codes and how an error maps to one.
//!
//! 0 ok · 1 runtime failure · 2 usage or spec error · 3 data checks failed beyond the allowed
//! share. Library errors are typed; the command edge wraps them with context (anyhow), and the
//! exit code is read from the innermost typed error.

use std::process::ExitCode;

use crate::job::error::JobError;
use crate::spec::SpecErrors;

/// The process exit codes duibiao documents.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    Ok = 0,
    Failure = 1,
    Usage = 2,
    DataChecks = 3,
}

impl Exit {
    /// The exit code for an error: from the first run or spec error in its chain, else 1.
    pub fn of(error: &anyhow::Error) -> Exit {
        for cause in error.chain() {
            if let Some(e) = cause.downcast_ref::<JobError>() {
                return if e.is_usage() {
                    Exit::Usage
                } else if e.is_data_check() {
                    Exit::DataChecks
                } else {
                    Exit::Failure
                };
            }
            if cause.is::<SpecErrors>() {
                return Exit::Usage;
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
