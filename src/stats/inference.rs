//! Inference for a coefficient: two-sided p-values and Fisher z confidence intervals, in the
//! forms scipy and pingouin use, so that the reference values can be matched to rounding.

use statrs::distribution::{ContinuousCDF, Normal};
use statrs::function::{beta::beta_reg, erf::erfc};

use super::correlation::KendallStatistic;

/// Two-sided p-value of r under H0: r = 0, from Student's t with `df` degrees of freedom.
///
/// With t² = df·r²/(1 − r²), P(|T| > |t|) is the regularised incomplete beta
/// I_{1−r²}(df/2, 1/2): the beta form `scipy.stats.pearsonr` uses, without computing t,
/// which would overflow as |r| → 1.
pub(crate) fn t_test_p_value(r: f64, df: usize) -> f64 {
    if r.abs() >= 1.0 {
        return 0.0;
    }
    let one_minus_r_sq = (1.0 - r) * (1.0 + r);
    beta_reg(df as f64 / 2.0, 0.5, one_minus_r_sq).clamp(0.0, 1.0)
}

/// Normal-theory interval for r on Fisher's z scale with se = 1/sqrt(df − 1).
///
/// For a plain correlation df = n − 2, so this is the textbook 1/sqrt(n − 3) of
/// `scipy.stats.pearsonr(..).confidence_interval()`; pingouin's `compute_esci(nx = n − q)` for
/// q controls and `rm_corr`'s `nx = df + 2` are the same formula in terms of df.
pub(crate) fn fisher_z_interval(r: f64, df: usize, confidence: f64) -> (f64, f64) {
    if r.abs() >= 1.0 {
        return (r, r);
    }
    let z = r.atanh();
    let se = 1.0 / ((df - 1) as f64).sqrt();
    let crit = Normal::standard().inverse_cdf(0.5 + confidence / 2.0);
    ((z - crit * se).tanh(), (z + crit * se).tanh())
}

/// Two-sided p-value of Kendall's tau-b from the tie-corrected normal approximation of the
/// score S = concordant − discordant, as `scipy.stats.kendalltau(method='asymptotic')`:
///
/// Var S = (m(2n+5) − Σ_x − Σ_y)/18 + 2·T_x·T_y/m + Σ0_x·Σ0_y/(9m(n−2)), m = n(n−1),
/// with Σ = Σt(t−1)(2t+5), T = Σt(t−1)/2 and Σ0 = Σt(t−1)(t−2) over tie groups.
pub(crate) fn kendall_p_value(k: &KendallStatistic) -> f64 {
    let n = k.n as f64;
    let m = n * (n - 1.0);
    let variance = (m * (2.0 * n + 5.0) - k.x_ties.t1 - k.y_ties.t1) / 18.0
        + 2.0 * k.x_ties.pairs * k.y_ties.pairs / m
        + k.x_ties.t0 * k.y_ties.t0 / (9.0 * m * (n - 2.0));
    let z = k.score / variance.sqrt();
    erfc(z.abs() / std::f64::consts::SQRT_2).clamp(0.0, 1.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn p_value_is_one_at_zero_and_zero_at_perfect_correlation() {
        assert!((t_test_p_value(0.0, 10) - 1.0).abs() < 1e-15);
        assert_eq!(t_test_p_value(1.0, 10), 0.0);
        assert_eq!(t_test_p_value(-1.0, 3), 0.0);
    }

    #[test]
    fn p_value_matches_the_t_distribution() {
        // r = 0.5, df = 10: t = 0.5·sqrt(10/0.75) = 1.825742; two-sided P(|T10| > t) = 0.0978546.
        assert!((t_test_p_value(0.5, 10) - 0.0978546142578125).abs() < 1e-12);
    }

    #[test]
    fn interval_contains_r_and_is_symmetric_on_z_scale() {
        let (low, high) = fisher_z_interval(0.3, 20, 0.95);
        assert!(low < 0.3 && 0.3 < high);
        let mid = (low.atanh() + high.atanh()) / 2.0;
        assert!((mid - 0.3f64.atanh()).abs() < 1e-12);
        assert!((high.atanh() - mid - 1.959963984540054 / 19f64.sqrt()).abs() < 1e-12);
        assert_eq!(fisher_z_interval(-1.0, 5, 0.95), (-1.0, -1.0));
    }
}
