//! What a run actually did, read off its config and its round records: the rounds that ran
//! (forward correction's schedule is shorter than the configured one, co-teaching's rounds are
//! its epochs), and whether forward correction, co-teaching, relabelling and the clustering
//! cut were used. The report's summary says it; the config alone says only what was asked.

use std::sync::Arc;

use super::config::{CoTeach, Config, Forward};
use super::record::RoundRecord;

/// What a run did.
#[derive(Clone, Debug, PartialEq)]
pub struct Ran {
    /// Rounds recorded.
    pub rounds: usize,
    /// The number of the newest round recorded.
    pub last: Option<usize>,
    /// The last round the run planned ([`Config::planned_last_round`]).
    pub planned_last: usize,
    /// The last round of the configured plain schedule ([`Config::last_round`]).
    pub configured_last: usize,
    /// `Config::rounds`: trim-and-retrain rounds after round 0, as configured.
    pub configured_rounds: usize,
    /// Forward correction as configured ([`Config::transition`]) and as the run applies it
    /// ([`Config::forward`]).
    pub forward_mode: Forward,
    pub forward_applied: Forward,
    /// Rounds whose model trained through a label-noise matrix.
    pub forward_rounds: Vec<usize>,
    /// The first round after a forward round that trained plainly (an auto run's final check
    /// chose the plain cut).
    pub plain_from: Option<usize>,
    pub coteach: Option<CoTeach>,
    /// Relabelling on, and (round, samples) of the round whose cut relabelled.
    pub relabel: bool,
    pub relabelled: Option<(usize, usize)>,
    /// The clustering cut on, and (round, samples held out) of the round it ran before.
    pub clusters: bool,
    pub held_out: Option<(usize, usize)>,
    pub restore: bool,
    /// A generative learner's run (no labels to correct: forward correction does not apply).
    pub generative: bool,
}

impl Ran {
    /// The same, for a generative learner's run.
    pub fn generative(mut self, generative: bool) -> Self {
        self.generative = generative;
        self
    }

    /// What a run of `config` that left `rounds` did.
    pub fn of(config: &Config, rounds: &[Arc<RoundRecord>]) -> Self {
        let forward_rounds: Vec<usize> = rounds
            .iter()
            .filter(|r| !r.transition.is_empty())
            .map(|r| r.round)
            .collect();
        let plain_from = forward_rounds.first().and_then(|&f| {
            rounds
                .iter()
                .find(|r| r.round > f && r.transition.is_empty())
                .map(|r| r.round)
        });
        Self {
            rounds: rounds.len(),
            last: rounds.last().map(|r| r.round),
            planned_last: config.planned_last_round(rounds),
            configured_last: config.last_round(),
            configured_rounds: config.rounds,
            forward_mode: config.transition,
            forward_applied: config.forward(),
            forward_rounds,
            plain_from,
            coteach: config.coteach,
            relabel: config.relabel,
            relabelled: rounds
                .iter()
                .find(|r| r.relabelled_count() > 0)
                .map(|r| (r.round, r.relabelled_count())),
            clusters: config.clusters,
            held_out: rounds
                .iter()
                .find(|r| r.clusters.is_some())
                .map(|r| (r.round, r.held_out.iter().filter(|&&h| h).count())),
            restore: config.restore,
            generative: false,
        }
    }

    /// The rounds that ran, in words: how many, their numbers, and why they are not the
    /// configured schedule's when they are not.
    pub fn rounds_text(&self) -> String {
        let Some(last) = self.last else {
            return "none finished".into();
        };
        let span = if self.rounds == 1 {
            format!("1 (round {last})")
        } else {
            format!("{} (rounds 0 to {last})", self.rounds)
        };
        if let Some(c) = self.coteach {
            return format!(
                "{span}: co-teaching's epochs, one round each, of {} planned",
                c.epochs
            );
        }
        let why = if last < self.planned_last {
            format!(
                "; the run planned rounds 0 to {} and ended early",
                self.planned_last
            )
        } else if !self.forward_rounds.is_empty() && self.planned_last < self.configured_last {
            format!(
                "; forward correction's shorter schedule: one forward round, then the final model trained on from it (configured: {} rounds after round 0, rounds 0 to {})",
                self.configured_rounds, self.configured_last
            )
        } else {
            String::new()
        };
        format!("{span}{why}")
    }

    /// Forward correction in words: as configured, and the rounds that trained through a
    /// label-noise matrix.
    pub fn forward_text(&self) -> String {
        let mode = self.forward_mode;
        if self.generative {
            return "does not apply (a generative learner has no labels to correct)".into();
        }
        if let (Some(&first), Some(&last)) =
            (self.forward_rounds.first(), self.forward_rounds.last())
        {
            let which = if first == last {
                format!("round {first}")
            } else {
                format!("rounds {first} to {last}")
            };
            let then = self.plain_from.map_or_else(String::new, |p| {
                format!(", then plain ITLM from round {p} (a check on held-out labels chose it)")
            });
            return format!(
                "used ({mode}): {which} trained through the label-noise matrix the previous round's model implies{then}"
            );
        }
        match (mode, self.forward_applied) {
            (Forward::Off, _) => "not used (off)".into(),
            (_, Forward::Off) if self.coteach.is_some() => "not used (co-teaching)".into(),
            (_, Forward::Off) => format!(
                "not used ({mode}: off with restore, relabel or the clustering cut, which choose the final round's training set)"
            ),
            (Forward::Auto, _) if self.rounds > 1 => {
                "not used (auto: round 0's model did not call for it)".into()
            }
            _ => format!("not used ({mode}: the run ended before round 1)"),
        }
    }

    /// Co-teaching in words.
    pub fn coteach_text(&self) -> String {
        match self.coteach {
            Some(c) => format!(
                "used: two models, {} epochs, each trained on the lowest-loss share under the other, falling to tau over {} epochs{}{}",
                c.epochs,
                c.ramp,
                c.pseudo.map_or_else(String::new, |p| format!(", pseudo-labels at p >= {p}")),
                c.smoothing_note()
            ),
            None => "not used".into(),
        }
    }

    /// Relabelling in words.
    pub fn relabel_text(&self) -> String {
        match (self.relabel, self.relabelled) {
            (_, Some((round, n))) => format!(
                "used: round {round}'s cut relabelled {}, which the final model trained on",
                crate::plural(n, "trimmed sample")
            ),
            (true, None) => "on, but no sample was relabelled".into(),
            (false, None) => "not used".into(),
        }
    }

    /// The clustering cut in words.
    pub fn clusters_text(&self) -> String {
        match (self.clusters, self.held_out) {
            (_, Some((round, n))) => format!(
                "used: held out {} before round {round} trained",
                crate::plural(n, "sample")
            ),
            (true, None) => "on, but the run ended before it ran".into(),
            (false, None) => "not used".into(),
        }
    }

    /// Every line: (what, text). Restore only when it was on.
    pub fn lines(&self) -> Vec<(&'static str, String)> {
        let mut v = vec![
            ("rounds run", self.rounds_text()),
            ("forward correction", self.forward_text()),
            ("co-teaching", self.coteach_text()),
            // The run's own (`--relabel`), not the user's decisions, which read beside it.
            ("automatic relabelling", self.relabel_text()),
            ("clustering cut", self.clusters_text()),
        ];
        if self.restore {
            v.push((
                "restore",
                "used: the last cut's trimmed samples of classes without a one-sided confusion went back, and the final model trained again".into(),
            ));
        }
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(round: usize, forward: bool) -> Arc<RoundRecord> {
        let mut r = RoundRecord {
            round,
            epochs: 1.0,
            trained_on: 4,
            tau: 0.5,
            loss: vec![0.0; 4],
            score: vec![0.0; 4],
            predicted: vec![0; 4],
            p_given: vec![1.0; 4],
            probs: Vec::new(),
            kept: vec![true; 4],
            relabelled: Vec::new(),
            held_out: Vec::new(),
            clusters: None,
            spectral: Vec::new(),
            transition: Vec::new(),
            metrics: Default::default(),
            generated: None,
            train_secs: 0.0,
            score_secs: 0.0,
        };
        if forward {
            r.transition = vec![1.0, 0.0, 0.0, 1.0];
        }
        Arc::new(r)
    }

    /// A default run that forward-corrected ran 3 rounds of the configured 5 and says why; a
    /// plain one says nothing more than its rounds.
    #[test]
    fn a_forward_corrected_run_says_its_shorter_schedule() {
        let c = Config::user_default();
        let rounds = [record(0, false), record(1, true), record(2, true)];
        let ran = Ran::of(&c, &rounds);
        assert_eq!(ran.rounds, 3);
        assert_eq!(ran.forward_rounds, vec![1, 2]);
        let t = ran.rounds_text();
        assert!(
            t.starts_with("3 (rounds 0 to 2); forward correction's shorter schedule"),
            "{t}"
        );
        assert!(
            t.contains("configured: 4 rounds after round 0, rounds 0 to 4"),
            "{t}"
        );
        assert!(ran
            .forward_text()
            .starts_with("used (auto): rounds 1 to 2 trained through"));
        assert_eq!(ran.coteach_text(), "not used");
        assert_eq!(ran.relabel_text(), "not used");
        assert_eq!(ran.clusters_text(), "not used");
        assert_eq!(ran.lines().len(), 5);
        let plain: Vec<_> = (0..5).map(|r| record(r, false)).collect();
        let ran = Ran::of(&c, &plain);
        assert_eq!(ran.rounds_text(), "5 (rounds 0 to 4)");
        assert!(ran
            .forward_text()
            .starts_with("not used (auto: round 0's model did not call"));
        // Stopped after round 1.
        let ran = Ran::of(&c, &plain[..2]);
        assert!(ran
            .rounds_text()
            .contains("planned rounds 0 to 4 and ended early"));
        // Off as configured.
        let off = Config {
            transition: Forward::Off,
            ..c.clone()
        };
        assert_eq!(Ran::of(&off, &plain).forward_text(), "not used (off)");
        // Auto's final check chose the plain cut after a forward round.
        let checked = [record(0, false), record(1, true), record(2, false)];
        assert!(Ran::of(&c, &checked)
            .forward_text()
            .ends_with("then plain ITLM from round 2 (a check on held-out labels chose it)"));
    }

    #[test]
    fn coteaching_relabelling_and_the_clustering_cut_say_what_they_did() {
        let c = Config::default().coteaching(CoTeach::default());
        let rounds: Vec<_> = (0..3).map(|r| record(r, false)).collect();
        let ran = Ran::of(&c, &rounds);
        assert!(ran
            .coteach_text()
            .starts_with("used: two models, 25 epochs"));
        assert_eq!(ran.forward_text(), "not used (co-teaching)");
        assert!(ran.rounds_text().contains("co-teaching's epochs"));
        let c = Config {
            relabel: true,
            ..Config::default()
        };
        let mut r3 = (*record(3, false)).clone();
        r3.relabelled = vec![Some(1), None, Some(0), None];
        let rounds = [record(0, false), Arc::new(r3)];
        let ran = Ran::of(&c, &rounds);
        assert_eq!(
            ran.relabel_text(),
            "used: round 3's cut relabelled 2 trimmed samples, which the final model trained on"
        );
        assert!(ran.forward_text().contains("off with restore, relabel"));
        let c = Config {
            clusters: true,
            ..Config::default()
        };
        let mut r4 = (*record(4, false)).clone();
        r4.held_out = vec![true, false, false, false];
        r4.clusters = Some(Default::default());
        let ran = Ran::of(&c, &[record(0, false), Arc::new(r4)]);
        assert_eq!(
            ran.clusters_text(),
            "used: held out 1 sample before round 4 trained"
        );
    }
}
