//! The analysis recovers the sample's ground truth (sample_data/ground_truth.json): the planted
//! within-station effects are significant after correction with the right sign, the null pairs
//! mostly are not, and the pooled scope shows the documented size confounding, which partial
//! correlation on log customers removes. (Agreement with scipy / pingouin / statsmodels on
//! committed fixtures is tested inside src/stats.)

use serde_json::Value;

use crate::testenv::{duibiao, floats, read_parquet, repo, sample_run, strings};

struct Row {
    indicator: String,
    feature: String,
    scope: String,
    method: String,
    lag: i64,
    controls: String,
    r: Option<f64>,
    p_adjusted: Option<f64>,
    r_better: Option<f64>,
}

fn table(out: &std::path::Path) -> Vec<Row> {
    let t = read_parquet(&out.join("correlations.parquet"));
    let lags: Vec<i64> = {
        use arrow::array::{Array, Int64Array};
        t.iter()
            .flat_map(|b| {
                let a = b.column_by_name("lag").unwrap().as_any().downcast_ref::<Int64Array>().unwrap().clone();
                (0..a.len()).map(move |i| a.value(i)).collect::<Vec<_>>()
            })
            .collect()
    };
    let s = |c: &str| strings(&t, c).into_iter().map(|x| x.unwrap_or_default()).collect::<Vec<_>>();
    let (ind, fea, sco, met, con) = (s("indicator"), s("feature"), s("scope"), s("method"), s("controls"));
    let (r, p, rb) = (floats(&t, "r"), floats(&t, "p_adjusted"), floats(&t, "r_better"));
    (0..lags.len())
        .map(|i| Row {
            indicator: ind[i].clone(),
            feature: fea[i].clone(),
            scope: sco[i].clone(),
            method: met[i].clone(),
            lag: lags[i],
            controls: con[i].clone(),
            r: r[i],
            p_adjusted: p[i],
            r_better: rb[i],
        })
        .collect()
}

fn find<'a>(rows: &'a [Row], indicator: &str, feature: &str, scope: &str, lag: i64, controls: &str) -> &'a Row {
    rows.iter()
        .find(|r| r.indicator == indicator && r.feature == feature && r.scope == scope && r.lag == lag && r.method == "pearson" && r.controls == controls)
        .unwrap_or_else(|| panic!("no row {indicator} × {feature} {scope} lag {lag} controls '{controls}'"))
}

#[test]
fn the_analysis_recovers_the_ground_truth() {
    let out = &sample_run().out;
    let rows = table(out);
    // Each test runs once without controls (null, never '') and once with the pipeline's controls.
    let controls = strings(&read_parquet(&out.join("correlations.parquet")), "controls");
    assert!(!controls.iter().any(|c| c.as_deref() == Some("")), "controls '' in correlations.parquet");
    assert_eq!(controls.iter().filter(|c| c.is_none()).count() * 2, controls.len());
    assert!(controls.iter().flatten().all(|c| c == "log_customers"), "{controls:?}");
    let truth: Value = serde_json::from_str(&std::fs::read_to_string(repo().join("sample_data/ground_truth.json")).unwrap()).unwrap();
    let significant = |r: &Row| r.p_adjusted.is_some_and(|p| p < 0.05);

    // 1. Each planted within-station effect: significant after correction, right sign.
    let planted = truth["planted_effects"].as_array().unwrap();
    let mut planted_pairs = Vec::new();
    for e in planted {
        let (indicator, feature, lag) = (e["indicator"].as_str().unwrap(), e["activity_code"].as_str().unwrap(), e["lag"].as_i64().unwrap());
        let row = find(&rows, indicator, feature, "within", lag, "");
        assert!(significant(row), "{feature} → {indicator} lag {lag}: p_adj {:?}", row.p_adjusted);
        let raw_sign = if e["raw_sign"] == "positive" { 1.0 } else { -1.0 };
        let better_sign = if e["better_sign"] == "positive" { 1.0 } else { -1.0 };
        assert!(row.r.unwrap() * raw_sign > 0.0, "{feature} → {indicator}: r {:?}", row.r);
        assert!(row.r_better.unwrap() * better_sign > 0.0, "{feature} → {indicator}: r_better {:?}", row.r_better);
        planted_pairs.push((indicator.to_string(), feature.to_string(), lag));
    }

    // 2. Null pairs (within, every indicator, lags 0 and 1, features that carry no planted relation
    //    and are not built from the planted activity counts) mostly are not significant.
    let derived = ["activities_per_member", "activity_hours"]; // contain the planted counts
    let nulls: Vec<&Row> = rows
        .iter()
        .filter(|r| r.scope == "within" && r.method == "pearson" && r.controls.is_empty())
        .filter(|r| !derived.contains(&r.feature.as_str()))
        .filter(|r| !planted_pairs.contains(&(r.indicator.clone(), r.feature.clone(), r.lag)))
        .collect();
    assert!(nulls.len() >= 60, "{} null pairs", nulls.len());
    let false_hits = nulls.iter().filter(|r| significant(r)).count();
    assert!(false_hits * 10 <= nulls.len(), "{false_hits} of {} null pairs significant", nulls.len());

    // 3. Size confounding: activity counts that grow with size go with *more* complaints pooled
    //    and between stations (worse), and partial correlation on log customers removes most of it.
    let confounded = truth["confounding"]["activity_codes_growing_with_size"].as_array().unwrap();
    for code in confounded.iter().map(|c| c.as_str().unwrap()) {
        let between = find(&rows, "complaint_control", code, "between", 0, "");
        assert!(between.r.unwrap() > 0.0 && between.r_better.unwrap() < 0.0, "{code} between: {:?}", between.r);
        let pooled = find(&rows, "complaint_control", code, "pooled", 0, "");
        assert!(pooled.r.unwrap() > 0.0 && significant(pooled), "{code} pooled: r {:?} p {:?}", pooled.r, pooled.p_adjusted);
        let partial = find(&rows, "complaint_control", code, "pooled", 0, "log_customers");
        assert!(partial.r.unwrap().abs() < pooled.r.unwrap().abs() / 2.0, "{code}: partial {:?} vs pooled {:?}", partial.r, pooled.r);
    }
    // And at least one confounded count is significant between stations, in the wrong direction.
    assert!(confounded.iter().any(|c| significant(find(&rows, "complaint_control", c.as_str().unwrap(), "between", 0, ""))));
}

#[test]
fn pairs_that_cannot_be_computed_say_why_instead_of_nan() {
    let tmp = tempfile::tempdir().unwrap();
    let fixtures = repo().join("tests/fixtures");
    std::fs::create_dir_all(tmp.path().join("pipelines")).unwrap();
    std::fs::create_dir_all(tmp.path().join("panel")).unwrap();
    for f in std::fs::read_dir(fixtures.join("panel")).unwrap() {
        let f = f.unwrap();
        std::fs::copy(f.path(), tmp.path().join("panel").join(f.file_name())).unwrap();
    }
    std::fs::copy(fixtures.join("pipelines/panel_small.toml"), tmp.path().join("pipelines/panel_small.toml")).unwrap();
    let run = duibiao(tmp.path(), &["run", "pipelines/panel_small.toml", "--quiet"]);
    assert!(run.status.success(), "{}", String::from_utf8_lossy(&run.stderr));
    let t = read_parquet(&tmp.path().join("pipelines/out/correlations.parquet"));
    let (r, reason) = (floats(&t, "r"), strings(&t, "reason"));
    assert!(!r.is_empty());
    // Six station-quarters: every pair has too few observations, so r is null with a reason.
    for (value, why) in r.iter().zip(&reason) {
        assert!(value.is_none());
        assert!(why.as_deref().unwrap().starts_with("too few observations"), "{why:?}");
    }
}
