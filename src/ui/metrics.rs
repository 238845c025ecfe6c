//! Metrics over rounds: train accuracy, test accuracy, test-2 (attack success), kept fraction,
//! and trim precision / recall when ground truth is known, as line plots. A generative run
//! (VAE) has no accuracies: it shows mean loss and test loss in a plot of their own.

use egui::{Color32, RichText};
use egui_plot::{Line, Plot, PlotPoints, Points, VLine};

use super::command::View;

pub fn metrics_ui(ui: &mut egui::Ui, v: &View) {
    let state = v.state;
    let Some(run) = state.run.as_ref() else {
        ui.label("Metrics: no run yet");
        return;
    };
    if run.history.is_empty() {
        ui.label("Metrics: no finished round yet");
        return;
    }
    let n = state.data.as_ref().map_or(1, |d| d.train.len()).max(1) as f64;
    let generative = state.generative();
    // Light grey on the dark theme, dark grey on the light one (it had been white on white).
    let kept_grey = if ui.visuals().dark_mode {
        Color32::from_rgb(200, 200, 200)
    } else {
        Color32::from_rgb(70, 70, 70)
    };
    type Get = fn(&crate::itlm::RoundRecord, f64) -> Option<f64>;
    let series: [(&str, Color32, Get); 7] = [
        ("train acc", Color32::from_rgb(120, 200, 120), |r, _| {
            r.metrics.train_acc
        }),
        ("test acc", Color32::from_rgb(80, 150, 230), |r, _| {
            r.metrics.test_acc
        }),
        (
            "test-2 (attack)",
            Color32::from_rgb(200, 80, 200),
            |r, _| r.metrics.test2_acc,
        ),
        ("kept fraction", kept_grey, |r, n| {
            Some(r.metrics.kept as f64 / n)
        }),
        (
            "trained-on fraction",
            Color32::from_rgb(140, 140, 140),
            |r, n| Some(r.trained_on as f64 / n),
        ),
        ("trim precision", Color32::from_rgb(235, 120, 60), |r, _| {
            r.metrics.trim.map(|t| t.precision)
        }),
        ("trim recall", Color32::from_rgb(230, 200, 60), |r, _| {
            r.metrics.trim.map(|t| t.recall)
        }),
    ];
    // A one-line summary of the shown round (also what tests read).
    if let Some(r) = state.record() {
        let m = &r.metrics;
        let mut parts = Vec::new();
        if generative {
            parts.push(format!("mean loss {:.4}", m.mean_loss));
            if let Some(l) = m.test_loss {
                parts.push(format!("test loss {l:.4}"));
            }
        }
        if let Some(a) = m.train_acc {
            parts.push(format!("train acc {:.1}%", a * 100.0));
        }
        if let Some(a) = m.test_acc {
            parts.push(format!("test acc {:.1}%", a * 100.0));
        }
        if let Some(a) = m.test2_acc {
            parts.push(format!("test-2 {:.1}% (attack success)", a * 100.0));
        }
        let mut s = format!("Round {}: {}", r.round, parts.join(", "));
        if let Some(t) = m.trim {
            if !parts.is_empty() {
                s.push(',');
            }
            s.push_str(&format!(
                " trim precision {:.3} recall {:.3}",
                t.precision, t.recall
            ));
            // The round's own cut; the histogram and the grids follow the slider. Said always:
            // appearing when the slider moved, it wrapped the title and moved the plot.
            s.push_str(&format!(" (at the round's tau {:.2})", r.tau));
        }
        ui.label(RichText::new(s).strong());
        // A class this round's model predicts for (almost) none of its samples.
        if let (Some(d), false) = (state.data.as_ref(), generative) {
            if let Some(line) = crate::session::unfolded_line(r, &d.train.classes) {
                ui.label(RichText::new(line).color(super::warn(ui)));
            }
            let k = d.train.num_classes();
            for c in crate::itlm::starved_classes(d.train.labels(), &r.predicted, k) {
                ui.label(
                    RichText::new(format!(
                        "Round {}'s model {}",
                        r.round,
                        crate::session::starved_line(
                            &c,
                            &d.train.classes,
                            !r.transition.is_empty()
                        )
                    ))
                    .color(super::warn(ui)),
                );
            }
        }
    }
    let shown = state.record().map(|r| r.round as f64);
    if generative {
        losses_plot_ui(ui, &run.history, shown);
    }
    let lines: Vec<(String, Color32, Vec<[f64; 2]>)> = series
        .iter()
        .filter_map(|(name, color, get)| {
            let pts: Vec<[f64; 2]> = run
                .history
                .iter()
                .filter_map(|r| get(r, n).map(|v| [r.round as f64, v]))
                .collect();
            (!pts.is_empty()).then(|| (name.to_string(), *color, pts))
        })
        .collect();
    // The legend above the plot, where it covers no round.
    legend_ui(
        ui,
        lines.iter().map(|(name, color, _)| (name.as_str(), *color)),
    );
    Plot::new("metrics")
        .height(super::plot_height(ui, 170.0))
        .include_y(0.0)
        .include_y(1.0)
        .allow_scroll(false)
        .allow_zoom(false)
        .allow_drag(false)
        .x_axis_label("round")
        .x_grid_spacer(round_grid)
        .show(ui, |p| {
            for (name, color, pts) in lines {
                draw_series(p, name, color, pts);
            }
            shown_round(p, shown);
        })
        .response
        .widget_info(|| egui::WidgetInfo::labeled(egui::Role::Image, true, "Metrics over rounds"));
}

/// Mean loss on all samples and test loss per round (generative runs: the VAE's negative ELBO
/// per pixel).
fn losses_plot_ui(
    ui: &mut egui::Ui,
    history: &[std::sync::Arc<crate::itlm::RoundRecord>],
    shown: Option<f64>,
) {
    type Get = fn(&crate::itlm::RoundRecord) -> Option<f64>;
    let series: [(&str, Color32, Get); 2] = [
        ("mean loss", Color32::from_rgb(120, 200, 120), |r| {
            Some(r.metrics.mean_loss).filter(|v| v.is_finite())
        }),
        ("test loss", Color32::from_rgb(80, 150, 230), |r| {
            r.metrics.test_loss.filter(|v| v.is_finite())
        }),
    ];
    legend_ui(ui, series.iter().map(|(name, color, _)| (*name, *color)));
    Plot::new("losses")
        .height(super::plot_height(ui, 130.0))
        .allow_scroll(false)
        .allow_zoom(false)
        .allow_drag(false)
        .x_axis_label("round")
        .x_grid_spacer(round_grid)
        .y_axis_label("loss")
        .show(ui, |p| {
            for (name, color, get) in series {
                let pts: Vec<[f64; 2]> = history
                    .iter()
                    .filter_map(|r| get(r).map(|v| [r.round as f64, v]))
                    .collect();
                if !pts.is_empty() {
                    draw_series(p, name.to_string(), color, pts);
                }
            }
            shown_round(p, shown);
        })
        .response
        .widget_info(|| egui::WidgetInfo::labeled(egui::Role::Image, true, "Losses over rounds"));
}

/// The x grid of a plot over rounds: whole rounds only, every 1, 2, 5, 10, ... rounds, the
/// first of those steps whose labels stand far enough apart for egui_plot to draw them (it
/// leaves out labels closer than 60 points: with its default grid a narrow panel of ten
/// rounds was labelled "0" alone), with a thin line at every round between them.
pub fn round_grid(input: egui_plot::GridInput) -> Vec<egui_plot::GridMark> {
    // `base_step_size` is the plot's units per point times its smallest grid spacing (8).
    let per_point = input.base_step_size / 8.0;
    let step = [1.0, 2.0, 5.0, 10.0, 20.0, 50.0, 100.0, 200.0, 500.0]
        .into_iter()
        .find(|&s| s / per_point.max(f64::MIN_POSITIVE) >= 64.0)
        .unwrap_or(1000.0);
    let (lo, hi) = input.bounds;
    if !(lo.is_finite() && hi.is_finite()) || hi - lo > 1e5 {
        return Vec::new();
    }
    let first = lo.ceil().max(0.0) as i64;
    let last = hi.floor() as i64;
    (first..=last)
        .map(|r| {
            let labelled = (r as f64) % step == 0.0;
            egui_plot::GridMark {
                value: r as f64,
                step_size: if labelled { step } else { 1.0 },
            }
        })
        .filter(|m| m.step_size == step || 1.0 / per_point >= 8.0)
        .collect()
}

/// One series over rounds: a line, and markers too so that a single round shows (same name =
/// one legend entry).
fn draw_series(p: &mut egui_plot::PlotUi<'_>, name: String, color: Color32, pts: Vec<[f64; 2]>) {
    p.points(
        Points::new(name.clone(), PlotPoints::new(pts.clone()))
            .color(color)
            .radius(2.5),
    );
    p.line(
        Line::new(name, PlotPoints::new(pts))
            .color(color)
            .width(2.0),
    );
}

/// The round on display as a vertical line (unnamed: not in the legend).
fn shown_round(p: &mut egui_plot::PlotUi<'_>, shown: Option<f64>) {
    if let Some(x) = shown {
        p.vline(VLine::new("", x).color(Color32::GRAY));
    }
}

/// A plot's legend as a row of coloured names.
pub fn legend_ui<'a>(ui: &mut egui::Ui, entries: impl Iterator<Item = (&'a str, Color32)>) {
    ui.horizontal_wrapped(|ui| {
        for (name, color) in entries {
            let (r, _) = ui.allocate_exact_size(egui::vec2(10.0, 10.0), egui::Sense::hover());
            ui.painter().rect_filled(r, 2.0, color);
            ui.label(RichText::new(name).color(color).small());
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Ten rounds in a 400-point panel: labels every 2 rounds (80 points apart, over
    /// egui_plot's 60), a thin line at each round; a wide panel labels every round.
    #[test]
    fn rounds_are_labelled_as_often_as_they_fit() {
        let narrow = round_grid(egui_plot::GridInput {
            bounds: (-0.5, 9.5),
            base_step_size: 10.0 / 400.0 * 8.0,
        });
        let labelled: Vec<f64> = narrow
            .iter()
            .filter(|m| m.step_size == 2.0)
            .map(|m| m.value)
            .collect();
        assert_eq!(labelled, [0.0, 2.0, 4.0, 6.0, 8.0]);
        assert_eq!(narrow.len(), 10);
        let wide = round_grid(egui_plot::GridInput {
            bounds: (-0.5, 9.5),
            base_step_size: 10.0 / 1000.0 * 8.0,
        });
        assert!(wide.iter().all(|m| m.step_size == 1.0) && wide.len() == 10);
        // A hundred rounds in 300 points: every 50 (the thin lines would be 3 points apart).
        let long = round_grid(egui_plot::GridInput {
            bounds: (0.0, 100.0),
            base_step_size: 100.0 / 300.0 * 8.0,
        });
        let v: Vec<f64> = long.iter().map(|m| m.value).collect();
        assert_eq!(v, [0.0, 50.0, 100.0]);
    }
}
