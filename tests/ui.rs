//! The window, driven through egui_kittest: load a small IDX set written for the test, run a
//! tiny ITLM (MLP, 1 epoch, 2 rounds), and check what the panels show, the tau slider, the
//! round keys, the detail view, the confusion filter and exports.

mod common;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use egui_kittest::kittest::{NodeT as _, Queryable as _};
use egui_kittest::Harness;
use itlm_inspector::itlm::TauSchedule;
use itlm_inspector::learner::ModelKind;
use itlm_inspector::ui::settings::Settings;
use itlm_inspector::ui::state::{ExportWhat, RunStatus};
use itlm_inspector::ui::{App, AppState, Options};

const N: usize = 240;
const SIDE: usize = 8;

/// A 3-class IDX set of 8x8 images (a bright row band per class, plus noise) with every 8th
/// label flipped, a t10k test split and a truth.csv naming the flipped samples.
fn write_idx_set(dir: &Path) {
    let mut seed = 12345u64;
    let mut rnd = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let mut write = |prefix: &str, n: usize, flip: bool| -> Vec<(usize, u8, u8)> {
        let mut px = Vec::new();
        let mut given = Vec::new();
        let mut rows = Vec::new();
        for i in 0..n {
            let c = (i % 3) as u8;
            for y in 0..SIDE {
                for _ in 0..SIDE {
                    let band = y / 3 == c as usize;
                    let base = if band { 200 } else { 30 };
                    px.push((base + (rnd() % 40) as i32 - 20).clamp(0, 255) as u8);
                }
            }
            let g = if flip && i % 8 == 5 { (c + 1) % 3 } else { c };
            given.push(g);
            rows.push((i, c, g));
        }
        let mut im = vec![0, 0, 8, 3];
        for d in [n as u32, SIDE as u32, SIDE as u32] {
            im.extend_from_slice(&d.to_be_bytes());
        }
        im.extend_from_slice(&px);
        let mut lb = vec![0, 0, 8, 1];
        lb.extend_from_slice(&(n as u32).to_be_bytes());
        lb.extend_from_slice(&given);
        std::fs::write(dir.join(format!("{prefix}-images-idx3-ubyte")), im).unwrap();
        std::fs::write(dir.join(format!("{prefix}-labels-idx1-ubyte")), lb).unwrap();
        rows
    };
    let rows = write("train", N, true);
    write("t10k", 60, false);
    let mut truth = String::from("path,true_label\n");
    for (i, c, _) in rows {
        truth.push_str(&format!("train-images-idx3-ubyte#{i},{c}\n"));
    }
    std::fs::write(dir.join("truth.csv"), truth).unwrap();
}

fn tiny_settings() -> Settings {
    let mut s = Settings::default();
    s.learner.model = ModelKind::Mlp;
    s.learner.batch_size = 32;
    s.config.epochs = 1;
    s.config.final_epochs = 1;
    s.config.rounds = 2;
    s.config.schedule = TauSchedule::Constant;
    s.config.tau = 0.8;
    s
}

/// Step the harness until `done` or the timeout (then fail with `what`).
fn step_until(h: &mut Harness<'_, App>, secs: u64, what: &str, mut done: impl FnMut(&App) -> bool) {
    let t = Instant::now();
    while !done(h.state()) {
        assert!(
            t.elapsed() < Duration::from_secs(secs),
            "timed out after {secs} s waiting for {what}; messages: {:?}",
            h.state().state.messages
        );
        h.step();
        std::thread::sleep(Duration::from_millis(10));
    }
    // Let the panels catch up with the new state.
    h.run_steps(3);
}

fn harness(path: &Path) -> Harness<'static, App> {
    let options = Options {
        path: Some(path.to_path_buf()),
        fresh_settings: true,
        ..Default::default()
    };
    let mut h = Harness::builder()
        .with_size(egui::Vec2::new(1400.0, 950.0))
        .build_eframe(move |cc| App::new(cc, options));
    h.state_mut().state.settings = tiny_settings();
    h
}

fn files_in(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .map(|r| {
            r.filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

#[test]
fn window_runs_itlm_and_follows_the_user() {
    let data = tempfile::tempdir().unwrap();
    write_idx_set(data.path());
    let mut h = harness(data.path());

    // Loading runs in the background; the summary appears when it is done.
    step_until(&mut h, 60, "the dataset to load", |a| {
        a.state.data.is_some()
    });
    h.get_by_label_contains("240 images, 3 classes");
    h.get_by_label_contains("test set: 60");
    h.get_by_label_contains("truth: 30 known bad");

    // Start a tiny run and wait for every round.
    h.get_by_label("Start").click();
    step_until(&mut h, 300, "the run to finish", |a| {
        a.state
            .run
            .as_ref()
            .is_some_and(|r| r.status == RunStatus::Finished)
    });
    assert_eq!(h.state().state.rounds(), 3, "rounds 0, 1 and 2");
    // Live mode followed the newest round.
    h.get_by_label("Showing round 2 of 2");
    // The histogram and the grids show it: 0.8 * 240 = 192 kept.
    h.get_by_label("Round 2 losses: 192 kept, 48 trimmed");
    h.get_by_label("Trimmed (round 2): 48 samples");
    h.get_by_label("Trimmed (48)");
    h.get_by_label("Kept (192)");
    let cells = h.query_all_by_label_contains("sample ").count();
    assert!(cells >= 20, "thumbnail cells drawn: {cells}");
    assert!(
        !h.state().thumbs.is_empty(),
        "visible thumbnails have textures"
    );
    h.get_by_label("Loss histogram");
    h.get_by_label("Metrics over rounds");
    h.get_by_label_contains("vs truth at this cut:");

    // The view is cached: idle frames do not re-cut.
    let before = h.state().state.cut_computations();
    h.run_steps(5);
    assert_eq!(
        h.state().state.cut_computations(),
        before,
        "no re-cut per frame"
    );

    // Moving the tau slider re-cuts at once, without training.
    h.get_by_role_and_label(egui::Role::Slider, "tau")
        .set_value_accesskit(0.5);
    h.run_steps(2);
    assert_eq!(h.state().state.tau(), 0.5);
    h.get_by_label("Round 2 losses: 120 kept, 120 trimmed");
    h.get_by_label("Trimmed (round 2): 120 samples");
    assert!(h
        .query_by_label("Round 2 losses: 192 kept, 48 trimmed")
        .is_none());

    // Left / Right step through the rounds; everything follows.
    h.key_press(egui::Key::ArrowLeft);
    h.run_steps(2);
    h.get_by_label("Showing round 1 of 2");
    h.get_by_label("Round 1 losses: 120 kept, 120 trimmed");
    h.get_by_label("Trimmed (round 1): 120 samples");
    h.key_press(egui::Key::ArrowLeft);
    h.key_press(egui::Key::ArrowLeft);
    h.run_steps(2);
    h.get_by_label("Showing round 0 of 2");
    h.key_press(egui::Key::ArrowRight);
    h.run_steps(2);
    h.get_by_label("Showing round 1 of 2");
    // A click on the timeline too.
    h.get_by_label("Round 2").click();
    h.run_steps(2);
    h.get_by_label("Showing round 2 of 2");

    // A thumbnail opens the detail view; Down steps, Esc closes.
    let first = h.state_mut().state.lists().unwrap().trimmed[0];
    h.get_by_label_contains(&format!("sample {first}:")).click();
    h.run_steps(2);
    assert_eq!(h.state().state.selected_sample, Some(first));
    h.get_by_label(&format!("Sample {first}"));
    h.get_by_label("Loss across rounds plot");
    h.get_by_label("Class probabilities plot");
    h.key_press(egui::Key::ArrowDown);
    h.run_steps(2);
    let second = h.state_mut().state.lists().unwrap().trimmed[1];
    assert_eq!(h.state().state.selected_sample, Some(second));
    h.key_press(egui::Key::Escape);
    h.run_steps(2);
    assert_eq!(h.state().state.selected_sample, None);
    assert!(h.query_by_label("Loss across rounds plot").is_none());

    // A confusion cell filters the grid to it.
    let cell = h
        .query_all_by_label_contains("given ")
        .filter_map(|n| n.accesskit_node().label())
        .find(|l| l.contains(" predicted ") && !l.ends_with(": 0"))
        .expect("a non-empty confusion cell");
    let count: usize = cell.rsplit(": ").next().unwrap().parse().unwrap();
    h.get_by_label(&cell).click();
    h.run_steps(2);
    assert!(h.state().state.filter.cell.is_some());
    h.get_by_label(&format!("Trimmed (round 2): {count} samples"));
    h.get_by_label("clear cell filter").click();
    h.run_steps(2);
    h.get_by_label("Trimmed (round 2): 120 samples");

    // Every control has an accessible name.
    h.check_accessibility();

    // Export all into a temp folder through the menu.
    let out = tempfile::tempdir().unwrap();
    let target = out.path().join("export");
    h.get_by_label("Export").click();
    h.run_steps(3);
    h.get_by_label("All files to a folder...").click();
    h.run_steps(3);
    h.state_mut().state.export.target = target.display().to_string();
    h.run_steps(2);
    h.get_by_label("Export now").click();
    h.run_steps(1);
    step_until(&mut h, 30, "the export", |a| {
        !a.state.exporting() && a.state.export.open.is_none()
    });
    assert_eq!(
        files_in(&target),
        vec!["clean.txt", "flagged.txt", "run.itlm", "samples.csv"],
        "messages: {:?}",
        h.state().state.messages
    );
    let clean = std::fs::read_to_string(target.join("clean.txt")).unwrap();
    assert_eq!(
        clean.lines().count(),
        120,
        "the slider's cut is the verdict"
    );
    let run = itlm_inspector::export::RunFile::read(&target.join("run.itlm")).unwrap();
    let v = run.verdict.unwrap();
    assert_eq!((v.round, v.tau), (2, 0.5));
    assert_eq!(run.rounds.len(), 3);

    // Exporting again asks before replacing.
    h.state_mut().state.begin_export(ExportWhat::All);
    h.state_mut().state.export.target = target.display().to_string();
    h.run_steps(1);
    h.get_by_label("Export now").click();
    h.run_steps(2);
    h.get_by_label_contains("already exist");
    h.get_by_label("Replace").click();
    step_until(&mut h, 30, "the second export", |a| {
        !a.state.exporting() && a.state.export.open.is_none()
    });

    // Never inside the dataset folder: refused, nothing written.
    h.state_mut().state.begin_export(ExportWhat::FlaggedTxt);
    let inside = data.path().join("flagged.txt");
    h.state_mut().state.export.target = inside.display().to_string();
    h.run_steps(1);
    h.get_by_label("Export now").click();
    h.run_steps(2);
    h.get_by_label_contains("Export refused:");
    assert!(!inside.exists());
}

#[test]
fn step_one_round_pause_and_retrain_at_tau() {
    let data = tempfile::tempdir().unwrap();
    write_idx_set(data.path());
    let mut s = AppState::headless(tiny_settings());
    s.open_path(data.path());
    let wait = |s: &mut AppState, what: &str, f: &dyn Fn(&AppState) -> bool| {
        let t = Instant::now();
        while !f(s) {
            assert!(
                t.elapsed() < Duration::from_secs(120),
                "timed out waiting for {what}: {:?}",
                s.messages
            );
            s.poll();
            std::thread::sleep(Duration::from_millis(5));
        }
    };
    wait(&mut s, "loading", &|s| s.data.is_some());
    let status = |s: &AppState| s.run.as_ref().map(|r| r.status.clone());

    // Step: round 0, then paused.
    s.step_one_round();
    wait(&mut s, "round 0", &|s| {
        s.rounds() == 1 && status(s) == Some(RunStatus::Paused)
    });
    s.step_one_round();
    wait(&mut s, "round 1", &|s| {
        s.rounds() == 2 && status(s) == Some(RunStatus::Paused)
    });
    s.stop();
    wait(&mut s, "the stop", &|s| {
        status(s) == Some(RunStatus::Stopped)
    });
    assert_eq!(s.rounds(), 2, "finished rounds stay after a stop");

    // Retrain from round 0 at tau 0.5: round 1 trains on the 120 kept samples.
    s.select_round(0);
    s.set_tau(0.5);
    assert_eq!(s.cut().unwrap().kept_count, 120);
    s.retrain_at_tau();
    wait(&mut s, "the retrained run", &|s| {
        status(s) == Some(RunStatus::Finished)
    });
    let run = s.run.as_ref().unwrap();
    assert_eq!(run.history.len(), 3);
    assert_eq!(run.history[1].trained_on, 120);
    assert_eq!(run.history[1].round, 1);
    assert!(s.messages.iter().all(|m| !m.error), "{:?}", s.messages);
}

#[test]
fn errors_show_in_the_window() {
    let missing = PathBuf::from("/nonexistent/itlm-dataset");
    let mut h = harness(&missing);
    step_until(&mut h, 30, "the load to fail", |a| {
        a.state.loading.is_none() && !a.state.messages.is_empty()
    });
    h.get_by_label_contains("Cannot open /nonexistent/itlm-dataset");
    // Dismissible.
    h.get_by_label("Dismiss").click();
    h.run_steps(2);
    assert!(h.query_by_label_contains("Cannot open").is_none());
    // Nothing to run without data: Start is disabled, and no panic on the run buttons.
    h.state_mut().state.start();
    h.run_steps(2);
    h.get_by_label_contains("Open a dataset first");
}

/// A folder dropped on the window.
#[derive(Debug)]
struct Dropped(PathBuf);

impl egui::DroppedFile for Dropped {
    fn path(&self) -> &Path {
        &self.0
    }

    fn bytes(&self) -> Result<Vec<u8>, String> {
        Err("a folder".into())
    }
}

#[test]
fn a_dropped_folder_opens() {
    let data = tempfile::tempdir().unwrap();
    write_idx_set(data.path());
    let missing = PathBuf::from("/nonexistent/itlm-dataset");
    let mut h = harness(&missing);
    step_until(&mut h, 30, "the first load to fail", |a| {
        a.state.loading.is_none()
    });
    assert!(h.state().state.data.is_none());
    h.input_mut()
        .dropped_files
        .push(Arc::new(Dropped(data.path().to_path_buf())));
    step_until(&mut h, 60, "the dropped folder to load", |a| {
        a.state.data.is_some()
    });
    h.get_by_label_contains("240 images, 3 classes");
    // Remembered as a recent folder.
    let canon = std::fs::canonicalize(data.path()).unwrap();
    assert_eq!(h.state().state.settings.recent.first(), Some(&canon));
}

fn wait(s: &mut AppState, secs: u64, what: &str, f: impl Fn(&AppState) -> bool) {
    let t = Instant::now();
    while !f(s) {
        assert!(
            t.elapsed() < Duration::from_secs(secs),
            "timed out waiting for {what}: {:?}",
            s.messages
        );
        s.poll();
        std::thread::sleep(Duration::from_millis(5));
    }
}

fn loaded(train: itlm_inspector::data::Dataset) -> itlm_inspector::ui::state::Loaded {
    itlm_inspector::ui::state::Loaded {
        path: PathBuf::new(),
        train: Arc::new(train),
        test: None,
        test2: None,
        truth: None,
        bad: None,
        notes: Vec::new(),
        load_secs: 0.0,
    }
}

#[test]
fn detail_decodes_the_original_file_off_thread() {
    use itlm_inspector::data::{Dataset, ImageShape, Source};
    let root = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(root.path().join("a")).unwrap();
    image::RgbImage::from_pixel(40, 30, image::Rgb([10, 200, 30]))
        .save(root.path().join("a/x.png"))
        .unwrap();
    std::fs::write(root.path().join("a/broken.png"), b"not a png").unwrap();
    let d = Dataset::from_parts(
        "folder",
        Source::ImageFolder {
            root: root.path().to_path_buf(),
        },
        vec!["a".into(), "b".into()],
        ImageShape::new(8, 8, 3),
        vec![0; 2 * 8 * 8 * 3],
        vec![0, 1],
        vec!["a/x.png".into(), "a/broken.png".into()],
    )
    .unwrap();
    let mut s = AppState::headless(tiny_settings());
    s.open_loaded(loaded(d));
    s.select_sample(Some(0));
    wait(&mut s, 20, "the decoded original", |s| {
        s.original.as_ref().is_some_and(|o| o.rgba.is_some())
    });
    let (w, h, px) = s.original.as_ref().unwrap().rgba.clone().unwrap();
    assert_eq!((w, h, px.len()), (40, 30, 40 * 30 * 4));
    assert_eq!(&px[..4], &[10, 200, 30, 255]);
    // An unreadable original is reported, not fatal.
    s.select_sample(Some(1));
    wait(&mut s, 20, "the decode error", |s| {
        s.original.as_ref().is_some_and(|o| o.error.is_some())
    });
    assert!(s.messages.is_empty());
}

#[test]
fn pause_resume_and_stop_a_slow_run() {
    let mut s = AppState::headless(tiny_settings());
    s.open_loaded(loaded(common::dataset(30, 3)));
    s.factory = Some(Arc::new(|_d| {
        let (mut l, _) = common::FakeLearner::new((0..30).map(|i| i as f32).collect());
        l.batches = 50;
        l.batch_sleep_ms = 10;
        Ok(Box::new(l) as Box<dyn itlm_inspector::itlm::Learner>)
    }));
    let status = |s: &AppState| s.run.as_ref().map(|r| r.status.clone());
    s.start();
    wait(&mut s, 20, "running", |s| {
        s.run.as_ref().is_some_and(|r| r.progress.is_some())
    });
    s.pause();
    wait(&mut s, 20, "paused", |s| {
        status(s) == Some(RunStatus::Paused)
    });
    // Paused means no progress.
    let at = s.run.as_ref().unwrap().progress.clone();
    std::thread::sleep(Duration::from_millis(150));
    s.poll();
    assert_eq!(s.run.as_ref().unwrap().progress, at);
    s.resume();
    wait(&mut s, 20, "resumed", |s| {
        status(s) == Some(RunStatus::Running)
    });
    wait(&mut s, 20, "a round", |s| s.rounds() >= 1);
    s.stop();
    wait(&mut s, 20, "stopped", |s| {
        status(s) == Some(RunStatus::Stopped)
    });
    assert!(s.rounds() >= 1 && s.rounds() < 3);
    // The view still works on what was finished.
    assert_eq!(s.cut().unwrap().kept_count, 24);
}
