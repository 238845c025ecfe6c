//! The label-health summary of a run's shown cut ([`crate::itlm::health`]) as the outputs
//! carry it: `health.csv` in every output set, the lines `run` and `export` print, and the
//! report's section (which renders its own table).

use std::fmt::Write as _;

use super::run_file::RunFile;
use super::shown::Shown;
use super::tables::csv_field;
use crate::error::Result;
use crate::itlm::{Health, NotLearned};
use crate::learner::ModelKind;

/// The file name of the summary in an output set.
pub const HEALTH_CSV: &str = "health.csv";

/// Classes and pairs the printed summary lists (health.csv and the report have them all).
const PRINTED_CLASSES: usize = 10;
const PRINTED_PAIRS: usize = 5;

/// The summary of `sh`, a cut of `run`; a generative learner's names no predicted class.
pub fn of_shown(run: &RunFile, sh: &Shown) -> Health {
    let predicts = run.learner.model != ModelKind::Vae && !run.dataset.is_unlabelled();
    crate::itlm::health(
        &run.dataset.labels,
        predicts.then_some(sh.record.predicted.as_slice()),
        &sh.kept,
        run.dataset.classes.len(),
    )
}

/// The summary of `run`'s verdict.
pub fn of_run(run: &RunFile) -> Result<Health> {
    Ok(of_shown(run, &super::shown::shown(run, None)?))
}

/// The caveat of a summary whose model barely learned the labels ([`Health::not_learned`]),
/// in one sentence (the report, health.csv's `note`, `run`'s and `export`'s lines).
pub fn not_learned_words(nl: &NotLearned) -> String {
    format!(
        "the final model barely learned the labels: it agrees with {:.1}% of the labels of the kept \
         samples, no better than always answering their largest class would ({:.1}%), so which \
         samples it flags says little about their labels",
        nl.agreement * 100.0,
        nl.largest_class * 100.0
    )
}

/// `health.csv`: `section,class,predicted,samples,flagged,share,predicted_count,note`. One
/// `overall` row (every sample; `predicted_count`: the flagged predicted as another class than
/// their label; `note`: empty, or the caveat when the final model barely learned the labels,
/// [`not_learned_words`]: then the flagged figures mean little); a `class` row per class, worst
/// first (`predicted`: the class most of its flagged samples are predicted as,
/// `predicted_count` how many); a `pair` row per given -> predicted pair most often among the
/// flagged (`class` given, `flagged` and `predicted_count` the pair's count, `share` over the
/// given class's samples). Shares are fractions (0 to 1); `note` is empty on every row but
/// the overall one, so that the file loads as one table (`pandas.read_csv`).
pub fn health_csv(run: &RunFile, h: &Health) -> String {
    let name = |c: usize| csv_field(run.dataset.class_name(c as u32));
    let mut s =
        String::from("section,class,predicted,samples,flagged,share,predicted_count,note\n");
    let _ = writeln!(
        s,
        "overall,,,{},{},{:.4},{},{}",
        h.samples,
        h.flagged,
        h.flagged_share(),
        h.flagged_disagreeing
            .map_or(String::new(), |d| d.to_string()),
        h.not_learned
            .map_or(String::new(), |nl| csv_field(&not_learned_words(&nl)))
    );
    for c in &h.classes {
        let (p, pc) = c
            .predicted
            .map_or((String::new(), String::new()), |(p, n)| {
                (name(p), n.to_string())
            });
        let _ = writeln!(
            s,
            "class,{},{p},{},{},{:.4},{pc},",
            name(c.class),
            c.samples,
            c.flagged,
            c.flagged_share()
        );
    }
    for p in &h.pairs {
        let samples = h
            .classes
            .iter()
            .find(|c| c.class == p.given)
            .map_or(0, |c| c.samples);
        let _ = writeln!(
            s,
            "pair,{},{},{samples},{},{:.4},{},",
            name(p.given),
            name(p.predicted),
            p.count,
            p.share,
            p.count
        );
    }
    s
}

/// A percentage as the summary prints it: whole percents, one decimal under 10%.
fn pct(x: f64) -> String {
    let p = x * 100.0;
    if p > 0.0 && p < 10.0 {
        format!("{p:.1}%")
    } else {
        format!("{p:.0}%")
    }
}

/// What the class's flagged samples are mostly predicted as, in words.
pub fn predicted_words(run: &RunFile, c: &crate::itlm::ClassHealth) -> String {
    match c.predicted {
        Some((p, n)) if p == c.class => {
            format!(
                "mostly predicted as labelled ({n} of {}: hard, not mislabelled)",
                c.flagged
            )
        }
        Some((p, n)) => format!(
            "mostly predicted {} ({n} of {})",
            run.dataset.class_name(p as u32),
            c.flagged
        ),
        None => String::new(),
    }
}

/// The summary in lines for a terminal: the overall figure (with the caveat when the final
/// model barely learned the labels), the worst classes, the pairs most often confused among
/// the flagged.
pub fn health_lines(run: &RunFile, h: &Health) -> Vec<String> {
    let mut lines = vec![format!(
        "label health: {} of {} not flagged ({} flagged{})",
        pct(h.health()),
        crate::plural(h.samples, "sample"),
        h.flagged,
        h.flagged_disagreeing.map_or(String::new(), |d| format!(
            ", {d} of them predicted as another class than their label"
        ))
    )];
    if let Some(nl) = &h.not_learned {
        lines.push(format!(
            "  caveat: {}; train longer (--epochs, --final-epochs) or on smaller batches \
             (--batch-size)",
            not_learned_words(nl)
        ));
    }
    if h.flagged == 0 || run.dataset.is_unlabelled() {
        return lines;
    }
    lines.push("  per class, worst first:".into());
    for c in h.classes.iter().take(PRINTED_CLASSES) {
        let what = predicted_words(run, c);
        lines.push(format!(
            "    {}: {}, {} flagged ({}){}",
            run.dataset.class_name(c.class as u32),
            crate::plural(c.samples, "sample"),
            c.flagged,
            pct(c.flagged_share()),
            if what.is_empty() {
                what
            } else {
                format!(", {what}")
            }
        ));
    }
    if h.classes.len() > PRINTED_CLASSES {
        lines.push(format!(
            "    ... {} more classes in {HEALTH_CSV}",
            h.classes.len() - PRINTED_CLASSES
        ));
    }
    if !h.pairs.is_empty() {
        lines.push("  given -> predicted, most often among the flagged:".into());
        for p in h.pairs.iter().take(PRINTED_PAIRS) {
            let given = run.dataset.class_name(p.given as u32);
            lines.push(format!(
                "    {given} -> {}: {} ({} of {given})",
                run.dataset.class_name(p.predicted as u32),
                p.count,
                pct(p.share)
            ));
        }
        if h.pairs.len() > PRINTED_PAIRS {
            lines.push(format!(
                "    ... {} more pairs in {HEALTH_CSV}",
                h.pairs.len() - PRINTED_PAIRS
            ));
        }
    }
    lines
}

/// The summary as JSON (`run --json`'s `health`): classes and pairs named.
pub fn health_json(run: &RunFile, h: &Health) -> serde_json::Value {
    let name = |c: usize| run.dataset.class_name(c as u32).to_string();
    serde_json::json!({
        "samples": h.samples,
        "flagged": h.flagged,
        "health": h.health(),
        "flagged_predicted_other": h.flagged_disagreeing,
        // null, or the final model's agreement with the kept samples' labels and what always
        // answering their largest class gives: the flagged figures mean little then.
        "not_learned": h.not_learned.map(|nl| serde_json::json!({
            "agreement": nl.agreement,
            "largest_class": nl.largest_class,
            "note": not_learned_words(&nl),
        })),
        "classes": h.classes.iter().map(|c| serde_json::json!({
            "class": name(c.class),
            "samples": c.samples,
            "flagged": c.flagged,
            "flagged_share": c.flagged_share(),
            "mostly_predicted": c.predicted.map(|(p, _)| name(p)),
            "mostly_predicted_count": c.predicted.map(|(_, n)| n),
        })).collect::<Vec<_>>(),
        "pairs": h.pairs.iter().map(|p| serde_json::json!({
            "given": name(p.given),
            "predicted": name(p.predicted),
            "count": p.count,
            "share": p.share,
        })).collect::<Vec<_>>(),
    })
}
