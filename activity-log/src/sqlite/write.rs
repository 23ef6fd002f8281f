//! Batch writes: one IMMEDIATE transaction per batch, multi-row
//! `INSERT ... ON CONFLICT(id) DO NOTHING` statements.

use crate::Activity;
use sqlx::{QueryBuilder, Sqlite, SqliteConnection};

/// The columns written, in order.
pub(crate) const COLUMNS: &str = "id, occurred_at, tenant, activity_type, target_kind, target_id, target_name, \
     actor_kind, actor_id, actor_name, outcome, error, severity, description, description_folded, metadata, \
     changes, ip, user_agent, request_id, trace_id, duration_us, tags";

/// How many columns a row binds.
pub(crate) const COLUMN_COUNT: usize = 23;

/// SQLite's limit on bound variables in one statement.
const MAX_VARIABLES: usize = 32_766;

/// The most rows in one statement. Batches are cut into statements of
/// this many rows, then powers of two for the rest, so that only a handful
/// of distinct statements exist and all stay in the prepared-statement
/// cache.
pub(crate) const ROWS_PER_STATEMENT: usize = 1024;

const _: () = assert!(ROWS_PER_STATEMENT * COLUMN_COUNT <= MAX_VARIABLES);

/// A row's values, ready to bind.
pub(crate) struct Row<'a> {
    a: &'a Activity,
    id: [u8; 16],
    folded: Option<String>,
    metadata: Option<String>,
    changes: Option<String>,
    tags: Option<String>,
}

impl<'a> Row<'a> {
    pub(crate) fn new(a: &'a Activity) -> Self {
        let json = |empty: bool, v: &dyn Fn() -> String| if empty { None } else { Some(v()) };
        Self {
            a,
            id: *a.id.as_bytes(),
            folded: a.description.as_deref().map(str::to_lowercase),
            metadata: json(a.metadata.is_empty(), &|| serde_json::to_string(&a.metadata).unwrap_or_default()),
            changes: json(a.changes.is_empty(), &|| serde_json::to_string(&a.changes).unwrap_or_default()),
            tags: json(a.tags.is_empty(), &|| serde_json::to_string(&a.tags).unwrap_or_default()),
        }
    }
}

/// The sizes of the statements a batch of `n` rows is cut into.
fn statement_sizes(mut n: usize) -> impl Iterator<Item = usize> {
    std::iter::from_fn(move || {
        if n == 0 {
            return None;
        }
        let size =
            if n >= ROWS_PER_STATEMENT { ROWS_PER_STATEMENT } else { 1 << (usize::BITS - 1 - n.leading_zeros()) };
        n -= size;
        Some(size)
    })
}

/// Inserts `rows` (idempotent by id) on `conn`, inside the caller's
/// transaction; returns how many rows were new.
pub(crate) async fn insert_rows(conn: &mut SqliteConnection, rows: &[Row<'_>]) -> Result<u64, sqlx::Error> {
    let mut written = 0;
    let mut start = 0;
    let mut qb: QueryBuilder<'_, Sqlite> = QueryBuilder::new("");
    for size in statement_sizes(rows.len()) {
        let chunk = &rows[start..start + size];
        start += size;
        qb.reset();
        qb.push("INSERT INTO activities (").push(COLUMNS).push(") ");
        qb.push_values(chunk, |mut b, r| {
            let a = r.a;
            let target = a.target.as_ref();
            let actor = a.actor.as_ref();
            b.push_bind(&r.id[..])
                .push_bind(a.occurred_at.timestamp_micros())
                .push_bind(a.tenant.as_deref())
                .push_bind(a.activity_type.as_str())
                .push_bind(target.map(|t| t.kind.as_str()))
                .push_bind(target.and_then(|t| t.id.as_deref()))
                .push_bind(target.and_then(|t| t.name.as_deref()))
                .push_bind(actor.map(|x| x.kind.as_str()))
                .push_bind(actor.and_then(|x| x.id.as_deref()))
                .push_bind(actor.and_then(|x| x.name.as_deref()))
                .push_bind(a.outcome.as_str())
                .push_bind(a.error.as_deref())
                .push_bind(a.severity.as_str())
                .push_bind(a.description.as_deref())
                .push_bind(r.folded.as_deref())
                .push_bind(r.metadata.as_deref())
                .push_bind(r.changes.as_deref())
                .push_bind(a.ip.as_deref())
                .push_bind(a.user_agent.as_deref())
                .push_bind(a.request_id.as_deref())
                .push_bind(a.trace_id.as_deref())
                .push_bind(a.duration.map(|d| i64::try_from(d.as_micros()).unwrap_or(i64::MAX)))
                .push_bind(r.tags.as_deref());
        });
        qb.push(" ON CONFLICT(id) DO NOTHING");
        written += qb.build().execute(&mut *conn).await?.rows_affected();
    }
    Ok(written)
}
