//! What panels read and what they ask for. A panel draws from a [`View`] of the state (read
//! only) and pushes [`Command`]s; the app applies them at the end of the frame, so no panel
//! changes what another is drawing from. A panel with state of its own (a text field, a
//! texture, a running export) owns it.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::export::{self, Output, Overwrite, RunFile};
use crate::session::decisions::Decision;

use super::settings::Settings;
use super::state::AppState;
use super::view::{Cut, Filter, GridTab, Lists, Sort};

/// What a panel draws from this frame.
pub struct View<'a> {
    pub state: &'a AppState,
    /// The shown round at the slider's tau, and its grid lists (computed once per frame).
    pub cut: Option<Arc<Cut>>,
    pub lists: Option<Arc<Lists>>,
    /// Seconds the open file dialog has been waited for (None: no dialog open).
    pub dialog_secs: Option<f64>,
}

impl View<'_> {
    pub fn dialog_open(&self) -> bool {
        self.dialog_secs.is_some()
    }
}

/// The commands a panel pushes.
pub type Commands = Vec<Command>;

#[derive(Clone, Debug, PartialEq)]
pub enum Command {
    /// Open a dataset folder or a run file (with the evaluation paths of the form).
    Open(PathBuf),
    /// Open the open dataset again with the evaluation paths of the form.
    Reload,
    OpenDialog(DialogPurpose),
    /// Stop waiting for a dialog that does not answer.
    ForgetDialog,
    /// Open a labels CSV with the given path and label columns (the column picker's choice,
    /// remembered for the file).
    OpenWithColumns(PathBuf, crate::data::labels_csv::Columns),
    /// Close the column picker.
    ForgetColumns,
    /// Close the images folder picker.
    ForgetImages,
    /// Ask for another images folder for the opened labels CSV (the images folder picker).
    ChangeImagesFolder,
    /// Open a folder as unlabelled images (true: every image under it, in no class) or as
    /// its class folders (false), remembered for the folder.
    OpenUnlabelled(PathBuf, bool),
    /// The run settings (the controls edit a copy).
    Settings(Box<Settings>),
    Start,
    StepOneRound,
    Pause,
    Resume,
    Stop,
    RetrainAtTau,
    /// Continue a forward-corrected run from the shown round as it was going.
    RetrainForward,
    /// Whether runs started from the window train with the user's decisions.
    TrainWithDecisions(bool),
    SetTau(f64),
    /// Show round `index` (position in the history).
    SelectRound(usize),
    /// Show the newest round and follow new ones.
    Follow,
    /// Stop following the newest round (stay on the shown one).
    Unfollow,
    SelectSample(Option<usize>),
    /// Make these samples the grid's multi-selection (the embedding map's box).
    SelectSamples(Vec<usize>),
    /// Move the selected sample within the shown grid list.
    StepSample(isize),
    SetTab(GridTab),
    SetFilter(Filter),
    SetSort(Sort),
    BeginExport(ExportWhat),
    ExportNow(Overwrite),
    /// Dismiss the message at this position (None: all).
    Dismiss(Option<usize>),
    /// Decide (None: clear) on these samples: one undo step.
    Decide(Vec<usize>, Option<Decision>),
    /// A decision per sample (accepting each sample's own predicted class): one undo step.
    DecideEach(Vec<(usize, Option<Decision>)>),
    Undo,
    Redo,
}

/// Why a file dialog is open.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DialogPurpose {
    OpenFolder,
    /// A saved run file (`run.itlm`).
    OpenRun,
    /// The folder a labels CSV's images are in (the images folder picker).
    ImagesFolder,
    ExportTarget(ExportWhat),
    /// A test / test-2 / truth path field.
    EvalPath(EvalField),
    /// A run to compare the shown one with.
    CompareRun,
}

/// Which path field.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EvalField {
    Test,
    Test2,
    Truth,
}

/// What an export writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExportWhat {
    /// Run file, samples.csv, clean.txt and flagged.txt into a folder.
    All,
    SamplesCsv,
    CleanTxt,
    FlaggedTxt,
    RunFile,
    /// The corrected labels (your decisions applied).
    LabelsCsv,
    /// The cleaned dataset as a new image folder (your decisions applied).
    CleanFolder,
    /// One self-contained HTML report of the run.
    Report,
    /// cleanlab's issues table (label_issues.csv).
    Cleanlab,
    /// A FiftyOne image-classification dataset folder.
    FiftyOne,
}

/// What an export takes from the window besides the run.
#[derive(Clone, Debug, Default)]
pub struct ExportExtras {
    pub decisions: Option<crate::itlm::Decisions>,
    /// The decisions journal's bytes, carried as `decisions.csv` by [`ExportWhat::All`] (None:
    /// no decisions, or the target folder holds the journal itself).
    pub journal: Option<Vec<u8>>,
    /// The clean folder puts samples still flagged under `_flagged/` instead of leaving them out.
    pub flagged_folder: bool,
    /// The run's samples with their pixels (thumbnails of the report, FiftyOne's PNGs of IDX /
    /// CIFAR sets).
    pub images: Option<std::sync::Arc<crate::data::Dataset>>,
    /// The image checks of the run's samples, when they are done: the cleanlab table gets
    /// their columns, FiftyOne their tags.
    pub image_checks: Option<std::sync::Arc<crate::data::quality::ImageIssues>>,
    /// When the run's images were read ([`crate::session::Loaded::judged_at`]): the clean
    /// folder names the files changed since.
    pub judged_at: Option<std::time::SystemTime>,
}

impl ExportWhat {
    pub const ALL: [ExportWhat; 10] = [
        ExportWhat::All,
        ExportWhat::LabelsCsv,
        ExportWhat::CleanFolder,
        ExportWhat::Report,
        ExportWhat::Cleanlab,
        ExportWhat::FiftyOne,
        ExportWhat::SamplesCsv,
        ExportWhat::CleanTxt,
        ExportWhat::FlaggedTxt,
        ExportWhat::RunFile,
    ];

    pub fn title(self) -> &'static str {
        match self {
            ExportWhat::All => "All files to a folder",
            ExportWhat::SamplesCsv => "samples.csv",
            ExportWhat::CleanTxt => "clean.txt",
            ExportWhat::FlaggedTxt => "flagged.txt",
            ExportWhat::RunFile => "Run file",
            ExportWhat::LabelsCsv => "Corrected labels (labels.csv)",
            ExportWhat::CleanFolder => "Cleaned dataset folder",
            ExportWhat::Report => "HTML report",
            ExportWhat::Cleanlab => "cleanlab issues table (label_issues.csv)",
            ExportWhat::FiftyOne => "FiftyOne dataset folder",
        }
    }

    /// The single output written (None: all of them into a folder).
    fn output(self) -> Option<Output> {
        match self {
            ExportWhat::All => None,
            ExportWhat::SamplesCsv => Some(Output::SamplesCsv),
            ExportWhat::CleanTxt => Some(Output::CleanTxt),
            ExportWhat::FlaggedTxt => Some(Output::FlaggedTxt),
            ExportWhat::RunFile => Some(Output::RunFile),
            ExportWhat::LabelsCsv
            | ExportWhat::CleanFolder
            | ExportWhat::Report
            | ExportWhat::Cleanlab
            | ExportWhat::FiftyOne => None,
        }
    }

    /// Default file name (None: a folder).
    pub fn file_name(self) -> Option<&'static str> {
        match self {
            ExportWhat::LabelsCsv => Some(export::LABELS_CSV),
            ExportWhat::Report => Some("report.html"),
            ExportWhat::Cleanlab => Some("label_issues.csv"),
            _ => self.output().map(Output::file_name),
        }
    }

    /// Whether the target is a folder.
    pub fn is_folder(self) -> bool {
        matches!(
            self,
            ExportWhat::All | ExportWhat::CleanFolder | ExportWhat::FiftyOne
        )
    }

    /// Files that `target` would replace.
    pub fn existing(self, target: &Path) -> Vec<PathBuf> {
        match self {
            ExportWhat::All => export::OUTPUT_FILES
                .iter()
                .chain([&export::LABELS_CSV, &export::DECISIONS_CSV])
                .map(|f| target.join(f))
                .filter(|p| p.exists())
                .collect(),
            // A clean folder is only ever written into a new or empty folder.
            ExportWhat::CleanFolder | ExportWhat::FiftyOne => Vec::new(),
            _ => target
                .exists()
                .then(|| target.to_path_buf())
                .into_iter()
                .collect(),
        }
    }

    /// Write it for `run` to `target` (a folder for [`ExportWhat::All`] and
    /// [`ExportWhat::CleanFolder`], else a file). With decisions, clean.txt and flagged.txt
    /// follow them, and all files include labels.csv and decisions.csv.
    pub fn write(
        self,
        target: &Path,
        run: &RunFile,
        extras: &ExportExtras,
    ) -> crate::Result<Exported> {
        let decisions = extras.decisions.as_ref().filter(|d| d.counts().decided > 0);
        let files = match self {
            ExportWhat::All => match decisions {
                Some(d) => export::write_all_with_labels(
                    target,
                    run,
                    Overwrite::Allow,
                    d,
                    extras.journal.as_deref(),
                ),
                None => export::write_all(target, run, Overwrite::Allow),
            },
            ExportWhat::LabelsCsv => {
                let none = crate::itlm::Decisions::new(run.dataset.len());
                Ok(vec![export::write_labels(
                    target,
                    run,
                    decisions.unwrap_or(&none),
                )?])
            }
            ExportWhat::CleanFolder => {
                let plan = export::clean_copy::placements(run, decisions, extras.flagged_folder)?;
                let mut report = export::clean_copy::clean_copy_of(run, target, &plan)?;
                if let Some(t) = extras.judged_at {
                    report.note_changed(run, &plan, t);
                }
                return Ok(Exported {
                    files: vec![target.to_path_buf()],
                    report: Some(report.to_string()),
                });
            }
            ExportWhat::Report => {
                let input = export::report::ReportInput {
                    run,
                    round: None,
                    decisions,
                    images: extras.images.as_deref(),
                    top: export::report::DEFAULT_TOP,
                    status_note: None,
                };
                export::report::write_report(target, &input, Overwrite::Allow)?;
                Ok(vec![target.to_path_buf()])
            }
            ExportWhat::Cleanlab => {
                export::ecosystem::write_label_issues(
                    target,
                    run,
                    None,
                    decisions,
                    extras.image_checks.as_deref(),
                    Overwrite::Allow,
                )?;
                Ok(vec![target.to_path_buf()])
            }
            ExportWhat::FiftyOne => {
                // (write_fiftyone links an image folder's files; the pixels are for IDX and
                // CIFAR sets, written as PNGs.)
                let report = export::ecosystem::write_fiftyone(
                    run,
                    None,
                    decisions,
                    extras.images.as_deref(),
                    extras.image_checks.as_deref(),
                    target,
                )?;
                return Ok(Exported {
                    files: vec![target.to_path_buf()],
                    report: Some(report.to_string()),
                });
            }
            _ => match self.output() {
                Some(o) => export::write_one(o, target, run, decisions),
                None => Ok(Vec::new()),
            },
        }?;
        Ok(Exported {
            files,
            report: None,
        })
    }
}

/// What an export wrote.
#[derive(Clone, Debug, Default)]
pub struct Exported {
    pub files: Vec<PathBuf>,
    /// What the window says of it instead of the files' names (a clean copy: how its files
    /// were made, and the ones renamed).
    pub report: Option<String>,
}
