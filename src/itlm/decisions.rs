//! A user's decisions on samples (exclude, keep, relabel to a class) by sample index, with
//! undo and redo: what human-guided ITLM is given as [`Pins`] and relabelled labels. The
//! journal that keeps them on disk is `session::decisions`.

use super::Pins;

/// A user's verdict on one sample.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Decision {
    /// Truly bad: never trains, left out of every export of clean data.
    Exclude,
    /// Fine: always in the kept set, not flagged again.
    Keep,
    /// Its class is this one (an index into the dataset's classes), not the given one: trains
    /// with it, always in the kept set.
    Relabel(u32),
}

impl Decision {
    /// The word the journal writes: `exclude`, `keep` or `relabel`.
    pub fn word(self) -> &'static str {
        match self {
            Decision::Exclude => "exclude",
            Decision::Keep => "keep",
            Decision::Relabel(_) => "relabel",
        }
    }
}

/// One change to append to the journal: sample `index` now has `decision` (None: cleared).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Entry {
    pub index: usize,
    pub decision: Option<Decision>,
}

/// How many samples have each decision.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counts {
    pub excluded: usize,
    pub kept: usize,
    pub relabelled: usize,
    /// All three together.
    pub decided: usize,
}

impl Counts {
    fn add(&mut self, d: Option<Decision>, sign: isize) {
        let Some(d) = d else { return };
        let field = match d {
            Decision::Exclude => &mut self.excluded,
            Decision::Keep => &mut self.kept,
            Decision::Relabel(_) => &mut self.relabelled,
        };
        *field = field.wrapping_add_signed(sign);
        self.decided = self.decided.wrapping_add_signed(sign);
    }
}

impl std::fmt::Display for Counts {
    /// "3 excluded, 4 kept, 2 relabelled".
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} excluded, {} kept, {} relabelled",
            self.excluded, self.kept, self.relabelled
        )
    }
}

/// One sample's change inside an undo step.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Change {
    index: usize,
    before: Option<Decision>,
    after: Option<Decision>,
}

/// The decisions of one dataset, by sample index, with undo/redo.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Decisions {
    by_index: Vec<Option<Decision>>,
    counts: Counts,
    undo: Vec<Vec<Change>>,
    redo: Vec<Vec<Change>>,
}

impl Decisions {
    /// No decision yet, for a dataset of `n` samples.
    pub fn new(n: usize) -> Self {
        Self {
            by_index: vec![None; n],
            ..Default::default()
        }
    }

    /// Number of samples (decided or not).
    pub fn len(&self) -> usize {
        self.by_index.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_index.is_empty()
    }

    /// The decision on sample `i` (None: undecided, or `i` out of range).
    pub fn get(&self, i: usize) -> Option<Decision> {
        self.by_index.get(i).copied().flatten()
    }

    /// The decided samples, in index order.
    pub fn iter(&self) -> impl Iterator<Item = (usize, Decision)> + '_ {
        self.by_index
            .iter()
            .enumerate()
            .filter_map(|(i, d)| d.map(|d| (i, d)))
    }

    /// Set (Some) or clear (None) the decision of every sample in `indices`: one undo step.
    /// Returns the journal entries to append, one per sample whose decision changed (indices
    /// out of range and repeated ones change nothing). A call that changes nothing is no undo
    /// step and keeps the redo steps.
    pub fn set(&mut self, indices: &[usize], d: Option<Decision>) -> Vec<Entry> {
        let each: Vec<(usize, Option<Decision>)> = indices.iter().map(|&i| (i, d)).collect();
        self.set_each(&each)
    }

    /// [`Decisions::set`] with a decision per sample: `(index, decision)`, one undo step.
    pub fn set_each(&mut self, each: &[(usize, Option<Decision>)]) -> Vec<Entry> {
        let mut step = Vec::new();
        for &(index, d) in each {
            let Some(before) = self.by_index.get(index).copied() else {
                continue;
            };
            if before != d {
                step.push(Change {
                    index,
                    before,
                    after: d,
                });
                self.put(index, d);
            }
        }
        if step.is_empty() {
            return Vec::new();
        }
        let entries = step
            .iter()
            .map(|c| Entry {
                index: c.index,
                decision: c.after,
            })
            .collect();
        self.undo.push(step);
        self.redo.clear();
        entries
    }

    /// Undo the last step; returns the entries that restore the previous state (none when
    /// there is nothing to undo).
    pub fn undo(&mut self) -> Vec<Entry> {
        let Some(step) = self.undo.pop() else {
            return Vec::new();
        };
        // In reverse, so that a sample changed twice in a step ends at its first `before`.
        let entries = step
            .iter()
            .rev()
            .map(|c| {
                self.put(c.index, c.before);
                Entry {
                    index: c.index,
                    decision: c.before,
                }
            })
            .collect();
        self.redo.push(step);
        entries
    }

    /// Redo the last undone step; returns its entries (none when there is nothing to redo).
    pub fn redo(&mut self) -> Vec<Entry> {
        let Some(step) = self.redo.pop() else {
            return Vec::new();
        };
        let entries = step
            .iter()
            .map(|c| {
                self.put(c.index, c.after);
                Entry {
                    index: c.index,
                    decision: c.after,
                }
            })
            .collect();
        self.undo.push(step);
        entries
    }

    pub fn can_undo(&self) -> bool {
        !self.undo.is_empty()
    }

    pub fn can_redo(&self) -> bool {
        !self.redo.is_empty()
    }

    /// How many samples have each decision (kept up to date, O(1)).
    pub fn counts(&self) -> Counts {
        self.counts
    }

    /// What `itlm::run` pins: excluded samples out; kept and relabelled ones in (a relabelled
    /// sample's new label is the user's word, so it always trains, with that label).
    pub fn pins(&self) -> Pins {
        Pins {
            exclude: self
                .by_index
                .iter()
                .map(|d| *d == Some(Decision::Exclude))
                .collect(),
            keep: self
                .by_index
                .iter()
                .map(|d| matches!(d, Some(Decision::Keep | Decision::Relabel(_))))
                .collect(),
        }
    }

    /// The labels to train with: the given ones, relabelled where decided. `given` must have
    /// one label per sample (samples beyond `len()` keep their given label).
    pub fn labels(&self, given: &[u32]) -> Vec<u32> {
        given
            .iter()
            .enumerate()
            .map(|(i, &g)| match self.get(i) {
                Some(Decision::Relabel(c)) => c,
                _ => g,
            })
            .collect()
    }

    /// Set without an undo step (a journal's replay, and the steps themselves).
    pub(crate) fn put(&mut self, index: usize, d: Option<Decision>) {
        if let Some(slot) = self.by_index.get_mut(index) {
            self.counts.add(*slot, -1);
            self.counts.add(d, 1);
            *slot = d;
        }
    }
}
