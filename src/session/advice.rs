//! Advice on a freshly opened set, the same in the window (hints beside the settings, each
//! with a button) and on the command line (lines on stderr before training).
//!
//! A smaller batch size for small sets was advised here once; measured, it made runs worse
//! (README, "Image checks": fewer flips found on a 400-photo set and the demo, with the CNN
//! and with heads on embeddings), and round 0's learned-nothing check (session::run) gives that
//! advice where a set really needs it.

use crate::data::ImageShape;
use crate::learner::backbone::BackboneKind;
use crate::learner::ModelKind;

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
