//! Duplicates said in one unit wherever they are counted: the image checks' exact and near
//! (perceptual hash) duplicates and the embeddings' exact (same bytes) and near (cosine)
//! duplicates, both as "N images in G groups of exact / near duplicates" (`check`, `run`, the
//! report, as the window's note words the image checks'), on a tiny folder
//! whose duplicates are known: a/00 copied twice and b/00 once (exact: 5 images in 2 groups),
//! a/01 and a lighter copy (near by hash: 2 images in 1 group), and embeddings that put a/02,
//! a/03, a/04 on one direction and b/02, b/03 on another (near by cosine: 5 images in 2
//! groups, from 4 pairs).

mod common;

use std::path::Path;

use common::cli::{run, s, succeeds};
use itlm_inspector::session::similar::{Duplicate, Similar};

/// A 24x24 colour image of its own noise (distinct perceptual hashes).
fn noise(seed: u32) -> image::RgbImage {
    image::RgbImage::from_fn(24, 24, |x, y| {
        let mut h = (x * 73856093) ^ (y * 19349663) ^ (seed.wrapping_mul(83492791) + 1);
        h ^= h >> 13;
        h = h.wrapping_mul(0x5bd1e995);
        h ^= h >> 15;
        let v = (h % 200 + 40) as u8;
        image::Rgb([v, 255 - v, v / 2 + 30])
    })
}

/// The folder (module doc); its ids in dataset order.
fn folder(root: &Path) -> Vec<String> {
    for (c, class) in ["a", "b"].iter().enumerate() {
        std::fs::create_dir_all(root.join(class)).unwrap();
        for i in 0..5u32 {
            noise(i * 2 + c as u32)
                .save(root.join(class).join(format!("{i:02}.png")))
                .unwrap();
        }
    }
    for copy in ["a/c1.png", "a/c2.png"] {
        std::fs::copy(root.join("a/00.png"), root.join(copy)).unwrap();
    }
    std::fs::copy(root.join("b/00.png"), root.join("b/c1.png")).unwrap();
    let mut light = image::open(root.join("a/01.png")).unwrap().to_rgb8();
    light
        .pixels_mut()
        .for_each(|p| p.0 = p.0.map(|v| v.saturating_add(3)));
    light.save(root.join("a/01-light.png")).unwrap();
    let mut ids: Vec<String> = ["a", "b"]
        .iter()
        .flat_map(|c| {
            std::fs::read_dir(root.join(c))
                .unwrap()
                .map(move |e| format!("{c}/{}", e.unwrap().file_name().to_str().unwrap()))
        })
        .collect();
    ids.sort();
    ids
}

#[test]
fn check_run_and_the_report_count_both_kinds_of_duplicates_in_images_and_groups() {
    use itlm_inspector::testing::{f32_bytes, npy};
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let ids = folder(&data);
    assert_eq!(ids.len(), 14);
    let checks =
        "(5 images in 2 groups of exact duplicates, 2 images in 1 group of near duplicates)";

    let o = run(&["check", s(&data)]);
    succeeds(&o);
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        out.contains(&format!("image issues: 7 of 14 images {checks}")),
        "{out}"
    );

    // Embeddings by id: one direction per image but the two near groups, and a file's copies
    // on its own (a backbone embeds the same bytes the same: those pairs are exact, not near).
    let group = |id: &str| match id {
        "a/02.png" | "a/03.png" | "a/04.png" => Some(0),
        "b/02.png" | "b/03.png" => Some(1),
        "a/00.png" | "a/c1.png" | "a/c2.png" => Some(2),
        _ => None,
    };
    let singles: Vec<&String> = ids.iter().filter(|id| group(id).is_none()).collect();
    let dims = singles.len() + 3;
    let rows: Vec<f32> = ids
        .iter()
        .flat_map(|id| {
            let d = group(id).unwrap_or_else(|| 3 + singles.iter().position(|s| *s == id).unwrap());
            (0..dims).map(move |k| if k == d { 1.0 } else { 0.0 })
        })
        .collect();
    let emb = tmp.path().join("emb.npy");
    std::fs::write(
        &emb,
        npy(
            "<f4",
            &format!("({}, {dims})", ids.len()),
            &f32_bytes(&rows),
        ),
    )
    .unwrap();
    let id_file = tmp.path().join("ids.txt");
    std::fs::write(&id_file, ids.join("\n") + "\n").unwrap();
    let run_out = tmp.path().join("out");
    let e = succeeds(&run(&[
        "run",
        s(&data),
        "--out",
        s(&run_out),
        "--embeddings",
        s(&emb),
        "--embedding-ids",
        s(&id_file),
        "--head",
        "linear",
        "--rounds",
        "1",
        "--epochs",
        "1",
        "--final-epochs",
        "1",
    ]));
    assert!(
        e.contains(&format!("image checks: 7 of 14 images {checks}; ")),
        "{e}"
    );
    assert!(
        e.contains(
            "embedding checks: 5 images in 2 groups of exact duplicates (same bytes), 5 images \
             in 2 groups of near duplicates (4 pairs at cosine >= 0.9); "
        ),
        "{e}"
    );
    // The pairs listed below the count are the 3 exact and 4 near pairs, 5 of them shown.
    let listed = e.matches(" duplicate: ").count();
    assert_eq!(listed, 5, "{e}");

    // The report's image checks: images and groups.
    let run_file = std::fs::read_dir(&run_out)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|e| e == "itlm"))
        .unwrap();
    let html = tmp.path().join("report.html");
    succeeds(&run(&["report", s(&run_file), "--out", s(&html)]));
    let h = std::fs::read_to_string(&html).unwrap();
    let at = h.find("<section id=\"image-checks\"").unwrap();
    let section = &h[at..at + h[at..].find("</section>").unwrap()];
    for (key, cell, heading) in [
        (
            "exact_duplicates",
            "<td>5 in 2 groups</td>",
            "exact duplicate (5 images in 2 groups)",
        ),
        (
            "near_duplicates",
            "<td>2 in 1 group</td>",
            "near duplicate (2 images in 1 group)",
        ),
    ] {
        let row = section
            .split("<tr")
            .find(|r| r.contains(&format!("data-check=\"{key}\"")))
            .unwrap_or_else(|| panic!("{key}: {section}"));
        assert!(row.contains(cell), "{row}");
        assert!(section.contains(heading), "{section}");
    }
}

/// Embedding pairs join into groups by union-find: a chain a - b - c is one group of three,
/// exact and near pairs are grouped apart.
#[test]
fn embedding_pairs_join_into_groups() {
    let pair = |a, b, exact| Duplicate {
        a,
        b,
        exact,
        cosine: 0.95,
    };
    let s = Similar {
        duplicates: vec![
            pair(0, 1, true),
            pair(7, 8, false),
            pair(3, 7, false),
            pair(1, 9, true),
            pair(4, 5, false),
        ],
        ..Default::default()
    };
    assert_eq!(s.duplicate_groups(true), vec![vec![0, 1, 9]]);
    assert_eq!(s.duplicate_groups(false), vec![vec![3, 7, 8], vec![4, 5]]);
    assert_eq!(
        s.duplicate_words(false),
        "5 images in 2 groups of near duplicates"
    );
    assert_eq!(
        s.duplicate_words(true),
        "3 images in 1 group of exact duplicates"
    );
    assert_eq!(
        Similar::default().duplicate_words(true),
        "no exact duplicates"
    );
}
