//! What init reads from a table's first rows: which row is the header, which rows are totals,
//! and each column's type and format — by trying the parsers `run` uses, so that a type init
//! proposes is one the run reads.

use std::collections::BTreeSet;

use crate::ingest::parse;

/// Words that start a total row (合计 lines under a table).
pub(crate) const TOTAL_WORDS: [&str; 3] = ["合计", "小计", "总计"];

/// Share of a column's sampled values that may fail its proposed type (they go to quarantine).
const MAX_MISFIT_SHARE: f64 = 0.02;

/// Header words that mark a calendar column (a plain number in it may be 202009 or a serial).
const TIME_WORDS: [&str; 7] = ["月", "期", "季", "日期", "时间", "年度", "date"];

/// Header words that mark an identifier: its digits are text (codes keep leading zeros).
const CODE_WORDS: [&str; 6] = ["编码", "编号", "代码", "号码", "ID", "id"];

/// Header words of counts, whose whole numbers are integers.
const COUNT_WORDS: [&str; 7] = ["数", "次", "人", "户", "个", "级", "分"];

/// A table's shape: the header row, title lines above it, the data rows below it.
#[derive(Debug, Clone)]
pub(crate) struct Shape {
    /// 0-based index of the header row.
    pub header_index: usize,
    pub headers: Vec<String>,
    /// The first non-empty row above the header, joined.
    pub title: Option<String>,
    /// Data rows (indexes into the table's rows), blank rows and total rows excluded.
    pub data: Vec<usize>,
    /// Total rows: (column index, prefixes seen, count).
    pub totals: Option<(usize, BTreeSet<String>, usize)>,
}

/// The header row: the first of the top rows with at least two non-empty text cells, as many as
/// any of the rows that follow it, none of them a number.
pub fn shape(rows: &[Vec<String>]) -> Option<Shape> {
    let filled = |r: &Vec<String>| r.iter().filter(|c| !c.is_empty()).count();
    let header_index = (0..rows.len().min(15)).find(|&i| {
        let n = filled(&rows[i]);
        let widest_below = rows[i + 1..].iter().take(50).map(filled).max().unwrap_or(0);
        let texts = rows[i].iter().filter(|c| !c.is_empty()).all(|c| c.parse::<f64>().is_err());
        let unique = rows[i].iter().filter(|c| !c.is_empty()).collect::<BTreeSet<_>>().len() == n;
        n >= 2 && n >= widest_below && texts && unique
    })?;
    let mut headers: Vec<String> = rows[header_index].clone();
    while headers.last().is_some_and(String::is_empty) {
        headers.pop();
    }
    let title = rows[..header_index].iter().map(|r| r.iter().filter(|c| !c.is_empty()).cloned().collect::<Vec<_>>().join(" ")).find(|t| !t.is_empty());
    let mut data = Vec::new();
    let mut totals: Option<(usize, BTreeSet<String>, usize)> = None;
    for (i, row) in rows.iter().enumerate().skip(header_index + 1) {
        if filled(row) == 0 {
            continue;
        }
        let total = row.iter().take(4).enumerate().find_map(|(c, cell)| TOTAL_WORDS.iter().find(|w| cell.starts_with(*w)).map(|w| (c, w.to_string())));
        match total {
            Some((c, word)) => {
                let t = totals.get_or_insert_with(|| (c, BTreeSet::new(), 0));
                if t.0 == c {
                    t.1.insert(word);
                    t.2 += 1;
                } else {
                    data.push(i);
                }
            }
            None => data.push(i),
        }
    }
    Some(Shape { header_index, headers, title, data, totals })
}

/// A column type init proposes, in the pipeline's words.
#[derive(Debug, Clone, PartialEq)]
pub enum Kind {
    Text,
    Integer,
    /// `percent`: some values are written with %; `wan_yuan`: the header says 万元.
    Number {
        percent: bool,
        thousands: bool,
        wan_yuan: bool,
    },
    Month(Option<&'static str>),
    Quarter,
    Date(Option<&'static str>),
    Timestamp(Option<&'static str>),
    /// Only a time of day (15:00): half of a date + time pair.
    TimeOfDay,
}

impl Kind {
    pub(crate) fn type_name(&self) -> Option<&'static str> {
        Some(match self {
            Kind::Text => return None,
            Kind::Integer => "integer",
            Kind::Number { .. } => "number",
            Kind::Month(_) => "month",
            Kind::Quarter => "quarter",
            Kind::Date(_) => "date",
            Kind::Timestamp(_) => "timestamp",
            Kind::TimeOfDay => return None,
        })
    }

    pub fn format(&self) -> Option<&'static str> {
        match self {
            Kind::Month(f) | Kind::Date(f) | Kind::Timestamp(f) => *f,
            _ => None,
        }
    }

    pub(crate) fn is_temporal(&self) -> bool {
        matches!(self, Kind::Month(_) | Kind::Quarter | Kind::Date(_) | Kind::Timestamp(_))
    }
}

/// One column as sampled.
#[derive(Debug, Clone)]
pub(crate) struct Column {
    pub header: String,
    pub kind: Kind,
    /// Non-empty values sampled.
    pub sampled: usize,
    /// Sampled values that do not read as `kind`, with the first of them.
    pub misfits: usize,
    pub misfit_example: Option<String>,
}

/// Types the columns of a table from its data rows.
pub fn columns(rows: &[Vec<String>], shape: &Shape) -> Vec<Column> {
    shape
        .headers
        .iter()
        .enumerate()
        .filter(|(_, h)| !h.is_empty())
        .map(|(i, header)| {
            let cells: Vec<&str> = shape.data.iter().map(|&r| rows[r].get(i).map_or("", String::as_str)).collect();
            let values: Vec<&str> = cells.iter().copied().filter(|c| !c.is_empty()).collect();
            let (kind, misfits, misfit_example) = kind_of(header, &values);
            Column { header: header.clone(), kind, sampled: values.len(), misfits, misfit_example }
        })
        .collect()
}

/// The most specific type that reads all but a few values, with the misfits.
fn kind_of(header: &str, values: &[&str]) -> (Kind, usize, Option<String>) {
    if values.is_empty() {
        return (Kind::Text, 0, None);
    }
    let code = CODE_WORDS.iter().any(|w| header.contains(w));
    let timeish = TIME_WORDS.iter().any(|w| header.contains(w));
    let all_digits = values.iter().all(|v| v.bytes().all(|b| b.is_ascii_digit()));
    let leading_zero = values.iter().any(|v| v.len() > 1 && v.starts_with('0') && v.bytes().all(|b| b.is_ascii_digit()));
    if code || leading_zero {
        return (Kind::Text, 0, None);
    }
    if values.iter().all(|v| is_time_of_day(v)) {
        return (Kind::TimeOfDay, 0, None);
    }
    let mut candidates: Vec<Kind> = Vec::new();
    if !all_digits || timeish {
        if values.iter().filter(|v| v.contains(':')).count() * 2 > values.len() {
            candidates.extend(timestamp_kinds());
        }
        candidates.extend(date_kinds());
        candidates.extend(month_kinds());
        candidates.push(Kind::Quarter);
    }
    // Whole numbers are integers only in counts (户数, 人数, 次数, 星级, 积分); an amount or a
    // quantity that happens to be whole in the sample stays a number.
    if timeish || COUNT_WORDS.iter().any(|w| header.contains(w)) {
        candidates.push(Kind::Integer);
    }
    let wan_yuan = header.contains("万元");
    let percent = values.iter().any(|v| v.ends_with('%'));
    let thousands = values.iter().any(|v| v.contains(','));
    candidates.push(Kind::Number { percent, thousands, wan_yuan });
    for kind in candidates {
        let misfits: Vec<&&str> = values.iter().filter(|v| !reads_as(&kind, v)).collect();
        if (misfits.len() as f64) <= MAX_MISFIT_SHARE * values.len() as f64 && misfits.len() < values.len() {
            return (kind, misfits.len(), misfits.first().map(|v| v.to_string()));
        }
    }
    (Kind::Text, 0, None)
}

fn timestamp_kinds() -> Vec<Kind> {
    [None, Some("yyyy/M/d H:mm"), Some("yyyy/M/d H:mm:ss"), Some("yyyy.MM.dd HH:mm")].into_iter().map(Kind::Timestamp).collect()
}

fn date_kinds() -> Vec<Kind> {
    [None, Some("yyyy/M/d"), Some("yyyy年M月d日")].into_iter().map(Kind::Date).collect()
}

fn month_kinds() -> Vec<Kind> {
    [None, Some("yyyy年M月"), Some("yyyy-M")].into_iter().map(Kind::Month).collect()
}

/// Whether `run` reads the value as this type (at UTC+8; the offset does not change what reads).
fn reads_as(kind: &Kind, v: &str) -> bool {
    match kind {
        Kind::Text | Kind::TimeOfDay => true,
        Kind::Integer => parse::integer(v).is_ok(),
        Kind::Number { .. } => parse::number(v, 1.0).is_ok(),
        Kind::Month(f) => parse::month(v, *f).is_ok(),
        Kind::Quarter => parse::quarter(v).is_ok(),
        Kind::Date(f) => parse::date(v, *f).is_ok(),
        Kind::Timestamp(f) => parse::timestamp(v, *f, 480).is_ok(),
    }
}

/// 15:00, 9:30, 15:00:00.
pub(crate) fn is_time_of_day(v: &str) -> bool {
    let parts: Vec<&str> = v.split(':').collect();
    (2..=3).contains(&parts.len())
        && parts.iter().all(|p| !p.is_empty() && p.len() <= 2 && p.bytes().all(|b| b.is_ascii_digit()))
        && parts[0].parse::<u32>().is_ok_and(|h| h < 24)
        && parts[1..].iter().all(|p| p.len() == 2 && p.parse::<u32>().is_ok_and(|m| m < 60))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rows(text: &str) -> Vec<Vec<String>> {
        text.lines().map(|l| l.split(',').map(|c| c.trim().to_string()).collect()).collect()
    }

    #[test]
    fn the_header_is_found_below_a_title_and_totals_are_set_apart() {
        let r = rows("国网某供电公司2021年第三季度统计表,,\n序号,单位编码,应收电费(万元)\n1,0042,12.5\n2,0043,1234.5\n合计,,1247\n");
        let s = shape(&r).unwrap();
        assert_eq!(s.header_index, 1);
        assert_eq!(s.title.as_deref(), Some("国网某供电公司2021年第三季度统计表"));
        assert_eq!(s.data, vec![2, 3]);
        let (column, prefixes, n) = s.totals.clone().unwrap();
        assert_eq!((column, n), (0, 1));
        assert!(prefixes.contains("合计"));
        let c = columns(&r, &s);
        assert_eq!(c[1].kind, Kind::Text, "codes with leading zeros stay text");
        assert!(matches!(c[2].kind, Kind::Number { wan_yuan: true, .. }));
    }

    #[test]
    fn types_follow_what_the_parsers_read() {
        let kind = |h: &str, v: &[&str]| kind_of(h, v).0;
        assert_eq!(kind("用户数", &["100", "2500", "43862"]), Kind::Integer, "plain numbers are not serial dates without a time word");
        assert!(matches!(kind("供电量(千瓦时)", &["100", "2500"]), Kind::Number { .. }), "whole amounts are numbers unless the header counts");
        assert_eq!(kind("统计月份", &["202101", "202102"]), Kind::Month(None));
        assert_eq!(kind("统计月份", &["2021年01月", "2021年12月"]), Kind::Month(None));
        assert_eq!(kind("活动日期", &["2021-03-05", "2021-12-31"]), Kind::Date(None));
        assert_eq!(kind("受理时间", &["2021-03-05 15:00:00", "2021-12-31 08:01:02"]), Kind::Timestamp(None));
        assert_eq!(kind("开始时间", &["15:00", "9:30"]), Kind::TimeOfDay);
        assert_eq!(kind("考核季度", &["2021年第1季度", "2021年第4季度"]), Kind::Quarter);
        assert!(matches!(kind("回收率", &["98.5%", "100%"]), Kind::Number { percent: true, .. }));
        assert_eq!(kind("名称", &["托克扎克供电所", "乌帕尔供电所"]), Kind::Text);
        // One dirty value in a hundred still leaves the column a number (that row is quarantined).
        let mut v: Vec<&str> = vec!["1.5"; 99];
        v.push("n/a");
        let (k, misfits, example) = kind_of("供电量", &v);
        assert!(matches!(k, Kind::Number { .. }));
        assert_eq!((misfits, example.as_deref()), (1, Some("n/a")));
    }
}
