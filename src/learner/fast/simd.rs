//! Runs the kernels' plain loops compiled for AVX2 + FMA when the CPU has them: the crate is
//! built for baseline x86-64 (SSE2), where loops over u8 indices, selects and square roots
//! do not vectorise well. The gemm crate picks its own kernels at run time.

/// Runs `f`, compiled for AVX2 and FMA if this CPU supports them. `f` and what it inlines get
/// that code generation; calls it makes to other functions do not.
#[inline(always)]
pub(crate) fn vectorized<R>(f: impl FnOnce() -> R) -> R {
    #[cfg(target_arch = "x86_64")]
    {
        if std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma") {
            #[target_feature(enable = "avx2,fma")]
            fn run<R>(f: impl FnOnce() -> R) -> R {
                f()
            }
            // SAFETY: the CPU supports the features `run` is compiled for (checked above).
            return unsafe { run(f) };
        }
    }
    f()
}
