//! Winograd F(2x2, 3x3) for the fused 3x3 convolution + bias + ReLU + 2x2 max-pool: each 2x2
//! block of conv outputs (exactly one pool window) is computed from its 4x4 input tile with 16
//! multiplies per (C_in, C_out) pair instead of 36 (Lavin & Gray 2016), so the layer does 2.25x
//! fewer multiply-adds. The 16 points of a tile are 16 independent matrix products over the
//! tiles of a batch: `M[p] = V[p] U[p]`, with V the transformed input tiles (tiles x C_in) and U
//! the transformed kernel (C_in x C_out).
//!
//! The backward pass is the chain rule through the same factorisation, which is exact (the
//! transforms are linear and the algorithm computes the convolution exactly in real
//! arithmetic): with `D[p]` the transformed output gradient of a tile,
//! `dU[p] = V[p]^T D[p]` (summed over tiles, then transformed back to the 3x3 kernel) and
//! `dV[p] = D[p] U[p]^T` (transformed back to the 4x4 tile and added into the input gradient).
//! Three sets of 16 products, each 2.25x smaller than the direct convolution's.
//!
//! Transforms (input d, kernel g, output m; 0.5 and +-1 only, so f32 rounding stays at the
//! direct convolution's level): `V = B^T d B`, `U = G g G^T`, `Y = A^T M A` with
//! `B^T = [[1,0,-1,0],[0,1,1,0],[0,-1,1,0],[0,1,0,-1]]`,
//! `G = [[1,0,0],[.5,.5,.5],[.5,-.5,.5],[0,0,1]]`, `A^T = [[1,1,1,0],[0,1,-1,-1]]`.

use rayon::prelude::*;

use super::conv::{group_parts, groups, sum_partials, Geom, GradVecs, Need, Partial};
use super::gemm::{matmul, MatRef};
use super::pool::max4;
use super::pool::unpool;
use super::scratch::with_scratch;
use super::simd::simd_variant;
use super::uninit_vec;

/// Points per tile (4 x 4).
const P: usize = 16;
/// Tiles (pool windows) per batch of products: with 32 input and 64 output channels the
/// transformed tiles and products of a batch take 16 x 256 x 96 x 4 bytes = 1.5 MiB (the
/// CNN's second layer measured the same from 64 to 256 tiles; fewer products per call cost
/// more in gemm's per-call overhead).
const TILE_BATCH: usize = 256;
/// The smallest input channel count the Winograd path is used for: below it the transforms
/// cost more than the multiplies they save (a first layer of 1 or 3 channels).
pub(super) const MIN_CIN: usize = 8;

/// Where the direct convolution is the better choice (or the only one).
pub(super) fn applies(g: &Geom) -> bool {
    g.cin >= MIN_CIN && g.h >= 2 && g.w >= 2
}

/// `U = G g G^T` for every (C_in, C_out) pair: 16 matrices of C_in x C_out, from the kernel in
/// the `(ky, kx, c_in) x c_out` layout.
pub(super) fn kernel_transform(g: &Geom, wt: &[f32]) -> Vec<f32> {
    let (cin, cout) = (g.cin, g.cout);
    let mut u = uninit_vec(P * cin * cout);
    let tap =
        |ky: usize, kx: usize, ci: usize, co: usize| wt[((ky * 3 + kx) * cin + ci) * cout + co];
    for ci in 0..cin {
        for co in 0..cout {
            // G g: 4 x 3, column kx from the kernel's column kx.
            let col = |kx: usize| {
                let (g0, g1, g2) = (tap(0, kx, ci, co), tap(1, kx, ci, co), tap(2, kx, ci, co));
                [g0, 0.5 * (g0 + g1 + g2), 0.5 * (g0 - g1 + g2), g2]
            };
            let cols = [col(0), col(1), col(2)];
            let gg: [[f32; 3]; 4] = std::array::from_fn(|r| [cols[0][r], cols[1][r], cols[2][r]]);
            // (G g) G^T: 4 x 4.
            for (r, row) in gg.iter().enumerate() {
                let [p0, p1, p2] = *row;
                let vals = [p0, 0.5 * (p0 + p1 + p2), 0.5 * (p0 - p1 + p2), p2];
                for (s, v) in vals.into_iter().enumerate() {
                    u[((r * 4 + s) * cin + ci) * cout + co] = v;
                }
            }
        }
    }
    u
}

/// The kernel gradient `G^T dU G` in the `(ky, kx, c_in) x c_out` layout, from the 16
/// C_in x C_out matrices `du`.
fn kernel_gradient(g: &Geom, du: &[f32]) -> Vec<f32> {
    let (cin, cout) = (g.cin, g.cout);
    let mut dw = uninit_vec(9 * cin * cout);
    for ci in 0..cin {
        for co in 0..cout {
            let d = |r: usize, s: usize| du[((r * 4 + s) * cin + ci) * cout + co];
            // G^T dU: 3 x 4, column s from dU's column s.
            let col = |s: usize| {
                let (d0, d1, d2, d3) = (d(0, s), d(1, s), d(2, s), d(3, s));
                [d0 + 0.5 * (d1 + d2), 0.5 * (d1 - d2), 0.5 * (d1 + d2) + d3]
            };
            let cols = [col(0), col(1), col(2), col(3)];
            let rows: [[f32; 4]; 3] =
                std::array::from_fn(|r| [cols[0][r], cols[1][r], cols[2][r], cols[3][r]]);
            // (G^T dU) G: 3 x 3.
            for (ky, [q0, q1, q2, q3]) in rows.into_iter().enumerate() {
                let vals = [q0 + 0.5 * (q1 + q2), 0.5 * (q1 - q2), 0.5 * (q1 + q2) + q3];
                for (kx, v) in vals.into_iter().enumerate() {
                    dw[((ky * 3 + kx) * cin + ci) * cout + co] = v;
                }
            }
        }
    }
    dw
}

/// The distance between two of the 16 matrices of a batch of `tiles` tiles with `c` channels:
/// one row more than the matrix. Without the extra row the matrices lie a power of two apart
/// (256 tiles x 32 or 64 channels x 4 bytes), so a tile's 16 rows, which the transforms read
/// or write together, fall into the same few cache sets and evict each other.
#[inline(always)]
fn stride(tiles: usize, c: usize) -> usize {
    (tiles + 1) * c
}

/// Matrix `p` (`tiles` x `c`) of the 16 in `buf`, laid out [`stride`] apart.
#[inline(always)]
fn matrix(buf: &[f32], p: usize, tiles: usize, c: usize) -> &[f32] {
    &buf[p * stride(tiles, c)..][..tiles * c]
}

/// Mutable [`matrix`].
#[inline(always)]
fn matrix_mut(buf: &mut [f32], p: usize, tiles: usize, c: usize) -> &mut [f32] {
    &mut buf[p * stride(tiles, c)..][..tiles * c]
}

/// `(image, tile row, tile column)` of tile `t` (tiles numbered image by image, row-major over
/// the pooled grid).
#[inline(always)]
fn tile_pos(t: usize, ph: usize, pw: usize) -> (usize, usize, usize) {
    let per = ph * pw;
    (t / per, (t % per) / pw, t % pw)
}

/// The 16 vectors `lt * c..(lt + 1) * c` of the 16 matrices (each `stride` values) in `buf`.
#[inline(always)]
fn rows_mut(buf: &mut [f32], stride: usize, lt: usize, c: usize) -> [&mut [f32]; P] {
    let [p0, p1, p2, p3, p4, p5, p6, p7, p8, p9, p10, p11, p12, p13, p14, p15] =
        split16(&mut buf[..P * stride], stride);
    let r = lt * c..(lt + 1) * c;
    [
        &mut p0[r.clone()],
        &mut p1[r.clone()],
        &mut p2[r.clone()],
        &mut p3[r.clone()],
        &mut p4[r.clone()],
        &mut p5[r.clone()],
        &mut p6[r.clone()],
        &mut p7[r.clone()],
        &mut p8[r.clone()],
        &mut p9[r.clone()],
        &mut p10[r.clone()],
        &mut p11[r.clone()],
        &mut p12[r.clone()],
        &mut p13[r.clone()],
        &mut p14[r.clone()],
        &mut p15[r],
    ]
}

/// `q` (4 x `stride` values) as its 4 parts.
#[inline(always)]
fn split4(q: &mut [f32], stride: usize) -> [&mut [f32]; 4] {
    let (x, y) = q.split_at_mut(2 * stride);
    let (x0, x1) = x.split_at_mut(stride);
    let (y0, y1) = y.split_at_mut(stride);
    [x0, x1, y0, y1]
}

/// `buf` (16 x `stride` values) as its 16 parts.
#[inline(always)]
fn split16(buf: &mut [f32], stride: usize) -> [&mut [f32]; P] {
    let (a, b) = buf.split_at_mut(8 * stride);
    let (a0, a1) = a.split_at_mut(4 * stride);
    let (b0, b1) = b.split_at_mut(4 * stride);
    let ([p0, p1, p2, p3], [p4, p5, p6, p7]) = (split4(a0, stride), split4(a1, stride));
    let ([p8, p9, p10, p11], [p12, p13, p14, p15]) = (split4(b0, stride), split4(b1, stride));
    [
        p0, p1, p2, p3, p4, p5, p6, p7, p8, p9, p10, p11, p12, p13, p14, p15,
    ]
}

/// Read-only [`rows_mut`].
#[inline(always)]
fn rows(buf: &[f32], stride: usize, lt: usize, c: usize) -> [&[f32]; P] {
    let s = |p: usize| &buf[p * stride + lt * c..p * stride + (lt + 1) * c];
    each16(s)
}

/// `[f(0), .., f(15)]`, written out (`std::array::from_fn` is not always inlined into the
/// AVX2 variants, and a call per tile costs).
#[inline(always)]
fn each16<T>(f: impl Fn(usize) -> T) -> [T; P] {
    [
        f(0),
        f(1),
        f(2),
        f(3),
        f(4),
        f(5),
        f(6),
        f(7),
        f(8),
        f(9),
        f(10),
        f(11),
        f(12),
        f(13),
        f(14),
        f(15),
    ]
}

/// `[o0, o1, o2, o3][j][k] = f([x0, x1, x2, x3][..][k])[j]` for every k: a 4-point linear
/// map applied channel by channel. The vectors are separate arguments so that the compiler
/// knows they do not overlap and vectorises the loop.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn lin4(
    x0: &[f32],
    x1: &[f32],
    x2: &[f32],
    x3: &[f32],
    o0: &mut [f32],
    o1: &mut [f32],
    o2: &mut [f32],
    o3: &mut [f32],
    f: impl Fn([f32; 4]) -> [f32; 4],
) {
    let n = x0.len();
    let (x1, x2, x3) = (&x1[..n], &x2[..n], &x3[..n]);
    let (o0, o1, o2, o3) = (&mut o0[..n], &mut o1[..n], &mut o2[..n], &mut o3[..n]);
    for k in 0..n {
        let [a, b, c, d] = f([x0[k], x1[k], x2[k], x3[k]]);
        o0[k] = a;
        o1[k] = b;
        o2[k] = c;
        o3[k] = d;
    }
}

/// [`lin4`] on the 16 vectors of a tile: `f` on each column (`by_columns`: vectors
/// `s, 4 + s, 8 + s, 12 + s`) or each row (`4 r..4 r + 4`) of `x` into the same places of `out`.
#[inline(always)]
fn lin_tile(
    x: [&[f32]; P],
    out: [&mut [f32]; P],
    by_columns: bool,
    f: impl Fn([f32; 4]) -> [f32; 4] + Copy,
) {
    let [o0, o1, o2, o3, o4, o5, o6, o7, o8, o9, o10, o11, o12, o13, o14, o15] = out;
    if by_columns {
        lin4(x[0], x[4], x[8], x[12], o0, o4, o8, o12, f);
        lin4(x[1], x[5], x[9], x[13], o1, o5, o9, o13, f);
        lin4(x[2], x[6], x[10], x[14], o2, o6, o10, o14, f);
        lin4(x[3], x[7], x[11], x[15], o3, o7, o11, o15, f);
    } else {
        lin4(x[0], x[1], x[2], x[3], o0, o1, o2, o3, f);
        lin4(x[4], x[5], x[6], x[7], o4, o5, o6, o7, f);
        lin4(x[8], x[9], x[10], x[11], o8, o9, o10, o11, f);
        lin4(x[12], x[13], x[14], x[15], o12, o13, o14, o15, f);
    }
}

/// `A` applied to two values (a window's row or column of gradients): `(x, x + y, x - y, -y)`.
#[inline(always)]
fn a2(x: f32, y: f32) -> [f32; 4] {
    [x, x + y, x - y, -y]
}

/// `B^T x` for the four values of a tile's column (or row).
#[inline(always)]
fn bt(x: [f32; 4]) -> [f32; 4] {
    [x[0] - x[2], x[1] + x[2], x[2] - x[1], x[1] - x[3]]
}

/// `B x` (the adjoint of [`bt`]).
#[inline(always)]
fn b(x: [f32; 4]) -> [f32; 4] {
    [x[0], x[1] - x[2] + x[3], x[1] + x[2] - x[0], -x[3]]
}

/// `V = B^T d B` of tiles `t0..t0 + tiles` into `v` (16 matrices of `tiles` x C_in);
/// `work` holds 17 C_in values.
#[inline(always)]
fn input_transform(g: &Geom, x: &[f32], t0: usize, tiles: usize, v: &mut [f32], work: &mut [f32]) {
    let (h, w, c) = (g.h, g.w, g.cin);
    let (ph, pw) = g.pooled();
    let (zero, tmp) = work[..17 * c].split_at_mut(c);
    zero.fill(0.0);
    let zero = &*zero;
    for lt in 0..tiles {
        let (i, ty, tx) = tile_pos(t0 + lt, ph, pw);
        let img = &x[i * h * w * c..(i + 1) * h * w * c];
        // The 4x4 tile (rows 2ty-1.., columns 2tx-1..), zero outside the image.
        let d: [&[f32]; P] = each16(|p| {
            let (iy, ix) = (
                (2 * ty + p / 4).wrapping_sub(1),
                (2 * tx + p % 4).wrapping_sub(1),
            );
            if iy < h && ix < w {
                &img[(iy * w + ix) * c..(iy * w + ix + 1) * c]
            } else {
                zero
            }
        });
        // Columns first: t[r][s] = sum_q B^T[r][q] d[q][s]; then rows: V = t B.
        lin_tile(d, rows_mut(tmp, c, 0, c), true, bt);
        let out = rows_mut(v, stride(tiles, c), lt, c);
        lin_tile(rows(tmp, c, 0, c), out, false, bt);
    }
}

/// `A^T m` for one column of a tile's products: `(m0 + m1 + m2, m1 - m2 - m3)`, channel by
/// channel (separate arguments, so the loop vectorises).
#[inline(always)]
fn at4(m0: &[f32], m1: &[f32], m2: &[f32], m3: &[f32], o0: &mut [f32], o1: &mut [f32]) {
    let n = m0.len();
    let (m1, m2, m3, o0, o1) = (&m1[..n], &m2[..n], &m3[..n], &mut o0[..n], &mut o1[..n]);
    for k in 0..n {
        o0[k] = m0[k] + m1[k] + m2[k];
        o1[k] = m1[k] - m2[k] - m3[k];
    }
}

/// A window's four outputs from the rows `t` (top) and `u` (bottom) of `A^T M` (4 vectors
/// each): `A^T` along the row, bias, ReLU, then the maximum and its position.
#[inline(always)]
fn pool_window(t: [&[f32]; 4], u: [&[f32]; 4], bias: &[f32], y: &mut [f32], arg: &mut [u8]) {
    let n = y.len();
    let (t0, t1, t2, t3) = (&t[0][..n], &t[1][..n], &t[2][..n], &t[3][..n]);
    let (u0, u1, u2, u3) = (&u[0][..n], &u[1][..n], &u[2][..n], &u[3][..n]);
    let (bias, arg) = (&bias[..n], &mut arg[..n]);
    for k in 0..n {
        let b = bias[k];
        let relu = |a: f32| {
            let s = a + b;
            if s < 0.0 {
                0.0
            } else {
                s
            }
        };
        let (mx, i) = max4(
            relu(t0[k] + t1[k] + t2[k]),
            relu(t1[k] - t2[k] - t3[k]),
            relu(u0[k] + u1[k] + u2[k]),
            relu(u1[k] - u2[k] - u3[k]),
        );
        y[k] = mx;
        arg[k] = i;
    }
}

/// The pooled outputs and argmaxes of tiles `t0..`: the 16 products `m` (each `tiles` x C_out)
/// through `Y = A^T M A`, bias, ReLU and the 2x2 maximum; `work` holds 8 C_out values.
#[inline(always)]
fn output_pool(
    m: &[f32],
    tiles: usize,
    cout: usize,
    bias: &[f32],
    y: &mut [f32],
    arg: &mut [u8],
    work: &mut [f32],
) {
    for lt in 0..tiles {
        let ms = rows(m, stride(tiles, cout), lt, cout);
        let [r0, r1, r2, r3, r4, r5, r6, r7] = {
            let mut it = work[..8 * cout].chunks_exact_mut(cout);
            std::array::from_fn(|_| it.next().expect("eight vectors"))
        };
        // A^T M: rows 0 (r0..r3) and 1 (r4..r7).
        at4(ms[0], ms[4], ms[8], ms[12], r0, r4);
        at4(ms[1], ms[5], ms[9], ms[13], r1, r5);
        at4(ms[2], ms[6], ms[10], ms[14], r2, r6);
        at4(ms[3], ms[7], ms[11], ms[15], r3, r7);
        pool_window(
            [r0, r1, r2, r3],
            [r4, r5, r6, r7],
            bias,
            &mut y[lt * cout..(lt + 1) * cout],
            &mut arg[lt * cout..(lt + 1) * cout],
        );
    }
}

simd_variant!(input_transform_simd => input_transform(
    g: &Geom, x: &[f32], t0: usize, tiles: usize, v: &mut [f32], work: &mut [f32],
));
simd_variant!(output_pool_simd => output_pool(
    m: &[f32], tiles: usize, cout: usize, bias: &[f32], y: &mut [f32], arg: &mut [u8],
    work: &mut [f32],
));
simd_variant!(grad_transform_simd => grad_transform(
    yv: &[f32], dyv: &[f32], arg: &[u8], tiles: usize, cout: usize, d: &mut [f32],
    work: &mut [f32], db: Option<&mut [f32]>,
));
simd_variant!(input_gradient_simd => input_gradient(
    g: &Geom, dvt: &[f32], t0: usize, tiles: usize, first: usize, dx: &mut [f32],
    work: &mut [f32],
));

/// Forward: `maxpool2x2(relu(conv3x3(x) + bias))` into `y` (N x H/2 x W/2 x C_out) and the
/// window positions of the maxima into `arg`.
pub(super) fn forward_pool(
    g: &Geom,
    x: &[f32],
    wt: &[f32],
    bias: &[f32],
    y: &mut [f32],
    arg: &mut [u8],
) {
    let (cin, cout) = (g.cin, g.cout);
    let u = kernel_transform(g, wt);
    let chunk = TILE_BATCH * cout;
    y.par_chunks_mut(chunk)
        .zip(arg.par_chunks_mut(chunk))
        .enumerate()
        .for_each(|(ci, (yc, ac))| {
            let tiles = yc.len() / cout;
            let t0 = ci * TILE_BATCH;
            with_scratch(
                P * (stride(tiles, cin) + stride(tiles, cout)) + 17 * cin + 8 * cout,
                |buf| {
                    let (v, rest) = buf.split_at_mut(P * stride(tiles, cin));
                    let (m, work) = rest.split_at_mut(P * stride(tiles, cout));
                    input_transform_simd(g, x, t0, tiles, v, work);
                    for p in 0..P {
                        matmul(
                            matrix_mut(m, p, tiles, cout),
                            cout,
                            false,
                            MatRef::row_major(matrix(v, p, tiles, cin), tiles, cin),
                            MatRef::row_major(&u[p * cin * cout..(p + 1) * cin * cout], cin, cout),
                            gemm::Parallelism::None,
                        );
                    }
                    output_pool_simd(m, tiles, cout, bias, yc, ac, work);
                },
            )
        });
}

/// The transformed output gradient `D = A e A^T` of tiles `t0..` (16 matrices of `tiles` x
/// C_out), where `e` is the 2x2 pre-activation gradient of a window: the pooled gradient at the
/// window's maximum when the output is positive, zero elsewhere. Adds `e`'s sums to `db`;
/// `work` holds 12 C_out values.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn grad_transform(
    yv: &[f32],
    dyv: &[f32],
    arg: &[u8],
    tiles: usize,
    cout: usize,
    d: &mut [f32],
    work: &mut [f32],
    mut db: Option<&mut [f32]>,
) {
    let (ework, rwork) = work[..12 * cout].split_at_mut(4 * cout);
    for lt in 0..tiles {
        let o = lt * cout..(lt + 1) * cout;
        let (ys, ds, am) = (&yv[o.clone()], &dyv[o.clone()], &arg[o]);
        let [e0, e1, e2, e3] = {
            let mut it = ework.chunks_exact_mut(cout);
            std::array::from_fn(|_| it.next().expect("four vectors"))
        };
        unpool(ys, ds, am, e0, e1, e2, e3);
        if let Some(db) = db.as_deref_mut() {
            add_sums(&mut db[..cout], [&*e0, &*e1, &*e2, &*e3]);
        }
        // A e A^T, A e first: column j of e (e_j, e_{2+j}) gives column j of the 4 x 2 product.
        let [r0, r1, r2, r3, r4, r5, r6, r7] = {
            let mut it = rwork.chunks_exact_mut(cout);
            std::array::from_fn(|_| it.next().expect("eight vectors"))
        };
        lin4(e0, e2, e0, e0, r0, r2, r4, r6, |[x, y, _, _]| a2(x, y));
        lin4(e1, e3, e1, e1, r1, r3, r5, r7, |[x, y, _, _]| a2(x, y));
        // Then each row (p, q) of A e times A^T.
        let [d0, d1, d2, d3, d4, d5, d6, d7, d8, d9, d10, d11, d12, d13, d14, d15] =
            rows_mut(d, stride(tiles, cout), lt, cout);
        lin4(r0, r1, r0, r0, d0, d1, d2, d3, |[x, y, _, _]| a2(x, y));
        lin4(r2, r3, r2, r2, d4, d5, d6, d7, |[x, y, _, _]| a2(x, y));
        lin4(r4, r5, r4, r4, d8, d9, d10, d11, |[x, y, _, _]| a2(x, y));
        lin4(r6, r7, r6, r6, d12, d13, d14, d15, |[x, y, _, _]| a2(x, y));
    }
}

/// `acc[k] += e[0][k] + e[1][k] + e[2][k] + e[3][k]`, 16 values at a time through a local
/// array (the compiler cannot tell that `acc` and `e` do not overlap, and leaves the plain loop
/// scalar).
#[inline(always)]
fn add_sums(acc: &mut [f32], e: [&[f32]; 4]) {
    let n = acc.len();
    let [e0, e1, e2, e3] = e.map(|v| &v[..n]);
    let mut k = 0;
    while k + 16 <= n {
        let s: [f32; 16] = std::array::from_fn(|j| e0[k + j] + e1[k + j] + e2[k + j] + e3[k + j]);
        for (a, v) in acc[k..k + 16].iter_mut().zip(s) {
            *a += v;
        }
        k += 16;
    }
    for j in k..n {
        acc[j] += e0[j] + e1[j] + e2[j] + e3[j];
    }
}

/// Adds `B dV B^T` of tiles `t0..` (the 16 matrices `dvt`, each `tiles` x C_in) into the input
/// gradient `dx` of images `first..`; `work` holds 32 C_in values.
#[inline(always)]
fn input_gradient(
    g: &Geom,
    dvt: &[f32],
    t0: usize,
    tiles: usize,
    first: usize,
    dx: &mut [f32],
    work: &mut [f32],
) {
    let (h, w, c) = (g.h, g.w, g.cin);
    let (ph, pw) = g.pooled();
    let (tmp, dd) = work[..2 * P * c].split_at_mut(P * c);
    for lt in 0..tiles {
        let (i, ty, tx) = tile_pos(t0 + lt, ph, pw);
        let m = rows(dvt, stride(tiles, c), lt, c);
        // Columns: t[r][s] = sum_q B[r][q] dV[q][s]; then rows: dd = t B^T.
        lin_tile(m, rows_mut(tmp, c, 0, c), true, b);
        lin_tile(rows(tmp, c, 0, c), rows_mut(dd, c, 0, c), false, b);
        let img = &mut dx[(i - first) * h * w * c..(i - first + 1) * h * w * c];
        for p in 0..P {
            let (iy, ix) = (
                (2 * ty + p / 4).wrapping_sub(1),
                (2 * tx + p % 4).wrapping_sub(1),
            );
            if iy < h && ix < w {
                let dst = &mut img[(iy * w + ix) * c..(iy * w + ix + 1) * c];
                for (a, v) in dst.iter_mut().zip(&dd[p * c..(p + 1) * c]) {
                    *a += *v;
                }
            }
        }
    }
}

/// Backward of [`forward_pool`] from its output `yv`, the output's gradient `dyv` and the saved
/// maxima `arg`. Images are split into at most [`MAX_GROUPS`] groups whose partial sums are
/// added in order, so the result does not depend on the thread count.
pub(super) fn backward_pool(
    g: &Geom,
    x: &[f32],
    wt: &[f32],
    yv: &[f32],
    dyv: &[f32],
    arg: &[u8],
    need: Need,
) -> GradVecs {
    if !(need.dx || need.dw || need.db) {
        return (None, None, None);
    }
    let (cin, cout) = (g.cin, g.cout);
    let (ph, pw) = g.pooled();
    let per_img = ph * pw;
    let u = if need.dx {
        kernel_transform(g, wt)
    } else {
        Vec::new()
    };
    let (per, mut dx) = groups(g, need);
    let dx_parts = group_parts(&mut dx, g, per, need);
    let partials: Vec<Partial> = dx_parts
        .into_par_iter()
        .enumerate()
        .map(|(gi, mut dx_part)| {
            let mut part = Partial::new(need, P * cin * cout, cout);
            let first = gi * per;
            let last = (first + per).min(g.n);
            let (t_first, t_last) = (first * per_img, last * per_img);
            with_scratch(
                P * (stride(TILE_BATCH, cin) + stride(TILE_BATCH, cout)) + 32 * cin + 12 * cout,
                |buf| {
                    let (d, rest) = buf.split_at_mut(P * stride(TILE_BATCH, cout));
                    let (v, work) = rest.split_at_mut(P * stride(TILE_BATCH, cin));
                    let mut t0 = t_first;
                    while t0 < t_last {
                        let tiles = TILE_BATCH.min(t_last - t0);
                        let o = t0 * cout..(t0 + tiles) * cout;
                        let db = need.db.then_some(&mut part.db[..]);
                        grad_transform_simd(
                            &yv[o.clone()],
                            &dyv[o.clone()],
                            &arg[o],
                            tiles,
                            cout,
                            d,
                            work,
                            db,
                        );
                        if need.dw {
                            input_transform_simd(g, x, t0, tiles, v, work);
                            for p in 0..P {
                                matmul(
                                    &mut part.dw[p * cin * cout..(p + 1) * cin * cout],
                                    cout,
                                    true,
                                    MatRef::row_major(matrix(v, p, tiles, cin), tiles, cin).t(),
                                    MatRef::row_major(matrix(d, p, tiles, cout), tiles, cout),
                                    gemm::Parallelism::None,
                                );
                            }
                        }
                        if let Some(dxp) = dx_part.as_deref_mut() {
                            for p in 0..P {
                                matmul(
                                    matrix_mut(v, p, tiles, cin),
                                    cin,
                                    false,
                                    MatRef::row_major(matrix(d, p, tiles, cout), tiles, cout),
                                    MatRef::row_major(
                                        &u[p * cin * cout..(p + 1) * cin * cout],
                                        cin,
                                        cout,
                                    )
                                    .t(),
                                    gemm::Parallelism::None,
                                );
                            }
                            input_gradient_simd(g, v, t0, tiles, first, dxp, work);
                        }
                        t0 += tiles;
                    }
                },
            );
            part
        })
        .collect();
    let (du, db) = sum_partials(&partials, need, P * cin * cout, cout);
    let dw = du.map(|du| kernel_gradient(g, &du));
    (need.dx.then_some(dx), dw, db)
}
