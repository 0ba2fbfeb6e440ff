//! Content fingerprints: the sha256 of the pipeline text and of input files, as lower-case hex.

use sha2::{Digest, Sha256};

/// Lower-case hex sha256 of some bytes (input fingerprints in the manifest).
pub(crate) fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}
