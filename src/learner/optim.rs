//! SGD with momentum on any device (candle's own `SGD` has no momentum): PyTorch's
//! `torch.optim.SGD(momentum, weight_decay)` update, dampening 0, not Nesterov. The CPU path
//! uses the fused [`super::fast::Sgd`].

use candle_core::backprop::GradStore;
use candle_core::{Result, Tensor, Var};
use candle_nn::Optimizer;

#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ParamsSgd {
    pub lr: f64,
    pub momentum: f64,
    pub weight_decay: f64,
}

impl Default for ParamsSgd {
    fn default() -> Self {
        Self {
            lr: 0.01,
            momentum: 0.9,
            weight_decay: 0.0,
        }
    }
}

pub struct Sgd {
    slots: Vec<(Var, Option<Tensor>)>,
    params: ParamsSgd,
}

impl Optimizer for Sgd {
    type Config = ParamsSgd;

    fn new(vars: Vec<Var>, params: ParamsSgd) -> Result<Self> {
        Ok(Self {
            slots: vars.into_iter().map(|v| (v, None)).collect(),
            params,
        })
    }

    fn step(&mut self, grads: &GradStore) -> Result<()> {
        let p = self.params;
        for (var, buf) in &mut self.slots {
            let Some(g) = grads.get(var) else {
                continue;
            };
            let d = if p.weight_decay > 0.0 {
                (g + (var.as_tensor() * p.weight_decay)?)?
            } else {
                g.clone()
            };
            let b = match buf.take() {
                Some(b) => ((b * p.momentum)? + d)?,
                None => d,
            };
            var.set(&(var.as_tensor() - (&b * p.lr)?)?)?;
            *buf = Some(b.detach());
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
