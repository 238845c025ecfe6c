//! Tests of the image checks against numpy's, PIL's and CleanVision's definitions.

use super::*;

fn stats(pixels: &[u8], h: usize, w: usize, c: usize) -> PixelStats {
    PixelStats::of(pixels, h, w, c)
}

#[test]
fn percentile_interpolates_as_numpy_does() {
    let mut v: Vec<f32> = (0..=10).map(|x| x as f32).collect();
    assert_eq!(percentile(&mut v, 50.0), 5.0);
    let mut v = vec![4.0, 1.0, 3.0, 2.0];
    // numpy.percentile([1, 2, 3, 4], 99) = 3.97
    assert!((percentile(&mut v, 99.0) - 3.97).abs() < 1e-5);
    assert!((percentile(&mut v, 5.0) - 1.15).abs() < 1e-5);
    assert_eq!(percentile(&mut [], 5.0), 0.0);
}

#[test]
fn entropy_of_a_histogram_in_bits() {
    assert_eq!(entropy(&[10, 0, 0]), 0.0);
    assert!((entropy(&[5, 5]) - 1.0).abs() < 1e-6);
    assert!((entropy(&[1; 256]) - 8.0).abs() < 1e-5);
}

#[test]
fn edges_follow_pil_s_kernel_and_keep_the_border() {
    // A bright pixel in the middle of a dark 3x3: 8 * 200 at the centre, border kept.
    let g = [0, 0, 0, 0, 200, 0, 0, 0, 0];
    let e = find_edges(&g, 3, 3);
    assert_eq!(e[4], 255);
    assert_eq!(&e[..4], &[0, 0, 0, 0]);
    // A flat image has no edges inside.
    let e = find_edges(&[90; 25], 5, 5);
    assert_eq!(e[12], 0);
    assert_eq!(e[0], 90);
}

#[test]
fn shrink_keeps_small_images_and_floors_large_ones() {
    let (h, w, v) = shrink(&[7; 30 * 20], 30, 20, 64);
    assert_eq!((h, w, v.len()), (30, 20, 600));
    let g: Vec<u8> = (0..200 * 100).map(|i| (i % 256) as u8).collect();
    let (h, w, v) = shrink(&g, 200, 100, 64);
    assert_eq!((h, w), (64, 32));
    assert_eq!(v.len(), 64 * 32);
}

/// A textured colour image: no issue; the same image darkened, lightened, blurred flat or
/// made blank is flagged for that, and only that.
#[test]
fn each_pixel_check_flags_what_it_names() {
    let (h, w) = (48, 48);
    let mut img = vec![0u8; h * w * 3];
    let mut s = 12345u32;
    for (i, p) in img.iter_mut().enumerate() {
        s = s.wrapping_mul(1664525).wrapping_add(1013904223);
        let base = ((i / 3 % w) * 4 + (i / 3 / w) * 2) as u32;
        *p = ((base + (s >> 24)) % 256) as u8;
    }
    let flagged = |px: &[u8]| -> Vec<ImageIssue> {
        let st = stats(px, h, w, 3);
        [
            ImageIssue::Dark,
            ImageIssue::Light,
            ImageIssue::LowInformation,
            ImageIssue::Blurry,
        ]
        .into_iter()
        .filter(|&k| st.score(k).is_some_and(|v| v < threshold(k)))
        .collect()
    };
    assert_eq!(flagged(&img), vec![]);
    let dark: Vec<u8> = img.iter().map(|&v| (v as f32 * 0.15) as u8).collect();
    assert_eq!(flagged(&dark), vec![ImageIssue::Dark]);
    let light: Vec<u8> = img
        .iter()
        .map(|&v| 255 - ((255 - v) as f32 * 0.04) as u8)
        .collect();
    assert!(
        flagged(&light).contains(&ImageIssue::Light),
        "{:?}",
        flagged(&light)
    );
    let blank = vec![128u8; h * w * 3];
    assert!(flagged(&blank).contains(&ImageIssue::LowInformation));
    assert!(
        !flagged(&blank).contains(&ImageIssue::Blurry),
        "flat is not blurry"
    );
    // Blurred (a 9x9 box, three times), the texture's edges are gone. (Whether the blur
    // score then crosses 0.29 depends on the border, which PIL's edge filter keeps, and on
    // the histogram's spread; the real-photo test checks blurred photos,
    // tests/image_issues_real.rs.)
    let mut blurred = img.clone();
    for _ in 0..3 {
        let src = blurred.clone();
        for y in 0..h {
            for x in 0..w {
                for c in 0..3 {
                    let (mut sum, mut n) = (0u32, 0u32);
                    for yy in y.saturating_sub(4)..(y + 5).min(h) {
                        for xx in x.saturating_sub(4)..(x + 5).min(w) {
                            sum += src[(yy * w + xx) * 3 + c] as u32;
                            n += 1;
                        }
                    }
                    blurred[(y * w + x) * 3 + c] = (sum / n) as u8;
                }
            }
        }
    }
    let edges = |px: &[u8]| stats(px, h, w, 3).edges_std;
    assert!(
        edges(&blurred) < 0.5 * edges(&img),
        "{} vs {}",
        edges(&blurred),
        edges(&img)
    );
}

/// A file over 4 megapixels is read on a subsample whose statistics stand for the
/// whole's; 8-bit files are read in place, others converted.
#[test]
fn large_files_are_checked_on_a_subsample() {
    let (w, h) = (2100u32, 2050u32);
    let mut s = 7u32;
    let img = image::GrayImage::from_fn(w, h, |x, y| {
        s = s.wrapping_mul(1664525).wrapping_add(1013904223);
        image::Luma([((x / 7 + y / 5) % 180) as u8 + (s >> 29) as u8])
    });
    let full = PixelStats::of(img.as_raw(), h as usize, w as usize, 1);
    let dynamic = image::DynamicImage::ImageLuma8(img);
    let sub = PixelStats::of_image(&dynamic);
    assert!((sub.brightness_p99 - full.brightness_p99).abs() < 0.01);
    assert!((sub.brightness_p5 - full.brightness_p5).abs() < 0.01);
    assert!(
        (sub.entropy - full.entropy).abs() < 0.05,
        "{sub:?} {full:?}"
    );
    // A 16-bit copy converts to the same 8-bit values.
    let sixteen = image::DynamicImage::ImageLuma16(dynamic.to_luma16());
    assert_eq!(PixelStats::of_image(&sixteen), sub);
}

/// Blank images: low information at 64 pixels a side and more, not under (a benchmark's
/// small images are few-toned by nature); dark at any size. Two equal ones are exact
/// duplicates, not near ones too.
#[test]
fn the_blur_and_information_checks_need_photo_sized_images() {
    use crate::data::{ImageShape, Source};
    let set = |side: usize, values: &[u8]| {
        let shape = ImageShape::new(side, side, 1);
        let pixels: Vec<u8> = values
            .iter()
            .flat_map(|&v| std::iter::repeat_n(v, shape.len()))
            .collect();
        let n = values.len();
        let data = Dataset::from_parts(
            "blank",
            Source::Memory,
            vec!["a".into()],
            shape,
            pixels,
            vec![0; n],
            (0..n).map(|i| i.to_string()).collect(),
        )
        .unwrap();
        ImageIssues::find(&data)
    };
    let small = set(28, &[30, 200, 200]);
    assert_eq!(small.count(ImageIssue::LowInformation), 0);
    assert_eq!(small.of(0), vec![ImageIssue::Dark]);
    assert_eq!(small.copies_of(1, true), vec![2]);
    assert!(
        small.copies_of(1, false).is_empty(),
        "an exact set is not also near"
    );
    let large = set(64, &[30, 200, 200]);
    assert_eq!(large.count(ImageIssue::LowInformation), 3);
    assert!(large.has(0, ImageIssue::Dark));
    assert_eq!(large.score(1, ImageIssue::ExactDuplicate), Some(0.5));
}

/// Most of a set at 640x480 (a size whose square root f32 cannot hold): only the other
/// sizes are odd (computed in f32, every image was).
#[test]
fn a_common_size_is_not_odd() {
    for (w, h) in [(640.0f64, 480.0f64), (333.0, 500.0), (480.0, 640.0)] {
        let mut sides = vec![w.sqrt() * h.sqrt(); 20];
        sides.extend([500.0, 500.0]);
        let (scores, limit) = odd_size_scores(&sides);
        let odd: Vec<usize> = (0..sides.len()).filter(|&i| scores[i] < limit).collect();
        assert_eq!(odd, vec![20, 21], "{w}x{h}");
    }
}

/// An image in a set of exact duplicates and a larger set of near ones has each set's own
/// score (1 / its size) and copies.
#[test]
fn exact_and_near_sets_keep_their_own_sizes() {
    let flat = |v: u8| vec![v; 64 * 64];
    let mut ramp: Vec<u8> = (0..64 * 64).map(|i| (i % 64 * 3 + i / 64) as u8).collect();
    let a = ramp.clone();
    // The same picture one level brighter in a corner: another pixel hash, the same phash.
    ramp[0] = ramp[0].wrapping_add(1);
    let images = [a.clone(), a, ramp, flat(9)];
    let shape = crate::data::ImageShape::new(64, 64, 1);
    let data = Dataset::from_parts(
        "sets",
        crate::data::Source::Memory,
        vec!["a".into()],
        shape,
        images.concat(),
        vec![0; 4],
        (0..4).map(|i| i.to_string()).collect(),
    )
    .unwrap();
    let issues = ImageIssues::find(&data);
    assert_eq!(issues.copies_of(0, true), vec![1]);
    assert_eq!(issues.copies_of(0, false), vec![1, 2]);
    assert_eq!(issues.score(0, ImageIssue::ExactDuplicate), Some(0.5));
    assert_eq!(issues.score(0, ImageIssue::NearDuplicate), Some(1.0 / 3.0));
    assert_eq!(issues.set_id(2, false), Some(0));
    assert_eq!(issues.set_id(3, false), None);
    assert_eq!(issues.score(3, ImageIssue::NearDuplicate), Some(1.0));
}

#[test]
fn odd_size_is_outside_three_iqrs_and_any_size_off_a_common_one() {
    let mut sides: Vec<f64> = (0..40).map(|i| 200.0 + i as f64).collect();
    sides.push(16.0);
    sides.push(2000.0);
    let (scores, limit) = odd_size_scores(&sides);
    let odd: Vec<usize> = (0..sides.len()).filter(|&i| scores[i] < limit).collect();
    assert_eq!(odd, vec![40, 41]);
    let mut same = vec![64.0; 30];
    same.push(65.0);
    let (scores, limit) = odd_size_scores(&same);
    assert_eq!(limit, 1.0);
    assert!(scores[30] < limit && scores[0] >= limit);
}

/// What an image folder keeps per sample beside its pixels (README, "Image checks").
#[test]
fn a_file_s_record_is_64_bytes() {
    assert!(std::mem::size_of::<crate::data::Original>() <= 64);
}

#[test]
fn the_content_hash_changes_with_any_byte_and_the_length() {
    // 1003 bytes: 31 blocks of 32, then 8-byte words, then single bytes.
    let base: Vec<u8> = (0..1003u32).map(|i| (i * 7 % 251) as u8).collect();
    let h0 = content_hash(&[&base]);
    assert_eq!(h0, content_hash(&[&base.clone()]));
    let mut seen = std::collections::HashSet::from([h0]);
    for i in 0..base.len() {
        for flip in [1u8, 0x80] {
            let mut b = base.clone();
            b[i] ^= flip;
            assert!(seen.insert(content_hash(&[&b])), "byte {i} ^ {flip}");
        }
    }
    let mut longer = base.clone();
    longer.push(0);
    assert_ne!(content_hash(&[&longer]), h0);
    assert_ne!(content_hash(&[&base[..1002]]), h0);
    assert_ne!(content_hash(&[&[], &base]), h0);
}

#[test]
fn no_pair_of_bit_flips_in_two_words_of_a_chain_cancels() {
    // 112 bytes: three blocks of 32 (four chains of 8-byte words) and two tail words (chain
    // 0). Pairs of consecutive words of one chain: within the blocks, from a block into the
    // tail, in the tail. With a multiply and a rotation alone a top-bit flip and a flip of the
    // bit it rotated to cancelled, whatever the content; every pair of bits is tried.
    let base: Vec<u8> = (0..112u32).map(|i| (i * 37 % 256) as u8).collect();
    let h0 = content_hash(&[&base]);
    for (a, b) in [(8, 40), (64, 96), (96, 104)] {
        for i in 0..64 {
            for j in 0..64 {
                let mut v = base.clone();
                v[a + i / 8] ^= 1 << (i % 8);
                v[b + j / 8] ^= 1 << (j % 8);
                assert_ne!(content_hash(&[&v]), h0, "bit {i} of {a} and bit {j} of {b}");
            }
        }
    }
}

/// A few thousand pseudo-random bytes (an LCG: no seed to manage).
fn noise_bytes(n: usize, seed: u64) -> Vec<u8> {
    let mut x = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    (0..n)
        .map(|_| {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (x >> 56) as u8
        })
        .collect()
}

/// The histogram-and-bucket percentiles give `percentile`'s values bit for bit: on sizes
/// below and above a bucket's, with ties, zeros and a flat image; negatives fall back.
#[test]
fn bucketed_percentiles_are_the_selected_ones_exactly() {
    for (n, seed) in [
        (1usize, 1u64),
        (2, 2),
        (7, 3),
        (100, 4),
        (5000, 5),
        (70001, 6),
    ] {
        let bytes = noise_bytes(n * 3, seed);
        let bright: Vec<f32> = bytes
            .chunks_exact(3)
            .map(|p| {
                let (r, g, b) = (p[0] as f32, p[1] as f32, p[2] as f32);
                (0.241 * r * r + 0.691 * g * g + 0.068 * b * b).sqrt() / 255.0
            })
            .collect();
        for v in [
            bright.clone(),
            vec![0.0; n],
            bytes[..n].iter().map(|&b| (b / 64) as f32).collect(),
        ] {
            let got = percentiles_nonneg(&v, [99.0, 5.0, 50.0, 0.0, 100.0]).unwrap();
            for (g, p) in got.iter().zip([99.0, 5.0, 50.0, 0.0, 100.0]) {
                let want = percentile(&mut v.clone(), p);
                assert_eq!(g.to_bits(), want.to_bits(), "n {n} p {p}");
            }
        }
    }
    assert_eq!(percentiles_nonneg(&[], [5.0]), Some([0.0]));
    assert_eq!(percentiles_nonneg(&[1.0, -0.5], [5.0]), None);
    assert_eq!(percentiles_nonneg(&[1.0, -0.0], [5.0]), None);
    assert_eq!(percentiles_nonneg(&[1.0, f32::NAN], [5.0]), None);
}

/// The per-channel histograms count what a byte-by-byte walk counts, for grey and RGB and
/// lengths that leave a remainder after the blocks of four pixels.
#[test]
fn channel_histograms_count_every_byte_of_its_channel() {
    for (c, pixels) in [
        (1usize, 1usize),
        (1, 4),
        (1, 1003),
        (3, 1),
        (3, 4),
        (3, 1001),
        (3, 0),
    ] {
        let bytes = noise_bytes(c * pixels, (c * 1000 + pixels) as u64);
        let mut want = vec![0u64; 256 * c];
        for (i, &v) in bytes.iter().enumerate() {
            want[(i % c) * 256 + v as usize] += 1;
        }
        assert_eq!(
            channel_histograms(&bytes, c),
            want,
            "c {c}, {pixels} pixels"
        );
    }
}
