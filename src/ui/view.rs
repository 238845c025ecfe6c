//! What the panels show for one round at one cut, computed once per (round, tau, filter) and
//! cached: the kept set, histogram bins, the confusion of trimmed samples and the grid lists.
//! Pure functions of a round record, so the slider re-cuts instantly without retraining.

use std::sync::Arc;

use crate::itlm::{select, RoundRecord, Selection, TrimQuality};

/// Histogram bins over a round's scores.
pub const BINS: usize = 60;
/// Samples shown on each side of the cut in the Boundary tab.
pub const BOUNDARY_SIDE: usize = 48;

/// Loss histogram at one cut.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Histogram {
    pub lo: f64,
    pub width: f64,
    pub kept: Vec<usize>,
    pub trimmed: Vec<usize>,
    /// Truly bad samples per bin (when ground truth is known).
    pub bad: Option<Vec<usize>>,
}

impl Histogram {
    /// Centre of bin `b`.
    pub fn center(&self, b: usize) -> f64 {
        self.lo + (b as f64 + 0.5) * self.width
    }
}

/// A round cut at a tau.
#[derive(Clone, Debug)]
pub struct Cut {
    pub record: Arc<RoundRecord>,
    /// Position of the round in the history.
    pub index: usize,
    pub tau: f64,
    pub kept: Vec<bool>,
    pub kept_count: usize,
    pub trimmed_count: usize,
    /// What the round's restore did (`None` without `Config::restore`).
    pub restored: Option<select::Restored>,
    /// Largest score the cut itself kept (before any restore): where the line is drawn.
    pub cut_value: Option<f32>,
    pub hist: Histogram,
    /// Trimmed samples by (given, predicted): `confusion[g * classes + p]`.
    pub confusion: Vec<usize>,
    pub classes: usize,
    /// Trimmed against truly bad, at this cut.
    pub trim: Option<TrimQuality>,
    /// Sample indices by score, ascending (NaN last, ties by index).
    pub ascending: Arc<Vec<usize>>,
}

/// Which grid.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize,
)]
pub enum GridTab {
    /// Highest score first.
    #[default]
    Trimmed,
    /// The samples on both sides of the cut.
    Boundary,
    /// Lowest score first.
    Kept,
}

impl GridTab {
    pub const ALL: [GridTab; 3] = [GridTab::Trimmed, GridTab::Boundary, GridTab::Kept];

    pub fn name(self) -> &'static str {
        match self {
            GridTab::Trimmed => "Trimmed",
            GridTab::Boundary => "Boundary",
            GridTab::Kept => "Kept",
        }
    }
}

/// Restricts the grids.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Filter {
    /// Given class.
    pub class: Option<u32>,
    /// (given, predicted) cell of the confusion grid.
    pub cell: Option<(u32, u32)>,
}

impl Filter {
    pub fn accepts(&self, given: u32, predicted: u32) -> bool {
        self.class.is_none_or(|c| c == given)
            && self.cell.is_none_or(|(g, p)| g == given && p == predicted)
    }

    pub fn is_active(&self) -> bool {
        self.class.is_some() || self.cell.is_some()
    }
}

/// The three grid lists at one cut and filter.
#[derive(Clone, Debug, Default)]
pub struct Lists {
    pub trimmed: Vec<usize>,
    pub boundary: Vec<usize>,
    pub kept: Vec<usize>,
}

impl Lists {
    pub fn get(&self, tab: GridTab) -> &[usize] {
        match tab {
            GridTab::Trimmed => &self.trimmed,
            GridTab::Boundary => &self.boundary,
            GridTab::Kept => &self.kept,
        }
    }
}

fn sort_key(x: f32) -> f32 {
    if x.is_nan() {
        f32::INFINITY
    } else {
        x
    }
}

/// Indices sorted by score ascending, NaN as +inf, ties by index (the selection's order).
pub fn ascending(score: &[f32]) -> Vec<usize> {
    let mut idx: Vec<usize> = (0..score.len()).collect();
    idx.sort_unstable_by(|&a, &b| {
        sort_key(score[a])
            .total_cmp(&sort_key(score[b]))
            .then(a.cmp(&b))
    });
    idx
}

/// Bins of `score` split by `kept`, with `bad` as an overlay.
pub fn histogram(score: &[f32], kept: &[bool], bad: Option<&[bool]>) -> Histogram {
    let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
    for &s in score.iter().filter(|s| s.is_finite()) {
        lo = lo.min(s as f64);
        hi = hi.max(s as f64);
    }
    if !lo.is_finite() {
        (lo, hi) = (0.0, 1.0);
    }
    let width = ((hi - lo) / BINS as f64).max(1e-9);
    let mut h = Histogram {
        lo,
        width,
        kept: vec![0; BINS],
        trimmed: vec![0; BINS],
        bad: bad.map(|_| vec![0; BINS]),
    };
    for (i, &s) in score.iter().enumerate() {
        let b = if s.is_finite() {
            (((s as f64 - lo) / width) as usize).min(BINS - 1)
        } else {
            BINS - 1
        };
        if kept[i] {
            h.kept[b] += 1;
        } else {
            h.trimmed[b] += 1;
        }
        if let (Some(bad), Some(hb)) = (bad, h.bad.as_mut()) {
            hb[b] += usize::from(bad[i]);
        }
    }
    h
}

/// How a round is cut: the selection rule, tau, and whether the round restores.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct CutRule {
    pub rule: Selection,
    pub tau: f64,
    pub restore: bool,
}

/// The samples' given labels, how many classes there are, and the truth when known.
#[derive(Clone, Copy, Debug)]
pub struct Given<'a> {
    pub labels: &'a [u32],
    pub classes: usize,
    pub bad: Option<&'a [bool]>,
}

/// Cut `record` (round `index` of the history; `ascending` its samples by score) as `how` says.
pub fn cut(
    record: Arc<RoundRecord>,
    index: usize,
    ascending: Arc<Vec<usize>>,
    given: Given<'_>,
    how: CutRule,
) -> Cut {
    let Given {
        labels,
        classes,
        bad,
    } = given;
    let CutRule { rule, tau, restore } = how;
    let plain = select::select(rule, &record.score, labels, classes, tau);
    let cut_value = select::cut_value(&record.score, &plain);
    let classifier = record.predicted.len() == plain.len();
    let mut kept = plain;
    let restored = select::restore_if(restore, &mut kept, labels, &record.predicted, classes);
    let kept_count = kept.iter().filter(|&&k| k).count();
    let hist = histogram(&record.score, &kept, bad);
    let mut confusion = vec![0usize; classes * classes];
    for (i, &k) in kept.iter().enumerate() {
        if !k && classifier {
            let (g, p) = (labels[i] as usize, record.predicted[i] as usize);
            if g < classes && p < classes {
                confusion[g * classes + p] += 1;
            }
        }
    }
    let trim = bad.map(|b| TrimQuality::measure(&kept, b));
    Cut {
        index,
        tau,
        kept_count,
        trimmed_count: kept.len() - kept_count,
        restored,
        kept,
        cut_value,
        hist,
        confusion,
        classes,
        trim,
        ascending,
        record,
    }
}

/// The grid lists of a cut under a filter.
pub fn lists(cut: &Cut, labels: &[u32], rule: Selection, filter: Filter) -> Lists {
    let r = &cut.record;
    let pred = |i: usize| r.predicted.get(i).copied().unwrap_or(labels[i]);
    let mut kept_asc = Vec::new();
    let mut trimmed_asc = Vec::new();
    for &i in cut.ascending.iter() {
        if !filter.accepts(labels[i], pred(i)) {
            continue;
        }
        if cut.kept[i] {
            kept_asc.push(i);
        } else {
            trimmed_asc.push(i);
        }
    }
    let boundary = match rule {
        Selection::Global => around(&kept_asc, &trimmed_asc, BOUNDARY_SIDE),
        Selection::PerClass => {
            // Each class has its own cut: take a window around every class's cut.
            let side = (BOUNDARY_SIDE / cut.classes.max(1)).max(4);
            let mut all = Vec::new();
            for c in 0..cut.classes as u32 {
                let k: Vec<usize> = kept_asc
                    .iter()
                    .copied()
                    .filter(|&i| labels[i] == c)
                    .collect();
                let t: Vec<usize> = trimmed_asc
                    .iter()
                    .copied()
                    .filter(|&i| labels[i] == c)
                    .collect();
                all.extend(around(&k, &t, side));
            }
            let pos: std::collections::HashMap<usize, usize> = cut
                .ascending
                .iter()
                .enumerate()
                .map(|(p, &i)| (i, p))
                .collect();
            all.sort_by_key(|i| pos[i]);
            all
        }
    };
    trimmed_asc.reverse();
    Lists {
        trimmed: trimmed_asc,
        boundary,
        kept: kept_asc,
    }
}

/// The last `side` kept and the first `side` trimmed, in ascending score order.
fn around(kept_asc: &[usize], trimmed_asc: &[usize], side: usize) -> Vec<usize> {
    let k0 = kept_asc.len().saturating_sub(side);
    let t1 = trimmed_asc.len().min(side);
    kept_asc[k0..]
        .iter()
        .chain(&trimmed_asc[..t1])
        .copied()
        .collect()
}

/// Caches the cut and the lists, recomputing only when their inputs change.
#[derive(Default)]
pub struct ViewCache {
    sorted: Option<(usize, Arc<Vec<usize>>)>,
    cut: Option<(CutKey, Arc<Cut>)>,
    lists: Option<(CutKey, Filter, Arc<Lists>)>,
    /// How many times a cut was computed (tests check the cache works).
    pub cut_computations: usize,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct CutKey {
    record: usize,
    index: usize,
    tau_bits: u64,
    rule: Selection,
    restore: bool,
    generation: u64,
}

impl ViewCache {
    pub fn clear(&mut self) {
        *self = Self {
            cut_computations: self.cut_computations,
            ..Default::default()
        };
    }

    /// The cut of `record` as `how` says, from the cache when nothing changed.
    pub fn cut(
        &mut self,
        record: &Arc<RoundRecord>,
        index: usize,
        given: Given<'_>,
        how: CutRule,
        generation: u64,
    ) -> Arc<Cut> {
        let key = CutKey {
            record: Arc::as_ptr(record) as usize,
            index,
            tau_bits: how.tau.to_bits(),
            rule: how.rule,
            restore: how.restore,
            generation,
        };
        if let Some((k, c)) = &self.cut {
            if *k == key {
                return c.clone();
            }
        }
        let asc = match &self.sorted {
            Some((p, a)) if *p == key.record => a.clone(),
            _ => {
                let a = Arc::new(ascending(&record.score));
                self.sorted = Some((key.record, a.clone()));
                a
            }
        };
        self.cut_computations += 1;
        let c = Arc::new(cut(record.clone(), index, asc, given, how));
        self.cut = Some((key, c.clone()));
        c
    }

    /// The lists of the cached cut under `filter` (call [`Self::cut`] first).
    pub fn lists(&mut self, labels: &[u32], rule: Selection, filter: Filter) -> Option<Arc<Lists>> {
        let (key, cut) = self.cut.as_ref()?;
        if let Some((k, f, l)) = &self.lists {
            if k == key && *f == filter {
                return Some(l.clone());
            }
        }
        let l = Arc::new(lists(cut, labels, rule, filter));
        self.lists = Some((*key, filter, l.clone()));
        Some(l)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::itlm::RoundMetrics;

    fn rule(tau: f64, restore: bool) -> CutRule {
        CutRule {
            rule: Selection::Global,
            tau,
            restore,
        }
    }

    fn record(score: Vec<f32>, predicted: Vec<u32>) -> Arc<RoundRecord> {
        let n = score.len();
        Arc::new(RoundRecord {
            round: 0,
            epochs: 1.0,
            trained_on: n,
            tau: 1.0,
            loss: score.clone(),
            score,
            predicted,
            p_given: vec![0.5; n],
            probs: Vec::new(),
            kept: vec![true; n],
            metrics: RoundMetrics::default(),
            generated: None,
            train_secs: 0.0,
            score_secs: 0.0,
        })
    }

    #[test]
    fn cut_counts_histogram_and_confusion() {
        let r = record(
            vec![0.1, 5.0, 0.2, f32::NAN, 0.3, 4.0],
            vec![0, 0, 1, 1, 0, 0],
        );
        let labels = [0, 1, 1, 0, 0, 1];
        let bad = [false, true, false, true, false, false];
        let asc = Arc::new(ascending(&r.score));
        assert_eq!(*asc, vec![0, 2, 4, 5, 1, 3]);
        let given = Given {
            labels: &labels,
            classes: 2,
            bad: Some(&bad),
        };
        let c = cut(r, 0, asc, given, rule(0.5, false));
        assert_eq!((c.kept_count, c.trimmed_count), (3, 3));
        assert_eq!(c.cut_value, Some(0.3));
        let h = &c.hist;
        assert_eq!(h.kept.iter().sum::<usize>(), 3);
        assert_eq!(h.trimmed.iter().sum::<usize>(), 3);
        assert_eq!(h.bad.as_ref().unwrap().iter().sum::<usize>(), 2);
        // NaN lands in the last bin, with the maximum.
        assert_eq!(h.trimmed[BINS - 1], 2);
        // trimmed: 1 (given 1, pred 0), 3 (given 0, pred 1), 5 (given 1, pred 0)
        assert_eq!(c.confusion, vec![0, 1, 2, 0]);
        let t = c.trim.unwrap();
        assert_eq!((t.trimmed, t.trimmed_bad), (3, 2));
        let l = lists(&c, &labels, Selection::Global, Filter::default());
        assert_eq!(l.trimmed, vec![3, 1, 5]);
        assert_eq!(l.kept, vec![0, 2, 4]);
        assert_eq!(l.boundary, vec![0, 2, 4, 5, 1, 3]);
        let f = Filter {
            class: None,
            cell: Some((1, 0)),
        };
        assert_eq!(lists(&c, &labels, Selection::Global, f).trimmed, vec![1, 5]);
        let f = Filter {
            class: Some(0),
            cell: None,
        };
        assert_eq!(lists(&c, &labels, Selection::Global, f).kept, vec![0, 4]);
    }

    #[test]
    fn a_restore_round_keeps_out_only_the_suspect_class_and_draws_the_plain_cut() {
        // 100 samples of 3 classes. The 20 highest scores: 10 of class 0 predicted 1 (one
        // way only: suspect), 5 of class 1 predicted 2 and 5 of class 2 predicted 1.
        let n = 100;
        let labels: Vec<u32> = (0..n).map(|i| (i % 3) as u32).collect();
        let mut score: Vec<f32> = (0..n).map(|i| i as f32 / 1000.0).collect();
        let mut predicted = labels.clone();
        let (mut c0, mut c1, mut c2) = (0, 0, 0);
        for i in 0..n {
            let (slot, q) = match labels[i] {
                0 if c0 < 10 => (&mut c0, 1),
                1 if c1 < 5 => (&mut c1, 2),
                2 if c2 < 5 => (&mut c2, 1),
                _ => continue,
            };
            *slot += 1;
            score[i] = 10.0 + i as f32;
            predicted[i] = q;
        }
        let r = record(score, predicted);
        let asc = Arc::new(ascending(&r.score));
        let given = Given {
            labels: &labels,
            classes: 3,
            bad: None,
        };
        let plain = cut(r.clone(), 0, asc.clone(), given, rule(0.8, false));
        assert_eq!((plain.trimmed_count, plain.restored), (20, None));
        let c = cut(r, 0, asc, given, rule(0.8, true));
        let r = c.restored.clone().unwrap();
        assert_eq!((c.kept_count, c.trimmed_count, r.back), (90, 10, 10));
        assert_eq!(r.suspect, vec![true, false, false]);
        assert!((0..n).all(|i| c.kept[i] || labels[i] == 0));
        assert_eq!(c.cut_value, plain.cut_value, "the line stays at the cut");
        assert!(c.cut_value.unwrap() < 1.0);
        assert_eq!(c.confusion[1], 10, "the suspect cell");
        assert_eq!(c.confusion.iter().sum::<usize>(), 10);
    }

    #[test]
    fn cache_recomputes_only_on_change() {
        let r = record((0..100).map(|i| i as f32).collect(), vec![0; 100]);
        let labels = vec![0u32; 100];
        let mut v = ViewCache::default();
        let given = Given {
            labels: &labels,
            classes: 1,
            bad: None,
        };
        let a = v.cut(&r, 0, given, rule(0.7, false), 0);
        let b = v.cut(&r, 0, given, rule(0.7, false), 0);
        assert!(Arc::ptr_eq(&a, &b));
        assert_eq!(v.cut_computations, 1);
        let c = v.cut(&r, 0, given, rule(0.5, false), 0);
        assert_eq!(v.cut_computations, 2);
        assert_eq!(c.trimmed_count, 50);
        let l1 = v
            .lists(&labels, Selection::Global, Filter::default())
            .unwrap();
        let l2 = v
            .lists(&labels, Selection::Global, Filter::default())
            .unwrap();
        assert!(Arc::ptr_eq(&l1, &l2));
        assert_eq!(l1.boundary.len(), 2 * BOUNDARY_SIDE);
        assert_eq!(l1.trimmed[0], 99);
    }
}
