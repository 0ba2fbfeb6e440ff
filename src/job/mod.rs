//! A whole run of a pipeline, as a library call: compile the spec, check it against the files,
//! ingest every source into curated Parquet with quarantine, write the manifest, and publish the
//! output folder atomically. Commands and tests both call `run`.
//!
//! Layer `job` (ARCHITECTURE.md): owns the order of the stages, the error categories of a run
//! (`error`) and stage timings (`resources`); may import every layer below it.

pub mod error;
pub mod resources;
pub mod shard;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use crate::analysis::Finding;
use crate::base::lang::Lang;
use crate::base::period::Period;
use crate::ingest::{self, IngestedSource, Reject, preflight};
use crate::job::error::JobError;
use crate::job::resources::StageMeter;
use crate::output::manifest::{self, Manifest, PanelManifest, SourceManifest, source_manifest};
use crate::panel::Panel;
use crate::spec::compile;
use crate::spec::plan::Plan;
use crate::store::layout;
use crate::store::lock::OutputLock;
use crate::store::staging::{Staging, copy_tree};
use crate::store::testhook;

/// Options of one run.
#[derive(Debug, Clone, Default)]
pub(crate) struct RunOptions {
    /// Ingest only this period and keep the other periods' curated data from the previous run.
    pub period: Option<Period>,
    /// Hide progress bars.
    pub quiet: bool,
    /// Language of report.html.
    pub lang: Lang,
    /// The engine of the panel's measures: None for the embedded one, or Spark.
    pub engine: Option<crate::spark::SparkOptions>,
    /// Merge the shards ingested into this folder (`duibiao ingest --into`) instead of ingesting.
    pub shards: Option<PathBuf>,
}

/// What a finished run reports back.
#[derive(Debug)]
pub(crate) struct RunReport {
    pub output: PathBuf,
    pub manifest: Manifest,
    pub findings: Vec<Finding>,
    /// The analysis settings the findings were computed with.
    pub analysis: crate::spec::plan::Analysis,
}

/// Compiles a pipeline and checks it against the real files; all problems as one spec error.
pub(crate) fn prepare(pipeline: &Path) -> Result<Plan, JobError> {
    let plan = compile::compile_file(pipeline)?;
    preflight::check(&plan)?;
    Ok(plan)
}

/// Runs the job. On failure the previous output stays as it was.
pub fn run(pipeline: &Path, options: &RunOptions) -> Result<RunReport, JobError> {
    let mut meter = StageMeter::start();
    let plan = prepare(pipeline)?;
    check_period_option(&plan, pipeline, options.period)?;
    let unread = preflight::unread_files(&plan).map_err(JobError::Ingest)?;
    meter.mark("compile");

    let staged = stage(&plan, pipeline, options.period)?;
    let ingested = match &options.shards {
        Some(shards) => shard::merge_shards(&plan, shards, &staged.curated),
        None => ingest_sources(&plan, &staged, options),
    }
    .map_err(during("ingest"))?;
    meter.mark("ingest");
    testhook::reached(testhook::INGESTED);

    write_quarantine(&ingested, &staged).map_err(during("quarantine"))?;
    meter.mark("quarantine");

    // Data checks come before the panel: a source over its reject share is not analysed.
    let mut manifest = base_manifest(pipeline, &plan, options, &staged, &ingested, unread);
    let over = over_reject_share(&plan, &manifest.sources, &ingested);
    if !over.is_empty() {
        meter.total();
        return Err(stop_on_data_checks(staged, manifest, &meter, over));
    }

    let mut engine = None;
    let panel = match build_panel(&plan, &staged, options.engine.as_ref(), &mut engine).map_err(during("panel"))? {
        Ok(panel) => panel,
        Err(stop) => {
            meter.total();
            return Err(stop_on_identity(staged, manifest, &meter, stop));
        }
    };
    meter.mark("panel");

    let findings = correlate(&plan, panel.as_ref(), &staged).map_err(during("correlate"))?;
    meter.mark("correlate");
    meter.total();

    manifest.panel = panel.as_ref().map(PanelManifest::of);
    manifest.engine = engine;
    manifest.correlations = findings.len();
    record_costs(&mut manifest, &meter);
    let output = publish(staged, &plan, &manifest, panel.as_ref(), &findings, &ingested, options.lang).map_err(during("publish"))?;
    Ok(RunReport { output, manifest, findings, analysis: plan.analysis })
}

/// A run under way: its id, the output folder being built, and the periods carried over; it
/// holds the output's lock until it is published or dropped.
struct Staged {
    _lock: OutputLock,
    run_id: String,
    staging: Staging,
    curated: PathBuf,
    carried: BTreeSet<Period>,
}

/// `--period` must name a period of the pipeline's length.
fn check_period_option(plan: &Plan, pipeline: &Path, only: Option<Period>) -> Result<(), JobError> {
    match only {
        Some(period) if period.grain != plan.grain => Err(JobError::PeriodGrain { period, pipeline: pipeline.to_path_buf(), grain: plan.grain }),
        _ => Ok(()),
    }
}

/// Claims the output folder and opens the staged one beside it; for an increment, carries the
/// other periods' partitions over.
fn stage(plan: &Plan, pipeline: &Path, only: Option<Period>) -> Result<Staged, JobError> {
    let run_id = crate::store::staging::new_run_id();
    let lock = claim_output(plan, &run_id, pipeline)?;
    testhook::reached(testhook::LOCKED);
    let staging = Staging::new(&plan.output_dir, &run_id)?;
    let curated = layout::curated(&staging.dir);
    let carried = match only {
        Some(only) => carry_over_partitions(plan, &curated, only).map_err(during("carry-over"))?,
        None => BTreeSet::new(),
    };
    Ok(Staged { _lock: lock, run_id, staging, curated, carried })
}

/// Makes the output folder this run's to replace: refuses what is not a duibiao output, takes
/// the output's lock (failing at once if another run holds it), and recovers what runs killed
/// while publishing left behind. The lock is held until the returned guard is dropped.
fn claim_output(plan: &Plan, run_id: &str, pipeline: &Path) -> Result<OutputLock, JobError> {
    // Refused before anything is created beside it, and checked again under the lock.
    crate::store::marker::check_replaceable(&plan.output_dir).map_err(JobError::OutputFolder)?;
    let lock = OutputLock::acquire(&plan.output_dir, run_id, pipeline)?;
    let recovered = crate::store::staging::recover_interrupted(&plan.output_dir)?;
    if let Some(from) = &recovered.restored {
        notice(&format!(
            "上次运行在发布时中断，已恢复之前的输出 · a run was killed while publishing; its previous output {} was put back from {}",
            plan.output_dir.display(),
            from.display()
        ));
    }
    crate::store::marker::check_replaceable(&plan.output_dir).map_err(JobError::OutputFolder)?;
    Ok(lock)
}

/// Puts the stage a run failed in around its error: "导入阶段 · during ingest: …".
fn during(stage: &'static str) -> impl FnOnce(JobError) -> JobError {
    move |source| JobError::During { stage, source: Box::new(source) }
}

/// A line for the user on standard error (never fails the run: a closed stderr is ignored).
fn notice(text: &str) {
    use std::io::Write as _;
    let _ = writeln!(std::io::stderr(), "{text}");
}

/// Ingests every source into the staged curated folder.
fn ingest_sources(plan: &Plan, staged: &Staged, options: &RunOptions) -> Result<Vec<IngestedSource>, JobError> {
    let progress = progress_bar(plan, options.quiet);
    let mut ingested = Vec::new();
    for source in &plan.sources {
        let files = preflight::source_files(source).map_err(JobError::Ingest)?;
        progress.set_message(source.name.clone());
        // Reference tables (no period column) are always read whole.
        let only = if source.period.is_some() { options.period } else { None };
        let destination = ingest::Destination::Curated { dir: &staged.curated, run_id: &staged.run_id };
        let result = ingest::ingest_source(plan, source, &files, only, destination, None).map_err(JobError::Ingest)?;
        progress.inc(files.len() as u64);
        ingested.push(result);
    }
    progress.finish_and_clear();
    Ok(ingested)
}

/// Writes quality/rejects.parquet.
fn write_quarantine(ingested: &[IngestedSource], staged: &Staged) -> Result<(), JobError> {
    let rejects: Vec<&Reject> = ingested.iter().flat_map(|s| &s.rejects).collect();
    crate::output::tables::write_rejects(&rejects, &staged.staging.dir, &staged.run_id)?;
    Ok(())
}

/// The manifest as far as ingest knows it: no panel, no correlations, no costs yet.
fn base_manifest(
    pipeline: &Path,
    plan: &Plan,
    options: &RunOptions,
    staged: &Staged,
    ingested: &[IngestedSource],
    unread: Vec<preflight::UnreadFile>,
) -> Manifest {
    let touched: BTreeSet<Period> = ingested.iter().flat_map(|s| s.periods.iter().flatten().copied()).collect();
    let available: BTreeSet<Period> = touched.iter().chain(&staged.carried).copied().collect();
    Manifest {
        tool: "duibiao",
        version: env!("CARGO_PKG_VERSION"),
        run_id: staged.run_id.clone(),
        pipeline: pipeline.display().to_string(),
        pipeline_sha256: plan.spec_sha256.clone(),
        periods_touched: touched.iter().map(|q| q.to_string()).collect(),
        periods_available: available.iter().map(|q| q.to_string()).collect(),
        increment: options.period.map(|q| q.to_string()),
        sources: ingested.iter().zip(&plan.sources).map(|(s, p)| source_manifest(s, p.max_reject_share)).collect(),
        unread_files: unread,
        panel: None,
        correlations: 0,
        timings_seconds: Vec::new(),
        peak_rss_bytes: Vec::new(),
        engine: None,
    }
}

fn record_costs(manifest: &mut Manifest, meter: &StageMeter) {
    manifest.timings_seconds = meter.timings.clone();
    manifest.peak_rss_bytes = meter.peak_rss_bytes.clone();
}

/// The sources that rejected more than their allowed share, described with their top reasons.
fn over_reject_share(plan: &Plan, sources: &[SourceManifest], ingested: &[IngestedSource]) -> Vec<String> {
    sources
        .iter()
        .zip(&plan.sources)
        .zip(ingested)
        .filter(|((s, _), _)| s.reject_share > s.max_reject_share)
        .flat_map(|((s, p), i)| crate::output::data_checks::failing_source(s, p, &i.rejects))
        .collect()
}

/// Keeps the failed run's quarantine and manifest for inspection; the output stays as it was.
fn stop_on_data_checks(staged: Staged, mut manifest: Manifest, meter: &StageMeter, over: Vec<String>) -> JobError {
    record_costs(&mut manifest, meter);
    let written = manifest::to_json(&manifest).map_err(JobError::from).and_then(|json| write_file(&staged.staging.dir.join(layout::MANIFEST), json));
    if let Err(e) = written {
        return e;
    }
    let kept = staged.staging.keep_as_failed(&staged.run_id);
    JobError::DataChecks { over, kept }
}

/// Why the panel stage stopped the run on its data (exit 3), its quarantine kept.
enum PanelStop {
    /// Identity data errors: ambiguous spellings, repeated master codes, aliases to unknown codes.
    Identity(String),
    /// Sources whose rows mostly reach no station; the panel is kept for the manifest.
    Unmatched(Panel, Vec<String>),
}

/// Builds the panel and writes its tables, when the pipeline declares indicators or features.
/// Identity data errors and sources over their unmatched share stop the run (`PanelStop`).
fn build_panel(
    plan: &Plan,
    staged: &Staged,
    spark: Option<&crate::spark::SparkOptions>,
    engine: &mut Option<manifest::EngineManifest>,
) -> Result<Result<Option<Panel>, PanelStop>, JobError> {
    if plan.indicators.is_empty() && plan.features.is_empty() {
        return Ok(Ok(None));
    }
    let panel = match panel_with_engine(plan, staged, spark, engine) {
        Ok(panel) => panel,
        Err(crate::panel::PanelError::Ambiguous(m)) => return Ok(Err(PanelStop::Identity(m))),
        Err(crate::panel::PanelError::Identity(problems)) => return Ok(Err(PanelStop::Identity(problems.to_string()))),
        Err(other) => return Err(other.into()),
    };
    // A source whose rows mostly reach no station is not analysed.
    let unmatched = unmatched_over_limit(plan, &panel);
    if !unmatched.is_empty() {
        crate::output::tables::write_unmatched(&panel.unmatched, &staged.staging.dir, &staged.run_id)?;
        return Ok(Err(PanelStop::Unmatched(panel, unmatched)));
    }
    crate::output::tables::write_panel(&panel, &staged.staging.dir, &staged.run_id)?;
    Ok(Ok(Some(panel)))
}

/// The panel, its measures computed by the embedded engine or by Spark (whose run is recorded
/// in `engine` for the manifest).
fn panel_with_engine(
    plan: &Plan,
    staged: &Staged,
    spark: Option<&crate::spark::SparkOptions>,
    engine: &mut Option<manifest::EngineManifest>,
) -> Result<Panel, crate::panel::PanelError> {
    let Some(options) = spark else { return crate::panel::build(plan, &staged.curated) };
    let mut spark = crate::spark::SparkEngine::new(options, plan, &staged.curated, &staged.staging.dir, &staged.run_id);
    let panel = crate::panel::build_with(plan, &staged.curated, &mut spark);
    let job = match &options.mode {
        crate::spark::Mode::Emit(dir) => dir.display().to_string(),
        _ => layout::spark_dir(&plan.output_dir).display().to_string(),
    };
    let info = spark.info;
    *engine = Some(manifest::EngineManifest { name: "spark", mode: info.mode, spark_version: info.spark_version, ansi: info.ansi, job });
    panel
}

/// Runs the correlations and writes their table, when there are both indicators and features.
fn correlate(plan: &Plan, panel: Option<&Panel>, staged: &Staged) -> Result<Vec<Finding>, JobError> {
    match panel {
        Some(panel) if !plan.indicators.is_empty() && !plan.features.is_empty() => {
            let findings = crate::analysis::correlate(plan, panel).map_err(JobError::Analysis)?;
            crate::output::tables::write_correlations(&findings, &staged.staging.dir, &staged.run_id)?;
            Ok(findings)
        }
        _ => Ok(Vec::new()),
    }
}

/// Writes the manifest, the views and the report, and publishes the output folder.
fn publish(
    staged: Staged,
    plan: &Plan,
    manifest: &Manifest,
    panel: Option<&Panel>,
    findings: &[Finding],
    ingested: &[IngestedSource],
    lang: Lang,
) -> Result<PathBuf, JobError> {
    let dir = &staged.staging.dir;
    write_file(&dir.join(layout::MANIFEST), manifest::to_json(manifest)?)?;
    write_file(&dir.join(layout::VIEWS), crate::output::views::views_sql(plan, panel, dir))?;
    let groups = crate::output::report::group_rejects(ingested.iter().flat_map(|s| &s.rejects));
    let html = crate::output::report::render(&crate::output::report::ReportInput { plan, manifest, panel, findings, rejects: &groups, lang });
    write_file(&dir.join(layout::REPORT), html)?;
    Ok(staged.staging.publish()?)
}

/// Ends a run stopped by an identity data check (exit 3): writes the manifest and keeps the
/// staging folder as `out.failed-<run id>` beside the output; the output stays as it was.
fn stop_on_identity(staged: Staged, mut manifest: Manifest, meter: &StageMeter, stop: PanelStop) -> JobError {
    let problems = match stop {
        PanelStop::Identity(problems) => problems,
        PanelStop::Unmatched(panel, paragraphs) => {
            manifest.panel = Some(PanelManifest::of(&panel));
            paragraphs.join("")
        }
    };
    record_costs(&mut manifest, meter);
    let written = manifest::to_json(&manifest).map_err(JobError::from).and_then(|json| write_file(&staged.staging.dir.join(layout::MANIFEST), json));
    if let Err(e) = written {
        return e;
    }
    let kept = staged.staging.keep_as_failed(&staged.run_id);
    JobError::IdentityChecks { problems: problems.trim_end().to_string(), kept }
}

/// Spellings listed per source when its unmatched share is over the limit.
const TOP_UNMATCHED: usize = 5;

/// One paragraph per source whose share of rows matching no station exceeds its
/// `max_unmatched_share`: the share, the commonest unmatched spellings with their rows and closest
/// stations, and what to do. Empty when every source is within its limit.
fn unmatched_over_limit(plan: &Plan, panel: &crate::panel::Panel) -> Vec<String> {
    let mut out = Vec::new();
    for (name, &(matched, unmatched)) in &panel.source_rows {
        let Some(source) = plan.sources.iter().find(|s| &s.name == name) else { continue };
        let rows = matched + unmatched;
        if rows == 0 {
            continue;
        }
        let share = unmatched as f64 / rows as f64;
        if share <= source.max_unmatched_share {
            continue;
        }
        let mut spellings: Vec<&crate::panel::Unmatched> = panel.unmatched.iter().filter(|u| &u.source == name).collect();
        spellings.sort_by(|a, b| b.rows.cmp(&a.rows).then_with(|| a.spelling.cmp(&b.spelling)));
        let mut text = format!(
            "  {name}: {rows} 行中有 {unmatched} 行（{pct:.1}%）没有对应到任何供电所（允许 {max:.1}%）· {unmatched} of {rows} rows ({pct:.1}%) matched no station (allowed {max:.1}%); 最常见的未匹配写法 · commonest unmatched spellings ({n} in all):\n",
            pct = share * 100.0,
            max = source.max_unmatched_share * 100.0,
            n = spellings.len()
        );
        for u in spellings.iter().take(TOP_UNMATCHED) {
            text.push_str(&format!("    '{}': {} 行 rows; 最接近的供电所 closest stations: {}\n", u.spelling, u.rows, u.candidates));
        }
        text.push_str(
            "    请把这些写法加入别名表，或调整 [identity] 规则（如 county_column、company_words），或提高该来源的 max_unmatched_share · add these spellings to the alias table, adjust the [identity] rules (e.g. county_column, company_words), or raise the source's max_unmatched_share\n",
        );
        out.push(text);
    }
    out
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
fn carry_over_partitions(plan: &Plan, curated: &Path, only: Period) -> Result<BTreeSet<Period>, JobError> {
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

/// Writes one file of the output folder.
fn write_file(path: &Path, contents: String) -> Result<(), JobError> {
    std::fs::write(path, contents).map_err(|source| JobError::Write { path: path.to_path_buf(), source })
}
