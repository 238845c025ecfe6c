//! What an opened dataset or saved run is, for both faces: the training set and its evaluation
//! sets (shared, never copied), its truth, where each came from, and for a saved run the run
//! itself. [`super::prepare`] and [`super::reopen`] make them.

use std::path::PathBuf;
use std::sync::Arc;

use crate::data::truth::TruthInfo;
use crate::data::Dataset;
use crate::export::RunFile;

/// The evaluation inputs of a dataset: a test set (None: the split the data carries unless
/// `no_test`), a test-2 set (None: `<DATA>-test2` when present) and a truth file (None:
/// `<DATA>/truth.csv` when present).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct EvalInputs {
    pub test: Option<PathBuf>,
    /// Do not evaluate on the test split the data carries (not with `test`).
    pub no_test: bool,
    pub test2: Option<PathBuf>,
    pub truth: Option<PathBuf>,
}

/// An opened dataset or saved run, with everything a window shows and a run needs, shared
/// (`Arc`) so that runs and views hold it without copies.
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
    /// When the images were read (this was made right after): a file modified later is not
    /// the image a run on these samples judged.
    pub read_at: std::time::SystemTime,
    /// Where the test set, test-2 and truth came from (a path, or "... (auto)").
    pub test_from: Option<String>,
    pub test2_from: Option<String>,
    pub truth_from: Option<String>,
    /// The evaluation inputs this was loaded with.
    pub eval: EvalInputs,
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
            read_at: std::time::SystemTime::now(),
            test_from: None,
            test2_from: None,
            truth_from: None,
            eval: EvalInputs::default(),
            reopened: None,
        }
    }

    /// Whether the samples' pixels are there (not so for a reopened run whose dataset is gone).
    pub fn has_images(&self) -> bool {
        self.reopened
            .as_ref()
            .is_none_or(|r| r.images_missing.is_none())
    }

    /// When the images a run on these samples judged were read: a reopened run's file time
    /// (its run read them before it wrote the file), else [`Loaded::read_at`].
    pub fn judged_at(&self) -> std::time::SystemTime {
        self.reopened
            .as_ref()
            .and_then(|r| std::fs::metadata(&r.file).ok()?.modified().ok())
            .map_or(self.read_at, |t| t.min(self.read_at))
    }

    /// The name of class `c`, or "?".
    pub fn class_name(&self, c: u32) -> &str {
        self.train.class_name(c)
    }
}

/// A saved run that was opened.
pub struct Reopened {
    pub file: PathBuf,
    pub run: RunFile,
    /// Where the dataset was reloaded from (None: nothing to reload, e.g. an in-memory set).
    pub data_path: Option<PathBuf>,
    /// Why the thumbnails are missing; None when the dataset was reloaded and matches the run.
    pub images_missing: Option<String>,
    /// The saved verdict: round, tau and how many samples it flags (computed once).
    pub verdict: Option<(usize, f64, usize)>,
}
