//! A run as both faces make it: the run file built once from the run's settings and data
//! ([`RunHeader`]), a headless run that writes its outputs ([`run_to_folder`]), the oracle and
//! the naive baseline ([`train_fresh`]), and a run's one-line round summary.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use crate::data::truth::TruthInfo;
use crate::data::Dataset;
use crate::error::{Error, Result};
use crate::export::{self, DatasetInfo, OutputLock, Overwrite, RunFile, RunStatus, Verdict};
use crate::itlm::{self, Config, Learner, RoundRecord};
use crate::learner::LearnerConfig;
use crate::rng::Rng;

use super::prepare::Prepared;

/// What a run file holds besides its rounds: the settings, the model, the data's identity and
/// truth. Built once per run; [`RunHeader::run_file`] makes the file at any point.
#[derive(Clone, Debug)]
pub struct RunHeader {
    pub config: Config,
    pub learner: LearnerConfig,
    pub learner_description: String,
    pub dataset: DatasetInfo,
    pub truth: Option<TruthInfo>,
}

impl RunHeader {
    /// The header of a run of `config` / `learner` on `train`, evaluated on `eval` (its test
    /// and test-2 sets: no export may go inside them either).
    pub fn new<'a>(
        config: &Config,
        learner: &LearnerConfig,
        learner_description: String,
        train: &Dataset,
        eval: impl IntoIterator<Item = &'a Dataset>,
        truth: Option<&TruthInfo>,
    ) -> Self {
        Self {
            config: config.clone(),
            learner: learner.clone(),
            learner_description,
            dataset: DatasetInfo::of(train).with_eval(eval),
            truth: truth.cloned(),
        }
    }

    /// The run file of these rounds.
    pub fn run_file(
        &self,
        rounds: Vec<Arc<RoundRecord>>,
        status: RunStatus,
        verdict: Option<Verdict>,
        elapsed_secs: f64,
    ) -> RunFile {
        RunFile {
            config: self.config.clone(),
            learner: self.learner.clone(),
            learner_description: self.learner_description.clone(),
            dataset: self.dataset.clone(),
            truth: self.truth.clone(),
            rounds,
            status,
            verdict,
            elapsed_secs,
        }
    }
}

/// What a headless run left: its run file (None when no round finished), the files written,
/// and how the run itself went.
pub struct Outcome {
    pub run: Option<RunFile>,
    pub files: Vec<PathBuf>,
    pub result: Result<()>,
}

/// Run ITLM with `learner` on prepared data and write the outputs into `out`. The folder is
/// locked for the whole run (a second run into it is refused before training), and the set of
/// outputs is written after every round (status "in progress"), so a kill keeps the finished
/// rounds. When the run fails (e.g. training diverges) or is stopped (the observer returns
/// `Error::Cancelled`) after at least one round, the finished rounds are written with status
/// failed / stopped and `Outcome::result` holds the run's error; an error here means nothing
/// could be saved.
pub fn run_to_folder(
    p: &Prepared,
    learner: &mut dyn Learner,
    mut header: RunHeader,
    out: &Path,
    overwrite: Overwrite,
    observer: &mut dyn itlm::Observer,
) -> Result<Outcome> {
    let started = Instant::now();
    export::check_outside_datasets(out, &header.dataset.sources())?;
    let existed = out.exists();
    // A folder another run holds is refused now; one that cannot even be created is
    // reported when the rounds are saved (with the run's own error, if any).
    let lock = match OutputLock::acquire(out) {
        Ok(l) => Some(l),
        Err(e @ Error::Data { .. }) => return Err(e),
        Err(_) => None,
    };
    let mut history: Vec<Arc<RoundRecord>> = Vec::new();
    // With decisions, labels.csv (and the journal as read, decisions.csv) is written in each
    // set with the other files.
    let decided = p.decisions.as_ref().filter(|d| d.counts().decided > 0);
    let journal = decided.and(p.journal.as_deref());
    let (train, pins) = p.guided();
    // A sample the user relabelled to its true label trains clean: the truth counts it so.
    let bad = p
        .truth
        .as_ref()
        .map(|t| t.bad_as_trained(p.train.labels(), train.labels()));
    // The run file keeps the truth as trained, so that a reopened run, a re-cut export and
    // samples.csv count as its rounds' metrics did.
    if let (Some(t), Some(b)) = (header.truth.as_mut(), &bad) {
        t.bad.clone_from(b);
    }
    let inputs = itlm::Inputs {
        data: &train,
        eval: itlm::Eval {
            test: p.test.as_ref(),
            test2: p.test2.as_ref(),
        },
        bad: bad.as_deref(),
        true_labels: p
            .truth
            .as_ref()
            .map(|t| t.true_label.as_slice())
            .filter(|t| !t.is_empty()),
        pins: pins.as_ref(),
    };
    // Whether a set of this run is in `out` (then later sets replace it).
    let mut saved = false;
    // The config the run starts with; the header follows it when auto turns the run into
    // co-teaching after round 0 (whose record is dropped).
    let config = header.config.clone();
    let learner_alone = learner.describe();
    let result = {
        let mut rounds: Vec<Arc<RoundRecord>> = Vec::new();
        let mut tau_chosen = false;
        let mut save_each_round = |e: &itlm::Event| -> Result<()> {
            if let itlm::Event::TauChosen { tau, .. } = e {
                // The run file says which tau the cuts kept (and that the data chose it).
                header.config.tau = *tau;
                tau_chosen = true;
            }
            if let itlm::Event::RoundDone(r) = e {
                // Round 0 chose no tau (a generative learner, a model that learned nothing):
                // the cuts kept the tau set, and the run file says so.
                if r.round == 0 && !tau_chosen {
                    header.config.tau_from_data = false;
                }
            }
            if let itlm::Event::CoteachChosen { config, .. } = e {
                header.config = (**config).clone();
                header.learner_description = config.describe_learner(&learner_alone);
                rounds.clear();
            }
            if let (itlm::Event::RoundDone(r), Some(lock)) = (e, &lock) {
                rounds.push(r.clone());
                let run = header.run_file(
                    rounds.clone(),
                    RunStatus::InProgress,
                    None,
                    started.elapsed().as_secs_f64(),
                );
                let ow = if saved { Overwrite::Allow } else { overwrite };
                // A failure here is reported by the final write below.
                if export::write_all_locked(out, &run, ow, decided, journal, lock).is_ok() {
                    saved = true;
                }
            }
            observer.on(e)
        };
        itlm::run(
            learner,
            inputs,
            &config,
            itlm::Start::Fresh,
            &mut history,
            &mut save_each_round,
        )
    };
    if history.is_empty() {
        drop(lock);
        if !existed {
            // Only when nothing is in it: never removes anything of the user's.
            let _ = std::fs::remove_dir(out);
        }
        return Ok(Outcome {
            run: None,
            files: Vec::new(),
            result,
        });
    }
    let status = match &result {
        Ok(()) => RunStatus::Finished,
        Err(Error::Cancelled) => RunStatus::Stopped,
        Err(e) => RunStatus::Failed(e.to_string()),
    };
    let run = header.run_file(history, status, None, started.elapsed().as_secs_f64());
    let ow = if saved { Overwrite::Allow } else { overwrite };
    let written = match &lock {
        Some(lock) => export::write_all_locked(out, &run, ow, decided, journal, lock),
        None => match decided {
            Some(d) => export::write_all_with_labels(out, &run, ow, d, journal),
            None => export::write_all(out, &run, ow),
        },
    };
    match (written, result) {
        (Ok(files), result) => Ok(Outcome {
            run: Some(run),
            files,
            result,
        }),
        (Err(w), Ok(())) => Err(w),
        (Err(w), Err(e)) => Err(Error::Other(format!(
            "{e}; the {} finished rounds could not be saved either: {w}",
            run.rounds.len()
        ))),
    }
}

/// Train a fresh model on `idx` for `epochs`, seeded as a run's round 0 is (reset from
/// derive(seed, 0), batches from derive(seed, 1000)): the naive baseline (all samples) and the
/// oracle (the truly clean samples) are round 0 of a run with that training set.
pub fn train_fresh(
    learner: &mut dyn Learner,
    data: &Dataset,
    idx: &[usize],
    epochs: f64,
    seed: u64,
) -> Result<()> {
    learner.reset(Rng::derive(seed, 0).next_u64())?;
    learner.train(
        data,
        idx,
        epochs,
        Rng::derive(seed, 1000).next_u64(),
        &mut |_| Ok(()),
    )?;
    Ok(())
}

/// Accuracy of `learner` on `d` (None for an empty set).
pub fn accuracy(learner: &mut dyn Learner, d: &Dataset) -> Result<Option<f64>> {
    let idx: Vec<usize> = (0..d.len()).collect();
    let s = learner.score(d, &idx, &mut |_| Ok(()))?;
    Ok(itlm::metrics::accuracy(
        &s.predicted,
        d.labels(),
        0..d.len(),
    ))
}

/// What the oracle reached.
#[derive(Clone, Debug, PartialEq)]
pub struct Oracle {
    pub trained_on: usize,
    pub test_acc: Option<f64>,
    pub test2_acc: Option<f64>,
    pub secs: f64,
}

/// Train on the truly clean samples only for `config.final_epochs`: the ceiling ITLM can
/// reach. Needs the truth.
pub fn oracle(p: &Prepared, learner: &mut dyn Learner, config: &Config) -> Result<Oracle> {
    let truth = p.truth.as_ref().ok_or_else(|| {
        Error::Config("--oracle needs ground truth (--truth or DATA/truth.csv)".into())
    })?;
    let clean: Vec<usize> = (0..p.train.len()).filter(|&i| !truth.bad[i]).collect();
    let t0 = Instant::now();
    train_fresh(
        learner,
        &p.train,
        &clean,
        config.final_epochs as f64,
        config.seed,
    )?;
    let test_acc = p.test.as_ref().map(|d| accuracy(learner, d)).transpose()?;
    let test2_acc = p.test2.as_ref().map(|d| accuracy(learner, d)).transpose()?;
    Ok(Oracle {
        trained_on: clean.len(),
        test_acc: test_acc.flatten(),
        test2_acc: test2_acc.flatten(),
        secs: t0.elapsed().as_secs_f64(),
    })
}

/// What forward correction on `auto` decided ([`crate::itlm::Event::ForwardDecided`]), in one
/// line: on (from which round) or off, and the figures the rule read.
pub fn auto_forward_line(round: usize, on: bool, shape: Option<(f32, f32)>) -> String {
    match shape {
        Some((flipped, one_sided)) => format!(
            "forward correction (auto): {} - round 0's model implies {:.0}% of the labels flipped, {:.0}% of the flips into their class's likeliest other class (on from 5% flipped and over 50% one-sided)",
            if on {
                format!("on from round {round} (one forward round, then the final model trains on from it; for a head on embeddings, a check on held-out labels chooses first)")
            } else {
                "off".to_string()
            },
            flipped * 100.0,
            one_sided * 100.0
        ),
        None => "forward correction (auto): off - round 0's model gives no label-noise estimate"
            .to_string(),
    }
}

/// Round 0's model learned nothing of the labels ([`crate::itlm::Event::Round0NotLearned`]),
/// in one line: what it read, and what the run does instead (`config`: the run's, whose tau
/// then stands).
pub fn not_learned_line(agreement: f64, baseline: f64, config: &Config) -> String {
    let mut instead = Vec::new();
    if config.tau_from_data {
        instead.push(format!("tau stays at {:.2} (--tau sets it)", config.tau));
    }
    if config.transition == crate::itlm::Forward::Auto {
        instead.push("auto keeps plain ITLM".to_string());
    }
    format!(
        "round 0's model learned nothing of the labels: it agrees with {:.1}% of them, no more than always answering the largest class would ({:.1}%), so its label-noise estimate is not read{}; train round 0 longer (--round0-epochs, --epochs) or on smaller batches (--batch-size)",
        agreement * 100.0,
        baseline * 100.0,
        if instead.is_empty() {
            String::new()
        } else {
            format!(": {}", instead.join(", "))
        }
    )
}

/// The tau a run chose from the data ([`crate::itlm::Event::TauChosen`]), in one line
/// (`excluded`: the samples the user excluded, which the cut trims besides).
pub fn tau_chosen_line(noise: f64, tau: f64, excluded: usize) -> String {
    let besides = excluded > 0;
    format!(
        "tau from the data: {tau:.2} - round 0's model confidently contradicts {:.1}% of the labels{} (cleanlab's confident joint); every cut keeps the rest (--tau T sets it)",
        noise * 100.0,
        if besides {
            " of the samples you did not exclude, which are trimmed besides"
        } else {
            ""
        }
    )
}

/// What `auto` decided when round 0 read heavy random noise
/// ([`crate::itlm::Event::CoteachChosen`]), in one line: the figures the rule read and the
/// co-teaching run that follows.
pub fn coteach_chosen_line(shape: (f32, f32), noise: f64, config: &Config) -> String {
    format!(
        "co-teaching (auto): on - round 0's model implies {:.0}% of the labels flipped, only {:.0}% of the flips into their class's likeliest other class (random noise, from {:.0}% flipped): the run starts again as co-teaching ({} epochs, two models) at tau {:.2}, the share its noise estimate ({:.0}%) leaves; --transition off keeps plain ITLM",
        shape.0 * 100.0,
        shape.1 * 100.0,
        crate::itlm::transition::COTEACH_FLIPPED * 100.0,
        config.coteach.unwrap_or_default().epochs,
        config.tau,
        noise * 100.0,
    )
}

/// What the final check of an `auto` forward-corrected run ([`crate::itlm::final_check`])
/// measured and chose, in one line.
pub fn final_check_line(round: usize, check: &crate::itlm::FinalCheck) -> String {
    let shares: Vec<String> = crate::itlm::FinalSet::ALL
        .iter()
        .enumerate()
        .map(|(c, set)| match check.accuracy {
            Some(acc) => format!(
                "{} {:.1}% ({:.1}% agreed)",
                set.describe(),
                acc[c] * 100.0,
                check.agreement[c] * 100.0
            ),
            None => format!(
                "{} {:.1}% agreed",
                set.describe(),
                check.agreement[c] * 100.0
            ),
        })
        .collect();
    let what = match check.chosen {
        crate::itlm::FinalSet::CutPlain => format!(
            "off from round {round}: the run goes on as plain ITLM from the forward round's cut"
        ),
        set => format!("the final round trains on {}", set.describe()),
    };
    format!(
        "forward correction (auto, checked on held-out labels): {what} - the models of each candidate training set ({} folds, {} samples held out once), their accuracy estimated through the matrix (and their agreement with the given labels): {}; a set through the matrix must beat the plain cut by {:.1} points (2 standard errors)",
        crate::itlm::final_check::FOLDS,
        check.held_out,
        shares.join(", "),
        check.margin * 100.0
    )
}

/// A class a model starves ([`crate::itlm::Starved`]) in words, for the CLI's warning and
/// the window; `classes` names the classes; `forward`: the model trained forward-corrected
/// (a flip read the wrong way is then a cause to name).
pub fn starved_line(s: &crate::itlm::Starved, classes: &[String], forward: bool) -> String {
    let name = classes
        .get(s.class as usize)
        .cloned()
        .unwrap_or_else(|| s.class.to_string());
    let why = if forward {
        "folded into another (forward correction that read its flip the wrong way) or trimmed away"
    } else {
        "folded into another (labels flipped into it, its own samples trimmed) or trimmed away"
    };
    format!(
        "predicts {name} for {} of the {} samples labelled {name} ({:.0}%): the class is {why}",
        s.predicted,
        s.labelled,
        100.0 * s.predicted as f64 / s.labelled.max(1) as f64
    )
}

/// What the floored cut's class floors added ([`crate::itlm::select::floors_added`]) in
/// words, after a round's kept count: None where they added nothing. `share` is tau's share.
pub fn floors_line(added: usize, share: usize) -> Option<String> {
    (added > 0).then(|| {
        format!(
            "tau's share is {share}; the class floors kept {added} more (a class the cut left \
             under half its share keeps its lowest losses up to that)"
        )
    })
}

/// What a forward round did about the classes its first model folded
/// ([`crate::itlm::RoundMetrics::unfolded`]), in one line (None for every other round): the
/// window and `run` show it under the round.
pub fn unfolded_line(r: &RoundRecord, classes: &[String]) -> Option<String> {
    let u = &r.metrics.unfolded;
    if u.is_empty() {
        return None;
    }
    let name = |c: u32| {
        classes
            .get(c as usize)
            .cloned()
            .unwrap_or_else(|| c.to_string())
    };
    let what: Vec<String> = u
        .iter()
        .map(|s| {
            let n = name(s.class);
            format!(
                "{n} (predicted for {} of the {} samples labelled {n})",
                s.predicted, s.labelled
            )
        })
        .collect();
    let (them, their, flips) = if u.len() == 1 {
        ("it", "its", "the flip")
    } else {
        ("them", "their", "the flips")
    };
    // The flips taken out, where the record has them (run files of version 18).
    let without = if r.metrics.unfolded_flips.is_empty() {
        format!("{flips} that folded {them}")
    } else {
        r.metrics
            .unfolded_flips
            .iter()
            .map(|&(a, c)| format!("{} -> {}", name(a), name(c)))
            .collect::<Vec<_>>()
            .join(", ")
    };
    Some(format!(
        "round {}: its first forward-corrected model folded {} into other classes (the matrix \
         explained {their} labels by other classes' flips); the round trained again, fresh, \
         without {without}",
        r.round,
        what.join(", ")
    ))
}

/// How much a round's line says.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LineStyle {
    /// `run`'s log: what it trained, kept and trimmed, and every figure it has.
    Full,
    /// `reproduce`'s log, indented under its experiment: the figures there are and the time.
    Compact,
}

/// A round in one line, showing only the figures it has (no test set: no test figure).
pub fn round_line(r: &RoundRecord, style: LineStyle) -> String {
    let m = &r.metrics;
    let pct = |name: &str, a: Option<f64>| a.map(|a| format!(" {name} {:.2}%", a * 100.0));
    match style {
        LineStyle::Full => {
            let mut s = format!(
                "round {}: trained on {} ({} ep, {:.1}s)  kept {} trimmed {}",
                r.round, r.trained_on, r.epochs, r.train_secs, m.kept, m.trimmed
            );
            for f in [
                pct(" train acc", m.train_acc),
                pct(" test acc", m.test_acc),
                pct(" test-2", m.test2_acc),
            ]
            .into_iter()
            .flatten()
            {
                s.push_str(&f);
            }
            if let Some(t) = m.trim {
                s.push_str(&format!(
                    "  trim precision {:.3} recall {:.3}",
                    t.precision, t.recall
                ));
            }
            if let Some((ep, er)) = m.estimated {
                s.push_str(&format!("  estimated precision {ep:.3} recall {er:.3}"));
            }
            if r.relabelled_count() > 0 {
                s.push_str(&format!("  relabelled {}", r.relabelled_count()));
                if let Some(q) = m.relabel {
                    s.push_str(&format!(" (precision {:.3})", q.precision));
                }
            } else if !r.relabelled.is_empty() {
                // The relabel ran and chose none: said, not left out.
                s.push_str("  relabelled 0 (no trimmed sample's predicted class was sure enough under every model)");
            }
            if r.clusters.is_some() {
                s.push_str(&format!(
                    "  clustering cut held out {}",
                    r.held_out.iter().filter(|&&h| h).count()
                ));
            }
            if let (0, Some(h)) = (r.round, m.suggestion) {
                s.push_str(&format!("  (loss mixture suggests tau {:.2})", h.tau));
            }
            s
        }
        LineStyle::Compact => {
            let mut s = format!("    round {}: trained on {}", r.round, r.trained_on);
            for f in [pct("test", m.test_acc), pct("test-2", m.test2_acc)]
                .into_iter()
                .flatten()
            {
                s.push_str(&f);
            }
            if let Some(t) = m.trim {
                s.push_str(&format!(" trim P {:.3} R {:.3}", t.precision, t.recall));
            }
            if r.relabelled_count() > 0 {
                s.push_str(&format!(" relabelled {}", r.relabelled_count()));
                if let Some(q) = m.relabel {
                    s.push_str(&format!(" P {:.3}", q.precision));
                }
            }
            if r.clusters.is_some() {
                s.push_str(&format!(
                    " held out {}",
                    r.held_out.iter().filter(|&&h| h).count()
                ));
            }
            s.push_str(&format!(" ({:.0}s)", r.train_secs + r.score_secs));
            s
        }
    }
}
