//! Why ingest failed, as a type: each variant carries the located facts (file, sheet, line,
//! column, what was expected) and keeps the underlying error: an I/O error as its `source`, so
//! `{:#}` shows it under the message; a workbook, polars or Parquet error (whose own text
//! already includes its causes) as a field shown at the end of the message. A value that does not parse is not an error
//! here: it is a reject with its reason (`parse::ParseError`) in quarantine.

use std::path::PathBuf;

use crate::store::error::StoreError;

use super::SourceCounts;
use super::parse::ParseError;

#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    /// A source's path is not a glob.
    #[error("path '{pattern}' is not a valid glob")]
    Glob {
        pattern: String,
        #[source]
        source: glob::PatternError,
    },
    /// An export (or a run file of the duplicate check) cannot be opened or read.
    #[error("cannot read {}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{} is empty (0 bytes)", path.display())]
    Empty { path: PathBuf },
    /// The file's bytes differ between the pass that took its sha256 and the reading of its rows
    /// (`ingest::ahead`).
    #[error(
        "{} 在读取期间被改动（先读到 {first} 字节，后读到 {then} 字节{}）· {} changed while it was read ({first} bytes for its sha256, then {then} bytes{}): is it still being written or copied? Run again once the file is complete",
        path.display(), if first == then { "，内容不同" } else { "" }, path.display(), if first == then { " with other content" } else { "" }
    )]
    ChangedWhileRead { path: PathBuf, first: u64, then: u64 },
    #[error("{} starts with a UTF-8 byte-order mark, so it is UTF-8, not GBK: set encoding = \"utf-8-bom\"", path.display())]
    BomNotGbk { path: PathBuf },
    /// The file ends before the header line.
    #[error("{} has {lines} line(s); the header is expected on line {header_line}", path.display())]
    NoHeaderLine { path: PathBuf, lines: u64, header_line: usize },
    #[error("{}: line {header_line} is blank, but the header is expected there (header_row = {header_line})", path.display())]
    BlankHeader { path: PathBuf, header_line: usize },
    #[error("{}: the header (line {header_line}) opens a quote in field {field} that does not close within {max_lines} lines", path.display())]
    HeaderQuote { path: PathBuf, header_line: usize, field: usize, max_lines: u32 },
    #[error(
        "{} 是 UTF-16 编码（{form}）· is UTF-16 text ({form}); duibiao reads UTF-8, UTF-8 with BOM, GBK and GB18030: save the export as UTF-8 (Excel: 另存为 \"CSV UTF-8\") and run again",
        path.display()
    )]
    Utf16 { path: PathBuf, form: &'static str },
    /// Stated UTF-8, but a byte is not; `at` says where in the file or the line, `looks_gbk`
    /// whether the bytes read as GBK.
    #[error("{} is not valid UTF-8 at line {line}{at}{}", path.display(), if *looks_gbk { "; the bytes read as GBK/GB18030: set encoding = \"gbk\"" } else { "" })]
    NotUtf8 { path: PathBuf, line: u64, at: ByteAt, looks_gbk: bool },
    #[error("{} is valid UTF-8 with Chinese text, not GBK: set encoding = \"utf-8\"", path.display())]
    Utf8NotGbk { path: PathBuf },
    #[error("{} is not valid GBK/GB18030 at line {line}", path.display())]
    NotGbk { path: PathBuf, line: u64 },
    /// Encoding auto: the file reads as UTF-8 with Chinese text but one line does not.
    #[error(
        "{} 第 {line} 行不是 UTF-8（该文件其余部分是 UTF-8）· {}:{line}: line {line} is not UTF-8 while the file is (e.g. a line saved as GBK); fix that line, or state the encoding",
        path.display(), path.display()
    )]
    Utf8LineDamaged { path: PathBuf, line: u64 },
    #[error("{} is neither UTF-8 nor GBK/GB18030 (line {line} onwards); state its encoding", path.display())]
    NeitherUtf8NorGbk { path: PathBuf, line: u64 },
    /// The block cutter and the parser disagree on record boundaries (a defect, not bad input).
    #[error("{}: the records from line {line} were cut differently from how they parse", path.display())]
    Recut { path: PathBuf, line: u64 },
    /// A block's lines are not its records' and blank lines (a defect, not bad input).
    #[error("the block from line {line} holds {lines} lines but its records and blank lines span {spanned}")]
    BlockLines { line: u64, lines: u64, spanned: u64 },
    #[error("cannot open {} as a workbook: {error}", path.display())]
    Workbook { path: PathBuf, error: calamine::Error },
    #[error("sheet '{sheet}' is not in {}; sheets there: {}", path.display(), available.join(", "))]
    NoSheet { path: PathBuf, sheet: String, available: Vec<String> },
    #[error("{} sheet '{sheet}': {error}", path.display())]
    Sheet { path: PathBuf, sheet: String, error: calamine::Error },
    #[error("{} sheet '{sheet}' has no row {header_line}, where the header is expected", path.display())]
    SheetTooShort { path: PathBuf, sheet: String, header_line: usize },
    /// A required column's header is not in a table.
    #[error("{file}{}: column '{column}' (header '{header}') is missing; headers there: {}", sheet_text(sheet), headers.join(", "))]
    MissingColumn { file: String, sheet: Option<String>, column: String, header: String, headers: Vec<String> },
    /// A derived column reads a cell under a header the table does not have.
    #[error("{}{}: column '{column}' needs the header '{header}', which is not there; headers there: {}", file.display(), sheet_text(sheet), headers.join(", "))]
    DerivedHeader { file: PathBuf, sheet: Option<String>, column: String, header: String, headers: Vec<String> },
    /// The text a derived column takes its period from does not fit its pattern.
    #[error(
        "{}{}: {from} '{text}' does not fit the pattern '{pattern}' of column '{column}' ({why}); rename the file or change the pattern",
        file.display(), sheet_text(sheet)
    )]
    PatternMismatch { file: PathBuf, sheet: Option<String>, from: &'static str, text: String, pattern: String, column: String, why: ParseError },
    #[error("{} has no file name", file.display())]
    NoFileName { file: PathBuf },
    #[error("{} has no folder name", file.display())]
    NoFolderName { file: PathBuf },
    #[error("{}{}: from = \"title_line\" needs a title line above the header; set header_row to the header's line (2 or more)", file.display(), sheet_text(sheet))]
    NoTitleLine { file: PathBuf, sheet: Option<String> },
    #[error("{} is not a workbook: from = \"sheet_name\" applies to XLSX sheets", file.display())]
    NotWorkbook { file: PathBuf },
    /// A check's rule is not an expression polars reads.
    #[error("check '{rule}': {error}")]
    CheckRule { rule: String, error: polars::error::PolarsError },
    /// polars cannot evaluate a source's checks on a block (`rule` None: building the frame).
    #[error("source '{source_name}'{}: {error}", rule.as_ref().map(|r| format!(", check '{r}'")).unwrap_or_default())]
    CheckFailed { source_name: String, rule: Option<String>, error: polars::error::PolarsError },
    #[error("source '{source_name}': check '{rule}' does not give true/false")]
    CheckNotBoolean { source_name: String, rule: String },
    /// A duplicate check's run file cannot be created.
    #[error("cannot create {}", path.display())]
    Create {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// A duplicate check's run file cannot be written or read past its start.
    #[error("{}", path.display())]
    RunFile {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// A partition file cannot be rewritten without its duplicate rows.
    #[error("{}: {error}", path.display())]
    Rewrite { path: PathBuf, error: RewriteCause },
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("source '{source_name}': the merge of parsed rows failed")]
    MergePanicked { source_name: String },
    /// Rows held back for the duplicate check cannot be split or joined (a defect).
    #[error("source '{source_name}': rows held back for the duplicate check: {error}")]
    HeldBack { source_name: String, error: arrow::error::ArrowError },
    #[error("source '{source_name}': the merge stopped")]
    MergeStopped { source_name: String },
    /// Rows read do not equal the rows accounted for (a defect, not bad input).
    #[error("source '{source_name}': row accounting does not add up: {counts:?}")]
    RowAccounting { source_name: String, counts: SourceCounts },
    /// A file's physical lines do not equal the lines accounted for (a defect, not bad input).
    #[error("{file}: line accounting does not add up: {physical} physical lines, but {title} title + {header} header + {blank} blank + {records} in records")]
    LineAccounting { file: String, physical: u64, title: u64, header: u64, blank: u64, records: u64 },
}

/// Where in the file or the line a byte is not UTF-8.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ByteAt {
    /// Byte offset in the file (1-based after a byte-order mark's bytes are counted).
    File(usize),
    /// Byte position in its line, 1-based.
    Line(usize),
}

impl std::fmt::Display for ByteAt {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ByteAt::File(byte) => write!(f, " (byte {byte})"),
            ByteAt::Line(byte) => write!(f, " (byte {byte} of the line)"),
        }
    }
}

/// What stopped a partition file's rewrite.
#[derive(Debug, thiserror::Error)]
pub(crate) enum RewriteCause {
    #[error(transparent)]
    Io(#[from] std::io::Error),
    #[error(transparent)]
    Parquet(#[from] parquet::errors::ParquetError),
    #[error(transparent)]
    Arrow(#[from] arrow::error::ArrowError),
}

/// " sheet 'name'" after a file name, or nothing for a CSV.
fn sheet_text(sheet: &Option<String>) -> String {
    sheet.as_ref().map(|s| format!(" sheet '{s}'")).unwrap_or_default()
}
