//! Helpers of the tests that run the command-line binary.

use std::path::Path;
use std::process::{Command, Output};

use image::{GrayImage, Luma};

pub const BIN: &str = env!("CARGO_BIN_EXE_itlm-inspector");

/// `run`'s options for a short, quiet run: the MLP, one round of one epoch, a final epoch.
#[allow(dead_code)]
pub const FAST: [&str; 9] = [
    "--model",
    "mlp",
    "--rounds",
    "1",
    "--epochs",
    "1",
    "--final-epochs",
    "1",
    "-q",
];

/// A path as the `&str` an argument list takes.
pub fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// What a command printed on stderr.
pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// The binary with `args`, its output (RUST_BACKTRACE unset: panics print as a user sees them).
pub fn run(args: &[&str]) -> Output {
    Command::new(BIN)
        .args(args)
        .env_remove("RUST_BACKTRACE")
        .output()
        .unwrap()
}

/// Assert that a command succeeded; its stderr.
pub fn succeeds(o: &Output) -> String {
    let e = stderr(o);
    assert!(o.status.success(), "failed; stderr:\n{e}");
    e
}

/// An 8x8 gray image of class `c`: a bright column band whose position is the class.
pub fn image_of(c: usize, seed: usize) -> GrayImage {
    GrayImage::from_fn(8, 8, |x, y| {
        let band = (x as usize / 3) == c;
        let noise = ((x as usize * 31 + y as usize * 17 + seed * 13) % 40) as u8;
        Luma([if band { 200 + noise / 2 } else { noise }])
    })
}
