//! The report and the ecosystem exports of a real (fake-learner) run on an image folder with
//! hostile class and file names: the HTML is well formed, self-contained, escaped, and its
//! counts are the run's; cleanlab's table has the run's rows; the FiftyOne folder's
//! labels.json round-trips and names files that exist and are the originals; the CLI writes
//! them and never writes into the dataset.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use common::cli::s;
use common::FakeLearner;
use itlm_inspector::data::truth::TruthInfo;
use itlm_inspector::data::{self, Dataset, LoadOptions};
use itlm_inspector::export::ecosystem::{
    fiftyone_uuid, label_issues_csv, write_fiftyone, LABEL_ISSUES_HEADER,
};
use itlm_inspector::export::report::{render, top_flagged, ReportInput};
use itlm_inspector::export::shown::shown;
use itlm_inspector::export::{self, DatasetInfo, Overwrite, RunFile, RunStatus};
use itlm_inspector::itlm::{self, Config, Quiet, Start, TauSchedule};
use itlm_inspector::learner::LearnerConfig;
use itlm_inspector::session::decisions::{Decision, Decisions, Journal};

const BIN: &str = env!("CARGO_BIN_EXE_itlm-inspector");

/// Class folder names a person could give (and an attacker would): markup, quotes, commas.
const CLASSES: [&str; 3] = [
    "<script>alert(1)<\\script>",
    "it's \"quoted\" & <b>bold</b>",
    "plain, with comma",
];
const PER_CLASS: usize = 8;

/// An image folder of 3 hostile classes x 8 gray 5x4 PNGs, each with its own pixel value;
/// some file names hostile too.
fn image_folder(root: &Path) {
    for (c, class) in CLASSES.iter().enumerate() {
        let dir = root.join(class);
        std::fs::create_dir_all(&dir).unwrap();
        for k in 0..PER_CLASS {
            let v = (c * PER_CLASS + k) as u8 * 9 + 10;
            let img = image::GrayImage::from_pixel(5, 4, image::Luma([v]));
            let name = if k == 0 {
                "x\"><img src=x onerror=alert(1)>.png".to_string()
            } else {
                format!("img {k}.png")
            };
            img.save(dir.join(name)).unwrap();
        }
    }
}

/// A 3-round fake-learner run on the folder: loss grows with the index, the model predicts
/// the next class for every third sample; truth: the top quarter by loss is bad.
fn make_run(root: &Path) -> (RunFile, Dataset) {
    let data = data::load(root, &LoadOptions::default()).unwrap().train;
    let n = data.len();
    assert_eq!(n, 3 * PER_CLASS);
    let losses: Vec<f32> = (0..n).map(|i| 0.05 + (i * 7 % n) as f32 * 0.13).collect();
    let (mut l, _) = FakeLearner::new(losses.clone());
    l.predicted = Some(
        (0..n)
            .map(|i| {
                let g = data.label(i);
                if i % 3 == 0 {
                    (g + 1) % 3
                } else {
                    g
                }
            })
            .collect(),
    );
    let config = Config {
        tau: 0.75,
        rounds: 2,
        epochs: 1.0,
        final_epochs: 1,
        schedule: TauSchedule::Constant,
        ..Default::default()
    };
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by(|&a, &b| losses[b].total_cmp(&losses[a]));
    let mut bad = vec![false; n];
    for &i in &order[..n / 4] {
        bad[i] = true;
    }
    let mut rounds = Vec::new();
    itlm::run(
        &mut l,
        itlm::Inputs {
            data: &data,
            eval: Default::default(),
            bad: Some(&bad),
            true_labels: None,
            pins: None,
        },
        &config,
        Start::Fresh,
        &mut rounds,
        &mut Quiet,
    )
    .unwrap();
    let run = RunFile {
        config,
        learner: LearnerConfig::default(),
        learner_description: "fake <learner>".into(),
        dataset: DatasetInfo::of(&data),
        truth: Some(TruthInfo {
            bad,
            true_label: vec![None; n],
            kind: Vec::new(),
        }),
        rounds,
        status: RunStatus::Finished,
        verdict: None,
        elapsed_secs: 0.5,
    };
    (run, data)
}

/// Decisions on the top flagged samples: exclude, keep, relabel to the prediction; and a
/// relabel of a sample that is not flagged.
fn decide(run: &RunFile) -> (Decisions, Vec<usize>) {
    let sh = shown(run, None).unwrap();
    let s = &sh.record.score;
    let mut flagged: Vec<usize> = (0..run.dataset.len()).filter(|&i| !sh.kept[i]).collect();
    flagged.sort_by(|&a, &b| s[b].total_cmp(&s[a]).then(a.cmp(&b)));
    let clean = (0..run.dataset.len()).find(|&i| sh.kept[i]).unwrap();
    let mut d = Decisions::new(run.dataset.len());
    d.set(&[flagged[0]], Some(Decision::Exclude));
    d.set(&[flagged[1]], Some(Decision::Keep));
    d.set(
        &[flagged[2]],
        Some(Decision::Relabel(sh.record.predicted[flagged[2]])),
    );
    d.set(
        &[clean],
        Some(Decision::Relabel((run.dataset.labels[clean] + 2) % 3)),
    );
    (d, flagged)
}

/// A strict check of the HTML the report writes: every tag's attributes are `name="value"`
/// with no '<' or '"' inside a value, every element is closed in order (void elements and
/// `/>` excepted), text holds no raw '<'. Returns the start tags seen, by name.
fn check_html(h: &str) -> BTreeMap<String, usize> {
    const VOID: [&str; 5] = ["meta", "br", "img", "hr", "link"];
    let b = h.as_bytes();
    let mut i = 0;
    let mut stack: Vec<String> = Vec::new();
    let mut seen = BTreeMap::new();
    assert!(h.starts_with("<!DOCTYPE html>\n"), "no doctype");
    i += "<!DOCTYPE html>".len();
    let mut raw_text_end: Option<&str> = None;
    while i < b.len() {
        if let Some(end) = raw_text_end {
            let at = h[i..].find(end).expect("raw text element not closed");
            i += at;
            raw_text_end = None;
            continue;
        }
        if b[i] != b'<' {
            i += 1;
            continue;
        }
        let close = b.get(i + 1) == Some(&b'/');
        let mut j = i + 1 + usize::from(close);
        let start = j;
        while j < b.len() && (b[j].is_ascii_alphanumeric()) {
            j += 1;
        }
        let name = h[start..j].to_string();
        assert!(
            !name.is_empty(),
            "a raw '<' at byte {i}: {}",
            &h[i..(i + 40).min(h.len())]
        );
        let mut self_closing = false;
        loop {
            while b[j].is_ascii_whitespace() {
                j += 1;
            }
            match b[j] {
                b'>' => {
                    j += 1;
                    break;
                }
                b'/' if b[j + 1] == b'>' => {
                    self_closing = true;
                    j += 2;
                    break;
                }
                _ => {}
            }
            assert!(!close, "attributes on a closing tag </{name}>");
            let a0 = j;
            while b[j].is_ascii_alphanumeric() || b[j] == b'-' || b[j] == b':' {
                j += 1;
            }
            assert!(
                j > a0,
                "bad attribute in <{name}> at {}",
                &h[a0..(a0 + 40).min(h.len())]
            );
            assert_eq!(b[j], b'=', "attribute without a value in <{name}>");
            assert_eq!(b[j + 1], b'"', "unquoted attribute in <{name}>");
            let v0 = j + 2;
            let v1 = v0 + h[v0..].find('"').unwrap();
            assert!(
                !h[v0..v1].contains('<'),
                "'<' in an attribute value of <{name}>"
            );
            j = v1 + 1;
        }
        if close {
            let top = stack.pop().unwrap_or_default();
            assert_eq!(top, name, "</{name}> closes <{top}>");
        } else {
            *seen.entry(name.clone()).or_insert(0) += 1;
            if name == "style" || name == "script" {
                raw_text_end = Some(if name == "style" {
                    "</style"
                } else {
                    "</script"
                });
            }
            if !self_closing && !VOID.contains(&name.as_str()) {
                stack.push(name);
            }
        }
        i = j;
    }
    assert!(stack.is_empty(), "unclosed elements: {stack:?}");
    seen
}

/// The `data-X="..."` value after the first occurrence of `anchor`.
fn data_attr(h: &str, anchor: &str, attr: &str) -> usize {
    let at = h
        .find(anchor)
        .unwrap_or_else(|| panic!("{anchor} not in the report"));
    let rest = &h[at..];
    let key = format!("{attr}=\"");
    let v0 = rest.find(&key).unwrap() + key.len();
    let v1 = v0 + rest[v0..].find('"').unwrap();
    rest[v0..v1].parse().unwrap()
}

#[test]
fn report_is_well_formed_escaped_and_counts_the_run() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("set");
    image_folder(&root);
    let (run, data) = make_run(&root);
    let (decisions, flagged) = decide(&run);
    let sh = shown(&run, None).unwrap();
    let top = 5;
    let h = render(&ReportInput {
        run: &run,
        round: None,
        decisions: Some(&decisions),
        images: Some(&data),
        top,
        status_note: None,
    })
    .unwrap();
    let tags = check_html(&h);
    // Self-contained and escaped: no script, no external resource.
    let lower = h.to_lowercase();
    assert!(!lower.contains("<script"), "a raw <script> in the report");
    assert!(
        !lower.contains("<b>bold"),
        "a class name's markup went through"
    );
    assert!(
        !lower.contains("<img src=x onerror=alert"),
        "a file name's markup went through"
    );
    assert!(lower.contains("x&quot;&gt;&lt;img src=x onerror=alert(1)&gt;.png"));
    assert!(h.contains("&lt;script&gt;alert(1)&lt;\\script&gt;"));
    assert!(h.contains("it&#39;s &quot;quoted&quot; &amp; &lt;b&gt;bold&lt;/b&gt;"));
    for bad in ["http:", "https:", "href=", "url(", "@import"] {
        assert!(!lower.contains(bad), "{bad} in the report");
    }
    for id in [
        "metrics",
        "histograms",
        "confusion",
        "flagged",
        "image-checks",
        "decisions",
        "config",
    ] {
        assert!(
            h.contains(&format!("<section id=\"{id}\"")),
            "no section {id}"
        );
    }
    // Counts are the run's.
    let n_flagged = sh.kept.iter().filter(|&&k| !k).count();
    assert_eq!(n_flagged, flagged.len());
    assert_eq!(
        data_attr(&h, "id=\"flagged-count\"", "data-count"),
        n_flagged
    );
    assert_eq!(data_attr(&h, "<section id=\"flagged\"", "data-count"), top);
    // The image checks: these flat 5x4 images hold one value each; the darker ones (under
    // 32% brightness) are dark (too small for the blur and information checks), and the
    // perceptual hash of a flat image is one value: near duplicates all.
    use itlm_inspector::data::quality::ImageIssue;
    let issues = itlm_inspector::data::quality::ImageIssues::find(&data);
    let dark = (0..data.len()).filter(|&i| data.image(i)[0] < 82).count();
    assert_eq!(issues.count(ImageIssue::Dark), dark);
    assert_eq!(issues.count(ImageIssue::LowInformation), 0);
    let checks_at = h
        .find("<section id=\"image-checks\"")
        .expect("image checks");
    let checks = &h[checks_at..];
    let checks = &checks[..checks.find("</section>").unwrap()];
    assert_eq!(
        data_attr(&h, "<section id=\"image-checks\"", "data-count"),
        issues.any()
    );
    let shown_checked: usize = ImageIssue::ALL
        .iter()
        .map(|&k| issues.count(k).min(12))
        .sum();
    assert_eq!(
        checks.matches("<figure class=\"sample\"").count(),
        shown_checked
    );
    assert!(
        checks.contains(&format!(">dark</td><td>{dark}</td>")),
        "{checks}"
    );
    assert_eq!(
        h.matches("<figure class=\"sample\"").count(),
        top + shown_checked
    );
    // The thumbnails: the top flagged, the image checks' and the 4 decided samples'.
    assert_eq!(tags["img"], top + shown_checked + 4);
    // The thumbnails, highest loss first, are the samples' own pixels.
    for (k, &i) in flagged[..top].iter().enumerate() {
        let fig = format!("<figure class=\"sample\" data-index=\"{i}\">");
        let at = h
            .find(&fig)
            .unwrap_or_else(|| panic!("sample {i} not shown"));
        if k > 0 {
            let prev = format!("data-index=\"{}\"", flagged[k - 1]);
            assert!(h.find(&prev).unwrap() < at, "not in loss order");
        }
        let uri = &h[at..];
        let b0 = uri.find("base64,").unwrap() + 7;
        let b1 = b0 + uri[b0..].find('"').unwrap();
        let png = decode_base64(&uri[b0..b1]);
        let img = image::load_from_memory(&png).unwrap().to_luma8();
        assert_eq!((img.width(), img.height()), (5, 4));
        assert_eq!(img.as_raw().as_slice(), data.image(i));
    }
    // One histogram per round, trimmed as the rounds trimmed.
    assert_eq!(h.matches("<svg class=\"hist\"").count(), run.rounds.len());
    assert_eq!(h.matches("class=\"cut\"").count(), run.rounds.len());
    for r in &run.rounds {
        let t = r.kept.iter().filter(|&&k| !k).count();
        let anchor = format!("<figure data-round=\"{}\"", r.round);
        assert_eq!(data_attr(&h, &anchor, "data-trimmed"), t);
    }
    // The confusion of the flagged samples.
    let mut cells = BTreeMap::new();
    for &i in &flagged {
        *cells
            .entry((run.dataset.labels[i], sh.record.predicted[i]))
            .or_insert(0usize) += 1;
    }
    let mut total = 0;
    for ((g, p), c) in &cells {
        let anchor = format!("data-given=\"{g}\" data-predicted=\"{p}\">");
        let at = h.find(&anchor).unwrap() + anchor.len();
        let v: usize = h[at..at + h[at..].find('<').unwrap()].parse().unwrap();
        assert_eq!(v, *c, "cell {g} -> {p}");
        total += v;
    }
    assert_eq!(total, n_flagged);
    // The decisions.
    assert_eq!(
        data_attr(&h, "<section id=\"decisions\"", "data-decided"),
        4
    );
    assert!(h.contains(&format!("3 of the {n_flagged} flagged samples reviewed. 1 more decided sample is not flagged by this cut")));
    assert!(h.contains("1 of the 2 relabelled samples took the class the model predicts"));
    // A badge on the 3 decided flagged samples shown, and one in each decided row.
    assert_eq!(h.matches("class=\"badge b-").count(), 3 + 4);
    // Without images: no thumbnail, and it says why.
    let h2 = render(&ReportInput::new(&run)).unwrap();
    check_html(&h2);
    assert!(!h2.contains("data:image/png"));
    assert!(h2.contains("no thumbnails"));
    assert!(!h2.contains("<section id=\"decisions\""));
    // Another round: its own cut.
    let h0 = render(&ReportInput {
        round: Some(0),
        ..ReportInput::new(&run)
    })
    .unwrap();
    let t0 = run.rounds[0].kept.iter().filter(|&&k| !k).count();
    assert_eq!(data_attr(&h0, "id=\"flagged-count\"", "data-count"), t0);
    assert!(render(&ReportInput {
        round: Some(9),
        ..ReportInput::new(&run)
    })
    .is_err());
}

/// A run whose last round the clustering cut held two samples out of, with spectral scores:
/// the report says what the cut did, class by class, and shows the scores in the captions.
#[test]
fn the_report_shows_the_clustering_cut_and_the_spectral_scores() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("set");
    image_folder(&root);
    let (mut run, _) = make_run(&root);
    let plain = render(&ReportInput::new(&run)).unwrap();
    assert!(!plain.contains("<section id=\"clusters\""));
    assert!(!plain.contains(", spectral "));
    let n = run.dataset.len();
    let last = run.rounds.len() - 1;
    let r = std::sync::Arc::make_mut(&mut run.rounds[last]);
    r.held_out = vec![false; n];
    r.held_out[1] = true;
    r.held_out[4] = true;
    r.spectral = (0..n).map(|i| 10.0 + i as f32).collect();
    let cluster = |class: u32, flagged: bool| itlm::clusters::ClassCluster {
        class,
        count: 4,
        size: 2,
        separation: 1.25,
        trimmed_in: 1.5,
        trimmed_rest: 0.25,
        own_share: 0.25,
        other: Some(((class + 1) % 3, 0.75)),
        flagged,
    };
    r.clusters = Some(itlm::ClusterReport {
        classes: vec![cluster(0, true), cluster(2, false)],
        probe_epochs: 1.0,
    });
    let h = render(&ReportInput::new(&run)).unwrap();
    check_html(&h);
    assert_eq!(
        data_attr(&h, "<section id=\"clusters\"", "data-held-out"),
        2
    );
    assert!(h.contains("<b>2 samples</b> held out"));
    // One row per split class; the flagged one marked and held out.
    let table = &h[h.find("<table class=\"clusters\">").unwrap()..];
    let table = &table[..table.find("</table>").unwrap()];
    assert_eq!(table.matches("<tr").count(), 3, "{table}");
    assert_eq!(table.matches("<tr class=\"hot\">").count(), 1);
    assert!(table.contains("<td>6.0x</td><td>25%</td>"), "{table}");
    assert!(table.contains(&format!(
        "{} 75%",
        itlm_inspector::export::report::esc(&run.dataset.classes[1])
    )));
    // Each flagged sample's caption carries its spectral score.
    let sh = shown(&run, None).unwrap();
    let i = top_flagged(&sh, 1)[0];
    let fig = &h[h.find(&format!("data-index=\"{i}\">")).unwrap()..];
    let fig = &fig[..fig.find("</figure>").unwrap()];
    assert!(
        fig.contains(&format!(", spectral {:.1}", 10.0 + i as f32)),
        "{fig}"
    );
}

fn decode_base64(s: &str) -> Vec<u8> {
    let val = |c: u8| -> u32 {
        match c {
            b'A'..=b'Z' => (c - b'A') as u32,
            b'a'..=b'z' => (c - b'a' + 26) as u32,
            b'0'..=b'9' => (c - b'0' + 52) as u32,
            b'+' => 62,
            b'/' => 63,
            _ => 0,
        }
    };
    let mut out = Vec::new();
    for ch in s.as_bytes().chunks(4) {
        let n = ch.iter().fold(0u32, |a, &c| (a << 6) | val(c));
        let bytes = [(n >> 16) as u8, (n >> 8) as u8, n as u8];
        let pad = ch.iter().filter(|&&c| c == b'=').count();
        out.extend_from_slice(&bytes[..3 - pad]);
    }
    out
}

#[test]
fn cleanlab_table_rows_are_the_runs() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("set");
    image_folder(&root);
    let (run, _) = make_run(&root);
    let (decisions, flagged) = decide(&run);
    let sh = shown(&run, None).unwrap();
    let csv = label_issues_csv(&run, None, Some(&decisions), None).unwrap();
    let mut r = csv::Reader::from_reader(csv.as_bytes());
    assert_eq!(
        r.headers().unwrap().iter().collect::<Vec<_>>().join(","),
        LABEL_ISSUES_HEADER
    );
    let rows: Vec<csv::StringRecord> = r.records().map(|x| x.unwrap()).collect();
    let d = &run.dataset;
    assert_eq!(rows.len(), d.len());
    let mut issues = 0;
    for (i, row) in rows.iter().enumerate() {
        assert_eq!(&row[0], d.ids[i].as_str(), "row {i} out of dataset order");
        let expected = match decisions.get(i) {
            Some(Decision::Keep) => false,
            Some(_) => true,
            None => !sh.kept[i],
        };
        assert_eq!(&row[1], if expected { "True" } else { "False" }, "row {i}");
        issues += usize::from(expected);
        let p: f32 = row[2].parse().unwrap();
        assert!((p - sh.record.p_given[i]).abs() < 1e-5, "row {i}: {p}");
        assert_eq!(&row[3], d.class_name(d.labels[i]));
        assert_eq!(&row[4], d.class_name(sh.record.predicted[i]));
    }
    // Flagged minus the one kept by the user, plus the relabelled sample that was not flagged.
    assert_eq!(issues, flagged.len() - 1 + 1);
    // Without decisions: exactly the flagged samples.
    let plain = label_issues_csv(&run, None, None, None).unwrap();
    assert_eq!(plain.matches(",True,").count(), flagged.len());
}

/// Every file below `root`, relative, with its bytes.
fn snapshot(root: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    walk(root)
        .into_iter()
        .map(|p| {
            (
                p.strip_prefix(root).unwrap().to_path_buf(),
                std::fs::read(&p).unwrap(),
            )
        })
        .collect()
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}

#[test]
fn fiftyone_labels_round_trip_and_name_the_originals() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("set");
    image_folder(&root);
    let before = snapshot(&root);
    let (mut run, _) = make_run(&root);
    // The shown round's spectral scores (the fake learner has no features) go out as an
    // attribute.
    let last = run.rounds.len() - 1;
    std::sync::Arc::make_mut(&mut run.rounds[last]).spectral =
        (0..run.dataset.len()).map(|i| i as f32 * 0.1).collect();
    let (decisions, flagged) = decide(&run);
    let sh = shown(&run, None).unwrap();
    assert_eq!(sh.record.spectral.len(), run.dataset.len());
    let dst = tmp.path().join("fo");
    let rep = write_fiftyone(&run, None, Some(&decisions), None, None, &dst).unwrap();
    let d = &run.dataset;
    assert_eq!(rep.samples, d.len());
    assert_eq!(rep.hard_links + rep.symlinks + rep.copies, d.len());
    // Flagged: trimmed with no decision yet (three trimmed samples were decided).
    assert_eq!(rep.flagged, flagged.len() - 3);
    assert_eq!((rep.excluded, rep.relabelled), (1, 2));
    let labels: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dst.join("labels.json")).unwrap()).unwrap();
    let classes: Vec<String> = serde_json::from_value(labels["classes"].clone()).unwrap();
    assert_eq!(classes, d.classes);
    let map = labels["labels"].as_object().unwrap();
    assert_eq!(map.len(), d.len());
    let tags: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dst.join("tags.json")).unwrap()).unwrap();
    let files: BTreeMap<String, PathBuf> = std::fs::read_dir(dst.join("data"))
        .unwrap()
        .map(|e| {
            let p = e.unwrap().path();
            (p.file_stem().unwrap().to_string_lossy().into_owned(), p)
        })
        .collect();
    assert_eq!(files.len(), d.len());
    // Sorted uuids (FiftyOne imports them sorted) are the dataset order.
    let keys: Vec<&String> = map.keys().collect();
    for (i, key) in keys.iter().enumerate() {
        assert_eq!(**key, fiftyone_uuid(i, d.len(), &d.ids[i]));
        let t = &map[key.as_str()];
        // The target: the given class's index into `classes`, p(given) as confidence.
        assert_eq!(t["label"].as_u64().unwrap(), u64::from(d.labels[i]));
        let conf = t["confidence"].as_f64().unwrap();
        assert!((conf as f32 - sh.record.p_given[i]).abs() < 1e-6);
        assert_eq!(t["attributes"]["itlm_path"], d.ids[i].as_str());
        assert_eq!(t["attributes"]["itlm_trimmed"], !sh.kept[i]);
        let undecided = decisions.get(i).is_none();
        assert_eq!(t["attributes"]["itlm_flagged"], !sh.kept[i] && undecided);
        let sp = t["attributes"]["itlm_spectral"].as_f64().unwrap();
        assert!((sp as f32 - sh.record.spectral[i]).abs() < 1e-5);
        let label_tags: Vec<String> =
            serde_json::from_value(t["attributes"]["tags"].clone()).unwrap();
        let sample_tags: Vec<String> = serde_json::from_value(tags[key.as_str()].clone()).unwrap();
        assert_eq!(label_tags, sample_tags);
        assert_eq!(label_tags.contains(&"trimmed".to_string()), !sh.kept[i]);
        // Flagged as labels.csv says it: trimmed, no decision yet.
        assert_eq!(
            label_tags.contains(&"flagged".to_string()),
            !sh.kept[i] && undecided
        );
        let want = match decisions.get(i) {
            Some(Decision::Exclude) => Some("excluded"),
            Some(Decision::Relabel(_)) => Some("relabelled"),
            Some(Decision::Keep) => Some("kept_by_user"),
            None => None,
        };
        assert_eq!(
            label_tags
                .iter()
                .find(|t| *t != "flagged" && *t != "trimmed")
                .map(|s| s.as_str()),
            want
        );
        // The file is there, with the original's bytes.
        let f = &files[key.as_str()];
        assert_eq!(
            std::fs::read(f).unwrap(),
            std::fs::read(root.join(&d.ids[i])).unwrap(),
            "{}",
            f.display()
        );
    }
    assert!(dst.join("load_fiftyone.py").is_file());
    // Never into the dataset; a second export into the same folder is refused.
    assert_eq!(snapshot(&root), before);
    assert!(write_fiftyone(&run, None, None, None, None, &dst).is_err());
    let inside = root.join("fo");
    let e = write_fiftyone(&run, None, None, None, None, &inside).unwrap_err();
    assert!(!inside.exists(), "{e}");
    assert_eq!(snapshot(&root), before);
}

#[test]
fn cli_report_and_ecosystem_exports() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("set");
    image_folder(&root);
    let before = snapshot(&root);
    let (run, _) = make_run(&root);
    let (decisions, _) = decide(&run);
    let out = tmp.path().join("out");
    export::write_all(&out, &run, Overwrite::Refuse).unwrap();
    let run_path = out.join(export::RUN_FILE);
    // The journal beside the run, as the window writes it.
    let (mut j, _, _) = Journal::open(
        &out.join("decisions.csv"),
        &run.dataset.ids,
        &run.dataset.classes,
        &run.dataset.sources(),
    )
    .unwrap();
    let entries: Vec<_> = decisions
        .iter()
        .map(|(index, d)| itlm_inspector::session::decisions::Entry {
            index,
            decision: Some(d),
        })
        .collect();
    j.append(&entries).unwrap();
    drop(j);
    let html = tmp.path().join("report.html");
    let o = Command::new(BIN)
        .arg("report")
        .arg(&run_path)
        .arg("--out")
        .arg(&html)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{err}");
    assert!(err.contains("decisions beside the run"), "{err}");
    let h = std::fs::read_to_string(&html).unwrap();
    check_html(&h);
    assert_eq!(
        data_attr(&h, "<section id=\"decisions\"", "data-decided"),
        4
    );
    // The decided samples by name, with their thumbnails.
    let table = &h[h.find("<table class=\"decided\"").unwrap()..];
    let table = &table[..table.find("</table>").unwrap()];
    for (i, _) in decisions.iter() {
        let at = table
            .find(&format!("<tr data-index=\"{i}\""))
            .unwrap_or_else(|| panic!("sample {i} not in {table}"));
        let row = &table[at..at + table[at..].find("</tr>").unwrap()];
        assert!(row.contains("data:image/png;base64,"), "{row}");
    }
    // Thumbnails from the reloaded folder: the top flagged, then the image checks'.
    let checks_at = h
        .find("<section id=\"image-checks\"")
        .expect("image checks");
    assert_eq!(h[..checks_at].matches("data:image/png;base64,").count(), 6);
    let checks = &h[checks_at..];
    let checks = &checks[..checks.find("</section>").unwrap()];
    let figures = checks.matches("<figure class=\"sample\"").count();
    assert!(figures > 0);
    assert_eq!(checks.matches("data:image/png;base64,").count(), figures);
    // Again without --force: refused, the file kept.
    let o = Command::new(BIN)
        .arg("report")
        .arg(&run_path)
        .arg("--out")
        .arg(&html)
        .output()
        .unwrap();
    assert!(!o.status.success());
    assert_eq!(std::fs::read_to_string(&html).unwrap(), h);
    // Inside the dataset: refused.
    let o = Command::new(BIN)
        .arg("report")
        .arg(&run_path)
        .arg("--out")
        .arg(root.join("r.html"))
        .output()
        .unwrap();
    assert!(!o.status.success());
    let csv = tmp.path().join("issues.csv");
    let fo = tmp.path().join("fo");
    let o = Command::new(BIN)
        .arg("export")
        .arg(&run_path)
        .arg("--cleanlab")
        .arg(&csv)
        .arg("--fiftyone")
        .arg(&fo)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{err}");
    assert_eq!(
        std::fs::read_to_string(&csv).unwrap(),
        label_issues_csv(&run, None, Some(&decisions), None).unwrap()
    );
    assert!(fo.join("labels.json").is_file());
    assert_eq!(
        std::fs::read_dir(fo.join("data")).unwrap().count(),
        run.dataset.len()
    );

    // --image-checks: the checks' columns follow the label ones, a tag per issue in FiftyOne.
    let o = Command::new(BIN)
        .args(["export", s(&run_path), "--image-checks", "--pred-probs"])
        .arg(tmp.path().join("p.csv"))
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        !o.status.success() && err.contains("give one of them"),
        "{err}"
    );
    let csv2 = tmp.path().join("issues2.csv");
    let fo2 = tmp.path().join("fo2");
    let o = Command::new(BIN)
        .args([
            "export",
            s(&run_path),
            "--image-checks",
            "--cleanlab",
            s(&csv2),
        ])
        .args(["--fiftyone", s(&fo2)])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{err}");
    assert!(err.contains("image checks: "), "{err}");
    let text = std::fs::read_to_string(&csv2).unwrap();
    let mut r = csv::Reader::from_reader(text.as_bytes());
    let header: Vec<String> = r.headers().unwrap().iter().map(String::from).collect();
    assert_eq!(header[..5].join(","), LABEL_ISSUES_HEADER);
    assert_eq!(header.len(), 5 + 2 * 9, "{header:?}");
    let col = |name: &str| header.iter().position(|h| h == name).unwrap();
    let (is_dark, dark_score) = (col("is_dark_issue"), col("dark_score"));
    col("is_near_duplicates_issue");
    let rows: Vec<csv::StringRecord> = r.records().map(|x| x.unwrap()).collect();
    // The label columns are the table's without the checks.
    let plain = label_issues_csv(&run, None, Some(&decisions), None).unwrap();
    let plain: Vec<csv::StringRecord> = csv::Reader::from_reader(plain.as_bytes())
        .records()
        .map(|x| x.unwrap())
        .collect();
    assert_eq!(rows.len(), plain.len());
    for (row, want) in rows.iter().zip(&plain) {
        let first: Vec<&str> = row.iter().take(5).collect();
        assert_eq!(first, want.iter().collect::<Vec<_>>());
    }
    // Each image is one grey value, darker with the index: the dark ones score lowest.
    let dark: Vec<f32> = rows
        .iter()
        .filter(|r| &r[is_dark] == "True")
        .map(|r| r[dark_score].parse().unwrap())
        .collect();
    let light: Vec<f32> = rows
        .iter()
        .filter(|r| &r[is_dark] == "False")
        .map(|r| r[dark_score].parse().unwrap())
        .collect();
    assert!(!dark.is_empty() && !light.is_empty(), "{text}");
    let worst_clean = light.iter().copied().fold(f32::INFINITY, f32::min);
    assert!(
        dark.iter().all(|&d| d < worst_clean),
        "{dark:?} {worst_clean}"
    );
    // FiftyOne: the dark samples carry the tag, in tags.json and the label's attributes.
    let tags: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(fo2.join("tags.json")).unwrap()).unwrap();
    let tagged_dark = tags
        .as_object()
        .unwrap()
        .values()
        .filter(|t| t.as_array().unwrap().iter().any(|x| x == "dark"))
        .count();
    assert_eq!(tagged_dark, dark.len());
    let labels = std::fs::read_to_string(fo2.join("labels.json")).unwrap();
    assert!(labels.contains("\"itlm_image_issues\""), "{labels}");
    assert_eq!(snapshot(&root), before);
}

/// A run that chose its tau from the data says so beside the shown cut; one that was given
/// its tau does not.
#[test]
fn the_report_says_when_the_data_chose_the_tau() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("set");
    image_folder(&root);
    let (mut run, _data) = make_run(&root);
    let input = |run: &RunFile| {
        render(&ReportInput {
            run,
            round: None,
            decisions: None,
            images: None,
            top: 3,
            status_note: None,
        })
        .unwrap()
    };
    assert!(!input(&run).contains("from the data"));
    run.config.tau_from_data = true;
    let h = input(&run);
    assert!(
        h.contains("tau 0.750 (the exported cut; tau from the data: the share round 0's model does not confidently contradict)"),
        "{}",
        &h[..h.len().min(2000)]
    );
}

/// The histograms draw each round's cut for every selection rule, where the window draws it
/// (the largest loss the rule keeps), and name the rule with its own help; a floored class's
/// floor above the global cut moves the line and says so.
#[test]
fn the_report_draws_the_cut_of_every_selection_and_names_it() {
    use itlm_inspector::choice::Choice;
    use itlm_inspector::itlm::select::cut_line;
    use itlm_inspector::itlm::Selection;
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("set");
    image_folder(&root);
    let (mut run, _) = make_run(&root);
    // The last round's losses: class 2's the highest, so that the global cut at 0.75 keeps
    // only 2 of its 8 and its floor (ceil(0.375 * 8) = 3) keeps one more.
    let n = run.dataset.len();
    let last = run.rounds.len() - 1;
    let labels = run.dataset.labels.clone();
    let r = std::sync::Arc::make_mut(&mut run.rounds[last]);
    r.score = (0..n)
        .map(|i| labels[i] as f32 + 0.01 * (i % PER_CLASS) as f32)
        .collect();
    r.loss = r.score.clone();
    let short = |v: f32| {
        let v = v as f64;
        if v >= 1.0 {
            format!("{v:.2}")
        } else {
            format!("{v:.3}")
        }
    };
    for rule in Selection::ALL.iter().copied() {
        run.config.select = rule;
        let h = render(&ReportInput::new(&run)).unwrap();
        check_html(&h);
        assert!(!h.contains("none is drawn"), "{rule}");
        assert!(
            h.contains(&format!(
                "Selection: <b>{}</b> &mdash; {}.",
                rule.name(),
                itlm_inspector::export::report::esc(rule.help())
            )),
            "{rule}"
        );
        assert_eq!(
            h.matches("class=\"cut\"").count(),
            run.rounds.len(),
            "{rule}"
        );
        for r in &run.rounds {
            let tau = if r.round == run.rounds[last].round {
                shown(&run, None).unwrap().tau
            } else {
                r.tau
            };
            let (_, line) = cut_line(rule, &r.score, &labels, 3, tau, None);
            let fig = &h[h
                .find(&format!("<figure data-round=\"{}\"", r.round))
                .unwrap()..];
            let fig = &fig[..fig.find("</figure>").unwrap()];
            let line = line.unwrap();
            assert!(
                fig.contains(&format!(">cut {}</text>", short(line))),
                "{rule} round {}: no cut at {line}",
                r.round
            );
        }
        let fig = &h[h.find(&format!("<figure data-round=\"{}\"", last)).unwrap()..];
        let fig = &fig[..fig.find("</figure>").unwrap()];
        match rule {
            Selection::Floored => {
                // The floor's sample: class 2's third lowest, 2.02.
                assert!(fig.contains(">cut 2.02</text>"), "{fig}");
                assert!(
                    fig.contains("the class floors kept 1 beyond the global cut"),
                    "{fig}"
                );
            }
            _ => assert!(!fig.contains("floors"), "{fig}"),
        }
    }
}

/// A run that forward-corrected on auto's shorter schedule: the summary at the top says the
/// rounds that ran and what was used, and the config table marks the configured rounds
/// beside the rounds run.
#[test]
fn the_report_says_what_the_run_did_beside_what_was_configured() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("set");
    image_folder(&root);
    let (mut run, _) = make_run(&root);
    // As a default run on a noisy set leaves it: 4 rounds configured, rounds 1 and 2 through
    // a matrix (forward correction's schedule: one forward round, then the final model).
    assert_eq!(run.rounds.len(), 3);
    run.config.rounds = 4;
    run.config.transition = itlm::Forward::Auto;
    for r in &mut run.rounds[1..] {
        let r = std::sync::Arc::make_mut(r);
        r.transition = vec![1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0];
    }
    let h = render(&ReportInput::new(&run)).unwrap();
    check_html(&h);
    let at = h.find("<ul class=\"ran\"").expect("no summary of what ran");
    assert!(
        at < h.find("<section id=\"metrics\"").unwrap(),
        "not at the top"
    );
    let ran = &h[at..at + h[at..].find("</ul>").unwrap()];
    assert_eq!(data_attr(ran, "<ul", "data-rounds"), 3);
    assert_eq!(data_attr(ran, "<ul", "data-forward-rounds"), 2);
    let li = |what: &str| {
        let a = ran
            .find(&format!("<li data-what=\"{what}\">"))
            .unwrap_or_else(|| panic!("no {what}: {ran}"));
        &ran[a..a + ran[a..].find("</li>").unwrap()]
    };
    assert!(
        li("rounds-run").contains("3 (rounds 0 to 2); forward correction&#39;s shorter schedule"),
        "{ran}"
    );
    assert!(
        li("rounds-run").contains("configured: 4 rounds after round 0, rounds 0 to 4"),
        "{ran}"
    );
    assert!(
        li("forward-correction").contains("used (auto): rounds 1 to 2 trained through"),
        "{ran}"
    );
    for what in ["co-teaching", "automatic-relabelling", "clustering-cut"] {
        assert!(li(what).contains("not used"), "{ran}");
    }
    // The config table: the configured rounds marked so, beside the rounds run.
    let cfg = &h[h.find("<section id=\"config\"").unwrap()..];
    assert!(!cfg.contains("<th class=\"l\">itlm.rounds</th>"), "{cfg}");
    assert!(cfg.contains(
        "<tr><th class=\"l\">itlm.rounds (configured: trim-and-retrain rounds after round 0)</th><td class=\"l\">4</td></tr>\n<tr><th class=\"l\">rounds run</th><td class=\"l\">3 (rounds 0 to 2)"
    ), "{cfg}");
    assert!(
        cfg.contains("<th class=\"l\">forward correction (ran)</th><td class=\"l\">used (auto)")
    );
    assert!(cfg.contains("<th class=\"l\">itlm.select</th><td class=\"l\">global</td>"));
    // A head on embeddings trained: the model row says so, not the unused `Cnn` setting.
    let mut head = run.clone();
    head.learner_description = "linear head on efficientnet-lite0 224px embeddings".into();
    let h = render(&ReportInput::new(&head)).unwrap();
    let cfg = &h[h.find("<section id=\"config\"").unwrap()..];
    assert!(
        cfg.contains("<th class=\"l\">learner.model</th><td class=\"l\">linear head on embeddings (see learner)</td>"),
        "{cfg}"
    );
    // A plain run: its rounds, nothing used.
    let (plain, _) = make_run(&root);
    let h = render(&ReportInput::new(&plain)).unwrap();
    let at = h.find("<ul class=\"ran\"").unwrap();
    let ran = &h[at..at + h[at..].find("</ul>").unwrap()];
    assert!(
        ran.contains("<b>rounds run:</b> 3 (rounds 0 to 2)</li>"),
        "{ran}"
    );
    assert!(ran.contains("<b>forward correction:</b> not used"), "{ran}");
}

/// The decisions section names every decided sample: its thumbnail, id, given label,
/// decision, new label, loss and whether the shown cut flags it; past the cap, how many more
/// and where they all are.
#[test]
fn the_report_names_the_decided_samples() {
    use itlm_inspector::export::report::DECIDED_SHOWN;
    let n = DECIDED_SHOWN + 50;
    let data = common::dataset(n, 3);
    let losses: Vec<f32> = (0..n).map(|i| i as f32 * 0.01).collect();
    let (mut l, _) = FakeLearner::new(losses);
    let config = Config {
        tau: 0.5,
        rounds: 1,
        epochs: 1.0,
        final_epochs: 1,
        ..Default::default()
    };
    let mut rounds = Vec::new();
    itlm::run(
        &mut l,
        itlm::Inputs {
            data: &data,
            eval: Default::default(),
            bad: None,
            true_labels: None,
            pins: None,
        },
        &config,
        Start::Fresh,
        &mut rounds,
        &mut Quiet,
    )
    .unwrap();
    let run = RunFile {
        config,
        learner: LearnerConfig::default(),
        learner_description: "fake".into(),
        dataset: DatasetInfo::of(&data),
        truth: None,
        rounds,
        status: RunStatus::Finished,
        verdict: None,
        elapsed_secs: 0.1,
    };
    let sh = shown(&run, None).unwrap();
    // One excluded sample, kept by the cut (the user's report: "excluded 1, of them flagged
    // 0" and nothing else).
    let mut one = Decisions::new(n);
    one.set(&[3], Some(Decision::Exclude));
    assert!(sh.kept[3]);
    let input = |d| ReportInput {
        run: &run,
        round: None,
        decisions: Some(d),
        images: Some(&data),
        top: 4,
        status_note: None,
    };
    let h = render(&input(&one)).unwrap();
    check_html(&h);
    let table = &h[h.find("<table class=\"decided\"").expect("no table")..];
    let table = &table[..table.find("</table>").unwrap()];
    assert_eq!(data_attr(table, "<table", "data-rows"), 1);
    let at = table.find("<tr data-index=\"3\"").unwrap();
    let row = &table[at..at + table[at..].find("</tr>").unwrap()];
    assert!(row.contains("data-decision=\"exclude\""), "{row}");
    assert!(row.contains("data:image/png;base64,"), "{row}");
    assert!(
        row.contains("<td class=\"l\">s3.png</td><td class=\"l\">c0</td><td class=\"l\"><span class=\"badge b-exclude\">excluded</span></td><td class=\"l\"></td><td>0.030</td><td class=\"l\">kept</td>"),
        "{row}"
    );
    assert!(!h.contains("more (labels.csv"));
    // Past the cap: the highest losses first, then how many more.
    let mut many = Decisions::new(n);
    for i in 0..DECIDED_SHOWN + 20 {
        let d = if i % 2 == 0 {
            Decision::Relabel((data.label(i) + 1) % 3)
        } else {
            Decision::Keep
        };
        many.set(&[i], Some(d));
    }
    let h = render(&input(&many)).unwrap();
    check_html(&h);
    let table = &h[h.find("<table class=\"decided\"").unwrap()..];
    let table = &table[..table.find("</table>").unwrap()];
    assert_eq!(data_attr(table, "<table", "data-rows"), DECIDED_SHOWN);
    assert_eq!(data_attr(table, "<table", "data-more"), 20);
    assert_eq!(table.matches("<tr data-index=").count(), DECIDED_SHOWN);
    assert_eq!(
        table.matches("data:image/png;base64,").count(),
        DECIDED_SHOWN
    );
    // The highest loss decided is the last one; the 20 lowest are left out.
    assert!(table.contains(&format!("<tr data-index=\"{}\"", DECIDED_SHOWN + 19)));
    assert!(!table.contains("<tr data-index=\"19\""));
    assert!(table.contains("<tr data-index=\"20\""));
    // A relabel names its new label; a flagged sample says so.
    let i = DECIDED_SHOWN + 18;
    assert!(!sh.kept[i]);
    let at = table.find(&format!("<tr data-index=\"{i}\"")).unwrap();
    let row = &table[at..at + table[at..].find("</tr>").unwrap()];
    let new = format!("c{}", (data.label(i) + 1) % 3);
    assert!(
        row.contains(&format!("relabelled</span></td><td class=\"l\">{new}</td>")),
        "{row}"
    );
    assert!(row.contains(">flagged</td>"), "{row}");
    assert!(h.contains("&hellip; and 20 more (labels.csv / decisions.csv has them all)."));
}

/// Samples the run relabelled itself (`--relabel` before the final round, the clustering
/// cut's repairs), which the final model trained under their new class, are exported as
/// relabelled unless the user decided otherwise: labels.csv gives their new class (by `run`,
/// written even without a decisions file), clean.txt and the clean copy hold them (under that
/// class), flagged.txt leaves them out, samples.csv names the class, FiftyOne tags them. They
/// had been exported as plain flagged samples, their new class nowhere.
#[test]
fn the_runs_own_relabels_are_exported_as_relabels() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("set");
    image_folder(&root);
    let (mut run, _) = make_run(&root);
    let n = run.dataset.len();
    let sh = shown(&run, None).unwrap();
    let flagged: Vec<usize> = (0..n).filter(|&i| !sh.kept[i]).take(2).collect();
    assert_eq!(flagged.len(), 2);
    // The last early round relabelled two samples the verdict trims.
    let to = |i: usize| (run.dataset.labels[i] + 1) % 3;
    let (a, b) = (flagged[0], flagged[1]);
    {
        let r1 = std::sync::Arc::make_mut(&mut run.rounds[1]);
        r1.relabelled = vec![None; n];
        r1.relabelled[a] = Some(to(a));
        r1.relabelled[b] = Some(to(b));
    }
    let (ida, idb) = (run.dataset.ids[a].clone(), run.dataset.ids[b].clone());
    let class = |c: u32| run.dataset.classes[c as usize].clone();

    let clean = export::clean_list(&run, None).unwrap();
    assert!(clean.lines().any(|l| l == ida) && clean.lines().any(|l| l == idb));
    let flagged_txt = export::flagged_list(&run, None).unwrap();
    assert!(!flagged_txt.contains(&ida) && !flagged_txt.contains(&idb));

    // labels.csv: the run's class, by run; a user's exclusion of one wins.
    let rows = |text: &str| -> BTreeMap<String, Vec<String>> {
        let mut r = csv::Reader::from_reader(text.as_bytes());
        assert_eq!(
            r.headers().unwrap().iter().collect::<Vec<_>>(),
            ["path", "label", "given", "decision", "score", "flagged", "by"]
        );
        r.records()
            .map(|x| {
                let x = x.unwrap();
                (x[0].to_string(), x.iter().map(String::from).collect())
            })
            .collect()
    };
    let mut user = Decisions::new(n);
    let t = rows(&export::labels_csv(&run, &user).unwrap());
    assert_eq!(t[&ida][1], class(to(a)));
    assert_eq!(
        (
            t[&ida][3].as_str(),
            t[&ida][5].as_str(),
            t[&ida][6].as_str()
        ),
        ("relabel", "0", "run")
    );
    user.set(&[a], Some(Decision::Exclude));
    let t = rows(&export::labels_csv(&run, &user).unwrap());
    assert_eq!(
        (
            t[&ida][1].as_str(),
            t[&ida][3].as_str(),
            t[&ida][6].as_str()
        ),
        ("", "exclude", "user")
    );
    assert_eq!(t[&idb][6], "run");
    let undecided = (0..n).find(|&i| i != a && i != b).unwrap();
    assert_eq!(t[&run.dataset.ids[undecided]][6], "");

    // The clean copy places them under their new class.
    let plan = export::clean_copy::placements(&run, None, false).unwrap();
    for i in [a, b] {
        let p = plan.iter().find(|p| p.index == i).expect("placed");
        assert_eq!(p.class, to(i));
    }

    // samples.csv names the run's class.
    let samples = export::samples_csv(&run).unwrap();
    let mut r = csv::Reader::from_reader(samples.as_bytes());
    let col = r
        .headers()
        .unwrap()
        .iter()
        .position(|h| h == "run_relabel")
        .expect("column");
    for x in r.records() {
        let x = x.unwrap();
        let want = if x[0] == ida {
            class(to(a))
        } else if x[0] == idb {
            class(to(b))
        } else {
            String::new()
        };
        assert_eq!(x[col], want, "{}", &x[0]);
    }

    // FiftyOne: tagged relabelled, by the run.
    let (labels, _) = export::ecosystem::fiftyone_labels(&run, None, None, None).unwrap();
    let uuid = fiftyone_uuid(a, n, &ida);
    let attrs = &labels["labels"][&uuid]["attributes"];
    assert!(attrs["tags"]
        .as_array()
        .unwrap()
        .iter()
        .any(|t| t == "relabelled"));
    assert_eq!(attrs["itlm_decided_by"], "run");
    assert_eq!(attrs["itlm_relabel"], class(to(a)).as_str());

    // The output set writes labels.csv without a decisions file.
    let out = tmp.path().join("out");
    let files = export::write_all(&out, &run, Overwrite::Refuse).unwrap();
    assert!(files.iter().any(|f| f.ends_with("labels.csv")), "{files:?}");
    // A run that relabelled none writes none.
    let (plain, _) = make_run(&root);
    let out2 = tmp.path().join("out2");
    let files = export::write_all(&out2, &plain, Overwrite::Refuse).unwrap();
    assert!(
        !files.iter().any(|f| f.ends_with("labels.csv")),
        "{files:?}"
    );
}

/// `export --pred-probs FILE`: cleanlab's pred_probs, a column per class (hostile names
/// quoted) after the path, the verdict round's probabilities in dataset order; refused without
/// probabilities, never written into the dataset.
#[test]
fn export_writes_pred_probs() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("set");
    image_folder(&root);
    let (mut run, _) = make_run(&root);
    let n = run.dataset.len();
    let k = run.dataset.classes.len();
    let run_path = tmp.path().join("run.itlm");
    let write = |run: &RunFile| {
        export::write_atomic(&run_path, &run.to_bytes().unwrap(), Overwrite::Allow).unwrap()
    };
    let export_probs = |to: &Path| {
        Command::new(BIN)
            .arg("export")
            .arg(&run_path)
            .arg("--pred-probs")
            .arg(to)
            .output()
            .unwrap()
    };
    // The fake learner gave no probabilities: refused, with why.
    write(&run);
    let o = export_probs(&tmp.path().join("none.csv"));
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("no class probabilities"));
    for r in &mut run.rounds {
        let r = std::sync::Arc::make_mut(r);
        r.probs = (0..n * k)
            .map(|j| {
                let (i, c) = (j / k, j % k);
                if c as u32 == r.predicted[i] {
                    0.8
                } else {
                    0.1
                }
            })
            .collect();
    }
    write(&run);
    let before = snapshot(&root);
    let o = export_probs(&tmp.path().join("probs.csv"));
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(snapshot(&root), before);
    // The verdict's round trained on what it scored: said (cleanlab reads pred_probs as
    // out-of-fold; nothing said so, and the help promised out-of-fold with --folds).
    let e = String::from_utf8_lossy(&o.stderr).into_owned();
    let last = run.rounds.last().unwrap();
    assert!(
        e.contains(&format!(
            "note: these are round {}'s in-sample probabilities: its model trained on {} of the {n} samples",
            last.round, last.trained_on
        )),
        "{e}"
    );
    // A run of --folds 2: its early round is out of fold, and its export says nothing.
    let mut folded = run.clone();
    folded.config.folds = 2;
    write(&folded);
    let o = Command::new(BIN)
        .arg("export")
        .arg(&run_path)
        .args(["--round", "1", "--pred-probs"])
        .arg(tmp.path().join("oof.csv"))
        .output()
        .unwrap();
    let e = String::from_utf8_lossy(&o.stderr).into_owned();
    assert!(o.status.success(), "{e}");
    assert!(!e.contains("in-sample"), "{e}");
    // Its final round is in-sample, and the note names the round that is not.
    let e =
        String::from_utf8_lossy(&export_probs(&tmp.path().join("last.csv")).stderr).into_owned();
    assert!(e.contains("round 1 of this run is (--round 1)"), "{e}");
    write(&run);
    // pred_probs: path and a column per class (hostile names quoted), the verdict round's
    // probabilities, in dataset order.
    let probs = std::fs::read_to_string(tmp.path().join("probs.csv")).unwrap();
    let mut r = csv::Reader::from_reader(probs.as_bytes());
    let header: Vec<String> = r.headers().unwrap().iter().map(String::from).collect();
    assert_eq!(header[0], "path");
    assert_eq!(&header[1..], run.dataset.classes.as_slice());
    let sh = shown(&run, None).unwrap();
    let k = run.dataset.classes.len();
    let rows: Vec<csv::StringRecord> = r.records().map(|x| x.unwrap()).collect();
    assert_eq!(rows.len(), run.dataset.len());
    for (i, row) in rows.iter().enumerate() {
        assert_eq!(&row[0], run.dataset.ids[i].as_str());
        let p: Vec<f32> = row.iter().skip(1).map(|x| x.parse().unwrap()).collect();
        for (a, b) in p.iter().zip(sh.record.probs_of(i, k)) {
            assert!((a - b).abs() < 1e-5, "row {i}: {p:?}");
        }
    }
}

/// The label health of the shown cut, as the report's section and health.csv give it: every
/// class's samples and flagged, worst first, the class its flagged samples are mostly
/// predicted as, and the pairs given -> predicted among the flagged; counted here from the
/// cut and the predictions on their own.
#[test]
fn the_report_and_health_csv_give_the_label_health_of_the_cut() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("set");
    image_folder(&root);
    let (run, _) = make_run(&root);
    let sh = shown(&run, None).unwrap();
    let d = &run.dataset;
    let k = d.classes.len();
    let mut samples = vec![0usize; k];
    let mut cells = vec![0usize; k * k];
    for i in 0..d.len() {
        let g = d.labels[i] as usize;
        samples[g] += 1;
        if !sh.kept[i] {
            cells[g * k + sh.record.predicted[i] as usize] += 1;
        }
    }
    let flagged: Vec<usize> = (0..k)
        .map(|g| cells[g * k..(g + 1) * k].iter().sum())
        .collect();
    assert!(
        flagged.iter().sum::<usize>() > 0
            && cells
                .iter()
                .enumerate()
                .any(|(c, &n)| n > 0 && c / k != c % k)
    );

    let h = render(&ReportInput::new(&run)).unwrap();
    check_html(&h);
    let at = h.find("<section id=\"health\"").expect("a health section");
    let section = &h[at..at + h[at..].find("</section>").unwrap()];
    let total: usize = flagged.iter().sum();
    assert!(section.contains(&format!("{total} flagged")), "{section}");
    // Rows in the order worst first; each with its counts.
    let mut last_share = f64::INFINITY;
    let mut rows = 0;
    let mut hot = 0;
    for row in section.split("<tr").filter(|r| r.contains("data-class=")) {
        let c: usize = row
            .split("data-class=\"")
            .nth(1)
            .unwrap()
            .split('"')
            .next()
            .unwrap()
            .parse()
            .unwrap();
        let share = flagged[c] as f64 / samples[c] as f64;
        assert!(share <= last_share, "not worst first: {section}");
        last_share = share;
        assert!(
            row.contains(&format!("<td>{}</td><td>{}</td>", samples[c], flagged[c])),
            "class {c}: {row}"
        );
        // Highlighted where well above the overall share (at first every class within 3/4
        // of the worst was: with the noise spread evenly, every row).
        let overall = total as f64 / d.len() as f64;
        assert_eq!(
            row.starts_with(" class=\"hot\""),
            share >= 1.25 * overall,
            "class {c} at {share} of overall {overall}: {row}"
        );
        hot += usize::from(row.starts_with(" class=\"hot\""));
        rows += 1;
    }
    assert_eq!(rows, k);
    assert!(hot < k, "every class highlighted");
    let pairs = section.matches("<tr data-pair=").count();
    let want_pairs = (0..k * k)
        .filter(|&c| c / k != c % k && cells[c] > 0)
        .count();
    assert_eq!(pairs, want_pairs.min(10));

    // health.csv in the output set: the same counts.
    let out = tmp.path().join("out");
    export::write_all(&out, &run, Overwrite::Refuse).unwrap();
    let csv = std::fs::read_to_string(out.join(export::HEALTH_CSV)).unwrap();
    let mut lines = csv.lines();
    assert_eq!(
        lines.next(),
        Some("section,class,predicted,samples,flagged,share,predicted_count,note")
    );
    let overall = lines.next().unwrap();
    assert!(
        overall.starts_with(&format!("overall,,,{},{total},", d.len())),
        "{overall}"
    );
    let mut class_rows = 0;
    let mut pair_sum = 0;
    for line in csv.lines().skip(2) {
        // Class names are quoted where they hold a comma; the note is empty but on the
        // overall row; the numbers are the 4 fields before it.
        let line = line.strip_suffix(',').expect(line);
        let f: Vec<&str> = line.rsplitn(5, ',').collect();
        let (n, fl, count) = (
            f[3].parse::<usize>().unwrap(),
            f[2].parse::<usize>().unwrap(),
            f[0],
        );
        if line.starts_with("class,") {
            let c = (0..k)
                .find(|&c| samples[c] == n && flagged[c] == fl)
                .expect(line);
            let _ = c;
            class_rows += 1;
        } else {
            assert!(line.starts_with("pair,"), "{line}");
            assert_eq!(count.parse::<usize>().unwrap(), fl);
            pair_sum += fl;
        }
    }
    assert_eq!(class_rows, k);
    let off_diagonal: usize = (0..k * k)
        .filter(|&c| c / k != c % k)
        .map(|c| cells[c])
        .sum();
    assert_eq!(
        pair_sum, off_diagonal,
        "with 3 classes every pair is listed"
    );
}
