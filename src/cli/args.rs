//! The options `run` and `reproduce` share: ITLM's settings and the learner's, turned into
//! [`Config`] and [`LearnerConfig`] over a base (the defaults, or a command's protocol).

use clap::Args;

use crate::itlm::{Augment, CoTeach, Config, Forward, LossAggregate, Selection, TauSchedule};
use crate::learner::{DeviceChoice, LearnerConfig, LrSchedule, Mode, ModelKind, OptimizerKind};

#[derive(Args, Debug, Clone)]
pub struct ItlmArgs {
    /// Fraction of samples kept, in (0, 1]; 1.0 is the naive baseline [default for `run`:
    /// from the data, the share round 0's noise estimate leaves (1 - the share of labels
    /// round 0's model confidently contradicts; 0.7 for the generative mode and co-teaching);
    /// `reproduce`: 1 - the noise rate; `reproduce backdoor` and `--protocol backdoor`: 0.95].
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
    /// global: the paper's rule; per-class: keep the tau share of every given class;
    /// floored: global, and every given class keeps at least half its tau share (a rare
    /// class under heavy noise is not emptied) [default for `run`: floored; `reproduce` and
    /// `--protocol backdoor`: global].
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
    /// Before the final round, relabel each trimmed sample whose predicted class is the same
    /// under round 0's model, the previous round's and the last early round's, and under each
    /// at least as probable as its kept samples of that class are, on average, of their own
    /// label (cleanlab's per-class threshold);
    /// the final model trains on the kept and the relabelled samples. For systematic label
    /// noise; classifiers only; not with --restore [default: off].
    #[arg(long, conflicts_with = "restore")]
    pub relabel: bool,
    /// Before the final round, train a probe model on every sample for the final round's
    /// length, split each class's penultimate activations in two (activation clustering), and
    /// hold out of the final model the smaller cluster of a class when it is at most a quarter
    /// of the class, the early rounds trimmed its members at least 3 times as often as the
    /// rest, and the last model before the cut puts more of it in one other class than in its
    /// own (exclusionary reclassification): for backdoors whose stamped images look like
    /// their target class (Shirt -> T-shirt). The final model, trained without the held-out
    /// clusters, then judges them: the members it calls by that other class train under it in
    /// the final model trained again (the repair; the round records them as relabelled).
    /// Classifiers with a hidden layer; not with --relabel [default: off; `reproduce
    /// backdoor`: on]
    #[arg(long, conflicts_with_all = ["relabel", "no_clusters"])]
    pub clusters: bool,
    /// Do not make the clustering cut (for `reproduce backdoor`, whose protocol makes it).
    #[arg(long)]
    pub no_clusters: bool,
    /// Forward-correct the training loss for label noise: round 0 trains plainly on every
    /// sample; round 1 trains on every sample with the label-noise transition matrix
    /// (P(given label | true class)) that round 0's model implies (cleanlab's confident joint;
    /// when its flips are one-sided, each class keeps only its likeliest flip), so that
    /// flipped labels do not bend the model towards them; the final model trains on from
    /// round 1's with the matrix round 1's model implies, to --final-epochs in all (so
    /// --rounds counts at most 2 here). The cut still ranks samples by the plain loss (what is
    /// flagged) but no longer chooses what trains. `auto`: on when round 0's model sees
    /// one-sided flips (at least 5% of the labels flipped, most flips into their class's
    /// likeliest other class, as systematic noise leaves); when it sees many spread flips instead (at
    /// least 15% flipped: random noise), the run starts again as co-teaching (--coteach's
    /// defaults) at the tau round 0's noise estimate leaves, for the CNN and the MLP (not a
    /// head on embeddings) and unless --folds or --round0-models are set; plain ITLM
    /// otherwise. Classifiers only; `on` not
    /// with --restore, --relabel or --clusters (`auto` is off with them). `--transition`
    /// alone means `on` [default: auto; `reproduce`'s global and per-class: off]
    #[arg(long, value_enum, num_args = 0..=1, default_missing_value = "on", value_name = "MODE")]
    pub transition: Option<Forward>,
    /// Co-teaching instead of ITLM's rounds (Han et al. 2018): two models of the chosen kind
    /// train side by side for --coteach-epochs epochs without re-initialising; before each
    /// epoch each trains on the samples with the lowest loss under the *other*, a share that
    /// falls from everything to tau over the first --coteach-ramp epochs. Each round (an
    /// epoch) is scored as the pair (their class probabilities averaged), and so is the test
    /// set. For random label noise (README, Noisy labels: 60% random); classifiers only; not
    /// with --folds, --round0-models, --restore, --relabel, --clusters or --transition on;
    /// --rounds, --epochs, --final-epochs and --warm-start do not apply [default: off]
    #[arg(long, conflicts_with_all = ["restore", "relabel", "clusters"])]
    pub coteach: bool,
    /// Co-teaching's epochs (rounds) in all.
    #[arg(long, default_value_t = CoTeach::default().epochs, requires = "coteach")]
    pub coteach_epochs: usize,
    /// Epochs over which co-teaching's share falls from every sample to tau.
    #[arg(long, default_value_t = CoTeach::default().ramp, requires = "coteach")]
    pub coteach_ramp: usize,
    /// Co-teaching's pseudo-labels: after the ramp, each model also trains on the samples
    /// outside its share that its peer predicts with at least this probability (e.g. 0.95),
    /// under the peer's label; `off` for none. Only with tau at or above the clean share: a
    /// deeper cut pseudo-labels clean samples wrongly (README)
    #[arg(long, default_value_t = Pseudo(CoTeach::default().pseudo), value_parser = parse_pseudo, requires = "coteach")]
    pub coteach_pseudo: Pseudo,
    /// Co-teaching's label smoothing, in [0, 1): each model's training loss is the
    /// cross-entropy against the label weighted 1 - E plus the cross-entropy against every
    /// class evenly weighted E (scoring and the cut stay on the plain loss); 0 for plain
    /// cross-entropy. Measured at 60% random noise: +1.1 points on three seeds (README)
    #[arg(long, value_name = "E", default_value_t = CoTeach::default().smoothing, requires = "coteach")]
    pub coteach_smoothing: f64,
    /// Training-time augmentation of the CNN and MLP: `shift` moves each training image by up
    /// to 2 pixels each way every time it is drawn (`shift:N` up to N), `flip` mirrors it
    /// left-right at even odds (photos, clothes; not digits or text), `shift+flip` both, `off`
    /// none; scoring sees the images as they are; heads on embeddings ignore it. Measured
    /// with co-teaching at 60% random noise: +0.8 to 1.1 points at tau 0.4, but 3.4 points
    /// lost at tau 0.34 and 1.5 on 4000 images (README) [default: off]
    #[arg(long, value_name = "AUG")]
    pub augment: Option<Augment>,
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
            restore: (base.restore || self.restore) && !self.no_restore && !self.relabel,
            relabel: self.relabel,
            clusters: (base.clusters || self.clusters) && !self.no_clusters && !self.relabel,
            transition: self.transition.unwrap_or(base.transition),
            coteach: self.coteach.then_some(CoTeach {
                epochs: self.coteach_epochs,
                ramp: self.coteach_ramp,
                pseudo: self.coteach_pseudo.0,
                smoothing: self.coteach_smoothing,
            }),
            augment: self.augment.unwrap_or(base.augment),
            tau_from_data: self.tau.is_none() && base.tau_from_data,
        }
    }
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
    /// Learning rate within each round's training: constant, cosine annealing to 0, or
    /// constant with the weights averaged over the second half of the epochs (swa)
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

/// `--coteach-pseudo`'s value: a probability, or `off` (None).
#[derive(Clone, Copy, Debug)]
pub struct Pseudo(pub Option<f64>);

impl std::fmt::Display for Pseudo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.0 {
            Some(p) => write!(f, "{p}"),
            None => f.write_str("off"),
        }
    }
}

fn parse_pseudo(s: &str) -> std::result::Result<Pseudo, String> {
    if s.eq_ignore_ascii_case("off") {
        return Ok(Pseudo(None));
    }
    match s.parse::<f64>() {
        Ok(p) if p > 0.0 && p <= 1.0 => Ok(Pseudo(Some(p))),
        _ => Err(format!(
            "expected a probability in (0, 1] or `off`, got `{s}`"
        )),
    }
}

/// A labels CSV's path and label columns, where its header does not name them as expected.
#[derive(Args, Debug, Clone, Default)]
pub struct ColumnArgs {
    /// A labels CSV's image path column, where it is not named path, file, filename, image,
    /// image_id, id, ... (case-insensitive; a test CSV without it is read by those names).
    #[arg(long, value_name = "NAME")]
    pub path_column: Option<String>,
    /// A labels CSV's label column, where it is not named label, class, target, category, ...
    #[arg(long, value_name = "NAME")]
    pub label_column: Option<String>,
    /// The folder a labels CSV's image paths are relative to, where it is not the CSV's own
    /// (a Kaggle train.csv beside train_images/); a path without an extension (an id such as
    /// 0a1b2c) is its one image file named so (0a1b2c.jpg, .png, ...).
    #[arg(long, value_name = "DIR")]
    pub images: Option<std::path::PathBuf>,
}

impl ColumnArgs {
    pub fn columns(&self) -> crate::data::labels_csv::Columns {
        crate::data::labels_csv::Columns {
            path: self.path_column.clone(),
            label: self.label_column.clone(),
            images: self
                .images
                .as_ref()
                .map(|p| std::path::absolute(p).unwrap_or_else(|_| p.clone())),
        }
    }
}
