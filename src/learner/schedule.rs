//! The batch loops every learner shares: seeded shuffled epochs (fractions allowed) with a tick
//! per batch, and scoring in fixed-size chunks.

use candle_core::{Tensor, Var};

use crate::error::Result;
use crate::itlm::{Phase, Tick, TickFn};
use crate::rng::Rng;

/// Train for `epochs` passes over `indices` in shuffled batches of `batch_size`: `step` gets each
/// batch (and the seeded generator, for learners that sample noise) and returns the batch's mean
/// loss. Returns the mean loss of the last epoch's batches, or the first non-finite batch loss
/// (training stops there: the caller reports divergence).
/// Batches a training call of `epochs` passes over `n` samples runs (at least one).
pub fn total_batches(n: usize, epochs: f64, batch_size: usize) -> usize {
    let per_epoch = n.div_ceil(batch_size.max(1)).max(1);
    ((epochs * per_epoch as f64).round() as usize).max(1)
}

/// The learning rate of batch `step` (0-based) of `total` under cosine annealing from `lr`
/// down to 0 (the last batch gets a small positive rate).
pub fn cosine_lr(lr: f64, step: usize, total: usize) -> f64 {
    let t = step as f64 / total.max(1) as f64;
    lr * 0.5 * (1.0 + (std::f64::consts::PI * t).cos())
}

/// Stochastic weight averaging over one training call: the running sum of the variables'
/// values at the ends of the epochs (and at the call's last batch) that lie in the call's
/// second half; [`WeightAverage::finish`] sets the variables to their mean.
pub struct WeightAverage {
    vars: Vec<Var>,
    sums: Vec<Tensor>,
    count: usize,
    per_epoch: usize,
    total: usize,
}

impl WeightAverage {
    /// For a call of `epochs` passes over `n` samples in batches of `batch_size`.
    pub fn new(vars: Vec<Var>, n: usize, epochs: f64, batch_size: usize) -> Self {
        Self {
            vars,
            sums: Vec::new(),
            count: 0,
            per_epoch: n.div_ceil(batch_size.max(1)).max(1),
            total: total_batches(n, epochs, batch_size),
        }
    }

    /// Snapshots taken so far.
    pub fn count(&self) -> usize {
        self.count
    }

    /// Call after batch `done` (1-based) of the call: adds the variables' values when the
    /// batch ends an epoch (or the call) in the call's second half.
    pub fn after_batch(&mut self, done: usize) -> Result<()> {
        let ends = done.is_multiple_of(self.per_epoch) || done == self.total;
        if !ends || 2 * done <= self.total {
            return Ok(());
        }
        if self.sums.is_empty() {
            // A copy: the optimizer updates the variables' storage in place.
            self.sums = self
                .vars
                .iter()
                .map(|v| v.as_tensor().copy())
                .collect::<candle_core::Result<_>>()?;
        } else {
            for (s, v) in self.sums.iter_mut().zip(&self.vars) {
                *s = (&*s + v.as_tensor())?;
            }
        }
        self.count += 1;
        Ok(())
    }

    /// Sets every variable to its mean over the snapshots (unchanged with fewer than two).
    pub fn finish(self) -> Result<()> {
        if self.count < 2 {
            return Ok(());
        }
        let k = self.count as f64;
        for (s, v) in self.sums.iter().zip(&self.vars) {
            v.set(&(s / k)?)?;
        }
        Ok(())
    }
}

pub fn train_batches(
    indices: &[usize],
    epochs: f64,
    batch_size: usize,
    seed: u64,
    tick: &mut TickFn<'_>,
    mut step: impl FnMut(&[usize], &mut Rng) -> Result<f32>,
) -> Result<f32> {
    let bs = batch_size.max(1);
    let per_epoch = indices.len().div_ceil(bs).max(1);
    let total = total_batches(indices.len(), epochs, bs);
    let whole_epochs = total.div_ceil(per_epoch);
    let mut rng = Rng::new(seed);
    let mut order = indices.to_vec();
    let mut done = 0;
    let mut last = (0.0f64, 0usize);
    for epoch in 0..whole_epochs {
        rng.shuffle(&mut order);
        last = (0.0, 0);
        for chunk in order.chunks(bs) {
            if done == total {
                break;
            }
            let l = step(chunk, &mut rng)?;
            if !l.is_finite() {
                return Ok(l);
            }
            last = (last.0 + l as f64, last.1 + 1);
            done += 1;
            tick(Tick {
                phase: Phase::Train,
                epoch,
                epochs: whole_epochs,
                batch: done,
                batches: total,
                loss: Some(l),
            })?;
        }
    }
    Ok((last.0 / last.1.max(1) as f64) as f32)
}

/// Call `score` on `indices` in chunks of `batch_size`, with a tick after each.
pub fn score_batches(
    indices: &[usize],
    batch_size: usize,
    tick: &mut TickFn<'_>,
    mut score: impl FnMut(&[usize]) -> Result<()>,
) -> Result<()> {
    let bs = batch_size.max(1);
    let batches = indices.len().div_ceil(bs);
    for (b, chunk) in indices.chunks(bs).enumerate() {
        score(chunk)?;
        tick(Tick {
            phase: Phase::Score,
            epoch: 0,
            epochs: 1,
            batch: b + 1,
            batches,
            loss: None,
        })?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cosine_starts_at_the_rate_halves_midway_and_ends_near_zero() {
        assert_eq!(cosine_lr(0.02, 0, 100), 0.02);
        assert!((cosine_lr(0.02, 50, 100) - 0.01).abs() < 1e-12);
        let last = cosine_lr(0.02, 99, 100);
        assert!(last > 0.0 && last < 0.0001, "{last}");
        let rates: Vec<f64> = (0..100).map(|t| cosine_lr(1.0, t, 100)).collect();
        assert!(rates.windows(2).all(|w| w[1] < w[0]), "decreasing");
        assert_eq!(total_batches(10, 1.5, 4), 5);
        assert_eq!(total_batches(10, 0.01, 4), 1);
        assert_eq!(total_batches(0, 3.0, 4), 3);
    }

    #[test]
    fn fractional_epochs_and_ticks() {
        let idx: Vec<usize> = (0..10).collect();
        let mut seen = Vec::new();
        let mut ticks = Vec::new();
        let l = train_batches(
            &idx,
            1.5,
            4,
            1,
            &mut |t| {
                ticks.push(t);
                Ok(())
            },
            |c, _| {
                seen.push(c.len());
                Ok(1.0)
            },
        )
        .unwrap();
        // 3 batches per epoch, 1.5 epochs = 5 batches (rounded), over 2 shuffled epochs
        assert_eq!(seen, vec![4, 4, 2, 4, 4]);
        assert_eq!(
            ticks.last().map(|t| (t.batch, t.batches, t.epochs)),
            Some((5, 5, 2))
        );
        assert_eq!(l, 1.0);
        let l = train_batches(&idx, 1.0, 4, 1, &mut |_| Ok(()), |_, _| Ok(f32::NAN)).unwrap();
        assert!(l.is_nan());
    }

    #[test]
    fn scoring_chunks() {
        let idx: Vec<usize> = (0..7).collect();
        let mut sizes = Vec::new();
        let mut n = 0;
        score_batches(
            &idx,
            3,
            &mut |_| {
                n += 1;
                Ok(())
            },
            |c| {
                sizes.push(c.len());
                Ok(())
            },
        )
        .unwrap();
        assert_eq!((sizes, n), (vec![3, 3, 1], 3));
    }

    /// A variable set to `value` (two elements: `value` and `-value`).
    fn set(v: &Var, value: f32) {
        let t = Tensor::new(&[value, -value], &candle_core::Device::Cpu).unwrap();
        v.set(&t).unwrap();
    }

    #[test]
    fn weight_average_is_the_mean_of_the_second_half_epoch_ends() {
        let v = Var::zeros(2, candle_core::DType::F32, &candle_core::Device::Cpu).unwrap();
        // 4 samples, batch 1, 4 epochs: 16 batches, epochs end at 4, 8, 12, 16; the second
        // half's are 12 and 16.
        let mut avg = WeightAverage::new(vec![v.clone()], 4, 4.0, 1);
        for done in 1..=16 {
            set(&v, done as f32);
            avg.after_batch(done).unwrap();
        }
        assert_eq!(avg.count(), 2);
        avg.finish().unwrap();
        assert_eq!(v.as_tensor().to_vec1::<f32>().unwrap(), vec![14.0, -14.0]);

        // 2.5 epochs of 4 batches: 10 batches; epoch ends 4, 8 and the last batch 10; the
        // second half's (after batch 5) are 8 and 10.
        let mut avg = WeightAverage::new(vec![v.clone()], 4, 2.5, 1);
        for done in 1..=10 {
            set(&v, done as f32);
            avg.after_batch(done).unwrap();
        }
        avg.finish().unwrap();
        assert_eq!(v.as_tensor().to_vec1::<f32>().unwrap(), vec![9.0, -9.0]);

        // One snapshot (a call shorter than two epochs' ends in its second half): unchanged.
        let mut avg = WeightAverage::new(vec![v.clone()], 4, 1.0, 1);
        for done in 1..=4 {
            set(&v, done as f32);
            avg.after_batch(done).unwrap();
        }
        assert_eq!(avg.count(), 1);
        avg.finish().unwrap();
        assert_eq!(v.as_tensor().to_vec1::<f32>().unwrap(), vec![4.0, -4.0]);
    }
}
