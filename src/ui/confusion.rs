//! Class confusion of the trimmed samples (given x predicted) as a heat grid: systematic label
//! flips show as one hot cell. Clicking a cell filters the grids to it. Below it, for a round
//! trained with forward correction, the label noise its matrix assumed, class by class.

use egui::{Color32, CornerRadius, Pos2, Rect, RichText, Sense, Stroke, StrokeKind, Vec2};

use super::command::{Command, Commands, View};
use super::view::{Filter, GridTab};

pub fn confusion_ui(ui: &mut egui::Ui, v: &View, out: &mut Commands) {
    let state = v.state;
    let Some(cut) = v.cut.clone() else {
        ui.label("Confusion of trimmed samples: no finished round yet");
        return;
    };
    let Some(data) = state.data.as_ref() else {
        return;
    };
    let names = data.train.classes.clone();
    let k = cut.classes;
    if k == 0 || cut.confusion.len() != k * k {
        return;
    }
    ui.label(
        RichText::new(format!(
            "Trimmed by given (rows) x predicted (columns), round {}",
            cut.record.round
        ))
        .strong(),
    );
    let t = &cut.record.transition;
    if t.len() == k * k {
        egui::CollapsingHeader::new(format!(
            "Label noise round {} trained with (forward correction)",
            cut.record.round
        ))
        .id_salt("transition")
        .show(ui, |ui| {
            ui.label(
                RichText::new("P(given label | true class), estimated from the previous round's model (cleanlab's confident joint); the model learned through it, so flipped labels did not pull it towards them")
                    .small()
                    .weak(),
            );
            for line in transition_lines(t, &names) {
                ui.label(RichText::new(line).small());
            }
        });
    }
    let max = cut.confusion.iter().copied().max().unwrap_or(0).max(1);
    let label_w = 64.0;
    let avail = ui.available_width() - label_w - 8.0;
    let cell = (avail / k as f32).clamp(10.0, 30.0);
    let show_counts = cell >= 24.0;
    let mut clicked = None;
    let selected = state.filter.cell;
    egui::ScrollArea::both()
        .id_salt("confusion")
        .max_height(ui.available_height().max(120.0))
        .show(ui, |ui| {
            // Column headers, spaced exactly as the cells below (no item spacing).
            ui.horizontal(|ui| {
                ui.spacing_mut().item_spacing.x = 0.0;
                ui.add_space(label_w);
                for name in names.iter().take(k) {
                    let (r, resp) = ui.allocate_exact_size(Vec2::new(cell, 14.0), Sense::hover());
                    resp.widget_info(|| {
                        egui::WidgetInfo::labeled(
                            egui::Role::Label,
                            true,
                            format!("predicted column {name}"),
                        )
                    });
                    ui.painter().text(
                        r.center(),
                        egui::Align2::CENTER_CENTER,
                        abbrev(name, cell),
                        egui::FontId::proportional(10.0),
                        ui.visuals().text_color(),
                    );
                }
            });
            ui.spacing_mut().item_spacing.y = 0.0;
            for g in 0..k {
                ui.horizontal(|ui| {
                    ui.spacing_mut().item_spacing.x = 0.0;
                    let (r, _) = ui.allocate_exact_size(Vec2::new(label_w, cell), Sense::hover());
                    ui.painter().text(
                        Pos2::new(r.right() - 4.0, r.center().y),
                        egui::Align2::RIGHT_CENTER,
                        abbrev(&names[g], label_w),
                        egui::FontId::proportional(10.0),
                        ui.visuals().text_color(),
                    );
                    for p in 0..k {
                        let n = cut.confusion[g * k + p];
                        let (rect, resp) =
                            ui.allocate_exact_size(Vec2::splat(cell), Sense::click());
                        let label = format!("given {} predicted {}: {n}", names[g], names[p]);
                        resp.widget_info(|| {
                            egui::WidgetInfo::labeled(egui::Role::Button, n > 0, &label)
                        });
                        paint_cell(
                            ui,
                            rect,
                            n,
                            max,
                            g == p,
                            show_counts,
                            selected == Some((g as u32, p as u32)),
                        );
                        if n > 0 && resp.clicked() {
                            clicked = Some((g as u32, p as u32));
                        }
                        resp.on_hover_text(label);
                    }
                });
            }
        });
    if let Some(c) = clicked {
        toggle_cell(state, c, out);
    }
}

/// A click on a (given, predicted) cell: the grids filtered to it (the Trimmed tab shown), or,
/// when they are already, the cell filter taken off. The label-health panel's pairs too.
pub fn toggle_cell(state: &super::state::AppState, c: (u32, u32), out: &mut Commands) {
    if state.filter.cell == Some(c) {
        out.push(Command::SetFilter(Filter {
            cell: None,
            ..state.filter.clone()
        }));
    } else {
        out.push(Command::SetFilter(Filter {
            cell: Some(c),
            ..state.filter.clone()
        }));
        out.push(Command::SetTab(GridTab::Trimmed));
    }
}

fn paint_cell(
    ui: &egui::Ui,
    rect: Rect,
    n: usize,
    max: usize,
    diagonal: bool,
    counts: bool,
    selected: bool,
) {
    let p = ui.painter();
    let t = (n as f32 / max as f32).sqrt();
    let fill = if n == 0 {
        Color32::from_gray(28)
    } else {
        // Dark to hot orange.
        Color32::from_rgb(
            (60.0 + 195.0 * t) as u8,
            (40.0 + 100.0 * t) as u8,
            (40.0 * (1.0 - t) + 20.0) as u8,
        )
    };
    let r = rect.shrink(0.5);
    p.rect_filled(r, CornerRadius::ZERO, fill);
    if diagonal {
        p.rect_stroke(
            r,
            CornerRadius::ZERO,
            Stroke::new(1.0, Color32::from_gray(90)),
            StrokeKind::Inside,
        );
    }
    if selected {
        p.rect_stroke(
            r,
            CornerRadius::ZERO,
            Stroke::new(2.0, Color32::WHITE),
            StrokeKind::Inside,
        );
    }
    if counts && n > 0 {
        p.text(
            r.center(),
            egui::Align2::CENTER_CENTER,
            n.to_string(),
            egui::FontId::proportional(10.0),
            if t > 0.6 {
                Color32::BLACK
            } else {
                Color32::WHITE
            },
        );
    }
}

/// One line per true class of a transition matrix (rows true classes): the share of its
/// samples that keep their label, and the label the rest most often carry.
pub fn transition_lines(t: &[f32], names: &[String]) -> Vec<String> {
    let k = names.len();
    if t.len() != k * k {
        return Vec::new();
    }
    (0..k)
        .map(|j| {
            let row = &t[j * k..(j + 1) * k];
            let keep = row[j];
            match crate::itlm::transition::top_flip(row, j) {
                Some((g, share)) if share >= 0.005 => format!(
                    "{}: {:.0}% keep the label; most others labelled {} ({:.0}%)",
                    names[j],
                    keep * 100.0,
                    names[g],
                    share * 100.0
                ),
                _ => format!("{}: {:.0}% keep the label", names[j], keep * 100.0),
            }
        })
        .collect()
}

fn abbrev(s: &str, width: f32) -> String {
    let max = ((width / 6.0) as usize).max(2);
    if s.chars().count() <= max {
        s.to_string()
    } else {
        s.chars()
            .take(max - 1)
            .collect::<String>()
            .trim_end()
            .to_string()
            + "."
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transition_lines_name_each_class_and_its_main_flip() {
        let names: Vec<String> = ["Shirt", "Sneaker", "Bag"].map(String::from).to_vec();
        let t = [0.6, 0.4, 0.0, 0.0, 0.9, 0.1, 0.0, 0.0, 1.0];
        assert_eq!(
            transition_lines(&t, &names),
            [
                "Shirt: 60% keep the label; most others labelled Sneaker (40%)",
                "Sneaker: 90% keep the label; most others labelled Bag (10%)",
                "Bag: 100% keep the label",
            ]
        );
        assert!(transition_lines(&t[..4], &names).is_empty());
    }
}
