//! The queue between callers and the worker, bounded by count and by bytes,
//! and the state both sides share. Callers put each accepted activity in
//! exactly one place: the in-memory queue, the spool, or (counted) nowhere.

use super::config::{Config, OverflowPolicy};
use super::stats::Counters;
use super::subscribers::Subscribers;
use crate::spool::Spool;
use crate::Activity;
use crossbeam_queue::SegQueue;
use std::sync::atomic::{AtomicBool, AtomicIsize, AtomicU64, AtomicUsize, Ordering::*};
use std::sync::{Condvar, Mutex};
use std::time::Duration;
use tokio::sync::Notify;

pub(crate) struct Queued {
    pub(crate) activity: Activity,
    pub(crate) bytes: usize,
}

/// State shared by every handle and the worker.
pub(crate) struct Shared {
    pub(crate) config: Config,
    /// Grows in blocks as needed: a large bound costs nothing until used.
    queue: SegQueue<Queued>,
    queued_bytes: AtomicUsize,
    /// Activities added (to the queue or, in write-ahead mode, the spool)
    /// since the worker last drained; crossing `batch_size` wakes it.
    pending: AtomicIsize,
    /// Wakes the worker when a batch is ready.
    pub(crate) batch_ready: Notify,
    /// Wakes async callers waiting for room.
    space: Notify,
    /// Wakes blocked threads (OverflowPolicy::Wait) waiting for room.
    space_lock: Mutex<()>,
    space_cv: Condvar,
    blocked: AtomicUsize,
    pub(crate) counters: Counters,
    pub(crate) closed: AtomicBool,
    /// The sink is known to be down: callers append to the spool directly.
    pub(crate) sink_down: AtomicBool,
    warned_full: AtomicBool,
    pub(crate) subscribers: Subscribers,
    pub(crate) spool: Option<Spool>,
    warned_spool: AtomicBool,
}

impl Shared {
    pub(crate) fn new(config: Config, spool: Option<Spool>) -> Self {
        Self {
            subscribers: Subscribers::new(config.subscriber_capacity),
            queue: SegQueue::new(),
            config,
            queued_bytes: AtomicUsize::new(0),
            pending: AtomicIsize::new(0),
            batch_ready: Notify::new(),
            space: Notify::new(),
            space_lock: Mutex::new(()),
            space_cv: Condvar::new(),
            blocked: AtomicUsize::new(0),
            counters: Counters::default(),
            closed: AtomicBool::new(false),
            sink_down: AtomicBool::new(false),
            warned_full: AtomicBool::new(false),
            spool,
            warned_spool: AtomicBool::new(false),
        }
    }

    /// Counts one more activity for the worker; a full batch wakes it.
    fn note_pending(&self) {
        if self.pending.fetch_add(1, AcqRel) + 1 == self.config.batch_size as isize {
            self.batch_ready.notify_one();
        }
    }

    /// Pushes if there is room (by count and by bytes); gives the item back
    /// otherwise. Room is reserved before the push, so the counters never
    /// show an activity the queue does not hold.
    #[allow(clippy::result_large_err)] // the item is moved back, not boxed: no allocation per event
    pub(crate) fn try_push(&self, item: Queued) -> Result<(), Queued> {
        // One oversized item is let into an empty queue, so that it is never
        // refused forever.
        let max_bytes = self.config.queue_max_bytes;
        let fits = |queued: usize| (queued == 0 || queued + item.bytes <= max_bytes).then_some(queued + item.bytes);
        if self.queued_bytes.fetch_update(AcqRel, Acquire, fits).is_err() {
            return Err(item);
        }
        let capacity = self.config.queue_capacity as u64;
        if reserve(&self.counters.queue_len, capacity).is_err() {
            self.queued_bytes.fetch_sub(item.bytes, AcqRel);
            return Err(item);
        }
        self.queue.push(item);
        self.note_pending();
        Ok(())
    }

    /// Puts an accepted activity where the configuration says: the spool
    /// first in write-ahead mode or while the sink is down, else the queue
    /// under the overflow policy. Never awaits.
    pub(crate) fn push_with_policy(&self, item: Queued) -> Result<(), crate::Error> {
        // If the spool refuses it (full, or an I/O error, warned once),
        // memory is the next best place.
        let spool_first = self.config.write_ahead() || self.sink_down.load(Acquire);
        if spool_first && self.spool.is_some() && self.spill_one(&item.activity).is_ok() {
            self.note_pending();
            return Ok(());
        }
        match self.config.overflow {
            OverflowPolicy::DropNewest => self.try_push(item).map_err(|_| self.drop_full()),
            OverflowPolicy::Wait => self.push_blocking(item),
            OverflowPolicy::Spill => match self.try_push(item) {
                Ok(()) => Ok(()),
                Err(item) => match self.spill_one(&item.activity) {
                    Ok(()) => Ok(()),
                    Err(()) => Err(self.drop_full()),
                },
            },
        }
    }

    /// A caller's append of one activity to the spool, counted.
    fn spill_one(&self, activity: &Activity) -> Result<(), ()> {
        self.append_to_spool(std::slice::from_ref(activity))?;
        Counters::add(&self.counters.spilled_in, 1);
        Ok(())
    }

    /// Appends `activities` to the spool (not counted: the caller or the
    /// worker counts them); `Err` when there is no spool or it refused them
    /// (full, or an I/O error, warned once).
    pub(crate) fn append_to_spool(&self, activities: &[Activity]) -> Result<(), ()> {
        let Some(spool) = &self.spool else { return Err(()) };
        spool.append(activities).map_err(|e| {
            if !self.warned_spool.swap(true, Relaxed) {
                tracing::error!(error = %e, "activity spool refused activities (this error is shown once)");
            }
        })
    }

    /// Resets the count of activities added since the worker last looked.
    pub(crate) fn take_pending(&self) {
        self.pending.store(0, Release);
    }

    fn push_blocking(&self, mut item: Queued) -> Result<(), crate::Error> {
        loop {
            match self.try_push(item) {
                Ok(()) => return Ok(()),
                Err(back) => item = back,
            }
            if self.closed.load(Acquire) {
                return Err(self.drop_full());
            }
            let guard = self.space_lock.lock().unwrap_or_else(|e| e.into_inner());
            self.blocked.fetch_add(1, AcqRel);
            // The timeout covers a wake-up sent between the failed push and
            // the wait.
            let _ = self.space_cv.wait_timeout(guard, Duration::from_millis(5));
            self.blocked.fetch_sub(1, AcqRel);
        }
    }

    /// Waits asynchronously for room.
    pub(crate) async fn push_async(&self, mut item: Queued) -> Result<(), crate::Error> {
        loop {
            let notified = self.space.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            match self.try_push(item) {
                Ok(()) => return Ok(()),
                Err(back) => item = back,
            }
            if self.closed.load(Acquire) {
                return Err(self.drop_full());
            }
            notified.await;
        }
    }

    fn drop_full(&self) -> crate::Error {
        Counters::add(&self.counters.dropped, 1);
        if !self.warned_full.swap(true, Relaxed) {
            tracing::warn!(
                capacity = self.config.queue_capacity,
                max_bytes = self.config.queue_max_bytes,
                "activity queue full: dropping activities (counted in stats().dropped; this warning is shown once)"
            );
        }
        crate::Error::QueueFull
    }

    /// Activities in the in-memory queue.
    pub(crate) fn len(&self) -> usize {
        self.counters.queue_len.load(Acquire) as usize
    }

    /// Puts popped activities back at the end of the queue (the spool
    /// refused them), beyond the bounds they were already counted in.
    /// Only the worker calls it.
    pub(crate) fn requeue(&self, batch: Vec<Activity>) {
        self.counters.transfer(|c| {
            Counters::sub(&c.in_flight, batch.len());
            Counters::add(&c.queue_len, batch.len());
        });
        for activity in batch {
            self.queue.push(Queued { activity, bytes: 0 });
        }
    }

    /// Pops up to `max` activities; they are in flight until the worker
    /// says where they went. Only the worker calls it.
    pub(crate) fn pop_batch(&self, max: usize) -> Vec<Activity> {
        let mut batch = Vec::with_capacity(max.min(self.len()));
        let mut bytes = 0;
        while batch.len() < max {
            match self.queue.pop() {
                Some(item) => {
                    bytes += item.bytes;
                    batch.push(item.activity);
                }
                None => break,
            }
        }
        if !batch.is_empty() {
            self.counters.transfer(|c| {
                Counters::sub(&c.queue_len, batch.len());
                Counters::add(&c.in_flight, batch.len());
            });
            self.queued_bytes.fetch_sub(bytes, AcqRel);
            self.space.notify_waiters();
            if self.blocked.load(Acquire) > 0 {
                let _guard = self.space_lock.lock().unwrap_or_else(|e| e.into_inner());
                self.space_cv.notify_all();
            }
        }
        batch
    }
}

/// Takes one slot of `capacity` in `len`, or fails when none is left.
fn reserve(len: &AtomicU64, capacity: u64) -> Result<u64, u64> {
    len.fetch_update(AcqRel, Acquire, |n| (n < capacity).then_some(n + 1))
}
