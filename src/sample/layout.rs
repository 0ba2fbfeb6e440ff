//! How one region's systems lay out their exports: for every source, the file naming and grouping
//! (a file per quarter, month or year, one workbook, or numbered browser downloads), encoding, line
//! ends, title line, header spellings and value formats; how units, county companies and party
//! organisations are named; which dirt is planted how often; and which effects are planted.
//!
//! The writers in `exports` draw the same latent truth for every layout and hand each record to
//! the layout's column list, so a new region is a new `LayoutSpec`, not a new generator.
//! `kashgar` is the committed `sample_data/`; `other` is a synthetic second prefecture whose
//! systems put the period in file names, title lines and sheet names, split dates from times,
//! wrap unit names in county company names and log identical events without an ID.

use super::model::{ActivityType, COMPLAINT_EFFECT, Effect, MODEL_POST, OUTAGE_EFFECT, SAFETY_STUDY, SANLIANG, SERVICE_TEAM, Target};
use super::textfile::{TextEncoding, percent, thousands};
use crate::base::period::{Month, Quarter};

/// Which region's export layout to generate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Layout {
    /// Kashgar prefecture (the committed `sample_data/`).
    Kashgar,
    /// A synthetic second prefecture exporting in other layouts (the committed `sample_other/`).
    Other,
}

impl Layout {
    pub fn name(self) -> &'static str {
        match self {
            Layout::Kashgar => "kashgar",
            Layout::Other => "other",
        }
    }

    pub fn spec(self) -> &'static LayoutSpec {
        match self {
            Layout::Kashgar => &KASHGAR,
            Layout::Other => &OTHER,
        }
    }
}

/// How a source's files are named and what each holds. Templates fill `{year}`, `{quarter}`,
/// `{q}` (2021Q1), `{mm}` (01), `{m}` (1), `{first}` and `{last}` (years of the span).
pub enum Files {
    /// One file per quarter.
    PerQuarter(&'static str),
    /// One file per month.
    PerMonth(&'static str),
    /// One file per calendar year.
    PerYear(&'static str),
    /// One file for the whole span.
    Single(&'static str),
    /// One file per quarter, named as a browser names repeated downloads of the same report:
    /// `stem.ext`, `stem(1).ext`, `stem(2).ext`, …; the period is only inside the file.
    Numbered { stem: &'static str, ext: &'static str },
}

impl Files {
    /// The files of a span, each with the months it holds (in order).
    pub(crate) fn groups(&self, quarters: &[Quarter]) -> Vec<(String, Vec<Month>)> {
        let months: Vec<Month> = quarters.iter().flat_map(|q| q.months()).collect();
        let span = (months[0].year, months[months.len() - 1].year);
        let fill = |template: &str, group: &[Month]| fill(template, "", group, span);
        match self {
            Files::PerQuarter(t) => quarters.iter().map(|q| (fill(t, &q.months()), q.months().to_vec())).collect(),
            Files::PerMonth(t) => months.iter().map(|m| (fill(t, &[*m]), vec![*m])).collect(),
            Files::PerYear(t) => {
                let mut groups: Vec<(String, Vec<Month>)> = Vec::new();
                for m in &months {
                    match groups.last_mut() {
                        Some((_, g)) if g[0].year == m.year => g.push(*m),
                        _ => groups.push((String::new(), vec![*m])),
                    }
                }
                groups.into_iter().map(|(_, g)| (fill(t, &g), g)).collect()
            }
            Files::Single(t) => vec![(fill(t, &months), months.clone())],
            Files::Numbered { stem, ext } => quarters
                .iter()
                .enumerate()
                .map(|(i, q)| (if i == 0 { format!("{stem}.{ext}") } else { format!("{stem}({i}).{ext}") }, q.months().to_vec()))
                .collect(),
        }
    }
}

/// Fills a file name, title or sheet template for the months of one file (or sheet).
pub fn fill(template: &str, company: &str, months: &[Month], span: (i32, i32)) -> String {
    let first = months[0];
    template
        .replace("{company}", company)
        .replace("{year}", &first.year.to_string())
        .replace("{quarter}", &first.quarter().quarter.to_string())
        .replace("{q}", &first.quarter().to_string())
        .replace("{mm}", &format!("{:02}", first.month))
        .replace("{m}", &first.month.to_string())
        .replace("{first}", &span.0.to_string())
        .replace("{last}", &span.1.to_string())
}

/// One source's layout: files, encoding, title line, and the columns in order, each a header
/// (`{unit}` is filled with 元 or 万元 where amounts carry their unit) and how a record gives
/// its cell.
pub struct Table<R: 'static, V: 'static = String> {
    pub files: Files,
    pub encoding: TextEncoding,
    pub crlf: bool,
    /// Title line above the header (CSV) or title row (XLSX sheets), a template.
    pub title: Option<&'static str>,
    /// XLSX sheet name template (one sheet per year), e.g. "{year}年".
    pub sheet: Option<&'static str>,
    /// A 合计 line below the data.
    pub total_row: bool,
    /// Where the rows' period is written when no column holds it whole: "file_name",
    /// "title_line" or "sheet_name" (stated in the sample manifest).
    pub period_in: Option<&'static str>,
    pub columns: &'static [(&'static str, fn(&R) -> V)],
}

impl<R, V> Table<R, V> {
    pub fn headers(&self, unit: &str) -> Vec<String> {
        self.columns.iter().map(|(h, _)| h.replace("{unit}", unit)).collect()
    }

    pub fn record(&self, row: &R) -> Vec<V> {
        self.columns.iter().map(|(_, cell)| cell(row)).collect()
    }

    /// Zero-based line of the header.
    pub fn header_row(&self) -> usize {
        usize::from(self.title.is_some())
    }
}

/// How a layout names units, county companies and party organisations.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Naming {
    /// County column holds the county (疏附县); branches are "X供电所党支部"; exports spell
    /// stations in the many hand-typed variants of `geography::rule_variant` and the alias table.
    Kashgar,
    /// County column holds the county company (国网X县供电公司); party organisations are
    /// "中共{company}{county company}X供电所支部委员会"; 95598 units are "{county}X供电所".
    CountyCompanies,
}

/// An XLSX cell.
pub(crate) enum Cell {
    Text(String),
    Number(f64),
}

// Records handed from the writers to the layouts. They own their text, so that a layout's
// column list can be a static table of plain functions.

pub(crate) struct MasterRow {
    pub code: String,
    pub name: String,
    /// Official township name (with 镇/乡).
    pub township: String,
    /// The county as the county column names it.
    pub county_label: String,
    pub county_code: String,
    pub customers: u64,
    pub tai_areas: u64,
    /// The station's party organisation as the master names it.
    pub branch: String,
    pub party_members: u64,
    pub senior_managers: u64,
    pub area_managers: u64,
}

pub(crate) struct AliasRow {
    pub spelling: String,
    pub code: String,
    pub note: &'static str,
}

/// A fee line: the station's (code, name), or none on the 合计 line (amounts summed).
pub(crate) struct FeeRow {
    pub seq: usize,
    pub station: Option<(String, String)>,
    pub month: Month,
    pub billed: f64,
    pub paid: f64,
    pub in_wan: bool,
}

pub(crate) struct CollectionRow {
    pub code: String,
    pub name: String,
    pub month: Month,
    pub expected: f64,
    pub collected: f64,
}

/// A line-loss line for one 台区 and the file's grain (a month, or a quarter when the table
/// sums months); `sold` is the unparseable text when the system wrote one.
pub(crate) struct LossRow {
    pub tai_area: String,
    pub tai_area_name: String,
    pub station_code: String,
    pub month: Month,
    pub supplied: f64,
    pub sold: Result<f64, &'static str>,
}

pub(crate) struct OrderRow {
    /// Station index and number of the order within the station-month: the order number.
    pub station: usize,
    pub seq: usize,
    pub month: Month,
    /// Seconds into the month.
    pub second: u32,
    pub kind: &'static str,
    pub subtype: &'static str,
    pub unit: String,
    pub status: &'static str,
}

pub(crate) struct OmRow {
    pub code: String,
    pub name: String,
    pub month: Month,
    pub scores: Vec<f64>,
    pub index: f64,
}

pub(crate) struct OutageRow {
    pub quarter: Quarter,
    pub station_code: String,
    /// Number of the event within the station-quarter, from 1.
    pub seq: usize,
    pub fault: bool,
    /// Minutes into the quarter.
    pub start: u32,
    pub end: u32,
    pub customers: u64,
}

pub(crate) struct PartyRow {
    pub branch: String,
    pub kind: &'static ActivityType,
    pub topic: &'static str,
    pub month: Month,
    /// Seconds into the month.
    pub start: u32,
    pub hours: u32,
    pub place: String,
    pub expected: u64,
    pub present: u64,
    pub recorder: String,
}

pub(crate) struct StarRow {
    pub branch: String,
    pub member: String,
    pub month: Month,
    pub stars: i32,
    pub points: i64,
}

pub(crate) struct FlagRow {
    pub branch: String,
    pub quarter: Quarter,
    pub kind: &'static str,
    pub note: &'static str,
}

/// Everything that differs between regions.
pub(crate) struct LayoutSpec {
    /// The issuing prefecture company (the `kashgar` layout takes it from the scale).
    pub company: Option<&'static str>,
    /// Stations of the layout's own organisation (`kashgar` follows the scale instead).
    pub stations: Option<usize>,
    pub first_quarter: (i32, u32),
    pub quarters: usize,
    pub command: &'static str,
    /// Planted dirt: target name → count, stated for `dirt_stations` stations and scaled with size.
    pub dirt: &'static [(&'static str, usize)],
    pub dirt_stations: usize,
    pub effects: &'static [Effect],
    /// The planted effects in words (English paragraph of GROUND_TRUTH.md).
    pub effects_in_words: &'static str,
    /// What the README says about the layout below the file table.
    pub notes: &'static str,
    pub naming: Naming,
    /// The first year's fee amounts are in 万元.
    pub fee_wan_first_year: bool,
    /// Line loss rows sum the quarter per 台区 instead of one row per 台区-month.
    pub loss_per_quarter: bool,
    /// Branch of the county customer-service centre (no station), and its 95598 service hall.
    pub orphan_branch: &'static str,
    pub orphan_unit: &'static str,
    pub master: Table<MasterRow>,
    pub aliases: Option<Table<AliasRow>>,
    pub fee: Table<FeeRow>,
    pub collection: Table<CollectionRow, Cell>,
    pub line_loss: Table<LossRow>,
    pub work_orders: Table<OrderRow>,
    pub om_index: Table<OmRow>,
    pub outages: Table<OutageRow>,
    pub party: Table<PartyRow>,
    pub stars: Table<StarRow>,
    pub flags: Table<FlagRow>,
}

impl LayoutSpec {
    /// Planted count of a dirt target at the layout's reference size.
    pub fn dirt(&self, name: &str) -> usize {
        self.dirt.iter().find(|(n, _)| *n == name).map_or(0, |(_, c)| *c)
    }
}

// ── value formats shared by the layouts ──────────────────────────────────────────────────

fn amount(x: f64, in_wan: bool) -> String {
    if in_wan { format!("{x:.2}") } else { thousands(x, 2) }
}

/// "2020/09/13 14:22" or "2020-09-13 14:22:05" from seconds into a month (rolling past its end).
pub fn timestamp(mut month: Month, mut second: u32, sep: char, with_seconds: bool) -> String {
    while second >= month.days() * 86_400 {
        second -= month.days() * 86_400;
        month = month.next();
    }
    let day = second / 86_400 + 1;
    let rest = second % 86_400;
    let (h, mi, se) = (rest / 3600, rest % 3600 / 60, rest % 60);
    if with_seconds {
        format!("{}{sep}{:02}{sep}{:02} {:02}:{:02}:{:02}", month.year, month.month, day, h, mi, se)
    } else {
        format!("{}{sep}{:02}{sep}{:02} {:02}:{:02}", month.year, month.month, day, h, mi)
    }
}

/// "2020-09-13 14:22" from minutes into quarter `q` (may run past its end into the next quarter).
pub(crate) fn minute_stamp(q: Quarter, minute: u32, sep: char) -> String {
    timestamp(q.months()[0], minute * 60, sep, false)
}

fn party_end(r: &PartyRow) -> u32 {
    r.start + r.hours * 3600
}

// ── Kashgar ──────────────────────────────────────────────────────────────────────────────

const KASHGAR_EFFECTS: &[Effect] = &[
    Effect {
        id: "sanliang_sanbi_fewer_complaints_next_quarter",
        activity: SANLIANG,
        target: Target::Complaints,
        indicator: "complaint_control",
        lag: 1,
        b: COMPLAINT_EFFECT,
        raw_sign: "negative",
        better_sign: "positive",
        mechanism: "complaints per 10 000 customers in quarter t+1 are multiplied by exp(b * z), z = (count_t - expected) / sqrt(expected) of the station's 三亮三比 count in quarter t",
        indicator_zh: "客户诉求管控 (`complaint_control`)",
        direction_zh: "开展越多，下季度每万户投诉越少（更好）",
        mechanism_zh: "下季度投诉率 × exp({b} · z)，z 为本季度次数的标准化偏差",
    },
    Effect {
        id: "safety_study_fewer_outages_same_quarter",
        activity: SAFETY_STUDY,
        target: Target::FaultOutages,
        indicator: "reliability",
        lag: 0,
        b: OUTAGE_EFFECT,
        raw_sign: "positive",
        better_sign: "positive",
        mechanism: "fault outage count and median duration in quarter t are multiplied by exp(b * z), z the station's standardised 安全学习 count in quarter t",
        indicator_zh: "供电可靠性 (`reliability`)",
        direction_zh: "开展越多，当季故障停电越少越短，RS-1 越高（更好）",
        mechanism_zh: "当季故障次数与时长 × exp({b} · z)",
    },
];

pub(crate) static KASHGAR: LayoutSpec = LayoutSpec {
    company: None,
    stations: None,
    first_quarter: (2019, 1),
    quarters: 8,
    command: "duibiao sample --out sample_data",
    dirt: &[
        ("fee-missing", 3),
        ("fee-duplicate", 4),
        ("fee-over-100", 3),
        ("collection-over", 2),
        ("loss-negative", 5),
        ("loss-unparseable", 6),
        ("loss-duplicate", 5),
        ("orders-blank", 4),
        ("orders-duplicate", 5),
        ("orders-unknown", 6),
        ("outage-spanning", 3),
        ("party-missing", 1),
        ("party-blank", 3),
        ("party-unmatched", 3),
    ],
    dirt_stations: 86,
    effects: KASHGAR_EFFECTS,
    effects_in_words: "In words: a station that holds more 三亮三比 sessions than it usually does gets fewer complaints per 10 000 customers in the *next* quarter; a station that holds more safety study than usual has fewer and shorter fault outages in the *same* quarter. z = (count − station's expected count) / √expected.",
    notes: "表头行从 1 开始计数；电费导出第 1 行为标题行，最后一行为“合计”。Header lines count from 1; the fee exports have a title line above the header and a 合计 line at the bottom (not counted in rows).",
    naming: Naming::Kashgar,
    fee_wan_first_year: true,
    loss_per_quarter: false,
    orphan_branch: "客户服务中心党支部",
    orphan_unit: "{company}客户服务中心营业厅",
    master: Table {
        files: Files::Single("master/供电所台账.csv"),
        encoding: TextEncoding::Utf8Bom,
        crlf: false,
        title: None,
        sheet: None,
        total_row: false,
        period_in: None,
        columns: &[
            ("供电所编码", |r| r.code.clone()),
            ("供电所名称", |r| r.name.clone()),
            ("所属县公司", |r| r.county_label.clone()),
            ("县公司编码", |r| r.county_code.clone()),
            ("乡镇", |r| r.township.clone()),
            ("用户数", |r| r.customers.to_string()),
            ("台区数", |r| r.tai_areas.to_string()),
            ("党支部名称", |r| r.branch.clone()),
            ("党员人数", |r| r.party_members.to_string()),
            ("高级经理人数", |r| r.senior_managers.to_string()),
            ("台区经理人数", |r| r.area_managers.to_string()),
        ],
    },
    aliases: Some(Table {
        files: Files::Single("master/供电所别名.csv"),
        encoding: TextEncoding::Utf8Bom,
        crlf: false,
        title: None,
        sheet: None,
        total_row: false,
        period_in: None,
        columns: &[("名称写法", |r| r.spelling.clone()), ("供电所编码", |r| r.code.clone()), ("说明", |r| r.note.to_string())],
    }),
    fee: Table {
        files: Files::PerQuarter("fee/营销_电费回收_{q}.csv"),
        encoding: TextEncoding::Gbk,
        crlf: true,
        title: Some("{company}{year}年第{quarter}季度电费回收情况统计表"),
        sheet: None,
        total_row: true,
        period_in: None,
        columns: &[
            ("序号", |r| if r.station.is_some() { r.seq.to_string() } else { "合计".to_string() }),
            ("供电单位编码", |r| r.station.as_ref().map(|s| s.0.clone()).unwrap_or_default()),
            ("供电单位名称", |r| r.station.as_ref().map(|s| s.1.clone()).unwrap_or_default()),
            ("统计月份", |r| if r.station.is_some() { format!("{}年{:02}月", r.month.year, r.month.month) } else { String::new() }),
            ("应收电费({unit})", |r| amount(r.billed, r.in_wan)),
            ("实收电费({unit})", |r| amount(r.paid, r.in_wan)),
            ("电费回收率", |r| percent(r.paid / r.billed, 2)),
        ],
    },
    collection: Table {
        files: Files::Single("collection/采集质量_{first}-{last}.xlsx"),
        encoding: TextEncoding::Utf8,
        crlf: false,
        title: None,
        sheet: Some("{year}年"),
        total_row: false,
        period_in: None,
        columns: &[
            ("单位编码", |r| Cell::Text(r.code.clone())),
            ("单位名称", |r| Cell::Text(r.name.clone())),
            ("统计月份", |r| Cell::Number(f64::from(r.month.year * 100) + f64::from(r.month.month))),
            ("应采户数", |r| Cell::Number(r.expected)),
            ("采集成功户数", |r| Cell::Number(r.collected)),
            ("采集成功率", |r| Cell::Text(percent(r.collected / r.expected, 2))),
        ],
    },
    line_loss: Table {
        files: Files::PerQuarter("line_loss/台区线损_{q}.csv"),
        encoding: TextEncoding::Utf8Bom,
        crlf: false,
        title: None,
        sheet: None,
        total_row: false,
        period_in: None,
        columns: &[
            ("台区编号", |r| r.tai_area.clone()),
            ("台区名称", |r| r.tai_area_name.clone()),
            ("所属供电所编码", |r| r.station_code.clone()),
            ("统计月份", |r| r.month.to_string()),
            ("供电量(kWh)", |r| format!("{:.0}", r.supplied)),
            ("售电量(kWh)", |r| match r.sold {
                Ok(sold) => format!("{sold:.0}"),
                Err(text) => text.to_string(),
            }),
            ("线损率(%)", |r| match r.sold {
                Ok(sold) => format!("{:.2}", (r.supplied - sold) / r.supplied * 100.0),
                Err(_) => String::new(),
            }),
        ],
    },
    work_orders: Table {
        files: Files::PerQuarter("work_orders/95598工单_{q}.csv"),
        encoding: TextEncoding::Utf8,
        crlf: false,
        title: None,
        sheet: None,
        total_row: false,
        period_in: None,
        columns: &[
            ("工单编号", |r| format!("{}{:02}{:05}{:04}", r.month.year, r.month.month, r.station, r.seq)),
            ("受理时间", |r| timestamp(r.month, r.second, '-', true)),
            ("工单类型", |r| r.kind.to_string()),
            ("业务子类", |r| r.subtype.to_string()),
            ("供电单位", |r| r.unit.clone()),
            ("处理状态", |r| r.status.to_string()),
        ],
    },
    om_index: Table {
        files: Files::PerQuarter("om_index/配网运检指数_{q}.csv"),
        encoding: TextEncoding::Utf8Bom,
        crlf: false,
        title: None,
        sheet: None,
        total_row: false,
        period_in: None,
        columns: &[
            ("单位编码", |r| r.code.clone()),
            ("单位名称", |r| r.name.clone()),
            ("月份", |r| format!("{}年{}月", r.month.year, r.month.month)),
            ("故障停运率得分", |r| format!("{:.1}", r.scores[0])),
            ("消缺及时率得分", |r| format!("{:.1}", r.scores[1])),
            ("重过载治理得分", |r| format!("{:.1}", r.scores[2])),
            ("低电压治理得分", |r| format!("{:.1}", r.scores[3])),
            ("抢修到达及时率得分", |r| format!("{:.1}", r.scores[4])),
            ("综合指数", |r| format!("{:.2}", r.index)),
        ],
    },
    outages: Table {
        files: Files::PerQuarter("outages/停电事件_{q}.csv"),
        encoding: TextEncoding::Utf8Bom,
        crlf: false,
        title: None,
        sheet: None,
        total_row: false,
        period_in: None,
        columns: &[
            ("事件编号", |r| format!("TD{}{}{:03}", r.quarter, r.station_code, r.seq)),
            ("供电所编码", |r| r.station_code.clone()),
            ("停电类型", |r| (if r.fault { "故障" } else { "计划" }).to_string()),
            ("停电开始时间", |r| minute_stamp(r.quarter, r.start, '-')),
            ("停电结束时间", |r| minute_stamp(r.quarter, r.end, '-')),
            ("停电户数", |r| r.customers.to_string()),
        ],
    },
    party: Table {
        files: Files::PerQuarter("party/党建活动_{q}.csv"),
        encoding: TextEncoding::Gbk,
        crlf: true,
        title: None,
        sheet: None,
        total_row: false,
        period_in: None,
        columns: &[
            ("支部名称", |r| r.branch.clone()),
            ("活动类型", |r| r.kind.label.to_string()),
            ("活动主题", |r| r.topic.to_string()),
            ("开始时间", |r| timestamp(r.month, r.start, '/', false)),
            ("结束时间", |r| timestamp(r.month, party_end(r), '/', false)),
            ("地点", |r| r.place.clone()),
            ("应到人数", |r| r.expected.to_string()),
            ("实到人数", |r| r.present.to_string()),
            ("记录人", |r| r.recorder.clone()),
        ],
    },
    stars: Table {
        files: Files::PerQuarter("party/星级评定_{q}.csv"),
        encoding: TextEncoding::Utf8Bom,
        crlf: false,
        title: None,
        sheet: None,
        total_row: false,
        period_in: None,
        columns: &[
            ("支部名称", |r| r.branch.clone()),
            ("党员姓名", |r| r.member.clone()),
            ("统计月份", |r| r.month.to_string()),
            ("星级", |r| r.stars.to_string()),
            ("安全积分", |r| r.points.to_string()),
        ],
    },
    flags: Table {
        files: Files::PerQuarter("party/流动红旗督办_{q}.csv"),
        encoding: TextEncoding::Utf8Bom,
        crlf: false,
        title: None,
        sheet: None,
        total_row: false,
        period_in: None,
        columns: &[
            ("支部名称", |r| r.branch.clone()),
            ("考核季度", |r| format!("{}年第{}季度", r.quarter.year, r.quarter.quarter)),
            ("类型", |r| r.kind.to_string()),
            ("说明", |r| r.note.to_string()),
        ],
    },
};

// ── the other prefecture ─────────────────────────────────────────────────────────────────

/// Service-team actions raise the next quarter's fee recovery; model-post benchmarking lowers the
/// same quarter's complaints. Safety study and 三亮三比 carry nothing here.
const OTHER_EFFECTS: &[Effect] = &[
    Effect {
        id: "model_post_fewer_complaints_same_quarter",
        activity: MODEL_POST,
        target: Target::Complaints,
        indicator: "complaint_control",
        lag: 0,
        b: -0.25,
        raw_sign: "negative",
        better_sign: "positive",
        mechanism: "complaints per 10 000 customers in quarter t are multiplied by exp(b * z), z = (count_t - expected) / sqrt(expected) of the station's 党员示范岗 count in quarter t",
        indicator_zh: "客户诉求管控 (`complaint_control`)",
        direction_zh: "开展越多，当季每万户投诉越少（更好）",
        mechanism_zh: "当季投诉率 × exp({b} · z)，z 为当季次数的标准化偏差",
    },
    Effect {
        id: "service_team_higher_fee_recovery_next_quarter",
        activity: SERVICE_TEAM,
        target: Target::UnpaidFees,
        indicator: "fee_recovery",
        lag: 1,
        b: -0.30,
        raw_sign: "positive",
        better_sign: "positive",
        mechanism: "the unpaid share of billed fees (1 - recovery) in quarter t+1 is multiplied by exp(b * z), z the station's standardised 共产党员服务队 count in quarter t",
        indicator_zh: "电费回收率 (`fee_recovery`)",
        direction_zh: "开展越多，下季度欠费比例越低、回收率越高（更好）",
        mechanism_zh: "下季度欠费比例（1 − 回收率）× exp({b} · z)",
    },
];

pub(crate) static OTHER: LayoutSpec = LayoutSpec {
    company: Some("国网博斯腾供电公司"),
    stations: Some(60),
    first_quarter: (2021, 1),
    quarters: 8,
    command: "duibiao sample --layout other --out sample_other",
    dirt: &[("orders-duplicate", 8), ("orders-conflict", 6), ("orders-unknown", 4), ("outage-spanning", 3), ("party-unmatched", 2), ("party-identical", 14)],
    dirt_stations: 60,
    effects: OTHER_EFFECTS,
    effects_in_words: "In words: a station that holds more 党员示范岗 benchmarking than it usually does gets fewer complaints per 10 000 customers in the *same* quarter; a station whose 共产党员服务队 is out more than usual collects more of its bills in the *next* quarter (the unpaid share shrinks). z = (count − station's expected count) / √expected. 三亮三比 and 安全学习 carry no planted relation in this region.",
    notes: "这一地区的系统导出方式与喀什不同：电费每月一个 GB18030 文件，月份只在文件名中（`2021年01月电费回收情况.csv`，无月份列，末行“合计”）；\
采集质量为 XLSX，每年一个工作表（`2021年`），第 1 行为标题，“月份”只写 1–12；台区线损按季度汇总，文件为浏览器重复下载的名字（`台区同期线损统计表(1).csv`），季度只在第 1 行标题中；\
党建活动记录的活动日期与开始时间分列，没有编号列，同一支部同日同时、出勤相同的两次活动是两次真实活动（`identical_event`）；95598 工单以工单号为唯一键，含完全重复的行（`duplicate_row`）与工单号相同但内容不同的行（`conflicting_row`）；\
台账的县公司列写作“国网X县供电公司”，95598 的单位写作“X县Y供电所”，党组织写作“中共国网博斯腾供电公司X县供电公司Y供电所支部委员会”。\
\n\nThis region's systems export differently from Kashgar's: fee recovery is one GB18030 file per month with the month only in the file name (no month column; a 合计 line at the bottom); collection quality is an XLSX with one sheet per year (`2021年`), a title in row 1 and months written 1–12; line loss is summed per 台区 and quarter in files named as repeated browser downloads (`台区同期线损统计表(1).csv`) with the quarter only in the title line; \
the party-activity log splits the date from the start time and has no ID column, so two activities of one branch at the same day and time with the same attendance are two real events (`identical_event`); 95598 work orders are keyed by the order number and hold exact duplicate lines (`duplicate_row`) and lines that share an order number but differ (`conflicting_row`); \
the master's county column names the county company (国网X县供电公司), 95598 units are written X县Y供电所 and party organisations 中共国网博斯腾供电公司X县供电公司Y供电所支部委员会. Header lines count from 1.",
    naming: Naming::CountyCompanies,
    fee_wan_first_year: false,
    loss_per_quarter: true,
    orphan_branch: "中共{company}客户服务中心支部委员会",
    orphan_unit: "{company}客户服务中心营业厅",
    master: Table {
        files: Files::Single("基础信息/供电所台账.csv"),
        encoding: TextEncoding::Utf8,
        crlf: false,
        title: None,
        sheet: None,
        total_row: false,
        period_in: None,
        columns: &[
            ("单位编码", |r| r.code.clone()),
            ("供电所", |r| r.name.clone()),
            ("县供电公司", |r| r.county_label.clone()),
            ("乡镇(街道)", |r| r.township.clone()),
            ("客户数(户)", |r| r.customers.to_string()),
            ("公变台区数", |r| r.tai_areas.to_string()),
            ("党组织名称", |r| r.branch.clone()),
            ("党员数", |r| r.party_members.to_string()),
            ("供电服务高级经理数", |r| r.senior_managers.to_string()),
            ("台区经理数", |r| r.area_managers.to_string()),
        ],
    },
    aliases: None,
    fee: Table {
        files: Files::PerMonth("电费/{year}年{mm}月电费回收情况.csv"),
        encoding: TextEncoding::Gb18030,
        crlf: true,
        title: None,
        sheet: None,
        total_row: true,
        period_in: Some("file_name"),
        columns: &[
            ("单位代码", |r| r.station.as_ref().map(|s| s.0.clone()).unwrap_or_else(|| "合计".to_string())),
            ("单位名称", |r| r.station.as_ref().map(|s| s.1.clone()).unwrap_or_default()),
            ("应收金额(元)", |r| amount(r.billed, false)),
            ("实收金额(元)", |r| amount(r.paid, false)),
            ("回收率(%)", |r| format!("{:.2}", r.paid / r.billed * 100.0)),
        ],
    },
    collection: Table {
        files: Files::Single("采集/用电信息采集质量统计.xlsx"),
        encoding: TextEncoding::Utf8,
        crlf: false,
        title: Some("{company}{year}年用电信息采集质量统计"),
        sheet: Some("{year}年"),
        total_row: false,
        period_in: Some("sheet_name"),
        columns: &[
            ("供电所编号", |r| Cell::Text(r.code.clone())),
            ("供电所", |r| Cell::Text(r.name.clone())),
            ("月份", |r| Cell::Number(f64::from(r.month.month))),
            ("应采集户数", |r| Cell::Number(r.expected)),
            ("实采集户数", |r| Cell::Number(r.collected)),
            ("采集成功率", |r| Cell::Number((r.collected / r.expected * 1e4).round() / 1e4)),
        ],
    },
    line_loss: Table {
        files: Files::Numbered { stem: "线损/台区同期线损统计表", ext: "csv" },
        encoding: TextEncoding::Utf8Bom,
        crlf: false,
        title: Some("{company}{year}年第{quarter}季度台区同期线损统计表"),
        sheet: None,
        total_row: false,
        period_in: Some("title_line"),
        columns: &[
            ("台区编码", |r| r.tai_area.clone()),
            ("台区名称", |r| r.tai_area_name.clone()),
            ("供电所编码", |r| r.station_code.clone()),
            ("供电量(千瓦时)", |r| thousands(r.supplied, 0)),
            ("售电量(千瓦时)", |r| match r.sold {
                Ok(sold) => thousands(sold, 0),
                Err(text) => text.to_string(),
            }),
            ("线损率", |r| match r.sold {
                Ok(sold) => percent((r.supplied - sold) / r.supplied, 2),
                Err(_) => String::new(),
            }),
        ],
    },
    work_orders: Table {
        files: Files::PerQuarter("95598/{year}年第{quarter}季度95598工单明细.csv"),
        encoding: TextEncoding::Utf8Bom,
        crlf: false,
        title: None,
        sheet: None,
        total_row: false,
        period_in: None,
        columns: &[
            ("工单号", |r| format!("GD{}{:02}{:03}{:04}", r.month.year, r.month.month, r.station, r.seq)),
            ("受理日期", |r| timestamp(r.month, r.second, '/', true)),
            ("诉求类型", |r| r.kind.to_string()),
            ("诉求子类", |r| r.subtype.to_string()),
            ("所属单位", |r| r.unit.clone()),
            ("工单状态", |r| r.status.to_string()),
        ],
    },
    om_index: Table {
        files: Files::PerYear("运检/{year}年配网运检管理指数.csv"),
        encoding: TextEncoding::Gbk,
        crlf: true,
        title: None,
        sheet: None,
        total_row: false,
        period_in: None,
        columns: &[
            ("供电所编码", |r| r.code.clone()),
            ("供电所名称", |r| r.name.clone()),
            ("统计月份", |r| r.month.to_string()),
            ("故障停运率", |r| format!("{:.1}", r.scores[0])),
            ("消缺及时率", |r| format!("{:.1}", r.scores[1])),
            ("重过载治理", |r| format!("{:.1}", r.scores[2])),
            ("低电压治理", |r| format!("{:.1}", r.scores[3])),
            ("抢修到达及时率", |r| format!("{:.1}", r.scores[4])),
            ("运检管理指数", |r| format!("{:.2}", r.index)),
        ],
    },
    outages: Table {
        files: Files::PerYear("停电/{year}年停电事件明细.csv"),
        encoding: TextEncoding::Utf8,
        crlf: false,
        title: None,
        sheet: None,
        total_row: false,
        period_in: None,
        columns: &[
            ("停电事件编号", |r| format!("{}-{}-{:03}", r.station_code, r.quarter, r.seq)),
            ("所属供电所编码", |r| r.station_code.clone()),
            ("停电性质", |r| (if r.fault { "故障停电" } else { "计划停电" }).to_string()),
            ("开始时间", |r| minute_stamp(r.quarter, r.start, '/')),
            ("结束时间", |r| minute_stamp(r.quarter, r.end, '/')),
            ("停电用户数", |r| r.customers.to_string()),
        ],
    },
    party: Table {
        files: Files::PerYear("党建/{year}年党组织活动记录.csv"),
        encoding: TextEncoding::Gb18030,
        crlf: true,
        title: None,
        sheet: None,
        total_row: false,
        period_in: None,
        columns: &[
            ("党组织名称", |r| r.branch.clone()),
            ("活动日期", |r| timestamp(r.month, r.start, '-', false)[..10].to_string()),
            ("开始时间", |r| timestamp(r.month, r.start, '-', false)[11..].to_string()),
            ("活动类别", |r| r.kind.label.to_string()),
            ("活动主题", |r| r.topic.to_string()),
            ("应参加人数", |r| r.expected.to_string()),
            ("实际参加人数", |r| r.present.to_string()),
            ("活动时长(分钟)", |r| (r.hours * 60).to_string()),
        ],
    },
    stars: Table {
        files: Files::PerYear("党建/{year}年星级党员评定.csv"),
        encoding: TextEncoding::Utf8Bom,
        crlf: false,
        title: None,
        sheet: None,
        total_row: false,
        period_in: None,
        columns: &[
            ("党组织名称", |r| r.branch.clone()),
            ("姓名", |r| r.member.clone()),
            ("评定月份", |r| format!("{}年{}月", r.month.year, r.month.month)),
            ("星级评定", |r| r.stars.to_string()),
            ("安全积分", |r| r.points.to_string()),
        ],
    },
    flags: Table {
        files: Files::Single("党建/流动红旗及挂牌督办.csv"),
        encoding: TextEncoding::Utf8Bom,
        crlf: false,
        title: None,
        sheet: None,
        total_row: false,
        period_in: None,
        columns: &[
            ("党组织名称", |r| r.branch.clone()),
            ("季度", |r| r.quarter.to_string()),
            ("类别", |r| r.kind.to_string()),
            ("备注", |r| r.note.to_string()),
        ],
    },
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_group_months_as_named() {
        let quarters = Quarter::new(2021, 1).span(8);
        let monthly = Files::PerMonth("电费/{year}年{mm}月电费回收情况.csv").groups(&quarters);
        assert_eq!(monthly.len(), 24);
        assert_eq!(monthly[0].0, "电费/2021年01月电费回收情况.csv");
        assert_eq!(monthly[23].0, "电费/2022年12月电费回收情况.csv");
        let yearly = Files::PerYear("党建/{year}年党组织活动记录.csv").groups(&quarters);
        assert_eq!(
            yearly.iter().map(|(p, g)| (p.as_str(), g.len())).collect::<Vec<_>>(),
            [("党建/2021年党组织活动记录.csv", 12), ("党建/2022年党组织活动记录.csv", 12)]
        );
        let numbered = Files::Numbered { stem: "线损/台区同期线损统计表", ext: "csv" }.groups(&quarters);
        assert_eq!(numbered[0].0, "线损/台区同期线损统计表.csv");
        assert_eq!(numbered[7].0, "线损/台区同期线损统计表(7).csv");
        assert_eq!(numbered[7].1[0], Month::new(2022, 10));
        let single = Files::Single("collection/采集质量_{first}-{last}.xlsx").groups(&Quarter::new(2019, 1).span(8));
        assert_eq!(single[0].0, "collection/采集质量_2019-2020.xlsx");
    }

    #[test]
    fn split_date_and_time_come_from_one_timestamp() {
        let row = PartyRow {
            branch: String::new(),
            kind: &super::super::model::ACTIVITY_TYPES[0],
            topic: "",
            month: Month::new(2021, 3),
            start: 4 * 86_400 + 15 * 3600,
            hours: 2,
            place: String::new(),
            expected: 5,
            present: 4,
            recorder: String::new(),
        };
        let cells = OTHER.party.record(&row);
        assert_eq!(cells[1], "2021-03-05");
        assert_eq!(cells[2], "15:00");
        assert_eq!(cells[7], "120");
    }
}
