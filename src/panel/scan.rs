//! Curated Parquet files as polars lazy frames, read by the same Parquet library that wrote
//! them (arrow-rs). polars sees each file as a scan that reads only the columns a query uses
//! (projection pushdown), so the panel's queries read what they need; polars' own Parquet
//! reader, and the streaming engine it brings, are not compiled in.
//!
//! Curated files hold the BI-safe types only (`store::parquet`): UTF-8, Int64, Float64, DATE
//! and TIMESTAMP(µs, UTC). Anything else is reported, naming the file and column.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow::array::{Array, AsArray};
use arrow::datatypes::{DataType as ArrowType, Field as ArrowField, Int32Type, Schema as ArrowSchema, TimeUnit as ArrowUnit};
use arrow::ffi::FFI_ArrowArray;
use parquet::arrow::ProjectionMask;
use parquet::arrow::arrow_reader::{ArrowReaderMetadata, ArrowReaderOptions, ParquetRecordBatchReader, ParquetRecordBatchReaderBuilder};
use polars::prelude::*;
use rayon::prelude::*;

/// A lazy frame over one Parquet file.
pub(crate) fn scan_parquet(path: &Path) -> PolarsResult<LazyFrame> {
    scan_numbered(path, None)
}

/// Station numbers for the spellings of a text column: the scan adds a column `name` (Int32)
/// holding each row's number, null where the spelling has none (or is missing).
pub(crate) struct Numbering {
    /// The text column holding the spellings.
    pub column: String,
    /// The added column.
    pub name: String,
    pub numbers: std::collections::HashMap<String, i32>,
}

/// A lazy frame over one Parquet file, with the station number column of `numbering` when
/// given. The numbered column must hold text (`holds_text`; else an error naming the file and
/// column). The numbers are looked up once per dictionary entry of the stored column, not once
/// per row.
pub(crate) fn scan_numbered(path: &Path, numbering: Option<Arc<Numbering>>) -> PolarsResult<LazyFrame> {
    let builder = open(path)?;
    let arrow_schema = builder.schema().clone();
    let mut schema = Schema::default();
    for field in arrow_schema.fields() {
        schema.insert(field.name().as_str().into(), polars_type(path, field.name(), field.data_type())?);
    }
    let names: Vec<String> = arrow_schema.fields().iter().map(|f| f.name().clone()).collect();
    let numbering = match numbering {
        Some(n) => {
            let Some(at) = names.iter().position(|c| *c == n.column) else { return Err(failed(path, format!("no column '{}'", n.column))) };
            if !is_text(arrow_schema.field(at).data_type()) {
                return Err(failed(path, format!("column '{}' holds no text to number", n.column)));
            }
            schema.insert(n.name.as_str().into(), DataType::Int32);
            Some((at, n))
        }
        None => None,
    };
    let scan = ParquetScan { path: path.to_path_buf(), names, numbering };
    LazyFrame::anonymous_scan(Arc::new(scan), ScanArgsAnonymous { schema: Some(Arc::new(schema)), name: "PARQUET (arrow-rs)", ..ScanArgsAnonymous::default() })
}

/// Whether a file's column holds text (the columns `scan_numbered` can number).
pub(crate) fn holds_text(path: &Path, column: &str) -> PolarsResult<bool> {
    let builder = open(path)?;
    Ok(builder.schema().fields().iter().any(|f| f.name() == column && is_text(f.data_type())))
}

fn failed(path: &Path, what: impl std::fmt::Display) -> PolarsError {
    PolarsError::ComputeError(format!("{}: {what}", path.display()).into())
}

fn open(path: &Path) -> PolarsResult<ParquetRecordBatchReaderBuilder<File>> {
    let file = File::open(path).map_err(|e| failed(path, e))?;
    ParquetRecordBatchReaderBuilder::try_new(file).map_err(|e| failed(path, e))
}

/// Whether a stored Arrow type is text (UTF-8 with offsets).
fn is_text(t: &ArrowType) -> bool {
    matches!(t, ArrowType::Utf8 | ArrowType::LargeUtf8)
}

/// A file's reader metadata, each column read as `read_as(its index, its stored type)`.
fn hinted_metadata(path: &Path, read_as: impl Fn(usize, &ArrowType) -> ArrowType) -> PolarsResult<ArrowReaderMetadata> {
    let file = File::open(path).map_err(|e| failed(path, e))?;
    let stored = ArrowReaderMetadata::load(&file, ArrowReaderOptions::new()).map_err(|e| failed(path, e))?;
    let hinted: Vec<ArrowField> =
        stored.schema().fields().iter().enumerate().map(|(i, f)| f.as_ref().clone().with_data_type(read_as(i, f.data_type()))).collect();
    let options = ArrowReaderOptions::new().with_schema(Arc::new(ArrowSchema::new(hinted)));
    ArrowReaderMetadata::try_new(stored.metadata().clone(), options).map_err(|e| failed(path, e))
}

/// A reader of the `columns` (file indices) of one row group, `batch` rows at a time; each
/// reader opens the file itself, so row groups can be read side by side.
fn row_group_reader(
    path: &Path,
    metadata: &ArrowReaderMetadata,
    columns: impl IntoIterator<Item = usize>,
    group: usize,
    batch: usize,
) -> PolarsResult<ParquetRecordBatchReader> {
    let file = File::open(path).map_err(|e| failed(path, e))?;
    let builder = ParquetRecordBatchReaderBuilder::new_with_metadata(file, metadata.clone());
    let mask = ProjectionMask::roots(builder.parquet_schema(), columns);
    builder.with_projection(mask).with_row_groups(vec![group]).with_batch_size(batch).build().map_err(|e| failed(path, e))
}

/// The polars type of a curated column.
fn polars_type(path: &Path, name: &str, t: &ArrowType) -> PolarsResult<DataType> {
    Ok(match t {
        ArrowType::Utf8 | ArrowType::LargeUtf8 | ArrowType::Utf8View => DataType::String,
        ArrowType::Int64 => DataType::Int64,
        ArrowType::Int32 => DataType::Int32,
        ArrowType::Float64 => DataType::Float64,
        ArrowType::Boolean => DataType::Boolean,
        ArrowType::Date32 => DataType::Date,
        ArrowType::Timestamp(ArrowUnit::Microsecond, tz) => DataType::Datetime(TimeUnit::Microseconds, TimeZone::opt_try_new(tz.as_deref())?),
        other => return Err(unexpected(path, name, other)),
    })
}

/// A column of a type curated files never hold.
fn unexpected(path: &Path, name: &str, t: &ArrowType) -> PolarsError {
    failed(path, format!("column '{name}' has the type {t}, which curated files do not hold"))
}

struct ParquetScan {
    path: PathBuf,
    names: Vec<String>,
    /// The numbered column's index and its numbering.
    numbering: Option<(usize, Arc<Numbering>)>,
}

/// A column of the scan's output: one of the file's, or the station numbers.
#[derive(Clone, Copy, PartialEq)]
enum Wanted {
    File(usize),
    Numbers,
}

impl AnonymousScan for ParquetScan {
    fn as_any(&self) -> &dyn std::any::Any {
        self
    }

    fn allows_projection_pushdown(&self) -> bool {
        true
    }

    fn scan(&self, args: AnonymousScanArgs) -> PolarsResult<DataFrame> {
        let numbers_name = self.numbering.as_ref().map(|(_, n)| n.name.as_str());
        let wanted: Vec<Wanted> = match &args.with_columns {
            Some(columns) => columns
                .iter()
                .map(|c| match self.names.iter().position(|n| n == c.as_str()) {
                    Some(i) => Ok(Wanted::File(i)),
                    None if Some(c.as_str()) == numbers_name => Ok(Wanted::Numbers),
                    None => Err(failed(&self.path, format!("no column '{c}'"))),
                })
                .collect::<PolarsResult<_>>()?,
            None => (0..self.names.len()).map(Wanted::File).chain(numbers_name.map(|_| Wanted::Numbers)).collect(),
        };
        let numbered = wanted.contains(&Wanted::Numbers).then(|| self.numbering.clone()).flatten();
        // Text is read as Arrow string views: polars' own layout, so the columns cross over as
        // they are, and dictionary-encoded pages become views into their dictionary. A numbered
        // column is read as the dictionary it is stored as.
        let metadata = hinted_metadata(&self.path, |i, t| if numbered.as_ref().is_some_and(|(at, _)| *at == i) { dictionary_of_text() } else { read_type(t) })?;
        // The file columns to read, in the file's order (the batches' order).
        let mut read: Vec<usize> = wanted.iter().filter_map(|w| if let Wanted::File(i) = w { Some(*i) } else { None }).collect();
        read.extend(numbered.as_ref().map(|(at, _)| *at));
        read.sort_unstable();
        read.dedup();
        let groups: Vec<(usize, usize)> = metadata.metadata().row_groups().iter().enumerate().map(|(g, rg)| (g, rg.num_rows() as usize)).collect();
        // Row groups are decoded side by side, each into one batch per column.
        let decoded: Vec<Vec<Series>> = groups
            .par_iter()
            .map(|&(group, rows)| -> PolarsResult<Vec<Series>> {
                let reader = row_group_reader(&self.path, &metadata, read.iter().copied(), group, rows.max(1))?;
                let mut columns: Vec<Series> = Vec::with_capacity(wanted.len());
                for batch in reader {
                    let batch = batch.map_err(|e| failed(&self.path, e))?;
                    let column = |i: usize| batch.column(read.iter().position(|r| *r == i).expect("a column read"));
                    for (k, w) in wanted.iter().enumerate() {
                        let part = match (w, &numbered) {
                            (Wanted::Numbers, Some((at, numbering))) => numbers(&self.path, numbering, column(*at).as_ref())?,
                            (Wanted::Numbers, None) => unreachable!("numbers are wanted only with a numbering"),
                            (Wanted::File(i), Some((at, _))) if i == at => {
                                let text = arrow::compute::cast(column(*i).as_ref(), &ArrowType::Utf8View).map_err(|e| failed(&self.path, e))?;
                                series(&self.path, &self.names[*i], text.as_ref())?
                            }
                            (Wanted::File(i), _) => series(&self.path, &self.names[*i], column(*i).as_ref())?,
                        };
                        match columns.get_mut(k) {
                            Some(whole) => {
                                whole.append(&part)?;
                            }
                            None => columns.push(part),
                        }
                    }
                }
                Ok(columns)
            })
            .collect::<PolarsResult<_>>()?;
        let height = groups.iter().map(|(_, rows)| rows).sum();
        let columns = wanted
            .iter()
            .enumerate()
            .map(|(k, w)| {
                let name = match w {
                    Wanted::File(i) => self.names[*i].as_str(),
                    Wanted::Numbers => numbers_name.expect("a numbering"),
                };
                let mut whole = Series::new_empty(PlSmallStr::from(name), args.schema.get(name).expect("a scanned column"));
                for group in &decoded {
                    if let Some(part) = group.get(k) {
                        whole.append(part)?;
                    }
                }
                Ok(whole.into_column())
            })
            .collect::<PolarsResult<Vec<Column>>>()?;
        DataFrame::new(height, columns)
    }
}

/// The Arrow type text is counted and numbered in: the dictionary it is stored as.
fn dictionary_of_text() -> ArrowType {
    ArrowType::Dictionary(Box::new(ArrowType::Int32), Box::new(ArrowType::Utf8))
}

/// The station numbers of a dictionary-typed text column: looked up once per entry.
fn numbers(path: &Path, numbering: &Numbering, array: &dyn Array) -> PolarsResult<Series> {
    let Some(array) = array.as_dictionary_opt::<Int32Type>() else {
        return Err(failed(path, format!("column '{}' was not read as a dictionary", numbering.column)));
    };
    let values = array.values().as_string::<i32>();
    let per_entry: Vec<Option<i32>> =
        (0..values.len()).map(|e| if values.is_valid(e) { numbering.numbers.get(values.value(e)).copied() } else { None }).collect();
    let numbers = array.keys().iter().map(|key| key.and_then(|k| per_entry[k as usize]));
    Ok(Int32Chunked::from_iter_options(PlSmallStr::from(numbering.name.as_str()), numbers).into_series())
}

/// The distinct values of a text column of one file with their rows (nulls not counted), in
/// the values' order; None when the column does not hold text. The column is read as Arrow
/// dictionaries, which is how it is stored: rows are counted per dictionary entry and only
/// the entries are looked at as text.
pub(crate) fn value_counts(path: &Path, column: &str) -> PolarsResult<Option<Vec<(String, u64)>>> {
    let stored = open(path)?.schema().clone();
    let Some(index) = stored.fields().iter().position(|f| f.name() == column) else {
        return Err(failed(path, format!("no column '{column}'")));
    };
    if !is_text(stored.field(index).data_type()) {
        return Ok(None);
    }
    let metadata = hinted_metadata(path, |i, t| if i == index { dictionary_of_text() } else { t.clone() })?;
    let groups: Vec<usize> = (0..metadata.metadata().num_row_groups()).collect();
    let counted: Vec<std::collections::HashMap<String, u64>> = groups
        .par_iter()
        .map(|&group| -> PolarsResult<std::collections::HashMap<String, u64>> {
            let reader = row_group_reader(path, &metadata, [index], group, 64 * 1024)?;
            let mut counts = std::collections::HashMap::new();
            for batch in reader {
                let batch = batch.map_err(|e| failed(path, e))?;
                let array = batch.column(0).as_dictionary::<Int32Type>();
                let values = array.values().as_string::<i32>();
                let mut per_entry = vec![0u64; values.len()];
                for key in array.keys().iter().flatten() {
                    per_entry[key as usize] += 1;
                }
                for (entry, &n) in per_entry.iter().enumerate() {
                    if n > 0 && values.is_valid(entry) {
                        *counts.entry(values.value(entry).to_string()).or_insert(0) += n;
                    }
                }
            }
            Ok(counts)
        })
        .collect::<PolarsResult<_>>()?;
    let mut all: std::collections::BTreeMap<String, u64> = std::collections::BTreeMap::new();
    for counts in counted {
        for (value, n) in counts {
            *all.entry(value).or_insert(0) += n;
        }
    }
    Ok(Some(all.into_iter().collect()))
}

/// The Arrow type a column is read as: text as string views, the rest as written.
fn read_type(t: &ArrowType) -> ArrowType {
    match t {
        ArrowType::Utf8 | ArrowType::LargeUtf8 => ArrowType::Utf8View,
        other => other.clone(),
    }
}

/// One Arrow column as a polars Series of the matching type. The buffers are handed over through
/// the Arrow C data interface, which arrow-rs and polars both implement: no value is copied.
fn series(path: &Path, name: &str, array: &dyn Array) -> PolarsResult<Series> {
    use polars_arrow::datatypes::{ArrowDataType as PlType, TimeUnit as PlUnit};
    let target = match array.data_type() {
        ArrowType::Utf8View => PlType::Utf8View,
        ArrowType::Int64 => PlType::Int64,
        ArrowType::Int32 => PlType::Int32,
        ArrowType::Float64 => PlType::Float64,
        ArrowType::Boolean => PlType::Boolean,
        ArrowType::Date32 => PlType::Date32,
        ArrowType::Timestamp(ArrowUnit::Microsecond, tz) => PlType::Timestamp(PlUnit::Microsecond, tz.as_deref().map(PlSmallStr::from)),
        other => return Err(unexpected(path, name, other)),
    };
    let exported = FFI_ArrowArray::new(&array.to_data());
    // SAFETY: both structs are the C data interface's `struct ArrowArray` (#[repr(C)], the same
    // fields in the same order; the transmute checks the size). Moving it hands its release
    // callback to polars, which calls it once when the last column using the buffers is dropped.
    let imported = unsafe {
        let c: polars_arrow::ffi::ArrowArray = std::mem::transmute::<FFI_ArrowArray, polars_arrow::ffi::ArrowArray>(exported);
        polars_arrow::ffi::import_array_from_c(c, target)
    }
    .map_err(|e| failed(path, format!("column '{name}': {e}")))?;
    Series::from_arrow(PlSmallStr::from(name), imported)
}

#[cfg(test)]
mod tests {
    use arrow::array::{ArrayRef, Date32Array, Float64Array, Int64Array, StringArray, TimestampMicrosecondArray, UInt8Array};

    use super::*;
    use crate::store::parquet::{RunStamp, write_parquet};

    fn i64s(c: &Column) -> Vec<Option<i64>> {
        let c = c.cast(&DataType::Int64).unwrap();
        let ca = c.i64().unwrap();
        (0..ca.len()).map(|i| ca.get(i)).collect()
    }

    fn strs(c: &Column) -> Vec<Option<String>> {
        let ca = c.str().unwrap();
        (0..ca.len()).map(|i| ca.get(i).map(str::to_string)).collect()
    }

    fn stamp() -> RunStamp {
        RunStamp { run_id: "test".into(), table: "t".into() }
    }

    #[test]
    fn curated_types_arrive_as_polars_types_and_only_used_columns_are_read() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("one.parquet");
        let columns: Vec<(String, ArrayRef)> = vec![
            ("name".into(), Arc::new(StringArray::from(vec![Some("库夏吐加"), None, Some("")]))),
            ("kwh".into(), Arc::new(Float64Array::from(vec![Some(1.5), Some(-2.0), None]))),
            ("n".into(), Arc::new(Int64Array::from(vec![None, Some(7), Some(-3)]))),
            ("day".into(), Arc::new(Date32Array::from(vec![Some(18_262), None, Some(0)]))),
            ("at".into(), Arc::new(TimestampMicrosecondArray::from(vec![Some(1_600_000_000_000_000), None, Some(-1)]).with_timezone("UTC"))),
        ];
        write_parquet(&path, columns, &stamp()).unwrap();

        let lf = scan_parquet(&path).unwrap();
        let mut lf2 = lf.clone();
        let schema = lf2.collect_schema().unwrap();
        let types: Vec<(String, DataType)> = schema.iter().map(|(n, t)| (n.to_string(), t.clone())).collect();
        assert_eq!(
            types,
            vec![
                ("name".to_string(), DataType::String),
                ("kwh".to_string(), DataType::Float64),
                ("n".to_string(), DataType::Int64),
                ("day".to_string(), DataType::Date),
                ("at".to_string(), DataType::Datetime(TimeUnit::Microseconds, Some(TimeZone::UTC))),
            ]
        );

        // Two columns, in the query's order (not the file's).
        let df = lf.clone().select([col("n"), col("name")]).collect().unwrap();
        assert_eq!(df.width(), 2);
        let n = i64s(df.column("n").unwrap());
        assert_eq!(n, vec![None, Some(7), Some(-3)]);
        let name = strs(df.column("name").unwrap());
        assert_eq!(name, vec![Some("库夏吐加".to_string()), None, Some(String::new())]);

        // Dates and times keep their values: 2020-01-01 is day 18 262; times are µs in UTC.
        let all = lf.collect().unwrap();
        let day = i64s(all.column("day").unwrap());
        assert_eq!(day, vec![Some(18_262), None, Some(0)]);
        let at = i64s(all.column("at").unwrap());
        assert_eq!(at, vec![Some(1_600_000_000_000_000), None, Some(-1)]);
        let kwh: Vec<Option<f64>> = {
            let ca = all.column("kwh").unwrap().f64().unwrap().clone();
            (0..ca.len()).map(|i| ca.get(i)).collect()
        };
        assert_eq!(kwh, vec![Some(1.5), Some(-2.0), None]);
    }

    #[test]
    fn a_file_of_many_row_groups_reads_whole_in_order_and_an_empty_one_keeps_its_schema() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("big.parquet");
        // 600 000 rows: three row groups of at most 256 Ki rows, decoded side by side.
        let n: i64 = 600_000;
        let values: Vec<Option<i64>> = (0..n).map(|i| if i % 7 == 3 { None } else { Some(i) }).collect();
        let text: Vec<String> = (0..n).map(|i| format!("站{}", i % 1000)).collect();
        let columns: Vec<(String, ArrayRef)> =
            vec![("v".into(), Arc::new(Int64Array::from(values))), ("s".into(), Arc::new(StringArray::from_iter_values(text.iter())))];
        write_parquet(&path, columns, &stamp()).unwrap();
        assert_eq!(ParquetRecordBatchReaderBuilder::try_new(File::open(&path).unwrap()).unwrap().metadata().num_row_groups(), 3);
        let df = scan_parquet(&path).unwrap().collect().unwrap();
        assert_eq!(df.height(), 600_000);
        // Rows keep the file's order across row groups: every value equals its row number.
        let v = df.column("v").unwrap().i64().unwrap();
        let in_place = (0..n).all(|i| v.get(i as usize) == if i % 7 == 3 { None } else { Some(i) });
        assert!(in_place, "a row moved or lost its value");
        let s = df.column("s").unwrap().str().unwrap();
        assert_eq!((s.get(0), s.get(262_145), s.get(599_999)), (Some("站0"), Some("站145"), Some("站999")));
        // Sum of 0..n minus the nulls (i ≡ 3 mod 7), worked out by hand.
        let nulls: i64 = (0..n).filter(|i| i % 7 == 3).sum();
        let total = scan_parquet(&path).unwrap().select([col("v").sum()]).collect().unwrap();
        assert_eq!(total.column("v").unwrap().i64().unwrap().get(0), Some(n * (n - 1) / 2 - nulls));

        let empty = dir.path().join("empty.parquet");
        write_parquet(&empty, vec![("v".into(), Arc::new(Float64Array::from(Vec::<f64>::new())) as ArrayRef)], &stamp()).unwrap();
        let df = scan_parquet(&empty).unwrap().collect().unwrap();
        assert_eq!((df.height(), df.column("v").unwrap().dtype().clone()), (0, DataType::Float64));
    }

    #[test]
    fn value_counts_count_each_text_value_over_row_groups_and_skip_nulls() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("keys.parquet");
        // 300 000 rows (two row groups): row i is 甲 when i % 3 == 0, 乙 when i % 3 == 1, and
        // null when i % 3 == 2, except every 1000th row, which is "" (an empty spelling).
        let keys: Vec<Option<&str>> = (0..300_000).map(|i| if i % 1000 == 999 { Some("") } else { [Some("甲"), Some("乙"), None][i % 3] }).collect();
        let n: Vec<i64> = (0..300_000).collect();
        let columns: Vec<(String, ArrayRef)> = vec![("station".into(), Arc::new(StringArray::from(keys))), ("n".into(), Arc::new(Int64Array::from(n)))];
        write_parquet(&path, columns, &stamp()).unwrap();
        // 300 rows are ""; the others divide by i % 3 into 100 000 each. Among the "" rows
        // (i = 999, 1999, ...: i % 3 cycles 0, 1, 2), 100 had been 甲, 100 乙 and 100 null.
        let counts = value_counts(&path, "station").unwrap().unwrap();
        assert_eq!(counts, vec![(String::new(), 300), ("乙".to_string(), 99_900), ("甲".to_string(), 99_900)]);
        assert_eq!(value_counts(&path, "n").unwrap(), None, "a number column is not counted as text");
        let message = value_counts(&path, "nope").unwrap_err().to_string();
        assert!(message.contains("keys.parquet") && message.contains("'nope'"), "{message}");
    }

    #[test]
    fn numbered_scan_gives_each_row_its_spellings_number_and_keeps_the_text() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("rows.parquet");
        // 270 000 rows (two row groups) cycling through four spellings and a null: 甲所 and 甲 are
        // station 0, 乙所 is station 1, 丙所 is no station's.
        let cycle = [Some("甲所"), Some("乙所"), None, Some("丙所"), Some("甲")];
        let keys: Vec<Option<&str>> = (0..270_000).map(|i| cycle[i % 5]).collect();
        let kwh: Vec<f64> = (0..270_000).map(|i| i as f64).collect();
        let columns: Vec<(String, ArrayRef)> = vec![("kwh".into(), Arc::new(Float64Array::from(kwh))), ("station".into(), Arc::new(StringArray::from(keys)))];
        write_parquet(&path, columns, &stamp()).unwrap();
        let numbers = [("甲所", 0), ("甲", 0), ("乙所", 1)].into_iter().map(|(k, n)| (k.to_string(), n)).collect();
        let numbering = Arc::new(Numbering { column: "station".into(), name: "__n".into(), numbers });
        let df = scan_numbered(&path, Some(numbering.clone())).unwrap().select([col("__n"), col("station"), col("kwh")]).collect().unwrap();
        let n = df.column("__n").unwrap().i32().unwrap();
        let station = df.column("station").unwrap().str().unwrap();
        let expected_number = [Some(0), Some(1), None, None, Some(0)];
        for i in [0usize, 1, 2, 3, 4, 262_143, 262_144, 262_145, 269_999] {
            assert_eq!(n.get(i), expected_number[i % 5], "number of row {i}");
            assert_eq!(station.get(i), cycle[i % 5], "text of row {i}");
        }
        // Rows per number over the whole file: 54 000 of each spelling and of the nulls.
        let counts = scan_numbered(&path, Some(numbering)).unwrap().group_by([col("__n")]).agg([len().alias("rows"), col("kwh").sum()]).collect().unwrap();
        let counts = counts.sort(["__n"], SortMultipleOptions::default().with_nulls_last(true)).unwrap();
        let rows: Vec<Option<i64>> = i64s(counts.column("rows").unwrap());
        assert_eq!(rows, vec![Some(108_000), Some(54_000), Some(108_000)]);
        // Station 1 is rows i ≡ 1 (mod 5): the sum of 5k + 1 for k < 54 000.
        let kwh = counts.column("kwh").unwrap().f64().unwrap();
        assert_eq!(kwh.get(1), Some(5.0 * (54_000.0 * 53_999.0 / 2.0) + 54_000.0));
        // A column that holds no text cannot be numbered.
        let other = Arc::new(Numbering { column: "kwh".into(), name: "__n".into(), numbers: Default::default() });
        let message = scan_numbered(&path, Some(other)).err().expect("a number column is refused").to_string();
        assert!(message.contains("rows.parquet") && message.contains("'kwh'"), "{message}");
    }

    #[test]
    fn a_type_curated_files_never_hold_is_named_with_its_file_and_column() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("odd.parquet");
        write_parquet(&path, vec![("flag".into(), Arc::new(UInt8Array::from(vec![1u8])) as ArrayRef)], &stamp()).unwrap();
        let message = scan_parquet(&path).err().expect("a UInt8 column is refused").to_string();
        assert!(message.contains("odd.parquet") && message.contains("'flag'"), "{message}");
    }
}
