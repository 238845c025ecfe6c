//! AdamW for f32 CPU variables in one fused in-place pass per variable: the same update as
//! `candle_nn::AdamW`, without its dozen temporary tensors per variable and step.

use std::cell::RefCell;

use candle_core::backprop::GradStore;
use candle_core::{bail, CpuStorage, InplaceOp1, Layout, Result, Var};
use candle_nn::{Optimizer, ParamsAdamW};
use rayon::prelude::*;

use super::storage_f32;

/// Values per parallel work unit of the update.
const CHUNK: usize = 32 * 1024;

/// One variable and its moment estimates.
struct Slot {
    var: Var,
    m: Vec<f32>,
    v: Vec<f32>,
}

/// `candle_nn::AdamW` for variables that live on the CPU as f32.
pub struct AdamW {
    slots: Vec<Slot>,
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

/// The in-place update of one variable given its gradient.
struct Update<'a> {
    grad: &'a [f32],
    m: RefCell<&'a mut [f32]>,
    v: RefCell<&'a mut [f32]>,
    c: Coefs,
}

impl InplaceOp1 for Update<'_> {
    fn name(&self) -> &'static str {
        "adamw-update"
    }

    fn cpu_fwd(&self, storage: &mut CpuStorage, layout: &Layout) -> Result<()> {
        let CpuStorage::F32(all) = storage else {
            bail!("adamw: variables must be f32")
        };
        let Some((start, end)) = layout.contiguous_offsets() else {
            bail!("adamw: variables must be contiguous")
        };
        let theta = &mut all[start..end];
        let (mut m, mut v) = (self.m.borrow_mut(), self.v.borrow_mut());
        if theta.len() != self.grad.len() || m.len() != theta.len() || v.len() != theta.len() {
            bail!("adamw: gradient or state size differs from the variable's")
        }
        let c = self.c;
        theta
            .par_chunks_mut(CHUNK)
            .zip(self.grad.par_chunks(CHUNK))
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
        Ok(())
    }
}

impl Optimizer for AdamW {
    type Config = ParamsAdamW;

    fn new(vars: Vec<Var>, params: ParamsAdamW) -> Result<Self> {
        let mut slots = Vec::with_capacity(vars.len());
        for var in vars {
            if !var.device().is_cpu() || var.dtype() != candle_core::DType::F32 {
                bail!("the fused AdamW takes f32 CPU variables only")
            }
            let n = var.elem_count();
            slots.push(Slot {
                var,
                m: vec![0.0; n],
                v: vec![0.0; n],
            });
        }
        Ok(Self {
            slots,
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
        for slot in &mut self.slots {
            let Some(g) = grads.get(&slot.var) else {
                continue;
            };
            let g = g.contiguous()?;
            let (gs, gl) = g.storage_and_layout();
            let update = Update {
                grad: storage_f32(&gs, gl, "adamw", "gradient")?,
                m: RefCell::new(&mut slot.m),
                v: RefCell::new(&mut slot.v),
                c,
            };
            slot.var.inplace_op1(&update)?;
        }
        Ok(())
    }

    fn learning_rate(&self) -> f64 {
        self.params.lr
    }

    fn set_learning_rate(&mut self, lr: f64) {
        self.params.lr = lr
    }
}
