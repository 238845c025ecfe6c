//! Run file versions 1 to 7: bodies decoded whole (the evaluation sources, from version 5, after
//! them), the status as text up to version 6, and the flat `Config` and `LearnerConfig` layouts
//! before `relabel`.

use serde::{Deserialize, Serialize};

use super::Legacy;
use crate::export::run_file::{decode_whole, RunFile, RunFileOf};
use crate::itlm::{Augment, Config, Forward, LossAggregate, Selection, TauSchedule};
use crate::learner::{DeviceChoice, LearnerConfig, LrSchedule, ModelKind, OptimizerKind};

/// `LearnerConfig` before the optimizer choice (versions 1 to 3): AdamW at a constant rate.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct LearnerNoOptimizer {
    pub model: ModelKind,
    pub batch_size: usize,
    pub score_batch_size: usize,
    pub lr: f64,
    pub weight_decay: f64,
    pub device: DeviceChoice,
}

impl From<LearnerNoOptimizer> for LearnerConfig {
    fn from(l: LearnerNoOptimizer) -> Self {
        LearnerConfig {
            model: l.model,
            batch_size: l.batch_size,
            score_batch_size: l.score_batch_size,
            lr: l.lr,
            weight_decay: l.weight_decay,
            device: l.device,
            optimizer: OptimizerKind::Adamw,
            lr_schedule: LrSchedule::Constant,
        }
    }
}

impl From<&LearnerConfig> for LearnerNoOptimizer {
    /// Today's learner settings in the old layout, the optimizer dropped (for tests and
    /// fixtures).
    fn from(l: &LearnerConfig) -> Self {
        LearnerNoOptimizer {
            model: l.model,
            batch_size: l.batch_size,
            score_batch_size: l.score_batch_size,
            lr: l.lr,
            weight_decay: l.weight_decay,
            device: l.device,
        }
    }
}

/// `Config` before cross-fitting (`folds`), with epochs of type `E`: `f64` once fractional
/// epochs came ([`ConfigNoFolds`]), `usize` before ([`ConfigWholeEpochs`]).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct OldConfig<E> {
    pub tau: f64,
    pub rounds: usize,
    pub epochs: E,
    pub round0_epochs: Option<f64>,
    pub final_epochs: usize,
    pub select: Selection,
    pub schedule: TauSchedule,
    pub aggregate: LossAggregate,
    pub reinit: bool,
    pub seed: u64,
}

pub type ConfigNoFolds = OldConfig<f64>;
pub type ConfigWholeEpochs = OldConfig<usize>;

impl<E> OldConfig<E> {
    /// The same config with its epochs converted.
    pub fn with_epochs<F>(self, f: impl FnOnce(E) -> F) -> OldConfig<F> {
        let OldConfig {
            tau,
            rounds,
            epochs,
            round0_epochs,
            final_epochs,
            select,
            schedule,
            aggregate,
            reinit,
            seed,
        } = self;
        OldConfig {
            epochs: f(epochs),
            tau,
            rounds,
            round0_epochs,
            final_epochs,
            select,
            schedule,
            aggregate,
            reinit,
            seed,
        }
    }
}

impl From<ConfigNoFolds> for Config {
    /// Old runs did not cross-fit nor average round 0: `folds = 1`, `round0_models = 1`.
    fn from(c: ConfigNoFolds) -> Self {
        Config {
            tau: c.tau,
            rounds: c.rounds,
            epochs: c.epochs,
            round0_epochs: c.round0_epochs,
            final_epochs: c.final_epochs,
            select: c.select,
            schedule: c.schedule,
            aggregate: c.aggregate,
            reinit: c.reinit,
            folds: 1,
            round0_models: 1,
            seed: c.seed,
            restore: false,
            relabel: false,
            clusters: false,
            transition: Forward::Off,
            coteach: None,
            augment: Augment::OFF,
            tau_from_data: false,
        }
    }
}

impl From<ConfigWholeEpochs> for Config {
    fn from(c: ConfigWholeEpochs) -> Self {
        c.with_epochs(|e| e as f64).into()
    }
}

impl From<&Config> for ConfigNoFolds {
    /// Today's config in the old layout, `folds` and `round0_models` dropped (what an earlier build would have
    /// written; for tests and fixtures).
    fn from(c: &Config) -> Self {
        let Config {
            tau,
            rounds,
            epochs,
            round0_epochs,
            final_epochs,
            select,
            schedule,
            aggregate,
            reinit,
            folds: _,
            round0_models: _,
            seed,
            restore: _,
            relabel: _,
            clusters: _,
            transition: _,
            coteach: _,
            augment: _,
            tau_from_data: _,
        } = c.clone();
        OldConfig {
            tau,
            rounds,
            epochs,
            round0_epochs,
            final_epochs,
            select,
            schedule,
            aggregate,
            reinit,
            seed,
        }
    }
}

/// `Config` of versions 3 to 5: before [`Config::restore`] (runs did not restore).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ConfigNoRestore {
    pub tau: f64,
    pub rounds: usize,
    pub epochs: f64,
    pub round0_epochs: Option<f64>,
    pub final_epochs: usize,
    pub select: Selection,
    pub schedule: TauSchedule,
    pub aggregate: LossAggregate,
    pub reinit: bool,
    pub folds: usize,
    pub round0_models: usize,
    pub seed: u64,
}

impl From<ConfigNoRestore> for Config {
    fn from(c: ConfigNoRestore) -> Self {
        Config {
            tau: c.tau,
            rounds: c.rounds,
            epochs: c.epochs,
            round0_epochs: c.round0_epochs,
            final_epochs: c.final_epochs,
            select: c.select,
            schedule: c.schedule,
            aggregate: c.aggregate,
            reinit: c.reinit,
            folds: c.folds,
            round0_models: c.round0_models,
            seed: c.seed,
            restore: false,
            relabel: false,
            clusters: false,
            transition: Forward::Off,
            coteach: None,
            augment: Augment::OFF,
            tau_from_data: false,
        }
    }
}

impl From<&Config> for ConfigNoRestore {
    /// Today's config in the layout of versions 3 to 5, `restore` dropped (for tests and
    /// fixtures).
    fn from(c: &Config) -> Self {
        ConfigNoRestore {
            tau: c.tau,
            rounds: c.rounds,
            epochs: c.epochs,
            round0_epochs: c.round0_epochs,
            final_epochs: c.final_epochs,
            select: c.select,
            schedule: c.schedule,
            aggregate: c.aggregate,
            reinit: c.reinit,
            folds: c.folds,
            round0_models: c.round0_models,
            seed: c.seed,
        }
    }
}

/// `Config` of versions 6 and 7: before [`Config::relabel`] (runs did not relabel).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ConfigNoRelabel {
    pub tau: f64,
    pub rounds: usize,
    pub epochs: f64,
    pub round0_epochs: Option<f64>,
    pub final_epochs: usize,
    pub select: Selection,
    pub schedule: TauSchedule,
    pub aggregate: LossAggregate,
    pub reinit: bool,
    pub folds: usize,
    pub round0_models: usize,
    pub seed: u64,
    pub restore: bool,
}

impl From<ConfigNoRelabel> for Config {
    fn from(c: ConfigNoRelabel) -> Self {
        Config {
            tau: c.tau,
            rounds: c.rounds,
            epochs: c.epochs,
            round0_epochs: c.round0_epochs,
            final_epochs: c.final_epochs,
            select: c.select,
            schedule: c.schedule,
            aggregate: c.aggregate,
            reinit: c.reinit,
            folds: c.folds,
            round0_models: c.round0_models,
            seed: c.seed,
            restore: c.restore,
            relabel: false,
            clusters: false,
            transition: Forward::Off,
            coteach: None,
            augment: Augment::OFF,
            tau_from_data: false,
        }
    }
}

impl From<&Config> for ConfigNoRelabel {
    /// Today's config in the layout of versions 6 and 7, `relabel` dropped (for tests and
    /// fixtures).
    fn from(c: &Config) -> Self {
        ConfigNoRelabel {
            tau: c.tau,
            rounds: c.rounds,
            epochs: c.epochs,
            round0_epochs: c.round0_epochs,
            final_epochs: c.final_epochs,
            select: c.select,
            schedule: c.schedule,
            aggregate: c.aggregate,
            reinit: c.reinit,
            folds: c.folds,
            round0_models: c.round0_models,
            seed: c.seed,
            restore: c.restore,
        }
    }
}

/// A version-1 or -2 body: the fractional-epoch layout, else the whole-number one. A body
/// that decodes under a layout but fails the run's consistency check tries the next.
pub fn decode(body: &[u8]) -> std::result::Result<RunFile, String> {
    let first = decode_whole::<Legacy<ConfigNoFolds, LearnerNoOptimizer>>(body)
        .and_then(|r| r.upgrade(Config::from, LearnerConfig::from))
        .and_then(|r| r.check().map(|()| r));
    match first {
        Ok(r) => Ok(r),
        Err(e) => decode_whole::<Legacy<ConfigWholeEpochs, LearnerNoOptimizer>>(body)
            .and_then(|r| r.upgrade(Config::from, LearnerConfig::from))
            .and_then(|r| r.check().map(|()| r))
            .map_err(|_| e),
    }
}

/// A version-3 body: the config without `restore`, the learner settings without the
/// optimizer.
pub fn decode_v3(body: &[u8]) -> std::result::Result<RunFile, String> {
    decode_whole::<Legacy<ConfigNoRestore, LearnerNoOptimizer>>(body)
        .and_then(|r| r.upgrade(Config::from, LearnerConfig::from))
}

/// A version-4, -5 or -6 body (with the evaluation sources after it from version 5 on):
/// versions 4 and 5 have the config without `restore`; all three the status as text. Returns
/// the run and the bytes after it.
pub fn take_v4_to_v6(version: u32, body: &[u8]) -> std::result::Result<(RunFile, &[u8]), String> {
    let e = |e: postcard::Error| e.to_string();
    if version >= 6 {
        let (r, rest) = postcard::take_from_bytes::<Legacy<ConfigNoRelabel>>(body).map_err(e)?;
        Ok((r.upgrade(Config::from, |l| l)?, rest))
    } else {
        let (r, rest) = postcard::take_from_bytes::<Legacy<ConfigNoRestore>>(body).map_err(e)?;
        Ok((r.upgrade(Config::from, |l| l)?, rest))
    }
}

/// A version-7 body: today's layout but the config without `relabel`. Returns the run and the
/// bytes after it (the evaluation sources).
pub fn take_v7(body: &[u8]) -> std::result::Result<(RunFile, &[u8]), String> {
    let (r, rest) =
        postcard::take_from_bytes::<RunFileOf<ConfigNoRelabel>>(body).map_err(|e| e.to_string())?;
    Ok((r.map_config(Config::from), rest))
}
