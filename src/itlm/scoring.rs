//! How a round scores its samples: under the model it just trained, or averaged over fresh
//! models, one per plan (the out-of-fold models of a cross-fitted round, the round-0
//! ensemble); with each, the spectral scores when the round keeps them.

use super::config::Config;
use super::learner::{Learner, Tick};
use super::spectral;
use crate::data::Dataset;
use crate::error::{Error, Result};
use crate::rng::Rng;

pub(super) fn check_finite(round: usize, loss: f32) -> Result<()> {
    if loss.is_finite() {
        Ok(())
    } else {
        Err(Error::Diverged {
            round,
            message: format!("training loss became {loss}; try a lower learning rate"),
        })
    }
}

/// A round's scoring gave no usable loss at all (every one NaN or infinite): the model
/// diverged.
pub(super) fn check_scored(round: usize, losses: &[f32]) -> Result<()> {
    if losses.iter().all(|l| !l.is_finite()) {
        return Err(Error::Diverged {
            round,
            message: "every sample's loss is NaN or infinite".into(),
        });
    }
    Ok(())
}

/// Score `indices` under the current model and, with `spectral`, their spectral scores
/// against each other (one per index; empty without them or without usable features).
pub(super) fn scored<L: Learner + ?Sized>(
    learner: &mut L,
    data: &Dataset,
    indices: &[usize],
    spectral: bool,
    tick: &mut dyn FnMut(Tick) -> Result<()>,
) -> Result<(super::Scores, Vec<f32>)> {
    if !spectral {
        return Ok((learner.score(data, indices, tick)?, Vec::new()));
    }
    let (s, features) = learner.score_with_features(data, indices, tick)?;
    let labels: Vec<u32> = indices.iter().map(|&i| data.label(i)).collect();
    let sp = spectral::round_spectral(features.as_ref(), &labels, data.num_classes());
    Ok((s, sp))
}

/// Out-of-fold plans: the training set is split into `folds` parts; for each, a model trains
/// on the other parts and scores that part (and the samples outside the training set, which get
/// the average over the folds). No sample is scored by a model that trained on it, so a bad
/// sample cannot lower its own loss by being fitted.
pub(super) fn fold_plans(
    n: usize,
    train_idx: &[usize],
    folds: usize,
    seed: u64,
) -> Vec<(Vec<usize>, Vec<usize>)> {
    let k = folds.min(train_idx.len()).max(1);
    let mut shuffled = train_idx.to_vec();
    Rng::derive(seed, 0xF01D).shuffle(&mut shuffled);
    let mut fold = vec![usize::MAX; n];
    for (j, &i) in shuffled.iter().enumerate() {
        fold[i] = j % k;
    }
    let outside: Vec<usize> = (0..n).filter(|&i| fold[i] == usize::MAX).collect();
    (0..k)
        .map(|f| {
            let part: Vec<usize> = shuffled.iter().copied().filter(|&i| fold[i] != f).collect();
            let mut to_score: Vec<usize> =
                shuffled.iter().copied().filter(|&i| fold[i] == f).collect();
            to_score.extend_from_slice(&outside);
            (part, to_score)
        })
        .collect()
}

/// Scores averaged over fresh models, one per plan `(trains on, scores)`: the out-of-fold
/// models of a cross-fitted round, or the round-0 ensemble. A sample's loss and class
/// probabilities are the mean over the models that scored it; with `spectral`, so is its
/// spectral score (each model's against the samples it scored; empty when the learner has no
/// features).
#[allow(clippy::too_many_arguments)]
pub(super) fn averaged<L: Learner + ?Sized>(
    learner: &mut L,
    data: &Dataset,
    plans: &[(Vec<usize>, Vec<usize>)],
    epochs: f64,
    seed: u64,
    round: usize,
    spectral: bool,
    tick: &mut dyn FnMut(Tick) -> Result<()>,
) -> Result<(super::Scores, Vec<f32>)> {
    let n = data.len();
    let mut loss = vec![0.0f64; n];
    let mut count = vec![0u32; n];
    let mut probs: Vec<f64> = Vec::new();
    let mut predicted: Vec<u32> = data.labels().to_vec();
    let mut spectral_sum = if spectral {
        vec![0.0f64; n]
    } else {
        Vec::new()
    };
    for (f, (part, to_score)) in plans.iter().enumerate() {
        learner.reset(Rng::derive(seed, 0xF00 + f as u64).next_u64())?;
        check_finite(
            round,
            learner.train(
                data,
                part,
                epochs,
                Rng::derive(seed, f as u64).next_u64(),
                tick,
            )?,
        )?;
        let (s, sp) = scored(learner, data, to_score, !spectral_sum.is_empty(), tick)?;
        if sp.len() == to_score.len() {
            for (j, &i) in to_score.iter().enumerate() {
                spectral_sum[i] += sp[j] as f64;
            }
        } else {
            // No usable features: no spectral scores for this round.
            spectral_sum.clear();
        }
        if s.loss.len() != to_score.len() {
            return Err(Error::Model(format!(
                "scored {} of {} samples",
                s.loss.len(),
                to_score.len()
            )));
        }
        let classes = if s.probs.is_empty() {
            0
        } else {
            s.probs.len() / to_score.len()
        };
        if classes > 0 && probs.is_empty() {
            probs = vec![0.0; n * classes];
        }
        for (j, &i) in to_score.iter().enumerate() {
            loss[i] += s.loss[j] as f64;
            count[i] += 1;
            predicted[i] = s.predicted[j];
            for c in 0..classes {
                probs[i * classes + c] += s.probs[j * classes + c] as f64;
            }
        }
    }
    let classes = if probs.is_empty() { 0 } else { probs.len() / n };
    let mut out = super::Scores {
        loss: Vec::with_capacity(n),
        predicted: Vec::with_capacity(n),
        p_given: Vec::with_capacity(n),
        probs: Vec::with_capacity(probs.len()),
    };
    for i in 0..n {
        let m = count[i].max(1) as f64;
        out.loss.push((loss[i] / m) as f32);
        if classes > 0 {
            let row: Vec<f32> = (0..classes)
                .map(|c| (probs[i * classes + c] / m) as f32)
                .collect();
            let best = (0..classes).fold(0, |b, c| if row[c] > row[b] { c } else { b });
            out.predicted.push(best as u32);
            out.p_given.push(row[data.label(i) as usize]);
            out.probs.extend(row);
        } else {
            out.predicted.push(predicted[i]);
            out.p_given.push(f32::NAN);
        }
    }
    let spectral = spectral_sum
        .iter()
        .zip(&count)
        .map(|(&s, &c)| (s / c.max(1) as f64) as f32)
        .collect();
    Ok((out, spectral))
}

/// Round 0's out-of-fold scores, for a learner that retrains in moments (a head on
/// embeddings, which fits round 0's labels, the wrong ones too, and so contradicts none): four
/// fresh models of round 0's length, each scoring the quarter of `everyone` it did not train
/// on, as cleanlab computes its probabilities (measured on 38 photos with three mislabelled:
/// round 0's own probabilities contradicted none of them). Tau from the data
/// ([`Config::tau_from_data`]) reads its noise from them, and relabelling's round-0 vote
/// uses them. None (round 0's own stand) for other learners, with warm-started rounds (which
/// train on from round 0's model), or for fewer than 8 samples.
pub(super) fn round0_out_of_fold<L: Learner + ?Sized>(
    learner: &mut L,
    data: &Dataset,
    everyone: &[usize],
    epochs: f64,
    config: &Config,
    tick: &mut dyn FnMut(Tick) -> Result<()>,
) -> Result<Option<super::Scores>> {
    if !learner.cheap_to_retrain() || !config.reinit {
        return Ok(None);
    }
    let seed = Rng::derive(config.seed, 9000).next_u64();
    out_of_fold(learner, data, everyone, epochs, seed, 0, tick)
}

/// Out-of-fold scores over `train` (cleanlab's way): four fresh models of `epochs`, each
/// training on three quarters of `train` and scoring the quarter it left out; the samples
/// outside `train` get the four models' mean (their predicted class the argmax of the mean
/// probabilities). None for fewer than 8 samples. Leaves the learner holding the last fold's
/// model.
pub(super) fn out_of_fold<L: Learner + ?Sized>(
    learner: &mut L,
    data: &Dataset,
    train: &[usize],
    epochs: f64,
    seed: u64,
    round: usize,
    tick: &mut dyn FnMut(Tick) -> Result<()>,
) -> Result<Option<super::Scores>> {
    const FOLDS: usize = 4;
    if train.len() < 2 * FOLDS {
        return Ok(None);
    }
    let plans = fold_plans(data.len(), train, FOLDS, seed);
    let (s, _) = averaged(learner, data, &plans, epochs, seed, round, false, tick)?;
    Ok(Some(s))
}
