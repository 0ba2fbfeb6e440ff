//! A whole run of a pipeline, as a library call: compile the spec, check it against the files,
//! ingest every source into curated Parquet with quarantine, write the manifest, and publish the
//! output folder atomically. Commands and tests both call `run`.
//!
//! Layer `job` (ARCHITECTURE.md): owns the order of the stages, the error categories of a run
//! (`error`) and stage timings (`resources`); may import every layer below it.

pub mod error;
pub mod resources;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use crate::base::period::Period;
use crate::ingest::{self, Reject, preflight};
use crate::job::error::Categorised;
use crate::output::manifest::{self, Manifest, PanelManifest, SourceManifest, source_manifest};
use crate::spec::plan::Plan;
use crate::spec::{SpecErrors, compile};
use crate::store::layout;
use crate::store::staging::{Staging, copy_tree};
use crate::store::testhook;

use anyhow::Context as _;

/// Options of one run.
#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    /// Ingest only this period and keep the other periods' curated data from the previous run.
    pub period: Option<Period>,
    /// Hide progress bars.
    pub quiet: bool,
    /// Language of report.html.
    pub lang: crate::output::report::Lang,
}

/// What a finished run reports back.
#[derive(Debug)]
pub struct RunReport {
    pub output: PathBuf,
    pub manifest: Manifest,
    pub findings: Vec<crate::analysis::Finding>,
}

/// Compiles a pipeline and checks it against the real files; all problems as one usage error.
pub fn prepare(pipeline: &Path) -> anyhow::Result<Plan> {
    let plan = compile::compile_file(pipeline).map_err(|e| Categorised::Usage(e.to_string()))?;
    let errors = preflight::against_files(&plan);
    if !errors.is_empty() {
        let text = std::fs::read_to_string(pipeline).unwrap_or_default();
        return Err(Categorised::Usage(SpecErrors { path: pipeline.to_path_buf(), text, errors }.to_string()).into());
    }
    Ok(plan)
}

/// Runs the job. On failure the previous output stays as it was.
pub fn run(pipeline: &Path, options: &RunOptions) -> anyhow::Result<RunReport> {
    let mut meter = crate::job::resources::StageMeter::start();
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

    let run_id = crate::store::staging::new_run_id();
    let _lock = claim_output(&plan, &run_id, pipeline)?;
    testhook::reached(testhook::LOCKED);
    let staging = Staging::new(&plan.output_dir, &run_id)?;
    let curated = layout::curated(&staging.dir);
    let mut carried: BTreeSet<Period> = BTreeSet::new();
    if let Some(only) = options.period {
        carried = carry_over_partitions(&plan, &curated, only).with_context(|| during("carry-over"))?;
    }

    let progress = progress_bar(&plan, options.quiet);
    let mut ingested = Vec::new();
    for source in &plan.sources {
        let files = preflight::source_files(source).map_err(anyhow::Error::msg)?;
        progress.set_message(source.name.clone());
        // Reference tables (no period column) are always read whole.
        let only = if source.period.is_some() { options.period } else { None };
        let destination = ingest::Destination::Curated { dir: &curated, run_id: &run_id };
        let result = ingest::ingest_source(&plan, source, &files, only, destination, None).map_err(anyhow::Error::msg).with_context(|| during("ingest"))?;
        progress.inc(files.len() as u64);
        ingested.push(result);
    }
    progress.finish_and_clear();
    meter.mark("ingest");
    testhook::reached(testhook::INGESTED);

    let mut touched = BTreeSet::new();
    for source in &ingested {
        touched.extend(source.periods.iter().flatten().copied());
    }
    let rejects: Vec<&Reject> = ingested.iter().flat_map(|s| &s.rejects).collect();
    crate::output::tables::write_rejects(&rejects, &staging.dir, &run_id).with_context(|| during("quarantine"))?;
    meter.mark("quarantine");
    let sources: Vec<SourceManifest> = ingested.iter().zip(&plan.sources).map(|(s, p)| source_manifest(s, p.max_reject_share)).collect();
    let available: BTreeSet<Period> = touched.iter().chain(&carried).copied().collect();
    let manifest_base = |sources: Vec<SourceManifest>, meter: &crate::job::resources::StageMeter| Manifest {
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
        .zip(&plan.sources)
        .zip(&ingested)
        .filter(|((s, _), _)| s.reject_share > s.max_reject_share)
        .flat_map(|((s, p), i)| crate::output::data_checks::failing_source(s, p, &i.rejects))
        .collect();
    if !over.is_empty() {
        meter.total();
        let manifest = manifest_base(sources, &meter);
        written(&staging.dir.join(layout::MANIFEST), manifest::write(&manifest, &staging.dir)).with_context(|| during("quarantine"))?;
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
            crate::panel::PanelError::Other(m) => anyhow::Error::msg(m).context(during("panel")),
        })?;
        crate::output::tables::write_panel(&panel, &staging.dir, &run_id).with_context(|| during("panel"))?;
        Some(panel)
    };
    meter.mark("panel");

    let findings = match &panel {
        Some(panel) if !plan.indicators.is_empty() && !plan.features.is_empty() => {
            let findings = crate::analysis::correlate(&plan, panel).map_err(anyhow::Error::msg).with_context(|| during("correlate"))?;
            crate::output::tables::write_correlations(&findings, &staging.dir, &run_id).with_context(|| during("correlate"))?;
            findings
        }
        _ => Vec::new(),
    };
    meter.mark("correlate");
    meter.total();
    let manifest = Manifest {
        panel: panel.as_ref().map(PanelManifest::of),
        correlations: findings.len(),
        ..manifest_base(sources, &meter)
    };
    written(&staging.dir.join(layout::MANIFEST), manifest::write(&manifest, &staging.dir)).with_context(|| during("report"))?;
    let views = staging.dir.join(layout::VIEWS);
    written(&views, std::fs::write(&views, crate::output::views::views_sql(&plan, panel.as_ref(), &staging.dir))).with_context(|| during("report"))?;
    let groups = crate::output::report::group_rejects(ingested.iter().flat_map(|s| &s.rejects));
    let html = crate::output::report::render(&crate::output::report::ReportInput { plan: &plan, manifest: &manifest, panel: panel.as_ref(), findings: &findings, rejects: &groups, lang: options.lang });
    let report = staging.dir.join(layout::REPORT);
    written(&report, std::fs::write(&report, html)).with_context(|| during("report"))?;

    let output = staging.publish().with_context(|| during("publish"))?;
    Ok(RunReport { output, manifest, findings })
}

/// Makes the output folder this run's to replace: refuses what is not a duibiao output, takes
/// the output's lock (failing at once if another run holds it), and recovers what runs killed
/// while publishing left behind. The lock is held until the returned guard is dropped.
fn claim_output(plan: &Plan, run_id: &str, pipeline: &Path) -> anyhow::Result<crate::store::lock::OutputLock> {
    let refuse = |e: crate::store::error::StoreError| Categorised::Usage(crate::base::error_chain(&e));
    // Refused before anything is created beside it, and checked again under the lock.
    crate::store::marker::check_replaceable(&plan.output_dir).map_err(refuse)?;
    let lock = crate::store::lock::OutputLock::acquire(&plan.output_dir, run_id, pipeline)?;
    let recovered = crate::store::staging::recover_interrupted(&plan.output_dir)?;
    if let Some(from) = &recovered.restored {
        notice(&format!(
            "上次运行在发布时中断，已恢复之前的输出 · a run was killed while publishing; its previous output {} was put back from {}",
            plan.output_dir.display(),
            from.display()
        ));
    }
    crate::store::marker::check_replaceable(&plan.output_dir).map_err(refuse)?;
    Ok(lock)
}

/// The context of an error in one stage of a run: "导入阶段 · during ingest".
fn during(stage: &str) -> String {
    let zh = match stage {
        "carry-over" => "沿用上次数据",
        "ingest" => "导入",
        "quarantine" => "隔离",
        "panel" => "面板",
        "correlate" => "相关分析",
        "report" => "写出报告",
        "publish" => "发布",
        _ => stage,
    };
    format!("{zh}阶段 · during {stage}")
}

/// An I/O result of writing `path`, as a store error naming the file.
fn written(path: &Path, result: std::io::Result<()>) -> Result<(), crate::store::error::StoreError> {
    result.map_err(|source| crate::store::error::StoreError::Write { path: path.to_path_buf(), source })
}

/// A line for the user on standard error (never fails the run: a closed stderr is ignored).
fn notice(text: &str) {
    use std::io::Write as _;
    let _ = writeln!(std::io::stderr(), "{text}");
}

fn progress_bar(plan: &Plan, quiet: bool) -> indicatif::ProgressBar {
    if quiet {
        return indicatif::ProgressBar::hidden();
    }
    let files: usize = plan.sources.iter().map(|s| preflight::source_files(s).map(|f| f.len()).unwrap_or(0)).sum();
    let bar = indicatif::ProgressBar::new(files as u64);
    bar.set_style(indicatif::ProgressStyle::with_template("导入 ingest {bar:30} {pos}/{len} 文件 files  {msg}").unwrap());
    bar
}

/// For an increment: copies every curated partition except `only`'s from the previous output.
fn carry_over_partitions(plan: &Plan, curated: &Path, only: Period) -> anyhow::Result<BTreeSet<Period>> {
    let previous = layout::curated(&plan.output_dir);
    let mut carried = BTreeSet::new();
    for source in plan.sources.iter().filter(|s| s.period.is_some()) {
        let dir = layout::source_dir(&previous, &source.name);
        let Ok(entries) = std::fs::read_dir(&dir) else { continue };
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            let Some(label) = layout::partition_label(&name) else { continue };
            let Ok(q) = label.parse::<Period>() else { continue };
            if q.grain != plan.grain {
                continue; // written under another period setting: not carried into this grain
            }
            if q != only {
                copy_tree(&entry.path(), &layout::source_dir(curated, &source.name).join(&name))?;
                carried.insert(q);
            }
        }
    }
    Ok(carried)
}
