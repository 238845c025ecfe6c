//! Pinned samples (human-guided ITLM): samples a user excluded never train, samples a user kept
//! always stay in the kept set, whatever their loss.

use crate::error::{Error, Result};

/// Per sample: excluded by the user (never trains, never kept) or kept by the user (always in
/// the kept set). A sample is never both.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Pins {
    pub exclude: Vec<bool>,
    pub keep: Vec<bool>,
}

impl Pins {
    /// No sample pinned, for a set of `n`.
    pub fn none(n: usize) -> Self {
        Self {
            exclude: vec![false; n],
            keep: vec![false; n],
        }
    }

    /// Number of samples the pins are for.
    pub fn len(&self) -> usize {
        self.exclude.len()
    }

    pub fn is_empty(&self) -> bool {
        self.exclude.is_empty()
    }

    /// Samples pinned out.
    pub fn excluded(&self) -> usize {
        self.exclude.iter().filter(|&&e| e).count()
    }

    /// Samples pinned in.
    pub fn kept(&self) -> usize {
        self.keep.iter().filter(|&&k| k).count()
    }

    /// Whether no sample is pinned either way.
    pub fn is_none(&self) -> bool {
        self.excluded() == 0 && self.kept() == 0
    }

    /// The scores a selection ranks with the pins: kept pins first (-inf), excluded ones last
    /// (+inf), so that kept pins take their places in tau's budget.
    pub fn ranked(&self, score: &[f32]) -> Vec<f32> {
        score
            .iter()
            .enumerate()
            .map(|(i, &s)| {
                if self.keep.get(i) == Some(&true) {
                    f32::NEG_INFINITY
                } else if self.exclude.get(i) == Some(&true) {
                    f32::INFINITY
                } else {
                    s
                }
            })
            .collect()
    }

    /// Put the pins over a selection: kept pins in, excluded ones out.
    pub fn apply(&self, kept: &mut [bool]) {
        for (i, k) in kept.iter_mut().enumerate() {
            if self.keep.get(i) == Some(&true) {
                *k = true;
            } else if self.exclude.get(i) == Some(&true) {
                *k = false;
            }
        }
    }

    /// Refuse pins that do not fit a set of `n` samples, or pin a sample both ways.
    pub fn check(&self, n: usize) -> Result<()> {
        if self.exclude.len() != n || self.keep.len() != n {
            return Err(Error::Config(format!(
                "pins for {} / {} samples, the dataset has {n}",
                self.exclude.len(),
                self.keep.len()
            )));
        }
        if let Some(i) = (0..n).find(|&i| self.exclude[i] && self.keep[i]) {
            return Err(Error::Config(format!(
                "sample {i} is pinned both excluded and kept"
            )));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pins_count_and_check() {
        let mut p = Pins::none(4);
        assert!(p.is_none() && p.check(4).is_ok());
        p.exclude[1] = true;
        p.keep[2] = true;
        p.keep[3] = true;
        assert_eq!(
            (p.len(), p.excluded(), p.kept(), p.is_none()),
            (4, 1, 2, false)
        );
        assert!(p.check(5).unwrap_err().to_string().contains("has 5"));
        p.keep[1] = true;
        assert_eq!(
            p.check(4).unwrap_err().to_string(),
            "invalid configuration: sample 1 is pinned both excluded and kept"
        );
    }
}
