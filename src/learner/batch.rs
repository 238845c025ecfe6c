//! Building f32 batches from the u8 sample storage: each batch's values are converted once,
//! straight into the vector the tensor takes over (no staging copy).

use candle_core::{Device, Tensor};

use crate::data::Dataset;
use crate::error::Result;

/// The images of `idx` as an N x H x W x C f32 tensor in [0, 1], and their given labels.
pub fn batch(data: &Dataset, idx: &[usize], device: &Device) -> Result<(Tensor, Tensor)> {
    let s = data.shape;
    let mut pixels = Vec::with_capacity(idx.len() * s.len());
    for &i in idx {
        pixels.extend(data.image(i).iter().map(|&p| p as f32 * (1.0 / 255.0)));
    }
    let labels: Vec<u32> = idx.iter().map(|&i| data.label(i)).collect();
    let shape = (idx.len(), s.height, s.width, s.channels);
    // On the CPU the vectors become the tensors' storage; elsewhere they are copied over.
    let x = Tensor::from_vec(pixels, shape, device)?;
    let y = Tensor::from_vec(labels, idx.len(), device)?;
    Ok((x, y))
}
