//! `manifest.json`: what a run read, accepted, rejected, built and how long it took; written on
//! every run, also when data checks stop it.

use serde::Serialize;

use crate::ingest::{FileReport, IngestedSource, SourceCounts};
use crate::panel::Panel;

/// The manifest written to `manifest.json`.
#[derive(Debug, Serialize)]
pub struct Manifest {
    pub tool: &'static str,
    pub version: &'static str,
    pub run_id: String,
    pub pipeline: String,
    pub pipeline_sha256: String,
    /// Periods whose curated partitions this run (re)wrote.
    pub periods_touched: Vec<String>,
    /// Periods present in the curated data after this run.
    pub periods_available: Vec<String>,
    /// Set when the run ingested one period only.
    pub increment: Option<String>,
    pub sources: Vec<SourceManifest>,
    /// Files that look like exports beside the sources' files, read by no source.
    pub unread_files: Vec<crate::ingest::preflight::UnreadFile>,
    /// The station × period panel, when the pipeline declares indicators or features.
    pub panel: Option<PanelManifest>,
    /// Rows of correlations.parquet.
    pub correlations: usize,
    pub timings_seconds: Vec<(String, f64)>,
    /// Peak resident memory of each stage, in bytes (Linux).
    pub peak_rss_bytes: Vec<(String, u64)>,
    /// The engine of the panel's measures when it is not the embedded one (`--engine spark`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub engine: Option<EngineManifest>,
}

/// The engine that computed the panel's measures, as the manifest records it.
#[derive(Debug, Serialize)]
pub(crate) struct EngineManifest {
    /// "spark".
    pub name: &'static str,
    /// "submit", "connect", or "emit" (the job written only; the measures computed embedded).
    pub mode: String,
    /// The Spark version that ran the jobs (None when none ran).
    pub spark_version: Option<String>,
    /// `spark.sql.ansi.enabled` of the jobs.
    pub ansi: bool,
    /// The folder holding the job (SQL, driver, mapping).
    pub job: String,
}

#[derive(Debug, Serialize)]
pub(crate) struct SourceManifest {
    pub name: String,
    pub title: String,
    #[serde(flatten)]
    pub counts: SourceCounts,
    pub conserved: bool,
    /// The duplicate policy applied: "exact", "keep" or "key(…)".
    pub duplicate_policy: String,
    pub reject_share: f64,
    pub max_reject_share: f64,
    pub warnings: Vec<WarningCount>,
    pub files: Vec<FileReport>,
}

#[derive(Debug, Serialize)]
pub(crate) struct PanelManifest {
    pub stations: usize,
    pub periods: Vec<String>,
    pub rows: usize,
    pub empty_cells: usize,
    pub unmatched_spellings: usize,
    /// Curated rows of each measure source that reached a station, and that did not (listed in
    /// quality/unmatched.parquet).
    pub source_rows: Vec<SourceRows>,
}

#[derive(Debug, Serialize)]
pub struct SourceRows {
    pub source: String,
    pub matched: u64,
    pub unmatched: u64,
}

#[derive(Debug, Serialize)]
pub(crate) struct WarningCount {
    pub check: String,
    pub rows: u64,
}

/// The manifest entry of an ingested source.
pub(crate) fn source_manifest(source: &IngestedSource, max_reject_share: f64) -> SourceManifest {
    SourceManifest {
        name: source.name.clone(),
        title: source.title.clone(),
        counts: source.counts.clone(),
        conserved: source.counts.conserved(),
        duplicate_policy: source.duplicate_policy.clone(),
        reject_share: source.counts.reject_share(),
        max_reject_share,
        warnings: source.warnings.iter().map(|(c, n)| WarningCount { check: c.clone(), rows: *n }).collect(),
        files: source.files.clone(),
    }
}

impl PanelManifest {
    /// The manifest entry of a built panel.
    pub fn of(p: &Panel) -> PanelManifest {
        PanelManifest {
            stations: p.stations.len(),
            periods: p.periods.iter().map(|q| q.to_string()).collect(),
            rows: p.stations.len() * p.periods.len(),
            empty_cells: p.gaps.len(),
            unmatched_spellings: p.unmatched.len(),
            source_rows: p
                .source_rows
                .iter()
                .map(|(s, (matched, unmatched))| SourceRows { source: s.clone(), matched: *matched, unmatched: *unmatched })
                .collect(),
        }
    }
}

/// The text of manifest.json.
pub(crate) fn to_json(manifest: &Manifest) -> serde_json::Result<String> {
    Ok(serde_json::to_string_pretty(manifest)? + "\n")
}
