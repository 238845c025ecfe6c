//! The embeddings of a dataset under a backbone, computed once and cached in the user's cache
//! dir (`ITLM_CACHE_DIR`, else `$XDG_CACHE_HOME/itlm-inspector`, else
//! `~/.cache/itlm-inspector`), never in a dataset folder. One file per key: a hash of the
//! backbone, its weights, the resolution, the preprocessing version and every sample's
//! (id, file size, mtime) (image folders) or (id, pixels) (IDX, CIFAR, memory sets). A changed
//! file changes the key; a truncated or corrupt cache file (length, key and CRC-32 checked) is
//! recomputed, not trusted. An entry is read through a read-only memory map: its matrix is
//! never copied into the heap (see [`read_entry`] for why that is safe). Image folders are embedded from their original files at full
//! resolution (not the loaded, squashed pixels); other sets from their pixels (grey -> RGB).

use std::path::{Path, PathBuf};

use image::{DynamicImage, GrayImage, RgbImage};
use rayon::prelude::*;

use crate::data::Dataset;
use crate::error::{Error, Result};
use crate::export::atomic::{write_atomic_with, Overwrite};
use crate::export::paths::{check_outside_dataset, resolve_path};
use crate::learner::backbone::{embed_files_with, preprocess, Backbone, ImageBatch};
use crate::learner::feature_values::FeatureValues;
use crate::learner::head::FeatureMatrix;

/// Bumped whenever preprocessing changes what a backbone sees (resize, crop, normalisation).
pub const PREPROCESS_VERSION: u32 = 1;
/// Images per backbone batch.
pub const BATCH: usize = 32;
const MAGIC: &[u8; 8] = b"ITLMEMB1";
/// Magic, key (16), rows (8), dim (8).
const HEADER: usize = 8 + 16 + 8 + 8;

/// The folder the cache lives in: `ITLM_CACHE_DIR`, else `$XDG_CACHE_HOME/itlm-inspector`,
/// else `~/.cache/itlm-inspector`.
pub fn cache_dir() -> Result<PathBuf> {
    cache_dir_from(
        std::env::var_os("ITLM_CACHE_DIR"),
        std::env::var_os("XDG_CACHE_HOME"),
        std::env::var_os("HOME"),
    )
}

/// [`cache_dir`] for given values of the variables (empty = unset).
pub fn cache_dir_from(
    itlm: Option<std::ffi::OsString>,
    xdg: Option<std::ffi::OsString>,
    home: Option<std::ffi::OsString>,
) -> Result<PathBuf> {
    let set = |v: Option<std::ffi::OsString>| v.filter(|v| !v.is_empty()).map(PathBuf::from);
    if let Some(d) = set(itlm) {
        return Ok(d);
    }
    if let Some(d) = set(xdg) {
        return Ok(d.join("itlm-inspector"));
    }
    match set(home) {
        Some(h) => Ok(h.join(".cache").join("itlm-inspector")),
        None => Err(Error::Config(
            "none of ITLM_CACHE_DIR, XDG_CACHE_HOME and HOME is set: cannot find the cache dir"
                .into(),
        )),
    }
}

/// 128-bit FNV-1a: a stable hash (unlike std's, which may change between releases).
struct Fnv128(u128);

impl Fnv128 {
    fn new() -> Self {
        Self(0x6c62272e07bb014262b821756295c58d)
    }

    fn bytes(&mut self, b: &[u8]) {
        for &x in b {
            self.0 ^= x as u128;
            self.0 = self.0.wrapping_mul(0x0000000001000000000000000000013B);
        }
    }

    /// A length-prefixed field, so that ("ab", "c") and ("a", "bc") differ.
    fn field(&mut self, b: &[u8]) {
        self.bytes(&(b.len() as u64).to_le_bytes());
        self.bytes(b);
    }
}

/// What the cached embeddings were made with.
#[derive(Clone, Debug)]
pub struct EmbedSpec {
    /// Backbone name (e.g. "efficientnet-lite0").
    pub backbone: String,
    /// Identity of the weights (e.g. the file's name, size and mtime; see [`weights_tag`]).
    pub weights: String,
    pub resolution: usize,
    pub dim: usize,
}

impl EmbedSpec {
    /// The spec of `backbone` with weights identified by `weights`.
    pub fn of(backbone: &dyn Backbone, weights: impl Into<String>) -> Self {
        Self {
            backbone: backbone.kind().name().to_string(),
            weights: weights.into(),
            resolution: backbone.input().resolution,
            dim: backbone.embedding_dim(),
        }
    }
}

/// A weights file's identity for the cache key: its name, size and mtime.
pub fn weights_tag(path: &Path) -> Result<String> {
    let m = std::fs::metadata(path).map_err(|e| Error::io(path, e))?;
    Ok(format!(
        "{}:{}:{}",
        path.file_name().unwrap_or_default().to_string_lossy(),
        m.len(),
        mtime_nanos(&m)
    ))
}

fn mtime_nanos(m: &std::fs::Metadata) -> u128 {
    m.modified()
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_nanos())
}

/// The cache key of `data`'s embeddings under `spec`: stats every file of an image folder.
pub fn cache_key(data: &Dataset, spec: &EmbedSpec) -> Result<u128> {
    let mut h = Fnv128::new();
    h.field(spec.backbone.as_bytes());
    h.field(spec.weights.as_bytes());
    h.field(&(spec.resolution as u64).to_le_bytes());
    h.field(&(spec.dim as u64).to_le_bytes());
    h.field(&PREPROCESS_VERSION.to_le_bytes());
    h.field(&(data.len() as u64).to_le_bytes());
    let files = data.source.files_root().is_some();
    h.field(&[files as u8]);
    if !files {
        let s = data.shape;
        h.field(
            &[s.height as u64, s.width as u64, s.channels as u64]
                .map(u64::to_le_bytes)
                .concat(),
        );
    }
    for i in 0..data.len() {
        h.field(data.id(i).as_bytes());
        match data.file(i) {
            Some(p) if files => {
                let m = std::fs::metadata(&p).map_err(|e| Error::io(&p, e))?;
                h.field(&m.len().to_le_bytes());
                h.field(&mtime_nanos(&m).to_le_bytes());
                // Turned upright by its EXIF orientation (the backbone saw it sideways before
                // that was applied): the folder's entry is computed again once; a folder of
                // upright files keeps its key.
                let original = data.originals().get(i);
                if original.is_some_and(|o| o.turned) {
                    h.field(b"upright");
                }
                // Box-reduced before the resize since (`data::reduce`; from 8 times the input
                // size, a superset of the files it reduces): likewise.
                let reduce_from = crate::data::reduce::MIN_FACTOR as usize * spec.resolution;
                if original.is_some_and(|o| o.width.min(o.height) as usize >= reduce_from) {
                    h.field(b"reduced");
                }
            }
            _ => h.field(data.image(i)),
        }
    }
    Ok(h.0)
}

/// Embeddings of a dataset and where they came from.
#[derive(Debug)]
pub struct Cached {
    pub matrix: FeatureMatrix,
    /// Read from the cache (no backbone call).
    pub hit: bool,
    /// The cache file.
    pub path: PathBuf,
    /// Why an existing cache file was not used (truncated, corrupt), for the user.
    pub note: Option<String>,
}

/// The embeddings cache in one folder.
#[derive(Clone, Debug)]
pub struct EmbedCache {
    dir: PathBuf,
}

impl EmbedCache {
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self { dir: dir.into() }
    }

    /// The cache in [`cache_dir`]'s `embeddings` folder.
    pub fn from_env() -> Result<Self> {
        Ok(Self::new(cache_dir()?.join("embeddings")))
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The file of `key`.
    pub fn path(&self, spec: &EmbedSpec, key: u128) -> PathBuf {
        self.dir.join(format!(
            "{}-{}-{key:032x}.emb",
            spec.backbone, spec.resolution
        ))
    }

    /// The embeddings of `data` under `backbone`: read from the cache when a valid entry exists,
    /// else computed (`progress(done, total)` after each batch; an error from it, e.g.
    /// [`Error::Cancelled`], stops the work) and stored. `weights` identifies the weights
    /// ([`weights_tag`]).
    pub fn embeddings(
        &self,
        data: &Dataset,
        backbone: &dyn Backbone,
        weights: &str,
        progress: &mut dyn FnMut(usize, usize) -> Result<()>,
    ) -> Result<Cached> {
        check_outside_dataset(&self.dir, &data.source)?;
        let spec = EmbedSpec::of(backbone, weights);
        let key = cache_key(data, &spec)?;
        let path = self.path(&spec, key);
        let note = match read_entry(&path, key, data.len(), spec.dim) {
            None => None,
            Some(Ok(matrix)) => {
                progress(data.len(), data.len())?;
                return Ok(Cached {
                    matrix,
                    hit: true,
                    path,
                    note: None,
                });
            }
            Some(Err(why)) => Some(format!(
                "{}: the cached embeddings were not used ({why}); computed again",
                path.display()
            )),
        };
        let matrix = compute(data, backbone, progress)?;
        std::fs::create_dir_all(&self.dir).map_err(|e| Error::io(&self.dir, e))?;
        write_entry(&path, key, &matrix)?;
        // Read back through a map, so that a miss, too, leaves the matrix in the page cache
        // rather than the heap (the computed vector is freed); kept in memory where the new
        // entry cannot be read back (it would be recomputed next time).
        let matrix = match read_entry(&path, key, data.len(), spec.dim) {
            Some(Ok(mapped)) if mapped == matrix => mapped,
            _ => matrix,
        };
        Ok(Cached {
            matrix,
            hit: false,
            path,
            note,
        })
    }

    /// The cached embeddings of `data` under `backbone`, read only (never computed): None when
    /// there is no valid entry (a damaged one counts as none).
    pub fn lookup(
        &self,
        data: &Dataset,
        backbone: &dyn Backbone,
        weights: &str,
    ) -> Result<Option<FeatureMatrix>> {
        let spec = EmbedSpec::of(backbone, weights);
        let key = cache_key(data, &spec)?;
        Ok(read_entry(&self.path(&spec, key), key, data.len(), spec.dim).and_then(|r| r.ok()))
    }
}

/// Writes the entry, streamed (the matrix is not encoded in memory first), atomically: a temp
/// file renamed over `path`. An entry is never modified in place, which is what makes
/// [`read_entry`]'s map safe. Layout: magic, key (u128), rows, dim (u64), the values (f32),
/// all little-endian, then the CRC-32 of all before it.
fn write_entry(path: &Path, key: u128, m: &FeatureMatrix) -> Result<()> {
    write_atomic_with(path, Overwrite::Allow, &mut |w| {
        let mut crc = crc32fast::Hasher::new();
        let mut put = |w: &mut dyn std::io::Write, b: &[u8]| {
            crc.update(b);
            w.write_all(b)
        };
        let mut head = Vec::with_capacity(HEADER);
        head.extend_from_slice(MAGIC);
        head.extend_from_slice(&key.to_le_bytes());
        head.extend_from_slice(&(m.rows as u64).to_le_bytes());
        head.extend_from_slice(&(m.dim as u64).to_le_bytes());
        put(w, &head)?;
        let mut buf = Vec::with_capacity(1 << 16);
        for chunk in m.values.chunks(1 << 14) {
            buf.clear();
            for v in chunk {
                buf.extend_from_slice(&v.to_le_bytes());
            }
            put(w, &buf)?;
        }
        w.write_all(&crc.finalize().to_le_bytes())
    })
}

/// The entry's length in bytes for `rows` x `dim` (None: too large to exist).
fn entry_len(rows: usize, dim: usize) -> Option<usize> {
    rows.checked_mul(dim)?
        .checked_mul(4)?
        .checked_add(HEADER + 4)
}

fn wrong_length(len: u64, rows: usize, dim: usize) -> String {
    let want = entry_len(rows, dim).map_or_else(|| "more".to_string(), |n| n.to_string());
    format!("{len} bytes where {rows} x {dim} embeddings take {want}: truncated or corrupt")
}

/// The entry at `path` when it is whole and of this key and size: None when there is no file,
/// the reason when it cannot be used (unreadable, truncated, corrupt: recomputed).
///
/// The values are not read into memory: the file is mapped read-only and the matrix reads
/// them in place ([`FeatureValues::mapped`]); the checksum is computed over the map (no copy).
/// This is safe because an entry is never modified once written: entries are written to a temp
/// file renamed over the old one ([`write_entry`]), so a map keeps the file it was made of,
/// whole and unchanged, even when this or another process replaces the entry meanwhile (the
/// old file lives on, unnamed, until the last map of it goes). The length is checked on the
/// opened file before mapping, and again on the map, so a truncated entry is a note and a
/// recomputation, never a map past the file's end (whose pages would raise SIGBUS when read).
/// What no check can prevent, as with any mmap: another program truncating the file in place
/// while it is mapped; reading pages past the new end then raises SIGBUS. This program never
/// does that: its caches are only ever replaced by rename.
fn read_entry(
    path: &Path,
    key: u128,
    rows: usize,
    dim: usize,
) -> Option<std::result::Result<FeatureMatrix, String>> {
    let file = match std::fs::File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return None,
        Err(e) => return Some(Err(format!("cannot read it: {e}"))),
    };
    let len = match file.metadata() {
        Ok(m) => m.len(),
        Err(e) => return Some(Err(format!("cannot read it: {e}"))),
    };
    if entry_len(rows, dim).map(|n| n as u64) != Some(len) {
        return Some(Err(wrong_length(len, rows, dim)));
    }
    // SAFETY: the file is never written in place (see above); its length was just checked.
    let map = match unsafe { memmap2::Mmap::map(&file) } {
        Ok(m) => m,
        Err(e) => return Some(Err(format!("cannot map it: {e}"))),
    };
    Some(parse_entry(map, key, rows, dim))
}

/// Checks the mapped entry (length, magic, header, checksum) and gives its matrix, read in
/// place from the map.
fn parse_entry(
    map: memmap2::Mmap,
    key: u128,
    rows: usize,
    dim: usize,
) -> std::result::Result<FeatureMatrix, String> {
    check_entry(&map, key, rows, dim)?;
    let values = FeatureValues::mapped(map, HEADER, rows * dim)
        .ok_or_else(|| "its values are not where its header says".to_string())?;
    FeatureMatrix::new(rows, dim, values).map_err(|e| e.to_string())
}

fn check_entry(b: &[u8], key: u128, rows: usize, dim: usize) -> std::result::Result<(), String> {
    // Checked again on the map: the file may have been truncated after it was opened.
    if entry_len(rows, dim) != Some(b.len()) {
        return Err(wrong_length(b.len() as u64, rows, dim));
    }
    let body = b.len() - 4;
    if &b[..8] != MAGIC {
        return Err("not an embeddings cache file (bad magic)".into());
    }
    let u64_at = |o: usize| u64::from_le_bytes(b[o..o + 8].try_into().unwrap_or([0; 8]));
    let k = u128::from_le_bytes(b[8..24].try_into().unwrap_or([0; 16]));
    if k != key || u64_at(24) != rows as u64 || u64_at(32) != dim as u64 {
        return Err("its header is of another dataset or backbone".into());
    }
    let crc = u32::from_le_bytes(b[body..].try_into().unwrap_or([0; 4]));
    if crc32fast::hash(&b[..body]) != crc {
        return Err("its checksum does not match: corrupt".into());
    }
    Ok(())
}

/// Runs the backbone over every sample of `data`.
fn compute(
    data: &Dataset,
    backbone: &dyn Backbone,
    progress: &mut dyn FnMut(usize, usize) -> Result<()>,
) -> Result<FeatureMatrix> {
    let (n, dim) = (data.len(), backbone.embedding_dim());
    let mut values = vec![0f32; n * dim];
    let files: Option<Vec<PathBuf>> = (0..n).map(|i| data.file(i)).collect();
    match files {
        Some(files) if data.source.files_root().is_some() => {
            embed_files_with(backbone, &files, BATCH, &mut |b| {
                if let Some((i, e)) = b.failed.into_iter().next() {
                    return Err(match e {
                        e @ (Error::Data { .. } | Error::Io { .. } | Error::NotFound { .. }) => e,
                        e => Error::data(&files[i], format!("cannot embed: {e}")),
                    });
                }
                check_rows(b.embeddings.len(), b.indices.len(), dim)?;
                for (row, &i) in b.embeddings.chunks_exact(dim).zip(b.indices) {
                    values[i * dim..(i + 1) * dim].copy_from_slice(row);
                }
                progress(b.done, b.total)
            })?;
        }
        _ => {
            let spec = *backbone.input();
            let r = spec.resolution;
            let idx: Vec<usize> = (0..n).collect();
            for chunk in idx.chunks(BATCH) {
                let inputs: Vec<Vec<f32>> = chunk
                    .par_iter()
                    .map(|&i| Ok(preprocess(&as_image(data, i)?, &spec)))
                    .collect::<Result<_>>()?;
                let batch = ImageBatch::from_images(r, r, &inputs)?;
                let e = backbone.embed(&batch)?;
                check_rows(e.len(), chunk.len(), dim)?;
                values[chunk[0] * dim..(chunk[0] + chunk.len()) * dim].copy_from_slice(&e);
                progress(chunk[0] + chunk.len(), n)?;
            }
        }
    }
    FeatureMatrix::new(n, dim, values)
}

fn check_rows(values: usize, rows: usize, dim: usize) -> Result<()> {
    if values != rows * dim {
        return Err(Error::Model(format!(
            "the backbone gave {values} values for {rows} images of {dim}"
        )));
    }
    Ok(())
}

/// Sample `i`'s pixels as an image.
fn as_image(data: &Dataset, i: usize) -> Result<DynamicImage> {
    let s = data.shape;
    let (w, h) = (s.width as u32, s.height as u32);
    let px = data.image(i).to_vec();
    let bad = || {
        Error::data(
            resolve_path(Path::new(&data.name)),
            format!("sample {} has no image", data.id(i)),
        )
    };
    Ok(match s.channels {
        1 => DynamicImage::ImageLuma8(GrayImage::from_raw(w, h, px).ok_or_else(bad)?),
        _ => DynamicImage::ImageRgb8(RgbImage::from_raw(w, h, px).ok_or_else(bad)?),
    })
}

#[cfg(test)]
mod tests;
