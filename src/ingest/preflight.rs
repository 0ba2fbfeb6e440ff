//! Preflight: checks a compiled plan against the real exports before anything is ingested:
//! every glob matches, every file decodes with its encoding and has the declared headers. The
//! problems are spec errors located in the pipeline file, with the closest header suggested.

use std::path::{Path, PathBuf};

use crate::base::text::closest;
use crate::spec::{SpecError, SpecErrors};
use crate::spec::plan::{Plan, SourcePlan};

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
pub fn source_files(source: &SourcePlan) -> Result<Vec<PathBuf>, String> {
    let paths = glob::glob(&source.pattern).map_err(|e| format!("path '{}' is not a valid glob: {e}", source.pattern))?;
    let mut files: Vec<PathBuf> = paths.filter_map(Result::ok).filter(|p| p.is_file()).collect();
    files.sort();
    Ok(files)
}

/// Checks a compiled plan against the real files: every glob matches, every file decodes with
/// its encoding and has the declared headers. Returns spec errors located in the pipeline file.
pub fn against_files(plan: &Plan) -> Vec<SpecError> {
    let mut errors = Vec::new();
    for source in &plan.sources {
        let files = match source_files(source) {
            Ok(files) => files,
            Err(message) => {
                err(&mut errors, source.pattern_span.clone(), message);
                continue;
            }
        };
        if files.is_empty() {
            err(&mut errors, source.pattern_span.clone(), format!("source '{}': no file matches '{}'", source.name, source.pattern));
            continue;
        }
        let mut missing: Vec<Missing> = Vec::new();
        let mut unfit: Vec<(usize, String, usize)> = Vec::new();
        for file in &files {
            match super::read::table_texts(source, file) {
                Ok(tables) => {
                    let found: Vec<Vec<String>> = tables.iter().map(|t| t.2.clone()).collect();
                    collect_missing(source, file, &found, &mut missing);
                    collect_unfit(source, file, &tables, &mut unfit);
                }
                Err(e) => err(&mut errors, source.pattern_span.clone(), format!("source '{}': {e}", source.name)),
            }
        }
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
                    None => unfit.push((i, message, 0)),
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
    let mut note = |what: String, wanted: Vec<String>, span: Option<std::ops::Range<usize>>, headers: &Vec<String>| {
        match missing.iter_mut().find(|m| m.what == what) {
            Some(m) => m.files += 1,
            None => missing.push(Missing { what, wanted, span, first_file: file.to_path_buf(), headers: headers.clone(), files: 1 }),
        }
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
