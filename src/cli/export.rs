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
    if let Some(w) = session::reopen::set_warning(&a.run) {
        eprintln!("warning: {w}");
    }
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
    // Every destination is checked before anything is written.
    let sources: Vec<&crate::data::Source> = run.dataset.sources().collect();
    export::check_outputs(a.out.as_deref(), a.clean_copy.as_deref(), &sources, a.force)?;
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
        eprintln!("{}", export::clean_copy::clean_copy(&run, dst)?);
    }
    Ok(())
}
