//! Training and scoring throughput of the CNN classifier on synthetic data: candle's stock
//! operations (`Cnn`) against the fused CPU kernels (`FastCnn`), in images/s and GFLOP/s.
//!
//! `cargo bench --bench throughput` (about half a minute). For profiling and quick checks:
//! `THROUGHPUT_SECS` sets the time per measurement (default 1.5), `THROUGHPUT_IMPLS=fast` skips
//! the stock CNN, `THROUGHPUT_SHAPE=28x28x1` keeps one image size, `THROUGHPUT_PHASE=train` (or
//! `score`) one phase, `THROUGHPUT_UNTUNED=1` skips
//! `learner::fast::tune_process_for_cpu_training` (allocator and candle thread settings),
//! `THROUGHPUT_OPS=1` times each fused op of FastCnn (28x28x1) forward and backward instead.
//!
//! After its own figures it runs `benches/pytorch_compare.py` (the same CNN, batch, optimizer
//! and per-sample loss in PyTorch, Debian's `python3-torch`: `apt-get install -y python3-torch`)
//! in the same process tree, one after the other, and prints the ratio FastCnn / PyTorch for
//! training and scoring, the model's FLOPs per image, and the GFLOP/s achieved against the
//! machine's nominal f32 peak. `THROUGHPUT_PYTORCH=0` skips PyTorch; `THROUGHPUT_PYTHON` names
//! the interpreter (default `/usr/bin/python3`).

use std::sync::Arc;
use std::time::Instant;

use candle_core::{CustomOp3, Device, Tensor};

use itlm_inspector::data::{Dataset, ImageShape, Source};
use itlm_inspector::itlm::{Learner, Tick};
use itlm_inspector::learner::{Classifier, CnnImpl, LearnerConfig};
use itlm_inspector::rng::Rng;

const BATCH: usize = 128;
const CLASSES: usize = 10;
/// Samples per training or scoring call (whole batches).
const SAMPLES: usize = 4 * BATCH;

/// FLOPs per image of the forward pass and of a training step (forward + backward; the first
/// conv computes no input gradient), counting a multiply-add as two.
fn flops(s: ImageShape, classes: usize) -> (f64, f64) {
    let (h, w, c) = (s.height as f64, s.width as f64, s.channels as f64);
    let conv1 = 2.0 * h * w * 9.0 * c * 32.0;
    let conv2 = 2.0 * (s.height / 2) as f64 * (s.width / 2) as f64 * 9.0 * 32.0 * 64.0;
    let flat = 64.0 * (s.height / 4) as f64 * (s.width / 4) as f64;
    let fc = 2.0 * flat * 128.0 + 2.0 * 128.0 * classes as f64;
    let forward = conv1 + conv2 + fc;
    let backward = conv1 + 2.0 * conv2 + 2.0 * fc;
    (forward, forward + backward)
}

fn synthetic(shape: ImageShape, n: usize) -> Dataset {
    let mut rng = Rng::new(7);
    let pixels = (0..n * shape.len()).map(|_| rng.below(256) as u8).collect();
    let labels = (0..n).map(|_| rng.below(CLASSES) as u32).collect();
    let ids = (0..n).map(|i| format!("synthetic#{i}")).collect();
    let classes = (0..CLASSES).map(|c| c.to_string()).collect();
    Dataset::from_parts(
        "synthetic",
        Source::Memory,
        classes,
        shape,
        pixels,
        labels,
        ids,
    )
    .expect("synthetic data set")
}

/// CPU time used by this process so far, all threads (Linux; 0 elsewhere).
fn cpu_secs() -> f64 {
    let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else {
        return 0.0;
    };
    // Fields after the command name (which may hold spaces): utime and stime are 14 and 15.
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let f: Vec<f64> = rest
        .split_whitespace()
        .skip(11)
        .take(2)
        .filter_map(|v| v.parse().ok())
        .collect();
    f.iter().sum::<f64>() / 100.0 // clock ticks (USER_HZ = 100)
}

/// Images per second of `f` (which handles `SAMPLES` images per call) over about `secs`, wall
/// clock and per CPU-second (the latter is less disturbed by other processes on the machine).
fn rate(secs: f64, mut f: impl FnMut()) -> (f64, f64) {
    f(); // warm-up: first-touch allocations, thread pool start
    let (start, cpu) = (Instant::now(), cpu_secs());
    let mut calls = 0;
    while calls < 1 || start.elapsed().as_secs_f64() < secs {
        f();
        calls += 1;
    }
    let images = (calls * SAMPLES) as f64;
    let cpu = (cpu_secs() - cpu).max(0.01);
    (images / start.elapsed().as_secs_f64(), images / cpu)
}

/// Milliseconds per call of `f` (best of 3 rounds of `reps` calls, after a warm-up call).
fn millis(reps: usize, mut f: impl FnMut()) -> f64 {
    f();
    (0..3)
        .map(|_| {
            let t = Instant::now();
            for _ in 0..reps {
                f();
            }
            t.elapsed().as_secs_f64() * 1e3 / reps as f64
        })
        .fold(f64::INFINITY, f64::min)
}

/// Forward and backward time of one fused op on random data, and its GFLOP/s.
fn time_op(
    name: &str,
    op: impl Fn() -> Arc<Box<dyn CustomOp3 + Send + Sync>>,
    args: [&Tensor; 3],
    fwd_flops: f64,
    bwd_flops: f64,
) {
    let [x, w, b] = args;
    let fwd = millis(10, || {
        x.apply_op3_arc(w, b, op()).expect("forward");
    });
    let o = op();
    let y = x.apply_op3_arc(w, b, o.clone()).expect("forward");
    let dy = y.ones_like().expect("ones");
    let bwd = millis(10, || {
        o.bwd(x, w, b, &y, &dy).expect("backward");
    });
    println!(
        "{name:>28}: forward {fwd:6.2} ms ({:5.1} GFLOP/s), backward {bwd:6.2} ms ({:5.1} GFLOP/s)",
        fwd_flops / fwd * 1e-6,
        bwd_flops / bwd * 1e-6
    );
}

/// Per-op times of FastCnn's layers for one 28x28x1 batch.
fn ops() {
    use candle_core::Var;
    use itlm_inspector::learner::fast::{Conv3x3ReluPool, Linear};
    let n = BATCH;
    let mut rng = Rng::new(3);
    let mut rand = |dims: &[usize], scale: f32| {
        let len: usize = dims.iter().product();
        let v: Vec<f32> = (0..len)
            .map(|_| (rng.next_f32() * 2.0 - 1.0) * scale)
            .collect();
        Tensor::from_vec(v, dims, &Device::Cpu).expect("tensor")
    };
    let vars = |t: Tensor| Var::from_tensor(&t).expect("var").as_tensor().clone();
    let x = rand(&[n, 28, 28, 1], 1.0);
    let (w1, b1) = (vars(rand(&[9, 32], 0.3)), vars(rand(&[32], 0.1)));
    let a = vars(rand(&[n, 14, 14, 32], 1.0));
    let (w2, b2) = (vars(rand(&[288, 64], 0.06)), vars(rand(&[64], 0.1)));
    let h = vars(rand(&[n, 7, 7, 64], 1.0));
    let (f1, fb1) = (vars(rand(&[128, 3136], 0.02)), vars(rand(&[128], 0.1)));
    let conv = |px: f64, k: f64, co: f64| 2.0 * n as f64 * px * k * co;
    let conv1 = conv(784.0, 9.0, 32.0);
    let conv2 = conv(196.0, 288.0, 64.0);
    let fc1 = 2.0 * n as f64 * 3136.0 * 128.0;
    let arc = |o: Box<dyn CustomOp3 + Send + Sync>| Arc::new(o);
    time_op(
        "conv1 + relu + pool (no dX)",
        || arc(Box::new(Conv3x3ReluPool::new(false))),
        [&x, &w1, &b1],
        conv1,
        conv1,
    );
    time_op(
        "conv2 + relu + pool",
        || arc(Box::new(Conv3x3ReluPool::new(true))),
        [&a, &w2, &b2],
        conv2,
        2.0 * conv2,
    );
    time_op(
        "fc1 + relu",
        || arc(Box::new(Linear { relu: true })),
        [&h, &f1, &fb1],
        fc1,
        2.0 * fc1,
    );
}

fn main() {
    if std::env::var_os("THROUGHPUT_UNTUNED").is_none() {
        // SAFETY: nothing else runs yet.
        unsafe { itlm_inspector::learner::fast::tune_process_for_cpu_training() };
    }
    if std::env::var_os("THROUGHPUT_OPS").is_some() {
        ops();
        return;
    }
    let secs: f64 = std::env::var("THROUGHPUT_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1.5);
    let only_fast = std::env::var("THROUGHPUT_IMPLS").is_ok_and(|s| s == "fast");
    let shape_filter = std::env::var("THROUGHPUT_SHAPE").ok();
    let phase = std::env::var("THROUGHPUT_PHASE").unwrap_or_default();
    println!(
        "CNN throughput, batch {BATCH}, {CLASSES} classes, synthetic data, {} rayon threads, \
         process tuning {}",
        rayon::current_num_threads(),
        if std::env::var_os("THROUGHPUT_UNTUNED").is_none() {
            "on"
        } else {
            "off"
        }
    );
    // (shape, FastCnn train images/s, FastCnn score images/s)
    let mut ours: Vec<(ImageShape, f64, f64)> = Vec::new();
    for shape in [ImageShape::new(28, 28, 1), ImageShape::new(32, 32, 3)] {
        if shape_filter
            .as_ref()
            .is_some_and(|f| *f != shape.to_string())
        {
            continue;
        }
        let data = synthetic(shape, SAMPLES);
        let idx: Vec<usize> = (0..SAMPLES).collect();
        let (fwd, step) = flops(shape, CLASSES);
        for (name, imp) in [("stock Cnn", CnnImpl::Stock), ("FastCnn", CnnImpl::Fast)] {
            if only_fast && imp == CnnImpl::Stock {
                continue;
            }
            let cfg = LearnerConfig {
                batch_size: BATCH,
                score_batch_size: BATCH,
                ..Default::default()
            };
            let mut c =
                Classifier::with_cnn_impl(cfg, shape, CLASSES, candle_core::Device::Cpu, imp)
                    .expect("classifier");
            let mut tick = |_: Tick| Ok(());
            let mut seed = 0;
            let train = if phase != "score" {
                rate(secs, || {
                    seed += 1;
                    c.train(&data, &idx, 1.0, seed, &mut tick).expect("train");
                })
            } else {
                (0.0, 0.0)
            };
            let score = if phase != "train" {
                rate(secs, || {
                    c.score(&data, &idx, &mut tick).expect("score");
                })
            } else {
                (0.0, 0.0)
            };
            println!(
                "{shape} {name:>9}: train {:6.0} images/s ({:5.1} GFLOP/s, {:5.0}/CPU-s), \
                 score {:6.0} images/s ({:5.1} GFLOP/s, {:5.0}/CPU-s)",
                train.0,
                train.0 * step * 1e-9,
                train.1,
                score.0,
                score.0 * fwd * 1e-9,
                score.1
            );
            if imp == CnnImpl::Fast {
                ours.push((shape, train.0, score.0));
            }
        }
    }
    compare(&ours, secs);
}

/// Nominal f32 peak of the cores this process uses: threads x clock x 2 FMA units x SIMD lanes x
/// 2 FLOPs, with the clock and the widest vector extension read from /proc/cpuinfo.
fn peak_gflops(threads: usize) -> Option<(f64, String)> {
    let info = std::fs::read_to_string("/proc/cpuinfo").ok()?;
    let mhz: f64 = info
        .lines()
        .find(|l| l.starts_with("cpu MHz"))?
        .split(':')
        .nth(1)?
        .trim()
        .parse()
        .ok()?;
    let flags = info.lines().find(|l| l.starts_with("flags"))?;
    let has = |f: &str| flags.split_whitespace().any(|x| x == f);
    let (lanes, ext) = if has("avx512f") {
        (16.0, "AVX-512")
    } else if has("avx2") && has("fma") {
        (8.0, "AVX2+FMA")
    } else {
        (4.0, "SSE")
    };
    let peak = threads as f64 * mhz * 1e-3 * 2.0 * lanes * 2.0;
    Some((
        peak,
        format!(
            "{threads} cores x {:.2} GHz x 2 FMA units x {lanes} f32 lanes ({ext}) x 2",
            mhz * 1e-3
        ),
    ))
}

/// PyTorch on the same machine, same run; ratio, FLOPs and share of the peak.
fn compare(ours: &[(ImageShape, f64, f64)], secs: f64) {
    let threads = rayon::current_num_threads();
    println!();
    match peak_gflops(threads) {
        Some((peak, how)) => println!("nominal f32 peak: {peak:.0} GFLOP/s = {how}"),
        None => println!("nominal f32 peak: unknown (no /proc/cpuinfo)"),
    }
    let peak = peak_gflops(threads).map(|p| p.0);
    let share = |g: f64| {
        peak.map_or(String::new(), |p| {
            format!(", {:.1}% of peak", 100.0 * g / p)
        })
    };
    for &(shape, train, score) in ours {
        let (fwd, step) = flops(shape, CLASSES);
        println!(
            "{shape}: {:.1} MFLOP per image forward, {:.1} per training step; FastCnn train {:.1} GFLOP/s{}, score {:.1} GFLOP/s{}",
            fwd * 1e-6,
            step * 1e-6,
            train * step * 1e-9,
            share(train * step * 1e-9),
            score * fwd * 1e-9,
            share(score * fwd * 1e-9)
        );
    }
    if std::env::var("THROUGHPUT_PYTORCH").is_ok_and(|v| v == "0") || ours.is_empty() {
        return;
    }
    let python = std::env::var("THROUGHPUT_PYTHON").unwrap_or_else(|_| "/usr/bin/python3".into());
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/benches/pytorch_compare.py");
    let out = std::process::Command::new(&python)
        .arg(script)
        .args([
            "--threads",
            &threads.to_string(),
            "--seconds",
            &secs.max(2.0).to_string(),
        ])
        .env(
            "OMP_WAIT_POLICY",
            std::env::var("OMP_WAIT_POLICY").unwrap_or_else(|_| "PASSIVE".into()),
        )
        .output();
    let out = match out {
        Ok(o) if o.status.success() => String::from_utf8_lossy(&o.stdout).into_owned(),
        Ok(o) => {
            println!(
                "PyTorch: {script} failed ({}): {} (apt-get install -y python3-torch)",
                o.status,
                String::from_utf8_lossy(&o.stderr)
                    .lines()
                    .last()
                    .unwrap_or("")
            );
            return;
        }
        Err(e) => {
            println!("PyTorch: cannot run {python}: {e}");
            return;
        }
    };
    print!("{out}");
    // Lines: "pytorch V threads T ... HxWxC batch B LAYOUT: train X images/s, score Y images/s";
    // PyTorch's best layout per shape is the one compared.
    for &(shape, train, score) in ours {
        let key = format!(" {shape} ");
        let best = out
            .lines()
            .filter(|l| l.contains(&key))
            .filter_map(|l| {
                let num = |tag: &str| -> Option<f64> {
                    l.split(tag).nth(1)?.split_whitespace().next()?.parse().ok()
                };
                Some((num("train ")?, num("score ")?))
            })
            .fold(None, |acc: Option<(f64, f64)>, (t, s)| {
                Some(acc.map_or((t, s), |(a, b)| (a.max(t), b.max(s))))
            });
        match best {
            Some((pt, ps)) => println!(
                "{shape}: ours / PyTorch (its best layout): train {:.2}x ({train:.0} vs {pt:.0} images/s), score {:.2}x ({score:.0} vs {ps:.0} images/s)",
                train / pt,
                score / ps
            ),
            None => println!("{shape}: no PyTorch figure to compare"),
        }
    }
}
