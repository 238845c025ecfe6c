//! The naive baseline epoch by epoch (issue 15, "an honest baseline"): one CNN trains on every
//! sample of a (noisy) training set, and after each epoch the program prints its accuracy on
//! the test set and, with `HOLDOUT`, on a held-out share of the training set scored against its
//! given (noisy) labels: the split a practitioner without clean labels would pick the epoch on.
//! `scripts/naive_side_by_side.py` trains the same network in PyTorch on the same samples and
//! split (it reads the ids this program writes with `DUMP`).
//!
//! ```sh
//! cargo run --release --example naive_epochs -- DATA TEST EPOCHS
//! HOLDOUT=0.1 DUMP=/tmp/split cargo run --release --example naive_epochs -- DATA TEST 15
//! WD=0.01 LR=1e-3 SEED=0 cargo run --release --example naive_epochs -- DATA TEST 15
//! ```
//! One JSON line per epoch on stdout (`epoch`, `test_acc`, `holdout_acc`, `train_loss`,
//! `secs`), then with `HOLDOUT` a `best` line: the epoch the noisy held-out split picks and the
//! test accuracy there. Epoch e trains with the shuffling seed `derive(SEED, 1000 + e - 1)`, so
//! epoch 1 is the first epoch of `reproduce`'s naive model; the optimizer's state carries over
//! between epochs as within one call.
use std::io::Write;
use std::path::PathBuf;
use std::time::Instant;

use itlm_inspector::learner::{self, LearnerConfig, OptimizerKind};
use itlm_inspector::rng::Rng;
use itlm_inspector::session;

#[path = "common/mod.rs"]
mod common;
use common::{env_or, Res};

fn main() -> Res<()> {
    let args: Vec<String> = std::env::args().collect();
    if args.len() < 4 {
        return Err(
            "usage: naive_epochs DATA TEST EPOCHS (env: HOLDOUT, DUMP, WD, LR, SEED, OPT)".into(),
        );
    }
    let epochs: usize = args[3].parse()?;
    let seed: u64 = env_or("SEED", 0)?;
    let holdout: f64 = env_or("HOLDOUT", 0.0)?;
    let mut lc = LearnerConfig::default();
    if std::env::var("OPT").as_deref() == Ok("sgd") {
        lc.optimizer = OptimizerKind::Sgd;
        lc.lr = OptimizerKind::Sgd.default_lr();
    }
    lc.lr = env_or("LR", lc.lr)?;
    lc.weight_decay = env_or("WD", lc.weight_decay)?;
    let p = common::open(&args[1], &args[2])?;
    let train = p.train;
    let test = p.test.ok_or("no test set")?;
    let n = train.len();
    let mut order: Vec<usize> = (0..n).collect();
    Rng::derive(seed, 77).shuffle(&mut order);
    let n_hold = (n as f64 * holdout).round() as usize;
    let mut hold: Vec<usize> = order[..n_hold].to_vec();
    let mut fit: Vec<usize> = order[n_hold..].to_vec();
    hold.sort_unstable();
    fit.sort_unstable();
    if let Ok(dir) = std::env::var("DUMP") {
        let dir = PathBuf::from(dir);
        std::fs::create_dir_all(&dir)?;
        let mut f = std::fs::File::create(dir.join("ids.txt"))?;
        for i in 0..n {
            writeln!(f, "{}\t{}", train.id(i), train.class_name(train.label(i)))?;
        }
        let mut f = std::fs::File::create(dir.join("holdout.txt"))?;
        for &i in &hold {
            writeln!(f, "{}", train.id(i))?;
        }
    }
    eprintln!(
        "{n} training samples ({} fit, {} held out), {} test, {}",
        fit.len(),
        hold.len(),
        test.len(),
        serde_json::to_string(&lc)?
    );
    let mut l = learner::build(&lc, &train)?;
    l.reset(Rng::derive(seed, 0).next_u64())?;
    let mut log = Vec::new();
    let t0 = Instant::now();
    for e in 1..=epochs {
        let s = Rng::derive(seed, 1000 + e as u64 - 1).next_u64();
        let loss = l.train(&train, &fit, 1.0, s, &mut |_| Ok(()))?;
        let test_acc = session::run::accuracy(l.as_mut(), &test)?.unwrap_or(0.0);
        let hold_acc = if hold.is_empty() {
            None
        } else {
            let sc = l.score(&train, &hold, &mut |_| Ok(()))?;
            let right = sc
                .predicted
                .iter()
                .zip(&hold)
                .filter(|(&p, &i)| p == train.label(i))
                .count();
            Some(right as f64 / hold.len() as f64)
        };
        println!(
            "{}",
            serde_json::json!({"epoch": e, "test_acc": test_acc, "holdout_acc": hold_acc,
                "train_loss": loss, "secs": t0.elapsed().as_secs_f64()})
        );
        log.push((e, test_acc, hold_acc));
    }
    if let Some(&(e, t, h)) = log.iter().filter(|r| r.2.is_some()).fold(
        None,
        |b: Option<&(usize, f64, Option<f64>)>, r| match b {
            Some(b) if b.2 >= r.2 => Some(b),
            _ => Some(r),
        },
    ) {
        println!(
            "{}",
            serde_json::json!({"best": {"epoch": e, "test_acc": t, "holdout_acc": h}})
        );
    }
    Ok(())
}
