//! The inspection window (eframe): the app and one panel per file. The state lives in
//! [`state::AppState`], testable without a window; panels read it through a
//! [`command::View`] and return [`command::Command`]s that the app applies at the end of the
//! frame; functions that draw end in `_ui`. Slow work runs through [`pending::Pending`].
//!
//! Environment variables (for scripted runs and measurements):
//! - `ITLM_FRAME_STATS=path`: write frame time p50/p95 to `path` every 2 s and on exit;
//! - `ITLM_AUTOSTART=1`: start a run as soon as the dataset has loaded;
//! - `ITLM_LIMIT=N`: open a seeded random subset of N training samples;
//! - `ITLM_MODEL=cnn|mlp|vae`: the model of the next run;
//! - `ITLM_MODE=classify|generative`: the mode of the next run (generative = the VAE);
//! - `ITLM_WINDOW_SIZE=WxH`: the window's size at start;
//! - `ITLM_DATA_DIR=path`: where the runs the window trains are saved.
//!
//! The path given on the command line (or dropped, typed, picked) is a dataset or a saved run
//! file (`run.itlm`).

pub mod app;
pub mod column_pick;
pub mod command;
pub mod compare;
pub mod confusion;
pub mod controls;
pub mod coteach_hint;
pub mod detail;
pub mod dialogs;
pub mod embedding_map;
pub mod eval_paths;
pub mod export_menu;
pub mod forward_hint;
pub mod frame_stats;
pub mod generated;
pub mod grid;
pub mod grid_bar;
pub mod health;
pub mod histogram;
pub mod images_pick;
pub mod map_raster;
pub mod metrics;
pub mod more_menu;
pub mod open_bar;
pub mod pending;
pub mod review;
pub mod settings;
pub mod state;
pub mod thumbs;
pub mod timeline;
pub mod view;

use std::path::PathBuf;

pub use app::{App, Options};
pub use state::AppState;

/// Smallest tau the slider offers.
pub const TAU_MIN: f64 = 0.05;

/// The colour of a hint or warning line on the dark theme (amber); [`warn`] picks it by theme.
pub const WARN: egui::Color32 = egui::Color32::from_rgb(230, 180, 80);

/// The colour of a class the model predicts otherwise than the given label (grid captions,
/// their legend, the hover and the detail view).
pub const DIFFERS: egui::Color32 = egui::Color32::from_rgb(255, 110, 110);

/// A hint or warning line's colour, readable on the theme of `ui` (amber; darker on light).
pub fn warn(ui: &egui::Ui) -> egui::Color32 {
    if ui.visuals().dark_mode {
        WARN
    } else {
        egui::Color32::from_rgb(150, 90, 0)
    }
}

/// An accent (notes, filters in force), readable on the theme of `ui`: light blue on dark,
/// dark blue on light (light blue on white was unreadable).
pub fn accent(ui: &egui::Ui) -> egui::Color32 {
    if ui.visuals().dark_mode {
        egui::Color32::LIGHT_BLUE
    } else {
        egui::Color32::from_rgb(20, 70, 160)
    }
}

/// A good state's colour (running, finished), readable on the theme of `ui`.
pub fn good(ui: &egui::Ui) -> egui::Color32 {
    if ui.visuals().dark_mode {
        egui::Color32::LIGHT_GREEN
    } else {
        egui::Color32::from_rgb(20, 120, 40)
    }
}

/// The theme's strongest ink (white on dark, near-black on light): lines drawn over a plot.
pub fn ink(ui: &egui::Ui) -> egui::Color32 {
    ui.visuals().strong_text_color()
}

/// Where the left panel's height is kept for [`plot_height`] (set each frame by the panel).
fn plots_height_id() -> egui::Id {
    egui::Id::unique("itlm_plots_panel_height")
}

/// The left panel says how high it is this frame (before its plots are laid out).
pub fn set_plots_height(ctx: &egui::Context, height: f32) {
    ctx.data_mut(|d| d.insert_temp(plots_height_id(), height));
}

/// The histogram's and the metrics' full plot heights, and what their headers, legends and axes
/// take besides (about: the truth line, the rule's line and the legend rows come and go).
const PLOTS_FULL: f32 = 200.0 + 170.0;
const PLOTS_OVERHEAD: f32 = 190.0;

/// A plot's height in the left panel: `full` where the panel is high enough for the histogram
/// and the metrics at full height, less in a lower one (down to 60%), so that both fit the
/// panel together on a 1280x800 or 1366x768 screen (at full height the metrics fell below
/// the fold at 1366x768).
pub fn plot_height(ui: &egui::Ui, full: f32) -> f32 {
    let panel = ui
        .ctx()
        .data(|d| d.get_temp::<f32>(plots_height_id()))
        .unwrap_or(f32::INFINITY);
    (full * (panel - PLOTS_OVERHEAD) / PLOTS_FULL).clamp(full * 0.6, full)
}

/// Sample `i`'s line of the truth, as the review card and the detail panel show it: its kind
/// ("clean", "systematic", ...; empty where the truth has no row) and the line's colour, red
/// ([`histogram::BAD`]) for a truly bad sample, the theme's text colour for a clean one.
pub fn truth_line(
    ui: &egui::Ui,
    truth: &crate::data::truth::TruthInfo,
    i: usize,
) -> (String, egui::Color32) {
    let kind = truth.kind.get(i).cloned().unwrap_or_default();
    let bad = truth.bad.get(i).copied().unwrap_or(false);
    let colour = if bad {
        histogram::BAD
    } else {
        ui.visuals().text_color()
    };
    (kind, colour)
}

/// Where the demo set was at build time.
pub const BUILD_DEMO_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/assets/demo");

/// The demo set: next to the executable (`assets/demo`, or `../share/itlm-inspector/demo`),
/// else where the source tree had it at build time.
pub fn demo_dir() -> Option<PathBuf> {
    let mut candidates = Vec::new();
    if let Some(dir) = std::env::current_exe()
        .ok()
        .and_then(|e| e.parent().map(|p| p.to_path_buf()))
    {
        candidates.push(dir.join("assets/demo"));
        candidates.push(dir.join("../share/itlm-inspector/demo"));
    }
    candidates.push(PathBuf::from(BUILD_DEMO_DIR));
    candidates.into_iter().find(|p| p.is_dir())
}

/// Open the window on `path` (a dataset or a run file; default: the demo set). Returns when the window closes.
pub fn run(path: Option<PathBuf>) -> anyhow::Result<()> {
    let options = Options::from_env(path);
    // `ITLM_WINDOW_SIZE=1024x640`: the window's size at start (layout checks).
    let size = std::env::var("ITLM_WINDOW_SIZE")
        .ok()
        .and_then(|v| {
            let (w, h) = v.split_once('x')?;
            Some([w.trim().parse::<f32>().ok()?, h.trim().parse::<f32>().ok()?])
        })
        .unwrap_or([1500.0, 950.0]);
    let native = eframe::NativeOptions {
        viewport: egui::ViewportBuilder::default()
            .with_title("itlm-inspector")
            .with_app_id("itlm-inspector")
            .with_inner_size(size)
            .with_min_inner_size([800.0, 500.0])
            .with_drag_and_drop(true),
        ..Default::default()
    };
    eframe::run_native(
        "itlm-inspector",
        native,
        Box::new(move |cc| Ok(Box::new(App::new(cc, options)))),
    )
    .map_err(|e| anyhow::anyhow!("cannot open the window: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::truth::TruthInfo;

    /// The review card and the detail panel colour a sample's truth by this one function: red
    /// for a truly bad sample, the theme's text colour for a clean one or one without a row.
    #[test]
    fn the_truth_line_is_red_for_a_bad_sample_only() {
        let truth = TruthInfo {
            bad: vec![false, true],
            true_label: vec![Some(0), Some(1)],
            kind: vec!["clean".into(), "systematic".into()],
        };
        let ctx = egui::Context::default();
        for dark in [true, false] {
            ctx.set_visuals(if dark {
                egui::Visuals::dark()
            } else {
                egui::Visuals::light()
            });
            let _ = ctx.run_ui(Default::default(), |ui| {
                let text = ui.visuals().text_color();
                assert_eq!(truth_line(ui, &truth, 0), ("clean".into(), text));
                assert_eq!(
                    truth_line(ui, &truth, 1),
                    ("systematic".into(), histogram::BAD)
                );
                assert_eq!(truth_line(ui, &truth, 7), (String::new(), text));
            });
        }
    }
}
