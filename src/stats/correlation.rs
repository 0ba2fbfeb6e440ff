//! The coefficients themselves, on plain columns: Pearson's r, the average ranks Spearman's
//! rho is computed from, and Kendall's tau-b with the tie counts its normal approximation
//! needs. Scope transforms and controls happen before these are called.

use std::cmp::Ordering;

/// Ranks 1..n; tied values share the mean of the ranks they span, as
/// `scipy.stats.rankdata(method='average')` and R's `rank()` assign them.
pub fn average_ranks(values: &[f64]) -> Vec<f64> {
    let mut order: Vec<usize> = (0..values.len()).collect();
    order.sort_by(|&a, &b| values[a].total_cmp(&values[b]));
    let mut ranks = vec![0.0; values.len()];
    let mut start = 0;
    while start < order.len() {
        let end = tie_run_end(values, &order, start);
        // Positions start..end hold ranks start+1..=end, whose mean is (start + 1 + end) / 2.
        let shared = (start + 1 + end) as f64 / 2.0;
        for &i in &order[start..end] {
            ranks[i] = shared;
        }
        start = end;
    }
    ranks
}

fn tie_run_end(values: &[f64], order: &[usize], start: usize) -> usize {
    let mut end = start + 1;
    while end < order.len() && values[order[end]] == values[order[start]] {
        end += 1;
    }
    end
}

/// Pearson's r of two columns that are each already centred (residuals have mean zero), so no
/// second pass over the means is needed. Clamped to [−1, 1] against rounding.
pub(crate) fn pearson_centered(x: &[f64], y: &[f64]) -> f64 {
    let sxy: f64 = x.iter().zip(y).map(|(a, b)| a * b).sum();
    let sxx: f64 = x.iter().map(|a| a * a).sum();
    let syy: f64 = y.iter().map(|b| b * b).sum();
    // One square root rounds once, so exactly proportional columns give exactly ±1; two
    // square roots only where the product would overflow.
    let product = sxx * syy;
    let scale = if product.is_finite() {
        product.sqrt()
    } else {
        sxx.sqrt() * syy.sqrt()
    };
    (sxy / scale).clamp(-1.0, 1.0)
}

/// Kendall's tau-b with the pair and tie counts its asymptotic test uses.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct KendallStatistic {
    pub tau: f64,
    pub n: usize,
    /// Concordant minus discordant pairs.
    pub score: f64,
    pub x_ties: TieCounts,
    pub y_ties: TieCounts,
}

/// Sums over groups of t tied values, in the forms the variance of Kendall's score needs
/// (the names of `scipy.stats._stats_py._count_rank_tie`).
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub(crate) struct TieCounts {
    /// Σ t(t−1)/2: pairs tied.
    pub pairs: f64,
    /// Σ t(t−1)(t−2).
    pub t0: f64,
    /// Σ t(t−1)(2t+5).
    pub t1: f64,
}

/// Tau-b by direct pair comparison, O(n²): panels hold at most a few thousand rows per pair,
/// and the direct count has no ordering subtleties with ties.
pub(crate) fn kendall_tau_b(x: &[f64], y: &[f64]) -> KendallStatistic {
    let n = x.len();
    let mut score: i64 = 0;
    for i in 0..n {
        for j in i + 1..n {
            score += sign(x[i].total_cmp(&x[j])) * sign(y[i].total_cmp(&y[j]));
        }
    }
    let x_ties = tie_counts(x);
    let y_ties = tie_counts(y);
    let total = (n * (n.saturating_sub(1))) as f64 / 2.0;
    let score = score as f64;
    let tau = score / (total - x_ties.pairs).sqrt() / (total - y_ties.pairs).sqrt();
    KendallStatistic {
        tau: tau.clamp(-1.0, 1.0),
        n,
        score,
        x_ties,
        y_ties,
    }
}

fn sign(ordering: Ordering) -> i64 {
    match ordering {
        Ordering::Less => -1,
        Ordering::Equal => 0,
        Ordering::Greater => 1,
    }
}

fn tie_counts(values: &[f64]) -> TieCounts {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let mut counts = TieCounts::default();
    for group in sorted.chunk_by(|a, b| a == b) {
        let t = group.len() as f64;
        counts.pairs += t * (t - 1.0) / 2.0;
        counts.t0 += t * (t - 1.0) * (t - 2.0);
        counts.t1 += t * (t - 1.0) * (2.0 * t + 5.0);
    }
    counts
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ties_share_the_mean_of_their_ranks() {
        assert_eq!(
            average_ranks(&[10.0, 20.0, 10.0, 30.0, 10.0]),
            vec![2.0, 4.0, 2.0, 5.0, 2.0]
        );
        assert_eq!(
            average_ranks(&[3.0, 1.0, 2.0, 2.0]),
            vec![4.0, 1.0, 2.5, 2.5]
        );
        assert_eq!(average_ranks(&[]), Vec::<f64>::new());
        assert_eq!(average_ranks(&[7.0, 7.0, 7.0]), vec![2.0, 2.0, 2.0]);
    }

    #[test]
    fn pearson_of_centred_columns() {
        assert_eq!(pearson_centered(&[-1.0, 0.0, 1.0], &[-2.0, 0.0, 2.0]), 1.0);
        assert_eq!(pearson_centered(&[-1.0, 0.0, 1.0], &[1.0, 0.0, -1.0]), -1.0);
        assert_eq!(pearson_centered(&[-1.0, 0.0, 1.0], &[1.0, -2.0, 1.0]), 0.0);
    }

    #[test]
    fn kendall_counts_pairs_and_ties() {
        // Pairs: (1,2) tie in x, (1,3) +, (1,4) +, (2,3) +, (2,4) +, (3,4) tie in y.
        let k = kendall_tau_b(&[1.0, 1.0, 2.0, 3.0], &[1.0, 2.0, 3.0, 3.0]);
        assert_eq!(k.score, 4.0);
        assert_eq!(k.x_ties.pairs, 1.0);
        assert_eq!(k.y_ties.pairs, 1.0);
        assert!((k.tau - 4.0 / 5.0).abs() < 1e-15);
        assert_eq!(k.x_ties.t1, 2.0 * 1.0 * 9.0);
    }
}
