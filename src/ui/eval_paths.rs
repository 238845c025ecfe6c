//! Optional evaluation inputs of a dataset, as the CLI takes them: a test set (default: the test
//! split the data carries, e.g. IDX t10k files), a backdoor test-2 folder, and a truth.csv
//! (default: `<data>/truth.csv`). Typed or picked; they apply when a dataset is (re)opened.

use std::path::PathBuf;

use egui::{Color32, RichText};

use crate::data::Source;

use super::state::{AppState, DialogPurpose};

/// Which path field.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EvalField {
    Test,
    Test2,
    Truth,
}

/// The typed paths (empty = automatic / none).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct EvalPaths {
    pub test: String,
    pub test2: String,
    pub truth: String,
    /// Do not evaluate on the test split the data carries.
    pub no_test: bool,
}

fn path_of(s: &str) -> Option<PathBuf> {
    let s = s.trim();
    (!s.is_empty()).then(|| PathBuf::from(s))
}

impl EvalPaths {
    pub fn test(&self) -> Option<PathBuf> {
        path_of(&self.test)
    }

    pub fn test2(&self) -> Option<PathBuf> {
        path_of(&self.test2)
    }

    pub fn truth(&self) -> Option<PathBuf> {
        path_of(&self.truth)
    }

    pub fn field_mut(&mut self, f: EvalField) -> &mut String {
        match f {
            EvalField::Test => &mut self.test,
            EvalField::Test2 => &mut self.test2,
            EvalField::Truth => &mut self.truth,
        }
    }

    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }
}

/// How the test split a dataset carries is called.
pub fn auto_test_name(source: &Source) -> String {
    match source {
        Source::Idx { .. } => "the t10k files (auto)",
        Source::ImageFolder { .. } => "the test/ folder (auto)",
        Source::Cifar { .. } => "test_batch.bin (auto)",
        Source::Memory => "the data's test split (auto)",
    }
    .to_string()
}

/// The fields, their pickers, and "Reload with these" when they differ from what the open
/// dataset was loaded with.
pub fn eval_paths_ui(ui: &mut egui::Ui, state: &mut AppState) {
    let waiting = state.dialog.is_some();
    let mut pick = None;
    egui::Grid::new("eval_paths")
        .num_columns(3)
        .spacing([6.0, 3.0])
        .show(ui, |ui| {
            let rows = [
                (
                    EvalField::Test,
                    "test set",
                    "auto: the data's own test split (IDX t10k, test/ folder, CIFAR test_batch)",
                    "A held-out set (folder, IDX directory or file): test accuracy per round",
                ),
                (
                    EvalField::Test2,
                    "test-2 folder",
                    "auto: <data>-test2 when present (backdoor: stamped test images)",
                    "Watermarked test images labelled with the attack's target class: accuracy = attack success",
                ),
                (
                    EvalField::Truth,
                    "truth.csv",
                    "auto: <data>/truth.csv",
                    "Ground truth path,true_label[,kind]: scores the trimming, never used to train",
                ),
            ];
            for (field, name, hint, hover) in rows {
                let l = ui.label(name).on_hover_text(hover);
                ui.add(
                    egui::TextEdit::singleline(state.eval.field_mut(field))
                        .hint_text(hint)
                        // A grid cell offers last frame's column width, so desired_width
                        // alone never grows past the first layout: a minimum does.
                        .desired_width(420.0)
                        .min_size(egui::vec2(420.0, 0.0)),
                )
                .labelled_by(l.id);
                if ui
                    .add_enabled(!waiting, egui::Button::new("Browse..."))
                    .on_hover_text(format!("Pick the {name}"))
                    .clicked()
                {
                    pick = Some(field);
                }
                ui.end_row();
            }
        });
    if let Some(f) = pick {
        state.open_dialog(DialogPurpose::EvalPath(f));
    }
    ui.horizontal(|ui| {
        ui.checkbox(&mut state.eval.no_test, "no test set")
            .on_hover_text("Do not evaluate on the test split the data carries");
        let changed = state.eval_changed();
        if let Some(d) = state.data.as_ref() {
            let path = d.path.clone();
            if ui
                .add_enabled(changed, egui::Button::new("Reload with these"))
                .on_hover_text(format!(
                    "Open {} again with these test / test-2 / truth paths",
                    path.display()
                ))
                .on_disabled_hover_text("The open dataset already uses these paths")
                .clicked()
            {
                state.open_path(path);
            }
            if changed {
                let note = if state.run.as_ref().is_some_and(|r| !r.history.is_empty()) {
                    "changed: reload to apply (a reload discards the shown run unless it is a saved run file)"
                } else {
                    "changed: reload to apply"
                };
                ui.label(RichText::new(note).color(Color32::YELLOW).small());
            }
        } else {
            ui.label(
                RichText::new("They apply to the next dataset you open.")
                    .small()
                    .color(Color32::GRAY),
            );
        }
    });
}
