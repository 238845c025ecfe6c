//! A small variational autoencoder as an ITLM learner for unlabelled sets (the paper's second
//! setting): per-sample loss = negative ELBO (Bernoulli reconstruction + KL); labels are
//! ignored. Each round can decode images from the prior to show what the model learned.

use candle_core::{Device, Module, Tensor, D};
use candle_nn::{AdamW, Linear, Optimizer, ParamsAdamW, VarMap};

use super::batch::batch;
use super::init::ParamFactory;
use super::schedule;
use super::LearnerConfig;
use crate::data::{Dataset, ImageShape};
use crate::error::{Error, Result};
use crate::itlm::{ImageGrid, Learner, Scores, TickFn};
use crate::rng::Rng;

/// Hidden width and latent size.
const HIDDEN: usize = 400;
const LATENT: usize = 20;

struct Net {
    enc: Linear,
    mu: Linear,
    logvar: Linear,
    dec1: Linear,
    dec2: Linear,
}

fn linear(p: &mut ParamFactory, name: &str, inp: usize, out: usize) -> Result<Linear> {
    let w = p.weight(&format!("{name}.weight"), &[out, inp], inp)?;
    let b = p.weight(&format!("{name}.bias"), &[out], inp)?;
    Ok(Linear::new(w, Some(b)))
}

impl Net {
    fn new(p: &mut ParamFactory, inp: usize) -> Result<Self> {
        Ok(Self {
            enc: linear(p, "enc", inp, HIDDEN)?,
            mu: linear(p, "mu", HIDDEN, LATENT)?,
            logvar: linear(p, "logvar", HIDDEN, LATENT)?,
            dec1: linear(p, "dec1", LATENT, HIDDEN)?,
            dec2: linear(p, "dec2", HIDDEN, inp)?,
        })
    }

    fn encode(&self, x: &Tensor) -> Result<(Tensor, Tensor)> {
        let h = self.enc.forward(x)?.relu()?;
        // Clamp log-variance so that exp() cannot overflow on a bad batch.
        Ok((
            self.mu.forward(&h)?,
            self.logvar.forward(&h)?.clamp(-10f32, 10f32)?,
        ))
    }

    /// Logits of the reconstruction.
    fn decode(&self, z: &Tensor) -> Result<Tensor> {
        Ok(self.dec2.forward(&self.dec1.forward(z)?.relu()?)?)
    }
}

/// Per-sample negative ELBO: sum of Bernoulli cross-entropies (with logits) + KL(q || N(0, I)).
fn neg_elbo(x: &Tensor, logits: &Tensor, mu: &Tensor, logvar: &Tensor) -> Result<Tensor> {
    // BCE with logits: softplus(l) - x * l, with softplus(l) = relu(l) + log(1 + exp(-|l|)).
    let softplus = (logits.relu()? + (logits.abs()?.neg()?.exp()? + 1.0)?.log()?)?;
    let recon = (softplus - (x * logits)?)?.sum(D::Minus1)?;
    let kl = ((mu.sqr()? + logvar.exp()? - logvar)? - 1.0)?
        .sum(D::Minus1)?
        .affine(0.5, 0.0)?;
    Ok((recon + kl)?)
}

/// One initialisation of the VAE with its optimizer, built whole.
struct Model {
    varmap: VarMap,
    net: Net,
    opt: AdamW,
}

impl Model {
    fn new(cfg: &LearnerConfig, shape: ImageShape, device: &Device, seed: u64) -> Result<Self> {
        let varmap = VarMap::new();
        let mut p = ParamFactory::new(&varmap, device, seed);
        let net = Net::new(&mut p, shape.len())?;
        let params = ParamsAdamW {
            lr: cfg.lr,
            weight_decay: cfg.weight_decay,
            ..Default::default()
        };
        let opt = AdamW::new(varmap.all_vars(), params)?;
        Ok(Self { varmap, net, opt })
    }
}

pub struct Vae {
    cfg: LearnerConfig,
    shape: ImageShape,
    device: Device,
    model: Model,
}

impl Vae {
    pub fn new(cfg: LearnerConfig, shape: ImageShape, device: Device) -> Result<Self> {
        let model = Model::new(&cfg, shape, &device, 0)?;
        Ok(Self {
            cfg,
            shape,
            device,
            model,
        })
    }

    fn check_data(&self, data: &Dataset) -> Result<()> {
        if data.shape != self.shape {
            return Err(Error::Config(format!(
                "model built for {} images, data has {}",
                self.shape, data.shape
            )));
        }
        Ok(())
    }
}

impl Learner for Vae {
    fn describe(&self) -> String {
        let params: usize = self
            .model
            .varmap
            .all_vars()
            .iter()
            .map(|v| v.elem_count())
            .sum();
        format!(
            "vae ({params} parameters, latent {LATENT}, batch {}, lr {})",
            self.cfg.batch_size, self.cfg.lr
        )
    }

    fn is_classifier(&self) -> bool {
        false
    }

    fn reset(&mut self, seed: u64) -> Result<()> {
        self.model = Model::new(&self.cfg, self.shape, &self.device, seed)?;
        Ok(())
    }

    fn train(
        &mut self,
        data: &Dataset,
        indices: &[usize],
        epochs: f64,
        seed: u64,
        tick: &mut TickFn<'_>,
    ) -> Result<f32> {
        self.check_data(data)?;
        let (bs, pixels) = (self.cfg.batch_size, self.shape.len() as f32);
        schedule::train_batches(indices, epochs, bs, seed, tick, |chunk, rng| {
            let (x, _) = batch(data, chunk, &self.device)?;
            let x = x.flatten_from(1)?;
            let net = &self.model.net;
            let (mu, logvar) = net.encode(&x)?;
            let eps: Vec<f32> = (0..chunk.len() * LATENT).map(|_| rng.normal()).collect();
            let eps = Tensor::from_vec(eps, (chunk.len(), LATENT), &self.device)?;
            let z = (&mu + (logvar.affine(0.5, 0.0)?.exp()? * eps)?)?;
            let logits = net.decode(&z)?;
            let loss = neg_elbo(&x, &logits, &mu, &logvar)?.mean_all()?;
            self.model.opt.backward_step(&loss)?;
            // Reported per pixel so that it reads the same whatever the image size.
            Ok(loss.to_scalar::<f32>()? / pixels)
        })
    }

    fn score(
        &mut self,
        data: &Dataset,
        indices: &[usize],
        tick: &mut TickFn<'_>,
    ) -> Result<Scores> {
        self.check_data(data)?;
        let pixels = self.shape.len() as f64;
        let mut loss = Vec::with_capacity(indices.len());
        schedule::score_batches(indices, self.cfg.score_batch_size, tick, |chunk| {
            let (x, _) = batch(data, chunk, &self.device)?;
            let x = x.flatten_from(1)?;
            let net = &self.model.net;
            // Deterministic estimate: decode the posterior mean.
            let (mu, logvar) = net.encode(&x)?;
            let logits = net.decode(&mu)?;
            let l = neg_elbo(&x, &logits, &mu, &logvar)?.detach();
            // Per pixel, so that losses read the same whatever the image size.
            loss.extend(l.affine(1.0 / pixels, 0.0)?.to_vec1::<f32>()?);
            Ok(())
        })?;
        Ok(Scores {
            predicted: indices.iter().map(|&i| data.label(i)).collect(),
            p_given: vec![f32::NAN; loss.len()],
            probs: Vec::new(),
            loss,
        })
    }

    fn generate(&mut self, count: usize, seed: u64) -> Result<Option<ImageGrid>> {
        let mut rng = Rng::derive(seed, 0x6E4E);
        let z: Vec<f32> = (0..count * LATENT).map(|_| rng.normal()).collect();
        let z = Tensor::from_vec(z, (count, LATENT), &self.device)?;
        let x = candle_nn::ops::sigmoid(&self.model.net.decode(&z)?)?;
        let v: Vec<f32> = x.flatten_all()?.to_vec1()?;
        Ok(Some(ImageGrid {
            count,
            shape: self.shape,
            pixels: v
                .iter()
                .map(|p| (p.clamp(0.0, 1.0) * 255.0).round() as u8)
                .collect(),
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::Source;

    /// A set of `n` 4x4 gray images, labels i % 3: pixel j of class c is bright when
    /// (j + c) % 3 == 0, with seeded noise (three patterns a VAE can learn).
    fn noise_set(n: usize, seed: u64) -> Dataset {
        let shape = ImageShape::new(4, 4, 1);
        let mut rng = Rng::derive(seed, 1);
        let pixels = (0..n * shape.len())
            .map(|k| {
                let (i, j) = (k / shape.len(), k % shape.len());
                let base = if (j + i % 3) % 3 == 0 { 220.0 } else { 20.0 };
                (base + rng.next_f32() * 30.0) as u8
            })
            .collect();
        Dataset::from_parts(
            "noise",
            Source::Memory,
            vec!["a".into(), "b".into(), "c".into()],
            shape,
            pixels,
            (0..n).map(|i| (i % 3) as u32).collect(),
            (0..n).map(|i| format!("{i}.png")).collect(),
        )
        .unwrap()
    }

    /// The VAE's variables as plain vectors, by name.
    fn weights(v: &Vae) -> std::collections::HashMap<String, Vec<f32>> {
        let vars = v.model.varmap.data().lock().unwrap();
        vars.iter()
            .map(|(k, t)| (k.clone(), t.flatten_all().unwrap().to_vec1().unwrap()))
            .collect()
    }

    /// `w x + b` for a row-major `w` of `b.len()` rows.
    fn affine(w: &[f32], b: &[f32], x: &[f32]) -> Vec<f32> {
        (0..b.len())
            .map(|o| b[o] + (0..x.len()).map(|i| w[o * x.len() + i] * x[i]).sum::<f32>())
            .collect()
    }

    fn relu(v: Vec<f32>) -> Vec<f32> {
        v.into_iter().map(|x| x.max(0.0)).collect()
    }

    fn decode(w: &std::collections::HashMap<String, Vec<f32>>, z: &[f32]) -> Vec<f32> {
        let h = relu(affine(&w["dec1.weight"], &w["dec1.bias"], z));
        affine(&w["dec2.weight"], &w["dec2.bias"], &h)
    }

    #[test]
    fn neg_elbo_is_bernoulli_cross_entropy_plus_kl() {
        let d = Device::Cpu;
        let t = |v: &[f32], n: usize| Tensor::from_slice(v, (1, n), &d).unwrap();
        // recon = softplus(0) - 0 + softplus(2) - 2; KL = 0.5 (1 + e^0 - 0 - 1).
        let l = neg_elbo(
            &t(&[0.0, 1.0], 2),
            &t(&[0.0, 2.0], 2),
            &t(&[1.0], 1),
            &t(&[0.0], 1),
        )
        .unwrap()
        .to_vec1::<f32>()
        .unwrap();
        let want = 2f32.ln() + (1.0 + 2f32.exp()).ln() - 2.0 + 0.5;
        assert!((l[0] - want).abs() < 1e-6, "{} vs {want}", l[0]);
        // A large logit does not overflow: softplus(100) - 100 = 0 for x = 1.
        let l = neg_elbo(&t(&[1.0], 1), &t(&[100.0], 1), &t(&[0.0], 1), &t(&[0.0], 1))
            .unwrap()
            .to_vec1::<f32>()
            .unwrap();
        assert!(l[0].abs() < 1e-5, "{}", l[0]);
    }

    /// `score` is the negative ELBO per pixel of the posterior mean's reconstruction,
    /// recomputed here in plain arithmetic from the model's weights; labels are passed through.
    #[test]
    fn score_is_the_negative_elbo_per_pixel_and_training_lowers_it() {
        let data = noise_set(24, 3);
        let cfg = LearnerConfig {
            batch_size: 8,
            ..LearnerConfig::default()
        };
        let mut v = Vae::new(cfg, data.shape, Device::Cpu).unwrap();
        v.reset(5).unwrap();
        let idx: Vec<usize> = (0..data.len()).collect();
        let s = v.score(&data, &idx, &mut |_| Ok(())).unwrap();
        let w = weights(&v);
        for &i in &idx {
            let x: Vec<f32> = data.image(i).iter().map(|&p| p as f32 / 255.0).collect();
            let h = relu(affine(&w["enc.weight"], &w["enc.bias"], &x));
            let mu = affine(&w["mu.weight"], &w["mu.bias"], &h);
            let lv: Vec<f32> = affine(&w["logvar.weight"], &w["logvar.bias"], &h)
                .into_iter()
                .map(|v| v.clamp(-10.0, 10.0))
                .collect();
            let logits = decode(&w, &mu);
            let recon: f32 = logits
                .iter()
                .zip(&x)
                .map(|(&l, &x)| l.max(0.0) + (-l.abs()).exp().ln_1p() - x * l)
                .sum();
            let kl: f32 = mu
                .iter()
                .zip(&lv)
                .map(|(&m, &lv)| 0.5 * (m * m + lv.exp() - lv - 1.0))
                .sum();
            let want = (recon + kl) / 16.0;
            assert!(
                (s.loss[i] - want).abs() < 1e-4 * want.abs().max(1.0),
                "sample {i}: {} vs {want}",
                s.loss[i]
            );
        }
        assert_eq!(s.predicted, data.labels());
        assert!(s.p_given.iter().all(|p| p.is_nan()));
        assert!(s.probs.is_empty());
        assert!(!v.is_classifier());
        // Training on the set lowers its mean loss.
        let before: f32 = s.loss.iter().sum::<f32>() / s.loss.len() as f32;
        v.train(&data, &idx, 30.0, 1, &mut |_| Ok(())).unwrap();
        let s = v.score(&data, &idx, &mut |_| Ok(())).unwrap();
        let after: f32 = s.loss.iter().sum::<f32>() / s.loss.len() as f32;
        eprintln!("mean loss per pixel {before} -> {after}");
        assert!(after < before * 0.8, "{before} -> {after}");
    }

    /// `generate` decodes `count` draws of the prior (seeded) through the sigmoid into pixels.
    #[test]
    fn generate_decodes_seeded_prior_draws() {
        let data = noise_set(4, 1);
        let mut v = Vae::new(LearnerConfig::default(), data.shape, Device::Cpu).unwrap();
        v.reset(2).unwrap();
        let g = v.generate(3, 9).unwrap().unwrap();
        assert_eq!((g.count, g.shape), (3, data.shape));
        assert_eq!(g.pixels.len(), 3 * 16);
        let w = weights(&v);
        let mut rng = Rng::derive(9, 0x6E4E);
        let z: Vec<f32> = (0..3 * LATENT).map(|_| rng.normal()).collect();
        for k in 0..3 {
            let logits = decode(&w, &z[k * LATENT..(k + 1) * LATENT]);
            for (j, &l) in logits.iter().enumerate() {
                let want = (1.0 / (1.0 + (-l).exp()) * 255.0).round();
                let got = g.pixels[k * 16 + j] as f32;
                assert!(
                    (got - want).abs() <= 1.0,
                    "image {k} pixel {j}: {got} vs {want}"
                );
            }
        }
        assert_eq!(v.generate(3, 9).unwrap().unwrap(), g, "seeded");
        assert_ne!(v.generate(3, 10).unwrap().unwrap().pixels, g.pixels);
    }
}
