//! The memory an embedding cache costs when it is opened, for the README's cache paragraph:
//!
//! - `cache_rss write DIR ROWS DIM`: a synthetic set of ROWS tiny grey images, embedded by a
//!   fake backbone into DIM values each, stored in the cache in DIR (a miss).
//! - `cache_rss open DIR ROWS DIM`: the same set's embeddings read back from the cache (a hit),
//!   the head's standardised features built on them and every row scored by a linear head, as
//!   a run does; prints the process's peak and current memory (`/proc/self/status`: VmHWM,
//!   RssAnon = heap and other private memory, RssFile = pages of mapped files, which the
//!   kernel shares with its page cache and may drop at any time).
//!
//! `cargo build --release --example cache_rss`, then e.g.
//! `/usr/bin/time -v target/release/examples/cache_rss open /tmp/c 50000 1280`.

use std::sync::Arc;
use std::time::Instant;

use itlm_inspector::data::{Dataset, ImageShape, Source};
use itlm_inspector::itlm::Learner;
use itlm_inspector::learner::backbone::{Backbone, BackboneKind, ImageBatch, InputSpec, Outputs};
use itlm_inspector::learner::{Features, Head, HeadKind, LearnerConfig};
use itlm_inspector::session::embed_cache::EmbedCache;

/// A backbone whose DIM values are a fixed function of each image's mean.
struct Fake {
    input: InputSpec,
    dim: usize,
}

impl Backbone for Fake {
    fn kind(&self) -> BackboneKind {
        BackboneKind::EfficientNetLite0
    }
    fn input(&self) -> &InputSpec {
        &self.input
    }
    fn embedding_dim(&self) -> usize {
        self.dim
    }
    fn num_classes(&self) -> Option<usize> {
        None
    }
    fn engine_name(&self) -> String {
        "fake".into()
    }
    fn forward(&self, batch: &ImageBatch, _: bool) -> itlm_inspector::error::Result<Outputs> {
        let px = batch.height * batch.width * 3;
        let mut e = Vec::with_capacity(batch.n * self.dim);
        for img in batch.pixels.chunks_exact(px) {
            let mean = img.iter().sum::<f32>() / px as f32;
            e.extend((0..self.dim).map(|j| (mean * 3.0 + j as f32 * 0.37).sin()));
        }
        Ok(Outputs {
            embeddings: e,
            logits: None,
        })
    }
}

/// ROWS 2x2 grey images, 10 classes.
fn dataset(rows: usize) -> anyhow::Result<Dataset> {
    let shape = ImageShape::new(2, 2, 1);
    let pixels: Vec<u8> = (0..rows * 4)
        .map(|i| ((i / 4) as u32).wrapping_mul(2654435761).to_le_bytes()[i % 4])
        .collect();
    Ok(Dataset::from_parts(
        "synthetic",
        Source::Memory,
        (0..10).map(|c| c.to_string()).collect(),
        shape,
        pixels,
        (0..rows).map(|i| (i % 10) as u32).collect(),
        (0..rows).map(|i| i.to_string()).collect(),
    )?)
}

fn status() -> String {
    let s = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    s.lines()
        .filter(|l| {
            ["VmHWM", "RssAnon", "RssFile"]
                .iter()
                .any(|k| l.starts_with(k))
        })
        .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
        .collect::<Vec<_>>()
        .join(", ")
}

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let [_, phase, dir, rows, dim] = args.as_slice() else {
        anyhow::bail!("usage: cache_rss write|open DIR ROWS DIM");
    };
    let (rows, dim): (usize, usize) = (rows.parse()?, dim.parse()?);
    let data = dataset(rows)?;
    let fake = Fake {
        input: BackboneKind::EfficientNetLite0.input_spec(Some(32))?,
        dim,
    };
    let cache = EmbedCache::new(dir);
    let t = Instant::now();
    let c = cache.embeddings(&data, &fake, "synthetic", &mut |_, _| Ok(()))?;
    println!(
        "{phase}: {} x {} ({} MB) {} in {:.2} s from {}; {}",
        c.matrix.rows,
        c.matrix.dim,
        c.matrix.rows * c.matrix.dim * 4 / 1_000_000,
        if c.hit { "read (hit)" } else { "computed" },
        t.elapsed().as_secs_f64(),
        c.path.display(),
        status()
    );
    if phase == "open" {
        anyhow::ensure!(c.hit, "the cache was not hit: run `write` first");
        let t = Instant::now();
        let f = Features::new(&data, c.matrix)?;
        let mut head = Head::new(
            LearnerConfig::default(),
            HeadKind::Linear,
            Arc::new(f),
            10,
            candle_core::Device::Cpu,
        )?;
        let all: Vec<usize> = (0..rows).collect();
        let s = head.score(&data, &all, &mut |_| Ok(()))?;
        println!(
            "features + scoring {} rows in {:.2} s (mean loss {:.3}); {}",
            s.loss.len(),
            t.elapsed().as_secs_f64(),
            s.loss.iter().sum::<f32>() / s.loss.len().max(1) as f32,
            status()
        );
    }
    Ok(())
}
