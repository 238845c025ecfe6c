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

    /// For a duplicate kind, "exact" or "near" and what its `n` samples are: "12 images in 5
    /// groups" (a count of images alone did not say what it counted); None for the others.
    fn duplicate_counts(&self, k: ImageIssue, n: usize) -> Option<(&'static str, String)> {
        let (which, groups) = self.issues.duplicate_groups_of(k)?;
        let counts = format!(
            "{} in {}",
            crate::plural(n, "image"),
            crate::plural(groups, "group"),
        );
        Some((which, counts))
    }

    /// The image issues menu's entry of kind `k` (`n` samples): "dark (2)", "exact duplicates
    /// (12 images in 5 groups)".
    pub fn menu_entry(&self, k: ImageIssue, n: usize) -> String {
        match self.duplicate_counts(k, n) {
            Some((which, counts)) => format!("{which} duplicates ({counts})"),
            None => format!("{} ({n})", k.name()),
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::Dataset;

    /// Noise of its own per `seed`: no issue but a duplicate's.
    fn texture(seed: u32) -> Vec<u8> {
        let mut s = seed.wrapping_mul(2654435761).wrapping_add(1);
        (0..32 * 32 * 3)
            .map(|_| {
                s = s.wrapping_mul(1664525).wrapping_add(1013904223);
                (40 + (s >> 24) % 170) as u8
            })
            .collect()
    }

    /// Two sets of exact copies, of 2 and 3 images: the note and the menu say 5 images in 2
    /// groups (they had said "5 exact duplicate" and "exact duplicate (5)": images? pairs?).
    #[test]
    fn duplicate_counts_say_images_and_groups() {
        let images = [1, 1, 2, 2, 2, 3, 4].map(texture);
        let data = Dataset::from_parts(
            "dups",
            crate::data::Source::Memory,
            vec!["a".into()],
            crate::data::ImageShape::new(32, 32, 3),
            images.concat(),
            vec![0; 7],
            (0..7).map(|i| i.to_string()).collect(),
        )
        .unwrap();
        let c = Checked::new(ImageIssues::find(&data));
        assert_eq!(
            c.issues.summary(),
            "5 images in 2 groups of exact duplicates"
        );
        let (k, n, _) = &c.kinds[0];
        assert_eq!(
            c.menu_entry(*k, *n),
            "exact duplicates (5 images in 2 groups)"
        );
        assert_eq!(
            c.issues.count_words(ImageIssue::NearDuplicate, 1),
            "1 image in 0 groups of near duplicates"
        );
        assert_eq!(c.issues.count_words(ImageIssue::Dark, 2), "2 dark");
        assert_eq!(c.menu_entry(ImageIssue::Dark, 2), "dark (2)");
    }
}
