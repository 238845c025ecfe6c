//! IDX files (MNIST, Fashion-MNIST), gzip-compressed or raw. A directory holding
//! `train-images-idx3-ubyte[.gz]` + labels (and optionally `t10k-*`) loads as train + test.

use std::io::{Read, Seek, SeekFrom};
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

/// An IDX array of u8: its dimensions and data.
#[derive(Debug, PartialEq)]
pub struct IdxArray {
    pub dims: Vec<usize>,
    pub data: Vec<u8>,
}

/// What an IDX header says: the dimensions and the number of data bytes they promise.
struct Header {
    dims: Vec<usize>,
    total: u64,
}

impl Header {
    /// "3 x 28 x 28".
    fn shape(&self) -> String {
        self.dims
            .iter()
            .map(|d| d.to_string())
            .collect::<Vec<_>>()
            .join(" x ")
    }

    fn short_by(&self, have: u64) -> String {
        format!(
            "header promises {} bytes of data ({}) but the file holds {have}",
            self.total,
            self.shape()
        )
    }
}

/// The number of dimensions the first 4 bytes of an IDX file announce (u8 elements only, as
/// MNIST uses), after checking the magic.
fn check_magic(first: &[u8; 4]) -> std::result::Result<usize, String> {
    if first[0] != 0 || first[1] != 0 {
        return Err("wrong magic number: not an IDX file".into());
    }
    if first[2] != 0x08 {
        return Err(format!(
            "element type 0x{:02x}: only unsigned bytes (0x08) are supported",
            first[2]
        ));
    }
    let ndim = first[3] as usize;
    if ndim == 0 || ndim > 4 {
        return Err(format!("{ndim} dimensions: expected 1 to 4"));
    }
    Ok(ndim)
}

/// The dimensions (big-endian u32 each) that follow the first 4 bytes.
fn read_dims(bytes: &[u8]) -> Header {
    let mut dims = Vec::with_capacity(bytes.len() / 4);
    let mut total: u64 = 1;
    for b in bytes.chunks_exact(4) {
        let v = u32::from_be_bytes([b[0], b[1], b[2], b[3]]) as u64;
        total = total.saturating_mul(v);
        dims.push(v as usize);
    }
    Header { dims, total }
}

/// Parse IDX bytes (u8 element type only, as MNIST uses). Checks the magic and that the
/// counts in the header fit the data.
pub fn parse(bytes: &[u8]) -> std::result::Result<IdxArray, String> {
    let Some(first) = bytes.first_chunk::<4>() else {
        return Err(format!(
            "{} bytes: too short for an IDX header",
            bytes.len()
        ));
    };
    let ndim = check_magic(first)?;
    let header = 4 + 4 * ndim;
    if bytes.len() < header {
        return Err("file ends inside the header".into());
    }
    let h = read_dims(&bytes[4..header]);
    let have = (bytes.len() - header) as u64;
    if h.total > have {
        return Err(h.short_by(have));
    }
    Ok(IdxArray {
        data: bytes[header..header + h.total as usize].to_vec(),
        dims: h.dims,
    })
}

/// IDX bytes of a u8 array with dimensions `dims` (what [`parse`] reads back): the magic,
/// each dimension big-endian, the data. Errors when a dimension does not fit the header's
/// u32, there are more than 255 of them, or the data is not their product.
pub fn encode(dims: &[usize], data: &[u8]) -> std::result::Result<Vec<u8>, String> {
    let ndim = u8::try_from(dims.len())
        .map_err(|_| format!("{} dimensions: an IDX header holds at most 255", dims.len()))?;
    if dims.iter().product::<usize>() != data.len() {
        return Err(format!(
            "{} bytes of data for dimensions {dims:?}",
            data.len()
        ));
    }
    let mut b = Vec::with_capacity(4 + 4 * dims.len() + data.len());
    b.extend_from_slice(&[0, 0, 0x08, ndim]);
    for &d in dims {
        let d = u32::try_from(d).map_err(|_| format!("{d} is too large for an IDX dimension"))?;
        b.extend_from_slice(&d.to_be_bytes());
    }
    b.extend_from_slice(data);
    Ok(b)
}

/// Why reading an IDX stream failed: the stream (I/O, a broken gzip stream) or its content.
#[derive(Debug)]
pub enum ReadError {
    Io(std::io::Error),
    Format(String),
}

/// Read `r` until `buf` is full or the stream ends; the number of bytes read.
fn fill(r: &mut impl Read, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut got = 0;
    while got < buf.len() {
        match r.read(&mut buf[got..]) {
            Ok(0) => break,
            Ok(k) => got += k,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(got)
}

/// Read an IDX array from a stream: the header, then exactly the data bytes it promises,
/// decoded straight into the one buffer the array keeps (bytes after them are ignored, as
/// [`parse`] does). Refused before anything is allocated: a header that promises more data
/// than the stream holds (`len`: the whole stream's length, when known) or more than `room`
/// (what the machine can hold, when known).
pub fn read_from(
    r: &mut impl Read,
    len: Option<u64>,
    room: Option<u64>,
) -> std::result::Result<IdxArray, ReadError> {
    let fmt = |m: String| ReadError::Format(m);
    let mut first = [0u8; 4];
    let got = fill(r, &mut first).map_err(ReadError::Io)?;
    if got < 4 {
        return Err(fmt(format!("{got} bytes: too short for an IDX header")));
    }
    let ndim = check_magic(&first).map_err(fmt)?;
    let mut dims = vec![0u8; 4 * ndim];
    if fill(r, &mut dims).map_err(ReadError::Io)? < dims.len() {
        return Err(fmt("file ends inside the header".into()));
    }
    let h = read_dims(&dims);
    if let Some(len) = len {
        let have = len.saturating_sub(4 + dims.len() as u64);
        if h.total > have {
            return Err(fmt(h.short_by(have)));
        }
    }
    let too_big = |what: String| {
        fmt(format!(
            "header promises {} bytes ({} = {}) but {what}: a damaged header, or a set too large \
             to load here",
            h.total,
            h.shape(),
            super::memory::human_bytes(h.total)
        ))
    };
    if let Some(room) = room {
        if h.total > room {
            return Err(too_big(format!(
                "the machine has {} available",
                super::memory::human_bytes(room)
            )));
        }
    }
    let total = usize::try_from(h.total)
        .map_err(|_| too_big("they do not fit this machine's address space".into()))?;
    let mut data = Vec::new();
    data.try_reserve_exact(total)
        .map_err(|e| too_big(format!("they cannot be allocated ({e})")))?;
    // `data` has exactly the capacity the header promises and `take` stops there, so the
    // buffer never grows: a file expanding to N bytes holds N bytes, not 2N.
    r.take(h.total)
        .read_to_end(&mut data)
        .map_err(ReadError::Io)?;
    if data.len() < total {
        return Err(fmt(h.short_by(data.len() as u64)));
    }
    Ok(IdxArray { dims: h.dims, data })
}

/// Read the IDX file `path`, gunzipping it when it starts with the gzip magic, into one buffer
/// of the size its header promises (refused when the machine cannot hold it).
fn read_array(path: &Path) -> Result<IdxArray> {
    let mut file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    let mut magic = [0u8; 2];
    let got = fill(&mut file, &mut magic).map_err(|e| Error::io(path, e))?;
    file.seek(SeekFrom::Start(0))
        .map_err(|e| Error::io(path, e))?;
    let room = super::memory::available_bytes();
    if got == 2 && magic == [0x1f, 0x8b] {
        read_from(&mut flate2::read::GzDecoder::new(file), None, room).map_err(|e| match e {
            ReadError::Io(e) => Error::data(path, format!("broken gzip stream: {e}")),
            ReadError::Format(m) => Error::data(path, m),
        })
    } else {
        let len = file.metadata().map_err(|e| Error::io(path, e))?.len();
        read_from(&mut file, Some(len), room).map_err(|e| match e {
            ReadError::Io(e) => Error::io(path, e),
            ReadError::Format(m) => Error::data(path, m),
        })
    }
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
    fn encoded_arrays_read_back() {
        let data: Vec<u8> = (0..24).collect();
        let bytes = encode(&[2, 3, 4], &data).unwrap();
        assert_eq!(bytes, idx_bytes(&[2, 3, 4], &data));
        assert_eq!(
            parse(&bytes).unwrap(),
            IdxArray {
                dims: vec![2, 3, 4],
                data
            }
        );
        assert!(encode(&[2, 3], &[0; 5]).unwrap_err().contains("5 bytes"));
        assert!(encode(&[1usize << 33, 0], &[])
            .unwrap_err()
            .contains("too large"));
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
    fn read_from_takes_what_the_header_promises_and_refuses_the_rest() {
        let bytes = idx_bytes(&[2, 2], &[1, 2, 3, 4, 9, 9]);
        // Bytes after the promised data are ignored, as `parse` does.
        let a = read_from(&mut &bytes[..], None, None).unwrap();
        assert_eq!((a.dims, a.data), (vec![2, 2], vec![1, 2, 3, 4]));
        let a = read_from(&mut &bytes[..], Some(bytes.len() as u64), Some(4)).unwrap();
        assert_eq!(a.data.capacity(), 4, "one buffer of the promised size");
        let msg = |r: std::result::Result<IdxArray, ReadError>| match r {
            Err(ReadError::Format(m)) => m,
            other => panic!("{other:?}"),
        };
        // A stream that ends early says how much it held.
        let short = idx_bytes(&[3, 2], &[1, 2, 3, 4]);
        assert_eq!(
            msg(read_from(&mut &short[..], None, None)),
            "header promises 6 bytes of data (3 x 2) but the file holds 4"
        );
        // A known length refuses it before reading.
        assert_eq!(
            msg(read_from(&mut &short[..4], Some(short.len() as u64), None)),
            "file ends inside the header"
        );
        assert_eq!(
            msg(read_from(&mut &short[..], Some(short.len() as u64), None)),
            "header promises 6 bytes of data (3 x 2) but the file holds 4"
        );
        // More than the machine can hold.
        assert_eq!(
            msg(read_from(&mut &bytes[..], None, Some(3))),
            "header promises 4 bytes (2 x 2 = 4 bytes) but the machine has 3 bytes available: \
             a damaged header, or a set too large to load here"
        );
        assert_eq!(
            msg(read_from(&mut &[0u8, 0, 8][..], None, None)),
            "3 bytes: too short for an IDX header"
        );
        assert!(msg(read_from(&mut &[1u8, 0, 8, 1][..], None, None)).contains("magic"));
        // A broken gzip stream is an I/O error of the decoder, named as such by the loader.
        let d = tempfile::tempdir().unwrap();
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        std::io::Write::write_all(&mut gz, &idx_bytes(&[64], &[7; 64])).unwrap();
        let mut gz = gz.finish().unwrap();
        let mid = gz.len() / 2;
        gz[mid] ^= 0xff;
        gz.truncate(gz.len() - 4);
        let p = d.path().join("x-labels-idx1-ubyte.gz");
        std::fs::write(&p, gz).unwrap();
        let e = read_array(&p).unwrap_err().to_string();
        assert!(e.contains("broken gzip stream"), "{e}");
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
