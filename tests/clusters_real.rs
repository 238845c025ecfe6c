//! Activation clustering on real Fashion-MNIST (README, "Backdoors": the clustering cut): where
//! the stamped images look like their target class (Shirt stamped and labelled T-shirt), a
//! model trained on every label gives them no higher loss than the class's hard clean images,
//! but its penultimate activations put them in a cluster of their own. Measured, not
//! hard-coded: the test counts the stamped images each score catches (the clusters, the
//! spectral score and the loss).

use itlm_inspector::data::corrupt::{Corrupted, SampleKind};
use itlm_inspector::data::watermark::{MarkShape, Watermark};
use itlm_inspector::data::{self, LoadOptions};
use itlm_inspector::itlm::spectral::{activation_clusters, spectral_scores};
use itlm_inspector::learner;
use itlm_inspector::presets;

mod fashion_data;

#[test]
fn activation_clusters_find_stamped_shirts_where_the_loss_does_not() {
    let Some(dir) = fashion_data::fashion_dir() else {
        return;
    };
    let l = data::load(dir, &LoadOptions::default()).expect("Fashion-MNIST loads");
    let train = l.train.limit(20000, 0);
    let (from, to) = (6, 0);
    let mark = Watermark::new(MarkShape::L, Watermark::default_size(train.shape));
    let mut c = Corrupted::clean(train);
    let stamped = c.backdoor(0.1, from, to, &mark, 1).unwrap();
    let bad: Vec<bool> = c.kinds.iter().map(|k| *k == SampleKind::Backdoor).collect();
    let d = &c.data;
    let all: Vec<usize> = (0..d.len()).collect();
    let labels: Vec<u32> = all.iter().map(|&i| d.label(i)).collect();
    // What a user trains: every label, the backdoor protocol's learner, the final length.
    let mut model = learner::build(&presets::backdoor_learner(), d).unwrap();
    model.reset(1).unwrap();
    let epochs = presets::backdoor_protocol().final_epochs as f64;
    model.train(d, &all, epochs, 1, &mut |_| Ok(())).unwrap();
    // One pass gives the scores and the features (what every round of a run does), the same
    // as two.
    let (scores, features) = model.score_with_features(d, &all, &mut |_| Ok(())).unwrap();
    let features = features.unwrap();
    assert_eq!(features.rows(), d.len());
    assert_eq!(model.feature_dim(), Some(features.dim));
    assert_eq!(
        scores.loss,
        model.score(d, &all, &mut |_| Ok(())).unwrap().loss
    );
    assert_eq!(
        Some(&features),
        model.features(d, &all, &mut |_| Ok(())).unwrap().as_ref()
    );

    let target: Vec<usize> = all.iter().copied().filter(|&i| labels[i] == to).collect();
    let caught = |members: &[usize]| members.iter().filter(|&&i| bad[i]).count();
    // The loss: as many of the class's highest losses as the cluster below holds.
    let splits = activation_clusters(&features, &labels, d.num_classes(), 1);
    let split = splits.iter().find(|s| s.class == to).unwrap();
    let by_cluster = caught(&split.smaller);
    let mut by_loss_order = target.clone();
    by_loss_order.sort_by(|&a, &b| scores.loss[b].total_cmp(&scores.loss[a]));
    let by_loss = caught(&by_loss_order[..split.smaller.len().min(target.len())]);
    // And the plain spectral signature (top direction), for the record.
    let spectral = spectral_scores(&features, &labels, d.num_classes());
    let mut by_spectral_order = target.clone();
    by_spectral_order.sort_by(|&a, &b| spectral.scores[b].total_cmp(&spectral.scores[a]));
    let by_spectral = caught(&by_spectral_order[..split.smaller.len().min(target.len())]);
    eprintln!(
        "{stamped} stamped in {} T-shirts; smaller cluster {} ({:.3} of the class, separation {:.2}) holds {by_cluster}; as many highest losses hold {by_loss}, highest spectral scores {by_spectral}",
        target.len(),
        split.smaller.len(),
        split.share(),
        split.separation
    );
    for s in &splits {
        eprintln!(
            "  class {}: {}/{} ({:.3}), separation {:.2}, stamped {}",
            s.class,
            s.smaller.len(),
            s.count,
            s.share(),
            s.separation,
            caught(&s.smaller)
        );
    }
    assert!(
        by_cluster * 10 >= stamped * 7,
        "the cluster holds {by_cluster} of {stamped} stamped images"
    );
    // The class is 9% stamped; the cluster at least three times as much.
    assert!(
        by_cluster * target.len() >= 3 * stamped * split.smaller.len(),
        "the cluster is no richer in stamped images than its class: {by_cluster} of {}",
        split.smaller.len()
    );
    assert!(
        by_cluster >= 2 * by_loss.max(1),
        "the loss catches {by_loss}, the cluster {by_cluster}"
    );
    // The spectral score (what every round stores, the window's "spectral score") ranks the
    // stamped images above the hard clean T-shirts better than the loss does.
    assert!(
        by_spectral > by_loss,
        "the loss catches {by_loss}, the spectral score {by_spectral}"
    );
    // No stamped image sits in another class's smaller cluster.
    for s in splits.iter().filter(|s| s.class != to) {
        assert_eq!(caught(&s.smaller), 0, "class {}", s.class);
    }
}
