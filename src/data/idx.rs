//! IDX files (MNIST, Fashion-MNIST), gzip-compressed or raw. A directory holding
//! `train-images-idx3-ubyte[.gz]` + labels (and optionally `t10k-*`) loads as train + test.

use std::io::Read;
use std::path::{Path, PathBuf};

use super::{Dataset, ImageShape, Loaded, Source};
use crate::error::{Error, Result};

/// Fashion-MNIST's class names, used when a directory's files are Fashion-MNIST's.
pub const FASHION_CLASSES: [&str; 10] = [
    "T-shirt",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
];

/// Largest file the reader accepts (decompressed), so an absurd header cannot exhaust memory.
const MAX_BYTES: u64 = 4 << 30;

/// Read a whole file, gunzipping it when it starts with the gzip magic.
fn read_maybe_gz(path: &Path) -> Result<Vec<u8>> {
    let raw = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    if raw.starts_with(&[0x1f, 0x8b]) {
        let mut out = Vec::new();
        flate2::read::GzDecoder::new(&raw[..])
            .take(MAX_BYTES)
            .read_to_end(&mut out)
            .map_err(|e| Error::data(path, format!("broken gzip stream: {e}")))?;
        Ok(out)
    } else {
        Ok(raw)
    }
}

/// An IDX array of u8: its dimensions and data.
#[derive(Debug, PartialEq)]
pub struct IdxArray {
    pub dims: Vec<usize>,
    pub data: Vec<u8>,
}

/// Parse IDX bytes (u8 element type only, as MNIST uses). Checks the magic and that the
/// counts in the header fit the data.
pub fn parse(bytes: &[u8]) -> std::result::Result<IdxArray, String> {
    if bytes.len() < 4 {
        return Err(format!(
            "{} bytes: too short for an IDX header",
            bytes.len()
        ));
    }
    if bytes[0] != 0 || bytes[1] != 0 {
        return Err("wrong magic number: not an IDX file".into());
    }
    if bytes[2] != 0x08 {
        return Err(format!(
            "element type 0x{:02x}: only unsigned bytes (0x08) are supported",
            bytes[2]
        ));
    }
    let ndim = bytes[3] as usize;
    if ndim == 0 || ndim > 4 {
        return Err(format!("{ndim} dimensions: expected 1 to 4"));
    }
    let header = 4 + 4 * ndim;
    if bytes.len() < header {
        return Err("file ends inside the header".into());
    }
    let mut dims = Vec::with_capacity(ndim);
    let mut total: u64 = 1;
    for d in 0..ndim {
        let o = 4 + 4 * d;
        let v = u32::from_be_bytes([bytes[o], bytes[o + 1], bytes[o + 2], bytes[o + 3]]) as u64;
        total = total.saturating_mul(v);
        dims.push(v as usize);
    }
    let have = (bytes.len() - header) as u64;
    if total > have {
        return Err(format!(
            "header promises {total} bytes of data ({}) but the file holds {have}",
            dims.iter()
                .map(|d| d.to_string())
                .collect::<Vec<_>>()
                .join(" x ")
        ));
    }
    Ok(IdxArray {
        dims,
        data: bytes[header..header + total as usize].to_vec(),
    })
}

fn read_array(path: &Path) -> Result<IdxArray> {
    let bytes = read_maybe_gz(path)?;
    parse(&bytes).map_err(|m| Error::data(path, m))
}

/// Whether a file's name looks like an IDX file.
pub fn looks_like_idx_file(path: &Path) -> bool {
    path.file_name()
        .map(|n| n.to_string_lossy().contains("-idx"))
        .unwrap_or(false)
}

/// Find `<prefix>-images-idx3-ubyte[.gz]` and its labels file in `dir`.
fn find_pair(dir: &Path, prefix: &str) -> Option<(PathBuf, PathBuf)> {
    let pick = |stem: &str| {
        [format!("{stem}.gz"), stem.to_string()]
            .into_iter()
            .map(|n| dir.join(n))
            .find(|p| p.is_file())
    };
    let images = pick(&format!("{prefix}-images-idx3-ubyte"))
        .or_else(|| pick(&format!("{prefix}-images.idx3-ubyte")))?;
    let labels = pick(&format!("{prefix}-labels-idx1-ubyte"))
        .or_else(|| pick(&format!("{prefix}-labels.idx1-ubyte")))?;
    Some((images, labels))
}

/// When `dir` holds only one file of the training IDX pair: which one, and what is missing.
pub fn missing_half(dir: &Path) -> Option<String> {
    let find = |stems: [&str; 2]| {
        stems
            .iter()
            .flat_map(|s| [format!("{s}.gz"), s.to_string()])
            .find(|n| dir.join(n).is_file())
    };
    let images = find(["train-images-idx3-ubyte", "train-images.idx3-ubyte"]);
    let labels = find(["train-labels-idx1-ubyte", "train-labels.idx1-ubyte"]);
    match (images, labels) {
        (Some(i), None) => Some(format!(
            "holds the IDX images file {i} but not its labels file train-labels-idx1-ubyte[.gz]"
        )),
        (None, Some(l)) => Some(format!(
            "holds the IDX labels file {l} but not its images file train-images-idx3-ubyte[.gz]"
        )),
        _ => None,
    }
}

/// Whether `dir` holds a training IDX pair.
pub fn is_idx_dir(dir: &Path) -> bool {
    find_pair(dir, "train").is_some()
}

fn class_names(dir: &Path, count: usize) -> Vec<String> {
    let fashion = dir.to_string_lossy().to_lowercase().contains("fashion");
    (0..count)
        .map(|c| {
            if fashion && count == 10 {
                FASHION_CLASSES[c].to_string()
            } else {
                c.to_string()
            }
        })
        .collect()
}

/// Load an images file and its labels file.
pub fn load_pair(
    images: &Path,
    labels: &Path,
    name: &str,
    classes: Option<Vec<String>>,
) -> Result<Dataset> {
    let im = read_array(images)?;
    let lb = read_array(labels)?;
    if im.dims.len() != 3 {
        return Err(Error::data(
            images,
            format!(
                "{} dimensions: an images file has 3 (count, rows, cols)",
                im.dims.len()
            ),
        ));
    }
    if lb.dims.len() != 1 {
        return Err(Error::data(
            labels,
            format!("{} dimensions: a labels file has 1", lb.dims.len()),
        ));
    }
    let (n, h, w) = (im.dims[0], im.dims[1], im.dims[2]);
    if lb.dims[0] != n {
        return Err(Error::data(
            labels,
            format!("{} labels for {n} images", lb.dims[0]),
        ));
    }
    if n == 0 || h == 0 || w == 0 {
        return Err(Error::data(images, "no images"));
    }
    let k = lb.data.iter().copied().max().unwrap_or(0) as usize + 1;
    let classes =
        classes.unwrap_or_else(|| class_names(images.parent().unwrap_or(Path::new("")), k.max(2)));
    if k > classes.len() {
        return Err(Error::data(
            labels,
            format!("label {} but {} classes", k - 1, classes.len()),
        ));
    }
    let file = images
        .file_name()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let ids = (0..n).map(|i| format!("{file}#{i}")).collect();
    Dataset::from_parts(
        name,
        Source::Idx {
            images: images.to_path_buf(),
        },
        classes,
        ImageShape::new(h, w, 1),
        im.data,
        lb.data.iter().map(|&l| l as u32).collect(),
        ids,
    )
}

/// Load a directory with train (and, if present, t10k) IDX files.
pub fn load_dir(dir: &Path) -> Result<Loaded> {
    let (ti, tl) = find_pair(dir, "train").ok_or_else(|| {
        Error::data(
            dir,
            "no train-images-idx3-ubyte / train-labels-idx1-ubyte pair",
        )
    })?;
    let name = Dataset::name_for(dir);
    let train = load_pair(&ti, &tl, &name, None)?;
    let test = match find_pair(dir, "t10k") {
        Some((ei, el)) => Some(load_pair(
            &ei,
            &el,
            &format!("{name} (test)"),
            Some(train.classes.clone()),
        )?),
        None => None,
    };
    Ok(Loaded { train, test })
}

/// Load a single images file; its labels file is found by name beside it.
pub fn load_file(images: &Path) -> Result<Loaded> {
    let name = images
        .file_name()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let labels_name = name
        .replace("images-idx3", "labels-idx1")
        .replace("images.idx3", "labels.idx1");
    if labels_name == name {
        return Err(Error::data(
            images,
            "not an IDX images file (expected '*-images-idx3-ubyte')",
        ));
    }
    let labels = images.with_file_name(labels_name);
    let train = load_pair(images, &labels, &name, None)?;
    Ok(Loaded { train, test: None })
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn idx_bytes(dims: &[u32], data: &[u8]) -> Vec<u8> {
        let mut b = vec![0, 0, 8, dims.len() as u8];
        for d in dims {
            b.extend_from_slice(&d.to_be_bytes());
        }
        b.extend_from_slice(data);
        b
    }

    #[test]
    fn half_an_idx_pair_names_the_missing_file() {
        let tmp = tempfile::tempdir().unwrap();
        std::fs::write(tmp.path().join("train-labels-idx1-ubyte.gz"), b"not read").unwrap();
        let e = crate::data::load(tmp.path(), &Default::default()).unwrap_err();
        assert!(
            e.to_string().ends_with(
                "holds the IDX labels file train-labels-idx1-ubyte.gz but not its images file \
                 train-images-idx3-ubyte[.gz]"
            ),
            "{e}"
        );
        std::fs::remove_file(tmp.path().join("train-labels-idx1-ubyte.gz")).unwrap();
        std::fs::write(tmp.path().join("train-images-idx3-ubyte"), b"x").unwrap();
        let e = crate::data::load(tmp.path(), &Default::default()).unwrap_err();
        assert!(e.to_string().contains("but not its labels file"), "{e}");
    }

    #[test]
    fn parse_ok_and_errors() {
        let a = parse(&idx_bytes(&[2, 2], &[1, 2, 3, 4])).unwrap();
        assert_eq!(a.dims, vec![2, 2]);
        assert_eq!(a.data, vec![1, 2, 3, 4]);
        assert!(parse(&[1, 2, 3, 4]).unwrap_err().contains("magic"));
        assert!(parse(&idx_bytes(&[3, 2], &[1, 2, 3, 4]))
            .unwrap_err()
            .contains("promises 6 bytes"));
        assert!(parse(&[0, 0, 8]).unwrap_err().contains("too short"));
        assert!(parse(&[0, 0, 8, 2, 0, 0]).unwrap_err().contains("header"));
        assert!(parse(&[0, 0, 0x0d, 1, 0, 0, 0, 0])
            .unwrap_err()
            .contains("element type"));
        // absurd counts do not overflow or allocate
        assert!(parse(&idx_bytes(&[u32::MAX, u32::MAX, u32::MAX], &[0])).is_err());
    }

    #[test]
    fn load_dir_with_gzip() {
        let d = tempfile::tempdir().unwrap();
        let im = idx_bytes(&[3, 2, 2], &[0; 12]);
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        std::io::Write::write_all(&mut gz, &im).unwrap();
        std::fs::write(
            d.path().join("train-images-idx3-ubyte.gz"),
            gz.finish().unwrap(),
        )
        .unwrap();
        std::fs::write(
            d.path().join("train-labels-idx1-ubyte"),
            idx_bytes(&[3], &[0, 1, 2]),
        )
        .unwrap();
        assert!(is_idx_dir(d.path()));
        let l = load_dir(d.path()).unwrap();
        assert_eq!(l.train.len(), 3);
        assert_eq!(l.train.num_classes(), 3);
        assert!(l.test.is_none());
        assert_eq!(l.train.id(2), "train-images-idx3-ubyte.gz#2");
        // a labels file of the wrong length
        std::fs::write(
            d.path().join("train-labels-idx1-ubyte"),
            idx_bytes(&[2], &[0, 1]),
        )
        .unwrap();
        assert!(load_dir(d.path())
            .unwrap_err()
            .to_string()
            .contains("2 labels for 3 images"));
    }
}
