//! The kill test: `run` started as a child process and SIGKILLed after round k and in the middle
//! of writing its set of outputs. The output folder then holds either the previous complete
//! set or a complete new set with the finished rounds (once the next writer has finished an
//! interrupted set, as `export::manifest::recover` does), never a mix.

#![cfg(unix)]

mod common;

use common::cli::{s, BIN};
use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use image::{GrayImage, Luma};
use itlm_inspector::export::{self, manifest, Output as Out, RunFile, SetCheck};

fn image_folder(root: &Path, classes: usize, per_class: usize) {
    for c in 0..classes {
        let dir = root.join(format!("c{c}"));
        std::fs::create_dir_all(&dir).unwrap();
        for i in 0..per_class {
            GrayImage::from_fn(8, 8, |x, y| {
                let band = (x as usize / 3) == c;
                let noise = ((x as usize * 31 + y as usize * 17 + i * 13) % 40) as u8;
                Luma([if band { 200 + noise / 2 } else { noise }])
            })
            .save(dir.join(format!("{i:02}.png")))
            .unwrap();
        }
    }
}

fn spawn(data: &Path, out: &Path, args: &[&str], pause_ms: Option<u64>) -> Child {
    let mut c = Command::new(BIN);
    c.args(["run", s(data), "--out", s(out), "--model", "mlp", "-q"])
        .args(args)
        .stderr(Stdio::piped())
        .stdout(Stdio::null());
    if let Some(ms) = pause_ms {
        c.env("ITLM_TEST_SET_WRITE_PAUSE_MS", ms.to_string());
    }
    c.spawn().unwrap()
}

fn sigkill(child: &mut Child) {
    // SAFETY: a signal to the child this test started.
    assert_eq!(unsafe { libc::kill(child.id() as i32, libc::SIGKILL) }, 0);
    let st = child.wait().unwrap();
    assert_eq!(
        std::os::unix::process::ExitStatusExt::signal(&st),
        Some(libc::SIGKILL),
        "the child ended before the kill: {st:?}"
    );
}

/// The four outputs and the manifest: name -> bytes.
fn files(out: &Path) -> BTreeMap<String, Vec<u8>> {
    export::OUTPUT_FILES
        .iter()
        .chain([&export::MANIFEST])
        .filter_map(|n| Some((n.to_string(), std::fs::read(out.join(n)).ok()?)))
        .collect()
}

/// The outputs on disk are exactly what the run file on disk renders, and the manifest says
/// the set is complete: one set, not a mix.
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

/// Leftover temp files in `out`.
fn temp_files(out: &Path) -> Vec<PathBuf> {
    std::fs::read_dir(out)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.to_string_lossy().ends_with(".tmp"))
        .collect()
}

/// Files of a set staged under their temp names (`.NAME.PID.tmp`).
fn staged_files(out: &Path) -> usize {
    std::fs::read_dir(out)
        .map(|rd| {
            rd.flatten()
                .filter(|e| {
                    let n = e.file_name().to_string_lossy().into_owned();
                    n.ends_with(".tmp")
                        && export::OUTPUT_FILES
                            .iter()
                            .any(|f| n.starts_with(&format!(".{f}.")))
                })
                .count()
        })
        .unwrap_or(0)
}

fn wait_for(what: &str, mut f: impl FnMut() -> bool) {
    let t0 = Instant::now();
    while !f() {
        assert!(t0.elapsed() < Duration::from_secs(20), "timed out: {what}");
        std::thread::sleep(Duration::from_millis(2));
    }
}

/// Killed right after round k's line: the set of rounds 0..=k is there, complete.
#[test]
fn killed_after_round_k_keeps_a_complete_set_of_k_rounds() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    image_folder(&data, 3, 20);
    for k in [0usize, 1] {
        let out = tmp.path().join(format!("out{k}"));
        let mut child = spawn(
            &data,
            &out,
            &["--rounds", "3", "--epochs", "300", "--final-epochs", "300"],
            None,
        );
        let mut log = String::new();
        let want = format!("round {k}:");
        for l in BufReader::new(child.stderr.take().unwrap()).lines() {
            let l = l.unwrap();
            log.push_str(&l);
            log.push('\n');
            if l.starts_with(&want) {
                break;
            }
        }
        assert!(log.contains(&want), "{log}");
        sigkill(&mut child);
        let r = assert_one_set(&out);
        assert_eq!(r.rounds.len(), k + 1, "{log}");
        assert_eq!(r.status.to_string(), "in progress");
        assert!(temp_files(&out).is_empty());
        // Its export says the run did not finish, and that nothing trains it any more.
        let o = Command::new(BIN)
            .args(["export", s(&out.join("run.itlm")), "--cleanlab"])
            .arg(tmp.path().join(format!("issues{k}.csv")))
            .output()
            .unwrap();
        let e = String::from_utf8_lossy(&o.stderr);
        assert!(
            o.status.success()
                && e.contains(&format!(
                    "note: the run was interrupted after round {k} of the"
                )),
            "{e}"
        );
        // The same from inside its folder, the run file named bare.
        let o = Command::new(BIN)
            .current_dir(&out)
            .args(["export", "run.itlm", "--cleanlab"])
            .arg(tmp.path().join(format!("issues{k}-bare.csv")))
            .output()
            .unwrap();
        let e = String::from_utf8_lossy(&o.stderr);
        assert!(
            o.status.success() && e.contains("note: the run was interrupted"),
            "{e}"
        );
    }
}

/// Killed inside the write of a set, before and after its commit point: the previous set
/// stays whole, or the new one is completed by the next writer; never a mix.
#[test]
fn killed_during_the_writes_leaves_the_old_set_or_the_new_one() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    image_folder(&data, 2, 10);
    let fast = ["--rounds", "1", "--epochs", "1", "--final-epochs", "1"];
    for before_commit in [true, false] {
        let out = tmp.path().join(format!("out-{before_commit}"));
        // The previous complete set.
        let mut first = spawn(
            &data,
            &out,
            &[&fast[..], &["--tau", "0.5"][..]].concat(),
            None,
        );
        assert!(first.wait().unwrap().success());
        let old = files(&out);
        let old_run = assert_one_set(&out);
        let mut child = spawn(
            &data,
            &out,
            &[&fast[..], &["--tau", "0.8", "--force"][..]].concat(),
            Some(150),
        );
        if before_commit {
            // The new files are being staged: the manifest is still the old one.
            wait_for("staged files", || staged_files(&out) > 0);
        } else {
            // The new manifest is in place, some files are still waiting to be renamed.
            wait_for("the commit", || {
                files(&out).get(export::MANIFEST) != old.get(export::MANIFEST)
            });
        }
        sigkill(&mut child);
        let check = export::check_set(&out).unwrap();
        if before_commit {
            assert_eq!(check, SetCheck::Complete);
            assert_eq!(files(&out), old, "the previous set changed");
        } else {
            assert!(matches!(check, SetCheck::Mixed(_)), "{check:?}");
        }
        // What the next writer does first: finish the committed set, clean the leftovers.
        manifest::recover(&out).unwrap();
        assert!(temp_files(&out).is_empty());
        let r = assert_one_set(&out);
        if before_commit {
            assert_eq!(files(&out), old);
            assert_eq!(r.config.tau, old_run.config.tau);
        } else {
            assert_eq!(r.config.tau, 0.8);
            assert_eq!(r.rounds.len(), 1, "the new set's first finished round");
        }
    }
}
