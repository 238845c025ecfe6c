//! Tests of the corruption model (the command that writes a corrupted copy is tested in
//! `session::corrupt`).

use std::collections::BTreeSet;

use super::*;
use crate::data::fixtures::mem_set;
use crate::data::watermark::MarkShape;
use crate::data::ImageShape;

fn kinds_by_true_class(c: &Corrupted, kind: SampleKind) -> Vec<usize> {
    let mut v = vec![0; c.data.num_classes()];
    for i in 0..c.len() {
        if c.kinds[i] == kind {
            v[c.true_labels[i] as usize] += 1;
        }
    }
    v
}

#[test]
fn systematic_exact_counts() {
    let d = mem_set(&[10, 20, 7], ImageShape::new(2, 2, 1));
    let mut c = Corrupted::clean(d.clone());
    let n = c.flip_systematic(0.3, &[1, 2, 0], None, 5).unwrap();
    // round(3.0), round(6.0), round(2.1)
    assert_eq!(n, 11);
    assert_eq!(kinds_by_true_class(&c, SampleKind::Systematic), [3, 6, 2]);
    for i in 0..c.len() {
        let t = c.true_labels[i];
        assert_eq!(t, d.label(i));
        let want = if c.kinds[i] == SampleKind::Systematic {
            (t + 1) % 3
        } else {
            t
        };
        assert_eq!(c.data.label(i), want);
    }
    // pixels untouched
    assert_eq!(c.data.pixels(), d.pixels());
}

#[test]
fn systematic_one_class_and_fixed_points() {
    let d = mem_set(&[10, 20, 8], ImageShape::new(2, 2, 1));
    let mut c = Corrupted::clean(d.clone());
    c.flip_systematic(0.25, &[0, 0, 1], Some(2), 1).unwrap();
    assert_eq!(kinds_by_true_class(&c, SampleKind::Systematic), [0, 0, 2]);
    assert_eq!(c.data.class_counts(), [10, 22, 6]);
    // perm[c] == c leaves the class clean
    let mut c = Corrupted::clean(d);
    c.flip_systematic(0.5, &[0, 2, 1], None, 1).unwrap();
    assert_eq!(kinds_by_true_class(&c, SampleKind::Systematic), [0, 10, 4]);
    assert!(c.flip_systematic(0.5, &[0, 1], None, 1).is_err());
    assert!(c.flip_systematic(1.5, &[0, 1, 2], None, 1).is_err());
}

#[test]
fn random_exact_counts_to_other_classes() {
    let d = mem_set(&[40, 30, 25, 5], ImageShape::new(2, 2, 3));
    let mut c = Corrupted::clean(d);
    assert_eq!(c.flip_random(0.2, None, 9).unwrap(), 8 + 6 + 5 + 1);
    assert_eq!(kinds_by_true_class(&c, SampleKind::Random), [8, 6, 5, 1]);
    let mut targets = BTreeSet::new();
    for i in 0..c.len() {
        let (t, g) = (c.true_labels[i], c.data.label(i));
        if c.kinds[i] == SampleKind::Random {
            assert_ne!(t, g);
            targets.insert(g);
        } else {
            assert_eq!(t, g);
        }
    }
    assert_eq!(targets.len(), 4, "every class receives some flips");
    // a second pass only picks still-clean samples
    c.flip_random(0.5, Some(0), 2).unwrap();
    assert_eq!(kinds_by_true_class(&c, SampleKind::Random)[0], 8 + 20);
    assert!(
        c.flip_random(0.5, Some(0), 3).is_err(),
        "only 12 clean left"
    );
}

#[test]
fn backdoor_stamps_and_relabels() {
    let shape = ImageShape::new(8, 8, 3);
    let d = mem_set(&[10, 10, 10], shape);
    let mark = Watermark::new(MarkShape::L, 3);
    let mut c = Corrupted::clean(d.clone());
    assert_eq!(c.backdoor(0.35, 0, 2, &mark, 4).unwrap(), 4);
    let mut stamped = d.image(0).to_vec();
    for i in 0..c.len() {
        if c.kinds[i] == SampleKind::Backdoor {
            assert_eq!((c.true_labels[i], c.data.label(i)), (0, 2));
            stamped.copy_from_slice(d.image(i));
            mark.stamp(&mut stamped, shape).unwrap();
            assert_eq!(c.data.image(i), &stamped[..]);
            assert_ne!(c.data.image(i), d.image(i));
        } else {
            assert_eq!(c.data.image(i), d.image(i));
            assert_eq!(c.data.label(i), d.label(i));
        }
    }
    assert!(c.backdoor(0.1, 1, 1, &mark, 4).is_err());
    assert!(c
        .backdoor(0.1, 1, 0, &Watermark::new(MarkShape::X, 8), 4)
        .is_err());
}

#[test]
fn spurious_share() {
    let d = mem_set(&[30, 20, 20], ImageShape::new(2, 2, 1));
    let others: Vec<usize> = (30..70).collect();
    let c = Corrupted::spurious(&d, 0, &d, &others, 0.25, 3).unwrap();
    // 30 main + round(0.25 * 30 / 0.75) = 10 spurious: 25% of 40
    assert_eq!(c.len(), 40);
    assert_eq!(c.data.classes, ["c0"]);
    assert_eq!(c.data.labels(), &[0; 40][..]);
    assert_eq!(
        c.kinds
            .iter()
            .filter(|&&k| k == SampleKind::Spurious)
            .count(),
        10
    );
    for i in 0..40 {
        if c.kinds[i] == SampleKind::Spurious {
            assert_ne!(c.origins[i], "c0");
        } else {
            assert_eq!(c.origins[i], "c0");
        }
    }
    // truth.csv names a spurious image's real class (not c0, the class it was put in), and
    // reads back as bad with no true label among the set's one class.
    let (view, rows) = c.as_written(5).unwrap();
    let origin = |p: &str| {
        rows.iter()
            .find(|r| r.path == p)
            .unwrap()
            .true_label
            .clone()
    };
    let r = truth::resolve(&rows, &view);
    assert_eq!(r.missing + r.unknown_paths + r.unknown_labels, 0);
    for (i, id) in view.ids().iter().enumerate() {
        let row = rows.iter().find(|r| &r.path == id).unwrap();
        if row.kind.as_deref() == Some("spurious") {
            assert_ne!(origin(id), "c0");
            assert!(r.info.bad[i]);
            assert_eq!(r.info.true_label[i], None);
            assert_eq!(r.info.kind[i], "spurious");
        } else {
            assert_eq!(origin(id), "c0");
            assert!(!r.info.bad[i]);
            assert_eq!(r.info.true_label[i], Some(0));
        }
    }
    assert_eq!(r.info.bad.iter().filter(|&&b| b).count(), 10);
    assert!(Corrupted::spurious(&d, 0, &d, &others[..5], 0.25, 3).is_err());
    assert!(Corrupted::spurious(&d, 0, &d, &others, 1.0, 3).is_err());
}

#[test]
fn file_names_hide_the_truth() {
    let d = mem_set(&[60, 60], ImageShape::new(2, 2, 1));
    let mut c = Corrupted::clean(d);
    c.flip_systematic(0.5, &[1, 0], None, 0).unwrap();
    let paths = c.file_paths(7);
    assert_eq!(paths.len(), 120);
    assert_eq!(paths.iter().collect::<BTreeSet<_>>().len(), 120);
    let serial = |p: &str| -> usize { p[3..6].parse().unwrap() };
    assert!(paths.iter().all(|p| p.ends_with(".png") && p.len() == 10));
    // serials are a permutation, and not in sample order
    let s: Vec<usize> = paths.iter().map(|p| serial(p)).collect();
    assert_ne!(s, (0..120).collect::<Vec<_>>());
    assert_eq!(s.iter().collect::<BTreeSet<_>>().len(), 120);
    assert_ne!(c.file_paths(8), paths);
    let (view, rows) = c.as_written(7).unwrap();
    assert_eq!(view.ids().len(), 120);
    assert!(view.ids().windows(2).all(|w| w[0] < w[1]));
    assert_eq!(
        rows.iter().map(|r| &r.path).collect::<Vec<_>>(),
        view.ids().iter().collect::<Vec<_>>()
    );
    let r = truth::resolve(&rows, &view);
    assert_eq!(r.info.bad.iter().filter(|&&b| b).count(), 60);
    assert_eq!(r.missing + r.unknown_paths + r.unknown_labels, 0);
}

#[test]
fn folder_names_are_safe_and_unique() {
    let names: Vec<String> = [
        "a/b",
        "A/B",
        "..",
        " .hidden",
        "ok.",
        "",
        "x:y*",
        "Ankle boot",
    ]
    .map(String::from)
    .to_vec();
    assert_eq!(
        folder_names(&names),
        [
            "a_b",
            "A_B_2",
            "class",
            "_.hidden",
            "ok",
            "class_2",
            "x_y_",
            "Ankle boot"
        ]
    );
    let classes: Vec<String> = ["T-shirt", "Ankle boot"].map(String::from).to_vec();
    assert_eq!(class_index(&classes, "ankle BOOT").unwrap(), 1);
    assert_eq!(class_index(&classes, "0").unwrap(), 0);
    assert!(class_index(&classes, "Sneaker")
        .unwrap_err()
        .to_string()
        .contains("0:T-shirt, 1:Ankle boot"));
}
