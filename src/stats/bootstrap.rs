//! Station-cluster bootstrap interval: the quarters of one station share that station's
//! circumstances, so rows are not independent draws; resampling whole stations keeps that
//! dependence inside every replicate. The interval is the percentile interval of r.
//!
//! Each replicate draws from its own ChaCha stream, keyed by (seed, replicate index), so the
//! replicates and the interval are the same for a seed whatever thread runs which replicate.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;

use super::BootstrapOptions;
use super::scopes::Sample;
use super::undefined::Undefined;

/// Percentile interval of `statistic` over resamples of whole stations. A resample whose
/// statistic is undefined (e.g. it drew one station over and over) is skipped; if more than
/// half are, the interval would describe a different population and is refused.
pub(crate) fn cluster_percentile_interval<F>(panel: &Sample, statistic: F, settings: BootstrapOptions, confidence: f64) -> Result<(f64, f64), Undefined>
where
    F: Fn(&Sample) -> Option<f64> + Sync,
{
    let groups = panel.rows_by_station();
    let draws: Vec<Option<f64>> = (0..settings.replicates)
        .into_par_iter()
        .map(|replicate| {
            let drawn = draw_stations(settings.seed, replicate as u64, groups.len());
            statistic(&resample(panel, groups, &drawn))
        })
        .collect();
    let mut values: Vec<f64> = draws.into_iter().flatten().collect();
    if values.len() * 2 < settings.replicates {
        return Err(Undefined::Resamples { usable: values.len(), replicates: settings.replicates });
    }
    values.sort_by(f64::total_cmp);
    let tail = (1.0 - confidence) / 2.0;
    Ok((percentile(&values, tail), percentile(&values, 1.0 - tail)))
}

/// The stations of one replicate, with replacement.
fn draw_stations(seed: u64, replicate: u64, n_stations: usize) -> Vec<usize> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(replicate);
    (0..n_stations).map(|_| rng.random_range(0..n_stations)).collect()
}

/// A panel of the drawn stations. A station drawn twice enters as two stations, so the
/// within-station scope demeans each copy on its own, as a cluster bootstrap requires.
fn resample(panel: &Sample, groups: &[Vec<usize>], drawn: &[usize]) -> Sample {
    let rows: Vec<(usize, usize)> = drawn.iter().enumerate().flat_map(|(position, &s)| groups[s].iter().map(move |&row| (position, row))).collect();
    Sample::from_dense(
        rows.iter().map(|&(position, _)| position).collect(),
        rows.iter().map(|&(_, row)| panel.x[row]).collect(),
        rows.iter().map(|&(_, row)| panel.y[row]).collect(),
        panel.controls.iter().map(|c| rows.iter().map(|&(_, row)| c[row]).collect()).collect(),
        drawn.len(),
    )
}

/// Quantile with linear interpolation between order statistics (numpy's default), on sorted
/// values.
fn percentile(sorted: &[f64], q: f64) -> f64 {
    let position = q * (sorted.len() - 1) as f64;
    let below = position.floor() as usize;
    let above = (below + 1).min(sorted.len() - 1);
    sorted[below] + (position - below as f64) * (sorted[above] - sorted[below])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stats::{Method, Observations, Options, Scope, correlate};

    fn panel_columns() -> (Vec<u32>, Vec<f64>, Vec<f64>) {
        let mut station = Vec::new();
        let mut x = Vec::new();
        let mut y = Vec::new();
        for s in 0..8u32 {
            for t in 0..5 {
                let noise = ((s * 7 + t * 3) % 5) as f64 / 5.0;
                station.push(s);
                x.push(s as f64 + t as f64 * 0.5 + noise);
                y.push(2.0 * s as f64 - t as f64 * 0.3 + noise * noise);
            }
        }
        (station, x, y)
    }

    #[test]
    fn percentile_interpolates_like_numpy() {
        let v = [1.0, 2.0, 3.0, 4.0, 5.0];
        assert_eq!(percentile(&v, 0.0), 1.0);
        assert_eq!(percentile(&v, 1.0), 5.0);
        assert_eq!(percentile(&v, 0.5), 3.0);
        assert!((percentile(&v, 0.025) - 1.1).abs() < 1e-12);
    }

    #[test]
    fn replicate_draws_depend_only_on_seed_and_index() {
        assert_eq!(draw_stations(42, 7, 10), draw_stations(42, 7, 10));
        assert_ne!(draw_stations(42, 7, 10), draw_stations(42, 8, 10));
        assert_ne!(draw_stations(42, 7, 10), draw_stations(43, 7, 10));
    }

    #[test]
    fn interval_is_identical_across_thread_counts() {
        let (station, x, y) = panel_columns();
        let obs = Observations { station: &station, x: &x, y: &y, controls: &[] };
        for scope in [Scope::Pooled, Scope::Within, Scope::Between] {
            let options = Options { method: Method::Pearson, scope, bootstrap: Some(BootstrapOptions { replicates: 200, seed: 2024 }), ..Options::default() };
            let run = |threads: usize| {
                let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
                pool.install(|| correlate(&obs, &options).unwrap())
            };
            let one = run(1);
            assert_eq!(one.ci_method, Some(crate::stats::CiMethod::BootstrapCluster));
            assert!(one.ci_low.unwrap() <= one.ci_high.unwrap());
            assert_eq!(one, run(2));
            assert_eq!(one, run(5));
        }
    }

    #[test]
    fn a_station_drawn_twice_is_demeaned_as_two_stations() {
        let (station, x, y) = panel_columns();
        let panel = Sample::complete_rows(&Observations { station: &station, x: &x, y: &y, controls: &[] });
        let groups = panel.rows_by_station();
        let copy = resample(&panel, groups, &[3, 3]);
        assert_eq!(copy.n_stations(), 2);
        assert_eq!(copy.len(), 10);
        assert_eq!(copy.station, vec![0, 0, 0, 0, 0, 1, 1, 1, 1, 1]);
    }
}
