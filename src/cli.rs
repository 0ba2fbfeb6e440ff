//! Command-line interface: the subcommands and their flags. The doc comments are the `--help`
//! text users read.

use std::path::PathBuf;

use clap::{Parser, Subcommand};

use crate::sample::Scale;

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
}
