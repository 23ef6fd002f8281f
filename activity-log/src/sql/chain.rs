//! The hash chain in the SQL stores: assigning positions to a batch
//! (inside the store's write transaction, after the store locked the
//! batch's chain heads) and retention's cuts, written once for every
//! dialect ([`verify`](super::verify) walks the chains). See
//! [`crate::integrity`].

use super::decode;
use super::{Backend, Dialect, RowOf, SqlStore};
use crate::integrity::{link_bytes, write_canonical, ChainHash, ChainHead};
use crate::Activity;
use sqlx::QueryBuilder;
use std::collections::{BTreeMap, HashSet};

/// A chain's key: whether it is a tenant's, and the tenant (`""` for the
/// chain of activities without one).
pub(crate) type ChainKey = (bool, String);

/// The key of `tenant`'s chain.
pub(crate) fn key_of(tenant: Option<&str>) -> ChainKey {
    (tenant.is_some(), tenant.unwrap_or_default().to_owned())
}

/// The tenant of a chain key.
pub(crate) fn tenant_of(key: &ChainKey) -> Option<&str> {
    key.0.then_some(key.1.as_str())
}

/// The batch without repeated ids (the first of each is kept): a record
/// takes one chain position, however often it was queued.
pub(crate) fn distinct(batch: &[Activity]) -> Vec<&Activity> {
    let mut seen = HashSet::with_capacity(batch.len());
    batch.iter().filter(|a| seen.insert(a.id)).collect()
}

/// The chain keys a batch touches, sorted (heads are locked in this
/// order, so that writers never deadlock on them).
pub(crate) fn keys(batch: &[&Activity]) -> Vec<ChainKey> {
    let keys: std::collections::BTreeSet<ChainKey> = batch.iter().map(|a| key_of(a.tenant.as_deref())).collect();
    keys.into_iter().collect()
}

/// The canonical bytes of every record of a batch, one after another:
/// computed before the writer takes the batch's chain heads, so that only
/// hashing is left to do while it holds them (writers on other
/// connections and instances wait for those locks, and a write that takes
/// long enough is abandoned by the logger as an outage).
pub(crate) struct Canonical {
    bytes: Vec<u8>,
    /// Where each record's bytes end.
    ends: Vec<usize>,
}

impl Canonical {
    /// The canonical bytes of each record of `batch`, in order.
    pub(crate) fn of(batch: &[&Activity]) -> Self {
        let mut bytes = Vec::with_capacity(batch.len() * 512);
        let ends = batch
            .iter()
            .map(|a| {
                write_canonical(a, &mut bytes);
                bytes.len()
            })
            .collect();
        Self { bytes, ends }
    }

    /// The canonical bytes of record `i`.
    fn get(&self, i: usize) -> &[u8] {
        let start = if i == 0 { 0 } else { self.ends[i - 1] };
        &self.bytes[start..self.ends[i]]
    }
}

/// Chain positions and hashes for every record of `batch` (whose canonical
/// bytes are `canonical`), in order, appended to `heads` (which must hold
/// every key of the batch; missing ones start at their genesis). `heads`
/// ends at the new heads.
pub(crate) fn assign(
    heads: &mut BTreeMap<ChainKey, ChainHead>,
    batch: &[&Activity],
    canonical: &Canonical,
) -> Vec<(i64, ChainHash)> {
    debug_assert_eq!(batch.len(), canonical.ends.len());
    batch
        .iter()
        .enumerate()
        .map(|(i, a)| {
            let key = key_of(a.tenant.as_deref());
            let head = heads.entry(key).or_insert_with(|| ChainHead::genesis(a.tenant.as_deref()));
            let position = head.position + 1;
            *head = ChainHead { position, hash: link_bytes(&head.hash, position, canonical.get(i)) };
            (i64::try_from(position).unwrap_or(i64::MAX), head.hash)
        })
        .collect()
}

/// ` WHERE tenanted = ... AND tenant = ...` for the chain table.
pub(crate) fn push_key<'a, D: Dialect>(qb: &mut QueryBuilder<'a, D::Db>, tenant: Option<&'a str>) {
    match tenant {
        Some(t) => {
            qb.push(" WHERE tenanted = TRUE AND tenant = ");
            D::Db::bind_text(qb, t);
        }
        None => {
            qb.push(" WHERE tenanted = FALSE AND tenant = ''");
        }
    }
}

/// ` AND tenant = ...` (or `IS NULL`) for the activities table.
pub(crate) fn push_tenant<'a, D: Dialect>(qb: &mut QueryBuilder<'a, D::Db>, tenant: Option<&'a str>) {
    match tenant {
        Some(t) => {
            qb.push(" AND tenant = ");
            D::Db::bind_text(qb, t);
        }
        None => {
            qb.push(" AND tenant IS NULL");
        }
    }
}

/// A position and hash read from the chain table.
fn head_from<D: Dialect>(row: &RowOf<D>, position: usize, hash: usize) -> Result<Option<ChainHead>, sqlx::Error> {
    let Some(p) = D::Db::int_at(row, position)? else { return Ok(None) };
    let Some(h) = D::Db::bytes_at(row, hash)? else { return Ok(None) };
    let hash = ChainHash::from_slice(&h).ok_or_else(|| decode::corrupt("chain hash"))?;
    Ok(Some(ChainHead { position: u64::try_from(p).map_err(|_| decode::corrupt("chain position"))?, hash }))
}

/// The head and the retention cut of `tenant`'s chain (genesis for both
/// when the chain has no record yet).
pub(crate) async fn head_and_cut<S: SqlStore>(
    store: &S,
    tenant: Option<&str>,
) -> Result<(ChainHead, ChainHead), sqlx::Error> {
    let genesis = ChainHead::genesis(tenant);
    let mut qb = QueryBuilder::new("SELECT head_position, head_hash, cut_position, cut_hash FROM activity_chains");
    push_key::<S::Dialect>(&mut qb, tenant);
    let mut conn = store.readers().acquire().await?;
    let rows = S::Dialect::fetch_all(&mut conn, qb, false).await?;
    let Some(row) = rows.first() else { return Ok((genesis, genesis)) };
    let head = head_from::<S::Dialect>(row, 0, 1)?.unwrap_or(genesis);
    let cut = head_from::<S::Dialect>(row, 2, 3)?.unwrap_or(genesis);
    Ok((head, cut))
}

/// `(TRUE, tenant)` or `(FALSE, '')` as the chain table's key values.
fn push_key_values<'a, D: Dialect>(qb: &mut QueryBuilder<'a, D::Db>, key: &'a ChainKey) {
    if key.0 {
        qb.push("TRUE, ");
        D::Db::bind_text(qb, &key.1);
    } else {
        qb.push("FALSE, ''");
    }
}

/// Creates the chain rows of `keys` that do not exist yet, at their
/// genesis. PostgreSQL runs it before the write transaction (autocommit),
/// so that no writer holds a new chain's row while it waits for another.
pub(crate) async fn ensure_chains<D: Dialect>(
    conn: &mut super::ConnectionOf<D>,
    keys: &[ChainKey],
) -> Result<(), sqlx::Error> {
    if keys.is_empty() {
        return Ok(());
    }
    let mut qb = QueryBuilder::new("INSERT INTO activity_chains (tenanted, tenant, head_position, head_hash) VALUES ");
    for (i, key) in keys.iter().enumerate() {
        if i > 0 {
            qb.push(", ");
        }
        qb.push("(");
        push_key_values::<D>(&mut qb, key);
        qb.push(", 0, ");
        D::Db::bind_bytes(&mut qb, ChainHead::genesis(tenant_of(key)).hash.0.to_vec());
        qb.push(")");
    }
    qb.push(" ON CONFLICT DO NOTHING");
    D::execute(conn, qb, false).await.map(drop)
}

/// Reads (and, where the dialect needs it, locks until the transaction
/// ends) the heads of `keys`, which must exist ([`ensure_chains`]).
pub(crate) async fn lock_heads<D: Dialect>(
    conn: &mut super::ConnectionOf<D>,
    keys: &[ChainKey],
) -> Result<BTreeMap<ChainKey, ChainHead>, sqlx::Error> {
    let mut heads = BTreeMap::new();
    if keys.is_empty() {
        return Ok(heads);
    }
    // Both flags, then filtered: one IN list stays shallow for any number
    // of tenants, and the primary key serves it.
    let mut qb = QueryBuilder::new(
        "SELECT CAST(CASE WHEN tenanted THEN 1 ELSE 0 END AS BIGINT), tenant, head_position, head_hash FROM activity_chains \
         WHERE tenanted IN (FALSE, TRUE) AND tenant IN (",
    );
    for (i, key) in keys.iter().enumerate() {
        if i > 0 {
            qb.push(", ");
        }
        D::Db::bind_text(&mut qb, &key.1);
    }
    qb.push(")");
    qb.push(" ORDER BY tenanted, tenant").push(D::LOCK_ROWS);
    for row in D::fetch_all(conn, qb, false).await? {
        let tenant = D::Db::text_at(&row, 1)?.unwrap_or_default();
        let tenanted = D::Db::int_at(&row, 0)? == Some(1);
        let head = head_from::<D>(&row, 2, 3)?.ok_or_else(|| decode::corrupt("chain head"))?;
        let key = (tenanted, tenant);
        if keys.binary_search(&key).is_ok() {
            heads.insert(key, head);
        }
    }
    for key in keys {
        if !heads.contains_key(key) {
            return Err(decode::corrupt("chain head (missing)"));
        }
    }
    Ok(heads)
}

/// Stores the new heads of the chains a batch extended.
pub(crate) async fn store_heads<D: Dialect>(
    conn: &mut super::ConnectionOf<D>,
    heads: &BTreeMap<ChainKey, ChainHead>,
) -> Result<(), sqlx::Error> {
    if heads.is_empty() {
        return Ok(());
    }
    let mut qb = QueryBuilder::new("INSERT INTO activity_chains (tenanted, tenant, head_position, head_hash) VALUES ");
    for (i, (key, head)) in heads.iter().enumerate() {
        if i > 0 {
            qb.push(", ");
        }
        qb.push("(");
        push_key_values::<D>(&mut qb, key);
        qb.push(", ");
        D::Db::bind_int(&mut qb, i64::try_from(head.position).unwrap_or(i64::MAX));
        qb.push(", ");
        D::Db::bind_bytes(&mut qb, head.hash.0.to_vec());
        qb.push(")");
    }
    qb.push(
        " ON CONFLICT (tenanted, tenant) DO UPDATE SET head_position = excluded.head_position, \
         head_hash = excluded.head_hash",
    );
    D::execute(conn, qb, false).await.map(drop)
}

/// The ids of `batch` already stored (read inside the write transaction,
/// under the chain locks: a record of these chains cannot arrive
/// meanwhile).
pub(crate) async fn existing<D: Dialect>(
    conn: &mut super::ConnectionOf<D>,
    batch: &[&Activity],
) -> Result<HashSet<uuid::Uuid>, sqlx::Error> {
    let mut found = HashSet::new();
    for chunk in batch.chunks(1_000) {
        let mut qb = QueryBuilder::new("SELECT id FROM activities WHERE id IN (");
        for (i, a) in chunk.iter().enumerate() {
            if i > 0 {
                qb.push(", ");
            }
            D::bind_id(&mut qb, a.id);
        }
        qb.push(")");
        for row in D::fetch_all(conn, qb, false).await? {
            found.insert(D::id(&row, 0)?);
        }
    }
    Ok(found)
}

/// Every chain in the store, by tenant.
pub(crate) async fn chains<S: SqlStore>(store: &S) -> Result<Vec<Option<String>>, sqlx::Error> {
    let qb = QueryBuilder::new(
        "SELECT CAST(CASE WHEN tenanted THEN 1 ELSE 0 END AS BIGINT), tenant FROM activity_chains ORDER BY tenanted, tenant",
    );
    let mut conn = store.readers().acquire().await?;
    let rows = S::Dialect::fetch_all(&mut conn, qb, false).await?;
    rows.iter()
        .map(|row| {
            let tenanted = <S::Dialect as Dialect>::Db::int_at(row, 0)? == Some(1);
            let tenant = <S::Dialect as Dialect>::Db::text_at(row, 1)?.unwrap_or_default();
            Ok(tenanted.then_some(tenant))
        })
        .collect()
}

/// Implements [`ChainedStore`](crate::integrity::ChainedStore) for a
/// [`SqlStore`].
macro_rules! impl_chained_store {
    ($store:ty) => {
        #[$crate::async_trait]
        impl $crate::integrity::ChainedStore for $store {
            async fn chain_head(
                &self,
                tenant: Option<&str>,
            ) -> Result<$crate::integrity::ChainHead, $crate::integrity::IntegrityError> {
                let read = $crate::sql::error::retry_broken!(
                    $crate::sql::SqlStore::readers(self),
                    $crate::sql::chain::head_and_cut(self, tenant)
                );
                let (head, _) =
                    read.map_err($crate::sql::error::query_error::<<$store as $crate::sql::SqlStore>::Dialect>)?;
                Ok(head)
            }

            async fn chains(&self) -> Result<Vec<Option<String>>, $crate::integrity::IntegrityError> {
                let read = $crate::sql::error::retry_broken!(
                    $crate::sql::SqlStore::readers(self),
                    $crate::sql::chain::chains(self)
                );
                Ok(read.map_err($crate::sql::error::query_error::<<$store as $crate::sql::SqlStore>::Dialect>)?)
            }

            async fn verify(
                &self,
                tenant: Option<&str>,
                checkpoint: &$crate::integrity::Checkpoint,
            ) -> Result<$crate::integrity::VerifyReport, $crate::integrity::IntegrityError> {
                // A broken pooled connection (a server restart) is retried
                // on the next one, as reads are.
                let mut attempts = $crate::sql::SqlStore::readers(self).options().get_max_connections() + 1;
                loop {
                    match $crate::sql::verify::verify(self, tenant, checkpoint).await {
                        Err($crate::integrity::IntegrityError::Store(e)) if attempts > 1 && e.is_transient() => {
                            attempts -= 1
                        }
                        other => break other,
                    }
                }
            }
        }
    };
}

pub(crate) use impl_chained_store;

/// Notes the chained records retention is about to remove (older than
/// `cutoff`, of `tenant` only if given): their position and chain hash, so
/// that the chain stays verifiable across them.
pub(crate) async fn note_expired<S: SqlStore>(
    store: &S,
    cutoff: chrono::DateTime<chrono::Utc>,
    tenant: Option<&str>,
) -> Result<(), sqlx::Error> {
    let mut qb = QueryBuilder::new(
        "INSERT INTO activity_chain_expired (tenanted, tenant, position, hash) \
         SELECT tenant IS NOT NULL, COALESCE(tenant, ''), chain_seq, chain_hash FROM activities \
         WHERE chain_seq IS NOT NULL AND chain_hash IS NOT NULL AND occurred_at < ",
    );
    S::Dialect::bind_time(&mut qb, cutoff);
    if let Some(t) = tenant {
        qb.push(" AND tenant = ");
        <S::Dialect as Dialect>::Db::bind_text(&mut qb, t);
    }
    qb.push(" ON CONFLICT DO NOTHING");
    let mut conn = store.retention_pool().acquire().await?;
    S::Dialect::execute(&mut conn, qb, false).await.map(drop)
}

/// Moves each chain's retention cut (of `tenant` only, if given) to the
/// end of its longest prefix that retention removed, keeping the chain
/// hash there, and drops the notes the cut passed.
pub(crate) async fn set_cuts<S: SqlStore>(store: &S, tenant: Option<&str>) -> Result<(), sqlx::Error> {
    type B<S> = <<S as SqlStore>::Dialect as Dialect>::Db;
    let all = chains(store).await?;
    for chain in all.iter().filter(|c| tenant.is_none() || c.as_deref() == tenant) {
        let t = chain.as_deref();
        let (_, cut) = head_and_cut(store, t).await?;
        // One write transaction per chain, on the retention pool's
        // connection (SQLite's is the single writer).
        let mut conn = store.retention_pool().begin_with(S::Dialect::BEGIN_WRITE).await?;
        let cut_at = i64::try_from(cut.position).unwrap_or(i64::MAX);
        let mut qb = QueryBuilder::new("SELECT MIN(chain_seq) AS p FROM activities WHERE chain_seq > ");
        B::<S>::bind_int(&mut qb, cut_at);
        push_tenant::<S::Dialect>(&mut qb, t);
        let rows = S::Dialect::fetch_all(&mut conn, qb, false).await?;
        let first_kept = rows.first().map(|r| B::<S>::int(r, "p")).transpose()?.flatten();
        let mut qb = QueryBuilder::new("SELECT MAX(position) AS p FROM activity_chain_expired");
        push_key::<S::Dialect>(&mut qb, t);
        if let Some(kept) = first_kept {
            qb.push(" AND position < ");
            B::<S>::bind_int(&mut qb, kept);
        }
        let rows = S::Dialect::fetch_all(&mut conn, qb, false).await?;
        let Some(new_cut) = rows.first().map(|r| B::<S>::int(r, "p")).transpose()?.flatten() else { continue };
        if new_cut <= cut_at {
            continue;
        }
        // Every position from the cut to the new one must have been noted.
        let mut qb = QueryBuilder::new("SELECT COUNT(*) AS n FROM activity_chain_expired");
        push_key::<S::Dialect>(&mut qb, t);
        qb.push(" AND position > ");
        B::<S>::bind_int(&mut qb, cut_at);
        qb.push(" AND position <= ");
        B::<S>::bind_int(&mut qb, new_cut);
        let rows = S::Dialect::fetch_all(&mut conn, qb, false).await?;
        let noted = rows.first().map(|r| B::<S>::int(r, "n")).transpose()?.flatten().unwrap_or(0);
        let mut qb = QueryBuilder::new("SELECT hash FROM activity_chain_expired");
        push_key::<S::Dialect>(&mut qb, t);
        qb.push(" AND position = ");
        B::<S>::bind_int(&mut qb, new_cut);
        let rows = S::Dialect::fetch_all(&mut conn, qb, false).await?;
        let hash = rows.first().map(|r| B::<S>::bytes_at(r, 0)).transpose()?.flatten();
        let (true, Some(hash)) = (noted == new_cut - cut_at, hash) else {
            tracing::warn!(tenant = ?t, "retention: positions before the new cut are neither stored nor noted as \
                 expired; this chain is not cut (run verify)");
            continue;
        };
        let mut tx = conn;
        let mut qb = QueryBuilder::new("UPDATE activity_chains SET cut_position = ");
        B::<S>::bind_int(&mut qb, new_cut);
        qb.push(", cut_hash = ");
        B::<S>::bind_bytes(&mut qb, hash);
        push_key::<S::Dialect>(&mut qb, t);
        S::Dialect::execute(&mut tx, qb, false).await?;
        let mut qb = QueryBuilder::new("DELETE FROM activity_chain_expired");
        push_key::<S::Dialect>(&mut qb, t);
        qb.push(" AND position <= ");
        B::<S>::bind_int(&mut qb, new_cut);
        S::Dialect::execute(&mut tx, qb, false).await?;
        tx.commit().await?;
    }
    Ok(())
}
