//! The shared write path: one write transaction per batch, multi-row
//! `INSERT ... VALUES` statements that skip rows whose id exists (writes
//! are idempotent by id). A store with a faster bulk path of its own
//! (PostgreSQL's `UNNEST` arrays) writes that way instead.

// Every store without a bulk path of its own writes through this; today
// that is SQLite, so a PostgreSQL-only build leaves it unused.
#![cfg_attr(not(feature = "sqlite"), allow(dead_code))]

use super::{chain, Backend, ConnectionOf, Dialect};
use crate::integrity::{ChainHash, ChainHead};
use crate::Activity;
use sqlx::{Pool, QueryBuilder};
use std::collections::BTreeMap;

/// The columns written, in order: the record, with the description
/// lower-cased for search and JSON as text.
pub(crate) const COLUMNS: &str = "id, occurred_at, tenant, activity_type, target_kind, target_id, target_name, \
     actor_kind, actor_id, actor_name, outcome, error, severity, description, description_folded, metadata, \
     changes, ip, user_agent, request_id, trace_id, duration_us, tags";

/// The chain columns, written after [`COLUMNS`] when chaining.
const CHAIN_COLUMNS: &str = ", chain_seq, chain_hash";

/// How many columns a row binds (chain columns included).
pub(crate) const COLUMN_COUNT: usize = 25;

/// The most rows in one statement. Batches are cut into statements of
/// this many rows (fewer if the dialect's bind limit says so), then powers
/// of two for the rest, so that only a handful of distinct statements
/// exist and all stay in the prepared-statement cache.
pub(crate) const ROWS_PER_STATEMENT: usize = 1024;

/// A row's values, ready to bind.
pub(crate) struct Row<'a> {
    a: &'a Activity,
    folded: Option<String>,
    metadata: Option<String>,
    changes: Option<String>,
    tags: Option<String>,
    /// The chain position and hash, when chaining.
    chain: Option<(i64, ChainHash)>,
}

/// Compact JSON of plain data (which cannot fail to serialise), `None`
/// when empty.
pub(crate) fn json<T: serde::Serialize + ?Sized>(empty: bool, value: &T) -> Option<String> {
    if empty {
        None
    } else {
        serde_json::to_string(value).ok()
    }
}

/// A duration in microseconds, saturating.
pub(crate) fn micros(d: std::time::Duration) -> i64 {
    i64::try_from(d.as_micros()).unwrap_or(i64::MAX)
}

impl<'a> Row<'a> {
    pub(crate) fn new(a: &'a Activity) -> Self {
        Self {
            a,
            folded: a.description.as_deref().map(str::to_lowercase),
            metadata: json(a.metadata.is_empty(), &a.metadata),
            changes: json(a.changes.is_empty(), &a.changes),
            tags: json(a.tags.is_empty(), &a.tags),
            chain: None,
        }
    }

    /// The row of `a` at chain position and hash `link`.
    pub(crate) fn chained(a: &'a Activity, link: (i64, ChainHash)) -> Self {
        Self { chain: Some(link), ..Self::new(a) }
    }

    /// `(v1, v2, ...)`, every value bound.
    fn push<D: Dialect>(&'a self, qb: &mut QueryBuilder<'a, D::Db>) {
        let a = self.a;
        let target = a.target.as_ref();
        let actor = a.actor.as_ref();
        qb.push("(");
        D::bind_id(qb, a.id);
        qb.push(", ");
        D::bind_time(qb, a.occurred_at);
        let texts = [
            a.tenant.as_deref(),
            Some(a.activity_type.as_str()),
            target.map(|t| t.kind.as_str()),
            target.and_then(|t| t.id.as_deref()),
            target.and_then(|t| t.name.as_deref()),
            actor.map(|x| x.kind.as_str()),
            actor.and_then(|x| x.id.as_deref()),
            actor.and_then(|x| x.name.as_deref()),
            Some(a.outcome.as_str()),
            a.error.as_deref(),
            Some(a.severity.as_str()),
            a.description.as_deref(),
            self.folded.as_deref(),
            self.metadata.as_deref(),
            self.changes.as_deref(),
            a.ip.as_deref(),
            a.user_agent.as_deref(),
            a.request_id.as_deref(),
            a.trace_id.as_deref(),
        ];
        for text in texts {
            qb.push(", ");
            D::Db::bind_opt_text(qb, text);
        }
        qb.push(", ");
        D::Db::bind_opt_int(qb, a.duration.map(micros));
        qb.push(", ");
        D::Db::bind_opt_text(qb, self.tags.as_deref());
        if let Some((seq, hash)) = self.chain {
            qb.push(", ");
            D::Db::bind_int(qb, seq);
            qb.push(", ");
            D::Db::bind_bytes(qb, hash.0.to_vec());
        }
        qb.push(")");
    }
}

/// The sizes of the statements a batch of `n` rows is cut into, at most
/// `max` rows each.
fn statement_sizes(mut n: usize, max: usize) -> impl Iterator<Item = usize> {
    std::iter::from_fn(move || {
        if n == 0 {
            return None;
        }
        let size = if n >= max { max } else { 1 << (usize::BITS - 1 - n.leading_zeros()) };
        n -= size;
        Some(size)
    })
}

/// Inserts `rows` on `conn` (inside the caller's transaction), skipping
/// ids that exist; returns how many rows were new.
pub(crate) async fn insert_rows<D: Dialect>(conn: &mut ConnectionOf<D>, rows: &[Row<'_>]) -> Result<u64, sqlx::Error> {
    let max = (D::MAX_BIND_VARIABLES / COLUMN_COUNT).clamp(1, ROWS_PER_STATEMENT);
    let mut written = 0;
    let mut start = 0;
    for size in statement_sizes(rows.len(), max) {
        let chunk = &rows[start..start + size];
        start += size;
        let mut qb = QueryBuilder::new("INSERT INTO activities (");
        qb.push(COLUMNS);
        if chunk.first().is_some_and(|r| r.chain.is_some()) {
            qb.push(CHAIN_COLUMNS);
        }
        qb.push(") VALUES ");
        for (i, row) in chunk.iter().enumerate() {
            if i > 0 {
                qb.push(", ");
            }
            row.push::<D>(&mut qb);
        }
        qb.push(D::SKIP_EXISTING);
        written += D::execute(conn, qb, true).await?;
    }
    Ok(written)
}

/// Writes `batch` in one write transaction on `pool`; returns how many
/// rows were new. With `chained`, the rows are linked into their
/// tenants' chains (see [`crate::integrity`]) in the same transaction.
pub(crate) async fn write_batch<D: Dialect>(
    pool: &Pool<D::Db>,
    batch: &[Activity],
    chained: bool,
) -> Result<u64, sqlx::Error> {
    if chained {
        return write_chained::<D>(pool, batch).await;
    }
    let rows: Vec<Row<'_>> = batch.iter().map(Row::new).collect();
    let mut tx = pool.begin_with(D::BEGIN_WRITE).await?;
    let written = insert_rows::<D>(&mut tx, &rows).await?;
    tx.commit().await?;
    Ok(written)
}

/// The chained write: heads read (and locked) in the write transaction;
/// positions assigned assuming every record is new; if some were already
/// stored (a replay), the insert is undone to a savepoint and the new
/// records alone are chained, so that a replay never advances a chain.
async fn write_chained<D: Dialect>(pool: &Pool<D::Db>, batch: &[Activity]) -> Result<u64, sqlx::Error> {
    let batch = chain::distinct(batch);
    let keys = chain::keys(&batch);
    // Everything but the hashing is done before the write lock is taken.
    let canonical = chain::Canonical::of(&batch);
    let rows: Vec<Row<'_>> = batch.iter().map(|a| Row::new(a)).collect();
    let mut tx = pool.begin_with(D::BEGIN_WRITE).await?;
    chain::ensure_chains::<D>(&mut tx, &keys).await?;
    let heads = chain::lock_heads::<D>(&mut tx, &keys).await?;
    let (written, heads) = match insert_chained::<D>(&mut tx, &batch, &canonical, rows, heads.clone(), true).await? {
        Some(done) => done,
        None => {
            let stored = chain::existing::<D>(&mut tx, &batch).await?;
            let fresh: Vec<&Activity> = batch.iter().copied().filter(|a| !stored.contains(&a.id)).collect();
            let canonical = chain::Canonical::of(&fresh);
            let rows = fresh.iter().map(|a| Row::new(a)).collect();
            insert_chained::<D>(&mut tx, &fresh, &canonical, rows, heads, false)
                .await?
                .ok_or_else(|| sqlx::Error::Protocol("a chained insert skipped a row twice".into()))?
        }
    };
    chain::store_heads::<D>(&mut tx, &heads).await?;
    tx.commit().await?;
    Ok(written)
}

/// Inserts `batch` (whose canonical bytes are `canonical` and rows
/// `rows`) chained onto `heads`; `None` (the insert undone) when some row
/// already existed and `optimistic`, else how many rows were written and
/// the new heads.
async fn insert_chained<'a, D: Dialect>(
    conn: &mut ConnectionOf<D>,
    batch: &[&Activity],
    canonical: &chain::Canonical,
    mut rows: Vec<Row<'a>>,
    mut heads: BTreeMap<chain::ChainKey, ChainHead>,
    optimistic: bool,
) -> Result<Option<(u64, BTreeMap<chain::ChainKey, ChainHead>)>, sqlx::Error> {
    let links = chain::assign(&mut heads, batch, canonical);
    for (row, link) in rows.iter_mut().zip(links) {
        row.chain = Some(link);
    }
    if optimistic {
        D::script(conn, "SAVEPOINT activity_log_chain").await?;
    }
    let written = insert_rows::<D>(conn, &rows).await?;
    if written == rows.len() as u64 {
        if optimistic {
            D::script(conn, "RELEASE SAVEPOINT activity_log_chain").await?;
        }
        return Ok(Some((written, heads)));
    }
    if optimistic {
        D::script(conn, "ROLLBACK TO SAVEPOINT activity_log_chain").await?;
        D::script(conn, "RELEASE SAVEPOINT activity_log_chain").await?;
        return Ok(None);
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::statement_sizes;

    #[test]
    fn batches_are_cut_into_few_distinct_statement_sizes() {
        assert_eq!(statement_sizes(0, 1024).count(), 0);
        assert_eq!(statement_sizes(2500, 1024).collect::<Vec<_>>(), [1024, 1024, 256, 128, 64, 4]);
        assert_eq!(statement_sizes(7, 4).collect::<Vec<_>>(), [4, 2, 1]);
        assert_eq!(statement_sizes(8192, 1024).sum::<usize>(), 8192);
    }
}
