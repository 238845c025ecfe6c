//! Automatic relabelling (classifiers): before the final round, a trimmed sample whose predicted
//! class is confident and stable gets that class as its label, and the final model trains on
//! the kept samples plus the relabelled ones.
//!
//! The rule, all of it read from the run's own records (no constant tuned on a dataset):
//! a trimmed sample `i` (given `g`, not pinned out) is relabelled to `q` when, under each of
//! round 0's model (trained on every given label: the data's majority view), the model of the
//! round before the last and the last early round's model, `q != g` is the argmax and its
//! probability is at least that model's `threshold[q]`: the mean self-confidence `p(q)` of
//! the samples its cut KEPT among those given `q`. That is cleanlab's per-class threshold (the
//! confident joint's), measured on the samples the cut trusts: a class the model is sure of
//! sets a high bar, a hard class (Shirt) a lower one. Round 0's vote keeps out what the later
//! rounds learned from the noise itself (on Fashion-MNIST at 40% systematic noise they call
//! clean Ankle boots "T-shirt", the class that received the flipped boots).

use serde::{Deserialize, Serialize};

/// How relabelled samples fared against the true labels (when the truth is known).
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct RelabelQuality {
    /// Samples relabelled (with a known true label).
    pub relabelled: usize,
    /// ... whose new label is their true label.
    pub correct: usize,
    /// Trimmed samples whose given label is wrong: those a relabel could fix.
    pub fixable: usize,
    /// correct / relabelled (0 when none).
    pub precision: f64,
    /// correct / fixable (0 when none).
    pub recall: f64,
}

impl RelabelQuality {
    /// `relabelled[i]` the new label of sample `i` (None = not relabelled), `kept[i]` false =
    /// trimmed, `labels` the given labels, `truth[i]` its true label when known.
    pub fn measure(
        relabelled: &[Option<u32>],
        kept: &[bool],
        labels: &[u32],
        truth: &[Option<u32>],
    ) -> Self {
        let (mut n, mut correct, mut fixable) = (0, 0, 0);
        for i in 0..truth.len().min(labels.len()).min(kept.len()) {
            let Some(t) = truth[i] else { continue };
            if !kept[i] && t != labels[i] {
                fixable += 1;
            }
            if let Some(q) = relabelled.get(i).copied().flatten() {
                n += 1;
                correct += usize::from(q == t);
            }
        }
        let ratio = |a: usize, b: usize| if b > 0 { a as f64 / b as f64 } else { 0.0 };
        Self {
            relabelled: n,
            correct,
            fixable,
            precision: ratio(correct, n),
            recall: ratio(correct, fixable),
        }
    }
}

/// Per class `q`: the mean probability of `q` under a model among the kept samples given `q`
/// (cleanlab's per-class threshold, on the samples the cut trusts). `probs` is n x classes.
/// A class with no kept sample gets +inf (nothing is relabelled into it).
pub fn class_thresholds(
    probs: &[f32],
    labels: &[u32],
    kept: &[bool],
    num_classes: usize,
) -> Vec<f64> {
    let mut sum = vec![0.0f64; num_classes];
    let mut count = vec![0usize; num_classes];
    for (i, (&g, &k)) in labels.iter().zip(kept).enumerate() {
        let g = g as usize;
        if !k || g >= num_classes {
            continue;
        }
        if let Some(&p) = probs.get(i * num_classes + g) {
            if p.is_finite() {
                sum[g] += p as f64;
                count[g] += 1;
            }
        }
    }
    sum.iter()
        .zip(&count)
        .map(|(&s, &c)| if c > 0 { s / c as f64 } else { f64::INFINITY })
        .collect()
}

/// One model's view of every sample: class probabilities (n x classes), argmax, and the cut
/// made with it (whose kept samples set its per-class thresholds).
#[derive(Clone, Copy)]
pub struct ModelView<'a> {
    pub probs: &'a [f32],
    pub predicted: &'a [u32],
    pub kept: &'a [bool],
}

/// What the last early round's selection relabels: `Some(q)` for each sample trimmed by
/// `kept` (the cut that trains the final model) whose class `q != given` is, under every model
/// of `models` (round 0's, trained on every label; the round before the last; the last), the
/// argmax and at least that model's [`class_thresholds`] for `q`; None for all others.
/// `excluded` samples (pinned out by a user) are never relabelled. Empty when some model's
/// probabilities do not cover every sample (a generative learner).
pub fn choose(
    models: &[ModelView<'_>],
    labels: &[u32],
    kept: &[bool],
    excluded: &dyn Fn(usize) -> bool,
    num_classes: usize,
) -> Vec<Option<u32>> {
    let n = labels.len();
    let covers = |m: &ModelView<'_>| {
        m.probs.len() == n * num_classes && m.predicted.len() == n && m.kept.len() == n
    };
    if num_classes < 2 || models.is_empty() || kept.len() != n || !models.iter().all(covers) {
        return Vec::new();
    }
    let thresholds: Vec<Vec<f64>> = models
        .iter()
        .map(|m| class_thresholds(m.probs, labels, m.kept, num_classes))
        .collect();
    let last = models[models.len() - 1];
    (0..n)
        .map(|i| {
            let q = last.predicted[i];
            if kept[i] || excluded(i) || q == labels[i] || q as usize >= num_classes {
                return None;
            }
            let sure = models.iter().zip(&thresholds).all(|(m, t)| {
                m.predicted[i] == q
                    && f64::from(m.probs[i * num_classes + q as usize]) >= t[q as usize]
            });
            sure.then_some(q)
        })
        .collect()
}

/// Number of relabelled samples.
pub fn count(relabelled: &[Option<u32>]) -> usize {
    relabelled.iter().filter(|r| r.is_some()).count()
}

/// `base` with each relabelled sample under its new class, and those samples added to
/// `train_idx` (kept sorted); None (and `train_idx` untouched) when nothing is relabelled.
pub fn applied(
    base: &crate::data::Dataset,
    relabelled: &[Option<u32>],
    train_idx: &mut Vec<usize>,
) -> Option<crate::data::Dataset> {
    if count(relabelled) == 0 {
        return None;
    }
    let mut d = base.clone();
    for (i, q) in relabelled.iter().enumerate() {
        if let Some(q) = *q {
            d.set_label(i, q);
            train_idx.push(i);
        }
    }
    train_idx.sort_unstable();
    Some(d)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Rows of two-class probabilities.
    fn probs(rows: &[[f32; 2]]) -> Vec<f32> {
        rows.iter().flatten().copied().collect()
    }

    #[test]
    fn thresholds_are_the_kept_samples_mean_self_confidence() {
        let p = probs(&[[0.9, 0.1], [0.7, 0.3], [0.2, 0.8], [0.0, 1.0], [0.5, 0.5]]);
        let labels = [0, 0, 1, 1, 0];
        // Sample 3 is trimmed: it does not count; class 0: (0.9 + 0.7 + 0.5) / 3.
        let t = class_thresholds(&p, &labels, &[true, true, true, false, true], 2);
        assert!(
            (t[0] - 0.7).abs() < 1e-6 && (t[1] - 0.8).abs() < 1e-6,
            "{t:?}"
        );
        // A class with nothing kept accepts nothing.
        let t = class_thresholds(&p, &labels, &[true, true, false, false, true], 2);
        assert_eq!(t[1], f64::INFINITY);
    }

    #[test]
    fn only_samples_every_model_is_sure_of_are_relabelled() {
        // Kept: samples 0-3 (class 0 threshold 0.8, class 1 threshold 0.9 under `last`).
        let p = probs(&[
            [0.8, 0.2],
            [0.8, 0.2],
            [0.1, 0.9],
            [0.1, 0.9],
            // 4: trimmed, given 1, predicted 0 at 0.85 >= 0.8 by both: relabelled to 0.
            [0.85, 0.15],
            // 5: given 1, predicted 0 at 0.75 < 0.8: not confident.
            [0.75, 0.25],
            // 6: given 0, predicted 1 at 0.95, but the other model predicts 0: unstable.
            [0.05, 0.95],
            // 7: given 0, predicted 0: nothing to change.
            [0.99, 0.01],
            // 8: given 0, predicted 1 at 0.95 by both, but pinned out by the user.
            [0.05, 0.95],
            // 9: given 0, predicted 1 at exactly the threshold: relabelled.
            [0.1, 0.9],
        ]);
        let labels = [0, 0, 1, 1, 1, 1, 0, 0, 0, 0];
        let kept = [
            true, true, true, true, false, false, false, false, false, false,
        ];
        let last = [0, 0, 1, 1, 0, 0, 1, 0, 1, 1];
        let other = [0, 0, 1, 1, 0, 0, 0, 0, 1, 1];
        let excluded = |i: usize| i == 8;
        let view = |predicted| ModelView {
            probs: &p,
            predicted,
            kept: &kept,
        };
        let r = choose(&[view(&other), view(&last)], &labels, &kept, &excluded, 2);
        let want = [
            None,
            None,
            None,
            None,
            Some(0),
            None,
            None,
            None,
            None,
            Some(1),
        ];
        assert_eq!(r, want);
        assert_eq!(count(&r), 2);
        // With one model (one early round) there is nothing to disagree with: 6 goes too.
        let r = choose(&[view(&last)], &labels, &kept, &excluded, 2);
        assert_eq!((r[6], count(&r)), (Some(1), 3));
        // A model that agrees on the argmax but is less sure than its own kept samples of
        // the class vetoes: under `shy` sample 4's p(0) = 0.6 < its threshold 0.8.
        let mut q = p.clone();
        q[8] = 0.6;
        q[9] = 0.4;
        let shy = ModelView {
            probs: &q,
            predicted: &last,
            kept: &kept,
        };
        let r = choose(&[shy, view(&last)], &labels, &kept, &excluded, 2);
        assert_eq!((r[4], r[9]), (None, Some(1)));
        // Probabilities that do not cover every sample (a generative learner): nothing.
        let none = ModelView {
            probs: &[],
            predicted: &last,
            kept: &kept,
        };
        assert!(choose(&[none], &labels, &kept, &excluded, 2).is_empty());
        assert!(choose(&[], &labels, &kept, &excluded, 2).is_empty());
    }

    #[test]
    fn quality_against_the_truth() {
        let relabelled = [None, Some(0), Some(2), Some(1), None, Some(0)];
        let kept = [true, false, false, false, false, false];
        let labels = [0, 1, 1, 0, 2, 1];
        // Sample 5's truth is unknown: not counted.
        let truth = [Some(0), Some(0), Some(0), Some(0), Some(1), None];
        let q = RelabelQuality::measure(&relabelled, &kept, &labels, &truth);
        // Relabelled with truth: 1 (right), 2 (wrong), 3 (a clean sample: wrong); fixable:
        // the trimmed samples 1, 2 and 4, whose given label is not their true one.
        assert_eq!((q.relabelled, q.correct, q.fixable), (3, 1, 3));
        assert!((q.precision - 1.0 / 3.0).abs() < 1e-12 && (q.recall - 1.0 / 3.0).abs() < 1e-12);
        let none = RelabelQuality::measure(&[], &kept, &labels, &truth);
        assert_eq!((none.relabelled, none.precision), (0, 0.0));
    }
}
