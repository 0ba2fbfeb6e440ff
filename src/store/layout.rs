//! The layout of a run's output folder: every path under it is named here and nowhere else.
//!
//! ```text
//! <output>/
//!   manifest.json  report.html  views.sql
//!   panel.parquet  panel_long.parquet  correlations.parquet
//!   quality/rejects.parquet  quality/coverage.parquet  quality/unmatched.parquet
//!   curated/<source>/data.parquet                      reference tables (no period column)
//!   curated/<source>/period=<label>/part-0.parquet     one partition per period (hive style)
//!   .duibiao-output                                    marker: this folder is a duibiao output
//!   spark/spellings.sql  spark/measures.sql  spark/driver.py  spark/mapping.parquet
//!   spark/spark.json  spark/spark.log                  the Spark job of a run with --engine spark
//! ```
//!
//! Beside the output folder, in its parent, a run keeps `.<name>.lock` (the lock naming the run
//! that holds it) and, while it runs, its staging folder (`store::staging`).
//!
//! Ingest writes the curated partitions, the panel reads them, views.sql points DuckDB at them,
//! and an increment carries them over from the previous output: all through these functions.

use std::path::{Path, PathBuf};

use crate::base::period::Period;

/// The run's manifest (JSON).
pub(crate) const MANIFEST: &str = "manifest.json";
/// The self-contained HTML report.
pub(crate) const REPORT: &str = "report.html";
/// DuckDB views over the tables and the curated data.
pub(crate) const VIEWS: &str = "views.sql";
/// The DuckDB database BI tools connect to: the views at absolute paths.
pub const DATABASE: &str = "analysis.duckdb";
/// The folder of curated source tables.
pub(crate) const CURATED: &str = "curated";
/// The marker file of a published output: only a folder holding it (or a manifest written by
/// duibiao) is ever replaced by a run.
pub(crate) const MARKER: &str = ".duibiao-output";

/// The marker file of an output folder.
pub fn marker(out: &Path) -> PathBuf {
    out.join(MARKER)
}

/// The lock file of an output folder, beside it: `<parent>/.<name>.lock`.
pub(crate) fn lock_file(out: &Path) -> PathBuf {
    let name = out.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| "out".into());
    out.with_file_name(format!(".{name}.lock"))
}

/// A published table: its name (stamped into the file's metadata) is its path without `.parquet`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Table {
    /// e.g. "quality/rejects"
    pub name: &'static str,
    /// The view name in views.sql, e.g. "rejects".
    pub view: &'static str,
}

impl Table {
    /// The file, relative to the output folder, with `/` separators (also the path in views.sql).
    pub fn file(self) -> String {
        format!("{}.parquet", self.name)
    }

    /// The file under an output folder.
    pub fn path(self, out: &Path) -> PathBuf {
        out.join(self.file())
    }
}

pub(crate) const PANEL: Table = Table { name: "panel", view: "panel" };
pub(crate) const PANEL_LONG: Table = Table { name: "panel_long", view: "panel_long" };
pub(crate) const CORRELATIONS: Table = Table { name: "correlations", view: "correlations" };
pub(crate) const REJECTS: Table = Table { name: "quality/rejects", view: "rejects" };
pub(crate) const COVERAGE: Table = Table { name: "quality/coverage", view: "coverage" };
pub(crate) const UNMATCHED: Table = Table { name: "quality/unmatched", view: "unmatched" };

/// Every published table, in the order views.sql declares them.
pub(crate) const TABLES: [Table; 6] = [PANEL, PANEL_LONG, CORRELATIONS, REJECTS, COVERAGE, UNMATCHED];

/// The curated folder of an output folder.
pub fn curated(out: &Path) -> PathBuf {
    out.join(CURATED)
}

/// The folder of one source under a curated folder.
pub(crate) fn source_dir(curated: &Path, source: &str) -> PathBuf {
    curated.join(source)
}

/// The single file of a reference table (a source without a period column).
pub(crate) fn reference_file(curated: &Path, source: &str) -> PathBuf {
    source_dir(curated, source).join("data.parquet")
}

/// The file of one period's partition of a source.
pub(crate) fn partition_file(curated: &Path, source: &str, period: Period) -> PathBuf {
    source_dir(curated, source).join(partition_dir(period)).join("part-0.parquet")
}

/// The folder name of one period's partition: `period=2020Q3`.
pub(crate) fn partition_dir(period: Period) -> String {
    format!("period={period}")
}

/// The period label of a partition folder name (`period=2020Q3` → `2020Q3`); None for other names.
pub(crate) fn partition_label(dir_name: &str) -> Option<&str> {
    dir_name.strip_prefix("period=")
}

/// Whether a file inside a partition folder holds partition rows.
pub(crate) fn is_partition_file(path: &Path) -> bool {
    path.extension().is_some_and(|x| x == "parquet")
}

/// The table name stamped into a source's curated files: `curated/<source>`.
pub(crate) fn curated_table(source: &str) -> String {
    format!("{CURATED}/{source}")
}

/// A source's curated folder relative to the output folder, with `/` separators (views.sql).
pub(crate) fn curated_source_rel(source: &str) -> String {
    format!("{CURATED}/{source}")
}

/// A reference table's file relative to the output folder (views.sql).
pub(crate) fn reference_file_rel(source: &str) -> String {
    format!("{}/data.parquet", curated_source_rel(source))
}

/// The glob of a partitioned source's files relative to the output folder (views.sql).
pub(crate) fn partition_glob_rel(source: &str) -> String {
    format!("{}/period=*/*.parquet", curated_source_rel(source))
}

/// Scratch folder of the duplicate check of one source, inside the curated folder being written
/// (removed when the source is done).
pub(crate) fn duplicates_scratch(curated: &Path, source: &str) -> PathBuf {
    curated.join(format!(".duplicates-{source}"))
}

/// The folder of a run's Spark job (`--engine spark`); with `--emit DIR`, DIR holds the same files.
pub(crate) fn spark_dir(out: &Path) -> PathBuf {
    out.join("spark")
}

/// The files of a Spark job folder.
pub mod spark {
    /// The spellings job (Spark SQL).
    pub(crate) const SPELLINGS_JOB: &str = "spellings.sql";
    /// The measures job (Spark SQL).
    pub(crate) const MEASURES_JOB: &str = "measures.sql";
    /// The PySpark driver that runs a job.
    pub(crate) const DRIVER: &str = "driver.py";
    /// The spelling → station mapping duibiao resolved.
    pub(crate) const MAPPING: &str = "mapping.parquet";
    /// The Spark version and ANSI setting the driver reports.
    pub(crate) const INFO: &str = "spark.json";
    /// What Spark printed.
    pub(crate) const LOG: &str = "spark.log";
    /// The folders the jobs write their results into (removed once read by a run).
    pub(crate) const SPELLINGS_RESULT: &str = "spellings";
    pub(crate) const MEASURES_RESULT: &str = "measures";
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::base::period::Quarter;

    #[test]
    fn paths_read_as_documented() {
        let curated = curated(Path::new("out"));
        let q = Period::from(Quarter::new(2020, 3));
        assert_eq!(partition_file(&curated, "fees", q), Path::new("out/curated/fees/period=2020Q3/part-0.parquet"));
        assert_eq!(reference_file(&curated, "stations"), Path::new("out/curated/stations/data.parquet"));
        assert_eq!(partition_label(&partition_dir(q)), Some("2020Q3"));
        assert_eq!(partition_label("data.parquet"), None);
        assert_eq!(REJECTS.path(Path::new("out")), Path::new("out/quality/rejects.parquet"));
        assert_eq!(partition_glob_rel("fees"), "curated/fees/period=*/*.parquet");
        assert_eq!(curated_table("fees"), "curated/fees");
        assert_eq!(marker(Path::new("a/out")), Path::new("a/out/.duibiao-output"));
        assert_eq!(lock_file(Path::new("a/out")), Path::new("a/.out.lock"));
    }
}
