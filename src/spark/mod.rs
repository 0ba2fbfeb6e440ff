//! The Spark engine of the panel's data-proportional part (`duibiao run --engine spark`): the
//! same pipeline file, its heavy stage run by Apache Spark over the curated tree.
//!
//! 1. The spellings job returns the distinct station spellings of each measure source per
//!    period with their rows; duibiao resolves them with its own identity rules (an ambiguous
//!    spelling stops the run, as with the embedded engine) and writes the mapping as a small
//!    Parquet table.
//! 2. The measures job (period table, one materialised stage per source, every measure per
//!    station × period as one long table) runs; duibiao reads the measures back and the
//!    assembly, correlations, report and publish go on as with the embedded engine.
//!
//! Jobs run through `--submit CMD` (spark-submit, or a Python with pyspark) or Spark Connect;
//! `--emit DIR` only writes the job (SQL, driver, mapping) for the platform to schedule, and the
//! run goes on with the embedded engine.
//!
//! Layer `spark` (ARCHITECTURE.md): may import `base`, `spec`, `store` and `panel`.

pub mod sql;

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;

use polars::prelude::*;

use crate::base::period::Period;
use crate::panel::measures::Embedded;
use crate::panel::{MeasureEngine, MeasureValue, PanelError, References, SourceSpellings};
use crate::spec::plan::Plan;
use crate::store::layout::{self, spark as files};
use sql::JobPaths;

/// The driver script written beside every job.
pub(crate) const DRIVER: &str = include_str!("driver.py");

/// How the Spark jobs run.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Mode {
    /// Write the job into this folder only; the run goes on with the embedded engine.
    Emit(PathBuf),
    /// Run the driver with this command (`spark-submit --master yarn`, or a Python with pyspark).
    Submit(String),
    /// Run the driver with `python` against a Spark Connect server.
    Connect { url: String, python: String },
}

/// The Spark engine's settings.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct SparkOptions {
    pub mode: Mode,
    /// `spark.sql.ansi.enabled` of the jobs.
    pub ansi: bool,
    /// Where Spark reads the curated tree (a path or URI of the cluster's storage); by default
    /// the run's own curated folder.
    pub curated_uri: Option<String>,
}

/// What the engine reports for the manifest.
#[derive(Debug, Clone, Default)]
pub(crate) struct SparkInfo {
    /// "submit", "connect" or "emit".
    pub mode: String,
    /// As the driver reported it (None when nothing ran on Spark).
    pub spark_version: Option<String>,
    pub ansi: bool,
}

/// The Spark engine of one run.
pub(crate) struct SparkEngine<'a> {
    options: &'a SparkOptions,
    /// The run's curated folder (local).
    curated: &'a Path,
    /// Where the curated tree is once the run is published (the path an emitted job reads).
    published_curated: PathBuf,
    /// The run's Spark job folder.
    work: PathBuf,
    run_id: String,
    pub info: SparkInfo,
}

impl<'a> SparkEngine<'a> {
    /// An engine for a run whose staged output folder is `staged_out`.
    pub fn new(options: &'a SparkOptions, plan: &Plan, curated: &'a Path, staged_out: &Path, run_id: &str) -> SparkEngine<'a> {
        let mode = match &options.mode {
            Mode::Emit(_) => "emit",
            Mode::Submit(_) => "submit",
            Mode::Connect { .. } => "connect",
        };
        SparkEngine {
            options,
            curated,
            published_curated: layout::curated(&plan.output_dir),
            work: layout::spark_dir(staged_out),
            run_id: run_id.to_string(),
            info: SparkInfo { mode: mode.to_string(), spark_version: None, ansi: options.ansi },
        }
    }

    /// The job folder and the paths Spark sees while the run runs, and once it is published (the
    /// paths the kept job names): the emit folder and the published curated tree for `--emit`,
    /// else the run's staged folder, then its output folder.
    fn paths(&self, plan: &Plan, result: &str) -> Result<(PathBuf, JobPaths, JobPaths), PanelError> {
        let (dir, curated, published_dir) = match &self.options.mode {
            Mode::Emit(dir) => (absolute(dir)?, absolute(&self.published_curated)?, absolute(dir)?),
            _ => (absolute(&self.work)?, absolute(self.curated)?, absolute(&layout::spark_dir(&plan.output_dir))?),
        };
        std::fs::create_dir_all(&dir).map_err(|source| PanelError::Read { path: dir.clone(), source })?;
        let job_paths = |dir: &Path, curated: &Path| JobPaths {
            curated: self.options.curated_uri.clone().unwrap_or_else(|| curated.to_string_lossy().into_owned()),
            mapping: dir.join(files::MAPPING).to_string_lossy().into_owned(),
            output: dir.join(result).to_string_lossy().into_owned(),
        };
        let now = job_paths(&dir, &curated);
        let published = job_paths(&published_dir, &absolute(&self.published_curated)?);
        Ok((dir, now, published))
    }

    /// Runs a job with the driver; what Spark prints goes to spark.log, whose end is shown on
    /// failure.
    fn run(&mut self, dir: &Path, job: &Path) -> Result<(), PanelError> {
        let driver = dir.join(files::DRIVER);
        write(&driver, DRIVER.as_bytes())?;
        let info = dir.join(files::INFO);
        let log_path = dir.join(files::LOG);
        let log =
            std::fs::OpenOptions::new().create(true).append(true).open(&log_path).map_err(|source| PanelError::Read { path: log_path.clone(), source })?;
        let err_log = log.try_clone().map_err(|source| PanelError::Read { path: log_path.clone(), source })?;
        let mut command = match &self.options.mode {
            Mode::Submit(cmd) => {
                let mut c = Command::new("sh");
                c.arg("-c").arg(format!("{cmd} \"$@\"")).arg("sh");
                c
            }
            Mode::Connect { python, .. } => Command::new(python),
            Mode::Emit(dir) => return Err(PanelError::Engine(format!("an emitted job is not run (it is in {})", dir.display()))),
        };
        command.arg(&driver).arg(job).arg("--info").arg(&info);
        if let Mode::Connect { url, .. } = &self.options.mode {
            command.arg("--connect").arg(url);
        }
        let shown = format!("{command:?}");
        let status = command
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(err_log)
            .status()
            .map_err(|e| PanelError::Engine(format!("Spark 作业无法启动 · the Spark job could not be started: {shown}: {e}")))?;
        if !status.success() {
            let text = std::fs::read_to_string(&log_path).unwrap_or_default();
            let tail: Vec<&str> = text.lines().rev().take(25).collect::<Vec<_>>().into_iter().rev().collect();
            return Err(PanelError::Engine(format!(
                "Spark 作业失败 · the Spark job {} failed ({status}): {shown}\n  {}\n  (全部输出见 · all output in {})",
                job.display(),
                tail.join("\n  "),
                log_path.display()
            )));
        }
        let reported = std::fs::read_to_string(&info).map_err(|source| PanelError::Read { path: info.clone(), source })?;
        let json: serde_json::Value = serde_json::from_str(&reported).map_err(|e| PanelError::Engine(format!("{}: {e}", info.display())))?;
        self.info.spark_version = json["spark_version"].as_str().map(str::to_string);
        self.info.ansi = json["ansi"].as_str() == Some("true");
        Ok(())
    }

    /// Writes the spelling → station mapping of every source as one Parquet table.
    fn write_mapping(&self, plan: &Plan, mappings: &BTreeMap<usize, HashMap<String, String>>, path: &Path) -> Result<(), PanelError> {
        let mut rows: Vec<(&str, &str, &str)> = Vec::new();
        for (&index, mapping) in mappings {
            rows.extend(mapping.iter().map(|(s, id)| (plan.sources[index].name.as_str(), s.as_str(), id.as_str())));
        }
        rows.sort_unstable();
        let column =
            |pick: usize| -> arrow::array::ArrayRef { Arc::new(arrow::array::StringArray::from_iter_values(rows.iter().map(|r| [r.0, r.1, r.2][pick]))) };
        let columns = vec![("source".to_string(), column(0)), ("spelling".to_string(), column(1)), ("station_id".to_string(), column(2))];
        let stamp = crate::store::parquet::RunStamp { run_id: self.run_id.clone(), table: "spark/mapping".to_string() };
        crate::store::parquet::write_parquet(path, columns, &stamp).map_err(|e| PanelError::Engine(format!("{}: {e}", path.display())))
    }
}

impl MeasureEngine for SparkEngine<'_> {
    fn spellings(&mut self, plan: &Plan, sources: &[usize]) -> Result<Vec<SourceSpellings>, PanelError> {
        let (dir, paths, published) = self.paths(plan, files::SPELLINGS_RESULT)?;
        let job = dir.join(files::SPELLINGS_JOB);
        write(&job, sql::spellings_job(plan, sources, &paths, self.options.ansi).as_bytes())?;
        if let Mode::Emit(_) = self.options.mode {
            write(&dir.join(files::DRIVER), DRIVER.as_bytes())?;
            return Embedded { curated: self.curated }.spellings(plan, sources);
        }
        self.run(&dir, &job)?;
        let frame = read_result(Path::new(&paths.output))?;
        // The job kept in the output names the published folder.
        write(&job, sql::spellings_job(plan, sources, &published, self.options.ansi).as_bytes())?;
        spellings_of(plan, sources, &frame)
    }

    fn measures(
        &mut self,
        plan: &Plan,
        references: &References,
        mappings: &BTreeMap<usize, HashMap<String, String>>,
        periods: &[Period],
    ) -> Result<Vec<MeasureValue>, PanelError> {
        let (dir, paths, published) = self.paths(plan, files::MEASURES_RESULT)?;
        self.write_mapping(plan, mappings, Path::new(&paths.mapping))?;
        let text = sql::measures_job(plan, periods, &paths, self.options.ansi).map_err(PanelError::Engine)?;
        let job = dir.join(files::MEASURES_JOB);
        write(&job, text.as_bytes())?;
        if let Mode::Emit(_) = self.options.mode {
            return Embedded { curated: self.curated }.measures(plan, references, mappings, periods);
        }
        self.run(&dir, &job)?;
        let frame = read_result(Path::new(&paths.output))?;
        let text = sql::measures_job(plan, periods, &published, self.options.ansi).map_err(PanelError::Engine)?;
        write(&job, text.as_bytes())?;
        measures_of(&frame)
    }
}

fn write(path: &Path, bytes: &[u8]) -> Result<(), PanelError> {
    std::fs::write(path, bytes).map_err(|source| PanelError::Read { path: path.to_path_buf(), source })
}

fn absolute(path: &Path) -> Result<PathBuf, PanelError> {
    std::path::absolute(path).map_err(|source| PanelError::Read { path: path.to_path_buf(), source })
}

fn pe(e: PolarsError) -> PanelError {
    PanelError::Polars(e)
}

/// A job's result folder (Parquet files as Spark wrote them), read whole and then removed:
/// Spark leaves marker and checksum files that do not belong in an output folder.
fn read_result(dir: &Path) -> Result<DataFrame, PanelError> {
    let entries = std::fs::read_dir(dir).map_err(|source| PanelError::Read { path: dir.to_path_buf(), source })?;
    let mut parts: Vec<PathBuf> = entries
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            let name = p.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
            layout::is_partition_file(p) && !name.starts_with('.') && !name.starts_with('_')
        })
        .collect();
    parts.sort();
    let mut frames = Vec::new();
    for p in &parts {
        frames.push(crate::panel::scan::scan_parquet(p).and_then(LazyFrame::collect).map_err(pe)?);
    }
    let _ = std::fs::remove_dir_all(dir);
    let mut frames = frames.into_iter();
    let Some(mut all) = frames.next() else {
        return Err(PanelError::Engine(format!("Spark 作业没有写出结果 · the Spark job wrote no result into {}", dir.display())));
    };
    for f in frames {
        all.vstack_mut(&f).map_err(pe)?;
    }
    Ok(all)
}

fn text_column(df: &DataFrame, name: &str) -> Result<Vec<Option<String>>, PanelError> {
    let c = df.column(name).map_err(pe)?.cast(&DataType::String).map_err(pe)?;
    let ca = c.str().map_err(pe)?;
    Ok((0..ca.len()).map(|i| ca.get(i).map(str::to_string)).collect())
}

fn number_column(df: &DataFrame, name: &str) -> Result<Vec<Option<f64>>, PanelError> {
    let c = df.column(name).map_err(pe)?.cast(&DataType::Float64).map_err(pe)?;
    let ca = c.f64().map_err(pe)?;
    Ok((0..ca.len()).map(|i| ca.get(i)).collect())
}

fn period_of(label: &str) -> Result<Period, PanelError> {
    label.parse().map_err(|e| PanelError::Engine(format!("Spark 返回的期间 '{label}' 无效 · Spark returned the period '{label}': {e}")))
}

/// The spellings table (source, period, spelling, rows) as each source's spellings per period.
fn spellings_of(plan: &Plan, sources: &[usize], df: &DataFrame) -> Result<Vec<SourceSpellings>, PanelError> {
    let (names, periods, spellings, rows) = (text_column(df, "source")?, text_column(df, "period")?, text_column(df, "spelling")?, number_column(df, "rows")?);
    let mut by_source: HashMap<&str, BTreeMap<Period, Vec<(String, u64)>>> = HashMap::new();
    for i in 0..df.height() {
        let (Some(name), Some(period)) = (&names[i], &periods[i]) else { continue };
        let here = by_source.entry(name.as_str()).or_default().entry(period_of(period)?).or_default();
        if let (Some(s), Some(n)) = (&spellings[i], rows[i]) {
            here.push((s.clone(), n as u64));
        }
    }
    let mut out = Vec::new();
    for &index in sources {
        let name = plan.sources[index].name.as_str();
        let periods = by_source.remove(name).unwrap_or_default();
        if periods.is_empty() {
            return Err(PanelError::NoData(name.to_string()));
        }
        out.push(SourceSpellings { source: index, periods: periods.into_iter().collect() });
    }
    Ok(out)
}

/// The long measures table (station_id, period, variable, value).
fn measures_of(df: &DataFrame) -> Result<Vec<MeasureValue>, PanelError> {
    let (ids, periods, variables, values) =
        (text_column(df, "station_id")?, text_column(df, "period")?, text_column(df, "variable")?, number_column(df, "value")?);
    let mut out = Vec::with_capacity(df.height());
    for i in 0..df.height() {
        let (Some(id), Some(period), Some(variable)) = (&ids[i], &periods[i], &variables[i]) else { continue };
        out.push(MeasureValue { station_id: id.clone(), period: period_of(period)?, variable: variable.clone(), value: values[i] });
    }
    Ok(out)
}
