//! The sample detail view: the large image (the original file when the sample has one, decoded
//! off the UI thread; else the stored pixels), path, given / predicted / true label, loss across
//! rounds and class probabilities (a generative run has no predictions: loss only). Up/Down
//! step through the grid, Esc closes.

use std::path::PathBuf;

use egui::{Color32, RichText, TextureHandle};
use egui_plot::{Line, Plot, PlotPoints, Points, VLine};

use super::command::{Command, Commands, View};
use super::histogram::{KEPT, TRIMMED};
use super::pending::{Pending, Polled, Repaint};
use super::thumbs::color_image;

/// Width, height and RGBA8 pixels.
pub type Rgba = (usize, usize, Vec<u8>);

/// A full-size original image decoded off the UI thread.
pub struct Original {
    pub index: usize,
    /// RGBA8, width x height.
    pub rgba: Option<Rgba>,
    pub error: Option<String>,
    task: Option<Pending<Result<Rgba, String>>>,
}

impl Original {
    /// Start decoding `file` (sample `index`); large originals are shown at most 768 px (a
    /// camera's JPEG decoded at the reduced DCT scale that keeps that: `data::draft`).
    pub fn decode(index: usize, file: PathBuf, repaint: &Repaint) -> Self {
        let task = Pending::spawn("itlm-decode", repaint, move || {
            crate::data::draft::load_upright(&file, 768)
                .map(Ok)
                .unwrap_or_else(|| crate::data::image_folder::open_upright(&file))
                .map(|img| {
                    let img = if img.width() > 768 || img.height() > 768 {
                        img.thumbnail(768, 768)
                    } else {
                        img
                    };
                    let rgba = img.to_rgba8();
                    let (w, h) = (rgba.width() as usize, rgba.height() as usize);
                    (w, h, rgba.into_raw())
                })
                .map_err(|e| format!("{}: {e}", file.display()))
        });
        let (task, error) = match task {
            Ok(t) => (Some(t), None),
            Err(e) => (None, Some(e)),
        };
        Self {
            index,
            rgba: None,
            error,
            task,
        }
    }

    /// Collect the decoded image (or why not) once it is there.
    pub fn poll(&mut self) {
        let Some(task) = &self.task else { return };
        match task.poll() {
            Polled::Waiting => return,
            Polled::Done(Ok(img)) => self.rgba = Some(img),
            Polled::Done(Err(e)) | Polled::Lost(e) => self.error = Some(e),
        }
        self.task = None;
    }
}

/// The detail view's own state: the original being decoded and the texture shown, re-made
/// only when the sample or its source changes.
#[derive(Default)]
pub struct DetailPanel {
    key: Option<(u64, usize, bool)>,
    tex: Option<TextureHandle>,
    pub original: Option<Original>,
}

impl DetailPanel {
    /// Follow the selected sample: decode its original file when it has one.
    pub fn follow(&mut self, v: &View, repaint: &Repaint) {
        let Some(i) = v.state.selected_sample else {
            self.original = None;
            return;
        };
        if self.original.as_ref().is_some_and(|o| o.index == i) {
            if let Some(o) = &mut self.original {
                o.poll();
            }
            return;
        }
        self.original = v
            .state
            .data
            .as_ref()
            .and_then(|d| d.train.file(i))
            .map(|file| Original::decode(i, file, repaint));
    }

    pub fn ui(&mut self, ui: &mut egui::Ui, v: &View, out: &mut Commands) {
        detail_ui(ui, v, self, out);
    }
}

fn detail_ui(ui: &mut egui::Ui, v: &View, panel: &mut DetailPanel, out: &mut Commands) {
    let state = v.state;
    let Some(i) = state.selected_sample else {
        return;
    };
    let Some(data) = state.data.as_ref() else {
        return;
    };
    let train = data.train.clone();
    if i >= train.len() {
        return;
    }
    let truth = data.truth.clone();
    let images = data.has_images();
    let generative = state.generative();
    let class = |c: u32| train.class_name(c).to_string();
    ui.horizontal(|ui| {
        ui.heading(format!("Sample {i}"));
        if ui.button("Close").on_hover_text("Esc").clicked() {
            out.push(Command::SelectSample(None));
        }
    });
    match state.decision(i) {
        Some(d) => ui.label(
            RichText::new(format!("decided: {}", super::review::describe(d, &train)))
                .color(super::review::decision_color(d)),
        ),
        None => ui.label(RichText::new("no decision").color(Color32::GRAY)),
    };
    super::grid::actions_ui(ui, v, &[i], out);
    ui.horizontal(|ui| {
        if ui.button("Previous").on_hover_text("Up arrow").clicked() {
            out.push(Command::StepSample(-1));
        }
        if ui.button("Next").on_hover_text("Down arrow").clicked() {
            out.push(Command::StepSample(1));
        }
    });
    // Image: the original when decoded, else stored pixels.
    let original = panel
        .original
        .as_ref()
        .filter(|o| o.index == i)
        .and_then(|o| o.rgba.as_ref());
    let key = (state.generation, i, original.is_some());
    if panel.key != Some(key) {
        let img = match original {
            Some((w, h, px)) => egui::ColorImage::from_rgba_unmultiplied([*w, *h], px),
            None => color_image(&train, i),
        };
        panel.tex = Some(
            ui.ctx()
                .load_texture("detail", img, super::thumbs::SAMPLE_TEXTURE),
        );
        panel.key = Some(key);
    }
    if !images {
        ui.label(
            RichText::new("No image: the run's dataset is not available.")
                .italics()
                .color(Color32::GRAY),
        );
    } else if let Some(t) = &panel.tex {
        let size = t.size_vec2();
        let avail = ui.available_width().min(320.0);
        let scale = (avail / size.x.max(1.0)).min(320.0 / size.y.max(1.0));
        ui.add(egui::Image::new((t.id(), size * scale)).alt_text(format!("sample {i}")));
    }
    if let Some(o) = panel.original.as_ref().filter(|o| o.index == i) {
        if let Some(e) = &o.error {
            ui.colored_label(Color32::LIGHT_RED, format!("original not readable: {e}"));
        } else if o.rgba.is_none() {
            ui.horizontal(|ui| {
                ui.spinner();
                ui.label("decoding the original file...");
            });
        }
    }
    egui::Grid::new("detail_facts")
        .num_columns(2)
        .show(ui, |ui| {
            ui.label("id");
            ui.label(train.id(i));
            ui.end_row();
            if let Some(f) = train.file(i) {
                ui.label("file");
                // A long path would widen the panel past the window: cut it, whole on hover.
                let full = f.display().to_string();
                // (A truncated label shows the whole text on hover by itself.)
                ui.add(egui::Label::new(&full).truncate());
                ui.end_row();
            }
            let given = train.label(i);
            ui.label(if generative { "class folder" } else { "given" });
            // (A flat folder's one class has no name: the set has no labels.)
            ui.label(if train.is_unlabelled() {
                "none (unlabelled set)".to_string()
            } else {
                class(given).to_string()
            });
            ui.end_row();
            if let Some(rec) = state.record().filter(|_| generative) {
                ui.label(format!("loss (round {})", rec.round));
                ui.label(format!("{:.4} / score {:.4}", rec.loss[i], rec.score[i]));
                ui.end_row();
            } else if let Some(rec) = state.record() {
                let pred = rec.predicted.get(i).copied().unwrap_or(given);
                ui.label(format!("predicted (round {})", rec.round));
                ui.label(RichText::new(class(pred)).color(if pred != given {
                    super::DIFFERS
                } else {
                    ui.visuals().text_color()
                }));
                ui.end_row();
                ui.label("loss / score");
                ui.label(format!("{:.4} / {:.4}", rec.loss[i], rec.score[i]));
                ui.end_row();
                ui.label("p(given)");
                ui.label(format!(
                    "{:.4}",
                    rec.p_given.get(i).copied().unwrap_or(f32::NAN)
                ));
                ui.end_row();
                if let Some(s) = rec.spectral_of(i) {
                    // Where it stands in its class (the score is per class).
                    let labels = train.labels();
                    let (mut below, mut of) = (0usize, 0usize);
                    if labels.len() == rec.spectral.len() {
                        for (j, &t) in rec.spectral.iter().enumerate() {
                            if labels[j] == given {
                                of += 1;
                                below += usize::from(t < s);
                            }
                        }
                    }
                    ui.label("spectral score");
                    // Short: a wide row would widen the panel and move its buttons.
                    ui.label(format!(
                        "{s:.2}, above {:.0}% of its class",
                        100.0 * below as f64 / of.max(1) as f64
                    ))
                    .on_hover_text(format!("{SPECTRAL_HELP} Each class's mean is 1."));
                    ui.end_row();
                }
            }
            if let Some(t) = &truth {
                ui.label("true label");
                let tl = t
                    .true_label
                    .get(i)
                    .copied()
                    .flatten()
                    .map_or("?".into(), class);
                let (kind, colour) = super::truth_line(ui, t, i);
                ui.label(RichText::new(format!("{tl} ({kind})")).color(colour));
                ui.end_row();
            }
        });
    let shown_cut = v.cut.as_ref().map(|c| (c.record.round, c.kept[i]));
    if let Some(cut) = &v.cut {
        let kept = cut.kept[i];
        // The user's word over the cut's, as the exports and the next run apply it.
        let over = match (state.decision(i), kept) {
            (Some(crate::session::Decision::Exclude), true) => ", excluded by your decision",
            (Some(crate::session::Decision::Keep), false) => ", kept by your decision",
            (Some(crate::session::Decision::Relabel(_)), false) => {
                ", kept relabelled by your decision"
            }
            _ => "",
        };
        ui.label(
            RichText::new(if kept {
                format!("kept at tau {:.2}{over}", cut.tau)
            } else {
                format!("trimmed at tau {:.2}{over}", cut.tau)
            })
            .color(if kept { KEPT } else { TRIMMED }),
        );
        if cut.record.is_held_out(i) {
            ui.label(
                RichText::new(
                    "held out by the clustering cut: in a small cluster of its class's \
                     activations that the early rounds trimmed far more often than the rest",
                )
                .color(TRIMMED),
            );
        }
    }
    let checked = state
        .image_checks
        .as_ref()
        .zip(state.data.as_ref())
        .and_then(|(c, d)| c.describe(i, &d.train));
    if let Some(text) = checked {
        ui.label(RichText::new(format!("image: {text}")).color(super::warn(ui)))
            .on_hover_text("The image checks it fails (CleanVision's definitions; a score under its threshold is an issue)");
    }
    if let Some(found) = &state.similar {
        if let Some(d) = found.outlier_distance(i) {
            ui.label(
                RichText::new(format!(
                    "outlier: mean cosine distance {d:.3} to its nearest neighbours (threshold {:.3})",
                    found.similar.outlier_threshold
                ))
                .color(super::warn(ui)),
            );
        }
        let copies = found.copies_of(i);
        if !copies.is_empty() {
            ui.label(if copies.len() == 1 {
                "1 copy in the set:".to_string()
            } else {
                format!("{} copies in the set:", copies.len())
            });
            for (j, exact, cosine) in copies.into_iter().take(8) {
                let what = if exact {
                    "same file content".to_string()
                } else {
                    format!("near copy, cosine {cosine:.3}")
                };
                if ui
                    .link(format!("sample {j}: {} ({what})", train.id(j)))
                    .on_hover_text("Open this sample")
                    .clicked()
                {
                    out.push(Command::SelectSample(Some(j)));
                }
            }
        }
    }
    let Some(run) = state.run.as_ref() else {
        return;
    };
    // The rounds up to the shown one, that one by the slider's cut (as an export counts).
    if let Some((shown, kept_now)) = shown_cut {
        let times_trimmed = crate::itlm::record::times_trimmed(&run.history, i, shown, kept_now);
        ui.label(format!(
            "trimmed in {times_trimmed} of {} up to round {shown}",
            crate::plural(shown + 1, "round")
        ))
        .on_hover_text("Rounds 0 to the shown one; the shown round by the slider's tau");
    }
    // Loss across rounds.
    ui.label(RichText::new("Loss across rounds").strong());
    let pts: Vec<[f64; 2]> = run
        .history
        .iter()
        .map(|r| [r.round as f64, r.loss[i] as f64])
        .filter(|p| p[1].is_finite())
        .collect();
    let shown = state.record().map(|r| r.round as f64);
    Plot::new(("detail_loss", i))
        .height(120.0)
        .allow_scroll(false)
        .allow_zoom(false)
        .allow_drag(false)
        .x_axis_label("round")
        .x_grid_spacer(super::metrics::round_grid)
        .show(ui, |p| {
            p.line(Line::new("loss", PlotPoints::new(pts.clone())).color(TRIMMED));
            p.points(
                Points::new("loss points", PlotPoints::new(pts))
                    .radius(3.0)
                    .color(TRIMMED),
            );
            if let Some(x) = shown {
                p.vline(VLine::new("", x).color(Color32::GRAY));
            }
        })
        .response
        .widget_info(|| {
            egui::WidgetInfo::labeled(egui::Role::Image, true, "Loss across rounds plot")
        });
    // Class probabilities.
    let Some(rec) = state.record() else { return };
    let probs = rec.probs_of(i, train.num_classes());
    if probs.is_empty() {
        return;
    }
    ui.label(RichText::new(format!("Class probabilities (round {})", rec.round)).strong());
    let given = train.label(i) as usize;
    let pred = rec.predicted.get(i).copied().unwrap_or(0) as usize;
    probability_bars_ui(ui, probs, &train.classes, given, pred);
    ui.horizontal_wrapped(|ui| {
        let small = |t: &str, c: Color32| RichText::new(t).small().color(c);
        ui.label(small("blue: the given label", KEPT));
        if pred != given {
            ui.label(small("orange: the predicted one", TRIMMED));
        }
        ui.label(small("grey: other classes", Color32::GRAY));
    });
}

/// One row per class: its name, a bar of its probability and the value. The given and the
/// predicted class always show; with many classes, the others only if among the 10 likeliest.
pub(super) fn probability_bars_ui(
    ui: &mut egui::Ui,
    probs: &[f32],
    classes: &[String],
    given: usize,
    pred: usize,
) {
    let mut order: Vec<usize> = (0..probs.len()).collect();
    order.sort_by(|&a, &b| probs[b].total_cmp(&probs[a]).then(a.cmp(&b)));
    let shown: Vec<usize> = if probs.len() <= 12 {
        (0..probs.len()).collect()
    } else {
        let mut v: Vec<usize> = order.iter().copied().take(10).collect();
        for c in [given, pred] {
            if !v.contains(&c) {
                v.push(c);
            }
        }
        v.sort_unstable();
        v
    };
    egui::Grid::new("detail_probs")
        .num_columns(3)
        .spacing([6.0, 2.0])
        .show(ui, |ui| {
            for c in shown {
                let p = probs[c].clamp(0.0, 1.0);
                let color = if c == given {
                    KEPT
                } else if c == pred {
                    TRIMMED
                } else {
                    Color32::GRAY
                };
                let name: String = classes
                    .get(c)
                    .map_or("?".into(), |n| n.chars().take(16).collect());
                ui.label(RichText::new(name).color(color));
                probability_bar_ui(ui, 150.0, p, color, classes.get(c).map_or("?", |s| s));
                ui.end_row();
            }
        });
}

/// One class's probability `p` (in 0..=1) as a bar `width` wide in `color`, its value after
/// it; named `p(<name>) = ...` for screen readers and tests.
pub fn probability_bar_ui(ui: &mut egui::Ui, width: f32, p: f32, color: Color32, name: &str) {
    let (rect, resp) = ui.allocate_exact_size(egui::vec2(width, 12.0), egui::Sense::hover());
    let painter = ui.painter();
    painter.rect_filled(rect, 2.0, ui.visuals().extreme_bg_color);
    let mut bar = rect;
    bar.set_width((rect.width() * p).max(if p > 0.0 { 1.0 } else { 0.0 }));
    painter.rect_filled(bar, 2.0, color);
    resp.widget_info(|| {
        egui::WidgetInfo::labeled(egui::Role::Image, true, format!("p({name}) = {p:.3}"))
    });
    ui.label(format!("{p:.3}"));
}

/// What the spectral score is, for hovers.
pub const SPECTRAL_HELP: &str =
    "Spectral signature (Tran et al. 2018): the squared distance from the \
     class's mean along the class's top direction of this round's model's penultimate \
     activations, over the variance along it. A backdoor's stamped images share a direction that \
     the clean images of their class lack, so they score high even where their loss is low \
     (look-alike classes such as Shirt -> T-shirt).";
