//! The label-noise transition matrix T (T[j][k] = P(given label k | true class j)) a model's
//! class probabilities imply, and the forward-corrected loss that trains on it (Patrini et al.,
//! CVPR 2017): the network's softmax p is read as the clean posterior, p·T as the posterior of
//! the given label, and the loss is -log (p·T)[given]. A systematic flip c -> c+1 at rate r is
//! T[c][c+1] = r: the network no longer has to bend p towards c+1 to fit the flipped samples,
//! so its p keeps saying c and a flipped sample's loss under p stays high.
//!
//! T is estimated with cleanlab's confident joint ([`ConfidentJoint`], the count
//! [`super::suggest::confident_noise_rate`] makes too): each given label's row is scaled to its
//! number of samples and each true class's column normalised.

use super::metrics::{predicted_under, Starved, STARVED_SHARE};
use super::suggest::ConfidentJoint;
use crate::data::Dataset;

/// The transition matrix (row-major `classes x classes`, rows true classes, each row summing
/// to 1) estimated from `probs` (n x classes row-major, one row per sample of `labels`) over
/// the samples `idx`. None when nothing can be estimated (fewer than two classes, no samples,
/// a class with no confident sample).
pub fn estimate(labels: &[u32], probs: &[f32], classes: usize, idx: &[usize]) -> Option<Vec<f32>> {
    let k = classes;
    if k < 2 || idx.is_empty() || probs.len() != labels.len() * k {
        return None;
    }
    from_joint(&ConfidentJoint::count(
        labels,
        probs,
        k,
        idx.iter().copied(),
    ))
}

/// The transition matrix a confident joint implies (see [`estimate`]).
pub fn from_joint(cj: &ConfidentJoint) -> Option<Vec<f32>> {
    let k = cj.count.len();
    // c[g][j]: labelled g, confidently j.
    let mut c: Vec<f64> = cj.joint.iter().map(|&v| v as f64).collect();
    let count = &cj.count;
    // Calibrate: each given label's row sums to its number of samples.
    for g in 0..k {
        let row: f64 = c[g * k..(g + 1) * k].iter().sum();
        if row > 0.0 {
            for j in 0..k {
                c[g * k + j] *= count[g] as f64 / row;
            }
        }
    }
    let mut t = vec![0.0f32; k * k];
    for j in 0..k {
        let col: f64 = (0..k).map(|g| c[g * k + j]).sum();
        if col <= 0.0 {
            return None;
        }
        for g in 0..k {
            t[j * k + g] = (c[g * k + j] / col) as f32;
        }
        // A class's own label stays its likeliest: an estimate that says otherwise is more
        // likely the model's confusion than the data's (and forward correction would learn
        // the swap); the largest other cell is folded into the diagonal's share.
        let row = &mut t[j * k..(j + 1) * k];
        let top = top_flip(row, j).map_or(0.0, |(_, v)| v);
        if row[j] < top {
            let scale = (1.0 - top) / (1.0 - row[j]);
            for (g, v) in row.iter_mut().enumerate() {
                *v = if g == j { top } else { *v * scale };
            }
        }
    }
    Some(t)
}

/// The matrix a forward-corrected round trains with: each true class keeps its own label or
/// carries its one likeliest other label (its [`top_flip`]); the rest of the row's mass goes
/// back to its own label. Forward correction is for one-sided flips (what
/// [`suggests_forward`] looks for), and the small spread cells of an estimate are the
/// estimating model's confusions, not noise: left in, they let the model explain a class's
/// labels with a neighbouring class and fold the one into the other (whole classes predicted
/// as their neighbour on the digits set: README, Noisy labels).
pub fn one_sided(t: &[f32], classes: usize) -> Vec<f32> {
    let k = classes;
    let mut t = t.to_vec();
    if k < 2 || t.len() != k * k {
        return t;
    }
    for j in 0..k {
        let row = &mut t[j * k..(j + 1) * k];
        let top = top_flip(row, j).map(|(g, _)| g);
        let mut spread = 0.0;
        for (g, v) in row.iter_mut().enumerate() {
            if g != j && Some(g) != top {
                spread += *v;
                *v = 0.0;
            }
        }
        row[j] += spread;
    }
    t
}

/// The matrix a forward-corrected round trains with, from an estimate `t`: [`one_sided`]
/// when the estimate's flips are mostly one-sided (its [`shape`]'s second figure over 0.5,
/// the line [`suggests_forward`] draws), else `t` as it is: spread flips (random noise,
/// forward correction set on by hand) are the matrix's content there, not confusions.
pub fn for_training(t: Vec<f32>, classes: usize) -> Vec<f32> {
    match shape(&t, classes) {
        Some((_, s)) if s > 0.5 => one_sided(&t, classes),
        _ => t,
    }
}

/// `t` with no flips into `classes`: every other class's cell into one of them goes back to
/// that class's own label, so only a class's own samples explain its labels. What a
/// forward-corrected round trains with again after its model folded those classes
/// ([`super::run`]): a flip read the wrong way (c + 1 -> c for c -> c + 1) or two classes
/// flipping into one let the matrix explain a class's labels by its neighbours, and the
/// model then predicts the class for almost none of its samples. The folded class's own row
/// stays: its flips are what its samples look like under other labels, not what folds it.
pub fn without_flips_into(t: &[f32], k: usize, classes: &[usize]) -> Vec<f32> {
    let mut t = t.to_vec();
    if t.len() != k * k {
        return t;
    }
    for &c in classes.iter().filter(|&&c| c < k) {
        for j in (0..k).filter(|&j| j != c) {
            t[j * k + j] += std::mem::take(&mut t[j * k + c]);
        }
    }
    t
}

/// The largest cell of true class `j`'s row other than its own label: the label its flipped
/// samples most often carry, and the share (None for a one-class row).
pub fn top_flip(row: &[f32], j: usize) -> Option<(usize, f32)> {
    (0..row.len())
        .filter(|&g| g != j)
        .max_by(|&a, &b| row[a].total_cmp(&row[b]))
        .map(|g| (g, row[g]))
}

/// The chance that sample `i`'s given label is wrong, under a forward-corrected model: its
/// class probabilities `p` (the clean posterior) and the matrix `t` it trained with give
/// P(true = j | x, given g) = p_j T[j][g] / sum_l p_l T[l][g], and the label is wrong with
/// 1 - P(true = g | x, g).
pub fn mislabel_chance(p: &[f32], t: &[f32], g: usize) -> f32 {
    let k = p.len();
    let joint: f32 = (0..k).map(|j| p[j] * t[j * k + g]).sum();
    if joint <= 0.0 || !joint.is_finite() {
        return 0.0;
    }
    (1.0 - p[g] * t[g * k + g] / joint).clamp(0.0, 1.0)
}

/// A cut's precision and recall estimated without truth, from a forward-corrected round:
/// the expected number of mislabelled samples among the trimmed ([`mislabel_chance`] summed)
/// over the trimmed, and over the expected number among all. None without probabilities, a
/// matrix, or anything trimmed.
pub fn cut_quality(labels: &[u32], probs: &[f32], t: &[f32], kept: &[bool]) -> Option<(f64, f64)> {
    let n = labels.len();
    if n == 0 || kept.len() != n || !probs.len().is_multiple_of(n) {
        return None;
    }
    let k = probs.len() / n;
    if k < 2 || t.len() != k * k {
        return None;
    }
    let (mut bad_trimmed, mut bad_all, mut trimmed) = (0.0f64, 0.0f64, 0usize);
    for i in 0..n {
        let g = labels[i] as usize;
        if g >= k {
            continue;
        }
        let c = mislabel_chance(&probs[i * k..(i + 1) * k], t, g) as f64;
        bad_all += c;
        if !kept[i] {
            bad_trimmed += c;
            trimmed += 1;
        }
    }
    (trimmed > 0 && bad_all > 0.0).then(|| (bad_trimmed / trimmed as f64, bad_trimmed / bad_all))
}

/// What a transition matrix says of the label noise: the share of labels it expects flipped
/// (1 - the mean of its diagonal) and how one-sided the flips are: the share of all the
/// flipped mass that lies in its class's largest other cell, 1 when each class's flips all go
/// to one other class, as a systematic flip or a relabelling attack, about 1/(k-1) when they
/// spread evenly, as random noise. Each class weighs by its flips: where one class carries
/// the noise (40% of the Shirts labelled T-shirt, nothing else) the other classes' few
/// flips, their hard samples' confusions spread over their neighbours, count for little
/// (a plain mean over the classes read that set as 0.49 one-sided, this reads 0.69; README,
/// "Tau from the data").
pub fn shape(t: &[f32], classes: usize) -> Option<(f32, f32)> {
    let k = classes;
    if k < 2 || t.len() != k * k {
        return None;
    }
    let flipped = 1.0 - (0..k).map(|j| t[j * k + j]).sum::<f32>() / k as f32;
    let (mut top, mut off) = (0.0f32, 0.0f32);
    for j in 0..k {
        off += (1.0 - t[j * k + j]).max(0.0);
        top += top_flip(&t[j * k..(j + 1) * k], j).map_or(0.0, |(_, v)| v);
    }
    let one_sided = if off > 1e-6 { top / off } else { 0.0 };
    Some((flipped, one_sided))
}

/// Whether round 0's matrix (its [`shape`]) points at forward correction: at least 5% of the
/// labels flipped, and most flips going to their class's likeliest other class (the measured cases:
/// 0.78 one-sided at 40% systematic noise, where forward correction gained 10 - 15 points;
/// 0.14 at 60% random noise, where it did not help).
pub fn suggests_forward(flipped: f32, one_sided: f32) -> bool {
    flipped >= 0.05 && one_sided > 0.5
}

/// The share of flipped labels (round 0's [`shape`]) from which spread flips call for
/// co-teaching ([`calls_for_coteaching`]). Co-teaching was measured better than plain ITLM at
/// 20%, 40% and 60% random noise (README, Noisy labels), which round 0 reads as 23%, about 45%
/// and 64 - 66%; clean Fashion-MNIST reads as 1 - 4%.
pub const COTEACH_FLIPPED: f32 = 0.15;

/// Whether round 0's flips call for co-teaching: many, and not one-sided (those call for
/// forward correction instead, [`suggests_forward`]): random label noise.
pub fn calls_for_coteaching(flipped: f32, one_sided: f32) -> bool {
    flipped >= COTEACH_FLIPPED && !suggests_forward(flipped, one_sided)
}

/// The [`shape`] of the matrix round 0's class probabilities `probs` imply over the samples
/// `idx` (None when nothing can be estimated): what [`super::Forward::Auto`] reads, then
/// [`suggests_forward`] decides.
pub fn round0_shape(
    labels: &[u32],
    probs: &[f32],
    classes: usize,
    idx: &[usize],
) -> Option<(f32, f32)> {
    estimate(labels, probs, classes, idx).and_then(|t| shape(&t, classes))
}

/// The transition matrix of known truth (rows true classes), for measurements: `true_labels`
/// names each sample's class where known.
pub fn from_truth(
    labels: &[u32],
    true_labels: &[Option<u32>],
    classes: usize,
    idx: &[usize],
) -> Vec<f32> {
    let k = classes;
    let mut c = vec![0.0f64; k * k];
    for &i in idx {
        let g = labels[i] as usize;
        let j = true_labels[i].map_or(g, |t| t as usize);
        if g < k && j < k {
            c[j * k + g] += 1.0;
        }
    }
    let mut t = vec![0.0f32; k * k];
    for j in 0..k {
        let row: f64 = c[j * k..(j + 1) * k].iter().sum();
        for g in 0..k {
            t[j * k + g] = if row > 0.0 {
                (c[j * k + g] / row) as f32
            } else {
                f32::from(g == j)
            };
        }
    }
    t
}

/// The flip that folded class `c`: the cell "`a` -> `c`" of `t` (true class `a` carrying label
/// `c`), where `a` is the class the model predicts most often for the samples labelled `c`
/// (other than `c`): the class whose row let the matrix explain `c`'s labels, so that the
/// model could call `c`'s own samples `a`. None when that cell is empty (a class that folded
/// only because another did: its samples went where the other's flip sent them).
pub fn folding_flip(
    t: &[f32],
    k: usize,
    labels: &[u32],
    predicted: &[u32],
    c: usize,
) -> Option<usize> {
    if t.len() != k * k || c >= k {
        return None;
    }
    let mut votes = vec![0usize; k];
    for (&p, &l) in predicted.iter().zip(labels) {
        if l as usize == c && p as usize != c {
            if let Some(v) = votes.get_mut(p as usize) {
                *v += 1;
            }
        }
    }
    let (a, &v) = votes.iter().enumerate().max_by_key(|&(_, &v)| v)?;
    (v > 0 && t[a * k + c] >= FOLDING_CELL).then_some(a)
}

/// The smallest share a cell must hold to be taken for the flip that folded a class.
const FOLDING_CELL: f32 = 0.01;

/// Under this share of its labelled samples predicted as itself, a class whose samples the
/// model puts in a class with a flip into it is taken as partly folded ([`unfolding`]; a class
/// merely hard for the model stays above: Fashion-MNIST's Shirt under forward correction is
/// predicted for 69 - 90% of its labelled count).
const PARTIAL_FOLD_SHARE: f64 = 0.5;

/// `t` without the flip "`a` -> `c`" (that cell's share goes back to `a`'s own label).
pub fn without_flip(t: &[f32], k: usize, a: usize, c: usize) -> Vec<f32> {
    let mut t = t.to_vec();
    if t.len() == k * k && a < k && c < k && a != c {
        t[a * k + a] += std::mem::take(&mut t[a * k + c]);
    }
    t
}

/// After a forward-corrected model (trained with `transition` on `trained`) predicted
/// `predicted`: when it folded a class it had not folded before this round trained again
/// ([`starved_classes`](super::metrics::starved_classes), or partly: predicted for under half
/// its labelled samples, put in a class whose flip into it the matrix holds; added to
/// `unfolded`), the matrix to train again with; None when nothing new folded (or no matrix).
///
/// For each newly folded class the matrix loses the flip that folded it ([`folding_flip`]:
/// from the class the model put the class's samples in), and keeps every other flip into
/// it, the true ones among them (README, digits at 40% systematic noise: a flip c + 1 -> c
/// read the wrong way for c -> c + 1 folds c into c + 1; c - 1 -> c is the noise itself).
/// Where no newly folded class has such a flip: on the round's first model, the matrix loses
/// every flip into them ([`without_flips_into`]); on a model trained again, None (those
/// classes folded because a flip was taken away, not by a flip of their own: the round keeps
/// that model, and the next round's matrix is estimated afresh from it; README, digits copy
/// C / S = 6 / 1: 96.7% this way, 91.4% taking every flip into both classes away).
/// Where a class folds through the reverse of a flip taken out earlier in the round (the
/// estimate held a pair both ways, "a -> c" and "c -> a"), and deeper than the fold that flip
/// was blamed for, that earlier flip comes back as it was and the reverse goes: taking out the
/// one let the other fold a class further than the one had, so the other is the estimating
/// model's confusion (README, Fashion-MNIST 6000 at 40% systematic, seed 1: Shirt partly
/// folded, predicted for 237 of its 611, through Sandal -> Shirt, then Sandal for 3 of its
/// 612 through Shirt -> Sandal; 78.2% taking both away, 85.2% this way). A shallower fold
/// keeps both out (digits copy 3 / 0: 7 for 0 of its 135, then 8 for 53 of its 136).
pub(super) fn unfolding(
    transition: Option<&[f32]>,
    trained: &Dataset,
    predicted: &[u32],
    state: &mut Unfolds,
) -> Option<Vec<f32>> {
    let t = transition?;
    let Unfolds {
        classes: unfolded,
        dropped,
    } = state;
    let k = trained.num_classes();
    if t.len() != k * k {
        return None;
    }
    let labels = trained.labels();
    // The classes not unfolded yet that the model predicts for under half their labelled
    // samples: folded ones (under a tenth, `starved_classes`), then partly folded ones, put
    // in a class whose flip into them the matrix holds (the wrong-way cell, read partly).
    // Each with the flip that folded it ([`folding_flip`], looked up once), full folds first.
    let full = |f: &Starved| (f.predicted as f64) < STARVED_SHARE * f.labelled as f64;
    let mut found: Vec<(Starved, Option<usize>)> =
        predicted_under(labels, predicted, k, PARTIAL_FOLD_SHARE)
            .into_iter()
            .filter(|f| !unfolded.iter().any(|u| u.class == f.class))
            .map(|f| (f, folding_flip(t, k, labels, predicted, f.class as usize)))
            .filter(|(f, flip)| full(f) || flip.is_some())
            .collect();
    if found.is_empty() {
        return None;
    }
    found.sort_by_key(|(f, _)| !full(f));
    // Each flip with the depth of the fold it caused (the share of its class's labelled
    // samples still predicted as the class).
    let depth = |f: &Starved| f.predicted as f64 / f.labelled.max(1) as f64;
    let flips: Vec<(usize, usize, f64)> = found
        .iter()
        .filter_map(|(f, flip)| flip.map(|a| (a, f.class as usize, depth(f))))
        .collect();
    let folded: Vec<Starved> = found.into_iter().map(|(f, _)| f).collect();
    if flips.is_empty() {
        if !unfolded.is_empty() {
            return None;
        }
        for f in &folded {
            let c = f.class as usize;
            for a in (0..k).filter(|&a| a != c && t[a * k + c] > 0.0) {
                dropped.push(Dropped::of(t, k, a, c, depth(f)));
            }
        }
        let classes: Vec<usize> = folded.iter().map(|f| f.class as usize).collect();
        unfolded.extend(folded);
        return Some(without_flips_into(t, k, &classes));
    }
    unfolded.extend(folded);
    let mut t = t.to_vec();
    for (a, c, depth) in flips {
        // The reverse flip "c -> a" taken out earlier this round for a shallower fold, and now
        // c folded deeper through "a -> c": of a pair the estimate held both ways, the one
        // whose absence folds a class deeper is the noise, and it comes back.
        if let Some(i) = dropped
            .iter()
            .position(|d| (d.from, d.into) == (c, a) && depth < d.depth)
        {
            let back = dropped.remove(i);
            t[c * k + c] -= back.share;
            t[c * k + a] += back.share;
        }
        dropped.push(Dropped::of(&t, k, a, c, depth));
        t = without_flip(&t, k, a, c);
    }
    Some(t)
}

/// What a round's fold check ([`unfolding`]) has done so far: the classes it found folded, and
/// the flips it took out of the matrix.
#[derive(Debug, Default)]
pub(super) struct Unfolds {
    pub classes: Vec<Starved>,
    dropped: Vec<Dropped>,
}

impl Unfolds {
    /// The flips taken out and still out, as "true class -> given label", in the order taken.
    pub fn flips(&self) -> Vec<(u32, u32)> {
        self.dropped
            .iter()
            .map(|d| (d.from as u32, d.into as u32))
            .collect()
    }
}

/// A flip "`from` -> `into`" the fold check took out: its share in the matrix, and the depth
/// of the fold it was blamed for (the share of `into`'s labelled samples the model still
/// predicted as `into`).
#[derive(Debug)]
struct Dropped {
    from: usize,
    into: usize,
    share: f32,
    depth: f64,
}

impl Dropped {
    /// The flip "`a` -> `c`" of `t` (k x k), taken out for a fold of depth `depth`.
    fn of(t: &[f32], k: usize, a: usize, c: usize, depth: f64) -> Self {
        Dropped {
            from: a,
            into: c,
            share: t[a * k + c],
            depth,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_sided_keeps_each_class_s_likeliest_flip_and_gives_the_rest_back() {
        let t = [
            0.6, 0.3, 0.1, //
            0.05, 0.9, 0.05, //
            0.0, 0.0, 1.0,
        ];
        let s = one_sided(&t, 3);
        let want = [0.7, 0.3, 0.0, 0.95, 0.05, 0.0, 0.0, 0.0, 1.0];
        // Row 1's tie goes to one of its two cells; rows sum to 1 either way.
        assert!((s[0] - want[0]).abs() < 1e-6 && (s[1] - want[1]).abs() < 1e-6 && s[2] == 0.0);
        assert!((s[4] - 0.95).abs() < 1e-6 && (s[3] + s[5] - 0.05).abs() < 1e-6);
        assert!(s[3] == 0.0 || s[5] == 0.0);
        assert_eq!(&s[6..], &want[6..]);
        for j in 0..3 {
            assert!((s[j * 3..j * 3 + 3].iter().sum::<f32>() - 1.0).abs() < 1e-6);
        }
        // Anything but a square matrix comes back as it was.
        assert_eq!(one_sided(&t[..4], 3), t[..4].to_vec());
    }

    /// Four classes: 0 -> 1 and 1 -> 2 the noise, 2 -> 3 too, and 3 -> 2 read the wrong way
    /// (the digits' fold of class 2).
    const DIGITS_FOLD: [f32; 16] = [
        0.9, 0.1, 0.0, 0.0, //
        0.0, 0.7, 0.3, 0.0, //
        0.0, 0.0, 0.8, 0.2, //
        0.0, 0.0, 0.25, 0.75,
    ];

    /// The digits' fold: 1 -> 2 read the right way, 3 -> 2 the wrong way (the truth is 2 -> 3),
    /// so label 2 is explained by two neighbours. Without flips into 2, both cells go back to
    /// their rows' own labels; class 2's own flip and every other cell stay.
    #[test]
    fn no_flips_into_a_folded_class_and_its_own_row_stays() {
        let t = DIGITS_FOLD;
        let u = without_flips_into(&t, 4, &[2]);
        let want = [
            0.9, 0.1, 0.0, 0.0, //
            0.0, 1.0, 0.0, 0.0, //
            0.0, 0.0, 0.8, 0.2, //
            0.0, 0.0, 0.0, 1.0,
        ];
        for (i, (a, b)) in u.iter().zip(want).enumerate() {
            assert!((a - b).abs() < 1e-6, "cell {i}: {a} against {b}");
        }
        // Two classes at once, an index past the classes ignored, a misfit matrix as it was.
        let both = without_flips_into(&t, 4, &[2, 1, 9]);
        assert!((both[0] - 1.0).abs() < 1e-6 && both[1] == 0.0);
        assert_eq!(&both[4..], &u[4..]);
        assert_eq!(without_flips_into(&t[..9], 4, &[2]), t[..9].to_vec());
        assert_eq!(without_flips_into(&t, 4, &[]), t.to_vec());
    }

    /// The digits' fold again (1 -> 2 the noise, 3 -> 2 read the wrong way for 2 -> 3): the
    /// model calls most samples labelled 2 by 3 (class 2's own samples, which the wrong-way
    /// cell let it call 3) and a few by 1 (the flipped ones, rightly). The flip that folded 2
    /// is 3 -> 2; without it, 1 -> 2 stays.
    #[test]
    fn the_flip_that_folded_a_class_is_the_one_from_the_class_that_took_its_samples() {
        let t = DIGITS_FOLD;
        let labels = [2, 2, 2, 2, 2, 1, 3, 0];
        let predicted = [3, 3, 3, 1, 1, 1, 3, 0];
        assert_eq!(folding_flip(&t, 4, &labels, &predicted, 2), Some(3));
        let u = without_flip(&t, 4, 3, 2);
        assert!((u[15] - 1.0).abs() < 1e-6 && u[14] == 0.0);
        assert_eq!(&u[..12], &t[..12], "every other row as it was, 1 -> 2 too");
        // The class that took the samples has no flip into the folded one (it folded only
        // because another did): no cell to blame.
        let predicted = [0, 0, 0, 1, 1, 1, 3, 0];
        assert_eq!(folding_flip(&t, 4, &labels, &predicted, 2), None);
        // Nothing predicted elsewhere, a class past the matrix, a misfit matrix.
        assert_eq!(folding_flip(&t, 4, &labels, &labels, 2), None);
        assert_eq!(folding_flip(&t, 4, &labels, &predicted, 7), None);
        assert_eq!(folding_flip(&t[..9], 4, &labels, &predicted, 2), None);
        assert_eq!(without_flip(&t, 4, 2, 2), t.to_vec());
    }

    /// A dataset of `labels` (1x1 pixels) for [`unfolding`].
    fn labelled(labels: &[u32], k: usize) -> Dataset {
        let n = labels.len();
        Dataset::from_parts(
            "t",
            crate::data::Source::Memory,
            (0..k).map(|c| c.to_string()).collect(),
            crate::data::ImageShape::new(1, 1, 1),
            vec![0; n],
            labels.to_vec(),
            (0..n).map(|i| i.to_string()).collect(),
        )
        .unwrap()
    }

    /// A class partly folded (predicted for under half its labelled samples, the rest put in
    /// the class whose wrong-way flip into it the matrix holds) loses that flip, as a fully
    /// folded one does; a class as often missed but put in a class with no flip into it (merely
    /// hard) keeps the matrix as it is, and so does one missed for under half of its samples.
    #[test]
    fn a_partly_folded_class_loses_the_flip_that_folded_it() {
        let t = DIGITS_FOLD;
        // 20 samples of each class; 12 of those labelled 2 predicted as 3, the rest right.
        let labels: Vec<u32> = (0..80).map(|i| i / 20).collect();
        let mut predicted = labels.clone();
        for p in predicted[40..52].iter_mut() {
            *p = 3;
        }
        let data = labelled(&labels, 4);
        let mut unfolded = Unfolds::default();
        let u = unfolding(Some(&t), &data, &predicted, &mut unfolded).expect("a partial fold");
        assert_eq!(u, without_flip(&t, 4, 3, 2));
        assert_eq!(unfolded.classes.len(), 1);
        let c = &unfolded.classes[0];
        assert_eq!((c.class, c.predicted), (2, 8));
        // Once unfolded, the same model's counts ask nothing more.
        assert!(unfolding(Some(&t), &data, &predicted, &mut unfolded).is_none());
        // 9 of 20 missed (over half predicted right): no fold.
        let mut fewer = labels.clone();
        for p in fewer[40..49].iter_mut() {
            *p = 3;
        }
        assert!(unfolding(Some(&t), &data, &fewer, &mut Unfolds::default()).is_none());
        // 12 of 20 put in class 0, which has no flip into 2: hard, not folded.
        let mut elsewhere = labels.clone();
        for p in elsewhere[40..52].iter_mut() {
            *p = 0;
        }
        assert!(unfolding(Some(&t), &data, &elsewhere, &mut Unfolds::default()).is_none());
    }

    /// An estimate holding a pair both ways, 0 -> 1 (the noise) and 1 -> 0 (the estimating
    /// model's confusion: Fashion-MNIST's Sandal -> Shirt and Shirt -> Sandal at 6000 images,
    /// seed 1). The first model calls class 1's flipped samples 0, rightly, and too few of
    /// class 1's own 1: class 1 counts as partly folded through 0 -> 1, which goes. Trained
    /// again, the model folds class 0 deeper through 1 -> 0: of the pair, the one taken out
    /// first was the noise, so it comes back and 1 -> 0 goes. Without the first step, or after
    /// a shallower second fold, 1 -> 0 just goes.
    #[test]
    fn a_fold_through_the_reverse_of_a_flip_taken_out_brings_that_flip_back() {
        let t = [
            0.6, 0.4, 0.0, //
            0.3, 0.7, 0.0, //
            0.0, 0.0, 1.0,
        ];
        let labels: Vec<u32> = (0..60).map(|i| i / 20).collect();
        let data = labelled(&labels, 3);
        let mut first = labels.clone();
        for p in first[20..32].iter_mut() {
            *p = 0;
        }
        let mut state = Unfolds::default();
        let t1 = unfolding(Some(&t), &data, &first, &mut state).expect("class 1 partly folded");
        assert_eq!(t1, without_flip(&t, 3, 0, 1));
        // Trained again: 16 of the 20 samples labelled 0 called 1.
        let mut again = labels.clone();
        for p in again[..16].iter_mut() {
            *p = 1;
        }
        let t2 = unfolding(Some(&t1), &data, &again, &mut state).expect("class 0 folded");
        let want = without_flip(&t, 3, 1, 0);
        for (i, (a, b)) in t2.iter().zip(&want).enumerate() {
            assert!((a - b).abs() < 1e-6, "cell {i}: {a} against {b}");
        }
        let classes: Vec<u32> = state.classes.iter().map(|c| c.class).collect();
        assert_eq!(classes, [1, 0]);
        // Nothing taken out before: the reverse flip is not brought back.
        let alone = unfolding(Some(&t1), &data, &again, &mut Unfolds::default());
        assert_eq!(alone, Some(without_flip(&t1, 3, 1, 0)));
        // A second fold shallower than the first (9 of the 20 labelled 0 still called 0,
        // against 8 of 20 for class 1): both flips stay out.
        let mut state = Unfolds::default();
        unfolding(Some(&t), &data, &first, &mut state).expect("class 1 partly folded");
        let mut shallower = labels.clone();
        for p in shallower[..11].iter_mut() {
            *p = 1;
        }
        let both = unfolding(Some(&t1), &data, &shallower, &mut state).expect("class 0 folded");
        assert_eq!(both, without_flip(&t1, 3, 1, 0));
    }

    /// Training keeps a one-sided estimate's likeliest flips only, and a spread one whole.
    #[test]
    fn training_sparsifies_one_sided_estimates_only() {
        // True j labelled j + 1 at 40%, plus a little confusion with j + 2.
        let one = [
            0.55, 0.4, 0.05, //
            0.05, 0.55, 0.4, //
            0.4, 0.05, 0.55,
        ];
        let s = for_training(one.to_vec(), 3);
        assert_eq!(s, one_sided(&one, 3));
        assert!((s[0] - 0.6).abs() < 1e-6 && s[2] == 0.0);
        // Random noise: each class's flips spread evenly.
        let spread = [0.4, 0.3, 0.3, 0.3, 0.4, 0.3, 0.3, 0.3, 0.4];
        assert_eq!(for_training(spread.to_vec(), 3), spread.to_vec());
    }

    /// Three classes; class 0's samples labelled 1 at rate 0.4 (a systematic flip), a model
    /// that sees through the flip (p = 0.9 on the true class).
    #[test]
    fn recovers_a_systematic_flip() {
        let k = 3;
        let (mut labels, mut probs, mut truth) = (Vec::new(), Vec::new(), Vec::new());
        for j in 0..k {
            for s in 0..100 {
                let g = if j == 0 && s < 40 { 1 } else { j };
                labels.push(g as u32);
                truth.push(Some(j as u32));
                let mut row = vec![0.05f32; k];
                row[j] = 0.9;
                probs.extend(row);
            }
        }
        let idx: Vec<usize> = (0..labels.len()).collect();
        let t = estimate(&labels, &probs, k, &idx).expect("estimable");
        let want = from_truth(&labels, &truth, k, &idx);
        for (a, b) in t.iter().zip(&want) {
            assert!((a - b).abs() < 1e-4, "{t:?} vs {want:?}");
        }
        assert!((t[1] - 0.4).abs() < 1e-4, "{t:?}");
        for j in 0..k {
            let s: f32 = t[j * k..(j + 1) * k].iter().sum();
            assert!((s - 1.0).abs() < 1e-5);
        }
    }

    #[test]
    fn a_class_keeps_its_own_label_likeliest() {
        // Class 0's samples mostly labelled 1: the estimate would say T[0][0] < T[0][1].
        let k = 2;
        let labels = [1u32, 1, 1, 1, 1, 1];
        let probs = [
            0.9f32, 0.1, 0.9, 0.1, 0.9, 0.1, 0.1, 0.9, 0.1, 0.9, 0.1, 0.9,
        ];
        let idx: Vec<usize> = (0..6).collect();
        // Class 0 has no labelled sample: its threshold is infinite, nobody is confidently 0.
        assert!(estimate(&labels, &probs, k, &idx).is_none());
        // Class 0: 5 labelled 0 and 8 labelled 1 look like it (2 more look like class 1). (A
        // class of fewer than 5 samples, well under the others, has no threshold at all:
        // suggest::TINY_CLASS.)
        let labels: Vec<u32> = (0..15).map(|i| u32::from(i >= 5)).collect();
        let probs: Vec<f32> = (0..15)
            .flat_map(|i| if i < 13 { [0.9f32, 0.1] } else { [0.1, 0.9] })
            .collect();
        let idx: Vec<usize> = (0..15).collect();
        let t = estimate(&labels, &probs, k, &idx).expect("estimable");
        assert!(t[0] >= t[1] - 1e-6, "{t:?}");
        assert!((t[0] + t[1] - 1.0).abs() < 1e-5 && (t[2] + t[3] - 1.0).abs() < 1e-5);
    }

    #[test]
    fn a_cuts_quality_comes_from_each_samples_chance_of_a_wrong_label() {
        // Class 0 labelled 1 at 0.4.
        let t = [0.6f32, 0.4, 0.0, 1.0];
        // Looks like 0, labelled 1: surely flipped; looks like 1, labelled 1: clean; looks
        // like 0, labelled 0: clean; half and half, labelled 1: 0.5 * 0.4 / (0.5 * 0.4 + 0.5).
        assert_eq!(mislabel_chance(&[1.0, 0.0], &t, 1), 1.0);
        assert_eq!(mislabel_chance(&[0.0, 1.0], &t, 1), 0.0);
        assert_eq!(mislabel_chance(&[1.0, 0.0], &t, 0), 0.0);
        let half = mislabel_chance(&[0.5, 0.5], &t, 1);
        assert!((half - 0.2 / 0.7).abs() < 1e-6, "{half}");
        let labels = [1u32, 1, 0, 1];
        let probs = [1.0f32, 0.0, 0.0, 1.0, 1.0, 0.0, 0.5, 0.5];
        // Trim samples 0 and 3: expected bad 1 + 0.286 of 1.286 in all.
        let (p, r) = cut_quality(&labels, &probs, &t, &[false, true, true, false]).unwrap();
        assert!((p - (1.0 + 0.2 / 0.7) / 2.0).abs() < 1e-6, "{p}");
        assert!((r - 1.0).abs() < 1e-9, "{r}");
        // Nothing trimmed, or no matrix: no estimate.
        assert!(cut_quality(&labels, &probs, &t, &[true; 4]).is_none());
        assert!(cut_quality(&labels, &probs, &[], &[false; 4]).is_none());
    }

    #[test]
    fn the_shape_tells_one_sided_flips_from_spread_ones() {
        // 3 classes, 40% of each to the next: one-sided.
        let sys = [0.6f32, 0.4, 0.0, 0.0, 0.6, 0.4, 0.4, 0.0, 0.6];
        let (f, s) = shape(&sys, 3).unwrap();
        assert!((f - 0.4).abs() < 1e-6 && (s - 1.0).abs() < 1e-6, "{f} {s}");
        assert!(suggests_forward(f, s));
        // 4 classes, 60% spread evenly over the three others: a third in the largest.
        let rand: Vec<f32> = (0..16)
            .map(|i| if i % 5 == 0 { 0.4 } else { 0.2 })
            .collect();
        let (f, s) = shape(&rand, 4).unwrap();
        assert!(
            (f - 0.6).abs() < 1e-6 && (s - 1.0 / 3.0).abs() < 1e-6,
            "{f} {s}"
        );
        assert!(!suggests_forward(f, s));
        // Clean: nothing flipped.
        let (f, s) = shape(&[1.0, 0.0, 0.0, 1.0], 2).unwrap();
        assert_eq!((f, s), (0.0, 0.0));
        assert!(!suggests_forward(f, s));
        assert!(shape(&[1.0], 2).is_none());
        // One class carries the noise (40% of class 0 to class 1), the others confuse a few
        // samples evenly: the flips are one-sided by their mass, not by a count of classes.
        let mut one = vec![0.0f32; 16];
        for j in 0..4 {
            for g in 0..4 {
                one[j * 4 + g] = if j == g { 0.97 } else { 0.01 };
            }
        }
        one[0] = 0.6;
        one[1] = 0.38;
        let (f, s) = shape(&one, 4).unwrap();
        assert!((f - (0.4 + 3.0 * 0.03) / 4.0).abs() < 1e-6, "{f}");
        assert!(
            (s - (0.38 + 3.0 * 0.01) / (0.4 + 3.0 * 0.03)).abs() < 1e-6,
            "{s}"
        );
        assert!(suggests_forward(f, s), "{f} {s}");
    }

    #[test]
    fn nothing_to_estimate() {
        assert!(estimate(&[0], &[1.0], 1, &[0]).is_none());
        assert!(estimate(&[0, 1], &[1.0, 0.0, 0.0, 1.0], 2, &[]).is_none());
    }
}
