//! Human-guided ITLM from the command line: `run --decisions FILE` trains with the user's
//! decisions (excluded samples never kept, kept ones always, relabelled ones under their new
//! class), writes the corrected labels and follows them in the clean copy; `export --decisions`
//! does the same for a saved run; a decisions file with problems is reported, one of another
//! dataset refused, and nothing is ever written into the dataset folder.

mod common;

use common::cli::{image_of, run, s, stderr, succeeds};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::time::SystemTime;

const FAST: [&str; 11] = [
    "--model",
    "mlp",
    "--rounds",
    "1",
    "--epochs",
    "1",
    "--final-epochs",
    "2",
    "--tau",
    "0.8",
    "-q",
];

/// `root/<class>/<i>.png`, `per_class` each; the first image of each class shows the next class.
fn image_folder(root: &Path, classes: &[&str], per_class: usize) {
    for (c, name) in classes.iter().enumerate() {
        std::fs::create_dir_all(root.join(name)).unwrap();
        for i in 0..per_class {
            let shown = if i == 0 { (c + 1) % classes.len() } else { c };
            image_of(shown, i)
                .save(root.join(name).join(format!("{i:02}.png")))
                .unwrap();
        }
    }
}

fn snapshot(dir: &Path) -> BTreeMap<PathBuf, (u64, SystemTime)> {
    walkdir::WalkDir::new(dir)
        .into_iter()
        .map(|e| {
            let e = e.unwrap();
            let m = e.metadata().unwrap();
            (e.path().to_path_buf(), (m.len(), m.modified().unwrap()))
        })
        .collect()
}

fn files_under(dir: &Path) -> BTreeSet<String> {
    walkdir::WalkDir::new(dir)
        .into_iter()
        .map(|e| e.unwrap())
        .filter(|e| e.file_type().is_file())
        .map(|e| {
            e.path()
                .strip_prefix(dir)
                .unwrap()
                .to_string_lossy()
                .replace('\\', "/")
        })
        .collect()
}

fn lines(p: &Path) -> BTreeSet<String> {
    std::fs::read_to_string(p)
        .unwrap()
        .lines()
        .map(String::from)
        .collect()
}

/// labels.csv as path -> (label, given, decision).
fn labels(p: &Path) -> BTreeMap<String, (String, String, String)> {
    let text = std::fs::read_to_string(p).unwrap();
    let mut it = text.lines();
    assert_eq!(
        it.next(),
        Some("path,label,given,decision,score,flagged,by")
    );
    it.map(|l| {
        let f: Vec<&str> = l.split(',').collect();
        assert_eq!(f.len(), 7, "{l}");
        assert!(f[4].parse::<f32>().is_ok(), "{l}");
        assert!(f[5] == "0" || f[5] == "1", "{l}");
        // Who decided: the user where there is a decision (this run relabelled nothing).
        assert_eq!(f[6], if f[3].is_empty() { "" } else { "user" }, "{l}");
        (f[0].into(), (f[1].into(), f[2].into(), f[3].into()))
    })
    .collect()
}

#[test]
fn a_run_with_decisions_pins_relabels_and_exports_what_was_decided() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    image_folder(&data, &["a", "b", "c"], 10);
    let before = snapshot(&data);

    // Plain ITLM first: what it keeps and trims.
    let plain = tmp.path().join("plain");
    let mut args = vec!["run", s(&data), "--out", s(&plain)];
    args.extend(FAST);
    succeeds(&run(&args));
    let plain_kept = lines(&plain.join("clean.txt"));
    assert_eq!(plain_kept.len(), 24, "tau 0.8 of 30");

    // Exclude a sample plain ITLM keeps, keep one it trims (or any if it trims none of the
    // mislabelled ones), relabel c/00.png (it shows class a) to a.
    let excluded = plain_kept
        .iter()
        .find(|p| p.starts_with("a/"))
        .unwrap()
        .clone();
    let trimmed: Vec<String> = (0..3)
        .flat_map(|c| (0..10).map(move |i| format!("{}/{i:02}.png", ["a", "b", "c"][c])))
        .filter(|p| !plain_kept.contains(p))
        .collect();
    let kept_by_me = trimmed
        .iter()
        .find(|p| *p != "c/00.png" && **p != excluded)
        .unwrap()
        .clone();
    let journal = tmp.path().join("my-decisions.csv");
    std::fs::write(
        &journal,
        format!(
            "path,decision,label,time\n{excluded},exclude,,2026-12-02T10:00:00Z\n\
             {kept_by_me},keep,,2026-12-02T10:00:01Z\nc/00.png,relabel,a,2026-12-02T10:00:02Z\n"
        ),
    )
    .unwrap();

    let out = tmp.path().join("out");
    let copy = tmp.path().join("copy");
    let mut args = vec![
        "run",
        s(&data),
        "--out",
        s(&out),
        "--decisions",
        s(&journal),
        "--clean-copy",
        s(&copy),
        "--flagged-folder",
    ];
    args.extend(FAST);
    let e = succeeds(&run(&args));
    assert!(e.contains("3 samples decided"), "{e}");
    assert!(
        e.contains("human-guided: 1 excluded never train; 1 kept and 1 relabelled"),
        "{e}"
    );

    let kept = lines(&out.join("clean.txt"));
    assert_eq!(kept.len(), 24, "the pins take places in tau's share");
    assert!(
        !kept.contains(&excluded),
        "an excluded sample is never kept"
    );
    assert!(kept.contains(&kept_by_me), "a kept sample is always kept");
    assert!(
        kept.contains("c/00.png"),
        "a relabelled sample is always kept"
    );

    let l = labels(&out.join("labels.csv"));
    assert_eq!(l.len(), 30);
    // flagged = trimmed by the verdict (not in clean.txt) and undecided.
    let text = std::fs::read_to_string(out.join("labels.csv")).unwrap();
    let mut still_flagged = 0;
    for row in text.lines().skip(1) {
        let f: Vec<&str> = row.split(',').collect();
        let want = f[3].is_empty() && !kept.contains(f[0]);
        assert_eq!(f[5] == "1", want, "{row}");
        still_flagged += usize::from(want);
    }
    assert!(still_flagged > 0, "some trimmed samples have no decision");
    let manifest = std::fs::read_to_string(out.join("manifest.txt")).unwrap();
    assert!(
        manifest.contains("labels.csv"),
        "run --decisions writes labels.csv in the set: {manifest}"
    );
    assert_eq!(l[&excluded], ("".into(), "a".into(), "exclude".into()));
    let kb_given = kept_by_me.split('/').next().unwrap().to_string();
    assert_eq!(l[&kept_by_me], (kb_given.clone(), kb_given, "keep".into()));
    assert_eq!(l["c/00.png"], ("a".into(), "c".into(), "relabel".into()));
    assert_eq!(l["b/05.png"].2, "");
    assert_eq!(
        std::fs::read(out.join("decisions.csv")).unwrap(),
        std::fs::read(&journal).unwrap(),
        "the decisions the run trained with are kept beside it"
    );
    assert!(
        manifest.contains("decisions.csv"),
        "and belong to the set: {manifest}"
    );
    // Exported again with the decisions beside it, the run's cut is the run's (its pins
    // included: the re-cut had dropped them, moving the kept sample out): the same files,
    // and the line says the counts they hold.
    let again = tmp.path().join("again");
    let e = succeeds(&run(&[
        "export",
        s(&out.join("run.itlm")),
        "--out",
        s(&again),
    ]));
    for f in ["clean.txt", "flagged.txt", "labels.csv", "samples.csv"] {
        assert_eq!(
            std::fs::read_to_string(again.join(f)).unwrap(),
            std::fs::read_to_string(out.join(f)).unwrap(),
            "{f}"
        );
    }
    assert!(e.contains("tau 0.800 (floored): 24 kept, 6 flagged"), "{e}");

    // The clean copy: kept samples in place, the relabelled one under a/, the excluded one
    // nowhere, the samples still flagged (no decision) under _flagged/<class>/.
    let copied = files_under(&copy);
    let flagged: BTreeSet<String> = (0..3)
        .flat_map(|c| (0..10).map(move |i| format!("{}/{i:02}.png", ["a", "b", "c"][c])))
        .filter(|p| !kept.contains(p) && *p != excluded)
        .map(|p| format!("_flagged/{p}"))
        .collect();
    let mut want: BTreeSet<String> = kept.iter().filter(|p| *p != "c/00.png").cloned().collect();
    // a/00.png may be kept too: the relabelled file is then numbered.
    want.insert(if kept.contains("a/00.png") {
        "a/1-00.png".into()
    } else {
        "a/00.png".into()
    });
    want.extend(flagged);
    assert_eq!(copied, want);
    let moved = if kept.contains("a/00.png") {
        "a/1-00.png"
    } else {
        "a/00.png"
    };
    assert_eq!(
        std::fs::read(copy.join(moved)).unwrap(),
        std::fs::read(data.join("c/00.png")).unwrap()
    );
    // The cleaned set opens with its own classes: _flagged/ is skipped and said, not a class.
    let reopened = itlm_inspector::data::load(&copy, &Default::default())
        .unwrap()
        .train;
    assert_eq!(reopened.classes, ["a", "b", "c"]);
    assert_eq!(reopened.len(), kept.len());
    assert!(
        reopened
            .skipped
            .iter()
            .any(|x| x.path.ends_with("_flagged") && x.reason.contains("not a class")),
        "{:?}",
        reopened.skipped
    );

    // export --decisions re-cuts the saved run and writes the same corrected labels.
    let out2 = tmp.path().join("out2");
    let e = succeeds(&run(&[
        "export",
        s(&out.join("run.itlm")),
        "--decisions",
        s(&journal),
        "--out",
        s(&out2),
    ]));
    assert!(e.contains("wrote"), "{e}");
    assert_eq!(labels(&out2.join("labels.csv")), l);
    // labels.csv belongs to the set: the manifest names it with the other four.
    let manifest = std::fs::read_to_string(out2.join("manifest.txt")).unwrap();
    assert!(manifest.contains("labels.csv"), "{manifest}");

    // A folder with another decisions.csv is refused before any training (without --force);
    // the run's own journal as --decisions into its folder is used where it lies.
    let other = tmp.path().join("other");
    std::fs::create_dir(&other).unwrap();
    std::fs::write(other.join("decisions.csv"), "path,decision,label,time\n").unwrap();
    let mut args = vec![
        "run",
        s(&data),
        "--out",
        s(&other),
        "--decisions",
        s(&journal),
    ];
    args.extend(FAST);
    let o = run(&args);
    let e = stderr(&o);
    assert!(
        !o.status.success() && e.contains("decisions.csv") && e.contains("already exists"),
        "{e}"
    );
    // (The set's own refusal, after training, would say "(or confirm)".)
    assert!(!e.contains("or confirm"), "refused before training: {e}");
    let own = other.join("decisions.csv");
    std::fs::copy(&journal, &own).unwrap();
    let mut args = vec!["run", s(&data), "--out", s(&other), "--decisions", s(&own)];
    args.extend(FAST);
    let e = succeeds(&run(&args));
    assert!(e.contains("3 samples decided"), "{e}");
    assert_eq!(
        std::fs::read(&own).unwrap(),
        std::fs::read(&journal).unwrap()
    );
    assert_eq!(snapshot(&data), before, "the dataset folder is untouched");
}

/// The truth scores a run with decisions against the labels it trained with: a sample the user
/// relabelled to its true label is clean, not a miss of the cut.
#[test]
fn the_truth_counts_a_sample_relabelled_to_its_true_label_as_clean() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    image_folder(&data, &["a", "b", "c"], 10);
    // The first image of each class shows the next class.
    let truth = first_images_mislabelled(tmp.path(), ["random"; 3]);
    // Two mislabelled samples relabelled to their true class (kept: pinned), the third
    // excluded (trimmed: pinned): every bad sample left is trimmed.
    let journal = tmp.path().join("decisions.csv");
    std::fs::write(
        &journal,
        "path,decision,label,time\na/00.png,relabel,b,2026-12-06T10:00:00Z\n\
         b/00.png,relabel,c,2026-12-06T10:00:01Z\nc/00.png,exclude,,2026-12-06T10:00:02Z\n",
    )
    .unwrap();
    let out = tmp.path().join("out");
    let mut args = vec![
        "run",
        s(&data),
        "--out",
        s(&out),
        "--decisions",
        s(&journal),
        "--truth",
        s(&truth),
    ];
    args.extend(FAST.iter().filter(|a| **a != "-q"));
    let e = succeeds(&run(&args));
    let recalls: Vec<&str> = e
        .lines()
        .filter_map(|l| l.split("trim precision ").nth(1))
        .filter_map(|l| l.split(" recall ").nth(1))
        .map(|r| r.split_whitespace().next().unwrap())
        .collect();
    assert!(!recalls.is_empty(), "{e}");
    // Counted against the given labels the two fixed samples would be kept bad ones: 0.333.
    assert!(recalls.iter().all(|r| *r == "1.000"), "{e}");
    // The run file keeps the truth as trained: a re-cut export counts the same way.
    let r = itlm_inspector::export::RunFile::read(&out.join("run.itlm")).unwrap();
    let bad = &r.truth.as_ref().unwrap().bad;
    assert_eq!(bad.iter().filter(|&&b| b).count(), 1);
    let e = succeeds(&run(&[
        "export",
        s(&out.join("run.itlm")),
        "--out",
        s(&tmp.path().join("again")),
    ]));
    assert!(e.contains("recall 1.000"), "{e}");
}

/// `dir/truth.csv` for an [`image_folder`] of classes a, b, c of 10 images: the first image of
/// each class shows the next class (b, c, a), of the kind `kinds` gives it; the rest clean.
fn first_images_mislabelled(dir: &Path, kinds: [&str; 3]) -> std::path::PathBuf {
    let truth = dir.join("truth.csv");
    let mut t = String::from("path,true_label,kind\n");
    for (c, name) in ["a", "b", "c"].iter().enumerate() {
        t.push_str(&format!(
            "{name}/00.png,{},{}\n",
            ["b", "c", "a"][c],
            kinds[c]
        ));
        for i in 1..10 {
            t.push_str(&format!("{name}/{i:02}.png,{name},clean\n"));
        }
    }
    std::fs::write(&truth, t).unwrap();
    truth
}

/// samples.csv's `kind` and `bad` of `id`, and its `given` label.
fn truth_columns(samples_csv: &Path, id: &str) -> (String, String, String) {
    let mut r = csv::Reader::from_path(samples_csv).unwrap();
    let h = r.headers().unwrap().clone();
    let col = |name: &str| h.iter().position(|c| c == name).unwrap();
    let (given, kind, bad) = (col("given"), col("kind"), col("bad"));
    let row = r
        .records()
        .map(|x| x.unwrap())
        .find(|x| &x[0] == id)
        .unwrap_or_else(|| panic!("{id} not in {}", samples_csv.display()));
    (row[given].into(), row[kind].into(), row[bad].into())
}

/// A label flip the user fixed keeps the kind its truth file gives and counts as clean: in the
/// run with the decisions (samples.csv against the labels it trained with), and in a run on
/// the exported labels.csv with the same truth file, where the fixed label is now the given
/// one (that sample had been counted bad: its kind, `random`, said so whatever its label).
#[test]
fn a_fixed_label_flip_keeps_its_kind_and_is_clean_in_a_run_on_the_exported_labels() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    image_folder(&data, &["a", "b", "c"], 10);
    let truth = first_images_mislabelled(tmp.path(), ["random", "systematic", "random"]);
    // a/00 (random) and b/00 (systematic) fixed; c/00 left mislabelled.
    let journal = tmp.path().join("decisions.csv");
    std::fs::write(
        &journal,
        "path,decision,label,time\na/00.png,relabel,b,2026-12-06T10:00:00Z\n\
         b/00.png,relabel,c,2026-12-06T10:00:01Z\n",
    )
    .unwrap();
    let out = tmp.path().join("out");
    let mut args = vec![
        "run",
        s(&data),
        "--out",
        s(&out),
        "--decisions",
        s(&journal),
        "--truth",
        s(&truth),
    ];
    args.extend(FAST);
    succeeds(&run(&args));
    let samples = out.join("samples.csv");
    let fixed = [
        ("a/00.png", "a", "b", "random"),
        ("b/00.png", "b", "c", "systematic"),
    ];
    for (id, given, _, kind) in fixed {
        assert_eq!(
            truth_columns(&samples, id),
            (given.into(), kind.into(), "0".into()),
            "{id}"
        );
    }
    assert_eq!(
        truth_columns(&samples, "c/00.png"),
        ("c".into(), "random".into(), "1".into())
    );

    // The exported labels, with the same truth: the fixed samples' given label is their true
    // one now.
    let again = tmp.path().join("again");
    let labels = out.join("labels.csv");
    let mut args = vec![
        "run",
        s(&labels),
        "--images",
        s(&data),
        "--out",
        s(&again),
        "--truth",
        s(&truth),
    ];
    args.extend(FAST);
    succeeds(&run(&args));
    let samples = again.join("samples.csv");
    for (id, _, now, kind) in fixed {
        assert_eq!(
            truth_columns(&samples, id),
            (now.into(), kind.into(), "0".into()),
            "{id}"
        );
    }
    assert_eq!(
        truth_columns(&samples, "c/00.png"),
        ("c".into(), "random".into(), "1".into())
    );
    let r = itlm_inspector::export::RunFile::read(&again.join("run.itlm")).unwrap();
    assert_eq!(
        r.truth.as_ref().unwrap().bad.iter().filter(|&&b| b).count(),
        1,
        "only c/00 is still mislabelled"
    );
}

/// `export --decisions` on a run made without them: clean.txt and flagged.txt follow the
/// decisions, not only the cut; the set carries decisions.csv, so exporting the exported run
/// again (or reopening it) finds them without being told.
#[test]
fn an_export_with_decisions_carries_them_and_its_lists_follow_them() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    image_folder(&data, &["a", "b", "c"], 10);
    let plain = tmp.path().join("plain");
    let mut args = vec!["run", s(&data), "--out", s(&plain)];
    args.extend(FAST);
    succeeds(&run(&args));
    let plain_kept = lines(&plain.join("clean.txt"));
    let all: Vec<String> = (0..3)
        .flat_map(|c| (0..10).map(move |i| format!("{}/{i:02}.png", ["a", "b", "c"][c])))
        .collect();
    let trimmed: Vec<&String> = all.iter().filter(|p| !plain_kept.contains(*p)).collect();
    assert!(trimmed.len() >= 3, "{trimmed:?}");
    let excluded = plain_kept.iter().next().unwrap().clone();
    let (kept_by_me, relabelled, undecided) = (trimmed[0], trimmed[1], trimmed[2]);
    let journal = tmp.path().join("mine.csv");
    std::fs::write(
        &journal,
        format!(
            "path,decision,label,time\n{excluded},exclude,,2026-12-05T10:00:00Z\n\
             {kept_by_me},keep,,2026-12-05T10:00:01Z\n{relabelled},relabel,a,2026-12-05T10:00:02Z\n"
        ),
    )
    .unwrap();

    let out = tmp.path().join("out");
    succeeds(&run(&[
        "export",
        s(&plain.join("run.itlm")),
        "--decisions",
        s(&journal),
        "--out",
        s(&out),
    ]));
    let clean = lines(&out.join("clean.txt"));
    let mut want = plain_kept.clone();
    want.remove(&excluded);
    want.insert(kept_by_me.clone());
    want.insert(relabelled.clone());
    assert_eq!(
        clean, want,
        "the cut's kept, less the excluded, with the kept and relabelled"
    );
    let flagged = std::fs::read_to_string(out.join("flagged.txt")).unwrap();
    let rows: BTreeMap<&str, &str> = flagged
        .lines()
        .skip(1)
        .map(|l| {
            (
                l.split('\t').next().unwrap(),
                l.rsplit('\t').next().unwrap(),
            )
        })
        .collect();
    assert_eq!(rows.len() + clean.len(), 30, "flagged.txt holds the rest");
    assert_eq!(rows[excluded.as_str()], "exclude");
    assert_eq!(rows[undecided.as_str()], "", "trimmed, no decision yet");
    assert_eq!(
        std::fs::read(out.join("decisions.csv")).unwrap(),
        std::fs::read(&journal).unwrap(),
        "the set carries the journal"
    );
    let manifest = std::fs::read_to_string(out.join("manifest.txt")).unwrap();
    assert!(manifest.contains("decisions.csv"), "{manifest}");

    // The exported run, exported again without --decisions: the journal beside it is used.
    let out2 = tmp.path().join("out2");
    let e = succeeds(&run(&[
        "export",
        s(&out.join("run.itlm")),
        "--out",
        s(&out2),
    ]));
    assert!(e.contains("using the decisions beside the run"), "{e}");
    assert_eq!(lines(&out2.join("clean.txt")), clean);
    assert_eq!(
        std::fs::read(out2.join("labels.csv")).unwrap(),
        std::fs::read(out.join("labels.csv")).unwrap()
    );
    // Into its own folder (--force): the journal there is the source, not copied onto itself.
    succeeds(&run(&[
        "export",
        s(&out.join("run.itlm")),
        "--out",
        s(&out),
        "--force",
    ]));
    assert_eq!(
        std::fs::read(out.join("decisions.csv")).unwrap(),
        std::fs::read(&journal).unwrap()
    );
    // Without --force, an existing decisions.csv is not replaced.
    let out3 = tmp.path().join("out3");
    std::fs::create_dir(&out3).unwrap();
    std::fs::write(out3.join("decisions.csv"), "path,decision,label,time\n").unwrap();
    let o = run(&[
        "export",
        s(&plain.join("run.itlm")),
        "--decisions",
        s(&journal),
        "--out",
        s(&out3),
    ]);
    let e = stderr(&o);
    assert!(
        !o.status.success() && e.contains("decisions.csv") && e.contains("already exists"),
        "{e}"
    );
    assert!(!out3.join("clean.txt").exists(), "nothing written");
}

#[test]
fn decisions_with_problems_are_reported_and_another_datasets_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    image_folder(&data, &["a", "b"], 8);
    let before = snapshot(&data);
    let out = tmp.path().join("out");
    let mut args = vec!["run", s(&data), "--out", s(&out)];
    args.extend(FAST);
    succeeds(&run(&args));
    let run_file = out.join("run.itlm");

    // Unknown path, unknown class, a duplicate (the last row wins), a torn last line.
    let messy = tmp.path().join("messy.csv");
    let text = "path,decision,label,time\n\
                a/01.png,exclude,,2026-12-02T10:00:00Z\n\
                a/01.png,keep,,2026-12-02T10:00:01Z\n\
                gone/x.png,exclude,,\n\
                b/02.png,relabel,zebra,\n\
                b/03.png,relabel,a,\n\
                b/04.png,excl";
    std::fs::write(&messy, text).unwrap();
    let out2 = tmp.path().join("out2");
    let e = succeeds(&run(&[
        "export",
        s(&run_file),
        "--decisions",
        s(&messy),
        "--out",
        s(&out2),
    ]));
    for want in [
        "naming a file that is not in this dataset",
        "gone/x.png",
        "relabelling to a class this dataset does not have",
        "replaced by a later row",
        "torn last line",
    ] {
        assert!(e.contains(want), "{want:?} in:\n{e}");
    }
    let l = labels(&out2.join("labels.csv"));
    assert_eq!(l["a/01.png"].2, "keep", "the last row wins");
    assert_eq!(l["b/02.png"], ("b".into(), "b".into(), "".into()));
    assert_eq!(l["b/03.png"], ("a".into(), "b".into(), "relabel".into()));
    assert_eq!(l["b/04.png"].2, "", "the torn row is not applied");
    assert_eq!(
        std::fs::read_to_string(&messy).unwrap(),
        text,
        "reading decisions writes nothing"
    );

    // A journal of another dataset: refused, nothing written.
    let other = tmp.path().join("other.csv");
    std::fs::write(
        &other,
        "path,decision,label,time\nx/1.png,exclude,,\ny/2.png,exclude,,\nz/3.png,keep,,\n",
    )
    .unwrap();
    let out3 = tmp.path().join("out3");
    let o = run(&[
        "export",
        s(&run_file),
        "--decisions",
        s(&other),
        "--out",
        s(&out3),
    ]);
    let e = stderr(&o);
    assert_eq!(o.status.code(), Some(1), "{e}");
    assert!(e.contains("another dataset's decisions"), "{e}");
    assert!(!out3.exists());
    let mut args = vec!["run", s(&data), "--out", s(&out3), "--decisions", s(&other)];
    args.extend(FAST);
    let o = run(&args);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(!out3.exists());
    assert_eq!(snapshot(&data), before);
}

/// A relabelled file moves into a class folder that may hold a file of its name: the files
/// that stay in their class keep their names (they are the user's originals, even one named
/// like a numbered copy, `1-3.png`), the moved file is numbered, and the output names it;
/// a long list of renamed files is cut with the count of the rest.
#[test]
fn a_relabelled_file_never_takes_the_name_of_a_file_that_stays() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    for (c, class) in ["a", "b"].iter().enumerate() {
        std::fs::create_dir_all(data.join(class)).unwrap();
        for i in 1..=12 {
            image_of(c, i)
                .save(data.join(class).join(format!("{i}.png")))
                .unwrap();
        }
    }
    image_of(1, 20).save(data.join("b/1-3.png")).unwrap();
    let before = snapshot(&data);
    let out = tmp.path().join("out");
    let mut args = vec!["run", s(&data), "--out", s(&out), "--tau", "1.0"];
    args.extend(&FAST[..8]);
    succeeds(&run(&args));
    let run_file = out.join("run.itlm");
    let export = |name: &str, relabelled: &[usize]| {
        let dec = tmp.path().join(format!("{name}.csv"));
        let rows: String = relabelled
            .iter()
            .map(|i| format!("a/{i}.png,relabel,b,\n"))
            .collect();
        std::fs::write(&dec, format!("path,decision,label,time\n{rows}")).unwrap();
        let copy = tmp.path().join(name);
        let e = succeeds(&run(&[
            "export",
            s(&run_file),
            "--decisions",
            s(&dec),
            "--clean-copy",
            s(&copy),
        ]));
        (copy, e)
    };
    let same = |copy: &Path, at: &str, orig: &str| {
        assert_eq!(
            std::fs::read(copy.join(at)).unwrap(),
            std::fs::read(data.join(orig)).unwrap(),
            "{at} is not {orig}"
        );
    };

    let (copy, e) = export("one", &[3]);
    for i in 1..=12 {
        same(&copy, &format!("b/{i}.png"), &format!("b/{i}.png"));
    }
    same(&copy, "b/1-3.png", "b/1-3.png");
    same(&copy, "b/2-3.png", "a/3.png");
    assert!(!copy.join("a/3.png").exists());
    assert_eq!(files_under(&copy).len(), 25);
    assert!(
        e.contains(
            "1 moved file renamed, its name taken in its new folder:\n  a/3.png -> b/2-3.png\n"
        ),
        "{e}"
    );

    // All twelve of a/ move to b/: ten are named, then the count of the others.
    let all: Vec<usize> = (1..=12).collect();
    let (copy, e) = export("all", &all);
    for i in 1..=12 {
        same(&copy, &format!("b/{i}.png"), &format!("b/{i}.png"));
    }
    same(&copy, "b/1-3.png", "b/1-3.png");
    same(&copy, "b/2-3.png", "a/3.png");
    same(&copy, "b/1-12.png", "a/12.png");
    assert!(
        e.contains("12 moved files renamed, their names taken in their new folders:\n  a/1.png -> b/1-1.png\n"),
        "{e}"
    );
    assert!(e.contains("\n  a/3.png -> b/2-3.png\n"), "{e}");
    assert!(e.contains("\n  ... and 2 more\n"), "{e}");
    assert_eq!(e.matches(" -> ").count(), 10, "{e}");

    // The window's export says the same (its message after the export is this report).
    use itlm_inspector::itlm::decisions::{Decision, Decisions};
    use itlm_inspector::ui::command::{ExportExtras, ExportWhat};
    let r = itlm_inspector::export::RunFile::read(&run_file).unwrap();
    let i = r.dataset.ids.iter().position(|id| id == "a/3.png").unwrap();
    let mut decisions = Decisions::new(r.dataset.len());
    decisions.set(&[i], Some(Decision::Relabel(1)));
    let extras = ExportExtras {
        decisions: Some(decisions),
        journal: None,
        flagged_folder: false,
        ..Default::default()
    };
    let window = tmp.path().join("window");
    let done = ExportWhat::CleanFolder.write(&window, &r, &extras).unwrap();
    let report = done.report.unwrap();
    assert!(report.ends_with("\n  a/3.png -> b/2-3.png"), "{report}");
    same(&window, "b/2-3.png", "a/3.png");
    assert_eq!(snapshot(&data), before, "the dataset folder is untouched");
    assert!(!report.contains("changed after the run"), "{report}");
    // Images read before every file's time (as if all were replaced since): said.
    let extras = ExportExtras {
        judged_at: Some(std::time::SystemTime::UNIX_EPOCH),
        ..extras
    };
    let again = tmp.path().join("window2");
    let done = ExportWhat::CleanFolder.write(&again, &r, &extras).unwrap();
    let report = done.report.unwrap();
    let copied = walkdir::WalkDir::new(&again)
        .into_iter()
        .filter(|e| e.as_ref().unwrap().file_type().is_file())
        .count();
    assert!(
        report.contains(&format!(
            "warning: {copied} copied files changed after the run"
        )),
        "{report}"
    );
}

/// A run forced into the folder of an export with decisions: the earlier set's labels.csv and
/// decisions.csv are another run's, so they are kept renamed (`*.earlier.csv`), not left
/// where later exports would read those decisions beside this run (they had been, silently).
#[test]
fn a_run_forced_over_an_export_with_decisions_renames_that_sets_labels_and_decisions() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    image_folder(&data, &["a", "b", "c"], 8);
    let out = tmp.path().join("out");
    let mut args = vec!["run", s(&data), "--out", s(&out)];
    args.extend(FAST);
    succeeds(&run(&args));
    let dec = tmp.path().join("dec.csv");
    std::fs::write(
        &dec,
        "path,decision,label,time\nb/03.png,relabel,a,2026-12-07T10:00:00Z\n",
    )
    .unwrap();
    let rf = out.join("run.itlm");
    succeeds(&run(&[
        "export",
        s(&rf),
        "--decisions",
        s(&dec),
        "--out",
        s(&out),
        "--force",
    ]));
    assert!(out.join("decisions.csv").is_file() && out.join("labels.csv").is_file());
    let journal = std::fs::read(out.join("decisions.csv")).unwrap();
    let mut args = vec!["run", s(&data), "--out", s(&out), "--force"];
    args.extend(FAST);
    let e = succeeds(&run(&args));
    assert!(!out.join("decisions.csv").exists(), "{e}");
    assert!(!out.join("labels.csv").exists());
    assert_eq!(
        std::fs::read(out.join("decisions.earlier.csv")).unwrap(),
        journal
    );
    assert!(out.join("labels.earlier.csv").is_file());
    let manifest = std::fs::read_to_string(out.join("manifest.txt")).unwrap();
    assert!(!manifest.contains("decisions"), "{manifest}");
    // An export finds no decisions beside the run.
    let e = succeeds(&run(&[
        "export",
        s(&rf),
        "--cleanlab",
        s(&tmp.path().join("cl.csv")),
    ]));
    assert!(!e.contains("decisions"), "{e}");
}
