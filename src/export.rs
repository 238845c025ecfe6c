//! Everything written to disk: the versioned run file, `samples.csv`, `clean.txt` and
//! `flagged.txt`. Writes are atomic (temp file + rename), refuse to overwrite unless asked, and
//! never go inside the dataset folder.
//!
//! Run file layout, version 6 (what this build writes; all integers little-endian):
//!
//! ```text
//! offset  size  field
//!      0     8  magic "ITLMRUN\n"
//!      8     4  version: u32 = 6
//!     12     8  body length in bytes: u64
//!     20     4  CRC-32 (IEEE, as in zlib and PNG) of the body: u32
//!     24     -  body: the `RunFile` encoded with postcard, then the sources of its evaluation
//!               sets (`DatasetInfo::eval_sources`, a postcard `Vec<Source>`), exactly
//!               `body length` bytes
//! ```
//!
//! The length and checksum make a truncated file, bytes appended after the body and bit flips
//! inside it (which postcard would often still decode into plausible numbers) clear errors.
//! Version 5 is version 6 with a `Config` that had no `restore` (read as off); version 4 is
//! version 5 without the evaluation sources (read as none). Versions 2 and 3 have
//! the same header; their bodies are those of earlier builds: version 3's
//! `LearnerConfig` had no `optimizer` and `lr_schedule` (it was always AdamW at a constant rate), version 2's `Config` also had no
//! `folds` and `round0_models` (and, before fractional epochs, whole-number `epochs`). Version 1
//! (magic, version = 1, then a version-2 body, no length and no checksum) is still read too. Old
//! bodies are decoded through the [`legacy`] layouts and given what they ran with: AdamW,
//! `folds = 1`, `round0_models = 1`. Any other version is refused with its number.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::data::{Dataset, ImageShape, Source};
use crate::error::{Error, Result};
use crate::itlm::{Config, RoundRecord};
use crate::learner::LearnerConfig;

/// First bytes of a run file.
pub const RUN_MAGIC: &[u8; 8] = b"ITLMRUN\n";
/// Version of the run file layout this build writes (it also reads versions 1 to 5).
pub const RUN_VERSION: u32 = 6;
/// Bytes before the body in a run file of version 2 or later.
const HEADER_LEN: usize = 24;

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
}

impl DatasetInfo {
    pub fn of(d: &Dataset) -> Self {
        Self {
            name: d.name.clone(),
            source: d.source.clone(),
            classes: d.classes.clone(),
            shape: d.shape,
            ids: d.ids().to_vec(),
            labels: d.labels().to_vec(),
            eval_sources: Vec::new(),
        }
    }

    /// The same, with the sources of the evaluation sets (test, test-2) the run used.
    pub fn with_eval<'a>(mut self, eval: impl IntoIterator<Item = &'a Dataset>) -> Self {
        self.eval_sources = eval
            .into_iter()
            .map(|d| d.source.clone())
            .filter(|s| *s != Source::Memory)
            .collect();
        self
    }

    /// Every dataset folder the run read: training set first, then its evaluation sets.
    pub fn sources(&self) -> impl Iterator<Item = &Source> {
        std::iter::once(&self.source).chain(&self.eval_sources)
    }

    pub fn len(&self) -> usize {
        self.ids.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }

    fn class_name(&self, c: u32) -> &str {
        self.classes
            .get(c as usize)
            .map(|s| s.as_str())
            .unwrap_or("?")
    }
}

/// Ground truth as stored with a run (scoring only).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct TruthInfo {
    /// Truly bad samples.
    pub bad: Vec<bool>,
    /// True label per sample, when the truth file names it.
    pub true_label: Vec<Option<u32>>,
    /// Kind per sample: clean, random, systematic, backdoor, spurious.
    pub kind: Vec<String>,
}

/// The cut a user exports: which round's losses and which samples are kept.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Verdict {
    pub round: usize,
    pub tau: f64,
    pub kept: Vec<bool>,
}

/// Everything about a run: config, dataset identity, every round's per-sample record.
pub type RunFile = RunFileOf<Config>;

/// A run around a config and learner layout: today's [`Config`] and [`LearnerConfig`]
/// ([`RunFile`]), or an earlier build's ([`legacy`]), which is all that differs between the run
/// file versions' bodies.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RunFileOf<C, L = LearnerConfig> {
    pub config: C,
    pub learner: L,
    pub learner_description: String,
    pub dataset: DatasetInfo,
    pub truth: Option<TruthInfo>,
    pub rounds: Vec<Arc<RoundRecord>>,
    /// "finished", "stopped: ...", "failed: ...".
    pub status: String,
    pub verdict: Option<Verdict>,
    pub elapsed_secs: f64,
}

impl<C, L> RunFileOf<C, L> {
    /// The same run with its config mapped (old layouts to today's).
    pub fn map_config<D>(self, f: impl FnOnce(C) -> D) -> RunFileOf<D, L> {
        self.map(f, |l| l)
    }

    /// The same run with its config and learner settings mapped.
    pub fn map<D, M>(self, f: impl FnOnce(C) -> D, g: impl FnOnce(L) -> M) -> RunFileOf<D, M> {
        RunFileOf {
            config: f(self.config),
            learner: g(self.learner),
            learner_description: self.learner_description,
            dataset: self.dataset,
            truth: self.truth,
            rounds: self.rounds,
            status: self.status,
            verdict: self.verdict,
            elapsed_secs: self.elapsed_secs,
        }
    }
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
        let mut out = Vec::with_capacity(HEADER_LEN + body.len());
        out.extend_from_slice(RUN_MAGIC);
        out.extend_from_slice(&RUN_VERSION.to_le_bytes());
        out.extend_from_slice(&(body.len() as u64).to_le_bytes());
        out.extend_from_slice(&crc32fast::hash(&body).to_le_bytes());
        out.extend_from_slice(&body);
        Ok(out)
    }

    /// Decode a run file's bytes (`path` only names the file in errors). Never panics: a file
    /// that is not a run file, of another version, truncated, extended, altered or internally
    /// inconsistent gives an error that says which.
    pub fn from_bytes(path: &Path, bytes: &[u8]) -> Result<Self> {
        let damaged = |m: String| Error::data(path, format!("damaged run file: {m}"));
        if bytes.len() < RUN_MAGIC.len() || &bytes[..RUN_MAGIC.len()] != RUN_MAGIC {
            return Err(Error::data(path, "not an itlm-inspector run file"));
        }
        let Some(version) = bytes.get(8..12).and_then(|b| b.try_into().ok()) else {
            return Err(damaged("the file ends inside its header".into()));
        };
        let version = u32::from_le_bytes(version);
        let run: RunFile = match version {
            1 => legacy::decode(&bytes[12..]).map_err(damaged)?,
            2 => legacy::decode(Self::checked_body(bytes).map_err(damaged)?).map_err(damaged)?,
            3 => legacy::decode_v3(Self::checked_body(bytes).map_err(damaged)?).map_err(damaged)?,
            4 | 5 => {
                let (mut run, rest) = legacy::take_v4(Self::checked_body(bytes).map_err(damaged)?)
                    .map_err(damaged)?;
                run.dataset.eval_sources = if version == 4 {
                    decode_whole::<()>(rest).map_err(damaged)?;
                    Vec::new()
                } else {
                    decode_whole::<Vec<Source>>(rest).map_err(damaged)?
                };
                run
            }
            RUN_VERSION => {
                let body = Self::checked_body(bytes).map_err(damaged)?;
                let (mut run, rest) = postcard::take_from_bytes::<RunFile>(body)
                    .map_err(|e| damaged(e.to_string()))?;
                run.dataset.eval_sources = decode_whole::<Vec<Source>>(rest).map_err(damaged)?;
                run
            }
            _ => {
                let newer = if version > RUN_VERSION {
                    " (written by a newer itlm-inspector)"
                } else {
                    ""
                };
                return Err(Error::data(
                    path,
                    format!(
                        "run file version {version}; this build reads versions 1 to {RUN_VERSION}{newer}"
                    ),
                ));
            }
        };
        run.check().map_err(damaged)?;
        Ok(run)
    }

    /// The body of a version-2 or later file, after checking its length and checksum.
    fn checked_body(bytes: &[u8]) -> std::result::Result<&[u8], String> {
        let (Some(len), Some(crc)) = (
            bytes.get(12..20).and_then(|b| b.try_into().ok()),
            bytes.get(20..HEADER_LEN).and_then(|b| b.try_into().ok()),
        ) else {
            return Err("the file ends inside its header".into());
        };
        let (len, crc) = (u64::from_le_bytes(len), u32::from_le_bytes(crc));
        let body = &bytes[HEADER_LEN..];
        let have = body.len() as u64;
        if have < len {
            return Err(format!("truncated: the body has {have} of its {len} bytes"));
        }
        if have > len {
            return Err(format!(
                "{} unexpected bytes after the {len}-byte body",
                have - len
            ));
        }
        let actual = crc32fast::hash(body);
        if actual != crc {
            return Err(format!(
                "checksum mismatch (stored {crc:08x}, computed {actual:08x}): the file was altered or corrupted"
            ));
        }
        Ok(body)
    }

    /// Internal consistency of a decoded run: everything indexed per sample covers every
    /// sample, labels name classes, the verdict's round is in the run.
    fn check(&self) -> std::result::Result<(), String> {
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

    pub fn read(path: &Path) -> Result<Self> {
        if path.is_dir() {
            let inside = path.join(RUN_FILE);
            return Err(Error::data(
                path,
                if inside.is_file() {
                    format!("is a folder; the run file is {}", inside.display())
                } else {
                    "is a folder; give a run file (run.itlm)".to_string()
                },
            ));
        }
        let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
        Self::from_bytes(path, &bytes)
    }
}

/// Whether an existing file may be replaced.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Overwrite {
    Refuse,
    Allow,
}

/// Write `bytes` to `path` atomically: a temp file in the same folder, fsync, rename.
pub fn write_atomic(path: &Path, bytes: &[u8], overwrite: Overwrite) -> Result<()> {
    if overwrite == Overwrite::Refuse && path.exists() {
        return Err(Error::data(
            path,
            "already exists; pass --force (or confirm) to replace it",
        ));
    }
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(format!(".{name}.{}.tmp", std::process::id()));
    let result = (|| {
        let mut f = std::fs::File::create(&tmp).map_err(|e| Error::io(&tmp, e))?;
        f.write_all(bytes).map_err(|e| Error::io(&tmp, e))?;
        f.sync_all().map_err(|e| Error::io(&tmp, e))?;
        std::fs::rename(&tmp, path).map_err(|e| Error::io(path, e))
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

/// Refuse output locations inside any of the dataset folders a run read (training, test and
/// test-2 sets: [`DatasetInfo::sources`]).
pub fn check_outside_datasets<'a>(
    out: &Path,
    sources: impl IntoIterator<Item = &'a Source>,
) -> Result<()> {
    sources
        .into_iter()
        .try_for_each(|s| check_outside_dataset(out, s))
}

/// Refuse output locations inside the dataset folder.
pub fn check_outside_dataset(out: &Path, source: &Source) -> Result<()> {
    let root = match source {
        Source::ImageFolder { root } => root.clone(),
        // A bare file name ("train-images-idx3-ubyte") lives in the current folder.
        Source::Idx { images } => match images.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        },
        Source::Cifar { dir } => dir.clone(),
        Source::Memory => return Ok(()),
    };
    if crate::outputs::is_inside(out, &root) {
        return Err(Error::data(
            out,
            format!(
                "is inside the dataset folder {}; itlm-inspector never writes there",
                crate::outputs::resolve_path(&root).display()
            ),
        ));
    }
    Ok(())
}

/// Quote a CSV field when needed.
fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

/// `samples.csv`: one row per sample: path, given label, predicted, p(given), the loss of every
/// round, kept (by the verdict), the flag score (the verdict round's loss), how often it was
/// trimmed up to the verdict's round (that round by the verdict's cut) and, with truth, true
/// label and kind.
pub fn samples_csv(run: &RunFile) -> Result<String> {
    let v = run
        .verdict()
        .ok_or_else(|| Error::Other("no finished round to export".into()))?;
    let r = run
        .rounds
        .iter()
        .find(|r| r.round == v.round)
        .ok_or_else(|| Error::Other(format!("round {} is not in the run", v.round)))?;
    let d = &run.dataset;
    let mut s = String::from("path,given,predicted,p_given");
    for rr in &run.rounds {
        s.push_str(&format!(",loss_round{}", rr.round));
    }
    s.push_str(",kept,score,times_trimmed");
    if run.truth.is_some() {
        s.push_str(",true_label,kind,bad");
    }
    s.push('\n');
    for i in 0..d.len() {
        s.push_str(&csv_field(&d.ids[i]));
        s.push(',');
        s.push_str(&csv_field(d.class_name(d.labels[i])));
        s.push(',');
        let generative = run.learner.model == crate::learner::ModelKind::Vae;
        s.push_str(&csv_field(if generative {
            ""
        } else {
            d.class_name(r.predicted[i])
        }));
        // A generative learner has no p(given label): an empty field, not NaN.
        let p = r.p_given[i];
        if generative || p.is_nan() {
            s.push(',');
        } else {
            s.push_str(&format!(",{p:.6}"));
        }
        for rr in &run.rounds {
            s.push_str(&format!(",{:.6}", rr.loss[i]));
        }
        // Rounds up to the verdict's: the earlier ones as they ran, that one as re-cut.
        let trimmed = crate::itlm::record::times_trimmed(&run.rounds, i, v.round, v.kept[i]);
        s.push_str(&format!(
            ",{},{:.6},{trimmed}",
            u8::from(v.kept[i]),
            r.score[i]
        ));
        if let Some(t) = &run.truth {
            let tl = t
                .true_label
                .get(i)
                .copied()
                .flatten()
                .map(|c| d.class_name(c).to_string());
            s.push(',');
            s.push_str(&csv_field(&tl.unwrap_or_default()));
            s.push(',');
            s.push_str(&csv_field(t.kind.get(i).map(|k| k.as_str()).unwrap_or("")));
            s.push_str(&format!(",{}", u8::from(t.bad[i])));
        }
        s.push('\n');
    }
    Ok(s)
}

/// `clean.txt`: the kept sample ids, one per line, in dataset order.
pub fn clean_list(run: &RunFile) -> Result<String> {
    let v = run
        .verdict()
        .ok_or_else(|| Error::Other("no finished round to export".into()))?;
    let mut s = String::new();
    for (i, id) in run.dataset.ids.iter().enumerate() {
        if v.kept[i] {
            s.push_str(id);
            s.push('\n');
        }
    }
    Ok(s)
}

/// `flagged.txt`: trimmed samples, highest score first: `id<TAB>score<TAB>given<TAB>predicted`.
pub fn flagged_list(run: &RunFile) -> Result<String> {
    let v = run
        .verdict()
        .ok_or_else(|| Error::Other("no finished round to export".into()))?;
    let r = run
        .rounds
        .iter()
        .find(|r| r.round == v.round)
        .ok_or_else(|| Error::Other(format!("round {} is not in the run", v.round)))?;
    let d = &run.dataset;
    let mut idx: Vec<usize> = (0..d.len()).filter(|&i| !v.kept[i]).collect();
    idx.sort_by(|&a, &b| r.score[b].total_cmp(&r.score[a]).then(a.cmp(&b)));
    let mut s = String::from("# id\tscore\tgiven\tpredicted\n");
    for i in idx {
        s.push_str(&format!(
            "{}\t{:.6}\t{}\t{}\n",
            d.ids[i],
            r.score[i],
            d.class_name(d.labels[i]),
            // A generative learner predicts no labels.
            if run.learner.model == crate::learner::ModelKind::Vae {
                ""
            } else {
                d.class_name(r.predicted[i])
            }
        ));
    }
    Ok(s)
}

/// Names of the files [`write_all`] writes.
pub const RUN_FILE: &str = "run.itlm";
pub const SAMPLES_CSV: &str = "samples.csv";
pub const CLEAN_TXT: &str = "clean.txt";
pub const FLAGGED_TXT: &str = "flagged.txt";

/// Write the run file, samples.csv, clean.txt and flagged.txt into `dir` (created if needed).
/// Checks every target before writing any, so a refusal leaves nothing half-written.
pub fn write_all(dir: &Path, run: &RunFile, overwrite: Overwrite) -> Result<Vec<PathBuf>> {
    check_outside_datasets(dir, run.dataset.sources())?;
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    let files = [RUN_FILE, SAMPLES_CSV, CLEAN_TXT, FLAGGED_TXT].map(|f| dir.join(f));
    if overwrite == Overwrite::Refuse {
        if let Some(p) = files.iter().find(|p| p.exists()) {
            return Err(Error::data(
                p,
                "already exists; pass --force (or confirm) to replace it",
            ));
        }
    }
    let contents = [
        run.to_bytes()?,
        samples_csv(run)?.into_bytes(),
        clean_list(run)?.into_bytes(),
        flagged_list(run)?.into_bytes(),
    ];
    for (p, c) in files.iter().zip(contents) {
        write_atomic(p, &c, Overwrite::Allow)?;
    }
    Ok(files.to_vec())
}

/// Decode a postcard body that must be used up exactly.
fn decode_whole<T: serde::de::DeserializeOwned>(body: &[u8]) -> std::result::Result<T, String> {
    match postcard::take_from_bytes::<T>(body) {
        Ok((v, [])) => Ok(v),
        Ok((_, rest)) => Err(format!(
            "{} bytes left over after decoding the body",
            rest.len()
        )),
        Err(e) => Err(e.to_string()),
    }
}

/// The bodies written by earlier builds (run file versions 1 to 5), decoded into today's
/// [`RunFile`]. Postcard is not self-describing, so each old `Config` and `LearnerConfig` layout
/// is spelled out.
pub mod legacy {
    use serde::{Deserialize, Serialize};

    use super::{decode_whole, RunFile, RunFileOf};
    use crate::itlm::{Config, LossAggregate, Selection, TauSchedule};
    use crate::learner::{DeviceChoice, LearnerConfig, LrSchedule, ModelKind, OptimizerKind};

    /// `LearnerConfig` before the optimizer choice (versions 1 to 3): AdamW at a constant rate.
    #[derive(Clone, Debug, Serialize, Deserialize)]
    pub struct LearnerNoOptimizer {
        pub model: ModelKind,
        pub batch_size: usize,
        pub score_batch_size: usize,
        pub lr: f64,
        pub weight_decay: f64,
        pub device: DeviceChoice,
    }

    impl From<LearnerNoOptimizer> for LearnerConfig {
        fn from(l: LearnerNoOptimizer) -> Self {
            LearnerConfig {
                model: l.model,
                batch_size: l.batch_size,
                score_batch_size: l.score_batch_size,
                lr: l.lr,
                weight_decay: l.weight_decay,
                device: l.device,
                optimizer: OptimizerKind::Adamw,
                lr_schedule: LrSchedule::Constant,
            }
        }
    }

    impl From<&LearnerConfig> for LearnerNoOptimizer {
        /// Today's learner settings in the old layout, the optimizer dropped (for tests and
        /// fixtures).
        fn from(l: &LearnerConfig) -> Self {
            LearnerNoOptimizer {
                model: l.model,
                batch_size: l.batch_size,
                score_batch_size: l.score_batch_size,
                lr: l.lr,
                weight_decay: l.weight_decay,
                device: l.device,
            }
        }
    }

    /// `Config` before cross-fitting (`folds`), with epochs of type `E`: `f64` once fractional
    /// epochs came ([`ConfigNoFolds`]), `usize` before ([`ConfigWholeEpochs`]).
    #[derive(Clone, Debug, Serialize, Deserialize)]
    pub struct OldConfig<E> {
        pub tau: f64,
        pub rounds: usize,
        pub epochs: E,
        pub round0_epochs: Option<f64>,
        pub final_epochs: usize,
        pub select: Selection,
        pub schedule: TauSchedule,
        pub aggregate: LossAggregate,
        pub reinit: bool,
        pub seed: u64,
    }

    pub type ConfigNoFolds = OldConfig<f64>;
    pub type ConfigWholeEpochs = OldConfig<usize>;

    impl<E> OldConfig<E> {
        /// The same config with its epochs converted.
        pub fn with_epochs<F>(self, f: impl FnOnce(E) -> F) -> OldConfig<F> {
            let OldConfig {
                tau,
                rounds,
                epochs,
                round0_epochs,
                final_epochs,
                select,
                schedule,
                aggregate,
                reinit,
                seed,
            } = self;
            OldConfig {
                epochs: f(epochs),
                tau,
                rounds,
                round0_epochs,
                final_epochs,
                select,
                schedule,
                aggregate,
                reinit,
                seed,
            }
        }
    }

    impl From<ConfigNoFolds> for Config {
        /// Old runs did not cross-fit nor average round 0: `folds = 1`, `round0_models = 1`.
        fn from(c: ConfigNoFolds) -> Self {
            Config {
                tau: c.tau,
                rounds: c.rounds,
                epochs: c.epochs,
                round0_epochs: c.round0_epochs,
                final_epochs: c.final_epochs,
                select: c.select,
                schedule: c.schedule,
                aggregate: c.aggregate,
                reinit: c.reinit,
                folds: 1,
                round0_models: 1,
                seed: c.seed,
                restore: false,
            }
        }
    }

    impl From<ConfigWholeEpochs> for Config {
        fn from(c: ConfigWholeEpochs) -> Self {
            c.with_epochs(|e| e as f64).into()
        }
    }

    impl From<&Config> for ConfigNoFolds {
        /// Today's config in the old layout, `folds` and `round0_models` dropped (what an earlier build would have
        /// written; for tests and fixtures).
        fn from(c: &Config) -> Self {
            let Config {
                tau,
                rounds,
                epochs,
                round0_epochs,
                final_epochs,
                select,
                schedule,
                aggregate,
                reinit,
                folds: _,
                round0_models: _,
                seed,
                restore: _,
            } = c.clone();
            OldConfig {
                tau,
                rounds,
                epochs,
                round0_epochs,
                final_epochs,
                select,
                schedule,
                aggregate,
                reinit,
                seed,
            }
        }
    }

    /// `Config` of versions 3 to 5: before [`Config::restore`] (runs did not restore).
    #[derive(Clone, Debug, Serialize, Deserialize)]
    pub struct ConfigNoRestore {
        pub tau: f64,
        pub rounds: usize,
        pub epochs: f64,
        pub round0_epochs: Option<f64>,
        pub final_epochs: usize,
        pub select: Selection,
        pub schedule: TauSchedule,
        pub aggregate: LossAggregate,
        pub reinit: bool,
        pub folds: usize,
        pub round0_models: usize,
        pub seed: u64,
    }

    impl From<ConfigNoRestore> for Config {
        fn from(c: ConfigNoRestore) -> Self {
            Config {
                tau: c.tau,
                rounds: c.rounds,
                epochs: c.epochs,
                round0_epochs: c.round0_epochs,
                final_epochs: c.final_epochs,
                select: c.select,
                schedule: c.schedule,
                aggregate: c.aggregate,
                reinit: c.reinit,
                folds: c.folds,
                round0_models: c.round0_models,
                seed: c.seed,
                restore: false,
            }
        }
    }

    impl From<&Config> for ConfigNoRestore {
        /// Today's config in the layout of versions 3 to 5, `restore` dropped (for tests and
        /// fixtures).
        fn from(c: &Config) -> Self {
            ConfigNoRestore {
                tau: c.tau,
                rounds: c.rounds,
                epochs: c.epochs,
                round0_epochs: c.round0_epochs,
                final_epochs: c.final_epochs,
                select: c.select,
                schedule: c.schedule,
                aggregate: c.aggregate,
                reinit: c.reinit,
                folds: c.folds,
                round0_models: c.round0_models,
                seed: c.seed,
            }
        }
    }

    /// A version-1 or -2 body: the fractional-epoch layout, else the whole-number one. A body
    /// that decodes under a layout but fails the run's consistency check tries the next.
    pub fn decode(body: &[u8]) -> std::result::Result<RunFile, String> {
        let first = decode_whole::<RunFileOf<ConfigNoFolds, LearnerNoOptimizer>>(body)
            .map(|r| r.map(Config::from, LearnerConfig::from))
            .and_then(|r| r.check().map(|()| r));
        match first {
            Ok(r) => Ok(r),
            Err(e) => decode_whole::<RunFileOf<ConfigWholeEpochs, LearnerNoOptimizer>>(body)
                .map(|r| r.map(Config::from, LearnerConfig::from))
                .and_then(|r| r.check().map(|()| r))
                .map_err(|_| e),
        }
    }

    /// A version-3 body: the config without `restore`, the learner settings without the
    /// optimizer.
    pub fn decode_v3(body: &[u8]) -> std::result::Result<RunFile, String> {
        decode_whole::<RunFileOf<ConfigNoRestore, LearnerNoOptimizer>>(body)
            .map(|r| r.map(Config::from, LearnerConfig::from))
    }

    /// A version-4 or -5 body (with the evaluation sources after it, version 5): the config
    /// without `restore`. Returns the run and the bytes after it.
    pub fn take_v4(body: &[u8]) -> std::result::Result<(RunFile, &[u8]), String> {
        postcard::take_from_bytes::<RunFileOf<ConfigNoRestore>>(body)
            .map(|(r, rest)| (r.map_config(Config::from), rest))
            .map_err(|e| e.to_string())
    }
}
