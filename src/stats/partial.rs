//! Partial correlation: x and y are each replaced by their residuals from a least-squares fit
//! on an intercept and the controls, and r is the correlation of those residuals. That is the
//! same number `pingouin.partial_corr` reads off the inverse covariance matrix, computed in a
//! way that stays accurate when a control is nearly collinear with the others. With no
//! controls the residuals are just the centred columns, so plain r takes the same path.

use super::scopes::{Design, NEGLIGIBLE_SHARE, Variable};
use super::undefined::Undefined;

/// Centred x and y with the controls projected out.
#[derive(Debug, Clone)]
pub(crate) struct Residuals {
    pub x: Vec<f64>,
    pub y: Vec<f64>,
    /// Controls that added a direction of their own; only these cost a degree of freedom.
    pub n_controls: usize,
}

pub(crate) fn residualise(design: &Design) -> Result<Residuals, Undefined> {
    let basis = control_basis(&design.controls);
    let x = residual(&design.x.values, &basis);
    let y = residual(&design.y.values, &basis);
    for (name, values, variable) in [("x", &x, &design.x), ("y", &y, &design.y)] {
        if sum_of_squares(values) <= NEGLIGIBLE_SHARE * variable.reference {
            return Err(Undefined::Explained { variable: name });
        }
    }
    Ok(Residuals { x, y, n_controls: basis.len() })
}

/// Orthonormal directions spanned by the centred controls (modified Gram–Schmidt). A control
/// that the intercept and earlier controls already explain is skipped rather than divided by
/// rounding noise: within stations a station-level covariate becomes exactly such a column.
fn control_basis(controls: &[Variable]) -> Vec<Vec<f64>> {
    let mut basis: Vec<Vec<f64>> = Vec::new();
    for control in controls {
        let direction = residual(&control.values, &basis);
        let norm_sq = sum_of_squares(&direction);
        if norm_sq > NEGLIGIBLE_SHARE * control.reference {
            let norm = norm_sq.sqrt();
            basis.push(direction.into_iter().map(|v| v / norm).collect());
        }
    }
    basis
}

/// The part of `values` orthogonal to the intercept and to `basis`. Projecting twice
/// ("twice is enough") recovers the orthogonality a single pass loses to rounding.
fn residual(values: &[f64], basis: &[Vec<f64>]) -> Vec<f64> {
    let mut r = values.to_vec();
    for _ in 0..2 {
        let mean = r.iter().sum::<f64>() / r.len() as f64;
        r.iter_mut().for_each(|v| *v -= mean);
        for direction in basis {
            let along: f64 = r.iter().zip(direction).map(|(a, b)| a * b).sum();
            r.iter_mut().zip(direction).for_each(|(v, d)| *v -= along * d);
        }
    }
    r
}

fn sum_of_squares(values: &[f64]) -> f64 {
    values.iter().map(|v| v * v).sum()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stats::Scope;

    fn variable(values: &[f64]) -> Variable {
        Variable { values: values.to_vec(), reference: sum_of_squares(values) }
    }

    fn design(x: &[f64], y: &[f64], controls: &[&[f64]]) -> Design {
        Design { scope: Scope::Pooled, x: variable(x), y: variable(y), controls: controls.iter().map(|c| variable(c)).collect(), absorbed: 1, n_stations: 1 }
    }

    #[test]
    fn residuals_are_orthogonal_to_the_controls() {
        let c = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0];
        let d = design(&[2.0, 1.0, 4.0, 3.0, 6.0, 5.0], &[1.0, 3.0, 2.0, 5.0, 4.0, 7.0], &[&c]);
        let res = residualise(&d).unwrap();
        assert_eq!(res.n_controls, 1);
        let along: f64 = res.x.iter().zip(&c).map(|(a, b)| a * b).sum();
        assert!(along.abs() < 1e-12);
        assert!(res.x.iter().sum::<f64>().abs() < 1e-12);
    }

    #[test]
    fn collinear_and_constant_controls_do_not_count() {
        let c = [1.0, 2.0, 3.0, 4.0, 5.0];
        let twice = [2.0, 4.0, 6.0, 8.0, 10.0];
        let constant = [3.0; 5];
        let d = design(&[1.0, 3.0, 2.0, 5.0, 4.0], &[2.0, 1.0, 4.0, 3.0, 5.0], &[&c, &twice, &constant]);
        assert_eq!(residualise(&d).unwrap().n_controls, 1);
    }

    #[test]
    fn x_explained_by_controls_has_a_reason() {
        let c = [1.0, 2.0, 3.0, 4.0, 5.0];
        let d = design(&[3.0, 5.0, 7.0, 9.0, 11.0], &[2.0, 1.0, 4.0, 3.0, 5.0], &[&c]);
        assert_eq!(residualise(&d).unwrap_err().to_string(), "x is fully explained by the controls");
    }
}
