//! The three views of the panel a coefficient can take: pooled rows, within stations
//! (repeated-measures correlation, as R `rmcorr` and `pingouin.rm_corr` define it) and between
//! stations (per-station means). Each view turns the complete rows into a [`Design`]: the
//! columns the coefficient is computed on, and how many parameters the view itself used up,
//! which the degrees of freedom must subtract.

use std::sync::OnceLock;

use super::undefined::Undefined;
use super::{Observations, Scope, correlation::average_ranks};

/// Squared-norm ratio under which a column counts as constant: far above rounding noise
/// (~1e-32) and far below any variation a measured indicator has.
pub(crate) const NEGLIGIBLE_SHARE: f64 = 1e-20;

/// The sample one test runs on: the rows with every value present, stations renumbered 0..k in
/// increasing id order. (Not the station × period `panel::Panel` it is drawn from.)
#[derive(Debug, Clone)]
pub(crate) struct Sample {
    pub station: Vec<usize>,
    pub x: Vec<f64>,
    pub y: Vec<f64>,
    pub controls: Vec<Vec<f64>>,
    n_stations: usize,
    /// The rows of each station, found once (every column of a design, and each test's
    /// within and between views, group by them).
    groups: OnceLock<Vec<Vec<usize>>>,
}

impl Sample {
    /// Listwise deletion: a row missing any of x, y or a control is left out, as
    /// `pingouin.partial_corr` and `rm_corr` do.
    pub(crate) fn complete_rows(obs: &Observations<'_>) -> Sample {
        let keep: Vec<usize> =
            (0..obs.x.len()).filter(|&i| obs.x[i].is_finite() && obs.y[i].is_finite() && obs.controls.iter().all(|c| c[i].is_finite())).collect();
        let ids: Vec<u32> = keep.iter().map(|&i| obs.station[i]).collect();
        let (station, n_stations) = dense_numbers(&ids);
        Sample {
            station,
            x: keep.iter().map(|&i| obs.x[i]).collect(),
            y: keep.iter().map(|&i| obs.y[i]).collect(),
            controls: obs.controls.iter().map(|c| keep.iter().map(|&i| c[i]).collect()).collect(),
            n_stations,
            groups: OnceLock::new(),
        }
    }

    /// Builds a panel from rows already complete, with station ids already dense in 0..k.
    pub(crate) fn from_dense(station: Vec<usize>, x: Vec<f64>, y: Vec<f64>, controls: Vec<Vec<f64>>, n_stations: usize) -> Sample {
        Sample { station, x, y, controls, n_stations, groups: OnceLock::new() }
    }

    pub fn len(&self) -> usize {
        self.x.len()
    }

    pub(crate) fn n_stations(&self) -> usize {
        self.n_stations
    }

    /// Row indices of each station (by dense number), in row order.
    pub(crate) fn rows_by_station(&self) -> &[Vec<usize>] {
        self.groups.get_or_init(|| {
            let mut groups = vec![Vec::new(); self.n_stations];
            for (row, &s) in self.station.iter().enumerate() {
                groups[s].push(row);
            }
            groups
        })
    }
}

/// Each id replaced by its number among the distinct ids in ascending order (0, 1, …), and how
/// many distinct ids there are. Ids are station indexes, so a table indexed by id does it in one
/// pass; ids spread far beyond their count are numbered by sorting instead.
pub(crate) fn dense_numbers(ids: &[u32]) -> (Vec<usize>, usize) {
    let size = ids.iter().max().map_or(0, |&m| m as usize + 1);
    if size > 4 * ids.len() + 1024 {
        let mut distinct = ids.to_vec();
        distinct.sort_unstable();
        distinct.dedup();
        let numbers = ids.iter().map(|id| distinct.binary_search(id).unwrap_or_else(|at| at)).collect();
        return (numbers, distinct.len());
    }
    let mut table = vec![usize::MAX; size];
    for &id in ids {
        table[id as usize] = 0;
    }
    let mut next = 0;
    for slot in table.iter_mut().filter(|slot| **slot == 0) {
        *slot = next;
        next += 1;
    }
    (ids.iter().map(|&id| table[id as usize]).collect(), next)
}

/// One column as the coefficient sees it.
#[derive(Debug, Clone)]
pub(crate) struct Variable {
    pub values: Vec<f64>,
    /// Sum of squares of the column before the scope removed station levels: the yardstick
    /// for "this is rounding noise" once the column has been demeaned.
    pub reference: f64,
}

impl Variable {
    fn new(values: Vec<f64>, before_demeaning: &[f64]) -> Variable {
        let reference = before_demeaning.iter().map(|v| v * v).sum();
        Variable { values, reference }
    }

    /// True when what is left of the column is rounding noise (or nothing).
    pub(crate) fn is_constant(&self) -> bool {
        let mean = self.values.iter().sum::<f64>() / self.values.len() as f64;
        let spread: f64 = self.values.iter().map(|v| (v - mean) * (v - mean)).sum();
        spread <= NEGLIGIBLE_SHARE * self.reference
    }
}

/// The columns one coefficient is computed on.
#[derive(Debug, Clone)]
pub(crate) struct Design {
    pub scope: Scope,
    pub x: Variable,
    pub y: Variable,
    pub controls: Vec<Variable>,
    /// Parameters the scope fitted before any control: the intercept, or one mean per station.
    pub absorbed: usize,
    pub n_stations: usize,
}

impl Design {
    pub fn rows(&self) -> usize {
        self.x.values.len()
    }

    pub(crate) fn check_variance(&self) -> Result<(), Undefined> {
        for (name, variable) in [("x", &self.x), ("y", &self.y)] {
            if !variable.reference.is_finite() {
                return Err(Undefined::Overflow { variable: name });
            }
            if variable.is_constant() {
                return Err(Undefined::ZeroVariance { variable: name, scope: self.scope });
            }
        }
        Ok(())
    }
}

/// Transforms the panel for `scope`; `ranked` replaces values by average ranks first (Spearman).
pub(crate) fn design(panel: &Sample, scope: Scope, ranked: bool) -> Design {
    let column = |values: &[f64]| match scope {
        Scope::Pooled => pooled_column(values, ranked),
        Scope::Within => within_column(panel, values, ranked),
        Scope::Between => between_column(panel, values, ranked),
    };
    Design {
        scope,
        x: column(&panel.x),
        y: column(&panel.y),
        controls: panel.controls.iter().map(|c| column(c)).collect(),
        absorbed: if scope == Scope::Within { panel.n_stations() } else { 1 },
        n_stations: panel.n_stations(),
    }
}

/// The smallest sample that still leaves a finite Fisher interval, `df − 1 ≥ 1`, given the
/// number of controls requested (a control dropped later only adds degrees of freedom).
pub(crate) fn check_size(design: &Design, n_controls: usize) -> Result<(), Undefined> {
    let needed = design.absorbed + n_controls + 3;
    let n = design.rows();
    if n >= needed {
        return Ok(());
    }
    Err(Undefined::TooFew { scope: design.scope, n, stations: design.n_stations, needed })
}

fn pooled_column(values: &[f64], ranked: bool) -> Variable {
    let values = if ranked { average_ranks(values) } else { values.to_vec() };
    Variable::new(values.clone(), &values)
}

/// Station levels removed: what is left is each period's departure from its station's mean,
/// which is what rmcorr correlates. For Spearman the ranks are taken inside each station, so
/// the transform, like the scope, ignores where a station sits relative to the others.
fn within_column(panel: &Sample, values: &[f64], ranked: bool) -> Variable {
    let mut levelled = values.to_vec();
    if ranked {
        for rows in panel.rows_by_station() {
            let station_values: Vec<f64> = rows.iter().map(|&r| values[r]).collect();
            for (&row, value) in rows.iter().zip(average_ranks(&station_values)) {
                levelled[row] = value;
            }
        }
    }
    let demeaned = demean_by_station(panel, &levelled);
    Variable::new(demeaned, &levelled)
}

fn between_column(panel: &Sample, values: &[f64], ranked: bool) -> Variable {
    let means = station_means(panel, values);
    pooled_column(&means, ranked)
}

pub(crate) fn station_means(panel: &Sample, values: &[f64]) -> Vec<f64> {
    panel.rows_by_station().iter().map(|rows| rows.iter().map(|&r| values[r]).sum::<f64>() / rows.len() as f64).collect()
}

pub(crate) fn demean_by_station(panel: &Sample, values: &[f64]) -> Vec<f64> {
    let means = station_means(panel, values);
    values.iter().zip(&panel.station).map(|(v, &s)| v - means[s]).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::{BTreeMap, BTreeSet};

    fn panel(station: &[u32], x: &[f64], y: &[f64], controls: &[Vec<f64>]) -> Sample {
        Sample::complete_rows(&Observations { station, x, y, controls })
    }

    #[test]
    fn rows_missing_any_value_are_dropped_and_stations_renumbered() {
        let p = panel(&[7, 7, 3, 3, 9], &[1.0, f64::NAN, 2.0, 3.0, 4.0], &[1.0, 2.0, 2.0, f64::INFINITY, 5.0], &[vec![0.0, 0.0, 0.0, 0.0, f64::NAN]]);
        assert_eq!(p.len(), 2);
        assert_eq!(p.x, vec![1.0, 2.0]);
        // Station 9 lost its only row, so two stations remain, numbered by id: 3 → 0, 7 → 1.
        assert_eq!(p.n_stations(), 2);
        assert_eq!(p.station, vec![1, 0]);
    }

    #[test]
    fn station_ids_are_numbered_in_ascending_order_by_table_or_by_sorting() {
        assert_eq!(dense_numbers(&[7, 3, 7, 9, 3]), (vec![1, 0, 1, 2, 0], 3));
        assert_eq!(dense_numbers(&[]), (vec![], 0));
        // Ids far beyond their count take the sorting path.
        assert_eq!(dense_numbers(&[4_000_000_000, 5, 4_000_000_000]), (vec![1, 0, 1], 2));
        // Against a map from each distinct id to its position in ascending order.
        use rand::{Rng, SeedableRng};
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
        for case in 0..200 {
            let (n, spread) = (rng.random_range(0..300), if case % 2 == 0 { 50 } else { 1_000_000 });
            let ids: Vec<u32> = (0..n).map(|_| rng.random_range(0..spread)).collect();
            let order: BTreeMap<u32, usize> = ids.iter().copied().collect::<BTreeSet<u32>>().into_iter().enumerate().map(|(i, id)| (id, i)).collect();
            let expected: Vec<usize> = ids.iter().map(|id| order[id]).collect();
            assert_eq!(dense_numbers(&ids), (expected, order.len()), "case {case}");
        }
    }

    #[test]
    fn within_removes_station_levels() {
        let p = panel(&[1, 1, 2, 2], &[1.0, 3.0, 10.0, 14.0], &[0.0; 4], &[]);
        assert_eq!(demean_by_station(&p, &p.x), vec![-1.0, 1.0, -2.0, 2.0]);
        assert_eq!(station_means(&p, &p.x), vec![2.0, 12.0]);
    }

    #[test]
    fn within_spearman_ranks_inside_each_station() {
        let p = panel(&[1, 1, 1, 2, 2, 2], &[5.0, 1.0, 3.0, 100.0, 300.0, 200.0], &[0.0; 6], &[]);
        let d = design(&p, Scope::Within, true);
        assert_eq!(d.x.values, vec![1.0, -1.0, 0.0, -1.0, 1.0, 0.0]);
        assert_eq!(d.absorbed, 2);
    }

    #[test]
    fn station_constant_column_has_no_within_variance() {
        let p = panel(&[1, 1, 2, 2], &[0.1, 0.1, 0.7, 0.7], &[1.0, 2.0, 3.0, 5.0], &[]);
        let d = design(&p, Scope::Within, false);
        assert!(d.x.is_constant());
        assert!(!d.y.is_constant());
        assert_eq!(d.check_variance().unwrap_err().to_string(), "zero variance in x within stations");
        assert!(design(&p, Scope::Pooled, false).check_variance().is_ok());
    }
}
