//! One writer per source system. Each renders the latent truth into the system's own grain,
//! layout, encoding and number formats, plants the documented dirt, and reports what it wrote.

use std::collections::HashSet;
use std::io;

use rust_xlsxwriter::{DocProperties, ExcelDateTime, Workbook, XlsxError};

use super::geography::{Spelling, alias_spellings, rule_variant};
use super::ledger::{Dirt, Export, FileEntry};
use super::model::{ACTIVITY_TYPES, StationTruth};
use super::rng::{Draw, stream};
use super::textfile::{CsvFile, TextEncoding, percent, thousands};
use super::Context;
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

fn csv(ctx: &Context, relative: &str, encoding: TextEncoding, crlf: bool) -> io::Result<CsvFile> {
    CsvFile::create(&ctx.out.join(relative), encoding, crlf)
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

fn count_spelling(export: &mut Export, spelling: Spelling) {
    match spelling {
        Spelling::Canonical => {}
        Spelling::RuleVariant => export.add(Dirt::NameVariantRule, 1),
        Spelling::AliasOnly => export.add(Dirt::NameVariantAlias, 1),
    }
}

/// Station master (供电所台账) and alias table (别名表).
pub fn master(ctx: &Context) -> io::Result<Export> {
    let mut export = Export::new("stations");
    let path = "master/供电所台账.csv";
    let headers = ["供电所编码", "供电所名称", "所属县公司", "县公司编码", "乡镇", "用户数", "台区数", "党支部名称", "党员人数", "高级经理人数", "台区经理人数"];
    let mut f = csv(ctx, path, TextEncoding::Utf8Bom, false)?;
    f.row(&headers)?;
    for (station, st) in ctx.org.stations.iter().zip(&ctx.truth.stations) {
        let county = &ctx.org.counties[station.county];
        f.row(&[
            station.code.clone(),
            station.name.clone(),
            county.name.clone(),
            county.code.clone(),
            format!("{}{}", station.base, station.township_suffix),
            st.customers.to_string(),
            st.tai_areas.to_string(),
            station.branch_name(),
            st.party_members.to_string(),
            st.senior_managers.to_string(),
            st.area_managers.to_string(),
        ])?;
    }
    f.finish()?;
    export.file(FileEntry::csv(path, TextEncoding::Utf8Bom, 0, &headers, ctx.org.stations.len()));

    let mut aliases = Export::new("aliases");
    let path = "master/供电所别名.csv";
    let headers = ["名称写法", "供电所编码", "说明"];
    let mut f = csv(ctx, path, TextEncoding::Utf8Bom, false)?;
    f.row(&headers)?;
    for station in &ctx.org.stations {
        let [abbreviation, typo] = alias_spellings(station);
        f.row(&[abbreviation, station.code.clone(), "简称".to_string()])?;
        let note = if typo.ends_with("电管所") { "旧称" } else { "常见错别字" };
        f.row(&[typo, station.code.clone(), note.to_string()])?;
    }
    f.finish()?;
    aliases.file(FileEntry::csv(path, TextEncoding::Utf8Bom, 0, &headers, 2 * ctx.org.stations.len()));
    export.merge(aliases);
    Ok(export)
}

/// Fee recovery (营销系统): station-month rows, GBK with CRLF, a title row above the header, a
/// 合计 row at the bottom, amounts with thousands separators; the first year is in 万元.
pub fn fee(ctx: &Context) -> io::Result<Export> {
    let mut export = Export::new("fee");
    let months: Vec<Month> = ctx.quarters.iter().flat_map(|q| q.months()).collect();
    let universe = ctx.org.stations.len() * months.len();
    let missing = targets(ctx, "fee-missing", universe, ctx.dirt(3));
    let duplicated = targets(ctx, "fee-duplicate", universe, ctx.dirt(4));
    let over = targets(ctx, "fee-over-100", universe, ctx.dirt(3));
    let first_year = ctx.quarters[0].year;
    for q in ctx.quarters {
        let path = format!("fee/营销_电费回收_{q}.csv");
        let in_wan = q.year == first_year;
        let unit = if in_wan { "万元" } else { "元" };
        let headers = ["序号".to_string(), "供电单位编码".into(), "供电单位名称".into(), "统计月份".into(), format!("应收电费({unit})"), format!("实收电费({unit})"), "电费回收率".into()];
        let mut f = csv(ctx, &path, TextEncoding::Gbk, true)?;
        f.raw_line(&format!("{}{}年第{}季度电费回收情况统计表", ctx.scale.company(), q.year, q.quarter))?;
        f.row(&headers)?;
        let (mut total_billed, mut total_paid, mut rows, mut seq) = (0.0, 0.0, 0usize, 0usize);
        for (s, (station, st)) in ctx.org.stations.iter().zip(&ctx.truth.stations).enumerate() {
            for month in q.months() {
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
                    (st.fee_recovery + 0.003 * d.normal()).min(1.0)
                };
                // Round as the system does, then total what was written.
                let (billed, paid) = if in_wan {
                    ((billed / 1e4 * 100.0).round() / 100.0, (billed * rate / 1e4 * 100.0).round() / 100.0)
                } else {
                    ((billed * 100.0).round() / 100.0, (billed * rate * 100.0).round() / 100.0)
                };
                let amount = |x: f64| if in_wan { format!("{x:.2}") } else { thousands(x, 2) };
                seq += 1;
                let record = [seq.to_string(), station.code.clone(), station.name.clone(), format!("{}年{:02}月", month.year, month.month), amount(billed), amount(paid), percent(paid / billed, 2)];
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
        let amount = |x: f64| if in_wan { format!("{x:.2}") } else { thousands(x, 2) };
        f.row(&["合计".to_string(), String::new(), String::new(), String::new(), amount(total_billed), amount(total_paid), percent(total_paid / total_billed, 2)])?;
        f.finish()?;
        export.add(Dirt::TitleRow, 1);
        export.add(Dirt::TotalRow, 1);
        if in_wan {
            export.add(Dirt::AmountsInWanYuan, rows as u64);
        }
        export.file(FileEntry::csv(&path, TextEncoding::Gbk, 1, &headers, rows).with_crlf());
    }
    Ok(export)
}

/// Meter-data collection quality (用电信息采集系统): one XLSX workbook, one sheet per year, month as
/// the number 202009, success rate as a percent string.
pub fn collection(ctx: &Context) -> io::Result<Export> {
    let mut export = Export::new("collection");
    let months: Vec<Month> = ctx.quarters.iter().flat_map(|q| q.months()).collect();
    let universe = ctx.org.stations.len() * months.len();
    let over = targets(ctx, "collection-over", universe, ctx.dirt(2));
    let years: Vec<i32> = {
        let mut y: Vec<i32> = months.iter().map(|m| m.year).collect();
        y.dedup();
        y
    };
    let path = format!("collection/采集质量_{}-{}.xlsx", years[0], years[years.len() - 1]);
    let headers = ["单位编码", "单位名称", "统计月份", "应采户数", "采集成功户数", "采集成功率"];
    let mut workbook = Workbook::new();
    let created = ExcelDateTime::from_ymd(2021, 1, 5).map_err(xlsx_error)?;
    workbook.set_properties(&DocProperties::new().set_creation_datetime(&created));
    let mut rows = 0;
    let mut sheets = Vec::new();
    for year in &years {
        let sheet_name = format!("{year}年");
        let sheet = workbook.add_worksheet();
        sheet.set_name(&sheet_name).map_err(xlsx_error)?;
        for (c, h) in headers.iter().enumerate() {
            sheet.write_string(0, c as u16, *h).map_err(xlsx_error)?;
        }
        let mut r = 1u32;
        for (s, (station, st)) in ctx.org.stations.iter().zip(&ctx.truth.stations).enumerate() {
            for (m, month) in months.iter().enumerate().filter(|(_, m)| m.year == *year) {
                let mut d = stream(ctx.seed, "collection", s as u64, m as u64);
                let expected = customers_at(st, months.len() - 1 - m).round();
                let mut collected = (expected * (st.collection_rate + 0.002 * d.normal()).min(1.0)).round();
                if over.contains(&(s * months.len() + m)) {
                    collected = expected + d.int(1, 40) as f64;
                    export.add(Dirt::CollectedOverExpected, 1);
                }
                sheet.write_string(r, 0, &station.code).map_err(xlsx_error)?;
                sheet.write_string(r, 1, &station.name).map_err(xlsx_error)?;
                sheet.write_number(r, 2, f64::from(month.year * 100) + f64::from(month.month)).map_err(xlsx_error)?;
                sheet.write_number(r, 3, expected).map_err(xlsx_error)?;
                sheet.write_number(r, 4, collected).map_err(xlsx_error)?;
                sheet.write_string(r, 5, percent(collected / expected, 2)).map_err(xlsx_error)?;
                r += 1;
                rows += 1;
            }
        }
        sheets.push(sheet_name);
    }
    let full = ctx.out.join(&path);
    std::fs::create_dir_all(full.parent().unwrap())?;
    workbook.save(&full).map_err(xlsx_error)?;
    export.file(FileEntry::xlsx(&path, sheets, 0, &headers, rows));
    Ok(export)
}

fn xlsx_error(e: XlsxError) -> io::Error {
    io::Error::other(e.to_string())
}

/// Line loss per 台区-month (同期线损系统): UTF-8 with BOM; negative supply, unparseable sales
/// figures and duplicated lines planted.
pub fn line_loss(ctx: &Context) -> io::Result<Export> {
    let mut export = Export::new("line_loss");
    let months: Vec<Month> = ctx.quarters.iter().flat_map(|q| q.months()).collect();
    let total_rows: usize = ctx.truth.stations.iter().map(|st| st.tai_areas as usize).sum::<usize>() * months.len();
    let negative = targets(ctx, "loss-negative", total_rows, ctx.dirt(5));
    let unparseable = targets(ctx, "loss-unparseable", total_rows, ctx.dirt(6));
    let duplicated = targets(ctx, "loss-duplicate", total_rows, ctx.dirt(5));
    let headers = ["台区编号", "台区名称", "所属供电所编码", "统计月份", "供电量(kWh)", "售电量(kWh)", "线损率(%)"];
    let mut row_index = 0usize;
    for q in ctx.quarters {
        let path = format!("line_loss/台区线损_{q}.csv");
        let mut f = csv(ctx, &path, TextEncoding::Utf8Bom, false)?;
        f.row(&headers)?;
        let mut rows = 0;
        for (s, (station, st)) in ctx.org.stations.iter().zip(&ctx.truth.stations).enumerate() {
            for k in 0..st.tai_areas {
                let mut fixed = stream(ctx.seed, "tai-area", s as u64, k);
                let base_supply = fixed.lognormal(st.customers as f64 / st.tai_areas as f64 * 140.0, 0.4);
                let area_effect = 0.025 * fixed.normal();
                let id = format!("{}{:04}", station.code, k + 1);
                let name = format!("{}{}号公变", station.base, k + 1);
                let mut d = stream(ctx.seed, "loss", (s as u64) << 20 | k, q.ordinal() as u64);
                for month in q.months() {
                    let loss = st.loss_mean + area_effect + 0.012 * d.normal();
                    let mut supply = (base_supply * season(month) * d.uniform(0.9, 1.1)).round();
                    let sold = (supply * (1.0 - loss)).round();
                    if negative.contains(&row_index) {
                        supply = -supply;
                        export.add(Dirt::NegativeSupply, 1);
                    }
                    let (sold_text, rate_text) = if unparseable.contains(&row_index) {
                        export.add(Dirt::UnparseableNumber, 1);
                        (d.pick(&["--", "#N/A", "待核实"]).to_string(), String::new())
                    } else {
                        (format!("{sold:.0}"), format!("{:.2}", (supply - sold) / supply * 100.0))
                    };
                    let record = [id.clone(), name.clone(), station.code.clone(), month.to_string(), format!("{supply:.0}"), sold_text, rate_text];
                    f.row(&record)?;
                    rows += 1;
                    if duplicated.contains(&row_index) {
                        f.row(&record)?;
                        rows += 1;
                        export.add(Dirt::DuplicateRow, 1);
                    }
                    row_index += 1;
                }
            }
        }
        f.finish()?;
        export.file(FileEntry::csv(&path, TextEncoding::Utf8Bom, 0, &headers, rows));
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

/// 95598 work orders: event rows with timestamps and the unit as a (variously spelled) name;
/// blank lines, duplicated lines and orders of an unknown unit planted.
pub fn work_orders(ctx: &Context) -> io::Result<Export> {
    let mut export = Export::new("work_orders");
    let months: Vec<Month> = ctx.quarters.iter().flat_map(|q| q.months()).collect();
    let universe = ctx.org.stations.len() * months.len();
    let blank = targets(ctx, "orders-blank", universe, ctx.dirt(4));
    let duplicated = targets(ctx, "orders-duplicate", universe, ctx.dirt(5));
    let unknown = targets(ctx, "orders-unknown", universe, ctx.dirt(6));
    let headers = ["工单编号", "受理时间", "工单类型", "业务子类", "供电单位", "处理状态"];
    for (qi, q) in ctx.quarters.iter().enumerate() {
        let path = format!("work_orders/95598工单_{q}.csv");
        let mut f = csv(ctx, &path, TextEncoding::Utf8, false)?;
        f.row(&headers)?;
        let mut rows = 0;
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
                    let (kind, _, subs) = if roll < 0.6 { COMPLAINT_KINDS[0] } else if roll < 0.9 { COMPLAINT_KINDS[1] } else { COMPLAINT_KINDS[2] };
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
                for (seq, (second, kind, sub)) in events.iter().enumerate() {
                    let (unit, spelling) = spell(ctx, &mut d, s);
                    count_spelling(&mut export, spelling);
                    let record = [
                        format!("{}{:02}{:05}{:04}", month.year, month.month, s, seq + 1),
                        timestamp(month, *second, '-', true),
                        kind.to_string(),
                        sub.to_string(),
                        unit,
                        if d.chance(0.97) { "已归档" } else { "处理中" }.to_string(),
                    ];
                    f.row(&record)?;
                    rows += 1;
                    if seq == 0 && duplicated.contains(&key) {
                        f.row(&record)?;
                        rows += 1;
                        export.add(Dirt::DuplicateRow, 1);
                        count_spelling(&mut export, spelling);
                    }
                }
                if unknown.contains(&key) {
                    let second = second_in_month(&mut d, month);
                    f.row(&[
                        format!("{}{:02}{:05}{:04}", month.year, month.month, s, 9000),
                        timestamp(month, second, '-', true),
                        "咨询".to_string(),
                        "业务办理".to_string(),
                        format!("{}客户服务中心营业厅", ctx.scale.company()),
                        "已归档".to_string(),
                    ])?;
                    rows += 1;
                    export.add(Dirt::UnknownUnit, 1);
                }
            }
        }
        f.finish()?;
        export.file(FileEntry::csv(&path, TextEncoding::Utf8, 0, &headers, rows));
    }
    Ok(export)
}

fn second_in_month(d: &mut Draw, month: Month) -> u32 {
    d.index((month.days() * 86_400) as usize) as u32
}

/// "2020-09-13 14:22:05" (with seconds) or "2020/09/13 14:22" (without), from seconds into the
/// month; seconds past the month's end roll into the next month.
fn timestamp(mut month: Month, mut second: u32, sep: char, with_seconds: bool) -> String {
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

/// Distribution O&M index (PMS): station-month sub-scores and the composite index.
pub fn om_index(ctx: &Context) -> io::Result<Export> {
    let mut export = Export::new("om_index");
    let headers = ["单位编码", "单位名称", "月份", "故障停运率得分", "消缺及时率得分", "重过载治理得分", "低电压治理得分", "抢修到达及时率得分", "综合指数"];
    const WEIGHTS: [f64; 5] = [0.3, 0.2, 0.2, 0.15, 0.15];
    for q in ctx.quarters {
        let path = format!("om_index/配网运检指数_{q}.csv");
        let mut f = csv(ctx, &path, TextEncoding::Utf8Bom, false)?;
        f.row(&headers)?;
        let mut rows = 0;
        for (s, (station, st)) in ctx.org.stations.iter().zip(&ctx.truth.stations).enumerate() {
            for month in q.months() {
                let mut d = stream(ctx.seed, "om", s as u64, (month.year * 12 + month.month as i32) as u64);
                let scores: Vec<f64> = WEIGHTS.iter().map(|_| ((st.om_level + 5.0 * d.normal()).clamp(40.0, 100.0) * 10.0).round() / 10.0).collect();
                let index: f64 = scores.iter().zip(WEIGHTS).map(|(s, w)| s * w).sum();
                let mut record = vec![station.code.clone(), station.name.clone(), format!("{}年{}月", month.year, month.month)];
                record.extend(scores.iter().map(|s| format!("{s:.1}")));
                record.push(format!("{index:.2}"));
                f.row(&record)?;
                rows += 1;
            }
        }
        f.finish()?;
        export.file(FileEntry::csv(&path, TextEncoding::Utf8Bom, 0, &headers, rows));
    }
    Ok(export)
}

/// Outage events (可靠性 / PMS): start, end, customers affected, fault or planned. A few planned
/// outages start late on a quarter's last day and end in the next quarter.
pub fn outages(ctx: &Context) -> io::Result<Export> {
    let mut export = Export::new("outages");
    let headers = ["事件编号", "供电所编码", "停电类型", "停电开始时间", "停电结束时间", "停电户数"];
    let n_quarters = ctx.quarters.len();
    // Spanning outages only where the next quarter is still inside the span.
    let spanning = targets(ctx, "outage-spanning", ctx.org.stations.len() * (n_quarters - 1), ctx.dirt(3));
    for (qi, q) in ctx.quarters.iter().enumerate() {
        let path = format!("outages/停电事件_{q}.csv");
        let mut f = csv(ctx, &path, TextEncoding::Utf8Bom, false)?;
        f.row(&headers)?;
        let months = q.months();
        let quarter_minutes: u32 = months.iter().map(|m| m.days() * 1440).sum();
        let mut rows = 0;
        for (s, (station, st)) in ctx.org.stations.iter().zip(&ctx.truth.stations).enumerate() {
            let truth = &ctx.truth.quarters[s][qi];
            let mut d = stream(ctx.seed, "outage", s as u64, q.ordinal() as u64);
            // (start minute into quarter, duration minutes, customers, kind)
            let mut events: Vec<(u32, u32, u64, &str)> = Vec::new();
            for _ in 0..d.poisson(3.0 * st.fault_level * st.size.powf(0.3) * truth.outage_factor) {
                let start = d.index(quarter_minutes as usize) as u32;
                let hours = d.lognormal(2.0 * truth.outage_factor, 0.6).clamp(0.1, 48.0);
                events.push((start, (hours * 60.0).round() as u32, (st.customers as f64 * d.uniform(0.01, 0.10)).round() as u64, "故障"));
            }
            for _ in 0..d.poisson(0.8) {
                let day = d.index((quarter_minutes / 1440) as usize) as u32;
                let hours = d.uniform(4.0, 8.0);
                events.push((day * 1440 + 9 * 60, (hours * 60.0).round() as u32, (st.customers as f64 * d.uniform(0.02, 0.15)).round() as u64, "计划"));
            }
            if qi + 1 < n_quarters && spanning.contains(&(s * (n_quarters - 1) + qi)) {
                let hours = d.uniform(6.0, 12.0);
                events.push((quarter_minutes - 1440 + 20 * 60, (hours * 60.0).round() as u32, (st.customers as f64 * d.uniform(0.05, 0.2)).round() as u64, "计划"));
            }
            events.sort_unstable();
            for (seq, (start, minutes, customers, kind)) in events.iter().enumerate() {
                // Planted ones and any fault that happens to run past the quarter's end.
                if start + minutes >= quarter_minutes {
                    export.add(Dirt::OutageAcrossQuarters, 1);
                }
                f.row(&[
                    format!("TD{}{}{:03}", q, station.code, seq + 1),
                    station.code.clone(),
                    kind.to_string(),
                    minute_stamp(*q, *start),
                    minute_stamp(*q, start + minutes),
                    customers.to_string(),
                ])?;
                rows += 1;
            }
        }
        f.finish()?;
        export.file(FileEntry::csv(&path, TextEncoding::Utf8Bom, 0, &headers, rows));
    }
    Ok(export)
}

/// "2020-09-13 14:22" from minutes into quarter `q` (may run past its end into the next quarter).
fn minute_stamp(q: Quarter, minute: u32) -> String {
    timestamp(q.months()[0], minute * 60, '-', false)
}

const UYGHUR_GIVEN: &[&str] = &["阿不都热合曼", "艾尔肯", "古丽娜尔", "买买提江", "热依拉", "努尔买买提", "帕提古丽", "艾买提", "阿依古丽", "吐尔逊", "迪丽努尔", "阿布来提", "麦尔旦", "祖丽皮亚", "依明江", "阿迪力"];
const UYGHUR_FATHER: &[&str] = &["买买提", "吐尔逊", "艾合买提", "阿不都拉", "吐尔洪", "卡德尔", "阿不来提", "依明", "玉素甫", "热合曼", "肉孜", "斯迪克"];
const HAN_NAMES: &[&str] = &["王建军", "李红梅", "张伟", "刘晓燕", "陈志刚", "杨帆", "赵磊", "马玉兰", "周涛", "孙丽", "黄海", "吴静", "郭强", "何敏", "高峰", "罗娟"];

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

/// Party-building activity log (党建信息化平台): GBK with CRLF; branch names in several spellings,
/// blank lines, a branch that matches no station and one station-quarter missing.
pub fn party_activities(ctx: &Context) -> io::Result<Export> {
    let mut export = Export::new("party_activities");
    let stations = ctx.org.stations.len();
    let missing = targets(ctx, "party-missing", stations * ctx.quarters.len(), ctx.dirt(1));
    let blank = targets(ctx, "party-blank", stations * ctx.quarters.len(), ctx.dirt(3));
    let headers = ["支部名称", "活动类型", "活动主题", "开始时间", "结束时间", "地点", "应到人数", "实到人数", "记录人"];
    for (qi, q) in ctx.quarters.iter().enumerate() {
        let path = format!("party/党建活动_{q}.csv");
        let mut f = csv(ctx, &path, TextEncoding::Gbk, true)?;
        f.row(&headers)?;
        let mut rows = 0;
        for (s, (station, st)) in ctx.org.stations.iter().zip(&ctx.truth.stations).enumerate() {
            let key = s * ctx.quarters.len() + qi;
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
                    events.push((month, start, t, expected, present));
                }
            }
            events.sort_by_key(|e| (e.0, e.1, e.2));
            for (month, start, t, expected, present) in events {
                let kind = &ACTIVITY_TYPES[t];
                let (branch, spelling) = branch_spelling(ctx, &mut d, s);
                count_spelling(&mut export, spelling);
                let hours = if kind.code == "supply_guarantee" { d.int(4, 12) as u32 } else { d.int(1, 3) as u32 };
                let place = match kind.code {
                    "service_team" | "volunteer" | "supply_guarantee" => format!("{}{}村", station.base, d.int(1, 12)),
                    _ => format!("{}党员活动室", station.name),
                };
                f.row(&[
                    branch,
                    kind.label.to_string(),
                    d.pick(topics(kind.code)).to_string(),
                    timestamp(month, start, '/', false),
                    timestamp(month, start + hours * 3600, '/', false),
                    place,
                    expected.to_string(),
                    present.to_string(),
                    d.pick(&members).clone(),
                ])?;
                rows += 1;
            }
        }
        // The county service centre's branch logs on the same platform; it is not a station.
        let mut d = stream(ctx.seed, "party-unmatched", 0, q.ordinal() as u64);
        let orphan = ctx.dirt(3);
        for _ in 0..orphan {
            let month = *d.pick(&q.months());
            let start = (d.index(month.days() as usize) as u32 * 24 + 10) * 3600;
            f.row(&["客户服务中心党支部".to_string(), "主题党日".into(), "主题党日：重温入党誓词".into(), timestamp(month, start, '/', false), timestamp(month, start + 7200, '/', false), "客户服务中心会议室".into(), "12".into(), "11".into(), "王建军".into()])?;
            rows += 1;
        }
        export.add(Dirt::UnmatchedBranch, orphan as u64);
        f.finish()?;
        export.file(FileEntry::csv(&path, TextEncoding::Gbk, 0, &headers, rows).with_crlf());
    }
    Ok(export)
}

/// A branch name as the party platform spells it: canonical "X供电所党支部" most of the time.
fn branch_spelling(ctx: &Context, d: &mut Draw, s: usize) -> (String, Spelling) {
    let (name, spelling) = spell(ctx, d, s);
    let branch = match spelling {
        Spelling::RuleVariant if d.chance(0.3) => format!("中共{}支部委员会", name.trim()),
        _ => format!("{name}党支部"),
    };
    (branch, spelling)
}

/// Monthly star ratings (星级党员) with safety points, per party member.
pub fn star_ratings(ctx: &Context) -> io::Result<Export> {
    let mut export = Export::new("star_ratings");
    let headers = ["支部名称", "党员姓名", "统计月份", "星级", "安全积分"];
    for q in ctx.quarters {
        let path = format!("party/星级评定_{q}.csv");
        let mut f = csv(ctx, &path, TextEncoding::Utf8Bom, false)?;
        f.row(&headers)?;
        let mut rows = 0;
        for (s, station) in ctx.org.stations.iter().enumerate() {
            let members = member_names(ctx, s);
            let mut d = stream(ctx.seed, "stars", s as u64, q.ordinal() as u64);
            for month in q.months() {
                for member in &members {
                    let stars = *d.pick(&[3, 4, 4, 4, 5, 5]) - i32::from(d.chance(0.05));
                    f.row(&[station.branch_name(), member.clone(), month.to_string(), stars.to_string(), d.int(70, 100).to_string()])?;
                    rows += 1;
                }
            }
        }
        f.finish()?;
        export.file(FileEntry::csv(&path, TextEncoding::Utf8Bom, 0, &headers, rows));
    }
    Ok(export)
}

/// Rotating red flags (流动红旗) and branches put under supervision (挂牌督办), per quarter.
/// Awarded at random in the sample: they carry no planted effect.
pub fn flags(ctx: &Context) -> io::Result<Export> {
    let mut export = Export::new("flags");
    let headers = ["支部名称", "考核季度", "类型", "说明"];
    for q in ctx.quarters {
        let path = format!("party/流动红旗督办_{q}.csv");
        let mut f = csv(ctx, &path, TextEncoding::Utf8Bom, false)?;
        f.row(&headers)?;
        let mut d = stream(ctx.seed, "flags", 0, q.ordinal() as u64);
        let label = format!("{}年第{}季度", q.year, q.quarter);
        let mut rows = 0;
        for (c, _) in ctx.org.counties.iter().enumerate() {
            let in_county: Vec<_> = ctx.org.stations.iter().filter(|s| s.county == c).collect();
            if !in_county.is_empty() && d.chance(0.8) {
                f.row(&[d.pick(&in_county).branch_name(), label.clone(), "流动红旗".into(), "季度党建考核第一名".into()])?;
                rows += 1;
            }
        }
        for station in &ctx.org.stations {
            if d.chance(0.03) {
                f.row(&[station.branch_name(), label.clone(), "挂牌督办".into(), "不放心支部，限期整改".into()])?;
                rows += 1;
            }
        }
        f.finish()?;
        export.file(FileEntry::csv(&path, TextEncoding::Utf8Bom, 0, &headers, rows));
    }
    Ok(export)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn minute_stamps_cross_month_and_quarter_ends() {
        let q = Quarter::new(2019, 1);
        assert_eq!(minute_stamp(q, 0), "2019-01-01 00:00");
        assert_eq!(minute_stamp(q, 31 * 1440 + 61), "2019-02-01 01:01");
        // 90 days in 2019Q1: minute 90*1440 is 2019-04-01 00:00.
        assert_eq!(minute_stamp(q, 90 * 1440 + 30), "2019-04-01 00:30");
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
