//! One ITLM round of an embedding head (issue 14's "ITLM round on 20k embeddings < 0.5 s"):
//! round 1 trains 5 epochs on the kept 70% of N synthetic 1280-d embeddings (10 classes,
//! Gaussian around class centres, as `bench --only scale` makes them) and scores all N. Runs
//! the round REPEAT times and prints each one's train and score seconds (the first pays for
//! warming caches and the thread pool).
//!
//! ```sh
//! cargo run --release --example head_round -- [N] [REPEAT] [linear|mlp]
//! ```
use std::sync::Arc;
use std::time::Instant;

use itlm_inspector::data::{Dataset, ImageShape, Source};
use itlm_inspector::itlm::{self, Config, Quiet, Start, TauSchedule};
use itlm_inspector::learner::{FeatureMatrix, Features, Head, HeadKind, LearnerConfig};
use itlm_inspector::rng::Rng;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let rows: usize = args.first().map_or(Ok(20_000), |s| s.parse())?;
    let repeat: usize = args.get(1).map_or(Ok(3), |s| s.parse())?;
    let kind = match args.get(2).map(String::as_str) {
        Some("mlp") => HeadKind::Mlp,
        _ => HeadKind::Linear,
    };
    let (dim, classes) = (1280, 10);
    let mut rng = Rng::new(3);
    let centres: Vec<f32> = (0..classes * dim).map(|_| rng.normal() * 0.05).collect();
    let mut values = vec![0f32; rows * dim];
    for (i, row) in values.chunks_exact_mut(dim).enumerate() {
        let c = i % classes;
        for (v, m) in row.iter_mut().zip(&centres[c * dim..]) {
            *v = m + rng.normal();
        }
    }
    let d = Dataset::from_parts(
        format!("emb-{rows}"),
        Source::Memory,
        (0..classes).map(|c| format!("c{c}")).collect(),
        ImageShape::new(1, 1, 1),
        vec![0; rows],
        (0..rows).map(|i| (i % classes) as u32).collect(),
        (0..rows).map(|i| format!("e{i}")).collect(),
    )?;
    let f = Arc::new(Features::new(&d, FeatureMatrix::new(rows, dim, values)?)?);
    let c = Config {
        tau: 0.7,
        rounds: 1,
        epochs: 5.0,
        final_epochs: 5,
        schedule: TauSchedule::Constant,
        ..Default::default()
    };
    for _ in 0..repeat {
        let cfg = LearnerConfig {
            batch_size: 128,
            ..Default::default()
        };
        let mut h = Head::new(cfg, kind, Arc::clone(&f), classes, candle_core::Device::Cpu)?;
        let t = Instant::now();
        let mut hist = Vec::new();
        itlm::run(
            &mut h,
            itlm::Inputs::new(&d),
            &c,
            Start::Fresh,
            &mut hist,
            &mut Quiet,
        )?;
        let r = &hist[1];
        println!(
            "{kind} head, {rows} x {dim}: round 1 trains 5 epochs on {} in {:.3} s + scores {rows} in {:.3} s = {:.3} s (whole run {:.2} s)",
            r.trained_on,
            r.train_secs,
            r.score_secs,
            r.train_secs + r.score_secs,
            t.elapsed().as_secs_f64()
        );
    }
    Ok(())
}
