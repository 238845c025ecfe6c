//! The whole IDX path: `data::idx::load_pair` on an images file and a labels file written to a
//! temp folder (raw or gzip, as the bytes say). Input: u16 LE length of the images file, the
//! images file, the labels file. Never panics; an accepted set is consistent.
#![no_main]

use std::path::PathBuf;
use std::sync::OnceLock;

use itlm_inspector::data::idx;
use libfuzzer_sys::fuzz_target;

fn dir() -> &'static PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let d = std::env::temp_dir().join(format!("itlm-fuzz-idx-{}", std::process::id()));
        std::fs::create_dir_all(&d).expect("temp dir");
        d
    })
}

fuzz_target!(|data: &[u8]| {
    if data.len() < 2 {
        return;
    }
    let split = (u16::from_le_bytes([data[0], data[1]]) as usize).min(data.len() - 2);
    let (images, labels) = data[2..].split_at(split);
    let (ip, lp) = (
        dir().join("train-images-idx3-ubyte"),
        dir().join("train-labels-idx1-ubyte"),
    );
    std::fs::write(&ip, images).expect("write images");
    std::fs::write(&lp, labels).expect("write labels");
    if let Ok(d) = idx::load_pair(&ip, &lp, "fuzz", None) {
        assert!(!d.is_empty());
        assert!(d.num_classes() >= 2);
        assert_eq!(d.labels().len(), d.len());
        assert_eq!(d.ids().len(), d.len());
        assert!(d.labels().iter().all(|&l| (l as usize) < d.num_classes()));
        assert_eq!(d.shape.channels, 1);
    }
});
