//! Compare the shown run with another run of the same dataset (another seed, tau or rule): how
//! many samples both flag, only one flags, and their metrics over rounds side by side. Each
//! set can be shown in the grid (a filter). The other run is read off the UI thread.

use std::path::PathBuf;
use std::sync::Arc;

use egui::{Color32, RichText};
use egui_plot::{Line, Plot, PlotPoints};

use crate::export::RunFile;

use super::command::{Command, Commands, DialogPurpose, View};
use super::pending::{Pending, Polled, Repaint};
use super::view::{Filter, Membership};

/// Which samples of the comparison.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Side {
    Both,
    OnlyShown,
    OnlyOther,
}

impl Side {
    fn name(self) -> &'static str {
        match self {
            Side::Both => "flagged by both",
            Side::OnlyShown => "only the shown run flags",
            Side::OnlyOther => "only the other run flags",
        }
    }
}

/// The other run, its samples mapped onto the open dataset's.
pub struct Other {
    pub file: PathBuf,
    pub run: RunFile,
    /// Flagged by the other run's verdict, by the open dataset's sample index.
    pub flagged: Vec<bool>,
}

/// How many saved runs of the dataset the compare window offers.
const SAVED_SHOWN: usize = 6;

/// The compare window's own state.
#[derive(Default)]
pub struct ComparePanel {
    pub open: bool,
    loading: Option<Pending<Result<RunFile, String>>>,
    loading_file: Option<PathBuf>,
    pub other: Option<Other>,
    pub error: Option<String>,
    /// The other run's path as typed (for machines where no file dialog answers).
    pub path: String,
    /// The runs the window saved of the shown dataset, newest first, and the dataset
    /// generation and run file they were listed for.
    saved: Option<(u64, Option<PathBuf>, Vec<PathBuf>)>,
}

impl ComparePanel {
    /// Read the run at `file` to compare with.
    pub fn load(&mut self, file: PathBuf, repaint: &Repaint) {
        self.open = true;
        self.error = None;
        self.path = file.display().to_string();
        let f = file.clone();
        match Pending::spawn("itlm-compare", repaint, move || {
            RunFile::read(&f).map_err(|e| e.to_string())
        }) {
            Ok(t) => {
                self.loading = Some(t);
                self.loading_file = Some(file);
            }
            Err(e) => self.error = Some(e),
        }
    }

    /// Collect the run being read and map it onto the open dataset (`ids`).
    pub fn poll(&mut self, ids: Option<&[String]>) {
        let Some(task) = &self.loading else { return };
        let r = match task.poll() {
            Polled::Waiting => return,
            Polled::Done(r) => r,
            Polled::Lost(e) => Err(e),
        };
        self.loading = None;
        let file = self.loading_file.take().unwrap_or_default();
        let mapped = r.and_then(|run| match ids {
            Some(ids) => map_onto(&run, ids).map(|flagged| Other { file, run, flagged }),
            None => Err("open the dataset (or a run of it) first".into()),
        });
        match mapped {
            Ok(o) => self.other = Some(o),
            Err(e) => self.error = Some(e),
        }
    }

    /// A run is being read.
    pub fn busy(&self) -> bool {
        self.loading.is_some()
    }

    /// Forget the other run (another dataset was opened).
    pub fn clear(&mut self) {
        *self = Self::default();
    }

    pub fn window_ui(
        &mut self,
        ctx: &egui::Context,
        v: &View,
        repaint: &Repaint,
        out: &mut Commands,
    ) {
        if !self.open {
            return;
        }
        let mut open = true;
        egui::Window::new("Compare runs")
            .id(egui::Id::unique("compare_window"))
            .open(&mut open)
            .default_width(480.0)
            // Below the top bar (not over its buttons), over the left panels rather than the
            // grid the comparison's sets filter.
            .pivot(egui::Align2::LEFT_TOP)
            .default_pos(ctx.content_rect().left_top() + egui::vec2(16.0, 140.0))
            .show(ctx, |ui| self.body_ui(ui, v, repaint, out));
        if !open {
            self.open = false;
        }
    }

    /// The other runs the window saved of this dataset, newest first, one click each (read
    /// again when the dataset or the shown run's file changes).
    fn saved_runs_ui(&mut self, ui: &mut egui::Ui, v: &View, repaint: &Repaint) {
        let shown = v
            .state
            .data
            .as_ref()
            .and_then(|d| d.reopened.as_ref().map(|r| r.file.clone()))
            .or_else(|| v.state.autosave.file.clone());
        let key = (v.state.generation, shown.clone());
        if self
            .saved
            .as_ref()
            .is_none_or(|(g, f, _)| (*g, f.clone()) != key)
        {
            let dataset = v.state.data.as_ref().and_then(|d| match &d.reopened {
                Some(r) => crate::session::reopen::data_path(&r.run.dataset.source),
                None => Some(d.path.clone()),
            });
            let runs = match (&v.state.autosave.root, dataset) {
                (Some(root), Some(p)) => super::state::autosave::saved_runs(root, &p),
                _ => Vec::new(),
            };
            let same = |p: &PathBuf| {
                shown
                    .as_ref()
                    .is_some_and(|s| crate::export::same_file(s, p) || s == p)
            };
            let runs = runs.into_iter().filter(|p| !same(p)).collect();
            self.saved = Some((key.0, key.1, runs));
        }
        let Some((_, _, runs)) = &self.saved else {
            return;
        };
        if runs.is_empty() {
            return;
        }
        let mut chosen = None;
        ui.horizontal_wrapped(|ui| {
            ui.label(RichText::new("saved runs of this dataset:").small());
            for p in runs.iter().take(SAVED_SHOWN) {
                let name = match (p.parent().and_then(|d| d.file_name()), p.file_name()) {
                    (Some(d), Some(f)) => {
                        format!("{}/{}", d.to_string_lossy(), f.to_string_lossy())
                    }
                    _ => p.display().to_string(),
                };
                if ui
                    .add_enabled(self.loading.is_none(), egui::Button::new(name).small())
                    .on_hover_text(p.display().to_string())
                    .clicked()
                {
                    chosen = Some(p.clone());
                }
            }
            if runs.len() > SAVED_SHOWN {
                ui.label(
                    RichText::new(format!(
                        "and {} older (type the path)",
                        runs.len() - SAVED_SHOWN
                    ))
                    .small(),
                );
            }
        });
        if let Some(p) = chosen {
            self.load(p, repaint);
        }
    }

    fn body_ui(&mut self, ui: &mut egui::Ui, v: &View, repaint: &Repaint, out: &mut Commands) {
        ui.horizontal(|ui| {
            if ui
                .add_enabled(!v.dialog_open(), egui::Button::new("Pick the other run..."))
                .clicked()
            {
                out.push(Command::OpenDialog(DialogPurpose::CompareRun));
            }
            let l = ui.label("or its path");
            let field = ui
                .add(
                    egui::TextEdit::singleline(&mut self.path)
                        .hint_text("/path/to/run.itlm")
                        .desired_width(220.0),
                )
                .labelled_by(l.id);
            let typed = self.path.trim();
            let enter = field.lost_focus() && ui.input(|i| i.key_pressed(egui::Key::Enter));
            let go = ui.add_enabled(
                !typed.is_empty() && self.loading.is_none(),
                egui::Button::new("Compare"),
            );
            if (enter || go.clicked()) && !typed.is_empty() && self.loading.is_none() {
                let file = PathBuf::from(typed);
                self.load(file, repaint);
            }
            if self.loading.is_some() {
                ui.spinner();
                ui.label("reading...");
            }
        });
        self.saved_runs_ui(ui, v, repaint);
        if let Some(e) = &self.error {
            ui.colored_label(Color32::LIGHT_RED, e);
        }
        let (Some(other), Some(cut)) = (&self.other, &v.cut) else {
            ui.label("The shown round at the slider's tau is compared with the other run's cut.");
            return;
        };
        let shown: Vec<bool> = cut.kept.iter().map(|&k| !k).collect();
        let c = Counts::of(&shown, &other.flagged);
        ui.label(format!(
            "Shown: round {} at tau {:.2}, {} flagged. Other: {} ({}), {} flagged.",
            cut.record.round,
            cut.tau,
            c.both + c.only_shown,
            other.file.display(),
            describe(&other.run),
            c.both + c.only_other
        ));
        ui.label(format!(
            "Jaccard overlap of the flagged sets: {:.3}",
            c.jaccard()
        ));
        egui::Grid::new("compare_counts")
            .num_columns(3)
            .show(ui, |ui| {
                for (side, n) in [
                    (Side::Both, c.both),
                    (Side::OnlyShown, c.only_shown),
                    (Side::OnlyOther, c.only_other),
                ] {
                    ui.label(side.name());
                    ui.label(RichText::new(n.to_string()).strong());
                    if ui
                        .small_button("show in the grid")
                        .on_hover_text("Filter the grid to these samples (all tabs)")
                        .clicked()
                    {
                        let mask = (0..shown.len())
                            .map(|i| match side {
                                Side::Both => shown[i] && other.flagged[i],
                                Side::OnlyShown => shown[i] && !other.flagged[i],
                                Side::OnlyOther => !shown[i] && other.flagged[i],
                            })
                            .collect();
                        out.push(Command::SetFilter(Filter {
                            within: Some(Membership::new(side.name(), mask)),
                            ..v.state.filter.clone()
                        }));
                    }
                    ui.end_row();
                }
            });
        metrics_overlay_ui(ui, v, &other.run);
    }
}

/// The other run in a few words: rounds, tau, rule, seed.
fn describe(r: &RunFile) -> String {
    format!(
        "{} rounds, tau {}, {}, seed {}",
        r.rounds.len(),
        r.config.tau,
        r.config.select,
        r.config.seed
    )
}

/// How two flagged sets overlap.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counts {
    pub both: usize,
    pub only_shown: usize,
    pub only_other: usize,
    pub neither: usize,
}

impl Counts {
    pub fn of(a: &[bool], b: &[bool]) -> Self {
        let mut c = Counts::default();
        for (&x, &y) in a.iter().zip(b) {
            match (x, y) {
                (true, true) => c.both += 1,
                (true, false) => c.only_shown += 1,
                (false, true) => c.only_other += 1,
                (false, false) => c.neither += 1,
            }
        }
        c
    }

    pub fn jaccard(&self) -> f64 {
        let union = self.both + self.only_shown + self.only_other;
        if union == 0 {
            1.0
        } else {
            self.both as f64 / union as f64
        }
    }
}

/// The other run's flagged samples (its verdict) by the open dataset's index, or why the runs
/// are not of the same dataset.
pub fn map_onto(run: &RunFile, ids: &[String]) -> Result<Vec<bool>, String> {
    let verdict = run
        .verdict()
        .ok_or("the other run holds no finished round")?;
    let index: std::collections::HashMap<&str, usize> = run
        .dataset
        .ids
        .iter()
        .enumerate()
        .map(|(i, id)| (id.as_str(), i))
        .collect();
    let mut flagged = vec![false; ids.len()];
    let mut missing = 0usize;
    for (i, id) in ids.iter().enumerate() {
        match index.get(id.as_str()) {
            Some(&j) => flagged[i] = !verdict.kept[j],
            None => missing += 1,
        }
    }
    if missing > 0 || run.dataset.ids.len() != ids.len() {
        return Err(format!(
            "not a run of this dataset: {missing} of its {} samples are not in the other run ({} samples)",
            ids.len(),
            run.dataset.ids.len()
        ));
    }
    Ok(flagged)
}

/// Both runs' metrics over rounds: what every run has (train accuracy, kept and trained-on
/// fractions) and, where either run has them, test accuracy and trim precision / recall. A
/// series neither run has is not listed.
fn metrics_overlay_ui(ui: &mut egui::Ui, v: &View, other: &RunFile) {
    let Some(run) = &v.state.run else { return };
    type Get = fn(&crate::itlm::RoundRecord, f64) -> Option<f64>;
    let series: [(&str, Get); 6] = [
        ("train acc", |r, _| r.metrics.train_acc),
        ("kept fraction", |r, n| Some(r.metrics.kept as f64 / n)),
        ("trained-on fraction", |r, n| Some(r.trained_on as f64 / n)),
        ("test acc", |r, _| r.metrics.test_acc),
        ("trim precision", |r, _| r.metrics.trim.map(|t| t.precision)),
        ("trim recall", |r, _| r.metrics.trim.map(|t| t.recall)),
    ];
    let pts = |h: &[Arc<crate::itlm::RoundRecord>], n: usize, get: Get| -> Vec<[f64; 2]> {
        let n = n.max(1) as f64;
        h.iter()
            .filter_map(|r| get(r, n).map(|y| [r.round as f64, y]))
            .collect()
    };
    let n_shown = v.state.data.as_ref().map_or(0, |d| d.train.len());
    let n_other = other.dataset.ids.len();
    let kept_grey = if ui.visuals().dark_mode {
        Color32::from_rgb(200, 200, 200)
    } else {
        Color32::from_rgb(70, 70, 70)
    };
    let colors = [
        Color32::from_rgb(120, 200, 120),
        kept_grey,
        Color32::from_rgb(140, 140, 140),
        Color32::from_rgb(80, 150, 230),
        Color32::from_rgb(235, 120, 60),
        Color32::from_rgb(230, 200, 60),
    ];
    // The series either run has, named above the plot where they cover no line (a legend
    // inside it had covered the other run's early rounds).
    let has = |get: Get| {
        !pts(&run.history, n_shown, get).is_empty() || !pts(&other.rounds, n_other, get).is_empty()
    };
    super::metrics::legend_ui(
        ui,
        series
            .iter()
            .zip(colors)
            .filter(|((_, get), _)| has(*get))
            .map(|((name, _), c)| (*name, c)),
    );
    ui.label(
        RichText::new("solid: the shown run, dashed and fainter: the other")
            .small()
            .color(Color32::GRAY),
    );
    Plot::new("compare_metrics")
        .height(220.0)
        .include_y(0.0)
        .include_y(1.0)
        .allow_scroll(false)
        .allow_zoom(false)
        .allow_drag(false)
        .x_axis_label("round")
        .x_grid_spacer(super::metrics::round_grid)
        .show(ui, |p| {
            for ((name, get), color) in series.into_iter().zip(colors) {
                let a = pts(&run.history, n_shown, get);
                if !a.is_empty() {
                    p.line(Line::new(name, PlotPoints::new(a)).color(color).width(2.0));
                }
                let b = pts(&other.rounds, n_other, get);
                if !b.is_empty() {
                    p.line(
                        Line::new(name, PlotPoints::new(b))
                            .color(color.gamma_multiply(0.7))
                            .width(1.5)
                            .style(egui_plot::LineStyle::dashed_loose()),
                    );
                }
            }
        })
        .response
        .widget_info(|| egui::WidgetInfo::labeled(egui::Role::Image, true, "Metrics of both runs"));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overlap_counts_and_jaccard() {
        let a = [true, true, false, false, true];
        let b = [true, false, true, false, true];
        let c = Counts::of(&a, &b);
        assert_eq!(
            c,
            Counts {
                both: 2,
                only_shown: 1,
                only_other: 1,
                neither: 1
            }
        );
        assert!((c.jaccard() - 0.5).abs() < 1e-12);
        assert_eq!(Counts::of(&[false], &[false]).jaccard(), 1.0);
    }
}
