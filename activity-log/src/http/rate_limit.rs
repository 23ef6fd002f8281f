//! Requests per minute per principal, for reads and for writes.

use super::Problem;
use axum::http::StatusCode;
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota};
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU32, Ordering::Relaxed};

/// How many requests a principal may make per minute (the Node service's
/// defaults: 200 reads, 100 writes). A request over the limit is a `429`
/// with `Retry-After`.
///
/// ```
/// use activity_log::http::RateLimits;
/// let limits = RateLimits::default().reads_per_minute(600).writes_per_minute(6000);
/// assert_eq!(limits, RateLimits::new(600, 6000));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimits {
    reads: Option<NonZeroU32>,
    writes: Option<NonZeroU32>,
}

impl Default for RateLimits {
    fn default() -> Self {
        Self::new(200, 100)
    }
}

impl RateLimits {
    /// `reads` and `writes` per minute per principal; 0 means unlimited.
    pub fn new(reads: u32, writes: u32) -> Self {
        Self { reads: NonZeroU32::new(reads), writes: NonZeroU32::new(writes) }
    }

    /// No limits.
    pub fn unlimited() -> Self {
        Self::new(0, 0)
    }

    /// Reads (query, get, stats, export, stream) per minute; 0: unlimited.
    pub fn reads_per_minute(mut self, n: u32) -> Self {
        self.reads = NonZeroU32::new(n);
        self
    }

    /// Writes (ingest, retention) per minute; 0: unlimited.
    pub fn writes_per_minute(mut self, n: u32) -> Self {
        self.writes = NonZeroU32::new(n);
        self
    }
}

/// One keyed limiter; forgets idle principals now and then so that its
/// memory follows the active ones.
pub(crate) struct Limiter {
    limiter: Option<DefaultKeyedRateLimiter<String>>,
    calls: AtomicU32,
    what: &'static str,
}

impl Limiter {
    fn new(per_minute: Option<NonZeroU32>, what: &'static str) -> Self {
        Self {
            limiter: per_minute.map(|n| governor::RateLimiter::keyed(Quota::per_minute(n))),
            calls: AtomicU32::new(0),
            what,
        }
    }

    pub(crate) fn reads(limits: &RateLimits) -> Self {
        Self::new(limits.reads, "reads")
    }

    pub(crate) fn writes(limits: &RateLimits) -> Self {
        Self::new(limits.writes, "writes")
    }

    pub(crate) fn check(&self, key: &str) -> Result<(), Problem> {
        let Some(limiter) = &self.limiter else { return Ok(()) };
        if self.calls.fetch_add(1, Relaxed) % 4096 == 4095 {
            limiter.retain_recent();
        }
        limiter.check_key(&key.to_owned()).map_err(|not_until| {
            let wait = not_until.wait_time_from(DefaultClock::default().now());
            Problem::retry_later(StatusCode::TOO_MANY_REQUESTS, wait, format!("too many {}: retry later", self.what))
        })
    }
}
