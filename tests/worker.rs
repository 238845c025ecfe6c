//! The background worker: events, pause / resume / step / stop, cancellation on drop, panics.

mod common;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{dataset, Calls, FakeLearner};
use itlm_inspector::export::RunStatus;
use itlm_inspector::itlm::{self, Config, Event, Phase, TauSchedule};
use itlm_inspector::learner::LearnerConfig;
use itlm_inspector::session::worker::{Command, Job, Worker, WorkerEvent};

fn job(rounds: usize, sleep_ms: u64, panic_at: Option<usize>) -> Job {
    let data = Arc::new(dataset(30, 3));
    let config = Config {
        tau: 0.6,
        rounds,
        epochs: 1.0,
        final_epochs: 1,
        schedule: TauSchedule::Constant,
        ..Default::default()
    };
    let mut j = Job::new(data, config, LearnerConfig::default());
    j.factory = Some(Arc::new(move |_d, _b| {
        let (mut l, _) = FakeLearner::new((0..30).map(|i| i as f32).collect());
        l.batch_sleep_ms = sleep_ms;
        l.batches = 5;
        l.panic_at = panic_at;
        Ok(Box::new(l) as Box<dyn itlm_inspector::itlm::Learner>)
    }));
    j
}

/// Collect events until `stop` says so or the timeout passes.
fn until(w: &Worker, secs: u64, mut stop: impl FnMut(&WorkerEvent) -> bool) -> Vec<WorkerEvent> {
    let t = Instant::now();
    let mut v = Vec::new();
    while t.elapsed() < Duration::from_secs(secs) {
        if let Some(e) = w.recv_timeout(Duration::from_millis(20)) {
            let s = stop(&e);
            v.push(e);
            if s {
                break;
            }
        }
    }
    v
}

fn rounds_in(ev: &[WorkerEvent]) -> usize {
    ev.iter()
        .filter(|e| matches!(e, WorkerEvent::RoundDone(_)))
        .count()
}

/// The progress fractions of `ev`, checked to stay in [0, 1] and never go back.
fn monotone_progress(ev: &[WorkerEvent]) -> Vec<f32> {
    let fracs: Vec<f32> = ev
        .iter()
        .filter_map(|e| match e {
            WorkerEvent::Progress(p) => Some(p.fraction),
            _ => None,
        })
        .collect();
    assert!(!fracs.is_empty());
    assert!(
        fracs.windows(2).all(|w| w[1] >= w[0] - 1e-6),
        "progress never goes back: {fracs:?}"
    );
    assert!(fracs.iter().all(|&f| (0.0..=1.0).contains(&f)), "{fracs:?}");
    fracs
}

#[test]
fn runs_to_the_end_with_progress() {
    let w = Worker::spawn(job(2, 0, None), || {}).unwrap();
    let ev = until(&w, 20, |e| matches!(e, WorkerEvent::Ended(_)));
    assert!(
        matches!(ev.last(), Some(WorkerEvent::Ended(RunStatus::Finished))),
        "{ev:?}"
    );
    assert_eq!(rounds_in(&ev), 3);
    let fracs = monotone_progress(&ev);
    assert!(*fracs.last().unwrap() > 0.9);
}

#[test]
fn step_pauses_after_each_round_and_resume_finishes() {
    let mut j = job(3, 1, None);
    j.step = true;
    let w = Worker::spawn(j, || {}).unwrap();
    let ev = until(&w, 20, |e| matches!(e, WorkerEvent::Paused));
    assert_eq!(rounds_in(&ev), 1);
    // paused: nothing more happens
    assert!(until(&w, 1, |_| false)
        .iter()
        .all(|e| !matches!(e, WorkerEvent::RoundDone(_))));
    w.send(Command::StepOneRound);
    let ev = until(&w, 20, |e| matches!(e, WorkerEvent::Paused));
    assert_eq!(rounds_in(&ev), 1);
    w.send(Command::Resume);
    let ev = until(&w, 20, |e| matches!(e, WorkerEvent::Ended(_)));
    assert_eq!(rounds_in(&ev), 2);
    assert!(matches!(
        ev.last(),
        Some(WorkerEvent::Ended(RunStatus::Finished))
    ));
}

#[test]
fn stop_ends_within_a_batch_and_keeps_rounds() {
    let w = Worker::spawn(job(50, 20, None), || {}).unwrap();
    let ev = until(&w, 20, |e| matches!(e, WorkerEvent::RoundDone(_)));
    assert_eq!(rounds_in(&ev), 1);
    let t = Instant::now();
    w.send(Command::Stop);
    let ev = until(&w, 20, |e| matches!(e, WorkerEvent::Ended(_)));
    assert!(
        t.elapsed() < Duration::from_millis(500),
        "stopped in {:?}",
        t.elapsed()
    );
    match ev.last() {
        Some(WorkerEvent::Ended(s)) => assert_eq!(*s, RunStatus::Stopped),
        other => panic!("{other:?}"),
    }
}

#[test]
fn drop_cancels_and_joins_quickly() {
    let w = Worker::spawn(job(50, 20, None), || {}).unwrap();
    std::thread::sleep(Duration::from_millis(100));
    let t = Instant::now();
    drop(w);
    assert!(
        t.elapsed() < Duration::from_millis(500),
        "drop took {:?}",
        t.elapsed()
    );
}

#[test]
fn a_panic_in_the_learner_becomes_an_error_event() {
    let w = Worker::spawn(job(3, 0, Some(1)), || {}).unwrap();
    let ev = until(&w, 20, |e| matches!(e, WorkerEvent::Ended(_)));
    assert_eq!(rounds_in(&ev), 1, "round 0 finished before the panic");
    match ev.last() {
        Some(WorkerEvent::Ended(RunStatus::Failed(m))) => {
            assert!(m.contains("fake learner panicked on purpose"), "{m}")
        }
        other => panic!("{other:?}"),
    }
    // and a new run can start afterwards
    let w2 = Worker::spawn(job(1, 0, None), || {}).unwrap();
    let ev = until(&w2, 20, |e| matches!(e, WorkerEvent::Ended(_)));
    assert!(matches!(
        ev.last(),
        Some(WorkerEvent::Ended(RunStatus::Finished))
    ));
}

#[test]
fn repaint_is_called() {
    let count = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let c = count.clone();
    let w = Worker::spawn(job(1, 0, None), move || {
        c.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    })
    .unwrap();
    until(&w, 20, |e| matches!(e, WorkerEvent::Ended(_)));
    assert!(count.load(std::sync::atomic::Ordering::SeqCst) >= 3);
}

#[test]
fn stop_during_scoring_ends_within_one_batch_and_keeps_rounds() {
    const SCORE_MS: u64 = 150;
    let n = 30;
    let config = Config {
        tau: 0.6,
        rounds: 5,
        epochs: 1.0,
        final_epochs: 1,
        schedule: TauSchedule::Constant,
        ..Default::default()
    };
    let calls = Arc::new(Mutex::new(Calls::default()));
    let mut j = Job::new(Arc::new(dataset(n, 3)), config, LearnerConfig::default());
    let c = calls.clone();
    j.factory = Some(Arc::new(move |_d, _b| {
        let (mut l, _) = FakeLearner::new((0..n).map(|i| i as f32).collect());
        l.calls = c.clone();
        l.batches = 2;
        l.score_batches = 10;
        l.score_sleep_ms = SCORE_MS;
        Ok(Box::new(l) as Box<dyn itlm_inspector::itlm::Learner>)
    }));
    let w = Worker::spawn(j, || {}).unwrap();
    let ev = until(&w, 30, |e| matches!(e, WorkerEvent::RoundDone(_)));
    let round0 = match ev.last() {
        Some(WorkerEvent::RoundDone(r)) => r.clone(),
        other => panic!("round 0 did not finish: {other:?}"),
    };
    // Stop when round 1 is a few batches into scoring every sample.
    let ev = until(&w, 30, |e| {
        matches!(e, WorkerEvent::Progress(p)
            if p.round == 1 && p.phase == Phase::Score && p.batch >= 3)
    });
    assert!(
        matches!(ev.last(), Some(WorkerEvent::Progress(_))),
        "round 1 never scored: {ev:?}"
    );
    assert_eq!(rounds_in(&ev), 0);
    let done_at_stop = calls.lock().unwrap().score_batches_done;
    let t = Instant::now();
    w.send(Command::Stop);
    let ev = until(&w, 30, |e| matches!(e, WorkerEvent::Ended(_)));
    let took = t.elapsed();
    match ev.last() {
        Some(WorkerEvent::Ended(s)) => assert_eq!(*s, RunStatus::Stopped),
        other => panic!("{other:?}"),
    }
    let done_after = calls.lock().unwrap().score_batches_done;
    assert!(
        done_after - done_at_stop <= 1,
        "{} scoring batches ran after Stop",
        done_after - done_at_stop
    );
    // One batch plus slack for a busy machine; scoring alone had ~1 s left.
    assert!(
        took < Duration::from_millis(SCORE_MS + 300),
        "stopped in {took:?}"
    );
    assert_eq!(rounds_in(&ev), 0, "the cancelled round is not reported");
    // The finished round is whole.
    assert_eq!(round0.round, 0);
    assert_eq!(round0.loss.len(), n);
    assert_eq!(round0.kept.len(), n);
    assert_eq!(round0.kept_count(), 18);
    let t = Instant::now();
    while !w.is_finished() && t.elapsed() < Duration::from_secs(5) {
        std::thread::sleep(Duration::from_millis(5));
    }
    assert!(w.is_finished(), "the worker thread has exited");
}

#[test]
fn cancelling_inside_scoring_keeps_the_finished_rounds() {
    let n = 20;
    let data = dataset(n, 2);
    let (mut l, calls) = FakeLearner::new((0..n).map(|i| i as f32).collect());
    l.score_batches = 5;
    let config = Config {
        tau: 0.5,
        rounds: 3,
        epochs: 1.0,
        final_epochs: 1,
        schedule: TauSchedule::Constant,
        ..Default::default()
    };
    let mut history = vec![];
    let mut observer = |e: &Event| -> itlm_inspector::Result<()> {
        match e {
            Event::Tick { round: 2, tick } if tick.phase == Phase::Score && tick.batch == 2 => {
                Err(itlm_inspector::Error::Cancelled)
            }
            _ => Ok(()),
        }
    };
    let r = itlm::run(
        &mut l,
        itlm::Inputs::new(&data),
        &config,
        itlm::Start::Fresh,
        &mut history,
        &mut observer,
    );
    assert!(common::cancelled(&r.unwrap_err()));
    assert_eq!(history.len(), 2, "rounds 0 and 1 are kept");
    assert_eq!(
        history.iter().map(|r| r.round).collect::<Vec<_>>(),
        vec![0, 1]
    );
    assert!(history
        .iter()
        .all(|r| r.loss.len() == n && r.kept_count() == 10));
    // 2 whole scorings + 2 batches of the third
    assert_eq!(calls.lock().unwrap().score_batches_done, 12);
}

/// With cross-fitted rounds each early round trains one model per fold, and a round-0
/// ensemble several models: the progress bar counts every model's training, never goes back
/// and ends near 1.
#[test]
fn progress_is_monotone_with_cross_fitted_rounds_and_a_round0_ensemble() {
    let mut j = job(3, 0, None);
    j.config.folds = 3;
    j.config.round0_models = 4;
    let w = Worker::spawn(j, || {}).unwrap();
    let ev = until(&w, 20, |e| matches!(e, WorkerEvent::Ended(_)));
    assert!(
        matches!(ev.last(), Some(WorkerEvent::Ended(RunStatus::Finished))),
        "{ev:?}"
    );
    assert_eq!(rounds_in(&ev), 4);
    let fracs = monotone_progress(&ev);
    assert!(fracs.len() > 10, "{fracs:?}");
    assert!(*fracs.last().unwrap() > 0.9, "{fracs:?}");
}
