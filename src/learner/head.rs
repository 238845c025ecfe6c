//! Learners on frozen embeddings: a linear or MLP (one hidden layer, ReLU) head trained with
//! AdamW (or SGD) on standardised feature vectors. The `Learner` methods get a `&Dataset`; the
//! head finds that dataset's feature matrix in its [`Features`], keyed by a fingerprint of the
//! dataset ([`DatasetKey`]: name, source, length, first and last id).

use std::collections::HashMap;
use std::sync::Arc;

use candle_core::{Device, Module, Tensor, Var};
use candle_nn::{AdamW, Linear, Optimizer, ParamsAdamW, VarMap};
use serde::{Deserialize, Serialize};

use super::classifier::{push_features, push_scores, transition_tensor, Supervision};
use super::fast;
use super::feature_values::FeatureValues;
use super::init::ParamFactory;
use super::optim::{ParamsSgd, Sgd};
use super::schedule;
use super::{LearnerConfig, LrSchedule, OptimizerKind};
use crate::data::Dataset;
use crate::error::{Error, Result};
use crate::itlm::{self, Learner, Scores, TickFn};

/// The head trained on embeddings.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum HeadKind {
    #[default]
    Linear,
    Mlp,
}

crate::choice!(HeadKind, "head", {
    Linear => "linear", "Logistic regression on the standardised embeddings (fast: an ITLM round on 20k embeddings takes a fraction of a second)";
    Mlp => "mlp", "One hidden layer (256, ReLU) on the standardised embeddings";
});

/// Width of the MLP head's hidden layer.
pub const MLP_HIDDEN: usize = 256;

/// An n x dim f32 matrix of embeddings, one row per sample in dataset order. Its values are
/// in memory or read in place from a mapped cache file ([`FeatureValues`]); cloning shares them.
#[derive(Clone, Debug, PartialEq)]
pub struct FeatureMatrix {
    pub rows: usize,
    pub dim: usize,
    pub values: FeatureValues,
}

impl FeatureMatrix {
    /// Checks the size and that every value is finite.
    pub fn new(rows: usize, dim: usize, values: impl Into<FeatureValues>) -> Result<Self> {
        let values = values.into();
        if dim == 0 {
            return Err(Error::Config(
                "embeddings must have at least one column".into(),
            ));
        }
        if Some(values.len()) != rows.checked_mul(dim) {
            return Err(Error::Config(format!(
                "{} embedding values for {rows} rows of {dim}",
                values.len()
            )));
        }
        if let Some(p) = values.iter().position(|v| !v.is_finite()) {
            return Err(Error::Config(format!(
                "embedding row {}, column {} is not a finite number ({})",
                p / dim,
                p % dim,
                values[p]
            )));
        }
        Ok(Self { rows, dim, values })
    }

    pub fn row(&self, i: usize) -> &[f32] {
        &self.values[i * self.dim..(i + 1) * self.dim]
    }
}

/// What identifies a dataset to a head: its name, source, length, first and last id.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct DatasetKey {
    name: String,
    source: String,
    len: usize,
    first: String,
    last: String,
}

impl DatasetKey {
    pub fn of(d: &Dataset) -> Self {
        let n = d.len();
        Self {
            name: d.name.clone(),
            source: format!("{:?}", d.source),
            len: n,
            first: if n > 0 {
                d.id(0).to_string()
            } else {
                String::new()
            },
            last: if n > 0 {
                d.id(n - 1).to_string()
            } else {
                String::new()
            },
        }
    }
}

/// The embeddings of a training set and of its evaluation sets, as they came (in memory or
/// mapped from the cache: never copied), with the standardisation (mean and standard deviation
/// of the training matrix) applied to the rows of each batch as it is gathered.
#[derive(Clone, Debug)]
pub struct Features {
    dim: usize,
    mean: Vec<f32>,
    inv_std: Vec<f32>,
    sets: HashMap<DatasetKey, FeatureMatrix>,
}

impl Features {
    /// The features of `train` (its rows in dataset order), which fix the standardisation.
    pub fn new(train: &Dataset, m: FeatureMatrix) -> Result<Self> {
        if m.rows != train.len() {
            return Err(Error::Config(format!(
                "{} embedding rows for the {} samples of {}",
                m.rows,
                train.len(),
                train.name
            )));
        }
        let (d, n) = (m.dim, m.rows.max(1));
        let mut mean = vec![0f64; d];
        for r in m.values.chunks_exact(d) {
            for (a, &v) in mean.iter_mut().zip(r) {
                *a += v as f64;
            }
        }
        mean.iter_mut().for_each(|a| *a /= n as f64);
        let mut var = vec![0f64; d];
        for r in m.values.chunks_exact(d) {
            for ((a, &v), mu) in var.iter_mut().zip(r).zip(&mean) {
                let x = v as f64 - mu;
                *a += x * x;
            }
        }
        let inv_std = var
            .iter()
            .map(|v| {
                let s = (v / n as f64).sqrt();
                if s > 1e-6 {
                    (1.0 / s) as f32
                } else {
                    1.0
                }
            })
            .collect();
        let mut f = Self {
            dim: d,
            mean: mean.iter().map(|&v| v as f32).collect(),
            inv_std,
            sets: HashMap::new(),
        };
        f.add(train, m)?;
        Ok(f)
    }

    /// Adds the features of another set (a test set), standardised like the training set's.
    pub fn add(&mut self, data: &Dataset, m: FeatureMatrix) -> Result<()> {
        if m.rows != data.len() {
            return Err(Error::Config(format!(
                "{} embedding rows for the {} samples of {}",
                m.rows,
                data.len(),
                data.name
            )));
        }
        if m.dim != self.dim {
            return Err(Error::Config(format!(
                "embeddings of {} have {} columns, the training set's have {}",
                data.name, m.dim, self.dim
            )));
        }
        self.sets.insert(DatasetKey::of(data), m);
        Ok(())
    }

    pub fn dim(&self) -> usize {
        self.dim
    }

    /// The matrix of `data`, as it came.
    pub fn matrix(&self, data: &Dataset) -> Result<&FeatureMatrix> {
        self.sets.get(&DatasetKey::of(data)).ok_or_else(|| {
            Error::Model(format!(
                "the embedding head has no embeddings for {} ({} samples): \
                 embed that set before running the head on it",
                data.name,
                data.len()
            ))
        })
    }

    /// The rows `idx` of `m` (one of [`Features::matrix`]'s), standardised, appended to `out`.
    pub fn gather(&self, m: &FeatureMatrix, idx: &[usize], out: &mut Vec<f32>) {
        out.reserve(idx.len() * self.dim);
        for &i in idx {
            let row = m.row(i).iter().zip(&self.mean).zip(&self.inv_std);
            out.extend(row.map(|((v, mu), s)| (v - mu) * s));
        }
    }

    /// Every row of `data`'s matrix, standardised (a copy: for tests and small sets).
    pub fn standardised(&self, data: &Dataset) -> Result<Vec<f32>> {
        let m = self.matrix(data)?;
        let mut out = Vec::new();
        self.gather(m, &(0..m.rows).collect::<Vec<_>>(), &mut out);
        Ok(out)
    }
}

/// What training needs of an optimizer (as in the classifier).
trait Step: Send {
    fn backward_step(&mut self, loss: &Tensor) -> candle_core::Result<()>;
    fn set_learning_rate(&mut self, lr: f64);
}

impl<O: Optimizer + Send> Step for O {
    fn backward_step(&mut self, loss: &Tensor) -> candle_core::Result<()> {
        Optimizer::backward_step(self, loss)
    }

    fn set_learning_rate(&mut self, lr: f64) {
        Optimizer::set_learning_rate(self, lr)
    }
}

fn boxed<O: Optimizer + Send + 'static>(
    vars: Vec<Var>,
    params: O::Config,
) -> Result<Box<dyn Step>> {
    Ok(Box::new(O::new(vars, params)?))
}

/// One initialisation: the layers (weight out x in, bias) and the optimizer over them.
struct Model {
    layers: Vec<(Tensor, Tensor)>,
    /// The layers' variables (for weight averaging).
    vars: Vec<Var>,
    opt: Box<dyn Step>,
}

/// A linear or MLP head on embeddings as an ITLM learner.
pub struct Head {
    cfg: LearnerConfig,
    kind: HeadKind,
    features: Arc<Features>,
    classes: usize,
    device: Device,
    fast: bool,
    origin: String,
    model: Model,
    /// The matrix, targets and trusted samples the training loss reads.
    sup: Supervision,
}

impl Head {
    /// A head of `kind` on `features` for `classes` classes; `cfg` gives the batch sizes,
    /// optimizer, learning rate and weight decay (its `model` is ignored).
    pub fn new(
        cfg: LearnerConfig,
        kind: HeadKind,
        features: Arc<Features>,
        classes: usize,
        device: Device,
    ) -> Result<Self> {
        cfg.validate()?;
        if classes < 2 {
            return Err(Error::Config(format!(
                "a classifier head needs at least 2 classes, got {classes}"
            )));
        }
        let fast = device.is_cpu();
        let model = Self::model(&cfg, kind, features.dim(), classes, &device, fast, 0)?;
        Ok(Self {
            cfg,
            kind,
            features,
            classes,
            device,
            fast,
            origin: String::new(),
            model,
            sup: Supervision::default(),
        })
    }

    /// Where the embeddings came from, for [`Learner::describe`] (e.g. "efficientnet-lite0
    /// 224px").
    pub fn with_origin(mut self, origin: impl Into<String>) -> Self {
        self.origin = origin.into();
        self
    }

    fn model(
        cfg: &LearnerConfig,
        kind: HeadKind,
        dim: usize,
        classes: usize,
        device: &Device,
        fast: bool,
        seed: u64,
    ) -> Result<Model> {
        let varmap = VarMap::new();
        let mut p = ParamFactory::new(&varmap, device, seed);
        let mut layer = |name: &str, inp: usize, out: usize| -> Result<(Tensor, Tensor)> {
            let w = p.weight(&format!("{name}.weight"), &[out, inp], inp)?;
            let b = p.weight(&format!("{name}.bias"), &[out], inp)?;
            Ok((w, b))
        };
        let layers = match kind {
            HeadKind::Linear => vec![layer("fc", dim, classes)?],
            HeadKind::Mlp => vec![
                layer("f1", dim, MLP_HIDDEN)?,
                layer("f2", MLP_HIDDEN, classes)?,
            ],
        };
        let vars = varmap.all_vars();
        let adamw = ParamsAdamW {
            lr: cfg.lr,
            weight_decay: cfg.weight_decay,
            ..Default::default()
        };
        let sgd = ParamsSgd {
            lr: cfg.lr,
            weight_decay: cfg.weight_decay,
            ..Default::default()
        };
        let opt = match (cfg.optimizer, fast) {
            (OptimizerKind::Adamw, true) => boxed::<fast::AdamW>(vars.clone(), adamw)?,
            (OptimizerKind::Adamw, false) => boxed::<AdamW>(vars.clone(), adamw)?,
            (OptimizerKind::Sgd, true) => boxed::<fast::Sgd>(vars.clone(), sgd)?,
            (OptimizerKind::Sgd, false) => boxed::<Sgd>(vars.clone(), sgd)?,
        };
        Ok(Model { layers, vars, opt })
    }

    /// A new model and optimizer of this head's shape and settings, initialised from `seed`.
    fn fresh_model(&self, seed: u64) -> Result<Model> {
        Self::model(
            &self.cfg,
            self.kind,
            self.features.dim(),
            self.classes,
            &self.device,
            self.fast,
            seed,
        )
    }

    /// Number of trainable parameters.
    pub fn parameter_count(&self) -> usize {
        self.model
            .layers
            .iter()
            .map(|(w, b)| w.elem_count() + b.elem_count())
            .sum()
    }

    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        Ok(self.forward_parts(x)?.1)
    }

    /// What the last layer reads (the standardised embeddings for the linear head, the hidden
    /// layer for the MLP) and the logits.
    fn forward_parts(&self, x: &Tensor) -> Result<(Tensor, Tensor)> {
        let last = self.model.layers.len() - 1;
        let mut h = x.clone();
        for (i, (w, b)) in self.model.layers.iter().enumerate() {
            if i == last {
                let logits = if self.fast {
                    fast::linear(&h, w, b, false)?
                } else {
                    Linear::new(w.clone(), Some(b.clone())).forward(&h)?
                };
                return Ok((h, logits));
            }
            h = if self.fast {
                fast::linear(&h, w, b, true)?
            } else {
                Linear::new(w.clone(), Some(b.clone()))
                    .forward(&h)?
                    .relu()?
            };
        }
        Err(Error::Model("a head without layers".into()))
    }

    fn check_data(&self, data: &Dataset) -> Result<()> {
        if data.num_classes() != self.classes {
            return Err(Error::Config(format!(
                "head built for {} classes, {} has {}",
                self.classes,
                data.name,
                data.num_classes()
            )));
        }
        Ok(())
    }

    /// The rows of `idx` of `m`, standardised, as an N x dim tensor, and their given labels.
    fn batch(&self, m: &FeatureMatrix, data: &Dataset, idx: &[usize]) -> Result<(Tensor, Tensor)> {
        let d = self.features.dim();
        let mut x = Vec::with_capacity(idx.len() * d);
        self.features.gather(m, idx, &mut x);
        let y: Vec<u32> = idx.iter().map(|&i| data.label(i)).collect();
        Ok((
            Tensor::from_vec(x, (idx.len(), d), &self.device)?,
            Tensor::from_vec(y, idx.len(), &self.device)?,
        ))
    }
}

impl Learner for Head {
    fn describe(&self) -> String {
        let on = if self.origin.is_empty() {
            String::new()
        } else {
            format!(" on {}", self.origin)
        };
        let hidden = match self.kind {
            HeadKind::Linear => String::new(),
            HeadKind::Mlp => format!(", hidden {MLP_HIDDEN}"),
        };
        format!(
            "{} head{on} ({}-d embeddings{hidden}, {} parameters, {}, batch {}, lr {}{})",
            self.kind,
            self.features.dim(),
            self.parameter_count(),
            self.cfg.optimizer,
            self.cfg.batch_size,
            self.cfg.lr,
            match self.cfg.lr_schedule {
                LrSchedule::Constant => "",
                LrSchedule::Cosine => " cosine",
                LrSchedule::Swa => " swa",
            }
        )
    }

    /// A head trains on precomputed embeddings: a model anew takes moments.
    fn cheap_to_retrain(&self) -> bool {
        true
    }

    fn fork(&self) -> Result<Option<Box<dyn Learner>>> {
        Ok(Some(Box::new(Self {
            cfg: self.cfg.clone(),
            kind: self.kind,
            features: self.features.clone(),
            classes: self.classes,
            device: self.device.clone(),
            fast: self.fast,
            origin: self.origin.clone(),
            model: self.fresh_model(0)?,
            sup: Supervision::default(),
        })))
    }

    fn reset(&mut self, seed: u64) -> Result<()> {
        self.model = self.fresh_model(seed)?;
        Ok(())
    }

    fn train(
        &mut self,
        data: &Dataset,
        indices: &[usize],
        epochs: f64,
        seed: u64,
        tick: &mut TickFn<'_>,
    ) -> Result<f32> {
        self.check_data(data)?;
        let features = Arc::clone(&self.features);
        let m = features.matrix(data)?;
        let bs = self.cfg.batch_size;
        let total = schedule::total_batches(indices.len(), epochs, bs);
        let (lr, cosine) = (self.cfg.lr, self.cfg.lr_schedule == LrSchedule::Cosine);
        let mut average = (self.cfg.lr_schedule == LrSchedule::Swa).then(|| {
            schedule::WeightAverage::new(self.model.vars.clone(), indices.len(), epochs, bs)
        });
        let mut step = 0;
        let last = schedule::train_batches(indices, epochs, bs, seed, tick, |chunk, _| {
            let (x, y) = self.batch(m, data, chunk)?;
            let logits = self.forward(&x)?;
            let loss = self.sup.loss(&logits, y, data, self.classes, chunk)?;
            let opt = &mut self.model.opt;
            if cosine {
                opt.set_learning_rate(schedule::cosine_lr(lr, step, total));
            }
            step += 1;
            opt.backward_step(&loss)?;
            if let Some(a) = average.as_mut() {
                a.after_batch(step)?;
            }
            Ok(loss.to_scalar::<f32>()?)
        })?;
        if let Some(a) = average {
            a.finish()?;
        }
        Ok(last)
    }

    fn score(
        &mut self,
        data: &Dataset,
        indices: &[usize],
        tick: &mut TickFn<'_>,
    ) -> Result<Scores> {
        self.check_data(data)?;
        let features = Arc::clone(&self.features);
        let m = features.matrix(data)?;
        let mut out = Scores::with_capacity(indices.len(), self.classes);
        schedule::score_batches(indices, self.cfg.score_batch_size, tick, |chunk| {
            let (x, _) = self.batch(m, data, chunk)?;
            let logits = self.forward(&x)?.detach();
            push_scores(&mut out, &logits, data, chunk)
        })?;
        Ok(out)
    }

    fn set_transition(&mut self, t: Option<&[f32]>) -> Result<bool> {
        self.sup.transition = transition_tensor(t, self.classes, &self.device)?;
        Ok(true)
    }

    fn set_trusted(&mut self, trusted: Option<Vec<bool>>) -> Result<bool> {
        self.sup.trusted = trusted;
        Ok(true)
    }

    fn set_targets(&mut self, targets: Option<Vec<u32>>) -> Result<bool> {
        self.sup.targets = targets;
        Ok(true)
    }

    fn set_label_smoothing(&mut self, eps: f64) -> Result<bool> {
        self.sup.set_smoothing(eps)?;
        Ok(true)
    }

    fn feature_dim(&self) -> Option<usize> {
        // What the last layer reads: the embeddings (linear), the hidden layer (MLP).
        let l = &self.model.layers;
        Some(if l.len() >= 2 {
            l[l.len() - 2].1.elem_count()
        } else {
            self.features.dim()
        })
    }

    fn score_with_features(
        &mut self,
        data: &Dataset,
        indices: &[usize],
        tick: &mut TickFn<'_>,
    ) -> Result<(Scores, Option<itlm::Features>)> {
        self.check_data(data)?;
        let features = Arc::clone(&self.features);
        let m = features.matrix(data)?;
        let mut out = Scores::with_capacity(indices.len(), self.classes);
        let mut read = itlm::Features::default();
        schedule::score_batches(indices, self.cfg.score_batch_size, tick, |chunk| {
            let (x, _) = self.batch(m, data, chunk)?;
            let (f, logits) = self.forward_parts(&x)?;
            push_features(&mut read, &f.detach())?;
            push_scores(&mut out, &logits.detach(), data, chunk)
        })?;
        Ok((out, Some(read)))
    }

    fn features(
        &mut self,
        data: &Dataset,
        indices: &[usize],
        tick: &mut TickFn<'_>,
    ) -> Result<Option<itlm::Features>> {
        Ok(self.score_with_features(data, indices, tick)?.1)
    }
}

#[cfg(test)]
mod tests;
