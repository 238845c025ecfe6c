//! The decisions journal `decisions.csv` beside a run: `path,decision,label,time`, one row per
//! change, appended and flushed (and synced) per call so that a kill loses nothing that was
//! acknowledged; replayed on open; compacted atomically to one row per decided sample.

use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use super::replay::{self, Replay, Unapplied, HEADER};
use super::{Decision, Decisions, Entry};
use crate::data::truth::path_key;
use crate::data::Source;
use crate::error::{Error, Result};
use crate::export::{check_outside_datasets, write_atomic, Overwrite};

/// The journal's file name beside a run.
pub use crate::export::DECISIONS_CSV;

/// An open decisions journal: rows appended as decisions change.
pub struct Journal {
    path: PathBuf,
    file: File,
    ids: Vec<String>,
    classes: Vec<String>,
    /// Rows replay could not apply, written back by compaction until forgotten.
    unapplied: Vec<Unapplied>,
    /// The time of the row that set each decided sample (compaction keeps it).
    times: HashMap<usize, String>,
}

impl Journal {
    /// Replay the journal at `path` against a dataset with these ids and class names without
    /// writing anything (e.g. `run --decisions FILE`). A missing file is an error.
    pub fn read(path: &Path, ids: &[String], classes: &[String]) -> Result<(Decisions, Replay)> {
        let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
        let p = replay::parse(path, &bytes, ids, classes)?;
        Ok((p.decisions, p.replay))
    }

    /// Open (create) the journal at `path` for a dataset with these ids and class names, and
    /// replay it: the decisions, and a report of what could not be applied. Refuses a path
    /// inside one of the `datasets` folders, a file that is not a decisions journal, and a
    /// journal that looks like another dataset's (most of its paths unknown), writing nothing.
    /// A torn last line is cut off; a journal whose header is not ours is copied to
    /// `<name>.orig` (a free name) and rewritten in our layout (the report says so).
    pub fn open<'a>(
        path: &Path,
        ids: &[String],
        classes: &[String],
        datasets: impl IntoIterator<Item = &'a Source>,
    ) -> Result<(Journal, Decisions, Replay)> {
        check_outside_datasets(path, datasets)?;
        if path.is_dir() {
            return Err(Error::data(path, "is a folder, not a decisions file"));
        }
        let bytes = match std::fs::read(path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
            Err(e) => return Err(Error::io(path, e)),
        };
        let parsed = replay::parse(path, &bytes, ids, classes)?;
        let mut replay = parsed.replay;
        if replay.another_dataset() {
            return Err(Error::data(
                path,
                format!(
                    "{} of the {} paths it names are not samples of this dataset: it looks like another dataset's decisions, so nothing is written to it (move it away to start a new journal)",
                    replay.unknown_paths, replay.paths
                ),
            ));
        }
        let file = append_to(path)?;
        let mut journal = Journal {
            path: path.to_path_buf(),
            file,
            ids: ids.to_vec(),
            classes: classes.to_vec(),
            unapplied: parsed.unapplied,
            times: parsed.times,
        };
        if !parsed.ours {
            let backup = free_name(path, "orig");
            std::fs::copy(path, &backup).map_err(|e| Error::io(&backup, e))?;
            journal.compact(&parsed.decisions)?;
            replay.rewritten = Some(backup);
        } else {
            if let Some(at) = parsed.torn_at {
                journal.file.set_len(at).map_err(|e| Error::io(path, e))?;
            }
            let mut start = Vec::new();
            if parsed.needs_header {
                start.extend_from_slice(HEADER.join(",").as_bytes());
                start.push(b'\n');
            }
            if parsed.needs_line_end {
                start.push(b'\n');
            }
            journal.write(&start)?;
        }
        Ok((journal, parsed.decisions, replay))
    }

    /// Append one row per entry and flush and sync the file before returning: once this
    /// returns Ok, a kill (or a power cut, as far as the file system keeps its promise) loses
    /// none of them. An entry for a sample or class out of range is refused, writing nothing.
    pub fn append(&mut self, entries: &[Entry]) -> Result<()> {
        if entries.is_empty() {
            return Ok(());
        }
        let now = rfc3339_now();
        let mut rows = Vec::with_capacity(entries.len());
        for e in entries {
            let id = self.id(e.index)?;
            let (word, label) = self.describe(e.decision)?;
            rows.push(vec![id.to_string(), word.to_string(), label, now.clone()]);
        }
        self.write(&csv_rows(&rows)?)?;
        for e in entries {
            if e.decision.is_some() {
                self.times.insert(e.index, now.clone());
            } else {
                self.times.remove(&e.index);
            }
            let key = path_key(&self.ids[e.index]);
            self.unapplied.retain(|u| u.key.as_deref() != Some(&key));
        }
        Ok(())
    }

    /// Rewrite the journal as one row per decided sample (after the rows replay could not
    /// apply, unless forgotten), atomically (temp + rename): a kill leaves the old journal or
    /// the new one, never a mix.
    pub fn compact(&mut self, d: &Decisions) -> Result<()> {
        let bytes = self.bytes(d)?;
        write_atomic(&self.path, &bytes, Overwrite::Allow)?;
        self.file = append_to(&self.path)?;
        self.times.retain(|i, _| d.get(*i).is_some());
        Ok(())
    }

    /// The compacted journal of `d`, written atomically to another file (e.g. a run's output
    /// folder); the journal itself is unchanged.
    pub fn save_as(&self, d: &Decisions, path: &Path, overwrite: Overwrite) -> Result<()> {
        write_atomic(path, &self.bytes(d)?, overwrite)
    }

    /// Rows replay could not apply that the journal still carries.
    pub fn unapplied(&self) -> usize {
        self.unapplied.len()
    }

    /// Drop the rows replay could not apply (after the user has seen them); the next
    /// [`Journal::compact`] leaves them out of the file.
    pub fn forget_unapplied(&mut self) {
        self.unapplied.clear();
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The compacted journal of `d` (what [`Journal::compact`] writes), as bytes: e.g. the copy
    /// an export carries.
    pub fn bytes(&self, d: &Decisions) -> Result<Vec<u8>> {
        compacted(
            &self.path,
            &self.ids,
            &self.classes,
            &self.unapplied,
            &self.times,
            d,
        )
    }

    fn id(&self, index: usize) -> Result<&str> {
        self.ids.get(index).map(|s| s.as_str()).ok_or_else(|| {
            Error::data(
                &self.path,
                format!(
                    "a decision on sample {index}, the dataset has {}",
                    self.ids.len()
                ),
            )
        })
    }

    /// The decision and label columns of a decision (None: `clear`).
    fn describe(&self, d: Option<Decision>) -> Result<(&'static str, String)> {
        describe(&self.path, &self.classes, d)
    }

    /// Write `bytes` at the end, flush, sync.
    fn write(&mut self, bytes: &[u8]) -> Result<()> {
        if bytes.is_empty() {
            return Ok(());
        }
        let path = &self.path;
        self.file
            .write_all(bytes)
            .and_then(|_| self.file.flush())
            .and_then(|_| self.file.sync_data())
            .map_err(|e| Error::io(path, e))
    }
}

/// A journal of `d` alone, one row per decided sample stamped now: the decisions made where no
/// journal could be kept (in memory only), as an export carries them.
pub fn journal_of(d: &Decisions, ids: &[String], classes: &[String]) -> Result<Vec<u8>> {
    compacted(
        Path::new(DECISIONS_CSV),
        ids,
        classes,
        &[],
        &HashMap::new(),
        d,
    )
}

/// One row per decided sample of `d` after the `unapplied` rows, each with the time of the row
/// that set it (else now), as CSV with the header; `path` names the journal in errors.
fn compacted(
    path: &Path,
    ids: &[String],
    classes: &[String],
    unapplied: &[Unapplied],
    times: &HashMap<usize, String>,
    d: &Decisions,
) -> Result<Vec<u8>> {
    if d.len() != ids.len() {
        return Err(Error::Config(format!(
            "decisions for {} samples, the journal's dataset has {}",
            d.len(),
            ids.len()
        )));
    }
    let now = rfc3339_now();
    let mut rows: Vec<Vec<String>> = vec![HEADER.map(String::from).to_vec()];
    rows.extend(unapplied.iter().map(|u| u.fields.clone()));
    for (i, dec) in d.iter() {
        let (word, label) = describe(path, classes, Some(dec))?;
        let time = times.get(&i).filter(|t| !t.is_empty()).unwrap_or(&now);
        rows.push(vec![ids[i].clone(), word.to_string(), label, time.clone()]);
    }
    csv_rows(&rows)
}

/// The decision and label columns of a decision (None: `clear`); `path` names the journal in
/// errors.
fn describe(
    path: &Path,
    classes: &[String],
    d: Option<Decision>,
) -> Result<(&'static str, String)> {
    Ok(match d {
        None => ("clear", String::new()),
        Some(Decision::Relabel(c)) => {
            let name = classes.get(c as usize).ok_or_else(|| {
                Error::data(
                    path,
                    format!("a relabel to class {c}, the dataset has {}", classes.len()),
                )
            })?;
            ("relabel", name.clone())
        }
        Some(d) => (d.word(), String::new()),
    })
}

fn append_to(path: &Path) -> Result<File> {
    OpenOptions::new()
        .append(true)
        .create(true)
        .open(path)
        .map_err(|e| Error::io(path, e))
}

/// Rows as CSV (quoted where needed: commas, quotes, newlines), `\n`-terminated; a kept
/// unreadable row may have another number of fields.
fn csv_rows(rows: &[Vec<String>]) -> Result<Vec<u8>> {
    let mut w = csv::WriterBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_writer(Vec::new());
    for r in rows {
        w.write_record(r)
            .map_err(|e| Error::Other(format!("writing a decisions row: {e}")))?;
    }
    w.into_inner()
        .map_err(|e| Error::Other(format!("writing decisions rows: {e}")))
}

/// `path` with `.{suffix}` added, or `.{suffix}.2`, `.3`, ... when taken.
fn free_name(path: &Path, suffix: &str) -> PathBuf {
    let base = path.as_os_str().to_owned();
    (1..)
        .map(|k| {
            let mut s = base.clone();
            s.push(if k == 1 {
                format!(".{suffix}")
            } else {
                format!(".{suffix}.{k}")
            });
            PathBuf::from(s)
        })
        .find(|p| std::fs::symlink_metadata(p).is_err())
        .unwrap_or_else(|| path.with_extension(suffix))
}

/// The current time as RFC 3339 UTC to the second: `2026-01-31T12:00:00Z`.
pub(super) fn rfc3339_now() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    rfc3339(secs)
}

/// Seconds since the Unix epoch as RFC 3339 UTC (the civil-from-days algorithm of
/// H. Hinnant, proleptic Gregorian).
pub(super) fn rfc3339(secs: u64) -> String {
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}
