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
//! Kendall's interval is pingouin's Fisher z interval with `df = n − 2`; its reported `df` is
//! `None` because its p-value comes from a normal approximation, not from t.
//!
//! With [`Options::bootstrap`] set, the interval is instead a percentile interval over
//! resamples of whole stations (see `bootstrap.rs`); the p-value stays the analytic one.
//!
//! Within stations, Spearman's coefficient is the repeated-measures correlation (Bakdash &
//! Marusich 2017, "Repeated measures correlation", Frontiers in Psychology 8:456) of ranks taken
//! separately inside each station (average ranks for ties): like the scope itself, it ignores
//! where a station's values sit relative to other stations'.
//!
//! Ranks and Kendall's pair counts compare values rounded to [`TIE_DIGITS`] significant digits,
//! so values equal but for float rounding (a mean summed in a different order) tie; Pearson's r
//! uses the values unrounded. Kendall's counts take O(n log n) (Knight's merge-sort algorithm).
//!
//! Rows where x, y or any control is missing (NaN or infinite) are dropped before anything is
//! computed. [`Correlation::n`] is the size of the sample the test ran on: the rows that remain
//! for the pooled and within scopes, the number of station means (`k`) for the between scope.
//! A result never holds NaN: when r cannot be computed it is `None` and
//! [`Correlation::reason`] says why.
//!
//! Layer `stats` (ARCHITECTURE.md): pure statistics on slices of numbers; imports nothing else of
//! the crate.

mod adjust;
mod bootstrap;
mod correlation;
mod inference;
mod partial;
mod scopes;
mod undefined;

#[cfg(test)]
mod reference_tests;

use serde::{Deserialize, Serialize};

pub use adjust::adjust;
pub use correlation::{TIE_DIGITS, average_ranks};
pub(crate) use scopes::dense_numbers;

use correlation::KendallStatistic;
use scopes::Sample;
use undefined::Undefined;

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
pub(crate) struct Observations<'a> {
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
pub(crate) struct BootstrapOptions {
    /// Number of resamples.
    pub replicates: usize,
    /// Seed; the same seed gives the same interval whatever the number of threads.
    pub seed: u64,
}

/// What to compute for a pair. Fields left out when deserialising take the defaults: Pearson,
/// pooled, 95 %, no bootstrap.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub(crate) struct Options {
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
        Options { method: Method::Pearson, scope: Scope::Pooled, confidence: 0.95, bootstrap: None }
    }
}

/// The outcome for one pair. Every number is finite or absent.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Correlation {
    pub method: Method,
    pub scope: Scope,
    /// Size of the sample the coefficient was computed on: rows kept after dropping rows with
    /// a missing x, y or control; for [`Scope::Between`] the number of station means, which
    /// equals `n_stations`.
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
pub(crate) enum StatsError {
    #[error("column {column} has {found} rows, station has {expected}")]
    LengthMismatch { column: String, expected: usize, found: usize },
    #[error("confidence level must be strictly between 0 and 1, got {0}")]
    Confidence(f64),
    #[error("the bootstrap needs at least 2 replicates, got {0}")]
    Replicates(usize),
}

/// Correlates `x` with `y` over the panel rows as `options` ask. See the module docs for the
/// conventions; data that cannot give a coefficient yield `r = None` with a reason, and only
/// malformed inputs are an error.
pub(crate) fn correlate(obs: &Observations<'_>, options: &Options) -> Result<Correlation, StatsError> {
    validate(obs, options)?;
    let panel = Sample::complete_rows(obs);
    let mut result = Correlation {
        method: options.method,
        scope: options.scope,
        n: match options.scope {
            Scope::Between => panel.n_stations(),
            Scope::Pooled | Scope::Within => panel.len(),
        },
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
            result.reason = Some(reason.to_string());
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
    let interval = match options.bootstrap {
        None => Ok((inference::fisher_z_interval(estimate.r, estimate.df, options.confidence), CiMethod::FisherZ)),
        Some(settings) => {
            let statistic = |resample: &Sample| point_estimate(resample, options.method, options.scope).ok().map(|e| e.r);
            bootstrap::cluster_percentile_interval(&panel, statistic, settings, options.confidence).map(|bounds| (bounds, CiMethod::BootstrapCluster))
        }
    };
    match interval {
        Ok(((low, high), method)) => {
            result.ci_low = Some(low);
            result.ci_high = Some(high);
            result.ci_method = Some(method);
        }
        Err(reason) => result.ci_reason = Some(reason.to_string()),
    }
    Ok(without_non_finite(result))
}

/// Last line of the no-NaN promise: values so extreme that a sum of squares overflows would
/// otherwise surface as NaN or infinity.
fn without_non_finite(mut result: Correlation) -> Correlation {
    if result.r.is_some_and(|r| !r.is_finite()) {
        result.reason = Some(Undefined::NonFinite.to_string());
        result.r = None;
        result.p_value = None;
        result.df = None;
    }
    if result.r.is_none() || [result.ci_low, result.ci_high].iter().flatten().any(|v| !v.is_finite()) {
        result.ci_low = None;
        result.ci_high = None;
        result.ci_method = None;
    }
    result.p_value = result.p_value.filter(|p| p.is_finite());
    result
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
fn point_estimate(panel: &Sample, method: Method, scope: Scope) -> Result<Estimate, Undefined> {
    let has_controls = !panel.controls.is_empty();
    if method == Method::Kendall && scope == Scope::Within {
        return Err(Undefined::KendallWithin);
    }
    if method == Method::Kendall && has_controls {
        return Err(Undefined::KendallPartial);
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
    Ok(Estimate { r, df, n_controls: residuals.n_controls, kendall })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(station: &[u32], x: &[f64], y: &[f64], controls: &[Vec<f64>], options: Options) -> Correlation {
        correlate(&Observations { station, x, y, controls }, &options).unwrap()
    }

    fn all_options() -> Vec<Options> {
        let mut all = Vec::new();
        for method in [Method::Pearson, Method::Spearman, Method::Kendall] {
            for scope in [Scope::Pooled, Scope::Within, Scope::Between] {
                for bootstrap in [None, Some(BootstrapOptions { replicates: 20, seed: 1 })] {
                    all.push(Options { method, scope, confidence: 0.95, bootstrap });
                }
            }
        }
        all
    }

    fn assert_no_nan(label: &str, c: &Correlation) {
        for value in [c.r, c.ci_low, c.ci_high, c.p_value].into_iter().flatten() {
            assert!(value.is_finite(), "{label}: {c:?}");
        }
        assert_eq!(c.r.is_none(), c.reason.is_some(), "{label}: r and reason go together: {c:?}");
        if c.r.is_none() {
            assert_eq!((c.ci_low, c.p_value, c.df), (None, None, None), "{label}");
        }
    }

    #[test]
    fn no_input_produces_nan() {
        let nan = f64::NAN;
        let station = [1, 1, 1, 2, 2, 2, 3, 3, 3, 4, 4, 4];
        let rising: Vec<f64> = (0..12).map(|i| i as f64).collect();
        type Input = (&'static str, Vec<f64>, Vec<f64>, Vec<Vec<f64>>);
        let inputs: Vec<Input> = vec![
            ("perfect", rising.clone(), rising.iter().map(|v| 3.0 * v + 1.0).collect(), vec![]),
            ("perfectly negative", rising.clone(), rising.iter().map(|v| -v).collect(), vec![]),
            ("all missing", vec![nan; 12], rising.clone(), vec![]),
            ("constant y", rising.clone(), vec![4.2; 12], vec![]),
            ("infinite values", rising.iter().map(|v| if *v > 5.0 { f64::INFINITY } else { *v }).collect(), rising.clone(), vec![]),
            ("huge values", rising.iter().map(|v| v * 1e200).collect(), rising.iter().map(|v| (v * 7.0) % 5.0 * 1e200).collect(), vec![]),
            ("control equals x", rising.clone(), rising.iter().map(|v| (v * 7.0) % 5.0).collect(), vec![rising.clone()]),
            ("constant control", rising.clone(), rising.iter().map(|v| (v * 7.0) % 5.0).collect(), vec![vec![1.0; 12]]),
        ];
        for (name, x, y, controls) in &inputs {
            for options in all_options() {
                let label = format!("{name} {options:?}");
                assert_no_nan(&label, &run(&station, x, y, controls, options));
            }
        }
        for options in all_options() {
            assert_no_nan("empty", &run(&[], &[], &[], &[], options));
        }
        let huge: Vec<f64> = rising.iter().map(|v| v * 1e200).collect();
        let reason = run(&station, &huge, &rising, &[], Options::default()).reason.unwrap();
        assert!(reason.contains("too large"), "{reason}");
    }

    #[test]
    fn perfect_correlation_has_zero_p_and_a_point_interval() {
        let x = [1.0, 2.0, 3.0, 4.0, 5.0];
        let y = [2.0, 4.0, 6.0, 8.0, 10.0];
        let c = run(&[1, 1, 2, 2, 3], &x, &y, &[], Options::default());
        assert_eq!((c.r, c.p_value, c.ci_low, c.ci_high), (Some(1.0), Some(0.0), Some(1.0), Some(1.0)));
        assert_eq!(c.df, Some(3));
    }

    #[test]
    fn missing_rows_are_dropped_and_counted() {
        let x = [1.0, f64::NAN, 3.0, 4.0, 5.0, 6.0];
        let y = [2.0, 1.0, 5.0, 3.0, f64::NAN, 7.0];
        let c = run(&[1, 1, 2, 2, 3, 3], &x, &y, &[], Options::default());
        assert_eq!((c.n, c.n_dropped, c.n_stations, c.df), (4, 2, 3, Some(2)));
        let too_few = run(&[1, 1, 2, 2, 3, 3], &x, &y, &[vec![0.0, 1.0, f64::NAN, 2.0, 3.0, 4.0]], Options::default());
        assert_eq!(too_few.n, 3);
        assert_eq!(too_few.reason.as_deref(), Some("too few observations: n=3, need at least 5"));
    }

    #[test]
    fn between_n_is_the_number_of_station_means() {
        let station = [1, 1, 2, 2, 3, 3, 4, 4, 5, 5];
        let x = [1.0, 2.0, 2.0, 3.5, 4.0, 3.0, 6.0, 5.0, 7.0, f64::NAN];
        let y = [2.0, 1.0, 3.0, 2.5, 3.0, 5.0, 4.0, 6.0, 7.5, 1.0];
        let options = Options { scope: Scope::Between, ..Options::default() };
        let c = run(&station, &x, &y, &[], options);
        assert_eq!((c.n, c.n_dropped, c.n_stations, c.df), (5, 1, 5, Some(3)));
    }

    #[test]
    fn station_level_control_is_absorbed_within_stations() {
        let station = [1, 1, 1, 2, 2, 2, 3, 3, 3];
        let x = [1.0, 2.0, 4.0, 2.0, 3.0, 3.5, 0.0, 2.0, 1.0];
        let y = [1.5, 2.0, 3.0, 1.0, 3.0, 2.0, 0.5, 1.0, 2.5];
        let size = vec![vec![10.0, 10.0, 10.0, 20.0, 20.0, 20.0, 35.0, 35.0, 35.0]];
        let options = Options { scope: Scope::Within, ..Options::default() };
        let plain = run(&station, &x, &y, &[], options);
        let with_size = run(&station, &x, &y, &size, options);
        assert_eq!(with_size.n_controls, 0);
        assert_eq!(with_size.df, plain.df);
        assert!((with_size.r.unwrap() - plain.r.unwrap()).abs() < 1e-12);
    }

    #[test]
    fn malformed_inputs_are_errors() {
        let options = Options::default();
        let short = correlate(&Observations { station: &[1, 2], x: &[1.0], y: &[1.0, 2.0], controls: &[] }, &options);
        assert!(matches!(short, Err(StatsError::LengthMismatch { .. })));
        let bad_level = Options { confidence: 1.0, ..options };
        let err = correlate(&Observations { station: &[], x: &[], y: &[], controls: &[] }, &bad_level);
        assert_eq!(err, Err(StatsError::Confidence(1.0)));
    }

    #[test]
    fn names_serialise_in_snake_case() {
        let names = serde_json::to_string(&(Method::Spearman, Scope::Between, Adjust::FdrBh, CiMethod::BootstrapCluster)).unwrap();
        assert_eq!(names, r#"["spearman","between","fdr_bh","bootstrap_cluster"]"#);
        let options: Options = serde_json::from_str(r#"{"method": "kendall"}"#).unwrap();
        assert_eq!((options.method, options.scope, options.confidence), (Method::Kendall, Scope::Pooled, 0.95));
    }
}
