//! Versioned schema migrations shipped in the crate, applied on connect:
//! one write transaction (serialised by the dialect's migration lock, so
//! that instances starting together apply each migration once), which
//! also refuses a database migrated by a newer version of this crate.

use super::{Backend, Dialect};
use crate::error::{DatabaseError, DatabaseErrorKind};
use sqlx::{Pool, QueryBuilder};

/// One schema version.
#[derive(Debug)]
pub(crate) struct Migration {
    /// 1, 2, ...: consecutive.
    pub(crate) version: i64,
    /// What it does, kept in the migrations table.
    pub(crate) description: &'static str,
    /// The SQL (several statements).
    pub(crate) sql: &'static str,
}

impl Migration {
    /// Version `version`, described by `description`, applying `sql`.
    pub(crate) const fn new(version: i64, description: &'static str, sql: &'static str) -> Self {
        Self { version, description, sql }
    }
}

/// The newest version of `migrations`, which must be numbered 1, 2, ...
/// (evaluated at compile time by each dialect: a gap fails the build).
pub(crate) const fn newest(migrations: &[Migration]) -> i64 {
    let mut i = 0;
    while i < migrations.len() {
        assert!(migrations[i].version == i as i64 + 1, "migrations must be numbered 1, 2, ... in order");
        i += 1;
    }
    migrations.len() as i64
}

/// Applies the migrations not applied yet; returns the newest version the
/// database holds (which may be newer than this crate knows).
pub(crate) async fn apply<D: Dialect>(pool: &Pool<D::Db>) -> Result<i64, sqlx::Error> {
    let mut tx = pool.begin_with(D::BEGIN_WRITE).await?;
    if let Some(lock) = D::MIGRATION_LOCK {
        D::script(&mut tx, lock).await?;
    }
    D::script(&mut tx, D::MIGRATIONS_TABLE).await?;
    let qb = QueryBuilder::new("SELECT version FROM activity_log_migrations");
    let mut applied = Vec::new();
    for row in D::fetch_all(&mut tx, qb, false).await? {
        applied.extend(D::Db::int(&row, "version")?);
    }
    let missing: Vec<&Migration> = D::MIGRATIONS.iter().filter(|m| !applied.contains(&m.version)).collect();
    for m in missing {
        D::script(&mut tx, m.sql).await?;
        let mut qb =
            QueryBuilder::new("INSERT INTO activity_log_migrations (version, description, applied_at) VALUES (");
        D::Db::bind_int(&mut qb, m.version);
        qb.push(", ");
        D::Db::bind_text(&mut qb, m.description);
        qb.push(", ");
        D::bind_time(&mut qb, chrono::Utc::now());
        qb.push(")");
        D::execute(&mut tx, qb, false).await?;
        applied.push(m.version);
    }
    tx.commit().await?;
    Ok(applied.into_iter().max().unwrap_or(0))
}

/// Refuses a database whose schema is newer than this crate knows: its
/// rows may not decode, and writes may miss columns it needs.
pub(crate) fn check_version<D: Dialect>(found: i64) -> Result<(), crate::Error> {
    if found > newest(D::MIGRATIONS) {
        return Err(DatabaseError::new(
            DatabaseErrorKind::Schema,
            format!(
                "the {} activity-log schema is version {found}, newer than this version of the crate knows \
                 ({}): upgrade activity-log",
                D::NAME,
                newest(D::MIGRATIONS)
            ),
        )
        .into());
    }
    Ok(())
}
