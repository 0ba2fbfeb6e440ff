//! Why a run failed, as a type: the command edge (`commands::exit`) reads the exit code from the
//! variant, and every cause is kept so `{:#}` shows the underlying error under the message.

use std::path::PathBuf;

use crate::analysis::AnalysisError;
use crate::base::period::{Grain, Period};
use crate::base::vocab::Vocabulary;
use crate::ingest::IngestError;
use crate::panel::PanelError;
use crate::spec::SpecErrors;
use crate::store::error::StoreError;

#[derive(Debug, thiserror::Error)]
pub(crate) enum JobError {
    /// The pipeline file is wrong, or does not match the export files.
    #[error(transparent)]
    Spec(#[from] SpecErrors),
    /// `--period` names a period of another length than the pipeline's.
    #[error("--period {period} is a {}, but {} counts in periods of a {} (e.g. {})", period.grain.name(), pipeline.display(), grain.name(), grain.example())]
    PeriodGrain { period: Period, pipeline: PathBuf, grain: Grain },
    /// Sources rejected more rows than they allow; the run's folder is kept for inspection.
    #[error("data checks failed, output not published:\n  {}\nquarantine and manifest of this run are in {}", over.join("\n  "), kept.display())]
    DataChecks { over: Vec<String>, kept: PathBuf },
    /// Identity data errors or sources mostly matching no station; the run's folder is kept.
    #[error("数据检查未通过，未发布输出 · data checks failed, output not published:\n{problems}\n本次运行的隔离表、未匹配写法表和 manifest 在 · quarantine, unmatched spellings and manifest of this run are in {}", kept.display())]
    IdentityChecks { problems: String, kept: PathBuf },
    /// A source could not be read or written.
    #[error(transparent)]
    Ingest(#[from] IngestError),
    /// Shards that cannot be ingested or merged (`job::shard`).
    #[error("{0}")]
    Shard(String),
    #[error(transparent)]
    Panel(#[from] PanelError),
    #[error(transparent)]
    Analysis(#[from] AnalysisError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("cannot write the manifest")]
    Manifest(#[from] serde_json::Error),
    #[error("cannot write {}", path.display())]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// What is at the output path is not a duibiao output, or not a folder: it is left alone.
    #[error(transparent)]
    OutputFolder(StoreError),
    /// A stage of the run failed; the stage is named before the cause.
    #[error("{}", stage_text(stage))]
    During {
        stage: &'static str,
        #[source]
        source: Box<JobError>,
    },
}

/// "导入阶段 · during ingest".
fn stage_text(stage: &str) -> String {
    let zh = match stage {
        "carry-over" => "沿用上次数据",
        "ingest" => "导入",
        "quarantine" => "隔离",
        "panel" => "面板",
        "correlate" => "相关分析",
        "publish" => "写出与发布",
        _ => stage,
    };
    format!("{zh}阶段 · during {stage}")
}

impl JobError {
    /// Whether the data, not the pipeline or the machine, stopped the run: sources over their
    /// reject share, or spellings that fit more than one station.
    pub(crate) fn is_data_check(&self) -> bool {
        match self {
            JobError::During { source, .. } => source.is_data_check(),
            other => matches!(other, JobError::DataChecks { .. } | JobError::IdentityChecks { .. } | JobError::Panel(PanelError::Ambiguous(_))),
        }
    }

    /// Whether the pipeline file or the command line is wrong.
    pub(crate) fn is_usage(&self) -> bool {
        match self {
            JobError::During { source, .. } => source.is_usage(),
            other => matches!(other, JobError::Spec(_) | JobError::PeriodGrain { .. } | JobError::OutputFolder(_)),
        }
    }
}
