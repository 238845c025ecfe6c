//! The rounds, exactly, with a fake learner of known losses.

mod common;

use std::sync::Arc;

use common::{dataset, FakeLearner};
use itlm_inspector::data::Dataset;
use itlm_inspector::itlm::{
    self, keep_count, Config, Event, Quiet, RoundRecord, Selection, Start, TauSchedule,
};
use itlm_inspector::Error;

/// `itlm::run` from scratch with no observer: its result and the rounds it recorded.
fn run_fresh(
    l: &mut FakeLearner,
    data: &Dataset,
    bad: Option<&[bool]>,
    c: &Config,
) -> (itlm_inspector::Result<()>, Vec<Arc<RoundRecord>>) {
    let mut hist = Vec::new();
    let r = itlm::run(
        l,
        itlm::Inputs {
            data,
            eval: Default::default(),
            bad,
            true_labels: None,
            pins: None,
        },
        c,
        Start::Fresh,
        &mut hist,
        &mut Quiet,
    );
    (r, hist)
}

/// [`run_fresh`] that must succeed: the rounds.
fn run_ok(
    l: &mut FakeLearner,
    data: &Dataset,
    bad: Option<&[bool]>,
    c: &Config,
) -> Vec<Arc<RoundRecord>> {
    let (r, hist) = run_fresh(l, data, bad, c);
    r.unwrap();
    hist
}

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

#[test]
fn rounds_train_on_the_lowest_losses_and_score_trimming() {
    let n = 20;
    let data = dataset(n, 2);
    // samples 0..6 are bad and have the highest losses
    let losses: Vec<f32> = (0..n)
        .map(|i| {
            if i < 6 {
                5.0 + i as f32
            } else {
                0.1 * i as f32
            }
        })
        .collect();
    let bad: Vec<bool> = (0..n).map(|i| i < 6).collect();
    let (mut l, calls) = FakeLearner::new(losses);
    let hist = run_ok(&mut l, &data, Some(&bad), &cfg(0.7, 3));
    assert_eq!(hist.len(), 4, "round 0 plus 3 rounds");
    let c = calls.lock().unwrap();
    assert_eq!(c.resets.len(), 4, "re-initialised every round");
    assert_eq!(c.trains[0].0.len(), n, "round 0 trains on all");
    assert_eq!(c.trains[0].1, 2.0);
    assert_eq!(c.trains[3].1, 5.0, "last round trains final epochs");
    for r in 1..4 {
        let idx = &c.trains[r].0;
        assert_eq!(idx.len(), keep_count(n, 0.7));
        assert!(idx.iter().all(|&i| i >= 6), "only clean samples kept");
    }
    let last = hist.last().unwrap();
    let t = last.metrics.trim.unwrap();
    assert_eq!(t.trimmed, 6);
    assert_eq!((t.precision, t.recall), (1.0, 1.0));
    assert_eq!(last.metrics.kept, 14);
    assert_eq!(last.metrics.train_acc, Some(1.0));
}

#[test]
fn linear_schedule_and_per_class_selection() {
    let n = 40;
    let data = dataset(n, 2);
    // class 0 (even indices) has all the high losses
    let losses: Vec<f32> = (0..n)
        .map(|i| {
            if i % 2 == 0 {
                10.0 + i as f32
            } else {
                i as f32 * 0.01
            }
        })
        .collect();
    let (mut l, calls) = FakeLearner::new(losses);
    let c = Config {
        schedule: TauSchedule::Linear,
        select: Selection::PerClass,
        ..cfg(0.5, 2)
    };
    let hist = run_ok(&mut l, &data, None, &c);
    assert!(
        (hist[0].tau - 0.75).abs() < 1e-12
            && (hist[1].tau - 0.5).abs() < 1e-12
            && (hist[2].tau - 0.5).abs() < 1e-12
    );
    let calls = calls.lock().unwrap();
    let first = &calls.trains[1].0;
    assert_eq!(first.len(), 30);
    let evens = first.iter().filter(|&&i| i % 2 == 0).count();
    assert_eq!(evens, 15, "per-class keeps 75% of each class");
    assert!(hist[2].metrics.trim.is_none());
}

#[test]
fn continue_from_a_moved_cut() {
    let n = 10;
    let data = dataset(n, 2);
    let (mut l, calls) = FakeLearner::new((0..n).map(|i| i as f32).collect());
    let mut hist = run_ok(&mut l, &data, None, &cfg(0.8, 1));
    assert_eq!(hist.len(), 2);
    // the user keeps only the first 3 and asks for one more round after round 0
    hist.truncate(1);
    let kept: Vec<bool> = (0..n).map(|i| i < 3).collect();
    itlm::run(
        &mut l,
        itlm::Inputs::new(&data),
        &cfg(0.8, 1),
        Start::After { kept },
        &mut hist,
        &mut Quiet,
    )
    .unwrap();
    assert_eq!(hist.len(), 2);
    assert_eq!(
        calls.lock().unwrap().trains.last().unwrap().0,
        vec![0, 1, 2]
    );
}

#[test]
fn cancellation_keeps_finished_rounds() {
    let data = dataset(10, 2);
    let (mut l, _) = FakeLearner::new(vec![0.0; 10]);
    let mut hist: Vec<Arc<RoundRecord>> = Vec::new();
    let mut rounds_done = 0;
    let mut obs = |e: &Event| {
        if let Event::RoundDone(_) = e {
            rounds_done += 1;
        }
        if rounds_done == 2 {
            return Err(Error::Cancelled);
        }
        Ok(())
    };
    let e = itlm::run(
        &mut l,
        itlm::Inputs::new(&data),
        &cfg(0.5, 4),
        Start::Fresh,
        &mut hist,
        &mut obs,
    )
    .unwrap_err();
    assert!(matches!(e, Error::Cancelled));
    assert_eq!(hist.len(), 2);
}

#[test]
fn divergence_stops_with_a_message_and_keeps_earlier_rounds() {
    let data = dataset(10, 2);
    let (mut l, _) = FakeLearner::new(vec![0.0; 10]);
    l.diverge_at = Some(2);
    let (e, hist) = run_fresh(&mut l, &data, None, &cfg(0.5, 4));
    let e = e.unwrap_err();
    assert!(e.to_string().contains("diverged in round 2"), "{e}");
    assert_eq!(hist.len(), 2);
}

#[test]
fn bad_configs_and_data_are_refused_clearly() {
    let data = dataset(10, 2);
    let (mut l, calls) = FakeLearner::new(vec![0.0; 10]);
    for (c, msg) in [
        (
            Config {
                tau: 0.0,
                ..cfg(0.5, 1)
            },
            "tau must be in (0, 1]",
        ),
        (
            Config {
                tau: 1.5,
                ..cfg(0.5, 1)
            },
            "got 1.5",
        ),
        (
            Config {
                rounds: 0,
                ..cfg(0.5, 1)
            },
            "rounds must be at least 1",
        ),
        (
            Config {
                epochs: 0.0,
                ..cfg(0.5, 1)
            },
            "epochs",
        ),
    ] {
        let e = run_fresh(&mut l, &data, None, &c).0.unwrap_err();
        assert!(e.to_string().contains(msg), "{e}");
    }
    let one = dataset(5, 1);
    let e = run_fresh(&mut l, &one, None, &cfg(0.5, 1)).0.unwrap_err();
    assert!(e.to_string().contains("at least two classes"), "{e}");
    let e = run_fresh(&mut l, &data, Some(&[true]), &cfg(0.5, 1))
        .0
        .unwrap_err();
    assert!(e.to_string().contains("ground truth has 1 entries"), "{e}");
    assert!(
        calls.lock().unwrap().trains.is_empty(),
        "nothing trained on bad input"
    );
}

#[test]
fn naive_baseline_keeps_everything() {
    let data = dataset(12, 3);
    let (mut l, calls) = FakeLearner::new((0..12).map(|i| i as f32).collect());
    let hist = run_ok(&mut l, &data, None, &cfg(1.0, 2));
    assert!(calls
        .lock()
        .unwrap()
        .trains
        .iter()
        .all(|(idx, _)| idx.len() == 12));
    assert_eq!(hist.last().unwrap().metrics.trimmed, 0);
}

#[test]
fn cross_fitted_rounds_never_score_a_sample_with_a_model_that_trained_on_it() {
    let n = 30;
    let data = dataset(n, 3);
    let (mut l, calls) = FakeLearner::new((0..n).map(|i| i as f32).collect());
    let c = Config {
        folds: 3,
        ..cfg(0.8, 2)
    };
    let hist = run_ok(&mut l, &data, None, &c);
    assert_eq!(hist.len(), 3);
    let calls = calls.lock().unwrap();
    // round 0: one model; round 1: three fold models; round 2 (last): one model
    assert_eq!(calls.trains.len(), 1 + 3 + 1);
    assert_eq!(calls.scored.len(), 1 + 3 + 1);
    let kept0: Vec<usize> = (0..n).filter(|&i| hist[0].kept[i]).collect();
    let mut scored_in_sample = vec![0; n];
    for f in 1..4 {
        let (trained, _) = &calls.trains[f];
        let scored = &calls.scored[f];
        assert!(
            trained.iter().all(|i| !scored.contains(i)),
            "fold {f} scored its own training samples"
        );
        assert!(trained.iter().all(|i| kept0.contains(i)));
        for &i in scored {
            if kept0.contains(&i) {
                scored_in_sample[i] += 1;
            }
        }
    }
    // every kept sample is scored by exactly one fold model; trimmed ones by all three
    assert!(kept0.iter().all(|&i| scored_in_sample[i] == 1));
    let trimmed: Vec<usize> = (0..n).filter(|&i| !hist[0].kept[i]).collect();
    for &i in &trimmed {
        assert_eq!((1..4).filter(|&f| calls.scored[f].contains(&i)).count(), 3);
    }
    // the fake's losses come back per sample, averaged where a sample was scored three times
    assert_eq!(hist[1].loss, (0..n).map(|i| i as f32).collect::<Vec<_>>());
    assert_eq!(
        calls.trains[4].0.len(),
        keep_count(n, 0.8),
        "the last round trains one model on the kept set"
    );
}

/// A round-0 ensemble trains K fresh models on every sample and cuts on their mean loss: two
/// models that disagree on samples 0..4 (one +100, the other -100) cancel out, where the first
/// model alone would have trimmed those samples.
#[test]
fn round0_ensemble_averages_the_losses_of_its_models() {
    let n = 30;
    let data = dataset(n, 3);
    let run_with = |models: usize| {
        let (mut l, calls) = FakeLearner::new((0..n).map(|i| i as f32).collect());
        let up: Vec<f32> = (0..n).map(|i| if i < 4 { 100.0 } else { 0.0 }).collect();
        l.model_shift = vec![up.clone(), up.iter().map(|x| -x).collect()];
        let c = Config {
            round0_models: models,
            ..cfg(0.8, 1)
        };
        let hist = run_ok(&mut l, &data, None, &c);
        let calls = calls.lock().unwrap().clone();
        (hist, calls)
    };
    let (hist, calls) = run_with(2);
    // round 0: two models, each on every sample and scoring every sample; round 1: one
    assert_eq!(calls.trains.len(), 2 + 1);
    assert!(calls.trains[..2].iter().all(|(idx, _)| idx.len() == n));
    assert!(calls.scored[..2].iter().all(|idx| idx.len() == n));
    assert_ne!(
        calls.resets[0], calls.resets[1],
        "the models differ in seed"
    );
    let trimmed: Vec<usize> = (0..n).filter(|&i| !hist[0].kept[i]).collect();
    assert_eq!(trimmed, (24..30).collect::<Vec<_>>());
    assert_eq!(hist[0].loss[0], 0.0);
    assert_eq!(hist[0].loss[29], 29.0);

    let (hist, _) = run_with(1);
    let trimmed: Vec<usize> = (0..n).filter(|&i| !hist[0].kept[i]).collect();
    assert_eq!(trimmed, vec![0, 1, 2, 3, 28, 29]);
}

/// `--restore`: the cut of the full-length rounds stays on the last early round's losses (a
/// full-length model has fitted what it trained on; here the first one also gives the hard
/// samples low losses), and their predictions send back the trimmed samples of every class
/// without a one-sided confusion. One more round trains the final model on that set.
#[test]
fn restore_gives_back_the_trimmed_samples_of_classes_without_a_one_sided_confusion() {
    let n = 200;
    let data = dataset(n, 4); // label i % 4
    let label = |i: usize| (i % 4) as u32;
    // 20 bad: class 1, predicted 0 (one cell, nothing the other way). 20 hard clean: classes
    // 2 and 3 taken for each other. tau 0.8 trims exactly these 40.
    let is_bad = |i: usize| label(i) == 1 && i < 80;
    let is_hard = |i: usize| (label(i) == 2 || label(i) == 3) && i < 40;
    let losses: Vec<f32> = (0..n)
        .map(|i| {
            if is_bad(i) {
                5.0 + i as f32 / 100.0
            } else if is_hard(i) {
                4.0 + i as f32 / 100.0
            } else {
                (i % 10) as f32 / 100.0
            }
        })
        .collect();
    let predicted: Vec<u32> = (0..n)
        .map(|i| match (is_bad(i), is_hard(i), label(i)) {
            (true, _, _) => 0,
            (_, true, 2) => 3,
            (_, true, _) => 2,
            _ => label(i),
        })
        .collect();
    let bad: Vec<bool> = (0..n).map(is_bad).collect();
    let c = Config {
        restore: true,
        ..cfg(0.8, 2)
    };
    assert_eq!(c.last_round(), 3);
    // The first full-length model (the third reset) has fitted everything it trained on.
    let fitting = || {
        let (mut l, calls) = FakeLearner::new(losses.clone());
        l.predicted = Some(predicted.clone());
        l.model_shift = vec![
            vec![],
            vec![],
            (0..n)
                .map(|i| if is_hard(i) { -losses[i] } else { 0.0 })
                .collect(),
        ];
        (l, calls)
    };
    let (mut l, calls) = fitting();
    let hist = run_ok(&mut l, &data, Some(&bad), &c);
    assert_eq!(hist.len(), 4, "rounds 0, 1, 2 and the restore round 3");
    let calls = calls.lock().unwrap();
    let trained: Vec<(usize, f64)> = calls.trains.iter().map(|(i, e)| (i.len(), *e)).collect();
    assert_eq!(
        trained,
        vec![(200, 2.0), (160, 2.0), (160, 5.0), (180, 5.0)]
    );
    assert_eq!(
        calls.resets.len(),
        4,
        "every full-length round starts fresh"
    );
    // Round 1 (early): the plain cut, 40 trimmed.
    assert_eq!(hist[1].metrics.trimmed, 40);
    for r in &hist[2..] {
        assert_eq!(
            r.score, hist[1].score,
            "round {}: the early round's losses",
            r.round
        );
        for i in 0..n {
            assert_eq!(r.kept[i], !is_bad(i), "round {} sample {i}", r.round);
        }
        let t = r.metrics.trim.unwrap();
        assert_eq!((t.trimmed, t.precision, t.recall), (20, 1.0, 1.0));
    }
    assert_ne!(
        hist[2].score, hist[2].loss,
        "round 2 cut on round 1's losses"
    );
    // The final model trained on the restored set: all but the bad samples.
    assert!(calls.trains[3].0.iter().all(|&i| !is_bad(i)));
    // The window and `export` re-cut a restore round the same way.
    let k = itlm::select::select_round(
        Selection::Global,
        &hist[3].score,
        data.labels(),
        &hist[3].predicted,
        4,
        0.8,
        c.restores_at(3),
    );
    assert_eq!(k, hist[3].kept);
    // Without restore: the plain cut on the full-length model's own losses, which miss the
    // hard samples it "fitted".
    let (mut l, _) = fitting();
    let hist = run_ok(&mut l, &data, Some(&bad), &cfg(0.8, 2));
    assert_eq!(hist.len(), 3);
    assert_eq!(hist[2].metrics.trimmed, 40);
    assert!((0..n).filter(|&i| is_hard(i)).all(|i| hist[2].kept[i]));
}
