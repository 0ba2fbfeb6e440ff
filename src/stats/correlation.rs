//! The coefficients themselves, on plain columns: Pearson's r, the average ranks Spearman's
//! rho is computed from, and Kendall's tau-b with the tie counts its normal approximation
//! needs. Scope transforms and controls happen before these are called.
//!
//! Ranks and Kendall's pair counts depend only on the order of the values, and a tie is an
//! equality: a station mean of 73.16 summed in one order and 73.16000000000001 summed in
//! another must tie, or the ranks of every value between them shift. So both compare values
//! rounded to [`TIE_DIGITS`] significant decimal digits ([`tie_key`]); Pearson's r uses the
//! values as they are.

/// Significant decimal digits kept when values are compared for ties (ranks, Kendall): values
/// that agree to 12 significant digits tie. Float sums differ from the exact sum in about the
/// 16th digit, measured indicators carry far fewer than 12, so rounding noise ties and real
/// differences do not.
pub const TIE_DIGITS: i32 = 12;

/// `value` rounded to [`TIE_DIGITS`] significant decimal digits: the value ranks and Kendall's
/// pair counts compare. Rounding keeps the order (a ≤ b gives key(a) ≤ key(b)); -0.0 becomes
/// 0.0. The scaled value is rounded in binary, so a value within about 1e-4 of a half-way 13th
/// digit may round the other way than exact decimal rounding would; both neighbours of a
/// near-tie still get the same key unless they straddle such a half-way point.
pub(crate) fn tie_key(value: f64) -> f64 {
    tie_key_from(value, decimal_exponent_estimate)
}

/// [`tie_key`] with the first estimate of the decimal exponent given by `exponent` (floor of
/// log10 |value|, or one off).
fn tie_key_from(value: f64, exponent: fn(f64) -> i32) -> f64 {
    if value == 0.0 || !value.is_finite() {
        return value + 0.0;
    }
    let digits = TIE_DIGITS - 1;
    let mut shift = digits - exponent(value);
    // The estimate can be one below the decimal exponent: bring the scaled magnitude into
    // [10^11, 10^12) so that exactly TIE_DIGITS digits are kept.
    let lower = power_of_ten(digits);
    let scaled = |shift: i32| scale_by_power_of_ten(value.abs(), shift);
    if scaled(shift) >= 10.0 * lower {
        shift -= 1;
    } else if scaled(shift) < lower {
        shift += 1;
    }
    let mut rounded = scale_by_power_of_ten(value, shift).round();
    if rounded.abs() >= 10.0 * lower {
        // 999999999999.6 rounded up to 10^12: write it as 10^11 at the next shift, as the
        // values just above it are, so that both divide by the same power of ten.
        rounded /= 10.0;
        shift -= 1;
    }
    let key = scale_by_power_of_ten(rounded, -shift);
    // A magnitude so small or large that the scaling leaves the float range: keep the value.
    if key.is_finite() && rounded.is_finite() && rounded != 0.0 { key } else { value }
}

/// floor(log10 |value|), or one off, for the first shift of [`tie_key`]. From the binary
/// exponent e of a normal value (|value| = m × 2^e, 1 ≤ m < 2): log10 |value| = e log10 2 +
/// log10 m with 0 ≤ log10 m < 0.302, so floor(e log10 2), computed exactly as
/// (e × 78913) >> 18, is the decimal exponent or one below it, without a logarithm. Used where
/// every power of ten the shifts compare with is exact (decimal exponents −9 … 31, the values
/// of any indicator): there both starting points end on the same shift, so the key is the one
/// log10 gives; elsewhere log10 itself.
fn decimal_exponent_estimate(value: f64) -> i32 {
    let biased = ((value.to_bits() >> 52) & 0x7ff) as i32;
    let estimate = ((biased - 1023) * 78913) >> 18;
    if biased == 0 || !(-9..=30).contains(&estimate) {
        return value.abs().log10().floor() as i32;
    }
    estimate
}

/// `value × 10^shift`, dividing by an exact power of ten where the shift is negative so that
/// `scale_by_power_of_ten(m, -k)` is the float nearest to m / 10^k for k ≤ 22.
fn scale_by_power_of_ten(value: f64, shift: i32) -> f64 {
    if shift >= 0 { value * power_of_ten(shift) } else { value / power_of_ten(-shift) }
}

/// 10^n for n ≥ 0: from a table up to 10^22 (exact in an f64, and what `powi` gives, since its
/// squarings of exact powers of ten stay exact), `powi` beyond.
fn power_of_ten(n: i32) -> f64 {
    const EXACT: [f64; 23] = [1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22];
    usize::try_from(n).ok().and_then(|i| EXACT.get(i).copied()).unwrap_or_else(|| 10f64.powi(n))
}

/// Ranks 1..n; tied values share the mean of the ranks they span, as
/// `scipy.stats.rankdata(method='average')` and R's `rank()` assign them. Values tie when they
/// agree to [`TIE_DIGITS`] significant digits.
pub fn average_ranks(values: &[f64]) -> Vec<f64> {
    // (key, row) pairs sorted by key: the comparisons read the pairs in place, not the keys
    // through the rows. The order among equal keys does not matter: they share one rank.
    let mut order: Vec<(f64, usize)> = values.iter().enumerate().map(|(row, &v)| (tie_key(v), row)).collect();
    order.sort_unstable_by(|a, b| a.0.total_cmp(&b.0));
    let mut ranks = vec![0.0; order.len()];
    let mut start = 0;
    while start < order.len() {
        let mut end = start + 1;
        while end < order.len() && order[end].0 == order[start].0 {
            end += 1;
        }
        // Positions start..end hold ranks start+1..=end, whose mean is (start + 1 + end) / 2.
        let shared = (start + 1 + end) as f64 / 2.0;
        for &(_, row) in &order[start..end] {
            ranks[row] = shared;
        }
        start = end;
    }
    ranks
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
    let scale = if product.is_finite() { product.sqrt() } else { sxx.sqrt() * syy.sqrt() };
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

/// Tau-b in O(n log n) by Knight's algorithm (Knight 1966, "A computer method for calculating
/// Kendall's tau with ungrouped data", JASA 61:436–439), the method of
/// `scipy.stats.kendalltau`: sort the pairs by x and then y, count the pairs tied in x and
/// those tied in both, then merge-sort the y column and count the exchanges it makes. An
/// exchange is a discordant pair; pairs tied in x are already in y order and equal y values are
/// never exchanged, so ties count as neither. With n0 = n(n−1)/2 pairs, n1 tied in x, n2 tied
/// in y, n3 tied in both, and D exchanges, the score is C − D = n0 − n1 − n2 + n3 − 2D.
/// Values are compared by their [`tie_key`].
pub(crate) fn kendall_tau_b(x: &[f64], y: &[f64]) -> KendallStatistic {
    let n = x.len();
    let x: Vec<f64> = x.iter().map(|&v| tie_key(v)).collect();
    let y: Vec<f64> = y.iter().map(|&v| tie_key(v)).collect();
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_unstable_by(|&a, &b| x[a].total_cmp(&x[b]).then(y[a].total_cmp(&y[b])));
    let x_sorted: Vec<f64> = order.iter().map(|&i| x[i]).collect();
    let mut y_by_x: Vec<f64> = order.iter().map(|&i| y[i]).collect();
    let joint_pairs: u64 = order.chunk_by(|&a, &b| x[a] == x[b] && y[a] == y[b]).map(|run| pairs(run.len())).sum();
    let x_ties = tie_counts_sorted(&x_sorted);
    let discordant = sort_counting_exchanges(&mut y_by_x);
    let y_ties = tie_counts_sorted(&y_by_x);
    let total = pairs(n);
    let untied = (total + joint_pairs) as i128 - (x_ties.pairs as u64) as i128 - (y_ties.pairs as u64) as i128;
    let score = (untied - 2 * discordant as i128) as f64;
    let total = total as f64;
    let tau = score / (total - x_ties.pairs).sqrt() / (total - y_ties.pairs).sqrt();
    KendallStatistic { tau: tau.clamp(-1.0, 1.0), n, score, x_ties, y_ties }
}

fn pairs(t: usize) -> u64 {
    let t = t as u64;
    t * t.saturating_sub(1) / 2
}

/// Sorts `values` ascending by a stable bottom-up merge sort and returns how many pairs it
/// exchanged: the pairs i < j with values[i] > values[j] (equal values are never exchanged).
fn sort_counting_exchanges(values: &mut [f64]) -> u64 {
    let n = values.len();
    let mut merged = values.to_vec();
    let mut exchanges = 0;
    let mut width = 1;
    while width < n {
        for start in (0..n).step_by(2 * width) {
            let middle = (start + width).min(n);
            let end = (start + 2 * width).min(n);
            exchanges += merge(&values[start..middle], &values[middle..end], &mut merged[start..end]);
        }
        values.copy_from_slice(&merged);
        width *= 2;
    }
    exchanges
}

/// Merges two sorted runs into `out`, taking from the left run on equality; returns how many
/// left-run values each right-run value jumped over.
fn merge(left: &[f64], right: &[f64], out: &mut [f64]) -> u64 {
    let (mut i, mut j, mut exchanges) = (0, 0, 0);
    for slot in out.iter_mut() {
        if j < right.len() && (i == left.len() || right[j] < left[i]) {
            *slot = right[j];
            exchanges += (left.len() - i) as u64;
            j += 1;
        } else {
            *slot = left[i];
            i += 1;
        }
    }
    exchanges
}

/// Tie counts of values already sorted (equal values adjacent).
fn tie_counts_sorted(sorted: &[f64]) -> TieCounts {
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
        assert_eq!(average_ranks(&[10.0, 20.0, 10.0, 30.0, 10.0]), vec![2.0, 4.0, 2.0, 5.0, 2.0]);
        assert_eq!(average_ranks(&[3.0, 1.0, 2.0, 2.0]), vec![4.0, 1.0, 2.5, 2.5]);
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

    /// The definition itself: every pair compared, O(n²), on the same tie keys.
    fn brute_force(x: &[f64], y: &[f64]) -> (f64, f64, f64) {
        let (x, y): (Vec<f64>, Vec<f64>) = (x.iter().map(|&v| tie_key(v)).collect(), y.iter().map(|&v| tie_key(v)).collect());
        let sign = |a: f64, b: f64| (a > b) as i64 - (a < b) as i64;
        let (mut score, mut x_tied, mut y_tied) = (0i64, 0u64, 0u64);
        for i in 0..x.len() {
            for j in i + 1..x.len() {
                score += sign(x[i], x[j]) * sign(y[i], y[j]);
                x_tied += (x[i] == x[j]) as u64;
                y_tied += (y[i] == y[j]) as u64;
            }
        }
        (score as f64, x_tied as f64, y_tied as f64)
    }

    #[test]
    fn merge_sort_count_equals_the_pairwise_count() {
        use rand::{Rng, SeedableRng};
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(12);
        let mut checked = 0;
        for case in 0..300 {
            let n: usize = rng.random_range(0..=60);
            // Few distinct values, so ties in x, in y and in both are common; every tenth case
            // continuous. Some values get a last-bit nudge, which must still tie.
            let levels = if case % 10 == 9 { 1_000_000 } else { rng.random_range(1..=6) };
            let draw = |rng: &mut rand_chacha::ChaCha8Rng| {
                let v = rng.random_range(0..levels) as f64 * 0.1 + 73.16;
                if rng.random_bool(0.2) { f64::from_bits(v.to_bits() + 1) } else { v }
            };
            let x: Vec<f64> = (0..n).map(|_| draw(&mut rng)).collect();
            let y: Vec<f64> = (0..n).map(|_| draw(&mut rng)).collect();
            let k = kendall_tau_b(&x, &y);
            let (score, x_tied, y_tied) = brute_force(&x, &y);
            assert_eq!((k.score, k.x_ties.pairs, k.y_ties.pairs), (score, x_tied, y_tied), "case {case}: {x:?} {y:?}");
            let total = (n * n.saturating_sub(1)) as f64 / 2.0;
            if total > x_tied && total > y_tied {
                let tau = score / ((total - x_tied) * (total - y_tied)).sqrt();
                assert!((k.tau - tau).abs() < 1e-14, "case {case}: {} vs {tau}", k.tau);
                checked += 1;
            }
        }
        assert!(checked > 200, "{checked}");
    }

    #[test]
    fn powers_of_ten_are_what_powi_gives() {
        for n in 0..=40 {
            assert_eq!(power_of_ten(n).to_bits(), 10f64.powi(n).to_bits(), "10^{n}");
        }
    }

    #[test]
    fn values_equal_to_twelve_digits_tie() {
        let (a, b) = (73.16, 73.16000000000001);
        assert_ne!(a, b);
        assert_eq!(tie_key(a), tie_key(b));
        assert_eq!(tie_key(0.1 + 0.2), tie_key(0.3));
        assert_eq!(tie_key(-0.0).to_bits(), 0.0f64.to_bits());
        assert_eq!(tie_key(99.99999999999999), 100.0);
        // Rounding up to the next power of ten gives the key of that power itself.
        assert_eq!(tie_key(9.999999999999901e-12), tie_key(1e-11));
        assert_eq!(tie_key(-9.9999999999999e22), tie_key(-1e23));
        // The 12th significant digit still separates values.
        assert!(tie_key(1.00000000001) > tie_key(1.0));
        assert!(tie_key(-123456.789012) < tie_key(-123456.789011));
        assert_eq!(tie_key(1.0000000000001), 1.0);
        assert_eq!(tie_key(2.5e-7 + 1e-22), 2.5e-7);
        assert_eq!(tie_key(6.02214076e23 * (1.0 + 1e-14)), 6.02214076e23);
        // Beyond the scaling range the value is kept as it is.
        assert_eq!(tie_key(1e-310), 1e-310);
        assert!(tie_key(f64::MAX).is_finite());
        assert_eq!(average_ranks(&[a, 1.0, b]), vec![2.5, 1.0, 2.5]);
        let k = kendall_tau_b(&[a, b, 80.0], &[1.0, 2.0, 3.0]);
        assert_eq!((k.score, k.x_ties.pairs), (2.0, 1.0));
    }

    #[test]
    fn the_exponent_estimate_gives_the_keys_of_log10() {
        // floor(e log10 2) by integer arithmetic, over the whole exponent range.
        for e in -1074i32..=1023 {
            let exact = (f64::from(e) * std::f64::consts::LOG10_2).floor() as i32;
            assert_eq!((e * 78913) >> 18, exact, "e = {e}");
        }
        use rand::{Rng, SeedableRng};
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(31);
        let mut values: Vec<f64> = Vec::new();
        // Powers of ten and their neighbours, where the estimate and log10 can each be one off.
        for e in -320..=308 {
            let p: f64 = format!("1e{e}").parse().unwrap();
            for v in [
                p,
                f64::from_bits(p.to_bits() + 1),
                f64::from_bits(p.to_bits().saturating_sub(1)),
                p * 9.9999999999995,
                p * 9.99999999999949,
                p * 9.999999999999501,
            ] {
                values.extend([v, -v]);
            }
        }
        // Random bit patterns (every magnitude), indicator-like decimals and whole numbers.
        for _ in 0..200_000 {
            values.push(f64::from_bits(rng.random::<u64>()));
            values.push(rng.random_range(-1e6..1e6f64));
            values.push((rng.random_range(0..100_000_000u64) as f64) / 100.0);
        }
        for v in values {
            // The key as first computed: the exponent from log10.
            let by_log10 = tie_key_from(v, |v| v.abs().log10().floor() as i32);
            assert_eq!(tie_key(v).to_bits(), by_log10.to_bits(), "{v:e}");
        }
    }

    #[test]
    fn rounding_keeps_the_order() {
        let mut values: Vec<f64> = Vec::new();
        for e in -12..12 {
            for m in [1.0, 1.5, 9.999999999999, 9.9999999999999, 3.14159265358979] {
                let v = m * 10f64.powi(e);
                values.extend([v, -v, f64::from_bits(v.to_bits() + 1), f64::from_bits(v.to_bits() - 1)]);
            }
        }
        values.sort_by(f64::total_cmp);
        for pair in values.windows(2) {
            assert!(tie_key(pair[0]) <= tie_key(pair[1]), "{pair:?}");
        }
    }
}
