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

mod chain_rows;
pub(crate) mod dialect;
mod stats;
mod store;
mod write;

pub use dialect::SCHEMA_VERSION;

use crate::error::{DatabaseError, DatabaseErrorKind};
use crate::sql::error::{database_error, sink_error};
use crate::{Activity, Sink, SinkError};
use async_trait::async_trait;
use dialect::{is_busy, SqliteDialect};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::SqlitePool;
use std::str::FromStr;
use std::time::{Duration, Instant};

/// How long a connection waits for SQLite's lock before giving up (the
/// logger then retries the batch): writers queue behind each other instead
/// of failing with "database is locked".
pub const BUSY_TIMEOUT: Duration = Duration::from_secs(30);

/// How long [`SqliteSink::connect`] keeps trying while another process
/// holds a lock the busy timeout does not wait for (switching a new file
/// into WAL mode, its first migration).
pub const CONNECT_RETRY_FOR: Duration = Duration::from_secs(10);

/// Writes activities to a SQLite file and reads them back through
/// [`ActivityStore`](crate::query::ActivityStore). Cheap to clone (the
/// clones share the pools).
///
/// On connect it creates the file if missing, sets WAL mode,
/// `synchronous=NORMAL` and a [`BUSY_TIMEOUT`], and applies the schema
/// migrations shipped in the crate. Several processes may connect to one
/// file at the same moment, also to a file that does not exist yet: a
/// process that finds the file locked by another one's setup tries again,
/// with backoff, for up to [`CONNECT_RETRY_FOR`]. Writes go through one
/// writer connection, each batch in one `BEGIN IMMEDIATE` transaction,
/// idempotent by id; reads use a small pool of reader connections, which
/// WAL never blocks. Rows are append-only: the database refuses `UPDATE`,
/// and `DELETE` outside
/// [`ActivityStore::delete_before`](crate::query::ActivityStore::delete_before).
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
    chained: bool,
}

impl SqliteSink {
    /// Opens (creating if missing) the database at `url`, e.g.
    /// `"sqlite://activity.db"` or `"sqlite:///var/lib/app/activity.db"`.
    ///
    /// Fails with [`Error::Database`](crate::Error::Database) when the URL
    /// is invalid, the file cannot be opened or is not a database, or it
    /// stayed locked for [`CONNECT_RETRY_FOR`].
    pub async fn connect(url: &str) -> Result<Self, crate::Error> {
        let options = SqliteConnectOptions::from_str(url)
            .map_err(|e| DatabaseError::new(DatabaseErrorKind::InvalidOptions, format!("invalid SQLite URL: {e}")))?;
        Self::connect_with(options).await
    }

    /// Opens the database with `options`; the crate's pragmas (WAL,
    /// `synchronous=NORMAL`, busy timeout, create if missing) are applied
    /// on top.
    pub async fn connect_with(options: SqliteConnectOptions) -> Result<Self, crate::Error> {
        let options = options
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(BUSY_TIMEOUT)
            .pragma("cache_size", "-32768")
            .pragma("temp_store", "memory");
        let file = options.get_filename().display().to_string();
        let started = Instant::now();
        let mut backoff = Duration::from_millis(5);
        loop {
            match Self::open(&options).await {
                Ok((sink, version)) => {
                    crate::sql::migrate::check_version::<SqliteDialect>(version)?;
                    return Ok(sink);
                }
                Err(e) if is_busy(&e) && started.elapsed() < CONNECT_RETRY_FOR => {
                    // Another process is setting the file up: wait a little
                    // (jittered, so that waiting processes spread out).
                    let jitter = Duration::from_micros(fastrand::u64(0..=backoff.as_micros() as u64));
                    tokio::time::sleep(backoff + jitter).await;
                    backoff = (backoff * 2).min(Duration::from_millis(200));
                }
                Err(e) => return Err(database_error::<SqliteDialect>(e, &format!("opening {file}"))),
            }
        }
    }

    /// One attempt: the pools, and the migrations; returns the newest
    /// schema version the file holds.
    async fn open(options: &SqliteConnectOptions) -> Result<(Self, i64), sqlx::Error> {
        let in_memory = options.get_filename() == std::path::Path::new(":memory:");
        let writer = SqlitePoolOptions::new()
            .min_connections(1)
            .max_connections(1)
            .acquire_timeout(BUSY_TIMEOUT * 2)
            .idle_timeout(None)
            .max_lifetime(None)
            .connect_with(options.clone())
            .await?;
        let version = match crate::sql::migrate::apply::<SqliteDialect>(&writer).await {
            Ok(version) => version,
            Err(e) => {
                writer.close().await;
                return Err(e);
            }
        };
        // An in-memory database exists once per connection: read through
        // the writer's.
        let readers = if in_memory {
            writer.clone()
        } else {
            let readers = SqlitePoolOptions::new()
                .max_connections(4)
                .acquire_timeout(BUSY_TIMEOUT * 2)
                // A test ping is a hand-off to the connection's thread per
                // read; a file connection does not break while idle.
                .test_before_acquire(false);
            match readers.connect_with(options.clone()).await {
                Ok(readers) => readers,
                Err(e) => {
                    writer.close().await;
                    return Err(e);
                }
            }
        };
        Ok((Self { writer, readers, chained: true }, version))
    }

    /// Whether writes link each activity into its tenant's hash chain
    /// (default: on; see [`crate::integrity`]). Off (about 8 % more writes
    /// per second), rows are written without a chain position, and
    /// verification reports them as unchained.
    pub fn with_chaining(mut self, on: bool) -> Self {
        self.chained = on;
        self
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
}

#[async_trait]
impl Sink for SqliteSink {
    async fn write_batch(&self, batch: &[Activity]) -> Result<(), SinkError> {
        crate::sql::write::write_batch::<SqliteDialect>(&self.writer, batch, self.chained)
            .await
            .map(drop)
            .map_err(|e| sink_error::<SqliteDialect>(e, batch))
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
pub const PREFERRED_BATCH_SIZE: usize = crate::sql::PREFERRED_BATCH_SIZE;
