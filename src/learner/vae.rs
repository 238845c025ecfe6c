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
