//! Everything written to disk for a run: the versioned run file ([`run_file`]; read by
//! [`read`], earlier versions through [`legacy`]), the tables ([`tables`]: `samples.csv`,
//! `clean.txt`, `flagged.txt`), the label-health summary ([`health`]: `health.csv`, the lines
//! `run` prints, the report's section), the set of outputs and their checks ([`files`]), the clean copy
//! of the kept samples ([`clean_copy`]), the HTML report ([`report`]) and the formats other
//! tools read ([`ecosystem`]: cleanlab's issues table, a FiftyOne dataset), both of the round
//! [`shown`]; all writes atomic ([`atomic`]) and never inside a
//! dataset folder ([`paths`]).

pub mod atomic;
pub mod clean_copy;
pub mod ecosystem;
pub mod files;
pub mod health;
pub mod legacy;
pub mod lock;
pub mod manifest;
pub mod paths;
pub mod read;
pub mod report;
pub mod run_file;
pub mod run_relabels;
pub mod shown;
pub mod tables;

pub use atomic::{write_atomic, Overwrite, StagedDir};
pub use files::{
    check_decision_outputs, check_outputs, journal_copy, write_all, write_all_locked,
    write_all_with_labels, write_labels, write_one, Output, CLEAN_TXT, DECISIONS_CSV, FLAGGED_TXT,
    HEALTH_CSV, LABELS_CSV, OUTPUT_FILES, RUN_FILE, SAMPLES_CSV,
};
pub use lock::OutputLock;
pub use manifest::{check_set, SetCheck, MANIFEST};
pub use paths::{check_outside_dataset, check_outside_datasets, same_file};
pub use run_file::{
    checksum, DatasetInfo, RunFile, RunFileOf, RunStatus, Verdict, RUN_MAGIC, RUN_VERSION,
};
pub use tables::{clean_list, flagged_list, labels_csv, samples_csv};
