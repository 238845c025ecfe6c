//! Selection: keep the ceil(tau * n) samples with the lowest loss (NaN counts as +inf, ties are
//! broken by index), globally or within each given class. O(n) with `select_nth_unstable`.

use serde::{Deserialize, Serialize};

/// Where the tau share is taken.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
pub enum Selection {
    /// The paper's rule: the tau share of all samples.
    #[default]
    Global,
    /// The tau share within each given class, so that hard classes are not emptied.
    PerClass,
}

impl std::fmt::Display for Selection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Selection::Global => "global",
            Selection::PerClass => "per-class",
        })
    }
}

/// How many of `n` samples a fraction `tau` keeps: ceil(tau * n), at least one when n > 0.
pub fn keep_count(n: usize, tau: f64) -> usize {
    if n == 0 {
        return 0;
    }
    // The small epsilon keeps e.g. 0.7 * 10 = 7.000000000000001 from rounding up to 8.
    let k = (tau * n as f64 - 1e-9).ceil();
    (k.max(1.0) as usize).min(n)
}

/// A sort key that orders losses ascending, NaN as +inf, -0.0 as 0.0, ties by index.
#[inline]
fn key(loss: f32, index: usize) -> u64 {
    let x = if loss.is_nan() {
        f32::INFINITY
    } else {
        loss + 0.0
    };
    let b = x.to_bits();
    let ordered = if b & 0x8000_0000 != 0 {
        !b
    } else {
        b | 0x8000_0000
    };
    ((ordered as u64) << 32) | index as u64
}

/// Mark the `k` lowest-loss samples among `indices` as kept in `kept`.
fn keep_lowest(losses: &[f32], indices: impl Iterator<Item = usize>, k: usize, kept: &mut [bool]) {
    let mut keys: Vec<u64> = indices.map(|i| key(losses[i], i)).collect();
    if k == 0 || keys.is_empty() {
        return;
    }
    let k = k.min(keys.len());
    if k < keys.len() {
        keys.select_nth_unstable(k - 1);
    }
    for &kk in &keys[..k] {
        kept[(kk & 0xFFFF_FFFF) as usize] = true;
    }
}

/// Global selection: the ceil(tau * n) lowest losses.
pub fn select_global(losses: &[f32], tau: f64) -> Vec<bool> {
    assert!(losses.len() <= u32::MAX as usize, "too many samples");
    let mut kept = vec![false; losses.len()];
    keep_lowest(
        losses,
        0..losses.len(),
        keep_count(losses.len(), tau),
        &mut kept,
    );
    kept
}

/// Per-class selection: within each given class c, the ceil(tau * n_c) lowest losses.
pub fn select_per_class(losses: &[f32], labels: &[u32], num_classes: usize, tau: f64) -> Vec<bool> {
    assert_eq!(losses.len(), labels.len());
    let mut by_class: Vec<Vec<usize>> = vec![Vec::new(); num_classes];
    for (i, &l) in labels.iter().enumerate() {
        by_class[l as usize].push(i);
    }
    let mut kept = vec![false; losses.len()];
    for members in by_class {
        let k = keep_count(members.len(), tau);
        keep_lowest(losses, members.into_iter(), k, &mut kept);
    }
    kept
}

/// Either rule.
pub fn select(
    rule: Selection,
    losses: &[f32],
    labels: &[u32],
    num_classes: usize,
    tau: f64,
) -> Vec<bool> {
    match rule {
        Selection::Global => select_global(losses, tau),
        Selection::PerClass => select_per_class(losses, labels, num_classes, tau),
    }
}

/// The loss value at the cut: the largest kept loss (for drawing the tau line).
pub fn cut_value(losses: &[f32], kept: &[bool]) -> Option<f32> {
    losses
        .iter()
        .zip(kept)
        .filter(|(_, &k)| k)
        .map(|(&l, _)| if l.is_nan() { f32::INFINITY } else { l })
        .fold(None, |m: Option<f32>, l| Some(m.map_or(l, |m| m.max(l))))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts() {
        assert_eq!(keep_count(10, 0.7), 7);
        assert_eq!(keep_count(10, 0.71), 8);
        assert_eq!(keep_count(10, 1.0), 10);
        assert_eq!(keep_count(3, 0.01), 1);
        assert_eq!(keep_count(0, 0.5), 0);
    }

    #[test]
    fn global_keeps_lowest_with_nan_last_and_ties_by_index() {
        let l = [0.5, f32::NAN, 0.1, 0.5, 2.0, f32::INFINITY, -0.0, 0.0];
        let k = select_global(&l, 0.5);
        assert_eq!(k, vec![true, false, true, false, false, false, true, true]);
        // ties: 0.5 at index 0 and 3, only one slot left -> index 0
        let k = select_global(&l, 5.0 / 8.0);
        assert_eq!(k.iter().filter(|&&b| b).count(), 5);
        assert!(k[0] && k[3]);
        let k = select_global(&[1.0, 1.0, 1.0], 0.4);
        assert_eq!(k, vec![true, true, false]);
        // NaN counts as +inf: tied with it, the lower index wins
        let k = select_global(&[f32::NAN, f32::INFINITY, 3.0], 0.66);
        assert_eq!(k, vec![true, false, true]);
    }

    #[test]
    fn per_class_keeps_share_of_each_class() {
        let losses = [9.0, 8.0, 7.0, 6.0, 0.1, 0.2, 0.3, 0.4];
        let labels = [0, 0, 0, 0, 1, 1, 1, 1];
        let g = select_global(&losses, 0.5);
        assert_eq!(g, vec![false, false, false, false, true, true, true, true]);
        let p = select_per_class(&losses, &labels, 2, 0.5);
        assert_eq!(p, vec![false, false, true, true, true, true, false, false]);
    }

    #[test]
    fn cut() {
        assert_eq!(cut_value(&[1.0, 3.0, 2.0], &[true, false, true]), Some(2.0));
        assert_eq!(cut_value(&[1.0], &[false]), None);
    }
}
