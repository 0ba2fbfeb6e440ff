//! A whole run of a pipeline, as a library call: compile the spec, check it against the files,
//! ingest every source into curated Parquet with quarantine, write the manifest, and publish the
//! output folder atomically. Commands and tests both call `run`.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow::array::{ArrayRef, Int64Array, StringArray};
use serde::Serialize;

use crate::error::Categorised;
use crate::ingest::{self, IngestedSource, Reject, SourceCounts};
use crate::period::Period;
use crate::plan::Plan;
use crate::sink::{RunStamp, Staging, copy_tree, write_parquet};
use crate::spec::{SpecErrors, compile};

/// Options of one run.
#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    /// Ingest only this period and keep the other periods' curated data from the previous run.
    pub period: Option<Period>,
    /// Hide progress bars.
    pub quiet: bool,
    /// Language of report.html.
    pub lang: crate::report::Lang,
}

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
    /// The station × period panel, when the pipeline declares indicators or features.
    pub panel: Option<PanelManifest>,
    /// Rows of correlations.parquet.
    pub correlations: usize,
    pub timings_seconds: Vec<(String, f64)>,
    /// Peak resident memory of each stage, in bytes (Linux).
    pub peak_rss_bytes: Vec<(String, u64)>,
}

#[derive(Debug, Serialize)]
pub struct SourceManifest {
    pub name: String,
    pub title: String,
    #[serde(flatten)]
    pub counts: SourceCounts,
    pub conserved: bool,
    pub reject_share: f64,
    pub max_reject_share: f64,
    pub warnings: Vec<WarningCount>,
    pub files: Vec<ingest::FileReport>,
}

#[derive(Debug, Serialize)]
pub struct PanelManifest {
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
pub struct WarningCount {
    pub check: String,
    pub rows: u64,
}

/// What a finished run reports back.
#[derive(Debug)]
pub struct RunReport {
    pub output: PathBuf,
    pub manifest: Manifest,
    pub findings: Vec<crate::analysis::Finding>,
    /// The analysis settings the findings were computed with.
    pub analysis: crate::plan::Analysis,
}

/// Compiles a pipeline and checks it against the real files; all problems as one usage error.
pub fn prepare(pipeline: &Path) -> anyhow::Result<Plan> {
    let plan = compile::compile_file(pipeline).map_err(|e| Categorised::Usage(e.to_string()))?;
    let errors = compile::against_files(&plan);
    if !errors.is_empty() {
        let text = std::fs::read_to_string(pipeline).unwrap_or_default();
        return Err(Categorised::Usage(SpecErrors { path: pipeline.to_path_buf(), text, errors }.to_string()).into());
    }
    Ok(plan)
}

/// Runs the job. On failure the previous output stays as it was.
pub fn run(pipeline: &Path, options: &RunOptions) -> anyhow::Result<RunReport> {
    let mut meter = crate::resources::StageMeter::start();
    let plan = prepare(pipeline)?;
    if let Some(only) = options.period {
        if only.grain != plan.grain {
            return Err(Categorised::Usage(format!(
                "--period {only} is a {}, but {} counts in periods of a {} (e.g. {})",
                only.grain.name(),
                pipeline.display(),
                plan.grain.name(),
                plan.grain.example()
            ))
            .into());
        }
    }
    meter.mark("compile");

    let run_id = crate::sink::new_run_id();
    let staging = Staging::new(&plan.output_dir, &run_id).map_err(anyhow::Error::msg)?;
    let curated = staging.dir.join("curated");
    let mut carried: BTreeSet<Period> = BTreeSet::new();
    if let Some(only) = options.period {
        carried = carry_over_partitions(&plan, &curated, only)?;
    }

    let progress = progress_bar(&plan, options.quiet);
    let mut ingested = Vec::new();
    for source in &plan.sources {
        let files = compile::source_files(source).map_err(anyhow::Error::msg)?;
        progress.set_message(source.name.clone());
        // Reference tables (no period column) are always read whole.
        let only = if source.period.is_some() { options.period } else { None };
        let destination = ingest::Destination::Curated { dir: &curated, run_id: &run_id };
        let result = ingest::ingest_source(&plan, source, &files, only, destination, None).map_err(anyhow::Error::msg)?;
        progress.inc(files.len() as u64);
        ingested.push(result);
    }
    progress.finish_and_clear();
    meter.mark("ingest");

    let mut touched = BTreeSet::new();
    for source in &ingested {
        touched.extend(source.periods.iter().flatten().copied());
    }
    let rejects: Vec<&Reject> = ingested.iter().flat_map(|s| &s.rejects).collect();
    write_rejects(&rejects, &staging.dir.join("quality/rejects.parquet"), &run_id)?;
    meter.mark("quarantine");
    let sources: Vec<SourceManifest> = ingested.iter().zip(&plan.sources).map(|(s, p)| source_manifest(s, p.max_reject_share)).collect();
    let available: BTreeSet<Period> = touched.iter().chain(&carried).copied().collect();
    let manifest_base = |sources: Vec<SourceManifest>, meter: &crate::resources::StageMeter| Manifest {
        tool: "duibiao",
        version: env!("CARGO_PKG_VERSION"),
        run_id: run_id.clone(),
        pipeline: pipeline.display().to_string(),
        pipeline_sha256: plan.spec_sha256.clone(),
        periods_touched: touched.iter().map(|q| q.to_string()).collect(),
        periods_available: available.iter().map(|q| q.to_string()).collect(),
        increment: options.period.map(|q| q.to_string()),
        sources,
        panel: None,
        correlations: 0,
        timings_seconds: meter.timings.clone(),
        peak_rss_bytes: meter.peak_rss_bytes.clone(),
    };

    // Data checks come before the panel: a source over its reject share is not analysed.
    let over: Vec<String> = sources
        .iter()
        .filter(|s| s.reject_share > s.max_reject_share)
        .map(|s| format!("{}: {:.1}% of {} rows rejected (allowed {:.1}%)", s.name, s.reject_share * 100.0, s.counts.rows_read, s.max_reject_share * 100.0))
        .collect();
    if !over.is_empty() {
        meter.total();
        let manifest = manifest_base(sources, &meter);
        std::fs::write(staging.dir.join("manifest.json"), serde_json::to_string_pretty(&manifest)? + "\n")?;
        let kept = staging.keep_as_failed(&run_id);
        return Err(Categorised::DataChecks(format!(
            "data checks failed, output not published:\n  {}\nquarantine and manifest of this run are in {}",
            over.join("\n  "),
            kept.display()
        ))
        .into());
    }

    let panel = if plan.indicators.is_empty() && plan.features.is_empty() {
        None
    } else {
        let panel = crate::panel::build(&plan, &curated).map_err(|e| match e {
            crate::panel::PanelError::Ambiguous(m) => anyhow::Error::new(Categorised::DataChecks(m)),
            crate::panel::PanelError::Other(m) => anyhow::Error::msg(m),
        })?;
        crate::outputs::write_panel(&panel, &staging.dir, &run_id).map_err(anyhow::Error::msg)?;
        Some(panel)
    };
    meter.mark("panel");

    let findings = match &panel {
        Some(panel) if !plan.indicators.is_empty() && !plan.features.is_empty() => {
            let findings = crate::analysis::correlate(&plan, panel).map_err(anyhow::Error::msg)?;
            crate::outputs::write_correlations(&findings, &staging.dir, &run_id).map_err(anyhow::Error::msg)?;
            findings
        }
        _ => Vec::new(),
    };
    meter.mark("correlate");
    meter.total();
    let manifest = Manifest {
        panel: panel.as_ref().map(|p| PanelManifest {
            stations: p.stations.len(),
            periods: p.periods.iter().map(|q| q.to_string()).collect(),
            rows: p.stations.len() * p.periods.len(),
            empty_cells: p.gaps.len(),
            unmatched_spellings: p.unmatched.len(),
            source_rows: p.source_rows.iter().map(|(s, (matched, unmatched))| SourceRows { source: s.clone(), matched: *matched, unmatched: *unmatched }).collect(),
        }),
        correlations: findings.len(),
        ..manifest_base(sources, &meter)
    };
    std::fs::write(staging.dir.join("manifest.json"), serde_json::to_string_pretty(&manifest)? + "\n")?;
    std::fs::write(staging.dir.join("views.sql"), crate::views::views_sql(&plan, panel.as_ref(), &staging.dir))?;
    let groups = crate::report::group_rejects(ingested.iter().flat_map(|s| &s.rejects));
    let html = crate::report::render(&crate::report::ReportInput { plan: &plan, manifest: &manifest, panel: panel.as_ref(), findings: &findings, rejects: &groups, lang: options.lang });
    std::fs::write(staging.dir.join("report.html"), html)?;

    let output = staging.publish().map_err(anyhow::Error::msg)?;
    Ok(RunReport { output, manifest, findings, analysis: plan.analysis })
}

fn progress_bar(plan: &Plan, quiet: bool) -> indicatif::ProgressBar {
    if quiet {
        return indicatif::ProgressBar::hidden();
    }
    let files: usize = plan.sources.iter().map(|s| compile::source_files(s).map(|f| f.len()).unwrap_or(0)).sum();
    let bar = indicatif::ProgressBar::new(files as u64);
    bar.set_style(indicatif::ProgressStyle::with_template("导入 ingest {bar:30} {pos}/{len} 文件 files  {msg}").unwrap());
    bar
}

/// For an increment: copies every curated partition except `only`'s from the previous output.
fn carry_over_partitions(plan: &Plan, curated: &Path, only: Period) -> anyhow::Result<BTreeSet<Period>> {
    let previous = plan.output_dir.join("curated");
    let mut carried = BTreeSet::new();
    for source in plan.sources.iter().filter(|s| s.period.is_some()) {
        let dir = previous.join(&source.name);
        let Ok(entries) = std::fs::read_dir(&dir) else { continue };
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            let Some(label) = name.strip_prefix("period=") else { continue };
            let Ok(q) = label.parse::<Period>() else { continue };
            if q.grain != plan.grain {
                continue; // written under another period setting: not carried into this grain
            }
            if q != only {
                copy_tree(&entry.path(), &curated.join(&source.name).join(&name))?;
                carried.insert(q);
            }
        }
    }
    Ok(carried)
}

fn write_rejects(rejects: &[&Reject], path: &Path, run_id: &str) -> anyhow::Result<()> {
    let text = |f: &dyn Fn(&Reject) -> Option<String>| -> ArrayRef { Arc::new(StringArray::from(rejects.iter().map(|r| f(r)).collect::<Vec<_>>())) };
    let columns: Vec<(String, ArrayRef)> = vec![
        ("source".into(), text(&|r| Some(r.source.clone()))),
        ("file".into(), text(&|r| Some(r.file.clone()))),
        ("sheet".into(), text(&|r| r.sheet.clone())),
        ("row".into(), Arc::new(Int64Array::from(rejects.iter().map(|r| r.row as i64).collect::<Vec<_>>()))),
        ("column".into(), text(&|r| r.column.clone())),
        ("value".into(), text(&|r| r.value.clone())),
        ("kind".into(), text(&|r| Some(r.kind.name().to_string()))),
        ("reason".into(), text(&|r| Some(r.reason.clone()))),
    ];
    write_parquet(path, columns, &RunStamp { run_id: run_id.to_string(), table: "quality/rejects".into() }).map_err(anyhow::Error::msg)
}

fn source_manifest(source: &IngestedSource, max_reject_share: f64) -> SourceManifest {
    SourceManifest {
        name: source.name.clone(),
        title: source.title.clone(),
        counts: source.counts.clone(),
        conserved: source.counts.conserved(),
        reject_share: source.counts.reject_share(),
        max_reject_share,
        warnings: source.warnings.iter().map(|(c, n)| WarningCount { check: c.clone(), rows: *n }).collect(),
        files: source.files.clone(),
    }
}
