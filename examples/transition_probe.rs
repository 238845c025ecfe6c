//! What round 0's model says of a run's label noise (`itlm::transition`), against the truth:
//! the transition matrix estimated from round 0's class probabilities over every sample, its
//! error, and how one-sided the estimated flips are (the share of the off-label mass in its
//! class's largest other cell: about 1 for a systematic flip, about 1/(k-1) for random noise).
//! The rounds that trained with a matrix (`--transition`) are compared too.
//! `cargo run --release --example transition_probe -- RUN.itlm...`

mod saved_runs;

use itlm_inspector::itlm::transition;

fn summary(t: &[f32], k: usize) -> (f32, f32) {
    let (flipped, one_sided) = transition::shape(t, k).unwrap_or((f32::NAN, f32::NAN));
    (1.0 - flipped, one_sided)
}

fn l1(a: &[f32], b: &[f32], k: usize) -> f32 {
    a.iter().zip(b).map(|(x, y)| (x - y).abs()).sum::<f32>() / k as f32
}

fn main() {
    for (path, run) in saved_runs::from_args() {
        let k = run.dataset.classes.len();
        let labels = &run.dataset.labels;
        let all: Vec<usize> = (0..labels.len()).collect();
        let truth = run
            .truth
            .as_ref()
            .map(|t| transition::from_truth(labels, &t.true_label, k, &all));
        let Some(r0) = run.rounds.first() else {
            continue;
        };
        let Some(t0) = transition::estimate(labels, &r0.probs, k, &all) else {
            println!("{path}: round 0 gives no estimate");
            continue;
        };
        let (d, s) = summary(&t0, k);
        let mut line = format!("{path}: round 0 estimate: diagonal {d:.3}, one-sided {s:.2}");
        if let Some(w) = &truth {
            let (td, ts) = summary(w, k);
            line += &format!(
                "; truth: diagonal {td:.3}, one-sided {ts:.2}; mean row L1 error {:.3}",
                l1(&t0, w, k)
            );
        }
        println!("{line}");
        for r in run.rounds.iter().filter(|r| r.transition.len() == k * k) {
            let (d, s) = summary(&r.transition, k);
            let err = truth
                .as_ref()
                .map(|w| format!(", L1 error {:.3}", l1(&r.transition, w, k)))
                .unwrap_or_default();
            let est = transition::cut_quality(labels, &r.probs, &r.transition, &r.kept);
            let real = r
                .metrics
                .trim
                .map(|t| format!(" (truth {:.3} / {:.3})", t.precision, t.recall))
                .unwrap_or_default();
            println!(
                "  round {} trained with: diagonal {d:.3}, one-sided {s:.2}{err}; estimated cut precision / recall {}{real}",
                r.round,
                est.map(|(p, r)| format!("{p:.3} / {r:.3}")).unwrap_or("-".into())
            );
        }
    }
}
