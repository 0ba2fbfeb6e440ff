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
use parquet::arrow::arrow_reader::{ArrowReaderMetadata, ArrowReaderOptions, ParquetRecordBatchReaderBuilder};
use polars::prelude::*;
use rayon::prelude::*;

/// A lazy frame over one Parquet file.
pub(crate) fn scan_parquet(path: &Path) -> PolarsResult<LazyFrame> {
    let builder = open(path)?;
    let arrow_schema = builder.schema().clone();
    let mut schema = Schema::default();
    for field in arrow_schema.fields() {
        schema.insert(field.name().as_str().into(), polars_type(path, field.name(), field.data_type())?);
    }
    let scan = ParquetScan { path: path.to_path_buf(), names: arrow_schema.fields().iter().map(|f| f.name().clone()).collect() };
    LazyFrame::anonymous_scan(Arc::new(scan), ScanArgsAnonymous { schema: Some(Arc::new(schema)), name: "PARQUET (arrow-rs)", ..ScanArgsAnonymous::default() })
}

fn failed(path: &Path, what: impl std::fmt::Display) -> PolarsError {
    PolarsError::ComputeError(format!("{}: {what}", path.display()).into())
}

fn open(path: &Path) -> PolarsResult<ParquetRecordBatchReaderBuilder<File>> {
    let file = File::open(path).map_err(|e| failed(path, e))?;
    ParquetRecordBatchReaderBuilder::try_new(file).map_err(|e| failed(path, e))
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
}

impl AnonymousScan for ParquetScan {
    fn as_any(&self) -> &dyn std::any::Any {
        self
    }

    fn allows_projection_pushdown(&self) -> bool {
        true
    }

    fn scan(&self, args: AnonymousScanArgs) -> PolarsResult<DataFrame> {
        let file = File::open(&self.path).map_err(|e| failed(&self.path, e))?;
        // Text is read as Arrow string views: polars' own layout, so the columns cross over as
        // they are, and dictionary-encoded pages become views into their dictionary.
        let plain = ArrowReaderMetadata::load(&file, ArrowReaderOptions::new()).map_err(|e| failed(&self.path, e))?;
        let hinted: Vec<ArrowField> = plain.schema().fields().iter().map(|f| f.as_ref().clone().with_data_type(read_type(f.data_type()))).collect();
        let options = ArrowReaderOptions::new().with_schema(Arc::new(ArrowSchema::new(hinted)));
        let metadata = ArrowReaderMetadata::try_new(plain.metadata().clone(), options).map_err(|e| failed(&self.path, e))?;
        let wanted: Vec<usize> = match &args.with_columns {
            Some(columns) => columns
                .iter()
                .map(|c| self.names.iter().position(|n| n == c.as_str()).ok_or_else(|| failed(&self.path, format!("no column '{c}'"))))
                .collect::<PolarsResult<_>>()?,
            None => (0..self.names.len()).collect(),
        };
        // The projected batches keep the file's column order; polars wants the scan's order.
        let mut sorted = wanted.clone();
        sorted.sort_unstable();
        let at_in_batch: Vec<usize> = wanted.iter().map(|i| sorted.iter().position(|j| j == i).expect("a projected column")).collect();
        let groups: Vec<(usize, usize)> = metadata.metadata().row_groups().iter().enumerate().map(|(g, rg)| (g, rg.num_rows() as usize)).collect();
        // Row groups are decoded side by side, each into one batch per column.
        let decoded: Vec<Vec<Series>> = groups
            .par_iter()
            .map(|&(group, rows)| -> PolarsResult<Vec<Series>> {
                let file = File::open(&self.path).map_err(|e| failed(&self.path, e))?;
                let builder = ParquetRecordBatchReaderBuilder::new_with_metadata(file, metadata.clone());
                let mask = ProjectionMask::roots(builder.parquet_schema(), sorted.iter().copied());
                let reader =
                    builder.with_projection(mask).with_row_groups(vec![group]).with_batch_size(rows.max(1)).build().map_err(|e| failed(&self.path, e))?;
                let mut columns: Vec<Series> = Vec::with_capacity(wanted.len());
                for batch in reader {
                    let batch = batch.map_err(|e| failed(&self.path, e))?;
                    for (k, (&index, &at)) in wanted.iter().zip(&at_in_batch).enumerate() {
                        let part = series(&self.path, &self.names[index], batch.column(at).as_ref())?;
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
        let columns = (0..wanted.len())
            .map(|k| {
                let index = wanted[k];
                let name = PlSmallStr::from(self.names[index].as_str());
                let mut whole = Series::new_empty(name, args.schema.get(self.names[index].as_str()).expect("a scanned column"));
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

/// The distinct values of a text column of one file with their rows (nulls not counted), in
/// the values' order; None when the column does not hold text. The column is read as Arrow
/// dictionaries, which is how it is stored: rows are counted per dictionary entry and only
/// the entries are looked at as text.
pub(crate) fn value_counts(path: &Path, column: &str) -> PolarsResult<Option<Vec<(String, u64)>>> {
    let file = File::open(path).map_err(|e| failed(path, e))?;
    let plain = ArrowReaderMetadata::load(&file, ArrowReaderOptions::new()).map_err(|e| failed(path, e))?;
    let Some(index) = plain.schema().fields().iter().position(|f| f.name() == column) else {
        return Err(failed(path, format!("no column '{column}'")));
    };
    if !matches!(plain.schema().field(index).data_type(), ArrowType::Utf8 | ArrowType::LargeUtf8) {
        return Ok(None);
    }
    let dictionary = ArrowType::Dictionary(Box::new(ArrowType::Int32), Box::new(ArrowType::Utf8));
    let hinted: Vec<ArrowField> = plain
        .schema()
        .fields()
        .iter()
        .enumerate()
        .map(|(i, f)| if i == index { f.as_ref().clone().with_data_type(dictionary.clone()) } else { f.as_ref().clone() })
        .collect();
    let options = ArrowReaderOptions::new().with_schema(Arc::new(ArrowSchema::new(hinted)));
    let metadata = ArrowReaderMetadata::try_new(plain.metadata().clone(), options).map_err(|e| failed(path, e))?;
    let groups: Vec<usize> = (0..metadata.metadata().num_row_groups()).collect();
    let counted: Vec<std::collections::HashMap<String, u64>> = groups
        .par_iter()
        .map(|&group| -> PolarsResult<std::collections::HashMap<String, u64>> {
            let file = File::open(path).map_err(|e| failed(path, e))?;
            let builder = ParquetRecordBatchReaderBuilder::new_with_metadata(file, metadata.clone());
            let mask = ProjectionMask::roots(builder.parquet_schema(), [index]);
            let reader = builder.with_projection(mask).with_row_groups(vec![group]).with_batch_size(64 * 1024).build().map_err(|e| failed(path, e))?;
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
    fn a_type_curated_files_never_hold_is_named_with_its_file_and_column() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("odd.parquet");
        write_parquet(&path, vec![("flag".into(), Arc::new(UInt8Array::from(vec![1u8])) as ArrayRef)], &stamp()).unwrap();
        let message = scan_parquet(&path).err().expect("a UInt8 column is refused").to_string();
        assert!(message.contains("odd.parquet") && message.contains("'flag'"), "{message}");
    }
}
