//! Sorting sqlx and PostgreSQL errors into transient and permanent.

use crate::query::QueryError;
use crate::SinkError;

/// Whether a SQLSTATE is worth retrying: the connection broke, the server
/// is shutting down or out of resources, a serialization failure or a
/// deadlock, a lock or statement timeout.
pub(crate) fn is_transient_sqlstate(code: &str) -> bool {
    matches!(
        code,
        "57P01" // admin_shutdown
            | "57P02" // crash_shutdown
            | "57P03" // cannot_connect_now
            | "57014" // query_canceled (statement_timeout)
            | "40001" // serialization_failure
            | "40P01" // deadlock_detected
            | "55P03" // lock_not_available
            | "55006" // object_in_use
    ) || code.starts_with("08") // connection_exception
        || code.starts_with("53") // insufficient_resources: 53300 too_many_connections, disk full, out of memory
}

/// Whether retrying may succeed. Database errors are classified by
/// SQLSTATE (classes 22 data exception, 23 integrity, 42 syntax or access,
/// 54 limits and any other code are permanent); I/O, TLS, protocol and
/// pool errors are transient, since a fresh connection may succeed.
pub(crate) fn is_transient(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::Database(db) => db.code().is_some_and(|c| is_transient_sqlstate(&c)),
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

/// "no partition of relation ... found for row": SQLSTATE 23514 without a
/// constraint name. A CHECK violation has the same SQLSTATE but names its
/// constraint, and retrying it cannot help.
pub(crate) fn is_missing_partition(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::Database(db) => db.code().as_deref() == Some("23514") && db.constraint().is_none(),
        _ => false,
    }
}

pub(crate) fn sink_error(e: sqlx::Error) -> SinkError {
    if is_transient(&e) {
        SinkError::transient(format!("PostgreSQL write failed (will retry on a fresh connection): {e}")).with_source(e)
    } else {
        SinkError::permanent(format!("PostgreSQL refused the batch: {e}")).with_source(e)
    }
}

pub(crate) fn query_error(e: sqlx::Error) -> QueryError {
    let transient = is_transient(&e);
    QueryError::Store { transient, message: format!("PostgreSQL failed: {e}"), source: Some(Box::new(e)) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connection_and_contention_errors_are_transient() {
        for code in ["57P01", "57P02", "57P03", "53300", "53100", "53200", "40001", "40P01", "08006", "08001", "55P03"]
        {
            assert!(is_transient_sqlstate(code), "{code}");
        }
    }

    #[test]
    fn bad_data_and_schema_errors_are_permanent() {
        for code in ["22P05", "22021", "22008", "22P02", "23505", "23514", "42P01", "42703", "42501", "54000", "XX000"]
        {
            assert!(!is_transient_sqlstate(code), "{code}");
        }
    }

    #[test]
    fn io_and_pool_errors_are_transient_decode_errors_permanent() {
        let io = sqlx::Error::Io(std::io::Error::from(std::io::ErrorKind::ConnectionReset));
        assert!(is_transient(&io));
        assert!(is_transient(&sqlx::Error::PoolTimedOut));
        assert!(is_transient(&sqlx::Error::Protocol("unexpected message".into())));
        assert!(!is_transient(&sqlx::Error::RowNotFound));
        assert!(!is_transient(&sqlx::Error::Decode("bad".into())));
        assert!(sink_error(sqlx::Error::PoolTimedOut).is_transient());
        assert!(!sink_error(sqlx::Error::ColumnNotFound("x".into())).is_transient());
        assert!(query_error(sqlx::Error::PoolTimedOut).is_transient());
    }
}
