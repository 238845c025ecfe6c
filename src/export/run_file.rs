//! The run file: a whole run (config, dataset identity, truth, every round's per-sample
//! record, the user's cut) in one versioned, checksummed binary file that the window reopens.
//!
//! Layout, version 21 (what this build writes; all integers little-endian):
//!
//! ```text
//! offset  size  field
//!      0     8  magic "ITLMRUN\n"
//!      8     4  version: u32 = 21
//!     12     8  body length in bytes: u64
//!     20     4  CRC-32 (IEEE, as in zlib and PNG) of the version's 4 bytes, then the
//!               body: u32 ([`checksum`]; versions 2 to 18: of the body alone)
//!     24     -  body: the `RunFile` encoded with postcard, then the sources of its evaluation
//!               sets (`DatasetInfo::eval_sources`, a postcard `Vec<Source>`), then one
//!               [`RoundExtras`] per round (a postcard `Vec`: the samples the round's
//!               selection relabelled and their quality, the samples the clustering cut
//!               held out and its report, the spectral scores, the transition matrix
//!               the round trained with, the classes a forward round folded before it
//!               trained again and the flips it took out), then the labels CSV
//!               columns the set was read with (`DatasetInfo::columns`, a postcard
//!               [`Columns`](crate::data::labels_csv::Columns); version 20 on; its
//!               images folder, `--images`, version 21 on),
//!               exactly `body length` bytes
//! ```
//!
//! The length and checksum make a truncated file, bytes appended after the body and bit flips
//! inside it (which postcard would often still decode into plausible numbers) clear errors.
//! Since version 19 the checksum covers the version too: a flipped version bit could
//! otherwise name an earlier layout that decodes the same bytes (version 18's, for a run
//! without co-teaching).
//! Reading (any version) is [`super::read`]; [`super::legacy`] says how earlier versions differ.

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::data::truth::TruthInfo;
use crate::data::{Dataset, ImageShape, Source};
use crate::error::{Error, Result};
use crate::itlm::{Config, RelabelQuality, RoundRecord};
use crate::learner::LearnerConfig;

/// First bytes of a run file.
pub const RUN_MAGIC: &[u8; 8] = b"ITLMRUN\n";
/// Version of the run file layout this build writes (it also reads versions 1 to 20).
pub const RUN_VERSION: u32 = 21;
/// Bytes before the body in a run file of version 2 or later.
pub(super) const HEADER_LEN: usize = 24;

/// The checksum a run file of `version` stores for `body`: the CRC-32 of the version's
/// little-endian bytes, then the body (version 19 on); of the body alone before.
pub fn checksum(version: u32, body: &[u8]) -> u32 {
    let mut h = crc32fast::Hasher::new();
    if version >= 19 {
        h.update(&version.to_le_bytes());
    }
    h.update(body);
    h.finalize()
}

/// What a run file needs of the dataset to be read without it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DatasetInfo {
    pub name: String,
    pub source: Source,
    pub classes: Vec<String>,
    pub shape: ImageShape,
    pub ids: Vec<String>,
    pub labels: Vec<u32>,
    /// Where the run's test and test-2 sets came from: no output may go inside them either.
    /// Stored after the rest of the body (run files of version 5), so not by serde here.
    #[serde(skip)]
    pub eval_sources: Vec<Source>,
    /// The columns a labels CSV set was read with where they were given (its test set's
    /// too): the run reloads its images with them. Stored after the round extras (run files
    /// of version 20), so not by serde here.
    #[serde(skip)]
    pub columns: crate::data::labels_csv::Columns,
}

impl DatasetInfo {
    /// What a run file stores of `d`; its source as the canonical absolute path, so the run
    /// file can be read (and its dataset guarded) from any working directory.
    pub fn of(d: &Dataset) -> Self {
        Self {
            name: d.name.clone(),
            source: absolute_source(&d.source),
            classes: d.classes.clone(),
            shape: d.shape,
            ids: d.ids().to_vec(),
            labels: d.labels().to_vec(),
            eval_sources: Vec::new(),
            columns: d.columns.clone(),
        }
    }

    /// The same, with the sources of the evaluation sets (test, test-2) the run used.
    pub fn with_eval<'a>(mut self, eval: impl IntoIterator<Item = &'a Dataset>) -> Self {
        self.eval_sources = eval
            .into_iter()
            .filter(|d| d.source != Source::Memory)
            .map(|d| absolute_source(&d.source))
            .collect();
        self
    }

    /// Every dataset folder the run read: training set first, then its evaluation sets, then
    /// the folder a labels CSV's images were read from (`--images`), as an image folder.
    pub fn sources(&self) -> Vec<Source> {
        let mut v: Vec<Source> = std::iter::once(&self.source)
            .chain(&self.eval_sources)
            .cloned()
            .collect();
        v.extend(images_source(&self.columns));
        v
    }

    pub fn len(&self) -> usize {
        self.ids.len()
    }

    /// Whether the run's set has no labels (a flat folder of images,
    /// [`crate::data::dataset::unlabelled`]).
    pub fn is_unlabelled(&self) -> bool {
        crate::data::dataset::unlabelled(&self.classes)
    }

    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }

    /// The name of class `c`, or "?" for a label outside the classes.
    pub fn class_name(&self, c: u32) -> &str {
        self.classes
            .get(c as usize)
            .map(|s| s.as_str())
            .unwrap_or("?")
    }
}

/// The folder a labels CSV's images were read from (`--images`), as a source no output may
/// go inside; None where they were read relative to the CSV.
pub fn images_source(columns: &crate::data::labels_csv::Columns) -> Option<Source> {
    columns
        .images
        .as_ref()
        .map(|root| Source::ImageFolder { root: root.clone() })
}

/// `s` with its path made absolute and canonical (see [`super::paths::resolve_path`]).
pub fn absolute_source(s: &Source) -> Source {
    use super::paths::resolve_path;
    match s {
        Source::ImageFolder { root } => Source::ImageFolder {
            root: resolve_path(root),
        },
        Source::Idx { images } => Source::Idx {
            images: resolve_path(images),
        },
        Source::Cifar { dir } => Source::Cifar {
            dir: resolve_path(dir),
        },
        Source::LabelsCsv { file } => Source::LabelsCsv {
            file: resolve_path(file),
        },
        Source::Memory => Source::Memory,
    }
}

/// The cut a user exports: which round's losses and which samples are kept.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Verdict {
    pub round: usize,
    pub tau: f64,
    pub kept: Vec<bool>,
}

/// How a run ended, or that it has not yet (a run file saved while it trains).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum RunStatus {
    /// Every round was trained.
    Finished,
    /// Stopped by the user (or a signal) after the rounds it holds.
    Stopped,
    /// Training failed (e.g. the loss diverged) after the rounds it holds; the reason.
    Failed(String),
    /// Saved while it was still training.
    InProgress,
}

impl RunStatus {
    /// The status of a run file of version 6 or earlier, which stored it as text ("finished",
    /// "stopped", "failed: ...", "in progress"); any other text is not a status an earlier
    /// build wrote (e.g. a newer file with its version field damaged).
    pub fn from_legacy(s: &str) -> std::result::Result<Self, String> {
        if s == "finished" {
            Ok(RunStatus::Finished)
        } else if let Some(m) = s.strip_prefix("failed: ") {
            Ok(RunStatus::Failed(m.to_string()))
        } else if s == "in progress" {
            Ok(RunStatus::InProgress)
        } else if s == "stopped" || s.starts_with("stopped: ") {
            Ok(RunStatus::Stopped)
        } else {
            Err(format!("unknown run status {s:?}"))
        }
    }
}

impl std::fmt::Display for RunStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RunStatus::Finished => f.write_str("finished"),
            RunStatus::Stopped => f.write_str("stopped"),
            RunStatus::Failed(m) => write!(f, "failed: {m}"),
            RunStatus::InProgress => f.write_str("in progress"),
        }
    }
}

/// Everything about a run: config, dataset identity, every round's per-sample record.
pub type RunFile = RunFileOf<Config>;

/// A run around a config, learner and status layout: today's [`Config`], [`LearnerConfig`] and
/// [`RunStatus`] ([`RunFile`]), or an earlier build's ([`legacy`]), which is all that differs
/// between the run file versions' bodies.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RunFileOf<C, L = LearnerConfig, S = RunStatus> {
    pub config: C,
    pub learner: L,
    pub learner_description: String,
    pub dataset: DatasetInfo,
    pub truth: Option<TruthInfo>,
    pub rounds: Vec<Arc<RoundRecord>>,
    pub status: S,
    pub verdict: Option<Verdict>,
    pub elapsed_secs: f64,
}

impl RunFile {
    /// The verdict to export: the explicit one, else the last round's selection.
    pub fn verdict(&self) -> Option<Verdict> {
        self.verdict.clone().or_else(|| {
            self.rounds.last().map(|r| Verdict {
                round: r.round,
                tau: r.tau,
                kept: r.kept.clone(),
            })
        })
    }

    pub fn to_bytes(&self) -> Result<Vec<u8>> {
        let encoding = |e: postcard::Error| Error::Other(format!("encoding the run: {e}"));
        let body = postcard::to_allocvec(self).map_err(encoding)?;
        let body = postcard::to_extend(&self.dataset.eval_sources, body).map_err(encoding)?;
        let body = postcard::to_extend(&self.round_extras(), body).map_err(encoding)?;
        let body = postcard::to_extend(&self.dataset.columns, body).map_err(encoding)?;
        let mut out = Vec::with_capacity(HEADER_LEN + body.len());
        out.extend_from_slice(RUN_MAGIC);
        out.extend_from_slice(&RUN_VERSION.to_le_bytes());
        out.extend_from_slice(&(body.len() as u64).to_le_bytes());
        out.extend_from_slice(&checksum(RUN_VERSION, &body).to_le_bytes());
        out.extend_from_slice(&body);
        Ok(out)
    }

    /// What each round stores after the body: its relabelled samples and their quality.
    pub(super) fn round_extras(&self) -> Vec<RoundExtras> {
        self.rounds.iter().map(|r| RoundExtras::of(r)).collect()
    }

    /// Put each round's [`RoundExtras`] back into its record; one per round.
    pub(super) fn set_round_extras(
        &mut self,
        extras: Vec<RoundExtras>,
    ) -> std::result::Result<(), String> {
        if extras.len() != self.rounds.len() {
            return Err(format!(
                "{} round extras for {} rounds",
                extras.len(),
                self.rounds.len()
            ));
        }
        for (r, x) in self.rounds.iter_mut().zip(extras) {
            let r = Arc::make_mut(r);
            r.relabelled = x.relabelled;
            r.metrics.relabel = x.relabel;
            r.held_out = x.held_out;
            r.clusters = x.clusters;
            r.spectral = x.spectral;
            r.transition = x.transition;
            r.metrics.estimated = x.estimated;
            r.metrics.unfolded = x.unfolded;
            r.metrics.unfolded_flips = x.unfolded_flips;
        }
        Ok(())
    }

    /// Internal consistency of a decoded run: everything indexed per sample covers every
    /// sample, labels name classes, the verdict's round is in the run.
    pub(super) fn check(&self) -> std::result::Result<(), String> {
        let d = &self.dataset;
        let n = d.len();
        if d.labels.len() != n {
            return Err("label count differs from sample count".into());
        }
        let k = d.classes.len();
        if let Some(l) = d.labels.iter().find(|&&l| l as usize >= k) {
            return Err(format!("label {l} but only {k} classes"));
        }
        for r in &self.rounds {
            if r.loss.len() != n
                || r.score.len() != n
                || r.kept.len() != n
                || r.predicted.len() != n
                || r.p_given.len() != n
            {
                return Err(format!("round {} does not cover every sample", r.round));
            }
            if !r.relabelled.is_empty() && r.relabelled.len() != n {
                return Err(format!(
                    "round {} relabels {} of {n} samples",
                    r.round,
                    r.relabelled.len()
                ));
            }
            if !r.spectral.is_empty() && r.spectral.len() != n {
                return Err(format!(
                    "round {} has spectral scores for {} of {n} samples",
                    r.round,
                    r.spectral.len()
                ));
            }
            let k = d.classes.len();
            if !r.transition.is_empty()
                && (r.transition.len() != k * k || r.transition.iter().any(|v| !v.is_finite()))
            {
                return Err(format!(
                    "round {} has a transition matrix of {} values for {k} classes",
                    r.round,
                    r.transition.len()
                ));
            }
            if !r.held_out.is_empty() && r.held_out.len() != n {
                return Err(format!(
                    "round {} holds out {} of {n} samples",
                    r.round,
                    r.held_out.len()
                ));
            }
            if let Some(l) = r.relabelled.iter().flatten().find(|&&l| l as usize >= k) {
                return Err(format!(
                    "round {} relabels to class {l} but only {k} classes",
                    r.round
                ));
            }
            if !r.probs.is_empty() && Some(r.probs.len()) != n.checked_mul(k) {
                return Err(format!(
                    "round {} has {} class probabilities for {n} samples of {k} classes",
                    r.round,
                    r.probs.len()
                ));
            }
            if let Some(g) = &r.generated {
                let s = g.shape;
                let len = [s.width, s.channels, g.count]
                    .iter()
                    .try_fold(s.height, |a, &b| a.checked_mul(b));
                if Some(g.pixels.len()) != len {
                    return Err(format!(
                        "round {}: generated images do not match their size",
                        r.round
                    ));
                }
            }
        }
        if let Some(t) = &self.truth {
            if t.bad.len() != n
                || (!t.true_label.is_empty() && t.true_label.len() != n)
                || (!t.kind.is_empty() && t.kind.len() != n)
            {
                return Err("ground truth does not cover every sample".into());
            }
        }
        if let Some(v) = &self.verdict {
            if v.kept.len() != n {
                return Err("verdict does not cover every sample".into());
            }
            if !self.rounds.iter().any(|r| r.round == v.round) {
                return Err(format!("the verdict's round {} is not in the run", v.round));
            }
        }
        Ok(())
    }
}

/// What a run file stores of each round after the body (version 10): the samples its selection
/// relabelled and how they fared against the truth ([`RoundRecord::relabelled`],
/// [`crate::itlm::RoundMetrics::relabel`]), the samples the clustering cut held out and its
/// report ([`RoundRecord::held_out`], [`RoundRecord::clusters`]), the spectral scores
/// ([`RoundRecord::spectral`]).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct RoundExtras {
    pub relabelled: Vec<Option<u32>>,
    pub relabel: Option<RelabelQuality>,
    pub held_out: Vec<bool>,
    pub clusters: Option<crate::itlm::ClusterReport>,
    /// Version 10: each sample's spectral score ([`RoundRecord::spectral`]).
    pub spectral: Vec<f32>,
    /// Version 11: the transition matrix the round trained with ([`RoundRecord::transition`]),
    /// and its cut's estimated precision and recall.
    pub transition: Vec<f32>,
    pub estimated: Option<(f64, f64)>,
    /// Version 16: the classes a forward round's model folded before the round trained again
    /// ([`crate::itlm::RoundMetrics::unfolded`]).
    pub unfolded: Vec<crate::itlm::Starved>,
    /// Version 18: the flips the fold check took out ([`crate::itlm::RoundMetrics::unfolded_flips`]).
    pub unfolded_flips: Vec<(u32, u32)>,
}

impl RoundExtras {
    /// What the file stores of `r` after the body (also how tests write a body in this
    /// layout for an earlier version).
    pub fn of(r: &RoundRecord) -> Self {
        RoundExtras {
            relabelled: r.relabelled.clone(),
            relabel: r.metrics.relabel,
            held_out: r.held_out.clone(),
            clusters: r.clusters.clone(),
            spectral: r.spectral.clone(),
            transition: r.transition.clone(),
            estimated: r.metrics.estimated,
            unfolded: r.metrics.unfolded.clone(),
            unfolded_flips: r.metrics.unfolded_flips.clone(),
        }
    }
}

/// Decode a postcard body that must be used up exactly.
pub(super) fn decode_whole<T: serde::de::DeserializeOwned>(
    body: &[u8],
) -> std::result::Result<T, String> {
    match postcard::take_from_bytes::<T>(body) {
        Ok((v, [])) => Ok(v),
        Ok((_, rest)) => Err(format!(
            "{} bytes left over after decoding the body",
            rest.len()
        )),
        Err(e) => Err(e.to_string()),
    }
}
