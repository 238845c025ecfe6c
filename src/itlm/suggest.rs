//! Noise-rate hint: fit a two-component Gaussian mixture to the log-losses of a round and
//! suggest tau = the weight of the low-loss (clean) component. Shown as a hint, never applied.

use serde::{Deserialize, Serialize};

/// A fitted two-component mixture on log(loss + 1e-6).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Suggestion {
    /// Suggested fraction to keep: the clean component's weight, rounded to 0.01.
    pub tau: f64,
    /// Means and standard deviations of the clean and bad components (log-loss).
    pub clean_mean: f64,
    pub bad_mean: f64,
    pub clean_std: f64,
    pub bad_std: f64,
    /// Separation of the components: |mean difference| / pooled std. Below ~1.5 the hint is weak.
    pub separation: f64,
}

/// Fit the mixture with EM (deterministic start from the quartiles). `None` when there are too
/// few finite losses.
pub fn suggest_tau(losses: &[f32]) -> Option<Suggestion> {
    let mut x: Vec<f64> = losses
        .iter()
        .filter(|l| l.is_finite())
        .map(|&l| (l.max(0.0) as f64 + 1e-6).ln())
        .collect();
    if x.len() < 10 {
        return None;
    }
    x.sort_by(f64::total_cmp);
    let q = |p: f64| x[((x.len() - 1) as f64 * p) as usize];
    let (mut m0, mut m1) = (q(0.25), q(0.9));
    let spread = (q(0.95) - q(0.05)).max(1e-3);
    let (mut s0, mut s1) = (spread / 4.0, spread / 4.0);
    let mut w0 = 0.7;
    let mut resp = vec![0.0f64; x.len()];
    let pdf = |v: f64, m: f64, s: f64| (-(v - m) * (v - m) / (2.0 * s * s)).exp() / s;
    for _ in 0..200 {
        // E step
        for (r, &v) in resp.iter_mut().zip(&x) {
            let a = w0 * pdf(v, m0, s0);
            let b = (1.0 - w0) * pdf(v, m1, s1);
            *r = if a + b > 0.0 {
                a / (a + b)
            } else if v < (m0 + m1) / 2.0 {
                1.0
            } else {
                0.0
            };
        }
        // M step
        let n0: f64 = resp.iter().sum();
        let n1 = x.len() as f64 - n0;
        if n0 < 1.0 || n1 < 1.0 {
            break;
        }
        let nm0 = resp.iter().zip(&x).map(|(r, v)| r * v).sum::<f64>() / n0;
        let nm1 = resp.iter().zip(&x).map(|(r, v)| (1.0 - r) * v).sum::<f64>() / n1;
        let floor = spread / 100.0;
        s0 = (resp
            .iter()
            .zip(&x)
            .map(|(r, v)| r * (v - nm0).powi(2))
            .sum::<f64>()
            / n0)
            .sqrt()
            .max(floor);
        s1 = (resp
            .iter()
            .zip(&x)
            .map(|(r, v)| (1.0 - r) * (v - nm1).powi(2))
            .sum::<f64>()
            / n1)
            .sqrt()
            .max(floor);
        let converged = (nm0 - m0).abs() < 1e-7 && (nm1 - m1).abs() < 1e-7;
        m0 = nm0;
        m1 = nm1;
        w0 = n0 / x.len() as f64;
        if converged {
            break;
        }
    }
    if m0 > m1 {
        std::mem::swap(&mut m0, &mut m1);
        std::mem::swap(&mut s0, &mut s1);
        w0 = 1.0 - w0;
    }
    let pooled = ((s0 * s0 + s1 * s1) / 2.0).sqrt().max(1e-12);
    Some(Suggestion {
        tau: (w0 * 100.0).round().clamp(1.0, 100.0) / 100.0,
        clean_mean: m0,
        bad_mean: m1,
        clean_std: s0,
        bad_std: s1,
        separation: (m1 - m0) / pooled,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::Rng;

    #[test]
    fn recovers_the_clean_share_of_a_clear_mixture() {
        let mut r = Rng::new(4);
        let mut l = Vec::new();
        for i in 0..5000 {
            let (m, s) = if i % 10 < 7 { (-3.0, 0.6) } else { (1.0, 0.5) };
            l.push(((m + s * r.normal() as f64).exp()) as f32);
        }
        let s = suggest_tau(&l).unwrap();
        assert!((s.tau - 0.7).abs() <= 0.02, "{s:?}");
        assert!(s.separation > 4.0);
    }

    #[test]
    fn too_few_or_degenerate() {
        assert!(suggest_tau(&[1.0; 5]).is_none());
        let s = suggest_tau(&[0.5; 100]).unwrap();
        assert!(s.tau > 0.0 && s.tau <= 1.0);
        assert!(suggest_tau(&[f32::NAN; 100]).is_none());
    }
}
