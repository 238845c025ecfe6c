//! Candle learners: the CNN and MLP classifiers (and the VAE for unlabelled sets), and the
//! choice of device.

pub mod backbone;
pub mod batch;
pub mod classifier;
pub mod fast;
pub mod feature_values;
pub mod head;
pub mod init;
pub mod nets;
pub mod optim;
pub mod schedule;
pub mod vae;

use candle_core::Device;
use serde::{Deserialize, Serialize};

use crate::data::Dataset;
use crate::error::{Error, Result};
use crate::itlm::Learner;

pub use classifier::{Classifier, CnnImpl};
pub use feature_values::FeatureValues;
pub use head::{FeatureMatrix, Features, Head, HeadKind};

/// The model a run trains.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum ModelKind {
    #[default]
    Cnn,
    Mlp,
    Vae,
}

crate::choice!(ModelKind, "model", {
    Cnn => "cnn", "conv 32 -> pool -> conv 64 -> pool -> fc 128 -> classes";
    Mlp => "mlp", "Two hidden layers (256, 128)";
    Vae => "vae", "Variational autoencoder for unlabelled sets (loss = negative ELBO)";
});

/// What the model learns: a classifier on the labels, or a generative model of the images
/// alone (the VAE; labels are ignored).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Mode {
    #[default]
    Classify,
    Generative,
}

crate::choice!(Mode, "mode", {
    Classify => "classify", "Classifier on labelled data (noisy labels, backdoors)";
    Generative => "generative", "VAE on unlabelled data (spurious images mixed in); labels are ignored";
});

impl Mode {
    /// The mode a model belongs to.
    pub fn of(model: ModelKind) -> Self {
        if model == ModelKind::Vae {
            Mode::Generative
        } else {
            Mode::Classify
        }
    }
}

/// How a classifier's weights are updated (the VAE always uses AdamW).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum OptimizerKind {
    #[default]
    Adamw,
    Sgd,
}

crate::choice!(OptimizerKind, "optimizer", {
    Adamw => "adamw", "AdamW (lr 1e-3): fast and steady on every setting";
    Sgd => "sgd", "SGD with momentum 0.9 (lr 0.05). Adam scales each weight's step by its own gradient history, so weights that only a few samples move (a watermark's pixels) learn as fast as the rest; SGD moves them in proportion to how many samples push them, so rare features (backdoor triggers) are learned later than the classes (README, Backdoors)";
});

impl OptimizerKind {
    /// The learning rate that suits the optimizer when none is given.
    pub fn default_lr(self) -> f64 {
        match self {
            OptimizerKind::Adamw => 1e-3,
            OptimizerKind::Sgd => 0.05,
        }
    }
}

/// How the learning rate moves within one training call (one round's model).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum LrSchedule {
    #[default]
    Constant,
    Cosine,
    /// Constant rate; the model a call returns is the mean of its weights at the ends of the
    /// epochs of the call's second half (stochastic weight averaging, Izmailov et al. 2018).
    Swa,
}

crate::choice!(LrSchedule, "learning-rate schedule", {
    Constant => "constant", "The learning rate throughout";
    Cosine => "cosine", "Cosine annealing from the learning rate down to 0 over the call's batches: the usual companion of SGD, whose last iterates otherwise wander (test accuracy varies by a point or two between seeds)";
    Swa => "swa", "Constant rate; each call's model is the mean of the weights at the ends of the epochs of its second half (stochastic weight averaging): one model from the swings between epochs that noisy labels cause";
});

/// Where tensors live.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum DeviceChoice {
    #[default]
    Cpu,
    Cuda,
}

crate::choice!(DeviceChoice, "device", {
    Cpu => "cpu", "";
    Cuda => "cuda", "The first CUDA GPU (needs the `cuda` cargo feature)";
});

impl DeviceChoice {
    pub fn device(self) -> Result<Device> {
        match self {
            DeviceChoice::Cpu => Ok(Device::Cpu),
            DeviceChoice::Cuda => {
                if cfg!(feature = "cuda") {
                    Device::new_cuda(0).map_err(|e| Error::Model(format!("no CUDA device: {e}")))
                } else {
                    Err(Error::Config(
                        "this build has no CUDA support; rebuild with `--features cuda`".into(),
                    ))
                }
            }
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LearnerConfig {
    pub model: ModelKind,
    pub batch_size: usize,
    pub score_batch_size: usize,
    pub lr: f64,
    pub weight_decay: f64,
    pub device: DeviceChoice,
    /// Classifiers only (run files before version 4: AdamW).
    pub optimizer: OptimizerKind,
    /// Classifiers only (run files before version 4: constant).
    pub lr_schedule: LrSchedule,
}

impl Default for LearnerConfig {
    fn default() -> Self {
        Self {
            model: ModelKind::Cnn,
            batch_size: 128,
            score_batch_size: 512,
            lr: 1e-3,
            weight_decay: 0.0,
            device: DeviceChoice::Cpu,
            optimizer: OptimizerKind::Adamw,
            lr_schedule: LrSchedule::Constant,
        }
    }
}

impl LearnerConfig {
    pub fn validate(&self) -> Result<()> {
        if self.batch_size == 0 || self.score_batch_size == 0 {
            return Err(Error::Config("batch size must be at least 1".into()));
        }
        if !(self.lr > 0.0 && self.lr < 10.0) {
            return Err(Error::Config(format!(
                "learning rate must be in (0, 10), got {}",
                self.lr
            )));
        }
        // An infinite decay made every loss NaN in round 0 ("training diverged"), which named
        // neither the option nor the value.
        if !(self.weight_decay >= 0.0 && self.weight_decay < 10.0) {
            return Err(Error::Config(format!(
                "weight decay must be in [0, 10), got {}",
                self.weight_decay
            )));
        }
        Ok(())
    }
}

/// The learner for `cfg` sized for `data`.
pub fn build(cfg: &LearnerConfig, data: &Dataset) -> Result<Box<dyn Learner>> {
    cfg.validate()?;
    let device = cfg.device.device()?;
    match cfg.model {
        ModelKind::Cnn | ModelKind::Mlp => {
            if cfg.model == ModelKind::Cnn && (data.shape.height < 4 || data.shape.width < 4) {
                return Err(Error::Config(format!(
                    "the CNN needs images of at least 4x4, got {}",
                    data.shape
                )));
            }
            Ok(Box::new(Classifier::new(
                cfg.clone(),
                data.shape,
                data.num_classes(),
                device,
            )?))
        }
        ModelKind::Vae => Ok(Box::new(vae::Vae::new(cfg.clone(), data.shape, device)?)),
    }
}
