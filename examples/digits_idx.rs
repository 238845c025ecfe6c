//! scikit-learn's digits as an IDX folder, the second real data set of the README's noisy-label
//! figures ("A second data set: scikit-learn's digits"): the 1797 8x8 digits its wheel ships
//! (`sklearn/datasets/data/digits.csv.gz`), scaled to 0 - 255 and upsampled to 28x28 with
//! `image`'s Triangle filter (as `tests/real_digits.rs` builds them), split 1400 / 397 by a
//! seeded shuffle, written as `train-*` and `t10k-*` IDX files.
//!
//! ```sh
//! pip download --no-deps --only-binary=:all: --python-version 3.11 \
//!     --platform manylinux2014_x86_64 scikit-learn==1.7.2 -d /tmp/whl
//! cargo run --release --example digits_idx -- /tmp/whl/scikit_learn-*.whl /tmp/digits [SEED]
//! itlm-inspector corrupt /tmp/digits --out /tmp/digits-rand60 --noise random --rate 0.6 --seed 7
//! ```
use std::io::Read;
use std::path::Path;

use itlm_inspector::data::idx;
use itlm_inspector::rng::Rng;

const SIDE: u32 = 28;
const TRAIN: usize = 1400;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (Some(wheel), Some(out)) = (args.first(), args.get(1)) else {
        return Err("usage: digits_idx WHEEL OUT_DIR [SEED]".into());
    };
    let seed: u64 = args.get(2).map(|s| s.parse()).transpose()?.unwrap_or(0);
    let mut zip = zip::ZipArchive::new(std::fs::File::open(wheel)?)?;
    let mut gz = Vec::new();
    zip.by_name("sklearn/datasets/data/digits.csv.gz")?
        .read_to_end(&mut gz)?;
    let mut csv = String::new();
    flate2::read::GzDecoder::new(&gz[..]).read_to_string(&mut csv)?;
    let mut images: Vec<(Vec<u8>, u8)> = Vec::new();
    for line in csv.lines().filter(|l| !l.trim().is_empty()) {
        let v: Vec<f32> = line
            .split(',')
            .map(|x| x.trim().parse())
            .collect::<Result<_, _>>()?;
        if v.len() != 65 {
            return Err(format!("a digits row has {} values, not 65", v.len()).into());
        }
        let small = image::GrayImage::from_fn(8, 8, |x, y| {
            image::Luma([(v[(y * 8 + x) as usize] * 255.0 / 16.0).round() as u8])
        });
        let big =
            image::imageops::resize(&small, SIDE, SIDE, image::imageops::FilterType::Triangle);
        images.push((big.into_raw(), v[64] as u8));
    }
    Rng::new(seed).shuffle(&mut images);
    let out = Path::new(out);
    std::fs::create_dir_all(out)?;
    let (train, test) = images.split_at(TRAIN.min(images.len()));
    write(out, "train", train)?;
    write(out, "t10k", test)?;
    println!(
        "{}: {} training and {} test digits, 28x28",
        out.display(),
        train.len(),
        test.len()
    );
    Ok(())
}

/// `<prefix>-images-idx3-ubyte` and `<prefix>-labels-idx1-ubyte` in `dir`.
fn write(
    dir: &Path,
    prefix: &str,
    set: &[(Vec<u8>, u8)],
) -> Result<(), Box<dyn std::error::Error>> {
    let side = SIDE as usize;
    let pixels: Vec<u8> = set.iter().flat_map(|(p, _)| p.iter().copied()).collect();
    let labels: Vec<u8> = set.iter().map(|(_, l)| *l).collect();
    let images = idx::encode(&[set.len(), side, side], &pixels)?;
    std::fs::write(dir.join(format!("{prefix}-images-idx3-ubyte")), images)?;
    let labels = idx::encode(&[set.len()], &labels)?;
    std::fs::write(dir.join(format!("{prefix}-labels-idx1-ubyte")), labels)?;
    Ok(())
}
