//! `duibiao check`: compile the pipeline, check it against the real files, then parse, type
//! and check a sample of every file of every source with ingest's own code (the start, the end
//! and a few blocks spread through each file), and say what `run` would do: rows rejected per
//! source against its `max_reject_share`, with the top reasons and an example file:line each.
//! Exits 3 when a sample already rejects more than its source allows. Writes nothing.

use super::columns::left;
use crate::base::lang::Lang;
use crate::base::vocab::Vocabulary;
use crate::commands::cli::CheckArgs;
use crate::commands::terminal::line;
use crate::ingest::{self, IngestedSource, Reject, RejectKind};
use crate::job;
use crate::spec::plan::SourcePlan;

/// Blocks (a few megabytes or 50 000 rows each) parsed of every file (of every sheet of a
/// workbook): the first, the last and the others spread between them; a smaller file is
/// parsed whole.
const SAMPLE_BLOCKS: usize = 4;

/// Reasons shown per source.
const TOP_REASONS: usize = 3;

/// The sample of a source already rejects more rows than the source allows.
#[derive(Debug, thiserror::Error)]
#[error(
    "样本中被拒绝的行已超过允许比例，`duibiao run` 会以退出码 3 停止 · the sample already rejects more rows than allowed; `duibiao run` would stop with exit 3:\n  {}\n请修正导出文件，或作业文件中的列类型、checks 或 max_reject_share · fix the exports, or the pipeline's column types, checks or max_reject_share",
    over.join("\n  ")
)]
pub(super) struct SampleOverShare {
    pub over: Vec<String>,
}

pub fn run(args: &CheckArgs) -> anyhow::Result<()> {
    let plan = job::prepare(&args.pipeline)?;
    // A run would refuse to replace what is at the output path: say so now.
    crate::store::marker::check_replaceable(&plan.output_dir).map_err(job::error::JobError::OutputFolder)?;
    let mut samples: Vec<(&SourcePlan, usize, IngestedSource)> = Vec::new();
    for source in &plan.sources {
        let files = ingest::preflight::source_files(source).map_err(job::error::JobError::Ingest)?;
        let sample =
            ingest::ingest_source(&plan, source, &files, None, ingest::Destination::Nowhere, Some(SAMPLE_BLOCKS)).map_err(job::error::JobError::Ingest)?;
        samples.push((source, files.len(), sample));
    }
    let unread = ingest::preflight::unread_files(&plan).map_err(job::error::JobError::Ingest)?;
    let over: Vec<String> =
        samples.iter().filter(|(source, _, sample)| over_share(source, sample)).map(|(source, _, sample)| over_line(source, sample)).collect();
    if over.is_empty() {
        line(format_args!(
            "{}: 作业文件正确，样本通过数据检查 · the pipeline compiles and matches its files, and its sample passes the data checks",
            args.pipeline.display()
        ))?;
    } else {
        line(format_args!(
            "{}: 作业文件能编译、与导出文件的表头相符，但样本未通过数据检查 · the pipeline compiles and matches the files' headers, but its sample fails the data checks",
            args.pipeline.display()
        ))?;
    }
    line(format_args!("  样本：每个文件的开头、结尾及其间均匀分布的数据块 · sample: the start, the end and evenly spread blocks of every file"))?;
    for (source, files, sample) in &samples {
        print_source(source, *files, sample)?;
    }
    if let Some(note) = super::run::unread_note(&unread) {
        line(note)?;
    }
    if !over.is_empty() {
        return Err(SampleOverShare { over }.into());
    }
    Ok(())
}

/// Whether a sample rejects more than its source allows (the rule `run` applies).
fn over_share(source: &SourcePlan, sample: &IngestedSource) -> bool {
    sample.counts.reject_share() > source.max_reject_share
}

/// "fee: 33.3 % of 72 sampled rows rejected (allowed 5.0 %); mostly …, e.g. data/fee_3.csv:2"
fn over_line(source: &SourcePlan, sample: &IngestedSource) -> String {
    let c = &sample.counts;
    let rejected: Vec<Reject> = sample.rejects.iter().filter(|r| r.kind == RejectKind::Rejected).cloned().collect();
    let top = reason_groups(&rejected)
        .into_iter()
        .next()
        .map(|g| format!("；最多的原因 top reason（{} 行 rows）: {}，例 e.g. {}", g.rows, g.reason, g.at))
        .unwrap_or_default();
    format!(
        "{}: 样本 {} 行中拒绝 {:.1} % · {:.1} % of {} sampled rows rejected（允许 allowed {:.1} %）{top}",
        source.name,
        c.rows_read,
        c.reject_share() * 100.0,
        c.reject_share() * 100.0,
        c.rows_read,
        source.max_reject_share * 100.0
    )
}

fn print_source(source: &SourcePlan, files: usize, sample: &IngestedSource) -> anyhow::Result<()> {
    let c = &sample.counts;
    let flag = if over_share(source, sample) { "  ← 超过允许比例 · over the allowed share" } else { "" };
    line(format_args!(
        "  {} {} file(s) sampled: {} rows read, {} accepted, {} rejected = {:.1} % (allowed {:.1} %), {} dropped, {} duplicates, {} conflicting{flag}",
        left(&source.name, 18),
        files,
        c.rows_read,
        c.accepted,
        c.rejected,
        c.reject_share() * 100.0,
        source.max_reject_share * 100.0,
        c.dropped,
        c.duplicates,
        c.conflicting
    ))?;
    let groups = reason_groups(&sample.rejects);
    for group in groups.iter().take(TOP_REASONS) {
        let value = group.example.as_ref().map(|v| format!(" '{v}'")).unwrap_or_default();
        let column = group.column.as_ref().map(|c| format!(" {c}")).unwrap_or_default();
        line(format_args!(
            "      {} {} {} × {}（例 e.g. {}{column}{value}）",
            group.kind.label(Lang::Zh),
            group.kind.label(Lang::En),
            group.rows,
            group.reason,
            group.at
        ))?;
    }
    if groups.len() > TOP_REASONS {
        line(format_args!("      …… 另有 {} 种原因 · {} more reason(s)", groups.len() - TOP_REASONS, groups.len() - TOP_REASONS))?;
    }
    Ok(())
}

/// Rejected rows that went wrong the same way, whatever their raw value.
#[derive(Debug, PartialEq)]
struct ReasonGroup {
    kind: RejectKind,
    /// The reason with the raw value cut out ('…' in its place).
    reason: String,
    /// The raw value of the first row of the group.
    example: Option<String>,
    /// Where the first row of the group is: file:line (with the sheet of a workbook).
    at: String,
    /// The canonical column of the first row's value, when one value was at fault.
    column: Option<String>,
    rows: usize,
}

/// "data/fee.csv:12", or "data/fee.xlsx:12 (sheet 2020)".
fn location(r: &Reject) -> String {
    match &r.sheet {
        Some(sheet) => format!("{}:{}（工作表 sheet {sheet}）", r.file, r.row),
        None => format!("{}:{}", r.file, r.row),
    }
}

/// Groups rejects by kind and reason with the raw value taken out of the reason ("'--' is not
/// a number" and "'n/a' is not a number" are one group), largest first. Duplicates each name
/// their first copy and are counted together; a drop rule's reason stays whole.
fn reason_groups(rejects: &[Reject]) -> Vec<ReasonGroup> {
    let mut groups: Vec<ReasonGroup> = Vec::new();
    for r in rejects {
        let value = r.value.as_deref().filter(|v| !v.trim().is_empty());
        let (reason, example) = match (r.kind, value) {
            (RejectKind::Duplicate, _) => ("完全重复的行 · exact duplicate rows".to_string(), None),
            (RejectKind::Conflicting, _) => ("主键相同但内容不同的行 · rows sharing a key but differing".to_string(), None),
            // A drop rule names its prefix, which is the rule, not a value: kept.
            (RejectKind::Dropped, v) => (r.reason.clone(), v.map(str::to_string)),
            (RejectKind::Rejected, Some(v)) => (r.reason.replace(&format!("'{v}'"), "'…'"), Some(v.to_string())),
            (_, None) => (r.reason.clone(), None),
        };
        match groups.iter_mut().find(|g| g.kind == r.kind && g.reason == reason) {
            Some(g) => g.rows += 1,
            None => groups.push(ReasonGroup { kind: r.kind, reason, example, at: location(r), column: r.column.clone(), rows: 1 }),
        }
    }
    groups.sort_by(|a, b| b.rows.cmp(&a.rows));
    groups
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reject(kind: RejectKind, value: Option<&str>, reason: &str) -> Reject {
        Reject {
            source: "fee".into(),
            file: "fee.csv".into(),
            sheet: None,
            row: 7,
            column: Some("billed".into()),
            value: value.map(str::to_string),
            kind,
            reason: reason.into(),
        }
    }

    #[test]
    fn rejects_group_by_reason_without_their_value() {
        let rejects = [
            reject(RejectKind::Rejected, Some("--"), "应收: '--' 不是有效的数字 · '--' is not a number (e.g. 1,234.50 or 98.5%)"),
            reject(RejectKind::Rejected, Some(""), "应收: 缺少必填值 · value is missing"),
            reject(RejectKind::Rejected, Some("n/a"), "应收: 'n/a' 不是有效的数字 · 'n/a' is not a number (e.g. 1,234.50 or 98.5%)"),
            reject(RejectKind::Duplicate, Some("x"), "与 a.csv 第 3 行完全重复 · exact duplicate of a.csv line 3"),
            reject(RejectKind::Duplicate, Some("y"), "与 a.csv 第 9 行完全重复 · exact duplicate of a.csv line 9"),
            reject(RejectKind::Rejected, Some("1.5"), "应收: '1.5' 不是整数 · '1.5' is not a whole number"),
            reject(RejectKind::Rejected, Some("--"), "应收: '--' 不是有效的数字 · '--' is not a number (e.g. 1,234.50 or 98.5%)"),
            reject(RejectKind::Dropped, Some("合计"), "删除规则：序号 以 '合计' 开头 · drop rule: 序号 starts with '合计'"),
        ];
        let groups = reason_groups(&rejects);
        assert_eq!(
            groups[0],
            ReasonGroup {
                kind: RejectKind::Rejected,
                reason: "应收: '…' 不是有效的数字 · '…' is not a number (e.g. 1,234.50 or 98.5%)".into(),
                example: Some("--".into()),
                at: "fee.csv:7".into(),
                column: Some("billed".into()),
                rows: 3
            }
        );
        assert_eq!((groups[1].reason.as_str(), groups[1].rows), ("完全重复的行 · exact duplicate rows", 2));
        assert_eq!(groups.iter().map(|g| g.rows).sum::<usize>(), rejects.len());
        assert_eq!(groups.len(), 5);
        let dropped = groups.iter().find(|g| g.reason.starts_with("删除规则")).unwrap();
        assert_eq!(dropped.reason, "删除规则：序号 以 '合计' 开头 · drop rule: 序号 starts with '合计'");
        let missing = groups.iter().find(|g| g.reason.contains("missing")).unwrap();
        assert_eq!(missing.example, None);
    }
}
