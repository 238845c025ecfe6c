//! The headless face: argument definitions and the `run` command (the window reuses the same
//! engine through the worker).

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use clap::{Args, Parser, Subcommand};
use serde_json::json;

use crate::data::{self, Dataset, LoadOptions};
use crate::error::{Error, Result};
use crate::export::{self, DatasetInfo, Overwrite, RunFile, TruthInfo};
use crate::itlm::{self, Config, Event, LossAggregate, Phase, RoundRecord, Selection, TauSchedule};
use crate::learner::{self, DeviceChoice, LearnerConfig, LrSchedule, ModelKind, OptimizerKind};

#[derive(Parser, Debug)]
#[command(
    name = "itlm-inspector",
    version,
    about = "Find bad training samples with Iterative Trimmed Loss Minimization"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
    /// Dataset to open in the window (default: the embedded demo set).
    pub path: Option<PathBuf>,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Open the window (the default).
    Gui { path: Option<PathBuf> },
    /// Run ITLM headless and write the run file, samples.csv, clean.txt and flagged.txt.
    Run(Box<RunArgs>),
    /// Re-cut a saved run (another round or tau) and write its outputs and/or a clean copy.
    Export(ExportArgs),
    /// Write a corrupted copy of a dataset (label noise, backdoor, spurious) with its truth.csv.
    Corrupt(Box<crate::data::corrupt::CorruptArgs>),
    /// Write the demo data set (procedurally drawn shapes with known bad samples).
    GenDemo(crate::data::demo::GenDemoArgs),
    /// Print the performance figures: training / scoring rates, an ITLM round, load rate,
    /// re-trim time, peak memory.
    Bench(crate::bench::BenchArgs),
    /// Measure the paper's settings on real data: noisy labels, backdoors, spurious images.
    Reproduce(Box<crate::reproduce::ReproduceArgs>),
}

#[derive(Args, Debug, Clone)]
pub struct RunArgs {
    /// Image folder (class subfolders), IDX directory (MNIST / Fashion-MNIST) or CIFAR-10 directory.
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
    pub itlm: ItlmArgs,
    #[command(flatten)]
    pub model: ModelArgs,
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
    /// Print one final JSON line with per-round metrics.
    #[arg(long)]
    pub json: bool,
    /// No progress bar.
    #[arg(long, short)]
    pub quiet: bool,
}

#[derive(Args, Debug, Clone)]
pub struct ItlmArgs {
    /// Fraction of samples kept, in (0, 1]; 1.0 is the naive baseline [default: 0.7; in
    /// `reproduce`: 1 - the noise rate; `reproduce backdoor`: 0.95].
    #[arg(long)]
    pub tau: Option<f64>,
    /// Trim-and-retrain rounds after round 0 [default: 4; `reproduce backdoor`: 10].
    #[arg(long)]
    pub rounds: Option<usize>,
    /// Epochs of each early round [default: 5; `reproduce backdoor`: 1].
    #[arg(long)]
    pub epochs: Option<f64>,
    /// Epochs of the last round, the model that is reported [default: 15; `reproduce
    /// backdoor`: 9].
    #[arg(long)]
    pub final_epochs: Option<usize>,
    /// Length of round 0 in epochs if different, fractions allowed [default: as --epochs;
    /// `reproduce backdoor`: 0.35].
    #[arg(long)]
    pub round0_epochs: Option<f64>,
    /// global: the paper's rule; per-class: keep the tau share of every given class
    /// [default: global].
    #[arg(long, value_enum)]
    pub select: Option<Selection>,
    /// constant tau, or linear from 1.0 down to tau over the rounds [default: constant].
    #[arg(long, value_enum)]
    pub schedule: Option<TauSchedule>,
    /// Cut on the last round's losses or on their mean over rounds.
    #[arg(long, value_enum, default_value_t = Config::default().aggregate)]
    pub aggregate: LossAggregate,
    /// Keep training the same model between rounds instead of re-initialising it.
    #[arg(long)]
    pub warm_start: bool,
    /// Score early rounds out of fold with K models (1 = off): no sample is scored by a model
    /// that trained on it [default: 1].
    #[arg(long)]
    pub folds: Option<usize>,
    /// Round 0 as an ensemble of K models (other seeds) whose losses are averaged: steadies a
    /// very short round 0 [default: 1 = off; `reproduce backdoor`: 5].
    #[arg(long)]
    pub round0_models: Option<usize>,
    /// After the last round, give back the trimmed samples of every class whose trimmed
    /// samples show no one-sided confusion (a relabelling attack or a systematic flip fills
    /// one cell "given b, predicted a" and hardly its mirror), and train the final model once
    /// more on that set: recovers the hard clean samples a cut takes. Not for random label
    /// noise (random flips fill cells both ways, so they would go back) [default: off;
    /// `reproduce backdoor`: on].
    #[arg(long, conflicts_with = "no_restore")]
    pub restore: bool,
    /// Do not give trimmed samples back (the paper's ITLM; for `reproduce backdoor`).
    #[arg(long)]
    pub no_restore: bool,
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
}

impl ItlmArgs {
    /// The options given, the defaults for the rest.
    pub fn config(&self) -> Config {
        self.config_over(Config::default())
    }

    /// The options given, `base` for the rest (a command with its own protocol).
    pub fn config_over(&self, base: Config) -> Config {
        Config {
            tau: self.tau.unwrap_or(base.tau),
            rounds: self.rounds.unwrap_or(base.rounds),
            epochs: self.epochs.unwrap_or(base.epochs),
            round0_epochs: self.round0_epochs.or(base.round0_epochs),
            final_epochs: self.final_epochs.unwrap_or(base.final_epochs),
            select: self.select.unwrap_or(base.select),
            schedule: self.schedule.unwrap_or(base.schedule),
            aggregate: self.aggregate,
            reinit: !self.warm_start,
            folds: self.folds.unwrap_or(base.folds),
            round0_models: self.round0_models.unwrap_or(base.round0_models),
            seed: self.seed,
            restore: (base.restore || self.restore) && !self.no_restore,
        }
    }
}

/// What the model learns.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum Mode {
    /// Classifier on labelled data (noisy labels, backdoors).
    #[default]
    Classify,
    /// VAE on unlabelled data (spurious images mixed in); labels are ignored.
    Generative,
}

#[derive(Args, Debug, Clone)]
pub struct ModelArgs {
    /// classify (CNN/MLP on labels) or generative (VAE, labels ignored).
    #[arg(long, value_enum, default_value_t = Mode::Classify)]
    pub mode: Mode,
    /// Classifier model (generative mode always uses the VAE).
    #[arg(long, value_enum, default_value_t = ModelKind::Cnn)]
    pub model: ModelKind,
    #[arg(long, default_value_t = LearnerConfig::default().batch_size)]
    pub batch_size: usize,
    /// Classifier optimizer: adamw, or sgd (momentum 0.9), which learns rare features such as
    /// a backdoor's watermark later than the classes [default: adamw; `reproduce backdoor`: sgd]
    #[arg(long, value_enum)]
    pub optimizer: Option<OptimizerKind>,
    /// Learning rate [default: 0.001 for adamw, 0.05 for sgd; `reproduce backdoor`: 0.02]
    #[arg(long)]
    pub lr: Option<f64>,
    /// Learning rate within each round's training: constant, or cosine annealing to 0
    /// [default: constant; `reproduce backdoor`: cosine]
    #[arg(long, value_enum)]
    pub lr_schedule: Option<LrSchedule>,
    #[arg(long, default_value_t = LearnerConfig::default().weight_decay)]
    pub weight_decay: f64,
    #[arg(long, value_enum, default_value_t = DeviceChoice::Cpu)]
    pub device: DeviceChoice,
}

impl ModelArgs {
    pub fn config(&self) -> LearnerConfig {
        self.config_over(LearnerConfig::default())
    }

    /// The options given, `base` for the optimizer and learning rate when not given (a command
    /// with its own protocol). Another optimizer than `base`'s gets its own default rate.
    pub fn config_over(&self, base: LearnerConfig) -> LearnerConfig {
        let optimizer = self.optimizer.unwrap_or(base.optimizer);
        let lr = match self.lr {
            Some(lr) => lr,
            None if optimizer == base.optimizer => base.lr,
            None => optimizer.default_lr(),
        };
        LearnerConfig {
            model: match self.mode {
                Mode::Generative => ModelKind::Vae,
                Mode::Classify => self.model,
            },
            batch_size: self.batch_size,
            lr,
            weight_decay: self.weight_decay,
            device: self.device,
            optimizer,
            lr_schedule: self.lr_schedule.unwrap_or(base.lr_schedule),
            ..base
        }
    }
}

/// Training data, test sets and truth as a run needs them.
pub struct Prepared {
    pub train: Dataset,
    pub test: Option<Dataset>,
    pub test2: Option<Dataset>,
    /// Where test-2 came from: `--test2`, or `<DATA>-test2` found beside the set.
    pub test2_path: Option<PathBuf>,
    pub truth: Option<TruthInfo>,
    pub notes: Vec<String>,
}

/// Load everything a run names, aligning test classes and image sizes to the training set.
pub fn prepare(
    data_path: &Path,
    test: Option<&Path>,
    no_test: bool,
    test2: Option<&Path>,
    truth: Option<&Path>,
    limit: Option<usize>,
    seed: u64,
) -> Result<Prepared> {
    let opts = LoadOptions::default();
    let loaded = data::load(data_path, &opts)?;
    let mut notes = Vec::new();
    let mut train = loaded.train;
    if train.is_empty() {
        return Err(Error::data(data_path, "no images found"));
    }
    if !train.skipped.is_empty() {
        notes.push(format!("{} files skipped:", train.skipped.len()));
        for s in train.skipped.iter().take(10) {
            notes.push(format!("  {}: {}", s.path.display(), s.reason));
        }
    }
    // Truth is matched against the whole set first, so that its warnings are about the file,
    // not about the samples a --limit left out.
    let truth_path = truth
        .map(Path::to_path_buf)
        .or_else(|| data::default_truth_path(data_path));
    let mut truth = match &truth_path {
        Some(p) => {
            let r = data::truth::load_for(p, &train)?;
            if let Some(w) = r.warnings() {
                notes.push(format!("truth {}: {w}", p.display()));
            }
            Some(r.info)
        }
        None => None,
    };
    if let Some(l) = limit {
        if l == 0 {
            return Err(Error::Config("--limit must be at least 1".into()));
        }
        if l < train.len() {
            train = train.limit(l, seed);
            if let Some(p) = &truth_path {
                truth = Some(data::truth::resolve(&data::truth::read(p)?, &train).info);
            }
        }
    }
    let mut conform = |mut d: Dataset, train: &Dataset| -> Result<Dataset> {
        if let Some(note) = fashion_idx_classes(&mut d, &train.classes) {
            notes.push(note);
        }
        d.align_classes(&train.classes)?;
        d.conform_to(train.shape);
        Ok(d)
    };
    let test = match (test, no_test) {
        (Some(p), _) => Some(conform(data::load_test(p, &opts)?, &train)?),
        (None, false) => loaded.test.map(|t| conform(t, &train)).transpose()?,
        (None, true) => None,
    };
    let mut load2 = |p: &Path| -> Result<Dataset> { conform(data::load(p, &opts)?.train, &train) };
    // Notes of the test-2 found beside the set (conform holds `notes` until then).
    let mut beside = Vec::new();
    let (test2, test2_path) = match test2 {
        Some(p) => (Some(load2(p)?), Some(p.to_path_buf())),
        // The folder `corrupt --noise backdoor` writes beside the set, when it is there and
        // fits; one that does not is noted, not fatal (it was not asked for).
        None => match data::default_test2_path(data_path) {
            Some(p) => match load2(&p) {
                Ok(d) => {
                    beside.push(format!(
                        "test-2: {} (found beside the set; --test2 names another)",
                        p.display()
                    ));
                    (Some(d), Some(p))
                }
                Err(e) => {
                    beside.push(format!("test-2 beside the set not used: {e}"));
                    (None, None)
                }
            },
            None => (None, None),
        },
    };
    notes.extend(beside);
    Ok(Prepared {
        train,
        test,
        test2,
        test2_path,
        truth,
        notes,
    })
}

/// An IDX set whose classes got the default names `0..9` (its folder name did not say
/// Fashion-MNIST, e.g. a copy named otherwise) beside a training set whose classes are
/// Fashion-MNIST's (in any order, e.g. a corrupted copy's sorted folders): it is Fashion-MNIST,
/// so its labels get those names, in Fashion-MNIST's order, and are then aligned by name.
/// Returns the note that says so; changes nothing otherwise.
fn fashion_idx_classes(d: &mut Dataset, train_classes: &[String]) -> Option<String> {
    use crate::data::idx::FASHION_CLASSES;
    let digits = (0..d.classes.len()).all(|c| d.classes[c] == c.to_string());
    let fashion_train = train_classes.len() == FASHION_CLASSES.len()
        && FASHION_CLASSES
            .iter()
            .all(|f| train_classes.iter().any(|c| c == f));
    if !matches!(d.source, crate::data::Source::Idx { .. })
        || !digits
        || d.classes.len() != FASHION_CLASSES.len()
        || !fashion_train
    {
        return None;
    }
    d.classes = FASHION_CLASSES.iter().map(|c| c.to_string()).collect();
    Some(format!(
        "{}: IDX labels 0..9 read as Fashion-MNIST's classes, as the training set's are",
        d.name
    ))
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
        "suggested_tau": m.suggestion.map(|s| s.tau),
        "train_secs": r.train_secs,
        "score_secs": r.score_secs,
    })
}

/// `itlm-inspector run`.
pub fn run_command(a: &RunArgs) -> Result<()> {
    let config = a.itlm.config();
    config.validate()?;
    let lcfg = a.model.config();
    lcfg.validate()?;
    let p = prepare(
        &a.data,
        a.test.as_deref(),
        a.no_test,
        a.test2.as_deref(),
        a.truth.as_deref(),
        a.limit,
        config.seed,
    )?;
    // Refuse a bad output folder before spending time on training.
    check_out(a, &p)?;
    for n in &p.notes {
        eprintln!("{n}");
    }
    let mut learner = learner::build(&lcfg, &p.train)?;
    if !a.quiet {
        eprintln!(
            "{}: {} | {} | tau {} {} {}, {} rounds x {} epochs, final {}{}",
            p.train.name,
            p.train.summary(),
            learner.describe(),
            config.tau,
            config.select,
            match config.schedule {
                TauSchedule::Constant => "constant",
                TauSchedule::Linear => "linear schedule",
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
        return oracle(a, &p, learner.as_mut(), &config);
    }
    run_and_export(a, &p, learner.as_mut(), &config, &lcfg)
}

/// Refuse, before any training, an output folder inside a dataset folder (training, test or
/// test-2 set), an output path that is not a folder, and (without --force) existing outputs.
pub fn check_out(a: &RunArgs, p: &Prepared) -> Result<()> {
    let sources: Vec<&crate::data::Source> = [Some(&p.train), p.test.as_ref(), p.test2.as_ref()]
        .into_iter()
        .flatten()
        .map(|d| &d.source)
        .collect();
    check_outputs(a.out.as_deref(), a.clean_copy.as_deref(), &sources, a.force)
}

/// What `run` and `export` check before writing anything: `out` and `clean_copy` are outside
/// every dataset folder in `sources` and can be created as folders, the clean copy is a new or
/// empty folder that does not hold `out`, and (without `force`) no output in `out` exists.
pub fn check_outputs(
    out: Option<&Path>,
    clean_copy: Option<&Path>,
    sources: &[&crate::data::Source],
    force: bool,
) -> Result<()> {
    if let Some(o) = out.filter(|o| o.exists() && !o.is_dir()) {
        return Err(Error::data(o, "--out must be a folder, not a file"));
    }
    for dst in out.iter().chain(clean_copy.iter()) {
        export::check_outside_datasets(dst, sources.iter().copied())?;
        crate::outputs::check_folder_path(dst)?;
    }
    if let Some(c) = clean_copy {
        crate::outputs::check_new_folder(c)?;
        if let Some(o) = out.filter(|o| crate::outputs::is_inside(o, c)) {
            return Err(Error::data(
                c,
                format!(
                    "--clean-copy would hold the --out folder {}: give the clean copy a new \
                     folder of its own",
                    o.display()
                ),
            ));
        }
    }
    if let (Some(out), false) = (out, force) {
        for f in [
            export::RUN_FILE,
            export::SAMPLES_CSV,
            export::CLEAN_TXT,
            export::FLAGGED_TXT,
        ] {
            let path = out.join(f);
            if path.exists() {
                return Err(Error::data(
                    path,
                    "already exists; pass --force to replace it",
                ));
            }
        }
    }
    Ok(())
}

/// Run ITLM with `learner` on prepared data and write the outputs into `a.out`. When the run
/// fails (e.g. training diverges) after at least one round, the finished rounds are still
/// written (status "failed: ...") and the run's error is returned.
pub fn run_and_export(
    a: &RunArgs,
    p: &Prepared,
    learner: &mut dyn itlm::Learner,
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
    let started = Instant::now();
    let bar = progress_bar(a.quiet || a.json);
    let mut history: Vec<Arc<RoundRecord>> = Vec::new();
    let mut observer = |e: &Event| -> Result<()> {
        match e {
            Event::RoundStarted {
                round,
                rounds,
                trained_on,
                epochs,
            } => {
                bar.set_position(0);
                bar.set_prefix(format!("round {round}/{rounds}"));
                bar.set_message(format!("training {epochs} epochs on {trained_on}"));
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
                bar.suspend(|| eprintln!("{}", round_line(r)));
            }
        }
        Ok(())
    };
    let eval = itlm::Eval {
        test: p.test.as_ref(),
        test2: p.test2.as_ref(),
    };
    let result = itlm::run(
        learner,
        &p.train,
        eval,
        p.truth.as_ref().map(|t| t.bad.as_slice()),
        config,
        itlm::Start::Fresh,
        &mut history,
        &mut observer,
    );
    bar.finish_and_clear();
    let status = match &result {
        Ok(()) => "finished".to_string(),
        Err(e) => format!("failed: {e}"),
    };
    if history.is_empty() {
        return result;
    }
    let run = RunFile {
        config: config.clone(),
        learner: lcfg.clone(),
        learner_description: learner.describe(),
        dataset: DatasetInfo::of(&p.train).with_eval(p.test.iter().chain(&p.test2)),
        truth: p.truth.clone(),
        rounds: history.clone(),
        status,
        verdict: None,
        elapsed_secs: started.elapsed().as_secs_f64(),
    };
    let files = match (export::write_all(out, &run, overwrite), &result) {
        (Ok(files), _) => files,
        (Err(w), Ok(())) => return Err(w),
        (Err(w), Err(e)) => {
            return Err(Error::Other(format!(
                "{e}; the {} finished rounds could not be saved either: {w}",
                history.len()
            )))
        }
    };
    if let (Some(dst), Ok(())) = (&a.clean_copy, &result) {
        let r = crate::clean_copy::clean_copy(&run, dst)?;
        if !a.quiet {
            eprintln!("{r}");
        }
    }
    if !a.quiet {
        for f in &files {
            eprintln!("wrote {}", f.display());
        }
        if result.is_err() {
            eprintln!(
                "the {} rounds finished before the failure are in {}",
                history.len(),
                out.display()
            );
        }
    }
    if a.json {
        let last = history
            .last()
            .map(|r| r.metrics.clone())
            .unwrap_or_default();
        println!(
            "{}",
            json!({
                "status": run.status,
                "n": p.train.len(),
                "config": config,
                "model": lcfg.model.to_string(),
                "rounds": history.iter().map(|r| round_json(r)).collect::<Vec<_>>(),
                "final_test_acc": last.test_acc,
                "final_test2_acc": last.test2_acc,
                "final_trim": last.trim,
                "elapsed_secs": run.elapsed_secs,
            })
        );
    }
    result
}

fn round_line(r: &RoundRecord) -> String {
    let m = &r.metrics;
    let mut s = format!(
        "round {}: trained on {} ({} ep, {:.1}s)  kept {} trimmed {}",
        r.round, r.trained_on, r.epochs, r.train_secs, m.kept, m.trimmed
    );
    if let Some(a) = m.train_acc {
        s.push_str(&format!("  train acc {:.2}%", a * 100.0));
    }
    if let Some(a) = m.test_acc {
        s.push_str(&format!("  test acc {:.2}%", a * 100.0));
    }
    if let Some(a) = m.test2_acc {
        s.push_str(&format!("  test-2 {:.2}%", a * 100.0));
    }
    if let Some(t) = m.trim {
        s.push_str(&format!(
            "  trim precision {:.3} recall {:.3}",
            t.precision, t.recall
        ));
    }
    if r.round == 0 {
        if let Some(h) = m.suggestion {
            s.push_str(&format!("  (loss mixture suggests tau {:.2})", h.tau));
        }
    }
    s
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

/// Train on the truly clean samples only: the ceiling ITLM can reach.
fn oracle(
    a: &RunArgs,
    p: &Prepared,
    learner: &mut dyn itlm::Learner,
    config: &Config,
) -> Result<()> {
    let truth = p.truth.as_ref().ok_or_else(|| {
        Error::Config("--oracle needs ground truth (--truth or DATA/truth.csv)".into())
    })?;
    let clean: Vec<usize> = (0..p.train.len()).filter(|&i| !truth.bad[i]).collect();
    let t0 = Instant::now();
    learner.reset(crate::rng::Rng::derive(config.seed, 0).next_u64())?;
    learner.train(
        &p.train,
        &clean,
        config.final_epochs as f64,
        config.seed,
        &mut |_| Ok(()),
    )?;
    let mut acc = |d: Option<&Dataset>| -> Result<Option<f64>> {
        let Some(d) = d else { return Ok(None) };
        let idx: Vec<usize> = (0..d.len()).collect();
        let s = learner.score(d, &idx, &mut |_| Ok(()))?;
        Ok(itlm::metrics::accuracy(
            &s.predicted,
            d.labels(),
            0..d.len(),
        ))
    };
    let test_acc = acc(p.test.as_ref())?;
    let test2_acc = acc(p.test2.as_ref())?;
    let line = json!({
        "status": "finished",
        "oracle": true,
        "n": p.train.len(),
        "trained_on": clean.len(),
        "epochs": config.final_epochs,
        "final_test_acc": test_acc,
        "final_test2_acc": test2_acc,
        "elapsed_secs": t0.elapsed().as_secs_f64(),
    });
    if a.json {
        println!("{line}");
    } else {
        eprintln!("{}", oracle_line(clean.len(), test_acc, test2_acc));
    }
    Ok(())
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

#[derive(Args, Debug, Clone)]
pub struct ExportArgs {
    /// A run file written by `run` or the window (run.itlm).
    pub run: PathBuf,
    /// Folder for run.itlm, samples.csv, clean.txt, flagged.txt with the new cut.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Round whose losses make the cut [default: the last].
    #[arg(long)]
    pub round: Option<usize>,
    /// Fraction kept [default: the round's own tau].
    #[arg(long)]
    pub tau: Option<f64>,
    /// Selection rule [default: the run's].
    #[arg(long, value_enum)]
    pub select: Option<Selection>,
    /// Write the kept samples as a new image folder (see `run --clean-copy`).
    #[arg(long)]
    pub clean_copy: Option<PathBuf>,
    /// Replace existing output files in --out.
    #[arg(long)]
    pub force: bool,
}

/// `itlm-inspector export`.
pub fn export_command(a: &ExportArgs) -> Result<()> {
    if a.out.is_none() && a.clean_copy.is_none() {
        return Err(Error::Config(
            "nothing to do: give --out DIR and/or --clean-copy DIR".into(),
        ));
    }
    let mut run = RunFile::read(&a.run)?;
    let last = run
        .rounds
        .last()
        .ok_or_else(|| Error::data(&a.run, "holds no finished round"))?;
    let round = a.round.unwrap_or(last.round);
    let r = run
        .rounds
        .iter()
        .find(|r| r.round == round)
        .ok_or_else(|| {
            Error::Config(format!(
                "round {round} is not in the run (rounds 0..={})",
                last.round
            ))
        })?
        .clone();
    let tau = a.tau.unwrap_or(r.tau);
    if !(tau > 0.0 && tau <= 1.0) {
        return Err(Error::Config(format!("tau must be in (0, 1], got {tau}")));
    }
    let rule = a.select.unwrap_or(run.config.select);
    let d = &run.dataset;
    // A round that restored (`--restore`) re-cuts with its restore, as the window does.
    let kept = itlm::select::select_round(
        rule,
        &r.score,
        &d.labels,
        &r.predicted,
        d.classes.len(),
        tau,
        run.config.restores_at(round),
    );
    let flagged = kept.iter().filter(|&&k| !k).count();
    eprint!(
        "round {round}, tau {tau} ({rule}): {} kept, {flagged} flagged",
        kept.len() - flagged
    );
    if let Some(t) = &run.truth {
        let q = itlm::TrimQuality::measure(&kept, &t.bad);
        eprint!(
            "; vs truth: precision {:.3} recall {:.3}",
            q.precision, q.recall
        );
    }
    eprintln!();
    run.verdict = Some(export::Verdict { round, tau, kept });
    // Every destination is checked before anything is written.
    let sources: Vec<&crate::data::Source> = run.dataset.sources().collect();
    check_outputs(a.out.as_deref(), a.clean_copy.as_deref(), &sources, a.force)?;
    if let Some(out) = &a.out {
        let overwrite = if a.force {
            Overwrite::Allow
        } else {
            Overwrite::Refuse
        };
        for f in export::write_all(out, &run, overwrite)? {
            eprintln!("wrote {}", f.display());
        }
    }
    if let Some(dst) = &a.clean_copy {
        eprintln!("{}", crate::clean_copy::clean_copy(&run, dst)?);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    fn model_args(extra: &[&str]) -> ModelArgs {
        let mut argv = vec!["itlm-inspector", "run", "data", "--out", "o"];
        argv.extend_from_slice(extra);
        match Cli::try_parse_from(argv).map(|c| c.command) {
            Ok(Some(Command::Run(r))) => r.model,
            other => panic!("{other:?}"),
        }
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
        assert!(Cli::try_parse_from([
            "itlm-inspector",
            "run",
            "d",
            "--out",
            "o",
            "--optimizer",
            "adam"
        ])
        .is_err());
    }
}
