//! Per-thread scratch buffers reused across calls, so the kernels allocate no im2col or tile
//! buffers per batch.

use std::cell::Cell;

thread_local! {
    static SCRATCH: Cell<Vec<f32>> = const { Cell::new(Vec::new()) };
}

/// Runs `f` with this thread's scratch buffer grown to at least `len` values, compiled for
/// AVX2 where available (see [`super::simd`]). The contents are
/// left over from earlier calls: `f` must write before it reads. Re-entrant calls (should a
/// kernel ever run one inside another on the same thread) get a fresh buffer instead of
/// panicking.
pub(super) fn with_scratch<R>(len: usize, f: impl FnOnce(&mut [f32]) -> R) -> R {
    let mut buf = SCRATCH.with(Cell::take);
    if buf.len() < len {
        buf.resize(len, 0.0);
    }
    let r = super::simd::vectorized(|| f(&mut buf[..len]));
    SCRATCH.with(|s| {
        let other = s.take();
        // Keep the bigger of the two buffers if a re-entrant call left one behind.
        s.set(if other.len() > buf.len() { other } else { buf });
    });
    r
}
