//! Where a labels CSV's images are, asked when none of the files it lists is where its paths
//! point (a Kaggle `train.csv` beside `train_images/`), or when the user changes the folder of
//! an opened CSV set (its summary line's "Change images folder..."): a typed folder or the
//! system folder dialog, and "Open with this folder" reads the CSV with it
//! ([`crate::data::labels_csv::Columns::images`], remembered for the file as `--images` is
//! for a command, and kept in the run file, so that a reopened run finds the images again).

use std::path::PathBuf;

use egui::RichText;

use crate::data::labels_csv::Columns;

use super::command::{Command, Commands, DialogPurpose, View};

/// A labels CSV none of whose files was found ([`AppState::poll_loading`](super::state::AppState)).
#[derive(Clone, Debug, PartialEq)]
pub struct ImagesWanted {
    /// The CSV.
    pub path: PathBuf,
    /// The folder its paths were read relative to.
    pub tried: PathBuf,
    /// The columns it was read with (the folder picked is added to them).
    pub columns: Columns,
    /// Asked by the user for an opened set (its images were found in `tried`), not for a
    /// CSV none of whose files was found.
    pub change: bool,
}

/// The picker's own state: the typed folder, for the file it was shown for.
#[derive(Default)]
pub struct ImagesPick {
    shown: Option<PathBuf>,
    pub folder: String,
}

impl ImagesPick {
    /// The picker, while the state holds a CSV whose images were not found.
    pub fn ui(&mut self, ctx: &egui::Context, v: &View, out: &mut Commands) {
        let Some(w) = &v.state.images_wanted else {
            self.shown = None;
            return;
        };
        if self.shown.as_ref() != Some(&w.path) {
            self.shown = Some(w.path.clone());
            // The folder given before; the folder in use when changing it.
            self.folder = w
                .columns
                .images
                .as_ref()
                .or(w.change.then_some(&w.tried))
                .map(|p| p.display().to_string())
                .unwrap_or_default();
        }
        let mut open = true;
        // Asked by the user: the images were found, the folder is being changed.
        let title = if w.change {
            "Change the images folder"
        } else {
            "Where are the images?"
        };
        egui::Window::new(title)
            .id(egui::Id::unique("images_pick"))
            .open(&mut open)
            .collapsible(false)
            .resizable(false)
            .default_width(480.0)
            .pivot(egui::Align2::CENTER_TOP)
            .default_pos(ctx.content_rect().center_top() + egui::vec2(0.0, 120.0))
            .show(ctx, |ui| self.body_ui(ui, v, w, out));
        if !open {
            out.push(Command::ForgetImages);
        }
    }

    /// What opening the CSV of `w` with its images in `folder` is.
    pub fn with_folder(&self, w: &ImagesWanted, folder: PathBuf) -> Command {
        let folder = std::path::absolute(&folder).unwrap_or(folder);
        Command::OpenWithColumns(
            w.path.clone(),
            Columns {
                images: Some(folder),
                ..w.columns.clone()
            },
        )
    }

    fn body_ui(&mut self, ui: &mut egui::Ui, v: &View, w: &ImagesWanted, out: &mut Commands) {
        let file = w.path.file_name().map_or_else(
            || w.path.display().to_string(),
            |f| f.to_string_lossy().into_owned(),
        );
        ui.label(if w.change {
            format!(
                "The images {file} lists are read from {}. Which folder should they be read from?",
                w.tried.display()
            )
        } else {
            format!(
                "None of the images {file} lists is in {}. Which folder are they in?",
                w.tried.display()
            )
        });
        ui.label(
            RichText::new(
                "Its paths are read relative to the folder you give (an id without an \
                 extension is its one image file: 0a1b2c is 0a1b2c.jpg). The folder is \
                 remembered for this file and kept in its runs.",
            )
            .small()
            .color(egui::Color32::GRAY),
        );
        ui.add_space(4.0);
        let typed = PathBuf::from(self.folder.trim());
        let is_folder = !self.folder.trim().is_empty() && typed.is_dir();
        let mut open = false;
        ui.horizontal(|ui| {
            let label = ui.label("images folder");
            let edit = ui
                .add(
                    egui::TextEdit::singleline(&mut self.folder)
                        .hint_text("the folder holding the images")
                        .desired_width(300.0),
                )
                .labelled_by(label.id);
            open = edit.lost_focus() && ui.input(|i| i.key_pressed(egui::Key::Enter));
            if ui
                .add_enabled(!v.dialog_open(), egui::Button::new("Choose..."))
                .on_hover_text("Pick the folder in the system's dialog")
                .clicked()
            {
                out.push(Command::OpenDialog(DialogPurpose::ImagesFolder));
            }
        });
        if !self.folder.trim().is_empty() && !is_folder {
            ui.label(
                RichText::new(format!("{} is not a folder", typed.display()))
                    .color(super::warn(ui)),
            );
        }
        ui.add_space(4.0);
        ui.horizontal(|ui| {
            open |= ui
                .add_enabled(is_folder, egui::Button::new("Open with this folder"))
                .on_disabled_hover_text("Type or choose the folder the images are in")
                .clicked();
            if ui.button("Cancel").clicked() {
                out.push(Command::ForgetImages);
            }
        });
        if open && is_folder {
            out.push(self.with_folder(w, typed));
        }
    }
}
