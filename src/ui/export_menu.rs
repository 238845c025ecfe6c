//! The Export menu and window: samples.csv, clean.txt, flagged.txt, the run file, or all of
//! them into a folder, with the CLI's writers and a verdict for the shown round at the slider's
//! tau. Target by dialog or typed path; asks before replacing; refuses the dataset folder.

use egui::{Color32, RichText};

use crate::export::Overwrite;

use super::state::{AppState, DialogPurpose, ExportWhat};

/// The menu button in the top bar.
pub fn export_menu_ui(ui: &mut egui::Ui, state: &mut AppState) {
    let ready = state.record().is_some();
    ui.add_enabled_ui(ready, |ui| {
        ui.menu_button("Export", |ui| {
            for w in ExportWhat::ALL {
                if ui.button(format!("{}...", w.title())).clicked() {
                    state.begin_export(w);
                    ui.close();
                }
            }
        })
        .response
        .on_disabled_hover_text("Export needs a finished round");
    });
}

/// The export window, while one is open.
pub fn export_window_ui(ctx: &egui::Context, state: &mut AppState) {
    let Some(what) = state.export.open else {
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
        .show(ctx, |ui| export_body_ui(ui, state, what));
    if !open {
        state.export.open = None;
        state.export.confirm = None;
    }
}

fn export_body_ui(ui: &mut egui::Ui, state: &mut AppState, what: ExportWhat) {
    if let Some(cut) = state.cut() {
        ui.label(format!(
            "Verdict: round {} cut at tau {:.2}: {} kept, {} flagged",
            cut.record.round, cut.tau, cut.kept_count, cut.trimmed_count
        ));
    }
    ui.horizontal(|ui| {
        let l = ui.label(if what == ExportWhat::All {
            "Folder:"
        } else {
            "File:"
        });
        ui.add(egui::TextEdit::singleline(&mut state.export.target).desired_width(360.0))
            .labelled_by(l.id);
        if ui
            .add_enabled(state.dialog.is_none(), egui::Button::new("Browse..."))
            .clicked()
        {
            state.open_dialog(DialogPurpose::ExportTarget(what));
        }
    });
    ui.label(
        RichText::new(
            "Never inside the dataset folder. Files are written to a temp file, then renamed.",
        )
        .small()
        .color(Color32::GRAY),
    );
    if let Some(existing) = state.export.confirm.clone() {
        ui.separator();
        ui.colored_label(
            Color32::YELLOW,
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
                state.export_now(Overwrite::Allow);
            }
            if ui.button("Cancel").clicked() {
                state.export.confirm = None;
            }
        });
        return;
    }
    ui.horizontal(|ui| {
        if state.exporting() {
            ui.spinner();
            ui.label("Writing...");
        } else if ui.button("Export now").clicked() {
            state.export_now(Overwrite::Refuse);
        }
        if ui.button("Cancel").clicked() {
            state.export.open = None;
        }
    });
}
