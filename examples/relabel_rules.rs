//! Offline comparison of relabelling rules on a saved run with truth (what chose the rule of
//! `itlm::relabel`): for the round before the final one, how many trimmed samples each rule
//! relabels, how many of them get their true label, and per (given -> new) cell.
//! `cargo run --release --example relabel_rules -- RUN.itlm [ROUND]`

use itlm_inspector::export::RunFile;
use itlm_inspector::itlm::relabel;

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let path = args
        .get(1)
        .ok_or_else(|| anyhow::anyhow!("usage: RUN.itlm [ROUND]"))?;
    let run = RunFile::read(std::path::Path::new(path))?;
    let truth = run
        .truth
        .as_ref()
        .ok_or_else(|| anyhow::anyhow!("no truth"))?;
    let k = run.dataset.classes.len();
    let labels = &run.dataset.labels;
    let n = labels.len();
    let r = match args.get(2) {
        Some(s) => s.parse::<usize>()?,
        None => run.config.rounds - 1,
    };
    let last = &run.rounds[r];
    let kept = &last.kept;
    let fixable = (0..n)
        .filter(|&i| !kept[i] && truth.true_label[i].is_some_and(|t| t != labels[i]))
        .count();
    println!(
        "round {r}: trimmed {}, fixable (bad) trimmed {fixable}",
        n - last.kept_count()
    );
    let none = |_: usize| false;
    let report = |name: &str, chosen: &[Option<u32>]| {
        let (mut c, mut right, mut clean) = (0, 0, 0);
        for (i, (&g, t)) in labels.iter().zip(&truth.true_label).enumerate() {
            if let Some(q) = chosen.get(i).copied().flatten() {
                c += 1;
                right += usize::from(*t == Some(q));
                clean += usize::from(*t == Some(g));
            }
        }
        println!(
            "{name:<48} relabelled {c:>5}  right {right:>5} ({:.3})  of them clean {clean}",
            right as f64 / c.max(1) as f64
        );
    };
    let prev = |j: usize| &run.rounds[j].predicted[..];
    let probs = &last.probs;
    let p = |i: usize, q: u32| probs[i * k + q as usize] as f64;
    let view = |j: usize| relabel::ModelView {
        probs: &run.rounds[j].probs,
        predicted: &run.rounds[j].predicted,
        kept: &run.rounds[j].kept,
    };
    // The rule of `itlm::relabel`: round 0, the round before and the last all sure.
    let mut models = vec![view(0)];
    if r > 1 {
        models.push(view(r - 1));
    }
    if r > 0 {
        models.push(view(r));
    }
    let rule = relabel::choose(&models, labels, kept, &none, k);
    report("the rule: round 0, previous and last sure", &rule);
    // The first rule tried: the previous model's argmax agrees, the last one is sure.
    let mut base = relabel::choose(&[view(r)], labels, kept, &none, k);
    if r > 0 {
        for (i, b) in base.iter_mut().enumerate() {
            if prev(r - 1)[i] != b.unwrap_or(u32::MAX) {
                *b = None;
            }
        }
    }
    report("mean kept self-confidence, 2 models agree", &base);
    let t_mean = relabel::class_thresholds(probs, labels, kept, k);
    println!(
        "thresholds {:?}",
        t_mean
            .iter()
            .map(|t| (t * 1000.0).round() / 1000.0)
            .collect::<Vec<_>>()
    );
    // Agreement of all early rounds.
    let all_agree: Vec<Option<u32>> = (0..n)
        .map(|i| base[i].filter(|&q| (0..r).all(|j| prev(j)[i] == q)))
        .collect();
    report("... and every early round agrees", &all_agree);
    let r0_agree: Vec<Option<u32>> = (0..n)
        .map(|i| base[i].filter(|&q| run.rounds[0].predicted[i] == q))
        .collect();
    report("... and round 0 (all samples) agrees", &r0_agree);
    // Round 0's probability of the new class at least its kept mean self-confidence.
    let r0 = &run.rounds[0];
    let t0 = relabel::class_thresholds(&r0.probs, labels, &r0.kept, k);
    let r0_conf: Vec<Option<u32>> = (0..n)
        .map(|i| base[i].filter(|&q| r0.probs[i * k + q as usize] as f64 >= t0[q as usize]))
        .collect();
    report("... and confident under round 0", &r0_conf);
    let cells_of = |chosen: &[Option<u32>]| {
        let mut cells = std::collections::BTreeMap::new();
        for i in 0..n {
            if let Some(q) = chosen[i] {
                let e = cells.entry((labels[i], q)).or_insert((0, 0));
                e.0 += 1;
                e.1 += usize::from(truth.true_label[i] == Some(q));
            }
        }
        cells
            .into_iter()
            .filter(|(_, (c, _))| *c >= 20)
            .map(|((g, q), (c, r))| format!("{g}->{q} {c}/{r}"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    println!("  all agree cells (count/right): {}", cells_of(&all_agree));
    println!("  round 0 agrees cells: {}", cells_of(&r0_agree));
    println!("  the rule's cells: {}", cells_of(&rule));
    // Quantiles of the kept self-confidence per class.
    let quantile = |qq: f64| -> Vec<f64> {
        (0..k)
            .map(|c| {
                let mut v: Vec<f64> = (0..n)
                    .filter(|&i| kept[i] && labels[i] as usize == c)
                    .map(|i| p(i, c as u32))
                    .collect();
                v.sort_by(|a, b| a.total_cmp(b));
                if v.is_empty() {
                    f64::INFINITY
                } else {
                    v[((v.len() - 1) as f64 * qq).round() as usize]
                }
            })
            .collect()
    };
    for qq in [0.25, 0.5, 0.75] {
        let t = quantile(qq);
        let chosen: Vec<Option<u32>> = (0..n)
            .map(|i| base[i].or(None).filter(|&q| p(i, q) >= t[q as usize]))
            .collect();
        report(&format!("kept self-confidence quantile {qq}"), &chosen);
    }
    // The threshold under the previous model too.
    if r > 0 {
        let pr = &run.rounds[r - 1];
        let tp = relabel::class_thresholds(&pr.probs, labels, &pr.kept, k);
        let chosen: Vec<Option<u32>> = (0..n)
            .map(|i| base[i].filter(|&q| pr.probs[i * k + q as usize] as f64 >= tp[q as usize]))
            .collect();
        report("... and confident under the previous model", &chosen);
    }
    // Confidence bins of the base rule.
    for (lo, hi) in [
        (0.0, 0.9),
        (0.9, 0.97),
        (0.97, 0.99),
        (0.99, 0.999),
        (0.999, 1.01),
    ] {
        let chosen: Vec<Option<u32>> = (0..n)
            .map(|i| base[i].filter(|&q| p(i, q) >= lo && p(i, q) < hi))
            .collect();
        report(&format!("  p(new) in [{lo}, {hi})"), &chosen);
    }
    // Per (given -> new) cell of the base rule.
    let mut cells = std::collections::BTreeMap::new();
    for i in 0..n {
        if let Some(q) = base[i] {
            let e = cells.entry((labels[i], q)).or_insert((0, 0));
            e.0 += 1;
            e.1 += usize::from(truth.true_label[i] == Some(q));
        }
    }
    for ((g, q), (c, right)) in cells {
        if c >= 20 {
            println!("  {g} -> {q}: {c} ({right} right)");
        }
    }
    // Relabel only into cells that hold more than the mirror cell (a one-sided confusion).
    let mut cell = vec![0usize; k * k];
    for i in 0..n {
        if let Some(q) = base[i] {
            cell[labels[i] as usize * k + q as usize] += 1;
        }
    }
    let one_sided: Vec<Option<u32>> = (0..n)
        .map(|i| {
            base[i].filter(|&q| {
                let (g, q) = (labels[i] as usize, q as usize);
                cell[g * k + q] >= 3 * (cell[q * k + g] + 1)
            })
        })
        .collect();
    report("base, one-sided cells only", &one_sided);
    Ok(())
}
