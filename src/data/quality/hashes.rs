//! The duplicate checks' hashes: the exact one ([`content_hash`], of decoded pixels here and
//! of files' bytes in `session::similar`) with the grouping of equal hashes ([`equal_sets`]),
//! and the perceptual one (imagehash's `phash` on PIL's Lanczos resize) the near-duplicate
//! check reads.

/// A 64-bit hash of an image's pixels and shape ([`content_hash`]).
pub(super) fn pixel_hash(pixels: &[u8], h: usize, w: usize, c: usize) -> u64 {
    let dims: Vec<u8> = [h, w, c]
        .iter()
        .flat_map(|&d| (d as u64).to_le_bytes())
        .collect();
    content_hash(&[&dims, pixels])
}

/// A 64-bit hash of `parts` and their total length: the "same content" hash of the
/// exact-duplicate checks (here, and `session::similar` on files' bytes). Four
/// multiply-xorshift-multiply chains over 8-byte words, side by side (the bytewise FNV-1a it replaced
/// took a quarter of the time of loading a folder of 12-megapixel photos), folded and finished
/// with SplitMix64's mix. Hashes are never stored: equal content gives equal hashes, and one
/// differing word always changes its chain (each step is a bijection of the state).
pub fn content_hash(parts: &[&[u8]]) -> u64 {
    // Multiply, fold the high half into the low, multiply again: every step a bijection of
    // the state, and no flip of one bit anywhere ends as a single bit that a later word can
    // cancel (an odd multiply alone carries a word's top bit to the state's top bit only, so
    // two flips cancelled: FNV's weakness on words, and a rotation only moves that bit).
    const K1: u64 = 0x9e3779b97f4a7c15;
    const K2: u64 = 0xbf58476d1ce4e5b9;
    let step = |h: u64, w: u64| {
        let x = (h ^ w).wrapping_mul(K1);
        (x ^ (x >> 32)).wrapping_mul(K2)
    };
    let word = |b: &[u8]| u64::from_le_bytes(b.try_into().expect("8 bytes"));
    let len: usize = parts.iter().map(|p| p.len()).sum();
    let mut lanes = [
        0xcbf29ce484222325 ^ len as u64,
        0x9e3779b97f4a7c15,
        0xbf58476d1ce4e5b9,
        0x94d049bb133111eb,
    ];
    for part in parts {
        let mut blocks = part.chunks_exact(32);
        for b in blocks.by_ref() {
            for (j, lane) in lanes.iter_mut().enumerate() {
                *lane = step(*lane, word(&b[8 * j..8 * j + 8]));
            }
        }
        let rest = blocks.remainder();
        let mut words = rest.chunks_exact(8);
        for w in words.by_ref() {
            lanes[0] = step(lanes[0], word(w));
        }
        for &x in words.remainder() {
            lanes[0] = step(lanes[0], x as u64);
        }
        // A part's end, so that moving bytes between parts changes the hash.
        lanes[0] = step(lanes[0], part.len() as u64);
    }
    let h = lanes.iter().fold(0u64, |h, &l| step(h, l));
    // SplitMix64's finaliser.
    let h = (h ^ (h >> 30)).wrapping_mul(0xbf58476d1ce4e5b9);
    let h = (h ^ (h >> 27)).wrapping_mul(0x94d049bb133111eb);
    h ^ (h >> 31)
}

/// The sets of indices whose `keys` are equal, those of two or more, each in index order,
/// the sets in order of their first index.
pub fn equal_sets(keys: impl IntoIterator<Item = u64>) -> Vec<Vec<usize>> {
    let mut by: std::collections::HashMap<u64, Vec<usize>> = Default::default();
    for (i, k) in keys.into_iter().enumerate() {
        by.entry(k).or_default().push(i);
    }
    let mut v: Vec<Vec<usize>> = by.into_values().filter(|g| g.len() > 1).collect();
    v.sort();
    v
}

/// Side of the image the perceptual hash transforms, and of the block of frequencies it keeps.
const PHASH_SIDE: usize = 32;
const PHASH_BITS: usize = 8;

/// imagehash's `phash` of a grey image: resized to 32x32 with PIL's Lanczos filter
/// ([`pil_resize`]), the DCT-II's 8x8 lowest frequencies, each bit one frequency above the
/// median of the 64.
pub(super) fn phash(grey: &[u8], h: usize, w: usize) -> u64 {
    if h == 0 || w == 0 {
        return 0;
    }
    let n = PHASH_SIDE;
    let small: Vec<f64> = pil_resize(grey, h, w, n, n)
        .into_iter()
        .map(f64::from)
        .collect();
    // cos(pi k (2 i + 1) / 2n) for the kept frequencies k.
    let mut cos = [[0f64; PHASH_SIDE]; PHASH_BITS];
    for (k, row) in cos.iter_mut().enumerate() {
        for (i, c) in row.iter_mut().enumerate() {
            *c = (std::f64::consts::PI * k as f64 * (2 * i + 1) as f64 / (2 * n) as f64).cos();
        }
    }
    // Along the rows, then the columns (scipy's unnormalised DCT-II up to a factor 4).
    let mut rows = [[0f64; PHASH_BITS]; PHASH_SIDE];
    for y in 0..n {
        for (v, c) in cos.iter().enumerate() {
            rows[y][v] = (0..n).map(|x| small[y * n + x] * c[x]).sum();
        }
    }
    let mut low = [0f64; PHASH_BITS * PHASH_BITS];
    for (u, c) in cos.iter().enumerate() {
        for v in 0..PHASH_BITS {
            low[u * PHASH_BITS + v] = (0..n).map(|y| rows[y][v] * c[y]).sum();
        }
    }
    let mut sorted = low;
    sorted.sort_by(f64::total_cmp);
    let median = (sorted[31] + sorted[32]) / 2.0;
    low.iter()
        .enumerate()
        .fold(0u64, |hash, (b, &v)| hash | (((v > median) as u64) << b))
}

/// PIL's `resize(..., LANCZOS)` of a grey image (Pillow's `ImagingResample`): a horizontal
/// pass, then a vertical one, each a convolution with the Lanczos-3 kernel stretched by the
/// scale when shrinking, its weights normalised and held in 22-bit fixed point, every pass
/// rounded to 8 bits.
pub(super) fn pil_resize(src: &[u8], h: usize, w: usize, nh: usize, nw: usize) -> Vec<u8> {
    const PRECISION_BITS: u32 = 32 - 8 - 2;
    fn lanczos(x: f64) -> f64 {
        fn sinc(x: f64) -> f64 {
            if x == 0.0 {
                1.0
            } else {
                let px = std::f64::consts::PI * x;
                px.sin() / px
            }
        }
        if (-3.0..3.0).contains(&x) {
            sinc(x) * sinc(x / 3.0)
        } else {
            0.0
        }
    }
    // Per output pixel: the first input pixel and the fixed-point weights.
    fn coefficients(in_size: usize, out_size: usize) -> Vec<(usize, Vec<i64>)> {
        let scale = in_size as f64 / out_size as f64;
        let filterscale = scale.max(1.0);
        let support = 3.0 * filterscale;
        (0..out_size)
            .map(|xx| {
                let center = (xx as f64 + 0.5) * scale;
                let xmin = ((center - support + 0.5) as i64).max(0) as usize;
                let xmax = ((center + support + 0.5) as i64).min(in_size as i64) as usize;
                let ws: Vec<f64> = (xmin..xmax)
                    .map(|x| lanczos((x as f64 - center + 0.5) / filterscale))
                    .collect();
                let total: f64 = ws.iter().sum();
                let fixed = ws
                    .iter()
                    .map(|&wt| {
                        let v = if total != 0.0 { wt / total } else { 0.0 };
                        let f = v * (1i64 << PRECISION_BITS) as f64;
                        (if f < 0.0 { f - 0.5 } else { f + 0.5 }) as i64
                    })
                    .collect();
                (xmin, fixed)
            })
            .collect()
    }
    let clip = |v: i64| ((v + (1 << (PRECISION_BITS - 1))) >> PRECISION_BITS).clamp(0, 255) as u8;
    let mut mid = src.to_vec();
    let mut mw = w;
    if nw != w {
        let cs = coefficients(w, nw);
        mid = Vec::with_capacity(h * nw);
        for y in 0..h {
            let row = &src[y * w..(y + 1) * w];
            for (x0, k) in &cs {
                // (Zipped slices: no bounds check per tap; the same sum in the same order.)
                let sum: i64 = row[*x0..*x0 + k.len()]
                    .iter()
                    .zip(k)
                    .map(|(&p, &c)| p as i64 * c)
                    .sum();
                mid.push(clip(sum));
            }
        }
        mw = nw;
    }
    if nh == h {
        return mid;
    }
    let cs = coefficients(h, nh);
    let mut out = Vec::with_capacity(nh * mw);
    for (y0, k) in &cs {
        for x in 0..mw {
            let sum: i64 = k
                .iter()
                .enumerate()
                .map(|(j, &c)| mid[(y0 + j) * mw + x] as i64 * c)
                .sum();
            out.push(clip(sum));
        }
    }
    out
}
