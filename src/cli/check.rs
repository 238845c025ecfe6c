//! `itlm-inspector check DATA`: the image-property checks of a dataset (CleanVision's dark,
//! light, blurry, low information, odd aspect ratio and odd size, and grey images in a colour
//! set; [`crate::data::quality`]), without training: the counts, the first few of each kind,
//! and with `--out` the table of every flagged image and every unreadable file.

use std::path::PathBuf;
use std::time::Instant;

use clap::Args;

use crate::data::quality::{ImageIssue, ImageIssues};
use crate::data::{self, LoadOptions};
use crate::error::Result;
use crate::export::tables::image_issues_csv;
use crate::export::{check_outside_datasets, write_atomic, Overwrite};

/// Images of each kind the summary names.
const NAMED: usize = 5;

#[derive(Args, Debug, Clone)]
pub struct CheckArgs {
    /// The dataset: an image folder, a labels CSV, an IDX or CIFAR-10 directory (only read).
    pub data: PathBuf,
    /// Write the flagged images as CSV here (id, given class, issues, every check's score), and
    /// every file that could not be read (issue unreadable, with the reason).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Write every image to --out, not only the flagged ones.
    #[arg(long, requires = "out")]
    pub all: bool,
    /// Replace an existing --out file.
    #[arg(long, requires = "out")]
    pub force: bool,
    #[command(flatten)]
    pub columns: super::args::ColumnArgs,
    /// Read DATA, a folder, as unlabelled images: every image under it (recursively), in no
    /// class, whatever its subfolders.
    #[arg(long)]
    pub unlabelled: bool,
}

/// Where the whole list of a folder's unreadable files is: `check --out` writes them.
pub(crate) fn check_all_hint(data: &std::path::Path) -> String {
    format!(
        "`itlm-inspector check {} --out FILE` lists them all",
        data.display()
    )
}

pub fn check_command(a: &CheckArgs) -> Result<()> {
    // Refuse a bad --out before reading the set: inside the dataset folder (checked again
    // against the loaded set's sources below), or an existing file without --force.
    if let Some(out) = &a.out {
        if a.data.is_dir() {
            check_outside_datasets(
                out,
                [&crate::data::Source::ImageFolder {
                    root: a.data.clone(),
                }],
            )?;
        } else if crate::data::labels_csv::is_labels_csv(&a.data) {
            check_outside_datasets(
                out,
                [&crate::data::Source::LabelsCsv {
                    file: a.data.clone(),
                }],
            )?;
            check_outside_datasets(
                out,
                &crate::export::run_file::images_source(&a.columns.columns()),
            )?;
        }
        if !a.force && out.exists() {
            return Err(crate::Error::data(
                out,
                "already exists; pass --force to replace it",
            ));
        }
    }
    let t = Instant::now();
    let loaded = super::with_load_line(&a.data, false, |progress| {
        data::load(
            &a.data,
            &LoadOptions {
                progress,
                columns: a.columns.columns(),
                unlabelled: a.unlabelled,
                ..LoadOptions::default()
            },
        )
    })?;
    let train = loaded.train;
    if let Some(out) = &a.out {
        // (An existing file is refused again by the atomic write without --force.)
        check_outside_datasets(out, [&train.source])?;
        check_outside_datasets(out, &crate::export::run_file::images_source(&train.columns))?;
    }
    let load_secs = t.elapsed().as_secs_f64();
    let t = Instant::now();
    let issues = ImageIssues::find(&train);
    println!(
        "{}: {} (loaded in {load_secs:.2} s, checked in {:.2} s)",
        a.data.display(),
        train.summary(),
        t.elapsed().as_secs_f64()
    );
    println!(
        "image issues: {} of {} images ({})",
        issues.any(),
        train.len(),
        issues.summary()
    );
    if train.originals().is_empty() {
        println!("  (not an image folder: the file checks, odd size / aspect ratio / grey, do not apply)");
    }
    let mut cut = false;
    for k in ImageIssue::ALL {
        let n = issues.count(k);
        if n == 0 {
            continue;
        }
        let ids = issues.worst_first(k);
        let shown: Vec<&str> = ids.iter().take(NAMED).map(|&i| train.id(i)).collect();
        let more = n.saturating_sub(NAMED);
        cut |= more > 0;
        println!(
            "  {}: {}{}",
            k.name(),
            shown.join(", "),
            if more > 0 {
                format!(" and {more} more")
            } else {
                String::new()
            }
        );
    }
    if cut {
        match &a.out {
            Some(out) => println!("  (every flagged image is in {})", out.display()),
            None => println!(
                "  (`itlm-inspector check {} --out FILE` lists every flagged image)",
                a.data.display()
            ),
        }
    }
    // And the files that could not be read at all (as `run` lists them; all of them in --out).
    let rest = match &a.out {
        Some(out) => format!("all of them in {}, issue unreadable", out.display()),
        None => check_all_hint(&a.data),
    };
    if let Some(lines) = super::skipped_lines(&train.skipped, NAMED, &rest) {
        println!("{lines}");
    }
    if let Some(out) = &a.out {
        let overwrite = if a.force {
            Overwrite::Allow
        } else {
            Overwrite::Refuse
        };
        write_atomic(
            out,
            image_issues_csv(&train, &issues, a.all).as_bytes(),
            overwrite,
        )?;
        println!("wrote {}", out.display());
    }
    Ok(())
}
