//! The round timeline: one button per finished round (click, or Left/Right keys), a "Live"
//! toggle that follows the newest round, and the rounds still to come (plain text, not
//! buttons: nothing to show yet). A long run (co-teaching's 25 rounds) names its rounds by
//! number alone, so that the row stays one line.

use egui::RichText;

use super::state::LiveStatus;

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
    let last = run.history.last().map(|r| r.round);
    // Stop pressed: no round after the last finished one will come, though the worker has
    // not said it ended yet.
    let stopped = run.stopping || matches!(run.status, LiveStatus::Stopped | LiveStatus::Failed(_));
    let mut live = state.follow_latest;
    let mut clicked = None;
    let mut follow = false;
    let name = |r: usize| round_label(r, planned);
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
            // Framed whether shown or not: a finished round is a button to click.
            if ui
                .add(
                    egui::Button::new(name(r.round))
                        .selected(selected == Some(i))
                        .frame(true)
                        .frame_when_inactive(true),
                )
                .on_hover_text(hover)
                .clicked()
            {
                clicked = Some(i);
            }
        }
        let next_round = run.history.last().map_or(0, |r| r.round + 1);
        let ended = stopped || !active;
        for r in next_round..planned.max(next_round) {
            if (active && !stopped) || r == next_round && n < planned {
                planned_round_ui(ui, r, &name(r), ended);
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
        ui.label(RichText::new(showing_text(showing, last, planned - 1, &run.status, stopped)).strong());
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

/// Runs of more rounds than this name them by number alone ("7", not "Round 7").
pub const LONG_RUN: usize = 12;

/// A round's name on its button: "Round 7", or "7" in a run of more than [`LONG_RUN`] rounds.
pub fn round_label(round: usize, planned: usize) -> String {
    if planned > LONG_RUN {
        round.to_string()
    } else {
        format!("Round {round}")
    }
}

/// A round not run yet: dim italic text, no frame and no click, and a hover saying so.
fn planned_round_ui(ui: &mut egui::Ui, round: usize, name: &str, ended: bool) {
    let hover = if ended {
        format!("Round {round} has not run yet: Step one round trains it")
    } else {
        format!("Round {round} has not run yet")
    };
    ui.add(
        egui::Label::new(
            RichText::new(name)
                .italics()
                .color(ui.visuals().weak_text_color()),
        )
        .selectable(false)
        .sense(egui::Sense::hover()),
    )
    .on_hover_cursor(egui::CursorIcon::NotAllowed)
    .on_hover_text(hover);
}

/// What the timeline says of the shown round: `showing` (None: no round shown), `last` the
/// newest finished round, `planned_last` the run's last round, `stopped` Stop pressed or the
/// run stopped or failed (no round after `last` comes).
pub fn showing_text(
    showing: Option<usize>,
    last: Option<usize>,
    planned_last: usize,
    status: &LiveStatus,
    stopped: bool,
) -> String {
    let how = if matches!(status, LiveStatus::Failed(_)) {
        "failed"
    } else {
        "stopped"
    };
    match (showing, last) {
        (Some(r), Some(k)) if stopped => {
            format!("Showing round {r} - the run {how} after round {k}")
        }
        (Some(r), _) => format!("Showing round {r} of {planned_last}"),
        (None, None) if stopped => format!("The run {how} before round 0 finished"),
        (None, None) if status.is_active() => "Round 0 is training...".into(),
        _ => "No round yet".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stopped_run_says_where_it_stopped_never_of_rounds_that_will_not_come() {
        let s = LiveStatus::Stopped;
        assert_eq!(
            showing_text(Some(0), Some(0), 3, &s, true),
            "Showing round 0 - the run stopped after round 0"
        );
        assert_eq!(
            showing_text(None, None, 3, &s, true),
            "The run stopped before round 0 finished"
        );
        // Stop pressed, the worker not yet ended: already no "of 3".
        let running = LiveStatus::Running;
        assert_eq!(
            showing_text(Some(1), Some(2), 3, &running, true),
            "Showing round 1 - the run stopped after round 2"
        );
        assert_eq!(
            showing_text(Some(1), Some(2), 3, &running, false),
            "Showing round 1 of 3"
        );
        assert_eq!(
            showing_text(None, None, 3, &running, false),
            "Round 0 is training..."
        );
        let failed = LiveStatus::Failed("x".into());
        assert_eq!(
            showing_text(Some(0), Some(1), 3, &failed, true),
            "Showing round 0 - the run failed after round 1"
        );
        assert_eq!(
            showing_text(Some(2), Some(2), 2, &LiveStatus::Finished, false),
            "Showing round 2 of 2"
        );
    }
}
