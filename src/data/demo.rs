//! The demo data set: six procedurally drawn classes of 32x32 RGB images with seeded label
//! noise and backdoor images. Fully determined by [`SEED`]; `gen-demo` writes it (`session::demo`), and
//! `assets/demo/` holds the committed output (a test checks it is exactly this output).

use super::corrupt::Corrupted;
use super::truth::TruthRow;
use super::watermark::{MarkShape, Position, Watermark};
use super::{Dataset, ImageShape, Source};
use crate::error::Result;
use crate::rng::Rng;

/// The seed everything below is drawn from.
pub const SEED: u64 = 2019;
/// Image side in pixels.
pub const SIZE: usize = 32;
/// Images per class before noise.
pub const PER_CLASS: usize = 150;
/// Class names, sorted (the order an image-folder loader finds them in).
pub const CLASSES: [&str; 6] = ["cross", "disc", "ring", "square", "stripes", "triangle"];
/// Systematic noise: this share of the first class is labelled as the second.
pub const SYSTEMATIC: (&str, &str, f64) = ("ring", "disc", 0.25);
/// Random noise: this share of every class goes to a uniformly random other class.
pub const RANDOM_RATE: f64 = 0.03;
/// Backdoor: this many images of the first class get a watermark and the second's label.
pub const BACKDOOR: (&str, &str, usize) = ("square", "triangle", 20);
/// The backdoor's watermark: a bright 5x5 X in the bottom-right corner.
pub const MARK: Watermark = Watermark {
    shape: MarkShape::X,
    size: 5,
    position: Position::Corner,
    value: 255,
};

/// The README.txt written beside the images.
pub const README: &str = "\
itlm-inspector demo data set
============================

900 colour images (32x32 RGB PNG) of six procedurally drawn classes, 150 each:
cross (orange), disc (red), ring (purple), square (blue), stripes (yellow),
triangle (green). Position, size, rotation, colour, background tint, a background
gradient and pixel noise are random, so the task is easy for a small CNN but not
trivial.

Bad samples (all seeded, listed in truth.csv as path,true_label,kind):
- systematic: 25% of the rings (38) are labelled disc;
- random: 3% of every class (5 each, 30 in all) carry a random other label;
- backdoor: 20 squares have a white 5x5 X stamped in the bottom-right corner and
  are labelled triangle.
88 of 900 samples (9.8%) are bad, so ITLM with tau around 0.9 should trim them:

  itlm-inspector run assets/demo --tau 0.9 --schedule constant --rounds 3 \\
      --epochs 2 --final-epochs 3 --batch-size 32 --lr 0.002 --out demo-run

(about 45 CPU seconds; presets::demo() holds these settings).

File names are a seeded shuffled serial: they say nothing about the truth.

Made by `itlm-inspector gen-demo --out assets/demo` (src/data/demo.rs, seed 2019).
The test `data::demo::tests::committed_assets_are_this_generators_output`
regenerates the set and checks these files against it.
";

/// Base colour (RGB) of each class, in [`CLASSES`] order.
const COLOURS: [[f32; 3]; 6] = [
    [240.0, 140.0, 30.0], // cross: orange
    [215.0, 40.0, 40.0],  // disc: red
    [150.0, 50.0, 190.0], // ring: purple
    [40.0, 70.0, 215.0],  // square: blue
    [230.0, 210.0, 40.0], // stripes: yellow
    [40.0, 170.0, 60.0],  // triangle: green
];

/// Random draw for one image.
struct Params {
    cy: f32,
    cx: f32,
    r: f32,
    cos: f32,
    sin: f32,
    period: f32,
}

/// Whether the point (dy, dx) from the centre is inside class `class`'s shape.
fn inside(class: usize, p: &Params, dy: f32, dx: f32) -> bool {
    // rotate into the shape's frame
    let u = p.cos * dx + p.sin * dy;
    let v = -p.sin * dx + p.cos * dy;
    let r = p.r;
    let d2 = dx * dx + dy * dy;
    match class {
        0 => {
            let w = r * 0.3;
            (u.abs() <= w && v.abs() <= r) || (v.abs() <= w && u.abs() <= r)
        }
        1 => d2 <= r * r,
        2 => {
            let inner = r - (r * 0.35).max(2.2);
            d2 <= r * r && d2 >= inner * inner
        }
        3 => u.abs() <= r * 0.8 && v.abs() <= r * 0.8,
        4 => {
            let s = r * 0.85;
            u.abs() <= s && v.abs() <= s && ((v + s) / p.period).floor() as i64 % 2 == 0
        }
        _ => {
            // equilateral triangle with circumradius r: three half-planes at distance r/2
            (0..3).all(|k| {
                let a = std::f32::consts::FRAC_PI_2 + k as f32 * 2.0 * std::f32::consts::PI / 3.0;
                u * a.cos() + v * a.sin() <= r * 0.5
            })
        }
    }
}

/// Draw one image of class `class` with its own random stream.
fn draw(class: usize, rng: &mut Rng) -> Vec<u8> {
    let s = SIZE as f32;
    let r = 6.0 + rng.next_f32() * 5.0;
    let margin = r + 1.0;
    let angle = rng.next_f32() * std::f32::consts::TAU;
    let p = Params {
        cy: margin + rng.next_f32() * (s - 2.0 * margin),
        cx: margin + rng.next_f32() * (s - 2.0 * margin),
        r,
        cos: angle.cos(),
        sin: angle.sin(),
        period: 2.5 + rng.next_f32() * 1.5,
    };
    // background: a tinted grey with a gentle gradient
    let grey = 50.0 + rng.next_f32() * 140.0;
    let tint: Vec<f32> = (0..3).map(|_| (rng.next_f32() - 0.5) * 60.0).collect();
    let (gy, gx) = ((rng.next_f32() - 0.5) * 1.6, (rng.next_f32() - 0.5) * 1.6);
    // foreground: the class colour, jittered and scaled
    let bright = 0.75 + rng.next_f32() * 0.35;
    let fg: Vec<f32> = COLOURS[class]
        .iter()
        .map(|&c| (c + (rng.next_f32() - 0.5) * 60.0) * bright)
        .collect();
    let sigma = 5.0;
    let mut out = Vec::with_capacity(SIZE * SIZE * 3);
    for y in 0..SIZE {
        for x in 0..SIZE {
            // 2x2 supersampling for smooth edges
            let mut cover = 0.0;
            for (oy, ox) in [(0.25, 0.25), (0.25, 0.75), (0.75, 0.25), (0.75, 0.75)] {
                if inside(class, &p, y as f32 + oy - p.cy, x as f32 + ox - p.cx) {
                    cover += 0.25;
                }
            }
            let grad = gy * (y as f32 - s / 2.0) + gx * (x as f32 - s / 2.0);
            let noise = rng.normal() * sigma;
            for c in 0..3 {
                let bg = grey + tint[c] + grad;
                let v = bg * (1.0 - cover) + fg[c] * cover + noise;
                out.push(v.round().clamp(0.0, 255.0) as u8);
            }
        }
    }
    out
}

/// The clean set: [`PER_CLASS`] images of each class, in class order.
pub fn clean() -> Result<Dataset> {
    let shape = ImageShape::new(SIZE, SIZE, 3);
    let n = CLASSES.len() * PER_CLASS;
    let mut pixels = Vec::with_capacity(n * shape.len());
    let mut labels = Vec::with_capacity(n);
    let mut ids = Vec::with_capacity(n);
    for (class, name) in CLASSES.iter().enumerate() {
        for i in 0..PER_CLASS {
            let mut rng = Rng::derive(SEED, (class * PER_CLASS + i) as u64);
            pixels.extend(draw(class, &mut rng));
            labels.push(class as u32);
            ids.push(format!("{name}#{i}"));
        }
    }
    let classes = CLASSES.iter().map(|s| s.to_string()).collect();
    Dataset::from_parts("demo", Source::Memory, classes, shape, pixels, labels, ids)
}

fn class(name: &str) -> u32 {
    CLASSES.iter().position(|c| *c == name).unwrap_or(0) as u32
}

/// The demo set with its noise: systematic, then random, then backdoor, each on samples still
/// clean.
pub fn generate() -> Result<Corrupted> {
    let mut c = Corrupted::clean(clean()?);
    let k = CLASSES.len() as u32;
    let (from, to, rate) = SYSTEMATIC;
    let mut perm: Vec<u32> = (0..k).collect();
    perm[class(from) as usize] = class(to);
    c.flip_systematic(rate, &perm, Some(class(from)), SEED)?;
    c.flip_random(RANDOM_RATE, None, SEED)?;
    let (from, to, count) = BACKDOOR;
    c.backdoor(
        count as f64 / PER_CLASS as f64,
        class(from),
        class(to),
        &MARK,
        SEED,
    )?;
    Ok(c)
}

/// The demo set as the image-folder loader reads `assets/demo` (ids = file paths), with its
/// truth rows: what the window opens when no path is given.
pub fn dataset() -> Result<(Dataset, Vec<TruthRow>)> {
    let (mut d, rows) = generate()?.as_written(SEED)?;
    d.name = "demo".into();
    Ok((d, rows))
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use std::path::Path;

    use super::*;
    use crate::data::corrupt::SampleKind;
    use crate::data::fixtures::read_pngs;
    use crate::data::truth;

    #[test]
    fn counts_and_determinism() {
        let c = generate().unwrap();
        assert_eq!(c.len(), 900);
        let (kinds, classes) = c.summary();
        assert_eq!(
            (kinds.clean, kinds.systematic, kinds.random, kinds.backdoor),
            (812, 38, 30, 20)
        );
        let moved: Vec<usize> = classes.iter().map(|c| c.relabelled_away).collect();
        // cross disc ring square stripes triangle
        assert_eq!(moved, [5, 5, 38 + 5, 20 + 5, 5, 5]);
        for i in 0..c.len() {
            if c.kinds[i] == SampleKind::Systematic {
                assert_eq!((c.true_labels[i], c.data.label(i)), (2, 1));
            }
            if c.kinds[i] == SampleKind::Backdoor {
                assert_eq!((c.true_labels[i], c.data.label(i)), (3, 5));
            }
        }
        let again = generate().unwrap();
        assert_eq!(again.data.pixels(), c.data.pixels());
        assert_eq!(again.data.labels(), c.data.labels());
        assert_eq!(again.kinds, c.kinds);
    }

    #[test]
    fn images_differ_and_classes_look_different() {
        let d = clean().unwrap();
        let distinct: BTreeSet<&[u8]> = (0..d.len()).map(|i| d.image(i)).collect();
        assert_eq!(distinct.len(), d.len());
        let mean_rgb = |class: usize| {
            let mut s = [0f64; 3];
            for i in class * PER_CLASS..(class + 1) * PER_CLASS {
                for px in d.image(i).chunks(3) {
                    for c in 0..3 {
                        s[c] += px[c] as f64;
                    }
                }
            }
            s.map(|v| v / (PER_CLASS * SIZE * SIZE) as f64)
        };
        // red discs are redder than blue squares, and blue squares bluer
        let (disc, square) = (mean_rgb(1), mean_rgb(3));
        assert!(disc[0] > square[0] + 10.0 && square[2] > disc[2] + 10.0);
    }

    #[test]
    fn dataset_view_matches_truth() {
        let (d, rows) = dataset().unwrap();
        assert_eq!(d.classes, CLASSES.map(String::from));
        let r = truth::resolve(&rows, &d);
        assert_eq!(r.info.bad.iter().filter(|&&b| b).count(), 88);
        assert_eq!(r.missing + r.unknown_paths + r.unknown_labels, 0);
        assert_eq!(d.class_counts().iter().sum::<usize>(), 900);
    }

    #[test]
    fn committed_assets_are_this_generators_output() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/demo");
        assert!(
            dir.is_dir(),
            "{} is missing: run `itlm-inspector gen-demo --out assets/demo`",
            dir.display()
        );
        let c = generate().unwrap();
        let paths = c.file_paths(SEED);
        let files = read_pngs(&dir);
        assert_eq!(
            files.keys().collect::<BTreeSet<_>>(),
            paths.iter().collect::<BTreeSet<_>>(),
            "the PNG files are the generator's"
        );
        for (i, p) in paths.iter().enumerate() {
            assert!(
                files[p] == c.data.image(i),
                "{p} differs from the generator's image"
            );
        }
        let mut others: Vec<String> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap())
            .filter(|e| e.file_type().unwrap().is_file())
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        others.sort();
        assert_eq!(others, ["README.txt", "truth.csv"]);
        assert_eq!(
            std::fs::read_to_string(dir.join("truth.csv")).unwrap(),
            truth::to_csv(&c.truth_rows(&paths))
        );
        assert_eq!(
            std::fs::read_to_string(dir.join("README.txt")).unwrap(),
            README
        );
    }
}
