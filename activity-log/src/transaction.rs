//! Logging inside the caller's own transaction: the activity commits and
//! rolls back with the business change, exactly once, and takes its place
//! in its tenant's hash chain.
//!
//! ```
//! # #[cfg(feature = "sqlite")]
//! # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use activity_log::sqlite::SqliteSink;
//! use activity_log::{log_in, Activity};
//! # let dir = tempfile::tempdir()?;
//! # let url = format!("sqlite://{}", dir.path().join("app.db").display());
//! let store = SqliteSink::connect(&url).await?; // the app's tables live in the same file
//! let mut tx = store.writer_pool().begin().await?;
//! // ... the business change, on `tx` ...
//! log_in(&mut *tx, Activity::new("plan_changed").tenant("acme")).await?;
//! tx.commit().await?; // both, or neither
//! # Ok(()) }
//! # #[cfg(not(feature = "sqlite"))] fn main() {}
//! ```

use crate::sql::chain;
use crate::{Activity, IntoActivity, Result};
use async_trait::async_trait;
use uuid::Uuid;

/// A database connection an activity can be written on, inside the
/// transaction open on it: `sqlx::PgConnection` and
/// `sqlx::SqliteConnection` (pass `&mut *tx` for a `sqlx::Transaction`).
#[async_trait]
pub trait InTransaction: Send {
    /// Writes `activity` (validated, filled and redacted) chained, on this
    /// connection; does nothing if its id is already stored.
    async fn write_activity(&mut self, activity: &Activity) -> Result<()>;
}

/// Writes `activity` in the transaction open on `conn`, with the same
/// validation, context filling and redaction as
/// [`log_async`](crate::log_async) (by the logger in effect; without one,
/// the default redaction), linked into its tenant's hash chain. Returns
/// its id.
///
/// The chain head of the activity's tenant stays locked (PostgreSQL: the
/// row, `FOR UPDATE`; SQLite: the database's write lock) until the
/// transaction ends: log last, just before committing. On PostgreSQL the
/// partition for the activity's time must exist (a connected
/// [`PostgresSink`](crate::postgres::PostgresSink) keeps those of the
/// coming months ready).
pub async fn log_in<C: InTransaction + ?Sized>(conn: &mut C, activity: impl IntoActivity) -> Result<Uuid> {
    let activity = crate::with_current(|logger| match logger {
        Some(logger) => logger.prepare(activity),
        None => crate::logger::prepare(activity, &crate::Redactor::default()),
    })?;
    conn.write_activity(&activity).await?;
    Ok(activity.id)
}

impl crate::ActivityLogger {
    /// [`log_in`](crate::log_in) with this logger's redaction.
    pub async fn log_in<C: InTransaction + ?Sized>(&self, conn: &mut C, activity: impl IntoActivity) -> Result<Uuid> {
        let activity = self.prepare(activity)?;
        conn.write_activity(&activity).await?;
        Ok(activity.id)
    }
}

/// The chain part of a write in the caller's transaction: `None` when the
/// id is already stored, else the link and the new heads.
pub(crate) async fn chain_one<D: crate::sql::Dialect>(
    conn: &mut crate::sql::ConnectionOf<D>,
    activity: &Activity,
) -> Result<
    Option<(
        (i64, crate::integrity::ChainHash),
        std::collections::BTreeMap<chain::ChainKey, crate::integrity::ChainHead>,
    )>,
    sqlx::Error,
> {
    let batch = [activity];
    let keys = chain::keys(&batch);
    let canonical = chain::Canonical::of(&batch);
    chain::ensure_chains::<D>(conn, &keys).await?;
    let mut heads = chain::lock_heads::<D>(conn, &keys).await?;
    if !chain::existing::<D>(conn, &batch).await?.is_empty() {
        return Ok(None);
    }
    let link = chain::assign(&mut heads, &batch, &canonical)
        .pop()
        .ok_or_else(|| sqlx::Error::Protocol("no chain link".into()))?;
    Ok(Some((link, heads)))
}

#[cfg(feature = "sqlite")]
#[async_trait]
impl InTransaction for sqlx::SqliteConnection {
    async fn write_activity(&mut self, activity: &Activity) -> Result<()> {
        use crate::sqlite::dialect::SqliteDialect as D;
        let write = async {
            let Some((link, heads)) = chain_one::<D>(self, activity).await? else { return Ok(()) };
            crate::sql::write::insert_rows::<D>(self, &[crate::sql::write::Row::chained(activity, link)]).await?;
            chain::store_heads::<D>(self, &heads).await
        };
        write.await.map_err(|e| crate::sql::error::database_error::<D>(e, "logging in the transaction"))
    }
}

#[cfg(feature = "postgres")]
#[async_trait]
impl InTransaction for sqlx::PgConnection {
    async fn write_activity(&mut self, activity: &Activity) -> Result<()> {
        use crate::postgres::dialect::PgDialect as D;
        let write = async {
            let Some((link, heads)) = chain_one::<D>(self, activity).await? else { return Ok(()) };
            crate::postgres::write::Columns::new(std::iter::once(activity))
                .with_chain(vec![link])
                .insert_in(self)
                .await?;
            chain::store_heads::<D>(self, &heads).await
        };
        write.await.map_err(|e| crate::sql::error::database_error::<D>(e, "logging in the transaction"))
    }
}
