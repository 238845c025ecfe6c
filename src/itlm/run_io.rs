//! What a run takes and what it tells: its inputs ([`Inputs`], with the held-out sets
//! [`Eval`]), where it starts ([`Start`]), and the [`Event`]s it reports to an [`Observer`].
//! Shared by ITLM's rounds ([`super::run()`]) and co-teaching ([`super::coteach`]).

use std::sync::Arc;

use super::config::Config;
use super::final_check::FinalCheck;
use super::learner::Tick;
use super::pins::Pins;
use super::record::RoundRecord;
use crate::data::Dataset;
use crate::error::Result;

/// Held-out sets evaluated after every round.
#[derive(Clone, Copy, Default)]
pub struct Eval<'a> {
    /// Clean test set (test-1).
    pub test: Option<&'a Dataset>,
    /// Watermarked test images labelled with the attack's target class (test-2).
    pub test2: Option<&'a Dataset>,
}

/// Progress of a run, for progress bars and the window.
#[derive(Clone, Debug)]
pub enum Event {
    /// Round `round` starts training `epochs` epochs on `trained_on` samples.
    /// `rounds` is the index of the run's last round: it can shrink once the run is known
    /// to forward-correct ([`Config::forward_schedule`]). `forward`: this round trains through
    /// a label-noise matrix (on every sample the user did not exclude, unless the final
    /// check chose the cut: [`Event::FinalChecked`]).
    RoundStarted {
        round: usize,
        rounds: usize,
        trained_on: usize,
        epochs: f64,
        forward: bool,
    },
    /// A batch finished inside round `round`.
    Tick { round: usize, tick: Tick },
    /// A round is complete: its record is final.
    RoundDone(Arc<RoundRecord>),
    /// Forward correction on [`Forward::Auto`](super::Forward::Auto) decided, before round
    /// `round` (the run's first after round 0), from round 0's model: `on` for this round and
    /// every later one, with the [`transition::shape`](super::transition::shape) it read (None:
    /// round 0 gave no estimate). Sent once a run.
    ForwardDecided {
        round: usize,
        on: bool,
        shape: Option<(f32, f32)>,
    },
    /// [`Forward::Auto`](super::Forward::Auto) read heavy random noise off round 0's model (the
    /// [`transition::shape`](super::transition::shape) `shape`, the confident joint's `noise`
    /// rate): the run starts again as co-teaching, `config` ([`Config::auto_coteaching`]);
    /// round 0's record is dropped, and the rounds that follow are co-teaching's. Sent once,
    /// instead of [`Event::ForwardDecided`].
    CoteachChosen {
        shape: (f32, f32),
        noise: f64,
        config: Box<Config>,
    },
    /// Round 0's model read the share of labels it contradicts (the confident joint's `noise`
    /// rate) and, with [`Config::tau_from_data`], round 0's cut and every later one keep
    /// `tau` (1 - noise, of the samples not `excluded` by the user, which are trimmed besides).
    /// Sent once a run, before round 0's [`Event::RoundDone`].
    TauChosen {
        noise: f64,
        tau: f64,
        excluded: usize,
    },
    /// Round 0's model agrees with the given labels no more than always answering their
    /// largest class (`baseline`) would ([`super::suggest::not_learned`]): its noise estimate
    /// is not read: tau from the data keeps `tau` as set, auto's forward correction and
    /// co-teaching stay off. Sent once a run, before round 0's [`Event::RoundDone`].
    Round0NotLearned { agreement: f64, baseline: f64 },
    /// Before final round `round` of a run forward correction on
    /// [`Forward::Auto`](super::Forward::Auto) turned on, for a learner cheap to retrain: what
    /// the held-out check measured and which training set it chose ([`super::final_check`]).
    FinalChecked { round: usize, check: FinalCheck },
}

/// Follows a run. Returning an error from `on` (normally `Error::Cancelled`) stops the run
/// before the next batch; the rounds finished so far stay in the history.
pub trait Observer {
    fn on(&mut self, event: &Event) -> Result<()>;
}

impl<F: FnMut(&Event) -> Result<()>> Observer for F {
    fn on(&mut self, event: &Event) -> Result<()> {
        self(event)
    }
}

/// An observer that ignores everything.
pub struct Quiet;

impl Observer for Quiet {
    fn on(&mut self, _event: &Event) -> Result<()> {
        Ok(())
    }
}

/// Where a run starts.
pub enum Start {
    /// Round 0 on all samples.
    Fresh,
    /// Continue after the last record of `history`, training the next round on `kept`
    /// (e.g. the cut a user moved on a finished round: "retrain at this tau").
    After { kept: Vec<bool> },
}

/// What a run learns from and is measured on.
#[derive(Clone, Copy)]
pub struct Inputs<'a> {
    pub data: &'a Dataset,
    /// Held-out sets evaluated after every round.
    pub eval: Eval<'a>,
    /// The truly bad samples, when known: scoring only (trim precision / recall), never
    /// training.
    pub bad: Option<&'a [bool]>,
    /// The true label of each sample when known (None for a sample the truth does not name):
    /// scoring only (relabel precision), never training.
    pub true_labels: Option<&'a [Option<u32>]>,
    /// The user's decisions (human-guided ITLM): excluded samples never train and are never
    /// kept; kept samples are always in the kept set. Relabelled samples come in `data` with
    /// their new label. Pinned keeps count toward tau's budget (ceil(tau * n) of all samples):
    /// they take the first places, the lowest losses among the rest fill what is left.
    pub pins: Option<&'a Pins>,
}

impl<'a> Inputs<'a> {
    /// `data` alone: no held-out sets, no truth.
    pub fn new(data: &'a Dataset) -> Self {
        Self {
            data,
            eval: Eval::default(),
            bad: None,
            true_labels: None,
            pins: None,
        }
    }
}
