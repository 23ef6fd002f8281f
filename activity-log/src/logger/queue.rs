//! The bounded queue between callers and the worker, and the state both
//! sides share.

use super::config::{Config, OverflowPolicy};
use super::stats::Counters;
use crate::spool::Spool;
use crate::Activity;
use crossbeam_queue::ArrayQueue;
use std::sync::atomic::{AtomicBool, AtomicIsize, AtomicUsize, Ordering::*};
use std::sync::{Condvar, Mutex};
use std::time::Duration;
use tokio::sync::{broadcast, Notify};

pub(crate) struct Queued {
    pub(crate) activity: Activity,
    pub(crate) bytes: usize,
}

/// State shared by every handle and the worker.
pub(crate) struct Shared {
    pub(crate) config: Config,
    queue: ArrayQueue<Queued>,
    queued_bytes: AtomicUsize,
    /// Pushes since the worker last drained; crossing `batch_size` wakes it.
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
    warned_full: AtomicBool,
    pub(crate) subscribers: broadcast::Sender<Activity>,
    pub(crate) spool: Option<Spool>,
    warned_spool: AtomicBool,
}

impl Shared {
    pub(crate) fn new(config: Config, spool: Option<Spool>) -> Self {
        let (subscribers, _) = broadcast::channel(config.subscriber_capacity.max(1));
        Self {
            queue: ArrayQueue::new(config.queue_capacity.max(1)),
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
            warned_full: AtomicBool::new(false),
            subscribers,
            spool,
            warned_spool: AtomicBool::new(false),
        }
    }

    /// Pushes if there is room (by count and by bytes); gives the item back
    /// otherwise.
    #[allow(clippy::result_large_err)] // the item is moved back, not boxed: no allocation per event
    pub(crate) fn try_push(&self, item: Queued) -> Result<(), Queued> {
        let previous = self.queued_bytes.fetch_add(item.bytes, AcqRel);
        // One oversized item is let into an empty queue, so that it is never
        // refused forever.
        if previous > 0 && previous + item.bytes > self.config.queue_max_bytes {
            self.queued_bytes.fetch_sub(item.bytes, AcqRel);
            return Err(item);
        }
        let bytes = item.bytes;
        if let Err(item) = self.queue.push(item) {
            self.queued_bytes.fetch_sub(bytes, AcqRel);
            return Err(item);
        }
        if self.pending.fetch_add(1, AcqRel) + 1 == self.config.batch_size as isize {
            self.batch_ready.notify_one();
        }
        Ok(())
    }

    /// Enqueues under the configured overflow policy, without awaiting.
    pub(crate) fn push_with_policy(&self, item: Queued) -> Result<(), crate::Error> {
        match self.config.overflow {
            OverflowPolicy::DropNewest => self.try_push(item).map_err(|_| self.drop_full()),
            OverflowPolicy::Wait => self.push_blocking(item),
            OverflowPolicy::Spill => match self.try_push(item) {
                Ok(()) => Ok(()),
                Err(item) => match self.spill(std::slice::from_ref(&item.activity)) {
                    Ok(()) => Ok(()),
                    Err(()) => Err(self.drop_full()),
                },
            },
        }
    }

    /// Appends `activities` to the spool, counting them; `Err` when there is
    /// no spool or it refused them (full, or an I/O error, warned once).
    pub(crate) fn spill(&self, activities: &[Activity]) -> Result<(), ()> {
        let Some(spool) = &self.spool else { return Err(()) };
        match spool.append(activities) {
            Ok(()) => {
                Counters::add(&self.counters.spilled_in, activities.len());
                Ok(())
            }
            Err(e) => {
                if !self.warned_spool.swap(true, Relaxed) {
                    tracing::error!(error = %e, "activity spool refused activities (this error is shown once)");
                }
                Err(())
            }
        }
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

    pub(crate) fn len(&self) -> usize {
        self.queue.len()
    }

    /// Pops up to `max` activities.
    pub(crate) fn pop_batch(&self, max: usize) -> Vec<Activity> {
        let mut batch = Vec::with_capacity(max.min(self.queue.len()));
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
            self.queued_bytes.fetch_sub(bytes, AcqRel);
            self.pending.fetch_sub(batch.len() as isize, AcqRel);
            self.space.notify_waiters();
            if self.blocked.load(Acquire) > 0 {
                let _guard = self.space_lock.lock().unwrap_or_else(|e| e.into_inner());
                self.space_cv.notify_all();
            }
        }
        batch
    }
}
