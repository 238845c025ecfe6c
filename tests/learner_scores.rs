//! What the classifiers' scores promise, for the CNN (stock and fused implementations) and the
//! MLP: loss = -ln p(given), p(given) = the probability row's entry of the given class, rows
//! that sum to 1, predicted = the row's argmax; one row per scored index, in their order; and
//! training lowers the loss of what it trained on.

use candle_core::Device;
use itlm_inspector::data::{Dataset, ImageShape, Source};
use itlm_inspector::itlm::Learner;
use itlm_inspector::learner::{Classifier, CnnImpl, LearnerConfig, ModelKind};
use itlm_inspector::rng::Rng;

const CLASSES: usize = 3;

/// 30 8x8 gray images of seeded noise, each class brighter than the last (learnable).
fn set() -> Dataset {
    let shape = ImageShape::new(8, 8, 1);
    let n = 30;
    let mut rng = Rng::derive(7, 1);
    let labels: Vec<u32> = (0..n).map(|i| (i % CLASSES) as u32).collect();
    let pixels = labels
        .iter()
        .flat_map(|&l| {
            (0..shape.len())
                .map(|_| (l as f32 * 60.0 + rng.next_f32() * 120.0) as u8)
                .collect::<Vec<_>>()
        })
        .collect();
    Dataset::from_parts(
        "noise",
        Source::Memory,
        (0..CLASSES).map(|c| format!("c{c}")).collect(),
        shape,
        pixels,
        labels,
        (0..n).map(|i| format!("{i}.png")).collect(),
    )
    .unwrap()
}

fn check_scores(what: &str, l: &mut Classifier, data: &Dataset, idx: &[usize]) -> f32 {
    let s = l.score(data, idx, &mut |_| Ok(())).unwrap();
    assert_eq!(s.loss.len(), idx.len(), "{what}");
    assert_eq!(s.probs.len(), idx.len() * CLASSES, "{what}");
    for (j, &i) in idx.iter().enumerate() {
        let row = &s.probs[j * CLASSES..(j + 1) * CLASSES];
        let sum: f32 = row.iter().sum();
        assert!(
            (sum - 1.0).abs() < 1e-5,
            "{what} sample {i}: row sums to {sum}"
        );
        assert!(
            row.iter().all(|&p| (0.0..=1.0).contains(&p)),
            "{what}: {row:?}"
        );
        let g = data.label(i) as usize;
        assert_eq!(s.p_given[j], row[g], "{what} sample {i}: p(given)");
        let want = -row[g].ln();
        assert!(
            (s.loss[j] - want).abs() < 1e-5 * want.max(1.0),
            "{what} sample {i}: loss {} vs -ln p {want}",
            s.loss[j]
        );
        let best = (0..CLASSES).fold(0, |b, c| if row[c] > row[b] { c } else { b });
        assert_eq!(s.predicted[j], best as u32, "{what} sample {i}: {row:?}");
    }
    s.loss.iter().sum::<f32>() / s.loss.len() as f32
}

#[test]
fn classifier_scores_are_consistent_and_training_lowers_the_loss() {
    let data = set();
    for (model, imp) in [
        (ModelKind::Cnn, CnnImpl::Stock),
        (ModelKind::Cnn, CnnImpl::Fast),
        (ModelKind::Mlp, CnnImpl::Auto),
    ] {
        let what = format!("{model} {imp:?}");
        let cfg = LearnerConfig {
            model,
            batch_size: 10,
            score_batch_size: 7, // several scoring batches, the last one short
            ..LearnerConfig::default()
        };
        let mut l = Classifier::with_cnn_impl(cfg, data.shape, CLASSES, Device::Cpu, imp).unwrap();
        l.reset(3).unwrap();
        // Scores come back in the order of the indices asked for.
        let idx: Vec<usize> = (0..data.len()).rev().step_by(2).collect();
        let all: Vec<usize> = (0..data.len()).collect();
        check_scores(&what, &mut l, &data, &idx);
        let s_all = l.score(&data, &all, &mut |_| Ok(())).unwrap();
        let s_idx = l.score(&data, &idx, &mut |_| Ok(())).unwrap();
        for (j, &i) in idx.iter().enumerate() {
            assert!(
                (s_idx.loss[j] - s_all.loss[i]).abs() < 1e-6,
                "{what} sample {i}"
            );
        }
        let before = check_scores(&what, &mut l, &data, &all);
        l.train(&data, &all, 20.0, 1, &mut |_| Ok(())).unwrap();
        let after = check_scores(&what, &mut l, &data, &all);
        assert!(
            after < before * 0.5,
            "{what}: mean loss {before} -> {after}"
        );
    }
}
