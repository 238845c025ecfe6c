//! The open dataset's image checks ([`crate::data::quality`]: CleanVision's dark, light,
//! blurry, low information, odd aspect ratio, odd size, exact and near duplicates, and grey
//! images in a colour set),
//! run off the UI thread when a dataset opens. The grid bar filters on them, the detail
//! panel names a sample's.

use std::sync::Arc;

use crate::data::quality::{ImageIssue, ImageIssues};
use crate::ui::view::Membership;

use super::similar::ForGeneration;
use super::AppState;

/// What the checks found, with the masks the grid filters use.
#[derive(Clone, Debug)]
pub struct Checked {
    pub issues: Arc<ImageIssues>,
    /// Each kind found at least once, with its samples, in [`ImageIssue::ALL`]'s order.
    pub kinds: Vec<(ImageIssue, usize, Membership)>,
    /// The samples with any issue, and how many.
    pub any: Membership,
    pub any_count: usize,
}

impl Checked {
    fn new(issues: ImageIssues) -> Self {
        let kinds = ImageIssue::ALL
            .into_iter()
            .filter_map(|k| match issues.count(k) {
                0 => None,
                n => Some((k, n, Membership::new(k.name(), issues.mask(k)))),
            })
            .collect();
        let any_mask: Vec<bool> = (0..issues.len()).map(|i| issues.has_any(i)).collect();
        Self {
            any_count: issues.any(),
            any: Membership::new("any image issue", any_mask),
            issues: Arc::new(issues),
            kinds,
        }
    }

    /// "dark (score 0.149), exact duplicate of a/1.png" for sample `i` of `train`, or None
    /// without issues.
    pub fn describe(&self, i: usize, train: &crate::data::Dataset) -> Option<String> {
        let found = self.issues.of(i);
        if found.is_empty() {
            return None;
        }
        let parts: Vec<String> = found
            .into_iter()
            .map(|k| {
                let exact = k == ImageIssue::ExactDuplicate;
                if exact || k == ImageIssue::NearDuplicate {
                    let copies = self.issues.copies_of(i, exact);
                    let mut ids: Vec<&str> = copies.iter().take(3).map(|&j| train.id(j)).collect();
                    if copies.len() > 3 {
                        ids.push("...");
                    }
                    return format!("{} of {}", k.name(), ids.join(", "));
                }
                match self.issues.score(i, k) {
                    Some(s) => format!("{} (score {s:.3})", k.name()),
                    None => k.name().to_string(),
                }
            })
            .collect();
        Some(parts.join(", "))
    }
}

/// The checks running in the background.
pub type CheckTask = ForGeneration<Checked>;

impl AppState {
    /// Check the open dataset's images off the UI thread; nothing for a reopened run whose
    /// images are gone (its stand-in pixels would all be dark, blank duplicates).
    pub(super) fn check_images(&mut self) {
        self.image_checks = None;
        self.image_check_task = None;
        let Some(data) = self.data.as_ref().filter(|d| d.has_images()) else {
            return;
        };
        let train = data.train.clone();
        match CheckTask::spawn(
            "itlm-image-checks",
            self.repaint(),
            self.generation,
            // The masks too are built off the UI thread.
            move || Ok(Checked::new(ImageIssues::find(&train))),
        ) {
            Ok(task) => self.image_check_task = Some(task),
            Err(e) => self.error(format!("The images were not checked: {e}")),
        }
    }

    /// Whether the image checks are running.
    pub fn checking_images(&self) -> bool {
        self.image_check_task.is_some()
    }

    pub(super) fn poll_image_checks(&mut self) {
        let Some(result) = ForGeneration::take_done(&mut self.image_check_task, self.generation)
        else {
            return;
        };
        match result {
            Ok(c) => {
                if c.any_count > 0 {
                    self.info(format!(
                        "Image checks (CleanVision's): {} of {} images ({}). The grid bar's \"image issues\" filters on them (the grids show once a round is done; `itlm-inspector check` writes the table).",
                        c.any_count,
                        c.issues.len(),
                        c.issues.summary()
                    ));
                }
                self.image_checks = Some(c);
            }
            Err(e) => self.error(format!("Checking the images failed: {e}")),
        }
    }
}
