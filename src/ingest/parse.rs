//! Value parsers: how exports write numbers, months, quarters, dates and timestamps, turned into
//! typed values. Pure functions; every failure says what was expected.
//!
//! Numbers: "1,234.50", "１２３", " 98.5% " (a share: 0.985), with an optional scale (万元 → 元).
//! Months: "2020年09月", "2020年9月", "202009", "2020-09", "2020/9", "2020.09"; quarters:
//! "2020Q3", "2020年第3季度", "2020年三季度"; dates and timestamps in -, / and 年月日 forms.
//! An explicit `format` ("yyyy年MM月", "yyyy/MM/dd HH:mm") accepts that layout only.

use std::fmt;

use crate::base::calendar::{days_from_civil, days_in_month};
use crate::base::text::to_half_width;

/// Why a value did not parse (the reason stored in quarantine).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError(pub String);

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The reason in both languages the analysts read: "'--' 不是数字 · '--' is not a number (…)".
fn fail<T>(zh: &str, what: &str, raw: &str) -> Result<T, ParseError> {
    Err(ParseError(format!("'{raw}' 不是{zh} · '{raw}' is not {what}")))
}

/// A number as exports write it: thousands separators, surrounding spaces, a trailing % (divides
/// by 100), full-width digits. `scale` multiplies the result (10 000 for 万元 → 元).
pub fn number(raw: &str, scale: f64) -> Result<f64, ParseError> {
    // Most cells are plain decimals: take them without the general path's copies.
    let plain = raw.trim();
    if !plain.is_empty() && plain.bytes().all(|b| b.is_ascii_digit() || b == b'.' || b == b'-') && plain.bytes().any(|b| b.is_ascii_digit()) {
        if let Ok(v) = plain.parse::<f64>() {
            if v.is_finite() {
                return Ok(v * scale);
            }
        }
    }
    let text = to_half_width(raw);
    let mut text = text.trim();
    let mut factor = scale;
    if let Some(stripped) = text.strip_suffix('%') {
        text = stripped.trim_end();
        factor /= 100.0;
    }
    let cleaned: String = text.chars().filter(|c| *c != ',').collect();
    let well_formed = !cleaned.is_empty()
        && cleaned.chars().all(|c| c.is_ascii_digit() || matches!(c, '.' | '-' | '+' | 'e' | 'E'))
        && cleaned.chars().any(|c| c.is_ascii_digit());
    match cleaned.parse::<f64>() {
        Ok(v) if well_formed && v.is_finite() && thousands_well_placed(text) => Ok(v * factor),
        _ => fail("有效的数字", "a number (e.g. 1,234.50 or 98.5%)", raw),
    }
}

/// "1,234,567.8" groups digits in threes; "1,23" or "12,3456" are typos, not numbers.
fn thousands_well_placed(text: &str) -> bool {
    if !text.contains(',') {
        return true;
    }
    let int_part = text.split('.').next().unwrap_or("").trim_start_matches(['-', '+']);
    let groups: Vec<&str> = int_part.split(',').collect();
    !groups[0].is_empty() && groups[0].len() <= 3 && groups[1..].iter().all(|g| g.len() == 3 && g.chars().all(|c| c.is_ascii_digit()))
}

/// A whole number (thousands separators allowed; "12.0" from spreadsheets accepted).
pub fn integer(raw: &str) -> Result<i64, ParseError> {
    match number(raw, 1.0) {
        Ok(v) if v.fract() == 0.0 && v.abs() < 9.0e15 && !raw.contains('%') => Ok(v as i64),
        _ => fail("整数", "a whole number", raw),
    }
}

/// Fields of a date or time being matched against a format.
#[derive(Debug, Default, Clone, Copy)]
struct Fields {
    year: Option<i32>,
    month: Option<u32>,
    day: Option<u32>,
    hour: u32,
    minute: u32,
    second: u32,
}

/// Matches `t` (the text's characters) against a format of tokens yyyy, MM/M, dd/d, HH/H, mm,
/// ss and literal text. Numeric tokens take 1–2 digits (4 for yyyy) so "2020年9月" matches
/// "yyyy年MM月".
fn match_format(t: &[char], format: &str) -> Option<Fields> {
    const TOKENS: [&str; 9] = ["yyyy", "MM", "dd", "HH", "mm", "ss", "M", "d", "H"];
    let token = |j: usize| TOKENS.into_iter().find(|tok| format[j..].starts_with(tok));
    let (mut i, mut j) = (0, 0);
    let mut out = Fields::default();
    while j < format.len() {
        if let Some(tok) = token(j) {
            let len = tok.len();
            // yyyy is four digits; a token directly followed by another ("yyyyMMdd") takes exactly
            // two; otherwise one or two, so "2020年9月" matches "yyyy年MM月".
            let (min, max) = match tok {
                "yyyy" => (4, 4),
                _ if len == 2 && token(j + len).is_some() => (2, 2),
                _ => (1, 2),
            };
            let start = i;
            let mut value: u32 = 0;
            while i < t.len() && i - start < max && t[i].is_ascii_digit() {
                value = value * 10 + t[i].to_digit(10)?;
                i += 1;
            }
            if i - start < min {
                return None;
            }
            match tok {
                "yyyy" => out.year = Some(value as i32),
                "MM" | "M" => out.month = Some(value),
                "dd" | "d" => out.day = Some(value),
                "HH" | "H" => out.hour = value,
                "mm" => out.minute = value,
                "ss" => out.second = value,
                _ => unreachable!(),
            }
            j += len;
        } else {
            let c = format[j..].chars().next()?;
            if i >= t.len() || t[i] != c {
                return None;
            }
            i += 1;
            j += c.len_utf8();
        }
    }
    (i == t.len()).then_some(out)
}

fn valid(fields: &Fields) -> bool {
    let month_ok = fields.month.is_none_or(|m| (1..=12).contains(&m));
    let day_ok = match (fields.year, fields.month, fields.day) {
        (Some(y), Some(m), Some(d)) if (1..=12).contains(&m) => d >= 1 && d <= days_in_month(y, m),
        (_, _, None) => true,
        _ => false,
    };
    month_ok && day_ok && fields.hour < 24 && fields.minute < 60 && fields.second < 60
}

const MONTH_FORMATS: &[&str] = &["yyyy年MM月", "yyyyMM", "yyyy-MM", "yyyy/MM", "yyyy.MM", "yyyy-MM-dd", "yyyy/MM/dd"];
const DATE_FORMATS: &[&str] = &["yyyy-MM-dd", "yyyy/MM/dd", "yyyy年MM月dd日", "yyyyMMdd", "yyyy.MM.dd"];
const TIMESTAMP_FORMATS: &[&str] = &[
    "yyyy-MM-dd HH:mm:ss", "yyyy-MM-dd HH:mm", "yyyy/MM/dd HH:mm:ss", "yyyy/MM/dd HH:mm", "yyyy-MM-ddTHH:mm:ss",
    "yyyy年MM月dd日 HH:mm:ss", "yyyy年MM月dd日 HH:mm", "yyyy-MM-dd", "yyyy/MM/dd",
];

fn first_match(raw: &str, format: Option<&str>, defaults: &[&str]) -> Option<Fields> {
    let text = to_half_width(raw);
    let chars: Vec<char> = text.trim().chars().collect();
    match format {
        Some(f) => match_format(&chars, f).filter(valid),
        None => defaults.iter().find_map(|f| match_format(&chars, f).filter(valid)),
    }
}

/// A month, as the Arrow DATE of its first day.
pub fn month(raw: &str, format: Option<&str>) -> Result<i32, ParseError> {
    // Spreadsheets hand 202009 over as the number 202009.0.
    let raw_int = raw.strip_suffix(".0").unwrap_or(raw);
    match first_match(raw_int, format, MONTH_FORMATS) {
        Some(Fields { year: Some(y), month: Some(m), .. }) => Ok(days_from_civil(y, m, 1)),
        _ => fail("有效的月份", &format!("a month ({})", format.unwrap_or("e.g. 2020年09月, 202009, 2020-09")), raw),
    }
}

/// A quarter, as the Arrow DATE of its first day: "2020Q3", "2020年第3季度", "2020年三季度".
pub fn quarter(raw: &str) -> Result<i32, ParseError> {
    let text = to_half_width(raw).trim().replace(' ', "");
    let parsed = text.parse::<crate::base::period::Quarter>().ok().or_else(|| {
        let (year, rest) = text.split_once('年')?;
        let year: i32 = year.parse().ok()?;
        let rest = rest.strip_prefix('第').unwrap_or(rest);
        let digit = rest.strip_suffix("季度")?;
        let q = match digit {
            "1" | "一" => 1,
            "2" | "二" => 2,
            "3" | "三" => 3,
            "4" | "四" => 4,
            _ => return None,
        };
        Some(crate::base::period::Quarter::new(year, q))
    });
    match parsed {
        Some(q) => Ok(days_from_civil(q.year, q.months()[0].month, 1)),
        None => fail("有效的季度", "a quarter (e.g. 2020Q3 or 2020年第3季度)", raw),
    }
}

/// A calendar date as Arrow DATE (days since 1970-01-01).
pub fn date(raw: &str, format: Option<&str>) -> Result<i32, ParseError> {
    match first_match(raw, format, DATE_FORMATS) {
        Some(Fields { year: Some(y), month: Some(m), day: Some(d), .. }) => Ok(days_from_civil(y, m, d)),
        _ => fail("有效的日期", &format!("a date ({})", format.unwrap_or("e.g. 2020-09-13")), raw),
    }
}

/// A local timestamp converted to UTC microseconds since the epoch; `utc_offset_minutes` is the
/// exports' local offset (+480 for Beijing time).
pub fn timestamp(raw: &str, format: Option<&str>, utc_offset_minutes: i32) -> Result<i64, ParseError> {
    match first_match(raw, format, TIMESTAMP_FORMATS) {
        Some(Fields { year: Some(y), month: Some(m), day: Some(d), hour, minute, second }) => {
            let days = i64::from(days_from_civil(y, m, d));
            let seconds = days * 86_400 + i64::from(hour * 3600 + minute * 60 + second) - i64::from(utc_offset_minutes) * 60;
            Ok(seconds * 1_000_000)
        }
        _ => fail("有效的时间", &format!("a timestamp ({})", format.unwrap_or("e.g. 2020-09-13 14:22:05")), raw),
    }
}

/// Excel's serial day number (1900 date system) to Arrow DATE days.
pub fn excel_serial_to_days(serial: f64) -> i32 {
    // Serial 25569 is 1970-01-01 (Excel counts the nonexistent 1900-02-29).
    (serial.floor() - 25_569.0) as i32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_as_exports_write_them() {
        assert_eq!(number("1,234.50", 1.0), Ok(1234.5));
        assert_eq!(number(" 1,234,567.89 ", 1.0), Ok(1_234_567.89));
        assert_eq!(number("98.5%", 1.0), Ok(0.985));
        assert_eq!(number("179.34", 10_000.0), Ok(1_793_400.0));
        assert_eq!(number("-12", 1.0), Ok(-12.0));
        assert_eq!(number("１２３", 1.0), Ok(123.0));
        for bad in ["--", "#N/A", "待核实", "", "1.2.3", "1,23", "12,3456", "NaN", "inf"] {
            assert!(number(bad, 1.0).is_err(), "{bad}");
        }
        assert_eq!(number("--", 1.0).unwrap_err().0, "'--' 不是有效的数字 · '--' is not a number (e.g. 1,234.50 or 98.5%)");
    }

    #[test]
    fn integers() {
        assert_eq!(integer("12,686"), Ok(12686));
        assert_eq!(integer("12.0"), Ok(12));
        assert!(integer("12.5").is_err());
        assert!(integer("50%").is_err());
    }

    #[test]
    fn months_in_every_export_form() {
        let sept = days_from_civil(2020, 9, 1);
        for raw in ["2020年09月", "2020年9月", "202009", "202009.0", "2020-09", "2020/9", "2020.09", "2020-09-01"] {
            assert_eq!(month(raw, None), Ok(sept), "{raw}");
        }
        assert_eq!(month("2020年09月", Some("yyyy年MM月")), Ok(sept));
        assert!(month("2020-09", Some("yyyy年MM月")).is_err());
        for bad in ["2020年13月", "202013", "2020", "九月", ""] {
            assert!(month(bad, None).is_err(), "{bad}");
        }
    }

    #[test]
    fn quarters() {
        let q3 = days_from_civil(2020, 7, 1);
        for raw in ["2020Q3", "2020q3", "2020年第3季度", "2020年三季度", "2020年第三季度"] {
            assert_eq!(quarter(raw), Ok(q3), "{raw}");
        }
        assert!(quarter("2020年第5季度").is_err());
    }

    #[test]
    fn dates_and_timestamps() {
        assert_eq!(date("2020-09-13", None), Ok(days_from_civil(2020, 9, 13)));
        assert_eq!(date("2020年9月13日", None), Ok(days_from_civil(2020, 9, 13)));
        assert!(date("2019-02-29", None).is_err());
        // 2020-09-13 14:22:05 Beijing time is 06:22:05 UTC.
        let utc = (i64::from(days_from_civil(2020, 9, 13)) * 86_400 + 6 * 3600 + 22 * 60 + 5) * 1_000_000;
        assert_eq!(timestamp("2020-09-13 14:22:05", None, 480), Ok(utc));
        assert_eq!(timestamp("2020/09/13 14:22", None, 480), Ok(utc - 5_000_000));
        assert_eq!(timestamp("2020-09-13 14:22:05", Some("yyyy-MM-dd HH:mm:ss"), 480), Ok(utc));
        assert!(timestamp("2020-09-13 25:00", None, 480).is_err());
    }

    #[test]
    fn excel_serials() {
        // Excel serial 44075 is 2020-09-01.
        assert_eq!(excel_serial_to_days(44_075.0), days_from_civil(2020, 9, 1));
    }
}
