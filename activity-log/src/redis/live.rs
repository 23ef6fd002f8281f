//! [`RedisLiveFeed`]: the live tail of every instance, read from the
//! stream itself.
//!
//! Why the stream and not Redis pub/sub or PostgreSQL `LISTEN/NOTIFY`:
//!
//! - it costs the producers nothing: the activities are in the stream
//!   already, whereas pub/sub would add a `PUBLISH` per activity to every
//!   instance's hot path (and `NOTIFY` a trigger per row in the store,
//!   serialised at commit, on the database we most need to keep fast);
//! - it has no gaps: `XREAD` resumes from the last entry it saw after a
//!   reconnect, where pub/sub drops whatever was published meanwhile;
//! - it shows what will be stored, in the order of the stream, and it sees
//!   an activity as soon as it is appended, not after a drainer wrote it.
//!
//! A plain `XREAD` (not a consumer group) reads without acknowledging, so
//! any number of feeds read the same entries without disturbing the
//! drainers. The feed carries every tenant's activities: the HTTP router
//! filters each subscriber to its principal's tenant, as it does for the
//! local feed.

use super::entry;
use super::link::Link;
use super::{StreamError, StreamLayout};
use crate::Activity;
use ::redis::aio::MultiplexedConnection;
use ::redis::streams::{StreamRangeReply, StreamReadReply};
use ::redis::RedisError;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::broadcast;
use tokio::task::JoinHandle;

/// A live feed of the activities every instance appends to the stream(s)
/// of a [`StreamLayout`]: a task `XREAD`s from the end of each stream (as
/// of [`connect`](RedisLiveFeedBuilder::connect)) and broadcasts each
/// activity to every [`subscribe`](Self::subscribe)r. With the `axum`
/// feature it is a [`LiveFeed`](crate::http::LiveFeed) for the HTTP
/// router's live stream.
///
/// ```no_run
/// use activity_log::redis::{RedisLiveFeed, StreamLayout};
///
/// # async fn tail() -> Result<(), Box<dyn std::error::Error>> {
/// let feed = RedisLiveFeed::builder().layout(StreamLayout::new("activities")).connect("redis://127.0.0.1:6379").await?;
/// let mut rx = feed.subscribe();
/// while let Ok(activity) = rx.recv().await {
///     println!("{} {}", activity.occurred_at, activity.activity_type);
/// }
/// # Ok(()) }
/// ```
///
/// The task stops when the last clone of the feed is dropped.
#[derive(Debug, Clone)]
pub struct RedisLiveFeed {
    sender: broadcast::Sender<Activity>,
    _task: Arc<AbortOnDrop>,
}

#[derive(Debug)]
struct AbortOnDrop(JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Builds a [`RedisLiveFeed`].
#[derive(Debug, Clone)]
pub struct RedisLiveFeedBuilder {
    layout: StreamLayout,
    capacity: usize,
    block: Duration,
}

impl Default for RedisLiveFeedBuilder {
    fn default() -> Self {
        Self { layout: StreamLayout::default(), capacity: 1_024, block: Duration::from_secs(1) }
    }
}

impl RedisLiveFeedBuilder {
    /// The stream(s) to follow: the producers' layout.
    pub fn layout(mut self, layout: StreamLayout) -> Self {
        self.layout = layout;
        self
    }

    /// How many activities a slow subscriber may fall behind before it
    /// gets `Lagged` (default 1,024).
    pub fn capacity(mut self, capacity: usize) -> Self {
        self.capacity = capacity;
        self
    }

    /// Connects, notes the end of each stream, and starts following from
    /// there on a task of the current tokio runtime. Later Redis outages
    /// are retried; the feed resumes where it was.
    pub async fn connect(self, url: &str) -> Result<RedisLiveFeed, StreamError> {
        self.layout.validate()?;
        if self.capacity == 0 {
            return Err(StreamError::Config("the live feed's capacity must be at least 1".into()));
        }
        let link = Link::open(url, Duration::from_secs(1), self.block + Duration::from_secs(5))?;
        let mut conn = link.dedicated().await.map_err(StreamError::redis("connect"))?;
        let mut ids = Vec::with_capacity(self.layout.keys().len());
        for key in self.layout.keys() {
            let last: StreamRangeReply = ::redis::cmd("XREVRANGE")
                .arg(key)
                .arg("+")
                .arg("-")
                .arg("COUNT")
                .arg(1)
                .query_async(&mut conn)
                .await
                .map_err(StreamError::redis("XREVRANGE"))?;
            ids.push(last.ids.first().map_or_else(|| "0-0".to_owned(), |e| e.id.clone()));
        }
        let (sender, _) = broadcast::channel(self.capacity);
        let follower =
            Follower { link, keys: self.layout.keys().to_vec(), ids, block: self.block, sender: sender.clone() };
        let task = tokio::spawn(follower.run(conn));
        Ok(RedisLiveFeed { sender, _task: Arc::new(AbortOnDrop(task)) })
    }
}

impl RedisLiveFeed {
    /// Options; see [`RedisLiveFeedBuilder`].
    pub fn builder() -> RedisLiveFeedBuilder {
        RedisLiveFeedBuilder::default()
    }

    /// A receiver of every activity appended from now on, by any instance.
    pub fn subscribe(&self) -> broadcast::Receiver<Activity> {
        self.sender.subscribe()
    }
}

#[cfg(feature = "axum")]
impl crate::http::LiveFeed for RedisLiveFeed {
    fn subscribe(&self) -> broadcast::Receiver<Activity> {
        RedisLiveFeed::subscribe(self)
    }
}

struct Follower {
    link: Link,
    keys: Vec<String>,
    /// The last id seen per stream.
    ids: Vec<String>,
    block: Duration,
    sender: broadcast::Sender<Activity>,
}

impl Follower {
    async fn run(mut self, first: MultiplexedConnection) {
        let mut conn = Some(first);
        let mut delay = Duration::from_millis(50);
        loop {
            let result = match conn.as_mut() {
                Some(c) => self.read(c).await,
                None => match self.link.dedicated().await {
                    Ok(c) => {
                        conn = Some(c);
                        continue;
                    }
                    Err(e) => Err(e),
                },
            };
            match result {
                Ok(()) => delay = Duration::from_millis(50),
                Err(e) => {
                    tracing::warn!(error = %e, "activity live feed: Redis error; reconnecting");
                    conn = None;
                    tokio::time::sleep(delay).await;
                    delay = (delay * 2).min(Duration::from_secs(2));
                }
            }
        }
    }

    async fn read(&mut self, conn: &mut MultiplexedConnection) -> Result<(), RedisError> {
        let mut cmd = ::redis::cmd("XREAD");
        cmd.arg("COUNT").arg(1_000).arg("BLOCK").arg(self.block.as_millis().max(1) as u64).arg("STREAMS");
        cmd.arg(&self.keys).arg(&self.ids);
        let reply: Option<StreamReadReply> = cmd.query_async(conn).await?;
        for stream in reply.map(|r| r.keys).unwrap_or_default() {
            let Some(slot) = self.keys.iter().position(|k| *k == stream.key) else { continue };
            for e in &stream.ids {
                match entry::decode(e) {
                    // No subscriber right now is not an error.
                    Ok(activity) => drop(self.sender.send(activity)),
                    Err(why) => {
                        tracing::warn!(stream = %stream.key, entry = %e.id, error = %why, "activity live feed: skipped an entry that holds no activity")
                    }
                }
                self.ids[slot] = e.id.clone();
            }
        }
        Ok(())
    }
}
