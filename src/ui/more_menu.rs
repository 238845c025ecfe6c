//! The "More..." menu at the end of the controls' settings row: the settings a run rarely
//! changes (re-initialising, the loss the cut is on, seed, batch size, optimizer and learning
//! rate, round-0 epochs and models, folds, restore / relabel / the clustering cut, label-noise
//! correction, co-teaching with its label smoothing, augmentation, the backdoor defence
//! protocol, a subset of the training set). It edits the controls' copy of the settings, which
//! [`super::controls::controls_ui`] hands back as a command.

use crate::choice::Choice;
use crate::itlm::{Forward, LossAggregate};
use crate::learner::{LrSchedule, OptimizerKind};

use super::command::View;
use super::settings::Settings;

/// The "More..." button and its menu, editing `s`: the controls' copy of the settings.
pub fn more_menu_ui(ui: &mut egui::Ui, v: &View, s: &mut Settings) {
    let state = v.state;
    // Clicks inside (checkboxes, the combo boxes' lists) leave the menu open.
    let config = egui::containers::menu::MenuConfig::new()
        .close_behavior(egui::PopupCloseBehavior::CloseOnClickOutside);
    egui::containers::menu::MenuButton::new("More...").config(config).ui(ui, |ui| {
        // Menus draw widgets frameless (egui's menu_style); the number fields here need
        // their frames and fill to read as fields.
        let base = ui.ctx().style_of(ui.ctx().theme()).visuals.widgets.clone();
        let w = &mut ui.visuals_mut().widgets;
        w.inactive.bg_stroke = base.inactive.bg_stroke;
        w.inactive.weak_bg_fill = base.inactive.weak_bg_fill;
        w.hovered.bg_stroke = base.hovered.bg_stroke;
        w.active.bg_stroke = base.active.bg_stroke;
        ui.checkbox(&mut s.config.reinit, "re-initialise each round")
            .on_hover_text("Off: keep training the same model (warm start)");
        // Radio buttons, not combo boxes: egui keeps one popup open at a time, so a combo
        // box's list would close this menu.
        ui.horizontal(|ui| {
            ui.label("cut on");
            ui.radio_value(&mut s.config.aggregate, LossAggregate::Last, "last round's loss");
            ui.radio_value(&mut s.config.aggregate, LossAggregate::Mean, "mean loss over rounds");
        });
        ui.horizontal(|ui| {
            let l = ui.label("seed");
            ui.add(egui::DragValue::new(&mut s.config.seed)).labelled_by(l.id);
        });
        ui.horizontal(|ui| {
            let l = ui.label("batch size");
            ui.add(egui::DragValue::new(&mut s.learner.batch_size).range(1..=8192))
                .labelled_by(l.id);
        });
        // The generative mode trains a VAE: AdamW at a constant rate, no augmentation, none of
        // the classifier's extensions (they were offered and silently ignored).
        let vae = s.learner.model == crate::learner::ModelKind::Vae;
        const VAE_NOTE: &str = "Classifiers only: the generative mode's VAE trains with AdamW at a constant rate";
        ui.add_enabled_ui(!vae, |ui| {
            ui.horizontal(|ui| {
                let before = s.learner.optimizer;
                ui.label("optimizer").on_hover_text("Classifiers only: the VAE always uses AdamW");
                ui.radio_value(&mut s.learner.optimizer, OptimizerKind::Adamw, "adamw")
                    .on_hover_text("AdamW: fast and steady (learning rate 0.001)");
                ui.radio_value(&mut s.learner.optimizer, OptimizerKind::Sgd, "sgd")
                    .on_hover_text("SGD with momentum 0.9 (learning rate 0.05): learns rare features such as a backdoor's watermark later than the classes");
                if s.learner.optimizer != before {
                    // Each optimizer has its own scale of learning rates.
                    s.learner.lr = s.learner.optimizer.default_lr();
                }
            });
            ui.horizontal(|ui| {
                ui.label("learning rate in a round");
                ui.radio_value(&mut s.learner.lr_schedule, LrSchedule::Constant, "constant");
                ui.radio_value(&mut s.learner.lr_schedule, LrSchedule::Cosine, "cosine")
                    .on_hover_text("Cosine annealing to 0 over each round's training");
                ui.radio_value(&mut s.learner.lr_schedule, LrSchedule::Swa, "swa")
                    .on_hover_text("Constant rate; each round's model is the mean of its weights at the ends of the second half of its epochs (stochastic weight averaging)");
            });
        })
        .response
        .on_disabled_hover_text(VAE_NOTE);
        ui.horizontal(|ui| {
            let l = ui.label("learning rate");
            ui.add(
                egui::DragValue::new(&mut s.learner.lr)
                    .range(1e-6..=1.0)
                    .speed(1e-4)
                    .max_decimals(6),
            )
            .labelled_by(l.id);
        });
        ui.horizontal(|ui| {
            let mut on = s.config.round0_epochs.is_some();
            ui.checkbox(&mut on, "round-0 epochs")
                .on_hover_text("A shorter first round keeps fast-learned bad samples at high loss");
            match (on, &mut s.config.round0_epochs) {
                (true, Some(e)) => {
                    ui.add(egui::DragValue::new(e).range(0.05..=1000.0).speed(0.05))
                        .on_hover_text("round-0 epochs");
                }
                (true, r @ None) => *r = Some(1.0),
                (false, r) => *r = None,
            }
        });
        ui.horizontal(|ui| {
            let l = ui.label("folds");
            ui.add(egui::DragValue::new(&mut s.config.folds).range(1..=10))
                .labelled_by(l.id)
                .on_hover_text("Score early rounds out of fold with K models (1 = off): no sample is scored by a model that trained on it");
        });
        ui.horizontal(|ui| {
            let l = ui.label("round-0 models");
            ui.add(egui::DragValue::new(&mut s.config.round0_models).range(1..=20))
                .labelled_by(l.id)
                .on_hover_text("Round 0 as an ensemble of K models whose losses are averaged (1 = off): steadies a very short round 0");
        });
        if vae {
            ui.label(
                egui::RichText::new(
                    "Greyed: for classifiers (the generative mode ranks images by a VAE's loss).",
                )
                .small(),
            );
        }
        ui.add_enabled_ui(!vae, |ui| {
            ui.checkbox(&mut s.config.restore, "restore hard clean samples")
                .on_hover_text("After the last round, give back the trimmed samples of classes whose trimmed samples show no one-sided confusion, and train the final model once more. For attacks and systematic flips, not random noise");
            if s.config.restore {
                s.config.relabel = false;
                s.config.coteach = None;
                drop_forward_on(&mut s.config);
            }
            ui.checkbox(&mut s.config.relabel, "relabel confident trimmed samples")
                .on_hover_text("Before the final round, give each trimmed sample whose prediction is the same under round 0's model and the last two, and under each as confident as its kept samples of that class, the predicted label; the final model trains on them too. For systematic label noise; not with restore");
            if s.config.relabel {
                s.config.restore = false;
                s.config.clusters = false;
                s.config.coteach = None;
                drop_forward_on(&mut s.config);
            }
            ui.checkbox(&mut s.config.clusters, "hold out attack clusters")
                .on_hover_text("Before the final round, train a probe model on every sample, split each class's penultimate activations in two, and keep out of the final model the smaller cluster of a class when it is at most a quarter of the class, the early rounds trimmed its members at least 3 times as often as the rest, and the last model before the cut puts more of it in one other class than in its own: backdoor images that look like their target class (Shirt -> T-shirt). The final model, trained without them, then judges them: those it calls by that other class train under it in the final model trained again (relabelled). Not with relabel");
            if s.config.clusters {
                s.config.relabel = false;
                s.config.coteach = None;
                drop_forward_on(&mut s.config);
            }
            let before = s.config.transition;
            ui.horizontal(|ui| {
                ui.label("label-noise correction")
                    .on_hover_text("Forward correction: round 0 trains plainly; round 1 trains on every sample you did not exclude, with the label-noise matrix P(given label | true class) round 0's model implies (each class keeping only its likeliest flip when the flips are one-sided), so flipped labels do not bend the model; the final model trains on from round 1's, with round 1's matrix, to the final round's epochs in all (so the run has at most 2 rounds after round 0). The cut still ranks and flags samples by their loss but no longer chooses what trains. For one-sided (systematic) flips; not with restore, relabel or clusters. Auto (the default) decides from round 0: forward correction on one-sided flips, co-teaching from the start (at the tau round 0's noise estimate leaves) on many spread flips (random noise, at least 15%; not for a head on embeddings), plain ITLM otherwise");
                for f in [Forward::Off, Forward::On, Forward::Auto] {
                    ui.radio_value(&mut s.config.transition, f, f.name())
                        .on_hover_text(f.help());
                }
            });
            if s.config.transition != before && s.config.transition == Forward::On {
                s.config.restore = false;
                s.config.relabel = false;
                s.config.clusters = false;
                s.config.coteach = None;
            }
            coteach_ui(ui, &mut s.config);
            augment_ui(ui, &mut s.config.augment);
            if ui
                .button("Backdoor defence protocol")
                .on_hover_text("SGD lr 0.02 cosine, tau 0.95, round 0: five 0.35-epoch models averaged, 10 one-epoch rounds, final 9 epochs, restore, and the clustering cut (hold out attack clusters): what defends watermark backdoors (README)")
                .clicked()
            {
                s.config = crate::itlm::Config {
                    seed: s.config.seed,
                    ..crate::presets::backdoor_protocol()
                };
                // The learner's training settings too (model and device stay the user's).
                let l = crate::presets::backdoor_learner();
                s.learner.optimizer = l.optimizer;
                s.learner.lr = l.lr;
                s.learner.lr_schedule = l.lr_schedule;
                s.learner.batch_size = l.batch_size;
                ui.close();
            }
        })
        .response
        .on_disabled_hover_text(VAE_NOTE);
        ui.horizontal(|ui| {
            let mut on = s.limit.is_some();
            ui.checkbox(&mut on, "use a subset of")
                .on_hover_text("A seeded random subset of the training samples; applies when a dataset is (re)opened");
            let n = state.data.as_ref().map(|d| d.train.len());
            match (on, &mut s.limit) {
                (true, Some(k)) => {
                    ui.add(egui::DragValue::new(k).range(10..=10_000_000).speed(50))
                        .on_hover_text("samples");
                    ui.label(match n {
                        Some(n) => format!("samples (of {n}; reopen to apply)"),
                        None => "samples".into(),
                    });
                }
                // Half the open set (at most 5000), so that it is a subset.
                (true, l @ None) => *l = Some(n.map_or(5000, |n| (n / 2).clamp(10, 5000))),
                (false, l) => *l = None,
            }
        });
    });
}

/// Co-teaching on or off. Turning it on turns off what it does not combine with
/// ([`crate::itlm::Config::coteaching`]).
fn coteach_ui(ui: &mut egui::Ui, c: &mut crate::itlm::Config) {
    ui.horizontal(|ui| {
        let mut on = c.coteach.is_some();
        ui.checkbox(&mut on, "co-teaching")
            .on_hover_text("Instead of ITLM's rounds: two models train side by side without re-initialising, each epoch on the samples with the lowest loss under the other, a share falling from all to tau over the ramp; each round is one epoch, scored as the pair (their probabilities averaged); after the ramp each model may also train on the samples outside its share that the other predicts confidently, under that prediction (pseudo-labels, on the settings row). For random label noise (README: 60% random); rounds, epochs and final epochs do not apply");
        // Its schedule (epochs, ramp) is on the settings row, where ITLM's rounds were.
        if on && c.coteach.is_none() {
            *c = c.coteaching(crate::itlm::CoTeach::default());
        } else if !on {
            c.coteach = None;
        }
        // Label smoothing beside it (the row is full with the schedule and pseudo-labels).
        if let Some(ct) = c.coteach.as_mut() {
            let l = ui.label("label smoothing");
            ui.add(
                egui::DragValue::new(&mut ct.smoothing)
                    .range(0.0..=0.5)
                    .speed(0.005)
                    .max_decimals(3),
            )
            .labelled_by(l.id)
            .on_hover_text("Each model trains on the cross-entropy against the label weighted 1 - E plus the cross-entropy against every class evenly weighted E (the histogram and the cut stay on the plain loss); 0 = plain cross-entropy. README: +1.1 points on three seeds at 60% random noise (0.1, the textbook value)");
        }
    });
}

/// Training-time augmentation of the CNN and MLP ([`crate::itlm::Augment`]): off, moves of up
/// to 2 pixels, or moves and mirroring.
fn augment_ui(ui: &mut egui::Ui, a: &mut crate::itlm::Augment) {
    use crate::itlm::Augment;
    ui.horizontal(|ui| {
        ui.label("augment training images").on_hover_text("Each time a training image is drawn, move it by up to 2 pixels each way (its edge pixels repeated) and, with flip, mirror it left-right at even odds; scoring sees the images as they are. Off by default: with co-teaching at 60% random noise on Fashion-MNIST 20000, shift gained 0.8 - 1.1 points at tau 0.4 (three seeds) but lost 3.4 at tau 0.34 and 1.5 on 4000 images; shift + flip gained nothing at tau 0.4 (README). Mirroring suits photos, not digits or text. Heads on embeddings ignore it");
        let flip = Augment { shift: 2, flip: true };
        for (v, name) in [(Augment::OFF, "off"), (Augment::SHIFT, "shift"), (flip, "shift + flip")] {
            ui.radio_value(a, v, name);
        }
    });
}

/// Restore, relabel and the clustering cut choose the final round's training set: forward
/// correction `on` conflicts with them and goes off; `auto` stays (off while they are on,
/// [`crate::itlm::Config::forward`]).
fn drop_forward_on(c: &mut crate::itlm::Config) {
    if c.transition == Forward::On {
        c.transition = Forward::Off;
    }
}
