//! The library's error type: every failure a user can cause gets a clear, specific message.

use std::path::PathBuf;

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The OS error is part of the message, not a separate source: printing the error chain
    /// (`{:#}`) would say it twice.
    #[error("{path}: {error}")]
    Io {
        path: PathBuf,
        error: std::io::Error,
    },
    #[error("{path}: not found")]
    NotFound { path: PathBuf },
    #[error("{path}: {message}")]
    Data { path: PathBuf, message: String },
    #[error("invalid configuration: {0}")]
    Config(String),
    #[error("model error: {0}")]
    Model(String),
    #[error("training diverged in round {round}: {message}")]
    Diverged { round: usize, message: String },
    #[error("cancelled")]
    Cancelled,
    #[error("{0}")]
    Other(String),
}

impl Error {
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        let path = path.into();
        if source.kind() == std::io::ErrorKind::NotFound {
            Error::NotFound { path }
        } else {
            Error::Io {
                path,
                error: source,
            }
        }
    }

    pub fn data(path: impl Into<PathBuf>, message: impl Into<String>) -> Self {
        Error::Data {
            path: path.into(),
            message: message.into(),
        }
    }
}

impl From<candle_core::Error> for Error {
    fn from(e: candle_core::Error) -> Self {
        Error::Model(e.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_io_error_says_its_reason_once() {
        let e = Error::io("afile/sub", std::io::Error::other("Not a directory"));
        assert_eq!(e.to_string(), "afile/sub: Not a directory");
        assert_eq!(
            format!("{:#}", anyhow::Error::from(e)),
            "afile/sub: Not a directory"
        );
    }
}
