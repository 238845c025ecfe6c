//! `reproduce noisy-labels --methods ...,cleanlab`: the pipeline a cleanlab user would run
//! instead (issue 15's peer), on the very images and noisy labels the other methods of the same
//! run train on. The set is written as IDX files into a temporary folder (removed afterwards),
//! and `benches/cleanlab_pipeline.py --idx DIR` runs in PyTorch 2.x from `--python`,
//! `ITLM_TORCH_PYTHON` or `benches/.venv-torch`: 4-fold out-of-fold probabilities of this
//! project's CNN, `cleanlab.filter.find_label_issues`, a fresh CNN trained on what it keeps,
//! scored on the same test set. Its JSON line becomes the method's row.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};

use crate::data::Dataset;
use crate::error::{Error, Result};

/// What the pipeline measured.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    /// Test accuracy of the model trained on what cleanlab kept, 0..1.
    pub test_acc: f64,
    /// Its accuracy on the second test set (backdoors: the stamped images labelled with the
    /// attack's target, so the attack's success), when one was given.
    pub test2_acc: Option<f64>,
    /// Samples `find_label_issues` flagged.
    pub flagged: usize,
    /// Of them, truly bad (None without the truth).
    pub precision: Option<f64>,
    /// Of the truly bad, flagged.
    pub recall: Option<f64>,
    /// The whole process, reading included.
    pub secs: f64,
    /// The script's JSON line as it printed it.
    pub raw: serde_json::Value,
}

/// The pipeline's script in this source tree.
pub fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("benches/cleanlab_pipeline.py")
}

/// The Python to run it with: `explicit`, else `ITLM_TORCH_PYTHON`, else the venv of
/// `benches/setup_torch.sh`; a clear error when none is there (checked before any training).
pub fn python(explicit: Option<&Path>) -> Result<PathBuf> {
    let py = match explicit {
        Some(p) => p.to_path_buf(),
        None => super::bench_job::python().map_err(|why| {
            Error::Config(format!(
                "the cleanlab method runs {} in PyTorch 2.x with cleanlab: {why}; or name one with --python",
                script().display()
            ))
        })?,
    };
    if !py.is_file() {
        return Err(Error::data(
            &py,
            "no such Python for the cleanlab method (--python, ITLM_TORCH_PYTHON)",
        ));
    }
    if !script().is_file() {
        return Err(Error::data(
            script(),
            "the cleanlab pipeline's script is missing from this source tree",
        ));
    }
    Ok(py)
}

/// The bytes of an IDX file of unsigned bytes with dimensions `dims`.
fn idx(dims: &[usize], data: &[u8]) -> Result<Vec<u8>> {
    crate::data::idx::encode(dims, data).map_err(Error::Config)
}

/// Images of `d` as IDX: N x H x W for grey, N x H x W x C for colour (the pixels' own order).
fn images(d: &Dataset) -> Result<Vec<u8>> {
    let s = d.shape;
    let mut dims = vec![d.len(), s.height, s.width];
    if s.channels != 1 {
        dims.push(s.channels);
    }
    idx(&dims, d.pixels())
}

/// A class per sample as IDX bytes (classes must fit a byte).
fn bytes_of(values: impl Iterator<Item = u32>, n: usize) -> Result<Vec<u8>> {
    let v: Vec<u8> = values
        .map(|x| {
            u8::try_from(x).map_err(|_| {
                Error::Config(
                    "the cleanlab method writes labels as bytes: at most 256 classes".into(),
                )
            })
        })
        .collect::<Result<_>>()?;
    idx(&[n], &v)
}

/// Writes the IDX files the script's `--idx` mode reads into `dir` (which must exist): the
/// training set with `bad` as its truth, `test`, and `test2` as `t2-*` when given.
pub fn write_set(
    dir: &Path,
    train: &Dataset,
    bad: &[bool],
    test: &Dataset,
    test2: Option<&Dataset>,
) -> Result<()> {
    let write = |name: &str, bytes: Vec<u8>| {
        let p = dir.join(name);
        std::fs::write(&p, bytes).map_err(|e| Error::io(&p, e))
    };
    write("train-images-idx3-ubyte", images(train)?)?;
    write(
        "train-labels-idx1-ubyte",
        bytes_of(train.labels().iter().copied(), train.len())?,
    )?;
    write(
        "train-bad-idx1-ubyte",
        bytes_of(bad.iter().map(|&b| u32::from(b)), bad.len())?,
    )?;
    for (prefix, set) in [("t10k", Some(test)), ("t2", test2)] {
        let Some(set) = set else { continue };
        write(&format!("{prefix}-images-idx3-ubyte"), images(set)?)?;
        write(
            &format!("{prefix}-labels-idx1-ubyte"),
            bytes_of(set.labels().iter().copied(), set.len())?,
        )?;
    }
    Ok(())
}

/// A temporary folder, removed when dropped.
struct TempDir(PathBuf);

/// Removes the folders of earlier runs that were killed before they could remove theirs
/// (`itlm-cleanlab-PID-N` whose process is gone; Linux, where /proc says so).
fn sweep_stale(tmp: &Path) {
    if !Path::new("/proc/self").exists() {
        return;
    }
    let Ok(entries) = std::fs::read_dir(tmp) else {
        return;
    };
    for e in entries.flatten() {
        let name = e.file_name();
        let Some(rest) = name.to_str().and_then(|n| n.strip_prefix("itlm-cleanlab-")) else {
            continue;
        };
        let Some(pid) = rest.split('-').next().and_then(|p| p.parse::<u32>().ok()) else {
            continue;
        };
        if !Path::new(&format!("/proc/{pid}")).exists() {
            let _ = std::fs::remove_dir_all(e.path());
        }
    }
}

impl TempDir {
    fn new() -> Result<Self> {
        static COUNT: AtomicUsize = AtomicUsize::new(0);
        sweep_stale(&std::env::temp_dir());
        let p = std::env::temp_dir().join(format!(
            "itlm-cleanlab-{}-{}",
            std::process::id(),
            COUNT.fetch_add(1, Ordering::Relaxed)
        ));
        if p.exists() {
            std::fs::remove_dir_all(&p).map_err(|e| Error::io(&p, e))?;
        }
        std::fs::create_dir_all(&p).map_err(|e| Error::io(&p, e))?;
        Ok(Self(p))
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Runs the pipeline with `python` on `train` (its noisy labels; `bad` = the truth), `test`
/// and `test2`, with `final_epochs` for the model on the kept samples, `seed` and `threads`.
#[allow(clippy::too_many_arguments)]
pub fn run(
    python: &Path,
    train: &Dataset,
    bad: &[bool],
    test: &Dataset,
    test2: Option<&Dataset>,
    final_epochs: usize,
    seed: u64,
    threads: usize,
) -> Result<Outcome> {
    if train.shape.height < 4 || train.shape.width < 4 {
        return Err(Error::Config(
            "the cleanlab pipeline's CNN pools twice: images need at least 4x4 pixels".into(),
        ));
    }
    let dir = TempDir::new()?;
    write_set(&dir.0, train, bad, test, test2)?;
    let mut cmd = Command::new(python);
    cmd.arg(script())
        .arg("--idx")
        .arg(&dir.0)
        .args(["--final-epochs", &final_epochs.to_string()])
        .args(["--seed", &seed.to_string()])
        .args(["--threads", &threads.to_string()]);
    let (secs, raw) = super::bench_job::timed_json(cmd, "cleanlab pipeline")?;
    outcome(raw, secs)
}

/// The pipeline's JSON line (its last on stdout) as an [`Outcome`] of a process that took
/// `secs`.
pub fn outcome(raw: serde_json::Value, secs: f64) -> Result<Outcome> {
    let test_acc = raw["test_acc"].as_f64().ok_or_else(|| {
        Error::Config(format!("cleanlab pipeline: no test_acc in its line {raw}"))
    })? / 100.0;
    let flagged = raw["flagged"].as_u64().ok_or_else(|| {
        Error::Config(format!(
            "cleanlab pipeline: no flagged count in its line {raw}"
        ))
    })? as usize;
    Ok(Outcome {
        test_acc,
        test2_acc: raw["test2_acc"].as_f64().map(|a| a / 100.0),
        flagged,
        precision: raw["precision"].as_f64(),
        recall: raw["recall"].as_f64(),
        secs,
        raw,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::{ImageShape, Source};

    fn set(n: usize, channels: usize) -> Dataset {
        let shape = ImageShape::new(4, 5, channels);
        let pixels: Vec<u8> = (0..n * shape.len()).map(|i| (i % 251) as u8).collect();
        Dataset::from_parts(
            "t",
            Source::Memory,
            vec!["a".into(), "b".into(), "c".into()],
            shape,
            pixels,
            (0..n as u32).map(|i| i % 3).collect(),
            (0..n).map(|i| format!("{i}.png")).collect(),
        )
        .unwrap()
    }

    #[test]
    fn the_set_is_written_as_idx_the_script_reads() {
        let dir = TempDir::new().unwrap();
        let (train, test) = (set(7, 1), set(3, 3));
        let bad = vec![true, false, false, true, false, false, false];
        write_set(&dir.0, &train, &bad, &test, Some(&train)).unwrap();
        let read = |name: &str| std::fs::read(dir.0.join(name)).unwrap();
        let img = read("train-images-idx3-ubyte");
        assert_eq!(&img[..4], &[0, 0, 8, 3]);
        assert_eq!(&img[4..16], &[0, 0, 0, 7, 0, 0, 0, 4, 0, 0, 0, 5]);
        assert_eq!(&img[16..], train.pixels());
        let timg = read("t10k-images-idx3-ubyte");
        assert_eq!(&timg[..4], &[0, 0, 8, 4], "colour: N x H x W x C");
        assert_eq!(
            &timg[4..20],
            &[0, 0, 0, 3, 0, 0, 0, 4, 0, 0, 0, 5, 0, 0, 0, 3]
        );
        assert_eq!(&timg[20..], test.pixels());
        let labels = read("train-labels-idx1-ubyte");
        assert_eq!(&labels[..8], &[0, 0, 8, 1, 0, 0, 0, 7]);
        assert_eq!(&labels[8..], &[0, 1, 2, 0, 1, 2, 0]);
        assert_eq!(&read("train-bad-idx1-ubyte")[8..], &[1, 0, 0, 1, 0, 0, 0]);
        assert_eq!(&read("t10k-labels-idx1-ubyte")[8..], &[0, 1, 2]);
        assert_eq!(
            &read("t2-images-idx3-ubyte"),
            &img,
            "the second test set as t2-*"
        );
        assert_eq!(&read("t2-labels-idx1-ubyte"), &labels);
        let path = dir.0.clone();
        drop(dir);
        assert!(!path.exists(), "the temporary folder goes");
    }

    /// The script's stdout as `run` reads it: its last JSON line, as an [`Outcome`].
    fn parse(stdout: &str, secs: f64) -> Result<Outcome> {
        let raw = crate::cli::bench_job::last_json_line(stdout)
            .ok_or_else(|| Error::Config("no JSON line".into()))?;
        outcome(raw, secs)
    }

    #[test]
    fn the_scripts_line_is_read_and_a_bad_one_refused() {
        let out = "reading\n{\"test_acc\": 84.72, \"flagged\": 11590, \"precision\": 0.942, \"recall\": 0.91}\n";
        let o = parse(out, 3.0).unwrap();
        assert_eq!(o.test2_acc, None);
        let o2 = parse(
            "{\"test_acc\": 80, \"test2_acc\": 97.5, \"flagged\": 1}",
            1.0,
        )
        .unwrap();
        assert_eq!(o2.test2_acc, Some(0.975));
        assert!((o.test_acc - 0.8472).abs() < 1e-12);
        assert_eq!(o.flagged, 11590);
        assert_eq!(o.precision, Some(0.942));
        assert_eq!(o.recall, Some(0.91));
        assert!(parse("Traceback ...", 1.0).is_err());
        let e = parse("{\"flagged\": 3}", 1.0).unwrap_err().to_string();
        assert!(e.contains("test_acc"), "{e}");
    }

    #[test]
    fn folders_of_killed_runs_are_swept_and_live_ones_kept() {
        let tmp = tempfile::tempdir().unwrap();
        // No process has pid u32::MAX - 1 (Linux pids stay under 2^22).
        let dead = tmp.path().join(format!("itlm-cleanlab-{}-0", u32::MAX - 1));
        let live = tmp
            .path()
            .join(format!("itlm-cleanlab-{}-7", std::process::id()));
        let other = tmp.path().join("itlm-cleanlab-notapid");
        for d in [&dead, &live, &other] {
            std::fs::create_dir_all(d).unwrap();
            std::fs::write(d.join("train-images-idx3-ubyte"), b"x").unwrap();
        }
        sweep_stale(tmp.path());
        assert!(!dead.exists(), "a killed run's folder goes");
        assert!(
            live.exists() && other.exists(),
            "a live run's and a stranger's stay"
        );
    }

    #[test]
    fn a_missing_python_is_a_clear_error() {
        let e = python(Some(Path::new("/nonexistent/python3")))
            .unwrap_err()
            .to_string();
        assert!(e.contains("no such Python"), "{e}");
    }
}
