//! The station × period panel: station attributes, the six indicators and the party features,
//! each a SQL aggregate of a curated source (polars, lazy), joined on a complete grid of stations
//! and periods, with lagged features that never bridge a missing period, and a coverage table
//! saying why a cell is empty.
//!
//! Layer `panel` (ARCHITECTURE.md): owns the panel and its quality tables' rows; may import `base`,
//! `spec`, `store` (reading curated partitions through `store::layout`) and `identity`.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};

use polars::prelude::*;

use crate::base::period::{BadPeriod, Grain, Period};
use crate::identity::checks::{IdentityErrors, RowLocation, check_reference_rows};
use crate::identity::{Resolver, StationEntry, resolve_all};
use crate::spec::dialect::Role;
use crate::spec::expr::to_polars;
use crate::spec::plan::{Better, Measure, Plan, SourcePlan, StationKey};
use crate::store::layout;

pub mod measures;
pub(crate) mod scan;

pub use measures::{MeasureEngine, MeasureValue, SourceSpellings};

/// What a panel column holds.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum ColumnKind {
    Attribute,
    Indicator(Better),
    Feature,
    /// A feature at t − lag, paired with indicators at t.
    Lagged {
        feature: String,
        lag: i64,
    },
}

impl ColumnKind {
    pub fn name(&self) -> &'static str {
        match self {
            ColumnKind::Attribute => "attribute",
            ColumnKind::Indicator(_) => "indicator",
            ColumnKind::Feature => "feature",
            ColumnKind::Lagged { .. } => "lagged_feature",
        }
    }
}

/// One numeric panel column, in grid order (station-major, then period).
#[derive(Debug, Clone)]
pub(crate) struct PanelColumn {
    pub name: String,
    pub label: String,
    pub label_en: String,
    pub kind: ColumnKind,
    pub values: Vec<Option<f64>>,
}

/// A station of the grid.
#[derive(Debug, Clone)]
pub(crate) struct PanelStation {
    pub station_id: String,
    pub name: String,
    pub county: Option<String>,
}

/// An empty panel cell and why.
#[derive(Debug, Clone)]
pub(crate) struct Gap {
    pub station_id: String,
    pub period: Period,
    pub variable: String,
    pub reason: String,
}

/// A spelling no station matched.
#[derive(Debug, Clone)]
pub(crate) struct Unmatched {
    pub source: String,
    pub spelling: String,
    pub rows: u64,
    pub candidates: String,
}

/// The built panel.
#[derive(Debug)]
pub(crate) struct Panel {
    pub stations: Vec<PanelStation>,
    pub periods: Vec<Period>,
    pub columns: Vec<PanelColumn>,
    pub gaps: Vec<Gap>,
    pub unmatched: Vec<Unmatched>,
    /// Rows of each measure's source that reached a station (after identity) and that did not.
    pub source_rows: BTreeMap<String, (u64, u64)>,
}

impl Panel {
    pub fn index(&self, station: usize, period: usize) -> usize {
        station * self.periods.len() + period
    }

    pub fn column(&self, name: &str) -> Option<&PanelColumn> {
        self.columns.iter().find(|c| c.name == name)
    }
}

/// The first line of an engine error (polars follows it with the resolved query plan).
fn first_line(error: &PolarsError) -> String {
    error.to_string().lines().next().unwrap_or_default().to_string()
}

fn pe(e: PolarsError) -> PanelError {
    PanelError::Polars(e)
}

/// Partition folders of a source: (period, files).
fn partitions(curated: &Path, source: &str) -> Result<Vec<(Period, Vec<PathBuf>)>, PanelError> {
    let dir = layout::source_dir(curated, source);
    let mut out = Vec::new();
    let entries = std::fs::read_dir(&dir).map_err(|source| PanelError::Read { path: dir.clone(), source })?;
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some(label) = layout::partition_label(&name) else { continue };
        let q: Period = label.parse().map_err(|source| PanelError::Partition { path: entry.path(), source })?;
        let mut files: Vec<PathBuf> = std::fs::read_dir(entry.path())
            .map_err(|source| PanelError::Read { path: entry.path(), source })?
            .flatten()
            .map(|e| e.path())
            .filter(|p| layout::is_partition_file(p))
            .collect();
        files.sort();
        out.push((q, files));
    }
    out.sort();
    Ok(out)
}

fn scan(path: &Path) -> Result<LazyFrame, PanelError> {
    scan::scan_parquet(path).map_err(pe)
}

/// The rows of a partitioned source, one frame per partition, each with a `period` column from
/// the partition folder.
fn source_parts(curated: &Path, source: &str) -> Result<Vec<(Period, LazyFrame)>, PanelError> {
    Ok(source_parts_numbered(curated, source, None)?.0)
}

/// `source_parts`, and with `numbering` the station number column in every frame where the
/// station column holds text; the flag says whether the frames have it.
fn source_parts_numbered(curated: &Path, source: &str, numbering: Option<Arc<scan::Numbering>>) -> Result<(Vec<(Period, LazyFrame)>, bool), PanelError> {
    let found = partitions(curated, source)?;
    let numbering = match (numbering, found.iter().find_map(|(_, files)| files.first())) {
        (Some(n), Some(first)) if scan::holds_text(first, &n.column).map_err(pe)? => Some(n),
        _ => None,
    };
    let mut out = Vec::new();
    for (q, files) in found {
        let frames: Vec<LazyFrame> = files
            .iter()
            .map(|f| scan::scan_numbered(f, numbering.clone()).map_err(pe).map(|lf| lf.with_column(lit(q.to_string()).alias("period"))))
            .collect::<Result<_, _>>()?;
        if !frames.is_empty() {
            out.push((q, concat(frames, UnionArgs::default()).map_err(pe)?));
        }
    }
    if out.is_empty() {
        return Err(PanelError::NoData(source.to_string()));
    }
    Ok((out, numbering.is_some()))
}

/// Station numbers for a source's spelling → station_id mapping: the position of each station
/// id among the sorted ids the mapping reaches, with the number of each spelling.
fn station_numbers(mapping: &HashMap<String, String>) -> (Vec<&str>, HashMap<String, i32>) {
    let ids: Vec<&str> = mapping.values().map(String::as_str).collect::<BTreeSet<_>>().into_iter().collect();
    let numbers = mapping.iter().map(|(k, v)| (k.clone(), ids.binary_search(&v.as_str()).expect("an id of the mapping") as i32)).collect();
    (ids, numbers)
}

fn strings(df: &DataFrame, name: &str) -> Result<Vec<Option<String>>, PanelError> {
    let c = df.column(name).map_err(pe)?.cast(&DataType::String).map_err(pe)?;
    let ca = c.str().map_err(pe)?;
    Ok((0..ca.len()).map(|i| ca.get(i).map(str::to_string)).collect())
}

fn floats(df: &DataFrame, name: &str) -> Result<Vec<Option<f64>>, PanelError> {
    let c = df.column(name).map_err(pe)?.cast(&DataType::Float64).map_err(pe)?;
    let ca = c.f64().map_err(pe)?;
    Ok((0..ca.len()).map(|i| ca.get(i).filter(|v| v.is_finite())).collect())
}

/// Why a panel could not be built.
#[derive(Debug, thiserror::Error)]
pub(crate) enum PanelError {
    /// Spellings that fit more than one station (a data problem: exit 3).
    #[error("{0}")]
    Ambiguous(String),
    /// Repeated codes in the station master or aliases to unknown codes (a data problem: exit 3).
    #[error(transparent)]
    Identity(IdentityErrors),
    #[error("{}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// A folder in the curated data named like a partition but not of a period.
    #[error("{}", path.display())]
    Partition {
        path: PathBuf,
        #[source]
        source: BadPeriod,
    },
    #[error("source '{0}' has no curated data")]
    NoData(String),
    #[error("source '{0}' has no station column")]
    NoStationColumn(String),
    /// An indicator or feature whose formula failed on the data: the engine's message without
    /// the query plan polars appends to it (once per step of the plan).
    #[error("{kind} '{name}': {}", first_line(error))]
    Measure { kind: &'static str, name: String, error: PolarsError },
    #[error(transparent)]
    Polars(PolarsError),
    /// Another engine (Spark) failed or returned what cannot be read.
    #[error("{0}")]
    Engine(String),
}

/// Builds the panel from the curated folder of a run, with the embedded engine.
pub fn build(plan: &Plan, curated: &Path) -> Result<Panel, PanelError> {
    build_with(plan, curated, &mut measures::Embedded { curated })
}

/// Builds the panel with `engine` doing the data-proportional part (the spellings of each
/// measure source, and the measures per station × period); the station master, identity
/// resolution and the assembly (grid, fills, gaps, lags, coverage) stay here for every engine.
pub(crate) fn build_with(plan: &Plan, curated: &Path, engine: &mut dyn MeasureEngine) -> Result<Panel, PanelError> {
    let references = References::read(plan, curated)?;
    let resolver = Resolver::new(&plan.identity, &references.entries, &references.aliases);
    let spellings = engine.spellings(plan, &measure_sources(plan))?;
    let mut resolutions = Resolutions::default();
    for s in &spellings {
        let source = &plan.sources[s.source];
        let (_, key_kind) = source.station.clone().ok_or_else(|| PanelError::NoStationColumn(source.name.clone()))?;
        resolutions.resolve(s.source, source, &s.periods, key_kind, &resolver)?;
    }
    let periods = covered_periods(&spellings);
    let measured = engine.measures(plan, &references, &resolutions.mapping, &periods)?;
    assemble(plan, references, &spellings, resolutions, &measured)
}

/// The assembly: the measures of an engine (a long table) laid on the grid of stations and
/// covered periods, every empty cell with its reason or `fill`, then the lagged features.
pub(crate) fn assemble(
    plan: &Plan,
    references: References,
    spellings: &[SourceSpellings],
    resolutions: Resolutions,
    measured: &[MeasureValue],
) -> Result<Panel, PanelError> {
    let grid = Grid::new(references.entries, covered_periods(spellings));
    let mut columns = attribute_columns(plan, &references.master, &grid)?;
    let mut gaps = Vec::new();
    let mut by_variable: HashMap<&str, Vec<&MeasureValue>> = HashMap::new();
    for m in measured {
        by_variable.entry(m.variable.as_str()).or_default().push(m);
    }
    for (measure, kind) in measures(plan) {
        let source = &plan.sources[measure.source];
        let covered: BTreeSet<Period> = spellings.iter().filter(|s| s.source == measure.source).flat_map(|s| s.periods.iter().map(|(q, _)| *q)).collect();
        let by_period = &resolutions.by_period[&measure.source];
        let cells = by_variable.get(measure.name.as_str()).map(Vec::as_slice).unwrap_or_default();
        let values = fill_cells(measure, source, cells, &covered, by_period, &grid, &mut gaps)?;
        columns.push(PanelColumn { name: measure.name.clone(), label: measure.label.clone(), label_en: measure.label_en.clone(), kind, values });
    }
    let lagged = lagged_columns(plan, &columns, &grid, &mut gaps);
    columns.extend(lagged);

    let Grid { entries, periods, .. } = grid;
    let stations = entries.into_iter().map(|e| PanelStation { station_id: e.station_id, name: e.name, county: e.county }).collect();
    Ok(Panel { stations, periods, columns, gaps, unmatched: resolutions.unmatched, source_rows: resolutions.source_rows })
}

/// The sources the measures read, each once, in the order of their first measure.
pub(crate) fn measure_sources(plan: &Plan) -> Vec<usize> {
    let mut out = Vec::new();
    for (m, _) in measures(plan) {
        if !out.contains(&m.source) {
            out.push(m.source);
        }
    }
    out
}

/// Every period any measure source covers, in order: the periods of the grid.
fn covered_periods(spellings: &[SourceSpellings]) -> Vec<Period> {
    let periods: BTreeSet<Period> = spellings.iter().flat_map(|s| s.periods.iter().map(|(q, _)| *q)).collect();
    periods.into_iter().collect()
}

/// The reference tables the assembly and identity need: the station master (as read, for
/// attributes and station columns), its stations, and the alias table.
pub(crate) struct References {
    pub master: DataFrame,
    pub entries: Vec<StationEntry>,
    pub aliases: Vec<(String, String)>,
}

impl References {
    /// Reads the station master and the alias table of the curated folder and stops on repeated
    /// master codes or aliases to unknown codes.
    pub fn read(plan: &Plan, curated: &Path) -> Result<References, PanelError> {
        let (master, entries) = read_stations(plan, curated)?;
        let aliases = read_aliases(plan, curated)?;
        check_reference_tables(plan, curated, &master)?;
        Ok(References { master, entries, aliases })
    }
}

/// Indicators then features, each with the kind of its column.
fn measures(plan: &Plan) -> impl Iterator<Item = (&Measure, ColumnKind)> {
    let indicators = plan.indicators.iter().map(|m| (m, ColumnKind::Indicator(m.better.unwrap_or(Better::Higher))));
    indicators.chain(plan.features.iter().map(|m| (m, ColumnKind::Feature)))
}

/// The station master and its stations (rows without code or name are left out).
fn read_stations(plan: &Plan, curated: &Path) -> Result<(DataFrame, Vec<StationEntry>), PanelError> {
    let stations_source = &plan.sources[plan.stations];
    let master = scan(&layout::reference_file(curated, &stations_source.name))?.collect().map_err(pe)?;
    let ids = strings(&master, "station_code")?;
    let names = strings(&master, "station_name")?;
    let branches = if stations_source.column("branch_name").is_some() { strings(&master, "branch_name")? } else { vec![None; ids.len()] };
    let counties = match &plan.identity.county_column {
        Some(c) => strings(&master, c)?,
        None => vec![None; ids.len()],
    };
    let mut entries = Vec::new();
    for i in 0..ids.len() {
        let (Some(id), Some(name)) = (&ids[i], &names[i]) else { continue };
        entries.push(StationEntry { station_id: id.clone(), name: name.clone(), branch: branches[i].clone(), county: counties[i].clone() });
    }
    Ok((master, entries))
}

/// The alias table: (spelling, station code).
fn read_aliases(plan: &Plan, curated: &Path) -> Result<Vec<(String, String)>, PanelError> {
    let Some(a) = plan.aliases else { return Ok(Vec::new()) };
    let df = scan(&layout::reference_file(curated, &plan.sources[a].name))?.collect().map_err(pe)?;
    Ok(strings(&df, "spelling")?.into_iter().zip(strings(&df, "station_code")?).filter_map(|(s, c)| Some((s?, c?))).collect())
}

/// The grid: every station × every period, station-major.
struct Grid {
    entries: Vec<StationEntry>,
    periods: Vec<Period>,
    station_index: HashMap<String, usize>,
}

impl Grid {
    fn new(entries: Vec<StationEntry>, periods: Vec<Period>) -> Grid {
        let station_index = entries.iter().enumerate().map(|(i, s)| (s.station_id.clone(), i)).collect();
        Grid { entries, periods, station_index }
    }

    fn cells(&self) -> usize {
        self.entries.len() * self.periods.len()
    }

    fn cell(&self, station: usize, period: usize) -> usize {
        station * self.periods.len() + period
    }
}

/// Attributes: one value per station, repeated over periods.
fn attribute_columns(plan: &Plan, master: &DataFrame, grid: &Grid) -> Result<Vec<PanelColumn>, PanelError> {
    let mut columns = Vec::new();
    if plan.attributes.is_empty() {
        return Ok(columns);
    }
    let exprs: Vec<Expr> = plan
        .attributes
        .iter()
        .map(|a| to_polars(&a.formula, Role::Attribute).map(|e| e.cast(DataType::Float64).alias(a.name.as_str())))
        .collect::<Result<_, _>>()
        .map_err(pe)?;
    let mut select = vec![col("station_code")];
    select.extend(exprs);
    let df = master.clone().lazy().select(select).collect().map_err(pe)?;
    let codes = strings(&df, "station_code")?;
    for a in &plan.attributes {
        let vals = floats(&df, &a.name)?;
        let mut values = vec![None; grid.cells()];
        for (code, v) in codes.iter().zip(vals) {
            if let Some(&s) = code.as_ref().and_then(|c| grid.station_index.get(c)) {
                for p in 0..grid.periods.len() {
                    values[grid.cell(s, p)] = v;
                }
            }
        }
        // Attributes have no English label in the pipeline: English falls back to the key.
        columns.push(PanelColumn { name: a.name.clone(), label: a.label.clone(), label_en: a.name.clone(), kind: ColumnKind::Attribute, values });
    }
    Ok(columns)
}

/// The station master's columns offered to formulas, keyed by station_id.
struct StationColumns {
    frame: LazyFrame,
    names: Vec<String>,
}

impl StationColumns {
    fn new(plan: &Plan, master: &DataFrame) -> StationColumns {
        let frame = master.clone().lazy().with_column(col("station_code").alias("station_id"));
        let names = plan.sources[plan.stations].columns.iter().map(|c| c.name.clone()).collect();
        StationColumns { frame, names }
    }

    /// Master columns a source does not have itself (station_code aside).
    fn extra<'a>(&'a self, source: &'a SourcePlan) -> impl Iterator<Item = &'a String> {
        self.names.iter().filter(move |n| source.column(n).is_none() && n.as_str() != "station_code")
    }
}

/// Station spellings of each measure source resolved once, with the rows that matched and the
/// spellings that did not.
#[derive(Default)]
pub(crate) struct Resolutions {
    /// Per source index: spelling → station_id.
    pub mapping: BTreeMap<usize, HashMap<String, String>>,
    unmatched: Vec<Unmatched>,
    source_rows: BTreeMap<String, (u64, u64)>,
    /// Per source: rows and rows that matched a station, per period.
    by_period: HashMap<usize, BTreeMap<Period, (u64, u64)>>,
}

impl Resolutions {
    /// The spelling → station_id mapping of a source; resolved on first use. A spelling that fits
    /// more than one station stops the panel.
    fn resolve(
        &mut self,
        index: usize,
        source: &SourcePlan,
        period_spellings: &[(Period, Vec<(String, u64)>)],
        key_kind: StationKey,
        resolver: &Resolver,
    ) -> Result<&HashMap<String, String>, PanelError> {
        if !self.mapping.contains_key(&index) {
            let mut spellings: BTreeMap<String, u64> = BTreeMap::new();
            for (_, here) in period_spellings {
                for (k, n) in here {
                    *spellings.entry(k.clone()).or_default() += n;
                }
            }
            let r = resolve_all(resolver, &spellings, key_kind);
            if !r.ambiguous.is_empty() {
                let list: Vec<String> = r.ambiguous.iter().map(|(s, n, ids)| format!("'{s}' ({n} rows) fits stations {}", ids.join(", "))).collect();
                return Err(PanelError::Ambiguous(format!(
                    "source '{}': station spellings that fit more than one station (add them to the alias table):\n  {}",
                    source.name,
                    list.join("\n  ")
                )));
            }
            let matched_rows: u64 = spellings.iter().filter(|(s, _)| r.mapping.contains_key(*s)).map(|(_, n)| n).sum();
            let unmatched_rows: u64 = r.unmatched.iter().map(|(_, n, _)| n).sum();
            for (spelling, rows, candidates) in &r.unmatched {
                self.unmatched.push(Unmatched { source: source.name.clone(), spelling: spelling.clone(), rows: *rows, candidates: candidates.join("; ") });
            }
            self.source_rows.insert(source.name.clone(), (matched_rows, unmatched_rows));
            self.by_period.insert(index, matched_by_period(period_spellings, &r.mapping));
            self.mapping.insert(index, r.mapping);
        }
        Ok(&self.mapping[&index])
    }
}

/// The values of a batch of measures of one source per station and period: for each measure,
/// frames of columns station_id, period, __value, __rows, one per partition, or one for an
/// interval measure. A batch of more than one shares one grouping; its measures have no
/// interval, pre-aggregation or filter (the caller's choice).
///
/// Rows are grouped by a station number (`__station`, from the spelling mapping, added by the
/// scan when `numbered`, else by a join on the spelling) rather than by the station_id text, and
/// a partition's own period is not a grouping key unless the formulas read it: the grouping
/// hashes one integer where it hashed two strings per row. The text columns are put back on the
/// (small) aggregated frame.
#[allow(clippy::too_many_arguments)]
fn aggregate_measures(
    plan: &Plan,
    batch: &[(&Measure, &ColumnKind)],
    parts: &[(Period, LazyFrame)],
    numbered: bool,
    key_column: &str,
    mapping: &HashMap<String, String>,
    stations: &StationColumns,
    periods: &[Period],
) -> Result<Vec<Vec<DataFrame>>, PanelError> {
    let (measure, kind) = batch[0];
    let source = &plan.sources[measure.source];
    let (ids, by_spelling) = station_numbers(mapping);
    let (keys, numbers): (Vec<&str>, Vec<i32>) = by_spelling.iter().map(|(k, n)| (k.as_str(), *n)).unzip();
    let map_frame = DataFrame::new(keys.len(), vec![Column::new(key_column.into(), keys), Column::new(STATION_NUMBER.into(), numbers)]).map_err(pe)?.lazy();
    let numbers_frame = DataFrame::new(
        ids.len(),
        vec![Column::new(STATION_NUMBER.into(), (0..ids.len() as i32).collect::<Vec<i32>>()), Column::new("station_id".into(), ids.clone())],
    )
    .map_err(pe)?
    .lazy();
    // Station columns the measures' expressions read (a join with the master only for those).
    let mut used = BTreeSet::new();
    for (m, _) in batch {
        used.extend(measure_roots(m)?);
    }
    let extra_used: Vec<&String> = stations.extra(source).filter(|n| used.contains(n.as_str())).collect();
    let extra_frame = if extra_used.is_empty() {
        None
    } else {
        let extra: Vec<Expr> = extra_used.iter().map(|n| col(n.as_str())).chain([col("station_id")]).collect();
        let by_number =
            stations.frame.clone().select(extra).join(numbers_frame.clone(), [col("station_id")], [col("station_id")], JoinArgs::new(JoinType::Inner));
        Some(by_number.drop(Selector::ByName { names: Arc::new([PlSmallStr::from("station_id")]), strict: true }))
    };
    // The station_id text only where a formula reads it; the same for the period lengths.
    let rows_station_id = used.contains("station_id");
    let uses_lengths = used.contains("period_hours") || used.contains("period_months");
    // The period is a grouping key where rows of one frame can belong to several periods
    // (interval measures) or where a formula reads it.
    let period_key = measure.interval.is_some() || used.contains("period");
    let aggregate = |frame: LazyFrame, period: Option<Period>| -> Result<DataFrame, PanelError> {
        // Rows of spellings that name no station are left out.
        let mut rows = if numbered {
            frame.filter(col(STATION_NUMBER).is_not_null())
        } else {
            // The mapping holds spellings as text (the spellings are read as text too): a station
            // column of another type is joined by its text form.
            frame.join(map_frame.clone(), [col(key_column).cast(DataType::String)], [col(key_column)], JoinArgs::new(JoinType::Inner))
        };
        if rows_station_id {
            rows = rows.join(numbers_frame.clone(), [col(STATION_NUMBER)], [col(STATION_NUMBER)], JoinArgs::new(JoinType::Left));
        }
        if let Some((start, end)) = &measure.interval {
            rows = split_intervals(rows.collect().map_err(pe)?, start, end, plan.grain, plan.utc_offset_minutes)?.lazy();
        }
        // Period lengths by a join, not as literals: a literal lets the optimizer fold constants
        // and round differently from earlier runs. Only for measures that read them.
        if uses_lengths {
            rows = rows.join(period_lengths(periods)?, [col("period")], [col("period")], JoinArgs::new(JoinType::Left));
        }
        if let Some(extra) = &extra_frame {
            rows = rows.join(extra.clone(), [col(STATION_NUMBER)], [col(STATION_NUMBER)], JoinArgs::new(JoinType::Left));
        }
        if let Some(f) = &measure.filter {
            rows = rows.filter(to_polars(f, Role::Filter).map_err(pe)?);
        }
        let mut keys = vec![col(STATION_NUMBER)];
        if period_key {
            keys.push(col("period"));
        }
        if let Some((by, aggs)) = &measure.pre_aggregate {
            let mut group: Vec<Expr> = keys.clone();
            group.extend(by.iter().map(|b| col(b.as_str())));
            let mut exprs: Vec<Expr> =
                aggs.iter().map(|(n, e)| to_polars(e, Role::PreAggregate).map(|x| x.alias(n.as_str()))).collect::<Result<_, _>>().map_err(pe)?;
            // Station columns and period hours stay available after the first step.
            exprs.extend(extra_used.iter().map(|n| col(n.as_str()).first()));
            if rows_station_id {
                exprs.push(col("station_id").first());
            }
            if uses_lengths {
                exprs.push(col("period_hours").first());
                exprs.push(col("period_months").first());
            }
            rows = rows.group_by(group).agg(exprs);
        }
        let mut values: Vec<Expr> = batch
            .iter()
            .enumerate()
            .map(|(k, (m, _))| {
                let formula = if crate::store::testhook::failing_measure(&m.name) { Ok(col("__test_failure")) } else { to_polars(&m.formula, Role::Formula) };
                formula.map(|f| f.cast(DataType::Float64).alias(value_column(batch.len(), k)))
            })
            .collect::<Result<_, _>>()
            .map_err(pe)?;
        values.push(len().alias("__rows"));
        let mut aggregated = rows.group_by(keys).agg(values);
        aggregated = aggregated.join(numbers_frame.clone(), [col(STATION_NUMBER)], [col(STATION_NUMBER)], JoinArgs::new(JoinType::Left));
        if let (false, Some(q)) = (period_key, period) {
            aggregated = aggregated.with_column(lit(q.to_string()).alias("period"));
        }
        aggregated.collect().map_err(|error| PanelError::Measure { kind: kind.name(), name: measure.name.clone(), error })
    };
    let frames: Vec<DataFrame> = if measure.interval.is_some() {
        let whole = concat(parts.iter().map(|(_, f)| f.clone()).collect::<Vec<_>>(), UnionArgs::default()).map_err(pe)?;
        vec![aggregate(whole, None)?]
    } else {
        // One partition at a time (each query is parallel inside): two side by side took the
        // province panel's peak memory from 0.7 to 1.2 GB for a small gain in time.
        parts.iter().map(|(q, f)| aggregate(f.clone(), Some(*q))).collect::<Result<_, _>>()?
    };
    if batch.len() == 1 {
        return Ok(vec![frames]);
    }
    // Each measure's frames: its value column as __value.
    let own = |f: &DataFrame, k: usize| -> Result<DataFrame, PanelError> {
        let value = f.column(&value_column(batch.len(), k)).map_err(pe)?.clone().with_name("__value".into());
        let columns =
            vec![f.column("station_id").map_err(pe)?.clone(), f.column("period").map_err(pe)?.clone(), value, f.column("__rows").map_err(pe)?.clone()];
        DataFrame::new(f.height(), columns).map_err(pe)
    };
    (0..batch.len()).map(|k| frames.iter().map(|f| own(f, k)).collect()).collect()
}

/// The value column of the `k`-th measure of a batch of `n`.
fn value_column(n: usize, k: usize) -> String {
    if n == 1 { "__value".to_string() } else { format!("__value_{k}") }
}

/// The station number column of the grouping (see `aggregate_measure`); no pipeline column can
/// have this name (column names start with a lowercase letter).
const STATION_NUMBER: &str = "__station";

/// Column names a measure's formula, filter and pre-aggregation read.
fn measure_roots(measure: &Measure) -> Result<BTreeSet<String>, PanelError> {
    let mut texts: Vec<&str> = vec![measure.formula.as_str()];
    texts.extend(measure.filter.as_deref());
    if let Some((_, aggs)) = &measure.pre_aggregate {
        texts.extend(aggs.iter().map(|(_, e)| e.as_str()));
    }
    let mut roots = BTreeSet::new();
    for text in texts {
        roots.extend(crate::spec::dialect::columns(text));
    }
    Ok(roots)
}

/// `period`, `period_hours` and `period_months` of the grid's periods, for formulas.
fn period_lengths(periods: &[Period]) -> Result<LazyFrame, PanelError> {
    let hours: Vec<f64> = periods.iter().map(|q| q.hours()).collect();
    let months: Vec<f64> = periods.iter().map(|q| f64::from(q.grain.months())).collect();
    let labels: Vec<String> = periods.iter().map(|q| q.to_string()).collect();
    let frame = DataFrame::new(
        labels.len(),
        vec![Column::new("period".into(), labels), Column::new("period_hours".into(), hours), Column::new("period_months".into(), months)],
    )
    .map_err(pe)?;
    Ok(frame.lazy())
}

/// A measure's column on the grid; every empty cell gets a gap saying why (or `fill`).
fn fill_cells(
    measure: &Measure,
    source: &SourcePlan,
    aggregated: &[&MeasureValue],
    covered: &BTreeSet<Period>,
    by_period: &BTreeMap<Period, (u64, u64)>,
    grid: &Grid,
    gaps: &mut Vec<Gap>,
) -> Result<Vec<Option<f64>>, PanelError> {
    let mut values = vec![None; grid.cells()];
    let mut had_rows = vec![false; grid.cells()];
    for m in aggregated {
        if let (Some(&s), Ok(p)) = (grid.station_index.get(&m.station_id), grid.periods.binary_search(&m.period)) {
            values[grid.cell(s, p)] = m.value.filter(|v| v.is_finite());
            had_rows[grid.cell(s, p)] = true;
        }
    }
    for s in 0..grid.entries.len() {
        for (p, q) in grid.periods.iter().enumerate() {
            let i = grid.cell(s, p);
            if values[i].is_some() {
                continue;
            }
            let reason = if !covered.contains(q) {
                format!("来源 '{0}' 没有 {q} 的数据 · source '{0}' has no data for {q}", source.name)
            } else if had_rows[i] {
                "公式无结果（分母为零或输入缺失）· formula gives no value (zero denominator or missing inputs)".to_string()
            } else if let Some(reason) = no_matched_rows(&source.name, *q, by_period) {
                // `fill` stands for "no rows for this station" only where the source reached stations.
                reason
            } else if let Some(fill) = measure.fill {
                values[i] = Some(fill);
                continue;
            } else {
                format!("来源 '{0}' 中该供电所本期没有记录 · no rows in source '{0}' for this station and period", source.name)
            };
            gaps.push(Gap { station_id: grid.entries[s].station_id.clone(), period: *q, variable: measure.name.clone(), reason });
        }
    }
    Ok(values)
}

/// Lagged features: the value at t − k of the same station, by calendar, never by row order.
fn lagged_columns(plan: &Plan, columns: &[PanelColumn], grid: &Grid, gaps: &mut Vec<Gap>) -> Vec<PanelColumn> {
    let periods = &grid.periods;
    let mut lagged = Vec::new();
    for m in &plan.features {
        let base = &columns.iter().find(|c| c.name == m.name).expect("every feature has its column").values;
        for &lag in plan.lags.iter().filter(|l| **l > 0) {
            let mut values = vec![None; grid.cells()];
            for s in 0..grid.entries.len() {
                for (p, q) in periods.iter().enumerate() {
                    let earlier = q.ordinal() - lag;
                    let earlier_value = periods.iter().position(|x| x.ordinal() == earlier).and_then(|pp| base[grid.cell(s, pp)]);
                    values[grid.cell(s, p)] = earlier_value;
                    if earlier_value.is_none() {
                        let reason = match periods.iter().find(|x| x.ordinal() == earlier) {
                            Some(e) => format!("'{0}' 在 {e} 为空 · '{0}' is empty in {e}", m.name),
                            None => format!("数据中没有 {q} 之前第 {lag} 期 · no period {lag} before {q} in the data"),
                        };
                        gaps.push(Gap { station_id: grid.entries[s].station_id.clone(), period: *q, variable: format!("{}_lag{lag}", m.name), reason });
                    }
                }
            }
            lagged.push(PanelColumn {
                name: format!("{}_lag{lag}", m.name),
                label: format!("{}（滞后{lag}期）", m.label),
                label_en: format!("{} (lag {lag})", m.label_en),
                kind: ColumnKind::Lagged { feature: m.name.clone(), lag },
                values,
            });
        }
    }
    lagged
}

/// Rows and matched rows of a source per period, from its spellings per period.
fn matched_by_period(period_spellings: &[(Period, Vec<(String, u64)>)], mapping: &HashMap<String, String>) -> BTreeMap<Period, (u64, u64)> {
    let mut out: BTreeMap<Period, (u64, u64)> = BTreeMap::new();
    for (q, spellings) in period_spellings {
        let entry = out.entry(*q).or_default();
        for (spelling, rows) in spellings {
            entry.0 += rows;
            if mapping.contains_key(spelling) {
                entry.1 += rows;
            }
        }
    }
    out
}

/// The coverage reason of a period in which a source has rows but none reached a station: its
/// cells stay empty (never filled), since nothing says the stations had no rows.
fn no_matched_rows(source: &str, q: Period, by_period: &BTreeMap<Period, (u64, u64)>) -> Option<String> {
    match by_period.get(&q) {
        Some(&(rows, 0)) => Some(format!(
            "来源 '{source}' 在 {q} 有 {rows} 行，但没有一行对应到供电所（见未匹配写法表），本期不填充 · source '{source}' has {rows} row(s) in {q} but none matched a station (see the unmatched spellings), so nothing is filled"
        )),
        _ => None,
    }
}

/// Reads the located codes of the station master and the alias table and stops on repeated
/// master codes or aliases to unknown codes (`identity::checks`).
fn check_reference_tables(plan: &Plan, curated: &Path, master: &DataFrame) -> Result<(), PanelError> {
    let located = |df: &DataFrame| -> Result<Vec<RowLocation>, PanelError> {
        let (files, lines) = (strings(df, "source_file")?, floats(df, "source_row")?);
        Ok(files.into_iter().zip(lines).map(|(f, l)| RowLocation { file: f.unwrap_or_default(), line: l.map_or(0, |l| l as u64) }).collect())
    };
    let codes: Vec<(String, RowLocation)> = strings(master, "station_code")?.into_iter().zip(located(master)?).filter_map(|(c, at)| Some((c?, at))).collect();
    let mut aliases = Vec::new();
    if let Some(a) = plan.aliases {
        let df = scan(&layout::reference_file(curated, &plan.sources[a].name))?.collect().map_err(pe)?;
        aliases =
            strings(&df, "spelling")?.into_iter().zip(strings(&df, "station_code")?).zip(located(&df)?).filter_map(|((s, c), at)| Some((s?, c?, at))).collect();
    }
    let problems = check_reference_rows(&codes, &aliases);
    if problems.is_empty() {
        return Ok(());
    }
    Err(PanelError::Identity(IdentityErrors {
        stations: plan.sources[plan.stations].name.clone(),
        aliases: plan.aliases.map(|a| plan.sources[a].name.clone()),
        problems,
    }))
}

/// Splits interval rows over the periods they overlap (in local time), adding `overlap_hours`
/// and replacing `period` with each overlapped period.
fn split_intervals(df: DataFrame, start: &str, end: &str, grain: Grain, utc_offset_minutes: i32) -> Result<DataFrame, PanelError> {
    let ts = |name: &str| -> Result<Vec<Option<i64>>, PanelError> {
        let c = df.column(name).map_err(pe)?.cast(&DataType::Int64).map_err(pe)?;
        let ca = c.i64().map_err(pe)?.clone();
        Ok((0..ca.len()).map(|i| ca.get(i)).collect())
    };
    let (starts, ends) = (ts(start)?, ts(end)?);
    let offset_us = i64::from(utc_offset_minutes) * 60 * 1_000_000;
    let period_start_us = |q: Period| -> i64 { i64::from(q.start_days()) * 86_400_000_000 - offset_us };
    let mut take: Vec<IdxSize> = Vec::new();
    let mut period = Vec::new();
    let mut overlap = Vec::new();
    for i in 0..df.height() {
        let (Some(s), Some(e)) = (starts[i], ends[i]) else { continue };
        if e <= s {
            continue;
        }
        let local_day = ((s + offset_us).div_euclid(86_400_000_000)) as i32;
        let mut q = Period::of_day(grain, local_day);
        loop {
            let (qs, qe) = (period_start_us(q), period_start_us(q.next()));
            if qs >= e {
                break;
            }
            let hours = (e.min(qe) - s.max(qs)) as f64 / 3.6e9;
            if hours > 0.0 {
                take.push(i as IdxSize);
                period.push(q.to_string());
                overlap.push(hours);
            }
            q = q.next();
        }
    }
    let idx = IdxCa::from_vec("idx".into(), take);
    let mut out = df.take(&idx).map_err(pe)?;
    out.with_column(Column::new("period".into(), period)).map_err(pe)?;
    out.with_column(Column::new("overlap_hours".into(), overlap)).map_err(pe)?;
    Ok(out)
}
