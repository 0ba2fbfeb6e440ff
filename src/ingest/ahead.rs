//! The sha256 of a source's CSV files, computed by a thread that reads them ahead of the parser,
//! eight side by side (`base::sha256_lanes`), on CPUs where that pays: with AVX2 but without SHA
//! extensions, SHA-256 one file after another was the largest single item of ingest's CPU time.
//!
//! The manifest's fingerprint must be that of the bytes the rows came from, and the files are read
//! twice. So the pass also takes an XXH3-64 of each file, and the reader one of the bytes it
//! parsed; the reader accepts the pass's sha256 only when both agree and the sizes are equal. A
//! file changed between the two reads (an export still being copied) stops the run with an error
//! naming it, as a file that cannot be read does.

use std::collections::HashMap;
use std::fs::File;
use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;

use crate::base::sha256_lanes::{Kernel, LANES, Lanes, pad_end};

use super::error::IngestError;

/// Bytes read from each file at a time: a few system calls per megabyte, 8 MiB of buffers.
const CHUNK: usize = 1 << 20;

/// Fewest files for which a second read pays: with fewer, most lanes idle.
const FEWEST_FILES: usize = 4;

/// What the pass found for one file.
#[derive(Debug, Clone)]
pub(crate) struct FileDigest {
    /// Lower-case hex sha256 of the file's bytes.
    pub sha256: String,
    /// XXH3-64 of the same bytes, to compare with the reader's.
    pub check: u64,
    pub bytes: u64,
}

/// The kernel to hash `files` (CSV) side by side with, or None where hashing each file as it is
/// read is as fast or safer: a CPU with SHA extensions (ring uses them), one without AVX2, fewer
/// than `FEWEST_FILES` files, or more bytes than the page cache is likely to keep for the second
/// read (half the memory available). Only regular files are read twice (never a pipe); a file
/// whose size cannot be read is left to the reader, which names the error.
/// `DUIBIAO_TEST_FINGERPRINTS` (`inline` or `side-by-side`) lets tests choose among readable
/// regular files.
pub(crate) fn kernel_for(files: &[PathBuf]) -> Option<Kernel> {
    let bytes: u64 = files.iter().map(|f| std::fs::metadata(f).ok().filter(std::fs::Metadata::is_file).map(|m| m.len())).sum::<Option<u64>>()?;
    match crate::store::testhook::fingerprints() {
        Some(crate::store::testhook::Fingerprints::Inline) => None,
        Some(crate::store::testhook::Fingerprints::SideBySide) => Kernel::detect(),
        None if files.len() >= FEWEST_FILES && !sha_extensions() && read_twice_from_memory(bytes) => Kernel::detect(),
        None => None,
    }
}

/// Whether `bytes` just read are likely still in the page cache when read again: at most half
/// the memory available now (Linux's `MemAvailable`); false where that is unknown.
fn read_twice_from_memory(bytes: u64) -> bool {
    let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    let available_kib = meminfo.lines().find_map(|line| line.strip_prefix("MemAvailable:")?.trim().strip_suffix("kB")?.trim().parse::<u64>().ok());
    available_kib.is_some_and(|kib| bytes <= kib.saturating_mul(1024) / 2)
}

fn sha_extensions() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::arch::is_x86_feature_detected!("sha")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// The pass over a source's files, running on a thread of the caller's scope.
pub(crate) struct Ahead {
    receiver: mpsc::Receiver<(usize, io::Result<FileDigest>)>,
    arrived: HashMap<usize, io::Result<FileDigest>>,
    stop: Arc<AtomicBool>,
}

impl Ahead {
    /// Starts hashing `files` on a thread of `scope`; it stops early once this is dropped.
    pub(crate) fn start<'scope, 'env>(scope: &'scope std::thread::Scope<'scope, 'env>, files: &'env [PathBuf], kernel: Kernel) -> Ahead {
        let (sender, receiver) = mpsc::channel();
        let stop = Arc::new(AtomicBool::new(false));
        let stopped = stop.clone();
        scope.spawn(move || hash_side_by_side(files, kernel, &stopped, |index, digest| sender.send((index, digest)).is_ok()));
        Ahead { receiver, arrived: HashMap::new(), stop }
    }

    /// The sha256 the pass took of file `index` (at `path`), once the XXH3-64 and size of the
    /// bytes the reader parsed (`check`, `bytes`) show that the pass read the same bytes.
    pub(crate) fn sha256(&mut self, index: usize, path: &Path, check: u64, bytes: u64) -> Result<String, IngestError> {
        match self.digest(index) {
            Some(Ok(digest)) if digest.check == check && digest.bytes == bytes => Ok(digest.sha256),
            Some(Ok(digest)) => Err(IngestError::ChangedWhileRead { path: path.to_path_buf(), first: digest.bytes, then: bytes }),
            Some(Err(source)) => Err(IngestError::Read { path: path.to_path_buf(), source }),
            None => Err(IngestError::Read { path: path.to_path_buf(), source: io::Error::other("the pass taking the files' sha256 stopped before this file") }),
        }
    }

    /// The digest of file `index` of the list, once the pass has it; None if the pass ended
    /// without it (it panicked).
    fn digest(&mut self, index: usize) -> Option<io::Result<FileDigest>> {
        loop {
            if let Some(digest) = self.arrived.remove(&index) {
                return Some(digest);
            }
            let (i, digest) = self.receiver.recv().ok()?;
            self.arrived.insert(i, digest);
        }
    }
}

impl Drop for Ahead {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// A file in a lane.
struct Lane {
    index: usize,
    file: File,
    bytes: u64,
    check: xxhash_rust::xxh3::Xxh3,
}

/// Hashes `files`, up to eight at a time in lockstep, a chunk of each per step; a lane whose file
/// ended takes the next file. Each file's digest (or the error reading it) goes to `deliver` as
/// soon as it is known; stops when `deliver` returns false or `stop` is set.
pub(crate) fn hash_side_by_side(files: &[PathBuf], kernel: Kernel, stop: &AtomicBool, mut deliver: impl FnMut(usize, io::Result<FileDigest>) -> bool) {
    let mut lanes = Lanes::new(kernel);
    let mut slots: [Option<Lane>; LANES] = Default::default();
    // A chunk and room for the padding of a file's end.
    let mut buffers: Vec<Vec<u8>> = (0..LANES).map(|_| Vec::new()).collect();
    let mut lengths = [0usize; LANES];
    let mut next = 0;
    loop {
        if stop.load(Ordering::Relaxed) {
            return;
        }
        for (lane, slot) in slots.iter_mut().enumerate() {
            while slot.is_none() && next < files.len() {
                let index = next;
                next += 1;
                match File::open(&files[index]) {
                    Ok(file) => {
                        lanes.reset(lane);
                        *slot = Some(Lane { index, file, bytes: 0, check: xxhash_rust::xxh3::Xxh3::new() });
                    }
                    Err(error) => {
                        if !deliver(index, Err(error)) {
                            return;
                        }
                    }
                }
            }
        }
        if slots.iter().all(Option::is_none) {
            return;
        }
        let mut ended = [false; LANES];
        for lane in 0..LANES {
            lengths[lane] = 0;
            let Some(open) = &mut slots[lane] else { continue };
            let buffer = &mut buffers[lane];
            if buffer.is_empty() {
                buffer.resize(CHUNK + 128, 0);
            }
            let read = match fill(&mut open.file, &mut buffer[..CHUNK]) {
                Ok(read) => read,
                Err(error) => {
                    let index = open.index;
                    slots[lane] = None;
                    if !deliver(index, Err(error)) {
                        return;
                    }
                    continue;
                }
            };
            open.check.update(&buffer[..read]);
            open.bytes += read as u64;
            lengths[lane] = read;
            if read < CHUNK {
                // The file's end: its last partial block and the padding.
                ended[lane] = true;
                let whole = read / 64 * 64;
                let mut tail = buffer[whole..read].to_vec();
                pad_end(&mut tail, open.bytes);
                buffer[whole..whole + tail.len()].copy_from_slice(&tail);
                lengths[lane] = whole + tail.len();
            }
        }
        lanes.update(std::array::from_fn(|lane| &buffers[lane][..lengths[lane]]));
        for lane in 0..LANES {
            if !ended[lane] {
                continue;
            }
            let Some(done) = slots[lane].take() else { continue };
            let sha256: String = lanes.digest(lane).iter().map(|b| format!("{b:02x}")).collect();
            if !deliver(done.index, Ok(FileDigest { sha256, check: done.check.digest(), bytes: done.bytes })) {
                return;
            }
        }
    }
}

/// Reads into `buffer` until it is full or the file ends; the bytes read.
fn fill(file: &mut File, buffer: &mut [u8]) -> io::Result<usize> {
    let mut filled = 0;
    while filled < buffer.len() {
        match file.read(&mut buffer[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
            Err(error) => return Err(error),
        }
    }
    Ok(filled)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// This CPU's kernel; None, said on stderr, where there is none (the pass is not used).
    fn kernel_here() -> Option<Kernel> {
        let kernel = Kernel::detect();
        if kernel.is_none() {
            eprintln!("no AVX2 on this CPU: the pass is not used here");
        }
        kernel
    }

    #[test]
    fn the_pass_gives_each_files_sha256_size_and_check() {
        let Some(kernel) = kernel_here() else { return };
        let dir = tempfile::tempdir().unwrap();
        // Eleven files: more than the lanes, of sizes around the chunk and block boundaries, one
        // empty, and one path that does not exist.
        let sizes = [0usize, 1, 63, 64, 65, CHUNK - 1, CHUNK, CHUNK + 1, 3 * CHUNK + 17, 1000, 2 * CHUNK];
        let mut files: Vec<PathBuf> = sizes
            .iter()
            .enumerate()
            .map(|(i, &n)| {
                let path = dir.path().join(format!("{i}.csv"));
                std::fs::write(&path, (0..n).map(|k| (k.wrapping_mul(7919) ^ (k >> 11) ^ i) as u8).collect::<Vec<u8>>()).unwrap();
                path
            })
            .collect();
        files.insert(4, dir.path().join("missing.csv"));
        let mut found = HashMap::new();
        hash_side_by_side(&files, kernel, &AtomicBool::new(false), |index, digest| found.insert(index, digest).is_none());
        assert_eq!(found.len(), files.len());
        for (index, path) in files.iter().enumerate() {
            match (std::fs::read(path), &found[&index]) {
                (Ok(bytes), Ok(digest)) => {
                    let expected: String = <sha2::Sha256 as sha2::Digest>::digest(&bytes).iter().map(|b| format!("{b:02x}")).collect();
                    assert_eq!(digest.sha256, expected, "{}", path.display());
                    assert_eq!(digest.bytes, bytes.len() as u64);
                    assert_eq!(digest.check, xxhash_rust::xxh3::xxh3_64(&bytes));
                }
                (Err(_), Err(error)) => assert_eq!(error.kind(), io::ErrorKind::NotFound),
                (read, digest) => panic!("{}: read {:?}, pass {:?}", path.display(), read.map(|b| b.len()), digest),
            }
        }
    }

    #[test]
    fn only_four_or_more_regular_files_are_hashed_side_by_side() {
        let dir = tempfile::tempdir().unwrap();
        let files: Vec<PathBuf> = (0..4).map(|i| dir.path().join(format!("{i}.csv"))).collect();
        for f in &files {
            std::fs::write(f, "a,b\n1,2\n").unwrap();
        }
        // Where the CPU has SHA extensions (or no AVX2), files are hashed as they are read.
        let expected = if sha_extensions() { None } else { Kernel::detect() };
        assert_eq!(kernel_for(&files), expected);
        assert_eq!(kernel_for(&files[..3]), None, "three files");
        // A missing file is left to the reader, and a named pipe is never read twice.
        let missing: Vec<PathBuf> = files.iter().cloned().chain([dir.path().join("missing.csv")]).collect();
        assert_eq!(kernel_for(&missing), None, "a missing file");
        let pipe = dir.path().join("pipe.csv");
        let name = std::ffi::CString::new(pipe.to_str().unwrap()).unwrap();
        // SAFETY: a valid NUL-terminated path; mkfifo only creates the pipe.
        assert_eq!(unsafe { libc::mkfifo(name.as_ptr(), 0o600) }, 0);
        let with_pipe: Vec<PathBuf> = files.iter().cloned().chain([pipe]).collect();
        assert_eq!(kernel_for(&with_pipe), None, "a named pipe");
    }

    #[test]
    fn a_file_changed_after_the_pass_stops_the_run() {
        let Some(kernel) = kernel_here() else { return };
        let dir = tempfile::tempdir().unwrap();
        let files: Vec<PathBuf> = (0..3).map(|i| dir.path().join(format!("{i}.csv"))).collect();
        for f in &files {
            std::fs::write(f, "站,值\n甲,1\n乙,2\n").unwrap();
        }
        // The pass runs first, as it does ahead of the reader; then file 1 grows by a line and
        // file 2 keeps its size with one digit changed, before "the reader" reads them.
        let mut ahead = std::thread::scope(|scope| {
            let mut ahead = Ahead::start(scope, &files, kernel);
            for index in 0..files.len() {
                let digest = ahead.digest(index);
                ahead.arrived.insert(index, digest.unwrap());
            }
            ahead
        });
        std::fs::write(&files[1], "站,值\n甲,1\n乙,2\n丙,3\n").unwrap();
        std::fs::write(&files[2], "站,值\n甲,1\n乙,3\n").unwrap();
        let read = |f: &PathBuf| {
            let bytes = std::fs::read(f).unwrap();
            (xxhash_rust::xxh3::xxh3_64(&bytes), bytes.len() as u64)
        };
        let (check, bytes) = read(&files[0]);
        let expected: String = <sha2::Sha256 as sha2::Digest>::digest("站,值\n甲,1\n乙,2\n".as_bytes()).iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(ahead.sha256(0, &files[0], check, bytes).unwrap(), expected);
        let (check, bytes) = read(&files[1]);
        let grown = ahead.sha256(1, &files[1], check, bytes).unwrap_err().to_string();
        assert!(grown.contains("1.csv changed while it was read (20 bytes for its sha256, then 26 bytes)"), "{grown}");
        let (check, bytes) = read(&files[2]);
        let edited = ahead.sha256(2, &files[2], check, bytes).unwrap_err().to_string();
        assert!(edited.contains("2.csv changed while it was read (20 bytes for its sha256, then 20 bytes with other content)"), "{edited}");
    }
}
