//! A dataset given as a labels CSV (`path,label`, images anywhere under the CSV's folder): the
//! header's column names, rows skipped with their reasons (no label, a missing or broken file),
//! errors that name the file, `run` / reopen / clean copy through the binary, nothing written
//! into the dataset's folder, and this tool's own exported labels.csv loading back.

mod common;

use common::cli::{image_of, run, s, succeeds, FAST};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use itlm_inspector::data::{self, LoadOptions, Source};
use itlm_inspector::session::reopen;
use itlm_inspector::session::EvalInputs;

const CLASSES: [&str; 3] = ["a", "b", "c"];

/// `dir/imgs/<class>_<i>.png` for every class, `per_class` each, and the (path, label) rows
/// that list them ('./' before the first of each class, to be normalised away).
fn flat_images(dir: &Path, per_class: usize) -> Vec<(String, String)> {
    std::fs::create_dir_all(dir.join("imgs")).unwrap();
    let mut rows = Vec::new();
    for (c, name) in CLASSES.iter().enumerate() {
        for i in 0..per_class {
            let file = format!("imgs/{name}_{i:02}.png");
            image_of(c, i).save(dir.join(&file)).unwrap();
            let written = if i == 0 { format!("./{file}") } else { file };
            rows.push((written, name.to_string()));
        }
    }
    rows
}

fn write_csv(path: &Path, header: &str, rows: &[(String, String)]) {
    let mut text = format!("{header}\n");
    for (p, l) in rows {
        text.push_str(&format!("{p},{l}\n"));
    }
    std::fs::write(path, text).unwrap();
}

fn load(path: &Path) -> Result<data::Dataset, String> {
    data::load(path, &LoadOptions::default())
        .map(|l| l.train)
        .map_err(|e| e.to_string())
}

fn snapshot(dir: &Path) -> BTreeMap<PathBuf, (u64, SystemTime)> {
    walkdir::WalkDir::new(dir)
        .into_iter()
        .map(|e| {
            let e = e.unwrap();
            let m = e.metadata().unwrap();
            (e.path().to_path_buf(), (m.len(), m.modified().unwrap()))
        })
        .collect()
}

#[test]
fn every_header_variant_loads_with_ids_as_written() {
    let tmp = tempfile::tempdir().unwrap();
    let rows = flat_images(tmp.path(), 3);
    let pairs = [
        ("path", "label"),
        ("File", "Class"),
        ("filename", "target"),
        ("file_name", "label_name"),
        ("image", "given_label"),
        ("image_path", "category"),
        ("FILEPATH", "label"),
        ("id", "label"),
    ];
    for (k, (p, l)) in pairs.iter().enumerate() {
        // Other columns around them are ignored; the file name's case is not the point.
        let csv = tmp.path().join(format!("set{k}.CSV"));
        let rows: Vec<(String, String)> = rows
            .iter()
            .map(|(p, l)| (format!("x,{p}"), format!("{l},y")))
            .collect();
        write_csv(&csv, &format!("extra,{p},{l},more"), &rows);
        let d = load(&csv).unwrap();
        assert_eq!(d.len(), 9, "{p},{l}");
        assert_eq!(d.classes, CLASSES);
        assert_eq!(d.id(0), "imgs/a_00.png", "'./' is not part of the id");
        assert_eq!(d.id(4), "imgs/b_01.png");
        assert_eq!(d.class_name(d.label(4)), "b");
        assert_eq!(d.file(4), Some(tmp.path().join("imgs/b_01.png")));
        assert!(d.skipped.is_empty(), "{:?}", d.skipped);
        assert_eq!(d.source, Source::LabelsCsv { file: csv.clone() });
    }
    // Absolute paths load too; their ids are the paths.
    let abs = tmp.path().join("imgs/c_02.png");
    let csv = tmp.path().join("abs.csv");
    write_csv(&csv, "path,label", &[(s(&abs).into(), "c".into())]);
    let d = load(&csv).unwrap();
    assert_eq!(d.id(0), s(&abs));
    assert_eq!(d.file(0), Some(abs));
}

#[test]
fn an_exported_labels_csv_loads_without_its_excluded_samples() {
    let tmp = tempfile::tempdir().unwrap();
    flat_images(tmp.path(), 2);
    let csv = tmp.path().join("labels.csv");
    std::fs::write(
        &csv,
        "path,label,given,decision,score,flagged\n\
         imgs/a_00.png,a,a,,0.1,0\n\
         imgs/a_01.png,,a,exclude,2.5,1\n\
         imgs/b_00.png,c,b,relabel,1.2,1\n\
         imgs/b_01.png,b,b,keep,0.3,0\n\
         imgs/c_00.png,c,c,,0.2,0\n",
    )
    .unwrap();
    let d = load(&csv).unwrap();
    let ids: Vec<&str> = d.ids().iter().map(String::as_str).collect();
    assert_eq!(
        ids,
        [
            "imgs/a_00.png",
            "imgs/b_00.png",
            "imgs/b_01.png",
            "imgs/c_00.png"
        ]
    );
    assert_eq!(
        d.class_name(d.label(1)),
        "c",
        "the corrected label is the label"
    );
    assert_eq!(d.skipped.len(), 1);
    assert_eq!(d.skipped[0].path, tmp.path().join("imgs/a_01.png"));
    assert!(
        d.skipped[0].reason.contains("line 3") && d.skipped[0].reason.contains("no label"),
        "{:?}",
        d.skipped[0]
    );
}

#[test]
fn bad_csvs_are_errors_that_name_the_file_and_the_problem() {
    let tmp = tempfile::tempdir().unwrap();
    let rows = flat_images(tmp.path(), 2);

    let csv = tmp.path().join("nopath.csv");
    write_csv(&csv, "picture,label", &rows);
    let e = load(&csv).unwrap_err();
    assert!(
        e.contains("nopath.csv") && e.contains("no path column") && e.contains("picture, label"),
        "{e}"
    );

    let csv = tmp.path().join("nolabel.csv");
    write_csv(&csv, "path,kind", &rows);
    let e = load(&csv).unwrap_err();
    assert!(
        e.contains("nolabel.csv") && e.contains("no label column") && e.contains("path, kind"),
        "{e}"
    );

    // The same file twice, once written with './': lines 2 and 5.
    let csv = tmp.path().join("dup.csv");
    let mut dup = rows.clone();
    dup.insert(3, ("imgs/a_00.png".into(), "b".into()));
    write_csv(&csv, "path,label", &dup);
    let e = load(&csv).unwrap_err();
    assert!(
        e.contains("dup.csv") && e.contains("imgs/a_00.png on lines 2, 5"),
        "{e}"
    );
    // The same with CRLF line ends (Python's csv module, Excel): the same lines (the csv
    // crate's own count said 1, 4).
    let crlf = tmp.path().join("dup-crlf.csv");
    let text = std::fs::read_to_string(&csv).unwrap().replace('\n', "\r\n");
    std::fs::write(&crlf, text).unwrap();
    let e = load(&crlf).unwrap_err();
    assert!(e.contains("imgs/a_00.png on lines 2, 5"), "{e}");
    assert!(e.contains("with different labels"), "{e}");

    // A row repeated with the same label is skipped (line named), not an error.
    let csv = tmp.path().join("repeat.csv");
    let mut rep = rows.clone();
    rep.push(rows[1].clone());
    write_csv(&csv, "path,label", &rep);
    let d = load(&csv).unwrap();
    assert_eq!(d.len(), rows.len());
    let at = rows.len() + 2;
    assert!(
        d.skipped
            .iter()
            .any(|x| x.reason
                == format!("line {at}: the same file and label as line 3: not used again")),
        "{:?}",
        d.skipped
    );

    let csv = tmp.path().join("gone.csv");
    let gone: Vec<(String, String)> = (0..3)
        .map(|i| (format!("nowhere/{i}.png"), "a".into()))
        .collect();
    write_csv(&csv, "path,label", &gone);
    let e = load(&csv).unwrap_err();
    assert!(
        e.contains("gone.csv")
            && e.contains("none of the 3 files it lists is there")
            && e.contains("nowhere/0.png, line 2")
            && e.contains("its paths are read relative to")
            && e.contains("--images DIR"),
        "{e}"
    );

    let csv = tmp.path().join("empty.csv");
    std::fs::write(&csv, "path,label\n").unwrap();
    let e = load(&csv).unwrap_err();
    assert!(e.contains("empty.csv") && e.contains("no rows"), "{e}");
}

#[test]
fn a_broken_or_missing_file_is_skipped_and_named_with_its_line() {
    let tmp = tempfile::tempdir().unwrap();
    let mut rows = flat_images(tmp.path(), 2);
    std::fs::write(
        tmp.path().join("imgs/broken.png"),
        b"\x89PNG\r\n\x1a\nnot a png",
    )
    .unwrap();
    rows.push(("imgs/broken.png".into(), "a".into()));
    rows.push(("imgs/missing.png".into(), "b".into()));
    let csv = tmp.path().join("labels.csv");
    write_csv(&csv, "path,label", &rows);
    let d = load(&csv).unwrap();
    assert_eq!(d.len(), 6);
    let reasons: Vec<(PathBuf, String)> = d
        .skipped
        .iter()
        .map(|s| (s.path.clone(), s.reason.clone()))
        .collect();
    assert_eq!(reasons.len(), 2, "{reasons:?}");
    assert_eq!(reasons[0].0, tmp.path().join("imgs/broken.png"));
    assert!(reasons[0].1.starts_with("line 8: ") && reasons[0].1.contains("PNG"));
    assert_eq!(reasons[1].0, tmp.path().join("imgs/missing.png"));
    assert_eq!(reasons[1].1, "line 9: no such file");
}

#[test]
fn run_reopen_and_clean_copy_of_a_csv_never_write_into_its_folder() {
    let tmp = tempfile::tempdir().unwrap();
    let set = tmp.path().join("set");
    let mut rows = flat_images(&set, 6);
    // One mislabelled sample.
    rows[1].1 = "c".into();
    let csv = set.join("labels.csv");
    write_csv(&csv, "filename,label", &rows);
    // A test set as a CSV of its own, in another folder.
    let test_dir = tmp.path().join("test");
    let test_rows = flat_images(&test_dir, 2);
    let test_csv = test_dir.join("test.csv");
    write_csv(&test_csv, "path,class", &test_rows);
    let before = snapshot(&set);

    let out = tmp.path().join("out");
    let mut args = vec!["run", s(&csv), "--out", s(&out), "--test", s(&test_csv)];
    args.extend(FAST);
    let e = succeeds(&run(&args));
    assert!(e.is_empty() || !e.contains("error"), "{e}");
    let samples = std::fs::read_to_string(out.join("samples.csv")).unwrap();
    assert!(samples.contains("imgs/a_01.png"), "{samples}");
    assert!(!samples.contains("./imgs"), "{samples}");

    // The run file reopens by reading the CSV again: the same ids.
    let loaded = reopen::load(&out.join("run.itlm"), &EvalInputs::default()).unwrap();
    let fresh = load(&csv).unwrap();
    assert_eq!(loaded.train.ids(), fresh.ids());
    assert!(matches!(loaded.train.source, Source::LabelsCsv { .. }));
    // The run file stores both CSVs' canonical paths (its evaluation sets guard exports too).
    let rf = itlm_inspector::export::RunFile::read(&out.join("run.itlm")).unwrap();
    let stored = rf.dataset.sources();
    let canon = |p: &Path| Source::LabelsCsv {
        file: std::fs::canonicalize(p).unwrap(),
    };
    assert_eq!(stored, [canon(&csv), canon(&test_csv)]);
    // With a test CSV, as the window's test field gives it.
    let eval = EvalInputs {
        test: Some(test_csv.clone()),
        ..Default::default()
    };
    let loaded = reopen::load(&out.join("run.itlm"), &eval).unwrap();
    let test = loaded.test.as_ref().expect("the test set");
    assert_eq!(test.len(), 6);
    assert_eq!(test.classes, CLASSES);

    // The clean copy: class folders and a labels.csv that loads, as a CSV and as a folder.
    let copy = tmp.path().join("copy");
    succeeds(&run(&[
        "export",
        s(&out.join("run.itlm")),
        "--clean-copy",
        s(&copy),
    ]));
    for c in CLASSES {
        assert!(copy.join(c).is_dir(), "{c}");
    }
    let again = load(&copy.join("labels.csv")).unwrap();
    let folder = load(&copy).unwrap();
    assert!(!again.is_empty() && again.len() <= 18);
    assert_eq!(again.len(), folder.len());
    let clean = std::fs::read_to_string(out.join("clean.txt")).unwrap();
    assert_eq!(again.len(), clean.lines().count());
    for (i, id) in again.ids().iter().enumerate() {
        // `<class>/<file name>`, labelled by its folder.
        let (class, name) = id.split_once('/').unwrap();
        assert_eq!(again.class_name(again.label(i)), class);
        assert!(clean.contains(&format!("imgs/{name}")), "{id}");
    }

    // FiftyOne's folder links every file; the report names the CSV as the source.
    let fo = tmp.path().join("fo");
    let e = succeeds(&run(&[
        "export",
        s(&out.join("run.itlm")),
        "--fiftyone",
        s(&fo),
    ]));
    assert!(e.contains("18 samples"), "{e}");
    let html = tmp.path().join("report.html");
    succeeds(&run(&[
        "report",
        s(&out.join("run.itlm")),
        "--out",
        s(&html),
    ]));
    let canon = std::fs::canonicalize(&csv).unwrap();
    assert!(std::fs::read_to_string(&html).unwrap().contains(s(&canon)));

    // Outputs inside the CSV's folder are refused.
    let inside = set.join("out");
    let mut args = vec!["run", s(&csv), "--out", s(&inside)];
    args.extend(FAST);
    let o = run(&args);
    let e = String::from_utf8_lossy(&o.stderr);
    assert!(
        !o.status.success() && e.contains("inside the dataset folder"),
        "{e}"
    );
    let o = run(&[
        "export",
        s(&out.join("run.itlm")),
        "--clean-copy",
        s(&set.join("copy")),
    ]);
    assert!(!o.status.success());
    assert_eq!(
        snapshot(&set),
        before,
        "nothing is written into the dataset's folder"
    );
}

/// The round trip: a run on an image folder with decisions, its exported labels.csv (paths
/// relative to the image folder's root) put in a folder beside the images, loads and runs:
/// excluded samples are left out, relabelled ones carry their new class.
#[test]
fn an_exported_labels_csv_runs_again() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    for (c, name) in CLASSES.iter().enumerate() {
        std::fs::create_dir_all(data.join(name)).unwrap();
        for i in 0..6 {
            image_of(c, i)
                .save(data.join(name).join(format!("{i:02}.png")))
                .unwrap();
        }
    }
    let out = tmp.path().join("out");
    let mut args = vec!["run", s(&data), "--out", s(&out)];
    args.extend(FAST);
    succeeds(&run(&args));
    let dec = tmp.path().join("dec.csv");
    std::fs::write(
        &dec,
        "path,decision,label,time\na/00.png,exclude,,2026-12-02T10:00:00Z\n\
         b/01.png,relabel,c,2026-12-02T10:00:01Z\n",
    )
    .unwrap();
    let out2 = tmp.path().join("out2");
    succeeds(&run(&[
        "export",
        s(&out.join("run.itlm")),
        "--decisions",
        s(&dec),
        "--out",
        s(&out2),
    ]));
    // Its paths are relative to the image folder: beside a copy of it, they load.
    let beside = tmp.path().join("again");
    for (c, _) in CLASSES.iter().enumerate() {
        let name = CLASSES[c];
        std::fs::create_dir_all(beside.join(name)).unwrap();
        for e in std::fs::read_dir(data.join(name)).unwrap() {
            let e = e.unwrap();
            std::fs::copy(e.path(), beside.join(name).join(e.file_name())).unwrap();
        }
    }
    let csv = beside.join("labels.csv");
    std::fs::copy(out2.join("labels.csv"), &csv).unwrap();
    let d = load(&csv).unwrap();
    assert_eq!(d.len(), 17);
    assert!(!d.ids().iter().any(|id| id == "a/00.png"));
    let i = d.ids().iter().position(|id| id == "b/01.png").unwrap();
    assert_eq!(d.class_name(d.label(i)), "c");
    assert_eq!(d.skipped.len(), 1);
    assert!(d.skipped[0].reason.contains("no label"));

    let out3 = tmp.path().join("out3");
    let mut args = vec!["run", s(&csv), "--out", s(&out3)];
    args.extend(FAST);
    succeeds(&run(&args));
    let samples = std::fs::read_to_string(out3.join("samples.csv")).unwrap();
    assert!(samples.contains("b/01.png") && !samples.contains("a/00.png"));
}

/// What the window does with a typed, dropped or picked `.csv`: `session::open_dataset`,
/// counting the files it reads for the loading line; `check` reads it too, and refuses to
/// write its table into the CSV's folder.
#[test]
fn the_window_and_check_open_a_csv() {
    let tmp = tempfile::tempdir().unwrap();
    let rows = flat_images(tmp.path(), 4);
    let csv = tmp.path().join("labels.csv");
    write_csv(&csv, "image,class", &rows);
    let progress = std::sync::Arc::new(data::LoadProgress::default());
    let loaded = itlm_inspector::session::open_dataset(&itlm_inspector::session::DataRequest {
        path: csv.clone(),
        eval: EvalInputs::default(),
        limit: None,
        seed: 1,
        progress: Some(progress.clone()),
        ..Default::default()
    })
    .unwrap();
    assert_eq!(loaded.train.len(), 12);
    assert_eq!(loaded.train.file(0), Some(tmp.path().join("imgs/a_00.png")));
    let p = progress.snapshot();
    assert_eq!((p.files, p.decoded), (12, 12));

    let o = run(&["check", s(&csv)]);
    succeeds(&o);
    let said =
        String::from_utf8_lossy(&o.stdout).into_owned() + &String::from_utf8_lossy(&o.stderr);
    assert!(said.contains("12 images, 3 classes"), "{said}");
    let before = snapshot(tmp.path());
    let o = run(&["check", s(&csv), "--out", s(&tmp.path().join("issues.csv"))]);
    let e = String::from_utf8_lossy(&o.stderr);
    assert!(
        !o.status.success() && e.contains("inside the dataset folder"),
        "{e}"
    );
    assert_eq!(snapshot(tmp.path()), before);
}

/// Semicolon files (what Excel writes where the decimal mark is a comma) and tab-separated
/// `.tsv` files load as a comma file does; a semicolon file had read as one column named
/// `;image;label;split`, a `.tsv` as "not a dataset".
#[test]
fn semicolon_and_tab_separated_files_load() {
    let tmp = tempfile::tempdir().unwrap();
    let rows = flat_images(tmp.path(), 2);
    let comma = tmp.path().join("comma.csv");
    write_csv(&comma, "path,label", &rows);
    let want = load(&comma).unwrap();
    for (name, sep) in [("semi.csv", ";"), ("tabs.tsv", "\t"), ("tabs.csv", "\t")] {
        let f = tmp.path().join(name);
        let mut text = format!("idx{sep}path{sep}label\n");
        for (k, (p, l)) in rows.iter().enumerate() {
            text.push_str(&format!("{k}{sep}{p}{sep}{l}\n"));
        }
        std::fs::write(&f, text).unwrap();
        let d = load(&f).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(d.ids(), want.ids(), "{name}");
        assert_eq!(d.labels(), want.labels(), "{name}");
    }
}

/// A CSV whose header names its columns otherwise (`img_file,Y`, and the user's own `split`,
/// `score`, `notes`): refused by name with the flags to give, read with `--path-column` /
/// `--label-column`; the run file keeps the columns, so that it reopens with its images; the
/// corrected labels.csv and the clean copy's carry the user's other columns (one named like
/// ours as `orig_score`), quoting kept.
#[test]
fn named_columns_load_reopen_and_their_other_columns_reach_the_exports() {
    let tmp = tempfile::tempdir().unwrap();
    let set = tmp.path().join("set");
    let rows = flat_images(&set, 5);
    let csv = set.join("meta.csv");
    let mut text = String::from("img_file,Y,split,score,notes\n");
    for (k, (p, l)) in rows.iter().enumerate() {
        let split = if k % 3 == 0 { "val" } else { "train" };
        text.push_str(&format!("{p},{l},{split},0.{k},\"shot {k}, outdoors\"\n"));
    }
    std::fs::write(&csv, &text).unwrap();

    let e = load(&csv).unwrap_err();
    assert!(
        e.contains("no path column")
            && e.contains("--path-column")
            && e.contains("img_file, Y, split"),
        "{e}"
    );
    let e = String::from_utf8_lossy(&run(&["check", s(&csv)]).stderr).into_owned();
    assert!(e.contains("--path-column"), "{e}");
    let with = ["--path-column", "img_file", "--label-column", "y"];
    let o = run(&[&["check", s(&csv)][..], &with[..]].concat());
    let said = succeeds(&o) + &String::from_utf8_lossy(&o.stdout);
    assert!(said.contains("15 images, 3 classes"), "{said}");
    // A column named that is not there.
    let o = run(&[
        "check",
        s(&csv),
        "--path-column",
        "picture",
        "--label-column",
        "y",
    ]);
    let e = String::from_utf8_lossy(&o.stderr);
    assert!(
        !o.status.success() && e.contains("no column named \"picture\""),
        "{e}"
    );

    let out = tmp.path().join("out");
    let mut args = vec!["run", s(&csv), "--out", s(&out)];
    args.extend(with);
    args.extend(FAST);
    succeeds(&run(&args));
    let rf = itlm_inspector::export::RunFile::read(&out.join("run.itlm")).unwrap();
    assert_eq!(rf.dataset.columns.path.as_deref(), Some("img_file"));
    assert_eq!(rf.dataset.columns.label.as_deref(), Some("y"));
    let loaded = reopen::load(&out.join("run.itlm"), &EvalInputs::default()).unwrap();
    assert!(loaded
        .reopened
        .as_ref()
        .is_some_and(|r| r.images_missing.is_none()));
    assert_eq!(loaded.train.len(), 15);

    let dec = tmp.path().join("dec.csv");
    std::fs::write(
        &dec,
        "path,decision,label,time\nimgs/a_01.png,relabel,b,2026-12-07T10:00:00Z\n",
    )
    .unwrap();
    let out2 = tmp.path().join("out2");
    succeeds(&run(&[
        "export",
        s(&out.join("run.itlm")),
        "--decisions",
        s(&dec),
        "--out",
        s(&out2),
    ]));
    let table = |f: &Path| -> Vec<Vec<String>> {
        csv::Reader::from_path(f)
            .unwrap()
            .into_records()
            .map(|r| r.unwrap().iter().map(str::to_string).collect())
            .collect()
    };
    let header = |f: &Path| -> Vec<String> {
        csv::Reader::from_path(f)
            .unwrap()
            .headers()
            .unwrap()
            .iter()
            .map(str::to_string)
            .collect()
    };
    let labels = out2.join("labels.csv");
    assert_eq!(
        header(&labels),
        [
            "path",
            "label",
            "given",
            "decision",
            "score",
            "flagged",
            "by",
            "split",
            "orig_score",
            "notes"
        ]
    );
    let rows_out = table(&labels);
    assert_eq!(rows_out.len(), 15);
    let a01 = rows_out.iter().find(|r| r[0] == "imgs/a_01.png").unwrap();
    assert_eq!(
        (
            a01[1].as_str(),
            a01[2].as_str(),
            a01[7].as_str(),
            a01[8].as_str(),
            a01[9].as_str()
        ),
        ("b", "a", "train", "0.1", "shot 1, outdoors")
    );
    // Written with './' in the input: the id's row still finds its values.
    let a00 = rows_out.iter().find(|r| r[0] == "imgs/a_00.png").unwrap();
    assert_eq!(
        (a00[7].as_str(), a00[9].as_str()),
        ("val", "shot 0, outdoors")
    );
    // The corrected file loads again by the usual names, and runs.
    let beside = set.join("..").join("labels-again.csv");
    let mut moved = std::fs::read_to_string(&labels).unwrap();
    moved = moved.replace("imgs/", "set/imgs/");
    std::fs::write(&beside, moved).unwrap();
    let again = load(&beside).unwrap();
    assert_eq!(again.len(), 15);

    let copy = tmp.path().join("copy");
    succeeds(&run(&[
        "export",
        s(&out.join("run.itlm")),
        "--clean-copy",
        s(&copy),
    ]));
    let copy_labels = copy.join("labels.csv");
    assert_eq!(
        header(&copy_labels),
        ["path", "label", "split", "score", "notes"]
    );
    let copied = table(&copy_labels);
    assert!(!copied.is_empty());
    for r in &copied {
        let k: usize = r[3].trim_start_matches("0.").parse().unwrap();
        assert_eq!(r[4], format!("shot {k}, outdoors"), "{r:?}");
    }
    assert_eq!(load(&copy_labels).unwrap().len(), copied.len());
}

/// A CSV whose paths leave its folder (absolute, or `../`) lists images of another folder:
/// outputs stay out of every folder a listed image lies in and of the folder holding two or
/// more of them (the class-folder layout they form, a dataset of its own), for a run, a
/// cleanlab table and a clean copy alike; a folder beside them is fine.
#[test]
fn outputs_stay_out_of_the_folders_a_csv_lists_images_from() {
    let tmp = tempfile::tempdir().unwrap();
    let images = tmp.path().join("photos");
    for (c, name) in CLASSES.iter().enumerate() {
        std::fs::create_dir_all(images.join(name)).unwrap();
        for i in 0..4 {
            image_of(c, i)
                .save(images.join(name).join(format!("{i}.png")))
                .unwrap();
        }
    }
    let meta = tmp.path().join("meta");
    std::fs::create_dir_all(&meta).unwrap();
    let mut text = String::from("path,label\n");
    for (k, name) in CLASSES.iter().enumerate() {
        for i in 0..4 {
            // Half absolute, half relative through `..`.
            if (k + i) % 2 == 0 {
                text.push_str(&format!(
                    "{},{name}\n",
                    images.join(name).join(format!("{i}.png")).display()
                ));
            } else {
                text.push_str(&format!("../photos/{name}/{i}.png,{name}\n"));
            }
        }
    }
    let csv = meta.join("labels.csv");
    std::fs::write(&csv, text).unwrap();
    let before = snapshot(&images);
    let refused = |args: &[&str]| {
        let o = run(args);
        let e = String::from_utf8_lossy(&o.stderr).into_owned();
        assert!(
            !o.status.success() && e.contains("a folder of the images the labels CSV"),
            "{args:?}: {e}"
        );
    };
    let mut args = vec!["run", s(&csv), "--out"];
    let inside = images.join("a").join("out");
    let beside = images.join("cc");
    for out in [&inside, &beside] {
        let mut a = args.clone();
        a.push(s(out));
        a.extend(FAST);
        refused(&a);
    }
    let out = tmp.path().join("out");
    args.push(s(&out));
    args.extend(FAST);
    succeeds(&run(&args));
    let rf = out.join("run.itlm");
    refused(&["export", s(&rf), "--cleanlab", s(&images.join("x.csv"))]);
    refused(&["export", s(&rf), "--clean-copy", s(&beside)]);
    succeeds(&run(&[
        "export",
        s(&rf),
        "--clean-copy",
        s(&tmp.path().join("copy")),
    ]));
    assert_eq!(
        snapshot(&images),
        before,
        "nothing written among the images"
    );
}

/// A row with more fields than the header (a separator inside an unquoted path) is skipped
/// and named as such, not as an exported file's excluded sample; a path listed with a label
/// and again without one loads with its label (the row without is skipped), where the set
/// had been refused as "listed more than once with different labels".
#[test]
fn a_row_with_extra_fields_and_a_row_without_a_label_are_skipped_with_their_reasons() {
    let tmp = tempfile::tempdir().unwrap();
    let mut rows = flat_images(tmp.path(), 2);
    rows.push(("imgs/a_01.png".into(), String::new()));
    let csv = tmp.path().join("labels.csv");
    write_csv(&csv, "path,label", &rows);
    let mut text = std::fs::read_to_string(&csv).unwrap();
    text.push_str("imgs/b;x,y.png,b\n");
    std::fs::write(&csv, text).unwrap();
    let d = load(&csv).unwrap();
    assert_eq!(d.len(), 6);
    let a01 = d.ids().iter().position(|i| i == "imgs/a_01.png").unwrap();
    assert_eq!(d.class_name(d.label(a01)), "a");
    let reasons: Vec<&str> = d.skipped.iter().map(|s| s.reason.as_str()).collect();
    assert!(
        reasons
            .contains(&"line 8: no label (an excluded sample of an exported labels.csv): not used"),
        "{reasons:?}"
    );
    assert!(
        reasons
            .iter()
            .any(|r| r.starts_with("line 9: 3 fields where the header has 2")),
        "{reasons:?}"
    );
}

#[test]
fn integer_labels_are_classes_in_numeric_order_and_an_older_run_in_text_order_reopens() {
    let tmp = tempfile::tempdir().unwrap();
    let set = tmp.path().join("set");
    std::fs::create_dir_all(set.join("imgs")).unwrap();
    let mut rows = Vec::new();
    for c in 0..12 {
        for i in 0..3 {
            let file = format!("imgs/{c}_{i}.png");
            image_of(c % 3, c * 3 + i).save(set.join(&file)).unwrap();
            rows.push((file, c.to_string()));
        }
    }
    let csv = set.join("labels.csv");
    write_csv(&csv, "path,label", &rows);
    let d = load(&csv).unwrap();
    let numeric: Vec<String> = (0..12).map(|c| c.to_string()).collect();
    // cleanlab's labels are these integers; class k must be the label k.
    assert_eq!(d.classes, numeric);
    let i = d.ids().iter().position(|id| id == "imgs/10_0.png").unwrap();
    assert_eq!(d.labels()[i], 10);
    // A class folder per integer too.
    let folders = tmp.path().join("folders");
    for c in [2, 10, 1] {
        std::fs::create_dir_all(folders.join(c.to_string())).unwrap();
        image_of(c % 3, c)
            .save(folders.join(format!("{c}/x.png")))
            .unwrap();
    }
    assert_eq!(load(&folders).unwrap().classes, ["1", "2", "10"]);

    // A run written when classes were sorted as text ("0", "1", "10", "11", "2", ...)
    // reopens with its own class order: every sample keeps the class name it had.
    let out = tmp.path().join("out");
    let mut args = vec!["run", s(&csv), "--out", s(&out)];
    args.extend(FAST);
    succeeds(&run(&args));
    let file = out.join("run.itlm");
    let mut rf = itlm_inspector::export::RunFile::read(&file).unwrap();
    let mut text_order = numeric.clone();
    text_order.sort();
    let names: Vec<String> = rf
        .dataset
        .labels
        .iter()
        .map(|&l| rf.dataset.classes[l as usize].clone())
        .collect();
    rf.dataset.labels = names
        .iter()
        .map(|n| text_order.iter().position(|t| t == n).unwrap() as u32)
        .collect();
    rf.dataset.classes = text_order.clone();
    std::fs::write(&file, rf.to_bytes().unwrap()).unwrap();
    let loaded = reopen::load(&file, &EvalInputs::default()).unwrap();
    assert_eq!(loaded.train.classes, text_order);
    let reopened: Vec<&str> = loaded
        .train
        .labels()
        .iter()
        .map(|&l| loaded.train.classes[l as usize].as_str())
        .collect();
    assert_eq!(reopened, names);
}

/// `run`'s log says when the floored cut (the default) kept more than tau's share: a rare class
/// of noise images has every high loss, the global cut keeps none of it, its floor keeps some.
#[test]
fn run_says_what_the_class_floors_kept_beyond_tau() {
    let tmp = tempfile::tempdir().unwrap();
    let set = tmp.path().join("set");
    std::fs::create_dir_all(set.join("imgs")).unwrap();
    let mut rows = Vec::new();
    for (c, name) in ["a", "b"].iter().enumerate() {
        for i in 0..30 {
            let file = format!("imgs/{name}_{i:02}.png");
            image_of(c, i).save(set.join(&file)).unwrap();
            rows.push((file, name.to_string()));
        }
    }
    for i in 0..6u32 {
        let file = format!("imgs/c_{i:02}.png");
        image::GrayImage::from_fn(8, 8, |x, y| {
            image::Luma([((x * 97 + y * 61 + i * 151).wrapping_mul(2654435761) >> 24) as u8])
        })
        .save(set.join(&file))
        .unwrap();
        rows.push((file, "c".to_string()));
    }
    let csv = set.join("labels.csv");
    write_csv(&csv, "path,label", &rows);
    let out = tmp.path().join("out");
    let args = [
        "run",
        s(&csv),
        "--out",
        s(&out),
        "--model",
        "mlp",
        "--rounds",
        "1",
        "--epochs",
        "2",
        "--final-epochs",
        "1",
        "--tau",
        "0.5",
        "--select",
        "floored",
        "--transition",
        "off",
    ];
    let e = succeeds(&run(&args));
    // 66 samples at tau 0.5: a share of 33; class c's floor is ceil(0.25 * 6) = 2.
    let samples = std::fs::read_to_string(out.join("samples.csv")).unwrap();
    let header: Vec<&str> = samples.lines().next().unwrap().split(',').collect();
    let kept_col = header.iter().position(|h| *h == "kept").unwrap();
    let kept = samples
        .lines()
        .skip(1)
        .filter(|l| l.split(',').nth(kept_col) == Some("1"))
        .count();
    assert!(kept > 33, "the floors added nothing: {e}");
    assert!(
        e.contains(&format!(
            "tau's share is 33; the class floors kept {} more",
            kept - 33
        )),
        "{e}"
    );
}

/// `kaggle/train.csv` (`id,label`, ids without an extension) and its images in `images`
/// (`<id>.png`, one `.jpg`): the ids as written.
fn kaggle(dir: &Path, images: &Path) -> Vec<String> {
    std::fs::create_dir_all(images).unwrap();
    std::fs::create_dir_all(dir).unwrap();
    let mut text = String::from("id,label\n");
    let mut ids = Vec::new();
    for (c, name) in CLASSES.iter().enumerate() {
        for i in 0..4 {
            let id = format!("{name}{i}f0e");
            let ext = if i == 3 { "jpg" } else { "png" };
            image_of(c, i)
                .save(images.join(format!("{id}.{ext}")))
                .unwrap();
            text.push_str(&format!("{id},{name}\n"));
            ids.push(id);
        }
    }
    std::fs::write(dir.join("train.csv"), text).unwrap();
    ids
}

#[test]
fn kaggle_ids_without_an_extension_load_from_an_images_folder() {
    let tmp = tempfile::tempdir().unwrap();
    let (set, images) = (
        tmp.path().join("comp"),
        tmp.path().join("pics/train_images"),
    );
    let ids = kaggle(&set, &images);
    let csv = set.join("train.csv");
    // Without --images: refused, saying where the paths were read from and what to give.
    let e = load(&csv).unwrap_err();
    assert!(e.contains("none of the 12 files it lists is there"), "{e}");
    assert!(e.contains("--images DIR"), "{e}");
    let opts = LoadOptions {
        columns: data::labels_csv::Columns {
            images: Some(images.clone()),
            ..Default::default()
        },
        ..LoadOptions::default()
    };
    let d = data::load(&csv, &opts).unwrap().train;
    assert_eq!(d.len(), 12, "{:?}", d.skipped);
    assert_eq!(d.ids(), ids.as_slice(), "ids as written, no extension");
    assert_eq!(d.file(0), Some(images.join("a0f0e.png")));
    assert_eq!(d.file(3), Some(images.join("a3f0e.jpg")));
    assert_eq!(d.name, "comp (train.csv)", "titled after its folder");
    // An id that names two files is refused, naming both.
    image_of(0, 9).save(images.join("a0f0e.jpg")).unwrap();
    let e = data::load(&csv, &opts).unwrap_err().to_string();
    assert!(
        e.contains("\"a0f0e\" has no extension and names 2 files"),
        "{e}"
    );
    assert!(e.contains("a0f0e.jpg, a0f0e.png"), "{e}");
    std::fs::remove_file(images.join("a0f0e.jpg")).unwrap();

    // The command line: run, nothing into the images folder, reopen with the images, a clean
    // copy of the files, the report titled after the CSV's folder.
    let out = tmp.path().join("out");
    let inside = images.join("out");
    let mut args = vec!["run", s(&csv), "--images", s(&images), "--out", s(&inside)];
    args.extend(FAST);
    let o = run(&args);
    assert!(!o.status.success());
    assert!(
        common::cli::stderr(&o).contains("inside the dataset folder"),
        "{}",
        common::cli::stderr(&o)
    );
    let copy = tmp.path().join("copy");
    let mut args = vec![
        "run",
        s(&csv),
        "--images",
        s(&images),
        "--out",
        s(&out),
        "--clean-copy",
        s(&copy),
    ];
    args.extend(FAST);
    let e = succeeds(&run(&args));
    assert!(!e.contains("skipped"), "{e}");
    let samples = std::fs::read_to_string(out.join("samples.csv")).unwrap();
    assert!(
        samples.lines().nth(1).unwrap().starts_with("a0f0e,a,"),
        "{samples}"
    );
    let linked = walkdir::WalkDir::new(&copy)
        .into_iter()
        .flatten()
        .filter(|e| e.file_type().is_file() && e.path().extension().is_some_and(|x| x != "csv"))
        .count();
    assert!(linked > 0, "the clean copy holds the images");
    let loaded = reopen::load(&out.join("run.itlm"), &EvalInputs::default()).unwrap();
    assert!(loaded.reopened.as_ref().unwrap().images_missing.is_none());
    assert_eq!(loaded.train.file(3), Some(images.join("a3f0e.jpg")));
    let html = tmp.path().join("r.html");
    succeeds(&run(&[
        "report",
        s(&out.join("run.itlm")),
        "--out",
        s(&html),
    ]));
    let h = std::fs::read_to_string(&html).unwrap();
    assert!(h.contains("<h1>ITLM report: comp (train.csv)</h1>"));
    // `check` takes --images too.
    let o = run(&["check", s(&csv), "--images", s(&images)]);
    succeeds(&o);
    assert!(String::from_utf8_lossy(&o.stdout).contains("12 images, 3 classes"));
}
