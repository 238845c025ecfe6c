//! The loop's options, exactly, with the fake learner: the mean-loss aggregate, warm start
//! (the full-length rounds always start fresh), the held-out test / test-2 metrics, and the
//! averaged class probabilities of a round-0 ensemble and of cross-fitted folds, forward
//! correction's training sets and matrices.

mod common;

use std::sync::Arc;

use common::{dataset, FakeLearner};
use itlm_inspector::data::{Dataset, ImageShape, Source};
use itlm_inspector::itlm::{
    self, Config, Event, FinalSet, Forward, LossAggregate, Phase, RoundRecord, Start, TauSchedule,
};

fn cfg(tau: f64, rounds: usize) -> Config {
    Config {
        tau,
        rounds,
        epochs: 2.0,
        final_epochs: 5,
        schedule: TauSchedule::Constant,
        ..Default::default()
    }
}

fn run(l: &mut FakeLearner, data: &Dataset, eval: itlm::Eval, c: &Config) -> Vec<Arc<RoundRecord>> {
    let mut hist = Vec::new();
    itlm::run(
        l,
        itlm::Inputs {
            data,
            eval,
            bad: None,
            true_labels: None,
            pins: None,
        },
        c,
        Start::Fresh,
        &mut hist,
        &mut itlm::Quiet,
    )
    .unwrap();
    hist
}

fn trimmed(r: &RoundRecord) -> Vec<usize> {
    (0..r.kept.len()).filter(|&i| !r.kept[i]).collect()
}

/// `--aggregate mean`: each round cuts on the mean of every round's losses so far. Round 0's
/// model ranks samples 8, 9 highest (100 i), round 1's ranks 0, 1 highest (9 - i): the mean
/// (99 i + 9) / 2 still trims 8, 9 where the last round's losses alone trim 0, 1.
#[test]
fn the_mean_aggregate_cuts_on_the_mean_of_all_rounds_losses() {
    let n = 10;
    let data = dataset(n, 2);
    let shifts = vec![
        (0..n).map(|i| 100.0 * i as f32).collect::<Vec<_>>(),
        (0..n).map(|i| (9 - i) as f32).collect(),
        vec![0.0; n],
    ];
    let run_with = |aggregate| {
        let (mut l, calls) = FakeLearner::new(vec![0.0; n]);
        l.model_shift = shifts.clone();
        let hist = run(
            &mut l,
            &data,
            Default::default(),
            &Config {
                aggregate,
                ..cfg(0.8, 2)
            },
        );
        let trains = calls.lock().unwrap().trains.clone();
        (hist, trains)
    };
    let (hist, trains) = run_with(LossAggregate::Mean);
    assert_eq!(hist.len(), 3);
    // Round 0: its own losses; round 1: the mean of two; round 2: the mean of three.
    assert_eq!(hist[0].score, shifts[0]);
    let mean2: Vec<f32> = (0..n).map(|i| (99 * i + 9) as f32 / 2.0).collect();
    assert_eq!(hist[1].score, mean2);
    assert_eq!(
        hist[1].loss, shifts[1],
        "the record keeps the round's own losses"
    );
    let mean3: Vec<f32> = (0..n).map(|i| (99 * i + 9) as f32 / 3.0).collect();
    for (a, b) in hist[2].score.iter().zip(&mean3) {
        assert!((a - b).abs() < 1e-4, "{a} vs {b}");
    }
    assert_eq!(trimmed(&hist[1]), vec![8, 9]);
    assert_eq!(
        trains[2].0,
        (0..8).collect::<Vec<_>>(),
        "round 2 trains on the mean's cut"
    );
    // The same losses with the default (last) aggregate: round 1 trims 0 and 1.
    let (hist, trains) = run_with(LossAggregate::Last);
    assert_eq!(hist[1].score, shifts[1]);
    assert_eq!(trimmed(&hist[1]), vec![0, 1]);
    assert_eq!(trains[2].0, (2..10).collect::<Vec<_>>());
}

/// `--warm-start`: the early rounds keep training round 0's model (one reset, its losses carry
/// on: the fake's model index is the number of resets), and the last round starts fresh; with
/// the restore both full-length rounds start fresh.
#[test]
fn warm_start_keeps_the_early_model_and_the_full_length_rounds_start_fresh() {
    let n = 12;
    let data = dataset(n, 3);
    let shift = |m: f32| (0..n).map(|i| m * 10.0 + i as f32).collect::<Vec<f32>>();
    let (mut l, calls) = FakeLearner::new(vec![0.0; n]);
    l.model_shift = (0..4).map(|m| shift(m as f32)).collect();
    let c = Config {
        reinit: false,
        ..cfg(0.75, 3)
    };
    let hist = run(&mut l, &data, Default::default(), &c);
    assert_eq!(hist.len(), 4);
    let resets = calls.lock().unwrap().resets.len();
    assert_eq!(resets, 2, "round 0 and the last round");
    // Rounds 0 - 2 were scored by the first model, round 3 by the second.
    for r in &hist[..3] {
        assert_eq!(r.loss, shift(0.0), "round {}", r.round);
    }
    assert_eq!(hist[3].loss, shift(1.0));

    // Re-initialising (the default): a model per round.
    let (mut l, calls) = FakeLearner::new(vec![0.0; n]);
    l.model_shift = (0..4).map(|m| shift(m as f32)).collect();
    let hist = run(&mut l, &data, Default::default(), &cfg(0.75, 3));
    assert_eq!(calls.lock().unwrap().resets.len(), 4);
    assert_eq!(hist[2].loss, shift(2.0));

    // Warm start with the restore: rounds 2 (final model of plain ITLM) and 3 (the restored
    // set's) both start fresh, round 1 continues round 0's model.
    let (mut l, calls) = FakeLearner::new(vec![0.0; n]);
    l.model_shift = (0..4).map(|m| shift(m as f32)).collect();
    let c = Config {
        reinit: false,
        restore: true,
        ..cfg(0.75, 2)
    };
    let hist = run(&mut l, &data, Default::default(), &c);
    assert_eq!(hist.len(), 4);
    assert_eq!(calls.lock().unwrap().resets.len(), 3);
    assert_eq!(hist[1].loss, shift(0.0));
    assert_eq!(hist[2].loss, shift(1.0));
    assert_eq!(hist[3].loss, shift(2.0));
}

/// A set whose first pixel of image i is `pred[i]` (the fake's prediction with
/// `predict_pixel`), labelled `labels`.
fn eval_set(name: &str, labels: Vec<u32>, pred: &[u8], classes: usize) -> Dataset {
    let n = labels.len();
    let mut pixels = vec![0u8; n * 4];
    for i in 0..n {
        pixels[i * 4] = pred[i];
    }
    Dataset::from_parts(
        name,
        Source::Memory,
        (0..classes).map(|c| format!("c{c}")).collect(),
        ImageShape::new(2, 2, 1),
        pixels,
        labels,
        (0..n).map(|i| format!("{name}{i}.png")).collect(),
    )
    .unwrap()
}

/// Test-1 (accuracy and mean loss on the clean test set) and test-2 (attack success: the share
/// of stamped images predicted as the target) of every round, from the round's own model.
#[test]
fn every_round_reports_test_and_test2_from_its_own_model() {
    let data = dataset(20, 2);
    // Test set: labels i % 2, 7 of 10 predicted right (samples 0, 3, 5 wrong).
    let labels: Vec<u32> = (0..10).map(|i| i % 2).collect();
    let pred: Vec<u8> = (0..10)
        .map(|i| {
            if [0, 3, 5].contains(&i) {
                1 - (i % 2) as u8
            } else {
                (i % 2) as u8
            }
        })
        .collect();
    let test = eval_set("t", labels, &pred, 2);
    // Test-2: 8 stamped images labelled with the target class 1; 2 predicted 1.
    let test2 = eval_set("s", vec![1; 8], &[1, 0, 0, 1, 0, 0, 0, 0], 2);
    let (mut l, calls) = FakeLearner::new((0..20).map(|i| i as f32 / 10.0).collect());
    l.predict_pixel = true;
    // Model m adds m to every loss: each round's test loss is its own model's.
    l.model_shift = (0..3).map(|m| vec![m as f32; 20]).collect();
    let eval = itlm::Eval {
        test: Some(&test),
        test2: Some(&test2),
    };
    let mut hist = Vec::new();
    let mut test_ticks = vec![0usize; 3];
    let mut obs = |e: &Event| {
        if let Event::Tick { round, tick } = e {
            if tick.phase == Phase::Test {
                test_ticks[*round] += 1;
            }
        }
        Ok(())
    };
    itlm::run(
        &mut l,
        itlm::Inputs {
            data: &data,
            eval,
            bad: None,
            true_labels: None,
            pins: None,
        },
        &cfg(0.8, 2),
        Start::Fresh,
        &mut hist,
        &mut obs,
    )
    .unwrap();
    assert_eq!(
        test_ticks,
        vec![2, 2, 2],
        "one scoring batch per set and round"
    );
    // Every score call: the training set, then test, then test-2.
    let scored: Vec<usize> = calls.lock().unwrap().scored.iter().map(Vec::len).collect();
    assert_eq!(scored, [20, 10, 8].repeat(3));
    // Test losses: samples 0..10 of the fake's losses (mean 0.45) plus the model's shift.
    for (m, r) in hist.iter().enumerate() {
        assert_eq!(r.metrics.test_acc, Some(0.7), "round {m}");
        assert_eq!(r.metrics.test2_acc, Some(0.25), "round {m}");
        let want = 0.45 + m as f64;
        let got = r.metrics.test_loss.unwrap();
        assert!((got - want).abs() < 1e-6, "round {m}: {got} vs {want}");
    }
    // Without eval sets: no test figures.
    let (mut l, _) = FakeLearner::new(vec![0.0; 20]);
    let hist = run(&mut l, &data, Default::default(), &cfg(0.8, 1));
    assert!(hist.iter().all(|r| r.metrics.test_acc.is_none()
        && r.metrics.test2_acc.is_none()
        && r.metrics.test_loss.is_none()));
}

/// A round-0 ensemble averages its models' class probabilities: the prediction is the argmax
/// of the mean and p(given) its entry, whatever each model predicted alone.
#[test]
fn a_round0_ensemble_averages_class_probabilities() {
    let n = 10;
    let data = dataset(n, 2); // labels i % 2
    let a: Vec<f32> = (0..n).flat_map(|_| [0.9, 0.1]).collect();
    let b: Vec<f32> = (0..n)
        .flat_map(|i| if i < 5 { [0.2, 0.8] } else { [0.0, 1.0] })
        .collect();
    let (mut l, _) = FakeLearner::new(vec![0.0; n]);
    l.probs = vec![a, b];
    // Each model alone "predicts" class 1 for every sample (the fake's own predictions are
    // not what an ensemble reports).
    l.predicted = Some(vec![1; n]);
    let c = Config {
        round0_models: 2,
        ..cfg(0.8, 1)
    };
    let hist = run(&mut l, &data, Default::default(), &c);
    let r0 = &hist[0];
    assert_eq!(r0.probs.len(), n * 2);
    for i in 0..n {
        let want = if i < 5 { [0.55, 0.45] } else { [0.45, 0.55] };
        for (c, w) in want.iter().enumerate() {
            assert!(
                (r0.probs[i * 2 + c] - w).abs() < 1e-6,
                "sample {i} class {c}"
            );
        }
        assert_eq!(r0.predicted[i], u32::from(i >= 5), "sample {i}");
        let pg = want[i % 2];
        assert!(
            (r0.p_given[i] - pg).abs() < 1e-6,
            "sample {i}: {}",
            r0.p_given[i]
        );
    }
    // Round 1 is one model (no probabilities): its own predictions.
    assert_eq!(hist[1].predicted, vec![1; n]);
    assert!(hist[1].probs.is_empty());
}

/// Cross-fitted folds: a kept sample's probabilities are those of the one fold model that
/// scored it; a trimmed sample (scored by every fold model) gets their mean.
#[test]
fn cross_fitted_folds_report_each_samples_out_of_fold_probabilities() {
    let n = 12;
    let data = dataset(n, 2);
    // Model 0 (round 0), models 1 and 2 (round 1's folds), model 3 (the last round).
    let uniform = |p: f32| (0..n).flat_map(move |_| [p, 1.0 - p]).collect::<Vec<f32>>();
    let (mut l, calls) = FakeLearner::new((0..n).map(|i| i as f32).collect());
    l.probs = vec![uniform(0.5), uniform(0.8), uniform(0.2), uniform(0.5)];
    let c = Config {
        folds: 2,
        ..cfg(0.75, 2)
    };
    let hist = run(&mut l, &data, Default::default(), &c);
    let calls = calls.lock().unwrap();
    let r1 = &hist[1];
    // Round 0 trims the three highest losses (9, 10, 11).
    assert_eq!(trimmed(&hist[0]), vec![9, 10, 11]);
    for i in 0..n {
        let p0 = r1.probs[i * 2];
        let want = if i >= 9 {
            0.5 // scored by both fold models: (0.8 + 0.2) / 2
        } else if calls.scored[1].contains(&i) {
            0.8
        } else {
            assert!(calls.scored[2].contains(&i));
            0.2
        };
        assert!((p0 - want).abs() < 1e-6, "sample {i}: {p0} vs {want}");
        assert_eq!(r1.predicted[i], u32::from(want < 0.5), "sample {i}");
    }
}

/// 10000 : 3 and the global cut at tau 0.7: the rare class (high losses, as a class learned
/// last has) is trimmed whole, and the core says so before the run and after the round; the
/// per-class selection keeps it. The cut itself is the paper's: the warnings change nothing.
#[test]
fn a_global_cut_that_trims_a_whole_rare_class_is_warned_about() {
    let mut labels = vec![0u32; 10000];
    labels.extend([1, 1, 1]);
    let n = labels.len();
    let classes = vec!["common".to_string(), "rare".to_string()];
    let data = Dataset::from_parts(
        "imbalanced",
        Source::Memory,
        classes.clone(),
        ImageShape::new(2, 2, 1),
        vec![0; n * 4],
        labels.clone(),
        (0..n).map(|i| format!("s{i}.png")).collect(),
    )
    .unwrap();
    let losses: Vec<f32> = (0..n)
        .map(|i| {
            if i >= 10000 {
                5.0
            } else {
                (i % 100) as f32 / 100.0
            }
        })
        .collect();
    let global = cfg(0.7, 1);
    assert!(
        itlm::imbalance::rare_classes(&labels, &classes, global.tau, global.select)
            .unwrap()
            .contains("class 'rare' (3 samples) is under a tenth of the largest class (10000)")
    );
    let (mut l, _) = FakeLearner::new(losses.clone());
    let hist = run(&mut l, &data, Default::default(), &global);
    for r in &hist {
        assert!(r.kept[10000..].iter().all(|&k| !k), "round {}", r.round);
        assert_eq!(
            itlm::imbalance::emptied_classes(&r.kept, &labels, &classes).unwrap(),
            "the cut trimmed every sample of class 'rare' (3 samples): the model trained on the \
             kept set never sees it; the per-class selection keeps the tau share of every class"
        );
    }
    let per_class = Config {
        select: itlm::Selection::PerClass,
        ..global
    };
    assert_eq!(
        itlm::imbalance::rare_classes(&labels, &classes, per_class.tau, per_class.select),
        None
    );
    let (mut l, _) = FakeLearner::new(losses);
    let hist = run(&mut l, &data, Default::default(), &per_class);
    for r in &hist {
        assert!(r.kept[10000..].iter().all(|&k| k), "round {}", r.round);
        assert_eq!(
            itlm::imbalance::emptied_classes(&r.kept, &labels, &classes),
            None
        );
    }
}

/// Human-guided ITLM: excluded samples never train and are never kept, kept samples are always
/// in the kept set and take their places in tau's budget (ceil(tau * n) of all samples), the
/// lowest losses among the rest fill what is left; a continued run keeps the pins too.
#[test]
fn pinned_samples_train_and_stay_as_the_user_decided() {
    let n = 10;
    let data = dataset(n, 2);
    // Losses rise with the index: plain ITLM at tau 0.6 keeps 0..6 and trims 6..10.
    let losses: Vec<f32> = (0..n).map(|i| i as f32).collect();
    let (mut plain, _) = FakeLearner::new(losses.clone());
    let hist = run(&mut plain, &data, Default::default(), &cfg(0.6, 2));
    assert_eq!(trimmed(&hist[2]), [6, 7, 8, 9]);

    let mut pins = itlm::Pins::none(n);
    pins.exclude[1] = true; // a low loss the user knows is bad
    pins.keep[9] = true; // the highest loss, which the user says is fine
    let (mut l, calls) = FakeLearner::new(losses);
    let mut h = Vec::new();
    itlm::run(
        &mut l,
        itlm::Inputs {
            true_labels: None,
            pins: Some(&pins),
            ..itlm::Inputs::new(&data)
        },
        &cfg(0.6, 2),
        Start::Fresh,
        &mut h,
        &mut itlm::Quiet,
    )
    .unwrap();
    let trains = calls.lock().unwrap().trains.clone();
    // Round 0 trains on everything but the excluded sample.
    assert_eq!(trains[0].0, [0, 2, 3, 4, 5, 6, 7, 8, 9]);
    for r in &h {
        // 6 places: sample 9 (pinned) and the five lowest losses of the rest but the
        // excluded 1.
        assert_eq!(r.metrics.kept, 6);
        assert_eq!(trimmed(r), [1, 6, 7, 8]);
        // The record keeps the model's own losses, not the pins' ranking.
        assert_eq!(r.score[9], 9.0);
    }
    for (idx, _) in &trains[1..] {
        assert_eq!(idx, &[0, 2, 3, 4, 5, 9]);
    }

    // Continuing at another cut ("retrain at this tau") keeps the pins over the given cut.
    let mut cut = vec![true; n];
    cut[9] = false;
    let (mut l2, calls2) = FakeLearner::new((0..n).map(|i| i as f32).collect());
    let mut h2 = h[..1].to_vec();
    itlm::run(
        &mut l2,
        itlm::Inputs {
            true_labels: None,
            pins: Some(&pins),
            ..itlm::Inputs::new(&data)
        },
        &cfg(0.6, 2),
        Start::After { kept: cut },
        &mut h2,
        &mut itlm::Quiet,
    )
    .unwrap();
    assert_eq!(
        calls2.lock().unwrap().trains[0].0,
        [0, 2, 3, 4, 5, 6, 7, 8, 9]
    );

    // Pins that do not fit the set are refused.
    let bad = itlm::Pins::none(n + 1);
    let err = itlm::run(
        &mut plain,
        itlm::Inputs {
            true_labels: None,
            pins: Some(&bad),
            ..itlm::Inputs::new(&data)
        },
        &cfg(0.6, 2),
        Start::Fresh,
        &mut Vec::new(),
        &mut itlm::Quiet,
    )
    .unwrap_err();
    assert!(err.to_string().contains("the dataset has 10"), "{err}");
}

/// Class probabilities of `n` samples labelled `i % 2`: each looks like its label, except that
/// with `flip` samples 0..4 (labels 0, 1, 0, 1) all look like class 0 (round 0's model of the
/// forward-correction tests).
fn flip_probs(n: usize, flip: bool) -> Vec<f32> {
    (0..n)
        .flat_map(|i| {
            let c = if flip && i < 4 { 0 } else { i % 2 };
            if c == 0 {
                [0.9, 0.1]
            } else {
                [0.1, 0.9]
            }
        })
        .collect()
}

/// `Config::transition`: round 0 trains plainly on every sample; each later round trains on
/// every sample the user did not exclude (the cut only ranks) with the transition matrix the
/// previous round's class probabilities imply, which its record keeps.
#[test]
fn forward_correction_trains_every_round_on_all_samples_with_the_previous_models_matrix() {
    let n = 20;
    let data = dataset(n, 2); // labels i % 2
                              // Losses rise with the index: the cut at tau 0.6 trims 12..20.
    let losses: Vec<f32> = (0..n).map(|i| i as f32).collect();
    // Round 0's model: samples 0..4 (labels 0, 1, 0, 1) all look like class 0; the rest look
    // like their label. Later models: every sample looks like its label.
    let probs = |flip: bool| flip_probs(n, flip);
    let (mut l, calls) = FakeLearner::new(losses.clone());
    l.probs = vec![probs(true), probs(false), probs(false)];
    let mut pins = itlm::Pins::none(n);
    pins.exclude[5] = true;
    let config = Config {
        transition: Forward::On,
        ..cfg(0.6, 2)
    };
    let mut h = Vec::new();
    let mut started = Vec::new();
    itlm::run(
        &mut l,
        itlm::Inputs {
            pins: Some(&pins),
            ..itlm::Inputs::new(&data)
        },
        &config,
        Start::Fresh,
        &mut h,
        &mut |e: &Event| {
            if let Event::RoundStarted { trained_on, .. } = e {
                started.push(*trained_on);
            }
            Ok(())
        },
    )
    .unwrap();
    let c = calls.lock().unwrap().clone();
    let everyone: Vec<usize> = (0..n).filter(|&i| i != 5).collect();
    // The progress events say what each round really trains on.
    assert_eq!(started, [19, 19, 19]);
    assert_eq!(c.trains.len(), 3);
    for (idx, _) in &c.trains {
        assert_eq!(
            idx, &everyone,
            "every round trains on every sample not excluded"
        );
    }
    // Round 0 plain; rounds 1 and 2 with the matrices of rounds 0 and 1.
    assert_eq!(c.transitions.len(), 3);
    assert!(c.transitions[0].is_none() && h[0].transition.is_empty());
    let t1 = c.transitions[1].clone().expect("round 1 corrects");
    // Round 0 saw samples 1 and 3 (labelled 1) as class 0: of the 12 class-0 samples among
    // the 19 (0, 2, .. 18 and 1, 3), 2 are labelled 1; class 1's are all labelled 1.
    let want = [10.0 / 12.0, 2.0 / 12.0, 0.0, 1.0];
    for (a, b) in t1.iter().zip(want) {
        assert!((a - b).abs() < 0.02, "{t1:?} vs {want:?}");
    }
    assert_eq!(h[1].transition, t1);
    let t2 = c.transitions[2].clone().expect("round 2 corrects");
    assert_eq!(t2, [1.0, 0.0, 0.0, 1.0], "round 1's model sees no flip");
    assert_eq!(h[2].transition, t2);
    // A forward-corrected round estimates its cut's precision and recall; round 0 does not,
    // nor round 2, whose matrix says no label is wrong (nothing to estimate).
    assert!(h[0].metrics.estimated.is_none());
    let (p, r) = h[1].metrics.estimated.expect("round 1 estimates its cut");
    assert!(
        (0.0..=1.0).contains(&p) && (0.0..=1.0).contains(&r),
        "{p} {r}"
    );
    assert!(h[2].metrics.estimated.is_none());
    // The cut still ranks by loss: every round trims the highest losses.
    for r in &h {
        assert_eq!(r.metrics.trimmed, 8);
        assert!(!r.kept[19]);
    }

    // A learner that cannot train through a matrix trains plainly on the cut.
    let (mut plainly, calls) = FakeLearner::new(losses.clone());
    plainly.probs = vec![probs(true), probs(false), probs(false)];
    plainly.transition_applies = false;
    let h = run(&mut plainly, &data, Default::default(), &config);
    assert_eq!(calls.lock().unwrap().trains[1].0.len(), 12);
    assert!(h
        .iter()
        .all(|r| r.transition.is_empty() && r.metrics.estimated.is_none()));

    // Off (the paper): no matrix is ever set, the rounds train on the cut.
    let (mut plain, calls) = FakeLearner::new(losses);
    let h = run(&mut plain, &data, Default::default(), &cfg(0.6, 2));
    let c = calls.lock().unwrap().clone();
    assert!(c.transitions.is_empty());
    assert!(h.iter().all(|r| r.transition.is_empty()));
    assert_eq!(c.trains[1].0.len(), 12);

    // Not with the options that choose the final round's training set.
    for other in [
        Config {
            restore: true,
            ..config.clone()
        },
        Config {
            relabel: true,
            ..config.clone()
        },
        Config {
            clusters: true,
            ..config.clone()
        },
    ] {
        let e = other.validate().unwrap_err().to_string();
        assert!(e.contains("choose one"), "{e}");
    }
}

/// Round 0's views of a 40-sample, 4-class set (labels `i % 4`, losses `i`): samples 0..12
/// look like another class than their label, the rest like their label.
struct Round0Views {
    k: usize,
    data: Dataset,
    losses: Vec<f32>,
    /// Every sample looks like its label (what later models see).
    clean: Vec<f32>,
    /// Labelled g, looks like g - 1: true class j is labelled j + 1, always the same other.
    one_sided: Vec<f32>,
    /// Labelled g, looks like g + 1, g + 2 or g + 3: each true class's flips go to all three
    /// others.
    spread: Vec<f32>,
}

fn round0_views() -> Round0Views {
    let n = 40;
    let k = 4;
    let probs = |seen: &dyn Fn(usize) -> usize| -> Vec<f32> {
        (0..n)
            .flat_map(|i| {
                let c = if i < 12 { seen(i) } else { i % k };
                (0..k).map(move |j| if j == c { 0.9 } else { 0.05 })
            })
            .collect()
    };
    Round0Views {
        k,
        data: dataset(n, k),
        losses: (0..n).map(|i| i as f32).collect(),
        clean: probs(&|i| i % k),
        one_sided: probs(&|i| (i % k + k - 1) % k),
        spread: probs(&|i| (i % k + 1 + i / 4) % k),
    }
}

/// A run of `c` with the fake learner (`losses`) whose round-0 model sees `round0` and every
/// later model `later`, each event shown to `on`: its rounds and how many samples each model
/// trained on.
fn run_round0_view(
    losses: &[f32],
    data: &Dataset,
    round0: &[f32],
    later: &[f32],
    c: &Config,
    on: &mut dyn FnMut(&Event),
) -> (Vec<Arc<RoundRecord>>, Vec<usize>) {
    let (mut l, calls) = FakeLearner::new(losses.to_vec());
    l.probs = vec![round0.to_vec(), later.to_vec(), later.to_vec()];
    run_observed(l, &calls, data, c, on)
}

/// A run of `c` with the learner `l` (whose calls `calls` records), each event shown to `on`:
/// its rounds and how many samples each model trained on.
fn run_observed(
    mut l: FakeLearner,
    calls: &std::sync::Mutex<common::Calls>,
    data: &Dataset,
    c: &Config,
    on: &mut dyn FnMut(&Event),
) -> (Vec<Arc<RoundRecord>>, Vec<usize>) {
    let mut h = Vec::new();
    itlm::run(
        &mut l,
        itlm::Inputs::new(data),
        c,
        Start::Fresh,
        &mut h,
        &mut |e: &Event| {
            on(e);
            Ok(())
        },
    )
    .unwrap();
    let trains = calls
        .lock()
        .unwrap()
        .trains
        .iter()
        .map(|t| t.0.len())
        .collect();
    (h, trains)
}

/// `Forward::Auto` on a generative learner (the VAE): there are no labels to correct, so
/// nothing is decided and no decision is announced (`reproduce spurious` printed "forward
/// correction (auto): off - round 0's model gives no label-noise estimate"); rounds train on
/// the cut.
#[test]
fn auto_forward_correction_says_nothing_for_a_generative_learner() {
    let data = dataset(40, 1);
    let losses: Vec<f32> = (0..40).map(|i| i as f32).collect();
    let (mut l, calls) = FakeLearner::new(losses);
    l.generative = true;
    let mut decided = 0;
    let config = Config {
        transition: Forward::Auto,
        ..cfg(0.75, 2)
    };
    let (_, trains) = run_observed(l, &calls, &data, &config, &mut |e| {
        if matches!(
            e,
            Event::ForwardDecided { .. } | Event::CoteachChosen { .. }
        ) {
            decided += 1;
        }
    });
    assert_eq!(decided, 0);
    assert_eq!(trains, [40, 30, 30]);
}

/// `Forward::Auto`: round 0's class probabilities decide. One-sided flips (each class's
/// flipped samples look like one other class, as a systematic flip leaves) turn forward
/// correction on for every later round; flips spread over the other classes (random noise)
/// or none leave plain ITLM; with restore it is off.
#[test]
fn auto_forward_correction_follows_what_round_0_sees() {
    // Round 0's model sees one of the views; later models see every label.
    let Round0Views {
        k,
        data,
        losses,
        clean,
        one_sided,
        spread,
        ..
    } = round0_views();
    let config = |transition| Config {
        transition,
        ..cfg(0.6, 2)
    };
    let trial = |round0: &Vec<f32>, c: &Config| {
        // The decisions the run announced: (round, on, shape found).
        let mut decided = Vec::new();
        let (h, trains) = run_round0_view(&losses, &data, round0, &clean, c, &mut |e| {
            if let Event::ForwardDecided { round, on, shape } = e {
                decided.push((*round, *on, shape.is_some()));
            }
        });
        (h, trains, decided)
    };
    let (h, trains, decided) = trial(&one_sided, &config(Forward::Auto));
    assert_eq!(decided, [(1, true, true)], "decided once, before round 1");
    assert_eq!(
        trains,
        [40, 40, 40],
        "forward-corrected rounds train on all"
    );
    assert!(h[0].transition.is_empty());
    assert_eq!(h[1].transition.len(), k * k);
    let t = &h[1].transition;
    for j in 0..k {
        assert!(
            t[j * k + (j + 1) % k] > 0.1,
            "true {j} labelled {}: {t:?}",
            (j + 1) % k
        );
    }
    // The same as `On` on this data.
    let (on, _, decided) = trial(&one_sided, &config(Forward::On));
    assert!(decided.is_empty(), "on decides nothing");
    assert_eq!(on[1].transition, h[1].transition);
    assert_eq!(on[2].transition, h[2].transition);
    for round0 in [&spread, &clean] {
        let (h, trains, decided) = trial(round0, &config(Forward::Auto));
        assert_eq!(decided, [(1, false, true)]);
        assert_eq!(trains, [40, 24, 24], "plain ITLM trains on the cut");
        assert!(h.iter().all(|r| r.transition.is_empty()));
    }
    // Auto is off, and allowed, with the options that choose the final training set.
    let restore = Config {
        restore: true,
        ..config(Forward::Auto)
    };
    restore.validate().unwrap();
    assert_eq!(restore.forward(), Forward::Off);
    let (h, _, decided) = trial(&one_sided, &restore);
    assert!(h.iter().all(|r| r.transition.is_empty()));
    assert!(decided.is_empty());
}

/// Samples the user kept or relabelled are the user's word, not noise: under forward
/// correction the learner is told to train them plainly (`Learner::set_trusted`, their flags),
/// and the matrix is estimated on the other samples only. Here the two samples round 0 calls
/// class 0 against their label 1 are kept by the user: the matrix then sees no flip, where
/// without the pins it sees class 0 flipped to 1 at 2 in 12.
#[test]
fn forward_correction_trusts_the_users_kept_samples() {
    let n = 20;
    let data = dataset(n, 2);
    let losses: Vec<f32> = (0..n).map(|i| i as f32).collect();
    let probs = |flip: bool| flip_probs(n, flip);
    let config = Config {
        transition: Forward::On,
        ..cfg(0.6, 2)
    };
    let trial = |pins: &itlm::Pins| {
        let (mut l, calls) = FakeLearner::new(losses.clone());
        l.probs = vec![probs(true), probs(false), probs(false)];
        let mut h = Vec::new();
        itlm::run(
            &mut l,
            itlm::Inputs {
                pins: Some(pins),
                ..itlm::Inputs::new(&data)
            },
            &config,
            Start::Fresh,
            &mut h,
            &mut |_: &Event| Ok(()),
        )
        .unwrap();
        let c = calls.lock().unwrap().clone();
        (h, c)
    };
    // Only an exclusion: nothing is trusted, and the flip is read as before.
    let mut pins = itlm::Pins::none(n);
    pins.exclude[5] = true;
    let (h, c) = trial(&pins);
    assert_eq!(c.trusted, [None]);
    assert!(h[1].transition[1] > 0.1, "{:?}", h[1].transition);
    // Samples 1 and 3 kept by the user.
    pins.keep[1] = true;
    pins.keep[3] = true;
    let (h, c) = trial(&pins);
    assert_eq!(c.trusted, [Some(pins.keep.clone())]);
    assert_eq!(
        h[1].transition,
        [1.0, 0.0, 0.0, 1.0],
        "no flip among the rest"
    );
    assert_eq!(
        c.trains[1].0.len(),
        19,
        "they still train, with every sample not excluded"
    );
}

/// `Forward::Auto` on many spread flips (random noise: 30% of the labels, each class's going
/// to all three others) turns the run into co-teaching after round 0, at the share the noise
/// estimate leaves, when the learner can train a second model, is not a head that retrains in
/// moments, and the config allows it; otherwise it stays plain ITLM. One-sided flips still
/// turn forward correction on.
#[test]
fn auto_turns_heavy_random_noise_into_coteaching() {
    let v = round0_views();
    // The learners: one that trains a second model (a network), one that cannot, and one
    // that can but retrains in moments (a head on embeddings).
    fn forking(l: &mut FakeLearner) {
        l.forks = true;
    }
    fn single(_: &mut FakeLearner) {}
    fn head(l: &mut FakeLearner) {
        l.forks = true;
        l.cheap = true;
    }
    let trial = |round0: &Vec<f32>, c: &Config, learner: fn(&mut FakeLearner)| {
        let (mut l, calls) = FakeLearner::new(v.losses.clone());
        l.probs = vec![round0.clone(), v.clean.clone(), v.clean.clone()];
        learner(&mut l);
        let mut h = Vec::new();
        let mut chosen = Vec::new();
        let mut decided = Vec::new();
        itlm::run(
            &mut l,
            itlm::Inputs::new(&v.data),
            c,
            Start::Fresh,
            &mut h,
            &mut |e: &Event| {
                match e {
                    Event::CoteachChosen {
                        shape,
                        noise,
                        config,
                    } => chosen.push((*shape, *noise, (**config).clone())),
                    Event::ForwardDecided { on, .. } => decided.push(*on),
                    _ => {}
                }
                Ok(())
            },
        )
        .unwrap();
        let epochs: Vec<f64> = calls.lock().unwrap().trains.iter().map(|t| t.1).collect();
        (h, chosen, decided, epochs)
    };
    let auto = Config {
        transition: Forward::Auto,
        ..cfg(0.9, 2)
    };
    let (h, chosen, decided, epochs) = trial(&v.spread, &auto, forking);
    assert!(decided.is_empty(), "co-teaching instead: {decided:?}");
    assert_eq!(chosen.len(), 1);
    let ((flipped, one_sided), noise, co) = &chosen[0];
    assert!(
        (flipped - 0.3).abs() < 0.01 && *one_sided < 0.5,
        "{flipped} {one_sided}"
    );
    assert!((noise - 0.3).abs() < 1e-9, "12 of 40 contradicted: {noise}");
    let ct = co.coteach.expect("a co-teaching config");
    assert_eq!(ct, itlm::CoTeach::default());
    assert_eq!(
        co.tau, 0.7,
        "the share the noise estimate leaves, not the 0.9 set"
    );
    assert!(co.augment.is_off());
    co.validate().unwrap();
    // Round 0's record is dropped: the history is co-teaching's, a round per epoch, the
    // first on every sample.
    assert_eq!(h.len(), ct.epochs);
    assert_eq!((h[0].round, h[0].trained_on), (0, 40));
    assert!((h.last().unwrap().tau - 0.7).abs() < 1e-12);
    // Round 0 trained once (cfg's epochs), then each epoch both models, one epoch each.
    assert_eq!(epochs[0], auto.epochs);
    assert_eq!(epochs.len(), 1 + 2 * ct.epochs);
    assert!(epochs[1..].iter().all(|&e| e == 1.0));
    // Plain ITLM where co-teaching cannot run or was not asked for: a learner without a
    // second model, forward correction off, folds (a protocol the user set); and few flips.
    let plain = |h: &[std::sync::Arc<itlm::RoundRecord>], chosen: &[_]| {
        chosen.is_empty() && h.len() == 3 && h.iter().all(|r| r.transition.is_empty())
    };
    let (h, chosen, decided, _) = trial(&v.spread, &auto, single);
    assert!(plain(&h, &chosen) && decided == [false]);
    // A learner that retrains in moments (a head on embeddings) stays plain ITLM too.
    let (h, chosen, decided, _) = trial(&v.spread, &auto, head);
    assert!(
        plain(&h, &chosen) && decided == [false],
        "a head: plain ITLM"
    );
    let off = Config {
        transition: Forward::Off,
        ..auto.clone()
    };
    let (h, chosen, decided, _) = trial(&v.spread, &off, forking);
    assert!(plain(&h, &chosen) && decided.is_empty());
    let folds = Config {
        folds: 2,
        ..auto.clone()
    };
    assert!(!folds.may_auto_coteach());
    let (h, chosen, _, _) = trial(&v.spread, &folds, forking);
    assert!(chosen.is_empty() && h.len() == 3);
    let (h, chosen, decided, _) = trial(&v.clean, &auto, forking);
    assert!(plain(&h, &chosen) && decided == [false]);
    // One-sided flips: forward correction, as before.
    let (h, chosen, decided, _) = trial(&v.one_sided, &auto, forking);
    assert!(chosen.is_empty() && decided == [true]);
    assert!(!h[1].transition.is_empty());
}

/// A forward-corrected run (`on`, or `auto` once round 0 turned it on) refines the matrix
/// in one round and then trains the final model on from that round's model, so that it has
/// trained `final_epochs` in all: three rounds instead of `rounds + 1`, and the progress
/// events say so. Plain ITLM keeps its rounds. A continued forward run trains one more
/// round, fresh and full-length.
#[test]
fn a_forward_corrected_run_refines_once_and_the_final_model_continues_it() {
    let v = round0_views();
    // epochs 2, final 5, rounds 4.
    let config = |transition| Config {
        transition,
        ..cfg(0.6, 4)
    };
    struct Trial {
        h: Vec<Arc<RoundRecord>>,
        /// Epochs of every train call.
        epochs: Vec<f64>,
        resets: usize,
        /// (round, last round, epochs, forward) of every RoundStarted.
        started: Vec<(usize, usize, f64, bool)>,
    }
    let trial = |round0: &Vec<f32>, c: &Config, history: Vec<Arc<RoundRecord>>| {
        let (mut l, calls) = FakeLearner::new(v.losses.clone());
        l.probs = vec![
            round0.clone(),
            v.clean.clone(),
            v.clean.clone(),
            v.clean.clone(),
        ];
        let mut h = history;
        let start = match h.last() {
            Some(r) => Start::After {
                kept: r.kept.clone(),
            },
            None => Start::Fresh,
        };
        let mut started = Vec::new();
        itlm::run(
            &mut l,
            itlm::Inputs::new(&v.data),
            c,
            start,
            &mut h,
            &mut |e: &Event| {
                if let Event::RoundStarted {
                    round,
                    rounds,
                    epochs,
                    forward,
                    ..
                } = e
                {
                    started.push((*round, *rounds, *epochs, *forward));
                }
                Ok(())
            },
        )
        .unwrap();
        let c = calls.lock().unwrap();
        Trial {
            h,
            epochs: c.trains.iter().map(|t| t.1).collect(),
            resets: c.resets.len(),
            started,
        }
    };
    // `on`: round 0, one forward round, and the final model continuing it for 5 - 2 epochs.
    let on = trial(&v.one_sided, &config(Forward::On), Vec::new());
    assert_eq!(on.h.len(), 3);
    assert_eq!(on.epochs, [2.0, 2.0, 3.0]);
    assert_eq!(on.resets, 2, "the final round does not start fresh");
    assert_eq!(
        on.started,
        [(0, 2, 2.0, false), (1, 2, 2.0, true), (2, 2, 3.0, true)]
    );
    assert_eq!(
        on.h[2].epochs, 3.0,
        "the record says what the round trained"
    );
    assert!(!on.h[2].transition.is_empty());
    assert_eq!(config(Forward::On).planned_last_round(&on.h), 2);
    // `auto` plans the plain schedule until round 0 turns it on.
    let auto = trial(&v.one_sided, &config(Forward::Auto), Vec::new());
    assert_eq!(auto.h.len(), 3);
    assert_eq!(auto.epochs, [2.0, 2.0, 3.0]);
    assert_eq!(
        auto.started,
        [(0, 4, 2.0, false), (1, 2, 2.0, true), (2, 2, 3.0, true)]
    );
    assert_eq!(config(Forward::Auto).planned_last_round(&auto.h), 2);
    // Plain ITLM (auto off, or off) keeps every round, each fresh, the final one full-length.
    for (round0, mode) in [(&v.spread, Forward::Auto), (&v.one_sided, Forward::Off)] {
        let plain = trial(round0, &config(mode), Vec::new());
        assert_eq!(plain.h.len(), 5, "{mode}");
        assert_eq!(plain.epochs, [2.0, 2.0, 2.0, 2.0, 5.0]);
        assert_eq!(plain.resets, 5);
        assert!(plain.started.iter().all(|s| s.1 == 4 && !s.3));
        assert_eq!(config(mode).planned_last_round(&plain.h), 4);
    }
    // Continuing the finished `on` run (the window raises `rounds` to the history's length):
    // one more round, on every sample through the matrix, fresh and full-length.
    let more = Config {
        rounds: 4.max(on.h.len()),
        ..config(Forward::On)
    };
    let next = trial(&v.one_sided, &more, on.h.clone());
    assert_eq!(next.h.len(), 4);
    assert_eq!(next.epochs, [5.0]);
    assert_eq!(next.resets, 1);
    assert_eq!(next.started, [(3, 3, 5.0, true)]);
    // A one-round schedule has no forward round to continue: its final model starts fresh.
    let one = trial(&v.one_sided, &cfg_with(Forward::On, 1), Vec::new());
    assert_eq!(one.epochs, [2.0, 5.0]);
    assert_eq!(one.resets, 2);
}

/// The final check ([`itlm::final_check`]): before the final round of a run `auto` turned
/// forward correction on, a learner cheap to retrain trains 5 folds x 3 candidate sets (every
/// sample through the matrix, the cut through it, the cut plainly) and the run follows the
/// candidate whose held-out predictions matched the given labels most: the final model
/// continues the forward round's (trained again as it was: the check's models replaced it),
/// or trains fresh on the cut through the matrix, or the run goes on as plain ITLM from the
/// forward round's cut (the plain schedule's remaining rounds). The fake's check
/// models predict the given labels for one candidate and another class for the rest, so
/// the check must pick that one. The CNN (not cheap) and `on` (the user's choice) are not
/// checked.
#[test]
fn the_final_check_follows_the_set_held_out_labels_choose() {
    let v = round0_views();
    let wrong: Vec<u32> = (0..40).map(|i| ((i + 1) % v.k) as u32).collect();
    let trial = |winner: Option<FinalSet>, cheap: bool, mode: Forward| {
        let (mut l, calls) = FakeLearner::new(v.losses.clone());
        l.cheap = cheap;
        // Models: 0 round 0, 1 the forward round, 2..17 the check's (fold-major), then the
        // rest.
        l.probs = (0..20)
            .map(|m| {
                if m == 0 {
                    v.one_sided.clone()
                } else {
                    v.clean.clone()
                }
            })
            .collect();
        l.predicted_per_model = (0..20)
            .map(|m| match (m, winner) {
                (2..=16, Some(w)) if FinalSet::ALL[(m - 2) % 3] != w => wrong.clone(),
                _ => Vec::new(),
            })
            .collect();
        let mut h = Vec::new();
        let mut checks = Vec::new();
        let mut started = Vec::new();
        itlm::run(
            &mut l,
            itlm::Inputs::new(&v.data),
            &cfg_with(mode, 4),
            Start::Fresh,
            &mut h,
            &mut |e: &Event| {
                match e {
                    Event::FinalChecked { round, check } => checks.push((*round, check.clone())),
                    Event::RoundStarted { round, rounds, .. } => started.push((*round, *rounds)),
                    _ => {}
                }
                Ok(())
            },
        )
        .unwrap();
        let c = calls.lock().unwrap().clone();
        (h, checks, c, started)
    };
    for w in FinalSet::ALL {
        let (h, checks, c, started) = trial(Some(w), true, Forward::Auto);
        assert_eq!(checks.len(), 1, "{w:?}");
        let (round, check) = &checks[0];
        assert_eq!(*round, 2);
        assert_eq!(check.chosen, w);
        assert_eq!(check.held_out, 40);
        for (set, a) in FinalSet::ALL.iter().zip(check.agreement) {
            assert_eq!(a, if *set == w { 1.0 } else { 0.0 }, "{w:?}: {set:?}");
        }
        // Per fold: the every-sample candidate trains as the run would (the forward round's
        // 2 epochs through its matrix, then 3 more), the cut's train the final round's 5; on
        // 4 of 5 folds: all 32, or the cut's share of them.
        let cut = h[1].kept.iter().filter(|&&k| k).count();
        assert_eq!(cut, 24);
        let check_trains = &c.trains[2..22];
        for (j, (idx, epochs)) in check_trains.iter().enumerate() {
            match j % 4 {
                0 | 1 => {
                    assert_eq!(idx.len(), 32);
                    assert_eq!(*epochs, if j % 4 == 0 { 2.0 } else { 3.0 });
                }
                _ => {
                    assert_eq!(*epochs, 5.0, "the final round's length");
                    assert!(idx.iter().all(|&i| h[1].kept[i]), "the cut");
                }
            }
        }
        let after: Vec<(usize, f64)> = c.trains[22..].iter().map(|t| (t.0.len(), t.1)).collect();
        match w {
            FinalSet::AllForward => {
                // The forward round trained again as it was, and the final model continues it.
                assert_eq!(after, [(40, 2.0), (40, 3.0)]);
                assert_eq!(c.trains[22], c.trains[1]);
                assert_eq!(c.resets.len(), 18);
                assert_eq!(c.resets[17], c.resets[1], "the forward round's seed");
            }
            FinalSet::CutForward => {
                // The final model: fresh, full-length, through the matrix, on the cut.
                assert_eq!(after, [(24, 5.0)]);
                assert_eq!(c.resets.len(), 18);
            }
            FinalSet::CutPlain => {
                // Plain ITLM from the forward round's cut: rounds 2 and 3, then the final one.
                assert_eq!(after, [(24, 2.0), (24, 2.0), (24, 5.0)]);
                assert_eq!(&started[2..], [(2, 4), (3, 4), (4, 4)]);
                assert_eq!(h.len(), 5);
                assert!(h[2..].iter().all(|r| r.transition.is_empty()));
                assert_eq!(
                    c.trains[22].0,
                    (0..40).filter(|&i| h[1].kept[i]).collect::<Vec<_>>()
                );
                assert!(c.transitions.last().unwrap().is_none());
                assert_eq!(c.resets.len(), 20, "every plain round starts fresh");
            }
        }
        if w.forward() {
            assert_eq!(started.last(), Some(&(2, 2)));
            assert_eq!(h.len(), 3);
            assert!(c.transitions.last().unwrap().is_some());
            assert!(!h[2].transition.is_empty());
        }
    }
    // Not cheap to retrain, or forward correction on by the user: no check; the final model
    // continues the forward round's (5 - 2 epochs).
    for (cheap, mode) in [(false, Forward::Auto), (true, Forward::On)] {
        let (h, checks, c, _) = trial(None, cheap, mode);
        assert!(checks.is_empty(), "{cheap} {mode}");
        assert_eq!(c.trains.len(), 3);
        assert_eq!(c.trains[2], ((0..40).collect(), 3.0));
        assert!(!h[2].transition.is_empty());
    }
}

fn cfg_with(transition: Forward, rounds: usize) -> Config {
    Config {
        transition,
        ..cfg(0.6, rounds)
    }
}

/// Tau from the data ([`Config::tau_from_data`]): round 0's model confidently contradicts 12
/// of the 40 labels, so round 0's cut and every later one keep 0.7, announced once before
/// round 0's record; a clean round 0 keeps everything; without the flag tau stays as set.
#[test]
fn tau_from_the_data_sets_every_cut_from_round_0s_noise_estimate() {
    let Round0Views {
        data,
        losses,
        clean,
        one_sided,
        ..
    } = round0_views();
    let trial = |round0: &Vec<f32>, from_data: bool| {
        let c = Config {
            transition: Forward::Off,
            tau_from_data: from_data,
            ..cfg(0.5, 2)
        };
        // What the run announced, in order: Some((noise, tau)) or None for a round's record.
        let mut events = Vec::new();
        let (h, trains) = run_round0_view(&losses, &data, round0, &clean, &c, &mut |e| match e {
            Event::TauChosen { noise, tau, .. } => events.push(Some((*noise, *tau))),
            Event::RoundDone(_) => events.push(None),
            _ => {}
        });
        (h, trains, events)
    };
    let (h, trains, events) = trial(&one_sided, true);
    let Some((noise, tau)) = events[0] else {
        panic!("the tau is announced before round 0's record: {events:?}")
    };
    assert!((noise - 0.3).abs() < 1e-9, "{noise}");
    assert_eq!(tau, 0.7);
    assert_eq!(events.iter().filter(|e| e.is_some()).count(), 1);
    assert!(h.iter().all(|r| r.tau == 0.7));
    assert!(h
        .iter()
        .all(|r| r.kept.iter().filter(|&&k| k).count() == 28));
    assert_eq!(trains, [40, 28, 28]);
    let (h, trains, _) = trial(&clean, true);
    assert!(
        h.iter().all(|r| r.tau == 1.0),
        "nothing contradicted: keep all"
    );
    assert_eq!(trains, [40, 40, 40]);
    let (h, trains, events) = trial(&one_sided, false);
    assert!(events.iter().all(|e| e.is_none()));
    assert!(h.iter().all(|r| r.tau == 0.5));
    assert_eq!(trains, [40, 20, 20]);
}

/// Tau from the data with samples the user excluded: the noise estimate is of the others, and
/// the cut keeps that share of them, so the excluded ones are trimmed besides the suspects the
/// estimate counted (they had taken their places: the cut kept tau of all samples).
#[test]
fn tau_from_the_data_trims_the_excluded_samples_besides_the_estimated_noise() {
    let Round0Views {
        data,
        losses,
        clean,
        one_sided,
        ..
    } = round0_views();
    let n = data.len();
    // Four of the twelve contradicted samples excluded: 8 of the other 36 contradicted.
    let mut pins = itlm::Pins::none(n);
    for i in 0..4 {
        pins.exclude[i] = true;
    }
    let (mut l, _) = FakeLearner::new(losses.clone());
    l.probs = vec![one_sided, clean.clone(), clean];
    let c = Config {
        transition: Forward::Off,
        tau_from_data: true,
        ..cfg(0.5, 2)
    };
    let mut chosen = None;
    let mut h = Vec::new();
    itlm::run(
        &mut l,
        itlm::Inputs {
            pins: Some(&pins),
            ..itlm::Inputs::new(&data)
        },
        &c,
        Start::Fresh,
        &mut h,
        &mut |e: &Event| {
            if let Event::TauChosen {
                noise,
                tau,
                excluded,
            } = e
            {
                chosen = Some((*noise, *tau, *excluded));
            }
            Ok(())
        },
    )
    .unwrap();
    let (noise, tau, excluded) = chosen.expect("a tau chosen");
    assert!((noise - 8.0 / 36.0).abs() < 1e-9, "{noise}");
    assert_eq!(excluded, 4);
    // 28 / 36 of the 36 not excluded (exactly: a set under 1000 samples), over all 40.
    assert!((tau - 28.0 / 40.0).abs() < 1e-9, "{tau}");
    for r in &h {
        let kept = r.kept.iter().filter(|&&k| k).count();
        // 28 kept: 12 trimmed, the 4 excluded and the 8 others round 0 contradicted (with
        // tau 28 / 36 of all 40, 32 kept: 4 others; with 0.78, the share to the hundredth,
        // ceil(0.78 x 36) = 29: 7 others).
        assert_eq!(kept, 28, "round {}: 28 of 36", r.round);
        assert!((0..4).all(|i| !r.kept[i]));
    }
    let line = itlm_inspector::session::tau_chosen_line(noise, tau, excluded);
    assert!(
        line.contains("of the samples you did not exclude"),
        "{line}"
    );
    assert!(!itlm_inspector::session::tau_chosen_line(0.3, 0.7, 0).contains("exclude"));
}

/// A forward-corrected round of cross-fitted models (`--folds`) whose averaged predictions fold
/// a class trains its models again, fresh, without the flip that folded it, as a one-model
/// round does: the round records the fold, and its matrix has no cell into the class (the
/// class that took its samples, 1, has no flip into it, so every flip into it goes:
/// `transition::unfolding`'s fallback; the unit tests there choose the one flip).
#[test]
fn a_cross_fitted_forward_round_that_folds_a_class_trains_its_models_again() {
    let Round0Views {
        k,
        data,
        losses,
        clean,
        one_sided,
        ..
    } = round0_views();
    let labels: Vec<u32> = data.labels().to_vec();
    // Models 1 - 4 (round 1's folds) call every sample labelled 0 class 1: class 0 folded.
    let folded: Vec<u32> = labels.iter().map(|&g| if g == 0 { 1 } else { g }).collect();
    let folded_probs: Vec<f32> = folded
        .iter()
        .flat_map(|&c| (0..k as u32).map(move |j| if j == c { 0.9 } else { 0.05 }))
        .collect();
    let (mut l, calls) = FakeLearner::new(losses.clone());
    l.probs = vec![one_sided.clone()];
    l.probs.extend(std::iter::repeat_n(folded_probs, 4));
    l.probs.extend(std::iter::repeat_n(clean.clone(), 5));
    l.predicted_per_model = vec![labels.clone()];
    l.predicted_per_model
        .extend(std::iter::repeat_n(folded.clone(), 4));
    l.predicted_per_model
        .extend(std::iter::repeat_n(labels.clone(), 5));
    let c = Config {
        transition: Forward::On,
        folds: 4,
        ..cfg(0.6, 2)
    };
    let h = run(&mut l, &data, itlm::Eval::default(), &c);
    let r1 = &h[1];
    assert_eq!(r1.metrics.unfolded.len(), 1, "{:?}", r1.metrics.unfolded);
    let f = r1.metrics.unfolded[0];
    assert_eq!((f.class, f.predicted, f.labelled), (0, 0, 10));
    // Round 0, four fold models, four again, the final model.
    assert_eq!(calls.lock().unwrap().resets.len(), 10);
    let t = &r1.transition;
    assert_eq!(t.len(), k * k);
    for j in 1..k {
        assert_eq!(
            t[j * k],
            0.0,
            "no flip from {j} into the folded class: {t:?}"
        );
    }
    // Its models predict the labels again.
    assert!(r1.predicted.iter().zip(&labels).all(|(p, g)| p == g));
}

/// A round-0 model that learned nothing of the labels (it answers class 0 for every sample:
/// it agrees with 25% of them, as always answering the largest class would) reads noise into
/// the set through its probabilities: the run says so, its estimate is not read (tau stays as
/// set, auto keeps plain ITLM), where a model that learned keeps the estimate's tau.
#[test]
fn a_round_0_model_that_learned_nothing_chooses_no_tau_and_no_forward_correction() {
    let Round0Views {
        data,
        losses,
        clean,
        one_sided,
        ..
    } = round0_views();
    let trial = |predicted: Option<Vec<u32>>| {
        let (mut l, calls) = FakeLearner::new(losses.clone());
        l.probs = vec![one_sided.clone(), clean.clone(), clean.clone()];
        l.predicted = predicted;
        let c = Config {
            transition: Forward::Auto,
            tau_from_data: true,
            ..cfg(0.5, 2)
        };
        let mut events = Vec::new();
        let (h, _) = run_observed(l, &calls, &data, &c, &mut |e| match e {
            Event::Round0NotLearned {
                agreement,
                baseline,
            } => events.push(format!("not learned {agreement:.2} {baseline:.2}")),
            Event::TauChosen { tau, .. } => events.push(format!("tau {tau:.2}")),
            Event::ForwardDecided { on, .. } => events.push(format!("forward {on}")),
            _ => {}
        });
        (h, events)
    };
    let (h, events) = trial(Some(vec![0; data.len()]));
    assert_eq!(events, ["not learned 0.25 0.25", "forward false"]);
    assert!(h.iter().all(|r| r.tau == 0.5), "tau as set");
    let line = itlm_inspector::session::not_learned_line(
        0.25,
        0.25,
        &Config {
            transition: Forward::Auto,
            tau_from_data: true,
            ..cfg(0.5, 2)
        },
    );
    assert!(
        line.contains("agrees with 25.0% of them") && line.contains("tau stays at 0.50"),
        "{line}"
    );
    // The same probabilities from a model that learned the labels: the estimate holds.
    let (h, events) = trial(None);
    assert_eq!(events[0], "tau 0.70");
    assert!(!events.iter().any(|e| e.starts_with("not learned")));
    assert!(h.iter().all(|r| r.tau == 0.7));
}
