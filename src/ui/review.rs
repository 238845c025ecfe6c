//! The review queue: the flagged (trimmed) samples of the shown round under the grid's filters,
//! one large image at a time, highest loss first or nearest the cut first, with what the runs
//! say of it (given, predicted, p(given), loss over rounds, class probabilities) and the
//! nearest kept samples of its given and of its predicted class. Keys: K keep, X exclude,
//! R accept the predicted class, 0-9 relabel to that class, Backspace undo, Left/Right (or
//! Up/Down) skip. A decision moves on to the next sample without one.

use egui::{Color32, RichText, TextureHandle};

use crate::session::decisions::Decision;

use super::command::{Command, Commands, View};
use super::detail::Original;
use super::grid_bar::{grid_bar_ui, FilterText};
use super::histogram::{BAD, KEPT, TRIMMED};
use super::pending::Repaint;
use super::thumbs::{color_image, Thumbs};
use super::view::SortKey;

/// In which order the queue runs.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ReviewOrder {
    /// Highest loss first: the likeliest bad samples.
    #[default]
    HighestLoss,
    /// Nearest the cut first: the samples the cut was least sure of.
    Boundary,
}

/// The queue's own state: where it is, its order, the image shown.
#[derive(Default)]
pub struct ReviewPanel {
    pub order: ReviewOrder,
    /// The sample shown (a dataset index), kept while the queue changes under it once the
    /// user moved in the queue (before that: the queue's first sample without a decision).
    pub current: Option<usize>,
    original: Option<Original>,
    tex: Option<(u64, usize, bool, TextureHandle)>,
    /// The class picked for "relabel to", and the sample it was picked for: a sample shown
    /// anew starts at its own relabel's class, else its predicted one (the pick of the sample
    /// before had stayed).
    relabel_to: u32,
    relabel_for: Option<usize>,
    /// The samples decided from the queue, latest last: Backspace's undo goes back to it.
    decided: Vec<usize>,
    /// The shown sample's decision when the relabel class was picked for it: when it changes
    /// (an undo, a decision made elsewhere), the pick starts again from it.
    relabel_seen: Option<Decision>,
    /// The sample shown when a filter hid it: shown again once the queue holds it (typing a
    /// path filter and clearing it had moved the queue on, past undecided samples).
    hidden: Option<usize>,
    /// The run the queue was shown for (when it started): a new run starts the queue again
    /// at its first sample (the card had kept the last run's sample).
    run_seen: Option<std::time::Instant>,
    /// Whether the user moved in the queue (or decided from it) since the run started: until
    /// then the card shows the queue's first undecided sample, as the rounds of a live run
    /// come in (it had stayed at the sample first of round 0's queue).
    moved: bool,
}

impl ReviewPanel {
    /// The class "Relabel" would give, and the sample it was picked for (as last drawn).
    pub fn relabel_pick(&self) -> Option<(usize, u32)> {
        self.relabel_for.map(|i| (i, self.relabel_to))
    }

    /// The queue: the shown grid's trimmed samples in the chosen order.
    pub fn queue(&self, v: &View) -> Vec<usize> {
        let Some(lists) = &v.lists else {
            return Vec::new();
        };
        let mut q = lists.trimmed.clone();
        if self.order == ReviewOrder::Boundary {
            q.reverse();
        }
        q
    }

    /// The position of the shown sample in `queue` (when none is shown or it left the queue:
    /// the first without a decision, else the first).
    fn position(&self, queue: &[usize], v: &View) -> usize {
        self.current
            .and_then(|c| queue.iter().position(|&i| i == c))
            .or_else(|| queue.iter().position(|&i| v.state.decision(i).is_none()))
            .unwrap_or(0)
    }

    /// A new run (or none where there was one): the queue starts again at its first sample
    /// without a decision, and the relabel pick at that sample's class.
    fn follow_run(&mut self, v: &View) {
        let run = v.state.run.as_ref().map(|r| r.started);
        if run != self.run_seen {
            self.run_seen = run;
            self.current = None;
            self.hidden = None;
            self.relabel_for = None;
            self.relabel_seen = None;
            self.moved = false;
        }
        if !self.moved {
            self.current = None;
        }
    }

    /// Move by `delta` in the queue.
    pub fn step(&mut self, v: &View, delta: isize) {
        let q = self.queue(v);
        if q.is_empty() {
            return;
        }
        let p = self.position(&q, v) as isize + delta;
        self.current = Some(q[p.clamp(0, q.len() as isize - 1) as usize]);
        self.hidden = None;
        self.moved = true;
    }

    /// After a decision on the shown sample: the next sample of the queue without one.
    fn advance(&mut self, v: &View, decided: usize) {
        let q = self.queue(v);
        let p = self.position(&q, v);
        let next = q
            .iter()
            .skip(p + 1)
            .chain(q.iter().take(p))
            .copied()
            .find(|&i| i != decided && v.state.decision(i).is_none());
        if let Some(n) = next {
            self.current = Some(n);
        }
        self.hidden = None;
        self.moved = true;
    }

    /// The queue's keys (called when the Review tab is shown and no text field has focus).
    pub fn keys(&mut self, ctx: &egui::Context, v: &View, out: &mut Commands) {
        use egui::Key;
        self.follow_run(v);
        let q = self.queue(v);
        let Some(&i) = q.get(self.position(&q, v)) else {
            return;
        };
        let classes = v.state.data.as_ref().map_or(0, |d| d.train.num_classes());
        let digits = [
            Key::Num0,
            Key::Num1,
            Key::Num2,
            Key::Num3,
            Key::Num4,
            Key::Num5,
            Key::Num6,
            Key::Num7,
            Key::Num8,
            Key::Num9,
        ];
        let mut decided = None;
        ctx.input(|inp| {
            if !inp.modifiers.is_none() && !inp.modifiers.shift_only() {
                return;
            }
            if inp.key_pressed(Key::K) {
                decided = Some(Some(Decision::Keep));
            } else if inp.key_pressed(Key::X) {
                decided = Some(Some(Decision::Exclude));
            } else if inp.key_pressed(Key::R) {
                decided = v.state.predicted(i).map(|p| Some(Decision::Relabel(p)));
            } else if let Some(c) = digits.iter().position(|&k| inp.key_pressed(k)) {
                if c < classes {
                    decided = Some(Some(Decision::Relabel(c as u32)));
                }
            }
        });
        let (back, fwd, undo) = ctx.input(|inp| {
            (
                inp.key_pressed(Key::ArrowLeft) || inp.key_pressed(Key::ArrowUp),
                inp.key_pressed(Key::ArrowRight) || inp.key_pressed(Key::ArrowDown),
                inp.key_pressed(Key::Backspace),
            )
        });
        if let Some(d) = decided {
            out.push(Command::Decide(vec![i], d));
            self.decided.push(i);
            self.current = Some(i);
            self.advance(v, i);
        } else if undo {
            out.push(Command::Undo);
            // Back to the sample whose decision is undone, to decide it again.
            if let Some(last) = self.decided.pop() {
                self.current = Some(last);
                self.moved = true;
            }
        } else if back {
            self.step(v, -1);
        } else if fwd {
            self.step(v, 1);
        }
    }

    pub fn ui(
        &mut self,
        ui: &mut egui::Ui,
        v: &View,
        thumbs: &mut Thumbs,
        text: &mut FilterText,
        repaint: &Repaint,
        out: &mut Commands,
    ) {
        let (Some(lists), Some(data)) = (&v.lists, v.state.data.as_ref()) else {
            ui.label("Review: no finished round yet.");
            return;
        };
        self.follow_run(v);
        grid_bar_ui(ui, v, lists, text, out);
        let q = self.queue(v);
        let reviewed = q.iter().filter(|&&i| v.state.decision(i).is_some()).count();
        ui.horizontal_wrapped(|ui| {
            ui.label(RichText::new(format!("{reviewed} of {} reviewed", q.len())).strong());
            ui.separator();
            ui.label("order");
            // The queue is the grid's trimmed list: by loss, the two orders are the likeliest
            // bad samples first and the cut's least sure first; by another key, its order and
            // that order reversed.
            let sort = v.state.sort;
            let (first, second) = if sort.key == SortKey::Score && !sort.reverse {
                (
                    "highest loss first".to_string(),
                    "nearest the cut first".to_string(),
                )
            } else {
                let key = sort.key.name();
                let dir = if sort.reverse {
                    "least suspicious"
                } else {
                    "most suspicious"
                };
                (
                    format!("by {key}, {dir} first"),
                    "that order reversed".into(),
                )
            };
            ui.selectable_value(&mut self.order, ReviewOrder::HighestLoss, first)
                .on_hover_text("The grid bar's sort decides the order");
            ui.selectable_value(&mut self.order, ReviewOrder::Boundary, second);
        });
        // A filter that hides the shown sample shows another; clearing it goes back.
        if let Some(c) = self.current.filter(|c| !q.contains(c)) {
            self.hidden.get_or_insert(c);
        }
        if let Some(h) = self.hidden.filter(|h| q.contains(h)) {
            self.current = Some(h);
            self.hidden = None;
        }
        let pos = self.position(&q, v);
        let Some(&i) = q.get(pos) else {
            ui.label("Nothing to review at this cut and filter.");
            return;
        };
        self.current = Some(i);
        let train = &data.train;
        let images = data.has_images();
        // The original file, decoded off the UI thread; the stored pixels until then.
        if self.original.as_ref().is_none_or(|o| o.index != i) {
            self.original = train.file(i).map(|f| Original::decode(i, f, repaint));
        }
        if let Some(o) = &mut self.original {
            o.poll();
        }
        let rgba = self
            .original
            .as_ref()
            .filter(|o| o.index == i)
            .and_then(|o| o.rgba.as_ref());
        let key = (v.state.generation, i, rgba.is_some());
        if self
            .tex
            .as_ref()
            .is_none_or(|(g, j, o, _)| (*g, *j, *o) != key)
        {
            let img = match rgba {
                Some((w, h, px)) => egui::ColorImage::from_rgba_unmultiplied([*w, *h], px),
                None => color_image(train, i),
            };
            let t = ui
                .ctx()
                .load_texture("review", img, super::thumbs::SAMPLE_TEXTURE);
            self.tex = Some((key.0, key.1, key.2, t));
        }
        let Some(record) = v.state.record() else {
            return;
        };
        // A generative run (the VAE) predicts no class: the card shows the given label and
        // the loss, and offers no prediction to accept.
        let generative = v.state.generative();
        let given = train.label(i);
        let pred = if generative {
            given
        } else {
            record.predicted.get(i).copied().unwrap_or(given)
        };
        let decision = v.state.decision(i);
        ui.separator();
        // The sample's title line, then the decisions: they stay above the fold whatever
        // the window's header takes (the image below takes the height left).
        ui.horizontal_wrapped(|ui| {
            ui.label(RichText::new(format!("{} of {}: sample {i}", pos + 1, q.len())).strong());
            ui.label(RichText::new(train.id(i)).small().color(Color32::GRAY));
        });
        let mut chosen: Option<Option<Decision>> = None;
        let mut step = 0isize;
        ui.horizontal_wrapped(|ui| {
            let mut act = |ui: &mut egui::Ui, label: &str, hint: &str, d: Option<Decision>| {
                if ui.button(label).on_hover_text(hint).clicked() {
                    chosen = Some(d);
                }
            };
            act(
                ui,
                "Keep (K)",
                "Fine as it is: keep it, do not flag it again",
                Some(Decision::Keep),
            );
            act(
                ui,
                "Exclude (X)",
                "Truly bad: never train on it",
                Some(Decision::Exclude),
            );
            if pred != given {
                act(
                    ui,
                    &format!("Accept {} (R)", train.class_name(pred)),
                    "Relabel to the predicted class",
                    Some(Decision::Relabel(pred)),
                );
            }
            if self.relabel_for != Some(i) || self.relabel_seen != decision {
                self.relabel_for = Some(i);
                self.relabel_seen = decision;
                self.relabel_to = match decision {
                    Some(Decision::Relabel(c)) => c,
                    _ => pred,
                };
            }
            let mut to = self
                .relabel_to
                .min(train.num_classes().saturating_sub(1) as u32);
            egui::ComboBox::from_id_salt("review_relabel")
                .selected_text(train.class_name(to).to_string())
                .show_ui(ui, |ui| {
                    for (c, name) in train.classes.iter().enumerate() {
                        let digit = if c < 10 {
                            format!(" ({c})")
                        } else {
                            String::new()
                        };
                        ui.selectable_value(&mut to, c as u32, format!("{name}{digit}"));
                    }
                });
            act(
                ui,
                "Relabel",
                "Relabel to the class picked (or press its digit)",
                Some(Decision::Relabel(to)),
            );
            self.relabel_to = to;
            if decision.is_some() {
                act(ui, "Clear", "Take the decision back", None);
            }
            ui.separator();
            if ui.button("< Previous").clicked() {
                step = -1;
            }
            if ui.button("Next >").clicked() {
                step = 1;
            }
        });
        ui.add_space(4.0);
        // The image fills the height left in view (the scroll area's), between 120 and 300
        // px, and leaves the text beside it room.
        let side = (ui.available_height() - 8.0)
            .min(ui.available_width() * 0.5)
            .clamp(120.0, 300.0);
        ui.horizontal_top(|ui| {
            if let (true, Some((_, _, _, t))) = (images, &self.tex) {
                let size = t.size_vec2();
                let scale = (side / size.x.max(1.0)).min(side / size.y.max(1.0));
                ui.add(
                    egui::Image::new((t.id(), size * scale)).alt_text(format!("review sample {i}")),
                );
            } else {
                ui.label(RichText::new(train.id(i)).monospace());
            }
            ui.vertical(|ui| {
                let loss = record.loss.get(i).copied().unwrap_or(f32::NAN);
                if generative {
                    ui.label(format!("given {}", train.class_name(given)));
                    ui.label(format!("loss {} (round {})", num(loss, 3), record.round));
                } else {
                    ui.label(format!(
                        "given {}  ->  predicted {}",
                        train.class_name(given),
                        train.class_name(pred)
                    ));
                    let p = record.p_given.get(i).copied().unwrap_or(f32::NAN);
                    ui.label(format!(
                        "p(given) {}   loss {} (round {})",
                        num(p, 3),
                        num(loss, 3),
                        record.round
                    ));
                }
                if let Some(run) = &v.state.run {
                    let losses: Vec<String> = run
                        .history
                        .iter()
                        .map(|r| num(r.loss.get(i).copied().unwrap_or(f32::NAN), 2))
                        .collect();
                    ui.label(format!("loss over rounds: {}", losses.join(", ")));
                }
                if let Some(t) = &data.truth {
                    let (kind, colour) = super::truth_line(ui, t, i);
                    ui.label(RichText::new(format!("truth: {kind}")).color(colour));
                }
                ui.label(match decision {
                    Some(d) => RichText::new(format!("decided: {}", describe(d, train)))
                        .color(decision_color(d)),
                    None => RichText::new("no decision yet").color(Color32::GRAY),
                });
                let probs = if generative {
                    &[][..]
                } else {
                    record.probs_of(i, train.num_classes())
                };
                classes_ui(ui, probs, &train.classes, given as usize, pred as usize);
            });
        });
        if let Some(d) = chosen {
            out.push(Command::Decide(vec![i], d));
            self.moved = true;
            if d.is_some() {
                self.decided.push(i);
                self.advance(v, i);
            }
        } else if step != 0 {
            self.step(v, step);
        }
        neighbours_ui(ui, v, thumbs, i, given, pred);
    }
}

/// `x` with `decimals` decimals, "-" where it is not a number (a value a run did not record).
fn num(x: f32, decimals: usize) -> String {
    if x.is_finite() {
        format!("{x:.decimals$}")
    } else {
        "-".into()
    }
}

/// The classes beside the card, each with the digit key that relabels to it (the first ten),
/// its name whole (cut to the column only when it cannot fit, the full name on hover), and,
/// with `probs` (a classifier's), its probability as a bar. Without probabilities (the VAE)
/// it lists the classes the digits relabel to, and the given one.
fn classes_ui(ui: &mut egui::Ui, probs: &[f32], classes: &[String], given: usize, pred: usize) {
    let k = classes.len();
    let with_probs = !probs.is_empty();
    let mut shown: Vec<usize> = if with_probs && probs.len() > 12 {
        let mut order: Vec<usize> = (0..probs.len()).collect();
        order.sort_by(|&a, &b| probs[b].total_cmp(&probs[a]).then(a.cmp(&b)));
        order.truncate(10);
        order
    } else if with_probs {
        (0..probs.len()).collect()
    } else {
        (0..k.min(10)).collect()
    };
    for c in [given, pred] {
        if c < k && !shown.contains(&c) {
            shown.push(c);
        }
    }
    shown.sort_unstable();
    let bar_w = 120.0;
    let key_w = 14.0;
    let value_w = if with_probs { 40.0 } else { 0.0 };
    let spacing = ui.spacing().item_spacing.x;
    let name_w = (ui.available_width()
        - key_w
        - spacing * 3.0
        - if with_probs { bar_w + value_w } else { 0.0 })
    .clamp(80.0, 220.0);
    let row_h = ui.spacing().interact_size.y.min(18.0);
    for c in shown {
        let name = classes.get(c).map_or("?", String::as_str);
        let color = if c == given {
            KEPT
        } else if c == pred {
            TRIMMED
        } else {
            Color32::GRAY
        };
        ui.horizontal(|ui| {
            ui.allocate_ui_with_layout(
                egui::vec2(key_w, row_h),
                egui::Layout::left_to_right(egui::Align::Center),
                |ui| {
                    ui.set_min_width(key_w);
                    if c < 10 {
                        ui.label(RichText::new(c.to_string()).monospace().strong())
                            .on_hover_text(format!("Press {c} to relabel to {name}"));
                    }
                },
            );
            ui.allocate_ui_with_layout(
                egui::vec2(name_w, row_h),
                egui::Layout::left_to_right(egui::Align::Center),
                |ui| {
                    ui.set_min_width(name_w);
                    ui.set_max_width(name_w);
                    ui.add(egui::Label::new(RichText::new(name).color(color)).truncate());
                },
            );
            if let Some(&p) = probs.get(c) {
                let p = if p.is_finite() {
                    p.clamp(0.0, 1.0)
                } else {
                    0.0
                };
                super::detail::probability_bar_ui(ui, bar_w, p, color, name);
            }
        });
    }
}

/// "exclude", "keep", "relabel to Shirt".
pub fn describe(d: Decision, train: &crate::data::Dataset) -> String {
    match d {
        Decision::Exclude => "exclude".into(),
        Decision::Keep => "keep".into(),
        Decision::Relabel(c) => format!("relabel to {}", train.class_name(c)),
    }
}

/// The colour a decision is shown in.
pub fn decision_color(d: Decision) -> Color32 {
    match d {
        Decision::Exclude => BAD,
        Decision::Keep => Color32::from_rgb(90, 200, 110),
        Decision::Relabel(_) => KEPT,
    }
}

/// The kept samples of the given and of the predicted class whose class probabilities are
/// nearest the shown sample's (cosine): what the model takes it to look like.
fn neighbours_ui(
    ui: &mut egui::Ui,
    v: &View,
    thumbs: &mut Thumbs,
    i: usize,
    given: u32,
    pred: u32,
) {
    let (Some(cut), Some(data)) = (&v.cut, v.state.data.as_ref()) else {
        return;
    };
    let k = data.train.num_classes();
    let r = &cut.record;
    let me = r.probs_of(i, k);
    if me.is_empty() || !data.has_images() {
        return;
    }
    let cos = |a: &[f32], b: &[f32]| {
        let (mut d, mut na, mut nb) = (0f32, 0f32, 0f32);
        for (x, y) in a.iter().zip(b) {
            d += x * y;
            na += x * x;
            nb += y * y;
        }
        d / (na.sqrt() * nb.sqrt()).max(1e-12)
    };
    let ctx = ui.ctx().clone();
    for (class, name) in [(given, "given"), (pred, "predicted")] {
        if name == "predicted" && pred == given {
            continue;
        }
        // Kept and labelled as the user's decisions have it (a sample relabelled away from
        // the class is not one of its neighbours; an excluded one is not kept).
        let trains_as = |j: usize| match v.state.decision(j) {
            Some(Decision::Exclude) => None,
            Some(Decision::Relabel(c)) => Some(c),
            Some(Decision::Keep) => Some(data.train.label(j)),
            None => cut.kept[j].then(|| data.train.label(j)),
        };
        let mut near: Vec<(f32, usize)> = (0..data.train.len())
            .filter(|&j| j != i && trains_as(j) == Some(class))
            .map(|j| (cos(me, r.probs_of(j, k)), j))
            .collect();
        let top = near.len().min(6);
        if top == 0 {
            continue;
        }
        near.select_nth_unstable_by(top - 1, |a, b| b.0.total_cmp(&a.0));
        near.truncate(top);
        near.sort_by(|a, b| b.0.total_cmp(&a.0));
        ui.horizontal(|ui| {
            ui.label(
                RichText::new(format!(
                    "nearest kept {} ({name}):",
                    data.train.class_name(class)
                ))
                .small()
                .color(if name == "given" { KEPT } else { TRIMMED }),
            );
            for (_, j) in near {
                match thumbs.get(&ctx, &data.train, j) {
                    Some(t) => {
                        ui.add(
                            egui::Image::new((t, egui::vec2(48.0, 48.0)))
                                .alt_text(format!("neighbour {j}")),
                        );
                    }
                    None => {
                        ui.ctx().request_repaint();
                    }
                }
            }
        });
    }
}
