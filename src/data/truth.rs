//! Ground truth `truth.csv` (`path,true_label[,kind]`): used only to score a run, never to train.

use std::path::Path;

use super::Dataset;
use crate::error::{Error, Result};

/// Kinds of samples a truth file names.
pub const KINDS: [&str; 5] = ["clean", "random", "systematic", "backdoor", "spurious"];

/// One row of a truth file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TruthRow {
    pub path: String,
    pub true_label: String,
    pub kind: Option<String>,
}

/// Parse truth CSV text. A first row starting with `path` is a header. Rows with the wrong
/// number of fields or an unknown kind, and two rows that say different things of one path,
/// are errors (with their line numbers).
pub fn parse(text: &str) -> std::result::Result<Vec<TruthRow>, String> {
    let mut first: std::collections::HashMap<String, (usize, usize)> = Default::default();
    let mut rdr = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .trim(csv::Trim::All)
        .from_reader(text.as_bytes());
    let mut rows: Vec<TruthRow> = Vec::new();
    for (line, rec) in rdr.records().enumerate() {
        let rec = rec.map_err(|e| format!("line {}: {e}", line + 1))?;
        if rec.iter().all(|f| f.is_empty()) {
            continue;
        }
        if line == 0 && rec.get(0) == Some("path") {
            continue;
        }
        if rec.len() < 2 || rec.len() > 3 {
            return Err(format!(
                "line {}: expected path,true_label[,kind], got {} fields",
                line + 1,
                rec.len()
            ));
        }
        let kind = rec
            .get(2)
            .filter(|k| !k.is_empty())
            .map(|k| k.to_lowercase());
        if let Some(k) = &kind {
            if !KINDS.contains(&k.as_str()) {
                return Err(format!(
                    "line {}: unknown kind '{k}' (expected one of {})",
                    line + 1,
                    KINDS.join(", ")
                ));
            }
        }
        let row = TruthRow {
            path: rec[0].to_string(),
            true_label: rec[1].to_string(),
            kind,
        };
        let key = path_key(&row.path);
        match first.get(&key) {
            Some(&(l, j))
                if (&rows[j].true_label, &rows[j].kind) != (&row.true_label, &row.kind) =>
            {
                return Err(format!(
                    "lines {l} and {}: two rows for {} that differ ({},{} and {},{})",
                    line + 1,
                    row.path,
                    rows[j].true_label,
                    rows[j].kind.as_deref().unwrap_or(""),
                    row.true_label,
                    row.kind.as_deref().unwrap_or("")
                ));
            }
            Some(_) => continue,
            None => {
                first.insert(key, (line + 1, rows.len()));
            }
        }
        rows.push(row);
    }
    Ok(rows)
}

/// Truth matched to a dataset, with what did not match.
#[derive(Clone, Debug, Default)]
pub struct Resolved {
    pub info: TruthInfo,
    /// Rows whose path is not a sample of the dataset.
    pub unknown_paths: usize,
    /// Rows whose true label is not a class of the dataset (ignored).
    pub unknown_labels: usize,
    /// The first few distinct unknown labels, as written.
    pub unknown_label_examples: Vec<String>,
    /// Samples without a row (counted as clean).
    pub missing: usize,
}

impl Resolved {
    /// Human summary of what did not match, if anything.
    pub fn warnings(&self) -> Option<String> {
        let mut w = Vec::new();
        if self.unknown_paths > 0 {
            w.push(format!(
                "{} rows name files not in the dataset",
                self.unknown_paths
            ));
        }
        if self.unknown_labels > 0 {
            w.push(format!(
                "{} rows name unknown classes ({})",
                self.unknown_labels,
                self.quoted_unknown_labels()
            ));
        }
        if self.missing > 0 {
            w.push(format!(
                "{} samples have no row (counted clean)",
                self.missing
            ));
        }
        (!w.is_empty()).then(|| w.join("; "))
    }

    /// "'99', '-1'": the unknown labels seen, quoted, with "..." when there were more.
    fn quoted_unknown_labels(&self) -> String {
        let mut q: Vec<String> = self
            .unknown_label_examples
            .iter()
            .map(|l| format!("'{l}'"))
            .collect();
        if self.unknown_label_examples.len() == UNKNOWN_LABEL_EXAMPLES {
            q.push("...".into());
        }
        q.join(", ")
    }
}

/// How many distinct unknown labels [`Resolved`] keeps to name.
const UNKNOWN_LABEL_EXAMPLES: usize = 4;

/// A row's path as samples are keyed: forward slashes, no leading `./`.
pub fn path_key(path: &str) -> String {
    path.replace('\\', "/").trim_start_matches("./").to_string()
}

/// The kinds whose corruption is the label alone (`corrupt`'s label flips): a sample of one
/// whose given label is its true label again (the user relabelled it, and the set was exported
/// with the fix) is clean now. A backdoor's stamp or a spurious image stays whatever its label.
pub const LABEL_FLIP_KINDS: [&str; 2] = ["random", "systematic"];

/// Match rows to a dataset's samples. A sample is bad when its kind is not `clean`, or, without
/// a kind, when its true label differs from the given one; a label flip
/// ([`LABEL_FLIP_KINDS`]) whose given label is its true label is clean, its kind kept (the
/// corruption it had: a fixed flip, not a clean sample the truth names wrongly).
pub fn resolve(rows: &[TruthRow], data: &Dataset) -> Resolved {
    let n = data.len();
    let index = data.index_of_ids();
    let mut r = Resolved {
        info: TruthInfo {
            bad: vec![false; n],
            true_label: vec![None; n],
            kind: vec![String::new(); n],
        },
        ..Default::default()
    };
    let mut seen = vec![false; n];
    for row in rows {
        let Some(&i) = index.get(path_key(&row.path).as_str()) else {
            r.unknown_paths += 1;
            continue;
        };
        let label = data
            .classes
            .iter()
            .position(|c| *c == row.true_label)
            .or_else(|| {
                row.true_label
                    .parse::<usize>()
                    .ok()
                    .filter(|&c| c < data.num_classes())
            });
        // A bad kind whose true class the set does not have (a spurious image's origin):
        // bad, with no true label among the set's classes.
        let outside = row.kind.as_deref().filter(|k| *k != "clean");
        if let (None, Some(kind)) = (label, outside) {
            seen[i] = true;
            r.info.bad[i] = true;
            r.info.kind[i] = kind.to_string();
            continue;
        }
        let Some(label) = label else {
            r.unknown_labels += 1;
            let known = r.unknown_label_examples.contains(&row.true_label);
            if !known && r.unknown_label_examples.len() < UNKNOWN_LABEL_EXAMPLES {
                r.unknown_label_examples.push(row.true_label.clone());
            }
            continue;
        };
        seen[i] = true;
        r.info.true_label[i] = Some(label as u32);
        let kind = row.kind.clone().unwrap_or_else(|| {
            if label as u32 == data.label(i) {
                "clean".into()
            } else {
                "random".into()
            }
        });
        let fixed = label as u32 == data.label(i) && LABEL_FLIP_KINDS.contains(&kind.as_str());
        r.info.bad[i] = kind != "clean" && !fixed;
        r.info.kind[i] = kind;
    }
    r.missing = seen.iter().filter(|&&s| !s).count();
    for (i, s) in seen.iter().enumerate() {
        if !s {
            r.info.kind[i] = "clean".into();
        }
    }
    r
}

/// Why `bytes` are not text this reader can take: UTF-16 (a byte-order mark, or NUL bytes in
/// every other position, as ASCII in UTF-16 has) or other NUL bytes (a binary file).
fn not_utf8_text(bytes: &[u8]) -> Option<&'static str> {
    let utf16 = "is UTF-16 text: save it as UTF-8 (path,true_label[,kind])";
    if bytes.starts_with(&[0xff, 0xfe]) || bytes.starts_with(&[0xfe, 0xff]) {
        return Some(utf16);
    }
    if !bytes.contains(&0) {
        return None;
    }
    let pairs = bytes.len() / 2;
    let nul_at = |parity: usize| {
        bytes
            .chunks_exact(2)
            .filter(|p| p[parity] == 0 && p[1 - parity] != 0)
            .count()
    };
    if pairs > 0 && nul_at(0).max(nul_at(1)) * 2 >= pairs {
        Some(utf16)
    } else {
        Some("holds NUL bytes: not a CSV text file (save it as UTF-8)")
    }
}

/// Read and parse the truth file `path`: UTF-8 (a byte-order mark is skipped; other invalid
/// sequences are read lossily); UTF-16 and binary files are refused with what to do.
pub fn read(path: &Path) -> Result<Vec<TruthRow>> {
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    if let Some(m) = not_utf8_text(&bytes) {
        return Err(Error::data(path, m));
    }
    let bytes = bytes.strip_prefix(&[0xef, 0xbb, 0xbf]).unwrap_or(&bytes);
    let text = String::from_utf8_lossy(bytes);
    parse(&text).map_err(|m| Error::data(path, m))
}

/// Read `path` and match it to `data`. Fails when no row matches any sample.
pub fn load_for(path: &Path, data: &Dataset) -> Result<Resolved> {
    let mut rows = read(path)?;
    let mut r = resolve(&rows, data);
    // A truth file above the dataset folder (DIR/truth.csv naming train/<class>/<file> for
    // the set DIR/train): its paths are relative to its own folder.
    if r.missing == data.len() && !data.is_empty() {
        if let Some(prefix) = prefix_to_data(path, data) {
            let strip = format!("{prefix}/");
            let moved: Vec<TruthRow> = rows
                .iter()
                .filter_map(|row| {
                    let key = path_key(&row.path);
                    key.strip_prefix(&strip).map(|rest| TruthRow {
                        path: rest.to_string(),
                        ..row.clone()
                    })
                })
                .collect();
            let again = resolve(&moved, data);
            if again.missing < data.len() {
                // The rows outside the dataset folder name files not in it.
                r = Resolved {
                    unknown_paths: again.unknown_paths + rows.len() - moved.len(),
                    ..again
                };
                rows = moved;
            }
        }
    }
    if r.missing == data.len() && !data.is_empty() && r.unknown_labels > 0 {
        // The paths matched; the labels did not.
        let k = data.num_classes();
        let mut names: Vec<&str> = data.classes.iter().take(10).map(String::as_str).collect();
        if k > 10 {
            names.push("...");
        }
        return Err(Error::data(
            path,
            format!(
                "none of its {} rows gives a true label that is a class of the dataset: {} \
                 (classes are {}, or their indices 0 to {})",
                rows.len(),
                r.quoted_unknown_labels(),
                names.join(", "),
                k.saturating_sub(1)
            ),
        ));
    }
    if r.missing == data.len() && !data.is_empty() {
        return Err(Error::data(
            path,
            format!(
                "none of its {} rows matches a sample of the dataset (paths must be relative to the dataset folder, e.g. '{}', or to the truth file's folder when it lies above it)",
                rows.len(),
                data.ids().first().map(|s| s.as_str()).unwrap_or("")
            ),
        ));
    }
    Ok(r)
}

/// The dataset folder relative to the truth file's folder ('/'-separated), when the file lies
/// above it.
fn prefix_to_data(truth: &Path, data: &Dataset) -> Option<String> {
    let root = std::fs::canonicalize(data.source.files_root()?).ok()?;
    let dir = std::fs::canonicalize(truth.parent()?).ok()?;
    let rel = root.strip_prefix(&dir).ok()?;
    let parts: Vec<String> = rel
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    (!parts.is_empty()).then(|| parts.join("/"))
}

/// Write truth rows as CSV text with a header.
pub fn to_csv(rows: &[TruthRow]) -> String {
    let mut w = csv::Writer::from_writer(Vec::new());
    let _ = w.write_record(["path", "true_label", "kind"]);
    for r in rows {
        let _ = w.write_record([
            r.path.as_str(),
            r.true_label.as_str(),
            r.kind.as_deref().unwrap_or(""),
        ]);
    }
    String::from_utf8(w.into_inner().unwrap_or_default()).unwrap_or_default()
}

/// Ground truth as stored with a run (scoring only).
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct TruthInfo {
    /// Truly bad samples.
    pub bad: Vec<bool>,
    /// True label per sample, when the truth file names it.
    pub true_label: Vec<Option<u32>>,
    /// Kind per sample: clean, random, systematic, backdoor, spurious.
    pub kind: Vec<String>,
}

impl TruthInfo {
    /// Which samples are bad for a run that trains with `trained` labels where the set gives
    /// `given` (the user's relabels): a sample relabelled to its true label is clean, one
    /// relabelled to another label is bad. A sample not relabelled, or whose truth names no
    /// true label (a spurious image), keeps its flag.
    pub fn bad_as_trained(&self, given: &[u32], trained: &[u32]) -> Vec<bool> {
        self.bad
            .iter()
            .enumerate()
            .map(|(i, &bad)| {
                let truth = self.true_label.get(i).copied().flatten();
                match (given.get(i), trained.get(i), truth) {
                    (Some(g), Some(t), Some(truth)) if g != t => *t != truth,
                    _ => bad,
                }
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::{ImageShape, Source};

    fn data() -> Dataset {
        Dataset::from_parts(
            "t",
            Source::Memory,
            vec!["cat".into(), "dog".into()],
            ImageShape::new(1, 1, 1),
            vec![0; 4],
            vec![0, 1, 1, 0],
            ["cat/a.png", "dog/b.png", "dog/c.png", "cat/d.png"]
                .map(String::from)
                .to_vec(),
        )
        .unwrap()
    }

    #[test]
    fn rows_that_disagree_about_a_path_are_refused() {
        let text =
            "path,true_label,kind\ncat/a.png,cat,clean\ndog/b.png,dog\n./cat/a.png,dog,random\n";
        assert_eq!(
            parse(text).unwrap_err(),
            "lines 2 and 4: two rows for ./cat/a.png that differ (cat,clean and dog,random)"
        );
        // The same row twice says nothing new: one row.
        let text = "cat/a.png,cat,clean\ncat/a.png,cat,clean\n";
        assert_eq!(parse(text).unwrap().len(), 1);
    }

    #[test]
    fn a_sample_relabelled_to_its_true_label_is_no_longer_bad() {
        let t = TruthInfo {
            bad: vec![true, true, false, true, true],
            true_label: vec![Some(0), Some(0), Some(1), None, Some(1)],
            kind: Vec::new(),
        };
        let given = [1, 1, 1, 0, 0];
        // Fixed; relabelled to another wrong class; a clean one relabelled wrongly; a spurious
        // image relabelled (still bad); one left as given.
        let trained = [0, 2, 0, 1, 0];
        assert_eq!(
            t.bad_as_trained(&given, &trained),
            vec![false, true, true, true, true]
        );
        // Without relabels nothing moves, nor where the truth names no true labels.
        assert_eq!(t.bad_as_trained(&given, &given), t.bad);
        let bare = TruthInfo {
            true_label: Vec::new(),
            ..t.clone()
        };
        assert_eq!(bare.bad_as_trained(&given, &trained), t.bad);
    }

    #[test]
    fn parse_and_resolve() {
        let text = "path,true_label,kind\ncat/a.png,cat,clean\ndog/b.png,cat,systematic\n\"dog/c.png\",dog\nzzz.png,dog,clean\ncat/d.png,bird,clean\n";
        let rows = parse(text).unwrap();
        assert_eq!(rows.len(), 5);
        let r = resolve(&rows, &data());
        assert_eq!(r.info.bad, vec![false, true, false, false]);
        assert_eq!(r.info.true_label, vec![Some(0), Some(0), Some(1), None]);
        assert_eq!((r.unknown_paths, r.unknown_labels, r.missing), (1, 1, 1));
        assert!(r
            .warnings()
            .unwrap()
            .contains("1 rows name files not in the dataset"));
    }

    #[test]
    fn kindless_rows_compare_labels() {
        let rows = parse("cat/a.png,dog\ndog/b.png,1").unwrap();
        let r = resolve(&rows, &data());
        assert_eq!(r.info.bad[..2], [true, false]);
    }

    #[test]
    fn errors() {
        assert!(parse("a,b,c,d").unwrap_err().contains("line 1"));
        assert!(parse("a,b,weird").unwrap_err().contains("unknown kind"));
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("truth.csv");
        std::fs::write(&p, "x.png,cat\n").unwrap();
        assert!(load_for(&p, &data())
            .unwrap_err()
            .to_string()
            .contains("none of its 1 rows"));
    }

    /// Rows whose paths match but whose labels are no class (99, -1) are not told that their
    /// paths must be relative; the labels they give are named.
    #[test]
    fn unknown_labels_are_named_not_blamed_on_the_paths() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("truth.csv");
        std::fs::write(
            &p,
            "path,true_label\ncat/a.png,99\ndog/b.png,-1\ndog/c.png,99\n",
        )
        .unwrap();
        let e = load_for(&p, &data()).unwrap_err().to_string();
        assert!(!e.contains("paths must be relative"), "{e}");
        assert!(
            e.ends_with(
                "none of its 3 rows gives a true label that is a class of the dataset: '99', '-1' \
                 (classes are cat, dog, or their indices 0 to 1)"
            ),
            "{e}"
        );
        // Some rows with unknown labels: the warning names them.
        std::fs::write(&p, "cat/a.png,cat\ndog/b.png,99\ndog/c.png,-1\n").unwrap();
        let r = load_for(&p, &data()).unwrap();
        assert_eq!(
            r.warnings().unwrap(),
            "2 rows name unknown classes ('99', '-1'); 3 samples have no row (counted clean)"
        );
    }

    /// A truth.csv saved as UTF-16 (Windows' "Unicode") is refused with what to do, and no NUL
    /// characters reach the message; a UTF-8 byte-order mark (Excel's "CSV UTF-8") is skipped.
    #[test]
    fn utf16_is_refused_with_advice_and_a_utf8_bom_is_skipped() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("truth.csv");
        let text = "path,true_label\ncat/a.png,dog\n";
        let le: Vec<u8> = [0xff, 0xfe]
            .into_iter()
            .chain(text.encode_utf16().flat_map(|u| u.to_le_bytes()))
            .collect();
        let be: Vec<u8> = [0xfe, 0xff]
            .into_iter()
            .chain(text.encode_utf16().flat_map(|u| u.to_be_bytes()))
            .collect();
        let no_bom: Vec<u8> = text.encode_utf16().flat_map(|u| u.to_le_bytes()).collect();
        for bytes in [le, be, no_bom] {
            std::fs::write(&p, bytes).unwrap();
            let e = load_for(&p, &data()).unwrap_err().to_string();
            assert!(!e.contains('\0'), "{e:?}");
            assert!(
                e.ends_with("is UTF-16 text: save it as UTF-8 (path,true_label[,kind])"),
                "{e}"
            );
        }
        std::fs::write(&p, b"cat/a.png,cat\0\0\0\n").unwrap();
        let e = load_for(&p, &data()).unwrap_err().to_string();
        assert!(
            e.ends_with("holds NUL bytes: not a CSV text file (save it as UTF-8)"),
            "{e:?}"
        );
        let mut bom = vec![0xef, 0xbb, 0xbf];
        bom.extend_from_slice(b"path,true_label,kind\ncat/a.png,dog,random\n");
        std::fs::write(&p, bom).unwrap();
        let r = load_for(&p, &data()).unwrap();
        assert_eq!(r.info.bad, vec![true, false, false, false]);
    }

    #[test]
    fn roundtrip() {
        let rows = vec![TruthRow {
            path: "a,b.png".into(),
            true_label: "cat".into(),
            kind: Some("random".into()),
        }];
        assert_eq!(parse(&to_csv(&rows)).unwrap(), rows);
    }
}
