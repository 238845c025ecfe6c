//! Label health of the shown cut, under the confusion (cleanlab's `health_summary`; the same
//! figures as `health.csv`, the lines `run` and `export` print and the report's section,
//! [`crate::itlm::health`]): the share of samples not flagged, the classes worst first (their
//! flagged share and the class their flagged samples are mostly predicted as) and the given ->
//! predicted pairs most frequent among the flagged. It follows the cut: the round shown and
//! the tau slider. A click on a class filters the grids to its samples, on a pair to that
//! confusion cell (as the confusion's own click); a second click takes the filter off.

use egui::RichText;

use super::command::{Command, Commands, View};
use super::view::{Filter, GridTab};

/// Classes and pairs listed before "show all".
const FOLDED: usize = 5;

/// The panel's own state: whether every class and pair is listed.
#[derive(Default)]
pub struct HealthPanel {
    all: bool,
}

impl HealthPanel {
    pub fn ui(&mut self, ui: &mut egui::Ui, v: &View, out: &mut Commands) {
        let state = v.state;
        let Some(cut) = v.cut.as_ref() else {
            ui.label("Label health: no finished round yet");
            return;
        };
        let (Some(h), Some(data)) = (cut.health.as_ref(), state.data.as_ref()) else {
            return;
        };
        let name = |c: usize| data.train.class_name(c as u32).to_string();
        let disagreeing = h
            .flagged_disagreeing
            .map(|d| format!(", {d} of them predicted as another class"))
            .unwrap_or_default();
        ui.label(
            RichText::new(format!(
                "Label health, round {} at tau {:.2}: {:.1}% of {} samples not flagged ({} flagged{disagreeing})",
                cut.record.round,
                cut.tau,
                h.health() * 100.0,
                h.samples,
                h.flagged,
            ))
            .strong(),
        )
        .on_hover_text(
            "The share of samples the shown cut keeps (cleanlab's label health), as health.csv \
             and the report give it; it follows the tau slider and the round shown",
        );
        // A final model that barely learned the labels flags samples that say little of them.
        if let Some(nl) = &h.not_learned {
            ui.label(
                RichText::new(format!(
                    "Caveat: {}",
                    crate::export::health::not_learned_words(nl)
                ))
                .color(super::warn(ui)),
            );
        }
        let shown = if self.all { usize::MAX } else { FOLDED };
        ui.label(
            RichText::new("Classes, worst first (a click filters the grid to the class)")
                .small()
                .weak(),
        );
        let mut clicked_class = None;
        for c in h.classes.iter().take(shown) {
            let mut text = format!(
                "{}: {:.0}% flagged ({} of {})",
                name(c.class),
                c.flagged_share() * 100.0,
                c.flagged,
                c.samples
            );
            match c.predicted {
                Some((p, n)) if p == c.class => text.push_str(&format!(
                    ", mostly predicted as labelled ({n}): hard samples rather than wrong labels"
                )),
                Some((p, n)) => text.push_str(&format!(", mostly predicted {} ({n})", name(p))),
                None => {}
            }
            let on = state.filter.class == Some(c.class as u32) && state.filter.cell.is_none();
            if ui
                .selectable_label(on, text)
                .on_hover_text("Show this class's samples in the grid (Trimmed: its flagged ones)")
                .clicked()
            {
                clicked_class = Some(c.class as u32);
            }
        }
        let mut clicked_pair = None;
        if !h.pairs.is_empty() {
            ui.label(
                RichText::new(
                    "Given -> predicted, most often among the flagged (a click filters the grid)",
                )
                .small()
                .weak(),
            );
        }
        for p in h.pairs.iter().take(shown) {
            let text = format!(
                "{} -> {}: {} flagged ({:.0}% of {})",
                name(p.given),
                name(p.predicted),
                p.count,
                p.share * 100.0,
                name(p.given)
            );
            let cell = (p.given as u32, p.predicted as u32);
            if ui
                .selectable_label(state.filter.cell == Some(cell), text)
                .on_hover_text(
                    "Show the flagged samples given the first class and predicted the second",
                )
                .clicked()
            {
                clicked_pair = Some(cell);
            }
        }
        let more = h.classes.len().max(h.pairs.len());
        if more > FOLDED {
            let text = if self.all {
                format!("only the worst {FOLDED}")
            } else {
                format!(
                    "all {} and {}",
                    crate::plural(h.classes.len(), "class"),
                    crate::plural(h.pairs.len(), "pair")
                )
            };
            if ui.small_button(text).clicked() {
                self.all = !self.all;
            }
        }
        if let Some(g) = clicked_class {
            let on = state.filter.class == Some(g) && state.filter.cell.is_none();
            out.push(Command::SetFilter(Filter {
                class: (!on).then_some(g),
                cell: None,
                ..state.filter.clone()
            }));
            if !on {
                out.push(Command::SetTab(GridTab::Trimmed));
            }
        }
        if let Some(c) = clicked_pair {
            super::confusion::toggle_cell(state, c, out);
        }
    }
}
