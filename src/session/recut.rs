//! Re-cutting a saved run without training: another round's losses, another tau or selection
//! rule, exactly as the window's slider cuts (a round that restored re-cuts with its restore).

use crate::error::{Error, Result};
use crate::export::{RunFile, Verdict};
use crate::itlm::{self, Selection, TrimQuality};

/// The cut to make: None keeps the run's own (the round and tau it was saved with, else its
/// last round at that round's tau; its rule).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct CutRequest {
    pub round: Option<usize>,
    pub tau: Option<f64>,
    pub select: Option<Selection>,
}

/// What a re-cut decided.
#[derive(Clone, Debug, PartialEq)]
pub struct Recut {
    pub round: usize,
    pub tau: f64,
    pub rule: Selection,
    pub kept: usize,
    pub flagged: usize,
    /// Against the run's ground truth, when it has one.
    pub quality: Option<TrimQuality>,
}

impl std::fmt::Display for Recut {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "round {}, tau {:.3} ({}): {} kept, {} flagged",
            self.round, self.tau, self.rule, self.kept, self.flagged
        )?;
        if let Some(q) = &self.quality {
            write!(
                f,
                "; vs truth: precision {:.3} recall {:.3}",
                q.precision, q.recall
            )?;
        }
        Ok(())
    }
}

/// Cut `run` as `req` says and make that its verdict (what its exports then write). The cut
/// the run was saved with, and a round's own cut at its tau, are kept as they are (the
/// samples pinned by the decisions it trained with included); another cut puts `pins` (the
/// user's decisions) first, as a run does.
pub fn recut(run: &mut RunFile, req: CutRequest, pins: Option<&itlm::Pins>) -> Result<Recut> {
    let last = run
        .rounds
        .last()
        .ok_or_else(|| Error::Other("the run holds no finished round".into()))?;
    // By default the cut the run was saved with (the window's shown round and tau), else its
    // last round at that round's tau.
    let saved_verdict = run.verdict();
    let saved = saved_verdict.as_ref().map(|v| (v.round, v.tau));
    let round = req.round.or(saved.map(|v| v.0)).unwrap_or(last.round);
    let r = run
        .rounds
        .iter()
        .find(|r| r.round == round)
        .ok_or_else(|| {
            Error::Config(format!(
                "round {round} is not in the run (its rounds are 0 to {})",
                last.round
            ))
        })?
        .clone();
    let tau = req
        .tau
        .or(saved.filter(|v| v.0 == round).map(|v| v.1))
        .unwrap_or(r.tau);
    if !(tau > 0.0 && tau <= 1.0) {
        return Err(Error::Config(format!("tau must be in (0, 1], got {tau}")));
    }
    let rule = req.select.unwrap_or(run.config.select);
    let d = &run.dataset;
    let as_saved = saved_verdict
        .as_ref()
        .filter(|v| v.round == round && v.tau == tau && rule == run.config.select)
        .filter(|v| v.kept.len() == d.len());
    // A round's own cut, as the run made it.
    let as_run = (tau == r.tau && rule == run.config.select && r.kept.len() == d.len())
        .then(|| r.kept.clone());
    let kept = match as_saved.map(|v| v.kept.clone()).or(as_run) {
        Some(kept) => kept,
        None => {
            let mut kept = itlm::run::select_pinned(
                pins,
                rule,
                &r.score,
                &d.labels,
                &r.predicted,
                d.classes.len(),
                tau,
                run.config.restores_at(round),
            );
            itlm::clusters::hold_out(&mut kept, &r.held_out);
            kept
        }
    };
    let flagged = kept.iter().filter(|&&k| !k).count();
    let quality = run
        .truth
        .as_ref()
        .map(|t| TrimQuality::measure(&kept, &t.bad));
    let recut = Recut {
        round,
        tau,
        rule,
        kept: kept.len() - flagged,
        flagged,
        quality,
    };
    run.verdict = Some(Verdict { round, tau, kept });
    Ok(recut)
}
