//! Statistics on SQLite: three grouped reads in one read transaction (one
//! snapshot), since SQLite has no grouping sets.

use super::dialect::SqliteDialect;
use super::SqliteSink;
use crate::query::{ActivityFilter, ActivityStats, StatsRequest};
use crate::sql::query::push_where;
use crate::sql::stats::{count, Tally};
use chrono::DateTime;
use sqlx::{QueryBuilder, Row, Sqlite};

impl SqliteSink {
    /// The `+column` groupings keep SQLite from scanning a whole tenant
    /// through an index that happens to be sorted by the grouped column:
    /// the rows come from the filter's range (for tenant + time, the
    /// covering index) and are grouped in a small temporary tree.
    pub(super) async fn stats_of(
        &self,
        filter: &ActivityFilter,
        request: &StatsRequest,
    ) -> Result<ActivityStats, sqlx::Error> {
        let mut tx = self.readers.begin().await?;
        let mut tally = Tally::default();
        let mut qb: QueryBuilder<'_, Sqlite> =
            QueryBuilder::new("SELECT activity_type, target_kind, outcome, COUNT(*) FROM activities");
        push_where::<SqliteDialect>(&mut qb, filter);
        qb.push(" GROUP BY +activity_type, +target_kind, +outcome");
        for row in qb.build().fetch_all(&mut *tx).await? {
            let n = count(row.try_get(3)?);
            tally.activity_type(row.try_get(0)?, n);
            tally.target_kind(row.try_get(1)?, n);
            tally.outcome(row.try_get(2)?, n)?;
        }

        let mut qb: QueryBuilder<'_, Sqlite> =
            QueryBuilder::new("SELECT +actor_id AS actor, COUNT(*) AS n FROM activities");
        push_where::<SqliteDialect>(&mut qb, filter);
        qb.push(" AND actor_id IS NOT NULL GROUP BY actor ORDER BY n DESC, actor ASC LIMIT ");
        qb.push_bind(i64::from(request.top_actors));
        for row in qb.build().fetch_all(&mut *tx).await? {
            tally.actor(row.try_get(0)?, count(row.try_get(1)?));
        }

        let width = request.bucket.micros();
        let mut qb: QueryBuilder<'_, Sqlite> = QueryBuilder::new("SELECT (occurred_at / ");
        qb.push_bind(width).push(") * ").push_bind(width).push(" AS bucket, COUNT(*) FROM activities");
        push_where::<SqliteDialect>(&mut qb, filter);
        qb.push(" GROUP BY bucket");
        for row in qb.build().fetch_all(&mut *tx).await? {
            let start = DateTime::from_timestamp_micros(row.try_get(0)?).unwrap_or_default();
            tally.bucket(start, count(row.try_get(1)?));
        }
        tx.commit().await?;
        Ok(tally.finish(request.top_actors))
    }
}
