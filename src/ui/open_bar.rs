//! Opening a dataset or a saved run: the folder / run file dialogs (off the UI thread), a typed
//! path, recent paths, the demo set, the summary of what was loaded, and the test / test-2 /
//! truth paths.

use egui::{Color32, RichText};

use super::command::{Command, Commands, DialogPurpose, View};
use super::eval_paths::EvalPaths;

/// The open row's own state: the typed path.
#[derive(Default)]
pub struct OpenBar {
    pub path_input: String,
}

impl OpenBar {
    pub fn ui(&mut self, ui: &mut egui::Ui, v: &View, out: &mut Commands) {
        open_bar_ui(ui, self, v, out);
    }
}

/// The open row: buttons, path field, and the loading spinner.
fn open_bar_ui(ui: &mut egui::Ui, bar: &mut OpenBar, v: &View, out: &mut Commands) {
    let state = v.state;
    ui.horizontal(|ui| {
        let waiting = v.dialog_open();
        if ui
            .add_enabled(!waiting, egui::Button::new("Open folder..."))
            .on_hover_text("Pick a dataset folder (class subfolders, IDX or CIFAR-10)")
            .clicked()
        {
            out.push(Command::OpenDialog(DialogPurpose::OpenFolder));
        }
        if ui
            .add_enabled(!waiting, egui::Button::new("Open run..."))
            .on_hover_text(
                "Open a saved run file (run.itlm, written by `run` or by Export), or a labels \
                 CSV (image paths and labels)",
            )
            .clicked()
        {
            out.push(Command::OpenDialog(DialogPurpose::OpenRun));
        }
        let label = ui.label("Path:");
        // Room for Open, Recent and Demo after the field, down to a 1024-point window.
        let width = (ui.available_width() - 190.0).clamp(120.0, 320.0);
        let edit = ui
            .add(
                egui::TextEdit::singleline(&mut bar.path_input)
                    .hint_text("dataset folder, labels CSV or run.itlm, or drop one")
                    .desired_width(width),
            )
            .labelled_by(label.id);
        let enter = edit.lost_focus() && ui.input(|i| i.key_pressed(egui::Key::Enter));
        if ui.button("Open").clicked() || enter {
            let p = bar.path_input.trim().to_string();
            out.push(Command::Open(p.into()));
        }
        ui.menu_button("Recent", |ui| {
            if state.settings.recent.is_empty() {
                ui.label("No recent folders");
            }
            let mut chosen = None;
            for p in &state.settings.recent {
                if ui.button(p.display().to_string()).clicked() {
                    chosen = Some(p.clone());
                    ui.close();
                }
            }
            if chosen.is_none()
                && !state.settings.recent.is_empty()
                && ui.button("Clear list").clicked()
            {
                let mut s = state.settings.clone();
                s.recent.clear();
                out.push(Command::Settings(Box::new(s)));
            }
            if let Some(p) = chosen {
                out.push(Command::Open(p));
            }
        });
        match super::demo_dir() {
            Some(d) => {
                if ui
                    .button("Demo")
                    .on_hover_text(d.display().to_string())
                    .clicked()
                {
                    out.push(Command::Open(d));
                }
            }
            None => {
                ui.add_enabled(false, egui::Button::new("Demo"))
                    .on_disabled_hover_text("The demo set is not installed (assets/demo)");
            }
        }
        if let Some(secs) = v.dialog_secs {
            ui.spinner();
            ui.label(format!("Waiting for the file dialog ({secs:.0} s)..."));
            if ui.button("Stop waiting").clicked() {
                out.push(Command::ForgetDialog);
            }
            ui.ctx()
                .request_repaint_after(std::time::Duration::from_millis(500));
        }
        if let Some(l) = &state.loading {
            ui.spinner();
            ui.label(l.status());
        }
    });
}

/// What was loaded: n, classes, image size, test sets, truth, skipped files.
pub fn summary_ui(ui: &mut egui::Ui, v: &View, out: &mut Commands) {
    let state = v.state;
    let Some(d) = &state.data else {
        if state.loading.is_none() {
            ui.label(
                RichText::new(
                    "No dataset open. Open a folder, type a path, or drop a folder on the window.",
                )
                .italics(),
            );
        }
        return;
    };
    let t = &d.train;
    // A reopened run without its images has stand-in pixels: the run knows the real size.
    let shape = match &d.reopened {
        Some(r) if r.images_missing.is_some() => r.run.dataset.shape,
        _ => t.shape,
    };
    ui.horizontal_wrapped(|ui| {
        ui.label(RichText::new(&t.name).strong());
        ui.label(format!(
            "{}, {}, {}x{}x{}",
            crate::plural(t.len(), "image"),
            t.classes_text(),
            shape.height,
            shape.width,
            shape.channels
        ));
        let from = |f: &Option<String>| f.as_ref().map_or(String::new(), |f| format!(" from {f}"));
        match &d.test {
            Some(x) => ui
                .label(format!("test set: {}", x.len()))
                .on_hover_text(format!("test set{}", from(&d.test_from))),
            None => ui.label("no test set"),
        };
        if let Some(x) = &d.test2 {
            ui.label(format!("test-2: {}", x.len()))
                .on_hover_text(format!("test-2 (attack success){}", from(&d.test2_from)));
        }
        match &d.bad {
            Some(b) => {
                let known = b.iter().filter(|&&x| x).count();
                // The run trained some bad samples under their true class (the user's
                // relabels): its figures count them clean.
                let trained = v
                    .state
                    .run
                    .as_ref()
                    .and_then(|r| r.bad.as_ref())
                    .map(|b| b.iter().filter(|&&x| x).count())
                    .filter(|&t| t < known);
                let text = match trained {
                    Some(t) => format!(
                        "truth: {known} known bad, {t} as the run trained them ({} fixed by your relabels)",
                        known - t
                    ),
                    None => format!("truth: {known} known bad"),
                };
                ui.label(RichText::new(text).color(super::warn(ui)))
                    .on_hover_text(format!("ground truth{}", from(&d.truth_from)))
            }
            None => ui.label("no truth.csv"),
        };
        // A labels CSV's images folder, which an opened CSV can change (a reopened run
        // reads its set as it was saved).
        let csv = match &t.source {
            crate::data::Source::LabelsCsv { file } if d.reopened.is_none() => Some(file),
            _ => None,
        };
        let root = t
            .columns
            .images
            .clone()
            .or_else(|| csv.map(|f| t.columns.root(f)));
        if let Some(dir) = root {
            ui.label(format!("images from {}", dir.display()))
                .on_hover_text("The folder the labels CSV's paths are read relative to");
        }
        if csv.is_some()
            && ui
                .small_button("Change images folder...")
                .on_hover_text(
                    "Read the CSV's images from another folder: the set is loaded again with \
                     it (a run shown is saved first), and the folder is remembered for the file",
                )
                .clicked()
        {
            out.push(Command::ChangeImagesFolder);
        }
        ui.label(format!("loaded in {:.1} s", d.load_secs));
        reading_ui(ui, v, out);
    });
    if let Some(r) = &d.reopened {
        ui.horizontal_wrapped(|ui| {
            ui.label(RichText::new("Saved run").strong().color(super::accent(ui)));
            ui.label(format!(
                "{}: {} rounds, {}, {} - {}",
                r.file.display(),
                r.run.rounds.len(),
                r.run.status,
                super::controls::secs(r.run.elapsed_secs),
                r.run.learner_description
            ));
            if let Some((round, tau, flagged)) = r.verdict {
                ui.label(format!(
                    "verdict: round {round} at tau {tau:.2}, {flagged} flagged"
                ));
            }
            // Retrained since it was opened: the shown run is another (it had read as the
            // saved one, with its old round count).
            let shown = v.state.run.as_ref().map(|run| run.history.len());
            if shown.is_some_and(|n| n != r.run.rounds.len())
                || v.state.run.as_ref().is_some_and(|run| run.is_live())
            {
                let saved = v
                    .state
                    .autosave
                    .file
                    .as_ref()
                    .map(|f| format!(", saved as {}", f.display()))
                    .unwrap_or_default();
                ui.label(
                    RichText::new(format!(
                        "- retrained since: the shown run has {} rounds{saved}",
                        shown.unwrap_or(0)
                    ))
                    .color(super::warn(ui)),
                );
            }
            match &r.images_missing {
                Some(why) => ui.label(
                    RichText::new(format!("no thumbnails: {why}")).color(Color32::LIGHT_RED),
                ),
                None => ui.label(format!(
                    "images from {}",
                    r.data_path
                        .as_ref()
                        .map_or("?".to_string(), |p| p.display().to_string())
                )),
            };
        });
    }
    // Every set's unreadable files, each under its set's name (a test set that lost images
    // scores less), and the notes.
    let sets: Vec<(&str, Vec<&crate::data::Skipped>)> = [
        ("", t.skipped.iter().collect::<Vec<_>>()),
        (
            "test set: ",
            d.test.iter().flat_map(|x| x.eval_skipped()).collect(),
        ),
        (
            "test-2: ",
            d.test2.iter().flat_map(|x| x.eval_skipped()).collect(),
        ),
    ]
    .into_iter()
    .filter(|(_, s)| !s.is_empty())
    .collect();
    let skipped: usize = sets.iter().map(|(_, s)| s.len()).sum();
    if skipped > 0 || !d.notes.is_empty() {
        let parts: Vec<String> = [(skipped, "skipped file"), (d.notes.len(), "note")]
            .into_iter()
            .filter(|(n, _)| *n > 0)
            .map(|(n, what)| crate::plural(n, what))
            .collect();
        egui::CollapsingHeader::new(parts.join(", "))
            .id_salt("skipped")
            .show(ui, |ui| {
                egui::ScrollArea::vertical()
                    .max_height(120.0)
                    .show(ui, |ui| {
                        for (what, list) in &sets {
                            for s in list.iter().take(500) {
                                ui.label(format!("{what}{}: {}", s.path.display(), s.reason));
                            }
                            if list.len() > 500 {
                                ui.label(format!("{what}... and {} more", list.len() - 500));
                            }
                        }
                        for n in &d.notes {
                            ui.label(n);
                        }
                    });
            });
    }
}

/// How an image folder is read, and the other way: by its class folders, or as unlabelled
/// images (every image under it, in no class), remembered for the folder.
fn reading_ui(ui: &mut egui::Ui, v: &View, out: &mut Commands) {
    let Some(d) = &v.state.data else { return };
    // A reopened run is read as it was.
    if !matches!(d.train.source, crate::data::Source::ImageFolder { .. }) || d.reopened.is_some() {
        return;
    }
    let chosen = v.state.settings.unlabelled_for(&d.path);
    if chosen {
        if ui
            .small_button("Read by class folders")
            .on_hover_text(
                "Read as unlabelled images, as you chose. Open it again with its subfolders \
                 as the classes",
            )
            .clicked()
        {
            out.push(Command::OpenUnlabelled(d.path.clone(), false));
        }
    } else if !d.train.is_unlabelled()
        // Offered where the folder's reading is in doubt: images beside its class folders,
        // or one class only (a labelled set of class folders keeps its line short).
        && (d.train.classes.len() == 1 || d.train.skipped.iter().any(|s| s.is_loose_image()))
        && ui
            .small_button("Open as unlabelled images")
            .on_hover_text(
                "Read every image under the folder (subfolders included) without labels: the \
                 generative mode ranks them, the image checks look at them",
            )
            .clicked()
    {
        out.push(Command::OpenUnlabelled(d.path.clone(), true));
    }
}

/// The test set, test-2 and truth paths, folded unless some are set.
pub fn eval_section_ui(ui: &mut egui::Ui, eval: &mut EvalPaths, v: &View, out: &mut Commands) {
    let d = v.state.data.as_ref();
    let mut parts = Vec::new();
    if let Some(d) = d {
        if let Some(f) = &d.test_from {
            parts.push(format!("test set {f}"));
        }
        if let Some(f) = &d.test2_from {
            parts.push(format!("test-2 {f}"));
        }
        if let Some(f) = &d.truth_from {
            parts.push(format!("truth {f}"));
        }
    }
    let title = if parts.is_empty() {
        "Evaluation data (test set, test-2, truth): none".to_string()
    } else {
        format!("Evaluation data: {}", parts.join("; "))
    };
    egui::CollapsingHeader::new(title)
        .id_salt("eval_paths_section")
        .default_open(!eval.is_empty() && v.state.data.is_none())
        .show(ui, |ui| eval.ui(ui, v, out));
}
