//! Why the correlation table could not be computed, as a type: the control or the pair at
//! fault is named, and the engine's error is kept as the cause (`{:#}` shows it after the pair).
//! A pair whose data cannot give a coefficient is not an error: its row says why.

use crate::stats::StatsError;

#[derive(Debug, thiserror::Error)]
pub enum AnalysisError {
    /// `[analysis] controls` names a column the panel does not have.
    #[error("control '{name}' is not in the panel")]
    MissingControl { name: String },
    /// The engine refused the inputs of one indicator × feature pair.
    #[error("{indicator} × {feature}")]
    Pair {
        indicator: String,
        feature: String,
        #[source]
        source: StatsError,
    },
}
