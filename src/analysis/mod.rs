//! The correlation table: for every indicator × feature × lag the pipeline asks for, in each
//! scope (pooled, within-station, between-station) and method, without and with the control
//! attributes, with confidence intervals, p-values corrected over the pipeline's family, and a
//! direction-adjusted r (positive always means "goes with a better indicator").
//!
//! Layer `analysis` (ARCHITECTURE.md): owns the findings; may import `base`, `stats`, `spec` and
//! `panel`.

pub mod error;

use rayon::prelude::*;

use crate::base::vocab::Vocabulary;
use crate::panel::{ColumnKind, Panel};
use crate::spec::plan::{Analysis, Better, Plan};
use crate::stats::{self, Adjust, Method, Observations, Options, Scope};
pub use error::AnalysisError;

/// One row of correlations.parquet.
#[derive(Debug, Clone)]
pub(crate) struct Finding {
    pub indicator: String,
    pub indicator_label: String,
    pub feature: String,
    pub feature_label: String,
    pub lag: i64,
    pub scope: Scope,
    pub method: Method,
    /// Control attributes, comma-separated ("" for none).
    pub controls: String,
    /// Size of the sample the test ran on: complete station-periods for the pooled and within
    /// scopes, station means (= `n_stations`) for the between scope.
    pub n: usize,
    /// Stations with at least one complete station-period.
    pub n_stations: usize,
    pub r: Option<f64>,
    pub ci_low: Option<f64>,
    pub ci_high: Option<f64>,
    pub ci_method: Option<String>,
    pub p_value: Option<f64>,
    pub p_adjusted: Option<f64>,
    pub adjust_method: String,
    /// r signed so that positive means "more of the feature goes with a better indicator".
    pub r_better: Option<f64>,
    pub reason: Option<String>,
}

/// The name of a scope in the tables (its vocabulary word).
pub(crate) fn scope_name(s: Scope) -> &'static str {
    s.name()
}

/// The name of a method in the tables (its vocabulary word).
pub(crate) fn method_name(m: Method) -> &'static str {
    m.name()
}

fn adjust_name(a: Adjust) -> &'static str {
    a.name()
}

struct Task {
    indicator: usize,
    feature: String,
    feature_column: usize,
    lag: i64,
    scope: Scope,
    method: Method,
    with_controls: bool,
}

/// Computes the whole table from the panel: lists the tests the plan asks for, computes each,
/// then adjusts the p-values over their families.
pub(crate) fn correlate(plan: &Plan, panel: &Panel) -> Result<Vec<Finding>, AnalysisError> {
    let columns = Columns::new(plan, panel)?;
    let tasks = tasks(plan, panel, !columns.controls.is_empty());
    let mut findings: Vec<Finding> = tasks.par_iter().map(|t| compute(plan, panel, &columns, t)).collect::<Result<_, _>>()?;
    adjust_families(&plan.analysis, &mut findings);
    Ok(findings)
}

/// What every test shares: the station of each panel row and the control columns.
struct Columns {
    station: Vec<u32>,
    controls: Vec<Vec<f64>>,
}

impl Columns {
    fn new(plan: &Plan, panel: &Panel) -> Result<Columns, AnalysisError> {
        let station = (0..panel.stations.len() * panel.periods.len()).map(|i| (i / panel.periods.len()) as u32).collect();
        let controls = plan
            .analysis
            .controls
            .iter()
            .map(|name| {
                panel.columns.iter().position(|c| &c.name == name).map(|c| values(panel, c)).ok_or_else(|| AnalysisError::MissingControl { name: name.clone() })
            })
            .collect::<Result<_, _>>()?;
        Ok(Columns { station, controls })
    }
}

/// A panel column with missing cells as NaN, as the engine takes it.
fn values(panel: &Panel, column: usize) -> Vec<f64> {
    panel.columns[column].values.iter().map(|v| v.unwrap_or(f64::NAN)).collect()
}

/// Every indicator × feature × lag × scope × method, without and (when the plan has controls)
/// with the controls; lags the panel lacks are skipped.
fn tasks(plan: &Plan, panel: &Panel, has_controls: bool) -> Vec<Task> {
    let a = &plan.analysis;
    let mut tasks = Vec::new();
    for (ic, column) in panel.columns.iter().enumerate() {
        let ColumnKind::Indicator(_) = column.kind else { continue };
        for feature in &plan.features {
            for &lag in &plan.lags {
                let name = if lag == 0 { feature.name.clone() } else { format!("{}_lag{lag}", feature.name) };
                let Some(fc) = panel.columns.iter().position(|c| c.name == name) else { continue };
                for &scope in &a.scopes {
                    for &method in &a.methods {
                        for with_controls in [false, true] {
                            if with_controls && !has_controls {
                                continue;
                            }
                            tasks.push(Task { indicator: ic, feature: feature.name.clone(), feature_column: fc, lag, scope, method, with_controls });
                        }
                    }
                }
            }
        }
    }
    tasks
}

/// One row of the table: the engine's result, or the reason the pair has too few complete rows
/// to be tried.
fn compute(plan: &Plan, panel: &Panel, columns: &Columns, t: &Task) -> Result<Finding, AnalysisError> {
    let a = &plan.analysis;
    let (x, y) = (values(panel, t.feature_column), values(panel, t.indicator));
    let used_controls: &[Vec<f64>] = if t.with_controls { &columns.controls } else { &[] };
    let indicator = &panel.columns[t.indicator];
    let feature = plan.features.iter().find(|f| f.name == t.feature).unwrap();
    let mut finding = Finding {
        indicator: indicator.name.clone(),
        indicator_label: indicator.label.clone(),
        feature: feature.name.clone(),
        feature_label: feature.label.clone(),
        lag: t.lag,
        scope: t.scope,
        method: t.method,
        controls: if t.with_controls { a.controls.join(",") } else { String::new() },
        n: 0,
        n_stations: 0,
        r: None,
        ci_low: None,
        ci_high: None,
        ci_method: None,
        p_value: None,
        p_adjusted: None,
        adjust_method: adjust_name(a.adjust).to_string(),
        r_better: None,
        reason: None,
    };
    let (rows, stations) = complete_rows(&columns.station, &x, &y, used_controls);
    if rows < a.min_observations {
        finding.n_stations = stations;
        finding.n = if t.scope == Scope::Between { stations } else { rows };
        finding.reason = Some(match t.scope {
            Scope::Between => format!("too few observations: {rows} station-periods, need at least {}", a.min_observations),
            Scope::Pooled | Scope::Within => format!("too few observations: n={rows}, need at least {}", a.min_observations),
        });
        return Ok(finding);
    }
    let obs = Observations { station: &columns.station, x: &x, y: &y, controls: used_controls };
    let options = Options { method: t.method, scope: t.scope, confidence: a.confidence, bootstrap: a.bootstrap };
    let c =
        stats::correlate(&obs, &options).map_err(|source| AnalysisError::Pair { indicator: indicator.name.clone(), feature: feature.name.clone(), source })?;
    let better = match indicator.kind {
        ColumnKind::Indicator(Better::Lower) => -1.0,
        _ => 1.0,
    };
    finding.n = c.n;
    finding.n_stations = c.n_stations;
    finding.r = c.r;
    finding.ci_low = c.ci_low;
    finding.ci_high = c.ci_high;
    finding.ci_method = c.ci_method.map(|m| serde_json::to_value(m).ok().and_then(|v| v.as_str().map(str::to_string)).unwrap_or_default());
    finding.p_value = c.p_value;
    finding.r_better = c.r.map(|r| r * better);
    finding.reason = c.reason.or(c.ci_reason);
    Ok(finding)
}

/// Rows with x, y and every control present, and the distinct stations among them.
fn complete_rows(station: &[u32], x: &[f64], y: &[f64], controls: &[Vec<f64>]) -> (usize, usize) {
    let complete: Vec<usize> = (0..x.len()).filter(|&i| x[i].is_finite() && y[i].is_finite() && controls.iter().all(|c| c[i].is_finite())).collect();
    let ids: Vec<u32> = complete.iter().map(|&i| station[i]).collect();
    (complete.len(), crate::stats::dense_numbers(&ids).1)
}

/// Multiple-testing correction over each family: the whole table, or each scope × method ×
/// controls.
fn adjust_families(a: &Analysis, findings: &mut [Finding]) {
    let family = |f: &Finding| if a.family_all { String::new() } else { format!("{}|{}|{}", scope_name(f.scope), method_name(f.method), f.controls) };
    let mut families: Vec<String> = findings.iter().map(family).collect();
    families.sort();
    families.dedup();
    for fam in families {
        let members: Vec<usize> = (0..findings.len()).filter(|&i| family(&findings[i]) == fam).collect();
        let p: Vec<Option<f64>> = members.iter().map(|&i| findings[i].p_value).collect();
        for (&i, q) in members.iter().zip(stats::adjust(&p, a.adjust)) {
            findings[i].p_adjusted = q;
        }
    }
}

/// The method the report's heatmaps and strongest list show: the first one the pipeline lists
/// (Pearson when it lists none).
pub(crate) fn primary_method(methods: &[Method]) -> Method {
    methods.first().copied().unwrap_or(Method::Pearson)
}

/// A confidence level as a percentage without trailing zeros: 0.95 → "95%", 0.975 → "97.5%".
pub(crate) fn confidence_percent(confidence: f64) -> String {
    let text = format!("{:.3}", confidence * 100.0);
    format!("{}%", text.trim_end_matches('0').trim_end_matches('.'))
}

/// The strongest findings of `method` without controls that survive the correction, within and
/// between stations first, each by |r|.
pub(crate) fn strongest(findings: &[Finding], method: Method, n: usize) -> Vec<&Finding> {
    let mut kept: Vec<&Finding> = findings.iter().filter(|f| f.p_adjusted.is_some_and(|p| p < 0.05) && f.method == method && f.controls.is_empty()).collect();
    kept.sort_by(|a, b| {
        let rank = |f: &Finding| match f.scope {
            Scope::Within => 0,
            Scope::Between => 1,
            Scope::Pooled => 2,
        };
        rank(a).cmp(&rank(b)).then(b.r.unwrap_or(0.0).abs().total_cmp(&a.r.unwrap_or(0.0).abs()))
    });
    kept.truncate(n);
    kept
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::base::period::{Grain, Period};
    use crate::panel::{PanelColumn, PanelStation};

    fn finding(scope: Scope, method: Method, r: f64, p_adjusted: f64) -> Finding {
        Finding {
            indicator: "fee_recovery".into(),
            indicator_label: "电费回收率".into(),
            feature: "sanliang".into(),
            feature_label: "三亮三比".into(),
            lag: 0,
            scope,
            method,
            controls: String::new(),
            n: 40,
            n_stations: 8,
            r: Some(r),
            ci_low: Some(r - 0.2),
            ci_high: Some(r + 0.2),
            ci_method: Some("fisher_z".into()),
            p_value: Some(p_adjusted / 2.0),
            p_adjusted: Some(p_adjusted),
            adjust_method: "fdr_bh".into(),
            r_better: Some(r),
            reason: None,
        }
    }

    #[test]
    fn strongest_follows_the_pipelines_first_method() {
        let findings = vec![
            finding(Scope::Pooled, Method::Spearman, 0.6, 0.001),
            finding(Scope::Within, Method::Spearman, -0.4, 0.01),
            finding(Scope::Within, Method::Spearman, 0.9, 0.2),
        ];
        let method = primary_method(&[Method::Spearman]);
        let top = strongest(&findings, method, 10);
        assert_eq!(top.iter().map(|f| (f.scope, f.r)).collect::<Vec<_>>(), vec![(Scope::Within, Some(-0.4)), (Scope::Pooled, Some(0.6))]);
        assert!(strongest(&findings, Method::Pearson, 10).is_empty());
        assert_eq!(primary_method(&[Method::Kendall, Method::Pearson]), Method::Kendall);
        assert_eq!(primary_method(&[]), Method::Pearson);
    }

    #[test]
    fn confidence_levels_read_as_percentages() {
        assert_eq!(confidence_percent(0.95), "95%");
        assert_eq!(confidence_percent(0.9), "90%");
        assert_eq!(confidence_percent(0.975), "97.5%");
        assert_eq!(confidence_percent(0.999), "99.9%");
    }

    /// A panel of six stations × three quarters with one indicator and one feature; station 6
    /// has no indicator value at all.
    fn plan_and_panel() -> (Plan, Panel) {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/pipelines/panel_small.toml");
        let mut plan = crate::spec::compile::compile_file(&path).unwrap();
        plan.analysis.methods = vec![Method::Pearson];
        plan.analysis.scopes = vec![Scope::Pooled, Scope::Between];
        plan.analysis.min_observations = 4;
        let x = [1.0, 2.0, 4.0, 2.0, 3.0, 3.5, 0.0, 2.0, 1.0, 5.0, 6.0, 4.0, 3.0, 1.0, 2.0, 7.0, 8.0, 9.0];
        let y = [1.5, 2.0, 3.0, 1.0, 3.0, 2.0, 0.5, 1.0, 2.5, 4.0, 6.5, 5.0, 2.0, 2.5, 1.0, f64::NAN, f64::NAN, f64::NAN];
        let column = |name: &str, kind: ColumnKind, values: &[f64]| PanelColumn {
            name: name.into(),
            label: name.into(),
            label_en: name.into(),
            kind,
            values: values.iter().map(|v| Some(*v).filter(|v| v.is_finite())).collect(),
        };
        let panel = Panel {
            stations: (1..=6).map(|s| PanelStation { station_id: format!("S{s:02}"), name: format!("S{s:02}"), county: None }).collect(),
            periods: (1..=3).map(|q| Period { grain: Grain::Quarter, year: 2020, index: q }).collect(),
            columns: vec![column("fee_recovery", ColumnKind::Indicator(Better::Higher), &y), column("sanliang", ColumnKind::Feature, &x)],
            gaps: Vec::new(),
            unmatched: Vec::new(),
            source_rows: Default::default(),
        };
        (plan, panel)
    }

    #[test]
    fn between_rows_count_the_station_means_the_test_ran_on() {
        let (plan, panel) = plan_and_panel();
        let findings = correlate(&plan, &panel).unwrap();
        let row = |scope| findings.iter().find(|f| f.scope == scope).unwrap();
        assert!(row(Scope::Between).r.is_some(), "{:?}", row(Scope::Between));
        assert_eq!((row(Scope::Between).n, row(Scope::Between).n_stations), (5, 5));
        assert_eq!((row(Scope::Pooled).n, row(Scope::Pooled).n_stations), (15, 5));
    }

    #[test]
    fn pairs_below_the_minimum_still_count_their_sample() {
        let (mut plan, panel) = plan_and_panel();
        plan.analysis.min_observations = 16;
        let findings = correlate(&plan, &panel).unwrap();
        let row = |scope| findings.iter().find(|f| f.scope == scope).unwrap();
        assert_eq!((row(Scope::Between).n, row(Scope::Between).n_stations), (5, 5));
        assert_eq!(row(Scope::Between).reason.as_deref(), Some("too few observations: 15 station-periods, need at least 16"));
        assert_eq!((row(Scope::Pooled).n, row(Scope::Pooled).n_stations), (15, 5));
        assert_eq!(row(Scope::Pooled).reason.as_deref(), Some("too few observations: n=15, need at least 16"));
    }
}
