//! Content fingerprints: the sha256 of the pipeline text and of input files, as lower-case hex;
//! and the hasher for hash sets keyed by fingerprints that are hashes already.

/// Lower-case hex sha256 of some bytes (input fingerprints in the manifest).
pub(crate) fn sha256_hex(bytes: &[u8]) -> String {
    hex(ring::digest::digest(&ring::digest::SHA256, bytes).as_ref())
}

fn hex(digest: &[u8]) -> String {
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// A sha256 fed piece by piece (a file as its blocks are read).
#[derive(Clone)]
pub(crate) struct Sha256Stream(ring::digest::Context);

impl Default for Sha256Stream {
    fn default() -> Sha256Stream {
        Sha256Stream(ring::digest::Context::new(&ring::digest::SHA256))
    }
}

impl Sha256Stream {
    pub(crate) fn update(&mut self, bytes: &[u8]) {
        self.0.update(bytes);
    }

    /// Lower-case hex of the sha256 of everything fed.
    pub(crate) fn finish_hex(self) -> String {
        hex(self.0.finish().as_ref())
    }
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
    fn sha256_is_the_standard_one_whole_or_piece_by_piece() {
        // FIPS 180-2's examples, and sha2's portable implementation on lengths around the block
        // size, fed whole and in uneven pieces.
        assert_eq!(sha256_hex(b"abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
        assert_eq!(sha256_hex(b""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
        for n in [1usize, 55, 56, 63, 64, 65, 127, 128, 1000, 100_003] {
            let bytes: Vec<u8> = (0..n).map(|i| (i * 7 + i / 13) as u8).collect();
            let expected: String =
                sha2::Digest::finalize(sha2::Digest::chain_update(<sha2::Sha256 as sha2::Digest>::new(), &bytes)).iter().map(|b| format!("{b:02x}")).collect();
            assert_eq!(sha256_hex(&bytes), expected, "{n} bytes whole");
            let mut stream = Sha256Stream::default();
            for piece in bytes.chunks(37) {
                stream.update(piece);
            }
            assert_eq!(stream.finish_hex(), expected, "{n} bytes in pieces");
        }
    }

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
