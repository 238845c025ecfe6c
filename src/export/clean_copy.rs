//! A cleaned copy of the dataset: the kept samples as a new image folder, built from hard links
//! to the original files (falling back to symlinks, then copies), so it costs no space and the
//! originals are never touched. A labels CSV's files go to `<class>/<file name>` beside a
//! `labels.csv` of the copy. IDX and CIFAR sets are written as PNGs. Built in a staging folder
//! and renamed into place only when complete. With the user's decisions, relabelled samples go
//! under their new class, excluded ones are left out, and samples still flagged are left out or
//! put under `_flagged/<class>/` ([`Placement`]).

use std::path::{Path, PathBuf};
use std::time::SystemTime;

use rayon::prelude::*;

use super::atomic::StagedDir;
use super::paths::{check_new_folder, check_outside_datasets};
use super::run_file::RunFile;
use crate::data::encode::{encode_png, folder_name};
use crate::data::{self, LoadOptions, Source};
use crate::error::{Error, Result};
use crate::itlm::{Decision, Decisions};

/// The folder that holds samples still flagged (trimmed, no decision) when asked for.
pub const FLAGGED_FOLDER: &str = crate::data::image_folder::QUARANTINE_FOLDER;

/// Where one sample goes in a clean copy: under class `class`, in [`FLAGGED_FOLDER`] when
/// `flagged`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Placement {
    pub index: usize,
    pub class: u32,
    pub flagged: bool,
}

/// What a clean copy holds: the samples the verdict keeps, under their given class; with
/// `decisions`, excluded samples are left out, kept ones go in, relabelled ones go under their
/// new class; with `flagged_folder`, the trimmed samples without a decision go under
/// `_flagged/<given class>/` instead of being left out.
pub fn placements(
    run: &RunFile,
    decisions: Option<&Decisions>,
    flagged_folder: bool,
) -> Result<Vec<Placement>> {
    let v = run
        .verdict()
        .ok_or_else(|| Error::Other("no finished round: nothing to copy".into()))?;
    let d = &run.dataset;
    if let Some(dec) = decisions.filter(|dec| dec.len() != d.len()) {
        return Err(Error::Other(format!(
            "the decisions are for {} samples, the run has {}",
            dec.len(),
            d.len()
        )));
    }
    // The run's own relabels count as relabels (the final model trained them so).
    let overlay = super::run_relabels::with_run_relabels(run, v.round, decisions);
    let decisions = overlay.as_deref();
    Ok((0..d.len())
        .filter_map(|i| {
            let given = d.labels[i];
            let place = |class, flagged| Placement {
                index: i,
                class,
                flagged,
            };
            match decisions.and_then(|dec| dec.get(i)) {
                Some(Decision::Exclude) => None,
                Some(Decision::Keep) => Some(place(given, false)),
                Some(Decision::Relabel(c)) => Some(place(c, false)),
                None if v.kept[i] => Some(place(given, false)),
                None if flagged_folder => Some(place(given, true)),
                None => None,
            }
        })
        .collect())
}

/// The copy's relative paths of the image-folder samples `plan` places (`files`, their paths
/// in the dataset as the OS names them, in `plan`'s order), in `plan`'s order, and the indices
/// into `plan` of the files renamed. A file that stays in its class keeps its path: it is the
/// user's original, and no two originals share a path. A file that moves (relabelled, or put
/// under [`FLAGGED_FOLDER`]) goes to `[_flagged/]<class>/<file name>`, numbered `k-<name>`
/// (the lowest k free) when that name is taken by a file that stays or by a moved file placed
/// before it in `plan`'s order. Names are compared ignoring case as well, so a copy made on a
/// case-insensitive file system never gives two files one name. Without `in_place` (a labels
/// CSV's files, which lie anywhere) every file moves.
fn folder_targets(
    files: &[PathBuf],
    plan: &[Placement],
    labels: &[u32],
    class_dirs: &[PathBuf],
    in_place: bool,
) -> (Vec<PathBuf>, Vec<usize>) {
    use std::collections::HashSet;
    fn folded(p: &Path) -> String {
        p.to_string_lossy().to_lowercase()
    }
    let stays = |p: &Placement| in_place && !p.flagged && p.class == labels[p.index];
    let mut targets: Vec<Option<PathBuf>> = vec![None; plan.len()];
    let mut taken: HashSet<PathBuf> = HashSet::new();
    let mut taken_folded: HashSet<String> = HashSet::new();
    // First every file that keeps its place (originals may differ only in case: they keep
    // their names all the same).
    for (k, (p, f)) in plan.iter().zip(files).enumerate() {
        if stays(p) && taken.insert(f.clone()) {
            taken_folded.insert(folded(f));
            targets[k] = Some(f.clone());
        }
    }
    // Then the moved ones (and, were two placed files one path, the second), in plan order.
    let mut renamed = Vec::new();
    for (k, (p, f)) in plan.iter().zip(files).enumerate() {
        if targets[k].is_some() {
            continue;
        }
        let name = f.file_name().unwrap_or(f.as_os_str()).to_os_string();
        let dir = match (p.flagged, stays(p)) {
            (false, true) => f.parent().map(Path::to_path_buf).unwrap_or_default(),
            (false, false) => class_dirs[p.class as usize].clone(),
            (true, _) => Path::new(FLAGGED_FOLDER).join(&class_dirs[p.class as usize]),
        };
        let mut path = dir.join(&name);
        let mut n = 1;
        while taken.contains(&path) || taken_folded.contains(&folded(&path)) {
            path = dir.join(numbered_name(&name, n));
            n += 1;
        }
        if n > 1 {
            renamed.push(k);
        }
        taken_folded.insert(folded(&path));
        taken.insert(path.clone());
        targets[k] = Some(path);
    }
    (targets.into_iter().flatten().collect(), renamed)
}

/// The longest file name most file systems take, in bytes.
const NAME_MAX: usize = 255;

/// `k-<name>`, the stem shortened (on a character boundary, the extension kept) where the
/// prefix would take the name past [`NAME_MAX`] bytes (a copy failed on such a name).
fn numbered_name(name: &std::ffi::OsStr, k: usize) -> std::ffi::OsString {
    let prefix = format!("{k}-");
    let mut numbered = std::ffi::OsString::from(&prefix);
    if prefix.len() + name.len() <= NAME_MAX {
        numbered.push(name);
        return numbered;
    }
    let lossy = name.to_string_lossy();
    let (stem, ext) = match lossy.rfind('.') {
        Some(d) if d > 0 && lossy.len() - d <= 16 => lossy.split_at(d),
        _ => (&*lossy, ""),
    };
    let mut room = NAME_MAX.saturating_sub(prefix.len() + ext.len());
    while !stem.is_char_boundary(room.min(stem.len())) {
        room -= 1;
    }
    numbered.push(&stem[..room.min(stem.len())]);
    numbered.push(ext);
    numbered
}

/// Moved files [`CopyReport`]'s text names (the count of the others follows).
const RENAMES_SHOWN: usize = 10;

/// How the copy was made.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CopyReport {
    pub dst: PathBuf,
    pub hard_links: usize,
    pub symlinks: usize,
    pub copies: usize,
    /// PNGs written from IDX / CIFAR samples.
    pub written: usize,
    /// Kept samples whose file is gone.
    pub missing: Vec<String>,
    /// The folder the missing files were looked for in (their ids are relative to it).
    pub looked_in: Option<PathBuf>,
    /// Files that moved to another folder (relabelled, or under `_flagged/`) where their name
    /// was taken, so numbered: the sample's id and its path in the copy ('/'-separated).
    pub renamed: Vec<(String, String)>,
    /// Copied files changed after the run read them ([`CopyReport::note_changed`]): the copy
    /// holds them as they are now, which the run never judged. Their ids.
    pub changed: Vec<String>,
    /// The file each placed sample was linked or copied from, in the plan's order (empty where
    /// the copy wrote PNGs from pixels).
    sources: Vec<PathBuf>,
    /// What the copy holds of the run: its samples, those placed (under `_flagged/` too), those
    /// under `_flagged/`, and those left out that the cut keeps (excluded by a decision).
    pub samples: usize,
    pub placed: usize,
    pub under_flagged: usize,
    pub excluded: usize,
}

impl std::fmt::Display for CopyReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}{}{}", self.summary(), self.renames(), self.changes())
    }
}

impl CopyReport {
    /// Files put into the copy, however they were made.
    pub fn made(&self) -> usize {
        self.hard_links + self.symlinks + self.copies + self.written
    }

    /// What the copy holds of the run's samples and what it left out: "2100 of 3000 samples
    /// in their class folders, 900 flagged left out".
    pub fn holds(&self) -> String {
        let mut s = format!(
            "{} of {} in their class folders",
            self.placed.saturating_sub(self.under_flagged),
            crate::plural(self.samples, "sample")
        );
        if self.under_flagged > 0 {
            s.push_str(&format!(
                ", {} flagged under {FLAGGED_FOLDER}/",
                self.under_flagged
            ));
        }
        let flagged_out = self
            .samples
            .saturating_sub(self.placed)
            .saturating_sub(self.excluded);
        if flagged_out > 0 {
            s.push_str(&format!(", {flagged_out} flagged left out"));
        }
        if self.excluded > 0 {
            s.push_str(&format!(", {} excluded by your decisions", self.excluded));
        }
        s
    }

    /// The first line: what the copy holds, how the files were made, and the missing ones.
    fn summary(&self) -> String {
        let mut s = format!(
            "clean copy {}: {}; {} hard links, {} symlinks, {} copies, {} PNGs written",
            self.dst.display(),
            self.holds(),
            self.hard_links,
            self.symlinks,
            self.copies,
            self.written
        );
        if let Some(first) = self.missing.first() {
            s.push_str(&format!(
                "; {} of the {} kept files are missing (first: {first}{})",
                self.missing.len(),
                self.made() + self.missing.len(),
                self.looked_in_text()
            ));
        }
        s
    }

    /// Record the copied files of `plan` (the samples of `run` this copy was made of) whose
    /// file was modified after `since` (when the run read the images: the run file's time for
    /// a saved run): a file replaced or edited since is not the image the run scored. The files
    /// are those the copy was made from.
    pub fn note_changed(&mut self, run: &RunFile, plan: &[Placement], since: SystemTime) {
        let ids = &run.dataset.ids;
        self.changed = self
            .sources
            .par_iter()
            .zip(plan)
            .filter_map(|(f, p)| {
                let m = std::fs::metadata(f).ok()?.modified().ok()?;
                (m > since).then(|| ids[p.index].clone())
            })
            .collect();
    }

    /// ", looked for in DIR" where the copy knows the folder.
    fn looked_in_text(&self) -> String {
        self.looked_in
            .as_ref()
            .map_or_else(String::new, |d| format!(", looked for in {}", d.display()))
    }

    /// The changed files' warning on a line of its own (empty when none); printed even where
    /// the rest of the report is not (`run -q`).
    pub fn changes(&self) -> String {
        let Some(first) = self.changed.first() else {
            return String::new();
        };
        format!(
            "\nwarning: {} changed after the run read the images (first: {first}): the copy \
             holds the files as they are now, not the images the run judged; run again to \
             judge them",
            crate::plural(self.changed.len(), "copied file"),
        )
    }

    /// The renamed files, one a line after a line that counts them (empty when none).
    fn renames(&self) -> String {
        if self.renamed.is_empty() {
            return String::new();
        }
        let n = self.renamed.len();
        let mut s = if n == 1 {
            "\n1 moved file renamed, its name taken in its new folder:".to_string()
        } else {
            format!("\n{n} moved files renamed, their names taken in their new folders:")
        };
        for (from, to) in self.renamed.iter().take(RENAMES_SHOWN) {
            s.push_str(&format!("\n  {from} -> {to}"));
        }
        if n > RENAMES_SHOWN {
            s.push_str(&format!("\n  ... and {} more", n - RENAMES_SHOWN));
        }
        s
    }
}

/// How one file of a copy was made (also the FiftyOne export's `data/`).
pub(super) enum Made {
    Hard,
    Sym,
    Copy,
    Missing,
}

/// Put `src` into the copy at `dst`. A symbolic link in the dataset (relative ones would
/// dangle in another folder) is followed: the copy links or copies the file it points to.
pub(super) fn link_one(src: &Path, dst: &Path) -> Result<Made> {
    let Ok(real) = std::fs::canonicalize(src) else {
        return Ok(Made::Missing);
    };
    if !real.is_file() {
        return Ok(Made::Missing);
    }
    if let Some(p) = dst.parent() {
        std::fs::create_dir_all(p).map_err(|e| Error::io(p, e))?;
    }
    if std::fs::hard_link(&real, dst).is_ok() {
        return Ok(Made::Hard);
    }
    #[cfg(unix)]
    {
        if std::os::unix::fs::symlink(&real, dst).is_ok() {
            return Ok(Made::Sym);
        }
    }
    // A copy never writes through an entry already there (a hard link to another original,
    // were two names one on this file system): only a new file is created.
    let mut from = std::fs::File::open(&real).map_err(|e| Error::io(&real, e))?;
    let mut to = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(dst)
        .map_err(|e| Error::io(dst, e))?;
    std::io::copy(&mut from, &mut to).map_err(|e| Error::io(dst, e))?;
    Ok(Made::Copy)
}

/// The id the image folder loader gives the file at `rel` (its components, lossy UTF-8,
/// joined by '/').
fn id_of(rel: &Path) -> String {
    rel.components()
        .map(|c| c.as_os_str().to_string_lossy())
        .collect::<Vec<_>>()
        .join("/")
}

/// The real relative path (as the OS names it) of each id in `ids` under `root`: the id itself
/// when that file is there, else the file whose lossy id it is (a name that is not UTF-8), else
/// the id (then it is missing).
fn os_paths(root: &Path, ids: &[&str]) -> Vec<PathBuf> {
    let mut index: Option<std::collections::HashMap<String, PathBuf>> = None;
    ids.iter()
        .map(|id| {
            if std::fs::symlink_metadata(root.join(id)).is_ok() {
                return PathBuf::from(id);
            }
            let index = index.get_or_insert_with(|| {
                walkdir::WalkDir::new(root)
                    .follow_links(true)
                    .min_depth(1)
                    .into_iter()
                    .flatten()
                    .filter_map(|e| {
                        let rel = e.path().strip_prefix(root).ok()?.to_path_buf();
                        Some((id_of(&rel), rel))
                    })
                    .collect()
            });
            index.get(*id).cloned().unwrap_or_else(|| PathBuf::from(id))
        })
        .collect()
}

/// Write the verdict's kept samples of `run` as a new image folder `dst` (which must not exist
/// or be empty, and must not be inside any dataset folder the run read), with a folder for
/// every class, even one with no kept sample. Kept files that are gone make it an error: when
/// none could be copied nothing is written; otherwise the copy of the others is kept and the
/// error says how many are missing.
pub fn clean_copy(run: &RunFile, dst: &Path) -> Result<CopyReport> {
    clean_copy_of(run, dst, &placements(run, None, false)?)
}

/// A clean copy holding `plan` (see [`placements`]), made like [`clean_copy`].
pub fn clean_copy_of(run: &RunFile, dst: &Path, plan: &[Placement]) -> Result<CopyReport> {
    check_new_folder(dst)?;
    check_outside_datasets(dst, &run.dataset.sources())?;
    let d = &run.dataset;
    if let Some(p) = plan
        .iter()
        .find(|p| p.index >= d.len() || p.class as usize >= d.classes.len())
    {
        return Err(Error::Other(format!(
            "sample {} / class {} is not in the run",
            p.index, p.class
        )));
    }
    let staged = StagedDir::new(dst)?;
    // Left out of the plan while the cut keeps them: excluded by a decision.
    let mut placed = vec![false; d.len()];
    for p in plan {
        placed[p.index] = true;
    }
    let excluded = run.verdict().map_or(0, |v| {
        (0..d.len())
            .filter(|&i| !placed[i] && v.kept.get(i).copied().unwrap_or(false))
            .count()
    });
    let mut report = CopyReport {
        dst: dst.to_path_buf(),
        samples: d.len(),
        placed: plan.len(),
        under_flagged: plan.iter().filter(|p| p.flagged).count(),
        excluded,
        ..Default::default()
    };
    match &d.source {
        Source::ImageFolder { root } => {
            // Ids are `<class folder>/<file>`: the class names are the folder names (as the
            // OS names them: a name need not be UTF-8).
            let classes: Vec<&str> = d.classes.iter().map(String::as_str).collect();
            let class_dirs = os_paths(root, &classes);
            let ids: Vec<&str> = plan.iter().map(|p| d.ids[p.index].as_str()).collect();
            let files = os_paths(root, &ids);
            report.looked_in = Some(root.clone());
            report.sources = files.iter().map(|f| root.join(f)).collect();
            let linked = Linked {
                root,
                files: &files,
                class_dirs: &class_dirs,
                in_place: true,
            };
            linked.link(run, plan, staged.path(), &mut report)?;
        }
        Source::LabelsCsv { file } => {
            // Files lie anywhere: each goes to `<class>/<file name>`, and a labels.csv lists
            // the copy's files, so that it loads as an image folder and as a labels CSV.
            // (An id need not be its file: an images folder, an extension added.)
            let root = data::dataset::csv_folder(file);
            let class_dirs: Vec<PathBuf> =
                d.classes.iter().map(|c| folder_name(c).into()).collect();
            let all = data::labels_csv::sample_files(file, &d.columns, &d.ids);
            let files: Vec<PathBuf> = plan.iter().map(|p| all[p.index].clone()).collect();
            report.looked_in = Some(d.columns.root(file));
            report.sources = files.iter().map(|f| root.join(f)).collect();
            let linked = Linked {
                root: &root,
                files: &files,
                class_dirs: &class_dirs,
                in_place: false,
            };
            let targets = linked.link(run, plan, staged.path(), &mut report)?;
            write_copy_labels(run, plan, &targets, &report, staged.path())?;
        }
        Source::Idx { images } => {
            let dir = images
                .parent()
                .filter(|p| !p.as_os_str().is_empty())
                .unwrap_or(Path::new("."));
            write_pngs(run, dir, plan, staged.path(), &mut report)?;
        }
        Source::Cifar { dir } => write_pngs(run, dir, plan, staged.path(), &mut report)?,
        Source::Memory => {
            return Err(Error::Other(
                "this run's samples were built in memory: there are no files to copy".into(),
            ))
        }
    }
    if !report.missing.is_empty() && report.made() == 0 {
        // `staged` is dropped: no empty folder is left behind.
        return Err(Error::data(
            dst,
            format!(
                "none of the {} kept files could be copied: they are missing (first: {}{}); \
                 nothing was written",
                report.missing.len(),
                report.missing[0],
                report.looked_in_text()
            ),
        ));
    }
    staged.commit()?;
    if !report.missing.is_empty() {
        return Err(Error::Other(format!(
            "{}; the copy holds the others only{}",
            report.summary(),
            report.renames()
        )));
    }
    Ok(report)
}

/// The files of a clean copy of an image folder or a labels CSV, and where they go.
struct Linked<'a> {
    /// What the files' paths are relative to.
    root: &'a Path,
    /// Each placed sample's file (as the OS names it), relative to `root` or absolute.
    files: &'a [PathBuf],
    /// Each class's folder in the copy.
    class_dirs: &'a [PathBuf],
    /// Whether a file that stays in its class keeps its relative path (an image folder's).
    in_place: bool,
}

impl Linked<'_> {
    /// Make the class folders and link (or copy) every file into the copy at `out`; counts go
    /// to `report`. The files' paths in the copy come back, in `plan`'s order.
    fn link(
        &self,
        run: &RunFile,
        plan: &[Placement],
        out: &Path,
        report: &mut CopyReport,
    ) -> Result<Vec<PathBuf>> {
        let d = &run.dataset;
        for c in self.class_dirs {
            let p = out.join(c);
            std::fs::create_dir_all(&p).map_err(|e| Error::io(&p, e))?;
        }
        let (targets, renamed) =
            folder_targets(self.files, plan, &d.labels, self.class_dirs, self.in_place);
        report.renamed = renamed
            .into_iter()
            .map(|k| (d.ids[plan[k].index].clone(), id_of(&targets[k])))
            .collect();
        let made: Vec<Result<Made>> = self
            .files
            .par_iter()
            .zip(&targets)
            .map(|(f, t)| link_one(&self.root.join(f), &out.join(t)))
            .collect();
        for (m, p) in made.into_iter().zip(plan) {
            match m? {
                Made::Hard => report.hard_links += 1,
                Made::Sym => report.symlinks += 1,
                Made::Copy => report.copies += 1,
                Made::Missing => report.missing.push(d.ids[p.index].clone()),
            }
        }
        Ok(targets)
    }
}

/// The name of the labels file in a clean copy of a labels CSV.
pub const COPY_LABELS: &str = "labels.csv";

/// Write `labels.csv` (`path,label`, then the user's own columns of the set's CSV) in a
/// clean copy of a labels CSV: the copy's files (not those under `_flagged/`, nor missing
/// ones), relative to the copy, with their classes.
fn write_copy_labels(
    run: &RunFile,
    plan: &[Placement],
    targets: &[PathBuf],
    report: &CopyReport,
    out: &Path,
) -> Result<()> {
    let d = &run.dataset;
    let missing: std::collections::HashSet<&str> =
        report.missing.iter().map(String::as_str).collect();
    let mut w = csv::Writer::from_writer(Vec::new());
    let path = out.join(COPY_LABELS);
    let err = |e: csv::Error| Error::data(&path, e.to_string());
    // The user's own columns of the set's CSV follow (its split, notes, ...).
    let (names, extra) = super::tables::user_columns(run, &["path", "label"]);
    let mut header = vec!["path".to_string(), "label".to_string()];
    header.extend(names.iter().cloned());
    w.write_record(&header).map_err(err)?;
    for (p, t) in plan.iter().zip(targets) {
        if p.flagged || missing.contains(d.ids[p.index].as_str()) {
            continue;
        }
        let (file, class) = (id_of(t), d.classes[p.class as usize].as_str());
        let row = [file.as_str(), class]
            .into_iter()
            .chain(extra.row(&d.ids[p.index]));
        w.write_record(row).map_err(err)?;
    }
    let bytes = w
        .into_inner()
        .map_err(|e| Error::data(&path, e.to_string()))?;
    std::fs::write(&path, bytes).map_err(|e| Error::io(&path, e))
}

/// Reload an IDX / CIFAR set and write the placed samples as `[_flagged/]<class>/<id>.png`.
fn write_pngs(
    run: &RunFile,
    path: &Path,
    plan: &[Placement],
    out: &Path,
    report: &mut CopyReport,
) -> Result<()> {
    let loaded = data::load(path, &LoadOptions::default())?;
    let sets: Vec<&data::Dataset> = std::iter::once(&loaded.train)
        .chain(loaded.test.as_ref())
        .collect();
    let index: std::collections::HashMap<&str, (usize, usize)> = sets
        .iter()
        .enumerate()
        .flat_map(|(s, d)| {
            d.ids()
                .iter()
                .enumerate()
                .map(move |(i, id)| (id.as_str(), (s, i)))
        })
        .collect();
    let d = &run.dataset;
    for c in &d.classes {
        let p = out.join(folder_name(c));
        std::fs::create_dir_all(&p).map_err(|e| Error::io(&p, e))?;
        if plan.iter().any(|p| p.flagged) {
            let p = out.join(FLAGGED_FOLDER).join(folder_name(c));
            std::fs::create_dir_all(&p).map_err(|e| Error::io(&p, e))?;
        }
    }
    let results: Vec<Result<bool>> = plan
        .par_iter()
        .map(|pl| {
            let i = pl.index;
            let Some(&(s, j)) = index.get(d.ids[i].as_str()) else {
                return Ok(false);
            };
            let set = sets[s];
            let name = d.ids[i].replace(['#', '/', '\\'], "_");
            let class_dir = folder_name(&d.classes[pl.class as usize]);
            let p = if pl.flagged {
                out.join(FLAGGED_FOLDER).join(class_dir)
            } else {
                out.join(class_dir)
            }
            .join(format!("{name}.png"));
            let png = encode_png(set.image(j), set.shape).map_err(|m| Error::data(&p, m))?;
            std::fs::write(&p, png).map_err(|e| Error::io(&p, e))?;
            Ok(true)
        })
        .collect();
    for (r, pl) in results.into_iter().zip(plan) {
        let i = pl.index;
        if r? {
            report.written += 1;
        } else {
            report.missing.push(d.ids[i].clone());
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_numbered_name_stays_within_the_file_system_s_limit() {
        use std::ffi::OsStr;
        assert_eq!(numbered_name(OsStr::new("a.png"), 3), "3-a.png");
        let long = format!("{}.png", "y".repeat(251));
        let n = numbered_name(OsStr::new(&long), 12);
        assert_eq!(n.len(), NAME_MAX);
        let n = n.to_string_lossy().into_owned();
        assert!(n.starts_with("12-yyy") && n.ends_with("y.png"), "{n}");
        // Multi-byte characters are cut on a boundary.
        let wide = format!("{}.jpg", "é".repeat(125));
        let n = numbered_name(OsStr::new(&wide), 1);
        assert!(n.len() <= NAME_MAX && n.to_string_lossy().ends_with("é.jpg"));
        // Two long names numbered apart stay apart.
        assert_ne!(
            numbered_name(OsStr::new(&long), 1),
            numbered_name(OsStr::new(&long), 2)
        );
    }

    /// Where a name is already there (a hard link to another original, were two names one
    /// on the file system), the copy fails instead of writing through it into that original.
    #[test]
    fn a_copy_never_writes_through_an_entry_already_there() {
        let t = tempfile::tempdir().unwrap();
        let (a, b) = (t.path().join("a.png"), t.path().join("b.png"));
        std::fs::write(&a, b"A").unwrap();
        std::fs::write(&b, b"B").unwrap();
        let dst = t.path().join("copy").join("b.png");
        std::fs::create_dir_all(dst.parent().unwrap()).unwrap();
        std::fs::hard_link(&b, &dst).unwrap();
        assert!(link_one(&a, &dst).is_err());
        assert_eq!(std::fs::read(&b).unwrap(), b"B");
        // A free name is linked as before.
        let free = t.path().join("copy").join("a.png");
        assert!(matches!(link_one(&a, &free), Ok(Made::Hard)));
    }
}
