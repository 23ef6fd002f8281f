//! The crate's error type.

use crate::ValidationError;

/// Why the logger refused or could not finish an operation, or a store
/// could not be opened.
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
    /// A store could not be opened or prepared: connecting, migrating the
    /// schema, creating partitions.
    #[error(transparent)]
    Database(#[from] DatabaseError),
}

/// `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What kind of failure a [`DatabaseError`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum DatabaseErrorKind {
    /// The URL or the options are not valid.
    InvalidOptions,
    /// The server refused the TCP connection (nothing listens there).
    Refused,
    /// Connecting did not finish within the connect timeout.
    TimedOut,
    /// The server rejected the credentials.
    Authentication,
    /// The database named in the URL does not exist.
    UnknownDatabase,
    /// The database is busy, locked, shutting down or unreachable for now:
    /// trying again later may succeed.
    Unavailable,
    /// The schema is newer than this version of the crate knows.
    Schema,
    /// Anything else (a refused statement, missing privileges, a file that
    /// is not a database).
    Other,
}

/// Opening or preparing a store failed. The message says what failed and
/// where (host and port, or the file), never a password or a bound value.
///
/// ```
/// use activity_log::Error;
///
/// /// Whether to try opening the store again in a moment.
/// fn worth_retrying(err: &Error) -> bool {
///     matches!(err, Error::Database(db) if db.is_transient())
/// }
/// # assert!(!worth_retrying(&Error::Closed));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct DatabaseError {
    kind: DatabaseErrorKind,
    message: String,
}

impl DatabaseError {
    #[cfg_attr(not(any(feature = "sqlite", feature = "postgres")), allow(dead_code))]
    pub(crate) fn new(kind: DatabaseErrorKind, message: impl Into<String>) -> Self {
        Self { kind, message: message.into() }
    }

    /// What kind of failure this is.
    pub fn kind(&self) -> DatabaseErrorKind {
        self.kind
    }

    /// Whether trying again later may succeed (the server is down, busy or
    /// slow to answer).
    pub fn is_transient(&self) -> bool {
        matches!(self.kind, DatabaseErrorKind::Refused | DatabaseErrorKind::TimedOut | DatabaseErrorKind::Unavailable)
    }

    /// The message (the same as `Display`).
    pub fn message(&self) -> &str {
        &self.message
    }
}
