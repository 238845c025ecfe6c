//! `itlm-inspector bench`: the figures the performance targets are stated in, measured on this
//! machine: CNN training and scoring rates on real images, one full ITLM round on 20000
//! Fashion-MNIST images, the image-folder load rate on 60000 PNGs, re-trim (selection) time for
//! 60000 and 1,000,000 losses, and the peak memory of a 60000-image run.
//! (Stock candle vs fused kernels, and PyTorch, are compared by `cargo bench --bench throughput`
//! and `benches/pytorch_compare.py`.)

use std::path::{Path, PathBuf};
use std::time::Instant;

use clap::Args;

use crate::data::{self, Dataset, LoadOptions};
use crate::error::{Error, Result};
use crate::itlm::{self, select, Config, Learner, Quiet, Selection, Start, TauSchedule};
use crate::learner::{self, LearnerConfig};
use crate::rng::Rng;

#[derive(Args, Debug, Clone)]
pub struct BenchArgs {
    /// IDX directory with Fashion-MNIST (train + t10k).
    #[arg(long, default_value = "/usr/share/datasets/fashion-mnist")]
    pub data: PathBuf,
    /// Comma-separated parts: train,score,round,load,select,memory (the default), scale (the
    /// 100k-1M figures, opt-in), job (the whole job against the cleanlab pipeline, opt-in:
    /// minutes), gpu (a `cuda` build on an NVIDIA GPU: the CNN, a round and Lite0 there, against
    /// PyTorch on the same card, opt-in); other names are refused.
    #[arg(long, default_value = "train,score,round,load,select,memory")]
    pub only: String,
    /// Scratch folder for the PNG load test (default: a temporary folder, removed after); for
    /// `scale`, where the 100k IDX pair, PNG folder and run file are left (default: none); for
    /// `job`, where the noisy copy and our run's files are left (default: a temporary folder).
    #[arg(long)]
    pub scratch: Option<PathBuf>,
    /// Samples of the synthetic set of the `scale` part (`--only scale`; not in the default
    /// parts: it takes minutes). The training parts use at most 100000 of them.
    #[arg(long, default_value_t = 1_000_000)]
    pub scale_n: usize,
    /// Training images of the `job` part's noisy copy (`--only job`).
    #[arg(long, default_value_t = 20_000)]
    pub job_n: usize,
    /// EfficientNet-Lite0 weights for the `gpu` part's Lite0 rows (default: the installed ones).
    #[arg(long)]
    pub weights: Option<PathBuf>,
}

/// Peak resident memory of this process (VmHWM), in MiB (Linux).
pub fn peak_rss_mib() -> Option<f64> {
    let s = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = s.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024.0)
}

/// Current resident memory (VmRSS), in MiB (Linux).
pub fn rss_mib() -> Option<f64> {
    let s = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = s.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024.0)
}

pub(super) fn fashion(path: &Path) -> Result<(Dataset, Option<Dataset>)> {
    let l = data::load(path, &LoadOptions::default())?;
    Ok((l.train, l.test))
}

fn cnn(d: &Dataset) -> Result<Box<dyn Learner>> {
    learner::build(&LearnerConfig::default(), d)
}

/// The parts `bench` measures, in the order `--only` lists them.
pub const PARTS: [&str; 9] = [
    "train", "score", "round", "load", "select", "memory", "scale", "job", "gpu",
];

/// The parts named by `--only`: unknown names and an empty list are refused with the valid
/// names.
fn chosen_parts(only: &str) -> Result<Vec<&str>> {
    let parts: Vec<&str> = only
        .split(',')
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .collect();
    let valid = PARTS.join(", ");
    if let Some(bad) = parts.iter().find(|p| !PARTS.contains(p)) {
        return Err(Error::Config(format!(
            "--only: no part named '{bad}'; the parts are {valid}"
        )));
    }
    if parts.is_empty() {
        return Err(Error::Config(format!(
            "--only names no part; the parts are {valid}"
        )));
    }
    Ok(parts)
}

pub fn run(a: &BenchArgs) -> Result<()> {
    let parts = chosen_parts(&a.only)?;
    let want = |p: &str| parts.contains(&p);
    println!(
        "itlm-inspector bench: {} threads, CNN batch {}",
        rayon::current_num_threads(),
        LearnerConfig::default().batch_size
    );
    if want("memory") {
        // First, so that the peak is this part's own.
        memory(&a.data)?;
    }
    if want("train") || want("score") || want("round") {
        let (train, _) = fashion(&a.data)?;
        let sub = train.limit(20000, 0);
        let idx: Vec<usize> = (0..sub.len()).collect();
        let mut l = cnn(&sub)?;
        l.reset(1)?;
        if want("train") {
            let t = Instant::now();
            l.train(&sub, &idx, 1.0, 1, &mut |_| Ok(()))?;
            let s = t.elapsed().as_secs_f64();
            println!(
                "CNN training, 1 epoch of 20000 Fashion-MNIST images: {s:.2} s = {:.0} images/s",
                sub.len() as f64 / s
            );
        }
        if want("score") {
            let t = Instant::now();
            l.score(&sub, &idx, &mut |_| Ok(()))?;
            let s = t.elapsed().as_secs_f64();
            println!("CNN scoring (forward + per-sample loss) of 20000 images: {s:.2} s = {:.0} images/s", sub.len() as f64 / s);
        }
        if want("round") {
            round(l.as_mut(), &sub)?;
        }
    }
    if want("select") {
        selection();
    }
    if want("load") {
        load_rate(&a.data, a.scratch.as_deref())?;
    }
    if want("scale") {
        super::bench_scale::scale(a.scale_n, a.scratch.as_deref())?;
    }
    if want("job") {
        super::bench_job::job(&a.data, a.job_n, a.scratch.as_deref())?;
    }
    if want("gpu") {
        super::bench_gpu::gpu(&a.data, a.weights.as_deref())?;
    }
    Ok(())
}

/// One ITLM round on `sub` (round 0 + a round on the kept 70%, 3 epochs each), timed.
pub(super) fn round(l: &mut dyn Learner, sub: &Dataset) -> Result<()> {
    let cfg = Config {
        tau: 0.7,
        rounds: 1,
        epochs: 3.0,
        final_epochs: 3,
        select: Selection::PerClass,
        schedule: TauSchedule::Constant,
        ..Default::default()
    };
    let mut hist = Vec::new();
    let t = Instant::now();
    itlm::run(
        l,
        itlm::Inputs::new(sub),
        &cfg,
        Start::Fresh,
        &mut hist,
        &mut Quiet,
    )?;
    let s = t.elapsed().as_secs_f64();
    let r0 = hist
        .first()
        .ok_or_else(|| Error::Config("the round recorded nothing".into()))?;
    println!(
        "one ITLM round on {} images (train 3 epochs + score all + select): {:.2} s (train {:.2} s, score {:.2} s); round 0 + a round on the kept 70%: {s:.2} s",
        sub.len(),
        r0.train_secs + r0.score_secs,
        r0.train_secs,
        r0.score_secs
    );
    Ok(())
}

fn selection() {
    for n in [60_000usize, 1_000_000] {
        let mut rng = Rng::new(5);
        let losses: Vec<f32> = (0..n).map(|_| rng.next_f32() * 5.0).collect();
        let labels: Vec<u32> = (0..n).map(|_| rng.below(10) as u32).collect();
        let reps = if n > 100_000 { 10 } else { 100 };
        for (name, rule) in [
            ("global", Selection::Global),
            ("per-class", Selection::PerClass),
        ] {
            let t = Instant::now();
            let mut kept = 0;
            for r in 0..reps {
                let tau = 0.5 + 0.4 * r as f64 / reps as f64;
                kept += select::select(rule, &losses, &labels, 10, tau).len();
            }
            let ms = t.elapsed().as_secs_f64() * 1e3 / reps as f64;
            std::hint::black_box(kept);
            println!("re-trim {n} losses ({name}): {ms:.2} ms");
        }
    }
}

fn load_rate(data_path: &Path, scratch: Option<&Path>) -> Result<()> {
    let (train, _) = fashion(data_path)?;
    let tmp;
    let root = match scratch {
        Some(p) => p.to_path_buf(),
        None => {
            tmp = std::env::temp_dir().join(format!("itlm-bench-{}", std::process::id()));
            tmp
        }
    };
    if root.exists() {
        return Err(Error::data(
            &root,
            "scratch folder exists; remove it or name another",
        ));
    }
    let t = Instant::now();
    write_pngs(&train, &root)?;
    println!(
        "wrote {} PNGs in {:.1} s",
        train.len(),
        t.elapsed().as_secs_f64()
    );
    let before = rss_mib().unwrap_or(0.0);
    let t = Instant::now();
    let loaded = data::image_folder::load(&root, &LoadOptions::default());
    let s = t.elapsed().as_secs_f64();
    let after = rss_mib().unwrap_or(0.0);
    let pil = pil_reference(&root);
    let _ = std::fs::remove_dir_all(&root);
    let d = loaded?;
    let ours = d.len() as f64 / s;
    println!(
        "image-folder load (decode + convert) of {} PNGs: {s:.2} s = {ours:.0} images/s; pixels {:.1} MiB, resident memory grew {:.1} MiB ({:.2}x the raw u8 size)",
        d.len(),
        d.pixel_bytes() as f64 / 1048576.0,
        after - before,
        (after - before) / (d.pixel_bytes() as f64 / 1048576.0)
    );
    match pil {
        Ok((one, many, line)) => println!(
            "{line}\nload rate ours / PIL: {:.1}x one process, {:.1}x {} processes",
            ours / one,
            ours / many,
            rayon::current_num_threads()
        ),
        Err(why) => println!("PIL reference not run: {why}"),
    }
    Ok(())
}

/// `benches/pil_load.py` on the same folder (when this is a source checkout with python3 and
/// PIL): images/s in one process and in as many processes as we use threads, and its line.
fn pil_reference(root: &Path) -> std::result::Result<(f64, f64, String), String> {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("benches/pil_load.py");
    if !script.is_file() {
        return Err(format!("{} is missing", script.display()));
    }
    let out = std::process::Command::new("/usr/bin/python3")
        .arg(&script)
        .arg(root)
        .args(["--workers", &rayon::current_num_threads().to_string()])
        .output()
        .map_err(|e| format!("/usr/bin/python3: {e}"))?;
    let text = String::from_utf8_lossy(&out.stdout).trim().to_string();
    if !out.status.success() {
        let err = String::from_utf8_lossy(&out.stderr);
        return Err(format!(
            "{} (apt-get install -y python3-pil python3-numpy)",
            err.lines().last().unwrap_or("failed")
        ));
    }
    // "... 1 process N images/s, W processes M images/s"
    let nums: Vec<f64> = text
        .split(" images/s")
        .filter_map(|part| part.split_whitespace().last()?.parse().ok())
        .collect();
    match nums[..] {
        [one, many] => Ok((one, many, text)),
        _ => Err(format!("unexpected output: {text}")),
    }
}

pub(super) fn write_pngs(d: &Dataset, root: &Path) -> Result<()> {
    use rayon::prelude::*;
    for c in &d.classes {
        let dir = root.join(c);
        std::fs::create_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
    }
    (0..d.len()).into_par_iter().try_for_each(|i| {
        let p = root
            .join(&d.classes[d.label(i) as usize])
            .join(format!("{i:05}.png"));
        let img = image::GrayImage::from_raw(
            d.shape.width as u32,
            d.shape.height as u32,
            d.image(i).to_vec(),
        )
        .ok_or_else(|| Error::Other("bad image size".into()))?;
        img.save(&p).map_err(|e| Error::data(&p, e.to_string()))
    })
}

fn memory(data_path: &Path) -> Result<()> {
    let base = peak_rss_mib().unwrap_or(0.0);
    let (train, test) = fashion(data_path)?;
    let cfg = Config {
        tau: 0.7,
        rounds: 1,
        epochs: 1.0,
        final_epochs: 1,
        select: Selection::PerClass,
        schedule: TauSchedule::Constant,
        ..Default::default()
    };
    let mut l = cnn(&train)?;
    let mut hist = Vec::new();
    let t = Instant::now();
    let inputs = itlm::Inputs {
        data: &train,
        eval: itlm::Eval {
            test: test.as_ref(),
            test2: None,
        },
        bad: None,
        true_labels: None,
        pins: None,
    };
    itlm::run(
        l.as_mut(),
        inputs,
        &cfg,
        Start::Fresh,
        &mut hist,
        &mut Quiet,
    )?;
    let peak = peak_rss_mib().unwrap_or(0.0);
    println!(
        "peak memory of a 60000-image run (2 rounds x 1 epoch, test set scored, all records kept): {peak:.0} MiB (process before loading: {base:.0} MiB; images {:.0} MiB; {:.0} s)",
        train.pixel_bytes() as f64 / 1048576.0,
        t.elapsed().as_secs_f64()
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_names_known_parts() {
        assert_eq!(chosen_parts("train, load").unwrap(), ["train", "load"]);
        assert_eq!(chosen_parts(&PARTS.join(",")).unwrap(), PARTS);
        let e = chosen_parts("train,foo").unwrap_err().to_string();
        assert_eq!(
            e,
            "invalid configuration: --only: no part named 'foo'; the parts are train, score, \
             round, load, select, memory, scale, job, gpu"
        );
        assert_eq!(chosen_parts("scale").unwrap(), ["scale"]);
        for empty in ["", " , "] {
            let e = chosen_parts(empty).unwrap_err().to_string();
            assert!(
                e.contains("--only names no part; the parts are train"),
                "{e}"
            );
        }
    }
}
