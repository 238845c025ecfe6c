//! Seeded parameter creation: every variable lives in a fresh VarMap and is initialised from
//! this project's seeded generator (PyTorch's default: U(-1/sqrt(fan_in), 1/sqrt(fan_in))), so
//! a run is reproducible from its seed.

use candle_core::{DType, Device, Tensor};
use candle_nn::{Init, VarMap};

use crate::error::Result;
use crate::rng::Rng;

/// Creates named, seeded variables in one VarMap.
pub struct ParamFactory<'a> {
    pub varmap: &'a VarMap,
    pub device: &'a Device,
    seed: u64,
    counter: u64,
}

impl<'a> ParamFactory<'a> {
    pub fn new(varmap: &'a VarMap, device: &'a Device, seed: u64) -> Self {
        Self {
            varmap,
            device,
            seed,
            counter: 0,
        }
    }

    /// A variable of `shape` drawn from U(-bound, bound).
    pub fn uniform(&mut self, name: &str, shape: &[usize], bound: f32) -> Result<Tensor> {
        let values = self.draw_uniform(shape.iter().product(), bound);
        self.with_values(name, shape, values)
    }

    /// The next variable's `n` values from U(-bound, bound).
    fn draw_uniform(&mut self, n: usize, bound: f32) -> Vec<f32> {
        self.counter += 1;
        let mut rng = Rng::derive(self.seed, self.counter);
        (0..n)
            .map(|_| (rng.next_f32() * 2.0 - 1.0) * bound)
            .collect()
    }

    /// A variable of `shape` drawn from N(0, std^2).
    pub fn normal(&mut self, name: &str, shape: &[usize], std: f32) -> Result<Tensor> {
        self.counter += 1;
        let mut rng = Rng::derive(self.seed, self.counter);
        let n: usize = shape.iter().product();
        let values: Vec<f32> = (0..n).map(|_| rng.normal() * std).collect();
        self.with_values(name, shape, values)
    }

    /// Weight with PyTorch's default bound 1/sqrt(fan_in).
    pub fn weight(&mut self, name: &str, shape: &[usize], fan_in: usize) -> Result<Tensor> {
        self.uniform(name, shape, 1.0 / (fan_in.max(1) as f32).sqrt())
    }

    /// A weight drawn exactly like `weight(name, drawn_shape, fan_in)` (same values from the
    /// same stream), then rearranged by `arrange` into the variable actually stored (e.g. a
    /// conv kernel in another layout), so that both layouts give the same network for a seed.
    pub fn weight_arranged(
        &mut self,
        name: &str,
        drawn_shape: &[usize],
        fan_in: usize,
        arrange: impl FnOnce(Tensor) -> Result<Tensor>,
    ) -> Result<Tensor> {
        let bound = 1.0 / (fan_in.max(1) as f32).sqrt();
        let values = self.draw_uniform(drawn_shape.iter().product(), bound);
        let v = arrange(Tensor::from_vec(values, drawn_shape, self.device)?)?;
        self.with_tensor(name, v)
    }

    fn with_values(&mut self, name: &str, shape: &[usize], values: Vec<f32>) -> Result<Tensor> {
        let v = Tensor::from_vec(values, shape, self.device)?;
        self.with_tensor(name, v)
    }

    fn with_tensor(&mut self, name: &str, v: Tensor) -> Result<Tensor> {
        let t = self
            .varmap
            .get(v.dims(), name, Init::Const(0.0), DType::F32, self.device)?;
        let vars = self
            .varmap
            .data()
            .lock()
            .map_err(|_| crate::Error::Model("parameter store poisoned".into()))?;
        match vars.get(name) {
            Some(var) => var.set(&v)?,
            None => return Err(crate::Error::Model(format!("parameter {name} missing"))),
        }
        Ok(t)
    }
}
