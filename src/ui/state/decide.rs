//! The user's decisions in the window: exclude, keep, relabel or clear, on one sample or a
//! selection, with undo and redo. Every change is appended to the journal `decisions.csv` in the
//! run's folder (see [`super::autosave`]) before it counts: a change the journal could not take
//! is undone and said. A reopened run replays the journal beside it.

use std::path::PathBuf;

use crate::session::decisions::{Decision, Decisions, Entry, Journal, DECISIONS_CSV};

use super::AppState;

/// The decisions of the open dataset and where they are kept.
#[derive(Default)]
pub struct DecisionState {
    pub decisions: Decisions,
    journal: Option<Journal>,
    /// Bumped on every change (caches of what the grids show key on it).
    pub generation: u64,
    /// Said once when there is nowhere to keep them.
    warned_unsaved: bool,
    /// Runs started from the window ignore the decisions (plain ITLM, e.g. to compare).
    pub ignore_in_training: bool,
}

impl DecisionState {
    pub fn new(n: usize) -> Self {
        Self {
            decisions: Decisions::new(n),
            ..Default::default()
        }
    }

    /// The journal file, once there is one.
    pub fn journal_path(&self) -> Option<PathBuf> {
        self.journal.as_ref().map(|j| j.path().to_path_buf())
    }

    /// The decisions as a journal's bytes (compacted; from memory where no journal could be
    /// kept), for an export to carry; None without decisions.
    pub fn journal_bytes(
        &self,
        ids: &[String],
        classes: &[String],
    ) -> Option<crate::Result<Vec<u8>>> {
        if self.decisions.counts().decided == 0 {
            return None;
        }
        Some(match &self.journal {
            Some(j) => j.bytes(&self.decisions),
            None => crate::session::decisions::journal_of(&self.decisions, ids, classes),
        })
    }
}

impl AppState {
    /// Fresh decisions for a newly shown dataset; a reopened run's journal is replayed.
    pub(super) fn reset_decisions(&mut self) {
        let n = self.data.as_ref().map_or(0, |d| d.train.len());
        self.decide = DecisionState::new(n);
        let reopened = self.data.as_ref().is_some_and(|d| d.reopened.is_some());
        let beside = self.autosave.dir.as_ref().map(|d| d.join(DECISIONS_CSV));
        if let (true, Some(path)) = (reopened, beside.filter(|p| p.is_file())) {
            self.open_journal(path);
        }
    }

    /// Open (and replay) the journal at `path`.
    fn open_journal(&mut self, path: PathBuf) {
        let Some(data) = &self.data else { return };
        let sources: Vec<crate::data::Source> =
            [Some(&data.train), data.test.as_ref(), data.test2.as_ref()]
                .into_iter()
                .flatten()
                .map(|d| d.source.clone())
                .collect();
        match Journal::open(&path, data.train.ids(), &data.train.classes, &sources) {
            Ok((journal, decisions, replay)) => {
                if decisions.len() == self.decide.decisions.len() {
                    self.decide.decisions = decisions;
                }
                self.decide.journal = Some(journal);
                self.decide.generation += 1;
                let text = replay.to_string();
                if replay.is_clean() {
                    if replay.counts.decided > 0 {
                        self.info(text);
                    }
                } else {
                    self.error(text);
                }
            }
            Err(e) => self.error(format!("The decisions could not be opened: {e}")),
        }
    }

    /// The journal, opened in the run's folder on first use (None: nowhere to keep it).
    fn journal(&mut self) -> Option<&mut Journal> {
        if self.decide.journal.is_none() {
            let name = self.data.as_ref()?.train.name.clone();
            match self.autosave.folder(&name) {
                Ok(dir) => self.open_journal(dir.join(DECISIONS_CSV)),
                Err(e) => {
                    if !self.decide.warned_unsaved {
                        self.decide.warned_unsaved = true;
                        self.error(format!(
                            "Decisions are kept in memory only ({e}): export them before closing."
                        ));
                    }
                    return None;
                }
            }
        }
        self.decide.journal.as_mut()
    }

    /// Record `d` (None: clear) for every sample in `indices`: one undo step.
    pub fn decide(&mut self, indices: &[usize], d: Option<Decision>) {
        let each: Vec<(usize, Option<Decision>)> = indices.iter().map(|&i| (i, d)).collect();
        self.decide_each(&each);
    }

    /// Record a decision per sample (`(index, decision)`; None: clear): one undo step.
    pub fn decide_each(&mut self, each: &[(usize, Option<Decision>)]) {
        let n = self.decide.decisions.len();
        if !each.iter().any(|&(i, _)| i < n) {
            return;
        }
        // Open (and replay) the journal before the step: opening replaces the decisions with
        // the journal's.
        let _ = self.journal();
        // Relabelling a sample to the class it is labelled is saying its label is right: a
        // keep (it was journaled and counted as a relabel that changed nothing).
        let given = |i: usize| self.data.as_ref().map(|x| x.train.label(i));
        let each: Vec<(usize, Option<Decision>)> = each
            .iter()
            .filter(|&&(i, _)| i < n)
            .map(|&(i, d)| match d {
                Some(Decision::Relabel(c)) if given(i) == Some(c) => (i, Some(Decision::Keep)),
                _ => (i, d),
            })
            .collect();
        let entries = self.decide.decisions.set_each(&each);
        self.journal_entries(entries, true);
    }

    pub fn undo_decision(&mut self) {
        let entries = self.decide.decisions.undo();
        self.journal_entries(entries, false);
    }

    pub fn redo_decision(&mut self) {
        let entries = self.decide.decisions.redo();
        self.journal_entries(entries, false);
    }

    /// Write the changes of the last step to the journal; a new step the journal refuses is
    /// taken back.
    fn journal_entries(&mut self, entries: Vec<Entry>, new_step: bool) {
        if entries.is_empty() {
            return;
        }
        self.decide.generation += 1;
        let result = match self.journal() {
            Some(j) => j.append(&entries),
            None => Ok(()),
        };
        if let Err(e) = result {
            if new_step {
                self.decide.decisions.undo();
            }
            self.error(format!(
                "The decision was not saved, so it is not made: {e}"
            ));
        }
    }

    /// The decision on sample `i`.
    pub fn decision(&self, i: usize) -> Option<Decision> {
        self.decide.decisions.get(i)
    }
}
