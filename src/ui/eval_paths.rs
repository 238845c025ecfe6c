//! Optional evaluation inputs of a dataset, as the CLI takes them: a test set (default: the test
//! split the data carries, e.g. IDX t10k files), a backdoor test-2 folder, and a truth.csv
//! (default: `<data>/truth.csv`). Typed or picked; they apply when a dataset is (re)opened.

use std::path::PathBuf;

use egui::{Color32, RichText};

use crate::session::EvalInputs;

use super::command::{Command, Commands, DialogPurpose, EvalField, View};

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

    /// The paths as a load takes them (empty fields: automatic).
    pub fn inputs(&self) -> EvalInputs {
        EvalInputs {
            test: self.test(),
            no_test: self.no_test,
            test2: self.test2(),
            truth: self.truth(),
        }
    }

    /// The fields showing what a dataset was loaded with.
    pub fn show(inputs: &EvalInputs) -> Self {
        let text = |p: &Option<PathBuf>| {
            p.as_ref()
                .map_or(String::new(), |p| p.display().to_string())
        };
        Self {
            test: text(&inputs.test),
            test2: text(&inputs.test2),
            truth: text(&inputs.truth),
            no_test: inputs.no_test,
        }
    }

    /// Whether they differ from what the open dataset was loaded with.
    pub fn changed(&self, v: &View) -> bool {
        v.state
            .data
            .as_ref()
            .is_some_and(|d| d.eval != self.inputs())
    }

    /// The fields, their pickers, and "Reload with these" when they differ from what the open
    /// dataset was loaded with.
    pub fn ui(&mut self, ui: &mut egui::Ui, v: &View, out: &mut Commands) {
        eval_paths_ui(ui, self, v, out);
    }
}

fn eval_paths_ui(ui: &mut egui::Ui, eval: &mut EvalPaths, v: &View, out: &mut Commands) {
    let waiting = v.dialog_open();
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
                    egui::TextEdit::singleline(eval.field_mut(field))
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
        out.push(Command::OpenDialog(DialogPurpose::EvalPath(f)));
    }
    ui.horizontal(|ui| {
        ui.checkbox(&mut eval.no_test, "no test set")
            .on_hover_text("Do not evaluate on the test split the data carries");
        let changed = eval.changed(v);
        if let Some(d) = v.state.data.as_ref() {
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
                out.push(Command::Reload);
            }
            if changed {
                let note = if v.state.run.as_ref().is_some_and(|r| !r.history.is_empty()) {
                    "changed: reload to apply (a reload discards the shown run unless it is a saved run file)"
                } else {
                    "changed: reload to apply"
                };
                ui.label(RichText::new(note).color(super::warn(ui)).small());
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
