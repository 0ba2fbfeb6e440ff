//! The one Parquet writer for every table a run writes, with the BI-safe profile.
//!
//! BI-safe profile: flat columns; plain UTF-8 strings (no view or dictionary types, in the file
//! or in its embedded Arrow schema); DATE; TIMESTAMP(µs, UTC); Int64; Float64; ASCII snake_case
//! column names; Snappy compression (read by Power BI, Tableau, DuckDB, Spark and pyarrow alike);
//! key-value metadata naming the tool version, run id and table.
//!
//! Encodings, chosen by measurement on the generated province exports: text, numbers and dates
//! get dictionary encoding (falling back to plain where a row group has too many distinct
//! values); Int64 and timestamp columns get DELTA_BINARY_PACKED instead: line numbers
//! (`source_row`) and times are unique or nearly so, where a dictionary only adds a page before
//! its fallback, and their deltas need a fraction of 64 bits (per quarter of the line-loss
//! source, `source_row` takes 7.0 MB as dictionary/plain and Snappy, a few kilobytes as deltas;
//! the work orders' `accepted_at` 6.6 MB against 4.0 MB). Both are read by the Parquet readers
//! the output tests use (DuckDB 1.0 and later, pyarrow 14 and later).

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow::array::ArrayRef;
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use arrow::record_batch::RecordBatch;
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, Encoding};
use parquet::file::metadata::KeyValue;
use parquet::file::properties::WriterProperties;
use parquet::schema::types::ColumnPath;

use super::error::StoreError;

/// Identity of a run, stamped into every file it writes.
#[derive(Debug, Clone)]
pub(crate) struct RunStamp {
    pub run_id: String,
    pub table: String,
}

/// Writes columns (name, Arrow array) as one Parquet file.
pub(crate) fn write_parquet(path: &Path, columns: Vec<(String, ArrayRef)>, stamp: &RunStamp) -> Result<(), StoreError> {
    let fields: Vec<Field> = columns.iter().map(|(name, array)| Field::new(name, array.data_type().clone(), true)).collect();
    let mut stream = ParquetStream::create(path, Arc::new(Schema::new(fields)), stamp)?;
    stream.write(columns.into_iter().map(|(_, a)| a).collect())?;
    stream.close()
}

/// Rows per row group: small enough that a writer's buffered row group stays a few tens of
/// megabytes, large enough for good compression and fast scans.
const ROW_GROUP_ROWS: usize = 256 * 1024;

/// A Parquet file written batch by batch with the BI-safe profile.
pub(crate) struct ParquetStream {
    path: PathBuf,
    writer: ArrowWriter<File>,
    schema: SchemaRef,
}

impl ParquetStream {
    pub fn create(path: &Path, schema: SchemaRef, stamp: &RunStamp) -> Result<ParquetStream, StoreError> {
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(|source| StoreError::Create { path: parent.to_path_buf(), source })?;
        }
        let mut properties = WriterProperties::builder();
        for field in schema.fields() {
            if matches!(field.data_type(), DataType::Int64 | DataType::Timestamp(_, _)) {
                let column = ColumnPath::from(field.name().as_str());
                properties = properties.set_column_dictionary_enabled(column.clone(), false).set_column_encoding(column, Encoding::DELTA_BINARY_PACKED);
            }
        }
        let properties = properties
            .set_compression(Compression::SNAPPY)
            .set_max_row_group_row_count(Some(ROW_GROUP_ROWS))
            .set_created_by(crate::base::build_info::created_by())
            .set_key_value_metadata(Some(vec![
                KeyValue::new("duibiao.version".to_string(), env!("CARGO_PKG_VERSION").to_string()),
                KeyValue::new("duibiao.run_id".to_string(), stamp.run_id.clone()),
                KeyValue::new("duibiao.table".to_string(), stamp.table.clone()),
            ]))
            .build();
        let file = File::create(path).map_err(|source| StoreError::Create { path: path.to_path_buf(), source })?;
        let writer = ArrowWriter::try_new(file, schema.clone(), Some(properties)).map_err(|source| parquet_error(path, source))?;
        Ok(ParquetStream { path: path.to_path_buf(), writer, schema })
    }

    /// Appends rows: one array per schema field.
    pub fn write(&mut self, columns: Vec<ArrayRef>) -> Result<(), StoreError> {
        let batch = RecordBatch::try_new(self.schema.clone(), columns).map_err(|source| StoreError::Arrow { path: self.path.clone(), source })?;
        self.writer.write(&batch).map_err(|source| parquet_error(&self.path, source))
    }

    pub fn close(self) -> Result<(), StoreError> {
        let path = self.path;
        self.writer.close().map(|_| ()).map_err(|source| parquet_error(&path, source))
    }
}

/// A Parquet error as a store error; an I/O failure underneath (a full disk, a read-only folder)
/// is shown as that, naming the file, rather than as an opaque "External" Parquet error.
fn parquet_error(path: &Path, error: parquet::errors::ParquetError) -> StoreError {
    match error {
        parquet::errors::ParquetError::External(inner) => match inner.downcast::<std::io::Error>() {
            Ok(io) => StoreError::Write { path: path.to_path_buf(), source: *io },
            Err(other) => StoreError::Parquet { path: path.to_path_buf(), source: parquet::errors::ParquetError::External(other) },
        },
        other => StoreError::Parquet { path: path.to_path_buf(), source: other },
    }
}
