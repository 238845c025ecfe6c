//! Duplicates and outliers of a dataset: exact duplicates by content hash (the file's bytes
//! for image folders, the pixels otherwise), near-duplicates by cosine similarity of
//! embeddings (exhaustive k-nearest neighbours in blocks through the gemm kernel), outliers by
//! their mean cosine distance to their k nearest neighbours (above median + 3 MADs).

use std::fmt::Write as _;

use rayon::prelude::*;

use crate::data::quality::{content_hash, equal_sets};
use crate::data::Dataset;
use crate::error::{Error, Result};
use crate::learner::fast::gemm::{matmul, MatRef};
use crate::learner::head::FeatureMatrix;

/// Cosine similarity (of centred embeddings) at or above which two samples are
/// near-duplicates. Measured with EfficientNet-Lite0 on scikit-image's photos
/// (`tests/backbone.rs`): a half-size copy 0.97, a JPEG re-encode at quality 70 0.91 - 0.94, a stereo
/// pair 0.85, a 400x400 crop 0.70, two unrelated photos 0.15 at the median. So resized and
/// re-encoded copies are found, crops and other shots of a scene are not.
pub const NEAR_DUPLICATE_COSINE: f32 = 0.90;
/// Neighbours an outlier's distance is measured to.
pub const OUTLIER_K: usize = 5;
/// Rows per block of the similarity matrix.
const BLOCK: usize = 256;

/// Two samples that look the same.
#[derive(Clone, Debug, PartialEq)]
pub struct Duplicate {
    pub a: usize,
    pub b: usize,
    /// Same bytes (true) or embeddings within [`NEAR_DUPLICATE_COSINE`].
    pub exact: bool,
    pub cosine: f32,
}

/// A sample far from every other.
#[derive(Clone, Debug, PartialEq)]
pub struct Outlier {
    pub index: usize,
    /// Mean cosine distance (1 - similarity) to its k nearest neighbours.
    pub distance: f32,
}

/// What [`analyse`] found.
#[derive(Clone, Debug, Default)]
pub struct Similar {
    pub duplicates: Vec<Duplicate>,
    pub outliers: Vec<Outlier>,
    /// The outlier threshold used (median + 3 MADs of the kNN distances).
    pub outlier_threshold: f32,
}

impl Similar {
    /// The groups the exact (`exact`) or near duplicate pairs join (union-find: a - b and b - c
    /// are one group of three), each sorted, in the order of their first member: the same
    /// unit, images in groups, as the image checks' duplicate sets.
    pub fn duplicate_groups(&self, exact: bool) -> Vec<Vec<usize>> {
        let pairs: Vec<(usize, usize)> = self
            .duplicates
            .iter()
            .filter(|d| d.exact == exact)
            .map(|d| (d.a, d.b))
            .collect();
        let mut parent: std::collections::HashMap<usize, usize> =
            pairs.iter().flat_map(|&(a, b)| [(a, a), (b, b)]).collect();
        fn root(parent: &mut std::collections::HashMap<usize, usize>, mut i: usize) -> usize {
            while let Some(&p) = parent.get(&i).filter(|&&p| p != i) {
                // Path halving: point at the grandparent as we go.
                let g = parent.get(&p).copied().unwrap_or(p);
                parent.insert(i, g);
                i = g;
            }
            i
        }
        for &(a, b) in &pairs {
            let (ra, rb) = (root(&mut parent, a), root(&mut parent, b));
            if ra != rb {
                parent.insert(ra.max(rb), ra.min(rb));
            }
        }
        let mut members: Vec<usize> = parent.keys().copied().collect();
        members.sort_unstable();
        let mut groups: std::collections::BTreeMap<usize, Vec<usize>> = Default::default();
        for i in members {
            let r = root(&mut parent, i);
            groups.entry(r).or_default().push(i);
        }
        let mut groups: Vec<Vec<usize>> = groups.into_values().collect();
        groups.sort_by_key(|g| g[0]);
        groups
    }

    /// "5 images in 2 groups of near duplicates" (`exact`: "exact"), the words the image checks
    /// use for theirs ([`crate::data::quality::duplicate_words`]).
    pub fn duplicate_words(&self, exact: bool) -> String {
        let groups = self.duplicate_groups(exact);
        crate::data::quality::duplicate_words(
            if exact { "exact" } else { "near" },
            groups.iter().map(Vec::len).sum(),
            groups.len(),
        )
    }
}

/// The k nearest neighbours (by cosine similarity, self excluded) of every row of `m`:
/// `(index, similarity)` per row, most similar first.
///
/// The rows are centred on the set's mean first: a backbone's pooled features come after a
/// ReLU, so every raw vector lies in the positive orthant and unrelated photos have cosines of
/// 0.6 - 0.9, too close to [`NEAR_DUPLICATE_COSINE`]; centred, only what sets two images apart
/// from the rest of the set counts.
pub fn knn(m: &FeatureMatrix, k: usize) -> Vec<Vec<(usize, f32)>> {
    let (n, d) = (m.rows, m.dim);
    let k = k.min(n.saturating_sub(1));
    let mut unit = m.values.to_vec();
    let mut mean = vec![0f64; d];
    for r in unit.chunks_exact(d) {
        for (s, &v) in mean.iter_mut().zip(r) {
            *s += v as f64;
        }
    }
    let mean: Vec<f32> = mean.iter().map(|s| (s / n.max(1) as f64) as f32).collect();
    unit.par_chunks_exact_mut(d).for_each(|r| {
        r.iter_mut().zip(&mean).for_each(|(v, m)| *v -= m);
        let norm = r.iter().map(|v| v * v).sum::<f32>().sqrt();
        if norm > 0.0 {
            r.iter_mut().for_each(|v| *v /= norm);
        }
    });
    let all = MatRef::row_major(&unit, n, d);
    let mut out = Vec::with_capacity(n);
    let mut sims = vec![0f32; BLOCK.min(n.max(1)) * n];
    let par = match rayon::current_num_threads() {
        0 | 1 => gemm::Parallelism::None,
        t => gemm::Parallelism::Rayon(t),
    };
    for start in (0..n).step_by(BLOCK) {
        let rows = BLOCK.min(n - start);
        let block = MatRef::row_major(&unit[start * d..(start + rows) * d], rows, d);
        matmul(&mut sims[..rows * n], n, false, block, all.t(), par);
        let found: Vec<Vec<(usize, f32)>> = sims[..rows * n]
            .par_chunks_exact(n)
            .enumerate()
            .map(|(r, row)| top_k(row, start + r, k))
            .collect();
        out.extend(found);
    }
    out
}

/// The `k` largest values of `row` other than at `skip`, largest first.
fn top_k(row: &[f32], skip: usize, k: usize) -> Vec<(usize, f32)> {
    let mut best: Vec<(usize, f32)> = Vec::with_capacity(k + 1);
    for (j, &s) in row.iter().enumerate() {
        if j == skip || k == 0 {
            continue;
        }
        if best.len() == k && s <= best[k - 1].1 {
            continue;
        }
        let at = best.partition_point(|&(_, b)| b >= s);
        best.insert(at, (j, s));
        best.truncate(k);
    }
    best
}

/// Groups of samples with the same content (files' bytes for image folders, pixels
/// otherwise), each group sorted, groups in order of their first sample.
pub fn exact_duplicates(data: &Dataset) -> Result<Vec<Vec<usize>>> {
    let hashes: Vec<u64> = (0..data.len())
        .into_par_iter()
        .map(|i| match data.file(i) {
            Some(p) => std::fs::read(&p)
                .map(|b| content_hash(&[&b]))
                .map_err(|e| Error::io(&p, e)),
            None => Ok(content_hash(&[data.image(i)])),
        })
        .collect::<Result<_>>()?;
    Ok(equal_sets(hashes))
}

/// Exact and near duplicates and outliers of `data` whose embeddings are `m`.
pub fn analyse(data: &Dataset, m: &FeatureMatrix) -> Result<Similar> {
    if m.rows != data.len() {
        return Err(Error::Config(format!(
            "{} embeddings for the {} samples of {}",
            m.rows,
            data.len(),
            data.name
        )));
    }
    let mut duplicates = Vec::new();
    // Each sample's exact set (its first member): two copies of one file are exact duplicates
    // of each other too, never a near pair (they had been, past the set's first member).
    let mut exact_set = std::collections::HashMap::new();
    for g in exact_duplicates(data)? {
        for &b in &g[1..] {
            duplicates.push(Duplicate {
                a: g[0],
                b,
                exact: true,
                cosine: 1.0,
            });
        }
        for &i in &g {
            exact_set.insert(i, g[0]);
        }
    }
    let same_file = |a: usize, b: usize| {
        exact_set
            .get(&a)
            .is_some_and(|g| exact_set.get(&b) == Some(g))
    };
    let nn = knn(m, OUTLIER_K);
    for (a, row) in nn.iter().enumerate() {
        for &(b, s) in row {
            if a < b && s >= NEAR_DUPLICATE_COSINE && !same_file(a, b) {
                duplicates.push(Duplicate {
                    a,
                    b,
                    exact: false,
                    cosine: s,
                });
            }
        }
    }
    // a > b pairs found only from b's side (a in b's list but not b in a's) are kept once.
    let mut seen: std::collections::HashSet<(usize, usize)> =
        duplicates.iter().map(|d| (d.a, d.b)).collect();
    for (a, row) in nn.iter().enumerate() {
        for &(b, s) in row {
            if b < a && s >= NEAR_DUPLICATE_COSINE && !same_file(a, b) && seen.insert((b, a)) {
                duplicates.push(Duplicate {
                    a: b,
                    b: a,
                    exact: false,
                    cosine: s,
                });
            }
        }
    }
    duplicates.sort_by_key(|d| (!d.exact, d.a, d.b));
    let dist: Vec<f32> = nn
        .iter()
        .map(|row| {
            if row.is_empty() {
                0.0
            } else {
                row.iter().map(|&(_, s)| 1.0 - s).sum::<f32>() / row.len() as f32
            }
        })
        .collect();
    let threshold = robust_threshold(&dist);
    let mut outliers: Vec<Outlier> = dist
        .iter()
        .enumerate()
        .filter(|&(_, &d)| d > threshold)
        .map(|(index, &distance)| Outlier { index, distance })
        .collect();
    outliers.sort_by(|a, b| b.distance.total_cmp(&a.distance));
    Ok(Similar {
        duplicates,
        outliers,
        outlier_threshold: threshold,
    })
}

/// Median + 3 median absolute deviations (scaled to a normal's sigma) of `v`.
fn robust_threshold(v: &[f32]) -> f32 {
    if v.len() < 3 {
        return f32::INFINITY;
    }
    let median = |mut x: Vec<f32>| {
        x.sort_by(|a, b| a.total_cmp(b));
        x[x.len() / 2]
    };
    let med = median(v.to_vec());
    let mad = median(v.iter().map(|x| (x - med).abs()).collect());
    med + 3.0 * 1.4826 * mad.max(1e-6)
}

/// `duplicates.csv`: `kind,id_a,id_b,cosine`.
pub fn duplicates_csv(data: &Dataset, s: &Similar) -> String {
    let mut out = String::from("kind,id_a,id_b,cosine\n");
    for d in &s.duplicates {
        let _ = writeln!(
            out,
            "{},{},{},{:.4}",
            if d.exact { "exact" } else { "near" },
            csv_field(data.id(d.a)),
            csv_field(data.id(d.b)),
            d.cosine
        );
    }
    out
}

/// `outliers.csv`: `id,given,knn_distance`, farthest first.
pub fn outliers_csv(data: &Dataset, s: &Similar) -> String {
    let mut out = String::from("id,given,knn_distance\n");
    for o in &s.outliers {
        let _ = writeln!(
            out,
            "{},{},{:.4}",
            csv_field(data.id(o.index)),
            csv_field(data.class_name(data.label(o.index))),
            o.distance
        );
    }
    out
}

fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::{ImageShape, Source};
    use crate::rng::Rng;

    fn dataset(pixels: Vec<u8>, n: usize) -> Dataset {
        Dataset::from_parts(
            "d",
            Source::Memory,
            vec!["a".into(), "b".into()],
            ImageShape::new(1, 2, 1),
            pixels,
            vec![0; n],
            (0..n).map(|i| format!("s{i}")).collect(),
        )
        .unwrap()
    }

    #[test]
    fn knn_matches_a_brute_force_search() {
        let mut rng = Rng::new(3);
        let (n, d) = (300, 7);
        let v: Vec<f32> = (0..n * d).map(|_| rng.normal()).collect();
        let m = FeatureMatrix::new(n, d, v).unwrap();
        let nn = knn(&m, 4);
        let mean: Vec<f32> = (0..d)
            .map(|j| (0..n).map(|i| m.row(i)[j]).sum::<f32>() / n as f32)
            .collect();
        let centred =
            |i: usize| -> Vec<f32> { m.row(i).iter().zip(&mean).map(|(v, c)| v - c).collect() };
        let cos = |a: usize, b: usize| {
            let (x, y) = (&centred(a), &centred(b));
            let dot: f32 = x.iter().zip(y).map(|(p, q)| p * q).sum();
            let nx = x.iter().map(|p| p * p).sum::<f32>().sqrt();
            let ny = y.iter().map(|p| p * p).sum::<f32>().sqrt();
            dot / (nx * ny)
        };
        for a in [0, 17, 256, 299] {
            let mut all: Vec<(usize, f32)> =
                (0..n).filter(|&b| b != a).map(|b| (b, cos(a, b))).collect();
            all.sort_by(|x, y| y.1.total_cmp(&x.1));
            let want: Vec<usize> = all[..4].iter().map(|x| x.0).collect();
            let got: Vec<usize> = nn[a].iter().map(|x| x.0).collect();
            assert_eq!(got, want, "row {a}");
            assert!((nn[a][0].1 - all[0].1).abs() < 1e-5);
        }
    }

    #[test]
    fn duplicates_and_outliers_are_found() {
        // 60 points on 3 clusters, one exact copy (same pixels), one near copy (tiny
        // perturbation), one point far from all.
        let mut rng = Rng::new(1);
        let d = 64;
        let centres: Vec<Vec<f32>> = (0..3)
            .map(|_| (0..d).map(|_| rng.normal() * 2.0).collect())
            .collect();
        let n = 60;
        let mut v = Vec::new();
        for i in 0..n {
            v.extend(centres[i % 3].iter().map(|c| c + rng.normal()));
        }
        let row = |v: &Vec<f32>, i: usize| v[i * d..(i + 1) * d].to_vec();
        let r5 = row(&v, 5);
        v.extend(r5.iter().map(|x| x + 0.001)); // 60: near copy of 5
        let r7 = row(&v, 7);
        v.extend(r7); // 61: exact copy of 7
        v.extend((0..d).map(|j| if j == 0 { -40.0 } else { 0.0 })); // 62: far out
        let m = FeatureMatrix::new(n + 3, d, v).unwrap();
        let mut pixels: Vec<u8> = (0..n + 3).flat_map(|i| [i as u8, 1]).collect();
        pixels[61 * 2] = 7; // 61 has 7's pixels
        let data = dataset(pixels, n + 3);
        let s = analyse(&data, &m).unwrap();
        assert!(s.duplicates.contains(&Duplicate {
            a: 7,
            b: 61,
            exact: true,
            cosine: 1.0
        }));
        let near: Vec<(usize, usize)> = s
            .duplicates
            .iter()
            .filter(|d| !d.exact)
            .map(|d| (d.a, d.b))
            .collect();
        assert!(near.contains(&(5, 60)), "{near:?}");
        assert!(!near.contains(&(7, 61)), "the exact pair is listed once");
        // Cluster members are not near-duplicates of each other (cosine about 0.8 at 64
        // dimensions, below the 0.9 cut).
        assert!(near.len() <= 2, "{near:?}");
        assert_eq!(
            s.outliers.first().map(|o| o.index),
            Some(62),
            "{:?}",
            s.outliers
        );
        // The planted point stands far apart: over twice the next one's distance, and few
        // cluster points pass the threshold (a tail of a normal cloud).
        assert!(s.outliers.len() < 6, "{:?}", s.outliers);
        if let Some(next) = s.outliers.get(1) {
            assert!(
                s.outliers[0].distance > 2.0 * next.distance,
                "{:?}",
                s.outliers
            );
        }
        let csv = duplicates_csv(&data, &s);
        assert!(csv.contains("exact,s7,s61,1.0000"), "{csv}");
        assert!(csv.contains("near,s5,s60,"), "{csv}");
        assert!(outliers_csv(&data, &s)
            .lines()
            .nth(1)
            .unwrap()
            .starts_with("s62,a,"));
    }
}
