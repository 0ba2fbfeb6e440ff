//! Preflight: checks a compiled plan against the real exports before anything is ingested:
//! every glob matches, every file decodes with its encoding and has the declared headers. The
//! problems are spec errors located in the pipeline file, with the closest header suggested.
//! The output folder is checked again here with symbolic links resolved (`spec::output_dir`).

use std::path::{Path, PathBuf};

use super::IngestError;
use crate::base::error_chain;
use crate::base::text::closest;
use crate::spec::plan::{Plan, SourcePlan};
use crate::spec::{SpecError, SpecErrors};

fn err(errors: &mut Vec<SpecError>, span: Option<std::ops::Range<usize>>, message: impl Into<String>) {
    errors.push(SpecError { span, message: message.into() });
}

/// Checks a compiled plan against the real files; every problem located in the pipeline file.
pub fn check(plan: &Plan) -> Result<(), SpecErrors> {
    let errors = against_files(plan);
    if errors.is_empty() {
        return Ok(());
    }
    Err(SpecErrors { path: plan.spec_path.clone(), text: plan.spec_text.clone(), errors })
}

/// The files a source's glob matches, sorted (so runs read them in a stable order).
pub(crate) fn source_files(source: &SourcePlan) -> Result<Vec<PathBuf>, IngestError> {
    let paths = glob::glob(&source.pattern).map_err(|e| IngestError::Glob { pattern: source.pattern.clone(), source: e })?;
    let mut files: Vec<PathBuf> = paths.filter_map(Result::ok).filter(|p| p.is_file()).collect();
    files.sort();
    Ok(files)
}

/// Checks a compiled plan against the real files: every glob matches, every file decodes with
/// its encoding and has the declared headers. Returns spec errors located in the pipeline file.
pub(crate) fn against_files(plan: &Plan) -> Vec<SpecError> {
    let mut errors = crate::spec::output_dir::check_resolved(plan);
    for source in &plan.sources {
        let files = match source_files(source) {
            Ok(files) => files,
            Err(e) => {
                err(&mut errors, source.pattern_span.clone(), error_chain(&e));
                continue;
            }
        };
        if files.is_empty() {
            err(&mut errors, source.pattern_span.clone(), format!("source '{}': no file matches '{}'", source.name, source.pattern));
            continue;
        }
        let mut missing: Vec<Missing> = Vec::new();
        let mut doubled: Vec<DoubledHeader> = Vec::new();
        let mut unfit: Vec<(usize, String, usize)> = Vec::new();
        for file in &files {
            match super::read::open(source, file) {
                Ok(reader) => {
                    let texts: Vec<(Option<String>, Option<String>, Vec<String>)> = reader.tables.into_iter().map(|t| (t.sheet, t.title, t.headers)).collect();
                    let tables: Vec<(Option<String>, Vec<String>)> = texts.iter().map(|(s, _, h)| (s.clone(), h.clone())).collect();
                    let found: Vec<Vec<String>> = tables.iter().map(|(_, h)| h.clone()).collect();
                    collect_missing(source, file, &found, &mut missing);
                    collect_doubled(source, file, &tables, &mut doubled);
                    collect_unfit(source, file, &texts, &mut unfit);
                }
                Err(e) => err(&mut errors, source.pattern_span.clone(), format!("source '{}': {}", source.name, error_chain(&e))),
            }
        }
        report_doubled(source, doubled, &mut errors);
        for (column, message, more) in unfit {
            let others = if more > 0 { format!(" (and {more} more file(s) or sheet(s))") } else { String::new() };
            err(&mut errors, source.columns[column].header_span.clone(), format!("source '{}': {message}{others}", source.name));
        }
        for m in missing {
            let others = if m.files > 1 { format!(" (and {} more file(s))", m.files - 1) } else { String::new() };
            let hint = closest(&m.wanted[0], m.headers.iter().map(String::as_str)).map(|c| format!(" Did you mean '{c}'?")).unwrap_or_default();
            err(
                &mut errors,
                m.span,
                format!(
                    "source '{}', {}: header '{}' is not in {}{others}, line {}.{hint} Headers there: {}",
                    source.name,
                    m.what,
                    m.wanted.join("' or '"),
                    m.first_file.display(),
                    source.header_row + 1,
                    m.headers.join(", ")
                ),
            );
        }
    }
    errors
}

/// Files (or sheets) where a derived column cannot be made: a name or title that does not fit
/// its pattern, a missing title line or cell header. One message per column, with a count.
fn collect_unfit(source: &SourcePlan, file: &Path, tables: &[(Option<String>, Option<String>, Vec<String>)], unfit: &mut Vec<(usize, String, usize)>) {
    for (sheet, title, headers) in tables {
        let text = super::derive::TableText { file, sheet: sheet.as_deref(), title: title.as_deref() };
        for (i, column) in source.columns.iter().enumerate() {
            if let Err(message) = super::derive::locate(column, &text, headers) {
                match unfit.iter_mut().find(|u| u.0 == i) {
                    Some(u) => u.2 += 1,
                    None => unfit.push((i, error_chain(&message), 0)),
                }
            }
        }
    }
}

/// A header missing from one or more files of a source (reported once, with the first file).
struct Missing {
    what: String,
    wanted: Vec<String>,
    span: Option<std::ops::Range<usize>>,
    first_file: PathBuf,
    headers: Vec<String>,
    files: usize,
}

fn collect_missing(source: &SourcePlan, file: &Path, found: &[Vec<String>], missing: &mut Vec<Missing>) {
    let mut note =
        |what: String, wanted: Vec<String>, span: Option<std::ops::Range<usize>>, headers: &Vec<String>| match missing.iter_mut().find(|m| m.what == what) {
            Some(m) => m.files += 1,
            None => missing.push(Missing { what, wanted, span, first_file: file.to_path_buf(), headers: headers.clone(), files: 1 }),
        };
    // XLSX files give one header list per sheet; CSV one.
    for headers in found {
        for column in source.columns.iter().filter(|c| c.derived.is_none()) {
            let present = column.headers.iter().any(|(h, _)| headers.iter().any(|x| x == h));
            if !present && column.required {
                let wanted = column.headers.iter().map(|(h, _)| h.clone()).collect();
                note(format!("column '{}'", column.name), wanted, column.header_span.clone(), headers);
            }
        }
        for rule in &source.drop_rows {
            if !headers.iter().any(|h| h == &rule.header) {
                note(format!("drop_rows header '{}'", rule.header), vec![rule.header.clone()], rule.header_span.clone(), headers);
            }
        }
    }
}

/// A header a canonical column reads that an export carries in two or more columns: which one
/// is meant cannot be told (reported once, with the first file).
struct DoubledHeader {
    column: String,
    header: String,
    span: Option<std::ops::Range<usize>>,
    first_file: PathBuf,
    sheet: Option<String>,
    /// Positions (from 1) of the columns headed so.
    positions: Vec<usize>,
    files: usize,
}

fn collect_doubled(source: &SourcePlan, file: &Path, tables: &[(Option<String>, Vec<String>)], doubled: &mut Vec<DoubledHeader>) {
    for (sheet, headers) in tables {
        for column in &source.columns {
            for (header, _) in &column.headers {
                let positions: Vec<usize> = headers.iter().enumerate().filter(|(_, h)| *h == header).map(|(i, _)| i + 1).collect();
                if positions.len() < 2 {
                    continue;
                }
                match doubled.iter_mut().find(|d| d.column == column.name && &d.header == header) {
                    Some(d) => d.files += 1,
                    None => doubled.push(DoubledHeader {
                        column: column.name.clone(),
                        header: header.clone(),
                        span: column.header_span.clone(),
                        first_file: file.to_path_buf(),
                        sheet: sheet.clone(),
                        positions,
                        files: 1,
                    }),
                }
            }
        }
    }
}

/// Column letters as a spreadsheet shows them: 1 → A, 27 → AA.
fn column_letters(mut position: usize) -> String {
    let mut letters = Vec::new();
    while position > 0 {
        let digit = (position - 1) % 26;
        letters.push(b'A' + digit as u8);
        position = (position - 1) / 26;
    }
    letters.reverse();
    String::from_utf8(letters).unwrap_or_default()
}

fn report_doubled(source: &SourcePlan, doubled: Vec<DoubledHeader>, errors: &mut Vec<SpecError>) {
    for d in doubled {
        let others = if d.files > 1 { format!(" (and {} more file(s) or sheet(s))", d.files - 1) } else { String::new() };
        let sheet = d.sheet.as_ref().map(|s| format!(" sheet '{s}'")).unwrap_or_default();
        let positions: Vec<String> = d.positions.iter().map(|p| format!("{p} ({})", column_letters(*p))).collect();
        err(
            errors,
            d.span,
            format!(
                "表头重复，无法确定取哪一列 · source '{}', column '{}': header '{}' heads {} columns of {}{sheet}{others}, line {}: columns {}; which one is meant cannot be told — rename the other column in the export, or map the column by a header that is unique",
                source.name,
                d.column,
                d.header,
                d.positions.len(),
                d.first_file.display(),
                source.header_row + 1,
                positions.join(" and ")
            ),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn column_letters_follow_spreadsheets() {
        assert_eq!(column_letters(1), "A");
        assert_eq!(column_letters(5), "E");
        assert_eq!(column_letters(26), "Z");
        assert_eq!(column_letters(27), "AA");
        assert_eq!(column_letters(703), "AAA");
    }
}
