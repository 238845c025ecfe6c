//! ITLM run configuration and its validation.

use serde::{Deserialize, Serialize};

use super::select::Selection;
use crate::error::{Error, Result};

/// How tau moves over the rounds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum TauSchedule {
    #[default]
    Constant,
    Linear,
}

crate::choice!(TauSchedule, "schedule", {
    Constant => "constant", "Every round keeps the fraction tau (the paper; measured best on Fashion-MNIST)";
    Linear => "linear", "Round t of T keeps 1 - (1 - tau) * t / T: trimming deepens as the model gets cleaner";
});

/// Which losses the cut is made on.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum LossAggregate {
    #[default]
    Last,
    Mean,
}

crate::choice!(LossAggregate, "loss aggregate", {
    Last => "last", "The losses of the round's model (the paper)";
    Mean => "mean", "The mean of the sample's losses over all rounds so far: steadier, slower to forget";
});

/// Whether the rounds after round 0 correct their loss for label noise ([`Config::transition`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum Forward {
    /// Plain ITLM: every round trains on its cut with the plain loss (the paper).
    Off,
    /// Every round after round 0 forward-corrected, on every sample not excluded.
    On,
    /// As the data shows: forward correction when round 0's model sees one-sided label flips
    /// ([`super::transition::round0_shape`] and [`super::transition::suggests_forward`]:
    /// at least 5% of the labels flipped,
    /// most flips going to their class's likeliest other class, as systematic flips leave);
    /// co-teaching from the start when it sees many spread flips (at least 15%, random
    /// noise: [`super::transition::calls_for_coteaching`], [`Config::auto_coteaching`]), where
    /// the run allows it ([`Config::may_auto_coteach`]) and the learner is a network on the
    /// pixels (not a head on embeddings); plain ITLM otherwise (clean data, a
    /// little random noise). Plain ITLM as well with restore, relabel or the clustering cut,
    /// which choose the final round's training set. The default (README, "Noisy labels":
    /// never below plain ITLM where measured).
    #[default]
    Auto,
}

crate::choice!(Forward, "forward correction", {
    Off => "off", "Plain ITLM: each round trains on its cut (the paper)";
    On => "on", "Round 1 and the final model (which trains on from round 1's) train on every sample through the label-noise matrix the previous round's model implies: for one-sided (systematic) flips";
    Auto => "auto", "As round 0's model reads the labels: forward correction when it sees one-sided flips (at least 5% flipped, most flips into their class's likeliest other class); co-teaching from the start, at the share its noise estimate leaves, when it sees many spread flips (at least 15%: random noise; not for a head on embeddings); plain ITLM otherwise";
});

/// [`Config::transition`] from a mode, or, in a human-readable format (the window's stored
/// settings), also from the flag that builds before [`Forward::Auto`] stored (false: off,
/// true: on), so that an upgrade does not lose the remembered settings. Run files are
/// versioned instead ([`crate::export::legacy`]).
fn forward_or_flag<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Forward, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Stored {
        Flag(bool),
        Mode(Forward),
    }
    if !d.is_human_readable() {
        return Forward::deserialize(d);
    }
    Ok(match Stored::deserialize(d)? {
        Stored::Flag(true) => Forward::On,
        Stored::Flag(false) => Forward::Off,
        Stored::Mode(f) => f,
    })
}

/// Co-teaching (Han et al., NeurIPS 2018): two models of the same kind train side by side and
/// never re-initialise; before each epoch each model trains on the samples its *peer* finds
/// easiest, a share that falls from everything to tau over the first `ramp` epochs (the
/// paper's `R(e) = 1 - (1 - tau) * min((e - 1) / ramp, 1)`). Selected per epoch over the whole
/// set (the paper selects per batch), as ITLM's cut is. A round is one epoch of both models;
/// its record is the pair's (their class probabilities averaged, [`super::coteach`]).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct CoTeach {
    /// Epochs of both models in all (= rounds: the last is round `epochs - 1`).
    pub epochs: usize,
    /// Epochs over which the share trained on falls from 1 to tau.
    pub ramp: usize,
    /// Pseudo-labels: once the ramp is over, each model also trains on the samples outside its
    /// share that its peer predicts with at least this probability (under label smoothing,
    /// this share of the most a smoothed model gives a class: [`CoTeach::pseudo_threshold`]),
    /// under the peer's prediction in place of the given label (the user's exclusions never;
    /// None = off). Off
    /// by default: +0.2 points at 60% random noise with tau at the clean share, but 1.6 points
    /// lost when tau cuts deeper than that (README, Noisy labels: pseudo-labels).
    pub pseudo: Option<f64>,
    /// Label smoothing of both models' training loss (Szegedy et al. 2016), in [0, 1): the
    /// cross-entropy against the given class weighted 1 - smoothing, plus the cross-entropy
    /// against every class evenly weighted smoothing ([`super::Learner::set_label_smoothing`];
    /// scoring, the cut and the histogram stay on the plain loss). A model that may not put all
    /// its probability on a label memorises a wrong one more slowly (Lukasik et al. 2020). 0 =
    /// plain cross-entropy (run files before version 19); [`CoTeach::SMOOTHING`] by default:
    /// at 60% random noise on Fashion-MNIST 20000 the pair gained 1.1 points on three seeds
    /// (README, Noisy labels: label smoothing).
    #[serde(default = "CoTeach::default_smoothing")]
    pub smoothing: f64,
}

impl Default for CoTeach {
    /// The schedule measured on Fashion-MNIST (README, Noisy labels): 25 epochs, the paper's
    /// 10-epoch ramp, no pseudo-labels, label smoothing 0.1 (the textbook value, not tuned).
    fn default() -> Self {
        Self {
            epochs: 25,
            ramp: 10,
            pseudo: None,
            smoothing: Self::SMOOTHING,
        }
    }
}

impl CoTeach {
    /// The peer's confidence a pseudo-label needs when they are turned on.
    pub const PSEUDO: f64 = 0.95;

    /// The label smoothing co-teaching trains with by default (Szegedy et al.'s 0.1).
    pub const SMOOTHING: f64 = 0.1;

    /// [`CoTeach::SMOOTHING`], for settings stored before the field existed (the window's).
    fn default_smoothing() -> f64 {
        Self::SMOOTHING
    }

    /// Whether `eps` is a label smoothing a model can train with: in [0, 1) (a NaN is not).
    pub fn smoothing_in_range(eps: f64) -> bool {
        (0.0..1.0).contains(&eps)
    }

    /// ", label smoothing E" where the models smooth their labels, else nothing: the end of a
    /// co-teaching run's description.
    pub fn smoothing_note(&self) -> String {
        if self.smoothing > 0.0 {
            format!(", label smoothing {}", self.smoothing)
        } else {
            String::new()
        }
    }

    /// Whether epoch `e` (1-based) trains on pseudo-labels: after the ramp, when set.
    pub fn pseudo_in(&self, e: usize) -> Option<f64> {
        self.pseudo.filter(|_| e > self.ramp)
    }

    /// The probability a peer's prediction needs to be a pseudo-label, for `confidence` (the
    /// setting, [`CoTeach::pseudo`]) among `classes` classes: that share of the most a model
    /// trained with this label smoothing puts on one class (1 - smoothing + smoothing /
    /// classes: 0.91 of ten classes at 0.1), so that a confidence means the same with and
    /// without smoothing (at 0.1, p >= 0.95 would ask more than a fitted model gives).
    pub fn pseudo_threshold(&self, confidence: f64, classes: usize) -> f64 {
        let k = classes.max(1) as f64;
        confidence * (1.0 - self.smoothing + self.smoothing / k)
    }

    /// The share of all samples each model trains on in epoch `e` (1-based), with `tau` the
    /// share kept at the end.
    pub fn share(&self, e: usize, tau: f64) -> f64 {
        let t = if self.ramp == 0 {
            1.0
        } else {
            (e.saturating_sub(1) as f64 / self.ramp as f64).min(1.0)
        };
        1.0 - (1.0 - tau) * t
    }
}

/// Training-time augmentation of image learners ([`super::Learner::set_augment`]): each
/// training image, each time it is drawn, moved by up to `shift` pixels in each direction (its
/// edge pixels repeated) and, with `flip`, mirrored left-right at even odds. Scoring sees the
/// images as they are. A model that sees a moved image each epoch memorises a wrong label more
/// slowly (README, Noisy labels: augmentation). Mirroring suits photos and clothes, not digits
/// or text.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Augment {
    /// Largest move in pixels, each direction (0 = none).
    pub shift: u8,
    /// Mirror left-right at even odds.
    pub flip: bool,
}

impl Augment {
    /// Off: the images as they are.
    pub const OFF: Augment = Augment {
        shift: 0,
        flip: false,
    };
    /// Moves of up to 2 pixels, no mirroring (`--augment shift`).
    pub const SHIFT: Augment = Augment {
        shift: 2,
        flip: false,
    };
    /// The largest move accepted, in pixels.
    pub const MAX_SHIFT: u8 = 8;

    pub fn is_off(&self) -> bool {
        self.shift == 0 && !self.flip
    }
}

impl std::fmt::Display for Augment {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match (self.shift, self.flip) {
            (0, false) => write!(f, "off"),
            (0, true) => write!(f, "flip"),
            (s, false) => write!(f, "shift {s}"),
            (s, true) => write!(f, "shift {s} + flip"),
        }
    }
}

impl std::str::FromStr for Augment {
    type Err = String;

    /// `off`, `shift`, `shift:N`, `flip`, or a shift and flip joined by `+` or `,`
    /// (`shift+flip`, `shift:3,flip`); `shift` alone moves by up to 2 pixels.
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        let mut a = Augment::OFF;
        let s = s.trim().to_ascii_lowercase();
        if s == "off" || s == "none" {
            return Ok(a);
        }
        for part in s.split(['+', ',']).map(str::trim) {
            match part.split_once(':') {
                _ if part == "flip" => a.flip = true,
                _ if part == "shift" => a.shift = Augment::SHIFT.shift,
                Some(("shift", n)) => {
                    a.shift = n
                        .parse::<u8>()
                        .ok()
                        .filter(|&n| n <= Augment::MAX_SHIFT)
                        .ok_or_else(|| {
                            format!(
                                "shift:{n}: the move is a whole number of pixels, 0 to {}",
                                Augment::MAX_SHIFT
                            )
                        })?
                }
                _ => {
                    return Err(format!(
                        "augmentation '{part}': off, shift, shift:N, flip, or shift+flip"
                    ))
                }
            }
        }
        Ok(a)
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Config {
    /// Fraction of samples kept, in (0, 1]. 1.0 is the naive baseline (no trimming).
    pub tau: f64,
    /// Trim-and-retrain iterations after round 0 (>= 1). Round `rounds` is the last one.
    pub rounds: usize,
    /// Epochs of each early round (round 0 .. rounds-1), > 0; fractions allowed (0.1 = a tenth
    /// of the batches of one pass): early rounds only have to separate clean from bad.
    pub epochs: f64,
    /// Length of round 0 in epochs when different from `epochs` (fractions allowed, > 0):
    /// a very short first round keeps fast-learned bad samples (e.g. backdoors) at high loss.
    pub round0_epochs: Option<f64>,
    /// Epochs of the last round, whose model is the one reported and kept.
    pub final_epochs: usize,
    pub select: Selection,
    pub schedule: TauSchedule,
    pub aggregate: LossAggregate,
    /// Re-initialise the model every round (the authors' code); false = warm start: the early
    /// rounds keep training one model (their losses are checkpoints of one run), and only the
    /// last round starts fresh.
    pub reinit: bool,
    /// Score early rounds out of fold: with K >= 2 folds, K fresh models each train on the
    /// other folds and score their own (a sample is never scored by a model that fitted it).
    /// 1 = off (the paper). The last round always trains one model on the whole kept set.
    pub folds: usize,
    /// Round 0 as an ensemble: K fresh models (other seeds), each trained on every sample for
    /// round 0's epochs, their losses averaged. A very short round 0 varies a lot between
    /// initialisations; the average does not. 1 = off (the paper).
    pub round0_models: usize,
    pub seed: u64,
    /// Give back the hard clean samples (classifiers): the cut made by the last round's
    /// full-length model keeps its trimmed samples only in classes whose trimmed samples show a
    /// one-sided confusion (many given g predicted q, few the other way: what a relabelling
    /// attack or a systematic flip leaves, see [`super::select::restore`]); the others go back,
    /// and one more round trains the final model on that set. Off = the paper.
    pub restore: bool,
    /// Relabel before the final round (classifiers): a trimmed sample whose predicted class
    /// is the same under round 0's model, the previous round's and the last early round's,
    /// and under each at least as probable as that model's kept samples of the class are, on
    /// average, of their own label (cleanlab's per-class threshold, see [`super::relabel`]),
    /// gets that class, and the final model trains on the kept samples plus the relabelled
    /// ones. Off = the paper. Not with `restore`.
    #[serde(default)]
    pub relabel: bool,
    /// The activation-clustering cut before the final round (classifiers with a hidden layer,
    /// see [`super::clusters`]): a probe model trains on every sample for `final_epochs`,
    /// each class's penultimate activations split in two, and the smaller cluster of a class
    /// whose members the early cuts trimmed far more often than the rest and the last model
    /// puts more in another class than in their own stays out of the final model; the members
    /// that model (trained without them) calls by that other class train under it in the
    /// final model trained again ([`super::clusters::repairs`]). For backdoors whose stamped
    /// images look like their target class. Off = the paper.
    pub clusters: bool,
    /// Forward-correct the loss for label noise (classifiers, see [`super::transition`]):
    /// round 0 trains plainly on every sample; every later round trains on every sample the
    /// user did not exclude with the transition matrix the previous round's model implies
    /// (cleanlab's confident joint; each round's estimate is the next one's;
    /// [`super::transition::for_training`]), so that flipped labels do not bend the model,
    /// on the shorter [`Config::forward_schedule`]. The cut still ranks
    /// the samples by the round's plain loss (what the window shows and the exports flag), but
    /// no longer chooses what trains. Off = the paper; [`Forward::Auto`] (the default)
    /// decides from round 0's model. `On` is not allowed with `restore`, `relabel` or
    /// `clusters`, which choose the final round's training set (`Auto` is off with them).
    #[serde(deserialize_with = "forward_or_flag")]
    pub transition: Forward,
    /// Co-teaching instead of ITLM's rounds ([`CoTeach`]; classifiers whose learner can train
    /// a second model): `rounds`, `epochs`, `round0_epochs`, `final_epochs`, `reinit` and the
    /// schedule do not apply, tau is the share each model ends up training on. None = ITLM.
    /// Not with folds, a round-0 ensemble, restore, relabel, the clustering cut or forward
    /// correction on (`Auto` is off with it).
    #[serde(default)]
    pub coteach: Option<CoTeach>,
    /// Training-time augmentation of image learners (off by default: it helped co-teaching
    /// at one tau and hurt it at another and on fewer images, README). Learners on
    /// embeddings ignore it.
    #[serde(default)]
    pub augment: Augment,
    /// Tau from the data (classifiers; ITLM's rounds): round 0's cut and every later one keep
    /// the share round 0's noise estimate leaves (1 - the confident joint's noise rate, at
    /// least 0.05; [`Event::TauChosen`](super::Event::TauChosen)), instead of `tau`, which
    /// then only stands where there is no estimate (a generative learner). With samples the
    /// user excluded, the share is of the others ([`super::suggest::tau_beside_excluded`]).
    /// What `run` does
    /// without `--tau` and the window with its "from the data" box: a constant tau trims
    /// its share even of a clean set (README, clean Fashion-MNIST 20000: 79.7% at tau 0.7,
    /// 89.3% with tau from the data, 0.97). Co-teaching (`coteach`) does not read it. Off =
    /// `tau` as set.
    #[serde(default)]
    pub tau_from_data: bool,
}

/// The models one round trains: how many, and the share of the round's training set each
/// trains on (for progress estimates).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RoundModels {
    pub count: usize,
    pub train_share: f64,
    /// Share of all samples each model scores.
    pub score_share: f64,
    /// Cross-fitted: each model scores only the samples it did not train on.
    pub cross_fitted: bool,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            tau: 0.7,
            rounds: 4,
            epochs: 5.0,
            round0_epochs: None,
            final_epochs: 15,
            select: Selection::Global,
            schedule: TauSchedule::Constant,
            aggregate: LossAggregate::Last,
            reinit: true,
            folds: 1,
            round0_models: 1,
            seed: 0,
            restore: false,
            relabel: false,
            clusters: false,
            transition: Forward::Auto,
            coteach: None,
            augment: Augment::OFF,
            tau_from_data: false,
        }
    }
}

impl Config {
    /// What a user starts from (`run` without options, the window on a set of their own):
    /// the defaults with tau from the data ([`Config::tau_from_data`]) and the floored cut
    /// ([`Selection::Floored`]: no rare class emptied). [`Config::default`] keeps tau as set
    /// and the paper's global cut, for code and tests that choose them.
    pub fn user_default() -> Config {
        Config {
            tau_from_data: true,
            select: Selection::Floored,
            ..Config::default()
        }
    }

    /// Clear errors for values out of range.
    pub fn validate(&self) -> Result<()> {
        if !(self.tau > 0.0 && self.tau <= 1.0) {
            return Err(Error::Config(format!(
                "tau must be in (0, 1] (the fraction of samples kept), got {}",
                self.tau
            )));
        }
        if self.rounds < 1 {
            return Err(Error::Config("rounds must be at least 1".into()));
        }
        if self.rounds > 1000 {
            return Err(Error::Config(format!(
                "rounds must be at most 1000, got {}",
                self.rounds
            )));
        }
        if !(self.epochs > 0.0 && self.epochs <= 10_000.0) {
            return Err(Error::Config(format!(
                "epochs per round must be in (0, 10000] (fractions allowed), got {}",
                self.epochs
            )));
        }
        if self.final_epochs < 1 || self.final_epochs > 10_000 {
            return Err(Error::Config(format!(
                "final epochs must be in 1..=10000, got {}",
                self.final_epochs
            )));
        }
        if self.folds < 1 || self.folds > 10 {
            return Err(Error::Config(format!(
                "folds must be in 1..=10, got {}",
                self.folds
            )));
        }
        if self.round0_models < 1 || self.round0_models > 20 {
            return Err(Error::Config(format!(
                "round-0 models must be in 1..=20, got {}",
                self.round0_models
            )));
        }
        if self.relabel && self.restore {
            return Err(Error::Config(
                "relabel and restore both decide what becomes of the trimmed samples: choose one"
                    .into(),
            ));
        }
        if self.clusters && self.relabel {
            return Err(Error::Config(
                "the clustering cut and relabel both change the final round's training set: choose one"
                    .into(),
            ));
        }
        if self.transition == Forward::On && self.chooses_final_set() {
            return Err(Error::Config(
                "forward correction trains every round after round 0 on every sample; restore, relabel and the clustering cut choose the final round's training set: choose one"
                    .into(),
            ));
        }
        if let Some(c) = self.coteach {
            if c.epochs < 1 || c.epochs > 1000 {
                return Err(Error::Config(format!(
                    "co-teaching epochs must be in 1..=1000, got {}",
                    c.epochs
                )));
            }
            if c.ramp > c.epochs {
                return Err(Error::Config(format!(
                    "the co-teaching ramp ({}) is longer than its epochs ({})",
                    c.ramp, c.epochs
                )));
            }
            if let Some(p) = c.pseudo {
                if !(p > 0.0 && p <= 1.0) {
                    return Err(Error::Config(format!(
                        "co-teaching's pseudo-label confidence must be in (0, 1], got {p}"
                    )));
                }
            }
            if !CoTeach::smoothing_in_range(c.smoothing) {
                return Err(Error::Config(format!(
                    "co-teaching's label smoothing must be in [0, 1), got {}",
                    c.smoothing
                )));
            }
            let other = [
                (self.folds > 1, "folds"),
                (self.round0_models > 1, "a round-0 ensemble"),
                (self.restore, "restore"),
                (self.relabel, "relabel"),
                (self.clusters, "the clustering cut"),
                (self.transition == Forward::On, "forward correction"),
            ];
            if let Some((_, what)) = other.iter().find(|(on, _)| *on) {
                return Err(Error::Config(format!(
                    "co-teaching trains two models of its own and chooses their samples itself; it does not combine with {what}: choose one"
                )));
            }
        }
        if let Some(e) = self.round0_epochs {
            if !(e > 0.0 && e <= 10_000.0) {
                return Err(Error::Config(format!(
                    "round-0 epochs must be in (0, 10000], got {e}"
                )));
            }
        }
        Ok(())
    }

    /// Whether restore, relabel or the clustering cut choose the final round's training set
    /// (which forward correction, training on every sample, cannot share).
    pub fn chooses_final_set(&self) -> bool {
        self.restore || self.relabel || self.clusters
    }

    /// Forward correction as the run applies it: `Auto` is off when something else chooses
    /// the final round's training set.
    pub fn forward(&self) -> Forward {
        match self.transition {
            Forward::Auto if self.chooses_final_set() || self.coteach.is_some() => Forward::Off,
            f => f,
        }
    }

    /// Whether [`Forward::Auto`] may turn this run into co-teaching after round 0: auto in
    /// effect ([`Config::forward`]: nothing else chooses the final set) and neither folds nor
    /// a round-0 ensemble (which co-teaching does not combine with: a protocol the user set).
    pub fn may_auto_coteach(&self) -> bool {
        self.forward() == Forward::Auto && self.folds == 1 && self.round0_models == 1
    }

    /// What [`Forward::Auto`] runs when round 0 reads heavy random noise: this config set up
    /// for co-teaching ([`Config::coteaching`], its default schedule) at the share the noise
    /// estimate `noise` leaves (1 - noise, to the hundredth, at least 0.05), as the window's
    /// co-teaching hint offers. The estimate errs on the deep side for random noise (60% reads
    /// as 64 - 66%), where co-teaching loses little (README, Noisy labels).
    pub fn auto_coteaching(&self, noise: f64) -> Config {
        let tau = super::suggest::tau_leaving(noise).clamp(0.05, 1.0);
        Config {
            tau,
            ..self.coteaching(CoTeach::default())
        }
    }

    /// The schedule of a run that forward-corrects ([`Config::forward`] on, or auto once round
    /// 0 turned it on), continuing after round `first - 1`: at most one forward-corrected
    /// round between round 0 and the final model, so `rounds` is at most 2. A forward round
    /// trains on every sample and only refines the matrix the next one trains with; two more
    /// changed nothing measurable (README, Noisy labels), while each cost a round of training
    /// on the whole set. A continued run still trains at least one more round.
    pub fn forward_schedule(&self, first: usize) -> Config {
        Config {
            rounds: self.rounds.min(first.max(2)),
            ..self.clone()
        }
    }

    /// The index of the last round of a run of this config that has left `history`: the
    /// forward schedule's once the run forward-corrects (`on`, or a round trained through a
    /// matrix), never before its newest round.
    pub fn planned_last_round(&self, history: &[std::sync::Arc<super::RoundRecord>]) -> usize {
        let newest = history.last().map_or(0, |r| r.round);
        let last = if self.forwards_after(history) {
            self.forward_schedule(0).last_round()
        } else {
            self.last_round()
        };
        last.max(newest)
    }

    /// Whether the rounds after `history` forward-correct: `on`, or `auto` once a round of
    /// `history` trained through a matrix.
    pub fn forwards_after(&self, history: &[std::sync::Arc<super::RoundRecord>]) -> bool {
        self.forward() == Forward::On
            || (self.forward() == Forward::Auto && history.iter().any(|r| !r.transition.is_empty()))
    }

    /// On a [`Config::forward_schedule`] started at round `first`: the epochs the final round
    /// trains when it continues the forward round's model instead of starting fresh, so that
    /// the final model has trained `final_epochs` in all; None when it starts fresh (no
    /// forward round before it in this run, one trained as several models, or nothing left
    /// to train). The forward round trained on the same samples through a matrix, never on
    /// a cut, so there is nothing for a fresh start to forget; the final round trains on
    /// with the matrix that round's model implies.
    pub fn continued_final_epochs(&self, first: usize) -> Option<f64> {
        let prev = self
            .rounds
            .checked_sub(1)
            .filter(|&p| p >= 1 && p >= first)?;
        if self.models_at(prev).count != 1 {
            return None;
        }
        let more = self.final_epochs as f64 - self.epochs_at(prev);
        (more >= 1.0).then_some(more)
    }

    /// The fraction kept by the selection made after round `round` (0-based) of the schedule.
    pub fn tau_at(&self, round: usize) -> f64 {
        if let Some(c) = self.coteach {
            // The cut after round r trains epoch r + 2.
            return c.share(round + 2, self.tau);
        }
        match self.schedule {
            TauSchedule::Constant => self.tau,
            TauSchedule::Linear => {
                let t = ((round + 1) as f64 / self.rounds as f64).min(1.0);
                1.0 - (1.0 - self.tau) * t
            }
        }
    }

    /// The index of the last round: `rounds`, or one more with [`Config::restore`] (the round
    /// that trains the final model on the restored set).
    pub fn last_round(&self) -> usize {
        if let Some(c) = self.coteach {
            return c.epochs.saturating_sub(1);
        }
        self.rounds + usize::from(self.restore)
    }

    /// Whether round `round`'s selection restores ([`Config::restore`]): the full-length
    /// rounds' (from round `rounds` on).
    pub fn restores_at(&self, round: usize) -> bool {
        self.restore && round >= self.rounds
    }

    /// Whether round `round`'s selection relabels ([`Config::relabel`]): the last early
    /// round's, whose cut trains the final model.
    pub fn relabels_at(&self, round: usize) -> bool {
        self.relabel && round + 1 == self.rounds
    }

    /// Whether the activation-clustering cut ([`Config::clusters`]) runs before round `round`
    /// trains: the last round's.
    pub fn clusters_at(&self, round: usize) -> bool {
        self.clusters && round == self.last_round()
    }

    /// Epochs that round `round` trains: `final_epochs` from round `rounds` on.
    pub fn epochs_at(&self, round: usize) -> f64 {
        if self.coteach.is_some() {
            return 1.0;
        }
        if round >= self.rounds {
            self.final_epochs as f64
        } else if round == 0 {
            self.round0_epochs.unwrap_or(self.epochs)
        } else {
            self.epochs
        }
    }

    /// The models round `round` trains: one per fold in a cross-fitted early round, the
    /// round-0 ensemble in round 0, else one. The last round always trains one. Co-teaching's
    /// rounds train two.
    pub fn models_at(&self, round: usize) -> RoundModels {
        let one = RoundModels {
            count: 1,
            train_share: 1.0,
            score_share: 1.0,
            cross_fitted: false,
        };
        if self.coteach.is_some() {
            // Each trains on its share of the set (the round's `trained_on`).
            return RoundModels { count: 2, ..one };
        }
        if round >= self.rounds {
            one
        } else if round == 0 {
            RoundModels {
                count: self.round0_models,
                ..one
            }
        } else if self.folds > 1 {
            let k = self.folds as f64;
            RoundModels {
                count: self.folds,
                train_share: (k - 1.0) / k,
                score_share: 1.0 / k,
                cross_fitted: true,
            }
        } else {
            one
        }
    }

    /// This config set up for co-teaching with `ct`: what it does not combine with
    /// ([`Config::validate`]) turned off (restore, relabel, the clustering cut, folds, the
    /// round-0 ensemble; forward correction `on` goes off, `auto` stays and is off with it).
    pub fn coteaching(&self, ct: CoTeach) -> Config {
        Config {
            coteach: Some(ct),
            restore: false,
            relabel: false,
            clusters: false,
            folds: 1,
            round0_models: 1,
            transition: match self.transition {
                Forward::On => Forward::Off,
                f => f,
            },
            ..self.clone()
        }
    }

    /// What trains in a run of this config, given the learner's own description: the learner,
    /// or co-teaching's two of it.
    pub fn describe_learner(&self, learner: &str) -> String {
        match self.coteach {
            Some(c) => format!(
                "co-teaching ({} epochs, ramp {}{}{}): two of {learner}",
                c.epochs,
                c.ramp,
                match c.pseudo {
                    Some(p) => format!(", pseudo-labels at p >= {p}"),
                    None => String::new(),
                },
                c.smoothing_note()
            ),
            None => learner.to_string(),
        }
    }

    /// Total epochs (in units of the whole set) the schedule trains, for ETA estimates.
    pub fn total_epochs(&self) -> f64 {
        if let Some(c) = self.coteach {
            // Two models, each on its share of the set.
            return (1..=c.epochs).map(|e| 2.0 * c.share(e, self.tau)).sum();
        }
        let probe = if self.clusters {
            self.final_epochs as f64
        } else {
            0.0
        };
        (0..=self.last_round())
            .map(|r| self.epochs_at(r))
            .sum::<f64>()
            + probe
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn augmentation_reads_and_says_its_settings() {
        let read = |s: &str| s.parse::<Augment>();
        assert_eq!(read("off"), Ok(Augment::OFF));
        assert_eq!(read("shift"), Ok(Augment::SHIFT));
        assert_eq!(
            read("flip"),
            Ok(Augment {
                shift: 0,
                flip: true
            })
        );
        assert_eq!(
            read("Shift:3 + flip"),
            Ok(Augment {
                shift: 3,
                flip: true
            })
        );
        assert_eq!(
            read("flip,shift"),
            Ok(Augment {
                shift: 2,
                flip: true
            })
        );
        assert!(read("shift:9").unwrap_err().contains("0 to 8"));
        assert!(read("rotate")
            .unwrap_err()
            .contains("augmentation 'rotate'"));
        assert_eq!(
            Augment {
                shift: 3,
                flip: true
            }
            .to_string(),
            "shift 3 + flip"
        );
        assert_eq!(Augment::OFF.to_string(), "off");
        // Off by default, for ITLM's rounds and co-teaching alike; co-teaching keeps a
        // setting.
        assert!(Config::default().augment.is_off());
        let c = Config::default().coteaching(CoTeach::default());
        assert!(c.augment.is_off());
        let flip = Config {
            augment: Augment {
                shift: 0,
                flip: true,
            },
            ..Default::default()
        };
        assert_eq!(flip.coteaching(CoTeach::default()).augment, flip.augment);
    }

    /// Co-teaching smooths its labels by 0.1 unless told otherwise (auto's co-teaching too),
    /// says so in its description, refuses a smoothing outside [0, 1), and a setting stored
    /// before the field existed reads the default.
    #[test]
    fn coteaching_smooths_its_labels_by_default() {
        assert_eq!(CoTeach::default().smoothing, CoTeach::SMOOTHING);
        assert_eq!(CoTeach::SMOOTHING, 0.1);
        let auto = Config::default().auto_coteaching(0.6);
        assert_eq!(auto.coteach.map(|c| c.smoothing), Some(0.1));
        assert!(auto.describe_learner("cnn").contains("label smoothing 0.1"));
        let plain = Config::default().coteaching(CoTeach {
            smoothing: 0.0,
            ..Default::default()
        });
        assert!(!plain.describe_learner("cnn").contains("smoothing"));
        assert!(plain.validate().is_ok());
        for bad in [1.0, -0.05, f64::NAN] {
            let c = Config::default().coteaching(CoTeach {
                smoothing: bad,
                ..Default::default()
            });
            let e = c.validate().unwrap_err().to_string();
            assert!(e.contains("label smoothing must be in [0, 1)"), "{e}");
        }
        let stored: CoTeach =
            serde_json::from_str(r#"{"epochs": 25, "ramp": 10, "pseudo": null}"#).unwrap();
        assert_eq!(stored.smoothing, CoTeach::SMOOTHING);
        // A pseudo-label's confidence is a share of what a smoothed model can give a class.
        let smoothed = CoTeach::default();
        assert!((smoothed.pseudo_threshold(0.95, 10) - 0.95 * 0.91).abs() < 1e-12);
        let unsmoothed = CoTeach {
            smoothing: 0.0,
            ..Default::default()
        };
        assert_eq!(unsmoothed.pseudo_threshold(0.95, 10), 0.95);
    }

    #[test]
    fn validation_messages() {
        let c = Config {
            tau: 0.0,
            ..Default::default()
        };
        assert!(c
            .validate()
            .unwrap_err()
            .to_string()
            .contains("tau must be in (0, 1]"));
        let c = Config {
            tau: 1.5,
            ..Default::default()
        };
        assert!(c.validate().unwrap_err().to_string().contains("got 1.5"));
        let c = Config {
            tau: f64::NAN,
            ..Default::default()
        };
        assert!(c.validate().is_err());
        let c = Config {
            rounds: 0,
            ..Default::default()
        };
        assert!(c.validate().unwrap_err().to_string().contains("rounds"));
        let c = Config {
            epochs: 0.0,
            ..Default::default()
        };
        assert!(c.validate().unwrap_err().to_string().contains("epochs"));
        let c = Config {
            round0_epochs: Some(0.0),
            ..Default::default()
        };
        assert!(c.validate().is_err());
        let c = Config {
            relabel: true,
            restore: true,
            ..Default::default()
        };
        assert!(c.validate().unwrap_err().to_string().contains("choose one"));
        Config::default().validate().unwrap();
    }

    #[test]
    fn relabels_before_the_final_round() {
        let c = Config {
            rounds: 3,
            relabel: true,
            ..Default::default()
        };
        let at: Vec<bool> = (0..=3).map(|r| c.relabels_at(r)).collect();
        assert_eq!(at, [false, false, true, false]);
        assert_eq!(c.last_round(), 3);
        assert!(!Config::default().relabels_at(3));
    }

    #[test]
    fn schedule() {
        let c = Config {
            tau: 0.6,
            rounds: 4,
            epochs: 3.0,
            final_epochs: 9,
            schedule: TauSchedule::Linear,
            ..Default::default()
        };
        let t: Vec<f64> = (0..4).map(|r| c.tau_at(r)).collect();
        assert!((t[0] - 0.9).abs() < 1e-12 && (t[3] - 0.6).abs() < 1e-12);
        let c = Config {
            tau: 0.6,
            schedule: TauSchedule::Constant,
            ..c
        };
        assert_eq!(c.tau_at(0), 0.6);
        assert_eq!(c.epochs_at(4), 9.0);
        assert_eq!(c.epochs_at(1), 3.0);
        assert_eq!(c.total_epochs(), 3.0 * 4.0 + 9.0);
    }

    #[test]
    fn models_per_round() {
        let c = Config {
            rounds: 3,
            folds: 4,
            round0_models: 5,
            ..Default::default()
        };
        let m: Vec<(usize, bool)> = (0..=3)
            .map(|r| (c.models_at(r).count, c.models_at(r).cross_fitted))
            .collect();
        assert_eq!(m, [(5, false), (4, true), (4, true), (1, false)]);
        assert_eq!(c.models_at(1).train_share, 0.75);
        assert_eq!(c.models_at(0).train_share, 1.0);
        assert!(Config {
            round0_models: 0,
            ..c.clone()
        }
        .validate()
        .is_err());
        assert!(Config {
            round0_models: 21,
            ..c
        }
        .validate()
        .is_err());
    }
}
