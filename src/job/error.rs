//! The errors of a run that decide their own exit code: the pipeline is wrong (usage), or the data
//! failed its checks. The command edge maps them to exit codes (`commands::exit`).

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
