//! A labels CSV: images anywhere under one folder (or at absolute paths) and a CSV file that
//! maps each file to its label, as cleanlab, Kaggle and pandas users keep them. The header
//! names the columns: the path column is the first of [`PATH_COLUMNS`], the label column the
//! first of [`LABEL_COLUMNS`] (case-insensitive). Paths are relative to the CSV's folder; a
//! sample's id is its path as written, `./` stripped and `\` turned into `/`, so that the
//! tables this tool exports (whose `path` column holds ids) line up with the input, and its own
//! `labels.csv` loads back (its excluded samples have an empty label: skipped). Files are
//! decoded as an image folder's are ([`super::image_files`]); classes are the labels in
//! [`super::dataset::sort_class_names`]'s order (numeric when all are integers).
//! Other names are given as [`Columns`] (`--path-column`, `--label-column`, the window's
//! column picker); the file's other columns are the user's own ([`extra_columns`]): the
//! corrected `labels.csv` carries them.

use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};

use super::dataset::csv_folder;
use super::image_files::{decode_entries, no_images, Decoded, Entry};
use super::image_folder::breaks_lists;
use super::{Dataset, LoadOptions, Skipped, Source};
use crate::error::{Error, Result};

/// The names a path column may have, in the order they are looked for.
pub const PATH_COLUMNS: &[&str] = &[
    "path",
    "file",
    "filename",
    "file_name",
    "image",
    "image_path",
    "filepath",
    "file_path",
    "img",
    "img_path",
    "image_name",
    "image_id",
    "id",
];

/// The names a label column may have, in the order they are looked for.
pub const LABEL_COLUMNS: &[&str] = &[
    "label",
    "class",
    "target",
    "label_name",
    "given_label",
    "category",
    "labels",
    "class_name",
];

/// Which columns of a labels CSV hold the image paths and the labels, where the header's
/// names are not among [`PATH_COLUMNS`] / [`LABEL_COLUMNS`] (None: found by those names).
/// Matched case-insensitively, spaces trimmed. A run keeps them, so that it reloads its set.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Columns {
    pub path: Option<String>,
    pub label: Option<String>,
}

impl Columns {
    /// Whether both are found by name (nothing given).
    pub fn is_auto(&self) -> bool {
        self.path.is_none() && self.label.is_none()
    }
}

/// How many duplicated paths an error names.
const DUPLICATES_QUOTED: usize = 5;

/// Whether `path` names a labels CSV: a file ending in `.csv` or `.tsv` (any case).
pub fn is_labels_csv(path: &Path) -> bool {
    path.extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("csv") || e.eq_ignore_ascii_case("tsv"))
}

/// The field separator of a labels file: the one of `,`, `;` and tab its header line holds
/// most (a semicolon file is what Excel writes where the decimal mark is a comma; a `.tsv` is
/// tab-separated); `,` when it holds none.
pub(crate) fn delimiter(bytes: &[u8]) -> u8 {
    let header = bytes.split(|&b| b == b'\n').next().unwrap_or_default();
    let count = |d: u8| header.iter().filter(|&&b| b == d).count();
    [b',', b';', b'\t']
        .into_iter()
        .max_by_key(|&d| (count(d), d == b','))
        .filter(|&d| count(d) > 0)
        .unwrap_or(b',')
}

/// A path as an id: surrounding spaces and leading `./` dropped, `\` turned into `/`.
pub fn normalise_id(path: &str) -> String {
    let mut s = path.trim().replace('\\', "/");
    while let Some(rest) = s.strip_prefix("./") {
        s = rest.trim_start_matches('/').to_string();
    }
    s
}

/// The 1-based line a CSV record starts on, from its byte offset in `bytes`. With CRLF line
/// ends (what Python's csv module and Excel write) the csv crate puts a record's start at the
/// `\n` that ends the line before, and its own line count runs one short: the line ends at
/// the offset are stepped over.
pub(crate) fn record_line(bytes: &[u8], pos: Option<&csv::Position>) -> u64 {
    let mut start = pos.map_or(0, |p| p.byte() as usize).min(bytes.len());
    while bytes.get(start).is_some_and(|b| matches!(b, b'\r' | b'\n')) {
        start += 1;
    }
    1 + bytes[..start].iter().filter(|&&b| b == b'\n').count() as u64
}

/// A header cell as written: a byte-order mark and spaces trimmed.
fn as_written(h: &str) -> &str {
    h.trim_start_matches('\u{feff}').trim()
}

/// A header's names as matched: [`as_written`], lower case.
fn header_names(header: &csv::StringRecord) -> Vec<String> {
    header
        .iter()
        .map(|h| as_written(h).to_lowercase())
        .collect()
}

/// The index of the first of `names` among `header` (case-insensitive, spaces trimmed).
fn column(header: &csv::StringRecord, names: &[&str]) -> Option<usize> {
    let cols = header_names(header);
    names.iter().find_map(|n| cols.iter().position(|c| c == n))
}

/// The path and label columns of `header`: the ones `given` names, else (not given, or not
/// in this header: a run's test CSV may use the usual names) the first of [`PATH_COLUMNS`] /
/// [`LABEL_COLUMNS`]; each None when not found.
fn columns_of(header: &csv::StringRecord, given: &Columns) -> (Option<usize>, Option<usize>) {
    let named = |name: &Option<String>, names: &[&str]| {
        name.as_ref()
            .and_then(|n| {
                let n = n.trim().to_lowercase();
                header_names(header).iter().position(|c| *c == n)
            })
            .or_else(|| column(header, names))
    };
    (
        named(&given.path, PATH_COLUMNS),
        named(&given.label, LABEL_COLUMNS),
    )
}

/// A labels CSV's reader over its bytes: its separator guessed, rows of any length, fields
/// trimmed.
fn reader(bytes: &[u8]) -> csv::Reader<&[u8]> {
    csv::ReaderBuilder::new()
        .has_headers(true)
        .delimiter(delimiter(bytes))
        .flexible(true)
        .trim(csv::Trim::All)
        .from_reader(bytes)
}

/// The header of a labels CSV as written (a byte-order mark and spaces trimmed), and the
/// columns [`load`] would read as path and label with `given` (None where none matches):
/// what a window's column picker offers.
pub fn header(file: &Path, given: &Columns) -> Result<(Vec<String>, Option<usize>, Option<usize>)> {
    with_header(file, |_, header, _| {
        let (p, l) = columns_of(header, given);
        let names = header.iter().map(|h| as_written(h).to_string()).collect();
        Ok((names, p, l))
    })
}

/// `f` on the bytes of the labels CSV `file` (record positions are offsets in them), its
/// header, and a reader of its rows after it.
fn with_header<T>(
    file: &Path,
    f: impl FnOnce(&[u8], &csv::StringRecord, &mut csv::Reader<&[u8]>) -> Result<T>,
) -> Result<T> {
    let bytes = std::fs::read(file).map_err(|e| Error::io(file, e))?;
    let mut rdr = reader(&bytes);
    let header = rdr
        .headers()
        .map_err(|e| Error::data(file, format!("cannot read the header: {e}")))?
        .clone();
    f(&bytes, &header, &mut rdr)
}

/// The user's own columns of a labels CSV (all but its path and label columns): their
/// names as written and each listed path's values, for the corrected `labels.csv` to carry.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ExtraColumns {
    pub names: Vec<String>,
    /// Per id (as [`normalise_id`] makes it), the values in `names`' order; a path listed
    /// twice keeps its first row's.
    pub values: HashMap<String, Vec<String>>,
}

impl ExtraColumns {
    /// The values of sample `id` in `names`' order (empty for a path the file no longer
    /// lists).
    pub fn row<'a>(&'a self, id: &str) -> impl Iterator<Item = &'a str> {
        let values = self.values.get(id);
        (0..self.names.len()).map(move |k| values.and_then(|v| v.get(k)).map_or("", String::as_str))
    }
}

/// Read the extra columns of the labels CSV `file` (see [`ExtraColumns`]); empty when it has
/// none.
pub fn extra_columns(file: &Path, given: &Columns) -> Result<ExtraColumns> {
    with_header(file, |_, header, rdr| extra_rows(file, header, rdr, given))
}

/// [`extra_columns`] of a file whose `header` was read, from its rows in `rdr`.
fn extra_rows(
    file: &Path,
    header: &csv::StringRecord,
    rdr: &mut csv::Reader<&[u8]>,
    given: &Columns,
) -> Result<ExtraColumns> {
    let (Some(p), l) = columns_of(header, given) else {
        return Ok(ExtraColumns::default());
    };
    let keep: Vec<usize> = (0..header.len())
        .filter(|&c| c != p && Some(c) != l)
        .filter(|&c| !as_written(&header[c]).is_empty())
        .collect();
    if keep.is_empty() {
        return Ok(ExtraColumns::default());
    }
    let names = keep
        .iter()
        .map(|&c| as_written(&header[c]).to_string())
        .collect();
    let mut values = HashMap::new();
    for rec in rdr.records() {
        let rec = rec.map_err(|e| Error::data(file, format!("not a readable CSV: {e}")))?;
        let id = normalise_id(rec.get(p).unwrap_or(""));
        if id.is_empty() {
            continue;
        }
        values.entry(id).or_insert_with(|| {
            keep.iter()
                .map(|&c| rec.get(c).unwrap_or("").to_string())
                .collect()
        });
    }
    Ok(ExtraColumns { names, values })
}

/// The folders the files a labels CSV lists lie in, resolved against the CSV's folder (an
/// absolute or `../` path may leave it), each once: what outputs must stay out of. The path
/// column is found by name; where none is (the run named it), the first column whose first
/// listed file exists. Empty when the file cannot be read.
pub fn listed_folders(file: &Path) -> Vec<PathBuf> {
    let root = csv_folder(file);
    with_header(file, |_, header, rdr| {
        let rows: Vec<csv::StringRecord> = rdr.records().filter_map(|r| r.ok()).collect();
        let path_col = column(header, PATH_COLUMNS).or_else(|| {
            (0..header.len()).find(|&c| {
                rows.iter()
                    .map(|r| normalise_id(r.get(c).unwrap_or("")))
                    .find(|id| !id.is_empty())
                    .is_some_and(|id| root.join(id).is_file())
            })
        });
        let Some(c) = path_col else {
            return Ok(Vec::new());
        };
        Ok(rows
            .iter()
            .map(|r| normalise_id(r.get(c).unwrap_or("")))
            .filter(|id| !id.is_empty())
            .filter_map(|id| root.join(id).parent().map(Path::to_path_buf))
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect())
    })
    .unwrap_or_default()
}

/// One usable row: its id and label, and the line it is on.
struct Row {
    id: String,
    label: String,
    line: u64,
}

/// Read the rows of `file`: the ones to load, and the skipped ones with their reasons.
fn read_rows(file: &Path, root: &Path, given: &Columns) -> Result<(Vec<Row>, Vec<Skipped>)> {
    with_header(file, |bytes, header, rdr| {
        rows_of(file, root, given, bytes, header, rdr)
    })
}

/// [`read_rows`] of a file read as `bytes` whose `header` was read, from its rows in `rdr`.
fn rows_of(
    file: &Path,
    root: &Path,
    given: &Columns,
    bytes: &[u8],
    header: &csv::StringRecord,
    rdr: &mut csv::Reader<&[u8]>,
) -> Result<(Vec<Row>, Vec<Skipped>)> {
    let found = || {
        let cols: Vec<&str> = header.iter().collect();
        if cols.iter().all(|c| c.is_empty()) {
            "the file has no header line".to_string()
        } else {
            format!(
                "its columns are: {} (name the image column with --path-column and the \
                 label column with --label-column; the window asks)",
                cols.join(", ")
            )
        }
    };
    let (path_col, label_col) = columns_of(header, given);
    let missing = |what: &str, name: &Option<String>, names: &[&str]| {
        let wanted = match name {
            Some(n) => format!("no column named {n:?} (nor one of {})", names.join(", ")),
            None => format!("no {what} column (one of {})", names.join(", ")),
        };
        Error::data(file, format!("{wanted}; {}", found()))
    };
    let Some(path_col) = path_col else {
        return Err(missing("path", &given.path, PATH_COLUMNS));
    };
    let Some(label_col) = label_col else {
        return Err(missing("label", &given.label, LABEL_COLUMNS));
    };
    if path_col == label_col {
        return Err(Error::data(
            file,
            format!(
                "the path and label columns are the same column ({}); {}",
                &header[path_col],
                found()
            ),
        ));
    }
    let (mut rows, mut skipped) = (Vec::new(), Vec::new());
    // Each path's first label and the lines it is listed on: a later row with another label
    // makes it an error below, one repeating the first label is skipped.
    let mut listed: HashMap<String, (String, Vec<u64>)> = HashMap::new();
    for rec in rdr.records() {
        let rec = rec.map_err(|e| Error::data(file, format!("not a readable CSV: {e}")))?;
        let line = record_line(bytes, rec.position());
        if rec.iter().all(str::is_empty) {
            continue;
        }
        let id = normalise_id(rec.get(path_col).unwrap_or(""));
        let label = rec.get(label_col).unwrap_or("").to_string();
        let at_line = |reason: &str| Skipped {
            path: file.to_path_buf(),
            reason: format!("line {line}: {reason}"),
        };
        if rec.len() > header.len() {
            skipped.push(at_line(&format!(
                "{} fields where the header has {}: a separator inside an unquoted path or \
                 label? (quote it): not used",
                rec.len(),
                header.len()
            )));
            continue;
        }
        if id.is_empty() {
            skipped.push(at_line("no image path: not used"));
            continue;
        }
        if breaks_lists(Path::new(&id)) {
            skipped.push(at_line(
                "its path holds a newline, carriage return or tab, which would break the \
                 lines of clean.txt and flagged.txt: rename it",
            ));
            continue;
        }
        if label.is_empty() {
            skipped.push(Skipped {
                path: root.join(&id),
                reason: format!(
                    "line {line}: no label (an excluded sample of an exported labels.csv): not used"
                ),
            });
            continue;
        }
        match listed.get_mut(&id) {
            Some((first, lines)) if *first == label => {
                skipped.push(at_line(&format!(
                    "the same file and label as line {}: not used again",
                    lines[0]
                )));
                continue;
            }
            Some((_, lines)) => lines.push(line),
            None => {
                listed.insert(id.clone(), (label.clone(), vec![line]));
            }
        }
        rows.push(Row { id, label, line });
    }
    let mut dups: Vec<(&String, &Vec<u64>)> = listed
        .iter()
        .map(|(id, (_, l))| (id, l))
        .filter(|(_, l)| l.len() > 1)
        .collect();
    if !dups.is_empty() {
        dups.sort_by_key(|(_, l)| l[0]);
        let named: Vec<String> = dups
            .iter()
            .take(DUPLICATES_QUOTED)
            .map(|(id, l)| {
                let l: Vec<String> = l.iter().map(u64::to_string).collect();
                format!("{id} on lines {}", l.join(", "))
            })
            .collect();
        let more = dups.len().saturating_sub(DUPLICATES_QUOTED);
        let more = if more > 0 {
            format!(" and {more} more")
        } else {
            String::new()
        };
        return Err(Error::data(
            file,
            format!(
                "{} listed more than once with different labels: {}{more}",
                crate::plural(dups.len(), "path"),
                named.join("; ")
            ),
        ));
    }
    Ok((rows, skipped))
}

/// Load a labels CSV: every row's image, decoded to one shape as an image folder's are.
/// Rows without a label, and files that are missing or cannot be used, are skipped with their
/// reasons (a row repeating an earlier one's file and label too); an error when the header
/// lacks a path or a label column, when a path is listed with two labels, or when no image
/// loads.
pub fn load(file: &Path, opts: &LoadOptions) -> Result<Dataset> {
    let root = csv_folder(file);
    let (rows, mut skipped) = read_rows(file, &root, &opts.columns)?;
    if rows.is_empty() {
        return Err(Error::data(
            file,
            match skipped.len() {
                0 => "no rows: the file lists no image".to_string(),
                n => format!(
                    "no image to load: {} skipped (no path or no label)",
                    crate::plural(n, "row")
                ),
            },
        ));
    }
    let mut names: Vec<String> = rows
        .iter()
        .map(|r| r.label.clone())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    super::dataset::sort_class_names(&mut names);
    let index: HashMap<&str, usize> = names
        .iter()
        .enumerate()
        .map(|(k, n)| (n.as_str(), k))
        .collect();
    // A file that is not there is named as such, before any decoding.
    let (rows, gone): (Vec<Row>, Vec<Row>) = rows
        .into_iter()
        .partition(|r| std::fs::symlink_metadata(root.join(&r.id)).is_ok());
    skipped.extend(gone.iter().map(|r| Skipped {
        path: root.join(&r.id),
        reason: format!("line {}: no such file", r.line),
    }));
    if rows.is_empty() {
        return Err(no_images(file, &root, &skipped));
    }
    let entries: Vec<Entry> = rows
        .iter()
        .map(|r| Entry {
            rel: PathBuf::from(&r.id),
            class: index.get(r.label.as_str()).copied().unwrap_or(0),
        })
        .collect();
    let line_of: HashMap<PathBuf, u64> = rows.iter().map(|r| (root.join(&r.id), r.line)).collect();
    let first_skip = skipped.len();
    let Decoded {
        shape,
        pixels,
        entries,
        originals,
    } = decode_entries(&root, file, entries, opts, &mut skipped)?;
    // A file's reason says which line listed it.
    for s in &mut skipped[first_skip..] {
        if let Some(l) = line_of.get(&s.path) {
            s.reason = format!("line {l}: {}", s.reason);
        }
    }
    // Classes whose every file was skipped are not classes of the set (as an image folder's
    // class folder without a loadable image).
    let mut used = vec![false; names.len()];
    for e in &entries {
        used[e.class] = true;
    }
    let mut class_of = vec![u32::MAX; names.len()];
    let mut classes = Vec::new();
    for (k, n) in names.iter().enumerate() {
        if used[k] {
            class_of[k] = classes.len() as u32;
            classes.push(n.clone());
        }
    }
    let labels = entries.iter().map(|e| class_of[e.class]).collect();
    let ids = entries
        .iter()
        .map(|e| e.rel.to_string_lossy().into_owned())
        .collect();
    let mut data = Dataset::from_parts(
        Dataset::name_for(file),
        Source::LabelsCsv {
            file: file.to_path_buf(),
        },
        classes,
        shape,
        pixels,
        labels,
        ids,
    )?
    .with_originals(originals)?;
    skipped.sort_by(|a, b| a.path.cmp(&b.path));
    data.skipped = skipped;
    data.columns = opts.columns.clone();
    Ok(data)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_the_paths_as_written_normalised() {
        assert_eq!(normalise_id("./a/b.png"), "a/b.png");
        assert_eq!(normalise_id(" .\\cat\\x.jpg "), "cat/x.jpg");
        assert_eq!(normalise_id("././x.png"), "x.png");
        assert_eq!(normalise_id("/abs/x.png"), "/abs/x.png");
    }

    #[test]
    fn csv_files_by_extension() {
        assert!(is_labels_csv(Path::new("d/labels.CSV")));
        assert!(!is_labels_csv(Path::new("d/labels.txt")));
    }
}
