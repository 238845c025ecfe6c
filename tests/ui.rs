//! The window, driven through egui_kittest: load a small IDX set written for the test, run a
//! tiny ITLM (MLP, 1 epoch, 2 rounds), and check what the panels show, the tau slider, the
//! round keys, the detail view, the confusion filter and exports.

mod common;

use common::wait;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use egui_kittest::kittest::{NodeT as _, Queryable as _};
use egui_kittest::Harness;
use itlm_inspector::data::quality::ImageIssue;
use itlm_inspector::itlm::TauSchedule;
use itlm_inspector::learner::ModelKind;
use itlm_inspector::ui::command::ExportWhat;
use itlm_inspector::ui::settings::Settings;
use itlm_inspector::ui::state::LiveStatus as RunStatus;
use itlm_inspector::ui::{App, AppState, Options};

const N: usize = 240;
const SIDE: usize = 8;

/// A 3-class IDX set of 8x8 images (a bright row band per class, plus noise) with every 8th
/// label flipped, a t10k test split and a truth.csv naming the flipped samples.
fn write_idx_set(dir: &Path) {
    write_idx_set_flipped(dir, |i, c| if i % 8 == 5 { (c + 1) % 3 } else { c });
}

/// [`write_idx_set`] with the training labels `flip(i, true class)` gives.
fn write_idx_set_flipped(dir: &Path, flip: fn(usize, u8) -> u8) {
    let mut seed = 12345u64;
    let mut rnd = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let flip_label = flip;
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
            let g = if flip { flip_label(i, c) } else { c };
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
    s.config.epochs = 1.0;
    s.config.final_epochs = 1;
    s.config.rounds = 2;
    s.config.schedule = TauSchedule::Constant;
    s.config.tau = 0.8;
    // A tau the user set, and the paper's global cut (the flows below count its ceil(tau n)).
    s.config.tau_from_data = false;
    s.config.select = itlm_inspector::itlm::Selection::Global;
    // The flows below are plain ITLM's (rounds train on their cut); the default's auto would
    // forward-correct the systematic flip of `write_idx_set`.
    s.config.transition = itlm_inspector::itlm::Forward::Off;
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

/// Poll a headless window's state until `f` holds (at most 120 s, then fail with `what`).
fn poll_until(s: &mut AppState, what: &str, f: &dyn Fn(&AppState) -> bool) {
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
}

/// Open `path` in the window and step until it is the loaded dataset.
fn open_and_wait(h: &mut Harness<'_, App>, path: &Path, what: &str) {
    h.state_mut().open(path);
    step_until(h, 60, what, |a| {
        a.state.loading.is_none() && a.state.data.as_ref().is_some_and(|d| d.path == path)
    });
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

/// A window opened on a fresh IDX set (the returned folder, kept alive by the caller), once the
/// set is loaded.
fn loaded_harness() -> (tempfile::TempDir, Harness<'static, App>) {
    let data = tempfile::tempdir().unwrap();
    write_idx_set(data.path());
    let mut h = harness(data.path());
    step_until(&mut h, 60, "the dataset to load", |a| {
        a.state.data.is_some()
    });
    (data, h)
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
    // Loading runs in the background; the summary appears when it is done.
    let (data, mut h) = loaded_harness();
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
    // A click on the histogram moves the cut there under the floored rule too (it had done
    // nothing but under the global one); per class there is no single line to move.
    let tau0 = h.state().state.tau();
    let set_rule = |h: &mut Harness<'_, App>, r| {
        h.state_mut().state.run.as_mut().unwrap().config.select = r;
        h.run_steps(2);
    };
    set_rule(&mut h, itlm_inspector::itlm::Selection::PerClass);
    h.get_by_label("Loss histogram").click();
    h.run_steps(2);
    assert_eq!(h.state().state.tau(), tau0);
    set_rule(&mut h, itlm_inspector::itlm::Selection::Floored);
    h.get_by_label("Loss histogram").click();
    h.run_steps(2);
    let tau1 = h.state().state.tau();
    assert!(tau1 != tau0, "{tau1}");
    h.state_mut().state.set_tau(tau0);
    set_rule(&mut h, itlm_inspector::itlm::Selection::Global);

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
    // The metrics' trim precision is the round's own cut's, and says so.
    h.get_by_label_contains("(at the round's tau 0.80)");

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
    // Its trim count covers rounds 0..=2 (a trimmed sample: at least the shown round's cut).
    let before = {
        let st = &h.state().state;
        st.run.as_ref().unwrap().history[..2]
            .iter()
            .filter(|r| !r.kept[first])
            .count()
    };
    h.get_by_label(&format!(
        "trimmed in {} of 3 rounds up to round 2",
        before + 1
    ));
    // On round 0 the count is of round 0 alone.
    h.key_press(egui::Key::ArrowLeft);
    h.key_press(egui::Key::ArrowLeft);
    h.run_steps(2);
    let n0 = usize::from(!h.state_mut().state.cut().unwrap().kept[first]);
    h.get_by_label(&format!("trimmed in {n0} of 1 round up to round 0"));
    h.key_press(egui::Key::ArrowRight);
    h.key_press(egui::Key::ArrowRight);
    h.run_steps(2);
    h.get_by_label("Loss across rounds plot");
    // The given class's bar, with its probability, whatever it is (0 included).
    let given_bar = {
        let st = &h.state().state;
        let i = st.selected_sample.unwrap();
        let d = &st.data.as_ref().unwrap().train;
        let g = d.label(i) as usize;
        let p = st.record().unwrap().probs_of(i, d.num_classes())[g];
        format!("p({}) = {p:.3}", d.classes[g])
    };
    h.get_by_label(&given_bar);
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
    // Every column heading sits over its column of cells.
    let classes = h.state().state.data.as_ref().unwrap().train.classes.clone();
    for (p, name) in classes.iter().enumerate() {
        let head = h.get_by_label(&format!("predicted column {name}")).rect();
        let g = (p + 1) % classes.len();
        let col = h
            .query_all_by_label_contains(&format!("given {} predicted {name}: ", classes[g]))
            .next()
            .expect("a confusion cell")
            .rect();
        assert!(
            (head.center().x - col.center().x).abs() < 0.5
                && (head.width() - col.width()).abs() < 0.5,
            "column {p} ({name}): heading {head:?}, cells {col:?}"
        );
    }
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
    h.state_mut().export.target = target.display().to_string();
    h.run_steps(2);
    h.get_by_label("Export now").click();
    h.run_steps(1);
    step_until(&mut h, 30, "the export", |a| {
        !a.export.exporting() && a.export.open.is_none()
    });
    assert_eq!(
        files_in(&target),
        vec![
            "clean.txt",
            "flagged.txt",
            "health.csv",
            "manifest.txt",
            "run.itlm",
            "samples.csv"
        ],
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
    // The run file names the test set it was evaluated on (the t10k files), as `run` does.
    assert_eq!(
        run.dataset.eval_sources.len(),
        1,
        "{:?}",
        run.dataset.eval_sources
    );
    assert_eq!(run.rounds.len(), 3);

    // Exporting again asks before replacing.
    h.state_mut().begin_export(ExportWhat::All);
    h.state_mut().export.target = target.display().to_string();
    h.run_steps(1);
    h.get_by_label("Export now").click();
    h.run_steps(2);
    h.get_by_label_contains("already exist");
    h.get_by_label("Replace").click();
    step_until(&mut h, 30, "the second export", |a| {
        !a.export.exporting() && a.export.open.is_none()
    });
    // The next export of this dataset defaults to the folder it last went to.
    h.state_mut().begin_export(ExportWhat::All);
    assert_eq!(h.state().export.target, target.display().to_string());
    h.state_mut().export.open = None;

    // Never inside the dataset folder: refused, nothing written.
    h.state_mut().begin_export(ExportWhat::FlaggedTxt);
    let inside = data.path().join("flagged.txt");
    h.state_mut().export.target = inside.display().to_string();
    h.run_steps(1);
    h.get_by_label("Export now").click();
    h.run_steps(2);
    h.get_by_label_contains("Export refused:");
    assert!(!inside.exists());
    h.state_mut().export.open = None;

    // Another dataset's export goes to a sibling folder named after it, not into this one's.
    let other = tempfile::tempdir().unwrap();
    write_idx_set(other.path());
    open_and_wait(&mut h, other.path(), "another dataset");
    h.state_mut().begin_export(ExportWhat::All);
    let name = h.state().state.data.as_ref().unwrap().train.name.clone();
    assert_eq!(
        PathBuf::from(&h.state().export.target),
        out.path().join(name)
    );
}

#[test]
fn step_one_round_pause_and_retrain_at_tau() {
    let data = tempfile::tempdir().unwrap();
    write_idx_set(data.path());
    let mut s = AppState::headless(tiny_settings());
    s.open_path(data.path(), Default::default());
    let wait = poll_until;
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

fn loaded(train: itlm_inspector::data::Dataset) -> itlm_inspector::session::Loaded {
    itlm_inspector::session::Loaded::new(PathBuf::new(), train)
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
    // The detail panel decodes the selected sample's file on a thread of its own.
    use itlm_inspector::ui::detail::Original;
    let repaint = itlm_inspector::ui::pending::no_repaint();
    let wait = |o: &mut Original, what: &str| {
        let t = Instant::now();
        while o.rgba.is_none() && o.error.is_none() {
            assert!(
                t.elapsed() < Duration::from_secs(20),
                "timed out waiting for {what}"
            );
            o.poll();
            std::thread::sleep(Duration::from_millis(5));
        }
    };
    let mut o = Original::decode(0, d.file(0).unwrap(), &repaint);
    wait(&mut o, "the decoded original");
    let (w, h, px) = o.rgba.clone().unwrap();
    assert_eq!((w, h, px.len()), (40, 30, 40 * 30 * 4));
    assert_eq!(&px[..4], &[10, 200, 30, 255]);
    // An unreadable original is reported, not fatal.
    let mut o = Original::decode(1, d.file(1).unwrap(), &repaint);
    wait(&mut o, "the decode error");
    assert!(o.error.is_some() && o.rgba.is_none());
}

/// Each fake learner's calls, in the order the runs built them.
type Log = Arc<std::sync::Mutex<Vec<Arc<std::sync::Mutex<common::Calls>>>>>;

/// A headless window on 30 samples whose runs train fake learners (losses rising with the
/// index, `sleep_ms` per batch of 20), each learner's calls logged.
fn logged_fake_runs(sleep_ms: u64) -> (AppState, Log) {
    let mut s = AppState::headless(tiny_settings());
    s.open_loaded(loaded(common::dataset(30, 3)));
    let log: Log = Default::default();
    let l2 = log.clone();
    s.factory = Some(Arc::new(move |_d, _b| {
        let (mut l, calls) = common::FakeLearner::new((0..30).map(|i| i as f32).collect());
        l.batches = 20;
        l.batch_sleep_ms = sleep_ms;
        l2.lock().unwrap().push(calls);
        Ok(Box::new(l) as Box<dyn itlm_inspector::itlm::Learner>)
    }));
    (s, log)
}

/// "Retrain at this tau" with the decisions unticked starts from the plain cut: a sample the
/// shown round's decisions excluded trains again if the cut keeps it (the pinned cut had been
/// the start, so the exclusion lingered in the first round trained).
#[test]
fn retraining_without_the_decisions_starts_from_the_plain_cut() {
    use itlm_inspector::session::decisions::Decision;
    let (mut s, log) = logged_fake_runs(0);
    s.decide(&[0], Some(Decision::Exclude));
    let finished = |s: &AppState| {
        s.run
            .as_ref()
            .is_some_and(|r| r.status == RunStatus::Finished)
    };
    s.start();
    wait(&mut s, 30, "the guided run", finished);
    let last_train = |log: &Log| {
        let calls = log.lock().unwrap().last().unwrap().clone();
        let c = calls.lock().unwrap();
        c.trains.first().unwrap().0.clone()
    };
    assert!(!last_train(&log).contains(&0), "excluded");
    let rounds = s.rounds();
    s.decide.ignore_in_training = true;
    s.retrain_at_tau();
    wait(&mut s, 30, "the plain retrain", |s| {
        finished(s) && s.rounds() > rounds
    });
    assert!(
        last_train(&log).contains(&0),
        "the plain cut keeps the lowest loss: {:?}",
        last_train(&log)
    );
}

/// Decisions made while a run is paused reach its next "Step one round": the run continues
/// anew from its last round with them (the live worker's pins were fixed at its start).
#[test]
fn a_step_after_decisions_made_while_paused_trains_with_them() {
    use itlm_inspector::session::decisions::Decision;
    let (mut s, log) = logged_fake_runs(5);
    let saves = tempfile::tempdir().unwrap();
    s.autosave.root = Some(saves.path().to_path_buf());
    s.step_one_round();
    wait(&mut s, 30, "round 0, paused", |s| {
        s.rounds() == 1
            && s.run
                .as_ref()
                .is_some_and(|r| r.status == RunStatus::Paused)
    });
    assert!(s.run.as_ref().unwrap().is_live());
    s.decide(&[0], Some(Decision::Exclude));
    let file = s.autosave.file.clone().expect("saved");
    s.step_one_round();
    wait(&mut s, 30, "round 1", |s| s.rounds() == 2);
    let calls = log.lock().unwrap().last().unwrap().clone();
    let trained = calls.lock().unwrap().trains.first().unwrap().0.clone();
    assert!(!trained.contains(&0), "{trained:?}");
    assert!(s.run.as_ref().unwrap().pins.is_some());
    // The same run goes on in its own file (a new run-NNN.itlm per step had been started).
    assert_eq!(s.autosave.file.as_ref(), Some(&file));
    assert!(
        !s.messages
            .iter()
            .any(|m| m.text.contains("previous run is saved")),
        "{:?}",
        s.messages
    );
    wait(&mut s, 30, "the save", |s| {
        !s.autosave.writing() && s.autosave.saved.as_ref() == Some(&file)
    });
    let files: Vec<_> = std::fs::read_dir(file.parent().unwrap())
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.path().extension().is_some_and(|x| x == "itlm"))
        .collect();
    assert_eq!(files.len(), 1);
}

#[test]
fn pause_resume_and_stop_a_slow_run() {
    let mut s = AppState::headless(tiny_settings());
    s.open_loaded(loaded(common::dataset(30, 3)));
    s.factory = Some(Arc::new(|_d, _b| {
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

/// A run on the default label-noise handling (auto) whose round 0 reads many spread flips
/// (random noise: 12 of 40 samples look like another class, each class's flips spread over
/// the other three) turns into co-teaching: the window's run takes co-teaching's config and
/// description, drops round 0's record and shows co-teaching's rounds, the tau slider moves
/// to the tau the noise estimate gave, and a note says why.
#[test]
fn auto_turns_the_windows_run_into_coteaching_on_heavy_random_noise() {
    let (n, k) = (40, 4);
    let spread: Vec<f32> = (0..n)
        .flat_map(|i| {
            let c = if i < 12 {
                (i % k + 1 + i / 4) % k
            } else {
                i % k
            };
            (0..k).map(move |j| if j == c { 0.9 } else { 0.05 })
        })
        .collect();
    let clean: Vec<f32> = (0..n)
        .flat_map(|i| (0..k).map(move |j| if j == i % k { 0.9 } else { 0.05 }))
        .collect();
    let mut settings = tiny_settings();
    settings.config.transition = itlm_inspector::itlm::Forward::Auto;
    let mut s = AppState::headless(settings);
    s.open_loaded(loaded(common::dataset(n, k)));
    s.factory = Some(Arc::new(move |_d, _b| {
        let (mut l, _) = common::FakeLearner::new((0..n).map(|i| i as f32).collect());
        l.probs = vec![spread.clone(), clean.clone(), clean.clone()];
        l.forks = true;
        Ok(Box::new(l) as Box<dyn itlm_inspector::itlm::Learner>)
    }));
    assert_eq!(s.tau(), 0.8);
    s.start();
    wait(&mut s, 20, "the run to finish", |s| {
        s.run
            .as_ref()
            .is_some_and(|r| r.status == RunStatus::Finished)
    });
    let run = s.run.as_ref().unwrap();
    let ct = run.config.coteach.expect("the run became co-teaching");
    assert_eq!(
        run.config.tau, 0.7,
        "1 - the 30% the confident joint counted"
    );
    assert_eq!(
        s.rounds(),
        ct.epochs,
        "co-teaching's rounds; round 0's dropped"
    );
    assert!(
        run.learner_description.starts_with("co-teaching"),
        "{}",
        run.learner_description
    );
    assert_eq!(s.tau(), 0.7, "the slider follows the run's tau");
    assert!(
        s.messages
            .iter()
            .any(|m| m.text.starts_with("co-teaching (auto): on")),
        "{:?}",
        s.messages
    );
    // Saved as what it ran: a co-teaching run file.
    let file = s.run_file(None).unwrap();
    assert_eq!(file.config.coteach, Some(ct));
    assert_eq!(file.rounds.len(), ct.epochs);
}

// ------------------------------------------------------------------ saved runs

/// `itlm-inspector run` on `data` (tiny MLP schedule, a 150-sample subset) writing into `out`.
/// `cli_run` on a fresh copy of the IDX set: the set's and the output's folders (kept alive
/// by the caller) and the run file.
fn saved_run(extra: &[&str]) -> (tempfile::TempDir, tempfile::TempDir, PathBuf) {
    let data = tempfile::tempdir().unwrap();
    write_idx_set(data.path());
    let out = tempfile::tempdir().unwrap();
    cli_run(data.path(), out.path(), extra);
    let file = out.path().join("run.itlm");
    (data, out, file)
}

fn cli_run(data: &Path, out: &Path, extra: &[&str]) {
    use clap::Parser as _;
    let mut args = vec![
        "itlm-inspector".to_string(),
        "run".into(),
        data.display().to_string(),
        "--out".into(),
        out.display().to_string(),
        "--quiet".into(),
    ];
    for a in [
        "--model",
        "mlp",
        "--epochs",
        "1",
        "--final-epochs",
        "1",
        "--rounds",
        "2",
        "--tau",
        "0.8",
        "--schedule",
        "constant",
        "--batch-size",
        "16",
        "--limit",
        "150",
        // The paper's global cut: the counts below are its ceil(tau n).
        "--select",
        "global",
    ]
    .chunks(2)
    // The test's own value of an option replaces the default here.
    .filter(|pair| !extra.contains(&pair[0]))
    .flatten()
    .chain(extra)
    // Plain ITLM unless the test says otherwise (see `tiny_settings`).
    .chain(if extra.contains(&"--transition") {
        &[][..]
    } else {
        &["--transition", "off"][..]
    }) {
        args.push(a.to_string());
    }
    let cli = itlm_inspector::cli::Cli::parse_from(args);
    match cli.command {
        Some(itlm_inspector::cli::Command::Run(a)) => itlm_inspector::cli::run_command(&a).unwrap(),
        _ => unreachable!(),
    }
}

/// `run` (a run file edited in memory) saved as `name` in `dir` and opened in the window,
/// its data and a round shown, with no error.
fn open_edited(
    dir: &Path,
    name: &str,
    run: &itlm_inspector::export::RunFile,
) -> Harness<'static, App> {
    let saved = dir.join(name);
    itlm_inspector::export::write_atomic(
        &saved,
        &run.to_bytes().unwrap(),
        itlm_inspector::export::Overwrite::Refuse,
    )
    .unwrap();
    let h = opened_run(&saved);
    no_errors(&h);
    h
}

/// A window opened on the run file `file`, once its data is loaded and a round shown.
fn opened_run(file: &Path) -> Harness<'static, App> {
    let mut h = harness(file);
    step_until(&mut h, 60, "the run file to open", |a| {
        a.state.data.is_some() && a.state.record().is_some()
    });
    h
}

fn no_errors(h: &Harness<'_, App>) {
    let errors: Vec<_> = h
        .state()
        .state
        .messages
        .iter()
        .filter(|m| m.error)
        .collect();
    assert!(errors.is_empty(), "{errors:?}");
}

#[test]
fn a_saved_run_reopens_with_its_rounds_verdict_and_thumbnails() {
    use itlm_inspector::export::RunFile;
    let (data, _out, file) = saved_run(&[]);
    let saved = RunFile::read(&file).unwrap();
    assert_eq!(saved.dataset.len(), 150);

    // Opened like a dataset (here: the path given on the command line).
    let mut h = harness(&file);
    step_until(&mut h, 60, "the run file to open", |a| {
        a.state.data.is_some()
    });
    no_errors(&h);
    h.get_by_label("Saved run");
    h.get_by_label_contains("verdict: round 2 at tau 0.80, 30 flagged");
    h.get_by_label_contains("150 images, 3 classes");
    // Its rounds, the verdict's round and cut, its configuration.
    assert_eq!(h.state().state.rounds(), 3);
    h.get_by_label("Showing round 2 of 2");
    for r in 0..3 {
        h.get_by_label(&format!("Round {r}"));
    }
    h.get_by_label("Round 2 losses: 120 kept, 30 trimmed");
    h.get_by_label("Trimmed (round 2): 30 samples");
    assert_eq!(h.state().state.tau(), 0.8);
    assert_eq!(h.state().state.settings.learner.model, ModelKind::Mlp);
    assert_eq!(h.state().state.settings.config.rounds, 2);
    h.get_by_label("finished");
    h.get_by_label("Loss histogram");
    h.get_by_label("Metrics over rounds");
    // The truth saved in the run scores the cut.
    h.get_by_label_contains("vs truth at this cut:");
    // The confusion of the trimmed samples.
    h.get_by_label_contains("Trimmed by given (rows) x predicted (columns), round 2");

    // Labels in the grid are the run's: a cell names given -> predicted classes.
    let rec = h.state().state.record().unwrap().clone();
    let first = h.state_mut().state.lists().unwrap().trimmed[0];
    let given = saved.dataset.labels[first];
    let label = format!(
        "sample {first}: {} -> {}, loss {:.3}",
        given, rec.predicted[first], rec.score[first]
    );
    h.get_by_label_contains(&label);

    // Thumbnails load, from the reloaded dataset's pixels in the run's sample order.
    assert!(!h.state().thumbs.is_empty(), "thumbnails were made");
    let full = itlm_inspector::data::load(data.path(), &Default::default())
        .unwrap()
        .train;
    let index = full.index_of_ids();
    {
        let st = &h.state().state;
        let d = st.data.as_ref().unwrap();
        assert!(d.has_images());
        assert_eq!(d.train.ids(), saved.dataset.ids.as_slice());
        for i in [0, first, 149] {
            let j = index[d.train.id(i)];
            assert_eq!(d.train.image(i), full.image(j), "sample {i}");
        }
        // The data's own test split comes back too (for retraining).
        assert_eq!(d.test.as_ref().map(|t| t.len()), Some(60));
    }

    // Retrain at this tau works on the reopened run.
    h.get_by_label("Round 1").click();
    h.run_steps(2);
    h.get_by_role_and_label(egui::Role::Slider, "tau")
        .set_value_accesskit(0.5);
    h.run_steps(2);
    let old_last = h.state().state.run.as_ref().unwrap().history[2].clone();
    h.get_by_label("Retrain at this tau").click();
    // (The reopened run is "finished" too: wait for a new last round.)
    step_until(&mut h, 300, "the retrained run", |a| {
        a.state.run.as_ref().is_some_and(|r| {
            r.status == RunStatus::Finished
                && r.history.len() == 3
                && !Arc::ptr_eq(&r.history[2], &old_last)
        })
    });
    no_errors(&h);
    let run = h.state().state.run.as_ref().unwrap();
    assert_eq!(run.history.len(), 3);
    assert_eq!(
        run.history[2].trained_on, 75,
        "round 2 trained on tau 0.5 of 150"
    );
    // The rounds up to the cut are the saved ones.
    assert_eq!(run.history[0].loss, saved.rounds[0].loss);
    assert_eq!(run.history[1].loss, saved.rounds[1].loss);
}

/// A run that chose its tau from the data reopens as it was shown live: "from the data" stays
/// ticked and the tau hint reads the run's own estimate (1 - its tau). A run shown at a tau the
/// user set reopens with the box unticked.
#[test]
fn a_reopened_run_whose_tau_came_from_the_data_keeps_the_box_ticked() {
    use itlm_inspector::export::RunFile;
    let (_data, out, file) = saved_run(&[]);
    let mut run = RunFile::read(&file).unwrap();
    // What `run` writes when its tau came from the data: the flag, and the chosen tau (0.8
    // here) in the config, the tau its cuts and verdict keep.
    run.config.tau_from_data = true;
    let mut h = open_edited(out.path(), "from-data.itlm", &run);
    // (`harness` puts its tiny settings in after the first frame, which may have shown the
    // run already: open it again.)
    reopen(&mut h, &out.path().join("from-data.itlm"));
    let st = &h.state().state;
    assert_eq!(st.tau(), 0.8);
    assert!(st.settings.config.tau_from_data, "the box is ticked");
    assert!((st.chosen_noise.unwrap() - 0.2).abs() < 1e-9);
    h.get_by_label("from the data");
    h.get_by_label_contains("suggested tau");

    // Shown at another tau (a verdict the user chose): tau is the user's.
    let mut v = run.verdict().unwrap();
    v.tau = 0.6;
    run.verdict = Some(v);
    h = open_edited(out.path(), "user-tau.itlm", &run);
    reopen(&mut h, &out.path().join("user-tau.itlm"));
    let st = &h.state().state;
    assert_eq!(st.tau(), 0.6);
    assert!(!st.settings.config.tau_from_data);
    assert_eq!(st.chosen_noise, None);
}

/// A run that relabelled trimmed samples itself (`--relabel`): the grid bar counts them as
/// the exports do (relabelled by the run, not flagged), with no decision of the user's.
#[test]
fn the_grid_bar_counts_the_runs_own_relabels_as_the_exports_do() {
    use itlm_inspector::export::RunFile;
    let (_data, out, file) = saved_run(&[]);
    let mut run = RunFile::read(&file).unwrap();
    let n = run.dataset.len();
    let last = run.rounds.last().unwrap().clone();
    let trimmed: Vec<usize> = (0..n).filter(|&i| !last.kept[i]).take(3).collect();
    assert_eq!(trimmed.len(), 3);
    {
        let r1 = Arc::make_mut(&mut run.rounds[1]);
        r1.relabelled = vec![None; n];
        for &i in &trimmed {
            r1.relabelled[i] = Some((run.dataset.labels[i] + 1) % 3);
        }
    }
    let flagged = export_flagged(&run);
    let h = open_edited(out.path(), "relabelled.itlm", &run);
    h.get_by_label_contains(&format!(
        "decided: 0 trimmed kept, 0 kept excluded, 3 trimmed relabelled by the run; exports flag {flagged}"
    ));
    assert_eq!(flagged, n - last.kept.iter().filter(|&&k| k).count() - 3);
}

/// The review tab's "nearest kept" strips follow the user's decisions: once every other
/// sample of the shown sample's given class is excluded, that class has no kept neighbour to
/// show (the strip had kept showing them).
#[test]
fn the_review_neighbours_follow_the_decisions() {
    use itlm_inspector::session::decisions::Decision;
    use itlm_inspector::ui::command::Command;
    use itlm_inspector::ui::view::GridTab;
    let (_data, _out, file) = saved_run(&[]);
    let mut h = opened_run(&file);
    h.state_mut().apply(vec![Command::SetTab(GridTab::Review)]);
    h.run_steps(3);
    let i = h.state().review.current.expect("a sample shown");
    let train = h.state().state.data.as_ref().unwrap().train.clone();
    let g = train.label(i);
    let strip = format!("nearest kept {} (given):", train.class_name(g));
    h.get_by_label(&strip);
    let others: Vec<usize> = (0..train.len())
        .filter(|&j| j != i && train.label(j) == g)
        .collect();
    h.state_mut()
        .apply(vec![Command::Decide(others, Some(Decision::Exclude))]);
    h.run_steps(3);
    assert_eq!(h.state().review.current, Some(i));
    assert!(h.query_by_label(&strip).is_none());
}

/// How many samples the exported flagged.txt lists.
fn export_flagged(run: &itlm_inspector::export::RunFile) -> usize {
    itlm_inspector::export::flagged_list(run, None)
        .unwrap()
        .lines()
        .filter(|l| !l.starts_with('#'))
        .count()
}

/// Open the run `file` in `h` again, and wait until it shows.
fn reopen(h: &mut Harness<'static, App>, file: &Path) {
    h.state_mut().state.data = None;
    h.state_mut().open(file);
    step_until(h, 60, "the run to reopen", |a| {
        a.state.loading.is_none()
            && a.state.record().is_some()
            && a.state.data.as_ref().is_some_and(|d| d.reopened.is_some())
    });
}

#[test]
fn a_saved_run_without_its_dataset_lists_ids_and_says_why() {
    let (data, _out, file) = saved_run(&[]);

    // Labels changed since the run: not the same dataset any more.
    let labels = data.path().join("train-labels-idx1-ubyte");
    let mut lb = std::fs::read(&labels).unwrap();
    for b in lb[8..].iter_mut() {
        *b = (*b + 1) % 3;
    }
    std::fs::write(&labels, lb).unwrap();
    let mut h = harness(&file);
    step_until(&mut h, 60, "the run file to open", |a| {
        a.state.data.is_some()
    });
    // Said in the summary and in the message bar.
    h.get_by_label_contains("no thumbnails: the dataset at");
    h.get_by_label_contains("without thumbnails: the dataset at");
    assert_eq!(
        h.query_all_by_label_contains(
            "no longer matches the run: 150 of its samples now have another label"
        )
        .count(),
        2
    );

    // The dataset is gone.
    drop(data);
    h.state_mut().open(&file);
    step_until(&mut h, 60, "the run file to open again", |a| {
        a.state.loading.is_none()
            && a.state
                .data
                .as_ref()
                .and_then(|d| d.reopened.as_ref())
                .is_some_and(|r| {
                    r.images_missing
                        .as_ref()
                        .is_some_and(|m| m.contains("is gone"))
                })
    });
    h.get_by_label_contains("no thumbnails: its dataset");
    // The stand-in pixels are not checked (they would all be dark, blank duplicates): no
    // result after time enough for the check of 150 images.
    for _ in 0..30 {
        h.step();
        std::thread::sleep(Duration::from_millis(10));
    }
    assert!(h.state().state.image_checks.is_none());
    assert!(!h
        .state()
        .state
        .messages
        .iter()
        .any(|m| m.text.starts_with("Image checks")));
    // The summary gives the run's image size, not the stand-in's.
    h.get_by_label_contains("150 images, 3 classes, 8x8x1");
    // Every panel is still there; the grids list ids instead of images.
    h.get_by_label("Round 2 losses: 120 kept, 30 trimmed");
    h.get_by_label("Trimmed (round 2): 30 samples");
    h.get_by_label_contains("Trimmed by given (rows) x predicted (columns)");
    let with_ids = h
        .query_all_by_label_contains(", id train-images-idx3-ubyte#")
        .count();
    assert!(with_ids >= 20, "cells listing ids: {with_ids}");
    assert!(h.state().thumbs.is_empty(), "no thumbnails without images");
    // No training without the images.
    assert!(h
        .get_by_label("Retrain at this tau")
        .accesskit_node()
        .is_disabled());
    assert!(h.get_by_label("Start").accesskit_node().is_disabled());
    // A sample's detail says so too.
    let first = h.state_mut().state.lists().unwrap().trimmed[0];
    h.get_by_label_contains(&format!("sample {first}:")).click();
    h.run_steps(2);
    h.get_by_label_contains("No image: the run's dataset is not available.");
}

#[test]
fn a_damaged_or_foreign_run_file_shows_the_error() {
    let dir = tempfile::tempdir().unwrap();
    let data = tempfile::tempdir().unwrap();
    write_idx_set(data.path());
    cli_run(data.path(), dir.path(), &[]);
    let good = std::fs::read(dir.path().join("run.itlm")).unwrap();

    let damaged = dir.path().join("damaged.itlm");
    std::fs::write(&damaged, &good[..good.len() / 2]).unwrap();
    let mut h = harness(&damaged);
    step_until(&mut h, 30, "the error", |a| {
        a.state.loading.is_none() && !a.state.messages.is_empty()
    });
    h.get_by_label_contains(&format!(
        "Cannot open the run file {}: damaged run file",
        damaged.display()
    ));
    assert!(h.state().state.data.is_none());
    assert!(h.state().state.run.is_none());

    let mut newer = good.clone();
    newer[8..12].copy_from_slice(&99u32.to_le_bytes());
    let newer_path = dir.path().join("newer.itlm");
    std::fs::write(&newer_path, newer).unwrap();
    h.state_mut().state.messages.clear();
    h.state_mut().open(&newer_path);
    step_until(&mut h, 30, "the version error", |a| {
        a.state.loading.is_none() && !a.state.messages.is_empty()
    });
    h.get_by_label_contains(&format!(
        "run file version 99; this build reads versions 1 to {}",
        itlm_inspector::export::RUN_VERSION
    ));

    let foreign = dir.path().join("notes.itlm");
    std::fs::write(&foreign, "hello").unwrap();
    h.state_mut().state.messages.clear();
    h.state_mut().open(&foreign);
    step_until(&mut h, 30, "the magic error", |a| {
        a.state.loading.is_none() && !a.state.messages.is_empty()
    });
    h.get_by_label_contains("not an itlm-inspector run file");
}

// ------------------------------------------------------------------ generative mode

#[test]
fn generative_mode_shows_generated_images_and_losses() {
    let (_data, mut h) = loaded_harness();
    // Classifier extensions set before: the VAE would refuse or ignore them.
    h.state_mut().state.settings.config.relabel = true;
    h.run_steps(1);
    // The mode selector switches to the VAE.
    h.get_by_label("mode").click();
    h.run_steps(2);
    h.get_by_label("generative").click();
    h.run_steps(2);
    assert_eq!(h.state().state.settings.learner.model, ModelKind::Vae);
    h.get_by_label("vae");
    assert!(
        !h.state().state.settings.config.relabel,
        "cleared with the mode"
    );
    // More... greys what only a classifier does.
    h.get_by_label("More...").click();
    h.run_steps(3);
    for name in [
        "restore hard clean samples",
        "relabel confident trimmed samples",
        "co-teaching",
        "sgd",
    ] {
        assert!(
            h.get_by_label(name).accesskit_node().is_disabled(),
            "{name}"
        );
    }
    assert!(!h
        .get_by_label("re-initialise each round")
        .accesskit_node()
        .is_disabled());
    h.key_press(egui::Key::Escape);
    h.run_steps(3);
    h.get_by_label("Start").click();
    step_until(&mut h, 300, "the VAE run to finish", |a| {
        a.state
            .run
            .as_ref()
            .is_some_and(|r| r.status == RunStatus::Finished)
    });
    no_errors(&h);
    assert!(h.state().state.generative());
    // The generated images of the shown round, beside round 0's.
    h.get_by_label("Generated by round 2's model");
    h.get_by_label("Images generated by round 2");
    h.get_by_label("Images generated by round 0");
    assert!(
        h.query_by_label_contains("Trimmed by given").is_none(),
        "no confusion"
    );
    // Cells show the loss, not labels.
    let cells: Vec<String> = h
        .query_all_by_label_contains("sample ")
        .filter_map(|n| n.accesskit_node().label())
        .collect();
    assert!(cells.len() >= 20);
    assert!(
        cells
            .iter()
            .all(|l| l.contains("): loss ") && !l.contains("->")),
        "{:?}",
        &cells[..3]
    );
    // Losses, not accuracies.
    h.get_by_label_contains("Round 2: mean loss ");
    h.get_by_label_contains("test loss ");
    h.get_by_label("Losses over rounds");
    assert!(h.query_by_label_contains("train acc").is_none());
    // Stepping back shows that round's generations; the mosaics are cached per round.
    h.key_press(egui::Key::ArrowLeft);
    h.run_steps(2);
    h.get_by_label("Generated by round 1's model");
    let made = h.state().generated_tex.made;
    h.run_steps(5);
    assert_eq!(h.state().generated_tex.made, made, "no mosaic per frame");
    h.get_by_label("Round 0").click();
    h.run_steps(2);
    h.get_by_label("Generated by round 0's model");
    assert!(h.query_by_label("Images generated by round 2").is_none());

    // The export names no predicted labels.
    let out = tempfile::tempdir().unwrap();
    h.state_mut().begin_export(ExportWhat::All);
    h.state_mut().export.target = out.path().join("e").display().to_string();
    h.run_steps(3);
    h.get_by_label("Export now").click();
    step_until(&mut h, 30, "the export", |a| {
        !a.export.exporting() && a.export.open.is_none()
    });
    let csv = std::fs::read_to_string(out.path().join("e/samples.csv")).unwrap();
    let row = csv.lines().nth(1).unwrap();
    assert_eq!(row.split(',').nth(2), Some(""), "no predicted label: {row}");
    let flagged = std::fs::read_to_string(out.path().join("e/flagged.txt")).unwrap();
    for line in flagged.lines().skip(1) {
        assert!(line.ends_with('\t'), "no predicted label: {line:?}");
    }
    // And it reopens in generative mode.
    h.state_mut().open(out.path().join("e/run.itlm"));
    step_until(&mut h, 60, "the VAE run to reopen", |a| {
        a.state.data.as_ref().is_some_and(|d| d.reopened.is_some())
    });
    no_errors(&h);
    h.get_by_label("Generated by round 0's model");
}

// ------------------------------------------------------------------ test sets, small sets

/// `n` 8x8 gray PNGs of class folder `class` under `root`, each with a bright band.
fn write_png_folder(root: &Path, class: &str, n: usize) {
    let dir = root.join(class);
    std::fs::create_dir_all(&dir).unwrap();
    for i in 0..n {
        let img = image::GrayImage::from_fn(8, 8, |_, y| {
            image::Luma([if y / 3 == 2 { 210 } else { 20 + (i % 7) as u8 }])
        });
        img.save(dir.join(format!("{i:03}.png"))).unwrap();
    }
}

#[test]
fn test2_from_a_typed_folder_shows_in_the_metrics() {
    let (data, mut h) = loaded_harness();
    let t2 = tempfile::tempdir().unwrap();
    write_png_folder(t2.path(), "2", 12);
    // Auto-detected like the CLI: the t10k split and <data>/truth.csv.
    let truth = data.path().join("truth.csv");
    let title = format!(
        "Evaluation data: test set the t10k files (auto); truth {} (auto)",
        truth.display()
    );
    h.get_by_label(&title).click();
    h.run_steps(2);
    assert!(h
        .get_by_label("Reload with these")
        .accesskit_node()
        .is_disabled());
    let field = h.get_by_role_and_label(egui::Role::TextInput, "test-2 folder");
    field.click();
    h.run_steps(1);
    h.get_by_role_and_label(egui::Role::TextInput, "test-2 folder")
        .type_text(&t2.path().display().to_string());
    h.run_steps(2);
    assert_eq!(h.state().eval.test2, t2.path().display().to_string());
    // The path fields are wide enough to read a path (a grid cell once kept them ~35 px).
    for name in ["test set", "test-2 folder", "truth.csv"] {
        let w = h
            .get_by_role_and_label(egui::Role::TextInput, name)
            .rect()
            .width();
        assert!(w >= 400.0, "{name} field is {w} px wide");
    }
    h.get_by_label_contains("changed: reload to apply");
    h.get_by_label("Reload with these").click();
    step_until(&mut h, 60, "the reload", |a| {
        a.state.loading.is_none() && a.state.data.as_ref().is_some_and(|d| d.test2.is_some())
    });
    h.get_by_label("test-2: 12");
    h.get_by_label_contains(&format!("test-2 {}", t2.path().display()));
    h.get_by_label("Start").click();
    step_until(&mut h, 300, "the run to finish", |a| {
        a.state
            .run
            .as_ref()
            .is_some_and(|r| r.status == RunStatus::Finished)
    });
    no_errors(&h);
    let m = h.state().state.record().unwrap().metrics.clone();
    let t2acc = m.test2_acc.expect("test-2 accuracy measured");
    h.get_by_label_contains(&format!("test-2 {:.1}% (attack success)", t2acc * 100.0));
    // The metrics plot has a test-2 series (its legend entry).
    h.get_by_label("test-2 (attack)");
    // Another dataset does not inherit this test-2 folder.
    let other = tempfile::tempdir().unwrap();
    write_idx_set(other.path());
    open_and_wait(&mut h, other.path(), "the other dataset");
    assert!(h.state().state.data.as_ref().unwrap().test2.is_none());
    assert!(h.state().eval.test2.is_empty());
}

#[test]
fn the_suggested_tau_is_offered_and_the_settings_are_remembered_per_set() {
    let (data, mut h) = loaded_harness();
    // 240 samples in batches of 32 is 8 batches per epoch: no advice to shrink the batch (it
    // found fewer bad labels where measured: README, "Image checks").
    assert!(h.query_by_label_contains("batch size").is_none());
    h.state_mut().state.settings.learner.batch_size = 8;
    h.run_steps(2);
    h.get_by_label("Start").click();
    step_until(&mut h, 300, "the run to finish", |a| {
        a.state
            .run
            .as_ref()
            .is_some_and(|r| r.status == RunStatus::Finished)
    });
    let sg = h
        .state()
        .state
        .record()
        .unwrap()
        .metrics
        .suggestion
        .expect("a suggestion");
    // The window shows the confident joint's tau when round 0 has one, else the mixture's.
    let confident = h
        .state()
        .state
        .noise_estimate
        .map(|rate| itlm_inspector::itlm::suggest::tau_leaving_of(rate, 240));
    let sg = itlm_inspector::ui::controls::suggest(
        Some((sg.tau, sg.bad_mean - sg.clean_mean)),
        confident,
    )
    .expect("a suggestion");
    h.get_by_label_contains(&format!("suggested tau {:.2}", sg.tau));
    // A hint only: the slider is where the user put it until "use".
    assert_eq!(h.state().state.tau(), 0.8);
    if (sg.tau - 0.8).abs() > 1e-9 {
        h.get_by_label("use").click();
        h.run_steps(2);
        assert_eq!(h.state().state.tau(), sg.tau);
    }
    assert!(h.get_by_label("use").accesskit_node().is_disabled());
    // The settings of this run are remembered for this dataset.
    let saved = h
        .state()
        .state
        .settings
        .saved_for(data.path())
        .cloned()
        .unwrap();
    assert_eq!(saved.learner.batch_size, 8);
    // Reloading the open dataset keeps edits made since; another dataset starts from the
    // defaults (this one's settings stay with it); coming back restores the settings last used
    // on this one.
    h.state_mut().state.settings.learner.batch_size = 16;
    h.state_mut().open(data.path());
    step_until(&mut h, 60, "the reload", |a| {
        a.state.loading.is_none() && a.state.run.is_none()
    });
    assert_eq!(h.state().state.settings.learner.batch_size, 16);
    let other = tempfile::tempdir().unwrap();
    write_idx_set(other.path());
    open_and_wait(&mut h, other.path(), "the other dataset");
    assert_eq!(
        h.state().state.settings.learner.batch_size,
        itlm_inspector::learner::LearnerConfig::default().batch_size
    );
    h.get_by_label_contains("New dataset: the default run settings");
    open_and_wait(&mut h, data.path(), "the first dataset again");
    assert_eq!(h.state().state.settings.learner.batch_size, 8);
}

#[test]
fn the_demo_set_starts_from_its_recommended_settings() {
    let demo = itlm_inspector::ui::demo_dir().expect("assets/demo");
    let (config, learner) = itlm_inspector::presets::demo();
    let mut before = Settings::default();
    before.learner.model = ModelKind::Vae;
    before.classifier = ModelKind::Mlp;
    let mut s = AppState::headless(before);
    s.open_path(&demo, Default::default());
    wait(&mut s, 60, "the demo set", |s| s.data.is_some());
    assert_eq!(s.settings.config, config);
    assert_eq!(s.settings.learner.model, ModelKind::Mlp, "classify mode");
    assert_eq!(s.settings.learner.batch_size, learner.batch_size);
    assert_eq!(s.settings.learner.lr, learner.lr);
    assert!(s
        .messages
        .iter()
        .any(|m| m.text.contains("recommended settings")));

    // Settings the user saved for the demo win.
    let mut mine = Settings::default();
    mine.config.tau = 0.75;
    mine.learner.batch_size = 64;
    mine.remember_for(&demo);
    mine.config.tau = 0.5;
    let mut s = AppState::headless(mine);
    s.open_path(&demo, Default::default());
    wait(&mut s, 60, "the demo set", |s| s.data.is_some());
    assert_eq!(s.settings.config.tau, 0.75);
    assert_eq!(s.settings.learner.batch_size, 64);
}

#[test]
fn the_backdoor_protocol_is_one_click_away_and_folds_are_editable() {
    let (_data, mut h) = loaded_harness();
    h.state_mut().state.settings.config.seed = 42;
    h.get_by_label("More...").click();
    h.run_steps(3);
    // The folds and round-0 ensemble fields are there and labelled.
    h.get_by_label("folds");
    h.get_by_label("round-0 models");
    h.get_by_label("Backdoor defence protocol").click();
    h.run_steps(3);
    let c = &h.state().state.settings.config;
    let want = itlm_inspector::presets::backdoor_protocol();
    assert_eq!(
        (
            c.tau,
            c.rounds,
            c.epochs,
            c.round0_epochs,
            c.folds,
            c.final_epochs,
            c.restore
        ),
        (
            want.tau,
            want.rounds,
            want.epochs,
            want.round0_epochs,
            want.folds,
            want.final_epochs,
            true
        )
    );
    assert_eq!(c.seed, 42, "the user's seed is kept");
    let (l, want) = (
        &h.state().state.settings.learner,
        itlm_inspector::presets::backdoor_learner(),
    );
    assert_eq!(
        (l.optimizer, l.lr, l.lr_schedule, l.batch_size),
        (want.optimizer, want.lr, want.lr_schedule, want.batch_size)
    );
    // The slider follows: the next run keeps 95%.
    assert_eq!(h.state().state.tau(), 0.95);
}

#[test]
fn the_more_menu_stays_open_while_choosing_the_optimizer_and_the_cut() {
    use itlm_inspector::learner::OptimizerKind;
    let (_data, mut h) = loaded_harness();
    assert_eq!(
        h.state().state.settings.learner.optimizer,
        OptimizerKind::Adamw
    );
    h.get_by_label("More...").click();
    h.run_steps(3);
    h.get_by_label("sgd").click();
    h.run_steps(3);
    // The menu stays open for the next choice.
    h.get_by_label("mean loss over rounds").click();
    h.run_steps(3);
    assert_eq!(
        h.state().state.settings.config.aggregate,
        itlm_inspector::itlm::LossAggregate::Mean
    );
    h.get_by_label("cosine").click();
    h.run_steps(3);
    let l = &h.state().state.settings.learner;
    assert_eq!(l.lr_schedule, itlm_inspector::learner::LrSchedule::Cosine);
    assert_eq!(l.optimizer, OptimizerKind::Sgd);
    assert_eq!(
        l.lr,
        OptimizerKind::Sgd.default_lr(),
        "the learning rate follows the optimizer"
    );
}

#[test]
fn run_buttons_stay_put_while_hints_come_and_go() {
    let (_data, mut h) = loaded_harness();
    h.run_steps(2);
    let stop_x = |h: &Harness<'_, App>| h.get_by_label("Stop").rect().min.x;
    let step_x = |h: &Harness<'_, App>| h.get_by_label("Step one round").rect().min.x;
    let (stop0, step0) = (stop_x(&h), step_x(&h));
    // Start -> Restart and Pause -> Resume swap text; round 0 brings the suggested tau and
    // the round's tau: none of it may move the buttons.
    h.get_by_label("Step one round").click();
    step_until(&mut h, 120, "round 0 and the pause", |a| {
        a.state
            .run
            .as_ref()
            .is_some_and(|r| r.status == RunStatus::Paused)
    });
    h.run_steps(2);
    h.get_by_label_contains("suggested tau");
    h.get_by_label("Resume");
    assert_eq!((stop_x(&h), step_x(&h)), (stop0, step0));
    h.get_by_label("Resume").click();
    h.run_steps(2);
    assert_eq!((stop_x(&h), step_x(&h)), (stop0, step0));
    h.get_by_label("Stop").click();
    h.run_steps(2);
    // Moving the slider off the round's tau, and back with its button, moves nothing below.
    let below = |h: &Harness<'_, App>| h.get_by_label_contains("Boundary (").rect().min.y;
    let y0 = below(&h);
    let round_tau = h.state().state.record().unwrap().tau;
    assert!(h
        .get_by_label(&format!("round's tau {round_tau:.2}"))
        .accesskit_node()
        .is_disabled());
    h.state_mut().state.set_tau(0.55);
    h.run_steps(2);
    assert_eq!(below(&h), y0);
    h.get_by_label(&format!("round's tau {round_tau:.2}"))
        .click();
    h.run_steps(2);
    assert_eq!(h.state().state.tau(), round_tau);
    assert_eq!(below(&h), y0);
}

/// Stopped after round 0: the timeline says where the run stopped (it had said "Showing round
/// 0 of 2", of rounds that would never come), from the click on Stop on; a round still to come
/// is plain text, not a button, and its hover says it has not run; a finished one is a button.
#[test]
fn a_stopped_run_s_timeline_says_where_it_stopped_and_planned_rounds_are_not_buttons() {
    let (_data, mut h) = loaded_harness();
    h.get_by_label("Step one round").click();
    step_until(&mut h, 120, "round 0 and the pause", |a| {
        a.state
            .run
            .as_ref()
            .is_some_and(|r| r.status == RunStatus::Paused)
    });
    h.get_by_label("Showing round 0 of 2");
    // The status line says what is done and what comes next (it showed the round's last
    // test batch and a progress bar at a third, as if the run were stuck there).
    h.get_by_label_contains("round 0 of 2 done - ");
    h.get_by_label_contains("Step one round trains round 1, Resume runs the rest");
    h.get_by_role_and_label(egui::Role::Button, "Round 0");
    for r in ["Round 1", "Round 2"] {
        assert!(
            h.query_by_role_and_label(egui::Role::Button, r).is_none(),
            "{r} has not run: no button"
        );
    }
    h.get_by_label("Round 1").hover();
    h.run_steps(60);
    h.get_by_label("Round 1 has not run yet");
    h.get_by_label("Stop").click();
    h.run_steps(2);
    h.get_by_label("Showing round 0 - the run stopped after round 0");
    step_until(&mut h, 60, "the stop", |a| {
        a.state
            .run
            .as_ref()
            .is_some_and(|r| r.status == RunStatus::Stopped)
    });
    h.get_by_label("Showing round 0 - the run stopped after round 0");
    // (The label health's "(5 of 240)" are counts of samples, not of rounds.)
    for t in [
        "round 0 of 2",
        "round 1 of 2",
        "round 2 of 2",
        "rounds of 2",
    ] {
        assert!(h.query_by_label_contains(t).is_none(), "{t}");
    }
    // Only the next round, the one Step one round would train, is still named.
    assert!(h.query_by_label("Round 2").is_none());
    h.get_by_label("Round 1").hover();
    h.run_steps(60);
    h.get_by_label("Round 1 has not run yet: Step one round trains it");
}

/// A long run (co-teaching trains 25 rounds) names its rounds by number alone, so that the
/// timeline stays one row at 1366 px (25 "Round N" buttons had wrapped into two rows, pushing
/// the panels down); a short run keeps "Round N".
#[test]
fn a_long_run_s_timeline_stays_one_row() {
    let (_data, mut h) = loaded_harness();
    h.set_size(egui::Vec2::new(1366.0, 768.0));
    h.state_mut().state.settings.config.rounds = 24;
    h.get_by_label("Start").click();
    step_until(&mut h, 300, "the run to finish", |a| {
        a.state
            .run
            .as_ref()
            .is_some_and(|r| r.status == RunStatus::Finished)
    });
    h.run_steps(2);
    assert!(h.query_by_label("Round 3").is_none());
    let first = h.get_by_role_and_label(egui::Role::Button, "0").rect();
    let last = h.get_by_role_and_label(egui::Role::Button, "24").rect();
    let next = h.get_by_role_and_label(egui::Role::Button, ">").rect();
    assert!(
        (first.center().y - last.center().y).abs() < 1.0
            && (first.center().y - next.center().y).abs() < 1.0,
        "one row: {first:?} {last:?} {next:?}"
    );
    // The button's hover still names the round.
    h.get_by_role_and_label(egui::Role::Button, "3").hover();
    h.run_steps(60);
    h.get_by_label_contains("round 3: trained");
    h.get_by_role_and_label(egui::Role::Button, "3").click();
    h.run_steps(2);
    h.get_by_label("Showing round 3 of 24");
    assert_eq!(
        itlm_inspector::ui::timeline::round_label(3, 3),
        "Round 3",
        "a short run keeps the word"
    );
}

/// A laptop screen: at 1366x768, with three notes in view (as the demo opens with), the left
/// panel shows the histogram and the metrics whole, without scrolling (the metrics' plot had
/// fallen below the fold); at 1280x800 with a sample open it takes at most half of what the
/// detail panel leaves (the grid had 380 points, two columns, its bar wrapped into six rows).
/// At 1920x1080 the plots keep their full heights.
#[test]
fn the_left_panel_fits_a_laptop_screen() {
    let (_data, mut h) = loaded_harness();
    finish_run(&mut h);
    for i in 0..3 {
        h.state_mut()
            .state
            .info(format!("A note {i} as long as a line of the demo's notes."));
    }
    let plot = |h: &Harness<'_, App>, name: &str| h.get_by_label(name).rect();
    h.set_size(egui::Vec2::new(1920.0, 1080.0));
    h.run_steps(4);
    let (hist_full, metrics_full) = (
        plot(&h, "Loss histogram").height(),
        plot(&h, "Metrics over rounds").height(),
    );
    h.set_size(egui::Vec2::new(1366.0, 768.0));
    h.run_steps(4);
    let status_top = h.get_by_label_contains("Left/Right: rounds").rect().min.y;
    let metrics = plot(&h, "Metrics over rounds");
    assert!(
        metrics.max.y < status_top,
        "the metrics plot ends at {} under the panel's end {status_top}",
        metrics.max.y
    );
    let hist = plot(&h, "Loss histogram").height();
    // (The plot's rect is inside its axes: 60% of the height leaves about half of it.)
    assert!(
        hist < hist_full && hist > 0.4 * hist_full,
        "{hist} of {hist_full}"
    );
    assert!(metrics.height() < metrics_full, "{metrics:?}");

    h.set_size(egui::Vec2::new(1280.0, 800.0));
    h.state_mut().state.selected_sample = Some(0);
    h.run_steps(4);
    let detail_left = h.get_by_label("Sample 0").rect().min.x;
    let plots_right = plot(&h, "Loss histogram").max.x;
    assert!(
        plots_right <= detail_left / 2.0 + 1.0,
        "the left panel ends at {plots_right}, the detail starts at {detail_left}"
    );
    h.state_mut().state.selected_sample = None;
    h.set_size(egui::Vec2::new(1920.0, 1080.0));
    h.run_steps(4);
    assert_eq!(plot(&h, "Loss histogram").height(), hist_full);
    assert_eq!(plot(&h, "Metrics over rounds").height(), metrics_full);
}

/// The restore is one checkbox in More...; a restore run shows its extra round on the
/// timeline and says, over the histogram, what went back and which classes stay trimmed.
#[test]
fn a_restore_run_shows_its_restore_round_and_what_went_back() {
    let (_data, mut h) = loaded_harness();
    h.get_by_label("More...").click();
    h.run_steps(3);
    h.get_by_label("restore hard clean samples").click();
    h.run_steps(3);
    assert!(h.state().state.settings.config.restore);
    h.key_press(egui::Key::Escape);
    h.run_steps(3);
    h.get_by_label("Start").click();
    step_until(&mut h, 300, "the run to finish", |a| {
        a.state
            .run
            .as_ref()
            .is_some_and(|r| r.status == RunStatus::Finished)
    });
    assert_eq!(
        h.state().state.rounds(),
        4,
        "rounds 0, 1, 2 and the restore round"
    );
    let cut = h.state_mut().state.cut().unwrap();
    assert_eq!(cut.record.round, 3);
    h.get_by_label_contains("Restore: the cut (and this histogram) is on round 1's losses");
    h.get_by_label_contains(&format!(
        "{} trimmed in classes without a one-sided confusion went back",
        itlm_inspector::plural(cut.restored.as_ref().unwrap().back, "sample")
    ));
    // The restore round's cut is the one the run recorded.
    assert_eq!(
        cut.kept,
        h.state().state.run.as_ref().unwrap().history[3].kept
    );
}

/// A reopened run finds the test-2 folder beside its dataset (`<DATA>-test2`, what `corrupt
/// --noise backdoor` writes), as opening the dataset does.
#[test]
fn a_reopened_run_finds_the_test2_folder_beside_its_dataset() {
    let parent = tempfile::tempdir().unwrap();
    let data = parent.path().join("set");
    std::fs::create_dir(&data).unwrap();
    write_idx_set(&data);
    let out = tempfile::tempdir().unwrap();
    cli_run(&data, out.path(), &["--no-test"]);
    write_png_folder(&parent.path().join("set-test2"), "2", 12);
    let mut h = harness(&out.path().join("run.itlm"));
    step_until(&mut h, 60, "the run file to open", |a| {
        a.state.loading.is_none() && a.state.data.is_some()
    });
    no_errors(&h);
    let d = h.state().state.data.as_ref().unwrap();
    assert_eq!(d.test2.as_ref().map(|t| t.len()), Some(12));
    let from = d.test2_from.clone().unwrap();
    assert!(from.ends_with("set-test2 (auto)"), "{from}");
}

/// A loaded window whose runs and decisions are saved under the returned folder.
fn saving_harness() -> (tempfile::TempDir, tempfile::TempDir, Harness<'static, App>) {
    let (data, mut h) = loaded_harness();
    let saves = tempfile::tempdir().unwrap();
    h.state_mut().state.autosave.root = Some(saves.path().to_path_buf());
    (data, saves, h)
}

fn finish_run(h: &mut Harness<'_, App>) {
    h.get_by_label("Start").click();
    step_until(h, 300, "the run to finish", |a| {
        a.state
            .run
            .as_ref()
            .is_some_and(|r| r.status == RunStatus::Finished)
            && !a.state.autosave.writing()
            && a.state.autosave.saved == a.state.autosave.file
    });
}

#[test]
fn decisions_from_the_detail_the_selection_and_the_review_queue_are_journaled_and_undone() {
    use itlm_inspector::session::decisions::Decision;
    let (_data, saves, mut h) = saving_harness();
    finish_run(&mut h);
    // The run was saved where the window said.
    let file = h.state().state.autosave.file.clone().unwrap();
    assert!(file.starts_with(saves.path()) && file.is_file(), "{file:?}");
    h.get_by_label_contains("saved as run-001.itlm");
    let trimmed = h.state_mut().state.lists().unwrap().trimmed.clone();
    let (a, b, c) = (trimmed[0], trimmed[1], trimmed[2]);

    // The detail view: Exclude.
    h.get_by_label_contains(&format!("sample {a}: ")).click();
    h.run_steps(2);
    assert_eq!(h.state().state.selected_sample, Some(a));
    h.get_by_label("no decision");
    h.get_by_label("Exclude").click();
    h.run_steps(2);
    assert_eq!(h.state().state.decision(a), Some(Decision::Exclude));
    h.get_by_label("decided: exclude");
    // Its thumbnail wears the badge.
    assert!(h.query_all_by_label_contains("decided: excluded").any(|n| n
        .accesskit_node()
        .label()
        .is_some_and(|l| l.starts_with(&format!("sample {a}:")))));
    h.key_press(egui::Key::Escape);
    h.run_steps(2);
    h.get_by_label("select none").click();
    h.run_steps(1);

    // A selection of two (ctrl-click): Keep both in one step.
    h.get_by_label_contains(&format!("sample {b}: "))
        .click_modifiers(egui::Modifiers::COMMAND);
    h.get_by_label_contains(&format!("sample {c}: "))
        .click_modifiers(egui::Modifiers::COMMAND);
    h.run_steps(2);
    h.get_by_label("2 selected");
    h.get_by_label("Keep").click();
    h.run_steps(2);
    let st = &h.state().state;
    assert_eq!(
        (st.decision(b), st.decision(c)),
        (Some(Decision::Keep), Some(Decision::Keep))
    );
    h.get_by_label("decisions: 1 excluded, 2 kept, 0 relabelled");
    // Ctrl+Z undoes the step (both), Ctrl+Shift+Z redoes it.
    h.key_press_modifiers(egui::Modifiers::COMMAND, egui::Key::Z);
    h.run_steps(2);
    assert_eq!(h.state().state.decision(b), None);
    assert_eq!(h.state().state.decision(c), None);
    h.key_press_modifiers(
        egui::Modifiers::COMMAND | egui::Modifiers::SHIFT,
        egui::Key::Z,
    );
    h.run_steps(2);
    assert_eq!(h.state().state.decision(c), Some(Decision::Keep));
    // Typing in a field, Ctrl+Z is the field's: the decisions stay.
    h.get_by_label("Path:").focus();
    h.run_steps(1);
    h.key_press_modifiers(egui::Modifiers::COMMAND, egui::Key::Z);
    h.run_steps(2);
    assert_eq!(h.state().state.decision(c), Some(Decision::Keep));
    h.key_press(egui::Key::Escape);
    h.run_steps(1);

    // The review queue: the trimmed samples, the undecided next after each key.
    // Ctrl+4 opens the Review tab from the keyboard.
    h.key_press_modifiers(egui::Modifiers::COMMAND, egui::Key::Num4);
    h.run_steps(2);
    assert_eq!(
        h.state().state.tab,
        itlm_inspector::ui::view::GridTab::Review
    );
    h.get_by_label(&format!("3 of {} reviewed", trimmed.len()));
    // It starts at the highest-loss sample without a decision (a, b and c have one).
    let first = h.state().review.current.unwrap();
    assert_eq!(
        first, trimmed[3],
        "the queue starts at the first undecided sample"
    );
    h.key_press(egui::Key::ArrowLeft);
    h.run_steps(2);
    assert_eq!(h.state().review.current, Some(c));
    h.key_press(egui::Key::ArrowUp);
    h.run_steps(2);
    let d = h.state().review.current.unwrap();
    assert_eq!(d, b);
    // While the export dialog is open, the queue's keys decide nothing; Esc closes it.
    h.key_press_modifiers(egui::Modifiers::COMMAND, egui::Key::E);
    h.run_steps(2);
    assert!(h.state().export.open.is_some());
    h.key_press(egui::Key::X);
    h.run_steps(2);
    assert_eq!(
        h.state().state.decision(b),
        Some(Decision::Keep),
        "X under the dialog decided"
    );
    h.key_press(egui::Key::Escape);
    h.run_steps(2);
    assert!(h.state().export.open.is_none());
    assert_eq!(h.state().review.current, Some(b));
    // X on b, then the queue moves past c (decided) to the next undecided.
    h.key_press(egui::Key::X);
    h.run_steps(2);
    assert_eq!(h.state().state.decision(b), Some(Decision::Exclude));
    let e = h.state().review.current.unwrap();
    assert_eq!(e, trimmed[3]);
    // 1 relabels to class 1; R accepts the prediction of the next one.
    h.key_press(egui::Key::Num1);
    h.run_steps(2);
    assert_eq!(h.state().state.decision(e), Some(Decision::Relabel(1)));
    let f = h.state().review.current.unwrap();
    h.key_press(egui::Key::R);
    h.run_steps(2);
    let predicted = h.state().state.record().unwrap().predicted[f];
    assert_eq!(
        h.state().state.decision(f),
        Some(Decision::Relabel(predicted))
    );
    // Backspace undoes the last one and goes back to it.
    h.key_press(egui::Key::Backspace);
    h.run_steps(2);
    assert_eq!(h.state().state.decision(f), None);
    assert_eq!(h.state().review.current, Some(f));
    h.get_by_label(&format!("4 of {} reviewed", trimmed.len()));
    // A path filter that hides the shown sample, then cleared: the queue is back at it (it
    // had moved on to the filter's first match, past undecided samples).
    {
        use itlm_inspector::ui::command::Command;
        use itlm_inspector::ui::view::Filter;
        let set = |h: &mut Harness<'_, App>, path: &str| {
            let f = Filter {
                path: path.into(),
                ..h.state().state.filter.clone()
            };
            h.state_mut().apply(vec![Command::SetFilter(f)]);
            h.run_steps(2);
        };
        let ids = h.state().state.data.as_ref().unwrap().train.ids().to_vec();
        let other = trimmed.iter().copied().find(|&i| i != f).unwrap();
        set(&mut h, &ids[other]);
        assert_ne!(h.state().review.current, Some(f));
        set(&mut h, "");
        assert_eq!(h.state().review.current, Some(f));
    }
    // The relabel pick follows the sample shown: f's predicted class (it had kept the pick
    // made for an earlier sample); e, relabelled to 1, shows 1.
    assert_eq!(h.state().review.relabel_pick(), Some((f, predicted)));
    h.key_press(egui::Key::ArrowLeft);
    h.run_steps(2);
    if h.state().review.current == Some(e) {
        assert_eq!(h.state().review.relabel_pick(), Some((e, 1)));
        // Its decision taken back (elsewhere, or by an undo): the pick starts again at the
        // predicted class (it had kept the undone relabel's class), and follows it back.
        let pred_e = h.state().state.record().unwrap().predicted[e];
        h.state_mut().state.decide(&[e], None);
        h.run_steps(2);
        assert_eq!(h.state().review.relabel_pick(), Some((e, pred_e)));
        h.state_mut().state.decide(&[e], Some(Decision::Relabel(1)));
        h.run_steps(2);
        assert_eq!(h.state().review.relabel_pick(), Some((e, 1)));
    }

    // Everything acknowledged is in the journal beside the run, in the order made.
    let journal = file.parent().unwrap().join("decisions.csv");
    let text = std::fs::read_to_string(&journal).unwrap();
    let rows: Vec<&str> = text.lines().collect();
    assert_eq!(rows[0], "path,decision,label,time");
    let ids = h.state().state.data.as_ref().unwrap().train.ids().to_vec();
    assert!(
        rows[1].starts_with(&format!("{},exclude,,", ids[a])),
        "{}",
        rows[1]
    );
    assert!(text.contains(&format!("{},relabel,1,", ids[e])), "{text}");

    // Reopening the saved run replays them.
    let expected: Vec<_> = (0..ids.len())
        .map(|i| h.state().state.decision(i))
        .collect();
    h.state_mut().open(&file);
    step_until(&mut h, 60, "the run to reopen", |a| {
        a.state.loading.is_none() && a.state.data.as_ref().is_some_and(|d| d.reopened.is_some())
    });
    let again: Vec<_> = (0..ids.len())
        .map(|i| h.state().state.decision(i))
        .collect();
    assert_eq!(again, expected);
    h.get_by_label_contains("4 samples decided (2 excluded, 1 kept, 1 relabelled)");

    // Opening the dataset folder again (not the run) offers the saved run and its decisions.
    h.state_mut().open(_data.path());
    step_until(&mut h, 60, "the dataset to load", |a| {
        a.state.loading.is_none() && a.state.data.as_ref().is_some_and(|d| d.reopened.is_none())
    });
    assert!((0..ids.len()).all(|i| h.state().state.decision(i).is_none()));
    // The samples decided, not the journal's rows (undos and changes of mind among them).
    assert_ne!(rows.len() - 1, 4);
    h.get_by_label_contains("This dataset has a saved run with 4 decided samples");
    h.get_by_label("Open it").click();
    step_until(&mut h, 60, "the saved run to reopen", |a| {
        a.state.loading.is_none() && a.state.data.as_ref().is_some_and(|d| d.reopened.is_some())
    });
    let third: Vec<_> = (0..ids.len())
        .map(|i| h.state().state.decision(i))
        .collect();
    assert_eq!(third, expected);
}

#[test]
fn retraining_with_decisions_pins_them_and_the_exports_follow_them() {
    use itlm_inspector::session::decisions::Decision;
    let (_data, _saves, mut h) = saving_harness();
    finish_run(&mut h);
    let rec = h.state().state.record().unwrap().clone();
    let n = rec.kept.len();
    let kept: Vec<usize> = (0..n).filter(|&i| rec.kept[i]).collect();
    let trimmed: Vec<usize> = (0..n).filter(|&i| !rec.kept[i]).collect();
    let (ex, kp, rl) = (kept[0], trimmed[0], trimmed[1]);
    // A class that is neither the given one (that would be a keep) nor the predicted one.
    let given = h.state().state.data.as_ref().unwrap().train.label(rl);
    let new_class = (0..3)
        .find(|&c| c != given && c != rec.predicted[rl])
        .unwrap();
    let st = &mut h.state_mut().state;
    st.decide(&[ex], Some(Decision::Exclude));
    st.decide(&[kp], Some(Decision::Keep));
    st.decide(&[rl], Some(Decision::Relabel(new_class)));
    h.run_steps(2);

    // The controls say the decisions train, and how; retraining uses them.
    h.get_by_label("with my 3 decisions");
    h.get_by_label("Retrain at this tau").click();
    h.run_steps(1);
    step_until(&mut h, 300, "the guided rounds", |a| {
        a.state
            .run
            .as_ref()
            .is_some_and(|r| r.status == RunStatus::Finished && r.history.len() > 1)
    });
    h.run_steps(2);
    h.get_by_label_contains(
        "Training with your decisions: 1 excluded never train; 1 kept and 1 relabelled",
    );
    let last = h
        .state()
        .state
        .run
        .as_ref()
        .unwrap()
        .history
        .last()
        .unwrap()
        .clone();
    assert!(!last.kept[ex], "an excluded sample is never kept");
    assert!(
        last.kept[kp] && last.kept[rl],
        "kept and relabelled samples always are"
    );
    // tau's share holds the pins: the kept count is the plain cut's.
    assert_eq!(last.metrics.kept, rec.metrics.kept);

    // Corrected labels from the Export menu.
    let out = tempfile::tempdir().unwrap();
    h.get_by_label("Export").click();
    h.run_steps(3);
    h.get_by_label("Corrected labels (labels.csv)...").click();
    h.run_steps(3);
    h.get_by_label_contains("Your decisions apply: 1 excluded, 1 kept, 1 relabelled");
    let labels = out.path().join("labels.csv");
    h.state_mut().export.target = labels.display().to_string();
    h.run_steps(1);
    h.get_by_label("Export now").click();
    step_until(&mut h, 30, "the labels export", |a| {
        !a.export.exporting() && a.export.open.is_none()
    });
    let text = std::fs::read_to_string(&labels).unwrap();
    let ids = h.state().state.data.as_ref().unwrap().train.ids().to_vec();
    let row = |i: usize| {
        text.lines()
            .find(|l| l.starts_with(&format!("{},", ids[i])))
            .unwrap()
            .to_string()
    };
    assert!(row(ex).contains(",exclude,"), "{}", row(ex));
    assert!(
        row(rl).starts_with(&format!("{},{new_class},", ids[rl])) && row(rl).contains(",relabel,"),
        "{}",
        row(rl)
    );
    assert_eq!(text.lines().count(), n + 1);

    // The cleaned folder, with the samples still flagged under _flagged/.
    h.state_mut().begin_export(ExportWhat::CleanFolder);
    let clean = out.path().join("cleaned");
    h.state_mut().export.target = clean.display().to_string();
    h.run_steps(2);
    h.get_by_label_contains("under _flagged/").click();
    h.run_steps(1);
    h.get_by_label("Export now").click();
    step_until(&mut h, 60, "the clean folder", |a| {
        !a.export.exporting() && a.export.open.is_none()
    });
    let png = |i: usize| format!("{}.png", ids[i].replace('#', "_"));
    let cut = h.state_mut().state.cut().unwrap();
    assert!(clean.join(new_class.to_string()).join(png(rl)).is_file());
    let walk: Vec<PathBuf> = walkdir::WalkDir::new(&clean)
        .into_iter()
        .map(|e| e.unwrap())
        .filter(|e| e.file_type().is_file())
        .map(|e| e.path().to_path_buf())
        .collect();
    assert!(
        !walk.iter().any(|p| p.ends_with(png(ex))),
        "excluded: left out"
    );
    let flagged = walk
        .iter()
        .filter(|p| p.starts_with(clean.join("_flagged")))
        .count();
    // The trimmed samples but the excluded one, which is left out.
    assert!(!cut.kept[ex]);
    assert_eq!(
        flagged,
        cut.trimmed_count - 1,
        "{:?}",
        h.state().state.messages
    );
    assert_eq!(walk.len(), n - 1);
}

/// The Export menu's HTML report, cleanlab table and FiftyOne folder write what they say,
/// with the decisions (they had written nothing and said "Exported" with no file).
#[test]
fn the_report_cleanlab_and_fiftyone_exports_write_their_files() {
    use itlm_inspector::session::decisions::Decision;
    let (_data, _saves, mut h) = saving_harness();
    finish_run(&mut h);
    // A sample the cut keeps, excluded: only the decision makes it an issue.
    let lists = h.state_mut().state.lists().unwrap();
    let ex = lists.kept[0];
    h.state_mut().state.decide(&[ex], Some(Decision::Exclude));
    h.run_steps(2);
    // The dialog says what the exports flag with the decision, beside the cut's own count.
    h.state_mut().begin_export(ExportWhat::Report);
    h.run_steps(2);
    h.get_by_label_contains(&format!(
        "{} flagged; with your decisions the exports flag {}",
        lists.trimmed.len(),
        lists.trimmed.len() + 1
    ));
    // The cleanlab dialog counts what its table marks (relabelled samples are issues too).
    h.state_mut().begin_export(ExportWhat::Cleanlab);
    h.run_steps(2);
    h.get_by_label_contains(&format!(
        "with your decisions the table marks {} label issues",
        lists.trimmed.len() + 1
    ));
    let ids = h.state().state.data.as_ref().unwrap().train.ids().to_vec();
    let n = ids.len();
    let out = tempfile::tempdir().unwrap();
    let export = |h: &mut Harness<'_, App>, what: ExportWhat, name: &str| -> PathBuf {
        let target = out.path().join(name);
        h.state_mut().begin_export(what);
        h.state_mut().export.target = target.display().to_string();
        h.run_steps(2);
        h.get_by_label("Export now").click();
        step_until(h, 60, name, |a| {
            !a.export.exporting() && a.export.open.is_none()
        });
        let st = &h.state().state;
        assert!(!st.messages.iter().any(|m| m.error), "{:?}", st.messages);
        target
    };

    let report = export(&mut h, ExportWhat::Report, "report.html");
    let html = std::fs::read_to_string(&report).unwrap();
    assert!(html.starts_with("<!DOCTYPE html>"), "{}", &html[..80]);
    assert!(
        html.contains("data:image/png;base64,"),
        "thumbnails of the run's images"
    );
    // Named in the decisions section (the top flagged lists only trimmed samples).
    let decided = &html[html.find("<section id=\"decisions\"").unwrap()..];
    assert!(decided.contains(&ids[ex]), "the excluded sample is named");

    // The image checks done, the cleanlab table gets their columns.
    step_until(&mut h, 60, "the image checks", |a| {
        a.state.image_checks.is_some()
    });
    h.state_mut().begin_export(ExportWhat::Cleanlab);
    h.run_steps(2);
    h.get_by_label_contains("their columns (is_dark_issue, dark_score, ...) follow");
    let table = export(&mut h, ExportWhat::Cleanlab, "label_issues.csv");
    let text = std::fs::read_to_string(&table).unwrap();
    assert_eq!(text.lines().count(), n + 1);
    assert!(
        text.starts_with(
            "path,is_label_issue,label_score,given_label,predicted_label,is_dark_issue,dark_score,"
        ),
        "{}",
        text.lines().next().unwrap()
    );
    let row = text
        .lines()
        .find(|l| l.starts_with(&format!("{},", ids[ex])))
        .unwrap();
    assert!(
        row.contains(",True,"),
        "an excluded sample is a label issue: {row}"
    );
    // As many as the dialog said (ids here hold no comma).
    let issues = text
        .lines()
        .skip(1)
        .filter(|l| l.split(',').nth(1) == Some("True"))
        .count();
    assert_eq!(issues, lists.trimmed.len() + 1);

    let fo = export(&mut h, ExportWhat::FiftyOne, "fiftyone");
    let labels = std::fs::read_to_string(fo.join("labels.json")).unwrap();
    assert!(labels.contains("\"excluded\""), "the decision is a tag");
    let pngs = std::fs::read_dir(fo.join("data")).unwrap().count();
    assert_eq!(pngs, n, "an IDX set's images are written as PNGs");
    assert!(fo.join("load_fiftyone.py").is_file());
    let said = &h.state().state.messages;
    assert!(
        said.iter()
            .any(|m| m.text.contains("FiftyOne") || m.text.contains("samples")),
        "{said:?}"
    );
}

/// A retrain with decisions is scored against the labels it trained with: a sample the user
/// relabelled to its true class is clean, in the round's metrics and at the slider's cut.
#[test]
fn a_sample_relabelled_to_its_true_class_is_not_counted_bad_after_the_retrain() {
    use itlm_inspector::session::decisions::Decision;
    let (_data, _saves, mut h) = saving_harness();
    finish_run(&mut h);
    let first = h.state().state.selected_round.unwrap();
    let before = h.state_mut().state.cut().unwrap();
    let truth = h
        .state()
        .state
        .data
        .as_ref()
        .unwrap()
        .truth
        .clone()
        .unwrap();
    let bad: Vec<usize> = (0..truth.bad.len()).filter(|&i| truth.bad[i]).collect();
    assert!(bad.len() > 2, "{}", bad.len());
    let st = &mut h.state_mut().state;
    let (last, fixed) = bad.split_last().unwrap();
    for &i in fixed {
        st.decide(&[i], Some(Decision::Relabel(truth.true_label[i].unwrap())));
    }
    st.decide(&[*last], Some(Decision::Exclude));
    h.run_steps(2);
    h.get_by_label("Retrain at this tau").click();
    h.run_steps(1);
    step_until(&mut h, 300, "the guided rounds", |a| {
        a.state
            .run
            .as_ref()
            .is_some_and(|r| r.status == RunStatus::Finished && r.history.len() > 1)
    });
    let run = h.state().state.run.as_ref().unwrap();
    let m = run.history.last().unwrap().metrics.trim.unwrap();
    // Only the excluded one is still bad, and it is trimmed.
    assert_eq!((m.bad, m.trimmed_bad), (1, 1), "{m:?}");
    let cut = h.state_mut().state.cut().unwrap().trim.unwrap();
    assert_eq!(
        (cut.bad, cut.trimmed_bad, cut.recall),
        (1, 1, 1.0),
        "{cut:?}"
    );
    // The data's own truth is the dataset as given: all of them still bad there.
    let data_bad = h.state().state.data.as_ref().unwrap().bad.clone().unwrap();
    assert_eq!(data_bad.iter().filter(|&&b| b).count(), bad.len());
    // The header says both counts, and why they differ.
    h.get_by_label(&format!(
        "truth: {} known bad, 1 as the run trained them ({} fixed by your relabels)",
        bad.len(),
        bad.len() - 1
    ));
    // A round the first run trained keeps its cut and truth: no pins, the given labels.
    h.state_mut().state.selected_round = Some(first);
    h.run_steps(2);
    let again = h.state_mut().state.cut().unwrap();
    assert_eq!(again.kept, before.kept);
    assert_eq!(again.trim, before.trim);
    assert_eq!(again.trim.unwrap().bad, bad.len());
}

/// "All files to a folder" with decisions made after the run: clean.txt and flagged.txt
/// follow them (not only the cut), decisions.csv goes with the set and the exported run
/// reopens with the decisions; exported into the run's own folder, the open journal keeps
/// its file (a decision made after still lands in it).
#[test]
fn the_exported_set_follows_the_decisions_and_reopens_with_them() {
    use itlm_inspector::session::decisions::Decision;
    let (_data, _saves, mut h) = saving_harness();
    finish_run(&mut h);
    let file = h.state().state.autosave.file.clone().unwrap();
    let rec = h.state().state.record().unwrap().clone();
    let n = rec.kept.len();
    let kept: Vec<usize> = (0..n).filter(|&i| rec.kept[i]).collect();
    let trimmed: Vec<usize> = (0..n).filter(|&i| !rec.kept[i]).collect();
    let (ex, kp, rl, later) = (kept[0], trimmed[0], trimmed[1], trimmed[2]);
    let given = h.state().state.data.as_ref().unwrap().train.label(rl);
    let new_class = (0..3)
        .find(|&c| c != given && c != rec.predicted[rl])
        .unwrap();
    let st = &mut h.state_mut().state;
    st.decide(&[ex], Some(Decision::Exclude));
    st.decide(&[kp], Some(Decision::Keep));
    st.decide(&[rl], Some(Decision::Relabel(new_class)));
    h.run_steps(2);
    let ids = h.state().state.data.as_ref().unwrap().train.ids().to_vec();

    let out = tempfile::tempdir().unwrap();
    let dir = out.path().join("set");
    h.state_mut().begin_export(ExportWhat::All);
    h.state_mut().export.target = dir.display().to_string();
    h.run_steps(2);
    h.get_by_label_contains("clean.txt and flagged.txt follow them");
    h.get_by_label("Export now").click();
    step_until(&mut h, 60, "the set", |a| {
        !a.export.exporting() && a.export.open.is_none()
    });
    let clean: Vec<String> = std::fs::read_to_string(dir.join("clean.txt"))
        .unwrap()
        .lines()
        .map(String::from)
        .collect();
    let has = |i: usize| clean.contains(&ids[i]);
    assert!(!has(ex), "an excluded sample is not in clean.txt");
    assert!(has(kp) && has(rl), "kept and relabelled samples are");
    assert!(!has(later), "an undecided trimmed sample is not");
    assert_eq!(clean.len(), rec.metrics.kept - 1 + 2);
    let flagged = std::fs::read_to_string(dir.join("flagged.txt")).unwrap();
    assert!(flagged.starts_with("# id\tscore\tgiven\tpredicted\tdecision\n"));
    let row = |i: usize| {
        flagged
            .lines()
            .find(|l| l.starts_with(&format!("{}\t", ids[i])))
            .map(String::from)
    };
    assert!(row(ex).unwrap().ends_with("\texclude"), "{:?}", row(ex));
    assert!(row(later).unwrap().ends_with('\t'), "{:?}", row(later));
    assert!(row(kp).is_none() && row(rl).is_none());
    assert_eq!(flagged.lines().count() - 1 + clean.len(), n);
    let journal = file.parent().unwrap().join("decisions.csv");
    assert_eq!(
        std::fs::read_to_string(dir.join("decisions.csv")).unwrap(),
        std::fs::read_to_string(&journal).unwrap(),
        "the set carries the journal (compacted: one row per decision)"
    );
    let manifest = std::fs::read_to_string(dir.join("manifest.txt")).unwrap();
    assert!(manifest.contains("decisions.csv"), "{manifest}");

    // Exported into the run's own folder: the journal there is the one open; a decision
    // made afterwards still reaches the file.
    h.state_mut().begin_export(ExportWhat::All);
    h.state_mut().export.target = file.parent().unwrap().display().to_string();
    h.run_steps(2);
    h.get_by_label("Export now").click();
    h.run_steps(2);
    // It holds the journal: the window asks before replacing it.
    h.get_by_label("Replace").click();
    step_until(&mut h, 60, "the set in the run's folder", |a| {
        !a.export.exporting() && a.export.open.is_none()
    });
    h.state_mut()
        .state
        .decide(&[later], Some(Decision::Exclude));
    h.run_steps(2);
    let text = std::fs::read_to_string(&journal).unwrap();
    assert!(
        text.contains(&format!("{},exclude,", ids[later])),
        "the decision after the export is in the journal: {text}"
    );

    // The exported run reopens with the three decisions of its set.
    let expected: Vec<_> = (0..n)
        .map(|i| {
            if i == later {
                None
            } else {
                h.state().state.decision(i)
            }
        })
        .collect();
    h.state_mut().open(dir.join("run.itlm"));
    step_until(&mut h, 60, "the exported run to reopen", |a| {
        a.state.loading.is_none() && a.state.data.as_ref().is_some_and(|d| d.reopened.is_some())
    });
    let again: Vec<_> = (0..n).map(|i| h.state().state.decision(i)).collect();
    assert_eq!(again, expected);
    h.get_by_label_contains("3 samples decided (1 excluded, 1 kept, 1 relabelled)");
}

/// A shift-drag with the primary button through `path` (pressed at its first point, moved to
/// each next one in four steps, released at the last).
fn shift_drag(h: &mut Harness<'_, App>, path: &[egui::Pos2]) {
    let shift = egui::Modifiers::SHIFT;
    let button = |pos, pressed| egui::Event::PointerButton {
        pos,
        button: egui::PointerButton::Primary,
        pressed,
        modifiers: shift,
    };
    let (first, last) = (path[0], path[path.len() - 1]);
    h.event(egui::Event::ModifiersChanged(shift));
    h.hover_at(first);
    h.run_steps(1);
    h.event(button(first, true));
    h.run_steps(1);
    for w in path.windows(2) {
        let (from, to) = (w[0], w[1]);
        for t in [0.25, 0.5, 0.75, 1.0] {
            h.hover_at(from + (to - from) * t);
            h.run_steps(1);
        }
    }
    h.event(button(last, false));
    h.run_steps(1);
    h.event(egui::Event::ModifiersChanged(egui::Modifiers::NONE));
    h.run_steps(2);
}

#[test]
fn the_embedding_map_projects_the_shown_round_and_its_box_selects_in_the_grid() {
    use itlm_inspector::session::projection::pca2;
    use itlm_inspector::ui::command::Command;
    let (_data, saves, mut h) = saving_harness();
    // The map alone in the left panel, so that it is on screen.
    let p = &mut h.state_mut().state.settings.panels;
    (p.histogram, p.metrics, p.confusion) = (false, false, false);
    finish_run(&mut h);
    drop(saves);
    step_until(&mut h, 30, "the projection", |a| {
        a.map.projection().is_some_and(|p| p.points.len() == N)
    });
    h.get_by_label_contains("Embedding map, round");
    h.get_by_label_contains("PCA of the class probabilities");
    // It is the projection of the shown round's class probabilities.
    let cut = h.state_mut().state.cut().unwrap();
    let expect = pca2(&cut.record.probs, cut.classes).unwrap();
    let proj = h.state().map.projection().unwrap().clone();
    assert_eq!(proj.points, expect.points);
    // Three classes: the probabilities spread the samples over two real directions.
    assert!(
        proj.explained[0] > 0.2 && proj.explained[1] > 0.05,
        "{:?}",
        proj.explained
    );

    // The panel's box (its command) makes the grid's selection.
    let mut xs: Vec<f32> = proj.points.iter().map(|q| q[0]).collect();
    xs.sort_by(f32::total_cmp);
    let mid = xs[N / 2] as f64;
    let left = h.state().map.points_in([-1e9, -1e9], [mid, 1e9]);
    assert!(left.len() >= N / 2 && left.len() < N, "{}", left.len());
    h.state_mut()
        .apply(vec![Command::SelectSamples(left.clone())]);
    h.run_steps(2);
    let sel: Vec<usize> = h.state().grid.selection.iter().copied().collect();
    assert_eq!(sel, left);
    h.get_by_label(&format!("{} selected", left.len()));
    h.get_by_label("select none").click();
    h.run_steps(2);
    assert!(h.state().grid.selection.is_empty());

    // A real shift-drag across the whole plot selects every sample.
    let rect = h.state().map.plot_rect.expect("the map was drawn");
    let (a, b) = (
        rect.min + egui::vec2(3.0, 3.0),
        rect.max - egui::vec2(3.0, 3.0),
    );
    shift_drag(&mut h, &[a, b]);
    assert_eq!(h.state().grid.selection.len(), N);
    h.get_by_label(&format!("{N} selected"));
    // Hidden from the legend, the trimmed points are not picked either.
    h.get_by_label("select none").click();
    h.run_steps(2);
    let kept = cut.kept_count;
    h.get_by_label(&format!("trimmed ({})", N - kept)).click();
    h.run_steps(3);
    shift_drag(&mut h, &[a, b]);
    let sel: Vec<usize> = h.state().grid.selection.iter().copied().collect();
    assert_eq!(sel.len(), kept);
    assert!(sel.iter().all(|&i| cut.kept[i]));
    h.get_by_label(&format!("trimmed ({})", N - kept)).click();
    h.run_steps(3);

    // The points are one image, painted again only when what it shows changes.
    h.run_steps(3);
    let painted = h.state().map.paints;
    assert!(painted > 0);
    h.run_steps(5);
    assert_eq!(
        h.state().map.paints,
        painted,
        "an unchanged map was painted again"
    );
    h.get_by_label("given class").click();
    h.run_steps(3);
    assert!(
        h.state().map.paints > painted,
        "a new colouring was not painted"
    );
    no_errors(&h);
}

#[test]
fn the_embedding_maps_lasso_selects_the_points_inside_its_outline() {
    let (_data, saves, mut h) = saving_harness();
    let p = &mut h.state_mut().state.settings.panels;
    (p.histogram, p.metrics, p.confusion) = (false, false, false);
    finish_run(&mut h);
    drop(saves);
    step_until(&mut h, 30, "the projection", |a| {
        a.map.projection().is_some_and(|p| p.points.len() == N)
    });
    h.get_by_label("lasso").click();
    h.run_steps(2);
    h.get_by_label_contains("shift-drag a lasso to select");
    // A triangle over the plot's upper-left half: from its top-left corner along the top
    // edge, down the diagonal to the bottom-left corner, and back (the outline closes).
    let rect = h.state().map.plot_rect.expect("the map was drawn");
    let (a, b) = (
        rect.min + egui::vec2(3.0, 3.0),
        rect.max - egui::vec2(3.0, 3.0),
    );
    let (top_right, bottom_left) = (egui::pos2(b.x, a.y), egui::pos2(a.x, b.y));
    shift_drag(&mut h, &[a, top_right, bottom_left]);
    // Where each point is on screen: inside the triangle when its offsets from the corner,
    // as shares of the sides, sum to at most 1 (points within a pixel of the diagonal may go
    // either way).
    let t = h.state().map.plot_transform.expect("the map was drawn");
    let proj = h.state().map.projection().unwrap().clone();
    let sel = &h.state().grid.selection;
    let (mut inside, mut outside) = (0, 0);
    for (i, q) in proj.points.iter().enumerate() {
        let s = t.position_from_point(&egui_plot::PlotPoint::new(q[0], q[1]));
        let share = (s.x - a.x) / (b.x - a.x) + (s.y - a.y) / (b.y - a.y);
        let margin = 1.5 / (b.x - a.x).min(b.y - a.y);
        if share < 1.0 - margin {
            assert!(
                sel.contains(&i),
                "sample {i} inside the lasso was not selected"
            );
            inside += 1;
        } else if share > 1.0 + margin {
            assert!(
                !sel.contains(&i),
                "sample {i} outside the lasso was selected"
            );
            outside += 1;
        }
    }
    // The triangle splits the points: some on each side.
    assert!(
        inside > 0 && outside > 0,
        "{inside} inside, {outside} outside"
    );
    h.get_by_label(&format!("{} selected", sel.len()));
    // The map rings the selected points (its legend names them).
    h.get_by_label_contains(&format!("selected ({})", sel.len()));
    no_errors(&h);
}

#[test]
fn the_grids_sort_by_the_chosen_key_both_ways() {
    use itlm_inspector::ui::view::SortKey;
    let (_data, _saves, mut h) = saving_harness();
    finish_run(&mut h);
    let rec = h.state().state.record().unwrap().clone();
    // Default: highest loss first.
    let t = h.state_mut().state.lists().unwrap().trimmed.clone();
    assert!(t.len() > 3);
    assert!(t.windows(2).all(|w| rec.score[w[0]] >= rec.score[w[1]]));
    // The "sort by" list: p(given), the lowest (most suspicious) first.
    h.get_by_role_and_label(egui::Role::ComboBox, "sort by")
        .click();
    h.run_steps(2);
    h.get_by_label("p(given)").click();
    h.run_steps(2);
    assert_eq!(h.state().state.sort.key, SortKey::PGiven);
    let t = h.state_mut().state.lists().unwrap().trimmed.clone();
    let p = |i: usize| rec.p_given[i];
    assert!(t.windows(2).all(|w| p(w[0]) <= p(w[1])), "{t:?}");
    // Reversed: the highest p(given) first; the same samples.
    h.get_by_label("most suspicious first").click();
    h.run_steps(2);
    let r = h.state_mut().state.lists().unwrap().trimmed.clone();
    assert!(r.windows(2).all(|w| p(w[0]) >= p(w[1])), "{r:?}");
    let (mut a, mut b) = (t.clone(), r.clone());
    a.sort_unstable();
    b.sort_unstable();
    assert_eq!(a, b);
    h.get_by_label("least suspicious first");
    no_errors(&h);
}

/// The grid lists' lengths as the tabs show them.
fn tab_counts(h: &mut Harness<'_, App>) -> (usize, usize) {
    let l = h.state_mut().state.lists().unwrap().clone();
    h.get_by_label(&format!("Trimmed ({})", l.trimmed.len()));
    h.get_by_label(&format!("Kept ({})", l.kept.len()));
    (l.trimmed.len(), l.kept.len())
}

/// Open the combo box labelled `combo` and choose `option` in its list (the list's entry is the
/// last widget of that name: it is drawn after the bar).
fn pick(h: &mut Harness<'_, App>, combo: &str, option: &str) {
    h.get_by_role_and_label(egui::Role::ComboBox, combo).click();
    h.run_steps(2);
    h.get_all_by_label(option).last().unwrap().click();
    h.run_steps(2);
}

#[test]
fn the_grid_bar_filters_by_path_class_decision_and_loss_and_clears() {
    use itlm_inspector::session::decisions::Decision;
    use itlm_inspector::ui::command::Command;
    let (_data, _saves, mut h) = saving_harness();
    finish_run(&mut h);
    let rec = h.state().state.record().unwrap().clone();
    let all = h.state_mut().state.lists().unwrap().clone();
    let (ids, labels): (Vec<String>, Vec<u32>) = {
        let d = &h.state().state.data.as_ref().unwrap().train;
        (d.ids().to_vec(), (0..d.len()).map(|i| d.label(i)).collect())
    };
    let count =
        |list: &[usize], keep: &dyn Fn(usize) -> bool| list.iter().filter(|&&i| keep(i)).count();

    // A path substring, typed.
    h.get_by_role_and_label(egui::Role::TextInput, "path")
        .click();
    h.run_steps(1);
    h.get_by_role_and_label(egui::Role::TextInput, "path")
        .type_text("#1");
    h.run_steps(2);
    let has = |i: usize| ids[i].contains("#1");
    let want = (count(&all.trimmed, &has), count(&all.kept, &has));
    assert!(want.0 > 0 && want.0 < all.trimmed.len(), "{want:?}");
    assert_eq!(tab_counts(&mut h), want);
    h.get_by_label("clear filters").click();
    h.run_steps(2);
    assert_eq!(tab_counts(&mut h), (all.trimmed.len(), all.kept.len()));
    assert!(!h.state().state.filter.is_active());

    // The given class, from its list; then the predicted class on top of it.
    let classes = h.state().state.data.as_ref().unwrap().train.classes.clone();
    pick(&mut h, "given", &classes[1]);
    assert_eq!(h.state().state.filter.class, Some(1));
    let given1 = |i: usize| labels[i] == 1;
    assert_eq!(
        tab_counts(&mut h),
        (count(&all.trimmed, &given1), count(&all.kept, &given1))
    );
    pick(&mut h, "predicted", &classes[2]);
    assert_eq!(h.state().state.filter.predicted, Some(2));
    let both = |i: usize| labels[i] == 1 && rec.predicted[i] == 2;
    assert_eq!(
        tab_counts(&mut h),
        (count(&all.trimmed, &both), count(&all.kept, &both))
    );
    h.get_by_label("clear filters").click();
    h.run_steps(2);

    // Decisions: two excluded, one kept; the decision filter shows each kind.
    let (x, k) = (vec![all.trimmed[0], all.trimmed[1]], vec![all.kept[0]]);
    h.state_mut().apply(vec![
        Command::Decide(x.clone(), Some(Decision::Exclude)),
        Command::Decide(k.clone(), Some(Decision::Keep)),
    ]);
    h.run_steps(2);
    for (choice, want) in [
        ("excluded", (2, 0)),
        ("kept", (0, 1)),
        ("any decision", (2, 1)),
    ] {
        pick(&mut h, "decision", choice);
        assert_eq!(tab_counts(&mut h), want, "{choice}");
    }
    pick(&mut h, "decision", "no decision");
    assert_eq!(
        tab_counts(&mut h),
        (all.trimmed.len() - 2, all.kept.len() - 1)
    );
    h.get_by_label("clear filters").click();
    h.run_steps(2);

    // The loss range starts at the cut: every trimmed sample, no kept one below the cut.
    h.get_by_label("loss from").click();
    h.run_steps(2);
    let (lo, hi) = h.state().state.filter.score.unwrap();
    let inside = |i: usize| rec.score[i] >= lo && rec.score[i] <= hi;
    let want = (count(&all.trimmed, &inside), count(&all.kept, &inside));
    assert_eq!(want.0, all.trimmed.len());
    assert!(want.1 <= 1, "kept samples above the cut: {}", want.1);
    assert_eq!(tab_counts(&mut h), want);
    h.get_by_label("clear filters").click();
    h.run_steps(2);
    assert_eq!(tab_counts(&mut h), (all.trimmed.len(), all.kept.len()));
    no_errors(&h);
}

#[test]
fn two_runs_compare_through_a_typed_path_and_their_sets_filter_the_grid() {
    use itlm_inspector::export::RunFile;
    let data = tempfile::tempdir().unwrap();
    write_idx_set(data.path());
    let (a, b, c) = (
        tempfile::tempdir().unwrap(),
        tempfile::tempdir().unwrap(),
        tempfile::tempdir().unwrap(),
    );
    cli_run(data.path(), a.path(), &[]);
    cli_run(data.path(), b.path(), &["--select", "per-class"]);
    // Another seed draws another subset of 150: not a run of the same samples.
    cli_run(data.path(), c.path(), &["--seed", "9"]);
    let flagged = |dir: &Path| -> std::collections::HashMap<String, bool> {
        let r = RunFile::read(&dir.join("run.itlm")).unwrap();
        let v = r.verdict().unwrap();
        r.dataset
            .ids
            .iter()
            .zip(&v.kept)
            .map(|(id, k)| (id.clone(), !k))
            .collect()
    };
    let (fa, fb) = (flagged(a.path()), flagged(b.path()));
    let both = fa.iter().filter(|(id, &f)| f && fb[*id]).count();
    let only_a = fa.iter().filter(|(id, &f)| f && !fb[*id]).count();
    let only_b = fa.iter().filter(|(id, &f)| !f && fb[*id]).count();
    assert!(both > 0, "the two runs flag nothing in common");

    let mut h = harness(&a.path().join("run.itlm"));
    step_until(&mut h, 60, "the run file to open", |a| {
        a.state.data.is_some()
    });
    h.get_by_label("Compare...").click();
    h.run_steps(2);
    let compare = |h: &mut Harness<'_, App>, file: &Path| {
        h.get_by_role_and_label(egui::Role::TextInput, "or its path")
            .click();
        h.run_steps(1);
        h.state_mut().compare.path.clear();
        h.run_steps(1);
        h.get_by_role_and_label(egui::Role::TextInput, "or its path")
            .type_text(&file.display().to_string());
        h.run_steps(1);
        h.get_by_label("Compare").click();
        // The click is handled in the next frame; until then the last compare's error stands.
        h.run_steps(1);
        step_until(h, 30, "the other run to be read", |a| {
            !a.compare.busy()
                && (a.compare.other.as_ref().is_some_and(|o| o.file == file)
                    || a.compare.error.is_some())
        });
    };
    // A run of other samples is refused, with the reason.
    compare(&mut h, &c.path().join("run.itlm"));
    let e = h.state().compare.error.clone().unwrap();
    assert!(e.contains("not a run of this dataset"), "{e}");
    h.get_by_label_contains("not a run of this dataset");

    compare(&mut h, &b.path().join("run.itlm"));
    assert!(h.state().compare.error.is_none());
    let jaccard = both as f64 / (both + only_a + only_b) as f64;
    h.get_by_label(&format!(
        "Jaccard overlap of the flagged sets: {jaccard:.3}"
    ));
    for n in [both, only_a, only_b] {
        assert!(h.get_all_by_label(&n.to_string()).next().is_some(), "{n}");
    }
    h.get_by_label("Metrics of both runs");
    // Each set filters the grid: the shown run's trimmed tab holds exactly its share.
    let shows = |h: &mut Harness<'_, App>, k: usize| {
        h.get_all_by_label("show in the grid")
            .nth(k)
            .unwrap()
            .click();
        h.run_steps(2);
    };
    shows(&mut h, 0);
    h.get_by_label("only: flagged by both");
    assert_eq!(tab_counts(&mut h), (both, 0));
    shows(&mut h, 1);
    assert_eq!(tab_counts(&mut h), (only_a, 0));
    shows(&mut h, 2);
    assert_eq!(tab_counts(&mut h), (0, only_b));
    h.get_by_label("show all").click();
    h.run_steps(2);
    assert_eq!(tab_counts(&mut h), (both + only_a, 150 - both - only_a));
    no_errors(&h);
}

/// A selection made elsewhere (a box on the embedding map: every sample) and then narrowed by
/// the tab and a filter: the grid's actions apply only to the selected samples it shows, and
/// its bar says how many it leaves out; "drop the hidden" makes the selection what it shows.
#[test]
fn grid_actions_apply_only_to_the_selected_samples_the_tab_and_filter_show() {
    use itlm_inspector::session::decisions::Decision;
    use itlm_inspector::ui::command::Command;
    use itlm_inspector::ui::view::{Filter, GridTab};
    let (_data, _out, file) = saved_run(&[]);
    let mut h = opened_run(&file);
    let all: Vec<usize> = (0..150).collect();
    h.state_mut().apply(vec![
        Command::SelectSamples(all.clone()),
        Command::SetTab(GridTab::Kept),
        Command::SetFilter(Filter {
            class: Some(0),
            ..Filter::default()
        }),
    ]);
    h.run_steps(3);
    let shown = {
        let mut v = h.state_mut().state.lists().unwrap().kept.clone();
        v.sort_unstable();
        v
    };
    assert!(!shown.is_empty() && shown.len() < 150, "{}", shown.len());
    let hidden = 150 - shown.len();
    h.get_by_label("150 selected");
    h.get_by_label(&format!(
        "{hidden} hidden by the tab or filter: actions apply to the {} shown",
        shown.len()
    ));
    // Exclude: only the shown ones are decided.
    h.get_by_label("Exclude").click();
    h.run_steps(2);
    for i in 0..150 {
        let want = shown.binary_search(&i).is_ok().then_some(Decision::Exclude);
        assert_eq!(h.state().state.decision(i), want, "sample {i}");
    }
    // Undo it; "drop the hidden" narrows the selection to what is shown.
    h.key_press_modifiers(egui::Modifiers::COMMAND, egui::Key::Z);
    h.run_steps(2);
    assert!((0..150).all(|i| h.state().state.decision(i).is_none()));
    h.get_by_label(&format!("drop the {hidden} hidden")).click();
    h.run_steps(2);
    let sel: Vec<usize> = h.state().grid.selection.iter().copied().collect();
    assert_eq!(sel, shown);
    h.get_by_label(&format!("{} selected", shown.len()));
    assert!(h.query_by_label_contains("hidden by the tab").is_none());
    // On a tab that shows none of them: no action is offered.
    h.state_mut().apply(vec![
        Command::SetTab(GridTab::Trimmed),
        Command::SetFilter(Filter {
            class: Some(1),
            ..Filter::default()
        }),
    ]);
    h.run_steps(3);
    h.get_by_label("all hidden by the tab or filter: no action applies to them");
    assert!(h.query_by_label("Exclude").is_none());
    assert!(h.query_by_label("Keep").is_none());
    no_errors(&h);
}

/// Two runs of a set without a test set or truth: the compare chart still plots what every
/// run has (train accuracy, kept and trained-on fractions) and lists no series neither run has.
#[test]
fn the_compare_chart_plots_train_accuracy_without_a_test_set_or_truth() {
    use itlm_inspector::export::RunFile;
    let data = tempfile::tempdir().unwrap();
    write_idx_set(data.path());
    let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    cli_run(data.path(), a.path(), &[]);
    cli_run(data.path(), b.path(), &["--select", "per-class"]);
    // Neither run measured test accuracy or the trim against truth.
    let strip = |dir: &Path| -> RunFile {
        let mut r = RunFile::read(&dir.join("run.itlm")).unwrap();
        for round in &mut r.rounds {
            let m = &mut std::sync::Arc::make_mut(round).metrics;
            (m.test_acc, m.trim) = (None, None);
        }
        r
    };
    let other = b.path().join("stripped.itlm");
    itlm_inspector::export::write_atomic(
        &other,
        &strip(b.path()).to_bytes().unwrap(),
        itlm_inspector::export::Overwrite::Refuse,
    )
    .unwrap();
    let mut h = open_edited(a.path(), "stripped.itlm", &strip(a.path()));
    // The metrics panel's own legend, before the chart adds its own.
    let listed = |h: &Harness<'_, App>, name: &str| h.query_all_by_label(name).count();
    let before: Vec<usize> = [
        "train acc",
        "kept fraction",
        "trained-on fraction",
        "test acc",
        "trim precision",
        "trim recall",
    ]
    .iter()
    .map(|n| listed(&h, n))
    .collect();
    h.get_by_label("Compare...").click();
    h.run_steps(2);
    h.state_mut().compare.path = other.display().to_string();
    h.run_steps(1);
    h.get_by_label("Compare").click();
    h.run_steps(1);
    step_until(&mut h, 30, "the other run to be read", |a| {
        !a.compare.busy() && (a.compare.other.is_some() || a.compare.error.is_some())
    });
    assert!(h.state().compare.error.is_none());
    h.get_by_label("Metrics of both runs");
    // One legend entry per series for both runs' lines (solid and dashed), above the chart;
    // none for a series neither run has.
    for (k, name) in ["train acc", "kept fraction", "trained-on fraction"]
        .iter()
        .enumerate()
    {
        assert_eq!(
            listed(&h, name),
            before[k] + 1,
            "the chart's legend lists {name:?} once"
        );
    }
    for (k, name) in ["test acc", "trim precision", "trim recall"]
        .iter()
        .enumerate()
    {
        assert_eq!(
            listed(&h, name),
            before[k + 3],
            "{name:?} listed though neither run has it"
        );
    }
    no_errors(&h);
}

/// A run with the clustering cut (`run --clusters`): the probe runs before the final round and
/// its report is saved; reopened, the window offers the held-out samples as a grid filter,
/// keeps them out of the cut at any tau and says in the round's hover what the cut did.
#[test]
fn a_clustering_cut_run_shows_and_filters_what_it_held_out() {
    use itlm_inspector::export::RunFile;
    let (_data, out, file) = saved_run(&["--clusters"]);
    let mut run = RunFile::read(&file).unwrap();
    assert!(run.config.clusters);
    let last = run.rounds.len() - 1;
    let report = run.rounds[last].clusters.clone().expect("the probe ran");
    assert_eq!(report.classes.len(), 3, "every class was split");
    assert!(run.rounds[..last].iter().all(|r| r.clusters.is_none()));
    // Whatever the tiny run flagged, hold out three low-loss samples of class 1 as a cut on
    // real data would, and reopen.
    let r = std::sync::Arc::make_mut(&mut run.rounds[last]);
    let mut order: Vec<usize> = (0..r.score.len())
        .filter(|&i| run.dataset.labels[i] == 1)
        .collect();
    order.sort_by(|&a, &b| r.score[a].total_cmp(&r.score[b]));
    r.held_out = vec![false; r.score.len()];
    for &i in &order[..3] {
        r.held_out[i] = true;
    }
    let mut held: Vec<usize> = order[..3].to_vec();
    held.sort_unstable();
    let mut c = report.classes[1].clone();
    (c.size, c.flagged) = (3, true);
    r.clusters = Some(itlm_inspector::itlm::ClusterReport {
        classes: vec![c],
        probe_epochs: report.probe_epochs,
    });
    let mut h = open_edited(out.path(), "clustered.itlm", &run);
    let cut = h.state_mut().state.cut().unwrap();
    assert!(
        held.iter().all(|&i| !cut.kept[i]),
        "held out at the run's tau"
    );
    h.get_by_label("held out by clusters (3)").click();
    h.run_steps(3);
    let within = h.state().state.filter.within.clone().unwrap();
    assert_eq!(
        (0..within.mask.len())
            .filter(|&i| within.mask[i])
            .collect::<Vec<_>>(),
        held
    );
    // Every sample the filter shows, selected in one step (Ctrl+A, or the header's button)
    // and excluded in one step.
    let selection = |h: &Harness<'static, App>| -> Vec<usize> {
        h.state().grid.selection.iter().copied().collect()
    };
    h.key_press_modifiers(egui::Modifiers::COMMAND, egui::Key::A);
    h.run_steps(2);
    assert_eq!(selection(&h), held, "Ctrl+A");
    h.get_by_label("3 selected");
    assert!(
        h.query_by_label("select all 3").is_none(),
        "all are selected already"
    );
    h.get_by_label("select none").click();
    h.run_steps(2);
    assert!(selection(&h).is_empty());
    h.get_by_label("select all 3").click();
    h.run_steps(2);
    assert_eq!(selection(&h), held, "the button");
    h.get_by_label("Exclude").click();
    h.run_steps(2);
    for &i in &held {
        assert_eq!(
            h.state().state.decision(i),
            Some(itlm_inspector::session::decisions::Decision::Exclude)
        );
    }
    // At tau 1 the cut keeps everything but what the clustering cut held out (and excluded).
    h.state_mut().state.set_tau(1.0);
    h.run_steps(3);
    let cut = h.state_mut().state.cut().unwrap();
    assert_eq!(cut.trimmed_count, 3);
    // The histogram panel says what the cut did.
    let class1 = &run.dataset.classes[1];
    h.get_by_label_contains(&format!(
        "Clustering cut: held out 3 samples before this round trained ({class1}: a cluster of 3 of"
    ));
    // And a held-out sample's detail.
    h.state_mut()
        .apply(vec![itlm_inspector::ui::command::Command::SelectSample(
            Some(held[0]),
        )]);
    h.run_steps(3);
    h.get_by_label_contains("held out by the clustering cut: in a small cluster");
}

/// A run's spectral scores: the histogram toggles to them, the grids sort by them, the
/// sample detail and samples.csv show them.
#[test]
fn spectral_scores_show_as_a_histogram_a_sort_and_a_detail_line() {
    use itlm_inspector::export::RunFile;
    use itlm_inspector::ui::command::Command;
    use itlm_inspector::ui::view::{GridTab, Sort, SortKey};
    let (_data, out, file) = saved_run(&[]);
    let run = RunFile::read(&file).unwrap();
    let n = run.dataset.len();
    assert!(run.rounds.iter().all(|r| r.spectral.len() == n));
    let csv = std::fs::read_to_string(out.path().join("samples.csv")).unwrap();
    let header = csv.lines().next().unwrap();
    assert!(header.contains(",times_trimmed,spectral"), "{header}");

    let mut h = harness(&file);
    step_until(&mut h, 60, "the run file to open", |a| {
        a.state.data.is_some()
    });
    no_errors(&h);
    h.get_by_label("Loss histogram");
    h.get_by_label("spectral score").click();
    h.run_steps(3);
    assert!(h.state().state.settings.histogram_spectral);
    h.get_by_label("Spectral score histogram");
    let last = run.rounds.last().unwrap();
    h.get_by_label_contains(&format!("Round {} spectral scores:", last.round));
    h.get_by_label_contains("highest spectral scores:");
    // Sorted by the spectral score, the trimmed grid starts with the highest-scoring trimmed
    // sample.
    h.state_mut().apply(vec![
        Command::SetTab(GridTab::Trimmed),
        Command::SetSort(Sort {
            key: SortKey::Spectral,
            reverse: false,
        }),
    ]);
    h.run_steps(3);
    let cut = h.state_mut().state.cut().unwrap();
    let lists = h.state_mut().state.lists().unwrap();
    let first = lists.trimmed[0];
    let top = (0..n)
        .filter(|&i| !cut.kept[i])
        .max_by(|&a, &b| {
            last.spectral[a]
                .total_cmp(&last.spectral[b])
                .then(b.cmp(&a))
        })
        .unwrap();
    assert_eq!(last.spectral[first], last.spectral[top]);
    h.state_mut()
        .apply(vec![Command::SelectSample(Some(first))]);
    h.run_steps(3);
    h.get_by_label_contains("% of its class");
    // The review queue follows the grid's order and says so.
    h.state_mut().apply(vec![Command::SetTab(GridTab::Review)]);
    h.run_steps(3);
    h.get_by_label("by spectral score, most suspicious first");
    h.get_by_label("that order reversed");
    // And back to the losses.
    h.get_by_label("loss").click();
    h.run_steps(3);
    h.get_by_label("Loss histogram");
}

/// A run with forward correction (`--transition`): the confusion panel says, class by class,
/// what label noise the shown round's model trained through.
#[test]
fn the_confusion_panel_shows_the_label_noise_a_round_trained_with() {
    use itlm_inspector::export::RunFile;
    let (_data, _out, file) = saved_run(&["--transition"]);
    let run = RunFile::read(&file).unwrap();
    assert_eq!(run.config.transition, itlm_inspector::itlm::Forward::On);
    let k = run.dataset.classes.len();
    assert!(run.rounds[0].transition.is_empty());
    let last = run.rounds.last().unwrap();
    assert_eq!(last.transition.len(), k * k);
    let mut h = harness(&file);
    step_until(&mut h, 60, "the run file to open", |a| {
        a.state.data.is_some()
    });
    no_errors(&h);
    h.get_by_label(&format!(
        "Label noise round {} trained with (forward correction)",
        last.round
    ))
    .click();
    h.run_steps(3);
    // The cut's precision and recall without truth, beside the truth's.
    h.get_by_label_contains("estimated at this cut (no truth): precision");
    let (p, r) = h.state_mut().state.cut().unwrap().estimated.unwrap();
    assert!(
        (0.0..=1.0).contains(&p) && (0.0..=1.0).contains(&r),
        "{p} {r}"
    );
    h.get_by_label_contains("vs truth at this cut:");
    assert!(
        h.query_all_by_label_contains("keep the label").count() >= k,
        "one line per class"
    );
}

/// A plain run on a set with a systematic flip (every 8th sample labelled the next class):
/// round 0's matrix is one-sided, so the controls offer forward correction, and one click
/// turns it on for the next run.
#[test]
fn one_sided_flips_in_round_0_offer_forward_correction() {
    let (_data, _out, file) = saved_run(&[]);
    let mut h = harness(&file);
    step_until(&mut h, 60, "the run file to open", |a| {
        a.state.data.is_some()
    });
    no_errors(&h);
    let t = h.state().state.flips.clone().expect("round 0's matrix");
    let (flipped, one_sided) = itlm_inspector::itlm::transition::shape(&t, 3).unwrap();
    assert!(flipped >= 0.05 && one_sided > 0.5, "{flipped} {one_sided}");
    h.get_by_label_contains("one-sided label flips:");
    assert_eq!(
        h.state().state.settings.config.transition,
        itlm_inspector::itlm::Forward::Off
    );
    h.get_by_label("correct for it").click();
    h.run_steps(3);
    assert_eq!(
        h.state().state.settings.config.transition,
        itlm_inspector::itlm::Forward::On
    );
    assert!(h
        .query_by_label_contains("one-sided label flips:")
        .is_none());
}

/// Forward correction on `auto` (`run --transition auto`) on a set with a systematic flip:
/// round 0's model sees one-sided flips, so the later rounds trained through a matrix; the
/// window shows the mode, and on round 0 what the rule read.
#[test]
fn auto_forward_correction_says_what_round_0_decided() {
    use itlm_inspector::export::RunFile;
    use itlm_inspector::itlm::Forward;
    let (_data, _out, file) = saved_run(&["--transition", "auto", "--rounds", "4"]);
    let run = RunFile::read(&file).unwrap();
    assert_eq!(run.config.transition, Forward::Auto);
    assert!(run.rounds[0].transition.is_empty());
    let last = run.rounds.last().unwrap();
    assert_eq!(last.transition.len(), 9, "round 0 turned it on");
    // Forward-corrected: one forward round and the final model, not `rounds` + 1.
    assert_eq!(run.config.rounds, 4);
    assert_eq!(run.rounds.len(), 3);
    let mut h = opened_run(&file);
    no_errors(&h);
    assert_eq!(
        h.state().state.run.as_ref().unwrap().config.transition,
        Forward::Auto
    );
    h.get_by_label(&format!(
        "Label noise round {} trained with (forward correction)",
        last.round
    ));
    // The timeline plans the run it was: three rounds, none still to come.
    h.get_by_label("Showing round 2 of 2");
    assert!(h.query_by_label("Round 3").is_none());
    // The last round trained through its matrix: no hint. Round 0 did not: the hint says
    // what auto made of it, without the button that turns it on.
    assert!(h
        .query_by_label_contains("one-sided label flips:")
        .is_none());
    h.state_mut().state.select_round(0);
    h.run_steps(3);
    h.get_by_label_contains("auto: forward correction from round 1 on; one-sided label flips:");
    assert!(h.query_by_label("correct for it").is_none());
}

/// An auto run whose final check ([`itlm_inspector::itlm::final_check`]) chose plain ITLM:
/// a forward round, then rounds without a matrix. The window says so on the plain rounds
/// (made here from an auto run file whose last round's matrix is removed, as such a run
/// records it); and for a run whose check chose the cut through the matrix, that the final
/// round trained on the kept samples.
#[test]
fn an_auto_run_the_final_check_turned_plain_says_so() {
    use itlm_inspector::export::RunFile;
    let (_data, out, file) = saved_run(&["--transition", "auto", "--rounds", "4"]);
    let mut run = RunFile::read(&file).unwrap();
    assert_eq!(run.rounds.len(), 3);
    assert!(!run.rounds[1].transition.is_empty());
    std::sync::Arc::make_mut(&mut run.rounds[2])
        .transition
        .clear();
    let mut h = open_edited(out.path(), "checked.itlm", &run);
    h.get_by_label(
        "auto: forward correction in round 1, then plain ITLM from round 2 (a check on held-out labels chose it)",
    );
    assert!(h
        .query_by_label_contains("auto: forward correction from round 1 on")
        .is_none());
    // The forward round itself trained through its matrix: no line there.
    h.state_mut().state.select_round(1);
    h.run_steps(3);
    assert!(h
        .query_by_label_contains("then plain ITLM from round")
        .is_none());

    // The check chose the cut through the matrix: the final round kept its matrix and
    // trained on fewer samples than the forward round.
    let mut run = RunFile::read(&file).unwrap();
    let kept = run.rounds[1].kept.iter().filter(|&&k| k).count();
    std::sync::Arc::make_mut(&mut run.rounds[2]).trained_on = kept;
    let h = open_edited(out.path(), "checked-cut.itlm", &run);
    h.get_by_label(&format!(
        "auto: forward correction from round 1; round 2 trained on the {kept} kept samples through the matrix (a check on held-out labels chose it)"
    ));
}

/// A round whose model predicts a class for (almost) none of its samples (a class folded into
/// another, as forward correction did on the digits) says so under the round's figures; the
/// other rounds do not.
#[test]
fn a_class_the_model_folded_into_another_is_named() {
    use itlm_inspector::export::RunFile;
    let (_data, out, file) = saved_run(&[]);
    let mut run = RunFile::read(&file).unwrap();
    let last = run.rounds.len() - 1;
    let labels = run.dataset.labels.clone();
    let labelled = labels.iter().filter(|&&l| l == 1).count();
    assert!(labelled >= 10);
    let r = std::sync::Arc::make_mut(&mut run.rounds[last]);
    // Every sample the last model called class 1 becomes class 2.
    for p in r.predicted.iter_mut().filter(|p| **p == 1) {
        *p = 2;
    }
    // A plainly trained round: no forward correction to blame.
    r.transition.clear();
    let mut h = open_edited(out.path(), "folded.itlm", &run);
    let name = run.dataset.classes[1].clone();
    let line = format!(
        "Round {last}'s model predicts {name} for 0 of the {labelled} samples labelled {name} (0%): the class is folded into another"
    );
    h.get_by_label(&format!(
        "{line} (labels flipped into it, its own samples trimmed) or trimmed away"
    ));
    h.state_mut().state.select_round(0);
    h.run_steps(3);
    assert!(h.query_by_label_contains("'s model predicts").is_none());
    // A forward-corrected round names the flip read the wrong way.
    let k = run.dataset.classes.len();
    let r = std::sync::Arc::make_mut(&mut run.rounds[last]);
    r.transition = (0..k * k)
        .map(|x| if x / k == x % k { 1.0 } else { 0.0 })
        .collect();
    let h = open_edited(out.path(), "folded-forward.itlm", &run);
    h.get_by_label(&format!(
        "{line} (forward correction that read its flip the wrong way) or trimmed away"
    ));
}

/// A forward round that trained again because its first model folded a class (the record's
/// `unfolded`, kept in the run file) says so under that round's figures, with the counts; the
/// other rounds do not.
#[test]
fn a_forward_round_that_trained_again_after_a_fold_says_so() {
    use itlm_inspector::export::RunFile;
    let (_data, out, file) = saved_run(&[]);
    let mut run = RunFile::read(&file).unwrap();
    assert!(run.rounds.len() >= 2);
    let labelled = run.dataset.labels.iter().filter(|&&l| l == 1).count();
    std::sync::Arc::make_mut(&mut run.rounds[1])
        .metrics
        .unfolded = vec![itlm_inspector::itlm::Starved {
        class: 1,
        predicted: 0,
        labelled,
    }];
    let mut h = open_edited(out.path(), "unfolded.itlm", &run);
    h.state_mut().state.select_round(1);
    h.run_steps(3);
    let name = run.dataset.classes[1].clone();
    h.get_by_label(&format!(
        "round 1: its first forward-corrected model folded {name} (predicted for 0 of the {labelled} samples labelled {name}) into other classes (the matrix explained its labels by other classes' flips); the round trained again, fresh, without the flip that folded it"
    ));
    h.state_mut().state.select_round(0);
    h.run_steps(3);
    assert!(h
        .query_by_label_contains("forward-corrected model folded")
        .is_none());
    // A record that keeps the flips taken out (run files of version 18) names them.
    std::sync::Arc::make_mut(&mut run.rounds[1])
        .metrics
        .unfolded_flips = vec![(2, 1)];
    let mut h = open_edited(out.path(), "unfolded_flips.itlm", &run);
    h.state_mut().state.select_round(1);
    h.run_steps(3);
    let other = run.dataset.classes[2].clone();
    h.get_by_label(&format!(
        "round 1: its first forward-corrected model folded {name} (predicted for 0 of the {labelled} samples labelled {name}) into other classes (the matrix explained its labels by other classes' flips); the round trained again, fresh, without {other} -> {name}"
    ));
}

/// The label-noise correction's three modes in More...: `on` goes off when the restore (which
/// chooses the final set) is ticked; `auto` stays, and the run applies it as off.
#[test]
fn label_noise_correction_modes_and_the_restore() {
    use itlm_inspector::itlm::Forward;
    let (_data, mut h) = loaded_harness();
    h.get_by_label("More...").click();
    h.run_steps(3);
    let mode = |h: &Harness<'_, App>| h.state().state.settings.config.transition;
    assert_eq!(mode(&h), Forward::Off, "tiny_settings' plain ITLM");
    h.get_by_label("on").click();
    h.run_steps(3);
    assert_eq!(mode(&h), Forward::On);
    h.get_by_label("restore hard clean samples").click();
    h.run_steps(3);
    assert!(h.state().state.settings.config.restore);
    assert_eq!(mode(&h), Forward::Off, "on conflicts with the restore");
    h.get_by_label("auto").click();
    h.run_steps(3);
    let c = &h.state().state.settings.config;
    assert_eq!((c.transition, c.forward()), (Forward::Auto, Forward::Off));
    assert!(c.restore, "auto does not untick the restore");
    c.validate().unwrap();
}

/// Co-teaching is one checkbox in More... (turning the restore off, which it does not combine
/// with); its run has a round per epoch of its two models, and "Retrain at this tau", which
/// would continue a run from a cut, is off for it, saying why.
#[test]
fn a_coteaching_run_has_a_round_per_epoch_and_no_retrain_at_tau() {
    use itlm_inspector::itlm::{Augment, CoTeach};
    let (_data, mut h) = loaded_harness();
    h.get_by_label("More...").click();
    h.run_steps(3);
    h.get_by_label("restore hard clean samples").click();
    h.run_steps(3);
    h.get_by_label("co-teaching").click();
    h.run_steps(3);
    let c = h.state().state.settings.config.clone();
    assert_eq!(c.coteach, Some(CoTeach::default()));
    assert!(!c.restore, "co-teaching does not combine with the restore");
    c.validate().unwrap();
    // Augmentation stays off; the row below co-teaching sets it.
    let augment = |h: &Harness<'_, App>| h.state().state.settings.config.augment;
    assert!(augment(&h).is_off());
    h.get_by_label("shift").click();
    h.run_steps(3);
    assert_eq!(augment(&h), Augment::SHIFT);
    // Label smoothing sits beside co-teaching in the menu, at 0.1 by default; typing a value
    // sets it.
    let smoothing =
        |h: &Harness<'_, App>| h.state().state.settings.config.coteach.unwrap().smoothing;
    assert_eq!(smoothing(&h), CoTeach::SMOOTHING);
    h.get_by_label("label smoothing").click();
    h.run_steps(2);
    h.get_by_label("label smoothing").type_text("0.05");
    h.key_press(egui::Key::Enter);
    h.run_steps(3);
    assert_eq!(smoothing(&h), 0.05);
    h.get_by_label("shift + flip").click();
    h.run_steps(3);
    assert_eq!(
        augment(&h),
        Augment {
            shift: 2,
            flip: true
        }
    );
    h.get_by_label("augment training images");
    // The last "off" in the menu: label-noise correction's comes first.
    h.get_all_by_label("off").last().unwrap().click();
    h.run_steps(3);
    assert!(augment(&h).is_off());
    h.key_press(egui::Key::Escape);
    h.run_steps(3);
    // Its schedule takes the place of ITLM's rounds on the settings row.
    h.get_by_label("ramp");
    assert!(h.query_by_label("rounds").is_none());
    assert!(h.query_by_label("final epochs").is_none());
    // Pseudo-labels are off by default, and the checkbox beside the ramp turns them on and off.
    let pseudo = |h: &Harness<'_, App>| h.state().state.settings.config.coteach.unwrap().pseudo;
    assert_eq!(pseudo(&h), None);
    h.get_by_label("pseudo-labels").click();
    h.run_steps(3);
    assert_eq!(pseudo(&h), Some(CoTeach::PSEUDO));
    h.get_by_label("pseudo-labels").click();
    h.run_steps(3);
    assert_eq!(pseudo(&h), None);
    let mut s = h.state().state.settings.clone();
    s.config.coteach = Some(CoTeach {
        epochs: 3,
        ramp: 1,
        pseudo: None,
        smoothing: 0.1,
    });
    h.state_mut().state.settings = s;
    h.get_by_label("Start").click();
    step_until(&mut h, 300, "the run to finish", |a| {
        a.state
            .run
            .as_ref()
            .is_some_and(|r| r.status == RunStatus::Finished)
    });
    assert_eq!(h.state().state.rounds(), 3, "one round per epoch");
    let run = h.state().state.run.as_ref().unwrap();
    let n = run.history[0].len();
    assert_eq!(
        run.history[0].trained_on, n,
        "the first epoch trains on all"
    );
    assert!(run.history[2].trained_on < n, "later epochs on a share");
    assert!(
        run.learner_description
            .starts_with("co-teaching (3 epochs, ramp 1, label smoothing 0.1): two of mlp"),
        "{}",
        run.learner_description
    );
    h.run_steps(3);
    assert!(h
        .get_by_label("Retrain at this tau")
        .accesskit_node()
        .is_disabled());
    assert!(
        h.get_by_label("Step one round")
            .accesskit_node()
            .is_disabled(),
        "a finished co-teaching run cannot step on from its cut"
    );
}

/// Heavy random label noise after round 0 (on 5 classes, 60% of the labels confidently
/// predicted as another class, spread over the other four): the window offers co-teaching at
/// the tau the noise estimate leaves, and one click sets it up for the next run; not with a
/// head on embeddings chosen for the next run.
#[test]
fn heavy_random_noise_offers_coteaching_at_the_estimated_tau() {
    use itlm_inspector::export::RunFile;
    use itlm_inspector::itlm::CoTeach;
    let data = tempfile::tempdir().unwrap();
    for c in ["a", "b", "c", "d", "e"] {
        write_png_folder(data.path(), c, 20);
    }
    let out = tempfile::tempdir().unwrap();
    cli_run(data.path(), out.path(), &["--no-test"]);
    let mut run = RunFile::read(&out.path().join("run.itlm")).unwrap();
    let labels = run.dataset.labels.clone();
    let r0 = Arc::make_mut(&mut run.rounds[0]);
    r0.probs = labels
        .iter()
        .enumerate()
        .flat_map(|(i, &g)| {
            let q = if i % 5 < 3 {
                (g + 1 + ((i / 5) % 4) as u32) % 5
            } else {
                g
            };
            (0..5u32).map(move |c| if c == q { 0.9 } else { 0.025 })
        })
        .collect();
    let mut h = open_edited(out.path(), "random.itlm", &run);
    h.run_steps(3);
    let flipped = h.state().state.noise_estimate.unwrap();
    assert!(flipped > 0.3, "{flipped}");
    h.get_by_label_contains("random label noise: ");
    // Not for a head on embeddings (auto leaves heads to plain ITLM too).
    h.state_mut().state.settings.head = Some(itlm_inspector::learner::head::HeadKind::Linear);
    h.run_steps(3);
    assert!(h.query_by_label_contains("random label noise:").is_none());
    h.state_mut().state.settings.head = None;
    h.run_steps(3);
    h.get_by_label_contains("random label noise: ");
    let tau = ((1.0 - flipped) * 100.0).round() / 100.0;
    h.get_by_label(&format!("co-teaching at tau {tau:.2}"))
        .click();
    h.run_steps(3);
    let c = &h.state().state.settings.config;
    assert_eq!((c.coteach, c.tau), (Some(CoTeach::default()), tau));
    c.validate().unwrap();
    // Set up: the hint goes.
    assert!(h.query_by_label_contains("random label noise:").is_none());
}

/// Messages do not pile up over the panels: the latest three show, the older ones fold away
/// under "N earlier messages", and Dismiss all clears them.
#[test]
fn older_messages_fold_away() {
    let (_data, mut h) = loaded_harness();
    h.state_mut().state.messages.clear();
    for k in 0..5 {
        h.state_mut().state.info(format!("message number {k}"));
    }
    h.run_steps(2);
    h.get_by_label("2 earlier messages");
    assert!(h.query_by_label_contains("message number 1").is_none());
    for k in 2..5 {
        h.get_by_label_contains(&format!("message number {k}"));
    }
    h.get_by_label("2 earlier messages").click();
    h.run_steps(2);
    h.get_by_label_contains("message number 0");
    h.get_by_label("Dismiss all").click();
    h.run_steps(2);
    assert!(h.state().state.messages.is_empty());
}

/// "Accept predicted" on a selection relabels each sample to its own predicted class in one
/// step: one Ctrl+Z takes all of them back (it had been one step per class).
#[test]
fn accepting_the_predictions_of_a_selection_is_one_undo_step() {
    use itlm_inspector::session::decisions::Decision;
    let (_data, _saves, mut h) = saving_harness();
    finish_run(&mut h);
    let rec = h.state().state.record().unwrap().clone();
    let train = h.state().state.data.as_ref().unwrap().train.clone();
    let trimmed = h.state_mut().state.lists().unwrap().trimmed.clone();
    // Trimmed samples the model calls another class, two predicted classes at least.
    let mut chosen: Vec<usize> = Vec::new();
    let mut classes = std::collections::BTreeSet::new();
    for &i in &trimmed {
        let p = rec.predicted[i];
        if p != train.label(i) && (classes.insert(p) || chosen.len() < 3) {
            chosen.push(i);
        }
    }
    assert!(classes.len() >= 2, "{classes:?}");
    for &i in &chosen {
        h.get_by_label_contains(&format!("sample {i}: "))
            .click_modifiers(egui::Modifiers::COMMAND);
    }
    h.run_steps(2);
    h.get_by_label(&format!("{} selected", chosen.len()));
    h.get_by_label("Accept predicted").click();
    h.run_steps(2);
    for &i in &chosen {
        assert_eq!(
            h.state().state.decision(i),
            Some(Decision::Relabel(rec.predicted[i]))
        );
    }
    h.key_press_modifiers(egui::Modifiers::COMMAND, egui::Key::Z);
    h.run_steps(2);
    for &i in &chosen {
        assert_eq!(h.state().state.decision(i), None, "sample {i}");
    }
}

/// A head on Lite0's embeddings is a classifier: the generative mode clears it and a VAE run
/// never trains one; continuing a run trains the run's own kind of learner whatever the model
/// list says now; another dataset starts without the head chosen for this one.
#[test]
fn the_head_choice_follows_the_mode_the_run_and_the_dataset() {
    use itlm_inspector::learner::head::HeadKind;
    let (data, mut h) = loaded_harness();
    let head_said = |h: &Harness<'_, App>| {
        h.state()
            .state
            .messages
            .iter()
            .any(|m| m.text.contains("head on EfficientNet-Lite0"))
    };
    // A CNN run, then the head chosen: retraining continues the CNN's rounds with a CNN.
    finish_run(&mut h);
    let model = h.state().state.run.as_ref().unwrap().learner.model;
    h.state_mut().state.settings.head = Some(HeadKind::Linear);
    h.run_steps(2);
    h.get_by_label("Retrain at this tau").click();
    h.run_steps(2);
    {
        let run = h.state().state.run.as_ref().unwrap();
        assert_eq!(run.head, None);
        assert_eq!(run.learner.model, model);
    }
    assert!(!head_said(&h), "{:?}", h.state().state.messages);
    h.state_mut().state.stop();
    h.run_steps(2);

    // The generative mode clears the head; a VAE started with one set trains no head.
    h.get_by_label("mode").click();
    h.run_steps(2);
    h.get_by_label("generative").click();
    h.run_steps(2);
    assert_eq!(h.state().state.settings.head, None);
    h.state_mut().state.settings.head = Some(HeadKind::Mlp);
    h.state_mut().state.start();
    h.run_steps(2);
    assert_eq!(h.state().state.run.as_ref().unwrap().head, None);
    assert!(!head_said(&h), "{:?}", h.state().state.messages);
    h.state_mut().state.stop();
    h.run_steps(2);

    // The head is remembered with the dataset's settings; another dataset starts without it.
    h.state_mut().state.settings.learner.model = model;
    h.state_mut().state.settings.head = Some(HeadKind::Linear);
    h.state_mut().state.settings.remember_for(data.path());
    let saved = h
        .state()
        .state
        .settings
        .saved_for(data.path())
        .unwrap()
        .head;
    assert_eq!(saved, Some(HeadKind::Linear));
    let other = tempfile::tempdir().unwrap();
    write_idx_set(other.path());
    h.state_mut()
        .state
        .open_path(other.path(), Default::default());
    step_until(&mut h, 60, "the other set", |a| {
        a.state
            .data
            .as_ref()
            .is_some_and(|d| d.path == other.path())
    });
    assert_eq!(h.state().state.settings.head, None);
    // Back to the first: its head again.
    h.state_mut()
        .state
        .open_path(data.path(), Default::default());
    step_until(&mut h, 60, "the first set", |a| {
        a.state.data.as_ref().is_some_and(|d| d.path == data.path())
    });
    assert_eq!(h.state().state.settings.head, Some(HeadKind::Linear));
}

/// A reopened run retrained in the window: the "Saved run" line says the shown run is
/// another now, with its rounds (it had kept reading as the saved run).
#[test]
fn a_reopened_run_retrained_says_the_shown_run_is_another() {
    use itlm_inspector::export::RunFile;
    let (_data, out, file) = saved_run(&[]);
    let mut h = open_edited(out.path(), "again.itlm", &RunFile::read(&file).unwrap());
    let saves = tempfile::tempdir().unwrap();
    h.state_mut().state.autosave.root = Some(saves.path().to_path_buf());
    h.run_steps(2);
    assert!(h.query_by_label_contains("retrained since").is_none());
    let rounds = h.state().state.rounds();
    h.get_by_label("Retrain at this tau").click();
    step_until(&mut h, 300, "the retrain", |a| {
        a.state
            .run
            .as_ref()
            .is_some_and(|r| r.status == RunStatus::Finished && r.history.len() > rounds)
    });
    h.run_steps(2);
    let n = h.state().state.rounds();
    h.get_by_label_contains(&format!(
        "retrained since: the shown run has {n} rounds, saved as"
    ));
}

/// A reopened run's learner becomes the window's choice: a head on Lite0's embeddings (named
/// by the run's learner description) is chosen again, so a retrain trains the head, not a CNN;
/// a run of a model from scratch clears a head chosen before.
#[test]
fn a_reopened_head_run_chooses_its_head_again() {
    use itlm_inspector::export::RunFile;
    use itlm_inspector::learner::head::HeadKind;
    let (_data, out, file) = saved_run(&[]);
    let mut h = open_edited(out.path(), "plain.itlm", &RunFile::read(&file).unwrap());
    assert_eq!(h.state().state.settings.head, None);
    let mut run = RunFile::read(&file).unwrap();
    run.learner_description =
        "mlp head on efficientnet-lite0 224px embeddings (fast CPU) (1280-d embeddings, hidden 256)"
            .into();
    let head_file = out.path().join("head.itlm");
    std::fs::write(&head_file, run.to_bytes().unwrap()).unwrap();
    let opened = |h: &mut Harness<'static, App>, f: &Path| {
        h.state_mut().state.open_path(f, Default::default());
        // This run, not the one open before (the open is asynchronous).
        step_until(h, 60, "the run to open", |a| {
            a.state
                .data
                .as_ref()
                .and_then(|d| d.reopened.as_ref())
                .is_some_and(|r| r.file == f)
                && a.state.record().is_some()
        });
        h.run_steps(3);
    };
    opened(&mut h, &head_file);
    assert_eq!(h.state().state.settings.head, Some(HeadKind::Mlp));
    h.get_by_value("mlp head on EfficientNet-Lite0");
    // The model from scratch, opened next in the same window: no head.
    opened(&mut h, &file);
    assert_eq!(h.state().state.settings.head, None);
    h.get_by_value("mlp");
}

/// The window's default reads tau from round 0 (the "from the data" box beside the slider):
/// the run says what it chose, every round's cut keeps that share, and the slider follows;
/// unticking the box, or moving the slider, sets tau yourself.
#[test]
fn the_run_reads_tau_from_the_data_and_the_slider_follows() {
    let (_data, mut h) = loaded_harness();
    h.state_mut().state.settings.config.tau_from_data = true;
    h.run_steps(2);
    h.get_by_label("from the data");
    h.get_by_label("Start").click();
    step_until(&mut h, 300, "the run to finish", |a| {
        a.state
            .run
            .as_ref()
            .is_some_and(|r| r.status == RunStatus::Finished)
    });
    let state = &h.state().state;
    // Round 0's model's confident joint over every sample (what the window's hint reads).
    let noise = state.noise_estimate.expect("round 0's noise estimate");
    // Exactly the share not contradicted on a set under 1000 samples, which the slider,
    // whose step is a hundredth, must neither snap to its grid nor read as a move.
    let tau = itlm_inspector::itlm::suggest::tau_leaving_of(noise, 240);
    assert_eq!(state.settings.config.tau, tau, "the slider follows the run");
    assert!(
        state.settings.config.tau_from_data,
        "the next run reads its own"
    );
    let run = state.run.as_ref().unwrap();
    assert_eq!(run.config.tau, tau);
    for r in &run.history {
        assert_eq!(r.tau, tau, "round {}", r.round);
        let kept = r.kept.iter().filter(|&&k| k).count();
        assert!(
            (kept as f64 - tau * 240.0).abs() <= 1.0,
            "round {}: {kept}",
            r.round
        );
    }
    assert!(
        state
            .messages
            .iter()
            .any(|m| m.text.starts_with(&format!("tau from the data: {tau:.2}"))),
        "messages: {:?}",
        state.messages
    );
    h.get_by_label("from the data").click();
    h.run_steps(2);
    assert!(!h.state().state.settings.config.tau_from_data);
    assert_eq!(
        h.state().state.settings.config.tau,
        tau,
        "tau stays where it was"
    );
}

/// A 24x24 colour image of its own noise (`seed`: distinct perceptual hashes, so no near
/// duplicates), bluer for `blue`.
fn noise_image(seed: u32, blue: bool) -> image::RgbImage {
    image::RgbImage::from_fn(24, 24, |x, y| {
        let mut h = (x * 73856093) ^ (y * 19349663) ^ (seed.wrapping_mul(83492791) + 1);
        h ^= h >> 13;
        h = h.wrapping_mul(0x5bd1e995);
        h ^= h >> 15;
        let v = (h % 200 + 40) as u8;
        image::Rgb([v, 255 - v, (v / 2 + 60 * blue as u8)])
    })
}

/// `img` near black: every value a seventh (the dark check flags it).
fn darkened(img: &image::RgbImage) -> image::RgbImage {
    image::RgbImage::from_fn(img.width(), img.height(), |x, y| {
        image::Rgb(img.get_pixel(x, y).0.map(|v| v / 7))
    })
}

/// A colour PNG folder of two classes of textured images, two of them dark and one stored
/// grey: the image checks run when it opens, the grid bar's "image issues" menu filters on
/// each kind, and the detail panel names a sample's issues with its score.
#[test]
fn image_checks_run_on_opening_and_filter_the_grid() {
    let data = tempfile::tempdir().unwrap();
    let root = data.path();
    let mut ids = Vec::new();
    for class in ["a", "b"] {
        std::fs::create_dir_all(root.join(class)).unwrap();
        for i in 0..12u32 {
            // Each image its own noise (distinct perceptual hashes: no near duplicates).
            let seed = i * 2 + (class == "b") as u32;
            let img = noise_image(seed, class == "b");
            let name = format!("{class}/{i:02}.png");
            let img = match (class, i) {
                // Dark: every value a seventh.
                ("a", 3) | ("b", 5) => darkened(&img),
                _ => img,
            };
            if (class, i) == ("b", 9) {
                image::imageops::grayscale(&img)
                    .save(root.join(&name))
                    .unwrap();
            } else {
                img.save(root.join(&name)).unwrap();
            }
            ids.push(name);
        }
    }
    let mut h = harness(root);
    step_until(&mut h, 60, "the image checks", |a| {
        a.state.image_checks.is_some()
    });
    no_errors(&h);
    let checks = h.state().state.image_checks.clone().unwrap();
    let train = h.state().state.data.as_ref().unwrap().train.clone();
    let flagged = |k: ImageIssue| -> Vec<&str> {
        (0..train.len())
            .filter(|&i| checks.issues.has(i, k))
            .map(|i| train.id(i))
            .collect()
    };
    assert_eq!(flagged(ImageIssue::Dark), vec!["a/03.png", "b/05.png"]);
    assert_eq!(flagged(ImageIssue::Grey), vec!["b/09.png"]);
    assert_eq!(checks.any_count, 3);
    // (24 px images: the blur and information checks, meant for photos, do not apply.)
    let note = "Image checks (CleanVision's): 3 of 24 images (2 dark, 1 grey in a colour set)";
    let msgs: Vec<String> = h
        .state()
        .state
        .messages
        .iter()
        .map(|m| m.text.clone())
        .collect();
    assert!(msgs.iter().any(|m| m.starts_with(note)), "{msgs:?}");
    h.get_by_label_contains(note);
    // After a round (the grids need a cut), the menu, then "dark (2)": the grid shows only
    // those two.
    finish_run(&mut h);
    h.get_by_label("image issues (3)").click();
    h.run_steps(2);
    h.get_by_label("dark (2)").click();
    h.run_steps(3);
    let within = h.state().state.filter.within.clone().expect("a filter");
    assert_eq!(within.name, "dark");
    assert_eq!(within.mask.iter().filter(|&&m| m).count(), 2);
    h.get_by_label("image: dark");
    // The detail of a dark image names the check and its score.
    let i = train.ids().iter().position(|s| s == "a/03.png").unwrap();
    h.state_mut().state.selected_sample = Some(i);
    h.run_steps(3);
    let score = checks.issues.score(i, ImageIssue::Dark).unwrap();
    assert!(score < 0.32, "{score}");
    h.get_by_label_contains(&format!("image: dark (score {score:.3})"));
}

/// The files a load skipped are listed under the dataset's line, a test split's under its
/// set's name (the window listed only the training set's).
#[test]
fn the_open_bar_lists_every_set_s_skipped_files() {
    let data = tempfile::tempdir().unwrap();
    for split in ["train", "test"] {
        for (c, name) in ["a", "b"].iter().enumerate() {
            let dir = data.path().join(split).join(name);
            std::fs::create_dir_all(&dir).unwrap();
            for i in 0..6u8 {
                image::GrayImage::from_fn(8, 8, |x, y| {
                    image::Luma([(x as u8 * 20) ^ (y as u8 * 7) ^ (i * 13 + c as u8 * 90)])
                })
                .save(dir.join(format!("{i}.png")))
                .unwrap();
            }
        }
    }
    std::fs::write(data.path().join("train/a/x-broken.png"), b"junk").unwrap();
    std::fs::write(data.path().join("test/b/t-broken.png"), b"junk").unwrap();
    let mut h = harness(data.path());
    step_until(&mut h, 60, "the dataset to load", |a| {
        a.state.data.is_some()
    });
    h.get_by_label_contains("test set: 12");
    h.get_by_label("2 skipped files").click();
    h.run_steps(3);
    h.get_by_label_contains("x-broken.png: ");
    let t = h.get_by_label_contains("t-broken.png: ");
    let label = t.accesskit_node().value().unwrap_or_default();
    assert!(label.starts_with("test set: "), "{label}");
}

/// A labels CSV opens in the window as a folder does (given as the path, as when typed or
/// dropped): its images under their labels, a broken row listed with its line.
#[test]
fn the_window_opens_a_labels_csv() {
    let data = tempfile::tempdir().unwrap();
    let dir = data.path().join("imgs");
    std::fs::create_dir_all(&dir).unwrap();
    let mut csv = String::from("file,class\n");
    for (c, name) in ["a", "b"].iter().enumerate() {
        for i in 0..6u8 {
            image::GrayImage::from_fn(8, 8, |x, y| {
                image::Luma([(x as u8 * 20) ^ (y as u8 * 7) ^ (i * 13 + c as u8 * 90)])
            })
            .save(dir.join(format!("{name}{i}.png")))
            .unwrap();
            csv.push_str(&format!("imgs/{name}{i}.png,{name}\n"));
        }
    }
    std::fs::write(dir.join("x-broken.png"), b"junk").unwrap();
    csv.push_str("imgs/x-broken.png,a\n");
    let file = data.path().join("labels.csv");
    std::fs::write(&file, csv).unwrap();
    let mut h = harness(&file);
    step_until(&mut h, 60, "the labels CSV to load", |a| {
        a.state.data.is_some()
    });
    let train = &h.state().state.data.as_ref().unwrap().train;
    assert_eq!((train.len(), train.classes.len()), (12, 2));
    assert_eq!(train.file(7), Some(dir.join("b1.png")));
    h.get_by_label("1 skipped file").click();
    h.run_steps(3);
    h.get_by_label_contains("x-broken.png: line 14: ");
    // The export's default folder is named after the CSV without its extension (it was a
    // folder called `labels.csv`).
    h.state_mut().begin_export(ExportWhat::All);
    let target = PathBuf::from(&h.state().export.target);
    let last = target.file_name().unwrap().to_string_lossy().into_owned();
    assert!(last == "labels" || last == "labels-itlm", "{target:?}");
    // A CSV with a generic name is titled after its folder.
    let folder = data
        .path()
        .file_name()
        .unwrap()
        .to_string_lossy()
        .into_owned();
    h.get_by_label(&format!("{folder} (labels.csv)"));
}

/// A labels CSV whose images are not beside it: the window says where it looked and that
/// the images' folder is given with --images (it said "no images found: ... no such file").
#[test]
fn a_csv_whose_images_are_elsewhere_says_where_it_looked() {
    let data = tempfile::tempdir().unwrap();
    let file = data.path().join("train.csv");
    std::fs::write(
        &file,
        "id,label
0a1b2c,cat
9f8e7d,dog
",
    )
    .unwrap();
    let mut h = harness(&file);
    step_until(&mut h, 60, "the load to fail", |a| {
        a.state.loading.is_none() && !a.state.messages.is_empty()
    });
    h.get_by_label_contains("none of the 2 files it lists is there");
    h.get_by_label_contains("give it with --images DIR");
}

/// After forward-corrected rounds, "Retrain at this tau" trains the next round plainly on the
/// slider's cut (the run's own rule would train every sample through the matrix, tau only
/// flagging, which the button did while saying otherwise); "Retrain forward-corrected"
/// continues as the run was going.
#[test]
fn retrain_at_tau_after_forward_rounds_trains_on_the_cut() {
    let data = tempfile::tempdir().unwrap();
    write_idx_set(data.path());
    let mut settings = tiny_settings();
    settings.config.transition = itlm_inspector::itlm::Forward::On;
    let mut s = AppState::headless(settings);
    s.open_path(data.path(), Default::default());
    let wait = poll_until;
    let finished = |s: &AppState| {
        s.run
            .as_ref()
            .is_some_and(|r| r.status == RunStatus::Finished)
    };
    wait(&mut s, "loading", &|s| s.data.is_some());
    s.start();
    wait(&mut s, "the forward-corrected run", &finished);
    let run = s.run.as_ref().unwrap();
    assert_eq!(run.history.len(), 3);
    assert!(!run.history[1].transition.is_empty(), "round 1 forward");
    assert_eq!(run.history[1].trained_on, N);
    s.select_round(1);
    assert!(s.continues_forward());
    s.set_tau(0.5);
    assert_eq!(s.cut().unwrap().kept_count, N / 2);
    let old = s.run.as_ref().unwrap().history[2].clone();
    s.retrain_at_tau();
    let renewed = |s: &AppState| {
        finished(s)
            && s.run
                .as_ref()
                .is_some_and(|r| r.history.len() == 3 && !Arc::ptr_eq(&r.history[2], &old))
    };
    wait(&mut s, "the retrained run", &renewed);
    let run = s.run.as_ref().unwrap();
    assert_eq!(run.history[2].trained_on, N / 2, "round 2 on the cut");
    assert!(run.history[2].transition.is_empty(), "plainly");
    assert!(s.messages.iter().all(|m| !m.error), "{:?}", s.messages);
    assert!(
        s.messages
            .iter()
            .any(|m| m.text.contains("without forward correction")),
        "{:?}",
        s.messages
    );
    // From round 1 again, forward-corrected: every sample through the matrix.
    s.select_round(1);
    assert!(s.continues_forward());
    let old = s.run.as_ref().unwrap().history[2].clone();
    s.retrain_forward();
    wait(&mut s, "the forward retrain", &|s| {
        finished(s)
            && s.run
                .as_ref()
                .is_some_and(|r| r.history.len() == 3 && !Arc::ptr_eq(&r.history[2], &old))
    });
    let run = s.run.as_ref().unwrap();
    assert_eq!(run.history[2].trained_on, N, "round 2 on every sample");
    assert!(!run.history[2].transition.is_empty(), "through the matrix");
    assert!(s.messages.iter().all(|m| !m.error), "{:?}", s.messages);
}

/// The detail panel says when the user's word overrides the cut (the exports and the next
/// run follow the decision; it read "decided: keep" beside "trimmed at tau 0.80").
#[test]
fn the_detail_panel_says_a_decision_overrides_the_cut() {
    let (_data, _saves, mut h) = saving_harness();
    finish_run(&mut h);
    let trimmed = h.state_mut().state.lists().unwrap().trimmed.clone();
    let a = trimmed[0];
    h.get_by_label_contains(&format!("sample {a}: ")).click();
    h.run_steps(2);
    h.get_by_label("trimmed at tau 0.80");
    h.get_by_label("Keep").click();
    h.run_steps(2);
    h.get_by_label("trimmed at tau 0.80, kept by your decision");
    // The grid bar says what the exports flag with the decision over the cut.
    h.get_by_label("Trimmed (48)");
    h.get_by_label("decided: 1 trimmed kept, 0 kept excluded; exports flag 47");
}

/// Relabelling a sample to the class it is labelled says its label is right: a keep (it was
/// journaled and counted as a relabel that changed nothing); in a selection, per sample.
#[test]
fn relabelling_to_the_given_class_is_a_keep() {
    use itlm_inspector::session::decisions::Decision;
    let (_data, mut h) = loaded_harness();
    let st = &mut h.state_mut().state;
    let labels = st.data.as_ref().unwrap().train.labels().to_vec();
    let a = (0..labels.len()).find(|&i| labels[i] == 1).unwrap();
    let b = (0..labels.len()).find(|&i| labels[i] == 2).unwrap();
    st.decide(&[a, b], Some(Decision::Relabel(1)));
    assert_eq!(st.decision(a), Some(Decision::Keep));
    assert_eq!(st.decision(b), Some(Decision::Relabel(1)));
    // One step: one undo takes both back.
    st.undo_decision();
    assert_eq!((st.decision(a), st.decision(b)), (None, None));
}

/// A labels CSV whose header names its columns otherwise (`img_file,y,split`): the load fails
/// and says why, the column picker offers the header's columns (none chosen: no guess fits),
/// refuses one column for both, and opens the set with the chosen two; the choice is
/// remembered for the file, so that opening it again needs no picking.
#[test]
fn a_csv_with_other_column_names_opens_through_the_column_picker() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(tmp.path().join("imgs")).unwrap();
    let mut text = String::from("img_file,y,split\n");
    for c in 0..3 {
        for i in 0..4 {
            let f = format!("imgs/{c}_{i}.png");
            common::cli::image_of(c, i)
                .save(tmp.path().join(&f))
                .unwrap();
            text.push_str(&format!("{f},k{c},train\n"));
        }
    }
    let csv = tmp.path().join("meta.csv");
    std::fs::write(&csv, text).unwrap();
    let mut h = harness(&csv);
    step_until(&mut h, 30, "the load to fail", |a| {
        a.state.loading.is_none() && a.state.columns_wanted.is_some()
    });
    h.get_by_label_contains("no path column");
    h.get_by_label_contains("Which of its 3 columns are they?");
    let open = |h: &Harness<'_, App>| {
        h.get_by_label("Open with these columns")
            .accesskit_node()
            .is_disabled()
    };
    assert!(open(&h), "nothing chosen yet");
    pick(&mut h, "image paths", "img_file");
    pick(&mut h, "labels", "img_file");
    assert!(open(&h), "one column for both");
    pick(&mut h, "labels", "y");
    assert!(!open(&h));
    h.get_by_label("Open with these columns").click();
    step_until(&mut h, 60, "the CSV to load", |a| {
        a.state.loading.is_none() && a.state.data.is_some()
    });
    h.get_by_label_contains("12 images, 3 classes");
    assert!(h.state().state.columns_wanted.is_none());
    assert!(h.query_by_label_contains("Which of its").is_none());
    let remembered = h.state().state.settings.columns_for(&csv);
    assert_eq!(
        (remembered.path.as_deref(), remembered.label.as_deref()),
        (Some("img_file"), Some("y"))
    );
    // Opened again: read with the remembered columns.
    h.state_mut().state.data = None;
    open_and_wait(&mut h, &csv, "the CSV to load again");
    assert_eq!(h.state().state.data.as_ref().unwrap().train.len(), 12);
}

// ------------------------------------------------------------------ the review card

/// A window of `size` opened on `path`, with the tiny settings, once the set is loaded.
fn sized_harness(path: &Path, size: egui::Vec2) -> Harness<'static, App> {
    let options = Options {
        path: Some(path.to_path_buf()),
        fresh_settings: true,
        ..Default::default()
    };
    let mut h = Harness::builder()
        .with_size(size)
        .build_eframe(move |cc| App::new(cc, options));
    h.state_mut().state.settings = tiny_settings();
    step_until(&mut h, 60, "the dataset to load", |a| {
        a.state.data.is_some()
    });
    h
}

/// Run to the end, then show the Review tab (Ctrl+4).
fn finish_and_review(h: &mut Harness<'_, App>) {
    use itlm_inspector::ui::command::Command;
    h.state_mut().apply(vec![Command::Start]);
    step_until(h, 300, "the run to finish", |a| {
        a.state
            .run
            .as_ref()
            .is_some_and(|r| r.status == RunStatus::Finished)
    });
    no_errors(h);
    h.key_press_modifiers(egui::Modifiers::COMMAND, egui::Key::Num4);
    h.run_steps(3);
    assert_eq!(
        h.state().state.tab,
        itlm_inspector::ui::view::GridTab::Review
    );
}

/// The labelled nodes of the review card (right of and below its "N of M reviewed" line),
/// with where they are.
fn card_labels(h: &Harness<'_, App>) -> Vec<(String, egui::Rect)> {
    let top = h.get_by_label_contains(" reviewed").rect();
    h.query_all_by_label_contains("")
        .filter_map(|n| {
            // A label's text is its node's value.
            let a = n.accesskit_node();
            let text = if a.role() == egui::Role::Label {
                a.value()
            } else {
                a.label()
            };
            Some((text?, n.rect()))
        })
        .filter(|(_, r)| r.left() >= top.left() - 1.0 && r.top() >= top.top() - 1.0)
        .collect()
}

#[test]
fn the_review_cards_decisions_are_in_view_on_a_laptop_screen() {
    let data = tempfile::tempdir().unwrap();
    write_idx_set(data.path());
    for (w, ht) in [(1280.0, 800.0), (1366.0, 768.0)] {
        let mut h = sized_harness(data.path(), egui::vec2(w, ht));
        finish_and_review(&mut h);
        // The header at its tallest: three notes above the card.
        for k in 0..3 {
            h.state_mut().state.info(format!(
                "A note {k} that takes a line of the window's header."
            ));
        }
        h.run_steps(3);
        let status = h
            .get_by_label_contains("Review: K keep, X exclude")
            .rect()
            .top();
        assert!(status <= ht, "{w}x{ht}: status bar at {status}");
        for button in ["Keep (K)", "Exclude (X)", "Relabel", "< Previous", "Next >"] {
            let r = h.get_by_label(button).rect();
            assert!(
                r.top() >= 0.0 && r.bottom() <= status,
                "{w}x{ht}: {button} at {r:?}, below the fold (status bar at {status})"
            );
        }
        // The image fits the height left, no smaller than 120 px.
        let i = h.state().review.current.expect("a sample shown");
        let img = h.get_by_label(&format!("review sample {i}")).rect();
        assert!(
            img.width() >= 119.0 && img.width() <= 301.0,
            "{w}x{ht}: image {img:?}"
        );
        // The keys are still told.
        h.get_by_label_contains("K keep, X exclude, R accept the predicted class, 0-9 relabel");
    }
}

#[test]
fn a_new_run_starts_the_review_queue_again_at_its_first_sample() {
    use itlm_inspector::ui::command::Command;
    let (_data, mut h) = loaded_harness();
    finish_and_review(&mut h);
    let first = h.state().review.current.expect("a sample shown");
    for _ in 0..3 {
        h.key_press(egui::Key::ArrowRight);
        h.run_steps(2);
    }
    let moved = h.state().review.current.expect("a sample shown");
    assert_ne!(moved, first);
    let n = h.state_mut().state.lists().unwrap().trimmed.len();
    h.get_by_label(&format!("4 of {n}: sample {moved}"));
    // Another run, same set: its queue starts at its own first sample, not at the last run's.
    h.state_mut().apply(vec![Command::Start]);
    step_until(&mut h, 300, "the second run to finish", |a| {
        a.state
            .run
            .as_ref()
            .is_some_and(|r| r.status == RunStatus::Finished && r.history.len() == 3)
    });
    h.run_steps(3);
    let q = h.state_mut().state.lists().unwrap().trimmed.clone();
    assert_eq!(h.state().review.current, Some(q[0]));
    h.get_by_label(&format!("0 of {} reviewed", q.len()));
    h.get_by_label(&format!("1 of {}: sample {}", q.len(), q[0]));
}

#[test]
fn the_review_card_lists_the_classes_with_their_keys_and_whole_names() {
    let root = tempfile::tempdir().unwrap();
    let classes = ["andromeda", "hubble_deep_field", "whirlpool_galaxy_m51"];
    for (c, name) in classes.iter().enumerate() {
        let dir = root.path().join(name);
        std::fs::create_dir_all(&dir).unwrap();
        for i in 0..40usize {
            let img = image::GrayImage::from_fn(8, 8, |_, y| {
                image::Luma([if y as usize / 3 == c {
                    210
                } else {
                    20 + (i % 7) as u8
                }])
            });
            img.save(dir.join(format!("{i:03}.png"))).unwrap();
        }
    }
    let mut h = sized_harness(root.path(), egui::vec2(1280.0, 800.0));
    finish_and_review(&mut h);
    let card = card_labels(&h);
    for (c, name) in classes.iter().enumerate() {
        // The digit that relabels to it beside the class, and its name whole (it had been
        // cut to 16 characters, "hubble_deep_fiel").
        let digit = c.to_string();
        let key = card
            .iter()
            .find(|(l, _)| *l == digit)
            .unwrap_or_else(|| panic!("no key {c} on the card: {card:?}"))
            .1;
        assert!(
            card.iter().any(|(l, r)| l == name
                && (r.center().y - key.center().y).abs() < 4.0
                && r.left() > key.left()),
            "{name} beside its key {c}: {card:?}"
        );
    }
    // The digit relabels, as the list says.
    let i = h.state().review.current.unwrap();
    h.key_press(egui::Key::Num1);
    h.run_steps(2);
    assert_eq!(
        h.state().state.decision(i),
        Some(itlm_inspector::session::decisions::Decision::Relabel(1))
    );
}

#[test]
fn a_generative_runs_review_card_shows_the_given_label_and_the_loss_only() {
    let (_data, mut h) = loaded_harness();
    h.get_by_label("mode").click();
    h.run_steps(2);
    h.get_by_label("generative").click();
    h.run_steps(2);
    assert_eq!(h.state().state.settings.learner.model, ModelKind::Vae);
    finish_and_review(&mut h);
    let i = h.state().review.current.expect("a sample shown");
    let train = h.state().state.data.as_ref().unwrap().train.clone();
    let card = card_labels(&h);
    let given = format!("given {}", train.class_name(train.label(i)));
    assert!(card.iter().any(|(l, _)| *l == given), "{card:?}");
    assert!(
        card.iter()
            .any(|(l, _)| l.starts_with("loss ") && l.ends_with(" (round 2)")),
        "{card:?}"
    );
    assert!(card
        .iter()
        .any(|(l, _)| l.starts_with("loss over rounds: ")));
    for (l, _) in &card {
        for bad in ["predicted", "p(given)", "NaN", "Accept", "p("] {
            assert!(!l.contains(bad), "{bad:?} on the card: {l:?}");
        }
    }
    // The keys say what R does not, and R decides nothing.
    h.get_by_label_contains("Review: K keep, X exclude, 0-9 relabel");
    h.key_press(egui::Key::R);
    h.run_steps(2);
    assert_eq!(h.state().state.decision(i), None);
    assert_eq!(h.state().review.current, Some(i));
    // The digits still relabel.
    h.key_press(egui::Key::Num1);
    h.run_steps(2);
    assert_eq!(
        h.state().state.decision(i),
        Some(itlm_inspector::session::decisions::Decision::Relabel(1))
    );
}

/// The detail panel's sample takes the review queue's letter keys: K keeps it, X excludes it,
/// R accepts the shown round's predicted class where it differs from the given one (and does
/// nothing where it does not); each is journaled like a button's decision.
#[test]
fn the_detail_panels_sample_is_decided_with_the_review_keys() {
    use itlm_inspector::session::decisions::Decision;
    let (_data, _saves, mut h) = saving_harness();
    finish_run(&mut h);
    let rec = h.state().state.record().unwrap().clone();
    let train = h.state().state.data.as_ref().unwrap().train.clone();
    let agrees = (0..train.len())
        .find(|&i| rec.predicted[i] == train.label(i))
        .unwrap();
    let differs = (0..train.len())
        .find(|&i| rec.predicted[i] != train.label(i))
        .unwrap();
    let press = |h: &mut Harness<'_, App>, i: usize, key: egui::Key| {
        h.state_mut().state.select_sample(Some(i));
        h.run_steps(2);
        h.key_press(key);
        h.run_steps(2);
    };
    press(&mut h, agrees, egui::Key::K);
    assert_eq!(h.state().state.decision(agrees), Some(Decision::Keep));
    press(&mut h, agrees, egui::Key::X);
    assert_eq!(h.state().state.decision(agrees), Some(Decision::Exclude));
    press(&mut h, differs, egui::Key::R);
    assert_eq!(
        h.state().state.decision(differs),
        Some(Decision::Relabel(rec.predicted[differs]))
    );
    // R on a sample whose prediction is its label: nothing to accept.
    let other = (0..train.len())
        .find(|&i| i != agrees && rec.predicted[i] == train.label(i))
        .unwrap();
    press(&mut h, other, egui::Key::R);
    assert_eq!(h.state().state.decision(other), None);
    // Journaled: three rows after the header.
    let journal = h.state().state.decide.journal_path().expect("a journal");
    let rows = std::fs::read_to_string(journal).unwrap().lines().count();
    assert_eq!(rows, 4);
}

/// The compare window offers the runs the window saved of the shown dataset (not the shown
/// run itself): one click compares with it, no path to type.
#[test]
fn the_compare_window_offers_the_datasets_saved_runs() {
    let (_data, _saves, mut h) = saving_harness();
    finish_run(&mut h);
    let shown = h.state().state.autosave.file.clone().expect("saved");
    // An earlier run of the dataset saved beside it.
    let earlier = shown.with_file_name("run-000.itlm");
    std::fs::copy(&shown, &earlier).unwrap();
    h.state_mut().compare.open = true;
    h.run_steps(2);
    let name = |p: &Path| {
        format!(
            "{}/{}",
            p.parent().unwrap().file_name().unwrap().to_string_lossy(),
            p.file_name().unwrap().to_string_lossy()
        )
    };
    assert!(
        h.query_by_label(&name(&shown)).is_none(),
        "the shown run itself is not offered"
    );
    h.get_by_label(&name(&earlier)).click();
    h.run_steps(1);
    step_until(&mut h, 30, "the saved run to be read", |a| {
        !a.compare.busy() && (a.compare.other.is_some() || a.compare.error.is_some())
    });
    assert!(h.state().compare.error.is_none());
    assert_eq!(h.state().compare.path, earlier.display().to_string());
    h.get_by_label("Metrics of both runs");
}

/// The floored cut keeps more than tau's share where a class's floor adds samples: the
/// histogram says how many, and what tau's share is, so "kept" is not a surprise.
#[test]
fn the_histogram_says_what_the_class_floors_kept_beyond_tau() {
    use itlm_inspector::export::RunFile;
    use itlm_inspector::itlm::Selection;
    let (_data, out, file) = saved_run(&["--tau", "0.5"]);
    let mut run = RunFile::read(&file).unwrap();
    run.config.select = Selection::Floored;
    // Class 0 gets every highest score: the global cut at tau 0.5 keeps none of it and its
    // floor (ceil(0.25 n_0)) its lowest.
    let last = run.rounds.len() - 1;
    let labels = run.dataset.labels.clone();
    let r = std::sync::Arc::make_mut(&mut run.rounds[last]);
    for (i, s) in r.score.iter_mut().enumerate() {
        *s = if labels[i] == 0 {
            10.0 + i as f32
        } else {
            i as f32 / 1000.0
        };
    }
    let n = r.score.len();
    let n0 = labels.iter().filter(|&&l| l == 0).count();
    let share = (0.5 * n as f64).ceil() as usize;
    let global_kept0 = share.saturating_sub(n - n0);
    let floor = (0.25 * n0 as f64).ceil() as usize;
    assert!(
        global_kept0 < floor,
        "the test's scores must leave class 0 under its floor"
    );
    let saved = out.path().join("floored.itlm");
    std::fs::write(&saved, run.to_bytes().unwrap()).unwrap();
    // Opened as a user opens it (the harness's tiny settings would replace the run's own).
    let options = Options {
        path: Some(saved),
        fresh_settings: true,
        ..Default::default()
    };
    let mut h = Harness::builder()
        .with_size(egui::Vec2::new(1400.0, 950.0))
        .build_eframe(move |cc| App::new(cc, options));
    step_until(&mut h, 60, "the run file to open", |a| {
        a.state.data.is_some() && a.state.record().is_some()
    });
    no_errors(&h);
    let cut = h.state_mut().state.cut().unwrap();
    assert_eq!(cut.tau, 0.5);
    assert_eq!(cut.kept_count, share + floor - global_kept0);
    h.get_by_label_contains(&format!(
        "tau's share is {share}; the class floors kept {} more",
        floor - global_kept0
    ));
}

/// A flat folder of images (no class subfolders) opens as an unlabelled set: the summary
/// says so, the window chooses the generative mode and says why, the run ranks the images
/// by the VAE's loss, and a cell names no class.
#[test]
fn a_flat_folder_opens_unlabelled_in_the_generative_mode() {
    let data = tempfile::tempdir().unwrap();
    for i in 0..24u32 {
        image::GrayImage::from_fn(8, 8, |x, y| {
            image::Luma([((x * 29 + y * 7 + i * 13) % 256) as u8])
        })
        .save(data.path().join(format!("img{i:02}.png")))
        .unwrap();
    }
    // (Opened once the tiny settings are in place: the harness sets them after the start.)
    let mut h = harness(&PathBuf::from("/nonexistent/itlm-dataset"));
    step_until(&mut h, 30, "the first load to fail", |a| {
        a.state.loading.is_none()
    });
    open_and_wait(&mut h, data.path(), "the flat folder to load");
    h.get_by_label_contains("24 images, unlabelled");
    h.get_by_label_contains("Unlabelled set (images directly in its folder");
    assert_eq!(h.state().state.settings.learner.model, ModelKind::Vae);
    // The settings' classifier is kept for the way back to the classify mode.
    assert_eq!(h.state().state.settings.classifier, ModelKind::Mlp);
    h.get_by_label("Start").click();
    step_until(&mut h, 300, "the generative run to finish", |a| {
        a.state
            .run
            .as_ref()
            .is_some_and(|r| r.status == RunStatus::Finished)
    });
    assert_eq!(h.state().state.rounds(), 3, "rounds 0, 1 and 2");
    assert!(h.query_by_label_contains("(in ):").is_none());
    assert!(h.query_all_by_label_contains("sample ").count() > 0);
    // No given class to filter on (its one entry had no name).
    assert!(h.query_by_label("given").is_none());
    assert!(h.query_by_label("path").is_some(), "the grid bar is shown");
    // Back to a classifier: the run refuses, saying where labels come from.
    h.state_mut().state.settings.learner.model = ModelKind::Mlp;
    h.state_mut().state.start();
    step_until(&mut h, 60, "the classify run to refuse", |a| {
        a.state
            .messages
            .iter()
            .any(|m| m.text.contains("the set is unlabelled"))
    });
    h.run_steps(2);
    h.get_by_label_contains("--mode generative");
}

/// A grid cell's hover says which file it is, its given and predicted class, its loss and its
/// rank by score, on a cell with its image as on one without (it named the file only when the
/// cell had no image).
#[test]
fn a_grid_cells_hover_names_its_file_classes_loss_and_rank() {
    let data = tempfile::tempdir().unwrap();
    for c in ["a", "b"] {
        write_png_folder(data.path(), c, 20);
    }
    let mut h = harness(data.path());
    step_until(&mut h, 60, "the dataset to load", |a| {
        a.state.data.is_some()
    });
    h.get_by_label("Start").click();
    step_until(&mut h, 300, "the run to finish", |a| {
        a.state
            .run
            .as_ref()
            .is_some_and(|r| r.status == RunStatus::Finished)
    });
    no_errors(&h);
    step_until(&mut h, 30, "the thumbnails", |a| !a.thumbs.is_empty());
    let first = h.state_mut().state.lists().unwrap().trimmed[0];
    let (file, given, predicted, loss, n) = {
        let s = &h.state().state;
        let d = s.data.as_ref().unwrap();
        let rec = s.record().unwrap();
        (
            d.train.file(first).unwrap().display().to_string(),
            d.train.class_name(d.train.label(first)).to_string(),
            d.train.class_name(rec.predicted[first]).to_string(),
            rec.loss[first],
            d.train.len(),
        )
    };
    // The first trimmed sample is the one with the highest score: rank 1.
    h.get_by_label_contains(&format!("sample {first}: "))
        .hover();
    h.run_steps(60);
    h.get_by_label(&format!("sample {first}: {file}"));
    h.get_by_label(&format!("given {given}, predicted {predicted}"));
    h.get_by_label(&format!(
        "loss {loss:.4}: rank 1 of {n} by score (1 = most suspicious), round 2"
    ));
    h.get_by_label("trimmed at this cut");
}

/// A labels CSV whose images lie in another folder: the window asks where they are (it only
/// named the command line's --images), opens the CSV with the folder typed, remembers it for
/// the file, and a run of it, reopened, finds its images again.
#[test]
fn a_csv_whose_images_are_elsewhere_opens_with_the_folder_given_in_the_window() {
    let data = tempfile::tempdir().unwrap();
    let file = data.path().join("train.csv");
    let images = tempfile::tempdir().unwrap();
    let mut text = String::from("id,label\n");
    for c in 0..2 {
        for i in 0..12 {
            let id = format!("img{c}{i:02}");
            common::cli::image_of(c, i)
                .save(images.path().join(format!("{id}.png")))
                .unwrap();
            text.push_str(&format!("{id},k{c}\n"));
        }
    }
    std::fs::write(&file, text).unwrap();
    let mut h = harness(&file);
    let saves = tempfile::tempdir().unwrap();
    h.state_mut().state.autosave.root = Some(saves.path().to_path_buf());
    step_until(&mut h, 60, "the load to fail", |a| {
        a.state.loading.is_none() && a.state.images_wanted.is_some()
    });
    h.get_by_label_contains("none of the 24 files it lists is there");
    h.get_by_label(&format!(
        "None of the images train.csv lists is in {}. Which folder are they in?",
        data.path().display()
    ));
    assert!(h
        .get_by_label("Open with this folder")
        .accesskit_node()
        .is_disabled());
    h.get_by_role_and_label(egui::Role::TextInput, "images folder")
        .click();
    h.run_steps(1);
    h.get_by_role_and_label(egui::Role::TextInput, "images folder")
        .type_text(&images.path().display().to_string());
    h.run_steps(2);
    h.get_by_label("Open with this folder").click();
    step_until(&mut h, 60, "the CSV to load", |a| {
        a.state.loading.is_none() && a.state.data.is_some()
    });
    h.get_by_label_contains("24 images, 2 classes");
    // The summary says where the images are read from.
    h.get_by_label(&format!("images from {}", images.path().display()));
    assert!(h.state().state.images_wanted.is_none());
    assert!(h.query_by_label("Open with this folder").is_none());
    assert_eq!(
        h.state()
            .state
            .settings
            .columns_for(&file)
            .images
            .as_deref(),
        Some(images.path())
    );
    // A run of it, reopened: its images are found in the folder given.
    finish_run(&mut h);
    let run_file = h.state().state.autosave.file.clone().unwrap();
    h.state_mut().state.settings.csv_columns.clear();
    open_and_wait(&mut h, &run_file, "the run to reopen");
    let d = h.state().state.data.as_ref().unwrap();
    let r = d.reopened.as_ref().unwrap();
    assert_eq!(r.images_missing, None);
    assert_eq!(d.train.len(), 24);
}

/// Loose images beside one ordinary subfolder read as a labelled set of that one class: the
/// window says it cannot be classified and offers to read the folder as unlabelled images;
/// read so, every image under it is a sample, the generative mode is chosen, and the choice is
/// remembered for the folder and can be taken back from the summary line.
#[test]
fn a_folder_of_one_class_beside_loose_images_opens_as_unlabelled() {
    let data = tempfile::tempdir().unwrap();
    let root = data.path().join("flat");
    std::fs::create_dir_all(root.join("thumbnails")).unwrap();
    for i in 0..10 {
        common::cli::image_of(i % 3, i)
            .save(root.join(format!("p{i:02}.png")))
            .unwrap();
    }
    for i in 0..3 {
        common::cli::image_of(1, i)
            .save(root.join(format!("thumbnails/t{i}.png")))
            .unwrap();
    }
    let mut h = harness(&root);
    step_until(&mut h, 60, "the folder to load", |a| {
        a.state.loading.is_none() && a.state.data.is_some()
    });
    h.get_by_label_contains("one class cannot be classified");
    assert_eq!(h.state().state.data.as_ref().unwrap().train.len(), 3);
    // Offered by the note and on the summary line.
    let offers: Vec<_> = h.get_all_by_label("Open as unlabelled images").collect();
    assert_eq!(offers.len(), 2);
    offers[0].click();
    step_until(&mut h, 60, "the folder to load unlabelled", |a| {
        a.state.loading.is_none()
            && a.state
                .data
                .as_ref()
                .is_some_and(|d| d.train.is_unlabelled())
    });
    let d = h.state().state.data.as_ref().unwrap();
    assert_eq!(d.train.len(), 13);
    assert!(h.state().state.generative());
    assert!(h.state().state.settings.unlabelled_for(&root));
    h.get_by_label_contains("Read as unlabelled images (every image under the folder");
    // Opened again: read as chosen.
    open_and_wait(&mut h, &root, "the folder to load again");
    assert_eq!(h.state().state.data.as_ref().unwrap().train.len(), 13);
    // And back to the class folders.
    h.get_by_label("Read by class folders").click();
    step_until(&mut h, 60, "the folder to load by its classes", |a| {
        a.state.loading.is_none()
            && a.state
                .data
                .as_ref()
                .is_some_and(|d| !d.train.is_unlabelled())
    });
    assert!(!h.state().state.settings.unlabelled_for(&root));
    assert_eq!(h.state().state.data.as_ref().unwrap().train.len(), 3);
}

/// A set a classifier cannot train on (one class folder; an IDX set whose labels are all one
/// class, its other classes empty): Start is greyed with the reason beside it, the summary's
/// "Open as unlabelled images" stays offered where the folder holds loose images, and the
/// generative mode, which needs no labels, can start.
#[test]
fn a_set_of_fewer_than_two_classes_with_samples_cannot_start_a_classifier() {
    let data = tempfile::tempdir().unwrap();
    // One class folder and nothing else.
    let one = data.path().join("one");
    std::fs::create_dir_all(one.join("cats")).unwrap();
    for i in 0..8 {
        common::cli::image_of(i % 3, i)
            .save(one.join(format!("cats/c{i}.png")))
            .unwrap();
    }
    let mut h = harness(&one);
    step_until(&mut h, 60, "the folder to load", |a| {
        a.state.loading.is_none() && a.state.data.is_some()
    });
    assert!(h.get_by_label("Start").accesskit_node().is_disabled());
    assert!(h
        .get_by_label("Step one round")
        .accesskit_node()
        .is_disabled());
    h.get_by_label("needs 2 classes with samples, this set has 1");
    // The empty grid does not say "Press Start".
    h.get_by_label_contains("Sample grids: nothing to show. A classifier cannot train");
    assert!(h.query_by_label_contains("Press Start").is_none());
    h.get_by_label("Start").hover();
    h.run_steps(30);
    h.get_by_label_contains("only 1 class has samples ('cats')");
    // The hover names the other reading the set's line offers.
    h.get_by_label_contains("or \"Open as unlabelled images\" (the set's line)");
    h.get_by_label("Open as unlabelled images");
    // The generative mode needs no labels: it can start, and trains.
    h.get_by_label("mode").click();
    h.run_steps(2);
    h.get_by_label("generative").click();
    h.run_steps(2);
    assert!(!h.get_by_label("Start").accesskit_node().is_disabled());
    assert!(h
        .query_by_label("needs 2 classes with samples, this set has 1")
        .is_none());
    h.get_by_label("Start").click();
    step_until(&mut h, 120, "the VAE run to start", |a| {
        a.state.run.as_ref().is_some_and(|r| !r.history.is_empty())
    });
    h.state_mut().state.stop();

    // An IDX set whose every label is class 2: classes 0 and 1 are empty.
    let idx = data.path().join("idx");
    std::fs::create_dir_all(&idx).unwrap();
    let n = 40u32;
    let mut im = vec![0, 0, 8, 3];
    for d in [n, 8, 8] {
        im.extend_from_slice(&d.to_be_bytes());
    }
    im.extend((0..n * 64).map(|i| (i * 37 % 251) as u8));
    let mut lb = vec![0, 0, 8, 1];
    lb.extend_from_slice(&n.to_be_bytes());
    lb.extend(std::iter::repeat_n(2u8, n as usize));
    std::fs::write(idx.join("train-images-idx3-ubyte"), im).unwrap();
    std::fs::write(idx.join("train-labels-idx1-ubyte"), lb).unwrap();
    h.state_mut().state.settings = tiny_settings();
    open_and_wait(&mut h, &idx, "the IDX set to load");
    assert_eq!(
        h.state().state.data.as_ref().unwrap().train.num_classes(),
        3
    );
    assert!(h.get_by_label("Start").accesskit_node().is_disabled());
    h.get_by_label("needs 2 classes with samples, this set has 1");

    // One class folder beside loose images: Start greyed, the other reading still offered.
    let loose = data.path().join("loose");
    std::fs::create_dir_all(loose.join("thumbnails")).unwrap();
    for i in 0..6 {
        common::cli::image_of(i % 3, i)
            .save(loose.join(format!("p{i}.png")))
            .unwrap();
    }
    common::cli::image_of(1, 0)
        .save(loose.join("thumbnails/t0.png"))
        .unwrap();
    h.state_mut().state.settings = tiny_settings();
    open_and_wait(&mut h, &loose, "the folder to load");
    assert!(h.get_by_label("Start").accesskit_node().is_disabled());
    h.get_by_label("needs 2 classes with samples, this set has 1");
    assert_eq!(h.get_all_by_label("Open as unlabelled images").count(), 2);
    // A two-class set starts as before.
    let two = data.path().join("two");
    for c in 0..2 {
        std::fs::create_dir_all(two.join(format!("k{c}"))).unwrap();
        for i in 0..4 {
            common::cli::image_of(c, i)
                .save(two.join(format!("k{c}/i{i}.png")))
                .unwrap();
        }
    }
    open_and_wait(&mut h, &two, "the two-class folder to load");
    assert!(!h.get_by_label("Start").accesskit_node().is_disabled());
    assert!(h
        .query_by_label("needs 2 classes with samples, this set has 1")
        .is_none());
}

/// Scroll the widget labelled `label` into view (the left panel scrolls) and click it.
fn click_in_view(h: &mut Harness<'_, App>, label: &str) {
    h.get_by_label(label).scroll_to_me();
    h.run_steps(3);
    h.get_by_label(label).click();
}

/// A final model that barely learned the labels (a learning rate of 1e-9): the label-health
/// panel says its flagged figures mean little, as `run`, health.csv and the report do; a run
/// that learned has no caveat.
#[test]
fn label_health_says_when_the_model_barely_learned() {
    let (_data, mut h) = loaded_harness();
    h.state_mut().state.settings.learner.lr = 1e-9;
    h.get_by_label("Start").click();
    step_until(&mut h, 300, "the run to finish", |a| {
        a.state
            .run
            .as_ref()
            .is_some_and(|r| r.status == RunStatus::Finished)
    });
    h.run_steps(2);
    h.get_by_label_contains("Caveat: the final model barely learned the labels");
    h.state_mut().state.settings.learner.lr = 1e-3;
    h.get_by_label("Start").click();
    step_until(&mut h, 300, "the second run to finish", |a| {
        a.state
            .run
            .as_ref()
            .is_some_and(|r| r.status == RunStatus::Finished && r.learner.lr == 1e-3)
    });
    h.run_steps(2);
    assert!(h
        .query_by_label_contains("Caveat: the final model")
        .is_none());
}

/// The label-health panel under the confusion: on a set whose class 0 has a quarter of its
/// samples labelled 1, the worst class is 1, mostly predicted 0, and 1 -> 0 the top pair; a
/// click on the pair or the class filters the grid as a confusion cell does; the figures
/// follow the tau slider and the round shown.
#[test]
fn label_health_names_the_flipped_class_follows_the_cut_and_filters_the_grid() {
    let data = tempfile::tempdir().unwrap();
    // 20 of the 80 samples of class 0 labelled 1.
    write_idx_set_flipped(
        data.path(),
        |i, c| {
            if c == 0 && (i / 3) % 4 == 1 {
                1
            } else {
                c
            }
        },
    );
    let mut h = harness(data.path());
    h.state_mut().state.settings.config.epochs = 3.0;
    h.state_mut().state.settings.config.final_epochs = 3;
    // A cut near the noise: at 0.8 the 28 hardest of class 2 came before the flips' class.
    h.state_mut().state.settings.config.tau = 0.9;
    step_until(&mut h, 60, "the dataset to load", |a| {
        a.state.data.is_some()
    });
    h.get_by_label("Start").click();
    step_until(&mut h, 300, "the run to finish", |a| {
        a.state
            .run
            .as_ref()
            .is_some_and(|r| r.status == RunStatus::Finished)
    });
    let labels = |h: &Harness<'_, App>, part: &str| -> Vec<String> {
        h.query_all_by_label_contains(part)
            .filter_map(|n| n.accesskit_node().label())
            .collect()
    };
    let classes = |h: &Harness<'_, App>| -> Vec<String> {
        labels(h, "% flagged (")
            .into_iter()
            .filter(|l| !l.contains(" -> "))
            .collect()
    };
    let pairs = |h: &Harness<'_, App>| -> Vec<String> {
        labels(h, " flagged (")
            .into_iter()
            .filter(|l| l.contains(" -> "))
            .collect()
    };
    h.get_by_label_contains(
        "Label health, round 2 at tau 0.90: 90.0% of 240 samples not flagged (24 flagged",
    );
    let rows = classes(&h);
    assert_eq!(rows.len(), 3, "{rows:?}");
    assert!(
        rows[0].starts_with("1: ") && rows[0].contains("mostly predicted 0 ("),
        "{rows:?}"
    );
    let top = pairs(&h);
    assert!(top[0].starts_with("1 -> 0: "), "{top:?}");
    let count: usize = top[0]["1 -> 0: ".len()..]
        .split(' ')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    assert!(count >= 10, "most of the 20 flipped found: {top:?}");

    // The pair filters the grid as its confusion cell does.
    click_in_view(&mut h, &top[0]);
    h.run_steps(2);
    assert_eq!(h.state().state.filter.cell, Some((1, 0)));
    h.get_by_label(&format!("Trimmed (round 2): {count} samples"));
    // Again: the filter goes.
    click_in_view(&mut h, &top[0]);
    h.run_steps(2);
    assert_eq!(h.state().state.filter.cell, None);
    h.get_by_label("Trimmed (round 2): 24 samples");
    // The class: its flagged samples.
    let flagged: usize = rows[0]
        .split(" flagged (")
        .nth(1)
        .unwrap()
        .split(' ')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    click_in_view(&mut h, &rows[0]);
    h.run_steps(2);
    assert_eq!(h.state().state.filter.class, Some(1));
    h.get_by_label(&format!("Trimmed (round 2): {flagged} samples"));
    click_in_view(&mut h, &rows[0]);
    h.run_steps(2);
    assert_eq!(h.state().state.filter.class, None);

    // The slider's tau: the figures follow.
    h.get_by_role_and_label(egui::Role::Slider, "tau")
        .set_value_accesskit(0.5);
    h.run_steps(2);
    h.get_by_label_contains(
        "Label health, round 2 at tau 0.50: 50.0% of 240 samples not flagged (120 flagged",
    );
    let after = classes(&h);
    assert_eq!(after.len(), 3);
    // The worst class is another; class 2's figures moved.
    assert!(after[0].starts_with("2: "), "{rows:?} -> {after:?}");
    let of = |rows: &[String], c: &str| rows.iter().find(|r| r.starts_with(c)).cloned();
    assert_ne!(of(&rows, "2: "), of(&after, "2: "), "{rows:?} -> {after:?}");
    // The round shown.
    h.key_press(egui::Key::ArrowLeft);
    h.run_steps(2);
    h.get_by_label_contains("Label health, round 1 at tau 0.50:");
}

/// An opened labels CSV's images folder changes from its summary line: the picker, with the
/// folder in use typed in, reloads the CSV with the folder given and remembers it for the
/// file; a folder holding none of its files leaves the opened set as it was and asks again.
#[test]
fn an_opened_csvs_images_folder_changes_from_its_summary_line() {
    let data = tempfile::tempdir().unwrap();
    let file = data.path().join("train.csv");
    let (first, second, empty) = (
        tempfile::tempdir().unwrap(),
        tempfile::tempdir().unwrap(),
        tempfile::tempdir().unwrap(),
    );
    let mut text = String::from("id,label\n");
    for c in 0..2 {
        for i in 0..12 {
            let id = format!("img{c}{i:02}");
            let img = common::cli::image_of(c, i);
            img.save(first.path().join(format!("{id}.png"))).unwrap();
            // The second folder holds 8 of each class.
            if i < 8 {
                img.save(second.path().join(format!("{id}.png"))).unwrap();
            }
            text.push_str(&format!("{id},k{c}\n"));
        }
    }
    std::fs::write(&file, text).unwrap();
    let mut h = harness(&file);
    step_until(&mut h, 60, "the load to fail", |a| {
        a.state.loading.is_none() && a.state.images_wanted.is_some()
    });
    // Opened with its images folder given before.
    h.state_mut().state.images_wanted = None;
    h.state_mut().state.settings.set_columns(
        &file,
        itlm_inspector::data::labels_csv::Columns {
            images: Some(first.path().to_path_buf()),
            ..Default::default()
        },
    );
    open_and_wait(&mut h, &file, "the CSV to load");
    h.get_by_label_contains("24 images, 2 classes");
    h.get_by_label(&format!("images from {}", first.path().display()));
    let before = files_in(data.path());

    h.get_by_label("Change images folder...").click();
    h.run_steps(2);
    // Titled for a change, not as if the images were missing.
    h.get_by_label("Change the images folder");
    assert!(h.query_by_label("Where are the images?").is_none());
    h.get_by_label(&format!(
        "The images train.csv lists are read from {}. Which folder should they be read from?",
        first.path().display()
    ));
    // The folder in use is typed in.
    let field = h.get_by_role_and_label(egui::Role::TextInput, "images folder");
    assert_eq!(
        field.value().as_deref(),
        Some(first.path().display().to_string().as_str())
    );
    // (Cleared as a select-all would.)
    h.state_mut().images.folder = String::new();
    h.run_steps(1);
    h.get_by_role_and_label(egui::Role::TextInput, "images folder")
        .click();
    h.run_steps(1);
    h.get_by_role_and_label(egui::Role::TextInput, "images folder")
        .type_text(&second.path().display().to_string());
    h.run_steps(2);
    h.get_by_label("Open with this folder").click();
    step_until(&mut h, 60, "the CSV to reload", |a| {
        a.state.loading.is_none() && a.state.data.as_ref().is_some_and(|d| d.train.len() == 16)
    });
    h.get_by_label_contains("16 images, 2 classes");
    h.get_by_label(&format!("images from {}", second.path().display()));
    assert!(h.state().state.images_wanted.is_none());
    assert_eq!(
        h.state()
            .state
            .settings
            .columns_for(&file)
            .images
            .as_deref(),
        Some(second.path())
    );

    // A folder without its files: the set stays as it was, and the picker asks again.
    h.get_by_label("Change images folder...").click();
    h.run_steps(2);
    h.state_mut().images.folder = empty.path().display().to_string();
    h.run_steps(2);
    h.get_by_label("Open with this folder").click();
    step_until(&mut h, 60, "the load to fail", |a| {
        a.state.loading.is_none() && a.state.images_wanted.as_ref().is_some_and(|w| !w.change)
    });
    h.get_by_label_contains("none of the 24 files it lists is there");
    h.get_by_label(&format!(
        "None of the images train.csv lists is in {}. Which folder are they in?",
        empty.path().display()
    ));
    assert_eq!(h.state().state.data.as_ref().unwrap().train.len(), 16);
    h.get_by_label_contains("16 images, 2 classes");
    assert_eq!(
        files_in(data.path()),
        before,
        "nothing written beside the CSV"
    );
}

/// The grid's hover names the image checks a sample fails, as the detail view does: a dark
/// image its darkness and score, an exact copy the file it copies; a clean image no such line.
#[test]
fn the_grid_hover_names_a_samples_image_issues() {
    use itlm_inspector::ui::view::GridTab;
    let data = tempfile::tempdir().unwrap();
    let root = data.path();
    for class in ["a", "b"] {
        std::fs::create_dir_all(root.join(class)).unwrap();
        for i in 0..10u32 {
            let seed = i * 2 + (class == "b") as u32;
            let img = noise_image(seed, class == "b");
            let img = if (class, i) == ("a", 3) {
                darkened(&img)
            } else {
                img
            };
            img.save(root.join(format!("{class}/{i:02}.png"))).unwrap();
        }
    }
    // b/07.png the same file as a/07.png.
    std::fs::copy(root.join("a/07.png"), root.join("b/07.png")).unwrap();
    let mut h = harness(root);
    let saves = tempfile::tempdir().unwrap();
    h.state_mut().state.autosave.root = Some(saves.path().to_path_buf());
    step_until(&mut h, 60, "the image checks", |a| {
        a.state.image_checks.is_some()
    });
    finish_run(&mut h);
    let train = h.state().state.data.as_ref().unwrap().train.clone();
    let checks = h.state().state.image_checks.clone().unwrap();
    let index = |id: &str| train.ids().iter().position(|s| s == id).unwrap();
    // Hover sample `id`'s cell, alone in the grid (a path filter, its tab), and read the
    // hover's lines that start with "image: ".
    let hover = |h: &mut Harness<'_, App>, id: &str| -> Vec<String> {
        let i = index(id);
        h.state_mut().state.filter.path = id.to_string();
        let kept = h.state_mut().state.cut().unwrap().kept[i];
        h.state_mut().state.tab = if kept {
            GridTab::Kept
        } else {
            GridTab::Trimmed
        };
        // Away first: a tooltip shows after the pointer rests.
        h.get_by_label("Loss histogram").hover();
        h.run_steps(5);
        h.get_by_label_contains(&format!("sample {i}: ")).hover();
        h.run_steps(60);
        // The hover is up.
        h.get_by_label(&format!("sample {i}: {}", train.file(i).unwrap().display()));
        // (A tooltip's label carries its text as the node's value.)
        h.query_all_by_label_contains("image: ")
            .filter_map(|n| {
                let a = n.accesskit_node();
                a.label().or_else(|| a.value())
            })
            .collect()
    };
    let score = checks
        .issues
        .score(index("a/03.png"), ImageIssue::Dark)
        .unwrap();
    assert_eq!(
        hover(&mut h, "a/03.png"),
        vec![format!("image: dark (score {score:.3})")]
    );
    let dup = hover(&mut h, "b/07.png");
    assert_eq!(dup.len(), 1, "{dup:?}");
    assert!(
        dup[0].starts_with("image: exact duplicate of a/07.png"),
        "{dup:?}"
    );
    assert_eq!(hover(&mut h, "a/05.png"), Vec::<String>::new());
}
