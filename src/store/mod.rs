//! The store: where and how a run puts files. `layout` names every path under the output
//! folder; `parquet` is the one BI-safe Parquet writer; `staging` builds the output folder
//! beside the real one and publishes it atomically (`exchange`), recovering what killed runs
//! left; `lock` lets one run at a time write an output; `marker` tells a duibiao output from
//! anything else at the output path; `testhook` lets tests stop a run at each publish step.
//!
//! Errors are `StoreError`, with the I/O, Parquet or Arrow error as the cause.
//!
//! May import: `base`. Used by ingest (curated partitions), the panel (reading them back), the
//! output tables and views, and the job.

pub mod error;
pub mod exchange;
pub mod layout;
pub mod lock;
pub mod marker;
pub mod parquet;
pub mod staging;
pub mod testhook;
