//! The loss histogram of the shown round: kept and trimmed in two colours, the tau cut as a
//! vertical line, truly bad samples outlined when ground truth is known, log-count toggle.
//! Clicking the plot moves the cut to that loss (global and floored rules). A toggle shows the round's spectral scores
//! instead, coloured by the same cut: where the loss cannot tell a backdoor's stamped images
//! from hard clean ones, they sit in the spectral score's tail.

use egui::{Color32, RichText, Stroke};
use egui_plot::{Bar, BarChart, Legend, Plot, VLine};

use crate::itlm::Selection;

use super::command::{Command, Commands, View};

pub const KEPT: Color32 = Color32::from_rgb(80, 150, 230);
pub const TRIMMED: Color32 = Color32::from_rgb(235, 120, 60);
pub const BAD: Color32 = Color32::from_rgb(230, 40, 40);

pub fn histogram_ui(ui: &mut egui::Ui, v: &View, out: &mut Commands) {
    let state = v.state;
    let Some(cut) = v.cut.clone() else {
        ui.label("Loss histogram: no finished round yet");
        return;
    };
    let rule = state
        .run
        .as_ref()
        .map_or(Selection::Global, |r| r.config.select);
    let spectral = cut
        .spectral_hist
        .as_ref()
        .filter(|_| state.settings.histogram_spectral);
    ui.horizontal_wrapped(|ui| {
        if cut.spectral_hist.is_some() {
            let mut on = state.settings.histogram_spectral;
            ui.selectable_value(&mut on, false, "loss")
                .on_hover_text("The round's losses, with the cut");
            ui.selectable_value(&mut on, true, "spectral score")
                .on_hover_text(super::detail::SPECTRAL_HELP);
            if on != state.settings.histogram_spectral {
                let mut s = state.settings.clone();
                s.histogram_spectral = on;
                out.push(Command::Settings(Box::new(s)));
            }
            ui.separator();
        }
        let what = if spectral.is_some() {
            "spectral scores"
        } else {
            "losses"
        };
        // Each part whole on its row (a narrow panel had broken "cut at loss 1.138 (tau"
        // from "0.90)").
        ui.add(
            egui::Label::new(
                RichText::new(format!(
                    "Round {} {what}: {} kept, {} trimmed",
                    cut.record.round, cut.kept_count, cut.trimmed_count
                ))
                .strong(),
            )
            .extend(),
        );
        if let Some(v) = cut.cut_value {
            ui.add(egui::Label::new(format!("cut at loss {v:.3} (tau {:.2})", cut.tau)).extend());
        }
        let share = crate::itlm::select::keep_count(cut.kept.len(), cut.tau);
        if let Some(line) = crate::session::floors_line(cut.floors_added, share) {
            ui.label(RichText::new(format!("({line})")).weak());
        }
        let mut log = state.settings.log_counts;
        if ui.checkbox(&mut log, "log counts").changed() {
            let mut s = state.settings.clone();
            s.log_counts = log;
            out.push(Command::Settings(Box::new(s)));
        }
    });
    if spectral.is_some() {
        if let Some(t) = &cut.spectral_tail {
            ui.label(format!(
                "The {} highest spectral scores: {} trimmed by this cut{}. Colours are the cut on the loss; the score is per class (each class's mean is 1)",
                t.top,
                t.trimmed,
                t.bad.map_or_else(String::new, |b| format!(", {b} truly bad"))
            ));
        }
    }
    let rounds = state.run.as_ref().map_or(0, |r| r.config.rounds);
    if let (Some(r), Some(data)) = (&cut.restored, state.data.as_ref()) {
        // What stays trimmed after a restore is the suspect classes' trimmed samples.
        let suspect: Vec<&str> = (data.train.classes.iter().zip(&r.suspect))
            .filter(|(_, &s)| s)
            .map(|(c, _)| c.as_str())
            .collect();
        ui.label(format!(
            "Restore: the cut (and this histogram) is on round {}'s losses (a full-length model's own losses are low on all it trained on); {} trimmed in classes without a one-sided confusion went back{}",
            rounds.saturating_sub(1),
            crate::plural(r.back, "sample"),
            if suspect.is_empty() {
                String::new()
            } else {
                format!("; still trimmed: the samples of {}", suspect.join(", "))
            }
        ))
        .on_hover_text("Trimmed samples given class b and predicted class a, many, with few given a and predicted b: what relabelling attacks and systematic flips leave. Such classes keep their trimmed samples out; the others get theirs back (hard clean samples)");
    }
    if let (Some(c), Some(data)) = (&cut.record.clusters, state.data.as_ref()) {
        let held = cut.record.held_out.iter().filter(|&&h| h).count();
        let classes: Vec<String> = c
            .flagged_classes()
            .map(|k| {
                format!(
                    "{}: a cluster of {} of {}, trimmed {:.1}x as often as the rest, {:.0}% called {}{}",
                    data.train.class_name(k.class),
                    k.size,
                    k.count,
                    k.enrichment(),
                    k.own_share * 100.0,
                    data.train.class_name(k.class),
                    k.other.map_or_else(String::new, |(o, s)| format!(
                        " and {:.0}% {}",
                        s * 100.0,
                        data.train.class_name(o)
                    ))
                )
            })
            .collect();
        ui.label(format!(
            "Clustering cut: held out {} before this round trained{}",
            crate::plural(held, "sample"),
            if classes.is_empty() {
                " (no class's activations split off an attack)".to_string()
            } else {
                format!(" ({})", classes.join("; "))
            }
        ))
        .on_hover_text(format!(
            "A probe model trained {} epochs on every sample; each class's penultimate activations were split in two. A class's smaller cluster is held out when it is at most a quarter of the class, the early rounds trimmed its members at least 3 times as often as the rest, and the model before the cut calls more of it by one other class than by its own: stamped images that look like their target class. The final model, trained without them, judged them: those it called by that other class trained under it in the final model trained again (the round's relabelled samples). 'held out by clusters' in the grid bar shows them",
            c.probe_epochs
        ));
    }
    if let Some((p, r)) = cut.estimated {
        ui.label(format!(
            "estimated at this cut (no truth): precision {p:.3}, recall {r:.3}"
        ))
        .on_hover_text("From the forward-corrected model: each sample's chance that its label is wrong, p(true class) through the label-noise matrix it trained with, summed over the trimmed samples (precision) and over all (recall). On 21 measured rounds at 40% systematic and 60% random noise it was within about 0.035 of the truth, mostly above it (README)");
    }
    if let Some(t) = cut.trim {
        ui.label(
            RichText::new(format!(
                "vs truth at this cut: {} of {} bad trimmed, precision {:.3}, recall {:.3}, F1 {:.3}",
                t.trimmed_bad, t.bad, t.precision, t.recall, t.f1
            ))
            .color(super::warn(ui)),
        );
    }
    let log = state.settings.log_counts;
    let h = spectral.unwrap_or(&cut.hist);
    let height = |c: usize| {
        if log {
            (1.0 + c as f64).log10()
        } else {
            c as f64
        }
    };
    let bars = |counts: &[usize]| -> Vec<Bar> {
        counts
            .iter()
            .enumerate()
            .map(|(b, &c)| Bar::new(h.center(b), height(c)).width(h.width * 0.95))
            .collect()
    };
    // Heights are stacked for display: log of a sum, not a sum of logs.
    let total: Vec<usize> = h.kept.iter().zip(&h.trimmed).map(|(a, b)| a + b).collect();
    let kept_chart = BarChart::new("kept", bars(&h.kept)).color(KEPT);
    let trimmed_bars: Vec<Bar> = total
        .iter()
        .zip(&h.kept)
        .enumerate()
        .map(|(b, (&t, &k))| {
            Bar::new(h.center(b), height(t) - height(k))
                .base_offset(height(k))
                .width(h.width * 0.95)
        })
        .collect();
    let trimmed_chart = BarChart::new("trimmed", trimmed_bars).color(TRIMMED);
    let bad_chart = h.bad.as_ref().map(|bad| {
        BarChart::new(
            "truly bad",
            bad.iter()
                .enumerate()
                .filter(|(_, &c)| c > 0)
                .map(|(b, &c)| {
                    // A narrow bar inside the bin, so kept / trimmed stay visible around it.
                    Bar::new(h.center(b), height(c))
                        .width(h.width * 0.35)
                        .fill(BAD.gamma_multiply(0.8))
                        .stroke(Stroke::new(1.0, BAD))
                })
                .collect(),
        )
        .color(BAD)
    });
    // The cut is on the loss: no line on the spectral scores' axis.
    let cut_value = cut.cut_value.filter(|_| spectral.is_none());
    let cut_ink = super::ink(ui);
    let resp = Plot::new(("histogram", state.generation))
        .legend(Legend::default())
        .height(super::plot_height(ui, 200.0))
        .allow_scroll(false)
        .allow_zoom(false)
        .allow_drag(false)
        .allow_boxed_zoom(false)
        // Labels from 36 points apart (egui_plot's default of 60 left a narrow plot of losses
        // 0 - 8 with the label "0" alone: the marks one apart were too close to be labelled).
        .custom_x_axes(vec![egui_plot::AxisHints::new_x()
            .label(if spectral.is_some() {
                "√ spectral score: distance from the class's mean along its top direction, in σ"
            } else {
                "loss"
            })
            .label_spacing(36.0..=54.0)])
        .y_axis_label(if log { "log10(1 + count)" } else { "count" })
        .show(ui, |p| {
            p.bar_chart(kept_chart);
            p.bar_chart(trimmed_chart);
            if let Some(b) = bad_chart {
                p.bar_chart(b);
            }
            if let Some(v) = cut_value {
                p.vline(VLine::new("cut", v as f64).color(cut_ink).width(1.5));
            }
            p.pointer_coordinate()
        });
    resp.response.widget_info(|| {
        let name = if spectral.is_some() {
            "Spectral score histogram"
        } else {
            "Loss histogram"
        };
        egui::WidgetInfo::labeled(egui::Role::Image, true, name)
    });
    // The global share at a loss is tau for the global rule, and for the floored one too (its
    // floors only add samples in the classes they hold up); per class there is no one line.
    let clickable = rule != Selection::PerClass && spectral.is_none();
    // (Where a click cuts, the plot's own hover label shows where it would.)
    let response = if rule == Selection::PerClass && spectral.is_none() {
        resp.response.clone().on_hover_text(
            "The per-class rule cuts each class at its own loss: set tau with the slider",
        )
    } else {
        resp.response.clone()
    };
    if clickable && response.clicked() {
        if let Some(pt) = resp.inner {
            // The share of samples at or below the clicked loss becomes tau.
            let s = &cut.record.score;
            let below = s.iter().filter(|&&x| (x as f64) <= pt.x).count();
            let tau = below as f64 / s.len().max(1) as f64;
            out.push(Command::SetTau(tau));
        }
    }
}
