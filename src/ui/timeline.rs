//! The round timeline: one button per finished round (click, or Left/Right keys), a "Live"
//! toggle that follows the newest round, and the rounds still to come.

use egui::{Color32, RichText};

use super::command::{Command, Commands, View};

pub fn timeline_ui(ui: &mut egui::Ui, v: &View, out: &mut Commands) {
    let state = v.state;
    let Some(run) = &state.run else { return };
    let n = run.history.len();
    let active = run.status.is_active();
    // The live run says how long it is (forward correction shortens it once it is on).
    let planned = match (&run.progress, active) {
        (Some(p), true) => p.rounds.max(run.history.last().map_or(0, |r| r.round)),
        _ => run.config.planned_last_round(&run.history),
    } + 1;
    let selected = state.selected_round;
    let showing = state.record().map(|r| r.round);
    let mut live = state.follow_latest;
    let mut clicked = None;
    let mut follow = false;
    ui.horizontal_wrapped(|ui| {
        ui.label("Rounds:");
        if ui
            .add_enabled(selected.is_some_and(|s| s > 0), egui::Button::new("<"))
            .on_hover_text("Previous round (Left arrow)")
            .clicked()
        {
            clicked = selected.map(|s| s.saturating_sub(1));
        }
        for (i, r) in run.history.iter().enumerate() {
            let m = &r.metrics;
            let mut hover = format!(
                "round {}: trained {} epochs on {}, tau {:.2}, kept {} trimmed {}",
                r.round, r.epochs, r.trained_on, r.tau, m.kept, m.trimmed
            );
            if let Some(a) = m.test_acc {
                hover.push_str(&format!(", test acc {:.1}%", a * 100.0));
            } else if let Some(l) = m.test_loss {
                hover.push_str(&format!(", test loss {l:.4}"));
            }
            if let Some(a) = m.test2_acc {
                hover.push_str(&format!(", test-2 {:.1}%", a * 100.0));
            }
            if r.relabelled_count() > 0 {
                hover.push_str(&format!(
                    ", relabelled {} trimmed samples for the next round",
                    r.relabelled_count()
                ));
                if let Some(q) = m.relabel {
                    hover.push_str(&format!(
                        " ({:.0}% to their true label)",
                        q.precision * 100.0
                    ));
                }
            }
            if let Some(c) = &r.clusters {
                hover.push_str(&format!(
                    ", the clustering cut held out {} samples before it trained",
                    r.held_out.iter().filter(|&&h| h).count()
                ));
                for k in c.flagged_classes() {
                    hover.push_str(&format!(
                        " ({} of {} {}, trimmed {:.1}x as often as the rest)",
                        k.size,
                        k.count,
                        state.data.as_ref().map_or_else(|| k.class.to_string(), |d| d.train.class_name(k.class).to_string()),
                        k.enrichment()
                    ));
                }
            }
            if run.config.restore && r.round == run.config.rounds {
                hover.push_str(". The plain ITLM final model; its cut gives back the trimmed samples of classes without a one-sided confusion");
            } else if run.config.restore && r.round > run.config.rounds {
                hover.push_str(". The final model, trained on the restored set");
            }
            if ui
                .selectable_label(selected == Some(i), format!("Round {}", r.round))
                .on_hover_text(hover)
                .clicked()
            {
                clicked = Some(i);
            }
        }
        let next_round = run.history.last().map_or(0, |r| r.round + 1);
        for r in next_round..planned.max(next_round) {
            if active || r == next_round && n < planned {
                ui.label(RichText::new(format!("Round {r}")).color(Color32::GRAY));
            }
        }
        if ui
            .add_enabled(selected.is_some_and(|s| s + 1 < n), egui::Button::new(">"))
            .on_hover_text("Next round (Right arrow)")
            .clicked()
        {
            clicked = selected.map(|s| s + 1);
        }
        if active
            && ui
                .toggle_value(&mut live, "Live")
                .on_hover_text("Follow the newest round as it arrives")
                .changed()
            && live
        {
            follow = true;
        }
        ui.separator();
        match showing {
            Some(r) => {
                ui.label(RichText::new(format!("Showing round {r} of {}", planned - 1)).strong())
            }
            None if n == 0 && active => ui.label("Round 0 is training..."),
            None => ui.label("No round yet"),
        };
    });
    if !live && state.follow_latest {
        out.push(Command::Unfollow);
    }
    if let Some(i) = clicked {
        out.push(Command::SelectRound(i));
    }
    if follow {
        out.push(Command::Follow);
    }
}
