//! `duibiao check`: compile the pipeline, check it against the real files, parse the start of
//! the first file of each source, and say what would happen. Writes nothing.

use super::columns::left;
use crate::commands::cli::CheckArgs;
use crate::ingest::{self, Reject, RejectKind};
use crate::job;

/// Blocks (a few megabytes each) of the first file that `check` parses.
const SAMPLE_BLOCKS: usize = 4;

pub fn run(args: &CheckArgs) -> anyhow::Result<()> {
    let plan = job::prepare(&args.pipeline)?;
    println!("{}: 作业文件正确 · the pipeline compiles and matches its files", args.pipeline.display());
    for source in &plan.sources {
        let files = ingest::preflight::source_files(source).map_err(anyhow::Error::msg)?;
        let sample = ingest::ingest_source(&plan, source, &files[..1], None, ingest::Destination::Nowhere, Some(SAMPLE_BLOCKS)).map_err(anyhow::Error::msg)?;
        let c = &sample.counts;
        println!(
            "  {} {} file(s); sample {}: {} rows read, {} accepted, {} rejected, {} dropped, {} duplicates",
            left(&source.name, 18),
            files.len(),
            sample.files[0].path,
            c.rows_read,
            c.accepted,
            c.rejected,
            c.dropped,
            c.duplicates
        );
        for group in reason_groups(&sample.rejects).iter().take(3) {
            let example = group.example.as_ref().map(|v| format!("（例 e.g. '{v}'）")).unwrap_or_default();
            println!("      {} × {}{example}", group.rows, group.reason);
        }
    }
    Ok(())
}

/// Rejected rows that went wrong the same way, whatever their raw value.
#[derive(Debug, PartialEq)]
struct ReasonGroup {
    /// The reason with the raw value cut out ('…' in its place).
    reason: String,
    /// The raw value of the first row of the group.
    example: Option<String>,
    rows: usize,
}

/// Groups rejects by kind and reason with the raw value taken out of the reason ("'--' is not
/// a number" and "'n/a' is not a number" are one group), largest first. Duplicates each name
/// their first copy and are counted together; a drop rule's reason stays whole.
fn reason_groups(rejects: &[Reject]) -> Vec<ReasonGroup> {
    let mut groups: Vec<(RejectKind, ReasonGroup)> = Vec::new();
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
        match groups.iter_mut().find(|(kind, g)| *kind == r.kind && g.reason == reason) {
            Some((_, g)) => g.rows += 1,
            None => groups.push((r.kind, ReasonGroup { reason, example, rows: 1 })),
        }
    }
    let mut groups: Vec<ReasonGroup> = groups.into_iter().map(|(_, g)| g).collect();
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
                reason: "应收: '…' 不是有效的数字 · '…' is not a number (e.g. 1,234.50 or 98.5%)".into(),
                example: Some("--".into()),
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
