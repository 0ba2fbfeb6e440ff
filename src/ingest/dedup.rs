//! Exact-duplicate detection in bounded memory. An exact copy of a row has the same cells, so the
//! same period: duplicates are looked for within each partition. Every accepted row leaves a
//! 32-byte trace (fingerprint, position in its partition file, file, line); traces are buffered,
//! and when the buffer is full each partition's traces are sorted and spilled to a run file. At
//! the end the runs of a partition are merged in fingerprint order: the first copy (lowest
//! position, i.e. first in file order) is kept, the others are duplicates. Memory is the buffer
//! and one read buffer per run, whatever the size of the input.
//!
//! Under the `exact` policy with possible duplicates held back (`hold`), every later copy of a
//! row is among the held rows. Then the runs need no order: at the end only the traces whose
//! fingerprint is one of the held rows' are kept (a hash lookup per trace), and only those few
//! are sorted and grouped. Runs are sorted at the end instead if holding stopped early.
//!
//! With a declared key the fingerprint is the key's and the trace also carries the whole row's:
//! traces sharing a key and a row are duplicates as before; when rows sharing a key differ,
//! every one of them is conflicting. Keyed traces are grouped over the whole source (a record
//! may have been exported with another date), and each names the partition its row lives in.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap, HashSet};
use std::fs::File;
use std::io::{BufReader, BufWriter, Read, Write};
use std::path::PathBuf;

use super::error::IngestError;
use crate::base::period::Period;

/// Traces buffered before a spill (128 MiB).
pub(crate) const BUFFERED_TRACES: usize = (128 << 20) / TRACE_BYTES;

/// Bytes of memory of one chunk of a partition's traces.
const CHUNK_BYTES: usize = 4 << 20;

/// What the duplicate check keeps of one accepted row.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Trace {
    /// What makes rows the same record: the whole row, or the declared key.
    pub fingerprint: u128,
    /// Table (file or sheet) index and line: file order.
    pub file: u32,
    pub line: u32,
    /// Row number in the partition's file, from 0 (file order).
    pub position: u64,
    /// The whole row's fingerprint (equal to `fingerprint` without a key).
    pub row: u128,
    /// Index of the partition the row was written to (the caller's numbering).
    pub partition: u32,
}

const TRACE_BYTES: usize = 52;

impl Trace {
    fn to_bytes(self) -> [u8; TRACE_BYTES] {
        let mut b = [0u8; TRACE_BYTES];
        b[..16].copy_from_slice(&self.fingerprint.to_le_bytes());
        b[16..24].copy_from_slice(&self.position.to_le_bytes());
        b[24..28].copy_from_slice(&self.file.to_le_bytes());
        b[28..32].copy_from_slice(&self.line.to_le_bytes());
        b[32..48].copy_from_slice(&self.row.to_le_bytes());
        b[48..].copy_from_slice(&self.partition.to_le_bytes());
        b
    }

    fn from_bytes(b: &[u8; TRACE_BYTES]) -> Trace {
        Trace {
            fingerprint: u128::from_le_bytes(b[..16].try_into().unwrap()),
            position: u64::from_le_bytes(b[16..24].try_into().unwrap()),
            file: u32::from_le_bytes(b[24..28].try_into().unwrap()),
            line: u32::from_le_bytes(b[28..32].try_into().unwrap()),
            row: u128::from_le_bytes(b[32..48].try_into().unwrap()),
            partition: u32::from_le_bytes(b[48..].try_into().unwrap()),
        }
    }
}

/// A row that repeats an earlier one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Duplicate {
    pub copy: Trace,
    pub first: Trace,
}

/// Rows sharing a key but differing: every row of the group, with the group's first row and size.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Conflict {
    pub row: Trace,
    pub first: Trace,
    pub rows: usize,
}

/// What the search found in one group.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Found {
    pub duplicates: Vec<Duplicate>,
    pub conflicts: Vec<Conflict>,
}

/// Collects traces partition by partition and finds the duplicates among them.
pub(crate) struct DuplicateFinder {
    dir: PathBuf,
    capacity: usize,
    /// Whether spilled runs are sorted when written (else at the end, if needed at all).
    sort_spills: bool,
    /// Each partition's traces in chunks of at most `CHUNK_BYTES`: a buffer grows by a chunk at a
    /// time, so its traces are never copied to a larger one (growing one vector by doubling copied
    /// every trace again and faulted in twice the pages).
    buffers: BTreeMap<Option<Period>, Vec<Vec<Trace>>>,
    /// Empty chunks kept from the last spill for the traces after it (no fresh pages).
    spare: Vec<Vec<Trace>>,
    runs: BTreeMap<Option<Period>, Vec<PathBuf>>,
    buffered: usize,
    spilled: usize,
}

impl DuplicateFinder {
    /// Run files go to `dir` (created on the first spill, removed by `finish`). With
    /// `sort_spills` false, runs are written as the traces came: for a search that will most
    /// likely be given its candidates (`finish_all`).
    pub fn new(dir: PathBuf, capacity: usize, sort_spills: bool) -> DuplicateFinder {
        DuplicateFinder {
            dir,
            capacity: capacity.max(1),
            sort_spills,
            buffers: BTreeMap::new(),
            spare: Vec::new(),
            runs: BTreeMap::new(),
            buffered: 0,
            spilled: 0,
        }
    }

    pub fn add(&mut self, partition: Option<Period>, trace: Trace) -> Result<(), IngestError> {
        let chunks = self.buffers.entry(partition).or_default();
        match chunks.last_mut() {
            Some(chunk) if chunk.len() < chunk.capacity() => chunk.push(trace),
            _ => {
                let traces = (CHUNK_BYTES / std::mem::size_of::<Trace>()).min(self.capacity);
                let mut chunk = self.spare.pop().unwrap_or_else(|| Vec::with_capacity(traces));
                chunk.push(trace);
                chunks.push(chunk);
            }
        }
        self.buffered += 1;
        if self.buffered >= self.capacity {
            self.spill()?;
        }
        Ok(())
    }

    fn spill(&mut self) -> Result<(), IngestError> {
        std::fs::create_dir_all(&self.dir).map_err(|source| IngestError::Create { path: self.dir.clone(), source })?;
        for (partition, chunks) in &mut self.buffers {
            if chunks.is_empty() {
                continue;
            }
            let path = self.dir.join(format!("run-{}.bin", self.spilled));
            self.spilled += 1;
            let file = File::create(&path).map_err(|source| IngestError::Create { path: path.clone(), source })?;
            let mut out = BufWriter::with_capacity(1 << 20, file);
            let mut write = |t: &Trace| out.write_all(&t.to_bytes()).map_err(|source| IngestError::RunFile { path: path.clone(), source });
            if self.sort_spills {
                let mut traces = chunks.concat();
                traces.sort_unstable();
                traces.iter().try_for_each(&mut write)?;
            } else {
                chunks.iter().flatten().try_for_each(&mut write)?;
            }
            out.flush().map_err(|source| IngestError::RunFile { path: path.clone(), source })?;
            self.runs.entry(*partition).or_default().push(path);
            for mut chunk in chunks.drain(..) {
                chunk.clear();
                self.spare.push(chunk);
            }
        }
        self.buffered = 0;
        Ok(())
    }

    /// The duplicates of every partition, in file order; run files are removed.
    #[cfg(test)]
    pub fn finish(self, candidates: Option<&Candidates>) -> Result<BTreeMap<Option<Period>, Vec<Duplicate>>, IngestError> {
        Ok(self.finish_all(candidates)?.into_iter().filter(|(_, f)| !f.duplicates.is_empty()).map(|(p, f)| (p, f.duplicates)).collect())
    }

    /// Duplicates and conflicts of every group, in file order; run files are removed.
    /// `candidates`, when given, holds (partition, fingerprint) of every trace that can be a later
    /// copy: groups are then looked for among the traces of those fingerprints only.
    pub(crate) fn finish_all(mut self, candidates: Option<&Candidates>) -> Result<BTreeMap<Option<Period>, Found>, IngestError> {
        let result = self.search(candidates);
        if self.spilled > 0 {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
        result
    }

    fn search(&mut self, candidates: Option<&Candidates>) -> Result<BTreeMap<Option<Period>, Found>, IngestError> {
        let mut partitions: Vec<Option<Period>> = self.buffers.keys().chain(self.runs.keys()).copied().collect();
        partitions.sort();
        partitions.dedup();
        let mut found = BTreeMap::new();
        for partition in partitions {
            let memory = self.buffers.remove(&partition).unwrap_or_default();
            let runs = self.runs.remove(&partition).unwrap_or_default();
            let result = match candidates {
                Some(candidates) => {
                    // The traces of candidate fingerprints, from memory and every run, in any order.
                    let is_candidate = |t: &Trace| candidates.contains(&(t.partition, t.fingerprint));
                    let mut few: Vec<Trace> = memory.into_iter().flatten().filter(is_candidate).collect();
                    for path in &runs {
                        let mut run = Sorted::open(path)?;
                        while let Some(t) = run.next()? {
                            if is_candidate(&t) {
                                few.push(t);
                            }
                        }
                    }
                    few.sort_unstable();
                    merge_runs(few, &[])?
                }
                None => {
                    if !self.sort_spills {
                        for path in &runs {
                            sort_run(path)?;
                        }
                    }
                    let mut memory = memory.concat();
                    memory.sort_unstable();
                    merge_runs(memory, &runs)?
                }
            };
            if !result.duplicates.is_empty() || !result.conflicts.is_empty() {
                found.insert(partition, result);
            }
        }
        Ok(found)
    }
}

/// (partition, fingerprint) of rows that may be later copies.
pub(crate) type Candidates = HashSet<(u32, u128), crate::base::digest::Fingerprinted>;

/// Sorts a run file written unsorted (one run is at most the trace buffer, in memory at once).
fn sort_run(path: &PathBuf) -> Result<(), IngestError> {
    let bytes = std::fs::read(path).map_err(|source| IngestError::Read { path: path.clone(), source })?;
    let mut traces: Vec<Trace> = bytes.chunks_exact(TRACE_BYTES).map(|b| Trace::from_bytes(b.try_into().expect("a whole trace"))).collect();
    drop(bytes);
    traces.sort_unstable();
    let file = File::create(path).map_err(|source| IngestError::Create { path: path.clone(), source })?;
    let mut out = BufWriter::with_capacity(1 << 20, file);
    for t in &traces {
        out.write_all(&t.to_bytes()).map_err(|source| IngestError::RunFile { path: path.clone(), source })?;
    }
    out.flush().map_err(|source| IngestError::RunFile { path: path.clone(), source })
}

/// A source of traces: the in-memory buffer or a run file (sorted, where they are merged).
enum Sorted {
    Memory(std::vec::IntoIter<Trace>),
    Run(BufReader<File>, PathBuf),
}

impl Sorted {
    fn open(path: &PathBuf) -> Result<Sorted, IngestError> {
        let file = File::open(path).map_err(|source| IngestError::Read { path: path.clone(), source })?;
        Ok(Sorted::Run(BufReader::with_capacity(1 << 20, file), path.clone()))
    }

    fn next(&mut self) -> Result<Option<Trace>, IngestError> {
        match self {
            Sorted::Memory(it) => Ok(it.next()),
            Sorted::Run(reader, path) => {
                let mut b = [0u8; TRACE_BYTES];
                match reader.read_exact(&mut b) {
                    Ok(()) => Ok(Some(Trace::from_bytes(&b))),
                    Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => Ok(None),
                    Err(source) => Err(IngestError::RunFile { path: path.clone(), source }),
                }
            }
        }
    }
}

/// Merges sorted traces; within a run of equal fingerprints the first in file order is the first
/// copy. A run whose rows all agree gives duplicates; one whose rows differ gives conflicts.
fn merge_runs(memory: Vec<Trace>, runs: &[PathBuf]) -> Result<Found, IngestError> {
    let mut sources = vec![Sorted::Memory(memory.into_iter())];
    for path in runs {
        sources.push(Sorted::open(path)?);
    }
    let mut heap = BinaryHeap::new();
    for (i, s) in sources.iter_mut().enumerate() {
        if let Some(t) = s.next()? {
            heap.push(Reverse((t, i)));
        }
    }
    let mut found = Found::default();
    // The current group: its first trace, and the others (kept only while they agree; a group
    // that disagrees is held whole, which only a key shared by many differing rows makes large).
    let mut group: Vec<Trace> = Vec::new();
    let close = |group: &mut Vec<Trace>, found: &mut Found| {
        if let Some(first) = group.first().copied() {
            if group.iter().all(|t| t.row == first.row) {
                found.duplicates.extend(group[1..].iter().map(|t| Duplicate { copy: *t, first }));
            } else {
                let rows = group.len();
                found.conflicts.extend(group.iter().map(|t| Conflict { row: *t, first, rows }));
            }
        }
        group.clear();
    };
    while let Some(Reverse((t, i))) = heap.pop() {
        if group.first().is_some_and(|f| f.fingerprint != t.fingerprint) {
            close(&mut group, &mut found);
        }
        group.push(t);
        if let Some(next) = sources[i].next()? {
            heap.push(Reverse((next, i)));
        }
    }
    close(&mut group, &mut found);
    found.duplicates.sort_by_key(|d| (d.copy.file, d.copy.line));
    found.conflicts.sort_by_key(|c| (c.row.file, c.row.line));
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn trace(fingerprint: u128, position: u64) -> Trace {
        Trace { fingerprint, position, file: (position / 100) as u32, line: (position % 100) as u32 + 2, row: fingerprint, partition: 0 }
    }

    /// The same answer from a plain in-memory index, the way it would be written by hand.
    fn by_hand(traces: &[(Option<Period>, Trace)]) -> BTreeMap<Option<Period>, Vec<Duplicate>> {
        let mut first: std::collections::HashMap<(Option<Period>, u128), Trace> = std::collections::HashMap::new();
        let mut out: BTreeMap<Option<Period>, Vec<Duplicate>> = BTreeMap::new();
        for (p, t) in traces {
            match first.get(&(*p, t.fingerprint)) {
                Some(f) => out.entry(*p).or_default().push(Duplicate { copy: *t, first: *f }),
                None => {
                    first.insert((*p, t.fingerprint), *t);
                }
            }
        }
        out
    }

    #[test]
    fn spilled_runs_find_the_same_duplicates_as_an_index_in_memory() {
        // 5 000 rows with small buffers (many spills), and 300 000 with buffers of several chunks
        // per partition (65 536 traces a chunk).
        for (rows, capacities) in [(5_000u64, vec![1_000_000, 997, 64]), (300_000, vec![1_000_000, 200_003])] {
            check_against_by_hand(rows, &capacities);
        }
    }

    fn check_against_by_hand(rows: u64, capacities: &[usize]) {
        let q = |i: u32| Some(Period::from(crate::base::period::Quarter::new(2020, i)));
        // Rows over two partitions; every 7th row repeats a row 300 rows earlier, and every
        // 1000th row is one and the same row.
        let mut traces = Vec::new();
        let mut positions = BTreeMap::new();
        for i in 0..rows {
            let p = q(1 + (i % 2) as u32);
            let fingerprint = if i % 7 == 0 && i >= 300 {
                u128::from(i - 300) * 7919
            } else if i % 1000 == 999 {
                42
            } else {
                u128::from(i) * 7919
            };
            let position = positions.entry(p).or_insert(0u64);
            traces.push((p, Trace { partition: (i % 2) as u32, ..trace(fingerprint, *position) }));
            *position += 1;
        }
        let expected = by_hand(&traces);
        assert!(expected.values().map(Vec::len).sum::<usize>() as u64 > rows / 20);
        // The candidates a complete hold gives: every later copy's (partition, fingerprint).
        let candidates: Candidates = expected.values().flatten().map(|d| (d.copy.partition, d.copy.fingerprint)).collect();
        for &capacity in capacities {
            for (sort_spills, given) in [(true, None), (false, None), (false, Some(&candidates))] {
                let dir = tempfile::tempdir().unwrap();
                let mut finder = DuplicateFinder::new(dir.path().join("runs"), capacity, sort_spills);
                for (p, t) in &traces {
                    finder.add(*p, *t).unwrap();
                }
                let found = finder.finish(given).unwrap();
                assert_eq!(found, expected, "{rows} rows, capacity {capacity}, sorted spills {sort_spills}, candidates {}", given.is_some());
                assert!(!dir.path().join("runs").exists(), "run files left behind");
            }
        }
    }

    #[test]
    fn traces_round_trip_through_bytes() {
        let t = Trace { fingerprint: u128::MAX - 5, position: 1 << 40, file: 7, line: u32::MAX, row: 3 << 100, partition: 9 };
        assert_eq!(Trace::from_bytes(&t.to_bytes()), t);
    }

    #[test]
    fn keyed_groups_give_duplicates_when_rows_agree_and_conflicts_when_they_differ() {
        // Key 1: three identical rows (two duplicates). Key 2: rows a, a, b (all three
        // conflicting). Key 3: alone. Spread over two partitions, with spills.
        let t = |key: u128, row: u128, file: u32, line: u32, partition: u32| Trace { fingerprint: key, file, line, position: u64::from(line), row, partition };
        let traces = [t(2, 20, 0, 5, 0), t(1, 10, 0, 2, 0), t(3, 30, 0, 3, 1), t(1, 10, 1, 2, 1), t(2, 20, 0, 9, 1), t(1, 10, 0, 7, 0), t(2, 21, 1, 4, 0)];
        for (capacity, sort_spills) in [(100, true), (2, true), (2, false)] {
            let dir = tempfile::tempdir().unwrap();
            let mut finder = DuplicateFinder::new(dir.path().join("runs"), capacity, sort_spills);
            for trace in traces {
                finder.add(None, trace).unwrap();
            }
            let found = finder.finish_all(None).unwrap().remove(&None).unwrap();
            let first = t(1, 10, 0, 2, 0);
            assert_eq!(found.duplicates, [Duplicate { copy: t(1, 10, 0, 7, 0), first }, Duplicate { copy: t(1, 10, 1, 2, 1), first }], "capacity {capacity}");
            let conflicting: Vec<(u32, u32, usize)> = found.conflicts.iter().map(|c| (c.row.file, c.row.line, c.rows)).collect();
            assert_eq!(conflicting, [(0, 5, 3), (0, 9, 3), (1, 4, 3)], "capacity {capacity}");
            assert!(found.conflicts.iter().all(|c| c.first == t(2, 20, 0, 5, 0)));
        }
    }
}
