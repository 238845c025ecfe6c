//! Exports in the formats other tools read:
//!
//! - a cleanlab-style issues table, `label_issues.csv`: `path,is_label_issue,label_score,
//!   given_label,predicted_label`, one row per sample in dataset order, as cleanlab's
//!   `find_label_issues` / `Datalab.get_issues("label")` lay it out. `label_score` is p(given
//!   label) under the shown round's model (cleanlab's default "self_confidence" score: low =
//!   likely wrong); `is_label_issue` is flagged by the shown cut and not kept by the user, or
//!   excluded / relabelled by the user. With the image checks ([`crate::data::quality`]),
//!   CleanVision's columns follow for every check: `is_<key>_issue,<key>_score`
//!   (`is_dark_issue,dark_score`, ...; the score empty where a check has none), as Datalab's
//!   `get_issues()` lays out its image issues beside the label ones.
//! - a FiftyOne image-classification dataset (`fo.types.FiftyOneImageClassificationDataset`):
//!   `data/<uuid>.<ext>` (hard links to the originals, else symlinks, else copies; PNGs for
//!   IDX / CIFAR sets) and `labels.json` `{"classes": [...], "labels": {"<uuid>": target}}`
//!   where each target is `{"label": <given class index>, "confidence": p(given),
//!   "attributes": {...}}`, the dict form FiftyOne's `ImageClassificationSampleParser` reads.
//!   Its attributes become the `ground_truth` Classification's fields: `tags` (FiftyOne's
//!   label tags: trimmed (by the shown cut) / flagged (trimmed, no decision yet: still to
//!   review, as `labels.csv`'s `flagged`) / excluded / relabelled / kept_by_user) and `itlm_*`
//!   values (the shown round's loss, prediction, trimmed and flagged as the tags, and
//!   spectral score when it has them). The
//!   format has no sample tags, so the same tags also go to a sidecar `tags.json`
//!   (`{"<uuid>": [tags]}`) that `load_fiftyone.py` (written beside) applies as sample tags.
//!   With the image checks, each issue found is a tag too (`dark`, `near_duplicates`, ...:
//!   the keys of [`ImageIssue`]), and `itlm_image_issues` lists them.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use rayon::prelude::*;
use serde_json::{json, Value};

use super::atomic::{write_atomic, Overwrite, StagedDir};
use super::clean_copy::{link_one, Made};
use super::paths::{check_new_folder, check_outside_datasets};
use super::run_file::RunFile;
use super::shown::{shown, Shown};
use super::tables::check_decisions;
use crate::data::encode::encode_png;
use crate::data::quality::{ImageIssue, ImageIssues};
use crate::data::{Dataset, Source};
use crate::error::{Error, Result};
use crate::itlm::decisions::{Decision, Decisions};
use crate::learner::ModelKind;

/// The issues table's file name.
pub const LABEL_ISSUES_CSV: &str = "label_issues.csv";
/// The issues table's header.
pub const LABEL_ISSUES_HEADER: &str = "path,is_label_issue,label_score,given_label,predicted_label";

fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

fn check_classifier(run: &RunFile, what: &str) -> Result<()> {
    if run.learner.model == ModelKind::Vae {
        return Err(Error::Other(format!(
            "{what} needs predicted labels; this run's generative learner has none"
        )));
    }
    Ok(())
}

/// Whether sample `i` is a label issue: excluded or relabelled by the user, or flagged by the
/// shown cut and not kept by the user.
pub fn is_label_issue(sh: &Shown, decisions: Option<&Decisions>, i: usize) -> bool {
    match decisions.and_then(|d| d.get(i)) {
        Some(Decision::Keep) => false,
        Some(Decision::Exclude | Decision::Relabel(_)) => true,
        None => !sh.kept[i],
    }
}

/// The image checks of `run`'s samples, refused when they are another set's.
fn check_checks<'a>(
    run: &RunFile,
    checks: Option<&'a ImageIssues>,
) -> Result<Option<&'a ImageIssues>> {
    match checks {
        Some(c) if c.len() != run.dataset.len() => Err(Error::Other(format!(
            "the image checks cover {} images, the run {} samples",
            c.len(),
            run.dataset.len()
        ))),
        c => Ok(c),
    }
}

/// `label_issues.csv` of `run` at round `round` (None: the verdict's cut), with the image
/// checks' columns when `checks` (of the run's samples, in its order) are given.
pub fn label_issues_csv(
    run: &RunFile,
    round: Option<usize>,
    decisions: Option<&Decisions>,
    checks: Option<&ImageIssues>,
) -> Result<String> {
    check_classifier(run, "the issues table")?;
    check_decisions(run, decisions)?;
    let checks = check_checks(run, checks)?;
    let sh = shown(run, round)?;
    let overlay = super::run_relabels::with_run_relabels(run, sh.round(), decisions);
    let decisions = overlay.as_deref();
    let d = &run.dataset;
    let r = &sh.record;
    let mut s = String::with_capacity(64 * d.len());
    s.push_str(LABEL_ISSUES_HEADER);
    if checks.is_some() {
        for k in ImageIssue::ALL {
            s.push_str(&format!(",is_{0}_issue,{0}_score", k.key()));
        }
    }
    s.push('\n');
    for i in 0..d.len() {
        let p = r.p_given[i];
        s.push_str(&format!(
            "{},{},{},{},{}",
            csv_field(&d.ids[i]),
            if is_label_issue(&sh, decisions, i) {
                "True"
            } else {
                "False"
            },
            if p.is_finite() {
                format!("{p:.6}")
            } else {
                String::new()
            },
            csv_field(d.class_name(d.labels[i])),
            csv_field(d.class_name(r.predicted[i]))
        ));
        if let Some(c) = checks {
            for k in ImageIssue::ALL {
                s.push_str(if c.has(i, k) { ",True," } else { ",False," });
                if let Some(v) = c.score(i, k) {
                    s.push_str(&format!("{v:.4}"));
                }
            }
        }
        s.push('\n');
    }
    Ok(s)
}

/// Write `label_issues.csv` of `run` to `path` atomically (never inside a dataset folder).
pub fn write_label_issues(
    path: &Path,
    run: &RunFile,
    round: Option<usize>,
    decisions: Option<&Decisions>,
    checks: Option<&ImageIssues>,
    overwrite: Overwrite,
) -> Result<()> {
    check_outside_datasets(path, &run.dataset.sources())?;
    let csv = label_issues_csv(run, round, decisions, checks)?;
    write_atomic(path, csv.as_bytes(), overwrite)
}

/// `pred_probs.csv` of `run` at round `round` (None: the verdict's round): `path` and one
/// column per class (named as the classes, in the run's class order), each sample's class
/// probabilities under that round's model, in dataset order: cleanlab's `pred_probs`
/// (`pandas.read_csv(f).iloc[:, 1:].to_numpy()`). A round's model trained on the samples it
/// kept, so their probabilities are in-sample ([`pred_probs_in_sample`]); in a run with
/// `--folds K` the rounds between round 0 and the final one score every sample with models
/// that did not train on it (out-of-fold), which is what cleanlab asks for; the final round
/// trains one model on the whole kept set.
pub fn pred_probs_csv(run: &RunFile, round: Option<usize>) -> Result<String> {
    check_classifier(run, "pred_probs")?;
    let sh = shown(run, round)?;
    let d = &run.dataset;
    let k = d.classes.len();
    let r = &sh.record;
    if r.probs.len() != d.len() * k {
        return Err(Error::Other(format!(
            "round {} holds no class probabilities for every sample",
            r.round
        )));
    }
    let mut s = String::with_capacity(d.len() * (16 + 10 * k));
    s.push_str("path");
    for c in &d.classes {
        s.push(',');
        s.push_str(&csv_field(c));
    }
    s.push('\n');
    for i in 0..d.len() {
        s.push_str(&csv_field(&d.ids[i]));
        for p in r.probs_of(i, k) {
            s.push_str(&format!(",{:.6}", finite(*p).unwrap_or(0.0)));
        }
        s.push('\n');
    }
    Ok(s)
}

/// Whether [`pred_probs_csv`] of `round` (None: the verdict's) is in-sample: Some((its
/// round, the samples its model trained on, the run's rounds that are out-of-fold)) when its
/// model scored samples it trained on; None when every sample was scored by a model that did
/// not train on it (a cross-fitted round of `--folds K`).
pub fn pred_probs_in_sample(
    run: &RunFile,
    round: Option<usize>,
) -> Result<Option<(usize, usize, Vec<usize>)>> {
    let sh = shown(run, round)?;
    let r = sh.record.round;
    if run.config.models_at(r).cross_fitted {
        return Ok(None);
    }
    let out_of_fold = run
        .rounds
        .iter()
        .map(|x| x.round)
        .filter(|&x| run.config.models_at(x).cross_fitted)
        .collect();
    Ok(Some((r, sh.record.trained_on, out_of_fold)))
}

/// Write [`pred_probs_csv`] to `path` (refused inside the run's dataset folders).
pub fn write_pred_probs(
    path: &Path,
    run: &RunFile,
    round: Option<usize>,
    overwrite: Overwrite,
) -> Result<()> {
    check_outside_datasets(path, &run.dataset.sources())?;
    let csv = pred_probs_csv(run, round)?;
    write_atomic(path, csv.as_bytes(), overwrite)
}

/// What the FiftyOne export wrote.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FiftyOneReport {
    pub dst: PathBuf,
    pub samples: usize,
    pub hard_links: usize,
    pub symlinks: usize,
    pub copies: usize,
    /// PNGs written from IDX / CIFAR samples.
    pub written: usize,
    /// Samples tagged flagged (trimmed, no decision), excluded, relabelled.
    pub flagged: usize,
    pub excluded: usize,
    pub relabelled: usize,
}

impl std::fmt::Display for FiftyOneReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "FiftyOne dataset {}: {} samples ({} hard links, {} symlinks, {} copies, {} PNGs written); tagged {} flagged (trimmed, no decision), {} excluded, {} relabelled; load it with `python {}`",
            self.dst.display(),
            self.samples,
            self.hard_links,
            self.symlinks,
            self.copies,
            self.written,
            self.flagged,
            self.excluded,
            self.relabelled,
            self.dst.join(LOADER).display()
        )
    }
}

/// The sidecar of sample tags, and the script that applies them.
pub const TAGS_JSON: &str = "tags.json";
pub const LOADER: &str = "load_fiftyone.py";

/// A file name stem every file system accepts: ASCII letters, digits, `-` and `_`.
fn safe_stem(s: &str) -> String {
    let s: String = s
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .take(60)
        .collect();
    s
}

/// The uuid (file stem) of sample `i`: its index, zero-padded so that FiftyOne's sorted import
/// keeps the dataset order, then its file name made safe; unique by the index.
pub fn fiftyone_uuid(i: usize, n: usize, id: &str) -> String {
    let width = n.saturating_sub(1).max(1).to_string().len().max(6);
    let base = id.rsplit(['/', '\\', '#']).next().unwrap_or(id);
    let stem = base.rsplit_once('.').map(|(s, _)| s).unwrap_or(base);
    format!("{i:0width$}_{}", safe_stem(stem))
}

/// The extension of sample `i`'s file in `data/`: the original's (lower case) for an image
/// folder, `png` for the others.
fn extension(run: &RunFile, files: Option<&[PathBuf]>, i: usize) -> String {
    match &run.dataset.source {
        Source::ImageFolder { .. } | Source::LabelsCsv { .. } => files
            .and_then(|f| f.get(i))
            .map_or(Path::new(&run.dataset.ids[i]), PathBuf::as_path)
            .extension()
            .map(|e| e.to_string_lossy().to_lowercase())
            .filter(|e| !e.is_empty() && e.chars().all(|c| c.is_ascii_alphanumeric()))
            .unwrap_or_else(|| "img".into()),
        _ => "png".into(),
    }
}

/// The tags of sample `i`: `trimmed` by the shown cut, `flagged` when trimmed with no decision
/// yet (what `labels.csv`'s `flagged` column and the window call flagged: still to review),
/// and the decision.
fn tags(sh: &Shown, decisions: Option<&Decisions>, i: usize) -> Vec<&'static str> {
    let mut t = Vec::new();
    let decision = decisions.and_then(|d| d.get(i));
    if !sh.kept[i] {
        t.push("trimmed");
        if decision.is_none() {
            t.push("flagged");
        }
    }
    match decision {
        Some(Decision::Exclude) => t.push("excluded"),
        Some(Decision::Relabel(_)) => t.push("relabelled"),
        Some(Decision::Keep) => t.push("kept_by_user"),
        None => {}
    }
    t
}

/// `labels.json` and `tags.json` of the FiftyOne export, by uuid; with `checks`, each image
/// issue found is a tag too.
pub fn fiftyone_labels(
    run: &RunFile,
    round: Option<usize>,
    decisions: Option<&Decisions>,
    checks: Option<&ImageIssues>,
) -> Result<(Value, Value)> {
    check_classifier(run, "the FiftyOne export")?;
    check_decisions(run, decisions)?;
    let checks = check_checks(run, checks)?;
    let sh = shown(run, round)?;
    // The run's own relabels are relabels too (tagged so, and marked the run's).
    let user = decisions;
    let overlay = super::run_relabels::with_run_relabels(run, sh.round(), decisions);
    let decisions = overlay.as_deref();
    let d = &run.dataset;
    let r = &sh.record;
    let mut labels = serde_json::Map::new();
    let mut tag_map = serde_json::Map::new();
    for i in 0..d.len() {
        let uuid = fiftyone_uuid(i, d.len(), &d.ids[i]);
        let mut t = tags(&sh, decisions, i);
        let issues: Vec<&'static str> = checks
            .map(|c| c.of(i).into_iter().map(ImageIssue::key).collect())
            .unwrap_or_default();
        t.extend(&issues);
        let mut attrs = json!({
            "tags": t,
            "itlm_path": d.ids[i],
            "itlm_loss": finite(r.score[i]),
            "itlm_predicted": d.class_name(r.predicted[i]),
            "itlm_trimmed": !sh.kept[i],
            "itlm_flagged": t.contains(&"flagged"),
            "itlm_label_issue": is_label_issue(&sh, decisions, i),
        });
        if let Some(sp) = r.spectral_of(i) {
            attrs["itlm_spectral"] = json!(finite(sp));
        }
        if !issues.is_empty() {
            attrs["itlm_image_issues"] = json!(issues);
        }
        if let Some(dec) = decisions.and_then(|x| x.get(i)) {
            attrs["itlm_decision"] = json!(dec.word());
            if let Decision::Relabel(c) = dec {
                attrs["itlm_relabel"] = json!(d.class_name(c));
                attrs["itlm_decided_by"] = json!(if user.and_then(|u| u.get(i)).is_some() {
                    "user"
                } else {
                    "run"
                });
            }
        }
        let mut target = json!({ "label": d.labels[i], "attributes": attrs });
        if let Some(p) = finite(r.p_given[i]) {
            target["confidence"] = json!(p);
        }
        labels.insert(uuid.clone(), target);
        tag_map.insert(uuid, json!(t));
    }
    Ok((
        json!({ "classes": d.classes, "labels": Value::Object(labels) }),
        Value::Object(tag_map),
    ))
}

fn finite(v: f32) -> Option<f64> {
    // Through the decimal text, so that 0.1f32 is written 0.1, not 0.10000000149011612.
    v.is_finite()
        .then(|| format!("{v}").parse::<f64>().ok())
        .flatten()
}

/// Write the FiftyOne image-classification export of `run` into the new folder `dst` (empty
/// or absent, never inside a dataset folder the run read): `data/`, `labels.json`,
/// `tags.json`, `load_fiftyone.py`. `images` are the run's samples with pixels in the run's
/// order, needed for IDX and CIFAR sets (written as PNG); an image folder's files are linked.
/// `checks` (the image checks of the run's samples) add their issues as tags.
/// Built in a staging folder and renamed into place when complete; a sample whose file is
/// gone makes it an error, writing nothing.
pub fn write_fiftyone(
    run: &RunFile,
    round: Option<usize>,
    decisions: Option<&Decisions>,
    images: Option<&Dataset>,
    checks: Option<&ImageIssues>,
    dst: &Path,
) -> Result<FiftyOneReport> {
    let (labels, tag_map) = fiftyone_labels(run, round, decisions, checks)?;
    check_new_folder(dst)?;
    check_outside_datasets(dst, &run.dataset.sources())?;
    let d = &run.dataset;
    let n = d.len();
    let staged = StagedDir::new(dst)?;
    let data = staged.path().join("data");
    std::fs::create_dir_all(&data).map_err(|e| Error::io(&data, e))?;
    // Each sample's file (a labels CSV's id need not be its path: an images folder, an
    // extension added); None where ids name no file.
    let files: Option<Vec<PathBuf>> = match &d.source {
        Source::LabelsCsv { file } => Some(crate::data::labels_csv::sample_files(
            file, &d.columns, &d.ids,
        )),
        s => s
            .files_root()
            .map(|root| d.ids.iter().map(|id| root.join(id)).collect()),
    };
    let names: Vec<PathBuf> = (0..n)
        .map(|i| {
            data.join(format!(
                "{}.{}",
                fiftyone_uuid(i, n, &d.ids[i]),
                extension(run, files.as_deref(), i)
            ))
        })
        .collect();
    let mut report = FiftyOneReport {
        dst: dst.to_path_buf(),
        samples: n,
        ..Default::default()
    };
    match &files {
        Some(files) => {
            let made: Vec<Result<Made>> = (0..n)
                .into_par_iter()
                .map(|i| link_one(&files[i], &names[i]))
                .collect();
            let mut missing = Vec::new();
            for (i, m) in made.into_iter().enumerate() {
                match m? {
                    Made::Hard => report.hard_links += 1,
                    Made::Sym => report.symlinks += 1,
                    Made::Copy => report.copies += 1,
                    Made::Missing => missing.push(i),
                }
            }
            if let Some(&first) = missing.first() {
                return Err(Error::data(
                    dst,
                    format!(
                        "{} of the {n} files of the run's dataset are gone (first: {}); nothing was written",
                        missing.len(),
                        files[first].display()
                    ),
                ));
            }
        }
        None if d.source == Source::Memory => {
            return Err(Error::Other(
                "this run's samples were built in memory: there are no files to export".into(),
            ))
        }
        None => {
            let im = images
                .filter(|im| im.ids() == d.ids.as_slice())
                .ok_or_else(|| {
                    Error::Other(
                        "the run's dataset could not be read, so its images cannot be written"
                            .into(),
                    )
                })?;
            (0..n).into_par_iter().try_for_each(|i| {
                let png =
                    encode_png(im.image(i), im.shape).map_err(|m| Error::data(&names[i], m))?;
                std::fs::write(&names[i], png).map_err(|e| Error::io(&names[i], e))
            })?;
            report.written = n;
        }
    }
    let mut counts = BTreeMap::<&str, usize>::new();
    if let Value::Object(m) = &tag_map {
        for t in m.values().filter_map(|v| v.as_array()).flatten() {
            if let Some(t) = t.as_str() {
                *counts.entry(t).or_default() += 1;
            }
        }
    }
    report.flagged = counts.get("flagged").copied().unwrap_or(0);
    report.excluded = counts.get("excluded").copied().unwrap_or(0);
    report.relabelled = counts.get("relabelled").copied().unwrap_or(0);
    let json = |v: &Value, name: &str| -> Result<()> {
        let p = staged.path().join(name);
        let text = serde_json::to_string_pretty(v)
            .map_err(|e| Error::Other(format!("encoding {name}: {e}")))?;
        std::fs::write(&p, text).map_err(|e| Error::io(&p, e))
    };
    json(&labels, "labels.json")?;
    json(&tag_map, TAGS_JSON)?;
    let loader = staged.path().join(LOADER);
    std::fs::write(&loader, LOADER_PY).map_err(|e| Error::io(&loader, e))?;
    staged.commit()?;
    Ok(report)
}

/// The loader written beside the export: FiftyOne's own importer, then the sidecar's sample
/// tags.
const LOADER_PY: &str = r#""""Load this itlm-inspector export into FiftyOne, with its sample tags.

    python load_fiftyone.py [NAME]      (then: fo.launch_app(dataset))

labels.json is a FiftyOneImageClassificationDataset: the `ground_truth` field is the given
label, its `confidence` p(given label) under the model, its label tags (trimmed by the cut;
flagged: trimmed with no decision yet; excluded, relabelled, kept_by_user) and `itlm_*` attributes what itlm-inspector found. The format has no
sample tags, so tags.json carries them; this script applies them.
"""
import json
import os
import sys

import fiftyone as fo


def load(name=None, export_dir=None):
    export_dir = export_dir or os.path.dirname(os.path.abspath(__file__))
    dataset = fo.Dataset.from_dir(
        dataset_dir=export_dir,
        dataset_type=fo.types.FiftyOneImageClassificationDataset,
        name=name,
    )
    with open(os.path.join(export_dir, "tags.json")) as f:
        tags = json.load(f)
    for sample in dataset.iter_samples(autosave=True):
        uuid = os.path.splitext(os.path.basename(sample.filepath))[0]
        sample.tags = list(tags.get(uuid, []))
    return dataset


if __name__ == "__main__":
    ds = load(sys.argv[1] if len(sys.argv) > 1 else None)
    print(ds)
    print("sample tags:", ds.count_sample_tags())
"#;
