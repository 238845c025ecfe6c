//! Noise-rate hint: fit a two-component Beta mixture to the normalised losses of round 0 (the
//! model trained on every sample; as in Arazo et al., ICML 2019) and suggest tau = the share of
//! samples whose posterior says "clean". Shown as a hint, never applied by itself. Later rounds'
//! models are trained on a trimmed set, so their losses mostly reflect the earlier cut: the hint
//! is only fitted on round 0.

use serde::{Deserialize, Serialize};

/// A fitted two-component Beta mixture on losses normalised to (0, 1).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Suggestion {
    /// Suggested fraction to keep: the share of samples more likely clean than bad, rounded to
    /// 0.01.
    pub tau: f64,
    /// The clean component's mixture weight.
    pub clean_weight: f64,
    /// Mean normalised loss of the clean and of the bad component.
    pub clean_mean: f64,
    pub bad_mean: f64,
}

/// ln B(a, b).
fn ln_beta(a: f64, b: f64) -> f64 {
    ln_gamma(a) + ln_gamma(b) - ln_gamma(a + b)
}

/// Lanczos approximation of ln Γ(x), x > 0.
fn ln_gamma(x: f64) -> f64 {
    const G: [f64; 9] = [
        0.999_999_999_999_809_9,
        676.520_368_121_885_1,
        -1_259.139_216_722_402_8,
        771.323_428_777_653_1,
        -176.615_029_162_140_6,
        12.507_343_278_686_905,
        -0.138_571_095_265_720_12,
        9.984_369_578_019_572e-6,
        1.505_632_735_149_311_6e-7,
    ];
    if x < 0.5 {
        let pi = std::f64::consts::PI;
        return (pi / (pi * x).sin()).ln() - ln_gamma(1.0 - x);
    }
    let x = x - 1.0;
    let mut a = G[0];
    let t = x + 7.5;
    for (i, g) in G.iter().enumerate().skip(1) {
        a += g / (x + i as f64);
    }
    0.5 * (2.0 * std::f64::consts::PI).ln() + (x + 0.5) * t.ln() - t + a.ln()
}

/// Beta parameters from a weighted mean and variance (method of moments).
fn moments(mean: f64, var: f64) -> (f64, f64) {
    let m = mean.clamp(1e-4, 1.0 - 1e-4);
    let v = var.max(1e-8).min(m * (1.0 - m) * 0.999);
    let common = m * (1.0 - m) / v - 1.0;
    ((m * common).max(1e-2), ((1.0 - m) * common).max(1e-2))
}

/// A round's tau hint: round 0's (fitted on its losses, the model trained on everything),
/// carried forward by every later round of `history`.
pub(super) fn carried(
    history: &[std::sync::Arc<super::record::RoundRecord>],
    losses: &[f32],
) -> Option<Suggestion> {
    match history.first() {
        Some(r0) => r0.metrics.suggestion,
        None => suggest_tau(losses),
    }
}

/// Fit the mixture with EM from a median split. `None` with fewer than 20 finite losses or when
/// they are all (nearly) equal.
pub fn suggest_tau(losses: &[f32]) -> Option<Suggestion> {
    let mut sorted: Vec<f64> = losses
        .iter()
        .filter(|l| l.is_finite())
        .map(|&l| l as f64)
        .collect();
    if sorted.len() < 20 {
        return None;
    }
    sorted.sort_by(f64::total_cmp);
    let n = sorted.len();
    let q = |p: f64| sorted[((n - 1) as f64 * p) as usize];
    let (lo, hi) = (q(0.01), q(0.99));
    if hi - lo <= 1e-12 {
        return None;
    }
    let eps = 1e-4;
    let x: Vec<f64> = sorted
        .iter()
        .map(|v| ((v - lo) / (hi - lo)).clamp(eps, 1.0 - eps))
        .collect();
    let median = x[n / 2];
    let mut resp: Vec<f64> = x
        .iter()
        .map(|&v| if v <= median { 1.0 } else { 0.0 })
        .collect();
    let mut params = [(1.0, 1.0, 0.5); 2];
    for _ in 0..60 {
        // M step: weights and Beta parameters from the responsibilities.
        for (k, p) in params.iter_mut().enumerate() {
            let w = |r: f64| if k == 0 { r } else { 1.0 - r };
            let s: f64 = resp.iter().map(|&r| w(r)).sum::<f64>().max(1e-9);
            let mean = resp.iter().zip(&x).map(|(&r, v)| w(r) * v).sum::<f64>() / s;
            let var = resp
                .iter()
                .zip(&x)
                .map(|(&r, v)| w(r) * (v - mean).powi(2))
                .sum::<f64>()
                / s;
            let (a, b) = moments(mean, var);
            *p = (a, b, s / n as f64);
        }
        // E step.
        let lpdf = |v: f64, (a, b, w): (f64, f64, f64)| {
            w.max(1e-12).ln() + (a - 1.0) * v.ln() + (b - 1.0) * (1.0 - v).ln() - ln_beta(a, b)
        };
        for (r, &v) in resp.iter_mut().zip(&x) {
            let (p0, p1) = (lpdf(v, params[0]), lpdf(v, params[1]));
            let m = p0.max(p1);
            let (e0, e1) = ((p0 - m).exp(), (p1 - m).exp());
            *r = e0 / (e0 + e1);
        }
    }
    let mean = |(a, b, _): (f64, f64, f64)| a / (a + b);
    let (clean, bad, clean_is_0) = if mean(params[0]) <= mean(params[1]) {
        (params[0], params[1], true)
    } else {
        (params[1], params[0], false)
    };
    let posterior_clean =
        resp.iter().filter(|&&r| (r > 0.5) == clean_is_0).count() as f64 / n as f64;
    Some(Suggestion {
        tau: (posterior_clean * 100.0).round().clamp(1.0, 100.0) / 100.0,
        clean_weight: clean.2,
        clean_mean: mean(clean),
        bad_mean: mean(bad),
    })
}

/// cleanlab's confident joint (Northcutt et al., JAIR 2021) of a model's class probabilities
/// over some samples: class j's threshold is the mean p(j) over the samples labelled j; a
/// sample labelled g whose likeliest class among those at or above their threshold is j
/// counts in `joint[g * classes + j]`.
#[derive(Clone, Debug, PartialEq)]
pub struct ConfidentJoint {
    /// Samples per given label.
    pub count: Vec<usize>,
    /// Labelled g, confidently j: `joint[g * classes + j]`.
    pub joint: Vec<usize>,
    /// Samples with a label outside the classes that are confidently some class.
    pub stray: usize,
}

/// Below this many samples (and a third of the largest class) a class has no confident
/// threshold ([`ConfidentJoint::count`]).
pub const TINY_CLASS: usize = 5;

impl ConfidentJoint {
    /// The joint of `probs` (row-major, one row of `classes` per sample of `labels`) over the
    /// samples `idx` (walked twice: the thresholds, then the counts).
    pub fn count<I>(labels: &[u32], probs: &[f32], classes: usize, idx: I) -> Self
    where
        I: Iterator<Item = usize> + Clone,
    {
        let k = classes;
        let mut sum = vec![0.0f64; k];
        let mut count = vec![0usize; k];
        for i in idx.clone() {
            let g = labels[i] as usize;
            if g < k {
                sum[g] += probs[i * k + g] as f64;
                count[g] += 1;
            }
        }
        // A class of a few samples well under the others has no threshold: the mean of one or
        // two probabilities of a class the model barely learned is low, and every sample that
        // gives that class a little probability would count as confidently of it (one photo
        // of a class of its own read 35.6% of 46 photos as mislabelled, against 6.7%).
        let largest = count.iter().copied().max().unwrap_or(0);
        let threshold: Vec<f64> = (0..k)
            .map(|j| match count[j] {
                0 => f64::INFINITY,
                c if c < TINY_CLASS && c * 3 <= largest => f64::INFINITY,
                c => sum[j] / c as f64,
            })
            .collect();
        let mut joint = vec![0usize; k * k];
        let mut stray = 0;
        for i in idx {
            let row = &probs[i * k..(i + 1) * k];
            let best = (0..k)
                .filter(|&j| row[j] as f64 >= threshold[j])
                .max_by(|&a, &b| row[a].total_cmp(&row[b]));
            let g = labels[i] as usize;
            match best {
                Some(j) if g < k => joint[g * k + j] += 1,
                Some(_) => stray += 1,
                None => {}
            }
        }
        Self {
            count,
            joint,
            stray,
        }
    }

    /// The share of the `n` samples counted whose confident class is not their label (see
    /// [`confident_noise_rate`]); None when no sample was confident.
    pub fn noise_rate(&self, n: usize) -> Option<f64> {
        let k = self.count.len();
        let diagonal: usize = (0..k).map(|j| self.joint[j * k + j]).sum();
        let counted = self.joint.iter().sum::<usize>() + self.stray;
        (counted > 0).then(|| (counted - diagonal) as f64 / n as f64)
    }
}

/// The tau a noise rate leaves: 1 - `noise`, to the hundredth (the share of clean samples to
/// keep). What the window's tau hint and co-teaching hint offer, and what auto's co-teaching
/// runs at ([`super::Config::auto_coteaching`]).
pub fn tau_leaving(noise: f64) -> f64 {
    ((1.0 - noise) * 100.0).round() / 100.0
}

/// Below this many samples tau from the data keeps the exact share round 0 does not
/// contradict ([`tau_leaving_of`]); from it on, that share to the hundredth.
pub const EXACT_TAU_BELOW: usize = 1000;

/// The tau a noise rate read over `n` samples leaves: [`tau_leaving`], to the hundredth, on
/// a set of [`EXACT_TAU_BELOW`] samples or more; exactly 1 - `noise` on a smaller one. There a
/// hundredth is under ten samples and the cut's ceiling of a share rounded up keeps a
/// sample round 0 contradicted: 2 of 65 photos contradicted gave tau 0.97, which keeps
/// ceil(63.05) = 64 and trimmed one of the two (the exact 63 / 65 keeps 63).
pub fn tau_leaving_of(noise: f64, n: usize) -> f64 {
    if n < EXACT_TAU_BELOW {
        1.0 - noise
    } else {
        tau_leaving(noise)
    }
}

/// How far above always answering the largest class a round-0 model must agree with the
/// given labels for its noise estimate to count ([`not_learned`]).
pub const LEARNED_MARGIN: f64 = 0.02;

/// Whether round 0's model learned nothing of the labels: its predictions agree with the
/// given labels of the samples `idx` no more than always answering their largest class
/// would (plus [`LEARNED_MARGIN`]). Its confident joint then reads noise into a clean set
/// (20 separable samples at chance: "65% contradicted"), so tau from the data and auto's
/// forward correction and co-teaching do not read it. Some((agreement, that baseline)) when
/// it learned nothing; None when it did, or there is nothing to judge.
pub fn not_learned(
    labels: &[u32],
    predicted: &[u32],
    classes: usize,
    idx: &[usize],
) -> Option<(f64, f64)> {
    if classes < 2 || idx.is_empty() || predicted.len() != labels.len() {
        return None;
    }
    let mut counts = vec![0usize; classes];
    let mut agree = 0usize;
    for &i in idx {
        let l = *labels.get(i)? as usize;
        *counts.get_mut(l)? += 1;
        agree += usize::from(predicted[i] as usize == l);
    }
    let n = idx.len() as f64;
    let acc = agree as f64 / n;
    let baseline = counts.iter().copied().max().unwrap_or(0) as f64 / n;
    (acc <= baseline + LEARNED_MARGIN).then_some((acc, baseline))
}

/// Tau from the data ([`super::Config::tau_from_data`]): round 0's noise estimate over the
/// samples `idx` (the confident joint's noise rate, what auto's co-teaching reads too) and the
/// share it leaves ([`tau_leaving_of`] the `idx.len()` samples), at least 0.05. None without
/// class probabilities or a confident sample.
pub fn tau_from_noise(
    labels: &[u32],
    probs: &[f32],
    classes: usize,
    idx: &[usize],
) -> Option<(f64, f64)> {
    if classes < 2 || idx.is_empty() || probs.len() != labels.len() * classes {
        return None;
    }
    let noise =
        ConfidentJoint::count(labels, probs, classes, idx.iter().copied()).noise_rate(idx.len())?;
    Some((noise, tau_leaving_of(noise, idx.len()).clamp(0.05, 1.0)))
}

/// The tau over all `n` samples that keeps the share `tau` of the `candidates` samples the
/// user did not exclude: the noise estimate of tau from the data is of those samples only
/// (excluded ones never train), and a cut's tau counts the excluded ones among the trimmed,
/// so without this they would take the places of the suspects the estimate counted.
pub fn tau_beside_excluded(tau: f64, candidates: usize, n: usize) -> f64 {
    if n == 0 || candidates >= n {
        return tau;
    }
    (tau * candidates as f64 / n as f64).max(f64::MIN_POSITIVE)
}

/// The share of samples whose label a model's class probabilities contradict, counted as
/// cleanlab's confident joint does ([`ConfidentJoint`]): a sample counts as mislabelled when,
/// among the classes whose probability reaches their threshold, the likeliest is not its
/// label. `probs` is n x classes row-major. None without probabilities (a generative
/// learner).
pub fn confident_noise_rate(labels: &[u32], probs: &[f32], classes: usize) -> Option<f64> {
    let n = labels.len();
    if classes < 2 || n == 0 || probs.len() != n * classes {
        return None;
    }
    ConfidentJoint::count(labels, probs, classes, 0..n).noise_rate(n)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::Rng;

    /// A class of one sample the model barely learned does not read the others as its own:
    /// 30 samples of 2 classes, right but half of them less sure (0.6 of their label against
    /// the class's mean of 0.7), giving the third class (one sample, p 0.1 of its own label)
    /// 0.15: without the rule the less sure half counted as confidently of class 3.
    #[test]
    fn a_tiny_class_does_not_claim_the_others() {
        let mut labels: Vec<u32> = (0..30).map(|i| i % 2).collect();
        labels.push(2);
        let mut probs: Vec<f32> = (0..30u32)
            .flat_map(|i| {
                let own = if i % 4 < 2 { 0.8 } else { 0.6 };
                [0u32, 1, 2].map(|j| match j {
                    2 => 0.15,
                    j if j == i % 2 => own,
                    _ => 0.85 - own,
                })
            })
            .collect();
        probs.extend([0.5, 0.4, 0.1]);
        let idx: Vec<usize> = (0..31).collect();
        let (noise, tau) = tau_from_noise(&labels, &probs, 3, &idx).unwrap();
        // Without the rule class 2's threshold is 0.1: the 14 less sure would count as it.
        assert!(noise < 0.05, "noise {noise}");
        assert_eq!(tau, 1.0);
        // Without the tiny sample: the same reading.
        let j = ConfidentJoint::count(&labels[..30], &probs[..90], 3, 0..30);
        assert_eq!(j.noise_rate(30), Some(0.0));
    }

    /// Tau from the data: the share of labels the model does not confidently contradict,
    /// over the samples given; none without probabilities; never under 0.05.
    #[test]
    fn tau_from_noise_keeps_what_the_model_does_not_contradict() {
        // 10 samples of 2 classes, labels i % 2; samples 0 and 1 look like the other class.
        let labels: Vec<u32> = (0..10).map(|i| i % 2).collect();
        let probs: Vec<f32> = (0..10u32)
            .flat_map(|i| {
                let seen = if i < 2 { 1 - i % 2 } else { i % 2 };
                [0u32, 1].map(|j| if j == seen { 0.95 } else { 0.05 })
            })
            .collect();
        let all: Vec<usize> = (0..10).collect();
        let (noise, tau) = tau_from_noise(&labels, &probs, 2, &all).unwrap();
        assert!((noise - 0.2).abs() < 1e-12, "{noise}");
        assert_eq!(tau, 0.8);
        // Over the other eight only: nothing contradicted.
        assert_eq!(
            tau_from_noise(&labels, &probs, 2, &all[2..]),
            Some((0.0, 1.0))
        );
        assert_eq!(tau_from_noise(&labels, &[], 2, &all), None);
        assert_eq!(tau_from_noise(&labels, &probs, 2, &[]), None);
        // Every label contradicted: the floor.
        let flipped: Vec<u32> = labels.iter().map(|l| 1 - l).collect();
        let clean: Vec<f32> = (0..10u32)
            .flat_map(|i| [0u32, 1].map(|j| if j == i % 2 { 0.95 } else { 0.05 }))
            .collect();
        assert_eq!(
            tau_from_noise(&flipped, &clean, 2, &all).map(|t| t.1),
            Some(0.05)
        );
    }

    /// On a small set tau from the data keeps exactly the samples round 0 does not
    /// contradict: the share rounded to the hundredth and the cut's ceiling kept one more
    /// (2 of 65 contradicted: 0.97 keeps 64). From 1000 samples on, the hundredth.
    #[test]
    fn tau_from_the_data_keeps_exactly_the_uncontradicted_on_a_small_set() {
        use crate::itlm::select::keep_count;
        for (n, bad) in [(65usize, 2usize), (150, 5), (300, 7), (999, 13)] {
            let noise = bad as f64 / n as f64;
            assert_eq!(
                keep_count(n, tau_leaving_of(noise, n)),
                n - bad,
                "{bad} of {n}"
            );
        }
        assert_eq!(
            keep_count(65, tau_leaving(2.0 / 65.0)),
            64,
            "the hundredth's ceiling"
        );
        assert_eq!(tau_leaving_of(0.3963, 20000), 0.6);
        assert_eq!(tau_leaving_of(0.3963, 1000), 0.6);
    }

    #[test]
    fn ln_gamma_matches_known_values() {
        assert!((ln_gamma(1.0)).abs() < 1e-10);
        assert!((ln_gamma(5.0) - 24f64.ln()).abs() < 1e-10);
        assert!((ln_gamma(0.5) - std::f64::consts::PI.sqrt().ln()).abs() < 1e-10);
    }

    /// Cross-entropy-like losses: clean near zero with a long tail, bad around 2-4.
    fn mixture(clean_share: f64, n: usize, seed: u64) -> Vec<f32> {
        let mut r = Rng::new(seed);
        (0..n)
            .map(|_| {
                if r.next_f64() < clean_share {
                    (-(1.0 - r.next_f64() * 0.9).ln() * 0.3) as f32
                } else {
                    (3.0 + r.normal() as f64 * 0.7).max(0.5) as f32
                }
            })
            .collect()
    }

    #[test]
    fn recovers_the_clean_share() {
        for share in [0.6, 0.7, 0.8, 0.9, 0.95] {
            let s = suggest_tau(&mixture(share, 5000, 3)).unwrap();
            assert!((s.tau - share).abs() <= 0.05, "{share}: {s:?}");
            assert!(s.clean_mean < s.bad_mean);
        }
    }

    #[test]
    fn too_few_or_degenerate() {
        assert!(suggest_tau(&[1.0; 5]).is_none());
        assert!(suggest_tau(&[0.5; 100]).is_none());
        assert!(suggest_tau(&[f32::NAN; 100]).is_none());
    }

    #[test]
    fn the_confident_joint_counts_confident_contradictions() {
        // 3 classes; rows: p(0), p(1), p(2).
        let labels = [0u32, 0, 0, 1, 1, 2];
        let probs = [
            0.9, 0.05, 0.05, // labelled 0, confident 0
            0.8, 0.1, 0.1, // labelled 0, confident 0
            0.1, 0.85, 0.05, // labelled 0, confidently 1: counted
            0.1, 0.8, 0.1, // labelled 1
            0.3, 0.4,
            0.3, // labelled 1, below class 1's threshold, class 0 reaches its own? no
            0.2, 0.2, 0.6, // labelled 2
        ];
        // Thresholds: class 0 = (0.9 + 0.8 + 0.1) / 3 = 0.6, class 1 = 0.6, class 2 = 0.6.
        let r = confident_noise_rate(&labels, &probs, 3).unwrap();
        assert!((r - 1.0 / 6.0).abs() < 1e-12, "{r}");
        assert_eq!(confident_noise_rate(&labels, &[], 3), None);
        assert_eq!(confident_noise_rate(&labels, &probs, 1), None);
    }
}
