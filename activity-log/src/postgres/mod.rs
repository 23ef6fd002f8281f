//! The PostgreSQL sink and store: the production home of an activity log,
//! shared by many instances of an application and holding months of data.
//!
//! ```no_run
//! use activity_log::postgres::PostgresSink;
//! use activity_log::query::{ActivityFilter, ActivityStore, PageRequest};
//! use activity_log::{Activity, ActivityLogger};
//!
//! # #[tokio::main] async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let store = PostgresSink::connect("postgres://app@localhost/app").await?;
//! let logger = ActivityLogger::builder().sink(store.clone()).build()?;
//! logger.log_async(Activity::new("call_created").tenant("acme").target("call", 42));
//! logger.flush().await?;
//!
//! let page = store.query(&ActivityFilter::new().tenant("acme").last_hours(24), &PageRequest::first(50)).await?;
//! assert_eq!(page.items[0].activity_type, "call_created");
//! # Ok(()) }
//! ```
//!
//! What it does:
//! - **Schema**: migrations shipped in the crate, applied on connect under
//!   an advisory lock (several instances may start at once). `uuid` ids,
//!   `timestamptz`, `jsonb` metadata and changes, `inet` ip where it parses
//!   (any other ip is kept as text), text columns indexed with the `C`
//!   collation.
//! - **Writes**: one `INSERT ... SELECT FROM UNNEST(...)` per batch (a large
//!   batch is split across the writer's connections), idempotent by
//!   `ON CONFLICT DO NOTHING` on (occurred_at, id). The writer has its own
//!   pool of at most [`DEFAULT_WRITER_CONNECTIONS`] connections, opened
//!   lazily by whichever runtime writes (the logger's worker thread), and
//!   checked before use: a connection broken by a server restart is a
//!   transient error, retried on a fresh connection.
//! - **Partitions** by `occurred_at`, monthly or daily ([`Partitioning`]),
//!   created ahead on connect and on demand for the times a batch needs;
//!   retention drops whole partitions older than the horizon and deletes
//!   rows only in the partition at the edge, or for one tenant.
//! - **Append-only**: the database refuses `UPDATE`, `TRUNCATE`, and
//!   `DELETE` outside retention (triggers).
//! - **Reads**: the full [`ActivityStore`](crate::query::ActivityStore)
//!   API, each filter served by an index on tenant and time, metadata
//!   filters by `jsonb` containment; statements are planned with their
//!   actual parameters (never a generic plan): on the read pool
//!   [`connect`](PostgresSink::connect) opens, prepared once per
//!   connection with `plan_cache_mode = force_custom_plan`; on a pool of
//!   yours ([`from_pool`](PostgresSink::from_pool)), as unnamed statements.
//!   After writing substantially into a partition, the writer has it
//!   analyzed in the background, so that a bulk load does not leave the
//!   planner with statistics of a nearly empty partition (which once
//!   turned a keyset page from 1 ms into 0.4–0.6 s). The query building,
//!   decoding, migration runner and error mapping are the crate's shared
//!   SQL layer, the same as SQLite's.
//! - **Bounded failures**: connecting fails within
//!   [`connect_timeout`](PostgresSinkBuilder::connect_timeout) (2 s), at
//!   once when refused, naming host, port and cause; a write fails within
//!   [`write_timeout`](PostgresSinkBuilder::write_timeout) (30 s). While the
//!   server is down each write fails fast, so that the logger spills to
//!   disk within its `spill_after`.

mod analyze;
mod builder;
mod chain_rows;
mod connect;
pub(crate) mod dialect;
mod partition;
mod stats;
mod store;
pub(crate) mod write;

pub use builder::{PostgresSinkBuilder, DEFAULT_CONNECT_TIMEOUT, DEFAULT_WRITER_CONNECTIONS, DEFAULT_WRITE_TIMEOUT};
pub use dialect::SCHEMA_VERSION;
pub use partition::Partitioning;

use crate::error::DatabaseError;
use crate::sql::chain::{self, ChainKey};
use crate::sql::error::{database_error, is_transient, sink_error};
use crate::{Activity, Sink, SinkError};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use dialect::{is_missing_partition, PgDialect};
use partition::Partitions;
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// Batches smaller than this are written on one connection.
const MIN_ROWS_PER_CONNECTION: usize = 256;

/// Writes activities to PostgreSQL and reads them back through
/// [`ActivityStore`](crate::query::ActivityStore). Cheap to clone (clones
/// share the pools).
#[derive(Clone, Debug)]
pub struct PostgresSink {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    readers: PgPool,
    writer: PgPool,
    /// The writer's connect options, for checking the server directly.
    writer_options: PgConnectOptions,
    config: PostgresSinkBuilder,
    partitions: Partitions,
    /// What the writer put into each partition, for ANALYZE after a bulk
    /// load.
    fills: analyze::Fills,
    /// The read pool is the sink's own, whose connections plan every
    /// execution with its actual values: reads keep their prepared
    /// statements there.
    prepared_reads: bool,
    /// The chains known to have a row in `activity_chains` (created once,
    /// never deleted).
    known_chains: std::sync::Mutex<std::collections::HashSet<ChainKey>>,
    /// The last write failed for a reason a fresh connection might fix:
    /// check the server directly (fast) before the pool (which retries a
    /// refused connection until its acquire timeout).
    suspect: AtomicBool,
}

/// Why a write failed.
enum WriteError {
    /// The statement failed.
    Sql(sqlx::Error),
    /// The server could not be reached.
    Connect(DatabaseError),
}

impl PostgresSink {
    /// Connects to `url` (e.g. `postgres://app@localhost/app`) with the
    /// default settings; see [`builder`](Self::builder).
    pub async fn connect(url: &str) -> Result<Self, crate::Error> {
        PostgresSinkBuilder::default().connect(url).await
    }

    /// Reads through your application's `pool` and writes through a small
    /// pool of its own, with the default settings.
    pub async fn from_pool(pool: PgPool) -> Result<Self, crate::Error> {
        PostgresSinkBuilder::default().from_pool(pool).await
    }

    /// Configures partitioning, pools and timeouts.
    pub fn builder() -> PostgresSinkBuilder {
        PostgresSinkBuilder::default()
    }

    pub(crate) async fn open(
        config: PostgresSinkBuilder,
        readers: PgPool,
        prepared_reads: bool,
    ) -> Result<Self, crate::Error> {
        let version = crate::sql::migrate::apply::<PgDialect>(&readers)
            .await
            .map_err(|e| database_error::<PgDialect>(e, "migrating the schema"))?;
        crate::sql::migrate::check_version::<PgDialect>(version)?;
        // The server cancels a write that outlives the deadline, too.
        let deadline_ms = config.write_timeout.as_millis().max(1).to_string();
        let writer_options =
            (*readers.connect_options()).clone().options([("statement_timeout", deadline_ms.as_str())]);
        // No maintenance task and no connection yet: the pool can be made
        // here and first used from the logger's own runtime.
        let writer = PgPoolOptions::new()
            .max_connections(config.writer_connections)
            .min_connections(0)
            .idle_timeout(None)
            .max_lifetime(None)
            .acquire_timeout(config.acquire_timeout)
            .test_before_acquire(true)
            .connect_lazy_with(writer_options.clone());
        let inner = Inner {
            readers,
            writer,
            writer_options,
            config,
            partitions: Partitions::default(),
            fills: analyze::Fills::default(),
            prepared_reads,
            known_chains: Default::default(),
            suspect: AtomicBool::new(false),
        };
        let sink = Self { inner: Arc::new(inner) };
        sink.create_partitions_ahead(&sink.inner.readers)
            .await
            .map_err(|e| database_error::<PgDialect>(e, "creating partitions"))?;
        Ok(sink)
    }

    /// The pool reads and retention go through.
    pub fn pool(&self) -> &PgPool {
        &self.inner.readers
    }

    /// The partitioning in use.
    pub fn partitioning(&self) -> Partitioning {
        self.inner.config.partitioning
    }

    /// Creates the partitions holding `from` up to `to` (inclusive), e.g.
    /// before a bulk import of old records. Writes create what they need
    /// anyway; this only moves the work ahead.
    pub async fn create_partitions(&self, from: DateTime<Utc>, to: DateTime<Utc>) -> Result<(), crate::Error> {
        let scheme = self.inner.config.partitioning;
        let mut starts = std::collections::BTreeSet::new();
        let mut start = scheme.start_of(from);
        while start <= to {
            starts.insert(start);
            start = scheme.next(start);
        }
        self.inner
            .partitions
            .create(&self.inner.readers, scheme, &starts)
            .await
            .map_err(|e| database_error::<PgDialect>(e, "creating partitions"))
    }

    /// Lets the existing role `role` write and read the log, and nothing
    /// else: `INSERT` and `SELECT` on activities (no `DELETE`, so the
    /// retention setting opens nothing for it; retention runs with the
    /// owner's rights only), advancing chain heads but never moving a
    /// retention cut. Run it once, connected as the schema's owner;
    /// applications then connect as `role`. The SQL is the migrations'
    /// `activity_log_grant_writer(role)`.
    pub async fn grant_writer(&self, role: &str) -> Result<(), crate::Error> {
        sqlx::query("SELECT activity_log_grant_writer($1)")
            .bind(role)
            .execute(&self.inner.readers)
            .await
            .map(drop)
            .map_err(|e| database_error::<PgDialect>(e, "granting the writer role"))
    }

    /// Lets the existing role `role` `SELECT` activities of one tenant
    /// only: the tenant its session names with
    /// `SET activity_log.tenant = '...'` (none while unset), by row-level
    /// security, which this turns on for the table. Run it connected as
    /// the schema's owner. The SQL is the migrations'
    /// `activity_log_grant_tenant_reader(role)`.
    pub async fn grant_tenant_reader(&self, role: &str) -> Result<(), crate::Error> {
        sqlx::query("SELECT activity_log_grant_tenant_reader($1)")
            .bind(role)
            .execute(&self.inner.readers)
            .await
            .map(drop)
            .map_err(|e| database_error::<PgDialect>(e, "granting the tenant reader role"))
    }

    /// Closes both pools: no new connection is handed out, and each one
    /// in use is closed when it is returned.
    ///
    /// Waits for connections still in use at most the write timeout plus
    /// the connect timeout. One can take that long to come back (a write
    /// abandoned at its deadline is still being cleaned up); past that,
    /// `close` returns (with a warning) rather than hang a shutdown.
    pub async fn close(&self) {
        let inner = &self.inner;
        let wait = inner.config.write_timeout + inner.config.connect_timeout;
        let (writer, readers) = tokio::join!(
            tokio::time::timeout(wait, inner.writer.close()),
            tokio::time::timeout(wait, inner.readers.close())
        );
        if writer.is_err() || readers.is_err() {
            tracing::warn!(
                waited = ?wait,
                "closing the PostgreSQL sink: a connection in use was not returned in time; it is closed when it is"
            );
        }
    }

    async fn create_partitions_ahead(&self, pool: &PgPool) -> Result<(), sqlx::Error> {
        let c = &self.inner.config;
        self.inner.partitions.create_ahead(pool, c.partitioning, Utc::now(), c.partitions_ahead).await
    }

    /// Makes sure every partition `batch` needs exists.
    async fn ensure_partitions(&self, batch: &[Activity]) -> Result<(), sqlx::Error> {
        let inner = &self.inner;
        let scheme = inner.config.partitioning;
        let mut missing = inner.partitions.missing(scheme, batch.iter().map(|a| a.occurred_at));
        if missing.is_empty() {
            return Ok(());
        }
        // Keep the partitions ahead as time passes, while at it.
        let mut start = scheme.start_of(Utc::now());
        for _ in 0..=inner.config.partitions_ahead {
            missing.insert(start);
            start = scheme.next(start);
        }
        inner.partitions.create(&inner.writer, scheme, &missing).await
    }

    /// Writes `batch`; returns how many rows were new.
    async fn write(&self, batch: &[Activity]) -> Result<u64, sqlx::Error> {
        self.ensure_partitions(batch).await?;
        let written = match self.insert(batch).await {
            // 23514 without a constraint: no partition for a row (retention
            // dropped it meanwhile). Look again and retry once.
            Err(e) if is_missing_partition(&e) => {
                self.inner.partitions.forget();
                self.ensure_partitions(batch).await?;
                self.insert(batch).await
            }
            other => other,
        }?;
        self.analyze_filled(batch);
        Ok(written)
    }

    /// Has the partitions `batch` filled substantially analyzed, in the
    /// background on the read pool (see [`analyze`]).
    fn analyze_filled(&self, batch: &[Activity]) {
        let scheme = self.inner.config.partitioning;
        for start in self.inner.fills.note(scheme, batch) {
            let sink = self.clone();
            tokio::spawn(async move {
                if let Err(e) = analyze::analyze_partition(&sink.inner.readers, start).await {
                    tracing::debug!(error = %e, "ANALYZE of a filled partition failed; autovacuum will do it");
                }
                sink.inner.fills.done(start);
            });
        }
    }

    /// Inserts `batch`, split across the writer's connections when large.
    async fn insert(&self, batch: &[Activity]) -> Result<u64, sqlx::Error> {
        if self.inner.config.chaining {
            return self.insert_chained(batch).await;
        }
        let connections = self.inner.config.writer_connections as usize;
        let parts = (batch.len() / MIN_ROWS_PER_CONNECTION).clamp(1, connections);
        let writer = &self.inner.writer;
        if parts == 1 {
            return write::Columns::new(batch.iter()).insert(writer).await;
        }
        let per_part = batch.len().div_ceil(parts);
        let writes =
            batch.chunks(per_part).map(|part| async move { write::Columns::new(part.iter()).insert(writer).await });
        let mut written = 0;
        for result in futures_util::future::join_all(writes).await {
            written += result?;
        }
        Ok(written)
    }

    /// Inserts `batch` chained: split across the writer's connections by
    /// tenant (each connection locks only its own tenants' chain heads, so
    /// they never wait for each other), each part in one transaction.
    async fn insert_chained(&self, batch: &[Activity]) -> Result<u64, sqlx::Error> {
        let batch = chain::distinct(batch);
        let connections = self.inner.config.writer_connections as usize;
        let parts = (batch.len() / MIN_ROWS_PER_CONNECTION).clamp(1, connections);
        let parts = split_by_chain(&batch, parts);
        let writes = parts.into_iter().map(|part| self.write_chained_part(part));
        let mut written = 0;
        for result in futures_util::future::join_all(writes).await {
            written += result?;
        }
        Ok(written)
    }

    /// One part of a chained write: the part's chain heads locked
    /// (`FOR UPDATE`) in the write transaction, positions assigned as if
    /// every record were new, the rows inserted and the heads advanced in
    /// one statement; if one was already stored (a replay), the
    /// transaction is rolled back and the new records alone are chained.
    async fn write_chained_part(&self, part: Vec<&Activity>) -> Result<u64, sqlx::Error> {
        let keys = chain::keys(&part);
        // Everything but the hashing is done before the heads are locked.
        let mut canonical = chain::Canonical::of(&part);
        let mut columns = write::Columns::new(part.iter().copied());
        let mut conn = self.inner.writer.acquire().await?;
        let unknown = {
            let known = self.inner.known_chains.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            keys.iter().any(|k| !known.contains(k))
        };
        if unknown {
            chain::ensure_chains::<PgDialect>(&mut conn, &keys).await?;
            let mut known = self.inner.known_chains.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            known.extend(keys.iter().cloned());
        }
        let mut records = part;
        for attempt in 0..2 {
            let mut tx = sqlx::Connection::begin(&mut *conn).await?;
            let mut heads = chain::lock_heads::<PgDialect>(&mut tx, &keys).await?;
            if attempt > 0 {
                let stored = chain::existing::<PgDialect>(&mut tx, &records).await?;
                records.retain(|a| !stored.contains(&a.id));
                canonical = chain::Canonical::of(&records);
                columns = write::Columns::new(records.iter().copied());
            }
            columns.set_chain(chain::assign(&mut heads, &records, &canonical));
            match columns.insert_chained_in(&mut tx, &heads).await {
                Ok(written) => {
                    tx.commit().await?;
                    return Ok(written);
                }
                Err(sqlx::Error::Database(e)) if attempt == 0 && e.code().as_deref() == Some("23505") => {
                    tx.rollback().await?;
                }
                Err(e) => return Err(e),
            }
        }
        Err(sqlx::Error::Protocol("a chained insert met a stored id twice under the chain lock".into()))
    }

    /// [`write`](Self::write) within the write deadline, after checking
    /// the server directly when the writer has no connection yet or the
    /// last write failed for want of one (so that a refused connection
    /// fails at once instead of being retried until the acquire timeout).
    async fn write_bounded(&self, batch: &[Activity]) -> Result<u64, WriteError> {
        let inner = &self.inner;
        if inner.suspect.load(Ordering::Relaxed) || inner.writer.size() == 0 {
            connect::probe(&inner.writer_options, inner.config.connect_timeout).await.map_err(WriteError::Connect)?;
        }
        match tokio::time::timeout(inner.config.write_timeout, self.write(batch)).await {
            Ok(Ok(written)) => Ok(written),
            // The pool gave up connecting: say why, in a bounded time.
            Ok(Err(sqlx::Error::PoolTimedOut)) => {
                let unreachable = connect::probe(&inner.writer_options, inner.config.connect_timeout).await.err();
                Err(unreachable.map_or(WriteError::Sql(sqlx::Error::PoolTimedOut), WriteError::Connect))
            }
            Ok(Err(e)) => Err(WriteError::Sql(e)),
            Err(_) => Err(WriteError::Connect(DatabaseError::new(
                crate::DatabaseErrorKind::TimedOut,
                format!(
                    "the write to PostgreSQL at {} did not finish within {:?}",
                    connect::endpoint(&inner.writer_options),
                    inner.config.write_timeout
                ),
            ))),
        }
    }
}

/// Splits `batch` into at most `parts` parts, all records of one chain in
/// the same part, the parts about equally large; each keeps the batch's
/// order.
fn split_by_chain<'a>(batch: &[&'a Activity], parts: usize) -> Vec<Vec<&'a Activity>> {
    if parts <= 1 {
        return vec![batch.to_vec()];
    }
    let mut sizes: std::collections::HashMap<ChainKey, usize> = std::collections::HashMap::new();
    for a in batch {
        *sizes.entry(chain::key_of(a.tenant.as_deref())).or_default() += 1;
    }
    let mut by_size: Vec<(ChainKey, usize)> = sizes.into_iter().collect();
    by_size.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    let mut loads = vec![0; parts];
    let mut part_of = std::collections::HashMap::new();
    for (key, size) in by_size {
        let lightest = (0..parts).min_by_key(|&i| loads[i]).unwrap_or(0);
        loads[lightest] += size;
        part_of.insert(key, lightest);
    }
    let mut out = vec![Vec::new(); parts];
    for a in batch {
        let part = part_of.get(&chain::key_of(a.tenant.as_deref())).copied().unwrap_or(0);
        out[part].push(*a);
    }
    out.retain(|p| !p.is_empty());
    out
}

#[async_trait]
impl Sink for PostgresSink {
    /// Writes `batch` in one round trip per writer connection, idempotent
    /// by id. A permanent error names the record the core validation
    /// refuses (a record changed after it was built), if any. Fails within
    /// the connect timeout while the server is down, and within the write
    /// timeout in any case, with a transient error.
    async fn write_batch(&self, batch: &[Activity]) -> Result<(), SinkError> {
        if batch.is_empty() {
            return Ok(());
        }
        let result = self.write_bounded(batch).await;
        let suspect = match &result {
            Ok(_) => false,
            Err(WriteError::Connect(_)) => true,
            Err(WriteError::Sql(e)) => is_transient::<PgDialect>(e),
        };
        self.inner.suspect.store(suspect, Ordering::Relaxed);
        match result {
            Ok(_) => Ok(()),
            Err(WriteError::Sql(e)) => Err(sink_error::<PgDialect>(e, batch)),
            Err(WriteError::Connect(e)) => Err(SinkError::transient(format!("{e} (will retry)")).with_source(e)),
        }
    }

    fn name(&self) -> &str {
        "postgres"
    }

    /// 8,192: large batches are split across the writer connections and
    /// amortise each round trip.
    fn preferred_batch_size(&self) -> Option<usize> {
        Some(crate::sql::PREFERRED_BATCH_SIZE)
    }
}
