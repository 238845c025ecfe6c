//! Automatic relabelling (`Config::relabel`) in the rounds, with a fake learner of known
//! predictions: who is relabelled, what the final model trains with, what the records say.

mod common;

use common::{dataset, FakeLearner};
use itlm_inspector::data::Dataset;
use itlm_inspector::itlm::{self, Config, Learner, Pins, Quiet, Scores, Start, TickFn};
use itlm_inspector::Result;

/// 12 samples of 3 classes (label i % 3), losses rising with the index: tau 0.75 keeps 0 - 8
/// and trims 9 (given 0), 10 (given 1) and 11 (given 2). Every model is sure of the kept
/// samples' labels (0.9: the threshold of every class). Of the trimmed ones:
/// - 9 is predicted 1 at 0.95 by both early models: relabelled to 1;
/// - 10 is predicted 2 at only 0.8: not confident enough;
/// - 11 is predicted 0 at 0.95 by round 1's model but 1 by round 0's: not stable.
fn fake() -> (FakeLearner, std::sync::Arc<std::sync::Mutex<common::Calls>>) {
    let n = 12;
    let (mut l, calls) = FakeLearner::new((0..n).map(|i| i as f32 * 0.25).collect());
    let mut probs = vec![0.05f32; n * 3];
    let mut predicted: Vec<u32> = (0..n).map(|i| (i % 3) as u32).collect();
    for i in 0..9 {
        probs[i * 3 + i % 3] = 0.9;
    }
    let mut set = |i: usize, q: usize, p: f32| {
        probs[i * 3..i * 3 + 3]
            .iter_mut()
            .for_each(|x| *x = (1.0 - p) / 2.0);
        probs[i * 3 + q] = p;
        predicted[i] = q as u32;
    };
    set(9, 1, 0.95);
    set(10, 2, 0.8);
    set(11, 0, 0.95);
    let mut round0 = predicted.clone();
    round0[11] = 1;
    l.probs = vec![probs.clone(), probs.clone(), probs];
    l.predicted_per_model = vec![round0, predicted.clone(), predicted];
    (l, calls)
}

fn config() -> Config {
    Config {
        tau: 0.75,
        rounds: 2,
        epochs: 1.0,
        final_epochs: 3,
        relabel: true,
        // Plain ITLM also where `relabel: false` below (not the default's auto).
        transition: itlm_inspector::itlm::Forward::Off,
        ..Default::default()
    }
}

fn run(
    l: &mut dyn Learner,
    data: &Dataset,
    truth: Option<&[Option<u32>]>,
    pins: Option<&Pins>,
    c: &Config,
) -> Result<Vec<std::sync::Arc<itlm::RoundRecord>>> {
    let mut hist = Vec::new();
    itlm::run(
        l,
        itlm::Inputs {
            true_labels: truth,
            pins,
            ..itlm::Inputs::new(data)
        },
        c,
        Start::Fresh,
        &mut hist,
        &mut Quiet,
    )?;
    Ok(hist)
}

#[test]
fn the_final_model_trains_the_relabelled_samples_with_their_new_label() {
    let data = dataset(12, 3);
    let (mut l, calls) = fake();
    // Truth: 9 is really class 1, and 10 really class 2 (a fixable sample left alone).
    let mut truth: Vec<Option<u32>> = (0..12).map(|i| Some((i % 3) as u32)).collect();
    truth[9] = Some(1);
    truth[10] = Some(2);
    let hist = run(&mut l, &data, Some(&truth), None, &config()).unwrap();
    assert_eq!(hist.len(), 3);
    // Round 0's selection trains round 1 on the kept samples only: no relabel yet.
    assert!(hist[0].relabelled.is_empty());
    // Round 1 (the last early round) relabels sample 9 to class 1, and only it.
    let r1 = &hist[1];
    assert_eq!(r1.relabelled_count(), 1);
    assert_eq!(r1.relabelled_to(9), Some(1));
    assert!(
        !r1.kept[9],
        "a relabelled sample is still trimmed under its given label"
    );
    let q = r1.metrics.relabel.expect("truth known");
    assert_eq!((q.relabelled, q.correct, q.fixable), (1, 1, 2));
    assert_eq!((q.precision, q.recall), (1.0, 0.5));
    // The final model trains on the kept samples and 9, which it sees as class 1.
    let c = calls.lock().unwrap();
    let (idx, epochs) = &c.trains[2];
    assert_eq!(idx, &(0..10).collect::<Vec<_>>());
    assert_eq!(*epochs, 3.0);
    let labels = &c.trained_labels[2];
    assert_eq!(labels[9], 1);
    assert!((0..9).all(|i| labels[i] == (i % 3) as u32));
    assert_eq!(hist[2].trained_on, 10);
    // The final round is scored against the given labels.
    assert_eq!(c.trained_labels[1].len(), 9);
    assert!(hist[2].relabelled.is_empty());
    // Without truth the samples are relabelled all the same, unscored.
    let (mut l, _) = fake();
    let hist = run(&mut l, &data, None, None, &config()).unwrap();
    assert_eq!(hist[1].relabelled_to(9), Some(1));
    assert!(hist[1].metrics.relabel.is_none());
}

#[test]
fn off_nothing_is_relabelled_and_a_pinned_out_sample_never_is() {
    let data = dataset(12, 3);
    let (mut l, calls) = fake();
    let hist = run(
        &mut l,
        &data,
        None,
        None,
        &Config {
            relabel: false,
            ..config()
        },
    )
    .unwrap();
    assert!(hist.iter().all(|r| r.relabelled.is_empty()));
    assert_eq!(calls.lock().unwrap().trains[2].0.len(), 9);

    let mut pins = Pins::none(12);
    pins.exclude[9] = true;
    let (mut l, calls) = fake();
    let hist = run(&mut l, &data, None, Some(&pins), &config()).unwrap();
    assert_eq!(hist[1].relabelled_count(), 0);
    assert!(!calls.lock().unwrap().trains[2].0.contains(&9));
}

/// A learner without class probabilities (as the VAE).
struct Generative(FakeLearner);

impl Learner for Generative {
    fn describe(&self) -> String {
        "generative".into()
    }
    fn is_classifier(&self) -> bool {
        false
    }
    fn reset(&mut self, seed: u64) -> Result<()> {
        self.0.reset(seed)
    }
    fn train(
        &mut self,
        d: &Dataset,
        idx: &[usize],
        epochs: f64,
        seed: u64,
        tick: &mut TickFn<'_>,
    ) -> Result<f32> {
        self.0.train(d, idx, epochs, seed, tick)
    }
    fn score(&mut self, d: &Dataset, idx: &[usize], tick: &mut TickFn<'_>) -> Result<Scores> {
        self.0.score(d, idx, tick)
    }
}

#[test]
fn relabelling_needs_a_classifier_and_excludes_restore() {
    let data = dataset(12, 3);
    let (l, calls) = fake();
    let e = run(&mut Generative(l), &data, None, None, &config())
        .unwrap_err()
        .to_string();
    assert!(e.contains("relabelling needs a classifier"), "{e}");
    assert!(
        calls.lock().unwrap().trains.is_empty(),
        "refused before training"
    );
    let (mut l, _) = fake();
    let e = run(
        &mut l,
        &data,
        None,
        None,
        &Config {
            restore: true,
            ..config()
        },
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("choose one"), "{e}");
}
