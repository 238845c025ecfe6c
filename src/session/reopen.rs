//! Opening a saved run (`run.itlm`): the rounds, verdict and truth come from the file; the
//! thumbnails come from reloading the dataset at the run's `dataset.source` when it still exists
//! and its sample ids and labels match the run. Otherwise the run is shown without images (the
//! grids list ids) and the window says why.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use crate::data::{self, Dataset, ImageShape, LoadOptions, Source};
use crate::error::{Error, Result};
use crate::export::{DatasetInfo, RunFile, RUN_MAGIC};

use super::loaded::{EvalInputs, Loaded, Reopened};
use super::prepare::auto_test_name;

/// Whether `path` is a run file: a `.itlm` file, or any file that starts with the run magic.
pub fn is_run_file(path: &Path) -> bool {
    if !path.is_file() {
        return false;
    }
    if path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("itlm"))
    {
        return true;
    }
    let mut magic = [0u8; 8];
    std::fs::File::open(path)
        .and_then(|mut f| std::io::Read::read_exact(&mut f, &mut magic))
        .is_ok()
        && &magic == RUN_MAGIC
}

/// The path to load again for a run's dataset source.
pub fn data_path(source: &Source) -> Option<PathBuf> {
    match source {
        Source::ImageFolder { root } => Some(root.clone()),
        Source::Cifar { dir } => Some(dir.clone()),
        Source::LabelsCsv { file } => Some(file.clone()),
        Source::Idx { images } => Some(images.clone()),
        Source::Memory => None,
    }
}

/// The folder the run file `file` lies in (a bare file name: the working directory).
fn folder_of(file: &Path) -> &Path {
    file.parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."))
}

/// What to say when the run file `file` sits in an output folder whose set of files is mixed
/// (a write was interrupted; see [`crate::export::manifest`]).
pub fn set_warning(file: &Path) -> Option<String> {
    let dir = folder_of(file);
    crate::export::check_set(dir).ok()?.warning(dir)
}

/// What to say of a run file `file` whose run did not finish (None when it did): stopped,
/// failed, still training (its folder's lock is held), or interrupted (in progress when last
/// written, its writer gone): its last model is not the final one.
pub fn status_note(run: &crate::export::RunFile, file: &Path) -> Option<String> {
    use crate::export::RunStatus;
    let last = run.rounds.last().map_or(0, |r| r.round);
    let planned = run.config.planned_last_round(&run.rounds);
    let of = format!("round {last} of the {planned} planned");
    let dir = folder_of(file);
    Some(match &run.status {
        RunStatus::Finished => return None,
        RunStatus::Stopped => format!("the run was stopped after {of}: its last model is not the final one"),
        RunStatus::Failed(why) => format!("the run failed after {of} ({why}): its last model is not the final one"),
        RunStatus::InProgress => match crate::export::lock::holder(dir) {
            Some(who) => format!(
                "the run is still training ({who}): these are its rounds so far, up to {of}"
            ),
            None => format!(
                "the run was interrupted after {of} (in progress when last written, its process gone): its last model is not the final one; run it again to finish"
            ),
        },
    })
}

/// Load the dataset behind `source` as the CLI would (with its test split), its images
/// decoded straight to the run's `shape` (as the run loaded them; the automatic shape
/// may have changed since, and resizing twice would give other pixels).
fn load_source(source: &Source, shape: ImageShape, counted: &LoadOptions) -> Result<data::Loaded> {
    let opts = LoadOptions {
        size: Some((shape.height, shape.width)),
        channels: Some(shape.channels),
        ..counted.clone()
    };
    if let Source::Idx { images } = source {
        // The IDX directory brings its t10k split, when its training pair is this very file.
        if let Some(dir) = images.parent().filter(|d| data::idx::is_idx_dir(d)) {
            if let Ok(l) = data::idx::load_dir(dir) {
                if l.train.source == *source {
                    return Ok(l);
                }
            }
        }
    }
    let path = data_path(source).unwrap_or_default();
    data::load(&path, &opts)
}

/// The samples of `full` in the run's order, or why they do not match the run.
pub fn match_run(mut full: Dataset, info: &DatasetInfo) -> std::result::Result<Dataset, String> {
    // The same classes in another order (a run written before integer class names were sorted
    // by value) are the run's classes: the labels follow the run's order.
    let mut now = full.classes.clone();
    let mut then = info.classes.clone();
    now.sort();
    then.sort();
    if now == then {
        full.align_classes(&info.classes)
            .map_err(|e| e.to_string())?;
    }
    if full.classes != info.classes {
        return Err(format!(
            "its classes are now {} (the run has {})",
            full.classes.join(", "),
            info.classes.join(", ")
        ));
    }
    let mut train = if full.ids() == info.ids.as_slice() {
        full
    } else {
        let index = full.index_of_ids();
        let mut idx = Vec::with_capacity(info.len());
        let mut missing = 0usize;
        let mut example = None;
        for id in &info.ids {
            match index.get(id.as_str()) {
                Some(&i) => idx.push(i),
                None => {
                    missing += 1;
                    example.get_or_insert(id.as_str());
                }
            }
        }
        if missing > 0 {
            return Err(format!(
                "{missing} of the run's {} samples are not in it (e.g. {})",
                info.len(),
                example.unwrap_or("?")
            ));
        }
        drop(index);
        full.subset(&idx)
    };
    let differ = train
        .labels()
        .iter()
        .zip(&info.labels)
        .filter(|(a, b)| a != b)
        .count();
    if differ > 0 {
        return Err(format!(
            "{differ} of its samples now have another label than in the run"
        ));
    }
    if train.shape != info.shape {
        train.conform_to(info.shape);
    }
    train.name = info.name.clone();
    Ok(train)
}

/// Stand-in samples for a run whose dataset is gone: ids and labels, no pixels.
fn without_images(info: &DatasetInfo) -> Result<Dataset> {
    Dataset::from_parts(
        info.name.clone(),
        Source::Memory,
        info.classes.clone(),
        ImageShape::new(1, 1, 1),
        vec![0; info.len()],
        info.labels.clone(),
        info.ids.clone(),
    )
    .map_err(|e| Error::Other(format!("damaged run file: {e}")))
}

/// Read a run file and reload its dataset (slow: call it off the UI thread).
pub fn load(file: &Path, eval: &EvalInputs) -> Result<Loaded> {
    load_counted(file, eval, None)
}

/// [`load`], counting the images it reads into `progress` (the window's loading line), as
/// opening a dataset does.
pub fn load_counted(
    file: &Path,
    eval: &EvalInputs,
    progress: Option<std::sync::Arc<data::LoadProgress>>,
) -> Result<Loaded> {
    let t0 = Instant::now();
    let run =
        RunFile::read(file).map_err(|e| Error::Other(format!("Cannot open the run file {e}")))?;
    let info = &run.dataset;
    let counted = LoadOptions {
        progress,
        columns: info.columns.clone(),
        test_split: !eval.no_test,
        // A run of an unlabelled set (a folder read as unlabelled images included) reads
        // every image under its folder again.
        unlabelled: data::dataset::unlabelled(&info.classes)
            && matches!(info.source, Source::ImageFolder { .. }),
        ..LoadOptions::default()
    };
    let data_path = data_path(&info.source);
    let mut notes = Vec::new();
    let (train, test, images_missing) = match &data_path {
        None => (
            without_images(info)?,
            None,
            Some("the run's dataset was built in memory; there is nothing to reload".to_string()),
        ),
        Some(p) if !p.exists() => (
            without_images(info)?,
            None,
            Some(format!("its dataset {} is gone", p.display())),
        ),
        Some(p) => match load_source(&info.source, info.shape, &counted) {
            Err(e) => (
                without_images(info)?,
                None,
                Some(format!("its dataset could not be loaded: {e}")),
            ),
            Ok(l) => match match_run(l.train, info) {
                Err(why) => (
                    without_images(info)?,
                    None,
                    Some(format!(
                        "the dataset at {} no longer matches the run: {why}",
                        p.display()
                    )),
                ),
                Ok(train) => (train, l.test, None),
            },
        },
    };
    let have_images = images_missing.is_none();
    // A test CSV's paths are relative to its own folder (the images folder is the set's).
    let mut eval_opts = counted.clone();
    eval_opts.columns.images = None;
    let conform = |mut d: Dataset| -> Result<Dataset> {
        d.align_classes(&train.classes)?;
        d.conform_to(train.shape);
        Ok(d)
    };
    // Test sets matter only for retraining, which needs the images.
    let (mut test_from, mut test2_from) = (None, None);
    let test = if !have_images || eval.no_test {
        None
    } else if let Some(p) = &eval.test {
        let d = data::load_test(p, &eval_opts)
            .map_err(|e| Error::Other(format!("Cannot open the test set {e}")))?;
        test_from = Some(p.display().to_string());
        Some(conform(d)?)
    } else if let Some(t) = test {
        test_from = Some(auto_test_name(&info.source));
        Some(conform(t)?)
    } else {
        // The clean test split `corrupt` copies beside a set, as when the set itself is opened.
        let beside = data_path
            .as_deref()
            .filter(|_| matches!(info.source, Source::ImageFolder { .. }))
            .and_then(data::default_test_path);
        match beside.map(|p| (data::load(&p, &eval_opts), p)) {
            Some((Ok(l), p)) => match conform(l.train) {
                Ok(t) => {
                    test_from = Some(format!("{} (auto)", p.display()));
                    Some(t)
                }
                Err(e) => {
                    notes.push(format!("The test set beside the dataset is not used: {e}"));
                    None
                }
            },
            Some((Err(e), _)) => {
                notes.push(format!("The test set beside the dataset is not used: {e}"));
                None
            }
            None => None,
        }
    };
    let load2 = |p: &Path| -> Result<Dataset> {
        let d = data::load(p, &eval_opts)
            .map_err(|e| Error::Other(format!("Cannot open the test-2 set {e}")))?
            .train;
        conform(d)
    };
    let test2 = match eval.test2.as_ref().filter(|_| have_images) {
        Some(p) => {
            test2_from = Some(p.display().to_string());
            Some(load2(p)?)
        }
        // The folder `corrupt --noise backdoor` writes beside the set, as when the set
        // itself is opened; one that does not fit is noted, not fatal (it was not asked for).
        None => match data_path
            .as_deref()
            .filter(|_| have_images)
            // An IDX set's source is its images file; the folder is what was opened.
            .and_then(|p| match &info.source {
                Source::Idx { .. } => p.parent(),
                _ => Some(p),
            })
            .and_then(data::default_test2_path)
        {
            Some(p) => match load2(&p) {
                Ok(d) => {
                    test2_from = Some(format!("{} (auto)", p.display()));
                    Some(d)
                }
                Err(e) => {
                    notes.push(format!(
                        "The test-2 set beside the dataset is not used: {e}"
                    ));
                    None
                }
            },
            None => None,
        },
    };
    if let Some(why) = &images_missing {
        notes.push(format!("No thumbnails: {why}."));
    }
    if let Some(w) = set_warning(file) {
        notes.push(format!("Note: {w}."));
    }
    let truth = run.truth.clone().map(Arc::new);
    let bad = truth.as_ref().map(|t| Arc::new(t.bad.clone()));
    let truth_from = truth.as_ref().map(|_| "saved in the run file".to_string());
    let mut l = Loaded::new(file.to_path_buf(), train);
    l.test = test.map(Arc::new);
    l.test2 = test2.map(Arc::new);
    l.truth = truth;
    l.bad = bad;
    l.notes = notes;
    l.test_from = test_from;
    l.test2_from = test2_from;
    l.truth_from = truth_from;
    l.eval = eval.clone();
    l.load_secs = t0.elapsed().as_secs_f64();
    let verdict = run
        .verdict()
        .map(|v| (v.round, v.tau, v.kept.iter().filter(|&&k| !k).count()));
    l.reopened = Some(Arc::new(Reopened {
        file: file.to_path_buf(),
        verdict,
        run,
        data_path,
        images_missing,
    }));
    Ok(l)
}
