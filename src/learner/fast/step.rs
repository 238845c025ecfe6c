//! A training step's backward pass through the fused ops without candle's graph walk.
//!
//! Candle's `backward` gives every node's gradient a zero-filled buffer and adds the
//! gradient into it, even where a node has one consumer (every node of the CNN): at 28x28x1
//! that is about 25 MB of memory traffic a batch of 128, a tenth of a training step (`perf`,
//! README "Performance"). A net made of these ops in a chain keeps each op with its arguments
//! ([`Layer`]) and calls the ops' own backward passes in reverse order, each gradient written
//! once. The values are the same: a gradient added into zeros is that gradient.

use std::sync::Arc;

use candle_core::backprop::GradStore;
use candle_core::{bail, CustomOp3, Result, Tensor};

use super::conv::{conv_args, Conv3x3ReluPool};
use super::linear::{linear_args, Linear};

/// One fused op of a forward pass, with what its backward pass reads.
pub struct Layer {
    op: Arc<Box<dyn CustomOp3 + Send + Sync>>,
    x: Tensor,
    w: Tensor,
    b: Tensor,
    y: Tensor,
    /// The weight and bias as the caller gave them: their gradients' keys (the op's own
    /// contiguous copies are the same tensors only where the caller's were contiguous).
    params: [Tensor; 2],
}

impl Layer {
    fn apply(
        op: Box<dyn CustomOp3 + Send + Sync>,
        (x, w, b): (Tensor, Tensor, Tensor),
        params: [&Tensor; 2],
    ) -> Result<Self> {
        let op = Arc::new(op);
        let y = x.apply_op3_arc(&w, &b, op.clone())?;
        let params = params.map(Tensor::clone);
        Ok(Self {
            op,
            x,
            w,
            b,
            y,
            params,
        })
    }

    /// [`super::conv3x3_relu_pool`], kept for [`Layer::backward`].
    pub fn conv3x3_relu_pool(x: &Tensor, w: &Tensor, b: &Tensor) -> Result<Self> {
        let args = conv_args(x, w, b)?;
        let op = Conv3x3ReluPool::new(args.0.track_op());
        Self::apply(Box::new(op), args, [w, b])
    }

    /// [`super::linear`], kept for [`Layer::backward`].
    pub fn linear(x: &Tensor, w: &Tensor, b: &Tensor, relu: bool) -> Result<Self> {
        let args = linear_args(x, w, b)?;
        Self::apply(Box::new(Linear { relu }), args, [w, b])
    }

    /// The op's output.
    pub fn output(&self) -> &Tensor {
        &self.y
    }

    /// The op's backward pass for the output gradient `dy`: the weight's and the bias's
    /// gradients go into `grads` (under the tensors the caller gave), the input's gradient
    /// comes back (None where the op computes none: a first layer, an untracked input).
    pub fn backward(&self, dy: &Tensor, grads: &mut GradStore) -> Result<Option<Tensor>> {
        let (dx, dw, db) = self.op.bwd(&self.x, &self.w, &self.b, &self.y, dy)?;
        for (t, g) in self.params.iter().zip([dw, db]) {
            if let Some(g) = g {
                if grads.insert(t, g).is_some() {
                    bail!("{}: a parameter used twice in one step", self.op.name())
                }
            }
        }
        Ok(dx)
    }
}
