//! The pipeline file as written: raw serde types, one per TOML table, with unknown fields
//! rejected. Nothing here is trusted: `compile` checks every value and turns it into a `Plan`.
//! The doc comment on each field is the user's documentation of that key.

use std::collections::BTreeMap;

use serde::Deserialize;
use toml::Spanned;

/// A whole pipeline file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawPipeline {
    /// Job-wide settings.
    pub pipeline: RawJob,
    /// The exports to ingest, by name (ASCII snake_case; the name of the curated table).
    pub sources: BTreeMap<Spanned<String>, RawSource>,
    /// Where the run writes its outputs.
    pub output: RawOutput,
    /// How station spellings are normalised before matching.
    #[serde(default)]
    pub identity: RawIdentity,
    /// Station attributes (size, county …), SQL expressions over the station master's columns.
    #[serde(default)]
    pub attributes: BTreeMap<Spanned<String>, RawAttribute>,
    /// Benchmark indicators, aggregated to station × period.
    #[serde(default)]
    pub indicators: BTreeMap<Spanned<String>, RawMeasure>,
    /// Party-activity features, aggregated to station × period.
    #[serde(default)]
    pub features: BTreeMap<Spanned<String>, RawMeasure>,
    /// Panel settings.
    #[serde(default)]
    pub panel: RawPanel,
    /// What to correlate and how.
    #[serde(default)]
    pub analysis: RawAnalysis,
}

/// `[analysis]`: the correlation table.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawAnalysis {
    /// "pearson", "spearman", "kendall" (default: pearson and spearman).
    pub methods: Option<Vec<Spanned<String>>>,
    /// "pooled", "within" (changes within a station over time), "between" (station means)
    /// (default: all three).
    pub scopes: Option<Vec<Spanned<String>>>,
    /// Attributes to control for in partial correlations, e.g. ["log_customers"]; each pair is
    /// reported both without and with them.
    #[serde(default)]
    pub controls: Vec<Spanned<String>>,
    /// Multiple-testing correction: "fdr_bh" (Benjamini–Hochberg, default), "holm" or "none".
    pub adjust: Option<Spanned<String>>,
    /// The family a correction runs over: "scope_method" (each scope × method × controls, the
    /// default) or "all" (every test in the table).
    pub family: Option<Spanned<String>>,
    /// Confidence level of the intervals (default 0.95).
    pub confidence: Option<Spanned<f64>>,
    /// Station-cluster bootstrap intervals: number of replicates (0 or absent: Fisher z only).
    pub bootstrap_replicates: Option<Spanned<usize>>,
    /// Seed of the bootstrap.
    pub bootstrap_seed: Option<u64>,
    /// Fewest observations for a correlation to be computed (default 10).
    pub min_observations: Option<usize>,
}

/// `[identity]`: normalisation rules that map a spelling to a station. Applied in order: full-width
/// to half-width, spaces removed, bracketed parts removed, prefixes and suffixes stripped, county
/// names stripped from the front, township words dropped before the unit word. Company wrappers
/// (国网X县供电公司) are removed together with the prefixes and suffixes.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawIdentity {
    /// Prefixes to strip, e.g. ["中共", "国网"].
    #[serde(default)]
    pub strip_prefixes: Vec<String>,
    /// Suffixes to strip, e.g. ["党支部", "支部委员会"].
    #[serde(default)]
    pub strip_suffixes: Vec<String>,
    /// Station-master column holding county names; each county name and its short forms (the
    /// county company's name unwrapped, then without 县 / 市, and for an autonomous county without
    /// the ethnic name) are stripped from the front of a spelling.
    pub county_column: Option<Spanned<String>>,
    /// Further county forms to strip from the front, e.g. ["塔县"].
    #[serde(default)]
    pub county_short_names: Vec<String>,
    /// Words dropped right before `unit_word`, e.g. ["镇", "乡"] turns 托克扎克镇供电所 into 托克扎克供电所.
    #[serde(default)]
    pub township_words: Vec<String>,
    /// The word that ends a station name, e.g. "供电所".
    pub unit_word: Option<String>,
    /// Prefixes of State Grid company names (default ["国网", "国家电网"]): stripped from the
    /// front of spellings and of county names, e.g. 国网疏附县供电公司 → 疏附县. `[]` turns this off.
    pub company_prefixes: Option<Spanned<Vec<String>>>,
    /// Words that end a company name (default ["供电公司", "供电分公司", "公司"]). A leading part
    /// of a spelling that ends in one is a company wrapper and is removed, repeatedly
    /// (中共国网博斯腾供电公司热吐市供电公司叶买吐提供电所支部委员会 → 叶买吐提供电所); a county name
    /// ending in one loses it (国网疏附县供电公司 → 疏附县). `[]` turns this off.
    pub company_words: Option<Spanned<Vec<String>>>,
    /// Ethnic names of autonomous counties (default 蒙古, 哈萨克, 回族, 锡伯, 塔吉克, 柯尔克孜,
    /// 维吾尔): a county X塔吉克自治县 is also written X县 and X. `[]` turns this off.
    pub ethnic_names: Option<Spanned<Vec<String>>>,
}

/// `[attributes.NAME]`: a station attribute.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawAttribute {
    /// Label shown in reports.
    pub label: Option<String>,
    /// SQL expression over the station master's columns, e.g. "ln(customers)".
    pub formula: Spanned<String>,
}

/// `[indicators.NAME]` / `[features.NAME]`: a value per station and period.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawMeasure {
    /// Label shown in reports and offered by the DuckDB views, e.g. "电费回收率".
    pub label: Option<String>,
    /// English label (`--lang en`).
    pub label_en: Option<String>,
    /// Source the rows come from.
    pub source: Spanned<String>,
    /// SQL aggregate over the rows of one station and period, e.g. "sum(paid) / sum(billed)".
    /// Station-master columns (e.g. customers, party_members) can be used too.
    pub formula: Spanned<String>,
    /// Indicators: "higher" or "lower" is better.
    pub better: Option<Spanned<String>>,
    /// SQL condition keeping only some rows, e.g. "activity_type = '三亮三比'".
    pub filter: Option<Spanned<String>>,
    /// Aggregate first to a finer grain within station and period (e.g. per 台区), then apply
    /// `formula` over those groups.
    pub pre_aggregate: Option<RawPreAggregate>,
    /// Rows are intervals (start, end): each is split over the periods it overlaps, with
    /// `overlap_hours` (hours inside the period) available to the formula. Every formula can use
    /// `period_hours` and `period_months` (length of the period) and the station master's columns.
    pub interval: Option<RawInterval>,
    /// Value for a station with no rows in a period the source covers (e.g. 0 for counts).
    pub fill: Option<f64>,
}

/// A first aggregation step.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawPreAggregate {
    /// Columns that define the finer groups, e.g. ["tai_area_id"].
    pub by: Vec<Spanned<String>>,
    /// New columns: name → SQL aggregate, e.g. { supplied = "sum(supplied_kwh)" }.
    pub columns: BTreeMap<Spanned<String>, Spanned<String>>,
}

/// Start and end timestamp columns of an interval source.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawInterval {
    pub start: Spanned<String>,
    pub end: Spanned<String>,
}

/// `[panel]`: panel settings.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawPanel {
    /// Lags (in periods) of the features: k pairs the feature at t with indicators at t + k.
    pub lags: Option<Vec<Spanned<i64>>>,
}

/// `[pipeline]`: job-wide settings.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawJob {
    /// Short machine name of the job, e.g. "kashgar_quarterly".
    pub name: Spanned<String>,
    /// Title shown in reports, e.g. "喀什供电公司供电所党建与同业对标季度分析".
    pub title: Option<String>,
    /// Analysis period: "month", "quarter" or "year". Dated rows are rolled up to it; curated
    /// partitions, the panel grid and lags all count in it.
    pub period: Spanned<String>,
    /// UTC offset of the local times in the exports, e.g. "+08:00" (Beijing time, the default).
    pub utc_offset: Option<Spanned<String>>,
    /// Name of the source holding the station master (one row per station).
    pub stations: Spanned<String>,
    /// Name of the source holding the alias table (spelling → station code), if any.
    pub aliases: Option<Spanned<String>>,
    /// Plausible dates: rows whose month, quarter, date or timestamp values fall outside are
    /// rejected. Default 2000-01 … the run date + 1 year.
    pub date_window: Option<RawDateWindow>,
}

/// `date_window = { from = "2000-01", to = "+1y" }`: each bound a year ("2000"), month
/// ("2000-01"), day ("2000-01-01"), or an offset from the run date ("+1y", "-6m", "+30d",
/// "today"). `from` is the first day of its period, `to` the last; both included.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawDateWindow {
    pub from: Option<Spanned<String>>,
    pub to: Option<Spanned<String>>,
}

/// `[output]`: where results go.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawOutput {
    /// Output folder, relative to the pipeline file. Replaced atomically by each run, so it must
    /// be a folder of its own: not empty, apart from every input and from the pipeline file.
    pub dir: Spanned<String>,
}

/// `[sources.NAME]`: one kind of export, possibly many files.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawSource {
    /// Label shown in reports, e.g. "电费回收".
    pub title: Option<String>,
    /// File path or glob, relative to the pipeline file, e.g. "../sample_data/fee/*.csv".
    pub path: Spanned<String>,
    /// "csv" or "xlsx"; by default taken from the file extension.
    pub format: Option<Spanned<String>>,
    /// Text encoding of CSV files: "utf-8", "utf-8-bom", "gbk", "gb18030" or "auto" (default:
    /// BOM → UTF-8, valid UTF-8 → UTF-8, otherwise GB18030).
    pub encoding: Option<Spanned<String>>,
    /// XLSX sheets to read (default: every sheet), all laid out alike.
    pub sheets: Option<Vec<Spanned<String>>>,
    /// Line (CSV) or row (XLSX) of the header, counting from 1; title lines above it are skipped.
    pub header_row: Option<Spanned<usize>>,
    /// Lines to drop before parsing, such as 合计 / 小计 totals: each names an export header and
    /// the prefixes that mark a line to drop. Dropped lines are listed in quarantine as dropped.
    #[serde(default)]
    pub drop_rows: Vec<RawDropRule>,
    /// Canonical columns (ASCII snake_case) and where they come from in the export.
    pub columns: BTreeMap<Spanned<String>, RawColumn>,
    /// Canonical column that identifies the station (its code, name or party branch name).
    pub station: Option<Spanned<String>>,
    /// What the station column holds: "code", "name" or "branch".
    pub station_key: Option<Spanned<String>>,
    /// Canonical column that dates the row (type month, quarter, date or timestamp); sources
    /// without one (station master, aliases) are reference tables, not partitioned by period.
    pub period: Option<Spanned<String>>,
    /// Row checks, SQL expressions over canonical columns.
    #[serde(default)]
    pub checks: Vec<RawCheck>,
    /// Duplicate policy: "exact" (default: rows identical in every cell are removed, the first
    /// kept), "keep" (identical rows are distinct events) or { key = ["order_id"] } (rows sharing
    /// the key: identical ones are duplicates, differing ones all go to quarantine as conflicting).
    pub duplicates: Option<Spanned<RawDuplicates>>,
    /// Fail the run (exit 3) when more than this share of the source's rows is rejected
    /// (default 0.05).
    pub max_reject_share: Option<Spanned<f64>>,
    /// Fail the run (exit 3) when more than this share of the source's accepted rows matches no
    /// station (default 0.05); the message lists the commonest unmatched spellings.
    pub max_unmatched_share: Option<Spanned<f64>>,
}

/// `duplicates = "exact" | "keep" | { key = [...] }`.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub(crate) enum RawDuplicates {
    Word(String),
    Key { key: Vec<String> },
}

/// A line-dropping rule.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawDropRule {
    /// Export header of the column to look at, e.g. "序号".
    pub header: Spanned<String>,
    /// Drop the line when that cell starts with one of these, e.g. ["合计", "小计"].
    pub starts_with: Vec<String>,
}

/// One canonical column.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawColumn {
    /// The export header this column comes from. Absent for a column made from the file's path,
    /// title line or sheet name (`from`) or from a date and a time column (`date` + `time`).
    pub header: Option<Spanned<String>>,
    /// Take the value from the file instead of a cell: "file_name", "folder_name", "title_line"
    /// (first line above `header_row`) or "sheet_name"; needs `pattern`.
    pub from: Option<Spanned<String>>,
    /// Regular expression searched in the `from` text; its named parts year, month, quarter (1–4
    /// or 一二三四) and day make the value, e.g. '(?P<year>\d{4})年(?P<month>\d{2})月'.
    pub pattern: Option<Spanned<String>>,
    /// Header of a cell giving the year when `pattern` does not capture it.
    pub year: Option<Spanned<String>>,
    /// Header of a cell giving the month when `pattern` does not capture it (sheet 2021年, cell 3).
    pub month: Option<Spanned<String>>,
    /// Header of a cell giving the quarter when `pattern` does not capture it.
    pub quarter: Option<Spanned<String>>,
    /// Header of a cell giving the day when `pattern` does not capture it.
    pub day: Option<Spanned<String>>,
    /// Timestamp columns: header of the date column (with `time`), e.g. "活动日期".
    pub date: Option<Spanned<String>>,
    /// Timestamp columns: header of the time-of-day column (with `date`), e.g. "开始时间".
    pub time: Option<Spanned<String>>,
    /// Other headers the same column appears under in some files, each with its own scale.
    #[serde(default)]
    pub also: Vec<RawAlternative>,
    /// Value type: "text" (default), "integer", "number", "month", "quarter", "date", "timestamp".
    #[serde(rename = "type")]
    pub kind: Option<Spanned<String>>,
    /// Exact layout for month, date and timestamp columns, e.g. "yyyy年MM月" or
    /// "yyyy/MM/dd HH:mm" (default: every common layout is accepted).
    pub format: Option<Spanned<String>>,
    /// Multiply numbers by this (e.g. 10000 for a column in 万元).
    pub scale: Option<f64>,
    /// Missing header is an error unless `required = false` (then the column is all null).
    pub required: Option<bool>,
    /// Reject rows where this column is empty.
    pub not_null: Option<bool>,
}

/// An alternative header for a column.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawAlternative {
    /// The other header, e.g. "应收电费(万元)".
    pub header: Spanned<String>,
    /// Multiply numbers under this header by this (e.g. 10000 for 万元).
    pub scale: Option<f64>,
}

/// A row check.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawCheck {
    /// SQL expression that must hold for a row, e.g. "paid <= billed". Null results pass.
    pub rule: Spanned<String>,
    /// "reject" (default: the row goes to quarantine) or "warn" (counted, kept).
    pub severity: Option<Spanned<String>>,
    /// Reason recorded in quarantine (default: the rule itself).
    pub message: Option<String>,
}
