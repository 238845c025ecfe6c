//! End to end with the built binary: nothing is ever written into the dataset folder, outputs
//! are refused inside it and not replaced without --force, and bad input of every kind ends
//! with a clear message and a failing exit code, never a panic. A run that fails after some
//! rounds still writes them (checked through `cli::run_and_export` with a diverging fake
//! learner, since validation rejects any learning rate large enough to make the MLP diverge).

mod common;

use common::cli::{image_of, run, s, stderr, succeeds, BIN, FAST};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::SystemTime;

use clap::Parser;
use common::{dataset, FakeLearner};
use itlm_inspector::cli::{self, Cli};
use itlm_inspector::export::{self, RunFile};
use itlm_inspector::session::{self, DataRequest, EvalInputs, Prepared};
use itlm_inspector::Error;

const OUTPUTS: [&str; 5] = [
    export::RUN_FILE,
    export::SAMPLES_CSV,
    export::CLEAN_TXT,
    export::FLAGGED_TXT,
    export::HEALTH_CSV,
];
/// A fast run (`common::cli::FAST`: the MLP, one trimming round, one epoch each) with the
/// paper's global cut (the counts below are its ceil(tau * n)).
fn fast() -> impl Iterator<Item = &'static str> {
    ["--select", "global"].into_iter().chain(FAST)
}

/// `run DATA --out OUT` with the fast settings, `extra` arguments replacing those of the same
/// name (clap refuses a flag given twice).
fn args_for<'a>(data: &'a str, out: &'a str, extra: &[&'a str]) -> Vec<&'a str> {
    let mut args = vec!["run", data, "--out", out];
    let mut fast = fast().peekable();
    while let Some(a) = fast.next() {
        let takes_value = a.starts_with("--");
        if extra.contains(&a) {
            if takes_value {
                fast.next();
            }
            continue;
        }
        args.push(a);
        if takes_value {
            args.extend(fast.next());
        }
    }
    args.extend_from_slice(extra);
    args
}

fn run_on(data: &Path, out: &Path, extra: &[&str]) -> Output {
    run(&args_for(s(data), s(out), extra))
}

/// The same, run from the folder `cwd` with relative paths.
fn run_in(cwd: &Path, data: &str, out: &str) -> Output {
    Command::new(BIN)
        .args(args_for(data, out, &[]))
        .current_dir(cwd)
        .env_remove("RUST_BACKTRACE")
        .output()
        .unwrap()
}

/// Assert a clean failure: exit code 1, the message on stderr, no panic or backtrace.
fn fails_with(o: &Output, want: &str) -> String {
    let e = stderr(o);
    assert_eq!(o.status.code(), Some(1), "exit code; stderr:\n{e}");
    assert!(e.contains(want), "expected {want:?} in:\n{e}");
    for bad in ["panicked", "backtrace", "RUST_BACKTRACE"] {
        assert!(!e.contains(bad), "{bad} in:\n{e}");
    }
    e
}

/// `root/<class>/<i>.png` for each class, `per_class` images each, and a truth.csv that marks
/// the first image of each class as mislabelled (its true label is the next class).
fn image_folder(root: &Path, classes: &[&str], per_class: usize) {
    let mut truth = String::from("path,true_label,kind\n");
    for (c, name) in classes.iter().enumerate() {
        std::fs::create_dir_all(root.join(name)).unwrap();
        for i in 0..per_class {
            image_of(c, i)
                .save(root.join(name).join(format!("{i:02}.png")))
                .unwrap();
            let (true_label, kind) = if i == 0 && classes.len() > 1 {
                (classes[(c + 1) % classes.len()], "random")
            } else {
                (*name, "clean")
            };
            truth.push_str(&format!("{name}/{i:02}.png,{true_label},{kind}\n"));
        }
    }
    std::fs::write(root.join("truth.csv"), truth).unwrap();
}

/// Every entry under `dir` (itself included): path -> (size, mtime).
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

/// The five outputs' bytes.
fn outputs(out: &Path) -> Vec<Vec<u8>> {
    OUTPUTS
        .iter()
        .map(|f| std::fs::read(out.join(f)).unwrap())
        .collect()
}

#[test]
fn nothing_is_written_into_the_dataset_folder() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    image_folder(&data, &["a", "b", "c"], 8);
    let before = snapshot(&data);
    assert_eq!(before.len(), 1 + 3 + 24 + 1);

    // A run writes its five outputs and leaves the dataset folder as it was.
    let out = tmp.path().join("out");
    succeeds(&run_on(&data, &out, &[]));
    assert_eq!(snapshot(&data), before, "the dataset folder changed");
    for f in OUTPUTS {
        assert!(out.join(f).is_file(), "{f} missing");
    }
    let names: Vec<_> = std::fs::read_dir(&out).unwrap().collect();
    assert_eq!(
        names.len(),
        OUTPUTS.len() + 1,
        "only the outputs and their manifest, no temp or lock files"
    );
    let r = RunFile::read(&out.join(export::RUN_FILE)).unwrap();
    assert_eq!(r.status.to_string(), "finished");
    assert_eq!(r.rounds.len(), 2);
    assert_eq!(r.dataset.len(), 24);
    assert!(r.truth.as_ref().unwrap().bad.iter().filter(|&&b| b).count() == 3);
    let csv = std::fs::read_to_string(out.join(export::SAMPLES_CSV)).unwrap();
    assert_eq!(csv.lines().count(), 25);
    assert!(csv.starts_with("path,given,predicted,p_given,loss_round0,loss_round1,"));

    // --out inside the dataset folder, however it is spelled, is refused and writes nothing.
    let link = tmp.path().join("link");
    std::os::unix::fs::symlink(&data, &link).unwrap();
    for inside in [
        data.join("out"),
        data.clone(),
        data.join("a").join("deeper").join("out"),
        tmp.path().join("out").join("..").join("data").join("x"),
        link.join("out"),
    ] {
        let e = fails_with(&run_on(&data, &inside, &[]), "is inside the dataset folder");
        assert!(e.contains("itlm-inspector never writes there"), "{e}");
        assert_eq!(
            snapshot(&data),
            before,
            "refusal for {inside:?} wrote something"
        );
    }
    // relative paths, run from inside the dataset folder or beside it
    for (cwd, d, o) in [
        (data.clone(), ".", "results"),
        (data.join("a"), "..", "results"),
        (tmp.path().to_path_buf(), "data", "data/results"),
        (tmp.path().to_path_buf(), "./data/", "link/results"),
    ] {
        fails_with(&run_in(&cwd, d, o), "is inside the dataset folder");
        assert_eq!(
            snapshot(&data),
            before,
            "{cwd:?}: {d} --out {o} wrote something"
        );
    }

    // A second run into the same folder without --force is refused; the first outputs stay.
    let first = outputs(&out);
    let first_times = snapshot(&out);
    let e = fails_with(&run_on(&data, &out, &["--tau", "0.5"]), "already exists");
    assert!(e.contains("pass --force to replace it"), "{e}");
    assert_eq!(outputs(&out), first, "the first outputs changed");
    assert_eq!(snapshot(&out), first_times);

    // With --force they are replaced (a different tau keeps fewer samples).
    succeeds(&run_on(&data, &out, &["--tau", "0.5", "--force"]));
    let r = RunFile::read(&out.join(export::RUN_FILE)).unwrap();
    assert_eq!(r.config.tau, 0.5);
    assert_eq!(r.rounds[1].kept_count(), 12);
    let clean = std::fs::read_to_string(out.join(export::CLEAN_TXT)).unwrap();
    assert_eq!(clean.lines().count(), 12);
    assert_ne!(outputs(&out), first);
    assert_eq!(std::fs::read_dir(&out).unwrap().count(), OUTPUTS.len() + 1);
    assert_eq!(snapshot(&data), before, "the dataset folder changed");
}

#[test]
fn out_that_is_a_file_is_refused_before_training() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    image_folder(&data, &["a", "b"], 3);
    let file = tmp.path().join("file");
    std::fs::write(&file, "x").unwrap();
    fails_with(
        &run_on(&data, &file, &[]),
        "--out must be a folder, not a file",
    );
    assert_eq!(std::fs::read(&file).unwrap(), b"x");
}

#[test]
fn bad_paths_and_folders() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");

    fails_with(
        &run_on(&tmp.path().join("no-such-folder"), &out, &[]),
        "no-such-folder: not found",
    );

    let empty = tmp.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    fails_with(&run_on(&empty, &out, &[]), "no class subfolders");

    let one = tmp.path().join("one");
    image_folder(&one, &["only"], 4);
    let e = fails_with(&run_on(&one, &out, &[]), "at least two classes");
    assert!(e.contains("only 1 class has samples ('only')"), "{e}");

    // class folders without a single image
    let hollow = tmp.path().join("hollow");
    std::fs::create_dir_all(hollow.join("a")).unwrap();
    std::fs::create_dir_all(hollow.join("b")).unwrap();
    std::fs::write(hollow.join("a").join("x.png"), b"not a png").unwrap();
    fails_with(&run_on(&hollow, &out, &[]), "x.png");

    assert!(!out.exists(), "a failed run wrote {out:?}");
}

#[test]
fn a_corrupt_png_among_good_ones_is_skipped_and_named() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    image_folder(&data, &["a", "b"], 5);
    let bad = data.join("b").join("zz-broken.png");
    let mut png = std::fs::read(data.join("b").join("01.png")).unwrap();
    png.truncate(png.len() / 2);
    std::fs::write(&bad, &png).unwrap();
    std::fs::write(data.join("a").join("notes.png"), b"hello").unwrap();
    let before = snapshot(&data);
    let out = tmp.path().join("out");
    let e = succeeds(&run_on(&data, &out, &[]));
    assert!(e.contains("2 files skipped:"), "{e}");
    let line = e
        .lines()
        .find(|l| l.contains("zz-broken.png"))
        .unwrap_or_else(|| panic!("the broken file is not named:\n{e}"));
    assert!(line.len() > s(&bad).len() + 4, "no reason given: {line}");
    assert!(e.lines().any(|l| l.contains("notes.png")), "{e}");
    let r = RunFile::read(&out.join(export::RUN_FILE)).unwrap();
    assert_eq!(r.dataset.len(), 10);
    // A test set's unreadable file is named as well, under its set.
    let test = tmp.path().join("test");
    image_folder(&test, &["a", "b"], 2);
    std::fs::write(test.join("a").join("t-broken.png"), b"junk").unwrap();
    let out2 = tmp.path().join("out2");
    // A test-2 folder holds one class: its empty class folders are expected, not listed.
    let test2 = tmp.path().join("test2");
    image_folder(&test2, &["b"], 2);
    std::fs::create_dir_all(test2.join("a")).unwrap();
    let e = succeeds(&run_on(
        &data,
        &out2,
        &["--test", s(&test), "--test2", s(&test2)],
    ));
    assert!(e.contains("test set: 1 file skipped:"), "{e}");
    assert!(e.lines().any(|l| l.contains("t-broken.png")), "{e}");
    assert!(!e.contains("test-2 set:"), "{e}");
    // `check` names them too, with their reasons, beside the image checks.
    let c = std::process::Command::new(env!("CARGO_BIN_EXE_itlm-inspector"))
        .arg("check")
        .arg(&data)
        .output()
        .unwrap();
    let o = String::from_utf8_lossy(&c.stdout);
    assert!(c.status.success() && o.contains("2 files skipped:"), "{o}");
    let named = |f: &str| o.lines().any(|l| l.contains(f) && l.len() > f.len() + 10);
    assert!(named("zz-broken.png") && named("notes.png"), "{o}");
    assert_eq!(snapshot(&data), before);
}

/// More unreadable files than the console lists: `check` and `run` say how many more and how
/// to see them all, and `check --out` writes every one of them (issue unreadable, the reason
/// last), a skipped empty class folder included.
#[test]
fn every_unreadable_file_is_reachable_past_the_cut_list() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    image_folder(&data, &["a", "b"], 5);
    for i in 0..12 {
        std::fs::write(
            data.join(["a", "b"][i % 2]).join(format!("bad{i:02}.png")),
            b"junk",
        )
        .unwrap();
    }
    std::fs::create_dir_all(data.join("empty")).unwrap();
    // Seven exact duplicates: more than the five the summary names.
    for i in 0..6 {
        std::fs::copy(data.join("a/00.png"), data.join(format!("a/copy{i}.png"))).unwrap();
    }
    let before = snapshot(&data);
    let check = |extra: &[&str]| {
        let mut args = vec!["check", s(&data)];
        args.extend(extra);
        let o = run(&args);
        assert!(o.status.success(), "{}", stderr(&o));
        String::from_utf8_lossy(&o.stdout).into_owned()
    };
    let o = check(&[]);
    assert!(o.contains("13 files skipped:"), "{o}");
    assert_eq!(o.matches(".png: ").count(), 5, "{o}");
    let hint = format!(
        "  ... and 8 more (`itlm-inspector check {} --out FILE` lists them all)\n",
        data.display()
    );
    assert!(o.contains(&hint), "{o}");
    assert!(o.contains(" and 2 more\n"), "{o}");
    assert!(
        o.contains(&format!(
            "  (`itlm-inspector check {} --out FILE` lists every flagged image)\n",
            data.display()
        )),
        "{o}"
    );

    let csv = tmp.path().join("issues.csv");
    let o = check(&["--out", s(&csv)]);
    assert!(
        o.contains(&format!(
            "  ... and 8 more (all of them in {}, issue unreadable)\n",
            csv.display()
        )),
        "{o}"
    );
    assert!(
        o.contains(&format!(
            "  (every flagged image is in {})\n",
            csv.display()
        )),
        "{o}"
    );
    let table = std::fs::read_to_string(&csv).unwrap();
    let mut rows = table.lines();
    let header = rows.next().unwrap();
    assert!(header.ends_with(",near_duplicate_set,reason"), "{header}");
    let columns = header.split(',').count();
    let unreadable: Vec<Vec<&str>> = rows
        .map(|r| r.split(',').collect::<Vec<_>>())
        .filter(|f| f[2] == "unreadable")
        .collect();
    assert_eq!(unreadable.len(), 13, "{table}");
    for f in &unreadable {
        assert_eq!(f.len(), columns, "{f:?}");
        assert!(f[3..columns - 1].iter().all(|v| v.is_empty()), "{f:?}");
        assert!(!f[columns - 1].is_empty(), "no reason: {f:?}");
    }
    for i in 0..12 {
        let class = ["a", "b"][i % 2];
        let id = format!("{class}/bad{i:02}.png");
        assert!(
            unreadable.iter().any(|f| f[0] == id && f[1] == class),
            "{id} missing:\n{table}"
        );
    }
    assert!(
        unreadable.iter().any(|f| f[0] == "empty"
            && f[1].is_empty()
            && f[columns - 1].starts_with("empty class folder")),
        "{table}"
    );

    // `run` lists ten, then the rest's count and where to see them all.
    let out = tmp.path().join("out");
    let mut args = args_for(s(&data), s(&out), &[]);
    args.retain(|a| *a != "-q");
    let e = succeeds(&run(&args));
    assert!(e.contains("13 files skipped:"), "{e}");
    assert!(e.contains(&hint.replace("8 more", "3 more")), "{e}");
    assert_eq!(snapshot(&data), before, "the dataset folder is untouched");
}

/// `run` on embeddings with more duplicate pairs than it prints says where the rest are:
/// duplicates.csv in the output folder, which lists every pair.
#[test]
fn a_cut_duplicate_list_names_the_file_with_all_of_them() {
    use itlm_inspector::testing::{f32_bytes, npy};
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    image_folder(&data, &["a", "b"], 6);
    // Rows 2k and 2k+1 (a/00 and a/01, ...) share one direction of six: six near pairs.
    let rows: Vec<f32> = (0..12)
        .flat_map(|i| (0..6).map(move |d| if d == i / 2 { 1.0 } else { 0.0 }))
        .collect();
    let emb = tmp.path().join("emb.npy");
    std::fs::write(&emb, npy("<f4", "(12, 6)", &f32_bytes(&rows))).unwrap();
    let out = tmp.path().join("out");
    let mut args = args_for(
        s(&data),
        s(&out),
        &["--embeddings", s(&emb), "--head", "linear"],
    );
    args.retain(|a| !["-q", "--model", "mlp"].contains(a));
    let e = succeeds(&run(&args));
    assert!(
        e.contains(
            "embedding checks: no exact duplicates (same bytes), 12 images in 6 groups of \
             near duplicates (6 pairs at cosine >= "
        ),
        "{e}"
    );
    assert_eq!(e.matches("  near duplicate: ").count(), 5, "{e}");
    let dup = out.join("duplicates.csv");
    assert!(
        e.contains(&format!(
            "  ... and 1 more: all 6 pairs in {}\n",
            dup.display()
        )),
        "{e}"
    );
    let listed = std::fs::read_to_string(&dup).unwrap();
    assert_eq!(listed.lines().count(), 7, "{listed}");
}

#[test]
fn out_of_range_settings_are_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    image_folder(&data, &["a", "b"], 3);
    let out = tmp.path().join("out");
    let cases: [(&[&str], &str); 12] = [
        (
            &["--tau", "0"],
            "tau must be in (0, 1] (the fraction of samples kept), got 0",
        ),
        (
            &["--tau", "1.5"],
            "tau must be in (0, 1] (the fraction of samples kept), got 1.5",
        ),
        (&["--tau", "NaN"], "tau must be in (0, 1]"),
        (&["--rounds", "0"], "rounds must be at least 1"),
        (
            &["--epochs", "0"],
            "epochs per round must be in (0, 10000] (fractions allowed), got 0",
        ),
        (
            &["--final-epochs", "0"],
            "final epochs must be in 1..=10000, got 0",
        ),
        (&["--limit", "0"], "--limit must be at least 1"),
        (
            &["--lr", "1e9"],
            "learning rate must be in (0, 10), got 1000000000",
        ),
        // Negative numbers reach the option's own check (clap took them for flags).
        (
            &["--tau", "-1"],
            "tau must be in (0, 1] (the fraction of samples kept), got -1",
        ),
        (&["--lr", "-1"], "learning rate must be in (0, 10), got -1"),
        (
            &["--weight-decay", "-1"],
            "weight decay must be in [0, 10), got -1",
        ),
        (
            &["--weight-decay", "inf"],
            "weight decay must be in [0, 10), got inf",
        ),
    ];
    for (extra, want) in cases {
        // later flags override FAST's
        fails_with(&run_on(&data, &out, extra), want);
    }
    // clap's own refusals also exit cleanly (code 2)
    for (flag, value) in [("--rounds", "-1"), ("--seed", "-1"), ("--batch-size", "-1")] {
        let o = run_on(&data, &out, &[flag, value]);
        assert_eq!(o.status.code(), Some(2));
        let e = stderr(&o);
        assert!(!e.contains("panicked"));
        // It names the option and the value, not "unexpected argument '-1'".
        assert!(
            e.contains(&format!("invalid value '{value}' for '{flag} ")),
            "{e}"
        );
    }
    assert!(!out.exists());
}

#[test]
fn a_truth_file_with_unknown_files_and_labels_warns_and_the_run_goes_on() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    image_folder(&data, &["a", "b"], 4);
    let mut t = std::fs::read_to_string(data.join("truth.csv")).unwrap();
    t.push_str("a/missing.png,a,clean\nc/elsewhere.png,b\n");
    t = t.replace("b/03.png,b,clean", "b/03.png,zebra,clean");
    std::fs::write(data.join("truth.csv"), t).unwrap();
    let out = tmp.path().join("out");
    let e = succeeds(&run_on(&data, &out, &[]));
    assert!(e.contains("2 rows name files not in the dataset"), "{e}");
    assert!(e.contains("1 rows name unknown classes"), "{e}");
    assert!(e.contains("1 samples have no row (counted clean)"), "{e}");
    let r = RunFile::read(&out.join(export::RUN_FILE)).unwrap();
    assert_eq!(r.truth.unwrap().bad.iter().filter(|&&b| b).count(), 2);

    // A --limit subset does not make the rows of left-out samples "unknown".
    let out2 = tmp.path().join("out2");
    let e = succeeds(&run_on(&data, &out2, &["--limit", "5"]));
    assert!(e.contains("2 rows name files not in the dataset"), "{e}");
    let r = RunFile::read(&out2.join(export::RUN_FILE)).unwrap();
    assert_eq!(r.dataset.len(), 5);
    let truth = r.truth.unwrap();
    assert_eq!(truth.bad.len(), 5);
    for (i, id) in r.dataset.ids.iter().enumerate() {
        assert_eq!(truth.bad[i], id.ends_with("/00.png"), "{id}");
    }

    // A truth file that matches nothing is an error, not a silent all-clean run.
    std::fs::write(tmp.path().join("t.csv"), "x/y.png,a\n").unwrap();
    let t = tmp.path().join("t.csv");
    fails_with(
        &run_on(&data, &tmp.path().join("out3"), &["--truth", s(&t)]),
        "none of its 1 rows matches a sample",
    );
    // and an unreadable one names the line
    std::fs::write(&t, "a/00.png,a,clean\na/01.png,a,weird\n").unwrap();
    fails_with(
        &run_on(&data, &tmp.path().join("out3"), &["--truth", s(&t)]),
        "line 2: unknown kind 'weird'",
    );
}

fn idx_bytes(dims: &[u32], data: &[u8]) -> Vec<u8> {
    let mut b = vec![0, 0, 8, dims.len() as u8];
    for d in dims {
        b.extend_from_slice(&d.to_be_bytes());
    }
    b.extend_from_slice(data);
    b
}

#[test]
fn idx_directories_with_short_or_mismatched_labels() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("mnist");
    std::fs::create_dir(&dir).unwrap();
    let n = 12u32;
    let pixels: Vec<u8> = (0..n * 36).map(|j| (j * 7 % 251) as u8).collect();
    std::fs::write(
        dir.join("train-images-idx3-ubyte"),
        idx_bytes(&[n, 6, 6], &pixels),
    )
    .unwrap();
    let labels: Vec<u8> = (0..n).map(|i| (i % 3) as u8).collect();
    let out = tmp.path().join("out");

    // the labels file is cut short: its header promises more than it holds
    std::fs::write(
        dir.join("train-labels-idx1-ubyte"),
        idx_bytes(&[n], &labels[..7]),
    )
    .unwrap();
    let e = fails_with(
        &run_on(&dir, &out, &[]),
        "header promises 12 bytes of data (12) but the file holds 7",
    );
    assert!(e.contains("train-labels-idx1-ubyte"), "names the file: {e}");

    // the labels file is whole but has fewer labels than there are images
    std::fs::write(
        dir.join("train-labels-idx1-ubyte"),
        idx_bytes(&[7], &labels[..7]),
    )
    .unwrap();
    fails_with(&run_on(&dir, &out, &[]), "7 labels for 12 images");

    // a gzip file cut in the middle
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    std::io::Write::write_all(&mut gz, &idx_bytes(&[n], &labels)).unwrap();
    let gz = gz.finish().unwrap();
    std::fs::remove_file(dir.join("train-labels-idx1-ubyte")).unwrap();
    std::fs::write(dir.join("train-labels-idx1-ubyte.gz"), &gz[..gz.len() / 2]).unwrap();
    fails_with(&run_on(&dir, &out, &[]), "train-labels-idx1-ubyte.gz");

    // whole again: the run goes through
    std::fs::write(dir.join("train-labels-idx1-ubyte.gz"), &gz).unwrap();
    let e = succeeds(&run_on(&dir, &out, &[]));
    assert!(out.join(export::RUN_FILE).is_file());
    assert!(!e.contains("no sample"), "{e}");

    // One damaged label (200): 201 classes, 197 of them empty; the run says so.
    let mut damaged = labels.clone();
    damaged[5] = 200;
    std::fs::remove_file(dir.join("train-labels-idx1-ubyte.gz")).unwrap();
    std::fs::write(
        dir.join("train-labels-idx1-ubyte"),
        idx_bytes(&[n], &damaged),
    )
    .unwrap();
    let e = succeeds(&run_on(&dir, &tmp.path().join("out200"), &[]));
    assert!(
        e.contains("197 of 201 classes have no sample (3 to 199)"),
        "{e}"
    );
    assert!(e.contains("its largest label, 200 (1 sample)"), "{e}");

    // The images file named bare, from inside its folder: "out" is inside the dataset folder.
    std::fs::write(
        dir.join("train-labels-idx1-ubyte"),
        idx_bytes(&[n], &labels),
    )
    .unwrap();
    let before = snapshot(&dir);
    for (data, out) in [("train-images-idx3-ubyte", "out2"), (".", "out2")] {
        let o = run_in(&dir, data, out);
        fails_with(&o, "is inside the dataset folder");
        assert_eq!(snapshot(&dir), before, "{data} --out {out}");
    }
}

/// Parse `run` arguments as the binary does.
fn args(a: &[&str]) -> cli::RunArgs {
    let mut v = vec!["itlm-inspector", "run"];
    v.extend_from_slice(a);
    match Cli::try_parse_from(v).unwrap().command {
        Some(cli::Command::Run(r)) => *r,
        other => panic!("{other:?}"),
    }
}

fn prepared(n: usize) -> Prepared {
    Prepared {
        train: dataset(n, 2),
        test: None,
        test_beside: None,
        test2: None,
        test2_path: None,
        truth: None,
        notes: Vec::new(),
        decisions: None,
        journal: None,
    }
}

#[test]
fn a_run_that_diverges_keeps_its_finished_rounds_in_the_run_file() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    let a = args(&[
        "unused",
        "--out",
        s(&out),
        "--rounds",
        "4",
        "--tau",
        "0.5",
        "--schedule",
        "constant",
        "-q",
    ]);
    let n = 10;
    let p = prepared(n);
    let config = a.itlm.config();
    // train calls 0 and 1 are fine; the third (round 2) ends with a NaN loss
    let (mut l, _) = FakeLearner::new((0..n).map(|i| i as f32).collect());
    l.diverge_at = Some(2);
    let e = cli::run_and_export(&a, &p, &mut l, &config, &a.model.config()).unwrap_err();
    assert!(matches!(e, Error::Diverged { round: 2, .. }), "{e:?}");
    assert!(e.to_string().contains("try a lower learning rate"), "{e}");
    let r = RunFile::read(&out.join(export::RUN_FILE)).unwrap();
    assert_eq!(
        r.rounds.iter().map(|r| r.round).collect::<Vec<_>>(),
        vec![0, 1]
    );
    assert!(
        r.status
            .to_string()
            .starts_with("failed: training diverged in round 2: training loss became NaN"),
        "{}",
        r.status
    );
    assert!(r.rounds.iter().all(|r| r.loss.len() == n));
    let csv = std::fs::read_to_string(out.join(export::SAMPLES_CSV)).unwrap();
    assert!(csv.starts_with("path,given,predicted,p_given,loss_round0,loss_round1,kept"));
    let clean = std::fs::read_to_string(out.join(export::CLEAN_TXT)).unwrap();
    assert_eq!(
        clean.lines().count(),
        5,
        "round 1's selection is the verdict"
    );

    // Diverging in round 0 leaves nothing to save, and nothing is written.
    let out0 = tmp.path().join("out0");
    let a = args(&["unused", "--out", s(&out0), "-q"]);
    let (mut l, _) = FakeLearner::new(vec![1.0; n]);
    l.diverge_at = Some(0);
    let e = cli::run_and_export(&a, &p, &mut l, &a.itlm.config(), &a.model.config()).unwrap_err();
    assert!(matches!(e, Error::Diverged { round: 0, .. }), "{e:?}");
    assert!(!out0.exists());

    // Every loss NaN after scoring is divergence too; round 0 finished training but not
    // scoring, so again nothing is saved.
    let (mut l, _) = FakeLearner::new(vec![f32::NAN; n]);
    let e = cli::run_and_export(&a, &p, &mut l, &a.itlm.config(), &a.model.config()).unwrap_err();
    assert!(
        e.to_string()
            .contains("every sample's loss is NaN or infinite"),
        "{e}"
    );
    assert!(!out0.exists());
}

#[test]
fn a_failed_run_whose_outputs_cannot_be_written_reports_both() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    // the output folder's place is taken by a file, after the up-front check
    let a = args(&["unused", "--out", s(&out), "--rounds", "2", "-q"]);
    std::fs::write(&out, "x").unwrap();
    let n = 10;
    let (mut l, _) = FakeLearner::new((0..n).map(|i| i as f32).collect());
    l.diverge_at = Some(2);
    let e = cli::run_and_export(
        &a,
        &prepared(n),
        &mut l,
        &a.itlm.config(),
        &a.model.config(),
    )
    .unwrap_err()
    .to_string();
    assert!(e.starts_with("training diverged in round 2"), "{e}");
    assert!(
        e.contains("the 2 finished rounds could not be saved either"),
        "{e}"
    );
    assert_eq!(std::fs::read(&out).unwrap(), b"x");
}

/// `run --clean-copy` links the kept files into a new folder (the originals untouched), and
/// `export` re-cuts a saved run at another tau and refuses unsafe destinations.
#[test]
fn clean_copy_links_kept_files_and_export_recuts() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    image_folder(&data, &["a", "b", "c"], 10);
    let before = snapshot(&data);
    let (out, copy) = (tmp.path().join("out"), tmp.path().join("copy"));
    let e = succeeds(&run_on(&data, &out, &["--clean-copy", s(&copy)]));
    assert!(!e.contains("changed after the run"), "{e}");
    let clean = std::fs::read_to_string(out.join("clean.txt")).unwrap();
    let kept: Vec<&str> = clean.lines().collect();

    let copied: Vec<PathBuf> = walkdir::WalkDir::new(&copy)
        .into_iter()
        .map(|e| e.unwrap())
        .filter(|e| e.file_type().is_file())
        .map(|e| e.path().strip_prefix(&copy).unwrap().to_path_buf())
        .collect();
    assert_eq!(copied.len(), kept.len());
    for id in &kept {
        let (orig, linked) = (data.join(id), copy.join(id));
        assert_eq!(
            std::fs::read(&orig).unwrap(),
            std::fs::read(&linked).unwrap(),
            "{id}"
        );
        #[cfg(unix)]
        {
            use std::os::unix::fs::MetadataExt;
            assert_eq!(
                std::fs::metadata(&orig).unwrap().ino(),
                std::fs::metadata(&linked).unwrap().ino()
            );
        }
    }
    assert_eq!(snapshot(&data), before, "the dataset folder is untouched");

    // Re-cut the saved run at tau 0.5 on round 0.
    let run_file = out.join("run.itlm");
    let out2 = tmp.path().join("out2");
    let o = run(&[
        "export",
        s(&run_file),
        "--round",
        "0",
        "--tau",
        "0.5",
        "--out",
        s(&out2),
    ]);
    let e = succeeds(&o);
    assert!(e.contains("round 0, tau 0.5"), "{e}");
    assert_eq!(
        std::fs::read_to_string(out2.join("clean.txt"))
            .unwrap()
            .lines()
            .count(),
        15
    );
    let flagged = std::fs::read_to_string(out2.join("flagged.txt")).unwrap();
    assert_eq!(flagged.lines().filter(|l| !l.starts_with('#')).count(), 15);
    // Unsafe or useless destinations.
    fails_with(
        &run(&["export", s(&run_file), "--clean-copy", s(&data.join("x"))]),
        "is inside the dataset folder",
    );
    fails_with(
        &run(&["export", s(&run_file), "--clean-copy", s(&copy)]),
        "is not empty",
    );
    fails_with(&run(&["export", s(&run_file)]), "nothing to do");
    // Said in words (it read "rounds 0..=1", Rust's range syntax).
    let last = RunFile::read(&run_file).unwrap().rounds.len() - 1;
    fails_with(
        &run(&["export", s(&run_file), "--round", "9", "--out", s(&out2)]),
        &format!("round 9 is not in the run (its rounds are 0 to {last})"),
    );
    fails_with(
        &run(&["export", s(&run_file), "--out", s(&out2)]),
        "already exists",
    );
    assert_eq!(snapshot(&data), before);
}

/// `export` and the clean copy refuse the run's test and test-2 folders as well as its
/// training folder (the run file records where its evaluation sets came from).
#[test]
fn exports_are_refused_inside_the_test_and_test2_folders() {
    let tmp = tempfile::tempdir().unwrap();
    let (data, test, test2) = (
        tmp.path().join("data"),
        tmp.path().join("test"),
        tmp.path().join("test2"),
    );
    image_folder(&data, &["a", "b"], 6);
    image_folder(&test, &["a", "b"], 3);
    image_folder(&test2, &["a", "b"], 2);
    let out = tmp.path().join("out");
    let extra = ["--test", s(&test), "--test2", s(&test2)];
    succeeds(&run_on(&data, &out, &extra));
    let run_file = out.join(export::RUN_FILE);
    let r = RunFile::read(&run_file).unwrap();
    assert_eq!(r.dataset.eval_sources.len(), 2);
    let before = [snapshot(&data), snapshot(&test), snapshot(&test2)];
    for dir in [&data, &test, &test2] {
        for flag in ["--out", "--clean-copy"] {
            let inside = dir.join("exp");
            fails_with(
                &run(&["export", s(&run_file), flag, s(&inside)]),
                "is inside the dataset folder",
            );
            // `run` itself refuses them too.
            let mut a = extra.to_vec();
            if flag == "--clean-copy" {
                a.extend(["--clean-copy", s(&inside)]);
                fails_with(
                    &run_on(&data, &tmp.path().join("o2"), &a),
                    "is inside the dataset folder",
                );
            } else {
                fails_with(&run_on(&data, &inside, &a), "is inside the dataset folder");
            }
        }
    }
    assert_eq!(
        [snapshot(&data), snapshot(&test), snapshot(&test2)],
        before,
        "a dataset folder changed"
    );
    // A re-exported run keeps its evaluation sources.
    let out2 = tmp.path().join("out2");
    succeeds(&run(&["export", s(&run_file), "--out", s(&out2)]));
    let r2 = RunFile::read(&out2.join(export::RUN_FILE)).unwrap();
    assert_eq!(r2.dataset.eval_sources, r.dataset.eval_sources);
}

/// The clean copy has a folder for every class, even one with no kept sample; kept files that
/// are gone make it fail with their count, and when none is left nothing is written.
#[test]
fn clean_copy_keeps_every_class_and_fails_on_missing_files() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    image_folder(&data, &["a", "b", "c"], 10);
    let out = tmp.path().join("out");
    succeeds(&run_on(&data, &out, &[]));
    let run_file = out.join(export::RUN_FILE);
    let files = |dir: &Path| -> usize {
        walkdir::WalkDir::new(dir)
            .into_iter()
            .filter(|e| e.as_ref().unwrap().file_type().is_file())
            .count()
    };

    // tau 0.05 keeps 2 of 30 samples: at least one class keeps none, its folder is still there.
    let copy = tmp.path().join("copy");
    let e = succeeds(&run(&[
        "export",
        s(&run_file),
        "--tau",
        "0.05",
        "--clean-copy",
        s(&copy),
    ]));
    assert_eq!(files(&copy), 2);
    // It says what it holds of the run's samples and what it left out (it said only how
    // the files were made).
    assert!(
        e.contains("2 of 30 samples in their class folders, 28 flagged left out;"),
        "{e}"
    );
    for c in ["a", "b", "c"] {
        assert!(copy.join(c).is_dir(), "no folder for class {c}");
    }
    let e = stderr(&run(&[
        "export",
        s(&run_file),
        "--clean-copy",
        s(&tmp.path().join("c0")),
    ]));
    assert!(!e.contains("changed after the run"), "{e}");

    // A kept file replaced after the run: the copy holds the new file, and says so.
    let clean = std::fs::read_to_string(out.join(export::CLEAN_TXT)).unwrap();
    let kept: Vec<&str> = clean.lines().collect();
    let replaced = data.join(kept[1]);
    let later = std::fs::metadata(&run_file).unwrap().modified().unwrap()
        + std::time::Duration::from_secs(5);
    std::fs::File::options()
        .write(true)
        .open(&replaced)
        .unwrap()
        .set_modified(later)
        .unwrap();
    let e = succeeds(&run(&[
        "export",
        s(&run_file),
        "--clean-copy",
        s(&tmp.path().join("c1")),
    ]));
    assert!(
        e.contains(&format!(
            "warning: 1 copied file changed after the run read the images (first: {})",
            kept[1]
        )),
        "{e}"
    );

    // One kept file gone: the others are copied, the exit code says it, with the count.
    let clean = std::fs::read_to_string(out.join(export::CLEAN_TXT)).unwrap();
    let kept: Vec<&str> = clean.lines().collect();
    std::fs::remove_file(data.join(kept[0])).unwrap();
    let copy2 = tmp.path().join("copy2");
    let e = fails_with(
        &run(&["export", s(&run_file), "--clean-copy", s(&copy2)]),
        &format!("1 of the {} kept files are missing", kept.len()),
    );
    assert!(e.contains(kept[0]), "{e}");
    assert_eq!(files(&copy2), kept.len() - 1);

    // All gone: an error that says where they were looked for, and no folder left behind.
    let looked_in = std::fs::canonicalize(&data).unwrap();
    std::fs::rename(&data, tmp.path().join("moved")).unwrap();
    let copy3 = tmp.path().join("copy3");
    let e = fails_with(
        &run(&["export", s(&run_file), "--clean-copy", s(&copy3)]),
        &format!("none of the {} kept files could be copied", kept.len()),
    );
    assert!(
        e.contains(&format!(", looked for in {})", looked_in.display())),
        "{e}"
    );
    assert!(!copy3.exists());
    let names: Vec<String> = std::fs::read_dir(tmp.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(!names.iter().any(|n| n.contains("copy3")), "{names:?}");
}

/// The column `name` of every row of a samples.csv (no quoted fields in these tests).
fn csv_column(csv: &str, name: &str) -> Vec<String> {
    let mut lines = csv.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    let k = header.iter().position(|h| *h == name).unwrap();
    lines
        .map(|l| l.split(',').nth(k).unwrap().to_string())
        .collect()
}

/// A run of rounds 0..=2 on a 3-class folder of 10 images each under `dir`: its run file.
fn two_round_run(dir: &Path) -> PathBuf {
    let data = dir.join("data");
    image_folder(&data, &["a", "b", "c"], 10);
    let out = dir.join("out");
    succeeds(&run_on(&data, &out, &["--rounds", "2"]));
    out.join(export::RUN_FILE)
}

/// A re-cut export counts trims up to its round only, that round by the new cut.
#[test]
fn recut_exports_count_times_trimmed_up_to_their_round() {
    let tmp = tempfile::tempdir().unwrap();
    let run_file = two_round_run(tmp.path());
    let r = RunFile::read(&run_file).unwrap();
    for round in ["0", "1"] {
        let ex = tmp.path().join(format!("ex{round}"));
        succeeds(&run(&[
            "export",
            s(&run_file),
            "--round",
            round,
            "--tau",
            "0.5",
            "--out",
            s(&ex),
        ]));
        let csv = std::fs::read_to_string(ex.join(export::SAMPLES_CSV)).unwrap();
        let kept = csv_column(&csv, "kept");
        let times = csv_column(&csv, "times_trimmed");
        for (i, (k, t)) in kept.iter().zip(&times).enumerate() {
            let earlier = if round == "1" {
                usize::from(!r.rounds[0].kept[i])
            } else {
                0
            };
            let want = earlier + usize::from(k == "0");
            assert_eq!(t, &want.to_string(), "round {round}, row {i}");
        }
    }
}

/// `export` without --round or --tau keeps the cut the run was saved with (the window saves
/// the shown round at the slider's tau), as `report` does; --tau alone re-cuts that round.
#[test]
fn export_keeps_the_saved_cut_by_default() {
    let tmp = tempfile::tempdir().unwrap();
    let run_file = two_round_run(tmp.path());
    // Saved as the window would: round 1 of 0..=2 at tau 0.5, its cut as the window made it
    // (the first half kept: as pins would have it, whatever the losses say).
    let mut r = RunFile::read(&run_file).unwrap();
    assert_eq!(r.rounds.len(), 3);
    let n = r.dataset.len();
    let kept: Vec<bool> = (0..n).map(|i| i < n / 2).collect();
    r.verdict = Some(itlm_inspector::export::Verdict {
        round: 1,
        tau: 0.5,
        kept: kept.clone(),
    });
    let saved = tmp.path().join("saved.itlm");
    std::fs::write(&saved, r.to_bytes().unwrap()).unwrap();
    // What `export` says of its cut, and how many samples its clean.txt keeps.
    let export = |name: &str, cut: &[&str]| -> (String, usize) {
        let ex = tmp.path().join(name);
        let mut args = vec!["export", s(&saved), "--out", s(&ex)];
        args.extend(cut);
        let e = succeeds(&run(&args));
        let kept = std::fs::read_to_string(ex.join(export::CLEAN_TXT))
            .unwrap()
            .lines()
            .count();
        (e, kept)
    };
    let (e, n_kept) = export("ex", &[]);
    assert!(e.contains("round 1, tau 0.500 ") && n_kept == 15, "{e}");
    // The saved cut itself, sample for sample.
    let clean = std::fs::read_to_string(tmp.path().join("ex").join(export::CLEAN_TXT)).unwrap();
    let want: Vec<&str> = (0..n)
        .filter(|&i| kept[i])
        .map(|i| r.dataset.ids[i].as_str())
        .collect();
    assert_eq!(clean.lines().collect::<Vec<_>>(), want);
    // --tau alone: the saved round at that tau.
    let (e, n_kept) = export("ex2", &["--tau", "0.8"]);
    assert!(e.contains("round 1, tau 0.800 ") && n_kept == 24, "{e}");
    // --round alone: that round at its own tau, as the run cut it.
    let (e, n_kept) = export("ex3", &["--round", "2"]);
    assert!(
        e.contains(&format!("round 2, tau {:.3} ", r.rounds[2].tau)),
        "{e}"
    );
    assert_eq!(n_kept, r.rounds[2].kept.iter().filter(|&&k| k).count());
}

/// Bad destinations are refused before any training, each with one clear message: a clean
/// copy that is (or holds) the --out folder, a folder below a file, a folder given as run file.
#[test]
fn bad_destinations_are_refused_before_training() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    image_folder(&data, &["a", "b"], 4);
    let x = tmp.path().join("x");
    // --epochs 1000 would take long: a refusal must come before training.
    let slow = ["--epochs", "1000", "--final-epochs", "1000"];
    for copy in [x.clone(), tmp.path().to_path_buf()] {
        let mut a = slow.to_vec();
        a.extend(["--clean-copy", s(&copy)]);
        let o = run_on(&data, &x, &a);
        if copy == x {
            fails_with(&o, "--clean-copy would hold the --out folder");
        } else {
            fails_with(&o, "is not empty");
        }
        assert!(!x.exists(), "something was written");
    }
    let afile = tmp.path().join("afile");
    std::fs::write(&afile, "x").unwrap();
    let sub = afile.join("sub");
    let e = fails_with(
        &run_on(&data, &sub, &slow),
        &format!(
            "cannot be created: {} is a file, not a folder",
            afile.display()
        ),
    );
    assert_eq!(e.matches("is a file").count(), 1, "{e}");
    let mut a = slow.to_vec();
    a.extend(["--clean-copy", s(&sub)]);
    fails_with(&run_on(&data, &x, &a), "cannot be created");

    // export: a folder for a run file, bad destinations before anything is written.
    let out = tmp.path().join("out");
    succeeds(&run_on(&data, &out, &[]));
    let e = fails_with(
        &run(&["export", s(&out), "--out", s(&x)]),
        "is a folder; the run file is",
    );
    assert!(!e.contains("os error"), "{e}");
    let run_file = out.join(export::RUN_FILE);
    let o = run(&[
        "export",
        s(&run_file),
        "--out",
        s(&x),
        "--clean-copy",
        s(&x),
    ]);
    fails_with(&o, "--clean-copy would hold the --out folder");
    assert!(!x.exists(), "export wrote before refusing");
    fails_with(
        &run(&["export", s(&run_file), "--out", s(&sub)]),
        "cannot be created",
    );
}

/// `run --oracle` needs no --out, writes nothing and prints percentages, never Rust debug text.
#[test]
fn the_oracle_prints_percentages_and_writes_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let (data, test) = (tmp.path().join("data"), tmp.path().join("test"));
    image_folder(&data, &["a", "b"], 4);
    image_folder(&test, &["a", "b"], 2);
    let before = std::fs::read_dir(tmp.path()).unwrap().count();
    let base = [
        "run",
        s(&data),
        "--oracle",
        "--model",
        "mlp",
        "--final-epochs",
        "1",
    ];
    let e = succeeds(&run(&base));
    assert!(e.contains("no test set to measure"), "{e}");
    let mut with_test = base.to_vec();
    with_test.extend(["--test", s(&test)]);
    let e = succeeds(&run(&with_test));
    assert!(e.contains("test acc ") && e.contains('%'), "{e}");
    for bad in ["Some(", "None"] {
        assert!(!e.contains(bad), "{e}");
    }
    assert_eq!(std::fs::read_dir(tmp.path()).unwrap().count(), before);
    let o = tmp.path().join("o");
    let mut with_out = base.to_vec();
    with_out.extend(["--out", s(&o)]);
    let o = run(&with_out);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("cannot be used with"), "{}", stderr(&o));
}

/// An IDX directory whose name does not say Fashion-MNIST gets classes `0..9`; as the test
/// set of a training set with Fashion-MNIST's classes (sorted folders, as `corrupt` writes
/// them) its labels are read as Fashion-MNIST's, with a note; other class names are still
/// refused.
#[test]
fn an_idx_copy_of_fashion_mnist_aligns_with_fashion_classes() {
    use itlm_inspector::data::idx::FASHION_CLASSES;
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let mut sorted = FASHION_CLASSES.to_vec();
    sorted.sort();
    image_folder(&data, &sorted, 1);
    let copy = tmp.path().join("some-copy");
    std::fs::create_dir(&copy).unwrap();
    let n = 20u32;
    let pixels: Vec<u8> = (0..n * 64).map(|j| (j * 7 % 251) as u8).collect();
    let labels: Vec<u8> = (0..n).map(|i| (i % 10) as u8).collect();
    for (f, b) in [
        ("train-images-idx3-ubyte", idx_bytes(&[n, 8, 8], &pixels)),
        ("train-labels-idx1-ubyte", idx_bytes(&[n], &labels)),
    ] {
        std::fs::write(copy.join(f), b).unwrap();
    }
    let p = session::prepare(&with_test(&data, &copy)).unwrap();
    let test = p.test.unwrap();
    assert_eq!(test.classes, sorted);
    for (i, &l) in test.labels().iter().enumerate() {
        assert_eq!(
            test.classes[l as usize],
            FASHION_CLASSES[i % 10],
            "sample {i}"
        );
    }
    assert!(
        p.notes
            .iter()
            .any(|n| n.contains("read as Fashion-MNIST's classes")),
        "{:?}",
        p.notes
    );
    // Other class names: no guess, a clear refusal.
    let other = tmp.path().join("other");
    let names: Vec<String> = (0..10).map(|c| format!("c{c}")).collect();
    let names: Vec<&str> = names.iter().map(|s| s.as_str()).collect();
    image_folder(&other, &names, 1);
    let Err(e) = session::prepare(&with_test(&other, &copy)) else {
        panic!("digit classes aligned to other names");
    };
    assert!(
        e.to_string()
            .contains("class '0' is not one of the training classes"),
        "{e}"
    );
}

/// `run --restore` adds the restore round, says so, and `export` re-cuts a restore round as
/// the run cut it (its restore included): the same clean list.
#[test]
fn a_restore_run_has_one_more_round_and_export_recuts_it_the_same_way() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    image_folder(&data, &["a", "b", "c"], 10);
    let out = tmp.path().join("out");
    succeeds(&run_on(&data, &out, &["--restore"]));
    let run_file = RunFile::read(&out.join("run.itlm")).unwrap();
    assert!(run_file.config.restore);
    let rounds: Vec<usize> = run_file.rounds.iter().map(|r| r.round).collect();
    assert_eq!(rounds, vec![0, 1, 2], "--rounds 1 and the restore round");
    assert_eq!(
        run_file.rounds[2].trained_on,
        run_file.rounds[1].kept_count()
    );
    let out2 = tmp.path().join("out2");
    succeeds(&run(&[
        "export",
        s(&out.join("run.itlm")),
        "--out",
        s(&out2),
    ]));
    for f in ["clean.txt", "flagged.txt"] {
        assert_eq!(
            std::fs::read_to_string(out.join(f)).unwrap(),
            std::fs::read_to_string(out2.join(f)).unwrap(),
            "{f}"
        );
    }
    let o = run(&args_for(
        s(&data),
        s(&tmp.path().join("o3")),
        &["--restore", "--no-restore"],
    ));
    assert!(!o.status.success() && stderr(&o).contains("cannot be used with"));
}

/// A set opened as its `train/` folder finds what lies beside it: `ROOT/test/` as its test set
/// and `ROOT/truth.csv`, whose paths (`train/<class>/<file>`, relative to its own folder) are
/// matched to the set's samples; a truth file there that names other files is still refused.
#[test]
fn a_train_folder_finds_its_test_folder_and_the_truth_beside_it() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("root");
    image_folder(&root.join("train"), &["a", "b", "c"], 6);
    image_folder(&root.join("test"), &["a", "b", "c"], 2);
    // The truth above the train folder names its files from there (and the test files too).
    let inner = std::fs::read_to_string(root.join("train").join("truth.csv")).unwrap();
    std::fs::remove_file(root.join("train").join("truth.csv")).unwrap();
    std::fs::remove_file(root.join("test").join("truth.csv")).unwrap();
    let mut outer = String::from("path,true_label,kind\n");
    for l in inner.lines().skip(1) {
        outer.push_str(&format!("train/{l}\n"));
    }
    outer.push_str("test/a/00.png,a,clean\n");
    std::fs::write(root.join("truth.csv"), &outer).unwrap();
    let p = itlm_inspector::session::prepare(&DataRequest {
        path: root.join("train"),
        ..Default::default()
    })
    .unwrap();
    assert_eq!(p.test.as_ref().map(|t| t.len()), Some(6), "{:?}", p.notes);
    let truth = p.truth.as_ref().expect("the truth beside the train folder");
    assert_eq!(truth.bad.iter().filter(|&&b| b).count(), 3);
    for (i, id) in p.train.ids().iter().enumerate() {
        assert_eq!(truth.bad[i], id.ends_with("/00.png"), "{id}");
    }
    // Rows naming no sample, with the prefix or without, are refused as before.
    std::fs::write(
        root.join("truth.csv"),
        "path,true_label\nother/a/00.png,a\n",
    )
    .unwrap();
    let e = itlm_inspector::session::prepare(&DataRequest {
        path: root.join("train"),
        ..Default::default()
    })
    .err()
    .expect("refused");
    assert!(e.to_string().contains("none of its 1 rows matches"), "{e}");
}

/// What `run DATA --test TEST` opens.
fn with_test(data: &Path, test: &Path) -> DataRequest {
    DataRequest {
        path: data.to_path_buf(),
        eval: EvalInputs {
            test: Some(test.to_path_buf()),
            ..Default::default()
        },
        ..Default::default()
    }
}

/// `run` without `--tau` reads it from round 0 and says so (a line, `--json`'s
/// `tau_from_data`, every round's tau); with `--tau` it keeps that.
#[test]
fn run_reads_tau_from_the_data_unless_given() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("set");
    image_folder(&data, &["a", "b", "c"], 12);
    let json_of = |o: &Output| -> serde_json::Value {
        succeeds(o);
        serde_json::from_slice(&o.stdout).expect("one JSON object")
    };
    let out = tmp.path().join("out");
    // Not quiet: the line on stderr.
    let with_line = run(&[
        "run",
        s(&data),
        "--out",
        s(&out),
        "--model",
        "mlp",
        "--rounds",
        "1",
        "--epochs",
        "1",
        "--final-epochs",
        "1",
        "--force",
    ]);
    let line = succeeds(&with_line);
    assert!(line.contains("tau from the data: "), "{line}");
    let j = json_of(&run_on(&data, &out, &["--force", "--json"]));
    let tau = j["tau_from_data"]["tau"].as_f64().expect("the chosen tau");
    let noise = j["tau_from_data"]["noise"].as_f64().unwrap();
    assert!((tau - ((1.0 - noise) * 100.0).round() / 100.0).abs() < 1e-9 || tau == 0.05);
    assert_eq!(j["config"]["tau"].as_f64(), Some(tau));
    assert_eq!(j["config"]["tau_from_data"], serde_json::Value::Bool(true));
    for r in j["rounds"].as_array().unwrap() {
        assert_eq!(r["tau"].as_f64(), Some(tau), "{r}");
    }
    let j = json_of(&run_on(&data, &out, &["--force", "--json", "--tau", "0.8"]));
    assert!(j["tau_from_data"].is_null());
    assert_eq!(j["config"]["tau_from_data"], serde_json::Value::Bool(false));
    for r in j["rounds"].as_array().unwrap() {
        assert_eq!(r["tau"].as_f64(), Some(0.8), "{r}");
    }
}

/// `run` gives the window's advice as lines (it had trained in silence): colour images a head
/// on Lite0's embeddings; not where it does not apply, nor with -q. An epoch of one batch gets
/// no advice to shrink the batch: measured, that found fewer bad labels (README, "Image
/// checks").
#[test]
fn run_prints_the_windows_advice_on_a_small_colour_set() {
    let tmp = tempfile::tempdir().unwrap();
    let grey = tmp.path().join("grey");
    image_folder(&grey, &["a", "b", "c"], 20);
    let colour = tmp.path().join("colour");
    for (c, name) in ["a", "b"].iter().enumerate() {
        std::fs::create_dir_all(colour.join(name)).unwrap();
        for i in 0..20u8 {
            image::RgbImage::from_fn(8, 8, |x, y| {
                image::Rgb([x as u8 * 30, y as u8 * 30, i * 9 + c as u8 * 100])
            })
            .save(colour.join(name).join(format!("{i:02}.png")))
            .unwrap();
        }
    }
    let said = |data: &Path, extra: &[&str]| {
        let out = tempfile::tempdir().unwrap();
        let mut args = args_for(s(data), s(out.path()), extra);
        args.retain(|a| *a != "-q");
        succeeds(&run(&args))
    };
    let e = said(&grey, &[]);
    assert!(!e.contains("hint:"), "grey 8x8 in one batch: no hint\n{e}");
    let e = said(&grey, &["--batch-size", "4"]);
    assert!(!e.contains("hint:"), "{e}");
    let e = said(&colour, &["--batch-size", "4"]);
    assert!(
        e.contains(
            "hint: colour images (8x8x3): a head on EfficientNet-Lite0's ImageNet embeddings"
        ),
        "{e}"
    );
    let out = tempfile::tempdir().unwrap();
    let e = succeeds(&run(&args_for(s(&colour), s(out.path()), &[])));
    assert!(!e.contains("hint:"), "-q: {e}");
}

/// `run --clean-copy` names the copied files modified after the run began (here: every file,
/// its time set an hour ahead): the copy holds them as they are, not as the run judged them.
#[test]
fn run_s_clean_copy_names_files_modified_after_the_run_began() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    image_folder(&data, &["a", "b"], 6);
    let ahead = std::time::SystemTime::now() + std::time::Duration::from_secs(3600);
    for e in walkdir::WalkDir::new(&data) {
        let e = e.unwrap();
        if e.file_type().is_file() {
            std::fs::File::options()
                .write(true)
                .open(e.path())
                .unwrap()
                .set_modified(ahead)
                .unwrap();
        }
    }
    let (out, copy) = (tmp.path().join("out"), tmp.path().join("copy"));
    let e = succeeds(&run_on(&data, &out, &["--clean-copy", s(&copy)]));
    let kept = std::fs::read_to_string(out.join("clean.txt"))
        .unwrap()
        .lines()
        .count();
    assert!(
        e.contains(&format!(
            "warning: {kept} copied files changed after the run read the images"
        )),
        "{e}"
    );
}

/// A run whose output goes into pipes their reader closed (`run ... 2>&1 | head`, the reader
/// gone before the first line) goes on and writes its files: it had been killed by SIGPIPE at
/// its first line, leaving no output at all.
#[test]
fn a_run_whose_output_pipe_closes_still_writes_its_files() {
    use std::process::Stdio;
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    image_folder(&data, &["a", "b"], 12);
    let out = tmp.path().join("out");
    // Not quiet: it prints its header and every round.
    let mut args = args_for(s(&data), s(&out), &[]);
    args.retain(|a| *a != "-q");
    let mut child = Command::new(BIN)
        .args(&args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Close both read ends before the run prints anything.
    drop(child.stdout.take());
    drop(child.stderr.take());
    let status = child.wait().unwrap();
    assert!(status.success(), "{status:?}");
    for f in OUTPUTS {
        assert!(out.join(f).is_file(), "{f} missing");
    }
    let r = RunFile::read(&out.join(export::RUN_FILE)).unwrap();
    assert!(!r.rounds.is_empty());
}
