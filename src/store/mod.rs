//! The store: where and how a run puts files. `layout` names every path under the output
//! folder; `parquet` is the one BI-safe Parquet writer; `staging` builds the output folder
//! beside the real one and publishes it atomically.
//!
//! Errors are `StoreError`, with the I/O, Parquet or Arrow error as the cause.
//!
//! May import: `base`. Used by ingest (curated partitions), the panel (reading them back), the
//! output tables and views, and the job.

pub mod error;
pub mod layout;
pub mod parquet;
pub mod staging;
