//! The activation-clustering cut before the final round ([`super::Config::clusters`]): where a
//! backdoor's stamped images look like their target class (Shirt -> T-shirt), no loss
//! separates them, but a model that learned the trigger represents them apart. A probe model
//! trains on every sample for the final round's length (as a naive user's would, so it learns
//! the trigger); each class's penultimate activations split in two ([`activation_clusters`]);
//! a split is an attack when its smaller cluster is a minority of the class, the early
//! rounds' cuts trimmed its members far more often than the rest of the class, and the last
//! model before the cut (trained without most of them) puts more of them in one other class
//! than in their own (the exclusionary reclassification of Chen et al., 2018, with ITLM's own
//! model instead of a retrained one). The final model then trains without the flagged
//! clusters, and judges them as Chen et al.'s retrained model does: the members it calls by
//! the cluster's other class train under that class in the final model trained again
//! ([`repairs`]: Chen et al.'s repair, so the model learns that the mark does not mean the
//! attacker's label); the rest stay out.

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::learner::{Learner, TickFn};
use super::record::RoundRecord;
use super::spectral::activation_clusters;
use crate::data::Dataset;
use crate::error::{Error, Result};
use crate::rng::Rng;

/// The largest share of its class a flagged cluster may have: a class's natural sub-styles
/// split it 15 - 50 / 50 - 85 (README, "Backdoors").
pub const MAX_SHARE: f64 = 0.25;
/// How many times more often the early cuts must have trimmed the cluster's members than the
/// rest of the class's.
pub const MIN_ENRICHMENT: f64 = 3.0;

/// One class's split and whether it was flagged.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ClassCluster {
    pub class: u32,
    /// Samples of the class the probe trained on, and in the smaller cluster.
    pub count: usize,
    pub size: usize,
    /// Distance between the clusters' centres over the mean distance to one's own centre.
    pub separation: f64,
    /// Mean times the early rounds' cuts trimmed a member of the cluster, and one of the rest
    /// of the class.
    pub trimmed_in: f64,
    pub trimmed_rest: f64,
    /// Exclusionary reclassification: the share of the cluster that the last round's model
    /// before the cut (trained without most of what the early cuts trimmed) puts in the given
    /// class, and the class it puts most of the rest in with that share.
    pub own_share: f64,
    pub other: Option<(u32, f64)>,
    pub flagged: bool,
}

impl ClassCluster {
    /// How many times more often the early cuts trimmed the cluster's members than the rest
    /// of the class's (infinite when only the cluster's were trimmed, 0 when none were).
    pub fn enrichment(&self) -> f64 {
        enrichment(self.trimmed_in, self.trimmed_rest)
    }

    /// The smaller cluster's share of the class.
    pub fn share(&self) -> f64 {
        self.size as f64 / self.count.max(1) as f64
    }
}

fn enrichment(inside: f64, rest: f64) -> f64 {
    if rest > 0.0 {
        inside / rest
    } else if inside > 0.0 {
        f64::INFINITY
    } else {
        0.0
    }
}

/// Whether a split is an attack: a minority of its class that the early cuts trimmed far more
/// often than the rest, and that a model trained without most of it puts in another class
/// more often than in its own (`own` and `other`: the shares it puts in the given class and
/// in the most frequent other one). A class's hard sub-style (wide trousers, long coats) is
/// trimmed as often, but the model still calls most of it by its label.
pub fn is_attack(share: f64, trimmed_in: f64, trimmed_rest: f64, own: f64, other: f64) -> bool {
    share <= MAX_SHARE && enrichment(trimmed_in, trimmed_rest) >= MIN_ENRICHMENT && other > own
}

/// What the cut found: every class's split, and the samples it holds out of the final model.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ClusterReport {
    pub classes: Vec<ClassCluster>,
    /// Epochs the probe model trained on every sample.
    pub probe_epochs: f64,
}

impl ClusterReport {
    pub fn flagged_classes(&self) -> impl Iterator<Item = &ClassCluster> {
        self.classes.iter().filter(|c| c.flagged)
    }
}

/// The cut: the report and, per sample, whether it sits in a flagged cluster.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ClusterCut {
    pub report: ClusterReport,
    pub held_out: Vec<bool>,
}

impl ClusterCut {
    pub fn count(&self) -> usize {
        self.held_out.iter().filter(|&&h| h).count()
    }
}

/// The repair of a cut's flagged clusters: for each sample the cut holds out whose class's
/// flagged cluster puts most of its non-own share in another class (`other`), that class when
/// `predicted` (one per sample, by the final round's model trained without the held-out
/// samples, which never saw them) names it, else None. A repaired sample trains under that
/// class in the final model trained again instead of staying out; its label stays what it
/// was, and the round records it as relabelled. Measured on Shirt -> T-shirt at 5 seeds
/// (README "Backdoors"): attack success 7.3% held out, 5.5% repaired by round 10's judgement
/// (a model that had trained on part of the stamped images), 2.1% judged by the model that
/// never saw them.
pub fn repairs(cut: &ClusterCut, labels: &[u32], predicted: &[u32]) -> Vec<Option<u32>> {
    let other = |g: u32| {
        cut.report
            .flagged_classes()
            .find(|c| c.class == g)
            .and_then(|c| c.other.map(|(o, _)| o))
    };
    cut.held_out
        .iter()
        .zip(labels)
        .zip(predicted)
        .map(|((&h, &g), &p)| other(g).filter(|&o| h && o == p))
        .collect()
}

/// Trim every sample `held_out` marks: what the cut held out of a round stays out of its cut
/// at any tau (the run, the window's re-cut and `export --tau` apply it alike).
pub fn hold_out(kept: &mut [bool], held_out: &[bool]) {
    kept.iter_mut().zip(held_out).for_each(|(k, &h)| *k &= !h);
}

/// Train the probe on `train` (every sample the user did not exclude) for `epochs`, split
/// each class's activations, and flag the splits the early rounds in `history` (rounds below
/// `early_rounds`) point at.
#[allow(clippy::too_many_arguments)]
pub fn probe<L: Learner + ?Sized>(
    learner: &mut L,
    data: &Dataset,
    train: &[usize],
    epochs: f64,
    seed: u64,
    history: &[Arc<RoundRecord>],
    early_rounds: usize,
    tick: &mut TickFn<'_>,
) -> Result<ClusterCut> {
    let n = data.len();
    learner.reset(Rng::derive(seed, 0).next_u64())?;
    learner.train(data, train, epochs, Rng::derive(seed, 1).next_u64(), tick)?;
    let features = learner.features(data, train, tick)?.ok_or_else(|| {
        Error::Config("the activation-clustering cut needs a model with a hidden layer".into())
    })?;
    let labels: Vec<u32> = train.iter().map(|&i| data.label(i)).collect();
    let splits = activation_clusters(&features, &labels, data.num_classes(), seed);
    let early: Vec<&Arc<RoundRecord>> = history
        .iter()
        .filter(|r| r.round < early_rounds && r.kept.len() == n)
        .collect();
    let trimmed = |i: usize| early.iter().filter(|r| !r.kept[i]).count() as f64;
    let mut held_out = vec![false; n];
    let mut classes = Vec::new();
    for s in splits {
        let mut in_cluster = vec![false; labels.len()];
        for &r in &s.smaller {
            in_cluster[r] = true;
        }
        let (mut inside, mut outside) = ((0.0, 0usize), (0.0, 0usize));
        for (r, &i) in train.iter().enumerate() {
            if labels[r] != s.class {
                continue;
            }
            let side = if in_cluster[r] {
                &mut inside
            } else {
                &mut outside
            };
            side.0 += trimmed(i);
            side.1 += 1;
        }
        let judge = history.last().filter(|r| r.predicted.len() == n);
        let mut votes = vec![0usize; data.num_classes()];
        if let Some(j) = judge {
            for &r in &s.smaller {
                if let Some(v) = votes.get_mut(j.predicted[train[r]] as usize) {
                    *v += 1;
                }
            }
        }
        let size = s.smaller.len().max(1) as f64;
        let own_share = votes.get(s.class as usize).copied().unwrap_or(0) as f64 / size;
        let other = votes
            .iter()
            .enumerate()
            .filter(|&(c, &v)| c != s.class as usize && v > 0)
            .max_by_key(|&(_, &v)| v)
            .map(|(c, &v)| (c as u32, v as f64 / size));
        let mean = |(t, k): (f64, usize)| if k > 0 { t / k as f64 } else { 0.0 };
        let (trimmed_in, trimmed_rest) = (mean(inside), mean(outside));
        let flagged = is_attack(
            s.share(),
            trimmed_in,
            trimmed_rest,
            own_share,
            other.map_or(0.0, |(_, o)| o),
        );
        if flagged {
            for &r in &s.smaller {
                held_out[train[r]] = true;
            }
        }
        classes.push(ClassCluster {
            class: s.class,
            count: s.count,
            size: s.smaller.len(),
            separation: s.separation,
            trimmed_in,
            trimmed_rest,
            own_share,
            other,
            flagged,
        });
    }
    Ok(ClusterCut {
        report: ClusterReport {
            classes,
            probe_epochs: epochs,
        },
        held_out,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_attack_is_a_minority_the_early_cuts_trimmed_far_more_often() {
        // The stamped T-shirts (README, seed 1): 13% of the class, trimmed 5.8 times as often
        // as the rest, called Shirt more often than T-shirt.
        assert!(is_attack(0.134, 5.8, 1.0, 0.33, 0.41));
        // Wide trousers at the same seed: as small and trimmed 64 times as often, but a
        // model still calls 69% of them Trouser.
        assert!(!is_attack(0.119, 64.0, 1.0, 0.69, 0.11));
        // A natural sub-style: a third of the class, however often it was trimmed.
        assert!(!is_attack(0.34, 9.0, 0.3, 0.2, 0.8));
        // A small cluster trimmed hardly more often than the rest.
        assert!(!is_attack(0.1, 1.0, 0.5, 0.2, 0.8));
        // Only the cluster was ever trimmed.
        assert!(is_attack(0.1, 0.5, 0.0, 0.2, 0.8));
        // Nothing was trimmed: no evidence.
        assert!(!is_attack(0.1, 0.0, 0.0, 0.2, 0.8));
        let c = ClassCluster {
            class: 0,
            count: 200,
            size: 20,
            separation: 1.2,
            trimmed_in: 3.0,
            trimmed_rest: 0.5,
            own_share: 0.2,
            other: Some((6, 0.7)),
            flagged: true,
        };
        assert_eq!(c.enrichment(), 6.0);
        assert_eq!(c.share(), 0.1);
    }

    /// The repair: a held-out member of a flagged cluster that the model trained without it
    /// calls by the cluster's other class trains under it; one it calls anything else stays out, as
    /// do held-out samples of a class whose split was not flagged, and samples not held out.
    #[test]
    fn held_out_members_the_model_calls_by_the_other_class_are_repaired() {
        let split = |class: u32, other: Option<(u32, f64)>, flagged: bool| ClassCluster {
            class,
            count: 100,
            size: 10,
            separation: 1.0,
            trimmed_in: 2.0,
            trimmed_rest: 0.1,
            own_share: 0.1,
            other,
            flagged,
        };
        let cut = ClusterCut {
            report: ClusterReport {
                classes: vec![
                    split(0, Some((6, 0.8)), true),
                    split(1, Some((2, 0.9)), false),
                    split(3, None, true),
                ],
                probe_epochs: 9.0,
            },
            held_out: vec![true, true, false, true, true, true],
        };
        let labels = [0, 0, 0, 1, 3, 0];
        let predicted = [6, 4, 6, 2, 6, 0];
        assert_eq!(
            repairs(&cut, &labels, &predicted),
            [Some(6), None, None, None, None, None]
        );
    }
}
