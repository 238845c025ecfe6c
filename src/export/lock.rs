//! One writer per output folder: an advisory lock file (`.itlm.lock`, holding the writer's
//! process id) in the folder, held for a whole run. On Unix it is an `flock` on that file, so
//! the lock of a process that died (killed, crashed) is released by the system and the next
//! run takes it over; a second live writer is refused with a message naming the process that
//! holds the folder. Also: whether a process is alive, to clean the leftovers of dead ones.

use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// Name of the lock file in an output folder.
pub const LOCK_FILE: &str = ".itlm.lock";

/// The lock on an output folder; released when dropped (or when the process ends).
#[derive(Debug)]
pub struct OutputLock {
    path: PathBuf,
    // Held open: closing it releases the lock.
    file: std::fs::File,
}

impl OutputLock {
    /// Create `dir` if needed and lock it for this process. Refuses a folder another live
    /// process holds, naming it.
    pub fn acquire(dir: &Path) -> Result<Self> {
        std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
        let path = dir.join(LOCK_FILE);
        let mut file = loop {
            let file = std::fs::OpenOptions::new()
                .read(true)
                .write(true)
                .create(true)
                .truncate(false)
                .open(&path)
                .map_err(|e| Error::io(&path, e))?;
            if !try_lock(&file) {
                return Err(in_use(dir, &path));
            }
            // The holder removes the file when it lets go: a lock on a removed file is no lock.
            if same_file(&file, &path) {
                break file;
            }
        };
        use std::io::{Seek, Write};
        let pid = std::process::id().to_string();
        let wrote = file
            .set_len(0)
            .and_then(|_| file.seek(std::io::SeekFrom::Start(0)))
            .and_then(|_| file.write_all(pid.as_bytes()));
        wrote.map_err(|e| Error::io(&path, e))?;
        Ok(Self { path, file })
    }

    /// The lock file.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// The process holding `dir`'s lock (its id as written, or "another process"), or None when
/// no live process holds it (no lock file, or one a dead writer left: its flock went with it).
pub fn holder(dir: &Path) -> Option<String> {
    let path = dir.join(LOCK_FILE);
    let file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(&path)
        .ok()?;
    // Taken, it is released when `file` closes below.
    if try_lock(&file) {
        return None;
    }
    Some(holder_name(&path))
}

/// The process whose id the lock file `lock` holds, in words ("process 123", or "another
/// process" when it holds none).
fn holder_name(lock: &Path) -> String {
    match std::fs::read_to_string(lock).unwrap_or_default().trim() {
        "" => "another process".to_string(),
        pid => format!("process {pid}"),
    }
}

/// The refusal when another process holds `dir`, naming it.
fn in_use(dir: &Path, lock: &Path) -> Error {
    let who = holder_name(lock);
    Error::data(
        dir,
        format!(
            "is in use: {who} is writing its outputs there (lock file {}); wait for it to \
             end or give another --out folder",
            lock.display()
        ),
    )
}

impl Drop for OutputLock {
    fn drop(&mut self) {
        // Removed while still held, so no other writer can be holding this very file.
        if same_file(&self.file, &self.path) {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

/// Whether the open `file` is the file at `path` now.
fn same_file(file: &std::fs::File, path: &Path) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        match (file.metadata(), std::fs::metadata(path)) {
            (Ok(a), Ok(b)) => a.dev() == b.dev() && a.ino() == b.ino(),
            _ => false,
        }
    }
    #[cfg(not(unix))]
    {
        let _ = (file, path);
        true
    }
}

#[cfg(unix)]
fn try_lock(f: &std::fs::File) -> bool {
    use std::os::unix::io::AsRawFd;
    // SAFETY: flock on a file descriptor this function borrows; no memory is involved.
    unsafe { libc::flock(f.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) == 0 }
}

#[cfg(not(unix))]
fn try_lock(_f: &std::fs::File) -> bool {
    true
}

/// Whether process `pid` is alive (on other systems than Unix: assumed alive, so nothing of
/// it is ever cleaned).
pub fn pid_alive(pid: u32) -> bool {
    #[cfg(unix)]
    {
        if pid == std::process::id() {
            return true;
        }
        let Ok(p) = libc::pid_t::try_from(pid) else {
            return false;
        };
        if p <= 0 {
            return false;
        }
        // SAFETY: signal 0 only checks that the process exists.
        let r = unsafe { libc::kill(p, 0) };
        r == 0 || std::io::Error::last_os_error().raw_os_error() == Some(libc::EPERM)
    }
    #[cfg(not(unix))]
    {
        let _ = pid;
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_lock_is_refused_and_released_on_drop() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("out");
        let l = OutputLock::acquire(&dir).unwrap();
        assert_eq!(
            std::fs::read_to_string(l.path()).unwrap(),
            std::process::id().to_string()
        );
        // flock locks belong to the open file: a second open in this process conflicts too.
        let e = OutputLock::acquire(&dir).unwrap_err().to_string();
        assert!(
            e.contains(&format!("process {} is writing", std::process::id())),
            "{e}"
        );
        drop(l);
        OutputLock::acquire(&dir).unwrap();
    }

    #[test]
    fn dead_processes_are_told_from_live_ones() {
        assert!(pid_alive(std::process::id()));
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let pid = child.id();
        child.wait().unwrap();
        assert!(!pid_alive(pid));
    }
}
