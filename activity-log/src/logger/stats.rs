//! Counters that account for every activity the logger accepted.

use crossbeam_utils::CachePadded;
use serde::Serialize;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

/// Callers touch `logged`, `dropped` and `rejected`; the worker the rest.
/// Padding keeps the two sides off each other's cache lines.
#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub(crate) logged: CachePadded<AtomicU64>,
    pub(crate) dropped: AtomicU64,
    pub(crate) rejected: AtomicU64,
    pub(crate) written: CachePadded<AtomicU64>,
    pub(crate) retried: AtomicU64,
    pub(crate) quarantined: AtomicU64,
    pub(crate) failed: AtomicU64,
}

impl Counters {
    pub(crate) fn add(counter: &AtomicU64, n: usize) {
        counter.fetch_add(n as u64, Relaxed);
    }

    pub(crate) fn snapshot(&self) -> Stats {
        // Read the terminal counters before `logged`, so that `queued`
        // (derived) never goes negative while producers are running.
        let written = self.written.load(Relaxed);
        let dropped = self.dropped.load(Relaxed);
        let quarantined = self.quarantined.load(Relaxed);
        let failed = self.failed.load(Relaxed);
        let logged = self.logged.load(Relaxed);
        Stats {
            logged,
            written,
            retried: self.retried.load(Relaxed),
            dropped,
            quarantined,
            failed,
            rejected: self.rejected.load(Relaxed),
            queued: logged.saturating_sub(written + dropped + quarantined + failed),
        }
    }
}

/// A snapshot of the logger's counters.
///
/// Every accepted activity is in exactly one place:
/// `written + dropped + quarantined + failed + queued == logged`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[non_exhaustive]
pub struct Stats {
    /// Activities accepted (valid, and the logger open).
    pub logged: u64,
    /// Activities the sink acknowledged.
    pub written: u64,
    /// Retries of transient sink errors (attempts, not activities).
    pub retried: u64,
    /// Activities dropped by the overflow policy because the queue was full.
    pub dropped: u64,
    /// Activities the sink refused permanently, handed to the dead-letter hook.
    pub quarantined: u64,
    /// Activities given up on after the retry limit or the shutdown deadline,
    /// handed to the dead-letter hook.
    pub failed: u64,
    /// Activities refused before queueing (invalid, or the logger closed);
    /// not part of `logged`.
    pub rejected: u64,
    /// Activities queued or being written right now.
    pub queued: u64,
}

impl Stats {
    /// Activities accepted but not written: dropped, quarantined, failed or
    /// still queued.
    pub fn unwritten(&self) -> u64 {
        self.logged - self.written
    }
}

/// What [`ActivityLogger::shutdown`](crate::ActivityLogger::shutdown) could
/// and could not do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct ShutdownReport {
    /// The counters after the final flush.
    pub stats: Stats,
    /// Activities that were accepted but never written (`stats.unwritten()`).
    pub unwritten: u64,
    /// Whether the deadline passed before everything was written.
    pub timed_out: bool,
}

impl ShutdownReport {
    pub(crate) fn new(stats: Stats, timed_out: bool) -> Self {
        Self { stats, unwritten: stats.unwritten(), timed_out }
    }

    /// Whether everything accepted was written.
    pub fn is_complete(&self) -> bool {
        self.unwritten == 0
    }
}
