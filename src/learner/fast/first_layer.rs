//! The forward pass of a grey first layer (1 input channel, 32 output channels: the CNN's
//! `conv 32 -> pool` on Fashion-MNIST) as an AVX-512 register kernel: conv3x3 + bias + ReLU +
//! 2x2 max-pool of one pool window at a time, with all 9 x 32 weights held in 18 registers and
//! the window's four pixels as 8 independent accumulator chains. The im2col + gemm path it
//! replaces runs a K = 9 product (46 - 52 GFLOP/s, a quarter of the forward pass): gemm writes
//! every pre-pool activation out and reads it back for the pool, 9 multiply-adds per value
//! written.
//!
//! Same bits as that path: each output is the chain `fma(x_k, w_k, acc)` over k = 0..9 from
//! zero, in gemm's order (its microkernel accumulates the same way, K = 9 in one block), then
//! `+ bias`, the same ReLU select and [`super::pool::max4`]'s rule for the maximum and its
//! position (the test `the_first_layer_kernel_gives_the_gemm_path_s_bits` checks it).

#[cfg(target_arch = "x86_64")]
use std::arch::x86_64::*;

use super::conv::Geom;

/// Output channels the kernel is written for (two 16-lane registers).
const COUT: usize = 32;

/// Whether this layer and CPU can take the kernel.
pub(super) fn applies(g: &Geom) -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        g.cin == 1 && g.cout == COUT && g.h >= 2 && g.w >= 2 && super::simd::cpu_has_avx512()
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        let _ = g;
        false
    }
}

/// One image: `img` (H x W), weights `wt` (9 x 32, tap-major), `bias` (32) into the pooled
/// output `out` (H/2 x W/2 x 32) and the maxima's window positions `arg`; `pad` is scratch of
/// at least (H + 2) x (W + 2) values. Panics when a slice is shorter than the geometry says (the
/// caller sizes them from the validated shapes).
pub(super) fn forward_image(
    g: &Geom,
    img: &[f32],
    wt: &[f32],
    bias: &[f32],
    out: &mut [f32],
    arg: &mut [u8],
    pad: &mut [f32],
) {
    let (h, w) = (g.h, g.w);
    let (ph, pw) = g.pooled();
    let pwid = w + 2;
    assert!(
        img.len() >= h * w
            && wt.len() >= 9 * COUT
            && bias.len() >= COUT
            && out.len() >= ph * pw * COUT
            && arg.len() >= ph * pw * COUT
            && pad.len() >= (h + 2) * pwid,
        "first layer: a buffer is shorter than its geometry"
    );
    // The image with a border of zeros, so that every window reads 9 taps without checks.
    let pad = &mut pad[..(h + 2) * pwid];
    pad.fill(0.0);
    for y in 0..h {
        pad[(y + 1) * pwid + 1..(y + 1) * pwid + 1 + w].copy_from_slice(&img[y * w..(y + 1) * w]);
    }
    #[cfg(target_arch = "x86_64")]
    {
        assert!(
            super::simd::cpu_has_avx512(),
            "first layer: the CPU lacks AVX-512"
        );
        // SAFETY: the CPU has AVX-512 F and BW (checked above); `windows` checks every slice
        // it reads or writes against the geometry before touching it.
        unsafe { windows(pad, pwid, ph, pw, wt, bias, out, arg) }
    }
}

/// The pool windows of one padded image (see [`forward_image`]).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx2,fma")]
#[allow(clippy::too_many_arguments)]
unsafe fn windows(
    pad: &[f32],
    pwid: usize,
    ph: usize,
    pw: usize,
    wt: &[f32],
    bias: &[f32],
    out: &mut [f32],
    arg: &mut [u8],
) {
    // Every read below is pad[r * pwid + c] with r < 2 ph + 2 <= H + 2 and c < 2 pw + 2 <=
    // W + 2, and every write out[o..o + 32], arg[o..o + 32] with o < ph pw 32: the asserts of
    // `forward_image` and these keep them in bounds.
    assert!(pad.len() >= (2 * ph + 2) * pwid && 2 * pw + 2 <= pwid);
    assert!(wt.len() >= 9 * COUT && bias.len() >= COUT);
    assert!(out.len() >= ph * pw * COUT && arg.len() >= ph * pw * COUT);
    let wp = wt.as_ptr();
    let wv: [[__m512; 2]; 9] = std::array::from_fn(|k| {
        // SAFETY: k < 9, so wp + 32 k + 16 + 16 <= wp + 288 <= the end of `wt`.
        unsafe {
            [
                _mm512_loadu_ps(wp.add(k * COUT)),
                _mm512_loadu_ps(wp.add(k * COUT + 16)),
            ]
        }
    });
    // SAFETY: bias has at least 32 values (asserted above).
    let bv = unsafe {
        [
            _mm512_loadu_ps(bias.as_ptr()),
            _mm512_loadu_ps(bias.as_ptr().add(16)),
        ]
    };
    let zero = _mm512_setzero_ps();
    let p = pad.as_ptr();
    for py in 0..ph {
        for px in 0..pw {
            // acc[q][half]: pixel q (row-major in the window), channels 16 half..
            let mut acc = [[zero; 2]; 4];
            for ky in 0..3 {
                for kx in 0..3 {
                    let k = ky * 3 + kx;
                    for (q, a) in acc.iter_mut().enumerate() {
                        let (y, x) = (2 * py + q / 2 + ky, 2 * px + q % 2 + kx);
                        // SAFETY: y <= 2 ph + 1 and x <= 2 pw + 1 (asserted bounds above).
                        let t = _mm512_set1_ps(unsafe { *p.add(y * pwid + x) });
                        a[0] = _mm512_fmadd_ps(t, wv[k][0], a[0]);
                        a[1] = _mm512_fmadd_ps(t, wv[k][1], a[1]);
                    }
                }
            }
            let o = (py * pw + px) * COUT;
            for half in 0..2 {
                // bias, then ReLU as a select (NaN stays NaN), then max4's rule: a later value
                // wins when greater, or when it is NaN and the maximum so far is not.
                let relu = |v: __m512| {
                    let s = _mm512_add_ps(v, bv[half]);
                    _mm512_mask_mov_ps(s, _mm512_cmp_ps_mask::<_CMP_LT_OQ>(s, zero), zero)
                };
                let mut m = relu(acc[0][half]);
                let mut idx = _mm512_setzero_si512();
                for (j, a) in acc.iter().enumerate().skip(1) {
                    let v = relu(a[half]);
                    let take = _mm512_cmp_ps_mask::<_CMP_GT_OQ>(v, m)
                        | (_mm512_cmp_ps_mask::<_CMP_UNORD_Q>(v, v)
                            & !_mm512_cmp_ps_mask::<_CMP_UNORD_Q>(m, m));
                    m = _mm512_mask_mov_ps(m, take, v);
                    idx = _mm512_mask_mov_epi32(idx, take, _mm512_set1_epi32(j as i32));
                }
                let at = o + 16 * half;
                // SAFETY: at + 16 <= ph pw 32 <= out.len() and arg.len() (asserted above).
                unsafe {
                    _mm512_storeu_ps(out.as_mut_ptr().add(at), m);
                    _mm_storeu_si128(
                        arg.as_mut_ptr().add(at).cast::<__m128i>(),
                        _mm512_cvtepi32_epi8(idx),
                    );
                }
            }
        }
    }
}
