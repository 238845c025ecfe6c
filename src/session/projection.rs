//! A 2-D principal-component projection of per-sample vectors (class probabilities or
//! embeddings), for the window's embedding map. Subspace (block power) iteration on the
//! centred data, never forming the covariance: each step costs two passes over the rows it
//! fits on. Past [`MAX_FIT`] rows the components are fitted on that many rows spread evenly
//! over the set (enough for a picture) and every row is projected on them.

use crate::error::Error;

/// Where each sample lands, and how much of the spread the two axes carry.
#[derive(Clone, Debug, PartialEq)]
pub struct Projection {
    /// `(x, y)` per sample: its coordinates on the first and second component.
    pub points: Vec<[f32; 2]>,
    /// The two unit directions (each `dim` long), strongest first.
    pub components: [Vec<f32>; 2],
    /// Fraction of the total variance along each component (0 when the data has none).
    pub explained: [f32; 2],
    pub dim: usize,
}

const MAX_ITERS: usize = 150;
const TOL: f64 = 1e-9;
/// The most rows the components are fitted on.
pub const MAX_FIT: usize = 4000;

/// Project `n` rows of `dim` values (`data` row-major, `n * dim` long) on their top two
/// principal components. Rows with non-finite values count as zeros.
pub fn pca2(data: &[f32], dim: usize) -> crate::Result<Projection> {
    if dim == 0 || !data.len().is_multiple_of(dim) {
        return Err(Error::Other(format!(
            "projection: {} values are not rows of {dim}",
            data.len()
        )));
    }
    let all = data.len() / dim;
    // The rows fitted on: all, or MAX_FIT spread evenly.
    let fit: Vec<usize> = if all > MAX_FIT {
        (0..MAX_FIT).map(|k| k * all / MAX_FIT).collect()
    } else {
        (0..all).collect()
    };
    let n = fit.len();
    let val = |i: usize, j: usize| {
        let x = data[i * dim + j];
        if x.is_finite() {
            x as f64
        } else {
            0.0
        }
    };
    let mut mean = vec![0.0f64; dim];
    for &i in &fit {
        for (j, m) in mean.iter_mut().enumerate() {
            *m += val(i, j);
        }
    }
    for m in &mut mean {
        *m /= n.max(1) as f64;
    }
    let mut total = 0.0f64;
    for &i in &fit {
        for (j, m) in mean.iter().enumerate() {
            total += (val(i, j) - m).powi(2);
        }
    }
    // C v = X^T (X v) / n on the centred rows, for two vectors at once.
    let apply = |v: &[Vec<f64>; 2]| -> [Vec<f64>; 2] {
        let mut out = [vec![0.0f64; dim], vec![0.0f64; dim]];
        let mut row = vec![0.0f64; dim];
        for &i in &fit {
            for (j, r) in row.iter_mut().enumerate() {
                *r = val(i, j) - mean[j];
            }
            for k in 0..2 {
                let p: f64 = row.iter().zip(&v[k]).map(|(a, b)| a * b).sum();
                if p != 0.0 {
                    for (o, r) in out[k].iter_mut().zip(&row) {
                        *o += p * r;
                    }
                }
            }
        }
        out
    };
    // A fixed, spread start (no randomness: the same data gives the same map).
    let mut v: [Vec<f64>; 2] = [
        (0..dim).map(|j| 1.0 + (j as f64 * 0.618).fract()).collect(),
        (0..dim)
            .map(|j| if j % 2 == 0 { 1.0 } else { -1.0 } * (1.0 + (j as f64 * 0.377).fract()))
            .collect(),
    ];
    orthonormalize(&mut v);
    let mut eig = [0.0f64; 2];
    for _ in 0..MAX_ITERS {
        let mut w = apply(&v);
        // Rayleigh quotients before orthonormalising.
        for k in 0..2 {
            eig[k] = dot(&w[k], &v[k]) / n.max(1) as f64;
        }
        orthonormalize(&mut w);
        let change = (0..2)
            .map(|k| 1.0 - dot(&w[k], &v[k]).abs())
            .fold(0.0f64, f64::max);
        v = w;
        if change < TOL {
            break;
        }
    }
    // Strongest first.
    if eig[1] > eig[0] {
        v.swap(0, 1);
        eig.swap(0, 1);
    }
    let points = (0..all)
        .map(|i| {
            let mut p = [0.0f32; 2];
            for (k, c) in p.iter_mut().enumerate() {
                *c = (0..dim)
                    .map(|j| (val(i, j) - mean[j]) * v[k][j])
                    .sum::<f64>() as f32;
            }
            p
        })
        .collect();
    let var = total / n.max(1) as f64;
    let explained = eig.map(|e| if var > 0.0 { (e / var) as f32 } else { 0.0 });
    Ok(Projection {
        points,
        components: [
            v[0].iter().map(|&x| x as f32).collect(),
            v[1].iter().map(|&x| x as f32).collect(),
        ],
        explained,
        dim,
    })
}

fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

/// Gram-Schmidt on the two vectors; a vector that vanishes becomes a unit axis orthogonal to
/// the other (data with fewer than two directions of spread).
fn orthonormalize(v: &mut [Vec<f64>; 2]) {
    let dim = v[0].len();
    let norm = |x: &[f64]| dot(x, x).sqrt();
    let n0 = norm(&v[0]);
    if n0 > 1e-300 {
        v[0].iter_mut().for_each(|x| *x /= n0);
    } else {
        v[0] = (0..dim).map(|j| if j == 0 { 1.0 } else { 0.0 }).collect();
    }
    let first = v[0].clone();
    let before = norm(&v[1]);
    // Twice: one pass leaves rounding error along the first direction, which the next power
    // step would amplify.
    for _ in 0..2 {
        let p = dot(&v[1], &first);
        v[1].iter_mut().zip(&first).for_each(|(x, f)| *x -= p * f);
    }
    let n1 = norm(&v[1]);
    if n1 > 1e-9 * before && n1 > 1e-300 {
        v[1].iter_mut().for_each(|x| *x /= n1);
    } else {
        // Any axis with the least weight in the first direction, made orthogonal to it.
        let j = (0..dim)
            .min_by(|&a, &b| first[a].abs().total_cmp(&first[b].abs()))
            .unwrap_or(0);
        let mut e: Vec<f64> = (0..dim).map(|k| if k == j { 1.0 } else { 0.0 }).collect();
        let p = e[j] * first[j];
        e.iter_mut().zip(&first).for_each(|(x, f)| *x -= p * f);
        let ne = norm(&e);
        if ne > 0.0 {
            e.iter_mut().for_each(|x| *x /= ne);
        }
        v[1] = e;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Synthetic data spread mostly along two known orthogonal directions in 6-D (std 5 and
    /// 2) plus small noise: the projection finds them (up to sign) and their share.
    #[test]
    fn recovers_the_top_two_directions_of_synthetic_data() {
        let dim = 6;
        let norm = |v: Vec<f64>| {
            let n = v.iter().map(|x| x * x).sum::<f64>().sqrt();
            v.into_iter().map(|x| x / n).collect::<Vec<_>>()
        };
        let a = norm(vec![1.0, 2.0, 0.0, -1.0, 0.5, 0.0]);
        // b orthogonal to a.
        let b0 = vec![0.0, 1.0, 1.0, 2.0, 0.0, -1.0];
        let p: f64 = a.iter().zip(&b0).map(|(x, y)| x * y).sum();
        let b = norm(b0.iter().zip(&a).map(|(y, x)| y - p * x).collect());
        let mut seed = 7u64;
        let mut gauss = move || {
            // Sum of 12 uniforms - 6: close enough to a unit normal.
            (0..12)
                .map(|_| {
                    seed ^= seed << 13;
                    seed ^= seed >> 7;
                    seed ^= seed << 17;
                    (seed >> 11) as f64 / (1u64 << 53) as f64
                })
                .sum::<f64>()
                - 6.0
        };
        let n = 2000;
        let mut data = Vec::with_capacity(n * dim);
        for _ in 0..n {
            let (s, t) = (5.0 * gauss(), 2.0 * gauss());
            for j in 0..dim {
                data.push((3.0 + s * a[j] + t * b[j] + 0.1 * gauss()) as f32);
            }
        }
        let p = pca2(&data, dim).unwrap();
        assert_eq!(p.points.len(), n);
        let cos = |c: &[f32], d: &[f64]| {
            c.iter()
                .zip(d)
                .map(|(x, y)| *x as f64 * y)
                .sum::<f64>()
                .abs()
        };
        assert!(cos(&p.components[0], &a) > 0.999, "{:?}", p.components[0]);
        assert!(cos(&p.components[1], &b) > 0.99, "{:?}", p.components[1]);
        // Variances 25, 4 and 6 x 0.01: shares about 0.86 and 0.14.
        assert!(
            (p.explained[0] - 25.0 / 29.06).abs() < 0.03,
            "{:?}",
            p.explained
        );
        assert!(
            (p.explained[1] - 4.0 / 29.06).abs() < 0.03,
            "{:?}",
            p.explained
        );
        // The coordinates are the centred data on the components: the first spreads most.
        let spread = |k: usize| {
            let m = p.points.iter().map(|q| q[k] as f64).sum::<f64>() / n as f64;
            p.points
                .iter()
                .map(|q| (q[k] as f64 - m).powi(2))
                .sum::<f64>()
                / n as f64
        };
        assert!(spread(0) > 4.0 * spread(1), "{} {}", spread(0), spread(1));
        assert!((spread(0).sqrt() - 5.0).abs() < 0.5, "{}", spread(0).sqrt());
    }

    #[test]
    fn degenerate_and_bad_input() {
        // One direction of spread only: the second axis carries nothing, no NaN.
        let data: Vec<f32> = (0..50)
            .flat_map(|i| [i as f32, 2.0 * i as f32, 1.0])
            .collect();
        let p = pca2(&data, 3).unwrap();
        assert!(
            p.explained[0] > 0.999 && p.explained[1] < 1e-6,
            "{:?}",
            p.explained
        );
        assert!(p
            .points
            .iter()
            .all(|q| q[0].is_finite() && q[1].is_finite()));
        assert!(pca2(&[1.0, 2.0, 3.0], 2).is_err());
        assert!(pca2(&[], 0).is_err());
    }
}
