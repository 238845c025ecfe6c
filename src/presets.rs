//! Settings that belong together and were measured (README): the demo set's run settings and
//! the backdoor defence protocol. The window offers them; `reproduce` runs them.

use crate::itlm::{Config, Forward, Selection, TauSchedule};
use crate::learner::{LearnerConfig, LrSchedule, OptimizerKind};

/// Run settings that find the demo's bad samples quickly (about 45 CPU seconds with the CNN):
/// tau 0.9 (the set is 9.8% bad) kept constant, 3 rounds of 2 epochs and a final round of 3,
/// batches of 32 at learning rate 0.002 (900 samples need small batches for enough steps);
/// plain ITLM, as measured (no forward correction).
pub fn demo() -> (Config, LearnerConfig) {
    let config = Config {
        tau: 0.9,
        rounds: 3,
        epochs: 2.0,
        final_epochs: 3,
        schedule: TauSchedule::Constant,
        transition: Forward::Off,
        ..Config::default()
    };
    let learner = LearnerConfig {
        batch_size: 32,
        lr: 2e-3,
        ..LearnerConfig::default()
    };
    (config, learner)
}

/// The protocol under which ITLM defends the corner-watermark backdoors on Fashion-MNIST
/// (README, "Backdoors"), with [`backdoor_learner`] (SGD): round 0 is an ensemble of 5 models
/// of 0.35 epoch each (long enough to learn the classes, too short for the trigger; the
/// average steadies the separation across initialisations), then 10 one-epoch rounds that each
/// keep 95% globally: with SGD a round's model does not learn the trigger from the few stamped
/// images the last cut left, so every round finds more of them. The final model trains 9
/// epochs, as the naive one. No forward correction (the restore chooses the final set).
/// Before the last round the clustering cut ([`Config::clusters`]) holds out a class's
/// minority cluster that the early cuts pointed at and the model before it calls by another
/// class: stamped images that look like their target class, which no loss separates (Shirt ->
/// T-shirt: test-2 27 - 32% without it, 6.4 - 8.3% with it, at seeds 0 - 4; README).
pub fn backdoor_protocol() -> Config {
    Config {
        tau: 0.95,
        rounds: 10,
        epochs: 1.0,
        round0_epochs: Some(0.35),
        round0_models: 5,
        final_epochs: 9,
        restore: true,
        clusters: true,
        select: Selection::Global,
        schedule: TauSchedule::Constant,
        folds: 1,
        transition: Forward::Off,
        ..Config::default()
    }
}

/// The smallest training set the backdoor protocol was measured on (README, "Backdoors": its
/// lengths were tuned on 20000 images; at 6000 it defended 4 of 6 seeds).
pub const BACKDOOR_MEASURED_MIN: usize = 6000;

/// What to tell a user who runs the backdoor protocol on `n` training images, fewer than it
/// was measured on: its one-epoch rounds are then too short for the early models to learn the
/// classes (on 3000 Fashion-MNIST images they reached 25 - 45% accuracy and caught none of the
/// stamped images), and lengthening them lets the models learn the mark too (2 epochs: attack
/// success 89%), so no setting of it is known to defend there.
pub fn backdoor_size_warning(n: usize) -> Option<String> {
    (n < BACKDOOR_MEASURED_MIN).then(|| {
        format!(
            "the backdoor protocol was tuned on 20000 images and measured down to {} (where it \
             defended 4 of 6 seeds); on {n} its early rounds are too short to learn the classes \
             and it is not expected to find stamped images (longer rounds let the models learn \
             the mark too)",
            BACKDOOR_MEASURED_MIN
        )
    })
}

/// Whether `c` is the backdoor protocol as [`backdoor_protocol`] sets it (any seed).
pub fn is_backdoor_protocol(c: &Config) -> bool {
    *c == Config {
        seed: c.seed,
        ..backdoor_protocol()
    }
}

/// The learner of the backdoor protocol: the CNN trained with SGD (momentum 0.9, lr 0.02
/// annealed to 0 over each round by a cosine: the final model is 1 - 2 points more accurate
/// and steadier than at a constant 0.01).
/// AdamW learns a corner watermark from few images within a fraction of an epoch: it scales
/// each weight's step by that weight's own gradient history, so the weights only the stamped
/// images move take full-size steps. SGD moves them in proportion to their gradient, i.e. to
/// how many images carry the mark, so the early rounds' models learn the classes but not the
/// trigger of the few stamped images the last cut left (README, "Backdoors").
pub fn backdoor_learner() -> LearnerConfig {
    LearnerConfig {
        optimizer: OptimizerKind::Sgd,
        lr: 0.02,
        lr_schedule: LrSchedule::Cosine,
        ..LearnerConfig::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_backdoor_protocol_warns_below_the_size_it_was_measured_on() {
        let w = backdoor_size_warning(3000).expect("a warning at 3000");
        assert!(w.contains("on 3000") && w.contains("6000"), "{w}");
        assert!(backdoor_size_warning(BACKDOOR_MEASURED_MIN).is_none());
        // The protocol as the window's button sets it, whatever the seed; not once changed.
        let mut c = backdoor_protocol();
        c.seed = 7;
        assert!(is_backdoor_protocol(&c));
        c.tau = 0.9;
        assert!(!is_backdoor_protocol(&c));
        assert!(!is_backdoor_protocol(&Config::user_default()));
    }
}
