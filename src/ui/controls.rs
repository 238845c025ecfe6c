//! Run controls: mode (classify / generative) and model, epochs, rounds, selection, schedule,
//! the tau slider with the round's suggested tau, a hint for small sets, Start / Pause /
//! Resume / Stop / Step, "Retrain at this tau", and the progress bar with ETA. The settings
//! row ends in the "More..." menu ([`super::more_menu`]).

use egui::{Color32, RichText};

use crate::itlm::{Selection, TauSchedule};
use crate::learner::{Mode, ModelKind};
// The backbone the model list's head entries use, named as the advice names it.
use crate::session::advice::BACKBONE_NAME;

use super::command::{Command, Commands, View};
use super::settings::Settings;
use super::state::LiveStatus;
use super::TAU_MIN;

/// Returned so the window can tell the slider's focus from a global arrow key.
pub struct ControlsOutput {
    pub tau_slider: egui::Id,
}

/// The configuration row and the run buttons. The settings are edited on a copy, handed back
/// as a command when they changed.
pub fn controls_ui(ui: &mut egui::Ui, v: &View, cmds: &mut Commands) -> ControlsOutput {
    let state = v.state;
    let mut out = ControlsOutput {
        tau_slider: egui::Id::NULL,
    };
    let mut edited = state.settings.clone();
    ui.horizontal_wrapped(|ui| {
        let s = &mut edited;
        let generative = s.learner.model == ModelKind::Vae;
        let mut mode = if generative {
            Mode::Generative
        } else {
            Mode::Classify
        };
        let l = ui.label("mode");
        egui::ComboBox::from_id_salt("mode")
            .selected_text(if generative { "generative" } else { "classify" })
            .show_ui(ui, |ui| {
                ui.selectable_value(&mut mode, Mode::Classify, "classify")
                    .on_hover_text("A classifier (cnn / mlp) on the given labels: noisy labels, backdoors");
                ui.selectable_value(&mut mode, Mode::Generative, "generative")
                    .on_hover_text("A VAE on the images alone (labels ignored): spurious images mixed into a set");
            })
            .response
            .labelled_by(l.id);
        match mode {
            Mode::Generative if !generative => s.make_generative(),
            Mode::Classify if generative => {
                s.learner.model = if s.classifier == ModelKind::Vae {
                    ModelKind::Cnn
                } else {
                    s.classifier
                };
            }
            _ => {}
        }
        let l = ui.label("model");
        if s.learner.model == ModelKind::Vae {
            ui.label(RichText::new("vae").strong())
                .labelled_by(l.id)
                .on_hover_text("Variational autoencoder: loss = negative ELBO per pixel");
        } else {
            egui::ComboBox::from_id_salt("model")
                .selected_text(match s.head {
                    Some(h) => format!("{h} head on {BACKBONE_NAME}"),
                    None => s.learner.model.to_string(),
                })
                .show_ui(ui, |ui| {
                    for (m, name, hover) in [
                        (ModelKind::Cnn, "cnn", "conv 32 - pool - conv 64 - pool - fc 128 (from scratch)"),
                        (ModelKind::Mlp, "mlp", "two hidden layers (256, 128) (from scratch)"),
                    ] {
                        let on = s.head.is_none() && s.learner.model == m;
                        if ui.selectable_label(on, name).on_hover_text(hover).clicked() {
                            s.learner.model = m;
                            s.head = None;
                        }
                    }
                    backbone_choice_ui(ui, s);
                })
                .response
                .labelled_by(l.id);
            s.classifier = s.learner.model;
        }
        if let Some(ct) = s.config.coteach.as_mut() {
            // ITLM's rounds do not apply: co-teaching's schedule instead.
            ui.label("co-teaching").on_hover_text("Two models pick each other's samples (More...: co-teaching)");
            number_ui(ui, "epochs", &mut ct.epochs, 1..=1000, "Epochs of both models in all: a round each");
            let most = ct.epochs;
            number_ui(ui, "ramp", &mut ct.ramp, 0..=most, "Epochs over which the share trained on falls from every sample to tau");
            let mut pseudo = ct.pseudo.is_some();
            if ui
                .checkbox(&mut pseudo, "pseudo-labels")
                .on_hover_text("After the ramp, each model also trains on the samples outside its share that its peer predicts confidently, under the peer's label; your exclusions never. README: +0.2 points on three seeds at 60% random noise with tau at the clean share, none at 20 - 40%, a third more time; but 1.6 points lost with tau 6 points under the clean share, so off by default")
                .changed()
            {
                ct.pseudo = pseudo.then_some(crate::itlm::CoTeach::PSEUDO);
            }
            if let Some(p) = ct.pseudo.as_mut() {
                ui.add(egui::DragValue::new(p).range(0.5..=1.0).speed(0.005).max_decimals(3).prefix("p >= "))
                    .on_hover_text("The peer's probability a pseudo-label needs");
            }
        } else {
            number_ui(
                ui,
                "epochs",
                &mut s.config.epochs,
                0.05..=1000.0,
                "Epochs of each early round (fractions allowed: 0.1 = a tenth of the batches of one pass)",
            );
            number_ui(ui, "final epochs", &mut s.config.final_epochs, 1..=1000, "Epochs of the last round: the model you keep");
            number_ui(ui, "rounds", &mut s.config.rounds, 1..=100, "Trim-and-retrain rounds after round 0");
        }
        let l = ui.label("selection");
        egui::ComboBox::from_id_salt("selection")
            .selected_text(s.config.select.to_string())
            .show_ui(ui, |ui| {
                ui.selectable_value(&mut s.config.select, Selection::Global, "global")
                    .on_hover_text("The paper's rule: keep the tau share of all samples");
                ui.selectable_value(&mut s.config.select, Selection::PerClass, "per-class")
                    .on_hover_text("Keep the tau share within each given class");
                ui.selectable_value(&mut s.config.select, Selection::Floored, "floored")
                    .on_hover_text("The tau share of all samples, and in every given class at least half its tau share: a rare class under heavy noise is not emptied (the default for a set of your own; README: imbalanced digits at 60% random noise, 84.4% against 49.4 global and 82.0 naive)");
            })
            .response
            .labelled_by(l.id);
        let l = ui.label("schedule");
        egui::ComboBox::from_id_salt("schedule")
            .selected_text(s.config.schedule.to_string())
            .show_ui(ui, |ui| {
                ui.selectable_value(&mut s.config.schedule, TauSchedule::Constant, "constant")
                    .on_hover_text("Every round keeps the fraction tau");
                ui.selectable_value(&mut s.config.schedule, TauSchedule::Linear, "linear")
                    .on_hover_text("Trim deeper each round, from 1.0 down to tau");
            })
            .response
            .labelled_by(l.id);
        super::more_menu::more_menu_ui(ui, v, s);
    });
    ui.horizontal_wrapped(|ui| {
        // The slider shows the tau to the hundredth, its step: handed a tau off that grid
        // (from the data on a small set: 63 / 65 = 0.9692...), it snaps it to the grid in
        // its first frame, which read as the user moving it (the tau cut again at 0.97 and
        // "from the data" unticked).
        let shown = on_slider_grid(state.tau());
        let mut tau = shown;
        let r = ui.add(
            egui::Slider::new(&mut tau, TAU_MIN..=1.0)
                .text("tau")
                .fixed_decimals(2)
                .step_by(0.01),
        );
        out.tau_slider = r.id;
        r.on_hover_text("Fraction kept. Moves the cut on the shown round at once; the next run and \"Retrain at this tau\" use it");
        if tau != shown {
            // (The edited settings carry it too, so that an edit in the same frame keeps it.)
            edited.config.tau = tau;
            edited.config.tau_from_data = false;
            cmds.push(Command::SetTau(tau));
        }
        if !state.generative() {
            ui.checkbox(&mut edited.config.tau_from_data, "from the data")
                .on_hover_text("The next run sets tau itself after round 0: the share of labels round 0's model does not confidently contradict (cleanlab's confident joint), for round 0's cut and every later one; the slider follows. A fixed tau trims its share even from a clean set (README: on a clean Fashion-MNIST 20000, 79.7% at tau 0.7 against 89.3% with tau from the data, 0.97). Moving the slider sets tau yourself. Co-teaching keeps the slider's tau");
        }
        // The run buttons come first: the hints after them appear and go while a run
        // trains, and must not move a button out from under the pointer.
        ui.separator();
        run_buttons_ui(ui, v, cmds);
        ui.separator();
        // Always there once a round is (greyed where the slider is at it), before the hints:
        // a button that came and went with the slider, after them, wrapped the row and moved
        // everything below it.
        if let Some(rec) = state.record() {
            let t = rec.tau;
            if ui
                .add_enabled(
                    (t - state.tau()).abs() > 1e-9,
                    egui::Button::new(format!("round's tau {t:.2}")).small(),
                )
                .on_hover_text("This round's selection used this tau: set the slider to it")
                .on_disabled_hover_text("The slider is at this round's tau")
                .clicked()
            {
                cmds.push(Command::SetTau(t));
            }
        }
        suggestion_ui(ui, v, cmds);
        super::forward_hint::forward_hint_ui(ui, v, &mut edited);
        super::coteach_hint::coteach_hint_ui(ui, v, &mut edited);
    });
    backbone_hint_ui(ui, v, &mut edited);
    progress_ui(ui, v);
    if edited != state.settings {
        cmds.push(Command::Settings(Box::new(edited)));
    }
    out
}

/// A tau as the tau slider shows it: to the hundredth (its step and its decimals).
pub(crate) fn on_slider_grid(tau: f64) -> f64 {
    (tau * 100.0).round() / 100.0
}

/// The suggested tau (a two-component Beta mixture fitted to round 0's losses, carried by every
/// round), with a button to use it. Never applied by itself.
fn suggestion_ui(ui: &mut egui::Ui, v: &View, cmds: &mut Commands) {
    let state = v.state;
    let mixture = state.record().and_then(|r| r.metrics.suggestion);
    // The run's own reading where it chose its tau from the data (for a head on embeddings
    // out-of-fold: round 0's in-sample probabilities fit the wrong labels too and contradict
    // none), else round 0's.
    let n = state.data.as_ref().map_or(0, |d| d.train.len());
    let confident = state
        .chosen_noise
        .or(state.noise_estimate)
        .map(|noise| crate::itlm::suggest::tau_leaving_of(noise, n));
    let Some(s) = suggest(
        mixture.map(|m| (m.tau, m.bad_mean - m.clean_mean)),
        confident,
    ) else {
        return;
    };
    // Uncertain: grey and a question mark (the hover says why); " (uncertain)" in words had
    // wrapped the tau row at 1280 px.
    let text = format!(
        "suggested tau {:.2}{}",
        s.tau,
        if s.trusted { "" } else { " (?)" }
    );
    let mut hover = String::new();
    if let Some(c) = confident {
        hover.push_str(&format!(
            "Round 0's model confidently contradicts the labels of {:.0}% of the samples (cleanlab's confident joint): tau {c:.2}. ",
            (1.0 - c) * 100.0
        ));
    }
    if let Some(m) = mixture {
        hover.push_str(&format!(
            "A Beta mixture on round 0's losses says {:.0}% are clean (component means {:.2} and {:.2}). ",
            m.tau * 100.0,
            m.clean_mean,
            m.bad_mean
        ));
    }
    hover.push_str(if s.trusted {
        "The two agree within 0.1."
    } else {
        "They disagree by more than 0.1 (or only one was possible): treat the figure as a rough guess, and check the histogram and the Trimmed grid."
    });
    ui.label(RichText::new(text).color(if s.trusted {
        super::warn(ui)
    } else {
        Color32::GRAY
    }))
    .on_hover_text(hover);
    let differs = (s.tau - state.tau()).abs() > 1e-9;
    if ui
        .add_enabled(differs, egui::Button::new("use").small())
        .on_hover_text("Set the slider to the suggested tau")
        .on_disabled_hover_text("The slider is at the suggested tau")
        .clicked()
    {
        cmds.push(Command::SetTau(s.tau));
    }
}

/// A suggested tau and whether it can be trusted.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Suggested {
    pub tau: f64,
    pub trusted: bool,
}

/// The suggestion from round 0: the confident joint's tau when there is one (a classifier),
/// else the loss mixture's; trusted only when both exist, agree within 0.1, and the mixture's
/// components are apart (separation >= 0.25) with at least 30% clean.
pub fn suggest(mixture: Option<(f64, f64)>, confident: Option<f64>) -> Option<Suggested> {
    match (confident, mixture) {
        (Some(c), Some((m, sep))) => Some(Suggested {
            tau: c,
            trusted: (c - m).abs() <= 0.1 && sep >= 0.25 && m >= 0.3,
        }),
        (Some(c), None) => Some(Suggested {
            tau: c,
            trusted: false,
        }),
        (None, Some((m, _))) => Some(Suggested {
            tau: m,
            trusted: false,
        }),
        (None, None) => None,
    }
}

/// The model list's head entries: a linear or MLP head on EfficientNet-Lite0 embeddings,
/// enabled when the weights are installed.
fn backbone_choice_ui(ui: &mut egui::Ui, s: &mut Settings) {
    use crate::learner::backbone::{find_weights, BackboneKind};
    use crate::learner::head::HeadKind;
    let kind = BackboneKind::EfficientNetLite0;
    let found = find_weights(kind, None);
    ui.separator();
    for (h, what) in [(HeadKind::Linear, "linear"), (HeadKind::Mlp, "MLP")] {
        let text = format!("{what} head on {BACKBONE_NAME}");
        let r = ui.add_enabled(
            found.is_ok(),
            egui::Button::selectable(s.head == Some(h), text),
        );
        let r = match &found {
            Ok(p) => r.on_hover_text(format!(
                "ImageNet embeddings ({}) of each image, computed once and cached; ITLM then \
                 trains only the head. Weights: {}",
                kind.name(),
                p.display()
            )),
            Err(e) => r.on_disabled_hover_text(format!(
                "The weights are not installed ({e}): run `itlm-inspector weights install {}`",
                kind.name()
            )),
        };
        if r.clicked() {
            s.head = Some(h);
        }
    }
}

/// For colour photos ([`crate::learner::backbone::suits`]) while a from-scratch model is
/// chosen: a hint that a head on the backbone's embeddings is the better learner, with a
/// button that chooses it (or the command that installs the weights).
fn backbone_hint_ui(ui: &mut egui::Ui, v: &View, s: &mut Settings) {
    use crate::learner::backbone::find_weights;
    use crate::learner::head::HeadKind;
    use crate::session::advice::{backbone_suits, backbone_text};
    let state = v.state;
    let Some(d) = state.data.as_ref().filter(|d| d.has_images()) else {
        return;
    };
    if s.head.is_some() || state.generative() || !backbone_suits(d.train.shape, s.learner.model) {
        return;
    }
    let kind = crate::session::advice::BACKBONE;
    ui.horizontal_wrapped(|ui| {
        ui.label(
            RichText::new(backbone_text(d.train.shape, s.learner.model))
            .color(super::accent(ui)),
        );
        match find_weights(kind, None) {
            Ok(_) => {
                if ui
                    .small_button(format!("use a linear head on {BACKBONE_NAME}"))
                    .on_hover_text("Embeds every image once (cached), then ITLM trains only the head: rounds take seconds")
                    .clicked()
                {
                    s.head = Some(HeadKind::Linear);
                }
            }
            Err(_) => {
                ui.label(
                    RichText::new(format!(
                        "(install its weights: itlm-inspector weights install {})",
                        kind.name()
                    ))
                    .small(),
                );
            }
        }
    });
}

fn number_ui<N: egui::emath::Numeric>(
    ui: &mut egui::Ui,
    name: &str,
    v: &mut N,
    range: std::ops::RangeInclusive<N>,
    hint: &str,
) {
    let l = ui.label(name);
    ui.add(egui::DragValue::new(v).range(range))
        .labelled_by(l.id)
        .on_hover_text(hint);
}

/// Start/Restart and Pause/Resume swap their text: one width keeps the buttons after them put.
const BUTTON: egui::Vec2 = egui::Vec2::new(64.0, 0.0);

fn run_buttons_ui(ui: &mut egui::Ui, v: &View, cmds: &mut Commands) {
    let state = v.state;
    let has_data = state.data.as_ref().is_some_and(|d| d.has_images());
    let status = state.run.as_ref().map(|r| r.status.clone());
    let active = status.as_ref().is_some_and(|s| s.is_active());
    let paused = status == Some(LiveStatus::Paused);
    // A classifier on a set it cannot train on: greyed, with the reason beside and on hover.
    let refused = state.classifier_refused().map(|why| {
        let d = state.data.as_ref().map(|d| &d.train);
        let short = match d {
            Some(d) if !d.is_unlabelled() => format!(
                "needs 2 classes with samples, this set has {}",
                d.classes_with_samples()
            ),
            _ => "needs labels: the set is unlabelled".to_string(),
        };
        let mut full = format!(
            "Start: {why}. The generative mode (mode: generative) needs no labels: a VAE ranks \
             the images"
        );
        // A folder read by its class folders: the summary line offers the other reading.
        let folder = d.is_some_and(|d| {
            matches!(d.source, crate::data::Source::ImageFolder { .. }) && !d.is_unlabelled()
        });
        if folder && state.data.as_ref().is_some_and(|d| d.reopened.is_none()) {
            full.push_str(
                "; or \"Open as unlabelled images\" (the set's line) reads every image in the \
                 folder without labels",
            );
        }
        (short, full)
    });
    let start_text = if active { "Restart" } else { "Start" };
    let start = ui
        .add_enabled(
            has_data && refused.is_none(),
            egui::Button::new(start_text).min_size(BUTTON),
        )
        .on_hover_text("Start a fresh run with these settings");
    let start = match &refused {
        Some((_, full)) => start.on_disabled_hover_text(full.as_str()),
        None => start.on_disabled_hover_text("Needs a dataset with its images"),
    };
    if start.clicked() {
        cmds.push(Command::Start);
    }
    if let Some((short, full)) = &refused {
        ui.label(RichText::new(short).color(super::warn(ui)))
            .on_hover_text(full.as_str());
    }
    if paused {
        if ui
            .add(egui::Button::new("Resume").min_size(BUTTON))
            .clicked()
        {
            cmds.push(Command::Resume);
        }
    } else if ui
        .add_enabled(active, egui::Button::new("Pause").min_size(BUTTON))
        .clicked()
    {
        cmds.push(Command::Pause);
    }
    if ui.add_enabled(active, egui::Button::new("Stop")).clicked() {
        cmds.push(Command::Stop);
    }
    let images = state.data.as_ref().is_some_and(|d| d.has_images());
    let coteaching = state
        .run
        .as_ref()
        .is_some_and(|r| r.config.coteach.is_some());
    // A finished or stopped run steps on from its cut, which co-teaching cannot.
    let ended_coteaching = coteaching && !active && state.record().is_some();
    if ui
        .add_enabled(
            has_data && !ended_coteaching && refused.is_none(),
            egui::Button::new("Step one round"),
        )
        .on_hover_text("Train until the next round is done, then pause")
        .on_disabled_hover_text(match &refused {
            Some((_, full)) => full.as_str(),
            None if ended_coteaching => {
                "A co-teaching run trains its two models from the start: Start a new run"
            }
            None => "Needs a dataset with its images",
        })
        .clicked()
    {
        cmds.push(Command::StepOneRound);
    }
    let can_retrain = (paused || !active) && state.record().is_some() && images && !coteaching;
    // After forward-corrected rounds the run's own rule trains every sample through the
    // matrix, tau only flagging: "at this tau" then trains plainly on the cut, and a second
    // button continues as the run was going.
    let forward = state.continues_forward();
    let kept_now = v.cut.as_ref().map(|c| c.kept_count);
    let at_tau_help = match (forward, kept_now) {
        (true, Some(k)) => format!(
            "Continue from the shown round, training the next round plainly on the {k} samples kept at the slider's tau, without forward correction (this run's rounds trained every sample through the label-noise matrix)"
        ),
        (true, None) => "Continue from the shown round, training the next round plainly on the kept set at the slider's tau, without forward correction".to_string(),
        (false, Some(k)) => format!(
            "Continue from the shown round, training the next round on the {k} samples kept at the slider's tau"
        ),
        (false, None) => "Continue from the shown round, training the next round on the kept set at the slider's tau".to_string(),
    };
    if ui
        .add_enabled(can_retrain, egui::Button::new("Retrain at this tau"))
        .on_hover_text(at_tau_help)
        .on_disabled_hover_text(if !images {
            "Needs the run's dataset, which is not available"
        } else if coteaching {
            "A co-teaching run trains its two models from the start: Start a new run"
        } else {
            "Needs a finished round, and no run training right now (pause or stop it)"
        })
        .clicked()
    {
        cmds.push(Command::RetrainAtTau);
    }
    if forward
        && ui
            .add_enabled(can_retrain, egui::Button::new("Retrain forward-corrected"))
            .on_hover_text(
                "Continue from the shown round as this run was going: the next round trains on every sample you did not exclude, through the label-noise matrix the shown round's model implies (your kept and relabelled samples plainly); tau sets only which samples are flagged",
            )
            .on_disabled_hover_text(
                "Needs a finished round, and no run training right now (pause or stop it)",
            )
            .clicked()
    {
        cmds.push(Command::RetrainForward);
    }
    let decided = state.decide.decisions.counts();
    // Always there with a dataset (greyed before the first decision): appearing with it, the
    // box wrapped the row and moved the window's panels down.
    if decided.decided == 0 && state.data.is_some() {
        let mut on = false;
        ui.add_enabled(false, egui::Checkbox::new(&mut on, "with my decisions"))
            .on_disabled_hover_text(
                "No decisions yet: exclude, keep or relabel samples in the grid, the detail or                  the Review tab, and the runs started here train with them",
            );
    }
    if decided.decided > 0 {
        let mut on = !state.decide.ignore_in_training;
        if ui
            .checkbox(
                &mut on,
                format!("with my {}", crate::plural(decided.decided, "decision")),
            )
            .on_hover_text(if forward {
                format!(
                    "Runs started here (Start, Step, Retrain) train with your decisions: the {} \
                     excluded never train and are never kept; the {} kept and {} relabelled \
                     (with their new label) always stay in the kept set. A forward-corrected \
                     round trains them plainly beside every other sample through the matrix; \
                     a round on the cut (Retrain at this tau) gives them their places in tau's \
                     share, the lowest losses filling the rest. Untick to run plain ITLM.",
                    decided.excluded, decided.kept, decided.relabelled
                )
            } else {
                format!(
                    "Runs started here (Start, Step, Retrain at this tau) train with your \
                     decisions: the {} excluded never train and are never kept; the {} kept and \
                     {} relabelled always stay in the kept set (relabelled ones with their new \
                     label) and take their places in tau's share, the lowest losses fill the \
                     rest. Untick to run plain ITLM.",
                    decided.excluded, decided.kept, decided.relabelled
                )
            })
            .changed()
        {
            cmds.push(Command::TrainWithDecisions(on));
        }
    }
}

fn progress_ui(ui: &mut egui::Ui, v: &View) {
    let Some(run) = &v.state.run else { return };
    ui.horizontal(|ui| {
        let (text, color) = match &run.status {
            LiveStatus::Starting => ("starting".to_string(), super::accent(ui)),
            LiveStatus::Running => ("running".to_string(), super::good(ui)),
            LiveStatus::Paused => ("paused".to_string(), super::warn(ui)),
            LiveStatus::Finished => ("finished".to_string(), super::good(ui)),
            LiveStatus::Stopped => ("stopped".to_string(), super::warn(ui)),
            LiveStatus::Failed(_) => ("failed".to_string(), Color32::LIGHT_RED),
        };
        ui.label(RichText::new(text).color(color).strong());
        if let (None, Some(p)) = (&run.progress, &run.preparing) {
            // Building the learner: a backbone embeds every image before round 0.
            let mut s = format!(
                "{} - {}/{} images - {}",
                p.what,
                p.done,
                p.total,
                secs(run.elapsed_secs)
            );
            if let Some(e) = p.eta_secs {
                s.push_str(&format!(" - ETA {}", secs(e)));
            }
            ui.add(
                egui::ProgressBar::new(p.done as f32 / p.total.max(1) as f32)
                    .desired_width(260.0)
                    .show_percentage(),
            );
            ui.label(s)
                .on_hover_text("Stop cancels the embedding; what is done is not cached.");
            return;
        }
        match &run.progress {
            // Paused between rounds (Step one round, or Pause at a round's end): what is done
            // and what each button does next, not the last batch of the round's test pass.
            Some(p)
                if run.status == LiveStatus::Paused
                    && run.history.last().is_some_and(|r| r.round == p.round)
                    && p.round < p.rounds =>
            {
                ui.label(format!(
                    "round {} of {} done - {} - Step one round trains round {}, Resume runs the rest",
                    p.round,
                    p.rounds,
                    secs(run.elapsed_secs),
                    p.round + 1
                ));
            }
            Some(p) => {
                let phase = match p.phase {
                    crate::itlm::Phase::Train => {
                        format!("training epoch {}/{}", p.epoch + 1, p.epochs)
                    }
                    crate::itlm::Phase::Score => "scoring".to_string(),
                    crate::itlm::Phase::Test => "testing".to_string(),
                };
                let mut s = format!(
                    "round {}/{} - {phase} - batch {}/{}",
                    p.round, p.rounds, p.batch, p.batches
                );
                if let Some(l) = p.loss {
                    s.push_str(&format!(" - loss {l:.3}"));
                }
                s.push_str(&format!(" - {}", secs(run.elapsed_secs)));
                if let (Some(e), false) = (p.eta_secs, run.status == LiveStatus::Paused) {
                    s.push_str(&format!(" - ETA {}", secs(e)));
                }
                ui.add(
                    egui::ProgressBar::new(p.fraction)
                        .desired_width(260.0)
                        .show_percentage(),
                );
                ui.label(s);
            }
            None => {
                ui.label(format!(
                    "{} done in {} - {}",
                    crate::plural(run.history.len(), "round"),
                    secs(run.elapsed_secs),
                    run.learner_description
                ));
            }
        }
        let a = &v.state.autosave;
        if let (Some(file), Some(saved)) = (&a.file, &a.saved) {
            if file == saved {
                let name = file
                    .file_name()
                    .map_or(String::new(), |n| n.to_string_lossy().into());
                ui.label(
                    RichText::new(format!("saved as {name}"))
                        .small()
                        .color(Color32::GRAY),
                )
                .on_hover_text(file.display().to_string());
            }
        }
    });
}

/// "1m 05s", "12.3 s".
pub fn secs(s: f64) -> String {
    if !s.is_finite() {
        return "-".into();
    }
    if s < 60.0 {
        format!("{s:.1} s")
    } else if s < 3600.0 {
        format!("{}m {:02}s", (s / 60.0) as u64, (s % 60.0) as u64)
    } else {
        format!(
            "{}h {:02}m",
            (s / 3600.0) as u64,
            ((s % 3600.0) / 60.0) as u64
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_suggestion_is_trusted_only_when_both_estimates_agree() {
        let s = suggest(Some((0.9, 0.5)), Some(0.92)).unwrap();
        assert_eq!((s.tau, s.trusted), (0.92, true));
        // 40% systematic noise: the mixture says 0.9, the confident joint 0.62.
        let s = suggest(Some((0.9, 0.5)), Some(0.62)).unwrap();
        assert_eq!((s.tau, s.trusted), (0.62, false));
        // Overlapping components: not trusted even when they agree.
        assert!(!suggest(Some((0.9, 0.1)), Some(0.9)).unwrap().trusted);
        // One estimate alone is a rough guess.
        assert!(!suggest(None, Some(0.8)).unwrap().trusted);
        assert_eq!(suggest(Some((0.7, 0.5)), None).unwrap().tau, 0.7);
        assert_eq!(suggest(None, None), None);
    }
}
