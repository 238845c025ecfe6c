//! Co-teaching (Han et al., NeurIPS 2018: "two models pick each other's samples", a direction
//! issue 15 lists) at epoch granularity, for comparison with ITLM on the same noisy copy. Two
//! CNNs with the default learner train side by side; before each epoch `e` (1-based), each
//! scores every training sample, and each trains one epoch on the share `R(e)` of the samples
//! with the lowest loss under the *other* model, where `R(e) = 1 - FORGET * min((e - 1) / TK,
//! 1)` (the paper's schedule: everything at first, then the share the noise rate leaves, over
//! `TK` epochs). The models never re-initialise (no rounds). The paper selects per batch; here
//! the selection is per epoch, over the whole set, as ITLM's cut is. `SELF=1`: the ablation,
//! each model trains on its own small-loss set (one model's self-paced trimming).
//!
//! ```sh
//! cargo run --release --example coteach -- DATA TEST FORGET EPOCHS
//! TK=10 SEED=0 cargo run --release --example coteach -- /tmp/r60 /usr/share/datasets/fashion-mnist 0.6 25
//! ```
//! DATA: a `corrupt` copy (its truth.csv gives the precision of each model's small-loss set).
//! One JSON line per epoch on stdout (`epoch`, `keep`, `test_a`, `test_b`, `test_both`: the two
//! models' class probabilities averaged, `precision_a`, `precision_b`: the share of truly clean
//! samples in the set each model chose for the other, `secs`).
use std::time::Instant;

use itlm_inspector::learner::{self, LearnerConfig};
use itlm_inspector::rng::Rng;

#[path = "common/mod.rs"]
mod common;
use common::{env_or, Res};

/// The `k` samples with the lowest loss, in index order.
fn lowest(loss: &[f32], k: usize) -> Vec<usize> {
    let mut order: Vec<usize> = (0..loss.len()).collect();
    order.sort_by(|&a, &b| loss[a].total_cmp(&loss[b]));
    let mut chosen = order[..k.min(order.len())].to_vec();
    chosen.sort_unstable();
    chosen
}

fn main() -> Res<()> {
    let args: Vec<String> = std::env::args().collect();
    if args.len() < 5 {
        return Err("usage: coteach DATA TEST FORGET EPOCHS (env: TK, SEED, SELF)".into());
    }
    let forget: f64 = args[3].parse()?;
    let epochs: usize = args[4].parse()?;
    let tk: f64 = env_or("TK", 10.0)?;
    let seed: u64 = env_or("SEED", 0)?;
    let self_paced = std::env::var("SELF").is_ok_and(|v| v == "1");
    let p = common::open(&args[1], &args[2])?;
    let train = p.train;
    let test = p.test.ok_or("no test set")?;
    let bad = p.truth.map(|t| t.bad);
    let n = train.len();
    let everyone: Vec<usize> = (0..n).collect();
    let lc = LearnerConfig::default();
    let mut a = learner::build(&lc, &train)?;
    let mut b = learner::build(&lc, &train)?;
    a.reset(Rng::derive(seed, 1).next_u64())?;
    b.reset(Rng::derive(seed, 2).next_u64())?;
    let precision = |set: &[usize]| -> Option<f64> {
        let bad = bad.as_ref()?;
        let clean = set.iter().filter(|&&i| !bad[i]).count();
        Some(clean as f64 / set.len().max(1) as f64)
    };
    let t0 = Instant::now();
    for e in 1..=epochs {
        let share = 1.0 - forget * ((e - 1) as f64 / tk).min(1.0);
        let k = ((share * n as f64).round() as usize).clamp(1, n);
        let (for_b, for_a) = if k == n {
            (everyone.clone(), everyone.clone())
        } else {
            let la = a.score(&train, &everyone, &mut |_| Ok(()))?.loss;
            let lb = b.score(&train, &everyone, &mut |_| Ok(()))?.loss;
            (lowest(&la, k), lowest(&lb, k))
        };
        // SELF=1: the ablation, each model trains on its own small-loss set.
        let (for_a, for_b) = if self_paced {
            (for_b, for_a)
        } else {
            (for_a, for_b)
        };
        let s = Rng::derive(seed, 1000 + e as u64).next_u64();
        a.train(&train, &for_a, 1.0, s, &mut |_| Ok(()))?;
        b.train(&train, &for_b, 1.0, s ^ 1, &mut |_| Ok(()))?;
        let all_test: Vec<usize> = (0..test.len()).collect();
        let sa = a.score(&test, &all_test, &mut |_| Ok(()))?;
        let sb = b.score(&test, &all_test, &mut |_| Ok(()))?;
        let right = |p: &[u32]| p.iter().zip(test.labels()).filter(|(x, y)| x == y).count();
        let test_a = right(&sa.predicted) as f64 / test.len() as f64;
        let test_b = right(&sb.predicted) as f64 / test.len() as f64;
        // The two models as one: their class probabilities averaged.
        let c = test.num_classes();
        let both: Vec<u32> = (0..test.len())
            .map(|i| {
                let (pa, pb) = (&sa.probs[i * c..(i + 1) * c], &sb.probs[i * c..(i + 1) * c]);
                (0..c)
                    .max_by(|&x, &y| (pa[x] + pb[x]).total_cmp(&(pa[y] + pb[y])))
                    .unwrap_or(0) as u32
            })
            .collect();
        let test_both = right(&both) as f64 / test.len() as f64;
        println!(
            "{}",
            serde_json::json!({"epoch": e, "keep": k, "test_a": test_a, "test_b": test_b, "test_both": test_both,
                "precision_a": precision(if self_paced { &for_a } else { &for_b }),
                "precision_b": precision(if self_paced { &for_b } else { &for_a }),
                "secs": t0.elapsed().as_secs_f64()})
        );
    }
    Ok(())
}
