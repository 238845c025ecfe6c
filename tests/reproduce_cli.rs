//! `reproduce noisy-labels --methods ...,cleanlab` end to end through the built binary, with a
//! stand-in for PyTorch's Python (a small Python program, not torch or cleanlab): what the
//! binary hands the pipeline (the IDX files of the very images, noisy labels and truth of the
//! run, the script and its arguments) and how it reports what the pipeline prints. The real
//! pipeline (`benches/cleanlab_pipeline.py` in PyTorch 2.x) is measured in README.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const BIN: &str = env!("CARGO_BIN_EXE_itlm-inspector");

fn idx_bytes(dims: &[u32], data: &[u8]) -> Vec<u8> {
    let mut b = vec![0, 0, 8, dims.len() as u8];
    for d in dims {
        b.extend_from_slice(&d.to_be_bytes());
    }
    b.extend_from_slice(data);
    b
}

/// An IDX directory of 8x8 images: `per_class` of each of 3 classes to train on, and a test
/// split of 10, 20 and 30 images of classes 0, 1 and 2.
fn idx_fixture(dir: &Path, per_class: usize) {
    std::fs::create_dir_all(dir).unwrap();
    let n = 3 * per_class;
    let labels: Vec<u8> = (0..n).map(|i| (i % 3) as u8).collect();
    let test_labels: Vec<u8> = [0u8; 10]
        .into_iter()
        .chain([1; 20])
        .chain([2; 30])
        .collect();
    for (prefix, labels) in [("train", labels), ("t10k", test_labels)] {
        let n = labels.len();
        let pixels: Vec<u8> = (0..n * 64)
            .map(|j| (labels[j / 64] as usize * 80 + j * 7 % 40) as u8)
            .collect();
        std::fs::write(
            dir.join(format!("{prefix}-images-idx3-ubyte")),
            idx_bytes(&[n as u32, 8, 8], &pixels),
        )
        .unwrap();
        std::fs::write(
            dir.join(format!("{prefix}-labels-idx1-ubyte")),
            idx_bytes(&[n as u32], &labels),
        )
        .unwrap();
    }
}

/// The stand-in: run as `PYTHON SCRIPT --idx DIR ...`, it reads the IDX files, writes what it
/// read to STUB_REPORT, flags exactly the samples the truth file calls bad and reports as its
/// test accuracy the share of test images of class 0 (what a model predicting 0 would get).
const STUB: &str = r#"
import json, os, struct, sys
args = sys.argv[1:]
script, rest = args[0], args[1:]
opts = dict(zip(rest[::2], rest[1::2]))
def idx(name):
    data = open(os.path.join(opts["--idx"], name), "rb").read()
    assert data[:3] == b"\0\0\x08", name
    nd = data[3]
    dims = struct.unpack(">" + "I" * nd, data[4:4 + 4 * nd])
    return list(dims), data[4 + 4 * nd:]
dims, pixels = idx("train-images-idx3-ubyte")
_, labels = idx("train-labels-idx1-ubyte")
_, bad = idx("train-bad-idx1-ubyte")
tdims, _ = idx("t10k-images-idx3-ubyte")
_, tlabels = idx("t10k-labels-idx1-ubyte")
assert len(pixels) == dims[0] * dims[1] * dims[2] and len(labels) == dims[0] == len(bad)
report = {"script": script, "opts": opts, "dims": dims, "test_dims": tdims,
          "labels": list(labels), "bad": list(bad),
          "first_pixels": [pixels[i * dims[1] * dims[2]] for i in range(dims[0])]}
line = {"test_acc": round(100.0 * sum(1 for t in tlabels if t == 0) / len(tlabels), 2),
        "flagged": sum(bad), "precision": 1.0, "recall": 1.0, "torch": "stub"}
if os.path.exists(os.path.join(opts["--idx"], "t2-images-idx3-ubyte")):
    report["t2_dims"], _ = idx("t2-images-idx3-ubyte")
    report["t2_labels"] = list(idx("t2-labels-idx1-ubyte")[1])
    line["test2_acc"] = 25.0
json.dump(report, open(os.environ["STUB_REPORT"], "w"))
print("some progress on stdout")
print(json.dumps(line))
"#;

/// A stand-in Python in `dir`: a shell script running [`STUB`] with the system's python3, or
/// (`fail`) one that fails as a broken install would.
fn stub_python(dir: &Path, fail: bool) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    std::fs::write(dir.join("stub.py"), STUB).unwrap();
    let body = if fail {
        "#!/bin/sh\necho 'ModuleNotFoundError: No module named cleanlab' >&2\nexit 1\n".to_string()
    } else {
        format!(
            "#!/bin/sh\nexec python3 {} \"$@\"\n",
            dir.join("stub.py").display()
        )
    };
    let p = dir.join(if fail { "broken-python" } else { "python" });
    std::fs::write(&p, body).unwrap();
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
    p
}

fn reproduce(data: &Path, python: &Path, methods: &str, jsonl: &Path) -> Output {
    Command::new(BIN)
        .args(["reproduce", "noisy-labels", "--data"])
        .arg(data)
        .args([
            "--limit",
            "60",
            "--settings",
            "rand:0.5",
            "--methods",
            methods,
        ])
        .args(["--final-epochs", "1", "--seed", "3", "--python"])
        .arg(python)
        .arg("--jsonl")
        .arg(jsonl)
        .env("STUB_REPORT", data.with_file_name("report.json"))
        .output()
        .unwrap()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[test]
fn the_cleanlab_method_hands_the_pipeline_the_runs_own_noisy_set_and_prints_its_row() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("set");
    idx_fixture(&data, 20);
    let py = stub_python(tmp.path(), false);
    let jsonl = tmp.path().join("rows.jsonl");
    let out = reproduce(&data, &py, "naive,cleanlab,auto", &jsonl);
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert!(out.status.success(), "{stdout}\n{stderr}");

    // What the pipeline was given: the script, the run's settings, the set as IDX.
    let report: serde_json::Value =
        serde_json::from_slice(&std::fs::read(tmp.path().join("report.json")).unwrap()).unwrap();
    assert!(
        report["script"]
            .as_str()
            .unwrap()
            .ends_with("benches/cleanlab_pipeline.py"),
        "{report}"
    );
    assert!(Path::new(report["script"].as_str().unwrap()).is_file());
    assert_eq!(report["opts"]["--final-epochs"], "1");
    assert_eq!(report["opts"]["--seed"], "3");
    assert_eq!(report["dims"], serde_json::json!([60, 8, 8]));
    assert_eq!(report["test_dims"], serde_json::json!([60, 8, 8]));
    let labels: Vec<u64> = report["labels"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_u64().unwrap())
        .collect();
    let bad: Vec<u64> = report["bad"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_u64().unwrap())
        .collect();
    // The run's own noise: the bad count it announced, and labels that differ from the clean
    // set's exactly where the truth says bad (random flips always change the class).
    let n_bad = bad.iter().filter(|&&b| b == 1).count();
    assert!(
        stderr.contains(&format!("60 samples, {n_bad} bad")),
        "{stderr}"
    );
    assert!((20..=40).contains(&n_bad), "half of 60 flipped: {n_bad}");
    // The fixture's images of class c start with a pixel c * 80 + a little: the true class.
    let truth: Vec<u64> = report["first_pixels"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_u64().unwrap() / 80)
        .collect();
    for i in 0..60 {
        assert!(labels[i] < 3 && bad[i] <= 1);
        assert_eq!(
            bad[i] == 1,
            labels[i] != truth[i],
            "sample {i}: label {} true {} bad {}",
            labels[i],
            truth[i],
            bad[i]
        );
    }
    // The stub's test accuracy is the share of class 0 in the test split: 10 of 60.
    let row = stdout
        .lines()
        .find(|l| l.starts_with("| random 50%"))
        .unwrap_or_else(|| panic!("no row: {stdout}"));
    assert!(
        stdout.contains("| noise | naive | cleanlab + PyTorch | ITLM, transition auto |"),
        "{stdout}"
    );
    assert!(
        row.contains(&format!("| 16.7 (flagged {n_bad} P 1.00 R 1.00) |")),
        "{row}"
    );
    // auto's cell says what it decided: on 60 tiny images round 0's model reads no noise
    // structure, so it stays plain ITLM.
    assert!(row.ends_with("; plain ITLM) |"), "{row}");
    let lines: Vec<serde_json::Value> = std::fs::read_to_string(&jsonl)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let auto = lines.iter().find(|v| v["method"] == "auto").unwrap();
    assert_eq!(auto["auto_decided"], "plain ITLM");
    // Each line records what its method ran: auto's config, none for a single training.
    assert_eq!(auto["config"]["transition"], "Auto");
    assert!(auto["tau"].as_f64().is_some());
    let naive = lines.iter().find(|v| v["method"] == "naive").unwrap();
    assert!(
        naive["config"].is_null() && naive["tau"].is_null(),
        "{naive}"
    );
    assert!(naive["final_epochs"].as_u64().is_some(), "{naive}");
    let line = lines.iter().find(|v| v["method"] == "cleanlab").unwrap();
    assert!((line["final_test_acc"].as_f64().unwrap() - 0.1667).abs() < 1e-9);
    assert_eq!(line["cleanlab"]["torch"], "stub");
    assert_eq!(line["cleanlab"]["flagged"], n_bad as u64);
}

#[test]
fn a_missing_or_broken_python_is_a_clear_error() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("set");
    idx_fixture(&data, 20);
    let jsonl = tmp.path().join("rows.jsonl");
    // Missing: refused before any training.
    let out = reproduce(
        &data,
        &tmp.path().join("no-python"),
        "naive,cleanlab",
        &jsonl,
    );
    let stderr = text(&out.stderr);
    assert!(!out.status.success());
    assert!(stderr.contains("no such Python"), "{stderr}");
    assert!(
        !stderr.contains("  naive"),
        "refused before training: {stderr}"
    );
    // Broken: the pipeline's own last words.
    let py = stub_python(tmp.path(), true);
    let out = reproduce(&data, &py, "cleanlab", &jsonl);
    let stderr = text(&out.stderr);
    assert!(!out.status.success());
    assert!(
        stderr.contains("cleanlab pipeline failed") && stderr.contains("No module named cleanlab"),
        "{stderr}"
    );
}

#[test]
fn reproduce_backdoor_runs_the_cleanlab_peer_on_the_stamped_set_with_its_test_2() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("set");
    idx_fixture(&data, 20);
    let py = stub_python(tmp.path(), false);
    let out = Command::new(BIN)
        .args(["reproduce", "backdoor", "--data"])
        .arg(&data)
        .args(["--limit", "60", "--pairs", "0-1-X", "--rate", "0.5"])
        .args(["--no-naive", "--no-protocol", "--cleanlab", "--python"])
        .arg(&py)
        .env("STUB_REPORT", tmp.path().join("report.json"))
        .output()
        .unwrap();
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert!(out.status.success(), "{stdout}\n{stderr}");
    let report: serde_json::Value =
        serde_json::from_slice(&std::fs::read(tmp.path().join("report.json")).unwrap()).unwrap();
    // Half of class 0's 20 training images stamped and labelled 1; the second test set is the
    // test split's 10 class-0 images, stamped, labelled with the target.
    let bad = report["bad"].as_array().unwrap();
    assert_eq!(bad.iter().filter(|b| b.as_u64() == Some(1)).count(), 10);
    assert_eq!(report["t2_dims"], serde_json::json!([10, 8, 8]));
    assert_eq!(report["t2_labels"], serde_json::json!(vec![1; 10]));
    assert!(
        stdout.contains("| cleanlab test-1 | cleanlab test-2 | cleanlab flagged (P / R) |"),
        "{stdout}"
    );
    let row = stdout
        .lines()
        .find(|l| l.starts_with("| 0 -> 1 (X) |"))
        .unwrap_or_else(|| panic!("no row: {stdout}"));
    assert!(
        row.ends_with("| 16.7 | 25.0 | 10 at 1.00 / 1.00 |"),
        "{row}"
    );
}
