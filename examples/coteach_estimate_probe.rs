//! Can a co-teaching run estimate its cut's precision without truth? Each co-teaching round
//! records the pair's averaged class probabilities; the models trained on a cleaner share, so
//! their probabilities stand in for the clean posterior, and the label noise is read against
//! them (the confident joint, `transition::estimate`, or a uniform matrix at the noise rate the
//! run's tau leaves). `transition::cut_quality` then gives the expected precision / recall of
//! the round's cut, printed beside the truth's.
//! `cargo run --release --example coteach_estimate_probe -- RUN.itlm...`

mod saved_runs;

use itlm_inspector::itlm::transition;

fn uniform(eta: f32, k: usize) -> Vec<f32> {
    let mut t = vec![eta / (k - 1) as f32; k * k];
    for j in 0..k {
        t[j * k + j] = 1.0 - eta;
    }
    t
}

fn main() {
    for (path, run) in saved_runs::from_args() {
        let k = run.dataset.classes.len();
        let labels = &run.dataset.labels;
        let all: Vec<usize> = (0..labels.len()).collect();
        println!("{path}: {} rounds", run.rounds.len());
        for r in run
            .rounds
            .iter()
            .filter(|r| r.round % 4 == 0 || r.round + 1 == run.rounds.len())
        {
            let real = r
                .metrics
                .trim
                .map(|t| format!("{:.3} / {:.3}", t.precision, t.recall))
                .unwrap_or_default();
            let cj = transition::estimate(labels, &r.probs, k, &all);
            let est_cj = cj
                .as_ref()
                .and_then(|t| transition::cut_quality(labels, &r.probs, t, &r.kept));
            let flipped = cj
                .as_ref()
                .and_then(|t| transition::shape(t, k))
                .map_or(f32::NAN, |s| s.0);
            let eta = 1.0 - r.tau as f32;
            let est_u = transition::cut_quality(labels, &r.probs, &uniform(eta, k), &r.kept);
            let f =
                |e: Option<(f64, f64)>| e.map_or("-".into(), |(p, q)| format!("{p:.3} / {q:.3}"));
            println!(
                "  round {:2} tau {:.2}: truth {real}; confident joint ({flipped:.2} flipped) {}; uniform at 1 - tau {}",
                r.round,
                r.tau,
                f(est_cj),
                f(est_u)
            );
        }
    }
}
