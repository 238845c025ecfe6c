//! Training and scoring throughput of the CNN classifier on synthetic data: candle's stock
//! operations (`Cnn`) against the fused CPU kernels (`FastCnn`), in images/s and GFLOP/s.
//!
//! `cargo bench --bench throughput` (about half a minute without PyTorch). For profiling and quick checks:
//! `THROUGHPUT_SECS` sets the time per measurement (default 1.5), `THROUGHPUT_IMPLS=fast` skips
//! the stock CNN, `THROUGHPUT_SHAPE=28x28x1` keeps one image size, `THROUGHPUT_PHASE=train` (or
//! `score`) one phase, `THROUGHPUT_UNTUNED=1` skips
//! `learner::fast::tune_process_for_cpu_training` (allocator and candle thread settings),
//! `THROUGHPUT_OPS=1` times each fused op of FastCnn (28x28x1) forward and backward instead.
//!
//! `ITLM_CONV=direct` runs FastCnn's second conv as a direct convolution instead of Winograd
//! F(2x2, 3x3) (before/after figures; GFLOP/s always count the direct convolution's FLOPs).
//!
//! After its own figures it measures the f32 FMA peak of this machine on the spot (a loop of
//! independent fused multiply-adds on as many threads as ours: AVX2 ymm and, where present,
//! AVX-512 zmm) and states the GFLOP/s achieved as a share of it (the nominal peak from
//! /proc/cpuinfo is printed beside it). Then it runs `benches/pytorch_compare.py` (the same CNN,
//! batch, optimizer and per-sample loss in PyTorch) with each PyTorch it finds, one after the
//! other in the same run: Debian's PyTorch 1.13 from `/usr/bin/python3` (`THROUGHPUT_PYTHON`;
//! `apt-get install -y python3-torch`) and PyTorch 2.x from `ITLM_TORCH_PYTHON` or the venv
//! `benches/setup_torch.sh` makes (`benches/.venv-torch`). Each PyTorch runs NCHW and
//! channels_last, eager and `torch.compile`, its default thread count where it differs, under each
//! OMP_WAIT_POLICY of `THROUGHPUT_OMP_WAIT` (default `PASSIVE,default`); the bench prints ours /
//! each row, ours / the best row of each version and of all, wall clock and per CPU-second.
//! `THROUGHPUT_PYTORCH=0` skips PyTorch, `THROUGHPUT_TORCH_COMPILE=0` skips `torch.compile`
//! (its compilation takes minutes on 2 cores). The whole run takes about 5 minutes.
//! Last, EfficientNet-Lite0's embedding throughput against PyTorch 2.x's ([`lite0`];
//! `THROUGHPUT_LITE0=0` skips it, `THROUGHPUT_LITE0=only` runs it alone).

#[path = "throughput/lite0.rs"]
mod lite0;

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
        "{name:>30}: forward {fwd:6.2} ms ({:5.1} GFLOP/s), backward {bwd:6.2} ms ({:5.1} GFLOP/s)",
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
        "conv2 + relu + pool (direct)",
        || arc(Box::new(Conv3x3ReluPool::direct(true))),
        [&a, &w2, &b2],
        conv2,
        2.0 * conv2,
    );
    // GFLOP/s of the Winograd op count the direct convolution's FLOPs (effective rate).
    time_op(
        "conv2 + relu + pool (Winograd)",
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
    let lite0 = std::env::var("THROUGHPUT_LITE0").unwrap_or_default();
    if lite0 == "only" {
        return lite0::row(secs.max(3.0));
    }
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
    let mut ours: Vec<Ours> = Vec::new();
    for shape in [ImageShape::new(28, 28, 1), ImageShape::new(32, 32, 3)] {
        if shape_filter
            .as_ref()
            .is_some_and(|f| *f != shape.to_string())
        {
            continue;
        }
        let (fwd, step) = flops(shape, CLASSES);
        for (name, imp) in [("stock Cnn", CnnImpl::Stock), ("FastCnn", CnnImpl::Fast)] {
            if only_fast && imp == CnnImpl::Stock {
                continue;
            }
            let o = measure(shape, imp, secs, &phase);
            println!(
                "{shape} {name:>9}: train {:6.0} images/s ({:5.1} GFLOP/s, {:5.0}/CPU-s), \
                 score {:6.0} images/s ({:5.1} GFLOP/s, {:5.0}/CPU-s)",
                o.train,
                o.train * step * 1e-9,
                o.train_cpu,
                o.score,
                o.score * fwd * 1e-9,
                o.score_cpu
            );
            if imp == CnnImpl::Fast {
                ours.push(o);
            }
        }
    }
    compare(&ours, secs, &phase);
    if lite0 != "0" {
        lite0::row(secs.max(3.0));
    }
}

/// Training and scoring rates of one CNN implementation on `SAMPLES` synthetic images.
fn measure(shape: ImageShape, imp: CnnImpl, secs: f64, phase: &str) -> Ours {
    let data = synthetic(shape, SAMPLES);
    let idx: Vec<usize> = (0..SAMPLES).collect();
    let cfg = LearnerConfig {
        batch_size: BATCH,
        score_batch_size: BATCH,
        ..Default::default()
    };
    let mut c = Classifier::with_cnn_impl(cfg, shape, CLASSES, candle_core::Device::Cpu, imp)
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
    Ours {
        shape,
        train: train.0,
        train_cpu: train.1,
        score: score.0,
        score_cpu: score.1,
    }
}

/// FastCnn's rates for one image shape: images/s of wall clock and per CPU-second.
struct Ours {
    shape: ImageShape,
    train: f64,
    train_cpu: f64,
    score: f64,
    score_cpu: f64,
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
    let field = |k: &str| {
        info.lines()
            .find(|l| l.starts_with(k))
            .and_then(|l| l.split(':').nth(1))
            .map(|v| v.trim().to_string())
    };
    // Zen 4 (AMD family 25) runs an AVX-512 instruction as two halves on its 256-bit FMA
    // units: 8 f32 lanes per unit and cycle, as with AVX2 (the FMA loop measures the same
    // either way there).
    let zen4 = field("vendor_id").as_deref() == Some("AuthenticAMD")
        && field("cpu family").as_deref() == Some("25");
    let (lanes, ext) = if has("avx512f") && zen4 {
        (8.0, "AVX-512 on Zen 4's 256-bit units")
    } else if has("avx512f") {
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

/// Independent accumulators of the FMA loops: more than the FMA latency (4 cycles) x the FMA
/// units (2) so that the loop is bound by throughput, not latency.
const FMA_ACCS: usize = 12;

/// `iters` x 12 x 8 fused multiply-adds on 12 independent ymm accumulators (AVX2 + FMA).
///
/// # Safety
/// The CPU must have AVX2 and FMA (`is_x86_feature_detected!`).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn fma_loop_avx2(iters: u64) -> f32 {
    use std::arch::x86_64::*;
    let (a, b) = (_mm256_set1_ps(0.999), _mm256_set1_ps(0.001));
    let mut acc = [_mm256_setzero_ps(); FMA_ACCS];
    for (i, v) in acc.iter_mut().enumerate() {
        *v = _mm256_set1_ps(i as f32 * 0.01);
    }
    for _ in 0..iters {
        for v in acc.iter_mut() {
            *v = _mm256_fmadd_ps(*v, a, b); // converges to 1: no overflow, no denormals
        }
    }
    let mut sum = _mm256_setzero_ps();
    for v in acc {
        sum = _mm256_add_ps(sum, v);
    }
    _mm_cvtss_f32(_mm256_castps256_ps128(sum))
}

/// `iters` x 12 x 16 fused multiply-adds on 12 independent zmm accumulators. Inline assembly:
/// the AVX-512 intrinsics are newer than this crate's minimum Rust.
///
/// # Safety
/// The CPU must have AVX-512F (`is_x86_feature_detected!`).
#[cfg(target_arch = "x86_64")]
unsafe fn fma_loop_avx512(iters: u64) -> f32 {
    let consts = [0.999f32, 0.001, 0.0];
    let mut out = 0f32;
    std::arch::asm!(
        "vbroadcastss zmm12, dword ptr [{c}]",
        "vbroadcastss zmm13, dword ptr [{c} + 4]",
        "vxorps xmm0, xmm0, xmm0", "vxorps xmm1, xmm1, xmm1", "vxorps xmm2, xmm2, xmm2",
        "vxorps xmm3, xmm3, xmm3", "vxorps xmm4, xmm4, xmm4", "vxorps xmm5, xmm5, xmm5",
        "vxorps xmm6, xmm6, xmm6", "vxorps xmm7, xmm7, xmm7", "vxorps xmm8, xmm8, xmm8",
        "vxorps xmm9, xmm9, xmm9", "vxorps xmm10, xmm10, xmm10", "vxorps xmm11, xmm11, xmm11",
        "test {n}, {n}",
        "jz 3f",
        "2:",
        "vfmadd213ps zmm0, zmm12, zmm13", "vfmadd213ps zmm1, zmm12, zmm13",
        "vfmadd213ps zmm2, zmm12, zmm13", "vfmadd213ps zmm3, zmm12, zmm13",
        "vfmadd213ps zmm4, zmm12, zmm13", "vfmadd213ps zmm5, zmm12, zmm13",
        "vfmadd213ps zmm6, zmm12, zmm13", "vfmadd213ps zmm7, zmm12, zmm13",
        "vfmadd213ps zmm8, zmm12, zmm13", "vfmadd213ps zmm9, zmm12, zmm13",
        "vfmadd213ps zmm10, zmm12, zmm13", "vfmadd213ps zmm11, zmm12, zmm13",
        "dec {n}",
        "jnz 2b",
        "3:",
        "vaddps zmm0, zmm0, zmm1", "vaddps zmm2, zmm2, zmm3", "vaddps zmm4, zmm4, zmm5",
        "vaddps zmm6, zmm6, zmm7", "vaddps zmm8, zmm8, zmm9", "vaddps zmm10, zmm10, zmm11",
        "vaddps zmm0, zmm0, zmm2", "vaddps zmm4, zmm4, zmm6", "vaddps zmm8, zmm8, zmm10",
        "vaddps zmm0, zmm0, zmm4", "vaddps zmm0, zmm0, zmm8",
        "vmovss dword ptr [{o}], xmm0",
        "vzeroupper",
        c = in(reg) consts.as_ptr(),
        o = in(reg) &mut out as *mut f32,
        n = inout(reg) iters => _,
        out("xmm0") _, out("xmm1") _, out("xmm2") _, out("xmm3") _, out("xmm4") _,
        out("xmm5") _, out("xmm6") _, out("xmm7") _, out("xmm8") _, out("xmm9") _,
        out("xmm10") _, out("xmm11") _, out("xmm12") _, out("xmm13") _,
        options(nostack),
    );
    out
}

/// Portable fallback: 12 x 8 independent multiply-adds (the compiler vectorises with what the
/// build targets; without FMA a multiply and an add, still 2 FLOPs).
fn fma_loop_portable(iters: u64) -> f32 {
    let mut acc = [[0f32; 8]; FMA_ACCS];
    let (a, b) = (
        std::hint::black_box(0.999f32),
        std::hint::black_box(0.001f32),
    );
    for _ in 0..iters {
        for v in acc.iter_mut() {
            for x in v.iter_mut() {
                *x = *x * a + b;
            }
        }
    }
    acc.iter().flatten().sum()
}

/// One FMA loop: its name, f32 lanes per accumulator, and the loop itself.
type FmaLoop = (&'static str, f64, fn(u64) -> f32);

/// The SIMD FMA loops this CPU can run, widest last; the portable loop where there is none.
fn fma_loops() -> Vec<FmaLoop> {
    #[allow(unused_mut)]
    let mut loops: Vec<FmaLoop> = Vec::new();
    #[cfg(target_arch = "x86_64")]
    {
        if is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma") {
            // SAFETY: AVX2 and FMA detected just above.
            loops.push(("AVX2+FMA ymm", 8.0, |n| unsafe { fma_loop_avx2(n) }));
        }
        if is_x86_feature_detected!("avx512f") {
            // SAFETY: AVX-512F detected just above.
            loops.push(("AVX-512 zmm", 16.0, |n| unsafe { fma_loop_avx512(n) }));
        }
    }
    if loops.is_empty() {
        loops.push(("portable", 8.0, fma_loop_portable));
    }
    loops
}

/// Measured f32 peak of `threads` threads running `f` at once: GFLOP/s of wall clock (best of 5
/// rounds of about 0.3 s) and GFLOP per CPU-second x threads (what the threads would do with
/// their cores to themselves; other processes on the machine disturb it less).
fn measure_fma(threads: usize, lanes: f64, f: fn(u64) -> f32) -> (f64, f64) {
    let flops_per_iter = FMA_ACCS as f64 * lanes * 2.0;
    // Calibrate on one thread: iterations for about 0.3 s.
    let mut iters = 1u64 << 16;
    loop {
        let t = Instant::now();
        std::hint::black_box(f(std::hint::black_box(iters)));
        let dt = t.elapsed().as_secs_f64();
        if dt > 0.05 {
            iters = ((iters as f64) * 0.3 / dt).max(1.0) as u64;
            break;
        }
        iters *= 4;
    }
    let (mut best, mut best_cpu) = (0f64, 0f64);
    for _ in 0..5 {
        let barrier = std::sync::Barrier::new(threads + 1);
        let (t, cpu) = std::thread::scope(|s| {
            for _ in 0..threads {
                s.spawn(|| {
                    barrier.wait();
                    std::hint::black_box(f(std::hint::black_box(iters)));
                });
            }
            barrier.wait();
            (Instant::now(), cpu_secs())
        });
        // The scope joined every thread: all the work is done.
        let flops = threads as f64 * iters as f64 * flops_per_iter;
        best = best.max(flops / t.elapsed().as_secs_f64() * 1e-9);
        let cpu = (cpu_secs() - cpu).max(0.01);
        best_cpu = best_cpu.max(flops / cpu * threads as f64 * 1e-9);
    }
    (best, best_cpu)
}

/// One PyTorch figure from a `ROW key=value ...` line of benches/pytorch_compare.py.
struct TorchRow {
    version: String,
    shape: String,
    /// layout, mode, threads and OpenMP wait policy.
    setting: String,
    train: f64,
    score: f64,
    train_cpu: f64,
    score_cpu: f64,
}

fn parse_row(line: &str) -> Option<TorchRow> {
    let rest = line.strip_prefix("ROW ")?;
    let kv: std::collections::HashMap<&str, &str> = rest
        .split_whitespace()
        .filter_map(|p| p.split_once('='))
        .collect();
    let num = |k: &str| -> Option<f64> { kv.get(k)?.parse().ok() };
    Some(TorchRow {
        version: (*kv.get("torch")?).to_string(),
        shape: (*kv.get("shape")?).to_string(),
        setting: format!(
            "{} {} threads {} OMP_WAIT_POLICY {}",
            kv.get("layout")?,
            kv.get("mode")?,
            kv.get("threads")?,
            kv.get("wait")?
        ),
        train: num("train")?,
        score: num("score")?,
        train_cpu: num("train_cpu")?,
        score_cpu: num("score_cpu")?,
    })
}

/// The interpreters to compare against: Debian's PyTorch 1.13 (`THROUGHPUT_PYTHON`, default
/// /usr/bin/python3) and PyTorch 2.x (`ITLM_TORCH_PYTHON`, default the venv that
/// benches/setup_torch.sh makes), with what to do where one is missing.
fn interpreters() -> Vec<(String, &'static str)> {
    let mut out = vec![(
        std::env::var("THROUGHPUT_PYTHON").unwrap_or_else(|_| "/usr/bin/python3".into()),
        "Debian's PyTorch 1.13: apt-get install -y python3-torch",
    )];
    let venv = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/benches/.venv-torch/bin/python"
    );
    match std::env::var("ITLM_TORCH_PYTHON") {
        Ok(p) => out.push((p, "PyTorch 2.x: bash benches/setup_torch.sh")),
        Err(_) if std::path::Path::new(venv).exists() => {
            out.push((venv.into(), "PyTorch 2.x: bash benches/setup_torch.sh"))
        }
        Err(_) => println!(
            "PyTorch 2.x: not installed (no {venv}: bash benches/setup_torch.sh, or \
             ITLM_TORCH_PYTHON=/path/to/python)"
        ),
    }
    out
}

/// Runs benches/pytorch_compare.py with `python`, printing its human lines as they come, and
/// returns its rows.
fn run_pytorch(python: &str, hint: &str, threads: usize, secs: f64, shapes: &str) -> Vec<TorchRow> {
    use std::io::{BufRead, Read};
    let importable = std::process::Command::new(python)
        .args(["-c", "import torch"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !importable {
        println!("PyTorch via {python}: not installed ({hint})");
        return Vec::new();
    }
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/benches/pytorch_compare.py");
    let mut cmd = std::process::Command::new(python);
    cmd.arg(script).args([
        "--threads",
        &threads.to_string(),
        "--seconds",
        &secs.max(2.0).to_string(),
        "--shapes",
        shapes,
        "--wait-policies",
        &std::env::var("THROUGHPUT_OMP_WAIT").unwrap_or_else(|_| "PASSIVE,default".into()),
    ]);
    if std::env::var("THROUGHPUT_TORCH_COMPILE").is_ok_and(|v| v == "0") {
        cmd.arg("--no-compile");
    }
    let child = cmd
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn();
    let mut child = match child {
        Ok(c) => c,
        Err(e) => {
            println!("PyTorch: cannot run {python}: {e}");
            return Vec::new();
        }
    };
    // Drain stderr on its own thread (torch.compile can be talkative) so neither pipe fills up.
    let mut stderr = child.stderr.take();
    let errs = std::thread::spawn(move || {
        let mut s = String::new();
        if let Some(e) = stderr.as_mut() {
            let _ = e.read_to_string(&mut s);
        }
        s
    });
    let mut rows = Vec::new();
    if let Some(stdout) = child.stdout.take() {
        for line in std::io::BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
        {
            if let Some(row) = parse_row(&line) {
                rows.push(row);
            } else if !line.starts_with("SKIP ") {
                println!("  {line}");
            }
        }
    }
    let status = child.wait();
    let errs = errs.join().unwrap_or_default();
    if !status.as_ref().is_ok_and(|s| s.success()) {
        println!(
            "PyTorch: {script} with {python} failed ({status:?}): {}",
            errs.lines().last().unwrap_or("")
        );
    }
    rows
}

/// The peak measured on the spot, PyTorch on the same machine in the same run, every ratio.
fn compare(ours: &[Ours], secs: f64, phase: &str) {
    let threads = rayon::current_num_threads();
    println!();
    match peak_gflops(threads) {
        Some((peak, how)) => println!("nominal f32 peak: {peak:.0} GFLOP/s = {how}"),
        None => println!("nominal f32 peak: unknown (no /proc/cpuinfo)"),
    }
    // (name, wall GFLOP/s, per-CPU-s GFLOP/s x threads) of each FMA loop; the widest is the peak.
    let mut peaks = Vec::new();
    for (name, lanes, f) in fma_loops() {
        let (wall, cpu) = measure_fma(threads, lanes, f);
        println!(
            "measured f32 FMA peak, {name} ({FMA_ACCS} independent accumulators, {threads} \
             threads): {wall:.0} GFLOP/s ({cpu:.0} per CPU-second x {threads})"
        );
        peaks.push((name, wall, cpu));
    }
    let (peak_name, peak, peak_cpu) =
        peaks
            .iter()
            .copied()
            .fold(("none", 0.0, 0.0), |a, p| if p.1 > a.1 { p } else { a });
    for o in ours {
        let (fwd, step) = flops(o.shape, CLASSES);
        let g = |rate: f64, f: f64| rate * f * 1e-9;
        let pct = |x: f64, p: f64| 100.0 * x / p.max(1e-9);
        let t = threads as f64;
        println!(
            "{}: {:.2} MFLOP per image forward, {:.2} per training step (forward + backward, no \
             input gradient for the first conv; a direct convolution's count: FastCnn runs the \
             second conv as Winograd F(2x2, 3x3), 2.25x fewer multiplies, so its figures are \
             effective rates and may pass the peak, `ITLM_CONV=direct` for the direct one); \
             FastCnn train {:.1} GFLOP/s = {:.1}% of the measured {peak_name} peak ({:.1}% per \
             CPU-second), score {:.1} GFLOP/s = {:.1}% ({:.1}% per CPU-second)",
            o.shape,
            fwd * 1e-6,
            step * 1e-6,
            g(o.train, step),
            pct(g(o.train, step), peak),
            pct(g(o.train_cpu, step) * t, peak_cpu),
            g(o.score, fwd),
            pct(g(o.score, fwd), peak),
            pct(g(o.score_cpu, fwd) * t, peak_cpu),
        );
    }
    if std::env::var("THROUGHPUT_PYTORCH").is_ok_and(|v| v == "0") || ours.is_empty() {
        return;
    }
    let shapes: Vec<String> = ours.iter().map(|o| o.shape.to_string()).collect();
    let mut rows = Vec::new();
    for (python, hint) in interpreters() {
        println!("\nPyTorch via {python}:");
        rows.extend(run_pytorch(&python, hint, threads, secs, &shapes.join(",")));
    }
    if rows.is_empty() {
        println!("no PyTorch figure to compare");
        return;
    }
    // The machine may be shared: the load can change in the minutes PyTorch takes. FastCnn is
    // measured again after PyTorch; each ratio uses the better of the two measurements.
    println!();
    let ours: Vec<Ours> = ours
        .iter()
        .map(|before| {
            let after = measure(before.shape, CnnImpl::Fast, secs, phase);
            println!(
                "{} FastCnn again after PyTorch: train {:.0} images/s ({:.0}/CPU-s), score {:.0} \
                 images/s ({:.0}/CPU-s); before: {:.0} ({:.0}), {:.0} ({:.0}); the ratios below \
                 use the better of the two",
                before.shape,
                after.train,
                after.train_cpu,
                after.score,
                after.score_cpu,
                before.train,
                before.train_cpu,
                before.score,
                before.score_cpu
            );
            Ours {
                shape: before.shape,
                train: before.train.max(after.train),
                train_cpu: before.train_cpu.max(after.train_cpu),
                score: before.score.max(after.score),
                score_cpu: before.score_cpu.max(after.score_cpu),
            }
        })
        .collect();
    let mut versions: Vec<&str> = rows.iter().map(|r| r.version.as_str()).collect();
    versions.sort();
    versions.dedup();
    for o in &ours {
        let shape = o.shape.to_string();
        let here: Vec<&TorchRow> = rows.iter().filter(|r| r.shape == shape).collect();
        println!(
            "\n{shape}: ours (FastCnn) train {:.0} images/s ({:.0}/CPU-s), score {:.0} images/s \
             ({:.0}/CPU-s); ratio ours / PyTorch, wall clock (per CPU-second):",
            o.train, o.train_cpu, o.score, o.score_cpu
        );
        for r in &here {
            println!(
                "  {:>9} {:<60} train {:5.2}x ({:5.2}x)  score {:5.2}x ({:5.2}x)",
                r.version,
                r.setting,
                o.train / r.train,
                o.train_cpu / r.train_cpu,
                o.score / r.score,
                o.score_cpu / r.score_cpu
            );
        }
        let best = |rs: &[&TorchRow], key: fn(&TorchRow) -> f64| -> Option<(f64, String)> {
            rs.iter()
                .max_by(|a, b| key(a).total_cmp(&key(b)))
                .map(|r| (key(r), format!("{} {}", r.version, r.setting)))
        };
        let mut groups: Vec<(String, Vec<&TorchRow>)> = versions
            .iter()
            .map(|v| {
                (
                    format!("PyTorch {v}"),
                    here.iter().copied().filter(|r| r.version == *v).collect(),
                )
            })
            .collect();
        if versions.len() > 1 {
            groups.push(("any PyTorch".into(), here.clone()));
        }
        for (name, rs) in groups {
            let (Some((bt, bt_at)), Some((bs, bs_at))) =
                (best(&rs, |r| r.train), best(&rs, |r| r.score))
            else {
                continue;
            };
            println!(
                "  ours / best {name}: train {:.2}x ({:.0} vs {bt:.0} images/s: {bt_at}), score \
                 {:.2}x ({:.0} vs {bs:.0} images/s: {bs_at})",
                o.train / bt,
                o.train,
                o.score / bs,
                o.score,
            );
            if let (Some((ct, ct_at)), Some((cs, cs_at))) =
                (best(&rs, |r| r.train_cpu), best(&rs, |r| r.score_cpu))
            {
                println!(
                    "  ours / best {name} per CPU-second: train {:.2}x ({:.0} vs {ct:.0}: \
                     {ct_at}), score {:.2}x ({:.0} vs {cs:.0}: {cs_at})",
                    o.train_cpu / ct,
                    o.train_cpu,
                    o.score_cpu / cs,
                    o.score_cpu,
                );
            }
        }
    }
    println!(
        "\nissue 16's targets: ours >= 3.0x the best PyTorch 2.x (training and scoring), training \
         >= 60% of the measured peak ({peak:.0} GFLOP/s here)"
    );
}
