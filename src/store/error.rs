//! Errors of the store: a file or folder that could not be created, written or moved, with the
//! underlying I/O, Parquet or Arrow error kept as the cause.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub(crate) enum StoreError {
    #[error("cannot create {}", path.display())]
    Create {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot write {}", path.display())]
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
    #[error("cannot write {}", path.display())]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot create or lock {}, the lock file beside the output folder (its folder must be writable)", path.display())]
    Lock {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "另一个运行正在写入输出目录 {} · another duibiao run is writing the output folder {}: {holder}; \
         wait until it ends and run again (the lock {} is released when that process ends)",
        output.display(), output.display(), lock.display()
    )]
    Busy { output: PathBuf, lock: PathBuf, holder: String },
    #[error(
        "输出目录 {} 已存在，但不是 duibiao 的输出，不会被替换 · the output folder {} exists and is not a duibiao output \
         (it has no {marker} marker), so a run will not replace it; move or delete it yourself, or set [output] dir to another folder",
        path.display(), path.display()
    )]
    NotAnOutput { path: PathBuf, marker: &'static str },
    #[error(
        "输出路径 {} 不是目录 · the output path {} is {what}, not a folder; set [output] dir to a folder of its own",
        path.display(), path.display()
    )]
    NotAFolder { path: PathBuf, what: &'static str },
    #[error("cannot put the previous output {} back in place from {}", path.display(), from.display())]
    Restore {
        path: PathBuf,
        from: PathBuf,
        #[source]
        source: std::io::Error,
    },
}
