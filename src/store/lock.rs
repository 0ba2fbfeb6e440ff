//! The lock of an output folder: one run at a time builds and publishes a given output. The lock
//! is an exclusive `flock` on `layout::lock_file` beside the output folder, held for the whole
//! run; the file names the run holding it (pid, run id, start time, pipeline). A second run does
//! not wait: it fails at once naming the first. The kernel releases the lock when the holder
//! ends, however it ends, so a killed run never leaves a stale lock behind. The file itself stays
//! (removing it would let two runs lock two different files of the same name).

use std::fs::File;
use std::io::{Read as _, Seek as _, Write as _};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use super::error::StoreError;
use super::layout;

/// The held lock of an output folder; released when dropped (or when the process ends).
#[derive(Debug)]
pub(crate) struct OutputLock {
    _file: File,
    #[allow(dead_code)] // kept for messages and debugging
    pub path: PathBuf,
}

impl OutputLock {
    /// Takes the lock of `out` for run `run_id` of `pipeline`, creating the parent folder and the
    /// lock file if needed; fails at once with `StoreError::Busy` if another run holds it.
    pub(crate) fn acquire(out: &Path, run_id: &str, pipeline: &Path) -> Result<OutputLock, StoreError> {
        let path = layout::lock_file(out);
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent).map_err(|source| StoreError::Create { path: parent.to_path_buf(), source })?;
        }
        let lock_error = |source| StoreError::Lock { path: path.clone(), source };
        let mut file = std::fs::OpenOptions::new().read(true).write(true).create(true).truncate(false).open(&path).map_err(lock_error)?;
        match try_lock(&file) {
            Ok(true) => {}
            Ok(false) => return Err(StoreError::Busy { output: out.to_path_buf(), lock: path.clone(), holder: holder(&mut file) }),
            Err(source) => return Err(lock_error(source)),
        }
        let text = format!("pid {}\nrun {run_id}\nstarted {}\npipeline {}\n", std::process::id(), started_text(), pipeline.display());
        file.set_len(0).and_then(|_| file.rewind()).and_then(|_| file.write_all(text.as_bytes())).and_then(|_| file.flush()).map_err(lock_error)?;
        Ok(OutputLock { _file: file, path })
    }
}

/// Who holds the lock, from the lock file ("pid 1234, run …, started …, pipeline …"). The holder
/// writes the file right after locking it, so an empty file is read again for a moment.
fn holder(file: &mut File) -> String {
    let started = Instant::now();
    loop {
        let mut text = String::new();
        let _ = file.rewind().and_then(|_| file.read_to_string(&mut text));
        let fields: Vec<&str> = text.lines().map(str::trim).filter(|l| !l.is_empty()).collect();
        if fields.len() >= 3 || started.elapsed() > Duration::from_secs(2) {
            return if fields.is_empty() { "a run that has not said who it is yet".to_string() } else { fields.join(", ") };
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The current UTC time as "2020-12-31 23:59:59 UTC".
fn started_text() -> String {
    let secs = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default().as_secs() as i64;
    let (y, m, d) = crate::base::calendar::civil_from_days(secs.div_euclid(86_400) as i32);
    let rem = secs.rem_euclid(86_400);
    format!("{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02} UTC", rem / 3600, rem % 3600 / 60, rem % 60)
}

/// An exclusive, non-blocking lock: Ok(false) when another open file holds it.
#[cfg(unix)]
fn try_lock(file: &File) -> std::io::Result<bool> {
    use std::os::fd::AsRawFd as _;
    // SAFETY: flock on a file descriptor this process owns for as long as `file` lives.
    if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } == 0 {
        return Ok(true);
    }
    let error = std::io::Error::last_os_error();
    if error.kind() == std::io::ErrorKind::WouldBlock { Ok(false) } else { Err(error) }
}

/// Elsewhere the standard library's lock does the same.
#[cfg(not(unix))]
fn try_lock(file: &File) -> std::io::Result<bool> {
    match file.try_lock() {
        Ok(()) => Ok(true),
        Err(std::fs::TryLockError::WouldBlock) => Ok(false),
        Err(std::fs::TryLockError::Error(e)) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_lock_on_the_same_output_is_refused_naming_the_first() {
        let tmp = tempfile::tempdir().unwrap();
        let out = tmp.path().join("out");
        let first = OutputLock::acquire(&out, "20200101T000000Z-1", Path::new("p.toml")).unwrap();
        let second = OutputLock::acquire(&out, "20200101T000001Z-2", Path::new("p.toml")).unwrap_err();
        let text = second.to_string();
        assert!(text.contains(&format!("pid {}", std::process::id())) && text.contains("run 20200101T000000Z-1") && text.contains("started "), "{text}");
        drop(first);
        OutputLock::acquire(&out, "20200101T000002Z-3", Path::new("p.toml")).unwrap();
        // Another output in the same folder has its own lock.
        let _a = OutputLock::acquire(&out, "a", Path::new("p.toml")).unwrap();
        let _b = OutputLock::acquire(&tmp.path().join("out2"), "b", Path::new("p.toml")).unwrap();
    }
}
