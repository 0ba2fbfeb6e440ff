//! A run's output folder is built beside the real one under a temporary name and published by
//! an atomic exchange of the two names, so readers never see a half-written folder and the output
//! name is never missing; a killed run's leftovers are cleaned up, and a previous output it left
//! aside is put back, by the next run. Also the run id and the copy of carried-over partitions.
//!
//! Names beside the output folder `<name>` (all in its parent):
//! - `.<name>.tmp-<run>`: the folder being built; after an exchange, the previous output on its
//!   way out;
//! - `.<name>.old-<run>`: the previous output moved aside by the two-rename fallback;
//! - `<name>.failed-<run>`: a run that failed its data checks, kept for inspection.
//!
//! The caller holds the output's lock (`store::lock`) from before `recover_interrupted` until
//! `publish` returns, so no other run's folders are ever touched.

use std::path::{Path, PathBuf};

use super::error::StoreError;
use super::exchange::{Exchanged, exchange};
use super::testhook;

/// A run's output folder being built beside the real one, published by renaming.
pub(crate) struct Staging {
    pub dir: PathBuf,
    target: PathBuf,
    run_id: String,
    published: bool,
}

impl Staging {
    /// Creates `.<name>.tmp-<run_id>` next to `target`.
    pub fn new(target: &Path, run_id: &str) -> Result<Staging, StoreError> {
        let parent = target.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
        std::fs::create_dir_all(parent).map_err(|source| StoreError::Create { path: parent.to_path_buf(), source })?;
        let name = target.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| "out".into());
        let dir = parent.join(format!(".{name}.tmp-{run_id}"));
        std::fs::create_dir_all(&dir).map_err(|source| StoreError::Create { path: dir.clone(), source })?;
        Ok(Staging { dir, target: target.to_path_buf(), run_id: run_id.to_string(), published: false })
    }

    /// Marks the staged folder as a duibiao output and puts it in place of the target. With an
    /// existing target the two names are exchanged in one step (Linux) and the previous output
    /// is removed afterwards; where that is not supported, the previous output is renamed aside
    /// first, and `recover_interrupted` puts it back if the run dies before the second rename.
    pub fn publish(mut self) -> Result<PathBuf, StoreError> {
        super::marker::write(&self.dir, &self.run_id)?;
        testhook::reached(testhook::STAGED);
        let publish_error = |source| StoreError::Publish { path: self.target.clone(), source };
        if std::fs::symlink_metadata(&self.target).is_err() {
            std::fs::rename(&self.dir, &self.target).map_err(publish_error)?;
            self.published = true;
            return Ok(self.target.clone());
        }
        if !testhook::no_exchange() {
            if let Exchanged::Done = exchange(&self.dir, &self.target).map_err(publish_error)? {
                self.published = true;
                testhook::reached(testhook::EXCHANGED);
                remove_previous(&self.dir);
                return Ok(self.target.clone());
            }
        }
        let parent = self.dir.parent().unwrap().to_path_buf();
        let name = self.target.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        let old = parent.join(format!(".{name}.old-{}", self.run_id));
        std::fs::rename(&self.target, &old).map_err(|source| StoreError::MoveAside { path: self.target.clone(), source })?;
        testhook::reached(testhook::MOVED_ASIDE);
        if let Err(source) = std::fs::rename(&self.dir, &self.target) {
            let _ = std::fs::rename(&old, &self.target);
            return Err(StoreError::Publish { path: self.target.clone(), source });
        }
        self.published = true;
        testhook::reached(testhook::RENAMED);
        remove_previous(&old);
        Ok(self.target.clone())
    }

    /// Keeps the staged folder under `.<name>.failed-<run_id>` for inspection, target untouched.
    pub(crate) fn keep_as_failed(mut self, run_id: &str) -> PathBuf {
        let parent = self.dir.parent().unwrap().to_path_buf();
        let name = self.target.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        let failed = parent.join(format!("{name}.failed-{run_id}"));
        let _ = std::fs::rename(&self.dir, &failed);
        self.published = true; // nothing left to clean
        failed
    }
}

/// Removes a replaced output. Its marker goes first, so a half-removed folder is never taken
/// for a whole output; whatever a kill leaves is removed by the next run.
fn remove_previous(dir: &Path) {
    let _ = std::fs::remove_file(super::layout::marker(dir));
    testhook::reached(testhook::REMOVING_OLD);
    let _ = std::fs::remove_dir_all(dir);
}

/// What `recover_interrupted` found and did.
#[derive(Debug, Default)]
pub(crate) struct Recovered {
    /// The folder the previous output was put back from (a run died between the two renames of
    /// the fallback publish).
    pub restored: Option<PathBuf>,
    /// Leftover staging and set-aside folders of killed runs, removed.
    pub removed: Vec<PathBuf>,
}

/// Cleans up after runs that were killed, before a new run starts on `target`: if one died
/// between the two renames of the fallback publish, the previous output it had set aside is put
/// back; every other leftover staging or set-aside folder is removed. The caller holds the
/// output's lock, so every such folder belongs to a run that is no longer running.
pub(crate) fn recover_interrupted(target: &Path) -> Result<Recovered, StoreError> {
    let mut recovered = Recovered::default();
    let parent = target.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let Some(name) = target.file_name().map(|n| n.to_string_lossy().into_owned()) else { return Ok(recovered) };
    let Ok(entries) = std::fs::read_dir(parent) else { return Ok(recovered) };
    let (mut olds, mut tmps) = (Vec::new(), Vec::new());
    for entry in entries.flatten() {
        let file_name = entry.file_name().to_string_lossy().into_owned();
        let Some(rest) = file_name.strip_prefix(&format!(".{name}.")) else { continue };
        if rest.starts_with("old-") {
            olds.push(entry.path());
        } else if rest.starts_with("tmp-") {
            tmps.push(entry.path());
        }
    }
    // Run ids start with the time: the newest set-aside output sorts last.
    olds.sort();
    if std::fs::symlink_metadata(target).is_err()
        && let Some(newest) = olds.pop()
    {
        std::fs::rename(&newest, target).map_err(|source| StoreError::Restore { path: target.to_path_buf(), from: newest.clone(), source })?;
        recovered.restored = Some(newest);
    }
    for leftover in olds.into_iter().chain(tmps) {
        if std::fs::remove_dir_all(&leftover).is_ok() {
            recovered.removed.push(leftover);
        }
    }
    Ok(recovered)
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
pub(crate) fn copy_tree(from: &Path, to: &Path) -> Result<(), StoreError> {
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
pub(crate) fn new_run_id() -> String {
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    let secs = now.as_secs() as i64;
    let (y, m, d) = crate::base::calendar::civil_from_days(secs.div_euclid(86_400) as i32);
    let rem = secs.rem_euclid(86_400);
    format!("{y:04}{m:02}{d:02}T{:02}{:02}{:02}Z-{}", rem / 3600, rem % 3600 / 60, rem % 60, std::process::id())
}
