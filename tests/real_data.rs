//! Honest, small versions of the headline results on real Fashion-MNIST (Debian's
//! `dataset-fashion-mnist`, installed by `.ci/run`): measured, never hard-coded outcomes.
//! Without the data the tests say so and pass, unless ITLM_REQUIRE_REAL_DATA=1 (set in CI).

use std::sync::Arc;

use itlm_inspector::data::corrupt::{Corrupted, SampleKind};
use itlm_inspector::data::watermark::{MarkShape, Watermark};
use itlm_inspector::data::{self, Dataset, LoadOptions};
use itlm_inspector::itlm::{self, Config, Forward, Learner, Quiet, Selection, Start, TauSchedule};
use itlm_inspector::learner::{self, LearnerConfig, ModelKind};

mod common;
mod fashion_data;

fn fashion(train: usize, test: usize) -> Option<(Dataset, Dataset)> {
    let dir = fashion_data::fashion_dir()?;
    let l = data::load(dir, &LoadOptions::default()).expect("Fashion-MNIST loads");
    let t = l.test.expect("t10k split");
    Some((l.train.limit(train, 0), t.limit(test, 0)))
}

fn accuracy(l: &mut dyn Learner, d: &Dataset) -> f64 {
    let idx: Vec<usize> = (0..d.len()).collect();
    let s = l.score(d, &idx, &mut |_| Ok(())).unwrap();
    itlm::metrics::accuracy(&s.predicted, d.labels(), 0..d.len()).unwrap()
}

/// 4000 training images with 40% systematic noise (class c labelled c+1, flips seeded 1),
/// 2000 test images, and which samples are bad.
fn systematic_40() -> Option<(Corrupted, Dataset, Vec<bool>)> {
    let (train, test) = fashion(4000, 2000)?;
    let mut c = Corrupted::clean(train);
    let perm: Vec<u32> = (0..10).map(|k| (k + 1) % 10).collect();
    c.flip_systematic(0.4, &perm, None, 1).unwrap();
    let bad: Vec<bool> = c.kinds.iter().map(|k| *k != SampleKind::Clean).collect();
    Some((c, test, bad))
}

/// 40% systematic noise (class c labelled c+1) on 4000 images: ITLM (per-class, constant tau
/// 0.6, 3 rounds of 2 epochs, final 6) against the naive model trained 6 epochs on everything.
#[test]
fn itlm_beats_naive_under_systematic_noise_and_trims_mostly_bad_samples() {
    let Some((c, test, bad)) = systematic_40() else {
        return;
    };
    let lc = LearnerConfig::default();

    let mut naive = learner::build(&lc, &c.data).unwrap();
    naive.reset(11).unwrap();
    let all: Vec<usize> = (0..c.data.len()).collect();
    naive
        .train(&c.data, &all, 6.0, 12, &mut |_| Ok(()))
        .unwrap();
    let naive_acc = accuracy(naive.as_mut(), &test);

    let cfg = Config {
        tau: 0.6,
        rounds: 3,
        epochs: 2.0,
        final_epochs: 6,
        select: Selection::PerClass,
        schedule: TauSchedule::Constant,
        seed: 11,
        transition: Forward::Off,
        ..Default::default()
    };
    let mut l = learner::build(&lc, &c.data).unwrap();
    let mut hist = Vec::new();
    let eval = itlm::Eval {
        test: Some(&test),
        test2: None,
    };
    itlm::run(
        l.as_mut(),
        itlm::Inputs {
            data: &c.data,
            eval,
            bad: Some(&bad),
            true_labels: None,
            pins: None,
        },
        &cfg,
        Start::Fresh,
        &mut hist,
        &mut Quiet,
    )
    .unwrap();
    let last = hist.last().unwrap();
    let itlm_acc = last.metrics.test_acc.unwrap();
    let trim = last.metrics.trim.unwrap();
    eprintln!(
        "naive {:.1}%  ITLM {:.1}%  trim precision {:.3} recall {:.3} (per round: {:?})",
        naive_acc * 100.0,
        itlm_acc * 100.0,
        trim.precision,
        trim.recall,
        hist.iter()
            .map(|r| r
                .metrics
                .trim
                .map(|t| (t.precision * 1000.0).round() / 1000.0))
            .collect::<Vec<_>>()
    );
    assert!(
        itlm_acc > naive_acc + 0.03,
        "ITLM {itlm_acc} vs naive {naive_acc}"
    );
    // Trimming at random would have precision 0.4 (the noise rate).
    assert!(trim.precision > 0.4 + 0.2, "precision {}", trim.precision);
    // Rounds make the cut better.
    let first = hist[0].metrics.trim.unwrap().precision;
    assert!(
        trim.precision > first,
        "precision {first} -> {}",
        trim.precision
    );
}

/// Relabelling (`Config::relabel`) at 40% systematic noise on 4000 images: the same ITLM
/// (global, tau 0.6, 3 rounds of 2 epochs, final 6, seed 11) without and with it. Before the
/// final round the trimmed samples that round 0's model and the last two early models all
/// predict as one other class, each at least as surely as its kept samples of that class,
/// get that label, and the final model trains on them too. What this asserts is what was
/// measured here: the new labels are mostly the true ones (0.785 of 414 when written; a
/// label drawn among the 9 others would be right 1 time in 9). The test accuracy is printed,
/// not asserted: at this size and schedule relabelling did not raise it (61.7% both ways),
/// see README ("Noisy labels") for where it does and where it does not.
#[test]
fn relabelling_gives_most_confident_trimmed_samples_their_true_label() {
    let Some((c, test, bad)) = systematic_40() else {
        return;
    };
    let truth: Vec<Option<u32>> = c.true_labels.iter().map(|&t| Some(t)).collect();
    let lc = LearnerConfig::default();
    let eval = itlm::Eval {
        test: Some(&test),
        test2: None,
    };
    let plain = Config {
        tau: 0.6,
        rounds: 3,
        epochs: 2.0,
        final_epochs: 6,
        select: Selection::Global,
        schedule: TauSchedule::Constant,
        seed: 11,
        transition: Forward::Off,
        ..Default::default()
    };
    let run = |cfg: &Config| {
        let mut l = learner::build(&lc, &c.data).unwrap();
        let mut hist = Vec::new();
        itlm::run(
            l.as_mut(),
            itlm::Inputs {
                data: &c.data,
                eval,
                bad: Some(&bad),
                true_labels: Some(&truth),
                pins: None,
            },
            cfg,
            Start::Fresh,
            &mut hist,
            &mut Quiet,
        )
        .unwrap();
        hist
    };
    let h_plain = run(&plain);
    let h_relabel = run(&Config {
        relabel: true,
        ..plain.clone()
    });
    let acc = |h: &[Arc<itlm::RoundRecord>]| h.last().unwrap().metrics.test_acc.unwrap();
    let (plain_acc, relabel_acc) = (acc(&h_plain), acc(&h_relabel));
    let r = &h_relabel[2];
    let q = r.metrics.relabel.expect("truth is known");
    eprintln!(
        "plain ITLM {:.1}%  ITLM + relabel {:.1}%  relabelled {} of {} trimmed (precision {:.3}, {} of {} fixable trimmed samples fixed)",
        plain_acc * 100.0,
        relabel_acc * 100.0,
        r.relabelled_count(),
        r.metrics.trimmed,
        q.precision,
        q.correct,
        q.fixable
    );
    assert!(h_plain.iter().all(|r| r.relabelled.is_empty()));
    assert_eq!(
        h_relabel[3].trained_on,
        r.metrics.kept + r.relabelled_count()
    );
    // A label drawn at random among the 9 others would be right 1 time in 9.
    assert!(q.precision > 0.6, "relabel precision {}", q.precision);
    assert!(q.relabelled >= 100, "relabelled {}", q.relabelled);
    // Relabelling changes only the final model: the early rounds are the same.
    for (a, b) in h_plain.iter().zip(&h_relabel).take(3) {
        assert_eq!(a.kept, b.kept, "round {}", a.round);
    }
}

/// Forward correction (`Config::transition`) at 40% systematic noise on 4000 images: the
/// same ITLM (global, tau 0.6, 2 rounds of 5 epochs, final 10, seed 11) without and with it.
/// (With 2-epoch rounds, the schedule of the tests above, round 0's model is too weak to
/// estimate the matrix: it over-estimates the noise and forward correction lost 5 points;
/// README.)
/// With it, round 0 trains plainly and every later round trains on every sample with the
/// label-noise matrix the previous round's model implies (its one-sided form: each class's
/// likeliest flip). Asserted, as measured here: the
/// final model is more accurate on the test set and the final cut is more precise (see the
/// README's "Noisy labels" for 20000 images, three seeds, and random noise).
#[test]
fn forward_correction_beats_plain_itlm_under_systematic_noise() {
    let Some((c, test, bad)) = systematic_40() else {
        return;
    };
    let lc = LearnerConfig::default();
    let eval = itlm::Eval {
        test: Some(&test),
        test2: None,
    };
    let plain = Config {
        tau: 0.6,
        rounds: 2,
        epochs: 5.0,
        final_epochs: 10,
        select: Selection::Global,
        schedule: TauSchedule::Constant,
        seed: 11,
        transition: Forward::Off,
        ..Default::default()
    };
    let h_plain = itlm_rounds(&lc, &c.data, eval, &bad, &plain);
    let h_fw = itlm_rounds(
        &lc,
        &c.data,
        eval,
        &bad,
        &Config {
            transition: Forward::On,
            ..plain.clone()
        },
    );
    let last = |h: &[Arc<itlm::RoundRecord>]| {
        let r = h.last().unwrap();
        (
            r.metrics.test_acc.unwrap(),
            r.metrics.trim.unwrap().precision,
        )
    };
    let ((pa, pp), (fa, fp)) = (last(&h_plain), last(&h_fw));
    let k = 10;
    let t = &h_fw[1].transition;
    let diag: Vec<String> = (0..k).map(|j| format!("{:.2}", t[j * k + j])).collect();
    eprintln!(
        "plain ITLM {:.1}% (trim precision {pp:.3})  ITLM + transition {:.1}% ({fp:.3}); round 1's diagonal [{}]",
        pa * 100.0,
        fa * 100.0,
        diag.join(" ")
    );
    for r in &h_fw {
        let t = &r.transition;
        let d: Vec<String> = (0..k)
            .filter(|_| !t.is_empty())
            .map(|j| format!("{:.2}", t[j * k + j]))
            .collect();
        eprintln!(
            "round {} trained on {} test {:.1}% trim P {:.3} diag [{}]",
            r.round,
            r.trained_on,
            r.metrics.test_acc.unwrap() * 100.0,
            r.metrics.trim.unwrap().precision,
            d.join(" ")
        );
    }
    // Round 0 is the same plain model; later rounds trained on all 4000 with a matrix.
    assert_eq!(h_plain[0].kept, h_fw[0].kept);
    assert!(h_fw[0].transition.is_empty());
    for r in &h_fw[1..] {
        assert_eq!(r.trained_on, 4000, "round {}", r.round);
        assert_eq!(r.transition.len(), k * k, "round {}", r.round);
    }
    // The flips are 40% of every class: round 0's estimate says so, within a margin.
    let everyone: Vec<usize> = (0..c.data.len()).collect();
    let est = itlm::transition::estimate(c.data.labels(), &h_fw[0].probs, k, &everyone).unwrap();
    let est_diag: Vec<String> = (0..k).map(|j| format!("{:.2}", est[j * k + j])).collect();
    for j in 0..k {
        assert!((0.4..=0.85).contains(&est[j * k + j]), "{est_diag:?}");
    }
    // Round 1 trained with its one-sided form (the flips are one-sided): every class keeps
    // its own label or carries one other, for most classes the flip the corruption made
    // (class c labelled c + 1). Measured: 9 of 10 (round 0 read Coat's flip as Dress, not
    // Sandal).
    let mut kept_flips = Vec::new();
    for j in 0..k {
        let off: Vec<usize> = (0..k).filter(|&g| g != j && t[j * k + g] > 0.0).collect();
        assert!(off.len() <= 1, "class {j}: {off:?}");
        kept_flips.push(off.first().copied());
    }
    let right = (0..k)
        .filter(|&j| kept_flips[j] == Some((j + 1) % k))
        .count();
    eprintln!("round 1's flips {kept_flips:?}: {right} of {k} the corruption's");
    assert!(
        right >= 8,
        "{kept_flips:?}; estimate's diagonal {est_diag:?}"
    );
    // The default (`Forward::Auto`) reads the same flips off round 0's model and turns it on.
    let all: Vec<usize> = (0..c.data.len()).collect();
    let (flipped, one_sided) =
        itlm::transition::round0_shape(c.data.labels(), &h_plain[0].probs, k, &all).unwrap();
    assert!(itlm::transition::suggests_forward(flipped, one_sided));
    // Measured when written: 65.5% -> 83.2%, trim precision 0.671 -> 0.933; with the
    // three-round schedule and the one-sided matrix: 65.5% -> 83.3%, 0.671 -> 0.924.
    assert!(fa > pa + 0.10, "test accuracy {fa} vs plain {pa}");
    assert!(fp > pp + 0.15, "trim precision {fp} vs plain {pp}");
}

/// The default (`Forward::Auto`) on real label noise, 4000 images: a systematic flip makes
/// round 0's flips one-sided, so the next round trains on every sample through a matrix;
/// random flips spread over all classes, many of them, so the run turns into co-teaching
/// instead. Measured when written: round 0 read 43% flipped, 0.68 one-sided (systematic) and
/// 65%, 0.16 (random); the rule's lines are 0.5 one-sided and 15% flipped.
#[test]
fn the_default_forward_corrects_systematic_flips_and_coteaches_random_ones() {
    let Some((sys, test, sys_bad)) = systematic_40() else {
        return;
    };
    let Some((train, _)) = fashion(4000, 10) else {
        return;
    };
    let mut rand = Corrupted::clean(train);
    rand.flip_random(0.6, None, 3).unwrap();
    let rand_bad: Vec<bool> = rand.kinds.iter().map(|k| *k != SampleKind::Clean).collect();
    let lc = LearnerConfig::default();
    let eval = itlm::Eval {
        test: Some(&test),
        test2: None,
    };
    let cfg = |tau| Config {
        tau,
        rounds: 1,
        epochs: 5.0,
        final_epochs: 1,
        seed: 11,
        ..Default::default()
    };
    assert_eq!(cfg(0.6).transition, Forward::Auto, "the default");
    let shape = |d: &Dataset, r: &itlm::RoundRecord| {
        let all: Vec<usize> = (0..d.len()).collect();
        itlm::transition::round0_shape(d.labels(), &r.probs, 10, &all).unwrap()
    };
    let h = itlm_rounds(&lc, &sys.data, eval, &sys_bad, &cfg(0.6));
    eprintln!(
        "systematic: round 0 flipped, one-sided {:?}",
        shape(&sys.data, &h[0])
    );
    assert!(h[0].transition.is_empty());
    assert_eq!(h[1].trained_on, 4000);
    assert_eq!(h[1].transition.len(), 100, "systematic: forward-corrected");
    // Random flips: no forward correction; the run turns into co-teaching after round 0
    // (stopped there: `coteaching_beats_plain_itlm_under_random_noise` runs it through).
    let mut l = learner::build(&lc, &rand.data).unwrap();
    let mut h = Vec::new();
    let mut chosen = None;
    let inputs = itlm::Inputs {
        eval,
        bad: Some(&rand_bad),
        ..itlm::Inputs::new(&rand.data)
    };
    let stopped = itlm::run(
        l.as_mut(),
        inputs,
        &cfg(0.4),
        Start::Fresh,
        &mut h,
        &mut |e: &itlm::Event| match e {
            itlm::Event::CoteachChosen { shape, config, .. } => {
                chosen = Some((*shape, config.tau));
                Err(itlm_inspector::Error::Cancelled)
            }
            itlm::Event::ForwardDecided { .. } => panic!("random: no forward correction"),
            _ => Ok(()),
        },
    );
    assert!(matches!(stopped, Err(itlm_inspector::Error::Cancelled)));
    let ((flipped, one_sided), tau) = chosen.expect("random: co-teaching");
    eprintln!("random: round 0 flipped {flipped}, one-sided {one_sided}; co-teaching at tau {tau}");
    assert_eq!(h.len(), 1, "round 0 only");
    assert_eq!((flipped, one_sided), shape(&rand.data, &h[0]));
    assert!(h[0].transition.is_empty());
}

/// Co-teaching (`Config::coteach`) at 60% random noise on 4000 images (flips seeded 3, 2000
/// test images): two CNNs that pick each other's samples for 25 epochs (the share falling to
/// tau 0.4 over 10, then each also on its peer's pseudo-labels at 0.95 of what a smoothed
/// model gives, label smoothing 0.1), against plain ITLM at the same tau with the default
/// schedule (4 rounds of 5 epochs, final 15). Asserted, as measured here: the pair is more
/// accurate on the test set, by more than a point (measured: 80.80% against 76.60%, cuts at
/// precision 0.947 and 0.938; README, "Noisy labels", for 20000 images and three seeds); label
/// smoothing is worth half a point or more (measured: 79.25% with plain cross-entropy, +1.55);
/// and the trimmed samples the pair relabels after the ramp mostly get their true label back.
/// And the defaults (forward correction on auto) turn the run into co-teaching after round 0,
/// at the share round 0's noise estimate leaves, and beat plain ITLM too.
#[test]
fn coteaching_beats_plain_itlm_under_random_noise() {
    let Some((train, test)) = fashion(4000, 2000) else {
        return;
    };
    let mut rand = Corrupted::clean(train);
    rand.flip_random(0.6, None, 3).unwrap();
    let bad: Vec<bool> = rand.kinds.iter().map(|k| *k != SampleKind::Clean).collect();
    let lc = LearnerConfig::default();
    let eval = itlm::Eval {
        test: Some(&test),
        test2: None,
    };
    let plain = Config {
        tau: 0.4,
        transition: Forward::Off,
        seed: 11,
        ..Default::default()
    };
    // With pseudo-labels (the measured effect of both pieces: 79.00% without them).
    let co = Config {
        coteach: Some(itlm::CoTeach {
            pseudo: Some(itlm::CoTeach::PSEUDO),
            ..Default::default()
        }),
        ..plain.clone()
    };
    let acc = |h: &[Arc<itlm::RoundRecord>]| h.last().unwrap().metrics.test_acc.unwrap();
    let hp = itlm_rounds(&lc, &rand.data, eval, &bad, &plain);
    let truth: Vec<Option<u32>> = rand.true_labels.iter().map(|&t| Some(t)).collect();
    let inputs = itlm::Inputs {
        data: &rand.data,
        eval,
        bad: Some(&bad),
        true_labels: Some(&truth),
        pins: None,
    };
    let hc = common::run_inputs(&lc, inputs, &co, &mut Quiet);
    // The same pair on plain cross-entropy (co-teaching before label smoothing).
    let unsmoothed = Config {
        coteach: co.coteach.map(|ct| itlm::CoTeach {
            smoothing: 0.0,
            ..ct
        }),
        ..co.clone()
    };
    let hu = common::run_inputs(&lc, inputs, &unsmoothed, &mut Quiet);
    // The defaults (forward correction on auto, tau 0.7): round 0 reads the noise, and the
    // run turns into co-teaching at the share its estimate leaves.
    let defaults = Config {
        seed: 11,
        ..Default::default()
    };
    let mut chosen = None;
    let ha = common::run_inputs(&lc, inputs, &defaults, &mut |e: &itlm::Event| {
        if let itlm::Event::CoteachChosen {
            shape,
            noise,
            config,
        } = e
        {
            chosen = Some((*shape, *noise, config.tau));
        }
        Ok(())
    });
    let (p, c, a, u) = (acc(&hp), acc(&hc), acc(&ha), acc(&hu));
    let trim = |h: &[Arc<itlm::RoundRecord>]| h.last().unwrap().metrics.trim.unwrap();
    eprintln!(
        "60% random, 4000: plain ITLM {:.2}% (P {:.3}), co-teaching {:.2}% (P {:.3}, {} rounds; {:.2}% without label smoothing, P {:.3}), the defaults {:.2}% (P {:.3}; auto read {chosen:?})",
        p * 100.0,
        trim(&hp).precision,
        c * 100.0,
        trim(&hc).precision,
        hc.len(),
        u * 100.0,
        trim(&hu).precision,
        a * 100.0,
        trim(&ha).precision,
    );
    assert_eq!(hc.len(), 25, "a round per epoch");
    assert_eq!(hc[0].trained_on, 4000);
    assert!(
        hc[24].trained_on > 1600,
        "tau's share and, after the ramp, the peer's pseudo-labels: {}",
        hc[24].trained_on
    );
    assert!(c > p + 0.01, "co-teaching {c} against plain ITLM {p}");
    assert!(
        c > u + 0.005,
        "label smoothing: {c} against {u} on plain cross-entropy"
    );
    // The defaults chose co-teaching from what round 0 read (spread flips, many), at a tau
    // near the clean share (measured: 65% flipped, 0.16 one-sided, tau 0.36), and end at
    // least level with plain ITLM given the right tau (measured 77.90% against 76.60: on 4000
    // images the deep tau costs co-teaching points; at 20000, README, the default is 3 points
    // over plain ITLM).
    let ((flipped, one_sided), noise, tau) = chosen.expect("auto turned to co-teaching");
    assert!(flipped > 0.5 && one_sided < 0.5, "{flipped} {one_sided}");
    assert!(
        (0.25..=0.5).contains(&tau) && (tau - (1.0 - noise)).abs() < 0.006,
        "{tau}"
    );
    assert_eq!(ha.len(), 25, "co-teaching's rounds, round 0's dropped");
    assert!(a > p - 0.01, "the defaults {a} against plain ITLM {p}");
    // The pair's pseudo-labels after the ramp: trimmed samples it calls another class with
    // p >= 0.95, most of them their true label (measured against the flips' truth).
    let q = hc[20]
        .metrics
        .relabel
        .expect("the pair relabels after the ramp");
    eprintln!(
        "epoch 21: the pair relabels {} trimmed samples, {:.3} of them to their true label ({} of {} flipped ones)",
        q.relabelled, q.precision, q.correct, q.fixable
    );
    assert!(q.relabelled > 200 && q.precision > 0.8, "{q:?}");
    assert!(hc[8].relabelled.is_empty() && hc[24].relabelled.is_empty());
}

/// Tau from the data (`run`'s default and the window's): on 4000 images with light label
/// noise (5% random), a constant 0.7 trims a quarter of the clean samples with the bad ones
/// (the hardest: Shirts, Pullovers, Coats), and plain ITLM loses to the cut round 0's noise
/// estimate leaves, which keeps about what is clean. Measured (this schedule, seeds 11 / 12 /
/// 13): tau 0.7 73.35 / 71.10 / 72.00%, from the data (tau 0.85 / 0.84 / 0.84) 75.95 / 76.25 /
/// 77.90%, +2.6 to +5.9 points; the test holds seed 11 to +1.
#[test]
fn tau_from_the_data_beats_a_constant_tau_on_lightly_noisy_data() {
    let Some((train, test)) = fashion(4000, 2000) else {
        return;
    };
    let mut light = Corrupted::clean(train);
    light.flip_random(0.05, None, 5).unwrap();
    let bad: Vec<bool> = light
        .kinds
        .iter()
        .map(|k| *k != SampleKind::Clean)
        .collect();
    let lc = LearnerConfig::default();
    let eval = itlm::Eval {
        test: Some(&test),
        test2: None,
    };
    let constant = Config {
        tau: 0.7,
        rounds: 3,
        epochs: 2.0,
        final_epochs: 6,
        transition: Forward::Off,
        seed: 11,
        ..Default::default()
    };
    let from_data = Config {
        tau_from_data: true,
        ..constant.clone()
    };
    let hc = itlm_rounds(&lc, &light.data, eval, &bad, &constant);
    let mut chosen = None;
    let hd = common::run_itlm(
        &lc,
        &light.data,
        eval,
        &bad,
        &from_data,
        &mut |e: &itlm::Event| {
            if let itlm::Event::TauChosen { noise, tau, .. } = e {
                chosen = Some((*noise, *tau));
            }
            Ok(())
        },
    );
    let (noise, tau) = chosen.expect("round 0 read the noise");
    let acc = |h: &[Arc<itlm::RoundRecord>]| h.last().unwrap().metrics.test_acc.unwrap();
    let trim = |h: &[Arc<itlm::RoundRecord>]| h.last().unwrap().metrics.trim.unwrap();
    let (c, d) = (acc(&hc), acc(&hd));
    let msg = format!(
        "5% random, 4000: tau 0.7 {:.2}% (P {:.3} R {:.3}); from the data (noise {:.1}%, tau {tau}) {:.2}% (P {:.3} R {:.3})",
        c * 100.0,
        trim(&hc).precision,
        trim(&hc).recall,
        noise * 100.0,
        d * 100.0,
        trim(&hd).precision,
        trim(&hd).recall,
    );
    eprintln!("{msg}");
    assert!(hd.iter().all(|r| r.tau == tau), "{msg}");
    // Round 0 reads more than the 5% flipped (hard clean samples it contradicts too), but
    // keeps far more than 0.7.
    assert!((0.8..0.97).contains(&tau), "{msg}");
    assert!(d > c + 0.01, "{msg}");
    // The deeper cut catches most of the flipped samples, the shallower one keeps them
    // precise.
    assert!(trim(&hd).precision > trim(&hc).precision, "{msg}");
}

/// The mission's own example of systematic noise: 40% of the Shirts labelled T-shirt and
/// nothing else (4000 images: 4% of the labels). Round 0's flips are one-sided by their mass
/// (one class carries them; the others' few flips, their hard samples' confusions, spread), so
/// the default forward-corrects, and beats plain ITLM at the same tau (from the data) on the
/// test set and in the flagged samples' precision. Measured (round 0 of 5 epochs, seeds 11 /
/// 12 / 13): one-sided 0.64 / 0.54 / 0.66; 80.60 / 80.20 / 82.05% against 79.80 / 78.60 /
/// 79.30, precision 0.346 / 0.284 / 0.243 against 0.307 / 0.200 / 0.204 (README: 90.01
/// against 88.07% on 20000 images). With round 0 at 2 epochs the read is weaker: 0.54 at
/// seed 11, and 16% spread flips at seed 12, where the default turned to co-teaching (82.55%
/// against plain ITLM's 76.70).
#[test]
fn the_default_forward_corrects_a_single_flipped_pair() {
    let Some((train, test)) = fashion(4000, 2000) else {
        return;
    };
    let mut pair = Corrupted::clean(train);
    let perm: Vec<u32> = (0..10).map(|k| if k == 6 { 0 } else { k }).collect();
    pair.flip_systematic(0.4, &perm, Some(6), 1).unwrap();
    let bad: Vec<bool> = pair.kinds.iter().map(|k| *k != SampleKind::Clean).collect();
    let lc = LearnerConfig::default();
    let eval = itlm::Eval {
        test: Some(&test),
        test2: None,
    };
    let auto = Config {
        rounds: 2,
        epochs: 5.0,
        final_epochs: 6,
        seed: 11,
        ..Config::user_default()
    };
    let plain = Config {
        transition: Forward::Off,
        ..auto.clone()
    };
    let mut decided = None;
    let ha = common::run_itlm(
        &lc,
        &pair.data,
        eval,
        &bad,
        &auto,
        &mut |e: &itlm::Event| {
            match e {
                itlm::Event::ForwardDecided { on, shape, .. } => {
                    decided = Some(format!("forward correction {on}, {shape:?}"))
                }
                itlm::Event::CoteachChosen { shape, .. } => {
                    decided = Some(format!("co-teaching, {shape:?}"))
                }
                _ => {}
            }
            Ok(())
        },
    );
    let hp = itlm_rounds(&lc, &pair.data, eval, &bad, &plain);
    let acc = |h: &[Arc<itlm::RoundRecord>]| h.last().unwrap().metrics.test_acc.unwrap();
    let trim = |h: &[Arc<itlm::RoundRecord>]| h.last().unwrap().metrics.trim.unwrap();
    let msg = format!(
        "Shirt -> T-shirt 40%, 4000: auto read {decided:?}: {:.2}% (P {:.3} R {:.3}, tau {}); plain ITLM {:.2}% (P {:.3} R {:.3})",
        acc(&ha) * 100.0,
        trim(&ha).precision,
        trim(&ha).recall,
        ha[0].tau,
        acc(&hp) * 100.0,
        trim(&hp).precision,
        trim(&hp).recall,
    );
    eprintln!("{msg}");
    assert!(
        decided.is_some_and(|d| d.starts_with("forward correction true")),
        "{msg}"
    );
    assert!(acc(&ha) > acc(&hp), "{msg}");
    assert!(trim(&ha).precision > trim(&hp).precision, "{msg}");
}

fn itlm_rounds(
    lc: &LearnerConfig,
    data: &Dataset,
    eval: itlm::Eval,
    bad: &[bool],
    cfg: &Config,
) -> Vec<Arc<itlm::RoundRecord>> {
    common::run_itlm(lc, data, eval, bad, cfg, &mut Quiet)
}

/// Backdoor (the paper's third setting): 10% of the Trousers in 6000 training images get a
/// bright X in the corner and the label Pullover. Naive training learns the trigger (test-2:
/// every stamped Trouser test image called Pullover); ITLM with the protocol the README
/// documents (SGD; round 0 five models of 0.35 epoch averaged; ten one-epoch rounds; tau 0.95
/// global; the restore; the clustering cut) trims the stamped images and the attack fails.
///
/// What is asserted is README's bar and README's figures for this setting ("Backdoors", the
/// paragraph on 6000 images): test-2 <= 5% at 4 of these 6 seeds (measured 0.3 - 2.4% at
/// seeds 2, 3, 5, 6; at seeds 1 and 4 round 0's 16 batches catch none of the stamped images
/// and test-2 stays at 98 - 99%), the attack working on naive training at every seed
/// (measured 98.6 - 99.7%: > 90%). README's other bar, test-1 within 1.5 points of naive, is
/// met at 20000 images and NOT at 6000: there the defended seeds lose 1.2 - 3.0 points
/// (measured: -1.2, -2.9, -3.0, -2.4 at seeds 5, 2, 3, 6; naive 80.8 - 81.6% on the
/// 3000-image test subset; -1.4, -2.2, -2.1, -1.9 before the clustering cut joined the
/// protocol: at 6000 it also holds out a few dozen odd clean images, such as 21 Trousers at
/// seed 2). The test holds them to 3.5 points (the worst measured with 0.5 of margin) and
/// prints whether each seed met 1.5.
///
/// Each seed trains ~55 epochs of 6000 images (about a minute on 2 cores), so `cargo test`
/// runs two of the defended seeds and asserts the attack fails at both; all six seeds with
/// README's "4 of 6" bar are [`itlm_defends_a_corner_backdoor_at_4_of_6_seeds`], run with
/// `cargo test --release --test real_data -- --ignored` (about 6 minutes).
#[test]
fn itlm_defends_a_corner_backdoor_that_naive_training_learns() {
    backdoor_seeds(&[5, 2], 2);
}

/// README's figure in full: six seeds, at least four defended (about 6 minutes on 2 cores).
#[test]
#[ignore = "6 minutes: six seeds of the backdoor test; run with -- --ignored"]
fn itlm_defends_a_corner_backdoor_at_4_of_6_seeds() {
    backdoor_seeds(&[5, 1, 2, 3, 4, 6], 4);
}

/// Runs the backdoor setting at `seeds` and asserts at least `min_defended` of them hold
/// test-2 <= 5% (and, at those, the cost and restore checks).
fn backdoor_seeds(seeds: &[u64], min_defended: usize) {
    let Some((train, test)) = fashion(6000, 3000) else {
        return;
    };
    let (from, to) = (1, 2);
    let mark = Watermark::new(MarkShape::X, Watermark::default_size(train.shape));
    let test2 = itlm_inspector::data::corrupt::test2_set(&test, from, to, &mark).unwrap();
    let lc = itlm_inspector::presets::backdoor_learner();
    let mut held = Vec::new();
    for &seed in seeds {
        let mut c = Corrupted::clean(train.clone());
        let stamped = c.backdoor(0.1, from, to, &mark, seed).unwrap();
        assert!(stamped > 40, "{stamped}");
        let bad: Vec<bool> = c.kinds.iter().map(|k| *k != SampleKind::Clean).collect();
        let cfg = Config {
            seed,
            ..itlm_inspector::presets::backdoor_protocol()
        };
        let mut naive = learner::build(&lc, &c.data).unwrap();
        naive.reset(seed).unwrap();
        let all: Vec<usize> = (0..c.data.len()).collect();
        naive
            .train(
                &c.data,
                &all,
                cfg.final_epochs as f64,
                seed,
                &mut |_| Ok(()),
            )
            .unwrap();
        let (naive1, naive2) = (
            accuracy(naive.as_mut(), &test),
            accuracy(naive.as_mut(), &test2),
        );
        assert!(
            naive2 > 0.9,
            "seed {seed}: the attack must work on naive training: {naive2}"
        );
        let eval = itlm::Eval {
            test: Some(&test),
            test2: Some(&test2),
        };
        let hist = itlm_rounds(&lc, &c.data, eval, &bad, &cfg);
        assert_eq!(hist.len(), cfg.rounds + 2, "the restore adds a round");
        let last = &hist.last().unwrap().metrics;
        let (itlm1, itlm2) = (last.test_acc.unwrap(), last.test2_acc.unwrap());
        // Round `rounds` is the final model of plain ITLM, trained before the restore.
        let plain = &hist[cfg.rounds].metrics;
        let (plain1, plain2) = (plain.test_acc.unwrap(), plain.test2_acc.unwrap());
        let trim = last.trim.unwrap();
        // README's bar on the attack: test-2 <= 5%.
        let holds = itlm2 <= 0.05;
        let cost = (naive1 - itlm1) * 100.0;
        eprintln!(
            "seed {seed}, {stamped} stamped: naive test-1 {:.1}% test-2 {:.1}%; ITLM test-1 {:.1}% ({:+.1} points{}) test-2 {:.1}% (without restore {:.1}% / {:.1}%), trim P {:.3} R {:.3}: {}",
            naive1 * 100.0,
            naive2 * 100.0,
            itlm1 * 100.0,
            -cost,
            if cost <= 1.5 { ", within 1.5" } else { ", NOT within 1.5" },
            itlm2 * 100.0,
            plain1 * 100.0,
            plain2 * 100.0,
            trim.precision,
            trim.recall,
            if holds { "defended" } else { "NOT defended" }
        );
        held.push(holds);
        // The restore (round `rounds` cuts on round `rounds - 1`'s losses, so its plain cut
        // is that round's): where the cut caught the attack, the target class is suspect and
        // keeps its stamped images out, while clean trimmed images of other classes go back
        // (on 6000 images the minimum cell is 6 samples, so natural one-way confusions make
        // more classes suspect than at 20000: 9 - 15% go back here, 35 - 50% there; at least 5% is
        // asserted).
        let (plain, restored) = (&hist[cfg.rounds - 1].kept, &hist[cfg.rounds].kept);
        let count = |f: &dyn Fn(usize) -> bool| (0..bad.len()).filter(|&i| f(i)).count();
        let trimmed_clean = count(&|i| !plain[i] && !bad[i]);
        let back_clean = count(&|i| !plain[i] && restored[i] && !bad[i]);
        let back_bad = count(&|i| !plain[i] && restored[i] && bad[i]);
        eprintln!(
            "  restore: {back_clean} of {trimmed_clean} clean trimmed images went back, {back_bad} stamped"
        );
        let held_out = &hist.last().unwrap().held_out;
        eprintln!(
            "  clustering cut: held out {} ({} stamped)",
            count(&|i| held_out.get(i) == Some(&true)),
            count(&|i| held_out.get(i) == Some(&true) && bad[i])
        );
        // The cut's repair: held-out members the model before it calls by the cluster's other
        // class train under that class (`clusters::repairs`); here that is the stamped
        // Trousers going back to Trouser (at seed 2, 67 relabelled at 0.866: the cut also held
        // out 21 odd clean Trousers).
        let relabelled = &hist.last().unwrap().relabelled;
        let repaired: Vec<usize> = (0..relabelled.len())
            .filter(|&i| relabelled[i].is_some())
            .collect();
        let right = repaired
            .iter()
            .filter(|&&i| bad[i] && relabelled[i] == Some(from))
            .count();
        let held_bad = count(&|i| held_out.get(i) == Some(&true) && bad[i]);
        eprintln!(
            "  repair: {} relabelled, {right} of them stamped images back to their own class",
            repaired.len()
        );
        assert!(
            repaired.iter().all(|&i| held_out[i]),
            "seed {seed}: only samples the cut held out are repaired"
        );
        if holds {
            assert!(
                right * 5 >= repaired.len() * 4 && right * 2 >= held_bad,
                "seed {seed}: the repair relabelled {} ({right} stamped to their class) of {held_bad} stamped held out",
                repaired.len()
            );
            // Clean accuracy pays for the 5% cut and the clustering cut: 1.2 - 3.0 points
            // measured on this set.
            assert!(
                cost <= 3.5,
                "seed {seed}: test-1 {:.1}% is {cost:.1} points below naive's {:.1}%",
                itlm1 * 100.0,
                naive1 * 100.0
            );
            assert_eq!(back_bad, 0, "seed {seed}: stamped images went back");
            assert!(
                back_clean * 20 >= trimmed_clean,
                "seed {seed}: only {back_clean} of {trimmed_clean} clean trimmed images went back"
            );
        }
    }
    assert!(
        held.iter().filter(|&&h| h).count() >= min_defended,
        "test-2 <= 5% at {held:?} (seeds {seeds:?}); at least {min_defended} must hold (README: 4 of 6)"
    );
}

/// The clustering cut's repair, with and without, on the pair no loss separates (Shirt ->
/// T-shirt: a stamped Shirt looks like a T-shirt, README "Backdoors"), 20000 images. The
/// protocol's final round first trains without the held-out cluster; that model, which never
/// saw the stamped images, calls most of them Shirt, and those train as Shirt in the final
/// model trained again, which learns that the mark does not mean T-shirt. Without the repair
/// (the same first model, reproduced here from the run's seeds: the cluster only held out),
/// the stamped images the cut missed teach the trigger unopposed.
///
/// Measured here when written (seed 1; `reproduce backdoor --no-naive --pairs 6-0-L --seed 1`
/// is the same run): the cut held out 291 (189 of the 196 stamped); the repair sent 179 back,
/// 145 of them stamped Shirts (precision 0.81: the rest are clean T-shirts of the cluster);
/// attack success 1.1% with the repair against 5.9% held out only, clean accuracy 87.27%
/// against 86.88. Asserted: most held-out stamped images go back at a precision over 0.7,
/// attack success 2 points lower, clean accuracy no more than a point lower. About 170 s on 2
/// cores alone (320 s beside two other runs).
#[test]
fn the_cluster_repair_lowers_attack_success_below_holding_the_cluster_out() {
    let Some((train, test)) = fashion(20000, 10000) else {
        return;
    };
    let (from, to, seed) = (6, 0, 1);
    let mark = Watermark::new(MarkShape::L, Watermark::default_size(train.shape));
    let test2 = itlm_inspector::data::corrupt::test2_set(&test, from, to, &mark).unwrap();
    let mut c = Corrupted::clean(train);
    let stamped = c.backdoor(0.1, from, to, &mark, seed).unwrap();
    let bad: Vec<bool> = c.kinds.iter().map(|k| *k != SampleKind::Clean).collect();
    let lc = itlm_inspector::presets::backdoor_learner();
    let cfg = Config {
        seed,
        ..itlm_inspector::presets::backdoor_protocol()
    };
    let eval = itlm::Eval {
        test: Some(&test),
        test2: Some(&test2),
    };
    let hist = itlm_rounds(&lc, &c.data, eval, &bad, &cfg);
    let last = hist.last().unwrap();
    let before = &hist[hist.len() - 2];
    let n = bad.len();
    let held = |i: usize| last.held_out.get(i) == Some(&true);
    let repaired: Vec<usize> = (0..n).filter(|&i| last.relabelled[i].is_some()).collect();
    let right = repaired
        .iter()
        .filter(|&&i| bad[i] && last.relabelled[i] == Some(from))
        .count();
    let held_bad = (0..n).filter(|&i| held(i) && bad[i]).count();
    // Without the repair: the round's first model, trained on the last cut minus the held-out
    // cluster with the run's seeds for that round.
    let round = last.round as u64;
    let without_set: Vec<usize> = (0..n).filter(|&i| before.kept[i] && !held(i)).collect();
    let mut m = learner::build(&lc, &c.data).unwrap();
    m.reset(itlm_inspector::rng::Rng::derive(seed, round).next_u64())
        .unwrap();
    m.train(
        &c.data,
        &without_set,
        last.epochs,
        itlm_inspector::rng::Rng::derive(seed, 1000 + round).next_u64(),
        &mut |_| Ok(()),
    )
    .unwrap();
    let (without1, without2) = (accuracy(m.as_mut(), &test), accuracy(m.as_mut(), &test2));
    let (with1, with2) = (
        last.metrics.test_acc.unwrap(),
        last.metrics.test2_acc.unwrap(),
    );
    eprintln!(
        "{stamped} stamped; the cut held out {} ({held_bad} stamped); repaired {} ({right} stamped back to Shirt); test-1 / test-2: with the repair {:.2}% / {:.1}%, held out only {:.2}% / {:.1}%",
        (0..n).filter(|&i| held(i)).count(),
        repaired.len(),
        with1 * 100.0,
        with2 * 100.0,
        without1 * 100.0,
        without2 * 100.0
    );
    assert!(
        held_bad * 2 > stamped,
        "the cut must find the attack: {held_bad} of {stamped}"
    );
    assert!(
        right * 2 > held_bad && right * 10 >= repaired.len() * 7,
        "the repair must send most held-out stamped images back, precisely: {right} of {} ({held_bad} stamped held out)",
        repaired.len()
    );
    assert!(
        with2 + 0.02 < without2,
        "attack success with the repair {with2} against {without2} held out only"
    );
    assert!(
        with1 > without1 - 0.01,
        "clean accuracy with the repair {with1} against {without1}"
    );
}

/// Mixed data (the paper's generative setting): Sneaker images with 20% images of the other
/// classes, a VAE scored by its negative ELBO. Trimming at random would catch 20% of the
/// spurious images; ITLM's cut catches most of them, and rounds do not make it worse.
#[test]
fn vae_itlm_trims_spurious_images_from_a_mixed_set() {
    let Some((train, _test)) = fashion(15000, 1) else {
        return;
    };
    let class = 7; // Sneaker
    let pool: Vec<usize> = (0..train.len())
        .filter(|&i| train.label(i) != class)
        .collect();
    let c = Corrupted::spurious(&train, class, &train, &pool, 0.2, 3).unwrap();
    let bad: Vec<bool> = c.kinds.iter().map(|k| *k != SampleKind::Clean).collect();
    let spurious = bad.iter().filter(|&&b| b).count();
    assert!(spurious > 200, "{spurious} of {}", c.data.len());
    let lc = LearnerConfig {
        model: ModelKind::Vae,
        ..LearnerConfig::default()
    };
    let cfg = Config {
        tau: 0.8,
        rounds: 3,
        epochs: 3.0,
        final_epochs: 3,
        select: Selection::Global,
        schedule: TauSchedule::Constant,
        seed: 3,
        ..Default::default()
    };
    let hist = itlm_rounds(&lc, &c.data, itlm::Eval::default(), &bad, &cfg);
    let per_round: Vec<(f64, f64)> = hist
        .iter()
        .map(|r| {
            let t = r.metrics.trim.unwrap();
            (t.precision, t.recall)
        })
        .collect();
    eprintln!(
        "{} samples, {spurious} spurious: trim (precision, recall) per round {per_round:?}",
        c.data.len()
    );
    let (p, r) = *per_round.last().unwrap();
    assert!(r > 0.7, "recall {r}");
    assert!(p > 0.2 + 0.4, "precision {p} (random: 0.2)");
    assert!(
        r >= per_round[0].1 - 0.05,
        "rounds made it worse: {per_round:?}"
    );
    // The run recorded generated images for every round (the poster's figure).
    assert!(hist.iter().all(|r| r.generated.is_some()));
}
