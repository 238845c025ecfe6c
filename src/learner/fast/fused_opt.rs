//! What the fused optimizers share: variables checked to be f32 on the CPU, `K` state vectors per
//! variable, and a step that runs an element-wise update in place on each variable that has a
//! gradient (one pass, no temporary tensors). [`super::AdamW`] keeps two state vectors (the
//! moments), [`super::Sgd`] one (the momentum buffer).

use std::cell::RefCell;

use candle_core::backprop::GradStore;
use candle_core::{bail, CpuStorage, InplaceOp1, Layout, Result, Var};

use super::storage_f32;

/// Values per parallel work unit of an update.
pub(super) const CHUNK: usize = 32 * 1024;

/// The variables of a fused optimizer, each with `K` state vectors of its size (zeros at first).
pub(super) struct Slots<const K: usize> {
    slots: Vec<(Var, [Vec<f32>; K])>,
}

impl<const K: usize> Slots<K> {
    /// `who` names the optimizer in the error for a variable that is not f32 on the CPU.
    pub(super) fn new(vars: Vec<Var>, who: &str) -> Result<Self> {
        let mut slots = Vec::with_capacity(vars.len());
        for var in vars {
            if !var.device().is_cpu() || var.dtype() != candle_core::DType::F32 {
                bail!("the fused {who} takes f32 CPU variables only")
            }
            let n = var.elem_count();
            slots.push((var, std::array::from_fn(|_| vec![0.0; n])));
        }
        Ok(Self { slots })
    }

    /// `update(theta, grad, state)` in place on every variable that has a gradient; `op`
    /// names the update in errors.
    pub(super) fn step(
        &mut self,
        op: &'static str,
        grads: &GradStore,
        update: impl Fn(&mut [f32], &[f32], &mut [Vec<f32>; K]),
    ) -> Result<()> {
        for (var, state) in &mut self.slots {
            let Some(g) = grads.get(var) else {
                continue;
            };
            let g = g.contiguous()?;
            let (gs, gl) = g.storage_and_layout();
            let grad = storage_f32(&gs, gl, op, "gradient")?;
            let apply = InPlace {
                op,
                grad,
                state: RefCell::new(state),
                update: &update,
            };
            var.inplace_op1(&apply)?;
        }
        Ok(())
    }
}

/// One variable's in-place update, run by candle under the variable's lock.
struct InPlace<'a, const K: usize, F> {
    op: &'static str,
    grad: &'a [f32],
    state: RefCell<&'a mut [Vec<f32>; K]>,
    update: &'a F,
}

impl<const K: usize, F: Fn(&mut [f32], &[f32], &mut [Vec<f32>; K])> InplaceOp1
    for InPlace<'_, K, F>
{
    fn name(&self) -> &'static str {
        self.op
    }

    fn cpu_fwd(&self, storage: &mut CpuStorage, layout: &Layout) -> Result<()> {
        let op = self.op;
        let CpuStorage::F32(all) = storage else {
            bail!("{op}: variables must be f32")
        };
        let Some((start, end)) = layout.contiguous_offsets() else {
            bail!("{op}: variables must be contiguous")
        };
        let theta = &mut all[start..end];
        let mut state = self.state.borrow_mut();
        if theta.len() != self.grad.len() || state.iter().any(|s| s.len() != theta.len()) {
            bail!("{op}: gradient or state size differs from the variable's")
        }
        (self.update)(theta, self.grad, &mut state);
        Ok(())
    }
}
