//! Data: loading image folders, labels CSVs, IDX and CIFAR-10 files, ground truth, corruption and watermarks.

pub mod cifar;
pub mod corrupt;
pub mod dataset;
pub mod demo;
pub mod draft;
pub mod empty_classes;
pub mod encode;
#[cfg(test)]
pub(crate) mod fixtures;
pub mod idx;
mod image_files;
pub mod image_folder;
pub mod labels_csv;
pub mod memory;
pub mod quality;
pub mod reduce;
pub mod truth;
pub mod watermark;

use std::path::{Path, PathBuf};

pub use dataset::{Dataset, ImageShape, Original, Skipped, Source};

use crate::error::{Error, Result};

/// How images are brought to one model size.
#[derive(Clone, Debug)]
pub struct LoadOptions {
    /// Force this (height, width); default: the most common size when a quarter of the
    /// images have it, else the median height and width; capped at `max_side`.
    pub size: Option<(usize, usize)>,
    /// Largest side of the model size when it is chosen automatically.
    pub max_side: usize,
    /// Force 1 (gray) or 3 (RGB) channels; default: 1 if every image is gray, else 3.
    pub channels: Option<usize>,
    /// Keep the image checks' pixel statistics of each file whose stored pixels are not its
    /// own (another size or colour type; [`quality`]): about the cost of its decoding again.
    /// On by default; off for evaluation sets, which are not checked.
    pub file_stats: bool,
    /// Counts the files an image folder's load has read, for a window to show (None: not
    /// counted).
    pub progress: Option<std::sync::Arc<LoadProgress>>,
    /// A labels CSV's path and label columns where the header does not name them as
    /// expected ([`labels_csv::Columns`]); other sources ignore them.
    pub columns: labels_csv::Columns,
    /// Read the test split a path carries (an image folder's `test/`); off for `--no-test`,
    /// which then also runs where that split does not fit the training set.
    pub test_split: bool,
    /// Read a folder as an unlabelled set whatever its subfolders: every image under it,
    /// recursively ([`image_folder::load`]), in one class named `""` (`--unlabelled`, the
    /// window's "Open as unlabelled images"). Only for a folder of images: a labels CSV, an
    /// IDX or a CIFAR-10 set is refused with it.
    pub unlabelled: bool,
}

/// How far a load has got: the files an image folder found (a test split, loaded with the
/// same counter, adds its own), how many headers and how many images it has read, and since
/// when it decodes. Shared with the loading thread; relaxed atomics, as it is only shown.
#[derive(Debug, Default)]
pub struct LoadProgress {
    files: std::sync::atomic::AtomicUsize,
    headers: std::sync::atomic::AtomicUsize,
    decoded: std::sync::atomic::AtomicUsize,
    decoding_since: std::sync::OnceLock<std::time::Instant>,
}

/// A [`LoadProgress`] read at one moment.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct LoadSnapshot {
    pub files: usize,
    pub headers: usize,
    pub decoded: usize,
    /// Seconds since the first image was decoded (None before).
    pub decoding_secs: Option<f64>,
}

impl LoadSnapshot {
    /// What a loading line says (the window's, and the command line's on a terminal): how
    /// long, and for an image folder how far it has got and about how long is left.
    pub fn line(&self, path: &str, secs: f64) -> String {
        let p = self;
        if p.files == 0 {
            return format!("Loading {path} ({secs:.1} s)");
        }
        // Nothing read yet (a load at a given size reads no headers first).
        if p.decoded == 0 && p.headers == 0 {
            return format!(
                "Loading {path}: {} found ({secs:.1} s)",
                crate::plural(p.files, "file")
            );
        }
        if p.decoded == 0 && p.headers < p.files {
            return format!(
                "Loading {path}: reading headers, {} of {} files ({secs:.1} s)",
                p.headers, p.files
            );
        }
        // Once a tenth is decoded, or a second has passed, the rate so far says what is left.
        let left = match p.decoding_secs {
            Some(d)
                if p.decoded > 0
                    && p.decoded < p.files
                    && (p.decoded * 10 >= p.files || d >= 1.0) =>
            {
                let s = d * (p.files - p.decoded) as f64 / p.decoded as f64;
                format!(", about {s:.0} s left")
            }
            _ => String::new(),
        };
        format!(
            "Loading {path}: {} of {} images ({secs:.1} s{left})",
            p.decoded, p.files
        )
    }
}

impl LoadProgress {
    /// `n` more files found.
    pub fn found(&self, n: usize) {
        self.files
            .fetch_add(n, std::sync::atomic::Ordering::Relaxed);
    }

    /// `n` of them dropped before decoding (unreadable headers).
    pub fn dropped(&self, n: usize) {
        self.files
            .fetch_sub(n, std::sync::atomic::Ordering::Relaxed);
    }

    /// One header read.
    pub fn header(&self) {
        self.headers
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    }

    /// One file decoded (or found unusable while decoding).
    pub fn decoded(&self) {
        self.decoding_since.get_or_init(std::time::Instant::now);
        self.decoded
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    }

    pub fn snapshot(&self) -> LoadSnapshot {
        use std::sync::atomic::Ordering::Relaxed;
        let files = self.files.load(Relaxed);
        LoadSnapshot {
            files,
            headers: self.headers.load(Relaxed).min(files),
            decoded: self.decoded.load(Relaxed).min(files),
            decoding_secs: self.decoding_since.get().map(|t| t.elapsed().as_secs_f64()),
        }
    }
}

impl Default for LoadOptions {
    fn default() -> Self {
        Self {
            size: None,
            max_side: 64,
            channels: None,
            file_stats: true,
            progress: None,
            columns: labels_csv::Columns::default(),
            test_split: true,
            unlabelled: false,
        }
    }
}

/// A loaded data path: the training samples and, when the path carries one, a test split.
#[derive(Debug)]
pub struct Loaded {
    pub train: Dataset,
    pub test: Option<Dataset>,
}

/// Load a dataset path: an image folder (classes = sorted subfolder names; a folder holding
/// `train/` and `test/` class folders loads as train + test), a labels CSV (a `.csv` file of
/// image paths and labels, [`labels_csv`]), a directory holding IDX files
/// (train + t10k), a single IDX images file, or a CIFAR-10 binary directory.
pub fn load(path: &Path, opts: &LoadOptions) -> Result<Loaded> {
    let meta = std::fs::metadata(path).map_err(|e| Error::io(path, e))?;
    if let Some(fs) = image_folder::virtual_fs(path) {
        return Err(Error::data(
            path,
            format!("is in {fs}, a virtual file system of the kernel, not a dataset"),
        ));
    }
    if opts.unlabelled {
        let what = if meta.is_file() {
            Some("a file")
        } else if idx::is_idx_dir(path) {
            Some("an IDX set")
        } else if cifar::is_cifar_dir(path) {
            Some("a CIFAR-10 set")
        } else {
            None
        };
        if let Some(what) = what {
            return Err(Error::data(
                path,
                format!(
                    "is {what}: reading as unlabelled images (--unlabelled) takes a folder of \
                     image files"
                ),
            ));
        }
        return image_folder::load(path, opts).map(|train| Loaded { train, test: None });
    }
    if meta.is_file() {
        if labels_csv::is_labels_csv(path) {
            return labels_csv::load(path, opts).map(|train| Loaded { train, test: None });
        }
        if idx::looks_like_idx_file(path) {
            return idx::load_file(path);
        }
        return Err(Error::data(
            path,
            "not a dataset: give a folder of class subfolders, a labels CSV (.csv), an IDX directory or a CIFAR-10 directory",
        ));
    }
    if idx::is_idx_dir(path) {
        return idx::load_dir(path);
    }
    if cifar::is_cifar_dir(path) {
        return cifar::load_dir(path);
    }
    if image_folder::split_dirs(path).is_some() {
        return image_folder::load_split(path, opts);
    }
    match (image_folder::load(path, opts), idx::missing_half(path)) {
        // Half an IDX pair says more than "no class subfolders".
        (Err(_), Some(m)) => Err(Error::data(path, m)),
        (r, _) => r.map(|train| Loaded { train, test: None }),
    }
}

/// Load a path used as a test set: its test split when it has one, else all of it.
pub fn load_test(path: &Path, opts: &LoadOptions) -> Result<Dataset> {
    let l = load(path, opts)?;
    Ok(l.test.unwrap_or(l.train))
}

/// The backdoor test-2 folder `corrupt --noise backdoor` writes beside a set (`<DATA>-test2`),
/// if it is there.
pub fn default_test2_path(path: &Path) -> Option<PathBuf> {
    let mut name = path.file_name()?.to_os_string();
    name.push("-test2");
    let p = path.with_file_name(name);
    p.is_dir().then_some(p)
}

/// The clean test split `corrupt` copies beside a set (`<DATA>-test`), or the `test/` folder
/// beside a set opened as its `train/` folder (`ROOT/train` and `ROOT/test`), if it is there.
pub fn default_test_path(path: &Path) -> Option<PathBuf> {
    let mut name = path.file_name()?.to_os_string();
    name.push("-test");
    let p = path.with_file_name(name);
    if p.is_dir() {
        return Some(p);
    }
    beside_train(path, "test").filter(|p| p.is_dir())
}

/// `ROOT/<name>` for a set opened as its `ROOT/train` folder (any case); None for another.
fn beside_train(path: &Path, name: &str) -> Option<PathBuf> {
    path.file_name()
        .and_then(|n| n.to_str())
        .is_some_and(|n| n.eq_ignore_ascii_case("train"))
        .then(|| path.with_file_name(name))
}

/// The `truth.csv` that sits in a dataset folder, or beside a set opened as its `train/`
/// folder (`ROOT/truth.csv` naming `train/<class>/<file>`: [`truth::load_for`] reads its paths
/// relative to its own folder), if any.
pub fn default_truth_path(path: &Path) -> Option<PathBuf> {
    let p = path.join("truth.csv");
    if p.is_file() {
        return Some(p);
    }
    beside_train(path, "truth.csv").filter(|p| p.is_file())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_loading_line_says_the_phase_the_count_and_what_is_left() {
        let at = |files, headers, decoded, decoding_secs| LoadSnapshot {
            files,
            headers,
            decoded,
            decoding_secs,
        };
        assert_eq!(at(0, 0, 0, None).line("d", 0.2), "Loading d (0.2 s)");
        assert_eq!(
            at(80, 0, 0, None).line("d", 0.1),
            "Loading d: 80 files found (0.1 s)"
        );
        assert_eq!(
            at(80, 30, 0, None).line("d", 0.5),
            "Loading d: reading headers, 30 of 80 files (0.5 s)"
        );
        // Too early for a rate: 4 of 80 in 0.3 s.
        assert_eq!(
            at(80, 80, 4, Some(0.3)).line("d", 1.0),
            "Loading d: 4 of 80 images (1.0 s)"
        );
        // 20 of 80 in 2 s of decoding: 6 s left.
        assert_eq!(
            at(80, 80, 20, Some(2.0)).line("d", 2.7),
            "Loading d: 20 of 80 images (2.7 s, about 6 s left)"
        );
        assert_eq!(
            at(80, 80, 80, Some(8.0)).line("d", 9.0),
            "Loading d: 80 of 80 images (9.0 s)"
        );
    }
}
