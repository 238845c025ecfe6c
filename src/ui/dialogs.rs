//! Native file dialogs (rfd), each on its own thread: the XDG portal may be missing or slow, and
//! the window must not wait for it. One dialog at a time.

use std::path::PathBuf;

use super::command::{DialogPurpose, EvalField};
use super::pending::{Pending, Polled, Repaint};

/// A dialog that answered: its purpose, the path picked (None: cancelled or no dialog), and
/// whether it answered so fast that it cannot have been shown.
pub struct Answer {
    pub purpose: DialogPurpose,
    pub path: Option<PathBuf>,
    pub quick: bool,
}

/// The open dialog, if any.
#[derive(Default)]
pub struct Dialogs {
    open: Option<(DialogPurpose, Pending<Option<PathBuf>>)>,
}

impl Dialogs {
    pub fn is_open(&self) -> bool {
        self.open.is_some()
    }

    /// Seconds the open dialog has been waited for.
    pub fn waiting_secs(&self) -> Option<f64> {
        self.open.as_ref().map(|(_, p)| p.elapsed_secs())
    }

    /// Stop waiting for a dialog that does not answer (its thread ends when it does).
    pub fn forget(&mut self) {
        self.open = None;
    }

    /// Show a dialog for `purpose` starting in `start_dir`.
    pub fn open(
        &mut self,
        purpose: DialogPurpose,
        start_dir: Option<PathBuf>,
        repaint: &Repaint,
    ) -> Result<(), String> {
        if self.open.is_some() {
            return Err("A file dialog is already open.".into());
        }
        let task = Pending::spawn("itlm-dialog", repaint, move || {
            let mut d = rfd::FileDialog::new();
            if let Some(dir) = start_dir.filter(|d| d.is_dir()) {
                d = d.set_directory(dir);
            }
            match purpose {
                DialogPurpose::OpenFolder => d.set_title("Open a dataset folder").pick_folder(),
                DialogPurpose::ImagesFolder => d
                    .set_title("Pick the folder the labels CSV's images are in")
                    .pick_folder(),
                DialogPurpose::CompareRun => d
                    .set_title("Pick a run of this dataset to compare with")
                    .add_filter("itlm-inspector run", &["itlm"])
                    .pick_file(),
                // A labels CSV is a dataset that is a file: picked here too.
                DialogPurpose::OpenRun => d
                    .set_title("Open a saved run or a labels CSV")
                    .add_filter("itlm-inspector run or labels CSV", &["itlm", "csv", "tsv"])
                    .add_filter("itlm-inspector run", &["itlm"])
                    .add_filter("labels CSV (path,label)", &["csv", "tsv"])
                    .pick_file(),
                DialogPurpose::EvalPath(EvalField::Truth) => d
                    .set_title("Pick the truth.csv")
                    .add_filter("CSV", &["csv"])
                    .pick_file(),
                DialogPurpose::EvalPath(EvalField::Test) => {
                    d.set_title("Pick the test set folder").pick_folder()
                }
                DialogPurpose::EvalPath(EvalField::Test2) => {
                    d.set_title("Pick the test-2 folder").pick_folder()
                }
                DialogPurpose::ExportTarget(w) if w.is_folder() => {
                    d.set_title("Export into folder").pick_folder()
                }
                DialogPurpose::ExportTarget(w) => d
                    .set_title("Export to file")
                    .set_file_name(w.file_name().unwrap_or("export"))
                    .save_file(),
            }
        })
        .map_err(|e| format!("Cannot open the file dialog: {e}"))?;
        self.open = Some((purpose, task));
        Ok(())
    }

    /// The answer of the open dialog, once it is there.
    pub fn poll(&mut self) -> Option<Answer> {
        let (purpose, task) = self.open.as_ref()?;
        let path = match task.poll() {
            Polled::Waiting => return None,
            Polled::Done(p) => p,
            Polled::Lost(_) => None,
        };
        let answer = Answer {
            purpose: *purpose,
            path,
            quick: task.elapsed_secs() < 1.0,
        };
        self.open = None;
        Some(answer)
    }
}
