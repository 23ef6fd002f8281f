//! Sorting sqlx errors into transient and permanent.

use crate::query::QueryError;
use crate::SinkError;

/// SQLite primary result codes worth retrying.
const BUSY: i64 = 5;
const LOCKED: i64 = 6;
const NOMEM: i64 = 7;
const IOERR: i64 = 10;
const FULL: i64 = 13;
const CANTOPEN: i64 = 14;
const PROTOCOL: i64 = 15;

/// Whether retrying may succeed: the database is busy or locked, an I/O
/// error, the disk is full, the pool timed out or a connection died.
pub(crate) fn is_transient(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::Database(db) => {
            let code = db.code().and_then(|c| c.parse::<i64>().ok()).unwrap_or(0) & 0xff;
            matches!(code, BUSY | LOCKED | NOMEM | IOERR | FULL | CANTOPEN | PROTOCOL)
        }
        sqlx::Error::Io(_) | sqlx::Error::PoolTimedOut | sqlx::Error::WorkerCrashed | sqlx::Error::Protocol(_) => true,
        _ => false,
    }
}

pub(crate) fn sink_error(e: sqlx::Error) -> SinkError {
    if is_transient(&e) {
        SinkError::transient(format!("SQLite write failed (will retry): {e}")).with_source(e)
    } else {
        SinkError::permanent(format!("SQLite refused the batch: {e}")).with_source(e)
    }
}

pub(crate) fn query_error(e: sqlx::Error) -> QueryError {
    let transient = is_transient(&e);
    QueryError::Store { transient, message: format!("SQLite failed: {e}"), source: Some(Box::new(e)) }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sqlx::error::{DatabaseError, ErrorKind};
    use sqlx::sqlite::SqliteConnectOptions;
    use sqlx::{ConnectOptions, Connection, Executor};
    use std::borrow::Cow;

    /// A database error carrying a SQLite (extended) result code, as sqlx
    /// reports it: the code as a decimal string.
    #[derive(Debug)]
    struct Coded(i64);

    impl std::fmt::Display for Coded {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            write!(f, "sqlite error {}", self.0)
        }
    }

    impl std::error::Error for Coded {}

    impl DatabaseError for Coded {
        fn message(&self) -> &str {
            "coded"
        }
        fn code(&self) -> Option<Cow<'_, str>> {
            Some(self.0.to_string().into())
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

    fn coded(code: i64) -> sqlx::Error {
        sqlx::Error::Database(Box::new(Coded(code)))
    }

    #[test]
    fn busy_locked_io_and_full_are_transient() {
        // BUSY, BUSY_RECOVERY, BUSY_SNAPSHOT, BUSY_TIMEOUT, LOCKED, LOCKED_SHAREDCACHE,
        // NOMEM, IOERR, IOERR_READ, IOERR_FSYNC, FULL, CANTOPEN, PROTOCOL.
        for code in [5, 261, 517, 773, 6, 262, 7, 10, 266, 1034, 13, 14, 15] {
            assert!(is_transient(&coded(code)), "{code}");
            assert!(sink_error(coded(code)).is_transient(), "{code}");
            assert!(query_error(coded(code)).is_transient(), "{code}");
        }
    }

    #[test]
    fn constraint_mismatch_and_syntax_errors_are_permanent() {
        // ERROR, READONLY, CORRUPT, TOOBIG, CONSTRAINT, CONSTRAINT_CHECK,
        // CONSTRAINT_NOTNULL, CONSTRAINT_UNIQUE, MISMATCH, RANGE.
        for code in [1, 8, 11, 18, 19, 275, 1299, 2067, 20, 25] {
            assert!(!is_transient(&coded(code)), "{code}");
            assert!(!sink_error(coded(code)).is_transient(), "{code}");
        }
        assert!(!is_transient(&sqlx::Error::Database(Box::new(Coded(-1)))));
    }

    #[test]
    fn io_and_pool_errors_are_transient_decode_errors_permanent() {
        assert!(is_transient(&sqlx::Error::Io(std::io::Error::from(std::io::ErrorKind::Interrupted))));
        assert!(is_transient(&sqlx::Error::PoolTimedOut));
        assert!(is_transient(&sqlx::Error::WorkerCrashed));
        assert!(!is_transient(&sqlx::Error::RowNotFound));
        assert!(!is_transient(&sqlx::Error::Decode("bad".into())));
        assert!(!is_transient(&sqlx::Error::ColumnNotFound("x".into())));
    }

    /// A real "database is locked" (SQLITE_BUSY, a writer holding the lock
    /// and no busy timeout) is classified as transient.
    #[tokio::test]
    async fn a_real_busy_error_is_transient() {
        let dir = tempfile::tempdir().expect("tempdir");
        let options = SqliteConnectOptions::new()
            .filename(dir.path().join("busy.db"))
            .create_if_missing(true)
            .busy_timeout(std::time::Duration::ZERO);
        let mut holder = options.connect().await.expect("connect");
        holder.execute("CREATE TABLE t (x)").await.expect("create");
        holder.execute("BEGIN IMMEDIATE").await.expect("take the write lock");
        let mut other = options.connect().await.expect("connect");
        let err = other.execute("BEGIN IMMEDIATE").await.expect_err("the lock is held");
        assert!(err.to_string().contains("locked"), "{err}");
        assert!(is_transient(&err), "{err}");
        holder.execute("ROLLBACK").await.expect("rollback");
        let _ = holder.close().await;
        let _ = other.close().await;
    }
}
