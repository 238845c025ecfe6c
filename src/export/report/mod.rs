//! The report: one self-contained HTML file of a run (no external resource: charts are inline
//! SVG, thumbnails `data:` PNG URIs) with the loss histogram of every round and its cut, the
//! metrics over rounds, the label health (every class's flagged share, the pairs most often
//! confused), the confusion of the trimmed samples (given -> predicted), the top
//! flagged samples, the image checks of its images, a summary of the user's decisions and the config. Every string from the
//! user's data (file names, class names, paths) is escaped with [`esc`].

mod charts;
mod config;
mod decisions;
pub use decisions::DECIDED_SHOWN;
#[cfg(test)]
mod tests;

use std::fmt::Write as _;
use std::path::Path;

use super::atomic::{write_atomic, Overwrite};
use super::paths::check_outside_datasets;
use super::run_file::RunFile;
use super::shown::{shown, Shown};
use crate::choice::Choice;
use crate::data::encode::encode_png;
use crate::data::quality::{ImageIssue, ImageIssues};
use crate::data::Dataset;
use crate::error::{Error, Result};
use crate::itlm::decisions::{Decision, Decisions};
use crate::itlm::{select, LossAggregate, Ran, RoundRecord, Selection};
use crate::learner::ModelKind;
use charts::{histogram, metrics_chart, short, Series};

/// How many flagged samples the report shows by default.
pub const DEFAULT_TOP: usize = 48;
/// Bins of each loss histogram.
const BINS: usize = 40;

/// What a report is made of.
#[derive(Clone, Copy)]
pub struct ReportInput<'a> {
    pub run: &'a RunFile,
    /// The round whose cut is shown (None: the verdict's).
    pub round: Option<usize>,
    /// The user's decisions on the run's samples, when given.
    pub decisions: Option<&'a Decisions>,
    /// The run's samples with their pixels, in the run's order (a reopened run's training
    /// set); None, or a set that does not match the run's ids: no thumbnails.
    pub images: Option<&'a Dataset>,
    /// Flagged samples shown, highest score first.
    pub top: usize,
    /// What to say of a run that did not finish (stopped, failed, interrupted, still
    /// training: [`crate::session::reopen::status_note`] reads the run folder's lock).
    pub status_note: Option<&'a str>,
}

impl<'a> ReportInput<'a> {
    /// The report of `run` at its verdict, without decisions or thumbnails.
    pub fn new(run: &'a RunFile) -> Self {
        Self {
            run,
            round: None,
            decisions: None,
            images: None,
            top: DEFAULT_TOP,
            status_note: None,
        }
    }
}

/// `s` escaped for HTML text and attribute values (`& < > " '`).
pub fn esc(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&#39;"),
            // Control characters are not allowed in HTML text.
            c if c.is_control() && c != '\n' && c != '\t' => o.push('\u{fffd}'),
            c => o.push(c),
        }
    }
    o
}

/// Standard base64 (with padding) of `bytes`.
pub fn base64(bytes: &[u8]) -> String {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut o = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for ch in bytes.chunks(3) {
        let b = [ch[0], *ch.get(1).unwrap_or(&0), *ch.get(2).unwrap_or(&0)];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for k in 0..4 {
            if k <= ch.len() {
                o.push(A[((n >> (18 - 6 * k)) & 63) as usize] as char);
            } else {
                o.push('=');
            }
        }
    }
    o
}

/// Write the report of `input` to `path` atomically; refuses a path inside a dataset folder
/// the run read.
pub fn write_report(path: &Path, input: &ReportInput, overwrite: Overwrite) -> Result<()> {
    check_outside_datasets(path, &input.run.dataset.sources())?;
    let html = render(input)?;
    write_atomic(path, html.as_bytes(), overwrite)
}

const STYLE: &str = "body{font-family:system-ui,-apple-system,'Segoe UI',sans-serif;margin:24px auto;max-width:1140px;color:#222;padding:0 12px}\
h1{font-size:1.6em;margin-bottom:4px}h2{border-bottom:1px solid #ccc;padding-bottom:4px;margin-top:32px}\
table{border-collapse:collapse;font-size:13px}td,th{border:1px solid #ccc;padding:3px 7px;text-align:right}\
th{background:#f3f3f3}td.l,th.l{text-align:left}td.diag{color:#999}td.hot,tr.hot td{background:#fbe3e2}\
.hists{display:flex;flex-wrap:wrap;gap:8px 20px}.hists figure{margin:0}figcaption{font-size:13px}\
.grid{display:grid;grid-template-columns:repeat(auto-fill,minmax(132px,1fr));gap:10px}\
.grid figure{margin:0;border:1px solid #ddd;border-radius:4px;padding:6px;font-size:12px;overflow-wrap:anywhere}\
.grid img,.grid .noimg{width:120px;height:120px;object-fit:contain;image-rendering:pixelated;background:#eee;display:block;margin:0 auto 4px}\
.grid .noimg{line-height:120px;text-align:center;color:#888}\
.badge{display:inline-block;border-radius:3px;padding:0 4px;color:#fff;font-size:11px;white-space:nowrap}\
.b-exclude{background:#b22}.b-keep{background:#2a7}.b-relabel{background:#c80}\
.legend span{display:inline-block;width:12px;height:12px;margin:0 4px 0 12px;vertical-align:middle}\
.muted{color:#666}code{font-size:12px}.caveat{background:#fff4d6;border-left:4px solid #c80;padding:4px 8px}\
table.decided td{vertical-align:middle}table.decided img{width:48px;height:48px;object-fit:contain;image-rendering:pixelated;background:#eee;display:block}";

/// The HTML of the report.
pub fn render(input: &ReportInput) -> Result<String> {
    let run = input.run;
    let d = &run.dataset;
    let sh = shown(run, input.round)?;
    if let Some(dec) = input.decisions {
        if dec.len() != d.len() {
            return Err(Error::Other(format!(
                "the decisions are for {} samples, the run has {}",
                dec.len(),
                d.len()
            )));
        }
    }
    let ran = Ran::of(&run.config, &run.rounds)
        .generative(run.learner.model == crate::learner::ModelKind::Vae);
    let mut h = String::new();
    let _ = writeln!(
        h,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>ITLM report: {}</title>\n<style>{STYLE}</style>\n</head>\n<body>",
        esc(&d.name)
    );
    let _ = writeln!(h, "<h1>ITLM report: {}</h1>", esc(&d.name));
    let _ = writeln!(
        h,
        "<p class=\"summary\">{}{} ({}), {} rounds ({}). Shown: round {} cut at tau {:.3}{}: <b id=\"flagged-count\" data-count=\"{}\">{}</b> of {} flagged.</p>",
        crate::plural(d.len(), "sample"),
        if d.is_unlabelled() {
            ", unlabelled".to_string()
        } else {
            format!(" of {}", crate::plural(d.classes.len(), "class"))
        },
        esc(&source_text(run)),
        run.rounds.len(),
        esc(&run.status.to_string()),
        sh.round(),
        sh.tau,
        match (
            sh.verdict,
            run.config.tau_from_data && (sh.tau - run.config.tau).abs() < 1e-9,
        ) {
            (true, true) => " (the exported cut; tau from the data: the share round 0's model does not confidently contradict)",
            (true, false) => " (the exported cut)",
            (false, true) => " (tau from the data: the share round 0's model does not confidently contradict)",
            (false, false) => "",
        },
        sh.flagged(),
        sh.flagged(),
        d.len()
    );
    if let Some(n) = &input.status_note {
        let _ = writeln!(h, "<p class=\"summary\"><b>Note:</b> {}.</p>", esc(n));
    }
    ran_section(&mut h, &ran);
    health_section(&mut h, run, &sh);
    metrics_section(&mut h, run);
    histograms_section(&mut h, run, &sh);
    confusion_section(&mut h, run, &sh);
    clusters_section(&mut h, run);
    flagged_section(&mut h, input, &sh);
    image_checks_section(&mut h, input, &sh);
    if let Some(dec) = input.decisions {
        decisions::decisions_section(&mut h, input, &sh, dec);
    }
    config::config_section(&mut h, run, &ran);
    h.push_str("<p class=\"muted\">Written by itlm-inspector ");
    h.push_str(env!("CARGO_PKG_VERSION"));
    h.push_str(".</p>\n</body>\n</html>\n");
    Ok(h)
}

/// What the run did (its config says what was asked): the rounds that ran, and whether
/// forward correction, co-teaching, relabelling and the clustering cut were used.
fn ran_section(h: &mut String, ran: &Ran) {
    let _ = writeln!(
        h,
        "<ul class=\"ran\" id=\"ran\" data-rounds=\"{}\" data-forward-rounds=\"{}\">",
        ran.rounds,
        ran.forward_rounds.len()
    );
    for (what, text) in ran.lines() {
        let _ = writeln!(
            h,
            "<li data-what=\"{}\"><b>{}:</b> {}</li>",
            esc(&what.replace(' ', "-")),
            esc(what),
            esc(&text)
        );
    }
    h.push_str("</ul>\n");
}

fn source_text(run: &RunFile) -> String {
    use crate::data::Source;
    match &run.dataset.source {
        Source::ImageFolder { root } => root.display().to_string(),
        Source::Idx { images } => images.display().to_string(),
        Source::Cifar { dir } => dir.display().to_string(),
        Source::LabelsCsv { file } => file.display().to_string(),
        Source::Memory => "built in memory".into(),
    }
}

fn generative(run: &RunFile) -> bool {
    run.learner.model == ModelKind::Vae
}

fn metrics_section(h: &mut String, run: &RunFile) {
    let n = run.dataset.len().max(1) as f64;
    let m: Vec<_> = run.rounds.iter().map(|r| &r.metrics).collect();
    let rounds: Vec<usize> = run.rounds.iter().map(|r| r.round).collect();
    let series = [
        Series {
            name: "train accuracy",
            colour: "#4c78a8",
            values: m.iter().map(|m| m.train_acc).collect(),
            dashed: false,
        },
        Series {
            name: "all accuracy",
            colour: "#72b7b2",
            values: m.iter().map(|m| m.all_acc).collect(),
            dashed: false,
        },
        Series {
            name: "test accuracy",
            colour: "#54a24b",
            values: m.iter().map(|m| m.test_acc).collect(),
            dashed: false,
        },
        Series {
            name: "test-2 accuracy",
            colour: "#b279a2",
            values: m.iter().map(|m| m.test2_acc).collect(),
            dashed: false,
        },
        Series {
            name: "trimmed share",
            colour: "#e45756",
            values: m.iter().map(|m| Some(m.trimmed as f64 / n)).collect(),
            dashed: false,
        },
        Series {
            name: "precision",
            colour: "#f58518",
            values: m.iter().map(|m| m.trim.map(|t| t.precision)).collect(),
            dashed: false,
        },
        Series {
            name: "recall",
            colour: "#9d755d",
            values: m.iter().map(|m| m.trim.map(|t| t.recall)).collect(),
            dashed: true,
        },
    ];
    h.push_str("<section id=\"metrics\">\n<h2>Metrics over rounds</h2>\n");
    h.push_str(&metrics_chart(&rounds, &series));
    let truth = m.iter().any(|m| m.trim.is_some());
    h.push_str("\n<table class=\"metrics\">\n<tr><th>round</th><th>trained on</th><th>tau</th><th>kept</th><th>trimmed</th><th>train acc</th><th>all acc</th><th>test acc</th><th>test-2 acc</th><th>mean loss</th>");
    if truth {
        h.push_str("<th>precision</th><th>recall</th><th>F1</th>");
    }
    h.push_str("</tr>\n");
    let pct = |v: Option<f64>| v.map(|v| format!("{:.2}%", v * 100.0)).unwrap_or_default();
    for r in &run.rounds {
        let mm = &r.metrics;
        let _ = write!(
            h,
            "<tr data-round=\"{}\"><td>{}</td><td>{}</td><td>{:.3}</td><td>{}</td><td class=\"trimmed\">{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td>",
            r.round,
            r.round,
            r.trained_on,
            r.tau,
            mm.kept,
            mm.trimmed,
            pct(mm.train_acc),
            pct(mm.all_acc),
            pct(mm.test_acc),
            pct(mm.test2_acc),
            short(mm.mean_loss)
        );
        if truth {
            let t = mm.trim;
            let _ = write!(
                h,
                "<td>{}</td><td>{}</td><td>{}</td>",
                pct(t.map(|t| t.precision)),
                pct(t.map(|t| t.recall)),
                pct(t.map(|t| t.f1))
            );
        }
        h.push_str("</tr>\n");
    }
    h.push_str("</table>\n</section>\n");
}

/// Where round `r`'s histogram draws its cut at `tau`, as the window draws it
/// ([`select::cut_line`]: the largest score the run's rule keeps; the run file holds no pins),
/// and, for the floored rule, how many samples the floors kept beyond the global cut.
fn line_of(run: &RunFile, r: &RoundRecord, tau: f64) -> (Option<f32>, usize) {
    let d = &run.dataset;
    let k = d.classes.len();
    let rule = run.config.select;
    if r.score.len() != d.labels.len() {
        return (None, 0);
    }
    let (plain, line) = select::cut_line(rule, &r.score, &d.labels, k, tau, None);
    let floors = if rule == Selection::Floored {
        let global = select::select_global(&r.score, tau);
        let count = |v: &[bool]| v.iter().filter(|&&x| x).count();
        count(&plain).saturating_sub(count(&global))
    } else {
        0
    };
    (line, floors)
}

/// What the line means under `rule`, after "the dashed line is the cut".
fn line_note(rule: Selection) -> &'static str {
    match rule {
        Selection::Global => "",
        Selection::Floored => {
            ", at the largest loss kept: the global cut, or above it where a class's floor kept more (samples of other classes between the two are trimmed)"
        }
        Selection::PerClass => {
            ", at the largest loss kept: the highest class's cut (a class whose own cut is lower has trimmed samples left of it)"
        }
    }
}

fn histograms_section(h: &mut String, run: &RunFile, sh: &Shown) {
    let what = match run.config.aggregate {
        LossAggregate::Last => "loss",
        LossAggregate::Mean => "mean loss over rounds",
    };
    let rule = run.config.select;
    h.push_str("<section id=\"histograms\">\n<h2>Loss per round</h2>\n");
    let _ = writeln!(
        h,
        "<p class=\"legend\">Samples by the {what} the cut is made on:<span style=\"background:{}\"></span>kept<span style=\"background:{}\"></span>trimmed; the dashed line is the cut{}.</p>",
        charts::KEPT,
        charts::TRIMMED,
        line_note(rule)
    );
    let _ = writeln!(
        h,
        "<p class=\"selection\" data-selection=\"{}\">Selection: <b>{}</b> &mdash; {}.</p>",
        esc(rule.name()),
        esc(rule.name()),
        esc(rule.help())
    );
    h.push_str("<div class=\"hists\">\n");
    for r in &run.rounds {
        let (kept, tau): (&[bool], f64) = if r.round == sh.round() {
            (&sh.kept, sh.tau)
        } else {
            (&r.kept, r.tau)
        };
        let trimmed = kept.iter().filter(|&&k| !k).count();
        let (line, floors) = line_of(run, r, tau);
        let (svg, not_finite) = histogram(&r.score, kept, line, BINS, what);
        let _ = writeln!(
            h,
            "<figure data-round=\"{}\" data-trimmed=\"{trimmed}\">{svg}<figcaption>Round {}{}: {} kept, {} trimmed{}{}</figcaption></figure>",
            r.round,
            r.round,
            if r.round == sh.round() { " (shown)" } else { "" },
            kept.len() - trimmed,
            trimmed,
            if floors > 0 {
                format!("; the class floors kept {floors} beyond the global cut")
            } else {
                String::new()
            },
            if not_finite > 0 {
                format!("; {not_finite} not finite, not drawn")
            } else {
                String::new()
            }
        );
    }
    h.push_str("</div>\n</section>\n");
}

/// A class whose flagged share is at least this many times the overall one is highlighted.
const HOT_SHARE: f64 = 1.25;

/// The label-health summary of the shown cut ([`crate::itlm::health`]): the share not
/// flagged, every class worst first with the class its flagged samples are mostly predicted
/// as, and the pairs given -> predicted most often among the flagged; a caveat first when the
/// model barely learned the labels ([`crate::itlm::Health::not_learned`]).
fn health_section(h: &mut String, run: &RunFile, sh: &Shown) {
    let d = &run.dataset;
    let health = super::health::of_shown(run, sh);
    let _ = writeln!(
        h,
        "<section id=\"health\" data-health=\"{:.4}\">\n<h2>Label health</h2>\n<p><b>{:.1}%</b> of {} not flagged ({} flagged{}). What the run found, not the truth: the share follows the cut's size (tau); the classes and pairs below say where the flagged samples are (highlighted: a class flagged at over {HOT_SHARE} times the overall share).</p>",
        health.health(),
        health.health() * 100.0,
        crate::plural(health.samples, "sample"),
        health.flagged,
        health
            .flagged_disagreeing
            .map_or(String::new(), |n| format!(
                ", {n} of them predicted as another class than their label"
            ))
    );
    if let Some(nl) = &health.not_learned {
        let _ = writeln!(
            h,
            "<p class=\"caveat\" id=\"health-caveat\" data-agreement=\"{:.4}\" data-largest-class=\"{:.4}\"><b>Caveat:</b> {}.</p>",
            nl.agreement,
            nl.largest_class,
            esc(&super::health::not_learned_words(nl))
        );
    }
    if d.is_unlabelled() || health.flagged == 0 {
        h.push_str("</section>\n");
        return;
    }
    h.push_str("<table class=\"health\">\n<tr><th class=\"l\">class (worst first)</th><th>samples</th><th>flagged</th><th>flagged share</th><th class=\"l\">flagged mostly predicted as</th></tr>\n");
    // Highlighted: well above the overall flagged share (every class near it is the cut's
    // size, not a class in trouble).
    let overall = health.flagged_share();
    for c in &health.classes {
        let predicted = match c.predicted {
            Some((p, n)) if p == c.class => {
                format!("its own class ({n} of {}: hard samples)", c.flagged)
            }
            Some((p, n)) => format!("{} ({n} of {})", esc(d.class_name(p as u32)), c.flagged),
            None => String::new(),
        };
        let _ = writeln!(
            h,
            "<tr{} data-class=\"{}\"><td class=\"l\">{}</td><td>{}</td><td>{}</td><td>{:.1}%</td><td class=\"l\">{predicted}</td></tr>",
            if c.flagged > 0 && c.flagged_share() >= overall * HOT_SHARE { " class=\"hot\"" } else { "" },
            c.class,
            esc(d.class_name(c.class as u32)),
            c.samples,
            c.flagged,
            c.flagged_share() * 100.0
        );
    }
    h.push_str("</table>\n");
    if !health.pairs.is_empty() {
        h.push_str("<h3>Most confused among the flagged</h3>\n<table class=\"pairs\">\n<tr><th class=\"l\">given</th><th class=\"l\">predicted</th><th>flagged</th><th>of the given class</th></tr>\n");
        for p in &health.pairs {
            let _ = writeln!(
                h,
                "<tr data-pair=\"{}-{}\"><td class=\"l\">{}</td><td class=\"l\">{}</td><td>{}</td><td>{:.1}%</td></tr>",
                p.given,
                p.predicted,
                esc(d.class_name(p.given as u32)),
                esc(d.class_name(p.predicted as u32)),
                p.count,
                p.share * 100.0
            );
        }
        h.push_str("</table>\n");
    }
    h.push_str("</section>\n");
}

fn confusion_section(h: &mut String, run: &RunFile, sh: &Shown) {
    let d = &run.dataset;
    h.push_str("<section id=\"confusion\">\n<h2>Flagged samples: given &rarr; predicted</h2>\n");
    if generative(run) {
        h.push_str("<p>A generative learner predicts no classes.</p>\n</section>\n");
        return;
    }
    let k = d.classes.len();
    let mut cells = vec![0usize; k * k];
    for i in (0..d.len()).filter(|&i| !sh.kept[i]) {
        let (g, p) = (d.labels[i] as usize, sh.record.predicted[i] as usize);
        if g < k && p < k {
            cells[g * k + p] += 1;
        }
    }
    let rows: Vec<usize> = (0..k)
        .filter(|g| (0..k).any(|p| cells[g * k + p] > 0))
        .collect();
    let cols: Vec<usize> = (0..k)
        .filter(|p| (0..k).any(|g| cells[g * k + p] > 0))
        .collect();
    if rows.is_empty() {
        h.push_str("<p>No sample is flagged.</p>\n</section>\n");
        return;
    }
    let max = cells.iter().copied().max().unwrap_or(0);
    let _ = writeln!(
        h,
        "<p>Rows: the given class; columns: the class the shown round's model predicts (only classes with a flagged sample). On the diagonal the model agrees with the given label (hard or ambiguous samples); off it, likely mislabelled.</p>"
    );
    h.push_str("<table class=\"confusion\">\n<tr><th class=\"l\">given \\ predicted</th>");
    for &p in &cols {
        let _ = write!(h, "<th>{}</th>", esc(&d.classes[p]));
    }
    h.push_str("<th>total</th></tr>\n");
    for &g in &rows {
        let _ = write!(h, "<tr><th class=\"l\">{}</th>", esc(&d.classes[g]));
        let mut total = 0;
        for &p in &cols {
            let c = cells[g * k + p];
            total += c;
            let class = if g == p {
                " class=\"diag\""
            } else if c > 0 && c * 4 >= max {
                " class=\"hot\""
            } else {
                ""
            };
            let _ = write!(
                h,
                "<td{class} data-given=\"{g}\" data-predicted=\"{p}\">{}</td>",
                if c == 0 { String::new() } else { c.to_string() }
            );
        }
        let _ = writeln!(h, "<td>{total}</td></tr>");
    }
    h.push_str("</table>\n</section>\n");
}

/// What the clustering cut did ([`crate::itlm::Config::clusters`]), when the run made one:
/// how many samples it held out, and every class's split.
fn clusters_section(h: &mut String, run: &RunFile) {
    let Some((r, report)) = run
        .rounds
        .iter()
        .rev()
        .find_map(|r| r.clusters.as_ref().map(|c| (r, c)))
    else {
        return;
    };
    let d = &run.dataset;
    let held = r.held_out.iter().filter(|&&x| x).count();
    let _ = writeln!(
        h,
        "<section id=\"clusters\" data-held-out=\"{held}\">\n<h2>Clustering cut</h2>\n<p>Before round {}, a probe model trained {} epochs on every sample; each class's penultimate activations were split in two. A class's smaller cluster was held out of the round (and trimmed at every cut of it) when it is at most a quarter of its class, the early cuts trimmed its members at least 3 times as often as the rest, and the model before the cut calls more of it by one other class than by its own. The final model, trained without them, judged them: those it called by that other class trained under it in the final model trained again (the round's relabelled samples). <b>{}</b> held out.</p>",
        r.round,
        short(report.probe_epochs),
        crate::plural(held, "sample")
    );
    h.push_str("<table class=\"clusters\">\n<tr><th class=\"l\">class</th><th>smaller cluster</th><th>of the class</th><th>separation</th><th>trimmed vs rest</th><th>called its own class</th><th class=\"l\">called another</th><th class=\"l\">held out</th></tr>\n");
    for c in &report.classes {
        let other = c.other.map_or_else(String::new, |(o, share)| {
            format!("{} {:.0}%", esc(d.class_name(o)), share * 100.0)
        });
        let _ = writeln!(
            h,
            "<tr{}><td class=\"l\">{}</td><td>{}</td><td>{}</td><td>{:.2}</td><td>{:.1}x</td><td>{:.0}%</td><td class=\"l\">{other}</td><td class=\"l\">{}</td></tr>",
            if c.flagged { " class=\"hot\"" } else { "" },
            esc(d.class_name(c.class)),
            c.size,
            c.count,
            c.separation,
            c.enrichment(),
            c.own_share * 100.0,
            if c.flagged { "yes" } else { "" }
        );
    }
    h.push_str("</table>\n</section>\n");
}

/// The input's images when they are the run's samples in its order.
fn matching_images<'a>(input: &ReportInput<'a>) -> Option<&'a Dataset> {
    let d = &input.run.dataset;
    input
        .images
        .filter(|im| im.len() == d.len() && im.ids() == d.ids.as_slice())
}

/// The thumbnail of sample `i` as a data URI, when the images match the run.
fn thumbnail(images: Option<&Dataset>, i: usize) -> Option<String> {
    let d = images?;
    let png = encode_png(d.image(i), d.shape).ok()?;
    Some(format!("data:image/png;base64,{}", base64(&png)))
}

/// The flagged samples of the shown cut, highest score first (ties by index).
pub fn top_flagged(sh: &Shown, top: usize) -> Vec<usize> {
    let s = &sh.record.score;
    let mut idx: Vec<usize> = (0..sh.kept.len()).filter(|&i| !sh.kept[i]).collect();
    idx.sort_by(|&a, &b| s[b].total_cmp(&s[a]).then(a.cmp(&b)));
    idx.truncate(top);
    idx
}

fn badge(d: Option<Decision>, classes: &[String]) -> String {
    match d {
        None => String::new(),
        Some(Decision::Exclude) => "<span class=\"badge b-exclude\">excluded</span>".into(),
        Some(Decision::Keep) => "<span class=\"badge b-keep\">kept</span>".into(),
        Some(Decision::Relabel(c)) => format!(
            "<span class=\"badge b-relabel\">relabelled &rarr; {}</span>",
            esc(classes.get(c as usize).map(|s| s.as_str()).unwrap_or("?"))
        ),
    }
}

fn flagged_section(h: &mut String, input: &ReportInput, sh: &Shown) {
    let run = input.run;
    let d = &run.dataset;
    let images = matching_images(input);
    let idx = top_flagged(sh, input.top);
    let _ = writeln!(
        h,
        "<section id=\"flagged\" data-count=\"{}\">\n<h2>Top flagged samples</h2>",
        idx.len()
    );
    let _ = writeln!(
        h,
        "<p>The {} of the {} flagged samples with the highest {}, highest first{}.</p>",
        idx.len(),
        sh.flagged(),
        match run.config.aggregate {
            LossAggregate::Last => "loss",
            LossAggregate::Mean => "mean loss",
        },
        if images.is_none() {
            "; no thumbnails: the run's dataset could not be read"
        } else {
            ""
        }
    );
    h.push_str("<div class=\"grid\">\n");
    let gen = generative(run);
    for i in idx {
        let id = esc(&d.ids[i]);
        let img = match thumbnail(images, i) {
            Some(uri) => format!("<img src=\"{uri}\" alt=\"{id}\" title=\"{id}\">"),
            None => "<div class=\"noimg\">no image</div>".into(),
        };
        let given = esc(d.class_name(d.labels[i]));
        let pred = if gen {
            String::new()
        } else {
            format!(" &rarr; {}", esc(d.class_name(sh.record.predicted[i])))
        };
        let p = sh.record.p_given[i];
        let p = if gen || !p.is_finite() {
            String::new()
        } else {
            format!(", p(given) {p:.3}")
        };
        let dec = input
            .decisions
            .map(|dec| badge(dec.get(i), &d.classes))
            .unwrap_or_default();
        let spectral = sh
            .record
            .spectral_of(i)
            .map_or_else(String::new, |s| format!(", spectral {}", short(s as f64)));
        let _ = writeln!(
            h,
            "<figure class=\"sample\" data-index=\"{i}\">{img}<figcaption><b>{given}{pred}</b><br>loss {}{p}{spectral}<br><span class=\"muted\">{id}</span> {dec}</figcaption></figure>",
            short(sh.record.score[i] as f64)
        );
    }
    h.push_str("</div>\n</section>\n");
}

/// Images of each kind the image-checks section shows.
const CHECKED_SHOWN: usize = 12;

/// The image checks of the run's images ([`crate::data::quality`]), when they could be read:
/// how many fail each, how many of those the shown cut kept (a loss does not see a dark or
/// blurred image under its right label), and the worst few of each kind.
fn image_checks_section(h: &mut String, input: &ReportInput, sh: &Shown) {
    let run = input.run;
    let d = &run.dataset;
    let Some(images) = matching_images(input) else {
        return;
    };
    let issues = ImageIssues::find(images);
    let any = issues.any();
    let kept = |i: usize| sh.kept.get(i) == Some(&true);
    let kept_any = (0..issues.len())
        .filter(|&i| issues.has_any(i) && kept(i))
        .count();
    let _ = writeln!(
        h,
        "<section id=\"image-checks\" data-count=\"{any}\">\n<h2>Image checks</h2>\n<p>CleanVision's image-property checks with its default thresholds (README, \"Image checks\"): <b>{any}</b> of {} images fail one{}.</p>",
        images.len(),
        if any > 0 {
            format!("; the shown cut kept {kept_any} of them (the loss does not judge an image's quality)")
        } else {
            String::new()
        }
    );
    if any == 0 {
        h.push_str("</section>\n");
        return;
    }
    // Each kind found, its images the worst first.
    let kinds: Vec<(ImageIssue, Vec<usize>)> = ImageIssue::ALL
        .into_iter()
        .map(|k| (k, issues.worst_first(k)))
        .filter(|(_, idx)| !idx.is_empty())
        .collect();
    h.push_str("<table class=\"config\">\n<tr><th>check</th><th>images</th><th>kept by the cut</th></tr>\n");
    // Duplicates: their groups too (the unit `check` and `run` count them in).
    let groups = |k: ImageIssue| issues.duplicate_groups_of(k).map(|(_, g)| g);
    for (k, idx) in &kinds {
        let _ = writeln!(
            h,
            "<tr data-check=\"{}\"><td title=\"{}\">{}</td><td>{}{}</td><td>{}</td></tr>",
            k.key(),
            esc(k.help()),
            esc(k.name()),
            idx.len(),
            groups(*k).map_or(String::new(), |g| format!(
                " in {}",
                crate::plural(g, "group")
            )),
            idx.iter().filter(|&&i| kept(i)).count()
        );
    }
    h.push_str("</table>\n");
    for &(k, ref idx) in &kinds {
        let _ = writeln!(
            h,
            "<h3>{} ({}{}{})</h3>\n<div class=\"grid\">",
            esc(k.name()),
            crate::plural(idx.len(), "image"),
            groups(k).map_or(String::new(), |g| format!(
                " in {}",
                crate::plural(g, "group")
            )),
            if idx.len() > CHECKED_SHOWN {
                format!(", the {CHECKED_SHOWN} worst shown")
            } else {
                String::new()
            }
        );
        for &i in idx.iter().take(CHECKED_SHOWN) {
            let id = esc(&d.ids[i]);
            let img = match thumbnail(Some(images), i) {
                Some(uri) => format!("<img src=\"{uri}\" alt=\"{id}\" title=\"{id}\">"),
                None => "<div class=\"noimg\">no image</div>".into(),
            };
            let score = issues
                .score(i, k)
                .map_or_else(String::new, |s| format!("score {s:.3}, "));
            let cut = if kept(i) { "kept" } else { "flagged" };
            let _ = writeln!(
                h,
                "<figure class=\"sample\" data-index=\"{i}\" data-check=\"{}\">{img}<figcaption><b>{}</b><br>{score}{cut}<br><span class=\"muted\">{id}</span></figcaption></figure>",
                k.key(),
                esc(d.class_name(d.labels[i]))
            );
        }
        h.push_str("</div>\n");
    }
    h.push_str("</section>\n");
}
