//! Core errors. Every error about a file names the file, and the line for text inputs.

use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{}: {source}", file.display())]
    Io {
        file: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{}: line {line}: {reason}", file.display())]
    Parse {
        file: PathBuf,
        line: usize,
        reason: String,
    },
    #[error("{}: {reason}", file.display())]
    Invalid { file: PathBuf, reason: String },
    #[error("{0}")]
    Other(String),
    #[error("cancelled")]
    Cancelled,
}

impl Error {
    pub fn io(file: &Path, source: std::io::Error) -> Self {
        Error::Io {
            file: file.to_path_buf(),
            source,
        }
    }
    pub fn invalid(file: &Path, reason: impl Into<String>) -> Self {
        Error::Invalid {
            file: file.to_path_buf(),
            reason: reason.into(),
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
