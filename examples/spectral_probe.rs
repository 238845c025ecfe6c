//! The spectral-signature experiment behind README's "Backdoors": one model trains on a
//! backdoored Fashion-MNIST subset (20000 images, 10% of class A stamped and labelled B) on
//! every label, as a naive user would; after each listed epoch it scores every sample and the
//! program prints, for the target class B, how many of the stamped images sit among the
//! 1.5 x (stamped count) highest spectral scores (`itlm::spectral`) and among as many highest
//! losses, how many each of the target class's top 8 principal directions catches (by the
//! squared projection, the positive and the negative side), each class's activation-clustering
//! split (`itlm::spectral::activation_clusters`: the smaller cluster, its separation and the
//! stamped images in it), each class's top / second eigenvalue ratio, and the model's test-2
//! (stamped test images of A classified as B).
//!
//! ```sh
//! cargo run --release --example spectral_probe -- SEEDS PAIRS [EPOCHS] [OPT]
//! cargo run --release --example spectral_probe -- 0,1 6-0-L 1,2,3,5,9 sgd
//! ```
//! `OPT` is `sgd` (the backdoor protocol's learner, the default) or `adamw` (the default
//! learner).
use itlm_inspector::data::corrupt::{Corrupted, SampleKind};
use itlm_inspector::data::watermark::{MarkShape, Watermark};
use itlm_inspector::data::{self, LoadOptions};
use itlm_inspector::itlm::spectral::{self, spectral_scores};
use itlm_inspector::learner::{self, LearnerConfig};
use itlm_inspector::presets;
use itlm_inspector::rng::Rng;

type Res<T> = Result<T, Box<dyn std::error::Error>>;

fn main() -> Res<()> {
    let args: Vec<String> = std::env::args().collect();
    let usage = "usage: spectral_probe SEEDS PAIRS [EPOCHS] [sgd|adamw], e.g. 0,1 6-0-L 1,2,3,5,9";
    if args.len() < 3 {
        return Err(usage.into());
    }
    let seeds = args[1]
        .split(',')
        .map(|s| s.parse::<u64>())
        .collect::<Result<Vec<_>, _>>()?;
    let pairs: Vec<&str> = args[2].split(',').collect();
    let epochs: Vec<usize> = args
        .get(3)
        .map_or("1,2,3,5,9", |s| s.as_str())
        .split(',')
        .map(|s| s.parse::<usize>())
        .collect::<Result<Vec<_>, _>>()?;
    let lc = match args.get(4).map(|s| s.as_str()) {
        Some("adamw") => LearnerConfig::default(),
        Some("sgd") | None => presets::backdoor_learner(),
        Some(_) => return Err(usage.into()),
    };
    let l = data::load(
        std::path::Path::new("/usr/share/datasets/fashion-mnist"),
        &LoadOptions::default(),
    )?;
    let train = l.train.limit(20000, 0);
    let test = l.test.ok_or("no test set")?;
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
            let test2 = itlm_inspector::data::corrupt::test2_set(&test, from, to, &mark)?;
            let bad: Vec<bool> = c.kinds.iter().map(|k| *k == SampleKind::Backdoor).collect();
            let d = &c.data;
            let n = d.len();
            let all: Vec<usize> = (0..n).collect();
            let labels: Vec<u32> = all.iter().map(|&i| d.label(i)).collect();
            let target: Vec<usize> = all.iter().copied().filter(|&i| labels[i] == to).collect();
            let nbad = target.iter().filter(|&&i| bad[i]).count();
            let k = nbad * 3 / 2;
            let mut lr = learner::build(&lc, d)?;
            lr.reset(Rng::derive(seed, 0).next_u64())?;
            for &e in &epochs {
                // A fresh cosine per call would restart the rate: train the whole schedule once
                // per checkpoint from the same initialisation instead.
                lr.reset(Rng::derive(seed, 0).next_u64())?;
                lr.train(
                    d,
                    &all,
                    e as f64,
                    Rng::derive(seed, 1).next_u64(),
                    &mut |_| Ok(()),
                )?;
                let s = lr.score(d, &all, &mut |_| Ok(()))?;
                let f = lr
                    .features(d, &all, &mut |_| Ok(()))?
                    .ok_or("no features")?;
                let sp = spectral_scores(&f, &labels, d.num_classes());
                let caught = |score: &dyn Fn(usize) -> f32| -> usize {
                    let mut o = target.clone();
                    o.sort_by(|&a, &b| score(b).total_cmp(&score(a)));
                    o[..k.min(o.len())].iter().filter(|&&i| bad[i]).count()
                };
                let by_spectral = caught(&|i| sp.scores[i]);
                let by_loss = caught(&|i| s.loss[i]);
                let (mean, dirs) = spectral::class_directions(&f, &target, 8);
                let mut per_dir = Vec::new();
                for (l, v) in &dirs {
                    let proj = |i: usize| spectral::project(f.row(i), &mean, v) as f32;
                    per_dir.push(format!(
                        "{l:.2}:{}/{}/{}",
                        caught(&|i| proj(i) * proj(i)),
                        caught(&|i| proj(i)),
                        caught(&|i| -proj(i))
                    ));
                }
                for sp in spectral::activation_clusters(&f, &labels, d.num_classes(), seed) {
                    let hit = sp.smaller.iter().filter(|&&i| bad[i]).count();
                    println!("   class {}: smaller cluster {} of {} ({:.3}), separation {:.2}, stamped {hit}", sp.class, sp.smaller.len(), sp.count, sp.share(), sp.separation);
                }
                println!(
                    "   directions (eigenvalue: caught by square/+/-): {}",
                    per_dir.join(" ")
                );
                let t2_idx: Vec<usize> = (0..test2.len()).collect();
                let t2 = lr.score(&test2, &t2_idx, &mut |_| Ok(()))?;
                let hit = t2.predicted.iter().filter(|&&p| p == to).count();
                let ratios: Vec<String> = sp
                    .classes
                    .iter()
                    .map(|c| format!("{}:{:.1}", c.class, c.ratio()))
                    .collect();
                println!(
                    "{pair} seed {seed} epoch {e}: stamped {nbad} in class {to} ({} samples); top {k}: spectral {by_spectral}, loss {by_loss}; test-2 {:.1}%; ratios {}",
                    target.len(),
                    100.0 * hit as f64 / test2.len().max(1) as f64,
                    ratios.join(" ")
                );
            }
        }
    }
    Ok(())
}
