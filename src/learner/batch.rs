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

/// The training targets of `idx` as a tensor: `targets`' classes where set
/// ([`crate::itlm::Learner::set_targets`]), else the given labels `y` unchanged. Errors when
/// `targets` does not hold one class under `classes` per sample of `data`.
pub fn with_targets(
    y: Tensor,
    targets: Option<&[u32]>,
    data: &Dataset,
    classes: usize,
    idx: &[usize],
) -> Result<Tensor> {
    let Some(t) = targets else {
        return Ok(y);
    };
    if t.len() != data.len() {
        return Err(crate::error::Error::Model(format!(
            "{} training targets for {} samples",
            t.len(),
            data.len()
        )));
    }
    let mut out = Vec::with_capacity(idx.len());
    for &i in idx {
        let c = t[i];
        if c as usize >= classes {
            return Err(crate::error::Error::Model(format!(
                "training target {c} of sample {i}, but only {classes} classes"
            )));
        }
        out.push(c);
    }
    Ok(Tensor::from_vec(out, idx.len(), y.device())?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::{ImageShape, Source};

    fn data() -> Dataset {
        Dataset::from_parts(
            "d",
            Source::Memory,
            vec!["a".into(), "b".into(), "c".into()],
            ImageShape::new(1, 1, 1),
            vec![0, 50, 100, 150],
            vec![0, 1, 2, 0],
            (0..4).map(|i| i.to_string()).collect(),
        )
        .unwrap()
    }

    #[test]
    fn targets_replace_the_given_labels_of_the_batch() {
        let d = data();
        let idx = [3, 1];
        let (_, y) = batch(&d, &idx, &Device::Cpu).unwrap();
        let given = with_targets(y.clone(), None, &d, 3, &idx).unwrap();
        assert_eq!(given.to_vec1::<u32>().unwrap(), vec![0, 1]);
        let t = [0, 2, 2, 1];
        let swapped = with_targets(y.clone(), Some(&t), &d, 3, &idx).unwrap();
        assert_eq!(swapped.to_vec1::<u32>().unwrap(), vec![1, 2]);
        let short = with_targets(y.clone(), Some(&t[..3]), &d, 3, &idx).unwrap_err();
        assert!(short
            .to_string()
            .contains("3 training targets for 4 samples"));
        let out_of_range = with_targets(y, Some(&[0, 0, 0, 3]), &d, 3, &idx).unwrap_err();
        assert!(out_of_range.to_string().contains("target 3 of sample 3"));
    }
}
