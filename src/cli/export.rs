//! `itlm-inspector export`: re-cut a saved run (another round, tau or rule) and write its
//! outputs and/or a clean copy, without training.

use std::path::PathBuf;

use clap::Args;

use crate::error::{Error, Result};
use crate::export::{self, ecosystem, Overwrite, RunFile};
use crate::itlm::Selection;
use crate::session::{self, CutRequest};

#[derive(Args, Debug, Clone)]
pub struct ExportArgs {
    /// A run file written by `run` or the window (run.itlm).
    pub run: PathBuf,
    /// Folder for run.itlm, samples.csv, clean.txt, flagged.txt and health.csv with the new cut.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Round whose losses make the cut [default: the round the run was saved at (the window's
    /// shown round), else the last].
    #[arg(long)]
    pub round: Option<usize>,
    /// Fraction kept [default: the tau the run was saved at, for that round; else the round's
    /// own tau].
    #[arg(long)]
    pub tau: Option<f64>,
    /// Selection rule [default: the run's].
    #[arg(long, value_enum)]
    pub select: Option<Selection>,
    /// Write the kept samples as a new image folder (see `run --clean-copy`).
    #[arg(long)]
    pub clean_copy: Option<PathBuf>,
    /// Write cleanlab's issues table (path,is_label_issue,label_score,given_label,
    /// predicted_label per sample, in dataset order) to this CSV file.
    #[arg(long)]
    pub cleanlab: Option<PathBuf>,
    /// Write each sample's class probabilities (path and one column per class, in dataset
    /// order: cleanlab's pred_probs) at the verdict's round (or --round) to this CSV file;
    /// in-sample for the samples the round's model trained on (said when so), out-of-fold
    /// for the rounds between round 0 and the final one of a run with `--folds K`.
    #[arg(long)]
    pub pred_probs: Option<PathBuf>,
    /// Write a FiftyOne image-classification dataset (data/ linked to the originals,
    /// labels.json, tags.json and load_fiftyone.py) into this new folder.
    #[arg(long)]
    pub fiftyone: Option<PathBuf>,
    /// Your decisions (decisions.csv) [default: the decisions.csv beside the run, when there is
    /// one]: --out gets labels.csv (the corrected labels) and a copy of them (decisions.csv),
    /// its clean.txt and flagged.txt follow them, the clean copy follows them
    /// (relabelled samples under their new class, excluded ones left out, kept ones in), and
    /// --cleanlab / --fiftyone mark them.
    #[arg(long)]
    pub decisions: Option<PathBuf>,
    /// Check the run's images (CleanVision's dark, light, blurry, low information, odd aspect
    /// ratio, odd size, grey, exact and near duplicates; see `check`) and add them to
    /// --cleanlab (is_<check>_issue,<check>_score columns, as Datalab's get_issues() has them)
    /// and --fiftyone (a tag per issue found). Needs the run's dataset where the run read it.
    #[arg(long)]
    pub image_checks: bool,
    /// In the clean copy, put the samples still flagged (trimmed, no decision) under
    /// `_flagged/<class>/` instead of leaving them out.
    #[arg(long, requires = "clean_copy")]
    pub flagged_folder: bool,
    /// Replace existing output files in --out (and the --cleanlab file).
    #[arg(long)]
    pub force: bool,
}

/// `itlm-inspector export`.
pub fn export_command(a: &ExportArgs) -> Result<()> {
    if a.out.is_none()
        && a.clean_copy.is_none()
        && a.cleanlab.is_none()
        && a.pred_probs.is_none()
        && a.fiftyone.is_none()
    {
        return Err(Error::Config(
            "nothing to do: give --out DIR, --clean-copy DIR, --cleanlab FILE, --pred-probs FILE and/or --fiftyone DIR"
                .into(),
        ));
    }
    if a.image_checks && a.cleanlab.is_none() && a.fiftyone.is_none() {
        return Err(Error::Config(
            "--image-checks adds the image checks to --cleanlab and --fiftyone: give one of them (`itlm-inspector check DATA --out FILE` writes the checks' own table)"
                .into(),
        ));
    }
    let mut run = RunFile::read(&a.run)?;
    if let Some(w) = session::reopen::set_warning(&a.run) {
        eprintln!("warning: {w}");
    }
    if let Some(n) = session::reopen::status_note(&run, &a.run) {
        eprintln!("note: {n}");
    }
    if run.rounds.is_empty() {
        return Err(Error::data(&a.run, "holds no finished round"));
    }
    // The decisions given, or those beside the run; nothing is written when they are refused.
    let journal_path = super::report::decisions_path(&a.run, a.decisions.as_deref());
    let decisions = super::report::run_decisions(&a.run, &run, a.decisions.as_deref())?;
    let cut = session::recut(
        &mut run,
        CutRequest {
            round: a.round,
            tau: a.tau,
            select: a.select,
        },
        decisions.as_ref().map(|d| d.pins()).as_ref(),
    )?;
    eprintln!("{cut}");
    // The label health of the cut exported (health.csv in --out).
    for line in export::health::health_lines(&run, &export::health::of_run(&run)?) {
        eprintln!("{line}");
    }
    // Every destination is checked before anything is written.
    let owned = run.dataset.sources();
    let sources: Vec<&crate::data::Source> = owned.iter().collect();
    export::check_outputs(a.out.as_deref(), a.clean_copy.as_deref(), &sources, a.force)?;
    let overwrite_table = if a.force {
        Overwrite::Allow
    } else {
        Overwrite::Refuse
    };
    for p in [&a.cleanlab, &a.pred_probs].into_iter().flatten() {
        export::check_outside_datasets(p, sources.iter().copied())?;
        if !a.force && p.exists() {
            return Err(Error::data(p, "already exists; pass --force to replace it"));
        }
    }
    if let Some(p) = &a.fiftyone {
        export::check_outside_datasets(p, sources.iter().copied())?;
        export::paths::check_new_folder(p)?;
    }
    // The run's images, reloaded before anything is written: FiftyOne needs the pixels of IDX
    // and CIFAR sets (written as PNGs), the image checks everyone's.
    // (Files are linked where the set has them, as write_fiftyone decides.)
    let pixels_needed = run.dataset.source.files_root().is_none();
    let images = (a.image_checks || (a.fiftyone.is_some() && pixels_needed))
        .then(|| super::report::run_images(&a.run))
        .flatten();
    let checks = match (a.image_checks, &images) {
        (false, _) => None,
        (true, Some(images)) => {
            let c = crate::data::quality::ImageIssues::find(images);
            eprintln!(
                "image checks: {} of {} images{}",
                c.any(),
                c.len(),
                if c.any() > 0 {
                    format!(" ({})", c.summary())
                } else {
                    String::new()
                }
            );
            Some(c)
        }
        (true, None) => return Err(Error::Config(
            "--image-checks needs the run's images, which could not be loaded (see the note above)"
                .into(),
        )),
    };
    if let Some(out) = &a.out {
        let overwrite = if a.force {
            Overwrite::Allow
        } else {
            Overwrite::Refuse
        };
        // With decisions, labels.csv and a copy of the journal join the set (the copy is
        // left out when the journal is that very file: `export RUN --out` beside it).
        let journal = match (&decisions, &journal_path) {
            (Some(_), Some(src)) => export::journal_copy(src, Some(out))?,
            _ => None,
        };
        if decisions.is_some() {
            export::check_decision_outputs(out, journal.is_some(), a.force)?;
        }
        let files = match &decisions {
            Some(d) => export::write_all_with_labels(out, &run, overwrite, d, journal.as_deref())?,
            None => export::write_all(out, &run, overwrite)?,
        };
        for f in files {
            eprintln!("wrote {}", f.display());
        }
    }
    if let Some(dst) = &a.clean_copy {
        let plan = export::clean_copy::placements(&run, decisions.as_ref(), a.flagged_folder)?;
        let mut report = export::clean_copy::clean_copy_of(&run, dst, &plan)?;
        // The run read its images before it wrote its file: a file modified after that is
        // not the image it judged.
        if let Some(t) = std::fs::metadata(&a.run)
            .ok()
            .and_then(|m| m.modified().ok())
        {
            report.note_changed(&run, &plan, t);
        }
        eprintln!("{report}");
    }
    if let Some(p) = &a.cleanlab {
        ecosystem::write_label_issues(
            p,
            &run,
            None,
            decisions.as_ref(),
            checks.as_ref(),
            overwrite_table,
        )?;
        eprintln!("wrote {}", p.display());
    }
    if let Some(p) = &a.pred_probs {
        ecosystem::write_pred_probs(p, &run, None, overwrite_table)?;
        eprintln!("wrote {}", p.display());
        // cleanlab reads them as out-of-fold: say when they are not.
        if let Some((round, trained_on, oof)) = ecosystem::pred_probs_in_sample(&run, None)? {
            let how = match (oof.first(), oof.last()) {
                (Some(a), Some(b)) if a == b => format!("round {a} of this run is (--round {a})"),
                (Some(a), Some(b)) => {
                    format!("rounds {a} to {b} of this run are (--round {a} gives round {a}'s)")
                }
                _ => "the early rounds of a run with --folds K are (then --round 1)".into(),
            };
            eprintln!(
                "note: these are round {round}'s in-sample probabilities: its model trained on {trained_on} of the {} samples; cleanlab's find_label_issues asks for out-of-fold ones, which {how}",
                run.dataset.len()
            );
        }
    }
    if let Some(dst) = &a.fiftyone {
        let r = ecosystem::write_fiftyone(
            &run,
            None,
            decisions.as_ref(),
            images.as_deref(),
            checks.as_ref(),
            dst,
        )?;
        eprintln!("{r}");
    }
    Ok(())
}
