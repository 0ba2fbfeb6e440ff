//! Exit codes and how an error maps to one.
//!
//! 0 ok · 1 runtime failure · 2 usage or spec error · 3 data checks failed beyond the allowed
//! share. Library errors are typed; the command edge wraps them with context (anyhow), and the
//! exit code is read from the innermost typed error.

use std::process::ExitCode;

use crate::job::error::JobError;
use crate::spec::SpecErrors;

/// A command used wrongly (a flag or an argument that cannot work): exit 2.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub(crate) struct UsageError(pub String);

/// The process exit codes duibiao documents.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Exit {
    Ok = 0,
    Failure = 1,
    Usage = 2,
    DataChecks = 3,
}

impl Exit {
    /// The exit code for an error: from the first run or spec error in its chain, else 1.
    pub fn of(error: &anyhow::Error) -> Exit {
        for cause in error.chain() {
            if let Some(e) = cause.downcast_ref::<JobError>() {
                return if e.is_usage() {
                    Exit::Usage
                } else if e.is_data_check() {
                    Exit::DataChecks
                } else {
                    Exit::Failure
                };
            }
            if cause.is::<SpecErrors>() || cause.is::<UsageError>() {
                return Exit::Usage;
            }
            if cause.is::<super::check::SampleOverShare>() {
                return Exit::DataChecks;
            }
        }
        Exit::Failure
    }
}

impl From<Exit> for ExitCode {
    fn from(exit: Exit) -> ExitCode {
        ExitCode::from(exit as u8)
    }
}

#[cfg(test)]
mod tests {
    use std::path::{Path, PathBuf};

    use super::*;
    use crate::analysis::AnalysisError;
    use crate::ingest::IngestError;

    fn fixture_plan() -> crate::spec::plan::Plan {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/pipelines/panel_small.toml");
        crate::spec::compile::compile_file(&path).unwrap()
    }

    fn during(stage: &'static str, error: JobError) -> anyhow::Error {
        anyhow::Error::new(JobError::During { stage, source: Box::new(error) })
    }

    #[test]
    fn an_export_that_cannot_be_read_fails_the_run_naming_the_file_and_the_cause() {
        let plan = fixture_plan();
        let missing: PathBuf = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/panel/no_such_export.csv");
        let error = crate::ingest::read::open(&plan.sources[0], &missing).err().expect("a missing file cannot be opened");
        let IngestError::Read { path, source } = &error else { panic!("not a read error: {error:?}") };
        assert_eq!((path, source.kind()), (&missing, std::io::ErrorKind::NotFound));
        let cause = source.to_string();
        let error = during("ingest", JobError::Ingest(error));
        assert_eq!(Exit::of(&error), Exit::Failure);
        assert_eq!(format!("{error:#}"), format!("导入阶段 · during ingest: cannot read {}: {cause}", missing.display()));
    }

    #[test]
    fn ingest_errors_carry_their_location_and_keep_todays_words() {
        let error = IngestError::MissingColumn {
            file: "fee/电费_2020Q3.xlsx".into(),
            sheet: Some("喀什".into()),
            column: "station".into(),
            header: "供电所".into(),
            headers: vec!["单位".into(), "月份".into()],
        };
        assert_eq!(error.to_string(), "fee/电费_2020Q3.xlsx sheet '喀什': column 'station' (header '供电所') is missing; headers there: 单位, 月份");
        let error = IngestError::NotUtf8 { path: "a.csv".into(), line: 42, at: crate::ingest::error::ByteAt::Line(3), looks_gbk: true };
        assert_eq!(error.to_string(), "a.csv is not valid UTF-8 at line 42 (byte 3 of the line); the bytes read as GBK/GB18030: set encoding = \"gbk\"");
        let error = IngestError::LineAccounting { file: "a.csv".into(), physical: 10, title: 1, header: 1, blank: 2, records: 5 };
        assert_eq!(error.to_string(), "a.csv: line accounting does not add up: 10 physical lines, but 1 title + 1 header + 2 blank + 5 in records");
        assert_eq!(Exit::of(&during("ingest", JobError::Ingest(error))), Exit::Failure);
    }

    #[test]
    fn analysis_errors_fail_the_run_naming_the_pair_and_the_engines_reason() {
        let error = AnalysisError::MissingControl { name: "log_customers".into() };
        assert_eq!(
            format!("{:#}", during("correlate", JobError::Analysis(error))),
            "相关分析阶段 · during correlate: control 'log_customers' is not in the panel"
        );
        let error = AnalysisError::Pair { indicator: "fee_recovery".into(), feature: "sanliang".into(), source: crate::stats::StatsError::Confidence(1.5) };
        let error = during("correlate", JobError::Analysis(error));
        assert_eq!(Exit::of(&error), Exit::Failure);
        assert_eq!(
            format!("{error:#}"),
            "相关分析阶段 · during correlate: fee_recovery × sanliang: confidence level must be strictly between 0 and 1, got 1.5"
        );
    }

    #[test]
    fn exit_codes_follow_the_type_of_the_innermost_run_error() {
        let plan = fixture_plan();
        let spec = crate::spec::SpecErrors { path: plan.spec_path.clone(), text: plan.spec_text.clone(), errors: Vec::new() };
        assert_eq!(Exit::of(&during("ingest", JobError::Spec(spec))), Exit::Usage);
        let checks = JobError::DataChecks { over: vec!["fee: 12% rejected".into()], kept: "out.run".into() };
        assert_eq!(Exit::of(&during("quarantine", checks)), Exit::DataChecks);
        let bi = crate::output::bi::BiError::NotDuckdbFile { path: "out/analysis.duckdb".into() };
        assert_eq!(Exit::of(&anyhow::Error::new(bi)), Exit::Failure);
        assert_eq!(Exit::of(&anyhow::Error::new(UsageError("--duckdb none".into()))), Exit::Usage);
    }
}
