//! Opening a dataset or a saved run off the UI thread, as the CLI does (`session`), and what a
//! newly shown dataset brings: its remembered settings, the demo's recommended ones, a reopened
//! run's rounds and cut.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::data::LoadProgress;

use crate::learner::ModelKind;
use crate::session::{self, DataRequest, EvalInputs, Loaded, Reopened};

use super::super::pending::{Pending, Polled};
use super::run::{LiveStatus, Run};
use super::AppState;
use crate::ui::TAU_MIN;

/// What the window says when it opens an unlabelled set (a flat folder of images).
pub const UNLABELLED_OPENED: &str = "Unlabelled set (images directly in its folder, no class \
     subfolders): the generative mode is chosen, a VAE that ranks the images without labels. \
     The classify mode needs labels: class subfolders (root/<class>/<image>) or a labels CSV.";

/// What the window says when it opens a folder the user chose to read as unlabelled images.
pub const UNLABELLED_CHOSEN: &str = "Read as unlabelled images (every image under the folder, \
     subfolders included, in no class): the generative mode is chosen, a VAE that ranks the \
     images without labels. The folder's summary line reads it by its class folders again.";

/// The newest run saved for a dataset, and how many samples its journal decides ([`super::autosave::previous`]).
type Previous = Option<(PathBuf, usize)>;

/// Why a load failed: what to say, and for a labels CSV none of whose files was found, the
/// folder they were looked for in ([`crate::data::labels_csv::images_elsewhere`]).
type Failed = (String, Option<PathBuf>);

/// A load in progress.
pub struct Loading {
    pub path: PathBuf,
    task: Pending<Result<(Loaded, Previous), Failed>>,
    /// The files read so far, of those found.
    progress: Arc<LoadProgress>,
}

impl Loading {
    pub fn elapsed_secs(&self) -> f64 {
        self.task.elapsed_secs()
    }

    /// What the loading line says: how long, and for an image folder how far it has got
    /// and about how long is left.
    pub fn status(&self) -> String {
        self.progress
            .snapshot()
            .line(&self.path.display().to_string(), self.elapsed_secs())
    }
}

/// Whether two paths name the same file or folder: written alike, or resolving to one
/// ([`crate::export::same_file`]; a path that does not exist equals only itself).
pub fn same_path(a: &Path, b: &Path) -> bool {
    a == b || crate::export::same_file(a, b)
}

impl AppState {
    /// Load `path` (a dataset, or a run file) with the evaluation inputs `eval` on a background
    /// thread, exactly as the CLI does.
    pub fn open_path(&mut self, path: impl Into<PathBuf>, eval: EvalInputs) {
        let path: PathBuf = path.into();
        if path.as_os_str().is_empty() {
            self.error("Type a dataset folder in the path field first.");
            return;
        }
        let progress = Arc::new(LoadProgress::default());
        let req = DataRequest {
            path: path.clone(),
            eval,
            limit: self.settings.limit,
            seed: self.settings.config.seed,
            progress: Some(progress.clone()),
            columns: self.settings.columns_for(&path),
            unlabelled: path.is_dir() && self.settings.unlabelled_for(&path),
        };
        self.columns_wanted = None;
        self.images_wanted = None;
        let runs_root = self.autosave.root.clone();
        let task = Pending::spawn("itlm-load", self.repaint(), move || {
            if session::reopen::is_run_file(&req.path) {
                session::reopen::load_counted(&req.path, &req.eval, req.progress.clone())
                    .map(|l| (l, None))
            } else {
                // The saved runs of this dataset are looked up here, off the UI thread.
                session::open_dataset(&req).map(|l| {
                    let previous = runs_root
                        .as_deref()
                        .and_then(|root| super::autosave::previous(root, &req.path, &l.train));
                    (l, previous)
                })
            }
            .map_err(|e| {
                // Where a labels CSV's files are all missing, the window asks for their folder.
                let elsewhere = crate::data::labels_csv::is_labels_csv(&req.path)
                    .then(|| crate::data::labels_csv::images_elsewhere(&req.path, &req.columns))
                    .flatten();
                (e.to_string(), elsewhere)
            })
        });
        match task {
            Ok(task) => {
                self.loading = Some(Loading {
                    path,
                    task,
                    progress,
                })
            }
            Err(e) => self.error(format!("Cannot start loading: {e}")),
        }
    }

    pub(super) fn poll_loading(&mut self) {
        let Some(l) = &self.loading else { return };
        let r = match l.task.poll() {
            Polled::Waiting => return,
            Polled::Done(r) => r,
            Polled::Lost(why) => Err((format!("Cannot open {}: {why}", l.path.display()), None)),
        };
        let path = self.loading.take().map(|l| l.path).unwrap_or_default();
        match r {
            Ok((loaded, previous)) => self.show_loaded(loaded, previous),
            Err((e, elsewhere)) => {
                self.columns_wanted = self.columns_wanted(&path);
                self.images_wanted = elsewhere.map(|tried| crate::ui::images_pick::ImagesWanted {
                    columns: self.settings.columns_for(&path),
                    path,
                    tried,
                    change: false,
                });
                self.error(e)
            }
        }
    }

    /// Ask for another images folder for the opened labels CSV (not a reopened run, which
    /// reads its set as it was saved): the picker, whose folder reloads the CSV with it and
    /// is remembered for the file. The opened set stays until the reload succeeds.
    pub fn change_images_folder(&mut self) {
        let Some(d) = self.data.as_ref().filter(|d| d.reopened.is_none()) else {
            return;
        };
        let crate::data::Source::LabelsCsv { file } = &d.train.source else {
            return;
        };
        self.images_wanted = Some(crate::ui::images_pick::ImagesWanted {
            path: file.clone(),
            tried: d.train.columns.root(file),
            columns: d.train.columns.clone(),
            change: true,
        });
    }

    /// When `path` is a labels CSV whose header lacks a path or a label column (by name, or
    /// as chosen before), what the column picker offers.
    fn columns_wanted(&self, path: &Path) -> Option<crate::ui::column_pick::ColumnsWanted> {
        if !crate::data::labels_csv::is_labels_csv(path) || !path.is_file() {
            return None;
        }
        let given = self.settings.columns_for(path);
        let (names, path_col, label_col) = crate::data::labels_csv::header(path, &given).ok()?;
        let found = matches!((path_col, label_col), (Some(p), Some(l)) if p != l);
        (!found && names.len() >= 2).then(|| crate::ui::column_pick::ColumnsWanted {
            path: path.to_path_buf(),
            names,
            path_col,
            label_col,
        })
    }

    /// Show an already loaded dataset (in-memory sets, tests).
    pub fn open_loaded(&mut self, l: Loaded) {
        self.show_loaded(l, None);
    }

    /// What a finished load does: show the dataset, and offer `previous`, its newest saved run.
    fn show_loaded(&mut self, l: Loaded, previous: Previous) {
        // What was said of the last dataset is not about this one.
        self.messages.clear();
        self.stop_and_forget_run();
        if l.path.exists() {
            self.settings.remember(&l.path);
        }
        let reopened = l.reopened.clone();
        // (Reloading the open dataset, e.g. with other test paths, keeps the user's edits.)
        let reload = self
            .data
            .as_ref()
            .is_some_and(|d| same_path(&d.path, &l.path));
        if reopened.is_none() && !reload {
            self.apply_dataset_settings(&l.path);
        }
        if let Some(w) = crate::data::empty_classes::warning(&l.train) {
            self.info(w);
        }
        // A flat folder of images has no labels: only the generative mode ranks it.
        if reopened.is_none()
            && l.train.is_unlabelled()
            && self.settings.learner.model != ModelKind::Vae
        {
            self.settings.make_generative();
            self.info(if self.settings.unlabelled_for(&l.path) {
                UNLABELLED_CHOSEN
            } else {
                UNLABELLED_OPENED
            });
        }
        // One class folder beside loose images: nothing to classify; offer the other reading.
        if reopened.is_none() {
            if let Some(note) = l.train.one_class_note() {
                self.info_unlabelled(l.path.clone(), note);
            }
        }
        match &reopened {
            Some(r) => self.autosave.reopened(&r.file),
            None if !reload => {
                self.autosave.new_dataset(&l.path);
                if let Some((file, decisions)) = previous {
                    self.info_opening(
                        file.clone(),
                        format!(
                            "This dataset has a saved run{}: {}",
                            if decisions > 0 {
                                format!(" with {}", crate::plural(decisions, "decided sample"))
                            } else {
                                String::new()
                            },
                            file.display()
                        ),
                    );
                }
            }
            None => {}
        }
        self.data = Some(l);
        self.generation += 1;
        self.embeddings = None;
        self.similar = None;
        self.check_images();
        self.reset_decisions();
        self.selected_round = None;
        self.selected_sample = None;
        self.filter = Default::default();
        self.view.clear();
        if let Some(r) = reopened {
            self.show_reopened(&r);
            if r.images_missing.is_none() {
                self.read_run_embeddings(&r.run.learner_description);
            }
        } else if self.autostart {
            self.autostart = false;
            self.start();
        }
    }

    /// The run settings for a newly opened dataset: those last used on it; for the demo set
    /// (never used before), its recommended settings; for another set, the defaults when the
    /// current settings belong to a dataset (its own or the demo's), else the current ones.
    fn apply_dataset_settings(&mut self, path: &Path) {
        let keep_model = self.pinned_model;
        let belonged = self.settings.belong_to.replace(path.to_path_buf());
        if let Some(saved) = self.settings.saved_for(path).cloned() {
            self.settings.config = saved.config;
            self.settings.learner = saved.learner;
            self.settings.head = saved.head;
        } else if crate::ui::demo_dir().is_some_and(|d| same_path(&d, path)) {
            let (config, learner) = crate::presets::demo();
            self.settings.head = None;
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
        } else if let Some(other) = belonged.filter(|b| !same_path(b, path)) {
            let seed = self.settings.config.seed;
            let device = self.settings.learner.device;
            self.settings.config = crate::itlm::Config {
                seed,
                ..crate::itlm::Config::user_default()
            };
            self.settings.learner = crate::learner::LearnerConfig {
                device,
                ..Default::default()
            };
            self.settings.head = None;
            self.info(format!(
                "New dataset: the default run settings (the settings of {}, the dataset opened \
                 before, stay with it).",
                other.file_name().map_or_else(
                    || other.display().to_string(),
                    |n| n.to_string_lossy().into_owned()
                )
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
        let verdict = run.verdict();
        self.settings.config = run.config.clone();
        self.settings.learner = run.learner.clone();
        // A head on Lite0's embeddings is the learner the run trained (and a retrain trains it
        // again); a model from scratch clears a head chosen before.
        self.settings.head = crate::session::embed_head::lite0_head_of(&run.learner_description);
        if run.learner.model != ModelKind::Vae {
            self.settings.classifier = run.learner.model;
        }
        if let Some(v) = &verdict {
            self.set_tau(v.tau);
        }
        // A run that chose its tau from the data, shown at that tau, still did: the checkbox
        // stays ticked and the hint reads the run's own noise estimate (1 - its tau), as when
        // the run was live.
        let chose = run.config.tau_from_data
            && verdict
                .as_ref()
                .is_none_or(|v| (v.tau - run.config.tau).abs() < 1e-9);
        self.settings.config.tau_from_data = chose;
        let selected = verdict
            .as_ref()
            .and_then(|v| run.rounds.iter().position(|x| x.round == v.round))
            .or_else(|| run.rounds.len().checked_sub(1));
        self.run = Some(Run::saved(
            run.rounds.clone(),
            run.config.clone(),
            run.learner.clone(),
            run.learner_description.clone(),
            LiveStatus::from(&run.status),
            run.elapsed_secs,
        ));
        self.chosen_noise = chose.then_some(1.0 - run.config.tau);
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
}
