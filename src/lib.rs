//! itlm-inspector: find and remove bad training data from image datasets with Iterative
//! Trimmed Loss Minimization (Shen & Sanghavi, ICML 2019), headless or in a window.
//!
//! The core (always built; no egui, eframe, rfd or clap):
//! - [`data`]: image folders, IDX, CIFAR-10, ground truth, the corruption model.
//! - [`itlm`]: the algorithm, generic over [`itlm::Learner`].
//! - [`learner`]: candle models (CNN, MLP, VAE) and the device.
//! - [`export`]: the run file and the tables a run writes; atomic writes and path checks.
//! - [`session`]: what both faces do with the core: open a dataset, reopen a run, run headless
//!   or on a worker thread, re-cut, corrupt.
//! - [`presets`]: measured settings (the demo's, the backdoor protocol).
//!
//! The faces (cargo feature `app`, on by default): [`cli`] (clap) and [`ui`] (egui). Neither
//! imports the other. ARCHITECTURE.md says what may import what.

pub mod choice;
pub mod data;
pub mod error;
pub mod export;
pub mod itlm;
pub mod learner;
pub mod presets;
pub mod rng;
pub mod session;
pub mod testing;

#[cfg(feature = "app")]
pub mod cli;
#[cfg(feature = "app")]
pub mod ui;

pub use error::{Error, Result};

/// "1 note", "3 notes", "2 classes": a count and its noun, plural unless one.
pub fn plural(n: usize, what: &str) -> String {
    if n == 1 {
        format!("1 {what}")
    } else if ["s", "x", "ch", "sh"].iter().any(|e| what.ends_with(e)) {
        format!("{n} {what}es")
    } else {
        format!("{n} {what}s")
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn plural_says_one_and_adds_es_where_english_does() {
        assert_eq!(super::plural(1, "batch"), "1 batch");
        assert_eq!(super::plural(2, "batch"), "2 batches");
        assert_eq!(super::plural(3, "class"), "3 classes");
        assert_eq!(super::plural(0, "image"), "0 images");
        assert_eq!(super::plural(2, "box"), "2 boxes");
    }
}
