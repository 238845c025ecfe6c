//! `bench --only gpu` (a `cuda` build on an NVIDIA GPU; issue 16): the same CNN and
//! EfficientNet-Lite0 as the CPU figures, on the GPU through candle's CUDA backend, and PyTorch
//! on the same card in the same run (`benches/pytorch_cuda.py`, with `ITLM_TORCH_PYTHON`, else
//! `benches/.venv-torch`, else `python3`), then ours / PyTorch's best row:
//! - CNN training and scoring (forward + per-sample loss, the losses back on the host) of 20000
//!   Fashion-MNIST images at the product's batch (128), after a warm-up on 2048 of them (the
//!   first CUDA use compiles candle's kernels for the card);
//! - one ITLM round (round 0 + a round on the kept 70%, 3 epochs each) on those images;
//! - Lite0 embeddings of random inputs at 224x224 and 112x112, batch 32 and 256.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use crate::error::Result;
use crate::learner::backbone::{self, BackboneConfig, BackboneKind, ImageBatch};
use crate::learner::{self, DeviceChoice, LearnerConfig};
use crate::rng::Rng;

const LITE0: BackboneKind = BackboneKind::EfficientNetLite0;
const RESOLUTIONS: [usize; 2] = [224, 112];
const LITE0_BATCHES: [usize; 2] = [32, 256];
/// Seconds each Lite0 figure is timed for (ours and PyTorch's).
const SECS: f64 = 3.0;

/// One PyTorch row: its setting and images/s (CNN: train, score; Lite0: rate in `train`).
struct TorchRow {
    kind: String,
    key: String,
    setting: String,
    train: f64,
    score: f64,
}

fn field<'a>(line: &'a str, name: &str) -> Option<&'a str> {
    line.split_whitespace()
        .find_map(|kv| kv.strip_prefix(name)?.strip_prefix('='))
}

/// A `ROW ...` line of `benches/pytorch_cuda.py`.
fn parse_row(line: &str) -> Option<TorchRow> {
    let rest = line.strip_prefix("ROW ")?;
    let kind = field(rest, "kind")?.to_string();
    let setting = format!("{} {}", field(rest, "layout")?, field(rest, "mode")?);
    if kind == "cnn" {
        Some(TorchRow {
            kind,
            key: String::new(),
            setting,
            train: field(rest, "train")?.parse().ok()?,
            score: field(rest, "score")?.parse().ok()?,
        })
    } else {
        let key = format!("{}/{}", field(rest, "res")?, field(rest, "batch")?);
        let rate = field(rest, "rate")?.parse().ok()?;
        Some(TorchRow {
            kind,
            key,
            setting,
            train: rate,
            score: rate,
        })
    }
}

/// The script, from the working directory (a checkout) or the source tree this was built from.
fn script() -> std::result::Result<PathBuf, String> {
    let rel = Path::new("benches/pytorch_cuda.py");
    let built = Path::new(env!("CARGO_MANIFEST_DIR")).join(rel);
    [rel.to_path_buf(), built]
        .into_iter()
        .find(|p| p.is_file())
        .ok_or_else(|| format!("no {} here or in the source tree", rel.display()))
}

/// PyTorch's interpreter as the `job` part finds it, else `python3` (on a GPU machine, the
/// one that holds PyTorch with CUDA).
fn python() -> PathBuf {
    super::bench_job::python().unwrap_or_else(|_| PathBuf::from("python3"))
}

/// PyTorch's rows on the same card; its lines are echoed as they come, so that a run stopped
/// part-way still shows what it measured.
fn torch_rows(weights: Option<&Path>) -> std::result::Result<Vec<TorchRow>, String> {
    let script = script()?;
    let py = python();
    let mut cmd = Command::new(&py);
    cmd.arg(&script)
        .args(["--seconds", &SECS.to_string()])
        .env("PYTHONUNBUFFERED", "1")
        .stdout(Stdio::piped());
    if let Some(w) = weights {
        cmd.arg("--weights").arg(w);
    }
    let mut child = cmd
        .spawn()
        .map_err(|e| format!("{}: cannot start: {e}", py.display()))?;
    let mut rows = Vec::new();
    if let Some(out) = child.stdout.take() {
        for line in BufReader::new(out).lines().map_while(std::io::Result::ok) {
            match parse_row(&line) {
                Some(r) => rows.push(r),
                None => println!("  {line}"),
            }
        }
    }
    let status = child
        .wait()
        .map_err(|e| format!("{}: {e}", script.display()))?;
    if !status.success() {
        println!(
            "  {} stopped ({status}); the rows it printed count",
            script.display()
        );
    }
    Ok(rows)
}

/// Our Lite0 images/s on the GPU for one resolution and batch.
fn lite0_rate(net: &dyn backbone::Backbone, res: usize, batch: usize) -> Result<f64> {
    let mut rng = Rng::new(1);
    let b = ImageBatch {
        n: batch,
        height: res,
        width: res,
        pixels: (0..batch * res * res * 3).map(|_| rng.normal()).collect(),
    };
    net.forward(&b, false)?;
    net.forward(&b, false)?;
    let start = Instant::now();
    let mut images = 0;
    while images < 3 * batch || start.elapsed().as_secs_f64() < SECS {
        std::hint::black_box(net.forward(&b, false)?);
        images += batch;
    }
    Ok(images as f64 / start.elapsed().as_secs_f64())
}

pub fn gpu(data: &Path, weights: Option<&Path>) -> Result<()> {
    let device = DeviceChoice::Cuda.device()?;
    println!("GPU bench: candle's CUDA backend ({device:?})");
    let (train, _) = super::bench::fashion(data)?;
    let sub = train.limit(20000, 0);
    let idx: Vec<usize> = (0..sub.len()).collect();
    let cfg = LearnerConfig {
        device: DeviceChoice::Cuda,
        ..Default::default()
    };
    let mut l = learner::build(&cfg, &sub)?;
    l.reset(1)?;
    let warm = &idx[..idx.len().min(2048)];
    let t = Instant::now();
    l.train(&sub, warm, 1.0, 1, &mut |_| Ok(()))?;
    l.score(&sub, warm, &mut |_| Ok(()))?;
    println!(
        "warm-up (candle compiles its kernels for the card on first use): {:.1} s",
        t.elapsed().as_secs_f64()
    );
    let t = Instant::now();
    l.train(&sub, &idx, 1.0, 1, &mut |_| Ok(()))?;
    let train_rate = sub.len() as f64 / t.elapsed().as_secs_f64();
    let t = Instant::now();
    l.score(&sub, &idx, &mut |_| Ok(()))?;
    let score_rate = sub.len() as f64 / t.elapsed().as_secs_f64();
    println!(
        "ours, CUDA CNN 28x28x1 batch {}: train {train_rate:.0} images/s, score {score_rate:.0} images/s",
        cfg.batch_size
    );
    super::bench::round(l.as_mut(), &sub)?;

    let weights = match backbone::find_weights(LITE0, weights) {
        Ok(w) => Some(w),
        Err(e) => {
            println!("Lite0 rows skipped: {e}");
            None
        }
    };
    let mut ours_lite0 = Vec::new();
    if let Some(w) = &weights {
        for res in RESOLUTIONS {
            let bcfg = BackboneConfig {
                resolution: Some(res),
                device: device.clone(),
                ..Default::default()
            };
            let net = backbone::load(LITE0, w, &bcfg)?;
            for batch in LITE0_BATCHES {
                let r = lite0_rate(net.as_ref(), res, batch)?;
                println!(
                    "ours, CUDA Lite0 {res}x{res} batch {batch:>4} ({}): {r:.0} images/s",
                    net.engine_name()
                );
                ours_lite0.push((format!("{res}/{batch}"), r));
            }
        }
    }

    let rows = match torch_rows(weights.as_deref()) {
        Ok(r) => r,
        Err(why) => {
            println!("PyTorch not run: {why}");
            return Ok(());
        }
    };
    let best = |kind: &str, key: &str, f: fn(&TorchRow) -> f64| {
        rows.iter()
            .filter(|r| r.kind == kind && r.key == key)
            .max_by(|a, b| f(a).total_cmp(&f(b)))
    };
    let ratio = |ours: f64, row: Option<&TorchRow>, f: fn(&TorchRow) -> f64| match row {
        Some(r) => format!("{:.2}x (PyTorch {} {:.0})", ours / f(r), r.setting, f(r)),
        None => "no PyTorch row".into(),
    };
    println!(
        "ours / best PyTorch, CUDA CNN: train {}, score {}",
        ratio(train_rate, best("cnn", "", |r| r.train), |r| r.train),
        ratio(score_rate, best("cnn", "", |r| r.score), |r| r.score)
    );
    for (key, r) in &ours_lite0 {
        println!(
            "ours / best PyTorch, CUDA Lite0 {key} (resolution/batch): {}",
            ratio(*r, best("lite0", key, |r| r.train), |r| r.train)
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_script_rows_parse() {
        let cnn = parse_row("ROW kind=cnn layout=NCHW mode=eager train=123.5 score=456.0")
            .expect("a CNN row");
        assert_eq!(
            (cnn.kind.as_str(), cnn.train, cnn.score),
            ("cnn", 123.5, 456.0)
        );
        assert_eq!(cnn.setting, "NCHW eager");
        let l = parse_row(
            "ROW kind=lite0 res=224 batch=32 layout=channels_last mode=compile rate=999.0",
        )
        .expect("a Lite0 row");
        assert_eq!((l.key.as_str(), l.train), ("224/32", 999.0));
        assert!(parse_row("SKIP kind=cnn reason=x").is_none());
        assert!(parse_row("ROW kind=cnn layout=NCHW mode=eager train=x score=1").is_none());
    }

    /// A build without the `cuda` feature says so before it reads anything.
    #[cfg(not(feature = "cuda"))]
    #[test]
    fn a_cpu_build_refuses_the_gpu_part_clearly() {
        let e = gpu(Path::new("/no/such/data"), None)
            .unwrap_err()
            .to_string();
        assert!(e.contains("rebuild with `--features cuda`"), "{e}");
    }
}
