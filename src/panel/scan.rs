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
        other => return Err(failed(path, format!("column '{name}' has the type {other}, which curated files do not hold"))),
    })
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
        other => return Err(failed(path, format!("column '{name}' has the type {other}, which curated files do not hold"))),
    })
}
