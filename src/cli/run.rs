//! `itlm-inspector run`: ITLM headless on a dataset, the outputs written into `--out` (or,
//! with `--oracle`, the ceiling measured), with a progress bar and an optional JSON line.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};

use clap::Args;
use serde_json::json;

use super::args::{ItlmArgs, ModelArgs};
use crate::error::{Error, Result};
use crate::export::{self, Overwrite};
use crate::itlm::{Config, Event, Phase, RoundRecord, TauSchedule};
use crate::learner::{self, LearnerConfig};
use crate::session::{self, DataRequest, EvalInputs, LineStyle, Prepared, RunHeader};

#[derive(Args, Debug, Clone)]
pub struct RunArgs {
    /// Image folder (class subfolders), labels CSV (a .csv of image paths and labels, relative to its folder), IDX directory (MNIST / Fashion-MNIST) or CIFAR-10 directory.
    pub data: PathBuf,
    /// Held-out test set (its test split when it has one, e.g. an IDX directory's t10k files).
    /// An IDX directory given as DATA supplies its own t10k split unless --no-test.
    #[arg(long)]
    pub test: Option<PathBuf>,
    /// Do not evaluate on the test split DATA carries (not with --test).
    #[arg(long, conflicts_with = "test")]
    pub no_test: bool,
    /// Watermarked test images labelled with the attack's target class (backdoor test-2) [default: DATA-test2 beside the set when present, as `corrupt --noise backdoor` writes it]
    #[arg(long)]
    pub test2: Option<PathBuf>,
    /// Ground truth `path,true_label[,kind]` (default: DATA/truth.csv when present). Scoring only.
    #[arg(long)]
    pub truth: Option<PathBuf>,
    #[command(flatten)]
    pub columns: super::args::ColumnArgs,
    /// Read DATA, a folder, as unlabelled images: every image under it (recursively), in no
    /// class, whatever its subfolders (a flat folder beside a thumbnails/ folder); for the
    /// generative mode (--mode generative).
    #[arg(long)]
    pub unlabelled: bool,
    #[command(flatten)]
    pub itlm: ItlmArgs,
    #[command(flatten)]
    pub model: ModelArgs,
    #[command(flatten)]
    pub embed: super::embed::EmbedArgs,
    /// Use a seeded random subset of N training samples.
    #[arg(long)]
    pub limit: Option<usize>,
    /// Train only on the truly clean samples (needs truth) for --final-epochs and print the
    /// test accuracies (with --json: one JSON line): the upper bound. Writes no files, so it
    /// takes no --out or --clean-copy.
    #[arg(long)]
    pub oracle: bool,
    /// Output folder (must not be inside a dataset folder). Required, except with --oracle.
    #[arg(long, required_unless_present = "oracle", conflicts_with = "oracle")]
    pub out: Option<PathBuf>,
    /// Replace existing output files.
    #[arg(long)]
    pub force: bool,
    /// Also write the kept samples as a new image folder (hard links to the originals where
    /// possible; PNGs for IDX / CIFAR sets). Must be a new or empty folder.
    #[arg(long, conflicts_with = "oracle")]
    pub clean_copy: Option<PathBuf>,
    /// Your decisions (decisions.csv, as the window's review writes it: `path,decision,label,time`
    /// with decision exclude|keep|relabel): excluded samples never train, kept and relabelled ones
    /// always stay in the kept set (they take their places in tau's share), relabelled ones train
    /// with their new label. Writes labels.csv (the corrected labels) and a copy of the
    /// decisions into --out; the clean copy follows them.
    #[arg(long, conflicts_with = "oracle")]
    pub decisions: Option<PathBuf>,
    /// In the clean copy, put the samples still flagged (trimmed, no decision) under
    /// `_flagged/<class>/` instead of leaving them out.
    #[arg(long, requires = "clean_copy")]
    pub flagged_folder: bool,
    /// Print one final JSON line with per-round metrics.
    #[arg(long)]
    pub json: bool,
    /// No progress bar.
    #[arg(long, short)]
    pub quiet: bool,
    /// Start from a measured protocol's settings; every option given still overrides its
    /// own. `backdoor`: the window's "Backdoor defence protocol" (SGD lr 0.02 cosine, tau
    /// 0.95, round 0 five models of 0.35 epoch, 10 one-epoch rounds, final 9 epochs, restore,
    /// clustering cut; README, "Backdoors")
    #[arg(long, value_enum, default_value_t = Protocol::Defaults)]
    pub protocol: Protocol,
}

/// The settings `run` starts from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Protocol {
    /// The defaults (each option's own).
    Defaults,
    /// What defends watermark backdoors (`reproduce backdoor`'s protocol).
    Backdoor,
}

impl RunArgs {
    /// The ITLM and learner settings: the protocol's, with the options given over them.
    pub fn configs(&self) -> (Config, LearnerConfig) {
        let (config, learner) = match self.protocol {
            // Tau from the data unless `--tau` sets it.
            Protocol::Defaults => (Config::user_default(), LearnerConfig::default()),
            Protocol::Backdoor => (
                crate::presets::backdoor_protocol(),
                crate::presets::backdoor_learner(),
            ),
        };
        (
            self.itlm.config_over(config),
            self.model.config_over(learner),
        )
    }

    /// The data this run opens.
    pub fn data_request(&self, seed: u64) -> DataRequest {
        DataRequest {
            path: self.data.clone(),
            eval: EvalInputs {
                test: self.test.clone(),
                no_test: self.no_test,
                test2: self.test2.clone(),
                truth: self.truth.clone(),
            },
            limit: self.limit,
            seed,
            progress: None,
            columns: self.columns.columns(),
            unlabelled: self.unlabelled,
        }
    }
}

/// `itlm-inspector run`.
pub fn run_command(a: &RunArgs) -> Result<()> {
    let (config, lcfg) = a.configs();
    config.validate()?;
    lcfg.validate()?;
    let mut p = super::with_load_line(&a.data, a.quiet, |progress| {
        session::prepare(&DataRequest {
            progress,
            ..a.data_request(config.seed)
        })
    })?;
    // A flat folder of images has no labels: refused before anything trains.
    if p.train.is_unlabelled() && lcfg.model != crate::learner::ModelKind::Vae {
        return Err(crate::Error::Config(
            crate::data::dataset::UNLABELLED_CLASSIFY.into(),
        ));
    }
    if let Some(note) = p.train.one_class_note() {
        if lcfg.model != crate::learner::ModelKind::Vae {
            return Err(crate::Error::Config(note));
        }
    }
    if let Some(path) = &a.decisions {
        p.decisions = Some(read_decisions(path, &p.train)?);
        // The set carries a copy, unless the journal is the set's own decisions.csv already.
        p.journal = export::journal_copy(path, a.out.as_deref())?;
    }
    // Refuse a bad output folder before spending time on training.
    export::check_outputs(
        a.out.as_deref(),
        a.clean_copy.as_deref(),
        &p.sources().iter().collect::<Vec<_>>(),
        a.force,
    )?;
    // With decisions the set also holds labels.csv and the journal's copy: refused now too.
    if let (Some(out), Some(_)) = (&a.out, &p.decisions) {
        export::check_decision_outputs(out, p.journal.is_some(), a.force)?;
    }
    // (`check` on the set's folder lists them all.)
    let rest = |d: &crate::data::Dataset| match &d.source {
        crate::data::Source::ImageFolder { root } => super::check::check_all_hint(root),
        _ => super::check::check_all_hint(&a.data),
    };
    if let Some(lines) = super::skipped_lines(&p.train.skipped, 10, &rest(&p.train)) {
        eprintln!("{lines}");
    }
    // The evaluation sets' unreadable files too: a test split that lost images scores less.
    for (what, d) in [("test set", &p.test), ("test-2 set", &p.test2)] {
        let Some(d) = d else { continue };
        let files: Vec<crate::data::Skipped> = d.eval_skipped().cloned().collect();
        if let Some(lines) = super::skipped_lines(&files, 10, &rest(d)) {
            eprintln!("{what}: {lines}");
        }
    }
    for n in &p.notes {
        eprintln!("{n}");
    }
    if a.protocol == Protocol::Backdoor {
        if let Some(w) = crate::presets::backdoor_size_warning(p.train.len()) {
            eprintln!("warning: {w}");
        }
    }
    // The window says it on loading; the command line trained 201 outputs in silence.
    if let Some(w) = crate::data::empty_classes::warning(&p.train) {
        eprintln!("warning: {w}");
    }
    // What a loss does not see (the window says it on opening).
    if !a.quiet {
        let issues = crate::data::quality::ImageIssues::find(&p.train);
        if issues.any() > 0 {
            eprintln!(
                "image checks: {} of {} images ({}); `itlm-inspector check {}{}` lists them",
                issues.any(),
                p.train.len(),
                issues.summary(),
                a.data.display(),
                match &a.columns.images {
                    Some(d) => format!(" --images {}", d.display()),
                    None => String::new(),
                }
            );
        }
    }
    // The window's advice for this set, as lines (a model from scratch on colour photos): the
    // command line had trained in silence.
    if !a.quiet {
        use crate::session::advice;
        if a.embed.source().is_none() && advice::backbone_suits(p.train.shape, lcfg.model) {
            eprintln!(
                "hint: {}; --backbone {b} uses one (its weights: `itlm-inspector weights install {b}`)",
                advice::backbone_text(p.train.shape, lcfg.model),
                b = advice::BACKBONE.name()
            );
        }
    }
    if let (Some(out), Some(_)) = (&a.out, a.embed.source()) {
        super::embed::check_similar_outputs(out, a.force)?;
    }
    let (mut learner, similar) =
        match super::embed::head_learner(&a.embed, &mut p, &lcfg, a.quiet, a.out.as_deref())? {
            Some(h) => (h.learner, Some(h.similar)),
            None => (learner::build(&lcfg, &p.train)?, None),
        };
    // The learner describes its augmentation once it has it (the run sets it again).
    learner.set_augment(config.augment)?;
    let described = learner.describe();
    if let (false, Some(ct)) = (a.quiet, config.coteach) {
        eprintln!(
            "{}: {} | two of {} | co-teaching {} epochs, each on the lowest-loss share under the other, falling to tau {} ({}) over {} epochs{}{}",
            p.train.name,
            p.train.summary(),
            described,
            ct.epochs,
            config.tau,
            config.select,
            ct.ramp,
            match ct.pseudo {
                Some(q) => format!(
                    ", then also on the samples outside it the other predicts with p >= {q} (pseudo-labels)"
                ),
                None => String::new(),
            },
            ct.smoothing_note()
        );
    } else if !a.quiet {
        eprintln!(
            "{}: {} | {} | tau {} {} {}{}, {} rounds x {} epochs, final {}{}",
            p.train.name,
            p.train.summary(),
            described,
            if config.tau_from_data && lcfg.model != crate::learner::ModelKind::Vae {
                "from the data (after round 0)".to_string()
            } else {
                config.tau.to_string()
            },
            config.select,
            config.schedule,
            if config.schedule == TauSchedule::Linear {
                " schedule"
            } else {
                ""
            },
            config.rounds,
            config.epochs,
            config.final_epochs,
            if config.restore {
                ", then trimmed samples of classes without a one-sided confusion restored and the final model trained again"
            } else {
                ""
            }
        );
    }
    if a.oracle {
        let o = session::run::oracle(&p, learner.as_mut(), &config)?;
        if a.json {
            println!(
                "{}",
                json!({
                    "status": "finished",
                    "oracle": true,
                    "n": p.train.len(),
                    "trained_on": o.trained_on,
                    "epochs": config.final_epochs,
                    "final_test_acc": o.test_acc,
                    "final_test2_acc": o.test2_acc,
                    "elapsed_secs": o.secs,
                })
            );
        } else {
            eprintln!("{}", oracle_line(o.trained_on, o.test_acc, o.test2_acc));
        }
        return Ok(());
    }
    run_and_export(a, &p, learner.as_mut(), &config, &lcfg)?;
    if let (Some(s), Some(out)) = (similar, &a.out) {
        for f in super::embed::write_similar(out, &p.train, &s, a.force)? {
            if !a.quiet {
                eprintln!("wrote {}", f.display());
            }
        }
    }
    Ok(())
}

/// Run ITLM and write the outputs into `a.out` (and the clean copy), with the progress bar,
/// the round lines and the JSON line. When the run fails after at least one round, the
/// finished rounds are still written and the run's error is returned.
pub fn run_and_export(
    a: &RunArgs,
    p: &Prepared,
    learner: &mut dyn crate::itlm::Learner,
    config: &Config,
    lcfg: &LearnerConfig,
) -> Result<()> {
    let out = a
        .out
        .as_deref()
        .ok_or_else(|| Error::Config("--out is required: the folder for the outputs".into()))?;
    let overwrite = if a.force {
        Overwrite::Allow
    } else {
        Overwrite::Refuse
    };
    let bar = progress_bar(a.quiet || a.json);
    stop_on_signals();
    // What auto decided, for --json: (round, on, shape) and the final check.
    let mut forward_auto = None;
    let mut coteach_auto = None;
    let mut tau_chosen = None;
    let mut not_learned: Option<(f64, f64)> = None;
    let mut final_check = None;
    let classes = p.train.classes.clone();
    let mut observer = |e: &Event| -> Result<()> {
        if STOP.load(Ordering::SeqCst) {
            return Err(Error::Cancelled);
        }
        match e {
            Event::RoundStarted {
                round,
                rounds,
                trained_on,
                epochs,
                forward,
            } => {
                bar.set_position(0);
                bar.set_prefix(format!("round {round}/{rounds}"));
                let through = if *forward {
                    " through the noise matrix"
                } else {
                    ""
                };
                bar.set_message(format!("training {epochs} epochs on {trained_on}{through}"));
            }
            Event::Tick { tick, .. } => {
                bar.set_length(tick.batches as u64);
                bar.set_position(tick.batch as u64);
                if tick.phase == Phase::Train {
                    if let Some(l) = tick.loss {
                        bar.set_message(format!(
                            "epoch {}/{} loss {l:.3}",
                            tick.epoch + 1,
                            tick.epochs
                        ));
                    }
                } else {
                    bar.set_message(format!("{:?}", tick.phase).to_lowercase());
                }
            }
            Event::RoundDone(r) => {
                bar.suspend(|| eprintln!("{}", session::round_line(r, LineStyle::Full)));
                // Kept more than tau's share: said (the restore and the clustering cut say
                // what they changed on their own).
                if !config.restore && r.held_out.is_empty() {
                    let added = crate::itlm::select::floors_added(config.select, &r.kept, r.tau);
                    let share = crate::itlm::select::keep_count(r.len(), r.tau);
                    if let Some(line) = session::floors_line(added, share) {
                        bar.suspend(|| eprintln!("  {line}"));
                    }
                }
                if let Some(line) = session::unfolded_line(r, &classes) {
                    bar.suspend(|| eprintln!("{line}"));
                }
            }
            Event::CoteachChosen {
                shape,
                noise,
                config,
            } => {
                coteach_auto = Some((*shape, *noise, config.tau));
                if !a.quiet {
                    let line = session::coteach_chosen_line(*shape, *noise, config);
                    bar.suspend(|| eprintln!("{line}"));
                }
            }
            Event::Round0NotLearned {
                agreement,
                baseline,
            } => {
                not_learned = Some((*agreement, *baseline));
                let line = session::not_learned_line(*agreement, *baseline, config);
                bar.suspend(|| eprintln!("warning: {line}"));
            }
            Event::TauChosen {
                noise,
                tau,
                excluded,
            } => {
                tau_chosen = Some((*noise, *tau));
                if !a.quiet {
                    let line = session::tau_chosen_line(*noise, *tau, *excluded);
                    bar.suspend(|| eprintln!("{line}"));
                }
            }
            Event::ForwardDecided { round, on, shape } => {
                forward_auto = Some((*round, *on, *shape));
                if !a.quiet {
                    let line = session::auto_forward_line(*round, *on, *shape);
                    bar.suspend(|| eprintln!("{line}"));
                }
            }
            Event::FinalChecked { round, check } => {
                final_check = Some((*round, check.clone()));
                if !a.quiet {
                    let line = session::final_check_line(*round, check);
                    bar.suspend(|| eprintln!("{line}"));
                }
            }
        }
        Ok(())
    };
    let header = RunHeader::new(
        config,
        lcfg,
        config.describe_learner(&learner.describe()),
        &p.train,
        p.test.iter().chain(&p.test2),
        p.truth.as_ref(),
    );
    let outcome = session::run_to_folder(p, learner, header, out, overwrite, &mut observer);
    bar.finish_and_clear();
    let session::Outcome { run, files, result } = outcome?;
    let Some(run) = run else { return result };
    // (labels.csv and decisions.csv came with the set: run_to_folder writes them when there
    // are decisions.)
    if let (Some(dst), Ok(())) = (&a.clean_copy, &result) {
        let plan = export::clean_copy::placements(&run, p.decisions.as_ref(), a.flagged_folder)?;
        let mut r = export::clean_copy::clean_copy_of(&run, dst, &plan)?;
        // The images were read before the run began (its elapsed time counts from after the
        // loading): a file modified since is not the image it judged.
        let began = std::time::SystemTime::now().checked_sub(std::time::Duration::from_secs_f64(
            run.elapsed_secs.max(0.0),
        ));
        if let Some(t) = began {
            r.note_changed(&run, &plan, t);
        }
        if !a.quiet {
            eprintln!("{r}");
        } else if !r.changed.is_empty() {
            // A warning, not progress: said with -q too.
            eprintln!("{}", r.changes().trim_start());
        }
    }
    // The label-health summary of the final cut (none before a round finished).
    let health = export::health::of_run(&run).ok();
    if !a.quiet {
        for f in &files {
            eprintln!("wrote {}", f.display());
        }
        if let Some(h) = &health {
            for line in export::health::health_lines(&run, h) {
                eprintln!("{line}");
            }
        }
        // A class the last model predicts for (almost) none of its samples.
        if let Some(last) = run.rounds.last() {
            let k = run.dataset.classes.len();
            for s in crate::itlm::starved_classes(&run.dataset.labels, &last.predicted, k) {
                let again = if last.transition.is_empty() {
                    ""
                } else {
                    "; compare a run with --transition off"
                };
                eprintln!(
                    "warning: the final model {}{again}",
                    session::starved_line(&s, &run.dataset.classes, !last.transition.is_empty())
                );
            }
        }
        if matches!(&result, Err(e) if !matches!(e, Error::Cancelled)) {
            eprintln!(
                "the {} rounds finished before the failure are in {}",
                run.rounds.len(),
                out.display()
            );
        }
    }
    // Said even with -q: the run ends without an error message (exit code 130).
    if let Err(Error::Cancelled) = &result {
        eprintln!(
            "stopped by a signal: the {} finished rounds are in {}",
            run.rounds.len(),
            out.display()
        );
    }
    if a.json {
        let last = run
            .rounds
            .last()
            .map(|r| r.metrics.clone())
            .unwrap_or_default();
        println!(
            "{}",
            json!({
                "status": run.status.to_string(),
                "n": p.train.len(),
                "config": run.config,
                // What trained: `--model` on the pixels, or the head on embeddings (a
                // head run's `--model` is unused; it had said "cnn").
                "model": match a.embed.source() {
                    Some(_) => format!("{} head", a.embed.head.unwrap_or_default()),
                    None => lcfg.model.to_string(),
                },
                "learner": run.learner_description,
                "rounds": run.rounds.iter().map(|r| round_json(r)).collect::<Vec<_>>(),
                "final_test_acc": last.test_acc,
                "final_test2_acc": last.test2_acc,
                "final_trim": last.trim,
                "relabelled": run.rounds.iter().map(|r| r.relabelled_count()).sum::<usize>(),
                "relabel": run.rounds.iter().find_map(|r| r.metrics.relabel),
                "forward_auto": forward_auto.map(|(round, on, shape)| json!({
                    "round": round,
                    "on": on,
                    "flipped": shape.map(|s| s.0),
                    "one_sided": shape.map(|s| s.1),
                })),
                "coteach_auto": coteach_auto.map(|(shape, noise, tau): ((f32, f32), f64, f64)| json!({
                    "flipped": shape.0,
                    "one_sided": shape.1,
                    "noise": noise,
                    "tau": tau,
                })),
                "tau_from_data": tau_chosen.map(|(noise, tau)| json!({
                    "noise": noise,
                    "tau": tau,
                })),
                "round0_not_learned": not_learned.map(|(agreement, baseline)| json!({
                    "agreement": agreement,
                    "baseline": baseline,
                })),
                "final_check": final_check.as_ref().map(|(round, c)| json!({
                    "round": round,
                    "chosen": c.chosen.name(),
                    "accuracy": c.accuracy,
                    "agreement": c.agreement,
                    "margin": c.margin,
                    "held_out": c.held_out,
                })),
                "health": health.as_ref().map(|h| export::health::health_json(&run, h)),
                "elapsed_secs": run.elapsed_secs,
            })
        );
    }
    result
}

/// Read a decisions file for `train` (nothing is written): what could not be applied is
/// printed; a file of another dataset is refused.
pub fn read_decisions(
    path: &std::path::Path,
    train: &crate::data::Dataset,
) -> Result<crate::itlm::Decisions> {
    let (d, replay) = session::decisions::Journal::read(path, train.ids(), &train.classes)?;
    if replay.another_dataset() {
        return Err(Error::data(path, replay.to_string()));
    }
    eprintln!("{replay}");
    let c = d.counts();
    if c.decided > 0 {
        eprintln!(
            "human-guided: {} excluded never train; {} kept and {} relabelled always stay in the kept set and count toward tau's share",
            c.excluded, c.kept, c.relabelled
        );
    }
    Ok(d)
}

/// Set by SIGINT / SIGTERM: the run stops at its next batch and keeps its finished rounds.
static STOP: AtomicBool = AtomicBool::new(false);

/// Make SIGINT and SIGTERM stop the run at the next batch (a second one ends the process at
/// once, exit code 130).
fn stop_on_signals() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(register_stop_signals);
}

fn register_stop_signals() {
    #[cfg(unix)]
    for sig in [libc::SIGINT, libc::SIGTERM] {
        // SAFETY: the action only stores to an atomic and may call `_exit`, both
        // async-signal-safe.
        let installed = unsafe {
            signal_hook_registry::register(sig, || {
                if STOP.swap(true, Ordering::SeqCst) {
                    libc::_exit(130);
                }
            })
        };
        if let Err(e) = installed {
            eprintln!("warning: cannot catch signal {sig} ({e}): it will end the run at once");
        }
    }
}

/// Summary of a round for the JSON line.
pub fn round_json(r: &RoundRecord) -> serde_json::Value {
    let m = &r.metrics;
    json!({
        "round": r.round,
        "epochs": r.epochs,
        "trained_on": r.trained_on,
        "tau": r.tau,
        "kept": m.kept,
        "trimmed": m.trimmed,
        "train_acc": m.train_acc,
        "test_acc": m.test_acc,
        "test_loss": m.test_loss,
        "test2_acc": m.test2_acc,
        "mean_loss": m.mean_loss,
        "trim_precision": m.trim.map(|t| t.precision),
        "trim_recall": m.trim.map(|t| t.recall),
        "trim_f1": m.trim.map(|t| t.f1),
        "estimated_precision": m.estimated.map(|e| e.0),
        "estimated_recall": m.estimated.map(|e| e.1),
        "unfolded": m.unfolded.iter().map(|s| json!({
            "class": s.class, "predicted": s.predicted, "labelled": s.labelled,
        })).collect::<Vec<_>>(),
        "unfolded_flips": m.unfolded_flips.iter().map(|&(a, c)| json!({
            "true": a, "given": c,
        })).collect::<Vec<_>>(),
        "relabelled": r.relabelled_count(),
        "relabel_precision": m.relabel.map(|q| q.precision),
        "relabel_recall": m.relabel.map(|q| q.recall),
        "held_out": r.held_out.iter().filter(|&&h| h).count(),
        "clusters": r.clusters.as_ref().map(|c| c.classes.iter().map(|k| json!({
            "class": k.class, "count": k.count, "size": k.size, "separation": k.separation,
            "trimmed_in": k.trimmed_in, "trimmed_rest": k.trimmed_rest,
            "own_share": k.own_share, "other": k.other.map(|(c, _)| c),
            "other_share": k.other.map(|(_, s)| s), "flagged": k.flagged,
        })).collect::<Vec<_>>()),
        "suggested_tau": m.suggestion.map(|s| s.tau),
        "train_secs": r.train_secs,
        "score_secs": r.score_secs,
    })
}

fn progress_bar(hidden: bool) -> indicatif::ProgressBar {
    if hidden {
        return indicatif::ProgressBar::hidden();
    }
    let bar = indicatif::ProgressBar::new(1);
    if let Ok(style) = indicatif::ProgressStyle::with_template(
        "{prefix:>12} [{bar:30}] {pos}/{len} {msg} ({elapsed}, eta {eta})",
    ) {
        bar.set_style(style.progress_chars("=> "));
    }
    bar
}

/// What `run --oracle` prints: accuracies in percent, or that there is no test set.
fn oracle_line(clean: usize, test_acc: Option<f64>, test2_acc: Option<f64>) -> String {
    let figures: Vec<String> = [("test acc", test_acc), ("test-2", test2_acc)]
        .into_iter()
        .filter_map(|(name, a)| a.map(|a| format!("{name} {:.2}%", a * 100.0)))
        .collect();
    let figures = if figures.is_empty() {
        "no test set to measure".to_string()
    } else {
        figures.join(", ")
    };
    format!("oracle: trained on {clean} clean samples: {figures}")
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;
    use crate::cli::{Cli, Command};
    use crate::learner::OptimizerKind;

    /// `run data --out o EXTRA...` parsed; `None` when clap refuses it.
    fn run_args(extra: &[&str]) -> Option<RunArgs> {
        let mut argv = vec!["itlm-inspector", "run", "data", "--out", "o"];
        argv.extend_from_slice(extra);
        match Cli::try_parse_from(argv).map(|c| c.command) {
            Ok(Some(Command::Run(r))) => Some(*r),
            Err(_) => None,
            other => panic!("{other:?}"),
        }
    }

    fn model_args(extra: &[&str]) -> ModelArgs {
        run_args(extra).expect("valid arguments").model
    }

    #[test]
    fn the_optimizer_brings_its_own_learning_rate_unless_one_is_given() {
        let adamw = model_args(&[]).config();
        assert_eq!((adamw.optimizer, adamw.lr), (OptimizerKind::Adamw, 1e-3));
        let sgd = model_args(&["--optimizer", "sgd"]).config();
        assert_eq!((sgd.optimizer, sgd.lr), (OptimizerKind::Sgd, 0.05));
        let sgd = model_args(&["--optimizer", "sgd", "--lr", "0.2"]).config();
        assert_eq!((sgd.optimizer, sgd.lr), (OptimizerKind::Sgd, 0.2));
    }

    #[test]
    fn the_oracle_prints_percentages_and_takes_no_out() {
        assert_eq!(
            oracle_line(10, Some(0.621), Some(0.019)),
            "oracle: trained on 10 clean samples: test acc 62.10%, test-2 1.90%"
        );
        assert_eq!(
            oracle_line(10, Some(0.5), None),
            "oracle: trained on 10 clean samples: test acc 50.00%"
        );
        assert_eq!(
            oracle_line(3, None, None),
            "oracle: trained on 3 clean samples: no test set to measure"
        );
        let parse = |a: &[&str]| {
            let mut argv = vec!["itlm-inspector", "run", "data"];
            argv.extend_from_slice(a);
            Cli::try_parse_from(argv).map(|c| c.command)
        };
        match parse(&["--oracle"]) {
            Ok(Some(Command::Run(r))) => assert!(r.oracle && r.out.is_none()),
            other => panic!("{other:?}"),
        }
        assert!(parse(&["--oracle", "--out", "o"]).is_err());
        assert!(parse(&["--oracle", "--clean-copy", "c"]).is_err());
        assert!(parse(&[]).is_err(), "--out is required without --oracle");
    }

    #[test]
    fn test_and_no_test_conflict() {
        let argv = ["itlm-inspector", "run", "d", "--out", "o", "--test", "t"];
        assert!(Cli::try_parse_from(argv).is_ok());
        let e = Cli::try_parse_from(argv.iter().chain(&["--no-test"])).unwrap_err();
        assert_eq!(e.kind(), clap::error::ErrorKind::ArgumentConflict);
        assert!(
            Cli::try_parse_from(["itlm-inspector", "run", "d", "--out", "o", "--no-test"]).is_ok()
        );
    }

    #[test]
    fn run_starts_from_the_protocol_it_is_given() {
        let parse = |a: &[&str]| run_args(a).expect("valid arguments").configs();
        // The defaults read tau from the data; `--tau` sets it.
        assert_eq!(
            parse(&[]),
            (Config::user_default(), LearnerConfig::default())
        );
        assert!(parse(&[]).0.tau_from_data);
        let (c, _) = parse(&["--tau", "0.6"]);
        assert_eq!((c.tau, c.tau_from_data), (0.6, false));
        let backdoor = (
            crate::presets::backdoor_protocol(),
            crate::presets::backdoor_learner(),
        );
        assert_eq!(parse(&["--protocol", "backdoor"]), backdoor);
        // An option given overrides the protocol's; the rest stay.
        let (c, l) = parse(&["--protocol", "backdoor", "--tau", "0.9", "--no-clusters"]);
        assert_eq!(
            (c.tau, c.clusters, c.restore, c.rounds),
            (0.9, false, true, 10)
        );
        assert_eq!(l, backdoor.1);
        assert!(run_args(&["--protocol", "x"]).is_none());
    }

    #[test]
    fn a_protocol_learner_is_kept_unless_overridden() {
        let base = LearnerConfig {
            optimizer: OptimizerKind::Sgd,
            lr: 0.01,
            ..Default::default()
        };
        let l = model_args(&[]).config_over(base.clone());
        assert_eq!((l.optimizer, l.lr), (OptimizerKind::Sgd, 0.01));
        let l = model_args(&["--lr", "0.03"]).config_over(base.clone());
        assert_eq!((l.optimizer, l.lr), (OptimizerKind::Sgd, 0.03));
        // Another optimizer than the protocol's: that optimizer's own default rate.
        let l = model_args(&["--optimizer", "adamw"]).config_over(base);
        assert_eq!((l.optimizer, l.lr), (OptimizerKind::Adamw, 1e-3));
        assert!(run_args(&["--optimizer", "adam"]).is_none());
    }
}
