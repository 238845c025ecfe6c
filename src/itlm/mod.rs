//! The algorithm: configuration, selection, rounds, records and metrics. No UI, no candle:
//! generic over the [`Learner`] trait so that it is tested exactly with a fake learner.

pub mod config;
pub mod imbalance;
pub mod learner;
pub mod metrics;
pub mod record;
pub mod run;
pub mod select;
pub mod suggest;

pub use config::{Config, LossAggregate, RoundModels, TauSchedule};
pub use learner::{ImageGrid, Learner, Phase, Scores, Tick, TickFn};
pub use metrics::{RoundMetrics, TrimQuality};
pub use record::RoundRecord;
pub use run::{run, Eval, Event, Observer, Quiet, Start};
pub use select::{keep_count, select, Selection};
pub use suggest::{suggest_tau, Suggestion};
