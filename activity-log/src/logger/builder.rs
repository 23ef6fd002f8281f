//! Configuring and starting an [`ActivityLogger`].

use super::config::{Config, DeadLetterHook, Durability, OverflowPolicy, SpillConfig};
use super::config::{SEGMENT_BYTES, SPILL_AFTER, SPOOL_MAX_BYTES};
use super::ActivityLogger;
use crate::query::{ActivityStore, RetainingSink, RetentionTask};
use crate::spool::{OpenError, Recovered, Spool};
use crate::{Activity, Error, MemorySink, Redactor, Result, Sink, SinkError};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// Configures an [`ActivityLogger`]; made by [`ActivityLogger::builder`].
///
/// Options are stored as given, in any order, and checked together by
/// [`build`](Self::build), which says what conflicts instead of quietly
/// choosing for you.
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
///     .build()?;
/// # drop(logger); Ok::<(), activity_log::Error>(())
/// ```
#[derive(Default)]
#[must_use = "a logger builder does nothing until `build` is called"]
pub struct ActivityLoggerBuilder {
    config: Config,
    sink: Option<Box<dyn Sink>>,
    retention: Option<(Arc<dyn ActivityStore>, Duration, Duration)>,
    batch_size_set: bool,
    overflow: Option<OverflowPolicy>,
    spill_dir: Option<PathBuf>,
    spool_max_bytes: Option<u64>,
    spill_after: Option<Duration>,
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

    /// Most activities in the in-memory queue (default 1,048,576). The
    /// queue grows in small blocks as it fills, so a large bound costs
    /// nothing until a burst uses it; [`queue_max_bytes`](Self::queue_max_bytes)
    /// is usually the bound that matters.
    pub fn queue_capacity(mut self, capacity: usize) -> Self {
        self.config.queue_capacity = capacity.max(1);
        self
    }

    /// Most bytes in the in-memory queue, counted as each activity's
    /// encoded size (default 128 MiB: a burst of 100,000 typical activities
    /// of about 400 bytes takes a third of it).
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

    /// What `log_async` does when the in-memory queue is full (default
    /// [`OverflowPolicy::Spill`] with a [`spill_dir`](Self::spill_dir),
    /// else [`OverflowPolicy::DropNewest`]).
    pub fn overflow(mut self, policy: OverflowPolicy) -> Self {
        self.overflow = Some(policy);
        self
    }

    /// When an accepted activity is safe from the death of the process
    /// (default [`Durability::MemoryFirst`]); see [`Durability`] for what
    /// each mode keeps under SIGKILL and power loss.
    /// [`Durability::WriteAhead`] needs a [`spill_dir`](Self::spill_dir).
    ///
    /// ```
    /// use activity_log::{ActivityLogger, Durability, MemorySink};
    /// # let dir = tempfile::tempdir()?;
    /// let logger = ActivityLogger::builder()
    ///     .sink(MemorySink::new())
    ///     .spill_dir(dir.path().join("activity-spool"))
    ///     .durability(Durability::WriteAhead) // on disk before log_async returns
    ///     .build()?;
    /// # drop(logger); Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn durability(mut self, durability: Durability) -> Self {
        self.config.durability = durability;
        self
    }

    /// How long one sink write may take before it is abandoned and retried
    /// (default 10 s). Sinks are idempotent by id, so a retried write that
    /// had landed is not duplicated.
    pub fn write_timeout(mut self, timeout: Duration) -> Self {
        self.config.write_timeout = timeout.max(Duration::from_millis(1));
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
    ///     .build()?;
    /// # drop(logger); Ok::<(), activity_log::Error>(())
    /// ```
    pub fn retention(mut self, store: impl ActivityStore, max_age: Duration, interval: Duration) -> Self {
        self.retention = Some((Arc::new(store), max_age, interval));
        self
    }

    /// Makes the logger lossless when the queue overflows or the sink is
    /// down: activities go to an append-only spool in `dir` (checksummed,
    /// fsynced every `batch_timeout`) and are replayed in order when the
    /// sink takes writes again — also by the next process opened on the
    /// same `dir` after a crash. One logger owns a directory at a time: a
    /// second one gets [`Error::SpoolLocked`] from `build`.
    ///
    /// ```
    /// # let dir = tempfile::tempdir()?;
    /// let logger = activity_log::ActivityLogger::builder().spill_dir(dir.path().join("spool")).build()?;
    /// # drop(logger); Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn spill_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.spill_dir = Some(dir.into());
        self
    }

    /// The most the spool may hold on disk (default 1 GiB); beyond it,
    /// activities are dropped and counted. Needs a [`spill_dir`](Self::spill_dir).
    pub fn spool_max_bytes(mut self, bytes: u64) -> Self {
        self.spool_max_bytes = Some(bytes);
        self
    }

    /// How long the sink may keep failing, or leave a write unanswered,
    /// before activities go to the spool instead of waiting in memory
    /// (default 2 s): the unanswered write is abandoned (and its batch
    /// spooled, to be retried: writes are idempotent by id), what is queued
    /// is moved to the spool, and new activities go there directly until
    /// the sink answers again. Needs a [`spill_dir`](Self::spill_dir).
    pub fn spill_after(mut self, after: Duration) -> Self {
        self.spill_after = Some(after);
        self
    }

    /// Checks the options, opens the spool (if any) and starts the worker
    /// thread.
    ///
    /// Works inside or outside a tokio runtime: the worker runs on its own
    /// thread with its own runtime, so neither a current-thread runtime nor
    /// a runtime shutting down can stall it.
    ///
    /// # Errors
    /// [`Error::Config`] when options conflict or need a spill directory
    /// that was not given; [`Error::SpoolLocked`] or [`Error::Spool`] when
    /// the spill directory is owned by another logger or can't be opened.
    /// A lossless configuration is never turned into a lossy one.
    pub fn build(self) -> Result<ActivityLogger> {
        let mut config = self.config;
        config.spill = self.spill_dir.map(|dir| SpillConfig {
            dir,
            max_bytes: self.spool_max_bytes.unwrap_or(SPOOL_MAX_BYTES),
            segment_bytes: SEGMENT_BYTES,
            after: self.spill_after.unwrap_or(SPILL_AFTER),
        });
        let spilling = config.spill.is_some();
        config.overflow =
            self.overflow.unwrap_or(if spilling { OverflowPolicy::Spill } else { OverflowPolicy::DropNewest });
        let needs_dir = |option: &str| Error::Config(format!("`{option}` needs `spill_dir`"));
        if !spilling {
            if config.overflow == OverflowPolicy::Spill {
                return Err(needs_dir("overflow(OverflowPolicy::Spill)"));
            }
            if config.durability == Durability::WriteAhead {
                return Err(needs_dir("durability(Durability::WriteAhead)"));
            }
            if self.spool_max_bytes.is_some() {
                return Err(needs_dir("spool_max_bytes"));
            }
            if self.spill_after.is_some() {
                return Err(needs_dir("spill_after"));
            }
        }
        if config.durability == Durability::WriteAhead && config.overflow != OverflowPolicy::Spill {
            return Err(Error::Config(format!(
                "`durability(Durability::WriteAhead)` keeps every activity in the spool; `overflow({:?})` conflicts with it",
                config.overflow
            )));
        }
        let mut sink = self.sink.unwrap_or_else(|| Box::new(MemorySink::new()));
        if !self.batch_size_set {
            if let Some(size) = sink.preferred_batch_size() {
                config.batch_size = size.clamp(1, config.queue_capacity);
            }
        }
        let spool = config.spill.as_ref().map(open_spool).transpose()?;
        if let Some((store, max_age, interval)) = self.retention {
            // The worker owns the sink: the task stops when the worker ends.
            sink = Box::new(RetainingSink { sink, task: RetentionTask::start(store, max_age, interval) });
        }
        Ok(ActivityLogger::start(config, sink, spool))
    }
}

fn open_spool(spill: &SpillConfig) -> Result<(Spool, Recovered)> {
    Spool::open(&spill.dir, spill.max_bytes, spill.segment_bytes).map_err(|e| match e {
        OpenError::Locked { pid } => Error::SpoolLocked { dir: spill.dir.clone(), pid },
        OpenError::Io(e) => Error::Spool { dir: spill.dir.clone(), reason: e.to_string() },
    })
}
