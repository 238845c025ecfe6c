//! The `corrupt` command: make a NEW image folder with label noise, backdoor watermarks or a
//! spurious mix-in, plus the `truth.csv` that says which samples were made bad.
//!
//! The work is split in two: [`Corrupted`] applies noise to an in-memory [`Dataset`] (exact
//! counts, seeded), and [`write_folder`] / [`run`] write it as `DST/<given class>/<serial>.png`
//! with a seeded shuffled serial, so a file's name says nothing about its truth. The folder is
//! built in a hidden temporary sibling and renamed into place at the end, so a failure never
//! leaves a half-written DST, and the source is never written to.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use rayon::prelude::*;

use super::truth::{self, TruthRow};
use super::watermark::{MarkShape, Position, Watermark};
use super::{Dataset, ImageShape, LoadOptions, Source};
use crate::error::{Error, Result};
use crate::outputs::{self, StagedDir};
use crate::rng::Rng;

/// What `corrupt` does to the source.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum NoiseKind {
    /// Class c to perm(c) (default c+1 mod k) for a share of every class (or of --src-class).
    Systematic,
    /// A share of every class (or of --src-class) to a uniformly random other class.
    Random,
    /// Stamp a watermark on a share of --src-class and relabel it --dst-class.
    Backdoor,
    /// Add images of other classes (or of --mix) to --src-class, unlabelled setting.
    Spurious,
}

impl std::fmt::Display for NoiseKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            NoiseKind::Systematic => "systematic",
            NoiseKind::Random => "random",
            NoiseKind::Backdoor => "backdoor",
            NoiseKind::Spurious => "spurious",
        })
    }
}

/// What a sample of a corrupted set is (the `kind` column of truth.csv).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum SampleKind {
    Clean,
    Random,
    Systematic,
    Backdoor,
    Spurious,
}

impl SampleKind {
    pub const ALL: [SampleKind; 5] = [
        SampleKind::Clean,
        SampleKind::Random,
        SampleKind::Systematic,
        SampleKind::Backdoor,
        SampleKind::Spurious,
    ];

    /// The name truth.csv uses (one of [`truth::KINDS`]).
    pub fn as_str(self) -> &'static str {
        truth::KINDS[self as usize]
    }
}

/// `itlm-inspector corrupt`: write a corrupted copy of a dataset as a new image folder.
#[derive(clap::Args, Debug, Clone)]
pub struct CorruptArgs {
    /// Source: image folder, IDX directory (MNIST / Fashion-MNIST) or CIFAR-10 directory.
    /// It is only read.
    pub src: PathBuf,
    /// New folder to create (must not exist or be empty, and must not be inside SRC).
    #[arg(long)]
    pub out: PathBuf,
    /// Kind of corruption.
    #[arg(long, value_enum)]
    pub noise: NoiseKind,
    /// Share of each affected class made bad (spurious: share of the result that is spurious).
    #[arg(long)]
    pub rate: f64,
    /// Class to corrupt (name or index): systematic/random restrict to it; backdoor: class
    /// watermarked; spurious: the main class.
    #[arg(long)]
    pub src_class: Option<String>,
    /// Target class (name or index): systematic with --src-class, or the backdoor's target.
    #[arg(long)]
    pub dst_class: Option<String>,
    /// Systematic: explicit permutation of class indices, e.g. 1,2,0 (class c -> perm[c]).
    #[arg(long, value_delimiter = ',')]
    pub perm: Option<Vec<usize>>,
    /// Backdoor watermark shape.
    #[arg(long, value_enum, ignore_case = true, default_value_t = MarkShape::X)]
    pub shape: MarkShape,
    /// Backdoor watermark position: corner (bottom-right), center, or ROW,COL of its top-left.
    #[arg(long, default_value_t = Position::Corner)]
    pub position: Position,
    /// Backdoor watermark size in pixels (default: a seventh of the shorter side, at least 3).
    #[arg(long)]
    pub mark_size: Option<usize>,
    /// Backdoor watermark value written to every channel (255: bright).
    #[arg(long, default_value_t = 255)]
    pub mark_value: u8,
    /// Spurious: draw the spurious images from this data path instead of SRC's other classes.
    #[arg(long)]
    pub mix: Option<PathBuf>,
    /// Backdoor: test images for the test-2 set (default: SRC's test split, e.g. t10k). The
    /// test-2 set goes to `<OUT>-test2/`: every test image of --src-class, watermarked, under
    /// the --dst-class folder, with an empty folder for every other class so that it loads
    /// with OUT's class names (loaders also align a test set's classes by name).
    #[arg(long)]
    pub test_src: Option<PathBuf>,
    /// Use a seeded random subset of N samples of SRC.
    #[arg(long)]
    pub limit: Option<usize>,
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
}

impl CorruptArgs {
    /// Arguments with defaults for everything but the essentials (for tests and callers).
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
        }
    }
}

const STREAM_SYSTEMATIC: u64 = 0x5157_0000;
const STREAM_RANDOM: u64 = 0x7A4D_0000;
const STREAM_BACKDOOR: u64 = 0xBAC0_0000;
const STREAM_SPURIOUS: u64 = 0x05B0_0000;
const STREAM_SERIAL: u64 = 0x5E71_0000;

/// `round(rate * n)`: how many of `n` samples a rate affects.
pub fn share(rate: f64, n: usize) -> usize {
    (rate * n as f64).round() as usize
}

fn check_rate(rate: f64, max_inclusive: bool) -> Result<()> {
    let ok = rate.is_finite()
        && rate >= 0.0
        && if max_inclusive {
            rate <= 1.0
        } else {
            rate < 1.0
        };
    if ok {
        Ok(())
    } else {
        Err(Error::Config(format!(
            "rate {rate}: must be in [0, 1{}",
            if max_inclusive { "]" } else { ")" }
        )))
    }
}

/// A dataset with noise applied, and the truth about every sample.
#[derive(Clone, Debug)]
pub struct Corrupted {
    /// The samples with their given (possibly wrong) labels and (possibly stamped) pixels.
    pub data: Dataset,
    /// The true class of each sample, an index into `data.classes`. For spurious samples it is
    /// the class they were put in (the set has no class for them; their kind marks them bad).
    pub true_labels: Vec<u32>,
    pub kinds: Vec<SampleKind>,
    /// Name of the class each sample was drawn from (a spurious sample's real class).
    pub origins: Vec<String>,
}

impl Corrupted {
    /// Every sample clean.
    pub fn clean(data: Dataset) -> Self {
        let origins = data
            .labels()
            .iter()
            .map(|&l| data.classes[l as usize].clone())
            .collect();
        Self {
            true_labels: data.labels().to_vec(),
            kinds: vec![SampleKind::Clean; data.len()],
            origins,
            data,
        }
    }

    /// Carry over the ground truth the source set already had (a set corrupted before): each
    /// sample's true label and kind, so that samples that were bad stay marked bad and are not
    /// picked again by the new corruption. Returns how many samples were already bad.
    pub fn carry_truth(&mut self, t: &crate::export::TruthInfo) -> usize {
        let mut bad = 0;
        for i in 0..self.len() {
            if let Some(&Some(l)) = t.true_label.get(i) {
                if let Some(name) = self.data.classes.get(l as usize) {
                    self.true_labels[i] = l;
                    self.origins[i] = name.clone();
                }
            }
            let kind = t
                .kind
                .get(i)
                .and_then(|k| SampleKind::ALL.into_iter().find(|s| s.as_str() == k));
            if let Some(k) = kind {
                self.kinds[i] = k;
            }
            if self.kinds[i] != SampleKind::Clean {
                bad += 1;
            }
        }
        bad
    }

    pub fn len(&self) -> usize {
        self.data.len()
    }

    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }

    /// Samples whose true class is `class`.
    fn class_size(&self, class: u32) -> usize {
        self.true_labels.iter().filter(|&&l| l == class).count()
    }

    /// `round(rate * n_class)` still-clean samples of `class`, chosen with `rng`.
    fn pick(&self, class: u32, rate: f64, rng: &mut Rng) -> Result<Vec<usize>> {
        let want = share(rate, self.class_size(class));
        let cand: Vec<usize> = (0..self.len())
            .filter(|&i| self.true_labels[i] == class && self.kinds[i] == SampleKind::Clean)
            .collect();
        if want > cand.len() {
            return Err(Error::Config(format!(
                "class '{}': {want} samples wanted but only {} are still clean",
                self.data.classes[class as usize],
                cand.len()
            )));
        }
        Ok(rng
            .sample_indices(cand.len(), want)
            .into_iter()
            .map(|j| cand[j])
            .collect())
    }

    /// The classes a label-noise call touches: `only` (checked), else every class.
    fn classes_to_corrupt(&self, only: Option<u32>) -> Result<Vec<u32>> {
        match only {
            Some(c) => {
                self.check_class(c)?;
                Ok(vec![c])
            }
            None => Ok((0..self.data.num_classes() as u32).collect()),
        }
    }

    fn check_class(&self, c: u32) -> Result<()> {
        if (c as usize) < self.data.num_classes() {
            Ok(())
        } else {
            Err(Error::Config(format!(
                "class {c}: the set has {} classes",
                self.data.num_classes()
            )))
        }
    }

    /// Systematic noise: in each class c (or only `only`), exactly round(rate * n_c) clean
    /// samples get label `perm[c]`. Classes with `perm[c] == c` stay clean.
    pub fn flip_systematic(
        &mut self,
        rate: f64,
        perm: &[u32],
        only: Option<u32>,
        seed: u64,
    ) -> Result<usize> {
        check_rate(rate, true)?;
        let k = self.data.num_classes();
        if perm.len() != k || perm.iter().any(|&p| p as usize >= k) {
            return Err(Error::Config(format!(
                "the class map has {} entries for {k} classes",
                perm.len()
            )));
        }
        let classes = self.classes_to_corrupt(only)?;
        let mut flipped = 0;
        for c in classes {
            let to = perm[c as usize];
            if to == c {
                continue;
            }
            let mut rng = Rng::derive(seed, STREAM_SYSTEMATIC + c as u64);
            for i in self.pick(c, rate, &mut rng)? {
                self.data.set_label(i, to);
                self.kinds[i] = SampleKind::Systematic;
                flipped += 1;
            }
        }
        Ok(flipped)
    }

    /// Random noise: in each class c (or only `only`), exactly round(rate * n_c) clean samples
    /// get a uniformly random other class.
    pub fn flip_random(&mut self, rate: f64, only: Option<u32>, seed: u64) -> Result<usize> {
        check_rate(rate, true)?;
        let k = self.data.num_classes();
        if k < 2 {
            return Err(Error::Config(
                "random label noise needs at least 2 classes".into(),
            ));
        }
        let classes = self.classes_to_corrupt(only)?;
        let mut flipped = 0;
        for c in classes {
            let mut rng = Rng::derive(seed, STREAM_RANDOM + c as u64);
            for i in self.pick(c, rate, &mut rng)? {
                let mut to = rng.below(k - 1) as u32;
                if to >= c {
                    to += 1;
                }
                self.data.set_label(i, to);
                self.kinds[i] = SampleKind::Random;
                flipped += 1;
            }
        }
        Ok(flipped)
    }

    /// Backdoor: round(rate * n_from) clean samples of `from` get `mark` and label `to`.
    pub fn backdoor(
        &mut self,
        rate: f64,
        from: u32,
        to: u32,
        mark: &Watermark,
        seed: u64,
    ) -> Result<usize> {
        check_rate(rate, true)?;
        self.check_class(from)?;
        self.check_class(to)?;
        if from == to {
            return Err(Error::Config(
                "the backdoor's source and target class are the same".into(),
            ));
        }
        mark.check(self.data.shape)?;
        let shape = self.data.shape;
        let mut rng = Rng::derive(seed, STREAM_BACKDOOR + from as u64);
        let picked = self.pick(from, rate, &mut rng)?;
        for &i in &picked {
            mark.stamp(self.data.image_mut(i), shape)?;
            self.data.set_label(i, to);
            self.kinds[i] = SampleKind::Backdoor;
        }
        Ok(picked.len())
    }

    /// The paper's unsupervised setting: every sample of `main`'s class `class`, plus
    /// round(rate * n / (1 - rate)) images drawn from `pool[pool_idx]`, all in one class named
    /// after `class`, so that the spurious share of the result is `rate`. `pool` must have
    /// `main`'s image shape.
    pub fn spurious(
        main: &Dataset,
        class: u32,
        pool: &Dataset,
        pool_idx: &[usize],
        rate: f64,
        seed: u64,
    ) -> Result<Self> {
        check_rate(rate, false)?;
        if class as usize >= main.num_classes() {
            return Err(Error::Config(format!(
                "class {class}: the set has {} classes",
                main.num_classes()
            )));
        }
        if pool.shape != main.shape {
            return Err(Error::Config(format!(
                "spurious images are {} but the main images are {}",
                pool.shape, main.shape
            )));
        }
        let mains: Vec<usize> = (0..main.len())
            .filter(|&i| main.label(i) == class)
            .collect();
        if mains.is_empty() {
            return Err(Error::Config(format!(
                "class '{}' has no samples",
                main.classes[class as usize]
            )));
        }
        let want = (rate * mains.len() as f64 / (1.0 - rate)).round() as usize;
        if want > pool_idx.len() {
            return Err(Error::Config(format!(
                "{want} spurious images wanted but only {} are available",
                pool_idx.len()
            )));
        }
        let mut rng = Rng::derive(seed, STREAM_SPURIOUS);
        let drawn: Vec<usize> = rng
            .sample_indices(pool_idx.len(), want)
            .into_iter()
            .map(|j| pool_idx[j])
            .collect();
        let n = mains.len() + drawn.len();
        let mut pixels = Vec::with_capacity(n * main.shape.len());
        let mut ids = Vec::with_capacity(n);
        let mut origins = Vec::with_capacity(n);
        for &i in &mains {
            pixels.extend_from_slice(main.image(i));
            ids.push(main.id(i).to_string());
            origins.push(main.classes[class as usize].clone());
        }
        for &i in &drawn {
            pixels.extend_from_slice(pool.image(i));
            ids.push(format!("{}:{}", pool.name, pool.id(i)));
            origins.push(pool.classes[pool.label(i) as usize].clone());
        }
        let data = Dataset::from_parts(
            main.name.clone(),
            Source::Memory,
            vec![main.classes[class as usize].clone()],
            main.shape,
            pixels,
            vec![0; n],
            ids,
        )?;
        let mut kinds = vec![SampleKind::Clean; mains.len()];
        kinds.resize(n, SampleKind::Spurious);
        Ok(Self {
            data,
            true_labels: vec![0; n],
            kinds,
            origins,
        })
    }

    /// Where each sample goes: `<folder of its given class>/<serial>.png`, the serial a seeded
    /// shuffle of 0..n zero-padded to a common width.
    pub fn file_paths(&self, seed: u64) -> Vec<String> {
        let n = self.len();
        let folders = folder_names(&self.data.classes);
        let mut serial: Vec<usize> = (0..n).collect();
        Rng::derive(seed, STREAM_SERIAL).shuffle(&mut serial);
        let width = n.saturating_sub(1).to_string().len();
        (0..n)
            .map(|i| {
                format!(
                    "{}/{:0width$}.png",
                    folders[self.data.label(i) as usize],
                    serial[i]
                )
            })
            .collect()
    }

    /// truth.csv rows for the files at `paths`, sorted by path.
    pub fn truth_rows(&self, paths: &[String]) -> Vec<TruthRow> {
        let folders = folder_names(&self.data.classes);
        let mut rows: Vec<TruthRow> = (0..self.len())
            .map(|i| TruthRow {
                path: paths[i].clone(),
                true_label: folders[self.true_labels[i] as usize].clone(),
                kind: Some(self.kinds[i].as_str().to_string()),
            })
            .collect();
        rows.sort_by(|a, b| a.path.cmp(&b.path));
        rows
    }

    /// The set as the image-folder loader reads it back from [`write_folder`]'s output:
    /// classes = folder names sorted, samples sorted by path, ids = paths. With its truth rows.
    pub fn as_written(&self, seed: u64) -> Result<(Dataset, Vec<TruthRow>)> {
        let paths = self.file_paths(seed);
        let folders = folder_names(&self.data.classes);
        let mut sorted = folders.clone();
        sorted.sort();
        let new_label: Vec<u32> = folders
            .iter()
            .map(|f| sorted.iter().position(|s| s == f).unwrap_or(0) as u32)
            .collect();
        let mut order: Vec<usize> = (0..self.len()).collect();
        order.sort_by(|&a, &b| paths[a].cmp(&paths[b]));
        let mut pixels = Vec::with_capacity(self.data.pixel_bytes());
        for &i in &order {
            pixels.extend_from_slice(self.data.image(i));
        }
        let data = Dataset::from_parts(
            self.data.name.clone(),
            Source::Memory,
            sorted,
            self.data.shape,
            pixels,
            order
                .iter()
                .map(|&i| new_label[self.data.label(i) as usize])
                .collect(),
            order.iter().map(|&i| paths[i].clone()).collect(),
        )?;
        Ok((data, self.truth_rows(&paths)))
    }

    /// Counts per kind and per class (classes by given label).
    pub fn summary(&self) -> (KindCounts, Vec<ClassReport>) {
        let folders = folder_names(&self.data.classes);
        let mut total = KindCounts::default();
        let mut classes: Vec<ClassReport> = folders
            .iter()
            .map(|name| ClassReport {
                name: name.clone(),
                ..Default::default()
            })
            .collect();
        for i in 0..self.len() {
            let k = self.kinds[i];
            total.add(k);
            let c = &mut classes[self.data.label(i) as usize];
            c.files += 1;
            c.kinds.add(k);
            if k != SampleKind::Clean && k != SampleKind::Spurious {
                classes[self.true_labels[i] as usize].relabelled_away += 1;
            }
        }
        (total, classes)
    }
}

/// Samples per kind.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct KindCounts {
    pub clean: usize,
    pub random: usize,
    pub systematic: usize,
    pub backdoor: usize,
    pub spurious: usize,
}

impl KindCounts {
    pub fn add(&mut self, k: SampleKind) {
        *self.get_mut(k) += 1;
    }

    pub fn get(&self, k: SampleKind) -> usize {
        match k {
            SampleKind::Clean => self.clean,
            SampleKind::Random => self.random,
            SampleKind::Systematic => self.systematic,
            SampleKind::Backdoor => self.backdoor,
            SampleKind::Spurious => self.spurious,
        }
    }

    fn get_mut(&mut self, k: SampleKind) -> &mut usize {
        match k {
            SampleKind::Clean => &mut self.clean,
            SampleKind::Random => &mut self.random,
            SampleKind::Systematic => &mut self.systematic,
            SampleKind::Backdoor => &mut self.backdoor,
            SampleKind::Spurious => &mut self.spurious,
        }
    }

    pub fn total(&self) -> usize {
        SampleKind::ALL.iter().map(|&k| self.get(k)).sum()
    }

    /// Not clean.
    pub fn bad(&self) -> usize {
        self.total() - self.clean
    }
}

impl std::fmt::Display for KindCounts {
    /// "clean 540, systematic 60" (kinds with a zero count left out).
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let parts: Vec<String> = SampleKind::ALL
            .iter()
            .filter(|&&k| self.get(k) > 0)
            .map(|&k| format!("{} {}", k.as_str(), self.get(k)))
            .collect();
        if parts.is_empty() {
            f.write_str("none")
        } else {
            f.write_str(&parts.join(", "))
        }
    }
}

/// One class folder of a corrupted set.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ClassReport {
    /// Folder name (the class name made safe for a file system).
    pub name: String,
    /// Files in the folder (samples given this label).
    pub files: usize,
    /// Those files by kind.
    pub kinds: KindCounts,
    /// Samples truly of this class written under another class's folder.
    pub relabelled_away: usize,
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
        write_class_table(f, &self.classes)?;
        if !self.spurious_origins.is_empty() {
            let parts: Vec<String> = self
                .spurious_origins
                .iter()
                .map(|(c, n)| format!("{c} {n}"))
                .collect();
            writeln!(f, "  spurious images came from: {}", parts.join(", "))?;
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

/// The per-class table of a report: files per class folder by kind, and samples moved out.
pub fn write_class_table(
    f: &mut std::fmt::Formatter<'_>,
    classes: &[ClassReport],
) -> std::fmt::Result {
    let w = classes
        .iter()
        .map(|c| c.name.chars().count())
        .max()
        .unwrap_or(5)
        .max(5);
    writeln!(
        f,
        "  {:<w$} {:>7} {:>7} {:>7} {:>10} {:>8} {:>8} {:>10}",
        "class", "files", "clean", "random", "systematic", "backdoor", "spurious", "moved out"
    )?;
    for c in classes {
        let k = &c.kinds;
        writeln!(
            f,
            "  {:<w$} {:>7} {:>7} {:>7} {:>10} {:>8} {:>8} {:>10}",
            c.name,
            c.files,
            k.clean,
            k.random,
            k.systematic,
            k.backdoor,
            k.spurious,
            c.relabelled_away
        )?;
    }
    Ok(())
}

/// A class name made safe as a folder name: path separators, reserved and control characters
/// become '_', surrounding spaces and trailing dots go, a leading '.' gets a '_' before it.
pub fn folder_name(name: &str) -> String {
    let s: String = name
        .chars()
        .map(|c| {
            if c.is_control() || matches!(c, '/' | '\\' | ':' | '*' | '?' | '"' | '<' | '>' | '|') {
                '_'
            } else {
                c
            }
        })
        .collect();
    let s = s.trim().trim_end_matches('.').trim_end();
    if s.is_empty() {
        "class".into()
    } else if s.starts_with('.') {
        format!("_{s}")
    } else {
        s.to_string()
    }
}

/// Folder names for classes: [`folder_name`], made unique (ignoring case, for case-insensitive
/// file systems) by appending `_2`, `_3`, ...
pub fn folder_names(classes: &[String]) -> Vec<String> {
    let mut out: Vec<String> = Vec::with_capacity(classes.len());
    for c in classes {
        let base = folder_name(c);
        let mut name = base.clone();
        let mut n = 2;
        while out.iter().any(|o| o.to_lowercase() == name.to_lowercase()) {
            name = format!("{base}_{n}");
            n += 1;
        }
        out.push(name);
    }
    out
}

/// Find a class by name (exact, then ignoring case, also its folder name) or by index.
pub fn class_index(classes: &[String], s: &str) -> Result<u32> {
    let folders = folder_names(classes);
    let t = s.trim();
    let found = classes
        .iter()
        .position(|c| c == t)
        .or_else(|| folders.iter().position(|c| c == t))
        .or_else(|| classes.iter().position(|c| c.eq_ignore_ascii_case(t)))
        .or_else(|| folders.iter().position(|c| c.eq_ignore_ascii_case(t)))
        .or_else(|| t.parse::<usize>().ok().filter(|&i| i < classes.len()));
    found.map(|i| i as u32).ok_or_else(|| {
        Error::Config(format!(
            "no class '{s}': the classes are {}",
            classes
                .iter()
                .enumerate()
                .map(|(i, c)| format!("{i}:{c}"))
                .collect::<Vec<_>>()
                .join(", ")
        ))
    })
}

/// PNG bytes of an H x W x C (1 or 3) image, best compression.
pub fn encode_png(pixels: &[u8], shape: ImageShape) -> std::result::Result<Vec<u8>, String> {
    use image::codecs::png::{CompressionType, FilterType, PngEncoder};
    use image::{ExtendedColorType, ImageEncoder};
    let color = match shape.channels {
        1 => ExtendedColorType::L8,
        3 => ExtendedColorType::Rgb8,
        c => return Err(format!("{c} channels cannot be written as PNG")),
    };
    let mut buf = Vec::new();
    PngEncoder::new_with_quality(&mut buf, CompressionType::Best, FilterType::Adaptive)
        .write_image(pixels, shape.width as u32, shape.height as u32, color)
        .map_err(|e| e.to_string())?;
    Ok(buf)
}

/// Refuse an output folder that exists and is not empty, is not a folder, or lies inside one
/// of `inputs` (a data path: its folder, or a file's folder).
pub fn check_output(dst: &Path, inputs: &[&Path]) -> Result<()> {
    outputs::check_new_folder(dst).map_err(|_| {
        Error::data(
            dst,
            if dst.is_dir() {
                "is not empty; give a new or empty folder (corrupt never overwrites)"
            } else {
                "exists and is not a folder; give a new or empty folder"
            },
        )
    })?;
    let d = outputs::resolve_path(dst);
    for input in inputs {
        let root = if input.is_file() {
            input.parent().unwrap_or(Path::new("."))
        } else {
            input
        };
        let r = outputs::resolve_path(root);
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
    let name = out
        .file_name()
        .ok_or_else(|| Error::data(out, "has no folder name"))?;
    let mut n = name.to_os_string();
    n.push("-test2");
    Ok(out.with_file_name(n))
}

fn check_args(a: &CorruptArgs) -> Result<()> {
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
pub fn run(a: &CorruptArgs) -> Result<CorruptReport> {
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

    let opts = LoadOptions::default();
    let loaded = super::load(&a.src, &opts)?;
    let mut train = loaded.train;
    if train.is_empty() {
        return Err(Error::data(&a.src, "no images found"));
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
    // A source corrupted before brings its truth.csv: carried over into the new one.
    let source_truth = match super::default_truth_path(&a.src) {
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
                    let mut seen = vec![false; k];
                    if p.len() != k
                        || p.iter()
                            .any(|&x| x >= k || std::mem::replace(&mut seen[x], true))
                    {
                        return Err(Error::Config(format!(
                            "--perm must be a permutation of 0..{} ({k} classes), got {p:?}",
                            k.saturating_sub(1)
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
                Some(p) => Some(super::load_test(p, &opts)?),
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
                    let mut pool = super::load(p, &opts)?.train;
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
    let test2_written = match staged2 {
        Some(s) => Some(s.commit()?),
        None => None,
    };
    if let Err(e) = staged.commit() {
        if let Some(p) = &test2_written {
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
        notes,
    })
}

/// A backdoor's test-2 set: every image of class `from` in `test`, stamped with `mark` and
/// labelled `to`; a classifier's accuracy on it is the attack's success rate.
pub fn test2_set(test: &Dataset, from: u32, to: u32, mark: &Watermark) -> Result<Dataset> {
    let idx: Vec<usize> = (0..test.len()).filter(|&i| test.label(i) == from).collect();
    let mut t = test.subset(&idx);
    t.source = Source::Memory;
    let shape = t.shape;
    for i in 0..t.len() {
        mark.stamp(t.image_mut(i), shape)?;
        t.set_label(i, to);
    }
    Ok(t)
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
    if test.align_classes(classes).is_err() {
        // A test folder written by `corrupt` names its classes by folder name.
        test.align_classes(&folder_names(classes))?;
        test.classes = classes.to_vec();
    }
    test.conform_to(shape);
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

#[cfg(test)]
pub(crate) mod tests {
    use std::collections::{BTreeMap, BTreeSet};

    use super::*;

    /// An in-memory set with `counts[c]` samples of class c, every image different.
    pub(crate) fn mem_set(counts: &[usize], shape: ImageShape) -> Dataset {
        let mut labels = Vec::new();
        for (c, &n) in counts.iter().enumerate() {
            labels.extend(std::iter::repeat_n(c as u32, n));
        }
        let n = labels.len();
        let pixels = (0..n * shape.len())
            .map(|j| ((j / shape.len()) * 7 + (j % shape.len()) * 3) as u8 % 251)
            .collect();
        Dataset::from_parts(
            "mem",
            Source::Memory,
            (0..counts.len()).map(|c| format!("c{c}")).collect(),
            shape,
            pixels,
            labels,
            (0..n).map(|i| format!("s{i}")).collect(),
        )
        .unwrap()
    }

    fn kinds_by_true_class(c: &Corrupted, kind: SampleKind) -> Vec<usize> {
        let mut v = vec![0; c.data.num_classes()];
        for i in 0..c.len() {
            if c.kinds[i] == kind {
                v[c.true_labels[i] as usize] += 1;
            }
        }
        v
    }

    #[test]
    fn systematic_exact_counts() {
        let d = mem_set(&[10, 20, 7], ImageShape::new(2, 2, 1));
        let mut c = Corrupted::clean(d.clone());
        let n = c.flip_systematic(0.3, &[1, 2, 0], None, 5).unwrap();
        // round(3.0), round(6.0), round(2.1)
        assert_eq!(n, 11);
        assert_eq!(kinds_by_true_class(&c, SampleKind::Systematic), [3, 6, 2]);
        for i in 0..c.len() {
            let t = c.true_labels[i];
            assert_eq!(t, d.label(i));
            let want = if c.kinds[i] == SampleKind::Systematic {
                (t + 1) % 3
            } else {
                t
            };
            assert_eq!(c.data.label(i), want);
        }
        // pixels untouched
        assert_eq!(c.data.pixels(), d.pixels());
    }

    #[test]
    fn systematic_one_class_and_fixed_points() {
        let d = mem_set(&[10, 20, 8], ImageShape::new(2, 2, 1));
        let mut c = Corrupted::clean(d.clone());
        c.flip_systematic(0.25, &[0, 0, 1], Some(2), 1).unwrap();
        assert_eq!(kinds_by_true_class(&c, SampleKind::Systematic), [0, 0, 2]);
        assert_eq!(c.data.class_counts(), [10, 22, 6]);
        // perm[c] == c leaves the class clean
        let mut c = Corrupted::clean(d);
        c.flip_systematic(0.5, &[0, 2, 1], None, 1).unwrap();
        assert_eq!(kinds_by_true_class(&c, SampleKind::Systematic), [0, 10, 4]);
        assert!(c.flip_systematic(0.5, &[0, 1], None, 1).is_err());
        assert!(c.flip_systematic(1.5, &[0, 1, 2], None, 1).is_err());
    }

    #[test]
    fn random_exact_counts_to_other_classes() {
        let d = mem_set(&[40, 30, 25, 5], ImageShape::new(2, 2, 3));
        let mut c = Corrupted::clean(d);
        assert_eq!(c.flip_random(0.2, None, 9).unwrap(), 8 + 6 + 5 + 1);
        assert_eq!(kinds_by_true_class(&c, SampleKind::Random), [8, 6, 5, 1]);
        let mut targets = BTreeSet::new();
        for i in 0..c.len() {
            let (t, g) = (c.true_labels[i], c.data.label(i));
            if c.kinds[i] == SampleKind::Random {
                assert_ne!(t, g);
                targets.insert(g);
            } else {
                assert_eq!(t, g);
            }
        }
        assert_eq!(targets.len(), 4, "every class receives some flips");
        // a second pass only picks still-clean samples
        c.flip_random(0.5, Some(0), 2).unwrap();
        assert_eq!(kinds_by_true_class(&c, SampleKind::Random)[0], 8 + 20);
        assert!(
            c.flip_random(0.5, Some(0), 3).is_err(),
            "only 12 clean left"
        );
    }

    #[test]
    fn backdoor_stamps_and_relabels() {
        let shape = ImageShape::new(8, 8, 3);
        let d = mem_set(&[10, 10, 10], shape);
        let mark = Watermark::new(MarkShape::L, 3);
        let mut c = Corrupted::clean(d.clone());
        assert_eq!(c.backdoor(0.35, 0, 2, &mark, 4).unwrap(), 4);
        let mut stamped = d.image(0).to_vec();
        for i in 0..c.len() {
            if c.kinds[i] == SampleKind::Backdoor {
                assert_eq!((c.true_labels[i], c.data.label(i)), (0, 2));
                stamped.copy_from_slice(d.image(i));
                mark.stamp(&mut stamped, shape).unwrap();
                assert_eq!(c.data.image(i), &stamped[..]);
                assert_ne!(c.data.image(i), d.image(i));
            } else {
                assert_eq!(c.data.image(i), d.image(i));
                assert_eq!(c.data.label(i), d.label(i));
            }
        }
        assert!(c.backdoor(0.1, 1, 1, &mark, 4).is_err());
        assert!(c
            .backdoor(0.1, 1, 0, &Watermark::new(MarkShape::X, 8), 4)
            .is_err());
    }

    #[test]
    fn spurious_share() {
        let d = mem_set(&[30, 20, 20], ImageShape::new(2, 2, 1));
        let others: Vec<usize> = (30..70).collect();
        let c = Corrupted::spurious(&d, 0, &d, &others, 0.25, 3).unwrap();
        // 30 main + round(0.25 * 30 / 0.75) = 10 spurious: 25% of 40
        assert_eq!(c.len(), 40);
        assert_eq!(c.data.classes, ["c0"]);
        assert_eq!(c.data.labels(), &[0; 40][..]);
        assert_eq!(
            c.kinds
                .iter()
                .filter(|&&k| k == SampleKind::Spurious)
                .count(),
            10
        );
        for i in 0..40 {
            if c.kinds[i] == SampleKind::Spurious {
                assert_ne!(c.origins[i], "c0");
            } else {
                assert_eq!(c.origins[i], "c0");
            }
        }
        assert!(Corrupted::spurious(&d, 0, &d, &others[..5], 0.25, 3).is_err());
        assert!(Corrupted::spurious(&d, 0, &d, &others, 1.0, 3).is_err());
    }

    #[test]
    fn file_names_hide_the_truth() {
        let d = mem_set(&[60, 60], ImageShape::new(2, 2, 1));
        let mut c = Corrupted::clean(d);
        c.flip_systematic(0.5, &[1, 0], None, 0).unwrap();
        let paths = c.file_paths(7);
        assert_eq!(paths.len(), 120);
        assert_eq!(paths.iter().collect::<BTreeSet<_>>().len(), 120);
        let serial = |p: &str| -> usize { p[3..6].parse().unwrap() };
        assert!(paths.iter().all(|p| p.ends_with(".png") && p.len() == 10));
        // serials are a permutation, and not in sample order
        let s: Vec<usize> = paths.iter().map(|p| serial(p)).collect();
        assert_ne!(s, (0..120).collect::<Vec<_>>());
        assert_eq!(s.iter().collect::<BTreeSet<_>>().len(), 120);
        assert_ne!(c.file_paths(8), paths);
        let (view, rows) = c.as_written(7).unwrap();
        assert_eq!(view.ids().len(), 120);
        assert!(view.ids().windows(2).all(|w| w[0] < w[1]));
        assert_eq!(
            rows.iter().map(|r| &r.path).collect::<Vec<_>>(),
            view.ids().iter().collect::<Vec<_>>()
        );
        let r = truth::resolve(&rows, &view);
        assert_eq!(r.info.bad.iter().filter(|&&b| b).count(), 60);
        assert_eq!(r.missing + r.unknown_paths + r.unknown_labels, 0);
    }

    #[test]
    fn folder_names_are_safe_and_unique() {
        let names: Vec<String> = [
            "a/b",
            "A/B",
            "..",
            " .hidden",
            "ok.",
            "",
            "x:y*",
            "Ankle boot",
        ]
        .map(String::from)
        .to_vec();
        assert_eq!(
            folder_names(&names),
            [
                "a_b",
                "A_B_2",
                "class",
                "_.hidden",
                "ok",
                "class_2",
                "x_y_",
                "Ankle boot"
            ]
        );
        let classes: Vec<String> = ["T-shirt", "Ankle boot"].map(String::from).to_vec();
        assert_eq!(class_index(&classes, "ankle BOOT").unwrap(), 1);
        assert_eq!(class_index(&classes, "0").unwrap(), 0);
        assert!(class_index(&classes, "Sneaker")
            .unwrap_err()
            .to_string()
            .contains("0:T-shirt, 1:Ankle boot"));
    }

    // ---- on disk ----------------------------------------------------------------------------

    fn idx_bytes(dims: &[u32], data: &[u8]) -> Vec<u8> {
        let mut b = vec![0, 0, 8, dims.len() as u8];
        for d in dims {
            b.extend_from_slice(&d.to_be_bytes());
        }
        b.extend_from_slice(data);
        b
    }

    /// Write `<prefix>-images-idx3-ubyte` + labels for a set built by [`mem_set`].
    fn write_idx(dir: &Path, prefix: &str, d: &Dataset) {
        let s = d.shape;
        let dims = [d.len() as u32, s.height as u32, s.width as u32];
        std::fs::write(
            dir.join(format!("{prefix}-images-idx3-ubyte")),
            idx_bytes(&dims, d.pixels()),
        )
        .unwrap();
        let labels: Vec<u8> = d.labels().iter().map(|&l| l as u8).collect();
        std::fs::write(
            dir.join(format!("{prefix}-labels-idx1-ubyte")),
            idx_bytes(&[d.len() as u32], &labels),
        )
        .unwrap();
    }

    /// An IDX directory: train = `train` per class, t10k = `test` per class, 8x8 gray.
    pub(crate) fn idx_fixture(dir: &Path, train: &[usize], test: &[usize]) -> (Dataset, Dataset) {
        std::fs::create_dir_all(dir).unwrap();
        let shape = ImageShape::new(8, 8, 1);
        let tr = mem_set(train, shape);
        let mut te = mem_set(test, shape);
        // test images differ from training images
        for i in 0..te.len() {
            for p in te.image_mut(i) {
                *p = p.wrapping_add(100);
            }
        }
        write_idx(dir, "train", &tr);
        write_idx(dir, "t10k", &te);
        (tr, te)
    }

    /// Every PNG under `root`: relative path -> decoded pixels (gray or RGB as stored).
    pub(crate) fn read_pngs(root: &Path) -> BTreeMap<String, Vec<u8>> {
        let mut out = BTreeMap::new();
        for e in walkdir::WalkDir::new(root) {
            let e = e.unwrap();
            if e.path().extension().is_some_and(|x| x == "png") {
                let rel = e.path().strip_prefix(root).unwrap();
                let rel = rel.to_string_lossy().replace('\\', "/");
                let img = image::open(e.path()).unwrap();
                let px = match img {
                    image::DynamicImage::ImageLuma8(g) => g.into_raw(),
                    other => other.to_rgb8().into_raw(),
                };
                out.insert(rel, px);
            }
        }
        out
    }

    /// Every file and folder under `root` with its size and mtime.
    fn snapshot(root: &Path) -> Vec<(PathBuf, u64, std::time::SystemTime)> {
        walkdir::WalkDir::new(root)
            .sort_by_file_name()
            .into_iter()
            .map(|e| {
                let e = e.unwrap();
                let m = e.metadata().unwrap();
                (e.path().to_path_buf(), m.len(), m.modified().unwrap())
            })
            .collect()
    }

    fn file_bytes(root: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
        walkdir::WalkDir::new(root)
            .into_iter()
            .map(|e| e.unwrap())
            .filter(|e| e.file_type().is_file())
            .map(|e| {
                (
                    e.path().strip_prefix(root).unwrap().to_path_buf(),
                    std::fs::read(e.path()).unwrap(),
                )
            })
            .collect()
    }

    fn read_truth(root: &Path) -> Vec<TruthRow> {
        truth::parse(&std::fs::read_to_string(root.join("truth.csv")).unwrap()).unwrap()
    }

    /// Only what `names` lists lives in `dir` (no temporary leftovers).
    fn assert_dir_holds(dir: &Path, names: &[&str]) {
        let mut found: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        found.sort();
        let mut want: Vec<String> = names.iter().map(|s| s.to_string()).collect();
        want.sort();
        assert_eq!(found, want);
    }

    #[test]
    fn run_systematic_writes_what_truth_says() {
        let tmp = tempfile::tempdir().unwrap();
        let src = tmp.path().join("src");
        let (train, _) = idx_fixture(&src, &[20, 10, 15], &[3, 3, 3]);
        let before = snapshot(&src);
        let out = tmp.path().join("out");
        let mut a = CorruptArgs::new(&src, &out, NoiseKind::Systematic, 0.3);
        a.seed = 3;
        let r = run(&a).unwrap();
        assert_eq!(snapshot(&src), before, "the source is untouched");
        assert_dir_holds(tmp.path(), &["src", "out"]);
        // round(6.0), round(3.0), round(4.5) = 5 (half away from zero)
        assert_eq!((r.kinds.clean, r.kinds.systematic), (31, 14));
        assert_eq!(
            r.classes
                .iter()
                .map(|c| (c.files, c.kinds.systematic, c.relabelled_away))
                .collect::<Vec<_>>(),
            [(14 + 5, 5, 6), (7 + 6, 6, 3), (10 + 3, 3, 5)]
        );
        assert_eq!(r.classes[0].name, "0");
        assert!(r.to_string().contains("systematic 14"));

        let files = read_pngs(&out);
        let rows = read_truth(&out);
        assert_eq!(rows.len(), 45);
        assert_eq!(
            rows.iter().map(|r| r.path.clone()).collect::<Vec<_>>(),
            files.keys().cloned().collect::<Vec<_>>(),
            "one truth row per file, sorted"
        );
        // each file is a source image of its true class; its folder is the given label
        let mut by_image: BTreeMap<&[u8], u32> = BTreeMap::new();
        for i in 0..train.len() {
            by_image.insert(train.image(i), train.label(i));
        }
        let mut flips = BTreeMap::new();
        for row in &rows {
            let px = &files[&row.path];
            let truth_class = by_image[px.as_slice()];
            assert_eq!(row.true_label, truth_class.to_string());
            let given: u32 = row.path.split('/').next().unwrap().parse().unwrap();
            match row.kind.as_deref() {
                Some("clean") => assert_eq!(given, truth_class),
                Some("systematic") => {
                    assert_eq!(given, (truth_class + 1) % 3);
                    *flips.entry(truth_class).or_insert(0) += 1;
                }
                k => panic!("unexpected kind {k:?}"),
            }
        }
        assert_eq!(flips.into_values().collect::<Vec<_>>(), [6, 3, 5]);
        assert_eq!(
            files.values().collect::<BTreeSet<_>>().len(),
            45,
            "every sample written once"
        );
    }

    #[test]
    fn run_is_deterministic_for_a_seed() {
        let tmp = tempfile::tempdir().unwrap();
        let src = tmp.path().join("src");
        idx_fixture(&src, &[12, 12, 12, 12], &[2, 2, 2, 2]);
        let go = |out: &str, seed: u64| {
            let mut a = CorruptArgs::new(&src, tmp.path().join(out), NoiseKind::Random, 0.25);
            a.seed = seed;
            a.limit = Some(40);
            run(&a).unwrap();
            file_bytes(&tmp.path().join(out))
        };
        let (a, b, c) = (go("a", 11), go("b", 11), go("c", 12));
        assert_eq!(a, b);
        assert_ne!(a, c);
        assert_eq!(a.len(), 41);
    }

    #[test]
    fn run_systematic_with_perm_and_one_class() {
        let tmp = tempfile::tempdir().unwrap();
        let src = tmp.path().join("src");
        idx_fixture(&src, &[10, 10, 10], &[1, 1, 1]);
        let mut a = CorruptArgs::new(&src, tmp.path().join("p"), NoiseKind::Systematic, 0.2);
        a.perm = Some(vec![2, 0, 1]);
        let r = run(&a).unwrap();
        let moved: Vec<usize> = r.classes.iter().map(|c| c.relabelled_away).collect();
        assert_eq!(moved, [2, 2, 2]);
        assert_eq!(r.classes[2].kinds.systematic, 2, "0 -> 2");
        let rows = read_truth(&tmp.path().join("p"));
        assert!(rows
            .iter()
            .filter(|r| r.kind.as_deref() == Some("systematic"))
            .all(|r| r.path.starts_with(match r.true_label.as_str() {
                "0" => "2/",
                "1" => "0/",
                _ => "1/",
            })));
        let mut a = CorruptArgs::new(&src, tmp.path().join("q"), NoiseKind::Systematic, 0.5);
        a.src_class = Some("1".into());
        a.dst_class = Some("0".into());
        let r = run(&a).unwrap();
        assert_eq!(r.kinds.systematic, 5);
        assert_eq!(r.classes[0].kinds.systematic, 5);
        a.out = tmp.path().join("r");
        a.perm = Some(vec![1, 1, 0]);
        assert!(run(&a).is_err());
        a.dst_class = None;
        assert!(run(&a).unwrap_err().to_string().contains("permutation"));
        assert!(!tmp.path().join("r").exists());
    }

    #[test]
    fn run_backdoor_writes_test2() {
        let tmp = tempfile::tempdir().unwrap();
        let src = tmp.path().join("src");
        let (train, test) = idx_fixture(&src, &[20, 20, 20], &[4, 6, 5]);
        let out = tmp.path().join("bd");
        let mut a = CorruptArgs::new(&src, &out, NoiseKind::Backdoor, 0.25);
        a.src_class = Some("1".into());
        a.dst_class = Some("2".into());
        let r = run(&a).unwrap();
        let t2 = tmp.path().join("bd-test2");
        assert_eq!(r.test2, Some((t2.clone(), 6)));
        assert_eq!(r.kinds.backdoor, 5);
        assert_eq!(r.classes[2].files, 25);
        assert_dir_holds(tmp.path(), &["src", "bd", "bd-test2"]);

        let mark = Watermark::new(MarkShape::X, 3);
        let shape = ImageShape::new(8, 8, 1);
        let stamp = |px: &[u8]| {
            let mut v = px.to_vec();
            mark.stamp(&mut v, shape).unwrap();
            v
        };
        // training set: backdoor files are stamped class-1 images under folder 2
        let stamped_train: BTreeSet<Vec<u8>> = (0..train.len())
            .filter(|&i| train.label(i) == 1)
            .map(|i| stamp(train.image(i)))
            .collect();
        let files = read_pngs(&out);
        for row in read_truth(&out) {
            if row.kind.as_deref() == Some("backdoor") {
                assert_eq!(row.true_label, "1");
                assert!(row.path.starts_with("2/"));
                assert!(stamped_train.contains(&files[&row.path]));
            }
        }
        // test-2: every class folder, only the target's filled, with every stamped test image of 1
        assert_dir_holds(&t2, &["0", "1", "2", "truth.csv"]);
        assert_eq!(std::fs::read_dir(t2.join("0")).unwrap().count(), 0);
        assert_eq!(std::fs::read_dir(t2.join("1")).unwrap().count(), 0);
        let got: BTreeSet<Vec<u8>> = read_pngs(&t2)
            .into_iter()
            .map(|(p, px)| {
                assert!(p.starts_with("2/"));
                px
            })
            .collect();
        let want: BTreeSet<Vec<u8>> = (0..test.len())
            .filter(|&i| test.label(i) == 1)
            .map(|i| stamp(test.image(i)))
            .collect();
        assert_eq!(got, want);
        let rows = read_truth(&t2);
        assert_eq!(rows.len(), 6);
        assert!(rows
            .iter()
            .all(|r| r.true_label == "1" && r.kind.as_deref() == Some("backdoor")));

        // a second run may not overwrite either folder
        let e = run(&a).unwrap_err().to_string();
        assert!(e.contains("not empty"), "{e}");
        std::fs::remove_dir_all(&out).unwrap();
        let e = run(&a).unwrap_err().to_string();
        assert!(e.contains("bd-test2") && e.contains("not empty"), "{e}");
        assert!(!out.exists());
    }

    #[test]
    fn run_backdoor_with_test_src_and_options() {
        let tmp = tempfile::tempdir().unwrap();
        let src = tmp.path().join("src");
        idx_fixture(&src, &[10, 10], &[3, 3]);
        let other = tmp.path().join("other");
        idx_fixture(&other, &[7, 7], &[1, 1]);
        let mut a = CorruptArgs::new(&src, tmp.path().join("o"), NoiseKind::Backdoor, 0.5);
        a.src_class = Some("0".into());
        a.dst_class = Some("1".into());
        a.test_src = Some(other.clone());
        a.shape = MarkShape::L;
        a.position = Position::Center;
        a.mark_size = Some(4);
        a.mark_value = 0;
        let r = run(&a).unwrap();
        // --test-src: its test split (t10k, 1 image of class 0)
        assert_eq!(r.test2.as_ref().map(|t| t.1), Some(1));
        let mark = Watermark {
            position: Position::Center,
            value: 0,
            ..Watermark::new(MarkShape::L, 4)
        };
        let files = read_pngs(&tmp.path().join("o"));
        let (r0, c0) = mark.origin(ImageShape::new(8, 8, 1)).unwrap();
        for row in read_truth(&tmp.path().join("o")) {
            if row.kind.as_deref() == Some("backdoor") {
                let px = &files[&row.path];
                for (r, c) in mark.offsets() {
                    assert_eq!(px[(r0 + r) * 8 + c0 + c], 0);
                }
            }
        }
        a.out = tmp.path().join("o2");
        a.mark_size = Some(9);
        assert!(run(&a).unwrap_err().to_string().contains("does not fit"));
        assert!(!tmp.path().join("o2").exists());
    }

    #[test]
    fn run_spurious_from_other_classes_and_from_mix() {
        let tmp = tempfile::tempdir().unwrap();
        let src = tmp.path().join("src");
        idx_fixture(&src, &[30, 30, 30], &[1, 1, 1]);
        let mut a = CorruptArgs::new(&src, tmp.path().join("s"), NoiseKind::Spurious, 0.25);
        a.src_class = Some("2".into());
        let r = run(&a).unwrap();
        assert_eq!((r.kinds.clean, r.kinds.spurious), (30, 10));
        assert_eq!(r.classes.len(), 1);
        assert_eq!(r.classes[0].name, "2");
        assert_eq!(r.spurious_origins.values().sum::<usize>(), 10);
        assert!(!r.spurious_origins.contains_key("2"));
        assert_dir_holds(&tmp.path().join("s"), &["2", "truth.csv"]);
        let rows = read_truth(&tmp.path().join("s"));
        assert_eq!(rows.len(), 40);
        assert!(rows.iter().all(|r| r.true_label == "2"));
        assert_eq!(
            rows.iter()
                .filter(|r| r.kind.as_deref() == Some("spurious"))
                .count(),
            10
        );

        // from another data set, RGB-converted images would be conformed; here same shape
        let mix = tmp.path().join("mix");
        let (m, _) = idx_fixture(&mix, &[3, 3], &[1, 1]);
        let mix_images: BTreeSet<Vec<u8>> = (0..m.len()).map(|i| m.image(i).to_vec()).collect();
        a.out = tmp.path().join("m");
        a.mix = Some(mix);
        a.rate = 0.1;
        let r = run(&a).unwrap();
        assert_eq!((r.kinds.clean, r.kinds.spurious), (30, 3));
        let files = read_pngs(&tmp.path().join("m"));
        for row in read_truth(&tmp.path().join("m")) {
            let from_mix = mix_images.contains(&files[&row.path]);
            assert_eq!(from_mix, row.kind.as_deref() == Some("spurious"));
        }
        // more than the mix holds
        a.out = tmp.path().join("n");
        a.rate = 0.5;
        assert!(run(&a)
            .unwrap_err()
            .to_string()
            .contains("only 6 are available"));
        assert!(!tmp.path().join("n").exists());
    }

    #[test]
    fn refuses_unsafe_outputs() {
        let tmp = tempfile::tempdir().unwrap();
        let src = tmp.path().join("src");
        idx_fixture(&src, &[5, 5], &[1, 1]);
        let before = snapshot(&src);
        let go = |out: PathBuf| {
            run(&CorruptArgs::new(&src, out, NoiseKind::Random, 0.2))
                .unwrap_err()
                .to_string()
        };
        // inside the source, directly, through '..', or through a symlink
        assert!(go(src.join("out")).contains("inside the source"));
        assert!(go(src.clone()).contains("not empty"));
        assert!(go(tmp.path().join("x/../src/deeper/out")).contains("inside the source"));
        #[cfg(unix)]
        {
            std::os::unix::fs::symlink(&src, tmp.path().join("link")).unwrap();
            assert!(go(tmp.path().join("link/out")).contains("inside the source"));
        }
        // a non-empty folder, a file
        let full = tmp.path().join("full");
        std::fs::create_dir(&full).unwrap();
        std::fs::write(full.join("keep.txt"), "mine").unwrap();
        assert!(go(full.clone()).contains("not empty"));
        assert_eq!(
            std::fs::read_to_string(full.join("keep.txt")).unwrap(),
            "mine"
        );
        assert!(go(full.join("keep.txt")).contains("not a folder"));
        assert_eq!(snapshot(&src), before);
        // an empty folder is fine and gets filled
        let empty = tmp.path().join("empty");
        std::fs::create_dir(&empty).unwrap();
        run(&CorruptArgs::new(&src, &empty, NoiseKind::Random, 0.2)).unwrap();
        assert_eq!(read_pngs(&empty).len(), 10);
        // relative paths are resolved against the working directory
        assert!(
            check_output(Path::new("../zz-absent/x"), &[Path::new("..")])
                .unwrap_err()
                .to_string()
                .contains("inside the source")
        );
    }

    #[test]
    fn argument_errors() {
        let tmp = tempfile::tempdir().unwrap();
        let out = tmp.path().join("o");
        let src = tmp.path().join("src");
        idx_fixture(&src, &[5, 5], &[1, 1]);
        let err = |f: &dyn Fn(&mut CorruptArgs), noise: NoiseKind| {
            let mut a = CorruptArgs::new(&src, &out, noise, 0.2);
            f(&mut a);
            run(&a).unwrap_err().to_string()
        };
        assert!(err(&|a| a.perm = Some(vec![1, 0]), NoiseKind::Random).contains("--perm"));
        assert!(err(&|a| a.dst_class = Some("1".into()), NoiseKind::Random).contains("--dst-class"));
        assert!(
            err(&|a| a.dst_class = Some("1".into()), NoiseKind::Systematic).contains("--src-class")
        );
        assert!(err(&|_| {}, NoiseKind::Backdoor).contains("--src-class"));
        assert!(err(&|_| {}, NoiseKind::Spurious).contains("--src-class"));
        assert!(err(&|a| a.rate = 1.2, NoiseKind::Random).contains("rate"));
        assert!(err(&|a| a.limit = Some(0), NoiseKind::Random).contains("--limit"));
        assert!(
            err(&|a| a.src_class = Some("cat".into()), NoiseKind::Random)
                .contains("no class 'cat'")
        );
        assert!(!out.exists());
    }

    /// (The staging itself is tested in `outputs`.)
    #[test]
    fn write_folder_writes_classes_extras_and_truth_once() {
        let tmp = tempfile::tempdir().unwrap();
        let dst = tmp.path().join("d");
        let c = Corrupted::clean(mem_set(&[2, 1], ImageShape::new(3, 3, 3)));
        let paths = write_folder(&c, &dst, 0, &[("README.txt", b"hi".to_vec())]).unwrap();
        assert_eq!(paths.len(), 3);
        assert_dir_holds(&dst, &["c0", "c1", "README.txt", "truth.csv"]);
        let px = read_pngs(&dst);
        assert_eq!(px[&paths[2]], c.data.image(2));
        assert!(write_folder(&c, &dst, 0, &[]).is_err());
    }
}
