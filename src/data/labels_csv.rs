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
use super::image_files::{decode_entries, Decoded, Entry};
use super::image_folder::{breaks_lists, has_image_extension};
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

/// How a labels CSV is read: which columns hold the image paths and the labels, where the
/// header's names are not among [`PATH_COLUMNS`] / [`LABEL_COLUMNS`] (None: found by those
/// names; matched case-insensitively, spaces trimmed), and the folder its paths are relative
/// to (`--images DIR`; None: the CSV's own). A run keeps them, so that it reloads its set.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Columns {
    pub path: Option<String>,
    pub label: Option<String>,
    /// The folder the listed paths are relative to, where it is not the CSV's (a Kaggle
    /// `train.csv` beside `train_images/`); absolute.
    #[serde(default)]
    pub images: Option<PathBuf>,
}

impl Columns {
    /// Whether both columns are found by name (none given).
    pub fn is_auto(&self) -> bool {
        self.path.is_none() && self.label.is_none()
    }

    /// The folder the paths of the labels CSV `file` are relative to: [`Columns::images`],
    /// else the CSV's folder.
    pub fn root(&self, file: &Path) -> PathBuf {
        self.images.clone().unwrap_or_else(|| csv_folder(file))
    }
}

/// File names (their stems, any case) that say nothing of the set: a labels CSV named so is
/// titled after its folder ([`title`]).
const GENERIC_NAMES: &[&str] = &[
    "labels",
    "label",
    "train",
    "training",
    "test",
    "val",
    "valid",
    "validation",
    "data",
    "dataset",
    "annotations",
    "metadata",
    "index",
    "images",
    "samples",
    "all",
    "files",
    "list",
    "classes",
];

/// What a set read from the labels CSV `file` is called (the window's header, the report):
/// its file name, or where that says nothing of the set (`labels.csv`, `train.csv`, ...,
/// [`GENERIC_NAMES`]) its folder's name with the file's (`myset (labels.csv)`).
pub fn title(file: &Path) -> String {
    let name = Dataset::name_for(file);
    let generic = file
        .file_stem()
        .and_then(|s| s.to_str())
        .is_some_and(|s| GENERIC_NAMES.iter().any(|g| g.eq_ignore_ascii_case(s)));
    if !generic {
        return name;
    }
    let folder = csv_folder(file);
    let folder = std::fs::canonicalize(&folder).unwrap_or(folder);
    match folder.file_name() {
        Some(f) => format!("{} ({name})", f.to_string_lossy()),
        None => name,
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
    let root = images_root(file, &opts.columns)?;
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
    // A file that is not there is named as such, before any decoding; an id without its
    // extension is its one image file named so.
    let ids: Vec<&str> = rows.iter().map(|r| r.id.as_str()).collect();
    let found = resolve_files(file, &root, &ids)?;
    let (mut listed, mut gone) = (Vec::new(), Vec::new());
    for (r, f) in rows.into_iter().zip(found) {
        match f {
            Some(rel) => listed.push((r, rel)),
            None => gone.push(r),
        }
    }
    skipped.extend(gone.iter().map(|r| Skipped {
        path: root.join(&r.id),
        reason: format!("line {}: no such file", r.line),
    }));
    if listed.is_empty() {
        return Err(none_there(file, &root, &opts.columns, &gone));
    }
    let entries: Vec<Entry> = listed
        .iter()
        .map(|(r, rel)| Entry {
            rel: rel.clone(),
            class: index.get(r.label.as_str()).copied().unwrap_or(0),
        })
        .collect();
    let line_of: HashMap<PathBuf, u64> = listed
        .iter()
        .map(|(r, rel)| (root.join(rel), r.line))
        .collect();
    let id_of: HashMap<&Path, &str> = listed
        .iter()
        .map(|(r, rel)| (rel.as_path(), r.id.as_str()))
        .collect();
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
    // Ids are the paths as written; the files, where one is not (another folder, an
    // extension added), are kept beside them.
    let ids: Vec<String> = entries
        .iter()
        .map(|e| match id_of.get(e.rel.as_path()) {
            Some(id) => id.to_string(),
            None => e.rel.to_string_lossy().into_owned(),
        })
        .collect();
    let moved = opts.columns.images.is_some();
    let files = (moved
        || entries
            .iter()
            .zip(&ids)
            .any(|(e, id)| e.rel != Path::new(id)))
    .then(|| {
        entries
            .iter()
            .map(|e| root.join(&e.rel))
            .collect::<Vec<_>>()
    });
    let mut data = Dataset::from_parts(
        title(file),
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
    if let Some(files) = files {
        data = data.with_files(files)?;
    }
    skipped.sort_by(|a, b| a.path.cmp(&b.path));
    data.skipped = skipped;
    data.columns = opts.columns.clone();
    Ok(data)
}

/// The folder the paths of `file` are relative to ([`Columns::root`]), absolute where it was
/// given, refused when it is not a folder.
fn images_root(file: &Path, columns: &Columns) -> Result<PathBuf> {
    let Some(images) = &columns.images else {
        return Ok(csv_folder(file));
    };
    if !images.is_dir() {
        return Err(Error::data(
            images,
            "not a folder (--images names the folder the labels CSV's image paths are relative to)",
        ));
    }
    Ok(std::path::absolute(images).unwrap_or_else(|_| images.clone()))
}

/// The folder the labels CSV `file`'s paths were looked for in, read with `columns`, when it
/// lists rows but none of their files is there: the images are elsewhere (a Kaggle
/// train.csv beside train_images/), and a face may ask for their folder
/// ([`Columns::images`]). None when the file cannot be read, lists nothing, or some file is
/// found.
pub fn images_elsewhere(file: &Path, columns: &Columns) -> Option<PathBuf> {
    let root = images_root(file, columns).ok()?;
    let (rows, _) = read_rows(file, &root, columns).ok()?;
    if rows.is_empty() {
        return None;
    }
    let ids: Vec<&str> = rows.iter().map(|r| r.id.as_str()).collect();
    let found = resolve_files(file, &root, &ids).ok()?;
    found.iter().all(Option::is_none).then_some(root)
}

/// The error when none of the files `file` lists is there: where they were looked for, and
/// how to name the folder they are in.
fn none_there(file: &Path, root: &Path, columns: &Columns, gone: &[Row]) -> Error {
    let first = gone.first().map_or_else(String::new, |r| {
        format!(" (first: {}, line {})", root.join(&r.id).display(), r.line)
    });
    let hint = if columns.images.is_some() {
        "check the folder given with --images (the window: \"Where are the images?\")".to_string()
    } else {
        "where the images are in another folder (a Kaggle train.csv beside train_images/), \
         give it with --images DIR (`run`, `check`, `corrupt`; the window asks for it)"
            .to_string()
    };
    Error::data(
        file,
        format!(
            "none of the {} files it lists is there{first}: its paths are read relative to {}; {hint}",
            gone.len(),
            root.display()
        ),
    )
}

/// The file each of `ids` names under `root`, relative to it: the path as written where it is
/// there; else, for a path without an image extension (a Kaggle id, `0a1b2c`), the one image
/// file of its folder named so with one of [`IMAGE_EXTENSIONS`] (`0a1b2c.jpg`; an error
/// naming them where two are); None where there is none. Each folder is listed once.
pub fn resolve_files(file: &Path, root: &Path, ids: &[&str]) -> Result<Vec<Option<PathBuf>>> {
    let mut listings: HashMap<PathBuf, HashMap<std::ffi::OsString, Vec<std::ffi::OsString>>> =
        HashMap::new();
    ids.iter()
        .map(|id| {
            let rel = Path::new(id);
            let p = root.join(rel);
            if std::fs::symlink_metadata(&p).is_ok() {
                return Ok(Some(rel.to_path_buf()));
            }
            if has_image_extension(rel) {
                return Ok(None);
            }
            let (Some(dir), Some(name)) = (p.parent(), p.file_name()) else {
                return Ok(None);
            };
            let listing = listings
                .entry(dir.to_path_buf())
                .or_insert_with(|| by_stem(dir));
            match listing.get(name).map(Vec::as_slice) {
                None | Some([]) => Ok(None),
                Some([one]) => Ok(Some(rel.with_file_name(one))),
                Some(many) => {
                    let names: Vec<String> = many
                        .iter()
                        .map(|n| n.to_string_lossy().into_owned())
                        .collect();
                    Err(Error::data(
                        file,
                        format!(
                            "{id:?} has no extension and names {} files in {}: {}; write the \
                             file name with its extension",
                            many.len(),
                            dir.display(),
                            names.join(", ")
                        ),
                    ))
                }
            }
        })
        .collect()
}

/// The image files of `dir` (by [`has_image_extension`]) by their names without the
/// extension, each name's files sorted; empty when it cannot be read.
fn by_stem(dir: &Path) -> HashMap<std::ffi::OsString, Vec<std::ffi::OsString>> {
    let mut out: HashMap<std::ffi::OsString, Vec<std::ffi::OsString>> = HashMap::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return out;
    };
    for e in entries.flatten() {
        let name = e.file_name();
        let path = Path::new(&name);
        if let (true, Some(stem)) = (has_image_extension(path), path.file_stem()) {
            out.entry(stem.to_os_string())
                .or_default()
                .push(name.clone());
        }
    }
    for v in out.values_mut() {
        v.sort();
    }
    out
}

/// Each of `ids`' file, for a set read from the labels CSV `file` with `columns`: resolved as
/// the loader does ([`resolve_files`]), the path as written where it is not there (or where
/// its id names two files).
pub fn sample_files(file: &Path, columns: &Columns, ids: &[String]) -> Vec<PathBuf> {
    let root = columns.root(file);
    let refs: Vec<&str> = ids.iter().map(String::as_str).collect();
    match resolve_files(file, &root, &refs) {
        Ok(found) => found
            .into_iter()
            .zip(ids)
            .map(|(f, id)| root.join(f.unwrap_or_else(|| PathBuf::from(id))))
            .collect(),
        Err(_) => ids.iter().map(|id| root.join(id)).collect(),
    }
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
    fn a_generic_file_name_is_titled_after_its_folder() {
        let t = tempfile::tempdir().unwrap();
        let set = t.path().join("myset");
        std::fs::create_dir(&set).unwrap();
        assert_eq!(title(&set.join("labels.csv")), "myset (labels.csv)");
        assert_eq!(title(&set.join("Train.CSV")), "myset (Train.CSV)");
        assert_eq!(title(&set.join("cats_vs_dogs.csv")), "cats_vs_dogs.csv");
    }

    #[test]
    fn csv_files_by_extension() {
        assert!(is_labels_csv(Path::new("d/labels.CSV")));
        assert!(!is_labels_csv(Path::new("d/labels.txt")));
    }
}
