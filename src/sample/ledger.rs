//! What the generator wrote: every file with its encoding, header position, headers and row
//! count, and every kind of planted dirt with how many rows carry it. Rendered into
//! `manifest.json` (for tests and tools) and the tables of the sample README.

use std::collections::BTreeMap;

use serde::Serialize;

use super::textfile::TextEncoding;

/// Kinds of dirt the sample plants on purpose, each documented with its count.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Dirt {
    NameVariantRule,
    NameVariantAlias,
    MissingMonth,
    MissingQuarter,
    DuplicateRow,
    #[serde(rename = "recovery_over_100")]
    RecoveryOver100,
    CollectedOverExpected,
    NegativeSupply,
    UnparseableNumber,
    BlankLine,
    UnmatchedBranch,
    UnknownUnit,
    TitleRow,
    TotalRow,
    AmountsInWanYuan,
    OutageAcrossQuarters,
    WrappedName,
    ConflictingRow,
    IdenticalEvent,
}

impl Dirt {
    pub fn code(self) -> String {
        serde_json::to_value(self).unwrap().as_str().unwrap().to_string()
    }

    /// The description of a kind given by its code (as in the manifest).
    pub(crate) fn describe_code(code: &str) -> (&'static str, &'static str) {
        Dirt::ALL.iter().find(|k| k.code() == code).map(|k| k.describe()).unwrap_or(("", ""))
    }

    pub(crate) const ALL: [Dirt; 19] = [
        Dirt::NameVariantRule,
        Dirt::NameVariantAlias,
        Dirt::MissingMonth,
        Dirt::MissingQuarter,
        Dirt::DuplicateRow,
        Dirt::RecoveryOver100,
        Dirt::CollectedOverExpected,
        Dirt::NegativeSupply,
        Dirt::UnparseableNumber,
        Dirt::BlankLine,
        Dirt::UnmatchedBranch,
        Dirt::UnknownUnit,
        Dirt::TitleRow,
        Dirt::TotalRow,
        Dirt::AmountsInWanYuan,
        Dirt::OutageAcrossQuarters,
        Dirt::WrappedName,
        Dirt::ConflictingRow,
        Dirt::IdenticalEvent,
    ];

    /// (中文, English) description, and what a row of this kind counts.
    pub fn describe(self) -> (&'static str, &'static str) {
        match self {
            Dirt::NameVariantRule => (
                "供电所名称写法变体（保留镇/乡、县名前缀、全角括号、多余空格、“中共…支部委员会”），可由规范化规则识别",
                "station name variants the normalisation rules undo (镇/乡 kept, county prefix, full-width brackets, stray spaces, 中共…支部委员会); rows",
            ),
            Dirt::NameVariantAlias => {
                ("只能通过别名表识别的写法（简称、错别字、旧称）", "spellings only the alias table resolves (abbreviation, typo, old name); rows")
            }
            Dirt::MissingMonth => ("缺失的供电所-月份记录", "station-months absent from the export"),
            Dirt::MissingQuarter => ("整季度缺失的供电所党建记录（平台故障）", "station-quarters with no activity rows at all (platform outage)"),
            Dirt::DuplicateRow => ("完全重复的行", "exact duplicate lines (the extra copies)"),
            Dirt::RecoveryOver100 => ("实收大于应收（回收率超过100%）", "paid above billed (recovery over 100 %); rows"),
            Dirt::CollectedOverExpected => ("采集成功户数大于应采户数", "collected above expected meters; rows"),
            Dirt::NegativeSupply => ("供电量为负数", "negative supplied energy; rows"),
            Dirt::UnparseableNumber => ("无法解析的数字（--、#N/A、待核实）", "unparseable numbers (--, #N/A, 待核实); rows"),
            Dirt::BlankLine => ("空行", "blank lines"),
            Dirt::UnmatchedBranch => ("不对应任何供电所的党支部（客户服务中心党支部）", "rows of a party branch that is no station (客户服务中心党支部)"),
            Dirt::UnknownUnit => ("供电单位无法识别的工单（营业厅）", "work orders whose unit is no station (a service hall); rows"),
            Dirt::TitleRow => ("表头上方的标题行", "title line above the header; files"),
            Dirt::TotalRow => ("表尾的“合计”行", "合计 (total) line at the bottom; files"),
            Dirt::AmountsInWanYuan => ("金额单位为万元（其余年份为元）", "amounts in 万元 (other years in 元); rows"),
            Dirt::OutageAcrossQuarters => ("跨季度的停电事件（季末开始、次季度结束）", "outages that start in one quarter and end in the next; events"),
            Dirt::WrappedName => (
                "名称套有县公司名称或县名（“国网X县供电公司Y供电所”“X县Y供电所”“中共国网X县供电公司Y供电所支部委员会”），与台账写法不同",
                "unit or party-organisation names wrapped in the county company's name or the county (国网X县供电公司Y供电所, X县Y供电所, 中共国网X县供电公司Y供电所支部委员会), unlike the master's; rows",
            ),
            Dirt::ConflictingRow => (
                "与另一行工单号相同但内容不同的行（重新导出时状态已变）",
                "lines that share the unique key (order number) of another line but differ from it (re-exported with a changed status); lines",
            ),
            Dirt::IdenticalEvent => (
                "与前一行完全相同、但确是另一次活动的行（无编号列；同一支部同日同时、出勤相同）",
                "lines identical to an earlier line that are nevertheless distinct events (no ID column; one branch, same day and time, same attendance); lines",
            ),
        }
    }
}

/// One generated file.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct FileEntry {
    /// Path relative to the sample folder, with forward slashes.
    pub path: String,
    /// csv or xlsx.
    pub format: &'static str,
    /// Text encoding (CSV only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub encoding: Option<&'static str>,
    /// "crlf" or "lf" (CSV only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line_ending: Option<&'static str>,
    /// Sheets (XLSX only), each laid out the same way.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub sheets: Vec<String>,
    /// Zero-based index of the header line (1 when a title line sits above it).
    pub header_row: usize,
    /// Where the rows' period is written when no column holds it whole: "file_name",
    /// "title_line" or "sheet_name".
    #[serde(skip_serializing_if = "Option::is_none")]
    pub period_in: Option<&'static str>,
    pub headers: Vec<String>,
    /// Data rows written below the header, dirt included, blank lines and total lines excluded.
    pub rows: usize,
}

impl FileEntry {
    pub fn csv<S: AsRef<str>>(path: &str, encoding: TextEncoding, header_row: usize, headers: &[S], rows: usize) -> FileEntry {
        FileEntry {
            path: path.to_string(),
            format: "csv",
            encoding: Some(encoding.name()),
            line_ending: Some("lf"),
            sheets: Vec::new(),
            header_row,
            period_in: None,
            headers: headers.iter().map(|h| h.as_ref().to_string()).collect(),
            rows,
        }
    }

    pub fn xlsx<S: AsRef<str>>(path: &str, sheets: Vec<String>, header_row: usize, headers: &[S], rows: usize) -> FileEntry {
        FileEntry {
            path: path.to_string(),
            format: "xlsx",
            encoding: None,
            line_ending: None,
            sheets,
            header_row,
            period_in: None,
            headers: headers.iter().map(|h| h.as_ref().to_string()).collect(),
            rows,
        }
    }

    pub(crate) fn with_crlf(mut self) -> FileEntry {
        self.line_ending = Some("crlf");
        self
    }

    pub(crate) fn with_period_in(mut self, period_in: Option<&'static str>) -> FileEntry {
        self.period_in = period_in;
        self
    }
}

/// What one export writer produced: its files and the dirt it planted, per source.
#[derive(Debug, Default)]
pub(crate) struct Export {
    pub files: Vec<(String, FileEntry)>,
    pub dirt: BTreeMap<(String, Dirt), u64>,
    source: String,
}

impl Export {
    pub fn new(source: &str) -> Export {
        Export { source: source.to_string(), ..Export::default() }
    }

    pub fn add(&mut self, kind: Dirt, count: u64) {
        if count > 0 {
            *self.dirt.entry((self.source.clone(), kind)).or_default() += count;
        }
    }

    pub fn file(&mut self, entry: FileEntry) {
        self.files.push((self.source.clone(), entry));
    }

    pub(crate) fn merge(&mut self, other: Export) {
        self.files.extend(other.files);
        for (key, count) in other.dirt {
            *self.dirt.entry(key).or_default() += count;
        }
    }
}

/// The machine-readable manifest of a generated sample.
#[derive(Debug, Serialize)]
pub(crate) struct SampleManifest {
    pub generator: &'static str,
    /// The export layout, when not the default (Kashgar) one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub layout: Option<&'static str>,
    pub seed: u64,
    pub scale: String,
    pub periods: Vec<String>,
    pub stations: usize,
    pub files: Vec<ManifestFile>,
    pub dirt: Vec<ManifestDirt>,
}

#[derive(Debug, Serialize)]
pub(crate) struct ManifestFile {
    pub source: String,
    #[serde(flatten)]
    pub entry: FileEntry,
}

#[derive(Debug, Serialize)]
pub(crate) struct ManifestDirt {
    pub source: String,
    pub kind: String,
    pub count: u64,
    pub description: &'static str,
}
