//! A fully connected layer `x @ w^T + b`, optionally with ReLU, as one candle custom op on the
//! CPU: the input may have any rank (flattened after the first dimension, so no reshape node),
//! the weight keeps candle's `out x in` layout (read transposed through strides, no transpose
//! node), and bias and ReLU need no separate nodes either.

use std::borrow::Cow;

use candle_core::{bail, CpuStorage, CustomOp3, Layout, Result, Shape, Tensor};

use super::gemm::{matmul, matmul_split_rows, threads, MatRef};
use super::{cpu_f32, cpu_tensor, storage_f32, uninit_vec};

/// Shapes of one call: input N x K (after flattening), weight M x K, bias M.
#[derive(Clone, Copy, Debug)]
struct Geom {
    n: usize,
    k: usize,
    m: usize,
}

impl Geom {
    fn new(op: &str, x: &Layout, w: &Layout, b: &Layout) -> Result<Self> {
        let Some((&n, rest)) = x.dims().split_first() else {
            bail!("{op}: the input must have at least one dimension")
        };
        let k: usize = rest.iter().product();
        let (m, wk) = match w.dims() {
            &[m, wk] => (m, wk),
            d => bail!("{op}: weight must be out x in, got shape {d:?}"),
        };
        if wk != k || rest.is_empty() {
            bail!(
                "{op}: input {:?} has {k} features per sample, weight {:?} expects {wk}",
                x.dims(),
                w.dims()
            )
        }
        if b.dims() != [m] {
            bail!("{op}: bias has shape {:?}, expected [{m}]", b.dims())
        }
        Ok(Self { n, k, m })
    }
}

/// `x @ w^T + b`, then ReLU when `relu`; the output is N x M.
#[derive(Clone, Copy, Debug)]
pub struct Linear {
    pub relu: bool,
}

impl CustomOp3 for Linear {
    fn name(&self) -> &'static str {
        if self.relu {
            "linear-relu"
        } else {
            "linear"
        }
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
        let w = cpu_f32(ws, wl, op, "weight")?;
        let b = cpu_f32(bs, bl, op, "bias")?;
        let mut y = uninit_vec(g.n * g.m);
        matmul_split_rows(
            &mut y,
            g.m,
            false,
            MatRef::row_major(x, g.n, g.k),
            MatRef::row_major(w, g.m, g.k).t(),
        );
        if g.m > 0 {
            for row in y.chunks_exact_mut(g.m) {
                for (v, &bias) in row.iter_mut().zip(b) {
                    let s = *v + bias;
                    *v = if self.relu && s < 0.0 { 0.0 } else { s };
                }
            }
        }
        Ok((CpuStorage::F32(y), Shape::from((g.n, g.m))))
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
        let (x, w, y, dy) = (
            x.contiguous()?,
            w.contiguous()?,
            y.contiguous()?,
            dy.contiguous()?,
        );
        let (xs, xl) = x.storage_and_layout();
        let (ws, wl) = w.storage_and_layout();
        let (ys, yl) = y.storage_and_layout();
        let (dys, dyl) = dy.storage_and_layout();
        let g = Geom::new(op, xl, wl, b.layout())?;
        let xv = storage_f32(&xs, xl, op, "input")?;
        let wv = storage_f32(&ws, wl, op, "weight")?;
        let yv = storage_f32(&ys, yl, op, "output")?;
        let dyv = storage_f32(&dys, dyl, op, "output gradient")?;
        if yv.len() != g.n * g.m || dyv.len() != yv.len() {
            bail!("{op}: output or its gradient has the wrong size")
        }
        // The gradient before the ReLU.
        let dyp: Cow<[f32]> = if self.relu {
            dyv.iter()
                .zip(yv)
                .map(|(&d, &v)| if v > 0.0 { d } else { 0.0 })
                .collect()
        } else {
            Cow::Borrowed(dyv)
        };
        let dyp_m = MatRef::row_major(&dyp, g.n, g.m);
        let dx = if x.track_op() {
            let mut dx = uninit_vec(g.n * g.k);
            matmul(
                &mut dx,
                g.k,
                false,
                dyp_m,
                MatRef::row_major(wv, g.m, g.k),
                threads(),
            );
            Some(cpu_tensor(dx, x.dims())?)
        } else {
            None
        };
        let dw = if w.track_op() {
            let mut dw = uninit_vec(g.m * g.k);
            matmul(
                &mut dw,
                g.k,
                false,
                dyp_m.t(),
                MatRef::row_major(xv, g.n, g.k),
                threads(),
            );
            Some(cpu_tensor(dw, &[g.m, g.k])?)
        } else {
            None
        };
        let db = if b.track_op() {
            let mut db = vec![0.0f32; g.m];
            if g.m > 0 {
                for row in dyp.chunks_exact(g.m) {
                    for (d, &v) in db.iter_mut().zip(row) {
                        *d += v;
                    }
                }
            }
            Some(cpu_tensor(db, &[g.m])?)
        } else {
            None
        };
        Ok((dx, dw, db))
    }
}

/// `x @ w^T + b` (ReLU'd when `relu`) for x N x ... (flattened to N x in), w out x in, b out.
pub fn linear(x: &Tensor, w: &Tensor, b: &Tensor, relu: bool) -> Result<Tensor> {
    let (x, w, b) = linear_args(x, w, b)?;
    x.apply_op3(&w, &b, Linear { relu })
}

/// The arguments the fused linear op takes: contiguous, on the CPU.
pub(super) fn linear_args(x: &Tensor, w: &Tensor, b: &Tensor) -> Result<(Tensor, Tensor, Tensor)> {
    if !x.device().is_cpu() {
        bail!("the fused linear op runs on the CPU only")
    }
    Ok((x.contiguous()?, w.contiguous()?, b.contiguous()?))
}
