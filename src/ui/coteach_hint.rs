//! The controls' line on heavy random label noise after round 0: when round 0's model implies
//! that many labels are flipped and the flips are spread over the classes (random noise, where
//! forward correction does not help), a hint with a button that sets co-teaching up for the
//! next run at the tau the noise estimate gives (never applied by itself). Not for a head on
//! embeddings, which auto leaves to plain ITLM too: a head on fixed embeddings does not
//! memorise wrong labels over its epochs, so a peer's choice has nothing to undo (README,
//! "Not for a head on embeddings").

use egui::RichText;

use crate::itlm::{transition, CoTeach, Config};

use super::command::View;
use super::settings::Settings;

pub use crate::itlm::transition::calls_for_coteaching;

pub fn coteach_hint_ui(ui: &mut egui::Ui, v: &View, edited: &mut Settings) {
    let state = v.state;
    let (Some(t), Some(data)) = (&state.flips, &state.data) else {
        return;
    };
    let Some((flipped, one_sided)) = transition::shape(t, data.train.num_classes()) else {
        return;
    };
    let shown_coteaching = state
        .run
        .as_ref()
        .is_some_and(|r| r.config.coteach.is_some());
    if state.generative()
        || edited.head.is_some()
        || shown_coteaching
        || edited.config.coteach.is_some()
        || !calls_for_coteaching(flipped, one_sided)
    {
        return;
    }
    // The tau the noise estimate gives (the suggested tau's), else the settings'.
    let tau = state
        .noise_estimate
        .map(crate::itlm::suggest::tau_leaving)
        .filter(|t| (super::TAU_MIN..=1.0).contains(t))
        .unwrap_or(edited.config.tau);
    ui.label(
        RichText::new(format!(
            "random label noise: {:.0}% flipped",
            flipped * 100.0
        ))
        .color(super::warn(ui)),
    )
    .on_hover_text(format!(
        "Round 0's model implies that {:.0}% of the labels are flipped and that, per class, only {:.0}% of the flipped go to one other class: random noise, which forward correction does not help. There, co-teaching (two models picking each other's samples) beat ITLM's rounds on Fashion-MNIST, 20000 images: at 60% random noise 86.1% against 84.8%, at 40% 88.4% against 87.2%, at 20% 90.0% against 88.0% (README, Noisy labels); it takes 2 - 4 times as long. With label-noise correction on auto (the default) a run switches to it by itself after round 0",
        flipped * 100.0,
        one_sided * 100.0
    ));
    if ui
        .small_button(format!("co-teaching at tau {tau:.2}"))
        .on_hover_text("Turn co-teaching on for the next run (More...), keeping the share the noise estimate leaves (1 - the flipped share); Start runs it")
        .clicked()
    {
        edited.config = Config {
            tau,
            ..edited.config.coteaching(CoTeach::default())
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::itlm::Forward;

    #[test]
    fn heavy_spread_flips_call_for_it_and_one_sided_ones_do_not() {
        assert!(calls_for_coteaching(0.65, 0.17), "60% random");
        assert!(
            !calls_for_coteaching(0.43, 0.68),
            "40% systematic: forward correction"
        );
        assert!(!calls_for_coteaching(0.1, 0.2), "little noise");
        let c = Config {
            restore: true,
            transition: Forward::On,
            folds: 3,
            ..Default::default()
        };
        let co = Config {
            tau: 0.35,
            ..c.coteaching(CoTeach::default())
        };
        co.validate().unwrap();
        assert_eq!((co.tau, co.coteach), (0.35, Some(CoTeach::default())));
        assert!(!co.restore && co.folds == 1 && co.transition == Forward::Off);
    }
}
