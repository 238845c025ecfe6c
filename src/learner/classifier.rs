//! A candle classifier (CNN or MLP) as an ITLM learner: AdamW or SGD (constant or cosine
//! learning rate), seeded batches, per-sample cross-entropy without reduction,
//! re-initialisation by a fresh model, cancellable per batch.

use candle_core::backprop::GradStore;
use candle_core::{Device, Tensor, Var, D};
use candle_nn::{AdamW, Optimizer, ParamsAdamW, VarMap};

use super::fast;

use super::batch::{batch, batch_augmented, with_targets};
use super::init::ParamFactory;
use super::nets::{Cnn, FastCnn, Mlp, Net};
use super::optim::{ParamsSgd, Sgd};
use super::schedule;
use super::{LearnerConfig, LrSchedule, ModelKind, OptimizerKind};
use crate::data::{Dataset, ImageShape};
use crate::error::{Error, Result};
use crate::itlm::{Augment, Features, Learner, Scores, TickFn};

/// Per-sample cross-entropy: -log softmax(logits)[y], one value per row, no reduction.
pub fn per_sample_cross_entropy(logits: &Tensor, y: &Tensor) -> Result<Tensor> {
    let lsm = candle_nn::ops::log_softmax(logits, D::Minus1)?;
    Ok(lsm.gather(&y.unsqueeze(1)?, 1)?.squeeze(1)?.neg()?)
}

/// Per-sample cross-entropy with label smoothing `eps` in (0, 1): `(1 - eps)` times the
/// cross-entropy against `y` plus `eps` times the mean over the classes of -log softmax, i.e.
/// the cross-entropy against a target of `1 - eps + eps / K` on `y` and `eps / K` elsewhere.
pub fn per_sample_smoothed_cross_entropy(logits: &Tensor, y: &Tensor, eps: f64) -> Result<Tensor> {
    let lsm = candle_nn::ops::log_softmax(logits, D::Minus1)?;
    let given = lsm.gather(&y.unsqueeze(1)?, 1)?.squeeze(1)?;
    let spread = lsm.mean(D::Minus1)?;
    Ok(((given * (eps - 1.0))? - (spread * eps)?)?)
}

/// Plain cross-entropy for training: smoothed when `eps` > 0, else exactly
/// [`per_sample_cross_entropy`].
fn plain_training_loss(logits: &Tensor, y: &Tensor, eps: f64) -> Result<Tensor> {
    if eps > 0.0 {
        per_sample_smoothed_cross_entropy(logits, y, eps)
    } else {
        per_sample_cross_entropy(logits, y)
    }
}

/// The forward-corrected per-sample loss (see [`crate::itlm::transition`]):
/// -log (softmax(logits) · t)[y], `t` classes x classes (rows true classes).
pub fn per_sample_forward_loss(logits: &Tensor, y: &Tensor, t: &Tensor) -> Result<Tensor> {
    let p = candle_nn::ops::softmax(logits, D::Minus1)?;
    let q = p.matmul(t)?;
    Ok(q.gather(&y.unsqueeze(1)?, 1)?
        .squeeze(1)?
        .affine(1.0, 1e-12)?
        .log()?
        .neg()?)
}

/// The mean training loss of a batch: cross-entropy (smoothed by `eps`), forward-corrected
/// when a transition matrix is set.
fn batch_loss(logits: &Tensor, y: &Tensor, t: Option<&Tensor>, eps: f64) -> Result<Tensor> {
    Ok(match t {
        None => plain_training_loss(logits, y, eps)?,
        Some(t) => per_sample_forward_loss(logits, y, t)?,
    }
    .mean_all()?)
}

/// What a classifier's training loss reads besides the batch, the same for a model from
/// scratch and a head on embeddings: the label-noise transition matrix
/// ([`Learner::set_transition`]), the classes learnt in place of the given labels
/// ([`Learner::set_targets`]) and the samples trained plainly under the matrix
/// ([`Learner::set_trusted`]), and the label smoothing of plain cross-entropy
/// ([`Learner::set_label_smoothing`]).
#[derive(Default)]
pub(super) struct Supervision {
    pub transition: Option<Tensor>,
    pub targets: Option<Vec<u32>>,
    pub trusted: Option<Vec<bool>>,
    pub smoothing: f64,
}

impl Supervision {
    /// The mean training loss of the batch `chunk` (sample indices of `data`, `y` their given
    /// labels): against the targets where set, through the matrix where set
    /// ([`training_loss`]).
    pub fn loss(
        &self,
        logits: &Tensor,
        y: Tensor,
        data: &Dataset,
        classes: usize,
        chunk: &[usize],
    ) -> Result<Tensor> {
        let y = with_targets(y, self.targets.as_deref(), data, classes, chunk)?;
        training_loss(
            logits,
            &y,
            self.transition.as_ref(),
            self.trusted.as_deref(),
            chunk,
            self.smoothing,
        )
    }

    /// Sets the label smoothing, checked to be in [0, 1).
    pub fn set_smoothing(&mut self, eps: f64) -> Result<()> {
        if !crate::itlm::CoTeach::smoothing_in_range(eps) {
            return Err(Error::Config(format!(
                "label smoothing must be in [0, 1), got {eps}"
            )));
        }
        self.smoothing = eps;
        Ok(())
    }
}

/// The mean training loss of the batch `chunk` (sample indices): [`batch_loss`], except that
/// under a transition matrix the samples flagged in `trusted` ([`Learner::set_trusted`]: the
/// user vouched for their labels) take plain cross-entropy, the rest the forward-corrected
/// loss; plain cross-entropy smoothed by `eps`.
fn training_loss(
    logits: &Tensor,
    y: &Tensor,
    t: Option<&Tensor>,
    trusted: Option<&[bool]>,
    chunk: &[usize],
    eps: f64,
) -> Result<Tensor> {
    let is_trusted = |i: usize| trusted.is_some_and(|tr| tr.get(i) == Some(&true));
    let Some(t) = t.filter(|_| chunk.iter().any(|&i| is_trusted(i))) else {
        return batch_loss(logits, y, t, eps);
    };
    let mask: Vec<u8> = chunk.iter().map(|&i| u8::from(is_trusted(i))).collect();
    let mask = Tensor::from_vec(mask, chunk.len(), logits.device())?;
    let plain = plain_training_loss(logits, y, eps)?;
    let forward = per_sample_forward_loss(logits, y, t)?;
    Ok(mask.where_cond(&plain, &forward)?.mean_all()?)
}

/// A label-noise transition matrix as a tensor, checked against the class count.
pub(super) fn transition_tensor(
    t: Option<&[f32]>,
    classes: usize,
    device: &Device,
) -> Result<Option<Tensor>> {
    let Some(t) = t else { return Ok(None) };
    if t.len() != classes * classes {
        return Err(Error::Config(format!(
            "a transition matrix of {} values for {classes} classes",
            t.len()
        )));
    }
    Ok(Some(Tensor::from_slice(t, (classes, classes), device)?))
}

/// Which implementation a classifier uses: for the CNN, and for the optimizer of any model.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum CnnImpl {
    /// `Fast` on the CPU, `Stock` elsewhere.
    #[default]
    Auto,
    /// [`Cnn`] and `candle_nn::AdamW`: candle's stock operations (any device; the reference).
    Stock,
    /// [`FastCnn`] and [`fast::AdamW`]: the fused CPU kernels (CPU only).
    Fast,
}

/// What training needs of an optimizer, whichever the [`CnnImpl`] and [`OptimizerKind`] chose.
trait Step: Send {
    fn backward_step(&mut self, loss: &Tensor) -> candle_core::Result<()>;
    fn step(&mut self, grads: &GradStore) -> candle_core::Result<()>;
    fn set_learning_rate(&mut self, lr: f64);
}

impl<O: Optimizer + Send> Step for O {
    fn backward_step(&mut self, loss: &Tensor) -> candle_core::Result<()> {
        Optimizer::backward_step(self, loss)
    }

    fn step(&mut self, grads: &GradStore) -> candle_core::Result<()> {
        Optimizer::step(self, grads)
    }

    fn set_learning_rate(&mut self, lr: f64) {
        Optimizer::set_learning_rate(self, lr)
    }
}

/// A fresh optimizer of type `O` over `vars`.
/// Append one batch's features (N x width) to `out`.
pub(super) fn push_features(out: &mut Features, f: &Tensor) -> Result<()> {
    out.dim = f.dim(1)?;
    out.values.extend(f.flatten_all()?.to_vec1::<f32>()?);
    Ok(())
}

/// Append one batch's scores (`logits`: one row per sample of `chunk`, against the given
/// labels of `data`) to `out`.
pub(super) fn push_scores(
    out: &mut Scores,
    logits: &Tensor,
    data: &Dataset,
    chunk: &[usize],
) -> Result<()> {
    let k = logits.dim(1)?;
    let lsm = candle_nn::ops::log_softmax(logits, D::Minus1)?;
    let lp: Vec<f32> = lsm.flatten_all()?.to_vec1()?;
    for (r, &i) in chunk.iter().enumerate() {
        let row = &lp[r * k..(r + 1) * k];
        let g = data.label(i) as usize;
        let mut best = 0;
        for c in 1..k {
            if row[c] > row[best] {
                best = c;
            }
        }
        out.loss.push(-row[g]);
        out.p_given.push(row[g].exp());
        out.predicted.push(best as u32);
        out.probs.extend(row.iter().map(|v| v.exp()));
    }
    Ok(())
}

fn boxed<O: Optimizer + Send + 'static>(
    vars: Vec<Var>,
    params: O::Config,
) -> Result<Box<dyn Step>> {
    Ok(Box::new(O::new(vars, params)?))
}

/// One initialisation of the network with its optimizer, built whole.
struct Model {
    varmap: VarMap,
    net: Box<dyn Net>,
    opt: Box<dyn Step>,
}

pub struct Classifier {
    cfg: LearnerConfig,
    cnn_impl: CnnImpl,
    shape: ImageShape,
    classes: usize,
    device: Device,
    model: Model,
    /// The matrix, targets and trusted samples the training loss reads.
    sup: Supervision,
    /// Training-time augmentation ([`Learner::set_augment`]).
    augment: Augment,
}

impl Classifier {
    pub fn new(
        cfg: LearnerConfig,
        shape: ImageShape,
        classes: usize,
        device: Device,
    ) -> Result<Self> {
        Self::with_cnn_impl(cfg, shape, classes, device, CnnImpl::Auto)
    }

    /// Like [`Classifier::new`] with an explicit CNN implementation (benchmarks, tests).
    pub fn with_cnn_impl(
        cfg: LearnerConfig,
        shape: ImageShape,
        classes: usize,
        device: Device,
        cnn_impl: CnnImpl,
    ) -> Result<Self> {
        if cnn_impl == CnnImpl::Fast && !device.is_cpu() {
            return Err(Error::Config("the fast CNN runs on the CPU only".into()));
        }
        let model = Self::model(&cfg, cnn_impl, shape, classes, &device, 0)?;
        Ok(Self {
            cfg,
            cnn_impl,
            shape,
            classes,
            device,
            model,
            sup: Supervision::default(),
            augment: Augment::OFF,
        })
    }

    /// A fresh network and optimizer for `cfg`, initialised from `seed`.
    fn model(
        cfg: &LearnerConfig,
        cnn_impl: CnnImpl,
        shape: ImageShape,
        classes: usize,
        device: &Device,
        seed: u64,
    ) -> Result<Model> {
        let varmap = VarMap::new();
        let mut p = ParamFactory::new(&varmap, device, seed);
        let fast = match cnn_impl {
            CnnImpl::Auto => device.is_cpu(),
            CnnImpl::Stock => false,
            CnnImpl::Fast => true,
        };
        let net: Box<dyn Net> = match cfg.model {
            ModelKind::Cnn if fast => Box::new(FastCnn::new(&mut p, shape, classes)?),
            ModelKind::Cnn => Box::new(Cnn::new(&mut p, shape, classes)?),
            ModelKind::Mlp => Box::new(Mlp::new(&mut p, shape, classes)?),
            ModelKind::Vae => return Err(Error::Config("the VAE is not a classifier".into())),
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
            (OptimizerKind::Adamw, true) => boxed::<fast::AdamW>(vars, adamw)?,
            (OptimizerKind::Adamw, false) => boxed::<AdamW>(vars, adamw)?,
            (OptimizerKind::Sgd, true) => boxed::<fast::Sgd>(vars, sgd)?,
            (OptimizerKind::Sgd, false) => boxed::<Sgd>(vars, sgd)?,
        };
        Ok(Model { varmap, net, opt })
    }

    fn check_data(&self, data: &Dataset) -> Result<()> {
        if data.shape != self.shape || data.num_classes() != self.classes {
            return Err(Error::Config(format!(
                "model built for {} images and {} classes, data has {} and {}",
                self.shape,
                self.classes,
                data.shape,
                data.num_classes()
            )));
        }
        Ok(())
    }

    /// Number of trainable parameters.
    pub fn parameter_count(&self) -> usize {
        self.model
            .varmap
            .all_vars()
            .iter()
            .map(|v| v.elem_count())
            .sum()
    }
}

impl Learner for Classifier {
    fn describe(&self) -> String {
        format!(
            "{} ({} parameters, {}, batch {}, lr {}{}{})",
            self.cfg.model,
            self.parameter_count(),
            self.cfg.optimizer,
            self.cfg.batch_size,
            self.cfg.lr,
            match self.cfg.lr_schedule {
                LrSchedule::Constant => "",
                LrSchedule::Cosine => " cosine",
                LrSchedule::Swa => " swa",
            },
            if self.augment.is_off() {
                String::new()
            } else {
                format!(", augmented: {}", self.augment)
            }
        )
    }

    fn reset(&mut self, seed: u64) -> Result<()> {
        self.model = Self::model(
            &self.cfg,
            self.cnn_impl,
            self.shape,
            self.classes,
            &self.device,
            seed,
        )?;
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
        let bs = self.cfg.batch_size;
        let total = schedule::total_batches(indices.len(), epochs, bs);
        let (lr, cosine) = (self.cfg.lr, self.cfg.lr_schedule == LrSchedule::Cosine);
        let mut average = (self.cfg.lr_schedule == LrSchedule::Swa).then(|| {
            schedule::WeightAverage::new(self.model.varmap.all_vars(), indices.len(), epochs, bs)
        });
        let mut step = 0;
        let augment = self.augment;
        let last = schedule::train_batches(indices, epochs, bs, seed, tick, |chunk, rng| {
            let (x, y) = if augment.is_off() {
                batch(data, chunk, &self.device)?
            } else {
                batch_augmented(data, chunk, &self.device, rng, augment)?
            };
            let (sup, classes, model) = (&self.sup, self.classes, &mut self.model);
            let mut loss_of = |logits: &Tensor| sup.loss(logits, y.clone(), data, classes, chunk);
            let own = model.net.loss_and_grads(&x, &mut loss_of)?;
            let opt = &mut model.opt;
            if cosine {
                opt.set_learning_rate(schedule::cosine_lr(lr, step, total));
            }
            step += 1;
            let loss = match own {
                Some((loss, grads)) => {
                    opt.step(&grads)?;
                    loss
                }
                None => {
                    let loss = loss_of(&model.net.forward(&x)?)?;
                    opt.backward_step(&loss)?;
                    loss
                }
            };
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
        let mut out = Scores::with_capacity(indices.len(), self.classes);
        schedule::score_batches(indices, self.cfg.score_batch_size, tick, |chunk| {
            let (x, _) = batch(data, chunk, &self.device)?;
            let logits = self.model.net.forward(&x)?.detach();
            push_scores(&mut out, &logits, data, chunk)
        })?;
        Ok(out)
    }

    fn set_transition(&mut self, t: Option<&[f32]>) -> Result<bool> {
        self.sup.transition = transition_tensor(t, self.classes, &self.device)?;
        Ok(true)
    }

    fn set_targets(&mut self, targets: Option<Vec<u32>>) -> Result<bool> {
        self.sup.targets = targets;
        Ok(true)
    }

    fn set_trusted(&mut self, trusted: Option<Vec<bool>>) -> Result<bool> {
        self.sup.trusted = trusted;
        Ok(true)
    }

    fn set_augment(&mut self, augment: Augment) -> Result<bool> {
        self.augment = augment;
        Ok(true)
    }

    fn set_label_smoothing(&mut self, eps: f64) -> Result<bool> {
        self.sup.set_smoothing(eps)?;
        Ok(true)
    }

    fn fork(&self) -> Result<Option<Box<dyn Learner>>> {
        let mut twin = Self::with_cnn_impl(
            self.cfg.clone(),
            self.shape,
            self.classes,
            self.device.clone(),
            self.cnn_impl,
        )?;
        twin.augment = self.augment;
        Ok(Some(Box::new(twin)))
    }

    fn feature_dim(&self) -> Option<usize> {
        Some(self.model.net.feature_dim())
    }

    fn score_with_features(
        &mut self,
        data: &Dataset,
        indices: &[usize],
        tick: &mut TickFn<'_>,
    ) -> Result<(Scores, Option<Features>)> {
        self.check_data(data)?;
        let mut out = Scores::with_capacity(indices.len(), self.classes);
        let mut features = Features::default();
        schedule::score_batches(indices, self.cfg.score_batch_size, tick, |chunk| {
            let (x, _) = batch(data, chunk, &self.device)?;
            let f = self.model.net.features(&x)?.detach();
            let logits = self.model.net.head(&f)?.detach();
            push_features(&mut features, &f)?;
            push_scores(&mut out, &logits, data, chunk)
        })?;
        Ok((out, Some(features)))
    }

    fn features(
        &mut self,
        data: &Dataset,
        indices: &[usize],
        tick: &mut TickFn<'_>,
    ) -> Result<Option<Features>> {
        // The scores come with them at the cost of the last layer.
        Ok(self.score_with_features(data, indices, tick)?.1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn logits() -> (Tensor, Tensor) {
        let dev = Device::Cpu;
        let x = Tensor::from_slice(&[2.0f32, 0.5, -1.0, 0.0, 1.0, 3.0], (2, 3), &dev).unwrap();
        let y = Tensor::from_slice(&[1u32, 2], 2, &dev).unwrap();
        (x, y)
    }

    /// The softmax of `x`, row after row.
    fn probs(x: &Tensor) -> Vec<f32> {
        candle_nn::ops::softmax(x, D::Minus1)
            .unwrap()
            .flatten_all()
            .unwrap()
            .to_vec1()
            .unwrap()
    }

    /// Per-sample cross-entropy and forward-corrected loss of [`logits`] under `matrix`.
    fn both_losses(matrix: &[f32]) -> (Tensor, Vec<f32>, Vec<f32>) {
        let (x, y) = logits();
        let t = transition_tensor(Some(matrix), 3, &Device::Cpu)
            .unwrap()
            .unwrap();
        let ce = per_sample_cross_entropy(&x, &y).unwrap().to_vec1().unwrap();
        let fw = per_sample_forward_loss(&x, &y, &t)
            .unwrap()
            .to_vec1()
            .unwrap();
        (t, ce, fw)
    }

    /// Under a matrix, a trusted sample (the user kept or relabelled it) takes plain
    /// cross-entropy and the others the forward-corrected loss; without trusted samples in the
    /// batch, or without a matrix, the loss is `batch_loss`'s.
    #[test]
    fn trusted_samples_train_plainly_under_a_matrix() {
        let (x, y) = logits();
        let flip = [0.6f32, 0.4, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0];
        let (t, ce, fw) = both_losses(&flip);
        assert!(
            (ce[0] - fw[0]).abs() > 0.1,
            "the matrix changes sample 0's loss"
        );
        let mean = |l: &Tensor| l.to_scalar::<f32>().unwrap();
        // Samples 7 and 9 of a data set make the batch; 7 is trusted.
        let mut trusted = vec![false; 10];
        trusted[7] = true;
        let mixed = training_loss(&x, &y, Some(&t), Some(&trusted), &[7, 9], 0.0).unwrap();
        assert!((mean(&mixed) - (ce[0] + fw[1]) / 2.0).abs() < 1e-5);
        let none = training_loss(&x, &y, Some(&t), Some(&trusted), &[8, 9], 0.0).unwrap();
        assert!((mean(&none) - (fw[0] + fw[1]) / 2.0).abs() < 1e-5);
        let plain = training_loss(&x, &y, None, Some(&trusted), &[7, 9], 0.0).unwrap();
        assert!((mean(&plain) - (ce[0] + ce[1]) / 2.0).abs() < 1e-5);
    }

    /// Label smoothing: the cross-entropy against the target 1 - eps + eps / K on the label
    /// and eps / K elsewhere, computed by hand; 0 is plain cross-entropy; the smoothed loss
    /// pulls a confident right prediction's logit less (its gradient on the label is smaller),
    /// a forward-corrected loss is left unsmoothed, and a smoothing outside [0, 1) is refused.
    #[test]
    fn label_smoothing_spreads_a_share_of_the_target_over_every_class() {
        let (x, y) = logits();
        let eps = 0.1f64;
        let p = probs(&x);
        let got: Vec<f32> = per_sample_smoothed_cross_entropy(&x, &y, eps)
            .unwrap()
            .to_vec1()
            .unwrap();
        for (row, label) in [(0usize, 1usize), (1, 2)] {
            let want: f32 = (0..3)
                .map(|c| {
                    let target = if c == label {
                        1.0 - eps + eps / 3.0
                    } else {
                        eps / 3.0
                    };
                    -(target as f32) * p[row * 3 + c].ln()
                })
                .sum();
            assert!(
                (got[row] - want).abs() < 1e-5,
                "row {row}: {got:?} vs {want}"
            );
        }
        let ce: Vec<f32> = per_sample_cross_entropy(&x, &y).unwrap().to_vec1().unwrap();
        let zero = training_loss(&x, &y, None, None, &[0, 1], 0.0).unwrap();
        assert_eq!(
            zero.to_scalar::<f32>().unwrap(),
            per_sample_cross_entropy(&x, &y)
                .unwrap()
                .mean_all()
                .unwrap()
                .to_scalar::<f32>()
                .unwrap()
        );
        assert!(
            got[1] > ce[1],
            "a confident right prediction costs more smoothed"
        );
        // The gradient on sample 1's label logit: p - target, smaller in size when smoothed.
        let v = Var::from_tensor(&x).unwrap();
        let grad_on_label = |eps: f64| {
            let loss = training_loss(v.as_tensor(), &y, None, None, &[0, 1], eps).unwrap();
            let g = loss.backward().unwrap();
            let g: Vec<f32> = g.get(&v).unwrap().flatten_all().unwrap().to_vec1().unwrap();
            g[5]
        };
        assert!(grad_on_label(0.1).abs() < grad_on_label(0.0).abs());
        // Through a matrix: the forward-corrected loss, unsmoothed.
        let flip = [0.6f32, 0.4, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0];
        let (t, _, fw) = both_losses(&flip);
        let through = training_loss(&x, &y, Some(&t), None, &[0, 1], 0.1).unwrap();
        assert!((through.to_scalar::<f32>().unwrap() - (fw[0] + fw[1]) / 2.0).abs() < 1e-6);
        let mut sup = Supervision::default();
        for bad in [1.0, -0.1, f64::NAN] {
            assert!(sup.set_smoothing(bad).is_err(), "{bad}");
        }
        sup.set_smoothing(0.2).unwrap();
        assert_eq!(sup.smoothing, 0.2);
    }

    #[test]
    fn forward_loss_is_cross_entropy_under_the_identity_and_reads_the_matrix() {
        let (x, y) = logits();
        let eye: Vec<f32> = (0..9).map(|i| f32::from(i % 4 == 0)).collect();
        let (_, ce, fw) = both_losses(&eye);
        for (a, b) in ce.iter().zip(&fw) {
            assert!((a - b).abs() < 1e-5, "{ce:?} vs {fw:?}");
        }
        // Class 0 flipped to 1 at 0.4: sample 0 (p mostly class 0) labelled 1 is cheap.
        let flip = [0.6f32, 0.4, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0];
        let (t, _, fw) = both_losses(&flip);
        let p = probs(&x);
        let want0 = -(p[0] * 0.4 + p[1]).ln();
        assert!(
            (fw[0] - want0).abs() < 1e-5 && fw[0] < ce[0],
            "{fw:?} {want0}"
        );
        assert!((fw[1] - ce[1]).abs() < 1e-5, "class 2 is not flipped");
        // It trains: the gradient reaches the logits.
        let v = Var::from_tensor(&x).unwrap();
        let loss = per_sample_forward_loss(v.as_tensor(), &y, &t)
            .unwrap()
            .mean_all()
            .unwrap();
        let g = loss.backward().unwrap();
        let gx: Vec<f32> = g.get(&v).unwrap().flatten_all().unwrap().to_vec1().unwrap();
        assert!(gx.iter().all(|v| v.is_finite()) && gx.iter().any(|v| v.abs() > 1e-3));
        // A matrix of the wrong size is refused.
        assert!(transition_tensor(Some(&[1.0; 4]), 3, &Device::Cpu).is_err());
    }
}
