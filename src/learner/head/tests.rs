use std::sync::Arc;
use std::time::Instant;

use candle_core::Device;

use super::*;
use crate::data::{ImageShape, Source};
use crate::itlm::{self, Config, Quiet, Start, TauSchedule, TrimQuality};
use crate::rng::Rng;

/// `n` samples of `classes` Gaussian clusters in `dim` dimensions (centres `sep` apart on
/// random axes), a `flip` share of labels moved to another class: the dataset (its pixels are
/// placeholders), the features and the flip mask.
fn clusters(
    name: &str,
    n: usize,
    classes: usize,
    dim: usize,
    sep: f32,
    flip: f64,
    seed: u64,
) -> (Dataset, FeatureMatrix, Vec<bool>) {
    let mut rng = Rng::new(seed);
    let centres: Vec<Vec<f32>> = (0..classes)
        .map(|_| (0..dim).map(|_| rng.normal() * sep).collect())
        .collect();
    let mut values = Vec::with_capacity(n * dim);
    let mut labels = Vec::with_capacity(n);
    let mut flipped = vec![false; n];
    for (i, f) in flipped.iter_mut().enumerate() {
        let c = i % classes;
        values.extend(centres[c].iter().map(|&m| m + rng.normal()));
        let mut l = c;
        if rng.next_f64() < flip {
            l = (c + 1 + rng.below(classes - 1)) % classes;
            *f = true;
        }
        labels.push(l as u32);
    }
    let d = Dataset::from_parts(
        name,
        Source::Memory,
        (0..classes).map(|c| format!("c{c}")).collect(),
        ImageShape::new(1, 1, 1),
        vec![0; n],
        labels,
        (0..n).map(|i| format!("{name}-{i}")).collect(),
    )
    .unwrap();
    (d, FeatureMatrix::new(n, dim, values).unwrap(), flipped)
}

fn head(kind: HeadKind, f: Features, classes: usize) -> Head {
    let cfg = LearnerConfig {
        batch_size: 64,
        ..Default::default()
    };
    Head::new(cfg, kind, Arc::new(f), classes, Device::Cpu).unwrap()
}

/// The trim of ITLM with a head on noisy clusters, measured against the flip mask.
fn itlm_trim(kind: HeadKind) -> (TrimQuality, f64) {
    let (d, m, flipped) = clusters("train", 1200, 4, 32, 0.6, 0.2, 7);
    let base_rate = flipped.iter().filter(|&&f| f).count() as f64 / d.len() as f64;
    let f = Features::new(&d, m).unwrap();
    let mut h = head(kind, f, 4);
    let c = Config {
        tau: 0.8,
        rounds: 3,
        epochs: 5.0,
        final_epochs: 10,
        schedule: TauSchedule::Constant,
        ..Default::default()
    };
    let mut hist = Vec::new();
    itlm::run(
        &mut h,
        itlm::Inputs::new(&d),
        &c,
        Start::Fresh,
        &mut hist,
        &mut Quiet,
    )
    .unwrap();
    let last = hist.last().unwrap();
    (TrimQuality::measure(&last.kept, &flipped), base_rate)
}

/// A head's features are what its last layer reads: the standardised embeddings (linear) or
/// the hidden layer (MLP); every round stores their spectral scores, but never gathers
/// features wider than the limit (a linear head on 1280-d embeddings).
#[test]
fn heads_report_their_feature_width_and_rounds_skip_wide_ones() {
    let (d, m, _) = clusters("train", 200, 2, 32, 1.0, 0.0, 3);
    let f = Features::new(&d, m).unwrap();
    let mut linear = head(HeadKind::Linear, f.clone(), 2);
    let mut mlp = head(HeadKind::Mlp, f, 2);
    assert_eq!(linear.feature_dim(), Some(32));
    assert_eq!(mlp.feature_dim(), Some(MLP_HIDDEN));
    let all: Vec<usize> = (0..d.len()).collect();
    let (s, feats) = mlp.score_with_features(&d, &all, &mut |_| Ok(())).unwrap();
    let feats = feats.unwrap();
    assert_eq!((feats.dim, feats.rows()), (MLP_HIDDEN, d.len()));
    assert_eq!(s.loss, mlp.score(&d, &all, &mut |_| Ok(())).unwrap().loss);
    let c = Config {
        tau: 0.9,
        rounds: 1,
        epochs: 1.0,
        final_epochs: 1,
        schedule: TauSchedule::Constant,
        ..Default::default()
    };
    let mut hist = Vec::new();
    itlm::run(
        &mut linear,
        itlm::Inputs::new(&d),
        &c,
        Start::Fresh,
        &mut hist,
        &mut Quiet,
    )
    .unwrap();
    assert!(hist.iter().all(|r| r.spectral.len() == d.len()));
    // 1280-d embeddings: over the width limit, no spectral scores.
    let (d, m, _) = clusters("wide", 40, 2, 1280, 1.0, 0.0, 3);
    let mut wide = head(HeadKind::Linear, Features::new(&d, m).unwrap(), 2);
    assert_eq!(wide.feature_dim(), Some(1280));
    let mut hist = Vec::new();
    itlm::run(
        &mut wide,
        itlm::Inputs::new(&d),
        &c,
        Start::Fresh,
        &mut hist,
        &mut Quiet,
    )
    .unwrap();
    assert!(hist.iter().all(|r| r.spectral.is_empty()));
}

#[test]
fn itlm_with_a_linear_head_trims_mostly_flipped_labels() {
    let (q, base) = itlm_trim(HeadKind::Linear);
    eprintln!("linear: {q:?}, flip rate {base:.3}");
    // Naive baselines: a random trim of the same size has precision = the flip rate and
    // recall = the trimmed share (0.2).
    assert!(q.precision > 0.8 && q.precision > 3.0 * base, "{q:?}");
    assert!(q.recall > 0.7, "{q:?}");
}

#[test]
fn itlm_with_an_mlp_head_trims_mostly_flipped_labels() {
    let (q, base) = itlm_trim(HeadKind::Mlp);
    eprintln!("mlp: {q:?}, flip rate {base:.3}");
    assert!(q.precision > 0.8 && q.precision > 3.0 * base, "{q:?}");
    assert!(q.recall > 0.7, "{q:?}");
}

#[test]
fn scores_are_log_probabilities_of_the_given_label() {
    let (d, m, _) = clusters("train", 300, 3, 8, 3.0, 0.1, 3);
    let (t, tm, _) = clusters("test", 90, 3, 8, 3.0, 0.0, 3);
    let mut f = Features::new(&d, m).unwrap();
    f.add(&t, tm).unwrap();
    for kind in [HeadKind::Linear, HeadKind::Mlp] {
        let mut h = head(kind, f.clone(), 3);
        h.reset(5).unwrap();
        let idx: Vec<usize> = (0..d.len()).collect();
        h.train(&d, &idx, 20.0, 1, &mut |_| Ok(())).unwrap();
        let tidx: Vec<usize> = (0..t.len()).collect();
        for (set, idx) in [(&d, &idx), (&t, &tidx)] {
            let s = h.score(set, idx, &mut |_| Ok(())).unwrap();
            assert_eq!(s.loss.len(), idx.len());
            for (r, &i) in idx.iter().enumerate() {
                let p = &s.probs[r * 3..(r + 1) * 3];
                assert!((p.iter().sum::<f32>() - 1.0).abs() < 1e-4, "{p:?}");
                let g = set.label(i) as usize;
                assert!((s.p_given[r] - p[g]).abs() < 1e-6);
                assert!(
                    (s.loss[r] + p[g].ln()).abs() < 1e-4,
                    "{} {}",
                    s.loss[r],
                    p[g]
                );
                let best = (0..3).max_by(|&a, &b| p[a].total_cmp(&p[b])).unwrap();
                assert_eq!(s.predicted[r] as usize, best);
            }
            // Trained on separable clusters: most predictions are the clean class.
            let acc = idx
                .iter()
                .enumerate()
                .filter(|&(r, &i)| s.predicted[r] as usize == i % 3)
                .count() as f64
                / idx.len() as f64;
            assert!(acc > 0.9, "{kind}: accuracy {acc}");
        }
    }
}

#[test]
fn a_dataset_without_features_is_a_clear_error() {
    let (d, m, _) = clusters("train", 60, 3, 4, 1.0, 0.0, 1);
    let (other, _, _) = clusters("other", 60, 3, 4, 1.0, 0.0, 2);
    let mut h = head(HeadKind::Linear, Features::new(&d, m).unwrap(), 3);
    let e = h.score(&other, &[0, 1], &mut |_| Ok(())).unwrap_err();
    assert!(matches!(e, Error::Model(_)), "{e:?}");
    assert!(e.to_string().contains("no embeddings for other"), "{e}");
    // Wrong row count or width.
    let (t, tm, _) = clusters("t", 30, 3, 5, 1.0, 0.0, 2);
    let mut f = Features::new(&d, clusters("train", 60, 3, 4, 1.0, 0.0, 1).1).unwrap();
    assert!(f.add(&t, tm).unwrap_err().to_string().contains("columns"));
    assert!(FeatureMatrix::new(2, 2, vec![0.0, 1.0, f32::NAN, 0.0])
        .unwrap_err()
        .to_string()
        .contains("row 1, column 0"));
}

#[test]
fn features_are_standardised_by_the_training_set() {
    let (d, m, _) = clusters("train", 200, 2, 3, 1.0, 0.0, 9);
    let scaled: Vec<f32> = m.values.iter().map(|v| v * 50.0 + 1000.0).collect();
    let m = FeatureMatrix::new(m.rows, m.dim, scaled).unwrap();
    let f = Features::new(&d, m.clone()).unwrap();
    let s = f.standardised(&d).unwrap();
    // The features hold the matrix as given (shared, not copied); batches are standardised.
    assert_eq!(f.matrix(&d).unwrap().values.as_ptr(), m.values.as_ptr());
    let mut some = Vec::new();
    f.gather(f.matrix(&d).unwrap(), &[7, 2], &mut some);
    assert_eq!(some, [&s[21..24], &s[6..9]].concat());
    for c in 0..3 {
        let col: Vec<f64> = s.chunks_exact(3).map(|r| r[c] as f64).collect();
        let mean = col.iter().sum::<f64>() / col.len() as f64;
        let var = col.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / col.len() as f64;
        assert!(
            mean.abs() < 1e-3 && (var - 1.0).abs() < 1e-3,
            "{mean} {var}"
        );
    }
}

/// The time of an ITLM round on 20k x 1280 embeddings (10 classes): training 5 epochs on the
/// kept 70% and scoring all. `cargo test --release --lib head::tests::round_time -- --ignored
/// --nocapture`.
#[test]
#[ignore]
fn round_time_on_20k_embeddings() {
    let (d, m, _) = clusters("train", 20_000, 10, 1280, 0.05, 0.2, 1);
    let f = Features::new(&d, m).unwrap();
    for kind in [HeadKind::Linear, HeadKind::Mlp] {
        let mut h = head(kind, f.clone(), 10);
        h.cfg.batch_size = 128;
        let c = Config {
            tau: 0.7,
            rounds: 1,
            epochs: 5.0,
            final_epochs: 5,
            schedule: TauSchedule::Constant,
            ..Default::default()
        };
        let t = Instant::now();
        let mut hist = Vec::new();
        itlm::run(
            &mut h,
            itlm::Inputs::new(&d),
            &c,
            Start::Fresh,
            &mut hist,
            &mut Quiet,
        )
        .unwrap();
        let r = &hist[1];
        eprintln!(
            "{kind} head, 20000 x 1280, {} threads: round 1 trains 5 epochs on {} in {:.3} s, \
             scores 20000 in {:.3} s: {:.3} s per round ({:.3} s for both rounds)",
            rayon::current_num_threads(),
            r.trained_on,
            r.train_secs,
            r.score_secs,
            r.train_secs + r.score_secs,
            t.elapsed().as_secs_f64()
        );
    }
}

/// Training targets ([`Learner::set_targets`]) take the place of the given labels in training
/// only: a head trained on clusters under targets one class on from their true class (given
/// labels: the true class, 30% flipped) predicts the targets' class, while its scores stay
/// against the given labels (the unflipped samples, whose given label is their true class,
/// cost); targets of the wrong size are an error.
#[test]
fn a_head_trains_on_its_targets_and_scores_against_the_given_labels() {
    let (d, m, flipped) = clusters("train", 800, 4, 16, 3.0, 0.3, 5);
    let shifted: Vec<u32> = (0..d.len()).map(|i| ((i + 1) % 4) as u32).collect();
    let mut h = head(HeadKind::Linear, Features::new(&d, m).unwrap(), 4);
    let all: Vec<usize> = (0..d.len()).collect();
    h.reset(1).unwrap();
    assert!(h.set_targets(Some(shifted.clone())).unwrap());
    h.train(&d, &all, 30.0, 2, &mut |_| Ok(())).unwrap();
    h.set_targets(None).unwrap();
    let s = h.score(&d, &all, &mut |_| Ok(())).unwrap();
    let learned = (0..d.len())
        .filter(|&i| s.predicted[i] == shifted[i])
        .count();
    assert!(
        learned as f64 > 0.95 * d.len() as f64,
        "{learned} of {}",
        d.len()
    );
    let clean: Vec<f32> = (0..d.len())
        .filter(|&i| !flipped[i])
        .map(|i| s.loss[i])
        .collect();
    let mean = clean.iter().sum::<f32>() / clean.len() as f32;
    assert!(
        mean > 2.0,
        "scored against the given labels: mean loss {mean}"
    );
    assert!(h.set_targets(Some(vec![0; 3])).unwrap());
    assert!(h.train(&d, &all, 1.0, 2, &mut |_| Ok(())).is_err());
}
