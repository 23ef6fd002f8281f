//! Configuring a [`PostgresSink`].

use super::connect::{describe, probe};
use super::{Partitioning, PostgresSink};
use crate::error::{DatabaseError, DatabaseErrorKind};
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use std::str::FromStr;
use std::time::Duration;

/// The most connections the writer opens by default.
pub const DEFAULT_WRITER_CONNECTIONS: u32 = 2;

/// How long connecting, or waiting for a pooled connection, may take by
/// default: short enough that the logger notices an outage within its
/// `spill_after` (2 s).
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(2);

/// How long one batch write may take by default before it is abandoned
/// (and retried by the logger, idempotently by id).
pub const DEFAULT_WRITE_TIMEOUT: Duration = Duration::from_secs(30);

/// Configures a [`PostgresSink`]; made by [`PostgresSink::builder`].
///
/// ```no_run
/// use activity_log::postgres::{Partitioning, PostgresSink};
/// use std::time::Duration;
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), activity_log::Error> {
/// let store = PostgresSink::builder()
///     .partitioning(Partitioning::Daily)
///     .partitions_ahead(14)
///     .writer_connections(2)
///     .connect_timeout(Duration::from_secs(1))
///     .write_timeout(Duration::from_secs(10))
///     .connect("postgres://app@db.internal/app")
///     .await?;
/// # drop(store); Ok(()) }
/// ```
#[derive(Debug, Clone)]
#[must_use = "a builder does nothing until `connect` or `from_pool` is called"]
pub struct PostgresSinkBuilder {
    pub(crate) partitioning: Partitioning,
    pub(crate) partitions_ahead: u32,
    pub(crate) writer_connections: u32,
    pub(crate) reader_connections: u32,
    pub(crate) acquire_timeout: Duration,
    pub(crate) connect_timeout: Duration,
    pub(crate) write_timeout: Duration,
    pub(crate) chaining: bool,
}

impl Default for PostgresSinkBuilder {
    fn default() -> Self {
        Self {
            partitioning: Partitioning::Monthly,
            partitions_ahead: 2,
            writer_connections: DEFAULT_WRITER_CONNECTIONS,
            reader_connections: 4,
            acquire_timeout: DEFAULT_CONNECT_TIMEOUT,
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            write_timeout: DEFAULT_WRITE_TIMEOUT,
            chaining: true,
        }
    }
}

impl PostgresSinkBuilder {
    /// Monthly (default) or daily partitions.
    pub fn partitioning(mut self, partitioning: Partitioning) -> Self {
        self.partitioning = partitioning;
        self
    }

    /// How many partitions after the current one exist at all times
    /// (default 2); created on connect and kept ahead as time passes.
    pub fn partitions_ahead(mut self, n: u32) -> Self {
        self.partitions_ahead = n;
        self
    }

    /// The most connections the writer uses (default 2, at least 1). The
    /// writer has its own pool, so it never takes connections from yours.
    pub fn writer_connections(mut self, n: u32) -> Self {
        self.writer_connections = n.max(1);
        self
    }

    /// The most connections of the read pool that [`connect`](Self::connect)
    /// opens (default 4; [`from_pool`](Self::from_pool) reads through yours).
    pub fn reader_connections(mut self, n: u32) -> Self {
        self.reader_connections = n.max(1);
        self
    }

    /// How long a write or read waits for a pooled connection, connecting
    /// included, before failing with a transient error (default
    /// [`DEFAULT_CONNECT_TIMEOUT`], 2 s).
    pub fn acquire_timeout(mut self, timeout: Duration) -> Self {
        self.acquire_timeout = timeout;
        self
    }

    /// How long opening one connection may take (default
    /// [`DEFAULT_CONNECT_TIMEOUT`], 2 s). `connect` fails after it with
    /// [`DatabaseErrorKind::TimedOut`];
    /// a refused connection fails at once. While the server is down, each
    /// write fails within it too, so that the logger spills to disk.
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// How long one batch write may take (default
    /// [`DEFAULT_WRITE_TIMEOUT`], 30 s): a write still running then is
    /// cancelled (also on the server, by `statement_timeout`) and reported
    /// as a transient error, and the logger retries it, idempotently by id.
    pub fn write_timeout(mut self, timeout: Duration) -> Self {
        self.write_timeout = timeout;
        self
    }

    /// Whether writes link each activity into its tenant's hash chain
    /// (default: on; see [`crate::integrity`]). Each writer connection
    /// takes the batch's tenants' chain heads with `SELECT ... FOR UPDATE`
    /// in its write transaction: a large batch is split across the writer
    /// connections by tenant, so that they never wait for each other. Off
    /// (about 8 % more writes per second), rows are written without a
    /// chain position and verification reports them as unchained.
    pub fn chaining(mut self, on: bool) -> Self {
        self.chaining = on;
        self
    }

    /// Connects to `url` (e.g. `postgres://app@localhost/app`), applies the
    /// migrations and creates the partitions ahead.
    ///
    /// Fails with [`Error::Database`](crate::Error::Database) naming the
    /// server and the cause (refused, timed out, authentication, unknown
    /// database) within the connect timeout; the message never contains
    /// the password.
    pub async fn connect(self, url: &str) -> Result<PostgresSink, crate::Error> {
        let options = PgConnectOptions::from_str(url).map_err(|e| {
            DatabaseError::new(DatabaseErrorKind::InvalidOptions, format!("invalid PostgreSQL URL: {e}"))
        })?;
        self.connect_with(options).await
    }

    /// Connects with `options` (set the schema with
    /// `options.options([("search_path", "audit")])`).
    ///
    /// The read pool this opens keeps each read's prepared statement on
    /// the connection and plans every execution with its actual values
    /// (`plan_cache_mode = force_custom_plan` on its connections: a
    /// generic plan can be many times slower on partitions), and hands out
    /// connections without a test round trip (a read that finds its
    /// connection broken retries on another).
    pub async fn connect_with(self, options: PgConnectOptions) -> Result<PostgresSink, crate::Error> {
        probe(&options, self.connect_timeout).await?;
        let reader_options = options.clone().options([("plan_cache_mode", "force_custom_plan")]);
        let readers = PgPoolOptions::new()
            .max_connections(self.reader_connections)
            .acquire_timeout(self.acquire_timeout)
            .test_before_acquire(false)
            .connect_with(reader_options)
            .await
            .map_err(|e| describe(&options, &e))?;
        PostgresSink::open(self, readers, true).await
    }

    /// Reads through `pool` (your application's) and writes through a small
    /// pool of its own with the same connect options; applies the
    /// migrations and creates the partitions ahead. Reads on your pool
    /// use unnamed statements, planned with their actual values each time
    /// (one round trip more per read than the pool
    /// [`connect_with`](Self::connect_with) opens).
    pub async fn from_pool(self, pool: PgPool) -> Result<PostgresSink, crate::Error> {
        PostgresSink::open(self, pool, false).await
    }
}
