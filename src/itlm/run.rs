//! The ITLM rounds: train on all, then repeatedly score, keep the lowest-loss share,
//! re-initialise and retrain on the kept set. One code path for the CLI and the window.
//! What a run takes and reports (inputs, start, events, observers) is in `run_io`, re-exported
//! here.

use std::sync::Arc;
use std::time::Instant;

use super::clusters;
use super::config::{Config, Forward, LossAggregate};
use super::final_check::{self, FinalSet};
use super::learner::{Learner, Phase, Tick};
use super::metrics::{accuracy, finite_mean, RoundMetrics, TrimQuality};
use super::pins::Pins;
use super::record::RoundRecord;
use super::relabel::{self, RelabelQuality};
use super::scoring::{averaged, check_finite, check_scored, fold_plans, scored};
use super::select;
use super::spectral;
use super::transition;
use crate::data::Dataset;
use crate::error::{Error, Result};
use crate::rng::Rng;

pub use super::run_io::{Eval, Event, Inputs, Observer, Quiet, Start};

/// Ticks of scoring a held-out set in round `round`, reported to `observer` as [`Phase::Test`].
pub(super) fn test_ticks(
    observer: &mut dyn Observer,
    round: usize,
) -> impl FnMut(Tick) -> Result<()> + '_ {
    move |t: Tick| {
        observer.on(&Event::Tick {
            round,
            tick: Tick {
                phase: Phase::Test,
                ..t
            },
        })
    }
}

/// The seed a round's fresh model is initialised with. The final check's retrain of a forward
/// round reproduces that round through this and [`train_seed`].
pub(super) fn init_seed(seed: u64, round: usize) -> u64 {
    Rng::derive(seed, round as u64).next_u64()
}

/// The seed of a round's training (batch order) and of its fold plans.
pub(super) fn train_seed(seed: u64, round: usize) -> u64 {
    Rng::derive(seed, 1000 + round as u64).next_u64()
}

/// The transition matrix a round after round 0 trains with ([`Config::transition`]): the
/// previous round's model's (round 0's trained plainly and briefly, before it fits the flips;
/// the later ones forward-corrected, so they do not fit them) over the samples `untrusted`
/// (those the user did not decide: excluded ones never train, kept and relabelled ones train
/// plainly, [`Learner::set_trusted`]), against the labels `trained` gives; each class keeping
/// only its likeliest flip when the flips are one-sided ([`transition::for_training`]).
fn transition_from_previous(
    history: &[Arc<RoundRecord>],
    trained: &Dataset,
    untrusted: &[usize],
) -> Option<Vec<f32>> {
    let prev = history.last()?;
    transition::estimate(
        trained.labels(),
        &prev.probs,
        trained.num_classes(),
        untrusted,
    )
    .map(|t| transition::for_training(t, trained.num_classes()))
    // A class no sample is confidently of: the previous round's matrix stands.
    .or_else(|| Some(prev.transition.clone()).filter(|t| !t.is_empty()))
}

/// Run the rounds of `config`, appending each finished round to `history`. On error
/// (cancellation, divergence) the rounds already in `history` stay valid.
pub fn run<L: Learner + ?Sized>(
    learner: &mut L,
    inputs: Inputs<'_>,
    config: &Config,
    start: Start,
    history: &mut Vec<Arc<RoundRecord>>,
    observer: &mut dyn Observer,
) -> Result<()> {
    let Inputs {
        data,
        eval,
        bad,
        true_labels,
        pins,
    } = inputs;
    config.validate()?;
    let n = data.len();
    if n == 0 {
        return Err(Error::Config("the dataset has no samples".into()));
    }
    // Unlabelled, or fewer than two classes with samples (an IDX set whose labels are all one
    // value had trained: its other classes were named, empty).
    if let (true, Some(why)) = (learner.is_classifier(), data.unclassifiable()) {
        return Err(Error::Config(if data.is_unlabelled() {
            why
        } else {
            format!("{why}; the generative mode ranks samples without labels")
        }));
    }
    if let Some(b) = bad {
        if b.len() != n {
            return Err(Error::Config(format!(
                "ground truth has {} entries for {n} samples",
                b.len()
            )));
        }
    }
    if let Some(t) = true_labels {
        if t.len() != n {
            return Err(Error::Config(format!(
                "true labels for {} of {n} samples",
                t.len()
            )));
        }
    }
    if config.relabel && !learner.is_classifier() {
        return Err(Error::Config(
            "relabelling needs a classifier's class probabilities; the generative mode (VAE) has none"
                .into(),
        ));
    }
    if config.clusters
        && (!learner.is_classifier() || learner.features(data, &[], &mut |_| Ok(()))?.is_none())
    {
        return Err(Error::Config(format!(
            "the clustering cut splits a classifier's penultimate activations; {} has none",
            learner.describe()
        )));
    }
    if let Some(p) = pins {
        p.check(n)?;
    }
    learner.set_augment(config.augment)?;
    // ITLM's rounds train on plain cross-entropy; co-teaching sets its own smoothing.
    learner.set_label_smoothing(0.0)?;
    if let Some(ct) = config.coteach {
        return super::coteach::run(learner, inputs, config, ct, start, history, observer);
    }
    let pins = pins.filter(|p| !p.is_none());
    let excluded = |i: usize| pins.is_some_and(|p| p.exclude[i]);
    let pinned_in = |i: usize| pins.is_some_and(|p| p.keep[i]);
    // The labels of the samples the user kept or relabelled are the user's word, not noise:
    // a forward-corrected round trains them on plain cross-entropy, and the transition
    // matrix describes the other samples only (it is estimated on them).
    learner.set_trusted(pins.filter(|p| p.kept() > 0).map(|p| p.keep.clone()))?;
    let untrusted: Vec<usize> = (0..n).filter(|&i| !excluded(i) && !pinned_in(i)).collect();
    // Every sample the user did not exclude.
    let everyone: Vec<usize> = (0..n).filter(|&i| !excluded(i)).collect();
    // What forward correction on auto decided from round 0 (once a run).
    let mut auto_forward: Option<bool> = None;
    let (first, mut train_idx) = match start {
        Start::Fresh => {
            history.clear();
            (0, everyone.clone())
        }
        Start::After { kept } => {
            if kept.len() != n || history.is_empty() {
                return Err(Error::Config("nothing to continue from".into()));
            }
            let idx: Vec<usize> = (0..n)
                .filter(|&i| (kept[i] || pinned_in(i)) && !excluded(i))
                .collect();
            (history.len(), idx)
        }
    };
    if train_idx.is_empty() {
        return Err(Error::Config("the selection keeps no samples".into()));
    }
    let all: Vec<usize> = (0..n).collect();
    // The schedule this run follows: `config`'s, or its forward schedule once the run is
    // known to forward-correct (from the start with `on`, after round 0 with `auto`).
    let forwards = config.forward() == Forward::On && learner.is_classifier();
    let mut cfg = if forwards {
        config.forward_schedule(first)
    } else {
        config.clone()
    };
    let mut last = cfg.last_round();
    let spectral =
        learner.is_classifier() && spectral::round_wants_spectral(n, learner.feature_dim());
    // The set the next round trains on: `data`, or a copy with the relabelled samples' new
    // labels ([`Config::relabel`]); every round is scored against the given labels.
    let mut relabelled_data: Option<Dataset> = None;
    // Round 0's out-of-fold scores for a learner cheap to retrain, made once a run: tau from
    // the data reads them at round 0, relabelling's round-0 vote before the final round.
    let mut round0_oof: Option<super::Scores> = None;
    // Round 0's model learned nothing of the labels (its agreement and the largest class's
    // share): its noise estimate is read by nothing.
    let mut round0_blind: Option<(f64, f64)> = None;
    let mut round = first;
    while round <= last {
        // Forward correction: every round after round 0 trains on every sample the user did
        // not exclude, with the previous round's transition matrix; the cut only ranks.
        let trained = relabelled_data.as_ref().unwrap_or(data);
        let forward = match (cfg.forward(), auto_forward, history.first()) {
            (Forward::Off, ..) => false,
            (Forward::On, ..) => true,
            (Forward::Auto, Some(on), _) => on,
            // Nothing to decide for a learner without labels to correct (the VAE): no
            // decision is reported.
            (Forward::Auto, None, Some(_)) if !learner.is_classifier() => {
                auto_forward = Some(false);
                false
            }
            // A round-0 model that learned nothing implies no flips: plain ITLM.
            (Forward::Auto, None, Some(_)) if round0_blind.is_some() => {
                observer.on(&Event::ForwardDecided {
                    round,
                    on: false,
                    shape: None,
                })?;
                auto_forward = Some(false);
                false
            }
            // Round 0's model decides, once, for this round and every later one.
            (Forward::Auto, None, Some(r0)) => {
                let shape = transition::round0_shape(
                    trained.labels(),
                    &r0.probs,
                    trained.num_classes(),
                    &everyone,
                );
                let on = shape.is_some_and(|(f, s)| transition::suggests_forward(f, s));
                // Heavy random noise: co-teaching from the start, at the share round 0's
                // noise estimate leaves.
                if let Some(auto) = super::coteach::auto_coteaching(
                    learner, &cfg, first, trained, r0, &everyone, shape,
                )? {
                    observer.on(&Event::CoteachChosen {
                        shape: auto.shape,
                        noise: auto.noise,
                        config: Box::new(auto.config.clone()),
                    })?;
                    let ct = auto.config.coteach.unwrap_or_default();
                    return super::coteach::run(
                        learner,
                        inputs,
                        &auto.config,
                        ct,
                        Start::Fresh,
                        history,
                        observer,
                    );
                }
                observer.on(&Event::ForwardDecided { round, on, shape })?;
                auto_forward = Some(on);
                if on && learner.is_classifier() {
                    cfg = cfg.forward_schedule(first);
                    last = cfg.last_round();
                }
                on
            }
            (Forward::Auto, None, None) => false,
        };
        let mut forward = forward && learner.is_classifier();
        // The matrix a forward-corrected round trains with (round 0 trains plainly).
        let prev_matrix = (forward && round > 0)
            .then(|| transition_from_previous(history, trained, &untrusted))
            .flatten();
        // The final check (auto, a learner cheap to retrain): which set the final round
        // trains on, chosen on held-out labels. The cut without the matrix means forward
        // correction does not help here: the run goes on as plain ITLM, from this cut.
        let mut final_on_cut = false;
        let mut checked = false;
        if let (Some(m), true) = (&prev_matrix, forward && auto_forward.is_some()) {
            if round >= cfg.rounds && learner.cheap_to_retrain() {
                // The forward round this final round would continue (trained in this run).
                let lead = history
                    .last()
                    .filter(|p| {
                        p.round + 1 == round && !p.transition.is_empty() && round == cfg.rounds
                    })
                    .zip(cfg.continued_final_epochs(first));
                let mut tick = |t: Tick| observer.on(&Event::Tick { round, tick: t });
                let check = final_check::check(
                    learner,
                    trained,
                    &everyone,
                    &train_idx,
                    m,
                    cfg.epochs_at(round),
                    lead.map(|(p, then)| final_check::Lead {
                        matrix: &p.transition,
                        epochs: p.epochs,
                        then,
                    }),
                    Rng::derive(cfg.seed, 8000 + round as u64).next_u64(),
                    &mut tick,
                )?;
                checked = true;
                let chosen = check.chosen;
                observer.on(&Event::FinalChecked { round, check })?;
                if let (FinalSet::AllForward, Some((p, _)), true) = (chosen, lead, cfg.reinit) {
                    // The check's models replaced the forward round's: train it again, as
                    // it was (fresh, same seeds, samples and matrix), for the final round to
                    // continue.
                    learner.reset(init_seed(cfg.seed, p.round))?;
                    learner.set_transition(Some(&p.transition))?;
                    let mut tick = |t: Tick| observer.on(&Event::Tick { round, tick: t });
                    learner.train(
                        trained,
                        &everyone,
                        p.epochs,
                        train_seed(cfg.seed, p.round),
                        &mut tick,
                    )?;
                    checked = false;
                }
                final_on_cut = chosen.on_cut();
                if !chosen.forward() {
                    forward = false;
                    auto_forward = Some(false);
                    // (Tau as this run chose it.)
                    cfg = Config {
                        tau: cfg.tau,
                        ..config.clone()
                    };
                    last = cfg.last_round().max(round);
                }
            }
        }
        let prev_matrix = prev_matrix.filter(|_| forward);
        // Not mutated below: the round reads one schedule.
        let config = &cfg;
        let probe_start = Instant::now();
        let cut = if config.clusters_at(round) && round > 0 && learner.is_classifier() {
            let mut tick = |t: Tick| observer.on(&Event::Tick { round, tick: t });
            let mut cut = clusters::probe(
                learner,
                data,
                &everyone,
                config.final_epochs as f64,
                Rng::derive(config.seed, 7000 + round as u64).next_u64(),
                history,
                config.rounds,
                &mut tick,
            )?;
            // The user's keep decisions stand.
            for (i, h) in cut.held_out.iter_mut().enumerate() {
                *h &= !pinned_in(i);
            }
            train_idx.retain(|&i| !cut.held_out[i]);
            if train_idx.is_empty() {
                return Err(Error::Config(
                    "the clustering cut held out every sample the final round would train on"
                        .into(),
                ));
            }
            Some(cut)
        } else {
            None
        };
        // The probe's training counts as this round's.
        let probe_secs = probe_start.elapsed().as_secs_f64();
        // The cut's repair, after this round's model trained without the held-out clusters.
        let mut repaired: Vec<Option<u32>> = Vec::new();
        let mut repaired_data: Option<Dataset> = None;
        let mut transition = None;
        // The classes this round's forward-corrected model folded, before it trained again.
        let mut unfolded = transition::Unfolds::default();
        if forward {
            // A learner that cannot train through a matrix trains plainly on the cut.
            if learner.set_transition(prev_matrix.as_deref())? && prev_matrix.is_some() {
                if !final_on_cut {
                    train_idx = everyone.clone();
                }
                transition = prev_matrix;
            }
        }
        // The final round of a forward-corrected run continues the forward round's model
        // (trained in this run, on the same samples) up to `final_epochs` in all.
        let continued = (transition.is_some()
            && !checked
            && round == config.rounds
            && history
                .last()
                .is_some_and(|p| p.round + 1 == round && !p.transition.is_empty()))
        .then(|| config.continued_final_epochs(first))
        .flatten();
        let mut epochs = continued.unwrap_or_else(|| config.epochs_at(round));
        observer.on(&Event::RoundStarted {
            round,
            rounds: last,
            trained_on: train_idx.len(),
            epochs,
            forward: transition.is_some(),
        })?;
        let mut tick = |t: Tick| observer.on(&Event::Tick { round, tick: t });
        let t0 = Instant::now();
        let seed = train_seed(config.seed, round);
        let models = config.models_at(round);
        let ((scores, spectral_scores), train_secs, t1) = if models.count > 1 {
            let plans = if models.cross_fitted {
                fold_plans(n, &train_idx, models.count, seed)
            } else {
                (0..models.count)
                    .map(|_| (train_idx.clone(), all.clone()))
                    .collect()
            };
            let mut s = averaged(
                learner, trained, &plans, epochs, seed, round, spectral, &mut tick,
            )?;
            // The fold check of the one-model path below, on the models' averaged
            // predictions: the models train again, fresh, without the flip that folded a class.
            while let Some(t) = transition::unfolding(
                transition.as_deref(),
                trained,
                &s.0.predicted,
                &mut unfolded,
            ) {
                learner.set_transition(Some(&t))?;
                transition = Some(t);
                s = averaged(
                    learner, trained, &plans, epochs, seed, round, spectral, &mut tick,
                )?;
            }
            // Training and scoring interleave: the split is not measured.
            (s, t0.elapsed().as_secs_f64(), Instant::now())
        } else {
            // The full-length rounds start fresh, so that the model a user keeps never saw the
            // trimmed samples, also with warm-started early rounds; except the final round of
            // a forward-corrected run, whose forward round trained on no cut.
            // (The final check's models are not this run's.)
            if continued.is_none()
                && (round == first || config.reinit || round >= config.rounds || checked)
            {
                learner.reset(init_seed(config.seed, round))?;
            }
            check_finite(
                round,
                learner.train(trained, &train_idx, epochs, seed, &mut tick)?,
            )?;
            let mut train_secs = t0.elapsed().as_secs_f64();
            let mut t1 = Instant::now();
            let mut s = scored(learner, data, &all, spectral, &mut tick)?;
            // The round's model trained again, fresh, on `set` (with the matrix `t`, else the
            // learner's as it is), then every sample scored (after a fold, and after the
            // clustering cut's judgement, below). The retraining counts as training, not as
            // scoring.
            let mut again = |learner: &mut L,
                             t: Option<&[f32]>,
                             set: &Dataset,
                             idx: &[usize],
                             epochs: f64,
                             tick: &mut dyn FnMut(Tick) -> Result<()>|
             -> Result<(super::Scores, Vec<f32>)> {
                learner.reset(init_seed(config.seed, round))?;
                if let Some(t) = t {
                    learner.set_transition(Some(t))?;
                }
                let start = Instant::now();
                check_finite(round, learner.train(set, idx, epochs, seed, tick)?)?;
                let spent = start.elapsed();
                train_secs += spent.as_secs_f64();
                t1 += spent;
                scored(learner, data, &all, spectral, tick)
            };
            // A forward-corrected model that predicts a class for almost none of the samples
            // labelled so has folded it (for under half, into a class with a flip into it:
            // partly): a flip read the wrong way (or two classes flipping into one) let the
            // matrix explain the class's labels by other classes. The round
            // trains again, fresh and for the round's own length (a final round then no
            // longer continues the forward round's model), without the flip that folded the
            // class ([`transition::unfolding`]); the next round's matrix is estimated afresh
            // from that model.
            while let Some(t) = transition::unfolding(
                transition.as_deref(),
                trained,
                &s.0.predicted,
                &mut unfolded,
            ) {
                epochs = config.epochs_at(round);
                s = again(learner, Some(&t), trained, &train_idx, epochs, &mut tick)?;
                transition = Some(t);
            }
            // The cut's repair (the exclusionary reclassification of Chen et al., 2018): this
            // model trained without the held-out clusters; the members it calls by their
            // cluster's other class train under that class in the model trained again, fresh
            // ([`clusters::repairs`]), so that it learns the mark does not mean the label.
            if let Some(c) = &cut {
                repaired = clusters::repairs(c, trained.labels(), &s.0.predicted);
                if let Some(d) = relabel::applied(trained, &repaired, &mut train_idx) {
                    s = again(learner, None, &d, &train_idx, epochs, &mut tick)?;
                    repaired_data = Some(d);
                }
            }
            (s, train_secs, t1)
        };
        // What this round trained on: the set with the repaired samples' classes.
        let trained = repaired_data.as_ref().unwrap_or(trained);
        if scores.loss.len() != n {
            return Err(Error::Model(format!(
                "scored {} of {n} samples",
                scores.loss.len()
            )));
        }
        check_scored(round, &scores.loss)?;
        let mut metrics = RoundMetrics {
            mean_loss: finite_mean(&scores.loss),
            suggestion: super::suggest::carried(history, &scores.loss),
            unfolded_flips: unfolded.flips(),
            unfolded: unfolded.classes,
            ..Default::default()
        };
        if learner.is_classifier() {
            metrics.train_acc = accuracy(
                &scores.predicted,
                trained.labels(),
                train_idx.iter().copied(),
            );
            metrics.all_acc = accuracy(&scores.predicted, data.labels(), 0..n);
        }
        for (set, is_test2) in [(eval.test, false), (eval.test2, true)] {
            let Some(set) = set else { continue };
            if set.is_empty() {
                continue;
            }
            let idx: Vec<usize> = (0..set.len()).collect();
            let mut tick = test_ticks(observer, round);
            let s = learner.score(set, &idx, &mut tick)?;
            let acc = learner
                .is_classifier()
                .then(|| accuracy(&s.predicted, set.labels(), 0..set.len()))
                .flatten();
            if is_test2 {
                metrics.test2_acc = acc;
            } else {
                metrics.test_acc = acc;
                metrics.test_loss = Some(finite_mean(&s.loss));
            }
        }
        let restores = config.restores_at(round) && learner.is_classifier();
        let score = match (restores, history.last(), config.aggregate) {
            // A full-length model has fitted its training set: its losses rank the samples
            // it trained on below all others. The cut stays on the last early round's score;
            // this model's predictions judge what goes back.
            (true, Some(prev), _) if round > 0 => prev.score.clone(),
            (_, _, LossAggregate::Last) => scores.loss.clone(),
            (_, _, LossAggregate::Mean) => {
                let k = (history.len() + 1) as f32;
                let mut s = scores.loss.clone();
                for r in history.iter() {
                    for (a, b) in s.iter_mut().zip(&r.loss) {
                        *a += *b;
                    }
                }
                s.iter_mut().for_each(|x| *x /= k);
                s
            }
        };
        // A round-0 model that learned nothing of the labels reads noise into a clean set:
        // its estimate is not read (tau from the data, auto), and the user is told.
        if round == 0
            && learner.is_classifier()
            && (config.tau_from_data || cfg.forward() == Forward::Auto)
        {
            round0_blind = super::suggest::not_learned(
                data.labels(),
                &scores.predicted,
                data.num_classes(),
                &everyone,
            );
            if let Some((agreement, baseline)) = round0_blind {
                observer.on(&Event::Round0NotLearned {
                    agreement,
                    baseline,
                })?;
            }
        }
        // Tau from the data: round 0's noise estimate sets the share this cut and every later
        // one keep (once a run, on a fresh start).
        let chosen_tau = if round == 0
            && config.tau_from_data
            && learner.is_classifier()
            && round0_blind.is_none()
        {
            let mut tick = |t: Tick| observer.on(&Event::Tick { round, tick: t });
            round0_oof = super::scoring::round0_out_of_fold(
                learner, data, &everyone, epochs, config, &mut tick,
            )?;
            let probs = round0_oof.as_ref().map_or(&scores.probs, |s| &s.probs);
            super::suggest::tau_from_noise(data.labels(), probs, data.num_classes(), &everyone).map(
                |(noise, tau)| {
                    (
                        noise,
                        super::suggest::tau_beside_excluded(tau, everyone.len(), n),
                    )
                },
            )
        } else {
            None
        };
        if let Some((noise, tau)) = chosen_tau {
            observer.on(&Event::TauChosen {
                noise,
                tau,
                excluded: n - everyone.len(),
            })?;
        }
        let tau = match chosen_tau {
            Some((_, t)) => Config {
                tau: t,
                ..config.clone()
            }
            .tau_at(round),
            None => config.tau_at(round),
        };
        let kept = select_pinned(
            pins,
            config.select,
            &score,
            data.labels(),
            &scores.predicted,
            data.num_classes(),
            tau,
            restores,
        );
        let mut kept = kept;
        if let Some(c) = &cut {
            clusters::hold_out(&mut kept, &c.held_out);
        }
        metrics.kept = kept.iter().filter(|&&k| k).count();
        metrics.trimmed = n - metrics.kept;
        metrics.trim = bad.map(|b| TrimQuality::measure(&kept, b));
        if let Some(t) = &transition {
            metrics.estimated = transition::cut_quality(data.labels(), &scores.probs, t, &kept);
        }
        let relabelled = if config.relabels_at(round) {
            // Round 0's model (every given label), the round before and this one.
            fn view(r: &RoundRecord) -> relabel::ModelView<'_> {
                relabel::ModelView {
                    probs: &r.probs,
                    predicted: &r.predicted,
                    kept: &r.kept,
                }
            }
            // The same of scores made apart from a round (out-of-fold), with a cut's `kept`.
            fn scored_view<'a>(s: &'a super::Scores, kept: &'a [bool]) -> relabel::ModelView<'a> {
                relabel::ModelView {
                    probs: &s.probs,
                    predicted: &s.predicted,
                    kept,
                }
            }
            // A learner cheap to retrain (a head on embeddings) fits the samples it trains
            // on, the wrong labels too: round 0's own probabilities agree with every given
            // label (its vote vetoed every relabel), and a model's confidence on its kept
            // samples (the bar a trimmed one must reach) is ~1.0, which no sample it did not
            // train on reaches. Its votes are out-of-fold instead, as cleanlab's are: round
            // 0's over every sample, this round's over its training set (four fresh models
            // each; the round before adds nothing new then and is left out).
            let oof = learner.cheap_to_retrain() && config.reinit;
            let mut tick = |t: Tick| observer.on(&Event::Tick { round, tick: t });
            let mut this_oof = None;
            if oof {
                if let (Some(r0), None) = (history.first(), &round0_oof) {
                    round0_oof = super::scoring::round0_out_of_fold(
                        learner, data, &everyone, r0.epochs, config, &mut tick,
                    )?;
                }
                let seed = Rng::derive(config.seed, 9100 + round as u64).next_u64();
                this_oof = super::scoring::out_of_fold(
                    learner, trained, &train_idx, epochs, seed, round, &mut tick,
                )?;
            }
            let mut models: Vec<relabel::ModelView<'_>> = Vec::new();
            if let Some(r0) = history.first() {
                models.push(match &round0_oof {
                    Some(s) => scored_view(s, &r0.kept),
                    None => view(r0),
                });
            }
            if !oof {
                if let Some(prev) = history.last().filter(|r| r.round != 0) {
                    models.push(view(prev));
                }
            }
            // This round's model: its out-of-fold view where there is one.
            models.push(scored_view(this_oof.as_ref().unwrap_or(&scores), &kept));
            relabel::choose(&models, data.labels(), &kept, &excluded, data.num_classes())
        } else {
            Vec::new()
        };
        // The cut's repairs are this round's relabelled samples too.
        let mut relabelled = relabelled;
        if relabel::count(&repaired) > 0 {
            relabelled.resize(n, None);
            for (r, q) in relabelled.iter_mut().zip(&repaired) {
                if q.is_some() {
                    *r = *q;
                }
            }
        }
        if !relabelled.is_empty() {
            metrics.relabel =
                true_labels.map(|t| RelabelQuality::measure(&relabelled, &kept, data.labels(), t));
        }
        let generated = learner.generate(64, config.seed)?;
        let record = Arc::new(RoundRecord {
            round,
            epochs,
            trained_on: train_idx.len(),
            tau,
            loss: scores.loss,
            score,
            predicted: scores.predicted,
            p_given: scores.p_given,
            probs: scores.probs,
            kept,
            relabelled,
            held_out: cut.as_ref().map(|c| c.held_out.clone()).unwrap_or_default(),
            clusters: cut.map(|c| c.report),
            spectral: spectral_scores,
            transition: transition.unwrap_or_default(),
            metrics,
            generated,
            train_secs: train_secs + probe_secs,
            score_secs: t1.elapsed().as_secs_f64(),
        });
        train_idx = (0..n).filter(|&i| record.kept[i]).collect();
        if let Some(d) = relabel::applied(data, &record.relabelled, &mut train_idx) {
            relabelled_data = Some(d);
        }
        history.push(record.clone());
        observer.on(&Event::RoundDone(record))?;
        if let Some((_, t)) = chosen_tau {
            cfg.tau = t;
        }
        round += 1;
    }
    Ok(())
}

/// The selection with the user's pins: kept pins rank first (so they count toward tau's
/// budget), excluded ones last; then the pins are applied over whatever the rule (and a
/// restore) chose. Without pins, the rule's own selection.
#[allow(clippy::too_many_arguments)]
pub fn select_pinned(
    pins: Option<&Pins>,
    rule: select::Selection,
    score: &[f32],
    labels: &[u32],
    predicted: &[u32],
    num_classes: usize,
    tau: f64,
    restores: bool,
) -> Vec<bool> {
    let Some(pins) = pins else {
        return select::select_round(rule, score, labels, predicted, num_classes, tau, restores);
    };
    let ranked = pins.ranked(score);
    let mut kept =
        select::select_round(rule, &ranked, labels, predicted, num_classes, tau, restores);
    pins.apply(&mut kept);
    kept
}
