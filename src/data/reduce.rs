//! A box reduction before a large downscale, as PIL's `Image.resize` does with `reducing_gap`:
//! a 12-megapixel photo brought to 64 pixels (the loader) or to 256 (a backbone's input) first
//! has each k x k block averaged, so the antialiasing filter that follows reads 16 to 100 times
//! fewer pixels. `image`'s filtered resize took about 40% of the time of embedding a folder of
//! phone photos, each resize some 50 ms.

use image::{DynamicImage, ImageBuffer, Pixel};

/// The smallest downscale factor (on the axis that shrinks least) that is reduced first; below
/// it, images go to the filter as they are.
pub const MIN_FACTOR: u32 = 8;

/// The block side for bringing `from` pixels to `to` (both `(width, height)`): a quarter of the
/// downscale factor on the axis that shrinks least, so the filter still reads 4 or more
/// reduced pixels per output pixel; 1 (no reduction) under [`MIN_FACTOR`].
pub fn block_for(from: (u32, u32), to: (u32, u32)) -> u32 {
    let f = (from.0 / to.0.max(1)).min(from.1 / to.1.max(1));
    if f < MIN_FACTOR {
        1
    } else {
        f / 4
    }
}

/// `img` with each k x k block averaged (rounded; the blocks of the last columns and rows
/// hold what is left), k from [`block_for`] towards `to`, in its own 8-bit colour type (16-bit
/// and float images as 8-bit RGB or grey, as both callers convert them anyway). None where k
/// is 1.
pub fn reduce_for_resize(img: &DynamicImage, to: (u32, u32)) -> Option<DynamicImage> {
    let k = block_for((img.width(), img.height()), to) as usize;
    if k < 2 {
        return None;
    }
    // 8-bit images are read in place, alpha and all (the caller drops it after the resize);
    // 16-bit and float ones are converted to 8 bits first, as the callers would.
    Some(match img {
        DynamicImage::ImageLuma8(b) => reduced(b, k).into(),
        DynamicImage::ImageLumaA8(b) => reduced(b, k).into(),
        DynamicImage::ImageRgb8(b) => reduced(b, k).into(),
        DynamicImage::ImageRgba8(b) => reduced(b, k).into(),
        _ if img.color().has_color() => reduced(&img.to_rgb8(), k).into(),
        _ => reduced(&img.to_luma8(), k).into(),
    })
}

/// [`reduce`] of an 8-bit image buffer, in its own pixel type.
fn reduced<P: Pixel<Subpixel = u8>>(
    b: &ImageBuffer<P, Vec<u8>>,
    k: usize,
) -> ImageBuffer<P, Vec<u8>> {
    let c = P::CHANNEL_COUNT as usize;
    let (rw, rh, px) = reduce(b.as_raw(), b.width() as usize, b.height() as usize, c, k);
    ImageBuffer::from_raw(rw, rh, px).expect("sized to fit")
}

/// The k x k block means of a `w x h` image of `c` (1 to 4) interleaved channels: the block's
/// rows summed into one row, then each block's columns.
fn reduce(src: &[u8], w: usize, h: usize, c: usize, k: usize) -> (u32, u32, Vec<u8>) {
    let (rw, rh) = (w.div_ceil(k), h.div_ceil(k));
    let row = w * c;
    let mut acc = vec![0u32; row];
    let mut out = Vec::with_capacity(rw * rh * c);
    for by in 0..rh {
        let rows = by * k..((by + 1) * k).min(h);
        let nr = rows.len();
        acc.fill(0);
        for y in rows {
            for (a, &v) in acc.iter_mut().zip(&src[y * row..(y + 1) * row]) {
                *a += v as u32;
            }
        }
        for (bx, block) in acc.chunks(k * c).enumerate() {
            let n = (nr * block.len() / c) as u32;
            // k rows of 255 fit a u32 (k is at most 16384 / 4); k x k of them need a u64.
            let mut s = [0u64; 4];
            for px in block.chunks_exact(c) {
                for (t, &v) in s.iter_mut().zip(px) {
                    *t += v as u64;
                }
            }
            debug_assert!(bx < rw);
            let n = n as u64;
            out.extend(s[..c].iter().map(|&t| ((t + n / 2) / n) as u8));
        }
    }
    (rw as u32, rh as u32, out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_only_from_eight_times_and_leave_four_for_the_filter() {
        assert_eq!(block_for((4032, 3024), (64, 48)), 15);
        assert_eq!(block_for((4032, 3024), (341, 256)), 2);
        // The photo crops of README's rows (up to 480 px to 64) are not reduced.
        assert_eq!(block_for((480, 400), (64, 53)), 1);
        assert_eq!(block_for((512, 512), (64, 64)), 2);
        assert_eq!(block_for((28, 28), (28, 28)), 1);
        assert_eq!(block_for((100, 100), (0, 0)), 25);
    }

    #[test]
    fn block_means_round_and_partial_edge_blocks_average_what_they_hold() {
        // 5 x 3 grey, k = 2: blocks of 2x2, 1x2 at the right, 2x1 at the bottom, 1x1 corner.
        let src = [
            0, 10, 20, 30, 40, //
            1, 11, 21, 31, 41, //
            100, 101, 102, 103, 104,
        ];
        let (w, h, out) = reduce(&src, 5, 3, 1, 2);
        assert_eq!((w, h), (3, 2));
        assert_eq!(out, vec![6, 26, 41, 101, 103, 104]);
        // RGBA stays RGBA, read in place (no 8-bit RGB copy of a large photo first).
        let rgba = image::RgbaImage::from_pixel(64, 48, image::Rgba([10, 20, 30, 128]));
        let r = reduce_for_resize(&DynamicImage::ImageRgba8(rgba), (8, 6)).expect("8 times");
        assert_eq!((r.width(), r.height()), (32, 24));
        assert_eq!(
            r.as_rgba8().map(|b| b.get_pixel(5, 5).0),
            Some([10, 20, 30, 128])
        );
        // RGB channels stay apart.
        let rgb: Vec<u8> = (0..4).flat_map(|_| [10, 20, 255]).collect();
        assert_eq!(reduce(&rgb, 2, 2, 3, 2).2, vec![10, 20, 255]);
    }

    #[test]
    fn a_reduced_photo_resizes_to_nearly_the_same_pixels() {
        // A smooth 2000 x 1200 gradient with a stripe pattern, brought to 64 x 38 directly
        // and through the reduction: the antialiased results agree to a few levels.
        let img = image::RgbImage::from_fn(2000, 1200, |x, y| {
            let stripe = if (x / 40 + y / 40) % 2 == 0 { 60 } else { 0 };
            image::Rgb([(x / 8) as u8, (y / 5) as u8, 100 + stripe])
        });
        let img = DynamicImage::ImageRgb8(img);
        let filter = image::imageops::FilterType::Triangle;
        let direct = img.resize_exact(64, 38, filter).into_rgb8();
        let reduced = reduce_for_resize(&img, (64, 38)).expect("31 times smaller");
        assert_eq!((reduced.width(), reduced.height()), (286, 172));
        let via = reduced.resize_exact(64, 38, filter).into_rgb8();
        let diffs: Vec<i32> = direct
            .as_raw()
            .iter()
            .zip(via.as_raw())
            .map(|(&a, &b)| (a as i32 - b as i32).abs())
            .collect();
        let worst = diffs.iter().max().copied().unwrap_or(0);
        let mean = diffs.iter().sum::<i32>() as f64 / diffs.len() as f64;
        // Hard stripe edges move by a few levels; the rest by under one on average.
        assert!(worst <= 8 && mean < 1.0, "worst {worst}, mean {mean}");
    }
}
