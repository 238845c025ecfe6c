//! Precomputed embeddings (`run --embeddings FILE`): a `.npy` 2-D f32/f64 matrix or a
//! `.safetensors` file with one 2-D tensor, and optionally an ids file (one dataset id per line,
//! in row order) that matches the rows to a dataset's samples; without it the rows are in
//! dataset order and their count must match.

use std::collections::HashMap;
use std::path::Path;

use candle_core::{DType, Device};

use crate::data::Dataset;
use crate::error::{Error, Result};
use crate::learner::head::FeatureMatrix;

/// Reads the matrix in `path` (`.npy` or `.safetensors`).
pub fn read_matrix(path: &Path) -> Result<FeatureMatrix> {
    let ext = path
        .extension()
        .map(|e| e.to_string_lossy().to_ascii_lowercase())
        .unwrap_or_default();
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    let m = match ext.as_str() {
        "npy" => read_npy(&bytes),
        "safetensors" => read_safetensors(&bytes),
        _ => Err("expected a .npy or .safetensors file".to_string()),
    };
    let (rows, dim, values) = m.map_err(|m| Error::data(path, m))?;
    FeatureMatrix::new(rows, dim, values).map_err(|e| Error::data(path, e.to_string()))
}

type Matrix = (usize, usize, Vec<f32>);

/// A `.npy` file (format 1.0, 2.0 or 3.0) holding a C-order 2-D `<f4`/`<f8` array.
pub fn read_npy(b: &[u8]) -> std::result::Result<Matrix, String> {
    if b.len() < 10 || &b[..6] != b"\x93NUMPY" {
        return Err("not a .npy file (no \\x93NUMPY magic)".into());
    }
    let (hlen, start) = match b[6] {
        1 => (u16::from_le_bytes([b[8], b[9]]) as usize, 10),
        2 | 3 if b.len() >= 12 => (u32::from_le_bytes([b[8], b[9], b[10], b[11]]) as usize, 12),
        v => return Err(format!(".npy format version {v} is not supported")),
    };
    let header = b
        .get(start..start + hlen)
        .ok_or("the .npy header is truncated")?;
    let header = std::str::from_utf8(header).map_err(|_| "the .npy header is not text")?;
    let field = |name: &str| -> std::result::Result<&str, String> {
        let key = format!("'{name}':");
        let at = header
            .find(&key)
            .ok_or_else(|| format!("the .npy header has no {name}: {header}"))?;
        Ok(header[at + key.len()..].trim_start())
    };
    let descr = field("descr")?;
    let elem = if descr.starts_with("'<f4'") || descr.starts_with("'f4'") {
        4
    } else if descr.starts_with("'<f8'") || descr.starts_with("'f8'") {
        8
    } else {
        let d: String = descr.chars().take_while(|&c| c != ',').collect();
        return Err(format!(
            "dtype {d} is not supported: expected little-endian float32 or float64 ('<f4', '<f8')"
        ));
    };
    if field("fortran_order")?.starts_with("True") {
        return Err(
            "Fortran-order arrays are not supported: save with np.ascontiguousarray".into(),
        );
    }
    let shape = field("shape")?;
    let inner = shape
        .strip_prefix('(')
        .and_then(|s| s.split(')').next())
        .ok_or_else(|| format!("cannot read the shape in {header}"))?;
    let dims: Vec<usize> = inner
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| {
            s.parse::<usize>()
                .map_err(|_| format!("bad shape ({inner})"))
        })
        .collect::<std::result::Result<_, _>>()?;
    let [rows, dim] = dims[..] else {
        return Err(format!(
            "expected a 2-D matrix (samples x features), got shape ({inner})"
        ));
    };
    let data = &b[start + hlen..];
    let need = rows
        .checked_mul(dim)
        .and_then(|n| n.checked_mul(elem))
        .ok_or("the shape is too large")?;
    if data.len() != need {
        return Err(format!(
            "{rows} x {dim} values of {elem} bytes need {need} bytes of data, the file has {}",
            data.len()
        ));
    }
    let values = if elem == 4 {
        data.chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect()
    } else {
        data.chunks_exact(8)
            .map(|c| {
                let mut a = [0u8; 8];
                a.copy_from_slice(c);
                f64::from_le_bytes(a) as f32
            })
            .collect()
    };
    Ok((rows, dim, values))
}

/// A `.safetensors` file with exactly one 2-D float tensor.
fn read_safetensors(b: &[u8]) -> std::result::Result<Matrix, String> {
    let tensors = candle_core::safetensors::load_buffer(b, &Device::Cpu).map_err(|e| {
        let e = e.to_string();
        format!(
            "not a valid safetensors file ({})",
            e.lines().next().unwrap_or("")
        )
    })?;
    if tensors.len() != 1 {
        let mut names: Vec<&String> = tensors.keys().collect();
        names.sort();
        return Err(format!(
            "expected one tensor (the embeddings), found {}: {names:?}",
            tensors.len()
        ));
    }
    let Some((name, t)) = tensors.into_iter().next() else {
        return Err("the file holds no tensors".into());
    };
    let (rows, dim) = t
        .dims2()
        .map_err(|_| format!("tensor {name} has shape {:?}, expected 2-D", t.dims()))?;
    let values = t
        .to_dtype(DType::F32)
        .and_then(|t| t.flatten_all())
        .and_then(|t| t.to_vec1::<f32>())
        .map_err(|e| format!("tensor {name}: {e}"))?;
    Ok((rows, dim, values))
}

/// The rows of `m` in `data`'s order: through the ids file when given (one id per line in row
/// order; every sample must have exactly one row), else as they are (the count must match).
pub fn align(
    data: &Dataset,
    m: FeatureMatrix,
    ids: Option<&Path>,
    file: &Path,
) -> Result<FeatureMatrix> {
    let Some(ids_path) = ids else {
        if m.rows != data.len() {
            return Err(Error::data(
                file,
                format!(
                    "{} rows but the dataset has {} samples; pass --embedding-ids with one \
                     dataset id per row",
                    m.rows,
                    data.len()
                ),
            ));
        }
        return Ok(m);
    };
    let text = std::fs::read_to_string(ids_path).map_err(|e| Error::io(ids_path, e))?;
    let ids: Vec<&str> = text
        .lines()
        .map(|l| l.trim_end_matches('\r'))
        .filter(|l| !l.trim().is_empty())
        .collect();
    if ids.len() != m.rows {
        return Err(Error::data(
            ids_path,
            format!(
                "{} ids for the {} rows of {}",
                ids.len(),
                m.rows,
                file.display()
            ),
        ));
    }
    let index = data.index_of_ids();
    let mut row_of: Vec<Option<usize>> = vec![None; data.len()];
    let mut unknown = Vec::new();
    let mut seen: HashMap<&str, usize> = HashMap::new();
    for (r, id) in ids.iter().enumerate() {
        if let Some(prev) = seen.insert(id, r) {
            return Err(Error::data(
                ids_path,
                format!("id {id} is on lines {} and {}", prev + 1, r + 1),
            ));
        }
        match index.get(id) {
            Some(&i) => row_of[i] = Some(r),
            None => unknown.push(*id),
        }
    }
    let missing: Vec<&str> = (0..data.len())
        .filter(|&i| row_of[i].is_none())
        .map(|i| data.id(i))
        .collect();
    if !missing.is_empty() {
        let ex = missing
            .iter()
            .take(3)
            .copied()
            .collect::<Vec<_>>()
            .join(", ");
        let extra = if unknown.is_empty() {
            String::new()
        } else {
            format!(
                "; {} ids match no sample (e.g. {})",
                unknown.len(),
                unknown
                    .iter()
                    .take(3)
                    .copied()
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        };
        return Err(Error::data(
            ids_path,
            format!(
                "{} of the dataset's {} samples have no row (e.g. {ex}){extra}",
                missing.len(),
                data.len()
            ),
        ));
    }
    let d = m.dim;
    let mut values = Vec::with_capacity(data.len() * d);
    for r in row_of.into_iter().flatten() {
        values.extend_from_slice(m.row(r));
    }
    FeatureMatrix::new(data.len(), d, values)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::{ImageShape, Source};

    use crate::testing::npy;

    fn dataset(n: usize) -> Dataset {
        Dataset::from_parts(
            "d",
            Source::Memory,
            vec!["a".into(), "b".into()],
            ImageShape::new(1, 1, 1),
            vec![0; n],
            vec![0; n],
            (0..n).map(|i| format!("x/{i}.png")).collect(),
        )
        .unwrap()
    }

    #[test]
    fn npy_f32_and_f64_matrices_are_read() {
        let v: Vec<f32> = (0..6).map(|i| i as f32 * 0.5).collect();
        let b32: Vec<u8> = v.iter().flat_map(|x| x.to_le_bytes()).collect();
        assert_eq!(
            read_npy(&npy("<f4", "(2, 3)", &b32)).unwrap(),
            (2, 3, v.clone())
        );
        let b64: Vec<u8> = v.iter().flat_map(|&x| (x as f64).to_le_bytes()).collect();
        assert_eq!(read_npy(&npy("<f8", "(3, 2)", &b64)).unwrap(), (3, 2, v));
        let e = read_npy(&npy("<i4", "(2, 3)", &b32)).unwrap_err();
        assert!(e.contains("'<i4'") && e.contains("float32"), "{e}");
        let e = read_npy(&npy("<f4", "(6,)", &b32)).unwrap_err();
        assert!(e.contains("2-D"), "{e}");
        let e = read_npy(&npy("<f4", "(2, 3)", &b32[..20])).unwrap_err();
        assert!(e.contains("24 bytes") && e.contains("has 20"), "{e}");
        assert!(read_npy(b"PK\x03\x04 zip").unwrap_err().contains("magic"));
    }

    #[test]
    fn safetensors_with_one_matrix_is_read_and_others_refused() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("e.safetensors");
        let t = candle_core::Tensor::arange(0f32, 6.0, &Device::Cpu)
            .unwrap()
            .reshape((3, 2))
            .unwrap();
        candle_core::safetensors::save(&HashMap::from([("emb".to_string(), t.clone())]), &p)
            .unwrap();
        let m = read_matrix(&p).unwrap();
        assert_eq!((m.rows, m.dim), (3, 2));
        assert_eq!(m.row(2), &[4.0, 5.0]);
        candle_core::safetensors::save(
            &HashMap::from([("a".to_string(), t.clone()), ("b".to_string(), t)]),
            &p,
        )
        .unwrap();
        let e = read_matrix(&p).unwrap_err().to_string();
        assert!(e.contains("e.safetensors") && e.contains("found 2"), "{e}");
    }

    #[test]
    fn rows_are_aligned_by_ids_and_mismatches_are_clear_errors() {
        let dir = tempfile::tempdir().unwrap();
        let data = dataset(3);
        let m = FeatureMatrix::new(3, 1, vec![10.0, 11.0, 12.0]).unwrap();
        let f = Path::new("e.npy");
        // Without ids: as they are, the count must match.
        assert_eq!(align(&data, m.clone(), None, f).unwrap(), m);
        let e = align(&dataset(4), m.clone(), None, f)
            .unwrap_err()
            .to_string();
        assert!(e.contains("3 rows but the dataset has 4 samples"), "{e}");
        // With ids in another order.
        let ids = dir.path().join("ids.txt");
        std::fs::write(&ids, "x/2.png\nx/0.png\r\nx/1.png\n").unwrap();
        let a = align(&data, m.clone(), Some(&ids), f).unwrap();
        assert_eq!(*a.values, [11.0, 12.0, 10.0]);
        // An id that is not in the set, a missing sample.
        std::fs::write(&ids, "x/2.png\nx/9.png\nx/1.png\n").unwrap();
        let e = align(&data, m.clone(), Some(&ids), f)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("1 of the dataset's 3 samples have no row (e.g. x/0.png)")
                && e.contains("x/9.png"),
            "{e}"
        );
        std::fs::write(&ids, "x/2.png\nx/1.png\n").unwrap();
        let e = align(&data, m.clone(), Some(&ids), f)
            .unwrap_err()
            .to_string();
        assert!(e.contains("2 ids for the 3 rows"), "{e}");
        std::fs::write(&ids, "x/2.png\nx/2.png\nx/1.png\n").unwrap();
        let e = align(&data, m, Some(&ids), f).unwrap_err().to_string();
        assert!(e.contains("lines 1 and 2"), "{e}");
    }
}
