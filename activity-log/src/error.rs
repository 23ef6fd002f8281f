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
}

/// `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
