//! Loading image folders and CIFAR-10 batches from fixtures made here: good images of every
//! colour type, broken and hostile files, the train/test convention, and read-only access.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use image::{GrayImage, ImageBuffer, Luma, LumaA, Rgb, RgbImage, Rgba};
use itlm_inspector::data::{self, cifar, image_folder, Dataset, ImageShape, LoadOptions, Source};

fn gray(w: u32, h: u32, seed: u8) -> GrayImage {
    GrayImage::from_fn(w, h, |x, y| {
        Luma([(x as u8).wrapping_mul(7).wrapping_add(y as u8 * 3) ^ seed])
    })
}

fn rgb(w: u32, h: u32, seed: u8) -> RgbImage {
    RgbImage::from_fn(w, h, |x, y| Rgb([x as u8 ^ seed, y as u8, 200]))
}

fn mkdirs(p: &Path) {
    std::fs::create_dir_all(p).unwrap();
}

fn png_bytes(img: &GrayImage) -> Vec<u8> {
    let mut c = std::io::Cursor::new(Vec::new());
    img.write_to(&mut c, image::ImageFormat::Png).unwrap();
    c.into_inner()
}

fn jpeg_bytes(img: &RgbImage) -> Vec<u8> {
    let mut c = std::io::Cursor::new(Vec::new());
    img.write_to(&mut c, image::ImageFormat::Jpeg).unwrap();
    c.into_inner()
}

/// A PNG chunk: length, type, data, CRC over type + data.
fn chunk(kind: &[u8; 4], data: &[u8]) -> Vec<u8> {
    let mut out = (data.len() as u32).to_be_bytes().to_vec();
    out.extend_from_slice(kind);
    out.extend_from_slice(data);
    let mut crc = flate2::Crc::new();
    crc.update(kind);
    crc.update(data);
    out.extend_from_slice(&crc.sum().to_be_bytes());
    out
}

/// A well-formed PNG whose header claims `side` x `side` RGB pixels, with a tiny IDAT.
fn huge_header_png(side: u32) -> Vec<u8> {
    let mut out = vec![0x89, b'P', b'N', b'G', 0x0D, 0x0A, 0x1A, 0x0A];
    let mut ihdr = side.to_be_bytes().to_vec();
    ihdr.extend_from_slice(&side.to_be_bytes());
    ihdr.extend_from_slice(&[8, 2, 0, 0, 0]);
    out.extend(chunk(b"IHDR", &ihdr));
    let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::fast());
    z.write_all(&[0u8; 64]).unwrap();
    out.extend(chunk(b"IDAT", &z.finish().unwrap()));
    out.extend(chunk(b"IEND", &[]));
    out
}

/// Every file under `dir` (links not followed) with its size and modification time.
fn snapshot(dir: &Path) -> BTreeMap<PathBuf, (u64, std::time::SystemTime)> {
    walkdir::WalkDir::new(dir)
        .into_iter()
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            let m = std::fs::symlink_metadata(e.path()).ok()?;
            Some((e.path().to_path_buf(), (m.len(), m.modified().ok()?)))
        })
        .collect()
}

fn reason_for<'a>(d: &'a Dataset, name: &str) -> &'a str {
    d.skipped
        .iter()
        .find(|s| s.path.file_name().map(|n| n == name).unwrap_or(false))
        .map(|s| s.reason.as_str())
        .unwrap_or_else(|| panic!("{name} not skipped; skipped: {:?}", d.skipped))
}

fn err_text(r: itlm_inspector::error::Result<impl std::fmt::Debug>) -> String {
    r.expect_err("expected an error").to_string()
}

#[test]
fn good_images_of_every_kind_load() {
    let t = tempfile::tempdir().unwrap();
    let root = t.path();
    mkdirs(&root.join("cat/nested/deeper"));
    mkdirs(&root.join("dog"));
    let g = gray(8, 6, 1);
    g.save(root.join("cat/a.png")).unwrap();
    gray(8, 6, 2).save(root.join("cat/nested/b.png")).unwrap();
    gray(8, 6, 3)
        .save(root.join("cat/nested/deeper/c.pgm"))
        .unwrap();
    // 16-bit gray: 0xFFFF -> 255, 0x8080 -> 128
    ImageBuffer::<Luma<u16>, _>::from_fn(8, 6, |x, _| Luma([if x < 4 { 0xFFFF } else { 0x8080 }]))
        .save(root.join("dog/sixteen.png"))
        .unwrap();
    // gray + alpha: alpha dropped
    ImageBuffer::<LumaA<u8>, _>::from_fn(8, 6, |_, _| LumaA([90, 10]))
        .save(root.join("dog/ga.png"))
        .unwrap();
    // a different size: resized to the most common one
    gray(16, 12, 4).save(root.join("dog/big.png")).unwrap();
    // files directly in the root and hidden ones are ignored
    std::fs::write(root.join("truth.csv"), "path,true_label\n").unwrap();
    std::fs::write(root.join("README"), "hello").unwrap();
    std::fs::write(root.join("dog/.DS_Store"), "junk").unwrap();
    mkdirs(&root.join(".cache/x"));
    gray(8, 6, 5).save(root.join(".cache/x/h.png")).unwrap();
    mkdirs(&root.join("dog/.thumbs"));
    gray(8, 6, 5).save(root.join("dog/.thumbs/t.png")).unwrap();

    let d = image_folder::load(root, &LoadOptions::default()).unwrap();
    assert!(d.skipped.is_empty(), "{:?}", d.skipped);
    assert_eq!(d.classes, vec!["cat", "dog"]);
    assert_eq!(d.shape, ImageShape::new(6, 8, 1));
    assert_eq!(
        d.ids(),
        &[
            "cat/a.png",
            "cat/nested/b.png",
            "cat/nested/deeper/c.pgm",
            "dog/big.png",
            "dog/ga.png",
            "dog/sixteen.png"
        ]
    );
    assert_eq!(d.labels(), &[0, 0, 0, 1, 1, 1]);
    assert_eq!(d.source, Source::ImageFolder { root: root.into() });
    assert_eq!(
        d.image(0),
        g.as_raw().as_slice(),
        "same-size gray loads exactly"
    );
    assert!(d.image(4).iter().all(|&v| v == 90));
    let s = d.image(5);
    assert_eq!((s[0], s[7]), (255, 128));
    assert_eq!(d.file(1), Some(root.join("cat/nested/b.png")));
    // pixel storage is exactly n x shape: nothing else is kept
    assert_eq!(d.pixel_bytes(), 6 * 6 * 8);
}

#[test]
fn colour_and_shape_choice() {
    let t = tempfile::tempdir().unwrap();
    let root = t.path();
    mkdirs(&root.join("a"));
    mkdirs(&root.join("b"));
    rgb(100, 80, 1).save(root.join("a/1.png")).unwrap();
    rgb(100, 80, 2).save(root.join("a/2.jpg")).unwrap();
    rgb(100, 80, 3).save(root.join("a/3.bmp")).unwrap();
    ImageBuffer::<Rgba<u8>, _>::from_fn(100, 80, |_, _| Rgba([10, 20, 30, 0]))
        .save(root.join("b/rgba.png"))
        .unwrap();
    gray(40, 40, 1).save(root.join("b/g.png")).unwrap();
    let d = image_folder::load(root, &LoadOptions::default()).unwrap();
    // most common 80x100 (h x w), capped at 64 keeping the ratio; one RGB image -> 3 channels
    assert_eq!(d.shape, ImageShape::new(51, 64, 3));
    assert_eq!(d.len(), 5);
    assert_eq!(&d.image(4)[..3], &[10, 20, 30], "RGBA: alpha dropped");
    let g = d.image(3);
    assert!(
        g.chunks(3).all(|p| p[0] == p[1] && p[1] == p[2]),
        "gray -> RGB"
    );
    // forced shape and channels
    let opts = LoadOptions {
        size: Some((10, 12)),
        channels: Some(1),
        ..Default::default()
    };
    let d = image_folder::load(root, &opts).unwrap();
    assert_eq!(d.shape, ImageShape::new(10, 12, 1));
    assert_eq!(d.len(), 5);
    let bad = LoadOptions {
        channels: Some(4),
        ..Default::default()
    };
    assert!(err_text(image_folder::load(root, &bad)).contains("4 channels"));
}

#[test]
fn bad_files_are_skipped_with_reasons() {
    let t = tempfile::tempdir().unwrap();
    let root = t.path();
    for c in ["a", "b", "empty", "broken"] {
        mkdirs(&root.join(c));
    }
    let good = gray(8, 8, 9);
    good.save(root.join("a/good.png")).unwrap();
    rgb(8, 8, 9).save(root.join("b/good.jpg")).unwrap();
    std::fs::write(root.join("a/zero.png"), b"").unwrap();
    let png = png_bytes(&gray(8, 8, 1));
    std::fs::write(root.join("a/truncated.png"), &png[..png.len() / 2]).unwrap();
    let mut corrupt = png.clone();
    let mid = corrupt.len() - 30;
    corrupt[mid] ^= 0xFF;
    corrupt[mid + 1] ^= 0xFF;
    std::fs::write(root.join("a/corrupt.png"), &corrupt).unwrap();
    let jpg = jpeg_bytes(&rgb(64, 64, 3));
    std::fs::write(root.join("b/truncated.jpg"), &jpg[..jpg.len() * 2 / 3]).unwrap();
    std::fs::write(root.join("b/text.png"), b"this is not a picture at all").unwrap();
    std::fs::write(root.join("b/notes.txt"), b"some notes").unwrap();
    // A phone's HEIC photo and an AVIF: ISO media containers (the start of real files).
    let ftyp = |brand: &[u8; 4], compat: &[u8; 4]| {
        let mut b = vec![0, 0, 0, 0x18];
        b.extend_from_slice(b"ftyp");
        b.extend_from_slice(brand);
        b.extend_from_slice(&[0, 0, 0, 0]);
        b.extend_from_slice(compat);
        b.extend_from_slice(brand);
        b.extend_from_slice(&[0u8; 64]);
        b
    };
    std::fs::write(root.join("b/IMG_0001.HEIC"), ftyp(b"heic", b"mif1")).unwrap();
    std::fs::write(root.join("b/photo.avif"), ftyp(b"avif", b"mif1")).unwrap();
    // An AVIF whose major brand is HEIF's generic one: still named AVIF, not a phone's HEIC.
    std::fs::write(root.join("b/still.avif"), ftyp(b"mif1", b"avif")).unwrap();
    std::fs::write(root.join("b/huge.png"), huge_header_png(20000)).unwrap();
    std::fs::write(root.join("b/wide.png"), huge_header_png(8000)).unwrap();
    std::fs::write(root.join("broken/x.jpg"), &jpg[..100]).unwrap();

    let d = image_folder::load(root, &LoadOptions::default()).unwrap();
    assert_eq!(d.ids(), &["a/good.png", "b/good.jpg"]);
    assert_eq!(
        d.classes,
        vec!["a", "b"],
        "folders without images are no class"
    );
    assert_eq!(d.shape, ImageShape::new(8, 8, 3));
    assert_eq!(reason_for(&d, "zero.png"), "empty file (0 bytes)");
    assert!(reason_for(&d, "truncated.png").contains("PNG"));
    assert!(reason_for(&d, "corrupt.png").contains("corrupt or truncated PNG"));
    assert!(
        reason_for(&d, "truncated.jpg").contains("truncated JPEG"),
        "{}",
        reason_for(&d, "truncated.jpg")
    );
    assert!(reason_for(&d, "text.png").starts_with("not an image"));
    assert!(reason_for(&d, "notes.txt").starts_with("not an image"));
    let heic = reason_for(&d, "IMG_0001.HEIC");
    assert!(heic.contains("HEIC") && heic.contains("convert"), "{heic}");
    for f in ["photo.avif", "still.avif"] {
        let avif = reason_for(&d, f);
        assert!(
            avif.starts_with("AVIF") && avif.contains("convert"),
            "{avif}"
        );
    }
    let huge = reason_for(&d, "huge.png");
    assert!(
        huge.contains("too large") && huge.contains("20000x20000"),
        "{huge}"
    );
    let wide = reason_for(&d, "wide.png");
    assert!(
        wide.contains("too large") && wide.contains("(183 MiB decoded)"),
        "{wide}"
    );
    assert_eq!(
        reason_for(&d, "empty"),
        "empty class folder: not used as a class"
    );
    assert_eq!(
        reason_for(&d, "broken"),
        "no loadable image in this class folder: not used as a class"
    );
    assert!(reason_for(&d, "x.jpg").contains("JPEG"));
    assert_eq!(d.skipped.len(), 14);
    // skipped paths are full paths
    assert!(d.skipped.iter().all(|s| s.path.starts_with(root)));
    // with the shape given there is no header pass: decoding refuses the same files
    let opts = LoadOptions {
        size: Some((8, 8)),
        channels: Some(3),
        ..Default::default()
    };
    let f = image_folder::load(root, &opts).unwrap();
    assert_eq!(f.ids(), d.ids());
    assert_eq!(f.skipped.len(), 14);
    assert!(reason_for(&f, "huge.png").contains("20000x20000"));
    assert!(reason_for(&f, "truncated.jpg").contains("truncated JPEG"));
    assert!(reason_for(&f, "IMG_0001.HEIC").contains("HEIC"));
}

#[cfg(unix)]
#[test]
fn links_names_and_special_files() {
    use std::os::unix::ffi::OsStrExt;
    let t = tempfile::tempdir().unwrap();
    let root = t.path();
    mkdirs(&root.join("a/sub"));
    gray(4, 4, 1).save(root.join("a/sub/1.png")).unwrap();
    let odd = std::ffi::OsStr::from_bytes(b"odd_\xff.png");
    gray(4, 4, 2).save(root.join("a").join(odd)).unwrap();
    std::os::unix::fs::symlink(".", root.join("a/sub/loop")).unwrap();
    std::os::unix::fs::symlink("nowhere.png", root.join("a/dangling.png")).unwrap();
    // a symlinked class folder counts as a class
    std::os::unix::fs::symlink(root.join("a/sub"), root.join("b")).unwrap();
    let fifo = root.join("a/pipe.png");
    let made_fifo = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .map(|s| s.success())
        .unwrap_or(false);

    let d = image_folder::load(root, &LoadOptions::default()).unwrap();
    assert_eq!(d.classes, vec!["a", "b"]);
    assert_eq!(d.ids(), &["a/odd_\u{FFFD}.png", "a/sub/1.png", "b/1.png"]);
    // the lossy id still leads to the real file
    let f = d.file(0).unwrap();
    assert_eq!(f.file_name(), Some(odd));
    assert!(f.is_file());
    assert_eq!(d.file(1), Some(root.join("a/sub/1.png")));
    assert!(reason_for(&d, "loop").contains("symbolic link loop"));
    assert_eq!(reason_for(&d, "dangling.png"), "broken symbolic link");
    if made_fifo {
        assert!(reason_for(&d, "pipe.png").starts_with("not a regular file"));
    }
    // subsets keep the real file names
    let s = d.subset(&[2, 0]);
    assert_eq!(s.file(1).unwrap().file_name(), Some(odd));
}

/// A link into the kernel's virtual file systems is not followed (walking /proc/self would
/// reach the whole machine through /proc/self/root), and such a folder is no dataset.
#[cfg(target_os = "linux")]
#[test]
fn links_into_proc_and_sys_are_not_followed() {
    let t = tempfile::tempdir().unwrap();
    let root = t.path();
    mkdirs(&root.join("a"));
    gray(4, 4, 1).save(root.join("a/ok.png")).unwrap();
    let links: Vec<&str> = [("/proc/self/fdinfo", "fdinfo"), ("/sys/kernel", "kernel")]
        .into_iter()
        .filter(|(target, _)| Path::new(target).is_dir())
        .map(|(target, name)| {
            std::os::unix::fs::symlink(target, root.join("a").join(name)).unwrap();
            name
        })
        .collect();
    let d = image_folder::load(root, &LoadOptions::default()).unwrap();
    assert_eq!(d.ids(), &["a/ok.png"]);
    for name in &links {
        let r = reason_for(&d, name);
        assert!(r.contains("a virtual file system: not followed"), "{r}");
    }
    assert_eq!(d.skipped.len(), links.len(), "{:?}", d.skipped);
    let e = err_text(data::load(
        Path::new("/proc/self/fdinfo"),
        &LoadOptions::default(),
    ));
    assert!(
        e.contains("/proc/self/fdinfo: is in /proc, a virtual file system"),
        "{e}"
    );
}

#[cfg(unix)]
#[test]
fn unreadable_files_are_skipped() {
    use std::os::unix::fs::PermissionsExt;
    let t = tempfile::tempdir().unwrap();
    let root = t.path();
    mkdirs(&root.join("a"));
    gray(4, 4, 1).save(root.join("a/ok.png")).unwrap();
    let locked = root.join("a/locked.png");
    gray(4, 4, 2).save(&locked).unwrap();
    std::fs::set_permissions(&locked, std::fs::Permissions::from_mode(0o000)).unwrap();
    // A file whose read fails even for root: /proc/self/mem at offset 0 gives an I/O error.
    let mem = Path::new("/proc/self/mem");
    let have_mem = mem.exists();
    if have_mem {
        std::os::unix::fs::symlink(mem, root.join("a/mem.png")).unwrap();
    }
    let d = image_folder::load(root, &LoadOptions::default()).unwrap();
    if std::fs::read(&locked).is_err() {
        assert!(reason_for(&d, "locked.png").contains("Permission denied"));
        assert_eq!(d.ids(), &["a/ok.png"]);
    } else {
        // Running as root (as the tests do here): mode 000 does not stop reading, so the file
        // loads; the read-error path is covered by the /proc/self/mem link below.
        assert_eq!(d.ids(), &["a/locked.png", "a/ok.png"]);
    }
    if have_mem {
        assert!(
            reason_for(&d, "mem.png").starts_with("cannot read"),
            "{:?}",
            d.skipped
        );
    }
    std::fs::set_permissions(&locked, std::fs::Permissions::from_mode(0o644)).unwrap();
}

#[test]
fn folder_errors() {
    let t = tempfile::tempdir().unwrap();
    let root = t.path();
    let opts = LoadOptions::default();
    let missing = root.join("missing");
    assert!(err_text(image_folder::load(&missing, &opts)).ends_with("missing: not found"));
    assert!(err_text(data::load(&missing, &opts)).ends_with("not found"));
    std::fs::write(root.join("file.png"), b"x").unwrap();
    assert!(
        err_text(image_folder::load(&root.join("file.png"), &opts)).ends_with("not a directory")
    );
    // no class folders, and the one image directly in the root does not load (a flat,
    // unlabelled set of nothing)
    let e = err_text(image_folder::load(root, &opts));
    assert!(e.contains("no images found: 1 files skipped"), "{e}");
    assert!(e.contains("file.png: not an image"), "{e}");
    std::fs::remove_file(root.join("file.png")).unwrap();
    // nothing at all (a file that is no image is not one of a flat set)
    std::fs::write(root.join("notes.txt"), b"x").unwrap();
    assert!(err_text(image_folder::load(root, &opts))
        .contains("no class subfolders and no images: expected root/<class>/<image>"));
    // class folders, but nothing loadable
    mkdirs(&root.join("a"));
    mkdirs(&root.join("b"));
    std::fs::write(root.join("a/zero.png"), b"").unwrap();
    std::fs::write(root.join("b/t.txt"), b"text").unwrap();
    let e = err_text(image_folder::load(root, &opts));
    assert!(e.contains("no images found: 2 files skipped"), "{e}");
    assert!(
        e.contains("first reasons: a/zero.png: empty file (0 bytes); b/t.txt: not an image"),
        "{e}"
    );
    // only empty class folders
    let t2 = tempfile::tempdir().unwrap();
    mkdirs(&t2.path().join("c"));
    assert!(err_text(image_folder::load(t2.path(), &opts)).contains("no images found"));
}

#[test]
fn train_test_split_folder() {
    let t = tempfile::tempdir().unwrap();
    let root = t.path();
    for c in ["train/cat", "train/dog", "test/dog", "test/cat"] {
        mkdirs(&root.join(c));
    }
    gray(8, 8, 1).save(root.join("train/cat/1.png")).unwrap();
    gray(8, 8, 2).save(root.join("train/dog/1.png")).unwrap();
    gray(8, 8, 3).save(root.join("train/dog/2.png")).unwrap();
    // the test set has other sizes and colours: it is brought to the training shape
    rgb(16, 16, 1).save(root.join("test/dog/1.png")).unwrap();
    std::fs::write(root.join("truth.csv"), "path,true_label\n").unwrap();
    assert!(image_folder::split_dirs(root).is_some());
    let l = data::load(root, &LoadOptions::default()).unwrap();
    assert_eq!(l.train.classes, vec!["cat", "dog"]);
    assert_eq!(
        l.train.ids(),
        &["train/cat/1.png", "train/dog/1.png", "train/dog/2.png"]
    );
    assert_eq!(l.train.shape, ImageShape::new(8, 8, 1));
    let test = l.test.expect("a test split");
    assert_eq!(test.classes, l.train.classes);
    assert_eq!(test.ids(), &["test/dog/1.png"]);
    assert_eq!(test.labels(), &[1], "aligned by name");
    assert_eq!(test.shape, l.train.shape);
    assert_eq!(test.file(0), Some(root.join("test/dog/1.png")));
    assert!(
        test.skipped.iter().any(|s| s.path.ends_with("test/cat")),
        "the empty test class is reported"
    );
    // a test class the training set does not have is an error
    mkdirs(&root.join("test/bird"));
    gray(8, 8, 4).save(root.join("test/bird/1.png")).unwrap();
    let e = err_text(data::load(root, &LoadOptions::default()));
    assert!(
        e.contains("class 'bird' is not one of the training classes") && e.contains("--no-test"),
        "{e}"
    );
    // Without the split (`--no-test`), the set loads.
    let l = data::load(
        root,
        &LoadOptions {
            test_split: false,
            ..LoadOptions::default()
        },
    )
    .unwrap();
    assert!(l.test.is_none() && l.train.len() == 3);
    // a plain folder whose classes happen to be called train and test stays a plain folder
    let t2 = tempfile::tempdir().unwrap();
    for c in ["train", "test"] {
        mkdirs(&t2.path().join(c));
        gray(4, 4, 1).save(t2.path().join(c).join("x.png")).unwrap();
    }
    let l = data::load(t2.path(), &LoadOptions::default()).unwrap();
    assert!(l.test.is_none());
    assert_eq!(l.train.classes, vec!["test", "train"]);
}

#[test]
fn loading_never_writes_into_the_folder() {
    let t = tempfile::tempdir().unwrap();
    let root = t.path();
    for c in ["train/a", "train/b", "test/a"] {
        mkdirs(&root.join(c));
        gray(6, 6, 1).save(root.join(c).join("1.png")).unwrap();
    }
    std::fs::write(root.join("train/a/bad.png"), b"nope").unwrap();
    std::fs::write(root.join("truth.csv"), "path,true_label\n").unwrap();
    let before = snapshot(root);
    let l = data::load(root, &LoadOptions::default()).unwrap();
    assert_eq!(l.train.len(), 2);
    let _ = image_folder::load(&root.join("train"), &LoadOptions::default()).unwrap();
    assert_eq!(snapshot(root), before);
}

fn cifar_record(label: u8, seed: u8) -> Vec<u8> {
    let mut r = vec![label];
    for c in 0..3u8 {
        r.extend((0..1024u32).map(|p| (p as u8).wrapping_add(seed).wrapping_mul(c + 1)));
    }
    r
}

#[test]
fn cifar_round_trip_and_errors() {
    let t = tempfile::tempdir().unwrap();
    let dir = t.path();
    let b1: Vec<u8> = [cifar_record(3, 0), cifar_record(9, 1)].concat();
    let b3: Vec<u8> = cifar_record(0, 2);
    std::fs::write(dir.join("data_batch_1.bin"), &b1).unwrap();
    std::fs::write(dir.join("data_batch_3.bin"), &b3).unwrap();
    std::fs::write(dir.join("test_batch.bin"), cifar_record(5, 7)).unwrap();
    assert!(cifar::is_cifar_dir(dir));
    let l = data::load(dir, &LoadOptions::default()).unwrap();
    let train = &l.train;
    assert_eq!(train.shape, ImageShape::new(32, 32, 3));
    assert_eq!(train.classes[0], "airplane");
    assert_eq!(train.classes.len(), 10);
    assert_eq!(train.labels(), &[3, 9, 0]);
    assert_eq!(
        train.ids(),
        &[
            "data_batch_1.bin#0",
            "data_batch_1.bin#1",
            "data_batch_3.bin#0"
        ]
    );
    assert_eq!(train.source, Source::Cifar { dir: dir.into() });
    // H x W x C: pixel (y, x) channel c is byte 1 + c*1024 + y*32 + x of the record
    for (i, rec) in [&b1[..3073], &b1[3073..], &b3[..]].iter().enumerate() {
        let img = train.image(i);
        for (y, x, c) in [(0, 0, 0), (5, 7, 1), (31, 31, 2), (17, 2, 0)] {
            assert_eq!(img[(y * 32 + x) * 3 + c], rec[1 + c * 1024 + y * 32 + x]);
        }
    }
    let test = l.test.unwrap();
    assert_eq!((test.len(), test.label(0)), (1, 5));
    assert_eq!(test.id(0), "test_batch.bin#0");
    // class names from batches.meta.txt
    let names: Vec<String> = (0..10).map(|i| format!("k{i}")).collect();
    std::fs::write(dir.join("batches.meta.txt"), names.join("\n") + "\n\n").unwrap();
    assert_eq!(cifar::load_dir(dir).unwrap().train.classes, names);
    std::fs::write(dir.join("batches.meta.txt"), "a\nb\n").unwrap();
    assert!(err_text(cifar::load_dir(dir)).contains("batches.meta.txt: 2 class names"));
    std::fs::remove_file(dir.join("batches.meta.txt")).unwrap();
    // a wrong-sized file is refused, naming the file
    std::fs::write(dir.join("data_batch_3.bin"), &b3[..3000]).unwrap();
    let e = err_text(cifar::load_dir(dir));
    assert!(
        e.contains("data_batch_3.bin") && e.contains("3000 bytes is not a whole number"),
        "{e}"
    );
    // a label out of range
    std::fs::write(dir.join("data_batch_3.bin"), cifar_record(12, 0)).unwrap();
    let e = err_text(cifar::load_dir(dir));
    assert!(
        e.contains("data_batch_3.bin") && e.contains("record 0 has label 12"),
        "{e}"
    );
    // the archive's folder one level down is found too
    let t2 = tempfile::tempdir().unwrap();
    let inner = t2.path().join("cifar-10-batches-bin");
    mkdirs(&inner);
    std::fs::write(inner.join("data_batch_2.bin"), &b1).unwrap();
    let l = data::load(t2.path(), &LoadOptions::default()).unwrap();
    assert_eq!(l.train.len(), 2);
    assert!(l.test.is_none());
}

#[test]
fn a_load_counts_its_files_headers_and_images_for_the_window() {
    use std::sync::Arc;
    let t = tempfile::tempdir().unwrap();
    let root = t.path();
    for c in ["train/cat", "train/dog", "test/cat"] {
        mkdirs(&root.join(c));
    }
    for i in 0..3u8 {
        gray(8, 8, i)
            .save(root.join(format!("train/cat/{i}.png")))
            .unwrap();
    }
    gray(8, 8, 9).save(root.join("train/dog/a.png")).unwrap();
    std::fs::write(root.join("train/dog/notes.png"), b"not an image").unwrap();
    rgb(16, 16, 1).save(root.join("test/cat/t.png")).unwrap();
    let progress = Arc::new(data::LoadProgress::default());
    let opts = LoadOptions {
        progress: Some(progress.clone()),
        ..LoadOptions::default()
    };
    let l = data::load(root, &opts).unwrap();
    assert_eq!(
        (l.train.len(), l.test.as_ref().map(|t| t.len())),
        (4, Some(1))
    );
    let p = progress.snapshot();
    // Training: 5 headers read, the text file dropped there, 4 decoded; the test split (its
    // shape given) no headers, 1 decoded.
    assert_eq!((p.files, p.headers, p.decoded), (5, 5, 5));
    assert!(p.decoding_secs.is_some());
    // With the shape given there is no header pass: the text file fails while decoding.
    let given = Arc::new(data::LoadProgress::default());
    let opts = LoadOptions {
        size: Some((8, 8)),
        channels: Some(1),
        progress: Some(given.clone()),
        ..LoadOptions::default()
    };
    data::load(root, &opts).unwrap();
    let p = given.snapshot();
    assert_eq!((p.files, p.headers, p.decoded), (6, 0, 6));
}

/// Reopening a saved run reloads its images with the same counter (the window's loading line
/// had said only the seconds): at the run's size, so no header pass, every image decoded once.
#[test]
fn reopening_a_run_counts_its_images_for_the_window() {
    use itlm_inspector::session::{reopen, EvalInputs};
    use std::sync::Arc;
    let t = tempfile::tempdir().unwrap();
    let data = t.path().join("data");
    for (c, name) in ["cat", "dog"].iter().enumerate() {
        mkdirs(&data.join(name));
        for i in 0..6u8 {
            gray(10, 12, i * 17 + c as u8)
                .save(data.join(name).join(format!("{i}.png")))
                .unwrap();
        }
    }
    let out = t.path().join("out");
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_itlm-inspector"))
        .args([
            "run",
            data.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
        ])
        .args([
            "--model",
            "mlp",
            "--rounds",
            "1",
            "--epochs",
            "1",
            "--final-epochs",
            "1",
            "--quiet",
        ])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let file = out.join(itlm_inspector::export::RUN_FILE);
    let progress = Arc::new(data::LoadProgress::default());
    let l = reopen::load_counted(&file, &EvalInputs::default(), Some(progress.clone())).unwrap();
    assert_eq!(l.train.len(), 12);
    let p = progress.snapshot();
    assert_eq!((p.files, p.headers, p.decoded), (12, 0, 12));
    assert_eq!(p.line("r", 1.0), "Loading r: 12 of 12 images (1.0 s)");
    // Without a counter it loads the same.
    assert_eq!(
        reopen::load(&file, &EvalInputs::default())
            .unwrap()
            .train
            .len(),
        12
    );
}
