//! Value parsers: how exports write numbers, months, quarters, dates and timestamps, turned into
//! typed values. Pure functions; every failure says what was expected.
//!
//! Numbers: "1,234.50", "１２３", " 98.5% " (a share: 0.985), with an optional scale (万元 → 元).
//! Months: "2020年09月", "2020年9月", "202009", "2020-09", "2020/9", "2020.09"; quarters:
//! "2020Q3", "2020年第3季度", "2020年三季度"; dates and timestamps in -, / and 年月日 forms.
//! An explicit `format` ("yyyy年MM月", "yyyy/MM/dd HH:mm") accepts that layout only.
//!
//! Timestamps may carry an ISO-8601 zone (`Z`, `+08:00`, `+0800`, `-05`) and fractional
//! seconds; a zone given in the value wins over the pipeline's `utc_offset`.
//!
//! Numbers in date columns (a spreadsheet cell in General format, or such a cell saved as CSV):
//! six digits are yyyyMM in a month column, eight digits yyyyMMdd in a date column, and a
//! number of five digits before any decimals is an Excel serial day number (1900 date system:
//! 43862 is 2020-02-01; the fraction is the time of day; five digits span 1927 … 2173). Other
//! numbers ("2020", 9.9e9) are not dates. A cell formatted as a date in the workbook is a serial
//! whatever its size; outside 1 … 2958465 (1900-01-01 … 9999-12-31) it is rejected, never
//! wrapped. Whether a parsed date is plausible is the pipeline's date window (`in_window`).

use std::fmt;

use crate::base::calendar::{days_from_civil, days_in_month};
use crate::base::text::to_half_width;

/// Why a value did not parse (the reason stored in quarantine).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ParseError(pub String);

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
    number_trimmed(crate::base::text::trim(raw), raw, scale)
}

/// `number` for a cell whose trimmed text (`plain`, the standard trim of `raw`) is at hand.
pub(crate) fn number_trimmed(plain: &str, raw: &str, scale: f64) -> Result<f64, ParseError> {
    // Most cells are plain decimals: take them without the general path's copies.
    if let Some(v) = plain_decimal(plain) {
        return scaled(v, scale, raw);
    }
    if !plain.is_empty() && plain.bytes().all(|b| b.is_ascii_digit() || b == b'.' || b == b'-') && plain.bytes().any(|b| b.is_ascii_digit()) {
        if let Ok(v) = plain.parse::<f64>() {
            if v.is_finite() {
                return scaled(v, scale, raw);
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
        Ok(v) if well_formed && v.is_finite() && thousands_well_placed(text) => scaled(v, factor, raw),
        _ => fail("有效的数字", "a number (e.g. 1,234.50 or 98.5%)", raw),
    }
}

/// Powers of ten that an f64 holds exactly.
const EXACT_POWERS_OF_TEN: [f64; 23] =
    [1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22];

/// A plain decimal ("-123.45", "0042", "7.", ".5") in one pass, when its digits make an integer
/// of at most 2^53 and it has at most 22 decimals: then the integer and the power of ten are both
/// exact and one correctly rounded division gives exactly what `str::parse` gives. None for any
/// other text (the general parser decides).
#[inline]
fn plain_decimal(text: &str) -> Option<f64> {
    let bytes = text.as_bytes();
    let (negative, digits) = match bytes.first() {
        Some(b'-') => (true, &bytes[1..]),
        _ => (false, bytes),
    };
    let (mut mantissa, mut decimals, mut seen_digit, mut seen_point) = (0u64, 0usize, false, false);
    for &b in digits {
        match b {
            b'0'..=b'9' => {
                mantissa = mantissa.checked_mul(10)?.checked_add(u64::from(b - b'0'))?;
                seen_digit = true;
                decimals += usize::from(seen_point);
            }
            b'.' if !seen_point => seen_point = true,
            _ => return None,
        }
    }
    if !seen_digit || mantissa > 1 << 53 || decimals >= EXACT_POWERS_OF_TEN.len() {
        return None;
    }
    let v = mantissa as f64 / EXACT_POWERS_OF_TEN[decimals];
    Some(if negative { -v } else { v })
}

/// `v × factor`, rejected when the product is not a finite number (1e308 × 10 000).
pub fn scaled(v: f64, factor: f64, raw: &str) -> Result<f64, ParseError> {
    let product = v * factor;
    if product.is_finite() {
        Ok(product)
    } else {
        Err(ParseError(format!("'{raw}' 换算（× {factor}）后超出数值范围 · '{raw}' is out of range once scaled (× {factor})")))
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
            // yyyy is four digits; a token directly next to another ("yyyyMMdd") takes exactly
            // two; otherwise one or two, so "2020年9月" matches "yyyy年MM月" (and "43862" is
            // not the month 4386-2 of "yyyyMM").
            let after_token = TOKENS.iter().any(|tok| format[..j].ends_with(tok));
            let (min, max) = match tok {
                "yyyy" => (4, 4),
                _ if len == 2 && (token(j + len).is_some() || after_token) => (2, 2),
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
    "yyyy-MM-dd HH:mm:ss",
    "yyyy-MM-dd HH:mm",
    "yyyy/MM/dd HH:mm:ss",
    "yyyy/MM/dd HH:mm",
    "yyyy-MM-ddTHH:mm:ss",
    "yyyy-MM-ddTHH:mm",
    "yyyy年MM月dd日 HH:mm:ss",
    "yyyy年MM月dd日 HH:mm",
    "yyyy-MM-dd",
    "yyyy/MM/dd",
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
        _ => match plain_number(raw).filter(|_| format.is_none()) {
            Some(v) => month_from_number(v, raw),
            None => fail("有效的月份", &format!("a month ({})", format.unwrap_or("e.g. 2020年09月, 202009, 2020-09")), raw),
        },
    }
}

/// The value of a cell that is only a number ("43862", "43862.5"), if it is one.
fn plain_number(raw: &str) -> Option<f64> {
    let t = raw.trim();
    let digits = t.split_once('.').map_or(t, |(i, _)| i);
    let ok = !digits.is_empty() && t.bytes().all(|b| b.is_ascii_digit() || b == b'.') && t.bytes().filter(|b| *b == b'.').count() <= 1;
    ok.then(|| t.parse::<f64>().ok()).flatten()
}

/// A whole number of exactly `digits` digits.
fn has_digits(v: f64, digits: u32) -> bool {
    v.fract() == 0.0 && v >= 10f64.powi(digits as i32 - 1) && v < 10f64.powi(digits as i32)
}

/// Whether a plain number reads as an Excel serial day: five digits before any decimals.
fn serial_like(v: f64) -> bool {
    (10_000.0..100_000.0).contains(&v)
}

/// Excel's serial day number (1900 date system, fraction = time of day) as Arrow DATE days
/// and the fraction of the day; serials outside 1 … 2958465 (1900-01-01 … 9999-12-31) and
/// 60 (Excel's 1900-02-29, which never was) are not dates.
pub(crate) fn excel_serial(serial: f64, raw: &str) -> Result<(i32, f64), ParseError> {
    if !(1.0..2_958_466.0).contains(&serial) || serial.floor() == 60.0 {
        return Err(ParseError(format!(
            "'{raw}' 不是有效的 Excel 日期序号（1 … 2958465）· '{raw}' is not an Excel date serial number (1 … 2958465, i.e. 1900-01-01 … 9999-12-31)"
        )));
    }
    let whole = serial.floor();
    // Serial 25569 is 1970-01-01; below 61 Excel's count has not yet passed its 1900-02-29.
    let days = whole as i32 - 25_569 + i32::from(whole < 60.0);
    Ok((days, serial - whole))
}

/// A number in a month column: yyyyMM (202009), otherwise an Excel serial (43862 → 2020-02).
pub(crate) fn month_from_number(v: f64, raw: &str) -> Result<i32, ParseError> {
    if has_digits(v, 6) {
        let (y, m) = ((v / 100.0) as i32, (v % 100.0) as u32);
        if (1..=12).contains(&m) {
            return Ok(days_from_civil(y, m, 1));
        }
        return fail("有效的月份", "a month (yyyyMM)", raw);
    }
    if !serial_like(v) {
        return fail("有效的月份", "a month (yyyyMM, or an Excel date serial such as 43862)", raw);
    }
    let (days, _) = excel_serial(v, raw)?;
    let (y, m, _) = crate::base::calendar::civil_from_days(days);
    Ok(days_from_civil(y, m, 1))
}

/// A number in a date column: yyyyMMdd (20200913), otherwise an Excel serial.
pub(crate) fn date_from_number(v: f64, raw: &str) -> Result<i32, ParseError> {
    if has_digits(v, 8) {
        let (y, m, d) = ((v / 10_000.0) as i32, ((v / 100.0) as u32) % 100, (v % 100.0) as u32);
        if (1..=12).contains(&m) && d >= 1 && d <= days_in_month(y, m) {
            return Ok(days_from_civil(y, m, d));
        }
        return fail("有效的日期", "a date (yyyyMMdd)", raw);
    }
    if !serial_like(v) {
        return fail("有效的日期", "a date (yyyyMMdd, or an Excel date serial such as 43862)", raw);
    }
    Ok(excel_serial(v, raw)?.0)
}

/// A number in a timestamp column: an Excel serial (local time; 43862.5 is 2020-02-01 12:00),
/// as UTC microseconds.
pub(crate) fn timestamp_from_number(v: f64, raw: &str, utc_offset_minutes: i32) -> Result<i64, ParseError> {
    if !serial_like(v) {
        return fail("有效的时间", "a timestamp (or an Excel date serial such as 43862.5)", raw);
    }
    timestamp_from_serial(v, raw, utc_offset_minutes)
}

/// An Excel serial (a date cell) in a timestamp column, local time, as UTC microseconds.
pub(crate) fn timestamp_from_serial(v: f64, raw: &str, utc_offset_minutes: i32) -> Result<i64, ParseError> {
    let (days, fraction) = excel_serial(v, raw)?;
    let local_seconds = i64::from(days) * 86_400 + (fraction * 86_400.0).round() as i64;
    Ok((local_seconds - i64::from(utc_offset_minutes) * 60) * 1_000_000)
}

/// The first day of the quarter holding `days`.
pub(crate) fn quarter_of_days(days: i32) -> i32 {
    let (y, m, _) = crate::base::calendar::civil_from_days(days);
    days_from_civil(y, (m - 1) / 3 * 3 + 1, 1)
}

/// Whether local day `days` lies in the pipeline's date window `from ..= to`.
pub(crate) fn in_window(days: i32, from: i32, to: i32) -> Result<(), ParseError> {
    if (from..=to).contains(&days) {
        return Ok(());
    }
    let show = |d: i32| {
        if !(-100_000_000..=100_000_000).contains(&d) {
            return format!("{d} days from 1970-01-01");
        }
        let (y, m, dd) = crate::base::calendar::civil_from_days(d);
        format!("{y}-{m:02}-{dd:02}")
    };
    let (day, from, to) = (show(days), show(from), show(to));
    Err(ParseError(format!(
        "日期 {day} 不在作业的日期范围 {from} … {to} 内（[pipeline] date_window）· date {day} is outside the pipeline's date window {from} … {to} ([pipeline] date_window)"
    )))
}

/// A quarter, as the Arrow DATE of its first day: "2020Q3", "2020年第3季度", "2020年三季度".
pub fn quarter(raw: &str) -> Result<i32, ParseError> {
    let text = to_half_width(raw).trim().replace(' ', "");
    let parsed = text.parse::<crate::base::period::Quarter>().ok().or_else(|| {
        let (year, rest) = text.split_once('年')?;
        let year: i32 = year.parse().ok().filter(|y| (1000..=9999).contains(y))?;
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
        _ => match plain_number(raw).filter(|_| format.is_none()) {
            Some(v) => date_from_number(v, raw),
            None => fail("有效的日期", &format!("a date ({})", format.unwrap_or("e.g. 2020-09-13")), raw),
        },
    }
}

/// Splits an ISO-8601 zone off a timestamp: "…Z" → 0, "…+08:00" / "…+0800" / "…+08" → 480.
/// Only after a time of day (a ':' before it), so a date's own '-' is never taken for a zone.
fn split_zone(text: &str) -> (&str, Option<i32>) {
    let has_time = |body: &str| body.contains(':');
    if let Some(body) = text.strip_suffix(['Z', 'z']) {
        if has_time(body) {
            return (body, Some(0));
        }
    }
    if let Some(at) = text.rfind(['+', '-']) {
        let (body, zone) = text.split_at(at);
        // "+08", "+0800" or "+08:00".
        let rest = &zone[1..];
        let digits: String = match rest.len() {
            _ if !rest.is_ascii() => String::new(),
            2 | 4 => rest.to_string(),
            5 if rest.as_bytes()[2] == b':' => format!("{}{}", &rest[..2], &rest[3..]),
            _ => String::new(),
        };
        if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) && has_time(body) {
            let h: i32 = digits[..2].parse().unwrap_or(99);
            let m: i32 = if digits.len() == 4 { digits[2..].parse().unwrap_or(99) } else { 0 };
            if h <= 14 && m < 60 {
                let sign = if zone.starts_with('-') { -1 } else { 1 };
                return (body, Some(sign * (h * 60 + m)));
            }
        }
    }
    (text, None)
}

/// Splits fractional seconds (".5", ".123456") off the end of a time of day, as microseconds.
fn split_fraction(text: &str) -> (&str, i64) {
    if let Some((body, digits)) = text.rsplit_once('.') {
        if body.contains(':') && (1..=9).contains(&digits.len()) && digits.bytes().all(|b| b.is_ascii_digit()) {
            let padded = format!("{digits:0<6}");
            return (body, padded[..6].parse().unwrap_or(0));
        }
    }
    (text, 0)
}

/// A local timestamp converted to UTC microseconds since the epoch; `utc_offset_minutes` is the
/// exports' local offset (+480 for Beijing time).
pub fn timestamp(raw: &str, format: Option<&str>, utc_offset_minutes: i32) -> Result<i64, ParseError> {
    if format.is_none() {
        if let Some(fields) = common_timestamp(crate::base::text::trim(raw)) {
            return Ok(local_micros(&fields, utc_offset_minutes, 0));
        }
    }
    any_timestamp(raw, format, utc_offset_minutes)
}

/// Microseconds since the epoch (UTC) of a matched date and time, `offset` minutes ahead of UTC.
fn local_micros(fields: &Fields, offset: i32, micros: i64) -> i64 {
    let days = i64::from(days_from_civil(fields.year.unwrap_or(1970), fields.month.unwrap_or(1), fields.day.unwrap_or(1)));
    let seconds = days * 86_400 + i64::from(fields.hour * 3600 + fields.minute * 60 + fields.second) - i64::from(offset) * 60;
    seconds * 1_000_000 + micros
}

/// "2020-09-13 14:22:05" (also "2020/09/13 14:22:05" and "2020-09-13T14:22:05"), the form
/// nearly every export writes: read at fixed positions, without the general matcher's copies;
/// the fields only when valid (then the general path gives the same, else it decides).
#[inline]
fn common_timestamp(text: &str) -> Option<Fields> {
    let b = text.as_bytes();
    if b.len() != 19 || b[13] != b':' || b[16] != b':' || !matches!((b[4], b[7], b[10]), (b'-', b'-', b' ' | b'T') | (b'/', b'/', b' ')) {
        return None;
    }
    let number = |from: usize, to: usize| b[from..to].iter().try_fold(0u32, |n, &d| d.is_ascii_digit().then(|| n * 10 + u32::from(d - b'0')));
    let fields = Fields {
        year: Some(number(0, 4)? as i32),
        month: Some(number(5, 7)?),
        day: Some(number(8, 10)?),
        hour: number(11, 13)?,
        minute: number(14, 16)?,
        second: number(17, 19)?,
    };
    valid(&fields).then_some(fields)
}

/// `timestamp` for any text and format.
fn any_timestamp(raw: &str, format: Option<&str>, utc_offset_minutes: i32) -> Result<i64, ParseError> {
    let half = to_half_width(raw);
    let (body, zone) = split_zone(half.trim());
    let (body, micros) = split_fraction(body);
    match first_match(body, format, TIMESTAMP_FORMATS) {
        Some(fields @ Fields { year: Some(_), month: Some(_), day: Some(_), .. }) => Ok(local_micros(&fields, zone.unwrap_or(utc_offset_minutes), micros)),
        _ => match plain_number(raw).filter(|_| format.is_none()) {
            Some(v) => timestamp_from_number(v, raw, utc_offset_minutes),
            None => fail("有效的时间", &format!("a timestamp ({})", format.unwrap_or("e.g. 2020-09-13 14:22:05")), raw),
        },
    }
}

/// Excel's serial day number (1900 date system) to Arrow DATE days.
#[cfg(test)]
pub(crate) fn excel_serial_to_days(serial: f64) -> i32 {
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
        // Serials by hand: 1 is 1900-01-01, 59 is 1900-02-28, 61 is 1900-03-01 (60 is Excel's
        // 1900-02-29, which never was), 43862 is 2020-02-01, 2958465 is 9999-12-31.
        assert_eq!(excel_serial(1.0, "1"), Ok((days_from_civil(1900, 1, 1), 0.0)));
        assert_eq!(excel_serial(59.0, "59"), Ok((days_from_civil(1900, 2, 28), 0.0)));
        assert!(excel_serial(60.0, "60").is_err());
        assert_eq!(excel_serial(61.0, "61"), Ok((days_from_civil(1900, 3, 1), 0.0)));
        assert_eq!(excel_serial(43_862.25, "x"), Ok((days_from_civil(2020, 2, 1), 0.25)));
        assert_eq!(excel_serial(2_958_465.0, "x").map(|d| d.0), Ok(days_from_civil(9999, 12, 31)));
        for bad in [0.0, -1.0, 2_958_466.0, 9.9e9, f64::NAN, f64::INFINITY] {
            let e = excel_serial(bad, "v").unwrap_err().0;
            assert!(e.contains("is not an Excel date serial number"), "{bad}: {e}");
        }
    }

    #[test]
    fn numbers_in_date_columns_are_what_a_spreadsheet_meant() {
        let feb = days_from_civil(2020, 2, 1);
        // A month cell holding the serial 43862 is February 2020, not the month 4386-02.
        assert_eq!(month("43862", None), Ok(feb));
        assert_eq!(month_from_number(43_862.0, "43862"), Ok(feb));
        assert_eq!(month_from_number(202_009.0, "202009"), Ok(days_from_civil(2020, 9, 1)));
        assert!(month_from_number(202_013.0, "202013").is_err());
        assert_eq!(date("43862", None), Ok(feb));
        assert_eq!(date_from_number(20_200_913.0, "20200913"), Ok(days_from_civil(2020, 9, 13)));
        assert!(date_from_number(20_200_230.0, "20200230").is_err());
        // Noon of 2020-02-01 in Beijing is 04:00 UTC.
        let noon = (i64::from(feb) * 86_400 + 4 * 3600) * 1_000_000;
        assert_eq!(timestamp("43862.5", None, 480), Ok(noon));
        assert_eq!(timestamp_from_number(43_862.5, "43862.5", 480), Ok(noon));
        // Not dates: a year alone, a huge number (no wrapping into year -5877641), a format that
        // asks for a layout.
        for bad in ["2020", "9900000000", "9.9e9", "1e300"] {
            assert!(month(bad, None).is_err(), "{bad}");
            assert!(date(bad, None).is_err(), "{bad}");
            assert!(timestamp(bad, None, 480).is_err(), "{bad}");
        }
        assert!(month_from_number(9.9e9, "9.9e9").unwrap_err().0.contains("'9.9e9'"));
        assert!(month("43862", Some("yyyy年MM月")).is_err());
        // A compact month takes two digits, so "20209" is not September 2020.
        assert!(month("20209", Some("yyyyMM")).is_err());
        assert_eq!(quarter_of_days(days_from_civil(2020, 8, 17)), days_from_civil(2020, 7, 1));
    }

    #[test]
    fn iso_timestamps_carry_their_zone() {
        // 2020-10-01 06:20:30 UTC, written four ways.
        let utc = (i64::from(days_from_civil(2020, 10, 1)) * 86_400 + 6 * 3600 + 20 * 60 + 30) * 1_000_000;
        assert_eq!(timestamp("2020-10-01T06:20:30Z", None, 480), Ok(utc));
        assert_eq!(timestamp("2020-10-01T14:20:30+08:00", None, 0), Ok(utc));
        assert_eq!(timestamp("2020-10-01 14:20:30+0800", None, 0), Ok(utc));
        assert_eq!(timestamp("2020-10-01T01:20:30-05", None, 480), Ok(utc));
        assert_eq!(timestamp("2020-10-01T14:20:30.250+08:00", None, 0), Ok(utc + 250_000));
        assert_eq!(timestamp("2020-10-01T14:20+08:00", None, 0), Ok(utc - 30_000_000));
        // Without a zone, the pipeline's offset applies.
        assert_eq!(timestamp("2020-10-01T14:20:30", None, 480), Ok(utc));
        for bad in ["2020-10-01T14:20:30+15:00", "2020-10-01T14:20:30+08:0", "2020-10-01Z", "2020-10-01T14:20:30+中文"] {
            assert!(timestamp(bad, None, 480).is_err(), "{bad}");
        }
    }

    #[test]
    fn numbers_that_overflow_once_scaled_are_rejected() {
        assert_eq!(number("1e300", 1.0), Ok(1e300));
        let e = number("1e308", 10_000.0).unwrap_err().0;
        assert!(e.contains("out of range once scaled"), "{e}");
        assert!(number("1,000", f64::MAX).is_err());
        assert!(scaled(f64::MAX, 2.0, "x").is_err());
    }

    #[test]
    fn the_date_window_names_day_and_bounds() {
        let (from, to) = (days_from_civil(2000, 1, 1), days_from_civil(2021, 12, 31));
        assert!(in_window(from, from, to).is_ok() && in_window(to, from, to).is_ok());
        let e = in_window(days_from_civil(2200, 10, 1), from, to).unwrap_err().0;
        assert!(e.contains("2200-10-01 is outside the pipeline's date window 2000-01-01 … 2021-12-31"), "{e}");
        assert!(e.contains("不在作业的日期范围"), "{e}");
        assert!(in_window(from - 1, from, to).is_err());
    }
}

/// Property tests: the parsers never panic on any text, and what a format writes reads back.
/// `PROPTEST_CASES` overrides the number of cases (default set for a few seconds in debug).
#[cfg(test)]
mod properties {
    use super::*;
    use crate::base::calendar::civil_from_days;
    use proptest::prelude::*;

    use crate::base::proptest_config as config;

    /// Text that looks like what exports hold: digits, separators, Chinese date words, zones.
    fn exportish() -> impl Strategy<Value = String> {
        let pieces = prop_oneof![
            "[0-9]{1,9}",
            Just("-".to_string()),
            Just("/".to_string()),
            Just(".".to_string()),
            Just(":".to_string()),
            Just(" ".to_string()),
            Just("T".to_string()),
            Just("Z".to_string()),
            Just("+".to_string()),
            Just(",".to_string()),
            Just("%".to_string()),
            Just("e".to_string()),
            Just("年".to_string()),
            Just("月".to_string()),
            Just("日".to_string()),
            Just("第".to_string()),
            Just("季度".to_string()),
            Just("Q".to_string()),
            Just("１".to_string()),
            Just("\u{3000}".to_string()),
            "\\PC{0,3}",
        ];
        proptest::collection::vec(pieces, 0..10).prop_map(|v| v.concat())
    }

    /// Date-shaped text with numbers of any size where the parts go.
    fn dateish() -> impl Strategy<Value = String> {
        "[0-9]{1,10}(年第?[0-9一二三四五]季度|[Qq][0-9]{1,2}|年[0-9]{1,3}月([0-9]{1,3}日)?|[-/.][0-9]{1,3}([-/.][0-9]{1,3}([ T][0-9]{1,3}:[0-9]{1,3}(:[0-9]{1,3}(\\.[0-9]{1,10})?)?(Z|[+-][0-9]{1,2}(:?[0-9]{1,2})?)?)?)?)?"
    }

    fn day() -> impl Strategy<Value = i32> {
        // 1900-03-01 … 9999-12-31
        days_from_civil(1900, 3, 1)..=days_from_civil(9999, 12, 31)
    }

    proptest! {
        #![proptest_config(config(512))]

        #[test]
        fn parsers_never_panic(raw in prop_oneof![exportish(), dateish(), any::<String>()], format in prop_oneof![Just(None), "[yMdHms年月日/: -]{0,12}".prop_map(Some), any::<String>().prop_map(Some)], offset in -900i32..900, scale in any::<f64>()) {
            let f = format.as_deref();
            let _ = number(&raw, scale);
            let _ = number(&raw, 1.0);
            let _ = integer(&raw);
            let _ = month(&raw, f);
            let _ = quarter(&raw);
            let _ = date(&raw, f);
            let _ = timestamp(&raw, f, offset);
        }

        #[test]
        fn numeric_cells_never_panic(v in any::<f64>(), offset in -900i32..900) {
            let raw = v.to_string();
            let _ = excel_serial(v, &raw);
            let _ = month_from_number(v, &raw);
            let _ = date_from_number(v, &raw);
            let _ = timestamp_from_number(v, &raw, offset);
            let _ = timestamp_from_serial(v, &raw, offset);
            let _ = scaled(v, v, &raw);
        }

        #[test]
        fn numbers_read_back(v in -1e12f64..1e12, whole in -999_999_999_999i64..999_999_999_999) {
            prop_assert_eq!(number(&v.to_string(), 1.0), Ok(v));
            // Thousands separators as exports write them.
            let digits = whole.unsigned_abs().to_string();
            let mut grouped = String::new();
            for (i, c) in digits.chars().enumerate() {
                if i > 0 && (digits.len() - i) % 3 == 0 {
                    grouped.push(',');
                }
                grouped.push(c);
            }
            let written = format!("{}{grouped}.50", if whole < 0 { "-" } else { "" });
            let expected = whole as f64 + if whole < 0 { -0.5 } else { 0.5 };
            prop_assert_eq!(number(&written, 1.0), Ok(expected), "{}", written);
            prop_assert_eq!(integer(&whole.to_string()), Ok(whole));
        }

        /// The one-pass decimal reader gives, bit for bit, what the standard library's parser
        /// gives, and declines only what it cannot take exactly.
        #[test]
        fn plain_decimals_are_read_exactly_as_the_standard_parser_reads_them(
            text in prop_oneof!["-?[0-9]{0,20}(\\.[0-9]{0,25})?", "-?0{0,5}[0-9]{1,17}\\.?[0-9]{0,6}", "[0-9.\\-]{0,6}"],
            v in any::<f64>(),
        ) {
            let standard = text.parse::<f64>().ok();
            match plain_decimal(&text) {
                Some(fast) => prop_assert_eq!(Some(fast.to_bits()), standard.map(f64::to_bits), "{}", text),
                None => {
                    // Declined: not a plain decimal, or too many digits or decimals to be exact.
                    let digits: String = text.chars().filter(char::is_ascii_digit).collect();
                    let decimals = text.split_once('.').map_or(0, |(_, d)| d.len());
                    let big = digits.trim_start_matches('0').len() > 15 || decimals > 22;
                    prop_assert!(standard.is_none() || big || text.contains('e'), "{}", text);
                }
            }
            // Whatever path it takes, a number reads as the standard parser reads it.
            let shortest = v.to_string();
            if v.is_finite() {
                prop_assert_eq!(number(&shortest, 1.0).map(f64::to_bits), Ok(v.to_bits()), "{}", shortest);
            }
        }

        /// The fixed-position reader of the common timestamp form agrees with the general
        /// matcher on that shape, valid or not (months, days, hours out of range), padded or not.
        #[test]
        fn common_timestamps_read_as_the_general_matcher_reads_them(
            any_digits in "[ ]?[0-9]{4}[-/][0-9]{2}[-/][0-9]{2}[ T][0-9]{2}:[0-9]{2}:[0-9]{2}[ ]?",
            (y, m, d, hh, mm, ss) in (1900u32..2100, 0u32..=13, 0u32..=32, 0u32..=24, 0u32..=60, 0u32..=60),
            (date_sep, time_sep) in (prop_oneof![Just('-'), Just('/')], prop_oneof![Just(' '), Just('T')]),
            offset in -900i32..900,
        ) {
            let near_valid = format!("{y:04}{date_sep}{m:02}{date_sep}{d:02}{time_sep}{hh:02}:{mm:02}:{ss:02}");
            for text in [any_digits, near_valid] {
                prop_assert_eq!(timestamp(&text, None, offset), any_timestamp(&text, None, offset), "{}", text);
            }
        }

        #[test]
        fn dates_months_quarters_and_timestamps_read_back(d in day(), seconds in 0u32..86_400, offset in -720i32..=840, zone in -720i32..=840) {
            let (y, m, dd) = civil_from_days(d);
            let first = days_from_civil(y, m, 1);
            prop_assert_eq!(date(&format!("{y}-{m:02}-{dd:02}"), None), Ok(d));
            prop_assert_eq!(date(&format!("{y}年{m}月{dd}日"), None), Ok(d));
            prop_assert_eq!(date(&format!("{y}{m:02}{dd:02}"), None), Ok(d));
            prop_assert_eq!(month(&format!("{y}年{m:02}月"), None), Ok(first));
            prop_assert_eq!(month(&format!("{y}{m:02}"), None), Ok(first));
            prop_assert_eq!(month(&format!("{y}-{m}"), None), Ok(first));
            let q = (m - 1) / 3 + 1;
            let q_first = days_from_civil(y, (q - 1) * 3 + 1, 1);
            prop_assert_eq!(quarter(&format!("{y}Q{q}")), Ok(q_first));
            prop_assert_eq!(quarter(&format!("{y}年第{q}季度")), Ok(q_first));
            prop_assert_eq!(quarter_of_days(d), q_first);
            let (hh, mm, ss) = (seconds / 3600, seconds / 60 % 60, seconds % 60);
            let local = i64::from(d) * 86_400 + i64::from(seconds);
            let text = format!("{y}-{m:02}-{dd:02} {hh:02}:{mm:02}:{ss:02}");
            prop_assert_eq!(timestamp(&text, None, offset), Ok((local - i64::from(offset) * 60) * 1_000_000));
            // An ISO zone in the value wins over the pipeline's offset.
            let sign = if zone < 0 { '-' } else { '+' };
            let iso = format!("{y}-{m:02}-{dd:02}T{hh:02}:{mm:02}:{ss:02}{sign}{:02}:{:02}", zone.abs() / 60, zone.abs() % 60);
            prop_assert_eq!(timestamp(&iso, None, offset), Ok((local - i64::from(zone) * 60) * 1_000_000), "{}", iso);
            prop_assert_eq!(timestamp(&format!("{text}Z").replace(' ', "T"), None, offset), Ok(local * 1_000_000));
            // An Excel serial is its day.
            let serial = f64::from(d + 25_569);
            prop_assert_eq!(excel_serial(serial, "s").map(|x| x.0), Ok(d));
            prop_assert_eq!(timestamp_from_serial(serial + f64::from(seconds) / 86_400.0, "s", offset), Ok((local - i64::from(offset) * 60) * 1_000_000));
        }

        #[test]
        fn the_window_holds_exactly_its_days(d in any::<i32>(), from in -100_000i32..100_000, len in 0i32..100_000) {
            let to = from + len;
            prop_assert_eq!(in_window(d, from, to).is_ok(), from <= d && d <= to);
        }
    }
}
