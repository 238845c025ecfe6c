//! Selection: keep the ceil(tau * n) samples with the lowest loss (NaN counts as +inf, ties are
//! broken by index), globally or within each given class. O(n) with `select_nth_unstable`.

use serde::{Deserialize, Serialize};

/// Where the tau share is taken.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum Selection {
    #[default]
    Global,
    PerClass,
    /// Global, with a floor in every given class ([`select_floored`]).
    Floored,
}

crate::choice!(Selection, "selection", {
    Global => "global", "The paper's rule: the tau share of all samples";
    PerClass => "per-class", "The tau share within each given class, so that hard classes are not emptied";
    Floored => "floored", "The tau share of all samples, and in every given class at least half its tau share, so that a rare class under heavy noise is not emptied";
});

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

/// Global selection with a floor in each given class: the ceil(tau * n) lowest losses, and in
/// every class c at least its ceil(tau / 2 * n_c) lowest (the kept set grows by what the
/// floors add). Under heavy noise a global cut can keep none of a rare class (its samples
/// have fewer like them to learn from, so higher losses), and the final model then never
/// predicts it; the floor keeps the class's easiest samples, where the global cut leaves
/// the common classes alone.
pub fn select_floored(losses: &[f32], labels: &[u32], num_classes: usize, tau: f64) -> Vec<bool> {
    assert_eq!(losses.len(), labels.len());
    let mut kept = select_global(losses, tau);
    let mut by_class: Vec<Vec<usize>> = vec![Vec::new(); num_classes];
    for (i, &l) in labels.iter().enumerate() {
        if let Some(c) = by_class.get_mut(l as usize) {
            c.push(i);
        }
    }
    for members in by_class {
        let floor = keep_count(members.len(), tau / 2.0);
        if members.iter().filter(|&&i| kept[i]).count() < floor {
            keep_lowest(losses, members.into_iter(), floor, &mut kept);
        }
    }
    kept
}

/// How many samples the class floors of [`Selection::Floored`] kept beyond tau's share
/// (`ceil(tau * n)`), for a cut `plain` made by `rule` (before any restore or pin): 0 for the
/// other rules and where no floor added any. The run's log and the window say it, so that a
/// cut keeping more than tau is not a surprise.
pub fn floors_added(rule: Selection, plain: &[bool], tau: f64) -> usize {
    if rule != Selection::Floored {
        return 0;
    }
    let kept = plain.iter().filter(|&&k| k).count();
    kept.saturating_sub(keep_count(plain.len(), tau))
}

/// Any rule.
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
        Selection::Floored => select_floored(losses, labels, num_classes, tau),
    }
}

/// A trimmed (given g, predicted q) cell is one-sided when it holds at least this many times
/// as many samples as the cell the other way (q predicted g), plus one.
pub const RESTORE_RATIO: usize = 3;

/// ... and at least this share of all samples (and at least 5): a handful of confusions is
/// no pattern.
pub const RESTORE_MIN_SHARE: f64 = 0.001;

/// The classes whose trimmed samples show a one-sided confusion, and which [`restore`] keeps
/// trimmed: class g is suspect when the trimmed samples given g and predicted some q number at
/// least [`RESTORE_MIN_SHARE`] of all samples and [`RESTORE_RATIO`] times (those given q and
/// predicted g, plus one). A relabelling attack (images of a stamped as b) or a systematic
/// flip fills one such cell (b predicted a) and hardly its mirror; the hard clean samples a
/// cut also takes are confusions both ways (Shirt / T-shirt), spread over many cells.
pub fn suspect_classes(
    kept: &[bool],
    labels: &[u32],
    predicted: &[u32],
    num_classes: usize,
) -> Vec<bool> {
    let k = num_classes;
    let mut cell = vec![0usize; k * k];
    for ((&kept, &g), &q) in kept.iter().zip(labels).zip(predicted) {
        let (g, q) = (g as usize, q as usize);
        if !kept && g < k && q < k {
            cell[g * k + q] += 1;
        }
    }
    let min = ((RESTORE_MIN_SHARE * kept.len() as f64).ceil() as usize).max(5);
    (0..k)
        .map(|g| {
            (0..k).any(|q| {
                let c = cell[g * k + q];
                q != g && c >= min && c >= RESTORE_RATIO * (cell[q * k + g] + 1)
            })
        })
        .collect()
}

/// What a [`restore`] did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Restored {
    /// Trimmed samples given back.
    pub back: usize,
    /// Per class: suspect ([`suspect_classes`]), its trimmed samples kept out.
    pub suspect: Vec<bool>,
}

/// Give the trimmed samples of every class that is not suspect ([`suspect_classes`]) back to
/// the kept set. What stays trimmed is the trimmed samples of the suspect classes.
pub fn restore(
    kept: &mut [bool],
    labels: &[u32],
    predicted: &[u32],
    num_classes: usize,
) -> Restored {
    let suspect = suspect_classes(kept, labels, predicted, num_classes);
    let mut back = 0;
    for (k, &g) in kept.iter_mut().zip(labels) {
        if !*k && !suspect.get(g as usize).copied().unwrap_or(true) {
            *k = true;
            back += 1;
        }
    }
    Restored { back, suspect }
}

/// [`restore`] when `on` and the round has predictions for every sample (a classifier); else
/// nothing changes.
pub fn restore_if(
    on: bool,
    kept: &mut [bool],
    labels: &[u32],
    predicted: &[u32],
    num_classes: usize,
) -> Option<Restored> {
    (on && predicted.len() == kept.len()).then(|| restore(kept, labels, predicted, num_classes))
}

/// A round's selection: the cut at `tau` by `rule`, then [`restore_if`] `restore`. The run,
/// the window's re-cut and `export` all select this way.
pub fn select_round(
    rule: Selection,
    score: &[f32],
    labels: &[u32],
    predicted: &[u32],
    num_classes: usize,
    tau: f64,
    restore: bool,
) -> Vec<bool> {
    let mut kept = select(rule, score, labels, num_classes, tau);
    restore_if(restore, &mut kept, labels, predicted, num_classes);
    kept
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

/// A cut at `tau` by `rule` on `score` (the pins ranked first and last,
/// [`super::Pins::ranked`], when there are some) and where a histogram draws it: the largest
/// score among the samples the loss kept ([`cut_value`], a kept pin not counted). What the
/// window's histogram and the report draw, for every rule: the global cut; for
/// [`Selection::Floored`] the global cut, or above it where a class's floor kept more; for
/// [`Selection::PerClass`] the highest class's cut. Returns the plain selection (before
/// restore, pins applied and held-out samples) and the line.
pub fn cut_line(
    rule: Selection,
    score: &[f32],
    labels: &[u32],
    num_classes: usize,
    tau: f64,
    pins: Option<&super::Pins>,
) -> (Vec<bool>, Option<f32>) {
    let pins = pins.filter(|p| p.len() == score.len() && !p.is_none());
    let plain = match pins {
        Some(p) => select(rule, &p.ranked(score), labels, num_classes, tau),
        None => select(rule, score, labels, num_classes, tau),
    };
    let line = match pins {
        Some(p) => {
            let by_loss: Vec<bool> = (0..plain.len()).map(|i| plain[i] && !p.keep[i]).collect();
            cut_value(score, &by_loss)
        }
        None => cut_value(score, &plain),
    };
    (plain, line)
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

    /// The floored cut is the global one where every class keeps half its tau share, and
    /// adds a class's lowest losses where the global cut would keep fewer.
    #[test]
    fn floored_keeps_a_rare_class_its_easiest_samples() {
        // Class 0 (4 samples) has every high loss: the global half keeps none of it.
        let losses = [9.0, 8.0, 7.0, 6.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8];
        let labels = [0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1];
        let g = select_global(&losses, 0.5);
        assert_eq!(g.iter().take(4).filter(|&&k| k).count(), 0);
        let f = select_floored(&losses, &labels, 2, 0.5);
        // ceil(0.25 * 4) = 1: its lowest loss (sample 3); the rest as the global cut.
        let mut want = g.clone();
        want[3] = true;
        assert_eq!(f, want);
        assert_eq!(select(Selection::Floored, &losses, &labels, 2, 0.5), want);
        // Tau's share is 6; class 0's floor kept one more.
        assert_eq!(floors_added(Selection::Floored, &f, 0.5), 1);
        assert_eq!(floors_added(Selection::Global, &f, 0.5), 0);
        // Where the global cut keeps every class's floor, nothing changes.
        let even = [0.1, 0.9, 0.2, 0.8, 0.3, 0.7, 0.4, 0.6, 0.5, 1.0, 1.1, 1.2];
        assert_eq!(
            select_floored(&even, &labels, 2, 0.5),
            select_global(&even, 0.5)
        );
        // A label outside the classes counts in the global cut only.
        let odd = [0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 7];
        assert_eq!(select_floored(&losses, &odd, 2, 0.5).len(), 12);
    }

    /// 20000 samples of 10 classes (min cell 20), all kept and of class 9 except the trimmed
    /// cells (given, predicted, count) at the start.
    fn trimmed_cells(cells: &[(u32, u32, usize)]) -> (Vec<bool>, Vec<u32>, Vec<u32>) {
        let n = 20_000;
        let (mut kept, mut labels, mut predicted) = (vec![true; n], vec![9u32; n], vec![9u32; n]);
        let mut at = 0;
        for &(g, q, count) in cells {
            for i in at..at + count {
                (kept[i], labels[i], predicted[i]) = (false, g, q);
            }
            at += count;
        }
        (kept, labels, predicted)
    }

    #[test]
    fn restore_keeps_out_only_classes_with_a_one_sided_confusion() {
        // Class 2: 150 trimmed predicted 1 and none the other way (an attack); classes 0 and
        // 6 trade 60 / 50 (hard clean samples); class 4: 19 trimmed predicted 3 and none
        // back (under the minimum of 20).
        let cells = [(2, 1, 150), (2, 2, 10), (0, 6, 60), (6, 0, 50), (4, 3, 19)];
        let (mut kept, labels, predicted) = trimmed_cells(&cells);
        let s = suspect_classes(&kept, &labels, &predicted, 10);
        assert_eq!((0..10).filter(|&c| s[c]).collect::<Vec<_>>(), vec![2]);
        let before = kept.clone();
        let r = restore(&mut kept, &labels, &predicted, 10);
        assert_eq!((r.back, r.suspect), (60 + 50 + 19, s));
        for i in 0..kept.len() {
            // Class 2's trimmed samples stay out, also those predicted as their own class.
            assert_eq!(kept[i], before[i] || labels[i] != 2, "sample {i}");
        }
        // 150 against 49 the other way is one-sided (150 >= 3 * 50), against 50 it is not.
        for (back, suspect) in [(49, true), (50, false)] {
            let (kept, labels, predicted) = trimmed_cells(&[(2, 1, 150), (1, 2, back)]);
            let s = suspect_classes(&kept, &labels, &predicted, 10);
            assert_eq!(s[2], suspect, "150 against {back}");
            assert!(!s[1]);
        }
        // The minimum scales with the set: 5 samples at least.
        let (kept, labels, predicted) = trimmed_cells(&[(2, 1, 20)]);
        assert!(suspect_classes(&kept, &labels, &predicted, 10)[2]);
        let few = |c: usize| {
            let (k, l, p) = (vec![false; c], vec![2u32; c], vec![1u32; c]);
            suspect_classes(&k, &l, &p, 10)[2]
        };
        assert!(!few(4) && few(5), "at least five");
    }

    #[test]
    fn cut() {
        assert_eq!(cut_value(&[1.0, 3.0, 2.0], &[true, false, true]), Some(2.0));
        assert_eq!(cut_value(&[1.0], &[false]), None);
    }

    /// The line sits at the largest loss the rule keeps: a floored class's floor above the
    /// global cut moves it up, and a kept pin does not count.
    #[test]
    fn the_cut_line_is_the_largest_loss_the_rule_keeps() {
        // Class 0: low losses; class 1: high. Global at 0.5 keeps 0.1 .. 0.4.
        let losses = [0.1, 0.2, 0.3, 0.4, 1.0, 2.0, 3.0, 4.0];
        let labels = [0, 0, 0, 0, 1, 1, 1, 1];
        let (kept, line) = cut_line(Selection::Global, &losses, &labels, 2, 0.5, None);
        assert_eq!(kept.iter().filter(|&&k| k).count(), 4);
        assert_eq!(line, Some(0.4));
        // Floored: class 1's floor (ceil(0.25 * 4) = 1) keeps 1.0 too.
        let (kept, line) = cut_line(Selection::Floored, &losses, &labels, 2, 0.5, None);
        assert!(kept[4] && !kept[5]);
        assert_eq!(line, Some(1.0));
        // Per-class: the highest class's cut (class 1 keeps 1.0 and 2.0).
        let (_, line) = cut_line(Selection::PerClass, &losses, &labels, 2, 0.5, None);
        assert_eq!(line, Some(2.0));
        // A kept pin of loss 4.0 takes a place in the budget, not the line.
        let mut pins = super::super::Pins::none(8);
        pins.keep[7] = true;
        let (kept, line) = cut_line(Selection::Global, &losses, &labels, 2, 0.5, Some(&pins));
        assert!(kept[7] && !kept[3]);
        assert_eq!(line, Some(0.3));
    }
}
