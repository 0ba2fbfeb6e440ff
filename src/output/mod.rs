//! What a run publishes: the manifest (`manifest`), the tables (`tables`: panel, correlations,
//! quality), DuckDB views (`views`), the HTML report (`report`); what a failed data check says
//! on the terminal (`data_checks`); and `inspect`, which describes any Parquet file.
//!
//! Layer `output` (ARCHITECTURE.md): may import every layer below it (`base` to `analysis`);
//! writes only through `store` (paths from `store::layout`, Parquet through `store::parquet`).

pub mod bi;
pub mod data_checks;
pub mod inspect;
pub mod manifest;
pub mod report;
pub mod tables;
pub mod views;
