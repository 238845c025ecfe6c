//! What a run's models read of the label noise, round by round: for each run file given, every
//! round's noise estimate (the confident joint's share of contradicted labels,
//! [`confident_noise_rate`], on the round's class probabilities; for co-teaching, the pair's
//! averaged ones), beside the truth's share of bad samples where the run has it (a `corrupt`
//! copy).
//!
//! ```sh
//! cargo run --release --example noise_read -- RUN.itlm [RUN.itlm ...]
//! ```
//! One line per run: `PATH truth T tau X: 0:0.656 1:0.640 ...` (round:estimate).
use std::path::Path;

use itlm_inspector::export::RunFile;
use itlm_inspector::itlm::suggest::confident_noise_rate;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    for p in std::env::args().skip(1) {
        let run = RunFile::read(Path::new(&p))?;
        let labels = &run.dataset.labels;
        let k = run.dataset.classes.len();
        let truth = match &run.truth {
            Some(t) => format!(
                "{:.3}",
                t.bad.iter().filter(|&&b| b).count() as f64 / labels.len().max(1) as f64
            ),
            None => "unknown".into(),
        };
        let reads: Vec<String> = run
            .rounds
            .iter()
            .map(|r| match confident_noise_rate(labels, &r.probs, k) {
                Some(x) => format!("{}:{x:.3}", r.round),
                None => format!("{}:-", r.round),
            })
            .collect();
        let tau = run.rounds.last().map_or(f64::NAN, |r| r.tau);
        println!("{p} truth {truth} tau {tau:.2}: {}", reads.join(" "));
    }
    Ok(())
}
