//! Helpers for tests, the crate's own and the integration tests under `tests/` (which cannot
//! reach `#[cfg(test)]` items): a fake backbone, synthetic EfficientNet-Lite0 weights with the
//! real names and shapes, and a `.npy` writer. Small and free of extra dependencies, so always
//! compiled; nothing in the app uses them.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};

use candle_core::{Device, Tensor};

use crate::error::Result;
use crate::learner::backbone::{lite0, Backbone, BackboneKind, ImageBatch, InputSpec, Outputs};

/// A backbone whose embedding is each image's per-channel mean (dim 3), at Lite0's
/// preprocessing with a 32-pixel side; it counts its calls (batches) and the images it embeds.
pub struct MeanColour {
    input: InputSpec,
    calls: AtomicUsize,
    images: AtomicUsize,
}

impl Default for MeanColour {
    fn default() -> Self {
        Self::new()
    }
}

impl MeanColour {
    pub fn new() -> Self {
        Self {
            input: BackboneKind::EfficientNetLite0
                .input_spec(Some(32))
                .expect("32 is a valid Lite0 side"),
            calls: AtomicUsize::new(0),
            images: AtomicUsize::new(0),
        }
    }

    /// Batches embedded so far.
    pub fn calls(&self) -> usize {
        self.calls.load(Ordering::SeqCst)
    }

    /// Images embedded so far.
    pub fn images(&self) -> usize {
        self.images.load(Ordering::SeqCst)
    }
}

impl Backbone for MeanColour {
    fn kind(&self) -> BackboneKind {
        BackboneKind::EfficientNetLite0
    }
    fn input(&self) -> &InputSpec {
        &self.input
    }
    fn embedding_dim(&self) -> usize {
        3
    }
    fn num_classes(&self) -> Option<usize> {
        None
    }
    fn engine_name(&self) -> String {
        "mean colour".into()
    }
    fn forward(&self, batch: &ImageBatch, _: bool) -> Result<Outputs> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        self.images.fetch_add(batch.n, Ordering::SeqCst);
        let px = batch.height * batch.width;
        let mut e = Vec::with_capacity(batch.n * 3);
        for img in batch.pixels.chunks_exact(px * 3) {
            for c in 0..3 {
                e.push(img.iter().skip(c).step_by(3).sum::<f32>() / px as f32);
            }
        }
        Ok(Outputs {
            embeddings: e,
            logits: None,
        })
    }
}

/// Random EfficientNet-Lite0 weights with every tensor of [`lite0::expected_tensors`] (the
/// classifier only `with_fc`): convolutions N(0, 1/fan_in), batch norms with random scale,
/// shift, mean and variance (so that folding them matters).
pub fn lite0_weights(seed: u64, with_fc: bool) -> HashMap<String, Tensor> {
    let mut rng = crate::rng::Rng::new(seed);
    let mut out = HashMap::new();
    for (name, shape) in lite0::expected_tensors() {
        if name.starts_with("_fc") && !with_fc {
            continue;
        }
        let n: usize = shape.iter().product();
        let (scale, offset, abs) = if name.starts_with("_fc.weight") {
            (0.03, 0.0, false)
        } else if name.starts_with("_fc.bias") {
            (0.1, 0.0, false)
        } else if shape.len() == 4 {
            let fan_in = (shape[1] * shape[2] * shape[3]) as f32;
            (1.0 / fan_in.sqrt(), 0.0, false)
        } else if name.ends_with(".running_var") {
            (0.1, 1.0, true)
        } else if name.ends_with(".running_mean") {
            (0.1, 0.0, false)
        } else if name.ends_with(".bias") {
            (0.2, 0.1, false)
        } else {
            // A batch norm's scale.
            (0.2, 1.0, false)
        };
        let v: Vec<f32> = (0..n)
            .map(|_| {
                let x = offset + scale * rng.normal();
                if abs {
                    x.abs()
                } else {
                    x
                }
            })
            .collect();
        let t = Tensor::from_vec(v, shape.as_slice(), &Device::Cpu)
            .expect("the length is the shape's product");
        out.insert(name, t);
    }
    out
}

/// The bytes of a `.npy` file (format 1.0, C order) of `shape` (numpy's text, e.g. `(3, 4)`)
/// with `descr` (`<f4`, `<f8`, `<i4`, ...) and the raw little-endian `data`.
pub fn npy(descr: &str, shape: &str, data: &[u8]) -> Vec<u8> {
    let mut h = format!("{{'descr': '{descr}', 'fortran_order': False, 'shape': {shape}, }}");
    while (10 + h.len() + 1) % 64 != 0 {
        h.push(' ');
    }
    h.push('\n');
    let mut b = b"\x93NUMPY\x01\x00".to_vec();
    b.extend_from_slice(&(h.len() as u16).to_le_bytes());
    b.extend_from_slice(h.as_bytes());
    b.extend_from_slice(data);
    b
}

/// `f32`s as little-endian bytes (a `.npy`'s `<f4` data).
pub fn f32_bytes(v: &[f32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}
