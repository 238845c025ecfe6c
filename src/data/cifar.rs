//! (in progress)
use super::Loaded;
use crate::error::{Error, Result};
use std::path::Path;
pub fn is_cifar_dir(_dir: &Path) -> bool {
    false
}
pub fn load_dir(dir: &Path) -> Result<Loaded> {
    Err(Error::data(dir, "CIFAR not yet supported"))
}
