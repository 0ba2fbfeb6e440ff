//! The data-proportional part of the panel: what an engine reads from the curated rows. It
//! gives the assembly two things, whatever ran it: the station spellings of each measure
//! source per covered period with their row counts, and the long measures table (station_id,
//! period, variable, value) aggregated per station × period. `Embedded` computes both with
//! polars over the curated folder; another engine (Spark) runs a generated job over the same
//! tree and hands back the same tables.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use polars::prelude::*;

use super::{
    ColumnKind, PanelError, References, STATION_NUMBER, StationColumns, aggregate_measures, floats, measures, partitions, pe, scan, source_parts,
    source_parts_numbered, station_numbers, strings,
};
use crate::base::period::Period;
use crate::spec::plan::{Measure, Plan};

/// The station spellings of one measure source: for each period it covers, each spelling of its
/// station column with its rows (rows without a spelling are not listed).
#[derive(Debug, Clone, PartialEq)]
pub struct SourceSpellings {
    /// Index into `Plan::sources`.
    pub source: usize,
    pub periods: Vec<(Period, Vec<(String, u64)>)>,
}

/// One row of the long measures table: the value of a measure for a station and period. A row
/// whose value is None (or not finite) had source rows but no value (a zero denominator).
#[derive(Debug, Clone, PartialEq)]
pub struct MeasureValue {
    pub station_id: String,
    pub period: Period,
    pub variable: String,
    pub value: Option<f64>,
}

/// The engine of the data-proportional part.
pub trait MeasureEngine {
    /// The spellings of each of `sources` (indices into `Plan::sources`), in that order.
    fn spellings(&mut self, plan: &Plan, sources: &[usize]) -> Result<Vec<SourceSpellings>, PanelError>;

    /// Every indicator and feature per station × period, given each source's spelling →
    /// station_id mapping and the periods of the grid (for `period_hours`, `period_months`).
    fn measures(
        &mut self,
        plan: &Plan,
        references: &References,
        mappings: &BTreeMap<usize, HashMap<String, String>>,
        periods: &[Period],
    ) -> Result<Vec<MeasureValue>, PanelError>;
}

/// The embedded engine: polars over the curated folder, partition by partition.
pub(crate) struct Embedded<'a> {
    pub curated: &'a Path,
}

impl MeasureEngine for Embedded<'_> {
    fn spellings(&mut self, plan: &Plan, sources: &[usize]) -> Result<Vec<SourceSpellings>, PanelError> {
        let mut out = Vec::new();
        for &index in sources {
            let source = &plan.sources[index];
            let (key_column, _) = source.station.clone().ok_or_else(|| PanelError::NoStationColumn(source.name.clone()))?;
            let periods = match counted_spellings(self.curated, &source.name, &key_column)? {
                Some(periods) => periods,
                None => grouped_spellings(self.curated, &source.name, &key_column)?,
            };
            out.push(SourceSpellings { source: index, periods });
        }
        Ok(out)
    }

    fn measures(
        &mut self,
        plan: &Plan,
        references: &References,
        mappings: &BTreeMap<usize, HashMap<String, String>>,
        periods: &[Period],
    ) -> Result<Vec<MeasureValue>, PanelError> {
        let stations = StationColumns::new(plan, &references.master);
        let all: Vec<(&Measure, ColumnKind)> = measures(plan).collect();
        let mut out = Vec::new();
        let mut done = vec![false; all.len()];
        for first in 0..all.len() {
            if done[first] {
                continue;
            }
            // Measures of one source without an interval, a pre-aggregation or a filter read the
            // same rows the same way: they share one grouping (one query per partition).
            let plain = |m: &Measure| m.interval.is_none() && m.pre_aggregate.is_none() && m.filter.is_none();
            let source_index = all[first].0.source;
            let members: Vec<usize> = if plain(all[first].0) {
                (first..all.len()).filter(|&j| !done[j] && all[j].0.source == source_index && plain(all[j].0)).collect()
            } else {
                vec![first]
            };
            for &j in &members {
                done[j] = true;
            }
            let batch: Vec<(&Measure, &ColumnKind)> = members.iter().map(|&j| (all[j].0, &all[j].1)).collect();
            let source = &plan.sources[source_index];
            // Sources are read partition by partition, so memory follows the largest period, not
            // the whole history; only interval measures, whose rows can reach into the next
            // period, are taken whole.
            let (key_column, _) = source.station.clone().ok_or_else(|| PanelError::NoStationColumn(source.name.clone()))?;
            let mapping = &mappings[&source_index];
            let numbering = scan::Numbering { column: key_column.clone(), name: STATION_NUMBER.to_string(), numbers: station_numbers(mapping).1 };
            let (parts, numbered) = source_parts_numbered(self.curated, &source.name, Some(Arc::new(numbering)))?;
            let aggregate = |batch: &[(&Measure, &ColumnKind)]| aggregate_measures(plan, batch, &parts, numbered, &key_column, mapping, &stations, periods);
            let aggregated = match aggregate(&batch) {
                Ok(frames) => frames,
                // One measure at a time, so that the error names the measure that failed.
                Err(_) if batch.len() > 1 => batch.iter().map(|one| aggregate(std::slice::from_ref(one)).map(|mut f| f.remove(0))).collect::<Result<_, _>>()?,
                Err(e) => return Err(e),
            };
            for ((measure, _), frames) in batch.iter().zip(&aggregated) {
                for frame in frames {
                    long_rows(frame, &measure.name, &mut out)?;
                }
            }
        }
        Ok(out)
    }
}

/// A text station column's spellings per partition, counted from the files' dictionaries
/// (`scan::value_counts`); None when the column does not hold text.
fn counted_spellings(curated: &Path, source: &str, key_column: &str) -> Result<Option<Vec<(Period, Vec<(String, u64)>)>>, PanelError> {
    let mut periods = Vec::new();
    for (q, files) in partitions(curated, source)? {
        if files.is_empty() {
            continue;
        }
        let mut here: BTreeMap<String, u64> = BTreeMap::new();
        for file in &files {
            let Some(counts) = scan::value_counts(file, key_column).map_err(pe)? else { return Ok(None) };
            for (spelling, n) in counts {
                *here.entry(spelling).or_default() += n;
            }
        }
        periods.push((q, here.into_iter().collect()));
    }
    if periods.is_empty() {
        return Err(PanelError::NoData(source.to_string()));
    }
    Ok(Some(periods))
}

/// A station column's spellings per partition by a polars grouping (any column type).
fn grouped_spellings(curated: &Path, source: &str, key_column: &str) -> Result<Vec<(Period, Vec<(String, u64)>)>, PanelError> {
    let mut periods = Vec::new();
    for (q, frame) in &source_parts(curated, source)? {
        let keys = frame.clone().group_by([col(key_column)]).agg([len().alias("rows")]).collect().map_err(pe)?;
        let mut here = Vec::new();
        for (k, n) in strings(&keys, key_column)?.into_iter().zip(floats(&keys, "rows")?) {
            if let (Some(k), Some(n)) = (k, n) {
                here.push((k, n as u64));
            }
        }
        periods.push((*q, here));
    }
    Ok(periods)
}

/// The rows of one aggregated frame (station_id, period, __value) as measure values.
fn long_rows(frame: &DataFrame, variable: &str, out: &mut Vec<MeasureValue>) -> Result<(), PanelError> {
    let (sids, pids, vals) = (strings(frame, "station_id")?, strings(frame, "period")?, floats(frame, "__value")?);
    for i in 0..frame.height() {
        let (Some(station_id), Some(period)) = (&sids[i], &pids[i]) else { continue };
        let Ok(period) = period.parse::<Period>() else { continue };
        out.push(MeasureValue { station_id: station_id.clone(), period, variable: variable.to_string(), value: vals[i] });
    }
    Ok(())
}
