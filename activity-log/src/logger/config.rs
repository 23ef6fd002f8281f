//! Tunables of the logger, with their defaults.

use crate::{Activity, Redactor, SinkError};
use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// What `log_async` does when the queue is full.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum OverflowPolicy {
    /// Drop the new activity; count it in `Stats::dropped` and warn once.
    /// `log_async` never blocks. The default.
    #[default]
    DropNewest,
    /// Append the activity to the on-disk spool (see
    /// [`ActivityLoggerBuilder::spill_dir`](crate::ActivityLoggerBuilder::spill_dir)),
    /// to be written when the worker catches up; `log_async` does not wait
    /// for the sink. The default once a spill directory is configured. When
    /// the spool is full too, the activity is dropped and counted.
    Spill,
    /// Block the calling thread until there is room. For producer threads
    /// outside async code; in async code use
    /// [`ActivityLogger::log`](crate::ActivityLogger::log)`.await`, which
    /// waits without blocking under any policy.
    Wait,
}

/// Called with each activity the logger gives up on: quarantined (the sink
/// refused it permanently) or failed (retries exhausted, shutdown deadline).
pub type DeadLetterHook = Arc<dyn Fn(&Activity, &SinkError) + Send + Sync>;

#[derive(Clone)]
pub(crate) struct Config {
    pub(crate) queue_capacity: usize,
    pub(crate) queue_max_bytes: usize,
    pub(crate) batch_size: usize,
    pub(crate) batch_timeout: Duration,
    pub(crate) overflow: OverflowPolicy,
    pub(crate) max_retries: Option<u32>,
    pub(crate) initial_backoff: Duration,
    pub(crate) max_backoff: Duration,
    pub(crate) drop_timeout: Duration,
    pub(crate) subscriber_capacity: usize,
    pub(crate) redactor: Redactor,
    pub(crate) dead_letter: Option<DeadLetterHook>,
    pub(crate) spill: Option<SpillConfig>,
}

/// Where and how much to spill.
#[derive(Debug, Clone)]
pub(crate) struct SpillConfig {
    pub(crate) dir: PathBuf,
    pub(crate) max_bytes: u64,
    pub(crate) segment_bytes: u64,
    /// How long the sink may fail before batches go to the spool instead of
    /// being retried in memory.
    pub(crate) after: Duration,
}

impl SpillConfig {
    pub(crate) fn new(dir: PathBuf) -> Self {
        Self { dir, max_bytes: 1 << 30, segment_bytes: 16 << 20, after: Duration::from_secs(2) }
    }
}

impl Default for Config {
    fn default() -> Self {
        Self {
            queue_capacity: 32_768,
            queue_max_bytes: 64 * 1024 * 1024,
            batch_size: 512,
            batch_timeout: Duration::from_millis(100),
            overflow: OverflowPolicy::default(),
            max_retries: Some(10),
            initial_backoff: Duration::from_millis(50),
            max_backoff: Duration::from_secs(10),
            drop_timeout: Duration::from_secs(5),
            subscriber_capacity: 1024,
            redactor: Redactor::default(),
            dead_letter: None,
            spill: None,
        }
    }
}

impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Config")
            .field("queue_capacity", &self.queue_capacity)
            .field("queue_max_bytes", &self.queue_max_bytes)
            .field("batch_size", &self.batch_size)
            .field("batch_timeout", &self.batch_timeout)
            .field("overflow", &self.overflow)
            .field("max_retries", &self.max_retries)
            .field("spill", &self.spill)
            .finish_non_exhaustive()
    }
}
