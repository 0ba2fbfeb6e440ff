//! Seeded random streams for the sample generator.
//!
//! Every export draws from its own stream, keyed by (seed, stream name, station, period), so the
//! output does not depend on the order or the parallelism of generation: the same seed gives the
//! same bytes whether exports are written one by one or side by side.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// A random stream for one (stream, a, b) key under the run's seed.
pub(crate) fn stream(seed: u64, name: &str, a: u64, b: u64) -> Draw {
    let mut h = splitmix(seed ^ 0x9E37_79B9_7F4A_7C15);
    for byte in name.bytes() {
        h = splitmix(h ^ u64::from(byte));
    }
    h = splitmix(h ^ a.wrapping_mul(0xA24B_AED4_963E_E407));
    h = splitmix(h ^ b.wrapping_mul(0x9FB2_1C65_1E98_DF25));
    Draw(ChaCha8Rng::seed_from_u64(h))
}

fn splitmix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// A seeded generator with the few distributions the sample needs.
pub(crate) struct Draw(ChaCha8Rng);

impl Draw {
    /// Uniform in [0, 1).
    pub fn unit(&mut self) -> f64 {
        self.0.random::<f64>()
    }

    /// Uniform in [lo, hi).
    pub(crate) fn uniform(&mut self, lo: f64, hi: f64) -> f64 {
        lo + (hi - lo) * self.unit()
    }

    /// Uniform integer in [lo, hi] (inclusive).
    pub(crate) fn int(&mut self, lo: i64, hi: i64) -> i64 {
        self.0.random_range(lo..=hi)
    }

    /// Index into a slice of length `len` (> 0).
    pub fn index(&mut self, len: usize) -> usize {
        self.0.random_range(0..len)
    }

    /// True with probability `p`.
    pub(crate) fn chance(&mut self, p: f64) -> bool {
        self.unit() < p
    }

    /// Standard normal (Box–Muller; one value per call keeps streams simple to reason about).
    pub fn normal(&mut self) -> f64 {
        let u1 = 1.0 - self.unit(); // (0, 1]
        let u2 = self.unit();
        (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
    }

    /// Log-normal with the given median and log-scale standard deviation.
    pub(crate) fn lognormal(&mut self, median: f64, sigma: f64) -> f64 {
        median * (sigma * self.normal()).exp()
    }

    /// Poisson count with mean `lambda`: Knuth's product method for small means, a rounded normal
    /// approximation above 40 (where the difference does not matter for synthetic volumes).
    pub(crate) fn poisson(&mut self, lambda: f64) -> u64 {
        if lambda <= 0.0 {
            return 0;
        }
        if lambda > 40.0 {
            return (lambda + lambda.sqrt() * self.normal()).round().max(0.0) as u64;
        }
        let limit = (-lambda).exp();
        let mut k = 0;
        let mut p = self.unit();
        while p > limit {
            k += 1;
            p *= self.unit();
        }
        k
    }

    /// Pick one element of a non-empty slice.
    pub(crate) fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.index(items.len())]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn streams_are_reproducible_and_distinct() {
        let a: Vec<f64> = (0..5).map(|_| stream(7, "fee", 3, 1).unit()).collect();
        let mut s1 = stream(7, "fee", 3, 1);
        let mut s2 = stream(7, "fee", 3, 1);
        let mut s3 = stream(7, "fee", 3, 2);
        let x: Vec<f64> = (0..5).map(|_| s1.unit()).collect();
        let y: Vec<f64> = (0..5).map(|_| s2.unit()).collect();
        let z: Vec<f64> = (0..5).map(|_| s3.unit()).collect();
        assert_eq!(x, y);
        assert_ne!(x, z);
        assert!(a.iter().all(|v| (0.0..1.0).contains(v)));
    }

    #[test]
    fn poisson_mean_and_variance_match_lambda() {
        for lambda in [0.7, 4.0, 25.0, 120.0] {
            let mut d = stream(1, "poisson", lambda as u64, 0);
            let n = 40_000;
            let xs: Vec<f64> = (0..n).map(|_| d.poisson(lambda) as f64).collect();
            let mean = xs.iter().sum::<f64>() / n as f64;
            let var = xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1) as f64;
            // Standard error of the mean is sqrt(lambda / n); allow 5 of them.
            assert!((mean - lambda).abs() < 5.0 * (lambda / n as f64).sqrt(), "{lambda}: {mean}");
            assert!((var / lambda - 1.0).abs() < 0.05, "{lambda}: var {var}");
        }
    }

    #[test]
    fn normal_has_unit_variance() {
        let mut d = stream(2, "normal", 0, 0);
        let n = 40_000;
        let xs: Vec<f64> = (0..n).map(|_| d.normal()).collect();
        let mean = xs.iter().sum::<f64>() / n as f64;
        let var = xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1) as f64;
        assert!(mean.abs() < 0.03);
        assert!((var - 1.0).abs() < 0.03);
    }
}
