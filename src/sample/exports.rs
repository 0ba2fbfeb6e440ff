//! One writer per source system. Each renders the latent truth into the system's own grain,
//! plants the documented dirt, and hands every record to the layout (`layout`), which decides
//! file naming, encoding, title lines, header spellings and value formats; each writer reports
//! what it wrote.

use std::collections::HashSet;
use std::io;

use rust_xlsxwriter::{DocProperties, ExcelDateTime, Workbook, XlsxError};

use super::Context;
use super::geography::{Spelling, alias_spellings, rule_variant};
use super::layout::{AliasRow, Cell, CollectionRow, FeeRow, FlagRow, LossRow, MasterRow, Naming, OmRow, OrderRow, OutageRow, PartyRow, StarRow, Table, fill};
use super::ledger::{Dirt, Export, FileEntry};
use super::model::{ACTIVITY_TYPES, MODEL_POST, StationTruth};
use super::rng::{Draw, stream};
use super::textfile::CsvFile;
use crate::base::period::{Month, Quarter};

/// `n` distinct indexes from `0..universe`, drawn from their own stream.
fn targets(ctx: &Context, name: &str, universe: usize, n: usize) -> HashSet<usize> {
    let mut d = stream(ctx.seed, name, 0, 0);
    let n = n.min(universe);
    let mut picked = HashSet::with_capacity(n);
    while picked.len() < n {
        picked.insert(d.index(universe));
    }
    picked
}

/// Customers of a station in a month: the master's figure is the latest (end of span); earlier
/// months have slightly fewer (0.4 % growth a month).
fn customers_at(st: &StationTruth, months_before_end: usize) -> f64 {
    st.customers as f64 * (1.0 - 0.004 * months_before_end as f64)
}

fn season(month: Month) -> f64 {
    match month.month {
        12 | 1 | 2 => 1.25,
        6..=8 => 1.15,
        _ => 1.0,
    }
}

/// The quarters whose months a file holds, in order.
fn quarters_of(group: &[Month]) -> Vec<Quarter> {
    let mut quarters: Vec<Quarter> = group.iter().map(|m| m.quarter()).collect();
    quarters.dedup();
    quarters
}

/// Opens a CSV file of a table and writes its title line (if any) and header.
fn open<R, V>(ctx: &Context, export: &mut Export, table: &Table<R, V>, path: &str, group: &[Month], headers: &[String]) -> io::Result<CsvFile> {
    let mut f = CsvFile::create(&ctx.out.join(path), table.encoding, table.crlf)?;
    if let Some(title) = table.title {
        f.raw_line(&fill(title, ctx.company(), group, ctx.span()))?;
        export.add(Dirt::TitleRow, 1);
    }
    f.row(headers)?;
    Ok(f)
}

/// The ledger entry of a finished CSV file of a table.
fn entry<R, V>(table: &Table<R, V>, path: &str, headers: &[String], rows: usize) -> FileEntry {
    let entry = FileEntry::csv(path, table.encoding, table.header_row(), headers, rows).with_period_in(table.period_in);
    if table.crlf { entry.with_crlf() } else { entry }
}

/// How an export spells station `s`, with the kind of spelling (for the dirt ledger).
fn spell(ctx: &Context, d: &mut Draw, s: usize) -> (String, Spelling) {
    let station = &ctx.org.stations[s];
    let roll = d.unit();
    if roll < 0.80 {
        (station.name.clone(), Spelling::Canonical)
    } else if roll < 0.94 {
        (rule_variant(d, station, &ctx.org.counties[station.county]), Spelling::RuleVariant)
    } else {
        let aliases = alias_spellings(station);
        (d.pick(&aliases).clone(), Spelling::AliasOnly)
    }
}

/// How 95598 names the unit of station `s`.
fn unit_spelling(ctx: &Context, d: &mut Draw, s: usize) -> (String, Spelling) {
    match ctx.layout.naming {
        Naming::Kashgar => spell(ctx, d, s),
        Naming::CountyCompanies => {
            let station = &ctx.org.stations[s];
            let county = &ctx.org.counties[station.county];
            if d.chance(0.85) {
                (format!("{}{}", county.common, station.name), Spelling::Wrapped)
            } else {
                (format!("{}{}", county_company(&county.name), station.name), Spelling::Wrapped)
            }
        }
    }
}

fn count_spelling(export: &mut Export, spelling: Spelling) {
    match spelling {
        Spelling::Canonical => {}
        Spelling::RuleVariant => export.add(Dirt::NameVariantRule, 1),
        Spelling::AliasOnly => export.add(Dirt::NameVariantAlias, 1),
        Spelling::Wrapped => export.add(Dirt::WrappedName, 1),
    }
}

/// 国网X县供电公司: how State Grid names a county company.
fn county_company(county: &str) -> String {
    format!("国网{county}供电公司")
}

/// The county as the station master's county column names it.
fn county_label(ctx: &Context, county: usize) -> String {
    let county = &ctx.org.counties[county];
    match ctx.layout.naming {
        Naming::Kashgar => county.name.clone(),
        Naming::CountyCompanies => county_company(&county.name),
    }
}

/// The party organisation of station `s` as the master, ratings and flags name it.
fn branch_name(ctx: &Context, s: usize) -> String {
    let station = &ctx.org.stations[s];
    match ctx.layout.naming {
        Naming::Kashgar => station.branch_name(),
        Naming::CountyCompanies => format!("中共{}{}供电公司{}支部委员会", ctx.company(), ctx.org.counties[station.county].name, station.name),
    }
}

/// Station master (供电所台账) and, where the region keeps one, the alias table (别名表).
pub fn master(ctx: &Context) -> io::Result<Export> {
    let mut export = Export::new("stations");
    let table = &ctx.layout.master;
    for (path, group) in table.files.groups(ctx.quarters) {
        let headers = table.headers("");
        let mut f = open(ctx, &mut export, table, &path, &group, &headers)?;
        for (s, (station, st)) in ctx.org.stations.iter().zip(&ctx.truth.stations).enumerate() {
            let county = &ctx.org.counties[station.county];
            f.row(&table.record(&MasterRow {
                code: station.code.clone(),
                name: station.name.clone(),
                township: format!("{}{}", station.base, station.township_suffix),
                county_label: county_label(ctx, station.county),
                county_code: county.code.clone(),
                customers: st.customers,
                tai_areas: st.tai_areas,
                branch: branch_name(ctx, s),
                party_members: st.party_members,
                senior_managers: st.senior_managers,
                area_managers: st.area_managers,
            }))?;
        }
        f.finish()?;
        export.file(entry(table, &path, &headers, ctx.org.stations.len()));
    }

    if let Some(table) = &ctx.layout.aliases {
        let mut aliases = Export::new("aliases");
        for (path, group) in table.files.groups(ctx.quarters) {
            let headers = table.headers("");
            let mut f = open(ctx, &mut aliases, table, &path, &group, &headers)?;
            for station in &ctx.org.stations {
                let [abbreviation, typo] = alias_spellings(station);
                f.row(&table.record(&AliasRow { spelling: abbreviation, code: station.code.clone(), note: "简称" }))?;
                let note = if typo.ends_with("电管所") { "旧称" } else { "常见错别字" };
                f.row(&table.record(&AliasRow { spelling: typo, code: station.code.clone(), note }))?;
            }
            f.finish()?;
            aliases.file(entry(table, &path, &headers, 2 * ctx.org.stations.len()));
        }
        export.merge(aliases);
    }
    Ok(export)
}

/// Fee recovery (营销系统): station-month rows with amounts as the system rounds them and a 合计
/// line; Kashgar's first year is in 万元. The planted effect on the unpaid share acts here.
pub fn fee(ctx: &Context) -> io::Result<Export> {
    let mut export = Export::new("fee");
    let table = &ctx.layout.fee;
    let months = ctx.months();
    let universe = ctx.org.stations.len() * months.len();
    let missing = targets(ctx, "fee-missing", universe, ctx.dirt("fee-missing"));
    let duplicated = targets(ctx, "fee-duplicate", universe, ctx.dirt("fee-duplicate"));
    let over = targets(ctx, "fee-over-100", universe, ctx.dirt("fee-over-100"));
    let first_year = ctx.quarters[0].year;
    for (path, group) in table.files.groups(ctx.quarters) {
        let in_wan = ctx.layout.fee_wan_first_year && group[0].year == first_year;
        let headers = table.headers(if in_wan { "万元" } else { "元" });
        let mut f = open(ctx, &mut export, table, &path, &group, &headers)?;
        let (mut total_billed, mut total_paid, mut rows, mut seq) = (0.0, 0.0, 0usize, 0usize);
        for (s, (station, st)) in ctx.org.stations.iter().zip(&ctx.truth.stations).enumerate() {
            for &month in &group {
                let m = months.iter().position(|x| *x == month).unwrap();
                let key = s * months.len() + m;
                if missing.contains(&key) {
                    export.add(Dirt::MissingMonth, 1);
                    continue;
                }
                let mut d = stream(ctx.seed, "fee", s as u64, m as u64);
                let billed = customers_at(st, months.len() - 1 - m) * 120.0 * season(month) * d.uniform(0.92, 1.08);
                let rate = if over.contains(&key) {
                    export.add(Dirt::RecoveryOver100, 1);
                    d.uniform(1.005, 1.04)
                } else {
                    let rate = (st.fee_recovery + 0.003 * d.normal()).min(1.0);
                    // The planted effect scales the unpaid share (none in most quarters).
                    let factor = ctx.truth.quarters[s][m / 3].unpaid_factor;
                    if factor == 1.0 { rate } else { 1.0 - (1.0 - rate) * factor }
                };
                // Round as the system does, then total what was written.
                let (billed, paid) = if in_wan {
                    ((billed / 1e4 * 100.0).round() / 100.0, (billed * rate / 1e4 * 100.0).round() / 100.0)
                } else {
                    ((billed * 100.0).round() / 100.0, (billed * rate * 100.0).round() / 100.0)
                };
                seq += 1;
                let record = table.record(&FeeRow { seq, station: Some((station.code.clone(), station.name.clone())), month, billed, paid, in_wan });
                f.row(&record)?;
                rows += 1;
                if duplicated.contains(&key) {
                    f.row(&record)?;
                    rows += 1;
                    export.add(Dirt::DuplicateRow, 1);
                }
                total_billed += billed;
                total_paid += paid;
            }
        }
        if table.total_row {
            f.row(&table.record(&FeeRow { seq, station: None, month: group[0], billed: total_billed, paid: total_paid, in_wan }))?;
            export.add(Dirt::TotalRow, 1);
        }
        f.finish()?;
        if in_wan {
            export.add(Dirt::AmountsInWanYuan, rows as u64);
        }
        export.file(entry(table, &path, &headers, rows));
    }
    Ok(export)
}

/// Meter-data collection quality (用电信息采集系统): XLSX workbooks, one sheet per year, numbers as
/// numbers; the layout decides how the month and the rate are written.
pub fn collection(ctx: &Context) -> io::Result<Export> {
    let mut export = Export::new("collection");
    let table = &ctx.layout.collection;
    let months = ctx.months();
    let universe = ctx.org.stations.len() * months.len();
    let over = targets(ctx, "collection-over", universe, ctx.dirt("collection-over"));
    let header_row = table.header_row() as u32;
    for (path, group) in table.files.groups(ctx.quarters) {
        let headers = table.headers("");
        let mut years: Vec<i32> = group.iter().map(|m| m.year).collect();
        years.dedup();
        let mut workbook = Workbook::new();
        let created = ExcelDateTime::from_ymd(2021, 1, 5).map_err(xlsx_error)?;
        workbook.set_properties(&DocProperties::new().set_creation_datetime(&created));
        let mut rows = 0;
        let mut sheets = Vec::new();
        for year in &years {
            let in_year: Vec<Month> = group.iter().copied().filter(|m| m.year == *year).collect();
            let sheet_name = fill(table.sheet.unwrap_or("{year}年"), ctx.company(), &in_year, ctx.span());
            let sheet = workbook.add_worksheet();
            sheet.set_name(&sheet_name).map_err(xlsx_error)?;
            if let Some(title) = table.title {
                sheet.write_string(0, 0, fill(title, ctx.company(), &in_year, ctx.span())).map_err(xlsx_error)?;
                export.add(Dirt::TitleRow, 1);
            }
            for (c, h) in headers.iter().enumerate() {
                sheet.write_string(header_row, c as u16, h).map_err(xlsx_error)?;
            }
            let mut r = header_row + 1;
            for (s, (station, st)) in ctx.org.stations.iter().zip(&ctx.truth.stations).enumerate() {
                for (m, month) in months.iter().enumerate().filter(|(_, m)| m.year == *year && group.contains(m)) {
                    let mut d = stream(ctx.seed, "collection", s as u64, m as u64);
                    let expected = customers_at(st, months.len() - 1 - m).round();
                    let mut collected = (expected * (st.collection_rate + 0.002 * d.normal()).min(1.0)).round();
                    if over.contains(&(s * months.len() + m)) {
                        collected = expected + d.int(1, 40) as f64;
                        export.add(Dirt::CollectedOverExpected, 1);
                    }
                    let record = CollectionRow { code: station.code.clone(), name: station.name.clone(), month: *month, expected, collected };
                    for (c, cell) in table.record(&record).into_iter().enumerate() {
                        match cell {
                            Cell::Text(text) => sheet.write_string(r, c as u16, text),
                            Cell::Number(x) => sheet.write_number(r, c as u16, x),
                        }
                        .map_err(xlsx_error)?;
                    }
                    r += 1;
                    rows += 1;
                }
            }
            sheets.push(sheet_name);
        }
        let full = ctx.out.join(&path);
        std::fs::create_dir_all(full.parent().unwrap())?;
        workbook.save(&full).map_err(xlsx_error)?;
        export.file(FileEntry::xlsx(&path, sheets, table.header_row(), &headers, rows).with_period_in(table.period_in));
    }
    Ok(export)
}

fn xlsx_error(e: XlsxError) -> io::Error {
    io::Error::other(e.to_string())
}

/// Line loss per 台区 (同期线损系统), per month or summed over the quarter as the layout says;
/// negative supply, unparseable sales figures and duplicated lines planted where the layout does.
pub fn line_loss(ctx: &Context) -> io::Result<Export> {
    let mut export = Export::new("line_loss");
    let table = &ctx.layout.line_loss;
    let months = ctx.months();
    let total_rows: usize = ctx.truth.stations.iter().map(|st| st.tai_areas as usize).sum::<usize>() * months.len();
    let negative = targets(ctx, "loss-negative", total_rows, ctx.dirt("loss-negative"));
    let unparseable = targets(ctx, "loss-unparseable", total_rows, ctx.dirt("loss-unparseable"));
    let duplicated = targets(ctx, "loss-duplicate", total_rows, ctx.dirt("loss-duplicate"));
    let per_quarter = ctx.layout.loss_per_quarter;
    let mut row_index = 0usize;
    for (path, group) in table.files.groups(ctx.quarters) {
        let headers = table.headers("");
        let mut f = open(ctx, &mut export, table, &path, &group, &headers)?;
        let mut rows = 0;
        for q in quarters_of(&group) {
            for (s, (station, st)) in ctx.org.stations.iter().zip(&ctx.truth.stations).enumerate() {
                for k in 0..st.tai_areas {
                    let mut fixed = stream(ctx.seed, "tai-area", s as u64, k);
                    let base_supply = fixed.lognormal(st.customers as f64 / st.tai_areas as f64 * 140.0, 0.4);
                    let area_effect = 0.025 * fixed.normal();
                    let id = format!("{}{:04}", station.code, k + 1);
                    let name = format!("{}{}号公变", station.base, k + 1);
                    let mut d = stream(ctx.seed, "loss", (s as u64) << 20 | k, q.ordinal() as u64);
                    let (mut quarter_supply, mut quarter_sold) = (0.0, Ok(0.0));
                    for month in q.months() {
                        let loss = st.loss_mean + area_effect + 0.012 * d.normal();
                        let mut supply = (base_supply * season(month) * d.uniform(0.9, 1.1)).round();
                        let sold = (supply * (1.0 - loss)).round();
                        if negative.contains(&row_index) {
                            supply = -supply;
                            export.add(Dirt::NegativeSupply, 1);
                        }
                        let sold = if unparseable.contains(&row_index) {
                            export.add(Dirt::UnparseableNumber, 1);
                            Err(*d.pick(&["--", "#N/A", "待核实"]))
                        } else {
                            Ok(sold)
                        };
                        if per_quarter {
                            quarter_supply += supply;
                            quarter_sold = match (quarter_sold, sold) {
                                (Ok(total), Ok(x)) => Ok(total + x),
                                (Err(text), _) | (_, Err(text)) => Err(text),
                            };
                        } else {
                            let record = table.record(&LossRow {
                                tai_area: id.clone(),
                                tai_area_name: name.clone(),
                                station_code: station.code.clone(),
                                month,
                                supplied: supply,
                                sold,
                            });
                            f.row(&record)?;
                            rows += 1;
                            if duplicated.contains(&row_index) {
                                f.row(&record)?;
                                rows += 1;
                                export.add(Dirt::DuplicateRow, 1);
                            }
                        }
                        row_index += 1;
                    }
                    if per_quarter {
                        let row = LossRow {
                            tai_area: id,
                            tai_area_name: name,
                            station_code: station.code.clone(),
                            month: q.months()[0],
                            supplied: quarter_supply,
                            sold: quarter_sold,
                        };
                        f.row(&table.record(&row))?;
                        rows += 1;
                    }
                }
            }
        }
        f.finish()?;
        export.file(entry(table, &path, &headers, rows));
    }
    Ok(export)
}

const COMPLAINT_KINDS: &[(&str, f64, &[&str])] = &[
    ("投诉", 0.6, &["服务态度", "供电质量", "停送电", "电费电价"]),
    ("意见", 0.3, &["营业厅服务", "电网建设", "抄表催费"]),
    ("举报", 0.1, &["违章用电", "窃电", "工作人员违规"]),
];
const REPAIR_KINDS: &[&str] = &["低压故障", "高压故障", "计量装置故障", "客户内部故障"];
const CONSULT_KINDS: &[&str] = &["电费查询", "业务办理", "停电信息", "用电政策"];

/// 95598 work orders: event rows with timestamps and the unit as the layout spells it; blank
/// lines, exact duplicate lines, lines that share an order number but differ, and orders of a
/// unit that is no station, each where the layout plants them.
pub fn work_orders(ctx: &Context) -> io::Result<Export> {
    let mut export = Export::new("work_orders");
    let table = &ctx.layout.work_orders;
    let months = ctx.months();
    let universe = ctx.org.stations.len() * months.len();
    let blank = targets(ctx, "orders-blank", universe, ctx.dirt("orders-blank"));
    let duplicated = targets(ctx, "orders-duplicate", universe, ctx.dirt("orders-duplicate"));
    let unknown = targets(ctx, "orders-unknown", universe, ctx.dirt("orders-unknown"));
    let conflicting = targets(ctx, "orders-conflict", universe, ctx.dirt("orders-conflict"));
    for (path, group) in table.files.groups(ctx.quarters) {
        let headers = table.headers("");
        let mut f = open(ctx, &mut export, table, &path, &group, &headers)?;
        let mut rows = 0;
        for q in quarters_of(&group) {
            let qi = ctx.quarters.iter().position(|x| *x == q).unwrap();
            for (s, st) in ctx.truth.stations.iter().enumerate() {
                let complaint_rate = ctx.truth.quarters[s][qi].complaint_rate;
                for month in q.months() {
                    let m = months.iter().position(|x| *x == month).unwrap();
                    let key = s * months.len() + m;
                    let mut d = stream(ctx.seed, "orders", s as u64, m as u64);
                    let per_10k = customers_at(st, months.len() - 1 - m) / 1e4;
                    let mut events: Vec<(u32, &str, &str)> = Vec::new();
                    for _ in 0..d.poisson(complaint_rate * per_10k) {
                        let roll = d.unit();
                        let (kind, _, subs) = if roll < 0.6 {
                            COMPLAINT_KINDS[0]
                        } else if roll < 0.9 {
                            COMPLAINT_KINDS[1]
                        } else {
                            COMPLAINT_KINDS[2]
                        };
                        events.push((second_in_month(&mut d, month), kind, *d.pick(subs)));
                    }
                    for _ in 0..d.poisson(ctx.scale.repairs_per_10k() * per_10k) {
                        events.push((second_in_month(&mut d, month), "故障报修", *d.pick(REPAIR_KINDS)));
                    }
                    for _ in 0..d.poisson(ctx.scale.consultations_per_10k() * per_10k) {
                        events.push((second_in_month(&mut d, month), "咨询", *d.pick(CONSULT_KINDS)));
                    }
                    events.sort_unstable();
                    if blank.contains(&key) {
                        f.raw_line("")?;
                        export.add(Dirt::BlankLine, 1);
                    }
                    // The conflicting copy: the first complaint after the first order, re-exported
                    // with its status changed.
                    let conflict = if conflicting.contains(&key) {
                        events.iter().enumerate().skip(1).find(|(_, e)| COMPLAINT_KINDS.iter().any(|k| k.0 == e.1)).map(|(i, _)| i)
                    } else {
                        None
                    };
                    for (seq, (second, kind, sub)) in events.iter().enumerate() {
                        let (unit, spelling) = unit_spelling(ctx, &mut d, s);
                        count_spelling(&mut export, spelling);
                        let mut order = OrderRow {
                            station: s,
                            seq: seq + 1,
                            month,
                            second: *second,
                            kind,
                            subtype: sub,
                            unit,
                            status: if d.chance(0.97) { "已归档" } else { "处理中" },
                        };
                        let record = table.record(&order);
                        f.row(&record)?;
                        rows += 1;
                        if seq == 0 && duplicated.contains(&key) {
                            f.row(&record)?;
                            rows += 1;
                            export.add(Dirt::DuplicateRow, 1);
                            count_spelling(&mut export, spelling);
                        }
                        if conflict == Some(seq) {
                            order.status = if order.status == "已归档" { "处理中" } else { "已归档" };
                            f.row(&table.record(&order))?;
                            rows += 1;
                            export.add(Dirt::ConflictingRow, 1);
                            count_spelling(&mut export, spelling);
                        }
                    }
                    if unknown.contains(&key) {
                        let second = second_in_month(&mut d, month);
                        f.row(&table.record(&OrderRow {
                            station: s,
                            seq: 9000,
                            month,
                            second,
                            kind: "咨询",
                            subtype: "业务办理",
                            unit: fill(ctx.layout.orphan_unit, ctx.company(), &[month], ctx.span()),
                            status: "已归档",
                        }))?;
                        rows += 1;
                        export.add(Dirt::UnknownUnit, 1);
                    }
                }
            }
        }
        f.finish()?;
        export.file(entry(table, &path, &headers, rows));
    }
    Ok(export)
}

fn second_in_month(d: &mut Draw, month: Month) -> u32 {
    d.index((month.days() * 86_400) as usize) as u32
}

/// Distribution O&M index (PMS): station-month sub-scores and the composite index.
pub(crate) fn om_index(ctx: &Context) -> io::Result<Export> {
    let mut export = Export::new("om_index");
    let table = &ctx.layout.om_index;
    const WEIGHTS: [f64; 5] = [0.3, 0.2, 0.2, 0.15, 0.15];
    for (path, group) in table.files.groups(ctx.quarters) {
        let headers = table.headers("");
        let mut f = open(ctx, &mut export, table, &path, &group, &headers)?;
        let mut rows = 0;
        for (s, (station, st)) in ctx.org.stations.iter().zip(&ctx.truth.stations).enumerate() {
            for &month in &group {
                let mut d = stream(ctx.seed, "om", s as u64, (month.year * 12 + month.month as i32) as u64);
                let scores: Vec<f64> = WEIGHTS.iter().map(|_| ((st.om_level + 5.0 * d.normal()).clamp(40.0, 100.0) * 10.0).round() / 10.0).collect();
                let index: f64 = scores.iter().zip(WEIGHTS).map(|(s, w)| s * w).sum();
                f.row(&table.record(&OmRow { code: station.code.clone(), name: station.name.clone(), month, scores, index }))?;
                rows += 1;
            }
        }
        f.finish()?;
        export.file(entry(table, &path, &headers, rows));
    }
    Ok(export)
}

/// Outage events (可靠性 / PMS): start, end, customers affected, fault or planned. A few planned
/// outages start late on a quarter's last day and end in the next quarter.
pub fn outages(ctx: &Context) -> io::Result<Export> {
    let mut export = Export::new("outages");
    let table = &ctx.layout.outages;
    let n_quarters = ctx.quarters.len();
    // Spanning outages only where the next quarter is still inside the span.
    let spanning = targets(ctx, "outage-spanning", ctx.org.stations.len() * (n_quarters - 1), ctx.dirt("outage-spanning"));
    for (path, group) in table.files.groups(ctx.quarters) {
        let headers = table.headers("");
        let mut f = open(ctx, &mut export, table, &path, &group, &headers)?;
        let mut rows = 0;
        for q in quarters_of(&group) {
            let qi = ctx.quarters.iter().position(|x| *x == q).unwrap();
            let months = q.months();
            let quarter_minutes: u32 = months.iter().map(|m| m.days() * 1440).sum();
            for (s, (station, st)) in ctx.org.stations.iter().zip(&ctx.truth.stations).enumerate() {
                let truth = &ctx.truth.quarters[s][qi];
                let mut d = stream(ctx.seed, "outage", s as u64, q.ordinal() as u64);
                // (start minute into quarter, duration minutes, customers, fault)
                let mut events: Vec<(u32, u32, u64, bool)> = Vec::new();
                for _ in 0..d.poisson(3.0 * st.fault_level * st.size.powf(0.3) * truth.outage_factor) {
                    let start = d.index(quarter_minutes as usize) as u32;
                    let hours = d.lognormal(2.0 * truth.outage_factor, 0.6).clamp(0.1, 48.0);
                    events.push((start, (hours * 60.0).round() as u32, (st.customers as f64 * d.uniform(0.01, 0.10)).round() as u64, true));
                }
                for _ in 0..d.poisson(0.8) {
                    let day = d.index((quarter_minutes / 1440) as usize) as u32;
                    let hours = d.uniform(4.0, 8.0);
                    events.push((day * 1440 + 9 * 60, (hours * 60.0).round() as u32, (st.customers as f64 * d.uniform(0.02, 0.15)).round() as u64, false));
                }
                if qi + 1 < n_quarters && spanning.contains(&(s * (n_quarters - 1) + qi)) {
                    let hours = d.uniform(6.0, 12.0);
                    events.push((
                        quarter_minutes - 1440 + 20 * 60,
                        (hours * 60.0).round() as u32,
                        (st.customers as f64 * d.uniform(0.05, 0.2)).round() as u64,
                        false,
                    ));
                }
                // Same order as sorting (start, duration, customers, kind label) where fault
                // ("故障") sorts before planned ("计划").
                events.sort_unstable_by_key(|e| (e.0, e.1, e.2, !e.3));
                for (seq, (start, minutes, customers, fault)) in events.iter().enumerate() {
                    // Planted ones and any fault that happens to run past the quarter's end.
                    if start + minutes >= quarter_minutes {
                        export.add(Dirt::OutageAcrossQuarters, 1);
                    }
                    f.row(&table.record(&OutageRow {
                        quarter: q,
                        station_code: station.code.clone(),
                        seq: seq + 1,
                        fault: *fault,
                        start: *start,
                        end: start + minutes,
                        customers: *customers,
                    }))?;
                    rows += 1;
                }
            }
        }
        f.finish()?;
        export.file(entry(table, &path, &headers, rows));
    }
    Ok(export)
}

const UYGHUR_GIVEN: &[&str] = &[
    "阿不都热合曼",
    "艾尔肯",
    "古丽娜尔",
    "买买提江",
    "热依拉",
    "努尔买买提",
    "帕提古丽",
    "艾买提",
    "阿依古丽",
    "吐尔逊",
    "迪丽努尔",
    "阿布来提",
    "麦尔旦",
    "祖丽皮亚",
    "依明江",
    "阿迪力",
];
const UYGHUR_FATHER: &[&str] = &["买买提", "吐尔逊", "艾合买提", "阿不都拉", "吐尔洪", "卡德尔", "阿不来提", "依明", "玉素甫", "热合曼", "肉孜", "斯迪克"];
const HAN_NAMES: &[&str] =
    &["王建军", "李红梅", "张伟", "刘晓燕", "陈志刚", "杨帆", "赵磊", "马玉兰", "周涛", "孙丽", "黄海", "吴静", "郭强", "何敏", "高峰", "罗娟"];

/// The party members of station `s`: deterministic names, mostly Uyghur, some Han, distinct
/// within the branch (the platform's monthly ratings carry no member id, only the name).
fn member_names(ctx: &Context, s: usize) -> Vec<String> {
    let mut d = stream(ctx.seed, "members", s as u64, 0);
    let mut names: Vec<String> = Vec::new();
    while names.len() < ctx.truth.stations[s].party_members as usize {
        let name = if d.chance(0.7) { format!("{}·{}", d.pick(UYGHUR_GIVEN), d.pick(UYGHUR_FATHER)) } else { d.pick(HAN_NAMES).to_string() };
        if !names.contains(&name) {
            names.push(name);
        }
    }
    names
}

fn topics(code: &str) -> &'static [&'static str] {
    match code {
        "party_congress" => &["季度党员大会", "发展党员讨论会", "民主评议党员"],
        "committee_meeting" => &["月度支委会", "研究部署党建重点工作"],
        "group_meeting" => &["党小组学习", "党小组工作交流"],
        "party_lecture" => &["书记讲党课", "专题党课：不忘初心"],
        "theme_day" => &["主题党日：重温入党誓词", "主题党日：走访用电户"],
        "sanliang_sanbi" => &["亮身份、亮职责、亮承诺", "比技能、比作风、比业绩", "三亮三比月度评比"],
        "model_post" => &["党员示范岗月度对标", "党员责任区检查"],
        "service_team" => &["共产党员服务队上门服务", "春灌用电服务", "农户安全用电检查"],
        "supply_guarantee" => &["节日保电", "重要活动保电", "高考保电"],
        "safety_study" => &["安全学习：《安全工作规程》", "四不伤害月度报告会", "事故通报学习"],
        "heart_talk" => &["谈心谈话", "新员工谈心"],
        _ => &["精准扶贫走访", "志愿服务进村入户"],
    }
}

/// Party-building activity log (党建信息化平台): branch names as the layout spells them, blank
/// lines, a branch that matches no station, a station-quarter missing, and (in logs without an
/// ID) two activities of one branch at the same day and time with the same attendance, which
/// are two real events and read as identical lines.
pub fn party_activities(ctx: &Context) -> io::Result<Export> {
    let mut export = Export::new("party_activities");
    let table = &ctx.layout.party;
    let stations = ctx.org.stations.len();
    let n_quarters = ctx.quarters.len();
    let missing = targets(ctx, "party-missing", stations * n_quarters, ctx.dirt("party-missing"));
    let blank = targets(ctx, "party-blank", stations * n_quarters, ctx.dirt("party-blank"));
    // Twins only where a station-quarter held at least two 党员示范岗 activities.
    let candidates: Vec<usize> =
        (0..stations * n_quarters).filter(|k| ctx.truth.quarters[k / n_quarters][k % n_quarters].activities[MODEL_POST] >= 2).collect();
    let twins: HashSet<usize> = targets(ctx, "party-identical", candidates.len(), ctx.dirt("party-identical")).into_iter().map(|i| candidates[i]).collect();
    for (path, group) in table.files.groups(ctx.quarters) {
        let headers = table.headers("");
        let mut f = open(ctx, &mut export, table, &path, &group, &headers)?;
        let mut rows = 0;
        for q in quarters_of(&group) {
            let qi = ctx.quarters.iter().position(|x| *x == q).unwrap();
            for (s, (station, st)) in ctx.org.stations.iter().zip(&ctx.truth.stations).enumerate() {
                let key = s * n_quarters + qi;
                if missing.contains(&key) {
                    export.add(Dirt::MissingQuarter, 1);
                    continue;
                }
                if blank.contains(&key) {
                    f.raw_line("")?;
                    export.add(Dirt::BlankLine, 1);
                }
                let members = member_names(ctx, s);
                let attendance = stream(ctx.seed, "attendance", s as u64, 0).uniform(0.78, 0.97);
                let mut d = stream(ctx.seed, "party", s as u64, q.ordinal() as u64);
                // (month, second into month, type, expected, present, twin of the previous line)
                let mut events = Vec::new();
                for (t, kind) in ACTIVITY_TYPES.iter().enumerate() {
                    for i in 0..ctx.truth.quarters[s][qi].activities[t] {
                        let month = if kind.scheduled && kind.per_quarter >= 3.0 { q.months()[i as usize % 3] } else { *d.pick(&q.months()) };
                        let day = d.index(month.days() as usize) as u32;
                        let start_hour = *d.pick(&[9u32, 10, 15, 16]);
                        let expected = match kind.code {
                            "safety_study" => st.party_members + st.area_managers + st.senior_managers,
                            "service_team" => st.party_members.min(d.int(3, 6) as u64),
                            "supply_guarantee" => d.int(2, 5) as u64,
                            "heart_talk" => 2,
                            "volunteer" => d.int(3, 8) as u64,
                            _ => st.party_members,
                        };
                        let present = (0..expected).filter(|_| d.chance(attendance)).count();
                        let start = (day * 24 + start_hour) * 3600;
                        events.push((month, start, t, expected, present, false));
                    }
                }
                if twins.contains(&key) {
                    // Two posts benchmark in the same slot: the second 示范岗 activity takes the
                    // first one's day, time and attendance.
                    let posts: Vec<usize> = (0..events.len()).filter(|&i| events[i].2 == MODEL_POST).take(2).collect();
                    let first = events[posts[0]];
                    events[posts[1]] = (first.0, first.1, first.2, first.3, first.4, true);
                }
                events.sort_by_key(|e| (e.0, e.1, e.2));
                let mut previous: Vec<String> = Vec::new();
                let mut seen: HashSet<Vec<String>> = HashSet::new();
                for (month, start, t, expected, present, twin) in events {
                    let record = if twin {
                        previous.clone()
                    } else {
                        let kind = &ACTIVITY_TYPES[t];
                        let (branch, spelling) = branch_spelling(ctx, &mut d, s);
                        count_spelling(&mut export, spelling);
                        let hours = if kind.code == "supply_guarantee" { d.int(4, 12) as u32 } else { d.int(1, 3) as u32 };
                        let place = match kind.code {
                            "service_team" | "volunteer" | "supply_guarantee" => format!("{}{}村", station.base, d.int(1, 12)),
                            _ => format!("{}党员活动室", station.name),
                        };
                        table.record(&PartyRow {
                            branch,
                            kind,
                            topic: *d.pick(topics(kind.code)),
                            month,
                            start,
                            hours,
                            place,
                            expected,
                            present: present as u64,
                            recorder: d.pick(&members).clone(),
                        })
                    };
                    if twin {
                        // The twin is spelled as its first line was.
                        count_spelling(&mut export, if record[0] == branch_name(ctx, s) { Spelling::Canonical } else { Spelling::Wrapped });
                    }
                    if !seen.insert(record.clone()) {
                        export.add(Dirt::IdenticalEvent, 1);
                    }
                    f.row(&record)?;
                    rows += 1;
                    previous = record;
                }
            }
            // The county service centre's branch logs on the same platform; it is not a station.
            let mut d = stream(ctx.seed, "party-unmatched", 0, q.ordinal() as u64);
            let orphan = ctx.dirt("party-unmatched");
            let mut seen: HashSet<Vec<String>> = HashSet::new();
            for _ in 0..orphan {
                let month = *d.pick(&q.months());
                let start = (d.index(month.days() as usize) as u32 * 24 + 10) * 3600;
                let record = table.record(&PartyRow {
                    branch: fill(ctx.layout.orphan_branch, ctx.company(), &[month], ctx.span()),
                    kind: &ACTIVITY_TYPES[4],
                    topic: "主题党日：重温入党誓词",
                    month,
                    start,
                    hours: 2,
                    place: "客户服务中心会议室".into(),
                    expected: 12,
                    present: 11,
                    recorder: "王建军".into(),
                });
                if !seen.insert(record.clone()) {
                    export.add(Dirt::IdenticalEvent, 1);
                }
                f.row(&record)?;
                rows += 1;
            }
            export.add(Dirt::UnmatchedBranch, orphan as u64);
        }
        f.finish()?;
        export.file(entry(table, &path, &headers, rows));
    }
    Ok(export)
}

/// A party organisation as the platform spells it. Kashgar: canonical "X供电所党支部" most of the
/// time, rule variants and aliases otherwise. County companies: the master's full name most of the
/// time, without the prefecture company otherwise.
fn branch_spelling(ctx: &Context, d: &mut Draw, s: usize) -> (String, Spelling) {
    match ctx.layout.naming {
        Naming::Kashgar => {
            let (name, spelling) = spell(ctx, d, s);
            let branch = match spelling {
                Spelling::RuleVariant if d.chance(0.3) => format!("中共{}支部委员会", name.trim()),
                _ => format!("{name}党支部"),
            };
            (branch, spelling)
        }
        Naming::CountyCompanies => {
            if d.chance(0.8) {
                (branch_name(ctx, s), Spelling::Canonical)
            } else {
                let station = &ctx.org.stations[s];
                (format!("中共{}{}支部委员会", county_company(&ctx.org.counties[station.county].name), station.name), Spelling::Wrapped)
            }
        }
    }
}

/// Monthly star ratings (星级党员) with safety points, per party member.
pub fn star_ratings(ctx: &Context) -> io::Result<Export> {
    let mut export = Export::new("star_ratings");
    let table = &ctx.layout.stars;
    for (path, group) in table.files.groups(ctx.quarters) {
        let headers = table.headers("");
        let mut f = open(ctx, &mut export, table, &path, &group, &headers)?;
        let mut rows = 0;
        for q in quarters_of(&group) {
            for s in 0..ctx.org.stations.len() {
                let members = member_names(ctx, s);
                let branch = branch_name(ctx, s);
                let mut d = stream(ctx.seed, "stars", s as u64, q.ordinal() as u64);
                for month in q.months() {
                    for member in &members {
                        let stars = *d.pick(&[3, 4, 4, 4, 5, 5]) - i32::from(d.chance(0.05));
                        let points = d.int(70, 100);
                        f.row(&table.record(&StarRow { branch: branch.clone(), member: member.clone(), month, stars, points }))?;
                        rows += 1;
                    }
                }
            }
        }
        f.finish()?;
        export.file(entry(table, &path, &headers, rows));
    }
    Ok(export)
}

/// Rotating red flags (流动红旗) and branches put under supervision (挂牌督办), per quarter.
/// Awarded at random in the sample: they carry no planted effect.
pub(crate) fn flags(ctx: &Context) -> io::Result<Export> {
    let mut export = Export::new("flags");
    let table = &ctx.layout.flags;
    for (path, group) in table.files.groups(ctx.quarters) {
        let headers = table.headers("");
        let mut f = open(ctx, &mut export, table, &path, &group, &headers)?;
        let mut rows = 0;
        for q in quarters_of(&group) {
            let mut d = stream(ctx.seed, "flags", 0, q.ordinal() as u64);
            for (c, _) in ctx.org.counties.iter().enumerate() {
                let in_county: Vec<usize> = (0..ctx.org.stations.len()).filter(|&s| ctx.org.stations[s].county == c).collect();
                if !in_county.is_empty() && d.chance(0.8) {
                    let s = *d.pick(&in_county);
                    f.row(&table.record(&FlagRow { branch: branch_name(ctx, s), quarter: q, kind: "流动红旗", note: "季度党建考核第一名" }))?;
                    rows += 1;
                }
            }
            for s in 0..ctx.org.stations.len() {
                if d.chance(0.03) {
                    f.row(&table.record(&FlagRow { branch: branch_name(ctx, s), quarter: q, kind: "挂牌督办", note: "不放心支部，限期整改" }))?;
                    rows += 1;
                }
            }
        }
        f.finish()?;
        export.file(entry(table, &path, &headers, rows));
    }
    Ok(export)
}

#[cfg(test)]
mod tests {
    use super::super::layout::{minute_stamp, timestamp};
    use super::*;

    #[test]
    fn minute_stamps_cross_month_and_quarter_ends() {
        let q = Quarter::new(2019, 1);
        assert_eq!(minute_stamp(q, 0, '-'), "2019-01-01 00:00");
        assert_eq!(minute_stamp(q, 31 * 1440 + 61, '-'), "2019-02-01 01:01");
        // 90 days in 2019Q1: minute 90*1440 is 2019-04-01 00:00.
        assert_eq!(minute_stamp(q, 90 * 1440 + 30, '-'), "2019-04-01 00:30");
    }

    #[test]
    fn timestamps_have_the_export_formats() {
        let m = Month::new(2020, 9);
        assert_eq!(timestamp(m, 12 * 86_400 + 14 * 3600 + 22 * 60 + 5, '-', true), "2020-09-13 14:22:05");
        assert_eq!(timestamp(m, 9 * 3600 + 30 * 60, '/', false), "2020/09/01 09:30");
        // 30 September 22:00 plus 4 hours is 1 October 02:00.
        assert_eq!(timestamp(m, 29 * 86_400 + 26 * 3600, '/', false), "2020/10/01 02:00");
    }
}
