//! Connecting, bounded and explained: one direct connection attempt under
//! a timeout (no retrying a refused connection until a pool gives up), and
//! errors that name the server (host and port, or socket) and the cause,
//! never the password.

use super::dialect::is_transient_sqlstate;
use crate::error::{DatabaseError, DatabaseErrorKind};
use sqlx::postgres::PgConnectOptions;
use sqlx::{ConnectOptions, Connection};
use std::io::ErrorKind;
use std::time::Duration;

/// Where `options` connect to: `host:port`, or the socket path.
pub(crate) fn endpoint(options: &PgConnectOptions) -> String {
    match options.get_socket() {
        Some(socket) => format!("socket {}", socket.display()),
        None => format!("{}:{}", options.get_host(), options.get_port()),
    }
}

/// Opens one connection to check that the server takes connections, then
/// closes it; fails within `timeout`, at once when the connection is
/// refused.
pub(crate) async fn probe(options: &PgConnectOptions, timeout: Duration) -> Result<(), DatabaseError> {
    match tokio::time::timeout(timeout, options.connect()).await {
        Ok(Ok(conn)) => {
            // A failed goodbye changes nothing: the server took the connection.
            let _ = conn.close().await;
            Ok(())
        }
        Ok(Err(e)) => Err(describe(options, &e)),
        Err(_) => Err(timed_out(options, timeout)),
    }
}

/// Connecting took longer than `timeout`.
pub(crate) fn timed_out(options: &PgConnectOptions, timeout: Duration) -> DatabaseError {
    DatabaseError::new(
        DatabaseErrorKind::TimedOut,
        format!(
            "connecting to PostgreSQL at {} timed out after {timeout:?}: is the host reachable and the port right?",
            endpoint(options)
        ),
    )
}

/// What went wrong connecting with `options`, in words a user can act on.
pub(crate) fn describe(options: &PgConnectOptions, e: &sqlx::Error) -> DatabaseError {
    use DatabaseErrorKind::*;
    let at = endpoint(options);
    let (kind, message) = match e {
        sqlx::Error::Io(io) if io.kind() == ErrorKind::ConnectionRefused => {
            (Refused, format!("PostgreSQL at {at} refused the connection: is the server running and listening there?"))
        }
        sqlx::Error::Io(io) if io.kind() == ErrorKind::TimedOut => {
            (TimedOut, format!("connecting to PostgreSQL at {at} timed out: {io}"))
        }
        sqlx::Error::Io(io) => (Unavailable, format!("could not reach PostgreSQL at {at}: {io}")),
        sqlx::Error::PoolTimedOut => {
            (TimedOut, format!("no connection to PostgreSQL at {at} within the acquire timeout"))
        }
        sqlx::Error::Database(db) => match db.code().as_deref() {
            Some("28P01" | "28000") => (
                Authentication,
                format!(
                    "PostgreSQL at {at} rejected the credentials of user `{}` (check the user and password)",
                    options.get_username()
                ),
            ),
            Some("3D000") => (
                UnknownDatabase,
                format!(
                    "database `{}` does not exist on PostgreSQL at {at} (create it, or fix the URL)",
                    options.get_database().unwrap_or_default()
                ),
            ),
            Some(code) if is_transient_sqlstate(code) => {
                (Unavailable, format!("PostgreSQL at {at} cannot take connections now: {}", db.message()))
            }
            _ => (Other, format!("PostgreSQL at {at} refused the session: {}", db.message())),
        },
        sqlx::Error::Tls(tls) => (Unavailable, format!("TLS with PostgreSQL at {at} failed: {tls}")),
        other => (Other, format!("connecting to PostgreSQL at {at} failed: {other}")),
    };
    DatabaseError::new(kind, message)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::str::FromStr;

    fn server(sqlstate: &str) -> sqlx::Error {
        crate::sql::error::coded::error(sqlstate)
    }

    fn options() -> PgConnectOptions {
        PgConnectOptions::from_str("postgres://app:hunter2-secret@db.internal:6543/audit").expect("a valid URL")
    }

    fn described(e: sqlx::Error) -> DatabaseError {
        let d = describe(&options(), &e);
        assert!(d.message().contains("db.internal:6543"), "{d}");
        assert!(!d.message().contains("hunter2-secret"), "{d}");
        d
    }

    #[test]
    fn each_cause_is_named_with_the_server_and_never_the_password() {
        let refused = described(sqlx::Error::Io(std::io::ErrorKind::ConnectionRefused.into()));
        assert_eq!(refused.kind(), DatabaseErrorKind::Refused);
        let auth = described(server("28P01"));
        assert_eq!(auth.kind(), DatabaseErrorKind::Authentication);
        assert!(auth.message().contains("`app`"), "{auth}");
        let unknown = described(server("3D000"));
        assert_eq!(unknown.kind(), DatabaseErrorKind::UnknownDatabase);
        assert!(unknown.message().contains("`audit`"), "{unknown}");
        let busy = described(server("53300"));
        assert_eq!(busy.kind(), DatabaseErrorKind::Unavailable);
        assert!(busy.is_transient());
        let timed_out = timed_out(&options(), Duration::from_millis(250));
        assert_eq!(timed_out.kind(), DatabaseErrorKind::TimedOut);
        assert!(timed_out.message().contains("db.internal:6543") && timed_out.message().contains("250ms"));
        let other = described(server("42501"));
        assert_eq!(other.kind(), DatabaseErrorKind::Other);
        assert!(!other.is_transient());
    }
}
