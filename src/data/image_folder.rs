//! (in progress)
use super::{Dataset, LoadOptions};
use crate::error::{Error, Result};
use std::path::Path;
pub fn load(root: &Path, _opts: &LoadOptions) -> Result<Dataset> {
    Err(Error::data(root, "image folders not yet supported"))
}
