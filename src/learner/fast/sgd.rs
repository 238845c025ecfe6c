//! SGD with momentum for f32 CPU variables in one fused in-place pass per variable (PyTorch's
//! `torch.optim.SGD` update with `momentum` and L2 `weight_decay`, dampening 0, not Nesterov).

use candle_core::backprop::GradStore;
use candle_core::{Result, Var};
use candle_nn::Optimizer;
use rayon::prelude::*;

use super::fused_opt::{Slots, CHUNK};
use crate::learner::optim::ParamsSgd;

/// [`crate::learner::optim::Sgd`] for variables that live on the CPU as f32.
pub struct Sgd {
    /// Per variable: the momentum buffer.
    slots: Slots<1>,
    params: ParamsSgd,
    first: bool,
}

impl Optimizer for Sgd {
    type Config = ParamsSgd;

    fn new(vars: Vec<Var>, params: ParamsSgd) -> Result<Self> {
        Ok(Self {
            slots: Slots::new(vars, "SGD")?,
            params,
            first: true,
        })
    }

    fn step(&mut self, grads: &GradStore) -> Result<()> {
        let p = &self.params;
        let (lr, mu, wd, first) = (
            p.lr as f32,
            p.momentum as f32,
            p.weight_decay as f32,
            self.first,
        );
        self.slots.step("sgd-update", grads, |theta, grad, [buf]| {
            theta
                .par_chunks_mut(CHUNK)
                .zip(grad.par_chunks(CHUNK))
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
        })?;
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
