//! End to end: the built binary's `corrupt` and `gen-demo` commands on a small IDX fixture and,
//! when it is installed, on a `--limit 500` subset of the real Fashion-MNIST.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, Output};

mod fashion_data;

const BIN: &str = env!("CARGO_BIN_EXE_itlm-inspector");

fn run(args: &[&str]) -> Output {
    Command::new(BIN).args(args).output().unwrap()
}

/// `corrupt SRC --out OUT --noise NOISE ARGS...`.
fn corrupt(src: &Path, out: &Path, noise: &str, args: &[&str]) -> Output {
    let mut a = vec![
        "corrupt",
        src.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--noise",
        noise,
    ];
    a.extend_from_slice(args);
    run(&a)
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn idx_bytes(dims: &[u32], data: &[u8]) -> Vec<u8> {
    let mut b = vec![0, 0, 8, dims.len() as u8];
    for d in dims {
        b.extend_from_slice(&d.to_be_bytes());
    }
    b.extend_from_slice(data);
    b
}

/// An IDX directory with `per_class` 6x6 images of each of `classes` classes (train and t10k).
fn idx_fixture(dir: &Path, classes: usize, per_class: usize) {
    std::fs::create_dir_all(dir).unwrap();
    let n = classes * per_class;
    for prefix in ["train", "t10k"] {
        let pixels: Vec<u8> = (0..n * 36).map(|j| (j * 7 % 253) as u8).collect();
        let labels: Vec<u8> = (0..n).map(|i| (i % classes) as u8).collect();
        std::fs::write(
            dir.join(format!("{prefix}-images-idx3-ubyte")),
            idx_bytes(&[n as u32, 6, 6], &pixels),
        )
        .unwrap();
        std::fs::write(
            dir.join(format!("{prefix}-labels-idx1-ubyte")),
            idx_bytes(&[n as u32], &labels),
        )
        .unwrap();
    }
}

/// truth.csv rows as (path, true_label, kind).
fn truth(dir: &Path) -> Vec<(String, String, String)> {
    let mut r = csv::Reader::from_path(dir.join("truth.csv")).unwrap();
    r.records()
        .map(|rec| {
            let rec = rec.unwrap();
            (rec[0].to_string(), rec[1].to_string(), rec[2].to_string())
        })
        .collect()
}

/// PNG files under `dir`, relative paths with '/', and their (width, height, channels).
fn pngs(dir: &Path) -> BTreeMap<String, (u32, u32, u16)> {
    walkdir::WalkDir::new(dir)
        .into_iter()
        .map(|e| e.unwrap())
        .filter(|e| e.path().extension().is_some_and(|x| x == "png"))
        .map(|e| {
            let img = image::open(e.path()).unwrap();
            let rel = e.path().strip_prefix(dir).unwrap();
            (
                rel.to_string_lossy().replace('\\', "/"),
                (
                    img.width(),
                    img.height(),
                    img.color().channel_count() as u16,
                ),
            )
        })
        .collect()
}

fn count(
    rows: &[(String, String, String)],
    f: impl Fn(&(String, String, String)) -> bool,
) -> usize {
    rows.iter().filter(|r| f(r)).count()
}

#[test]
fn corrupt_a_small_idx_set() {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    idx_fixture(&src, 4, 10);
    let out = tmp.path().join("noisy");
    let o = corrupt(&src, &out, "random", &["--rate", "0.2", "--seed", "4"]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let report = text(&o.stdout);
    assert!(report.contains("clean 32, random 8"), "{report}");
    let rows = truth(&out);
    let files = pngs(&out);
    assert_eq!(rows.len(), 40);
    assert_eq!(
        rows.iter().map(|r| r.0.clone()).collect::<Vec<_>>(),
        files.keys().cloned().collect::<Vec<_>>()
    );
    assert!(files.values().all(|&s| s == (6, 6, 1)));
    for class in ["0", "1", "2", "3"] {
        assert_eq!(count(&rows, |r| r.1 == class && r.2 == "random"), 2);
    }
    // refuses to write again, or inside the source
    let o = corrupt(&src, &out, "random", &["--rate", "0.2"]);
    assert!(!o.status.success());
    assert!(text(&o.stderr).contains("not empty"), "{}", text(&o.stderr));
    let inside = src.join("x");
    let o = corrupt(&src, &inside, "systematic", &["--rate", "0.2"]);
    assert!(text(&o.stderr).contains("inside the source"));
    assert!(!inside.exists());
}

#[test]
fn gen_demo_writes_the_demo_set() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("demo");
    let o = run(&["gen-demo", "--out", out.to_str().unwrap()]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let files = pngs(&out);
    assert_eq!(files.len(), 900);
    assert!(files.values().all(|&s| s == (32, 32, 3)));
    assert_eq!(truth(&out).len(), 900);
    assert!(out.join("README.txt").is_file());
    // the same bytes as the committed assets
    let assets = Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/demo");
    assert_eq!(
        std::fs::read(out.join("truth.csv")).unwrap(),
        std::fs::read(assets.join("truth.csv")).unwrap()
    );
}

#[test]
fn corrupt_fashion_mnist_subset() {
    let Some(fashion) = fashion_data::fashion_dir() else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();

    // 30% of the shirts labelled T-shirt
    let out = tmp.path().join("shirts");
    let o = corrupt(
        fashion,
        &out,
        "systematic",
        &[
            "--rate",
            "0.3",
            "--src-class",
            "Shirt",
            "--dst-class",
            "T-shirt",
            "--limit",
            "500",
            "--seed",
            "1",
        ],
    );
    assert!(o.status.success(), "{}", text(&o.stderr));
    let rows = truth(&out);
    assert_eq!(rows.len(), 500);
    let shirts = count(&rows, |r| r.1 == "Shirt");
    let flipped = count(&rows, |r| r.2 == "systematic");
    assert_eq!(flipped, (0.3 * shirts as f64).round() as usize);
    assert_eq!(
        count(&rows, |r| r.2 == "systematic"
            && r.1 == "Shirt"
            && r.0.starts_with("T-shirt/")),
        flipped
    );
    let mut folders: Vec<String> = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap())
        .filter(|e| e.file_type().unwrap().is_dir())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    folders.sort();
    assert_eq!(
        folders,
        [
            "Ankle boot",
            "Bag",
            "Coat",
            "Dress",
            "Pullover",
            "Sandal",
            "Shirt",
            "Sneaker",
            "T-shirt",
            "Trouser"
        ]
    );
    assert!(pngs(&out).values().all(|&s| s == (28, 28, 1)));

    // backdoor: the test-2 set holds every watermarked t10k sneaker, labelled sandal
    let out = tmp.path().join("bd");
    let o = corrupt(
        fashion,
        &out,
        "backdoor",
        &[
            "--rate",
            "0.2",
            "--src-class",
            "Sneaker",
            "--dst-class",
            "Sandal",
            "--shape",
            "l",
            "--limit",
            "500",
        ],
    );
    assert!(o.status.success(), "{}", text(&o.stderr));
    let rows = truth(&out);
    let sneakers = count(&rows, |r| r.1 == "Sneaker");
    assert_eq!(
        count(&rows, |r| r.2 == "backdoor" && r.0.starts_with("Sandal/")),
        (0.2 * sneakers as f64).round() as usize
    );
    let t2 = tmp.path().join("bd-test2");
    let files = pngs(&t2);
    assert_eq!(files.len(), 1000, "Fashion-MNIST's t10k has 1000 sneakers");
    assert!(files.keys().all(|p| p.starts_with("Sandal/")));
    assert_eq!(
        std::fs::read_dir(&t2).unwrap().count(),
        11,
        "10 class folders + truth.csv"
    );
}

/// Corrupting a set that was corrupted before carries its truth over: the samples made bad
/// then stay bad with their true label and kind, and are not picked again.
#[test]
fn corrupting_a_corrupted_set_carries_its_truth_over() {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    idx_fixture(&src, 4, 10);
    let (c1, c2) = (tmp.path().join("c1"), tmp.path().join("c2"));
    for (from, to, noise) in [(&src, &c1, "systematic"), (&c1, &c2, "random")] {
        let o = corrupt(from, to, noise, &["--rate", "0.2"]);
        assert!(o.status.success(), "{}", text(&o.stderr));
    }
    let first = truth(&c1);
    assert_eq!(count(&first, |r| r.2 == "systematic"), 8);
    let rows = truth(&c2);
    assert_eq!(rows.len(), 40);
    assert_eq!(count(&rows, |r| r.2 == "systematic"), 8, "{rows:?}");
    assert_eq!(count(&rows, |r| r.2 == "random"), 8, "{rows:?}");
    assert_eq!(count(&rows, |r| r.2 == "clean"), 24);
    for (path, true_label, kind) in &rows {
        let folder = path.split('/').next().unwrap();
        assert_eq!(
            kind == "clean",
            folder == true_label,
            "{path} {true_label} {kind}"
        );
        if kind == "systematic" {
            let t: usize = true_label.parse().unwrap();
            assert_eq!(folder, ((t + 1) % 4).to_string(), "{path}");
        }
    }
}

#[test]
fn run_finds_the_test2_folder_corrupt_wrote_beside_the_set() {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    idx_fixture(&src, 4, 12);
    let out = tmp.path().join("bd");
    let o = corrupt(
        &src,
        &out,
        "backdoor",
        &["--src-class", "0", "--dst-class", "1", "--rate", "0.5"],
    );
    assert!(o.status.success(), "{}", text(&o.stderr));
    let test2 = tmp.path().join("bd-test2");
    assert!(test2.is_dir());
    let go = |dest: &Path| {
        run(&[
            "run",
            out.to_str().unwrap(),
            "--out",
            dest.to_str().unwrap(),
            "--model",
            "mlp",
            "--rounds",
            "1",
            "--epochs",
            "1",
            "--final-epochs",
            "1",
            "--batch-size",
            "8",
        ])
    };
    // Without --test2 the folder beside the set is used, and said so.
    let o = go(&tmp.path().join("r1"));
    let err = text(&o.stderr);
    assert!(o.status.success(), "{err}");
    assert!(err.contains("found beside the set"), "{err}");
    assert!(err.contains("test-2 "), "a round reports test-2: {err}");
    // One that does not fit the set (other classes) is noted and left out, not fatal.
    std::fs::remove_dir_all(&test2).unwrap();
    std::fs::create_dir_all(test2.join("not-a-class")).unwrap();
    image::GrayImage::new(6, 6)
        .save(test2.join("not-a-class/a.png"))
        .unwrap();
    let o = go(&tmp.path().join("r2"));
    let err = text(&o.stderr);
    assert!(o.status.success(), "{err}");
    assert!(err.contains("test-2 beside the set not used"), "{err}");
    assert!(
        !err.contains("test-2 0") && !err.contains("test-2 1"),
        "{err}"
    );
}
