//! CIFAR-10 binary batches: `data_batch_1.bin` .. `data_batch_5.bin` (train, any subset),
//! `test_batch.bin` (test) and `batches.meta.txt` (class names), as in `cifar-10-batches-bin/`.

use std::path::{Path, PathBuf};

use rayon::prelude::*;

use super::{Dataset, ImageShape, Loaded, Source};
use crate::error::{Error, Result};

/// CIFAR-10's class names, used when `batches.meta.txt` is missing.
pub const CIFAR10_CLASSES: [&str; 10] = [
    "airplane",
    "automobile",
    "bird",
    "cat",
    "deer",
    "dog",
    "frog",
    "horse",
    "ship",
    "truck",
];

/// Image side of a CIFAR record.
pub const SIDE: usize = 32;
/// Bytes of one record: a label byte and three 32x32 planes (R, G, B).
pub const RECORD_BYTES: usize = 1 + 3 * SIDE * SIDE;

/// Names of the training batch files, in load order.
pub fn train_batch_names() -> impl Iterator<Item = String> {
    (1..=5).map(|k| format!("data_batch_{k}.bin"))
}

/// Name of the test batch file.
pub const TEST_BATCH: &str = "test_batch.bin";

/// Name of the class names file.
pub const META: &str = "batches.meta.txt";

/// Name of the folder the CIFAR-10 archive unpacks to.
const ARCHIVE_DIR: &str = "cifar-10-batches-bin";

fn has_train_batch(dir: &Path) -> bool {
    train_batch_names().any(|n| dir.join(n).is_file())
}

/// The directory holding the batches: `dir` itself, or its `cifar-10-batches-bin/`.
fn batches_dir(dir: &Path) -> Option<PathBuf> {
    if has_train_batch(dir) {
        return Some(dir.to_path_buf());
    }
    let inner = dir.join(ARCHIVE_DIR);
    has_train_batch(&inner).then_some(inner)
}

/// Whether `dir` (or its `cifar-10-batches-bin/`) holds at least one `data_batch_<k>.bin`.
pub fn is_cifar_dir(dir: &Path) -> bool {
    batches_dir(dir).is_some()
}

/// Class names from `batches.meta.txt` (one per line, blank lines ignored), or CIFAR-10's.
fn class_names(dir: &Path) -> Result<Vec<String>> {
    let path = dir.join(META);
    let bytes = match std::fs::read(&path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Ok(CIFAR10_CLASSES.iter().map(|s| s.to_string()).collect())
        }
        Err(e) => return Err(Error::io(&path, e)),
    };
    let names: Vec<String> = String::from_utf8_lossy(&bytes)
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(str::to_string)
        .collect();
    if names.len() != CIFAR10_CLASSES.len() {
        return Err(Error::data(
            &path,
            format!(
                "{} class names: CIFAR-10 has {}",
                names.len(),
                CIFAR10_CLASSES.len()
            ),
        ));
    }
    Ok(names)
}

/// Parse one batch file's bytes: labels and H x W x C pixels. Checks the size and the labels.
pub fn parse_batch(
    bytes: &[u8],
    classes: usize,
) -> std::result::Result<(Vec<u32>, Vec<u8>), String> {
    if bytes.is_empty() || !bytes.len().is_multiple_of(RECORD_BYTES) {
        return Err(format!(
            "{} bytes is not a whole number of {RECORD_BYTES}-byte records (1 label byte + \
             3 x {SIDE}x{SIDE} pixels)",
            bytes.len()
        ));
    }
    let records = bytes.chunks_exact(RECORD_BYTES);
    if let Some((i, r)) = records
        .clone()
        .enumerate()
        .find(|(_, r)| r[0] as usize >= classes)
    {
        return Err(format!(
            "record {i} has label {}: labels must be below {classes}",
            r[0]
        ));
    }
    let labels = records.clone().map(|r| r[0] as u32).collect();
    let plane = SIDE * SIDE;
    let mut pixels = vec![0u8; bytes.len() / RECORD_BYTES * 3 * plane];
    pixels
        .par_chunks_mut(3 * plane)
        .zip(bytes.par_chunks_exact(RECORD_BYTES))
        .for_each(|(out, r)| {
            let (red, rest) = r[1..].split_at(plane);
            let (green, blue) = rest.split_at(plane);
            for (p, o) in out.chunks_exact_mut(3).enumerate() {
                o[0] = red[p];
                o[1] = green[p];
                o[2] = blue[p];
            }
        });
    Ok((labels, pixels))
}

/// Load the given batch files (in order) as one dataset.
fn load_batches(
    dir: &Path,
    files: &[PathBuf],
    name: String,
    classes: &[String],
) -> Result<Dataset> {
    let mut labels = Vec::new();
    let mut pixels = Vec::new();
    let mut ids = Vec::new();
    for path in files {
        let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
        let (l, p) = parse_batch(&bytes, classes.len()).map_err(|m| Error::data(path, m))?;
        let file = path
            .file_name()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        ids.extend((0..l.len()).map(|i| format!("{file}#{i}")));
        labels.extend(l);
        if pixels.is_empty() {
            pixels = p;
        } else {
            pixels.extend_from_slice(&p);
        }
    }
    Dataset::from_parts(
        name,
        Source::Cifar {
            dir: dir.to_path_buf(),
        },
        classes.to_vec(),
        ImageShape::new(SIDE, SIDE, 3),
        pixels,
        labels,
        ids,
    )
}

/// Load a CIFAR-10 binary directory: the training batches present, and `test_batch.bin` as the
/// test split when it is there. Ids are `<file>#<index in file>`.
pub fn load_dir(dir: &Path) -> Result<Loaded> {
    let bdir = batches_dir(dir).ok_or_else(|| {
        Error::data(
            dir,
            "no CIFAR-10 training batch (data_batch_1.bin .. data_batch_5.bin)",
        )
    })?;
    let classes = class_names(&bdir)?;
    let name = Dataset::name_for(dir);
    let train_files: Vec<PathBuf> = train_batch_names()
        .map(|n| bdir.join(n))
        .filter(|p| p.is_file())
        .collect();
    let train = load_batches(&bdir, &train_files, name.clone(), &classes)?;
    let test_file = bdir.join(TEST_BATCH);
    let test = if test_file.is_file() {
        Some(load_batches(
            &bdir,
            &[test_file],
            format!("{name} (test)"),
            &classes,
        )?)
    } else {
        None
    };
    Ok(Loaded { train, test })
}

/// Encode samples as a CIFAR binary batch (label byte + R, G, B planes per record); the
/// inverse of [`parse_batch`]. Each image must be 32x32x3.
pub fn encode_batch(labels: &[u8], pixels: &[u8]) -> Vec<u8> {
    let plane = SIDE * SIDE;
    let mut out = Vec::with_capacity(labels.len() * RECORD_BYTES);
    for (&l, img) in labels.iter().zip(pixels.chunks_exact(3 * plane)) {
        out.push(l);
        for c in 0..3 {
            out.extend(img.iter().skip(c).step_by(3));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn record_planes_become_hwc() {
        let mut rec = vec![7u8];
        rec.extend(std::iter::repeat_n(1u8, 1024));
        rec.extend(std::iter::repeat_n(2u8, 1024));
        rec.extend((0..1024).map(|p| (p % 256) as u8));
        let (l, p) = parse_batch(&rec, 10).unwrap();
        assert_eq!(l, vec![7]);
        assert_eq!(p.len(), 3072);
        assert_eq!(&p[..6], &[1, 2, 0, 1, 2, 1]);
        assert_eq!(p[3 * 1023 + 2], (1023 % 256) as u8);
        assert_eq!(encode_batch(&[7], &p), rec);
    }

    #[test]
    fn bad_sizes_and_labels() {
        assert!(parse_batch(&[0; 3072], 10)
            .unwrap_err()
            .contains("3072 bytes is not a whole number"));
        assert!(parse_batch(&[], 10).unwrap_err().contains("0 bytes"));
        let mut two = vec![0u8; 2 * RECORD_BYTES];
        two[RECORD_BYTES] = 10;
        assert_eq!(
            parse_batch(&two, 10).unwrap_err(),
            "record 1 has label 10: labels must be below 10"
        );
    }
}
