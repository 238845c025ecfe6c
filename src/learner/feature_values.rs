//! The values of a [`FeatureMatrix`](super::head::FeatureMatrix): a vector in memory, or the
//! f32 values of an embeddings cache file read in place through a read-only memory map (a
//! 100k x 1280 cache is 512 MB that never enters the heap: the kernel pages it in from its page
//! cache as rows are read, and may drop those pages again under memory pressure). Either way
//! the values are shared: cloning is cheap and copies nothing.

use std::fmt;
use std::ops::Deref;
use std::sync::Arc;

/// f32 values in memory or in a mapped file; derefs to `&[f32]`.
#[derive(Clone)]
pub struct FeatureValues(Arc<Store>);

enum Store {
    Owned(Vec<f32>),
    /// `len` f32 values at byte `offset` of `map`: little-endian, 4-byte aligned, in bounds
    /// (checked by [`FeatureValues::mapped`]).
    Mapped {
        map: memmap2::Mmap,
        offset: usize,
        len: usize,
    },
}

impl FeatureValues {
    /// The `len` little-endian f32 values at byte `offset` of `map`, read in place. Where they
    /// cannot be (a big-endian machine, an offset not a multiple of 4) they are decoded into
    /// memory instead; None when the range is not inside the map.
    ///
    /// The map must be of a file that is never modified in place while mapped (the embeddings
    /// cache writes a temp file and renames it over the old one: see `session::embed_cache`).
    pub fn mapped(map: memmap2::Mmap, offset: usize, len: usize) -> Option<Self> {
        let end = len.checked_mul(4)?.checked_add(offset)?;
        let bytes = map.get(offset..end)?;
        let in_place = cfg!(target_endian = "little")
            && (bytes.as_ptr() as usize).is_multiple_of(std::mem::align_of::<f32>());
        if !in_place {
            let v: Vec<f32> = bytes
                .chunks_exact(4)
                .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                .collect();
            return Some(Self::from(v));
        }
        Some(Self(Arc::new(Store::Mapped { map, offset, len })))
    }

    /// Whether the values are read from a mapped file (not held in memory).
    pub fn is_mapped(&self) -> bool {
        matches!(*self.0, Store::Mapped { .. })
    }

    /// The values as a vector of their own: moved out when held in memory and not shared,
    /// else copied.
    pub fn into_vec(self) -> Vec<f32> {
        match Arc::try_unwrap(self.0) {
            Ok(Store::Owned(v)) => v,
            Ok(s) => FeatureValues(Arc::new(s)).to_vec(),
            Err(shared) => FeatureValues(shared).to_vec(),
        }
    }
}

impl Deref for FeatureValues {
    type Target = [f32];

    fn deref(&self) -> &[f32] {
        match &*self.0 {
            Store::Owned(v) => v,
            Store::Mapped { map, offset, len } => {
                let bytes = &map[*offset..*offset + *len * 4];
                // SAFETY: `mapped` checked that these bytes are inside the map, aligned for
                // f32 and little-endian like this machine; every bit pattern is a valid f32;
                // the map is read-only, owned by `self` (it outlives the borrow) and its file
                // is never written in place (replaced by rename only).
                unsafe { std::slice::from_raw_parts(bytes.as_ptr().cast::<f32>(), *len) }
            }
        }
    }
}

impl From<Vec<f32>> for FeatureValues {
    fn from(v: Vec<f32>) -> Self {
        Self(Arc::new(Store::Owned(v)))
    }
}

impl PartialEq for FeatureValues {
    fn eq(&self, other: &Self) -> bool {
        **self == **other
    }
}

impl fmt::Debug for FeatureValues {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let shown = &self[..self.len().min(8)];
        write!(
            f,
            "FeatureValues({} values{}, {shown:?}{})",
            self.len(),
            if self.is_mapped() { ", mapped" } else { "" },
            if self.len() > 8 { "..." } else { "" }
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn map_of(bytes: &[u8]) -> (tempfile::NamedTempFile, memmap2::Mmap) {
        let mut f = tempfile::NamedTempFile::new().unwrap();
        f.write_all(bytes).unwrap();
        f.flush().unwrap();
        // SAFETY (test): the temp file is not modified while mapped.
        let map = unsafe { memmap2::Mmap::map(f.as_file()) }.unwrap();
        (f, map)
    }

    #[test]
    fn mapped_values_are_read_in_place_and_bounds_are_checked() {
        let vals = [1.5f32, -2.0, 3.25, f32::MAX];
        let mut bytes = b"HEAD".to_vec();
        for v in vals {
            bytes.extend_from_slice(&v.to_le_bytes());
        }
        let (_f, map) = map_of(&bytes);
        let base = map.as_ptr() as usize;
        let v = FeatureValues::mapped(map, 4, 4).unwrap();
        assert_eq!(&*v, &vals);
        if cfg!(target_endian = "little") {
            assert!(v.is_mapped());
            // The slice points into the map, not at a copy.
            assert_eq!(v.as_ptr() as usize, base + 4);
        }
        let shared = v.clone();
        assert_eq!(shared.as_ptr(), v.as_ptr(), "a clone shares the values");
        assert_eq!(v.into_vec(), vals.to_vec());

        let (_f, map) = map_of(&bytes);
        assert!(FeatureValues::mapped(map, 4, 5).is_none(), "past the end");
        // A misaligned offset: decoded into memory instead.
        let (_f, map) = map_of(&bytes);
        let odd = FeatureValues::mapped(map, 1, 4).unwrap();
        assert!(!odd.is_mapped());
        assert_eq!(odd[0], f32::from_le_bytes([b'E', b'A', b'D', bytes[4]]));
        let owned = FeatureValues::from(vec![1.0, 2.0]);
        assert!(!owned.is_mapped());
        assert_eq!(owned.into_vec(), vec![1.0, 2.0]);
    }
}
