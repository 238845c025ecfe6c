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

/// Defines `$name`, which runs `$inner` (an `#[inline(always)]` function) compiled for AVX2 +
/// FMA where the CPU has them: the crate is built for baseline x86-64, where these loops run
/// 4 lanes wide. ([`vectorized`] does the same for a closure, but a large closure is not
/// inlined into it, so its loops would stay baseline.)
macro_rules! simd_variant {
    ($vis:vis $name:ident => $inner:ident ( $($arg:ident : $ty:ty),* $(,)? )) => {
        #[allow(clippy::too_many_arguments)]
        $vis fn $name($($arg: $ty),*) {
            #[cfg(target_arch = "x86_64")]
            {
                #[target_feature(enable = "avx2,fma")]
                #[allow(clippy::too_many_arguments)]
                fn fast($($arg: $ty),*) {
                    $inner($($arg),*)
                }
                if std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma") {
                    // SAFETY: the CPU supports the features `fast` is compiled for (checked
                    // above).
                    return unsafe { fast($($arg),*) };
                }
            }
            $inner($($arg),*)
        }
    };
}

pub(crate) use simd_variant;

/// Whether the CPU has AVX-512 F, BW and VL and FMA (the first layer's register kernel, which
/// has no AVX2 form, asks this). The plain loops above stay at AVX2: compiled for AVX-512 as a
/// third tier they measured no faster (`itlm-inspector bench --only train,score`, alternated
/// three times: training 11366 / 11624 / 11152 images/s with the AVX2 loops against 11551 /
/// 11058 / 10642 with zmm ones), as they wait on memory, not on arithmetic.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
pub(crate) fn cpu_has_avx512() -> bool {
    std::is_x86_feature_detected!("avx512f")
        && std::is_x86_feature_detected!("avx512bw")
        && std::is_x86_feature_detected!("avx512vl")
        && std::is_x86_feature_detected!("fma")
}
