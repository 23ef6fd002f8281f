//! Tunables of the logger, with their defaults.

use crate::{Activity, Redactor, SinkError};
use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// What `log_async` does when the in-memory queue is full.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum OverflowPolicy {
    /// Drop the new activity; count it in `Stats::dropped` and warn once.
    /// `log_async` never blocks. The default without a spill directory.
    DropNewest,
    /// Append the activity to the on-disk spool (see
    /// [`ActivityLoggerBuilder::spill_dir`](crate::ActivityLoggerBuilder::spill_dir)),
    /// to be written when the worker catches up; `log_async` does not wait
    /// for the sink. The default with a spill directory, and an error
    /// without one. When the spool is full too, the activity is dropped and
    /// counted.
    Spill,
    /// Block the calling thread until there is room. For producer threads
    /// outside async code; in async code use
    /// [`ActivityLogger::log`](crate::ActivityLogger::log)`.await`, which
    /// waits without blocking under any policy.
    Wait,
}

/// When an accepted activity becomes safe from the death of the process.
///
/// | mode | `log_async` does | SIGKILL / panic=abort loses | power loss loses |
/// |---|---|---|---|
/// | [`MemoryFirst`](Self::MemoryFirst) | enqueues in memory (in the spool while the sink is down) | what was queued and not yet written: with a healthy sink about one `batch_timeout` of activities plus the batch being written; in the first `spill_after` of an outage what arrived since it began; once the sink has failed or stayed silent for `spill_after`, nothing (everything is in the spool) | the same, plus spooled records not yet fsynced (the spool is fsynced every `batch_timeout`) |
/// | [`WriteAhead`](Self::WriteAhead) | appends to the spool (one `write`, no fsync) | nothing it accepted | records appended since the last fsync: at most one `batch_timeout` |
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Durability {
    /// Activities wait in memory and go to the sink in batches; the spool
    /// (if configured) takes them when the queue overflows or the sink is
    /// down. The fastest mode, and the default.
    #[default]
    MemoryFirst,
    /// Every accepted activity is appended to the spool before `log_async`
    /// returns, and the worker delivers from the spool. Needs
    /// [`spill_dir`](crate::ActivityLoggerBuilder::spill_dir).
    WriteAhead,
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
    pub(crate) durability: Durability,
    pub(crate) max_retries: Option<u32>,
    pub(crate) initial_backoff: Duration,
    pub(crate) max_backoff: Duration,
    pub(crate) write_timeout: Duration,
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
    /// How long the sink may fail (or leave a write unanswered) before
    /// activities go to the spool instead of waiting in memory.
    pub(crate) after: Duration,
}

/// Defaults of the spill options.
pub(crate) const SPOOL_MAX_BYTES: u64 = 1 << 30;
pub(crate) const SPILL_AFTER: Duration = Duration::from_secs(2);
pub(crate) const SEGMENT_BYTES: u64 = 16 << 20;

impl Default for Config {
    fn default() -> Self {
        Self {
            queue_capacity: 1 << 20,
            queue_max_bytes: 128 << 20,
            batch_size: 512,
            batch_timeout: Duration::from_millis(100),
            overflow: OverflowPolicy::DropNewest,
            durability: Durability::MemoryFirst,
            max_retries: Some(10),
            initial_backoff: Duration::from_millis(50),
            max_backoff: Duration::from_secs(10),
            write_timeout: Duration::from_secs(10),
            drop_timeout: Duration::from_secs(5),
            subscriber_capacity: 1024,
            redactor: Redactor::default(),
            dead_letter: None,
            spill: None,
        }
    }
}

impl Config {
    pub(crate) fn write_ahead(&self) -> bool {
        self.durability == Durability::WriteAhead
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
            .field("durability", &self.durability)
            .field("max_retries", &self.max_retries)
            .field("write_timeout", &self.write_timeout)
            .field("spill", &self.spill)
            .finish_non_exhaustive()
    }
}
