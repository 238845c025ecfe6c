//! Training and scoring throughput of the CNN classifier on synthetic data: candle's stock
//! operations (`Cnn`) against the fused CPU kernels (`FastCnn`), in images/s and GFLOP/s.
//!
//! `cargo bench --bench throughput` (about half a minute). For profiling and quick checks:
//! `THROUGHPUT_SECS` sets the time per measurement (default 1.5), `THROUGHPUT_IMPLS=fast` skips
//! the stock CNN, `THROUGHPUT_SHAPE=28x28x1` keeps one image size, `THROUGHPUT_PHASE=train` (or
//! `score`) one phase, `THROUGHPUT_UNTUNED=1` skips
//! `learner::fast::tune_process_for_cpu_training` (allocator and candle thread settings).

use std::time::Instant;

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

fn main() {
    if std::env::var_os("THROUGHPUT_UNTUNED").is_none() {
        // SAFETY: nothing else runs yet.
        unsafe { itlm_inspector::learner::fast::tune_process_for_cpu_training() };
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
        }
    }
}
