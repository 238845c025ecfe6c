//! The eframe app: drains background results in `logic`, lays the panels out in `ui`, handles
//! keys and dropped folders, measures frame times, and saves settings.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use egui::{Color32, RichText};

use crate::learner::ModelKind;

use super::detail::DetailTexture;
use super::frame_stats::FrameStats;
use super::generated::GeneratedTextures;
use super::settings::Settings;
use super::state::AppState;
use super::thumbs::Thumbs;
use super::{
    confusion, controls, detail, export_menu, generated, grid, histogram, metrics, open_bar,
    timeline,
};

/// How the window starts.
#[derive(Clone, Debug, Default)]
pub struct Options {
    /// Dataset to open (None: the demo set, when installed).
    pub path: Option<PathBuf>,
    /// Start a run when the dataset has loaded.
    pub autostart: bool,
    /// Subset size for this session (`Some(None)`: all samples); not saved.
    pub limit: Option<Option<usize>>,
    pub model: Option<crate::learner::ModelKind>,
    /// `ITLM_MODE`: generative picks the VAE, classify a classifier.
    pub mode: Option<crate::cli::Mode>,
    pub frame_stats: Option<PathBuf>,
    /// Ignore saved settings (tests).
    pub fresh_settings: bool,
}

impl Options {
    /// `path` plus the `ITLM_*` environment variables (see the module docs).
    pub fn from_env(path: Option<PathBuf>) -> Self {
        let var = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
        Self {
            path,
            autostart: var("ITLM_AUTOSTART").is_some_and(|v| v != "0"),
            limit: var("ITLM_LIMIT")
                .and_then(|v| v.parse::<usize>().ok())
                .map(|n| (n > 0).then_some(n)),
            model: var("ITLM_MODEL").and_then(|v| match v.as_str() {
                "cnn" => Some(crate::learner::ModelKind::Cnn),
                "mlp" => Some(crate::learner::ModelKind::Mlp),
                "vae" => Some(crate::learner::ModelKind::Vae),
                _ => None,
            }),
            mode: var("ITLM_MODE").and_then(|v| match v.as_str() {
                "classify" => Some(crate::cli::Mode::Classify),
                "generative" => Some(crate::cli::Mode::Generative),
                _ => None,
            }),
            frame_stats: var("ITLM_FRAME_STATS").map(PathBuf::from),
            fresh_settings: false,
        }
    }
}

pub struct App {
    pub state: AppState,
    pub thumbs: Thumbs,
    pub stats: FrameStats,
    detail_tex: DetailTexture,
    pub generated_tex: GeneratedTextures,
    tau_slider: egui::Id,
    /// Saved values that environment overrides replaced for this session, restored on save
    /// unless the user changed the setting in the window.
    saved_limit: Option<(Option<usize>, Option<usize>)>,
    saved_model: Option<(crate::learner::ModelKind, crate::learner::ModelKind)>,
}

impl App {
    pub fn new(cc: &eframe::CreationContext<'_>, options: Options) -> Self {
        let mut settings = if options.fresh_settings {
            Settings::default()
        } else {
            Settings::load(cc.storage)
        };
        let mut saved_limit = None;
        let mut saved_model = None;
        if let Some(l) = options.limit {
            saved_limit = Some((settings.limit, l));
            settings.limit = l;
        }
        let model = match options.mode {
            Some(crate::cli::Mode::Generative) => Some(ModelKind::Vae),
            Some(crate::cli::Mode::Classify) => match options.model {
                Some(ModelKind::Vae) | None if settings.learner.model == ModelKind::Vae => {
                    Some(settings.classifier)
                }
                m => m.filter(|&m| m != ModelKind::Vae),
            },
            None => options.model,
        };
        if let Some(m) = model {
            saved_model = Some((settings.learner.model, m));
            settings.learner.model = m;
        }
        let ctx = cc.egui_ctx.clone();
        let mut state = AppState::new(settings, Arc::new(move || ctx.request_repaint()));
        state.autostart = options.autostart;
        state.pinned_model = model;
        match options.path.or_else(super::demo_dir) {
            Some(p) => state.open_path(p),
            None => state.info(format!(
                "The demo set is not installed (looked next to the executable and in {}). \
                 Open a dataset folder, type its path, or drop it on the window.",
                super::BUILD_DEMO_DIR
            )),
        }
        Self {
            state,
            thumbs: Thumbs::default(),
            stats: FrameStats::new(options.frame_stats),
            detail_tex: DetailTexture::default(),
            generated_tex: GeneratedTextures::default(),
            tau_slider: egui::Id::NULL,
            saved_limit,
            saved_model,
        }
    }

    fn keys(&mut self, ctx: &egui::Context) {
        if ctx.egui_wants_keyboard_input() {
            return;
        }
        let slider_focused = ctx.memory(|m| m.focused() == Some(self.tau_slider));
        let (left, right, up, down, esc) = ctx.input(|i| {
            use egui::Key;
            (
                i.key_pressed(Key::ArrowLeft),
                i.key_pressed(Key::ArrowRight),
                i.key_pressed(Key::ArrowUp),
                i.key_pressed(Key::ArrowDown),
                i.key_pressed(Key::Escape),
            )
        });
        if !slider_focused {
            if left {
                self.state.step_round(-1);
            }
            if right {
                self.state.step_round(1);
            }
        }
        if self.state.selected_sample.is_some() {
            if up {
                self.state.step_sample(-1);
            }
            if down {
                self.state.step_sample(1);
            }
            if esc {
                self.state.select_sample(None);
            }
        } else if esc && self.state.export.open.is_some() {
            self.state.export.open = None;
        }
    }

    fn dropped(&mut self, ctx: &egui::Context) {
        let dropped: Option<PathBuf> =
            ctx.input(|i| i.raw.dropped_files.first().map(|f| f.path().to_path_buf()));
        if let Some(p) = dropped {
            self.state.open_path(p);
        }
    }

    fn training(&self) -> bool {
        self.state
            .run
            .as_ref()
            .is_some_and(|r| r.status == super::state::RunStatus::Running)
    }
}

impl eframe::App for App {
    fn logic(&mut self, ctx: &egui::Context, _frame: &mut eframe::Frame) {
        self.state.poll();
        self.dropped(ctx);
        self.keys(ctx);
    }

    fn ui(&mut self, ui: &mut egui::Ui, frame: &mut eframe::Frame) {
        let t0 = Instant::now();
        self.thumbs.begin_frame(self.state.generation);
        let ctx = ui.ctx().clone();
        let state = &mut self.state;

        egui::Panel::top("top").show(ui, |ui| {
            ui.add_space(2.0);
            ui.horizontal(|ui| {
                ui.label(RichText::new("itlm-inspector").strong());
                ui.separator();
                export_menu::export_menu_ui(ui, state);
                view_menu_ui(ui, state);
                ui.separator();
                open_bar::open_bar_ui(ui, state);
            });
            open_bar::summary_ui(ui, state);
            open_bar::eval_section_ui(ui, state);
            ui.separator();
            let out = controls::controls_ui(ui, state);
            self.tau_slider = out.tau_slider;
            timeline::timeline_ui(ui, state);
            ui.add_space(2.0);
        });
        if !state.messages.is_empty() {
            egui::Panel::top("messages").show(ui, |ui| messages_ui(ui, state));
        }
        egui::Panel::bottom("status").show(ui, |ui| {
            ui.horizontal(|ui| {
                if state.settings.panels.frame_stats {
                    ui.label(RichText::new(self.stats.summary()).small().color(Color32::GRAY));
                    ui.separator();
                }
                ui.label(
                    RichText::new("Left/Right: rounds - click a thumbnail for details, Up/Down to step, Esc to close - drop a folder or a run.itlm to open it")
                        .small()
                        .color(Color32::GRAY),
                );
            });
        });
        if state.selected_sample.is_some() {
            egui::Panel::right("detail")
                .resizable(true)
                .default_size(340.0)
                .show(ui, |ui| {
                    egui::ScrollArea::vertical()
                        .id_salt("detail_scroll")
                        .show(ui, |ui| detail::detail_ui(ui, state, &mut self.detail_tex));
                });
        }
        let p = state.settings.panels.clone();
        if p.histogram || p.metrics || p.confusion {
            egui::Panel::left("plots")
                .resizable(true)
                .default_size(560.0)
                .show(ui, |ui| {
                    egui::ScrollArea::vertical()
                        .id_salt("plots_scroll")
                        .show(ui, |ui| {
                            // Generative mode: the generated images first, in view without
                            // scrolling (they take the confusion's place).
                            let generative = state.generative();
                            if p.confusion && generative {
                                generated::generated_ui(ui, state, &mut self.generated_tex);
                                ui.separator();
                            }
                            if p.histogram {
                                histogram::histogram_ui(ui, state);
                                ui.separator();
                            }
                            if p.metrics {
                                metrics::metrics_ui(ui, state);
                                ui.separator();
                            }
                            if p.confusion && !generative {
                                confusion::confusion_ui(ui, state);
                            }
                        });
                });
        }
        egui::CentralPanel::default().show(ui, |ui| {
            grid::grid_ui(ui, state, &mut self.thumbs);
        });
        export_menu::export_window_ui(&ctx, state);
        drop_overlay_ui(&ctx);

        // Keep the spinners and clocks moving while something runs in the background.
        if state.loading.is_some() || state.exporting() {
            ctx.request_repaint_after(std::time::Duration::from_millis(100));
        }
        let training = self.training();
        self.stats
            .record(frame.info().cpu_usage, t0.elapsed().as_secs_f32(), training);
        self.stats.maybe_write(false);
    }

    fn save(&mut self, storage: &mut dyn eframe::Storage) {
        let mut s = self.state.settings.clone();
        if let Some((saved, session)) = self.saved_limit {
            if s.limit == session {
                s.limit = saved;
            }
        }
        if let Some((saved, session)) = self.saved_model {
            if s.learner.model == session {
                s.learner.model = saved;
            }
        }
        s.save(storage);
    }

    fn on_exit(&mut self, _gl: Option<&eframe::glow::Context>) {
        self.stats.maybe_write(true);
    }
}

fn view_menu_ui(ui: &mut egui::Ui, state: &mut AppState) {
    ui.menu_button("View", |ui| {
        let p = &mut state.settings.panels;
        ui.checkbox(&mut p.histogram, "Loss histogram");
        ui.checkbox(&mut p.metrics, "Metrics over rounds");
        ui.checkbox(&mut p.confusion, "Confusion of trimmed / generated images");
        ui.checkbox(&mut p.frame_stats, "Frame times");
    });
}

/// The dismissible error / info bar.
fn messages_ui(ui: &mut egui::Ui, state: &mut AppState) {
    let mut dismiss = None;
    for (k, m) in state.messages.iter().enumerate() {
        ui.horizontal(|ui| {
            let (tag, color) = if m.error {
                ("Error", Color32::from_rgb(255, 120, 120))
            } else {
                ("Note", Color32::LIGHT_BLUE)
            };
            if ui.small_button("Dismiss").clicked() {
                dismiss = Some(k);
            }
            ui.label(RichText::new(tag).color(color).strong());
            ui.label(RichText::new(&m.text).color(color));
        });
    }
    if state.messages.len() > 1 && ui.small_button("Dismiss all").clicked() {
        state.messages.clear();
    } else if let Some(k) = dismiss {
        state.messages.remove(k);
    }
}

fn drop_overlay_ui(ctx: &egui::Context) {
    let hovering = ctx.input(|i| !i.raw.hovered_files.is_empty());
    if !hovering {
        return;
    }
    let screen = ctx.content_rect();
    let painter = ctx.layer_painter(egui::LayerId::new(
        egui::Order::Foreground,
        egui::Id::unique("drop_overlay"),
    ));
    painter.rect_filled(screen, 0.0, Color32::from_black_alpha(180));
    painter.text(
        screen.center(),
        egui::Align2::CENTER_CENTER,
        "Drop a dataset folder or a run file (.itlm) to open it",
        egui::FontId::proportional(28.0),
        Color32::WHITE,
    );
}
