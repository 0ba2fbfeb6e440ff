//! Calendar periods: months and quarters, their labels ("2020Q3", "2020-09") and spans, and the
//! `Period` of a pipeline's grain (month, quarter or year).
//!
//! Shared by every stage: the generator lays exports out by quarter; ingest partitions curated
//! data by the pipeline's period, and the panel orders and lags station periods by it.

use std::fmt;
use std::str::FromStr;

use super::calendar::{civil_from_days, days_from_civil, days_in_month};
use super::vocab::{Vocabulary, Word};

/// A calendar month.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) struct Month {
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
    pub(crate) fn span(self, count: usize) -> Vec<Quarter> {
        std::iter::successors(Some(self), |q| Some(q.next())).take(count).collect()
    }

    /// Running index: quarters since year 0, so that consecutive quarters differ by one.
    pub(crate) fn ordinal(self) -> i64 {
        i64::from(self.year) * 4 + i64::from(self.quarter) - 1
    }
}

/// The length of one panel period, as the pipeline's `period` says.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub(crate) enum Grain {
    Month,
    #[default]
    Quarter,
    Year,
}

impl Vocabulary for Grain {
    const WORDS: &'static [Word<Grain>] = &[
        Word { value: Grain::Month, name: "month", zh: "月", en: "month" },
        Word { value: Grain::Quarter, name: "quarter", zh: "季度", en: "quarter" },
        Word { value: Grain::Year, name: "year", zh: "年", en: "year" },
    ];
}

impl Grain {
    /// Calendar months in one period.
    pub fn months(self) -> u32 {
        match self {
            Grain::Month => 1,
            Grain::Quarter => 3,
            Grain::Year => 12,
        }
    }

    fn per_year(self) -> u32 {
        12 / self.months()
    }

    /// How a label of this grain looks, for messages.
    pub fn example(self) -> &'static str {
        match self {
            Grain::Month => "2020-09",
            Grain::Quarter => "2020Q3",
            Grain::Year => "2020",
        }
    }
}

/// One period of a grain: a month ("2020-09"), a quarter ("2020Q3") or a year ("2020"). The label
/// is the ASCII partition key of curated data and the `period` column of the panel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Period {
    pub grain: Grain,
    pub year: i32,
    /// 1-based position in the year: the month, the quarter, or 1 for a year.
    pub index: u32,
}

impl Period {
    /// The period of `grain` that contains `month`.
    pub fn containing(grain: Grain, month: Month) -> Period {
        Period { grain, year: month.year, index: (month.month - 1) / grain.months() + 1 }
    }

    /// The period of `grain` that contains a day (days since 1970-01-01).
    pub(crate) fn of_day(grain: Grain, days: i32) -> Period {
        let (y, m, _) = civil_from_days(days);
        Period::containing(grain, Month::new(y, m))
    }

    pub(crate) fn first_month(self) -> Month {
        Month::new(self.year, (self.index - 1) * self.grain.months() + 1)
    }

    /// The months of the period, in order.
    pub fn months(self) -> Vec<Month> {
        std::iter::successors(Some(self.first_month()), |m| Some(m.next())).take(self.grain.months() as usize).collect()
    }

    pub fn next(self) -> Period {
        if self.index == self.grain.per_year() { Period { year: self.year + 1, index: 1, ..self } } else { Period { index: self.index + 1, ..self } }
    }

    /// Hours in the period (the denominator of RS-1 reliability).
    pub fn hours(self) -> f64 {
        self.months().iter().map(|m| m.hours()).sum()
    }

    /// Running index: consecutive periods of a grain differ by one.
    pub(crate) fn ordinal(self) -> i64 {
        i64::from(self.year) * i64::from(self.grain.per_year()) + i64::from(self.index) - 1
    }

    /// The first day of the period, as days since 1970-01-01 (Arrow DATE).
    pub(crate) fn start_days(self) -> i32 {
        let m = self.first_month();
        days_from_civil(m.year, m.month, 1)
    }
}

impl From<Quarter> for Period {
    fn from(q: Quarter) -> Period {
        Period { grain: Grain::Quarter, year: q.year, index: q.quarter }
    }
}

impl fmt::Display for Period {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.grain {
            Grain::Month => write!(f, "{}-{:02}", self.year, self.index),
            Grain::Quarter => write!(f, "{}Q{}", self.year, self.index),
            Grain::Year => write!(f, "{}", self.year),
        }
    }
}

/// Error for a period label that is none of `2020-09`, `2020Q3`, `2020`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("'{0}' is not a period; expected a month (2020-09), a quarter (2020Q3) or a year (2020)")]
pub struct BadPeriod(pub String);

impl FromStr for Period {
    type Err = BadPeriod;

    /// The grain follows from the form of the label.
    fn from_str(s: &str) -> Result<Period, BadPeriod> {
        let bad = || BadPeriod(s.to_string());
        let text = s.trim();
        if let Ok(q) = text.parse::<Quarter>() {
            return Ok(q.into());
        }
        let year_of = |t: &str| t.parse::<i32>().ok().filter(|y| (1000..=9999).contains(y) && t.len() == 4);
        if let Some((y, m)) = text.split_once('-') {
            let year = year_of(y).ok_or_else(bad)?;
            let month: u32 = m.parse().ok().filter(|v| (1..=12).contains(v) && m.len() == 2).ok_or_else(bad)?;
            return Ok(Period { grain: Grain::Month, year, index: month });
        }
        let year = year_of(text).ok_or_else(bad)?;
        Ok(Period { grain: Grain::Year, year, index: 1 })
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
        assert_eq!(Period::from(q).hours(), 91.0 * 24.0);
        assert_eq!(Period::from(Quarter::new(2019, 1)).hours(), 90.0 * 24.0);
        assert_eq!(Quarter::new(2019, 4).next(), Quarter::new(2020, 1));
        assert_eq!(Month::new(2019, 12).next(), Month::new(2020, 1));
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
    fn periods_of_each_grain() {
        let sep = Month::new(2020, 9);
        let m = Period::containing(Grain::Month, sep);
        let q = Period::containing(Grain::Quarter, sep);
        let y = Period::containing(Grain::Year, sep);
        assert_eq!((m.to_string(), q.to_string(), y.to_string()), ("2020-09".into(), "2020Q3".into(), "2020".into()));
        assert_eq!(m.months(), [sep]);
        assert_eq!(q.months(), [Month::new(2020, 7), Month::new(2020, 8), sep]);
        assert_eq!(y.months().len(), 12);
        // 2020 is a leap year: 366 days; September has 30; Q3 has 31 + 31 + 30.
        assert_eq!((m.hours(), q.hours(), y.hours()), (30.0 * 24.0, 92.0 * 24.0, 366.0 * 24.0));
        assert_eq!(Period::containing(Grain::Month, Month::new(2020, 12)).next().to_string(), "2021-01");
        assert_eq!(Period::containing(Grain::Quarter, Month::new(2020, 12)).next().to_string(), "2021Q1");
        assert_eq!(y.next().to_string(), "2021");
        for p in [m, q, y] {
            assert_eq!(p.next().ordinal() - p.ordinal(), 1);
            assert_eq!(p.to_string().parse::<Period>(), Ok(p));
        }
        // 2020-07-01 is day 18 444 since 1970-01-01.
        assert_eq!(q.start_days(), 18_444);
        assert_eq!(Period::of_day(Grain::Quarter, 18_444), q);
        assert_eq!(Period::of_day(Grain::Quarter, 18_443).to_string(), "2020Q2");
        for bad in ["2020-9", "2020-13", "20", "2020Q5", "Q3", "2020-09-01"] {
            assert!(bad.parse::<Period>().is_err(), "{bad}");
        }
    }
}
