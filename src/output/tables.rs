//! The tables a run publishes: the wide and long panel, the correlations, and the quality tables
//! (rejects, coverage, unmatched). All go through the one BI-safe Parquet writer
//! (`store::parquet`), at the paths `store::layout` names.

use std::path::Path;
use std::sync::Arc;

use arrow::array::{ArrayRef, Date32Array, Float64Array, Int64Array, StringArray};

use crate::base::vocab::Vocabulary;
use crate::ingest::Reject;
use crate::panel::{Panel, Unmatched};
use crate::store::error::StoreError;
use crate::store::layout::{self, Table};
use crate::store::parquet::{RunStamp, write_parquet};

fn text<I: IntoIterator<Item = Option<String>>>(values: I) -> ArrayRef {
    Arc::new(StringArray::from(values.into_iter().collect::<Vec<_>>()))
}

/// Writes panel.parquet, panel_long.parquet, quality/coverage.parquet, quality/unmatched.parquet.
pub fn write_panel(panel: &Panel, out: &Path, run_id: &str) -> Result<(), StoreError> {
    let stamp = |table: Table| RunStamp { run_id: run_id.to_string(), table: table.name.to_string() };
    let n = panel.stations.len() * panel.periods.len();
    let station_of = |i: usize| &panel.stations[i / panel.periods.len()];
    let period_of = |i: usize| panel.periods[i % panel.periods.len()];

    let mut wide: Vec<(String, ArrayRef)> = vec![
        ("station_id".into(), text((0..n).map(|i| Some(station_of(i).station_id.clone())))),
        ("station_name".into(), text((0..n).map(|i| Some(station_of(i).name.clone())))),
        ("county".into(), text((0..n).map(|i| station_of(i).county.clone()))),
        ("period".into(), text((0..n).map(|i| Some(period_of(i).to_string())))),
        ("period_start".into(), Arc::new(Date32Array::from((0..n).map(|i| period_of(i).start_days()).collect::<Vec<_>>()))),
    ];
    for c in &panel.columns {
        wide.push((c.name.clone(), Arc::new(Float64Array::from(c.values.clone()))));
    }
    write_parquet(&layout::PANEL.path(out), wide, &stamp(layout::PANEL))?;

    let (mut sid, mut per, mut var, mut val, mut kind) = (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for c in &panel.columns {
        for (i, v) in c.values.iter().enumerate() {
            sid.push(Some(station_of(i).station_id.clone()));
            per.push(Some(period_of(i).to_string()));
            var.push(Some(c.name.clone()));
            val.push(*v);
            kind.push(Some(c.kind.name().to_string()));
        }
    }
    let long: Vec<(String, ArrayRef)> = vec![
        ("station_id".into(), text(sid)),
        ("period".into(), text(per)),
        ("variable".into(), text(var)),
        ("value".into(), Arc::new(Float64Array::from(val))),
        ("kind".into(), text(kind)),
    ];
    write_parquet(&layout::PANEL_LONG.path(out), long, &stamp(layout::PANEL_LONG))?;

    let coverage: Vec<(String, ArrayRef)> = vec![
        ("station_id".into(), text(panel.gaps.iter().map(|g| Some(g.station_id.clone())))),
        ("period".into(), text(panel.gaps.iter().map(|g| Some(g.period.to_string())))),
        ("variable".into(), text(panel.gaps.iter().map(|g| Some(g.variable.clone())))),
        ("reason".into(), text(panel.gaps.iter().map(|g| Some(g.reason.clone())))),
    ];
    write_parquet(&layout::COVERAGE.path(out), coverage, &stamp(layout::COVERAGE))?;
    write_unmatched(&panel.unmatched, out, run_id)
}

/// Writes quality/unmatched.parquet (also kept with a run stopped by its unmatched share).
pub(crate) fn write_unmatched(unmatched: &[Unmatched], out: &Path, run_id: &str) -> Result<(), StoreError> {
    let columns: Vec<(String, ArrayRef)> = vec![
        ("source".into(), text(unmatched.iter().map(|u| Some(u.source.clone())))),
        ("spelling".into(), text(unmatched.iter().map(|u| Some(u.spelling.clone())))),
        ("rows".into(), Arc::new(Int64Array::from(unmatched.iter().map(|u| u.rows as i64).collect::<Vec<_>>()))),
        ("candidates".into(), text(unmatched.iter().map(|u| Some(u.candidates.clone())))),
    ];
    write_parquet(&layout::UNMATCHED.path(out), columns, &RunStamp { run_id: run_id.to_string(), table: layout::UNMATCHED.name.to_string() })
}

/// Writes correlations.parquet (long form, one row per test).
pub(crate) fn write_correlations(findings: &[crate::analysis::Finding], out: &Path, run_id: &str) -> Result<(), StoreError> {
    let f64s = |g: &dyn Fn(&crate::analysis::Finding) -> Option<f64>| -> ArrayRef { Arc::new(Float64Array::from(findings.iter().map(g).collect::<Vec<_>>())) };
    let columns: Vec<(String, ArrayRef)> = vec![
        ("indicator".into(), text(findings.iter().map(|f| Some(f.indicator.clone())))),
        ("indicator_label".into(), text(findings.iter().map(|f| Some(f.indicator_label.clone())))),
        ("feature".into(), text(findings.iter().map(|f| Some(f.feature.clone())))),
        ("feature_label".into(), text(findings.iter().map(|f| Some(f.feature_label.clone())))),
        ("scope".into(), text(findings.iter().map(|f| Some(f.scope.name().to_string())))),
        ("method".into(), text(findings.iter().map(|f| Some(f.method.name().to_string())))),
        ("lag".into(), Arc::new(Int64Array::from(findings.iter().map(|f| f.lag).collect::<Vec<_>>()))),
        // Null, not empty, when the test partials out nothing.
        ("controls".into(), text(findings.iter().map(|f| (!f.controls.is_empty()).then(|| f.controls.clone())))),
        ("n".into(), Arc::new(Int64Array::from(findings.iter().map(|f| f.n as i64).collect::<Vec<_>>()))),
        ("n_stations".into(), Arc::new(Int64Array::from(findings.iter().map(|f| f.n_stations as i64).collect::<Vec<_>>()))),
        ("r".into(), f64s(&|f| f.r)),
        ("ci_low".into(), f64s(&|f| f.ci_low)),
        ("ci_high".into(), f64s(&|f| f.ci_high)),
        ("ci_method".into(), text(findings.iter().map(|f| f.ci_method.clone()))),
        ("p_value".into(), f64s(&|f| f.p_value)),
        ("p_adjusted".into(), f64s(&|f| f.p_adjusted)),
        ("adjust_method".into(), text(findings.iter().map(|f| Some(f.adjust_method.clone())))),
        ("r_better".into(), f64s(&|f| f.r_better)),
        ("reason".into(), text(findings.iter().map(|f| f.reason.clone()))),
    ];
    write_parquet(&layout::CORRELATIONS.path(out), columns, &RunStamp { run_id: run_id.to_string(), table: layout::CORRELATIONS.name.into() })
}

/// Writes quality/rejects.parquet: every quarantined row with file, line, column, value and reason.
pub(crate) fn write_rejects(rejects: &[&Reject], out: &Path, run_id: &str) -> Result<(), StoreError> {
    let text = |f: &dyn Fn(&Reject) -> Option<String>| -> ArrayRef { Arc::new(StringArray::from(rejects.iter().map(|r| f(r)).collect::<Vec<_>>())) };
    let columns: Vec<(String, ArrayRef)> = vec![
        ("source".into(), text(&|r| Some(r.source.clone()))),
        ("file".into(), text(&|r| Some(r.file.clone()))),
        ("sheet".into(), text(&|r| r.sheet.clone())),
        ("row".into(), Arc::new(Int64Array::from(rejects.iter().map(|r| r.row as i64).collect::<Vec<_>>()))),
        ("column".into(), text(&|r| r.column.clone())),
        ("value".into(), text(&|r| r.value.clone())),
        ("kind".into(), text(&|r| Some(r.kind.name().to_string()))),
        ("reason".into(), text(&|r| Some(r.reason.clone()))),
    ];
    write_parquet(&layout::REJECTS.path(out), columns, &RunStamp { run_id: run_id.to_string(), table: layout::REJECTS.name.into() })
}
