//! `bench --only job`: the whole job against the cleanlab pipeline a user would run instead,
//! in one run on this machine (issue 16). A copy of Fashion-MNIST's first N training images
//! with 40% systematic label noise (`corrupt --noise systematic --rate 0.4 --seed 0`, PNGs in
//! the scratch folder); then, each as its own process and timed from start to end, with the
//! reading of the PNGs:
//! - ours: `run COPY --test DATA --tau 0.6 --json` with every other setting the default;
//! - cleanlab's: `benches/cleanlab_pipeline.py COPY --test DATA --threads T` (4-fold
//!   out-of-fold probabilities of the same CNN in PyTorch, `find_label_issues`, 15 epochs on
//!   what it keeps) with PyTorch 2.x from `ITLM_TORCH_PYTHON` or `benches/.venv-torch`
//!   (`bash benches/setup_torch.sh`, then `pip install cleanlab` into it).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use crate::error::{Error, Result};

/// One pipeline's row: wall seconds, test accuracy (0..1), precision of what it flagged.
struct Row {
    secs: f64,
    test_acc: Option<f64>,
    precision: Option<f64>,
}

pub(super) fn python() -> std::result::Result<PathBuf, String> {
    if let Some(p) = std::env::var_os("ITLM_TORCH_PYTHON") {
        return Ok(PathBuf::from(p));
    }
    let venv = Path::new(env!("CARGO_MANIFEST_DIR")).join("benches/.venv-torch/bin/python");
    if venv.is_file() {
        Ok(venv)
    } else {
        Err(format!(
            "no PyTorch 2.x: no {} (bash benches/setup_torch.sh, then pip install cleanlab) and no ITLM_TORCH_PYTHON",
            venv.display()
        ))
    }
}

/// The last line of `text` that is a JSON object (a script's result after its progress).
pub(super) fn last_json_line(text: &str) -> Option<serde_json::Value> {
    text.lines()
        .rev()
        .find(|l| l.trim_start().starts_with('{'))
        .and_then(|l| serde_json::from_str(l).ok())
}

/// Runs `cmd`, timing it; its stdout's last line as JSON. A failure says `what` failed and
/// its last line of stderr.
pub(super) fn timed_json(mut cmd: Command, what: &str) -> Result<(f64, serde_json::Value)> {
    let t = Instant::now();
    let out = cmd
        .output()
        .map_err(|e| Error::Config(format!("{what}: cannot start: {e}")))?;
    let secs = t.elapsed().as_secs_f64();
    if !out.status.success() {
        let err = String::from_utf8_lossy(&out.stderr);
        return Err(Error::Config(format!(
            "{what} failed: {}",
            err.lines().last().unwrap_or("no message")
        )));
    }
    let v = last_json_line(&String::from_utf8_lossy(&out.stdout))
        .ok_or_else(|| Error::Config(format!("{what}: no JSON line in its output")))?;
    Ok((secs, v))
}

pub fn job(data: &Path, n: usize, scratch: Option<&Path>) -> Result<()> {
    let tmp = std::env::temp_dir().join(format!("itlm-bench-job-{}", std::process::id()));
    let root = scratch.map_or(tmp.clone(), Path::to_path_buf);
    if root.exists() && std::fs::read_dir(&root).map_or(true, |mut d| d.next().is_some()) {
        return Err(Error::data(
            &root,
            "scratch folder exists and is not empty; remove it or name another",
        ));
    }
    let result = job_in(data, n, &root);
    if scratch.is_none() {
        let _ = std::fs::remove_dir_all(&tmp);
    }
    result
}

fn job_in(data: &Path, n: usize, root: &Path) -> Result<()> {
    let exe = std::env::current_exe().map_err(|e| Error::Config(format!("own binary: {e}")))?;
    let copy = root.join("sys40");
    let t = Instant::now();
    let status = Command::new(&exe)
        .arg("corrupt")
        .arg(data)
        .arg("--out")
        .arg(&copy)
        .args(["--noise", "systematic", "--rate", "0.4", "--seed", "0"])
        .args(["--limit", &n.to_string()])
        .stdout(std::process::Stdio::null())
        .status()
        .map_err(|e| Error::Config(format!("corrupt: {e}")))?;
    if !status.success() {
        return Err(Error::Config("corrupt failed".into()));
    }
    println!(
        "the whole job, {n} Fashion-MNIST images with 40% systematic noise (written in {:.1} s to {})",
        t.elapsed().as_secs_f64(),
        copy.display()
    );
    let threads = rayon::current_num_threads().to_string();
    let mut ours = Command::new(&exe);
    ours.arg("run")
        .arg(&copy)
        .arg("--test")
        .arg(data)
        .args(["--tau", "0.6", "--json", "--quiet", "--out"])
        .arg(root.join("ours"));
    let (secs, v) = timed_json(ours, "ours")?;
    let ours = Row {
        secs,
        test_acc: v["final_test_acc"].as_f64(),
        precision: v["final_trim"]["precision"].as_f64(),
    };
    let theirs = python().and_then(|py| {
        let mut c = Command::new(py);
        c.arg(super::cleanlab_peer::script())
            .arg(&copy)
            .arg("--test")
            .arg(data)
            .args(["--threads", &threads]);
        timed_json(c, "cleanlab_pipeline.py")
            .map(|(secs, v)| Row {
                secs,
                test_acc: v["test_acc"].as_f64().map(|a| a / 100.0),
                precision: v["precision"].as_f64(),
            })
            .map_err(|e| e.to_string())
    });
    let pct = |a: Option<f64>| a.map_or("-".into(), |a| format!("{:.2}%", a * 100.0));
    let prec = |p: Option<f64>| p.map_or("-".into(), |p| format!("{p:.3}"));
    println!(
        "  ours (run, the defaults):       {:7.1} s  test accuracy {}  flagged precision {}",
        ours.secs,
        pct(ours.test_acc),
        prec(ours.precision)
    );
    match theirs {
        Ok(c) => {
            println!(
                "  cleanlab + PyTorch (4 folds):   {:7.1} s  test accuracy {}  flagged precision {}",
                c.secs,
                pct(c.test_acc),
                prec(c.precision)
            );
            println!(
                "  whole job, cleanlab's time / ours: {:.2}x",
                c.secs / ours.secs.max(1e-9)
            );
        }
        Err(why) => println!("  cleanlab row not run: {why}"),
    }
    Ok(())
}
