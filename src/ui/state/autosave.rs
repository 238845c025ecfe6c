//! No finished round is lost: every run the window trains is saved, after each round and when
//! it ends, as `run-NNN.itlm` in a folder of its own per opened dataset
//! (`<data dir>/itlm-inspector/runs/<dataset>-<UTC time>/`), written atomically off the UI
//! thread. A run reopened from a file saves its continuations beside that file. The user's
//! decisions journal lives in the same folder.

use std::path::{Path, PathBuf};

use crate::export::{write_atomic, Overwrite, RunFile};
use crate::session::clock;

use super::super::pending::{Pending, Polled};
use super::AppState;

/// The file in a dataset's run folder that names the dataset (its canonical path).
pub const DATASET_TXT: &str = "dataset.txt";

/// Where the window keeps what it trains: `$ITLM_DATA_DIR`, else `$XDG_DATA_HOME/itlm-inspector`,
/// else `~/.local/share/itlm-inspector`.
pub fn default_root() -> Option<PathBuf> {
    let var = |k: &str| {
        std::env::var_os(k)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    };
    var("ITLM_DATA_DIR")
        .or_else(|| var("XDG_DATA_HOME").map(|d| d.join("itlm-inspector")))
        .or_else(|| var("HOME").map(|h| h.join(".local/share/itlm-inspector")))
}

/// The folder of one opened dataset (or reopened run) and the run files saved in it.
#[derive(Default)]
pub struct Autosave {
    /// Where runs are saved (None: autosave is off).
    pub root: Option<PathBuf>,
    /// The folder of the open dataset, once something was saved (or the reopened file's).
    pub dir: Option<PathBuf>,
    /// The file the shown run is saved to.
    pub file: Option<PathBuf>,
    /// The open dataset's path, written into its folder as `dataset.txt` (so that opening the
    /// dataset again finds its saved runs: [`previous`]).
    pub dataset: Option<PathBuf>,
    /// The shown run changed since it was last saved.
    pub dirty: bool,
    writing: Option<Pending<Result<PathBuf, String>>>,
    /// The last file written, and the last failure.
    pub saved: Option<PathBuf>,
    pub error: Option<String>,
}

impl Autosave {
    /// A new dataset: its own folder, made when the first run is saved.
    pub fn new_dataset(&mut self, path: &Path) {
        self.dataset = Some(std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf()));
        self.dir = None;
        self.file = None;
        self.dirty = false;
    }

    /// A run file was opened: its continuations and decisions go beside it.
    pub fn reopened(&mut self, file: &Path) {
        self.dir = file.parent().map(Path::to_path_buf);
        self.file = Some(file.to_path_buf());
        self.dirty = false;
    }

    /// The folder for `name`'s runs, made on first use.
    pub(super) fn folder(&mut self, name: &str) -> Result<PathBuf, String> {
        if let Some(d) = &self.dir {
            return Ok(d.clone());
        }
        let root = self.root.clone().ok_or("autosave is off")?;
        let safe = crate::data::encode::folder_name(name);
        let dir = root
            .join("runs")
            .join(format!("{safe}-{}", clock::file_stamp(clock::now_secs())));
        std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        if let Some(d) = &self.dataset {
            // Best effort: without it the folder is only not offered again on reopening.
            let text = format!("{}\n", d.display());
            let _ = write_atomic(&dir.join(DATASET_TXT), text.as_bytes(), Overwrite::Allow);
        }
        self.dir = Some(dir.clone());
        Ok(dir)
    }

    /// A new run starts: the next free `run-NNN.itlm` of the folder.
    pub fn new_run(&mut self, name: &str) -> Result<PathBuf, String> {
        let dir = self.folder(name)?;
        let file = (1..10_000)
            .map(|n| dir.join(format!("run-{n:03}.itlm")))
            .find(|p| !p.exists())
            .ok_or_else(|| format!("{}: no free run file name", dir.display()))?;
        self.file = Some(file.clone());
        self.dirty = true;
        Ok(file)
    }

    /// Whether a write is under way.
    pub fn writing(&self) -> bool {
        self.writing.is_some()
    }
}

impl AppState {
    /// Save the shown run when it changed and no write is under way; collect a finished write.
    pub(super) fn poll_autosave(&mut self) {
        if let Some(task) = &self.autosave.writing {
            match task.poll() {
                Polled::Waiting => return,
                Polled::Done(Ok(p)) => {
                    self.autosave.saved = Some(p);
                    self.autosave.error = None;
                }
                Polled::Done(Err(e)) | Polled::Lost(e) => {
                    let first = self.autosave.error.is_none();
                    self.autosave.error = Some(e.clone());
                    if first {
                        self.error(format!("The run could not be saved: {e}"));
                    }
                }
            }
            self.autosave.writing = None;
        }
        if !self.autosave.dirty {
            return;
        }
        let Some(file) = self.autosave.file.clone() else {
            return;
        };
        let Some(run) = self.run_file(None) else {
            return;
        };
        if run.rounds.is_empty() {
            return;
        }
        self.autosave.dirty = false;
        self.autosave.writing = Pending::spawn("itlm-autosave", self.repaint(), move || {
            save(&run, &file).map(|()| file)
        })
        .map_err(|e| self.error(format!("Cannot save the run: {e}")))
        .ok();
    }
}

impl AppState {
    /// Save the shown run now if it changed (before it is replaced).
    pub(super) fn flush_autosave(&mut self) {
        if !self.autosave.dirty {
            return;
        }
        self.autosave.dirty = false;
        let (Some(file), Some(run)) = (self.autosave.file.clone(), self.run_file(None)) else {
            return;
        };
        if run.rounds.is_empty() {
            return;
        }
        match save(&run, &file) {
            Ok(()) => self.autosave.saved = Some(file),
            Err(e) => self.error(format!("The run could not be saved: {e}")),
        }
    }
}

fn save(run: &RunFile, file: &Path) -> Result<(), String> {
    let bytes = run.to_bytes().map_err(|e| e.to_string())?;
    write_atomic(file, &bytes, Overwrite::Allow).map_err(|e| e.to_string())
}

/// The run files saved under `root` for the dataset at `path` (by the `dataset.txt` of the
/// dataset folders under `root/runs/`), newest first (a file whose time cannot be read is
/// passed over). File I/O.
pub fn saved_runs(root: &Path, path: &Path) -> Vec<PathBuf> {
    let want = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
    let Ok(dirs) = std::fs::read_dir(root.join("runs")) else {
        return Vec::new();
    };
    let mut found: Vec<(std::time::SystemTime, PathBuf)> = Vec::new();
    for dir in dirs.flatten() {
        let dir = dir.path();
        let Ok(text) = std::fs::read_to_string(dir.join(DATASET_TXT)) else {
            continue;
        };
        if Path::new(text.trim_end_matches(['\n', '\r'])) != want {
            continue;
        }
        let Ok(files) = std::fs::read_dir(&dir) else {
            continue;
        };
        for f in files.flatten() {
            let p = f.path();
            if p.extension().is_some_and(|e| e == "itlm") {
                if let Ok(t) = f.metadata().and_then(|m| m.modified()) {
                    found.push((t, p));
                }
            }
        }
    }
    found.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| a.1.cmp(&b.1)));
    found.into_iter().map(|(_, p)| p).collect()
}

/// The newest run file saved under `root` for the dataset at `path` ([`saved_runs`]), with
/// the number of samples its decisions journal decides on `train`. File I/O: the window calls
/// it in the load's background task.
pub fn previous(
    root: &Path,
    path: &Path,
    train: &crate::data::Dataset,
) -> Option<(PathBuf, usize)> {
    let file = saved_runs(root, path).into_iter().next()?;
    // The samples decided, as the journal replays on this set (its rows count undos and
    // changes of mind too).
    let decisions = file
        .parent()
        .and_then(|d| {
            crate::session::decisions::Journal::read(
                &d.join(crate::session::decisions::DECISIONS_CSV),
                train.ids(),
                &train.classes,
            )
            .ok()
        })
        .map_or(0, |(d, _)| d.counts().decided);
    Some((file, decisions))
}
