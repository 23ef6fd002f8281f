//! Statistics on PostgreSQL: every count in one scan of the matching rows
//! (grouping sets).

use super::dialect::PgDialect;
use super::PostgresSink;
use crate::query::{ActivityFilter, ActivityStats, Bucket, StatsRequest};
use crate::sql::query::push_where;
use crate::sql::stats::{count, Tally};
use chrono::{DateTime, Utc};
use sqlx::{Postgres, QueryBuilder, Row};

impl PostgresSink {
    pub(super) async fn stats_of(
        &self,
        filter: &ActivityFilter,
        request: &StatsRequest,
    ) -> Result<ActivityStats, sqlx::Error> {
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
        push_where::<PgDialect>(&mut qb, filter);
        qb.push(
            ") AS matching GROUP BY GROUPING SETS ((activity_type), (target_kind), (outcome), (actor_id), (bucket)) \
             ORDER BY g, bucket",
        );
        let mut conn = self.inner.readers.acquire().await?;
        let rows = qb.build().persistent(self.inner.prepared_reads).fetch_all(&mut *conn).await?;
        drop(conn);
        let mut tally = Tally::default();
        for row in &rows {
            let n = count(row.try_get("n")?);
            // GROUPING: one bit per column, set when it is not grouped.
            match row.try_get::<i32, _>("g")? {
                0b01111 => tally.activity_type(row.try_get("activity_type")?, n),
                0b10111 => tally.target_kind(row.try_get("target_kind")?, n),
                0b11011 => tally.outcome(row.try_get("outcome")?, n)?,
                0b11101 => tally.actor(row.try_get("actor_id")?, n),
                _ => tally.bucket(row.try_get::<DateTime<Utc>, _>("bucket")?, n),
            }
        }
        Ok(tally.finish(request.top_actors))
    }
}
