//! Reading a decisions journal back: rows matched to the dataset's samples and classes (the
//! last row of a sample wins), and a report of everything that could not be applied, with
//! line numbers, so that nothing is dropped silently.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};

use super::{Counts, Decision, Decisions};
use crate::data::truth::path_key;
use crate::error::{Error, Result};

/// The journal's columns, in the order it writes them.
pub(super) const HEADER: [&str; 4] = ["path", "decision", "label", "time"];

/// How many examples of each problem a report names.
const EXAMPLES: usize = 3;

/// Rows of one kind of problem: how many, and the first few as (line, what).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Problem {
    pub count: usize,
    pub examples: Vec<(u64, String)>,
}

impl Problem {
    fn add(&mut self, line: u64, what: String) {
        self.count += 1;
        if self.examples.len() < EXAMPLES {
            self.examples.push((line, what));
        }
    }

    fn examples(&self) -> String {
        let list: Vec<String> = self
            .examples
            .iter()
            .map(|(line, what)| format!("line {line}: {what}"))
            .collect();
        let more = if self.count > self.examples.len() {
            ", ..."
        } else {
            ""
        };
        format!("{}{more}", list.join("; "))
    }
}

/// The last line of a journal that had no line end (a write interrupted by a kill, or a file
/// edited by hand).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TornLine {
    pub line: u64,
    /// Its text (lossy UTF-8, shortened).
    pub text: String,
    /// It was a complete row and was applied; otherwise it was ignored (and [`super::Journal::open`]
    /// cuts it off, so that the next row starts on a fresh line).
    pub applied: bool,
}

/// What replaying a journal found: the decisions it gave and every row it could not apply.
/// Rows that could not be applied stay in the journal (also through compaction) until
/// [`super::Journal::forget_unapplied`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Replay {
    pub file: PathBuf,
    /// Rows read (not counting the header and a torn last line).
    pub rows: usize,
    /// The decisions after replay.
    pub counts: Counts,
    /// Rows replaced by a later row of the same sample: the last row of a sample wins.
    pub superseded: Problem,
    /// Rows whose path is not a sample of this dataset (a file gone, or another dataset).
    pub unknown_path: Problem,
    /// Rows that relabel to a class the dataset does not have.
    pub unknown_class: Problem,
    /// Rows that are not decisions (a wrong number of fields, an empty path, an unknown
    /// decision word, a relabel without a class, a malformed time).
    pub invalid: Problem,
    /// A last line without a line end.
    pub torn: Option<TornLine>,
    /// The header, when it was not `path,decision,label,time` (columns were read by name, or
    /// by position when the file has no header).
    pub header: Option<String>,
    /// Where the original was copied before a journal whose header was not ours was
    /// rewritten in our layout ([`super::Journal::open`]).
    pub rewritten: Option<PathBuf>,
    /// Distinct paths named by rows, and how many of them are not samples of this dataset.
    pub paths: usize,
    pub unknown_paths: usize,
}

impl Replay {
    /// Rows that could not be applied (and stay in the journal).
    pub fn unapplied(&self) -> usize {
        self.unknown_path.count + self.unknown_class.count + self.invalid.count
    }

    /// Whether there is nothing to report beyond the counts (superseded rows are the normal
    /// life of a journal and do not count).
    pub fn is_clean(&self) -> bool {
        self.unapplied() == 0
            && self.header.is_none()
            && self.torn.as_ref().is_none_or(|t| t.applied)
    }

    /// Whether the file looks like another dataset's: more than half of the distinct paths it
    /// names, and at least two, are not samples of this dataset.
    pub fn another_dataset(&self) -> bool {
        self.unknown_paths >= 2 && self.unknown_paths * 2 > self.paths
    }
}

impl std::fmt::Display for Replay {
    /// The message both faces show: a summary line, then one line per kind of problem.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}: {}, {} decided ({})",
            self.file.display(),
            crate::plural(self.rows, "row"),
            crate::plural(self.counts.decided, "sample"),
            self.counts
        )?;
        if let Some(h) = &self.header {
            write!(
                f,
                "\n  the header is `{h}`, not `{}`: columns read by name (by position without a header)",
                HEADER.join(",")
            )?;
            if let Some(b) = &self.rewritten {
                write!(
                    f,
                    "; the journal was rewritten in that layout, the original copied to {}",
                    b.display()
                )?;
            }
        }
        if self.another_dataset() {
            write!(
                f,
                "\n  {} of the {} paths it names are not samples of this dataset: it looks like another dataset's decisions",
                self.unknown_paths, self.paths
            )?;
        }
        let kinds = [
            (&self.unknown_path, "naming a file that is not in this dataset (kept in the journal)"),
            (&self.unknown_class, "relabelling to a class this dataset does not have (kept in the journal, the sample left undecided)"),
            (&self.invalid, "that are not decisions (kept in the journal)"),
            (&self.superseded, "replaced by a later row of the same sample (a decision changed or undone: the last row wins)"),
        ];
        for (p, what) in kinds {
            if p.count > 0 {
                write!(
                    f,
                    "\n  {} {what}: {}",
                    crate::plural(p.count, "row"),
                    p.examples()
                )?;
            }
        }
        if let Some(t) = &self.torn {
            if t.applied {
                write!(
                    f,
                    "\n  line {}: the last row has no line end; applied",
                    t.line
                )?;
            } else {
                write!(
                    f,
                    "\n  line {}: a torn last line (an interrupted write) was ignored: `{}`",
                    t.line, t.text
                )?;
            }
        }
        Ok(())
    }
}

/// A row that was not applied, kept for compaction in the journal's column order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct Unapplied {
    /// The sample path it names (normalised), if any: a later decision on that sample
    /// replaces it.
    pub key: Option<String>,
    /// In the journal's column order, or as read when the row had another number of fields.
    pub fields: Vec<String>,
}

/// Everything a replay gives the journal.
pub(super) struct Parsed {
    pub decisions: Decisions,
    pub replay: Replay,
    pub unapplied: Vec<Unapplied>,
    /// The time of the row that set each decided sample.
    pub times: HashMap<usize, String>,
    /// Where a torn last line starts (to cut it off), if one was ignored.
    pub torn_at: Option<u64>,
    /// The file ends with a complete row that has no line end.
    pub needs_line_end: bool,
    /// The file has no rows yet (after cutting at `torn_at`): the header comes first.
    pub needs_header: bool,
    /// The header is exactly ours (or the file is empty): rows can be appended as they are.
    pub ours: bool,
}

/// Where each column is in a row.
struct Columns {
    path: usize,
    decision: usize,
    label: Option<usize>,
    time: Option<usize>,
    /// Fields a row must have (a range when there is no header).
    min: usize,
    max: usize,
}

/// What one row says.
enum Row {
    /// A decision (None: clear) on the sample `key` (the normalised `path`) names.
    Ok {
        key: String,
        path: String,
        decision: Option<RowDecision>,
    },
    /// A row that says no decision; `key` when it names a path.
    Invalid { key: Option<String>, why: String },
}

/// A decision as a row names it: the class by name, resolved later.
enum RowDecision {
    Exclude,
    Keep,
    Relabel(String),
}

const DECISION_WORDS: &str = "exclude, keep, relabel or clear";

/// Replay the journal `bytes` (read from `file`) against a dataset's sample ids and classes.
pub(super) fn parse(
    file: &Path,
    bytes: &[u8],
    ids: &[String],
    classes: &[String],
) -> Result<Parsed> {
    let mut replay = Replay {
        file: file.to_path_buf(),
        ..Default::default()
    };
    let mut decisions = Decisions::new(ids.len());
    // No rows: an empty file, blanks, or the start of our header (a kill while the journal
    // was created). The journal starts afresh there.
    let header_line = format!("{}\n", HEADER.join(","));
    if bytes.iter().all(|b| b.is_ascii_whitespace())
        || (header_line.as_bytes().starts_with(bytes) && bytes.len() < header_line.len() - 1)
    {
        return Ok(Parsed {
            decisions,
            replay,
            unapplied: Vec::new(),
            times: HashMap::new(),
            torn_at: Some(0),
            needs_line_end: false,
            needs_header: true,
            ours: true,
        });
    }
    // A byte-order mark (a file saved by a spreadsheet) is skipped; offsets count it.
    let bom = if bytes.starts_with(b"\xEF\xBB\xBF") {
        3
    } else {
        0
    };
    let bytes = &bytes[bom..];
    // Separated as its header line says: `,`, or `;` as a spreadsheet saves it where the
    // decimal mark is a comma, or a tab (as a labels CSV).
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .delimiter(crate::data::labels_csv::delimiter(bytes))
        .from_reader(bytes);
    let mut records = Vec::new();
    for r in reader.byte_records() {
        records.push(r.map_err(|e| Error::data(file, format!("unreadable CSV: {e}")))?);
    }
    let Some(first) = records.first() else {
        return Err(Error::data(file, "is not a decisions file: no rows"));
    };
    let head: Vec<String> = first
        .iter()
        .map(|f| String::from_utf8_lossy(f).trim().to_ascii_lowercase())
        .collect();
    let col = |name: &str| head.iter().position(|h| h == name);
    let (cols, data_from) = match (col("path"), col("decision")) {
        (Some(path), Some(decision)) => (
            Columns {
                path,
                decision,
                label: col("label"),
                time: col("time"),
                min: head.len(),
                max: head.len(),
            },
            1,
        ),
        _ if head.len() >= 2 && head.len() <= 4 && word(&head[1]).is_some() => (
            Columns {
                path: 0,
                decision: 1,
                label: Some(2),
                time: Some(3),
                min: 2,
                max: 4,
            },
            0,
        ),
        _ => {
            return Err(Error::data(
                file,
                format!(
                    "is not a decisions file: its first line `{}` names no `path` and `decision` columns ({})",
                    shorten(&String::from_utf8_lossy(line_bytes(bytes, first))),
                    HEADER.join(",")
                ),
            ))
        }
    };
    let ours = data_from == 1 && head == HEADER;
    if !ours {
        replay.header = Some(if data_from == 0 {
            "(none)".to_string()
        } else {
            shorten(&String::from_utf8_lossy(line_bytes(bytes, first)))
        });
    }

    let ends_with_line_end = bytes.ends_with(b"\n") || bytes.ends_with(b"\r");
    let mut by_id: HashMap<&str, usize> = HashMap::with_capacity(ids.len());
    for (i, id) in ids.iter().enumerate().rev() {
        by_id.insert(id.as_str(), i);
    }
    let lookup = |path: &str| {
        by_id
            .get(path)
            .or_else(|| by_id.get(path_key(path).as_str()))
            .copied()
    };

    // Each row read, in order: its line, what it says, and its fields in our column order (as
    // they were when there are too few or too many, so that compaction keeps it unreadable
    // rather than turning it into a decision).
    let mut rows: Vec<(u64, Row, Vec<String>)> = Vec::new();
    let mut torn_at = None;
    let mut needs_line_end = false;
    let last = records.len() - 1;
    for (r, rec) in records.iter().enumerate().skip(data_from) {
        let line = crate::data::labels_csv::record_line(bytes, rec.position());
        let row = read_row(rec, &cols);
        let field = |c: Option<usize>| {
            c.and_then(|c| rec.get(c))
                .map(|f| String::from_utf8_lossy(f).into_owned())
                .unwrap_or_default()
        };
        let fields = if (cols.min..=cols.max).contains(&rec.len()) {
            vec![
                field(Some(cols.path)),
                field(Some(cols.decision)),
                field(cols.label),
                field(cols.time),
            ]
        } else {
            rec.iter()
                .map(|f| String::from_utf8_lossy(f).into_owned())
                .collect()
        };
        if r == last {
            let start = rec.position().map_or(0, |p| p.byte()) as usize;
            let tail = bytes.get(start..).unwrap_or_default();
            let open_quote = tail.iter().filter(|&&b| b == b'"').count() % 2 == 1;
            let complete = matches!(row, Row::Ok { .. });
            if !ends_with_line_end || open_quote {
                replay.torn = Some(TornLine {
                    line,
                    text: shorten(&String::from_utf8_lossy(tail)),
                    applied: complete && !open_quote,
                });
                if complete && !open_quote {
                    needs_line_end = true;
                } else {
                    torn_at = Some((start + bom) as u64);
                    continue;
                }
            }
        }
        rows.push((line, row, fields));
    }
    replay.rows = rows.len();
    if records.len() == data_from && !ends_with_line_end {
        // A header alone without its line end.
        needs_line_end = true;
    }

    // The last row of each path wins; earlier ones are superseded.
    let mut last_of: HashMap<String, usize> = HashMap::new();
    for (j, (_, row, _)) in rows.iter().enumerate() {
        let key = match row {
            Row::Ok { key, .. } => Some(key),
            Row::Invalid { key, .. } => key.as_ref(),
        };
        if let Some(k) = key {
            last_of.insert(k.clone(), j);
        }
    }
    let mut unknown: HashSet<&str> = HashSet::new();
    let mut unapplied = Vec::new();
    let mut times = HashMap::new();
    for (j, (line, row, fields)) in rows.iter().enumerate() {
        let key = match row {
            Row::Ok { key, .. } => Some(key),
            Row::Invalid { key, .. } => key.as_ref(),
        };
        if let Some(k) = key {
            if last_of.get(k) != Some(&j) {
                replay
                    .superseded
                    .add(*line, fields.first().cloned().unwrap_or_default());
                continue;
            }
        }
        let keep = |why: &mut Problem, what: String, unapplied: &mut Vec<Unapplied>| {
            why.add(*line, what);
            unapplied.push(Unapplied {
                key: key.cloned(),
                fields: fields.clone(),
            });
        };
        match row {
            Row::Invalid { why, .. } => keep(&mut replay.invalid, why.clone(), &mut unapplied),
            Row::Ok {
                key,
                path,
                decision,
            } => {
                let Some(i) = lookup(path) else {
                    unknown.insert(key.as_str());
                    keep(&mut replay.unknown_path, path.clone(), &mut unapplied);
                    continue;
                };
                let d = match decision {
                    None => None,
                    Some(RowDecision::Exclude) => Some(Decision::Exclude),
                    Some(RowDecision::Keep) => Some(Decision::Keep),
                    Some(RowDecision::Relabel(name)) => {
                        match classes.iter().position(|c| c == name) {
                            Some(c) => Some(Decision::Relabel(c as u32)),
                            None => {
                                // The user's last word on this sample cannot be applied: it
                                // stays undecided rather than falling back to an older row.
                                keep(
                                    &mut replay.unknown_class,
                                    format!("{path} -> {name}"),
                                    &mut unapplied,
                                );
                                continue;
                            }
                        }
                    }
                };
                decisions.put(i, d);
                if d.is_some() {
                    times.insert(i, fields.get(3).cloned().unwrap_or_default());
                }
            }
        }
    }
    replay.paths = last_of.len();
    replay.unknown_paths = unknown.len();
    replay.counts = decisions.counts();
    Ok(Parsed {
        decisions,
        replay,
        unapplied,
        times,
        torn_at,
        needs_line_end,
        needs_header: false,
        ours,
    })
}

/// What one record says (its class is matched to the dataset's classes later).
fn read_row(rec: &csv::ByteRecord, cols: &Columns) -> Row {
    let get = |c: usize| rec.get(c).map(|f| String::from_utf8_lossy(f).into_owned());
    let path = get(cols.path).unwrap_or_default();
    let key = (!path.is_empty()).then(|| path_key(&path));
    let invalid = |why: String| Row::Invalid {
        key: key.clone(),
        why,
    };
    if rec.len() < cols.min || rec.len() > cols.max {
        let want = if cols.min == cols.max {
            cols.min.to_string()
        } else {
            format!("{} to {}", cols.min, cols.max)
        };
        return invalid(format!("{} fields, not {want}", rec.len()));
    }
    let Some(key) = key.clone() else {
        return invalid("no path".into());
    };
    let word_field = get(cols.decision).unwrap_or_default();
    let Some(w) = word(&word_field) else {
        return invalid(format!(
            "unknown decision `{}` ({DECISION_WORDS})",
            shorten(&word_field)
        ));
    };
    if let Some(t) = cols.time.and_then(get) {
        if !t.is_empty() && !is_rfc3339(&t) {
            return invalid(format!(
                "time `{}` is not RFC 3339 UTC (2026-01-31T12:00:00Z)",
                shorten(&t)
            ));
        }
    }
    let label = cols.label.and_then(get).unwrap_or_default();
    let decision = match w {
        Word::Exclude => Some(RowDecision::Exclude),
        Word::Keep => Some(RowDecision::Keep),
        Word::Clear => None,
        Word::Relabel if label.is_empty() => {
            return invalid(format!("relabel of {path} names no class"));
        }
        Word::Relabel => Some(RowDecision::Relabel(label)),
    };
    Row::Ok {
        key,
        path,
        decision,
    }
}

enum Word {
    Exclude,
    Keep,
    Relabel,
    Clear,
}

fn word(s: &str) -> Option<Word> {
    match s.trim().to_ascii_lowercase().as_str() {
        "exclude" => Some(Word::Exclude),
        "keep" => Some(Word::Keep),
        "relabel" => Some(Word::Relabel),
        "clear" => Some(Word::Clear),
        _ => None,
    }
}

/// `YYYY-MM-DDTHH:MM:SSZ`, the form the journal writes.
pub(super) fn is_rfc3339(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 20
        && b.iter().enumerate().all(|(i, &c)| match i {
            4 | 7 => c == b'-',
            10 => c == b'T',
            13 | 16 => c == b':',
            19 => c == b'Z',
            _ => c.is_ascii_digit(),
        })
}

/// The raw text of a record's first line.
fn line_bytes<'a>(bytes: &'a [u8], rec: &csv::ByteRecord) -> &'a [u8] {
    let start = rec.position().map_or(0, |p| p.byte()) as usize;
    let rest = bytes.get(start..).unwrap_or_default();
    let end = rest
        .iter()
        .position(|&b| b == b'\n' || b == b'\r')
        .unwrap_or(rest.len());
    &rest[..end]
}

/// At most 80 characters, newlines shown as `\n`.
fn shorten(s: &str) -> String {
    let s = s.trim_end_matches(['\n', '\r']).replace('\n', "\\n");
    if s.chars().count() > 80 {
        format!("{}...", s.chars().take(77).collect::<String>())
    } else {
        s
    }
}
