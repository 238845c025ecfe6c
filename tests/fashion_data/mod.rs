//! Debian's Fashion-MNIST (`dataset-fashion-mnist`) for the tests that use real data: where it
//! is, or a skip that says so, which CI (ITLM_REQUIRE_REAL_DATA=1) turns into a failure.

use std::path::Path;

pub const FASHION: &str = "/usr/share/datasets/fashion-mnist";

/// The Fashion-MNIST directory when its training files are installed. Otherwise the test is
/// skipped with a message, unless ITLM_REQUIRE_REAL_DATA is set: then a missing set fails it.
pub fn fashion_dir() -> Option<&'static Path> {
    let dir = FASHION;
    let p = Path::new(dir);
    if p.join("train-images-idx3-ubyte.gz").is_file() {
        return Some(p);
    }
    assert!(
        std::env::var_os("ITLM_REQUIRE_REAL_DATA").is_none(),
        "ITLM_REQUIRE_REAL_DATA is set and Fashion-MNIST is missing at {dir}: \
         apt-get install -y dataset-fashion-mnist"
    );
    eprintln!(
        "skipped: Fashion-MNIST is missing at {dir} (apt-get install -y dataset-fashion-mnist)"
    );
    None
}
