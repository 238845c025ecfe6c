//! Shared test helpers: a fake learner with known losses and small in-memory datasets.
#![allow(dead_code)]

pub mod cli;

use std::sync::{Arc, Mutex};

use itlm_inspector::data::{Dataset, ImageShape, Source};
use itlm_inspector::itlm::{self, Config, Learner, Observer, Phase, Scores, Start, Tick, TickFn};
use itlm_inspector::learner::{self, LearnerConfig};
use itlm_inspector::{Error, Result};

/// A dataset of `n` 2x2 gray images with labels `i % classes`.
pub fn dataset(n: usize, classes: usize) -> Dataset {
    Dataset::from_parts(
        "fake",
        Source::Memory,
        (0..classes).map(|c| format!("c{c}")).collect(),
        ImageShape::new(2, 2, 1),
        vec![0; n * 4],
        (0..n).map(|i| (i % classes) as u32).collect(),
        (0..n).map(|i| format!("s{i}.png")).collect(),
    )
    .unwrap()
}

/// What the fake learner was asked to do.
#[derive(Clone, Debug, Default)]
pub struct Calls {
    pub resets: Vec<u64>,
    /// (indices, epochs) of every train call.
    pub trains: Vec<(Vec<usize>, f64)>,
    /// The labels each train call trained its indices with (the data's, relabels included).
    pub trained_labels: Vec<Vec<u32>>,
    pub scores: usize,
    /// Indices of every score call.
    pub scored: Vec<Vec<usize>>,
    /// Scoring batches finished, over all score calls.
    pub score_batches_done: usize,
    /// Every transition matrix set ([`Learner::set_transition`]), in order.
    pub transitions: Vec<Option<Vec<f32>>>,
    /// Every set of trusted samples set ([`Learner::set_trusted`]), in order.
    pub trusted: Vec<Option<Vec<bool>>>,
}

/// Losses are fixed per sample; optionally shifted each round, NaN training, or a panic.
#[derive(Clone)]
pub struct FakeLearner {
    pub losses: Vec<f32>,
    pub calls: Arc<Mutex<Calls>>,
    /// Train call (0-based) whose loss is NaN.
    pub diverge_at: Option<usize>,
    /// Train call that panics.
    pub panic_at: Option<usize>,
    /// Batches per train call (ticks), and a sleep per batch.
    pub batches: usize,
    pub batch_sleep_ms: u64,
    /// Batches per score call (ticks), and a sleep per scoring batch.
    pub score_batches: usize,
    pub score_sleep_ms: u64,
    /// Per model (the k-th reset, 0-based), a loss shift per sample: models that disagree.
    pub model_shift: Vec<Vec<f32>>,
    /// Predicted class per sample (default: the given label).
    pub predicted: Option<Vec<u32>>,
    /// Per model (the k-th reset), predicted class per sample; overrides `predicted`.
    pub predicted_per_model: Vec<Vec<u32>>,
    /// Predict each image's first pixel value (so that test sets get the predictions their
    /// pixels say); overrides `predicted`.
    pub predict_pixel: bool,
    /// Per model (the k-th reset), class probabilities per sample, row-major (samples x
    /// classes); a model without them returns none.
    pub probs: Vec<Vec<f32>>,
    /// What [`Learner::set_transition`] answers (default: the matrix is applied).
    pub transition_applies: bool,
    /// What [`Learner::cheap_to_retrain`] answers (default: false, as the CNN).
    pub cheap: bool,
    /// Whether [`Learner::fork`] gives a second model (a copy sharing the calls; default:
    /// none, so that co-teaching is refused and auto never turns to it).
    pub forks: bool,
    /// A generative learner ([`Learner::is_classifier`] false, as the VAE; default: false).
    pub generative: bool,
}

impl FakeLearner {
    pub fn new(losses: Vec<f32>) -> (Self, Arc<Mutex<Calls>>) {
        let calls = Arc::new(Mutex::new(Calls::default()));
        (
            Self {
                losses,
                calls: calls.clone(),
                diverge_at: None,
                panic_at: None,
                batches: 3,
                batch_sleep_ms: 0,
                score_batches: 1,
                score_sleep_ms: 0,
                model_shift: Vec::new(),
                predicted: None,
                predicted_per_model: Vec::new(),
                predict_pixel: false,
                probs: Vec::new(),
                transition_applies: true,
                cheap: false,
                forks: false,
                generative: false,
            },
            calls,
        )
    }
}

impl Learner for FakeLearner {
    fn describe(&self) -> String {
        "fake".into()
    }

    fn is_classifier(&self) -> bool {
        !self.generative
    }

    fn cheap_to_retrain(&self) -> bool {
        self.cheap
    }

    fn fork(&self) -> Result<Option<Box<dyn Learner>>> {
        Ok(self
            .forks
            .then(|| Box::new(self.clone()) as Box<dyn Learner>))
    }

    fn reset(&mut self, seed: u64) -> Result<()> {
        self.calls.lock().unwrap().resets.push(seed);
        Ok(())
    }

    fn set_transition(&mut self, t: Option<&[f32]>) -> Result<bool> {
        self.calls
            .lock()
            .unwrap()
            .transitions
            .push(t.map(|t| t.to_vec()));
        Ok(self.transition_applies)
    }

    fn set_trusted(&mut self, trusted: Option<Vec<bool>>) -> Result<bool> {
        self.calls.lock().unwrap().trusted.push(trusted);
        Ok(true)
    }

    fn train(
        &mut self,
        d: &Dataset,
        idx: &[usize],
        epochs: f64,
        _seed: u64,
        tick: &mut TickFn<'_>,
    ) -> Result<f32> {
        let call = {
            let mut c = self.calls.lock().unwrap();
            c.trains.push((idx.to_vec(), epochs));
            c.trained_labels
                .push(idx.iter().map(|&i| d.label(i)).collect());
            c.trains.len() - 1
        };
        if self.panic_at == Some(call) {
            panic!("fake learner panicked on purpose");
        }
        for b in 0..self.batches {
            if self.batch_sleep_ms > 0 {
                std::thread::sleep(std::time::Duration::from_millis(self.batch_sleep_ms));
            }
            tick(Tick {
                phase: Phase::Train,
                epoch: 0,
                epochs: 1,
                batch: b + 1,
                batches: self.batches,
                loss: Some(0.5),
            })?;
        }
        if self.diverge_at == Some(call) {
            return Ok(f32::NAN);
        }
        Ok(0.5)
    }

    fn score(&mut self, d: &Dataset, idx: &[usize], tick: &mut TickFn<'_>) -> Result<Scores> {
        let model = {
            let mut c = self.calls.lock().unwrap();
            c.scores += 1;
            c.scored.push(idx.to_vec());
            c.resets.len().saturating_sub(1)
        };
        let shift = |i: usize| {
            self.model_shift
                .get(model)
                .and_then(|v| v.get(i))
                .copied()
                .unwrap_or(0.0)
        };
        for b in 0..self.score_batches {
            if self.score_sleep_ms > 0 {
                std::thread::sleep(std::time::Duration::from_millis(self.score_sleep_ms));
            }
            self.calls.lock().unwrap().score_batches_done += 1;
            tick(Tick {
                phase: Phase::Score,
                epoch: 0,
                epochs: 1,
                batch: b + 1,
                batches: self.score_batches,
                loss: None,
            })?;
        }
        let loss: Vec<f32> = idx
            .iter()
            .map(|&i| self.losses.get(i).copied().unwrap_or(0.1) + shift(i))
            .collect();
        let predicted = idx
            .iter()
            .map(|&i| {
                if self.predict_pixel {
                    return d.image(i)[0] as u32;
                }
                if let Some(&q) = self.predicted_per_model.get(model).and_then(|p| p.get(i)) {
                    return q;
                }
                self.predicted
                    .as_ref()
                    .and_then(|p| p.get(i).copied())
                    .unwrap_or(d.label(i))
            })
            .collect();
        let p_given = loss.iter().map(|l| (-l).exp()).collect();
        let k = d.num_classes();
        let probs = match self.probs.get(model) {
            Some(p) if !p.is_empty() => idx
                .iter()
                .flat_map(|&i| p[i * k..(i + 1) * k].iter().copied())
                .collect(),
            _ => Vec::new(),
        };
        Ok(Scores {
            loss,
            predicted,
            p_given,
            probs,
        })
    }
}

pub fn cancelled(e: &Error) -> bool {
    matches!(e, Error::Cancelled)
}

/// Polls `s` until `f` holds, failing after `secs` seconds with the messages shown.
pub fn wait(
    s: &mut itlm_inspector::ui::AppState,
    secs: u64,
    what: &str,
    f: impl Fn(&itlm_inspector::ui::AppState) -> bool,
) {
    let t = std::time::Instant::now();
    while !f(s) {
        assert!(
            t.elapsed() < std::time::Duration::from_secs(secs),
            "timed out waiting for {what}: {:?}",
            s.messages
        );
        s.poll();
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
}

/// A fresh ITLM run of the learner `lc` builds on real data, with the truth of which samples
/// are bad (for trim precision) and the test sets each round reports; `observer` sees the
/// run's events. Its round records.
pub fn run_itlm(
    lc: &LearnerConfig,
    data: &Dataset,
    eval: itlm::Eval,
    bad: &[bool],
    cfg: &Config,
    observer: &mut dyn Observer,
) -> Vec<Arc<itlm::RoundRecord>> {
    let inputs = itlm::Inputs {
        data,
        eval,
        bad: Some(bad),
        true_labels: None,
        pins: None,
    };
    run_inputs(lc, inputs, cfg, observer)
}

/// [`run_itlm`] with every input given (true labels, pins).
pub fn run_inputs(
    lc: &LearnerConfig,
    inputs: itlm::Inputs<'_>,
    cfg: &Config,
    observer: &mut dyn Observer,
) -> Vec<Arc<itlm::RoundRecord>> {
    let mut l = learner::build(lc, inputs.data).unwrap();
    let mut hist = Vec::new();
    itlm::run(l.as_mut(), inputs, cfg, Start::Fresh, &mut hist, observer).unwrap();
    hist
}

/// The wheel of `package` (its file name's prefix, e.g. "scikit_learn-") in the folder
/// `ITLM_WHEELS` names (`.ci/run` fills it with `pip download`), or None when it is not
/// there: the test `test` prints "skipped" and passes, unless ITLM_REQUIRE_REAL_DATA=1
/// (set in CI), which makes it fail.
pub fn wheel(prefix: &str, package: &str, test: &str) -> Option<std::path::PathBuf> {
    let found = std::env::var_os("ITLM_WHEELS").and_then(|dir| {
        std::fs::read_dir(dir)
            .ok()?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .find(|p| {
                let n = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
                n.starts_with(prefix) && n.ends_with(".whl")
            })
    });
    if found.is_none() {
        if std::env::var("ITLM_REQUIRE_REAL_DATA").as_deref() == Ok("1") {
            panic!("{test}: ITLM_WHEELS must name a folder with the {package} wheel");
        }
        println!("{test}: skipped (set ITLM_WHEELS to a folder with the {package} wheel)");
    }
    found
}
