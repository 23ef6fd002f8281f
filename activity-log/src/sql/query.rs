//! Reads: filters turned into SQL with bound values only (never formatted
//! into the text), keyset pages, counts and get by id.

use super::error::{query_error, retry_broken};
use super::{decode, Backend, Dialect, SqlStore};
use crate::query::{ActivityFilter, Order, Page, PagePosition, PageRequest, QueryError};
use crate::{Activity, Outcome, Severity};
use sqlx::{Database, QueryBuilder};
use uuid::Uuid;

/// The database of a store.
type Db<S> = <<S as SqlStore>::Dialect as Dialect>::Db;

/// `SELECT <every column> FROM activities`.
pub(crate) fn select<'a, D: Dialect>() -> QueryBuilder<'a, D::Db> {
    let mut qb = QueryBuilder::new("SELECT ");
    qb.push(D::COLUMNS).push(" FROM activities");
    qb
}

/// Appends ` WHERE ...` for `filter`: every value is a bound parameter;
/// only fixed SQL text is pushed.
pub(crate) fn push_where<'a, D: Dialect>(qb: &mut QueryBuilder<'a, D::Db>, filter: &'a ActivityFilter) {
    qb.push(" WHERE 1 = 1");
    let mut equal = |column: &str, value: Option<&'a str>| {
        if let Some(v) = value {
            qb.push(" AND ").push(column).push(" = ");
            D::Db::bind_text(qb, v);
        }
    };
    equal("tenant", filter.tenant.as_deref());
    if let [one] = filter.activity_types.as_slice() {
        equal("activity_type", Some(one.as_str()));
    }
    equal("target_kind", filter.target_kind.as_deref());
    equal("target_id", filter.target_id.as_deref());
    equal("actor_id", filter.actor_id.as_deref());
    equal("outcome", filter.outcome.map(Outcome::as_str));
    equal("severity", filter.severity.map(Severity::as_str));
    equal("request_id", filter.request_id.as_deref());
    if filter.activity_types.len() > 1 {
        D::push_any_of(qb, "activity_type", &filter.activity_types);
    }
    if let Some(v) = filter.since {
        qb.push(" AND occurred_at >= ");
        D::bind_time(qb, v);
    }
    if let Some(v) = filter.until {
        qb.push(" AND occurred_at < ");
        D::bind_time(qb, v);
    }
    if let Some(v) = &filter.search {
        D::push_search(qb, v.to_lowercase());
    }
    for (key, value) in &filter.metadata {
        D::push_metadata(qb, key, value);
    }
}

/// ` ORDER BY ...` for `order` (fixed text per variant).
pub(crate) fn order_by(order: Order) -> &'static str {
    match order {
        Order::NewestFirst => " ORDER BY occurred_at DESC, id DESC",
        Order::OldestFirst => " ORDER BY occurred_at ASC, id ASC",
    }
}

/// `SELECT count(*) FROM activities WHERE ...`.
fn count_query<D: Dialect>(filter: &ActivityFilter) -> QueryBuilder<'_, D::Db> {
    let mut qb = QueryBuilder::new("SELECT count(*) AS n FROM activities");
    push_where::<D>(&mut qb, filter);
    qb
}

async fn count_on<D: Dialect>(
    conn: &mut <D::Db as Database>::Connection,
    filter: &ActivityFilter,
    persistent: bool,
) -> Result<u64, sqlx::Error> {
    let rows = D::fetch_all(conn, count_query::<D>(filter), persistent).await?;
    let n = match rows.first() {
        Some(row) => D::Db::int(row, "n")?.unwrap_or(0),
        None => 0,
    };
    Ok(n.max(0) as u64)
}

/// The page query: filter, keyset condition, order, limit (one more row
/// than asked, to know whether there are more) and offset.
fn page_query<'a, D: Dialect>(filter: &'a ActivityFilter, page: &PageRequest) -> QueryBuilder<'a, D::Db> {
    let mut qb = select::<D>();
    push_where::<D>(&mut qb, filter);
    if let PagePosition::After(c) = page.position() {
        qb.push(match filter.order {
            Order::NewestFirst => " AND (occurred_at, id) < (",
            Order::OldestFirst => " AND (occurred_at, id) > (",
        });
        D::bind_time(&mut qb, c.occurred_at());
        qb.push(", ");
        D::bind_id(&mut qb, c.id());
        qb.push(")");
    }
    qb.push(order_by(filter.order));
    qb.push(" LIMIT ");
    D::Db::bind_int(&mut qb, i64::from(page.limit()) + 1);
    if let PagePosition::Offset(n) = page.position() {
        qb.push(" OFFSET ");
        D::Db::bind_int(&mut qb, i64::try_from(n).unwrap_or(i64::MAX));
    }
    qb
}

async fn page_inner<S: SqlStore>(store: &S, filter: &ActivityFilter, page: &PageRequest) -> Result<Page, sqlx::Error> {
    let qb = page_query::<S::Dialect>(filter, page);
    let persistent = store.prepared_reads();
    // The rows and their total from one snapshot.
    let (rows, total) = if page.wants_total() {
        let mut tx = store.readers().begin_with(S::Dialect::BEGIN_SNAPSHOT).await?;
        let rows = S::Dialect::fetch_all(&mut tx, qb, persistent).await?;
        let total = count_on::<S::Dialect>(&mut tx, filter, persistent).await?;
        tx.commit().await?;
        (rows, Some(total))
    } else {
        let mut conn = store.readers().acquire().await?;
        (S::Dialect::fetch_all(&mut conn, qb, persistent).await?, None)
    };
    let items = decode::activities::<S::Dialect>(&rows)?;
    Ok(Page::from_rows(items, page.limit(), filter.order, total))
}

/// One page of the activities matching `filter`.
pub(crate) async fn page<S: SqlStore>(
    store: &S,
    filter: &ActivityFilter,
    page: &PageRequest,
) -> Result<Page, QueryError> {
    page.validate_for(filter.order)?;
    retry_broken!(store.readers(), page_inner(store, filter, page)).map_err(query_error::<S::Dialect>)
}

/// How many activities match `filter`.
pub(crate) async fn count<S: SqlStore>(store: &S, filter: &ActivityFilter) -> Result<u64, QueryError> {
    let counted = || async {
        let mut conn = store.readers().acquire().await?;
        count_on::<S::Dialect>(&mut conn, filter, store.prepared_reads()).await
    };
    retry_broken!(store.readers(), counted()).map_err(query_error::<S::Dialect>)
}

/// The activity with `id` (of `tenant` only, if given).
pub(crate) async fn get<S: SqlStore>(
    store: &S,
    id: Uuid,
    tenant: Option<&str>,
) -> Result<Option<Activity>, QueryError> {
    let found = || async {
        let mut qb = select::<S::Dialect>();
        qb.push(" WHERE id = ");
        S::Dialect::bind_id(&mut qb, id);
        if let Some(t) = tenant {
            qb.push(" AND tenant = ");
            Db::<S>::bind_text(&mut qb, t);
        }
        qb.push(" LIMIT 1");
        let mut conn = store.readers().acquire().await?;
        let rows = S::Dialect::fetch_all(&mut conn, qb, store.prepared_reads()).await?;
        Ok(decode::activities::<S::Dialect>(&rows)?.pop())
    };
    retry_broken!(store.readers(), found()).map_err(query_error::<S::Dialect>)
}
