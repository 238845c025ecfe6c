//! Process-wide settings for fast CPU training, for `main` to apply before any thread starts.

/// Makes CPU training markedly faster; call it first thing in `main`. On the 2-core test
/// machine each setting gained about 20% of training throughput (`benches/throughput.rs`
/// with and without):
///
/// - glibc malloc keeps freed memory (fixed mmap threshold 32 MiB, trim threshold 1 GiB):
///   otherwise the few-MB tensors of every batch are returned to the kernel when freed and
///   page-faulted back in when the next batch allocates them (15% of training time went to
///   page faults). The cost is that the heap stays at its peak size.
/// - `CANDLE_NUM_THREADS=1` unless the variable is set: candle's elementwise operations (the
///   gradient sums of its backward pass) then run on the calling thread instead of candle's
///   own thread pool, whose worker spins after each operation and takes a core from the rayon
///   threads the fused kernels run on. Matrix products keep using all cores.
///
/// # Safety
///
/// Sets an environment variable: no other thread may be running (or reading the
/// environment), as for [`std::env::set_var`].
pub unsafe fn tune_process_for_cpu_training() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt is thread-safe; these parameters only change when memory is returned.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 32 << 20);
        libc::mallopt(libc::M_TRIM_THRESHOLD, 1 << 30);
    }
    if std::env::var_os("CANDLE_NUM_THREADS").is_none() {
        std::env::set_var("CANDLE_NUM_THREADS", "1");
    }
}
