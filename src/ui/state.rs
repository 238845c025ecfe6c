//! The window's state without the window: loading, the run and its history, the selected round
//! and cut, filters, dialogs and exports. Every method returns at once; loading, training,
//! dialogs and writing happen on named background threads whose results [`AppState::poll`]
//! collects, so the UI thread never blocks.

use std::path::{Path, PathBuf};
use std::sync::mpsc::{self, Receiver, TryRecvError};
use std::sync::Arc;
use std::time::Instant;

use crate::cli;
use crate::data::Dataset;
use crate::export::{self, DatasetInfo, Overwrite, RunFile, TruthInfo, Verdict};
use crate::itlm::{Config, RoundRecord};
use crate::learner::{LearnerConfig, ModelKind};
use crate::worker::{Command, Job, LearnerFactory, Progress, Worker, WorkerEvent};

use super::eval_paths::{EvalField, EvalPaths};
use super::reopen::Reopened;
use super::settings::Settings;
use super::view::{Cut, Filter, GridTab, Lists, ViewCache};
use super::TAU_MIN;

/// Wakes the UI (`ctx.request_repaint()`); a no-op in tests without a window.
pub type Repaint = Arc<dyn Fn() + Send + Sync>;

/// A loaded dataset with what the CLI's `prepare` found beside it.
pub struct Loaded {
    /// What was opened: the dataset path, or a run file.
    pub path: PathBuf,
    pub train: Arc<Dataset>,
    pub test: Option<Arc<Dataset>>,
    pub test2: Option<Arc<Dataset>>,
    pub truth: Option<Arc<TruthInfo>>,
    pub bad: Option<Arc<Vec<bool>>>,
    /// Notes from loading (skipped files, truth warnings).
    pub notes: Vec<String>,
    pub load_secs: f64,
    /// Where the test set, test-2 and truth came from (a path, or "... (auto)").
    pub test_from: Option<String>,
    pub test2_from: Option<String>,
    pub truth_from: Option<String>,
    /// The evaluation paths this was loaded with.
    pub eval: EvalPaths,
    /// Set when a saved run file was opened.
    pub reopened: Option<Arc<Reopened>>,
}

impl Loaded {
    /// `train` alone, opened from `path`.
    pub fn new(path: PathBuf, train: Dataset) -> Self {
        Self {
            path,
            train: Arc::new(train),
            test: None,
            test2: None,
            truth: None,
            bad: None,
            notes: Vec::new(),
            load_secs: 0.0,
            test_from: None,
            test2_from: None,
            truth_from: None,
            eval: EvalPaths::default(),
            reopened: None,
        }
    }

    /// Whether the samples' pixels are there (not so for a reopened run whose dataset is gone).
    pub fn has_images(&self) -> bool {
        self.reopened
            .as_ref()
            .is_none_or(|r| r.images_missing.is_none())
    }

    pub fn class_name(&self, c: u32) -> &str {
        self.train
            .classes
            .get(c as usize)
            .map(|s| s.as_str())
            .unwrap_or("?")
    }
}

/// A load in progress.
pub struct Loading {
    pub path: PathBuf,
    pub started: Instant,
    rx: Receiver<Result<Loaded, String>>,
}

#[derive(Clone, Debug, PartialEq)]
pub enum RunStatus {
    Starting,
    Running,
    Paused,
    Finished,
    Stopped,
    Failed(String),
}

impl RunStatus {
    pub fn is_active(&self) -> bool {
        matches!(
            self,
            RunStatus::Starting | RunStatus::Running | RunStatus::Paused
        )
    }
}

/// The run being shown: its configuration, its rounds so far, and the worker if it is alive.
pub struct Run {
    worker: Option<Worker>,
    pub history: Vec<Arc<RoundRecord>>,
    pub config: Config,
    pub learner: LearnerConfig,
    pub learner_description: String,
    pub status: RunStatus,
    pub progress: Option<Progress>,
    pub started: Instant,
    pub elapsed_secs: f64,
}

/// A message in the error bar.
#[derive(Clone, Debug, PartialEq)]
pub struct Message {
    pub error: bool,
    pub text: String,
}

/// What an export writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExportWhat {
    /// Run file, samples.csv, clean.txt and flagged.txt into a folder.
    All,
    SamplesCsv,
    CleanTxt,
    FlaggedTxt,
    RunFile,
}

impl ExportWhat {
    pub const ALL: [ExportWhat; 5] = [
        ExportWhat::All,
        ExportWhat::SamplesCsv,
        ExportWhat::CleanTxt,
        ExportWhat::FlaggedTxt,
        ExportWhat::RunFile,
    ];

    pub fn title(self) -> &'static str {
        match self {
            ExportWhat::All => "All files to a folder",
            ExportWhat::SamplesCsv => "samples.csv",
            ExportWhat::CleanTxt => "clean.txt",
            ExportWhat::FlaggedTxt => "flagged.txt",
            ExportWhat::RunFile => "Run file",
        }
    }

    /// Default file name (None: a folder).
    pub fn file_name(self) -> Option<&'static str> {
        match self {
            ExportWhat::All => None,
            ExportWhat::SamplesCsv => Some(export::SAMPLES_CSV),
            ExportWhat::CleanTxt => Some(export::CLEAN_TXT),
            ExportWhat::FlaggedTxt => Some(export::FLAGGED_TXT),
            ExportWhat::RunFile => Some(export::RUN_FILE),
        }
    }

    /// Files that `target` would replace.
    pub fn existing(self, target: &Path) -> Vec<PathBuf> {
        match self {
            ExportWhat::All => [
                export::RUN_FILE,
                export::SAMPLES_CSV,
                export::CLEAN_TXT,
                export::FLAGGED_TXT,
            ]
            .iter()
            .map(|f| target.join(f))
            .filter(|p| p.exists())
            .collect(),
            _ => target
                .exists()
                .then(|| target.to_path_buf())
                .into_iter()
                .collect(),
        }
    }
}

/// The export window's state.
pub struct ExportUi {
    pub open: Option<ExportWhat>,
    pub target: String,
    /// Files an export would replace, waiting for the user to confirm.
    pub confirm: Option<Vec<PathBuf>>,
    pub running: Option<Receiver<Result<Vec<PathBuf>, String>>>,
    pub last_written: Vec<PathBuf>,
}

/// Why a file dialog is open.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DialogPurpose {
    OpenFolder,
    /// A saved run file (`run.itlm`).
    OpenRun,
    ExportTarget(ExportWhat),
    /// A test / test-2 / truth path field.
    EvalPath(EvalField),
}

/// A native file dialog running on its own thread.
pub struct Dialog {
    pub purpose: DialogPurpose,
    pub started: Instant,
    rx: Receiver<Option<PathBuf>>,
}

/// Width, height and RGBA8 pixels.
pub type Rgba = (usize, usize, Vec<u8>);

/// A full-size original image decoded off the UI thread.
pub struct Original {
    pub index: usize,
    /// RGBA8, width x height.
    pub rgba: Option<Rgba>,
    pub error: Option<String>,
    rx: Option<Receiver<Result<Rgba, String>>>,
}

pub struct AppState {
    pub settings: Settings,
    /// The typed path field.
    pub path_input: String,
    pub loading: Option<Loading>,
    pub data: Option<Loaded>,
    /// Bumped whenever the dataset changes (thumbnail caches key on it).
    pub generation: u64,
    pub run: Option<Run>,
    pub messages: Vec<Message>,
    /// Round shown, as a position in the history.
    pub selected_round: Option<usize>,
    /// Follow the newest round as it arrives.
    pub follow_latest: bool,
    pub selected_sample: Option<usize>,
    pub tab: GridTab,
    pub filter: Filter,
    pub export: ExportUi,
    pub dialog: Option<Dialog>,
    pub original: Option<Original>,
    /// Replaces the candle learner (tests).
    pub factory: Option<LearnerFactory>,
    /// Start a run as soon as a dataset has loaded.
    pub autostart: bool,
    /// Test set, test-2 and truth paths for the next open.
    pub eval: EvalPaths,
    /// The model chosen for this session (environment); saved per-dataset settings keep it.
    pub pinned_model: Option<ModelKind>,
    view: ViewCache,
    repaint: Repaint,
}

impl AppState {
    pub fn new(settings: Settings, repaint: Repaint) -> Self {
        Self {
            settings,
            path_input: String::new(),
            loading: None,
            data: None,
            generation: 0,
            run: None,
            messages: Vec::new(),
            selected_round: None,
            follow_latest: true,
            selected_sample: None,
            tab: GridTab::default(),
            filter: Filter::default(),
            export: ExportUi {
                open: None,
                target: String::new(),
                confirm: None,
                running: None,
                last_written: Vec::new(),
            },
            dialog: None,
            original: None,
            factory: None,
            autostart: false,
            eval: EvalPaths::default(),
            pinned_model: None,
            view: ViewCache::default(),
            repaint,
        }
    }

    /// A state whose background threads wake nobody (tests, headless use).
    pub fn headless(settings: Settings) -> Self {
        Self::new(settings, Arc::new(|| {}))
    }

    pub fn error(&mut self, text: impl Into<String>) {
        let text = text.into();
        if !self.messages.iter().any(|m| m.text == text) {
            self.messages.push(Message { error: true, text });
        }
    }

    pub fn info(&mut self, text: impl Into<String>) {
        let text = text.into();
        if !self.messages.iter().any(|m| m.text == text) {
            self.messages.push(Message { error: false, text });
        }
    }

    /// The slider's tau (also the tau the next run starts with).
    pub fn tau(&self) -> f64 {
        self.settings.config.tau
    }

    pub fn set_tau(&mut self, tau: f64) {
        if tau.is_finite() {
            self.settings.config.tau = tau.clamp(TAU_MIN, 1.0);
        }
    }

    // ---------------------------------------------------------------- loading

    /// Load `path` on a background thread exactly as the CLI does (`cli::prepare`).
    pub fn open_path(&mut self, path: impl Into<PathBuf>) {
        let path: PathBuf = path.into();
        if path.as_os_str().is_empty() {
            self.error("Type a dataset folder in the path field first.");
            return;
        }
        self.path_input = path.display().to_string();
        // Evaluation paths typed for another dataset (and unchanged since) do not carry over.
        if let Some(d) = &self.data {
            if self.eval == d.eval && !same_path(&d.path, &path) {
                self.eval = EvalPaths::default();
            }
        }
        let (tx, rx) = mpsc::channel();
        let limit = self.settings.limit;
        let seed = self.settings.config.seed;
        let eval = self.eval.clone();
        let repaint = self.repaint.clone();
        let p = path.clone();
        let spawned = std::thread::Builder::new()
            .name("itlm-load".into())
            .spawn(move || {
                let result = std::panic::catch_unwind(|| {
                    if super::reopen::is_run_file(&p) {
                        super::reopen::load(&p, &eval)
                    } else {
                        load_dataset(&p, &eval, limit, seed)
                    }
                });
                let msg = match result {
                    Ok(r) => r,
                    Err(_) => Err(format!(
                        "Cannot open {}: internal error while loading",
                        p.display()
                    )),
                };
                let _ = tx.send(msg);
                repaint();
            });
        match spawned {
            Ok(_) => {
                self.loading = Some(Loading {
                    path,
                    started: Instant::now(),
                    rx,
                })
            }
            Err(e) => self.error(format!("Cannot start loading: {e}")),
        }
    }

    /// Show an already loaded dataset (in-memory sets, tests); what a finished load does.
    pub fn open_loaded(&mut self, l: Loaded) {
        self.stop_and_forget_run();
        if l.path.exists() {
            self.settings.remember(&l.path);
        }
        self.path_input = l.path.display().to_string();
        self.eval = l.eval.clone();
        let reopened = l.reopened.clone();
        // (Reloading the open dataset, e.g. with other test paths, keeps the user's edits.)
        let reload = self
            .data
            .as_ref()
            .is_some_and(|d| same_path(&d.path, &l.path));
        if reopened.is_none() && !reload {
            self.apply_dataset_settings(&l.path);
        }
        self.data = Some(l);
        self.generation += 1;
        self.selected_round = None;
        self.selected_sample = None;
        self.original = None;
        self.filter = Filter::default();
        self.view.clear();
        self.export.last_written.clear();
        if let Some(r) = reopened {
            self.show_reopened(&r);
        } else if self.autostart {
            self.autostart = false;
            self.start();
        }
    }

    /// The run settings for a newly opened dataset: those last used on it; for the demo set
    /// (never used before), its recommended settings. Other sets keep the current settings.
    fn apply_dataset_settings(&mut self, path: &Path) {
        let keep_model = self.pinned_model;
        if let Some(saved) = self.settings.saved_for(path).cloned() {
            self.settings.config = saved.config;
            self.settings.learner = saved.learner;
        } else if super::demo_dir().is_some_and(|d| same_path(&d, path)) {
            let (config, learner) = crate::data::demo::recommended();
            self.settings.config = config;
            self.settings.learner.batch_size = learner.batch_size;
            self.settings.learner.lr = learner.lr;
            // A labelled set: the classify mode (after, say, a reopened VAE run).
            if self.settings.learner.model == ModelKind::Vae {
                self.settings.learner.model = self.settings.classifier;
            }
            self.info(format!(
                "Demo set: using its recommended settings (tau {}, {} rounds of {} epochs, final {}, batch size {}, learning rate {}).",
                self.settings.config.tau,
                self.settings.config.rounds,
                self.settings.config.epochs,
                self.settings.config.final_epochs,
                learner.batch_size,
                learner.lr
            ));
        }
        if let Some(m) = keep_model {
            self.settings.learner.model = m;
        }
        self.settings.config.tau = self.settings.config.tau.clamp(TAU_MIN, 1.0);
    }

    /// Show a reopened run: its rounds, its verdict's round and tau, its configuration.
    fn show_reopened(&mut self, r: &Reopened) {
        let run = &r.run;
        let status = if run.status.starts_with("finished") {
            RunStatus::Finished
        } else if let Some(m) = run.status.strip_prefix("failed: ") {
            RunStatus::Failed(m.to_string())
        } else {
            RunStatus::Stopped
        };
        let verdict = run.verdict();
        self.settings.config = run.config.clone();
        self.settings.learner = run.learner.clone();
        if run.learner.model != ModelKind::Vae {
            self.settings.classifier = run.learner.model;
        }
        if let Some(v) = &verdict {
            self.set_tau(v.tau);
        }
        let selected = verdict
            .as_ref()
            .and_then(|v| run.rounds.iter().position(|x| x.round == v.round))
            .or_else(|| run.rounds.len().checked_sub(1));
        self.run = Some(Run {
            worker: None,
            history: run.rounds.clone(),
            config: run.config.clone(),
            learner: run.learner.clone(),
            learner_description: run.learner_description.clone(),
            status,
            progress: None,
            started: Instant::now(),
            elapsed_secs: run.elapsed_secs,
        });
        self.selected_round = selected;
        self.follow_latest = false;
        self.autostart = false;
        match &r.images_missing {
            Some(why) => self.error(format!(
                "Opened the run {} without thumbnails: {why}. The grids list sample ids; retraining needs the dataset.",
                r.file.display()
            )),
            None => self.info(format!(
                "Opened the run {} ({} rounds); images from {}.",
                r.file.display(),
                run.rounds.len(),
                r.data_path
                    .as_ref()
                    .map_or("?".to_string(), |p| p.display().to_string())
            )),
        }
    }

    /// Whether the evaluation paths differ from those the open dataset was loaded with.
    pub fn eval_changed(&self) -> bool {
        self.data.as_ref().is_some_and(|d| d.eval != self.eval)
    }

    /// Whether the shown run (else the next one) is generative (the VAE).
    pub fn generative(&self) -> bool {
        self.run
            .as_ref()
            .map_or(self.settings.learner.model, |r| r.learner.model)
            == ModelKind::Vae
    }

    /// A batch size to suggest when an epoch of the open set is very few batches (< 20):
    /// the largest power of two giving about 25 batches per epoch (at least 8).
    pub fn small_set_batch(&self) -> Option<usize> {
        let n = self.data.as_ref()?.train.len();
        let bs = self.settings.learner.batch_size.max(1);
        if n.div_ceil(bs) >= 20 {
            return None;
        }
        let target = (n / 25).max(8);
        let mut b = 8usize;
        while b * 2 <= target {
            b *= 2;
        }
        (b < bs).then_some(b)
    }

    fn stop_and_forget_run(&mut self) {
        if let Some(mut r) = self.run.take() {
            if let Some(w) = r.worker.take() {
                retire(w);
            }
        }
    }

    // ---------------------------------------------------------------- the run

    /// Start a fresh run with the current settings.
    pub fn start(&mut self) {
        self.start_job(Vec::new(), None, false);
    }

    /// Step one round: start a run that pauses after its first round, or let a paused run
    /// train one more round.
    pub fn step_one_round(&mut self) {
        let (live, has_rounds) = match &self.run {
            Some(r) => (
                r.worker.is_some() && r.status.is_active(),
                !r.history.is_empty(),
            ),
            None => (false, false),
        };
        if live {
            self.send(Command::StepOneRound);
        } else if has_rounds {
            // A finished or stopped run: one more round from the shown round and cut.
            self.retrain(true);
        } else {
            self.start_job(Vec::new(), None, true);
        }
    }

    pub fn pause(&mut self) {
        self.send(Command::Pause);
    }

    pub fn resume(&mut self) {
        self.send(Command::Resume);
    }

    pub fn stop(&mut self) {
        self.send(Command::Stop);
    }

    fn send(&mut self, c: Command) {
        if let Some(w) = self.run.as_ref().and_then(|r| r.worker.as_ref()) {
            w.send(c);
        }
    }

    /// Continue from the selected round with the slider's cut ("retrain at this tau").
    pub fn retrain_at_tau(&mut self) {
        self.retrain(false);
    }

    fn retrain(&mut self, step: bool) {
        let Some(cut) = self.cut() else {
            self.error("No finished round to retrain from.");
            return;
        };
        let Some(run) = &self.run else { return };
        let history: Vec<Arc<RoundRecord>> = run.history[..=cut.index].to_vec();
        self.start_job(history, Some(cut.kept.clone()), step);
    }

    fn start_job(&mut self, history: Vec<Arc<RoundRecord>>, kept: Option<Vec<bool>>, step: bool) {
        let Some(data) = &self.data else {
            self.error("Open a dataset first.");
            return;
        };
        if let Some(why) = data
            .reopened
            .as_ref()
            .and_then(|r| r.images_missing.clone())
        {
            self.error(format!(
                "Cannot train: the images of this run are not available ({why})."
            ));
            return;
        }
        let mut config = self.settings.config.clone();
        if let Some(run) = self.run.as_ref().filter(|_| !history.is_empty()) {
            // Continuing keeps the run's rule; the slider's tau drives the rounds to come.
            config = Config {
                tau: config.tau,
                ..run.config.clone()
            };
        }
        // Continuing from the last round trains (at least) one more.
        config.rounds = config.rounds.max(history.len());
        let mut learner = self.settings.learner.clone();
        if let Some(run) = self.run.as_ref().filter(|_| !history.is_empty()) {
            // The rounds to come are trained by the same kind of model.
            learner.model = run.learner.model;
        }
        if let Err(e) = config.validate().and_then(|_| learner.validate()) {
            self.error(format!("Cannot start: {e}"));
            return;
        }
        if data.reopened.is_none() && data.path.exists() {
            let path = data.path.clone();
            self.settings.remember_for(&path);
        }
        let Some(data) = &self.data else { return };
        let mut job = Job::new(data.train.clone(), config.clone(), learner.clone());
        job.test = data.test.clone();
        job.test2 = data.test2.clone();
        job.bad = data.bad.clone();
        job.history = history.clone();
        job.kept = kept;
        job.step = step;
        job.factory = self.factory.clone();
        let repaint = self.repaint.clone();
        self.stop_and_forget_run();
        match Worker::spawn(job, move || repaint()) {
            Ok(w) => {
                self.run = Some(Run {
                    worker: Some(w),
                    history,
                    config,
                    learner,
                    learner_description: String::new(),
                    status: RunStatus::Starting,
                    progress: None,
                    started: Instant::now(),
                    elapsed_secs: 0.0,
                });
                self.follow_latest = true;
                self.messages.retain(|m| !m.error);
            }
            Err(e) => self.error(format!("Cannot start the run: {e}")),
        }
    }

    // ---------------------------------------------------------------- polling

    /// Collect what background threads produced. Call once per frame; never blocks.
    pub fn poll(&mut self) {
        if let Some(l) = &self.loading {
            match l.rx.try_recv() {
                Ok(Ok(loaded)) => {
                    self.loading = None;
                    self.open_loaded(loaded);
                }
                Ok(Err(e)) => {
                    self.loading = None;
                    self.error(e);
                }
                Err(TryRecvError::Empty) => {}
                Err(TryRecvError::Disconnected) => {
                    self.loading = None;
                    self.error("Loading stopped unexpectedly.");
                }
            }
        }
        self.poll_worker();
        self.poll_dialog();
        self.poll_export();
        self.poll_original();
    }

    fn poll_worker(&mut self) {
        let Some(run) = self.run.as_mut() else { return };
        let Some(worker) = run.worker.as_ref() else {
            return;
        };
        let mut errors = Vec::new();
        let mut new_round = false;
        // Bounded: a flood of events is finished next frame.
        for _ in 0..512 {
            let Some(e) = worker.try_recv() else { break };
            match e {
                WorkerEvent::Started { learner } => {
                    run.learner_description = learner;
                    run.status = RunStatus::Running;
                }
                WorkerEvent::Progress(p) => {
                    run.elapsed_secs = p.elapsed_secs;
                    run.progress = Some(p);
                }
                WorkerEvent::RoundDone(r) => {
                    run.history.push(r);
                    new_round = true;
                }
                WorkerEvent::Paused => run.status = RunStatus::Paused,
                WorkerEvent::Resumed => run.status = RunStatus::Running,
                WorkerEvent::Ended(end) => {
                    run.elapsed_secs = run.started.elapsed().as_secs_f64();
                    run.status = match end {
                        Ok(()) => RunStatus::Finished,
                        Err(m) if m == "stopped" => RunStatus::Stopped,
                        Err(m) => {
                            errors.push(format!("The run failed: {m}"));
                            RunStatus::Failed(m)
                        }
                    };
                    run.progress = None;
                    if let Some(w) = run.worker.take() {
                        retire(w);
                    }
                    break;
                }
            }
        }
        let last = run.history.len().checked_sub(1);
        if new_round && (self.follow_latest || self.selected_round.is_none()) {
            self.selected_round = last;
        }
        for e in errors {
            self.error(e);
        }
    }

    // ---------------------------------------------------------------- rounds

    pub fn rounds(&self) -> usize {
        self.run.as_ref().map_or(0, |r| r.history.len())
    }

    /// Show round `index` (position in the history); stops following the newest round.
    pub fn select_round(&mut self, index: usize) {
        let n = self.rounds();
        if n == 0 {
            return;
        }
        let index = index.min(n - 1);
        self.selected_round = Some(index);
        let active = self.run.as_ref().is_some_and(|r| r.status.is_active());
        self.follow_latest = active && index == n - 1 && self.follow_latest;
    }

    /// Step the selected round by `delta` (arrow keys). Stepping past the newest round of a
    /// live run follows it again.
    pub fn step_round(&mut self, delta: isize) {
        let n = self.rounds();
        if n == 0 {
            return;
        }
        let cur = self.selected_round.unwrap_or(n - 1) as isize;
        let next = (cur + delta).clamp(0, n as isize - 1) as usize;
        self.selected_round = Some(next);
        let active = self.run.as_ref().is_some_and(|r| r.status.is_active());
        self.follow_latest = active && next == n - 1 && delta > 0;
    }

    pub fn follow(&mut self) {
        self.follow_latest = true;
        self.selected_round = self.rounds().checked_sub(1);
    }

    pub fn record(&self) -> Option<&Arc<RoundRecord>> {
        let run = self.run.as_ref()?;
        run.history.get(self.selected_round?)
    }

    /// The selected round cut at the slider's tau (cached).
    pub fn cut(&mut self) -> Option<Arc<Cut>> {
        let index = self.selected_round?;
        let run = self.run.as_ref()?;
        let record = run.history.get(index)?;
        let data = self.data.as_ref()?;
        Some(self.view.cut(
            record,
            index,
            data.train.labels(),
            data.train.num_classes(),
            run.config.select,
            self.settings.config.tau,
            run.config.restores_at(record.round),
            data.bad.as_ref().map(|b| b.as_slice()),
            self.generation,
        ))
    }

    /// The grid lists of the current cut and filter (cached).
    pub fn lists(&mut self) -> Option<Arc<Lists>> {
        self.cut()?;
        let rule = self.run.as_ref()?.config.select;
        let labels = self.data.as_ref()?.train.labels();
        self.view.lists(labels, rule, self.filter)
    }

    /// How many cuts were computed so far (a cache check for tests).
    pub fn cut_computations(&self) -> usize {
        self.view.cut_computations
    }

    /// Move the selected sample within the current grid list (detail keyboard navigation).
    pub fn step_sample(&mut self, delta: isize) {
        let Some(lists) = self.lists() else { return };
        let list = lists.get(self.tab);
        if list.is_empty() {
            return;
        }
        let pos = self
            .selected_sample
            .and_then(|s| list.iter().position(|&i| i == s));
        let next = match pos {
            Some(p) => (p as isize + delta).clamp(0, list.len() as isize - 1) as usize,
            None => 0,
        };
        self.select_sample(Some(list[next]));
    }

    pub fn select_sample(&mut self, i: Option<usize>) {
        if self.selected_sample == i {
            return;
        }
        self.selected_sample = i;
        self.original = None;
        let Some(i) = i else { return };
        let Some(file) = self.data.as_ref().and_then(|d| d.train.file(i)) else {
            return;
        };
        let (tx, rx) = mpsc::channel();
        let repaint = self.repaint.clone();
        let spawned = std::thread::Builder::new()
            .name("itlm-decode".into())
            .spawn(move || {
                let r = image::open(&file)
                    .map(|img| {
                        // Large originals are shown at most 768 px wide/high.
                        let img = if img.width() > 768 || img.height() > 768 {
                            img.thumbnail(768, 768)
                        } else {
                            img
                        };
                        let rgba = img.to_rgba8();
                        let (w, h) = (rgba.width() as usize, rgba.height() as usize);
                        (w, h, rgba.into_raw())
                    })
                    .map_err(|e| format!("{}: {e}", file.display()));
                let _ = tx.send(r);
                repaint();
            });
        self.original = Some(Original {
            index: i,
            rgba: None,
            error: None,
            rx: spawned.ok().map(|_| rx),
        });
    }

    fn poll_original(&mut self) {
        let Some(o) = self.original.as_mut() else {
            return;
        };
        let Some(rx) = &o.rx else { return };
        match rx.try_recv() {
            Ok(Ok(img)) => {
                o.rgba = Some(img);
                o.rx = None;
            }
            Ok(Err(e)) => {
                o.error = Some(e);
                o.rx = None;
            }
            Err(TryRecvError::Empty) => {}
            Err(TryRecvError::Disconnected) => o.rx = None,
        }
    }

    // ---------------------------------------------------------------- dialogs

    /// Open a native dialog on its own thread (the XDG portal may be missing or slow).
    pub fn open_dialog(&mut self, purpose: DialogPurpose) {
        if self.dialog.is_some() {
            self.info("A file dialog is already open.");
            return;
        }
        let (tx, rx) = mpsc::channel();
        let repaint = self.repaint.clone();
        let start_dir = match purpose {
            DialogPurpose::OpenFolder | DialogPurpose::OpenRun | DialogPurpose::EvalPath(_) => self
                .settings
                .recent
                .first()
                .and_then(|p| p.parent())
                .map(Path::to_path_buf),
            DialogPurpose::ExportTarget(_) => self.settings.export_dir.clone(),
        };
        let spawned = std::thread::Builder::new()
            .name("itlm-dialog".into())
            .spawn(move || {
                let mut d = rfd::FileDialog::new();
                if let Some(dir) = start_dir.filter(|d| d.is_dir()) {
                    d = d.set_directory(dir);
                }
                let r = match purpose {
                    DialogPurpose::OpenFolder => d.set_title("Open a dataset folder").pick_folder(),
                    DialogPurpose::OpenRun => d
                        .set_title("Open a saved run")
                        .add_filter("itlm-inspector run", &["itlm"])
                        .pick_file(),
                    DialogPurpose::EvalPath(EvalField::Truth) => d
                        .set_title("Pick the truth.csv")
                        .add_filter("CSV", &["csv"])
                        .pick_file(),
                    DialogPurpose::EvalPath(EvalField::Test) => {
                        d.set_title("Pick the test set folder").pick_folder()
                    }
                    DialogPurpose::EvalPath(EvalField::Test2) => {
                        d.set_title("Pick the test-2 folder").pick_folder()
                    }
                    DialogPurpose::ExportTarget(ExportWhat::All) => {
                        d.set_title("Export into folder").pick_folder()
                    }
                    DialogPurpose::ExportTarget(w) => d
                        .set_title("Export to file")
                        .set_file_name(w.file_name().unwrap_or("export"))
                        .save_file(),
                };
                let _ = tx.send(r);
                repaint();
            });
        match spawned {
            Ok(_) => {
                self.dialog = Some(Dialog {
                    purpose,
                    started: Instant::now(),
                    rx,
                })
            }
            Err(e) => self.error(format!("Cannot open the file dialog: {e}")),
        }
    }

    /// Stop waiting for a dialog that does not answer.
    pub fn forget_dialog(&mut self) {
        self.dialog = None;
    }

    fn poll_dialog(&mut self) {
        let Some(d) = &self.dialog else { return };
        let r = match d.rx.try_recv() {
            Ok(r) => r,
            Err(TryRecvError::Empty) => return,
            Err(TryRecvError::Disconnected) => None,
        };
        let quick = d.started.elapsed().as_secs_f64() < 1.0;
        let purpose = d.purpose;
        self.dialog = None;
        match (r, purpose) {
            (Some(p), DialogPurpose::OpenFolder | DialogPurpose::OpenRun) => self.open_path(p),
            (Some(p), DialogPurpose::EvalPath(f)) => {
                *self.eval.field_mut(f) = p.display().to_string();
            }
            (Some(p), DialogPurpose::ExportTarget(w)) => {
                self.export.open = Some(w);
                self.export.target = p.display().to_string();
                self.export.confirm = None;
            }
            (None, _) if quick => self.error(
                "The file dialog did not open (no desktop portal or zenity answered). \
                 Type the path in the field instead.",
            ),
            (None, _) => {}
        }
    }

    // ---------------------------------------------------------------- export

    /// The run as a run file, with the verdict of the selected round at the slider's tau.
    pub fn run_file(&mut self) -> Option<RunFile> {
        let cut = self.cut()?;
        let run = self.run.as_ref()?;
        let data = self.data.as_ref()?;
        let status = match &run.status {
            RunStatus::Finished => "finished".to_string(),
            RunStatus::Stopped => "stopped".to_string(),
            RunStatus::Failed(m) => format!("failed: {m}"),
            _ => "in progress".to_string(),
        };
        Some(RunFile {
            config: run.config.clone(),
            learner: run.learner.clone(),
            learner_description: run.learner_description.clone(),
            dataset: match &data.reopened {
                // Without its images the stand-in set has no real shape or source.
                Some(r) if r.images_missing.is_some() => r.run.dataset.clone(),
                // With the evaluation sets it read: no export may go inside them either.
                _ => DatasetInfo::of(&data.train)
                    .with_eval(data.test.iter().chain(&data.test2).map(|d| &**d)),
            },
            truth: data.truth.as_deref().cloned(),
            rounds: run.history.clone(),
            status,
            verdict: Some(Verdict {
                round: cut.record.round,
                tau: cut.tau,
                kept: cut.kept.clone(),
            }),
            elapsed_secs: run.elapsed_secs,
        })
    }

    /// Open the export window for `what` with a sensible default target.
    pub fn begin_export(&mut self, what: ExportWhat) {
        let name = self
            .data
            .as_ref()
            .map(|d| d.train.name.clone())
            .unwrap_or_else(|| "dataset".into());
        let current = self.data.as_ref().map(|d| d.path.clone());
        let base = match &self.settings.export_dir {
            // This dataset's last export folder.
            Some(dir) if current.is_some() && self.settings.export_dataset == current => {
                dir.clone()
            }
            // Another dataset's: a sibling folder named after this one.
            Some(dir) => dir.parent().unwrap_or(dir).join(&name),
            None => std::env::var_os("HOME")
                .map(PathBuf::from)
                .unwrap_or_else(|| PathBuf::from("."))
                .join("itlm-inspector")
                .join(&name),
        };
        let target = match what.file_name() {
            Some(f) => base.join(f),
            None => base,
        };
        self.export.open = Some(what);
        self.export.target = target.display().to_string();
        self.export.confirm = None;
    }

    /// Write the export the window describes. Refuses the dataset folder; asks before
    /// replacing files unless `overwrite` allows it. The writing runs on a thread.
    pub fn export_now(&mut self, overwrite: Overwrite) {
        let Some(what) = self.export.open else { return };
        let target = PathBuf::from(self.export.target.trim());
        if target.as_os_str().is_empty() {
            self.error("Export: type where to write.");
            return;
        }
        let Some(run) = self.run_file() else {
            self.error("Export: no finished round yet.");
            return;
        };
        if let Err(e) = export::check_outside_datasets(&target, run.dataset.sources()) {
            self.error(format!("Export refused: {e}"));
            return;
        }
        if overwrite == Overwrite::Refuse {
            let existing = what.existing(&target);
            if !existing.is_empty() {
                self.export.confirm = Some(existing);
                return;
            }
        }
        self.export.confirm = None;
        let dir = match what {
            ExportWhat::All => Some(target.clone()),
            _ => target.parent().map(Path::to_path_buf),
        };
        if let Some(d) = dir.filter(|d| !d.as_os_str().is_empty()) {
            self.settings.export_dir = Some(d);
            self.settings.export_dataset = self.data.as_ref().map(|d| d.path.clone());
        }
        let (tx, rx) = mpsc::channel();
        let repaint = self.repaint.clone();
        let spawned = std::thread::Builder::new()
            .name("itlm-export".into())
            .spawn(move || {
                let r =
                    write_export(what, &target, &run).map_err(|e| format!("Export failed: {e}"));
                let _ = tx.send(r);
                repaint();
            });
        match spawned {
            Ok(_) => self.export.running = Some(rx),
            Err(e) => self.error(format!("Cannot start the export: {e}")),
        }
    }

    fn poll_export(&mut self) {
        let Some(rx) = &self.export.running else {
            return;
        };
        let r = match rx.try_recv() {
            Ok(r) => r,
            Err(TryRecvError::Empty) => return,
            Err(TryRecvError::Disconnected) => Err("Export stopped unexpectedly.".into()),
        };
        self.export.running = None;
        match r {
            Ok(files) => {
                self.info(format!(
                    "Exported {}",
                    files
                        .iter()
                        .map(|f| f.display().to_string())
                        .collect::<Vec<_>>()
                        .join(", ")
                ));
                self.export.last_written = files;
                self.export.open = None;
            }
            Err(e) => self.error(e),
        }
    }

    /// Whether an export is being written.
    pub fn exporting(&self) -> bool {
        self.export.running.is_some()
    }
}

/// Whether two paths name the same file or folder.
fn same_path(a: &Path, b: &Path) -> bool {
    let canon = |p: &Path| std::fs::canonicalize(p).unwrap_or_else(|_| p.to_path_buf());
    a == b || canon(a) == canon(b)
}

/// Load a dataset with its test sets and truth exactly as the CLI does (`cli::prepare`).
fn load_dataset(
    p: &Path,
    eval: &EvalPaths,
    limit: Option<usize>,
    seed: u64,
) -> Result<Loaded, String> {
    let t0 = Instant::now();
    let (test, test2, truth) = (eval.test(), eval.test2(), eval.truth());
    let pr = cli::prepare(
        p,
        test.as_deref(),
        eval.no_test,
        test2.as_deref(),
        truth.as_deref(),
        limit,
        seed,
    )
    .map_err(|e| format!("Cannot open {}: {e}", p.display()))?;
    let test_from = pr.test.as_ref().map(|_| match &test {
        Some(t) => t.display().to_string(),
        None => super::eval_paths::auto_test_name(&pr.train.source),
    });
    let test2_from = pr.test2_path.as_ref().map(|t| {
        if test2.is_some() {
            t.display().to_string()
        } else {
            format!("{} (auto)", t.display())
        }
    });
    let truth_from = pr.truth.as_ref().map(|_| match truth {
        Some(t) => t.display().to_string(),
        None => crate::data::default_truth_path(p).map_or("truth.csv (auto)".into(), |t| {
            format!("{} (auto)", t.display())
        }),
    });
    let bad = pr.truth.as_ref().map(|t| Arc::new(t.bad.clone()));
    let mut l = Loaded::new(p.to_path_buf(), pr.train);
    l.test = pr.test.map(Arc::new);
    l.test2 = pr.test2.map(Arc::new);
    l.truth = pr.truth.map(Arc::new);
    l.bad = bad;
    l.notes = pr.notes;
    l.test_from = test_from;
    l.test2_from = test2_from;
    l.truth_from = truth_from;
    l.eval = eval.clone();
    l.load_secs = t0.elapsed().as_secs_f64();
    Ok(l)
}

fn write_export(what: ExportWhat, target: &Path, run: &RunFile) -> crate::Result<Vec<PathBuf>> {
    if what == ExportWhat::All {
        return export::write_all(target, run, Overwrite::Allow);
    }
    if let Some(parent) = target.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).map_err(|e| crate::Error::io(parent, e))?;
    }
    let bytes = match what {
        ExportWhat::SamplesCsv => export::samples_csv(run)?.into_bytes(),
        ExportWhat::CleanTxt => export::clean_list(run)?.into_bytes(),
        ExportWhat::FlaggedTxt => export::flagged_list(run)?.into_bytes(),
        ExportWhat::RunFile | ExportWhat::All => run.to_bytes()?,
    };
    export::write_atomic(target, &bytes, Overwrite::Allow)?;
    Ok(vec![target.to_path_buf()])
}

/// Drop a worker on another thread: dropping joins it, which can take one batch.
/// (If no thread can be started, the closure and the worker are dropped here instead.)
fn retire(w: Worker) {
    let _ = std::thread::Builder::new()
        .name("itlm-retire".into())
        .spawn(move || drop(w));
}
