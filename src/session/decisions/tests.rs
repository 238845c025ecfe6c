//! Tests of the decisions model and its journal: undo/redo, replay round trips, torn lines, a
//! writer killed mid-journal, bad files.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use super::journal::rfc3339;
use super::replay::is_rfc3339;
use super::*;
use crate::data::Source;
use crate::export::Overwrite;

fn classes() -> Vec<String> {
    ["cat", "dog", "bird"].map(String::from).to_vec()
}

/// Ids that need quoting (commas, quotes, a newline) and a lossy non-UTF-8 name.
fn awkward_ids() -> Vec<String> {
    vec![
        "cat/plain.png".into(),
        "cat/a,comma.png".into(),
        "dog/\"quoted\".png".into(),
        "dog/new\nline.png".into(),
        "bird/bad-\u{FFFD}-utf8.png".into(),
        "bird/ spaced .png".into(),
    ]
}

fn ids(n: usize) -> Vec<String> {
    (0..n).map(|i| format!("cat/{i}.png")).collect()
}

fn open(path: &Path, ids: &[String]) -> (Journal, Decisions, Replay) {
    Journal::open(path, ids, &classes(), []).unwrap()
}

fn decided(d: &Decisions) -> Vec<(usize, Decision)> {
    d.iter().collect()
}

#[test]
fn set_undo_redo_return_the_entries_to_journal() {
    let mut d = Decisions::new(5);
    let e = d.set(&[0, 1, 1, 9], Some(Decision::Exclude));
    assert_eq!(
        e,
        vec![
            Entry {
                index: 0,
                decision: Some(Decision::Exclude)
            },
            Entry {
                index: 1,
                decision: Some(Decision::Exclude)
            }
        ],
        "the repeated index and the one out of range change nothing"
    );
    let e = d.set(&[1, 2], Some(Decision::Relabel(2)));
    assert_eq!(e.len(), 2);
    assert_eq!(
        d.counts(),
        Counts {
            excluded: 1,
            kept: 0,
            relabelled: 2,
            decided: 3
        }
    );
    // A set that changes nothing is no undo step.
    assert!(d.set(&[2], Some(Decision::Relabel(2))).is_empty());
    let undo = d.undo();
    assert_eq!(
        undo,
        vec![
            Entry {
                index: 2,
                decision: None
            },
            Entry {
                index: 1,
                decision: Some(Decision::Exclude)
            }
        ]
    );
    assert_eq!(
        decided(&d),
        vec![(0, Decision::Exclude), (1, Decision::Exclude)]
    );
    assert!(d.can_undo() && d.can_redo());
    let redo = d.redo();
    assert_eq!(
        redo,
        vec![
            Entry {
                index: 1,
                decision: Some(Decision::Relabel(2))
            },
            Entry {
                index: 2,
                decision: Some(Decision::Relabel(2))
            }
        ]
    );
    assert!(!d.can_redo());
    d.undo();
    // A new step drops what could be redone.
    d.set(&[4], Some(Decision::Keep));
    assert!(!d.can_redo() && d.redo().is_empty());
    assert_eq!(d.get(4), Some(Decision::Keep));
    d.set(&[0, 4], None);
    assert_eq!(decided(&d), vec![(1, Decision::Exclude)]);
    d.undo();
    d.undo();
    d.undo();
    assert!(!d.can_undo() && d.undo().is_empty());
    assert_eq!(d.counts(), Counts::default());
    assert_eq!(d.iter().count(), 0);
    assert_eq!(d.redo().len(), 2, "the first step redone");
}

#[test]
fn pins_and_labels_follow_the_decisions() {
    let mut d = Decisions::new(4);
    d.set(&[0], Some(Decision::Exclude));
    d.set(&[1], Some(Decision::Keep));
    d.set(&[2], Some(Decision::Relabel(0)));
    let p = d.pins();
    assert_eq!(p.exclude, vec![true, false, false, false]);
    assert_eq!(p.keep, vec![false, true, true, false]);
    assert!(p.check(4).is_ok());
    assert_eq!(d.labels(&[1, 1, 2, 2]), vec![1, 1, 0, 2]);
    assert_eq!(d.counts().to_string(), "1 excluded, 1 kept, 1 relabelled");
}

#[test]
fn replay_round_trips_any_path_and_compaction_keeps_the_decisions() {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join(DECISIONS_CSV);
    let ids = awkward_ids();
    let (mut j, mut d, r) = open(&path, &ids);
    assert!(r.is_clean() && r.rows == 0, "{r}");
    assert_eq!(
        std::fs::read_to_string(&path).unwrap(),
        "path,decision,label,time\n"
    );
    j.append(&d.set(&[0, 1, 2], Some(Decision::Exclude)))
        .unwrap();
    j.append(&d.set(&[3], Some(Decision::Relabel(2)))).unwrap();
    j.append(&d.set(&[4, 5], Some(Decision::Keep))).unwrap();
    j.append(&d.undo()).unwrap(); // 4 and 5 cleared again
    j.append(&d.set(&[0], Some(Decision::Keep))).unwrap();
    drop(j);
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.contains("\"cat/a,comma.png\",exclude,,"), "{text}");
    assert!(text.contains("\"dog/\"\"quoted\"\".png\",exclude,,"));
    assert!(text.contains("\"dog/new\nline.png\",relabel,bird,"));
    assert!(text.contains("bird/ spaced .png,clear,,"));

    let (j, back, r) = open(&path, &ids);
    assert_eq!(decided(&back), decided(&d));
    assert_eq!(
        decided(&back),
        vec![
            (0, Decision::Keep),
            (1, Decision::Exclude),
            (2, Decision::Exclude),
            (3, Decision::Relabel(2)),
        ]
    );
    assert!(r.is_clean(), "{r}");
    assert_eq!((r.rows, r.superseded.count), (9, 3));
    drop(j);

    // Compaction: one row per decided sample, the same decisions, each with its own time.
    let (mut j, d, _) = open(&path, &ids);
    j.compact(&d).unwrap();
    let text = std::fs::read_to_string(&path).unwrap();
    let mut rows = csv::Reader::from_reader(text.as_bytes());
    let rows: Vec<csv::StringRecord> = rows.records().map(|r| r.unwrap()).collect();
    assert_eq!(rows.len(), 4);
    assert!(rows.iter().all(|r| is_rfc3339(&r[3])), "{text}");
    assert_eq!(&rows[3][0], "dog/new\nline.png");
    assert_eq!((&rows[3][1], &rows[3][2]), ("relabel", "bird"));
    let (_, again, r) = open(&path, &ids);
    assert_eq!(decided(&again), decided(&d));
    assert!(
        r.is_clean() && r.rows == 4 && r.superseded.count == 0,
        "{r}"
    );
    // Read-only replay gives the same and writes nothing.
    let before = std::fs::read(&path).unwrap();
    let (read, _) = Journal::read(&path, &ids, &classes()).unwrap();
    assert_eq!(decided(&read), decided(&d));
    assert_eq!(std::fs::read(&path).unwrap(), before);
}

#[test]
fn compaction_replaces_the_file_by_rename() {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join(DECISIONS_CSV);
    let ids = ids(4);
    let (mut j, mut d, _) = open(&path, &ids);
    for _ in 0..3 {
        j.append(&d.set(&[1], Some(Decision::Keep))).unwrap();
        j.append(&d.set(&[1], None)).unwrap();
    }
    j.append(&d.set(&[2], Some(Decision::Exclude))).unwrap();
    let journal = std::fs::read_to_string(&path).unwrap();
    // A hard link keeps the old file: compaction must not rewrite it in place (a kill in the
    // middle would leave half a journal), but put a complete new file in its place.
    let old = tmp.path().join("old.csv");
    std::fs::hard_link(&path, &old).unwrap();
    j.compact(&d).unwrap();
    assert_eq!(std::fs::read_to_string(&old).unwrap(), journal);
    let compact = std::fs::read_to_string(&path).unwrap();
    assert_eq!(compact.lines().count(), 2, "{compact}");
    assert!(compact.starts_with("path,decision,label,time\ncat/2.png,exclude,,"));
    let names: Vec<String> = std::fs::read_dir(tmp.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names.len(), 2, "no temp file left: {names:?}");
    // Appends after compaction go to the new file.
    j.append(&d.set(&[3], Some(Decision::Keep))).unwrap();
    let (_, back, _) = open(&path, &ids);
    assert_eq!(
        decided(&back),
        vec![(2, Decision::Exclude), (3, Decision::Keep)]
    );
    // save_as writes the same compacted journal elsewhere, refusing to overwrite.
    let out = tmp.path().join("out.csv");
    j.save_as(&back, &out, Overwrite::Refuse).unwrap();
    let (copy, _) = Journal::read(&out, &ids, &classes()).unwrap();
    assert_eq!(decided(&copy), decided(&back));
    assert!(j.save_as(&back, &out, Overwrite::Refuse).is_err());
}

#[test]
fn a_torn_last_line_is_ignored_and_the_next_row_starts_on_a_fresh_line() {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join(DECISIONS_CSV);
    let ids = awkward_ids();
    let (mut j, mut d, _) = open(&path, &ids);
    j.append(&d.set(&[0], Some(Decision::Exclude))).unwrap();
    drop(j);
    let good = std::fs::read(&path).unwrap();
    // Torn in the decision word, inside a quoted path with a newline, and in the time.
    let torn: [&[u8]; 3] = [
        b"cat/plain.png,rel",
        b"\"dog/new\nli",
        b"cat/plain.png,keep,,2026-01-3",
    ];
    for tail in torn {
        std::fs::write(&path, [&good[..], tail].concat()).unwrap();
        let (read, r) = Journal::read(&path, &ids, &classes()).unwrap();
        assert_eq!(decided(&read), vec![(0, Decision::Exclude)]);
        let t = r.torn.clone().unwrap();
        assert!(!t.applied && t.line == 3, "{r}");
        assert!(!r.is_clean());
        assert_eq!(r.invalid.count, 0, "a torn line is not an invalid row: {r}");
        assert!(
            r.to_string()
                .contains("line 3: a torn last line (an interrupted write) was ignored"),
            "{r}"
        );
        let (mut j, mut d, _) = open(&path, &ids);
        assert_eq!(
            std::fs::read(&path).unwrap(),
            good,
            "the torn bytes are cut off"
        );
        j.append(&d.set(&[1], Some(Decision::Keep))).unwrap();
        let (_, back, r) = open(&path, &ids);
        assert!(r.is_clean(), "{r}");
        assert_eq!(
            decided(&back),
            vec![(0, Decision::Exclude), (1, Decision::Keep)]
        );
    }
    // A complete last row without its line end (a hand edit) is applied, and the next row
    // goes on a line of its own.
    std::fs::write(&path, [&good[..], b"cat/plain.png,keep,,"].concat()).unwrap();
    let (mut j, mut d, r) = open(&path, &ids);
    assert_eq!(d.get(0), Some(Decision::Keep));
    assert!(r.torn.as_ref().unwrap().applied && r.is_clean(), "{r}");
    j.append(&d.set(&[5], Some(Decision::Exclude))).unwrap();
    let (_, back, r) = open(&path, &ids);
    assert!(r.is_clean() && r.torn.is_none(), "{r}");
    assert_eq!(
        decided(&back),
        vec![(0, Decision::Keep), (5, Decision::Exclude)]
    );
    // A kill while the journal was created leaves part of the header: it starts afresh.
    std::fs::write(&path, "path,deci").unwrap();
    let (mut j, mut d, _) = open(&path, &ids);
    j.append(&d.set(&[2], Some(Decision::Keep))).unwrap();
    let (_, back, r) = open(&path, &ids);
    assert!(r.is_clean(), "{r}");
    assert_eq!(decided(&back), vec![(2, Decision::Keep)]);
}

/// The child side of the kill test: appends decisions on samples `from`, `from + 1`, ... (one
/// at a time, or 1000 in one call) and prints `ack <last sample>` once each append returned,
/// until it is killed. Does nothing unless run by
/// [`every_acknowledged_decision_survives_a_kill`] (the variable is set only there).
#[test]
fn kill_child() {
    let Ok(path) = std::env::var("ITLM_DECISIONS_KILL_CHILD") else {
        return;
    };
    let from: usize = std::env::var("ITLM_DECISIONS_KILL_FROM")
        .unwrap()
        .parse()
        .unwrap();
    let ids = awkward_ids_n(KILL_N);
    let (mut j, mut d, _) = Journal::open(Path::new(&path), &ids, &classes(), []).unwrap();
    // Every fifth append is a batch of 1000 rows (a multi-selection): one long write that a
    // kill can cut.
    let mut i = from;
    for k in 0.. {
        let n = if k % 5 == 4 { 1000 } else { 1 };
        if i + n > KILL_N {
            break;
        }
        let mut entries = Vec::new();
        for want in [Decision::Exclude, Decision::Keep, Decision::Relabel(2)] {
            let idx: Vec<usize> = (i..i + n).filter(|&x| kill_decision(x) == want).collect();
            entries.extend(d.set(&idx, Some(want)));
        }
        j.append(&entries).unwrap();
        i += n;
        println!("ack {}", i - 1);
    }
}

const KILL_N: usize = 100_000;

fn awkward_ids_n(n: usize) -> Vec<String> {
    (0..n).map(|i| format!("c,{}/\"{i}\".png", i % 7)).collect()
}

fn kill_decision(i: usize) -> Decision {
    match i % 3 {
        0 => Decision::Exclude,
        1 => Decision::Keep,
        _ => Decision::Relabel((i % 3) as u32),
    }
}

#[cfg(unix)]
#[test]
fn every_acknowledged_decision_survives_a_kill() {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join(DECISIONS_CSV);
    let ids = awkward_ids_n(KILL_N);
    let exe = std::env::current_exe().unwrap();
    let mut acked = 0usize;
    let mut killed_mid_write = 0;
    for (attempt, wait_for) in [37usize, 101, 13, 64].into_iter().enumerate() {
        let mut child = Command::new(&exe)
            .args([
                "session::decisions::tests::kill_child",
                "--exact",
                "--nocapture",
                "--test-threads=1",
            ])
            .env("ITLM_DECISIONS_KILL_CHILD", &path)
            .env("ITLM_DECISIONS_KILL_FROM", acked.to_string())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let out = BufReader::new(child.stdout.take().unwrap());
        let mut seen = 0;
        for line in out.lines() {
            let line = line.unwrap();
            if let Some(i) = line.strip_prefix("ack ") {
                acked = i.parse::<usize>().unwrap() + 1;
                seen += 1;
                if seen == wait_for {
                    // SIGKILL: no destructor, no flush runs in the child.
                    child.kill().unwrap();
                    break;
                }
            }
        }
        child.wait().unwrap();
        assert_eq!(seen, wait_for, "attempt {attempt}: the child stopped early");
        let (d, r) = Journal::read(&path, &ids, &classes()).unwrap();
        for i in 0..acked {
            assert_eq!(d.get(i), Some(kill_decision(i)), "attempt {attempt}: {i}");
        }
        assert_eq!(r.unapplied(), 0, "{r}");
        killed_mid_write += usize::from(r.torn.as_ref().is_some_and(|t| !t.applied));
        // Rows after the last acknowledged one the parent read may be there too: the
        // child runs on while the parent reads the pipe and kills (on a loaded machine,
        // thousands of rows on). Each must be as it was written.
        for (i, dec) in d.iter() {
            assert_eq!(dec, kill_decision(i), "attempt {attempt}: row {i}");
        }
    }
    println!("kills that tore a row: {killed_mid_write} of 4");
}

#[test]
fn unknown_paths_and_classes_are_reported_and_kept_until_forgotten() {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join(DECISIONS_CSV);
    let ids = ids(10);
    std::fs::write(
        &path,
        "path,decision,label,time\n\
         cat/1.png,exclude,,2026-01-31T12:00:00Z\n\
         cat/gone.png,exclude,,2026-01-31T12:00:01Z\n\
         cat/2.png,relabel,zebra,2026-01-31T12:00:02Z\n\
         cat/3.png,delete,,2026-01-31T12:00:03Z\n\
         cat/4.png,relabel,,\n\
         cat/5.png,keep,,yesterday\n\
         ,keep,,\n\
         cat/6.png,keep\n\
         .\\cat\\7.png,keep,,\n\
         cat/8.png,KEEP,,\n",
    )
    .unwrap();
    // Lines counted right with CRLF line ends too (Python's csv module, Excel); the csv crate's
    // own count ran one short.
    let crlf_dir = tempfile::tempdir().unwrap();
    let crlf = crlf_dir.path().join(DECISIONS_CSV);
    std::fs::write(
        &crlf,
        std::fs::read_to_string(&path)
            .unwrap()
            .replace('\n', "\r\n"),
    )
    .unwrap();
    let (_, _, r_crlf) = open(&crlf, &ids);
    let (mut j, mut d, r) = open(&path, &ids);
    assert_eq!(
        decided(&d),
        vec![
            (1, Decision::Exclude),
            (7, Decision::Keep),
            (8, Decision::Keep)
        ]
    );
    assert_eq!((r.unknown_path.count, r.unknown_class.count), (1, 1));
    assert_eq!(r.invalid.count, 5, "{r}");
    assert_eq!(r.unapplied(), 7);
    assert!(!r.another_dataset() && !r.is_clean());
    assert_eq!(
        r.to_string(),
        format!(
            "{}: 10 rows, 3 samples decided (1 excluded, 2 kept, 0 relabelled)\n  \
             1 row naming a file that is not in this dataset (kept in the journal): line 3: cat/gone.png\n  \
             1 row relabelling to a class this dataset does not have (kept in the journal, the sample left undecided): line 4: cat/2.png -> zebra\n  \
             5 rows that are not decisions (kept in the journal): line 5: unknown decision `delete` (exclude, keep, relabel or clear); \
             line 6: relabel of cat/4.png names no class; line 7: time `yesterday` is not RFC 3339 UTC (2026-01-31T12:00:00Z), ...",
            path.display()
        )
    );
    assert_eq!(
        r_crlf.to_string(),
        r.to_string()
            .replace(&path.display().to_string(), &crlf.display().to_string())
    );
    // Compaction keeps every row it could not apply; a new decision on a sample replaces the
    // row about it.
    j.append(&d.set(&[2], Some(Decision::Relabel(1)))).unwrap();
    j.compact(&d).unwrap();
    let (mut j, d, r) = open(&path, &ids);
    assert_eq!(d.get(2), Some(Decision::Relabel(1)));
    assert_eq!(
        (r.unknown_path.count, r.unknown_class.count, r.invalid.count),
        (1, 0, 5)
    );
    assert_eq!(j.unapplied(), 6);
    j.forget_unapplied();
    j.compact(&d).unwrap();
    let (_, again, r) = open(&path, &ids);
    assert!(r.is_clean(), "{r}");
    assert_eq!(decided(&again), decided(&d));
    // Entries out of range are refused, writing nothing.
    let before = std::fs::read(&path).unwrap();
    let bad = Entry {
        index: 10,
        decision: Some(Decision::Keep),
    };
    assert!(j
        .append(&[bad])
        .unwrap_err()
        .to_string()
        .contains("sample 10"));
    let bad = Entry {
        index: 1,
        decision: Some(Decision::Relabel(3)),
    };
    assert!(j
        .append(&[bad])
        .unwrap_err()
        .to_string()
        .contains("class 3"));
    assert_eq!(std::fs::read(&path).unwrap(), before);
}

#[test]
fn duplicate_rows_the_last_one_wins() {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join(DECISIONS_CSV);
    std::fs::write(
        &path,
        "path,decision,label,time\n\
         cat/0.png,keep,,\n\
         cat/0.png,keep,,\n\
         cat/1.png,relabel,dog,\n\
         cat/0.png,exclude,,\n\
         cat/1.png,clear,,\n\
         cat/2.png,relabel,zebra,\n\
         cat/2.png,relabel,bird,\n",
    )
    .unwrap();
    let (d, r) = Journal::read(&path, &ids(3), &classes()).unwrap();
    assert_eq!(
        decided(&d),
        vec![(0, Decision::Exclude), (2, Decision::Relabel(2))]
    );
    assert_eq!(r.superseded.count, 4);
    assert_eq!(
        r.superseded.examples,
        vec![
            (2, "cat/0.png".to_string()),
            (3, "cat/0.png".into()),
            (4, "cat/1.png".into())
        ]
    );
    assert!(
        r.is_clean(),
        "superseded rows are a journal's normal life: {r}"
    );
    assert!(r
        .to_string()
        .ends_with("4 rows replaced by a later row of the same sample (a decision changed or undone: the last row wins): line 2: cat/0.png; line 3: cat/0.png; line 4: cat/1.png, ..."));
}

#[test]
fn another_datasets_journal_is_reported_and_never_written() {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join(DECISIONS_CSV);
    let other: Vec<String> = (0..6).map(|i| format!("horse/{i}.jpg")).collect();
    let (mut j, mut d, _) = open(&path, &other);
    j.append(&d.set(&[0, 1, 2, 3, 4], Some(Decision::Exclude)))
        .unwrap();
    drop(j);
    let before = std::fs::read(&path).unwrap();
    let mine = ids(6);
    let (d, r) = Journal::read(&path, &mine, &classes()).unwrap();
    assert!(r.another_dataset() && d.counts().decided == 0);
    assert_eq!((r.paths, r.unknown_paths, r.unknown_path.count), (5, 5, 5));
    assert!(r
        .to_string()
        .contains("5 of the 5 paths it names are not samples of this dataset: it looks like another dataset's decisions"));
    let e = Journal::open(&path, &mine, &classes(), []).err().unwrap();
    assert!(e.to_string().contains("nothing is written to it"), "{e}");
    assert_eq!(std::fs::read(&path).unwrap(), before);
    // One file gone of the five is no other dataset.
    let mut some = other.clone();
    some[4] = "horse/new.jpg".into();
    let (d, r) = Journal::read(&path, &some, &classes()).unwrap();
    assert!(!r.another_dataset() && r.unknown_paths == 1, "{r}");
    assert_eq!(d.counts().excluded, 4);
    assert!(Journal::open(&path, &some, &classes(), []).is_ok());
}

#[test]
fn a_header_not_ours_is_read_by_name_and_rewritten_with_a_copy() {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("mine.csv");
    let original = "\u{FEFF}Decision,Path,note\nexclude,cat/1.png,blurry\nrelabel,cat/2.png,x\n";
    std::fs::write(&path, original).unwrap();
    let (d, r) = Journal::read(&path, &ids(3), &classes()).unwrap();
    assert_eq!(decided(&d), vec![(1, Decision::Exclude)]);
    assert_eq!(r.header.as_deref(), Some("Decision,Path,note"));
    assert_eq!(r.invalid.count, 1, "a relabel without a label column: {r}");
    let (mut j, mut d, r) = open(&path, &ids(3));
    let copy = tmp.path().join("mine.csv.orig");
    assert_eq!(r.rewritten.as_deref(), Some(copy.as_path()));
    assert_eq!(std::fs::read_to_string(&copy).unwrap(), original);
    assert!(r.to_string().contains("the original copied to"), "{r}");
    j.append(&d.set(&[0], Some(Decision::Keep))).unwrap();
    let (_, back, r) = open(&path, &ids(3));
    assert_eq!(
        decided(&back),
        vec![(0, Decision::Keep), (1, Decision::Exclude)]
    );
    assert!(r.header.is_none() && r.invalid.count == 1, "{r}");
    // A headerless file in our column order is read by position.
    std::fs::write(&path, "cat/2.png,keep\ncat/0.png,relabel,bird\n").unwrap();
    let (d, r) = Journal::read(&path, &ids(3), &classes()).unwrap();
    assert_eq!(
        decided(&d),
        vec![(0, Decision::Relabel(2)), (2, Decision::Keep)]
    );
    assert_eq!(r.header.as_deref(), Some("(none)"));
    // Anything else is not a decisions file, and is left alone.
    let other = "a,b,c\n1,2,3\n";
    std::fs::write(&path, other).unwrap();
    let e = Journal::open(&path, &ids(3), &classes(), []).err().unwrap();
    assert_eq!(
        e.to_string(),
        format!(
            "{}: is not a decisions file: its first line `a,b,c` names no `path` and `decision` columns (path,decision,label,time)",
            path.display()
        )
    );
    assert_eq!(std::fs::read_to_string(&path).unwrap(), other);
    assert!(!tmp.path().join("mine.csv.orig.2").exists());
}

#[test]
fn a_journal_inside_a_dataset_folder_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    std::fs::create_dir(&data).unwrap();
    let path: PathBuf = data.join(DECISIONS_CSV);
    let src = Source::ImageFolder { root: data.clone() };
    let e = Journal::open(&path, &ids(2), &classes(), [&src])
        .err()
        .unwrap();
    assert!(e.to_string().contains("inside the dataset folder"), "{e}");
    assert!(!path.exists());
    let beside = tmp.path().join(DECISIONS_CSV);
    assert!(Journal::open(&beside, &ids(2), &classes(), [&src]).is_ok());
    assert!(Journal::open(tmp.path(), &ids(2), &classes(), [&src]).is_err());
}

#[test]
fn times_are_rfc3339_utc() {
    assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
    assert_eq!(rfc3339(951_782_400), "2000-02-29T00:00:00Z");
    assert_eq!(rfc3339(1_700_000_000), "2023-11-14T22:13:20Z");
    assert_eq!(rfc3339(4_107_542_399), "2100-02-28T23:59:59Z");
    assert!(is_rfc3339("2026-01-31T12:00:00Z"));
    assert!(!is_rfc3339("2026-01-31T12:00:00") && !is_rfc3339("2026-01-3"));
}

/// A decisions file a spreadsheet saved with `;` (where the decimal mark is a comma), with
/// CRLF line ends and its columns in another order, reads as the comma file does (it had been
/// refused as naming no `path` and `decision` columns).
#[test]
fn a_semicolon_separated_decisions_file_reads() {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("mine.csv");
    std::fs::write(
        &path,
        "label;decision;path\r\nbird;relabel;cat/2.png\r\n;exclude;cat/0.png\r\n",
    )
    .unwrap();
    let (d, r) = Journal::read(&path, &ids(3), &classes()).unwrap();
    assert_eq!(
        decided(&d),
        vec![(0, Decision::Exclude), (2, Decision::Relabel(2))],
        "{r}"
    );
}
