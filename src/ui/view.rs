//! What the panels show for one round at one cut, computed once per (round, tau, filter) and
//! cached: the kept set, histogram bins, the confusion of trimmed samples and the grid lists.
//! Pure functions of a round record, so the slider re-cuts instantly without retraining.

use std::sync::Arc;

use crate::itlm::{select, RoundRecord, Selection, TrimQuality};
use crate::session::decisions::{Decision, Decisions};

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

/// The 1% highest spectral scores of a round (at least 10 samples) at one cut.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SpectralTail {
    pub top: usize,
    /// How many of them the cut trimmed.
    pub trimmed: usize,
    /// How many of them are truly bad (when the truth is known).
    pub bad: Option<usize>,
}

impl SpectralTail {
    /// The tail of `rank` at the cut `kept`.
    pub fn measure(rank: &SpectralRank, kept: &[bool], bad: Option<&[bool]>) -> Self {
        let top = &rank.top;
        Self {
            top: top.len(),
            trimmed: top.iter().filter(|&&i| !kept[i]).count(),
            bad: bad
                .filter(|b| b.len() == kept.len())
                .map(|b| top.iter().filter(|&&i| b[i]).count()),
        }
    }
}

/// What a round's spectral scores give every cut of it, computed once per round: the bins of
/// their square roots (the distance along the class's top direction, in its standard
/// deviations) and the highest 1% (at least 10).
#[derive(Clone, Debug, PartialEq)]
pub struct SpectralRank {
    pub bins: Bins,
    pub top: Vec<usize>,
}

impl SpectralRank {
    /// None when the round has no spectral scores.
    pub fn of(spectral: &[f32]) -> Option<Self> {
        let n = spectral.len();
        if n == 0 {
            return None;
        }
        let k = (n / 100).max(10).min(n);
        let mut order: Vec<usize> = (0..n).collect();
        order.select_nth_unstable_by(k - 1, |&a, &b| {
            sort_key(-spectral[a]).total_cmp(&sort_key(-spectral[b]))
        });
        order.truncate(k);
        let root: Vec<f32> = spectral.iter().map(|s| s.max(0.0).sqrt()).collect();
        Some(Self {
            bins: Bins::of(&root),
            top: order,
        })
    }
}

/// What every cut of a round reads of its scores, computed once per round.
#[derive(Clone, Debug, PartialEq)]
pub struct Ranking {
    /// Sample indices by score, ascending (NaN last, ties by index).
    pub ascending: Vec<usize>,
    /// The histogram bins of the scores.
    pub bins: Bins,
    pub spectral: Option<SpectralRank>,
}

impl Ranking {
    pub fn of(record: &RoundRecord) -> Self {
        Self {
            ascending: ascending(&record.score),
            bins: Bins::of(&record.score),
            spectral: SpectralRank::of(&record.spectral),
        }
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
    /// What the floored rule's class floors kept beyond tau's share
    /// ([`select::floors_added`]; 0 for the other rules).
    pub floors_added: usize,
    /// What the round's restore did (`None` without `Config::restore`).
    pub restored: Option<select::Restored>,
    /// Largest score the cut itself kept (before any restore): where the line is drawn.
    pub cut_value: Option<f32>,
    pub hist: Histogram,
    /// The same cut over the round's spectral scores (their square roots: the distance along
    /// the class's top direction in its standard deviations), when the round has them.
    pub spectral_hist: Option<Histogram>,
    /// The highest spectral scores at this cut, when the round has them.
    pub spectral_tail: Option<SpectralTail>,
    /// Trimmed samples by (given, predicted): `confusion[g * classes + p]`.
    pub confusion: Vec<usize>,
    /// The cut's label health ([`crate::itlm::health`], as `health.csv` gives it); None for
    /// a round without class predictions (the generative mode's).
    pub health: Option<crate::itlm::Health>,
    pub classes: usize,
    /// Trimmed against truly bad, at this cut.
    pub trim: Option<TrimQuality>,
    /// The cut's precision and recall estimated without truth, for a round trained with
    /// forward correction ([`crate::itlm::transition::cut_quality`]).
    pub estimated: Option<(f64, f64)>,
    /// The round's orders (by score; its spectral scores' tail).
    pub ranking: Arc<Ranking>,
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
    /// The trimmed samples one at a time, to decide on.
    Review,
}

impl GridTab {
    pub const ALL: [GridTab; 4] = [
        GridTab::Trimmed,
        GridTab::Boundary,
        GridTab::Kept,
        GridTab::Review,
    ];

    pub fn name(self) -> &'static str {
        match self {
            GridTab::Trimmed => "Trimmed",
            GridTab::Boundary => "Boundary",
            GridTab::Kept => "Kept",
            GridTab::Review => "Review",
        }
    }
}

/// Which samples a decision filter lets through.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DecisionFilter {
    Undecided,
    AnyDecision,
    Excluded,
    Kept,
    Relabelled,
}

impl DecisionFilter {
    pub const ALL: [DecisionFilter; 5] = [
        DecisionFilter::Undecided,
        DecisionFilter::AnyDecision,
        DecisionFilter::Excluded,
        DecisionFilter::Kept,
        DecisionFilter::Relabelled,
    ];

    pub fn name(self) -> &'static str {
        match self {
            DecisionFilter::Undecided => "no decision",
            DecisionFilter::AnyDecision => "any decision",
            DecisionFilter::Excluded => "excluded",
            DecisionFilter::Kept => "kept",
            DecisionFilter::Relabelled => "relabelled",
        }
    }

    fn accepts(self, d: Option<Decision>) -> bool {
        match self {
            DecisionFilter::Undecided => d.is_none(),
            DecisionFilter::AnyDecision => d.is_some(),
            DecisionFilter::Excluded => d == Some(Decision::Exclude),
            DecisionFilter::Kept => d == Some(Decision::Keep),
            DecisionFilter::Relabelled => matches!(d, Some(Decision::Relabel(_))),
        }
    }
}

/// A named set of samples the grids can be restricted to (e.g. "only the other run flags").
#[derive(Clone, Debug)]
pub struct Membership {
    pub name: String,
    pub mask: Arc<Vec<bool>>,
}

impl Membership {
    pub fn new(name: impl Into<String>, mask: Vec<bool>) -> Self {
        Self {
            name: name.into(),
            mask: Arc::new(mask),
        }
    }
}

impl PartialEq for Membership {
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name && Arc::ptr_eq(&self.mask, &other.mask)
    }
}

/// Restricts the grids.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Filter {
    /// Given class.
    pub class: Option<u32>,
    /// Predicted class.
    pub predicted: Option<u32>,
    /// (given, predicted) cell of the confusion grid.
    pub cell: Option<(u32, u32)>,
    /// Kind of bad sample in the truth (`clean`, `random`, ...).
    pub kind: Option<String>,
    /// Scores in this range (inclusive).
    pub score: Option<(f32, f32)>,
    /// A substring of the sample id (its path), ignoring case.
    pub path: String,
    /// Only the samples of this set.
    pub within: Option<Membership>,
    /// The user's decision.
    pub decision: Option<DecisionFilter>,
}

impl Filter {
    pub fn is_active(&self) -> bool {
        *self != Filter::default()
    }

    /// Whether sample `i` passes.
    pub fn accepts(&self, i: usize, c: &ListContext<'_>) -> bool {
        let given = c.labels[i];
        let predicted = c.record.predicted.get(i).copied().unwrap_or(given);
        self.class.is_none_or(|g| g == given)
            && self.predicted.is_none_or(|p| p == predicted)
            && self.cell.is_none_or(|(g, p)| g == given && p == predicted)
            && self.kind.as_ref().is_none_or(|k| {
                c.kinds
                    .and_then(|kinds| kinds.get(i))
                    .is_some_and(|x| x == k)
            })
            && self.score.is_none_or(|(lo, hi)| {
                let s = c.record.score[i];
                s >= lo && s <= hi
            })
            && self.decision.is_none_or(|f| f.accepts(c.decisions.get(i)))
            && self
                .within
                .as_ref()
                .is_none_or(|m| m.mask.get(i).copied().unwrap_or(false))
            && (self.path.is_empty() || {
                let needle = self.path.to_lowercase();
                c.ids
                    .get(i)
                    .is_some_and(|id| id.to_lowercase().contains(&needle))
            })
    }
}

/// What a grid list is ordered by.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum SortKey {
    /// The score the cut is made on (the round's loss).
    #[default]
    Score,
    /// The probability of the given label.
    PGiven,
    /// p(given) minus the largest other class probability (negative: another class wins).
    Margin,
    /// How many selections up to the shown round trimmed it.
    TimesTrimmed,
    /// The loss minus the previous round's.
    LossChange,
    /// The user's decision: excluded, relabelled, kept, none.
    Decision,
    /// The round's spectral score: off its class's bulk along the class's top direction of
    /// the model's penultimate activations (where a backdoor's stamped images sit).
    Spectral,
}

impl SortKey {
    pub const ALL: [SortKey; 7] = [
        SortKey::Score,
        SortKey::PGiven,
        SortKey::Margin,
        SortKey::TimesTrimmed,
        SortKey::LossChange,
        SortKey::Decision,
        SortKey::Spectral,
    ];

    pub fn name(self) -> &'static str {
        match self {
            SortKey::Score => "loss",
            SortKey::PGiven => "p(given)",
            SortKey::Margin => "margin",
            SortKey::TimesTrimmed => "times trimmed",
            SortKey::LossChange => "loss change",
            SortKey::Decision => "decision",
            SortKey::Spectral => "spectral score",
        }
    }

    /// Whether the most suspicious samples have the largest values (loss) or the smallest
    /// (p(given), margin).
    fn high_is_suspicious(self) -> bool {
        !matches!(self, SortKey::PGiven | SortKey::Margin)
    }
}

/// The order of the grids: by `key`, the most suspicious first (the Kept tab by score: the
/// least first), or the other way round when `reverse`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Sort {
    pub key: SortKey,
    pub reverse: bool,
}

/// What the lists of a cut are computed from, besides the cut.
#[derive(Clone, Copy)]
pub struct ListContext<'a> {
    /// The shown round.
    pub record: &'a RoundRecord,
    /// Every round of the run (times trimmed, loss change).
    pub history: &'a [Arc<RoundRecord>],
    pub labels: &'a [u32],
    pub classes: usize,
    pub rule: Selection,
    pub ids: &'a [String],
    /// The truth's kind of each sample, when known.
    pub kinds: Option<&'a [String]>,
    /// The user's decisions.
    pub decisions: &'a Decisions,
}

impl ListContext<'_> {
    /// The value of `key` for sample `i` (NaN where it has none).
    pub fn key(&self, key: SortKey, i: usize, kept_now: bool) -> f64 {
        let r = self.record;
        match key {
            SortKey::Score => r.score[i] as f64,
            SortKey::PGiven => r.p_given.get(i).map_or(f64::NAN, |&p| p as f64),
            SortKey::Margin => {
                let probs = r.probs_of(i, self.classes);
                let g = self.labels[i] as usize;
                match probs.get(g) {
                    Some(&pg) => {
                        let other = probs
                            .iter()
                            .enumerate()
                            .filter(|&(c, _)| c != g)
                            .map(|(_, &p)| p)
                            .fold(0.0f32, f32::max);
                        (pg - other) as f64
                    }
                    None => f64::NAN,
                }
            }
            SortKey::TimesTrimmed => {
                crate::itlm::record::times_trimmed(self.history, i, r.round, kept_now) as f64
            }
            SortKey::LossChange => {
                let prev = self.history.iter().rev().find(|h| h.round < r.round);
                prev.map_or(0.0, |p| (r.loss[i] - p.loss[i]) as f64)
            }
            SortKey::Decision => match self.decisions.get(i) {
                Some(Decision::Exclude) => 3.0,
                Some(Decision::Relabel(_)) => 2.0,
                Some(Decision::Keep) => 1.0,
                None => 0.0,
            },
            SortKey::Spectral => r.spectral_of(i).map_or(f64::NAN, |s| s as f64),
        }
    }
}

/// The three grid lists at one cut and filter.
#[derive(Clone, Debug, Default)]
pub struct Lists {
    pub trimmed: Vec<usize>,
    pub boundary: Vec<usize>,
    /// How many of `boundary`'s samples come before the cut (the kept side).
    pub boundary_cut: usize,
    pub kept: Vec<usize>,
}

impl Lists {
    pub fn get(&self, tab: GridTab) -> &[usize] {
        match tab {
            GridTab::Trimmed => &self.trimmed,
            GridTab::Boundary => &self.boundary,
            GridTab::Kept => &self.kept,
            GridTab::Review => &self.trimmed,
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
    Bins::of(score).count(kept, bad)
}

/// Which of [`BINS`] equal bins over the finite range of some values each value falls in (not
/// finite: the last), computed once per round so that a cut only counts.
#[derive(Clone, Debug, PartialEq)]
pub struct Bins {
    lo: f64,
    width: f64,
    of: Vec<u8>,
}

impl Bins {
    pub fn of(values: &[f32]) -> Self {
        let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
        for &s in values.iter().filter(|s| s.is_finite()) {
            lo = lo.min(s as f64);
            hi = hi.max(s as f64);
        }
        if !lo.is_finite() {
            (lo, hi) = (0.0, 1.0);
        }
        let width = ((hi - lo) / BINS as f64).max(1e-9);
        let of = values
            .iter()
            .map(|&s| {
                if s.is_finite() {
                    (((s as f64 - lo) / width) as usize).min(BINS - 1) as u8
                } else {
                    (BINS - 1) as u8
                }
            })
            .collect();
        Self { lo, width, of }
    }

    /// The histogram of the values at the cut `kept`, with `bad` as an overlay.
    pub fn count(&self, kept: &[bool], bad: Option<&[bool]>) -> Histogram {
        let mut h = Histogram {
            lo: self.lo,
            width: self.width,
            kept: vec![0; BINS],
            trimmed: vec![0; BINS],
            bad: bad.map(|_| vec![0; BINS]),
        };
        for (i, &b) in self.of.iter().enumerate() {
            let b = b as usize;
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
    /// The user's decisions the run trained with: the cut keeps them as the run did.
    pub pins: Option<&'a crate::itlm::Pins>,
}

/// Cut `record` (round `index` of the history; `ranking` its [`Ranking`]) as `how` says.
pub fn cut(
    record: Arc<RoundRecord>,
    index: usize,
    ranking: Arc<Ranking>,
    given: Given<'_>,
    how: CutRule,
) -> Cut {
    let Given {
        labels,
        classes,
        bad,
        pins,
    } = given;
    let CutRule { rule, tau, restore } = how;
    let pins = pins.filter(|p| p.len() == record.score.len() && !p.is_none());
    // The line is drawn at the largest kept loss of the samples the loss kept (not the pins),
    // as the report draws it.
    let (plain, cut_value) = select::cut_line(rule, &record.score, labels, classes, tau, pins);
    let classifier = record.predicted.len() == plain.len();
    let floors_added = select::floors_added(rule, &plain, tau);
    let mut kept = plain;
    let restored = select::restore_if(restore, &mut kept, labels, &record.predicted, classes);
    if let Some(p) = pins {
        p.apply(&mut kept);
    }
    crate::itlm::clusters::hold_out(&mut kept, &record.held_out);
    let kept_count = kept.iter().filter(|&&k| k).count();
    let hist = ranking.bins.count(&kept, bad);
    let spectral = ranking
        .spectral
        .as_ref()
        .filter(|r| r.bins.of.len() == kept.len());
    let spectral_hist = spectral.map(|r| r.bins.count(&kept, bad));
    let spectral_tail = spectral.map(|r| SpectralTail::measure(r, &kept, bad));
    let mut confusion = vec![0usize; classes * classes];
    for (i, &k) in kept.iter().enumerate() {
        if !k && classifier {
            let (g, p) = (labels[i] as usize, record.predicted[i] as usize);
            if g < classes && p < classes {
                confusion[g * classes + p] += 1;
            }
        }
    }
    let health =
        classifier.then(|| crate::itlm::health(labels, Some(&record.predicted), &kept, classes));
    let trim = bad.map(|b| TrimQuality::measure(&kept, b));
    let estimated = (classifier && record.transition.len() == classes * classes)
        .then(|| {
            crate::itlm::transition::cut_quality(labels, &record.probs, &record.transition, &kept)
        })
        .flatten();
    Cut {
        index,
        tau,
        kept_count,
        trimmed_count: kept.len() - kept_count,
        floors_added,
        restored,
        kept,
        cut_value,
        hist,
        spectral_hist,
        spectral_tail,
        confusion,
        health,
        classes,
        trim,
        estimated,
        ranking,
        record,
    }
}

/// The grid lists of a cut under a filter, in the order `sort` says.
pub fn lists(cut: &Cut, c: &ListContext<'_>, filter: &Filter, sort: Sort) -> Lists {
    let (labels, rule) = (c.labels, c.rule);
    let mut kept_asc = Vec::new();
    let mut trimmed_asc = Vec::new();
    for &i in cut.ranking.ascending.iter() {
        if !filter.accepts(i, c) {
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
        Selection::PerClass | Selection::Floored => {
            // Each class has its own cut (a floored class's is its floor): take a window
            // around every class's cut.
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
                .ranking
                .ascending
                .iter()
                .enumerate()
                .map(|(p, &i)| (i, p))
                .collect();
            all.sort_by_key(|i| pos[i]);
            all
        }
    };
    let boundary_cut = boundary.iter().take_while(|&&i| cut.kept[i]).count();
    trimmed_asc.reverse();
    let (mut trimmed, mut kept) = (trimmed_asc, kept_asc);
    if sort != Sort::default() {
        order(&mut trimmed, cut, c, sort, false);
        order(&mut kept, cut, c, sort, true);
    }
    Lists {
        trimmed,
        boundary,
        boundary_cut,
        kept,
    }
}

/// Order `list` by `sort`: the most suspicious first unless reversed (the Kept tab by score
/// keeps its least-first order). Ties and NaN keep the score order they came in.
fn order(list: &mut [usize], cut: &Cut, c: &ListContext<'_>, sort: Sort, kept_tab: bool) {
    let key = sort.key;
    let suspicious_first = !(kept_tab && key == SortKey::Score) ^ sort.reverse;
    let descending = suspicious_first == key.high_is_suspicious();
    let mut keyed: Vec<(f64, usize)> = list
        .iter()
        .map(|&i| (c.key(key, i, cut.kept[i]), i))
        .collect();
    keyed.sort_by(|a, b| {
        let (x, y) = (a.0, b.0);
        match (x.is_nan(), y.is_nan()) {
            (true, true) => std::cmp::Ordering::Equal,
            (true, false) => std::cmp::Ordering::Greater,
            (false, true) => std::cmp::Ordering::Less,
            _ if descending => y.total_cmp(&x),
            _ => x.total_cmp(&y),
        }
    });
    for (slot, (_, i)) in list.iter_mut().zip(keyed) {
        *slot = i;
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
    /// The shown record's [`Ranking`], by the record's address.
    ranked: Option<(usize, Arc<Ranking>)>,
    cut: Option<(CutKey, Arc<Cut>)>,
    lists: Option<(CutKey, Filter, Sort, u64, Arc<Lists>)>,
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
        let ranking = match &self.ranked {
            Some((p, a)) if *p == key.record => a.clone(),
            _ => {
                let a = Arc::new(Ranking::of(record));
                self.ranked = Some((key.record, a.clone()));
                a
            }
        };
        self.cut_computations += 1;
        let c = Arc::new(cut(record.clone(), index, ranking, given, how));
        self.cut = Some((key, c.clone()));
        c
    }

    /// The lists of the cached cut under `filter` and `sort` (call [`Self::cut`] first);
    /// `decided` is the decisions' generation (a decision can move a sample in or out).
    pub fn lists(
        &mut self,
        c: &ListContext<'_>,
        filter: &Filter,
        sort: Sort,
        decided: u64,
    ) -> Option<Arc<Lists>> {
        let (key, cut) = self.cut.as_ref()?;
        if let Some((k, f, s, g, l)) = &self.lists {
            let depends = filter.decision.is_some() || sort.key == SortKey::Decision;
            if k == key && f == filter && *s == sort && (!depends || *g == decided) {
                return Some(l.clone());
            }
        }
        let l = Arc::new(lists(cut, c, filter, sort));
        self.lists = Some((*key, filter.clone(), sort, decided, l.clone()));
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
            relabelled: Vec::new(),
            held_out: Vec::new(),
            clusters: None,
            spectral: Vec::new(),
            transition: Vec::new(),
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
        let asc = Arc::new(Ranking::of(&r));
        assert_eq!(asc.ascending, vec![0, 2, 4, 5, 1, 3]);
        let given = Given {
            labels: &labels,
            classes: 2,
            bad: Some(&bad),
            pins: None,
        };
        let c = cut(r.clone(), 0, asc, given, rule(0.5, false));
        let history = [r.clone()];
        let ids: Vec<String> = (0..6).map(|i| format!("c{}/s{i}.png", labels[i])).collect();
        let no_decisions = Decisions::new(labels.len());
        let ctx = ListContext {
            record: &r,
            history: &history,
            labels: &labels,
            classes: 2,
            rule: Selection::Global,
            ids: &ids,
            kinds: None,
            decisions: &no_decisions,
        };
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
        let plain = Sort::default();
        let l = lists(&c, &ctx, &Filter::default(), plain);
        assert_eq!(l.trimmed, vec![3, 1, 5]);
        assert_eq!(l.kept, vec![0, 2, 4]);
        assert_eq!(l.boundary, vec![0, 2, 4, 5, 1, 3]);
        assert_eq!(l.boundary_cut, 3, "the cut falls after the three kept");
        let f = Filter {
            cell: Some((1, 0)),
            ..Default::default()
        };
        assert_eq!(lists(&c, &ctx, &f, plain).trimmed, vec![1, 5]);
        let f = Filter {
            class: Some(0),
            ..Default::default()
        };
        assert_eq!(lists(&c, &ctx, &f, plain).kept, vec![0, 4]);
        let f = Filter {
            predicted: Some(0),
            ..Default::default()
        };
        assert_eq!(lists(&c, &ctx, &f, plain).trimmed, vec![1, 5]);
        let f = Filter {
            score: Some((0.15, 4.5)),
            ..Default::default()
        };
        let l = lists(&c, &ctx, &f, plain);
        assert_eq!((l.kept.clone(), l.trimmed.clone()), (vec![2, 4], vec![5]));
        let f = Filter {
            path: "C1/".into(),
            ..Default::default()
        };
        let l = lists(&c, &ctx, &f, plain);
        assert_eq!((l.kept.clone(), l.trimmed.clone()), (vec![2], vec![1, 5]));
        // The truth's kinds filter only where they are known.
        let kinds: Vec<String> = ["clean", "random", "clean", "systematic", "clean", "clean"]
            .map(String::from)
            .to_vec();
        let with_kinds = ListContext {
            kinds: Some(&kinds),
            ..ctx
        };
        let f = Filter {
            kind: Some("random".into()),
            ..Default::default()
        };
        assert_eq!(lists(&c, &with_kinds, &f, plain).trimmed, vec![1]);
        assert!(lists(&c, &ctx, &f, plain).trimmed.is_empty());
    }

    #[test]
    fn grids_sort_by_each_key_most_suspicious_first_or_reversed() {
        // Two rounds of 4 samples, 2 classes; round 1 is shown, cut at tau 0.5.
        let labels = [0u32, 1, 0, 1];
        let mk = |round: usize, score: Vec<f32>, p_given: Vec<f32>, probs: Vec<f32>| {
            let mut r = (*record(score, vec![1, 0, 0, 1])).clone();
            r.round = round;
            r.p_given = p_given;
            r.probs = probs;
            Arc::new(r)
        };
        let r0 = mk(0, vec![1.0, 1.0, 9.0, 1.0], vec![0.5; 4], Vec::new());
        let r1 = mk(
            1,
            vec![4.0, 3.0, 2.0, 1.0],
            vec![0.2, 0.1, 0.3, 0.9],
            // rows: p(class 0), p(class 1)
            vec![0.2, 0.8, 0.9, 0.1, 0.3, 0.7, 0.1, 0.9],
        );
        let history = [r0, r1.clone()];
        let ids: Vec<String> = (0..4).map(|i| format!("s{i}")).collect();
        let no_decisions = Decisions::new(labels.len());
        let ctx = ListContext {
            record: &r1,
            history: &history,
            labels: &labels,
            classes: 2,
            rule: Selection::Global,
            ids: &ids,
            kinds: None,
            decisions: &no_decisions,
        };
        let given = Given {
            labels: &labels,
            classes: 2,
            bad: None,
            pins: None,
        };
        let asc = Arc::new(Ranking::of(&r1));
        let c = cut(r1.clone(), 1, asc, given, rule(0.5, false));
        let by = |key, reverse| {
            let l = lists(&c, &ctx, &Filter::default(), Sort { key, reverse });
            (l.trimmed, l.kept)
        };
        assert_eq!(by(SortKey::Score, false), (vec![0, 1], vec![3, 2]));
        assert_eq!(by(SortKey::Score, true), (vec![1, 0], vec![2, 3]));
        // p(given) lowest first.
        assert_eq!(by(SortKey::PGiven, false), (vec![1, 0], vec![2, 3]));
        // margin p(given) - p(other): 0: 0.2-0.8 = -0.6, 1: 0.1-0.9 = -0.8, 2: 0.3-0.7, 3: 0.9-0.1.
        assert_eq!(by(SortKey::Margin, false), (vec![1, 0], vec![2, 3]));
        // Loss change from round 0: 0: +3, 1: +2, 2: -7, 3: 0.
        assert_eq!(by(SortKey::LossChange, false), (vec![0, 1], vec![3, 2]));
        assert_eq!(by(SortKey::LossChange, true).1, vec![2, 3]);
        // Times trimmed up to round 1: round 0 kept everything (record() keeps all), round 1
        // trims 0 and 1.
        assert_eq!(by(SortKey::TimesTrimmed, false).0.len(), 2);
        assert_eq!(ctx.key(SortKey::TimesTrimmed, 0, false), 1.0);
        assert_eq!(ctx.key(SortKey::TimesTrimmed, 3, true), 0.0);
        // Without spectral scores the key is NaN; the round's cut has no spectral histogram.
        assert!(ctx.key(SortKey::Spectral, 0, false).is_nan());
        assert!(c.spectral_hist.is_none() && c.spectral_tail.is_none());
    }

    #[test]
    fn spectral_scores_sort_the_grids_and_bin_with_the_cut() {
        // 20 samples; the cut (tau 0.5) keeps the 10 lowest losses (0..10). Spectral scores
        // rise the other way: sample 0 highest.
        let n = 20;
        let labels = vec![0u32; n];
        let bad: Vec<bool> = (0..n).map(|i| i < 3).collect();
        let mut r = (*record((0..n).map(|i| i as f32).collect(), vec![0; n])).clone();
        r.spectral = (0..n).map(|i| ((n - i) * (n - i)) as f32).collect();
        let r = Arc::new(r);
        let given = Given {
            labels: &labels,
            classes: 2,
            bad: Some(&bad),
            pins: None,
        };
        let asc = Arc::new(Ranking::of(&r));
        let c = cut(r.clone(), 0, asc, given, rule(0.5, false));
        assert_eq!(c.kept_count, 10);
        let h = c.spectral_hist.as_ref().unwrap();
        // Binned on the square root: 1..=20, kept ones (0..10) at the top end.
        assert_eq!(h.lo, 1.0);
        assert_eq!(h.kept.iter().sum::<usize>(), 10);
        assert_eq!(h.kept[BINS - 1], 1);
        assert_eq!(h.trimmed[0], 1);
        // The top 10 (at least 10 samples) are 0..10: all kept, 3 truly bad.
        assert_eq!(
            c.spectral_tail,
            Some(SpectralTail {
                top: 10,
                trimmed: 0,
                bad: Some(3)
            })
        );
        let history = [r.clone()];
        let ids: Vec<String> = (0..n).map(|i| format!("s{i}")).collect();
        let no_decisions = Decisions::new(n);
        let ctx = ListContext {
            record: &r,
            history: &history,
            labels: &labels,
            classes: 2,
            rule: Selection::Global,
            ids: &ids,
            kinds: None,
            decisions: &no_decisions,
        };
        let sort = |reverse| Sort {
            key: SortKey::Spectral,
            reverse,
        };
        let l = lists(&c, &ctx, &Filter::default(), sort(false));
        assert_eq!(l.kept[..3], [0, 1, 2]);
        assert_eq!(l.trimmed[..2], [10, 11]);
        let l = lists(&c, &ctx, &Filter::default(), sort(true));
        assert_eq!(l.trimmed[..2], [19, 18]);
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
        let asc = Arc::new(Ranking::of(&r));
        let given = Given {
            labels: &labels,
            classes: 3,
            bad: None,
            pins: None,
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
            pins: None,
        };
        let a = v.cut(&r, 0, given, rule(0.7, false), 0);
        let b = v.cut(&r, 0, given, rule(0.7, false), 0);
        assert!(Arc::ptr_eq(&a, &b));
        assert_eq!(v.cut_computations, 1);
        let c = v.cut(&r, 0, given, rule(0.5, false), 0);
        assert_eq!(v.cut_computations, 2);
        assert_eq!(c.trimmed_count, 50);
        let (history, ids) = ([r.clone()], vec![String::new(); 100]);
        let no_decisions = Decisions::new(labels.len());
        let ctx = ListContext {
            record: &r,
            history: &history,
            labels: &labels,
            classes: 1,
            rule: Selection::Global,
            ids: &ids,
            kinds: None,
            decisions: &no_decisions,
        };
        let l1 = v
            .lists(&ctx, &Filter::default(), Sort::default(), 0)
            .unwrap();
        let l2 = v
            .lists(&ctx, &Filter::default(), Sort::default(), 0)
            .unwrap();
        assert!(Arc::ptr_eq(&l1, &l2));
        assert_eq!(l1.boundary.len(), 2 * BOUNDARY_SIDE);
        assert_eq!(l1.trimmed[0], 99);
    }
}
