//! What a run publishes: the analysis tables, views.sql, report.html; and `inspect`, which
//! describes any Parquet file.

pub mod inspect;
pub mod report;
pub mod tables;
pub mod views;
