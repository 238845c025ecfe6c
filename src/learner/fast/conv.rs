//! 3x3 convolution (stride 1, padding 1) on NHWC f32 tensors with fused bias + ReLU, optionally
//! followed by a fused 2x2 max-pool, as candle custom ops with forward and backward on the CPU.

use std::sync::Mutex;

use candle_core::{bail, CpuStorage, CustomOp3, Layout, Result, Shape, Tensor};
use rayon::prelude::*;

use super::gemm::{matmul, MatRef};
use super::pool::{pool_row_simd, unpool_simd};
use super::scratch::with_scratch;
use super::simd::simd_variant;
use super::{cpu_f32, cpu_tensor, dims, storage_f32, uninit_vec, zeroed};
use super::{first_layer, winograd};

/// Values of im2col columns per tile: 256 KiB, so a tile and its gemm output stay in L2.
const COL_TILE_VALUES: usize = 64 * 1024;
/// Most gradient partial sums per backward call: enough tasks for the threads, a fixed number
/// so that the summation order (and so the result) does not depend on the thread count.
const MAX_GROUPS: usize = 16;

/// Shapes of one call: input N x H x W x C_in, weight (9 C_in) x C_out, bias C_out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Geom {
    pub(super) n: usize,
    pub(super) h: usize,
    pub(super) w: usize,
    pub(super) cin: usize,
    pub(super) cout: usize,
}

impl Geom {
    fn new(op: &str, x: &Layout, w: &Layout, b: &Layout) -> Result<Self> {
        let [n, h, wd, cin] = dims::<4>(x, op, "input")?;
        let [k, cout] = dims::<2>(w, op, "weight")?;
        let [bc] = dims::<1>(b, op, "bias")?;
        if h == 0 || wd == 0 || cin == 0 {
            bail!("{op}: input must have H, W, C >= 1, got {:?}", x.dims())
        }
        if cout == 0 || k != 9 * cin {
            bail!(
                "{op}: weight must be (9 * {cin}) x C_out with C_out >= 1, got {:?}",
                w.dims()
            )
        }
        if bc != cout {
            bail!("{op}: bias has {bc} values for {cout} output channels")
        }
        Ok(Self {
            n,
            h,
            w: wd,
            cin,
            cout,
        })
    }

    /// Length of an im2col row.
    fn k(&self) -> usize {
        9 * self.cin
    }

    pub(super) fn in_image(&self) -> usize {
        self.h * self.w * self.cin
    }

    fn out_image(&self) -> usize {
        self.h * self.w * self.cout
    }

    /// Output rows per tile; a multiple of two when `pairs` (for the fused pool).
    fn tile_rows(&self, pairs: bool) -> usize {
        let rows = (COL_TILE_VALUES / self.k() / self.w).max(1);
        if pairs {
            (rows & !1).max(2)
        } else {
            rows.min(self.h)
        }
    }

    /// Pooled output size (floor).
    pub(super) fn pooled(&self) -> (usize, usize) {
        (self.h / 2, self.w / 2)
    }
}

/// Tiles `[start, end)` of `0..rows` of `step` rows each.
fn tiles(rows: usize, step: usize) -> impl Iterator<Item = (usize, usize)> {
    (0..rows)
        .step_by(step.max(1))
        .map(move |s| (s, (s + step).min(rows)))
}

/// The im2col rows of output rows `oy0..oy1` of one image: one row of `9 C_in` values per
/// output pixel, ordered (ky, kx, c_in), zero where the window leaves the image.
#[inline(always)]
fn im2col(img: &[f32], g: &Geom, oy0: usize, oy1: usize, col: &mut [f32]) {
    // Constant channel counts (grey and RGB first layers) turn the many tiny copies into moves.
    match g.cin {
        1 => im2col_c::<1>(img, g, oy0, oy1, col),
        3 => im2col_c::<3>(img, g, oy0, oy1, col),
        _ => im2col_c::<0>(img, g, oy0, oy1, col),
    }
}

/// [`im2col`] for `C` channels (`C = 0`: the count of `g`).
#[inline(always)]
fn im2col_c<const C: usize>(img: &[f32], g: &Geom, oy0: usize, oy1: usize, col: &mut [f32]) {
    let (h, w) = (g.h, g.w);
    let c = if C > 0 { C } else { g.cin };
    let k = 9 * c;
    let c3 = 3 * c;
    for oy in oy0..oy1 {
        let rows = &mut col[(oy - oy0) * w * k..(oy - oy0 + 1) * w * k];
        for ky in 0..3 {
            if oy + ky == 0 || oy + ky > h {
                for row in rows.chunks_exact_mut(k) {
                    row[ky * c3..(ky + 1) * c3].fill(0.0);
                }
                continue;
            }
            let src = &img[(oy + ky - 1) * w * c..(oy + ky) * w * c];
            for (ox, row) in rows.chunks_exact_mut(k).enumerate() {
                let dst = &mut row[ky * c3..(ky + 1) * c3];
                if ox >= 1 && ox + 1 < w {
                    dst.copy_from_slice(&src[(ox - 1) * c..(ox + 2) * c]);
                } else {
                    for kx in 0..3 {
                        let d = &mut dst[kx * c..(kx + 1) * c];
                        if ox + kx == 0 || ox + kx > w {
                            d.fill(0.0);
                        } else {
                            let ix = ox + kx - 1;
                            d.copy_from_slice(&src[ix * c..(ix + 1) * c]);
                        }
                    }
                }
            }
        }
    }
}

/// Adds the im2col-shaped gradient `dcol` of output rows `oy0..oy1` back onto the image
/// gradient `dimg` (the adjoint of [`im2col`]).
#[inline(always)]
fn col2im(dcol: &[f32], g: &Geom, oy0: usize, oy1: usize, dimg: &mut [f32]) {
    let (h, w, c) = (g.h, g.w, g.cin);
    let k = g.k();
    let c3 = 3 * c;
    for oy in oy0..oy1 {
        for ox in 0..w {
            let row = &dcol[((oy - oy0) * w + ox) * k..][..k];
            for ky in 0..3 {
                if oy + ky == 0 || oy + ky > h {
                    continue;
                }
                let src = &row[ky * c3..(ky + 1) * c3];
                let dst = &mut dimg[(oy + ky - 1) * w * c..(oy + ky) * w * c];
                if ox >= 1 && ox + 1 < w {
                    add_to(&mut dst[(ox - 1) * c..(ox + 2) * c], src);
                } else {
                    for kx in 0..3 {
                        if ox + kx >= 1 && ox + kx <= w {
                            let ix = ox + kx - 1;
                            add_to(&mut dst[ix * c..(ix + 1) * c], &src[kx * c..(kx + 1) * c]);
                        }
                    }
                }
            }
        }
    }
}

#[inline(always)]
fn add_to(dst: &mut [f32], src: &[f32]) {
    for (d, s) in dst.iter_mut().zip(src) {
        *d += *s;
    }
}

/// `v = relu(v + bias)` row by row; NaN stays NaN.
#[inline(always)]
fn bias_relu(out: &mut [f32], bias: &[f32]) {
    for row in out.chunks_exact_mut(bias.len()) {
        for (v, b) in row.iter_mut().zip(bias) {
            let s = *v + *b;
            *v = if s < 0.0 { 0.0 } else { s };
        }
    }
}

simd_variant!(bias_relu_simd => bias_relu(out: &mut [f32], bias: &[f32]));

/// Conv + bias + ReLU of output rows `rows` of one image into `out` (rows x W x C_out).
#[inline(always)]
fn conv_tile(
    g: &Geom,
    img: &[f32],
    wt: &[f32],
    bias: &[f32],
    rows: std::ops::Range<usize>,
    col: &mut [f32],
    out: &mut [f32],
) {
    let (oy0, oy1) = (rows.start, rows.end);
    let px = (oy1 - oy0) * g.w;
    let col = &mut col[..px * g.k()];
    im2col(img, g, oy0, oy1, col);
    let out = &mut out[..px * g.cout];
    matmul(
        out,
        g.cout,
        false,
        MatRef::row_major(col, px, g.k()),
        MatRef::row_major(wt, g.k(), g.cout),
        gemm::Parallelism::None,
    );
    bias_relu_simd(out, bias);
}

/// Lanes of the small-K kernel's accumulators.
const LANES: usize = 8;
/// im2col columns per pass of the small-K kernel (one 3x3 window of one channel).
const K_STEP: usize = 9;

/// Whether a layer's weight gradient goes to [`small_k_weight_grad`] instead of gemm: a first
/// layer of 1 to 3 channels (K = 9 C_in <= 27) whose output channels fill whole 8-lane
/// vectors. gemm runs such a thin product (9 x 32 from 784 pixels) slowly.
fn small_k(g: &Geom) -> bool {
    g.cin <= 3 && g.cout.is_multiple_of(LANES)
}

/// `dw += col^T @ dyp` for `col` rows of `k` values (a multiple of 9) and `cout` (a multiple
/// of 8) output channels: 9 x 8 accumulators (one 3x3
/// window of one input channel, one 8-channel block) stay in registers over all pixels.
#[inline(always)]
fn small_k_weight_grad(dw: &mut [f32], col: &[f32], dyp: &[f32], k: usize, cout: usize) {
    let px = dyp.len() / cout;
    let col = &col[..px * k];
    for k0 in (0..k).step_by(K_STEP) {
        for cb in (0..cout).step_by(LANES) {
            let mut acc = [[0.0f32; LANES]; K_STEP];
            for (c, d) in col.chunks_exact(k).zip(dyp.chunks_exact(cout)) {
                let c: &[f32; K_STEP] = c[k0..k0 + K_STEP].try_into().expect("9 taps");
                let d: &[f32; LANES] = d[cb..cb + LANES].try_into().expect("8 lanes");
                for (a, &ck) in acc.iter_mut().zip(c) {
                    for l in 0..LANES {
                        a[l] += ck * d[l];
                    }
                }
            }
            for (kk, a) in acc.iter().enumerate() {
                let row = &mut dw[(k0 + kk) * cout + cb..(k0 + kk) * cout + cb + LANES];
                for (r, v) in row.iter_mut().zip(a) {
                    *r += *v;
                }
            }
        }
    }
}

simd_variant!(small_k_weight_grad_simd => small_k_weight_grad(
    dw: &mut [f32], col: &[f32], dyp: &[f32], k: usize, cout: usize,
));

/// Input, weight and bias gradients of a backward pass (`None` where not needed).
pub(super) type GradVecs = (Option<Vec<f32>>, Option<Vec<f32>>, Option<Vec<f32>>);

/// Gradient accumulators of one group of images (the Winograd path keeps its kernel gradient
/// in the transformed domain here).
pub(super) struct Partial {
    pub(super) dw: Vec<f32>,
    pub(super) db: Vec<f32>,
}

impl Partial {
    /// Zeroed accumulators of `dw_len` and `db_len` values, empty where `need` says not needed.
    pub(super) fn new(need: Need, dw_len: usize, db_len: usize) -> Self {
        let zeros = |on: bool, len: usize| if on { vec![0.0; len] } else { Vec::new() };
        Self {
            dw: zeros(need.dw, dw_len),
            db: zeros(need.db, db_len),
        }
    }
}

/// Which gradients a backward pass computes.
#[derive(Clone, Copy)]
pub(super) struct Need {
    pub(super) dx: bool,
    pub(super) dw: bool,
    pub(super) db: bool,
}

/// The shared backward pass. `fill_dyp(image, oy0, oy1, dyp, db)` writes the gradient of the
/// pre-activation (ReLU and pool already applied) for output rows `oy0..oy1` of an image, and
/// adds its per-channel sums to `db` when given; `rows` is the number of conv output rows that
/// receive gradient, `step` the tile height.
fn backward<F>(
    g: &Geom,
    x: &[f32],
    wt: &[f32],
    need: Need,
    rows: usize,
    step: usize,
    fill_dyp: F,
) -> GradVecs
where
    F: Fn(usize, usize, usize, &mut [f32], Option<&mut [f32]>) + Sync,
{
    if !(need.dx || need.dw || need.db) {
        return (None, None, None);
    }
    let (k, cout) = (g.k(), g.cout);
    let in_img = g.in_image();
    let (per, mut dx) = groups(g, need);
    let dx_parts = group_parts(&mut dx, g, per, need);
    let tile_px = step * g.w;
    let partials: Vec<Partial> = dx_parts
        .into_par_iter()
        .enumerate()
        .map(|(gi, mut dx_part)| {
            let mut part = Partial::new(need, k * cout, cout);
            let first = gi * per;
            let last = (first + per).min(g.n);
            with_scratch(tile_px * (cout + k), |buf| {
                let (dyp_buf, col_buf) = buf.split_at_mut(tile_px * cout);
                for i in first..last {
                    let img = &x[i * in_img..(i + 1) * in_img];
                    for (oy0, oy1) in tiles(rows, step) {
                        let px = (oy1 - oy0) * g.w;
                        let dyp = &mut dyp_buf[..px * cout];
                        fill_dyp(i, oy0, oy1, dyp, need.db.then_some(&mut part.db[..]));
                        let col = &mut col_buf[..px * k];
                        if need.dw {
                            im2col(img, g, oy0, oy1, col);
                            if small_k(g) {
                                small_k_weight_grad_simd(&mut part.dw, col, dyp, k, cout);
                            } else {
                                matmul(
                                    &mut part.dw,
                                    cout,
                                    true,
                                    MatRef::row_major(col, px, k).t(),
                                    MatRef::row_major(dyp, px, cout),
                                    gemm::Parallelism::None,
                                );
                            }
                        }
                        if let Some(dxp) = dx_part.as_deref_mut() {
                            let dimg = &mut dxp[(i - first) * in_img..(i - first + 1) * in_img];
                            matmul(
                                col,
                                k,
                                false,
                                MatRef::row_major(dyp, px, cout),
                                MatRef::row_major(wt, k, cout).t(),
                                gemm::Parallelism::None,
                            );
                            col2im(col, g, oy0, oy1, dimg);
                        }
                    }
                }
            });
            part
        })
        .collect();
    let (dw, db) = sum_partials(&partials, need, k * cout, cout);
    (need.dx.then_some(dx), dw, db)
}

/// The fixed split of a backward pass's images into at most [`MAX_GROUPS`] groups (so that the
/// summation order, and so the result, does not depend on the thread count): images per group,
/// and the zeroed input gradient (empty when not needed).
pub(super) fn groups(g: &Geom, need: Need) -> (usize, Vec<f32>) {
    let per = g.n.div_ceil(g.n.clamp(1, MAX_GROUPS)).max(1);
    let dx = if need.dx {
        zeroed(g.n * g.in_image())
    } else {
        Vec::new()
    };
    (per, dx)
}

/// Each group's part of the input gradient (`None` per group when it is not needed).
pub(super) fn group_parts<'a>(
    dx: &'a mut [f32],
    g: &Geom,
    per: usize,
    need: Need,
) -> Vec<Option<&'a mut [f32]>> {
    if need.dx {
        dx.chunks_mut(per * g.in_image()).map(Some).collect()
    } else {
        (0..g.n.div_ceil(per)).map(|_| None).collect()
    }
}

/// The groups' weight and bias gradient sums (`dw_len` and `db_len` values), added in order.
pub(super) fn sum_partials(
    partials: &[Partial],
    need: Need,
    dw_len: usize,
    db_len: usize,
) -> (Option<Vec<f32>>, Option<Vec<f32>>) {
    let sum = |pick: fn(&Partial) -> &Vec<f32>, len: usize| {
        let mut total = vec![0.0f32; len];
        for p in partials {
            add_to(&mut total, pick(p));
        }
        total
    };
    (
        need.dw.then(|| sum(|p| &p.dw, dw_len)),
        need.db.then(|| sum(|p| &p.db, db_len)),
    )
}

/// Reads the three operands of a conv op in the backward pass and runs `f` on their values.
fn with_operands<R>(
    op: &str,
    x: &Tensor,
    w: &Tensor,
    b: &Tensor,
    f: impl FnOnce(Geom, &[f32], &[f32]) -> Result<R>,
) -> Result<R> {
    let (x, w) = (x.contiguous()?, w.contiguous()?);
    let (xs, xl) = x.storage_and_layout();
    let (ws, wl) = w.storage_and_layout();
    let g = Geom::new(op, xl, wl, b.layout())?;
    f(
        g,
        storage_f32(&xs, xl, op, "input")?,
        storage_f32(&ws, wl, op, "weight")?,
    )
}

/// The gradients as tensors shaped like the operands, `None` where not needed.
fn grads_to_tensors(
    g: &Geom,
    (dx, dw, db): GradVecs,
) -> Result<(Option<Tensor>, Option<Tensor>, Option<Tensor>)> {
    Ok((
        dx.map(|v| cpu_tensor(v, &[g.n, g.h, g.w, g.cin]))
            .transpose()?,
        dw.map(|v| cpu_tensor(v, &[g.k(), g.cout])).transpose()?,
        db.map(|v| cpu_tensor(v, &[g.cout])).transpose()?,
    ))
}

/// `relu(conv3x3(x, w) + b)`: x is N x H x W x C_in, w is (9 C_in) x C_out (see
/// [`hwio_from_oihw`]), b is C_out; the result is N x H x W x C_out.
#[derive(Clone, Copy, Debug)]
pub struct Conv3x3Relu {
    /// Whether the backward pass computes the input's gradient (false for a first layer).
    pub input_grad: bool,
}

impl CustomOp3 for Conv3x3Relu {
    fn name(&self) -> &'static str {
        "conv3x3-bias-relu-nhwc"
    }

    fn cpu_fwd(
        &self,
        xs: &CpuStorage,
        xl: &Layout,
        ws: &CpuStorage,
        wl: &Layout,
        bs: &CpuStorage,
        bl: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let op = self.name();
        let g = Geom::new(op, xl, wl, bl)?;
        let x = cpu_f32(xs, xl, op, "input")?;
        let wt = cpu_f32(ws, wl, op, "weight")?;
        let bias = cpu_f32(bs, bl, op, "bias")?;
        let mut y = uninit_vec(g.n * g.out_image());
        let step = g.tile_rows(false);
        y.par_chunks_mut(g.out_image())
            .zip(x.par_chunks(g.in_image()))
            .for_each(|(out, img)| {
                with_scratch(step * g.w * g.k(), |col| {
                    for (oy0, oy1) in tiles(g.h, step) {
                        let out = &mut out[oy0 * g.w * g.cout..oy1 * g.w * g.cout];
                        conv_tile(&g, img, wt, bias, oy0..oy1, col, out);
                    }
                })
            });
        Ok((CpuStorage::F32(y), Shape::from((g.n, g.h, g.w, g.cout))))
    }

    fn bwd(
        &self,
        x: &Tensor,
        w: &Tensor,
        b: &Tensor,
        y: &Tensor,
        dy: &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>, Option<Tensor>)> {
        let op = self.name();
        let need = Need {
            dx: self.input_grad && x.track_op(),
            dw: w.track_op(),
            db: b.track_op(),
        };
        let (y, dy) = (y.contiguous()?, dy.contiguous()?);
        let (ys, yl) = y.storage_and_layout();
        let (dys, dyl) = dy.storage_and_layout();
        let yv = storage_f32(&ys, yl, op, "output")?;
        let dyv = storage_f32(&dys, dyl, op, "output gradient")?;
        with_operands(op, x, w, b, |g, xv, wv| {
            if yv.len() != g.n * g.out_image() || dyv.len() != yv.len() {
                bail!("{op}: output or its gradient has the wrong size")
            }
            let cout = g.cout;
            let out_img = g.out_image();
            let grads = backward(
                &g,
                xv,
                wv,
                need,
                g.h,
                g.tile_rows(false),
                |i, oy0, oy1, dyp, db| {
                    let range = i * out_img + oy0 * g.w * cout..i * out_img + oy1 * g.w * cout;
                    for ((d, &gy), &yy) in dyp.iter_mut().zip(&dyv[range.clone()]).zip(&yv[range]) {
                        *d = if yy > 0.0 { gy } else { 0.0 };
                    }
                    if let Some(db) = db {
                        for row in dyp.chunks_exact(cout) {
                            add_to(db, row);
                        }
                    }
                },
            );
            grads_to_tensors(&g, grads)
        })
    }
}

/// The work on one image of a forward pass: input, pooled output, argmaxes, scratch.
type ImageFn<'a> = dyn Fn(&[f32], &mut [f32], &mut [u8], &mut [f32]) + Sync + 'a;

/// The direct forward pass of [`Conv3x3ReluPool`] into `y` (N x H/2 x W/2 x C_out) and `arg`:
/// the first-layer register kernel when `register_kernel` (it must apply,
/// [`first_layer::applies`]), else im2col + gemm per tile of rows, then the pool.
pub(super) fn forward_pool_direct(
    g: &Geom,
    x: &[f32],
    wt: &[f32],
    bias: &[f32],
    y: &mut [f32],
    arg: &mut [u8],
    register_kernel: bool,
) {
    let (ph, pw) = g.pooled();
    let cout = g.cout;
    let pool_img = ph * pw * cout;
    if pool_img == 0 {
        return;
    }
    // One image per task, with this thread's scratch of `scratch` values.
    let mut per_image = |scratch: usize, f: &ImageFn| {
        y.par_chunks_mut(pool_img)
            .zip(arg.par_chunks_mut(pool_img))
            .zip(x.par_chunks(g.in_image()))
            .for_each(|((out, am), img)| with_scratch(scratch, |buf| f(img, out, am, buf)))
    };
    if register_kernel {
        per_image((g.h + 2) * (g.w + 2), &|img, out, am, buf| {
            first_layer::forward_image(g, img, wt, bias, out, am, buf)
        });
        return;
    }
    let step = g.tile_rows(true);
    let tile_px = step * g.w;
    per_image(tile_px * (g.k() + cout), &|img, out, am, buf| {
        let (col, act) = buf.split_at_mut(tile_px * g.k());
        for (oy0, oy1) in tiles(2 * ph, step) {
            conv_tile(g, img, wt, bias, oy0..oy1, col, act);
            let row = g.w * cout;
            for r in 0..(oy1 - oy0) / 2 {
                let top = &act[2 * r * row..(2 * r + 1) * row];
                let bottom = &act[(2 * r + 1) * row..(2 * r + 2) * row];
                let py = oy0 / 2 + r;
                let o = &mut out[py * pw * cout..(py + 1) * pw * cout];
                let a = &mut am[py * pw * cout..(py + 1) * pw * cout];
                pool_row_simd(top, bottom, cout, o, a);
            }
        }
    });
}

/// `maxpool2x2(relu(conv3x3(x, w) + b))` in one pass: the N x H x W x C_out activation is
/// never stored; the position of each window's maximum is kept for the backward pass.
#[derive(Debug)]
pub struct Conv3x3ReluPool {
    /// Whether the backward pass computes the input's gradient (false for a first layer).
    pub input_grad: bool,
    /// Index (0..4, row-major in the window) of each pooled value's maximum.
    argmax: Mutex<Vec<u8>>,
    /// Whether layers with enough input channels run as Winograd F(2x2, 3x3) ([`winograd`]).
    winograd: bool,
}

impl Conv3x3ReluPool {
    /// The op, Winograd F(2x2, 3x3) where it applies (8 or more input channels), unless the
    /// environment sets `ITLM_CONV=direct` (for before/after measurements; read once).
    pub fn new(input_grad: bool) -> Self {
        static DIRECT: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
        let direct =
            *DIRECT.get_or_init(|| std::env::var("ITLM_CONV").is_ok_and(|v| v == "direct"));
        Self {
            input_grad,
            argmax: Mutex::new(Vec::new()),
            winograd: !direct,
        }
    }

    /// The op as a direct convolution (im2col + gemm) at every size, for comparisons.
    pub fn direct(input_grad: bool) -> Self {
        Self {
            winograd: false,
            ..Self::new(input_grad)
        }
    }

    fn uses_winograd(&self, g: &Geom) -> bool {
        self.winograd && winograd::applies(g)
    }
}

impl CustomOp3 for Conv3x3ReluPool {
    fn name(&self) -> &'static str {
        "conv3x3-bias-relu-maxpool2-nhwc"
    }

    fn cpu_fwd(
        &self,
        xs: &CpuStorage,
        xl: &Layout,
        ws: &CpuStorage,
        wl: &Layout,
        bs: &CpuStorage,
        bl: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let op = self.name();
        let g = Geom::new(op, xl, wl, bl)?;
        let x = cpu_f32(xs, xl, op, "input")?;
        let wt = cpu_f32(ws, wl, op, "weight")?;
        let bias = cpu_f32(bs, bl, op, "bias")?;
        let (ph, pw) = g.pooled();
        let cout = g.cout;
        let pool_img = ph * pw * cout;
        let mut y = uninit_vec(g.n * pool_img);
        let mut arg = zeroed::<u8>(g.n * pool_img);
        if pool_img > 0 && self.uses_winograd(&g) {
            winograd::forward_pool(&g, x, wt, bias, &mut y, &mut arg);
        } else if pool_img > 0 {
            forward_pool_direct(&g, x, wt, bias, &mut y, &mut arg, first_layer::applies(&g));
        }
        match self.argmax.lock() {
            Ok(mut saved) => *saved = arg,
            Err(_) => bail!("{op}: saved state poisoned"),
        }
        Ok((CpuStorage::F32(y), Shape::from((g.n, ph, pw, cout))))
    }

    fn bwd(
        &self,
        x: &Tensor,
        w: &Tensor,
        b: &Tensor,
        y: &Tensor,
        dy: &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>, Option<Tensor>)> {
        let op = self.name();
        let need = Need {
            dx: self.input_grad && x.track_op(),
            dw: w.track_op(),
            db: b.track_op(),
        };
        let (y, dy) = (y.contiguous()?, dy.contiguous()?);
        let (ys, yl) = y.storage_and_layout();
        let (dys, dyl) = dy.storage_and_layout();
        let yv = storage_f32(&ys, yl, op, "output")?;
        let dyv = storage_f32(&dys, dyl, op, "output gradient")?;
        let Ok(arg) = self.argmax.lock() else {
            bail!("{op}: saved state poisoned")
        };
        with_operands(op, x, w, b, |g, xv, wv| {
            let (ph, pw) = g.pooled();
            let cout = g.cout;
            let pool_img = ph * pw * cout;
            if yv.len() != g.n * pool_img || dyv.len() != yv.len() || arg.len() != yv.len() {
                bail!("{op}: output, its gradient or the saved maxima have the wrong size")
            }
            if self.uses_winograd(&g) {
                let grads = winograd::backward_pool(&g, xv, wv, yv, dyv, &arg, need);
                return grads_to_tensors(&g, grads);
            }
            let grads = backward(
                &g,
                xv,
                wv,
                need,
                2 * ph,
                g.tile_rows(true),
                |i, oy0, oy1, dyp, mut db| {
                    let row = g.w * cout;
                    for r in 0..(oy1 - oy0) / 2 {
                        let py = oy0 / 2 + r;
                        let j = i * pool_img + py * pw * cout;
                        let (ys, ds, am) = (
                            &yv[j..j + pw * cout],
                            &dyv[j..j + pw * cout],
                            &arg[j..j + pw * cout],
                        );
                        let (top, bottom) = dyp[2 * r * row..(2 * r + 2) * row].split_at_mut(row);
                        if g.w % 2 == 1 {
                            // The last column is in no window.
                            top[2 * pw * cout..].fill(0.0);
                            bottom[2 * pw * cout..].fill(0.0);
                        }
                        let (top, bottom) =
                            (&mut top[..2 * pw * cout], &mut bottom[..2 * pw * cout]);
                        for px in 0..pw {
                            let o = px * cout..(px + 1) * cout;
                            let (tl, tr) =
                                top[2 * px * cout..(2 * px + 2) * cout].split_at_mut(cout);
                            let (bl, br) =
                                bottom[2 * px * cout..(2 * px + 2) * cout].split_at_mut(cout);
                            let (y, d) = (&ys[o.clone()], &ds[o.clone()]);
                            unpool_simd(y, d, &am[o], tl, tr, bl, br);
                            if let Some(db) = db.as_deref_mut() {
                                // The ReLU'd gradient of the window is its one non-zero value.
                                for ((s, &yv), &dv) in db.iter_mut().zip(y).zip(d) {
                                    *s += if yv > 0.0 { dv } else { 0.0 };
                                }
                            }
                        }
                    }
                },
            );
            grads_to_tensors(&g, grads)
        })
    }
}

pub(super) fn conv_args(x: &Tensor, w: &Tensor, b: &Tensor) -> Result<(Tensor, Tensor, Tensor)> {
    if !x.device().is_cpu() {
        bail!("the fused conv ops run on the CPU only")
    }
    Ok((x.contiguous()?, w.contiguous()?, b.contiguous()?))
}

/// `relu(conv3x3(x, w) + b)` with padding 1: x N x H x W x C_in, w (9 C_in) x C_out, b C_out.
/// The input's gradient is computed only when `x` is part of a tracked graph.
pub fn conv3x3_relu(x: &Tensor, w: &Tensor, b: &Tensor) -> Result<Tensor> {
    let (x, w, b) = conv_args(x, w, b)?;
    let op = Conv3x3Relu {
        input_grad: x.track_op(),
    };
    x.apply_op3(&w, &b, op)
}

/// `maxpool2x2(relu(conv3x3(x, w) + b))`: N x floor(H/2) x floor(W/2) x C_out; Winograd
/// F(2x2, 3x3) from 8 input channels up, a direct convolution below.
pub fn conv3x3_relu_pool(x: &Tensor, w: &Tensor, b: &Tensor) -> Result<Tensor> {
    let (x, w, b) = conv_args(x, w, b)?;
    let op = Conv3x3ReluPool::new(x.track_op());
    x.apply_op3(&w, &b, op)
}

/// [`conv3x3_relu_pool`] as a direct convolution at every size (for comparisons).
pub fn conv3x3_relu_pool_direct(x: &Tensor, w: &Tensor, b: &Tensor) -> Result<Tensor> {
    let (x, w, b) = conv_args(x, w, b)?;
    let op = Conv3x3ReluPool::direct(x.track_op());
    x.apply_op3(&w, &b, op)
}

/// A PyTorch/candle conv weight (C_out x C_in x 3 x 3) in this module's layout,
/// (9 C_in) x C_out with rows ordered (ky, kx, c_in).
pub fn hwio_from_oihw(w: &Tensor) -> Result<Tensor> {
    let (o, i, kh, kw) = w.dims4()?;
    if kh != 3 || kw != 3 {
        bail!("expected a 3x3 kernel, got {kh}x{kw}")
    }
    w.permute((2, 3, 1, 0))?.contiguous()?.reshape((9 * i, o))
}
