//! The `corrupt` command: make a NEW image folder with label noise, backdoor watermarks or a
//! spurious mix-in, plus the `truth.csv` that says which samples were made bad.
//!
//! The noise itself is `data::corrupt` ([`Corrupted`]: exact counts, seeded); this writes it as
//! `DST/<given class>/<serial>.png` with a seeded shuffled serial, so a file's name says nothing
//! about its truth. The folder is built in a hidden temporary sibling and renamed into place at
//! the end, so a failure never leaves a half-written DST, and the source is never written to.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use rayon::prelude::*;

use crate::data::corrupt::{
    check_rate, class_index, test2_set, ClassReport, Corrupted, KindCounts, NoiseKind, SampleKind,
};
use crate::data::encode::{encode_png, folder_names};
use crate::data::truth;
use crate::data::watermark::{MarkShape, Position, Watermark};
use crate::data::{self, Dataset, ImageShape, LoadOptions};
use crate::error::{Error, Result};
use crate::export::atomic::StagedDir;
use crate::export::paths::{check_new_folder, resolve_path};

/// What to corrupt and how: the `corrupt` command's settings (the CLI's flags are named
/// after these fields).
#[derive(Debug, Clone)]
pub struct CorruptSpec {
    /// Source: image folder, labels CSV, IDX directory (MNIST / Fashion-MNIST) or CIFAR-10 directory.
    /// It is only read.
    pub src: PathBuf,
    /// New folder to create (must not exist or be empty, and must not be inside SRC).
    pub out: PathBuf,
    /// Kind of corruption.
    pub noise: NoiseKind,
    /// Share of each affected class made bad (spurious: share of the result that is spurious).
    pub rate: f64,
    /// Class to corrupt (name or index): systematic/random restrict to it; backdoor: class
    /// watermarked; spurious: the main class.
    pub src_class: Option<String>,
    /// Target class (name or index): systematic with --src-class, or the backdoor's target.
    pub dst_class: Option<String>,
    /// Systematic: the label each class's flipped samples get, e.g. 1,2,0, or a map that
    /// sends several classes into one, e.g. MNIST's asymmetric noise 0,1,7,8,4,6,5,1,8,9
    /// (class c -> perm[c]; a class mapped to itself stays clean).
    pub perm: Option<Vec<usize>>,
    /// Backdoor watermark shape.
    pub shape: MarkShape,
    /// Backdoor watermark position: corner (bottom-right), center, or ROW,COL of its top-left.
    pub position: Position,
    /// Backdoor watermark size in pixels (default: a seventh of the shorter side, at least 3).
    pub mark_size: Option<usize>,
    /// Backdoor watermark value written to every channel (255: bright).
    pub mark_value: u8,
    /// Spurious: draw the spurious images from this data path instead of SRC's other classes.
    pub mix: Option<PathBuf>,
    /// Backdoor: test images for the test-2 set (default: SRC's test split, e.g. t10k). The
    /// test-2 set goes to `<OUT>-test2/`: every test image of --src-class, watermarked, under
    /// the --dst-class folder, with an empty folder for every other class so that it loads
    /// with OUT's class names (loaders also align a test set's classes by name).
    pub test_src: Option<PathBuf>,
    /// Use a seeded random subset of N samples of SRC.
    pub limit: Option<usize>,
    pub seed: u64,
    /// A labels CSV source's path and label columns, where its header does not name them
    /// as expected.
    pub columns: crate::data::labels_csv::Columns,
}

impl CorruptSpec {
    /// Defaults for everything but the essentials.
    pub fn new(
        src: impl Into<PathBuf>,
        out: impl Into<PathBuf>,
        noise: NoiseKind,
        rate: f64,
    ) -> Self {
        Self {
            src: src.into(),
            out: out.into(),
            noise,
            rate,
            src_class: None,
            dst_class: None,
            perm: None,
            shape: MarkShape::X,
            position: Position::Corner,
            mark_size: None,
            mark_value: 255,
            mix: None,
            test_src: None,
            limit: None,
            seed: 0,
            columns: Default::default(),
        }
    }
}

/// What `corrupt` wrote.
#[derive(Clone, Debug, PartialEq)]
pub struct CorruptReport {
    pub noise: NoiseKind,
    pub out: PathBuf,
    pub shape: ImageShape,
    pub kinds: KindCounts,
    pub classes: Vec<ClassReport>,
    /// Spurious: how many spurious images came from each class of their source.
    pub spurious_origins: BTreeMap<String, usize>,
    /// Backdoor: the test-2 folder and how many watermarked images it holds.
    pub test2: Option<(PathBuf, usize)>,
    /// The source's test split, copied clean beside the set (label noise and backdoor), and
    /// how many images it holds: `run` and the window find it as the set's test set.
    pub test: Option<(PathBuf, usize)>,
    pub notes: Vec<String>,
}

impl std::fmt::Display for CorruptReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(
            f,
            "{} noise: wrote {} images ({}) in {} to {} (+ truth.csv)",
            self.noise,
            self.kinds.total(),
            self.shape,
            crate::plural(self.classes.len(), "class folder"),
            self.out.display()
        )?;
        writeln!(f, "  {}", self.kinds)?;
        crate::data::corrupt::write_class_table(f, &self.classes)?;
        if !self.spurious_origins.is_empty() {
            let parts: Vec<String> = self
                .spurious_origins
                .iter()
                .map(|(c, n)| format!("{c} {n}"))
                .collect();
            writeln!(f, "  spurious images came from: {}", parts.join(", "))?;
        }
        if let Some((p, n)) = &self.test {
            writeln!(
                f,
                "  test: the source's {n} test images, clean, in {} (found as the test set)",
                p.display()
            )?;
        }
        if let Some((p, n)) = &self.test2 {
            writeln!(
                f,
                "  test-2: {n} watermarked test images in {} (accuracy on it = attack success)",
                p.display()
            )?;
        }
        for n in &self.notes {
            writeln!(f, "  note: {n}")?;
        }
        Ok(())
    }
}

/// Refuse an output folder that exists and is not empty, is not a folder, or lies inside one
/// of `inputs` (a data path: its folder, or a file's folder).
pub fn check_output(dst: &Path, inputs: &[&Path]) -> Result<()> {
    check_new_folder(dst).map_err(|_| {
        Error::data(
            dst,
            if dst.is_dir() {
                "is not empty; give a new or empty folder (corrupt never overwrites)"
            } else {
                "exists and is not a folder; give a new or empty folder"
            },
        )
    })?;
    let d = resolve_path(dst);
    for input in inputs {
        let root = if input.is_file() {
            input.parent().unwrap_or(Path::new("."))
        } else {
            input
        };
        let r = resolve_path(root);
        if d.starts_with(&r) {
            return Err(Error::data(
                dst,
                format!(
                    "is inside the source {}; write the corrupted copy elsewhere",
                    root.display()
                ),
            ));
        }
    }
    Ok(())
}

/// Write the samples of `c` at `paths` (relative, '/'), `truth.csv`, the `extra` files, and a
/// folder for every class (empty ones too, so the class list survives) into `dir`.
fn fill(dir: &Path, c: &Corrupted, paths: &[String], extra: &[(&str, Vec<u8>)]) -> Result<()> {
    for f in folder_names(&c.data.classes) {
        let p = dir.join(f);
        std::fs::create_dir_all(&p).map_err(|e| Error::io(&p, e))?;
    }
    let shape = c.data.shape;
    (0..c.len())
        .into_par_iter()
        .try_for_each(|i| -> Result<()> {
            let p = dir.join(&paths[i]);
            let png = encode_png(c.data.image(i), shape).map_err(|m| Error::data(&p, m))?;
            std::fs::write(&p, png).map_err(|e| Error::io(&p, e))
        })?;
    let truth = truth::to_csv(&c.truth_rows(paths));
    let p = dir.join("truth.csv");
    std::fs::write(&p, truth).map_err(|e| Error::io(&p, e))?;
    for (name, bytes) in extra {
        let p = dir.join(name);
        std::fs::write(&p, bytes).map_err(|e| Error::io(&p, e))?;
    }
    Ok(())
}

/// Write `c` as the image folder `dst` (+ truth.csv + `extra` files at its root), atomically.
/// `dst` must not exist or be empty. Returns each sample's path relative to `dst`.
pub fn write_folder(
    c: &Corrupted,
    dst: &Path,
    seed: u64,
    extra: &[(&str, Vec<u8>)],
) -> Result<Vec<String>> {
    check_output(dst, &[])?;
    let paths = c.file_paths(seed);
    let staged = StagedDir::new(dst)?;
    fill(staged.path(), c, &paths, extra)?;
    staged.commit()?;
    Ok(paths)
}

/// The test-2 folder that goes with a backdoor set written to `out`: `<out>-test2`.
pub fn test2_path(out: &Path) -> Result<PathBuf> {
    beside(out, "-test2")
}

/// The clean test split copied beside a set written to `out`: `<out>-test`.
pub fn test_path(out: &Path) -> Result<PathBuf> {
    beside(out, "-test")
}

fn beside(out: &Path, suffix: &str) -> Result<PathBuf> {
    let name = out
        .file_name()
        .ok_or_else(|| Error::data(out, "has no folder name"))?;
    let mut n = name.to_os_string();
    n.push(suffix);
    Ok(out.with_file_name(n))
}

fn check_args(a: &CorruptSpec) -> Result<()> {
    let no = |flag: &str, what: &str| {
        Err(Error::Config(format!(
            "{flag} does not apply to {} noise{what}",
            a.noise
        )))
    };
    if a.perm.is_some() && a.noise != NoiseKind::Systematic {
        return no("--perm", "");
    }
    if a.mix.is_some() && a.noise != NoiseKind::Spurious {
        return no("--mix", "");
    }
    if a.test_src.is_some() && a.noise != NoiseKind::Backdoor {
        return no("--test-src", "");
    }
    match a.noise {
        NoiseKind::Random if a.dst_class.is_some() => {
            return no(
                "--dst-class",
                " (it picks a random other class; use systematic)",
            )
        }
        NoiseKind::Spurious if a.dst_class.is_some() => return no("--dst-class", ""),
        NoiseKind::Systematic if a.dst_class.is_some() && a.src_class.is_none() => {
            return Err(Error::Config("--dst-class needs --src-class".into()))
        }
        NoiseKind::Systematic if a.dst_class.is_some() && a.perm.is_some() => {
            return Err(Error::Config(
                "give either --perm or --src-class/--dst-class".into(),
            ))
        }
        NoiseKind::Backdoor if a.src_class.is_none() || a.dst_class.is_none() => {
            return Err(Error::Config(
                "backdoor noise needs --src-class (watermarked) and --dst-class (target)".into(),
            ))
        }
        NoiseKind::Spurious if a.src_class.is_none() => {
            return Err(Error::Config(
                "spurious noise needs --src-class (the main class)".into(),
            ))
        }
        _ => {}
    }
    check_rate(a.rate, a.noise != NoiseKind::Spurious)?;
    if a.limit == Some(0) {
        return Err(Error::Config("--limit must be at least 1".into()));
    }
    Ok(())
}

/// `itlm-inspector corrupt`: load SRC, corrupt it, write DST (and DST-test2 for backdoor).
pub fn run(a: &CorruptSpec) -> Result<CorruptReport> {
    check_args(a)?;
    let mut inputs: Vec<&Path> = vec![&a.src];
    inputs.extend(a.mix.as_deref());
    inputs.extend(a.test_src.as_deref());
    check_output(&a.out, &inputs)?;
    let test2_dir = if a.noise == NoiseKind::Backdoor {
        let p = test2_path(&a.out)?;
        check_output(&p, &inputs)?;
        Some(p)
    } else {
        None
    };
    let test_dir = if a.noise == NoiseKind::Spurious {
        None
    } else {
        let p = test_path(&a.out)?;
        check_output(&p, &inputs)?;
        Some(p)
    };

    let opts = LoadOptions {
        columns: a.columns.clone(),
        ..LoadOptions::default()
    };
    let loaded = data::load(&a.src, &opts)?;
    let mut train = loaded.train;
    if train.is_empty() {
        return Err(Error::data(&a.src, "no images found"));
    }
    // Every kind of noise here is one of labels or classes.
    if train.is_unlabelled() {
        return Err(Error::data(
            &a.src,
            "an unlabelled set (images directly in its folder, no class subfolders): corrupt \
             makes label noise, backdoors and spurious images between classes; put the images \
             in class subfolders or give a labels CSV",
        ));
    }
    let mut notes = Vec::new();
    if !train.skipped.is_empty() {
        notes.push(format!(
            "{} unreadable files in the source were left out",
            train.skipped.len()
        ));
    }
    if let Some(n) = a.limit {
        train = train.limit(n, a.seed);
    }
    // The source's test split, copied clean beside the set (its classes and size as the set's).
    let test_copy = match (&test_dir, &loaded.test) {
        (Some(dir), Some(t)) => {
            let mut t = t.clone();
            align_test(&mut t, &train.classes, train.shape)?;
            Some((dir.clone(), Corrupted::clean(t)))
        }
        _ => None,
    };
    // A source corrupted before brings its truth.csv: carried over into the new one.
    let source_truth = match data::default_truth_path(&a.src) {
        Some(p) => Some(truth::resolve(&truth::read(&p)?, &train).info),
        None => None,
    };
    let mut start = |train: Dataset| {
        let mut c = Corrupted::clean(train);
        if let Some(t) = &source_truth {
            let bad = c.carry_truth(t);
            notes.push(format!(
                "the source's truth.csv is carried over: {bad} samples were already bad \
                 (they keep their true label and kind and are not corrupted again)"
            ));
        }
        c
    };
    let original_classes = train.classes.clone();
    let k = train.num_classes();
    let class = |s: &Option<String>| {
        s.as_deref()
            .map(|s| class_index(&original_classes, s))
            .transpose()
    };
    let src_class = class(&a.src_class)?;
    let dst_class = class(&a.dst_class)?;
    let mut spurious_origins = BTreeMap::new();
    let mut test2 = None;

    let corrupted = match a.noise {
        NoiseKind::Systematic => {
            let mut perm: Vec<u32> = match &a.perm {
                Some(p) => {
                    // A class map, not only a permutation: the asymmetric noise of the
                    // literature sends several classes into one (MNIST's 2 -> 7, 7 -> 1).
                    if p.len() != k || p.iter().any(|&x| x >= k) {
                        return Err(Error::Config(format!(
                            "--perm maps each class to the label its flipped samples get: {k} entries, each in 0..{} (a class mapped to itself stays clean), got {p:?}",
                            k.saturating_sub(1)
                        )));
                    }
                    if src_class.is_none()
                        && dst_class.is_none()
                        && p.iter().enumerate().all(|(c, &x)| c == x)
                    {
                        return Err(Error::Config(format!(
                            "--perm {p:?} maps every class to itself: nothing would be flipped"
                        )));
                    }
                    p.iter().map(|&x| x as u32).collect()
                }
                None => (0..k as u32).map(|c| (c + 1) % k as u32).collect(),
            };
            if let (Some(s), Some(d)) = (src_class, dst_class) {
                if s == d {
                    return Err(Error::Config(
                        "--src-class and --dst-class are the same".into(),
                    ));
                }
                perm[s as usize] = d;
            }
            let mut c = start(train);
            c.flip_systematic(a.rate, &perm, src_class, a.seed)?;
            c
        }
        NoiseKind::Random => {
            let mut c = start(train);
            c.flip_random(a.rate, src_class, a.seed)?;
            c
        }
        NoiseKind::Backdoor => {
            let (Some(from), Some(to)) = (src_class, dst_class) else {
                return Err(Error::Config(
                    "backdoor noise needs --src-class and --dst-class".into(),
                ));
            };
            let mark = Watermark {
                shape: a.shape,
                size: a
                    .mark_size
                    .unwrap_or_else(|| Watermark::default_size(train.shape)),
                position: a.position,
                value: a.mark_value,
            };
            mark.check(train.shape)?;
            let test = match &a.test_src {
                Some(p) => Some(data::load_test(p, &opts)?),
                None => loaded.test,
            };
            let mut c = start(train);
            c.backdoor(a.rate, from, to, &mark, a.seed)?;
            match (test, &test2_dir) {
                (Some(t), Some(dir)) => {
                    let t2 =
                        backdoor_test_set(t, &original_classes, c.data.shape, from, to, &mark)?;
                    if t2.is_empty() {
                        notes.push(format!(
                            "the test split has no '{}' images: no test-2 folder written",
                            original_classes[from as usize]
                        ));
                    } else {
                        test2 = Some((dir.clone(), t2));
                    }
                }
                _ => notes.push(
                    "the source has no test split: no test-2 folder written (pass --test-src)"
                        .into(),
                ),
            }
            c
        }
        NoiseKind::Spurious => {
            if source_truth.as_ref().is_some_and(|t| t.bad.contains(&true)) {
                notes.push(
                    "the source's truth.csv is not carried into a spurious set: it describes \
                     only the images mixed in now"
                        .into(),
                );
            }
            let main_class = src_class.unwrap_or(0);
            let c = match &a.mix {
                Some(p) => {
                    let mut pool = data::load(p, &opts)?.train;
                    pool.conform_to(train.shape);
                    let idx: Vec<usize> = (0..pool.len()).collect();
                    Corrupted::spurious(&train, main_class, &pool, &idx, a.rate, a.seed)?
                }
                None => {
                    let idx: Vec<usize> = (0..train.len())
                        .filter(|&i| train.label(i) != main_class)
                        .collect();
                    Corrupted::spurious(&train, main_class, &train, &idx, a.rate, a.seed)?
                }
            };
            for (o, k) in c.origins.iter().zip(&c.kinds) {
                if *k == SampleKind::Spurious {
                    *spurious_origins.entry(o.clone()).or_insert(0) += 1;
                }
            }
            c
        }
    };

    // Build everything in temporary siblings, then move it into place.
    let paths = corrupted.file_paths(a.seed);
    let staged = StagedDir::new(&a.out)?;
    fill(staged.path(), &corrupted, &paths, &[])?;
    let staged2 = match &test2 {
        Some((dir, t2)) => {
            let s = StagedDir::new(dir)?;
            fill(s.path(), t2, &t2.file_paths(a.seed), &[])?;
            Some(s)
        }
        None => None,
    };
    let staged_test = match &test_copy {
        Some((dir, t)) => {
            let s = StagedDir::new(dir)?;
            fill(s.path(), t, &t.file_paths(a.seed), &[])?;
            Some(s)
        }
        None => None,
    };
    // The companions first: a failure of the set itself removes them again.
    let mut companions = Vec::new();
    for s in [staged2, staged_test].into_iter().flatten() {
        match s.commit() {
            Ok(p) => companions.push(p),
            Err(e) => {
                companions.iter().for_each(|p| {
                    let _ = std::fs::remove_dir_all(p);
                });
                return Err(e);
            }
        }
    }
    if let Err(e) = staged.commit() {
        for p in &companions {
            let _ = std::fs::remove_dir_all(p);
        }
        return Err(e);
    }

    let (kinds, classes) = corrupted.summary();
    Ok(CorruptReport {
        noise: a.noise,
        out: a.out.clone(),
        shape: corrupted.data.shape,
        kinds,
        classes,
        spurious_origins,
        test2: test2.map(|(p, t2)| (p, t2.len())),
        test: test_copy.map(|(p, t)| (p, t.len())),
        notes,
    })
}

/// [`test2_set`] of a test split given by path: its classes aligned with the training set's
/// and its images conformed to `shape` first; with its truth, for writing `<DST>-test2/`.
fn backdoor_test_set(
    mut test: Dataset,
    classes: &[String],
    shape: ImageShape,
    from: u32,
    to: u32,
    mark: &Watermark,
) -> Result<Corrupted> {
    align_test(&mut test, classes, shape)?;
    let t = test2_set(&test, from, to, mark)?;
    let n = t.len();
    let origins = vec![classes[from as usize].clone(); n];
    Ok(Corrupted {
        data: t,
        true_labels: vec![from; n],
        kinds: vec![SampleKind::Backdoor; n],
        origins,
    })
}

/// Align a test split's classes with the set's (by name, or by folder name for a test folder
/// written by `corrupt`) and conform its images to the set's size.
fn align_test(test: &mut Dataset, classes: &[String], shape: ImageShape) -> Result<()> {
    if test.align_classes(classes).is_err() {
        test.align_classes(&folder_names(classes))?;
        test.classes = classes.to_vec();
    }
    test.conform_to(shape);
    Ok(())
}

#[cfg(test)]
mod tests;
