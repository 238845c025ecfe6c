//! Duplicates and outliers of the open dataset, found off the UI thread from the embeddings a
//! run on a backbone hands back (exact duplicates by content, near-duplicates and outliers by
//! cosine kNN: [`crate::session::similar`]). The grid bar filters on them, the detail panel
//! lists a sample's copies.

use std::sync::Arc;

use crate::learner::head::FeatureMatrix;
use crate::session::embed_cache::EmbedCache;
use crate::session::embed_head::{backbone_of, cached_run_embeddings};
use crate::session::similar::{self, Similar};
use crate::ui::pending::{Pending, Polled, Repaint};
use crate::ui::view::Membership;

use super::AppState;

/// What was found, with the masks the grid filters use.
#[derive(Clone, Debug)]
pub struct Found {
    pub similar: Arc<Similar>,
    /// Samples in a duplicate pair (exact or near).
    pub duplicates: Membership,
    pub outliers: Membership,
    /// Samples the duplicates mask holds.
    pub duplicate_samples: usize,
    /// The exact and the near duplicates in images and groups, as every output counts them
    /// ([`Similar::duplicate_words`]; the pairs joined once, for the note and the grid bar).
    pub exact_words: String,
    pub near_words: String,
}

impl Found {
    fn new(similar: Similar, n: usize) -> Self {
        let mut dup = vec![false; n];
        for d in &similar.duplicates {
            for i in [d.a, d.b] {
                if let Some(x) = dup.get_mut(i) {
                    *x = true;
                }
            }
        }
        let mut out = vec![false; n];
        for o in &similar.outliers {
            if let Some(x) = out.get_mut(o.index) {
                *x = true;
            }
        }
        let duplicate_samples = dup.iter().filter(|&&d| d).count();
        let (exact_words, near_words) = (
            similar.duplicate_words(true),
            similar.duplicate_words(false),
        );
        Self {
            similar: Arc::new(similar),
            duplicates: Membership::new("duplicates", dup),
            outliers: Membership::new("outliers", out),
            duplicate_samples,
            exact_words,
            near_words,
        }
    }

    /// The other samples sample `i` is a duplicate of: (index, exact, cosine).
    pub fn copies_of(&self, i: usize) -> Vec<(usize, bool, f32)> {
        self.similar
            .duplicates
            .iter()
            .filter_map(|d| {
                if d.a == i {
                    Some((d.b, d.exact, d.cosine))
                } else if d.b == i {
                    Some((d.a, d.exact, d.cosine))
                } else {
                    None
                }
            })
            .collect()
    }

    /// Sample `i`'s outlier distance, when it is an outlier.
    pub fn outlier_distance(&self, i: usize) -> Option<f32> {
        self.similar
            .outliers
            .iter()
            .find(|o| o.index == i)
            .map(|o| o.distance)
    }
}

/// A background task of this file, for which dataset generation.
pub struct ForGeneration<T> {
    task: Pending<crate::error::Result<T>>,
    generation: u64,
}

impl<T: Send + 'static> ForGeneration<T> {
    /// Run `task` on a named thread for the dataset of `generation`.
    pub(super) fn spawn(
        name: &str,
        repaint: &Repaint,
        generation: u64,
        task: impl FnOnce() -> crate::error::Result<T> + Send + 'static,
    ) -> Result<Self, String> {
        Ok(Self {
            task: Pending::spawn(name, repaint, task)?,
            generation,
        })
    }

    /// The result of the task in `slot`, once it is done, taken out of the slot; None while it
    /// runs, and when it was started for an earlier dataset than `generation` (then it is
    /// dropped).
    pub(super) fn take_done(slot: &mut Option<Self>, generation: u64) -> Option<Result<T, String>> {
        let t = slot.as_ref()?;
        let result = match t.task.poll() {
            Polled::Waiting => return None,
            Polled::Done(r) => r.map_err(|e| e.to_string()),
            Polled::Lost(why) => Err(why),
        };
        let current = t.generation == generation;
        *slot = None;
        current.then_some(result)
    }
}

/// The duplicate and outlier search running in the background.
pub type Search = ForGeneration<Similar>;

/// A reopened run's embeddings being read from the cache.
pub type CacheRead = ForGeneration<Option<FeatureMatrix>>;

impl AppState {
    /// A reopened run of a head on a backbone: read its training embeddings from the cache
    /// (off the UI thread; never computed here), so that the map, duplicates and outliers are
    /// what they were when the run finished. Other runs: nothing.
    pub(super) fn read_run_embeddings(&mut self, description: &str) {
        if backbone_of(description).is_none() {
            return;
        }
        let Some(data) = self.data.as_ref() else {
            return;
        };
        let (train, d) = (data.train.clone(), description.to_string());
        match CacheRead::spawn(
            "itlm-run-embeddings",
            self.repaint(),
            self.generation,
            move || cached_run_embeddings(&train, &d, &EmbedCache::from_env()?),
        ) {
            Ok(read) => self.embeddings_read = Some(read),
            Err(e) => self.error(format!("The run's embeddings were not read: {e}")),
        }
    }

    pub(super) fn poll_run_embeddings(&mut self) {
        let Some(result) = ForGeneration::take_done(&mut self.embeddings_read, self.generation)
        else {
            return;
        };
        let not_used = "the embedding map shows the class probabilities, and duplicates and outliers are not searched; Start computes the embeddings again";
        match result {
            Ok(Some(m)) => {
                self.info(
                    "The run's backbone embeddings were read from the cache: the embedding map projects them, and duplicates and outliers are searched.",
                );
                self.set_embeddings(Arc::new(m));
            }
            Ok(None) => self.info(format!(
                "The run's backbone embeddings are not in the cache (or the images changed since): {not_used}."
            )),
            Err(e) => self.info(format!(
                "The run's backbone embeddings could not be read ({e}): {not_used}."
            )),
        }
    }

    /// Take the embeddings a run computed: the map projects them, and duplicates and outliers
    /// are searched for off the UI thread.
    pub fn set_embeddings(&mut self, m: Arc<FeatureMatrix>) {
        let Some(data) = self.data.as_ref() else {
            return;
        };
        if m.rows != data.train.len() {
            self.error(format!(
                "The run's embeddings have {} rows for {} samples: ignored",
                m.rows,
                data.train.len()
            ));
            return;
        }
        // A retrain hands back the same embeddings (read from the cache): what was found, or
        // is being searched, on them stands.
        let same = self
            .embeddings
            .as_ref()
            .is_some_and(|e| Arc::ptr_eq(e, &m) || **e == *m);
        if same && (self.similar.is_some() || self.similar_search.is_some()) {
            return;
        }
        self.embeddings = Some(m.clone());
        let train = data.train.clone();
        match Search::spawn("itlm-similar", self.repaint(), self.generation, move || {
            similar::analyse(&train, &m)
        }) {
            Ok(search) => self.similar_search = Some(search),
            Err(e) => self.error(format!("Duplicates and outliers not searched: {e}")),
        }
    }

    pub(super) fn poll_similar(&mut self) {
        let Some(result) = ForGeneration::take_done(&mut self.similar_search, self.generation)
        else {
            return;
        };
        match result {
            Ok(found) => {
                let n = self.data.as_ref().map_or(0, |d| d.train.len());
                let f = Found::new(found, n);
                // In images and groups, as the image checks' note and the command line count
                // duplicates.
                let near_pairs = f.similar.duplicates.iter().filter(|d| !d.exact).count();
                self.info(format!(
                    "Embeddings: {} (same bytes), {} ({} at cosine >= {}) and {} outliers (mean distance to the {} nearest above {:.3}). The grid bar filters on them.",
                    f.exact_words,
                    f.near_words,
                    crate::plural(near_pairs, "pair"),
                    similar::NEAR_DUPLICATE_COSINE,
                    f.similar.outliers.len(),
                    similar::OUTLIER_K,
                    f.similar.outlier_threshold
                ));
                self.similar = Some(f);
            }
            Err(e) => self.error(format!("Searching duplicates and outliers failed: {e}")),
        }
    }
}
