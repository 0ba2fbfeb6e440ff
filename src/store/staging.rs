//! A run's output folder is built beside the real one under a temporary name and published by
//! renaming, so readers never see a half-written folder; a killed run's leftovers are cleaned up
//! by the next run. Also the run id and the copy of carried-over partitions.

use std::path::{Path, PathBuf};

use super::error::StoreError;

/// A run's output folder being built beside the real one, published by renaming.
pub struct Staging {
    pub dir: PathBuf,
    target: PathBuf,
    published: bool,
}

impl Staging {
    /// Creates `.<name>.tmp-<run_id>` next to `target`.
    pub fn new(target: &Path, run_id: &str) -> Result<Staging, StoreError> {
        let parent = target.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
        std::fs::create_dir_all(parent).map_err(|source| StoreError::Create { path: parent.to_path_buf(), source })?;
        let name = target.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| "out".into());
        recover_interrupted(parent, &name, target);
        let dir = parent.join(format!(".{name}.tmp-{run_id}"));
        std::fs::create_dir_all(&dir).map_err(|source| StoreError::Create { path: dir.clone(), source })?;
        Ok(Staging { dir, target: target.to_path_buf(), published: false })
    }

    /// Replaces the target with the staged folder: old output aside, new in place, old removed.
    /// Between the two renames the target is briefly absent, never half-written.
    pub fn publish(mut self) -> Result<PathBuf, StoreError> {
        let parent = self.dir.parent().unwrap().to_path_buf();
        let name = self.target.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        let old = parent.join(format!(".{name}.old-{}", std::process::id()));
        let had_old = self.target.exists();
        if had_old {
            std::fs::rename(&self.target, &old).map_err(|source| StoreError::MoveAside { path: self.target.clone(), source })?;
        }
        if let Err(source) = std::fs::rename(&self.dir, &self.target) {
            if had_old {
                let _ = std::fs::rename(&old, &self.target);
            }
            return Err(StoreError::Publish { path: self.target.clone(), source });
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
pub fn copy_tree(from: &Path, to: &Path) -> Result<(), StoreError> {
    copy_dir(from, to).map_err(|source| StoreError::Copy { path: from.to_path_buf(), source })
}

fn copy_dir(from: &Path, to: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(to)?;
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let dest = to.join(entry.file_name());
        if entry.file_type()?.is_dir() {
            copy_dir(&entry.path(), &dest)?;
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
    let (y, m, d) = crate::base::calendar::civil_from_days(secs.div_euclid(86_400) as i32);
    let rem = secs.rem_euclid(86_400);
    format!("{y:04}{m:02}{d:02}T{:02}{:02}{:02}Z-{}", rem / 3600, rem % 3600 / 60, rem % 60, std::process::id())
}
