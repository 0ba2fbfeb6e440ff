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
pub struct Cli {
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
pub struct InitArgs {
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
pub struct InspectArgs {
    /// The Parquet file, e.g. out/panel.parquet.
    pub file: PathBuf,
    /// Print the description as JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, clap::Args)]
pub struct CheckArgs {
    /// The pipeline file, e.g. pipelines/kashgar_quarterly.toml.
    pub pipeline: PathBuf,
}

#[derive(Debug, clap::Args)]
pub struct RunArgs {
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
}

fn parse_period(text: &str) -> Result<crate::base::period::Period, crate::base::period::BadPeriod> {
    text.parse()
}

#[derive(Debug, clap::Args)]
pub struct SampleArgs {
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
