//! Advice on a freshly opened set, the same in the window (hints beside the settings, each
//! with a button) and on the command line (lines on stderr before training).

use crate::data::ImageShape;
use crate::learner::backbone::BackboneKind;
use crate::learner::ModelKind;

/// A batch size to suggest when an epoch of `n` samples is very few batches (< 20) at
/// `batch_size`: the largest power of two giving about 25 batches per epoch (at least 8).
/// None when the epoch has batches enough.
pub fn small_set_batch(n: usize, batch_size: usize) -> Option<usize> {
    let bs = batch_size.max(1);
    if n == 0 || n.div_ceil(bs) >= 20 {
        return None;
    }
    let target = (n / 25).max(8);
    let mut b = 8usize;
    while b * 2 <= target {
        b *= 2;
    }
    (b < bs).then_some(b)
}

/// The small-set advice in words (the window's hint, the command line's line).
pub fn small_set_text(n: usize, batch_size: usize, suggested: usize) -> String {
    let bs = batch_size.max(1);
    format!(
        "small set: consider batch size {suggested} ({} per epoch at {bs}, {} at {suggested})",
        crate::plural(n.div_ceil(bs), "batch"),
        n.div_ceil(suggested)
    )
}

/// The backbone the advice suggests a head on (the one the window offers), as people write it.
pub const BACKBONE: BackboneKind = BackboneKind::EfficientNetLite0;
pub const BACKBONE_NAME: &str = "EfficientNet-Lite0";

/// Whether a head on a pretrained backbone's embeddings should be suggested for a model from
/// scratch on images of `shape` (colour, or large: README, "Which learner").
pub fn backbone_suits(shape: ImageShape, model: ModelKind) -> bool {
    model != ModelKind::Vae && crate::learner::backbone::suits(shape)
}

/// The backbone advice in words: `model` is the model from scratch.
pub fn backbone_text(shape: ImageShape, model: ModelKind) -> String {
    format!(
        "{} images ({}x{}x{}): a head on {BACKBONE_NAME}'s ImageNet embeddings usually separates bad labels better than a {model} trained from scratch",
        if shape.channels == 3 { "colour" } else { "large" },
        shape.height,
        shape.width,
        shape.channels,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_sets_get_a_batch_size_of_about_25_batches_an_epoch() {
        // 64 photos at 128: one batch an epoch; 8 gives 8.
        assert_eq!(small_set_batch(64, 128), Some(8));
        assert_eq!(small_set_batch(1000, 128), Some(32));
        // Batches enough, or a batch size already that small: nothing.
        assert_eq!(small_set_batch(3000, 128), None);
        assert_eq!(small_set_batch(64, 8), None);
        assert_eq!(small_set_batch(0, 128), None);
        assert_eq!(
            small_set_text(64, 128, 8),
            "small set: consider batch size 8 (1 batch per epoch at 128, 8 at 8)"
        );
    }
}
