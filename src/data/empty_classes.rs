//! Classes with no sample, said when a set is loaded. An IDX set's classes are 0 to its largest
//! label, so one damaged label (200 in a 10-class set) silently makes 201 classes, 191 of them
//! empty, and a model with 201 outputs; a class folder may hold no readable image. The loader
//! cannot tell a damaged label from a deliberate subset (digits 0 and 5 only), so this says it
//! rather than refusing.

use super::{Dataset, Source};

/// The classes of `d` that no sample has.
pub fn empty_classes(d: &Dataset) -> Vec<usize> {
    d.class_counts()
        .iter()
        .enumerate()
        .filter(|&(_, &k)| k == 0)
        .map(|(c, _)| c)
        .collect()
}

/// Consecutive runs of sorted indices: "3", "5 to 7", at most `max` runs, then "...".
fn runs(which: &[usize], max: usize) -> String {
    let mut out: Vec<String> = Vec::new();
    let mut i = 0;
    while i < which.len() {
        let mut j = i;
        while j + 1 < which.len() && which[j + 1] == which[j] + 1 {
            j += 1;
        }
        if out.len() == max {
            out.push("...".into());
            break;
        }
        out.push(if i == j {
            which[i].to_string()
        } else {
            format!("{} to {}", which[i], which[j])
        });
        i = j + 1;
    }
    out.join(", ")
}

/// A warning naming the classes of `d` that have no sample, and for an IDX set the label that
/// made them; `None` when every class has a sample.
pub fn warning(d: &Dataset) -> Option<String> {
    let empty = empty_classes(d);
    if empty.is_empty() {
        return None;
    }
    let k = d.num_classes();
    let which = if matches!(d.source, Source::Idx { .. }) {
        runs(&empty, 5)
    } else {
        let named: Vec<String> = empty
            .iter()
            .take(5)
            .map(|&c| format!("'{}'", d.classes[c]))
            .collect();
        let more = empty.len().saturating_sub(5);
        named.join(", ")
            + &if more > 0 {
                format!(" and {more} more")
            } else {
                String::new()
            }
    };
    let mut w = format!(
        "{}: {} of {k} classes {} no sample ({which})",
        d.name,
        empty.len(),
        if empty.len() == 1 { "has" } else { "have" }
    );
    if matches!(d.source, Source::Idx { .. }) {
        let top = k - 1;
        let with_top = d.labels().iter().filter(|&&l| l as usize == top).count();
        w.push_str(&format!(
            "; an IDX set's classes are 0 to its largest label, {top} ({}): a damaged labels \
             file makes empty classes, and the model gets an output for each",
            crate::plural(with_top, "sample")
        ));
    } else {
        w.push_str(": their folders hold no image that could be read");
    }
    Some(w)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::{idx, ImageShape};

    fn idx_bytes(dims: &[u32], data: &[u8]) -> Vec<u8> {
        let mut b = vec![0, 0, 8, dims.len() as u8];
        for d in dims {
            b.extend_from_slice(&d.to_be_bytes());
        }
        b.extend_from_slice(data);
        b
    }

    /// Labels 0, 1, 2 and one 200: 201 classes, 197 empty, said with the label that made them.
    #[test]
    fn an_idx_label_200_is_said_with_the_empty_classes_it_makes() {
        let d = tempfile::tempdir().unwrap();
        let (ip, lp) = (
            d.path().join("train-images-idx3-ubyte"),
            d.path().join("train-labels-idx1-ubyte"),
        );
        std::fs::write(&ip, idx_bytes(&[5, 2, 2], &[0; 20])).unwrap();
        std::fs::write(&lp, idx_bytes(&[5], &[0, 1, 2, 200, 1])).unwrap();
        let set = idx::load_pair(&ip, &lp, "digits", None).unwrap();
        assert_eq!(set.num_classes(), 201);
        assert_eq!(empty_classes(&set), (3..200).collect::<Vec<_>>());
        assert_eq!(
            warning(&set).unwrap(),
            "digits: 197 of 201 classes have no sample (3 to 199); an IDX set's classes are 0 to \
             its largest label, 200 (1 sample): a damaged labels file makes empty classes, and \
             the model gets an output for each"
        );
        // Every class present: nothing to say.
        std::fs::write(&lp, idx_bytes(&[5], &[0, 1, 2, 3, 1])).unwrap();
        let set = idx::load_pair(&ip, &lp, "digits", None).unwrap();
        assert_eq!(warning(&set), None);
    }

    #[test]
    fn gaps_are_listed_as_runs_and_folders_by_name() {
        assert_eq!(runs(&[1, 3, 4, 5, 9], 5), "1, 3 to 5, 9");
        assert_eq!(runs(&[0, 2, 4, 6, 8, 10, 12], 3), "0, 2, 4, ...");
        let set = Dataset::from_parts(
            "pets",
            Source::ImageFolder {
                root: "pets".into(),
            },
            vec!["bird".into(), "cat".into(), "dog".into()],
            ImageShape::new(1, 1, 1),
            vec![0; 2],
            vec![1, 1],
            vec!["cat/a.png".into(), "cat/b.png".into()],
        )
        .unwrap();
        assert_eq!(
            warning(&set).unwrap(),
            "pets: 2 of 3 classes have no sample ('bird', 'dog'): their folders hold no image \
             that could be read"
        );
    }
}
