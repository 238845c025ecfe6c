//! Where outputs may go: paths resolved the way the file system will see them (so `..` and
//! symlinks cannot hide a dataset folder), never inside a dataset folder, folders that can be
//! created, new folders that are empty. Every check a command or the window makes before
//! writing lives here.

use std::path::{Component, Path, PathBuf};

use crate::data::Source;
use crate::error::{Error, Result};

/// `p` made absolute and lexically normalised, then its deepest existing ancestor replaced by
/// its canonical path (so symlinks and `..` cannot hide where it really is).
pub fn resolve_path(p: &Path) -> PathBuf {
    let abs = std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf());
    let mut norm = PathBuf::new();
    for c in abs.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => {
                norm.pop();
            }
            other => norm.push(other),
        }
    }
    let mut base = norm;
    let mut rest = Vec::new();
    while !base.exists() {
        match (base.file_name().map(|s| s.to_owned()), base.parent()) {
            (Some(n), Some(parent)) => {
                rest.push(n);
                base = parent.to_path_buf();
            }
            _ => break,
        }
    }
    let mut out = std::fs::canonicalize(&base).unwrap_or(base);
    for n in rest.into_iter().rev() {
        out.push(n);
    }
    out
}

/// Whether two paths name one existing file (both canonicalise, alike).
pub fn same_file(a: &Path, b: &Path) -> bool {
    match (std::fs::canonicalize(a), std::fs::canonicalize(b)) {
        (Ok(x), Ok(y)) => x == y,
        _ => false,
    }
}

/// Whether `p` is `root` or lies below it, once both are resolved.
pub fn is_inside(p: &Path, root: &Path) -> bool {
    let r = resolve_path(root);
    !r.as_os_str().is_empty() && resolve_path(p).starts_with(&r)
}

/// Refuse, before anything is written, an output folder that could not be created: `dst`
/// itself or one of the folders above it is a file (or anything else that is not a folder).
pub fn check_folder_path(dst: &Path) -> Result<()> {
    for a in dst.ancestors().filter(|a| !a.as_os_str().is_empty()) {
        if std::fs::symlink_metadata(a).is_err() {
            continue;
        }
        if a.is_dir() {
            return Ok(());
        }
        let what = if a == dst {
            "is a file, not a folder".to_string()
        } else {
            format!("cannot be created: {} is a file, not a folder", a.display())
        };
        return Err(Error::data(dst, what));
    }
    Ok(())
}

/// Refuse an output folder that exists and is a file, a symlink, or a folder that is not empty.
pub fn check_new_folder(dst: &Path) -> Result<()> {
    if let Ok(meta) = std::fs::symlink_metadata(dst) {
        if !dst.is_dir() || meta.file_type().is_symlink() {
            return Err(Error::data(
                dst,
                "exists and is not a folder; give a new or empty folder",
            ));
        }
        let mut entries = std::fs::read_dir(dst).map_err(|e| Error::io(dst, e))?;
        if entries.next().is_some() {
            return Err(Error::data(
                dst,
                "is not empty; give a new or empty folder (nothing is ever overwritten)",
            ));
        }
    }
    Ok(())
}

/// Refuse output locations inside any of the dataset folders a run read (training, test and
/// test-2 sets: `DatasetInfo::sources`).
pub fn check_outside_datasets<'a>(
    out: &Path,
    sources: impl IntoIterator<Item = &'a Source>,
) -> Result<()> {
    sources
        .into_iter()
        .try_for_each(|s| check_outside_dataset(out, s))
}

/// The folders a labels CSV's images lie in that outputs must stay out of: each folder
/// holding a listed file, and a folder holding two or more of those (the root of a class-folder
/// layout the CSV lists, which is a dataset of its own), unless that is the file system's
/// root or the home folder (two photo folders of one user). Resolved; read once per version
/// of the file (the window asks every frame of an export dialog).
fn csv_image_folders(file: &Path) -> std::sync::Arc<Vec<PathBuf>> {
    use std::collections::{BTreeMap, HashMap};
    use std::sync::{Arc, Mutex, OnceLock};
    type Key = (PathBuf, u64, Option<std::time::SystemTime>);
    type Seen = HashMap<PathBuf, (Key, Arc<Vec<PathBuf>>)>;
    static SEEN: OnceLock<Mutex<Seen>> = OnceLock::new();
    let meta = std::fs::metadata(file).ok();
    let key = (
        file.to_path_buf(),
        meta.as_ref().map_or(0, |m| m.len()),
        meta.and_then(|m| m.modified().ok()),
    );
    let seen = SEEN.get_or_init(Default::default);
    if let Some((k, v)) = seen.lock().ok().and_then(|m| m.get(file).cloned()) {
        if k == key {
            return v;
        }
    }
    let folders: Vec<PathBuf> = crate::data::labels_csv::listed_folders(file)
        .iter()
        .map(|f| resolve_path(f))
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    let mut parents: BTreeMap<PathBuf, usize> = BTreeMap::new();
    for f in &folders {
        if let Some(p) = f.parent() {
            *parents.entry(p.to_path_buf()).or_default() += 1;
        }
    }
    let home = std::env::var_os("HOME").map(|h| resolve_path(Path::new(&h)));
    let mut guarded = folders;
    guarded.extend(parents.into_iter().filter_map(|(p, n)| {
        (n >= 2 && p.parent().is_some() && Some(&p) != home.as_ref()).then_some(p)
    }));
    let v = Arc::new(guarded);
    if let Ok(mut m) = seen.lock() {
        m.insert(file.to_path_buf(), (key, v.clone()));
    }
    v
}

/// Refuse output locations inside the dataset folder (for a labels CSV: its folder, and the
/// folders its images lie in, [`csv_image_folders`]).
pub fn check_outside_dataset(out: &Path, source: &Source) -> Result<()> {
    if let Source::LabelsCsv { file } = source {
        let csv = crate::data::dataset::csv_folder(file);
        if !is_inside(out, &csv) {
            if let Some(f) = csv_image_folders(file).iter().find(|f| is_inside(out, f)) {
                return Err(Error::data(
                    out,
                    format!(
                        "is inside {}, a folder of the images the labels CSV {} lists; \
                         itlm-inspector never writes there",
                        f.display(),
                        file.display()
                    ),
                ));
            }
        }
    }
    let root = match source {
        Source::ImageFolder { root } => root.clone(),
        // A bare file name ("train-images-idx3-ubyte") lives in the current folder.
        Source::Idx { images } => match images.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        },
        Source::Cifar { dir } => dir.clone(),
        // The CSV's folder: its images lie under it.
        Source::LabelsCsv { file } => crate::data::dataset::csv_folder(file),
        Source::Memory => return Ok(()),
    };
    if is_inside(out, &root) {
        return Err(Error::data(
            out,
            format!(
                "is inside the dataset folder {}; itlm-inspector never writes there",
                resolve_path(&root).display()
            ),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::export::atomic::StagedDir;

    #[test]
    fn staged_folders_vanish_unless_committed() {
        let tmp = tempfile::tempdir().unwrap();
        let dst = tmp.path().join("d");
        let s = StagedDir::new(&dst).unwrap();
        std::fs::write(s.path().join("x"), "1").unwrap();
        drop(s);
        assert_eq!(std::fs::read_dir(tmp.path()).unwrap().count(), 0);
        let s = StagedDir::new(&dst).unwrap();
        std::fs::write(s.path().join("x"), "1").unwrap();
        s.commit().unwrap();
        assert_eq!(std::fs::read_to_string(dst.join("x")).unwrap(), "1");
        assert!(check_new_folder(&dst).is_err());
        assert!(check_new_folder(&dst.join("x")).is_err());
        assert!(check_new_folder(&tmp.path().join("new")).is_ok());
    }

    #[test]
    fn folders_under_a_file_are_refused() {
        let tmp = tempfile::tempdir().unwrap();
        let file = tmp.path().join("afile");
        std::fs::write(&file, "x").unwrap();
        let e = check_folder_path(&file.join("sub").join("deeper")).unwrap_err();
        assert!(
            e.to_string().ends_with(&format!(
                "cannot be created: {} is a file, not a folder",
                file.display()
            )),
            "{e}"
        );
        assert!(check_folder_path(&file)
            .unwrap_err()
            .to_string()
            .ends_with("is a file, not a folder"));
        assert!(check_folder_path(&tmp.path().join("new").join("sub")).is_ok());
        assert!(check_folder_path(Path::new("relative-new")).is_ok());
    }

    #[test]
    fn inside_sees_through_dots_and_links() {
        let tmp = tempfile::tempdir().unwrap();
        let data = tmp.path().join("data");
        std::fs::create_dir(&data).unwrap();
        assert!(is_inside(&data.join("out"), &data));
        assert!(is_inside(&tmp.path().join("x/../data/out"), &data));
        assert!(!is_inside(&tmp.path().join("data2"), &data));
        #[cfg(unix)]
        {
            let link = tmp.path().join("link");
            std::os::unix::fs::symlink(&data, &link).unwrap();
            assert!(is_inside(&link.join("out"), &data));
        }
    }
}
