//! What PostgreSQL does differently: `timestamptz` and `uuid` binds,
//! `= ANY(array)`, `jsonb` containment for metadata, `strpos` for search,
//! a transaction-local setting as the retention gate, an advisory lock
//! around migrations, and SQLSTATEs.

use crate::query::MetadataValue;
use crate::sql::{Dialect, Migration};
use chrono::{DateTime, Utc};
use serde_json::{Map, Value};
use sqlx::error::DatabaseError;
use sqlx::postgres::PgRow;
use sqlx::{Postgres, QueryBuilder, Row};
use uuid::Uuid;

/// The newest PostgreSQL schema version this crate knows.
pub const SCHEMA_VERSION: i64 = crate::sql::migrate::newest(MIGRATIONS);

/// Every migration, oldest first. Never edit a shipped one: add the next.
const MIGRATIONS: &[Migration] = &[
    Migration::new(
        1,
        "partitioned activities table, indexes, append-only triggers, partition bookkeeping",
        include_str!("../../migrations/postgres/0001_activities.sql"),
    ),
    Migration::new(
        2,
        "analyze the partition holding a time, for the writer after a bulk load",
        include_str!("../../migrations/postgres/0002_analyze_partition.sql"),
    ),
    Migration::new(
        3,
        "per-tenant hash chain: chain columns, chain heads and retention cuts",
        include_str!("../../migrations/postgres/0003_chain.sql"),
    ),
    Migration::new(
        4,
        "writer role helper (INSERT and SELECT only), tenant reader role helper with row-level security",
        include_str!("../../migrations/postgres/0004_roles.sql"),
    ),
];

/// Whether a SQLSTATE is worth retrying: the connection broke, the server
/// is shutting down or out of resources, a serialization failure or a
/// deadlock, a lock or statement timeout. Classes 22 (data exception), 23
/// (integrity), 42 (syntax or access), 54 (limits) and any other code are
/// permanent.
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

/// "no partition of relation ... found for row": SQLSTATE 23514 without a
/// constraint name. A CHECK violation has the same SQLSTATE but names its
/// constraint, and retrying it cannot help.
pub(crate) fn is_missing_partition(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::Database(db) => db.code().as_deref() == Some("23514") && db.constraint().is_none(),
        _ => false,
    }
}

/// The JSON object `{key: value}` that a matching metadata contains, or
/// `None` when nothing can match (a NaN or infinite number). jsonb compares
/// numbers by value, so `3` matches a stored `3.0`.
fn containment(key: &str, value: &MetadataValue) -> Option<String> {
    let v = match value {
        MetadataValue::String(s) => Value::String(s.clone()),
        MetadataValue::Integer(i) => Value::from(*i),
        MetadataValue::Float(f) => Value::Number(serde_json::Number::from_f64(*f)?),
        MetadataValue::Bool(b) => Value::Bool(*b),
        MetadataValue::Null => Value::Null,
    };
    let mut object = Map::new();
    object.insert(key.to_owned(), v);
    serde_json::to_string(&Value::Object(object)).ok()
}

/// PostgreSQL, for the shared SQL layer.
#[derive(Debug)]
pub(crate) struct PgDialect;

impl Dialect for PgDialect {
    type Db = Postgres;

    const NAME: &'static str = "PostgreSQL";
    const COLUMNS: &'static str = "id, occurred_at, tenant, activity_type, target_kind, target_id, target_name, \
         actor_kind, actor_id, actor_name, outcome, error, severity, description, metadata::text AS metadata, \
         changes::text AS changes, COALESCE(ip_text, host(ip)) AS ip, user_agent, request_id, trace_id, \
         duration_us, tags::text AS tags";
    const BEGIN_SNAPSHOT: &'static str = "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY";
    // A chain is read in position order: down its index, so that rows
    // stream while they are hashed (a bitmap scan and a sort, which the
    // planner prefers for a whole tenant, send nothing until all are read;
    // parallel workers only compete with the hashing for the cores).
    const VERIFY_SETTINGS: &'static str = "SET LOCAL max_parallel_workers_per_gather = 0; \
         SET LOCAL enable_bitmapscan = off; SET LOCAL enable_seqscan = off";
    // Unnamed statements: planned with the actual values every time.
    const PERSISTENT_READS: bool = false;

    const MIGRATIONS: &'static [Migration] = MIGRATIONS;
    const MIGRATIONS_TABLE: &'static str = include_str!("../../migrations/postgres/migrations_table.sql");
    const BEGIN_WRITE: &'static str = "BEGIN";
    // Keyed by the current schema (the first of `search_path`): a second
    // instance waits, then finds the migrations applied.
    const MIGRATION_LOCK: Option<&'static str> =
        Some("SELECT pg_advisory_xact_lock(hashtext(current_schema() || '.activity_log_migrations'))");

    // The protocol counts parameters in 16 bits.
    const MAX_BIND_VARIABLES: usize = u16::MAX as usize;

    const LOCK_ROWS: &'static str = " FOR UPDATE";

    // Transaction-local (`set_config(..., true)`): no other transaction
    // ever sees it, and it ends with the transaction.
    const OPEN_RETENTION: &'static str = "SELECT set_config('activity_log.retention', 'on', true)";
    const CLOSE_RETENTION: Option<&'static str> = None;
    const DELETE_CHUNK: [&'static str; 2] = [
        "DELETE FROM activities AS a USING (SELECT occurred_at, id FROM activities WHERE",
        ") AS doomed WHERE a.occurred_at = doomed.occurred_at AND a.id = doomed.id",
    ];

    crate::sql::impl_execute!();

    fn for_each_chain_row<'c>(
        conn: &'c mut sqlx::PgConnection,
        tenant: Option<&'c str>,
        from: i64,
        to: i64,
        each: &'c mut (dyn FnMut(&dyn crate::sql::verify::ChainRow) -> bool + Send),
    ) -> crate::sql::BoxFuture<'c, Result<(), sqlx::Error>> {
        Box::pin(super::chain_rows::for_each(conn, tenant, from, to, each))
    }

    fn bind_time(qb: &mut QueryBuilder<'_, Postgres>, at: DateTime<Utc>) {
        qb.push_bind(at);
    }

    fn bind_id(qb: &mut QueryBuilder<'_, Postgres>, id: Uuid) {
        qb.push_bind(id);
    }

    fn push_any_of<'a>(qb: &mut QueryBuilder<'a, Postgres>, column: &'static str, values: &'a [String]) {
        qb.push(" AND ").push(column).push(" = ANY(").push_bind(values).push(")");
    }

    fn push_search(qb: &mut QueryBuilder<'_, Postgres>, folded: String) {
        // strpos: a literal substring, no LIKE wildcards.
        qb.push(" AND strpos(description_folded, ").push_bind(folded).push(") > 0");
    }

    fn push_metadata<'a>(qb: &mut QueryBuilder<'a, Postgres>, key: &'a str, value: &'a MetadataValue) {
        match containment(key, value) {
            Some(json) => qb.push(" AND metadata @> ").push_bind(json).push("::jsonb"),
            None => qb.push(" AND FALSE"),
        };
    }

    fn id(row: &PgRow, position: usize) -> Result<Uuid, sqlx::Error> {
        row.try_get(position)
    }

    fn time(row: &PgRow, position: usize, _column: &str) -> Result<DateTime<Utc>, sqlx::Error> {
        row.try_get(position)
    }

    fn is_transient_code(e: &dyn DatabaseError) -> bool {
        e.code().is_some_and(|c| is_transient_sqlstate(&c))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sql::error::{is_transient, query_error, sink_error};

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
    fn io_tls_and_pool_errors_are_transient_decode_errors_permanent() {
        let transient = |e: &sqlx::Error| is_transient::<PgDialect>(e);
        let io = sqlx::Error::Io(std::io::Error::from(std::io::ErrorKind::ConnectionReset));
        assert!(transient(&io));
        assert!(transient(&sqlx::Error::PoolTimedOut));
        assert!(transient(&sqlx::Error::PoolClosed));
        assert!(transient(&sqlx::Error::BeginFailed));
        assert!(transient(&sqlx::Error::Tls("handshake".into())));
        assert!(transient(&sqlx::Error::Protocol("unexpected message".into())));
        assert!(!transient(&sqlx::Error::RowNotFound));
        assert!(!transient(&sqlx::Error::Decode("bad".into())));
        assert!(sink_error::<PgDialect>(sqlx::Error::PoolTimedOut, &[]).is_transient());
        assert!(!sink_error::<PgDialect>(sqlx::Error::ColumnNotFound("x".into()), &[]).is_transient());
        assert!(query_error::<PgDialect>(sqlx::Error::PoolTimedOut).is_transient());
    }

    #[test]
    fn metadata_filters_become_containment_objects() {
        assert_eq!(containment("queue", &"sales".into()).as_deref(), Some(r#"{"queue":"sales"}"#));
        assert_eq!(containment("n", &MetadataValue::Integer(3)).as_deref(), Some(r#"{"n":3}"#));
        assert_eq!(containment("n", &MetadataValue::Float(2.5)).as_deref(), Some(r#"{"n":2.5}"#));
        assert_eq!(containment("x", &MetadataValue::Null).as_deref(), Some(r#"{"x":null}"#));
        assert_eq!(containment("n", &MetadataValue::Float(f64::NAN)), None);
    }
}
