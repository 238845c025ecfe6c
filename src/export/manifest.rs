//! The output set as one: the outputs of a run are written in two phases so that a kill
//! at any point leaves either the previous complete set or the new one, never a silent mix.
//!
//! 1. Every new file is written beside its target as `.NAME.PID.tmp` and synced.
//! 2. `manifest.txt` (each file's CRC-32, size and name) is written atomically: the commit
//!    point. The folder is synced.
//! 3. The temp files are renamed over their targets; the folder is synced again.
//!
//! A kill before step 2 leaves the old set and its manifest (the temp files are leftovers); a
//! kill during step 3 leaves a manifest naming the new set and the new files still waiting as
//! temp files: [`recover`] (run by the next writer, under the folder's lock) finishes the
//! renames. Readers call [`check_set`], which says when the files on disk are not the set the
//! manifest names.

use std::path::{Path, PathBuf};

use super::atomic::{sync_dir, write_atomic, Overwrite};
use super::lock::pid_alive;
use crate::error::{Error, Result};

/// Name of the manifest in an output folder.
pub const MANIFEST: &str = "manifest.txt";
const HEADER: &str =
    "# itlm-inspector output set: these files belong together (CRC-32, bytes, name)";

/// One file of a set, as the manifest names it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    pub name: String,
    pub crc: u32,
    pub len: u64,
}

impl Entry {
    fn of(name: &str, bytes: &[u8]) -> Self {
        Self {
            name: name.to_string(),
            crc: crc32fast::hash(bytes),
            len: bytes.len() as u64,
        }
    }

    /// Whether the file at `p` is this entry's bytes with more appended (a journal written
    /// to since).
    fn grew(&self, p: &Path) -> bool {
        std::fs::read(p).is_ok_and(|b| {
            b.len() as u64 > self.len && crc32fast::hash(&b[..self.len as usize]) == self.crc
        })
    }

    /// Whether the file at `p` holds exactly this entry's bytes.
    fn matches(&self, p: &Path) -> bool {
        match std::fs::metadata(p) {
            Ok(m) if m.is_file() && m.len() == self.len => {
                std::fs::read(p).is_ok_and(|b| crc32fast::hash(&b) == self.crc)
            }
            _ => false,
        }
    }
}

/// The manifest's text for `entries`.
fn render(entries: &[Entry]) -> String {
    let mut s = format!("{HEADER}\n");
    for e in entries {
        s.push_str(&format!("{:08x} {} {}\n", e.crc, e.len, e.name));
    }
    s
}

/// Read the manifest of `dir` (None when there is none).
pub fn read_manifest(dir: &Path) -> Result<Option<Vec<Entry>>> {
    let path = dir.join(MANIFEST);
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(Error::io(&path, e)),
    };
    let bad = |line: &str| Error::data(&path, format!("damaged manifest line {line:?}"));
    let mut entries = Vec::new();
    for line in text
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
    {
        let mut parts = line.splitn(3, ' ');
        let (Some(crc), Some(len), Some(name)) = (parts.next(), parts.next(), parts.next()) else {
            return Err(bad(line));
        };
        let crc = u32::from_str_radix(crc, 16).map_err(|_| bad(line))?;
        let len = len.parse().map_err(|_| bad(line))?;
        if name.contains(['/', '\\']) || name.starts_with('.') {
            return Err(bad(line));
        }
        entries.push(Entry {
            name: name.to_string(),
            crc,
            len,
        });
    }
    Ok(Some(entries))
}

/// After one file of a set was replaced alone ([`super::files::write_one`]): the manifest
/// beside it, when it names that file, is rewritten to name its new bytes.
pub fn update_entry(target: &Path, bytes: &[u8]) -> Result<()> {
    let (Some(dir), Some(name)) = (target.parent(), target.file_name()) else {
        return Ok(());
    };
    let dir = if dir.as_os_str().is_empty() {
        Path::new(".")
    } else {
        dir
    };
    let Ok(Some(mut entries)) = read_manifest(dir) else {
        return Ok(());
    };
    let name = name.to_string_lossy();
    let Some(e) = entries.iter_mut().find(|e| e.name == name) else {
        return Ok(());
    };
    *e = Entry::of(&name, bytes);
    write_atomic(
        &dir.join(MANIFEST),
        render(&entries).as_bytes(),
        Overwrite::Allow,
    )
}

/// The temp name a file of the set waits under before its rename.
fn staged_name(name: &str, pid: u32) -> String {
    format!(".{name}.{pid}.tmp")
}

/// Write `files` (name, bytes) into `dir` as one set (see the module's steps). The caller
/// holds the folder's lock ([`super::lock::OutputLock`]).
pub fn write_set(dir: &Path, files: &[(&str, Vec<u8>)]) -> Result<Vec<PathBuf>> {
    let pid = std::process::id();
    let staged: Vec<PathBuf> = files
        .iter()
        .map(|(n, _)| dir.join(staged_name(n, pid)))
        .collect();
    let result = (|| {
        for ((_, bytes), tmp) in files.iter().zip(&staged) {
            write_synced(tmp, bytes)?;
            test_pause();
        }
        let entries: Vec<Entry> = files.iter().map(|(n, b)| Entry::of(n, b)).collect();
        write_atomic(
            &dir.join(MANIFEST),
            render(&entries).as_bytes(),
            Overwrite::Allow,
        )?;
        sync_dir(dir)?;
        Ok::<(), Error>(())
    })();
    if let Err(e) = result {
        for t in &staged {
            let _ = std::fs::remove_file(t);
        }
        return Err(e);
    }
    // Committed: from here a kill is finished by `recover`.
    let mut written = Vec::with_capacity(files.len());
    for ((name, _), tmp) in files.iter().zip(&staged) {
        let target = dir.join(name);
        test_pause();
        std::fs::rename(tmp, &target).map_err(|e| Error::io(&target, e))?;
        written.push(target);
    }
    sync_dir(dir)?;
    Ok(written)
}

/// For the kill test (tests/kill.rs) only: `ITLM_TEST_SET_WRITE_PAUSE_MS` makes each step
/// of a set's write wait that long, so that a kill lands inside the write.
fn test_pause() {
    static PAUSE: std::sync::OnceLock<Option<std::time::Duration>> = std::sync::OnceLock::new();
    let pause = PAUSE.get_or_init(|| {
        std::env::var("ITLM_TEST_SET_WRITE_PAUSE_MS")
            .ok()
            .and_then(|v| v.parse().ok())
            .map(std::time::Duration::from_millis)
    });
    if let Some(d) = pause {
        std::thread::sleep(*d);
    }
}

fn write_synced(p: &Path, bytes: &[u8]) -> Result<()> {
    use std::io::Write;
    let mut f = std::fs::File::create(p).map_err(|e| Error::io(p, e))?;
    f.write_all(bytes).map_err(|e| Error::io(p, e))?;
    f.sync_all().map_err(|e| Error::io(p, e))
}

/// The process id in a leftover's name: `.NAME.PID.tmp` or `.NAME.partial-PID-NANOS`.
pub fn leftover_pid(file_name: &str) -> Option<u32> {
    let rest = file_name.strip_prefix('.')?;
    if let Some(stem) = rest.strip_suffix(".tmp") {
        let (_, pid) = stem.rsplit_once('.')?;
        return pid.parse().ok();
    }
    let (_, tail) = rest.rsplit_once(".partial-")?;
    let (pid, nanos) = tail.split_once('-')?;
    nanos.parse::<u64>().ok()?;
    pid.parse().ok()
}

/// What [`recover`] did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Recovered {
    /// Files of an interrupted set renamed into place.
    pub completed: Vec<String>,
    /// Leftovers of dead processes removed.
    pub removed: Vec<String>,
}

/// Finish a set whose writer died after its commit point, then remove the temp files and
/// partial folders of dead processes in `dir`. The caller holds the folder's lock.
pub fn recover(dir: &Path) -> Result<Recovered> {
    let mut done = Recovered::default();
    if !dir.is_dir() {
        return Ok(done);
    }
    if let Ok(Some(entries)) = read_manifest(dir) {
        for e in &entries {
            let target = dir.join(&e.name);
            if e.matches(&target) {
                continue;
            }
            let waiting = leftovers(dir)?.into_iter().find(|(name, pid)| {
                name.starts_with(&format!(".{}.", e.name))
                    && name.ends_with(".tmp")
                    && !pid_alive(*pid)
                    && e.matches(&dir.join(name))
            });
            if let Some((name, _)) = waiting {
                std::fs::rename(dir.join(&name), &target).map_err(|x| Error::io(&target, x))?;
                done.completed.push(e.name.clone());
            }
        }
    }
    for (name, pid) in leftovers(dir)? {
        if pid_alive(pid) {
            continue;
        }
        let p = dir.join(&name);
        let gone = if p.is_dir() {
            std::fs::remove_dir_all(&p)
        } else {
            std::fs::remove_file(&p)
        };
        if gone.is_ok() {
            done.removed.push(name);
        }
    }
    if !done.completed.is_empty() || !done.removed.is_empty() {
        sync_dir(dir)?;
    }
    Ok(done)
}

/// The leftovers in `dir`: (file name, process id).
fn leftovers(dir: &Path) -> Result<Vec<(String, u32)>> {
    let rd = std::fs::read_dir(dir).map_err(|e| Error::io(dir, e))?;
    Ok(rd
        .flatten()
        .filter_map(|e| {
            let name = e.file_name().into_string().ok()?;
            let pid = leftover_pid(&name)?;
            Some((name, pid))
        })
        .collect())
}

/// How the files in an output folder stand against its manifest.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SetCheck {
    /// Every file the manifest names is there with its bytes.
    Complete,
    /// No manifest (written by an earlier build, or not an output folder).
    NoManifest,
    /// These files are not the ones the manifest names (an interrupted write): the set is mixed.
    Mixed(Vec<String>),
    /// Complete, but decisions were made since it was written: its decisions journal
    /// (`decisions.csv`) has rows appended, which its other files do not follow.
    DecidedSince,
}

impl SetCheck {
    /// A sentence for a reader to show, when the set is mixed.
    pub fn warning(&self, dir: &Path) -> Option<String> {
        match self {
            SetCheck::Mixed(names) => Some(format!(
                "the outputs in {} are a mixed set: {} do not match its {MANIFEST} (a write \
                 was interrupted); the next run or export into that folder completes it",
                dir.display(),
                names.join(", ")
            )),
            SetCheck::DecidedSince => Some(format!(
                "decisions were made in {} after it was written ({} has rows appended): its \
                 labels.csv, clean.txt and flagged.txt follow the earlier decisions; export \
                 again for the current ones",
                dir.display(),
                super::files::DECISIONS_CSV
            )),
            _ => None,
        }
    }
}

/// Check the files in `dir` against its manifest (reads only).
pub fn check_set(dir: &Path) -> Result<SetCheck> {
    let Some(entries) = read_manifest(dir)? else {
        return Ok(SetCheck::NoManifest);
    };
    let mut appended = false;
    let bad: Vec<String> = entries
        .iter()
        .filter(|e| {
            let p = dir.join(&e.name);
            if e.matches(&p) {
                return false;
            }
            // The journal is appended to by design (the window journals each decision).
            let journal = e.name == super::files::DECISIONS_CSV && e.grew(&p);
            appended |= journal;
            !journal
        })
        .map(|e| e.name.clone())
        .collect();
    Ok(match (bad.is_empty(), appended) {
        (true, false) => SetCheck::Complete,
        (true, true) => SetCheck::DecidedSince,
        (false, _) => SetCheck::Mixed(bad),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dead_pid() -> u32 {
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let pid = child.id();
        child.wait().unwrap();
        pid
    }

    #[test]
    fn a_journal_written_to_since_is_not_a_mixed_set() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path();
        let journal = super::super::files::DECISIONS_CSV;
        let files = [
            ("a.txt", b"a".to_vec()),
            (journal, b"path,decision,label,time\n".to_vec()),
        ];
        for (name, bytes) in &files {
            std::fs::write(dir.join(name), bytes).unwrap();
        }
        let entries: Vec<Entry> = files.iter().map(|(n, b)| Entry::of(n, b)).collect();
        std::fs::write(dir.join(MANIFEST), render(&entries)).unwrap();
        assert_eq!(check_set(dir).unwrap(), SetCheck::Complete);
        // A decision appended: complete, decided since.
        let mut j = files[1].1.clone();
        j.extend_from_slice(b"x.png,exclude,,2026-12-06T10:00:00Z\n");
        std::fs::write(dir.join(journal), &j).unwrap();
        let check = check_set(dir).unwrap();
        assert_eq!(check, SetCheck::DecidedSince);
        let w = check.warning(dir).unwrap();
        assert!(
            w.contains("decisions were made") && !w.contains("interrupted"),
            "{w}"
        );
        // A journal rewritten, not appended to, is a mixed set as any other file.
        std::fs::write(dir.join(journal), b"other,decision,label,time\nx\n").unwrap();
        assert_eq!(
            check_set(dir).unwrap(),
            SetCheck::Mixed(vec![journal.to_string()])
        );
    }

    #[test]
    fn leftover_names_give_their_process() {
        assert_eq!(leftover_pid(".run.itlm.123.tmp"), Some(123));
        assert_eq!(leftover_pid(".cc.partial-77-000000012"), Some(77));
        assert_eq!(leftover_pid("run.itlm"), None);
        assert_eq!(leftover_pid(".hidden"), None);
        assert_eq!(leftover_pid(".x.abc.tmp"), None);
    }

    #[test]
    fn a_set_killed_between_its_renames_is_seen_mixed_and_completed() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path();
        let old = [("a.txt", b"old a".to_vec()), ("b.txt", b"old b".to_vec())];
        write_set(dir, &old).unwrap();
        assert_eq!(check_set(dir).unwrap(), SetCheck::Complete);
        // A writer that died after its commit point: the new manifest, a.txt renamed, b.txt
        // still waiting under its temp name.
        let pid = dead_pid();
        let new = [("a.txt", b"new a".to_vec()), ("b.txt", b"new bb".to_vec())];
        let entries: Vec<Entry> = new.iter().map(|(n, b)| Entry::of(n, b)).collect();
        std::fs::write(dir.join(MANIFEST), render(&entries)).unwrap();
        std::fs::write(dir.join("a.txt"), b"new a").unwrap();
        std::fs::write(dir.join(staged_name("b.txt", pid)), b"new bb").unwrap();
        // and a leftover of another dead writer that never committed
        std::fs::write(dir.join(staged_name("c.txt", pid)), b"junk").unwrap();
        let check = check_set(dir).unwrap();
        assert_eq!(check, SetCheck::Mixed(vec!["b.txt".into()]));
        assert!(check.warning(dir).unwrap().contains("mixed set: b.txt"));
        let r = recover(dir).unwrap();
        assert_eq!(r.completed, vec!["b.txt".to_string()]);
        assert_eq!(r.removed, vec![staged_name("c.txt", pid)]);
        assert_eq!(check_set(dir).unwrap(), SetCheck::Complete);
        assert_eq!(std::fs::read(dir.join("b.txt")).unwrap(), b"new bb");
        let mut names: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        names.sort();
        assert_eq!(names, ["a.txt", "b.txt", MANIFEST]);
    }

    #[test]
    fn a_live_writers_temp_files_are_left_alone() {
        let tmp = tempfile::tempdir().unwrap();
        let mine = staged_name("a.txt", std::process::id());
        std::fs::write(tmp.path().join(&mine), b"x").unwrap();
        assert_eq!(recover(tmp.path()).unwrap(), Recovered::default());
        assert!(tmp.path().join(mine).exists());
        assert_eq!(check_set(tmp.path()).unwrap(), SetCheck::NoManifest);
    }
}
