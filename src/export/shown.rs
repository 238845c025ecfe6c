//! The round an export shows and its cut: the verdict (the user's cut, possibly re-made at
//! another tau) by default, or another round of the run with the cut it ran with. What the
//! report and the ecosystem exports call "flagged" (trimmed in the shown round).

use std::sync::Arc;

use super::run_file::RunFile;
use crate::error::{Error, Result};
use crate::itlm::RoundRecord;

/// A round of a run and the selection an export shows for it.
#[derive(Clone, Debug)]
pub struct Shown {
    pub record: Arc<RoundRecord>,
    /// Kept by the shown cut, per sample (false: flagged).
    pub kept: Vec<bool>,
    /// The fraction that cut keeps.
    pub tau: f64,
    /// Whether the cut is the run's verdict (else the round's own selection).
    pub verdict: bool,
}

impl Shown {
    /// The round's number.
    pub fn round(&self) -> usize {
        self.record.round
    }

    /// Samples the cut trims.
    pub fn flagged(&self) -> usize {
        self.kept.iter().filter(|&&k| !k).count()
    }
}

/// The round `round` of `run` (None: the verdict's) with its cut: the verdict's when it is
/// that round's, else the selection the round ran with. An error when the run has no round
/// or not that one.
pub fn shown(run: &RunFile, round: Option<usize>) -> Result<Shown> {
    let verdict = run
        .verdict()
        .ok_or_else(|| Error::Other("the run holds no finished round".into()))?;
    let want = round.unwrap_or(verdict.round);
    let record = run
        .rounds
        .iter()
        .find(|r| r.round == want)
        .cloned()
        .ok_or_else(|| {
            let last = run.rounds.last().map(|r| r.round).unwrap_or(0);
            Error::Config(format!(
                "round {want} is not in the run (its rounds are 0 to {last})"
            ))
        })?;
    Ok(if verdict.round == want {
        Shown {
            record,
            kept: verdict.kept,
            tau: verdict.tau,
            verdict: true,
        }
    } else {
        Shown {
            kept: record.kept.clone(),
            tau: record.tau,
            record,
            verdict: false,
        }
    })
}
