//! Possible duplicates held back, so that a partition file is written once.
//!
//! Duplicates are known only when the whole source has been read (`dedup`), while rows are
//! written to their partition files as they are parsed. Without help, every partition that held
//! a duplicate would be rewritten without it at the end: a second decoding and encoding of
//! nearly all of a large source. Instead, under the `exact` duplicate policy, the merger keeps a
//! Bloom filter of the fingerprints each partition has received: a row whose fingerprint is
//! certainly new is written at once; a row that may repeat an earlier one (every later copy of a
//! row, and the filter's rare false positives) is held back. At the end the held rows that are
//! not duplicates are appended to their partition, and the duplicates are simply not written.
//!
//! Rows therefore stay in file order except the few false positives, which come last in their
//! partition (`source_row` still names their line). Memory is the filter, sized from the
//! source's bytes and capped, and the held rows, capped too: past the cap the held rows are
//! written where the merger is and holding stops; the duplicates among rows already written are
//! then removed by the rewrite, whose row positions this module translates.

use std::collections::BTreeMap;
use std::ops::Range;

use arrow::array::{ArrayRef, BooleanArray, UInt32Array};
use arrow::error::ArrowError;

use super::dedup::Candidates;

/// Bits of the filter per byte of input, before rounding down to a power of two: 0.5 to 1 bit
/// per byte. Rows of the exports are 40–150 bytes long: 20–150 bits per row, false positives
/// between 1e-3 and 1e-7 with six probes in a 512-bit block.
const BITS_PER_INPUT_BYTE: u64 = 1;
/// The filter's size bounds: 128 KiB to 256 MiB. At the cap a source of 108 M rows (7 GB of
/// line-loss exports) still has 20 bits per row, about 5e-4 false positives: some 50 000 rows
/// held, well under `MAX_HELD_ROWS`. A cap of 64 MiB left it 5 bits per row, a false positive
/// every seven rows: holding stopped at its cap early, and every partition was rewritten after
/// the duplicate traces had been sorted and merged on disk.
const MIN_BITS: u64 = 1 << 20;
const MAX_BITS: u64 = 1 << 31;
/// Probes per fingerprint.
const PROBES: u64 = 6;
/// Words of one block: 512 bits, one cache line.
const BLOCK_WORDS: usize = 8;
/// Held rows of a source, at most, before they are written and holding stops.
pub(crate) const MAX_HELD_ROWS: usize = 256 * 1024;

/// A cache-blocked Bloom filter over 128-bit fingerprints (already uniform hashes). The low
/// half picks a 512-bit block, the high half the six bits in it: an insert touches one cache
/// line. A filter of tens of megabytes is far larger than the caches, and six probes spread
/// over it cost six cache misses per row, which made the filter the merger's largest cost.
struct Bloom {
    blocks: Vec<[u64; BLOCK_WORDS]>,
    mask: u64,
}

impl Bloom {
    fn with_bits(bits: u64) -> Bloom {
        let bits = bits.next_power_of_two().clamp(MIN_BITS, MAX_BITS);
        let blocks = (bits / 512) as usize;
        Bloom { blocks: vec![[0; BLOCK_WORDS]; blocks], mask: blocks as u64 - 1 }
    }

    /// Adds a fingerprint; true when it may have been added before.
    fn insert(&mut self, fingerprint: u128) -> bool {
        let block = &mut self.blocks[(fingerprint as u64 & self.mask) as usize];
        let mut probes = (fingerprint >> 64) as u64;
        let mut present = true;
        for _ in 0..PROBES {
            // Nine bits of the high half per probe: a word of the block and a bit in it.
            let bit = (probes & 511) as usize;
            probes >>= 9;
            let (word, m) = (bit >> 6, 1u64 << (bit & 63));
            present &= block[word] & m != 0;
            block[word] |= m;
        }
        present
    }

    /// Adds each fingerprint (xor `salt`) in order; the positions of those that may have been
    /// added before. The block of a fingerprint some places ahead is fetched into the cache
    /// while the current one is set: the filter is far larger than the caches, so each insert
    /// waits for memory, and one wait at a time made the filter a large part of the merger.
    fn insert_all(&mut self, fingerprints: &[u128], salt: u128) -> Vec<u32> {
        const AHEAD: usize = 16;
        let mut maybe = Vec::new();
        for (i, f) in fingerprints.iter().enumerate() {
            if let Some(next) = fingerprints.get(i + AHEAD) {
                self.prefetch(*next ^ salt);
            }
            if self.insert(*f ^ salt) {
                maybe.push(i as u32);
            }
        }
        maybe
    }

    /// A hint to load the block of `fingerprint` into the cache (nothing on other processors).
    #[inline(always)]
    fn prefetch(&self, fingerprint: u128) {
        let block = &self.blocks[(fingerprint as u64 & self.mask) as usize];
        #[cfg(target_arch = "x86_64")]
        // SAFETY: a prefetch is only a hint; it reads nothing and the address is a live block.
        #[allow(unused_unsafe)]
        unsafe {
            std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>(block.as_ptr().cast::<i8>());
        }
        #[cfg(not(target_arch = "x86_64"))]
        let _ = block;
    }
}

/// The size of the filter for a source of `input_bytes`: `BITS_PER_INPUT_BYTE` per byte rounded
/// down to a power of two (the block index is a mask), within the bounds.
fn filter_bits(input_bytes: u64) -> u64 {
    let bits = input_bytes.saturating_mul(BITS_PER_INPUT_BYTE).max(1);
    (1u64 << (63 - bits.leading_zeros())).clamp(MIN_BITS, MAX_BITS)
}

/// All `rows` of a part, as one range (none for an empty part).
fn whole(rows: usize) -> Vec<Range<usize>> {
    if rows == 0 { Vec::new() } else { vec![0..rows] }
}

/// The rows of one partition held back, in arrival order.
#[derive(Default)]
struct Held {
    /// Arrival positions of the held rows (ascending).
    positions: Vec<u64>,
    /// Their arrays, one batch per part they came from.
    batches: Vec<Vec<ArrayRef>>,
    /// Rows of the partition that had arrived when the held rows were written (holding
    /// stopped); None while they are still held.
    written_at: Option<u64>,
}

/// The held-back rows of a source, by partition (the merger's numbering).
pub(crate) struct HeldBack {
    bloom: Option<Bloom>,
    partitions: BTreeMap<u32, Held>,
    /// (partition, fingerprint) of every row held back: while holding lasts, every later copy
    /// of a row is among them.
    candidates: Candidates,
    held_rows: usize,
    max_held_rows: usize,
}

/// What to do with a partition at the end: rows to append to its file, and the positions (in
/// the file as written) of duplicates that were written and must be removed by a rewrite.
pub(crate) struct Settled {
    pub append: Option<Vec<ArrayRef>>,
    pub rewrite: Vec<u64>,
}

impl HeldBack {
    /// Holding for a source of `input_bytes`; `enabled` under the `exact` policy only (with a key,
    /// a conflict removes the first row of its key too, so nothing is gained by holding).
    pub(crate) fn new(enabled: bool, input_bytes: u64, max_held_rows: usize) -> HeldBack {
        let bloom = enabled.then(|| Bloom::with_bits(filter_bits(input_bytes)));
        HeldBack { bloom, partitions: BTreeMap::new(), candidates: Candidates::default(), held_rows: 0, max_held_rows }
    }

    /// The fingerprints the duplicate check needs to look at, when holding lasted the whole
    /// source (every later copy of a row was held back); None otherwise.
    pub(crate) fn candidates(&self) -> Option<&Candidates> {
        self.bloom.as_ref().map(|_| &self.candidates)
    }

    /// Takes a part's rows (arriving at positions `first`.. of `partition`): returns the ranges
    /// of rows to write now (ascending; the whole part when none is held) and keeps the rows
    /// that may be duplicates. The rows to write are named, not copied: a block with a held row
    /// or two is written as slices around them.
    pub(crate) fn split(&mut self, partition: u32, first: u64, fingerprints: &[u128], arrays: &[ArrayRef]) -> Result<Vec<Range<usize>>, ArrowError> {
        let rows = fingerprints.len();
        let Some(bloom) = &mut self.bloom else { return Ok(whole(rows)) };
        let salt = u128::from(partition).wrapping_mul(0x9E37_79B9_7F4A_7C15_F39C_C060_5CED_C835);
        let held = bloom.insert_all(fingerprints, salt);
        if held.is_empty() {
            return Ok(whole(rows));
        }
        let indices = UInt32Array::from(held.clone());
        let taken = arrays.iter().map(|a| arrow::compute::take(a, &indices, None)).collect::<Result<Vec<_>, _>>()?;
        let mut runs = Vec::with_capacity(held.len() + 1);
        let mut start = 0;
        for &i in &held {
            if start < i as usize {
                runs.push(start..i as usize);
            }
            start = i as usize + 1;
        }
        if start < rows {
            runs.push(start..rows);
        }
        self.candidates.extend(held.iter().map(|&i| (partition, fingerprints[i as usize])));
        let entry = self.partitions.entry(partition).or_default();
        entry.positions.extend(held.iter().map(|&i| first + u64::from(i)));
        entry.batches.push(taken);
        self.held_rows += held.len();
        Ok(runs)
    }

    /// When the held rows reach the cap: holding stops, and the held rows of every partition are
    /// returned to be written now, after the `arrived(partition)` rows that partition has had.
    pub(crate) fn overflow(&mut self, arrived: impl Fn(u32) -> u64) -> Result<Vec<(u32, Vec<ArrayRef>)>, ArrowError> {
        if self.bloom.is_none() || self.held_rows < self.max_held_rows {
            return Ok(Vec::new());
        }
        self.bloom = None;
        self.candidates = Candidates::default();
        let mut out = Vec::new();
        for (&partition, held) in &mut self.partitions {
            held.written_at = Some(arrived(partition));
            if !held.batches.is_empty() {
                out.push((partition, concat(std::mem::take(&mut held.batches))?));
            }
        }
        Ok(out)
    }

    /// The end of a partition that received `arrived` rows, `drops` the arrival positions of its
    /// duplicates (sorted).
    pub(crate) fn settle(&mut self, partition: u32, arrived: u64, drops: &[u64]) -> Result<Settled, ArrowError> {
        let Some(held) = self.partitions.remove(&partition) else {
            return Ok(Settled { append: None, rewrite: drops.to_vec() });
        };
        let is_held = |p: &u64| held.positions.binary_search(p).is_ok();
        match held.written_at {
            None => {
                // Held rows come after the rows written; the duplicates among them are left out.
                let keep: Vec<bool> = held.positions.iter().map(|p| drops.binary_search(p).is_err()).collect();
                let rows = concat(held.batches)?;
                let keep = BooleanArray::from(keep);
                let kept = rows.iter().map(|a| arrow::compute::filter(a, &keep)).collect::<Result<Vec<_>, _>>()?;
                let append = kept.first().is_some_and(|a| !a.is_empty()).then_some(kept);
                let rewrite = drops.iter().filter(|p| !is_held(p)).map(|&p| file_position(&held.positions, arrived, p)).collect();
                Ok(Settled { append, rewrite })
            }
            Some(at) => Ok(Settled { append: None, rewrite: drops.iter().map(|&p| file_position(&held.positions, at, p)).collect() }),
        }
    }
}

/// Where a row that arrived at position `p` is in its file, when the rows at `held` (sorted)
/// were written after the others that had arrived by `at`, and rows from `at` on in order.
fn file_position(held: &[u64], at: u64, p: u64) -> u64 {
    if p >= at {
        return p;
    }
    match held.binary_search(&p) {
        Ok(rank) => at - held.len() as u64 + rank as u64,
        Err(before) => p - before as u64,
    }
}

/// Batches of the same columns as one batch.
fn concat(batches: Vec<Vec<ArrayRef>>) -> Result<Vec<ArrayRef>, ArrowError> {
    let Some(width) = batches.first().map(Vec::len) else { return Ok(Vec::new()) };
    (0..width)
        .map(|c| {
            let columns: Vec<&dyn arrow::array::Array> = batches.iter().map(|b| b[c].as_ref()).collect();
            arrow::compute::concat(&columns)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::{Array, Int64Array};
    use proptest::prelude::*;

    fn column(values: &[i64]) -> Vec<ArrayRef> {
        vec![std::sync::Arc::new(Int64Array::from(values.to_vec())) as ArrayRef]
    }

    fn values(arrays: &[ArrayRef]) -> Vec<i64> {
        arrays[0].as_any().downcast_ref::<Int64Array>().unwrap().values().to_vec()
    }

    #[test]
    fn a_fingerprint_seen_before_is_always_reported() {
        let mut bloom = Bloom::with_bits(1 << 20);
        let seen: Vec<u128> = (0..20_000u128).map(|i| i.wrapping_mul(0x2545_F491_4F6C_DD1D_9E37_79B9_7F4A_7C15) ^ (i << 70)).collect();
        let mut false_positives = 0;
        for &f in &seen {
            false_positives += usize::from(bloom.insert(f));
        }
        assert!(seen.iter().all(|&f| bloom.insert(f)));
        // 52 bits per fingerprint and six probes: false positives are rare.
        assert!(false_positives < 20, "{false_positives}");
    }

    #[test]
    fn the_filter_is_a_power_of_two_at_most_one_bit_per_input_byte_within_its_bounds() {
        // By hand: 2^29 = 536 870 912 <= 708 000 000 < 2^30; 2^32 <= 7e9, above the cap of 2^31.
        assert_eq!(filter_bits(0), 1 << 20);
        assert_eq!(filter_bits(5_000), 1 << 20);
        assert_eq!(filter_bits((1 << 20) + 1), 1 << 20);
        assert_eq!(filter_bits(3 << 20), 1 << 21);
        assert_eq!(filter_bits(708_000_000), 1 << 29);
        assert_eq!(filter_bits((1 << 31) - 1), 1 << 30);
        assert_eq!(filter_bits(1 << 31), 1 << 31);
        assert_eq!(filter_bits(7_000_000_000), 1 << 31);
        assert_eq!(filter_bits(u64::MAX), 1 << 31);
    }

    #[test]
    fn inserting_a_batch_is_inserting_one_by_one() {
        // Repeats within the batch, near each other (inside the prefetch distance) and far apart.
        let spread = |i: u128| i.wrapping_mul(0x2545_F491_4F6C_DD1D_9E37_79B9_7F4A_7C15) ^ (i << 90);
        let mut batch: Vec<u128> = Vec::new();
        for i in 0..3_000u128 {
            batch.push(spread(i % 1_700));
            if i % 10 == 0 {
                batch.push(spread(i % 1_700));
            }
        }
        let salt = 0x1234_5678_9ABC_DEF0_u128 << 40;
        let (mut one, mut all) = (Bloom::with_bits(1 << 20), Bloom::with_bits(1 << 20));
        let expected: Vec<u32> = batch.iter().enumerate().filter(|(_, f)| one.insert(**f ^ salt)).map(|(i, _)| i as u32).collect();
        assert!(expected.len() >= 1_300 + 300, "{}", expected.len());
        assert_eq!(all.insert_all(&batch, salt), expected);
        assert_eq!(all.blocks, one.blocks);
        assert_eq!(all.insert_all(&[], salt), Vec::<u32>::new());
    }

    #[test]
    fn file_positions_follow_the_order_rows_were_written() {
        // Rows 0..10 arrived; 2 and 5 were held and written after the others, at 10; 10.. in order.
        let held = [2, 5];
        let file: Vec<u64> = (0..12).map(|p| file_position(&held, 10, p)).collect();
        assert_eq!(file, vec![0, 1, 8, 2, 3, 9, 4, 5, 6, 7, 10, 11]);
    }

    // A source's rows, in arrival order, by value (equal values are equal rows): writing what
    // `split` returns, then what `overflow` returns when it does, then `settle`'s rows to
    // append, and removing `settle`'s rewrite positions from what was written, leaves the rows
    // that are not later copies, every copy removed, whatever the cap.
    proptest! {
        #![proptest_config(crate::base::proptest_config(256))]
        #[test]
        fn held_rows_and_rewrites_leave_each_row_once(rows in proptest::collection::vec(0i64..40, 0..200), part in 1usize..30, cap in 1usize..60) {
            let mut held = HeldBack::new(true, 0, cap);
            let mut file: Vec<i64> = Vec::new();
            let mut arrived = 0u64;
            for chunk in rows.chunks(part) {
                let fingerprints: Vec<u128> = chunk.iter().map(|&v| u128::from(v as u64) * 0x9E37_79B9_7F4A_7C15_F39C_C060_5CED_C835 + 7).collect();
                let arrays = column(chunk);
                let runs = held.split(0, arrived, &fingerprints, &arrays).unwrap();
                // Ascending, disjoint and not empty.
                prop_assert!(runs.iter().all(|r| !r.is_empty()) && runs.windows(2).all(|w| w[0].end < w[1].start));
                for run in runs {
                    file.extend(&values(&arrays)[run]);
                }
                arrived += chunk.len() as u64;
                for (_, arrays) in held.overflow(|_| arrived).unwrap() {
                    file.extend(values(&arrays));
                }
            }
            // The duplicate check: every later copy of a value, by arrival position.
            let mut seen = std::collections::HashSet::new();
            let drops: Vec<u64> = rows.iter().enumerate().filter(|(_, v)| !seen.insert(**v)).map(|(i, _)| i as u64).collect();
            // While holding lasted, every later copy is a candidate of the duplicate check.
            if let Some(candidates) = held.candidates() {
                let fingerprint = |v: i64| u128::from(v as u64) * 0x9E37_79B9_7F4A_7C15_F39C_C060_5CED_C835 + 7;
                for &d in &drops {
                    prop_assert!(candidates.contains(&(0, fingerprint(rows[d as usize]))), "row {} is no candidate", d);
                }
            }
            let settled = held.settle(0, arrived, &drops).unwrap();
            if let Some(append) = &settled.append {
                file.extend(values(append));
            }
            let mut rewrite = settled.rewrite.clone();
            rewrite.sort_unstable();
            let kept: Vec<i64> = file.iter().enumerate().filter(|(i, _)| rewrite.binary_search(&(*i as u64)).is_err()).map(|(_, v)| *v).collect();
            let mut expected: Vec<i64> = Vec::new();
            for v in &rows {
                if !expected.contains(v) {
                    expected.push(*v);
                }
            }
            let (mut a, mut b) = (kept.clone(), expected.clone());
            a.sort_unstable();
            b.sort_unstable();
            prop_assert_eq!(a, b, "written {:?}", file);
            // Without false positives (distinct values hash apart here) and below the cap, the
            // file is in arrival order and nothing is rewritten.
            if rewrite.is_empty() && settled.append.is_none() {
                prop_assert_eq!(kept, expected);
            }
        }
    }
}
