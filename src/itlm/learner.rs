//! The two things ITLM needs from a model: a loss per sample and a way to retrain on a subset.

use crate::data::Dataset;
use crate::error::Result;

/// What a learner is doing when it reports progress.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Phase {
    Train,
    Score,
    Test,
}

/// Reported after every batch; returning an error (e.g. `Error::Cancelled`) stops the learner
/// before the next batch.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Tick {
    pub phase: Phase,
    /// Epoch within this training call (0-based); 0 when scoring.
    pub epoch: usize,
    pub epochs: usize,
    /// Batches done so far in this call and in total.
    pub batch: usize,
    pub batches: usize,
    /// Mean training loss of the batch (training only).
    pub loss: Option<f32>,
}

pub type TickFn<'a> = dyn FnMut(Tick) -> Result<()> + 'a;

/// Per-sample results of scoring.
#[derive(Clone, Debug, Default)]
pub struct Scores {
    /// Per-sample loss (cross-entropy of the given label, or negative ELBO).
    pub loss: Vec<f32>,
    /// Predicted class (classifiers); the given label for label-free learners.
    pub predicted: Vec<u32>,
    /// Probability of the given label (NaN for label-free learners).
    pub p_given: Vec<f32>,
    /// Class probabilities, n x classes row-major (empty for label-free learners).
    pub probs: Vec<f32>,
}

impl Scores {
    /// Empty, with room for `n` samples of `classes` classes.
    pub fn with_capacity(n: usize, classes: usize) -> Self {
        Self {
            loss: Vec::with_capacity(n),
            predicted: Vec::with_capacity(n),
            p_given: Vec::with_capacity(n),
            probs: Vec::with_capacity(n * classes),
        }
    }
}

/// A model's representation of samples: the penultimate layer's activations, `dim` values per
/// sample, row-major in the order of the indices asked for.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Features {
    pub dim: usize,
    pub values: Vec<f32>,
}

impl Features {
    pub fn rows(&self) -> usize {
        self.values.len().checked_div(self.dim).unwrap_or(0)
    }

    pub fn row(&self, r: usize) -> &[f32] {
        &self.values[r * self.dim..(r + 1) * self.dim]
    }
}

/// A grid of generated images (generative learners), stored like dataset samples.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ImageGrid {
    pub count: usize,
    pub shape: crate::data::ImageShape,
    pub pixels: Vec<u8>,
}

/// A model ITLM can drive.
pub trait Learner: Send {
    /// Short description, e.g. "cnn (1.2M parameters)".
    fn describe(&self) -> String;

    /// Whether predictions are class labels (false for generative learners).
    fn is_classifier(&self) -> bool {
        true
    }

    /// Fresh parameters (a new VarMap), deterministic for a seed.
    fn reset(&mut self, seed: u64) -> Result<()>;

    /// Train on `indices` for `epochs` passes (fractions allowed: 0.25 = a quarter of the
    /// batches of one pass); the order is shuffled with `seed`. Returns the mean loss of the
    /// last epoch's batches.
    fn train(
        &mut self,
        data: &Dataset,
        indices: &[usize],
        epochs: f64,
        seed: u64,
        tick: &mut TickFn<'_>,
    ) -> Result<f32>;

    /// Loss and prediction of every sample in `indices` under the current model.
    fn score(&mut self, data: &Dataset, indices: &[usize], tick: &mut TickFn<'_>)
        -> Result<Scores>;

    /// The current model's representation of every sample in `indices` (its penultimate
    /// layer), for scores that read it (spectral signatures); None for learners without one.
    fn features(
        &mut self,
        _data: &Dataset,
        _indices: &[usize],
        _tick: &mut TickFn<'_>,
    ) -> Result<Option<Features>> {
        Ok(None)
    }

    /// The width of [`Learner::features`]' rows, known without computing them (None: no
    /// features, or not known in advance).
    fn feature_dim(&self) -> Option<usize> {
        None
    }

    /// [`Learner::score`] and [`Learner::features`] of the same samples in one pass where the
    /// learner can (the features are what its last layer reads); the default scores, then asks
    /// for the features.
    fn score_with_features(
        &mut self,
        data: &Dataset,
        indices: &[usize],
        tick: &mut TickFn<'_>,
    ) -> Result<(Scores, Option<Features>)> {
        let scores = self.score(data, indices, tick)?;
        let features = self.features(data, indices, tick)?;
        Ok((scores, features))
    }

    /// Train with a label-noise transition matrix (row-major classes x classes, rows true
    /// classes: see [`super::transition`]): the loss becomes the forward-corrected
    /// -log (softmax · T)[given], while scoring stays plain. None = plain training. Returns
    /// whether the learner applies it (false: it trains plainly).
    fn set_transition(&mut self, _t: Option<&[f32]>) -> Result<bool> {
        Ok(false)
    }

    /// Samples whose labels the user vouched for (kept or relabelled; one flag per sample of
    /// the data set trained on): forward correction does not apply to them, they train on
    /// plain cross-entropy against their label. None = none. Returns whether the learner
    /// applies it.
    fn set_trusted(&mut self, _trusted: Option<Vec<bool>>) -> Result<bool> {
        Ok(false)
    }

    /// Train against `targets` (a class per sample of the data set trained on) in place of the
    /// data set's labels, while scoring stays against the given labels: how co-teaching's
    /// pseudo-labels reach a model ([`super::config::CoTeach::pseudo`]). None = the given
    /// labels. Returns whether the learner applies them (false: it trains on the given labels).
    fn set_targets(&mut self, _targets: Option<Vec<u32>>) -> Result<bool> {
        Ok(false)
    }

    /// Label smoothing of the next training calls' loss, in [0, 1) (Szegedy et al. 2016): the
    /// cross-entropy against the given (or target) class weighted 1 - `eps`, plus the
    /// cross-entropy against every class evenly weighted `eps`; 0 = plain cross-entropy.
    /// Scoring stays plain, and a forward-corrected loss ([`Learner::set_transition`]) is not
    /// smoothed. What co-teaching trains with ([`super::config::CoTeach::smoothing`]). Returns
    /// whether the learner applies it.
    fn set_label_smoothing(&mut self, _eps: f64) -> Result<bool> {
        Ok(false)
    }

    /// Augment the training images of the next training calls ([`super::config::Augment`];
    /// scoring sees them as they are). Returns whether the learner applies it (learners on
    /// embeddings do not).
    fn set_augment(&mut self, _augment: super::config::Augment) -> Result<bool> {
        Ok(false)
    }

    /// Whether training a model anew takes moments (a head on precomputed embeddings), so
    /// that a run may train extra models to check a choice on held-out samples
    /// ([`super::final_check`]); false for learners whose every epoch counts (the CNN).
    fn cheap_to_retrain(&self) -> bool {
        false
    }

    /// A second learner of the same kind and settings, on the same data, with a model of its
    /// own (to be [`Learner::reset`] before use): what co-teaching trains beside this one
    /// ([`super::config::CoTeach`]). None for learners that cannot (the default).
    fn fork(&self) -> Result<Option<Box<dyn Learner>>> {
        Ok(None)
    }

    /// Generated images from the model (generative learners only).
    fn generate(&mut self, _count: usize, _seed: u64) -> Result<Option<ImageGrid>> {
        Ok(None)
    }
}
