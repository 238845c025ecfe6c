//! The Export menu and window: samples.csv, clean.txt, flagged.txt, the run file, or all of
//! them into a folder, with the CLI's writers and a verdict for the shown round at the slider's
//! tau. Target by dialog or typed path; asks before replacing; refuses the dataset folder. The
//! panel owns the export window's state and the export being written.

use std::path::{Path, PathBuf};

use egui::{Color32, RichText};

use crate::export::{self, Overwrite, RunFile};

use super::command::{Command, Commands, DialogPurpose, ExportExtras, ExportWhat, Exported, View};
use super::pending::{Pending, Polled};
use super::state::AppState;

/// The export window's state and the export being written.
#[derive(Default)]
pub struct ExportPanel {
    pub open: Option<ExportWhat>,
    pub target: String,
    /// Files an export would replace, waiting for the user to confirm.
    pub confirm: Option<Vec<PathBuf>>,
    running: Option<Pending<Result<Exported, String>>>,
    pub last_written: Vec<PathBuf>,
    /// The clean folder puts the samples still flagged under `_flagged/`.
    pub flagged_folder: bool,
}

impl ExportPanel {
    /// Whether an export is being written.
    pub fn exporting(&self) -> bool {
        self.running.is_some()
    }

    /// Open the export window for `what` with a sensible default target outside every dataset
    /// folder: this dataset's last export folder, a sibling of the last export folder named
    /// after it, `~/itlm-inspector/<name>`, or `<name>-itlm` beside the dataset.
    pub fn begin(&mut self, what: ExportWhat, state: &AppState) {
        // (A set given as a labels CSV is named after its file: its folder here is named
        // without the extension, or the default target were a folder called `labels.csv`.)
        let name = state
            .data
            .as_ref()
            .map(|d| match &d.train.source {
                crate::data::Source::LabelsCsv { file } => file
                    .file_stem()
                    .map_or(d.train.name.clone(), |s| s.to_string_lossy().into_owned()),
                _ => d.train.name.clone(),
            })
            .unwrap_or_else(|| "dataset".into());
        let current = state.data.as_ref().map(|d| d.path.clone());
        let s = &state.settings;
        let mut candidates = Vec::new();
        match &s.export_dir {
            Some(dir) if current.is_some() && s.export_dataset == current => {
                candidates.push(dir.clone())
            }
            Some(dir) => candidates.push(dir.parent().unwrap_or(dir).join(&name)),
            None => {}
        }
        if let Some(home) = std::env::var_os("HOME") {
            candidates.push(PathBuf::from(home).join("itlm-inspector").join(&name));
        }
        if let Some(p) = &current {
            let beside = p.parent().unwrap_or(Path::new("."));
            candidates.push(beside.join(format!("{name}-itlm")));
        }
        let sources: Vec<crate::data::Source> = state
            .data
            .as_ref()
            .map(|d| {
                [Some(&d.train), d.test.as_ref(), d.test2.as_ref()]
                    .into_iter()
                    .flatten()
                    .map(|x| x.source.clone())
                    .collect()
            })
            .unwrap_or_default();
        let base = candidates
            .iter()
            .find(|c| export::check_outside_datasets(c, &sources).is_ok())
            .cloned()
            .unwrap_or_else(|| PathBuf::from(format!("{name}-itlm")));
        // Absolute: a relative folder (a typed one remembered) would land wherever the
        // window was started from.
        let base = std::path::absolute(&base).unwrap_or(base);
        let target = match (what.file_name(), what) {
            (Some(f), _) => base.join(f),
            (None, ExportWhat::CleanFolder) => base.join("cleaned"),
            (None, ExportWhat::FiftyOne) => base.join("fiftyone"),
            (None, _) => base,
        };
        self.open = Some(what);
        self.target = target.display().to_string();
        self.confirm = None;
    }

    /// Write the export the window describes, with `run` (the run at the shown cut). Refuses
    /// the dataset folder; asks before replacing files unless `overwrite` allows it. The
    /// writing runs on a thread.
    pub fn export_now(&mut self, overwrite: Overwrite, run: Option<RunFile>, state: &mut AppState) {
        let Some(what) = self.open else { return };
        let target = PathBuf::from(self.target.trim());
        if target.as_os_str().is_empty() {
            state.error("Export: type where to write.");
            return;
        }
        let Some(run) = run else {
            state.error("Export: no finished round yet.");
            return;
        };
        if let Err(e) = export::check_outside_datasets(&target, &run.dataset.sources()) {
            state.error(format!("Export refused: {e}"));
            return;
        }
        if overwrite == Overwrite::Refuse {
            let existing = what.existing(&target);
            if !existing.is_empty() {
                self.confirm = Some(existing);
                return;
            }
        }
        self.confirm = None;
        let dir = match what {
            ExportWhat::All => Some(target.clone()),
            _ => target.parent().map(Path::to_path_buf),
        };
        // The journal's copy goes with the folder's files, unless that folder holds the
        // journal itself (replacing it would cut the open journal off from its file).
        let journal = match (what, &state.data) {
            (ExportWhat::All, Some(d)) => {
                let copy = target.join(export::DECISIONS_CSV);
                let same = state
                    .decide
                    .journal_path()
                    .is_some_and(|j| export::same_file(&j, &copy));
                let bytes = if same {
                    None
                } else {
                    state.decide.journal_bytes(d.train.ids(), &d.train.classes)
                };
                match bytes {
                    Some(Err(e)) => {
                        state.error(format!("Export: the decisions could not be written: {e}"));
                        return;
                    }
                    b => b.and_then(Result::ok),
                }
            }
            _ => None,
        };
        let extras = ExportExtras {
            decisions: Some(state.decide.decisions.clone()),
            journal,
            flagged_folder: self.flagged_folder,
            // A reopened run whose images are gone has stand-in pixels: no thumbnails.
            images: state
                .data
                .as_ref()
                .filter(|d| d.has_images())
                .map(|d| d.train.clone()),
            image_checks: state.image_checks.as_ref().map(|c| c.issues.clone()),
            judged_at: state.data.as_ref().map(|d| d.judged_at()),
        };
        if let Some(d) = dir.filter(|d| !d.as_os_str().is_empty()) {
            state.settings.export_dir = Some(d);
            state.settings.export_dataset = state.data.as_ref().map(|d| d.path.clone());
        }
        let task = Pending::spawn("itlm-export", state.repaint(), move || {
            what.write(&target, &run, &extras)
                .map_err(|e| format!("Export failed: {e}"))
        });
        match task {
            Ok(t) => self.running = Some(t),
            Err(e) => state.error(format!("Cannot start the export: {e}")),
        }
    }

    /// Collect a finished export: its message for the window.
    pub fn poll(&mut self, state: &mut AppState) {
        let Some(task) = &self.running else { return };
        let r = match task.poll() {
            Polled::Waiting => return,
            Polled::Done(r) => r,
            Polled::Lost(why) => Err(format!("Export stopped unexpectedly: {why}")),
        };
        self.running = None;
        match r {
            Ok(done) => {
                state.info(format!(
                    "Exported {}",
                    done.report.unwrap_or_else(|| done
                        .files
                        .iter()
                        .map(|f| f.display().to_string())
                        .collect::<Vec<_>>()
                        .join(", "))
                ));
                self.last_written = done.files;
                self.open = None;
            }
            Err(e) => state.error(e),
        }
    }

    /// The menu button in the top bar.
    pub fn menu_ui(&mut self, ui: &mut egui::Ui, v: &View, out: &mut Commands) {
        let ready = v.state.record().is_some();
        ui.add_enabled_ui(ready, |ui| {
            ui.menu_button("Export", |ui| {
                for w in ExportWhat::ALL {
                    if ui.button(format!("{}...", w.title())).clicked() {
                        out.push(Command::BeginExport(w));
                        ui.close();
                    }
                }
            })
            .response
            .on_disabled_hover_text("Export needs a finished round");
        });
    }

    /// The export window, while one is open.
    pub fn window_ui(&mut self, ctx: &egui::Context, v: &View, out: &mut Commands) {
        let Some(what) = self.open else {
            return;
        };
        let mut open = true;
        egui::Window::new(format!("Export: {}", what.title()))
            .id(egui::Id::unique("export_window"))
            .open(&mut open)
            .collapsible(false)
            .resizable(false)
            .default_width(520.0)
            .pivot(egui::Align2::CENTER_TOP)
            .default_pos(ctx.content_rect().center_top() + egui::vec2(0.0, 120.0))
            .show(ctx, |ui| self.body_ui(ui, v, what, out));
        if !open {
            self.open = None;
            self.confirm = None;
        }
    }

    fn body_ui(&mut self, ui: &mut egui::Ui, v: &View, what: ExportWhat, out: &mut Commands) {
        if let Some(cut) = &v.cut {
            let counts = crate::ui::grid_bar::decided_cut(v.state, cut);
            // The cleanlab table marks label issues: relabelled samples are issues too.
            let decided = match (what, &counts) {
                (ExportWhat::Cleanlab, Some(d)) if d.issues != cut.trimmed_count => Some(format!(
                    "; with your decisions the table marks {} label issues (flagged and undecided, excluded or relabelled)",
                    d.issues
                )),
                (ExportWhat::Cleanlab, _) => None,
                _ => None,
            };
            let decided = decided
                .or_else(|| {
                    counts
                        .filter(|d| what != ExportWhat::Cleanlab && d.flagged != cut.trimmed_count)
                        .map(|d| {
                            format!(
                                "; with your decisions{} the exports flag {}",
                                if d.by_run > 0 {
                                    " and the run's relabels"
                                } else {
                                    ""
                                },
                                d.flagged
                            )
                        })
                })
                .unwrap_or_default();
            ui.label(format!(
                "Verdict: round {} cut at tau {:.2}: {} kept, {} flagged{decided}",
                cut.record.round, cut.tau, cut.kept_count, cut.trimmed_count
            ));
        }
        ui.horizontal(|ui| {
            let l = ui.label(if what.is_folder() { "Folder:" } else { "File:" });
            ui.add(egui::TextEdit::singleline(&mut self.target).desired_width(360.0))
                .labelled_by(l.id);
            if ui
                .add_enabled(!v.dialog_open(), egui::Button::new("Browse..."))
                .clicked()
            {
                out.push(Command::OpenDialog(DialogPurpose::ExportTarget(what)));
            }
        });
        let decided = v.state.decide.decisions.counts();
        match what {
            ExportWhat::All if decided.decided > 0 => {
                ui.label(format!("Your decisions apply: {decided}."));
                ui.label(
                    RichText::new(
                        "clean.txt and flagged.txt follow them (a sample you kept or relabelled is \
                         in clean.txt, one you excluded in flagged.txt); labels.csv and \
                         decisions.csv join the files, so the exported run reopens with them.",
                    )
                    .small(),
                );
            }
            ExportWhat::LabelsCsv
            | ExportWhat::CleanFolder
            | ExportWhat::CleanTxt
            | ExportWhat::FlaggedTxt
            | ExportWhat::Report
            | ExportWhat::Cleanlab
            | ExportWhat::FiftyOne
                if decided.decided > 0 =>
            {
                ui.label(format!("Your decisions apply: {decided}."));
            }
            ExportWhat::LabelsCsv | ExportWhat::CleanFolder => {
                ui.label("No decisions yet: the run's verdict alone.");
            }
            _ => {}
        }
        match what {
            ExportWhat::LabelsCsv => {
                ui.label(
                    RichText::new(
                        "path,label,given,decision,score,flagged,by per sample: label is the one to train \
                         with (the new one when relabelled, empty when excluded); by: user, or run \
                         for a relabel the run made itself that you left undecided.",
                    )
                    .small(),
                );
            }
            ExportWhat::CleanFolder => {
                ui.label(
                    RichText::new(
                        "A new folder of class folders: kept samples and the ones you kept, \
                         relabelled ones under their new class (hard links to the originals, \
                         PNGs for IDX/CIFAR); excluded ones left out.",
                    )
                    .small(),
                );
                ui.checkbox(
                    &mut self.flagged_folder,
                    "Put the samples still flagged (no decision) under _flagged/ instead of leaving them out",
                );
            }
            ExportWhat::Report => {
                ui.label(
                    RichText::new(
                        "One HTML file, nothing fetched: loss histograms with the cut, metrics \
                         over rounds, the confusion of the flagged samples, the top flagged \
                         thumbnails, your decisions and the settings.",
                    )
                    .small(),
                );
            }
            ExportWhat::Cleanlab => {
                ui.label(
                    RichText::new(
                        "path,is_label_issue,label_score,given_label,predicted_label per sample \
                         (cleanlab's Datalab label-issue columns; label_score = p(given)).",
                    )
                    .small(),
                );
                image_checks_note(
                    ui,
                    v,
                    "their columns (is_dark_issue, dark_score, ...) follow",
                );
            }
            ExportWhat::FiftyOne => {
                ui.label(
                    RichText::new(
                        "A new folder in FiftyOneImageClassificationDataset layout (data/ linked \
                         to the originals, labels.json with label tags flagged / excluded / \
                         relabelled); `python DIR/load_fiftyone.py` loads it with sample tags.",
                    )
                    .small(),
                );
                image_checks_note(
                    ui,
                    v,
                    "each issue found is a tag (dark, near_duplicates, ...)",
                );
            }
            _ => {}
        }
        ui.label(
            RichText::new(
                "Never inside the dataset folder. Files are written to a temp file, then renamed.",
            )
            .small()
            .color(Color32::GRAY),
        );
        if let Some(existing) = self.confirm.clone() {
            ui.separator();
            ui.colored_label(
                super::warn(ui),
                format!(
                    "{} already exist{}:",
                    existing.len(),
                    if existing.len() == 1 { "s" } else { "" }
                ),
            );
            for p in existing.iter().take(6) {
                ui.label(p.display().to_string());
            }
            ui.horizontal(|ui| {
                if ui.button("Replace").clicked() {
                    out.push(Command::ExportNow(Overwrite::Allow));
                }
                if ui.button("Cancel").clicked() {
                    self.confirm = None;
                }
            });
            return;
        }
        ui.horizontal(|ui| {
            if self.exporting() {
                ui.spinner();
                ui.label("Writing...");
            } else if ui.button("Export now").clicked() {
                out.push(Command::ExportNow(Overwrite::Refuse));
            }
            if ui.button("Cancel").clicked() {
                self.open = None;
            }
        });
    }
}

/// What the cleanlab and FiftyOne exports take from the image checks: `what` when they are
/// done, else why not.
fn image_checks_note(ui: &mut egui::Ui, v: &View, what: &str) {
    let text = match &v.state.image_checks {
        Some(c) => format!(
            "Image checks: {} of {} images with an issue; {what}.",
            c.any_count,
            c.issues.len()
        ),
        None if v.state.checking_images() => {
            "The image checks are still running: exported now, it goes without them.".into()
        }
        None => return,
    };
    ui.label(RichText::new(text).small());
}
