//! Retention: the only way rows leave a store. Chained records are noted
//! first (position and chain hash, in `activity_chain_expired`), then
//! deleted; each chain's cut then moves to the end of its longest removed
//! prefix (position and hash kept, verification starts there), and the
//! notes left are of records removed past the cut, which verification
//! steps over. Deletes in chunks of
//! [`RETENTION_CHUNK`] rows, each in its own transaction with the
//! append-only gate open for that transaction only, so that writers get
//! in between chunks.

use super::error::query_error;
use super::{Backend, Dialect, SqlStore};
use crate::query::{QueryError, RETENTION_CHUNK};
use chrono::{DateTime, Utc};
use sqlx::QueryBuilder;

/// One chunk; returns how many rows went.
async fn delete_chunk<S: SqlStore>(store: &S, cutoff: DateTime<Utc>, tenant: Option<&str>) -> Result<u64, sqlx::Error> {
    let mut tx = store.retention_pool().begin_with(S::Dialect::BEGIN_WRITE).await?;
    S::Dialect::script(&mut tx, S::Dialect::OPEN_RETENTION).await?;
    let [head, tail] = S::Dialect::DELETE_CHUNK;
    let mut qb = QueryBuilder::new(head);
    qb.push(" occurred_at < ");
    S::Dialect::bind_time(&mut qb, cutoff);

    if let Some(t) = tenant {
        qb.push(" AND tenant = ");
        <S::Dialect as Dialect>::Db::bind_text(&mut qb, t);
    }
    qb.push(" LIMIT ");
    <S::Dialect as Dialect>::Db::bind_int(&mut qb, i64::from(RETENTION_CHUNK));
    qb.push(tail);
    let deleted = S::Dialect::execute(&mut tx, qb, false).await?;
    if let Some(close) = S::Dialect::CLOSE_RETENTION {
        S::Dialect::script(&mut tx, close).await?;
    }
    tx.commit().await?;
    Ok(deleted)
}

async fn delete_all<S: SqlStore>(store: &S, cutoff: DateTime<Utc>, tenant: Option<&str>) -> Result<u64, sqlx::Error> {
    super::chain::note_expired(store, cutoff, tenant).await?;
    let mut total = store.expire_whole(cutoff, tenant).await?;
    loop {
        let deleted = delete_chunk(store, cutoff, tenant).await?;
        total += deleted;
        if deleted < u64::from(RETENTION_CHUNK) {
            super::chain::set_cuts(store, tenant).await?;
            return Ok(total);
        }
        // Let queued batches in between chunks.
        tokio::task::yield_now().await;
    }
}

/// Deletes the activities older than `cutoff` (of `tenant` only, if
/// given); returns how many went.
pub(crate) async fn delete_before<S: SqlStore>(
    store: &S,
    cutoff: DateTime<Utc>,
    tenant: Option<&str>,
) -> Result<u64, QueryError> {
    delete_all(store, cutoff, tenant).await.map_err(query_error::<S::Dialect>)
}
