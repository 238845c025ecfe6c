//! The label-health summary on real data: a corrupted Fashion-MNIST copy (class c labelled
//! c+1 for 30% of every class), `run` on it, and the pairs the summary finds most confused
//! among the flagged are the flips `corrupt` made (read from its truth.csv, never written
//! here). Without the data the test says so and passes, unless ITLM_REQUIRE_REAL_DATA=1.

mod common;
mod fashion_data;

use std::collections::BTreeSet;

use common::cli::{run, s, succeeds};

#[test]
fn the_summary_names_the_systematic_flips_first() {
    let Some(fashion) = fashion_data::fashion_dir() else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let out = tmp.path().join("out");
    succeeds(&run(&[
        "corrupt",
        s(fashion),
        "--noise",
        "systematic",
        "--rate",
        "0.3",
        "--limit",
        "2000",
        "--seed",
        "1",
        "--out",
        s(&data),
    ]));
    // The flips as corrupt recorded them: (given, true) for every systematic sample.
    let truth = std::fs::read_to_string(data.join("truth.csv")).unwrap();
    let flips: BTreeSet<(String, String)> = truth
        .lines()
        .skip(1)
        .filter(|l| l.ends_with(",systematic"))
        .map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            let given = f[0].split('/').next().unwrap().to_string();
            (given, f[1].to_string())
        })
        .collect();
    assert_eq!(flips.len(), 10, "one flip per class: {flips:?}");

    let o = run(&["run", s(&data), "--out", s(&out), "--json", "-q"]);
    succeeds(&o);
    let stdout = String::from_utf8_lossy(&o.stdout);
    let line = stdout.lines().last().unwrap();
    let v: serde_json::Value = serde_json::from_str(line).unwrap();
    let h = &v["health"];
    let n = h["samples"].as_u64().unwrap();
    let flagged = h["flagged"].as_u64().unwrap();
    assert_eq!(n, 2000);
    // The per-class counts add up to the totals.
    let classes = h["classes"].as_array().unwrap();
    assert_eq!(classes.len(), 10);
    let sum = |key: &str| -> u64 { classes.iter().map(|c| c[key].as_u64().unwrap()).sum() };
    assert_eq!((sum("samples"), sum("flagged")), (n, flagged));
    let health = h["health"].as_f64().unwrap();
    assert!((health - (1.0 - flagged as f64 / n as f64)).abs() < 1e-9);

    let pairs: Vec<(String, String, u64)> = h["pairs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["given"].as_str().unwrap().to_string(),
                p["predicted"].as_str().unwrap().to_string(),
                p["count"].as_u64().unwrap(),
            )
        })
        .collect();
    let is_flip = |p: &(String, String, u64)| flips.contains(&(p.0.clone(), p.1.clone()));
    eprintln!("pairs: {pairs:?}");
    // The top pairs are the flips, given -> its true class.
    let top = 8;
    assert!(
        pairs.iter().take(top).all(is_flip),
        "the top {top} pairs are not all flips: {pairs:?}"
    );
    // And the flips hold most of the flagged samples predicted as another class.
    let other = h["flagged_predicted_other"].as_u64().unwrap();
    let in_flips: u64 = pairs.iter().filter(|p| is_flip(p)).map(|p| p.2).sum();
    assert!(
        in_flips as f64 >= 0.8 * other as f64,
        "{in_flips} of {other} flagged-and-disagreeing in the flip pairs"
    );
    // Most classes' flagged samples are mostly predicted as their true class.
    let named = classes
        .iter()
        .filter(|c| {
            let (g, p) = (c["class"].as_str().unwrap(), c["mostly_predicted"].as_str());
            p.is_some_and(|p| flips.contains(&(g.to_string(), p.to_string())))
        })
        .count();
    assert!(named >= 8, "{named} of 10 classes name their flip");
    // health.csv beside the run has the same pairs first.
    let csv = std::fs::read_to_string(out.join("health.csv")).unwrap();
    let first_pair = csv.lines().find(|l| l.starts_with("pair,")).unwrap();
    assert!(
        first_pair.starts_with(&format!("pair,{},{},", pairs[0].0, pairs[0].1)),
        "{first_pair}"
    );
}

/// What one `run` on 1000 Fashion-MNIST images says of the label health: the run block (stderr),
/// `--json`'s `health` object, health.csv (read as a CSV: the overall row's `note`) and the
/// report's "Label health" section.
struct Said {
    block: String,
    json: serde_json::Value,
    note: String,
    section: String,
}

fn health_said(dir: &std::path::Path, extra: &[&str]) -> Said {
    let fashion = fashion_data::FASHION;
    let out = dir.join("out");
    let mut args = vec![
        "run",
        fashion,
        "--limit",
        "1000",
        "--no-test",
        "--model",
        "mlp",
        "--rounds",
        "1",
        "--transition",
        "off",
        "--seed",
        "1",
        "--json",
        "--out",
        s(&out),
    ];
    args.extend_from_slice(extra);
    let o = run(&args);
    let block = succeeds(&o);
    let stdout = String::from_utf8_lossy(&o.stdout);
    let v: serde_json::Value = serde_json::from_str(stdout.lines().last().unwrap()).unwrap();
    let mut csv = csv::Reader::from_path(out.join("health.csv")).unwrap();
    let header: Vec<String> = csv.headers().unwrap().iter().map(String::from).collect();
    assert_eq!(
        header.last().map(String::as_str),
        Some("note"),
        "{header:?}"
    );
    let rows: Vec<csv::StringRecord> = csv.records().map(|r| r.unwrap()).collect();
    assert!(rows.iter().all(|r| r.len() == header.len()));
    assert_eq!(&rows[0][0], "overall");
    // Only the overall row may carry a note.
    assert!(rows[1..].iter().all(|r| r[header.len() - 1].is_empty()));
    let note = rows[0][header.len() - 1].to_string();
    let run_file = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|e| e == "itlm"))
        .unwrap();
    let html = dir.join("report.html");
    succeeds(&run(&["report", s(&run_file), "--out", s(&html)]));
    let h = std::fs::read_to_string(&html).unwrap();
    let at = h.find("<section id=\"health\"").unwrap();
    let section = h[at..at + h[at..].find("</section>").unwrap()].to_string();
    Said {
        block,
        json: v["health"].clone(),
        note,
        section,
    }
}

/// A final model that learned nothing (one epoch at a learning rate of 1e-7) flags samples
/// all the same; the summary says its figures mean little, everywhere it is given, with the
/// agreement it measured on the kept samples. A model that learned says nothing of the kind.
#[test]
fn a_final_model_that_barely_learned_gets_a_caveat_and_one_that_learned_none() {
    if fashion_data::fashion_dir().is_none() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("unlearned");
    std::fs::create_dir_all(&dir).unwrap();
    let said = health_said(
        &dir,
        &[
            "--lr",
            "1e-7",
            "--epochs",
            "1",
            "--final-epochs",
            "1",
            "--tau",
            "0.95",
        ],
    );
    let nl = &said.json["not_learned"];
    let (agreement, largest) = (
        nl["agreement"].as_f64().expect("a not_learned object"),
        nl["largest_class"].as_f64().unwrap(),
    );
    eprintln!("unlearned: agreement {agreement}, largest class {largest}");
    assert!(agreement <= largest + 0.02, "{nl}");
    assert!(said.json["flagged"].as_u64().unwrap() > 0);
    let words = format!(
        "the final model barely learned the labels: it agrees with {:.1}% of the labels of the kept samples, no better than always answering their largest class would ({:.1}%)",
        agreement * 100.0,
        largest * 100.0
    );
    assert!(nl["note"].as_str().unwrap().starts_with(&words), "{nl}");
    let caveat = said
        .block
        .lines()
        .skip_while(|l| !l.starts_with("label health: "))
        .nth(1)
        .unwrap_or_default();
    assert!(
        caveat.starts_with(&format!("  caveat: {words}")),
        "{}",
        said.block
    );
    assert!(said.note.starts_with(&words), "{}", said.note);
    assert!(
        said.section.contains("id=\"health-caveat\"") && said.section.contains(&words),
        "{}",
        said.section
    );

    let dir = tmp.path().join("learned");
    std::fs::create_dir_all(&dir).unwrap();
    let said = health_said(
        &dir,
        &["--epochs", "2", "--final-epochs", "3", "--tau", "0.9"],
    );
    assert!(said.json["not_learned"].is_null(), "{}", said.json);
    assert!(said.json["flagged"].as_u64().unwrap() > 0);
    assert!(said.block.contains("label health: ") && !said.block.contains("caveat"));
    assert!(said.note.is_empty(), "{}", said.note);
    assert!(!said.section.contains("caveat"), "{}", said.section);
}
