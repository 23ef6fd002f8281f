//! Tunables of the logger, with their defaults.

use crate::{Activity, Redactor, SinkError};
use std::fmt;
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
}

impl Default for Config {
    fn default() -> Self {
        Self {
            queue_capacity: 65_536,
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
            .finish_non_exhaustive()
    }
}
