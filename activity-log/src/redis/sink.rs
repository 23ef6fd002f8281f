//! [`RedisStreamSink`]: the logger's batches appended to a Redis stream.

use super::entry::{self, ACTIVITY_FIELD, ID_FIELD};
use super::link::{breaks_connection, Link};
use super::{StreamError, StreamLayout};
use crate::{Activity, Sink, SinkError};
use async_trait::async_trait;
use serde::Serialize;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::time::Duration;

/// A [`Sink`] that appends every batch to a Redis stream (one `MULTI` …
/// `XADD` … `EXEC` round trip per batch), so an application instance
/// needs no database connection: [`StreamDrainer`](super::StreamDrainer)s
/// move the activities into the store.
///
/// Redis being down (or refusing writes) is a transient [`SinkError`]: the
/// logger retries, and with a `spill_dir` spills to its local spool and
/// replays once Redis is back. A retried batch may be appended twice; the
/// drainers write idempotently by id, so the store still holds it once.
///
/// ```no_run
/// use activity_log::redis::{RedisStreamSink, StreamLayout};
/// use activity_log::ActivityLogger;
///
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let sink = RedisStreamSink::builder()
///     .layout(StreamLayout::new("activities").partitions(4))
///     .build("redis://127.0.0.1:6379")?;
/// let logger = ActivityLogger::builder().sink(sink).spill_dir("/var/spool/my-app/activities").build()?;
/// # let _ = logger; Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct RedisStreamSink {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    link: Link,
    layout: StreamLayout,
    stats: Counters,
}

#[derive(Debug, Default)]
struct Counters {
    appended: AtomicU64,
    batches: AtomicU64,
    failed_batches: AtomicU64,
}

/// What a [`RedisStreamSink`] did, counted when Redis confirmed it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct RedisSinkStats {
    /// Stream entries appended (every activity of every confirmed batch;
    /// a batch retried after a lost reply counts again).
    pub appended: u64,
    /// Batches Redis confirmed.
    pub batches: u64,
    /// Batches that failed (and were left to the logger to retry or spill).
    pub failed_batches: u64,
}

impl RedisStreamSink {
    /// A sink on the default layout (one stream, `activity-log`).
    pub fn new(url: &str) -> Result<Self, StreamError> {
        Self::builder().build(url)
    }

    /// Options: layout, timeouts.
    pub fn builder() -> RedisStreamSinkBuilder {
        RedisStreamSinkBuilder::default()
    }

    /// The stream layout this sink appends to.
    pub fn layout(&self) -> &StreamLayout {
        &self.inner.layout
    }

    /// What the sink has done so far.
    pub fn stats(&self) -> RedisSinkStats {
        let c = &self.inner.stats;
        RedisSinkStats {
            appended: c.appended.load(Relaxed),
            batches: c.batches.load(Relaxed),
            failed_batches: c.failed_batches.load(Relaxed),
        }
    }
}

/// Builds a [`RedisStreamSink`].
#[derive(Debug, Clone)]
pub struct RedisStreamSinkBuilder {
    layout: StreamLayout,
    connect_timeout: Duration,
    response_timeout: Duration,
}

impl Default for RedisStreamSinkBuilder {
    fn default() -> Self {
        Self {
            layout: StreamLayout::default(),
            connect_timeout: Duration::from_secs(1),
            response_timeout: Duration::from_secs(5),
        }
    }
}

impl RedisStreamSinkBuilder {
    /// The stream(s) to append to (default: one stream, `activity-log`).
    pub fn layout(mut self, layout: StreamLayout) -> Self {
        self.layout = layout;
        self
    }

    /// How long connecting may take before the batch fails as transient
    /// (default 1 s).
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// How long Redis may take to confirm a batch (default 5 s).
    pub fn response_timeout(mut self, timeout: Duration) -> Self {
        self.response_timeout = timeout;
        self
    }

    /// Checks the options and the URL; connects on the first batch, so
    /// this succeeds while Redis is down.
    pub fn build(self, url: &str) -> Result<RedisStreamSink, StreamError> {
        self.layout.validate()?;
        if self.connect_timeout.is_zero() || self.response_timeout.is_zero() {
            return Err(StreamError::Config("timeouts must be greater than zero".into()));
        }
        let link = Link::open(url, self.connect_timeout, self.response_timeout)?;
        Ok(RedisStreamSink { inner: Arc::new(Inner { link, layout: self.layout, stats: Counters::default() }) })
    }
}

#[async_trait]
impl Sink for RedisStreamSink {
    async fn write_batch(&self, batch: &[Activity]) -> Result<(), SinkError> {
        if batch.is_empty() {
            return Ok(());
        }
        let inner = &*self.inner;
        let mut pipe = ::redis::pipe();
        pipe.atomic();
        for activity in batch {
            let key = inner.layout.key_for(activity.tenant.as_deref());
            pipe.cmd("XADD")
                .arg(key)
                .arg("*")
                .arg(ID_FIELD)
                .arg(activity.id.to_string())
                .arg(ACTIVITY_FIELD)
                .arg(entry::encode(activity))
                .ignore();
        }
        let result = match inner.link.get().await {
            Ok(mut conn) => pipe.exec_async(&mut conn).await,
            Err(e) => Err(e),
        };
        match result {
            Ok(()) => {
                inner.stats.appended.fetch_add(batch.len() as u64, Relaxed);
                inner.stats.batches.fetch_add(1, Relaxed);
                Ok(())
            }
            Err(e) => {
                inner.link.after_error(&e).await;
                inner.stats.failed_batches.fetch_add(1, Relaxed);
                // Every failure is worth retrying: a lost connection, Redis
                // loading its AOF, out of memory, a read-only replica. The
                // logger spills to its spool while it lasts.
                let what = if breaks_connection(&e) { "Redis is unreachable" } else { "Redis refused the batch" };
                Err(SinkError::transient(format!("{what}: {e}")).with_source(e))
            }
        }
    }

    fn name(&self) -> &str {
        "redis-stream"
    }

    fn preferred_batch_size(&self) -> Option<usize> {
        Some(1_000)
    }
}
