//! EfficientNet-Lite0 tools for the comparisons with PyTorch in `scripts/`:
//!
//! - `lite0 dump WEIGHTS OUT_DIR IMAGE...`: for resolutions 224 and 112, writes the preprocessed
//!   inputs (`inputs_R.npy`, N x R x R x 3) and both engines' logits and embeddings
//!   (`logits_fast_R.npy`, `emb_candle_R.npy`, ...) for `scripts/lite0_reference.py`.
//! - `lite0 bench WEIGHTS RES BATCH SECS [ENGINES]`: embedding throughput in images/s on random
//!   inputs, one line per engine (`fast`, `candle`; default both): `engine res batch img_per_s`.

use std::path::{Path, PathBuf};
use std::time::Instant;

use itlm_inspector::learner::backbone::{
    self, preprocess, BackboneConfig, BackboneKind, Engine, ImageBatch, Weights,
};

const LITE0: BackboneKind = BackboneKind::EfficientNetLite0;

/// Writes a little-endian f32 array as a version 1.0 .npy file.
fn write_npy(path: &Path, shape: &[usize], values: &[f32]) -> std::io::Result<()> {
    let dims: Vec<String> = shape.iter().map(|d| d.to_string()).collect();
    let tuple = if dims.len() == 1 {
        format!("({},)", dims[0])
    } else {
        format!("({})", dims.join(", "))
    };
    let mut header = format!("{{'descr': '<f4', 'fortran_order': False, 'shape': {tuple}, }}");
    // Magic (6) + version (2) + length (2) + header, padded with spaces to 64 bytes, then \n.
    while (10 + header.len() + 1) % 64 != 0 {
        header.push(' ');
    }
    header.push('\n');
    let mut out = Vec::with_capacity(10 + header.len() + values.len() * 4);
    out.extend_from_slice(b"\x93NUMPY\x01\x00");
    out.extend_from_slice(&(header.len() as u16).to_le_bytes());
    out.extend_from_slice(header.as_bytes());
    for v in values {
        out.extend_from_slice(&v.to_le_bytes());
    }
    std::fs::write(path, out)
}

fn engines(arg: Option<&String>) -> Vec<(Engine, &'static str)> {
    let all = [(Engine::Fast, "fast"), (Engine::Candle, "candle")];
    match arg {
        None => all.to_vec(),
        Some(list) => all
            .into_iter()
            .filter(|(_, n)| list.split(',').any(|x| x == *n))
            .collect(),
    }
}

fn dump(weights: &Path, out: &Path, images: &[PathBuf]) -> anyhow::Result<()> {
    std::fs::create_dir_all(out)?;
    let w = Weights::load(weights)?;
    for res in [224, 112] {
        let mut inputs = Vec::new();
        for (engine, name) in engines(None) {
            let cfg = BackboneConfig {
                resolution: Some(res),
                engine,
                ..Default::default()
            };
            let net = backbone::from_weights(LITE0, &w, &cfg)?;
            if inputs.is_empty() {
                for p in images {
                    inputs.push(preprocess::preprocess_file(p, net.input())?);
                }
                let batch = ImageBatch::from_images(res, res, &inputs)?;
                write_npy(
                    &out.join(format!("inputs_{res}.npy")),
                    &[images.len(), res, res, 3],
                    &batch.pixels,
                )?;
            }
            let batch = ImageBatch::from_images(res, res, &inputs)?;
            let o = net.forward(&batch, true)?;
            let logits = o.logits.unwrap_or_default();
            write_npy(
                &out.join(format!("logits_{name}_{res}.npy")),
                &[images.len(), 1000],
                &logits,
            )?;
            write_npy(
                &out.join(format!("emb_{name}_{res}.npy")),
                &[images.len(), 1280],
                &o.embeddings,
            )?;
        }
    }
    Ok(())
}

fn bench(
    weights: &Path,
    res: usize,
    batch: usize,
    secs: f64,
    which: Option<&String>,
) -> anyhow::Result<()> {
    let w = Weights::load(weights)?;
    let mut rng = itlm_inspector::rng::Rng::new(1);
    let b = ImageBatch {
        n: batch,
        height: res,
        width: res,
        pixels: (0..batch * res * res * 3).map(|_| rng.normal()).collect(),
    };
    for (engine, name) in engines(which) {
        let cfg = BackboneConfig {
            resolution: Some(res),
            engine,
            ..Default::default()
        };
        let net = backbone::from_weights(LITE0, &w, &cfg)?;
        net.embed(&b)?; // warm-up
        let start = Instant::now();
        let mut images = 0;
        while images == 0 || start.elapsed().as_secs_f64() < secs {
            std::hint::black_box(net.embed(&b)?);
            images += batch;
        }
        let rate = images as f64 / start.elapsed().as_secs_f64();
        println!("{name} {res} {batch} {rate:.2}");
    }
    Ok(())
}

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("dump") if args.len() >= 4 => {
            let images: Vec<PathBuf> = args[3..].iter().map(PathBuf::from).collect();
            dump(Path::new(&args[1]), Path::new(&args[2]), &images)
        }
        Some("bench") if args.len() >= 5 => bench(
            Path::new(&args[1]),
            args[2].parse()?,
            args[3].parse()?,
            args[4].parse()?,
            args.get(5),
        ),
        _ => anyhow::bail!(
            "usage: lite0 dump WEIGHTS OUT_DIR IMAGE... | lite0 bench WEIGHTS RES BATCH SECS [fast,candle]"
        ),
    }
}
