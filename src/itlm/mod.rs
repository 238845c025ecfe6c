//! The algorithm: configuration, selection, rounds, records and metrics, and what a user pins
//! (decisions on samples, human-guided ITLM). No UI, no candle: generic over the [`Learner`]
//! trait so that it is tested exactly with a fake learner.

pub mod clusters;
pub mod config;
pub mod coteach;
pub mod decisions;
pub mod final_check;
pub mod health;
pub mod imbalance;
pub mod learner;
pub mod metrics;
pub mod pins;
pub mod ran;
pub mod record;
pub mod relabel;
pub mod run;
mod run_io;
mod scoring;
pub mod select;
pub mod spectral;
pub mod suggest;
pub mod transition;

pub use clusters::{ClusterCut, ClusterReport};
pub use config::{Augment, CoTeach, Config, Forward, LossAggregate, RoundModels, TauSchedule};
pub use decisions::{Decision, Decisions};
pub use final_check::{FinalCheck, FinalSet};
pub use health::{health, ClassHealth, Confused, Health, NotLearned};
pub use learner::{Features, ImageGrid, Learner, Phase, Scores, Tick, TickFn};
pub use metrics::{starved_classes, RoundMetrics, Starved, TrimQuality, STARVED_SHARE};
pub use pins::Pins;
pub use ran::Ran;
pub use record::RoundRecord;
pub use relabel::RelabelQuality;
pub use run::{run, Eval, Event, Inputs, Observer, Quiet, Start};
pub use select::{keep_count, select, Selection};
pub use spectral::{spectral_scores, Spectral};
pub use suggest::{suggest_tau, Suggestion};
