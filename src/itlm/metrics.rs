//! Round metrics: accuracies, and how well "trimmed" matches "actually bad" when truth is known.

use serde::{Deserialize, Serialize};

/// Precision / recall / F1 of the trimmed set against the truly bad samples.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct TrimQuality {
    pub trimmed: usize,
    pub bad: usize,
    pub trimmed_bad: usize,
    pub precision: f64,
    pub recall: f64,
    pub f1: f64,
}

impl TrimQuality {
    /// `kept[i]` false = trimmed; `bad[i]` true = truly bad.
    pub fn measure(kept: &[bool], bad: &[bool]) -> Self {
        let mut trimmed = 0;
        let mut nbad = 0;
        let mut both = 0;
        for (&k, &b) in kept.iter().zip(bad) {
            trimmed += usize::from(!k);
            nbad += usize::from(b);
            both += usize::from(!k && b);
        }
        let precision = if trimmed > 0 {
            both as f64 / trimmed as f64
        } else {
            0.0
        };
        let recall = if nbad > 0 {
            both as f64 / nbad as f64
        } else {
            0.0
        };
        let f1 = if precision + recall > 0.0 {
            2.0 * precision * recall / (precision + recall)
        } else {
            0.0
        };
        Self {
            trimmed,
            bad: nbad,
            trimmed_bad: both,
            precision,
            recall,
            f1,
        }
    }
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct RoundMetrics {
    /// Accuracy (given labels) on the samples this round's model was trained on.
    pub train_acc: Option<f64>,
    /// Accuracy (given labels) on all samples.
    pub all_acc: Option<f64>,
    /// Accuracy on the held-out test set (test-1 for backdoor sets).
    pub test_acc: Option<f64>,
    /// Mean loss on the test set (the only test figure for generative learners).
    pub test_loss: Option<f64>,
    /// Accuracy on watermarked test images relabelled to the target class: attack success.
    pub test2_acc: Option<f64>,
    /// Mean of the finite per-sample losses.
    pub mean_loss: f64,
    pub kept: usize,
    pub trimmed: usize,
    /// When ground truth is known.
    pub trim: Option<TrimQuality>,
    /// How the samples this round's selection relabelled fared against their true labels
    /// (a relabelling round with known truth). Stored after the run file's body (version 8),
    /// not by serde here.
    #[serde(skip)]
    pub relabel: Option<super::relabel::RelabelQuality>,
    /// The cut's precision and recall estimated without truth, for a round trained with
    /// forward correction ([`super::transition::cut_quality`]). Stored after the run file's
    /// body (version 11), not by serde here.
    #[serde(skip)]
    pub estimated: Option<(f64, f64)>,
    /// The classes a forward-corrected round's model folded ([`starved_classes`]) before the
    /// round trained again, fresh, without the flips that folded them
    /// ([`super::transition::unfolding`]): each with its counts under the folded
    /// model. Empty for every other round. Stored after the body (version 16), not by serde
    /// here.
    #[serde(skip)]
    pub unfolded: Vec<Starved>,
    /// The flips ("true class -> given label") the fold check took out of the matrix the round
    /// trained with, in the order it took them out (a flip it brought back is not here). Empty
    /// where nothing folded, and in run files before version 18. Stored after the body, not by
    /// serde here.
    #[serde(skip)]
    pub unfolded_flips: Vec<(u32, u32)>,
    /// The noise-rate hint fitted to this round's losses (never applied by itself).
    pub suggestion: Option<super::suggest::Suggestion>,
}

/// Share of `idx` whose prediction equals the given label.
pub fn accuracy(
    predicted: &[u32],
    labels: &[u32],
    idx: impl Iterator<Item = usize>,
) -> Option<f64> {
    let (mut n, mut ok) = (0usize, 0usize);
    for i in idx {
        n += 1;
        ok += usize::from(predicted[i] == labels[i]);
    }
    (n > 0).then(|| ok as f64 / n as f64)
}

/// Mean of the finite values.
pub fn finite_mean(v: &[f32]) -> f64 {
    let (s, n) = v
        .iter()
        .filter(|x| x.is_finite())
        .fold((0.0f64, 0usize), |(s, n), &x| (s + x as f64, n + 1));
    if n == 0 {
        f64::NAN
    } else {
        s / n as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trim_quality() {
        let kept = [true, false, false, true, false];
        let bad = [false, true, false, true, true];
        let q = TrimQuality::measure(&kept, &bad);
        assert_eq!((q.trimmed, q.bad, q.trimmed_bad), (3, 3, 2));
        assert!((q.precision - 2.0 / 3.0).abs() < 1e-12);
        assert!((q.recall - 2.0 / 3.0).abs() < 1e-12);
        let q = TrimQuality::measure(&[true, true], &[false, false]);
        assert_eq!((q.precision, q.recall, q.f1), (0.0, 0.0, 0.0));
    }

    #[test]
    fn acc_and_mean() {
        assert_eq!(accuracy(&[1, 2, 3], &[1, 0, 3], 0..3), Some(2.0 / 3.0));
        assert_eq!(accuracy(&[1], &[1], std::iter::empty()), None);
        assert_eq!(finite_mean(&[1.0, f32::NAN, 3.0, f32::INFINITY]), 2.0);
    }
}

/// A class a model predicts for under [`STARVED_SHARE`] of the samples that carry its label:
/// folded into another class (a forward-corrected model that read a class's flip the wrong
/// way predicted whole digit classes for no sample: README, Noisy labels) or trimmed away.
/// The run's own figures (its estimated precision) do not show it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Starved {
    pub class: u32,
    /// Samples the model predicts as the class.
    pub predicted: usize,
    /// Samples labelled with the class.
    pub labelled: usize,
}

/// See [`Starved`]: a folded class is predicted for almost none of its samples (0 - 9% on the
/// digits), a class that is merely hard for most of them (69 - 90% for Fashion-MNIST's Shirt
/// under forward correction).
pub const STARVED_SHARE: f64 = 0.1;

/// The classes of `labels` with at least 10 samples that `predicted` (one per sample) names
/// for fewer than [`STARVED_SHARE`] of their count.
pub fn starved_classes(labels: &[u32], predicted: &[u32], classes: usize) -> Vec<Starved> {
    predicted_under(labels, predicted, classes, STARVED_SHARE)
}

/// The classes of `labels` with at least 10 samples that `predicted` (one per sample) names
/// for fewer than `share` of their count, in class order.
pub fn predicted_under(
    labels: &[u32],
    predicted: &[u32],
    classes: usize,
    share: f64,
) -> Vec<Starved> {
    if labels.len() != predicted.len() {
        return Vec::new();
    }
    let (mut labelled, mut named) = (vec![0usize; classes], vec![0usize; classes]);
    for (&l, &p) in labels.iter().zip(predicted) {
        if let Some(c) = labelled.get_mut(l as usize) {
            *c += 1;
        }
        if let Some(c) = named.get_mut(p as usize) {
            *c += 1;
        }
    }
    (0..classes)
        .filter(|&c| labelled[c] >= 10 && (named[c] as f64) < share * labelled[c] as f64)
        .map(|c| Starved {
            class: c as u32,
            predicted: named[c],
            labelled: labelled[c],
        })
        .collect()
}

#[cfg(test)]
mod starved_tests {
    use super::*;

    #[test]
    fn a_class_predicted_for_almost_none_of_its_samples_is_starved() {
        // 20 samples of each of 3 classes; class 1's all but one predicted as class 2.
        let labels: Vec<u32> = (0..60).map(|i| i / 20).collect();
        let mut predicted = labels.clone();
        for p in predicted.iter_mut().take(39).skip(20) {
            *p = 2;
        }
        assert_eq!(
            starved_classes(&labels, &predicted, 3),
            [Starved {
                class: 1,
                predicted: 1,
                labelled: 20
            }]
        );
        // Predicted for a tenth of its samples: not starved; a class under 10 samples never.
        predicted[20] = 1;
        assert!(starved_classes(&labels, &predicted, 3).is_empty());
        assert!(starved_classes(&labels[..25], &[0; 25], 3).is_empty());
        assert!(starved_classes(&labels, &predicted[..5], 3).is_empty());
    }
}
