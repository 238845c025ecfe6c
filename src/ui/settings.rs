//! What the window remembers between sessions (eframe persistence): the last run configuration,
//! the run settings last used on each dataset, recent folders, panel toggles and the last
//! export folder.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::itlm::Config;
use crate::learner::{LearnerConfig, ModelKind};

/// Key under which [`Settings`] are stored.
pub const STORAGE_KEY: &str = "itlm-inspector/settings";

/// How many recent folders are remembered.
pub const MAX_RECENT: usize = 10;

/// How many datasets' run settings are remembered.
pub const MAX_PER_DATASET: usize = 20;

/// The run settings a user last started a run with on one dataset.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DatasetSettings {
    /// Canonical path of the dataset.
    pub path: PathBuf,
    pub config: Config,
    pub learner: LearnerConfig,
    /// The head on EfficientNet-Lite0 embeddings it was run with (None: the model alone).
    #[serde(default)]
    pub head: Option<crate::learner::head::HeadKind>,
}

/// Which panels are shown.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Panels {
    pub histogram: bool,
    pub metrics: bool,
    pub confusion: bool,
    /// The label health of the cut, under the confusion.
    pub health: bool,
    pub frame_stats: bool,
    pub embedding_map: bool,
}

impl Default for Panels {
    fn default() -> Self {
        Self {
            histogram: true,
            metrics: true,
            confusion: true,
            health: true,
            frame_stats: false,
            embedding_map: true,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Settings {
    /// The configuration the next run starts with (tau is the slider).
    pub config: Config,
    pub learner: LearnerConfig,
    /// Use a seeded random subset of this many training samples (None = all).
    pub limit: Option<usize>,
    /// Most recent first.
    pub recent: Vec<PathBuf>,
    pub panels: Panels,
    /// Histogram counts on a log scale.
    pub log_counts: bool,
    /// The histogram shows the round's spectral scores instead of its losses (rounds that
    /// have them).
    pub histogram_spectral: bool,
    pub export_dir: Option<PathBuf>,
    /// The dataset `export_dir` was last used for: another dataset's export defaults to a
    /// sibling folder named after it, not into this one's.
    pub export_dataset: Option<PathBuf>,
    /// The classifier of the classify mode (the mode selector switches to the VAE and back).
    pub classifier: ModelKind,
    /// Run settings last used per dataset, most recent first.
    pub per_dataset: Vec<DatasetSettings>,
    /// The dataset `config` and `learner` belong to (its saved settings, or the demo's): another
    /// dataset without saved settings of its own starts from the defaults, not from these.
    pub belong_to: Option<PathBuf>,
    /// Light colours instead of dark.
    pub light: bool,
    /// Train a head of this kind on EfficientNet-Lite0 embeddings instead of `learner.model`
    /// (None: the model from scratch).
    pub head: Option<crate::learner::head::HeadKind>,
    /// The columns chosen for labels CSVs whose header names them otherwise than the loader
    /// expects, and the folder of their images where it is not the CSV's, by canonical
    /// path, most recent first.
    pub csv_columns: Vec<(PathBuf, crate::data::labels_csv::Columns)>,
    /// The folders the user chose to read as unlabelled images (every image under them, in
    /// no class), by canonical path, most recent first.
    pub unlabelled: Vec<PathBuf>,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            config: Config::user_default(),
            learner: LearnerConfig::default(),
            limit: None,
            recent: Vec::new(),
            panels: Panels::default(),
            // Loss histograms are heavy-tailed: the trimmed tail is invisible on a linear scale.
            log_counts: true,
            histogram_spectral: false,
            export_dir: None,
            export_dataset: None,
            classifier: ModelKind::Cnn,
            per_dataset: Vec::new(),
            belong_to: None,
            light: false,
            head: None,
            csv_columns: Vec::new(),
            unlabelled: Vec::new(),
        }
    }
}

/// A path as the settings key it (its canonical form where it exists).
fn canonical(path: &Path) -> PathBuf {
    std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf())
}

impl Settings {
    /// Switch to the generative mode (the VAE): the classifier is kept for the way back, and
    /// a head on embeddings and the extensions the VAE would refuse (relabel, clusters,
    /// co-teaching) or ignore (restore, forward correction, augmentation) go.
    pub fn make_generative(&mut self) {
        if self.learner.model == ModelKind::Vae {
            return;
        }
        self.classifier = self.learner.model;
        self.learner.model = ModelKind::Vae;
        self.head = None;
        self.config.restore = false;
        self.config.relabel = false;
        self.config.clusters = false;
        self.config.coteach = None;
        self.config.augment = crate::itlm::Augment::OFF;
        if self.config.transition == crate::itlm::Forward::On {
            self.config.transition = crate::itlm::Forward::Auto;
        }
    }

    /// Put `path` first in the recent list (no duplicates, at most [`MAX_RECENT`]).
    pub fn remember(&mut self, path: &Path) {
        let path = canonical(path);
        self.recent.retain(|p| p != &path);
        self.recent.insert(0, path);
        self.recent.truncate(MAX_RECENT);
    }

    /// Remember the run settings in use for the dataset at `path`.
    pub fn remember_for(&mut self, path: &Path) {
        let path = canonical(path);
        self.per_dataset.retain(|d| d.path != path);
        self.per_dataset.insert(
            0,
            DatasetSettings {
                path,
                config: self.config.clone(),
                learner: self.learner.clone(),
                head: self.head,
            },
        );
        self.per_dataset.truncate(MAX_PER_DATASET);
    }

    /// The run settings last used on the dataset at `path`, if any.
    pub fn saved_for(&self, path: &Path) -> Option<&DatasetSettings> {
        let path = canonical(path);
        self.per_dataset.iter().find(|d| d.path == path)
    }

    /// The columns chosen for the labels CSV at `path` (none chosen: found by name).
    pub fn columns_for(&self, path: &Path) -> crate::data::labels_csv::Columns {
        let path = canonical(path);
        self.csv_columns
            .iter()
            .find(|(p, _)| *p == path)
            .map(|(_, c)| c.clone())
            .unwrap_or_default()
    }

    /// Remember `columns` for the labels CSV at `path`.
    pub fn set_columns(&mut self, path: &Path, columns: crate::data::labels_csv::Columns) {
        let path = canonical(path);
        self.csv_columns.retain(|(p, _)| *p != path);
        if !columns.is_auto() || columns.images.is_some() {
            self.csv_columns.insert(0, (path, columns));
            self.csv_columns.truncate(MAX_PER_DATASET);
        }
    }

    /// Whether the folder at `path` is read as unlabelled images.
    pub fn unlabelled_for(&self, path: &Path) -> bool {
        let path = canonical(path);
        self.unlabelled.contains(&path)
    }

    /// Remember whether the folder at `path` is read as unlabelled images.
    pub fn set_unlabelled(&mut self, path: &Path, on: bool) {
        let path = canonical(path);
        self.unlabelled.retain(|p| *p != path);
        if on {
            self.unlabelled.insert(0, path);
            self.unlabelled.truncate(MAX_PER_DATASET);
        }
    }

    /// Settings from eframe storage, or the defaults when absent or unreadable.
    pub fn load(storage: Option<&dyn eframe::Storage>) -> Self {
        storage
            .and_then(|s| eframe::get_value::<Settings>(s, STORAGE_KEY))
            .map(|mut s| {
                s.config.tau = s.config.tau.clamp(super::TAU_MIN, 1.0);
                if s.classifier == ModelKind::Vae {
                    s.classifier = ModelKind::Cnn;
                }
                s
            })
            .unwrap_or_default()
    }

    pub fn save(&self, storage: &mut dyn eframe::Storage) {
        eframe::set_value(storage, STORAGE_KEY, self);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recent_is_deduplicated_and_capped() {
        let mut s = Settings::default();
        for i in 0..15 {
            s.remember(Path::new(&format!("/nonexistent/{i}")));
        }
        s.remember(Path::new("/nonexistent/3"));
        assert_eq!(s.recent.len(), MAX_RECENT);
        assert_eq!(s.recent[0], PathBuf::from("/nonexistent/3"));
        assert_eq!(
            s.recent.iter().filter(|p| p.ends_with("3")).count(),
            1,
            "no duplicates"
        );
    }

    #[test]
    fn run_settings_are_remembered_per_dataset() {
        let mut s = Settings::default();
        s.config.tau = 0.85;
        s.remember_for(Path::new("/nonexistent/a"));
        s.config.tau = 0.6;
        s.remember_for(Path::new("/nonexistent/b"));
        assert_eq!(
            s.saved_for(Path::new("/nonexistent/a")).unwrap().config.tau,
            0.85
        );
        assert_eq!(
            s.saved_for(Path::new("/nonexistent/b")).unwrap().config.tau,
            0.6
        );
        assert!(s.saved_for(Path::new("/nonexistent/c")).is_none());
        for i in 0..30 {
            s.remember_for(Path::new(&format!("/nonexistent/x{i}")));
        }
        assert_eq!(s.per_dataset.len(), MAX_PER_DATASET);
    }

    #[test]
    fn settings_round_trip_through_json() {
        let mut s = Settings::default();
        s.config.tau = 0.55;
        s.limit = Some(1000);
        let j = serde_json::to_string(&s).unwrap();
        let back: Settings = serde_json::from_str(&j).unwrap();
        assert_eq!(back, s);
        // Missing fields fall back to defaults.
        let partial: Settings = serde_json::from_str(r#"{"log_counts": false}"#).unwrap();
        assert!(!partial.log_counts);
        assert!(partial.panels.histogram);
        assert_eq!(partial.config, Config::user_default());
    }

    /// Builds before forward correction's `auto` stored it as a flag: an upgrade reads it,
    /// and keeps every other remembered setting.
    #[test]
    fn an_earlier_builds_forward_correction_flag_reads_as_off_or_on() {
        use crate::itlm::Forward;
        let mut s = Settings::default();
        s.config.tau = 0.55;
        for (flag, mode) in [("false", Forward::Off), ("true", Forward::On)] {
            let j = serde_json::to_string(&s)
                .unwrap()
                .replace(r#""transition":"Auto""#, &format!(r#""transition":{flag}"#));
            assert!(j.contains(&format!(r#""transition":{flag}"#)), "{j}");
            let back: Settings = serde_json::from_str(&j).unwrap();
            assert_eq!(back.config.transition, mode);
            assert_eq!(back.config.tau, 0.55);
        }
        // RON, as eframe stores them.
        let r = ron::to_string(&s)
            .unwrap()
            .replace("transition:Auto", "transition:true");
        let back: Settings = ron::from_str(&r).unwrap();
        assert_eq!(back.config.transition, Forward::On);
    }
}
