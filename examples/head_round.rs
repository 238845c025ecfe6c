//! One ITLM round of an embedding head (issue 14's "ITLM round on 20k embeddings < 0.5 s"):
//! round 1 trains 5 epochs on the kept 70% of N synthetic 1280-d embeddings and scores all N,
//! as `itlm-inspector bench --only scale` measures it (the same generator and round). Runs the
//! round REPEAT times and prints each one's train and score seconds (the first pays for
//! warming caches and the thread pool).
//!
//! ```sh
//! cargo run --release --example head_round -- [N] [REPEAT] [linear|mlp]
//! ```
use std::sync::Arc;
use std::time::Instant;

use itlm_inspector::cli::bench_scale::{head_round, synthetic_embeddings};
use itlm_inspector::learner::{Features, HeadKind};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let rows: usize = args.first().map_or(Ok(20_000), |s| s.parse())?;
    let repeat: usize = args.get(1).map_or(Ok(3), |s| s.parse())?;
    let kind = match args.get(2).map(String::as_str) {
        Some("mlp") => HeadKind::Mlp,
        _ => HeadKind::Linear,
    };
    let dim = 1280;
    let (d, m) = synthetic_embeddings(rows, dim)?;
    let f = Arc::new(Features::new(&d, m)?);
    for _ in 0..repeat {
        let t = Instant::now();
        let r = head_round(&d, Arc::clone(&f), kind)?;
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
