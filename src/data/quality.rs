//! Image-property issues, as cleanlab's CleanVision defines them: dark, light, blurry, low
//! information, odd aspect ratio, odd size, and (a change) grey images in a colour set.
//!
//! These find bad images a loss cannot: a photo too dark to show its class, a blurred or
//! near-blank frame, a thumbnail among photos, a scanned page in landscape among portraits.
//! Each check follows CleanVision 0.3's definition and default threshold
//! (`issue_managers/image_property.py`):
//! - **dark**: the 99th percentile of the pixels' brightness (`sqrt(0.241 R^2 + 0.691 G^2 +
//!   0.068 B^2) / 255`, a grey pixel's value / 255) under 0.32;
//! - **light**: 1 - the 5th percentile of the brightness under 0.05;
//! - **low information**: 0.1 x the entropy of the image's histogram (bits; RGB: the three
//!   channels' histograms as one, as PIL's `Image.entropy`) under 0.3;
//! - **blurry**: the image at most 64 pixels on a side, as grey; `1 - exp(-0.01 s)` of the
//!   standard deviation `s` of its 3x3 edge filter (PIL's FIND_EDGES, clipped to 0..255,
//!   the border copied), plus `1 - exp(-0.01 h)` of the standard deviation `h` of its
//!   256-bin histogram counts where that exceeds 0.18 (a flat image is low information, not
//!   blurry), capped at 1, under 0.29;
//! - **odd aspect ratio**: `min(w / h, h / w)` of the file's size under 0.35;
//! - **odd size**: `sqrt(w h)` of the file's size outside the quartiles +- 3 inter-quartile
//!   ranges (CleanVision's score: the distance from their middle over their width, under
//!   0.5; when every size but a few is the same, any other size);
//! - **grey in a colour set**: an image stored grey where most of the set is colour.
//!   (CleanVision flags every grey image, which in a grey set such as Fashion-MNIST is every
//!   image; here a grey set has none.)
//! - **exact duplicates**: images whose decoded pixels are the same (CleanVision: md5 of the
//!   pixels; here a 64-bit hash of them and their size, [`content_hash`]);
//! - **near duplicates**: images with the same 64-bit perceptual hash (imagehash's `phash`, as
//!   CleanVision's default), less sets that are exact duplicates.
//!
//! **One change from CleanVision:** the blurry and low-information checks apply to images of
//! at least 64 pixels on their longer side (the blur check's own working size). CleanVision
//! runs them at any size, where they describe what a small image is rather than a defect: on
//! Fashion-MNIST's 28x28 items on black the information check flags 15% of the set (9266 of
//! 60000), on the embedded demo's 32x32 drawn shapes the blur check flags 140 of 900.
//!
//! The checks look at each file's own pixels (computed while an image folder loads, where the
//! stored pixels differ from the file's: another size, a grey file in an RGB set; files over
//! 4 megapixels on a regular subsample of 4 megapixels) or the stored ones (IDX, CIFAR-10, files already of the
//! set's shape); size, aspect and grey at the files' own sizes and colour types
//! ([`super::dataset::Original`]), which only image folders have. Where this differs from
//! CleanVision: the blur check shrinks by area averaging (PIL: bicubic), an RGBA file counts
//! as RGB.

use rayon::prelude::*;

use super::Dataset;

pub use hashes::{content_hash, equal_sets};
use hashes::{phash, pixel_hash};

/// One kind of image-property issue.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ImageIssue {
    Dark,
    Light,
    Blurry,
    LowInformation,
    OddAspect,
    OddSize,
    Grey,
    ExactDuplicate,
    NearDuplicate,
}

impl ImageIssue {
    /// Every kind, in the order tables and menus list them.
    pub const ALL: [ImageIssue; 9] = [
        ImageIssue::Dark,
        ImageIssue::Light,
        ImageIssue::Blurry,
        ImageIssue::LowInformation,
        ImageIssue::OddAspect,
        ImageIssue::OddSize,
        ImageIssue::Grey,
        ImageIssue::ExactDuplicate,
        ImageIssue::NearDuplicate,
    ];

    /// A short name (tables, filters).
    pub fn name(self) -> &'static str {
        match self {
            ImageIssue::Dark => "dark",
            ImageIssue::Light => "light",
            ImageIssue::Blurry => "blurry",
            ImageIssue::LowInformation => "low information",
            ImageIssue::OddAspect => "odd aspect ratio",
            ImageIssue::OddSize => "odd size",
            ImageIssue::Grey => "grey in a colour set",
            ImageIssue::ExactDuplicate => "exact duplicate",
            ImageIssue::NearDuplicate => "near duplicate",
        }
    }

    /// The name as one token (a CSV column's).
    pub fn key(self) -> &'static str {
        match self {
            ImageIssue::Dark => "dark",
            ImageIssue::Light => "light",
            ImageIssue::Blurry => "blurry",
            ImageIssue::LowInformation => "low_information",
            ImageIssue::OddAspect => "odd_aspect_ratio",
            ImageIssue::OddSize => "odd_size",
            ImageIssue::Grey => "grey",
            ImageIssue::ExactDuplicate => "exact_duplicates",
            ImageIssue::NearDuplicate => "near_duplicates",
        }
    }

    /// What the check measures, in a sentence (hover texts).
    pub fn help(self) -> &'static str {
        match self {
            ImageIssue::Dark => {
                "The brightest 1% of its pixels are under 32% brightness (CleanVision's dark)"
            }
            ImageIssue::Light => {
                "Even its darkest 5% of pixels are over 95% brightness (CleanVision's light)"
            }
            ImageIssue::Blurry => {
                "Few or weak edges at 64 pixels a side, without being flat (CleanVision's blurry)"
            }
            ImageIssue::LowInformation => {
                "Its histogram's entropy is under 3 bits: near-blank or few values \
                 (CleanVision's low information)"
            }
            ImageIssue::OddAspect => {
                "The file is over 2.86 times as wide as high, or as high as wide \
                 (CleanVision's odd aspect ratio: the shorter side under 0.35 of the longer)"
            }
            ImageIssue::OddSize => {
                "The file's size (the square root of its area) lies more than 3 inter-quartile \
                 ranges outside the set's quartiles (CleanVision's odd size)"
            }
            ImageIssue::Grey => "A grey image where most of the set is colour",
            ImageIssue::ExactDuplicate => {
                "Another image of the set has the same pixels (CleanVision's exact duplicates)"
            }
            ImageIssue::NearDuplicate => {
                "Another image has the same perceptual hash (a resized, re-encoded or lightly \
                 edited copy; CleanVision's near duplicates: phash, 64 bits)"
            }
        }
    }

    fn bit(self) -> u16 {
        1 << (self as u16)
    }
}

/// CleanVision's default thresholds: a score under its threshold is an issue.
const DARK: f32 = 0.32;
const LIGHT: f32 = 0.05;
const LOW_INFORMATION: f32 = 0.3;
const ENTROPY_FACTOR: f32 = 0.1;
const BLURRY: f32 = 0.29;
const BLUR_FACTOR: f32 = 0.01;
const BLUR_COLOUR: f32 = 0.18;
const ODD_ASPECT: f32 = 0.35;
const ODD_SIZE_IQR: f64 = 3.0;
/// The largest side the blur check looks at.
const BLUR_SIDE: usize = 64;
/// Files of more pixels are checked on a regular subsample of at most this many (a
/// 4-megapixel sample's brightness percentiles and histogram stand for a 50-megapixel
/// image's).
pub const FULL_PIXELS: usize = 1 << 22;

pub use super::dataset::PixelStats;

impl PixelStats {
    /// The statistics of `pixels`, an `h x w x c` image (c 1 or 3).
    pub fn of(pixels: &[u8], h: usize, w: usize, c: usize) -> Self {
        let n = h * w;
        let mut bright: Vec<f32> = if c == 1 {
            pixels.iter().map(|&v| v as f32 / 255.0).collect()
        } else {
            pixels
                .chunks_exact(3)
                .map(|p| {
                    let (r, g, b) = (p[0] as f32, p[1] as f32, p[2] as f32);
                    (0.241 * r * r + 0.691 * g * g + 0.068 * b * b).sqrt() / 255.0
                })
                .collect()
        };
        let (brightness_p99, brightness_p5) = match percentiles_nonneg(&bright, [99.0, 5.0]) {
            Some([p99, p5]) => (p99, p5),
            None => (percentile(&mut bright, 99.0), percentile(&mut bright, 5.0)),
        };
        let hist = channel_histograms(pixels, c);
        let entropy = entropy(&hist);
        let grey = to_grey(pixels, c);
        let (gh, gw, small) = shrink(&grey, h, w, BLUR_SIDE);
        let edges = find_edges(&small, gh, gw);
        let edges_std = std_dev(edges.iter().map(|&v| v as f64)) as f32;
        let mut ghist = [0u64; 256];
        for &v in &small {
            ghist[v as usize] += 1;
        }
        let grey_hist_std = std_dev(ghist.iter().map(|&v| v as f64)) as f32;
        debug_assert_eq!(bright.len(), n);
        Self {
            brightness_p99,
            brightness_p5,
            entropy,
            edges_std,
            grey_hist_std,
            pixel_hash: pixel_hash(pixels, h, w, c),
            phash: phash(&grey, h, w),
        }
    }

    /// The statistics of a decoded file: its own pixels, as RGB or grey (alpha dropped,
    /// 16 bits scaled to 8; 8-bit RGB and grey read in place, not copied); one of more than
    /// [`FULL_PIXELS`] pixels read at every k-th pixel of every k-th row (k the smallest that
    /// brings it under), so a 100-megapixel scan costs no second full-size buffer.
    pub fn of_image(img: &image::DynamicImage) -> Self {
        let (w, h) = (img.width() as usize, img.height() as usize);
        let c = if img.color().has_color() { 3 } else { 1 };
        let converted;
        let raw: &[u8] = match (img, c) {
            (image::DynamicImage::ImageRgb8(b), 3) => b.as_raw(),
            (image::DynamicImage::ImageLuma8(b), 1) => b.as_raw(),
            (_, 3) => {
                converted = img.to_rgb8().into_raw();
                &converted
            }
            _ => {
                converted = img.to_luma8().into_raw();
                &converted
            }
        };
        let n = w * h;
        if n <= FULL_PIXELS {
            return Self::of(raw, h, w, c);
        }
        let full_hash = pixel_hash(raw, h, w, c);
        let mut k = 2;
        while n.div_ceil(k * k) > FULL_PIXELS {
            k += 1;
        }
        let (sh, sw) = (h.div_ceil(k), w.div_ceil(k));
        let mut small = Vec::with_capacity(sh * sw * c);
        for y in (0..h).step_by(k) {
            let row = &raw[y * w * c..(y + 1) * w * c];
            for x in (0..w).step_by(k) {
                small.extend_from_slice(&row[x * c..(x + 1) * c]);
            }
        }
        Self {
            pixel_hash: full_hash,
            ..Self::of(&small, sh, sw, c)
        }
    }

    /// CleanVision's score of `issue` from these statistics (lower is worse), for the pixel
    /// checks; None for the file checks.
    pub fn score(&self, issue: ImageIssue) -> Option<f32> {
        Some(match issue {
            ImageIssue::Dark => self.brightness_p99,
            ImageIssue::Light => 1.0 - self.brightness_p5,
            ImageIssue::LowInformation => (ENTROPY_FACTOR * self.entropy).min(1.0),
            ImageIssue::Blurry => {
                let blur = 1.0 - (-self.edges_std * BLUR_FACTOR).exp();
                let mut flat = 1.0 - (-self.grey_hist_std * BLUR_FACTOR).exp();
                if flat <= BLUR_COLOUR {
                    flat = 0.0;
                }
                (blur + flat).min(1.0)
            }
            _ => return None,
        })
    }
}

/// numpy's `percentile` (linear interpolation between the two nearest ranks) of `v`, which it
/// reorders.
fn percentile(v: &mut [f32], p: f64) -> f32 {
    if v.is_empty() {
        return 0.0;
    }
    let pos = p / 100.0 * (v.len() - 1) as f64;
    let lo = pos.floor() as usize;
    let frac = (pos - lo as f64) as f32;
    let (_, &mut a, rest) = v.select_nth_unstable_by(lo, f32::total_cmp);
    let b = rest.iter().copied().min_by(f32::total_cmp).unwrap_or(a);
    a + (b - a) * frac
}

/// [`percentile`] of `v` at each of `ps`, the same values, without reordering `v` or
/// selecting among all of it: the ranks are found in a histogram of the values' top 16 bits
/// (for non-negative floats their order is their bits' order), then selected among the few in
/// that bucket. None when a value is negative or NaN (their bits do not sort so).
fn percentiles_nonneg<const K: usize>(v: &[f32], ps: [f64; K]) -> Option<[f32; K]> {
    if v.is_empty() {
        return Some([0.0; K]);
    }
    let mut counts = vec![0u32; 1 << 16];
    for &x in v {
        if x.is_nan() || x.is_sign_negative() {
            return None;
        }
        counts[(x.to_bits() >> 16) as usize] += 1;
    }
    let mut starts = Vec::with_capacity(counts.len());
    let mut total = 0usize;
    for &c in &counts {
        starts.push(total);
        total += c as usize;
    }
    // The value of rank r (0-based) in ascending order.
    let nth = |r: usize| -> f32 {
        let bucket = starts.partition_point(|&s| s <= r) - 1;
        let mut inside: Vec<f32> = v
            .iter()
            .copied()
            .filter(|x| (x.to_bits() >> 16) as usize == bucket)
            .collect();
        let (_, &mut x, _) = inside.select_nth_unstable_by(r - starts[bucket], f32::total_cmp);
        x
    };
    let n = v.len();
    Some(ps.map(|p| {
        let pos = p / 100.0 * (n - 1) as f64;
        let lo = pos.floor() as usize;
        let frac = (pos - lo as f64) as f32;
        let a = nth(lo);
        let b = if lo + 1 < n { nth(lo + 1) } else { a };
        a + (b - a) * frac
    }))
}

/// [`percentile`] in f64 (the odd-size check's quartiles: rounded to f32, a size shared by
/// most of the set would differ from its own quartile and count as odd).
fn percentile64(v: &mut [f64], p: f64) -> f64 {
    if v.is_empty() {
        return 0.0;
    }
    let pos = p / 100.0 * (v.len() - 1) as f64;
    let lo = pos.floor() as usize;
    let frac = pos - lo as f64;
    let (_, &mut a, rest) = v.select_nth_unstable_by(lo, f64::total_cmp);
    let b = rest.iter().copied().min_by(f64::total_cmp).unwrap_or(a);
    a + (b - a) * frac
}

/// The histogram of each of the `c` channels of interleaved `pixels`, one after the other
/// (256 counts each). Four partial histograms per channel, summed at the end: a photo's flat
/// areas hit one count many times running, and each increment waited on the one before it
/// (with a division per byte for the channel, this loop was half the image checks' time on
/// 12-megapixel photos).
fn channel_histograms(pixels: &[u8], c: usize) -> Vec<u64> {
    let c = c.max(1);
    let mut parts = vec![[0u32; 256]; 4 * c];
    let mut quads = pixels.chunks_exact(4 * c);
    for q in quads.by_ref() {
        for (j, px) in q.chunks_exact(c).enumerate() {
            for (k, &v) in px.iter().enumerate() {
                parts[k * 4 + j][v as usize] += 1;
            }
        }
    }
    let mut hist = vec![0u64; 256 * c];
    for (i, &v) in quads.remainder().iter().enumerate() {
        hist[(i % c) * 256 + v as usize] += 1;
    }
    for (k, channel) in hist.chunks_exact_mut(256).enumerate() {
        for part in &parts[k * 4..k * 4 + 4] {
            for (h, &n) in channel.iter_mut().zip(part.iter()) {
                *h += n as u64;
            }
        }
    }
    hist
}

/// Shannon entropy in bits of a histogram's counts.
fn entropy(hist: &[u64]) -> f32 {
    let total: u64 = hist.iter().sum();
    if total == 0 {
        return 0.0;
    }
    let t = total as f64;
    -hist
        .iter()
        .filter(|&&h| h > 0)
        .map(|&h| {
            let p = h as f64 / t;
            p * p.log2()
        })
        .sum::<f64>() as f32
}

/// PIL's RGB to L conversion (ITU-R 601-2 luma, rounded), or the grey values as they are.
fn to_grey(pixels: &[u8], c: usize) -> Vec<u8> {
    if c == 1 {
        return pixels.to_vec();
    }
    pixels
        .chunks_exact(3)
        .map(|p| {
            ((p[0] as u32 * 19595 + p[1] as u32 * 38470 + p[2] as u32 * 7471 + 0x8000) >> 16) as u8
        })
        .collect()
}

/// The grey image at most `side` pixels on its longer side (CleanVision: the size divided by
/// `longer / side`, floored, at least 1), by area averaging.
fn shrink(grey: &[u8], h: usize, w: usize, side: usize) -> (usize, usize, Vec<u8>) {
    let longer = h.max(w);
    if longer <= side || h == 0 || w == 0 {
        return (h, w, grey.to_vec());
    }
    let ratio = longer as f64 / side as f64;
    let nh = ((h as f64 / ratio).floor() as usize).max(1);
    let nw = ((w as f64 / ratio).floor() as usize).max(1);
    let mut out = Vec::with_capacity(nh * nw);
    for y in 0..nh {
        let (y0, y1) = (y * h / nh, ((y + 1) * h / nh).max(y * h / nh + 1));
        for x in 0..nw {
            let (x0, x1) = (x * w / nw, ((x + 1) * w / nw).max(x * w / nw + 1));
            let mut sum = 0u64;
            for row in grey[y0 * w..y1 * w].chunks_exact(w) {
                sum += row[x0..x1].iter().map(|&v| v as u64).sum::<u64>();
            }
            let cnt = ((y1 - y0) * (x1 - x0)) as u64;
            out.push(((sum + cnt / 2) / cnt) as u8);
        }
    }
    (nh, nw, out)
}

/// PIL's FIND_EDGES (the 3x3 kernel 8 at the centre, -1 around it), clipped to 0..255; the
/// one-pixel border is the input's, as PIL leaves it.
fn find_edges(g: &[u8], h: usize, w: usize) -> Vec<u8> {
    let mut out = g.to_vec();
    if h < 3 || w < 3 {
        return out;
    }
    for y in 1..h - 1 {
        for x in 1..w - 1 {
            let mut s = 9 * g[y * w + x] as i32;
            for dy in 0..3 {
                for dx in 0..3 {
                    s -= g[(y + dy - 1) * w + x + dx - 1] as i32;
                }
            }
            out[y * w + x] = s.clamp(0, 255) as u8;
        }
    }
    out
}

/// Population standard deviation.
fn std_dev(v: impl Iterator<Item = f64> + Clone) -> f64 {
    let (n, sum) = v.clone().fold((0usize, 0.0), |(n, s), x| (n + 1, s + x));
    if n == 0 {
        return 0.0;
    }
    let mean = sum / n as f64;
    (v.map(|x| (x - mean) * (x - mean)).sum::<f64>() / n as f64).sqrt()
}

/// The image-property issues of a set.
#[derive(Clone, Debug, Default)]
pub struct ImageIssues {
    /// Each sample's pixel statistics.
    pub stats: Vec<PixelStats>,
    /// Each sample's issues, one bit per [`ImageIssue`].
    flags: Vec<u16>,
    /// Each sample's group of exact and of near duplicates (its first member's index;
    /// `u32::MAX` for none).
    exact_group: Vec<u32>,
    near_group: Vec<u32>,
    /// The members of each set of exact and of near duplicates, by the index the groups
    /// above name.
    exact_sets: std::collections::HashMap<u32, Vec<u32>>,
    near_sets: std::collections::HashMap<u32, Vec<u32>>,
    /// The file checks' scores, when the set has its files' sizes: aspect ratio and size.
    aspect: Vec<f32>,
    size: Vec<f32>,
}

impl ImageIssues {
    /// Check every image of `data` (in parallel).
    pub fn find(data: &Dataset) -> Self {
        let s = data.shape;
        let originals = data.originals();
        let stats: Vec<PixelStats> = (0..data.len())
            .into_par_iter()
            .with_min_len(64)
            .map(|i| match originals.get(i).and_then(|o| o.stats) {
                Some(st) => st,
                None => PixelStats::of(data.image(i), s.height, s.width, s.channels),
            })
            .collect();
        let mut flags: Vec<u16> = stats
            .iter()
            .enumerate()
            .map(|(i, st)| {
                // The blur and information checks judge photos: under 64 pixels a side a
                // drawn or benchmark image is coarse and few-toned by nature (module doc).
                let side = originals
                    .get(i)
                    .map_or(s.height.max(s.width), |o| o.width.max(o.height) as usize);
                let photo = side >= BLUR_SIDE;
                [
                    ImageIssue::Dark,
                    ImageIssue::Light,
                    ImageIssue::LowInformation,
                    ImageIssue::Blurry,
                ]
                .iter()
                .filter(|&&k| {
                    (photo || matches!(k, ImageIssue::Dark | ImageIssue::Light))
                        && st.score(k).is_some_and(|v| v < threshold(k))
                })
                .fold(0u16, |f, &k| f | k.bit())
            })
            .collect();
        let (mut aspect, mut size) = (Vec::new(), Vec::new());
        if originals.len() == data.len() && !originals.is_empty() {
            aspect = originals
                .iter()
                .map(|o| {
                    let (w, h) = (o.width.max(1) as f32, o.height.max(1) as f32);
                    (w / h).min(h / w)
                })
                .collect();
            let sides: Vec<f64> = originals
                .iter()
                .map(|o| (o.width as f64).sqrt() * (o.height as f64).sqrt())
                .collect();
            let (scores, limit) = odd_size_scores(&sides);
            size = scores;
            let colour = originals.iter().filter(|o| !o.grey).count();
            let colour_set = 2 * colour > originals.len();
            for (i, o) in originals.iter().enumerate() {
                if aspect[i] < ODD_ASPECT {
                    flags[i] |= ImageIssue::OddAspect.bit();
                }
                if size[i] < limit {
                    flags[i] |= ImageIssue::OddSize.bit();
                }
                if colour_set && o.grey {
                    flags[i] |= ImageIssue::Grey.bit();
                }
            }
        }
        // Duplicates: sets of equal hashes (CleanVision: a near set that is also an exact
        // set is only exact).
        let exact = equal_sets(stats.iter().map(|st| st.pixel_hash));
        let exact_set: std::collections::HashSet<&Vec<usize>> = exact.iter().collect();
        let near: Vec<Vec<usize>> = equal_sets(stats.iter().map(|st| st.phash))
            .into_iter()
            .filter(|g| !exact_set.contains(g))
            .collect();
        let mut groups = |sets: &[Vec<usize>], kind: ImageIssue| {
            let mut of = vec![u32::MAX; stats.len()];
            let mut members = std::collections::HashMap::new();
            for g in sets {
                for &i in g {
                    of[i] = g[0] as u32;
                    flags[i] |= kind.bit();
                }
                members.insert(g[0] as u32, g.iter().map(|&i| i as u32).collect());
            }
            (of, members)
        };
        let (exact_group, exact_sets) = groups(&exact, ImageIssue::ExactDuplicate);
        let (near_group, near_sets) = groups(&near, ImageIssue::NearDuplicate);
        Self {
            stats,
            flags,
            aspect,
            size,
            exact_group,
            near_group,
            exact_sets,
            near_sets,
        }
    }

    /// The other samples in sample `i`'s set of exact (`exact`) or near duplicates.
    pub fn copies_of(&self, i: usize, exact: bool) -> Vec<usize> {
        self.set_of(i, exact)
            .iter()
            .map(|&j| j as usize)
            .filter(|&j| j != i)
            .collect()
    }

    /// The first sample of sample `i`'s set of exact or near duplicates (the set's name in
    /// tables), when it is in one.
    pub fn set_id(&self, i: usize, exact: bool) -> Option<usize> {
        let group = if exact {
            &self.exact_group
        } else {
            &self.near_group
        };
        group
            .get(i)
            .filter(|&&g| g != u32::MAX)
            .map(|&g| g as usize)
    }

    fn set_of(&self, i: usize, exact: bool) -> &[u32] {
        let sets = if exact {
            &self.exact_sets
        } else {
            &self.near_sets
        };
        self.set_id(i, exact)
            .and_then(|g| sets.get(&(g as u32)))
            .map_or(&[], Vec::as_slice)
    }

    /// How many sets of exact (`exact`) or near duplicates there are (each of two samples or
    /// more; [`ImageIssues::count`] counts their samples).
    pub fn duplicate_sets(&self, exact: bool) -> usize {
        if exact {
            self.exact_sets.len()
        } else {
            self.near_sets.len()
        }
    }

    pub fn len(&self) -> usize {
        self.flags.len()
    }

    pub fn is_empty(&self) -> bool {
        self.flags.is_empty()
    }

    /// Whether sample `i` has `issue`.
    pub fn has(&self, i: usize, issue: ImageIssue) -> bool {
        self.flags.get(i).is_some_and(|f| f & issue.bit() != 0)
    }

    /// Sample `i`'s issues, in [`ImageIssue::ALL`]'s order.
    pub fn of(&self, i: usize) -> Vec<ImageIssue> {
        ImageIssue::ALL
            .into_iter()
            .filter(|&k| self.has(i, k))
            .collect()
    }

    /// Whether each sample has `issue`.
    pub fn mask(&self, issue: ImageIssue) -> Vec<bool> {
        (0..self.len()).map(|i| self.has(i, issue)).collect()
    }

    /// How many samples have `issue`.
    pub fn count(&self, issue: ImageIssue) -> usize {
        self.flags.iter().filter(|&&f| f & issue.bit() != 0).count()
    }

    /// How many samples have any issue.
    pub fn any(&self) -> usize {
        self.flags.iter().filter(|&&f| f != 0).count()
    }

    /// Whether sample `i` has any issue.
    pub fn has_any(&self, i: usize) -> bool {
        self.flags.get(i).is_some_and(|&f| f != 0)
    }

    /// The samples with `issue`, the worst (lowest score) first, ties in index order.
    pub fn worst_first(&self, issue: ImageIssue) -> Vec<usize> {
        let mut idx: Vec<usize> = (0..self.len()).filter(|&i| self.has(i, issue)).collect();
        let score = |i| self.score(i, issue).unwrap_or(0.0);
        idx.sort_by(|&a, &b| score(a).total_cmp(&score(b)).then(a.cmp(&b)));
        idx
    }

    /// Sample `i`'s CleanVision score of `issue` (lower is worse; None where the set has no
    /// file sizes for a file check).
    pub fn score(&self, i: usize, issue: ImageIssue) -> Option<f32> {
        match issue {
            ImageIssue::OddAspect => self.aspect.get(i).copied(),
            ImageIssue::OddSize => self.size.get(i).copied(),
            // CleanVision's grayscale score: 0 for a grey image, 1 else (where the set has
            // its files' colour types).
            ImageIssue::Grey => (i < self.size.len()).then(|| {
                if self.has(i, ImageIssue::Grey) {
                    0.0
                } else {
                    1.0
                }
            }),
            // CleanVision's: 1 / the size of the set (1 outside one).
            ImageIssue::ExactDuplicate | ImageIssue::NearDuplicate => {
                if i >= self.len() {
                    return None;
                }
                let n = self.set_of(i, issue == ImageIssue::ExactDuplicate).len();
                Some(if n > 1 { 1.0 / n as f32 } else { 1.0 })
            }
            k => self.stats.get(i).and_then(|s| s.score(k)),
        }
    }

    /// "12 dark, 3 blurry, 5 images in 2 groups of exact duplicates" (the kinds found, in order;
    /// duplicates in [`duplicate_words`], the unit the embedding duplicates are counted in
    /// too), or "none".
    pub fn summary(&self) -> String {
        let parts: Vec<String> = ImageIssue::ALL
            .into_iter()
            .filter_map(|k| match self.count(k) {
                0 => None,
                n => Some(self.count_words(k, n)),
            })
            .collect();
        if parts.is_empty() {
            "none".into()
        } else {
            parts.join(", ")
        }
    }

    /// For a duplicate kind, "exact" or "near" and how many sets it has; None for the other
    /// kinds (their images are not grouped).
    pub fn duplicate_groups_of(&self, issue: ImageIssue) -> Option<(&'static str, usize)> {
        match issue {
            ImageIssue::ExactDuplicate => Some(("exact", self.duplicate_sets(true))),
            ImageIssue::NearDuplicate => Some(("near", self.duplicate_sets(false))),
            _ => None,
        }
    }

    /// `n` images with `issue` in words: "12 dark", or for duplicates "5 images in 2 groups
    /// of exact duplicates" ([`duplicate_words`]).
    pub fn count_words(&self, issue: ImageIssue, n: usize) -> String {
        match self.duplicate_groups_of(issue) {
            Some((which, groups)) => duplicate_words(which, n, groups),
            None => format!("{n} {}", issue.name()),
        }
    }
}

/// Duplicates counted in one unit wherever they are said (the image checks' sets, the
/// embeddings' pairs joined into groups; the window's note words them so too): "5 images in
/// 2 groups of exact duplicates", or "no exact duplicates".
pub fn duplicate_words(kind: &str, images: usize, groups: usize) -> String {
    if images == 0 {
        return format!("no {kind} duplicates");
    }
    format!(
        "{} in {} of {kind} duplicates",
        crate::plural(images, "image"),
        crate::plural(groups, "group")
    )
}

fn threshold(k: ImageIssue) -> f32 {
    match k {
        ImageIssue::Dark => DARK,
        ImageIssue::Light => LIGHT,
        ImageIssue::LowInformation => LOW_INFORMATION,
        ImageIssue::Blurry => BLURRY,
        ImageIssue::OddAspect => ODD_ASPECT,
        _ => 0.0,
    }
}

/// CleanVision's odd-size scores of the sizes (`sqrt(w h)`) and the score under which a size
/// is odd: 1 - the distance from the middle of `q1 - 3 iqr .. q3 + 3 iqr` over that range's
/// width (under 0.5 is outside it); when the range is empty (most sizes equal), over the
/// middle itself, and any size off it is odd.
fn odd_size_scores(sides: &[f64]) -> (Vec<f32>, f32) {
    let mut sorted = sides.to_vec();
    let q1 = percentile64(&mut sorted, 25.0);
    let q3 = percentile64(&mut sorted, 75.0);
    let iqr = q3 - q1;
    let (lo, hi) = (q1 - ODD_SIZE_IQR * iqr, q3 + ODD_SIZE_IQR * iqr);
    let mid = (lo + hi) / 2.0;
    let gap = hi - lo;
    let (norm, limit) = if gap > 0.0 {
        (gap, 0.5)
    } else {
        (mid.max(f64::MIN_POSITIVE), 1.0)
    };
    let scores = sides
        .iter()
        .map(|&s| (1.0 - ((s - mid).abs() / norm).clamp(0.0, 1.0)) as f32)
        .collect();
    (scores, limit)
}

mod hashes;

#[cfg(test)]
mod tests;
