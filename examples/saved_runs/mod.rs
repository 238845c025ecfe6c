//! What the probes over saved runs share (`mod`-included, not an example itself): the run
//! files named on the command line, each read, one that cannot be read said on stderr and
//! skipped.

use itlm_inspector::export::RunFile;

/// The run files named on the command line, with their paths as given.
pub fn from_args() -> impl Iterator<Item = (String, RunFile)> {
    std::env::args()
        .skip(1)
        .filter_map(|path| match RunFile::read(std::path::Path::new(&path)) {
            Ok(run) => Some((path, run)),
            Err(e) => {
                eprintln!("{path}: {e}");
                None
            }
        })
}
