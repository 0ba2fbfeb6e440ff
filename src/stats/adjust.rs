//! Multiple-testing correction of a family of p-values, as
//! `statsmodels.stats.multitest.multipletests` computes 'fdr_bh' and 'holm'. A job tests many
//! feature × indicator pairs at once, and without correction some of them look significant by
//! chance alone.
//!
//! Pairs without a p-value (`None` or NaN) are not part of the family: they neither count in
//! its size nor receive an adjusted value.

use super::Adjust;

/// Adjusted p-values in the order given; entries without a p-value stay `None`.
pub fn adjust(p: &[Option<f64>], method: Adjust) -> Vec<Option<f64>> {
    let family: Vec<(usize, f64)> = p.iter().enumerate().filter_map(|(i, value)| value.filter(|v| !v.is_nan()).map(|v| (i, v))).collect();
    let adjusted = match method {
        Adjust::FdrBh => benjamini_hochberg(&family),
        Adjust::Holm => holm(&family),
        Adjust::None => family,
    };
    let mut out = vec![None; p.len()];
    for (i, value) in adjusted {
        out[i] = Some(value);
    }
    out
}

/// Family sorted by increasing p; ties keep their input order.
fn ascending(family: &[(usize, f64)]) -> Vec<(usize, f64)> {
    let mut sorted = family.to_vec();
    sorted.sort_by(|a, b| a.1.total_cmp(&b.1));
    sorted
}

/// Step-up: the i-th smallest p is scaled by m/i, then each value takes the smallest scaled
/// value at or above its rank, which keeps the adjusted values in the order of the raw ones.
fn benjamini_hochberg(family: &[(usize, f64)]) -> Vec<(usize, f64)> {
    let mut sorted = ascending(family);
    let m = sorted.len() as f64;
    let mut running_min = f64::INFINITY;
    for (rank, entry) in sorted.iter_mut().enumerate().rev() {
        let scaled = entry.1 / ((rank + 1) as f64 / m);
        running_min = running_min.min(scaled);
        entry.1 = running_min.min(1.0);
    }
    sorted
}

/// Step-down: the i-th smallest p is scaled by m − i + 1, then each value takes the largest
/// scaled value at or below its rank.
fn holm(family: &[(usize, f64)]) -> Vec<(usize, f64)> {
    let mut sorted = ascending(family);
    let m = sorted.len();
    let mut running_max = f64::NEG_INFINITY;
    for (rank, entry) in sorted.iter_mut().enumerate() {
        let scaled = entry.1 * (m - rank) as f64;
        running_max = running_max.max(scaled);
        entry.1 = running_max.min(1.0);
    }
    sorted
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: &[Option<f64>], b: &[Option<f64>]) -> bool {
        a.len() == b.len()
            && a.iter().zip(b).all(|(x, y)| match (x, y) {
                (Some(x), Some(y)) => (x - y).abs() < 1e-12,
                (None, None) => true,
                _ => false,
            })
    }

    #[test]
    fn benjamini_hochberg_by_hand() {
        // m = 4, sorted p = 0.01, 0.02, 0.03, 0.5; scaled p·4/i = 0.04, 0.04, 0.04, 0.5;
        // running minima from the top leave them unchanged.
        let p = [Some(0.03), Some(0.01), Some(0.5), Some(0.02)];
        let expected = [Some(0.04), Some(0.04), Some(0.5), Some(0.04)];
        assert!(close(&adjust(&p, Adjust::FdrBh), &expected));
        // 0.04·3/2 = 0.06 is above the next scaled 0.045·3/3 = 0.045, so it drops to 0.045.
        let p = [Some(0.01), Some(0.04), Some(0.045)];
        let expected = [Some(0.03), Some(0.045), Some(0.045)];
        assert!(close(&adjust(&p, Adjust::FdrBh), &expected));
    }

    #[test]
    fn holm_by_hand() {
        // sorted 0.01, 0.02, 0.03, 0.5 scaled by 4, 3, 2, 1: 0.04, 0.06, 0.06, 0.5.
        let p = [Some(0.03), Some(0.01), Some(0.5), Some(0.02)];
        let expected = [Some(0.06), Some(0.04), Some(0.5), Some(0.06)];
        assert!(close(&adjust(&p, Adjust::Holm), &expected));
        assert!(close(&adjust(&[Some(0.4), Some(0.6)], Adjust::Holm), &[Some(0.8), Some(0.8)]));
        assert!(close(&adjust(&[Some(0.6), Some(0.7)], Adjust::Holm), &[Some(1.0), Some(1.0)]));
    }

    #[test]
    fn missing_p_values_are_outside_the_family() {
        let p = [Some(0.01), None, Some(f64::NAN), Some(0.04)];
        // Family of two: BH gives 0.02 and 0.04, Holm 0.02 and 0.04.
        let expected = [Some(0.02), None, None, Some(0.04)];
        assert!(close(&adjust(&p, Adjust::FdrBh), &expected));
        assert!(close(&adjust(&p, Adjust::Holm), &expected));
        assert!(close(&adjust(&p, Adjust::None), &[Some(0.01), None, None, Some(0.04)]));
        assert!(adjust(&[], Adjust::FdrBh).is_empty());
        assert_eq!(adjust(&[None, None], Adjust::Holm), vec![None, None]);
    }
}
