//! Runs the kernels' plain loops compiled for AVX-512 (or AVX2 + FMA) when the CPU has it: the
//! crate is built for baseline x86-64 (SSE2), where loops over u8 indices, selects and square
//! roots do not vectorise well. The gemm crate picks its own kernels at run time.
//!
//! The wider code gives the same bits: the loops are element by element (Rust does not fuse a
//! multiply and an add, nor reorder a float sum, without being told), so only the number of
//! lanes per instruction changes.

/// Whether this CPU runs the AVX-512 variants (F, BW and VL: 512-bit floats, byte masks and
/// the 256-bit forms the compiler mixes in), unless the environment sets `ITLM_SIMD=avx2` (for
/// before / after measurements and the test that both give the same bits; read once).
#[cfg(target_arch = "x86_64")]
#[inline(always)]
pub(crate) fn has_avx512() -> bool {
    static AVX512: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *AVX512.get_or_init(|| {
        std::env::var("ITLM_SIMD").map_or(true, |v| v != "avx2")
            && std::is_x86_feature_detected!("avx512f")
            && std::is_x86_feature_detected!("avx512bw")
            && std::is_x86_feature_detected!("avx512vl")
            && std::is_x86_feature_detected!("fma")
    })
}

/// Whether this CPU runs the AVX2 + FMA variants.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
pub(crate) fn has_avx2() -> bool {
    std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma")
}

/// Runs `f`, compiled for AVX-512, else AVX2 and FMA, if this CPU supports them. `f` and what
/// it inlines get that code generation; calls it makes to other functions do not.
#[inline(always)]
pub(crate) fn vectorized<R>(f: impl FnOnce() -> R) -> R {
    #[cfg(target_arch = "x86_64")]
    {
        if has_avx512() {
            #[target_feature(enable = "avx512f,avx512bw,avx512vl,avx2,fma")]
            fn run512<R>(f: impl FnOnce() -> R) -> R {
                f()
            }
            // SAFETY: the CPU supports the features `run512` is compiled for (checked above).
            return unsafe { run512(f) };
        }
        if has_avx2() {
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

/// Defines `$name`, which runs `$inner` (an `#[inline(always)]` function) compiled for AVX-512,
/// else AVX2 + FMA, where the CPU has them: the crate is built for baseline x86-64, where these
/// loops run 4 lanes wide. ([`vectorized`] does the same for a closure, but a large closure is
/// not inlined into it, so its loops would stay baseline.)
macro_rules! simd_variant {
    ($vis:vis $name:ident => $inner:ident ( $($arg:ident : $ty:ty),* $(,)? )) => {
        #[allow(clippy::too_many_arguments)]
        $vis fn $name($($arg: $ty),*) {
            #[cfg(target_arch = "x86_64")]
            {
                #[target_feature(enable = "avx512f,avx512bw,avx512vl,avx2,fma")]
                #[allow(clippy::too_many_arguments)]
                fn fast512($($arg: $ty),*) {
                    $inner($($arg),*)
                }
                #[target_feature(enable = "avx2,fma")]
                #[allow(clippy::too_many_arguments)]
                fn fast($($arg: $ty),*) {
                    $inner($($arg),*)
                }
                if $crate::learner::fast::simd::has_avx512() {
                    // SAFETY: the CPU supports the features `fast512` is compiled for
                    // (checked above).
                    return unsafe { fast512($($arg),*) };
                }
                if $crate::learner::fast::simd::has_avx2() {
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
