//! `export::RunFile::from_bytes` on arbitrary bytes, and on the same bytes as the body of a
//! run file with a valid header (right length and CRC-32) of every version from 2 to the
//! current one, and as a version-1 file (no length, no checksum), so that each version's body
//! decoder (`export::legacy`: versions 1 - 5; postcard: the current one) and the consistency
//! check meet them: without the fixed-up checksum random bytes never pass the CRC to reach
//! them. Never panics; a decoded run exports (CSV and lists, with and without decisions)
//! without panicking and re-encodes stably.
#![no_main]

use std::path::Path;

use itlm_inspector::export::{self, RunFile, RUN_MAGIC, RUN_VERSION};
use itlm_inspector::itlm::{Decision, Decisions};
use libfuzzer_sys::fuzz_target;

fn exercise(run: RunFile) {
    let _ = run.verdict();
    let _ = export::samples_csv(&run);
    let _ = export::clean_list(&run, None);
    let _ = export::flagged_list(&run, None);
    // With decisions: the lists follow them, labels.csv is made from them.
    let mut d = Decisions::new(run.dataset.len());
    let first: Vec<usize> = (0..run.dataset.len().min(2)).collect();
    d.set(&first[..first.len().min(1)], Some(Decision::Exclude));
    d.set(&first[first.len().min(1)..], Some(Decision::Keep));
    let _ = export::clean_list(&run, Some(&d));
    let _ = export::flagged_list(&run, Some(&d));
    let _ = export::labels_csv(&run, &d);
    let bytes = run.to_bytes().expect("a decoded run encodes");
    let again = RunFile::from_bytes(Path::new("fuzz"), &bytes).expect("re-encoded run decodes");
    assert_eq!(again.to_bytes().expect("encodes"), bytes);
}

fuzz_target!(|data: &[u8]| {
    let p = Path::new("fuzz");
    if let Ok(run) = RunFile::from_bytes(p, data) {
        exercise(run);
    }
    // Versions 2 - 5 (earlier builds' bodies) and today's.
    for version in 2..=RUN_VERSION {
        let mut cur = RUN_MAGIC.to_vec();
        cur.extend_from_slice(&version.to_le_bytes());
        cur.extend_from_slice(&(data.len() as u64).to_le_bytes());
        cur.extend_from_slice(&export::checksum(version, data).to_le_bytes());
        cur.extend_from_slice(data);
        if let Ok(run) = RunFile::from_bytes(p, &cur) {
            exercise(run);
        }
    }
    let mut v1 = RUN_MAGIC.to_vec();
    v1.extend_from_slice(&1u32.to_le_bytes());
    v1.extend_from_slice(data);
    if let Ok(run) = RunFile::from_bytes(p, &v1) {
        exercise(run);
    }
});
