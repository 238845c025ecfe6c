//! Tests of the `corrupt` command: what it writes, and what it refuses.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use super::*;
use crate::data::fixtures::*;

#[test]
fn run_systematic_writes_what_truth_says() {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    let (train, _) = idx_fixture(&src, &[20, 10, 15], &[3, 3, 3]);
    let before = snapshot(&src);
    let out = tmp.path().join("out");
    let mut a = CorruptSpec::new(&src, &out, NoiseKind::Systematic, 0.3);
    a.seed = 3;
    let r = run(&a).unwrap();
    assert_eq!(snapshot(&src), before, "the source is untouched");
    // the clean test split is copied beside the set, so that a run on `out` finds it
    assert_dir_holds(tmp.path(), &["src", "out", "out-test"]);
    assert_eq!(r.test, Some((tmp.path().join("out-test"), 9)));
    // round(6.0), round(3.0), round(4.5) = 5 (half away from zero)
    assert_eq!((r.kinds.clean, r.kinds.systematic), (31, 14));
    assert_eq!(
        r.classes
            .iter()
            .map(|c| (c.files, c.kinds.systematic, c.relabelled_away))
            .collect::<Vec<_>>(),
        [(14 + 5, 5, 6), (7 + 6, 6, 3), (10 + 3, 3, 5)]
    );
    assert_eq!(r.classes[0].name, "0");
    assert!(r.to_string().contains("systematic 14"));

    let files = read_pngs(&out);
    let rows = read_truth(&out);
    assert_eq!(rows.len(), 45);
    assert_eq!(
        rows.iter().map(|r| r.path.clone()).collect::<Vec<_>>(),
        files.keys().cloned().collect::<Vec<_>>(),
        "one truth row per file, sorted"
    );
    // each file is a source image of its true class; its folder is the given label
    let mut by_image: BTreeMap<&[u8], u32> = BTreeMap::new();
    for i in 0..train.len() {
        by_image.insert(train.image(i), train.label(i));
    }
    let mut flips = BTreeMap::new();
    for row in &rows {
        let px = &files[&row.path];
        let truth_class = by_image[px.as_slice()];
        assert_eq!(row.true_label, truth_class.to_string());
        let given: u32 = row.path.split('/').next().unwrap().parse().unwrap();
        match row.kind.as_deref() {
            Some("clean") => assert_eq!(given, truth_class),
            Some("systematic") => {
                assert_eq!(given, (truth_class + 1) % 3);
                *flips.entry(truth_class).or_insert(0) += 1;
            }
            k => panic!("unexpected kind {k:?}"),
        }
    }
    assert_eq!(flips.into_values().collect::<Vec<_>>(), [6, 3, 5]);
    assert_eq!(
        files.values().collect::<BTreeSet<_>>().len(),
        45,
        "every sample written once"
    );
}

#[test]
fn run_is_deterministic_for_a_seed() {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    idx_fixture(&src, &[12, 12, 12, 12], &[2, 2, 2, 2]);
    let go = |out: &str, seed: u64| {
        let mut a = CorruptSpec::new(&src, tmp.path().join(out), NoiseKind::Random, 0.25);
        a.seed = seed;
        a.limit = Some(40);
        run(&a).unwrap();
        file_bytes(&tmp.path().join(out))
    };
    let (a, b, c) = (go("a", 11), go("b", 11), go("c", 12));
    assert_eq!(a, b);
    assert_ne!(a, c);
    assert_eq!(a.len(), 41);
}

#[test]
fn run_systematic_with_perm_and_one_class() {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    idx_fixture(&src, &[10, 10, 10], &[1, 1, 1]);
    let mut a = CorruptSpec::new(&src, tmp.path().join("p"), NoiseKind::Systematic, 0.2);
    a.perm = Some(vec![2, 0, 1]);
    let r = run(&a).unwrap();
    let moved: Vec<usize> = r.classes.iter().map(|c| c.relabelled_away).collect();
    assert_eq!(moved, [2, 2, 2]);
    assert_eq!(r.classes[2].kinds.systematic, 2, "0 -> 2");
    let rows = read_truth(&tmp.path().join("p"));
    assert!(rows
        .iter()
        .filter(|r| r.kind.as_deref() == Some("systematic"))
        .all(|r| r.path.starts_with(match r.true_label.as_str() {
            "0" => "2/",
            "1" => "0/",
            _ => "1/",
        })));
    let mut a = CorruptSpec::new(&src, tmp.path().join("q"), NoiseKind::Systematic, 0.5);
    a.src_class = Some("1".into());
    a.dst_class = Some("0".into());
    let r = run(&a).unwrap();
    assert_eq!(r.kinds.systematic, 5);
    assert_eq!(r.classes[0].kinds.systematic, 5);
    a.out = tmp.path().join("r");
    a.perm = Some(vec![1, 1]);
    assert!(run(&a).is_err());
    a.dst_class = None;
    a.src_class = None;
    assert!(run(&a).unwrap_err().to_string().contains("3 entries"));
    a.perm = Some(vec![0, 1, 2]);
    assert!(run(&a)
        .unwrap_err()
        .to_string()
        .contains("nothing would be flipped"));
    assert!(!tmp.path().join("r").exists());
    // A map that sends two classes into one (not a permutation): 0 -> 1 and 2 -> 1, 1 stays.
    a.perm = Some(vec![1, 1, 1]);
    let r = run(&a).unwrap();
    assert_eq!(r.kinds.systematic, 10);
    assert_eq!(r.classes[1].kinds.systematic, 10, "both flipped into 1");
    assert_eq!(r.classes[1].relabelled_away, 0, "class 1 maps to itself");
    let rows = read_truth(&tmp.path().join("r"));
    assert!(rows
        .iter()
        .filter(|r| r.kind.as_deref() == Some("systematic"))
        .all(|r| r.path.starts_with("1/") && r.true_label != "1"));
}

#[test]
fn run_backdoor_writes_test2() {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    let (train, test) = idx_fixture(&src, &[20, 20, 20], &[4, 6, 5]);
    let out = tmp.path().join("bd");
    let mut a = CorruptSpec::new(&src, &out, NoiseKind::Backdoor, 0.25);
    a.src_class = Some("1".into());
    a.dst_class = Some("2".into());
    let r = run(&a).unwrap();
    let t2 = tmp.path().join("bd-test2");
    assert_eq!(r.test2, Some((t2.clone(), 6)));
    assert_eq!(r.kinds.backdoor, 5);
    assert_eq!(r.classes[2].files, 25);
    assert_dir_holds(tmp.path(), &["src", "bd", "bd-test", "bd-test2"]);
    assert_eq!(r.test, Some((tmp.path().join("bd-test"), 15)));

    let mark = Watermark::new(MarkShape::X, 3);
    let shape = ImageShape::new(8, 8, 1);
    let stamp = |px: &[u8]| {
        let mut v = px.to_vec();
        mark.stamp(&mut v, shape).unwrap();
        v
    };
    // training set: backdoor files are stamped class-1 images under folder 2
    let stamped_train: BTreeSet<Vec<u8>> = (0..train.len())
        .filter(|&i| train.label(i) == 1)
        .map(|i| stamp(train.image(i)))
        .collect();
    let files = read_pngs(&out);
    for row in read_truth(&out) {
        if row.kind.as_deref() == Some("backdoor") {
            assert_eq!(row.true_label, "1");
            assert!(row.path.starts_with("2/"));
            assert!(stamped_train.contains(&files[&row.path]));
        }
    }
    // test-2: every class folder, only the target's filled, with every stamped test image of 1
    assert_dir_holds(&t2, &["0", "1", "2", "truth.csv"]);
    assert_eq!(std::fs::read_dir(t2.join("0")).unwrap().count(), 0);
    assert_eq!(std::fs::read_dir(t2.join("1")).unwrap().count(), 0);
    let got: BTreeSet<Vec<u8>> = read_pngs(&t2)
        .into_iter()
        .map(|(p, px)| {
            assert!(p.starts_with("2/"));
            px
        })
        .collect();
    let want: BTreeSet<Vec<u8>> = (0..test.len())
        .filter(|&i| test.label(i) == 1)
        .map(|i| stamp(test.image(i)))
        .collect();
    assert_eq!(got, want);
    let rows = read_truth(&t2);
    assert_eq!(rows.len(), 6);
    assert!(rows
        .iter()
        .all(|r| r.true_label == "1" && r.kind.as_deref() == Some("backdoor")));

    // a second run may not overwrite either folder
    let e = run(&a).unwrap_err().to_string();
    assert!(e.contains("not empty"), "{e}");
    std::fs::remove_dir_all(&out).unwrap();
    let e = run(&a).unwrap_err().to_string();
    assert!(e.contains("bd-test2") && e.contains("not empty"), "{e}");
    assert!(!out.exists());
}

#[test]
fn run_backdoor_with_test_src_and_options() {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    idx_fixture(&src, &[10, 10], &[3, 3]);
    let other = tmp.path().join("other");
    idx_fixture(&other, &[7, 7], &[1, 1]);
    let mut a = CorruptSpec::new(&src, tmp.path().join("o"), NoiseKind::Backdoor, 0.5);
    a.src_class = Some("0".into());
    a.dst_class = Some("1".into());
    a.test_src = Some(other.clone());
    a.shape = MarkShape::L;
    a.position = Position::Center;
    a.mark_size = Some(4);
    a.mark_value = 0;
    let r = run(&a).unwrap();
    // --test-src: its test split (t10k, 1 image of class 0)
    assert_eq!(r.test2.as_ref().map(|t| t.1), Some(1));
    let mark = Watermark {
        position: Position::Center,
        value: 0,
        ..Watermark::new(MarkShape::L, 4)
    };
    let files = read_pngs(&tmp.path().join("o"));
    let (r0, c0) = mark.origin(ImageShape::new(8, 8, 1)).unwrap();
    for row in read_truth(&tmp.path().join("o")) {
        if row.kind.as_deref() == Some("backdoor") {
            let px = &files[&row.path];
            for (r, c) in mark.offsets() {
                assert_eq!(px[(r0 + r) * 8 + c0 + c], 0);
            }
        }
    }
    a.out = tmp.path().join("o2");
    a.mark_size = Some(9);
    assert!(run(&a).unwrap_err().to_string().contains("does not fit"));
    assert!(!tmp.path().join("o2").exists());
}

#[test]
fn run_spurious_from_other_classes_and_from_mix() {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    idx_fixture(&src, &[30, 30, 30], &[1, 1, 1]);
    let mut a = CorruptSpec::new(&src, tmp.path().join("s"), NoiseKind::Spurious, 0.25);
    a.src_class = Some("2".into());
    let r = run(&a).unwrap();
    assert_eq!((r.kinds.clean, r.kinds.spurious), (30, 10));
    assert_eq!(r.classes.len(), 1);
    assert_eq!(r.classes[0].name, "2");
    assert_eq!(r.spurious_origins.values().sum::<usize>(), 10);
    assert!(!r.spurious_origins.contains_key("2"));
    assert_dir_holds(&tmp.path().join("s"), &["2", "truth.csv"]);
    let rows = read_truth(&tmp.path().join("s"));
    assert_eq!(rows.len(), 40);
    // A clean image's true label is the set's class; a spurious one's is the class it was
    // drawn from, as the origins count them.
    let mut origins: std::collections::BTreeMap<String, usize> = Default::default();
    for r in &rows {
        if r.kind.as_deref() == Some("spurious") {
            assert_ne!(r.true_label, "2");
            *origins.entry(r.true_label.clone()).or_default() += 1;
        } else {
            assert_eq!(r.true_label, "2");
        }
    }
    assert_eq!(origins.values().sum::<usize>(), 10);
    assert_eq!(
        origins.into_iter().collect::<Vec<_>>(),
        r.spurious_origins
            .iter()
            .map(|(k, v)| (k.clone(), *v))
            .collect::<Vec<_>>()
    );

    // from another data set, RGB-converted images would be conformed; here same shape
    let mix = tmp.path().join("mix");
    let (m, _) = idx_fixture(&mix, &[3, 3], &[1, 1]);
    let mix_images: BTreeSet<Vec<u8>> = (0..m.len()).map(|i| m.image(i).to_vec()).collect();
    a.out = tmp.path().join("m");
    a.mix = Some(mix);
    a.rate = 0.1;
    let r = run(&a).unwrap();
    assert_eq!((r.kinds.clean, r.kinds.spurious), (30, 3));
    let files = read_pngs(&tmp.path().join("m"));
    for row in read_truth(&tmp.path().join("m")) {
        let from_mix = mix_images.contains(&files[&row.path]);
        assert_eq!(from_mix, row.kind.as_deref() == Some("spurious"));
    }
    // more than the mix holds
    a.out = tmp.path().join("n");
    a.rate = 0.5;
    assert!(run(&a)
        .unwrap_err()
        .to_string()
        .contains("only 6 are available"));
    assert!(!tmp.path().join("n").exists());
}

#[test]
fn refuses_unsafe_outputs() {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    idx_fixture(&src, &[5, 5], &[1, 1]);
    let before = snapshot(&src);
    let go = |out: PathBuf| {
        run(&CorruptSpec::new(&src, out, NoiseKind::Random, 0.2))
            .unwrap_err()
            .to_string()
    };
    // inside the source, directly, through '..', or through a symlink
    assert!(go(src.join("out")).contains("inside the source"));
    assert!(go(src.clone()).contains("not empty"));
    assert!(go(tmp.path().join("x/../src/deeper/out")).contains("inside the source"));
    #[cfg(unix)]
    {
        std::os::unix::fs::symlink(&src, tmp.path().join("link")).unwrap();
        assert!(go(tmp.path().join("link/out")).contains("inside the source"));
    }
    // a non-empty folder, a file
    let full = tmp.path().join("full");
    std::fs::create_dir(&full).unwrap();
    std::fs::write(full.join("keep.txt"), "mine").unwrap();
    assert!(go(full.clone()).contains("not empty"));
    assert_eq!(
        std::fs::read_to_string(full.join("keep.txt")).unwrap(),
        "mine"
    );
    assert!(go(full.join("keep.txt")).contains("not a folder"));
    assert_eq!(snapshot(&src), before);
    // an empty folder is fine and gets filled
    let empty = tmp.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    run(&CorruptSpec::new(&src, &empty, NoiseKind::Random, 0.2)).unwrap();
    assert_eq!(read_pngs(&empty).len(), 10);
    // relative paths are resolved against the working directory
    assert!(
        check_output(Path::new("../zz-absent/x"), &[Path::new("..")])
            .unwrap_err()
            .to_string()
            .contains("inside the source")
    );
}

#[test]
fn argument_errors() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("o");
    let src = tmp.path().join("src");
    idx_fixture(&src, &[5, 5], &[1, 1]);
    let err = |f: &dyn Fn(&mut CorruptSpec), noise: NoiseKind| {
        let mut a = CorruptSpec::new(&src, &out, noise, 0.2);
        f(&mut a);
        run(&a).unwrap_err().to_string()
    };
    assert!(err(&|a| a.perm = Some(vec![1, 0]), NoiseKind::Random).contains("--perm"));
    assert!(err(&|a| a.dst_class = Some("1".into()), NoiseKind::Random).contains("--dst-class"));
    assert!(
        err(&|a| a.dst_class = Some("1".into()), NoiseKind::Systematic).contains("--src-class")
    );
    assert!(err(&|_| {}, NoiseKind::Backdoor).contains("--src-class"));
    assert!(err(&|_| {}, NoiseKind::Spurious).contains("--src-class"));
    assert!(err(&|a| a.rate = 1.2, NoiseKind::Random).contains("rate"));
    assert!(err(&|a| a.limit = Some(0), NoiseKind::Random).contains("--limit"));
    assert!(
        err(&|a| a.src_class = Some("cat".into()), NoiseKind::Random).contains("no class 'cat'")
    );
    assert!(!out.exists());
}

/// (The staging itself is tested in `outputs`.)
#[test]
fn write_folder_writes_classes_extras_and_truth_once() {
    let tmp = tempfile::tempdir().unwrap();
    let dst = tmp.path().join("d");
    let c = Corrupted::clean(mem_set(&[2, 1], ImageShape::new(3, 3, 3)));
    let paths = write_folder(&c, &dst, 0, &[("README.txt", b"hi".to_vec())]).unwrap();
    assert_eq!(paths.len(), 3);
    assert_dir_holds(&dst, &["c0", "c1", "README.txt", "truth.csv"]);
    let px = read_pngs(&dst);
    assert_eq!(px[&paths[2]], c.data.image(2));
    assert!(write_folder(&c, &dst, 0, &[]).is_err());
}
