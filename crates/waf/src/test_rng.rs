//! The unit tests' random numbers: xorshift64 from a fixed seed, so that a failure
//! reproduces (no dependency).

/// A generator of raw 64-bit values.
pub(crate) fn xorshift() -> impl FnMut() -> u64 {
    let mut seed = 0x9e37_79b9_7f4a_7c15_u64;
    move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    }
}

/// A generator of indices below its argument.
pub(crate) fn below() -> impl FnMut(usize) -> usize {
    let mut next = xorshift();
    move |n| (next() % n as u64) as usize
}
