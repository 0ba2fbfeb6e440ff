//! Column values that are not one cell: a month, quarter or date found by a pattern in the
//! file's name, its folder's name, its title line or its sheet name (parts the pattern does not
//! capture read from cells of the row), and a timestamp made of a date cell and a time cell.
//!
//! `locate` works out, once per table (a CSV file or a sheet), what the file says and where the
//! cells are; a file whose name or title does not fit is an error naming the file, the text and
//! the pattern. `value` then makes each row's value.

use std::path::Path;

use super::error::IngestError;
use super::parse::{self, ParseError};
use super::read::Cell;
use crate::base::calendar::{days_from_civil, days_in_month};
use crate::base::text::to_half_width;
use crate::spec::plan::{ColumnPlan, ColumnType, DatePart, Derived, PathText};

/// What a table offers besides its cells.
#[derive(Debug, Clone, Copy)]
pub(crate) struct TableText<'a> {
    pub file: &'a Path,
    pub sheet: Option<&'a str>,
    /// The first line (row) above the header, if the header is not the first.
    pub title: Option<&'a str>,
}

/// Year, month, quarter and day as far as they are known.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Parts {
    pub year: Option<u32>,
    pub month: Option<u32>,
    pub quarter: Option<u32>,
    pub day: Option<u32>,
}

impl Parts {
    fn set(&mut self, part: DatePart, value: u32) {
        match part {
            DatePart::Year => self.year = Some(value),
            DatePart::Month => self.month = Some(value),
            DatePart::Quarter => self.quarter = Some(value),
            DatePart::Day => self.day = Some(value),
        }
    }
}

/// How a derived column gets its value in one table.
#[derive(Debug, Clone)]
pub(crate) enum DerivedAt {
    /// Parts found in the file's text, and the cells (part, index, header) giving the others.
    Path { known: Parts, cells: Vec<(DatePart, usize, String)> },
    /// Indexes and headers of the date and the time cells.
    DateTime { date: (usize, String), time: (usize, String) },
}

impl DerivedAt {
    /// The parts a table fixes for all its rows (they distinguish rows of different files that
    /// are otherwise identical).
    pub(crate) fn fixed_parts(&self) -> Option<Parts> {
        match self {
            DerivedAt::Path { known, .. } => Some(*known),
            DerivedAt::DateTime { .. } => None,
        }
    }
}

/// A derived value: a DATE (days since 1970-01-01) or a timestamp (UTC microseconds).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum DerivedValue {
    Date(Option<i32>),
    Timestamp(Option<i64>),
}

/// Why a row's derived value failed: the header of the cell at fault, its text, the reason.
pub type Failure = (String, String, String);

/// Where a derived column's value comes from in one table; None for a column read from a header.
pub(crate) fn locate(column: &ColumnPlan, table: &TableText, headers: &[String]) -> Result<Option<DerivedAt>, IngestError> {
    let find = |header: &str| -> Result<usize, IngestError> {
        headers.iter().position(|h| h == header).ok_or_else(|| IngestError::DerivedHeader {
            file: table.file.to_path_buf(),
            sheet: table.sheet.map(str::to_string),
            column: column.name.clone(),
            header: header.to_string(),
            headers: headers.to_vec(),
        })
    };
    match &column.derived {
        None => Ok(None),
        Some(Derived::DateTime { date, time }) => Ok(Some(DerivedAt::DateTime { date: (find(date)?, date.clone()), time: (find(time)?, time.clone()) })),
        Some(Derived::Path { from, pattern, cells }) => {
            let text = path_text(*from, table)?;
            let known = parts_of(&text, pattern).map_err(|why| IngestError::PatternMismatch {
                file: table.file.to_path_buf(),
                sheet: table.sheet.map(str::to_string),
                from: from_label(*from),
                text: text.clone(),
                pattern: pattern.as_str().to_string(),
                column: column.name.clone(),
                why,
            })?;
            let cells = cells.iter().map(|(part, header)| Ok((*part, find(header)?, header.clone()))).collect::<Result<Vec<_>, IngestError>>()?;
            Ok(Some(DerivedAt::Path { known, cells }))
        }
    }
}

fn from_label(from: PathText) -> &'static str {
    match from {
        PathText::FileName => "file name",
        PathText::FolderName => "folder name",
        PathText::TitleLine => "title line",
        PathText::SheetName => "sheet name",
    }
}

/// The text `from` names, or why the table has none.
fn path_text(from: PathText, table: &TableText) -> Result<String, IngestError> {
    let name = |p: Option<&std::ffi::OsStr>| p.map(|n| n.to_string_lossy().into_owned());
    match from {
        PathText::FileName => name(table.file.file_name()).ok_or_else(|| IngestError::NoFileName { file: table.file.to_path_buf() }),
        PathText::FolderName => name(table.file.parent().and_then(Path::file_name)).ok_or_else(|| IngestError::NoFolderName { file: table.file.to_path_buf() }),
        PathText::TitleLine => {
            table.title.map(str::to_string).ok_or_else(|| IngestError::NoTitleLine { file: table.file.to_path_buf(), sheet: table.sheet.map(str::to_string) })
        }
        PathText::SheetName => table.sheet.map(str::to_string).ok_or_else(|| IngestError::NotWorkbook { file: table.file.to_path_buf() }),
    }
}

/// The named parts `pattern` captures in `text`, each checked.
pub(crate) fn parts_of(text: &str, pattern: &regex::Regex) -> Result<Parts, ParseError> {
    let caps = pattern.captures(text).ok_or_else(|| ParseError("no match".to_string()))?;
    let mut parts = Parts::default();
    for part in DatePart::ALL {
        if let Some(m) = caps.name(part.name()) {
            let value = part_value(part, m.as_str()).ok_or_else(|| ParseError(format!("{} '{}' is not a valid {}", part.name(), m.as_str(), part.name())))?;
            parts.set(part, value);
        }
    }
    Ok(parts)
}

/// A year, month (1–12), quarter (1–4 or 一二三四) or day (1–31) as written: digits (half- or
/// full-width), Chinese numerals, with 年/月/日/季度/第 around it.
pub(crate) fn part_value(part: DatePart, raw: &str) -> Option<u32> {
    let text = to_half_width(raw);
    let mut t = text.trim();
    t = t.strip_prefix('第').unwrap_or(t);
    for suffix in ["季度", "年", "月", "日", "号"] {
        t = t.strip_suffix(suffix).unwrap_or(t);
    }
    let t = t.trim();
    let numeral = |c: &str| ["一", "二", "三", "四", "五", "六", "七", "八", "九", "十", "十一", "十二"].iter().position(|n| *n == c).map(|i| i as u32 + 1);
    let value = if !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit()) {
        t.parse::<u32>().ok()?
    } else if let Some(whole) = t.strip_suffix(".0").filter(|w| !w.is_empty() && w.bytes().all(|b| b.is_ascii_digit())) {
        whole.parse::<u32>().ok()?
    } else if part != DatePart::Year {
        numeral(t)?
    } else {
        return None;
    };
    let ok = match part {
        DatePart::Year => (1900..=2200).contains(&value),
        DatePart::Month => (1..=12).contains(&value),
        DatePart::Quarter => (1..=4).contains(&value),
        DatePart::Day => (1..=31).contains(&value),
    };
    ok.then_some(value)
}

/// The first day of the month / quarter, or the date, that the parts make for a column type.
pub(crate) fn day_of(kind: ColumnType, parts: &Parts) -> Result<i32, ParseError> {
    let missing = |part: &str| ParseError(format!("no {part}"));
    let year = parts.year.ok_or_else(|| missing("year"))? as i32;
    match kind {
        ColumnType::Month => Ok(days_from_civil(year, parts.month.ok_or_else(|| missing("month"))?, 1)),
        ColumnType::Quarter => {
            let quarter = match (parts.quarter, parts.month) {
                (Some(q), _) => q,
                (None, Some(m)) => (m - 1) / 3 + 1,
                (None, None) => return Err(missing("quarter")),
            };
            Ok(days_from_civil(year, 3 * quarter - 2, 1))
        }
        ColumnType::Date => {
            let (month, day) = (parts.month.ok_or_else(|| missing("month"))?, parts.day.ok_or_else(|| missing("day"))?);
            if day > days_in_month(year, month) {
                return Err(ParseError(format!("{year}-{month:02} has no day {day}")));
            }
            Ok(days_from_civil(year, month, day))
        }
        _ => Err(ParseError("a value from a file's text is a month, quarter or date".into())),
    }
}

/// Seconds after midnight of a time of day: "15:00", "9:05", "15:00:00", "15时00分", or a
/// spreadsheet time (fraction of a day).
pub(crate) fn time_of_day(cell: Cell) -> Result<u32, ParseError> {
    let bad = |raw: &str| ParseError(format!("'{raw}' 不是有效的时间 · '{raw}' is not a time of day (e.g. 15:00 or 15:00:00)"));
    match cell {
        Cell::Number(v) | Cell::ExcelDate(v) => {
            let fraction = v - v.floor();
            if !(0.0..1.0).contains(&fraction) || (v >= 1.0 && matches!(cell, Cell::Number(_))) {
                return Err(bad(&cell.text()));
            }
            Ok(((fraction * 86_400.0).round() as u32).min(86_399))
        }
        Cell::Empty => Err(bad("")),
        Cell::Text(raw) => {
            let text = to_half_width(raw);
            let t = text.trim().replace(['时', '分'], ":").replace('秒', "");
            let t = t.trim_end_matches(':');
            let fields: Vec<&str> = t.split(':').collect();
            if !(2..=3).contains(&fields.len()) || fields.iter().any(|f| f.is_empty() || f.len() > 2 || !f.bytes().all(|b| b.is_ascii_digit())) {
                return Err(bad(raw));
            }
            let n: Vec<u32> = fields.iter().map(|f| f.parse().unwrap_or(99)).collect();
            let (h, m, s) = (n[0], n[1], n.get(2).copied().unwrap_or(0));
            if h >= 24 || m >= 60 || s >= 60 {
                return Err(bad(raw));
            }
            Ok(h * 3600 + m * 60 + s)
        }
    }
}

/// The value of a derived column in one row.
pub fn value(column: &ColumnPlan, at: &DerivedAt, cells: &[Cell], utc_offset_minutes: i32) -> Result<DerivedValue, Failure> {
    let cell = |i: usize| cells.get(i).copied().unwrap_or(Cell::Empty);
    let missing = |header: &str| (header.to_string(), String::new(), "缺少必填值 · value is missing".to_string());
    match at {
        DerivedAt::Path { known, cells: from_cells } => {
            let mut parts = *known;
            for (part, i, header) in from_cells {
                let c = cell(*i);
                if c.is_blank() {
                    if column.not_null {
                        return Err(missing(header));
                    }
                    return Ok(DerivedValue::Date(None));
                }
                let text = c.text();
                let value = part_value(*part, &text).ok_or_else(|| {
                    (header.clone(), text.clone(), format!("'{text}' 不是有效的{} · '{text}' is not a valid {}", part_zh(*part), part.name()))
                })?;
                parts.set(*part, value);
            }
            let header = from_cells.first().map(|c| c.2.clone()).unwrap_or_else(|| column.name.clone());
            day_of(column.kind, &parts).map(|d| DerivedValue::Date(Some(d))).map_err(|why| (header, String::new(), why.0))
        }
        DerivedAt::DateTime { date: (di, date_header), time: (ti, time_header) } => {
            let (d, t) = (cell(*di), cell(*ti));
            if d.is_blank() && t.is_blank() {
                if column.not_null {
                    return Err(missing(date_header));
                }
                return Ok(DerivedValue::Timestamp(None));
            }
            if d.is_blank() {
                return Err(missing(date_header));
            }
            if t.is_blank() {
                return Err((
                    time_header.clone(),
                    String::new(),
                    "缺少时间（有日期）· time is missing (the date is given); use type = \"date\" if the log has dates only".to_string(),
                ));
            }
            let days = match d {
                Cell::ExcelDate(v) | Cell::Number(v) => {
                    parse::excel_serial(v, &d.text()).map(|(days, _)| days).map_err(|e| (date_header.clone(), d.text(), e.0))?
                }
                _ => parse::date(&d.text(), column.format.as_deref()).map_err(|e| (date_header.clone(), d.text(), e.0))?,
            };
            let seconds = time_of_day(t).map_err(|e| (time_header.clone(), t.text(), e.0))?;
            let utc = i64::from(days) * 86_400 + i64::from(seconds) - i64::from(utc_offset_minutes) * 60;
            Ok(DerivedValue::Timestamp(Some(utc * 1_000_000)))
        }
    }
}

fn part_zh(part: DatePart) -> &'static str {
    match part {
        DatePart::Year => "年份",
        DatePart::Month => "月份",
        DatePart::Quarter => "季度",
        DatePart::Day => "日",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn re(p: &str) -> regex::Regex {
        regex::Regex::new(p).unwrap()
    }

    #[test]
    fn parts_from_file_names_titles_and_sheets() {
        let file = re(r"^(?P<year>\d{4})年(?P<month>\d{2})月");
        assert_eq!(parts_of("2021年01月电费回收情况.csv", &file), Ok(Parts { year: Some(2021), month: Some(1), ..Parts::default() }));
        assert_eq!(parts_of("电费2021年01月.csv", &file), Err(ParseError("no match".to_string())));
        assert!(parts_of("2021年13月电费回收情况.csv", &file).unwrap_err().0.contains("month '13'"));
        let title = re(r"(?P<year>\d{4})年第(?P<quarter>[1-4一二三四])季度");
        assert_eq!(parts_of("国网博斯腾供电公司2021年第3季度台区同期线损统计表", &title).unwrap().quarter, Some(3));
        assert_eq!(
            parts_of("国网博斯腾供电公司2022年第四季度台区同期线损统计表", &title).unwrap(),
            Parts { year: Some(2022), quarter: Some(4), ..Parts::default() }
        );
        let sheet = re(r"^(?P<year>\d{4})年$");
        assert_eq!(parts_of("2021年", &sheet).unwrap().year, Some(2021));
        assert!(parts_of("2021年汇总", &sheet).is_err());
    }

    #[test]
    fn parts_as_cells_write_them() {
        assert_eq!(part_value(DatePart::Month, "3"), Some(3));
        assert_eq!(part_value(DatePart::Month, "03月"), Some(3));
        assert_eq!(part_value(DatePart::Month, "３"), Some(3));
        assert_eq!(part_value(DatePart::Month, "3.0"), Some(3));
        assert_eq!(part_value(DatePart::Month, "十二月"), Some(12));
        assert_eq!(part_value(DatePart::Quarter, "第三季度"), Some(3));
        assert_eq!(part_value(DatePart::Month, "13"), None);
        assert_eq!(part_value(DatePart::Quarter, "5"), None);
        assert_eq!(part_value(DatePart::Year, "二〇二一"), None);
        assert_eq!(part_value(DatePart::Month, "三月份"), None);
    }

    #[test]
    fn calendar_values_from_parts() {
        let p = |year, month, quarter, day| Parts { year, month, quarter, day };
        assert_eq!(day_of(ColumnType::Month, &p(Some(2021), Some(3), None, None)), Ok(days_from_civil(2021, 3, 1)));
        assert_eq!(day_of(ColumnType::Quarter, &p(Some(2021), None, Some(3), None)), Ok(days_from_civil(2021, 7, 1)));
        assert_eq!(day_of(ColumnType::Quarter, &p(Some(2021), Some(11), None, None)), Ok(days_from_civil(2021, 10, 1)));
        assert_eq!(day_of(ColumnType::Date, &p(Some(2020), Some(2), None, Some(29))), Ok(days_from_civil(2020, 2, 29)));
        assert!(day_of(ColumnType::Date, &p(Some(2021), Some(2), None, Some(29))).is_err());
        assert!(day_of(ColumnType::Month, &p(Some(2021), None, None, None)).is_err());
    }

    #[test]
    fn times_of_day() {
        assert_eq!(time_of_day(Cell::Text("15:00")), Ok(15 * 3600));
        assert_eq!(time_of_day(Cell::Text(" 9:05 ")), Ok(9 * 3600 + 5 * 60));
        assert_eq!(time_of_day(Cell::Text("15:00:30")), Ok(15 * 3600 + 30));
        assert_eq!(time_of_day(Cell::Text("15时30分")), Ok(15 * 3600 + 1800));
        // Excel keeps 15:00 as 0.625 of a day.
        assert_eq!(time_of_day(Cell::Number(0.625)), Ok(15 * 3600));
        for bad in ["25:00", "15:60", "15", "下午三点", "15:0a", ""] {
            assert!(time_of_day(Cell::Text(bad)).is_err(), "{bad}");
        }
        assert!(time_of_day(Cell::Number(15.0)).is_err());
    }

    #[test]
    fn date_plus_time_is_a_local_timestamp() {
        let column = ColumnPlan {
            name: "start_time".into(),
            headers: vec![],
            header_span: None,
            kind: ColumnType::Timestamp,
            format: None,
            required: true,
            not_null: true,
            derived: Some(Derived::DateTime { date: "活动日期".into(), time: "开始时间".into() }),
        };
        let at = DerivedAt::DateTime { date: (1, "活动日期".into()), time: (2, "开始时间".into()) };
        // 2021-03-05 15:00 Beijing time is 07:00 UTC.
        let utc = (i64::from(days_from_civil(2021, 3, 5)) * 86_400 + 7 * 3600) * 1_000_000;
        let row = [Cell::Text("x"), Cell::Text("2021-03-05"), Cell::Text("15:00")];
        assert_eq!(value(&column, &at, &row, 480), Ok(DerivedValue::Timestamp(Some(utc))));
        // The same day and time from spreadsheet cells (serial 44260 is 2021-03-05).
        let row = [Cell::Text("x"), Cell::ExcelDate(44_260.0), Cell::Number(0.625)];
        assert_eq!(value(&column, &at, &row, 480), Ok(DerivedValue::Timestamp(Some(utc))));
        let (header, _, why) = value(&column, &at, &[Cell::Text("x"), Cell::Text("2021-03-05"), Cell::Empty], 480).unwrap_err();
        assert_eq!(header, "开始时间");
        assert!(why.contains("time is missing"), "{why}");
        let (header, text, _) = value(&column, &at, &[Cell::Text("x"), Cell::Text("2021-02-30"), Cell::Text("15:00")], 480).unwrap_err();
        assert_eq!((header.as_str(), text.as_str()), ("活动日期", "2021-02-30"));
    }
}
