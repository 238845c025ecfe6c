//! The labels the run itself changed: `--relabel` before the final round and the clustering
//! cut's repairs give trimmed samples a new class, and the final model trains on them under it.
//! The exports treat such a sample as relabelled (to the run's class) unless the user decided
//! otherwise, so that labels.csv, clean.txt, flagged.txt, the clean copy, the cleanlab table and
//! FiftyOne's tags all say what the final model trained on.

use std::borrow::Cow;
use std::sync::Arc;

use super::run_file::RunFile;
use crate::itlm::{Config, Decision, Decisions, RoundRecord};

/// The classes the run gave samples up to `round`: the relabelled samples of the last round up
/// to `round` that relabelled any (indexed by sample; None = not relabelled). None when it
/// relabelled none. Co-teaching's pseudo-labels (each epoch's own) do not count.
pub fn run_relabels(run: &RunFile, round: usize) -> Option<&[Option<u32>]> {
    relabels_in(&run.rounds, &run.config, round, run.dataset.len())
}

/// [`run_relabels`] of a run's `rounds` (a window's live run too) on `n` samples.
pub fn relabels_in<'a>(
    rounds: &'a [Arc<RoundRecord>],
    config: &Config,
    round: usize,
    n: usize,
) -> Option<&'a [Option<u32>]> {
    if config.coteach.is_some() {
        return None;
    }
    rounds
        .iter()
        .rfind(|r| r.round <= round && r.relabelled_count() > 0)
        .map(|r| r.relabelled.as_slice())
        .filter(|r| r.len() == n)
}

/// `decisions` with the run's own relabels up to `round` under them: a sample the run
/// relabelled that the user left undecided counts as relabelled to the run's class. As given
/// when the run relabelled none.
pub fn with_run_relabels<'a>(
    run: &RunFile,
    round: usize,
    decisions: Option<&'a Decisions>,
) -> Option<Cow<'a, Decisions>> {
    let Some(relabels) = run_relabels(run, round) else {
        return decisions.map(Cow::Borrowed);
    };
    let n = run.dataset.len();
    let mut d = decisions.cloned().unwrap_or_else(|| Decisions::new(n));
    let each: Vec<(usize, Option<Decision>)> = relabels
        .iter()
        .enumerate()
        .filter(|(i, _)| d.get(*i).is_none())
        .filter_map(|(i, q)| q.map(|q| (i, Some(Decision::Relabel(q)))))
        .collect();
    d.set_each(&each);
    Some(Cow::Owned(d))
}
