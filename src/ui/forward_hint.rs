//! The controls' line on label-noise flips after round 0: for a plain run whose round 0 saw
//! one-sided flips, a hint with a button that turns forward correction on for the next run;
//! for a run on `auto`, what the rule decided and why.

use egui::RichText;

use crate::itlm::Forward;

use super::command::View;
use super::settings::Settings;

/// When round 0's model sees one-sided label flips (a systematic flip, a relabelling attack)
/// and the run did not correct for them: what it sees, and a button that turns forward
/// correction on for the next run (never applied by itself). For a run with forward
/// correction on `auto`, what the rule decided from round 0 and why.
pub fn forward_hint_ui(ui: &mut egui::Ui, v: &View, edited: &mut Settings) {
    let state = v.state;
    use crate::itlm::transition;
    let (Some(t), Some(data)) = (&state.flips, &state.data) else {
        return;
    };
    let names = &data.train.classes;
    let k = names.len();
    let Some((flipped, one_sided)) = transition::shape(t, k) else {
        return;
    };
    // What the shown run was set to (auto: the rule decided).
    let auto_run = state
        .run
        .as_ref()
        .filter(|r| r.config.forward() == Forward::Auto);
    // An auto run whose final check ([`crate::itlm::final_check`]) chose the forward round's
    // cut through the matrix: a later forward round trained on fewer samples.
    let checked_cut = auto_run.and_then(|r| {
        let first = r.history.iter().find(|x| !x.transition.is_empty())?;
        r.history
            .windows(2)
            .find(|w| {
                let (prev, x) = (&w[0], &w[1]);
                x.round > first.round
                    && !x.transition.is_empty()
                    && x.trained_on < first.trained_on
                    && x.trained_on == prev.kept.iter().filter(|&&k| k).count()
            })
            .map(|w| (first.round, w[1].round, w[1].trained_on))
    });
    if let Some((from, last, kept)) = checked_cut {
        ui.label(
            RichText::new(format!(
                "auto: forward correction from round {from}; round {last} trained on the {kept} kept samples through the matrix (a check on held-out labels chose it)"
            ))
            .weak(),
        )
        .on_hover_text("Before the final round a check trained models on 4 of 5 folds with every sample through the matrix, with the cut through it, and with the cut plainly, and read their held-out predictions through the matrix: the cut through the matrix scored best, so the final model trained on it (the check runs for heads on embeddings, which retrain in moments; `run` prints its figures)");
        return;
    }
    let ran_with = state.record().is_some_and(|r| !r.transition.is_empty());
    let ran_auto = auto_run.is_some();
    // What the next run is set to.
    let next = edited.config.forward();
    if ran_with || state.generative() || (!ran_auto && next != Forward::Off) {
        return;
    }
    // An auto run past round 0 shows what it did (its rounds trained through a matrix or
    // not: the run decided on the samples it kept in, with the user's relabels); before
    // that, what the rule reads off round 0 here.
    let calls_for_it = auto_run
        .filter(|r| r.history.len() > 1)
        .map(|r| r.history.iter().any(|x| !x.transition.is_empty()))
        .unwrap_or_else(|| transition::suggests_forward(flipped, one_sided));
    // An auto run whose final check ([`crate::itlm::final_check`]) found plain ITLM better:
    // forward rounds, then rounds without a matrix.
    let checked_off = auto_run.and_then(|r| {
        let first = r.history.iter().position(|x| !x.transition.is_empty())?;
        r.history[first..]
            .iter()
            .find(|x| x.transition.is_empty())
            .map(|x| (r.history[first].round, x.round))
    });
    if let Some((from, off)) = checked_off {
        ui.label(
            RichText::new(format!(
                "auto: forward correction in round {from}, then plain ITLM from round {off} (a check on held-out labels chose it)"
            ))
            .weak(),
        )
        .on_hover_text(format!(
            "Round 0's model implied {:.0}% of the labels flipped, {:.0}% one-sided, so auto trained round {from} through the matrix. Before the final round a check trained models on 4 of 5 folds with every sample through the matrix, with the cut through it, and with the cut plainly, and read their held-out predictions through the matrix: no set through the matrix beat the plain cut by two standard errors (a model too weak to estimate the flips fits those the matrix misses). So the run went on as plain ITLM from that round's cut (the check runs for heads on embeddings, which retrain in moments; `run` prints its figures)",
            flipped * 100.0,
            one_sided * 100.0
        ));
        return;
    }
    if ran_auto && !calls_for_it {
        // Short: it ends the tau row, which wrapped its figures under the slider at 1366 px;
        // whole (extend): where the row is full it moves to the next line in one piece.
        ui.add(egui::Label::new(RichText::new("auto: plain ITLM").weak()).extend())
            .on_hover_text(format!(
                "Round 0's model implies {:.0}% of the labels flipped, {:.0}% of the flips one-sided. Forward correction (auto) turns on when round 0's model implies that at least 5% of the labels are flipped and most flips go to their class's likeliest other class. Here the flips are too few or spread over classes (random noise, clean data): the rounds train plainly on their cuts",
                flipped * 100.0,
                one_sided * 100.0
            ));
        return;
    }
    if !calls_for_it {
        return;
    }
    // The largest flip, for the label.
    let example = (0..k)
        .filter_map(|j| transition::top_flip(&t[j * k..(j + 1) * k], j).map(|(g, v)| (j, g, v)))
        .max_by(|a, b| a.2.total_cmp(&b.2))
        .map(|(j, g, v)| {
            format!(
                ", e.g. {} labelled {} ({:.0}%)",
                names[j],
                names[g],
                v * 100.0
            )
        })
        .unwrap_or_default();
    let auto = if ran_auto {
        "auto: forward correction from round 1 on; "
    } else {
        ""
    };
    ui.label(
        RichText::new(format!(
            "{auto}one-sided label flips: {:.0}% flipped{example}",
            flipped * 100.0
        ))
        .color(super::warn(ui)),
    )
    .on_hover_text(format!(
        "Round 0's model implies that {:.0}% of the labels are flipped and that, per class, {:.0}% of the flipped go to one other class (a systematic flip or a relabelling attack). Forward correction trains through that matrix instead of trimming: measured on Fashion-MNIST at 40% systematic noise, 89.6% against plain ITLM's 77.4% (README)",
        flipped * 100.0,
        one_sided * 100.0
    ));
    if !ran_auto
        && next == Forward::Off
        && ui
            .small_button("correct for it")
            .on_hover_text(
                "Turn 'label-noise correction' (More...) on for the next run; Start runs it",
            )
            .clicked()
    {
        edited.config.transition = Forward::On;
        edited.config.restore = false;
        edited.config.relabel = false;
        edited.config.clusters = false;
        edited.config.coteach = None;
    }
}
