//! Checks the engine against values computed by scipy, pingouin and statsmodels: the fixture
//! `tests/fixtures/stats/reference.json` is written by `tests/reference/stats_reference.py`,
//! which documents the source of each expected number. r must agree to 1e-9, intervals and
//! p-values to 1e-6. The datasets include ties (`ties`, `many_ties`) and near-ties, values equal
//! to 12 significant digits but not in float (`near_ties`, checked against scipy and pingouin
//! on the rounded values).

use serde_json::Value;

use super::{Adjust, Method, Observations, Options, Scope, adjust, correlate};

const R_TOLERANCE: f64 = 1e-9;
const INFERENCE_TOLERANCE: f64 = 1e-6;

fn fixture() -> Value {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/stats/reference.json");
    let text = std::fs::read_to_string(path).expect("reference fixture (run tests/reference/stats_reference.py)");
    serde_json::from_str(&text).expect("reference fixture is JSON")
}

/// Fixture columns hold null where a value is missing; the engine expects NaN there.
fn column(value: &Value) -> Vec<f64> {
    value.as_array().expect("column is an array").iter().map(|v| v.as_f64().unwrap_or(f64::NAN)).collect()
}

struct Dataset {
    station: Vec<u32>,
    x: Vec<f64>,
    y: Vec<f64>,
    controls: Vec<Vec<f64>>,
}

fn dataset(fixture: &Value, name: &str) -> Dataset {
    let d = &fixture["datasets"][name];
    Dataset {
        station: d["station"].as_array().unwrap().iter().map(|s| s.as_u64().unwrap() as u32).collect(),
        x: column(&d["x"]),
        y: column(&d["y"]),
        controls: d["controls"].as_array().unwrap().iter().map(column).collect(),
    }
}

fn parse<T: serde::de::DeserializeOwned>(value: &Value) -> T {
    serde_json::from_value(value.clone()).unwrap()
}

fn assert_close(what: &str, actual: Option<f64>, expected: &Value, tolerance: f64) {
    let expected = expected.as_f64().unwrap_or_else(|| panic!("{what}: fixture has no number"));
    let actual = actual.unwrap_or_else(|| panic!("{what}: engine gave None, reference {expected}"));
    assert!((actual - expected).abs() <= tolerance, "{what}: engine {actual}, reference {expected}, difference {:e}", (actual - expected).abs());
}

#[test]
fn every_reference_case_matches() {
    let fixture = fixture();
    let cases = fixture["cases"].as_array().unwrap();
    assert!(cases.len() >= 100, "fixture has only {} cases", cases.len());
    let mut with_coefficient = 0;
    for case in cases {
        let name = case["dataset"].as_str().unwrap();
        let data = dataset(&fixture, name);
        let method: Method = parse(&case["method"]);
        let scope: Scope = parse(&case["scope"]);
        let use_controls = case["controls"].as_bool().unwrap();
        let confidence = case["confidence"].as_f64().unwrap();
        let label = format!("{name} {method:?} {scope:?} controls={use_controls} confidence={confidence}");
        let controls = if use_controls { data.controls.clone() } else { Vec::new() };
        let obs = Observations { station: &data.station, x: &data.x, y: &data.y, controls: &controls };
        let options = Options { method, scope, confidence, bootstrap: None };
        let got = correlate(&obs, &options).unwrap();
        let expected = &case["expected"];
        assert_eq!(got.n as u64, expected["n"].as_u64().unwrap(), "{label}: n");
        assert_eq!(got.n_stations as u64, expected["n_stations"].as_u64().unwrap(), "{label}: n_stations");
        if expected["r"].is_null() {
            assert_no_coefficient(&label, &got, expected["reason_contains"].as_str().unwrap());
            continue;
        }
        with_coefficient += 1;
        assert_eq!(got.reason, None, "{label}");
        assert_close(&format!("{label}: r"), got.r, &expected["r"], R_TOLERANCE);
        assert_close(&format!("{label}: ci_low"), got.ci_low, &expected["ci_low"], INFERENCE_TOLERANCE);
        assert_close(&format!("{label}: ci_high"), got.ci_high, &expected["ci_high"], INFERENCE_TOLERANCE);
        assert_close(&format!("{label}: p"), got.p_value, &expected["p_value"], INFERENCE_TOLERANCE);
        assert_eq!(got.df.map(|d| d as u64), expected["df"].as_u64(), "{label}: df");
        assert_eq!(got.ci_method, Some(super::CiMethod::FisherZ), "{label}");
    }
    assert!(with_coefficient >= 50, "only {with_coefficient} cases with a coefficient");
}

fn assert_no_coefficient(label: &str, got: &super::Correlation, reason: &str) {
    assert_eq!(got.r, None, "{label}: expected no coefficient");
    assert_eq!((got.ci_low, got.ci_high, got.p_value), (None, None, None), "{label}");
    let said = got.reason.as_deref().unwrap_or_else(|| panic!("{label}: no reason given"));
    assert!(said.contains(reason), "{label}: reason {said:?} lacks {reason:?}");
}

#[test]
fn reference_cases_cover_every_method_and_scope() {
    let fixture = fixture();
    for method in ["pearson", "spearman", "kendall"] {
        for scope in ["pooled", "within", "between"] {
            let covered = fixture["cases"].as_array().unwrap().iter().any(|c| c["method"] == method && c["scope"] == scope && !c["expected"]["r"].is_null());
            // Kendall has no within-station form: that combination is covered by its reason.
            assert_eq!(covered, !(method == "kendall" && scope == "within"), "{method} × {scope}");
        }
    }
}

#[test]
fn adjusted_p_values_match_statsmodels() {
    let fixture = fixture();
    for family in fixture["adjust"].as_array().unwrap() {
        let p: Vec<Option<f64>> = column(&family["p"]).into_iter().map(Some).collect();
        for (method, key) in [(Adjust::FdrBh, "fdr_bh"), (Adjust::Holm, "holm")] {
            let got = adjust(&p, method);
            let expected = column(&family[key]);
            assert_eq!(got.len(), expected.len());
            for (i, (g, e)) in got.iter().zip(&expected).enumerate() {
                assert_close(&format!("{key}[{i}]"), *g, &Value::from(*e), 1e-12);
            }
        }
    }
}

/// The near-ties cases only test the rounding if the values reach the engine as written:
/// distinct floats that agree to [`super::TIE_DIGITS`] significant digits, in single columns,
/// inside stations, and in the station means.
#[test]
fn near_ties_reach_the_engine_unmerged() {
    use super::correlation::tie_key;
    fn distinct(values: impl Iterator<Item = f64>) -> usize {
        let mut bits: Vec<u64> = values.map(f64::to_bits).collect();
        bits.sort_unstable();
        bits.dedup();
        bits.len()
    }
    let data = dataset(&fixture(), "near_ties");
    let panel = super::scopes::Sample::complete_rows(&Observations { station: &data.station, x: &data.x, y: &data.y, controls: &[] });
    for column in [&panel.x, &panel.y] {
        assert!(distinct(column.iter().copied()) > distinct(column.iter().map(|&v| tie_key(v))));
        let within = panel.rows_by_station().iter().any(|rows| distinct(rows.iter().map(|&r| column[r])) > distinct(rows.iter().map(|&r| tie_key(column[r]))));
        assert!(within, "no near-tie inside a station");
    }
    let means = super::scopes::station_means(&panel, &panel.x);
    assert!(distinct(means.iter().copied()) > distinct(means.iter().map(|&v| tie_key(v))));
}
