//! A flat folder of images (no class subfolders) is an unlabelled set: it loads with one
//! class named "" (images beside class folders do not make one), `check` reads it fully,
//! `run --mode generative` ranks it and its exports name no labels, a classify run refuses it
//! saying what to do, and a clean copy of it is flat again (its `_flagged` folder no class).

mod common;

use common::cli::{image_of, run, s, stderr, succeeds};
use std::path::Path;

use itlm_inspector::data::{self, image_folder, LoadOptions};

/// A short generative run: one round of one epoch, the final model one epoch.
const GENERATIVE: [&str; 8] = [
    "--mode",
    "generative",
    "--rounds",
    "1",
    "--epochs",
    "1",
    "--final-epochs",
    "1",
];

/// `n` 8x8 images directly in `dir`, with a text file and a hidden image beside them.
fn flat(dir: &Path, n: usize) {
    std::fs::create_dir_all(dir).unwrap();
    for i in 0..n {
        image_of(i % 3, i)
            .save(dir.join(format!("p{i:02}.png")))
            .unwrap();
    }
    std::fs::write(dir.join("notes.txt"), "not an image").unwrap();
    image_of(0, 99).save(dir.join(".hidden.png")).unwrap();
}

#[test]
fn a_flat_folder_loads_unlabelled() {
    let t = tempfile::tempdir().unwrap();
    let root = t.path().join("photos");
    flat(&root, 6);
    // A corrupt image is skipped with its reason, as in a class folder.
    std::fs::write(root.join("broken.jpg"), b"not a jpeg").unwrap();
    let d = data::load(&root, &LoadOptions::default()).unwrap().train;
    assert!(d.is_unlabelled());
    assert_eq!(d.classes, vec![String::new()]);
    assert_eq!(d.len(), 6);
    assert_eq!(d.id(0), "p00.png");
    assert_eq!(d.file(5), Some(root.join("p05.png")));
    assert_eq!(d.skipped.len(), 1, "{:?}", d.skipped);
    assert!(d.skipped[0].path.ends_with("broken.jpg"));
    assert!(
        d.summary().starts_with("6 images, unlabelled, 8x8x1"),
        "{}",
        d.summary()
    );

    // A clean copy's quarantine folder is no class: still flat, the folder named as skipped.
    std::fs::create_dir_all(root.join("_flagged")).unwrap();
    image_of(1, 7).save(root.join("_flagged/q.png")).unwrap();
    let d = image_folder::load(&root, &LoadOptions::default()).unwrap();
    assert!(d.is_unlabelled());
    assert_eq!(d.len(), 6);
    assert!(d.skipped.iter().any(|s| s.path.ends_with("_flagged")));
}

#[test]
fn images_beside_class_folders_are_named_not_a_class() {
    let t = tempfile::tempdir().unwrap();
    let root = t.path();
    for c in ["cat", "dog"] {
        std::fs::create_dir_all(root.join(c)).unwrap();
        for i in 0..3 {
            image_of(0, i)
                .save(root.join(c).join(format!("{i}.png")))
                .unwrap();
        }
    }
    image_of(0, 9).save(root.join("stray.png")).unwrap();
    std::fs::write(root.join("truth.csv"), "path,true_label\n").unwrap();
    let d = image_folder::load(root, &LoadOptions::default()).unwrap();
    assert!(!d.is_unlabelled());
    assert_eq!(d.classes, vec!["cat", "dog"]);
    assert_eq!(d.len(), 6);
    // The stray image is said, the CSV beside the classes is not an image.
    assert_eq!(d.skipped.len(), 1, "{:?}", d.skipped);
    assert!(d.skipped[0].path.ends_with("stray.png"));
    assert!(d.skipped[0].reason.contains("beside its class folders"));
}

#[test]
fn check_reads_a_flat_folder_and_says_it_is_unlabelled() {
    let t = tempfile::tempdir().unwrap();
    let root = t.path().join("photos");
    flat(&root, 6);
    // An exact duplicate and a dark image: the checks need no labels.
    std::fs::copy(root.join("p01.png"), root.join("p01-copy.png")).unwrap();
    image::GrayImage::from_pixel(8, 8, image::Luma([0]))
        .save(root.join("dark.png"))
        .unwrap();
    let o = run(&["check", s(&root)]);
    succeeds(&o);
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(out.contains("8 images, unlabelled"), "{out}");
    assert!(!out.contains("1 class"), "{out}");
    assert!(
        out.contains("exact duplicate: p01-copy.png, p01.png")
            || out.contains("exact duplicate: p01.png, p01-copy.png"),
        "{out}"
    );
    assert!(out.contains("dark: dark.png"), "{out}");
}

#[test]
fn a_classify_run_refuses_and_the_generative_run_names_no_labels() {
    let t = tempfile::tempdir().unwrap();
    let root = t.path().join("photos");
    flat(&root, 12);
    let out = t.path().join("out");
    let o = run(&["run", s(&root), "--out", s(&out), "--model", "mlp", "-q"]);
    assert!(!o.status.success());
    let e = stderr(&o);
    assert!(e.contains("the set is unlabelled"), "{e}");
    assert!(e.contains("class subfolders"), "{e}");
    assert!(e.contains("labels CSV"), "{e}");
    assert!(e.contains("--mode generative"), "{e}");
    assert!(!out.exists(), "nothing written for a refused run");

    let copy_dir = t.path().join("copy");
    let mut args = vec![
        "run",
        s(&root),
        "--out",
        s(&out),
        "--clean-copy",
        s(&copy_dir),
    ];
    args.extend(GENERATIVE);
    let o = run(&args);
    let e = succeeds(&o);
    assert!(e.contains("12 images, unlabelled"), "{e}");
    // samples.csv: no given label, no prediction.
    let samples = std::fs::read_to_string(out.join("samples.csv")).unwrap();
    let mut lines = samples.lines();
    assert!(lines.next().unwrap().starts_with("path,given,predicted,"));
    for l in lines {
        let f: Vec<&str> = l.split(',').collect();
        assert_eq!((f[1], f[2]), ("", ""), "{l}");
    }
    // The report says unlabelled, not "1 class".
    let html = t.path().join("r.html");
    succeeds(&run(&[
        "report",
        s(&out.join("run.itlm")),
        "--out",
        s(&html),
    ]));
    let h = std::fs::read_to_string(&html).unwrap();
    assert!(h.contains("12 samples, unlabelled"), "report summary");
    assert!(!h.contains("of 1 class"));
    // The clean copy is a flat folder again: it loads unlabelled.
    let copy = data::load(&t.path().join("copy"), &LoadOptions::default())
        .unwrap()
        .train;
    assert!(copy.is_unlabelled());
    assert!(!copy.is_empty() && copy.len() <= 12);
    assert!(!root.join("run.itlm").exists());
    // With decisions: clean.txt follows them, and no labels.csv pretends there are labels.
    let journal = t.path().join("decisions.csv");
    std::fs::write(&journal, "path,decision,label,time\np00.png,exclude,,\n").unwrap();
    let out2 = t.path().join("out2");
    succeeds(&run(&[
        "export",
        s(&out.join("run.itlm")),
        "--out",
        s(&out2),
        "--decisions",
        s(&journal),
    ]));
    let clean = std::fs::read_to_string(out2.join("clean.txt")).unwrap();
    assert!(!clean.lines().any(|l| l == "p00.png"), "{clean}");
    assert!(
        !out2.join("labels.csv").exists(),
        "no labels.csv for an unlabelled set"
    );
    // An output inside the dataset folder is refused.
    let inside = root.join("out");
    let mut args = vec!["run", s(&root), "--out", s(&inside)];
    args.extend(GENERATIVE);
    let o = run(&args);
    assert!(!o.status.success());
    assert!(
        stderr(&o).contains("inside the dataset folder"),
        "{}",
        stderr(&o)
    );
}

/// `corrupt` makes noise of labels and classes: an unlabelled set is refused, nothing written.
#[test]
fn corrupt_refuses_an_unlabelled_set() {
    let t = tempfile::tempdir().unwrap();
    let root = t.path().join("photos");
    flat(&root, 6);
    let out = t.path().join("noisy");
    let o = run(&[
        "corrupt",
        s(&root),
        "--out",
        s(&out),
        "--noise",
        "systematic",
        "--rate",
        "0.2",
    ]);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("an unlabelled set"), "{}", stderr(&o));
    assert!(!out.exists());
}

/// Loose images beside one ordinary subfolder (`thumbnails/`): read by default as a labelled
/// set of that one class, which cannot be classified and says so; read as unlabelled images
/// (`LoadOptions::unlabelled`, `--unlabelled`) every image under the folder is a sample,
/// recursively, hidden names, other files and a clean copy's `_flagged` folder left out; a
/// run of it reopens with the same samples.
#[test]
fn a_folder_read_as_unlabelled_takes_every_image_under_it() {
    let t = tempfile::tempdir().unwrap();
    let root = t.path().join("photos");
    flat(&root, 9);
    let thumbs = root.join("thumbnails");
    std::fs::create_dir_all(&thumbs).unwrap();
    for i in 0..3 {
        image_of(1, i)
            .save(thumbs.join(format!("t{i}.png")))
            .unwrap();
    }
    std::fs::write(thumbs.join("index.json"), "{}").unwrap();
    std::fs::create_dir_all(root.join("_flagged")).unwrap();
    image_of(1, 7).save(root.join("_flagged/q.png")).unwrap();

    let d = data::load(&root, &LoadOptions::default()).unwrap().train;
    assert_eq!(d.classes, vec!["thumbnails"]);
    assert_eq!(d.one_class_beside_loose_images(), Some(9));
    let note = d.one_class_note().unwrap();
    assert!(note.contains("9 images directly in the folder"), "{note}");
    assert!(note.contains("--unlabelled"), "{note}");

    let opts = LoadOptions {
        unlabelled: true,
        ..LoadOptions::default()
    };
    let u = data::load(&root, &opts).unwrap().train;
    assert!(u.is_unlabelled());
    assert_eq!(u.len(), 12, "{:?}", u.ids());
    assert!(u.ids().iter().any(|i| i == "thumbnails/t2.png"));
    assert!(u.ids().iter().any(|i| i == "p08.png"));
    assert!(!u
        .ids()
        .iter()
        .any(|i| i.contains("_flagged") || i.contains("hidden")));
    assert_eq!(u.one_class_note(), None);
    assert!(u.skipped.iter().any(|s| s.path.ends_with("_flagged")));
    // Not for a file: a labels CSV read so is refused, saying why.
    let csv = t.path().join("labels.csv");
    std::fs::write(&csv, "path,label\nphotos/p00.png,a\n").unwrap();
    let e = data::load(&csv, &opts).unwrap_err().to_string();
    assert!(e.contains("is a file") && e.contains("--unlabelled"), "{e}");

    // The command line: a classify run says why it cannot run and what to do.
    let out = t.path().join("out");
    let o = run(&["run", s(&root), "--out", s(&out), "--model", "mlp", "-q"]);
    assert!(!o.status.success());
    let e = stderr(&o);
    assert!(e.contains("one class cannot be classified"), "{e}");
    assert!(e.contains("--unlabelled"), "{e}");
    // check and a generative run read every image with --unlabelled.
    let o = run(&["check", s(&root), "--unlabelled"]);
    let text = String::from_utf8_lossy(&o.stdout).into_owned();
    succeeds(&o);
    assert!(text.contains("12 images, unlabelled"), "{text}");
    let mut args = vec!["run", s(&root), "--out", s(&out), "--unlabelled"];
    args.extend(GENERATIVE);
    let e = succeeds(&run(&args));
    assert!(e.contains("12 images, unlabelled"), "{e}");
    // Reopened, the run reads the same twelve images again (not the one-class reading).
    let l =
        itlm_inspector::session::reopen::load(&out.join("run.itlm"), &Default::default()).unwrap();
    assert_eq!(l.train.len(), 12);
    assert!(l.reopened.as_ref().unwrap().images_missing.is_none());
}

/// An IDX set whose labels are all one value loads with a second, empty class (IDX names at
/// least two): a classify run refuses it as it refuses one class folder (it had trained and
/// "ranked" samples of a single class); the generative mode still runs on it.
#[test]
fn a_classify_run_refuses_an_idx_set_of_one_label_value() {
    use itlm_inspector::data::idx;
    let t = tempfile::tempdir().unwrap();
    let dir = t.path().join("one");
    std::fs::create_dir_all(&dir).unwrap();
    let n = 40;
    let px: Vec<u8> = (0..n * 64).map(|i| (i * 37 % 251) as u8).collect();
    std::fs::write(
        dir.join("train-images-idx3-ubyte"),
        idx::encode(&[n, 8, 8], &px).unwrap(),
    )
    .unwrap();
    std::fs::write(
        dir.join("train-labels-idx1-ubyte"),
        idx::encode(&[n], &vec![0u8; n]).unwrap(),
    )
    .unwrap();
    let out = t.path().join("out");
    let o = run(&["run", s(&dir), "--out", s(&out), "--model", "mlp", "-q"]);
    assert!(
        !o.status.success(),
        "a classifier trained on one label value"
    );
    let e = stderr(&o);
    assert!(
        e.contains(
            "a classifier needs at least two classes with samples: only 1 class has samples"
        ),
        "{e}"
    );
    assert!(e.contains("generative mode"), "{e}");
    assert!(!out.exists(), "nothing written for a refused run");
    let mut args = vec!["run", s(&dir), "--out", s(&out), "-q"];
    args.extend(GENERATIVE);
    succeeds(&run(&args));
}
