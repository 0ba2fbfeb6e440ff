//! The store: the BI-safe Parquet writer and the staged, atomically published output folder.

pub mod parquet;
