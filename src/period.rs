//! Calendar periods: months and quarters, their labels ("2020Q3", "2020-09") and spans.
//!
//! Shared by every stage: the generator lays exports out by quarter, ingest partitions curated
//! data by quarter, and the panel orders station periods by them.

use std::fmt;
use std::str::FromStr;

/// A calendar month.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Month {
    pub year: i32,
    /// 1..=12
    pub month: u32,
}

/// A calendar quarter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Quarter {
    pub year: i32,
    /// 1..=4
    pub quarter: u32,
}

impl Month {
    pub fn new(year: i32, month: u32) -> Month {
        assert!((1..=12).contains(&month), "month {month} out of range");
        Month { year, month }
    }

    pub fn quarter(self) -> Quarter {
        Quarter { year: self.year, quarter: (self.month - 1) / 3 + 1 }
    }

    pub fn days(self) -> u32 {
        days_in_month(self.year, self.month)
    }

    pub fn hours(self) -> f64 {
        f64::from(self.days()) * 24.0
    }

    pub fn next(self) -> Month {
        if self.month == 12 { Month::new(self.year + 1, 1) } else { Month::new(self.year, self.month + 1) }
    }
}

impl Quarter {
    pub fn new(year: i32, quarter: u32) -> Quarter {
        assert!((1..=4).contains(&quarter), "quarter {quarter} out of range");
        Quarter { year, quarter }
    }

    /// The three months of the quarter, in order.
    pub fn months(self) -> [Month; 3] {
        let first = (self.quarter - 1) * 3 + 1;
        [Month::new(self.year, first), Month::new(self.year, first + 1), Month::new(self.year, first + 2)]
    }

    pub fn next(self) -> Quarter {
        if self.quarter == 4 { Quarter::new(self.year + 1, 1) } else { Quarter::new(self.year, self.quarter + 1) }
    }

    /// `count` consecutive quarters starting at `self`.
    pub fn span(self, count: usize) -> Vec<Quarter> {
        std::iter::successors(Some(self), |q| Some(q.next())).take(count).collect()
    }

    /// Hours in the quarter (the denominator of RS-1 reliability).
    pub fn hours(self) -> f64 {
        self.months().iter().map(|m| m.hours()).sum()
    }

    /// Running index: quarters since year 0, so that consecutive quarters differ by one.
    pub fn ordinal(self) -> i64 {
        i64::from(self.year) * 4 + i64::from(self.quarter) - 1
    }
}

pub fn is_leap_year(year: i32) -> bool {
    (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
}

pub fn days_in_month(year: i32, month: u32) -> u32 {
    match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if is_leap_year(year) => 29,
        2 => 28,
        _ => panic!("month {month} out of range"),
    }
}

impl fmt::Display for Month {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{:02}", self.year, self.month)
    }
}

impl fmt::Display for Quarter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}Q{}", self.year, self.quarter)
    }
}

/// Error for a period label that is not of the form `2020Q3`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("'{0}' is not a quarter; expected the form 2020Q3")]
pub struct BadQuarter(pub String);

impl FromStr for Quarter {
    type Err = BadQuarter;

    fn from_str(s: &str) -> Result<Quarter, BadQuarter> {
        let bad = || BadQuarter(s.to_string());
        let (year, quarter) = s.trim().split_once(['Q', 'q']).ok_or_else(bad)?;
        let year: i32 = year.parse().map_err(|_| bad())?;
        let quarter: u32 = quarter.parse().map_err(|_| bad())?;
        if !(1..=4).contains(&quarter) || !(1000..=9999).contains(&year) {
            return Err(bad());
        }
        Ok(Quarter::new(year, quarter))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quarter_months_and_hours() {
        let q = Quarter::new(2020, 1);
        assert_eq!(q.months(), [Month::new(2020, 1), Month::new(2020, 2), Month::new(2020, 3)]);
        // 2020 is a leap year: 31 + 29 + 31 days.
        assert_eq!(q.hours(), 91.0 * 24.0);
        assert_eq!(Quarter::new(2019, 1).hours(), 90.0 * 24.0);
        assert_eq!(Quarter::new(2019, 4).next(), Quarter::new(2020, 1));
        assert_eq!(Month::new(2019, 12).next(), Month::new(2020, 1));
        assert_eq!(Month::new(2019, 9).quarter(), Quarter::new(2019, 3));
    }

    #[test]
    fn quarter_labels_round_trip() {
        let q: Quarter = "2020Q4".parse().unwrap();
        assert_eq!(q, Quarter::new(2020, 4));
        assert_eq!(q.to_string(), "2020Q4");
        assert!("2020Q5".parse::<Quarter>().is_err());
        assert!("2020-4".parse::<Quarter>().is_err());
        assert_eq!(Quarter::new(2020, 1).ordinal() - Quarter::new(2019, 4).ordinal(), 1);
    }

    #[test]
    fn leap_years() {
        assert!(is_leap_year(2000));
        assert!(!is_leap_year(1900));
        assert_eq!(days_in_month(2019, 2), 28);
    }
}
