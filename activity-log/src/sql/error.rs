//! Sorting sqlx errors into transient and permanent, and into the crate's
//! error types, the same way for every SQL store.

use super::Dialect;
use crate::error::{DatabaseError, DatabaseErrorKind};
use crate::query::QueryError;
use crate::{Activity, SinkError};

/// Whether retrying may succeed. Database errors are the dialect's call;
/// I/O, TLS, protocol and pool errors are transient on every store, since
/// a fresh connection may succeed.
pub(crate) fn is_transient<D: Dialect>(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::Database(db) => D::is_transient_code(db.as_ref()),
        sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::Protocol(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed
        | sqlx::Error::BeginFailed => true,
        _ => false,
    }
}

/// Whether `e` says the connection itself broke (e.g. the server restarted
/// while it sat idle in the pool): a read retries on another one
/// ([`retry_broken!`]), since the read pools hand out connections without
/// a test round trip.
pub(crate) fn is_broken_connection(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::Io(_) | sqlx::Error::Tls(_) | sqlx::Error::Protocol(_) | sqlx::Error::WorkerCrashed => true,
        // 08xxx connection exceptions, 57P01..57P03 shutdown (PostgreSQL).
        sqlx::Error::Database(db) => db.code().is_some_and(|c| c.starts_with("08") || c.starts_with("57P")),
        _ => false,
    }
}

/// Awaits `$read` (an expression making a fresh read future) again while
/// it fails on a broken connection, at most once per connection `$pool`
/// may hold plus one: after a server restart every idle connection is
/// dead, and each failed attempt retires one.
macro_rules! retry_broken {
    ($pool:expr, $read:expr) => {{
        let mut attempts = $pool.options().get_max_connections() + 1;
        loop {
            match $read.await {
                Err(e) if attempts > 1 && $crate::sql::error::is_broken_connection(&e) => attempts -= 1,
                other => break other,
            }
        }
    }};
}

pub(crate) use retry_broken;

/// A failed write of `batch`. A permanent error names the record the
/// crate's validation refuses (a record changed after it was built), or
/// the only record of a batch of one, so that the logger quarantines it
/// without bisecting.
pub(crate) fn sink_error<D: Dialect>(e: sqlx::Error, batch: &[Activity]) -> SinkError {
    if is_transient::<D>(&e) {
        return SinkError::transient(format!("{} write failed (will retry): {e}", D::NAME)).with_source(e);
    }
    let error = SinkError::permanent(format!("{} refused the batch: {e}", D::NAME)).with_source(e);
    match batch.iter().position(|a| a.validate().is_err()) {
        Some(i) => error.for_record(i),
        None if batch.len() == 1 => error.for_record(0),
        None => error,
    }
}

/// A failed read or retention call.
pub(crate) fn query_error<D: Dialect>(e: sqlx::Error) -> QueryError {
    let transient = is_transient::<D>(&e);
    QueryError::Store { transient, message: format!("{} failed: {e}", D::NAME), source: Some(Box::new(e)) }
}

/// A failed connect, migration or maintenance call, saying what was being
/// done. Server messages name objects, never bound values.
pub(crate) fn database_error<D: Dialect>(e: sqlx::Error, doing: &str) -> crate::Error {
    let kind = if is_transient::<D>(&e) { DatabaseErrorKind::Unavailable } else { DatabaseErrorKind::Other };
    DatabaseError::new(kind, format!("{} failed while {doing}: {e}", D::NAME)).into()
}

/// Database errors with a given code, as sqlx reports them (SQLite's
/// result code as a decimal string, PostgreSQL's SQLSTATE), for tests.
#[cfg(test)]
pub(crate) mod coded {
    use sqlx::error::{DatabaseError, ErrorKind};
    use std::borrow::Cow;

    #[derive(Debug)]
    struct Coded(String);

    impl std::fmt::Display for Coded {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            write!(f, "database error {}", self.0)
        }
    }

    impl std::error::Error for Coded {}

    impl DatabaseError for Coded {
        fn message(&self) -> &str {
            "the server says no"
        }
        fn code(&self) -> Option<Cow<'_, str>> {
            Some(self.0.as_str().into())
        }
        fn as_error(&self) -> &(dyn std::error::Error + Send + Sync + 'static) {
            self
        }
        fn as_error_mut(&mut self) -> &mut (dyn std::error::Error + Send + Sync + 'static) {
            self
        }
        fn into_error(self: Box<Self>) -> Box<dyn std::error::Error + Send + Sync + 'static> {
            self
        }
        fn kind(&self) -> ErrorKind {
            ErrorKind::Other
        }
    }

    /// A database error with `code`.
    pub(crate) fn error(code: impl ToString) -> sqlx::Error {
        sqlx::Error::Database(Box::new(Coded(code.to_string())))
    }
}
