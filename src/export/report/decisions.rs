//! The report's decisions: how many samples the user excluded, kept and relabelled, how many
//! of them the shown cut flags, the relabels by class, and a table of the decided samples.

use std::fmt::Write as _;

use super::charts::short;
use super::{esc, matching_images, thumbnail, ReportInput, Shown};
use crate::itlm::decisions::{Decision, Decisions};
use crate::itlm::LossAggregate;

pub(super) fn decisions_section(h: &mut String, input: &ReportInput, sh: &Shown, dec: &Decisions) {
    let run = input.run;
    let d = &run.dataset;
    let c = dec.counts();
    let mut flagged = [0usize; 3];
    let mut agree = 0usize;
    let k = d.classes.len();
    let mut moves = vec![0usize; k * k];
    for (i, x) in dec.iter() {
        let slot = match x {
            Decision::Exclude => 0,
            Decision::Keep => 1,
            Decision::Relabel(to) => {
                if to == sh.record.predicted[i] {
                    agree += 1;
                }
                let g = d.labels[i] as usize;
                if g < k && (to as usize) < k {
                    moves[g * k + to as usize] += 1;
                }
                2
            }
        };
        if !sh.kept[i] {
            flagged[slot] += 1;
        }
    }
    let reviewed: usize = flagged.iter().sum();
    // Decided samples this cut does not flag: a retrain with the decisions holds kept and
    // relabelled ones in its cut, and a decision may come from another round's cut.
    let elsewhere = c.decided.saturating_sub(reviewed);
    let _ = writeln!(
        h,
        "<section id=\"decisions\" data-decided=\"{}\">\n<h2>Decisions</h2>\n<p>{} of the {} flagged samples reviewed.{}</p>",
        c.decided,
        reviewed,
        sh.flagged(),
        if elsewhere > 0 {
            format!(
                " {} not flagged by this cut (a retrain with the decisions keeps kept and relabelled samples in its cut, and a decision may have been made on another round's cut).",
                if elsewhere == 1 {
                    "1 more decided sample is".to_string()
                } else {
                    format!("{elsewhere} more decided samples are")
                }
            )
        } else {
            String::new()
        }
    );
    h.push_str("<table class=\"decisions\">\n<tr><th class=\"l\">decision</th><th>samples</th><th>of them flagged</th></tr>\n");
    for (name, n, f) in [
        ("excluded", c.excluded, flagged[0]),
        ("kept", c.kept, flagged[1]),
        ("relabelled", c.relabelled, flagged[2]),
    ] {
        let _ = writeln!(
            h,
            "<tr data-decision=\"{name}\"><td class=\"l\">{name}</td><td>{n}</td><td>{f}</td></tr>"
        );
    }
    let _ = writeln!(
        h,
        "<tr><td class=\"l\">total</td><td>{}</td><td>{reviewed}</td></tr>\n</table>",
        c.decided
    );
    if c.relabelled > 0 {
        let _ = writeln!(
            h,
            "<p>{agree} of the {} relabelled samples took the class the model predicts.</p>",
            c.relabelled
        );
        h.push_str("<table class=\"relabels\">\n<tr><th class=\"l\">given</th><th class=\"l\">relabelled to</th><th>samples</th></tr>\n");
        for g in 0..k {
            for t in 0..k {
                let n = moves[g * k + t];
                if n > 0 {
                    let _ = writeln!(
                        h,
                        "<tr><td class=\"l\">{}</td><td class=\"l\">{}</td><td>{n}</td></tr>",
                        esc(&d.classes[g]),
                        esc(&d.classes[t])
                    );
                }
            }
        }
        h.push_str("</table>\n");
    }
    decided_table(h, input, sh, dec);
    h.push_str("</section>\n");
}

/// Decided samples the table lists; labels.csv and decisions.csv have them all.
pub const DECIDED_SHOWN: usize = 100;

/// Every decided sample (the first [`DECIDED_SHOWN`], highest score first): its thumbnail when
/// the images match the run, id, given label, decision, new label, score and whether the
/// shown cut flags it.
fn decided_table(h: &mut String, input: &ReportInput, sh: &Shown, dec: &Decisions) {
    let d = &input.run.dataset;
    let images = matching_images(input);
    let s = &sh.record.score;
    let mut idx: Vec<usize> = dec
        .iter()
        .map(|(i, _)| i)
        .filter(|&i| i < s.len())
        .collect();
    if idx.is_empty() {
        return;
    }
    idx.sort_by(|&a, &b| s[b].total_cmp(&s[a]).then(a.cmp(&b)));
    let more = idx.len().saturating_sub(DECIDED_SHOWN);
    idx.truncate(DECIDED_SHOWN);
    let _ = writeln!(
        h,
        "<p>The decided samples, highest {} first{}:</p>",
        match input.run.config.aggregate {
            LossAggregate::Last => "loss",
            LossAggregate::Mean => "mean loss",
        },
        if more > 0 {
            format!(" (the first {DECIDED_SHOWN})")
        } else {
            String::new()
        }
    );
    let _ = writeln!(
        h,
        "<table class=\"decided\" data-rows=\"{}\" data-more=\"{more}\">\n<tr>{}<th class=\"l\">sample</th><th class=\"l\">given</th><th class=\"l\">decision</th><th class=\"l\">new label</th><th>loss</th><th class=\"l\">shown cut</th></tr>",
        idx.len(),
        if images.is_some() { "<th></th>" } else { "" }
    );
    for i in idx {
        let Some(x) = dec.get(i) else { continue };
        let id = esc(&d.ids[i]);
        let img = match (images, thumbnail(images, i)) {
            (None, _) => String::new(),
            (Some(_), Some(uri)) => {
                format!("<td><img src=\"{uri}\" alt=\"{id}\" title=\"{id}\"></td>")
            }
            (Some(_), None) => "<td class=\"muted\">no image</td>".into(),
        };
        let (what, word, new) = match x {
            Decision::Exclude => ("exclude", "excluded", String::new()),
            Decision::Keep => ("keep", "kept", String::new()),
            Decision::Relabel(c) => ("relabel", "relabelled", esc(d.class_name(c))),
        };
        let flagged = !sh.kept[i];
        let _ = writeln!(
            h,
            "<tr data-index=\"{i}\" data-decision=\"{what}\"{}>{img}<td class=\"l\">{id}</td><td class=\"l\">{}</td><td class=\"l\"><span class=\"badge b-{what}\">{word}</span></td><td class=\"l\">{new}</td><td>{}</td><td class=\"l\">{}</td></tr>",
            if flagged { " class=\"hot\"" } else { "" },
            esc(d.class_name(d.labels[i])),
            short(s[i] as f64),
            if flagged { "flagged" } else { "kept" }
        );
    }
    h.push_str("</table>\n");
    if more > 0 {
        let _ = writeln!(
            h,
            "<p class=\"more\">&hellip; and {more} more (labels.csv / decisions.csv has them all).</p>"
        );
    }
}
