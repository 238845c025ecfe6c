//! The backdoor experiment behind README's "loss at early checkpoints": one model trains on a
//! backdoored Fashion-MNIST subset (20000 images, 10% of class A stamped and labelled B) in
//! steps of a few batches; after each step every sample is scored, and the program prints the
//! share of the stamped images among the 5% highest losses at each checkpoint, and for scores
//! that combine the checkpoints (mean loss, mean rank, max rank, max loss).
//!
//! ```sh
//! cargo run --release --example early_checkpoints -- SEEDS PAIRS [STEP_BATCHES] [MAX_BATCHES]
//! cargo run --release --example early_checkpoints -- 0,1,2 1-2-X 2 80
//! OPT=sgd LR=0.01 cargo run --release --example early_checkpoints -- 0,1,2 1-2-X 8 200
//! ```
//! `OPT=sgd` trains with SGD (momentum 0.9, lr 0.05 unless `LR` says otherwise).
use itlm_inspector::data::corrupt::{Corrupted, SampleKind};
use itlm_inspector::data::watermark::{MarkShape, Watermark};
use itlm_inspector::data::{self, LoadOptions};
use itlm_inspector::learner::{self, LearnerConfig};
use itlm_inspector::rng::Rng;

type Res<T> = Result<T, Box<dyn std::error::Error>>;

fn main() -> Res<()> {
    let args: Vec<String> = std::env::args().collect();
    let usage = "usage: early_checkpoints SEEDS PAIRS [STEP_BATCHES] [MAX_BATCHES], e.g. 0,1 1-2-X,9-4-X 2 80";
    if args.len() < 3 {
        return Err(usage.into());
    }
    let seeds = args[1]
        .split(',')
        .map(|s| s.parse::<u64>())
        .collect::<Result<Vec<_>, _>>()?;
    let pairs: Vec<&str> = args[2].split(',').collect();
    let step_batches: usize = args.get(3).map_or(Ok(2), |s| s.parse())?;
    let max_batches: usize = args.get(4).map_or(Ok(80), |s| s.parse())?;
    let l = data::load(
        std::path::Path::new("/usr/share/datasets/fashion-mnist"),
        &LoadOptions::default(),
    )?;
    let train = l.train.limit(20000, 0);
    let mut lc = LearnerConfig::default();
    if let Ok(o) = std::env::var("OPT") {
        if o == "sgd" {
            lc.optimizer = itlm_inspector::learner::OptimizerKind::Sgd;
            lc.lr = 0.05;
        }
    }
    if let Ok(l) = std::env::var("LR") {
        lc.lr = l.parse()?;
    }
    for pair in &pairs {
        let p: Vec<&str> = pair.split('-').collect();
        if p.len() != 3 {
            return Err(usage.into());
        }
        let (from, to) = (p[0].parse::<u32>()?, p[1].parse::<u32>()?);
        let shape = if p[2] == "X" {
            MarkShape::X
        } else {
            MarkShape::L
        };
        for &seed in &seeds {
            let mark = Watermark {
                size: Watermark::default_size(train.shape),
                ..Watermark::new(shape, 0)
            };
            let mut c = Corrupted::clean(train.clone());
            c.backdoor(0.1, from, to, &mark, seed)?;
            let bad: Vec<bool> = c.kinds.iter().map(|k| *k == SampleKind::Backdoor).collect();
            let nbad = bad.iter().filter(|&&b| b).count();
            let d = &c.data;
            let n = d.len();
            let all: Vec<usize> = (0..n).collect();
            let per_epoch = n.div_ceil(lc.batch_size) as f64;
            let mut lr = learner::build(&lc, d)?;
            lr.reset(Rng::derive(seed, 0).next_u64())?;
            let mut ck: Vec<Vec<f32>> = Vec::new();
            let mut done = 0;
            while done < max_batches {
                lr.train(
                    d,
                    &all,
                    step_batches as f64 / per_epoch,
                    Rng::derive(seed, 5000 + done as u64).next_u64(),
                    &mut |_| Ok(()),
                )?;
                done += step_batches;
                ck.push(lr.score(d, &all, &mut |_| Ok(()))?.loss);
            }
            let k_cut = n / 20;
            let recall = |s: &[f32]| -> f64 {
                let mut o: Vec<usize> = (0..n).collect();
                o.sort_by(|&a, &b| s[b].total_cmp(&s[a]));
                o[..k_cut].iter().filter(|&&i| bad[i]).count() as f64 / nbad as f64
            };
            let ranks: Vec<Vec<f32>> = ck
                .iter()
                .map(|s| {
                    let mut o: Vec<usize> = (0..n).collect();
                    o.sort_by(|&a, &b| s[a].total_cmp(&s[b]));
                    let mut r = vec![0f32; n];
                    for (j, &i) in o.iter().enumerate() {
                        r[i] = j as f32 / n as f32;
                    }
                    r
                })
                .collect();
            let single: Vec<String> = ck.iter().map(|s| format!("{:.2}", recall(s))).collect();
            println!("{pair} seed {seed}: single-checkpoint recall (every {step_batches} batches = {:.3} ep): {}", step_batches as f64 / per_epoch, single.join(" "));
            for upto in [8usize, 12, 16, 24, 32, 40, 60, 80] {
                if upto > ck.len() {
                    continue;
                }
                let mean: Vec<f32> = (0..n)
                    .map(|i| ck[..upto].iter().map(|s| s[i]).sum::<f32>() / upto as f32)
                    .collect();
                let mrank: Vec<f32> = (0..n)
                    .map(|i| ranks[..upto].iter().map(|s| s[i]).sum::<f32>() / upto as f32)
                    .collect();
                let mx: Vec<f32> = (0..n)
                    .map(|i| ranks[..upto].iter().map(|s| s[i]).fold(0f32, f32::max))
                    .collect();
                let mxl: Vec<f32> = (0..n)
                    .map(|i| ck[..upto].iter().map(|s| s[i]).fold(0f32, f32::max))
                    .collect();
                // second half only
                let h = upto / 2;
                let mean2: Vec<f32> = (0..n)
                    .map(|i| ck[h..upto].iter().map(|s| s[i]).sum::<f32>() / (upto - h) as f32)
                    .collect();
                println!(
                    "   upto {upto:2} ({:.3} ep): mean {:.2} mean-rank {:.2} max-rank {:.2} max-loss {:.2} mean-2nd-half {:.2}",
                    (upto * step_batches) as f64 / per_epoch,
                    recall(&mean),
                    recall(&mrank),
                    recall(&mx),
                    recall(&mxl),
                    recall(&mean2)
                );
            }
        }
    }
    Ok(())
}
