//! The shared write path: one write transaction per batch, multi-row
//! `INSERT ... VALUES` statements that skip rows whose id exists (writes
//! are idempotent by id). A store with a faster bulk path of its own
//! (PostgreSQL's `UNNEST` arrays) writes that way instead.

// Every store without a bulk path of its own writes through this; today
// that is SQLite, so a PostgreSQL-only build leaves it unused.
#![cfg_attr(not(feature = "sqlite"), allow(dead_code))]

use super::{Backend, ConnectionOf, Dialect};
use crate::Activity;
use sqlx::{Pool, QueryBuilder};

/// The columns written, in order: the record, with the description
/// lower-cased for search and JSON as text.
pub(crate) const COLUMNS: &str = "id, occurred_at, tenant, activity_type, target_kind, target_id, target_name, \
     actor_kind, actor_id, actor_name, outcome, error, severity, description, description_folded, metadata, \
     changes, ip, user_agent, request_id, trace_id, duration_us, tags";

/// How many columns a row binds.
pub(crate) const COLUMN_COUNT: usize = 23;

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
        }
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
        qb.push(COLUMNS).push(") VALUES ");
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
/// rows were new.
pub(crate) async fn write_batch<D: Dialect>(pool: &Pool<D::Db>, batch: &[Activity]) -> Result<u64, sqlx::Error> {
    let rows: Vec<Row<'_>> = batch.iter().map(Row::new).collect();
    let mut tx = pool.begin_with(D::BEGIN_WRITE).await?;
    let written = insert_rows::<D>(&mut tx, &rows).await?;
    tx.commit().await?;
    Ok(written)
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
