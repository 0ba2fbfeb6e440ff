//! What the terminal says when a run fails its data checks: for each source over its allowed
//! reject share, the share, then its most frequent reasons with their counts and one example
//! each — file:line:column, the value, the reason — so the analyst can fix the export or the
//! pipeline without opening the quarantine first. The full list is in quality/rejects.parquet
//! of the failed run's folder.

use std::path::Path;

use crate::ingest::{Reject, RejectKind};
use crate::output::manifest::SourceManifest;
use crate::spec::plan::{Format, SourcePlan};

/// Reasons listed per failing source.
pub(crate) const TOP_REASONS: usize = 3;

/// One reason of a source's rejects: how many rows, and the first of them.
#[derive(Debug)]
pub(crate) struct Reason<'a> {
    /// The column whose value did not parse, or the check that failed.
    pub what: String,
    pub rows: usize,
    pub example: &'a Reject,
}

/// A source's rejected rows (not dropped, not duplicates) grouped by column or failed check,
/// most frequent first; each with its first row (by file and line) as the example.
pub fn reasons<'a>(source: &SourcePlan, rejects: impl IntoIterator<Item = &'a Reject>) -> Vec<Reason<'a>> {
    let mut out: Vec<Reason> = Vec::new();
    for r in rejects.into_iter().filter(|r| r.kind == RejectKind::Rejected) {
        let what = match &r.column {
            Some(name) => match source.column(name) {
                Some(c) => format!("column {name} ({})", c.headers[0].0),
                None => format!("column {name}"),
            },
            None => format!("check '{}'", r.reason),
        };
        match out.iter_mut().find(|g| g.what == what) {
            Some(g) => {
                g.rows += 1;
                if (&r.file, r.row) < (&g.example.file, g.example.row) {
                    g.example = r;
                }
            }
            None => out.push(Reason { what, rows: 1, example: r }),
        }
    }
    out.sort_by(|a, b| b.rows.cmp(&a.rows).then_with(|| (&a.example.file, a.example.row).cmp(&(&b.example.file, b.example.row))));
    out
}

/// The lines of one failing source: its share, then up to `TOP_REASONS` reasons with an example.
pub(crate) fn failing_source(manifest: &SourceManifest, source: &SourcePlan, rejects: &[Reject]) -> Vec<String> {
    let mut lines = vec![format!(
        "{}: {:.1}% of {} rows rejected (allowed {:.1}%)",
        manifest.name,
        manifest.reject_share * 100.0,
        manifest.counts.rows_read,
        manifest.max_reject_share * 100.0
    )];
    let reasons = reasons(source, rejects);
    for reason in reasons.iter().take(TOP_REASONS) {
        let e = reason.example;
        let example = match (&e.column, e.value.as_deref()) {
            // A value that did not parse: the value, and why (without the header, named above).
            (Some(_), value) => {
                let headers = e.column.as_deref().and_then(|c| source.column(c)).map(|c| c.headers.as_slice()).unwrap_or_default();
                let why = headers.iter().find_map(|(h, _)| e.reason.strip_prefix(h.as_str()).and_then(|r| r.strip_prefix(": "))).unwrap_or(&e.reason);
                format!("value '{}': {why}", shorten(value.unwrap_or(""), 80))
            }
            // A failed check: the values it read.
            (None, Some(values)) => format!("({})", shorten(values, 120)),
            (None, None) => String::new(),
        };
        lines.push(format!("  {} × {}; e.g. {} {example}", reason.rows, reason.what, location(source, e)).trim_end().to_string());
    }
    if reasons.len() > TOP_REASONS {
        let rest: usize = reasons[TOP_REASONS..].iter().map(|r| r.rows).sum();
        lines.push(format!("  {rest} × {} other reason(s)", reasons.len() - TOP_REASONS));
    }
    lines
}

/// Where a reject is: `file:line:column` (column counted from 1) for a CSV value, `file:line`
/// for a CSV row, `file, sheet S, row N` in a workbook.
fn location(source: &SourcePlan, reject: &Reject) -> String {
    if let Some(sheet) = &reject.sheet {
        return format!("{}, sheet {sheet}, row {}", reject.file, reject.row);
    }
    match field_number(source, reject) {
        Some(n) => format!("{}:{}:{n}", reject.file, reject.row),
        None => format!("{}:{}", reject.file, reject.row),
    }
}

/// The position (from 1) of a rejected value's field in its CSV line, from the file's header.
fn field_number(source: &SourcePlan, reject: &Reject) -> Option<usize> {
    if source.format != Format::Csv {
        return None;
    }
    let column = source.column(reject.column.as_deref()?)?;
    let headers = crate::ingest::read::headers(source, Path::new(&reject.file)).ok()?;
    let headers = headers.first()?;
    column.headers.iter().find_map(|(h, _)| headers.iter().position(|x| x == h)).map(|i| i + 1)
}

fn shorten(text: &str, max: usize) -> String {
    if text.chars().count() <= max { text.to_string() } else { format!("{}…", text.chars().take(max).collect::<String>()) }
}
