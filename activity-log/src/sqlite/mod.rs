//! The SQLite sink and store: a file path is all it takes to get a
//! durable, queryable activity log.
//!
//! ```
//! use activity_log::query::{ActivityFilter, ActivityStore, PageRequest};
//! use activity_log::sqlite::SqliteSink;
//! use activity_log::{Activity, ActivityLogger};
//!
//! # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! # let dir = tempfile::tempdir()?;
//! # let url = format!("sqlite://{}", dir.path().join("activity.db").display());
//! let store = SqliteSink::connect(&url).await?; // e.g. "sqlite://activity.db"
//! let logger = ActivityLogger::builder().sink(store.clone()).build()?;
//! logger.log_async(Activity::new("call_created").tenant("acme").target("call", 42));
//! logger.flush().await?;
//!
//! let page = store.query(&ActivityFilter::new().tenant("acme"), &PageRequest::first(50)).await?;
//! assert_eq!(page.items[0].activity_type, "call_created");
//! # Ok(()) }
//! ```

mod error;
mod migrate;
mod read;
mod write;

pub use migrate::SCHEMA_VERSION;

use crate::query::{
    ActivityFilter, ActivityStats, ActivityStore, Page, PagePosition, PageRequest, QueryError, StatsRequest,
    RETENTION_CHUNK,
};
use crate::{Activity, Outcome, Sink, SinkError};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use error::{query_error, sink_error};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{QueryBuilder, Row, Sqlite, SqlitePool};
use std::collections::HashMap;
use std::str::FromStr;
use std::time::Duration;
use uuid::Uuid;

/// How long a connection waits for SQLite's lock before giving up (the
/// logger then retries the batch): writers queue behind each other instead
/// of failing with "database is locked".
pub const BUSY_TIMEOUT: Duration = Duration::from_secs(30);

/// Writes activities to a SQLite file and reads them back through
/// [`ActivityStore`]. Cheap to clone (the clones share the pools).
///
/// On connect it creates the file if missing, sets WAL mode,
/// `synchronous=NORMAL` and a [`BUSY_TIMEOUT`], and applies the schema
/// migrations shipped in the crate. Writes go through one writer
/// connection, each batch in one `BEGIN IMMEDIATE` transaction, idempotent
/// by id; reads use a small pool of reader connections, which WAL never
/// blocks. Rows are append-only: the database refuses `UPDATE`, and
/// `DELETE` outside [`ActivityStore::delete_before`].
///
/// Throughput grows with the logger's `batch_size`: every commit rewrites
/// the index pages it touched, so a few thousand activities per batch write
/// several times faster than 500 when the volume is high. The sink asks
/// the logger for [`PREFERRED_BATCH_SIZE`] unless `batch_size` is set;
/// `batch_timeout` still bounds the latency.
#[derive(Clone, Debug)]
pub struct SqliteSink {
    writer: SqlitePool,
    readers: SqlitePool,
}

impl SqliteSink {
    /// Opens (creating if missing) the database at `url`, e.g.
    /// `"sqlite://activity.db"` or `"sqlite:///var/lib/app/activity.db"`.
    pub async fn connect(url: &str) -> Result<Self, sqlx::Error> {
        Self::connect_with(SqliteConnectOptions::from_str(url)?).await
    }

    /// Opens the database with `options`; the crate's pragmas (WAL,
    /// `synchronous=NORMAL`, busy timeout, create if missing) are applied
    /// on top.
    pub async fn connect_with(options: SqliteConnectOptions) -> Result<Self, sqlx::Error> {
        let options = options
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(BUSY_TIMEOUT)
            .pragma("cache_size", "-32768")
            .pragma("temp_store", "memory");
        let in_memory = options.get_filename() == std::path::Path::new(":memory:");
        let writer = SqlitePoolOptions::new()
            .min_connections(1)
            .max_connections(1)
            .acquire_timeout(BUSY_TIMEOUT * 2)
            .idle_timeout(None)
            .max_lifetime(None)
            .connect_with(options.clone())
            .await?;
        migrate::run(&writer).await?;
        // An in-memory database exists once per connection: read through
        // the writer's.
        let readers = if in_memory {
            writer.clone()
        } else {
            SqlitePoolOptions::new().max_connections(4).acquire_timeout(BUSY_TIMEOUT * 2).connect_with(options).await?
        };
        Ok(Self { writer, readers })
    }

    /// The pool the sink writes through (one connection): for running
    /// `ANALYZE` or `VACUUM`, or your own read-only queries.
    pub fn writer_pool(&self) -> &SqlitePool {
        &self.writer
    }

    /// Closes both pools, waiting for connections to be returned.
    pub async fn close(&self) {
        self.readers.close().await;
        self.writer.close().await;
    }

    /// Writes `batch` in one IMMEDIATE transaction; returns how many rows
    /// were new.
    async fn write(&self, batch: &[Activity]) -> Result<u64, sqlx::Error> {
        let rows: Vec<write::Row<'_>> = batch.iter().map(write::Row::new).collect();
        let mut tx = self.writer.begin_with("BEGIN IMMEDIATE").await?;
        let written = write::insert_rows(&mut tx, &rows).await?;
        tx.commit().await?;
        Ok(written)
    }

    async fn delete_chunked(&self, cutoff: DateTime<Utc>, tenant: Option<&str>) -> Result<u64, sqlx::Error> {
        let mut total = 0;
        loop {
            let mut tx = self.writer.begin_with("BEGIN IMMEDIATE").await?;
            sqlx::query("UPDATE activity_retention_gate SET open = 1 WHERE id = 1").execute(&mut *tx).await?;
            let mut qb: QueryBuilder<'_, Sqlite> = QueryBuilder::new(
                "DELETE FROM activities WHERE rowid IN (SELECT rowid FROM activities WHERE occurred_at < ",
            );
            qb.push_bind(cutoff.timestamp_micros());
            if let Some(t) = tenant {
                qb.push(" AND tenant = ").push_bind(t);
            }
            qb.push(" LIMIT ").push_bind(i64::from(RETENTION_CHUNK)).push(")");
            let deleted = qb.build().execute(&mut *tx).await?.rows_affected();
            sqlx::query("UPDATE activity_retention_gate SET open = 0 WHERE id = 1").execute(&mut *tx).await?;
            tx.commit().await?;
            total += deleted;
            if deleted < u64::from(RETENTION_CHUNK) {
                return Ok(total);
            }
            // Let queued batches in between chunks.
            tokio::task::yield_now().await;
        }
    }

    async fn query_inner(&self, filter: &ActivityFilter, page: &PageRequest) -> Result<Page, sqlx::Error> {
        let mut tx = self.readers.begin().await?;
        let mut qb = read::select();
        read::push_where(&mut qb, filter);
        match page.position() {
            PagePosition::After(c) => {
                let op = match filter.order {
                    crate::query::Order::NewestFirst => " AND (occurred_at, id) < (",
                    crate::query::Order::OldestFirst => " AND (occurred_at, id) > (",
                };
                qb.push(op)
                    .push_bind(c.occurred_at_micros())
                    .push(", ")
                    .push_bind(c.id().as_bytes().to_vec())
                    .push(")");
            }
            PagePosition::Start | PagePosition::Offset(_) => {}
        }
        qb.push(read::order_by(filter.order));
        qb.push(" LIMIT ").push_bind(i64::from(page.limit()) + 1);
        if let PagePosition::Offset(n) = page.position() {
            qb.push(" OFFSET ").push_bind(i64::try_from(n).unwrap_or(i64::MAX));
        }
        let rows = qb.build().fetch_all(&mut *tx).await?;
        let items = rows.iter().map(read::decode).collect::<Result<Vec<_>, _>>()?;
        let total = if page.wants_total() { Some(count_on(&mut tx, filter).await?) } else { None };
        tx.commit().await?;
        Ok(Page::from_rows(items, page.limit(), filter.order, total))
    }

    async fn stats_inner(&self, filter: &ActivityFilter, request: &StatsRequest) -> Result<ActivityStats, sqlx::Error> {
        // Three grouped reads in one read transaction (one snapshot). The
        // `+column` groupings keep SQLite from scanning a whole tenant
        // through an index that happens to be sorted by the grouped column:
        // the rows come from the filter's range (for tenant + time, the
        // covering index) and are grouped in a small temporary tree.
        let mut tx = self.readers.begin().await?;
        let mut stats = ActivityStats::default();
        let mut qb: QueryBuilder<'_, Sqlite> =
            QueryBuilder::new("SELECT activity_type, target_kind, outcome, COUNT(*) FROM activities");
        read::push_where(&mut qb, filter);
        qb.push(" GROUP BY +activity_type, +target_kind, +outcome");
        let mut outcomes: HashMap<Outcome, u64> = HashMap::new();
        for row in qb.build().fetch_all(&mut *tx).await? {
            let n = row.try_get::<i64, _>(3)? as u64;
            stats.total += n;
            *stats.by_type.entry(row.try_get(0)?).or_default() += n;
            if let Some(kind) = row.try_get::<Option<String>, _>(1)? {
                *stats.by_target_kind.entry(kind).or_default() += n;
            }
            *outcomes.entry(Outcome::parse(row.try_get(2)?).unwrap_or_default()).or_default() += n;
        }
        stats.by_outcome = ActivityStats::outcomes_in_order(outcomes.into_iter());

        let mut qb: QueryBuilder<'_, Sqlite> =
            QueryBuilder::new("SELECT +actor_id AS actor, COUNT(*) AS n FROM activities");
        read::push_where(&mut qb, filter);
        qb.push(" AND actor_id IS NOT NULL GROUP BY actor ORDER BY n DESC, actor ASC LIMIT ");
        qb.push_bind(i64::from(request.top_actors));
        for row in qb.build().fetch_all(&mut *tx).await? {
            stats.top_actors.push((row.try_get(0)?, row.try_get::<i64, _>(1)? as u64));
        }

        let width = request.bucket.micros();
        let mut qb: QueryBuilder<'_, Sqlite> = QueryBuilder::new("SELECT (occurred_at / ");
        qb.push_bind(width).push(") * ").push_bind(width).push(" AS bucket, COUNT(*) FROM activities");
        read::push_where(&mut qb, filter);
        qb.push(" GROUP BY bucket ORDER BY bucket");
        for row in qb.build().fetch_all(&mut *tx).await? {
            let start = DateTime::from_timestamp_micros(row.try_get(0)?).unwrap_or_default();
            stats.histogram.push((start, row.try_get::<i64, _>(1)? as u64));
        }
        tx.commit().await?;
        Ok(stats)
    }
}

async fn count_on(conn: &mut sqlx::SqliteConnection, filter: &ActivityFilter) -> Result<u64, sqlx::Error> {
    let mut qb: QueryBuilder<'_, Sqlite> = QueryBuilder::new("SELECT COUNT(*) FROM activities");
    read::push_where(&mut qb, filter);
    let n: i64 = qb.build_query_scalar().fetch_one(conn).await?;
    Ok(n as u64)
}

#[async_trait]
impl Sink for SqliteSink {
    async fn write_batch(&self, batch: &[Activity]) -> Result<(), SinkError> {
        self.write(batch).await.map(|_| ()).map_err(|e| {
            let e = sink_error(e);
            if batch.len() == 1 && !e.is_transient() {
                e.for_record(0)
            } else {
                e
            }
        })
    }

    fn name(&self) -> &str {
        "sqlite"
    }

    /// 8,192: each commit rewrites every page it touched into the WAL, so
    /// small transactions cost several times more per row.
    fn preferred_batch_size(&self) -> Option<usize> {
        Some(PREFERRED_BATCH_SIZE)
    }
}

/// The batch size [`SqliteSink`] asks the logger for.
pub const PREFERRED_BATCH_SIZE: usize = 8_192;

#[async_trait]
impl ActivityStore for SqliteSink {
    async fn query(&self, filter: &ActivityFilter, page: &PageRequest) -> Result<Page, QueryError> {
        page.validate_for(filter.order)?;
        self.query_inner(filter, page).await.map_err(query_error)
    }

    async fn count(&self, filter: &ActivityFilter) -> Result<u64, QueryError> {
        let mut conn = self.readers.acquire().await.map_err(query_error)?;
        count_on(&mut conn, filter).await.map_err(query_error)
    }

    async fn get(&self, id: Uuid, tenant: Option<&str>) -> Result<Option<Activity>, QueryError> {
        let mut qb = read::select();
        qb.push(" WHERE id = ").push_bind(id.as_bytes().to_vec());
        if let Some(t) = tenant {
            qb.push(" AND tenant = ").push_bind(t);
        }
        let row = qb.build().fetch_optional(&self.readers).await.map_err(query_error)?;
        row.as_ref().map(read::decode).transpose().map_err(query_error)
    }

    async fn stats(&self, filter: &ActivityFilter, request: &StatsRequest) -> Result<ActivityStats, QueryError> {
        self.stats_inner(filter, request).await.map_err(query_error)
    }

    async fn delete_before(&self, cutoff: DateTime<Utc>, tenant: Option<&str>) -> Result<u64, QueryError> {
        self.delete_chunked(cutoff, tenant).await.map_err(query_error)
    }

    fn name(&self) -> &str {
        "sqlite"
    }
}
