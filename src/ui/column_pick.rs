//! Which columns of a labels CSV hold the image paths and the labels, asked when a CSV's
//! header names them otherwise than the loader expects (`image_file,y`, a Kaggle set's
//! `id_code,diagnosis`): the header's columns in two lists, the loader's guesses chosen, and
//! "Open" reads the file with them ([`crate::data::labels_csv::Columns`], remembered for the
//! file as `--path-column` / `--label-column` are for a command).

use std::path::PathBuf;

use egui::RichText;

use crate::data::labels_csv::Columns;

use super::command::{Command, Commands, View};

/// A labels CSV the loader could not read for want of its columns ([`AppState::poll_loading`](super::state::AppState)).
#[derive(Clone, Debug, PartialEq)]
pub struct ColumnsWanted {
    pub path: PathBuf,
    /// The header's names as written.
    pub names: Vec<String>,
    /// The columns the loader found by name (None: none).
    pub path_col: Option<usize>,
    pub label_col: Option<usize>,
}

/// The picker's own choice, for the file it was made for.
#[derive(Default)]
pub struct ColumnPick {
    shown: Option<PathBuf>,
    path_col: Option<usize>,
    label_col: Option<usize>,
}

impl ColumnPick {
    /// The picker, while the state holds a CSV that wants its columns.
    pub fn ui(&mut self, ctx: &egui::Context, v: &View, out: &mut Commands) {
        let Some(w) = &v.state.columns_wanted else {
            self.shown = None;
            return;
        };
        if self.shown.as_ref() != Some(&w.path) {
            self.shown = Some(w.path.clone());
            self.path_col = w.path_col;
            self.label_col = w.label_col.filter(|&l| Some(l) != w.path_col);
        }
        let mut open = true;
        egui::Window::new("Which columns?")
            .id(egui::Id::unique("column_pick"))
            .open(&mut open)
            .collapsible(false)
            .resizable(false)
            .default_width(440.0)
            .pivot(egui::Align2::CENTER_TOP)
            .default_pos(ctx.content_rect().center_top() + egui::vec2(0.0, 120.0))
            .show(ctx, |ui| self.body_ui(ui, w, out));
        if !open {
            out.push(Command::ForgetColumns);
        }
    }

    fn body_ui(&mut self, ui: &mut egui::Ui, w: &ColumnsWanted, out: &mut Commands) {
        let file = w.path.file_name().map_or_else(
            || w.path.display().to_string(),
            |f| f.to_string_lossy().into_owned(),
        );
        ui.label(format!(
            "{file} has no column named as expected for the image paths or the labels. \
             Which of its {} columns are they?",
            w.names.len()
        ));
        ui.label(
            RichText::new(
                "Paths are relative to the CSV's folder. Every other column is carried into \
                 the corrected labels.csv an export writes.",
            )
            .small()
            .color(egui::Color32::GRAY),
        );
        ui.add_space(4.0);
        let name = |c: Option<usize>| {
            c.and_then(|c| w.names.get(c))
                .map_or("choose...".to_string(), |n| column_name(n))
        };
        egui::Grid::new("column_pick_grid")
            .num_columns(2)
            .spacing([8.0, 4.0])
            .show(ui, |ui| {
                for (what, choice) in [
                    ("image paths", &mut self.path_col),
                    ("labels", &mut self.label_col),
                ] {
                    let label = ui.label(what);
                    egui::ComboBox::from_id_salt(("column_pick", what))
                        .selected_text(name(*choice))
                        .width(220.0)
                        .show_ui(ui, |ui| {
                            for (k, n) in w.names.iter().enumerate() {
                                ui.selectable_value(choice, Some(k), column_name(n));
                            }
                        })
                        .response
                        .labelled_by(label.id);
                    ui.end_row();
                }
            });
        let chosen = match (self.path_col, self.label_col) {
            (Some(p), Some(l)) if p != l => Some((p, l)),
            _ => None,
        };
        let why = match (self.path_col, self.label_col) {
            (Some(p), Some(l)) if p == l => "the paths and the labels must be two columns",
            _ => "choose both columns",
        };
        ui.add_space(4.0);
        ui.horizontal(|ui| {
            let b = ui
                .add_enabled(
                    chosen.is_some(),
                    egui::Button::new("Open with these columns"),
                )
                .on_disabled_hover_text(why);
            if b.clicked() {
                if let Some((p, l)) = chosen {
                    out.push(Command::OpenWithColumns(
                        w.path.clone(),
                        Columns {
                            path: Some(w.names[p].clone()),
                            label: Some(w.names[l].clone()),
                            images: None,
                        },
                    ));
                }
            }
            if ui.button("Cancel").clicked() {
                out.push(Command::ForgetColumns);
            }
        });
    }
}

/// A column's name as listed (an empty header cell is named so).
fn column_name(n: &str) -> String {
    if n.is_empty() {
        "(unnamed)".to_string()
    } else {
        n.to_string()
    }
}
