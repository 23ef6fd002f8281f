//! Versioned schema migrations shipped in the crate, applied on connect
//! under an advisory lock so that several instances can start at once.

use sqlx::{Executor, PgPool};

/// One schema version.
struct Migration {
    version: i64,
    description: &'static str,
    sql: &'static str,
}

/// Every migration, oldest first. Never edit a shipped one: add the next.
const MIGRATIONS: &[Migration] = &[Migration {
    version: 1,
    description: "partitioned activities table, indexes, append-only triggers, partition bookkeeping",
    sql: include_str!("../../migrations/postgres/0001_activities.sql"),
}];

/// The newest PostgreSQL schema version this crate knows.
pub const SCHEMA_VERSION: i64 = 1;

const _: () = assert!(MIGRATIONS[MIGRATIONS.len() - 1].version == SCHEMA_VERSION);

/// Applies the migrations not applied yet to the current schema (the first
/// of `search_path`), in one transaction holding an advisory lock keyed by
/// that schema: a second instance waits, then finds them applied.
pub(crate) async fn run(pool: &PgPool) -> Result<(), sqlx::Error> {
    let mut tx = pool.begin().await?;
    sqlx::query("SELECT pg_advisory_xact_lock(hashtext(current_schema() || '.activity_log_migrations'))")
        .execute(&mut *tx)
        .await?;
    // Without arguments: the simple query protocol, several statements.
    tx.execute(
        "CREATE TABLE IF NOT EXISTS activity_log_migrations (
            version     bigint      PRIMARY KEY,
            description text        NOT NULL,
            applied_at  timestamptz NOT NULL DEFAULT now()
        )",
    )
    .await?;
    let applied: Vec<i64> =
        sqlx::query_scalar("SELECT version FROM activity_log_migrations").fetch_all(&mut *tx).await?;
    for m in MIGRATIONS.iter().filter(|m| !applied.contains(&m.version)) {
        tx.execute(m.sql).await?;
        sqlx::query("INSERT INTO activity_log_migrations (version, description) VALUES ($1, $2)")
            .bind(m.version)
            .bind(m.description)
            .execute(&mut *tx)
            .await?;
    }
    tx.commit().await
}
