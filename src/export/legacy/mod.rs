//! The bodies written by earlier builds (run file versions 1 to 20), decoded into today's
//! [`RunFile`](super::RunFile). Postcard is not self-describing, so each old `Config` and
//! `LearnerConfig` layout is spelled out; old runs get what they ran with.
//!
//! What each version changed (all have the header of [`super::run_file`] but version 1):
//! - 21: the labels CSV's images folder (`--images`) in the columns ([`ColumnsV20`]:
//!   version 20 read the paths relative to the CSV's folder).
//! - 20: the labels CSV columns the set was read with, after the round extras (versions 8
//!   to 19: read as found by name).
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
//! - 12: `Config::transition` is a mode ([`Forward`](crate::itlm::Forward): off, on, auto);
//!   version 11 stored a flag (off or on).
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
//!
//! The layouts of versions 1 to 7, whose bodies are decoded whole, are in `v1_to_7`; those of
//! version 8 and later (the config grown by a field or two a version, and each round's extras
//! after the body) in `v8_and_later`; both re-exported here.

mod v1_to_7;
mod v8_and_later;

pub use v1_to_7::{
    decode, decode_v3, take_v4_to_v6, take_v7, ConfigNoFolds, ConfigNoRelabel, ConfigNoRestore,
    ConfigWholeEpochs, LearnerNoOptimizer, OldConfig,
};
pub use v8_and_later::{
    CoTeachNoPseudo, CoTeachNoSmoothing, ColumnsV20, ConfigFlagTransition, ConfigNoAugment,
    ConfigNoClusters, ConfigNoCoteach, ConfigNoPseudo, ConfigNoSmoothing, ConfigNoTauFromData,
    ConfigNoTransition, RoundExtrasV10, RoundExtrasV15, RoundExtrasV17, RoundExtrasV8,
    RoundExtrasV9,
};

use super::run_file::{RunFileOf, RunStatus};
use crate::learner::LearnerConfig;

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
