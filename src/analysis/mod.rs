//! The correlation table: for every indicator × feature × lag the pipeline asks for, in each
//! scope (pooled, within-station, between-station) and method, without and with the control
//! attributes, with confidence intervals, p-values corrected over the pipeline's family, and a
//! direction-adjusted r (positive always means "goes with a better indicator").
//!
//! Layer `analysis` (ARCHITECTURE.md): owns the findings; may import `base`, `stats`, `spec` and
//! `panel`.

use rayon::prelude::*;

use crate::base::vocab::Vocabulary;
use crate::panel::{ColumnKind, Panel};
use crate::spec::plan::{Better, Plan};
use crate::stats::{self, Adjust, Method, Observations, Options, Scope};

/// One row of correlations.parquet.
#[derive(Debug, Clone)]
pub struct Finding {
    pub indicator: String,
    pub indicator_label: String,
    pub feature: String,
    pub feature_label: String,
    pub lag: i64,
    pub scope: Scope,
    pub method: Method,
    /// Control attributes, comma-separated ("" for none).
    pub controls: String,
    pub n: usize,
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
pub fn scope_name(s: Scope) -> &'static str {
    s.name()
}

/// The name of a method in the tables (its vocabulary word).
pub fn method_name(m: Method) -> &'static str {
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

/// Computes the whole table from the panel.
pub fn correlate(plan: &Plan, panel: &Panel) -> Result<Vec<Finding>, String> {
    let a = &plan.analysis;
    let station: Vec<u32> = (0..panel.stations.len() * panel.periods.len()).map(|i| (i / panel.periods.len()) as u32).collect();
    let values = |c: usize| -> Vec<f64> { panel.columns[c].values.iter().map(|v| v.unwrap_or(f64::NAN)).collect() };
    let controls: Vec<Vec<f64>> = a
        .controls
        .iter()
        .map(|name| panel.columns.iter().position(|c| &c.name == name).map(values).ok_or_else(|| format!("control '{name}' is not in the panel")))
        .collect::<Result<_, _>>()?;
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
                            if with_controls && controls.is_empty() {
                                continue;
                            }
                            tasks.push(Task { indicator: ic, feature: feature.name.clone(), feature_column: fc, lag, scope, method, with_controls });
                        }
                    }
                }
            }
        }
    }
    let empty: Vec<Vec<f64>> = Vec::new();
    let mut findings: Vec<Finding> = tasks
        .par_iter()
        .map(|t| -> Result<Finding, String> {
            let (x, y) = (values(t.feature_column), values(t.indicator));
            let used_controls = if t.with_controls { &controls } else { &empty };
            let complete = (0..x.len()).filter(|&i| x[i].is_finite() && y[i].is_finite() && used_controls.iter().all(|c| c[i].is_finite())).count();
            let indicator = &panel.columns[t.indicator];
            let feature = plan.features.iter().find(|f| f.name == t.feature).unwrap();
            let better = match indicator.kind {
                ColumnKind::Indicator(Better::Lower) => -1.0,
                _ => 1.0,
            };
            let mut finding = Finding {
                indicator: indicator.name.clone(),
                indicator_label: indicator.label.clone(),
                feature: feature.name.clone(),
                feature_label: feature.label.clone(),
                lag: t.lag,
                scope: t.scope,
                method: t.method,
                controls: if t.with_controls { a.controls.join(",") } else { String::new() },
                n: complete,
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
            if complete < a.min_observations {
                finding.reason = Some(format!("too few observations: n={complete}, need at least {}", a.min_observations));
                return Ok(finding);
            }
            let obs = Observations { station: &station, x: &x, y: &y, controls: used_controls };
            let options = Options { method: t.method, scope: t.scope, confidence: a.confidence, bootstrap: a.bootstrap };
            let c = stats::correlate(&obs, &options).map_err(|e| format!("{} × {}: {e}", indicator.name, feature.name))?;
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
        })
        .collect::<Result<_, _>>()?;

    // Multiple-testing correction over each family.
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
    Ok(findings)
}

/// The strongest findings that survive the correction, within and between stations first.
pub fn strongest(findings: &[Finding], n: usize) -> Vec<&Finding> {
    let mut kept: Vec<&Finding> = findings.iter().filter(|f| f.p_adjusted.is_some_and(|p| p < 0.05) && f.method == Method::Pearson && f.controls.is_empty()).collect();
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
