//! Building f32 batches from the u8 sample storage: each batch's values are converted once,
//! straight into the vector the tensor takes over (no staging copy).

use candle_core::{Device, Tensor};

use crate::data::Dataset;
use crate::error::Result;
use crate::itlm::Augment;
use crate::rng::Rng;

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

/// Like [`batch`], each image augmented as `augment` says ([`Augment`]: moved by up to `shift`
/// pixels in each direction, its edge pixels repeated; with `flip`, mirrored left-right at even
/// odds), the draws from `rng`.
pub fn batch_augmented(
    data: &Dataset,
    idx: &[usize],
    device: &Device,
    rng: &mut Rng,
    augment: Augment,
) -> Result<(Tensor, Tensor)> {
    let (shift, flip) = (augment.shift as usize, augment.flip);
    let s = data.shape;
    let (h, w, c) = (s.height, s.width, s.channels);
    let mut pixels = Vec::with_capacity(idx.len() * s.len());
    let span = 2 * shift + 1;
    for &i in idx {
        let img = data.image(i);
        let dy = rng.below(span) as isize - shift as isize;
        let dx = rng.below(span) as isize - shift as isize;
        let mirror = flip && rng.below(2) == 1;
        for y in 0..h {
            let sy = (y as isize - dy).clamp(0, h as isize - 1) as usize;
            for x in 0..w {
                let x0 = if mirror { w - 1 - x } else { x };
                let sx = (x0 as isize - dx).clamp(0, w as isize - 1) as usize;
                let at = (sy * w + sx) * c;
                pixels.extend(img[at..at + c].iter().map(|&p| p as f32 * (1.0 / 255.0)));
            }
        }
    }
    let labels: Vec<u32> = idx.iter().map(|&i| data.label(i)).collect();
    let x = Tensor::from_vec(pixels, (idx.len(), h, w, c), device)?;
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

    /// A 7 x 5 image, one channel, a single bright pixel at (row 3, column 1).
    fn dot() -> Dataset {
        let mut px = vec![0u8; 35];
        px[3 * 5 + 1] = 255;
        Dataset::from_parts(
            "dot",
            Source::Memory,
            vec!["a".into(), "b".into()],
            ImageShape::new(7, 5, 1),
            px,
            vec![1],
            vec!["0".into()],
        )
        .unwrap()
    }

    /// Where the bright pixels of each augmented copy of the dot are.
    fn dots(a: Augment, draws: usize) -> Vec<Vec<(usize, usize)>> {
        let d = dot();
        let mut rng = Rng::new(7);
        let idx = vec![0; draws];
        let (x, y) = batch_augmented(&d, &idx, &Device::Cpu, &mut rng, a).unwrap();
        assert_eq!(x.dims(), &[draws, 7, 5, 1]);
        assert_eq!(y.to_vec1::<u32>().unwrap(), vec![1; draws]);
        let v: Vec<f32> = x.flatten_all().unwrap().to_vec1().unwrap();
        v.chunks(35)
            .map(|img| {
                (0..35)
                    .filter(|&j| img[j] > 0.5)
                    .map(|j| (j / 5, j % 5))
                    .collect()
            })
            .collect()
    }

    #[test]
    fn augmentation_moves_and_mirrors_the_training_images() {
        // Off: the images as they are, the same as an unaugmented batch.
        let (plain, _) = batch(&dot(), &[0], &Device::Cpu).unwrap();
        let mut rng = Rng::new(1);
        let (off, _) = batch_augmented(&dot(), &[0], &Device::Cpu, &mut rng, Augment::OFF).unwrap();
        let flat = |t: &Tensor| t.flatten_all().unwrap().to_vec1::<f32>().unwrap();
        assert_eq!(flat(&off), flat(&plain));
        // Shift 2: the dot moves by -2 to 2 rows and columns, every move drawn over 400
        // copies: rows 1 - 5, columns 0 - 3; a move of 2 to the left takes it off the image
        // (the right edge's dark column repeats in its place), about a fifth of the copies.
        let moved = dots(Augment::SHIFT, 400);
        let mut seen = std::collections::BTreeSet::new();
        for d in &moved {
            assert!(d.len() <= 1, "{d:?}");
            if let Some(&(r, c)) = d.first() {
                assert!((1..=5).contains(&r) && c <= 3, "{d:?}");
                seen.insert((r, c));
            }
        }
        assert_eq!(seen.len(), 5 * 4, "rows 1-5 x columns 0-3: {seen:?}");
        let gone = moved.iter().filter(|d| d.is_empty()).count();
        assert!((40..=120).contains(&gone), "{gone} of 400 moved off");
        // Flip alone: the dot is at column 1 or, mirrored, column 3, about half of each.
        let flipped = dots(
            Augment {
                shift: 0,
                flip: true,
            },
            400,
        );
        let mirrored = flipped.iter().filter(|d| d == &&vec![(3, 3)]).count();
        let kept = flipped.iter().filter(|d| d == &&vec![(3, 1)]).count();
        assert_eq!(mirrored + kept, 400);
        assert!(
            (150..=250).contains(&mirrored),
            "{mirrored} of 400 mirrored"
        );
    }
}
