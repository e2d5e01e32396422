//! A small, portable pseudo-random number generator.
//!
//! xoshiro256** (Blackman and Vigna) seeded through splitmix64. The corpus
//! must come out byte-identical on every platform and Rust version, so the
//! generator only uses integer arithmetic: no floating point (whose `powf`
//! and friends come from the platform's libm) and no `std` hashing.

/// The generator state. Cheap to copy; not cryptographic.
#[derive(Clone, Debug)]
pub(crate) struct Rng {
    s: [u64; 4],
}

impl Rng {
    /// Seeds the four state words from one `u64` with splitmix64, which
    /// never yields the all-zero state xoshiro cannot leave.
    pub(crate) fn new(seed: u64) -> Self {
        let mut x = seed;
        let mut s = [0u64; 4];
        for word in &mut s {
            x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
            let mut z = x;
            z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
            *word = z ^ (z >> 31);
        }
        Rng { s }
    }

    pub(crate) fn next_u64(&mut self) -> u64 {
        let result = self.s[1].wrapping_mul(5).rotate_left(7).wrapping_mul(9);
        let t = self.s[1] << 17;
        self.s[2] ^= self.s[0];
        self.s[3] ^= self.s[1];
        self.s[1] ^= self.s[2];
        self.s[0] ^= self.s[3];
        self.s[2] ^= t;
        self.s[3] = self.s[3].rotate_left(45);
        result
    }

    /// A value in `0..n` (0 when `n` is 0). Uses the high half of a 128-bit
    /// product; the bias (at most n / 2^64) is irrelevant for a corpus.
    pub(crate) fn below(&mut self, n: u64) -> u64 {
        ((u128::from(self.next_u64()) * u128::from(n)) >> 64) as u64
    }

    /// A `usize` index in `0..n`.
    pub(crate) fn index(&mut self, n: usize) -> usize {
        self.below(n as u64) as usize
    }

    /// A value in the inclusive range `lo..=hi`.
    pub(crate) fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.below(hi - lo + 1)
    }

    /// True with probability `per_mille / 1000`.
    pub(crate) fn chance(&mut self, per_mille: u32) -> bool {
        self.below(1000) < u64::from(per_mille)
    }

    /// One element of a non-empty slice, uniformly.
    pub(crate) fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[self.index(items.len())]
    }

    /// One value of a weighted table; weights are relative integers.
    pub(crate) fn weighted<T: Copy>(&mut self, table: &[(T, u32)]) -> T {
        let total: u64 = table.iter().map(|&(_, w)| u64::from(w)).sum();
        let mut x = self.below(total);
        for &(value, weight) in table {
            if x < u64::from(weight) {
                return value;
            }
            x -= u64::from(weight);
        }
        table[table.len() - 1].0
    }

    /// An index in `0..n` skewed towards small values: each extra round
    /// narrows the range to a uniform draw below the previous one, which
    /// gives a few indices most of the weight (a heavy head like Zipf's).
    pub(crate) fn skewed_index(&mut self, n: usize, rounds: u32) -> usize {
        let mut bound = n;
        for _ in 0..rounds {
            bound = self.index(bound) + 1;
        }
        self.index(bound)
    }

    /// Fills `buf` with random bytes.
    pub(crate) fn fill(&mut self, buf: &mut [u8]) {
        for chunk in buf.chunks_mut(8) {
            let word = self.next_u64().to_le_bytes();
            chunk.copy_from_slice(&word[..chunk.len()]);
        }
    }

    /// `count` distinct indices in `0..n`, in increasing order
    /// (a partial Fisher-Yates shuffle).
    pub(crate) fn sample_indices(&mut self, n: usize, count: usize) -> Vec<usize> {
        let mut all: Vec<usize> = (0..n).collect();
        let count = count.min(n);
        for i in 0..count {
            let j = i + self.index(n - i);
            all.swap(i, j);
        }
        all.truncate(count);
        all.sort_unstable();
        all
    }
}

#[cfg(test)]
mod tests {
    use super::Rng;

    #[test]
    fn same_seed_same_sequence() {
        let mut a = Rng::new(42);
        let mut b = Rng::new(42);
        for _ in 0..100 {
            assert_eq!(a.next_u64(), b.next_u64());
        }
        assert_ne!(Rng::new(1).next_u64(), Rng::new(2).next_u64());
    }

    #[test]
    fn ranges_are_respected() {
        let mut r = Rng::new(7);
        for _ in 0..10_000 {
            assert!(r.below(13) < 13);
            let v = r.range(5, 9);
            assert!((5..=9).contains(&v));
            assert!(r.skewed_index(200, 2) < 200);
        }
        assert_eq!(r.below(0), 0);
    }

    #[test]
    fn skew_favours_low_indices() {
        let mut r = Rng::new(3);
        let low = (0..10_000).filter(|_| r.skewed_index(200, 2) < 20).count();
        // Uniform would put about 1,000 of 10,000 below 20.
        assert!(low > 3_000, "low = {low}");
    }

    #[test]
    fn sample_is_distinct_and_sorted() {
        let mut r = Rng::new(9);
        let s = r.sample_indices(35, 30);
        assert_eq!(s.len(), 30);
        assert!(s.windows(2).all(|w| w[0] < w[1]));
    }
}
