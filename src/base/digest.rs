//! Content fingerprints: the sha256 of the pipeline text and of input files, as lower-case hex;
//! and the hasher for hash sets keyed by fingerprints that are hashes already.

use sha2::{Digest, Sha256};

/// Lower-case hex sha256 of some bytes (input fingerprints in the manifest).
pub(crate) fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}

/// A `Hasher` for keys made of fingerprints that are already well-mixed hashes (XXH3 of rows or
/// values) and small integers: their bits are folded in without hashing them again, where the
/// standard SipHash spent most of a set lookup. Other bytes are mixed with XXH3, so any key still
/// hashes correctly.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct FingerprintHasher(u64);

/// Build hasher of `FingerprintHasher`, for `HashSet` and `HashMap`.
pub(crate) type Fingerprinted = std::hash::BuildHasherDefault<FingerprintHasher>;

impl std::hash::Hasher for FingerprintHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        self.0 = xxhash_rust::xxh3::xxh3_64_with_seed(bytes, self.0);
    }
    fn write_u32(&mut self, v: u32) {
        self.write_u64(u64::from(v));
    }
    fn write_u64(&mut self, v: u64) {
        // A multiply-rotate step: a small integer (a partition number) moves the hash, a
        // fingerprint's bits pass through well mixed.
        self.0 = (self.0 ^ v).wrapping_mul(0x9E37_79B9_7F4A_7C15).rotate_left(29);
    }
    fn write_u128(&mut self, v: u128) {
        self.write_u64(v as u64 ^ (v >> 64) as u64);
    }
}

#[cfg(test)]
mod tests {
    use std::collections::{BTreeSet, HashSet};

    use super::*;

    #[test]
    fn sets_keyed_by_fingerprints_hold_what_a_sorted_set_holds() {
        // Keys that differ only in the partition, only in the high or the low half of the
        // fingerprint, or in both halves so that the folded halves agree.
        let mut keys: Vec<(u32, u128)> = Vec::new();
        for p in 0..4u32 {
            for i in 0..500u128 {
                keys.push((p, i));
                keys.push((p, i << 64));
                keys.push((p, (i << 64) | i));
                keys.push((p, i.wrapping_mul(0x9E37_79B9_7F4A_7C15_F39C_C060_5CED_C835)));
            }
        }
        let mut fast: HashSet<(u32, u128), Fingerprinted> = HashSet::default();
        let mut sorted = BTreeSet::new();
        for (n, key) in keys.iter().enumerate() {
            assert_eq!(fast.insert(*key), sorted.insert(*key), "key {n}");
        }
        assert_eq!(fast.len(), sorted.len());
        assert!(sorted.iter().all(|k| fast.contains(k)));
        assert!(!fast.contains(&(9, 1)));
        // Text keys go through the general path.
        let words: HashSet<&str, Fingerprinted> = ["甲", "乙", "甲"].into_iter().collect();
        assert_eq!(words.len(), 2);
    }
}
