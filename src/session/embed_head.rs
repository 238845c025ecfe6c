//! A head learner on embeddings for prepared data: the embeddings come from a pretrained
//! backbone (through the [`EmbedCache`]) or from a precomputed file; the training set's and,
//! where they can be had, the evaluation sets' embeddings go into the head's [`Features`].

use std::path::PathBuf;
use std::sync::Arc;

use crate::data::Dataset;
use crate::error::{Error, Result};
use crate::learner::backbone::{self, BackboneConfig, BackboneKind};
use crate::learner::head::{FeatureMatrix, Features, Head, HeadKind};
use crate::learner::LearnerConfig;

use super::embed_cache::{weights_tag, EmbedCache};
use super::embeddings_file;
use super::prepare::Prepared;

/// Where a run's embeddings come from.
#[derive(Clone, Debug)]
pub enum EmbeddingSource {
    /// A pretrained backbone: its weights file (None: the installed one) and input resolution
    /// (None: the model's own).
    Backbone {
        kind: BackboneKind,
        weights: Option<PathBuf>,
        resolution: Option<usize>,
    },
    /// A precomputed matrix (`.npy` / `.safetensors`) and its ids file.
    File { path: PathBuf, ids: Option<PathBuf> },
}

/// What [`build_head`] reports while embedding: the set's name, done, total.
pub type EmbedProgress<'a> = dyn FnMut(&str, usize, usize) -> Result<()> + 'a;

/// What was built: the head, the training set's embeddings as they came (not standardised:
/// for duplicates and outliers), and notes for the user (sets left unevaluated, cache hits).
pub struct BuiltHead {
    pub head: Head,
    pub train_embeddings: FeatureMatrix,
    pub notes: Vec<String>,
}

/// The head of `kind` on the embeddings of `p`'s sets from `source`. Evaluation sets whose
/// embeddings cannot be had (a precomputed file that does not cover them) are removed from
/// `p` with a note.
pub fn build_head(
    p: &mut Prepared,
    source: &EmbeddingSource,
    kind: HeadKind,
    lcfg: &LearnerConfig,
    cache: &EmbedCache,
    progress: &mut EmbedProgress<'_>,
) -> Result<BuiltHead> {
    let device = lcfg.device.device()?;
    let mut notes = Vec::new();
    let (features, train_embeddings, origin) = match source {
        EmbeddingSource::Backbone {
            kind: bk,
            weights,
            resolution,
        } => {
            let path = backbone::find_weights(*bk, weights.as_deref())?;
            let cfg = BackboneConfig {
                resolution: *resolution,
                device: device.clone(),
                ..Default::default()
            };
            let model = backbone::load(*bk, &path, &cfg)?;
            let tag = weights_tag(&path)?;
            let mut embed = |d: &Dataset, notes: &mut Vec<String>| -> Result<FeatureMatrix> {
                let c = cache.embeddings(d, model.as_ref(), &tag, &mut |done, total| {
                    progress(&d.name, done, total)
                })?;
                notes.extend(c.note);
                if c.hit {
                    notes.push(format!(
                        "{}: embeddings read from the cache {}",
                        d.name,
                        c.path.display()
                    ));
                }
                Ok(c.matrix)
            };
            let train = embed(&p.train, &mut notes)?;
            let mut f = Features::new(&p.train, train.clone())?;
            for d in [p.test.as_ref(), p.test2.as_ref()].into_iter().flatten() {
                f.add(d, embed(d, &mut notes)?)?;
            }
            let res = model.input().resolution;
            let origin = format!("{bk} {res}px embeddings ({})", model.engine_name());
            (f, train, origin)
        }
        EmbeddingSource::File { path, ids } => {
            let m = embeddings_file::read_matrix(path)?;
            let train = embeddings_file::align(&p.train, m.clone(), ids.as_deref(), path)?;
            let mut f = Features::new(&p.train, train.clone())?;
            for set in [&mut p.test, &mut p.test2] {
                let Some(d) = set.as_ref() else { continue };
                let aligned = match ids {
                    Some(_) => embeddings_file::align(d, m.clone(), ids.as_deref(), path).ok(),
                    None => None,
                };
                match aligned {
                    Some(a) => f.add(d, a)?,
                    None => {
                        notes.push(format!(
                            "{} ({} samples) is not evaluated: {} has no rows for it \
                             (list its ids in the --embedding-ids file)",
                            d.name,
                            d.len(),
                            path.display()
                        ));
                        *set = None;
                    }
                }
            }
            let name = path
                .file_name()
                .map_or_else(String::new, |n| n.to_string_lossy().into_owned());
            (f, train, format!("embeddings from {name}"))
        }
    };
    if p.train.num_classes() < 2 {
        return Err(Error::Config(
            "a head on embeddings needs a labelled set of at least 2 classes".into(),
        ));
    }
    let head = Head::new(
        lcfg.clone(),
        kind,
        Arc::new(features),
        p.train.num_classes(),
        device,
    )?
    .with_origin(origin);
    Ok(BuiltHead {
        head,
        train_embeddings,
        notes,
    })
}

/// The backbone and input resolution a run's head was trained on, read from the run's learner
/// description ("linear head on efficientnet-lite0 224px embeddings (...)", as [`build_head`]
/// names its origin); None for other learners.
pub fn backbone_of(description: &str) -> Option<(BackboneKind, usize)> {
    BackboneKind::ALL.into_iter().find_map(|k| {
        let marker = format!(" head on {} ", k.name());
        let at = description.find(&marker)? + marker.len();
        let (res, _) = description[at..].split_once("px embeddings")?;
        res.parse().ok().map(|r| (k, r))
    })
}

/// The head a run trained on EfficientNet-Lite0's embeddings (what the window's learner choice
/// "HEAD head on EfficientNet-Lite0" names), read from its learner description; None for a
/// model trained from scratch, a head on another backbone or on embeddings from a file.
pub fn lite0_head_of(description: &str) -> Option<HeadKind> {
    use crate::choice::Choice;
    backbone_of(description).filter(|(k, _)| *k == BackboneKind::EfficientNetLite0)?;
    HeadKind::ALL
        .iter()
        .copied()
        .find(|h| description.starts_with(&format!("{} head on ", h.name())))
}

/// The training embeddings of a reopened run whose head was trained on a backbone, from the
/// cache only (nothing is computed): `Ok(None)` when the run's learner was not a backbone head
/// or its entry is not (or no longer) in the cache; an error when its weights cannot be found
/// or loaded.
pub fn cached_run_embeddings(
    data: &Dataset,
    description: &str,
    cache: &EmbedCache,
) -> Result<Option<FeatureMatrix>> {
    let Some((kind, resolution)) = backbone_of(description) else {
        return Ok(None);
    };
    let path = backbone::find_weights(kind, None)?;
    let cfg = BackboneConfig {
        resolution: Some(resolution),
        ..Default::default()
    };
    let model = backbone::load(kind, &path, &cfg)?;
    cache.lookup(data, model.as_ref(), &weights_tag(&path)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_runs_backbone_is_read_from_its_description() {
        let d =
            "linear head on efficientnet-lite0 224px embeddings (fast CPU) (1280-d embeddings, \
                 10248 parameters, adamw, batch 128, lr 0.001)";
        assert_eq!(backbone_of(d), Some((BackboneKind::EfficientNetLite0, 224)));
        let d = "mlp head on resnet18 112px embeddings (candle) (512-d embeddings, hidden 256)";
        assert_eq!(backbone_of(d), Some((BackboneKind::ResNet18, 112)));
        for other in [
            "cnn (421642 parameters, adamw, batch 128, lr 0.001)",
            "linear head on embeddings from feats.npy (64-d embeddings)",
            "linear head on efficientnet-lite0 embeddings",
            "",
        ] {
            assert_eq!(backbone_of(other), None, "{other}");
            assert_eq!(lite0_head_of(other), None, "{other}");
        }
        // The window's learner choice: a head on Lite0 only.
        let lite0 = "mlp head on efficientnet-lite0 224px embeddings (fast CPU) (1280-d embeddings, hidden 256)";
        assert_eq!(lite0_head_of(lite0), Some(HeadKind::Mlp));
        assert_eq!(
            lite0_head_of(&lite0.replacen("mlp", "linear", 1)),
            Some(HeadKind::Linear)
        );
        assert_eq!(lite0_head_of(d), None, "a head on resnet18");
    }
}
