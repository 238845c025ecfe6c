//! 2x2 max-pool, stride 2, on NHWC f32 tensors (odd sizes floored, like PyTorch) as a candle
//! custom op; the backward pass sends each window's gradient to its first maximum.

use candle_core::{bail, CpuStorage, CustomOp1, Layout, Result, Shape, Tensor};
use rayon::prelude::*;

use super::{cpu_f32, cpu_tensor, dims, storage_f32, uninit_vec};

/// The maximum of a 2x2 window given in row-major order and the index of its first occurrence;
/// NaN wins (so it propagates), the first NaN if there are several.
#[inline]
pub(super) fn max4(a: f32, b: f32, c: f32, d: f32) -> (f32, u8) {
    let (mut m, mut i) = (a, 0u8);
    for (v, j) in [(b, 1u8), (c, 2), (d, 3)] {
        if v > m || (v.is_nan() && !m.is_nan()) {
            m = v;
            i = j;
        }
    }
    (m, i)
}

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
                .for_each(|(out, img)| {
                    for (py, o) in out.chunks_exact_mut(pw * c).enumerate() {
                        let top = &img[2 * py * row..(2 * py + 1) * row];
                        let bottom = &img[(2 * py + 1) * row..(2 * py + 2) * row];
                        for px in 0..pw {
                            for j in 0..c {
                                let (a, b) = (2 * px * c + j, (2 * px + 1) * c + j);
                                o[px * c + j] = max4(top[a], top[b], bottom[a], bottom[b]).0;
                            }
                        }
                    }
                });
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
        let mut dx = vec![0.0f32; g.n * g.in_image()];
        let (pw, c) = (g.w / 2, g.c);
        let row = g.w * c;
        if g.out_image() > 0 {
            dx.par_chunks_mut(g.in_image())
                .zip(xv.par_chunks(g.in_image()))
                .zip(dyv.par_chunks(g.out_image()))
                .for_each(|((dimg, img), dout)| {
                    for (py, d) in dout.chunks_exact(pw * c).enumerate() {
                        let top = &img[2 * py * row..(2 * py + 1) * row];
                        let bottom = &img[(2 * py + 1) * row..(2 * py + 2) * row];
                        let (dtop, dbottom) =
                            dimg[2 * py * row..(2 * py + 2) * row].split_at_mut(row);
                        for px in 0..pw {
                            for j in 0..c {
                                let (a, b) = (2 * px * c + j, (2 * px + 1) * c + j);
                                let (_, i) = max4(top[a], top[b], bottom[a], bottom[b]);
                                let gy = d[px * c + j];
                                match i {
                                    0 => dtop[a] = gy,
                                    1 => dtop[b] = gy,
                                    2 => dbottom[a] = gy,
                                    _ => dbottom[b] = gy,
                                }
                            }
                        }
                    }
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
