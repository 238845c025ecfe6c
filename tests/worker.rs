//! The background worker: events, pause / resume / step / stop, cancellation on drop, panics.

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{dataset, FakeLearner};
use itlm_inspector::itlm::{Config, TauSchedule};
use itlm_inspector::learner::LearnerConfig;
use itlm_inspector::worker::{Command, Job, Worker, WorkerEvent};

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
    j.factory = Some(Arc::new(move |_d| {
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

#[test]
fn runs_to_the_end_with_progress() {
    let w = Worker::spawn(job(2, 0, None), || {}).unwrap();
    let ev = until(&w, 20, |e| matches!(e, WorkerEvent::Ended(_)));
    assert!(
        matches!(ev.last(), Some(WorkerEvent::Ended(Ok(())))),
        "{ev:?}"
    );
    assert_eq!(rounds_in(&ev), 3);
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
    assert!(matches!(ev.last(), Some(WorkerEvent::Ended(Ok(())))));
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
        Some(WorkerEvent::Ended(Err(m))) => assert_eq!(m, "stopped"),
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
        Some(WorkerEvent::Ended(Err(m))) => {
            assert!(m.contains("fake learner panicked on purpose"), "{m}")
        }
        other => panic!("{other:?}"),
    }
    // and a new run can start afterwards
    let w2 = Worker::spawn(job(1, 0, None), || {}).unwrap();
    let ev = until(&w2, 20, |e| matches!(e, WorkerEvent::Ended(_)));
    assert!(matches!(ev.last(), Some(WorkerEvent::Ended(Ok(())))));
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
