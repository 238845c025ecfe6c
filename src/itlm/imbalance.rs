//! Warnings about the global cut on an imbalanced set. The global cut ranks every sample by
//! loss; a rare class is learned last, so its samples have high losses in the early rounds and
//! the cut can trim the whole class (10000:3: all 3). Nothing here changes the cut: before a
//! run [`rare_classes`] says which classes are at risk, after a round [`emptied_classes`] says
//! which ones the cut took whole; both suggest the per-class selection, which keeps the tau
//! share of every class.

use super::select::{keep_count, Selection};

/// The classes named in a message: at most five, then how many more.
fn names(classes: &[String], which: &[(usize, usize)]) -> String {
    let mut s: Vec<String> = which
        .iter()
        .take(5)
        .map(|&(c, count)| {
            let name = classes.get(c).map(String::as_str).unwrap_or("?");
            format!("'{name}' ({})", crate::plural(count, "sample"))
        })
        .collect();
    if which.len() > 5 {
        s.push(format!("{} more", which.len() - 5));
    }
    s.join(", ")
}

/// Per class, its number of samples.
fn counts(labels: &[u32], num_classes: usize) -> Vec<usize> {
    let mut c = vec![0usize; num_classes];
    for &l in labels {
        if let Some(x) = c.get_mut(l as usize) {
            *x += 1;
        }
    }
    c
}

/// Before a run: under the global cut at `tau`, the classes small enough to be trimmed whole
/// (no more samples than the cut trims) and rare (under a tenth of the largest class), with
/// what to do. `None` for the per-class selection, tau 1 or a set without such a class.
pub fn rare_classes(
    labels: &[u32],
    classes: &[String],
    tau: f64,
    select: Selection,
) -> Option<String> {
    if select != Selection::Global || tau >= 1.0 {
        return None;
    }
    let n = labels.len();
    let trims = n - keep_count(n, tau);
    let counts = counts(labels, classes.len());
    let largest = counts.iter().copied().max().unwrap_or(0);
    let rare: Vec<(usize, usize)> = counts
        .iter()
        .enumerate()
        .filter(|&(_, &k)| k > 0 && k <= trims && k * 10 < largest)
        .map(|(c, &k)| (c, k))
        .collect();
    if rare.is_empty() {
        return None;
    }
    Some(format!(
        "the global cut at tau {tau} trims {trims} of {n} samples by loss across all classes, \
         and {} {} under a tenth of the largest class ({largest}): a rare class is learned \
         last, so its samples have high losses in the early rounds and the cut may trim it \
         whole; the per-class selection keeps the tau share of every class",
        if rare.len() == 1 { "class" } else { "classes" },
        names(classes, &rare) + if rare.len() == 1 { " is" } else { " are" }
    ))
}

/// After a round: the classes that have samples but none kept by the cut `kept`, with what to
/// do. `None` when every class keeps a sample.
pub fn emptied_classes(kept: &[bool], labels: &[u32], classes: &[String]) -> Option<String> {
    let all = counts(labels, classes.len());
    let mut held = vec![0usize; classes.len()];
    for (&k, &l) in kept.iter().zip(labels) {
        if let Some(x) = held.get_mut(l as usize) {
            *x += usize::from(k);
        }
    }
    let emptied: Vec<(usize, usize)> = (0..classes.len())
        .filter(|&c| all[c] > 0 && held[c] == 0)
        .map(|c| (c, all[c]))
        .collect();
    if emptied.is_empty() {
        return None;
    }
    Some(format!(
        "the cut trimmed every sample of {} {}: the model trained on the kept set never sees \
         {}; the per-class selection keeps the tau share of every class",
        if emptied.len() == 1 {
            "class"
        } else {
            "classes"
        },
        names(classes, &emptied),
        if emptied.len() == 1 { "it" } else { "them" }
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn classes(k: usize) -> Vec<String> {
        (0..k).map(|c| format!("c{c}")).collect()
    }

    #[test]
    fn a_3_sample_class_beside_10000_is_at_risk_under_the_global_cut_only() {
        let mut labels = vec![0u32; 10000];
        labels.extend([1, 1, 1]);
        let c = vec!["common".to_string(), "rare".to_string()];
        assert_eq!(
            rare_classes(&labels, &c, 0.7, Selection::Global).unwrap(),
            "the global cut at tau 0.7 trims 3000 of 10003 samples by loss across all classes, \
             and class 'rare' (3 samples) is under a tenth of the largest class (10000): a rare \
             class is learned last, so its samples have high losses in the early rounds and the \
             cut may trim it whole; the per-class selection keeps the tau share of every class"
        );
        assert_eq!(rare_classes(&labels, &c, 0.7, Selection::PerClass), None);
        assert_eq!(rare_classes(&labels, &c, 1.0, Selection::Global), None);
        // tau 0.9999 trims 1 sample: fewer than the class holds.
        assert_eq!(rare_classes(&labels, &c, 0.9999, Selection::Global), None);
    }

    #[test]
    fn balanced_or_mildly_imbalanced_sets_say_nothing() {
        let labels: Vec<u32> = (0..1000).map(|i| i % 10).collect();
        assert_eq!(
            rare_classes(&labels, &classes(10), 0.5, Selection::Global),
            None
        );
        // 1000 : 150 is under 10:1.
        let mut labels = vec![0u32; 1000];
        labels.extend(vec![1; 150]);
        assert_eq!(
            rare_classes(&labels, &classes(2), 0.5, Selection::Global),
            None
        );
        // An empty class is not at risk (there is nothing to trim); 8 classes of 5 are.
        let mut labels = vec![0u32; 1000];
        for c in 2..10 {
            labels.extend(vec![c; 5]);
        }
        let w = rare_classes(&labels, &classes(10), 0.9, Selection::Global).unwrap();
        assert!(
            w.contains(
                "classes 'c2' (5 samples), 'c3' (5 samples), 'c4' (5 samples), 'c5' (5 samples), \
                 'c6' (5 samples), 3 more are under a tenth"
            ),
            "{w}"
        );
    }

    #[test]
    fn emptied_classes_are_named() {
        let labels = [0, 0, 1, 1, 2];
        let c = classes(4);
        assert_eq!(
            emptied_classes(&[true, false, false, false, true], &labels, &c).unwrap(),
            "the cut trimmed every sample of class 'c1' (2 samples): the model trained on the \
             kept set never sees it; the per-class selection keeps the tau share of every class"
        );
        assert!(
            emptied_classes(&[false, false, false, false, true], &labels, &c)
                .unwrap()
                .starts_with(
                    "the cut trimmed every sample of classes 'c0' (2 samples), 'c1' (2 samples): "
                )
        );
        // Class 3 has no sample: not "emptied".
        assert_eq!(
            emptied_classes(&[true, false, true, false, true], &labels, &c),
            None
        );
    }
}
