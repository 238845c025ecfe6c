//! EfficientNet-Lite0 embedding throughput at 224x224 and at 112x112 (what the window uses for
//! small images), batch 32: ours (the fast engine, on the
//! bench's rayon threads) against PyTorch 2.x on the same model and threads in the same run
//! (`scripts/lite0_throughput.py --torch-only`: eval, inference_mode, NCHW, channels_last and
//! TorchScript-frozen channels_last, under each OMP_WAIT_POLICY of `THROUGHPUT_OMP_WAIT`, default
//! `PASSIVE,default`, as the CNN comparison; the ratio is to the best of them). Ours is measured before
//! and after PyTorch and the better figure is used (the machine may be shared). Skipped, with
//! the reason, where the weights are not installed (`itlm-inspector weights install
//! efficientnet-lite0`) or there is no PyTorch 2.x (`ITLM_TORCH_PYTHON` or the venv of
//! `benches/setup_torch.sh`).

use std::path::Path;
use std::time::Instant;

use itlm_inspector::learner::backbone::{self, BackboneConfig, BackboneKind, ImageBatch};

/// The resolutions measured: the backbone's own and the small-image one.
const RESOLUTIONS: [usize; 2] = [224, 112];
const BATCH: usize = 32;
const LITE0: BackboneKind = BackboneKind::EfficientNetLite0;

/// Our images/s on one batch of random inputs for `secs` seconds (after a warm-up batch).
fn ours(weights: &Path, res: usize, secs: f64) -> itlm_inspector::Result<f64> {
    let cfg = BackboneConfig {
        resolution: Some(res),
        ..Default::default()
    };
    let net = backbone::load(LITE0, weights, &cfg)?;
    let mut rng = itlm_inspector::rng::Rng::new(1);
    let b = ImageBatch {
        n: BATCH,
        height: res,
        width: res,
        pixels: (0..BATCH * res * res * 3).map(|_| rng.normal()).collect(),
    };
    net.embed(&b)?;
    let start = Instant::now();
    let mut images = 0;
    while images == 0 || start.elapsed().as_secs_f64() < secs {
        std::hint::black_box(net.embed(&b)?);
        images += BATCH;
    }
    Ok(images as f64 / start.elapsed().as_secs_f64())
}

/// PyTorch 2.x's interpreter, or why there is none.
fn torch_python() -> Result<String, String> {
    let venv = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/benches/.venv-torch/bin/python"
    );
    match std::env::var("ITLM_TORCH_PYTHON") {
        Ok(p) => Ok(p),
        Err(_) if Path::new(venv).exists() => Ok(venv.into()),
        Err(_) => Err(format!(
            "no PyTorch 2.x: no {venv} (bash benches/setup_torch.sh) and no ITLM_TORCH_PYTHON"
        )),
    }
}

/// PyTorch's (version, [(setting, images/s)]) from the script's `TORCH` lines.
fn theirs(
    python: &str,
    weights: &Path,
    res: usize,
    secs: f64,
    threads: usize,
    omp_wait: &str,
) -> Result<(String, Vec<(String, f64)>), String> {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/lite0_throughput.py");
    let mut cmd = std::process::Command::new(python);
    if omp_wait != "default" {
        cmd.env("OMP_WAIT_POLICY", omp_wait);
    }
    let out = cmd
        .arg(script)
        .arg(weights)
        .args([
            "--torch-only",
            "--res",
            &res.to_string(),
            "--batch",
            &BATCH.to_string(),
        ])
        .args([
            "--secs",
            &secs.to_string(),
            "--threads",
            &threads.to_string(),
            "--reps",
            "1",
        ])
        .output()
        .map_err(|e| format!("cannot run {python}: {e}"))?;
    let text = String::from_utf8_lossy(&out.stdout);
    let mut version = String::from("?");
    let mut rows = Vec::new();
    for line in text.lines() {
        let f: Vec<&str> = line.split_whitespace().collect();
        match f.as_slice() {
            ["TORCHVERSION", v] => version = (*v).to_string(),
            ["TORCH", _res, setting, rate] => {
                if let Ok(r) = rate.parse() {
                    let wait = format!(", OMP_WAIT_POLICY {omp_wait}");
                    rows.push((setting.replace('_', " ") + &wait, r));
                }
            }
            _ => {}
        }
    }
    if rows.is_empty() {
        let err = String::from_utf8_lossy(&out.stderr);
        return Err(format!(
            "{script} with {python} gave no figure ({}): {}",
            out.status,
            err.lines().last().unwrap_or("")
        ));
    }
    Ok((version, rows))
}

/// Prints the Lite0 rows, one per resolution.
pub fn row(secs: f64) {
    for res in RESOLUTIONS {
        row_at(res, secs);
    }
}

/// One Lite0 row: ours, each PyTorch setting, ours / the best PyTorch.
fn row_at(res: usize, secs: f64) {
    let threads = rayon::current_num_threads();
    println!("\nEfficientNet-Lite0 embeddings, {res}x{res}, batch {BATCH}, {threads} threads:");
    let weights = match backbone::find_weights(LITE0, None) {
        Ok(w) => w,
        Err(e) => return println!("Lite0: skipped (no weights: {e})"),
    };
    let python = match torch_python() {
        Ok(p) => p,
        Err(e) => return println!("Lite0: skipped ({e})"),
    };
    let before = match ours(&weights, res, secs) {
        Ok(r) => r,
        Err(e) => return println!("Lite0: skipped (cannot load {}: {e})", weights.display()),
    };
    println!("  ours (fast engine): {before:.1} images/s");
    let waits = std::env::var("THROUGHPUT_OMP_WAIT").unwrap_or_else(|_| "PASSIVE,default".into());
    let (mut version, mut rows) = (String::new(), Vec::new());
    for wait in waits.split(',') {
        match theirs(&python, &weights, res, secs, threads, wait) {
            Ok((v, r)) => {
                for (setting, rate) in &r {
                    println!("  PyTorch {v} {setting}: {rate:.1} images/s");
                }
                version = v;
                rows.extend(r);
            }
            Err(e) => println!("  PyTorch, OMP_WAIT_POLICY {wait}: skipped ({e})"),
        }
    }
    if rows.is_empty() {
        return println!("Lite0: no PyTorch figure to compare");
    }
    let after = ours(&weights, res, secs).unwrap_or(0.0);
    let best_ours = before.max(after);
    let Some((best_at, best)) = rows
        .iter()
        .max_by(|a, b| a.1.total_cmp(&b.1))
        .map(|(s, r)| (s.clone(), *r))
    else {
        return;
    };
    println!(
        "Lite0 {res}: ours {best_ours:.1} images/s (before {before:.1}, after {after:.1} PyTorch) \
         vs PyTorch {version} best {best:.1} ({best_at}): ours / PyTorch = {:.2}x",
        best_ours / best
    );
}
