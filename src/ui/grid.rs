//! Thumbnail grids: Trimmed (highest score first), Boundary (around the cut) and Kept, with a
//! class filter. Only visible rows are laid out (`ScrollArea::show_rows`) and only their
//! textures are made. Each cell shows `given -> predicted` (red when they differ; the loss in
//! generative mode, which predicts no labels) and a red corner when ground truth says the sample
//! is bad; a click opens the detail view. Without images (a reopened run whose dataset is gone)
//! the cells show sample ids.

use egui::{Color32, CornerRadius, Pos2, Rect, RichText, Sense, Stroke, StrokeKind, Vec2};

use super::command::{Command, Commands, View};
use super::histogram::{KEPT, TRIMMED};
use super::thumbs::Thumbs;
use super::view::{Filter, GridTab};

const THUMB: f32 = 72.0;
const CELL_W: f32 = 100.0;
const CELL_H: f32 = THUMB + 22.0;

pub fn grid_ui(ui: &mut egui::Ui, v: &View, thumbs: &mut Thumbs, out: &mut Commands) {
    let state = v.state;
    let (Some(cut), Some(lists)) = (v.cut.clone(), v.lists.clone()) else {
        ui.label(
            "Sample grids: no finished round yet. Press Start (or Step one round) to run ITLM.",
        );
        return;
    };
    let Some(data) = state.data.as_ref() else {
        return;
    };
    let train = data.train.clone();
    let bad = data.bad.clone();
    let images = data.has_images();
    let generative = state.generative();
    // Tabs and filters.
    ui.horizontal_wrapped(|ui| {
        for tab in GridTab::ALL {
            let n = lists.get(tab).len();
            if ui
                .selectable_label(state.tab == tab, format!("{} ({n})", tab.name()))
                .clicked()
            {
                out.push(Command::SetTab(tab));
            }
        }
        ui.separator();
        let class_text = state.filter.class.map_or("all classes".to_string(), |c| {
            format!("class {}", data.class_name(c))
        });
        let mut class = state.filter.class;
        egui::ComboBox::new("class_filter", "class")
            .selected_text(class_text)
            .show_ui(ui, |ui| {
                ui.selectable_value(&mut class, None, "all classes");
                for (c, name) in train.classes.iter().enumerate() {
                    ui.selectable_value(&mut class, Some(c as u32), name);
                }
            });
        if class != state.filter.class {
            out.push(Command::SetFilter(Filter {
                class,
                ..state.filter
            }));
        }
        if let Some((g, p)) = state.filter.cell {
            let text = format!(
                "given {} -> predicted {}",
                train.class_name(g),
                train.class_name(p)
            );
            ui.label(RichText::new(text).color(Color32::LIGHT_BLUE));
            if ui.small_button("clear cell filter").clicked() {
                out.push(Command::SetFilter(Filter {
                    cell: None,
                    ..state.filter
                }));
            }
        }
    });
    let list = lists.get(state.tab);
    ui.label(
        RichText::new(format!(
            "{} (round {}): {} samples",
            state.tab.name(),
            cut.record.round,
            list.len()
        ))
        .strong(),
    );
    if list.is_empty() {
        ui.label("Nothing here at this cut and filter.");
        return;
    }
    let cols =
        ((ui.available_width() / (CELL_W + ui.spacing().item_spacing.x)).floor() as usize).max(1);
    let rows = list.len().div_ceil(cols);
    let ctx = ui.ctx().clone();
    let mut clicked = None;
    let selected = state.selected_sample;
    let tab = state.tab;
    egui::ScrollArea::vertical()
        .id_salt(("grid", tab as u8))
        .auto_shrink([false, false])
        .show_rows(ui, CELL_H, rows, |ui, range| {
            for row in range {
                ui.horizontal(|ui| {
                    for &i in list.iter().skip(row * cols).take(cols) {
                        let given = train.label(i);
                        let pred = cut.record.predicted.get(i).copied().unwrap_or(given);
                        let is_bad = bad.as_ref().is_some_and(|b| b[i]);
                        let tex = if images {
                            thumbs.get(&ctx, &train, i)
                        } else {
                            None
                        };
                        let cell = Cell {
                            given: train.class_name(given),
                            predicted: train.class_name(pred),
                            differs: given != pred,
                            bad: is_bad,
                            kept: cut.kept[i],
                            selected: selected == Some(i),
                            show_side: tab == GridTab::Boundary,
                            texture: tex,
                            generative,
                            id: (!images).then(|| train.id(i)),
                        };
                        let r = cell_ui(ui, &cell, i, cut.record.score[i]);
                        if r.clicked() {
                            clicked = Some(i);
                        }
                    }
                });
            }
        });
    if thumbs.deferred > 0 {
        ctx.request_repaint();
    }
    if let Some(i) = clicked {
        out.push(Command::SelectSample(if selected == Some(i) {
            None
        } else {
            Some(i)
        }));
    }
}

struct Cell<'a> {
    given: &'a str,
    predicted: &'a str,
    differs: bool,
    bad: bool,
    kept: bool,
    selected: bool,
    show_side: bool,
    texture: Option<egui::TextureId>,
    /// Show the loss, not labels.
    generative: bool,
    /// Shown instead of the image when there is none.
    id: Option<&'a str>,
}

fn cell_ui(ui: &mut egui::Ui, c: &Cell<'_>, index: usize, score: f32) -> egui::Response {
    let (rect, resp) = ui.allocate_exact_size(Vec2::new(CELL_W, CELL_H), Sense::click());
    let bad = if c.bad { ", truly bad" } else { "" };
    let label = if c.generative {
        format!("sample {index} (in {}): loss {score:.3}{bad}", c.given)
    } else {
        format!(
            "sample {index}: {} -> {}, loss {score:.3}{bad}",
            c.given, c.predicted
        )
    };
    let label = match c.id {
        Some(id) => format!("{label}, id {id}"),
        None => label,
    };
    resp.widget_info(|| egui::WidgetInfo::labeled(egui::Role::Button, true, &label));
    if !ui.is_rect_visible(rect) {
        return resp;
    }
    let p = ui.painter();
    let visuals = ui.style().interact_selectable(&resp, c.selected);
    if c.selected || resp.hovered() {
        p.rect_filled(rect, CornerRadius::same(3), visuals.weak_bg_fill);
    }
    let img = Rect::from_center_size(
        Pos2::new(rect.center().x, rect.top() + 2.0 + THUMB / 2.0),
        Vec2::splat(THUMB),
    );
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
            p.rect_filled(img, CornerRadius::ZERO, Color32::from_gray(40));
            if let Some(id) = c.id {
                // No image: the sample id, wrapped into the square.
                let galley = ui.painter().layout(
                    id_tail(id),
                    egui::FontId::monospace(10.0),
                    Color32::from_gray(200),
                    THUMB - 6.0,
                );
                let pos = img.center() - galley.size() / 2.0;
                p.with_clip_rect(img).galley(pos, galley, Color32::WHITE);
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
    let text = if c.generative {
        format!("loss {score:.3}")
    } else {
        format!("{} -> {}", short(c.given), short(c.predicted))
    };
    let color = if c.differs && !c.generative {
        Color32::from_rgb(255, 110, 110)
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
    resp.on_hover_text(label)
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

/// Class names cut to fit a cell.
fn short(s: &str) -> String {
    if s.chars().count() <= 7 {
        s.to_string()
    } else {
        s.chars().take(6).collect::<String>().trim_end().to_string() + "."
    }
}
