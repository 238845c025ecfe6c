//! Writing without half-written results: a file goes to a temp file in the same folder, is
//! synced and renamed over its target; a folder is built in a hidden sibling and renamed into
//! place when complete.

use std::io::Write;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// Whether an existing file may be replaced.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Overwrite {
    Refuse,
    Allow,
}

/// Write `bytes` to `path` atomically: a temp file in the same folder, fsync, rename.
pub fn write_atomic(path: &Path, bytes: &[u8], overwrite: Overwrite) -> Result<()> {
    write_atomic_with(path, overwrite, &mut |w| w.write_all(bytes))
}

/// [`write_atomic`] of what `write` writes (through a buffer), for outputs too large to
/// build in memory first. A reader never sees a half-written file, and a file it has open (or
/// mapped) keeps its old content: the rename gives the path a new file, it does not change the
/// old one.
pub fn write_atomic_with(
    path: &Path,
    overwrite: Overwrite,
    write: &mut dyn FnMut(&mut dyn Write) -> std::io::Result<()>,
) -> Result<()> {
    if overwrite == Overwrite::Refuse && path.exists() {
        return Err(Error::data(
            path,
            "already exists; pass --force (or confirm) to replace it",
        ));
    }
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(format!(".{name}.{}.tmp", std::process::id()));
    let result = (|| {
        let f = std::fs::File::create(&tmp).map_err(|e| cannot_write(path, &tmp, e))?;
        let mut w = std::io::BufWriter::with_capacity(1 << 20, f);
        write(&mut w).map_err(|e| Error::io(&tmp, e))?;
        let f = w
            .into_inner()
            .map_err(|e| Error::io(&tmp, e.into_error()))?;
        f.sync_all().map_err(|e| Error::io(&tmp, e))?;
        std::fs::rename(&tmp, path).map_err(|e| Error::io(path, e))?;
        sync_dir(dir)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

/// The error when the temp file or folder beside `target` cannot be made: it names the target
/// the user asked for (a temp name alone, with the file system's "not found" for a folder that
/// exists, as /proc gives, says nothing useful).
fn cannot_write(target: &Path, tmp: &Path, e: std::io::Error) -> Error {
    let dir = tmp.parent().unwrap_or(Path::new("."));
    Error::data(
        target,
        format!(
            "cannot be written: creating {} in {} failed: {e}",
            tmp.file_name().unwrap_or_default().to_string_lossy(),
            dir.display()
        ),
    )
}

/// Make the renames in `dir` durable (a no-op where folders cannot be synced).
pub fn sync_dir(dir: &Path) -> Result<()> {
    #[cfg(unix)]
    {
        let d = std::fs::File::open(dir).map_err(|e| Error::io(dir, e))?;
        d.sync_all().map_err(|e| Error::io(dir, e))?;
    }
    #[cfg(not(unix))]
    let _ = dir;
    Ok(())
}

/// A folder being built in a hidden sibling of its destination; removed on drop unless
/// committed.
pub struct StagedDir {
    tmp: PathBuf,
    dst: PathBuf,
    committed: bool,
}

impl StagedDir {
    pub fn new(dst: &Path) -> Result<Self> {
        let name = dst
            .file_name()
            .ok_or_else(|| Error::data(dst, "has no folder name"))?
            .to_string_lossy()
            .into_owned();
        let parent = match dst.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        };
        std::fs::create_dir_all(&parent).map_err(|e| Error::io(&parent, e))?;
        remove_dead_partials(&parent, &name);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        let tmp = parent.join(format!(".{name}.partial-{}-{nanos:09}", std::process::id()));
        std::fs::create_dir(&tmp).map_err(|e| cannot_write(dst, &tmp, e))?;
        Ok(Self {
            tmp,
            dst: dst.to_path_buf(),
            committed: false,
        })
    }

    /// The folder to write into.
    pub fn path(&self) -> &Path {
        &self.tmp
    }

    /// Move the finished folder into place (replacing an empty folder there).
    pub fn commit(mut self) -> Result<PathBuf> {
        if self.dst.is_dir() {
            // Fails if someone wrote into it meanwhile: then nothing is replaced.
            std::fs::remove_dir(&self.dst).map_err(|e| Error::io(&self.dst, e))?;
        }
        std::fs::rename(&self.tmp, &self.dst).map_err(|e| Error::io(&self.dst, e))?;
        self.committed = true;
        if let Some(parent) = self.dst.parent().filter(|p| !p.as_os_str().is_empty()) {
            sync_dir(parent)?;
        }
        Ok(self.dst.clone())
    }
}

impl Drop for StagedDir {
    fn drop(&mut self) {
        if !self.committed {
            let _ = std::fs::remove_dir_all(&self.tmp);
        }
    }
}

/// Remove the staging folders `.NAME.partial-PID-*` that dead processes left beside `NAME`.
fn remove_dead_partials(parent: &Path, name: &str) {
    let Ok(rd) = std::fs::read_dir(parent) else {
        return;
    };
    let prefix = format!(".{name}.partial-");
    for e in rd.flatten() {
        let Ok(n) = e.file_name().into_string() else {
            continue;
        };
        if !n.starts_with(&prefix) {
            continue;
        }
        if let Some(pid) = super::manifest::leftover_pid(&n) {
            if !super::lock::pid_alive(pid) {
                let _ = std::fs::remove_dir_all(e.path());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A target whose folder cannot take a temp file: the message names the target, not only
    /// the temp name.
    #[test]
    fn an_unwritable_target_is_named_in_the_error() {
        let tmp = tempfile::tempdir().unwrap();
        let file = tmp.path().join("a-file");
        std::fs::write(&file, "x").unwrap();
        let target = file.join("report.html");
        let e = write_atomic(&target, b"y", Overwrite::Refuse)
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with(&format!("{}: cannot be written", target.display())),
            "{e}"
        );
        #[cfg(target_os = "linux")]
        {
            let e = write_atomic(Path::new("/proc/x.html"), b"y", Overwrite::Refuse)
                .unwrap_err()
                .to_string();
            assert!(e.starts_with("/proc/x.html: cannot be written"), "{e}");
            let e = StagedDir::new(Path::new("/proc/x"))
                .err()
                .unwrap()
                .to_string();
            assert!(e.starts_with("/proc/x: cannot be written"), "{e}");
        }
    }
}
