//! The bodies written by earlier builds (run file versions 1 to 18), decoded into today's
//! [`RunFile`]. Postcard is not self-describing, so each old `Config` and `LearnerConfig` layout
//! is spelled out; old runs get what they ran with.
//!
//! What each version changed (all have the header of [`super::run_file`] but version 1):
//! - 19: `CoTeach::smoothing` ([`ConfigNoSmoothing`]: co-teaching runs of versions 14 to 18
//!   trained on plain cross-entropy).
//! - 18: each round's flips the fold check took out, in the round extras
//!   ([`RoundExtrasV17`]: versions 16 and 17 kept the folded classes only).
//! - 17: `Config::tau_from_data` ([`ConfigNoTauFromData`]: versions 15 and 16 kept tau as
//!   set).
//! - 16: each round's folded classes in the round extras, where a forward round trained again
//!   without flips into them ([`RoundExtrasV15`]: versions 11 to 15 never trained a round
//!   again).
//! - 15: `Config::augment` (versions 1 to 14: runs trained on the images as they are).
//! - 14: `CoTeach::pseudo` (version 13: co-teaching without pseudo-labels).
//! - 13: `Config::coteach` (version 12: runs were ITLM's rounds).
//! - 12: `Config::transition` is a mode ([`Forward`]: off, on, auto); version 11 stored a
//!   flag (off or on).
//! - 11: `Config::transition`, and each round's transition matrix in the round extras
//!   (versions 9 and 10: no forward correction).
//! - 10: each round's spectral scores in the round extras (version 9: none).
//! - 9: `Config::clusters`, and each round's held-out samples and cluster report in the round
//!   extras (version 8: no clustering cut).
//! - 8: `Config::relabel`, and each round's relabelled samples and their quality after the
//!   evaluation sources (versions 1 to 7: runs did not relabel).
//! - 7: the status is an enum ([`RunStatus`]); versions 1 to 6 stored it as text.
//! - 6: `Config::restore` (versions 3 to 5: read as off).
//! - 5: the evaluation sets' sources after the body (version 4: none).
//! - 4: `LearnerConfig::{optimizer, lr_schedule}` (versions 1 to 3: AdamW at a constant rate).
//! - 3: `Config::{folds, round0_models}` (versions 1 and 2: 1 and 1).
//! - 2: the length and checksum header; fractional epochs (earlier bodies: whole numbers).
//! - 1: magic, version = 1, then a version-2 body, no length and no checksum.

use serde::{Deserialize, Serialize};

use super::run_file::{decode_whole, RoundExtras, RunFile, RunFileOf, RunStatus};
use crate::itlm::{Augment, CoTeach, Config, Forward, LossAggregate, Selection, TauSchedule};
use crate::learner::{DeviceChoice, LearnerConfig, LrSchedule, ModelKind, OptimizerKind};

/// A run as an earlier build stored it: its status as text.
pub type Legacy<C, L = LearnerConfig> = RunFileOf<C, L, String>;

impl<C, L> RunFileOf<C, L, String> {
    /// An earlier build's run (status as text) with its config and learner settings mapped to
    /// today's; an error for a status no earlier build wrote.
    pub fn upgrade<D, M>(
        self,
        f: impl FnOnce(C) -> D,
        g: impl FnOnce(L) -> M,
    ) -> std::result::Result<RunFileOf<D, M>, String> {
        Ok(RunFileOf {
            status: RunStatus::from_legacy(&self.status)?,
            config: f(self.config),
            learner: g(self.learner),
            learner_description: self.learner_description,
            dataset: self.dataset,
            truth: self.truth,
            rounds: self.rounds,
            verdict: self.verdict,
            elapsed_secs: self.elapsed_secs,
        })
    }
}

impl<C, L> RunFileOf<C, L, RunStatus> {
    /// The same run with its config and learner settings mapped (to an old layout: tests and
    /// fixtures write run files as earlier builds did).
    pub fn map<D, M>(self, f: impl FnOnce(C) -> D, g: impl FnOnce(L) -> M) -> RunFileOf<D, M> {
        RunFileOf {
            config: f(self.config),
            learner: g(self.learner),
            learner_description: self.learner_description,
            dataset: self.dataset,
            truth: self.truth,
            rounds: self.rounds,
            status: self.status,
            verdict: self.verdict,
            elapsed_secs: self.elapsed_secs,
        }
    }

    /// The same run with its config mapped.
    pub fn map_config<D>(self, f: impl FnOnce(C) -> D) -> RunFileOf<D, L> {
        self.map(f, |l| l)
    }

    /// The same run with its status as text, as versions 1 to 6 stored it.
    pub fn with_text_status(self) -> Legacy<C, L> {
        RunFileOf {
            status: self.status.to_string(),
            config: self.config,
            learner: self.learner,
            learner_description: self.learner_description,
            dataset: self.dataset,
            truth: self.truth,
            rounds: self.rounds,
            verdict: self.verdict,
            elapsed_secs: self.elapsed_secs,
        }
    }
}

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

/// `Config` of version 8: versions 6 and 7's fields, then `relabel`; before
/// [`Config::clusters`] (runs did not cut by clusters). Postcard writes a nested struct's
/// fields in place, so this is byte for byte the flat layout version 8 wrote.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ConfigNoClusters {
    pub before: ConfigNoRelabel,
    pub relabel: bool,
}

impl From<ConfigNoClusters> for Config {
    fn from(c: ConfigNoClusters) -> Self {
        Config {
            relabel: c.relabel,
            ..c.before.into()
        }
    }
}

impl From<&Config> for ConfigNoClusters {
    /// Today's config in the layout of version 8, `clusters` dropped (for tests and fixtures).
    fn from(c: &Config) -> Self {
        ConfigNoClusters {
            before: c.into(),
            relabel: c.relabel,
        }
    }
}

/// What a version-8 file stores of each round after the body: the relabelled samples and
/// their quality (no clustering cut).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct RoundExtrasV8 {
    pub relabelled: Vec<Option<u32>>,
    pub relabel: Option<crate::itlm::RelabelQuality>,
}

impl From<RoundExtrasV8> for RoundExtras {
    fn from(x: RoundExtrasV8) -> Self {
        RoundExtras {
            relabelled: x.relabelled,
            relabel: x.relabel,
            ..Default::default()
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

/// What a version-9 file stores of each round after the body: no spectral scores.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct RoundExtrasV9 {
    pub relabelled: Vec<Option<u32>>,
    pub relabel: Option<crate::itlm::RelabelQuality>,
    pub held_out: Vec<bool>,
    pub clusters: Option<crate::itlm::ClusterReport>,
}

impl From<RoundExtrasV9> for RoundExtras {
    fn from(x: RoundExtrasV9) -> Self {
        RoundExtras {
            relabelled: x.relabelled,
            relabel: x.relabel,
            held_out: x.held_out,
            clusters: x.clusters,
            spectral: Vec::new(),
            transition: Vec::new(),
            estimated: None,
            unfolded: Vec::new(),
            unfolded_flips: Vec::new(),
        }
    }
}

/// What a version-10 file stores of each round after the body: no transition matrix.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct RoundExtrasV10 {
    pub relabelled: Vec<Option<u32>>,
    pub relabel: Option<crate::itlm::RelabelQuality>,
    pub held_out: Vec<bool>,
    pub clusters: Option<crate::itlm::ClusterReport>,
    pub spectral: Vec<f32>,
}

impl From<RoundExtrasV10> for RoundExtras {
    fn from(x: RoundExtrasV10) -> Self {
        RoundExtras {
            relabelled: x.relabelled,
            relabel: x.relabel,
            held_out: x.held_out,
            clusters: x.clusters,
            spectral: x.spectral,
            transition: Vec::new(),
            estimated: None,
            unfolded: Vec::new(),
            unfolded_flips: Vec::new(),
        }
    }
}

/// `Config` of versions 9 and 10: version 8's fields, then `clusters`; before
/// [`Config::transition`] (runs did not forward-correct).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ConfigNoTransition {
    pub before: ConfigNoClusters,
    pub clusters: bool,
}

impl From<ConfigNoTransition> for Config {
    fn from(c: ConfigNoTransition) -> Self {
        Config {
            clusters: c.clusters,
            ..c.before.into()
        }
    }
}

impl From<&Config> for ConfigNoTransition {
    /// Today's config in the layout of versions 9 and 10, `transition` dropped (for tests).
    fn from(c: &Config) -> Self {
        ConfigNoTransition {
            before: c.into(),
            clusters: c.clusters,
        }
    }
}

/// `Config` of version 11: versions 9 and 10's fields, then `transition` as a flag (before
/// [`Forward::Auto`]).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ConfigFlagTransition {
    pub before: ConfigNoTransition,
    pub transition: bool,
}

impl From<ConfigFlagTransition> for Config {
    fn from(c: ConfigFlagTransition) -> Self {
        Config {
            transition: if c.transition {
                Forward::On
            } else {
                Forward::Off
            },
            ..c.before.into()
        }
    }
}

impl From<&Config> for ConfigFlagTransition {
    /// Today's config in the layout of version 11 (for tests): `Auto` stored as the flag it
    /// came to in the run, off.
    fn from(c: &Config) -> Self {
        ConfigFlagTransition {
            before: c.into(),
            transition: c.transition == Forward::On,
        }
    }
}

/// `Config` of version 12: version 11's fields, then `transition` as a mode; before
/// [`Config::coteach`] (runs were ITLM's rounds).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ConfigNoCoteach {
    pub before: ConfigNoTransition,
    pub transition: Forward,
}

impl From<ConfigNoCoteach> for Config {
    fn from(c: ConfigNoCoteach) -> Self {
        Config {
            transition: c.transition,
            ..c.before.into()
        }
    }
}

impl From<&Config> for ConfigNoCoteach {
    /// Today's config in the layout of version 12, `coteach` dropped (for tests).
    fn from(c: &Config) -> Self {
        ConfigNoCoteach {
            before: c.into(),
            transition: c.transition,
        }
    }
}

/// [`CoTeach`] of version 13: before pseudo-labels ([`CoTeach::pseudo`]).
#[derive(Clone, Copy, Debug, Serialize, Deserialize)]
pub struct CoTeachNoPseudo {
    pub epochs: usize,
    pub ramp: usize,
}

/// `Config` of version 13: version 12's fields, then `coteach` without pseudo-labels (such
/// runs trained without them).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ConfigNoPseudo {
    pub before: ConfigNoCoteach,
    pub coteach: Option<CoTeachNoPseudo>,
}

impl From<ConfigNoPseudo> for Config {
    fn from(c: ConfigNoPseudo) -> Self {
        Config {
            coteach: c.coteach.map(|ct| {
                CoTeach::from(CoTeachNoSmoothing {
                    epochs: ct.epochs,
                    ramp: ct.ramp,
                    pseudo: None,
                })
            }),
            ..c.before.into()
        }
    }
}

impl From<&Config> for ConfigNoPseudo {
    /// Today's config in the layout of version 13, pseudo-labels dropped (for tests).
    fn from(c: &Config) -> Self {
        ConfigNoPseudo {
            before: c.into(),
            coteach: c.coteach.map(|ct| CoTeachNoPseudo {
                epochs: ct.epochs,
                ramp: ct.ramp,
            }),
        }
    }
}

/// [`CoTeach`] of versions 14 to 18: with pseudo-labels, before label smoothing
/// ([`CoTeach::smoothing`]; such runs trained on plain cross-entropy).
#[derive(Clone, Copy, Debug, Serialize, Deserialize)]
pub struct CoTeachNoSmoothing {
    pub epochs: usize,
    pub ramp: usize,
    pub pseudo: Option<f64>,
}

impl From<CoTeachNoSmoothing> for CoTeach {
    fn from(ct: CoTeachNoSmoothing) -> Self {
        CoTeach {
            epochs: ct.epochs,
            ramp: ct.ramp,
            pseudo: ct.pseudo,
            smoothing: 0.0,
        }
    }
}

impl From<&CoTeach> for CoTeachNoSmoothing {
    /// Today's co-teaching settings in the layout of versions 14 to 18, smoothing dropped
    /// (for tests).
    fn from(ct: &CoTeach) -> Self {
        CoTeachNoSmoothing {
            epochs: ct.epochs,
            ramp: ct.ramp,
            pseudo: ct.pseudo,
        }
    }
}

/// `Config` of version 14: version 13's layout with pseudo-labels, no augmentation (such runs
/// trained on the images as they are).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ConfigNoAugment {
    pub before: ConfigNoCoteach,
    pub coteach: Option<CoTeachNoSmoothing>,
}

impl From<ConfigNoAugment> for Config {
    fn from(c: ConfigNoAugment) -> Self {
        Config {
            coteach: c.coteach.map(CoTeach::from),
            ..c.before.into()
        }
    }
}

impl From<&Config> for ConfigNoAugment {
    /// Today's config in the layout of version 14, augmentation dropped (for tests).
    fn from(c: &Config) -> Self {
        ConfigNoAugment {
            before: c.into(),
            coteach: c.coteach.as_ref().map(CoTeachNoSmoothing::from),
        }
    }
}

/// `Config` of versions 15 and 16: version 14's layout with augmentation, tau always as set
/// (no run chose it from the data).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ConfigNoTauFromData {
    pub before: ConfigNoAugment,
    pub augment: Augment,
}

impl From<ConfigNoTauFromData> for Config {
    fn from(c: ConfigNoTauFromData) -> Self {
        Config {
            augment: c.augment,
            ..c.before.into()
        }
    }
}

impl From<&Config> for ConfigNoTauFromData {
    /// Today's config in the layout of versions 15 and 16, tau from the data dropped (for
    /// tests).
    fn from(c: &Config) -> Self {
        ConfigNoTauFromData {
            before: c.into(),
            augment: c.augment,
        }
    }
}

/// `Config` of versions 17 and 18: version 16's layout, then tau from the data; co-teaching
/// without label smoothing ([`CoTeachNoSmoothing`]).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ConfigNoSmoothing {
    pub before: ConfigNoTauFromData,
    pub tau_from_data: bool,
}

impl From<ConfigNoSmoothing> for Config {
    fn from(c: ConfigNoSmoothing) -> Self {
        Config {
            tau_from_data: c.tau_from_data,
            ..c.before.into()
        }
    }
}

impl From<&Config> for ConfigNoSmoothing {
    /// Today's config in the layout of versions 17 and 18, label smoothing dropped (for
    /// tests).
    fn from(c: &Config) -> Self {
        ConfigNoSmoothing {
            before: c.into(),
            tau_from_data: c.tau_from_data,
        }
    }
}

/// What versions 11 to 15 store of each round after the body: today's [`RoundExtras`] without
/// the classes a forward round's model folded before the round trained again (no build before
/// version 16 trained a round again).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct RoundExtrasV15 {
    pub relabelled: Vec<Option<u32>>,
    pub relabel: Option<crate::itlm::RelabelQuality>,
    pub held_out: Vec<bool>,
    pub clusters: Option<crate::itlm::ClusterReport>,
    pub spectral: Vec<f32>,
    pub transition: Vec<f32>,
    pub estimated: Option<(f64, f64)>,
}

impl From<RoundExtrasV15> for RoundExtras {
    fn from(x: RoundExtrasV15) -> Self {
        RoundExtras {
            relabelled: x.relabelled,
            relabel: x.relabel,
            held_out: x.held_out,
            clusters: x.clusters,
            spectral: x.spectral,
            transition: x.transition,
            estimated: x.estimated,
            unfolded: Vec::new(),
            unfolded_flips: Vec::new(),
        }
    }
}

impl RoundExtrasV15 {
    /// What a version-15 file stored of `r` (for tests).
    pub fn of(r: &crate::itlm::RoundRecord) -> Self {
        let x = RoundExtras::of(r);
        RoundExtrasV15 {
            relabelled: x.relabelled,
            relabel: x.relabel,
            held_out: x.held_out,
            clusters: x.clusters,
            spectral: x.spectral,
            transition: x.transition,
            estimated: x.estimated,
        }
    }
}

/// The round extras of versions 16 and 17: today's without the flips the fold check took out
/// (version 18 added them). Postcard writes a struct's fields in order with no framing, so
/// `before` then `unfolded` is the flat layout those versions wrote.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct RoundExtrasV17 {
    pub before: RoundExtrasV15,
    pub unfolded: Vec<crate::itlm::Starved>,
}

impl From<RoundExtrasV17> for RoundExtras {
    fn from(x: RoundExtrasV17) -> Self {
        RoundExtras {
            unfolded: x.unfolded,
            ..x.before.into()
        }
    }
}

impl RoundExtrasV17 {
    /// What a version-17 file stored of `r` (for tests).
    pub fn of(r: &crate::itlm::RoundRecord) -> Self {
        RoundExtrasV17 {
            before: RoundExtrasV15::of(r),
            unfolded: r.metrics.unfolded.clone(),
        }
    }
}
