//! Configuring and starting an [`ActivityLogger`].

use super::config::{Config, DeadLetterHook, OverflowPolicy, SpillConfig};
use super::ActivityLogger;
use crate::query::{ActivityStore, RetainingSink, RetentionTask};
use crate::{Activity, MemorySink, Redactor, Sink, SinkError};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// Configures an [`ActivityLogger`]; made by [`ActivityLogger::builder`].
///
/// ```
/// use activity_log::{ActivityLogger, MemorySink, OverflowPolicy};
/// use std::time::Duration;
///
/// let sink = MemorySink::new();
/// let logger = ActivityLogger::builder()
///     .sink(sink.clone())
///     .batch_size(1000)
///     .batch_timeout(Duration::from_millis(200))
///     .queue_capacity(100_000)
///     .overflow(OverflowPolicy::DropNewest)
///     .redact_keys(["national_id"])
///     .build();
/// # drop(logger);
/// ```
#[derive(Default)]
#[must_use = "a logger builder does nothing until `build` is called"]
pub struct ActivityLoggerBuilder {
    config: Config,
    sink: Option<Box<dyn Sink>>,
    retention: Option<(Arc<dyn ActivityStore>, Duration, Duration)>,
    batch_size_set: bool,
}

impl std::fmt::Debug for ActivityLoggerBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ActivityLoggerBuilder")
            .field("config", &self.config)
            .field("sink", &self.sink.as_ref().map(|s| s.name()))
            .finish()
    }
}

impl ActivityLoggerBuilder {
    /// Where activities are written. Without one, a [`MemorySink`] is used.
    pub fn sink(mut self, sink: impl Sink) -> Self {
        self.sink = Some(Box::new(sink));
        self
    }

    /// Most activities in the queue (default 32,768). The queue's slots are
    /// allocated up front (about 450 bytes each).
    pub fn queue_capacity(mut self, capacity: usize) -> Self {
        self.config.queue_capacity = capacity.max(1);
        self
    }

    /// Most approximate bytes in the queue (default 64 MiB).
    pub fn queue_max_bytes(mut self, bytes: usize) -> Self {
        self.config.queue_max_bytes = bytes.max(1);
        self
    }

    /// Most activities per sink write (default: the sink's
    /// [`preferred_batch_size`](Sink::preferred_batch_size), else 512).
    pub fn batch_size(mut self, size: usize) -> Self {
        self.config.batch_size = size.max(1);
        self.batch_size_set = true;
        self
    }

    /// Longest an activity waits in the queue before a partial batch is
    /// written (default 100 ms).
    pub fn batch_timeout(mut self, timeout: Duration) -> Self {
        self.config.batch_timeout = timeout.max(Duration::from_millis(1));
        self
    }

    /// What `log_async` does when the queue is full (default
    /// [`OverflowPolicy::DropNewest`]).
    pub fn overflow(mut self, policy: OverflowPolicy) -> Self {
        self.config.overflow = policy;
        self
    }

    /// How often a transient sink error is retried before the batch is
    /// given up (default 10; `None`: forever).
    pub fn max_retries(mut self, retries: Option<u32>) -> Self {
        self.config.max_retries = retries;
        self
    }

    /// The first and the longest pause between retries (default 50 ms and
    /// 10 s); pauses double in between, with jitter.
    pub fn backoff(mut self, initial: Duration, max: Duration) -> Self {
        self.config.initial_backoff = initial;
        self.config.max_backoff = max.max(initial);
        self
    }

    /// How long dropping the last handle without `shutdown` may spend
    /// writing what is queued (default 5 s).
    pub fn drop_timeout(mut self, timeout: Duration) -> Self {
        self.config.drop_timeout = timeout;
        self
    }

    /// How far a live-tail subscriber may fall behind before it lags
    /// (default 1,024 activities).
    pub fn subscriber_capacity(mut self, capacity: usize) -> Self {
        self.config.subscriber_capacity = capacity.max(1);
        self
    }

    /// Replaces the redactor (default: [`Redactor::default`]).
    pub fn redactor(mut self, redactor: Redactor) -> Self {
        self.config.redactor = redactor;
        self
    }

    /// Adds key fragments to redact, on top of the defaults.
    pub fn redact_keys<I, S>(mut self, keys: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        self.config.redactor = self.config.redactor.with_keys(keys);
        self
    }

    /// Called with every activity the logger gives up on (quarantined or
    /// failed), from the worker thread. The default logs its id and type
    /// through `tracing` at error level.
    pub fn dead_letter(mut self, hook: impl Fn(&Activity, &SinkError) + Send + Sync + 'static) -> Self {
        let hook: DeadLetterHook = Arc::new(hook);
        self.config.dead_letter = Some(hook);
        self
    }

    /// Deletes activities older than `max_age` from `store` every
    /// `interval` (first when the logger starts), on a background thread
    /// that stops with the logger; see [`RetentionTask`]. The usual horizon
    /// is [`DEFAULT_RETENTION`](crate::query::DEFAULT_RETENTION), 90 days.
    ///
    /// ```
    /// use activity_log::query::DEFAULT_RETENTION;
    /// use activity_log::{ActivityLogger, MemorySink};
    /// use std::time::Duration;
    ///
    /// let store = MemorySink::new();
    /// let logger = ActivityLogger::builder()
    ///     .sink(store.clone())
    ///     .retention(store, DEFAULT_RETENTION, Duration::from_secs(3600))
    ///     .build();
    /// # drop(logger);
    /// ```
    pub fn retention(mut self, store: impl ActivityStore, max_age: Duration, interval: Duration) -> Self {
        self.retention = Some((Arc::new(store), max_age, interval));
        self
    }

    /// Makes the logger lossless when the queue overflows or the sink is
    /// down: activities go to an append-only spool in `dir` (checksummed,
    /// fsynced in groups) and are replayed in order when the sink takes
    /// writes again — also by the next process opened on the same `dir`
    /// after a crash. Sets the overflow policy to [`OverflowPolicy::Spill`].
    ///
    /// ```
    /// # let dir = std::env::temp_dir().join(format!("spool-doc-{}", std::process::id()));
    /// let logger = activity_log::ActivityLogger::builder().spill_dir(&dir).build();
    /// # drop(logger); let _ = std::fs::remove_dir_all(&dir);
    /// ```
    pub fn spill_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.config.spill = Some(SpillConfig::new(dir.into()));
        self.config.overflow = OverflowPolicy::Spill;
        self
    }

    /// The most the spool may hold on disk (default 1 GiB); beyond it,
    /// activities are dropped and counted. Needs [`spill_dir`](Self::spill_dir) first.
    pub fn spool_max_bytes(mut self, bytes: u64) -> Self {
        if let Some(spill) = &mut self.config.spill {
            spill.max_bytes = bytes;
        }
        self
    }

    /// How long the sink may keep failing before batches are spilled to
    /// disk instead of being retried in memory (default 2 s). Needs
    /// [`spill_dir`](Self::spill_dir) first.
    pub fn spill_after(mut self, after: Duration) -> Self {
        if let Some(spill) = &mut self.config.spill {
            spill.after = after;
        }
        self
    }

    /// Starts the worker thread and returns the logger.
    ///
    /// Works inside or outside a tokio runtime: the worker runs on its own
    /// thread with its own runtime, so neither a current-thread runtime nor
    /// a runtime shutting down can stall it.
    pub fn build(self) -> ActivityLogger {
        let mut config = self.config;
        let mut sink = self.sink.unwrap_or_else(|| Box::new(MemorySink::new()));
        if !self.batch_size_set {
            if let Some(size) = sink.preferred_batch_size() {
                config.batch_size = size.clamp(1, config.queue_capacity);
            }
        }
        if let Some((store, max_age, interval)) = self.retention {
            // The worker owns the sink: the task stops when the worker ends.
            sink = Box::new(RetainingSink { sink, task: RetentionTask::start(store, max_age, interval) });
        }
        ActivityLogger::start(config, sink)
    }
}
