//! A camera's JPEG decoded at a reduced DCT scale, as PIL's draft mode does: the inverse
//! transform run on the lowest frequencies only, at 1/2, 1/4 or 1/8 of each side. A
//! 12-megapixel photo decodes in about half the time at a quarter of each side, and what
//! follows (the image checks, the resize to the model's shape or a backbone's input) reads a
//! sixteenth of the pixels. Used by the image loader and by a backbone's preprocessing, each
//! with the short side it needs kept.

use std::path::Path;

use image::metadata::Orientation;
use image::DynamicImage;

use super::image_folder::{jpeg_is_complete, MAX_IMAGE_SIDE};
use super::quality::FULL_PIXELS;

/// The JPEG `bytes` decoded at the smallest DCT scale that keeps its shorter side at least
/// `min_short`, as stored (not turned), with the orientation its EXIF data asks for. None
/// for anything else, left to the full decoder with its limits and its words for errors: a
/// JPEG of [`FULL_PIXELS`] or fewer pixels (so every smaller image is decoded exactly as
/// before), one no reduced scale suits, a side over [`MAX_IMAGE_SIDE`], CMYK or 16-bit
/// samples, a truncated file (this decoder would fill the rest in grey), any decoding error
/// and the panics this decoder has on a few malformed headers.
pub fn decode_bytes(bytes: &[u8], min_short: u32) -> Option<(DynamicImage, Option<Orientation>)> {
    if !jpeg_is_complete(bytes) {
        return None;
    }
    decode_complete(bytes, min_short)
}

/// [`decode_bytes`] of bytes the caller has found complete ([`jpeg_is_complete`]: the loader
/// checks every JPEG before it decodes it).
pub(super) fn decode_complete(
    bytes: &[u8],
    min_short: u32,
) -> Option<(DynamicImage, Option<Orientation>)> {
    std::panic::catch_unwind(|| decode(bytes, min_short))
        .ok()
        .flatten()
}

/// Whether an image of `width x height` is large enough to be decoded at a reduced scale:
/// more than [`FULL_PIXELS`] (a camera's photo). Every smaller image is decoded in full.
pub fn is_large(width: u32, height: u32) -> bool {
    width as usize * height as usize > FULL_PIXELS
}

/// [`decode_bytes`] of the file at `path`, turned upright. Only the header is read first: a
/// file that is not such a JPEG is read no further (the full decoder reads it once).
pub fn load_upright(path: &Path, min_short: u32) -> Option<DynamicImage> {
    let suits = std::panic::catch_unwind(|| {
        let file = std::fs::File::open(path).ok()?;
        let mut head = jpeg_decoder::Decoder::new(std::io::BufReader::new(file));
        head.read_info().ok()?;
        reduction(&head.info()?, min_short)
    })
    .ok()
    .flatten();
    suits?;
    let bytes = std::fs::read(path).ok()?;
    let (mut img, o) = decode_bytes(&bytes, min_short)?;
    if let Some(o) = o {
        img.apply_orientation(o);
    }
    Some(img)
}

/// The reduction (8, 4 or 2: the largest) at which a JPEG of `info` is decoded for a shorter
/// side of at least `min_short`; None where the full decoder takes it.
fn reduction(info: &jpeg_decoder::ImageInfo, min_short: u32) -> Option<u32> {
    use jpeg_decoder::PixelFormat;
    let (w, h) = (info.width as u32, info.height as u32);
    if !is_large(w, h)
        || w > MAX_IMAGE_SIDE
        || h > MAX_IMAGE_SIDE
        || !matches!(info.pixel_format, PixelFormat::L8 | PixelFormat::RGB24)
    {
        return None;
    }
    let short = w.min(h);
    [8u32, 4, 2]
        .into_iter()
        .find(|&f| short / f >= min_short.max(1))
}

fn decode(bytes: &[u8], min_short: u32) -> Option<(DynamicImage, Option<Orientation>)> {
    use jpeg_decoder::PixelFormat;
    let mut dec = jpeg_decoder::Decoder::new(std::io::Cursor::new(bytes));
    dec.read_info().ok()?;
    let info = dec.info()?;
    let factor = reduction(&info, min_short)?;
    let (w, h) = (info.width as u32, info.height as u32);
    let (sw, sh) = dec
        .scale(w.div_ceil(factor) as u16, h.div_ceil(factor) as u16)
        .ok()?;
    let pixels = dec.decode().ok()?;
    let (sw, sh) = (sw as u32, sh as u32);
    let img = match info.pixel_format {
        PixelFormat::L8 => DynamicImage::ImageLuma8(image::GrayImage::from_raw(sw, sh, pixels)?),
        _ => DynamicImage::ImageRgb8(image::RgbImage::from_raw(sw, sh, pixels)?),
    };
    let o = dec.exif_data().and_then(Orientation::from_exif_chunk);
    Some((img, o))
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// JPEG bytes of `img` with an EXIF orientation tag (`orientation`, 1 - 8) in an APP1
    /// segment after the start-of-image marker.
    pub(crate) fn jpeg_with_orientation(img: &image::RgbImage, orientation: u16) -> Vec<u8> {
        let mut plain = Vec::new();
        image::codecs::jpeg::JpegEncoder::new_with_quality(&mut plain, 90)
            .encode_image(img)
            .unwrap();
        // Little-endian TIFF: header, one IFD of one SHORT entry (0x0112), no next IFD.
        let mut tiff = b"II*\0\x08\0\0\0".to_vec();
        tiff.extend_from_slice(&1u16.to_le_bytes());
        tiff.extend_from_slice(&0x0112u16.to_le_bytes());
        tiff.extend_from_slice(&3u16.to_le_bytes());
        tiff.extend_from_slice(&1u32.to_le_bytes());
        tiff.extend_from_slice(&orientation.to_le_bytes());
        tiff.extend_from_slice(&[0, 0, 0, 0, 0, 0]);
        let mut app1 = b"Exif\0\0".to_vec();
        app1.extend_from_slice(&tiff);
        let mut out = plain[..2].to_vec();
        out.extend_from_slice(&[0xFF, 0xE1]);
        out.extend_from_slice(&((app1.len() + 2) as u16).to_be_bytes());
        out.extend_from_slice(&app1);
        out.extend_from_slice(&plain[2..]);
        out
    }

    /// A 2600 x 1700 (4.4 megapixel) test photo: smooth gradients and hard edges.
    pub(crate) fn photo() -> image::RgbImage {
        image::RgbImage::from_fn(2600, 1700, |x, y| {
            let edge = if (x / 300 + y / 300) % 2 == 0 { 40 } else { 0 };
            image::Rgb([
                (x * 200 / 2600) as u8 + edge,
                (y * 200 / 1700) as u8,
                ((x + y) * 150 / 4300) as u8 + edge,
            ])
        })
    }

    /// The smallest scale that keeps the short side asked for; nothing for small images,
    /// other formats or broken files.
    #[test]
    fn the_scale_keeps_the_short_side_asked_for_and_leaves_the_rest_to_the_full_decoder() {
        let dir = tempfile::tempdir().unwrap();
        let bytes = jpeg_with_orientation(&photo(), 6);
        // 1700 / 2 = 850 >= 500 > 1700 / 4.
        let (img, o) = decode_bytes(&bytes, 500).expect("a reduced decode");
        assert_eq!((img.width(), img.height()), (1300, 850));
        assert_eq!(o, Some(Orientation::Rotate90));
        let (img, _) = decode_bytes(&bytes, 200).expect("a reduced decode");
        assert_eq!(
            (img.width(), img.height()),
            (325, 213),
            "an eighth, rounded up"
        );
        assert!(decode_bytes(&bytes, 1000).is_none(), "no scale keeps 1000");
        let p = dir.path().join("photo.jpg");
        std::fs::write(&p, &bytes).unwrap();
        let upright = load_upright(&p, 500).expect("a reduced decode");
        assert_eq!((upright.width(), upright.height()), (850, 1300));
        // Under 4 megapixels, a PNG, a truncated JPEG, a missing file: None, no panic.
        let smaller =
            image::imageops::resize(&photo(), 1600, 1000, image::imageops::FilterType::Triangle);
        assert!(decode_bytes(&jpeg_with_orientation(&smaller, 1), 100).is_none());
        let png = dir.path().join("photo.png");
        photo().save(&png).unwrap();
        assert!(load_upright(&png, 100).is_none());
        assert!(decode_bytes(&std::fs::read(&png).unwrap(), 100).is_none());
        assert!(decode_bytes(&bytes[..bytes.len() / 3], 100).is_none());
        assert!(load_upright(&dir.path().join("none.jpg"), 100).is_none());
        // Garbage after a JPEG's markers: an error or a panic inside, None outside.
        let mut junk = bytes[..600].to_vec();
        junk.extend_from_slice(&[0xFF, 0xD9]);
        assert!(decode_bytes(&junk, 100).is_none());
    }

    /// The loader decodes a camera-sized JPEG at a reduced scale: the sample's pixels, its
    /// image-check scores and its perceptual hash stay those of the full decode (the same
    /// photo stored losslessly, as the full decoder reads it), and the file's own size and
    /// turn are reported as before.
    #[test]
    fn the_loader_reads_a_large_jpeg_at_a_reduced_scale_with_the_same_checks_and_size() {
        use crate::data::quality::{ImageIssue, ImageIssues};
        use crate::data::{image_folder, LoadOptions};
        let dir = tempfile::tempdir().unwrap();
        let bytes = jpeg_with_orientation(&photo(), 6);
        let mut full = image::load_from_memory(&bytes).unwrap();
        full.apply_orientation(Orientation::Rotate90);
        for (class, file) in [("a", "photo.jpg"), ("b", "photo.png")] {
            std::fs::create_dir_all(dir.path().join(class)).unwrap();
            let p = dir.path().join(class).join(file);
            if file.ends_with(".jpg") {
                std::fs::write(&p, &bytes).unwrap();
            } else {
                full.save(&p).unwrap();
            }
        }
        // A reduced decode at the loader's short side: 1700 / 2 = 850 >= 512 > 1700 / 4.
        let (small, _) = decode_bytes(&bytes, 512).expect("reduced");
        assert_eq!(small.width(), 1300);
        let opts = LoadOptions {
            test_split: false,
            ..LoadOptions::default()
        };
        let data = image_folder::load(dir.path(), &opts).unwrap();
        assert_eq!(data.len(), 2);
        let (jpg, png) = (0, 1);
        let o = data.originals();
        assert_eq!(
            (o[jpg].width, o[jpg].height, o[jpg].turned),
            (1700, 2600, true)
        );
        assert_eq!(
            (o[png].width, o[png].height, o[png].turned),
            (1700, 2600, false)
        );
        let (a, b) = (data.image(jpg), data.image(png));
        let diff = a
            .iter()
            .zip(b)
            .map(|(&x, &y)| (x as f64 - y as f64).abs())
            .sum::<f64>()
            / a.len() as f64;
        eprintln!("mean pixel difference {diff:.3} grey levels");
        assert!(diff < 1.5, "mean pixel difference {diff}");
        // Not the same pixels: the JPEG took the reduced path (the full decoder gives the PNG's).
        assert!(diff > 0.0, "the JPEG was decoded in full");
        let issues = ImageIssues::find(&data);
        let (sj, sp) = (issues.stats[jpg], issues.stats[png]);
        for issue in ImageIssue::ALL {
            let (x, y) = (issues.score(jpg, issue), issues.score(png, issue));
            eprintln!("{}: {x:?} {y:?}", issue.key());
            if let (Some(x), Some(y)) = (x, y) {
                assert!((x - y).abs() < 0.03, "{}: {x} vs {y}", issue.key());
            }
            assert_eq!(
                issues.has(jpg, issue),
                issues.has(png, issue),
                "{}",
                issue.key()
            );
        }
        let hamming = (sj.phash ^ sp.phash).count_ones();
        assert!(hamming <= 4, "perceptual hashes {hamming} bits apart");
        assert!(
            issues.copies_of(jpg, false).contains(&png),
            "near duplicates"
        );
    }
}
