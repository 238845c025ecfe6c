//! Every named choice of the core (selection rule, model, optimizer, ...) parses its own name,
//! prints it, and names the valid ones on a typo: what the CLI's value lists and the window's
//! choices rely on.

use itlm_inspector::choice::Choice;
use itlm_inspector::data::corrupt::NoiseKind;
use itlm_inspector::data::watermark::MarkShape;
use itlm_inspector::itlm::{LossAggregate, Selection, TauSchedule};
use itlm_inspector::learner::{DeviceChoice, LrSchedule, Mode, ModelKind, OptimizerKind};

fn round_trips<C>()
where
    C: Choice + std::fmt::Display + std::str::FromStr<Err = String> + std::fmt::Debug,
{
    for &c in C::ALL {
        assert_eq!(c.to_string(), c.name());
        assert_eq!(c.name().parse::<C>(), Ok(c));
    }
    let e = "no-such-value".parse::<C>().unwrap_err();
    assert!(e.contains(C::WHAT) && e.contains(C::ALL[0].name()), "{e}");
}

#[test]
fn every_choice_parses_its_own_name_and_names_the_others_on_a_typo() {
    round_trips::<Selection>();
    round_trips::<TauSchedule>();
    round_trips::<LossAggregate>();
    round_trips::<ModelKind>();
    round_trips::<OptimizerKind>();
    round_trips::<LrSchedule>();
    round_trips::<DeviceChoice>();
    round_trips::<Mode>();
    round_trips::<MarkShape>();
    round_trips::<NoiseKind>();
    assert_eq!(
        "adam".parse::<OptimizerKind>().unwrap_err(),
        "unknown optimizer 'adam' (one of: adamw, sgd)"
    );
}
