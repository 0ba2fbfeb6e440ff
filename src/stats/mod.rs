//! Correlation engine for the station × period panel: one call relates one activity feature to
//! one benchmark indicator, with a chosen coefficient (Pearson, Spearman, Kendall), a chosen
//! scope (pooled rows, within stations, between station means), optional control covariates,
//! a confidence interval and a two-sided p-value; [`adjust`] then corrects a family of p-values
//! for multiple testing.
//!
//! The numbers follow the Python reference implementations so that results can be checked
//! against them (`tests/reference/stats_reference.py` writes the fixture the tests read):
//!
//! | method × scope | r | p-value | CI (Fisher z, `se = 1/sqrt(df − 1)`) |
//! | --- | --- | --- | --- |
//! | Pearson, pooled | `scipy.stats.pearsonr` | Student t, `df = n − 2` | `pearsonr(..).confidence_interval()` |
//! | Spearman, pooled | `scipy.stats.spearmanr` (average ranks) | Student t, `df = n − 2` | `pingouin.corr` |
//! | Kendall, pooled | `scipy.stats.kendalltau` tau-b | `method='asymptotic'`, tie-corrected normal | `pingouin.corr` |
//! | Pearson, within | `pingouin.rm_corr` | Student t, `df = n − k − 1` | `rm_corr` (`nx = df + 2`) |
//! | Spearman, within | `rm_corr` on ranks taken inside each station | as Pearson within | as Pearson within |
//! | any, between | the pooled formula on per-station means, `n = k` | `df = k − 2` | `nx = k` |
//! | + q controls | `pingouin.partial_corr` (Pearson, Spearman) | `df` reduced by `q` | `nx = n − q` |
//!
//! Here `n` counts rows kept, `k` stations and `q` controls. Within-station partial
//! correlation demeans x, y and every control per station and then partials out the controls:
//! this is the coefficient of x in the regression `y ~ station + x + controls`, so its
//! `df = n − k − 1 − q`, the residual degrees of freedom of that regression. Kendall has no
//! within-station or partial form here; those requests come back with a reason, not a number.
//!
//! Rows where x, y or any control is missing (NaN or infinite) are dropped before anything is
//! computed, and `n` counts the rows that remain. A result never holds NaN: when r cannot be
//! computed it is `None` and [`Correlation::reason`] says why.

mod adjust;
mod bootstrap;
mod correlation;
mod inference;
mod partial;
mod scopes;

#[cfg(test)]
mod reference_tests;

use serde::{Deserialize, Serialize};

pub use adjust::adjust;
pub use correlation::average_ranks;

use correlation::KendallStatistic;
use scopes::Panel;

/// The correlation coefficient.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Method {
    /// Linear correlation of the values.
    Pearson,
    /// Pearson correlation of average ranks (ties share the mean of their ranks).
    Spearman,
    /// Kendall's tau-b, which corrects for ties in either variable.
    Kendall,
}

/// Which variation in the panel the coefficient measures.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Scope {
    /// All rows as one sample: mixes differences between stations with changes over time.
    Pooled,
    /// Changes inside each station over time (repeated-measures correlation): station
    /// differences in level cannot produce it.
    Within,
    /// Differences between stations: one row per station, the mean of its periods.
    Between,
}

/// Multiple-testing correction applied by [`adjust`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Adjust {
    /// Benjamini–Hochberg false discovery rate.
    FdrBh,
    /// Holm's step-down family-wise error rate.
    Holm,
    /// p-values are returned as they are.
    None,
}

/// How a confidence interval was obtained.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CiMethod {
    /// Normal interval on Fisher's z = atanh(r), mapped back with tanh.
    FisherZ,
    /// Percentile interval of r over resamples of whole stations.
    BootstrapCluster,
}

/// The observations of one feature × indicator pair: parallel columns, one entry per row of
/// the panel. Missing values are NaN.
#[derive(Debug, Clone, Copy)]
pub struct Observations<'a> {
    /// Station id of each row; rows of one station share it.
    pub station: &'a [u32],
    /// The activity feature.
    pub x: &'a [f64],
    /// The benchmark indicator.
    pub y: &'a [f64],
    /// Control covariates, each a column aligned with `x`; empty for a plain correlation.
    pub controls: &'a [Vec<f64>],
}

/// Station-cluster bootstrap settings: stations, not rows, are resampled, because the periods
/// of one station are not independent of each other.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct BootstrapOptions {
    /// Number of resamples.
    pub replicates: usize,
    /// Seed; the same seed gives the same interval whatever the number of threads.
    pub seed: u64,
}

/// What to compute for a pair.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Options {
    pub method: Method,
    pub scope: Scope,
    /// Confidence level of the interval, strictly between 0 and 1.
    pub confidence: f64,
    /// When set, the interval is a station-cluster bootstrap percentile interval instead of
    /// the Fisher z interval. The p-value stays the analytic one.
    pub bootstrap: Option<BootstrapOptions>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            method: Method::Pearson,
            scope: Scope::Pooled,
            confidence: 0.95,
            bootstrap: None,
        }
    }
}

/// The outcome for one pair. Every number is finite or absent.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Correlation {
    pub method: Method,
    pub scope: Scope,
    /// Rows kept after dropping rows with a missing x, y or control.
    pub n: usize,
    /// Rows dropped for a missing value.
    pub n_dropped: usize,
    /// Distinct stations among the rows kept.
    pub n_stations: usize,
    /// Controls that entered the partial correlation: a control that is constant in the scope
    /// (e.g. a station-level covariate within stations) or collinear with earlier ones is left
    /// out and not counted.
    pub n_controls: usize,
    pub r: Option<f64>,
    pub ci_low: Option<f64>,
    pub ci_high: Option<f64>,
    pub ci_method: Option<CiMethod>,
    /// Two-sided p-value for r = 0.
    pub p_value: Option<f64>,
    /// Degrees of freedom of the t test; `None` for Kendall, whose test is a normal
    /// approximation.
    pub df: Option<usize>,
    /// Why r is `None`.
    pub reason: Option<String>,
    /// Why the interval is `None` although r is known (too few usable bootstrap resamples).
    pub ci_reason: Option<String>,
}

/// Inputs that no data could make right: a caller error, not a property of the data.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum StatsError {
    #[error("column {column} has {found} rows, station has {expected}")]
    LengthMismatch {
        column: String,
        expected: usize,
        found: usize,
    },
    #[error("confidence level must be strictly between 0 and 1, got {0}")]
    Confidence(f64),
    #[error("the bootstrap needs at least 2 replicates, got {0}")]
    Replicates(usize),
}

/// Correlates `x` with `y` over the panel rows as `options` ask. See the module docs for the
/// conventions; data that cannot give a coefficient yield `r = None` with a reason, and only
/// malformed inputs are an error.
pub fn correlate(obs: &Observations<'_>, options: &Options) -> Result<Correlation, StatsError> {
    validate(obs, options)?;
    let panel = Panel::complete_rows(obs);
    let mut result = Correlation {
        method: options.method,
        scope: options.scope,
        n: panel.len(),
        n_dropped: obs.x.len() - panel.len(),
        n_stations: panel.n_stations(),
        n_controls: 0,
        r: None,
        ci_low: None,
        ci_high: None,
        ci_method: None,
        p_value: None,
        df: None,
        reason: None,
        ci_reason: None,
    };
    let estimate = match point_estimate(&panel, options.method, options.scope) {
        Ok(estimate) => estimate,
        Err(reason) => {
            result.reason = Some(reason);
            return Ok(result);
        }
    };
    result.r = Some(estimate.r);
    result.n_controls = estimate.n_controls;
    result.p_value = Some(match &estimate.kendall {
        Some(kendall) => inference::kendall_p_value(kendall),
        None => inference::t_test_p_value(estimate.r, estimate.df),
    });
    if estimate.kendall.is_none() {
        result.df = Some(estimate.df);
    }
    match options.bootstrap {
        None => {
            let (low, high) = inference::fisher_z_interval(estimate.r, estimate.df, options.confidence);
            result.ci_low = Some(low);
            result.ci_high = Some(high);
            result.ci_method = Some(CiMethod::FisherZ);
        }
        Some(settings) => {
            let statistic = |resample: &Panel| point_estimate(resample, options.method, options.scope).ok().map(|e| e.r);
            match bootstrap::cluster_percentile_interval(&panel, statistic, settings, options.confidence) {
                Ok((low, high)) => {
                    result.ci_low = Some(low);
                    result.ci_high = Some(high);
                    result.ci_method = Some(CiMethod::BootstrapCluster);
                }
                Err(reason) => result.ci_reason = Some(reason),
            }
        }
    }
    Ok(result)
}

fn validate(obs: &Observations<'_>, options: &Options) -> Result<(), StatsError> {
    let expected = obs.station.len();
    let columns = [("x".to_string(), obs.x.len()), ("y".to_string(), obs.y.len())]
        .into_iter()
        .chain(obs.controls.iter().enumerate().map(|(i, c)| (format!("control {}", i + 1), c.len())));
    for (column, found) in columns {
        if found != expected {
            return Err(StatsError::LengthMismatch { column, expected, found });
        }
    }
    // Written as a negation so that a NaN level is rejected too.
    if !(options.confidence > 0.0 && options.confidence < 1.0) {
        return Err(StatsError::Confidence(options.confidence));
    }
    if let Some(settings) = options.bootstrap
        && settings.replicates < 2
    {
        return Err(StatsError::Replicates(settings.replicates));
    }
    Ok(())
}

/// r and what its inference needs, before any p-value or interval.
#[derive(Debug, Clone)]
struct Estimate {
    r: f64,
    /// Residual degrees of freedom; for Kendall only the interval width uses it.
    df: usize,
    n_controls: usize,
    kendall: Option<KendallStatistic>,
}

/// The coefficient for one panel: the scope's transform, then controls, then r. The bootstrap
/// calls this on every resample, so it holds no inference.
fn point_estimate(panel: &Panel, method: Method, scope: Scope) -> Result<Estimate, String> {
    let has_controls = !panel.controls.is_empty();
    if method == Method::Kendall && scope == Scope::Within {
        return Err("kendall tau has no within-station form here; use pearson or spearman".into());
    }
    if method == Method::Kendall && has_controls {
        return Err("partial correlation is defined for pearson and spearman only, not kendall".into());
    }
    let design = scopes::design(panel, scope, method == Method::Spearman);
    scopes::check_size(&design, panel.controls.len())?;
    design.check_variance()?;
    let residuals = partial::residualise(&design)?;
    let df = design.rows() - design.absorbed - 1 - residuals.n_controls;
    let (r, kendall) = match method {
        Method::Kendall => {
            let statistic = correlation::kendall_tau_b(&design.x.values, &design.y.values);
            (statistic.tau, Some(statistic))
        }
        Method::Pearson | Method::Spearman => (correlation::pearson_centered(&residuals.x, &residuals.y), None),
    };
    Ok(Estimate {
        r,
        df,
        n_controls: residuals.n_controls,
        kendall,
    })
}
