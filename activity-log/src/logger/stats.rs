//! Counters that account for every activity the logger accepted.
//!
//! Each term of the identity is counted where it happens, never derived
//! from the others: callers count `logged` and then the one place an
//! activity went (queue, spool or dropped); the worker moves activities
//! between places inside a [`Counters::transfer`], which a snapshot never
//! sees half done. So a snapshot taken at rest balances exactly, and one
//! taken while callers are logging is short by at most the activities
//! being logged at that instant.

use crossbeam_utils::CachePadded;
use serde::Serialize;
use std::sync::atomic::{fence, AtomicU64, Ordering::*};

/// Callers touch `logged`, `queue_len`, `dropped`, `rejected` and
/// `spilled_in`; the worker the rest. Padding keeps the two sides off each
/// other's cache lines.
#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub(crate) logged: CachePadded<AtomicU64>,
    /// Activities in the in-memory queue (reserved by callers before the
    /// push, released by the worker's pop).
    pub(crate) queue_len: CachePadded<AtomicU64>,
    pub(crate) dropped: AtomicU64,
    pub(crate) rejected: AtomicU64,
    /// The length of the batch the worker holds, taken from the batch.
    pub(crate) in_flight: CachePadded<AtomicU64>,
    pub(crate) written: AtomicU64,
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
    /// Odd while the worker is moving activities between counters.
    epoch: AtomicU64,
}

impl Counters {
    pub(crate) fn add(counter: &AtomicU64, n: usize) {
        counter.fetch_add(n as u64, Relaxed);
    }

    pub(crate) fn sub(counter: &AtomicU64, n: usize) {
        counter.fetch_sub(n as u64, Relaxed);
    }

    /// Runs the worker's counter updates `f` as one step for snapshots.
    /// Only the worker thread calls it.
    pub(crate) fn transfer<R>(&self, f: impl FnOnce(&Self) -> R) -> R {
        self.epoch.fetch_add(1, Relaxed);
        fence(Release);
        let r = f(self);
        self.epoch.fetch_add(1, Release);
        r
    }

    pub(crate) fn snapshot(&self) -> Stats {
        loop {
            let before = self.epoch.load(Acquire);
            let stats = self.read();
            fence(Acquire);
            if before % 2 == 0 && self.epoch.load(Relaxed) == before {
                return stats;
            }
            std::hint::spin_loop();
        }
    }

    fn read(&self) -> Stats {
        // Where activities are before how many were logged: a caller counts
        // `logged` first, so a snapshot never counts an activity twice.
        let spilled_out = self.spilled_out.load(Relaxed);
        let mut stats = Stats {
            written: self.written.load(Relaxed),
            retried: self.retried.load(Relaxed),
            dropped: self.dropped.load(Relaxed),
            quarantined: self.quarantined.load(Relaxed),
            failed: self.failed.load(Relaxed),
            rejected: self.rejected.load(Relaxed),
            spooled: self.spilled_in.load(Relaxed).saturating_sub(spilled_out),
            recovered: self.recovered.load(Relaxed),
            spool_corrupt: self.corrupt.load(Relaxed),
            queued: self.queue_len.load(Relaxed) + self.in_flight.load(Relaxed),
            logged: 0,
        };
        stats.logged = self.logged.load(Relaxed);
        stats
    }
}

/// A snapshot of the logger's counters.
///
/// Every accepted activity is in exactly one place:
/// `written + dropped + quarantined + failed + spooled + queued == logged + recovered`
/// (`recovered` is what a previous process left in the spool; without a
/// spool, `spooled` and `recovered` are 0). Each term is counted where it
/// happens, so the identity is a real check ([`accounted`](Self::accounted)):
/// it balances whenever no activity is being logged at that instant, and is
/// short by at most the number of concurrent `log_async` calls otherwise.
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
    /// Activities in the in-memory queue or in the batch being written
    /// right now.
    pub queued: u64,
}

impl Stats {
    /// Every place an accepted activity can be: `written + dropped +
    /// quarantined + failed + spooled + queued`. Equals `logged + recovered`
    /// when nothing is lost.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> activity_log::Result<()> {
    /// let (logger, _sink) = activity_log::ActivityLogger::in_memory();
    /// logger.log_async(activity_log::Activity::new("login"));
    /// logger.flush().await?;
    /// let s = logger.stats();
    /// assert_eq!(s.accounted(), s.logged + s.recovered);
    /// # Ok(()) }
    /// ```
    pub fn accounted(&self) -> u64 {
        self.written + self.dropped + self.quarantined + self.failed + self.spooled + self.queued
    }

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
