//! `data::truth::parse` + `resolve` on arbitrary text against a small dataset: never panics,
//! the resolved truth covers every sample, and parsed rows survive `to_csv` unchanged.
#![no_main]

use std::sync::OnceLock;

use itlm_inspector::data::{truth, Dataset, ImageShape, Source};
use libfuzzer_sys::fuzz_target;

fn data() -> &'static Dataset {
    static D: OnceLock<Dataset> = OnceLock::new();
    D.get_or_init(|| {
        let ids = [
            "cat/a.png",
            "cat/sub/b.png",
            "dog/c.png",
            "dog/d,e.png",
            "bird/\"q\".png",
            "bird/ü.png",
        ];
        Dataset::from_parts(
            "fuzz",
            Source::Memory,
            vec!["bird".into(), "cat".into(), "dog".into()],
            ImageShape::new(1, 1, 1),
            vec![0; ids.len()],
            vec![1, 1, 2, 2, 0, 0],
            ids.map(String::from).to_vec(),
        )
        .expect("fuzz dataset")
    })
}

fuzz_target!(|bytes: &[u8]| {
    // As `truth::load_for` reads a file.
    let text = String::from_utf8_lossy(bytes);
    let Ok(rows) = truth::parse(&text) else {
        return;
    };
    let d = data();
    let r = truth::resolve(&rows, d);
    let n = d.len();
    assert_eq!(r.info.bad.len(), n);
    assert_eq!(r.info.true_label.len(), n);
    assert_eq!(r.info.kind.len(), n);
    assert!(r.missing <= n);
    assert!(r.unknown_paths + r.unknown_labels <= rows.len());
    assert!(r
        .info
        .true_label
        .iter()
        .flatten()
        .all(|&c| (c as usize) < d.num_classes()));
    let _ = r.warnings();
    let again = truth::parse(&truth::to_csv(&rows)).expect("to_csv output parses");
    assert_eq!(again, rows);
});
