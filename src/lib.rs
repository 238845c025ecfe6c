//! itlm-inspector: find and remove bad training data from image datasets with Iterative
//! Trimmed Loss Minimization (Shen & Sanghavi, ICML 2019), headless or in a window.
//!
//! - [`data`]: image folders, IDX, CIFAR-10, ground truth, corruption.
//! - [`itlm`]: the algorithm, generic over [`itlm::Learner`].
//! - [`learner`]: candle models (MLP, CNN, VAE).
//! - [`ui`]: the inspection window (egui).

pub mod data;
pub mod error;
pub mod itlm;
pub mod learner;
pub mod rng;

pub use error::{Error, Result};

/// "1 note", "3 notes", "2 classes": a count and its noun, plural unless one.
pub fn plural(n: usize, what: &str) -> String {
    if n == 1 {
        format!("1 {what}")
    } else if what.ends_with('s') {
        format!("{n} {what}es")
    } else {
        format!("{n} {what}s")
    }
}
pub mod bench;
pub mod clean_copy;
pub mod cli;
pub mod export;
pub mod outputs;
pub mod reproduce;
pub mod ui;
pub mod worker;
