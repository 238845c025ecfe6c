//! Backbone weights as named f32 tensors, read from a PyTorch `.pth` file (the zip format of
//! torch >= 1.6 or the legacy pickle stream of older versions) or a `.safetensors` file; every
//! lookup checks the tensor's shape and names the tensor, both shapes and the file when it
//! does not fit.

use std::collections::HashMap;
use std::io::{BufRead, Cursor, Read};
use std::path::{Path, PathBuf};

use candle_core::pickle::{Object, Stack};
use candle_core::{DType, Device, Tensor};

use crate::error::{Error, Result};

/// The named tensors of one weights file.
pub struct Weights {
    path: PathBuf,
    tensors: HashMap<String, Tensor>,
}

impl std::fmt::Debug for Weights {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Weights")
            .field("path", &self.path)
            .field("tensors", &self.tensors.len())
            .finish()
    }
}

/// The file formats [`Weights::load`] reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// A PyTorch state dict (`torch.save`), zip or legacy.
    Pth,
    Safetensors,
}

impl Format {
    /// The format a file name says (by extension), if any.
    pub fn of(path: &Path) -> Option<Format> {
        let ext = path.extension()?.to_str()?.to_ascii_lowercase();
        match ext.as_str() {
            "pth" | "pt" | "bin" => Some(Format::Pth),
            "safetensors" => Some(Format::Safetensors),
            _ => None,
        }
    }

    pub fn extension(self) -> &'static str {
        match self {
            Format::Pth => "pth",
            Format::Safetensors => "safetensors",
        }
    }
}

impl Weights {
    /// Reads every tensor of `path` (format by extension: `.pth`/`.pt`/`.bin` or
    /// `.safetensors`) into memory, floating-point ones as f32.
    pub fn load(path: &Path) -> Result<Self> {
        let format = Format::of(path).ok_or_else(|| {
            Error::data(
                path,
                "not a weights file: expected a .pth or .safetensors file",
            )
        })?;
        let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
        // candle appends a backtrace to its messages when RUST_BACKTRACE is set: keep line one.
        let bad = |what: &str, e: &dyn std::fmt::Display| {
            let e = e.to_string();
            let first = e.lines().next().unwrap_or("").trim_end();
            Error::data(path, format!("not a valid {what} file ({first})"))
        };
        let raw: Vec<(String, Tensor)> = match format {
            Format::Safetensors => candle_core::safetensors::load_buffer(&bytes, &Device::Cpu)
                .map_err(|e| bad("safetensors", &e))?
                .into_iter()
                .collect(),
            Format::Pth if bytes.starts_with(b"PK\x03\x04") => {
                drop(bytes);
                candle_core::pickle::read_all(path).map_err(|e| bad("PyTorch", &e))?
            }
            Format::Pth => read_legacy_pth(&bytes).map_err(|e| bad("PyTorch", &e))?,
        };
        if raw.is_empty() {
            return Err(Error::data(path, "the file holds no tensors"));
        }
        let mut tensors = HashMap::with_capacity(raw.len());
        for (name, t) in raw {
            let t = match t.dtype() {
                DType::F16 | DType::BF16 | DType::F64 => t.to_dtype(DType::F32)?,
                _ => t,
            };
            tensors.insert(name, t);
        }
        Ok(Self {
            path: path.to_path_buf(),
            tensors,
        })
    }

    /// Weights made of tensors already in memory (`path` is what errors name).
    pub fn from_tensors(path: impl Into<PathBuf>, tensors: HashMap<String, Tensor>) -> Self {
        Self {
            path: path.into(),
            tensors,
        }
    }

    /// The tensors by name.
    pub fn into_tensors(self) -> HashMap<String, Tensor> {
        self.tensors
    }

    /// Writes the tensors to `path` as safetensors, atomically (a temp file renamed).
    pub fn save_safetensors(&self, path: &Path) -> Result<()> {
        let tmp = path.with_extension(format!("partial.{}", std::process::id()));
        candle_core::safetensors::save(&self.tensors, &tmp)
            .map_err(|e| Error::data(&tmp, format!("cannot write safetensors: {e}")))?;
        std::fs::rename(&tmp, path).map_err(|e| {
            let _ = std::fs::remove_file(&tmp);
            Error::io(path, e)
        })
    }

    /// The file the weights came from.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Number of tensors.
    pub fn len(&self) -> usize {
        self.tensors.len()
    }

    pub fn is_empty(&self) -> bool {
        self.tensors.is_empty()
    }

    /// Whether a tensor of that name is present (of any shape).
    pub fn contains(&self, name: &str) -> bool {
        self.tensors.contains_key(name)
    }

    /// The shape of tensor `name`, if present.
    pub fn dims(&self, name: &str) -> Option<Vec<usize>> {
        self.tensors.get(name).map(|t| t.dims().to_vec())
    }

    /// The f32 CPU tensor `name`, which must have exactly `shape`.
    pub fn get(&self, name: &str, shape: &[usize]) -> Result<Tensor> {
        let t = self.tensors.get(name).ok_or_else(|| {
            Error::data(
                &self.path,
                format!("tensor `{name}` is missing (expected shape {shape:?})"),
            )
        })?;
        if t.dims() != shape {
            return Err(Error::data(
                &self.path,
                format!(
                    "tensor `{name}` has shape {:?}, expected {shape:?}",
                    t.dims()
                ),
            ));
        }
        if t.dtype() != DType::F32 {
            return Err(Error::data(
                &self.path,
                format!(
                    "tensor `{name}` has dtype {:?}, expected a float type",
                    t.dtype()
                ),
            ));
        }
        Ok(t.clone())
    }

    /// [`Weights::get`] as a row-major vector.
    pub fn get_vec(&self, name: &str, shape: &[usize]) -> Result<Vec<f32>> {
        Ok(self.get(name, shape)?.flatten_all()?.to_vec1::<f32>()?)
    }
}

/// The first pickle of a legacy `torch.save` file: protocol 2, the magic number
/// 0x1950a86a20f9469cfc6c as a 10-byte LONG1, STOP.
const LEGACY_MAGIC: [u8; 15] = [
    0x80, 0x02, 0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19, 0x2e,
];

/// Reads the tensors of a legacy (pre-zip) `torch.save` stream: the magic number, the protocol
/// version, the system info, the state dict (whose tensors point at storages by key), the list
/// of storage keys, then each storage in that order as a little-endian u64 element count and
/// its raw values.
fn read_legacy_pth(bytes: &[u8]) -> candle_core::Result<Vec<(String, Tensor)>> {
    use candle_core::bail;
    if !bytes.starts_with(&LEGACY_MAGIC) {
        bail!("neither a zip archive nor a legacy torch.save stream (no magic number)")
    }
    let mut r = Cursor::new(&bytes[LEGACY_MAGIC.len()..]);
    let _protocol = read_pickle(&mut r)?;
    let _sys_info = read_pickle(&mut r)?;
    let state = read_pickle(&mut r)?;
    let keys = match read_pickle(&mut r)? {
        Object::List(keys) => keys
            .into_iter()
            .map(|k| k.unicode().map_err(|k| format!("{k:?}")))
            .collect::<std::result::Result<Vec<String>, String>>()
            .map_err(|k| candle_core::Error::Msg(format!("storage key {k} is not a string")))?,
        other => bail!("expected the list of storage keys, got {other:?}"),
    };
    let Object::Dict(entries) = state else {
        bail!("the file does not hold a state dict")
    };
    let mut infos = Vec::with_capacity(entries.len());
    for (name, value) in entries {
        if let Some(info) = value.into_tensor_info(name, Path::new(""))? {
            infos.push(info);
        }
    }
    // Storages follow the pickles, in the order of `keys`.
    let mut storages: HashMap<String, &[u8]> = HashMap::with_capacity(keys.len());
    let data = &bytes[LEGACY_MAGIC.len()..];
    let mut pos = r.position() as usize;
    for key in keys {
        let Some(count) = data.get(pos..pos + 8) else {
            bail!("the file ends before storage {key} (truncated?)")
        };
        let mut n = [0u8; 8];
        n.copy_from_slice(count);
        let numel = u64::from_le_bytes(n) as usize;
        let elem = infos
            .iter()
            .find(|i| i.path.trim_start_matches('/') == key)
            .map(|i| i.dtype.size_in_bytes())
            .unwrap_or(4);
        let len = numel
            .checked_mul(elem)
            .ok_or_else(|| candle_core::Error::Msg(format!("storage {key} is too large")))?;
        let Some(values) = data.get(pos + 8..pos + 8 + len) else {
            bail!("the file ends inside storage {key} (truncated?)")
        };
        storages.insert(key, values);
        pos += 8 + len;
    }
    let mut tensors = Vec::with_capacity(infos.len());
    for info in infos {
        let key = info.path.trim_start_matches('/');
        let Some(storage) = storages.get(key) else {
            bail!(
                "tensor {} refers to storage {key}, which the file lacks",
                info.name
            )
        };
        // Any strides (the weights converted from TensorFlow are permuted views of HWIO
        // storages): gather the values in row-major order.
        let dims = info.layout.dims();
        let size = info.dtype.size_in_bytes();
        let Some(values) = gather(
            storage,
            size,
            info.layout.start_offset(),
            dims,
            info.layout.stride(),
        ) else {
            bail!("tensor {} lies outside its storage {key}", info.name)
        };
        let t = Tensor::from_raw_buffer(&values, info.dtype, dims, &Device::Cpu)?;
        tensors.push((info.name, t));
    }
    Ok(tensors)
}

/// The bytes of a strided view (`start` in bytes, `strides` in elements of `size` bytes) of
/// `storage` in row-major order; None if the view reaches outside the storage.
fn gather(
    storage: &[u8],
    size: usize,
    start: usize,
    dims: &[usize],
    strides: &[usize],
) -> Option<Vec<u8>> {
    let numel: usize = dims.iter().product();
    if numel == 0 {
        return Some(Vec::new());
    }
    let last = dims.iter().zip(strides).try_fold(0usize, |acc, (d, s)| {
        acc.checked_add((d - 1).checked_mul(*s)?)
    })?;
    if start.checked_add(last.checked_add(1)?.checked_mul(size)?)? > storage.len() {
        return None;
    }
    let contiguous = dims
        .iter()
        .zip(strides)
        .rev()
        .try_fold(1usize, |expect, (d, s)| {
            (*d == 1 || *s == expect).then(|| expect * d)
        })
        .is_some();
    if contiguous {
        return Some(storage[start..start + numel * size].to_vec());
    }
    let mut out = Vec::with_capacity(numel * size);
    let mut idx = vec![0usize; dims.len()];
    for _ in 0..numel {
        let off = start + size * idx.iter().zip(strides).map(|(i, s)| i * s).sum::<usize>();
        out.extend_from_slice(&storage[off..off + size]);
        // Next row-major index.
        for d in (0..dims.len()).rev() {
            idx[d] += 1;
            if idx[d] < dims[d] {
                break;
            }
            idx[d] = 0;
        }
    }
    Some(out)
}

/// One pickle from `r` (up to its STOP opcode).
fn read_pickle<R: BufRead + Read>(r: &mut R) -> candle_core::Result<Object> {
    let mut stack = Stack::empty();
    stack.read_loop(r)?;
    stack.finalize()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn save(dir: &Path, name: &str, tensors: &[(&str, Tensor)]) -> PathBuf {
        let path = dir.join(name);
        let map: HashMap<String, Tensor> = tensors
            .iter()
            .map(|(n, t)| (n.to_string(), t.clone()))
            .collect();
        candle_core::safetensors::save(&map, &path).unwrap();
        path
    }

    #[test]
    fn a_safetensors_file_gives_its_tensors_with_checked_shapes() {
        let dir = tempfile::tempdir().unwrap();
        let t = Tensor::arange(0f32, 6.0, &Device::Cpu)
            .unwrap()
            .reshape((2, 3))
            .unwrap();
        let path = save(dir.path(), "w.safetensors", &[("a.weight", t)]);
        let w = Weights::load(&path).unwrap();
        assert_eq!(w.len(), 1);
        assert_eq!(
            w.get_vec("a.weight", &[2, 3]).unwrap(),
            vec![0.0, 1.0, 2.0, 3.0, 4.0, 5.0]
        );
        let e = w.get("a.weight", &[3, 2]).unwrap_err().to_string();
        assert!(
            e.contains("`a.weight` has shape [2, 3], expected [3, 2]")
                && e.contains("w.safetensors"),
            "{e}"
        );
        let e = w.get("b.bias", &[4]).unwrap_err().to_string();
        assert!(
            e.contains("`b.bias` is missing (expected shape [4])"),
            "{e}"
        );
    }

    fn fixture(name: &str) -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/data")
            .join(name)
    }

    /// tests/data/tiny_{legacy,zip}.pth: torch.save of {a.weight: arange(6) as 2x3, b.bias:
    /// [1.5, -2], b.num_batches_tracked: 7, c.view: arange(10)[2:6], d.transposed: arange(6)
    /// as 3x2, transposed (column-major)} in both formats.
    #[test]
    fn both_pth_formats_give_the_same_tensors() {
        for name in ["tiny_legacy.pth", "tiny_zip.pth"] {
            let w = Weights::load(&fixture(name)).unwrap();
            assert_eq!(w.len(), 5, "{name}");
            assert_eq!(
                w.get_vec("d.transposed", &[2, 3]).unwrap(),
                vec![0.0, 2.0, 4.0, 1.0, 3.0, 5.0],
                "{name}"
            );
            assert_eq!(
                w.get_vec("a.weight", &[2, 3]).unwrap(),
                vec![0.0, 1.0, 2.0, 3.0, 4.0, 5.0],
                "{name}"
            );
            assert_eq!(
                w.get_vec("b.bias", &[2]).unwrap(),
                vec![1.5, -2.0],
                "{name}"
            );
            assert_eq!(
                w.get_vec("c.view", &[4]).unwrap(),
                vec![2.0, 3.0, 4.0, 5.0],
                "{name}"
            );
            let e = w.get("b.num_batches_tracked", &[]).unwrap_err().to_string();
            assert!(e.contains("dtype I64"), "{name}: {e}");
        }
    }

    #[test]
    fn a_truncated_pth_names_the_file() {
        let dir = tempfile::tempdir().unwrap();
        for name in ["tiny_legacy.pth", "tiny_zip.pth"] {
            let bytes = std::fs::read(fixture(name)).unwrap();
            for cut in [bytes.len() - 9, bytes.len() / 2, 20] {
                let p = dir.path().join(format!("cut_{cut}_{name}"));
                std::fs::write(&p, &bytes[..cut]).unwrap();
                let e = Weights::load(&p).unwrap_err().to_string();
                assert!(
                    e.starts_with(&p.display().to_string())
                        && e.contains("not a valid PyTorch file"),
                    "{name} cut at {cut}: {e}"
                );
            }
        }
    }

    #[test]
    fn strided_views_are_gathered_in_row_major_order() {
        let storage: Vec<u8> = (0u8..24).collect();
        // A 2 x 3 view, column-major (strides 1, 2), of 1-byte elements from byte 1.
        assert_eq!(
            gather(&storage, 1, 1, &[2, 3], &[1, 2]),
            Some(vec![1, 3, 5, 2, 4, 6])
        );
        // 2-byte elements, contiguous.
        assert_eq!(gather(&storage, 2, 0, &[2], &[1]), Some(vec![0, 1, 2, 3]));
        // Reaching past the end.
        assert_eq!(gather(&storage, 4, 8, &[2, 3], &[3, 1]), None);
        assert_eq!(gather(&storage, 1, 0, &[0, 3], &[3, 1]), Some(vec![]));
    }

    #[test]
    fn weights_saved_as_safetensors_read_back_equal() {
        let dir = tempfile::tempdir().unwrap();
        let w = Weights::load(&fixture("tiny_legacy.pth")).unwrap();
        let p = dir.path().join("copy.safetensors");
        w.save_safetensors(&p).unwrap();
        let back = Weights::load(&p).unwrap();
        assert_eq!(
            back.get_vec("c.view", &[4]).unwrap(),
            vec![2.0, 3.0, 4.0, 5.0]
        );
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn f16_weights_are_read_as_f32() {
        let dir = tempfile::tempdir().unwrap();
        let t = Tensor::new(&[1.5f32, -2.0], &Device::Cpu)
            .unwrap()
            .to_dtype(DType::F16)
            .unwrap();
        let path = save(dir.path(), "h.safetensors", &[("x", t)]);
        let w = Weights::load(&path).unwrap();
        assert_eq!(w.get_vec("x", &[2]).unwrap(), vec![1.5, -2.0]);
    }

    #[test]
    fn corrupt_or_unknown_files_name_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("junk.safetensors");
        std::fs::write(&p, b"not safetensors at all").unwrap();
        let e = Weights::load(&p).unwrap_err().to_string();
        assert!(
            e.contains("junk.safetensors") && e.contains("not a valid safetensors file"),
            "{e}"
        );
        let p = dir.path().join("junk.pth");
        std::fs::write(&p, b"\x80\x02garbage").unwrap();
        let e = Weights::load(&p).unwrap_err().to_string();
        assert!(
            e.contains("junk.pth") && e.contains("no magic number"),
            "{e}"
        );
        let p = dir.path().join("weights.txt");
        std::fs::write(&p, b"x").unwrap();
        let e = Weights::load(&p).unwrap_err().to_string();
        assert!(e.contains("not a weights file"), "{e}");
        let e = Weights::load(&dir.path().join("absent.pth"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("absent.pth: not found"), "{e}");
    }
}
