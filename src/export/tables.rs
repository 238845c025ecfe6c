//! The tables a run exports for people and scripts: `samples.csv` (one row per sample),
//! `clean.txt` (the ids to train on) and `flagged.txt` (the others, highest score first), both
//! following the user's decisions where there are some, `labels.csv`, and `image_issues.csv`
//! (the image-property checks of a loaded set).

use super::run_file::RunFile;
use super::run_relabels::{run_relabels, with_run_relabels};
use crate::data::quality::{ImageIssue, ImageIssues};
use crate::data::Dataset;
use crate::error::{Error, Result};
use crate::learner::ModelKind;

/// Quote a CSV field when needed.
pub(crate) fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

/// `image_issues.csv`: the samples of `data` with an image-property issue (every sample with
/// `all`; [`crate::data::quality`]), in the set's order: id, given class, the issues
/// (`;`-separated keys), every check's score (lower is worse; empty where a check does not
/// apply: the file checks on sets without file sizes) and its sets of exact and of near
/// duplicates, each named by the id of its first image (every member names the same); then
/// every file the loader skipped ([`Dataset::skipped`]), issue [`UNREADABLE`], no scores, its
/// path relative to the set's folder, its class folder and the reason in the last column
/// (empty on the other rows).
pub fn image_issues_csv(data: &Dataset, issues: &ImageIssues, all: bool) -> String {
    let scored: Vec<ImageIssue> = ImageIssue::ALL
        .into_iter()
        .filter(|&k| k != ImageIssue::Grey)
        .collect();
    let mut s = String::from("id,given,issues");
    for k in &scored {
        s.push_str(&format!(",{}_score", k.key()));
    }
    s.push_str(",exact_duplicate_set,near_duplicate_set,reason\n");
    for i in 0..issues.len().min(data.len()) {
        let found = issues.of(i);
        if found.is_empty() && !all {
            continue;
        }
        let keys: Vec<&str> = found.into_iter().map(ImageIssue::key).collect();
        s.push_str(&csv_field(data.id(i)));
        s.push(',');
        s.push_str(&csv_field(data.class_name(data.label(i))));
        s.push(',');
        s.push_str(&keys.join(";"));
        for &k in &scored {
            s.push(',');
            if let Some(v) = issues.score(i, k) {
                s.push_str(&format!("{v:.4}"));
            }
        }
        for exact in [true, false] {
            s.push(',');
            if let Some(first) = issues.set_id(i, exact) {
                s.push_str(&csv_field(data.id(first)));
            }
        }
        s.push_str(",\n");
    }
    let root = data.source.files_root();
    let root = root.as_deref();
    // An image folder's first folder is the class; a labels CSV's folders say nothing.
    let class_folders = matches!(data.source, crate::data::Source::ImageFolder { .. });
    for skipped in &data.skipped {
        // Named as the set's ids are (relative to its folder, '/'-separated), with the class
        // folder it lies in (none for a folder of the root itself).
        let (id, given) = match root.and_then(|r| skipped.path.strip_prefix(r).ok()) {
            Some(rel) => {
                let parts: Vec<String> = rel
                    .components()
                    .map(|c| c.as_os_str().to_string_lossy().into_owned())
                    .collect();
                let given = if class_folders && parts.len() > 1 {
                    parts[0].clone()
                } else {
                    String::new()
                };
                (parts.join("/"), given)
            }
            None => (skipped.path.to_string_lossy().into_owned(), String::new()),
        };
        s.push_str(&csv_field(&id));
        s.push(',');
        s.push_str(&csv_field(&given));
        s.push(',');
        s.push_str(UNREADABLE);
        s.push_str(&",".repeat(scored.len() + 3));
        s.push_str(&csv_field(&skipped.reason));
        s.push('\n');
    }
    s
}

/// The issue of a file the loader skipped in [`image_issues_csv`].
pub const UNREADABLE: &str = "unreadable";

/// `samples.csv`: one row per sample: path, given label, predicted, p(given), the loss of every
/// round, kept (by the verdict), the flag score (the verdict round's loss), how often it was
/// trimmed up to the verdict's round (that round by the verdict's cut), the verdict round's
/// spectral score when it has them and, with truth, true label and kind.
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
    let spectral = r.spectral.len() == d.len();
    if spectral {
        s.push_str(",spectral");
    }
    // The class the run itself gave a sample (`--relabel`, the clustering cut's repairs).
    let relabels = run_relabels(run, v.round);
    if relabels.is_some() {
        s.push_str(",run_relabel");
    }
    if run.truth.is_some() {
        s.push_str(",true_label,kind,bad");
    }
    s.push('\n');
    for i in 0..d.len() {
        s.push_str(&csv_field(&d.ids[i]));
        s.push(',');
        s.push_str(&csv_field(d.class_name(d.labels[i])));
        s.push(',');
        let generative = run.learner.model == ModelKind::Vae;
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
        if spectral {
            s.push_str(&format!(",{:.6}", r.spectral[i]));
        }
        if let Some(rl) = relabels {
            s.push(',');
            if let Some(q) = rl[i] {
                s.push_str(&csv_field(d.class_name(q)));
            }
        }
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

/// Refuse a name that would split a line of `file` (a run of an earlier build may hold one;
/// the image folder loader now skips such files).
fn check_line_safe(name: &str, file: &str) -> Result<()> {
    if name.contains(['\n', '\r', '\t']) {
        return Err(Error::Other(format!(
            "the name {name:?} holds a newline, carriage return or tab, which would break the \
             lines of {file}: rename it in the dataset and run again"
        )));
    }
    Ok(())
}

/// Whether sample `i` trains after the user's decisions: kept or relabelled by a decision, left
/// out by an exclusion, else as the verdict's cut says (`kept`).
fn trains(i: usize, kept: &[bool], decisions: Option<&crate::itlm::Decisions>) -> bool {
    use crate::itlm::Decision;
    match decisions.and_then(|d| d.get(i)) {
        Some(Decision::Keep | Decision::Relabel(_)) => true,
        Some(Decision::Exclude) => false,
        None => kept.get(i).copied().unwrap_or(true),
    }
}

/// Refuse decisions made for another number of samples than the run's.
pub(super) fn check_decisions(
    run: &RunFile,
    decisions: Option<&crate::itlm::Decisions>,
) -> Result<()> {
    match decisions {
        Some(d) if d.len() != run.dataset.len() => Err(Error::Other(format!(
            "the decisions are for {} samples, the run has {}",
            d.len(),
            run.dataset.len()
        ))),
        _ => Ok(()),
    }
}

/// `clean.txt`: the ids of the samples to train on, one per line, in dataset order: those the
/// verdict's cut keeps, and with `decisions`, the user's word over the cut's (a kept or
/// relabelled sample is in, an excluded one out; a relabelled sample's new class is in
/// `labels.csv`). The same samples as the clean copy holds.
pub fn clean_list(run: &RunFile, decisions: Option<&crate::itlm::Decisions>) -> Result<String> {
    let v = run
        .verdict()
        .ok_or_else(|| Error::Other("no finished round to export".into()))?;
    check_decisions(run, decisions)?;
    let overlay = with_run_relabels(run, v.round, decisions);
    let decisions = overlay.as_deref();
    let mut s = String::new();
    for (i, id) in run.dataset.ids.iter().enumerate() {
        if trains(i, &v.kept, decisions) {
            check_line_safe(id, "clean.txt")?;
            s.push_str(id);
            s.push('\n');
        }
    }
    Ok(s)
}

/// `flagged.txt`: the samples not in `clean.txt`, highest score first:
/// `id<TAB>score<TAB>given<TAB>predicted`, and with decisions a fifth column, `decision`
/// (`exclude`, or empty for a sample the cut trims that has no decision yet).
pub fn flagged_list(run: &RunFile, decisions: Option<&crate::itlm::Decisions>) -> Result<String> {
    let v = run
        .verdict()
        .ok_or_else(|| Error::Other("no finished round to export".into()))?;
    check_decisions(run, decisions)?;
    let overlay = with_run_relabels(run, v.round, decisions);
    let decisions = overlay.as_deref();
    let r = run
        .rounds
        .iter()
        .find(|r| r.round == v.round)
        .ok_or_else(|| Error::Other(format!("round {} is not in the run", v.round)))?;
    let d = &run.dataset;
    let mut idx: Vec<usize> = (0..d.len())
        .filter(|&i| !trains(i, &v.kept, decisions))
        .collect();
    idx.sort_by(|&a, &b| r.score[b].total_cmp(&r.score[a]).then(a.cmp(&b)));
    let mut s = String::from("# id\tscore\tgiven\tpredicted");
    s.push_str(if decisions.is_some() {
        "\tdecision\n"
    } else {
        "\n"
    });
    for c in &d.classes {
        check_line_safe(c, "flagged.txt")?;
    }
    for i in idx {
        check_line_safe(&d.ids[i], "flagged.txt")?;
        s.push_str(&format!(
            "{}\t{:.6}\t{}\t{}",
            d.ids[i],
            r.score[i],
            d.class_name(d.labels[i]),
            // A generative learner predicts no labels.
            if run.learner.model == ModelKind::Vae {
                ""
            } else {
                d.class_name(r.predicted[i])
            }
        ));
        if let Some(dec) = decisions {
            s.push('\t');
            s.push_str(dec.get(i).map_or("", |x| x.word()));
        }
        s.push('\n');
    }
    Ok(s)
}

/// The user's own columns of a run's labels CSV ([`crate::data::labels_csv::extra_columns`],
/// read again from the file), with the names a table of `ours` columns gives them (a name
/// that is one of ours gets `orig_` before it); empty for other sources, or when the file
/// can no longer be read.
pub(super) fn user_columns(
    run: &RunFile,
    ours: &[&str],
) -> (Vec<String>, crate::data::labels_csv::ExtraColumns) {
    let crate::data::Source::LabelsCsv { file } = &run.dataset.source else {
        return Default::default();
    };
    let Ok(extra) = crate::data::labels_csv::extra_columns(file, &run.dataset.columns) else {
        return Default::default();
    };
    let names = extra
        .names
        .iter()
        .map(|n| {
            if ours.iter().any(|o| o.eq_ignore_ascii_case(n)) {
                format!("orig_{n}")
            } else {
                n.clone()
            }
        })
        .collect();
    (names, extra)
}

/// The columns of [`labels_csv`] before the user's own.
const LABELS_COLUMNS: [&str; 7] = [
    "path", "label", "given", "decision", "score", "flagged", "by",
];

/// `labels.csv`, the corrected labels a training script reads next: one row per sample in
/// dataset order, `path,label,given,decision,score,flagged,by`, then the other columns of
/// the labels CSV the set was read from, as they were (the user's split, notes, ...): `label` is the label to train
/// with (the new one for a relabelled sample, empty for an excluded one), `given` the
/// dataset's, `decision` exclude / keep / relabel or empty (none), `score` the verdict round's
/// flag score, `flagged` 1 for a sample the verdict trims that has no decision (still flagged:
/// the cleaned folder leaves it out; a script that trains on what the cut trusts skips it),
/// `by` who decided: `user`, `run` (a relabel the run made itself, `--relabel` or the
/// clustering cut's repairs, that the user left undecided: the final model trained it so) or
/// empty.
pub fn labels_csv(run: &RunFile, user: &crate::itlm::Decisions) -> Result<String> {
    use crate::itlm::Decision;
    let v = run
        .verdict()
        .ok_or_else(|| Error::Other("no finished round to export".into()))?;
    let r = run
        .rounds
        .iter()
        .find(|r| r.round == v.round)
        .ok_or_else(|| Error::Other(format!("round {} is not in the run", v.round)))?;
    check_decisions(run, Some(user))?;
    if run.dataset.is_unlabelled() {
        return Err(Error::Other(
            "the run's set is unlabelled (a flat folder of images): there are no labels to \
             correct; clean.txt and flagged.txt follow the decisions"
                .into(),
        ));
    }
    let overlay = with_run_relabels(run, v.round, Some(user));
    let decisions = overlay.as_deref().unwrap_or(user);
    let d = &run.dataset;
    let (extra_names, extra) = user_columns(run, &LABELS_COLUMNS);
    let mut s = LABELS_COLUMNS.join(",");
    for n in &extra_names {
        s.push(',');
        s.push_str(&csv_field(n));
    }
    s.push('\n');
    for i in 0..d.len() {
        let given = d.class_name(d.labels[i]);
        let dec = decisions.get(i);
        let by = match (dec, user.get(i)) {
            (None, _) => "",
            (Some(_), Some(_)) => "user",
            (Some(_), None) => "run",
        };
        let label = match dec {
            Some(Decision::Exclude) => "",
            Some(Decision::Relabel(c)) => d.class_name(c),
            _ => given,
        };
        let flagged = dec.is_none() && !v.kept.get(i).copied().unwrap_or(true);
        s.push_str(&format!(
            "{},{},{},{},{:.6},{},{by}",
            csv_field(&d.ids[i]),
            csv_field(label),
            csv_field(given),
            dec.map_or("", |x| x.word()),
            r.score[i],
            u8::from(flagged)
        ));
        for value in extra.row(&d.ids[i]) {
            s.push(',');
            s.push_str(&csv_field(value));
        }
        s.push('\n');
    }
    Ok(s)
}
