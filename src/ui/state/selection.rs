//! What is shown: the round (followed live or chosen), its cut at the slider's tau and the grid
//! lists (cached in [`ViewCache`]), the grid tab and filter, and the selected sample.

use std::sync::Arc;

use crate::itlm::RoundRecord;

use super::super::view::{Cut, CutRule, Given, ListContext, Lists};
use super::AppState;

impl AppState {
    pub fn rounds(&self) -> usize {
        self.run.as_ref().map_or(0, |r| r.history.len())
    }

    /// Show round `index` (position in the history); stops following the newest round.
    pub fn select_round(&mut self, index: usize) {
        let n = self.rounds();
        if n == 0 {
            return;
        }
        let index = index.min(n - 1);
        self.selected_round = Some(index);
        let active = self.run.as_ref().is_some_and(|r| r.status.is_active());
        self.follow_latest = active && index == n - 1 && self.follow_latest;
    }

    /// Step the selected round by `delta` (arrow keys). Stepping past the newest round of a
    /// live run follows it again.
    pub fn step_round(&mut self, delta: isize) {
        let n = self.rounds();
        if n == 0 {
            return;
        }
        let cur = self.selected_round.unwrap_or(n - 1) as isize;
        let next = (cur + delta).clamp(0, n as isize - 1) as usize;
        self.selected_round = Some(next);
        let active = self.run.as_ref().is_some_and(|r| r.status.is_active());
        self.follow_latest = active && next == n - 1 && delta > 0;
    }

    /// Show the newest round and follow new ones.
    pub fn follow(&mut self) {
        self.follow_latest = true;
        self.selected_round = self.rounds().checked_sub(1);
    }

    pub fn record(&self) -> Option<&Arc<RoundRecord>> {
        let run = self.run.as_ref()?;
        run.history.get(self.selected_round?)
    }

    /// Whether the selected round's run forward-corrected up to it: some round up to it
    /// trained through a label-noise matrix. Continuing such a run as it was going trains
    /// every sample not excluded, tau only setting the flags; "at this tau" trains on the cut.
    pub fn continues_forward(&self) -> bool {
        let (Some(run), Some(i)) = (self.run.as_ref(), self.selected_round) else {
            return false;
        };
        run.config.coteach.is_none()
            && run
                .history
                .iter()
                .take(i + 1)
                .any(|r| !r.transition.is_empty())
    }

    /// The selected round cut at the slider's tau (cached).
    pub fn cut(&mut self) -> Option<Arc<Cut>> {
        let index = self.selected_round?;
        let run = self.run.as_ref()?;
        let record = run.history.get(index)?;
        let data = self.data.as_ref()?;
        // The decisions and truth this round trained with (an earlier run's round: its own).
        let guide = run.guide(index);
        let given = Given {
            labels: data.train.labels(),
            classes: data.train.num_classes(),
            bad: guide
                .bad
                .as_ref()
                .or(data.bad.as_ref())
                .map(|b| b.as_slice()),
            pins: guide.pins.as_deref(),
        };
        let rule = CutRule {
            rule: run.config.select,
            tau: self.settings.config.tau,
            restore: run.config.restores_at(record.round),
        };
        Some(self.view.cut(record, index, given, rule, self.generation))
    }

    /// The grid lists of the current cut, filter and sort (cached).
    pub fn lists(&mut self) -> Option<Arc<Lists>> {
        self.cut()?;
        let run = self.run.as_ref()?;
        let record = run.history.get(self.selected_round?)?;
        let data = self.data.as_ref()?;
        let ctx = ListContext {
            record,
            history: &run.history,
            labels: data.train.labels(),
            classes: data.train.num_classes(),
            rule: run.config.select,
            ids: data.train.ids(),
            kinds: data.truth.as_ref().map(|t| t.kind.as_slice()),
            decisions: &self.decide.decisions,
        };
        self.view
            .lists(&ctx, &self.filter, self.sort, self.decide.generation)
    }

    /// How many cuts were computed so far (a cache check for tests).
    pub fn cut_computations(&self) -> usize {
        self.view.cut_computations
    }

    /// Move the selected sample within the current grid list (detail keyboard navigation).
    pub fn step_sample(&mut self, delta: isize) {
        let Some(lists) = self.lists() else { return };
        let list = lists.get(self.tab);
        if list.is_empty() {
            return;
        }
        let pos = self
            .selected_sample
            .and_then(|s| list.iter().position(|&i| i == s));
        let next = match pos {
            Some(p) => (p as isize + delta).clamp(0, list.len() as isize - 1) as usize,
            None => 0,
        };
        self.select_sample(Some(list[next]));
    }

    /// Select sample `i` (None: close the detail); the detail panel shows it.
    pub fn select_sample(&mut self, i: Option<usize>) {
        self.selected_sample = i.filter(|&i| self.data.as_ref().is_some_and(|d| i < d.train.len()));
    }
}
