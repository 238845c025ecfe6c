//! The corruption model: [`Corrupted`] applies label noise, backdoor watermarks or a spurious
//! mix-in to an in-memory [`Dataset`] (exact counts, seeded) and keeps the truth about every
//! sample. The `corrupt` command that writes such a set as a new image folder is
//! `session::corrupt`.

use super::encode::folder_names;
use super::truth::{self, TruthRow};
use super::watermark::Watermark;
use super::{Dataset, Source};
use crate::error::{Error, Result};
use crate::rng::Rng;

/// What `corrupt` does to the source.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NoiseKind {
    Systematic,
    Random,
    Backdoor,
    Spurious,
}

crate::choice!(NoiseKind, "noise", {
    Systematic => "systematic", "Class c to perm(c) (default c+1 mod k) for a share of every class (or of --src-class)";
    Random => "random", "A share of every class (or of --src-class) to a uniformly random other class";
    Backdoor => "backdoor", "Stamp a watermark on a share of --src-class and relabel it --dst-class";
    Spurious => "spurious", "Add images of other classes (or of --mix) to --src-class, unlabelled setting";
});

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

const STREAM_SYSTEMATIC: u64 = 0x5157_0000;
const STREAM_RANDOM: u64 = 0x7A4D_0000;
const STREAM_BACKDOOR: u64 = 0xBAC0_0000;
const STREAM_SPURIOUS: u64 = 0x05B0_0000;
const STREAM_SERIAL: u64 = 0x5E71_0000;

/// `round(rate * n)`: how many of `n` samples a rate affects.
pub fn share(rate: f64, n: usize) -> usize {
    (rate * n as f64).round() as usize
}

pub fn check_rate(rate: f64, max_inclusive: bool) -> Result<()> {
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
    /// the class they were put in (the set has no class for them; their kind marks them bad,
    /// and truth.csv names their origin).
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
    pub fn carry_truth(&mut self, t: &super::truth::TruthInfo) -> usize {
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

    /// truth.csv rows for the files at `paths`, sorted by path. A spurious image's true label
    /// is the class it was drawn from (its origin, a class the set does not have), not the
    /// class it was put in.
    pub fn truth_rows(&self, paths: &[String]) -> Vec<TruthRow> {
        let folders = folder_names(&self.data.classes);
        let mut rows: Vec<TruthRow> = (0..self.len())
            .map(|i| TruthRow {
                path: paths[i].clone(),
                true_label: if self.kinds[i] == SampleKind::Spurious {
                    self.origins[i].clone()
                } else {
                    folders[self.true_labels[i] as usize].clone()
                },
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

#[cfg(test)]
mod tests;
