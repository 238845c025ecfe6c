//! What the epoch-by-epoch examples share (`#[path]`-included, not an example itself): settings
//! from the environment and a training set opened with its test set.

use std::path::PathBuf;

use itlm_inspector::session::{self, DataRequest, EvalInputs, Prepared};

pub type Res<T> = Result<T, Box<dyn std::error::Error>>;

/// The environment variable `name` parsed, or `default` when it is unset.
pub fn env_or<T: std::str::FromStr>(name: &str, default: T) -> Res<T>
where
    T::Err: std::fmt::Display,
{
    match std::env::var(name) {
        Ok(v) => v.parse().map_err(|e| format!("{name}={v}: {e}").into()),
        Err(_) => Ok(default),
    }
}

/// The set at `data` (all of it) with the test set at `test`.
pub fn open(data: &str, test: &str) -> Res<Prepared> {
    Ok(session::prepare(&DataRequest {
        path: PathBuf::from(data),
        eval: EvalInputs {
            test: Some(PathBuf::from(test)),
            ..Default::default()
        },
        ..Default::default()
    })?)
}
