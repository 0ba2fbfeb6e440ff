//! `duibiao inspect FILE.parquet`: what is inside a Parquet file, and why a BI tool might read a
//! column differently from what one expects (schema as Parquet and as Arrow readers see it,
//! rows, row groups, column statistics, key-value metadata, and hints).

use std::fs::File;
use std::path::{Path, PathBuf};

use arrow::datatypes::DataType;
use parquet::basic::{LogicalType, TimeUnit, Type as PhysicalType};
use parquet::file::reader::{FileReader, SerializedFileReader};
use parquet::file::statistics::Statistics;
use serde::Serialize;

/// Everything `inspect` reports about one file.
#[derive(Debug, Serialize)]
pub(crate) struct Inspection {
    pub file: String,
    pub bytes: u64,
    pub rows: i64,
    pub created_by: Option<String>,
    pub row_groups: Vec<RowGroupInfo>,
    pub columns: Vec<ColumnInfo>,
    /// Key-value metadata; the embedded Arrow schema is summarised, not dumped.
    pub metadata: Vec<(String, String)>,
    pub hints: Vec<String>,
}

#[derive(Debug, Serialize)]
pub(crate) struct RowGroupInfo {
    pub rows: i64,
    pub compressed_bytes: i64,
    pub uncompressed_bytes: i64,
}

#[derive(Debug, Serialize)]
pub(crate) struct ColumnInfo {
    pub name: String,
    pub physical: String,
    pub logical: Option<String>,
    /// The type an Arrow-based reader (pyarrow, DuckDB, polars) gets, embedded schema included.
    pub arrow: String,
    pub compression: String,
    pub nulls: Option<u64>,
    pub min: Option<String>,
    pub max: Option<String>,
}

#[derive(Clone, PartialEq, PartialOrd)]
enum Val {
    Bool(bool),
    Int(i64),
    Float(f64),
    Text(Vec<u8>),
}

fn stat_values(s: &Statistics) -> (Option<Val>, Option<Val>) {
    fn pair<T: Clone>(min: Option<&T>, max: Option<&T>, f: impl Fn(T) -> Val) -> (Option<Val>, Option<Val>) {
        (min.cloned().map(&f), max.cloned().map(&f))
    }
    match s {
        Statistics::Boolean(v) => pair(v.min_opt(), v.max_opt(), Val::Bool),
        Statistics::Int32(v) => pair(v.min_opt(), v.max_opt(), |x| Val::Int(x as i64)),
        Statistics::Int64(v) => pair(v.min_opt(), v.max_opt(), Val::Int),
        Statistics::Float(v) => pair(v.min_opt(), v.max_opt(), |x| Val::Float(x as f64)),
        Statistics::Double(v) => pair(v.min_opt(), v.max_opt(), Val::Float),
        Statistics::ByteArray(v) => pair(v.min_opt(), v.max_opt(), |x| Val::Text(x.data().to_vec())),
        Statistics::FixedLenByteArray(v) => pair(v.min_opt(), v.max_opt(), |x| Val::Text(x.data().to_vec())),
        Statistics::Int96(_) => (None, None),
    }
}

fn render(v: &Val, logical: Option<&LogicalType>) -> String {
    match (v, logical) {
        (Val::Int(days), Some(LogicalType::Date)) => {
            let (y, m, d) = crate::base::calendar::civil_from_days(*days as i32);
            format!("{y:04}-{m:02}-{d:02}")
        }
        (Val::Int(t), Some(LogicalType::Timestamp(ts))) => {
            let per_sec: i64 = match ts.unit {
                TimeUnit::MILLIS => 1_000,
                TimeUnit::MICROS => 1_000_000,
                TimeUnit::NANOS => 1_000_000_000,
            };
            let secs = t.div_euclid(per_sec);
            let (y, m, d) = crate::base::calendar::civil_from_days(secs.div_euclid(86_400) as i32);
            let r = secs.rem_euclid(86_400);
            format!("{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02}{}", r / 3600, r % 3600 / 60, r % 60, if ts.is_adjusted_to_u_t_c { " UTC" } else { "" })
        }
        (Val::Int(i), _) => i.to_string(),
        (Val::Float(f), _) => format!("{f}"),
        (Val::Bool(b), _) => b.to_string(),
        (Val::Text(bytes), _) => {
            let s = String::from_utf8_lossy(bytes);
            let short: String = s.chars().take(40).collect();
            if short.len() < s.len() { format!("{short}…") } else { short }
        }
    }
}

fn logical_name(l: &LogicalType) -> String {
    match l {
        LogicalType::String => "STRING".into(),
        LogicalType::Date => "DATE".into(),
        LogicalType::Timestamp(ts) => {
            let u = match ts.unit {
                TimeUnit::MILLIS => "ms",
                TimeUnit::MICROS => "µs",
                TimeUnit::NANOS => "ns",
            };
            format!("TIMESTAMP({u}{})", if ts.is_adjusted_to_u_t_c { ", UTC" } else { ", local" })
        }
        LogicalType::Integer(i) => format!("{}INT{}", if i.is_signed { "" } else { "U" }, i.bit_width),
        LogicalType::Decimal(d) => format!("DECIMAL({},{})", d.precision, d.scale),
        other => format!("{other:?}").to_uppercase(),
    }
}

/// Hints for one column: types BI tools read differently from what the writer meant.
fn column_hints(c: &ColumnInfo, arrow: &DataType, physical: PhysicalType, hints: &mut Vec<String>) {
    let name = &c.name;
    match arrow {
        DataType::Utf8View | DataType::BinaryView => hints.push(format!("{name}: the embedded Arrow schema says {arrow}; older readers (Power BI, Spark < 4, pyarrow < 15) fail or show it as binary — write plain UTF-8 (Utf8)")),
        DataType::LargeUtf8 | DataType::LargeBinary => hints.push(format!("{name}: {arrow} (64-bit offsets) is not read by every BI connector — plain Utf8 is safer")),
        DataType::Dictionary(_, _) => hints.push(format!("{name}: dictionary/categorical type in the embedded Arrow schema; some tools show it as text codes — write the plain value type")),
        DataType::Timestamp(arrow::datatypes::TimeUnit::Nanosecond, _) => hints.push(format!("{name}: nanosecond timestamps overflow or are refused by Spark and Power BI — µs is the safe unit")),
        DataType::Timestamp(_, None) => hints.push(format!("{name}: timestamp without time zone; tools interpret it in their own local time")),
        DataType::UInt8 | DataType::UInt16 | DataType::UInt32 | DataType::UInt64 => hints.push(format!("{name}: unsigned integer ({arrow}); Spark and Power BI widen or reject it — Int64 is safe")),
        DataType::List(_) | DataType::LargeList(_) | DataType::Struct(_) | DataType::Map(_, _) => hints.push(format!("{name}: nested type ({arrow}); BI tools expect flat columns")),
        DataType::Utf8 => {
            // Digits only are usually codes (order numbers, unit codes); amounts and rates carry
            // a decimal point, a thousands separator or a percent sign.
            let numeric = |s: &Option<String>| s.as_deref().is_some_and(|v| v.trim().trim_end_matches('%').replace(',', "").parse::<f64>().is_ok());
            let measured = |s: &Option<String>| s.as_deref().is_some_and(|v| v.contains(['.', ',', '%']));
            if numeric(&c.min) && numeric(&c.max) && (measured(&c.min) || measured(&c.max)) {
                hints.push(format!("{name}: numbers stored as text (min '{}', max '{}'); a BI tool shows this column as text because the file says STRING — declare the column as number in the pipeline", c.min.as_deref().unwrap_or(""), c.max.as_deref().unwrap_or("")));
            }
        }
        _ => {}
    }
    if physical == PhysicalType::INT96 {
        hints.push(format!("{name}: INT96 timestamps are deprecated; newer readers may misread them"));
    }
    if !name.is_ascii() || name.contains(' ') {
        hints.push(format!("{name}: column name is not ASCII snake_case; SQL-based tools need it quoted"));
    }
}

/// Why a file could not be described.
#[derive(Debug, thiserror::Error)]
pub(crate) enum InspectError {
    #[error("{}", path.display())]
    Open {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{}: not a readable Parquet file", path.display())]
    NotParquet {
        path: PathBuf,
        #[source]
        source: parquet::errors::ParquetError,
    },
    #[error("{}", path.display())]
    Schema {
        path: PathBuf,
        #[source]
        source: parquet::errors::ParquetError,
    },
}

/// Reads the footer of `path` and describes the file.
pub fn inspect(path: &Path) -> Result<Inspection, InspectError> {
    let file = File::open(path).map_err(|source| InspectError::Open { path: path.to_path_buf(), source })?;
    let bytes = file.metadata().map(|m| m.len()).unwrap_or(0);
    let reader = SerializedFileReader::new(file).map_err(|source| InspectError::NotParquet { path: path.to_path_buf(), source })?;
    let meta = reader.metadata();
    let fm = meta.file_metadata();
    let schema = fm.schema_descr();
    let kv = fm.key_value_metadata();
    let arrow_schema = parquet::arrow::parquet_to_arrow_schema(schema, kv).map_err(|source| InspectError::Schema { path: path.to_path_buf(), source })?;
    let mut hints = Vec::new();
    let mut columns = Vec::new();
    for (i, col) in schema.columns().iter().enumerate() {
        let logical = col.logical_type_ref().cloned();
        let mut nulls: Option<u64> = Some(0);
        let (mut min, mut max): (Option<Val>, Option<Val>) = (None, None);
        let mut compression = String::new();
        let mut has_stats = meta.num_row_groups() > 0;
        for rg in meta.row_groups() {
            let chunk = rg.column(i);
            compression = format!("{:?}", chunk.compression());
            match chunk.statistics() {
                Some(s) => {
                    nulls = match (nulls, s.null_count_opt()) {
                        (Some(a), Some(b)) => Some(a + b),
                        _ => None,
                    };
                    let (lo, hi) = stat_values(s);
                    if let Some(lo) = lo {
                        min = Some(match min {
                            Some(m) if m <= lo => m,
                            _ => lo,
                        });
                    }
                    if let Some(hi) = hi {
                        max = Some(match max {
                            Some(m) if m >= hi => m,
                            _ => hi,
                        });
                    }
                }
                None => {
                    has_stats = false;
                    nulls = None;
                }
            }
        }
        let path_name = col.path().string();
        let arrow_type =
            arrow_schema.field_with_name(col.path().parts().first().map(String::as_str).unwrap_or("")).map(|f| f.data_type().clone()).unwrap_or(DataType::Null);
        let info = ColumnInfo {
            name: path_name,
            physical: format!("{}", col.physical_type()),
            logical: logical.as_ref().map(logical_name),
            arrow: format!("{arrow_type}"),
            compression,
            nulls,
            min: min.as_ref().map(|v| render(v, logical.as_ref())),
            max: max.as_ref().map(|v| render(v, logical.as_ref())),
        };
        column_hints(&info, &arrow_type, col.physical_type(), &mut hints);
        if !has_stats {
            hints.push(format!("{}: no column statistics; readers cannot skip row groups when filtering", info.name));
        }
        columns.push(info);
    }
    if columns.iter().any(|c| c.name.contains('.')) {
        hints.push("nested columns: BI tools expect one flat table".into());
    }
    let metadata = kv
        .map(|kv| {
            kv.iter()
                .map(|e| {
                    let v = e.value.clone().unwrap_or_default();
                    if e.key == "ARROW:schema" { (e.key.clone(), format!("embedded Arrow schema ({} bytes, base64)", v.len())) } else { (e.key.clone(), v) }
                })
                .collect()
        })
        .unwrap_or_default();
    Ok(Inspection {
        file: path.display().to_string(),
        bytes,
        rows: fm.num_rows(),
        created_by: fm.created_by().map(str::to_string),
        row_groups: meta
            .row_groups()
            .iter()
            .map(|rg| RowGroupInfo { rows: rg.num_rows(), compressed_bytes: rg.compressed_size(), uncompressed_bytes: rg.total_byte_size() })
            .collect(),
        columns,
        metadata,
        hints,
    })
}

/// The human-readable text of an inspection.
pub(crate) fn to_text(i: &Inspection) -> String {
    let mut out = Vec::new();
    out.push(format!("文件 file        {}", i.file));
    out.push(format!("大小 size        {} bytes", i.bytes));
    out.push(format!("行数 rows        {}", i.rows));
    out.push(format!("行组 row groups  {}", i.row_groups.len()));
    if let Some(c) = &i.created_by {
        out.push(format!("写入 created by  {c}"));
    }
    out.push(String::new());
    let w = i.columns.iter().map(|c| c.name.chars().count()).max().unwrap_or(6).max(6);
    out.push(format!("{:<w$}  {:<10} {:<22} {:<26} {:>8}  {}", "column", "physical", "logical", "arrow", "nulls", "min … max"));
    for c in &i.columns {
        out.push(format!(
            "{:<w$}  {:<10} {:<22} {:<26} {:>8}  {} … {}",
            c.name,
            c.physical,
            c.logical.as_deref().unwrap_or("-"),
            c.arrow,
            c.nulls.map(|n| n.to_string()).unwrap_or_else(|| "?".into()),
            c.min.as_deref().unwrap_or("-"),
            c.max.as_deref().unwrap_or("-")
        ));
    }
    out.push(String::new());
    out.push("行组 row groups:".into());
    for (n, rg) in i.row_groups.iter().enumerate() {
        out.push(format!("  #{n}: {} rows, {} bytes compressed, {} uncompressed", rg.rows, rg.compressed_bytes, rg.uncompressed_bytes));
    }
    if let Some(c) = i.columns.first() {
        out.push(format!("  compression: {}", c.compression));
    }
    out.push(String::new());
    out.push("元数据 key-value metadata:".into());
    for (k, v) in &i.metadata {
        out.push(format!("  {k} = {v}"));
    }
    out.push(String::new());
    if i.hints.is_empty() {
        out.push("提示 hints: none — flat, plain types that BI tools read as they are.".into());
    } else {
        out.push("提示 hints:".into());
        for h in &i.hints {
            out.push(format!("  - {h}"));
        }
    }
    out.join("\n")
}
