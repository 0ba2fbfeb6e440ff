//! Compiling a raw pipeline into a `Plan`: every value checked, every reference resolved, all
//! mistakes collected before any data is read. Reads nothing but the pipeline file; checking the
//! plan against the real exports is `ingest::preflight`.

use std::path::{Path, PathBuf};

use toml::Spanned;

use super::raw::{RawCheck, RawColumn, RawPipeline, RawSource};
use super::{SpecError, SpecErrors};
use crate::base::period::Grain;
use crate::base::text::closest;
use crate::base::vocab::Vocabulary;
use crate::spec::plan::*;

/// `a/b/../c` → `a/c`, lexically, so paths read the way the user would write them.
pub(crate) fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for part in path.components() {
        match part {
            std::path::Component::ParentDir if matches!(out.components().next_back(), Some(std::path::Component::Normal(_))) => {
                out.pop();
            }
            std::path::Component::CurDir => {}
            other => out.push(other),
        }
    }
    out
}

fn err(errors: &mut Vec<SpecError>, span: Option<std::ops::Range<usize>>, message: impl Into<String>) {
    errors.push(SpecError { span, message: message.into() });
}

fn is_snake_case(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_lowercase()) && name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

/// Loads and compiles a pipeline file; all spec errors at once.
pub(crate) fn compile_file(path: &Path) -> Result<Plan, SpecErrors> {
    let (text, raw) = super::load(path)?;
    let base = path.parent().map(Path::to_path_buf).unwrap_or_default();
    compile(&raw, &text, path, &base).map_err(|errors| SpecErrors { path: path.to_path_buf(), text, errors })
}

/// Compiles the raw model; `base` is the folder relative paths start from.
pub fn compile(raw: &RawPipeline, text: &str, spec_path: &Path, base: &Path) -> Result<Plan, Vec<SpecError>> {
    let mut errors = Vec::new();
    let job = &raw.pipeline;
    if !is_snake_case(job.name.get_ref()) {
        err(&mut errors, Some(job.name.span()), format!("name '{}' must be ASCII snake_case (a-z, 0-9, _)", job.name.get_ref()));
    }
    let grain = compile_grain(raw, &mut errors);
    let utc_offset_minutes = compile_utc_offset(raw, &mut errors);
    let date_window = compile_date_window(job.date_window.as_ref(), utc_offset_minutes, &mut errors);
    let sources: Vec<SourcePlan> = raw.sources.iter().map(|(name, source)| compile_source(name, source, base, grain, &mut errors)).collect();
    let (stations, aliases) = compile_reference_sources(raw, &sources, &mut errors);
    let identity = compile_identity(raw, stations.map(|i| &sources[i]), &mut errors);
    let attributes = compile_attributes(raw, stations.map(|i| &sources[i]), &mut errors);
    let station_columns: Vec<(String, ColumnType)> =
        stations.map(|i| sources[i].columns.iter().map(|c| (c.name.clone(), c.kind)).collect()).unwrap_or_default();
    let mut seen_names: Vec<String> = attributes.iter().map(|a| a.name.clone()).collect();
    let indicators =
        raw.indicators.iter().map(|(n, m)| compile_measure(n, m, true, &sources, &station_columns, &mut seen_names, &mut errors)).collect::<Vec<_>>();
    let features = raw.features.iter().map(|(n, m)| compile_measure(n, m, false, &sources, &station_columns, &mut seen_names, &mut errors)).collect::<Vec<_>>();
    let lags = compile_lags(raw, &mut errors);
    let analysis = compile_analysis(raw, &attributes, &mut errors);
    check_names(raw, &mut errors);
    check_shared_headers(raw, &mut errors);
    check_lags(raw, &mut errors);
    check_formulas(raw, &mut errors);
    check_bounds(raw, &mut errors);
    let output_dir = normalize(&base.join(raw.output.dir.get_ref()));
    super::output_dir::check_lexical(
        raw.output.dir.get_ref(),
        raw.output.dir.span(),
        &output_dir,
        &super::output_dir::inputs(&sources, spec_path),
        &mut errors,
    );
    if !errors.is_empty() {
        return Err(errors);
    }
    Ok(Plan {
        analysis,
        identity,
        attributes,
        indicators: indicators.into_iter().flatten().collect(),
        features: features.into_iter().flatten().collect(),
        lags,
        name: job.name.get_ref().clone(),
        title: job.title.clone().unwrap_or_else(|| job.name.get_ref().clone()),
        spec_path: spec_path.to_path_buf(),
        spec_sha256: crate::base::digest::sha256_hex(text.as_bytes()),
        spec_text: text.to_string(),
        grain,
        utc_offset_minutes,
        date_window,
        sources,
        stations: stations.unwrap(),
        aliases,
        output_dir,
        output_span: Some(raw.output.dir.span()),
    })
}

fn compile_grain(raw: &RawPipeline, errors: &mut Vec<SpecError>) -> Grain {
    let period = &raw.pipeline.period;
    Grain::parse(period.get_ref()).unwrap_or_else(|| {
        err(errors, Some(period.span()), format!("period '{}' is not supported; expected {}", period.get_ref(), Grain::expected(true)));
        Grain::Quarter
    })
}

/// Minutes east of UTC the exports' local times are in (default +08:00, Beijing time).
fn compile_utc_offset(raw: &RawPipeline, errors: &mut Vec<SpecError>) -> i32 {
    match &raw.pipeline.utc_offset {
        None => 480,
        Some(s) => crate::base::calendar::utc_offset_minutes(s.get_ref()).unwrap_or_else(|| {
            err(errors, Some(s.span()), format!("utc_offset '{}' is not an offset like \"+08:00\"", s.get_ref()));
            480
        }),
    }
}

/// The station master and the alias table: declared sources, with the columns identity needs.
fn compile_reference_sources(raw: &RawPipeline, sources: &[SourcePlan], errors: &mut Vec<SpecError>) -> (Option<usize>, Option<usize>) {
    let job = &raw.pipeline;
    let find = |wanted: &Spanned<String>, role: &str, errors: &mut Vec<SpecError>| -> Option<usize> {
        let found = sources.iter().position(|s| &s.name == wanted.get_ref());
        if found.is_none() {
            let hint = closest(wanted.get_ref(), sources.iter().map(|s| s.name.as_str())).map(|c| format!("; did you mean '{c}'?")).unwrap_or_default();
            err(errors, Some(wanted.span()), format!("{role} names source '{}', which is not declared under [sources]{hint}", wanted.get_ref()));
        }
        found
    };
    let stations = find(&job.stations, "stations", errors);
    let aliases = job.aliases.as_ref().and_then(|a| find(a, "aliases", errors));
    if let Some(i) = stations {
        let s = &sources[i];
        for needed in ["station_code", "station_name"] {
            if s.column(needed).is_none() {
                err(errors, Some(job.stations.span()), format!("the station master '{}' must declare a column '{needed}'", s.name));
            }
        }
    }
    if let Some(i) = aliases {
        let s = &sources[i];
        for needed in ["spelling", "station_code"] {
            if s.column(needed).is_none() {
                err(errors, job.aliases.as_ref().map(|a| a.span()), format!("the alias table '{}' must declare a column '{needed}'", s.name));
            }
        }
    }
    (stations, aliases)
}

/// `[panel] lags` (default [0, 1]), each 0 to 8 periods.
fn compile_lags(raw: &RawPipeline, errors: &mut Vec<SpecError>) -> Vec<i64> {
    match &raw.panel.lags {
        None => vec![0, 1],
        Some(list) => list
            .iter()
            .map(|l| {
                if !(0..=8).contains(l.get_ref()) {
                    err(errors, Some(l.span()), format!("lag {} is out of range; expected 0 to 8 periods", l.get_ref()));
                }
                *l.get_ref()
            })
            .collect(),
    }
}

/// The date window: `from` (default 2000-01) … `to` (default the run date + 1 year), as local
/// days of the run date in the exports' time zone.
fn compile_date_window(raw: Option<&super::raw::RawDateWindow>, utc_offset_minutes: i32, errors: &mut Vec<SpecError>) -> DateWindow {
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or(0);
    let today = (now + i64::from(utc_offset_minutes) * 60).div_euclid(86_400) as i32;
    let mut bound = |given: Option<&Spanned<String>>, default: &str, is_end: bool| -> i32 {
        let text = given.map(|g| g.get_ref().as_str()).unwrap_or(default);
        window_bound(text, today, is_end).unwrap_or_else(|| {
            let span = given.map(|g| g.span());
            err(errors, span, format!("date_window bound '{text}' is not a year, month or day (\"2000\", \"2000-01\", \"2000-01-31\") or an offset from the run date (\"+1y\", \"-6m\", \"+30d\", \"today\")"));
            if is_end { i32::MAX } else { i32::MIN }
        })
    };
    let from = bound(raw.and_then(|w| w.from.as_ref()), "2000-01", false);
    let to = bound(raw.and_then(|w| w.to.as_ref()), "+1y", true);
    if from > to {
        let span = raw.and_then(|w| w.to.as_ref().or(w.from.as_ref())).map(|s| s.span());
        err(errors, span, "date_window: 'from' is after 'to'");
    }
    DateWindow { from, to }
}

/// One bound of the date window as days since 1970-01-01: the first day of a year, month or day
/// for a start, its last day for an end; offsets count from `today` (months keep the day of the
/// month where it exists).
pub(crate) fn window_bound(text: &str, today: i32, is_end: bool) -> Option<i32> {
    use crate::base::calendar::{civil_from_days, days_from_civil, days_in_month};
    let text = text.trim();
    if text == "today" {
        return Some(today);
    }
    if let Some(sign) = text.chars().next().filter(|c| *c == '+' || *c == '-') {
        let unit = text.chars().last()?;
        let digits = text.get(1..text.len() - unit.len_utf8())?;
        let n: i32 = digits.parse().ok().filter(|_| !digits.starts_with(['+', '-']))?;
        let n = if sign == '-' { -n } else { n };
        let (y, m, d) = civil_from_days(today);
        let months = match unit {
            'y' => n.checked_mul(12)?,
            'm' => n,
            'd' => return today.checked_add(n).filter(|d| (days_from_civil(1, 1, 1)..=days_from_civil(9999, 12, 31)).contains(d)),
            _ => return None,
        };
        let index = (y * 12 + m as i32 - 1).checked_add(months)?;
        let (y, m) = (index.div_euclid(12), index.rem_euclid(12) as u32 + 1);
        if !(1..=9999).contains(&y) {
            return None;
        }
        return Some(days_from_civil(y, m, d.min(days_in_month(y, m))));
    }
    let parts: Vec<&str> = text.split('-').collect();
    let number = |s: &str, len: usize| (s.len() == len && s.bytes().all(|b| b.is_ascii_digit())).then(|| s.parse::<u32>().ok()).flatten();
    let year = number(parts.first()?, 4)? as i32;
    match parts.len() {
        1 => Some(if is_end { days_from_civil(year, 12, 31) } else { days_from_civil(year, 1, 1) }),
        2 | 3 => {
            let month = number(parts[1], 2).filter(|m| (1..=12).contains(m))?;
            if parts.len() == 2 {
                return Some(days_from_civil(year, month, if is_end { days_in_month(year, month) } else { 1 }));
            }
            let day = number(parts[2], 2).filter(|d| (1..=days_in_month(year, month)).contains(d))?;
            Some(days_from_civil(year, month, day))
        }
        _ => None,
    }
}

fn compile_identity(raw: &RawPipeline, stations: Option<&SourcePlan>, errors: &mut Vec<SpecError>) -> Identity {
    let r = &raw.identity;
    if let (Some(column), Some(stations)) = (&r.county_column, stations) {
        if stations.column(column.get_ref()).is_none() {
            let hint =
                closest(column.get_ref(), stations.columns.iter().map(|c| c.name.as_str())).map(|c| format!("; did you mean '{c}'?")).unwrap_or_default();
            err(errors, Some(column.span()), format!("county_column '{}' is not a column of the station master '{}'{hint}", column.get_ref(), stations.name));
        }
    }
    let or_default = |list: &Option<Spanned<Vec<String>>>, default: &[&str]| match list {
        Some(words) => words.get_ref().clone(),
        None => default.iter().map(|w| w.to_string()).collect(),
    };
    // An empty word would strip nothing, forever.
    let lists: [(&str, &[String], Option<std::ops::Range<usize>>); 7] = [
        ("strip_prefixes", &r.strip_prefixes, None),
        ("strip_suffixes", &r.strip_suffixes, None),
        ("county_short_names", &r.county_short_names, None),
        ("township_words", &r.township_words, None),
        ("company_prefixes", r.company_prefixes.as_ref().map_or(&[], |w| w.get_ref()), r.company_prefixes.as_ref().map(|w| w.span())),
        ("company_words", r.company_words.as_ref().map_or(&[], |w| w.get_ref()), r.company_words.as_ref().map(|w| w.span())),
        ("ethnic_names", r.ethnic_names.as_ref().map_or(&[], |w| w.get_ref()), r.ethnic_names.as_ref().map(|w| w.span())),
    ];
    for (key, words, span) in lists {
        if words.iter().any(|w| w.trim().is_empty()) {
            err(errors, span, format!("[identity] {key} holds an empty word; remove it (each word needs at least one character)"));
        }
    }
    if r.unit_word.as_ref().is_some_and(|w| w.trim().is_empty()) {
        err(errors, None, "[identity] unit_word is empty; write the word that ends a station name, e.g. \"供电所\"");
    }
    Identity {
        strip_prefixes: r.strip_prefixes.clone(),
        strip_suffixes: r.strip_suffixes.clone(),
        county_column: r.county_column.as_ref().map(|c| c.get_ref().clone()),
        county_short_names: r.county_short_names.clone(),
        township_words: r.township_words.clone(),
        unit_word: r.unit_word.clone(),
        company_prefixes: or_default(&r.company_prefixes, &Identity::COMPANY_PREFIXES),
        company_words: or_default(&r.company_words, &Identity::COMPANY_WORDS),
        ethnic_names: or_default(&r.ethnic_names, &Identity::ETHNIC_NAMES),
    }
}

/// Checks that a SQL expression parses and uses only `allowed` columns.
fn check_sql(errors: &mut Vec<SpecError>, expr: &Spanned<String>, what: &str, allowed: &[String]) {
    match crate::spec::dialect::parse(expr.get_ref()) {
        Ok(_) => {
            let mut seen: Vec<String> = Vec::new();
            for used in crate::spec::dialect::columns(expr.get_ref()) {
                if !allowed.iter().any(|a| *a == used) && !seen.contains(&used) {
                    let hint = closest(&used, allowed.iter().map(String::as_str)).map(|c| format!("; did you mean '{c}'?")).unwrap_or_default();
                    err(errors, Some(expr.span()), format!("{what} '{}' uses '{used}', which is not available here{hint}", expr.get_ref()));
                    seen.push(used);
                }
            }
        }
        Err(e) => err(errors, Some(expr.span()), format!("{what} '{}': {e}", expr.get_ref())),
    }
}

fn compile_analysis(raw: &RawPipeline, attributes: &[Attribute], errors: &mut Vec<SpecError>) -> Analysis {
    use crate::stats::{Adjust, Method, Scope};
    let a = &raw.analysis;
    let methods = match &a.methods {
        None => vec![Method::Pearson, Method::Spearman],
        Some(list) => list
            .iter()
            .filter_map(|m| {
                let method = Method::parse(m.get_ref());
                if method.is_none() {
                    err(errors, Some(m.span()), format!("method '{}' is unknown; expected {}", m.get_ref(), Method::expected(false)));
                }
                method
            })
            .collect(),
    };
    let scopes = match &a.scopes {
        None => vec![Scope::Pooled, Scope::Within, Scope::Between],
        Some(list) => list
            .iter()
            .filter_map(|m| {
                let scope = Scope::parse(m.get_ref());
                if scope.is_none() {
                    err(errors, Some(m.span()), format!("scope '{}' is unknown; expected {}", m.get_ref(), Scope::expected(false)));
                }
                scope
            })
            .collect(),
    };
    for c in &a.controls {
        if !attributes.iter().any(|x| &x.name == c.get_ref()) {
            let hint = closest(c.get_ref(), attributes.iter().map(|x| x.name.as_str())).map(|x| format!("; did you mean '{x}'?")).unwrap_or_default();
            err(errors, Some(c.span()), format!("control '{}' is not a declared attribute{hint}", c.get_ref()));
        }
    }
    let adjust = match &a.adjust {
        None => Adjust::FdrBh,
        Some(x) => Adjust::parse(x.get_ref()).unwrap_or_else(|| {
            err(errors, Some(x.span()), format!("adjust '{}' is unknown; expected {}", x.get_ref(), Adjust::expected(false)));
            Adjust::FdrBh
        }),
    };
    let family_all = match a.family.as_ref().map(|x| x.get_ref().as_str()) {
        None | Some("scope_method") => false,
        Some("all") => true,
        Some(other) => {
            err(errors, a.family.as_ref().map(|x| x.span()), format!("family '{other}' is unknown; expected scope_method or all"));
            false
        }
    };
    let confidence = match &a.confidence {
        None => 0.95,
        Some(c) if *c.get_ref() > 0.5 && *c.get_ref() < 1.0 => *c.get_ref(),
        Some(c) => {
            err(errors, Some(c.span()), "confidence is a level between 0.5 and 1, e.g. 0.95");
            0.95
        }
    };
    Analysis {
        methods,
        scopes,
        controls: a.controls.iter().map(|c| c.get_ref().clone()).collect(),
        adjust,
        family_all,
        confidence,
        bootstrap: a
            .bootstrap_replicates
            .as_ref()
            .map(|n| *n.get_ref())
            .filter(|n| *n > 0)
            .map(|replicates| crate::stats::BootstrapOptions { replicates, seed: a.bootstrap_seed.unwrap_or(20_201_231) }),
        min_observations: a.min_observations.unwrap_or(10).max(4),
    }
}

fn compile_attributes(raw: &RawPipeline, stations: Option<&SourcePlan>, errors: &mut Vec<SpecError>) -> Vec<Attribute> {
    let columns: Vec<String> = stations.map(|s| s.columns.iter().map(|c| c.name.clone()).collect()).unwrap_or_default();
    raw.attributes
        .iter()
        .map(|(name, a)| {
            if !is_snake_case(name.get_ref()) {
                err(errors, Some(name.span()), format!("attribute name '{}' must be ASCII snake_case", name.get_ref()));
            }
            check_sql(errors, &a.formula, "attribute", &columns);
            check_attribute(errors, &a.formula, stations, &format!("attribute '{}'", name.get_ref()));
            Attribute { name: name.get_ref().clone(), label: a.label.clone().unwrap_or_else(|| name.get_ref().clone()), formula: a.formula.get_ref().clone() }
        })
        .collect()
}

/// Reports an attribute outside the subset (one number per row of the station master, no
/// aggregate) or mixing kinds, located at the formula. One that does not parse or reads an
/// unknown column is left to `check_sql`.
fn check_attribute(errors: &mut Vec<SpecError>, formula: &Spanned<String>, stations: Option<&SourcePlan>, what: &str) {
    use crate::spec::dialect::{self, Kind, Role};
    let text = formula.get_ref();
    let Some(stations) = stations else { return };
    if dialect::parse(text).is_err() || dialect::columns(text).iter().any(|c| stations.column(c).is_none()) {
        return;
    }
    let kind_of = |name: &str| stations.column(name).map_or(Kind::Any, |c| Kind::of(c.kind));
    if let Err(problem) = dialect::check(text, Role::Attribute).and_then(|()| dialect::check_types(text, Role::Attribute, &kind_of)) {
        err(errors, Some(formula.span()), format!("{what}: '{text}': {problem}"));
    }
}

fn compile_measure(
    name: &Spanned<String>,
    raw: &super::raw::RawMeasure,
    indicator: bool,
    sources: &[SourcePlan],
    station_kinds: &[(String, ColumnType)],
    seen: &mut Vec<String>,
    errors: &mut Vec<SpecError>,
) -> Option<Measure> {
    let what = if indicator { "indicator" } else { "feature" };
    let station_columns: Vec<String> = station_kinds.iter().map(|(n, _)| n.clone()).collect();
    if !is_snake_case(name.get_ref()) {
        err(errors, Some(name.span()), format!("{what} name '{}' must be ASCII snake_case (it is a column name in the panel)", name.get_ref()));
    }
    if seen.contains(name.get_ref()) {
        err(errors, Some(name.span()), format!("'{}' is declared twice among attributes, indicators and features", name.get_ref()));
    }
    seen.push(name.get_ref().clone());
    let better = match (indicator, &raw.better) {
        (true, None) => {
            err(errors, Some(name.span()), format!("indicator '{}' needs better = {}", name.get_ref(), Better::expected(true)));
            None
        }
        (true, Some(b)) => {
            let better = Better::parse(b.get_ref());
            if better.is_none() {
                err(errors, Some(b.span()), format!("better '{}' is unknown; expected {}", b.get_ref(), Better::expected(true)));
            }
            better
        }
        (false, Some(b)) => {
            err(errors, Some(b.span()), "better applies to indicators only");
            None
        }
        (false, None) => None,
    };
    let Some(source_index) = sources.iter().position(|s| &s.name == raw.source.get_ref()) else {
        let hint = closest(raw.source.get_ref(), sources.iter().map(|s| s.name.as_str())).map(|c| format!("; did you mean '{c}'?")).unwrap_or_default();
        err(errors, Some(raw.source.span()), format!("{what} '{}' reads source '{}', which is not declared{hint}", name.get_ref(), raw.source.get_ref()));
        return None;
    };
    let source = &sources[source_index];
    if source.station.is_none() || source.period.is_none() {
        err(errors, Some(raw.source.span()), format!("source '{}' needs both station and period to feed a {what}", source.name));
    }
    let mut row_columns: Vec<String> = source.columns.iter().map(|c| c.name.clone()).collect();
    row_columns.extend(station_columns.iter().filter(|c| !row_columns.contains(c)).cloned().collect::<Vec<_>>());
    row_columns.push("period_hours".into());
    row_columns.push("period_months".into());
    let interval = raw.interval.as_ref().map(|i| {
        for c in [&i.start, &i.end] {
            if source.column(c.get_ref()).map(|col| col.kind) != Some(ColumnType::Timestamp) {
                err(errors, Some(c.span()), format!("interval column '{}' must be a timestamp column of source '{}'", c.get_ref(), source.name));
            }
        }
        row_columns.push("overlap_hours".into());
        (i.start.get_ref().clone(), i.end.get_ref().clone())
    });
    if let Some(f) = &raw.filter {
        check_sql(errors, f, "filter", &row_columns);
    }
    let pre_aggregate = raw.pre_aggregate.as_ref().map(|p| {
        for b in &p.by {
            if !row_columns.contains(b.get_ref()) {
                err(errors, Some(b.span()), format!("pre_aggregate by '{}' is not a column of source '{}'", b.get_ref(), source.name));
            }
            // Rows without a value would be pooled into one group of their own (one "台区" made of
            // every row that names none): the column must be declared not_null, so that such rows
            // are quarantined with their line instead. The period column never lacks a value.
            let nullable = source.column(b.get_ref()).is_some_and(|c| !c.not_null && c.derived.is_none());
            if nullable && source.period.as_deref() != Some(b.get_ref().as_str()) {
                err(
                    errors,
                    Some(b.span()),
                    format!(
                        "分组列须声明 not_null · pre_aggregate by '{0}' must be declared not_null in source '{1}' (columns.{0} = {{ …, not_null = true }}): rows without it would be pooled into one group",
                        b.get_ref(),
                        source.name
                    ),
                );
            }
        }
        for expr in p.columns.values() {
            check_sql(errors, expr, "pre_aggregate column", &row_columns);
        }
        let mut group_columns: Vec<String> = p.by.iter().map(|b| b.get_ref().clone()).collect();
        group_columns.extend(p.columns.keys().map(|k| k.get_ref().clone()));
        group_columns.extend(station_columns.iter().cloned());
        group_columns.push("period_hours".into());
        group_columns.push("period_months".into());
        row_columns = group_columns;
        (p.by.iter().map(|b| b.get_ref().clone()).collect(), p.columns.iter().map(|(k, v)| (k.get_ref().clone(), v.get_ref().clone())).collect())
    });
    check_sql(errors, &raw.formula, "formula", &row_columns);
    check_measure_types(errors, raw, source, station_kinds, &format!("{what} '{}'", name.get_ref()));
    Some(Measure {
        name: name.get_ref().clone(),
        label: raw.label.clone().unwrap_or_else(|| name.get_ref().clone()),
        label_en: raw.label_en.clone().or_else(|| raw.label.clone()).unwrap_or_else(|| name.get_ref().clone()),
        better,
        source: source_index,
        formula: raw.formula.get_ref().clone(),
        filter: raw.filter.as_ref().map(|f| f.get_ref().clone()),
        pre_aggregate,
        interval,
        fill: raw.fill,
    })
}

fn compile_source(name: &Spanned<String>, raw: &RawSource, base: &Path, grain: Grain, errors: &mut Vec<SpecError>) -> SourcePlan {
    if !is_snake_case(name.get_ref()) {
        err(errors, Some(name.span()), format!("source name '{}' must be ASCII snake_case (it names the curated table)", name.get_ref()));
    }
    let pattern = normalize(&base.join(raw.path.get_ref())).to_string_lossy().into_owned();
    let format = compile_format(raw, &pattern, errors);
    let encoding = compile_encoding(raw, format, errors);
    let header_row = compile_header_row(raw, errors);
    let columns: Vec<ColumnPlan> = raw.columns.iter().map(|(col_name, col)| compile_column(col_name, col, errors)).collect();
    let period = compile_period_column(raw, &columns, name.get_ref(), grain, errors);
    let station = compile_station(raw, &columns, name.get_ref(), errors);
    let checks = raw.checks.iter().map(|c| compile_check(c, &columns, name.get_ref(), errors)).collect();
    let max_reject_share = compile_max_reject_share(raw, errors);
    let max_unmatched_share = compile_max_unmatched_share(raw, station.is_some(), name.get_ref(), errors);
    let duplicates = compile_duplicates(name, raw, &columns, errors);
    SourcePlan {
        name: name.get_ref().clone(),
        title: raw.title.clone().unwrap_or_else(|| name.get_ref().clone()),
        pattern,
        pattern_span: Some(raw.path.span()),
        format,
        encoding,
        sheets: raw.sheets.as_ref().map(|s| s.iter().map(|x| x.get_ref().clone()).collect()),
        header_row,
        drop_rows: raw
            .drop_rows
            .iter()
            .map(|d| DropRule { header: d.header.get_ref().clone(), header_span: Some(d.header.span()), starts_with: d.starts_with.clone() })
            .collect(),
        columns,
        station,
        period,
        checks,
        max_reject_share,
        max_unmatched_share,
        duplicates,
    }
}

/// `format`, or the one the path's extension says.
fn compile_format(raw: &RawSource, pattern: &str, errors: &mut Vec<SpecError>) -> Format {
    match raw.format.as_ref().map(|f| f.get_ref().as_str()) {
        Some("csv") => Format::Csv,
        Some("xlsx") => Format::Xlsx,
        Some(other) => {
            err(errors, raw.format.as_ref().map(|f| f.span()), format!("format '{other}' is not supported; expected \"csv\" or \"xlsx\""));
            Format::Csv
        }
        None if pattern.to_ascii_lowercase().ends_with(".xlsx") => Format::Xlsx,
        None if pattern.to_ascii_lowercase().ends_with(".csv") => Format::Csv,
        None => {
            err(errors, Some(raw.path.span()), "cannot tell the format from the path; add format = \"csv\" or \"xlsx\"");
            Format::Csv
        }
    }
}

fn compile_encoding(raw: &RawSource, format: Format, errors: &mut Vec<SpecError>) -> Encoding {
    let encoding = match &raw.encoding {
        None => Encoding::Auto,
        Some(e) => Encoding::parse(e.get_ref()).unwrap_or_else(|| {
            err(errors, Some(e.span()), format!("encoding '{}' is not supported; expected utf-8, utf-8-bom, gbk, gb18030 or auto", e.get_ref()));
            Encoding::Auto
        }),
    };
    if format == Format::Xlsx && raw.encoding.is_some() {
        err(errors, raw.encoding.as_ref().map(|e| e.span()), "encoding applies to CSV files only; XLSX files carry their own");
    }
    encoding
}

/// The header line, counted from 0 (the file counts from 1).
fn compile_header_row(raw: &RawSource, errors: &mut Vec<SpecError>) -> usize {
    match &raw.header_row {
        None => 0,
        Some(h) if *h.get_ref() >= 1 => h.get_ref() - 1,
        Some(h) => {
            err(errors, Some(h.span()), "header_row counts from 1");
            0
        }
    }
}

/// `duplicates = "exact" | "keep" | { key = [...] }`; key columns must be columns of the source.
fn compile_duplicates(name: &Spanned<String>, raw: &RawSource, columns: &[ColumnPlan], errors: &mut Vec<SpecError>) -> DuplicatePolicy {
    use super::raw::RawDuplicates;
    let Some(d) = &raw.duplicates else { return DuplicatePolicy::Exact };
    match d.get_ref() {
        RawDuplicates::Word(w) if w == "exact" => DuplicatePolicy::Exact,
        RawDuplicates::Word(w) if w == "keep" => DuplicatePolicy::Keep,
        RawDuplicates::Word(w) => {
            err(errors, Some(d.span()), format!("duplicates '{w}' is unknown; expected \"exact\", \"keep\" or {{ key = [\"column\", …] }}"));
            DuplicatePolicy::Exact
        }
        RawDuplicates::Key { key } => {
            if key.is_empty() {
                err(errors, Some(d.span()), "duplicates key lists no column; name the columns that identify a record, e.g. { key = [\"order_id\"] }");
            }
            for k in key {
                if !columns.iter().any(|c| &c.name == k) {
                    let hint = closest(k, columns.iter().map(|c| c.name.as_str())).map(|c| format!("; did you mean '{c}'?")).unwrap_or_default();
                    err(errors, Some(d.span()), format!("duplicates key '{k}' is not a column of source '{}'{hint}", name.get_ref()));
                }
            }
            DuplicatePolicy::Key(key.clone())
        }
    }
}

/// Where a column's value comes from when it is not one header's cell: `from` + `pattern`
/// (with cells for the parts the pattern does not capture), or `date` + `time`. Every
/// A value from the file's name, folder, title line or sheet (`from` + `pattern`), with cells
/// for the parts the pattern does not capture.
fn compile_path_value(
    col_name: &Spanned<String>,
    from: &Spanned<String>,
    pattern: &Spanned<String>,
    parts: &[(DatePart, &Option<Spanned<String>>)],
    kind: ColumnType,
    errors: &mut Vec<SpecError>,
) -> Option<Derived> {
    let name = col_name.get_ref();
    let from_text = PathText::parse(from.get_ref()).or_else(|| {
        err(errors, Some(from.span()), format!("from '{}' is unknown; expected file_name, folder_name, title_line or sheet_name", from.get_ref()));
        None
    });
    if !matches!(kind, ColumnType::Month | ColumnType::Quarter | ColumnType::Date) {
        err(errors, Some(col_name.span()), format!("column '{name}' takes its value from the {}: its type must be month, quarter or date", from.get_ref()));
    }
    let regex = match regex::Regex::new(pattern.get_ref()) {
        Ok(r) => Some(r),
        Err(e) => {
            err(errors, Some(pattern.span()), format!("pattern of column '{name}' is not a valid regular expression: {e}"));
            None
        }
    };
    let captured: Vec<String> = regex.as_ref().map(|r| r.capture_names().flatten().map(str::to_string).collect()).unwrap_or_default();
    for c in &captured {
        if !DatePart::ALL.iter().any(|p| p.name() == c) {
            err(errors, Some(pattern.span()), format!("pattern of column '{name}' names a part '{c}'; parts are year, month, quarter and day"));
        }
    }
    let mut cells = Vec::new();
    for (part, header) in parts {
        if let Some(h) = header {
            if captured.iter().any(|c| c == part.name()) {
                err(
                    errors,
                    Some(h.span()),
                    format!("column '{name}': the pattern already captures the {}; drop {} = \"{}\"", part.name(), part.name(), h.get_ref()),
                );
            }
            cells.push((*part, h.get_ref().clone()));
        }
    }
    let has = |p: DatePart| captured.iter().any(|c| c == p.name()) || cells.iter().any(|(q, _)| *q == p);
    let needed: &[DatePart] = match kind {
        ColumnType::Month => &[DatePart::Year, DatePart::Month],
        ColumnType::Date => &[DatePart::Year, DatePart::Month, DatePart::Day],
        _ => &[DatePart::Year],
    };
    for p in needed {
        if !has(*p) && regex.is_some() {
            err(
                errors,
                Some(pattern.span()),
                format!("column '{name}' needs the {0}: capture it with (?P<{0}>…) or name the cell that holds it, {0} = \"<header>\"", p.name()),
            );
        }
    }
    if kind == ColumnType::Quarter && regex.is_some() && !has(DatePart::Quarter) && !has(DatePart::Month) {
        err(
            errors,
            Some(pattern.span()),
            format!("column '{name}' needs the quarter (or month): capture it with (?P<quarter>…) or name the cell that holds it"),
        );
    }
    Some(Derived::Path { from: from_text?, pattern: regex?, cells })
}

/// combination that cannot work is an error here.
fn compile_derived(col_name: &Spanned<String>, col: &super::raw::RawColumn, kind: ColumnType, errors: &mut Vec<SpecError>) -> Option<Derived> {
    let name = col_name.get_ref();
    let parts = [(DatePart::Year, &col.year), (DatePart::Month, &col.month), (DatePart::Quarter, &col.quarter), (DatePart::Day, &col.day)];
    let any_part = parts.iter().find_map(|(_, p)| p.as_ref());
    match (&col.header, &col.from, &col.pattern, &col.date, &col.time) {
        (Some(_), None, None, None, None) => {
            if let Some(p) = any_part {
                err(
                    errors,
                    Some(p.span()),
                    format!("column '{name}': year/month/quarter/day cells complete a value taken with `from`; add from and pattern, or drop them"),
                );
            }
            None
        }
        (None, Some(from), Some(pattern), None, None) => compile_path_value(col_name, from, pattern, &parts, kind, errors),
        (None, None, None, Some(date), Some(time)) => {
            if kind != ColumnType::Timestamp {
                err(errors, Some(col_name.span()), format!("column '{name}': date + time make a timestamp; set type = \"timestamp\""));
            }
            if let Some(p) = any_part {
                err(errors, Some(p.span()), format!("column '{name}': year/month/quarter/day apply with from + pattern only"));
            }
            Some(Derived::DateTime { date: date.get_ref().clone(), time: time.get_ref().clone() })
        }
        (None, None, None, None, None) => {
            err(
                errors,
                Some(col_name.span()),
                format!("column '{name}' says nowhere where its value comes from: give header = \"<export header>\", from + pattern, or date + time"),
            );
            None
        }
        (None, Some(x), None, _, _) | (None, None, Some(x), _, _) => {
            err(
                errors,
                Some(x.span()),
                format!("column '{name}': from and pattern go together (from = \"file_name\", pattern = '(?P<year>\\d{{4}})年(?P<month>\\d{{2}})月')"),
            );
            None
        }
        (None, None, None, Some(x), None) | (None, None, None, None, Some(x)) => {
            err(errors, Some(x.span()), format!("column '{name}': date and time go together (date = \"<date header>\", time = \"<time header>\")"));
            None
        }
        _ => {
            err(errors, Some(col_name.span()), format!("column '{name}' comes from one place only: header, from + pattern, or date + time"));
            None
        }
    }
}

fn compile_column(col_name: &Spanned<String>, col: &RawColumn, errors: &mut Vec<SpecError>) -> ColumnPlan {
    if !is_snake_case(col_name.get_ref()) {
        err(
            errors,
            Some(col_name.span()),
            format!("column name '{}' must be ASCII snake_case (it is the column name in the output files)", col_name.get_ref()),
        );
    }
    let kind = match &col.kind {
        None => ColumnType::Text,
        Some(k) => ColumnType::parse(k.get_ref()).unwrap_or_else(|| {
            err(errors, Some(k.span()), format!("type '{}' is unknown; expected text, integer, number, month, quarter, date or timestamp", k.get_ref()));
            ColumnType::Text
        }),
    };
    if let Some(f) = &col.format {
        if !matches!(kind, ColumnType::Month | ColumnType::Date | ColumnType::Timestamp) {
            err(errors, Some(f.span()), "format applies to month, date and timestamp columns only");
        } else if !f.get_ref().contains("yyyy") {
            err(errors, Some(f.span()), format!("format '{}' has no yyyy; write it like \"yyyy年MM月\" or \"yyyy/MM/dd HH:mm\"", f.get_ref()));
        }
    }
    let scaled = col.scale.is_some() || col.also.iter().any(|a| a.scale.is_some());
    if scaled && kind != ColumnType::Number {
        err(errors, Some(col_name.span()), format!("scale applies to number columns only, and '{}' is {:?}", col_name.get_ref(), kind));
    }
    let derived = compile_derived(col_name, col, kind, errors);
    let mut headers = Vec::new();
    if let Some(h) = &col.header {
        headers.push((h.get_ref().clone(), col.scale.unwrap_or(1.0)));
        headers.extend(col.also.iter().map(|a| (a.header.get_ref().clone(), a.scale.unwrap_or(1.0))));
    }
    ColumnPlan {
        name: col_name.get_ref().clone(),
        headers,
        header_span: Some(col.header.as_ref().map(|h| h.span()).unwrap_or_else(|| col_name.span())),
        kind,
        format: col.format.as_ref().map(|f| f.get_ref().clone()),
        required: col.required.unwrap_or(true),
        not_null: col.not_null.unwrap_or(false),
        derived,
    }
}

/// The type of a column the source declares; an error with the closest name if there is none.
fn known_column(columns: &[ColumnPlan], source: &str, wanted: &Spanned<String>, what: &str, errors: &mut Vec<SpecError>) -> Option<ColumnType> {
    let found = columns.iter().find(|c| &c.name == wanted.get_ref()).map(|c| c.kind);
    if found.is_none() {
        let hint = closest(wanted.get_ref(), columns.iter().map(|c| c.name.as_str())).map(|c| format!("; did you mean '{c}'?")).unwrap_or_default();
        err(errors, Some(wanted.span()), format!("{what} '{}' is not a column of source '{source}'{hint}", wanted.get_ref()));
    }
    found
}

fn compile_period_column(raw: &RawSource, columns: &[ColumnPlan], source: &str, grain: Grain, errors: &mut Vec<SpecError>) -> Option<String> {
    let p = raw.period.as_ref()?;
    let kind = known_column(columns, source, p, "period column", errors)?;
    if !kind.is_temporal() {
        err(errors, Some(p.span()), format!("period column '{}' must have type month, quarter, date or timestamp", p.get_ref()));
    } else if kind == ColumnType::Quarter && grain == Grain::Month {
        err(errors, Some(p.span()), format!("period column '{}' holds quarters, which cannot be split into the pipeline's months", p.get_ref()));
    }
    Some(p.get_ref().clone())
}

fn compile_station(raw: &RawSource, columns: &[ColumnPlan], source: &str, errors: &mut Vec<SpecError>) -> Option<(String, StationKey)> {
    match (&raw.station, &raw.station_key) {
        (Some(column), key) => {
            known_column(columns, source, column, "station column", errors);
            let key = match key.as_ref().map(|k| k.get_ref().as_str()) {
                Some("code") | None => StationKey::Code,
                Some("name") => StationKey::Name,
                Some("branch") => StationKey::Branch,
                Some(other) => {
                    err(errors, key.as_ref().map(|k| k.span()), format!("station_key '{other}' is unknown; expected code, name or branch"));
                    StationKey::Code
                }
            };
            Some((column.get_ref().clone(), key))
        }
        (None, Some(k)) => {
            err(errors, Some(k.span()), "station_key needs station = \"<column>\"");
            None
        }
        (None, None) => None,
    }
}

fn compile_check(c: &RawCheck, columns: &[ColumnPlan], source: &str, errors: &mut Vec<SpecError>) -> CheckPlan {
    let severity = match c.severity.as_ref().map(|s| s.get_ref().as_str()) {
        None | Some("reject") => Severity::Reject,
        Some("warn") => Severity::Warn,
        Some(other) => {
            err(errors, c.severity.as_ref().map(|s| s.span()), format!("severity '{other}' is unknown; expected reject or warn"));
            Severity::Reject
        }
    };
    use crate::spec::dialect::{self, Role};
    match dialect::parse(c.rule.get_ref()) {
        Ok(_) => {
            let mut unknown = false;
            let mut seen: Vec<String> = Vec::new();
            for used in dialect::columns(c.rule.get_ref()) {
                if !columns.iter().any(|col| col.name == used) && !seen.contains(&used) {
                    let hint = closest(&used, columns.iter().map(|c| c.name.as_str())).map(|c| format!("; did you mean '{c}'?")).unwrap_or_default();
                    err(errors, Some(c.rule.span()), format!("check '{}' uses '{used}', which is not a column of source '{source}'{hint}", c.rule.get_ref()));
                    seen.push(used);
                    unknown = true;
                }
            }
            let kind_of = |name: &str| columns.iter().find(|col| col.name == name).map_or(dialect::Kind::Any, |col| dialect::Kind::of(col.kind));
            let problem = dialect::check(c.rule.get_ref(), Role::Check)
                .err()
                .or_else(|| if unknown { None } else { dialect::check_types(c.rule.get_ref(), Role::Check, &kind_of).err() });
            if let Some(problem) = problem {
                err(errors, Some(c.rule.span()), format!("check '{}': {problem}", c.rule.get_ref()));
            }
        }
        Err(e) => err(errors, Some(c.rule.span()), format!("check '{}': {e}", c.rule.get_ref())),
    }
    CheckPlan { rule: c.rule.get_ref().clone(), severity, message: c.message.clone().unwrap_or_else(|| format!("check failed: {}", c.rule.get_ref())) }
}

fn compile_max_reject_share(raw: &RawSource, errors: &mut Vec<SpecError>) -> f64 {
    match &raw.max_reject_share {
        None => 0.05,
        Some(s) if (0.0..=1.0).contains(s.get_ref()) => *s.get_ref(),
        Some(s) => {
            err(errors, Some(s.span()), "max_reject_share is a share between 0 and 1");
            0.05
        }
    }
}

/// The share of a source's rows that may match no station before the run stops (default 0.05).
fn compile_max_unmatched_share(raw: &RawSource, has_station: bool, name: &str, errors: &mut Vec<SpecError>) -> f64 {
    match &raw.max_unmatched_share {
        None => 0.05,
        Some(s) if !has_station => {
            err(errors, Some(s.span()), format!("max_unmatched_share applies to sources with a station column, and source '{name}' has none"));
            0.05
        }
        Some(s) if (0.0..=1.0).contains(s.get_ref()) => *s.get_ref(),
        Some(s) => {
            err(errors, Some(s.span()), "max_unmatched_share is a share between 0 and 1");
            0.05
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::base::calendar::days_from_civil;

    #[test]
    fn date_window_bounds() {
        let today = days_from_civil(2021, 2, 28);
        assert_eq!(window_bound("2000-01", today, false), Some(days_from_civil(2000, 1, 1)));
        assert_eq!(window_bound("2000-02", today, true), Some(days_from_civil(2000, 2, 29)));
        assert_eq!(window_bound("2020", today, true), Some(days_from_civil(2020, 12, 31)));
        assert_eq!(window_bound("2020-06-15", today, false), Some(days_from_civil(2020, 6, 15)));
        assert_eq!(window_bound("+1y", today, true), Some(days_from_civil(2022, 2, 28)));
        assert_eq!(window_bound("-6m", today, false), Some(days_from_civil(2020, 8, 28)));
        assert_eq!(window_bound("+30d", today, true), Some(days_from_civil(2021, 3, 30)));
        assert_eq!(window_bound("today", today, true), Some(today));
        // 2024-02-29 + 1 year keeps the end of February.
        assert_eq!(window_bound("+1y", days_from_civil(2024, 2, 29), true), Some(days_from_civil(2025, 2, 28)));
        for bad in ["", "20", "2000-1", "2000-13", "2000-02-30", "+y", "+1w", "++1y", "1y", "+99999y", "+-1y", "-"] {
            assert_eq!(window_bound(bad, today, true), None, "{bad}");
        }
    }
}

/// Longest name of a source, column, attribute, indicator or feature: names become folder,
/// file and column names, which file systems and BI tools limit.
pub(crate) const MAX_NAME_CHARS: usize = 64;

/// Most bootstrap replicates: each one recomputes every correlation, so a few thousand are
/// plenty and a typo like 1000000000 would run for days.
pub(crate) const MAX_BOOTSTRAP_REPLICATES: usize = 100_000;

/// Names that become folder, file or column names are at most `MAX_NAME_CHARS` long (their
/// snake_case spelling is checked where they are compiled).
fn check_names(raw: &RawPipeline, errors: &mut Vec<SpecError>) {
    let mut names: Vec<(&str, &Spanned<String>)> = vec![("pipeline name", &raw.pipeline.name)];
    for (name, source) in &raw.sources {
        names.push(("source name", name));
        names.extend(source.columns.keys().map(|c| ("column name", c)));
    }
    names.extend(raw.attributes.keys().map(|n| ("attribute name", n)));
    names.extend(raw.indicators.keys().map(|n| ("indicator name", n)));
    names.extend(raw.features.keys().map(|n| ("feature name", n)));
    for (what, name) in names {
        let chars = name.get_ref().chars().count();
        if chars > MAX_NAME_CHARS {
            let shown: String = name.get_ref().chars().take(24).collect();
            err(
                errors,
                Some(name.span()),
                format!(
                    "{what} '{shown}…' 长 {chars} 个字符，最多 {MAX_NAME_CHARS} 个 · is {chars} characters long; names become folder, file and column names, keep them to {MAX_NAME_CHARS} characters (ASCII snake_case)"
                ),
            );
        }
    }
}

/// Within a source, one export header feeds one canonical column: two columns under one header
/// (directly or through `also`) would read the same cells twice (e.g. paid and billed both from
/// 应收, giving a recovery of 1.0 everywhere).
fn check_shared_headers(raw: &RawPipeline, errors: &mut Vec<SpecError>) {
    for (source, s) in &raw.sources {
        let mut seen: Vec<(&str, &str)> = Vec::new();
        for (column, c) in &s.columns {
            let mut own: Vec<&Spanned<String>> = c.header.iter().collect();
            own.extend(c.also.iter().map(|a| &a.header));
            for header in own {
                match seen.iter().find(|(h, col)| *h == header.get_ref().as_str() && *col != column.get_ref().as_str()) {
                    Some((_, first)) => err(
                        errors,
                        Some(header.span()),
                        format!(
                            "两列读取同一表头 · source '{}': columns '{first}' and '{}' both read the export header '{}'; each header feeds one column — correct the header of one of them",
                            source.get_ref(),
                            column.get_ref(),
                            header.get_ref()
                        ),
                    ),
                    None => seen.push((header.get_ref(), column.get_ref())),
                }
            }
        }
    }
}

/// Each lag once: a repeated lag would give the panel two columns of one name.
fn check_lags(raw: &RawPipeline, errors: &mut Vec<SpecError>) {
    let Some(lags) = &raw.panel.lags else { return };
    for (i, lag) in lags.iter().enumerate() {
        if lags[..i].iter().any(|earlier| earlier.get_ref() == lag.get_ref()) {
            err(errors, Some(lag.span()), format!("滞后期重复 · lag {} is listed twice; list each lag once, e.g. lags = [0, 1]", lag.get_ref()));
        }
    }
}

/// SQL functions that aggregate rows to one number.
const AGGREGATES: &[&str] = &[
    "avg",
    "corr",
    "count",
    "covar",
    "covar_pop",
    "covar_samp",
    "first",
    "last",
    "max",
    "median",
    "min",
    "quantile_cont",
    "quantile_disc",
    "stddev",
    "stddev_samp",
    "stdev",
    "stdev_samp",
    "sum",
    "total",
    "var",
    "var_samp",
    "variance",
];

/// Indicator, feature and pre-aggregate formulas give one value per group (station × period,
/// or finer), so every column they read must sit inside an aggregate: `paid / billed` has one
/// value per row, `sum(paid) / sum(billed)` one per station and period.
fn check_formulas(raw: &RawPipeline, errors: &mut Vec<SpecError>) {
    for (what, measures) in [("indicator", &raw.indicators), ("feature", &raw.features)] {
        for (name, m) in measures {
            check_aggregate(errors, &m.formula, &format!("{what} '{}'", name.get_ref()));
            check_dialect(errors, &m.formula, crate::spec::dialect::Role::Formula, &format!("{what} '{}'", name.get_ref()));
            if let Some(f) = &m.filter {
                check_dialect(errors, f, crate::spec::dialect::Role::Filter, &format!("{what} '{}', filter", name.get_ref()));
            }
            if let Some(p) = &m.pre_aggregate {
                for (column, expr) in &p.columns {
                    check_aggregate(errors, expr, &format!("{what} '{}', pre_aggregate column '{}'", name.get_ref(), column.get_ref()));
                    let what = format!("{what} '{}', pre_aggregate column '{}'", name.get_ref(), column.get_ref());
                    check_dialect(errors, expr, crate::spec::dialect::Role::PreAggregate, &what);
                }
            }
        }
    }
}

/// Reports expressions of a measure that mix kinds (a text column in arithmetic or an aggregate,
/// text compared with a number, a formula that gives text), located at the expression. Rows
/// read the source's and the station master's columns; after a pre-aggregation the formula
/// reads its `by` columns and its (numeric) results. Expressions outside the subset are left
/// to `check_dialect`.
fn check_measure_types(errors: &mut Vec<SpecError>, raw: &super::raw::RawMeasure, source: &SourcePlan, stations: &[(String, ColumnType)], what: &str) {
    use crate::spec::dialect::{self, Kind, Role};
    let kind = Kind::of;
    // Computed columns (period_hours, overlap_hours, pre-aggregated values) are numbers.
    let row_kind = |name: &str| {
        source.column(name).map(|c| kind(c.kind)).or_else(|| stations.iter().find(|(n, _)| n == name).map(|(_, t)| kind(*t))).unwrap_or(Kind::Number)
    };
    let mut checks: Vec<(&Spanned<String>, Role, String)> = Vec::new();
    if let Some(f) = &raw.filter {
        checks.push((f, Role::Filter, format!("{what}, filter")));
    }
    if let Some(p) = &raw.pre_aggregate {
        checks.extend(p.columns.iter().map(|(c, e)| (e, Role::PreAggregate, format!("{what}, pre_aggregate column '{}'", c.get_ref()))));
    }
    let by: Vec<&str> = raw.pre_aggregate.iter().flat_map(|p| p.by.iter().map(|b| b.get_ref().as_str())).collect();
    let formula_kind = |name: &str| match raw.pre_aggregate.as_ref() {
        Some(p) if !by.contains(&name) && p.columns.keys().any(|c| c.get_ref() == name) => Kind::Number,
        _ => row_kind(name),
    };
    for (expr, role, shown) in checks {
        if dialect::check(expr.get_ref(), role).is_ok() {
            if let Err(problem) = dialect::check_types(expr.get_ref(), role, &row_kind) {
                err(errors, Some(expr.span()), format!("{shown}: '{}': {problem}", expr.get_ref()));
            }
        }
    }
    if dialect::check(raw.formula.get_ref(), Role::Formula).is_ok() {
        if let Err(problem) = dialect::check_types(raw.formula.get_ref(), Role::Formula, &formula_kind) {
            err(errors, Some(raw.formula.span()), format!("{what}: '{}': {problem}", raw.formula.get_ref()));
        }
    }
}

/// Reports an expression outside the formula subset both engines compute alike
/// (`spec::dialect`), located at the expression. One that does not parse is left to `check_sql`.
fn check_dialect(errors: &mut Vec<SpecError>, expr: &Spanned<String>, role: crate::spec::dialect::Role, what: &str) {
    if crate::spec::dialect::parse(expr.get_ref()).is_err() {
        return;
    }
    if let Err(problem) = crate::spec::dialect::check(expr.get_ref(), role) {
        err(errors, Some(expr.span()), format!("{what}: '{}': {problem}", expr.get_ref()));
    }
}

/// Reports the columns of `expr` read outside any aggregate, with the formula rewritten to sum
/// them as an example. An expression that does not parse is left to `check_sql`.
fn check_aggregate(errors: &mut Vec<SpecError>, expr: &Spanned<String>, what: &str) {
    let text = expr.get_ref();
    let Ok(parsed) = crate::spec::dialect::parse(text) else { return };
    let bare = bare_columns(&parsed);
    if bare.is_empty() {
        return;
    }
    let names: Vec<&str> = bare.iter().map(|(name, _)| *name).fold(Vec::new(), |mut v, n| {
        if !v.contains(&n) {
            v.push(n);
        }
        v
    });
    err(
        errors,
        Some(expr.span()),
        format!(
            "公式中的列须放在聚合函数内 · {what}: formula '{text}' reads {} outside an aggregate; a formula gives one value per station and period (a pre_aggregate column one per group), so every column must be inside sum, avg, min, max, count …: use {}",
            names.iter().map(|n| format!("'{n}'")).collect::<Vec<_>>().join(", "),
            aggregated_example(text, &bare)
        ),
    );
}

/// The columns of an expression not inside an aggregate function, in order, each with the
/// range of characters it spans in the text.
fn bare_columns(expr: &crate::spec::syntax::Expr) -> Vec<(&str, (usize, usize))> {
    use crate::spec::syntax::Expr;
    let mut found = Vec::new();
    expr.walk(AGGREGATES, &mut |x, inside| {
        if let (Expr::Column { name, at, .. }, false) = (x, inside) {
            found.push((name.as_str(), *at));
        }
    });
    found
}

/// `paid / billed` → `sum(paid) / sum(billed)`: each bare column wrapped in sum(), by its
/// position in the text.
fn aggregated_example(text: &str, bare: &[(&str, (usize, usize))]) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut cuts: Vec<(usize, usize)> = bare.iter().map(|(_, at)| *at).collect();
    cuts.sort_unstable();
    let mut out = String::new();
    let mut at = 0;
    for (start, end) in cuts {
        if start < at || end > chars.len() || start >= end {
            return "sum(paid) / sum(billed)".to_string();
        }
        out.extend(&chars[at..start]);
        out.push_str("sum(");
        out.extend(&chars[start..end]);
        out.push(')');
        at = end;
    }
    out.extend(&chars[at..]);
    out
}

/// Settings with a cost that grows with their value stay within stated limits.
fn check_bounds(raw: &RawPipeline, errors: &mut Vec<SpecError>) {
    if let Some(n) = &raw.analysis.bootstrap_replicates {
        if *n.get_ref() > MAX_BOOTSTRAP_REPLICATES {
            err(
                errors,
                Some(n.span()),
                format!(
                    "bootstrap_replicates 过大 · bootstrap_replicates = {} is more than the {MAX_BOOTSTRAP_REPLICATES} allowed; each replicate recomputes every correlation, and 2 000 to 10 000 give stable intervals",
                    n.get_ref()
                ),
            );
        }
    }
}

#[cfg(test)]
mod passes_tests {
    use super::*;

    fn bare(text: &str) -> Vec<String> {
        let parsed = crate::spec::dialect::parse(text).unwrap();
        bare_columns(&parsed).into_iter().map(|(name, _)| name.to_string()).collect()
    }

    #[test]
    fn columns_outside_aggregates_are_found() {
        assert_eq!(bare("paid / billed"), ["paid", "billed"]);
        assert_eq!(bare("sum(paid) / billed"), ["billed"]);
        assert!(bare("sum(paid) / sum(billed)").is_empty());
        assert!(bare("count(*) / max(party_members)").is_empty());
        assert!(bare("1 - sum(overlap_hours * customers_affected) / (max(customers) * max(period_hours))").is_empty());
        assert!(bare("sum(CASE WHEN order_type IN ('投诉', '意见') THEN 1.0 ELSE 0.0 END) / max(customers) * 10000").is_empty());
        assert_eq!(bare("CASE WHEN kind = 'a' THEN sum(x) ELSE 0 END"), ["kind"]);
        assert_eq!(bare("ln(customers)"), ["customers"]);
        assert!(bare("AVG(stars)").is_empty());
    }

    #[test]
    fn the_example_wraps_each_bare_column_in_sum() {
        let example = |text: &str| {
            let parsed = crate::spec::dialect::parse(text).unwrap();
            aggregated_example(text, &bare_columns(&parsed))
        };
        assert_eq!(example("paid / billed"), "sum(paid) / sum(billed)");
        assert_eq!(example("sum(paid) / billed"), "sum(paid) / sum(billed)");
        assert_eq!(example("达标 / billed"), "sum(达标) / sum(billed)");
        // Across lines, and a quoted name with its quotes.
        assert_eq!(example("paid\n  / \"应收 电费\""), "sum(paid)\n  / sum(\"应收 电费\")");
    }
}
