//! The crate's error type.

use crate::ValidationError;

/// Why the logger refused or could not finish an operation.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The activity failed validation; nothing was queued.
    #[error(transparent)]
    Invalid(#[from] ValidationError),
    /// The queue was full and the overflow policy dropped the activity (it is
    /// counted in [`Stats::dropped`](crate::Stats::dropped)).
    #[error("the activity queue is full; the activity was dropped (raise `queue_capacity` or use `log().await`)")]
    QueueFull,
    /// The logger was shut down.
    #[error("the activity logger has been shut down")]
    Closed,
    /// [`set_global`](crate::set_global) was called twice.
    #[error("a global activity logger is already installed")]
    GlobalAlreadySet,
    /// No logger is installed globally nor in scope.
    #[error("no activity logger is installed: call `activity_log::set_global` or use `ActivityLogger::scope`")]
    NoLogger,
    /// The builder's options conflict or are incomplete; the message names
    /// them. Nothing was started.
    #[error("invalid activity logger configuration: {0}")]
    Config(String),
    /// Another logger, in this process or another, owns the spill
    /// directory; two owners would corrupt each other's spool.
    #[error("the activity spool {} is in use by another logger{}", dir.display(), match pid { Some(pid) => format!(" (process {pid})"), None => String::new() })]
    SpoolLocked {
        /// The spill directory.
        dir: std::path::PathBuf,
        /// The owner's process id, as it wrote it in the lock file.
        pid: Option<u32>,
    },
    /// The spill directory could not be opened or read.
    #[error("the activity spool {} could not be opened: {reason}", dir.display())]
    Spool {
        /// The spill directory.
        dir: std::path::PathBuf,
        /// What the operating system said.
        reason: String,
    },
}

/// `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
