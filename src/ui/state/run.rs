//! The run being shown: starting, pausing, stopping and continuing it on the background worker
//! (`session::worker`), collecting its rounds, and making its run file for an export.

use std::sync::Arc;
use std::time::Instant;

use crate::export::{DatasetInfo, RunFile, RunStatus, Verdict};
use crate::itlm::{Config, RoundRecord};
use crate::learner::LearnerConfig;
use crate::session::{Command, Job, Progress, RunHeader, Worker, WorkerEvent};

use super::super::view::Cut;
use super::AppState;

/// Where the shown run is.
#[derive(Clone, Debug, PartialEq)]
pub enum LiveStatus {
    Starting,
    Running,
    Paused,
    Finished,
    Stopped,
    Failed(String),
}

impl LiveStatus {
    pub fn is_active(&self) -> bool {
        matches!(
            self,
            LiveStatus::Starting | LiveStatus::Running | LiveStatus::Paused
        )
    }

    /// What a run file says of a run in this state.
    pub fn saved(&self) -> RunStatus {
        match self {
            LiveStatus::Finished => RunStatus::Finished,
            LiveStatus::Stopped => RunStatus::Stopped,
            LiveStatus::Failed(m) => RunStatus::Failed(m.clone()),
            LiveStatus::Starting | LiveStatus::Running | LiveStatus::Paused => {
                RunStatus::InProgress
            }
        }
    }
}

impl From<&RunStatus> for LiveStatus {
    /// A saved run's status (one saved while training shows as stopped: nothing trains it).
    fn from(s: &RunStatus) -> Self {
        match s {
            RunStatus::Finished => LiveStatus::Finished,
            RunStatus::Failed(m) => LiveStatus::Failed(m.clone()),
            RunStatus::Stopped | RunStatus::InProgress => LiveStatus::Stopped,
        }
    }
}

/// The run being shown: its configuration, its rounds so far, and the worker if it is alive.
pub struct Run {
    worker: Option<Worker>,
    pub history: Vec<Arc<RoundRecord>>,
    pub config: Config,
    pub learner: LearnerConfig,
    pub learner_description: String,
    pub status: LiveStatus,
    pub progress: Option<Progress>,
    /// Where building the learner is (embedding the images), before round 0 starts.
    pub preparing: Option<crate::session::Preparing>,
    pub started: Instant,
    pub elapsed_secs: f64,
    /// Seconds the rounds it continues from took (a retrain's status times the whole run).
    pub elapsed_before: f64,
    /// The user's decisions this run trains with (None: plain ITLM); its cuts keep them.
    pub pins: Option<Arc<crate::itlm::Pins>>,
    /// The pins and truth of the rounds it continues from, by history index (a round an
    /// earlier run trained keeps the cut and truth that run trained with); the rounds after
    /// them have `pins` and `bad`.
    pub earlier: Vec<Guide>,
    /// The head on EfficientNet-Lite0 embeddings this run trains (None: its model on the
    /// pixels); continuing the run trains the same, whatever the model list says now.
    pub head: Option<crate::learner::head::HeadKind>,
    /// The truly bad samples as this run trained (a sample the user relabelled to its true
    /// label is clean); None: the data's own (`Loaded::bad`).
    pub bad: Option<Arc<Vec<bool>>>,
    /// Stop was pressed: the worker is cancelling and trains no further round, though its
    /// status stays active until it says it ended.
    pub stopping: bool,
}

/// The user's decisions a round trained with, and the truth counted against its labels.
#[derive(Clone, Default)]
pub struct Guide {
    pub pins: Option<Arc<crate::itlm::Pins>>,
    pub bad: Option<Arc<Vec<bool>>>,
}

impl Run {
    /// The pins and truth history round `index` was trained with.
    pub fn guide(&self, index: usize) -> Guide {
        self.earlier.get(index).cloned().unwrap_or_else(|| Guide {
            pins: self.pins.clone(),
            bad: self.bad.clone(),
        })
    }

    /// A run read from a file: nothing trains it.
    pub fn saved(
        history: Vec<Arc<RoundRecord>>,
        config: Config,
        learner: LearnerConfig,
        learner_description: String,
        status: LiveStatus,
        elapsed_secs: f64,
    ) -> Self {
        let head = crate::session::embed_head::lite0_head_of(&learner_description);
        Self {
            head,
            worker: None,
            history,
            config,
            learner,
            learner_description,
            status,
            progress: None,
            preparing: None,
            elapsed_before: 0.0,
            pins: None,
            bad: None,
            earlier: Vec::new(),
            started: Instant::now(),
            elapsed_secs,
            stopping: false,
        }
    }

    /// Whether a worker is training it.
    pub fn is_live(&self) -> bool {
        self.worker.is_some()
    }
}

impl AppState {
    /// Drop the shown run (stopping its worker); what it trained is saved first.
    pub(super) fn stop_and_forget_run(&mut self) {
        self.chosen_noise = None;
        self.flush_autosave();
        if let Some(f) = self.autosave.file.take().filter(|f| f.exists()) {
            self.info(format!(
                "The previous run is saved as {} (Open run... shows it again).",
                f.display()
            ));
        }
        if let Some(mut r) = self.run.take() {
            if let Some(w) = r.worker.take() {
                retire(w);
            }
        }
    }

    /// Why the settings' learner cannot train on the opened set, None when it can: a
    /// classifier on an unlabelled set or one of fewer than two classes with samples
    /// ([`crate::data::Dataset::unclassifiable`]). The generative mode (the VAE) needs no
    /// labels and is never refused.
    pub fn classifier_refused(&self) -> Option<String> {
        if self.settings.learner.model == crate::learner::ModelKind::Vae {
            return None;
        }
        self.data.as_ref()?.train.unclassifiable()
    }

    /// Start a fresh run with the current settings.
    pub fn start(&mut self) {
        self.start_job(Vec::new(), None, false, None);
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
        // Decisions made since the live run started (ticked or unticked since): the next
        // round trains with them, so the run continues anew from its last round.
        let decided_since = self
            .run
            .as_ref()
            .is_some_and(|r| r.pins.as_deref() != self.training_pins().as_ref());
        if live && decided_since && has_rounds {
            self.selected_round = self.run.as_ref().map(|r| r.history.len() - 1);
            self.continue_run_file = true;
            self.retrain(true, None);
            self.continue_run_file = false;
        } else if live && decided_since {
            self.start_job(Vec::new(), None, true, None);
        } else if live {
            self.send(Command::StepOneRound);
        } else if has_rounds {
            // A finished or stopped run: one more round from the shown round and cut.
            self.retrain(true, None);
        } else {
            self.start_job(Vec::new(), None, true, None);
        }
    }

    pub fn pause(&mut self) {
        self.send(Command::Pause);
    }

    pub fn resume(&mut self) {
        self.send(Command::Resume);
    }

    pub fn stop(&mut self) {
        if let Some(r) = self.run.as_mut().filter(|r| r.worker.is_some()) {
            r.stopping = true;
        }
        self.send(Command::Stop);
    }

    fn send(&mut self, c: Command) {
        if let Some(w) = self.run.as_ref().and_then(|r| r.worker.as_ref()) {
            w.send(c);
        }
    }

    /// Continue from the selected round with the slider's cut ("retrain at this tau"): the
    /// next rounds train on the kept set, plainly, also after forward-corrected rounds (whose
    /// rule would train every sample through the matrix, the cut only flagging).
    pub fn retrain_at_tau(&mut self) {
        self.retrain(false, Some(false));
    }

    /// Continue a forward-corrected run from the selected round as it was going: every sample
    /// not excluded, through the label-noise matrix; tau sets only the flags.
    pub fn retrain_forward(&mut self) {
        self.retrain(false, Some(true));
    }

    /// Continue from the selected round's cut; `forward`: train the rounds to come with
    /// (Some(true)) or without (Some(false)) forward correction, where the run forward-
    /// corrected up to that round; None: by the run's rule.
    fn retrain(&mut self, step: bool, forward: Option<bool>) {
        let Some(cut) = self.cut() else {
            self.error("No finished round to retrain from.");
            return;
        };
        let Some(run) = &self.run else { return };
        let history: Vec<Arc<RoundRecord>> = run.history[..=cut.index].to_vec();
        let forward = forward.filter(|_| self.continues_forward());
        // The cut the next rounds start from is made with the decisions they train with (the
        // shown cut has the pins its round trained with: unticked, or decided since, those
        // would have lingered in the first round trained).
        let pins = self.training_pins();
        let kept = if pins.as_ref() == run.guide(cut.index).pins.as_deref() {
            cut.kept.clone()
        } else {
            let rec = &cut.record;
            let (labels, classes) = match &self.data {
                Some(d) => (d.train.labels(), d.train.num_classes()),
                None => return,
            };
            let restores = run.config.restores_at(rec.round);
            let mut kept = crate::itlm::run::select_pinned(
                pins.as_ref(),
                run.config.select,
                &rec.score,
                labels,
                &rec.predicted,
                classes,
                cut.tau,
                restores,
            );
            crate::itlm::clusters::hold_out(&mut kept, &rec.held_out);
            kept
        };
        self.start_job(history, Some(kept), step, forward);
    }

    /// The pins the next rounds train with: the user's decisions, unless they are to be
    /// ignored (None: plain ITLM).
    fn training_pins(&self) -> Option<crate::itlm::Pins> {
        self.trains_with_decisions()
            .then(|| self.decide.decisions.pins())
    }

    /// Whether the next rounds train with the user's decisions: there are some, of this
    /// set, and they are not to be ignored.
    fn trains_with_decisions(&self) -> bool {
        let d = &self.decide.decisions;
        d.counts().decided > 0
            && !self.decide.ignore_in_training
            && self.data.as_ref().is_some_and(|x| d.len() == x.train.len())
    }

    /// Start the worker on `history` (empty: a fresh run) from the cut `kept`; `forward`: the
    /// rounds to come train with or without forward correction (None: as the settings say).
    fn start_job(
        &mut self,
        history: Vec<Arc<RoundRecord>>,
        kept: Option<Vec<bool>>,
        step: bool,
        forward: Option<bool>,
    ) {
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
        if let Some(why) = self.classifier_refused() {
            self.error(format!("Cannot start: {why}."));
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
        match forward {
            Some(true) => config.transition = crate::itlm::Forward::On,
            Some(false) => config.transition = crate::itlm::Forward::Off,
            None => {}
        }
        let plain = forward == Some(false);
        // Continuing from the last round trains (at least) one more.
        config.rounds = config.rounds.max(history.len());
        let mut learner = self.settings.learner.clone();
        // A head on embeddings is a classifier: none for the generative mode.
        let mut head = self
            .settings
            .head
            .filter(|_| learner.model != crate::learner::ModelKind::Vae);
        if let Some(run) = self.run.as_ref().filter(|_| !history.is_empty()) {
            // The rounds to come are trained by the same kind of model (a head, or a model
            // on the pixels), whatever the model list says now.
            learner.model = run.learner.model;
            head = run.head;
        }
        if let Err(e) = config.validate().and_then(|_| learner.validate()) {
            self.error(format!("Cannot start: {e}"));
            return;
        }
        if data.reopened.is_none() && data.path.exists() {
            let path = data.path.clone();
            self.settings.remember_for(&path);
            self.settings.belong_to = Some(path);
        }
        let Some(data) = &self.data else { return };
        let rare = crate::itlm::imbalance::rare_classes(
            data.train.labels(),
            &data.train.classes,
            config.tau,
            config.select,
        );
        let decided = self.decide.decisions.counts();
        let guide = self.trains_with_decisions();
        let (train, pins) = if guide {
            let (t, pins) =
                crate::session::prepare::guided(&data.train, Some(&self.decide.decisions));
            let t = match t {
                std::borrow::Cow::Owned(t) => Arc::new(t),
                std::borrow::Cow::Borrowed(_) => data.train.clone(),
            };
            (t, pins)
        } else {
            (data.train.clone(), None)
        };
        let mut job = Job::new(train, config.clone(), learner.clone());
        job.pins = pins.clone();
        job.test = data.test.clone();
        job.test2 = data.test2.clone();
        // A sample the user relabelled to its true label trains clean: the truth counts it so.
        job.bad = match (&data.truth, guide) {
            (Some(t), true) => Some(Arc::new(
                t.bad_as_trained(data.train.labels(), job.data.labels()),
            )),
            _ => data.bad.clone(),
        };
        let bad = job.bad.clone();
        job.truth = data.truth.clone();
        job.history = history.clone();
        job.kept = kept;
        job.step = step;
        job.factory = self.factory.clone();
        let mut head_note = None;
        if let (Some(kind), None) = (head, &job.factory) {
            job.factory = Some(head_factory(
                kind,
                learner.clone(),
                job.test.clone(),
                job.test2.clone(),
            ));
            head_note = Some(format!(
                "A {kind} head on EfficientNet-Lite0 embeddings: the images are embedded first \
                 (cached in {} for the next runs), then each round trains the head.",
                crate::session::embed_cache::cache_dir()
                    .map(|d| d.display().to_string())
                    .unwrap_or_else(|e| format!("no cache: {e}"))
            ));
        }
        let trains_head = head_note.is_some();
        // The rounds it continues from keep what they were trained with.
        let earlier: Vec<Guide> = match &self.run {
            Some(r) => (0..history.len()).map(|i| r.guide(i)).collect(),
            None => Vec::new(),
        };
        let repaint = self.repaint().clone();
        let name = data.train.name.clone();
        let elapsed_before = match &self.run {
            Some(r) if !history.is_empty() => r.elapsed_secs,
            _ => 0.0,
        };
        let backdoor_warning = crate::presets::is_backdoor_protocol(&config)
            .then(|| crate::presets::backdoor_size_warning(data.train.len()))
            .flatten();
        // The rounds to come forward-correct: every sample not excluded trains, tau only flags.
        let forwards = config.coteach.is_none() && config.forwards_after(&history);
        // A continued run keeps the tau its round 0 chose, and the noise it read.
        let chosen_noise = self.chosen_noise.filter(|_| !history.is_empty());
        // A step that continues the paused run with new decisions writes on in its file.
        let same_file = std::mem::take(&mut self.continue_run_file) && !history.is_empty();
        let file = if same_file {
            self.flush_autosave();
            self.autosave.file.take()
        } else {
            None
        };
        self.stop_and_forget_run();
        self.autosave.file = file;
        self.chosen_noise = chosen_noise;
        match Worker::spawn(job, move || repaint()) {
            Ok(w) => {
                self.run = Some(Run {
                    worker: Some(w),
                    history,
                    config,
                    learner,
                    learner_description: String::new(),
                    status: LiveStatus::Starting,
                    progress: None,
                    preparing: None,
                    started: Instant::now(),
                    elapsed_secs: elapsed_before,
                    elapsed_before,
                    pins: pins.map(Arc::new),
                    head: head.filter(|_| trains_head),
                    bad,
                    earlier,
                    stopping: false,
                });
                self.follow_latest = true;
                self.messages.retain(|m| !m.error);
                if let Some(w) = rare {
                    self.info(w);
                }
                if let Some(w) = backdoor_warning {
                    self.info(format!("Note: {w}."));
                }
                if let Some(n) = head_note {
                    self.info(n);
                }
                if guide && forwards {
                    self.info(format!(
                        "Training with your decisions, forward-corrected: {} excluded never train; every other sample trains through the label-noise matrix, your {} kept and {} relabelled plainly (relabelled ones with their new class); tau sets only the flags.",
                        decided.excluded, decided.kept, decided.relabelled
                    ));
                } else if guide {
                    self.info(format!(
                        "Training with your decisions: {} excluded never train; {} kept and {} relabelled stay in the kept set and count toward tau's share.",
                        decided.excluded, decided.kept, decided.relabelled
                    ));
                }
                if plain {
                    self.info(
                        "Retraining at this tau: the rounds to come train plainly on the kept set, without forward correction (\"Retrain forward-corrected\" trains every sample through the label-noise matrix).",
                    );
                }
                if self.autosave.root.is_some() && !same_file {
                    if let Err(e) = self.autosave.new_run(&name) {
                        self.error(format!("This run will not be saved: {e}"));
                    }
                }
            }
            Err(e) => self.error(format!("Cannot start the run: {e}")),
        }
    }

    pub(super) fn poll_worker(&mut self) {
        let Some(run) = self.run.as_mut() else { return };
        let Some(worker) = run.worker.as_ref() else {
            return;
        };
        let mut errors = Vec::new();
        let mut notes = Vec::new();
        let mut new_round = false;
        let mut embedded = None;
        // Bounded: a flood of events is finished next frame.
        for _ in 0..512 {
            let Some(e) = worker.try_recv() else { break };
            match e {
                WorkerEvent::Started { learner } => {
                    if let Some(p) = run.preparing.take() {
                        notes.push(format!(
                            "Embeddings ready after {}: round 0 starts ({learner}).",
                            crate::ui::controls::secs(p.elapsed_secs),
                        ));
                    }
                    run.learner_description = learner;
                    run.status = LiveStatus::Running;
                }
                WorkerEvent::Preparing(p) => {
                    run.elapsed_secs = run.elapsed_before + p.elapsed_secs;
                    run.preparing = Some(p);
                }
                WorkerEvent::Embeddings(m) => embedded = Some(m),
                WorkerEvent::Note(n) => notes.push(n),
                WorkerEvent::Progress(p) => {
                    run.elapsed_secs = run.elapsed_before + p.elapsed_secs;
                    run.progress = Some(p);
                }
                WorkerEvent::RoundDone(r) => {
                    if let Some(d) = &self.data {
                        notes.extend(crate::itlm::imbalance::emptied_classes(
                            &r.kept,
                            d.train.labels(),
                            &d.train.classes,
                        ));
                    }
                    // Round 0 chose no tau (a generative learner, or a model that learned
                    // nothing): the run's tau is the one set, and its file says so.
                    if r.round == 0 && self.chosen_noise.is_none() {
                        run.config.tau_from_data = false;
                    }
                    run.history.push(r);
                    new_round = true;
                    self.autosave.dirty = true;
                }
                WorkerEvent::Switched { config, learner } => {
                    // Auto read heavy random noise off round 0: co-teaching from the start,
                    // at the tau the noise estimate gave (the slider follows: its cut is the
                    // run's, and the next run starts from it).
                    self.settings.config.tau = config.tau.clamp(crate::ui::TAU_MIN, 1.0);
                    run.config = *config;
                    run.learner_description = learner;
                    run.history.clear();
                    self.selected_round = None;
                    self.autosave.dirty = true;
                }
                WorkerEvent::TauChosen {
                    tau,
                    noise,
                    excluded,
                } => {
                    // The share the cut flags: the noise of the samples not excluded, and
                    // the excluded ones besides (the tau hint then offers the run's tau).
                    self.chosen_noise = Some(if excluded > 0 { 1.0 - tau } else { noise });
                    // The slider follows the tau the run chose (its cuts are the run's); the
                    // next run reads its own round 0 again while "from the data" is on.
                    self.settings.config.tau = tau.clamp(crate::ui::TAU_MIN, 1.0);
                    run.config.tau = tau;
                    self.autosave.dirty = true;
                }
                WorkerEvent::Paused => run.status = LiveStatus::Paused,
                WorkerEvent::Resumed => run.status = LiveStatus::Running,
                WorkerEvent::Ended(end) => {
                    run.elapsed_secs = run.elapsed_before + run.started.elapsed().as_secs_f64();
                    if let RunStatus::Failed(m) = &end {
                        errors.push(format!("The run failed: {m}"));
                    }
                    run.status = LiveStatus::from(&end);
                    run.progress = None;
                    run.preparing = None;
                    self.autosave.dirty = true;
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
        if let Some(m) = embedded {
            self.set_embeddings(m);
        }
        for n in notes {
            self.info(n);
        }
    }

    /// The run as a run file, with `cut` (the shown round at the slider's tau) as its verdict
    /// (None: the last round's own cut).
    pub fn run_file(&self, cut: Option<&Cut>) -> Option<RunFile> {
        let run = self.run.as_ref()?;
        let data = self.data.as_ref()?;
        let mut header = RunHeader::new(
            &run.config,
            &run.learner,
            run.learner_description.clone(),
            &data.train,
            data.test.iter().chain(&data.test2).map(|d| &**d),
            data.truth.as_deref(),
        );
        // The truth as the run trained (a sample the user relabelled to its true label is
        // clean), as its rounds' metrics counted it: a reopened run then cuts the same way.
        if let (Some(t), Some(b)) = (header.truth.as_mut(), &run.bad) {
            if b.len() == t.bad.len() {
                t.bad.clone_from(b);
            }
        }
        if let Some(r) = data
            .reopened
            .as_ref()
            .filter(|r| r.images_missing.is_some())
        {
            // Without its images the stand-in set has no real shape or source.
            header.dataset = DatasetInfo::clone(&r.run.dataset);
        }
        Some(header.run_file(
            run.history.clone(),
            run.status.saved(),
            cut.map(|cut| Verdict {
                round: cut.record.round,
                tau: cut.tau,
                kept: cut.kept.clone(),
            }),
            run.elapsed_secs,
        ))
    }
}

/// Drop a worker on another thread: dropping joins it, which can take one batch.
/// (If no thread can be started, the closure and the worker are dropped here instead.)
fn retire(w: Worker) {
    let _ = std::thread::Builder::new()
        .name("itlm-retire".into())
        .spawn(move || drop(w));
}

/// A learner factory for the worker: the `kind` head on EfficientNet-Lite0 embeddings of the
/// training set it is given and of the evaluation sets (computed in the worker through the
/// embedding cache, so a second run reads them back).
fn head_factory(
    kind: crate::learner::head::HeadKind,
    lcfg: LearnerConfig,
    test: Option<Arc<crate::data::Dataset>>,
    test2: Option<Arc<crate::data::Dataset>>,
) -> crate::session::LearnerFactory {
    use crate::session::embed_head::{build_head, EmbeddingSource};
    Arc::new(
        move |train: &crate::data::Dataset, b: &mut crate::session::Building<'_>| {
            let mut p = crate::session::Prepared {
                train: train.clone(),
                test: test.as_deref().cloned(),
                test_beside: None,
                test2: test2.as_deref().cloned(),
                test2_path: None,
                truth: None,
                notes: Vec::new(),
                decisions: None,
                journal: None,
            };
            let source = EmbeddingSource::Backbone {
                kind: crate::learner::backbone::BackboneKind::EfficientNetLite0,
                weights: None,
                resolution: None,
            };
            let cache = crate::session::embed_cache::EmbedCache::from_env()?;
            let built = build_head(
                &mut p,
                &source,
                kind,
                &lcfg,
                &cache,
                &mut |set, done, total| b.progress(&format!("embedding {set}"), done, total),
            )?;
            b.embeddings = Some(Arc::new(built.train_embeddings));
            b.notes.append(&mut p.notes);
            Ok(Box::new(built.head) as Box<dyn crate::itlm::Learner>)
        },
    )
}
