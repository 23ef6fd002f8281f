//! What SQLite does differently: times as microseconds and ids as 16
//! bytes, `IN (...)` lists, `json_each` for metadata, `instr` for search,
//! a gate row for retention, `BEGIN IMMEDIATE` as the migration lock, and
//! SQLite's result codes.

use crate::query::MetadataValue;
use crate::sql::{Dialect, Migration};
use chrono::{DateTime, Utc};
use sqlx::error::DatabaseError;
use sqlx::sqlite::SqliteRow;
use sqlx::{QueryBuilder, Row, Sqlite};
use uuid::Uuid;

/// SQLite primary result codes worth retrying.
const BUSY: i64 = 5;
const LOCKED: i64 = 6;
const NOMEM: i64 = 7;
const IOERR: i64 = 10;
const FULL: i64 = 13;
const CANTOPEN: i64 = 14;
const PROTOCOL: i64 = 15;

/// The primary result code of a SQLite error (sqlx reports the extended
/// code as a decimal string).
pub(crate) fn primary_code(e: &dyn DatabaseError) -> i64 {
    e.code().and_then(|c| c.parse::<i64>().ok()).unwrap_or(0) & 0xff
}

/// Whether `e` is "database is busy" or "locked": another connection holds
/// a lock the busy timeout did not wait for.
pub(crate) fn is_busy(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(db) if matches!(primary_code(db.as_ref()), BUSY | LOCKED))
}

/// Every migration, oldest first. Never edit a shipped one: add the next.
const MIGRATIONS: &[Migration] = &[
    Migration::new(
        1,
        "activities table, indexes, append-only triggers",
        include_str!("../../migrations/sqlite/0001_activities.sql"),
    ),
    Migration::new(
        2,
        "per-tenant hash chain: chain columns, chain heads and retention cuts",
        include_str!("../../migrations/sqlite/0002_chain.sql"),
    ),
];

/// The newest SQLite schema version this crate knows.
pub const SCHEMA_VERSION: i64 = crate::sql::migrate::newest(MIGRATIONS);

/// SQLite, for the shared SQL layer.
#[derive(Debug)]
pub(crate) struct SqliteDialect;

impl Dialect for SqliteDialect {
    type Db = Sqlite;

    const NAME: &'static str = "SQLite";
    const COLUMNS: &'static str = crate::sql::write::COLUMNS;
    const BEGIN_SNAPSHOT: &'static str = "BEGIN";
    const PERSISTENT_READS: bool = true;
    // Verification's reader of chain rows runs on the calling task: a
    // window of this many positions holds it for some tens of
    // milliseconds, then other tasks run.
    const VERIFY_WINDOW: i64 = 16_384;

    const MIGRATIONS: &'static [Migration] = MIGRATIONS;
    const MIGRATIONS_TABLE: &'static str = include_str!("../../migrations/sqlite/migrations_table.sql");
    // Takes the database's write lock: a second process waits (busy
    // timeout), then finds the migrations applied.
    const BEGIN_WRITE: &'static str = "BEGIN IMMEDIATE";
    const MIGRATION_LOCK: Option<&'static str> = None;

    const MAX_BIND_VARIABLES: usize = super::write::MAX_VARIABLES;

    // BEGIN IMMEDIATE took the database's write lock.
    const LOCK_ROWS: &'static str = "";

    // The gate is a row: opened and closed inside the deleting
    // transaction, so no other connection ever sees it open.
    const OPEN_RETENTION: &'static str = "UPDATE activity_retention_gate SET open = 1 WHERE id = 1";
    const CLOSE_RETENTION: Option<&'static str> = Some("UPDATE activity_retention_gate SET open = 0 WHERE id = 1");
    const DELETE_CHUNK: [&'static str; 2] =
        ["DELETE FROM activities WHERE rowid IN (SELECT rowid FROM activities WHERE", ")"];

    crate::sql::impl_execute!();

    fn bind_time(qb: &mut QueryBuilder<'_, Sqlite>, at: DateTime<Utc>) {
        qb.push_bind(at.timestamp_micros());
    }

    fn bind_id(qb: &mut QueryBuilder<'_, Sqlite>, id: Uuid) {
        qb.push_bind(id.as_bytes().to_vec());
    }

    fn push_any_of<'a>(qb: &mut QueryBuilder<'a, Sqlite>, column: &'static str, values: &'a [String]) {
        qb.push(" AND ").push(column).push(" IN (");
        let mut list = qb.separated(", ");
        for v in values {
            list.push_bind(v.as_str());
        }
        qb.push(")");
    }

    fn push_search(qb: &mut QueryBuilder<'_, Sqlite>, folded: String) {
        // instr: a literal substring, no LIKE wildcards.
        qb.push(" AND instr(description_folded, ").push_bind(folded).push(") > 0");
    }

    fn push_metadata<'a>(qb: &mut QueryBuilder<'a, Sqlite>, key: &'a str, value: &'a MetadataValue) {
        qb.push(" AND EXISTS (SELECT 1 FROM json_each(activities.metadata) AS m WHERE m.key = ").push_bind(key);
        match value {
            MetadataValue::String(s) => {
                qb.push(" AND m.type = 'text' AND m.atom = ").push_bind(s.as_str());
            }
            MetadataValue::Integer(i) => {
                qb.push(" AND m.type IN ('integer', 'real') AND m.atom = ").push_bind(*i);
            }
            MetadataValue::Float(f) => {
                qb.push(" AND m.type IN ('integer', 'real') AND m.atom = ").push_bind(*f);
            }
            MetadataValue::Bool(b) => {
                qb.push(if *b { " AND m.type = 'true'" } else { " AND m.type = 'false'" });
            }
            MetadataValue::Null => {
                qb.push(" AND m.type = 'null'");
            }
        }
        qb.push(")");
    }

    fn for_each_chain_row<'c>(
        conn: &'c mut sqlx::SqliteConnection,
        tenant: Option<&'c str>,
        from: i64,
        to: i64,
        each: &'c mut (dyn FnMut(&dyn crate::sql::verify::ChainRow) -> bool + Send),
    ) -> crate::sql::BoxFuture<'c, Result<(), sqlx::Error>> {
        Box::pin(super::chain_rows::for_each(conn, tenant, from, to, each))
    }

    fn id(row: &SqliteRow, position: usize) -> Result<Uuid, sqlx::Error> {
        Uuid::from_slice(row.try_get::<&[u8], _>(position)?).map_err(|_| crate::sql::decode::corrupt("id"))
    }

    fn time(row: &SqliteRow, position: usize, column: &str) -> Result<DateTime<Utc>, sqlx::Error> {
        DateTime::from_timestamp_micros(row.try_get(position)?).ok_or_else(|| crate::sql::decode::corrupt(column))
    }

    /// Busy or locked, an I/O error, the disk full, out of memory, the
    /// file could not be opened (yet).
    fn is_transient_code(e: &dyn DatabaseError) -> bool {
        matches!(primary_code(e), BUSY | LOCKED | NOMEM | IOERR | FULL | CANTOPEN | PROTOCOL)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sql::error::{query_error, sink_error};

    fn is_transient(e: &sqlx::Error) -> bool {
        crate::sql::error::is_transient::<SqliteDialect>(e)
    }
    use sqlx::sqlite::SqliteConnectOptions;
    use sqlx::{ConnectOptions, Connection, Executor};

    fn coded(code: i64) -> sqlx::Error {
        crate::sql::error::coded::error(code)
    }

    #[test]
    fn busy_locked_io_and_full_are_transient() {
        // BUSY, BUSY_RECOVERY, BUSY_SNAPSHOT, BUSY_TIMEOUT, LOCKED, LOCKED_SHAREDCACHE,
        // NOMEM, IOERR, IOERR_READ, IOERR_FSYNC, FULL, CANTOPEN, PROTOCOL.
        for code in [5, 261, 517, 773, 6, 262, 7, 10, 266, 1034, 13, 14, 15] {
            assert!(is_transient(&coded(code)), "{code}");
            assert!(sink_error::<SqliteDialect>(coded(code), &[]).is_transient(), "{code}");
            assert!(query_error::<SqliteDialect>(coded(code)).is_transient(), "{code}");
        }
    }

    #[test]
    fn constraint_mismatch_and_syntax_errors_are_permanent() {
        // ERROR, READONLY, CORRUPT, TOOBIG, CONSTRAINT, CONSTRAINT_CHECK,
        // CONSTRAINT_NOTNULL, CONSTRAINT_UNIQUE, MISMATCH, RANGE.
        for code in [1, 8, 11, 18, 19, 275, 1299, 2067, 20, 25] {
            assert!(!is_transient(&coded(code)), "{code}");
            assert!(!sink_error::<SqliteDialect>(coded(code), &[]).is_transient(), "{code}");
        }
        assert!(!is_transient(&coded(-1)));
    }

    #[test]
    fn io_and_pool_errors_are_transient_decode_errors_permanent() {
        assert!(is_transient(&sqlx::Error::Io(std::io::Error::from(std::io::ErrorKind::Interrupted))));
        assert!(is_transient(&sqlx::Error::PoolTimedOut));
        assert!(is_transient(&sqlx::Error::WorkerCrashed));
        // As on PostgreSQL: one classification of non-database errors.
        assert!(is_transient(&sqlx::Error::PoolClosed));
        assert!(is_transient(&sqlx::Error::BeginFailed));
        assert!(is_transient(&sqlx::Error::Tls("handshake".into())));
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
