//! Property tests of the selection rule: exact count, order, NaN handling, determinism.

use itlm_inspector::itlm::select::{keep_count, select_global, select_per_class};
use proptest::prelude::*;

fn loss() -> impl Strategy<Value = f32> {
    prop_oneof![
        8 => -1.0e3f32..1.0e3,
        1 => Just(f32::NAN),
        1 => Just(f32::INFINITY),
        1 => Just(0.0f32),
        1 => Just(-0.0f32),
        1 => Just(1.0f32),
    ]
}

/// NaN counts as +inf; -0.0 as 0.0.
fn norm(x: f32) -> f32 {
    if x.is_nan() {
        f32::INFINITY
    } else {
        x + 0.0
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    #[test]
    fn global_keeps_exactly_ceil_tau_n_lowest(
        losses in prop::collection::vec(loss(), 0..300),
        tau in 0.001f64..=1.0,
    ) {
        let n = losses.len();
        let kept = select_global(&losses, tau);
        let k = kept.iter().filter(|&&b| b).count();
        prop_assert_eq!(k, keep_count(n, tau));
        if n > 0 {
            prop_assert_eq!(k, ((tau * n as f64 - 1e-9).ceil() as usize).clamp(1, n));
        }
        // every kept loss <= every trimmed loss; ties broken by index
        for i in 0..n {
            for j in 0..n {
                if kept[i] && !kept[j] {
                    let (a, b) = (norm(losses[i]), norm(losses[j]));
                    prop_assert!(a < b || (a == b && i < j), "kept {i}={} trimmed {j}={}", losses[i], losses[j]);
                }
            }
        }
        // a NaN is never kept while a finite loss is trimmed
        let nan_kept = (0..n).any(|i| kept[i] && losses[i].is_nan());
        let finite_trimmed = (0..n).any(|i| !kept[i] && losses[i].is_finite());
        prop_assert!(!(nan_kept && finite_trimmed));
        // deterministic
        prop_assert_eq!(select_global(&losses, tau), kept);
    }

    #[test]
    fn per_class_keeps_the_share_of_each_class(
        pairs in prop::collection::vec((loss(), 0u32..4), 0..300),
        tau in 0.001f64..=1.0,
    ) {
        let losses: Vec<f32> = pairs.iter().map(|p| p.0).collect();
        let labels: Vec<u32> = pairs.iter().map(|p| p.1).collect();
        let kept = select_per_class(&losses, &labels, 4, tau);
        for c in 0..4u32 {
            let members: Vec<usize> = (0..labels.len()).filter(|&i| labels[i] == c).collect();
            let k = members.iter().filter(|&&i| kept[i]).count();
            prop_assert_eq!(k, keep_count(members.len(), tau));
            for &i in &members {
                for &j in &members {
                    if kept[i] && !kept[j] {
                        let (a, b) = (norm(losses[i]), norm(losses[j]));
                        prop_assert!(a < b || (a == b && i < j));
                    }
                }
            }
        }
        prop_assert_eq!(select_per_class(&losses, &labels, 4, tau), kept);
    }
}
