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

/// A file beside a source's exports that no source of the pipeline reads: a month exported
/// under a name the pattern misses (`线损_12月份.csv`), a second copy (`…(1).csv`), a workbook
/// where CSV files were expected. Listed by `check` and `run` and in the manifest, never read.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub(crate) struct UnreadFile {
    pub path: String,
    /// The source whose folder holds it.
    pub beside: String,
}

/// Extensions of files that look like exports (compared without case).
const EXPORT_EXTENSIONS: [&str; 7] = ["csv", "tsv", "txt", "xlsx", "xlsm", "xls", "et"];

/// Files that look like exports in the folders the sources' patterns search (down to the
/// patterns' depth, any depth below a `**`), matched by no source's pattern. Hidden files,
/// office lock files (`~$…`) and the output folder are left out.
pub(crate) fn unread_files(plan: &Plan) -> Result<Vec<UnreadFile>, IngestError> {
    let key = |p: &Path| std::fs::canonicalize(p).unwrap_or_else(|_| p.to_path_buf());
    let mut read = std::collections::HashSet::new();
    for source in &plan.sources {
        read.extend(source_files(source)?.iter().map(|f| key(f)));
    }
    let output = key(&plan.output_dir);
    let (mut seen, mut unread) = (std::collections::HashSet::new(), Vec::new());
    // A file is named beside a source whose pattern has a wildcard before one that names a
    // single file.
    let mut sources: Vec<&SourcePlan> = plan.sources.iter().collect();
    sources.sort_by_key(|s| !s.pattern.contains(['*', '?', '[']));
    for source in sources {
        let (base, depth) = search_root(&source.pattern);
        let mut found = Vec::new();
        list_files(&base, depth, &mut std::collections::HashSet::new(), &mut found);
        found.sort();
        for file in found {
            let canonical = key(&file);
            if read.contains(&canonical) || canonical.starts_with(&output) || !seen.insert(canonical) {
                continue;
            }
            unread.push(UnreadFile { path: file.to_string_lossy().replace('\\', "/"), beside: source.name.clone() });
        }
    }
    Ok(unread)
}

/// The folder a pattern searches (its components before the first wildcard) and how many
/// levels below it a file may sit (None: any, below a `**`). A literal path searches its folder.
fn search_root(pattern: &str) -> (PathBuf, Option<usize>) {
    let parts: Vec<&str> = pattern.split('/').collect();
    let wild = |p: &str| p.contains(['*', '?', '[']);
    let fixed = parts.iter().position(|p| wild(p)).unwrap_or(parts.len() - 1);
    let base = match parts[..fixed].join("/") {
        joined if joined.is_empty() && pattern.starts_with('/') => PathBuf::from("/"),
        joined if joined.is_empty() => PathBuf::from("."),
        joined => PathBuf::from(joined),
    };
    let rest = &parts[fixed..];
    let depth = if rest.contains(&"**") { None } else { Some(rest.len()) };
    (base, depth)
}

/// Files below `dir`, `depth` levels down at most; a folder reached twice (through a link) is
/// listed once.
fn list_files(dir: &Path, depth: Option<usize>, visited: &mut std::collections::HashSet<PathBuf>, found: &mut Vec<PathBuf>) {
    if depth == Some(0) || !visited.insert(std::fs::canonicalize(dir).unwrap_or_else(|_| dir.to_path_buf())) {
        return;
    }
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with('.') || name.starts_with("~$") {
            continue;
        }
        let path = dir.join(&name);
        let Ok(kind) = entry.file_type() else { continue };
        if kind.is_dir() || (kind.is_symlink() && path.is_dir()) {
            list_files(&path, depth.map(|d| d - 1), visited, found);
        } else if depth.is_none_or(|d| d == 1) {
            let extension = path.extension().map(|e| e.to_string_lossy().to_lowercase()).unwrap_or_default();
            if EXPORT_EXTENSIONS.contains(&extension.as_str()) {
                found.push(path);
            }
        }
    }
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
            match super::read::open_unhashed(source, file) {
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
    fn a_pattern_searches_its_folder_to_its_depth() {
        assert_eq!(search_root("../data/线损/*.csv"), (PathBuf::from("../data/线损"), Some(1)));
        assert_eq!(search_root("../data/fee/*/*.csv"), (PathBuf::from("../data/fee"), Some(2)));
        assert_eq!(search_root("../data/**/*.xlsx"), (PathBuf::from("../data"), None));
        assert_eq!(search_root("../data/master/台账.csv"), (PathBuf::from("../data/master"), Some(1)));
        assert_eq!(search_root("*.csv"), (PathBuf::from("."), Some(1)));
        assert_eq!(search_root("/srv/x/*.csv"), (PathBuf::from("/srv/x"), Some(1)));
    }

    #[test]
    fn a_link_back_to_a_parent_folder_is_listed_once() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("exports");
        std::fs::create_dir_all(dir.join("sub")).unwrap();
        std::fs::write(dir.join("sub/a.csv"), "x").unwrap();
        std::os::unix::fs::symlink(&dir, dir.join("sub/loop")).unwrap();
        let mut found = Vec::new();
        list_files(&dir, None, &mut std::collections::HashSet::new(), &mut found);
        assert_eq!(found, vec![dir.join("sub/a.csv")]);
    }

    #[test]
    fn column_letters_follow_spreadsheets() {
        assert_eq!(column_letters(1), "A");
        assert_eq!(column_letters(5), "E");
        assert_eq!(column_letters(26), "Z");
        assert_eq!(column_letters(27), "AA");
        assert_eq!(column_letters(703), "AAA");
    }
}
