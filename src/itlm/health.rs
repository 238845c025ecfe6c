//! The label-health summary of a cut (what cleanlab's `health_summary` gives a user): the
//! share of samples not flagged, every class's flagged share and the class its flagged
//! samples are mostly predicted as (worst class first), and the pairs given -> predicted most
//! often among the flagged. It reads only what the run found (the cut and the model's
//! predictions), never a truth file. When the model agrees with the labels of the kept samples
//! no better than always answering their largest class ([`Health::not_learned`], the check
//! round 0 gets: [`super::suggest::not_learned`]), its flagged figures mean little and the
//! summary says so.

use serde::Serialize;

/// How many confused pairs [`health`] keeps.
pub const TOP_PAIRS: usize = 10;

/// One class of a [`Health`].
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ClassHealth {
    pub class: usize,
    /// Samples given this label.
    pub samples: usize,
    /// Of them, flagged by the cut.
    pub flagged: usize,
    /// The class most of its flagged samples are predicted as (ties: the lower index) and how
    /// many are; None when none is flagged. Its own class: the flagged are hard samples the
    /// model agrees with, not likely mislabelled.
    pub predicted: Option<(usize, usize)>,
}

impl ClassHealth {
    /// Flagged over samples (0 for an empty class).
    pub fn flagged_share(&self) -> f64 {
        share(self.flagged, self.samples)
    }
}

/// Flagged samples given one class and predicted another.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Confused {
    pub given: usize,
    pub predicted: usize,
    pub count: usize,
    /// `count` over the samples given `given`.
    pub share: f64,
}

/// A model that agrees with the labels of the kept samples no better than always answering
/// their largest class would (plus [`super::suggest::LEARNED_MARGIN`]).
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct NotLearned {
    /// The share of the kept samples whose label the model predicts.
    pub agreement: f64,
    /// The share of the kept samples in their largest class: what always answering it agrees.
    pub largest_class: f64,
}

/// The label-health summary of a cut.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Health {
    pub samples: usize,
    pub flagged: usize,
    /// Flagged samples the model predicts as a class other than their label (None: a
    /// learner that predicts no classes, a generative one).
    pub flagged_disagreeing: Option<usize>,
    /// Every class, the highest flagged share first (then more flagged, then class order).
    pub classes: Vec<ClassHealth>,
    /// The [`TOP_PAIRS`] most frequent given -> predicted pairs (given != predicted) among
    /// the flagged, most first (ties in class order).
    pub pairs: Vec<Confused>,
    /// Some when the model barely learned the labels (judged on the kept samples): then which
    /// samples it flags says little of their labels. None when it learned them, or without
    /// predictions (a generative learner) or two classes to tell apart.
    pub not_learned: Option<NotLearned>,
}

impl Health {
    /// The share of samples not flagged (1 for an empty set): the overall label health.
    pub fn health(&self) -> f64 {
        1.0 - self.flagged_share()
    }

    /// The share of samples flagged (0 for an empty set).
    pub fn flagged_share(&self) -> f64 {
        share(self.flagged, self.samples)
    }
}

fn share(a: usize, b: usize) -> f64 {
    if b == 0 {
        0.0
    } else {
        a as f64 / b as f64
    }
}

/// The summary of a cut over `classes` classes: sample `i` has label `labels[i]`, the model
/// predicts `predicted[i]` (None: a learner that predicts no classes; then no class is named
/// and there are no pairs), the cut keeps it when `kept[i]`. Labels or predictions outside
/// the classes are counted in the totals but in no class or pair.
pub fn health(labels: &[u32], predicted: Option<&[u32]>, kept: &[bool], classes: usize) -> Health {
    let k = classes;
    let n = labels.len().min(kept.len());
    let n = predicted.map_or(n, |p| n.min(p.len()));
    let mut samples = vec![0usize; k];
    let mut cells = vec![0usize; k * k];
    let mut flagged = 0;
    let mut disagreeing = 0;
    for i in 0..n {
        let g = labels[i] as usize;
        // Without predictions every sample counts as predicted its own label (the diagonal).
        let p = predicted.map_or(g, |p| p[i] as usize);
        if g < k {
            samples[g] += 1;
        }
        if kept[i] {
            continue;
        }
        flagged += 1;
        if g != p {
            disagreeing += 1;
        }
        if g < k && p < k {
            cells[g * k + p] += 1;
        }
    }
    let mut per_class: Vec<ClassHealth> = (0..k)
        .map(|g| {
            let row = &cells[g * k..(g + 1) * k];
            let flagged: usize = row.iter().sum();
            // The first of the most frequent (max_by_key keeps the last of equals).
            let predicted = (flagged > 0 && predicted.is_some())
                .then(|| {
                    row.iter()
                        .enumerate()
                        .rev()
                        .max_by_key(|&(_, &c)| c)
                        .map(|(p, &c)| (p, c))
                })
                .flatten();
            ClassHealth {
                class: g,
                samples: samples[g],
                flagged,
                predicted,
            }
        })
        .collect();
    per_class.sort_by(|a, b| {
        b.flagged_share()
            .total_cmp(&a.flagged_share())
            .then(b.flagged.cmp(&a.flagged))
            .then(a.class.cmp(&b.class))
    });
    let mut pairs: Vec<Confused> = (0..k * k)
        .filter(|&c| c / k != c % k && cells[c] > 0)
        .map(|c| Confused {
            given: c / k,
            predicted: c % k,
            count: cells[c],
            share: share(cells[c], samples[c / k]),
        })
        .collect();
    // Stable: equal counts stay in class order.
    pairs.sort_by_key(|p| std::cmp::Reverse(p.count));
    pairs.truncate(TOP_PAIRS);
    // Judged on the kept samples, as round 0's model is on every sample.
    let not_learned = predicted.and_then(|p| {
        let kept_idx: Vec<usize> = (0..n)
            .filter(|&i| kept[i] && (labels[i] as usize) < k)
            .collect();
        super::suggest::not_learned(&labels[..n], &p[..n], k, &kept_idx).map(
            |(agreement, largest_class)| NotLearned {
                agreement,
                largest_class,
            },
        )
    });
    Health {
        samples: n,
        flagged,
        flagged_disagreeing: predicted.map(|_| disagreeing),
        classes: per_class,
        pairs,
        not_learned,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hand_made_cut_gives_its_counts_order_and_pairs() {
        // Class 0: 4 samples, 2 flagged, both predicted 1. Class 1: 2 samples, 1 flagged,
        // predicted as itself. Class 2: 4 samples, 3 flagged: 2 predicted 0, 1 predicted 1.
        let labels = [0, 0, 0, 0, 1, 1, 2, 2, 2, 2];
        let predicted = [1, 1, 0, 0, 1, 1, 0, 0, 1, 2];
        let kept = [
            false, false, true, true, false, true, false, false, false, true,
        ];
        let h = health(&labels, Some(&predicted), &kept, 3);
        assert_eq!(
            (h.samples, h.flagged, h.flagged_disagreeing),
            (10, 6, Some(5))
        );
        assert!((h.health() - 0.4).abs() < 1e-12);
        // Worst first: 2 (75%), 0 (50%, 2 flagged), 1 (50%, 1 flagged).
        let order: Vec<_> = h
            .classes
            .iter()
            .map(|c| (c.class, c.samples, c.flagged, c.predicted))
            .collect();
        assert_eq!(
            order,
            vec![
                (2, 4, 3, Some((0, 2))),
                (0, 4, 2, Some((1, 2))),
                (1, 2, 1, Some((1, 1))),
            ]
        );
        assert!((h.classes[0].flagged_share() - 0.75).abs() < 1e-12);
        // Pairs: 0->1 (2, 50%), 2->0 (2, 50%), 2->1 (1, 25%); 1->1 is no pair.
        let pairs: Vec<_> = h
            .pairs
            .iter()
            .map(|p| (p.given, p.predicted, p.count, p.share))
            .collect();
        assert_eq!(pairs, vec![(0, 1, 2, 0.5), (2, 0, 2, 0.5), (2, 1, 1, 0.25)]);
    }

    #[test]
    fn ties_in_the_predicted_class_go_to_the_lower_index_and_pairs_stop_at_ten() {
        // Class 0 flagged twice, once predicted 2 and once 1: the lower index, 1, is named.
        let h = health(&[0, 0], Some(&[2, 1]), &[false, false], 3);
        assert_eq!(h.classes[0].predicted, Some((1, 1)));
        // 12 classes, each flagged sample of class g predicted g + 1: 12 pairs, 10 kept, the
        // bigger counts first.
        let mut labels = Vec::new();
        let mut predicted = Vec::new();
        for g in 0..12u32 {
            for _ in 0..=g {
                labels.push(g);
                predicted.push((g + 1) % 12);
            }
        }
        let kept = vec![false; labels.len()];
        let h = health(&labels, Some(&predicted), &kept, 12);
        assert_eq!(h.pairs.len(), TOP_PAIRS);
        assert_eq!((h.pairs[0].given, h.pairs[0].count), (11, 12));
        assert_eq!((h.pairs[9].given, h.pairs[9].count), (2, 3));
    }

    #[test]
    fn nothing_flagged_and_an_empty_set_are_healthy() {
        let h = health(&[0, 1], Some(&[1, 0]), &[true, true], 2);
        assert_eq!((h.flagged, h.health()), (0, 1.0));
        assert!(h.pairs.is_empty());
        assert!(h.classes.iter().all(|c| c.predicted.is_none()));
        let e = health(&[], Some(&[]), &[], 2);
        assert_eq!((e.samples, e.health()), (0, 1.0));
        assert_eq!(e.classes.len(), 2);
        // A label outside the classes counts in the totals only.
        let o = health(&[5], Some(&[0]), &[false], 2);
        assert_eq!((o.samples, o.flagged), (1, 1));
        assert!(o.classes.iter().all(|c| c.samples == 0));
    }

    #[test]
    fn a_model_no_better_than_the_largest_class_on_the_kept_is_not_learned() {
        // Kept: 6 of class 0, 2 of class 1; the model answers 0 for all of them: it agrees
        // with 6 of 8, what always answering the largest class does (75%).
        let labels = [0, 0, 0, 0, 0, 0, 1, 1, 1, 1];
        let always0 = [0; 10];
        let kept = [true, true, true, true, true, true, true, true, false, false];
        let h = health(&labels, Some(&always0), &kept, 2);
        assert_eq!(
            h.not_learned,
            Some(NotLearned {
                agreement: 0.75,
                largest_class: 0.75
            })
        );
        // The flagged samples do not count: a model that predicts every kept label learned,
        // whatever it predicts of the flagged.
        let learned = [0, 0, 0, 0, 0, 0, 1, 1, 0, 0];
        assert_eq!(health(&labels, Some(&learned), &kept, 2).not_learned, None);
        // Nothing to judge: no predictions, one class.
        assert_eq!(health(&labels, None, &kept, 2).not_learned, None);
        assert_eq!(
            health(&[0, 0], Some(&[0, 0]), &[true, true], 1).not_learned,
            None
        );
    }

    #[test]
    fn without_predictions_classes_are_counted_and_nothing_is_named() {
        let h = health(&[0, 0, 1], None, &[false, true, false], 2);
        assert_eq!((h.flagged, h.flagged_disagreeing), (2, None));
        assert!(h.pairs.is_empty());
        let c: Vec<_> = h
            .classes
            .iter()
            .map(|c| (c.class, c.flagged, c.predicted))
            .collect();
        assert_eq!(c, vec![(1, 1, None), (0, 1, None)]);
    }
}
