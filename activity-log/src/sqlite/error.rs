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
