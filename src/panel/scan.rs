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
use arrow::datatypes::{DataType as ArrowType, Date32Type, Float64Type, Int32Type, Int64Type, TimeUnit as ArrowUnit, TimestampMicrosecondType};
use parquet::arrow::ProjectionMask;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use polars::prelude::*;

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
        let builder = open(&self.path)?;
        let wanted: Vec<usize> = match &args.with_columns {
            Some(columns) => columns
                .iter()
                .map(|c| self.names.iter().position(|n| n == c.as_str()).ok_or_else(|| failed(&self.path, format!("no column '{c}'"))))
                .collect::<PolarsResult<_>>()?,
            None => (0..self.names.len()).collect(),
        };
        let mask = ProjectionMask::roots(builder.parquet_schema(), wanted.iter().copied());
        let reader = builder.with_projection(mask).with_batch_size(64 * 1024).build().map_err(|e| failed(&self.path, e))?;
        // The projected batches keep the file's column order; polars wants the scan's order.
        let mut sorted = wanted.clone();
        sorted.sort_unstable();
        let mut parts: Vec<Vec<Series>> = vec![Vec::new(); wanted.len()];
        let mut height = 0;
        for batch in reader {
            let batch = batch.map_err(|e| failed(&self.path, e))?;
            height += batch.num_rows();
            for (at, &index) in wanted.iter().enumerate() {
                let column = batch.column(sorted.iter().position(|&i| i == index).expect("a projected column"));
                parts[at].push(series(&self.path, &self.names[index], column.as_ref())?);
            }
        }
        let columns = parts
            .into_iter()
            .zip(&wanted)
            .map(|(chunks, &index)| {
                let mut chunks = chunks.into_iter();
                let name = PlSmallStr::from(self.names[index].as_str());
                let mut whole = match chunks.next() {
                    Some(first) => first,
                    None => Series::new_empty(name, args.schema.get(self.names[index].as_str()).expect("a scanned column")),
                };
                for chunk in chunks {
                    whole.append(&chunk)?;
                }
                Ok(whole.into_column())
            })
            .collect::<PolarsResult<Vec<Column>>>()?;
        DataFrame::new(height, columns)
    }
}

/// One Arrow column as a polars Series of the matching type.
fn series(path: &Path, name: &str, array: &dyn Array) -> PolarsResult<Series> {
    let n = PlSmallStr::from(name);
    Ok(match array.data_type() {
        ArrowType::Utf8 => StringChunked::from_iter_options(n, array.as_string::<i32>().iter()).into_series(),
        ArrowType::LargeUtf8 => StringChunked::from_iter_options(n, array.as_string::<i64>().iter()).into_series(),
        ArrowType::Utf8View => StringChunked::from_iter_options(n, array.as_string_view().iter()).into_series(),
        ArrowType::Int64 => Int64Chunked::from_iter_options(n, array.as_primitive::<Int64Type>().iter()).into_series(),
        ArrowType::Int32 => Int32Chunked::from_iter_options(n, array.as_primitive::<Int32Type>().iter()).into_series(),
        ArrowType::Float64 => Float64Chunked::from_iter_options(n, array.as_primitive::<Float64Type>().iter()).into_series(),
        ArrowType::Boolean => BooleanChunked::from_iter_options(n, array.as_boolean().iter()).into_series(),
        ArrowType::Date32 => Int32Chunked::from_iter_options(n, array.as_primitive::<Date32Type>().iter()).into_date().into_series(),
        ArrowType::Timestamp(ArrowUnit::Microsecond, tz) => Int64Chunked::from_iter_options(n, array.as_primitive::<TimestampMicrosecondType>().iter())
            .into_datetime(TimeUnit::Microseconds, TimeZone::opt_try_new(tz.as_deref())?)
            .into_series(),
        other => return Err(unexpected(path, name, other)),
    })
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
    fn a_file_of_many_batches_reads_whole_and_an_empty_one_keeps_its_schema() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("big.parquet");
        // More rows than one read batch (64 Ki), so the column is appended from several.
        let values: Vec<i64> = (0..150_000).collect();
        write_parquet(&path, vec![("v".into(), Arc::new(Int64Array::from(values.clone())) as ArrayRef)], &stamp()).unwrap();
        let df = scan_parquet(&path).unwrap().select([col("v").sum().alias("s"), len().alias("rows")]).collect().unwrap();
        assert_eq!(df.column("s").unwrap().i64().unwrap().get(0), Some(150_000 * 149_999 / 2));
        assert_eq!(df.column("rows").unwrap().cast(&DataType::Int64).unwrap().i64().unwrap().get(0), Some(150_000));

        let empty = dir.path().join("empty.parquet");
        write_parquet(&empty, vec![("v".into(), Arc::new(Float64Array::from(Vec::<f64>::new())) as ArrayRef)], &stamp()).unwrap();
        let df = scan_parquet(&empty).unwrap().collect().unwrap();
        assert_eq!((df.height(), df.column("v").unwrap().dtype().clone()), (0, DataType::Float64));
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
