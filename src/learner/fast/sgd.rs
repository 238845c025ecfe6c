//! SGD with momentum for f32 CPU variables in one fused in-place pass per variable (PyTorch's
//! `torch.optim.SGD` update with `momentum` and L2 `weight_decay`, dampening 0, not Nesterov).

use std::cell::RefCell;

use candle_core::backprop::GradStore;
use candle_core::{bail, CpuStorage, InplaceOp1, Layout, Result, Var};
use candle_nn::Optimizer;
use rayon::prelude::*;

use super::storage_f32;
use crate::learner::optim::ParamsSgd;

/// Values per parallel work unit of the update.
const CHUNK: usize = 32 * 1024;

struct Slot {
    var: Var,
    buf: Vec<f32>,
}

/// [`crate::learner::optim::Sgd`] for variables that live on the CPU as f32.
pub struct Sgd {
    slots: Vec<Slot>,
    params: ParamsSgd,
    first: bool,
}

struct Update<'a> {
    grad: &'a [f32],
    buf: RefCell<&'a mut [f32]>,
    lr: f32,
    momentum: f32,
    decay: f32,
    first: bool,
}

impl InplaceOp1 for Update<'_> {
    fn name(&self) -> &'static str {
        "sgd-update"
    }

    fn cpu_fwd(&self, storage: &mut CpuStorage, layout: &Layout) -> Result<()> {
        let CpuStorage::F32(all) = storage else {
            bail!("sgd: variables must be f32")
        };
        let Some((start, end)) = layout.contiguous_offsets() else {
            bail!("sgd: variables must be contiguous")
        };
        let theta = &mut all[start..end];
        let mut buf = self.buf.borrow_mut();
        if theta.len() != self.grad.len() || buf.len() != theta.len() {
            bail!("sgd: gradient or state size differs from the variable's")
        }
        let (lr, mu, wd, first) = (self.lr, self.momentum, self.decay, self.first);
        theta
            .par_chunks_mut(CHUNK)
            .zip(self.grad.par_chunks(CHUNK))
            .zip(buf.par_chunks_mut(CHUNK))
            .for_each(|((t, g), b)| {
                super::simd::vectorized(|| {
                    for ((t, &g), b) in t.iter_mut().zip(g).zip(b) {
                        let d = g + wd * *t;
                        *b = if first { d } else { *b * mu + d };
                        *t -= lr * *b;
                    }
                })
            });
        Ok(())
    }
}

impl Optimizer for Sgd {
    type Config = ParamsSgd;

    fn new(vars: Vec<Var>, params: ParamsSgd) -> Result<Self> {
        let mut slots = Vec::with_capacity(vars.len());
        for var in vars {
            if !var.device().is_cpu() || var.dtype() != candle_core::DType::F32 {
                bail!("the fused SGD takes f32 CPU variables only")
            }
            let n = var.elem_count();
            slots.push(Slot {
                var,
                buf: vec![0.0; n],
            });
        }
        Ok(Self {
            slots,
            params,
            first: true,
        })
    }

    fn step(&mut self, grads: &GradStore) -> Result<()> {
        let p = &self.params;
        for slot in &mut self.slots {
            let Some(g) = grads.get(&slot.var) else {
                continue;
            };
            let g = g.contiguous()?;
            let (gs, gl) = g.storage_and_layout();
            let update = Update {
                grad: storage_f32(&gs, gl, "sgd", "gradient")?,
                buf: RefCell::new(&mut slot.buf),
                lr: p.lr as f32,
                momentum: p.momentum as f32,
                decay: p.weight_decay as f32,
                first: self.first,
            };
            slot.var.inplace_op1(&update)?;
        }
        self.first = false;
        Ok(())
    }

    fn learning_rate(&self) -> f64 {
        self.params.lr
    }

    fn set_learning_rate(&mut self, lr: f64) {
        self.params.lr = lr
    }
}
