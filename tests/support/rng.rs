//! xorshift64*: a small, seedable generator with no dependency, for runs
//! that must replay from a printed seed (tests/drop_restart.rs, and the
//! soak example, which includes this file).

/// xorshift64* (Vigna): 64 bits of state, never zero.
pub struct Rng(u64);

impl Rng {
    /// A generator from `seed`. Zero, the one state xorshift never leaves,
    /// is replaced by a fixed odd constant; every other seed is used as is.
    pub fn new(seed: u64) -> Rng {
        Rng(if seed == 0 {
            0x9E37_79B9_7F4A_7C15
        } else {
            seed
        })
    }

    /// The next 64 random bits.
    #[allow(clippy::should_implement_trait)] // Not an iterator: it never ends.
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// A value in `0..n` (`n` > 0; the slight modulo bias does not matter
    /// here).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}
