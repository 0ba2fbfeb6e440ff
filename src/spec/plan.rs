//! The checked, immutable plan of a run, compiled from a pipeline file. Every later stage reads
//! only this: paths are resolved, types and checks are known, references are valid.

use crate::base::vocab::{Vocabulary, Word};

use std::ops::Range;
use std::path::PathBuf;

/// A compiled pipeline.
#[derive(Debug, Clone)]
pub(crate) struct Plan {
    pub name: String,
    pub title: String,
    /// The pipeline file and the sha256 of its text.
    pub spec_path: PathBuf,
    pub spec_sha256: String,
    /// The text of the pipeline file, to locate errors found after compilation (preflight).
    pub spec_text: String,
    /// Length of one panel period (month, quarter or year): partitions, grid and lags follow it.
    pub grain: crate::base::period::Grain,
    /// Minutes east of UTC of the exports' local times.
    pub utc_offset_minutes: i32,
    /// Plausible dates of dated values (local days since 1970-01-01, both included).
    pub date_window: DateWindow,
    pub sources: Vec<SourcePlan>,
    /// Index into `sources` of the station master, and of the alias table.
    pub stations: usize,
    pub aliases: Option<usize>,
    pub output_dir: PathBuf,
    /// Span of `[output] dir` in the pipeline file (for errors found after compiling).
    pub output_span: Option<Range<usize>>,
    pub identity: Identity,
    pub attributes: Vec<Attribute>,
    pub indicators: Vec<Measure>,
    pub features: Vec<Measure>,
    /// Feature lags in periods (0 = same period).
    pub lags: Vec<i64>,
    pub analysis: Analysis,
}

/// The days a dated value may fall on; rows with a month, quarter, date or timestamp outside
/// are rejected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct DateWindow {
    /// First day, days since 1970-01-01.
    pub from: i32,
    /// Last day (included).
    pub to: i32,
}

/// Which correlations to compute.
#[derive(Debug, Clone)]
pub(crate) struct Analysis {
    pub methods: Vec<crate::stats::Method>,
    pub scopes: Vec<crate::stats::Scope>,
    pub controls: Vec<String>,
    pub adjust: crate::stats::Adjust,
    /// true: one correction over the whole table; false: per scope × method × controls.
    pub family_all: bool,
    pub confidence: f64,
    pub bootstrap: Option<crate::stats::BootstrapOptions>,
    pub min_observations: usize,
}

/// Normalisation rules for station spellings.
#[derive(Debug, Clone, Default)]
pub struct Identity {
    pub strip_prefixes: Vec<String>,
    pub strip_suffixes: Vec<String>,
    pub county_column: Option<String>,
    pub county_short_names: Vec<String>,
    pub township_words: Vec<String>,
    pub unit_word: Option<String>,
    /// Prefixes of company names (国网), stripped from spellings and county names.
    pub company_prefixes: Vec<String>,
    /// Words that end a company name (供电公司): a leading part ending in one is a wrapper.
    pub company_words: Vec<String>,
    /// Ethnic names dropped with 自治县 to make a county's short forms.
    pub ethnic_names: Vec<String>,
}

impl Identity {
    /// Default company prefixes, as State Grid names its units.
    pub(crate) const COMPANY_PREFIXES: [&'static str; 2] = ["国网", "国家电网"];
    /// Default words that end a company name.
    pub(crate) const COMPANY_WORDS: [&'static str; 3] = ["供电公司", "供电分公司", "公司"];
    /// Default ethnic names of autonomous counties.
    pub(crate) const ETHNIC_NAMES: [&'static str; 7] = ["蒙古", "哈萨克", "回族", "锡伯", "塔吉克", "柯尔克孜", "维吾尔"];
}

/// A station attribute computed from the station master.
#[derive(Debug, Clone)]
pub(crate) struct Attribute {
    pub name: String,
    pub label: String,
    pub formula: String,
}

/// Which way an indicator is better.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Better {
    Higher,
    Lower,
}

impl Vocabulary for Better {
    const WORDS: &'static [Word<Better>] = &[
        Word { value: Better::Higher, name: "higher", zh: "越高越好", en: "higher is better" },
        Word { value: Better::Lower, name: "lower", zh: "越低越好", en: "lower is better" },
    ];
}
crate::serialize_by_name!(Better);

/// An indicator or a feature: a SQL aggregate of a source per station and period.
#[derive(Debug, Clone)]
pub(crate) struct Measure {
    pub name: String,
    pub label: String,
    pub label_en: String,
    /// Some for indicators.
    pub better: Option<Better>,
    /// Index into `Plan::sources`.
    pub source: usize,
    pub formula: String,
    pub filter: Option<String>,
    /// (group-by columns, [(new column, SQL aggregate)]).
    pub pre_aggregate: Option<(Vec<String>, Vec<(String, String)>)>,
    /// (start column, end column).
    pub interval: Option<(String, String)>,
    pub fill: Option<f64>,
}

/// File format of a source.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Csv,
    Xlsx,
}

/// Text encoding of a CSV source.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    Utf8,
    Utf8Bom,
    Gbk,
    Gb18030,
    Auto,
}

impl Encoding {
    pub fn parse(name: &str) -> Option<Encoding> {
        match name.to_ascii_lowercase().replace('_', "-").as_str() {
            "utf-8" | "utf8" => Some(Encoding::Utf8),
            "utf-8-bom" | "utf8-bom" | "utf-8-sig" => Some(Encoding::Utf8Bom),
            "gbk" | "cp936" => Some(Encoding::Gbk),
            "gb18030" => Some(Encoding::Gb18030),
            "auto" => Some(Encoding::Auto),
            _ => None,
        }
    }
}

/// What a value column holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ColumnType {
    Text,
    Integer,
    Number,
    Month,
    Quarter,
    Date,
    Timestamp,
}

impl ColumnType {
    pub fn parse(name: &str) -> Option<ColumnType> {
        Some(match name {
            "text" => ColumnType::Text,
            "integer" => ColumnType::Integer,
            "number" => ColumnType::Number,
            "month" => ColumnType::Month,
            "quarter" => ColumnType::Quarter,
            "date" => ColumnType::Date,
            "timestamp" => ColumnType::Timestamp,
            _ => return None,
        })
    }

    /// Whether a column of this type can date a row.
    pub(crate) fn is_temporal(self) -> bool {
        matches!(self, ColumnType::Month | ColumnType::Quarter | ColumnType::Date | ColumnType::Timestamp)
    }
}

/// What a source's station column holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum StationKey {
    Code,
    Name,
    Branch,
}

/// One export source.
#[derive(Debug, Clone)]
pub(crate) struct SourcePlan {
    pub name: String,
    pub title: String,
    /// Absolute glob pattern, and its span in the pipeline file (for errors).
    pub pattern: String,
    pub pattern_span: Option<Range<usize>>,
    pub format: Format,
    pub encoding: Encoding,
    pub sheets: Option<Vec<String>>,
    /// Zero-based index of the header line / row.
    pub header_row: usize,
    pub drop_rows: Vec<DropRule>,
    pub columns: Vec<ColumnPlan>,
    pub station: Option<(String, StationKey)>,
    /// Canonical column that dates a row; None for reference tables.
    pub period: Option<String>,
    pub checks: Vec<CheckPlan>,
    pub max_reject_share: f64,
    /// Largest share of the source's curated rows that may match no station.
    pub max_unmatched_share: f64,
    /// What counts as a duplicate row.
    pub duplicates: DuplicatePolicy,
}

/// A source's duplicate policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum DuplicatePolicy {
    /// Rows identical in every cell are one row (the first kept).
    Exact,
    /// Identical rows are distinct events; nothing is removed.
    Keep,
    /// Rows sharing these columns' values are one record: identical copies are duplicates,
    /// differing ones are conflicting (all quarantined).
    Key(Vec<String>),
}

impl DuplicatePolicy {
    /// How the manifest and quarantine name it: "exact", "keep", "key(order_id)".
    pub fn label(&self) -> String {
        match self {
            DuplicatePolicy::Exact => "exact".into(),
            DuplicatePolicy::Keep => "keep".into(),
            DuplicatePolicy::Key(columns) => format!("key({})", columns.join(", ")),
        }
    }
}

#[derive(Debug, Clone)]
pub(crate) struct DropRule {
    pub header: String,
    pub header_span: Option<Range<usize>>,
    pub starts_with: Vec<String>,
}

/// One canonical column: the headers it may come from (each with a scale) and how to parse it.
#[derive(Debug, Clone)]
pub(crate) struct ColumnPlan {
    pub name: String,
    pub headers: Vec<(String, f64)>,
    pub header_span: Option<Range<usize>>,
    pub kind: ColumnType,
    pub format: Option<String>,
    pub required: bool,
    pub not_null: bool,
    /// Where the value comes from when not from one header's cell.
    pub derived: Option<Derived>,
}

/// Text of the file a value can be taken from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PathText {
    FileName,
    FolderName,
    TitleLine,
    SheetName,
}

impl PathText {
    pub fn parse(name: &str) -> Option<PathText> {
        Some(match name {
            "file_name" => PathText::FileName,
            "folder_name" => PathText::FolderName,
            "title_line" => PathText::TitleLine,
            "sheet_name" => PathText::SheetName,
            _ => return None,
        })
    }
}

/// A part of a calendar value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum DatePart {
    Year,
    Month,
    Quarter,
    Day,
}

impl DatePart {
    pub(crate) const ALL: [DatePart; 4] = [DatePart::Year, DatePart::Month, DatePart::Quarter, DatePart::Day];

    pub fn name(self) -> &'static str {
        match self {
            DatePart::Year => "year",
            DatePart::Month => "month",
            DatePart::Quarter => "quarter",
            DatePart::Day => "day",
        }
    }
}

/// A column value not read from one cell.
#[derive(Debug, Clone)]
pub(crate) enum Derived {
    /// Named parts of `pattern` found in the file's name, folder, title line or sheet name; parts
    /// it does not capture come from cells (part, header).
    Path { from: PathText, pattern: regex::Regex, cells: Vec<(DatePart, String)> },
    /// A timestamp from a date column and a time-of-day column.
    DateTime { date: String, time: String },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Severity {
    Reject,
    Warn,
}

#[derive(Debug, Clone)]
pub(crate) struct CheckPlan {
    pub rule: String,
    pub severity: Severity,
    pub message: String,
}

impl SourcePlan {
    pub fn column(&self, name: &str) -> Option<&ColumnPlan> {
        self.columns.iter().find(|c| c.name == name)
    }
}
