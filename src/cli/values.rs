//! The core's named choices ([`Choice`]) as clap value enums: the command line lists their
//! names and help, and parses them, without the core knowing clap.

use clap::builder::PossibleValue;
use clap::ValueEnum;

use crate::choice::Choice;

macro_rules! value_enum {
    ($($ty:ty),+ $(,)?) => {$(
        impl ValueEnum for $ty {
            fn value_variants<'a>() -> &'a [Self] {
                <$ty as Choice>::ALL
            }

            fn to_possible_value(&self) -> Option<PossibleValue> {
                let v = PossibleValue::new(self.name());
                Some(if self.help().is_empty() { v } else { v.help(self.help()) })
            }
        }
    )+};
}

value_enum!(
    crate::itlm::Selection,
    crate::itlm::TauSchedule,
    crate::itlm::LossAggregate,
    crate::itlm::Forward,
    crate::learner::ModelKind,
    crate::learner::Mode,
    crate::learner::OptimizerKind,
    crate::learner::LrSchedule,
    crate::learner::DeviceChoice,
    crate::learner::HeadKind,
    crate::learner::backbone::BackboneKind,
    crate::data::watermark::MarkShape,
    crate::data::corrupt::NoiseKind,
);
