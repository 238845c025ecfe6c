//! Co-teaching ([`CoTeach`], Han et al. 2018) as a run: two models of the learner's kind train
//! side by side, one epoch a round, and never re-initialise; before each epoch each trains on
//! the share of the samples with the lowest loss under its *peer*, so that one model's mistakes
//! do not confirm themselves. Once the share has fallen to tau, each model may also train on the
//! samples outside its share that its peer predicts confidently, under the peer's prediction
//! ([`CoTeach::pseudo`]: the trimmed samples used, not discarded; DivideMix's direction, kept
//! small). Each round's record is the pair's: both models scored every
//! sample, their class probabilities averaged (loss = the cross-entropy of that average), and
//! its cut is the pair's at the share the next epoch trains on, its relabelled samples the
//! trimmed ones the pair confidently calls another class; the held-out sets are scored the same
//! way (the two models as one).

use std::sync::Arc;
use std::time::Instant;

use super::config::{CoTeach, Config};
use super::learner::{Learner, Scores, Tick};
use super::metrics::{accuracy, finite_mean, RoundMetrics, TrimQuality};
use super::pins::Pins;
use super::record::RoundRecord;
use super::relabel::RelabelQuality;
use super::run::{
    init_seed, select_pinned, test_ticks, train_seed, Event, Inputs, Observer, Start,
};
use super::scoring::{check_finite, check_scored};
use super::suggest::ConfidentJoint;
use super::transition;
use crate::data::Dataset;
use crate::error::{Error, Result};
use crate::rng::Rng;

/// The two models' scores of the same samples as one: class probabilities averaged, the
/// prediction their argmax, the loss the cross-entropy of the average against `labels`.
pub fn pair(a: &Scores, b: &Scores, labels: &[u32], classes: usize) -> Result<Scores> {
    let n = labels.len();
    if a.loss.len() != n || b.loss.len() != n || a.probs.len() != n * classes {
        return Err(Error::Model(format!(
            "co-teaching scored {} and {} of {n} samples",
            a.loss.len(),
            b.loss.len()
        )));
    }
    if b.probs.len() != a.probs.len() {
        return Err(Error::Model(
            "co-teaching's two models gave class probabilities of different sizes".into(),
        ));
    }
    let mut out = Scores::with_capacity(n, classes);
    for (i, &label) in labels.iter().enumerate() {
        let row: Vec<f32> = (i * classes..(i + 1) * classes)
            .map(|j| 0.5 * (a.probs[j] + b.probs[j]))
            .collect();
        let best = (0..classes).fold(0, |m, c| if row[c] > row[m] { c } else { m });
        let p = row.get(label as usize).copied().unwrap_or(0.0);
        out.loss.push(-p.max(1e-12).ln());
        out.predicted.push(best as u32);
        out.p_given.push(p);
        out.probs.extend(row);
    }
    Ok(out)
}

/// The cut at `tau` on `scores`' losses, by the run's selection rule, with the user's pins
/// over it (kept pins always, excluded never): the pair's verdict, or (on one model's scores)
/// what its peer trains on next.
fn cut(
    scores: &Scores,
    data: &Dataset,
    config: &Config,
    tau: f64,
    pins: Option<&Pins>,
) -> Vec<bool> {
    let (labels, classes) = (data.labels(), data.num_classes());
    select_pinned(
        pins,
        config.select,
        &scores.loss,
        labels,
        &scores.predicted,
        classes,
        tau,
        false,
    )
}

/// The indices a mask keeps.
fn indices(mask: &[bool]) -> Vec<usize> {
    (0..mask.len()).filter(|&i| mask[i]).collect()
}

/// Co-teaching's pseudo-labels for one model: the samples outside `share` (its next epoch's
/// set, sorted) that its `peer` predicts with probability at least `min_p`, each with the
/// peer's prediction; the user's exclusions never.
fn pseudo_labels(
    peer: &Scores,
    classes: usize,
    share: &[usize],
    pins: Option<&Pins>,
    min_p: f64,
) -> Vec<(usize, u32)> {
    let mut inside = share.iter().copied().peekable();
    let mut out = Vec::new();
    for i in 0..peer.predicted.len() {
        if inside.next_if_eq(&i).is_some() || pins.is_some_and(|p| p.exclude[i]) {
            continue;
        }
        let c = peer.predicted[i];
        let p = peer
            .probs
            .get(i * classes + c as usize)
            .copied()
            .unwrap_or(0.0);
        if f64::from(p) >= min_p {
            out.push((i, c));
        }
    }
    out
}

/// One epoch of `model` on `share` and, where the learner takes training targets
/// ([`Learner::set_targets`]), the pseudo-labelled samples `extra` under their pseudo-labels.
/// Returns the last batches' mean loss and how many samples it trained on.
fn train_epoch<M: Learner + ?Sized>(
    model: &mut M,
    data: &Dataset,
    share: &[usize],
    extra: &[(usize, u32)],
    seed: u64,
    tick: &mut dyn FnMut(Tick) -> Result<()>,
) -> Result<(f32, usize)> {
    if extra.is_empty() {
        return Ok((model.train(data, share, 1.0, seed, tick)?, share.len()));
    }
    let mut targets = data.labels().to_vec();
    for &(i, c) in extra {
        targets[i] = c;
    }
    if !model.set_targets(Some(targets))? {
        return Ok((model.train(data, share, 1.0, seed, tick)?, share.len()));
    }
    let mut idx: Vec<usize> = share
        .iter()
        .copied()
        .chain(extra.iter().map(|e| e.0))
        .collect();
    idx.sort_unstable();
    let trained = model.train(data, &idx, 1.0, seed, tick);
    model.set_targets(None)?;
    Ok((trained?, idx.len()))
}

/// Both models score `set`; their pair's accuracy and mean loss.
fn evaluate<L: Learner + ?Sized>(
    a: &mut L,
    b: &mut dyn Learner,
    set: &Dataset,
    tick: &mut dyn FnMut(Tick) -> Result<()>,
) -> Result<(Option<f64>, f64)> {
    let idx: Vec<usize> = (0..set.len()).collect();
    let sa = a.score(set, &idx, tick)?;
    let sb = b.score(set, &idx, tick)?;
    let s = pair(&sa, &sb, set.labels(), set.num_classes())?;
    Ok((
        accuracy(&s.predicted, set.labels(), 0..set.len()),
        finite_mean(&s.loss),
    ))
}

/// Run co-teaching on `learner` and a second model it forks ([`Learner::fork`]), appending a
/// record per epoch to `history`. Called by [`super::run`] once the inputs are checked.
pub(super) fn run<L: Learner + ?Sized>(
    learner: &mut L,
    inputs: Inputs<'_>,
    config: &Config,
    ct: CoTeach,
    start: Start,
    history: &mut Vec<Arc<RoundRecord>>,
    observer: &mut dyn Observer,
) -> Result<()> {
    let Inputs {
        data,
        eval,
        bad,
        pins,
        true_labels,
        ..
    } = inputs;
    if !learner.is_classifier() {
        return Err(Error::Config(
            "co-teaching ranks samples by a classifier's loss; the generative mode (VAE) is not one"
                .into(),
        ));
    }
    if matches!(start, Start::After { .. }) {
        return Err(Error::Config(
            "a co-teaching run trains its two models from the start; it cannot continue from a cut: start it anew"
                .into(),
        ));
    }
    let mut peer = learner.fork()?.ok_or_else(|| {
        Error::Config(format!(
            "co-teaching trains a second model beside the first; {} cannot",
            learner.describe()
        ))
    })?;
    let pins = pins.filter(|p| !p.is_none());
    let n = data.len();
    let classes = data.num_classes();
    let everyone: Vec<usize> = (0..n)
        .filter(|&i| !pins.is_some_and(|p| p.exclude[i]))
        .collect();
    if everyone.is_empty() {
        return Err(Error::Config("the selection keeps no samples".into()));
    }
    let all: Vec<usize> = (0..n).collect();
    history.clear();
    learner.reset(init_seed(config.seed, 0))?;
    peer.reset(Rng::derive(config.seed, 0xC07).next_u64())?;
    learner.set_label_smoothing(ct.smoothing)?;
    peer.set_label_smoothing(ct.smoothing)?;
    let last = ct.epochs - 1;
    // What each model trains on next: chosen by the other (its share, and after the ramp the
    // samples outside it the other labels confidently).
    let (mut for_a, mut for_b) = (everyone.clone(), everyone.clone());
    let (mut extra_a, mut extra_b) = (Vec::new(), Vec::new());
    for round in 0..=last {
        observer.on(&Event::RoundStarted {
            round,
            rounds: last,
            trained_on: for_a.len() + extra_a.len(),
            epochs: 1.0,
            forward: false,
        })?;
        let mut tick = |t: Tick| observer.on(&Event::Tick { round, tick: t });
        let t0 = Instant::now();
        let seed = train_seed(config.seed, round);
        let (loss, trained_on) = train_epoch(learner, data, &for_a, &extra_a, seed, &mut tick)?;
        check_finite(round, loss)?;
        let seed_b = Rng::derive(seed, 0xB).next_u64();
        let (loss, _) = train_epoch(peer.as_mut(), data, &for_b, &extra_b, seed_b, &mut tick)?;
        check_finite(round, loss)?;
        let train_secs = t0.elapsed().as_secs_f64();
        let t1 = Instant::now();
        let sa = learner.score(data, &all, &mut tick)?;
        let sb = peer.score(data, &all, &mut tick)?;
        let both = pair(&sa, &sb, data.labels(), classes)?;
        check_scored(round, &both.loss)?;
        let mut metrics = RoundMetrics {
            mean_loss: finite_mean(&both.loss),
            suggestion: super::suggest::carried(history, &both.loss),
            train_acc: accuracy(&both.predicted, data.labels(), for_a.iter().copied()),
            all_acc: accuracy(&both.predicted, data.labels(), 0..n),
            ..Default::default()
        };
        for (set, is_test2) in [(eval.test, false), (eval.test2, true)] {
            let Some(set) = set.filter(|s| !s.is_empty()) else {
                continue;
            };
            let mut tick = test_ticks(observer, round);
            let (acc, loss) = evaluate(learner, peer.as_mut(), set, &mut tick)?;
            if is_test2 {
                metrics.test2_acc = acc;
            } else {
                metrics.test_acc = acc;
                metrics.test_loss = Some(loss);
            }
        }
        // The share the next epoch trains on; the pair's cut at it is the round's verdict.
        let tau = config.tau_at(round);
        let kept = cut(&both, data, config, tau, pins);
        metrics.kept = kept.iter().filter(|&&k| k).count();
        metrics.trimmed = n - metrics.kept;
        metrics.trim = bad.map(|b| TrimQuality::measure(&kept, b));
        // What the pair relabels for the next epoch: the samples its cut trims that it predicts
        // as another class with the pseudo-label confidence (each model trains on its peer's).
        // Pseudo-labels for the next epoch (epoch round + 2), when it is past the ramp.
        let pseudo = ct
            .pseudo_in(round + 2)
            .map(|p| ct.pseudo_threshold(p, classes));
        let relabelled = match pseudo.filter(|_| round < last) {
            Some(p) => {
                let mut r = vec![None; n];
                for (i, c) in pseudo_labels(&both, classes, &indices(&kept), pins, p) {
                    if c != data.label(i) {
                        r[i] = Some(c);
                    }
                }
                r
            }
            None => Vec::new(),
        };
        if relabelled.iter().any(Option::is_some) {
            metrics.relabel =
                true_labels.map(|t| RelabelQuality::measure(&relabelled, &kept, data.labels(), t));
        }
        let record = Arc::new(RoundRecord {
            round,
            epochs: 1.0,
            trained_on,
            tau,
            score: both.loss.clone(),
            loss: both.loss,
            predicted: both.predicted,
            p_given: both.p_given,
            probs: both.probs,
            kept,
            relabelled,
            held_out: Vec::new(),
            clusters: None,
            spectral: Vec::new(),
            transition: Vec::new(),
            metrics,
            generated: None,
            train_secs,
            score_secs: t1.elapsed().as_secs_f64(),
        });
        // Each model's next epoch: what its peer finds easiest.
        for_a = indices(&cut(&sb, data, config, tau, pins));
        for_b = indices(&cut(&sa, data, config, tau, pins));
        if for_a.is_empty() || for_b.is_empty() {
            return Err(Error::Config("the selection keeps no samples".into()));
        }
        (extra_a, extra_b) = match pseudo {
            Some(p) => (
                pseudo_labels(&sb, classes, &for_a, pins, p),
                pseudo_labels(&sa, classes, &for_b, pins, p),
            ),
            None => (Vec::new(), Vec::new()),
        };
        history.push(record.clone());
        observer.on(&Event::RoundDone(record))?;
    }
    Ok(())
}

/// What [`Forward::Auto`](super::Forward::Auto) read off round 0 when it turns a run into co-teaching.
pub(super) struct AutoCoteach {
    /// The co-teaching run ([`Config::auto_coteaching`]).
    pub config: Config,
    /// Round 0's [`transition::shape`]: flipped share, one-sided share.
    pub shape: (f32, f32),
    /// The confident joint's noise rate the tau comes from.
    pub noise: f64,
}

/// Whether [`Forward::Auto`](super::Forward::Auto) turns a run of `cfg` into co-teaching after round 0 (`r0`, over
/// the samples `everyone` of `trained`, its flips' `shape`): a fresh run's classifier that can
/// train a second model and is not one that retrains in moments (a head on fixed embeddings,
/// [`Learner::cheap_to_retrain`]: co-teaching's gain comes from a network that memorises
/// wrong labels over its epochs; a linear head on Lite0 embeddings at 60% random noise lost
/// 1.1 - 1.3 points to plain ITLM at the same tau, README), the config allowing it
/// ([`Config::may_auto_coteach`]), and many spread flips
/// ([`transition::calls_for_coteaching`]).
pub(super) fn auto_coteaching<L: Learner + ?Sized>(
    learner: &L,
    cfg: &Config,
    first: usize,
    trained: &Dataset,
    r0: &RoundRecord,
    everyone: &[usize],
    shape: Option<(f32, f32)>,
) -> Result<Option<AutoCoteach>> {
    let Some((flipped, one_sided)) = shape else {
        return Ok(None);
    };
    if first != 0
        || !cfg.may_auto_coteach()
        || !learner.is_classifier()
        || learner.cheap_to_retrain()
        || !transition::calls_for_coteaching(flipped, one_sided)
    {
        return Ok(None);
    }
    let k = trained.num_classes();
    if r0.probs.len() != trained.len() * k {
        return Ok(None);
    }
    let joint = ConfidentJoint::count(trained.labels(), &r0.probs, k, everyone.iter().copied());
    let Some(noise) = joint.noise_rate(everyone.len()) else {
        return Ok(None);
    };
    if learner.fork()?.is_none() {
        return Ok(None);
    }
    let config = cfg.auto_coteaching(noise);
    config.validate()?;
    Ok(Some(AutoCoteach {
        config,
        shape: (flipped, one_sided),
        noise,
    }))
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use super::*;
    use crate::data::{ImageShape, Source};
    use crate::itlm::{Pins, Quiet, TickFn};

    /// Every train call's (model, indices).
    type Log = Arc<Mutex<Vec<(usize, Vec<usize>)>>>;
    /// Every train call's (model, training targets of its indices), where targets were set.
    type TargetLog = Arc<Mutex<Vec<(usize, Vec<u32>)>>>;

    /// A model whose loss of sample `i` is `loss[i]` whatever it trained on (probabilities
    /// to match: exp(-loss) on the given label, the rest spread evenly); every train call's
    /// indices go to `log` as (model, indices). Forks get the next entry of `others`.
    struct Fixed {
        id: usize,
        loss: Vec<f32>,
        others: Vec<Vec<f32>>,
        log: Log,
        forks: bool,
        /// The training targets set ([`Learner::set_targets`]), and every train call's
        /// (model, targets of its indices) where some were set.
        targets: Option<Vec<u32>>,
        target_log: TargetLog,
    }

    impl Learner for Fixed {
        fn describe(&self) -> String {
            format!("fixed {}", self.id)
        }
        fn reset(&mut self, _seed: u64) -> Result<()> {
            Ok(())
        }
        fn train(
            &mut self,
            _d: &Dataset,
            idx: &[usize],
            _e: f64,
            _s: u64,
            _t: &mut TickFn<'_>,
        ) -> Result<f32> {
            self.log.lock().unwrap().push((self.id, idx.to_vec()));
            if let Some(t) = &self.targets {
                let t = idx.iter().map(|&i| t[i]).collect();
                self.target_log.lock().unwrap().push((self.id, t));
            }
            Ok(0.5)
        }
        fn set_targets(&mut self, targets: Option<Vec<u32>>) -> Result<bool> {
            self.targets = targets;
            Ok(true)
        }
        fn score(&mut self, d: &Dataset, idx: &[usize], _t: &mut TickFn<'_>) -> Result<Scores> {
            let k = d.num_classes();
            let mut s = Scores::with_capacity(idx.len(), k);
            for &i in idx {
                let l = self.loss.get(i).copied().unwrap_or(0.1);
                let p = (-l).exp();
                s.loss.push(l);
                // A loss over 2 (p < 0.14): the model predicts another class.
                s.predicted.push(if l > 2.0 && k == 2 {
                    1 - d.label(i)
                } else {
                    d.label(i)
                });
                s.p_given.push(p);
                s.probs.extend((0..k).map(|c| {
                    if c == d.label(i) as usize {
                        p
                    } else {
                        (1.0 - p) / (k - 1) as f32
                    }
                }));
            }
            Ok(s)
        }
        fn fork(&self) -> Result<Option<Box<dyn Learner>>> {
            Ok(self.forks.then(|| {
                Box::new(Fixed {
                    id: self.id + 1,
                    loss: self.others.first().cloned().unwrap_or_default(),
                    others: self.others.iter().skip(1).cloned().collect(),
                    log: self.log.clone(),
                    forks: true,
                    targets: None,
                    target_log: self.target_log.clone(),
                }) as Box<dyn Learner>
            }))
        }
    }

    fn data(n: usize) -> Dataset {
        Dataset::from_parts(
            "d",
            Source::Memory,
            vec!["a".into(), "b".into()],
            ImageShape::new(1, 1, 1),
            vec![0; n],
            (0..n).map(|i| (i % 2) as u32).collect(),
            (0..n).map(|i| format!("{i}")).collect(),
        )
        .unwrap()
    }

    /// A fresh co-teaching run of `l`: its records.
    fn fresh(l: &mut Fixed, inputs: Inputs<'_>, cfg: &Config) -> Result<Vec<Arc<RoundRecord>>> {
        let mut h = Vec::new();
        crate::itlm::run(l, inputs, cfg, Start::Fresh, &mut h, &mut Quiet)?;
        Ok(h)
    }

    fn config(epochs: usize, ramp: usize) -> Config {
        Config {
            tau: 0.5,
            coteach: Some(CoTeach {
                epochs,
                ramp,
                pseudo: None,
                smoothing: 0.1,
            }),
            ..Default::default()
        }
    }

    /// Model A finds the first half easiest, model B the second half.
    fn pair_of_models() -> (Fixed, Log) {
        let a: Vec<f32> = (0..8).map(|i| i as f32 * 0.1).collect();
        let b: Vec<f32> = (0..8).map(|i| (8 - i) as f32 * 0.1).collect();
        let log = Arc::new(Mutex::new(Vec::new()));
        let l = Fixed {
            id: 0,
            loss: a,
            others: vec![b],
            log: log.clone(),
            forks: true,
            targets: None,
            target_log: Arc::default(),
        };
        (l, log)
    }

    /// After the ramp each model also trains on the samples outside its share that its peer
    /// predicts with p >= the threshold, under the peer's prediction; never on the user's
    /// exclusions, never before the ramp ends, and not at all with pseudo-labels off.
    #[test]
    fn pseudo_labels_come_from_the_peers_confident_predictions() {
        // A finds 0-3 easiest and is sure sample 6 is the other class; B finds 4-7 easiest,
        // is sure sample 2 is the other class and that sample 3 is its given class.
        let a = vec![0.01, 0.01, 0.01, 0.01, 0.3, 0.3, 5.0, 0.3];
        let b = vec![0.3, 0.3, 5.0, 0.02, 0.01, 0.01, 0.01, 0.01];
        let d = data(8); // labels 0, 1, 0, 1, ...
        let models = || {
            let log: Log = Arc::default();
            let targets: TargetLog = Arc::default();
            let l = Fixed {
                id: 0,
                loss: a.clone(),
                others: vec![b.clone()],
                log: log.clone(),
                forks: true,
                targets: None,
                target_log: targets.clone(),
            };
            (l, log, targets)
        };
        let with = |pseudo| Config {
            tau: 0.5,
            coteach: Some(CoTeach {
                epochs: 4,
                ramp: 2,
                pseudo,
                smoothing: 0.1,
            }),
            ..Default::default()
        };
        let (mut l, log, targets) = models();
        let cfg = with(Some(0.95));
        let h = fresh(&mut l, Inputs::new(&d), &cfg).unwrap();
        let log = log.lock().unwrap();
        // Epochs 1-2 (the ramp): the shares alone; epochs 3-4 (tau's half): with pseudo-labels.
        // Epoch 2 (share 0.75, a half-ramp): B's sure sample 2 and A's sure 6 are outside the
        // shares and not yet pseudo-labelled.
        assert_eq!(log[2], (0, vec![0, 3, 4, 5, 6, 7]), "A's share in the ramp");
        assert_eq!(log[3].1.len(), 6);
        assert!(
            !log[3].1.contains(&6),
            "B's share in the ramp: {:?}",
            log[3]
        );
        for e in 2..4 {
            assert_eq!(
                log[2 * e],
                (0, vec![2, 3, 4, 5, 6, 7]),
                "A: + B's sure 2 and 3"
            );
            assert_eq!(log[2 * e + 1], (1, vec![0, 1, 2, 3, 6]), "B: + A's sure 6");
        }
        let t = targets.lock().unwrap();
        assert_eq!(t.len(), 4, "targets only after the ramp: {t:?}");
        for e in 0..2 {
            // Sample 2 (given 0) under B's label 1, sample 3 under its own; the share as given.
            assert_eq!(t[2 * e], (0, vec![1, 1, 0, 1, 0, 1]));
            // Sample 6 (given 0) under A's label 1.
            assert_eq!(t[2 * e + 1], (1, vec![0, 1, 0, 1, 1]));
        }
        assert_eq!(
            h[3].trained_on, 6,
            "the record counts the pseudo-labelled samples"
        );
        drop((log, t));

        // The user's exclusion holds for pseudo-labels too.
        let (mut l, log, _) = models();
        let mut pins = Pins::none(8);
        pins.exclude[2] = true;
        let inputs = Inputs {
            pins: Some(&pins),
            ..Inputs::new(&d)
        };
        fresh(&mut l, inputs, &cfg).unwrap();
        assert!(log.lock().unwrap().iter().all(|(_, idx)| !idx.contains(&2)));

        // Off: the shares alone, no targets ever set.
        let (mut l, log, targets) = models();
        fresh(&mut l, Inputs::new(&d), &with(None)).unwrap();
        assert_eq!(log.lock().unwrap()[6], (0, vec![4, 5, 6, 7]));
        assert!(targets.lock().unwrap().is_empty());
    }

    #[test]
    fn each_model_trains_on_what_its_peer_finds_easiest() {
        let (mut l, log) = pair_of_models();
        let d = data(8);
        let h = fresh(&mut l, Inputs::new(&d), &config(3, 1)).unwrap();
        assert_eq!(h.len(), 3, "a round per epoch");
        let log = log.lock().unwrap();
        let all: Vec<usize> = (0..8).collect();
        // Epoch 1: both on everything; then tau's half, each chosen by the other.
        assert_eq!(log[0], (0, all.clone()));
        assert_eq!(log[1], (1, all));
        for e in 1..3 {
            assert_eq!(log[2 * e], (0, vec![4, 5, 6, 7]), "A on B's easiest");
            assert_eq!(log[2 * e + 1], (1, vec![0, 1, 2, 3]), "B on A's easiest");
        }
        // The record is the pair's: the averaged losses are equal but for ties, the cut
        // keeps half, and each model trained on half.
        assert_eq!(h[1].trained_on, 4);
        assert_eq!(h[2].kept_count(), 4);
        assert!((h[2].tau - 0.5).abs() < 1e-12);
        assert_eq!(h[0].tau, 0.5, "the ramp of 1 epoch ends after epoch 1");
    }

    #[test]
    fn the_share_falls_to_tau_over_the_ramp() {
        let c = CoTeach {
            epochs: 25,
            ramp: 10,
            pseudo: None,
            smoothing: 0.1,
        };
        assert_eq!(c.share(1, 0.4), 1.0);
        assert!((c.share(6, 0.4) - 0.7).abs() < 1e-12);
        assert!((c.share(11, 0.4) - 0.4).abs() < 1e-12);
        assert!((c.share(25, 0.4) - 0.4).abs() < 1e-12);
        let cfg = Config {
            tau: 0.4,
            coteach: Some(c),
            ..Default::default()
        };
        assert_eq!(cfg.last_round(), 24);
        // The cut after round r trains epoch r + 2.
        assert!((cfg.tau_at(4) - 0.7).abs() < 1e-12);
        assert_eq!(cfg.epochs_at(3), 1.0);
        assert_eq!(cfg.models_at(3).count, 2);
        // Two models: 10 ramp epochs (1.0 down to 0.46) and 15 at 0.4.
        let ramp: f64 = (1..=10).map(|e| c.share(e, 0.4)).sum();
        assert!((cfg.total_epochs() - 2.0 * (ramp + 15.0 * 0.4)).abs() < 1e-9);
        assert_eq!(
            cfg.forward(),
            crate::itlm::Forward::Off,
            "auto is off with it"
        );
    }

    #[test]
    fn the_users_pins_hold_in_both_models() {
        let (mut l, log) = pair_of_models();
        let d = data(8);
        let mut pins = Pins::none(8);
        pins.exclude[5] = true;
        pins.keep[7] = true;
        let inputs = Inputs {
            pins: Some(&pins),
            ..Inputs::new(&d)
        };
        let h = fresh(&mut l, inputs, &config(2, 1)).unwrap();
        let log = log.lock().unwrap();
        assert!(
            log.iter().all(|(_, idx)| !idx.contains(&5)),
            "excluded never trains"
        );
        assert!(
            log.iter().all(|(_, idx)| idx.contains(&7)),
            "kept always trains"
        );
        assert!(!h[1].kept[5] && h[1].kept[7]);
    }

    #[test]
    fn refusals_are_clear() {
        let d = data(8);
        let (mut l, _) = pair_of_models();
        l.forks = false;
        let e = fresh(&mut l, Inputs::new(&d), &config(2, 1))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("trains a second model beside the first; fixed 0 cannot"),
            "{e}"
        );
        let (mut l, _) = pair_of_models();
        let mut h = fresh(&mut l, Inputs::new(&d), &config(2, 1)).unwrap();
        let kept = h[1].kept.clone();
        let e = crate::itlm::run(
            &mut l,
            Inputs::new(&d),
            &config(2, 1),
            Start::After { kept },
            &mut h,
            &mut Quiet,
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("cannot continue from a cut"), "{e}");
        let bad = Config {
            restore: true,
            ..config(2, 1)
        };
        assert!(bad
            .validate()
            .unwrap_err()
            .to_string()
            .contains("restore: choose one"));
        let bad = config(3, 4);
        assert!(bad
            .validate()
            .unwrap_err()
            .to_string()
            .contains("ramp (4) is longer"));
    }
}
