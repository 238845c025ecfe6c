//! Images into a backbone's input: decoding with limits (a decompression bomb is refused
//! before it allocates), grey / RGBA / 16-bit to RGB, an aspect-preserving resize of the
//! shorter side and a centre crop, the backbone's normalisation; batches decoded in parallel.

use std::path::{Path, PathBuf};

use image::imageops::FilterType;
use image::{DynamicImage, ImageDecoder, ImageReader, Limits};
use rayon::prelude::*;

use super::InputSpec;
use crate::error::{Error, Result};

/// Largest width or height decoded.
pub const MAX_SIDE: u32 = 16_384;
/// Largest decoded image in memory (bytes).
pub const MAX_ALLOC: u64 = 512 << 20;
/// Smallest width or height accepted. A tiny image (even 1x1, which the image-folder loader
/// accepts too) is resized up like any other: refusing it here would stop a whole run over a
/// folder the loader took.
pub const MIN_SIDE: u32 = 1;
/// Longest side over shorter side beyond which the long side is cut (centred) before resizing,
/// so a thin strip never grows into a huge resized image. The centre crop only keeps a square.
const MAX_ASPECT: u32 = 3;

/// Preprocessed images: n x height x width x 3 (NHWC), RGB, normalised.
#[derive(Clone, Debug, PartialEq)]
pub struct ImageBatch {
    pub n: usize,
    pub height: usize,
    pub width: usize,
    pub pixels: Vec<f32>,
}

impl ImageBatch {
    /// A batch of the `images` (each `height x width x 3` values).
    pub fn from_images(height: usize, width: usize, images: &[Vec<f32>]) -> Result<Self> {
        let len = height * width * 3;
        let mut pixels = Vec::with_capacity(images.len() * len);
        for (i, img) in images.iter().enumerate() {
            if img.len() != len {
                return Err(Error::Config(format!(
                    "image {i} of the batch has {} values, expected {len}",
                    img.len()
                )));
            }
            pixels.extend_from_slice(img);
        }
        Ok(Self {
            n: images.len(),
            height,
            width,
            pixels,
        })
    }
}

/// Decodes `path` with [`MAX_SIDE`] / [`MAX_ALLOC`] limits, in its own colour type (converted
/// to RGB after the resize, so a big grey image is not tripled first); an image with no
/// pixels is an error.
pub fn load_image(path: &Path) -> Result<DynamicImage> {
    let mut reader = ImageReader::open(path)
        .map_err(|e| Error::io(path, e))?
        .with_guessed_format()
        .map_err(|e| Error::io(path, e))?;
    let mut limits = Limits::default();
    limits.max_image_width = Some(MAX_SIDE);
    limits.max_image_height = Some(MAX_SIDE);
    limits.max_alloc = Some(MAX_ALLOC);
    let limits_copy = limits.clone();
    reader.limits(limits);
    // As `ImageReader::decode` does: the image's own buffer counts against the allocation
    // limit, and the decoder gets what is left of it.
    let img = reader.into_decoder().and_then(|mut dec| {
        let mut limits = limits_copy;
        limits.reserve(dec.total_bytes())?;
        dec.set_limits(limits)?;
        crate::data::image_folder::decode_upright(dec)
    });
    let img = img.map_err(|e| match e {
        image::ImageError::Limits(_) => Error::data(
            path,
            format!(
                "image too large to decode (limits: {MAX_SIDE} pixels a side, {} MiB): {e}",
                MAX_ALLOC >> 20
            ),
        ),
        e => Error::data(path, format!("cannot decode image: {e}")),
    })?;
    check_size(path, img.width(), img.height())?;
    Ok(img)
}

fn check_size(path: &Path, w: u32, h: u32) -> Result<()> {
    if w < MIN_SIDE || h < MIN_SIDE {
        return Err(Error::data(
            path,
            format!("image of {w}x{h} pixels is too small (needs at least {MIN_SIDE}x{MIN_SIDE})"),
        ));
    }
    Ok(())
}

/// `img` as the backbone's input (`res x res x 3` values, NHWC): the shorter side resized to
/// `spec.resize_shorter_to` (bilinear with antialiasing, as torchvision's `Resize`; from 8
/// times that size a box reduction first, as PIL's `reducing_gap`), the centre
/// `res x res` cropped, converted to RGB8 (grey repeated, alpha dropped, 16-bit scaled),
/// `(v / 255 - mean) / std`.
pub fn preprocess(img: &DynamicImage, spec: &InputSpec) -> Vec<f32> {
    let (w, h) = (img.width(), img.height());
    let short = w.min(h).max(1);
    // A thin strip: keep only the centre of its long side (MAX_ASPECT times the short side).
    let cut = short.saturating_mul(MAX_ASPECT);
    let cut_img;
    let img = if w > cut || h > cut {
        let (cw, ch) = (w.min(cut), h.min(cut));
        cut_img = img.crop_imm((w - cw) / 2, (h - ch) / 2, cw, ch);
        &cut_img
    } else {
        img
    };
    let (w, h) = (img.width(), img.height());
    let target = spec.resize_shorter_to.max(spec.resolution) as u64;
    // torchvision: the shorter side becomes `target`, the other int(target * long / short).
    let (nw, nh) = if w <= h {
        (target, target * h as u64 / w as u64)
    } else {
        (target * w as u64 / h as u64, target)
    };
    // A large photo is box-reduced first (8 times or more; `data::reduce`): the filter then
    // reads a few pixels per output pixel instead of up to a hundred.
    let reduced = crate::data::reduce::reduce_for_resize(img, (nw as u32, nh as u32));
    let img = reduced.as_ref().unwrap_or(img);
    let resized = img
        .resize_exact(nw as u32, nh as u32, FilterType::Triangle)
        .into_rgb8();
    let res = spec.resolution as u32;
    // torchvision's CenterCrop: top-left at round((size - crop) / 2).
    let x0 = ((nw as f64 - res as f64) / 2.0).round() as u32;
    let y0 = ((nh as f64 - res as f64) / 2.0).round() as u32;
    let n = spec.normalization;
    let scale: [f32; 3] = std::array::from_fn(|c| 1.0 / (255.0 * n.std[c]));
    let shift: [f32; 3] = std::array::from_fn(|c| -n.mean[c] / n.std[c]);
    let mut out = Vec::with_capacity((res * res * 3) as usize);
    for y in y0..y0 + res {
        for x in x0..x0 + res {
            let p = resized.get_pixel(x, y).0;
            for c in 0..3 {
                out.push(p[c] as f32 * scale[c] + shift[c]);
            }
        }
    }
    out
}

/// [`load_image`] + [`preprocess`]; a JPEG of a camera's size decoded at a reduced DCT scale
/// that keeps twice the resize target ([`crate::data::draft`]; PIL's `thumbnail` drafts at
/// twice its size, its `reducing_gap`). Photos of 4 megapixels or fewer are decoded in full,
/// so that their inputs stay torchvision's.
pub fn preprocess_file(path: &Path, spec: &InputSpec) -> Result<Vec<f32>> {
    let need = spec.resize_shorter_to.max(spec.resolution) as u32 * DRAFT_GAP;
    if let Some(img) = crate::data::draft::load_upright(path, need) {
        return Ok(preprocess(&img, spec));
    }
    Ok(preprocess(&load_image(path)?, spec))
}

/// How much larger than the backbone's resize target a JPEG decoded at a reduced scale stays.
const DRAFT_GAP: u32 = 2;

/// Decodes and preprocesses `paths` in parallel (rayon): each file's input or its error, in
/// order. Only the threads' current images are held at full size.
pub fn decode_batch(paths: &[PathBuf], spec: &InputSpec) -> Vec<Result<Vec<f32>>> {
    paths
        .par_iter()
        .with_max_len(1)
        .map(|p| preprocess_file(p, spec))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::learner::backbone::BackboneKind;

    fn spec(res: usize) -> InputSpec {
        BackboneKind::EfficientNetLite0
            .input_spec(Some(res))
            .unwrap()
    }

    use crate::data::draft::tests::{jpeg_with_orientation, photo};

    /// A camera-sized JPEG is decoded at a reduced DCT scale for a backbone, upright by its
    /// EXIF orientation as the full decode is, and gives nearly the same input (the scale
    /// rules and the files left to the full decoder: `data::draft`'s tests).
    #[test]
    fn a_large_jpeg_decodes_at_a_reduced_scale_upright_and_close_to_the_full_decode() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("photo.jpg");
        std::fs::write(&p, jpeg_with_orientation(&photo(), 6)).unwrap();
        let full = load_image(&p).unwrap();
        assert_eq!(
            (full.width(), full.height()),
            (1700, 2600),
            "turned by EXIF 6"
        );
        // For a 224 input (resized to 256, twice that kept): 1700 / 2 = 850 >= 512, / 4 not.
        let s = spec(224);
        let need = s.resize_shorter_to as u32 * DRAFT_GAP;
        let small = crate::data::draft::load_upright(&p, need).expect("a reduced decode");
        assert_eq!((small.width(), small.height()), (850, 1300));
        let (a, b) = (preprocess(&full, &s), preprocess(&small, &s));
        let mean_diff = a.iter().zip(&b).map(|(x, y)| (x - y).abs()).sum::<f32>() / a.len() as f32;
        // Normalised units (about 1 / 58 per grey level): measured 0.00045.
        eprintln!("mean difference {mean_diff}");
        assert!(mean_diff < 0.01, "mean difference {mean_diff}");
        assert_eq!(preprocess_file(&p, &s).unwrap(), b);
    }

    #[test]
    fn grey_images_become_three_equal_normalised_channels() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("g.png");
        image::GrayImage::from_pixel(40, 30, image::Luma([255]))
            .save(&p)
            .unwrap();
        let v = preprocess_file(&p, &spec(32)).unwrap();
        assert_eq!(v.len(), 32 * 32 * 3);
        // (1 - 127/255) / (128/255) = 128/128.
        assert!(v.iter().all(|x| (x - 1.0).abs() < 1e-6), "{:?}", &v[..3]);
    }

    #[test]
    fn the_centre_crop_keeps_the_middle_of_the_long_side() {
        // 300 x 100: left third red, middle green, right blue. The crop of the resized
        // (3 x 37) x 37 image is the middle third: green.
        let img = image::RgbImage::from_fn(300, 100, |x, _| match x / 100 {
            0 => image::Rgb([255, 0, 0]),
            1 => image::Rgb([0, 255, 0]),
            _ => image::Rgb([0, 0, 255]),
        });
        let s = spec(32);
        assert_eq!(s.resize_shorter_to, 37);
        let v = preprocess(&DynamicImage::ImageRgb8(img), &s);
        let (lo, hi) = (-127.0 / 128.0, 1.0);
        for px in v.chunks_exact(3) {
            assert!(
                (px[0] - lo).abs() < 1e-6 && (px[1] - hi).abs() < 1e-6 && (px[2] - lo).abs() < 1e-6
            );
        }
    }

    #[test]
    fn tiny_images_are_resized_and_corrupt_and_huge_ones_refused_with_the_reason() {
        let dir = tempfile::tempdir().unwrap();
        let one = dir.path().join("one.png");
        image::RgbImage::from_pixel(1, 1, image::Rgb([255, 255, 255]))
            .save(&one)
            .unwrap();
        // A single pixel is resized up: a white input.
        let v = preprocess_file(&one, &spec(32)).unwrap();
        assert_eq!(v.len(), 32 * 32 * 3);
        assert!(v.iter().all(|x| (x - 1.0).abs() < 1e-6), "{:?}", &v[..3]);

        let bad = dir.path().join("bad.jpg");
        std::fs::write(&bad, b"\xff\xd8\xff\xe0 this is not really a jpeg").unwrap();
        let e = preprocess_file(&bad, &spec(224)).unwrap_err().to_string();
        assert!(
            e.contains("bad.jpg") && e.contains("cannot decode image"),
            "{e}"
        );

        // A PNG header that claims 100000 x 100000 pixels: refused before any allocation.
        let bomb = dir.path().join("bomb.png");
        let mut png = Vec::new();
        png.extend_from_slice(b"\x89PNG\r\n\x1a\n");
        let mut ihdr = b"IHDR".to_vec();
        ihdr.extend_from_slice(&100_000u32.to_be_bytes());
        ihdr.extend_from_slice(&100_000u32.to_be_bytes());
        ihdr.extend_from_slice(&[8, 2, 0, 0, 0]);
        png.extend_from_slice(&13u32.to_be_bytes());
        png.extend_from_slice(&ihdr);
        png.extend_from_slice(&crc32fast::hash(&ihdr).to_be_bytes());
        std::fs::write(&bomb, &png).unwrap();
        let e = preprocess_file(&bomb, &spec(224)).unwrap_err().to_string();
        assert!(e.contains("bomb.png") && e.contains("too large"), "{e}");

        let e = preprocess_file(&dir.path().join("none.png"), &spec(224))
            .unwrap_err()
            .to_string();
        assert!(e.contains("none.png: not found"), "{e}");
    }

    #[test]
    fn a_10000_pixel_square_is_decoded_and_reduced() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("big.png");
        // 10000 x 10000 grey with a white centre square (the crop's middle).
        let img = image::GrayImage::from_fn(10_000, 10_000, |x, y| {
            let c = (4_000..6_000).contains(&x) && (4_000..6_000).contains(&y);
            image::Luma([if c { 255 } else { 0 }])
        });
        img.save(&p).unwrap();
        let v = preprocess_file(&p, &spec(112)).unwrap();
        assert_eq!(v.len(), 112 * 112 * 3);
        // Centre pixel white, corner black.
        let at = |x: usize, y: usize| v[(y * 112 + x) * 3];
        assert!((at(56, 56) - 1.0).abs() < 1e-6 && (at(0, 0) + 127.0 / 128.0).abs() < 1e-6);
    }

    #[test]
    fn a_batch_keeps_each_files_result_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let ok = dir.path().join("ok.png");
        image::RgbImage::from_pixel(20, 20, image::Rgb([0, 0, 0]))
            .save(&ok)
            .unwrap();
        let missing = dir.path().join("missing.png");
        let r = decode_batch(&[ok.clone(), missing, ok], &spec(32));
        assert!(r[0].is_ok() && r[1].is_err() && r[2].is_ok());
    }
}
