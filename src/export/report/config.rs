//! The report's configuration table: the dataset, the learner and every setting of the run
//! as stored, the rounds and forward correction as configured beside what ran
//! ([`crate::itlm::Ran`]), the named choices by their names.

use std::fmt::Write as _;

use super::esc;
use super::source_text;
use crate::export::run_file::RunFile;
use crate::itlm::Ran;

/// Rows `key: value` of a serde value, nested keys joined with '.'.
fn flatten(prefix: &str, v: &serde_json::Value, out: &mut Vec<(String, String)>) {
    match v {
        serde_json::Value::Object(m) => {
            for (k, v) in m {
                let key = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}.{k}")
                };
                flatten(&key, v, out);
            }
        }
        serde_json::Value::String(s) => out.push((prefix.to_string(), s.clone())),
        other => out.push((prefix.to_string(), other.to_string())),
    }
}

pub(super) fn config_section(h: &mut String, run: &RunFile, ran: &Ran) {
    let mut rows = vec![
        ("dataset".to_string(), run.dataset.name.clone()),
        ("source".to_string(), source_text(run)),
        (
            "classes".to_string(),
            if run.dataset.is_unlabelled() {
                "none (unlabelled)".to_string()
            } else {
                run.dataset.classes.join(", ")
            },
        ),
        (
            "image size".to_string(),
            format!(
                "{} x {} x {}",
                run.dataset.shape.height, run.dataset.shape.width, run.dataset.shape.channels
            ),
        ),
        ("ground truth".to_string(), {
            match &run.truth {
                Some(t) => format!("{} truly bad samples", t.bad.iter().filter(|&&b| b).count()),
                None => "none".into(),
            }
        }),
        ("status".to_string(), run.status.to_string()),
        (
            "training time".to_string(),
            format!("{:.1} s", run.elapsed_secs),
        ),
        ("learner".to_string(), run.learner_description.clone()),
    ];
    let mut settings = Vec::new();
    for (prefix, value) in [
        ("itlm", serde_json::to_value(&run.config)),
        ("learner", serde_json::to_value(&run.learner)),
    ] {
        if let Ok(v) = value {
            flatten(prefix, &v, &mut settings);
        }
    }
    let c = &run.config;
    for (k, v) in settings {
        // The named choices by the names a user types (serde stores the variants' names).
        let v = match k.as_str() {
            "itlm.select" => c.select.to_string(),
            "itlm.schedule" => c.schedule.to_string(),
            "itlm.aggregate" => c.aggregate.to_string(),
            "itlm.transition" => c.transition.to_string(),
            // A head on embeddings trained, not the model from scratch the setting names.
            "learner.model" => match run.learner_description.split_once(" head on ") {
                Some((head, _)) => format!("{head} head on embeddings (see learner)"),
                None => v,
            },
            _ => v,
        };
        match k.as_str() {
            // What was asked beside what ran: forward correction's schedule is shorter,
            // co-teaching's rounds are its epochs.
            "itlm.rounds" => {
                rows.push((
                    "itlm.rounds (configured: trim-and-retrain rounds after round 0)".into(),
                    v,
                ));
                rows.push(("rounds run".into(), ran.rounds_text()));
            }
            "itlm.transition" => {
                rows.push(("itlm.transition (forward correction, configured)".into(), v));
                rows.push(("forward correction (ran)".into(), ran.forward_text()));
            }
            _ => rows.push((k, v)),
        }
    }
    h.push_str("<section id=\"config\">\n<h2>Configuration</h2>\n<table class=\"config\">\n");
    for (k, v) in rows {
        let _ = writeln!(
            h,
            "<tr><th class=\"l\">{}</th><td class=\"l\">{}</td></tr>",
            esc(&k),
            esc(&v)
        );
    }
    h.push_str("</table>\n</section>\n");
}
