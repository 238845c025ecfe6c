//! `itlm-inspector report`: one self-contained HTML file of a saved run (histograms with the
//! cut, metrics, confusion of the flagged samples, the top flagged thumbnails, the decisions,
//! the config). Also the helpers `export` shares: the run's images and its decisions file.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use clap::Args;

use crate::data::Dataset;
use crate::error::Result;
use crate::export::report::{write_report, ReportInput, DEFAULT_TOP};
use crate::export::{Overwrite, RunFile};
use crate::session::decisions::DECISIONS_CSV;
use crate::session::{self, Decisions, EvalInputs, Journal};

#[derive(Args, Debug, Clone)]
pub struct ReportArgs {
    /// A run file written by `run` or the window (run.itlm).
    pub run: PathBuf,
    /// The HTML file to write.
    #[arg(long)]
    pub out: PathBuf,
    /// A decisions journal (decisions.csv) to summarise and badge [default: the decisions.csv
    /// beside the run, when there is one].
    #[arg(long)]
    pub decisions: Option<PathBuf>,
    /// Round whose cut is shown [default: the exported cut, the last round's unless re-cut].
    #[arg(long)]
    pub round: Option<usize>,
    /// Flagged samples shown with their thumbnails, highest loss first.
    #[arg(long, default_value_t = DEFAULT_TOP)]
    pub top: usize,
    /// Replace an existing report.
    #[arg(long)]
    pub force: bool,
}

/// The run's samples with their pixels in the run's order, reloaded from its dataset; None
/// (and a note on stderr saying why) when the dataset is gone or no longer matches.
pub fn run_images(run_path: &Path) -> Option<Arc<Dataset>> {
    let eval = EvalInputs {
        no_test: true,
        ..Default::default()
    };
    match session::reopen::load(run_path, &eval) {
        Ok(l) => match l.reopened.as_ref().and_then(|r| r.images_missing.clone()) {
            None => Some(l.train),
            Some(why) => {
                eprintln!("note: no images: {why}");
                None
            }
        },
        Err(e) => {
            eprintln!("note: no images: {e}");
            None
        }
    }
}

/// The journal to use: `given`, else the `decisions.csv` beside the run when it exists.
pub(super) fn decisions_path(run_path: &Path, given: Option<&Path>) -> Option<std::path::PathBuf> {
    given.map(Path::to_path_buf).or_else(|| {
        run_path
            .parent()
            .map(|p| p.join(DECISIONS_CSV))
            .filter(|p| p.is_file())
    })
}

/// The decisions to use: `given`, else the `decisions.csv` beside the run when it exists
/// (said on stderr); what replay could not apply is printed, not dropped silently.
pub fn run_decisions(
    run_path: &Path,
    run: &RunFile,
    given: Option<&Path>,
) -> Result<Option<Decisions>> {
    let Some(path) = decisions_path(run_path, given) else {
        return Ok(None);
    };
    if given.is_none() {
        eprintln!("using the decisions beside the run: {}", path.display());
    }
    let (decisions, replay) = Journal::read(&path, &run.dataset.ids, &run.dataset.classes)?;
    if replay.another_dataset() {
        return Err(crate::error::Error::data(
            &path,
            format!(
                "{} of the {} paths it names are not samples of this run: it looks like another dataset's decisions",
                replay.unknown_paths, replay.paths
            ),
        ));
    }
    eprintln!("{replay}");
    Ok(Some(decisions))
}

/// `itlm-inspector report`.
pub fn report_command(a: &ReportArgs) -> Result<()> {
    let run = RunFile::read(&a.run)?;
    if run.rounds.is_empty() {
        return Err(crate::error::Error::data(&a.run, "holds no finished round"));
    }
    let decisions = run_decisions(&a.run, &run, a.decisions.as_deref())?;
    let images = run_images(&a.run);
    let note = crate::session::reopen::status_note(&run, &a.run);
    let input = ReportInput {
        run: &run,
        round: a.round,
        decisions: decisions.as_ref(),
        images: images.as_deref(),
        top: a.top,
        status_note: note.as_deref(),
    };
    if let Some(n) = &note {
        eprintln!("note: {n}");
    }
    let overwrite = if a.force {
        Overwrite::Allow
    } else {
        Overwrite::Refuse
    };
    write_report(&a.out, &input, overwrite)?;
    eprintln!("wrote {}", a.out.display());
    Ok(())
}
