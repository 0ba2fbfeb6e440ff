//! SHA-256 of eight messages side by side, one in each 32-bit lane of a 256-bit register (x86-64
//! with AVX2; with AVX-512VL its rotations and three-input logic). One SHA-256 is a chain of 64
//! dependent rounds per block, which no SIMD can split; eight independent messages run the same
//! rounds in lockstep, so a CPU without SHA extensions hashes several files at three to six times
//! the speed of hashing them one after another. The lanes are fed whole 64-byte blocks and padded
//! by `pad_end`; a lane with fewer blocks than the others keeps its state while they go on.

#[cfg(target_arch = "x86_64")]
use std::arch::x86_64::*;

/// Messages hashed side by side.
pub(crate) const LANES: usize = 8;

/// Which instructions the lanes run on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kernel {
    Avx2,
    Avx512,
}

impl Kernel {
    /// The best kernel this CPU runs, if any (x86-64 with AVX2).
    pub(crate) fn detect() -> Option<Kernel> {
        #[cfg(target_arch = "x86_64")]
        {
            if is_x86_feature_detected!("avx512f") && is_x86_feature_detected!("avx512vl") && is_x86_feature_detected!("avx2") {
                return Some(Kernel::Avx512);
            }
            if is_x86_feature_detected!("avx2") {
                return Some(Kernel::Avx2);
            }
        }
        None
    }
}

/// Eight SHA-256 states.
pub(crate) struct Lanes {
    kernel: Kernel,
    /// Word j of lane i at `words[j][i]` (the registers' layout).
    words: [[u32; LANES]; 8],
}

impl Lanes {
    /// Eight fresh states; `kernel` must be one `Kernel::detect` gave.
    pub(crate) fn new(kernel: Kernel) -> Lanes {
        let mut lanes = Lanes { kernel, words: [[0; LANES]; 8] };
        (0..LANES).for_each(|lane| lanes.reset(lane));
        lanes
    }

    /// Starts lane `lane` afresh (a new message).
    pub(crate) fn reset(&mut self, lane: usize) {
        for (j, h) in H0.iter().enumerate() {
            self.words[j][lane] = *h;
        }
    }

    /// Hashes `blocks[i]` into lane i: whole 64-byte blocks (a length that is not a multiple of 64
    /// panics); an empty slice leaves the lane as it is.
    pub(crate) fn update(&mut self, blocks: [&[u8]; LANES]) {
        let mut counts = [0u32; LANES];
        let mut starts = [std::ptr::null(); LANES];
        for (i, b) in blocks.iter().enumerate() {
            assert!(b.len() % 64 == 0, "lane {i}: {} bytes, not whole blocks", b.len());
            counts[i] = u32::try_from(b.len() / 64).expect("at most 2^32 blocks at a time");
            starts[i] = b.as_ptr();
        }
        #[cfg(target_arch = "x86_64")]
        // SAFETY: the kernel's instructions were detected on this CPU (`Kernel::detect`, the only
        // way to get a `Kernel`), and lane i reads `counts[i]` whole blocks from `starts[i]`,
        // which lie inside `blocks[i]`.
        unsafe {
            let mut state: [__m256i; 8] = std::array::from_fn(|j| _mm256_loadu_si256(self.words[j].as_ptr().cast()));
            match self.kernel {
                Kernel::Avx2 => compress_avx2(&mut state, &starts, &counts),
                Kernel::Avx512 => compress_avx512(&mut state, &starts, &counts),
            }
            for (j, v) in state.iter().enumerate() {
                _mm256_storeu_si256(self.words[j].as_mut_ptr().cast(), *v);
            }
        }
        #[cfg(not(target_arch = "x86_64"))]
        let _ = (counts, starts);
    }

    /// The digest of lane `lane` (after its padded end was fed).
    pub(crate) fn digest(&self, lane: usize) -> [u8; 32] {
        let mut out = [0u8; 32];
        for j in 0..8 {
            out[4 * j..4 * j + 4].copy_from_slice(&self.words[j][lane].to_be_bytes());
        }
        out
    }
}

/// Appends SHA-256's padding of a message of `total` bytes to its last bytes `tail` (fewer than
/// 64 after the whole blocks were taken), so that `tail` becomes one or two whole blocks.
pub(crate) fn pad_end(tail: &mut Vec<u8>, total: u64) {
    debug_assert!(tail.len() < 64);
    tail.push(0x80);
    while tail.len() % 64 != 56 {
        tail.push(0);
    }
    tail.extend_from_slice(&total.wrapping_mul(8).to_be_bytes());
}

/// FIPS 180-4's round constants.
const K: [u32; 64] = [
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5, 0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74,
    0x80deb1fe, 0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da, 0x983e5152, 0xa831c66d,
    0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e,
    0x92722c85, 0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070, 0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5,
    0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3, 0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
];

/// FIPS 180-4's initial hash value.
const H0: [u32; 8] = [0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19];

/// Transposes eight rows of eight 32-bit words.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
#[inline]
fn transpose(r: [__m256i; 8]) -> [__m256i; 8] {
    {
        let t0 = _mm256_unpacklo_epi32(r[0], r[1]);
        let t1 = _mm256_unpackhi_epi32(r[0], r[1]);
        let t2 = _mm256_unpacklo_epi32(r[2], r[3]);
        let t3 = _mm256_unpackhi_epi32(r[2], r[3]);
        let t4 = _mm256_unpacklo_epi32(r[4], r[5]);
        let t5 = _mm256_unpackhi_epi32(r[4], r[5]);
        let t6 = _mm256_unpacklo_epi32(r[6], r[7]);
        let t7 = _mm256_unpackhi_epi32(r[6], r[7]);
        let u0 = _mm256_unpacklo_epi64(t0, t2);
        let u1 = _mm256_unpackhi_epi64(t0, t2);
        let u2 = _mm256_unpacklo_epi64(t1, t3);
        let u3 = _mm256_unpackhi_epi64(t1, t3);
        let u4 = _mm256_unpacklo_epi64(t4, t6);
        let u5 = _mm256_unpackhi_epi64(t4, t6);
        let u6 = _mm256_unpacklo_epi64(t5, t7);
        let u7 = _mm256_unpackhi_epi64(t5, t7);
        [
            _mm256_permute2x128_si256::<0x20>(u0, u4),
            _mm256_permute2x128_si256::<0x20>(u1, u5),
            _mm256_permute2x128_si256::<0x20>(u2, u6),
            _mm256_permute2x128_si256::<0x20>(u3, u7),
            _mm256_permute2x128_si256::<0x31>(u0, u4),
            _mm256_permute2x128_si256::<0x31>(u1, u5),
            _mm256_permute2x128_si256::<0x31>(u2, u6),
            _mm256_permute2x128_si256::<0x31>(u3, u7),
        ]
    }
}

macro_rules! kernel {
    ($name:ident, $features:literal, $rotr:ident, $ch:ident, $maj:ident, $xor3:ident) => {
        /// Compresses consecutive 64-byte blocks of each lane into `state` (transposed: `state[j]`
        /// holds word j of every lane): lane i reads its blocks from `blocks[i]` and takes part in
        /// its first `counts[i]` steps only; the others keep their state.
        #[cfg(target_arch = "x86_64")]
        #[target_feature(enable = $features)]
        unsafe fn $name(state: &mut [__m256i; 8], blocks: &[*const u8; LANES], counts: &[u32; LANES]) {
            unsafe {
                let swap = _mm256_setr_epi8(3, 2, 1, 0, 7, 6, 5, 4, 11, 10, 9, 8, 15, 14, 13, 12, 3, 2, 1, 0, 7, 6, 5, 4, 11, 10, 9, 8, 15, 14, 13, 12);
                let count_vector = _mm256_loadu_si256(counts.as_ptr().cast());
                let steps = counts.iter().copied().max().unwrap_or(0) as usize;
                let zero = [0u8; 64];
                for step in 0..steps {
                    let live = _mm256_cmpgt_epi32(count_vector, _mm256_set1_epi32(step as i32));
                    let mut low = [_mm256_setzero_si256(); LANES];
                    let mut high = [_mm256_setzero_si256(); LANES];
                    for lane in 0..LANES {
                        let at = if step < counts[lane] as usize { blocks[lane].add(64 * step) } else { zero.as_ptr() };
                        low[lane] = _mm256_shuffle_epi8(_mm256_loadu_si256(at.cast()), swap);
                        high[lane] = _mm256_shuffle_epi8(_mm256_loadu_si256(at.add(32).cast()), swap);
                    }
                    let (low, high) = (transpose(low), transpose(high));
                    let mut w = [
                        low[0], low[1], low[2], low[3], low[4], low[5], low[6], low[7], high[0], high[1], high[2], high[3], high[4], high[5], high[6], high[7],
                    ];
                    let [mut a, mut b, mut c, mut d, mut e, mut f, mut g, mut h] = *state;
                    macro_rules! round {
                        ($t:expr) => {{
                            const T: usize = $t;
                            if T >= 16 {
                                let w2 = w[(T + 14) % 16];
                                let w15 = w[(T + 1) % 16];
                                let s1 = $xor3!($rotr!(w2, 17), $rotr!(w2, 19), _mm256_srli_epi32::<10>(w2));
                                let s0 = $xor3!($rotr!(w15, 7), $rotr!(w15, 18), _mm256_srli_epi32::<3>(w15));
                                w[T % 16] = _mm256_add_epi32(_mm256_add_epi32(w[T % 16], s0), _mm256_add_epi32(s1, w[(T + 9) % 16]));
                            }
                            let big1 = $xor3!($rotr!(e, 6), $rotr!(e, 11), $rotr!(e, 25));
                            let t1 = _mm256_add_epi32(
                                _mm256_add_epi32(h, big1),
                                _mm256_add_epi32($ch!(e, f, g), _mm256_add_epi32(_mm256_set1_epi32(K[T] as i32), w[T % 16])),
                            );
                            let big0 = $xor3!($rotr!(a, 2), $rotr!(a, 13), $rotr!(a, 22));
                            let t2 = _mm256_add_epi32(big0, $maj!(a, b, c));
                            h = g;
                            g = f;
                            f = e;
                            e = _mm256_add_epi32(d, t1);
                            d = c;
                            c = b;
                            b = a;
                            a = _mm256_add_epi32(t1, t2);
                        }};
                    }
                    macro_rules! sixteen {
                        ($base:expr) => {
                            round!($base);
                            round!($base + 1);
                            round!($base + 2);
                            round!($base + 3);
                            round!($base + 4);
                            round!($base + 5);
                            round!($base + 6);
                            round!($base + 7);
                            round!($base + 8);
                            round!($base + 9);
                            round!($base + 10);
                            round!($base + 11);
                            round!($base + 12);
                            round!($base + 13);
                            round!($base + 14);
                            round!($base + 15);
                        };
                    }
                    sixteen!(0);
                    sixteen!(16);
                    sixteen!(32);
                    sixteen!(48);
                    let new = [a, b, c, d, e, f, g, h];
                    for j in 0..8 {
                        let sum = _mm256_add_epi32(state[j], new[j]);
                        state[j] = _mm256_blendv_epi8(state[j], sum, live);
                    }
                }
            }
        }
    };
}

macro_rules! rotr_avx2 {
    ($x:expr, $n:literal) => {
        _mm256_or_si256(_mm256_srli_epi32::<$n>($x), _mm256_slli_epi32::<{ 32 - $n }>($x))
    };
}
macro_rules! ch_avx2 {
    ($e:expr, $f:expr, $g:expr) => {
        _mm256_xor_si256(_mm256_and_si256($e, $f), _mm256_andnot_si256($e, $g))
    };
}
macro_rules! maj_avx2 {
    ($a:expr, $b:expr, $c:expr) => {
        _mm256_or_si256(_mm256_and_si256($a, $b), _mm256_and_si256($c, _mm256_or_si256($a, $b)))
    };
}
macro_rules! xor3_avx2 {
    ($x:expr, $y:expr, $z:expr) => {
        _mm256_xor_si256(_mm256_xor_si256($x, $y), $z)
    };
}
macro_rules! rotr_avx512 {
    ($x:expr, $n:literal) => {
        _mm256_ror_epi32::<$n>($x)
    };
}
macro_rules! ch_avx512 {
    ($e:expr, $f:expr, $g:expr) => {
        _mm256_ternarylogic_epi32::<0xCA>($e, $f, $g)
    };
}
macro_rules! maj_avx512 {
    ($a:expr, $b:expr, $c:expr) => {
        _mm256_ternarylogic_epi32::<0xE8>($a, $b, $c)
    };
}
macro_rules! xor3_avx512 {
    ($x:expr, $y:expr, $z:expr) => {
        _mm256_ternarylogic_epi32::<0x96>($x, $y, $z)
    };
}

#[cfg(target_arch = "x86_64")]
kernel!(compress_avx2, "avx2", rotr_avx2, ch_avx2, maj_avx2, xor3_avx2);
#[cfg(target_arch = "x86_64")]
kernel!(compress_avx512, "avx2,avx512f,avx512vl", rotr_avx512, ch_avx512, maj_avx512, xor3_avx512);

#[cfg(test)]
mod tests {
    use super::*;

    fn reference(bytes: &[u8]) -> [u8; 32] {
        <sha2::Sha256 as sha2::Digest>::digest(bytes).into()
    }

    /// Feeds eight messages of different lengths through the lanes in uneven whole-block pieces,
    /// restarting lanes for further messages, and checks every digest against sha2's portable code.
    fn check(kernel: Kernel) {
        let lengths: Vec<usize> = vec![0, 1, 55, 56, 63, 64, 65, 119, 120, 127, 128, 1000, 4096, 70_001, 3, 200_000];
        let messages: Vec<Vec<u8>> =
            lengths.iter().enumerate().map(|(m, &n)| (0..n).map(|i| (i.wrapping_mul(131) ^ (i >> 7) ^ (m * 17)) as u8).collect()).collect();
        let mut lanes = Lanes::new(kernel);
        // Lane i hashes messages i and i + 8, one after the other.
        let mut digests = vec![[0u8; 32]; messages.len()];
        for round in 0..2 {
            let mine: Vec<&Vec<u8>> = (0..LANES).map(|i| &messages[round * LANES + i]).collect();
            (0..LANES).for_each(|i| lanes.reset(i));
            let mut at = [0usize; LANES];
            let mut piece = 0usize;
            loop {
                // Uneven pieces: 0 to 9 blocks, different per lane and step.
                let blocks: [&[u8]; LANES] = std::array::from_fn(|i| {
                    let whole = mine[i].len() / 64 * 64;
                    let take = (((piece + i * 3) % 10) * 64).min(whole - at[i]);
                    &mine[i][at[i]..at[i] + take]
                });
                let taken: Vec<usize> = blocks.iter().map(|b| b.len()).collect();
                lanes.update(blocks);
                for i in 0..LANES {
                    at[i] += taken[i];
                }
                piece += 1;
                if (0..LANES).all(|i| at[i] == mine[i].len() / 64 * 64) {
                    break;
                }
            }
            let tails: Vec<Vec<u8>> = (0..LANES)
                .map(|i| {
                    let mut tail = mine[i][at[i]..].to_vec();
                    pad_end(&mut tail, mine[i].len() as u64);
                    tail
                })
                .collect();
            lanes.update(std::array::from_fn(|i| tails[i].as_slice()));
            for i in 0..LANES {
                digests[round * LANES + i] = lanes.digest(i);
            }
        }
        for (m, message) in messages.iter().enumerate() {
            assert_eq!(digests[m], reference(message), "{kernel:?}: message {m} of {} bytes", message.len());
        }
    }

    #[test]
    fn lanes_give_the_standard_sha256_of_each_message() {
        // FIPS 180-2's example in one lane.
        if let Some(kernel) = Kernel::detect() {
            let mut lanes = Lanes::new(kernel);
            let mut abc = b"abc".to_vec();
            pad_end(&mut abc, 3);
            lanes.update([&abc, &[], &[], &[], &[], &[], &[], &[]]);
            let hex: String = lanes.digest(0).iter().map(|b| format!("{b:02x}")).collect();
            assert_eq!(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
        }
        match Kernel::detect() {
            Some(Kernel::Avx512) => {
                check(Kernel::Avx512);
                check(Kernel::Avx2);
            }
            Some(Kernel::Avx2) => check(Kernel::Avx2),
            None => eprintln!("no AVX2 on this CPU: the lanes are not used here"),
        }
    }
}
