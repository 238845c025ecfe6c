//! `itlm-inspector bench --only scale`: the figures of the scale target (issue 16) on a
//! synthetic set generated here, in memory: N x 28x28 u8 images of a few classes of noisy
//! patterns (seeded). Generation rate, resident memory against the raw u8 size, what the
//! per-round records cost in memory and in the run file (N x 10 rounds, written to a temporary
//! folder), run-file write and open times, a re-cut at a new tau, one ITLM round of a linear
//! head on synthetic embeddings, and one CNN round (1 epoch + scoring) at up to 100k images.
//! With `--scratch DIR`, also the first 100k images as an IDX pair and a PNG folder there (the
//! folder's load rate is measured) and a 100k run file over the IDX pair for the window.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use rayon::prelude::*;

use super::bench::{peak_rss_mib, rss_mib};
use crate::data::{self, Dataset, ImageShape, LoadOptions, Source};
use crate::error::{Error, Result};
use crate::export::{write_atomic, DatasetInfo, Overwrite, RunFile, RunStatus};
use crate::itlm::{
    self, select, Config, Learner, Quiet, RoundMetrics, RoundRecord, Selection, Start, TauSchedule,
};
use crate::learner::{self, FeatureMatrix, Features, Head, HeadKind, LearnerConfig};
use crate::rng::Rng;

const CLASSES: usize = 10;
const SIDE: usize = 28;
/// The training parts (CNN, embeddings at width 1280) run on at most this many samples.
const TRAIN_N: usize = 100_000;

fn mib(bytes: usize) -> f64 {
    bytes as f64 / 1048576.0
}

/// `n` noisy 28x28 patterns of 10 classes (stripes at 5 angles and 2 frequencies, a phase
/// per class with a little jitter, Gaussian-ish noise), labels `i % 10`, ids "s0000123". Seeded: the same `n` and
/// `seed` give the same set.
pub fn synthetic(n: usize, seed: u64) -> Result<Dataset> {
    let px = SIDE * SIDE;
    let mut pixels = vec![0u8; n * px];
    pixels
        .par_chunks_mut(px * 1024)
        .enumerate()
        .for_each(|(chunk, block)| {
            let mut rng = Rng::derive(seed, chunk as u64);
            for (j, img) in block.chunks_exact_mut(px).enumerate() {
                let c = (chunk * 1024 + j) % CLASSES;
                let angle = (c % 5) as f32 * std::f32::consts::PI / 5.0;
                let freq = if c < 5 { 0.35 } else { 0.7 };
                let (s, co) = angle.sin_cos();
                let phase = c as f32 + rng.next_f32() * 0.5;
                for (k, p) in img.iter_mut().enumerate() {
                    let (y, x) = ((k / SIDE) as f32, (k % SIDE) as f32);
                    let v = ((x * co + y * s) * freq + phase).sin() * 80.0 + 128.0;
                    let noise = (rng.next_f32() - 0.5) * 120.0;
                    *p = (v + noise).clamp(0.0, 255.0) as u8;
                }
            }
        });
    let labels: Vec<u32> = (0..n).map(|i| (i % CLASSES) as u32).collect();
    let ids: Vec<String> = (0..n).map(|i| format!("s{i:07}")).collect();
    Dataset::from_parts(
        format!("synthetic-{n}"),
        Source::Memory,
        (0..CLASSES).map(|c| format!("c{c}")).collect(),
        ImageShape::new(SIDE, SIDE, 1),
        pixels,
        labels,
        ids,
    )
}

/// Bytes one round's record holds per sample in memory for `classes` classes (loss, score,
/// prediction, p(given), class probabilities, kept; `relabelled` adds 8 in a relabelling
/// round): from the field types.
pub fn record_bytes_per_sample(classes: usize) -> usize {
    4 + 4 + 4 + 4 + 4 * classes + std::mem::size_of::<bool>()
}

/// `rounds` synthetic round records over `d`: scores, predictions and probabilities drawn
/// from `seed`, each round's selection made at tau 0.8 per class.
fn records(d: &Dataset, rounds: usize, seed: u64) -> Vec<Arc<RoundRecord>> {
    let n = d.len();
    (0..rounds)
        .map(|r| {
            let mut rng = Rng::derive(seed, r as u64);
            let loss: Vec<f32> = (0..n).map(|_| rng.next_f32() * 3.0).collect();
            let predicted: Vec<u32> = (0..n).map(|_| rng.below(CLASSES) as u32).collect();
            let probs: Vec<f32> = (0..n * CLASSES).map(|_| rng.next_f32() * 0.2).collect();
            let p_given: Vec<f32> = loss.iter().map(|l| (-l).exp()).collect();
            let kept = select::select(Selection::PerClass, &loss, d.labels(), CLASSES, 0.8);
            Arc::new(RoundRecord {
                round: r,
                epochs: 1.0,
                trained_on: n,
                tau: 0.8,
                score: loss.clone(),
                loss,
                predicted,
                p_given,
                probs,
                kept,
                relabelled: Vec::new(),
                held_out: Vec::new(),
                clusters: None,
                spectral: Vec::new(),
                transition: Vec::new(),
                metrics: RoundMetrics::default(),
                generated: None,
                train_secs: 0.0,
                score_secs: 0.0,
            })
        })
        .collect()
}

fn run_file(d: &Dataset, rounds: Vec<Arc<RoundRecord>>) -> RunFile {
    RunFile {
        config: Config {
            rounds: rounds.len().saturating_sub(1),
            ..Default::default()
        },
        learner: LearnerConfig::default(),
        learner_description: "synthetic records (bench --only scale)".into(),
        dataset: DatasetInfo::of(d),
        truth: None,
        rounds,
        status: RunStatus::Finished,
        verdict: None,
        elapsed_secs: 0.0,
    }
}

/// Write `run` to `path` and read it back: (bytes on disk, write s, open s).
fn write_and_open(run: &RunFile, path: &Path) -> Result<(u64, f64, f64)> {
    let t = Instant::now();
    let bytes = run.to_bytes()?;
    write_atomic(path, &bytes, Overwrite::Allow)?;
    let write = t.elapsed().as_secs_f64();
    drop(bytes);
    let size = std::fs::metadata(path)
        .map_err(|e| Error::io(path, e))?
        .len();
    let t = Instant::now();
    let back = RunFile::read(path)?;
    let open = t.elapsed().as_secs_f64();
    if back.rounds.len() != run.rounds.len() || back.dataset.len() != run.dataset.len() {
        return Err(Error::data(path, "the run file read back differs"));
    }
    Ok((size, write, open))
}

/// A scratch folder of ours: `given` (refused when it exists), else a temporary one.
fn folder(given: Option<&Path>, what: &str) -> Result<PathBuf> {
    let root = match given {
        Some(p) => p.to_path_buf(),
        None => std::env::temp_dir().join(format!("itlm-{what}-{}", std::process::id())),
    };
    if root.exists() {
        return Err(Error::data(
            &root,
            "scratch folder exists; remove it or name another",
        ));
    }
    std::fs::create_dir_all(&root).map_err(|e| Error::io(&root, e))?;
    Ok(root)
}

pub fn scale(n: usize, scratch: Option<&Path>) -> Result<()> {
    if n < 1000 {
        return Err(Error::Config(format!(
            "--scale-n {n}: give at least 1000 samples"
        )));
    }
    println!(
        "scale: {n} synthetic 28x28 images, 10 classes (uptime: {})",
        uptime()
    );
    let rss0 = rss_mib().unwrap_or(0.0);
    let t = Instant::now();
    let d = synthetic(n, 16)?;
    let s = t.elapsed().as_secs_f64();
    let rss1 = rss_mib().unwrap_or(0.0);
    let raw = mib(d.pixel_bytes());
    println!(
        "generate {n} images in memory: {s:.2} s = {:.0} images/s; pixels {raw:.0} MiB (raw u8), \
         resident memory grew {:.0} MiB = {:.2}x the raw u8 (pixels + labels + ids); peak {:.0} MiB",
        n as f64 / s,
        rss1 - rss0,
        (rss1 - rss0) / raw,
        peak_rss_mib().unwrap_or(0.0)
    );

    // Records: from the types, then measured.
    let per = record_bytes_per_sample(CLASSES);
    println!(
        "one round's record in memory: {per} bytes per sample (loss f32, score f32, predicted u32, \
         p(given) f32, 10 class probabilities f32 = 40, kept bool; +8 for a relabelling round) = \
         {:.0} MiB at {n}; 10 rounds {:.0} MiB",
        mib(per * n),
        mib(per * n * 10)
    );
    let rss2 = rss_mib().unwrap_or(0.0);
    let recs = records(&d, 10, 7);
    let rss3 = rss_mib().unwrap_or(0.0);
    println!(
        "10 synthetic records at {n}: resident memory grew {:.0} MiB ({:.1} bytes per sample per round); \
         peak so far {:.0} MiB = {:.2}x (raw u8 + 10 records)",
        rss3 - rss2,
        (rss3 - rss2) * 1048576.0 / (n as f64 * 10.0),
        peak_rss_mib().unwrap_or(0.0),
        (peak_rss_mib().unwrap_or(0.0) - rss0) / (raw + mib(per * n * 10))
    );

    // Re-cut on the last round's scores.
    let last = Arc::clone(&recs[recs.len() - 1]);
    let reps = 10;
    let t = Instant::now();
    let mut kept = 0;
    for r in 0..reps {
        let tau = 0.6 + 0.3 * r as f64 / reps as f64;
        kept += select::select(Selection::PerClass, &last.score, d.labels(), CLASSES, tau)
            .iter()
            .filter(|&&k| k)
            .count();
    }
    std::hint::black_box(kept);
    println!(
        "re-cut of {n} scores at a new tau (itlm::select, per class): {:.1} ms",
        t.elapsed().as_secs_f64() * 1e3 / reps as f64
    );

    // The run file at N x 10 rounds, and at 100k x 10.
    let tmp = folder(None, "bench-scale")?;
    let result = (|| -> Result<()> {
        for m in [n.min(TRAIN_N), n] {
            let sub;
            let (dd, rr) = if m == n {
                (&d, recs.clone())
            } else {
                sub = d.subset(&(0..m).collect::<Vec<_>>());
                (&sub, records(&sub, 10, 7))
            };
            let run = run_file(dd, rr);
            let (size, w, o) = write_and_open(&run, &tmp.join(format!("run-{m}.itlm")))?;
            println!(
                "run file, {m} samples x 10 rounds: {:.0} MiB on disk ({:.1} bytes per sample per round, \
                 ids and labels included); write {w:.2} s, open {o:.2} s",
                mib(size as usize),
                size as f64 / (m as f64 * 10.0)
            );
            if m == n {
                break;
            }
        }
        Ok(())
    })();
    let _ = std::fs::remove_dir_all(&tmp);
    result?;
    drop(recs);
    drop(last);

    if let Some(root) = scratch {
        scratch_sets(&d, root)?;
    }
    embedding_rounds(n)?;
    cnn_round(&d)?;
    println!(
        "peak resident memory of the scale part: {:.0} MiB",
        peak_rss_mib().unwrap_or(0.0)
    );
    Ok(())
}

fn uptime() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| {
            let f: Vec<&str> = s.split_whitespace().take(3).collect();
            format!("load average {}", f.join(", "))
        })
        .unwrap_or_else(|_| "load unknown".into())
}

/// The first 100k images as an IDX pair (`DIR/idx`) and a PNG folder (`DIR/png`, its load
/// rate measured), and a 10-round synthetic run file over the IDX pair (`DIR/run-100k.itlm`)
/// for the window.
fn scratch_sets(d: &Dataset, root: &Path) -> Result<()> {
    let root = folder(Some(root), "")?;
    let m = d.len().min(TRAIN_N);
    let sub = d.subset(&(0..m).collect::<Vec<_>>());
    let idx = root.join("idx");
    std::fs::create_dir_all(&idx).map_err(|e| Error::io(&idx, e))?;
    let encode = |dims: &[usize], data: &[u8]| data::idx::encode(dims, data).map_err(Error::Config);
    let images = encode(&[m, SIDE, SIDE], sub.pixels())?;
    write_atomic(
        &idx.join("train-images-idx3-ubyte"),
        &images,
        Overwrite::Refuse,
    )?;
    let labels: Vec<u8> = sub.labels().iter().map(|&l| l as u8).collect();
    write_atomic(
        &idx.join("train-labels-idx1-ubyte"),
        &encode(&[m], &labels)?,
        Overwrite::Refuse,
    )?;
    let loaded = data::load(&idx, &LoadOptions::default())?.train;
    let run = run_file(&loaded, records(&loaded, 10, 7));
    let path = root.join("run-100k.itlm");
    let (size, w, o) = write_and_open(&run, &path)?;
    println!(
        "wrote {} (IDX pair in {}, {:.0} MiB; write {w:.2} s, open {o:.2} s)",
        path.display(),
        idx.display(),
        mib(size as usize)
    );

    let png = root.join("png");
    let t = Instant::now();
    let named = Dataset::from_parts(
        "png",
        Source::Memory,
        sub.classes.clone(),
        sub.shape,
        sub.pixels().to_vec(),
        sub.labels().to_vec(),
        sub.ids().to_vec(),
    )?;
    super::bench::write_pngs(&named, &png)?;
    println!("wrote {m} PNGs in {:.1} s", t.elapsed().as_secs_f64());
    let before = rss_mib().unwrap_or(0.0);
    let t = Instant::now();
    let back = data::image_folder::load(&png, &LoadOptions::default())?;
    let s = t.elapsed().as_secs_f64();
    let after = rss_mib().unwrap_or(0.0);
    println!(
        "image-folder load of {} PNGs: {s:.2} s = {:.0} images/s; resident memory grew {:.0} MiB \
         = {:.2}x the raw u8 ({:.0} MiB)",
        back.len(),
        back.len() as f64 / s,
        after - before,
        (after - before) / mib(back.pixel_bytes()),
        mib(back.pixel_bytes())
    );
    Ok(())
}

/// `rows` synthetic `dim`-d embeddings of 10 classes (Gaussian around seeded class centres,
/// labels `i % 10`) and the dataset they stand for.
pub fn synthetic_embeddings(rows: usize, dim: usize) -> Result<(Dataset, FeatureMatrix)> {
    let mut rng = Rng::new(3);
    let centres: Vec<f32> = (0..CLASSES * dim).map(|_| rng.normal() * 0.05).collect();
    let mut values = vec![0f32; rows * dim];
    values
        .par_chunks_mut(dim * 4096)
        .enumerate()
        .for_each(|(chunk, block)| {
            let mut rng = Rng::derive(4, chunk as u64);
            for (j, row) in block.chunks_exact_mut(dim).enumerate() {
                let c = (chunk * 4096 + j) % CLASSES;
                for (v, m) in row.iter_mut().zip(&centres[c * dim..]) {
                    *v = m + rng.normal();
                }
            }
        });
    let d = Dataset::from_parts(
        format!("emb-{rows}"),
        Source::Memory,
        (0..CLASSES).map(|c| format!("c{c}")).collect(),
        ImageShape::new(1, 1, 1),
        vec![0; rows],
        (0..rows).map(|i| (i % CLASSES) as u32).collect(),
        (0..rows).map(|i| format!("e{i}")).collect(),
    )?;
    let m = FeatureMatrix::new(rows, dim, values)?;
    Ok((d, m))
}

/// One ITLM round of a fresh `kind` head (batch 128) on `d`'s embeddings `f`: round 1 trains
/// 5 epochs on the kept 70% and scores all. Returns round 1's record.
pub fn head_round(d: &Dataset, f: Arc<Features>, kind: HeadKind) -> Result<Arc<RoundRecord>> {
    let cfg = LearnerConfig {
        batch_size: 128,
        ..Default::default()
    };
    let mut h = Head::new(cfg, kind, f, CLASSES, candle_core::Device::Cpu)?;
    let c = Config {
        tau: 0.7,
        rounds: 1,
        epochs: 5.0,
        final_epochs: 5,
        schedule: TauSchedule::Constant,
        ..Default::default()
    };
    let mut hist = Vec::new();
    itlm::run(
        &mut h,
        itlm::Inputs::new(d),
        &c,
        Start::Fresh,
        &mut hist,
        &mut Quiet,
    )?;
    hist.get(1)
        .cloned()
        .ok_or_else(|| Error::Other("the head run ended before round 1".into()))
}

/// One ITLM round ([`head_round`]) of a linear head on synthetic embeddings: 100k x 1280 and
/// N x 64.
fn embedding_rounds(n: usize) -> Result<()> {
    for (rows, dim) in [(n.min(TRAIN_N), 1280usize), (n, 64)] {
        let (d, m) = synthetic_embeddings(rows, dim)?;
        let f = Features::new(&d, m)?;
        let r = head_round(&d, Arc::new(f), HeadKind::Linear)?;
        println!(
            "ITLM round, linear head on {rows} x {dim} embeddings: train 5 epochs on {} in {:.2} s + \
             score {rows} in {:.2} s = {:.2} s",
            r.trained_on,
            r.train_secs,
            r.score_secs,
            r.train_secs + r.score_secs
        );
    }
    Ok(())
}

/// One CNN round on the first 100k images: 1 epoch of training and scoring all.
fn cnn_round(d: &Dataset) -> Result<()> {
    let m = d.len().min(TRAIN_N);
    let sub = d.subset(&(0..m).collect::<Vec<_>>());
    let idx: Vec<usize> = (0..m).collect();
    let mut l: Box<dyn Learner> = learner::build(&LearnerConfig::default(), &sub)?;
    l.reset(1)?;
    let t = Instant::now();
    l.train(&sub, &idx, 1.0, 1, &mut |_| Ok(()))?;
    let tr = t.elapsed().as_secs_f64();
    let t = Instant::now();
    l.score(&sub, &idx, &mut |_| Ok(()))?;
    let sc = t.elapsed().as_secs_f64();
    println!(
        "CNN round on {m} images: train 1 epoch {tr:.1} s ({:.0} images/s) + score {sc:.1} s \
         ({:.0} images/s) = {:.1} s",
        m as f64 / tr,
        m as f64 / sc,
        tr + sc
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn synthetic_set_is_seeded_and_its_classes_differ() {
        let a = synthetic(2000, 1).unwrap();
        let b = synthetic(2000, 1).unwrap();
        assert_eq!(a.pixels(), b.pixels());
        assert_ne!(a.pixels(), synthetic(2000, 2).unwrap().pixels());
        // Mean image of class 0 and class 5 differ (distinct patterns, not just noise).
        let mean = |c: u32| {
            let idx: Vec<usize> = (0..a.len()).filter(|&i| a.label(i) == c).collect();
            let mut m = vec![0f64; SIDE * SIDE];
            for &i in &idx {
                for (s, &p) in m.iter_mut().zip(a.image(i)) {
                    *s += p as f64 / idx.len() as f64;
                }
            }
            m
        };
        let (m0, m5) = (mean(0), mean(5));
        let dist: f64 =
            m0.iter().zip(&m5).map(|(x, y)| (x - y).abs()).sum::<f64>() / m0.len() as f64;
        assert!(dist > 1.0, "{dist}");
    }
}
