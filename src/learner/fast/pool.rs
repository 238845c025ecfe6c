//! 2x2 max-pool, stride 2, on NHWC f32 tensors (odd sizes floored, like PyTorch) as a candle
//! custom op; the backward pass sends each window's gradient to its first maximum.

use candle_core::{bail, CpuStorage, CustomOp1, Layout, Result, Shape, Tensor};
use rayon::prelude::*;

use super::simd::{simd_variant, vectorized};
use super::{cpu_f32, cpu_tensor, dims, storage_f32, uninit_vec, zeroed};

/// The maximum of a 2x2 window given in row-major order and the index of its first occurrence;
/// NaN wins (so it propagates), the first NaN if there are several.
#[inline(always)]
pub(super) fn max4(a: f32, b: f32, c: f32, d: f32) -> (f32, u8) {
    let (mut m, mut i) = (a, 0u8);
    for (v, j) in [(b, 1u8), (c, 2), (d, 3)] {
        // Branch-free so that loops over channels vectorise.
        let take = v > m || (v.is_nan() & !m.is_nan());
        m = if take { v } else { m };
        i = if take { j } else { i };
    }
    (m, i)
}

// The window helpers of the fused conv + ReLU + pool ([`super::conv::Conv3x3ReluPool`], and
// its Winograd path).

/// Pools two activation rows (W x C each) into one row of W/2 x C maxima and their positions.
#[inline(always)]
pub(super) fn pool_row(top: &[f32], bottom: &[f32], c: usize, out: &mut [f32], arg: &mut [u8]) {
    let pw = out.len() / c;
    for px in 0..pw {
        let a = &top[2 * px * c..(2 * px + 1) * c];
        let b = &top[(2 * px + 1) * c..(2 * px + 2) * c];
        let d = &bottom[2 * px * c..(2 * px + 1) * c];
        let e = &bottom[(2 * px + 1) * c..(2 * px + 2) * c];
        let o = &mut out[px * c..(px + 1) * c];
        let am = &mut arg[px * c..(px + 1) * c];
        for j in 0..c {
            let (m, i) = max4(a[j], b[j], d[j], e[j]);
            o[j] = m;
            am[j] = i;
        }
    }
}

simd_variant!(pub(super) pool_row_simd => pool_row(
    top: &[f32], bottom: &[f32], c: usize, out: &mut [f32], arg: &mut [u8],
));

/// The gradient of one window position's four inputs (top-left, top-right, bottom-left,
/// bottom-right; C values each) from its pooled value `y`, gradient `dy` and argmax: `dy` at
/// the maximum when it is positive (ReLU), zero elsewhere. Separate arguments, so that the
/// compiler knows the outputs do not overlap and vectorises the loop.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
pub(super) fn unpool(
    y: &[f32],
    dy: &[f32],
    arg: &[u8],
    tl: &mut [f32],
    tr: &mut [f32],
    bl: &mut [f32],
    br: &mut [f32],
) {
    let n = y.len();
    let (dy, arg, tl, tr, bl, br) = (
        &dy[..n],
        &arg[..n],
        &mut tl[..n],
        &mut tr[..n],
        &mut bl[..n],
        &mut br[..n],
    );
    for j in 0..n {
        let gy = if y[j] > 0.0 { dy[j] } else { 0.0 };
        let a = arg[j];
        tl[j] = if a == 0 { gy } else { 0.0 };
        tr[j] = if a == 1 { gy } else { 0.0 };
        bl[j] = if a == 2 { gy } else { 0.0 };
        br[j] = if a == 3 { gy } else { 0.0 };
    }
}

simd_variant!(pub(super) unpool_simd => unpool(
    y: &[f32], dy: &[f32], arg: &[u8], tl: &mut [f32], tr: &mut [f32], bl: &mut [f32],
    br: &mut [f32],
));

/// Shapes of one call: N x H x W x C in, N x H/2 x W/2 x C out.
#[derive(Clone, Copy, Debug)]
struct Geom {
    n: usize,
    h: usize,
    w: usize,
    c: usize,
}

impl Geom {
    fn new(op: &str, l: &Layout) -> Result<Self> {
        let [n, h, w, c] = dims::<4>(l, op, "input")?;
        Ok(Self { n, h, w, c })
    }

    fn out_dims(&self) -> [usize; 4] {
        [self.n, self.h / 2, self.w / 2, self.c]
    }

    fn out_image(&self) -> usize {
        (self.h / 2) * (self.w / 2) * self.c
    }

    fn in_image(&self) -> usize {
        self.h * self.w * self.c
    }
}

/// Pools one image (rows of `row` values) into `out` (rows of `pw * c` values).
#[inline(always)]
fn pool_image(img: &[f32], out: &mut [f32], row: usize, pw: usize, c: usize) {
    for (py, o) in out.chunks_exact_mut(pw * c).enumerate() {
        let top = &img[2 * py * row..(2 * py + 1) * row];
        let bottom = &img[(2 * py + 1) * row..(2 * py + 2) * row];
        for px in 0..pw {
            let (a, b) = (2 * px * c, (2 * px + 1) * c);
            let (ta, tb) = (&top[a..a + c], &top[b..b + c]);
            let (ba, bb) = (&bottom[a..a + c], &bottom[b..b + c]);
            for (j, o) in o[px * c..(px + 1) * c].iter_mut().enumerate() {
                *o = max4(ta[j], tb[j], ba[j], bb[j]).0;
            }
        }
    }
}

/// The input gradient of one image: each window's output gradient goes to its first maximum.
#[inline(always)]
fn unpool_image(img: &[f32], dout: &[f32], dimg: &mut [f32], row: usize, pw: usize, c: usize) {
    for (py, d) in dout.chunks_exact(pw * c).enumerate() {
        let top = &img[2 * py * row..(2 * py + 1) * row];
        let bottom = &img[(2 * py + 1) * row..(2 * py + 2) * row];
        let (dtop, dbottom) = dimg[2 * py * row..(2 * py + 2) * row].split_at_mut(row);
        for px in 0..pw {
            let (a, b) = (2 * px * c, (2 * px + 1) * c);
            let (ta, tb) = (&top[a..a + c], &top[b..b + c]);
            let (ba, bb) = (&bottom[a..a + c], &bottom[b..b + c]);
            let (dta, dtb) = dtop[a..b + c].split_at_mut(c);
            let (dba, dbb) = dbottom[a..b + c].split_at_mut(c);
            let g = &d[px * c..(px + 1) * c];
            for j in 0..c {
                let (_, i) = max4(ta[j], tb[j], ba[j], bb[j]);
                dta[j] = if i == 0 { g[j] } else { 0.0 };
                dtb[j] = if i == 1 { g[j] } else { 0.0 };
                dba[j] = if i == 2 { g[j] } else { 0.0 };
                dbb[j] = if i == 3 { g[j] } else { 0.0 };
            }
        }
    }
}

/// 2x2 max-pool of an N x H x W x C tensor.
#[derive(Clone, Copy, Debug, Default)]
pub struct MaxPool2x2;

impl CustomOp1 for MaxPool2x2 {
    fn name(&self) -> &'static str {
        "maxpool2x2-nhwc"
    }

    fn cpu_fwd(&self, s: &CpuStorage, l: &Layout) -> Result<(CpuStorage, Shape)> {
        let op = self.name();
        let g = Geom::new(op, l)?;
        let x = cpu_f32(s, l, op, "input")?;
        let mut y = uninit_vec(g.n * g.out_image());
        let (pw, c) = (g.w / 2, g.c);
        let row = g.w * c;
        if g.out_image() > 0 {
            y.par_chunks_mut(g.out_image())
                .zip(x.par_chunks(g.in_image()))
                .for_each(|(out, img)| vectorized(|| pool_image(img, out, row, pw, c)));
        }
        Ok((CpuStorage::F32(y), Shape::from(g.out_dims().to_vec())))
    }

    fn bwd(&self, x: &Tensor, _y: &Tensor, dy: &Tensor) -> Result<Option<Tensor>> {
        let op = self.name();
        if !x.track_op() {
            return Ok(None);
        }
        let (x, dy) = (x.contiguous()?, dy.contiguous()?);
        let (xs, xl) = x.storage_and_layout();
        let (dys, dyl) = dy.storage_and_layout();
        let g = Geom::new(op, xl)?;
        let xv = storage_f32(&xs, xl, op, "input")?;
        let dyv = storage_f32(&dys, dyl, op, "output gradient")?;
        if dyv.len() != g.n * g.out_image() {
            bail!("{op}: output gradient has the wrong size")
        }
        let mut dx: Vec<f32> = zeroed(g.n * g.in_image());
        let (pw, c) = (g.w / 2, g.c);
        let row = g.w * c;
        if g.out_image() > 0 {
            dx.par_chunks_mut(g.in_image())
                .zip(xv.par_chunks(g.in_image()))
                .zip(dyv.par_chunks(g.out_image()))
                .for_each(|((dimg, img), dout)| {
                    vectorized(|| unpool_image(img, dout, dimg, row, pw, c))
                });
        }
        Ok(Some(cpu_tensor(dx, &[g.n, g.h, g.w, g.c])?))
    }
}

/// 2x2 max-pool (stride 2, floor) of an N x H x W x C f32 CPU tensor.
pub fn max_pool2x2(x: &Tensor) -> Result<Tensor> {
    if !x.device().is_cpu() {
        bail!("the fused max-pool runs on the CPU only")
    }
    x.contiguous()?.apply_op1(MaxPool2x2)
}
