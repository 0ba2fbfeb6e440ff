//! Compiling a raw pipeline into a `Plan`: every value checked, every reference resolved, all
//! mistakes collected before any data is read. Reads nothing but the pipeline file; checking the
//! plan against the real exports is `ingest::preflight`.

use std::path::{Path, PathBuf};

use toml::Spanned;

use super::raw::{RawPipeline, RawSource};
use super::{SpecError, SpecErrors};
use crate::base::text::closest;
use crate::spec::plan::*;
use crate::base::period::Grain;
use crate::base::vocab::Vocabulary;

/// `a/b/../c` → `a/c`, lexically, so paths read the way the user would write them.
pub fn normalize(path: &Path) -> PathBuf {
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
    chars.next().is_some_and(|c| c.is_ascii_lowercase())
        && name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

/// Loads and compiles a pipeline file; all spec errors at once.
pub fn compile_file(path: &Path) -> Result<Plan, SpecErrors> {
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
    let grain = Grain::parse(job.period.get_ref()).unwrap_or_else(|| {
        err(&mut errors, Some(job.period.span()), format!("period '{}' is not supported; expected {}", job.period.get_ref(), Grain::expected(true)));
        crate::base::period::Grain::Quarter
    });
    let utc_offset_minutes = match &job.utc_offset {
        None => 480,
        Some(s) => crate::base::calendar::utc_offset_minutes(s.get_ref()).unwrap_or_else(|| {
            err(&mut errors, Some(s.span()), format!("utc_offset '{}' is not an offset like \"+08:00\"", s.get_ref()));
            480
        }),
    };

    let sources: Vec<SourcePlan> = raw.sources.iter().map(|(name, source)| compile_source(name, source, base, grain, &mut errors)).collect();
    let find = |wanted: &Spanned<String>, role: &str, errors: &mut Vec<SpecError>| -> Option<usize> {
        let found = sources.iter().position(|s| &s.name == wanted.get_ref());
        if found.is_none() {
            let hint = closest(wanted.get_ref(), sources.iter().map(|s| s.name.as_str())).map(|c| format!("; did you mean '{c}'?")).unwrap_or_default();
            err(errors, Some(wanted.span()), format!("{role} names source '{}', which is not declared under [sources]{hint}", wanted.get_ref()));
        }
        found
    };
    let stations = find(&job.stations, "stations", &mut errors);
    let aliases = job.aliases.as_ref().and_then(|a| find(a, "aliases", &mut errors));
    if let Some(i) = stations {
        let s = &sources[i];
        for needed in ["station_code", "station_name"] {
            if s.column(needed).is_none() {
                err(&mut errors, Some(job.stations.span()), format!("the station master '{}' must declare a column '{needed}'", s.name));
            }
        }
    }
    if let Some(i) = aliases {
        let s = &sources[i];
        for needed in ["spelling", "station_code"] {
            if s.column(needed).is_none() {
                err(&mut errors, job.aliases.as_ref().map(|a| a.span()), format!("the alias table '{}' must declare a column '{needed}'", s.name));
            }
        }
    }
    let identity = compile_identity(raw, stations.map(|i| &sources[i]), &mut errors);
    let attributes = compile_attributes(raw, stations.map(|i| &sources[i]), &mut errors);
    let station_columns: Vec<String> = stations.map(|i| sources[i].columns.iter().map(|c| c.name.clone()).collect()).unwrap_or_default();
    let mut seen_names: Vec<String> = attributes.iter().map(|a| a.name.clone()).collect();
    let indicators = raw.indicators.iter().map(|(n, m)| compile_measure(n, m, true, &sources, &station_columns, &mut seen_names, &mut errors)).collect::<Vec<_>>();
    let features = raw.features.iter().map(|(n, m)| compile_measure(n, m, false, &sources, &station_columns, &mut seen_names, &mut errors)).collect::<Vec<_>>();
    let lags = match &raw.panel.lags {
        None => vec![0, 1],
        Some(list) => list
            .iter()
            .map(|l| {
                if !(0..=8).contains(l.get_ref()) {
                    err(&mut errors, Some(l.span()), format!("lag {} is out of range; expected 0 to 8 periods", l.get_ref()));
                }
                *l.get_ref()
            })
            .collect(),
    };
    let analysis = compile_analysis(raw, &attributes, &mut errors);
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
        sources,
        stations: stations.unwrap(),
        aliases,
        output_dir: normalize(&base.join(raw.output.dir.get_ref())),
    })
}

fn compile_identity(raw: &RawPipeline, stations: Option<&SourcePlan>, errors: &mut Vec<SpecError>) -> Identity {
    let r = &raw.identity;
    if let (Some(column), Some(stations)) = (&r.county_column, stations) {
        if stations.column(column.get_ref()).is_none() {
            let hint = closest(column.get_ref(), stations.columns.iter().map(|c| c.name.as_str())).map(|c| format!("; did you mean '{c}'?")).unwrap_or_default();
            err(errors, Some(column.span()), format!("county_column '{}' is not a column of the station master '{}'{hint}", column.get_ref(), stations.name));
        }
    }
    Identity {
        strip_prefixes: r.strip_prefixes.clone(),
        strip_suffixes: r.strip_suffixes.clone(),
        county_column: r.county_column.as_ref().map(|c| c.get_ref().clone()),
        county_short_names: r.county_short_names.clone(),
        township_words: r.township_words.clone(),
        unit_word: r.unit_word.clone(),
    }
}

/// Checks that a SQL expression parses and uses only `allowed` columns.
fn check_sql(errors: &mut Vec<SpecError>, expr: &Spanned<String>, what: &str, allowed: &[String]) {
    match polars::sql::sql_expr(expr.get_ref()) {
        Ok(parsed) => {
            for used in parsed.meta().root_names() {
                if !allowed.iter().any(|a| a == used.as_str()) {
                    let hint = closest(used.as_str(), allowed.iter().map(String::as_str)).map(|c| format!("; did you mean '{c}'?")).unwrap_or_default();
                    err(errors, Some(expr.span()), format!("{what} '{}' uses '{used}', which is not available here{hint}", expr.get_ref()));
                }
            }
        }
        Err(e) => err(errors, Some(expr.span()), format!("{what} '{}' is not a valid SQL expression: {e}", expr.get_ref())),
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
        bootstrap: a.bootstrap_replicates.filter(|n| *n > 0).map(|replicates| crate::stats::BootstrapOptions { replicates, seed: a.bootstrap_seed.unwrap_or(20_201_231) }),
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
            Attribute { name: name.get_ref().clone(), label: a.label.clone().unwrap_or_else(|| name.get_ref().clone()), formula: a.formula.get_ref().clone() }
        })
        .collect()
}

fn compile_measure(
    name: &Spanned<String>,
    raw: &super::raw::RawMeasure,
    indicator: bool,
    sources: &[SourcePlan],
    station_columns: &[String],
    seen: &mut Vec<String>,
    errors: &mut Vec<SpecError>,
) -> Option<Measure> {
    let what = if indicator { "indicator" } else { "feature" };
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
    let format = match raw.format.as_ref().map(|f| f.get_ref().as_str()) {
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
    };
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
    let header_row = match &raw.header_row {
        None => 0,
        Some(h) if *h.get_ref() >= 1 => h.get_ref() - 1,
        Some(h) => {
            err(errors, Some(h.span()), "header_row counts from 1");
            0
        }
    };
    let mut columns = Vec::new();
    for (col_name, col) in &raw.columns {
        if !is_snake_case(col_name.get_ref()) {
            err(errors, Some(col_name.span()), format!("column name '{}' must be ASCII snake_case (it is the column name in the output files)", col_name.get_ref()));
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
        columns.push(ColumnPlan {
            name: col_name.get_ref().clone(),
            headers,
            header_span: Some(col.header.as_ref().map(|h| h.span()).unwrap_or_else(|| col_name.span())),
            kind,
            format: col.format.as_ref().map(|f| f.get_ref().clone()),
            required: col.required.unwrap_or(true),
            not_null: col.not_null.unwrap_or(false),
            derived,
        });
    }
    let known = |wanted: &Spanned<String>, what: &str, errors: &mut Vec<SpecError>| -> Option<ColumnType> {
        let found = columns.iter().find(|c| &c.name == wanted.get_ref()).map(|c| c.kind);
        if found.is_none() {
            let hint = closest(wanted.get_ref(), columns.iter().map(|c| c.name.as_str())).map(|c| format!("; did you mean '{c}'?")).unwrap_or_default();
            err(errors, Some(wanted.span()), format!("{what} '{}' is not a column of source '{}'{hint}", wanted.get_ref(), name.get_ref()));
        }
        found
    };
    let period = raw.period.as_ref().and_then(|p| {
        let kind = known(p, "period column", errors)?;
        if !kind.is_temporal() {
            err(errors, Some(p.span()), format!("period column '{}' must have type month, quarter, date or timestamp", p.get_ref()));
        } else if kind == ColumnType::Quarter && grain == Grain::Month {
            err(errors, Some(p.span()), format!("period column '{}' holds quarters, which cannot be split into the pipeline's months", p.get_ref()));
        }
        Some(p.get_ref().clone())
    });
    let station = match (&raw.station, &raw.station_key) {
        (Some(column), key) => {
            known(column, "station column", errors);
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
    };
    let checks = raw
        .checks
        .iter()
        .map(|c| {
            let severity = match c.severity.as_ref().map(|s| s.get_ref().as_str()) {
                None | Some("reject") => Severity::Reject,
                Some("warn") => Severity::Warn,
                Some(other) => {
                    err(errors, c.severity.as_ref().map(|s| s.span()), format!("severity '{other}' is unknown; expected reject or warn"));
                    Severity::Reject
                }
            };
            match polars::sql::sql_expr(c.rule.get_ref()) {
                Ok(expr) => {
                    for used in expr.meta().root_names() {
                        if !columns.iter().any(|col| col.name == used.as_str()) {
                            let hint = closest(used.as_str(), columns.iter().map(|c| c.name.as_str())).map(|c| format!("; did you mean '{c}'?")).unwrap_or_default();
                            err(errors, Some(c.rule.span()), format!("check '{}' uses '{used}', which is not a column of source '{}'{hint}", c.rule.get_ref(), name.get_ref()));
                        }
                    }
                }
                Err(e) => err(errors, Some(c.rule.span()), format!("check '{}' is not a valid SQL expression: {e}", c.rule.get_ref())),
            }
            CheckPlan { rule: c.rule.get_ref().clone(), severity, message: c.message.clone().unwrap_or_else(|| format!("check failed: {}", c.rule.get_ref())) }
        })
        .collect();
    let max_reject_share = match &raw.max_reject_share {
        None => 0.05,
        Some(s) if (0.0..=1.0).contains(s.get_ref()) => *s.get_ref(),
        Some(s) => {
            err(errors, Some(s.span()), "max_reject_share is a share between 0 and 1");
            0.05
        }
    };
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
        drop_rows: raw.drop_rows.iter().map(|d| DropRule { header: d.header.get_ref().clone(), header_span: Some(d.header.span()), starts_with: d.starts_with.clone() }).collect(),
        columns,
        station,
        period,
        checks,
        max_reject_share,
        duplicates,
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
/// combination that cannot work is an error here.
fn compile_derived(col_name: &Spanned<String>, col: &super::raw::RawColumn, kind: ColumnType, errors: &mut Vec<SpecError>) -> Option<Derived> {
    let name = col_name.get_ref();
    let parts = [(DatePart::Year, &col.year), (DatePart::Month, &col.month), (DatePart::Quarter, &col.quarter), (DatePart::Day, &col.day)];
    let any_part = parts.iter().find_map(|(_, p)| p.as_ref());
    match (&col.header, &col.from, &col.pattern, &col.date, &col.time) {
        (Some(_), None, None, None, None) => {
            if let Some(p) = any_part {
                err(errors, Some(p.span()), format!("column '{name}': year/month/quarter/day cells complete a value taken with `from`; add from and pattern, or drop them"));
            }
            None
        }
        (None, Some(from), Some(pattern), None, None) => {
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
            for (part, header) in &parts {
                if let Some(h) = header {
                    if captured.iter().any(|c| c == part.name()) {
                        err(errors, Some(h.span()), format!("column '{name}': the pattern already captures the {}; drop {} = \"{}\"", part.name(), part.name(), h.get_ref()));
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
                    err(errors, Some(pattern.span()), format!("column '{name}' needs the {0}: capture it with (?P<{0}>…) or name the cell that holds it, {0} = \"<header>\"", p.name()));
                }
            }
            if kind == ColumnType::Quarter && regex.is_some() && !has(DatePart::Quarter) && !has(DatePart::Month) {
                err(errors, Some(pattern.span()), format!("column '{name}' needs the quarter (or month): capture it with (?P<quarter>…) or name the cell that holds it"));
            }
            Some(Derived::Path { from: from_text?, pattern: regex?, cells })
        }
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
            err(errors, Some(col_name.span()), format!("column '{name}' says nowhere where its value comes from: give header = \"<export header>\", from + pattern, or date + time"));
            None
        }
        (None, Some(x), None, _, _) | (None, None, Some(x), _, _) => {
            err(errors, Some(x.span()), format!("column '{name}': from and pattern go together (from = \"file_name\", pattern = '(?P<year>\\d{{4}})年(?P<month>\\d{{2}})月')"));
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
