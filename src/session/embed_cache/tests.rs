use super::*;
use crate::data::{image_folder, ImageShape, LoadOptions, Source};

/// The per-channel-mean backbone, counting its calls.
type Fake = crate::testing::MeanColour;

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
    // The entry is rewritten in place below (as a corrupting disk or program would): what it
    // held is copied out and its map dropped first, as a map sees such writes (see read_entry).
    let first = Cached {
        matrix: FeatureMatrix::new(6, 3, first.matrix.values.to_vec()).unwrap(),
        ..first
    };
    assert!(!first.matrix.values.is_mapped());
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

/// The file mapped at `addr` in this process (Linux: from `/proc/self/maps`), None when that
/// memory is not a mapped file (heap, stack, anonymous).
#[cfg(target_os = "linux")]
fn mapped_file_at(addr: usize) -> Option<String> {
    let maps = std::fs::read_to_string("/proc/self/maps").ok()?;
    maps.lines().find_map(|line| {
        let mut it = line.split_whitespace();
        let (a, b) = it.next()?.split_once('-')?;
        let (a, b) = (
            usize::from_str_radix(a, 16).ok()?,
            usize::from_str_radix(b, 16).ok()?,
        );
        // perms, offset, dev, inode, then the path (absent for anonymous memory; followed by
        // " (deleted)" once the file has no name).
        let path: Vec<&str> = it.skip(4).collect();
        ((a..b).contains(&addr) && !path.is_empty()).then(|| path.join(" "))
    })
}

#[test]
fn an_entry_is_read_in_place_from_its_map_and_a_replaced_entry_leaves_the_map_whole() {
    let data_dir = tempfile::tempdir().unwrap();
    let cache_dir = tempfile::tempdir().unwrap();
    let data = folder(data_dir.path());
    let cache = EmbedCache::new(cache_dir.path());
    let fake = Fake::new();
    let first = cache
        .embeddings(&data, &fake, "w", &mut no_progress())
        .unwrap();
    // A miss, too, hands back the entry it wrote, mapped (the computed vector is freed).
    assert!(!first.hit && first.matrix.values.is_mapped());
    let hit = cache
        .embeddings(&data, &fake, "w", &mut no_progress())
        .unwrap();
    assert!(hit.hit && hit.matrix.values.is_mapped());
    assert_eq!(hit.matrix, first.matrix);
    let rows: Vec<f32> = hit.matrix.values.to_vec();
    // The values' memory is the cache file's map, not the heap.
    #[cfg(target_os = "linux")]
    {
        let file = std::fs::canonicalize(&hit.path).unwrap();
        let at = mapped_file_at(hit.matrix.values.as_ptr() as usize);
        assert_eq!(at.as_deref(), Some(file.to_str().unwrap()), "{at:?}");
    }

    // Another process replaces the entry (by rename, as every writer of the cache does): the
    // open map keeps the old file, whole and unchanged; the next open sees the new file, whose
    // header is wrong, and recomputes it with a note.
    let tmp = cache_dir.path().join("other.tmp");
    std::fs::write(
        &tmp,
        vec![7u8; std::fs::metadata(&hit.path).unwrap().len() as usize],
    )
    .unwrap();
    std::fs::rename(&tmp, &hit.path).unwrap();
    assert_eq!(
        *hit.matrix.values,
        rows[..],
        "the map changed under the rename"
    );
    #[cfg(target_os = "linux")]
    {
        let at = mapped_file_at(hit.matrix.values.as_ptr() as usize).unwrap_or_default();
        assert!(at.ends_with("(deleted)"), "{at}");
    }
    let again = cache
        .embeddings(&data, &fake, "w", &mut no_progress())
        .unwrap();
    assert!(!again.hit, "the replaced entry was trusted");
    assert!(again.note.unwrap().contains("bad magic"));
    assert_eq!(*again.matrix.values, rows[..]);
    assert_eq!(*hit.matrix.values, rows[..]);
}

/// An entry validated and mapped once, then truncated in place: the next open checks the
/// file's length against its header before mapping, so it is a note and a recomputation, not
/// a map past the end of the file (SIGBUS on reading it).
#[test]
fn an_entry_truncated_after_it_was_mapped_is_recomputed_without_a_crash() {
    let data_dir = tempfile::tempdir().unwrap();
    let cache_dir = tempfile::tempdir().unwrap();
    let data = folder(data_dir.path());
    let cache = EmbedCache::new(cache_dir.path());
    let fake = Fake::new();
    let path = cache
        .embeddings(&data, &fake, "w", &mut no_progress())
        .unwrap()
        .path;
    let hit = cache
        .embeddings(&data, &fake, "w", &mut no_progress())
        .unwrap();
    assert!(hit.hit && hit.matrix.values.is_mapped());
    let rows = hit.matrix.values.to_vec();
    // No map of the file may be read once it is truncated in place: this one is dropped
    // first (a map still in use would raise SIGBUS past the new end, as with any mmap).
    drop(hit);
    let len = std::fs::metadata(&path).unwrap().len();
    for keep in [len - 1, len - 40, HEADER as u64 + 3, 5] {
        let f = std::fs::File::options().write(true).open(&path).unwrap();
        f.set_len(keep).unwrap();
        drop(f);
        let calls = fake.calls();
        let c = cache
            .embeddings(&data, &fake, "w", &mut no_progress())
            .unwrap();
        assert!(!c.hit && fake.calls() > calls, "{keep}: trusted");
        let note = c.note.unwrap_or_default();
        assert!(
            note.contains(&format!("{keep} bytes")) && note.contains("truncated"),
            "{keep}: {note}"
        );
        assert_eq!(*c.matrix.values, rows[..], "{keep}");
        assert_eq!(
            std::fs::metadata(&path).unwrap().len(),
            len,
            "rewritten whole"
        );
    }

    // The map's own length is checked too (a file truncated between the check and the map).
    let short = cache_dir.path().join("short");
    std::fs::write(&short, &std::fs::read(&path).unwrap()[..(len - 4) as usize]).unwrap();
    let file = std::fs::File::open(&short).unwrap();
    // SAFETY (test): the file is not modified while mapped.
    let map = unsafe { memmap2::Mmap::map(&file) }.unwrap();
    let key = u128::from_le_bytes(map[8..24].try_into().unwrap());
    let e = parse_entry(map, key, 6, 3).unwrap_err();
    assert!(e.contains("truncated"), "{e}");
}

#[test]
fn only_files_the_loader_turns_or_reduces_get_new_keys() {
    let data_dir = tempfile::tempdir().unwrap();
    let data = folder(data_dir.path());
    let spec = EmbedSpec {
        backbone: "fake".into(),
        weights: "w".into(),
        resolution: 224,
        dim: 3,
    };
    let key = cache_key(&data, &spec).unwrap();
    let with = |f: &dyn Fn(usize, &mut crate::data::Original)| {
        let mut o = data.originals().to_vec();
        for (i, x) in o.iter_mut().enumerate() {
            f(i, x);
        }
        cache_key(&data.clone().with_originals(o).unwrap(), &spec).unwrap()
    };
    // Small upright files: the key is the files' (sizes and times) alone.
    assert_eq!(with(&|_, _| {}), key);
    // A turned file, or one large enough to be box-reduced before its resize (8 x 224 on its
    // shorter side), changes it; one just under does not.
    assert_ne!(with(&|i, o| o.turned |= i == 1), key);
    let big = |side: u32| {
        with(&|i, o| {
            if i == 2 {
                (o.width, o.height) = (side + 500, side);
            }
        })
    };
    assert_ne!(big(8 * 224), key);
    assert_eq!(big(8 * 224 - 1), key);
}

/// A labels CSV's files are embedded from the files themselves, as an image folder's are (the
/// same rows for the same files), keyed by their stats, and the cache is refused inside the
/// CSV's folder.
#[test]
fn a_labels_csv_is_embedded_from_its_files() {
    let data_dir = tempfile::tempdir().unwrap();
    let cache_dir = tempfile::tempdir().unwrap();
    let data = folder(data_dir.path());
    let csv = data_dir.path().join("labels.csv");
    let rows: String = data
        .ids()
        .iter()
        .zip(data.labels())
        .map(|(id, &l)| format!("./{id},{}\n", data.classes[l as usize]))
        .collect();
    std::fs::write(&csv, format!("path,label\n{rows}")).unwrap();
    let listed = crate::data::load(&csv, &LoadOptions::default())
        .unwrap()
        .train;
    assert_eq!(listed.ids(), data.ids());
    let fake = Fake::new();
    let cache = EmbedCache::new(cache_dir.path().join("emb"));
    let from_folder = cache
        .embeddings(&data, &fake, "w", &mut no_progress())
        .unwrap();
    let from_csv = cache
        .embeddings(&listed, &fake, "w", &mut no_progress())
        .unwrap();
    assert_eq!(from_csv.matrix, from_folder.matrix);
    assert!(
        cache
            .embeddings(&listed, &fake, "w", &mut no_progress())
            .unwrap()
            .hit
    );
    let inside = EmbedCache::new(data_dir.path().join("cache"));
    let e = inside
        .embeddings(&listed, &fake, "w", &mut no_progress())
        .unwrap_err();
    assert!(e.to_string().contains("inside the dataset folder"), "{e}");
}
