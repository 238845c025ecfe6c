//! Inference kernels of the fast EfficientNet-Lite0 path on one NHWC f32 image: 1x1
//! convolutions as gemm with the bias (and residual) folded into the accumulator, depthwise
//! k x k convolutions with "SAME" padding fused with bias + ReLU6, and the 3x3 stride-2 stem
//! as im2col + gemm.

use crate::learner::fast::gemm::{matmul, MatRef};

/// Channels the depthwise kernel keeps in registers at a time (two AVX2 vectors).
const LANES: usize = 16;

/// `v = min(max(v, 0), 6)`; NaN stays NaN.
#[inline(always)]
pub(super) fn relu6(v: &mut [f32]) {
    for x in v {
        *x = x.clamp(0.0, 6.0);
    }
}

/// A 1x1 convolution: weight `cin x cout` row-major (BN folded), bias `cout`.
pub(super) struct Pointwise {
    pub cin: usize,
    pub cout: usize,
    pub weight: Vec<f32>,
    pub bias: Vec<f32>,
}

impl Pointwise {
    /// `out = x @ W + b` (+ `residual`) for `px` pixels; `relu6` clamps the result.
    #[inline(always)]
    pub fn apply(
        &self,
        x: &[f32],
        px: usize,
        residual: Option<&[f32]>,
        relu: bool,
        out: &mut [f32],
    ) {
        let out = &mut out[..px * self.cout];
        match residual {
            Some(r) => {
                for (o, r) in out
                    .chunks_exact_mut(self.cout)
                    .zip(r[..px * self.cout].chunks_exact(self.cout))
                {
                    for ((o, r), b) in o.iter_mut().zip(r).zip(&self.bias) {
                        *o = r + b;
                    }
                }
            }
            None => {
                for o in out.chunks_exact_mut(self.cout) {
                    o.copy_from_slice(&self.bias);
                }
            }
        }
        matmul(
            out,
            self.cout,
            true,
            MatRef::row_major(&x[..px * self.cin], px, self.cin),
            MatRef::row_major(&self.weight, self.cin, self.cout),
            gemm::Parallelism::None,
        );
        if relu {
            relu6(out);
        }
    }
}

/// A depthwise k x k convolution with stride s and "SAME" padding on an h x w x c image.
#[derive(Clone, Copy, Debug)]
pub(super) struct DwGeom {
    pub h: usize,
    pub w: usize,
    pub c: usize,
    pub k: usize,
    pub s: usize,
    pub ow: usize,
    /// Padding before the first row / column.
    pub pt: usize,
    pub pl: usize,
}

impl DwGeom {
    /// Input rows `[first, end)` that output rows `[o0, o1)` read (clipped to the image).
    pub fn input_rows(&self, o0: usize, o1: usize) -> (usize, usize) {
        let first = (o0 * self.s).saturating_sub(self.pt);
        let end = ((o1 - 1) * self.s + self.k)
            .saturating_sub(self.pt)
            .min(self.h);
        (first, end)
    }

    /// The taps of a kernel axis that land inside `0..size` for output position `o`: the first
    /// tap, the input index of that tap, and the number of taps.
    #[inline(always)]
    fn taps(&self, o: usize, pad: usize, size: usize) -> (usize, usize, usize) {
        let start = o * self.s;
        let first = pad.saturating_sub(start);
        let end = (size + pad - start).min(self.k);
        (first, start + first - pad, end.saturating_sub(first))
    }
}

/// Output rows `[o0, o1)` of `relu6(depthwise(x) + bias)` into `out` ((o1 - o0) x ow x c).
/// `rows` holds input rows `[r0, r0 + rows.len() / (w c))`, which must cover the rows the
/// outputs read; `wt` is `k k x c` (tap-major, BN folded). Compiled for AVX2 + FMA where the
/// CPU has them (the crate is built for baseline x86-64, where the loop neither uses wide
/// vectors nor fused multiply-adds).
#[allow(clippy::too_many_arguments)]
pub(super) fn depthwise_relu6(
    g: &DwGeom,
    rows: &[f32],
    r0: usize,
    o0: usize,
    o1: usize,
    wt: &[f32],
    bias: &[f32],
    out: &mut [f32],
) {
    #[cfg(target_arch = "x86_64")]
    {
        if std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma") {
            #[target_feature(enable = "avx2,fma")]
            #[allow(clippy::too_many_arguments)]
            unsafe fn avx2(
                g: &DwGeom,
                rows: &[f32],
                r0: usize,
                o0: usize,
                o1: usize,
                wt: &[f32],
                bias: &[f32],
                out: &mut [f32],
            ) {
                depthwise_impl::<true>(g, rows, r0, o0, o1, wt, bias, out)
            }
            // SAFETY: the CPU has the features `avx2` is compiled for (checked above).
            return unsafe { avx2(g, rows, r0, o0, o1, wt, bias, out) };
        }
    }
    depthwise_impl::<false>(g, rows, r0, o0, o1, wt, bias, out)
}

/// `a + w x`, fused where `FMA` (an instruction under the `fma` target feature; elsewhere
/// `mul_add` would be a slow library call).
#[inline(always)]
fn madd<const FMA: bool>(w: f32, x: f32, a: f32) -> f32 {
    if FMA {
        w.mul_add(x, a)
    } else {
        a + w * x
    }
}

/// [`depthwise_relu6`]'s loops.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
fn depthwise_impl<const FMA: bool>(
    g: &DwGeom,
    rows: &[f32],
    r0: usize,
    o0: usize,
    o1: usize,
    wt: &[f32],
    bias: &[f32],
    out: &mut [f32],
) {
    let (w, c, k) = (g.w, g.c, g.k);
    let row_len = w * c;
    for oy in o0..o1 {
        let (ky0, iy0, nky) = g.taps(oy, g.pt, g.h);
        let orow = &mut out[(oy - o0) * g.ow * c..(oy - o0 + 1) * g.ow * c];
        for ox in 0..g.ow {
            let (kx0, ix0, nkx) = g.taps(ox, g.pl, w);
            let o = &mut orow[ox * c..(ox + 1) * c];
            let mut c0 = 0;
            while c0 + LANES <= c {
                let mut acc = [0f32; LANES];
                acc.copy_from_slice(&bias[c0..c0 + LANES]);
                for dy in 0..nky {
                    let irow = &rows[(iy0 + dy - r0) * row_len..(iy0 + dy - r0 + 1) * row_len];
                    let wrow = &wt[(ky0 + dy) * k * c..(ky0 + dy + 1) * k * c];
                    for dx in 0..nkx {
                        let xi = (ix0 + dx) * c + c0;
                        let wi = (kx0 + dx) * c + c0;
                        let (xv, wv) = (&irow[xi..xi + LANES], &wrow[wi..wi + LANES]);
                        for ((a, wv), xv) in acc.iter_mut().zip(wv).zip(xv) {
                            *a = madd::<FMA>(*wv, *xv, *a);
                        }
                    }
                }
                relu6(&mut acc);
                o[c0..c0 + LANES].copy_from_slice(&acc);
                c0 += LANES;
            }
            // Channels past the last full group of LANES (none for Lite0's widths).
            for j in c0..c {
                let mut acc = bias[j];
                for dy in 0..nky {
                    let irow = &rows[(iy0 + dy - r0) * row_len..];
                    let wrow = &wt[(ky0 + dy) * k * c..];
                    for dx in 0..nkx {
                        acc = madd::<FMA>(wrow[(kx0 + dx) * c + j], irow[(ix0 + dx) * c + j], acc);
                    }
                }
                o[j] = acc.clamp(0.0, 6.0);
            }
        }
    }
}

/// The 3x3 stride-2 stem: im2col of output rows `[o0, o1)` of an h x w x 3 image with "SAME"
/// padding (`pt`, `pl` before) into `col` (one row of 27 values (ky, kx, c) per pixel).
#[allow(clippy::too_many_arguments)]
#[inline(always)]
pub(super) fn stem_im2col(
    img: &[f32],
    h: usize,
    w: usize,
    ow: usize,
    pt: usize,
    pl: usize,
    o0: usize,
    o1: usize,
    col: &mut [f32],
) {
    const K: usize = 3;
    const C: usize = 3;
    for oy in o0..o1 {
        for ox in 0..ow {
            let row = &mut col[((oy - o0) * ow + ox) * K * K * C..][..K * K * C];
            for ky in 0..K {
                let iy = (oy * 2 + ky) as isize - pt as isize;
                for kx in 0..K {
                    let ix = (ox * 2 + kx) as isize - pl as isize;
                    let d = &mut row[(ky * K + kx) * C..(ky * K + kx + 1) * C];
                    if iy < 0 || ix < 0 || iy as usize >= h || ix as usize >= w {
                        d.fill(0.0);
                    } else {
                        let i = (iy as usize * w + ix as usize) * C;
                        d.copy_from_slice(&img[i..i + C]);
                    }
                }
            }
        }
    }
}
