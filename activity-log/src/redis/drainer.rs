//! [`StreamDrainer`]: a consumer-group member moving stream entries into
//! a store.

use super::entry::{self, ACTIVITY_FIELD, ID_FIELD};
use super::link::Link;
use super::stop::Stop;
use super::trim;
use super::{DrainerStats, StreamError, StreamLayout};
use crate::{Activity, Sink, SinkError};
use ::redis::aio::MultiplexedConnection;
use ::redis::streams::{StreamAutoClaimReply, StreamId, StreamPendingReply, StreamReadReply};
use ::redis::RedisError;
use std::collections::HashSet;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// Reads a stream (or its partitions) as one member of a consumer group
/// and writes the activities into any [`Sink`] — in production a
/// [`PostgresSink`](crate::postgres::PostgresSink) — at least once,
/// relying on the sink's idempotence by id:
///
/// - entries are read with `XREADGROUP` in batches, written with one
///   [`Sink::write_batch`], and `XACK`ed only after the sink returned
///   `Ok`; a transient sink error is retried with backoff for as long as
///   it lasts (the entries stay pending, nothing is acknowledged);
/// - a record the sink permanently rejects (named by
///   [`SinkError::for_record`], or found by halving the batch) is moved
///   to the dead-letter stream ([`StreamLayout::dead_letter_key`]) together
///   with the error, in the same `MULTI` as the batch's `XACK`; so is an
///   entry that holds no activity;
/// - every `claim_interval`, entries pending for longer than
///   `claim_idle` at any consumer (one that died, or hangs) are taken over
///   with `XAUTOCLAIM` and written;
/// - after a (re)connect, the drainer first re-reads its own pending
///   entries (a drainer restarted under the same consumer name resumes
///   what it held);
/// - every `trim_interval`, each stream is trimmed (`XTRIM MINID`) to the
///   oldest entry some group still needs: the oldest pending entry of
///   each group, or what it has not yet been delivered.
///
/// Run it inside an application ([`spawn`](Self::spawn)) or as a small
/// binary of its own ([`run`](Self::run) until a signal). Any number of
/// drainers, in any number of processes, may share a group.
///
/// ```no_run
/// # #[cfg(feature = "postgres")]
/// # async fn drain() -> Result<(), Box<dyn std::error::Error>> {
/// use activity_log::postgres::PostgresSink;
/// use activity_log::redis::{StreamDrainer, StreamLayout};
///
/// let store = PostgresSink::connect("postgres://app@db.example.com/app").await?;
/// let drainer = StreamDrainer::builder()
///     .layout(StreamLayout::new("activities").partitions(4))
///     .consumer(format!("drainer-{}", std::process::id()))
///     .build("redis://127.0.0.1:6379", store)?;
/// // A binary would wait for a signal here (`tokio::signal::ctrl_c()`).
/// let (_stop, stopped) = tokio::sync::oneshot::channel::<()>();
/// let stats = drainer.run(async { let _ = stopped.await; }).await;
/// println!("{stats:?}");
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct StreamDrainer {
    inner: Arc<Inner>,
}

struct Inner {
    link: Link,
    sink: Box<dyn Sink>,
    layout: StreamLayout,
    dead_letter_key: String,
    group: String,
    consumer: String,
    batch_size: usize,
    block: Duration,
    claim_idle: Duration,
    claim_interval: Duration,
    trim_interval: Option<Duration>,
    backoff: (Duration, Duration),
    stats: Mutex<DrainerStats>,
}

impl std::fmt::Debug for Inner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StreamDrainer")
            .field("sink", &self.sink.name())
            .field("layout", &self.layout)
            .field("group", &self.group)
            .field("consumer", &self.consumer)
            .finish_non_exhaustive()
    }
}

/// Builds a [`StreamDrainer`]; every option has a default.
#[derive(Debug, Clone)]
pub struct StreamDrainerBuilder {
    layout: StreamLayout,
    group: String,
    consumer: Option<String>,
    batch_size: usize,
    block: Duration,
    claim_idle: Duration,
    claim_interval: Option<Duration>,
    trim_interval: Option<Duration>,
    backoff: (Duration, Duration),
    connect_timeout: Duration,
    response_timeout: Duration,
}

impl Default for StreamDrainerBuilder {
    fn default() -> Self {
        Self {
            layout: StreamLayout::default(),
            group: "activity-log".into(),
            consumer: None,
            batch_size: 1_000,
            block: Duration::from_millis(500),
            claim_idle: Duration::from_secs(30),
            claim_interval: None,
            trim_interval: Some(Duration::from_secs(5)),
            backoff: (Duration::from_millis(50), Duration::from_secs(2)),
            connect_timeout: Duration::from_secs(1),
            response_timeout: Duration::from_secs(10),
        }
    }
}

impl StreamDrainerBuilder {
    /// The stream(s) to read: the producers' layout (default: one stream,
    /// `activity-log`).
    pub fn layout(mut self, layout: StreamLayout) -> Self {
        self.layout = layout;
        self
    }

    /// The consumer group (default `activity-log`), created on each stream
    /// (from its first entry) when missing.
    pub fn group(mut self, group: impl Into<String>) -> Self {
        self.group = group.into();
        self
    }

    /// This drainer's consumer name, unique within the group. Give a
    /// process slot a stable name (e.g. a pod's) and a restarted drainer
    /// resumes its pending entries at once; the default (`drainer-<pid>-
    /// <random>`) leaves them to be claimed after `claim_idle`.
    pub fn consumer(mut self, consumer: impl Into<String>) -> Self {
        self.consumer = Some(consumer.into());
        self
    }

    /// Entries read per stream per `XREADGROUP` (default 1,000), written
    /// with one [`Sink::write_batch`].
    pub fn batch_size(mut self, size: usize) -> Self {
        self.batch_size = size;
        self
    }

    /// How long one `XREADGROUP` waits for new entries (default 500 ms);
    /// also how long a shutdown may wait for an idle drainer.
    pub fn block(mut self, block: Duration) -> Self {
        self.block = block;
        self
    }

    /// How long an entry must have been pending at another consumer before
    /// this one claims it (default 30 s). Longer than a store outage
    /// usually lasts, so that live drainers rarely take over each other's
    /// entries (harmless, as writes are idempotent, but wasted work).
    pub fn claim_idle(mut self, idle: Duration) -> Self {
        self.claim_idle = idle;
        self
    }

    /// How often to look for entries to claim (default: half of
    /// `claim_idle`).
    pub fn claim_interval(mut self, interval: Duration) -> Self {
        self.claim_interval = Some(interval);
        self
    }

    /// How often to trim the streams behind every group (default 5 s);
    /// `None` never trims.
    pub fn trim_interval(mut self, interval: Option<Duration>) -> Self {
        self.trim_interval = interval;
        self
    }

    /// The retry delay after a failure: `initial`, doubling up to `max`
    /// (default 50 ms to 2 s).
    pub fn backoff(mut self, initial: Duration, max: Duration) -> Self {
        self.backoff = (initial, max);
        self
    }

    /// How long connecting to Redis may take (default 1 s).
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// How long Redis may take to answer, on top of `block` (default 10 s).
    pub fn response_timeout(mut self, timeout: Duration) -> Self {
        self.response_timeout = timeout;
        self
    }

    /// Checks the options and the URL. Connects when run, so this
    /// succeeds while Redis is down.
    pub fn build(self, url: &str, sink: impl Sink) -> Result<StreamDrainer, StreamError> {
        self.layout.validate()?;
        let bad = |what: &str| Err(StreamError::Config(what.into()));
        if self.group.is_empty() {
            return bad("the consumer group name is empty");
        }
        if self.consumer.as_deref() == Some("") {
            return bad("the consumer name is empty");
        }
        if self.batch_size == 0 || self.batch_size > 100_000 {
            return bad("batch_size must be between 1 and 100,000");
        }
        if self.claim_idle < Duration::from_millis(100) {
            return bad("claim_idle must be at least 100 ms");
        }
        if self.backoff.0.is_zero() || self.backoff.1 < self.backoff.0 {
            return bad("backoff needs 0 < initial <= max");
        }
        if self.connect_timeout.is_zero() || self.response_timeout.is_zero() {
            return bad("timeouts must be greater than zero");
        }
        if self.trim_interval.is_some_and(|t| t.is_zero()) || self.claim_interval.is_some_and(|t| t.is_zero()) {
            return bad("intervals must be greater than zero");
        }
        let consumer =
            self.consumer.unwrap_or_else(|| format!("drainer-{}-{:08x}", std::process::id(), fastrand::u32(..)));
        let link = Link::open(url, self.connect_timeout, self.response_timeout + self.block)?;
        Ok(StreamDrainer {
            inner: Arc::new(Inner {
                link,
                sink: Box::new(sink),
                dead_letter_key: self.layout.dead_letter_key(),
                layout: self.layout,
                group: self.group,
                consumer,
                batch_size: self.batch_size,
                block: self.block,
                claim_interval: self.claim_interval.unwrap_or(self.claim_idle / 2),
                claim_idle: self.claim_idle,
                trim_interval: self.trim_interval,
                backoff: self.backoff,
                stats: Mutex::new(DrainerStats::default()),
            }),
        })
    }
}

/// Why a step stopped early.
enum Halt {
    Redis(RedisError),
    Stopped,
}

impl From<RedisError> for Halt {
    fn from(e: RedisError) -> Self {
        Self::Redis(e)
    }
}

/// Where entries came from, for the counters.
#[derive(Clone, Copy)]
enum Origin {
    New,
    Own,
    Claimed,
}

/// A running drainer task (from [`StreamDrainer::spawn`]).
#[derive(Debug)]
pub struct DrainerHandle {
    drainer: StreamDrainer,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<DrainerStats>,
}

impl DrainerHandle {
    /// The drainer's counters so far.
    pub fn stats(&self) -> DrainerStats {
        self.drainer.stats()
    }

    /// The drainer (for [`group_pending`](StreamDrainer::group_pending)
    /// and friends).
    pub fn drainer(&self) -> &StreamDrainer {
        &self.drainer
    }

    /// Stops the drainer after the step it is in (entries it holds but
    /// has not acknowledged stay pending for the group) and returns its
    /// final counters.
    pub async fn shutdown(mut self) -> DrainerStats {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        match (&mut self.task).await {
            Ok(stats) => stats,
            Err(_) => self.drainer.stats(),
        }
    }
}

impl StreamDrainer {
    /// Options; see [`StreamDrainerBuilder`].
    pub fn builder() -> StreamDrainerBuilder {
        StreamDrainerBuilder::default()
    }

    /// This drainer's consumer name.
    pub fn consumer(&self) -> &str {
        &self.inner.consumer
    }

    /// The counters so far (one consistent snapshot).
    pub fn stats(&self) -> DrainerStats {
        *self.inner.stats.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn count(&self, f: impl FnOnce(&mut DrainerStats)) {
        f(&mut self.inner.stats.lock().unwrap_or_else(|e| e.into_inner()));
    }

    /// Runs the drainer on a task of the current tokio runtime until
    /// [`DrainerHandle::shutdown`].
    pub fn spawn(&self) -> DrainerHandle {
        let (stop, stopped) = oneshot::channel::<()>();
        let drainer = self.clone();
        let task = tokio::spawn(async move {
            drainer
                .run(async move {
                    let _ = stopped.await;
                })
                .await
        });
        DrainerHandle { drainer: self.clone(), stop: Some(stop), task }
    }

    /// Drains until `shutdown` completes, then returns the counters. Never
    /// fails: Redis and store errors are counted and retried. Stops
    /// between steps; an idle drainer notices within `block`.
    pub async fn run(&self, shutdown: impl Future<Output = ()> + Send) -> DrainerStats {
        let mut stop = Stop::new(shutdown);
        let inner = &*self.inner;
        let mut delay = inner.backoff.0;
        let mut ready = false;
        let mut own_first = true;
        let mut next_claim = Instant::now() + inner.claim_interval;
        let mut next_trim = inner.trim_interval.map(|t| Instant::now() + t);
        while !stop.check().await {
            let step = async {
                let mut conn = inner.link.get().await?;
                if !ready {
                    self.create_groups(&mut conn).await?;
                    ready = true;
                }
                if own_first {
                    let n = self.read(&mut conn, "0", Origin::Own, &mut stop).await?;
                    own_first = n > 0;
                    return Ok(());
                }
                if Instant::now() >= next_claim {
                    self.claim(&mut conn, &mut stop).await?;
                    next_claim = Instant::now() + inner.claim_interval;
                }
                if let (Some(at), Some(every)) = (next_trim, inner.trim_interval) {
                    if Instant::now() >= at {
                        let trimmed = trim::behind_every_group(&mut conn, inner.layout.keys()).await?;
                        self.count(|s| s.trimmed += trimmed);
                        next_trim = Some(Instant::now() + every);
                    }
                }
                self.read(&mut conn, ">", Origin::New, &mut stop).await?;
                Ok::<(), Halt>(())
            };
            match step.await {
                Ok(()) => delay = inner.backoff.0,
                Err(Halt::Stopped) => break,
                Err(Halt::Redis(e)) => {
                    self.count(|s| s.redis_errors += 1);
                    tracing::warn!(consumer = %inner.consumer, error = %e, "activity stream drainer: Redis error; retrying");
                    inner.link.after_error(&e).await;
                    // After a reconnect, re-read what this consumer holds.
                    own_first = true;
                    ready = false;
                    if stop.sleep(delay).await {
                        break;
                    }
                    delay = (delay * 2).min(inner.backoff.1);
                }
            }
        }
        self.stats()
    }

    async fn create_groups(&self, conn: &mut MultiplexedConnection) -> Result<(), RedisError> {
        for key in self.inner.layout.keys() {
            let created: Result<(), RedisError> = ::redis::cmd("XGROUP")
                .arg("CREATE")
                .arg(key)
                .arg(&self.inner.group)
                .arg("0")
                .arg("MKSTREAM")
                .exec_async(conn)
                .await;
            match created {
                Err(e) if e.code() != Some("BUSYGROUP") => return Err(e),
                _ => {}
            }
        }
        Ok(())
    }

    /// One `XREADGROUP` over every stream from `id` (`>` new, `0` own
    /// pending), processed; returns how many entries it got.
    async fn read<F: Future<Output = ()> + Send>(
        &self,
        conn: &mut MultiplexedConnection,
        id: &str,
        origin: Origin,
        stop: &mut Stop<F>,
    ) -> Result<usize, Halt> {
        let inner = &*self.inner;
        let keys = inner.layout.keys();
        let mut cmd = ::redis::cmd("XREADGROUP");
        cmd.arg("GROUP").arg(&inner.group).arg(&inner.consumer).arg("COUNT").arg(inner.batch_size);
        if id == ">" {
            cmd.arg("BLOCK").arg(inner.block.as_millis().max(1) as u64);
        }
        cmd.arg("STREAMS").arg(keys);
        for _ in keys {
            cmd.arg(id);
        }
        let reply: Option<StreamReadReply> = cmd.query_async(conn).await?;
        let entries: Vec<(String, StreamId)> = reply
            .map(|r| r.keys.into_iter().flat_map(|k| k.ids.into_iter().map(move |e| (k.key.clone(), e))).collect())
            .unwrap_or_default();
        let n = entries.len();
        if n > 0 {
            self.process(conn, entries, origin, stop).await?;
        }
        Ok(n)
    }

    /// Claims (and processes) every entry idle for `claim_idle` at any
    /// consumer of the group.
    async fn claim<F: Future<Output = ()> + Send>(
        &self,
        conn: &mut MultiplexedConnection,
        stop: &mut Stop<F>,
    ) -> Result<(), Halt> {
        let inner = &*self.inner;
        for key in inner.layout.keys() {
            let mut cursor = "0-0".to_owned();
            loop {
                let reply: StreamAutoClaimReply = ::redis::cmd("XAUTOCLAIM")
                    .arg(key)
                    .arg(&inner.group)
                    .arg(&inner.consumer)
                    .arg(inner.claim_idle.as_millis() as u64)
                    .arg(&cursor)
                    .arg("COUNT")
                    .arg(inner.batch_size)
                    .query_async(conn)
                    .await?;
                if !reply.deleted_ids.is_empty() {
                    let n = reply.deleted_ids.len() as u64;
                    tracing::warn!(stream = %key, entries = n, "activity stream drainer: pending entries were deleted from the stream before being acknowledged");
                    self.count(|s| s.vanished += n);
                }
                if !reply.claimed.is_empty() {
                    let entries = reply.claimed.into_iter().map(|e| (key.clone(), e)).collect();
                    self.process(conn, entries, Origin::Claimed, stop).await?;
                }
                if reply.next_stream_id == "0-0" {
                    break;
                }
                cursor = reply.next_stream_id;
            }
        }
        Ok(())
    }

    /// Writes `entries` to the sink, dead-letters what it rejects, and
    /// acknowledges them all. The entries go back to the group unacknowledged
    /// (counted `released`) if Redis fails or the drainer stops first.
    async fn process<F: Future<Output = ()> + Send>(
        &self,
        conn: &mut MultiplexedConnection,
        entries: Vec<(String, StreamId)>,
        origin: Origin,
        stop: &mut Stop<F>,
    ) -> Result<(), Halt> {
        let n = entries.len() as u64;
        self.count(|s| {
            match origin {
                Origin::New => s.read += n,
                Origin::Own => s.redelivered += n,
                Origin::Claimed => s.claimed += n,
            }
            s.in_hand += n;
        });
        let result = self.store_and_ack(conn, &entries, stop).await;
        match &result {
            Ok((acked, dead)) => self.count(|s| {
                s.acknowledged += acked;
                s.acked_elsewhere += n - acked;
                s.dead_lettered += dead;
                s.in_hand -= n;
            }),
            Err(_) => self.count(|s| {
                s.released += n;
                s.in_hand -= n;
            }),
        }
        result.map(|_| ())
    }

    /// Returns (entries `XACK` retired, entries dead-lettered).
    async fn store_and_ack<F: Future<Output = ()> + Send>(
        &self,
        conn: &mut MultiplexedConnection,
        entries: &[(String, StreamId)],
        stop: &mut Stop<F>,
    ) -> Result<(u64, u64), Halt> {
        let inner = &*self.inner;
        // Decode, keeping the first of any id the stream holds twice (a
        // producer's retry after a lost reply).
        let mut batch = Vec::with_capacity(entries.len());
        let mut origin_of = Vec::with_capacity(entries.len());
        let mut rejected: Vec<(usize, String)> = Vec::new();
        let mut seen = HashSet::with_capacity(entries.len());
        for (i, (_, e)) in entries.iter().enumerate() {
            match entry::decode(e) {
                Ok(activity) => {
                    if seen.insert(activity.id) {
                        batch.push(activity);
                        origin_of.push(i);
                    }
                }
                Err(why) => rejected.push((i, why.to_string())),
            }
        }
        for (index, error) in self.store(&batch, stop).await? {
            rejected.push((origin_of[index], error.to_string()));
        }

        let mut pipe = ::redis::pipe();
        pipe.atomic();
        for (i, error) in &rejected {
            let (key, e) = &entries[*i];
            tracing::error!(stream = %key, entry = %e.id, error = %error, "activity moved to the dead-letter stream");
            let cmd = pipe.cmd("XADD").arg(&inner.dead_letter_key).arg("*");
            if let Some(id) = e.get::<String>(ID_FIELD) {
                cmd.arg(ID_FIELD).arg(id);
            }
            if let Some(payload) = entry::payload(e) {
                cmd.arg(ACTIVITY_FIELD).arg(payload);
            }
            cmd.arg("stream").arg(key).arg("entry").arg(&e.id).arg("error").arg(error).ignore();
        }
        let mut acks = 0;
        for key in inner.layout.keys() {
            let ids: Vec<&str> = entries.iter().filter(|(k, _)| k == key).map(|(_, e)| e.id.as_str()).collect();
            if !ids.is_empty() {
                pipe.cmd("XACK").arg(key).arg(&inner.group).arg(ids);
                acks += 1;
            }
        }
        let acked: Vec<u64> = pipe.query_async(conn).await?;
        debug_assert_eq!(acked.len(), acks);
        Ok((acked.iter().sum(), rejected.len() as u64))
    }

    /// Writes `batch` to the sink, retrying transient errors until they
    /// pass (or the drainer stops), splitting around permanently rejected
    /// records; returns those (index in `batch`, error).
    async fn store<F: Future<Output = ()> + Send>(
        &self,
        batch: &[Activity],
        stop: &mut Stop<F>,
    ) -> Result<Vec<(usize, SinkError)>, Halt> {
        let inner = &*self.inner;
        let mut rejected = Vec::new();
        let mut parts = vec![(0, batch.len())];
        while let Some((start, len)) = parts.pop() {
            if len == 0 {
                continue;
            }
            let part = &batch[start..start + len];
            let mut delay = inner.backoff.0;
            loop {
                match inner.sink.write_batch(part).await {
                    Ok(()) => {
                        self.count(|s| s.written += len as u64);
                        break;
                    }
                    Err(e) if e.is_transient() => {
                        self.count(|s| s.retried += 1);
                        tracing::warn!(sink = inner.sink.name(), error = %e, "activity stream drainer: the store failed; retrying");
                        if stop.sleep(delay).await {
                            return Err(Halt::Stopped);
                        }
                        delay = (delay * 2).min(inner.backoff.1);
                    }
                    Err(e) => {
                        match e.record() {
                            Some(i) if i < len => {
                                parts.push((start, i));
                                parts.push((start + i + 1, len - i - 1));
                                rejected.push((start + i, e));
                            }
                            _ if len == 1 => rejected.push((start, e)),
                            _ => {
                                parts.push((start, len / 2));
                                parts.push((start + len / 2, len - len / 2));
                            }
                        }
                        break;
                    }
                }
            }
        }
        Ok(rejected)
    }

    /// Entries delivered to the group and not yet acknowledged, summed
    /// over the streams (`XPENDING`), by consumer.
    pub async fn group_pending(&self) -> Result<GroupPending, StreamError> {
        let inner = &*self.inner;
        let mut conn = inner.link.get().await.map_err(StreamError::redis("connect"))?;
        let mut total = GroupPending::default();
        for key in inner.layout.keys() {
            let reply: StreamPendingReply = ::redis::cmd("XPENDING")
                .arg(key)
                .arg(&inner.group)
                .query_async(&mut conn)
                .await
                .map_err(StreamError::redis("XPENDING"))?;
            if let StreamPendingReply::Data(data) = reply {
                total.total += data.count as u64;
                for c in data.consumers {
                    match total.by_consumer.iter_mut().find(|(name, _)| *name == c.name) {
                        Some((_, n)) => *n += c.pending as u64,
                        None => total.by_consumer.push((c.name, c.pending as u64)),
                    }
                }
            }
        }
        Ok(total)
    }

    /// Up to `count` entries of the dead-letter stream, oldest first.
    pub async fn dead_letters(&self, count: usize) -> Result<Vec<DeadLetter>, StreamError> {
        let inner = &*self.inner;
        let mut conn = inner.link.get().await.map_err(StreamError::redis("connect"))?;
        let reply: ::redis::streams::StreamRangeReply = ::redis::cmd("XRANGE")
            .arg(&inner.dead_letter_key)
            .arg("-")
            .arg("+")
            .arg("COUNT")
            .arg(count)
            .query_async(&mut conn)
            .await
            .map_err(StreamError::redis("XRANGE"))?;
        Ok(reply.ids.iter().map(DeadLetter::from_entry).collect())
    }
}

/// The group's pending entries (see [`StreamDrainer::group_pending`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct GroupPending {
    /// Delivered and not acknowledged, over all streams.
    pub total: u64,
    /// The same, per consumer holding some.
    pub by_consumer: Vec<(String, u64)>,
}

impl GroupPending {
    /// What `consumer` holds.
    pub fn of(&self, consumer: &str) -> u64 {
        self.by_consumer.iter().find(|(name, _)| name == consumer).map_or(0, |(_, n)| *n)
    }
}

/// One entry of the dead-letter stream.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct DeadLetter {
    /// Its id in the dead-letter stream.
    pub entry_id: String,
    /// The activity's id, if the original entry had one.
    pub activity_id: Option<crate::Uuid>,
    /// The stream the entry was read from.
    pub stream: String,
    /// Its id there.
    pub source_entry: String,
    /// Why the store (or the decoder) refused it.
    pub error: String,
    /// The activity, if the payload decodes.
    pub activity: Option<Activity>,
}

impl DeadLetter {
    fn from_entry(e: &StreamId) -> Self {
        let text = |field: &str| e.get::<String>(field).unwrap_or_default();
        Self {
            entry_id: e.id.clone(),
            activity_id: e.get::<String>(ID_FIELD).and_then(|s| s.parse().ok()),
            stream: text("stream"),
            source_entry: text("entry"),
            error: text("error"),
            activity: entry::decode(e).ok(),
        }
    }
}
