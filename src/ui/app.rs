//! The eframe app: drains background results in `logic`, lays the panels out in `ui` (each
//! panel reads a [`View`] and pushes [`Command`]s), applies the commands at the end of the
//! frame, handles keys and dropped folders, measures frame times, and saves settings.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use egui::{Color32, RichText};

use crate::export::Overwrite;
use crate::learner::{Mode, ModelKind};

use super::column_pick::ColumnPick;
use super::command::{Command, Commands, DialogPurpose, ExportWhat, View};
use super::compare::ComparePanel;
use super::detail::DetailPanel;
use super::dialogs::Dialogs;
use super::embedding_map::EmbeddingMap;
use super::eval_paths::EvalPaths;
use super::export_menu::ExportPanel;
use super::frame_stats::FrameStats;
use super::generated::GeneratedTextures;
use super::grid::GridPanel;
use super::images_pick::ImagesPick;
use super::open_bar::OpenBar;
use super::pending::Repaint;
use super::review::ReviewPanel;
use super::settings::Settings;
use super::state::loading::same_path;
use super::state::{AppState, LiveStatus};
use super::thumbs::Thumbs;
use super::view::GridTab;
use super::{confusion, controls, generated, histogram, metrics, open_bar, timeline};

/// How the window starts.
#[derive(Clone, Debug, Default)]
pub struct Options {
    /// Dataset to open (None: the demo set, when installed).
    pub path: Option<PathBuf>,
    /// Start a run when the dataset has loaded.
    pub autostart: bool,
    /// Subset size for this session (`Some(None)`: all samples); not saved.
    pub limit: Option<Option<usize>>,
    pub model: Option<ModelKind>,
    /// `ITLM_MODE`: generative picks the VAE, classify a classifier.
    pub mode: Option<Mode>,
    pub frame_stats: Option<PathBuf>,
    /// Ignore saved settings (tests); also leaves autosave off unless `data_dir` is given.
    pub fresh_settings: bool,
    /// Where runs are saved (default: `autosave::default_root`).
    pub data_dir: Option<PathBuf>,
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
            model: var("ITLM_MODEL").and_then(|v| v.parse::<ModelKind>().ok()),
            mode: var("ITLM_MODE").and_then(|v| v.parse::<Mode>().ok()),
            frame_stats: var("ITLM_FRAME_STATS").map(PathBuf::from),
            fresh_settings: false,
            data_dir: None,
        }
    }
}

pub struct App {
    pub state: AppState,
    pub dialogs: Dialogs,
    pub open_bar: OpenBar,
    /// The test / test-2 / truth path fields.
    pub eval: EvalPaths,
    pub export: ExportPanel,
    pub detail: DetailPanel,
    pub grid: GridPanel,
    pub map: EmbeddingMap,
    pub health: super::health::HealthPanel,
    pub compare: ComparePanel,
    pub review: ReviewPanel,
    pub columns: ColumnPick,
    pub images: ImagesPick,
    pub thumbs: Thumbs,
    pub generated_tex: GeneratedTextures,
    pub stats: FrameStats,
    tau_slider: egui::Id,
    /// The dataset generation the panels last showed (a new dataset resets them).
    shown_generation: u64,
    /// Saved values that environment overrides replaced for this session, restored on save
    /// unless the user changed the setting in the window.
    saved_limit: Option<(Option<usize>, Option<usize>)>,
    saved_model: Option<(ModelKind, ModelKind)>,
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
            Some(Mode::Generative) => Some(ModelKind::Vae),
            Some(Mode::Classify) => match options.model {
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
        state.autosave.root = options.data_dir.clone().or_else(|| {
            (!options.fresh_settings)
                .then(super::state::autosave::default_root)
                .flatten()
        });
        let mut app = Self {
            state,
            dialogs: Dialogs::default(),
            open_bar: OpenBar::default(),
            eval: EvalPaths::default(),
            export: ExportPanel::default(),
            detail: DetailPanel::default(),
            grid: GridPanel::default(),
            map: EmbeddingMap::default(),
            health: Default::default(),
            compare: ComparePanel::default(),
            review: ReviewPanel::default(),
            columns: ColumnPick::default(),
            images: ImagesPick::default(),
            thumbs: Thumbs::default(),
            stats: FrameStats::new(options.frame_stats),
            generated_tex: GeneratedTextures::default(),
            tau_slider: egui::Id::NULL,
            shown_generation: 0,
            saved_limit,
            saved_model,
        };
        match options.path.or_else(super::demo_dir) {
            Some(p) => app.open(p),
            None => app.state.info(format!(
                "The demo set is not installed (looked next to the executable and in {}). \
                 Open a dataset folder, type its path, or drop it on the window.",
                super::BUILD_DEMO_DIR
            )),
        }
        app
    }

    /// Open a dataset or run file with the evaluation paths of the form. Paths typed for
    /// another dataset (and unchanged since) do not carry over.
    pub fn open(&mut self, path: impl Into<PathBuf>) {
        let path = path.into();
        if let Some(d) = &self.state.data {
            if self.eval.inputs() == d.eval && !same_path(&d.path, &path) {
                self.eval = EvalPaths::default();
            }
        }
        self.open_bar.path_input = path.display().to_string();
        self.state.open_path(path, self.eval.inputs());
    }

    /// Open the export window for `what` (the Export menu's entries).
    pub fn begin_export(&mut self, what: ExportWhat) {
        self.export.begin(what, &self.state);
    }

    /// Apply what the panels asked for this frame.
    pub fn apply(&mut self, commands: Commands) {
        for c in commands {
            self.apply_one(c);
        }
    }

    fn apply_one(&mut self, c: Command) {
        let s = &mut self.state;
        match c {
            Command::Open(p) => self.open(p),
            Command::Reload => {
                if let Some(p) = s.data.as_ref().map(|d| d.path.clone()) {
                    self.open(p);
                }
            }
            Command::OpenDialog(purpose) => self.open_dialog(purpose),
            Command::ForgetDialog => self.dialogs.forget(),
            Command::OpenWithColumns(p, columns) => {
                s.settings.set_columns(&p, columns);
                self.open(p);
            }
            Command::ForgetColumns => s.columns_wanted = None,
            Command::ForgetImages => s.images_wanted = None,
            Command::ChangeImagesFolder => s.change_images_folder(),
            Command::OpenUnlabelled(p, on) => {
                s.settings.set_unlabelled(&p, on);
                self.open(p);
            }
            Command::Settings(new) => s.settings = *new,
            Command::Start => s.start(),
            Command::StepOneRound => s.step_one_round(),
            Command::Pause => s.pause(),
            Command::Resume => s.resume(),
            Command::Stop => s.stop(),
            Command::RetrainAtTau => s.retrain_at_tau(),
            Command::RetrainForward => s.retrain_forward(),
            Command::TrainWithDecisions(on) => s.decide.ignore_in_training = !on,
            Command::SetTau(t) => s.set_tau(t),
            Command::SelectRound(i) => s.select_round(i),
            Command::Follow => s.follow(),
            Command::Unfollow => s.follow_latest = false,
            Command::SelectSample(i) => s.select_sample(i),
            Command::SelectSamples(v) => {
                let n = s.data.as_ref().map_or(0, |d| d.train.len());
                self.grid.select(v.into_iter().filter(|&i| i < n));
            }
            Command::StepSample(d) => s.step_sample(d),
            Command::SetTab(t) => s.tab = t,
            Command::SetFilter(f) => s.filter = f,
            Command::SetSort(o) => s.sort = o,
            Command::BeginExport(w) => self.begin_export(w),
            Command::ExportNow(o) => self.export_now(o),
            Command::Dismiss(k) => s.dismiss(k),
            Command::Decide(indices, d) => s.decide(&indices, d),
            Command::DecideEach(each) => s.decide_each(&each),
            Command::Undo => s.undo_decision(),
            Command::Redo => s.redo_decision(),
        }
    }

    /// Write the open export (see [`ExportPanel::export_now`]).
    pub fn export_now(&mut self, overwrite: Overwrite) {
        let cut = self.state.cut();
        let run = cut.and_then(|c| self.state.run_file(Some(&c)));
        self.export.export_now(overwrite, run, &mut self.state);
    }

    fn open_dialog(&mut self, purpose: DialogPurpose) {
        let settings = &self.state.settings;
        let start_dir = match purpose {
            DialogPurpose::ImagesFolder => self
                .state
                .images_wanted
                .as_ref()
                .and_then(|w| w.path.parent())
                .map(Path::to_path_buf),
            DialogPurpose::OpenFolder
            | DialogPurpose::OpenRun
            | DialogPurpose::EvalPath(_)
            | DialogPurpose::CompareRun => settings
                .recent
                .first()
                .and_then(|p| p.parent())
                .map(Path::to_path_buf),
            DialogPurpose::ExportTarget(_) => settings.export_dir.clone(),
        };
        let repaint: Repaint = self.state.repaint().clone();
        if let Err(e) = self.dialogs.open(purpose, start_dir, &repaint) {
            if self.dialogs.is_open() {
                self.state.info(e);
            } else {
                self.state.error(e);
            }
        }
    }

    /// Collect everything background threads produced; never blocks.
    pub fn poll(&mut self) {
        self.state.poll();
        self.export.poll(&mut self.state);
        self.compare
            .poll(self.state.data.as_ref().map(|d| d.train.ids()));
        if let Some(a) = self.dialogs.poll() {
            match (a.path, a.purpose) {
                (Some(p), DialogPurpose::OpenFolder | DialogPurpose::OpenRun) => self.open(p),
                (Some(p), DialogPurpose::ImagesFolder) => {
                    // The folder picked is the answer: the CSV opens with it.
                    if let Some(w) = &self.state.images_wanted {
                        let c = self.images.with_folder(w, p);
                        self.apply_one(c);
                    }
                }
                (Some(p), DialogPurpose::CompareRun) => {
                    let repaint = self.state.repaint().clone();
                    self.compare.load(p, &repaint);
                }
                (Some(p), DialogPurpose::EvalPath(f)) => {
                    *self.eval.field_mut(f) = p.display().to_string();
                }
                (Some(p), DialogPurpose::ExportTarget(w)) => {
                    self.export.open = Some(w);
                    self.export.target = p.display().to_string();
                    self.export.confirm = None;
                }
                (None, _) if a.quick => self.state.error(
                    "The file dialog did not open (no desktop portal or zenity answered). \
                     Type the path in the field instead.",
                ),
                (None, _) => {}
            }
        }
        if self.shown_generation != self.state.generation {
            // A new dataset: the panels show what it was opened with, and nothing of the last.
            self.shown_generation = self.state.generation;
            if let Some(d) = &self.state.data {
                self.open_bar.path_input = d.path.display().to_string();
                self.eval = EvalPaths::show(&d.eval);
            }
            self.detail = DetailPanel::default();
            self.grid = GridPanel::default();
            self.map.clear();
            self.compare.clear();
            self.review = ReviewPanel::default();
            self.export.last_written.clear();
        }
    }

    /// Keys that act wherever the pointer is (not while typing in a field).
    fn shortcuts(&mut self, ctx: &egui::Context) {
        use egui::{Key, KeyboardShortcut, Modifiers};
        let open = KeyboardShortcut::new(Modifiers::COMMAND, Key::O);
        let export = KeyboardShortcut::new(Modifiers::COMMAND, Key::E);
        let undo = KeyboardShortcut::new(Modifiers::COMMAND, Key::Z);
        let redo = KeyboardShortcut::new(Modifiers::COMMAND | Modifiers::SHIFT, Key::Z);
        let redo_y = KeyboardShortcut::new(Modifiers::COMMAND, Key::Y);
        // Undo and redo in a text field are the field's (they had taken back a decision).
        let typing = ctx.egui_wants_keyboard_input();
        // (Redo first: ctrl+shift+Z also matches ctrl+Z's logical shortcut.)
        let (open, export, redo, undo) = ctx.input_mut(|i| {
            (
                i.consume_shortcut(&open),
                i.consume_shortcut(&export),
                !typing && (i.consume_shortcut(&redo) || i.consume_shortcut(&redo_y)),
                !typing && i.consume_shortcut(&undo),
            )
        });
        // Ctrl+1..4: the grid's tabs (Review is Ctrl+4), from anywhere.
        let tab_keys = [Key::Num1, Key::Num2, Key::Num3, Key::Num4];
        let tab = ctx.input_mut(|i| {
            GridTab::ALL
                .into_iter()
                .zip(tab_keys)
                .find(|&(_, k)| i.consume_shortcut(&KeyboardShortcut::new(Modifiers::COMMAND, k)))
                .map(|(t, _)| t)
        });
        if let Some(t) = tab {
            self.state.tab = t;
        }
        if redo {
            self.state.redo_decision();
        } else if undo {
            self.state.undo_decision();
        }
        if open && !self.dialogs.is_open() {
            self.open_dialog(DialogPurpose::OpenFolder);
        }
        if export && self.state.record().is_some() {
            self.begin_export(ExportWhat::All);
        }
        if typing {
            return;
        }
        if ctx.input(|i| i.key_pressed(Key::Space) && i.modifiers.is_none()) {
            let status = self.state.run.as_ref().map(|r| r.status.clone());
            match status {
                Some(LiveStatus::Running | LiveStatus::Starting) => self.state.pause(),
                Some(LiveStatus::Paused) => self.state.resume(),
                _ if self.state.data.as_ref().is_some_and(|d| d.has_images()) => self.state.start(),
                _ => {}
            }
        }
    }

    fn keys(&mut self, ctx: &egui::Context) {
        self.shortcuts(ctx);
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
        // Esc closes an open dialog first, whichever tab is shown.
        if esc && self.export.open.is_some() {
            self.export.open = None;
            return;
        }
        if esc && self.compare.open {
            self.compare.open = false;
            return;
        }
        if self.state.tab == GridTab::Review {
            // The review queue takes the arrows (and its letter keys) itself.
            return;
        }
        if !slider_focused {
            if left {
                self.state.step_round(-1);
            }
            if right {
                self.state.step_round(1);
            }
        }
        if let Some(i) = self.state.selected_sample {
            // The detail panel's sample takes the review queue's letter keys: K keep,
            // X exclude, R accept the predicted class (a classifier's, when it differs).
            let (k, x, r) = ctx.input(|inp| {
                use egui::Key;
                (
                    inp.key_pressed(Key::K),
                    inp.key_pressed(Key::X),
                    inp.key_pressed(Key::R),
                )
            });
            let predicted = self.state.predicted(i).filter(|&p| {
                self.state
                    .data
                    .as_ref()
                    .is_some_and(|d| i < d.train.len() && p != d.train.label(i))
            });
            let decision = if k {
                Some(crate::session::decisions::Decision::Keep)
            } else if x {
                Some(crate::session::decisions::Decision::Exclude)
            } else if r {
                predicted.map(crate::session::decisions::Decision::Relabel)
            } else {
                None
            };
            if let Some(d) = decision {
                self.state.decide(&[i], Some(d));
            }
            if up {
                self.state.step_sample(-1);
            }
            if down {
                self.state.step_sample(1);
            }
            if esc {
                self.state.select_sample(None);
            }
        }
    }

    fn dropped(&mut self, ctx: &egui::Context) {
        let dropped: Option<PathBuf> =
            ctx.input(|i| i.raw.dropped_files.first().map(|f| f.path().to_path_buf()));
        if let Some(p) = dropped {
            self.open(p);
        }
    }

    fn training(&self) -> bool {
        self.state
            .run
            .as_ref()
            .is_some_and(|r| r.status == LiveStatus::Running)
    }
}

impl eframe::App for App {
    fn logic(&mut self, ctx: &egui::Context, _frame: &mut eframe::Frame) {
        self.poll();
        self.dropped(ctx);
        self.keys(ctx);
    }

    fn ui(&mut self, ui: &mut egui::Ui, frame: &mut eframe::Frame) {
        let t0 = Instant::now();
        self.thumbs.begin_frame(self.state.generation);
        let ctx = ui.ctx().clone();
        ctx.set_theme(if self.state.settings.light {
            egui::Theme::Light
        } else {
            egui::Theme::Dark
        });
        let cut = self.state.cut();
        let lists = self.state.lists();
        let mut out = Commands::new();
        let v = View {
            state: &self.state,
            cut,
            lists,
            dialog_secs: self.dialogs.waiting_secs(),
        };
        let repaint: Repaint = v.state.repaint().clone();
        self.detail.follow(&v, &repaint);

        egui::Panel::top("top").show(ui, |ui| {
            ui.add_space(2.0);
            ui.horizontal(|ui| {
                ui.label(RichText::new("itlm-inspector").strong());
                ui.separator();
                self.export.menu_ui(ui, &v, &mut out);
                view_menu_ui(ui, &v, &mut out);
                if ui
                    .add_enabled(v.cut.is_some(), egui::Button::new("Compare..."))
                    .on_hover_text("Compare the shown run with another run of this dataset")
                    .on_disabled_hover_text("Compare needs a finished round")
                    .clicked()
                {
                    self.compare.open = true;
                }
                ui.separator();
                self.open_bar.ui(ui, &v, &mut out);
            });
            open_bar::summary_ui(ui, &v, &mut out);
            open_bar::eval_section_ui(ui, &mut self.eval, &v, &mut out);
            ui.separator();
            let c = controls::controls_ui(ui, &v, &mut out);
            self.tau_slider = c.tau_slider;
            timeline::timeline_ui(ui, &v, &mut out);
            ui.add_space(2.0);
        });
        if !v.state.messages.is_empty() {
            egui::Panel::top("messages").show(ui, |ui| messages_ui(ui, &v, &mut out));
        }
        let stats = &self.stats;
        egui::Panel::bottom("status").show(ui, |ui| {
            ui.horizontal(|ui| {
                if v.state.settings.panels.frame_stats {
                    ui.label(RichText::new(stats.summary()).small().color(Color32::GRAY));
                    ui.separator();
                }
                let keys = if v.state.tab == GridTab::Review && v.state.generative() {
                    // The VAE predicts no class: R accepts nothing.
                    "Review: K keep, X exclude, 0-9 relabel, Backspace undo, Left/Right skip - Ctrl+1..4 tabs, Space start/pause"
                } else if v.state.tab == GridTab::Review {
                    "Review: K keep, X exclude, R accept the predicted class, 0-9 relabel, Backspace undo, Left/Right skip - Ctrl+1..4 tabs, Space start/pause"
                } else {
                    "Left/Right: rounds - click a thumbnail for details, Up/Down to step, K keep, X exclude, R accept the predicted class, Esc to close - Ctrl+1..4 tabs (Ctrl+4 Review), Space start/pause - drop a folder or a run.itlm to open it"
                };
                ui.label(
                    RichText::new(keys)
                        .small()
                        .color(Color32::GRAY),
                );
            });
        });
        if v.state.selected_sample.is_some() {
            let detail = &mut self.detail;
            egui::Panel::right("detail")
                .resizable(true)
                .default_size(340.0)
                .show(ui, |ui| {
                    // A scroll position per sample: another sample opens at its top.
                    egui::ScrollArea::vertical()
                        .id_salt(("detail_scroll", v.state.selected_sample))
                        .show(ui, |ui| detail.ui(ui, &v, &mut out));
                });
        }
        let p = v.state.settings.panels.clone();
        if p.histogram || p.metrics || p.confusion || p.health || p.embedding_map {
            let generated_tex = &mut self.generated_tex;
            let map = &mut self.map;
            let health = &mut self.health;
            let thumbs = &mut self.thumbs;
            let selection = &self.grid.selection;
            // Narrower on a narrow screen, and never more than half of what the detail panel
            // leaves: at 1280 points with a sample open the grid had 380 points (two columns
            // and its bar wrapped into six rows).
            let width = ui.available_width();
            egui::Panel::left("plots")
                .resizable(true)
                .default_size((width * 0.42).clamp(360.0, 560.0))
                .max_size((width * 0.5).max(360.0))
                .show(ui, |ui| {
                    super::set_plots_height(ui.ctx(), ui.available_height());
                    egui::ScrollArea::vertical()
                        .id_salt("plots_scroll")
                        .show(ui, |ui| {
                            // Generative mode: the generated images first, in view without
                            // scrolling (they take the confusion's place).
                            let generative = v.state.generative();
                            if p.confusion && generative {
                                generated::generated_ui(ui, &v, generated_tex);
                                ui.separator();
                            }
                            if p.histogram {
                                histogram::histogram_ui(ui, &v, &mut out);
                                ui.separator();
                            }
                            if p.metrics {
                                metrics::metrics_ui(ui, &v);
                                ui.separator();
                            }
                            if p.confusion && !generative {
                                confusion::confusion_ui(ui, &v, &mut out);
                                ui.separator();
                            }
                            if p.health && !generative {
                                health.ui(ui, &v, &mut out);
                                ui.separator();
                            }
                            if p.embedding_map {
                                egui::CollapsingHeader::new("Embedding map")
                                    .default_open(true)
                                    .show(ui, |ui| {
                                        map.ui(ui, &v, thumbs, selection, &repaint, &mut out)
                                    });
                            }
                        });
                });
        }
        let dialog_open = self.export.open.is_some() || self.compare.open;
        let (thumbs, grid, review) = (&mut self.thumbs, &mut self.grid, &mut self.review);
        egui::CentralPanel::default().show(ui, |ui| {
            if v.state.tab == GridTab::Review {
                // Not while a dialog is open: its keys are not decisions on the sample behind.
                if !ctx.egui_wants_keyboard_input() && !dialog_open {
                    review.keys(&ctx, &v, &mut out);
                }
                // Scrolls: at small window heights the neighbour strips sit below the fold.
                egui::ScrollArea::vertical()
                    .id_salt("review_scroll")
                    .show(ui, |ui| {
                        review.ui(ui, &v, thumbs, &mut grid.text, &repaint, &mut out)
                    });
            } else {
                grid.ui(ui, &v, thumbs, &mut out);
            }
        });
        self.export.window_ui(&ctx, &v, &mut out);
        self.columns.ui(&ctx, &v, &mut out);
        self.images.ui(&ctx, &v, &mut out);
        self.compare.window_ui(&ctx, &v, &repaint, &mut out);
        drop_overlay_ui(&ctx);

        // Keep the spinners and clocks moving while something runs in the background.
        if v.state.loading.is_some() || self.export.exporting() {
            ctx.request_repaint_after(std::time::Duration::from_millis(100));
        }
        drop(v);
        self.apply(out);
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

fn view_menu_ui(ui: &mut egui::Ui, v: &View, out: &mut Commands) {
    ui.menu_button("View", |ui| {
        let mut s = v.state.settings.clone();
        let p = &mut s.panels;
        ui.checkbox(&mut p.histogram, "Loss histogram");
        ui.checkbox(&mut p.metrics, "Metrics over rounds");
        ui.checkbox(&mut p.confusion, "Confusion of trimmed / generated images");
        ui.checkbox(&mut p.health, "Label health of the cut");
        ui.checkbox(&mut p.embedding_map, "Embedding map (PCA of the samples)");
        ui.checkbox(&mut p.frame_stats, "Frame times (developer figures)");
        ui.separator();
        ui.checkbox(&mut s.light, "Light colours");
        ui.label(
            RichText::new("Keys: Space start / pause, Ctrl+O open, Ctrl+E export, Left/Right rounds, Up/Down samples, Esc close")
                .small()
                .color(Color32::GRAY),
        );
        if s != v.state.settings {
            out.push(Command::Settings(Box::new(s)));
        }
    });
}

/// How many of the latest messages show; the older ones fold away (they had piled up and
/// pushed the panels below them off the window).
pub const MESSAGES_SHOWN: usize = 3;

/// The dismissible error / info bar: the latest [`MESSAGES_SHOWN`] messages, the older ones
/// under a fold.
fn messages_ui(ui: &mut egui::Ui, v: &View, out: &mut Commands) {
    let state = v.state;
    let mut dismiss = None;
    // Readable on either theme (light blue on white was not).
    let dark = ui.visuals().dark_mode;
    let error_colour = if dark {
        Color32::from_rgb(255, 120, 120)
    } else {
        Color32::from_rgb(180, 20, 20)
    };
    let note_colour = crate::ui::accent(ui);
    let mut message_ui = |ui: &mut egui::Ui, k: usize, m: &crate::ui::state::Message| {
        // Wrapped: a long note (an export's file list) stays readable at any width.
        ui.horizontal_wrapped(|ui| {
            let (tag, color) = if m.error {
                ("Error", error_colour)
            } else {
                ("Note", note_colour)
            };
            if ui.small_button("Dismiss").clicked() {
                dismiss = Some(k);
            }
            ui.label(RichText::new(tag).color(color).strong());
            if let Some(f) = &m.open {
                if ui.small_button("Open it").clicked() {
                    out.push(Command::Open(f.clone()));
                }
            }
            if let Some(f) = &m.unlabelled {
                if ui
                    .small_button("Open as unlabelled images")
                    .on_hover_text(format!(
                        "Read every image under {} (subfolders included) without labels, for \
                         the generative mode and the image checks",
                        f.display()
                    ))
                    .clicked()
                {
                    out.push(Command::OpenUnlabelled(f.clone(), true));
                }
            }
            ui.label(RichText::new(&m.text).color(color));
        });
    };
    let older = state.messages.len().saturating_sub(MESSAGES_SHOWN);
    if older > 0 {
        egui::CollapsingHeader::new(crate::plural(older, "earlier message"))
            .id_salt("earlier_messages")
            .default_open(false)
            .show(ui, |ui| {
                for (k, m) in state.messages.iter().enumerate().take(older) {
                    message_ui(ui, k, m);
                }
            });
    }
    for (k, m) in state.messages.iter().enumerate().skip(older) {
        message_ui(ui, k, m);
    }
    if state.messages.len() > 1 && ui.small_button("Dismiss all").clicked() {
        out.push(Command::Dismiss(None));
    } else if let Some(k) = dismiss {
        out.push(Command::Dismiss(Some(k)));
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
