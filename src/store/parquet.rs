//! The one Parquet writer for every table a run writes, with the BI-safe profile.
//!
//! BI-safe profile: flat columns; plain UTF-8 strings (no view or dictionary types, in the file
//! or in its embedded Arrow schema); DATE; TIMESTAMP(µs, UTC); Int64; Float64; ASCII snake_case
//! column names; Snappy compression (read by Power BI, Tableau, DuckDB, Spark and pyarrow alike);
//! key-value metadata naming the tool version, run id and table.
//!
//! Encodings, chosen by measurement on the generated province exports: text, numbers and dates
//! get dictionary encoding when the first row group's distinct values fit one dictionary page,
//! plain values otherwise (see `ParquetStream`); Int64 and timestamp columns get DELTA_BINARY_PACKED instead: line numbers
//! (`source_row`) and times are unique or nearly so, where a dictionary only adds a page before
//! its fallback, and their deltas need a fraction of 64 bits (per quarter of the line-loss
//! source, `source_row` takes 7.0 MB as dictionary/plain and Snappy, a few kilobytes as deltas;
//! the work orders' `accepted_at` 6.6 MB against 4.0 MB). Both are read by the Parquet readers
//! the output tests use (DuckDB 1.0 and later, pyarrow 14 and later).

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use std::collections::HashSet;

use arrow::array::{Array, ArrayRef, Date32Array, Float64Array, StringArray};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use arrow::record_batch::RecordBatch;
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, Encoding};
use parquet::file::metadata::KeyValue;
use parquet::file::properties::{DEFAULT_DICTIONARY_PAGE_SIZE_LIMIT, WriterProperties};
use parquet::schema::types::ColumnPath;
use xxhash_rust::xxh3::xxh3_64;

use super::error::StoreError;
use crate::base::digest::Fingerprinted;

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

/// Most runs of a batch written as slices (`ParquetStream::write_runs`); more are copied into one.
const SLICED_RUNS: usize = 64;

/// Most memory a file's gathered rows take before its writer is made, whatever their count: a
/// source spread over many partitions gathers for each of them at once.
const GATHER_BYTES: usize = 32 << 20;

/// A Parquet file written batch by batch with the BI-safe profile.
///
/// The writer is made once the first row group's rows are at hand (or `GATHER_BYTES` of them, or
/// the end of a smaller file): whether a column gets a dictionary is decided on those rows. A column whose values
/// would overflow the dictionary page of a row group gets none: Parquet would fall back to plain
/// values partway through anyway, after hashing every value into a dictionary that is then
/// mostly wasted (per quarter of the line-loss source, 台区 numbers and names: about a fifth of
/// the ingest time, and the files come out larger).
pub(crate) struct ParquetStream {
    path: PathBuf,
    schema: SchemaRef,
    stamp: RunStamp,
    /// None only while the writer is being made.
    state: Option<Stream>,
}

enum Stream {
    /// Batches held until the first row group is full.
    Gathering {
        file: File,
        batches: Vec<RecordBatch>,
        rows: usize,
        bytes: usize,
    },
    Writing(ArrowWriter<File>),
}

impl ParquetStream {
    pub fn create(path: &Path, schema: SchemaRef, stamp: &RunStamp) -> Result<ParquetStream, StoreError> {
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(|source| StoreError::Create { path: parent.to_path_buf(), source })?;
        }
        let file = File::create(path).map_err(|source| StoreError::Create { path: path.to_path_buf(), source })?;
        Ok(ParquetStream {
            path: path.to_path_buf(),
            schema,
            stamp: stamp.clone(),
            state: Some(Stream::Gathering { file, batches: Vec::new(), rows: 0, bytes: 0 }),
        })
    }

    /// Appends rows: one array per schema field.
    pub fn write(&mut self, columns: Vec<ArrayRef>) -> Result<(), StoreError> {
        let batch = RecordBatch::try_new(self.schema.clone(), columns).map_err(|source| StoreError::Arrow { path: self.path.clone(), source })?;
        let Some(state) = self.state.as_mut() else { return Err(failed_before(&self.path)) };
        match state {
            Stream::Writing(writer) => writer.write(&batch).map_err(|source| parquet_error(&self.path, source)),
            Stream::Gathering { batches, rows, bytes, .. } => {
                *rows += batch.num_rows();
                *bytes += batch.get_array_memory_size();
                batches.push(batch);
                if *rows >= ROW_GROUP_ROWS || *bytes >= GATHER_BYTES { self.start(false) } else { Ok(()) }
            }
        }
    }

    /// Appends the rows `runs` (ascending, disjoint ranges) of `columns`. Once the writer is made,
    /// each run is written as a slice of the arrays, without a copy; while rows are gathered
    /// for the first row group, or for many short runs, they are copied into one batch (a
    /// gathered batch's memory then counts only its rows, and the writer is not called per row).
    pub fn write_runs(&mut self, columns: Vec<ArrayRef>, runs: &[std::ops::Range<usize>]) -> Result<(), StoreError> {
        let rows = columns.first().map_or(0, |c| c.len());
        if runs.len() == 1 && runs[0] == (0..rows) {
            return self.write(columns);
        }
        let batch = RecordBatch::try_new(self.schema.clone(), columns).map_err(|source| StoreError::Arrow { path: self.path.clone(), source })?;
        let pieces = runs.iter().map(|r| batch.slice(r.start, r.len()));
        match self.state.as_mut() {
            Some(Stream::Writing(writer)) if runs.len() <= SLICED_RUNS => {
                for piece in pieces {
                    writer.write(&piece).map_err(|source| parquet_error(&self.path, source))?;
                }
                Ok(())
            }
            _ => {
                let pieces: Vec<RecordBatch> = pieces.collect();
                let compact = arrow::compute::concat_batches(&self.schema, &pieces).map_err(|source| StoreError::Arrow { path: self.path.clone(), source })?;
                self.write(compact.columns().to_vec())
            }
        }
    }

    /// Makes the writer, its dictionaries chosen on the rows gathered, and writes them.
    /// `at_end`: the file has no more rows than those gathered.
    fn start(&mut self, at_end: bool) -> Result<(), StoreError> {
        if !matches!(self.state, Some(Stream::Gathering { .. })) {
            return Ok(());
        }
        let Some(Stream::Gathering { file, batches, .. }) = self.state.take() else { unreachable!("matched above") };
        let properties = properties(&self.schema, &self.stamp, &batches, at_end);
        let mut writer = ArrowWriter::try_new(file, self.schema.clone(), Some(properties)).map_err(|source| parquet_error(&self.path, source))?;
        for batch in &batches {
            writer.write(batch).map_err(|source| parquet_error(&self.path, source))?;
        }
        self.state = Some(Stream::Writing(writer));
        Ok(())
    }

    pub fn close(mut self) -> Result<(), StoreError> {
        self.start(true)?;
        let Some(Stream::Writing(writer)) = self.state else { return Err(failed_before(&self.path)) };
        let path = self.path;
        writer.close().map(|_| ()).map_err(|source| parquet_error(&path, source))
    }
}

/// The writer properties of the BI-safe profile, dictionaries chosen on `sample` (the first row
/// group's rows).
fn properties(schema: &Schema, stamp: &RunStamp, sample: &[RecordBatch], whole_file: bool) -> WriterProperties {
    let mut properties = WriterProperties::builder();
    for (index, field) in schema.fields().iter().enumerate() {
        let column = ColumnPath::from(field.name().as_str());
        if matches!(field.data_type(), DataType::Int64 | DataType::Timestamp(_, _)) {
            properties = properties.set_column_dictionary_enabled(column.clone(), false).set_column_encoding(column, Encoding::DELTA_BINARY_PACKED);
        } else if !dictionary_fits(sample.iter().map(|b| b.column(index).as_ref()), whole_file, DEFAULT_DICTIONARY_PAGE_SIZE_LIMIT) {
            properties = properties.set_column_dictionary_enabled(column, false);
        }
    }
    properties
        .set_compression(Compression::SNAPPY)
        .set_max_row_group_row_count(Some(ROW_GROUP_ROWS))
        .set_created_by(crate::base::build_info::created_by())
        .set_key_value_metadata(Some(vec![
            KeyValue::new("duibiao.version".to_string(), env!("CARGO_PKG_VERSION").to_string()),
            KeyValue::new("duibiao.run_id".to_string(), stamp.run_id.clone()),
            KeyValue::new("duibiao.table".to_string(), stamp.table.clone()),
        ]))
        .build()
}

/// Whether the distinct values among the first `ROW_GROUP_ROWS` of a column's chunks make a
/// dictionary page of at most `limit` bytes, as Parquet lays it out (text: a 4-byte length and
/// the bytes per entry; fixed-width values: their width). Values are told apart by a 64-bit
/// hash: a collision can only make the estimate smaller. Types without a dictionary estimate
/// here keep Parquet's own choice.
fn dictionary_fits<'a>(chunks: impl Iterator<Item = &'a dyn Array>, whole_file: bool, limit: usize) -> bool {
    let mut seen: HashSet<u64, Fingerprinted> = HashSet::default();
    let (mut bytes, mut rows) = (0usize, 0usize);
    for chunk in chunks {
        let take = chunk.len().min(ROW_GROUP_ROWS - rows);
        rows += take;
        let mut add = |hash: u64, size: usize| {
            if seen.insert(hash) {
                bytes += size;
            }
        };
        if let Some(text) = chunk.as_any().downcast_ref::<StringArray>() {
            text.iter().take(take).flatten().for_each(|v| add(xxh3_64(v.as_bytes()), 4 + v.len()));
        } else if let Some(numbers) = chunk.as_any().downcast_ref::<Float64Array>() {
            numbers.iter().take(take).flatten().for_each(|v| add(xxh3_64(&v.to_bits().to_le_bytes()), 8));
        } else if let Some(days) = chunk.as_any().downcast_ref::<Date32Array>() {
            days.iter().take(take).flatten().for_each(|v| add(xxh3_64(&v.to_le_bytes()), 4));
        } else {
            return true;
        }
        if bytes > limit {
            return false;
        }
        if rows == ROW_GROUP_ROWS {
            return true;
        }
    }
    // Fewer rows than a row group and more to come (the gathering stopped at its memory cap): the
    // dictionary is judged at its size over a whole row group, as if new values kept coming at
    // the rate seen. That can only refuse a dictionary Parquet would have kept (a larger file,
    // never a wrong one). A file that ends sooner is judged as it is.
    whole_file || bytes * ROW_GROUP_ROWS <= limit * rows.max(1)
}

/// The error of a stream used again after a write of it failed.
fn failed_before(path: &Path) -> StoreError {
    StoreError::Parquet { path: path.to_path_buf(), source: parquet::errors::ParquetError::General("an earlier write of this file failed".to_string()) }
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

#[cfg(test)]
mod tests {
    use arrow::array::Int64Array;
    use parquet::file::reader::{FileReader, SerializedFileReader};

    use super::*;

    fn stamp() -> RunStamp {
        RunStamp { run_id: "test".into(), table: "t".into() }
    }

    #[test]
    fn a_dictionary_fits_by_its_distinct_values_in_the_first_row_group() {
        // Six-letter texts: 4 + 6 = 10 bytes an entry, so ten distinct ones fill 100 bytes.
        let texts = |n: usize, repeat: usize| -> ArrayRef {
            Arc::new(StringArray::from_iter((0..n * repeat).map(|i| Some(format!("text{:02}", i % n))).chain([None])))
        };
        assert!(dictionary_fits([texts(10, 3).as_ref()].into_iter(), true, 100));
        assert!(!dictionary_fits([texts(11, 1).as_ref()].into_iter(), true, 100));
        // Over several chunks, a value seen in an earlier chunk is not counted again.
        assert!(dictionary_fits([texts(10, 1).as_ref(), texts(10, 2).as_ref()].into_iter(), true, 100));
        // Numbers take 8 bytes an entry, dates 4.
        let numbers: ArrayRef = Arc::new(Float64Array::from_iter_values((0..13).map(|i| f64::from(i % 12))));
        assert!(dictionary_fits([numbers.as_ref()].into_iter(), true, 96));
        assert!(!dictionary_fits([numbers.as_ref()].into_iter(), true, 95));
        let days: ArrayRef = Arc::new(Date32Array::from_iter_values(0..25));
        assert!(dictionary_fits([days.as_ref()].into_iter(), true, 100));
        assert!(!dictionary_fits([days.as_ref()].into_iter(), true, 99));
        // Gathering stopped short of a row group with more rows to come: the 100 bytes of
        // 1 001 rows (one null) are judged over 262 144 rows: 26 214 400 / 1 001 = 26 188.2 bytes.
        let thousand = texts(10, 100);
        assert!(dictionary_fits([thousand.as_ref()].into_iter(), false, 26_189));
        assert!(!dictionary_fits([thousand.as_ref()].into_iter(), false, 26_188));
        assert!(dictionary_fits([thousand.as_ref()].into_iter(), true, 100), "a whole file is judged as it is");
        // Only the first row group's rows count: distinct values after them do not.
        let late: ArrayRef =
            Arc::new(StringArray::from_iter_values((0..ROW_GROUP_ROWS + 50).map(|i| if i < ROW_GROUP_ROWS { "same".to_string() } else { format!("late{i}") })));
        assert!(dictionary_fits([late.as_ref()].into_iter(), true, 8));
    }

    #[test]
    fn unique_text_is_written_without_a_dictionary_and_repeated_text_with_one() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.parquet");
        // 300 000 rows, in three batches: every id differs (18 bytes each: far over one
        // dictionary page per row group), the county cycles through three names.
        let mut stream = ParquetStream::create(
            &path,
            Arc::new(Schema::new(vec![
                Field::new("id", DataType::Utf8, true),
                Field::new("county", DataType::Utf8, true),
                Field::new("n", DataType::Int64, true),
            ])),
            &stamp(),
        )
        .unwrap();
        for part in 0..3i64 {
            let rows = part * 100_000..(part + 1) * 100_000;
            stream
                .write(vec![
                    Arc::new(StringArray::from_iter_values(rows.clone().map(|i| format!("650101010{i:09}")))),
                    Arc::new(StringArray::from_iter_values(rows.clone().map(|i| ["疏附县", "疏勒县", "英吉沙县"][i as usize % 3]))),
                    Arc::new(Int64Array::from_iter_values(rows)),
                ])
                .unwrap();
        }
        stream.close().unwrap();
        let reader = SerializedFileReader::new(File::open(&path).unwrap()).unwrap();
        let metadata = reader.metadata();
        assert_eq!(metadata.num_row_groups(), 2, "256k rows, then the rest");
        for group in metadata.row_groups() {
            let (id, county) = (group.column(0), group.column(1));
            assert!(id.dictionary_page_offset().is_none(), "unique ids get no dictionary");
            assert!(!id.encodings().any(|e| e == Encoding::RLE_DICTIONARY));
            assert!(county.dictionary_page_offset().is_some(), "three names get a dictionary");
        }
        // The values are as written.
        let batches: Vec<RecordBatch> =
            parquet::arrow::arrow_reader::ParquetRecordBatchReader::try_new(File::open(&path).unwrap(), 1 << 20).unwrap().collect::<Result<_, _>>().unwrap();
        let all = arrow::compute::concat_batches(&batches[0].schema(), &batches).unwrap();
        let ids = all.column(0).as_any().downcast_ref::<StringArray>().unwrap();
        let counties = all.column(1).as_any().downcast_ref::<StringArray>().unwrap();
        assert_eq!(all.num_rows(), 300_000);
        assert_eq!(ids.value(0), "650101010000000000");
        assert_eq!(ids.value(299_999), "650101010000299999");
        assert_eq!(counties.value(299_999), "英吉沙县", "299 999 = 3 × 99 999 + 2");
    }

    #[test]
    fn a_file_smaller_than_a_row_group_and_an_empty_file_are_written_whole() {
        let dir = tempfile::tempdir().unwrap();
        let schema = Arc::new(Schema::new(vec![Field::new("v", DataType::Float64, true)]));
        let small = dir.path().join("small.parquet");
        let mut stream = ParquetStream::create(&small, schema.clone(), &stamp()).unwrap();
        stream.write(vec![Arc::new(Float64Array::from(vec![Some(1.5), None, Some(2.5)]))]).unwrap();
        stream.close().unwrap();
        let empty = dir.path().join("empty.parquet");
        ParquetStream::create(&empty, schema, &stamp()).unwrap().close().unwrap();
        let rows = |p: &Path| SerializedFileReader::new(File::open(p).unwrap()).unwrap().metadata().file_metadata().num_rows();
        assert_eq!((rows(&small), rows(&empty)), (3, 0));
    }

    #[test]
    fn runs_of_rows_are_written_as_given_while_gathering_and_after() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("runs.parquet");
        let schema = Arc::new(Schema::new(vec![Field::new("name", DataType::Utf8, true), Field::new("n", DataType::Int64, true)]));
        let mut stream = ParquetStream::create(&path, schema, &stamp()).unwrap();
        let part = |from: i64, to: i64| -> Vec<ArrayRef> {
            vec![
                Arc::new(StringArray::from_iter((from..to).map(|i| (i % 7 != 0).then(|| format!("台区{i}"))))),
                Arc::new(Int64Array::from_iter_values(from..to)),
            ]
        };
        // While gathering (copied into one batch): rows 0..10 but 3 and 7..9.
        stream.write_runs(part(0, 10), &[0..3, 4..7, 9..10]).unwrap();
        // 300 000 whole rows: the writer is made.
        stream.write_runs(part(10, 300_010), &[0..300_000]).unwrap();
        // As slices: rows 300 010..300 020 but the first and 300 015.
        stream.write_runs(part(300_010, 300_020), &[1..5, 6..10]).unwrap();
        // More runs than are sliced (copied): every other row of 200.
        let every_other: Vec<std::ops::Range<usize>> = (0..100).map(|k| 2 * k..2 * k + 1).collect();
        stream.write_runs(part(300_020, 300_220), &every_other).unwrap();
        // No rows at all.
        stream.write_runs(part(0, 0), &[]).unwrap();
        stream.close().unwrap();

        let batches: Vec<RecordBatch> =
            parquet::arrow::arrow_reader::ParquetRecordBatchReader::try_new(File::open(&path).unwrap(), 1 << 20).unwrap().collect::<Result<_, _>>().unwrap();
        let all = arrow::compute::concat_batches(&batches[0].schema(), &batches).unwrap();
        let names = all.column(0).as_any().downcast_ref::<StringArray>().unwrap();
        let numbers = all.column(1).as_any().downcast_ref::<Int64Array>().unwrap();
        let mut want: Vec<i64> = vec![0, 1, 2, 4, 5, 6, 9];
        want.extend(10..300_010);
        want.extend([300_011, 300_012, 300_013, 300_014, 300_016, 300_017, 300_018, 300_019]);
        want.extend((300_020..300_220).step_by(2));
        assert_eq!(numbers.values().to_vec(), want);
        for (i, n) in want.iter().enumerate() {
            let name = (n % 7 != 0).then(|| format!("台区{n}"));
            assert_eq!(names.is_valid(i).then(|| names.value(i).to_string()), name, "row {i}");
        }
    }
}
