use std::sync::atomic::{AtomicUsize, Ordering};

use super::*;
use crate::data::{image_folder, ImageShape, LoadOptions};
use crate::learner::backbone::{BackboneKind, InputSpec, Outputs};

/// A backbone whose embedding is each image's per-channel mean (dim 3), counting its calls.
struct Fake {
    input: InputSpec,
    calls: AtomicUsize,
}

impl Fake {
    fn new() -> Self {
        Self {
            input: BackboneKind::EfficientNetLite0
                .input_spec(Some(32))
                .unwrap(),
            calls: AtomicUsize::new(0),
        }
    }

    fn calls(&self) -> usize {
        self.calls.load(Ordering::SeqCst)
    }
}

impl Backbone for Fake {
    fn kind(&self) -> BackboneKind {
        BackboneKind::EfficientNetLite0
    }
    fn input(&self) -> &InputSpec {
        &self.input
    }
    fn embedding_dim(&self) -> usize {
        3
    }
    fn num_classes(&self) -> Option<usize> {
        None
    }
    fn engine_name(&self) -> String {
        "fake".into()
    }
    fn forward(&self, batch: &ImageBatch, _: bool) -> Result<Outputs> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        let px = batch.height * batch.width;
        let mut e = Vec::new();
        for img in batch.pixels.chunks_exact(px * 3) {
            for c in 0..3 {
                e.push(img.iter().skip(c).step_by(3).sum::<f32>() / px as f32);
            }
        }
        Ok(Outputs {
            embeddings: e,
            logits: None,
        })
    }
}

/// An image folder of 2 classes x 3 images of mixed sizes and colours.
fn folder(root: &Path) -> Dataset {
    for (c, class) in ["a", "b"].iter().enumerate() {
        std::fs::create_dir_all(root.join(class)).unwrap();
        for i in 0..3u32 {
            let v = (c as u8) * 200 + (i as u8) * 20;
            image::RgbImage::from_pixel(40 + i * 30, 60 - i * 10, image::Rgb([v, 255 - v, 9]))
                .save(root.join(class).join(format!("{i}.png")))
                .unwrap();
        }
    }
    image_folder::load(root, &LoadOptions::default()).unwrap()
}

fn no_progress() -> impl FnMut(usize, usize) -> Result<()> {
    |_, _| Ok(())
}

#[test]
fn a_second_call_hits_the_cache_and_a_touched_file_invalidates_it() {
    let data_dir = tempfile::tempdir().unwrap();
    let cache_dir = tempfile::tempdir().unwrap();
    let data = folder(data_dir.path());
    let cache = EmbedCache::new(cache_dir.path().join("emb"));
    let fake = Fake::new();
    let mut ticks = Vec::new();
    let first = cache
        .embeddings(&data, &fake, "w", &mut |d, t| {
            ticks.push((d, t));
            Ok(())
        })
        .unwrap();
    assert!(!first.hit);
    assert_eq!(ticks.last(), Some(&(6, 6)));
    let calls = fake.calls();
    assert!(calls > 0);
    assert_eq!((first.matrix.rows, first.matrix.dim), (6, 3));
    // The red channel follows the colour of each file (not the loaded pixels' order).
    let red = |m: &FeatureMatrix, i: usize| m.row(i)[0];
    assert!(red(&first.matrix, 0) < red(&first.matrix, 3));

    let second = cache
        .embeddings(&data, &fake, "w", &mut no_progress())
        .unwrap();
    assert!(second.hit);
    assert_eq!(fake.calls(), calls, "a cache hit calls no backbone");
    assert_eq!(second.matrix, first.matrix);
    assert_eq!(second.path, first.path);

    // Other weights or another resolution: another entry.
    let other = cache
        .embeddings(&data, &fake, "w2", &mut no_progress())
        .unwrap();
    assert!(!other.hit && other.path != first.path);

    // A file rewritten with other content (and so another size / mtime) invalidates.
    let calls = fake.calls();
    let f = data.file(0).unwrap();
    std::thread::sleep(std::time::Duration::from_millis(20));
    image::RgbImage::from_pixel(50, 50, image::Rgb([255, 255, 255]))
        .save(&f)
        .unwrap();
    let third = cache
        .embeddings(&data, &fake, "w", &mut no_progress())
        .unwrap();
    assert!(!third.hit);
    assert!(fake.calls() > calls);
    assert!(red(&third.matrix, 0) > red(&first.matrix, 0));
    assert_eq!(third.matrix.row(1), first.matrix.row(1));

    // Nothing was written into the dataset folder.
    let files: Vec<_> = walkdir::WalkDir::new(data_dir.path())
        .into_iter()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_type().is_file())
        .map(|e| e.path().to_path_buf())
        .collect();
    assert_eq!(files.len(), 6, "{files:?}");
    assert!(first.path.starts_with(cache_dir.path()));
}

#[test]
fn a_corrupt_or_truncated_entry_is_recomputed() {
    let data_dir = tempfile::tempdir().unwrap();
    let cache_dir = tempfile::tempdir().unwrap();
    let data = folder(data_dir.path());
    let cache = EmbedCache::new(cache_dir.path());
    let fake = Fake::new();
    let first = cache
        .embeddings(&data, &fake, "w", &mut no_progress())
        .unwrap();
    let bytes = std::fs::read(&first.path).unwrap();
    // One flipped bit in a value: the CRC catches it.
    let mut bad = bytes.clone();
    bad[HEADER + 5] ^= 0x10;
    std::fs::write(&first.path, &bad).unwrap();
    let calls = fake.calls();
    let again = cache
        .embeddings(&data, &fake, "w", &mut no_progress())
        .unwrap();
    assert!(!again.hit && fake.calls() > calls);
    assert_eq!(again.matrix, first.matrix);
    assert_eq!(
        std::fs::read(&first.path).unwrap(),
        bytes,
        "rewritten whole"
    );
    // Truncated.
    std::fs::write(&first.path, &bytes[..bytes.len() - 7]).unwrap();
    let calls = fake.calls();
    let again = cache
        .embeddings(&data, &fake, "w", &mut no_progress())
        .unwrap();
    assert!(!again.hit && fake.calls() > calls);
    assert_eq!(again.matrix, first.matrix);
}

#[test]
fn the_cache_is_never_inside_the_dataset_and_cancels_and_names_bad_files() {
    let data_dir = tempfile::tempdir().unwrap();
    let data = folder(data_dir.path());
    let fake = Fake::new();
    let inside = EmbedCache::new(data_dir.path().join("cache"));
    let e = inside
        .embeddings(&data, &fake, "w", &mut no_progress())
        .unwrap_err();
    assert!(e.to_string().contains("inside the dataset folder"), "{e}");
    assert!(!data_dir.path().join("cache").exists());
    assert_eq!(fake.calls(), 0);

    let cache_dir = tempfile::tempdir().unwrap();
    let cache = EmbedCache::new(cache_dir.path());
    // Cancelled from the progress callback: nothing cached.
    let r = cache.embeddings(&data, &fake, "w", &mut |_, _| Err(Error::Cancelled));
    assert!(matches!(r, Err(Error::Cancelled)), "{r:?}");
    assert_eq!(std::fs::read_dir(cache_dir.path()).unwrap().count(), 0);

    // A file that no longer decodes: the error names it.
    let f = data.file(4).unwrap();
    std::fs::write(&f, b"not a png at all").unwrap();
    let e = cache
        .embeddings(&data, &fake, "w", &mut no_progress())
        .unwrap_err()
        .to_string();
    assert!(e.contains(&f.display().to_string()), "{e}");
}

#[test]
fn pixel_sets_are_embedded_from_their_pixels_grey_to_rgb() {
    let cache_dir = tempfile::tempdir().unwrap();
    let cache = EmbedCache::new(cache_dir.path());
    let shape = ImageShape::new(12, 12, 1);
    let mut pixels = vec![0u8; 3 * shape.len()];
    pixels[shape.len()..2 * shape.len()].fill(255);
    let data = Dataset::from_parts(
        "mem",
        Source::Memory,
        vec!["a".into(), "b".into()],
        shape,
        pixels,
        vec![0, 1, 0],
        vec!["0".into(), "1".into(), "2".into()],
    )
    .unwrap();
    let fake = Fake::new();
    let m = cache
        .embeddings(&data, &fake, "w", &mut no_progress())
        .unwrap()
        .matrix;
    // White sample: every channel at the top of the normalised range; black: at the bottom.
    for c in 0..3 {
        assert!((m.row(1)[c] - 1.0).abs() < 1e-4, "{:?}", m.row(1));
        assert!((m.row(0)[c] + 127.0 / 128.0).abs() < 1e-4, "{:?}", m.row(0));
    }
    assert!(
        cache
            .embeddings(&data, &fake, "w", &mut no_progress())
            .unwrap()
            .hit
    );
}

#[test]
fn the_cache_dir_follows_the_environment() {
    let s = |v: &str| Some(std::ffi::OsString::from(v));
    assert_eq!(
        cache_dir_from(s("/c"), s("/x"), s("/h")).unwrap(),
        PathBuf::from("/c")
    );
    assert_eq!(
        cache_dir_from(s(""), s("/x"), s("/h")).unwrap(),
        PathBuf::from("/x/itlm-inspector")
    );
    assert_eq!(
        cache_dir_from(None, None, s("/h")).unwrap(),
        PathBuf::from("/h/.cache/itlm-inspector")
    );
    assert!(cache_dir_from(None, None, None).is_err());
}
