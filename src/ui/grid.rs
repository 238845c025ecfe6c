//! Thumbnail grids: Trimmed (highest score first), Boundary (around the cut, which a red bar
//! marks) and Kept, sorted and filtered as the header ([`super::grid_bar`]) says. Only visible
//! rows are laid out (`ScrollArea::show_rows`) and only their textures are made. Each cell
//! shows the sample letterboxed, `given -> predicted` (red when they differ; the loss in
//! generative mode, which predicts no labels) and a red corner when ground truth says the
//! sample is bad. A click opens the detail view; ctrl-click, shift-click and dragging a box
//! select several, "select all" (Ctrl+A) every sample shown; the actions apply to the selected
//! samples the tab and filter show, the bar saying how many it leaves out. Without images (a
//! reopened run whose dataset is gone) the cells show ids.

use std::collections::BTreeSet;

use egui::{Color32, CornerRadius, Pos2, Rect, RichText, Sense, Stroke, StrokeKind, Vec2};

use super::command::{Command, Commands, View};
use super::grid_bar::{grid_bar_ui, FilterText};
use super::histogram::{BAD, KEPT, TRIMMED};
use super::review::decision_color;
use super::thumbs::Thumbs;
use super::view::GridTab;
use crate::session::decisions::Decision;

const THUMB: f32 = 72.0;
const CELL_W: f32 = 100.0;
const CELL_H: f32 = THUMB + 22.0;

/// The grid's own state: the samples selected for an action, and the typed filter fields.
#[derive(Default)]
pub struct GridPanel {
    /// Selected samples (dataset indices).
    pub selection: BTreeSet<usize>,
    /// Where a shift-click range starts.
    anchor: Option<usize>,
    /// A box being dragged: where it started.
    drag_from: Option<Pos2>,
    pub text: FilterText,
}

impl GridPanel {
    pub fn ui(&mut self, ui: &mut egui::Ui, v: &View, thumbs: &mut Thumbs, out: &mut Commands) {
        grid_ui(ui, v, self, thumbs, out);
    }

    /// Make `samples` the selection (a box in the embedding map).
    pub fn select(&mut self, samples: impl IntoIterator<Item = usize>) {
        self.selection = samples.into_iter().collect();
        self.anchor = None;
        self.drag_from = None;
    }

    /// Forget the selection (another dataset, or the user cleared it).
    pub fn clear(&mut self) {
        self.selection.clear();
        self.anchor = None;
        self.drag_from = None;
    }
}

/// Whether `selection` is exactly the samples of `list` (distinct indices). Linear, not a set
/// lookup per sample: it runs every frame, on up to every sample of a large run.
fn selects_all(selection: &BTreeSet<usize>, list: &[usize]) -> bool {
    if selection.len() != list.len() {
        return false;
    }
    let Some(&last) = selection.last() else {
        return true;
    };
    let mut chosen = vec![false; last + 1];
    for &i in selection {
        chosen[i] = true;
    }
    list.iter()
        .all(|&i| chosen.get(i).copied().unwrap_or(false))
}

/// The samples of `selection` that `list` (the tab at its cut and filter) shows, in index
/// order. Linear in the list: it runs every frame.
fn shown_selection(selection: &BTreeSet<usize>, list: &[usize]) -> Vec<usize> {
    let Some(&last) = selection.last() else {
        return Vec::new();
    };
    let mut listed = vec![false; last + 1];
    for &i in list {
        if let Some(l) = listed.get_mut(i) {
            *l = true;
        }
    }
    selection.iter().copied().filter(|&i| listed[i]).collect()
}

fn grid_ui(
    ui: &mut egui::Ui,
    v: &View,
    panel: &mut GridPanel,
    thumbs: &mut Thumbs,
    out: &mut Commands,
) {
    let state = v.state;
    let (Some(cut), Some(lists)) = (v.cut.clone(), v.lists.clone()) else {
        // Start is greyed where the classifier cannot train: say what to do instead.
        match state.classifier_refused() {
            Some(_) => ui.label(
                "Sample grids: nothing to show. A classifier cannot train on this set (the reason \
                 is beside Start); the generative mode ranks its samples without labels.",
            ),
            None => ui.label(
                "Sample grids: no finished round yet. Press Start (or Step one round) to run ITLM.",
            ),
        };
        return;
    };
    let Some(data) = state.data.as_ref() else {
        return;
    };
    let train = data.train.clone();
    let bad = data.bad.clone();
    let images = data.has_images();
    let generative = state.generative();
    grid_bar_ui(ui, v, &lists, &mut panel.text, out);
    let list = lists.get(state.tab);
    // Ctrl+A: every sample shown (at this cut and filter), to decide them in one step; not
    // while a text field has the keyboard.
    if !list.is_empty()
        && !ui.ctx().egui_wants_keyboard_input()
        && ui.input_mut(|i| i.consume_key(egui::Modifiers::COMMAND, egui::Key::A))
    {
        panel.select(list.iter().copied());
    }
    // The selected samples this tab and filter show: what the actions apply to.
    let shown = shown_selection(&panel.selection, list);
    let mut drop_hidden = false;
    ui.horizontal_wrapped(|ui| {
        ui.label(
            RichText::new(format!(
                "{} (round {}): {}",
                state.tab.name(),
                cut.record.round,
                crate::plural(list.len(), "sample")
            ))
            .strong(),
        );
        if !panel.selection.is_empty() {
            ui.separator();
            ui.label(format!("{} selected", panel.selection.len()));
            let hidden = panel.selection.len() - shown.len();
            if hidden > 0 {
                let says = if shown.is_empty() {
                    "all hidden by the tab or filter: no action applies to them".to_string()
                } else {
                    format!(
                        "{hidden} hidden by the tab or filter: actions apply to the {} shown",
                        shown.len()
                    )
                };
                ui.label(RichText::new(says).color(Color32::from_rgb(230, 180, 80)));
                if ui
                    .small_button(format!("drop the {hidden} hidden"))
                    .on_hover_text("Keep only the selected samples this tab and filter show")
                    .clicked()
                {
                    drop_hidden = true;
                }
            }
            if ui.small_button("select none").clicked() {
                panel.clear();
            }
        } else {
            ui.label(
                RichText::new("ctrl-click, shift-click or drag a box to select several")
                    .small()
                    .color(Color32::GRAY),
            );
        }
        if !list.is_empty()
            && !selects_all(&panel.selection, list)
            && ui
                .small_button(format!("select all {}", list.len()))
                .on_hover_text(
                    "Select every sample shown at this cut and filter (Ctrl+A), to exclude, \
                     keep or relabel them in one step",
                )
                .clicked()
        {
            panel.select(list.iter().copied());
        }
    });
    if drop_hidden {
        panel.selection = shown.iter().copied().collect();
    }
    // Actions apply to the selected samples shown here, never to ones the tab or filter
    // hides (the bar above says how many it leaves out). Again: the bar may have changed the
    // selection. (One sample shown in the detail view has its actions there.)
    let shown = shown_selection(&panel.selection, list);
    let only_detail = shown.len() == 1 && shown.first() == state.selected_sample.as_ref();
    if !shown.is_empty() && !only_detail {
        actions_ui(ui, v, &shown, out);
    }
    if list.is_empty() {
        ui.label("Nothing here at this cut and filter.");
        return;
    }
    let cols =
        ((ui.available_width() / (CELL_W + ui.spacing().item_spacing.x)).floor() as usize).max(1);
    let rows = list.len().div_ceil(cols);
    let ctx = ui.ctx().clone();
    let mut clicked = None;
    let mut placed: Vec<(usize, Rect)> = Vec::new();
    let mut drag: Option<(Pos2, Pos2, bool)> = None;
    let selected = state.selected_sample;
    let tab = state.tab;
    let aspect = train.shape.width as f32 / train.shape.height.max(1) as f32;
    let cut_at = (tab == GridTab::Boundary).then_some(lists.boundary_cut);
    let names = short_names(&train.classes);
    let name = |c: u32| names.get(c as usize).map_or("?", String::as_str);
    egui::ScrollArea::vertical()
        .id_salt(("grid", tab as u8))
        .auto_shrink([false, false])
        .show_rows(ui, CELL_H, rows, |ui, range| {
            for row in range {
                ui.horizontal(|ui| {
                    for (k, &i) in list.iter().enumerate().skip(row * cols).take(cols) {
                        let given = train.label(i);
                        let pred = cut.record.predicted.get(i).copied().unwrap_or(given);
                        let is_bad = bad.as_ref().is_some_and(|b| b[i]);
                        let tex = if images {
                            thumbs.get(&ctx, &train, i)
                        } else {
                            None
                        };
                        let cell = Cell {
                            given: name(given),
                            predicted: name(pred),
                            differs: given != pred,
                            bad: is_bad,
                            kept: cut.kept[i],
                            selected: selected == Some(i),
                            marked: panel.selection.contains(&i),
                            show_side: tab == GridTab::Boundary,
                            cut_before: cut_at == Some(k) && k > 0,
                            texture: tex,
                            aspect,
                            generative,
                            id: train.id(i),
                            no_image: !images,
                            badge: state.decision(i).map(|d| badge(d, &names)),
                        };
                        let r = cell_ui(ui, &cell, i, cut.record.score[i]).on_hover_ui(|ui| {
                            // Built only while the pointer rests on the cell: the rank is a
                            // scan of the round's ranking.
                            hover_ui(ui, state, &train, i, &cut, &cell);
                        });
                        placed.push((i, r.rect));
                        if r.clicked() {
                            clicked = Some((i, ui.input(|inp| inp.modifiers)));
                        }
                        if r.drag_started() {
                            panel.drag_from = r.interact_pointer_pos();
                        }
                        if let (Some(from), Some(to)) = (panel.drag_from, r.interact_pointer_pos())
                        {
                            if r.dragged() || r.drag_stopped() {
                                drag = Some((from, to, r.drag_stopped()));
                            }
                        }
                    }
                });
            }
        });
    if thumbs.deferred > 0 {
        ctx.request_repaint();
    }
    if let Some((from, to, done)) = drag {
        let area = Rect::from_two_pos(from, to);
        ui.painter().rect_stroke(
            area,
            CornerRadius::ZERO,
            Stroke::new(1.0, Color32::LIGHT_BLUE),
            StrokeKind::Inside,
        );
        if done {
            let add = ui.input(|i| i.modifiers.command || i.modifiers.shift);
            if !add {
                panel.selection.clear();
            }
            panel.selection.extend(
                placed
                    .iter()
                    .filter(|(_, r)| r.intersects(area))
                    .map(|(i, _)| *i),
            );
            panel.drag_from = None;
        }
    }
    if let Some((i, m)) = clicked {
        if m.command {
            if !panel.selection.remove(&i) {
                panel.selection.insert(i);
            }
            panel.anchor = Some(i);
        } else if let (true, Some(a)) = (m.shift, panel.anchor) {
            let pos = |x: usize| list.iter().position(|&j| j == x);
            if let (Some(pa), Some(pi)) = (pos(a), pos(i)) {
                let (lo, hi) = (pa.min(pi), pa.max(pi));
                panel.selection.extend(list[lo..=hi].iter().copied());
            }
        } else {
            panel.selection = BTreeSet::from([i]);
            panel.anchor = Some(i);
            out.push(Command::SelectSample(if selected == Some(i) {
                None
            } else {
                Some(i)
            }));
        }
    }
}

struct Cell<'a> {
    given: &'a str,
    predicted: &'a str,
    differs: bool,
    bad: bool,
    kept: bool,
    /// The sample the detail view shows.
    selected: bool,
    /// In the multi-selection.
    marked: bool,
    show_side: bool,
    /// The cut falls just before this cell (Boundary tab).
    cut_before: bool,
    texture: Option<egui::TextureId>,
    /// Width over height of the stored image.
    aspect: f32,
    /// Show the loss, not labels.
    generative: bool,
    /// The sample's id (its path under the set's folder), in the cell's name; shown instead
    /// of the image when there is none.
    id: &'a str,
    /// The set's images are not there (a reopened run without its dataset).
    no_image: bool,
    /// The user's decision as a badge: its text and colour.
    badge: Option<(String, Color32)>,
}

fn cell_ui(ui: &mut egui::Ui, c: &Cell<'_>, index: usize, score: f32) -> egui::Response {
    let (rect, resp) = ui.allocate_exact_size(Vec2::new(CELL_W, CELL_H), Sense::click_and_drag());
    let bad = if c.bad { ", truly bad" } else { "" };
    let label = if c.generative && c.given.is_empty() {
        // An unlabelled set's samples are in no class.
        format!("sample {index}: loss {score:.3}{bad}")
    } else if c.generative {
        format!("sample {index} (in {}): loss {score:.3}{bad}", c.given)
    } else {
        format!(
            "sample {index}: {} -> {}, loss {score:.3}{bad}",
            c.given, c.predicted
        )
    };
    let label = format!("{label}, id {}", c.id);
    let label = match &c.badge {
        Some((b, _)) => format!("{label}, decided: {b}"),
        None => label,
    };
    resp.widget_info(|| egui::WidgetInfo::labeled(egui::Role::Button, true, &label));
    if !ui.is_rect_visible(rect) {
        return resp;
    }
    let p = ui.painter();
    let visuals = ui
        .style()
        .interact_selectable(&resp, c.selected || c.marked);
    if c.selected || c.marked || resp.hovered() {
        p.rect_filled(rect, CornerRadius::same(3), visuals.weak_bg_fill);
    }
    if c.marked {
        p.rect_stroke(
            rect.shrink(1.0),
            CornerRadius::same(3),
            Stroke::new(1.5, Color32::LIGHT_BLUE),
            StrokeKind::Inside,
        );
    }
    if c.cut_before {
        let x = rect.left() - ui.spacing().item_spacing.x / 2.0;
        p.line_segment(
            [Pos2::new(x, rect.top()), Pos2::new(x, rect.bottom())],
            Stroke::new(3.0, BAD),
        );
    }
    // The image keeps its aspect: letterboxed in the square.
    let size = if c.aspect >= 1.0 {
        Vec2::new(THUMB, THUMB / c.aspect)
    } else {
        Vec2::new(THUMB * c.aspect, THUMB)
    };
    let square = Rect::from_center_size(
        Pos2::new(rect.center().x, rect.top() + 2.0 + THUMB / 2.0),
        Vec2::splat(THUMB),
    );
    let img = Rect::from_center_size(square.center(), size);
    match c.texture {
        Some(t) => {
            p.image(
                t,
                img,
                Rect::from_min_max(Pos2::ZERO, Pos2::new(1.0, 1.0)),
                Color32::WHITE,
            );
        }
        None => {
            p.rect_filled(square, CornerRadius::ZERO, Color32::from_gray(40));
            if c.no_image {
                // No image: the sample id, wrapped into the square.
                let galley = ui.painter().layout(
                    id_tail(c.id),
                    egui::FontId::monospace(10.0),
                    Color32::from_gray(200),
                    THUMB - 6.0,
                );
                let pos = square.center() - galley.size() / 2.0;
                p.with_clip_rect(square).galley(pos, galley, Color32::WHITE);
            }
        }
    }
    if c.show_side {
        let col = if c.kept { KEPT } else { TRIMMED };
        p.rect_stroke(
            img.expand(1.0),
            CornerRadius::ZERO,
            Stroke::new(2.0, col),
            StrokeKind::Outside,
        );
    }
    if c.bad {
        // A red corner triangle: ground truth says this sample is bad.
        let tr = img.right_top();
        p.add(egui::Shape::convex_polygon(
            vec![tr, tr + Vec2::new(-16.0, 0.0), tr + Vec2::new(0.0, 16.0)],
            super::histogram::BAD,
            Stroke::NONE,
        ));
    }
    if let Some((b, color)) = &c.badge {
        // The decision, on a dark band across the image's bottom.
        let band = Rect::from_min_max(
            Pos2::new(square.left(), square.bottom() - 14.0),
            square.right_bottom(),
        );
        p.rect_filled(band, CornerRadius::ZERO, Color32::from_black_alpha(190));
        p.with_clip_rect(band).text(
            band.center(),
            egui::Align2::CENTER_CENTER,
            b,
            egui::FontId::proportional(11.0),
            *color,
        );
    }
    let text = if c.generative {
        format!("loss {score:.3}")
    } else {
        format!("{} -> {}", c.given, c.predicted)
    };
    let color = if c.differs && !c.generative {
        super::DIFFERS
    } else {
        ui.visuals().text_color()
    };
    p.text(
        Pos2::new(rect.center().x, rect.bottom() - 2.0),
        egui::Align2::CENTER_BOTTOM,
        text,
        egui::FontId::proportional(11.0),
        color,
    );
    resp
}

/// What a cell's hover says of its sample, with or without an image: its file (its id where
/// it has none), given and predicted class, loss and score with the rank by score in the
/// shown round, which side of the cut it is on, what ground truth and the user say.
fn hover_ui(
    ui: &mut egui::Ui,
    state: &super::state::AppState,
    train: &crate::data::Dataset,
    i: usize,
    cut: &super::view::Cut,
    c: &Cell<'_>,
) {
    let generative = c.generative;
    ui.set_max_width(520.0);
    let file = train
        .file(i)
        .map_or_else(|| train.id(i).to_string(), |f| f.display().to_string());
    ui.label(RichText::new(format!("sample {i}: {file}")).strong());
    // The classes' full names (the cell's caption has them cut to fit).
    let given = train.label(i);
    let given_name = train.class_name(given);
    let predicted_name = train.class_name(cut.record.predicted.get(i).copied().unwrap_or(given));
    if generative {
        if !given_name.is_empty() {
            ui.label(format!("class {given_name}"));
        }
    } else {
        let text = format!("given {given_name}, predicted {predicted_name}");
        if c.differs {
            ui.label(RichText::new(text).color(super::DIFFERS));
        } else {
            ui.label(text);
        }
    }
    let rec = &cut.record;
    let score = rec.score[i];
    let loss = rec.loss.get(i).copied().unwrap_or(score);
    let n = cut.ranking.ascending.len();
    let rank = if score.is_nan() {
        "no score (NaN)".to_string()
    } else {
        match cut.ranking.ascending.iter().rposition(|&j| j == i) {
            Some(p) => format!("rank {} of {n} by score (1 = most suspicious)", n - p),
            None => "not ranked".to_string(),
        }
    };
    let what = if (score - loss).abs() > f32::EPSILON * loss.abs().max(1.0) {
        format!("loss {loss:.4}, score {score:.4}")
    } else {
        format!("loss {loss:.4}")
    };
    ui.label(format!("{what}: {rank}, round {}", rec.round));
    let side = if c.kept {
        "kept at this cut"
    } else {
        "trimmed at this cut"
    };
    ui.label(side);
    if c.bad {
        ui.label(RichText::new("truly bad (ground truth)").color(BAD));
    }
    if let Some((b, color)) = &c.badge {
        ui.label(RichText::new(format!("decided: {b}")).color(*color));
    }
    // What the image checks and the embedding search say of it, as the detail view does.
    if let Some(text) = state
        .image_checks
        .as_ref()
        .and_then(|checks| checks.describe(i, train))
    {
        ui.label(RichText::new(format!("image: {text}")).color(super::warn(ui)));
    }
    if let Some(found) = &state.similar {
        if found.outlier_distance(i).is_some() {
            ui.label(RichText::new("outlier among the embeddings").color(super::warn(ui)));
        }
        let copies = found.copies_of(i).len();
        if copies > 0 {
            ui.label(
                RichText::new(format!(
                    "{} in the set (the detail view lists them)",
                    crate::plural(copies, "duplicate")
                ))
                .color(super::warn(ui)),
            );
        }
    }
    ui.label(
        RichText::new("click: details; ctrl-click / shift-click: select")
            .small()
            .color(Color32::GRAY),
    );
}

/// The telling end of an id: the file name, or `#index` of an IDX / CIFAR sample.
fn id_tail(id: &str) -> String {
    let tail = id.rsplit('/').next().unwrap_or(id);
    let tail = match tail.rfind('#') {
        Some(k) => &tail[k..],
        None => tail,
    };
    if tail.chars().count() > 40 {
        tail.chars().take(39).collect::<String>() + "."
    } else {
        tail.to_string()
    }
}

/// Class names cut to fit a cell (7 characters): first without the words every name shares
/// at its start or end ("Class coffee" and "Class rocket" are "coffee" and "rocket": cut as
/// they were, both read "Class."), then cut to 6 characters and a dot.
pub(crate) fn short_names(names: &[String]) -> Vec<String> {
    const MAX: usize = 7;
    let (head, tail) = shared_words(names);
    names
        .iter()
        .map(|s| {
            let chars: Vec<char> = s.chars().collect();
            let core: String = chars[head..chars.len() - tail].iter().collect();
            let core = core.trim();
            if core.chars().count() <= MAX {
                core.to_string()
            } else {
                core.chars()
                    .take(MAX - 1)
                    .collect::<String>()
                    .trim_end()
                    .to_string()
                    + "."
            }
        })
        .collect()
}

/// How many characters every name shares at its start and at its end, counted in whole
/// words (up to and including a space, '_' or '-'), leaving every name a word of its own;
/// (0, 0) for fewer than two names or where a name is too short to be cut so.
fn shared_words(names: &[String]) -> (usize, usize) {
    let names: Vec<Vec<char>> = names.iter().map(|s| s.chars().collect()).collect();
    if names.len() < 2 {
        return (0, 0);
    }
    let shortest = names.iter().map(Vec::len).min().unwrap_or(0);
    let common = |at: &dyn Fn(&[char], usize) -> char| {
        let mut k = 0;
        while k < shortest && names.iter().all(|n| at(n, k) == at(&names[0], k)) {
            k += 1;
        }
        k
    };
    let is_break = |c: char| c == ' ' || c == '_' || c == '-';
    let first = &names[0];
    // The common start, back to its last word break (kept with the prefix).
    let start = common(&|n, k| n[k]);
    let head = (0..start)
        .rev()
        .find(|&k| is_break(first[k]))
        .map_or(0, |k| k + 1);
    // The common end, back to its first word break from the end.
    let end = common(&|n, k| n[n.len() - 1 - k]);
    let tail = (0..end)
        .rev()
        .find(|&k| is_break(first[first.len() - 1 - k]))
        .map_or(0, |k| k + 1);
    // Every name keeps at least one character between the two.
    if head + tail >= shortest {
        return if head < shortest { (head, 0) } else { (0, 0) };
    }
    (head, tail)
}

/// A decision as a cell's badge: "excluded", "kept", "-> Shirt".
fn badge(d: Decision, names: &[String]) -> (String, Color32) {
    let text = match d {
        Decision::Exclude => "excluded".to_string(),
        Decision::Keep => "kept".to_string(),
        Decision::Relabel(c) => format!("-> {}", names.get(c as usize).map_or("?", String::as_str)),
    };
    (text, decision_color(d))
}

/// What can be decided on `chosen` (the selection, or the sample in the detail view): exclude,
/// keep, accept each one's predicted class, relabel to a class, clear. One undo step each.
pub fn actions_ui(ui: &mut egui::Ui, v: &View, chosen: &[usize], out: &mut Commands) {
    let state = v.state;
    let Some(data) = state.data.as_ref() else {
        return;
    };
    let train = &data.train;
    let n = chosen.len();
    let what = if n == 1 {
        "it".to_string()
    } else {
        format!("these {n}")
    };
    ui.horizontal_wrapped(|ui| {
        if ui
            .button("Exclude")
            .on_hover_text(format!("Truly bad: never train on {what}"))
            .clicked()
        {
            out.push(Command::Decide(chosen.to_vec(), Some(Decision::Exclude)));
        }
        if ui
            .button("Keep")
            .on_hover_text(format!("Fine: always keep {what}, never flag again"))
            .clicked()
        {
            out.push(Command::Decide(chosen.to_vec(), Some(Decision::Keep)));
        }
        // Accept the prediction: one step for all, each sample to its own predicted class.
        let predicted: Vec<(usize, u32)> = state
            .record()
            .map(|r| {
                chosen
                    .iter()
                    .filter_map(|&i| {
                        let p = r.predicted.get(i).copied()?;
                        (p != train.label(i)).then_some((i, p))
                    })
                    .collect()
            })
            .unwrap_or_default();
        if ui
            .add_enabled(
                !predicted.is_empty() && !state.generative(),
                egui::Button::new("Accept predicted"),
            )
            .on_hover_text("Relabel each to the class the shown round's model predicts")
            .on_disabled_hover_text("The model predicts their given class")
            .clicked()
        {
            out.push(Command::DecideEach(
                predicted
                    .into_iter()
                    .map(|(i, p)| (i, Some(Decision::Relabel(p))))
                    .collect(),
            ));
        }
        ui.menu_button("Relabel to...", |ui| {
            for (c, name) in train.classes.iter().enumerate() {
                if ui.button(name).clicked() {
                    out.push(Command::Decide(
                        chosen.to_vec(),
                        Some(Decision::Relabel(c as u32)),
                    ));
                    ui.close();
                }
            }
        });
        if chosen.iter().any(|&i| state.decision(i).is_some())
            && ui
                .button("Clear")
                .on_hover_text("Take the decisions back")
                .clicked()
        {
            out.push(Command::Decide(chosen.to_vec(), None));
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A cell's caption names classes that share their first word by what differs: cut as
    /// they were, "Class coffee" and "Class rocket" both read "Class.".
    #[test]
    fn short_names_drop_the_words_every_class_shares() {
        let v =
            |names: &[&str]| short_names(&names.iter().map(|s| s.to_string()).collect::<Vec<_>>());
        assert_eq!(
            v(&["Class coffee", "Class rocket", "Class cat é"]),
            ["coffee", "rocket", "cat é"]
        );
        assert_eq!(v(&["dog images", "cat images"]), ["dog", "cat"]);
        assert_eq!(v(&["n01_tench", "n01_goldfish"]), ["tench", "goldfi."]);
        // Fashion-MNIST's names share nothing: cut as before.
        assert_eq!(
            v(&["T-shirt/top", "Trouser", "Pullover", "Shirt"]),
            ["T-shir.", "Trouser", "Pullov.", "Shirt"]
        );
        // A shared start that is not a whole word stays ("cat" / "cats"), and no name is
        // left empty ("Class" beside "Class a").
        assert_eq!(v(&["cat", "cats"]), ["cat", "cats"]);
        assert_eq!(v(&["Class", "Class a"]), ["Class", "Class a"]);
        assert_eq!(v(&["only one class"]), ["only o."]);
        assert_eq!(v(&[]), Vec::<String>::new());
    }

    #[test]
    fn all_is_exactly_the_samples_shown() {
        let set = |v: &[usize]| v.iter().copied().collect::<BTreeSet<usize>>();
        assert!(selects_all(&set(&[]), &[]));
        assert!(selects_all(&set(&[2, 5, 9]), &[9, 2, 5]));
        assert!(!selects_all(&set(&[2, 5]), &[9, 2, 5]));
        assert!(!selects_all(&set(&[2, 5, 7]), &[9, 2, 5]));
        assert!(!selects_all(&set(&[2, 5, 9, 11]), &[9, 2, 5]));
    }

    #[test]
    fn the_shown_selection_is_what_the_list_holds() {
        let set = |v: &[usize]| v.iter().copied().collect::<BTreeSet<usize>>();
        assert_eq!(shown_selection(&set(&[]), &[1, 2]), Vec::<usize>::new());
        assert_eq!(shown_selection(&set(&[2, 5, 9]), &[9, 2, 40]), vec![2, 9]);
        assert_eq!(shown_selection(&set(&[2, 5]), &[]), Vec::<usize>::new());
    }
}
