//! The output folder under faults (issue 17, defects 1-8), end to end with the built binary:
//! run files found from any working directory and never exported into their dataset, one
//! writer per folder, the set of outputs checked by its manifest, SIGINT keeping the finished
//! rounds, unwritable folders refused before training, clean copies of non-UTF-8 names and
//! relative symlinks, names that would break the lists.

#![cfg(unix)]

mod common;

use common::cli::{image_of, s, stderr, BIN, FAST};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use itlm_inspector::export::{self, Output as Out, RunFile, SetCheck};

fn bin(cwd: &Path, args: &[&str]) -> Output {
    Command::new(BIN)
        .args(args)
        .current_dir(cwd)
        .env_remove("RUST_BACKTRACE")
        .output()
        .unwrap()
}

fn run(cwd: &Path, data: &str, out: &str, extra: &[&str]) -> Output {
    let mut a = vec!["run", data, "--out", out];
    a.extend_from_slice(&FAST);
    a.extend_from_slice(extra);
    bin(cwd, &a)
}

fn ok(o: &Output) -> String {
    let e = stderr(o);
    assert!(o.status.success(), "failed; stderr:\n{e}");
    e
}

fn fails(o: &Output, want: &str) -> String {
    let e = stderr(o);
    assert_eq!(o.status.code(), Some(1), "exit code; stderr:\n{e}");
    assert!(e.contains(want), "expected {want:?} in:\n{e}");
    assert!(!e.contains("panicked"), "{e}");
    e
}

/// `root/<class>/<i>.png`, `per_class` images of each class.
fn image_folder(root: &Path, classes: &[&str], per_class: usize) {
    for (c, name) in classes.iter().enumerate() {
        std::fs::create_dir_all(root.join(name)).unwrap();
        for i in 0..per_class {
            image_of(c, i)
                .save(root.join(name).join(format!("{i:02}.png")))
                .unwrap();
        }
    }
}

/// Every path under `dir`, relative, sorted.
fn tree(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = walkdir::WalkDir::new(dir)
        .min_depth(1)
        .into_iter()
        .map(|e| e.unwrap().path().strip_prefix(dir).unwrap().to_path_buf())
        .collect();
    v.sort();
    v
}

/// The outputs on disk are exactly what the run file on disk renders: one set, not a mix.
fn assert_one_set(out: &Path) -> RunFile {
    let run = RunFile::read(&out.join(export::RUN_FILE)).unwrap();
    for (what, name) in [
        (Out::SamplesCsv, export::SAMPLES_CSV),
        (Out::CleanTxt, export::CLEAN_TXT),
        (Out::FlaggedTxt, export::FLAGGED_TXT),
    ] {
        assert_eq!(
            std::fs::read(out.join(name)).unwrap(),
            what.bytes(&run, None).unwrap(),
            "{name} is not of the run file's set"
        );
    }
    assert_eq!(export::check_set(out).unwrap(), SetCheck::Complete);
    run
}

/// Defect 1: the run file stores the canonical root, so `export` from another folder refuses
/// destinations inside the dataset and its clean copy finds the files; a run file of an
/// earlier build with a relative root is read relative to where it lies.
#[test]
fn export_from_another_folder_never_writes_into_the_dataset() {
    let tmp = tempfile::tempdir().unwrap();
    let a = tmp.path().join("A");
    let b = tmp.path().join("B");
    image_folder(&a.join("opt"), &["x", "y"], 6);
    std::fs::create_dir_all(&b).unwrap();
    let before = tree(&a.join("opt"));
    ok(&run(&a, "opt", "O", &[]));
    let run_file = a.join("O").join(export::RUN_FILE);
    let r = RunFile::read(&run_file).unwrap();
    let root = std::fs::canonicalize(a.join("opt")).unwrap();
    assert_eq!(
        r.dataset.source,
        itlm_inspector::data::Source::ImageFolder { root: root.clone() }
    );

    // An earlier build's run file: the root as typed, relative to where `run` started.
    let mut old = r.clone();
    old.dataset.source = itlm_inspector::data::Source::ImageFolder {
        root: PathBuf::from("opt"),
    };
    let old_file = a.join("O").join("old.itlm");
    std::fs::write(&old_file, old.to_bytes().unwrap()).unwrap();

    for f in [&run_file, &old_file] {
        let exp = a.join("opt").join("exp");
        fails(
            &bin(&b, &["export", s(f), "--out", s(&exp)]),
            "is inside the dataset folder",
        );
        fails(
            &bin(&b, &["export", s(f), "--clean-copy", s(&a.join("opt/cc2"))]),
            "is inside the dataset folder",
        );
        // Relative destinations from inside the dataset are caught too.
        fails(
            &bin(&a.join("opt"), &["export", s(f), "--out", "exp2"]),
            "is inside the dataset folder",
        );
        assert_eq!(tree(&a.join("opt")), before, "written into the dataset");
        // The clean copy from elsewhere finds every kept file.
        let cc = b.join(format!("cc-{}", f.file_stem().unwrap().to_str().unwrap()));
        let e = ok(&bin(&b, &["export", s(f), "--clean-copy", s(&cc)]));
        assert!(!e.contains("missing"), "{e}");
        let kept = r.verdict().unwrap().kept.iter().filter(|&&k| k).count();
        let files = tree(&cc).iter().filter(|p| cc.join(p).is_file()).count();
        assert_eq!(files, kept, "{e}");
    }
    // The reopen path (the window's) reads the same canonical root.
    let old_read = RunFile::read(&old_file).unwrap();
    assert_eq!(
        old_read.dataset.source,
        itlm_inspector::data::Source::ImageFolder { root }
    );
}

/// Defects 2 and 3: a folder another process holds is refused with that process named; a
/// lock of a dead process is taken over; the set has a manifest and nothing else is left.
#[test]
fn one_writer_per_output_folder_and_a_manifest_for_the_set() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    image_folder(&data, &["x", "y"], 6);
    let out = tmp.path().join("out");
    {
        let _held = export::OutputLock::acquire(&out).unwrap();
        let e = fails(&run(tmp.path(), s(&data), s(&out), &[]), "is in use");
        assert!(
            e.contains(&format!("process {}", std::process::id())),
            "{e}"
        );
        assert!(!e.contains("round 0:"), "refused only after training:\n{e}");
        assert!(!out.join(export::RUN_FILE).exists());
    }
    // A lock file left by a dead process (and its temp files) do not stop the next run.
    let mut child = Command::new("true").spawn().unwrap();
    let dead = child.id();
    child.wait().unwrap();
    std::fs::write(out.join(export::lock::LOCK_FILE), dead.to_string()).unwrap();
    std::fs::write(out.join(format!(".clean.txt.{dead}.tmp")), "junk").unwrap();
    ok(&run(tmp.path(), s(&data), s(&out), &[]));
    assert_one_set(&out);
    let mut names: Vec<String> = tree(&out)
        .into_iter()
        .map(|p| p.to_string_lossy().into_owned())
        .collect();
    names.sort();
    let mut want: Vec<String> = export::OUTPUT_FILES
        .iter()
        .chain([&export::MANIFEST])
        .map(|s| s.to_string())
        .collect();
    want.sort();
    assert_eq!(names, want, "only the set and its manifest are left");
    // A file of the set replaced by hand: readers say the set is mixed.
    std::fs::write(out.join(export::CLEAN_TXT), "x/00.png\n").unwrap();
    assert_eq!(
        export::check_set(&out).unwrap(),
        SetCheck::Mixed(vec![export::CLEAN_TXT.to_string()])
    );
    let e = ok(&bin(
        tmp.path(),
        &[
            "export",
            s(&out.join(export::RUN_FILE)),
            "--out",
            s(&tmp.path().join("again")),
        ],
    ));
    assert!(e.contains("mixed set: clean.txt"), "{e}");
}

/// Defect 4: SIGINT after round 0 keeps the finished rounds: status "stopped", exit code 130.
#[test]
fn sigint_keeps_the_finished_rounds() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    image_folder(&data, &["x", "y", "z"], 30);
    let out = tmp.path().join("out");
    let mut child = Command::new(BIN)
        .args([
            "run",
            s(&data),
            "--out",
            s(&out),
            "--model",
            "mlp",
            "--rounds",
            "3",
            "--epochs",
            "400",
            "--final-epochs",
            "400",
            "-q",
        ])
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let mut log = String::new();
    for l in lines.by_ref() {
        let l = l.unwrap();
        log.push_str(&l);
        log.push('\n');
        if l.starts_with("round 0:") {
            break;
        }
    }
    assert!(log.contains("round 0:"), "{log}");
    // SAFETY: a signal to the child this test started.
    assert_eq!(unsafe { libc::kill(child.id() as i32, libc::SIGINT) }, 0);
    for l in lines {
        log.push_str(&l.unwrap());
        log.push('\n');
    }
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(130), "{log}");
    assert!(log.contains("stopped by a signal"), "{log}");
    let r = assert_one_set(&out);
    assert_eq!(r.status.to_string(), "stopped");
    assert!(
        !r.rounds.is_empty() && r.rounds.len() < 4,
        "{} rounds",
        r.rounds.len()
    );
}

/// Defect 5: an output folder that cannot be written is refused before any training.
#[test]
fn an_unwritable_out_is_refused_before_training() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    image_folder(&data, &["x", "y"], 6);
    for out in ["/proc/itlm-x/out", "/proc/itlm-x"] {
        let e = fails(&run(tmp.path(), s(&data), out, &[]), "cannot be written");
        assert!(!e.contains("round 0:"), "refused only after training:\n{e}");
    }
    let e = fails(
        &run(
            tmp.path(),
            s(&data),
            s(&tmp.path().join("o")),
            &["--clean-copy", "/proc/itlm-cc"],
        ),
        "cannot be written",
    );
    assert!(!e.contains("round 0:"), "{e}");
}

/// Defects 6 and 7: names that are not UTF-8 and relative symlinks inside the dataset are
/// copied as the files they are.
#[test]
fn clean_copies_keep_os_names_and_follow_relative_links() {
    use std::ffi::OsStr;
    use std::os::unix::ffi::OsStrExt;
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    image_folder(&data, &["x", "y"], 6);
    // A class folder and files whose names are not UTF-8.
    let odd_class = data.join(OsStr::from_bytes(b"z\xff"));
    std::fs::create_dir_all(&odd_class).unwrap();
    for i in 0..6 {
        let name = [b"f\xfe".as_slice(), format!("{i}.png").as_bytes()].concat();
        image_of(2, i)
            .save(odd_class.join(OsStr::from_bytes(&name)))
            .unwrap();
    }
    // Relative links to images kept outside the dataset.
    let store = tmp.path().join("store");
    std::fs::create_dir_all(&store).unwrap();
    for i in 0..3 {
        image_of(0, 10 + i)
            .save(store.join(format!("s{i}.png")))
            .unwrap();
        std::os::unix::fs::symlink(
            format!("../../store/s{i}.png"),
            data.join("x").join(format!("link{i}.png")),
        )
        .unwrap();
    }
    let cc = tmp.path().join("cc");
    let e = ok(&run(
        tmp.path(),
        s(&data),
        s(&tmp.path().join("out")),
        &["--tau", "1.0", "--clean-copy", s(&cc)],
    ));
    assert!(!e.contains("missing"), "{e}");
    let files: Vec<PathBuf> = tree(&cc)
        .into_iter()
        .filter(|p| !cc.join(p).is_dir())
        .collect();
    assert_eq!(files.len(), 6 + 6 + 6 + 3, "{files:?}\n{e}");
    for f in &files {
        // Every entry opens (no dangling link) and is an image of the set.
        let bytes = std::fs::read(cc.join(f)).unwrap_or_else(|e| panic!("{f:?}: {e}"));
        assert!(bytes.starts_with(b"\x89PNG"), "{f:?}");
    }
    assert!(cc.join(OsStr::from_bytes(b"z\xff")).is_dir());
    // No name of the copy holds U+FFFD (EF BF BD), the mark of a lossy id used as a path.
    let lossy = tree(&cc).into_iter().find(|p| {
        p.as_os_str()
            .as_bytes()
            .windows(3)
            .any(|w| w == "\u{FFFD}".as_bytes())
    });
    assert_eq!(lossy, None, "a lossy name in the copy");
}

/// Defect 8: a file name with a newline or tab is skipped with a message; the lists keep one
/// sample per line.
#[test]
fn names_that_would_break_the_lists_are_skipped() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    image_folder(&data, &["x", "y"], 6);
    image_of(0, 40)
        .save(data.join("x").join("bad\nname.png"))
        .unwrap();
    image_of(1, 41)
        .save(data.join("y").join("tab\there.png"))
        .unwrap();
    let out = tmp.path().join("out");
    let e = ok(&run(tmp.path(), s(&data), s(&out), &["--tau", "0.5"]));
    assert!(e.contains("2 files skipped"), "{e}");
    assert!(e.contains("newline, carriage return or tab"), "{e}");
    let clean = std::fs::read_to_string(out.join(export::CLEAN_TXT)).unwrap();
    let flagged = std::fs::read_to_string(out.join(export::FLAGGED_TXT)).unwrap();
    assert_eq!(clean.lines().count() + flagged.lines().count() - 1, 12);
    for l in clean.lines() {
        assert!(data.join(l).is_file(), "{l:?} is not a file");
    }
    for l in flagged.lines().skip(1) {
        let cols: Vec<&str> = l.split('\t').collect();
        assert_eq!(cols.len(), 4, "{l:?}");
        assert!(data.join(cols[0]).is_file(), "{l:?}");
    }
}
