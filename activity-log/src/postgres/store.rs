//! [`PostgresSink`] as an [`ActivityStore`]: pages, counts, stats and
//! retention.

use super::error::query_error;
use super::{partition, read, PostgresSink};
use crate::query::{
    ActivityFilter, ActivityStats, ActivityStore, Bucket, Page, PagePosition, PageRequest, QueryError, StatsRequest,
    RETENTION_CHUNK,
};
use crate::{Activity, Outcome};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::postgres::PgConnection;
use sqlx::{Postgres, QueryBuilder, Row};
use uuid::Uuid;

/// Starts a read-only transaction in which every statement sees the same
/// snapshot.
const BEGIN_SNAPSHOT: &str = "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY";

async fn count_on(conn: &mut PgConnection, filter: &ActivityFilter) -> Result<u64, sqlx::Error> {
    let mut qb: QueryBuilder<'_, Postgres> = QueryBuilder::new("SELECT count(*) FROM activities");
    read::push_where(&mut qb, filter);
    // Unnamed statements: planned with the actual values every time.
    let n: i64 = qb.build_query_scalar().persistent(false).fetch_one(conn).await?;
    Ok(n.max(0) as u64)
}

impl PostgresSink {
    async fn query_inner(&self, filter: &ActivityFilter, page: &PageRequest) -> Result<Page, sqlx::Error> {
        let mut qb = read::select();
        read::push_where(&mut qb, filter);
        if let PagePosition::After(c) = page.position() {
            read::push_after(&mut qb, filter.order, c.occurred_at(), c.id());
        }
        qb.push(read::order_by(filter.order));
        qb.push(" LIMIT ").push_bind(i64::from(page.limit()) + 1);
        if let PagePosition::Offset(n) = page.position() {
            qb.push(" OFFSET ").push_bind(i64::try_from(n).unwrap_or(i64::MAX));
        }
        let query = qb.build().persistent(false);
        let (rows, total) = if page.wants_total() {
            let mut tx = self.inner.readers.begin_with(BEGIN_SNAPSHOT).await?;
            let rows = query.fetch_all(&mut *tx).await?;
            let total = count_on(&mut tx, filter).await?;
            tx.commit().await?;
            (rows, Some(total))
        } else {
            (query.fetch_all(&self.inner.readers).await?, None)
        };
        let items = rows.iter().map(read::decode).collect::<Result<Vec<_>, _>>()?;
        Ok(Page::from_rows(items, page.limit(), filter.order, total))
    }

    /// Every count in one scan of the matching rows (grouping sets).
    async fn stats_inner(&self, filter: &ActivityFilter, request: &StatsRequest) -> Result<ActivityStats, sqlx::Error> {
        let width = match request.bucket {
            Bucket::Hour => "INTERVAL '1 hour'",
            Bucket::Day => "INTERVAL '1 day'",
        };
        let mut qb: QueryBuilder<'_, Postgres> = QueryBuilder::new(
            "SELECT GROUPING(activity_type, target_kind, outcome, actor_id, bucket) AS g, activity_type, \
             target_kind, outcome, actor_id, bucket, count(*) AS n FROM (SELECT activity_type, target_kind, \
             outcome, actor_id, date_bin(",
        );
        qb.push(width).push(", occurred_at, TIMESTAMPTZ '1970-01-01 00:00:00+00') AS bucket FROM activities");
        read::push_where(&mut qb, filter);
        qb.push(
            ") AS matching GROUP BY GROUPING SETS ((activity_type), (target_kind), (outcome), (actor_id), (bucket)) \
             ORDER BY g, bucket",
        );
        let rows = qb.build().persistent(false).fetch_all(&self.inner.readers).await?;
        let mut stats = ActivityStats::default();
        let (mut outcomes, mut actors) = (Vec::new(), Vec::new());
        for row in &rows {
            let n = row.try_get::<i64, _>("n")?.max(0) as u64;
            // GROUPING: one bit per column, set when it is not grouped.
            match row.try_get::<i32, _>("g")? {
                0b01111 => {
                    stats.total += n;
                    stats.by_type.insert(row.try_get("activity_type")?, n);
                }
                0b10111 => {
                    if let Some(kind) = row.try_get::<Option<String>, _>("target_kind")? {
                        stats.by_target_kind.insert(kind, n);
                    }
                }
                0b11011 => {
                    let outcome: String = row.try_get("outcome")?;
                    outcomes.push((Outcome::parse(&outcome).unwrap_or_default(), n));
                }
                0b11101 => {
                    if let Some(actor) = row.try_get::<Option<String>, _>("actor_id")? {
                        actors.push((actor, n));
                    }
                }
                _ => stats.histogram.push((row.try_get::<DateTime<Utc>, _>("bucket")?, n)),
            }
        }
        stats.by_outcome = ActivityStats::outcomes_in_order(outcomes.into_iter());
        stats.top_actors = ActivityStats::top(actors.into_iter(), request.top_actors);
        Ok(stats)
    }

    /// Drops the partitions older than `cutoff`, then deletes the old rows
    /// left (of `tenant` only, or in the partition at the edge) in chunks.
    async fn delete_inner(&self, cutoff: DateTime<Utc>, tenant: Option<&str>) -> Result<u64, sqlx::Error> {
        let pool = &self.inner.readers;
        let mut total = 0;
        if tenant.is_none() {
            let expired = partition::expired(pool, cutoff).await?;
            for p in &expired {
                total += partition::drop_partition(pool, p).await?;
            }
            if !expired.is_empty() {
                self.inner.partitions.forget();
            }
        }
        loop {
            let mut tx = pool.begin().await?;
            sqlx::query("SELECT set_config('activity_log.retention', 'on', true)").execute(&mut *tx).await?;
            let mut qb: QueryBuilder<'_, Postgres> = QueryBuilder::new(
                "DELETE FROM activities AS a USING (SELECT occurred_at, id FROM activities WHERE occurred_at < ",
            );
            qb.push_bind(cutoff);
            if let Some(t) = tenant {
                qb.push(" AND tenant = ").push_bind(t);
            }
            qb.push(" LIMIT ").push_bind(i64::from(RETENTION_CHUNK));
            qb.push(") AS doomed WHERE a.occurred_at = doomed.occurred_at AND a.id = doomed.id");
            let deleted = qb.build().persistent(false).execute(&mut *tx).await?.rows_affected();
            tx.commit().await?;
            total += deleted;
            if deleted < u64::from(RETENTION_CHUNK) {
                return Ok(total);
            }
            tokio::task::yield_now().await;
        }
    }
}

#[async_trait]
impl ActivityStore for PostgresSink {
    async fn query(&self, filter: &ActivityFilter, page: &PageRequest) -> Result<Page, QueryError> {
        page.validate_for(filter.order)?;
        self.query_inner(filter, page).await.map_err(query_error)
    }

    async fn count(&self, filter: &ActivityFilter) -> Result<u64, QueryError> {
        let mut conn = self.inner.readers.acquire().await.map_err(query_error)?;
        count_on(&mut conn, filter).await.map_err(query_error)
    }

    async fn get(&self, id: Uuid, tenant: Option<&str>) -> Result<Option<Activity>, QueryError> {
        let mut qb = read::select();
        qb.push(" WHERE id = ").push_bind(id);
        if let Some(t) = tenant {
            qb.push(" AND tenant = ").push_bind(t);
        }
        qb.push(" LIMIT 1");
        let row = qb.build().persistent(false).fetch_optional(&self.inner.readers).await.map_err(query_error)?;
        row.as_ref().map(read::decode).transpose().map_err(query_error)
    }

    async fn stats(&self, filter: &ActivityFilter, request: &StatsRequest) -> Result<ActivityStats, QueryError> {
        self.stats_inner(filter, request).await.map_err(query_error)
    }

    async fn delete_before(&self, cutoff: DateTime<Utc>, tenant: Option<&str>) -> Result<u64, QueryError> {
        self.delete_inner(cutoff, tenant).await.map_err(query_error)
    }

    fn name(&self) -> &str {
        "postgres"
    }
}
