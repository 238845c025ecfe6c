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
        let mut f = std::fs::File::create(&tmp).map_err(|e| Error::io(&tmp, e))?;
        f.write_all(bytes).map_err(|e| Error::io(&tmp, e))?;
        f.sync_all().map_err(|e| Error::io(&tmp, e))?;
        std::fs::rename(&tmp, path).map_err(|e| Error::io(path, e))
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
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
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        let tmp = parent.join(format!(".{name}.partial-{}-{nanos:09}", std::process::id()));
        std::fs::create_dir(&tmp).map_err(|e| Error::io(&tmp, e))?;
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
