//! Configuring a [`PostgresSink`](super::PostgresSink).

use super::{Partitioning, PostgresSink};
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use std::str::FromStr;
use std::time::Duration;

/// The most connections the writer opens by default.
pub const DEFAULT_WRITER_CONNECTIONS: u32 = 2;

/// Configures a [`PostgresSink`]; made by [`PostgresSink::builder`].
///
/// ```no_run
/// use activity_log::postgres::{Partitioning, PostgresSink};
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), sqlx::Error> {
/// let store = PostgresSink::builder()
///     .partitioning(Partitioning::Daily)
///     .partitions_ahead(14)
///     .writer_connections(2)
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
}

impl Default for PostgresSinkBuilder {
    fn default() -> Self {
        Self {
            partitioning: Partitioning::Monthly,
            partitions_ahead: 2,
            writer_connections: DEFAULT_WRITER_CONNECTIONS,
            reader_connections: 4,
            acquire_timeout: Duration::from_secs(10),
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

    /// How long a write or read waits for a connection before failing with
    /// a transient error (default 10 s).
    pub fn acquire_timeout(mut self, timeout: Duration) -> Self {
        self.acquire_timeout = timeout;
        self
    }

    /// Connects to `url` (e.g. `postgres://app@localhost/app`), applies the
    /// migrations and creates the partitions ahead.
    pub async fn connect(self, url: &str) -> Result<PostgresSink, sqlx::Error> {
        self.connect_with(PgConnectOptions::from_str(url)?).await
    }

    /// Connects with `options` (set the schema with
    /// `options.options([("search_path", "audit")])`).
    pub async fn connect_with(self, options: PgConnectOptions) -> Result<PostgresSink, sqlx::Error> {
        let readers = PgPoolOptions::new()
            .max_connections(self.reader_connections)
            .acquire_timeout(self.acquire_timeout)
            .connect_with(options)
            .await?;
        self.from_pool(readers).await
    }

    /// Reads through `pool` (your application's) and writes through a small
    /// pool of its own with the same connect options; applies the
    /// migrations and creates the partitions ahead.
    pub async fn from_pool(self, pool: PgPool) -> Result<PostgresSink, sqlx::Error> {
        PostgresSink::open(self, pool).await
    }
}
