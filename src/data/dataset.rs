//! The in-memory dataset: every sample stored once as u8 (H x W x C), its given label and a
//! stable id. Tensors are built per batch from this storage.

use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::rng::Rng;

/// Size every image of a set is converted to (the model's input).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub struct ImageShape {
    pub height: usize,
    pub width: usize,
    /// 1 (grayscale) or 3 (RGB).
    pub channels: usize,
}

impl ImageShape {
    pub fn new(height: usize, width: usize, channels: usize) -> Self {
        Self {
            height,
            width,
            channels,
        }
    }

    /// Bytes per sample.
    pub fn len(&self) -> usize {
        self.height * self.width * self.channels
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl std::fmt::Display for ImageShape {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}x{}x{}", self.height, self.width, self.channels)
    }
}

/// Where the samples came from; decides how an id maps back to a file.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub enum Source {
    /// `root/<class>/<file>`; ids are paths relative to root with '/' separators.
    ImageFolder { root: PathBuf },
    /// IDX files (MNIST / Fashion-MNIST); ids are `<images file name>#<index>`.
    Idx { images: PathBuf },
    /// CIFAR-10 binary batches; ids are `<batch file name>#<index>`.
    Cifar { dir: PathBuf },
    /// Built in memory (tests, generators).
    Memory,
    /// A CSV file of `path,label` rows; ids are the image paths as written, relative to the
    /// file's folder ('/' separators), or absolute.
    LabelsCsv { file: PathBuf },
}

impl Source {
    /// The folder that ids are file paths under: an image folder's root, a labels CSV's
    /// folder; None where ids name no file (IDX, CIFAR-10, memory).
    pub fn files_root(&self) -> Option<PathBuf> {
        match self {
            Source::ImageFolder { root } => Some(root.clone()),
            Source::LabelsCsv { file } => Some(csv_folder(file)),
            Source::Idx { .. } | Source::Cifar { .. } | Source::Memory => None,
        }
    }
}

/// The folder a labels CSV's paths are relative to: the file's own ("." for a bare name).
pub fn csv_folder(file: &Path) -> PathBuf {
    match file.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

/// Whether `classes` are an unlabelled set's: the one class named `""` that a flat folder of
/// images loads with (no folder and no labels CSV row can name a class so). Its samples
/// train the generative mode and take the image checks; a classifier refuses them.
pub fn unlabelled(classes: &[String]) -> bool {
    matches!(classes, [c] if c.is_empty())
}

/// What a classifier says of an unlabelled set: where labels come from, and what runs
/// without them.
pub const UNLABELLED_CLASSIFY: &str = "the set is unlabelled (images directly in its folder, \
     no class subfolders): classify mode needs labels: put the images in class subfolders \
     (root/<class>/<image>), or give a labels CSV (path,label); or rank the images without \
     labels with the generative mode (run --mode generative; the window's mode generative)";

/// The pixel statistics of one image that the image checks read ([`super::quality`], which
/// computes them).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct PixelStats {
    /// Brightness percentiles, 0..1.
    pub brightness_p99: f32,
    pub brightness_p5: f32,
    /// Entropy of the histogram, bits.
    pub entropy: f32,
    /// Standard deviation of the edge image at most 64 pixels a side.
    pub edges_std: f32,
    /// Standard deviation of the grey histogram's 256 counts (at that size).
    pub grey_hist_std: f32,
    /// A 64-bit hash of the pixels, their size and channels (the exact-duplicate check).
    pub pixel_hash: u64,
    /// The 64-bit perceptual hash (imagehash's `phash`: the signs of the 8x8 lowest
    /// frequencies of the 32x32 grey image's DCT against their median; the near-duplicate
    /// check).
    pub phash: u64,
}

/// What a sample's file was before it was converted to the set's shape: its size and whether
/// it was stored grey (the image-property checks' file checks, [`super::quality`]).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Original {
    pub width: u32,
    pub height: u32,
    pub grey: bool,
    /// Whether the file's EXIF orientation turned or mirrored it (`width` and `height` are the
    /// upright image's, as every view of the sample shows it).
    pub turned: bool,
    /// The pixel checks' statistics of the file's own pixels, where the stored ones differ
    /// (another size, or a grey file stored as RGB); None where they are the same pixels.
    pub stats: Option<PixelStats>,
}

/// A file that could not be used, and why. Loading goes on without it.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Skipped {
    pub path: PathBuf,
    pub reason: String,
}

impl Skipped {
    /// What an image folder says of a class folder without a single file.
    pub const EMPTY_CLASS_FOLDER: &'static str = "empty class folder: not used as a class";

    /// A class folder with no file at all: worth saying of a training set, expected of an
    /// evaluation set (a test-2 folder holds one class; empty folders mirror the others).
    pub fn is_empty_class_folder(&self) -> bool {
        self.reason == Self::EMPTY_CLASS_FOLDER
    }

    /// What an image folder says of an image directly in it, beside its class folders.
    pub const LOOSE_IMAGE: &'static str = "an image directly in the dataset folder, beside its \
         class folders: in no class, not used (move it into its class folder)";

    /// An image directly in an image folder that has class folders: in no class.
    pub fn is_loose_image(&self) -> bool {
        self.reason == Self::LOOSE_IMAGE
    }
}

#[derive(Clone, Debug)]
pub struct Dataset {
    pub name: String,
    pub source: Source,
    pub classes: Vec<String>,
    pub shape: ImageShape,
    pixels: Vec<u8>,
    labels: Vec<u32>,
    ids: Vec<String>,
    /// Real file of each sample, relative to the source root, when an id cannot name its file
    /// (an id is a lossy UTF-8 string, a file name need not be UTF-8). Empty when every id is
    /// the file's relative path.
    files: Vec<PathBuf>,
    /// Each sample's file as it was ([`Original`]); empty when the set was not read from
    /// image files (IDX, CIFAR-10, memory).
    originals: Vec<Original>,
    /// Files found but not loaded (corrupt, unreadable, not an image, ...).
    pub skipped: Vec<Skipped>,
    /// The columns a labels CSV was read with, where they were given (to read it again).
    pub columns: super::labels_csv::Columns,
}

impl Dataset {
    /// Build a dataset from raw parts; checks that sizes and labels agree.
    pub fn from_parts(
        name: impl Into<String>,
        source: Source,
        classes: Vec<String>,
        shape: ImageShape,
        pixels: Vec<u8>,
        labels: Vec<u32>,
        ids: Vec<String>,
    ) -> Result<Self> {
        let name = name.into();
        let bad = |m: String| Error::data(PathBuf::from(&name), m);
        if shape.channels != 1 && shape.channels != 3 {
            return Err(bad(format!(
                "{} channels: only 1 or 3 are supported",
                shape.channels
            )));
        }
        if pixels.len() != labels.len() * shape.len() {
            return Err(bad(format!(
                "{} pixel bytes for {} samples of {shape}",
                pixels.len(),
                labels.len()
            )));
        }
        if ids.len() != labels.len() {
            return Err(bad(format!(
                "{} ids for {} labels",
                ids.len(),
                labels.len()
            )));
        }
        if let Some(&l) = labels.iter().find(|&&l| l as usize >= classes.len()) {
            return Err(bad(format!("label {l} but only {} classes", classes.len())));
        }
        Ok(Self {
            name,
            source,
            classes,
            shape,
            pixels,
            labels,
            ids,
            files: Vec::new(),
            originals: Vec::new(),
            skipped: Vec::new(),
            columns: Default::default(),
        })
    }

    /// Attach the real relative file path of every sample (see [`Dataset::file`]); needed when
    /// some file name is not valid UTF-8, so that its lossy id cannot be joined back to it.
    pub fn with_files(mut self, files: Vec<PathBuf>) -> Result<Self> {
        if files.len() != self.len() {
            return Err(Error::data(
                PathBuf::from(&self.name),
                format!("{} files for {} samples", files.len(), self.len()),
            ));
        }
        self.files = files;
        Ok(self)
    }

    /// Attach each sample's file as it was (its size and colour type, [`Original`]).
    pub fn with_originals(mut self, originals: Vec<Original>) -> Result<Self> {
        if originals.len() != self.len() {
            return Err(Error::data(
                PathBuf::from(&self.name),
                format!("{} file sizes for {} samples", originals.len(), self.len()),
            ));
        }
        self.originals = originals;
        Ok(self)
    }

    /// Each sample's file as it was; empty for sets not read from image files.
    pub fn originals(&self) -> &[Original] {
        &self.originals
    }

    /// The files worth naming when this set is an evaluation set: its skipped files but its
    /// empty class folders, which are expected there (a test-2 folder holds one class).
    pub fn eval_skipped(&self) -> impl Iterator<Item = &Skipped> {
        self.skipped.iter().filter(|s| !s.is_empty_class_folder())
    }

    pub fn len(&self) -> usize {
        self.labels.len()
    }

    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    pub fn num_classes(&self) -> usize {
        self.classes.len()
    }

    /// How many classes, in words ("3 classes", "1 class"), or "unlabelled".
    pub fn classes_text(&self) -> String {
        if self.is_unlabelled() {
            "unlabelled".into()
        } else {
            crate::plural(self.num_classes(), "class")
        }
    }

    /// How many images lie directly in the folder of a set that read as one class: a set
    /// that cannot be classified, which was likely meant as unlabelled images beside one
    /// ordinary subfolder (`thumbnails/`); None otherwise.
    pub fn one_class_beside_loose_images(&self) -> Option<usize> {
        if self.classes.len() != 1 || self.is_unlabelled() {
            return None;
        }
        let loose = self.skipped.iter().filter(|s| s.is_loose_image()).count();
        (loose > 0).then_some(loose)
    }

    /// What to say of a set that [`Dataset::one_class_beside_loose_images`]: it cannot be
    /// classified, and how to read it instead.
    pub fn one_class_note(&self) -> Option<String> {
        let loose = self.one_class_beside_loose_images()?;
        Some(format!(
            "{} read as a labelled set of one class, {:?} (its only subfolder), with {} directly \
             in the folder left out: one class cannot be classified. To rank every image \
             without labels, read the folder as unlabelled images (--unlabelled; the window's \
             \"Open as unlabelled images\"); to classify, put the images into class subfolders",
            self.name,
            self.classes[0],
            crate::plural(loose, "image"),
        ))
    }

    /// How many classes have at least one sample.
    pub fn classes_with_samples(&self) -> usize {
        self.class_counts().iter().filter(|&&k| k > 0).count()
    }

    /// Why a classifier cannot train on the set, None when it can: it is unlabelled, or fewer
    /// than two of its classes have a sample (one class folder; an IDX set whose labels are
    /// all one value). The generative mode needs no labels and trains on either.
    pub fn unclassifiable(&self) -> Option<String> {
        if self.is_unlabelled() {
            return Some(UNLABELLED_CLASSIFY.into());
        }
        // Two label values, found within the first few samples of a labelled set: asked every
        // frame by the window's Start, this stays clear of counting every label.
        if let Some(&first) = self.labels.first() {
            if self.labels.iter().any(|&l| l != first) {
                return None;
            }
        }
        // One label value (its class the only one with samples) or no sample at all.
        let only = self.labels.first().map(|&l| self.class_name(l));
        let empty = self.classes.len() - usize::from(only.is_some());
        let empty = if empty > 0 {
            format!(" ({} empty)", crate::plural(empty, "other class"))
        } else {
            String::new()
        };
        Some(match only {
            Some(c) => format!(
                "a classifier needs at least two classes with samples: only 1 class has \
                 samples ('{c}'){empty}"
            ),
            None => {
                format!("a classifier needs at least two classes with samples: none has{empty}")
            }
        })
    }

    /// Whether the set has no labels: a flat folder of images ([`unlabelled`]).
    pub fn is_unlabelled(&self) -> bool {
        unlabelled(&self.classes)
    }

    /// Sample `i`'s pixels, H x W x C, row-major.
    pub fn image(&self, i: usize) -> &[u8] {
        let n = self.shape.len();
        &self.pixels[i * n..(i + 1) * n]
    }

    pub fn pixels(&self) -> &[u8] {
        &self.pixels
    }

    pub fn label(&self, i: usize) -> u32 {
        self.labels[i]
    }

    pub fn labels(&self) -> &[u32] {
        &self.labels
    }

    pub fn id(&self, i: usize) -> &str {
        &self.ids[i]
    }

    pub fn ids(&self) -> &[String] {
        &self.ids
    }

    /// The file a sample was read from, when it has one of its own.
    pub fn file(&self, i: usize) -> Option<PathBuf> {
        let root = self.source.files_root()?;
        Some(match self.files.get(i) {
            Some(f) => root.join(f),
            None => root.join(&self.ids[i]),
        })
    }

    /// Number of samples per class.
    pub fn class_counts(&self) -> Vec<usize> {
        let mut c = vec![0; self.classes.len()];
        for &l in &self.labels {
            c[l as usize] += 1;
        }
        c
    }

    /// A new dataset holding the given samples, in the given order.
    pub fn subset(&self, indices: &[usize]) -> Dataset {
        let n = self.shape.len();
        let mut pixels = Vec::with_capacity(indices.len() * n);
        for &i in indices {
            pixels.extend_from_slice(self.image(i));
        }
        Dataset {
            name: self.name.clone(),
            source: self.source.clone(),
            classes: self.classes.clone(),
            shape: self.shape,
            pixels,
            labels: indices.iter().map(|&i| self.labels[i]).collect(),
            ids: indices.iter().map(|&i| self.ids[i].clone()).collect(),
            files: if self.files.is_empty() {
                Vec::new()
            } else {
                indices.iter().map(|&i| self.files[i].clone()).collect()
            },
            originals: if self.originals.is_empty() {
                Vec::new()
            } else {
                indices.iter().map(|&i| self.originals[i]).collect()
            },
            skipped: self.skipped.clone(),
            columns: self.columns.clone(),
        }
    }

    /// A seeded random subset of `limit` samples (kept in their original order); the whole set
    /// when `limit >= len`.
    pub fn limit(self, limit: usize, seed: u64) -> Dataset {
        if limit >= self.len() {
            return self;
        }
        let idx = Rng::derive(seed, 0x11_4175).sample_indices(self.len(), limit);
        self.subset(&idx)
    }

    /// Replace the given labels (used by corruption and tests).
    pub fn set_label(&mut self, i: usize, label: u32) {
        assert!((label as usize) < self.classes.len(), "label out of range");
        self.labels[i] = label;
    }

    /// Mutable pixels of sample `i` (used by watermarking).
    pub fn image_mut(&mut self, i: usize) -> &mut [u8] {
        let n = self.shape.len();
        &mut self.pixels[i * n..(i + 1) * n]
    }

    /// Index of a sample by id.
    pub fn index_of_ids(&self) -> std::collections::HashMap<&str, usize> {
        self.ids
            .iter()
            .enumerate()
            .map(|(i, s)| (s.as_str(), i))
            .collect()
    }

    /// Bytes held by the pixel storage.
    pub fn pixel_bytes(&self) -> usize {
        self.pixels.len()
    }

    /// A short human summary: "12000 images, 10 classes, 28x28x1, 3 files skipped" ("1 class").
    /// The name of class `c`, or "?" for a label outside the classes.
    pub fn class_name(&self, c: u32) -> &str {
        self.classes.get(c as usize).map_or("?", |s| s.as_str())
    }

    pub fn summary(&self) -> String {
        let mut s = format!(
            "{}, {}, {}",
            crate::plural(self.len(), "image"),
            self.classes_text(),
            self.shape
        );
        if !self.skipped.is_empty() {
            s.push_str(&format!(
                ", {} skipped",
                crate::plural(self.skipped.len(), "file")
            ));
        }
        s
    }

    /// Re-number labels so that class names match `classes` (a test set must use the training
    /// set's class indices). Fails on a class name the training set does not have.
    pub fn align_classes(&mut self, classes: &[String]) -> Result<()> {
        if self.classes == classes {
            return Ok(());
        }
        let mut map = Vec::with_capacity(self.classes.len());
        for c in &self.classes {
            match classes.iter().position(|t| t == c) {
                Some(j) => map.push(j as u32),
                None => {
                    return Err(Error::data(
                        PathBuf::from(&self.name),
                        format!(
                            "class '{c}' is not one of the training classes ({})",
                            classes.join(", ")
                        ),
                    ))
                }
            }
        }
        for l in &mut self.labels {
            *l = map[*l as usize];
        }
        self.classes = classes.to_vec();
        Ok(())
    }

    /// Convert every image to `shape` (resize with a triangle filter, gray <-> RGB).
    pub fn conform_to(&mut self, shape: ImageShape) {
        if self.shape == shape {
            return;
        }
        let old = self.shape;
        let mut pixels = Vec::with_capacity(self.len() * shape.len());
        for i in 0..self.len() {
            pixels.extend_from_slice(&convert_pixels(self.image(i), old, shape));
        }
        self.pixels = pixels;
        self.shape = shape;
    }

    /// Name shown for a path-like dataset root.
    pub fn name_for(path: &Path) -> String {
        path.file_name()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|| path.display().to_string())
    }
}

/// Sort class names as a user reads them: numerically when every name is an integer (`2`
/// before `10`, as cleanlab's integer labels and a `pred_probs` matrix's columns run), else by
/// name. A tie in value (`1`, `01`) falls back to the name, so the order is total.
pub fn sort_class_names<T: AsRef<std::ffi::OsStr>>(names: &mut [T]) {
    let value = |n: &T| n.as_ref().to_str().and_then(|s| s.parse::<i128>().ok());
    if names.iter().all(|n| value(n).is_some()) {
        names.sort_by(|a, b| {
            value(a)
                .cmp(&value(b))
                .then_with(|| a.as_ref().cmp(b.as_ref()))
        });
    } else {
        names.sort_by(|a, b| a.as_ref().cmp(b.as_ref()));
    }
}

/// Convert one H x W x C u8 image between shapes (resize + channel conversion).
pub fn convert_pixels(src: &[u8], from: ImageShape, to: ImageShape) -> Vec<u8> {
    use image::{imageops::FilterType, DynamicImage, GrayImage, RgbImage};
    let (w, h) = (from.width as u32, from.height as u32);
    let img = if from.channels == 1 {
        GrayImage::from_raw(w, h, src.to_vec()).map(DynamicImage::ImageLuma8)
    } else {
        RgbImage::from_raw(w, h, src.to_vec()).map(DynamicImage::ImageRgb8)
    };
    let Some(mut img) = img else {
        return vec![0; to.len()];
    };
    if (from.height, from.width) != (to.height, to.width) {
        img = img.resize_exact(to.width as u32, to.height as u32, FilterType::Triangle);
    }
    if to.channels == 1 {
        img.to_luma8().into_raw()
    } else {
        img.to_rgb8().into_raw()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integer_class_names_sort_by_value_others_by_name() {
        let mut n = vec!["10", "2", "1", "01", "-3"];
        sort_class_names(&mut n);
        assert_eq!(n, ["-3", "01", "1", "2", "10"]);
        let mut m = vec!["10", "2", "cat"];
        sort_class_names(&mut m);
        assert_eq!(m, ["10", "2", "cat"]);
    }

    fn tiny() -> Dataset {
        Dataset::from_parts(
            "t",
            Source::Memory,
            vec!["a".into(), "b".into()],
            ImageShape::new(2, 2, 1),
            (0..12).collect(),
            vec![0, 1, 1],
            vec!["x".into(), "y".into(), "z".into()],
        )
        .unwrap()
    }

    #[test]
    fn parts_are_checked() {
        let e = Dataset::from_parts(
            "t",
            Source::Memory,
            vec!["a".into()],
            ImageShape::new(2, 2, 1),
            vec![0; 4],
            vec![1],
            vec!["x".into()],
        );
        assert!(e.unwrap_err().to_string().contains("label 1"));
    }

    #[test]
    fn subset_and_limit() {
        let d = tiny();
        let s = d.subset(&[2, 0]);
        assert_eq!(s.labels(), &[1, 0]);
        assert_eq!(s.image(0), &[8, 9, 10, 11]);
        assert_eq!(s.id(1), "x");
        let l = d.clone().limit(2, 5);
        assert_eq!(l.len(), 2);
        assert_eq!(d.class_counts(), vec![1, 2]);
    }

    #[test]
    fn align_and_conform() {
        let mut d = tiny();
        d.align_classes(&["b".into(), "a".into(), "c".into()])
            .unwrap();
        assert_eq!(d.labels(), &[1, 0, 0]);
        assert!(d.align_classes(&["a".into()]).is_err());
        d.conform_to(ImageShape::new(4, 4, 3));
        assert_eq!(d.image(0).len(), 48);
    }
}
