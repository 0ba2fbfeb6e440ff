//! `views.sql`: DuckDB views over a run's output folder, for BI tools that connect through DuckDB
//! (FineBI, Power BI or Tableau with the DuckDB driver, the DuckDB shell).
//!
//! The files keep ASCII snake_case column names; the `*_zh` views offer the same columns under
//! the labels of the pipeline (indicator and feature labels, the export headers of curated
//! columns), which is what the analysts' dashboards show. Paths are relative to the output
//! folder, so the folder can be moved or mailed as a whole: run the file from inside the folder,
//! or set DuckDB's `file_search_path` to it first. `analysis.duckdb` (module `bi`) holds the same
//! views with absolute paths, for drivers that open a database from anywhere.
//!
//! Timestamps are stored as UTC instants; every curated view adds, beside each timestamp column
//! `x`, `x_local`: the wall-clock time at the pipeline's `utc_offset` as a naive TIMESTAMP, the
//! same whatever time zone the connection is set to. The `*_zh` views show the local time under
//! the export's header and the instant under "header (UTC)".

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::path::Path;

use crate::base::period::Grain;
use crate::base::vocab::Vocabulary;
use crate::panel::{ColumnKind, Panel};
use crate::spec::plan::Plan;
use crate::store::layout;

/// A SQL string literal.
fn literal(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

/// A quoted SQL identifier.
fn ident(text: &str) -> String {
    format!("\"{}\"", text.replace('"', "\"\""))
}

/// Gives each column a unique label: a label already taken gets the column name appended.
fn unique_labels(pairs: Vec<(String, String)>) -> Vec<(String, String)> {
    let mut seen = BTreeSet::new();
    pairs
        .into_iter()
        .map(|(name, label)| {
            let label = if label.trim().is_empty() { name.clone() } else { label };
            let label = if seen.contains(&label) { format!("{label} ({name})") } else { label };
            seen.insert(label.clone());
            (name, label)
        })
        .collect()
}

/// The timestamp columns of a source and the names of their local-time companions (`x_local`;
/// none where the source already has a column of that name).
fn local_companions(source: &crate::spec::plan::SourcePlan) -> Vec<(String, String)> {
    source
        .columns
        .iter()
        .filter(|c| c.kind == crate::spec::plan::ColumnType::Timestamp)
        .map(|c| (c.name.clone(), format!("{}_local", c.name)))
        .filter(|(_, local)| !source.columns.iter().any(|c| &c.name == local) && local != "source_file" && local != "source_row")
        .collect()
}

/// SQL for the wall-clock time of a UTC instant column at a fixed offset, as a naive TIMESTAMP.
/// Built from the epoch (microseconds), so it depends neither on the connection's TimeZone
/// setting nor on the ICU extension, and runs in DuckDB 1.0 and later.
fn local_time(column: &str, utc_offset_minutes: i32) -> String {
    format!("make_timestamp(epoch_us({}) + {})", ident(column), i64::from(utc_offset_minutes) * 60_000_000)
}

fn select_labeled(pairs: &[(String, String)]) -> String {
    pairs.iter().map(|(name, label)| format!("    {} AS {}", ident(name), ident(label))).collect::<Vec<_>>().join(",\n")
}

/// Labels of the panel's key columns (Chinese, English) for a period grain.
fn panel_keys(grain: Grain) -> [(&'static str, String, String); 5] {
    let (zh, en) = match grain {
        Grain::Month => ("月份", "month"),
        Grain::Quarter => ("季度", "quarter"),
        Grain::Year => ("年度", "year"),
    };
    [
        ("station_id", "供电所编码".into(), "station id".into()),
        ("station_name", "供电所".into(), "station".into()),
        ("county", "县（市）".into(), "county".into()),
        ("period", zh.into(), en.into()),
        ("period_start", format!("{zh}开始日期"), format!("{en} start")),
    ]
}

fn panel_grain(panel: &Panel) -> Grain {
    panel.periods.first().map(|p| p.grain).unwrap_or_default()
}

/// The text of views.sql for the output folder `out` (already written, so only tables that exist
/// get a view).
pub(crate) fn views_sql(plan: &Plan, panel: Option<&Panel>, out: &Path) -> String {
    let exists = |rel: &str| out.join(rel).exists();
    let mut sql = String::new();
    preamble(&mut sql, plan);
    table_views(&mut sql, &exists);
    curated_views(&mut sql, plan, &exists);
    if let Some(panel) = panel.filter(|_| exists(&layout::PANEL.file())) {
        panel_views(&mut sql, panel, &exists);
    }
    if exists(&layout::CORRELATIONS.file()) {
        correlation_views(&mut sql);
    }
    sql
}

/// What the file is and how to run it.
fn preamble(sql: &mut String, plan: &Plan) {
    let _ = writeln!(sql, "-- DuckDB views over the output of duibiao pipeline '{}'.", plan.name);
    sql.push_str(
        "-- Paths are relative to this folder: run it from inside the folder, e.g.\n\
         --     duckdb -init views.sql\n\
         -- or from elsewhere after: SET file_search_path = '<this folder>';\n\
         -- For BI drivers, analysis.duckdb holds the same views with absolute paths; after moving\n\
         -- the folder, rewrite it with: duibiao views <this folder>\n\
         -- Column names in the files are ASCII snake_case; the *_zh views carry the labels.\n\
         -- Timestamps are UTC instants; each x_local column is x as wall-clock time at the\n\
         -- pipeline's utc_offset (a naive TIMESTAMP, independent of the connection's time zone).\n\n",
    );
}

/// One view per published table.
fn table_views(sql: &mut String, exists: &dyn Fn(&str) -> bool) {
    for table in layout::TABLES.into_iter().filter(|t| exists(&t.file())) {
        let _ = writeln!(sql, "CREATE OR REPLACE VIEW {} AS SELECT * FROM read_parquet({});", table.view, literal(&table.file()));
    }
    sql.push('\n');
}

/// Each curated source as a view, and under its export headers as `<view>_zh`.
fn curated_views(sql: &mut String, plan: &Plan, exists: &dyn Fn(&str) -> bool) {
    for source in &plan.sources {
        let dir = layout::curated_source_rel(&source.name);
        let reference = layout::reference_file_rel(&source.name);
        let from = if exists(&reference) {
            format!("read_parquet({})", literal(&reference))
        } else if exists(&dir) {
            // Period labels such as "2020" would otherwise be read as numbers.
            format!("read_parquet({}, hive_partitioning = true, hive_types = {{'period': VARCHAR}})", literal(&layout::partition_glob_rel(&source.name)))
        } else {
            continue;
        };
        let view = format!("curated_{}", source.name);
        let _ = writeln!(sql, "-- {}", source.title.replace('\n', " "));
        let local = local_companions(source);
        let extra: String = local.iter().map(|(c, l)| format!(", {} AS {}", local_time(c, plan.utc_offset_minutes), ident(l))).collect();
        let _ = writeln!(sql, "CREATE OR REPLACE VIEW {view} AS SELECT *{extra} FROM {from};");
        let header = |c: &crate::spec::plan::ColumnPlan| c.headers.first().map(|h| h.0.clone()).unwrap_or_default();
        let mut pairs: Vec<(String, String)> = Vec::new();
        for c in &source.columns {
            match local.iter().find(|(name, _)| *name == c.name) {
                // The export showed local wall-clock times under this header.
                Some((_, l)) => {
                    pairs.push((l.clone(), header(c)));
                    let shown = if header(c).trim().is_empty() { c.name.clone() } else { header(c) };
                    pairs.push((c.name.clone(), format!("{shown} (UTC)")));
                }
                None => pairs.push((c.name.clone(), header(c))),
            }
        }
        if source.period.is_some() && !exists(&reference) {
            pairs.push(("period".into(), panel_keys(plan.grain)[3].1.clone()));
        }
        pairs.push(("source_file".into(), "来源文件".into()));
        pairs.push(("source_row".into(), "来源行号".into()));
        let _ = writeln!(sql, "CREATE OR REPLACE VIEW {view}_zh AS SELECT\n{}\nFROM {view};\n", select_labeled(&unique_labels(pairs)));
    }
}

/// The variables table, and the panel under its labels (`panel_zh`, `panel_long_zh`).
fn panel_views(sql: &mut String, panel: &Panel, exists: &dyn Fn(&str) -> bool) {
    // Every panel variable with its labels and kind, as a small table for dashboards.
    let rows: Vec<String> = panel
        .columns
        .iter()
        .map(|c| {
            let better = match &c.kind {
                ColumnKind::Indicator(b) => literal(b.name()),
                _ => "NULL".into(),
            };
            format!("    ({}, {}, {}, {}, {better})", literal(&c.name), literal(&c.label), literal(&c.label_en), literal(c.kind.name()))
        })
        .collect();
    if !rows.is_empty() {
        let _ = writeln!(
            sql,
            "CREATE OR REPLACE VIEW variables AS SELECT * FROM (VALUES\n{}\n) AS t(variable, label, label_en, kind, better);\n",
            rows.join(",\n")
        );
    }
    let mut pairs: Vec<(String, String)> = panel_keys(panel_grain(panel)).into_iter().map(|(n, zh, _)| (n.to_string(), zh)).collect();
    pairs.extend(panel.columns.iter().map(|c| (c.name.clone(), c.label.clone())));
    let _ = writeln!(sql, "CREATE OR REPLACE VIEW panel_zh AS SELECT\n{}\nFROM panel;\n", select_labeled(&unique_labels(pairs)));
    if exists(&layout::PANEL_LONG.file()) && !rows.is_empty() {
        let period_label = &panel_keys(panel_grain(panel))[3].1;
        let _ = write!(
            sql,
            "CREATE OR REPLACE VIEW panel_long_zh AS SELECT\n    l.station_id AS \"供电所编码\",\n    l.period AS {},\n    v.label AS \"变量\",\n    l.value AS \"数值\",\n    l.kind AS \"类别\"\nFROM panel_long l LEFT JOIN variables v ON v.variable = l.variable;\n\n",
            ident(period_label)
        );
    }
}

/// The correlations under Chinese column names.
fn correlation_views(sql: &mut String) {
    let pairs: Vec<(String, String)> = [
        ("indicator_label", "指标"),
        ("feature_label", "党建特征"),
        ("scope", "口径"),
        ("method", "方法"),
        ("lag", "滞后期数"),
        ("controls", "控制变量"),
        ("n", "样本数"),
        ("n_stations", "供电所数"),
        ("r", "相关系数"),
        ("ci_low", "置信区间下限"),
        ("ci_high", "置信区间上限"),
        ("p_value", "p值"),
        ("p_adjusted", "校正后p值"),
        ("r_better", "方向调整后相关系数"),
        ("reason", "未计算原因"),
    ]
    .iter()
    .map(|(a, b)| (a.to_string(), b.to_string()))
    .collect();
    let _ = writeln!(sql, "CREATE OR REPLACE VIEW correlations_zh AS SELECT\n{}\nFROM correlations;", select_labeled(&pairs));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifiers_and_literals_are_escaped() {
        assert_eq!(ident("a\"b"), "\"a\"\"b\"");
        assert_eq!(literal("it's"), "'it''s'");
    }

    #[test]
    fn labels_are_made_unique_and_never_empty() {
        let got = unique_labels(vec![("a".into(), "回收率".into()), ("b".into(), "回收率".into()), ("c".into(), " ".into())]);
        assert_eq!(got, vec![("a".into(), "回收率".into()), ("b".into(), "回收率 (b)".into()), ("c".into(), "c".into())]);
    }
}
