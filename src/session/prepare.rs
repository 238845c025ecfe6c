//! Opening a dataset for a run, the same way for both faces: the training set with its test
//! set (given, or the split the data carries), its backdoor test-2 set (given, or `<DATA>-test2`
//! beside it), its ground truth (given, or `<DATA>/truth.csv`) and an optional seeded subset,
//! every evaluation set aligned to the training classes and image size.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use crate::data::truth::TruthInfo;
use crate::data::{self, Dataset, LoadOptions, Source};
use crate::error::{Error, Result};
use crate::itlm::{Decisions, Pins};

use super::loaded::{EvalInputs, Loaded};

/// What to open: a data path, its evaluation inputs, and an optional seeded subset.
#[derive(Clone, Debug, Default)]
pub struct DataRequest {
    pub path: PathBuf,
    pub eval: EvalInputs,
    /// Keep a seeded random subset of this many training samples.
    pub limit: Option<usize>,
    pub seed: u64,
    /// Counts the files read, for the window's loading line (None: not counted).
    pub progress: Option<std::sync::Arc<data::LoadProgress>>,
    /// A labels CSV's path and label columns, where its header does not name them as
    /// expected (the test CSVs' too).
    pub columns: data::labels_csv::Columns,
    /// Read the folder as unlabelled images, every image under it in no class
    /// ([`data::LoadOptions::unlabelled`]; the evaluation sets are read as usual).
    pub unlabelled: bool,
}

/// Training data, test sets and truth as a run needs them. The files the loader skipped are
/// `train.skipped`; `notes` says everything else worth saying (truth warnings, sets found).
pub struct Prepared {
    pub train: Dataset,
    pub test: Option<Dataset>,
    /// Where the test set came from when it was found beside the set (`<DATA>-test`).
    pub test_beside: Option<PathBuf>,
    pub test2: Option<Dataset>,
    /// Where test-2 came from: the one asked for, or `<DATA>-test2` found beside the set.
    pub test2_path: Option<PathBuf>,
    pub truth: Option<TruthInfo>,
    pub notes: Vec<String>,
    /// The user's decisions on the training set (human-guided ITLM): the run trains the
    /// relabelled labels and pins excluded / kept samples ([`Prepared::guided`]).
    pub decisions: Option<Decisions>,
    /// The decisions journal's bytes as read (`run --decisions FILE`): the output set carries
    /// them as `decisions.csv`, so that the run reopens with the decisions it trained with.
    pub journal: Option<Vec<u8>>,
}

impl Prepared {
    /// Every dataset folder this read: no output may go inside any of them (a labels CSV's
    /// images folder, `--images`, included).
    pub fn sources(&self) -> Vec<Source> {
        let mut v: Vec<Source> = [Some(&self.train), self.test.as_ref(), self.test2.as_ref()]
            .into_iter()
            .flatten()
            .map(|d| d.source.clone())
            .collect();
        v.extend(crate::export::run_file::images_source(&self.train.columns));
        v
    }

    /// What a run trains on with the user's decisions: the training set with the relabelled
    /// labels (borrowed as it is when nothing was relabelled) and the pins (None without
    /// decisions).
    pub fn guided(&self) -> (std::borrow::Cow<'_, Dataset>, Option<Pins>) {
        guided(&self.train, self.decisions.as_ref())
    }
}

/// The training set relabelled by `decisions` and their pins (see [`Prepared::guided`]).
pub fn guided<'a>(
    train: &'a Dataset,
    decisions: Option<&Decisions>,
) -> (std::borrow::Cow<'a, Dataset>, Option<Pins>) {
    use std::borrow::Cow;
    let Some(d) = decisions.filter(|d| d.counts().decided > 0) else {
        return (Cow::Borrowed(train), None);
    };
    let data = if d.counts().relabelled > 0 {
        let mut t = train.clone();
        for (i, l) in d.labels(train.labels()).into_iter().enumerate() {
            if l != train.label(i) {
                t.set_label(i, l);
            }
        }
        Cow::Owned(t)
    } else {
        Cow::Borrowed(train)
    };
    (data, Some(d.pins()))
}

/// Load everything `req` names, aligning test classes and image sizes to the training set.
pub fn prepare(req: &DataRequest) -> Result<Prepared> {
    let data_path = req.path.as_path();
    let counted = LoadOptions {
        progress: req.progress.clone(),
        columns: req.columns.clone(),
        test_split: !req.eval.no_test,
        unlabelled: req.unlabelled,
        ..LoadOptions::default()
    };
    let loaded = data::load(data_path, &counted)?;
    // The evaluation sets are not checked: no file statistics kept.
    let mut opts = LoadOptions {
        file_stats: false,
        ..counted
    };
    // A test CSV's paths are relative to its own folder (--images is the training CSV's).
    opts.columns.images = None;
    opts.unlabelled = false;
    let mut notes = Vec::new();
    let mut train = loaded.train;
    if train.is_empty() {
        return Err(Error::data(data_path, "no images found"));
    }
    // Truth is matched against the whole set first, so that its warnings are about the file,
    // not about the samples a --limit left out.
    let truth_path = req
        .eval
        .truth
        .clone()
        .or_else(|| data::default_truth_path(data_path));
    let mut truth = match &truth_path {
        Some(p) => {
            let r = data::truth::load_for(p, &train)?;
            if let Some(w) = r.warnings() {
                notes.push(format!("truth {}: {w}", p.display()));
            }
            Some(r.info)
        }
        None => None,
    };
    if let Some(l) = req.limit {
        if l == 0 {
            return Err(Error::Config("--limit must be at least 1".into()));
        }
        if l < train.len() {
            train = train.limit(l, req.seed);
            if let Some(p) = &truth_path {
                truth = Some(data::truth::resolve(&data::truth::read(p)?, &train).info);
            }
        }
    }
    let mut conform = |mut d: Dataset, train: &Dataset| -> Result<Dataset> {
        if let Some(note) = fashion_idx_classes(&mut d, &train.classes) {
            notes.push(note);
        }
        d.align_classes(&train.classes)?;
        d.conform_to(train.shape);
        Ok(d)
    };
    let (mut test_beside, mut test_unused) = (None, None);
    let test = match (&req.eval.test, req.eval.no_test) {
        (Some(p), _) => Some(conform(data::load_test(p, &opts)?, &train)?),
        (None, false) => match loaded.test {
            // The set's own split, read unasked: say how to go without it.
            Some(t) => Some(conform(t, &train).map_err(data::image_folder::unasked_test_split)?),
            // The clean test split `corrupt` copies beside a set; one that does not fit is
            // noted, not fatal (it was not asked for).
            None => match data::default_test_path(data_path) {
                Some(p) => match data::load(&p, &opts).and_then(|l| conform(l.train, &train)) {
                    Ok(t) => {
                        test_beside = Some(p);
                        Some(t)
                    }
                    Err(e) => {
                        test_unused = Some(format!("test set beside the set not used: {e}"));
                        None
                    }
                },
                None => None,
            },
        },
        (None, true) => None,
    };
    let test_note = match (&test_beside, test_unused) {
        (Some(p), _) => Some(format!(
            "test set: {} (found beside the set; another can be named as the test path)",
            p.display()
        )),
        (None, unused) => unused,
    };
    let mut load2 = |p: &Path| -> Result<Dataset> { conform(data::load(p, &opts)?.train, &train) };
    // Notes of the test-2 found beside the set (conform holds `notes` until then).
    let mut beside = Vec::new();
    let (test2, test2_path) = match &req.eval.test2 {
        Some(p) => (Some(load2(p)?), Some(p.clone())),
        // The folder `corrupt --noise backdoor` writes beside the set, when it is there and
        // fits; one that does not is noted, not fatal (it was not asked for).
        None => match data::default_test2_path(data_path) {
            Some(p) => match load2(&p) {
                Ok(d) => {
                    beside.push(format!(
                        "test-2: {} (found beside the set; another can be named as the test-2 path)",
                        p.display()
                    ));
                    (Some(d), Some(p))
                }
                Err(e) => {
                    beside.push(format!("test-2 beside the set not used: {e}"));
                    (None, None)
                }
            },
            None => (None, None),
        },
    };
    notes.extend(test_note);
    notes.extend(beside);
    Ok(Prepared {
        train,
        test,
        test_beside,
        test2,
        test2_path,
        truth,
        notes,
        decisions: None,
        journal: None,
    })
}

/// An IDX set whose classes got the default names `0..9` (its folder name did not say
/// Fashion-MNIST, e.g. a copy named otherwise) beside a training set whose classes are
/// Fashion-MNIST's (in any order, e.g. a corrupted copy's sorted folders): it is Fashion-MNIST,
/// so its labels get those names, in Fashion-MNIST's order, and are then aligned by name.
/// Returns the note that says so; changes nothing otherwise.
fn fashion_idx_classes(d: &mut Dataset, train_classes: &[String]) -> Option<String> {
    use crate::data::idx::FASHION_CLASSES;
    let digits = (0..d.classes.len()).all(|c| d.classes[c] == c.to_string());
    let fashion_train = train_classes.len() == FASHION_CLASSES.len()
        && FASHION_CLASSES
            .iter()
            .all(|f| train_classes.iter().any(|c| c == f));
    if !matches!(d.source, Source::Idx { .. })
        || !digits
        || d.classes.len() != FASHION_CLASSES.len()
        || !fashion_train
    {
        return None;
    }
    d.classes = FASHION_CLASSES.iter().map(|c| c.to_string()).collect();
    Some(format!(
        "{}: IDX labels 0..9 read as Fashion-MNIST's classes, as the training set's are",
        d.name
    ))
}

/// How the test split a dataset carries is called.
pub fn auto_test_name(source: &Source) -> String {
    match source {
        Source::Idx { .. } => "the t10k files (auto)",
        Source::ImageFolder { .. } => "the test/ folder (auto)",
        Source::Cifar { .. } => "test_batch.bin (auto)",
        Source::Memory | Source::LabelsCsv { .. } => "the data's test split (auto)",
    }
    .to_string()
}

/// Open a dataset with its test sets and truth ([`prepare`]), saying where each came from.
pub fn open_dataset(req: &DataRequest) -> Result<Loaded> {
    let t0 = Instant::now();
    let p = &req.path;
    let pr = prepare(req).map_err(|e| Error::Other(format!("Cannot open {}: {e}", p.display())))?;
    let eval = &req.eval;
    let test_from = pr
        .test
        .as_ref()
        .map(|_| match (&eval.test, &pr.test_beside) {
            (Some(t), _) => t.display().to_string(),
            (None, Some(b)) => format!("{} (auto)", b.display()),
            (None, None) => auto_test_name(&pr.train.source),
        });
    let test2_from = pr.test2_path.as_ref().map(|t| {
        if eval.test2.is_some() {
            t.display().to_string()
        } else {
            format!("{} (auto)", t.display())
        }
    });
    let truth_from = pr.truth.as_ref().map(|_| match &eval.truth {
        Some(t) => t.display().to_string(),
        None => data::default_truth_path(p).map_or("truth.csv (auto)".into(), |t| {
            format!("{} (auto)", t.display())
        }),
    });
    let bad = pr.truth.as_ref().map(|t| Arc::new(t.bad.clone()));
    let mut l = Loaded::new(p.clone(), pr.train);
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
