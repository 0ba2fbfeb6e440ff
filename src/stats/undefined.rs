//! Why a coefficient or its interval is undefined for the data at hand. Not an error: the
//! correlation row keeps r (or its interval) empty and says why, in these words.

use super::Scope;

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub(crate) enum Undefined {
    #[error("kendall tau has no within-station form here; use pearson or spearman")]
    KendallWithin,
    #[error("partial correlation is defined for pearson and spearman only, not kendall")]
    KendallPartial,
    /// Fewer rows (station means for the between scope) than the scope and controls need.
    #[error("{}", too_few(*scope, *n, *stations, *needed))]
    TooFew { scope: Scope, n: usize, stations: usize, needed: usize },
    #[error("values of {variable} too large to correlate: their squares overflow")]
    Overflow { variable: &'static str },
    #[error("zero variance in {variable}{}", match scope { Scope::Pooled => "", Scope::Within => " within stations", Scope::Between => " across station means" })]
    ZeroVariance { variable: &'static str, scope: Scope },
    #[error("{variable} is fully explained by the controls")]
    Explained { variable: &'static str },
    /// More than half of the bootstrap resamples gave no coefficient.
    #[error("only {usable} of {replicates} bootstrap resamples gave a coefficient")]
    Resamples { usable: usize, replicates: usize },
    #[error("numerical overflow: values too large to correlate")]
    NonFinite,
}

fn too_few(scope: Scope, n: usize, stations: usize, needed: usize) -> String {
    match scope {
        Scope::Pooled => format!("too few observations: n={n}, need at least {needed}"),
        Scope::Within => format!("too few observations for a within-station correlation: n={n} in k={stations} stations, need at least {needed}"),
        Scope::Between => format!("too few stations: k={n}, need at least {needed}"),
    }
}
