//! Building f32 batches from the u8 sample storage, reusing one buffer.

use candle_core::{Device, Tensor};

use crate::data::Dataset;
use crate::error::Result;

/// Reusable staging buffers for batches.
#[derive(Default)]
pub struct Batcher {
    pixels: Vec<f32>,
    labels: Vec<u32>,
}

impl Batcher {
    /// The images of `idx` as an N x H x W x C f32 tensor in [0, 1], and their given labels.
    pub fn batch(
        &mut self,
        data: &Dataset,
        idx: &[usize],
        device: &Device,
    ) -> Result<(Tensor, Tensor)> {
        let s = data.shape;
        let per = s.len();
        self.pixels.clear();
        self.pixels.reserve(idx.len() * per);
        self.labels.clear();
        for &i in idx {
            self.pixels
                .extend(data.image(i).iter().map(|&p| p as f32 * (1.0 / 255.0)));
            self.labels.push(data.label(i));
        }
        let x = Tensor::from_slice(
            &self.pixels,
            (idx.len(), s.height, s.width, s.channels),
            device,
        )?;
        let y = Tensor::from_slice(&self.labels, idx.len(), device)?;
        Ok((x, y))
    }
}
