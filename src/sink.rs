//! Writing outputs: one Parquet writer for every table, with the BI-safe profile, and the
//! atomic publish of a run's output folder.
//!
//! BI-safe profile: flat columns; plain UTF-8 strings (no view or dictionary types, in the file
//! or in its embedded Arrow schema); DATE; TIMESTAMP(µs, UTC); Int64; Float64; ASCII snake_case
//! column names; Snappy compression (read by Power BI, Tableau, DuckDB, Spark and pyarrow alike);
//! key-value metadata naming the tool version, run id and table.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow::array::ArrayRef;
use arrow::datatypes::{Field, Schema, SchemaRef};
use arrow::record_batch::RecordBatch;
use parquet::arrow::ArrowWriter;
use parquet::basic::Compression;
use parquet::file::metadata::KeyValue;
use parquet::file::properties::WriterProperties;

/// Identity of a run, stamped into every file it writes.
#[derive(Debug, Clone)]
pub struct RunStamp {
    pub run_id: String,
    pub table: String,
}

/// Writes columns (name, Arrow array) as one Parquet file.
pub fn write_parquet(path: &Path, columns: Vec<(String, ArrayRef)>, stamp: &RunStamp) -> Result<(), String> {
    let fields: Vec<Field> = columns.iter().map(|(name, array)| Field::new(name, array.data_type().clone(), true)).collect();
    let mut stream = ParquetStream::create(path, Arc::new(Schema::new(fields)), stamp)?;
    stream.write(columns.into_iter().map(|(_, a)| a).collect())?;
    stream.close()
}

/// Rows per row group: small enough that a writer's buffered row group stays a few tens of
/// megabytes, large enough for good compression and fast scans.
const ROW_GROUP_ROWS: usize = 256 * 1024;

/// A Parquet file written batch by batch with the BI-safe profile.
pub struct ParquetStream {
    path: PathBuf,
    writer: ArrowWriter<File>,
    schema: SchemaRef,
}

impl ParquetStream {
    pub fn create(path: &Path, schema: SchemaRef, stamp: &RunStamp) -> Result<ParquetStream, String> {
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(|e| format!("cannot create {}: {e}", parent.display()))?;
        }
        let properties = WriterProperties::builder()
            .set_compression(Compression::SNAPPY)
            .set_max_row_group_row_count(Some(ROW_GROUP_ROWS))
            .set_created_by(crate::build_info::created_by())
            .set_key_value_metadata(Some(vec![
                KeyValue::new("duibiao.version".to_string(), env!("CARGO_PKG_VERSION").to_string()),
                KeyValue::new("duibiao.run_id".to_string(), stamp.run_id.clone()),
                KeyValue::new("duibiao.table".to_string(), stamp.table.clone()),
            ]))
            .build();
        let file = File::create(path).map_err(|e| format!("cannot create {}: {e}", path.display()))?;
        let writer = ArrowWriter::try_new(file, schema.clone(), Some(properties)).map_err(|e| format!("{}: {e}", path.display()))?;
        Ok(ParquetStream { path: path.to_path_buf(), writer, schema })
    }

    /// Appends rows: one array per schema field.
    pub fn write(&mut self, columns: Vec<ArrayRef>) -> Result<(), String> {
        let batch = RecordBatch::try_new(self.schema.clone(), columns).map_err(|e| format!("{}: {e}", self.path.display()))?;
        self.writer.write(&batch).map_err(|e| format!("{}: {e}", self.path.display()))
    }

    pub fn close(self) -> Result<(), String> {
        self.writer.close().map(|_| ()).map_err(|e| format!("{}: {e}", self.path.display()))
    }
}

/// A run's output folder being built beside the real one, published by renaming.
pub struct Staging {
    pub dir: PathBuf,
    target: PathBuf,
    published: bool,
}

impl Staging {
    /// Creates `.<name>.tmp-<run_id>` next to `target`.
    pub fn new(target: &Path, run_id: &str) -> Result<Staging, String> {
        let parent = target.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
        std::fs::create_dir_all(parent).map_err(|e| format!("cannot create {}: {e}", parent.display()))?;
        let name = target.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| "out".into());
        recover_interrupted(parent, &name, target);
        let dir = parent.join(format!(".{name}.tmp-{run_id}"));
        std::fs::create_dir_all(&dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
        Ok(Staging { dir, target: target.to_path_buf(), published: false })
    }

    /// Replaces the target with the staged folder: old output aside, new in place, old removed.
    /// Between the two renames the target is briefly absent, never half-written.
    pub fn publish(mut self) -> Result<PathBuf, String> {
        let parent = self.dir.parent().unwrap().to_path_buf();
        let name = self.target.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        let old = parent.join(format!(".{name}.old-{}", std::process::id()));
        let had_old = self.target.exists();
        if had_old {
            std::fs::rename(&self.target, &old).map_err(|e| format!("cannot move the previous {} aside: {e}", self.target.display()))?;
        }
        if let Err(e) = std::fs::rename(&self.dir, &self.target) {
            if had_old {
                let _ = std::fs::rename(&old, &self.target);
            }
            return Err(format!("cannot publish {}: {e}", self.target.display()));
        }
        self.published = true;
        if had_old {
            let _ = std::fs::remove_dir_all(&old);
        }
        Ok(self.target.clone())
    }

    /// Keeps the staged folder under `.<name>.failed-<run_id>` for inspection, target untouched.
    pub fn keep_as_failed(mut self, run_id: &str) -> PathBuf {
        let parent = self.dir.parent().unwrap().to_path_buf();
        let name = self.target.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        let failed = parent.join(format!("{name}.failed-{run_id}"));
        let _ = std::fs::rename(&self.dir, &failed);
        self.published = true; // nothing left to clean
        failed
    }
}

/// Cleans up after a run that was killed: its staging folder is removed, and if it died between
/// the two renames of `publish`, the previous output is put back in place.
fn recover_interrupted(parent: &Path, name: &str, target: &Path) {
    let Ok(entries) = std::fs::read_dir(parent) else { return };
    for entry in entries.flatten() {
        let file_name = entry.file_name().to_string_lossy().into_owned();
        let Some(rest) = file_name.strip_prefix(&format!(".{name}.")) else { continue };
        let (is_tmp, tail) = match (rest.strip_prefix("tmp-"), rest.strip_prefix("old-")) {
            (Some(t), _) => (true, t),
            (_, Some(t)) => (false, t),
            _ => continue,
        };
        let Some(pid) = tail.rsplit('-').next().and_then(|p| p.parse::<u32>().ok()) else { continue };
        if pid == std::process::id() || process_alive(pid) != Some(false) {
            continue;
        }
        if is_tmp {
            let _ = std::fs::remove_dir_all(entry.path());
        } else if !target.exists() {
            let _ = std::fs::rename(entry.path(), target);
        } else {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}

/// Whether a process lives; None where the platform cannot tell cheaply (then nothing is removed).
fn process_alive(pid: u32) -> Option<bool> {
    if cfg!(target_os = "linux") { Some(Path::new(&format!("/proc/{pid}")).exists()) } else { None }
}

impl Drop for Staging {
    fn drop(&mut self) {
        if !self.published {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

/// Copies a folder tree, hard-linking files where the file system allows (curated partitions
/// carried over from the previous run are never rewritten).
pub fn copy_tree(from: &Path, to: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(to)?;
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let dest = to.join(entry.file_name());
        if entry.file_type()?.is_dir() {
            copy_tree(&entry.path(), &dest)?;
        } else if std::fs::hard_link(entry.path(), &dest).is_err() {
            std::fs::copy(entry.path(), &dest)?;
        }
    }
    Ok(())
}

/// A run id: UTC time to the second plus the process id, e.g. 20201231T235959Z-1234.
pub fn new_run_id() -> String {
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    let secs = now.as_secs() as i64;
    let (y, m, d) = crate::ingest::parse::civil_from_days(secs.div_euclid(86_400) as i32);
    let rem = secs.rem_euclid(86_400);
    format!("{y:04}{m:02}{d:02}T{:02}{:02}{:02}Z-{}", rem / 3600, rem % 3600 / 60, rem % 60, std::process::id())
}
