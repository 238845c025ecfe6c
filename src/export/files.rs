//! The outputs of a run and where they go: the file names, each output's bytes, writing one or
//! all of them (atomically, never inside a dataset folder), and the checks a command makes on
//! its output folders before any training.

use std::path::{Path, PathBuf};

use super::atomic::{write_atomic, Overwrite};
use super::lock::OutputLock;
use super::manifest::{self, recover, write_set};
use super::paths::{check_folder_path, check_new_folder, check_outside_datasets, is_inside};
use super::run_file::RunFile;
use super::tables::{clean_list, flagged_list, samples_csv};
use crate::data::Source;
use crate::error::{Error, Result};

/// Names of the files [`write_all`] writes.
pub const RUN_FILE: &str = "run.itlm";
pub const SAMPLES_CSV: &str = "samples.csv";
pub const CLEAN_TXT: &str = "clean.txt";
pub const FLAGGED_TXT: &str = "flagged.txt";
/// The corrected labels, written beside the others when there are decisions ([`write_labels`]).
pub const LABELS_CSV: &str = "labels.csv";
/// The decisions journal beside a run (`session::decisions` reads and writes it); an output
/// set with decisions carries a copy, so that the exported run reopens with them.
pub const DECISIONS_CSV: &str = "decisions.csv";
/// The label-health summary of the cut ([`super::health`]).
pub use super::health::HEALTH_CSV;
/// The files [`write_all`] writes, in that order.
pub const OUTPUT_FILES: [&str; 5] = [RUN_FILE, SAMPLES_CSV, CLEAN_TXT, FLAGGED_TXT, HEALTH_CSV];

/// Write the run file, samples.csv, clean.txt, flagged.txt and health.csv into `dir` (created if needed)
/// as one set ([`super::manifest`]), holding the folder's lock while writing. Checks every
/// target before writing any, so a refusal leaves nothing half-written.
pub fn write_all(dir: &Path, run: &RunFile, overwrite: Overwrite) -> Result<Vec<PathBuf>> {
    check_outside_datasets(dir, &run.dataset.sources())?;
    let lock = OutputLock::acquire(dir)?;
    write_all_locked(dir, run, overwrite, None, None, &lock)
}

/// [`write_all`] for a writer that already holds `dir`'s lock (a run writing its set after
/// every round). First finishes or cleans what an interrupted writer left there.
/// With `decisions` (and their `journal`), the set is [`write_all_with_labels`]'s.
pub fn write_all_locked(
    dir: &Path,
    run: &RunFile,
    overwrite: Overwrite,
    decisions: Option<&crate::itlm::Decisions>,
    journal: Option<&[u8]>,
    lock: &OutputLock,
) -> Result<Vec<PathBuf>> {
    write_set_locked(dir, run, overwrite, decisions, journal, lock)
}

/// [`write_all`] with the user's `decisions`: `clean.txt` and `flagged.txt` follow them,
/// `labels.csv` joins the set and, given the journal's bytes, `decisions.csv` too (so that
/// the exported run reopens with the decisions), all under one manifest (a reader never finds
/// labels.csv of another run beside them).
pub fn write_all_with_labels(
    dir: &Path,
    run: &RunFile,
    overwrite: Overwrite,
    decisions: &crate::itlm::Decisions,
    journal: Option<&[u8]>,
) -> Result<Vec<PathBuf>> {
    check_outside_datasets(dir, &run.dataset.sources())?;
    let lock = OutputLock::acquire(dir)?;
    write_set_locked(dir, run, overwrite, Some(decisions), journal, &lock)
}

fn write_set_locked(
    dir: &Path,
    run: &RunFile,
    overwrite: Overwrite,
    decisions: Option<&crate::itlm::Decisions>,
    journal: Option<&[u8]>,
    _lock: &OutputLock,
) -> Result<Vec<PathBuf>> {
    check_outside_datasets(dir, &run.dataset.sources())?;
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    recover(dir)?;
    // labels.csv with the user's decisions, or where the run relabelled samples itself.
    let no_decisions;
    let labels = match decisions {
        Some(d) => Some(d),
        None if run
            .verdict()
            .is_some_and(|v| super::run_relabels::run_relabels(run, v.round).is_some()) =>
        {
            no_decisions = crate::itlm::Decisions::new(run.dataset.len());
            Some(&no_decisions)
        }
        None => None,
    };
    // An unlabelled set has no labels to correct: clean.txt and flagged.txt follow the
    // decisions.
    let labels = labels.filter(|_| !run.dataset.is_unlabelled());
    let mut names: Vec<&str> = OUTPUT_FILES.to_vec();
    if labels.is_some() {
        names.push(LABELS_CSV);
    }
    if journal.is_some() {
        names.push(DECISIONS_CSV);
    }
    if overwrite == Overwrite::Refuse {
        if let Some(p) = names.iter().map(|f| dir.join(f)).find(|p| p.exists()) {
            return Err(Error::data(
                p,
                "already exists; pass --force (or confirm) to replace it",
            ));
        }
    }
    let mut files = vec![
        (RUN_FILE, Output::RunFile.bytes(run, decisions)?),
        (SAMPLES_CSV, Output::SamplesCsv.bytes(run, decisions)?),
        (CLEAN_TXT, Output::CleanTxt.bytes(run, decisions)?),
        (FLAGGED_TXT, Output::FlaggedTxt.bytes(run, decisions)?),
        (HEALTH_CSV, Output::HealthCsv.bytes(run, decisions)?),
    ];
    if let Some(d) = labels {
        files.push((LABELS_CSV, super::tables::labels_csv(run, d)?.into_bytes()));
    }
    if let Some(j) = journal {
        files.push((DECISIONS_CSV, j.to_vec()));
    }
    // The set replaced: its labels.csv and decisions.csv, where this set has none, belong to
    // another run (its corrected labels, the decisions it trained with). Left as they were,
    // later exports read those decisions beside this run; they are kept, renamed.
    let earlier: Vec<String> = super::manifest::read_manifest(dir)
        .ok()
        .flatten()
        .map(|e| e.into_iter().map(|e| e.name).collect())
        .unwrap_or_default();
    let mut written = write_set(dir, &files)?;
    let stale = [
        (LABELS_CSV, labels.is_none(), "labels.earlier"),
        (
            DECISIONS_CSV,
            decisions.is_none() && journal.is_none(),
            "decisions.earlier",
        ),
    ];
    for (name, unused, stem) in stale {
        let p = dir.join(name);
        if unused && earlier.iter().any(|e| e == name) && p.is_file() {
            let to = (1..)
                .map(|k| match k {
                    1 => dir.join(format!("{stem}.csv")),
                    k => dir.join(format!("{stem}-{k}.csv")),
                })
                .find(|t| !t.exists())
                .unwrap_or_else(|| dir.join(format!("{stem}.csv")));
            std::fs::rename(&p, &to).map_err(|e| Error::io(&p, e))?;
            written.push(to);
        }
    }
    Ok(written)
}

/// The bytes of the decisions journal `src` for an output set in `out` to carry as
/// `decisions.csv`; None when `src` already is that file (it stays where it lies).
pub fn journal_copy(src: &Path, out: Option<&Path>) -> Result<Option<Vec<u8>>> {
    if out.is_some_and(|o| super::paths::same_file(src, &o.join(DECISIONS_CSV))) {
        return Ok(None);
    }
    std::fs::read(src).map(Some).map_err(|e| Error::io(src, e))
}

/// What a command checks before writing a set with decisions into `out` (beside
/// [`check_outputs`]): without `force`, an existing `labels.csv`, or `decisions.csv` when the
/// set carries the journal's copy, is refused.
pub fn check_decision_outputs(out: &Path, journal: bool, force: bool) -> Result<()> {
    if force {
        return Ok(());
    }
    let mut ours = vec![out.join(LABELS_CSV)];
    ours.extend(journal.then(|| out.join(DECISIONS_CSV)));
    match ours.into_iter().find(|p| p.exists()) {
        Some(p) => Err(Error::data(p, "already exists; pass --force to replace it")),
        None => Ok(()),
    }
}

/// Write `labels.csv` (the corrected labels of `run` with `decisions`) to `target`, replacing
/// it (the caller checked); refused inside the run's dataset folders.
pub fn write_labels(
    target: &Path,
    run: &RunFile,
    decisions: &crate::itlm::Decisions,
) -> Result<PathBuf> {
    check_outside_datasets(target, &run.dataset.sources())?;
    if let Some(parent) = target.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).map_err(|e| Error::io(parent, e))?;
    }
    let text = super::tables::labels_csv(run, decisions)?;
    write_atomic(target, text.as_bytes(), Overwrite::Allow)?;
    Ok(target.to_path_buf())
}

/// One output of a run, written alone (the window's export of a single file).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Output {
    RunFile,
    SamplesCsv,
    CleanTxt,
    FlaggedTxt,
    /// The label-health summary of the cut (it reads the cut, not the decisions).
    HealthCsv,
}

impl Output {
    /// Its usual file name.
    pub fn file_name(self) -> &'static str {
        match self {
            Output::RunFile => RUN_FILE,
            Output::SamplesCsv => SAMPLES_CSV,
            Output::CleanTxt => CLEAN_TXT,
            Output::FlaggedTxt => FLAGGED_TXT,
            Output::HealthCsv => HEALTH_CSV,
        }
    }

    /// Its contents for `run`; `clean.txt` and `flagged.txt` follow the user's `decisions`.
    pub fn bytes(
        self,
        run: &RunFile,
        decisions: Option<&crate::itlm::Decisions>,
    ) -> Result<Vec<u8>> {
        Ok(match self {
            Output::RunFile => run.to_bytes()?,
            Output::SamplesCsv => samples_csv(run)?.into_bytes(),
            Output::CleanTxt => clean_list(run, decisions)?.into_bytes(),
            Output::FlaggedTxt => flagged_list(run, decisions)?.into_bytes(),
            Output::HealthCsv => {
                super::health::health_csv(run, &super::health::of_run(run)?).into_bytes()
            }
        })
    }
}

/// Write one output of `run` (with the user's `decisions`, see [`Output::bytes`]) to the file
/// `target` (its folder created if needed), replacing it; the caller asked first. Refuses a
/// target inside the run's dataset folders.
pub fn write_one(
    what: Output,
    target: &Path,
    run: &RunFile,
    decisions: Option<&crate::itlm::Decisions>,
) -> Result<Vec<PathBuf>> {
    check_outside_datasets(target, &run.dataset.sources())?;
    if let Some(parent) = target.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).map_err(|e| Error::io(parent, e))?;
    }
    let bytes = what.bytes(run, decisions)?;
    write_atomic(target, &bytes, Overwrite::Allow)?;
    // A file of a set replaced alone: the set's manifest now names it.
    manifest::update_entry(target, &bytes)?;
    Ok(vec![target.to_path_buf()])
}

/// What `run` and `export` check before writing anything: `out` and `clean_copy` are outside
/// every dataset folder in `sources` and can be created as folders, the clean copy is a new or
/// empty folder that does not hold `out`, and (without `force`) no output in `out` exists.
pub fn check_outputs(
    out: Option<&Path>,
    clean_copy: Option<&Path>,
    sources: &[&Source],
    force: bool,
) -> Result<()> {
    if let Some(o) = out.filter(|o| o.exists() && !o.is_dir()) {
        return Err(Error::data(o, "--out must be a folder, not a file"));
    }
    for dst in out.iter().chain(clean_copy.iter()) {
        check_outside_datasets(dst, sources.iter().copied())?;
        check_folder_path(dst)?;
    }
    if let Some(c) = clean_copy {
        check_new_folder(c)?;
        if let Some(o) = out.filter(|o| is_inside(o, c)) {
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
        for f in OUTPUT_FILES {
            let path = out.join(f);
            if path.exists() {
                return Err(Error::data(
                    path,
                    "already exists; pass --force to replace it",
                ));
            }
        }
    }
    // Last: a refused command leaves even the folders' times as they were.
    for dst in out.iter().chain(clean_copy.iter()) {
        check_writable(dst)?;
    }
    Ok(())
}

/// Refuse, before any training, an output folder that cannot be written: a temp file is
/// created (and removed) in `dst`, or in its deepest existing folder when it does not exist
/// yet (read-only file systems, folders without permission, `/proc`).
pub fn check_writable(dst: &Path) -> Result<()> {
    let Some(base) = dst
        .ancestors()
        .map(|a| {
            if a.as_os_str().is_empty() {
                Path::new(".")
            } else {
                a
            }
        })
        .find(|a| a.exists())
    else {
        return Ok(());
    };
    if !base.is_dir() {
        // check_folder_path says why.
        return Ok(());
    }
    let probe = base.join(format!(".itlm-probe.{}.tmp", std::process::id()));
    match std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&probe)
    {
        Ok(_) => {
            let _ = std::fs::remove_file(&probe);
            Ok(())
        }
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => {
            let place = if base == dst {
                String::new()
            } else {
                format!(" (in {})", base.display())
            };
            Err(Error::data(
                dst,
                format!("cannot be written{place}: {e}; give a folder you can write to"),
            ))
        }
    }
}
