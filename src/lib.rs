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
pub mod bench;
pub mod clean_copy;
pub mod cli;
pub mod export;
pub mod outputs;
pub mod reproduce;
pub mod ui;
pub mod worker;
