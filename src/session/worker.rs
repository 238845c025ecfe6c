//! The background worker: runs `itlm::run` on a named thread, takes commands (pause, resume,
//! stop, step one round) and sends events over bounded channels, waking the UI after each.
//! Dropping the worker cancels the run within one batch and joins the thread.

use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, SyncSender, TryRecvError, TrySendError};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::data::Dataset;
use crate::error::{Error, Result};
use crate::export::RunStatus;
use crate::itlm::{self, Config, Event, Forward, Phase, Pins, RoundRecord, Start, Tick};
use crate::learner::head::FeatureMatrix;
use crate::learner::{self, LearnerConfig};

/// Commands the UI sends to a running job.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Command {
    Pause,
    Resume,
    /// Resume until the next round is complete, then pause.
    StepOneRound,
    Stop,
}

/// Where a job is.
#[derive(Clone, Debug, PartialEq)]
pub struct Progress {
    pub round: usize,
    pub rounds: usize,
    pub phase: Phase,
    pub epoch: usize,
    pub epochs: usize,
    pub batch: usize,
    pub batches: usize,
    pub loss: Option<f32>,
    /// Share of the whole job done, 0..1.
    pub fraction: f32,
    pub elapsed_secs: f64,
    pub eta_secs: Option<f64>,
}

/// What a job reports.
#[derive(Clone, Debug)]
pub enum WorkerEvent {
    Started {
        learner: String,
    },
    /// The learner is being built (embedding the images); no round has started.
    Preparing(Preparing),
    /// The training samples' embeddings the learner was built on.
    Embeddings(Arc<FeatureMatrix>),
    /// A note of the learner's build (shown to the user).
    Note(String),
    Progress(Progress),
    RoundDone(Arc<RoundRecord>),
    /// Auto turned the run into co-teaching after round 0 ([`Event::CoteachChosen`]): the
    /// run's config from now on; the rounds reported so far are dropped, and the rounds that
    /// follow start again at round 0.
    Switched {
        config: Box<Config>,
        /// What trains now ([`Config::describe_learner`]).
        learner: String,
    },
    /// The run chose its tau from round 0's noise estimate ([`Event::TauChosen`]), before
    /// round 0's record: every cut of the run keeps this share.
    TauChosen {
        tau: f64,
        /// The noise rate it read (out-of-fold for a head on embeddings).
        noise: f64,
        /// The samples the user excluded (trimmed besides the noise).
        excluded: usize,
    },
    Paused,
    Resumed,
    /// The job ended: finished, stopped by a command, or failed (why). Rounds already
    /// reported stay valid.
    Ended(RunStatus),
}

/// Builds the learner for a dataset (tests use fake learners through this); reports its
/// progress and hands back what it computed on the way through [`Building`].
pub type LearnerFactory =
    Arc<dyn Fn(&Dataset, &mut Building<'_>) -> Result<Box<dyn itlm::Learner>> + Send + Sync>;

/// What a [`LearnerFactory`] reports while it builds (a backbone embeds every image first,
/// which can take minutes) and what it hands back beside the learner.
pub struct Building<'a> {
    report: &'a mut dyn FnMut(&str, usize, usize) -> Result<()>,
    /// The training samples' embeddings, when the learner works on embeddings (the window's
    /// map, duplicates and outliers use them).
    pub embeddings: Option<Arc<FeatureMatrix>>,
    /// What the user should know of the build (e.g. a damaged cache was recomputed).
    pub notes: Vec<String>,
}

impl<'a> Building<'a> {
    pub fn new(report: &'a mut dyn FnMut(&str, usize, usize) -> Result<()>) -> Self {
        Self {
            report,
            embeddings: None,
            notes: Vec::new(),
        }
    }

    /// `done` of `total` items of `what` are ready. An error (the job was stopped) must end
    /// the build.
    pub fn progress(&mut self, what: &str, done: usize, total: usize) -> Result<()> {
        (self.report)(what, done, total)
    }
}

/// Where the building of a job's learner is (before its rounds start).
#[derive(Clone, Debug, PartialEq)]
pub struct Preparing {
    /// What is being prepared ("embedding train").
    pub what: String,
    pub done: usize,
    pub total: usize,
    pub elapsed_secs: f64,
    pub eta_secs: Option<f64>,
}

/// Everything a job needs. Datasets are shared, never copied.
#[derive(Clone)]
pub struct Job {
    pub data: Arc<Dataset>,
    pub test: Option<Arc<Dataset>>,
    pub test2: Option<Arc<Dataset>>,
    pub bad: Option<Arc<Vec<bool>>>,
    /// The ground truth, when known: its true labels score the relabelled samples.
    pub truth: Option<Arc<crate::data::truth::TruthInfo>>,
    pub config: Config,
    pub learner: LearnerConfig,
    /// Rounds to continue from (empty = fresh run) and the selection that trains the next.
    pub history: Vec<Arc<RoundRecord>>,
    pub kept: Option<Vec<bool>>,
    /// The user's decisions as pins (excluded never train, kept always stay); relabels come in
    /// `data`'s labels.
    pub pins: Option<Pins>,
    /// Pause after the first round that completes.
    pub step: bool,
    /// Overrides `learner` (tests).
    pub factory: Option<LearnerFactory>,
}

impl Job {
    /// A fresh run of `config` on `data`.
    pub fn new(data: Arc<Dataset>, config: Config, learner: LearnerConfig) -> Self {
        Self {
            data,
            test: None,
            test2: None,
            bad: None,
            truth: None,
            config,
            learner,
            history: Vec::new(),
            kept: None,
            pins: None,
            step: false,
            factory: None,
        }
    }
}

pub struct Worker {
    commands: SyncSender<Command>,
    events: Receiver<WorkerEvent>,
    cancel: Arc<AtomicBool>,
    handle: Option<JoinHandle<()>>,
}

/// Estimates the share of a job done from images trained and scored (training an image costs
/// about three forward passes); held-out test sets are not counted. Planned with each round
/// training on the previous cut; a forward-corrected round's real size re-plans the rest.
struct Eta {
    total_units: f64,
    /// Units of the learner calls (train or score) already finished.
    done: f64,
    /// Units of one train call and one score call in the current round.
    train_call: f64,
    score_call: f64,
    /// The last fraction reported: progress never goes back.
    reported: f64,
    started: Instant,
    /// The round the job starts at (a continued run's first new round).
    first: usize,
}

impl Eta {
    fn new(job: &Job) -> Self {
        let n = job.data.len();
        let trained_on = job
            .kept
            .as_ref()
            .map_or(n, |k| k.iter().filter(|&&b| b).count());
        Self::planned(&job.config, job.history.len(), trained_on, n)
    }

    /// The plan of a job of `c` on `n` samples starting at round `first`, which trains on
    /// `trained_on`.
    fn planned(c: &Config, first: usize, trained_on: usize, n: usize) -> Self {
        let mut eta = Self {
            total_units: 1.0,
            done: 0.0,
            train_call: 0.0,
            score_call: 0.0,
            reported: 0.0,
            started: Instant::now(),
            first,
        };
        let last = match c.forward() {
            Forward::On => c.forward_schedule(first).last_round(),
            _ => c.last_round(),
        };
        eta.start_round(c, first, last, c.epochs_at(first), trained_on, n, false);
        eta
    }

    /// Units of one train call and one score call of round `r` (each of its models makes one
    /// of each).
    fn calls(c: &Config, r: usize, epochs: f64, trained_on: f64, n: f64) -> (f64, f64) {
        let m = c.models_at(r);
        (3.0 * epochs * trained_on * m.train_share, n * m.score_share)
    }

    /// Round `r` of a run whose last round is `last` starts training `epochs` epochs on
    /// `trained_on` of `n` samples (`forward`: through a label-noise matrix). The rest of
    /// the job is planned again from here: what the run reports can differ from what the
    /// start could know (forward correction on auto trains every later round on every sample
    /// and shortens the run, [`Config::forward_schedule`]; a user's pins move the cut).
    #[allow(clippy::too_many_arguments)]
    fn start_round(
        &mut self,
        c: &Config,
        r: usize,
        last: usize,
        epochs: f64,
        trained_on: usize,
        n: usize,
        forward: bool,
    ) {
        let n = n as f64;
        // The rounds after this one: on every sample through the matrix once the run
        // forward-corrects (`on` does from round 1), else on the cut. This round's models
        // come from the same schedule (a forward run's last round is one model, not folds).
        let forwards = forward || c.forward() == Forward::On;
        let s = if forwards {
            c.forward_schedule(self.first)
        } else {
            c.clone()
        };
        (self.train_call, self.score_call) = Self::calls(&s, r, epochs, trained_on as f64, n);
        let continued = forwards
            .then(|| s.continued_final_epochs(self.first))
            .flatten();
        let mut rest = s.models_at(r).count as f64 * (self.train_call + self.score_call);
        for q in r + 1..=last {
            let size = match (forwards, forward) {
                // As many as this forward round (every sample the user did not exclude).
                (true, true) => trained_on as f64,
                (true, false) => n,
                (false, _) => (s.tau_at(q - 1) * n).ceil(),
            };
            let e = match continued {
                Some(e) if q == s.rounds => e,
                _ => s.epochs_at(q),
            };
            let (train, score) = Self::calls(&s, q, e, size, n);
            rest += s.models_at(q).count as f64 * (train + score);
        }
        self.total_units = (self.done + rest).max(1.0);
    }

    /// The share done after a tick of the current call.
    fn tick(&mut self, t: &Tick) -> f64 {
        let call = match t.phase {
            Phase::Train => self.train_call,
            Phase::Score => self.score_call,
            Phase::Test => 0.0,
        };
        let frac = t.batch as f64 / t.batches.max(1) as f64;
        let now = if t.batch >= t.batches {
            self.done += call;
            self.done
        } else {
            self.done + call * frac
        };
        self.reported = (now / self.total_units).clamp(self.reported, 1.0);
        self.reported
    }
}

impl Worker {
    /// Start `job` on a named thread. `repaint` is called after every event (wake the UI).
    pub fn spawn(job: Job, repaint: impl Fn() + Send + 'static) -> Result<Self> {
        let (ctx, crx) = mpsc::sync_channel::<Command>(16);
        let (etx, erx) = mpsc::sync_channel::<WorkerEvent>(256);
        let cancel = Arc::new(AtomicBool::new(false));
        let flag = cancel.clone();
        let handle = std::thread::Builder::new()
            .name("itlm-worker".into())
            .spawn(move || {
                let send = Sender {
                    tx: etx,
                    cancel: flag.clone(),
                    repaint: Box::new(repaint),
                };
                let outcome =
                    std::panic::catch_unwind(AssertUnwindSafe(|| work(&job, &crx, &flag, &send)));
                let end = match outcome {
                    Ok(Ok(())) => RunStatus::Finished,
                    Ok(Err(Error::Cancelled)) => RunStatus::Stopped,
                    Ok(Err(e)) => RunStatus::Failed(e.to_string()),
                    Err(panic) => RunStatus::Failed(format!(
                        "internal error in the worker: {}",
                        panic_message(&panic)
                    )),
                };
                send.must(WorkerEvent::Ended(end));
            })
            .map_err(|e| Error::Other(format!("cannot start the worker thread: {e}")))?;
        Ok(Self {
            commands: ctx,
            events: erx,
            cancel,
            handle: Some(handle),
        })
    }

    /// Send a command; ignored once the job has ended.
    pub fn send(&self, c: Command) {
        if c == Command::Stop {
            self.cancel.store(true, Ordering::SeqCst);
        }
        let _ = self.commands.try_send(c);
    }

    /// The next event, if any (never blocks).
    pub fn try_recv(&self) -> Option<WorkerEvent> {
        self.events.try_recv().ok()
    }

    /// Wait up to `timeout` for the next event (tests, CLI).
    pub fn recv_timeout(&self, timeout: Duration) -> Option<WorkerEvent> {
        self.events.recv_timeout(timeout).ok()
    }

    /// Whether the thread has exited.
    pub fn is_finished(&self) -> bool {
        self.handle.as_ref().is_none_or(|h| h.is_finished())
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        self.cancel.store(true, Ordering::SeqCst);
        let _ = self.commands.try_send(Command::Stop);
        if let Some(h) = self.handle.take() {
            // Drain so the worker never blocks on a full channel while we wait for it.
            while !h.is_finished() {
                while self.events.try_recv().is_ok() {}
                std::thread::sleep(Duration::from_millis(2));
            }
            let _ = h.join();
        }
    }
}

fn panic_message(p: &Box<dyn std::any::Any + Send>) -> String {
    p.downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| p.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "panic".into())
}

struct Sender {
    tx: SyncSender<WorkerEvent>,
    cancel: Arc<AtomicBool>,
    repaint: Box<dyn Fn() + Send>,
}

impl Sender {
    /// Progress may be dropped when the UI is behind.
    fn lossy(&self, e: WorkerEvent) {
        if self.tx.try_send(e).is_ok() {
            (self.repaint)();
        }
    }

    /// Records and endings are never dropped (unless the UI is gone).
    fn must(&self, mut e: WorkerEvent) {
        let since = Instant::now();
        loop {
            match self.tx.try_send(e) {
                Ok(()) => break,
                Err(TrySendError::Disconnected(_)) => return,
                Err(TrySendError::Full(back)) => {
                    // A cancelled job whose events nobody reads gives up after a while.
                    if self.cancel.load(Ordering::SeqCst)
                        && since.elapsed() > Duration::from_secs(2)
                    {
                        return;
                    }
                    e = back;
                    (self.repaint)();
                    std::thread::sleep(Duration::from_millis(5));
                }
            }
        }
        (self.repaint)();
    }
}

fn work(job: &Job, commands: &Receiver<Command>, cancel: &AtomicBool, send: &Sender) -> Result<()> {
    // Commands that came while the learner was built: only a stop acts at once.
    let mut deferred = Vec::new();
    let mut learner = match &job.factory {
        Some(f) => {
            let started = Instant::now();
            let mut last = Instant::now() - Duration::from_secs(1);
            let mut report = |what: &str, done: usize, total: usize| -> Result<()> {
                if cancel.load(Ordering::SeqCst) {
                    return Err(Error::Cancelled);
                }
                loop {
                    match commands.try_recv() {
                        Ok(Command::Stop) | Err(TryRecvError::Disconnected) => {
                            return Err(Error::Cancelled)
                        }
                        Ok(c) => deferred.push(c),
                        Err(TryRecvError::Empty) => break,
                    }
                }
                if last.elapsed() >= Duration::from_millis(50) || done >= total {
                    last = Instant::now();
                    let elapsed = started.elapsed().as_secs_f64();
                    send.lossy(WorkerEvent::Preparing(Preparing {
                        what: what.to_string(),
                        done,
                        total,
                        elapsed_secs: elapsed,
                        eta_secs: (done > 0 && done < total)
                            .then(|| elapsed * (total - done) as f64 / done as f64),
                    }));
                }
                Ok(())
            };
            let mut building = Building::new(&mut report);
            let built = f(&job.data, &mut building)?;
            if let Some(e) = building.embeddings.take() {
                send.must(WorkerEvent::Embeddings(e));
            }
            for n in building.notes.drain(..) {
                send.must(WorkerEvent::Note(n));
            }
            built
        }
        None => learner::build(&job.learner, &job.data)?,
    };
    // The learner describes its augmentation once it has it (the run sets it again).
    learner.set_augment(job.config.augment)?;
    let learner_alone = learner.describe();
    send.must(WorkerEvent::Started {
        learner: job.config.describe_learner(&learner_alone),
    });
    let mut eta = Eta::new(job);
    let mut step = job.step;
    let mut paused = false;
    for c in deferred {
        match c {
            Command::Pause => paused = true,
            Command::Resume => paused = false,
            Command::StepOneRound => {
                step = true;
                paused = false;
            }
            Command::Stop => return Err(Error::Cancelled),
        }
    }
    if paused {
        send.must(WorkerEvent::Paused);
    }
    let mut last_progress = Instant::now() - Duration::from_secs(1);
    let mut rounds_total = job.config.last_round();
    let n = job.data.len();
    // The job's config, until auto turns the run into co-teaching after round 0.
    let mut config = job.config.clone();
    let mut observer = |e: &Event| -> Result<()> {
        match e {
            Event::TauChosen {
                noise,
                tau,
                excluded,
            } => {
                config.tau = *tau;
                send.must(WorkerEvent::TauChosen {
                    tau: *tau,
                    noise: *noise,
                    excluded: *excluded,
                });
                send.must(WorkerEvent::Note(super::tau_chosen_line(
                    *noise, *tau, *excluded,
                )));
            }
            Event::Round0NotLearned {
                agreement,
                baseline,
            } => {
                send.must(WorkerEvent::Note(super::not_learned_line(
                    *agreement, *baseline, &config,
                )));
            }
            Event::CoteachChosen {
                shape,
                noise,
                config: co,
            } => {
                config = (**co).clone();
                let started = eta.started;
                eta = Eta::planned(&config, 0, n, n);
                eta.started = started;
                send.must(WorkerEvent::Switched {
                    config: co.clone(),
                    learner: config.describe_learner(&learner_alone),
                });
                send.must(WorkerEvent::Note(super::coteach_chosen_line(
                    *shape, *noise, &config,
                )));
            }
            Event::RoundStarted {
                round,
                rounds,
                trained_on,
                epochs,
                forward,
            } => {
                rounds_total = *rounds;
                eta.start_round(&config, *round, *rounds, *epochs, *trained_on, n, *forward);
            }
            Event::Tick { round, tick } => {
                let fraction = eta.tick(tick);
                if last_progress.elapsed() >= Duration::from_millis(50)
                    || tick.batch == tick.batches
                {
                    last_progress = Instant::now();
                    let elapsed = eta.started.elapsed().as_secs_f64();
                    send.lossy(WorkerEvent::Progress(Progress {
                        round: *round,
                        rounds: rounds_total,
                        phase: tick.phase,
                        epoch: tick.epoch,
                        epochs: tick.epochs,
                        batch: tick.batch,
                        batches: tick.batches,
                        loss: tick.loss,
                        fraction: fraction as f32,
                        elapsed_secs: elapsed,
                        eta_secs: (fraction > 0.01).then(|| elapsed * (1.0 - fraction) / fraction),
                    }));
                }
            }
            // The window reads the decision off round 0's record (the controls' line).
            Event::ForwardDecided { .. } | Event::FinalChecked { .. } => {}
            Event::RoundDone(r) => {
                send.must(WorkerEvent::RoundDone(r.clone()));
                if step {
                    step = false;
                    paused = true;
                    send.must(WorkerEvent::Paused);
                }
            }
        }
        // Commands, and blocking while paused.
        loop {
            if cancel.load(Ordering::SeqCst) {
                return Err(Error::Cancelled);
            }
            let cmd = if paused {
                match commands.recv_timeout(Duration::from_millis(100)) {
                    Ok(c) => Some(c),
                    Err(RecvTimeoutError::Timeout) => continue,
                    Err(RecvTimeoutError::Disconnected) => return Err(Error::Cancelled),
                }
            } else {
                match commands.try_recv() {
                    Ok(c) => Some(c),
                    Err(TryRecvError::Empty) => None,
                    Err(TryRecvError::Disconnected) => return Err(Error::Cancelled),
                }
            };
            match cmd {
                None => return Ok(()),
                Some(Command::Stop) => return Err(Error::Cancelled),
                Some(Command::Pause) => {
                    if !paused {
                        paused = true;
                        send.must(WorkerEvent::Paused);
                    }
                }
                Some(Command::Resume) => {
                    if paused {
                        paused = false;
                        send.must(WorkerEvent::Resumed);
                    }
                    return Ok(());
                }
                Some(Command::StepOneRound) => {
                    step = true;
                    if paused {
                        paused = false;
                        send.must(WorkerEvent::Resumed);
                    }
                    return Ok(());
                }
            }
        }
    };
    let mut history = job.history.clone();
    let start = match &job.kept {
        Some(k) if !history.is_empty() => Start::After { kept: k.clone() },
        _ => Start::Fresh,
    };
    let inputs = itlm::Inputs {
        data: &job.data,
        eval: itlm::Eval {
            test: job.test.as_deref(),
            test2: job.test2.as_deref(),
        },
        bad: job.bad.as_ref().map(|b| b.as_slice()),
        true_labels: job
            .truth
            .as_ref()
            .map(|t| t.true_label.as_slice())
            .filter(|t| !t.is_empty()),
        pins: job.pins.as_ref(),
    };
    itlm::run(
        learner.as_mut(),
        inputs,
        &job.config,
        start,
        &mut history,
        &mut observer,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The plan assumes rounds after round 0 train on the cut; once a round reports that it
    /// forward-corrects, the rest of the job is planned as the shorter forward schedule on
    /// every sample, whose final round continues the forward round's model.
    #[test]
    fn a_forward_corrected_round_replans_the_rest_of_the_job() {
        let c = |transition| Config {
            tau: 0.6,
            rounds: 4,
            epochs: 1.0,
            final_epochs: 3,
            transition,
            ..Default::default()
        };
        // 3 units per trained image and epoch, 1 per scored image, 100 scored a round.
        // Plain: round 0 trains 100 x 1, rounds 1-3 60 x 1, the final round 60 x 3.
        let plain = 3.0 * (100.0 + 3.0 * 60.0 + 180.0) + 500.0;
        // Forward: round 0 100 x 1, round 1 100 x 1, the final round continues it 2 epochs.
        let forward = 3.0 * (100.0 + 100.0 + 200.0) + 300.0;
        let round0 = 3.0 * 100.0 + 100.0;
        for mode in [Forward::Off, Forward::Auto] {
            let mut e = Eta::planned(&c(mode), 0, 100, 100);
            assert_eq!(e.total_units, plain, "{mode}");
            e.done = round0;
            e.start_round(&c(mode), 1, 4, 1.0, 60, 100, false);
            assert_eq!(
                e.total_units, plain,
                "{mode}: a plain round 1 leaves the plan"
            );
        }
        let mut e = Eta::planned(&c(Forward::Auto), 0, 100, 100);
        e.done = round0;
        e.start_round(&c(Forward::Auto), 1, 2, 1.0, 100, 100, true);
        assert_eq!(e.total_units, forward, "auto turned forward correction on");
        e.done = round0 + 400.0;
        e.start_round(&c(Forward::Auto), 2, 2, 2.0, 100, 100, true);
        assert_eq!(e.total_units, forward, "the final round as planned");
        // `on` plans the forward schedule from the start.
        let e = Eta::planned(&c(Forward::On), 0, 100, 100);
        assert_eq!(e.total_units, forward);
        // With folds, the early rounds cross-fit but a forward run's last round (round 2,
        // shorter than the 4 the user set) trains one model on everything.
        let folded = Config {
            folds: 2,
            ..c(Forward::On)
        };
        let mut e = Eta::planned(&folded, 0, 100, 100);
        e.start_round(&folded, 2, 2, 2.0, 100, 100, true);
        assert_eq!((e.train_call, e.score_call), (3.0 * 2.0 * 100.0, 100.0));
    }
}
