"""Reference values for the correlation engine (src/stats), computed by scipy, pingouin and
statsmodels, never by the Rust code.

Writes tests/fixtures/stats/reference.json: small deterministic panels (inputs, missing values
as null) and, for each method × scope × controls case, the expected n, stations, r, confidence
interval, p-value and degrees of freedom, or the fact that no coefficient exists. The Rust
tests in src/stats/reference_tests.rs read that file.

Rerun (from the repository root, with the venv outside the repository):

    python3 -m venv /tmp/statsvenv
    /tmp/statsvenv/bin/pip install scipy pingouin statsmodels numpy pandas
    /tmp/statsvenv/bin/python tests/reference/stats_reference.py

Sources per case (see src/stats/mod.rs for the conventions the engine follows):
- pooled Pearson: scipy.stats.pearsonr, its confidence_interval() for the Fisher z interval;
- pooled Spearman: scipy.stats.spearmanr; interval by pingouin.compute_esci (as pingouin.corr);
- pooled Kendall: scipy.stats.kendalltau(method='asymptotic') tau-b; interval as pingouin.corr;
- within Pearson: pingouin.rm_corr; interval by compute_esci(nx=dof+2) as rm_corr calls it,
  without rm_corr's rounding to 2 decimals;
- within Spearman: pingouin.rm_corr on ranks taken inside each station (the repeated-measures
  correlation of Bakdash & Marusich 2017 applied to within-station ranks);
- between: the pooled functions on per-station means; n is the number of station means;
- ties: Spearman and Kendall see every value rounded to TIE_DIGITS significant decimal digits
  (exact decimal rounding through Python's formatting) before ranking, as the engine does;
  Pearson sees the values unrounded. The near_ties dataset holds values equal in exact
  arithmetic but not in float (73.16 and 73.16000000000001, station means summed in another
  order), so it fails for an engine that ranks unrounded values;
- controls, pooled and between: pingouin.partial_corr (pearson, spearman), interval unrounded
  from compute_esci(nx=n-k) as partial_corr calls it;
- controls, within: statsmodels OLS y ~ C(station) + x + controls (on within-station ranks for
  Spearman): r = t/sqrt(t^2 + df_resid), p from the OLS t test, interval compute_esci(nx=df+2);
- multiple testing: statsmodels.stats.multitest.multipletests 'fdr_bh' and 'holm'.
"""

import json
import math
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pingouin as pg
import scipy
import statsmodels
import statsmodels.formula.api as smf
from scipy import stats
from statsmodels.stats.multitest import multipletests

OUT = Path(__file__).resolve().parents[1] / "fixtures" / "stats" / "reference.json"
CONFIDENCE_LEVELS = (0.95, 0.90)
TIE_DIGITS = 12  # src/stats/correlation.rs TIE_DIGITS


def tie_key(value):
    """value rounded to TIE_DIGITS significant decimal digits."""
    return float(f"{value:.{TIE_DIGITS - 1}e}")


def tie_keys(values):
    return np.array([tie_key(float(v)) for v in values])


# ---------------------------------------------------------------------------------------------
# Datasets


def offsets_panel():
    """6 stations × 5 periods; stations differ in level (between relation positive), while
    inside a station y falls as x rises (within relation negative)."""
    rng = np.random.default_rng(20240101)
    rows = []
    for s in range(6):
        level = 2.0 * s
        for t in range(5):
            x = level + rng.normal(0, 1)
            y = 3.0 * level - 0.8 * (x - level) + rng.normal(0, 0.7)
            rows.append((101 + s, round(x, 3), round(y, 3)))
    return frame(rows)


def unbalanced_panel():
    """7 stations with 3 to 8 periods each and a weak positive within relation."""
    rng = np.random.default_rng(7)
    rows = []
    for s, periods in enumerate([3, 8, 5, 4, 6, 7, 5]):
        level = rng.normal(0, 3)
        for _ in range(periods):
            x = level + rng.normal(0, 1)
            y = -level + 0.4 * (x - level) + rng.normal(0, 1)
            rows.append((s + 1, round(x, 3), round(y, 3)))
    return frame(rows)


def ties_panel():
    """6 stations × 5 periods with integer activity counts and indicators on a 0.5 grid:
    many ties in both columns, pooled and inside stations."""
    rng = np.random.default_rng(99)
    rows = []
    for s in range(6):
        for _ in range(5):
            x = int(rng.integers(0, 4)) + (s % 2)
            y = round((x + rng.integers(0, 3) + s) / 2.0 * 2) / 2.0
            rows.append((10 * (s + 1), float(x), float(y)))
    return frame(rows)


def controls_panel():
    """8 stations × 5 periods with two controls (station size, a period trend) that drive both
    x and y, and three missing values (one in y, two in a control) that drop three rows."""
    rng = np.random.default_rng(31337)
    rows = []
    for s in range(8):
        size = rng.uniform(1, 5)
        for t in range(5):
            size_t = size + rng.normal(0, 0.3)
            trend = t + rng.normal(0, 0.2)
            x = 1.5 * size_t + 0.5 * trend + rng.normal(0, 1)
            y = 2.0 * size_t - 0.7 * trend + 0.3 * x + rng.normal(0, 1)
            rows.append((s + 1, round(x, 3), round(y, 3), round(size_t, 3), round(trend, 3)))
    df = pd.DataFrame(rows, columns=["station", "x", "y", "c1", "c2"])
    df.loc[3, "y"] = np.nan
    df.loc[17, "c1"] = np.nan
    df.loc[30, "c2"] = np.nan
    return df


def station_level_x_panel():
    """x constant inside each station (a station attribute): pooled and between exist, within
    has no variance in x."""
    rng = np.random.default_rng(5)
    rows = []
    for s in range(5):
        x = round(float(rng.uniform(0, 10)), 3)
        for _ in range(4):
            rows.append((s + 1, x, round(float(x + rng.normal(0, 2)), 3)))
    return frame(rows)


def constant_x_panel():
    """x the same everywhere: no coefficient in any scope."""
    rng = np.random.default_rng(11)
    rows = [(s + 1, 2.5, round(float(rng.normal(0, 1)), 3)) for s in range(4) for _ in range(4)]
    return frame(rows)


def tiny_panel():
    """n = 3: too few rows for a coefficient with an interval."""
    return frame([(1, 1.0, 2.0), (1, 2.0, 1.5), (2, 3.0, 4.0)])


def near_ties_panel():
    """8 stations × 6 periods whose values tie in exact arithmetic but not all in float.
    Values sit on a coarse grid (73.16, 73.66, ...) and a fifth of them are moved by one unit
    in the last place (73.16000000000001 for 73.16), as a mean summed in another order would
    be. Stations come in pairs holding the same x values in reverse order, so their x means are
    equal in exact arithmetic while the means summed in row order differ in the last bits."""
    rng = np.random.default_rng(7316)
    rows = []
    for pair in range(4):
        while True:  # until the two stations' row-order means differ in float
            xs = [float(v) for v in 0.1 * rng.integers(1, 5, size=6) + 0.1 * pair]
            members = [[nudge(x, rng) for x in xs], [nudge(x, rng) for x in xs[::-1]]]
            means = [sum(m) / len(m) for m in members]
            if means[0] != means[1] and tie_key(means[0]) == tie_key(means[1]):
                break
        for member, values in enumerate(members):
            for x in values:
                y = 73.16 + 0.5 * int(rng.integers(0, 4)) + 0.25 * pair
                rows.append((2 * pair + member + 1, x, nudge(y, rng)))
    d = frame(rows)
    for c in ("x", "y"):
        assert d[c].nunique() > len(set(tie_keys(d[c]))), f"{c}: no near-ties"
        within = d.groupby("station")[c].agg(lambda v: v.nunique() - len(set(tie_keys(v)))).sum()
        assert within > 0, f"{c}: no near-ties inside a station"
    return d


def nudge(value, rng):
    """value, or with probability 0.2 its float neighbour above or below."""
    draw = rng.random()
    if draw < 0.1:
        return float(np.nextafter(value, np.inf))
    if draw < 0.2:
        return float(np.nextafter(value, -np.inf))
    return float(value)


def many_ties_panel():
    """40 stations × 8 periods (320 rows) on small integer grids: large tie groups in x, in y
    and in both, for Kendall's merge-sort counts."""
    rng = np.random.default_rng(4242)
    rows = []
    for s in range(40):
        level = int(rng.integers(0, 3))
        for _ in range(8):
            x = int(rng.integers(0, 5))
            y = min(4, max(0, x // 2 + level + int(rng.integers(-1, 2))))
            rows.append((s + 1, float(x), float(y)))
    return frame(rows)


def frame(rows):
    return pd.DataFrame(rows, columns=["station", "x", "y"])


DATASETS = {
    "offsets": (offsets_panel(), []),
    "unbalanced": (unbalanced_panel(), []),
    "ties": (ties_panel(), []),
    "controls": (controls_panel(), ["c1", "c2"]),
    "station_level_x": (station_level_x_panel(), []),
    "constant_x": (constant_x_panel(), []),
    "tiny": (tiny_panel(), []),
    "near_ties": (near_ties_panel(), []),
    "many_ties": (many_ties_panel(), []),
}

# ---------------------------------------------------------------------------------------------
# Expected values


def fisher_interval(r, nx, confidence):
    """The Fisher z interval exactly as pingouin computes it, without its final rounding."""
    with np.errstate(divide="ignore"):  # |r| = 1: atanh is infinite and the interval is [r, r]
        ci = pg.compute_esci(stat=r, nx=nx, ny=nx, eftype="r", confidence=confidence, decimals=15)
    return [float(v) for v in ci]


def result(n, stations, r, ci, p, df):
    return {"n": int(n), "n_stations": int(stations), "r": float(r), "ci_low": float(ci[0]), "ci_high": float(ci[1]),
            "p_value": float(p), "df": None if df is None else int(df)}


def no_coefficient(n, stations, reason):
    return {"n": int(n), "n_stations": int(stations), "r": None, "reason_contains": reason}


def pooled(d, method, confidence):
    x, y = d["x"].to_numpy(), d["y"].to_numpy()
    if method != "pearson":
        x, y = tie_keys(x), tie_keys(y)
    n, k = len(d), d["station"].nunique()
    if method == "pearson":
        res = stats.pearsonr(x, y)
        ci = res.confidence_interval(confidence_level=confidence)
        check_close(ci, fisher_interval(res.statistic, n, confidence))
        return result(n, k, res.statistic, (ci.low, ci.high), res.pvalue, n - 2)
    if method == "spearman":
        res = stats.spearmanr(x, y)
        check_pingouin_corr(x, y, "spearman", res, confidence)
        return result(n, k, res.statistic, fisher_interval(res.statistic, n, confidence), res.pvalue, n - 2)
    res = stats.kendalltau(x, y, method="asymptotic")
    check_pingouin_corr(x, y, "kendall", res, confidence, check_p=False)
    return result(n, k, res.statistic, fisher_interval(res.statistic, n, confidence), res.pvalue, None)


def check_pingouin_corr(x, y, method, res, confidence, check_p=True):
    """pingouin.corr reports the same r and the interval we take from compute_esci (rounded)."""
    pc = pg.corr(x, y, method=method, confidence=confidence) if "confidence" in pg.corr.__code__.co_varnames \
        else pg.corr(x, y, method=method)
    assert math.isclose(pc["r"].iloc[0], res.statistic, abs_tol=1e-12)
    if check_p:
        assert math.isclose(pc["p_val"].iloc[0], res.pvalue, rel_tol=1e-9, abs_tol=1e-15)
    if confidence == 0.95:
        check_close(pc["CI95"].iloc[0], fisher_interval(res.statistic, len(x), confidence), tol=0.006)  # rounded output


def within(d, method, confidence):
    n, k = len(d), d["station"].nunique()
    if method == "kendall":
        return no_coefficient(n, k, "kendall")
    data = ranked_within(d, ["x", "y"]) if method == "spearman" else d
    if data.groupby("station")["x"].nunique().max() < 2:
        return no_coefficient(n, k, "zero variance in x within stations")
    rm = pg.rm_corr(data=data, x="x", y="y", subject="station")
    r, dof, p = rm["r"].iloc[0], int(rm["dof"].iloc[0]), rm["pval"].iloc[0]
    assert dof == n - k - 1
    ci = fisher_interval(r, dof + 2, confidence)
    if confidence == 0.95:
        check_close(rm["CI95"].iloc[0], ci, tol=0.006)  # rm_corr rounds its interval to 2 decimals
    check_ols_within(data, [], r, p)
    return result(n, k, r, ci, p, dof)


def ranked_within(d, columns):
    out = d.copy()
    for c in columns:
        out[c] = tie_keys(d[c])
        out[c] = out.groupby("station")[c].rank(method="average")
    return out


def station_means(d, columns):
    return d.groupby("station")[columns].mean().reset_index()


def between(d, method, confidence):
    means = station_means(d, ["x", "y"])
    out = pooled(means, method, confidence) if means["x"].nunique() > 1 else \
        no_coefficient(len(means), len(means), "zero variance in x")
    return out


def partial_pooled(d, controls, method, confidence, n_stations):
    n, q = len(d), len(controls)
    if method == "spearman":
        d = d.copy()
        for c in ["x", "y"] + controls:
            d[c] = tie_keys(d[c])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        pc = pg.partial_corr(data=d, x="x", y="y", covar=controls, method=method)
    r, p = pc["r"].iloc[0], pc["p_val"].iloc[0]
    assert pc["n"].iloc[0] == n
    ci = fisher_interval(r, n - q, confidence)
    if confidence == 0.95:
        check_close(pc["CI95"].iloc[0], ci, tol=0.006)  # rounded output
    return result(n, n_stations, r, ci, p, n - 2 - q)


def partial_within(d, controls, method, confidence):
    n, k, q = len(d), d["station"].nunique(), len(controls)
    data = ranked_within(d, ["x", "y"] + controls) if method == "spearman" else d
    fit = smf.ols("y ~ C(station) + x + " + " + ".join(controls), data=data).fit()
    t, df = fit.tvalues["x"], int(fit.df_resid)
    assert df == n - k - 1 - q
    r = t / math.sqrt(t * t + df)
    return result(n, k, r, fisher_interval(r, df + 2, confidence), fit.pvalues["x"], df)


def check_ols_within(data, controls, r, p):
    """rm_corr is the x coefficient of y ~ station + x: the OLS route used with controls must
    give the same numbers without them."""
    formula = "y ~ C(station) + x" + "".join(" + " + c for c in controls)
    fit = smf.ols(formula, data=data).fit()
    t, df = fit.tvalues["x"], fit.df_resid
    assert math.isclose(t / math.sqrt(t * t + df), r, abs_tol=1e-10)
    assert math.isclose(fit.pvalues["x"], p, rel_tol=1e-8, abs_tol=1e-14)


def check_close(a, b, tol=1e-12):
    a, b = list(a), list(b)
    assert all(abs(u - v) <= tol for u, v in zip(a, b)), (a, b)


def cases_for(name, raw, controls):
    """Listwise deletion over the columns a case uses: a plain case ignores the controls."""
    cases = []
    plain = raw[["station", "x", "y"]].dropna().reset_index(drop=True)
    full = raw[["station", "x", "y"] + controls].dropna().reset_index(drop=True)
    for confidence in CONFIDENCE_LEVELS:
        for method in ("pearson", "spearman", "kendall"):
            for scope in ("pooled", "within", "between"):
                case = {"dataset": name, "method": method, "scope": scope, "controls": False,
                        "confidence": confidence}
                n, k = len(plain), plain["station"].nunique()
                case["expected"] = plain_expectation(plain, n, k, method, scope, confidence)
                between_sample(case, k)
                cases.append(case)
                if controls:
                    case = dict(case, controls=True)
                    n, k = len(full), full["station"].nunique()
                    case["expected"] = partial_expectation(full, controls, n, k, method, scope, confidence)
                    between_sample(case, k)
                    cases.append(case)
    return cases


def between_sample(case, k):
    """A between-station test runs on the k station means: that is its n, with or without a
    coefficient."""
    if case["scope"] == "between":
        case["expected"]["n"] = k


def plain_expectation(d, n, k, method, scope, confidence):
    if method == "kendall" and scope == "within":
        return no_coefficient(n, k, "kendall")
    if n < 4:
        return no_coefficient(n, k, "too few")
    if scope == "pooled":
        if d["x"].nunique() < 2:
            return no_coefficient(n, k, "zero variance in x")
        return pooled(d, method, confidence)
    if scope == "within":
        if method != "kendall" and d["x"].nunique() < 2:
            return no_coefficient(n, k, "zero variance in x within stations")
        return within(d, method, confidence)
    out = between(d, method, confidence)
    out["n"], out["n_stations"] = k, k
    return out


def partial_expectation(d, controls, n, k, method, scope, confidence):
    if method == "kendall":
        return no_coefficient(n, k, "kendall")
    if scope == "pooled":
        return partial_pooled(d, controls, method, confidence, k)
    if scope == "within":
        return partial_within(d, controls, method, confidence)
    means = station_means(d, ["x", "y"] + controls)
    out = partial_pooled(means, controls, method, confidence, k)
    out["n"] = k
    return out


def check_near_ties_matter(raw):
    """The near_ties cases can fail: ranking the unrounded values gives other coefficients."""
    x, y = raw["x"].to_numpy(), raw["y"].to_numpy()
    for f in (lambda a, b: stats.spearmanr(a, b).statistic, lambda a, b: stats.kendalltau(a, b).statistic):
        assert abs(f(x, y) - f(tie_keys(x), tie_keys(y))) > 1e-6
    unrounded = raw.copy()
    unrounded[["x", "y"]] = raw.groupby("station")[["x", "y"]].rank(method="average")
    rounded = ranked_within(raw, ["x", "y"])
    r = [pg.rm_corr(data=d, x="x", y="y", subject="station")["r"].iloc[0] for d in (unrounded, rounded)]
    assert abs(r[0] - r[1]) > 1e-6, r
    means = raw.groupby("station")[["x", "y"]].agg(lambda v: sum(v.tolist()) / len(v))  # row order
    assert abs(stats.spearmanr(means["x"], means["y"]).statistic
               - stats.spearmanr(tie_keys(means["x"]), tie_keys(means["y"])).statistic) > 1e-6


def adjustment_cases(computed_p):
    families = [
        [0.01, 0.04, 0.03, 0.005, 0.2, 0.04, 0.9, 0.5],
        [0.001, 0.0105, 0.012, 0.3, 0.3, 0.8, 0.049, 0.051, 1.0, 0.0],
        [0.6],
        computed_p,
    ]
    out = []
    for p in families:
        entry = {"p": [float(v) for v in p]}
        for method in ("fdr_bh", "holm"):
            entry[method] = [float(v) for v in multipletests(p, method=method)[1]]
        out.append(entry)
    return out


def dataset_json(raw, controls):
    def column(name):
        return [None if pd.isna(v) else float(v) for v in raw[name]]
    return {"station": [int(s) for s in raw["station"]], "x": column("x"), "y": column("y"),
            "controls": [column(c) for c in controls]}


def main():
    check_near_ties_matter(DATASETS["near_ties"][0])
    cases = []
    for name, (raw, controls) in DATASETS.items():
        cases.extend(cases_for(name, raw, controls))
    computed_p = [c["expected"]["p_value"] for c in cases
                  if c["expected"]["r"] is not None and c["confidence"] == 0.95 and c["dataset"] == "controls"]
    fixture = {
        "generated_by": "tests/reference/stats_reference.py",
        "versions": {"numpy": np.__version__, "pandas": pd.__version__, "scipy": scipy.__version__,
                     "pingouin": pg.__version__, "statsmodels": statsmodels.__version__},
        "datasets": {name: dataset_json(raw, controls) for name, (raw, controls) in DATASETS.items()},
        "cases": cases,
        "adjust": adjustment_cases(computed_p),
    }
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(fixture, indent=1, allow_nan=False) + "\n")
    print(f"wrote {OUT}: {len(cases)} cases, {len(fixture['adjust'])} p-value families")


if __name__ == "__main__":
    main()
