//! The embedding map: every sample as a point on the first two principal components
//! ([`crate::session::projection`]) of its vector: the backbone embedding when the run has
//! one, else the shown round's class probabilities (so the map works for every classifier).
//! Points are coloured by kept / trimmed at the cut, by given class, by the truth (when the
//! set has one) or by the user's decision; hovering shows the sample's thumbnail and labels, a
//! click opens it in the detail view, and a shift-drag selects the samples in the grid: a box,
//! or a lasso (a free-hand outline) when the lasso tool is chosen. The projection runs off the UI thread once per round (and vector source) and is
//! cached; the points are painted into one image of the plot's pixels ([`super::map_raster`]),
//! painted again only when what it shows changes, so a frame costs the same at 100k points
//! as at 100.

use std::sync::Arc;

use egui::{Color32, CornerRadius, Pos2, Rect, RichText, Stroke, StrokeKind};
use egui_plot::{MarkerShape, Plot, PlotImage, PlotPoint, Points};

use crate::learner::head::FeatureMatrix;
use crate::session::projection::{pca2, Projection};

use super::command::{Command, Commands, View};
use super::histogram::{KEPT, TRIMMED};
use super::map_raster::{self, Area, Layer, Marker};
use super::pending::{Pending, Polled, Repaint};
use super::thumbs::Thumbs;
use crate::itlm::Decision;

/// Whether `p` lies inside the polygon `outline` (even-odd rule, closed implicitly).
fn inside(outline: &[[f64; 2]], p: [f64; 2]) -> bool {
    let mut inside = false;
    let mut j = outline.len().wrapping_sub(1);
    for (i, a) in outline.iter().enumerate() {
        let b = outline[j];
        if (a[1] > p[1]) != (b[1] > p[1]) {
            let x = a[0] + (p[1] - a[1]) / (b[1] - a[1]) * (b[0] - a[0]);
            if p[0] < x {
                inside = !inside;
            }
        }
        j = i;
    }
    inside
}

/// What the points are coloured by.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Colouring {
    #[default]
    KeptTrimmed,
    GivenClass,
    /// Truly bad / clean, when the set names its bad samples.
    Truth,
    /// The user's decision: excluded / kept / relabelled / none.
    Decision,
}

/// The shift-drag selection tool.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Tool {
    #[default]
    Box,
    Lasso,
}

/// Which vectors a projection was made of (a new round or source makes a new one).
#[derive(Clone, Debug, PartialEq, Eq)]
struct Key {
    /// The round record's address (records are `Arc`s that live as long as the run).
    record: usize,
    round: usize,
    n: usize,
    embeddings: bool,
}

/// The map's own state: the cached projection, the one being computed, and the box drag.
#[derive(Default)]
pub struct EmbeddingMap {
    pub colouring: Colouring,
    done: Option<(Key, Arc<Projection>)>,
    running: Option<(Key, Pending<crate::Result<Projection>>)>,
    /// Why the projection of `failed` could not be made.
    error: Option<String>,
    failed: Option<Key>,
    pub tool: Tool,
    /// Screen position where a shift-drag began.
    drag_from: Option<Pos2>,
    /// The lasso's outline so far (screen positions).
    lasso: Vec<Pos2>,
    /// The plot's screen rectangle and transform last frame (tests drag across it).
    pub plot_rect: Option<Rect>,
    pub plot_transform: Option<egui_plot::PlotTransform>,
    /// The series the user hid by clicking their legend entry (by name).
    pub hidden: std::collections::BTreeSet<String>,
    /// Which samples' points are shown (not in a hidden series) as last drawn; empty: all.
    /// Hovering, clicking, box and lasso pick only these.
    visible: Vec<bool>,
    /// The painted points: what the image shows, the plot area it covers, and its texture.
    raster: Option<(map_raster::Key, Area)>,
    texture: Option<egui::TextureHandle>,
    /// Images painted so far (tests check that an unchanged map is not painted again).
    pub paints: u64,
}

/// One colour of points: its name, colour and plot positions.
type Series = (String, Color32, Vec<[f64; 2]>);

/// Colours for classes (cycled).
const CLASS_COLOURS: [Color32; 10] = [
    Color32::from_rgb(31, 119, 180),
    Color32::from_rgb(255, 127, 14),
    Color32::from_rgb(44, 160, 44),
    Color32::from_rgb(214, 39, 40),
    Color32::from_rgb(148, 103, 189),
    Color32::from_rgb(140, 86, 75),
    Color32::from_rgb(227, 119, 194),
    Color32::from_rgb(127, 127, 127),
    Color32::from_rgb(188, 189, 34),
    Color32::from_rgb(23, 190, 207),
];

impl EmbeddingMap {
    /// Forget the projections (another dataset); the colouring stays.
    pub fn clear(&mut self) {
        *self = Self {
            colouring: self.colouring,
            tool: self.tool,
            hidden: std::mem::take(&mut self.hidden),
            ..Default::default()
        };
    }

    /// The legend, above the plot rather than over its points: a coloured dot, the name and the
    /// count of each series; a click hides or shows the series.
    fn legend_ui(&mut self, ui: &mut egui::Ui, series: &[Series], selected: usize) {
        ui.horizontal_wrapped(|ui| {
            ui.spacing_mut().item_spacing.x = 10.0;
            for (name, colour, pts) in series {
                let shown = !self.hidden.contains(name);
                let r = legend_entry(
                    ui,
                    *colour,
                    shown,
                    !shown,
                    &format!("{name} ({})", pts.len()),
                )
                .on_hover_text(if shown {
                    "Click to hide these points"
                } else {
                    "Click to show these points"
                });
                if r.clicked() && !self.hidden.remove(name) {
                    self.hidden.insert(name.clone());
                }
            }
            if selected > 0 {
                legend_entry(
                    ui,
                    Color32::LIGHT_BLUE,
                    false,
                    false,
                    &format!("selected ({selected})"),
                )
                .on_hover_text("Ringed: the samples selected in the grid");
            }
        });
    }

    /// The projection shown (None while none is ready).
    pub fn projection(&self) -> Option<&Arc<Projection>> {
        self.done.as_ref().map(|(_, p)| p)
    }

    /// Whether a projection is being computed.
    pub fn computing(&self) -> bool {
        self.running.is_some()
    }

    /// Samples whose points lie in the plot-coordinate box `a`-`b`.
    pub fn points_in(&self, a: [f64; 2], b: [f64; 2]) -> Vec<usize> {
        let Some(p) = self.projection() else {
            return Vec::new();
        };
        let (x0, x1) = (a[0].min(b[0]), a[0].max(b[0]));
        let (y0, y1) = (a[1].min(b[1]), a[1].max(b[1]));
        p.points
            .iter()
            .enumerate()
            .filter(|&(i, q)| {
                let (x, y) = (q[0] as f64, q[1] as f64);
                self.is_visible(i) && (x0..=x1).contains(&x) && (y0..=y1).contains(&y)
            })
            .map(|(i, _)| i)
            .collect()
    }

    /// Whether sample `i`'s point is shown (its series not hidden).
    fn is_visible(&self, i: usize) -> bool {
        self.visible.get(i).copied().unwrap_or(true)
    }

    /// Samples whose points lie inside the polygon `outline` (plot coordinates; closed
    /// implicitly; even-odd rule). Fewer than 3 vertices select nothing.
    pub fn points_within(&self, outline: &[[f64; 2]]) -> Vec<usize> {
        let Some(p) = self.projection() else {
            return Vec::new();
        };
        if outline.len() < 3 {
            return Vec::new();
        }
        p.points
            .iter()
            .enumerate()
            .filter(|&(i, q)| self.is_visible(i) && inside(outline, [q[0] as f64, q[1] as f64]))
            .map(|(i, _)| i)
            .collect()
    }

    /// Start or collect the projection for what `v` shows.
    fn update(&mut self, v: &View, repaint: &Repaint) {
        let Some(cut) = v.cut.as_ref() else {
            return;
        };
        let record = &cut.record;
        let n = record.len();
        let embedded = v.state.embeddings.clone().filter(|e| e.rows == n);
        let classes = cut.classes;
        if embedded.is_none() && (classes == 0 || record.probs.len() != n * classes) {
            return;
        }
        let key = Key {
            record: Arc::as_ptr(record) as usize,
            round: record.round,
            n,
            embeddings: embedded.is_some(),
        };
        if let Some((k, p)) = &self.running {
            match p.poll() {
                Polled::Waiting => return,
                Polled::Done(r) => {
                    let k = k.clone();
                    self.running = None;
                    match r {
                        Ok(proj) => {
                            self.done = Some((k, Arc::new(proj)));
                            self.error = None;
                        }
                        Err(e) => {
                            self.error = Some(e.to_string());
                            self.failed = Some(k);
                        }
                    }
                }
                Polled::Lost(e) => {
                    self.error = Some(format!("the projection failed: {e}"));
                    self.failed = Some(k.clone());
                    self.running = None;
                }
            }
        }
        if self.done.as_ref().is_some_and(|(k, _)| *k == key) || self.failed.as_ref() == Some(&key)
        {
            return;
        }
        self.error = None;
        let vectors = embedded.unwrap_or_else(|| {
            Arc::new(FeatureMatrix {
                rows: n,
                dim: classes,
                values: record.probs.clone().into(),
            })
        });
        match Pending::spawn("embedding-map", repaint, move || {
            pca2(&vectors.values, vectors.dim)
        }) {
            Ok(p) => self.running = Some((key, p)),
            Err(e) => {
                self.error = Some(e);
                self.failed = Some(key);
            }
        }
    }

    pub fn ui(
        &mut self,
        ui: &mut egui::Ui,
        v: &View,
        thumbs: &mut Thumbs,
        selection: &std::collections::BTreeSet<usize>,
        repaint: &Repaint,
        out: &mut Commands,
    ) {
        let Some(cut) = v.cut.clone() else {
            ui.label("Embedding map: no finished round yet");
            return;
        };
        let Some(data) = v.state.data.as_ref() else {
            return;
        };
        if v.state.generative() {
            ui.label("Embedding map: needs a classifier's class probabilities or a backbone");
            return;
        }
        self.update(v, repaint);
        let source = if v.state.embeddings.is_some() {
            "backbone embeddings"
        } else {
            "class probabilities"
        };
        // Two rows: the title, then the colourings and the tools (on one wrapped row, a
        // narrow panel broke the colourings in the middle).
        ui.horizontal_wrapped(|ui| {
            ui.label(RichText::new(format!("Embedding map, round {}", cut.record.round)).strong());
            ui.label(RichText::new(format!("(PCA of the {source})")).small());
        });
        ui.horizontal_wrapped(|ui| {
            ui.label(RichText::new("colour:").small());
            ui.selectable_value(
                &mut self.colouring,
                Colouring::KeptTrimmed,
                "kept / trimmed",
            );
            ui.selectable_value(&mut self.colouring, Colouring::GivenClass, "given class");
            let truth = data.bad.is_some();
            if truth {
                ui.selectable_value(&mut self.colouring, Colouring::Truth, "truth")
                    .on_hover_text("Truly bad / clean (the set names its bad samples)");
            } else if self.colouring == Colouring::Truth {
                self.colouring = Colouring::KeptTrimmed;
            }
            ui.selectable_value(&mut self.colouring, Colouring::Decision, "decision")
                .on_hover_text("Your decisions: excluded / kept / relabelled");
            ui.separator();
            ui.label(RichText::new("shift-drag:").small());
            ui.selectable_value(&mut self.tool, Tool::Box, "box")
                .on_hover_text("Shift-drag a rectangle to select its points in the grid");
            ui.selectable_value(&mut self.tool, Tool::Lasso, "lasso")
                .on_hover_text("Shift-drag a free-hand outline to select the points inside it");
        });
        if let Some(e) = &self.error {
            ui.colored_label(
                Color32::from_rgb(255, 120, 120),
                format!("Embedding map: {e}"),
            );
            return;
        }
        let Some(proj) = self.projection().cloned() else {
            ui.horizontal(|ui| {
                ui.spinner();
                ui.label("projecting...");
            });
            return;
        };
        if proj.points.len() != cut.kept.len() {
            // The projection of an earlier round while this one's is computed.
            ui.spinner();
            return;
        }
        ui.label(
            RichText::new(format!(
                "axes carry {:.0}% and {:.0}% of the spread - shift-drag a {} to select in the grid, click a point to open it",
                proj.explained[0] * 100.0,
                proj.explained[1] * 100.0,
                match self.tool {
                    Tool::Box => "box",
                    Tool::Lasso => "lasso",
                }
            ))
            .small()
            .color(Color32::GRAY),
        );
        let train = data.train.clone();
        // One series per colour.
        let mut series: Vec<Series> = match self.colouring {
            Colouring::KeptTrimmed => vec![
                ("kept".into(), KEPT, Vec::new()),
                ("trimmed".into(), TRIMMED, Vec::new()),
            ],
            Colouring::GivenClass => train
                .classes
                .iter()
                .enumerate()
                .map(|(c, name)| {
                    (
                        name.clone(),
                        CLASS_COLOURS[c % CLASS_COLOURS.len()],
                        Vec::new(),
                    )
                })
                .collect(),
            Colouring::Truth => vec![
                ("clean".into(), KEPT, Vec::new()),
                ("truly bad".into(), TRIMMED, Vec::new()),
            ],
            Colouring::Decision => vec![
                ("no decision".into(), Color32::from_gray(110), Vec::new()),
                ("excluded".into(), TRIMMED, Vec::new()),
                ("kept".into(), KEPT, Vec::new()),
                (
                    "relabelled".into(),
                    Color32::from_rgb(240, 200, 60),
                    Vec::new(),
                ),
            ],
        };
        let bad = data.bad.clone();
        let mut series_of = Vec::with_capacity(proj.points.len());
        for (i, q) in proj.points.iter().enumerate() {
            let s = match self.colouring {
                Colouring::KeptTrimmed => usize::from(!cut.kept[i]),
                Colouring::GivenClass => train.label(i) as usize,
                Colouring::Truth => usize::from(
                    bad.as_ref()
                        .is_some_and(|b| b.get(i).copied() == Some(true)),
                ),
                Colouring::Decision => match v.state.decision(i) {
                    None => 0,
                    Some(Decision::Exclude) => 1,
                    Some(Decision::Keep) => 2,
                    Some(Decision::Relabel(_)) => 3,
                },
            };
            series_of.push(s);
            if let Some(s) = series.get_mut(s) {
                s.2.push([q[0] as f64, q[1] as f64]);
            }
        }
        let shift = ui.input(|i| i.modifiers.shift);
        let selected = v.state.selected_sample;
        let radius = if proj.points.len() > 5000 { 1.2 } else { 2.0 };
        let chosen: Vec<[f64; 2]> = selection
            .iter()
            .filter_map(|&i| proj.points.get(i))
            .map(|q| [q[0] as f64, q[1] as f64])
            .collect();
        self.legend_ui(ui, &series, chosen.len());
        self.visible = series_of
            .iter()
            .map(|&s| series.get(s).is_none_or(|x| !self.hidden.contains(&x.0)))
            .collect();
        let hidden = &self.hidden;
        let series: Vec<_> = series
            .into_iter()
            .filter(|s| !hidden.contains(&s.0))
            .collect();
        let ppp = ui.ctx().pixels_per_point();
        let mut layers: Vec<Layer<'_>> = series
            .iter()
            .map(|s| Layer {
                colour: s.1,
                marker: Marker::Disc(radius * ppp),
                points: &s.2,
            })
            .collect();
        // The grid's selection (a box or lasso made here, or clicks in the grid): rings.
        layers.push(Layer {
            colour: Color32::LIGHT_BLUE,
            marker: Marker::Ring((radius + 2.0) * ppp),
            points: &chosen,
        });
        // The image covers the data's area where it is in view, at the plot's pixel size (last
        // frame's view: a pan or zoom paints again one frame later).
        let data_area = Area::around(proj.points.iter().map(|q| [q[0] as f64, q[1] as f64]))
            .map(|a| a.padded(0.02));
        let view = self.plot_transform.map(|t| {
            let b = t.bounds();
            (
                Area {
                    min: b.min(),
                    max: b.max(),
                },
                t.frame().size(),
            )
        });
        let target = match (data_area, view) {
            (Some(d), Some((v, frame))) => d.intersect(v).map(|a| {
                let px = |share: f64, side: f32| {
                    (share * (side * ppp) as f64).round().clamp(1.0, 4096.0) as usize
                };
                let w = px(a.width() / v.width(), frame.x);
                let h = px(a.height() / v.height(), frame.y);
                (a, w, h)
            }),
            (Some(d), None) => Some((d, 400, 300)),
            (None, _) => None,
        };
        // Scrolled out of sight (last frame): the image waits until the plot is seen again.
        let hidden_last = self
            .plot_rect
            .is_some_and(|r| !ui.clip_rect().intersects(r));
        match target {
            Some(_) if hidden_last && self.texture.is_some() => {}
            Some((area, w, h)) => {
                let key = map_raster::Key::of(&layers, area, w, h);
                if self.raster.map(|r| r.0) != Some(key) || self.texture.is_none() {
                    let img = map_raster::paint(&layers, area, w, h);
                    self.paints += 1;
                    match &mut self.texture {
                        Some(t) => t.set(img, egui::TextureOptions::LINEAR),
                        None => {
                            self.texture = Some(ui.ctx().load_texture(
                                "embedding_map_points",
                                img,
                                egui::TextureOptions::LINEAR,
                            ))
                        }
                    }
                    self.raster = Some((key, area));
                }
            }
            None => self.raster = None,
        }
        let image = self
            .texture
            .as_ref()
            .zip(self.raster)
            .map(|(t, (_, area))| (t.id(), area));
        let hover_ink = super::ink(ui);
        let resp = Plot::new("embedding_map")
            .height(300.0)
            .data_aspect(1.0)
            .show_x(false)
            .show_y(false)
            .allow_drag(!shift)
            // The wheel scrolls the panel (it panned the map away when the pointer crossed it);
            // ctrl + wheel zooms, a drag pans, a double click fits the data again.
            .allow_scroll(false)
            .allow_boxed_zoom(false)
            .show(ui, |pu| {
                if let Some((id, a)) = image {
                    let centre =
                        PlotPoint::new((a.min[0] + a.max[0]) / 2.0, (a.min[1] + a.max[1]) / 2.0);
                    let size = egui::vec2(a.width() as f32, a.height() as f32);
                    pu.add(PlotImage::new("points", id, centre, size).allow_hover(false));
                }
                // Invisible corners of the data, so that the plot fits its bounds to the data
                // (not to the image, which may cover only the zoomed-in view).
                if let Some(d) = data_area {
                    pu.add(
                        Points::new("extent", vec![d.min, d.max])
                            .color(Color32::TRANSPARENT)
                            .radius(0.0)
                            .allow_hover(false),
                    );
                }
                if let Some(q) = selected.and_then(|i| proj.points.get(i)) {
                    pu.add(
                        Points::new("open", vec![[q[0] as f64, q[1] as f64]])
                            .shape(MarkerShape::Circle)
                            .filled(false)
                            .radius(6.0)
                            .color(hover_ink),
                    );
                }
            });
        // A new view or size: paint for it in the next frame.
        let now = (
            resp.transform.bounds().min(),
            resp.transform.bounds().max(),
            resp.transform.frame().size(),
        );
        let seen_now = ui.clip_rect().intersects(resp.response.rect);
        if view.is_none_or(|(v, f)| (v.min, v.max, f) != now) || (hidden_last && seen_now) {
            ui.ctx().request_repaint();
        }
        let r = &resp.response;
        self.plot_rect = Some(r.rect);
        let t = &resp.transform;
        self.plot_transform = Some(*t);
        // The sample under the pointer (within 6 points).
        let nearest = r.hover_pos().and_then(|pos| {
            proj.points
                .iter()
                .enumerate()
                .filter(|&(i, _)| self.is_visible(i))
                .map(|(i, q)| {
                    let s = t.position_from_point(&PlotPoint::new(q[0], q[1]));
                    (i, s.distance_sq(pos))
                })
                .min_by(|a, b| a.1.total_cmp(&b.1))
                .filter(|(_, d)| *d <= 36.0)
                .map(|(i, _)| i)
        });
        if r.drag_started() && shift {
            // Where the button went down, not where the drag was recognised.
            self.drag_from = ui
                .input(|i| i.pointer.press_origin())
                .or(r.interact_pointer_pos());
            self.lasso = self.drag_from.into_iter().collect();
        }
        if let (Some(from), Some(to)) = (self.drag_from, r.interact_pointer_pos()) {
            let stroke = Stroke::new(1.0, Color32::LIGHT_BLUE);
            let selected = match self.tool {
                Tool::Box => {
                    let area = Rect::from_two_pos(from, to);
                    ui.painter()
                        .rect_stroke(area, CornerRadius::ZERO, stroke, StrokeKind::Inside);
                    r.drag_stopped().then(|| {
                        let (a, b) = (t.value_from_position(from), t.value_from_position(to));
                        self.points_in([a.x, a.y], [b.x, b.y])
                    })
                }
                Tool::Lasso => {
                    // A vertex every 3 points of movement keeps the outline short.
                    if self.lasso.last().is_none_or(|l| l.distance(to) >= 3.0) {
                        self.lasso.push(to);
                    }
                    let mut outline = self.lasso.clone();
                    outline.push(from);
                    ui.painter().add(egui::Shape::line(outline, stroke));
                    r.drag_stopped().then(|| {
                        let outline: Vec<[f64; 2]> = self
                            .lasso
                            .iter()
                            .map(|&p| {
                                let q = t.value_from_position(p);
                                [q.x, q.y]
                            })
                            .collect();
                        self.points_within(&outline)
                    })
                }
            };
            if let Some(selected) = selected {
                out.push(Command::SelectSamples(selected));
                self.drag_from = None;
                self.lasso.clear();
            }
        } else if !r.dragged() {
            self.drag_from = None;
            self.lasso.clear();
        }
        if let Some(i) = nearest {
            let given = train.label(i);
            let pred = cut.record.predicted.get(i).copied().unwrap_or(given);
            let text = format!(
                "sample {i}: {}\ngiven {} - predicted {}\n{} (loss {:.3})",
                train.id(i),
                train.class_name(given),
                train.class_name(pred),
                if cut.kept[i] { "kept" } else { "trimmed" },
                cut.record.loss.get(i).copied().unwrap_or(f32::NAN)
            );
            if r.clicked() {
                out.push(Command::SelectSample(Some(i)));
            }
            let tex = thumbs.get(ui.ctx(), &train, i);
            r.clone().on_hover_ui_at_pointer(|ui| {
                if let Some(tex) = tex {
                    let s = train.shape;
                    let scale = 96.0 / s.width.max(s.height).max(1) as f32;
                    ui.image((tex, egui::vec2(s.width as f32, s.height as f32) * scale));
                }
                ui.label(text);
            });
        }
    }
}

/// One legend entry: a dot of `colour` (a ring when `filled` is false) and `text` (grey when
/// `dim`: a hidden series), as one
/// clickable widget (so that the dot and its name wrap together).
fn legend_entry(
    ui: &mut egui::Ui,
    colour: Color32,
    filled: bool,
    dim: bool,
    text: &str,
) -> egui::Response {
    let text_colour = if !dim {
        ui.visuals().text_color()
    } else {
        Color32::GRAY
    };
    let galley = egui::WidgetText::from(text).into_galley(
        ui,
        Some(egui::TextWrapMode::Extend),
        f32::INFINITY,
        egui::TextStyle::Body,
    );
    let size = egui::vec2(14.0 + galley.size().x, galley.size().y.max(12.0));
    let (rect, r) = ui.allocate_exact_size(size, egui::Sense::click());
    let centre = egui::pos2(rect.left() + 5.0, rect.center().y);
    if filled {
        ui.painter().circle_filled(centre, 4.0, colour);
    } else {
        ui.painter()
            .circle_stroke(centre, 3.5, Stroke::new(1.5, colour));
    }
    let top = rect.center().y - galley.size().y / 2.0;
    ui.painter()
        .galley(egui::pos2(rect.left() + 14.0, top), galley, text_colour);
    r.widget_info(|| egui::WidgetInfo::labeled(egui::Role::Button, true, text));
    r
}
