//! `itlm-inspector export`: re-cut a saved run (another round, tau or rule) and write its
//! outputs and/or a clean copy, without training.

use std::path::PathBuf;

use clap::Args;

use crate::error::{Error, Result};
use crate::export::{self, Overwrite, RunFile};
use crate::itlm::Selection;
use crate::session::{self, CutRequest};

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
    /// Your decisions (decisions.csv): writes labels.csv (the corrected labels) into --out, and
    /// the clean copy follows them (relabelled samples under their new class, excluded ones
    /// left out, kept ones in).
    #[arg(long)]
    pub decisions: Option<PathBuf>,
    /// In the clean copy, put the samples still flagged (trimmed, no decision) under
    /// `_flagged/<class>/` instead of leaving them out.
    #[arg(long, requires = "clean_copy")]
    pub flagged_folder: bool,
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
    if run.rounds.is_empty() {
        return Err(Error::data(&a.run, "holds no finished round"));
    }
    let cut = session::recut(
        &mut run,
        CutRequest {
            round: a.round,
            tau: a.tau,
            select: a.select,
        },
    )?;
    eprintln!("{cut}");
    let decisions = match &a.decisions {
        Some(path) => Some(read_decisions(path, &run)?),
        None => None,
    };
    // Every destination is checked before anything is written.
    let sources: Vec<&crate::data::Source> = run.dataset.sources().collect();
    export::check_outputs(a.out.as_deref(), a.clean_copy.as_deref(), &sources, a.force)?;
    if let Some(out) = &a.out {
        let overwrite = if a.force {
            Overwrite::Allow
        } else {
            Overwrite::Refuse
        };
        let labels = out.join(export::LABELS_CSV);
        if let (Some(_), false, true) = (&decisions, a.force, labels.exists()) {
            return Err(Error::data(
                labels,
                "already exists; pass --force to replace it",
            ));
        }
        for f in export::write_all(out, &run, overwrite)? {
            eprintln!("wrote {}", f.display());
        }
        if let Some(d) = &decisions {
            eprintln!(
                "wrote {}",
                export::write_labels(&labels, &run, d)?.display()
            );
        }
    }
    if let Some(dst) = &a.clean_copy {
        let plan = export::clean_copy::placements(&run, decisions.as_ref(), a.flagged_folder)?;
        eprintln!("{}", export::clean_copy::clean_copy_of(&run, dst, &plan)?);
    }
    Ok(())
}

/// Read a decisions file against the run's samples (nothing is written): what could not be
/// applied is printed; a file of another dataset is refused.
fn read_decisions(path: &std::path::Path, run: &RunFile) -> Result<crate::itlm::Decisions> {
    let (d, replay) =
        session::decisions::Journal::read(path, &run.dataset.ids, &run.dataset.classes)?;
    if replay.another_dataset() {
        return Err(Error::data(path, replay.to_string()));
    }
    eprintln!("{replay}");
    Ok(d)
}
