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
    /// Activities appended to the spool (by callers or the worker), and
    /// found there at start.
    pub(crate) spilled_in: AtomicU64,
    /// Activities that left the spool: written, quarantined or failed.
    pub(crate) spilled_out: AtomicU64,
    pub(crate) recovered: AtomicU64,
    pub(crate) corrupt: AtomicU64,
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
        let spilled_out = self.spilled_out.load(Relaxed);
        let spooled = self.spilled_in.load(Relaxed).saturating_sub(spilled_out);
        let recovered = self.recovered.load(Relaxed);
        let logged = self.logged.load(Relaxed);
        Stats {
            logged,
            written,
            retried: self.retried.load(Relaxed),
            dropped,
            quarantined,
            failed,
            rejected: self.rejected.load(Relaxed),
            spooled,
            recovered,
            spool_corrupt: self.corrupt.load(Relaxed),
            queued: (logged + recovered).saturating_sub(written + dropped + quarantined + failed + spooled),
        }
    }
}

/// A snapshot of the logger's counters.
///
/// Every accepted activity is in exactly one place:
/// `written + dropped + quarantined + failed + spooled + queued == logged + recovered`
/// (`recovered` is what a previous process left in the spool; without a
/// spool, `spooled` and `recovered` are 0).
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
    /// Activities in the on-disk spool now, waiting to be replayed.
    pub spooled: u64,
    /// Activities found in the spool when the logger started (left by a
    /// previous process).
    pub recovered: u64,
    /// Spool segments that ended in a torn or corrupt record (a process
    /// killed mid-write); the intact records before it were replayed.
    pub spool_corrupt: u64,
    /// Activities queued in memory or being written right now.
    pub queued: u64,
}

impl Stats {
    /// Activities accepted (or recovered) but not written: dropped,
    /// quarantined, failed, spooled or still queued.
    pub fn unwritten(&self) -> u64 {
        (self.logged + self.recovered).saturating_sub(self.written)
    }

    /// Activities accepted but lost: dropped, quarantined or failed (the
    /// spooled ones are safe on disk).
    pub fn lost(&self) -> u64 {
        self.dropped + self.quarantined + self.failed
    }
}

/// What [`ActivityLogger::shutdown`](crate::ActivityLogger::shutdown) could
/// and could not do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct ShutdownReport {
    /// The counters after the final flush.
    pub stats: Stats,
    /// Activities that were accepted but not written (`stats.unwritten()`),
    /// including those safe in the spool (`stats.spooled`), which the next
    /// logger opened on the same spill directory replays.
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
