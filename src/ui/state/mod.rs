//! The window's state without the window, in parts: opening a dataset or run
//! ([`loading`]), the run and its worker ([`run`]), and what is shown: round, cut, grid and
//! sample ([`selection`]). Every method returns at once; slow work runs on background threads
//! ([`super::pending`]) whose results [`AppState::poll`] collects. Dialogs, decoding originals
//! and exports belong to their panels, not here.

pub mod autosave;
pub mod decide;
pub mod image_checks;
pub mod loading;
pub mod run;
pub mod selection;
pub mod similar;

use crate::learner::ModelKind;
use crate::session::{LearnerFactory, Loaded};

use super::pending::{no_repaint, Repaint};
use super::settings::Settings;
use super::view::{Filter, GridTab, Sort, ViewCache};
use super::TAU_MIN;

pub use autosave::Autosave;
pub use decide::DecisionState;
pub use loading::Loading;
pub use run::{LiveStatus, Run};

/// A message in the error bar.
#[derive(Clone, Debug, PartialEq)]
pub struct Message {
    pub error: bool,
    pub text: String,
    /// A file the message offers to open (an "Open it" button).
    pub open: Option<std::path::PathBuf>,
    /// A folder the message offers to read as unlabelled images (an "Open as unlabelled
    /// images" button).
    pub unlabelled: Option<std::path::PathBuf>,
}

pub struct AppState {
    pub settings: Settings,
    pub loading: Option<Loading>,
    /// A labels CSV that did not load for want of its path or label column: the column
    /// picker asks ([`crate::ui::column_pick`]).
    pub columns_wanted: Option<crate::ui::column_pick::ColumnsWanted>,
    /// A labels CSV none of whose files was found where its paths point: the images
    /// folder picker asks where they are.
    pub images_wanted: Option<crate::ui::images_pick::ImagesWanted>,
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
    pub sort: Sort,
    /// Replaces the candle learner (tests).
    pub factory: Option<LearnerFactory>,
    /// Start a run as soon as a dataset has loaded.
    pub autostart: bool,
    /// The model chosen for this session (environment); saved per-dataset settings keep it.
    pub pinned_model: Option<ModelKind>,
    /// Where the runs it trains are saved.
    pub autosave: Autosave,
    /// The user's decisions on the open dataset's samples.
    pub decide: DecisionState,
    /// The label-noise rate round 0's model implies (confident joint), for the suggested tau.
    pub noise_estimate: Option<f64>,
    /// The noise rate the shown run chose its tau from (tau from the data; out-of-fold for a
    /// head on embeddings, whose round-0 model fits the wrong labels too): the tau hint
    /// follows it where there is one. A reopened run's is 1 - its tau when that tau is the one
    /// it chose.
    pub chosen_noise: Option<f64>,
    /// The next job continues the shown run in its own run file (a step after decisions
    /// made while it was paused), instead of starting the next `run-NNN.itlm`.
    pub(crate) continue_run_file: bool,
    /// Round 0's label-noise matrix ([`crate::itlm::transition::estimate`]), for the
    /// forward-correction hint.
    pub flips: Option<Vec<f32>>,
    /// Backbone embeddings of the training samples (n x dim), when a run computed them: the
    /// embedding map projects these instead of the class probabilities.
    pub embeddings: Option<std::sync::Arc<crate::learner::head::FeatureMatrix>>,
    /// Duplicates and outliers found from [`Self::embeddings`].
    pub similar: Option<similar::Found>,
    similar_search: Option<similar::Search>,
    embeddings_read: Option<similar::CacheRead>,
    /// The open dataset's image checks, once done.
    pub image_checks: Option<image_checks::Checked>,
    image_check_task: Option<image_checks::CheckTask>,
    noise_of: usize,
    view: ViewCache,
    repaint: Repaint,
}

impl AppState {
    pub fn new(settings: Settings, repaint: Repaint) -> Self {
        Self {
            settings,
            loading: None,
            columns_wanted: None,
            images_wanted: None,
            data: None,
            generation: 0,
            run: None,
            messages: Vec::new(),
            selected_round: None,
            follow_latest: true,
            selected_sample: None,
            tab: GridTab::default(),
            filter: Filter::default(),
            sort: Sort::default(),
            factory: None,
            autostart: false,
            pinned_model: None,
            autosave: Autosave::default(),
            decide: DecisionState::default(),
            noise_estimate: None,
            chosen_noise: None,
            continue_run_file: false,
            flips: None,
            embeddings: None,
            similar: None,
            similar_search: None,
            embeddings_read: None,
            image_checks: None,
            image_check_task: None,
            noise_of: 0,
            view: ViewCache::default(),
            repaint,
        }
    }

    /// A state whose background threads wake nobody (tests, headless use).
    pub fn headless(settings: Settings) -> Self {
        Self::new(settings, no_repaint())
    }

    /// What wakes the window when a background task is done.
    pub fn repaint(&self) -> &Repaint {
        &self.repaint
    }

    pub fn error(&mut self, text: impl Into<String>) {
        self.note(Message {
            error: true,
            text: text.into(),
            open: None,
            unlabelled: None,
        });
    }

    /// A note that offers to read the folder `folder` as unlabelled images.
    pub fn info_unlabelled(&mut self, folder: std::path::PathBuf, text: impl Into<String>) {
        self.note(Message {
            error: false,
            text: text.into(),
            open: None,
            unlabelled: Some(folder),
        });
    }

    /// A note that offers to open `file`.
    pub fn info_opening(&mut self, file: std::path::PathBuf, text: impl Into<String>) {
        self.note(Message {
            error: false,
            text: text.into(),
            open: Some(file),
            unlabelled: None,
        });
    }

    pub fn info(&mut self, text: impl Into<String>) {
        self.note(Message {
            error: false,
            text: text.into(),
            open: None,
            unlabelled: None,
        });
    }

    /// Add `m` to the messages unless one of the same text is there.
    fn note(&mut self, m: Message) {
        if !self.messages.iter().any(|k| k.text == m.text) {
            self.messages.push(m);
        }
    }

    /// Dismiss the message at `k` (None: all).
    pub fn dismiss(&mut self, k: Option<usize>) {
        match k {
            Some(k) if k < self.messages.len() => {
                self.messages.remove(k);
            }
            Some(_) => {}
            None => self.messages.clear(),
        }
    }

    /// The slider's tau (also the tau the next run starts with).
    pub fn tau(&self) -> f64 {
        self.settings.config.tau
    }

    pub fn set_tau(&mut self, tau: f64) {
        if tau.is_finite() {
            self.settings.config.tau = tau.clamp(TAU_MIN, 1.0);
            // A tau the user set: the next run keeps it instead of reading its own.
            self.settings.config.tau_from_data = false;
        }
    }

    /// The class the shown round's model predicts for sample `i` (None for a generative run,
    /// which predicts none, or before a round).
    pub fn predicted(&self, i: usize) -> Option<u32> {
        if self.generative() {
            return None;
        }
        self.record()?.predicted.get(i).copied()
    }

    /// Whether the shown run (else the next one) is generative (the VAE).
    pub fn generative(&self) -> bool {
        self.run
            .as_ref()
            .map_or(self.settings.learner.model, |r| r.learner.model)
            == ModelKind::Vae
    }

    /// Collect what background threads produced. Call once per frame; never blocks.
    pub fn poll(&mut self) {
        self.poll_loading();
        self.poll_worker();
        self.poll_similar();
        self.poll_image_checks();
        self.poll_run_embeddings();
        self.poll_autosave();
        self.estimate_noise();
    }

    /// The confident joint of round 0 (once per round-0 record: it reads every probability).
    fn estimate_noise(&mut self) {
        let r0 = self.run.as_ref().and_then(|r| r.history.first());
        let key = r0.map_or(0, |r| std::sync::Arc::as_ptr(r) as usize);
        if key == self.noise_of {
            return;
        }
        self.noise_of = key;
        // One count serves the tau hint (the noise rate) and the forward-correction hint (the
        // matrix); the guards are confident_noise_rate's and transition::estimate's.
        let joint = match (r0, &self.data) {
            (Some(r), Some(d)) => {
                let (n, k) = (d.train.len(), d.train.num_classes());
                (k >= 2 && n > 0 && r.probs.len() == n * k).then(|| {
                    let labels = d.train.labels();
                    (
                        crate::itlm::suggest::ConfidentJoint::count(labels, &r.probs, k, 0..n),
                        n,
                    )
                })
            }
            _ => None,
        };
        self.noise_estimate = joint.as_ref().and_then(|(j, n)| j.noise_rate(*n));
        self.flips = joint
            .as_ref()
            .and_then(|(j, _)| crate::itlm::transition::from_joint(j));
    }
}
