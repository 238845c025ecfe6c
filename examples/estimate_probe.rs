//! Compare estimators of a cut's precision and recall (no truth) against the truth, on run
//! files that carry it. `cargo run --release --example estimate_probe -- RUN.itlm...`

mod saved_runs;

use itlm_inspector::itlm::suggest;

fn confident_flags(labels: &[u32], probs: &[f32], k: usize) -> Vec<bool> {
    let n = labels.len();
    let mut sum = vec![0.0f64; k];
    let mut cnt = vec![0usize; k];
    for i in 0..n {
        let g = labels[i] as usize;
        sum[g] += probs[i * k + g] as f64;
        cnt[g] += 1;
    }
    let th: Vec<f64> = (0..k).map(|j| sum[j] / cnt[j].max(1) as f64).collect();
    (0..n)
        .map(|i| {
            let row = &probs[i * k..(i + 1) * k];
            let best = (0..k)
                .filter(|&j| row[j] as f64 >= th[j])
                .max_by(|&a, &b| row[a].total_cmp(&row[b]));
            best.is_some_and(|j| j != labels[i] as usize)
        })
        .collect()
}

fn main() {
    for (path, run) in saved_runs::from_args() {
        let Some(truth) = &run.truth else { continue };
        let v = run.verdict().unwrap();
        let n = v.kept.len();
        let k = run.dataset.classes.len();
        let labels = &run.dataset.labels;
        let bad = &truth.bad;
        let b_true = bad.iter().filter(|&&b| b).count();
        let trimmed: Vec<usize> = (0..n).filter(|&i| !v.kept[i]).collect();
        let tb = trimmed.iter().filter(|&&i| bad[i]).count();
        let (p_true, r_true) = (tb as f64 / trimmed.len() as f64, tb as f64 / b_true as f64);
        let r0 = &run.rounds[0];
        let last = run.rounds.iter().find(|r| r.round == v.round).unwrap();
        let cj0 = confident_flags(labels, &r0.probs, k);
        let cjl = confident_flags(labels, &last.probs, k);
        let share = |f: &[bool], set: &[usize]| {
            set.iter().filter(|&&i| f[i]).count() as f64 / set.len().max(1) as f64
        };
        let argl: Vec<bool> = (0..n).map(|i| last.predicted[i] != labels[i]).collect();
        let b_cj0 = cj0.iter().filter(|&&b| b).count();
        let b_mix = suggest::suggest_tau(&r0.loss).map(|s| (1.0 - s.clean_weight) * n as f64);
        let b_rate = suggest::confident_noise_rate(labels, &r0.probs, k).map(|r| r * n as f64);
        let p_l = share(&cjl, &trimmed);
        // Recall: trimmed estimated bad / estimated bad overall (trimmed by the final model, the
        // kept ones by round 0).
        let kept: Vec<usize> = (0..n).filter(|&i| v.kept[i]).collect();
        let est_bad_trim = p_l * trimmed.len() as f64;
        let est_bad_kept = share(&cj0, &kept) * kept.len() as f64;
        println!(
            "{path}\n  n {n} trimmed {} bad {b_true}: precision {p_true:.3} recall {r_true:.3}\n  est precision: cj-last {p_l:.3} argmax-last {:.3} cj-r0 {:.3}\n  est bad: cj-r0 {b_cj0} mixture {:?} rate {:?}\n  est recall: {:.3} (trim {est_bad_trim:.0} kept-r0 {est_bad_kept:.0}); with cj-r0 total {:.3}\n  kept truly bad {} ; cj-r0 flags among kept {:.0}",
            trimmed.len(),
            share(&argl, &trimmed),
            share(&cj0, &trimmed),
            b_mix.map(|b| b.round()),
            b_rate.map(|b| b.round()),
            est_bad_trim / (est_bad_trim + est_bad_kept),
            est_bad_trim / b_cj0 as f64,
            kept.iter().filter(|&&i| bad[i]).count(),
            est_bad_kept,
        );
    }
}
