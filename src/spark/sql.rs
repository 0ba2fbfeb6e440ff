//! The Spark SQL jobs written from the compiled plan: the spellings job (the distinct station
//! spellings of each measure source per period, with their rows) and the measures job (a period
//! table, one materialised stage per source, every indicator and feature per station × period,
//! written as one long table). Formulas come through `spec::dialect`, the one translation.
//!
//! A job is a list of statements, each ending with `;` at the end of a line, so that the driver
//! (and `spark-sql -f`) can run it as written; text literals never hold a line break.

use crate::base::period::Period;
use crate::spec::dialect::{self, Role, ident, text_literal};
use crate::spec::plan::{Measure, Plan, SourcePlan};

/// Where a job reads and writes, as Spark sees it (a path or URI of the cluster's storage).
#[derive(Debug, Clone)]
pub(crate) struct JobPaths {
    /// The curated tree: `<curated>/<source>/period=…/*.parquet` and `<curated>/<source>/data.parquet`.
    pub curated: String,
    /// The spelling → station mapping duibiao resolved (source, spelling, station_id).
    pub mapping: String,
    /// The folder the job writes its result into (replaced).
    pub output: String,
}

/// The session settings every job starts with.
fn settings(ansi: bool) -> String {
    format!(
        "-- Partition folders are text: period=2020 stays '2020', not the number 2020.\n\
         SET spark.sql.sources.partitionColumnTypeInference.enabled=false;\n\
         -- Timestamps are instants in UTC; local periods are bounds in UTC microseconds below.\n\
         SET spark.sql.session.timeZone=UTC;\n\
         SET spark.sql.ansi.enabled={ansi};\n"
    )
}

fn header(plan: &Plan, what: &str) -> String {
    format!(
        "-- duibiao {version}: {what}\n-- pipeline '{name}' ({path}, sha256 {sha})\n-- Written from the compiled pipeline; run it with driver.py (spark-submit or python with pyspark) or spark-sql -f.\n\n",
        version = env!("CARGO_PKG_VERSION"),
        name = plan.name,
        path = plan.spec_path.file_name().map(|f| f.to_string_lossy().into_owned()).unwrap_or_default(),
        sha = plan.spec_sha256
    )
}

/// A path as a Spark table of Parquet files.
fn parquet_table(path: &str) -> String {
    format!("parquet.`{}`", path.replace('`', "``"))
}

fn source_path(paths: &JobPaths, source: &str) -> String {
    format!("{}/{}", paths.curated.trim_end_matches('/'), source)
}

/// The spellings job: per measure source and period, each station spelling (NULL included, so a
/// period with rows but no spelling is still covered) with its rows.
pub(crate) fn spellings_job(plan: &Plan, sources: &[usize], paths: &JobPaths, ansi: bool) -> String {
    let mut sql = header(plan, "station spellings of each measure source, per period, with their rows");
    sql.push_str(&settings(ansi));
    let parts: Vec<String> = sources
        .iter()
        .filter_map(|&i| {
            let source = &plan.sources[i];
            let (key, _) = source.station.as_ref()?;
            Some(format!(
                "SELECT {name} AS source, period, CAST({key} AS STRING) AS spelling, count(*) AS rows\nFROM {table}\nGROUP BY period, {key}",
                name = text_literal(&source.name),
                key = ident(key),
                table = parquet_table(&source_path(paths, &source.name))
            ))
        })
        .collect();
    sql.push_str(&format!("\nINSERT OVERWRITE DIRECTORY {} USING parquet\n", text_literal(&paths.output)));
    sql.push_str(&parts.join("\nUNION ALL\n"));
    sql.push_str(";\n");
    sql
}

/// Microseconds since 1970 (UTC) at which a period starts in local time.
fn period_start_us(q: Period, utc_offset_minutes: i32) -> i64 {
    i64::from(q.start_days()) * 86_400_000_000 - i64::from(utc_offset_minutes) * 60 * 1_000_000
}

/// A float as a DOUBLE literal that reads back to the same value.
fn double(x: f64) -> String {
    format!("{x:?}D")
}

/// The station master's columns offered to formulas that a source does not have itself.
fn station_extras<'a>(plan: &'a Plan, source: &'a SourcePlan) -> Vec<&'a str> {
    plan.sources[plan.stations].columns.iter().map(|c| c.name.as_str()).filter(|n| source.column(n).is_none() && *n != "station_code").collect()
}

/// The name of a source's stage (rows that reached a station, with period lengths and station
/// columns); interval measures get their own stage, split over the periods.
fn stage_name(source: &SourcePlan, interval: Option<&(String, String)>) -> String {
    match interval {
        None => format!("src_{}", source.name),
        Some((start, end)) => format!("src_{}__{start}__{end}", source.name),
    }
}

/// The measures job: writes (station_id, period, variable, value) for every indicator and feature.
pub(crate) fn measures_job(plan: &Plan, periods: &[Period], paths: &JobPaths, ansi: bool) -> Result<String, String> {
    let mut sql = header(plan, "indicators and features per station × period, as one long table");
    sql.push_str(&settings(ansi));

    sql.push_str("\n-- The periods of the grid: length in hours and months (for formulas), and their local bounds in UTC microseconds (for intervals).\n");
    sql.push_str("CREATE OR REPLACE TEMPORARY VIEW periods AS\nSELECT * FROM VALUES\n");
    let rows: Vec<String> = periods
        .iter()
        .map(|q| {
            format!(
                "  ({}, {}, {}, {}L, {}L)",
                text_literal(&q.to_string()),
                double(q.hours()),
                double(f64::from(q.grain.months())),
                period_start_us(*q, plan.utc_offset_minutes),
                period_start_us(q.next(), plan.utc_offset_minutes)
            )
        })
        .collect();
    sql.push_str(&rows.join(",\n"));
    sql.push_str("\n  AS periods(period, period_hours, period_months, start_us, end_us);\n");

    let master = &plan.sources[plan.stations];
    let master_columns: Vec<String> = master.columns.iter().filter(|c| c.name != "station_code").map(|c| ident(&c.name)).collect();
    sql.push_str(&format!(
        "\n-- The station master's columns, offered to formulas.\nCREATE OR REPLACE TEMPORARY VIEW stations AS\nSELECT {} AS station_id{}\nFROM {};\n",
        ident("station_code"),
        master_columns.iter().map(|c| format!(", {c}")).collect::<String>(),
        parquet_table(&format!("{}/data.parquet", source_path(paths, &master.name)))
    ));
    sql.push_str(&format!(
        "\n-- Station spellings resolved to stations by duibiao (its identity rules, aliases and all).\nCREATE OR REPLACE TEMPORARY VIEW mapping AS\nSELECT source, spelling, station_id FROM {};\n",
        parquet_table(&paths.mapping)
    ));

    let measures: Vec<&Measure> = plan.indicators.iter().chain(&plan.features).collect();
    let mut stages: Vec<(usize, Option<&(String, String)>)> = Vec::new();
    for m in &measures {
        let key = (m.source, m.interval.as_ref());
        if !stages.contains(&key) {
            stages.push(key);
        }
    }
    for (index, interval) in &stages {
        let used: Vec<&Measure> = measures.iter().copied().filter(|m| m.source == *index && m.interval.as_ref() == *interval).collect();
        sql.push_str(&stage(plan, &plan.sources[*index], *interval, &used, paths));
    }

    let mut selects = Vec::new();
    for m in &measures {
        selects.push(measure_select(plan, m)?);
    }
    sql.push_str(&format!(
        "\n-- Every measure per station × period; a value that is not finite (a zero denominator) is empty.\nINSERT OVERWRITE DIRECTORY {} USING parquet\nSELECT station_id, period, variable,\n  {} AS value\nFROM (\n{}\n) measures;\n",
        text_literal(&paths.output),
        dialect::finite("value"),
        selects.join("\nUNION ALL\n")
    ));
    Ok(sql)
}

/// One source's stage, materialised (CACHE TABLE is eager): its rows that reached a station,
/// with `period_hours`, `period_months` and the station columns; for an interval, each row once
/// per period it overlaps, with `overlap_hours`.
fn stage(plan: &Plan, source: &SourcePlan, interval: Option<&(String, String)>, measures: &[&Measure], paths: &JobPaths) -> String {
    let key = source.station.as_ref().map(|(k, _)| k.clone()).unwrap_or_default();
    // Only the columns its measures read are kept: the stage is held in memory.
    let used = used_columns(measures);
    let columns: Vec<String> = source.columns.iter().filter(|c| used.contains(&c.name)).map(|c| format!("r.{}", ident(&c.name))).collect();
    let extras: Vec<String> = station_extras(plan, source).into_iter().filter(|n| used.iter().any(|u| u == n)).map(|n| format!("s.{}", ident(n))).collect();
    let name = stage_name(source, interval);
    let mut select = columns.clone();
    select.push("m.station_id".to_string());
    // An interval row takes the period it overlaps; any other row keeps its partition's.
    select.push(if interval.is_some() { "p.period" } else { "r.period" }.to_string());
    select.push("p.period_hours".to_string());
    select.push("p.period_months".to_string());
    let mut text = format!("\n-- Source '{}'", source.name);
    let periods_join = match interval {
        None => {
            text.push_str(": rows that reached a station, with period lengths and station columns.\n");
            "LEFT JOIN periods p ON r.period = p.period".to_string()
        }
        Some((start, end)) => {
            text.push_str(&format!(
                ": each row with {start} < {end} once per period it overlaps (local time), with the hours inside it, period lengths and station columns.\n"
            ));
            let (s, e) = (format!("unix_micros(r.{})", ident(start)), format!("unix_micros(r.{})", ident(end)));
            select.push(format!("CAST(least({e}, p.end_us) - greatest({s}, p.start_us) AS DOUBLE) / 3600000000D AS overlap_hours"));
            format!("JOIN periods p ON greatest({s}, p.start_us) < least({e}, p.end_us)")
        }
    };
    select.extend(extras);
    text.push_str(&format!(
        "CACHE TABLE {name} AS\nSELECT {select}\nFROM {table} r\nJOIN (SELECT spelling, station_id FROM mapping WHERE source = {source}) m ON CAST(r.{key} AS STRING) = m.spelling\n{periods_join}\nLEFT JOIN stations s ON m.station_id = s.station_id;\n",
        name = ident(&name),
        select = select.join(", "),
        table = parquet_table(&source_path(paths, &source.name)),
        source = text_literal(&source.name),
        key = ident(&key),
    ));
    text
}

/// The column names the measures read: their formulas, filters, pre-aggregates and groups.
fn used_columns(measures: &[&Measure]) -> Vec<String> {
    let mut used = Vec::new();
    for m in measures {
        used.extend(dialect::columns(&m.formula));
        used.extend(m.filter.iter().flat_map(|f| dialect::columns(f)));
        if let Some((by, columns)) = &m.pre_aggregate {
            used.extend(by.iter().cloned());
            used.extend(columns.iter().flat_map(|(_, e)| dialect::columns(e)));
        }
    }
    used.sort();
    used.dedup();
    used
}

/// One measure's aggregate over its stage: (station_id, period, variable, value).
fn measure_select(plan: &Plan, m: &Measure) -> Result<String, String> {
    let source = &plan.sources[m.source];
    let stage = ident(&stage_name(source, m.interval.as_ref()));
    let located = |what: &str, e: String| format!("{} '{}', {what}: {e}", if m.better.is_some() { "indicator" } else { "feature" }, m.name);
    let filter = match &m.filter {
        Some(f) => format!("\n  WHERE {}", dialect::to_spark(f, Role::Filter).map_err(|e| located("filter", e))?),
        None => String::new(),
    };
    let rows = match &m.pre_aggregate {
        None => format!("{stage}{filter}"),
        Some((by, columns)) => {
            let mut select: Vec<String> = vec!["station_id".to_string(), "period".to_string()];
            select.extend(by.iter().map(|b| ident(b)));
            for (name, e) in columns {
                select.push(format!("{} AS {}", dialect::to_spark(e, Role::PreAggregate).map_err(|x| located("pre_aggregate", x))?, ident(name)));
            }
            // Station columns and period lengths stay available after the first step.
            let used = used_columns(&[m]);
            for n in station_extras(plan, source).into_iter().filter(|n| used.iter().any(|u| u == n)) {
                select.push(format!("first({0}) AS {0}", ident(n)));
            }
            select.push("first(period_hours) AS period_hours".to_string());
            select.push("first(period_months) AS period_months".to_string());
            let group: Vec<String> = ["station_id".to_string(), "period".to_string()].into_iter().chain(by.iter().map(|b| ident(b))).collect();
            format!("(\n  SELECT {}\n  FROM {stage}{filter}\n  GROUP BY {}\n) g", select.join(", "), group.join(", "))
        }
    };
    let value = dialect::to_spark(&m.formula, Role::Formula).map_err(|e| located("formula", e))?;
    Ok(format!(
        "-- {name}: {formula}\nSELECT station_id, period, {variable} AS variable, {value} AS value\nFROM {rows}\nGROUP BY station_id, period",
        name = m.name,
        formula = m.formula.replace('\n', " "),
        variable = text_literal(&m.name),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The measures job of the sample pipeline over its eight quarters, with its locations
    /// named by role: committed in tests/fixtures/spark/ (regenerated with
    /// DUIBIAO_UPDATE_SNAPSHOTS=1, then read before committing).
    #[test]
    fn the_sample_measures_job_reads_as_committed() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let plan = crate::spec::compile::compile_file(&root.join("pipelines/kashgar_quarterly.toml")).unwrap();
        let periods: Vec<Period> = (2019..=2020).flat_map(|y| (1..=4).map(move |q| format!("{y}Q{q}").parse().unwrap())).collect();
        let paths = JobPaths { curated: "<CURATED>".into(), mapping: "<MAPPING>".into(), output: "<OUTPUT>".into() };
        let job = measures_job(&plan, &periods, &paths, true).unwrap().replace(&plan.spec_sha256, "<SHA256>").replace(env!("CARGO_PKG_VERSION"), "<VERSION>");
        let path = root.join("tests/fixtures/spark/kashgar_measures.sql");
        if std::env::var_os("DUIBIAO_UPDATE_SNAPSHOTS").is_some() {
            std::fs::write(&path, &job).unwrap();
        }
        assert!(std::fs::read_to_string(&path).unwrap_or_default() == job, "{} differs from the generated job:\n{job}", path.display());
        // Only what the measures read is held in the stages: the fee stage keeps paid and billed.
        let fee = job.lines().find(|l| l.starts_with("SELECT") && l.contains("r.`paid`")).unwrap();
        assert!(!fee.contains("recovery_rate") && !fee.contains("s.`township`"), "{fee}");
    }
}
