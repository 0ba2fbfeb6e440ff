//! Errors of the store: a file or folder that could not be created, written or moved, with the
//! underlying I/O, Parquet or Arrow error kept as the cause.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("cannot create {}", path.display())]
    Create {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{}", path.display())]
    Parquet {
        path: PathBuf,
        #[source]
        source: parquet::errors::ParquetError,
    },
    #[error("{}", path.display())]
    Arrow {
        path: PathBuf,
        #[source]
        source: arrow::error::ArrowError,
    },
    #[error("cannot move the previous {} aside", path.display())]
    MoveAside {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot publish {}", path.display())]
    Publish {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot copy {} from the previous output", path.display())]
    Copy {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// The message with its causes, as `{:#}` shows it ("cannot create out: Permission denied"), for
/// the layers that still report errors as text.
impl From<StoreError> for String {
    fn from(e: StoreError) -> String {
        crate::base::error_chain(&e)
    }
}
