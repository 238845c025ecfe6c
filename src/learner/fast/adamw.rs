//! AdamW for f32 CPU variables in one fused in-place pass per variable: the same update as
//! `candle_nn::AdamW`, without its dozen temporary tensors per variable and step.

use candle_core::backprop::GradStore;
use candle_core::{Result, Var};
use candle_nn::{Optimizer, ParamsAdamW};
use rayon::prelude::*;

use super::fused_opt::{Slots, CHUNK};

/// `candle_nn::AdamW` for variables that live on the CPU as f32.
pub struct AdamW {
    /// Per variable: the first and second moment estimates.
    slots: Slots<2>,
    step_t: usize,
    params: ParamsAdamW,
}

/// The scalars of one step.
#[derive(Clone, Copy)]
struct Coefs {
    b1: f32,
    b2: f32,
    scale_m: f32,
    scale_v: f32,
    decay: f32,
    lr: f32,
    eps: f32,
}

impl Optimizer for AdamW {
    type Config = ParamsAdamW;

    fn new(vars: Vec<Var>, params: ParamsAdamW) -> Result<Self> {
        Ok(Self {
            slots: Slots::new(vars, "AdamW")?,
            step_t: 0,
            params,
        })
    }

    fn step(&mut self, grads: &GradStore) -> Result<()> {
        self.step_t += 1;
        let p = &self.params;
        let t = self.step_t as i32;
        let c = Coefs {
            b1: p.beta1 as f32,
            b2: p.beta2 as f32,
            scale_m: (1.0 / (1.0 - p.beta1.powi(t))) as f32,
            scale_v: (1.0 / (1.0 - p.beta2.powi(t))) as f32,
            decay: (1.0 - p.lr * p.weight_decay) as f32,
            lr: p.lr as f32,
            eps: p.eps as f32,
        };
        self.slots
            .step("adamw-update", grads, |theta, grad, [m, v]| {
                theta
                    .par_chunks_mut(CHUNK)
                    .zip(grad.par_chunks(CHUNK))
                    .zip(m.par_chunks_mut(CHUNK))
                    .zip(v.par_chunks_mut(CHUNK))
                    .for_each(|(((t, g), m), v)| {
                        super::simd::vectorized(|| {
                            for (((t, &g), m), v) in t.iter_mut().zip(g).zip(m).zip(v) {
                                *m = *m * c.b1 + g * (1.0 - c.b1);
                                *v = *v * c.b2 + g * g * (1.0 - c.b2);
                                let m_hat = *m * c.scale_m;
                                let v_hat = *v * c.scale_v;
                                *t = *t * c.decay - c.lr * (m_hat / (v_hat.sqrt() + c.eps));
                            }
                        })
                    });
            })
    }

    fn learning_rate(&self) -> f64 {
        self.params.lr
    }

    fn set_learning_rate(&mut self, lr: f64) {
        self.params.lr = lr
    }
}
