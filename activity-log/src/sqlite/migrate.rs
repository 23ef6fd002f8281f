//! Versioned schema migrations shipped in the crate, applied on connect.

use sqlx::{Executor, SqlitePool};

/// One schema version.
struct Migration {
    version: i64,
    description: &'static str,
    sql: &'static str,
}

/// Every migration, oldest first. Never edit a shipped one: add the next.
const MIGRATIONS: &[Migration] = &[Migration {
    version: 1,
    description: "activities table, indexes, append-only triggers",
    sql: include_str!("../../migrations/sqlite/0001_activities.sql"),
}];

/// The newest schema version this crate knows.
pub const SCHEMA_VERSION: i64 = 1;

/// Applies the migrations not applied yet, each in its own IMMEDIATE
/// transaction (so concurrent processes apply each one once).
pub(crate) async fn run(pool: &SqlitePool) -> Result<(), sqlx::Error> {
    pool.execute(
        "CREATE TABLE IF NOT EXISTS activity_log_migrations (
            version     INTEGER PRIMARY KEY,
            description TEXT    NOT NULL,
            applied_at  INTEGER NOT NULL
        )",
    )
    .await?;
    for m in MIGRATIONS {
        let mut tx = pool.begin_with("BEGIN IMMEDIATE").await?;
        let applied: Option<i64> = sqlx::query_scalar("SELECT version FROM activity_log_migrations WHERE version = ?")
            .bind(m.version)
            .fetch_optional(&mut *tx)
            .await?;
        if applied.is_none() {
            sqlx::raw_sql(m.sql).execute(&mut *tx).await?;
            sqlx::query("INSERT INTO activity_log_migrations (version, description, applied_at) VALUES (?, ?, ?)")
                .bind(m.version)
                .bind(m.description)
                .bind(chrono::Utc::now().timestamp_micros())
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
    }
    Ok(())
}
