//! Test fixtures shared by the data and session tests: small in-memory sets, IDX directories
//! on disk, and readers of what a command wrote.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::truth::{self, TruthRow};
use super::{Dataset, ImageShape, Source};

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

pub(crate) fn idx_bytes(dims: &[u32], data: &[u8]) -> Vec<u8> {
    let mut b = vec![0, 0, 8, dims.len() as u8];
    for d in dims {
        b.extend_from_slice(&d.to_be_bytes());
    }
    b.extend_from_slice(data);
    b
}

/// Write `<prefix>-images-idx3-ubyte` + labels for a set built by [`mem_set`].
pub(crate) fn write_idx(dir: &Path, prefix: &str, d: &Dataset) {
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
pub(crate) fn snapshot(root: &Path) -> Vec<(PathBuf, u64, std::time::SystemTime)> {
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

pub(crate) fn file_bytes(root: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
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

pub(crate) fn read_truth(root: &Path) -> Vec<TruthRow> {
    truth::parse(&std::fs::read_to_string(root.join("truth.csv")).unwrap()).unwrap()
}

/// Only what `names` lists lives in `dir` (no temporary leftovers).
pub(crate) fn assert_dir_holds(dir: &Path, names: &[&str]) {
    let mut found: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    found.sort();
    let mut want: Vec<String> = names.iter().map(|s| s.to_string()).collect();
    want.sort();
    assert_eq!(found, want);
}
