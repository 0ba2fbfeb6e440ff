//! Command-line interface: the subcommands and their flags. The doc comments are the `--help`
//! text users read.

use std::path::PathBuf;

use clap::{Parser, Subcommand};

use crate::sample::{Layout, Scale};

/// duibiao（对标）：供电所党建活动与同业对标指标的季度分析作业。
///
/// Quarterly analytics jobs for township power supply stations: party-building activity against
/// the six peer-benchmark indicators.
#[derive(Debug, Parser)]
#[command(name = "duibiao", version, about, long_about = None)]
pub(crate) struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// 生成确定性的样例导出数据 · Generate the deterministic sample exports (station master,
    /// fee recovery, collection quality, line loss, 95598, O&M, outages, party activity).
    Sample(SampleArgs),
    /// 检查作业文件及其引用的导出文件（不写任何文件）· Check a pipeline file against the real exports
    /// (spec, files, encodings, headers, a sample of rows); writes nothing.
    Check(CheckArgs),
    /// 运行季度作业 · Run the quarterly job: ingest the exports into curated Parquet with
    /// quarantine, and publish the output folder atomically.
    Run(RunArgs),
    /// 分片导入 · Ingest one shard of a pipeline (some sources × some periods) into its own
    /// folder under --into, for `duibiao run --shards` to merge: several machines can ingest
    /// disjoint shards of the same exports.
    Ingest(IngestArgs),
    /// 查看 Parquet 文件 · Describe a Parquet file: schema as Parquet and Arrow readers see it,
    /// rows, row groups, column statistics, key-value metadata, and hints on types BI tools
    /// read differently.
    Inspect(InspectArgs),
    /// 为 BI 工具写入 analysis.duckdb · (Re)write OUT_DIR/analysis.duckdb, the database BI tools
    /// connect to, with the views of OUT_DIR/views.sql at absolute paths: after moving or copying
    /// an output folder, run this on the new folder.
    Views(ViewsArgs),
    /// 为新地区起草作业文件 · Draft a pipeline file from a folder of exports: encodings, header
    /// rows, total rows, column types, periods and station columns, with indicator templates.
    /// Never overwrites a file.
    Init(InitArgs),
}

#[derive(Debug, clap::Args)]
pub(crate) struct InitArgs {
    /// The folder holding the exports (read recursively: every .csv and .xlsx file).
    pub dir: PathBuf,
    /// The station master (供电所台账), when it is not among the exports or not recognised.
    #[arg(long)]
    pub stations: Option<PathBuf>,
    /// Where to write the draft (default pipelines/NAME.toml); an existing file is never
    /// overwritten.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// The pipeline's name (ASCII snake_case; default from the folder's name).
    #[arg(long)]
    pub name: Option<String>,
}

#[derive(Debug, clap::Args)]
pub struct ViewsArgs {
    /// The output folder of a run, e.g. out.
    pub out_dir: PathBuf,
    /// The DuckDB to write the database with: the DuckDB command-line program or a Python with
    /// the duckdb package (default: $DUIBIAO_DUCKDB, else duckdb, python3 or python on PATH).
    #[arg(long, value_name = "PATH")]
    pub duckdb: Option<PathBuf>,
}

#[derive(Debug, clap::Args)]
pub(crate) struct InspectArgs {
    /// The Parquet file, e.g. out/panel.parquet.
    pub file: PathBuf,
    /// Print the description as JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, clap::Args)]
pub(crate) struct CheckArgs {
    /// The pipeline file, e.g. pipelines/kashgar_quarterly.toml.
    pub pipeline: PathBuf,
}

#[derive(Debug, clap::Args)]
pub(crate) struct RunArgs {
    /// The pipeline file, e.g. pipelines/kashgar_quarterly.toml.
    pub pipeline: PathBuf,
    /// Ingest only this period (a quarter such as 2020Q4; 2020-12 or 2020 for pipelines by month
    /// or year), replacing exactly its partitions and keeping the other periods' curated data
    /// from the previous run.
    #[arg(long, value_parser = parse_period)]
    pub period: Option<crate::base::period::Period>,
    /// No progress bars; the closing summary only.
    #[arg(long)]
    pub quiet: bool,
    /// Print the run's manifest as JSON instead of the summary table.
    #[arg(long)]
    pub json: bool,
    /// Language of report.html: zh (中文, default) or en.
    #[arg(long, value_enum, default_value_t = crate::base::lang::Lang::Zh)]
    pub lang: crate::base::lang::Lang,
    /// The DuckDB that writes analysis.duckdb: the DuckDB command-line program or a Python with
    /// the duckdb package (default: $DUIBIAO_DUCKDB, else duckdb, python3 or python on PATH;
    /// `none` writes no database).
    #[arg(long, value_name = "PATH")]
    pub duckdb: Option<PathBuf>,
    /// 面板指标与特征的计算引擎 · The engine of the panel's indicators and features: `embedded`
    /// (default) or `spark` (Apache Spark over the curated tree; with --submit, --connect or --emit).
    #[arg(long, value_enum, default_value_t = Engine::Embedded)]
    pub engine: Engine,
    /// With --engine spark: the command that runs the Spark driver, e.g. "spark-submit --master
    /// yarn --driver-memory 4g" or a Python with pyspark (default: $DUIBIAO_SPARK_SUBMIT, else
    /// spark-submit).
    #[arg(long, value_name = "CMD")]
    pub submit: Option<String>,
    /// With --engine spark: a Spark Connect server, e.g. sc://host:15002 (the driver runs with the
    /// Python of --submit, default python3).
    #[arg(long, value_name = "URL")]
    pub connect: Option<String>,
    /// With --engine spark: only write the Spark job (SQL, driver, mapping) into DIR for the
    /// platform to schedule; the run goes on with the embedded engine.
    #[arg(long, value_name = "DIR")]
    pub emit: Option<PathBuf>,
    /// ANSI mode of the Spark jobs (`spark.sql.ansi.enabled`): on (Spark 4's default) or off.
    #[arg(long, value_enum, default_value_t = Switch::On)]
    pub ansi: Switch,
    /// Merge the shards under DIR (written by `duibiao ingest --into DIR`) instead of
    /// ingesting: their curated partitions and their row accounting.
    #[arg(long, value_name = "DIR", conflicts_with = "period")]
    pub shards: Option<PathBuf>,
    /// Where Spark reads the curated tree: a path or URI of the cluster's storage, e.g.
    /// hdfs:///data/duibiao/kashgar/out/curated (default: the run's own curated folder).
    #[arg(long, value_name = "URI")]
    pub spark_curated: Option<String>,
}

#[derive(Debug, clap::Args)]
pub(crate) struct IngestArgs {
    /// The pipeline file, e.g. pipelines/kashgar_quarterly.toml.
    pub pipeline: PathBuf,
    /// The folder of the shards (shared by every machine); this shard goes into a folder of
    /// its own under it.
    #[arg(long, value_name = "DIR")]
    pub into: PathBuf,
    /// Ingest this source (repeat for several; default: every source).
    #[arg(long = "source", value_name = "NAME")]
    pub sources: Vec<String>,
    /// Ingest this period of the sources with a period column (repeat for several; default:
    /// every period). Reference tables are always read whole.
    #[arg(long = "period", value_name = "PERIOD", value_parser = parse_period)]
    pub periods: Vec<crate::base::period::Period>,
    /// The shard's folder name (default: its sources and periods, e.g. fee@2020Q1+2020Q2).
    #[arg(long, value_name = "NAME")]
    pub shard: Option<String>,
    /// No progress lines.
    #[arg(long)]
    pub quiet: bool,
}

/// The engine of the panel's measures.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum Engine {
    Embedded,
    Spark,
}

/// On or off.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum Switch {
    On,
    Off,
}

fn parse_period(text: &str) -> Result<crate::base::period::Period, crate::base::period::BadPeriod> {
    text.parse()
}

#[derive(Debug, clap::Args)]
pub(crate) struct SampleArgs {
    /// Folder to write into (created if missing; files of the same name are overwritten).
    #[arg(long)]
    pub out: PathBuf,
    /// Random seed; the committed sample uses the default.
    #[arg(long, default_value_t = crate::sample::DEFAULT_SEED)]
    pub seed: u64,
    /// Size of the generated organisation.
    #[arg(long, value_enum, default_value_t = Scale::Kashgar)]
    pub scale: Scale,
    /// Export layout: `kashgar` (the committed sample_data/, 2019–2020) or `other`, a second
    /// prefecture whose systems export differently (the committed sample_other/, 2021–2022; at
    /// the default scale it has its own 60 stations).
    #[arg(long, value_enum, default_value_t = Layout::Kashgar)]
    pub layout: Layout,
}
