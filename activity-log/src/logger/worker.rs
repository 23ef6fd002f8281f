//! The background worker's loop: drains the queue in batches, replays the
//! spool, answers flush and shutdown. Delivery itself (retries, splitting
//! around bad records, outage detection) is in [`deliver`](super::deliver),
//! replay in [`replay`](super::replay).

use super::deliver::Source;
use super::health::Health;
use super::queue::Shared;
use super::stats::ShutdownReport;
use crate::{Activity, Sink};
use std::sync::atomic::Ordering::Release;
use std::sync::Arc;
use std::time::Instant;
use tokio::sync::{mpsc, oneshot, watch};
use tokio::time::MissedTickBehavior;

pub(crate) enum Control {
    Flush(oneshot::Sender<()>),
    Shutdown(oneshot::Sender<ShutdownReport>),
}

pub(crate) struct Worker {
    pub(crate) shared: Arc<Shared>,
    pub(crate) sink: Box<dyn Sink>,
    pub(crate) control: mpsc::UnboundedReceiver<Control>,
    /// The shutdown deadline, once a shutdown started.
    pub(crate) deadline: watch::Receiver<Option<Instant>>,
    pub(crate) health: Health,
}

/// Replaying more than this many batches per wake-up would starve the queue.
const REPLAY_BATCHES_PER_WAKE: usize = 8;

impl Worker {
    pub(crate) async fn run(mut self) {
        let mut ticker = tokio::time::interval(self.shared.config.batch_timeout);
        ticker.set_missed_tick_behavior(MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                biased;
                message = self.control.recv() => match message {
                    Some(Control::Flush(reply)) => {
                        self.flush().await;
                        let _ = reply.send(());
                    }
                    Some(Control::Shutdown(reply)) => {
                        let report = self.finish().await;
                        let _ = reply.send(report);
                        return;
                    }
                    None => {
                        self.finish().await;
                        return;
                    }
                },
                _ = self.shared.batch_ready.notified() => self.work().await,
                _ = ticker.tick() => {
                    self.work().await;
                    self.sync_spool();
                }
            }
        }
    }

    /// Delivers what is queued and replays some of the spool; if more is
    /// waiting, wakes itself again (after looking at control messages).
    async fn work(&mut self) {
        self.shared.take_pending();
        let n = self.shared.len();
        self.drain(n).await;
        let more_spooled = self.replay(REPLAY_BATCHES_PER_WAKE, false, None).await;
        if more_spooled || self.shared.len() >= self.shared.config.batch_size {
            self.shared.batch_ready.notify_one();
        }
    }

    /// Everything logged before the flush call is in the queue or the
    /// spool now: drains that much, replays that far, syncs the spool.
    async fn flush(&mut self) {
        let until = self.shared.spool.as_ref().map(|s| s.end());
        self.shared.take_pending();
        let n = self.shared.len();
        self.drain(n).await;
        self.replay(usize::MAX, true, until).await;
        self.sync_spool();
    }

    async fn drain(&mut self, mut n: usize) {
        while n > 0 {
            let batch = self.shared.pop_batch(n.min(self.shared.config.batch_size));
            if batch.is_empty() {
                return;
            }
            n -= batch.len();
            self.deliver_owned(batch).await;
        }
    }

    /// Writes everything left, then reports.
    async fn finish(&mut self) -> ShutdownReport {
        self.shared.closed.store(true, Release);
        loop {
            let batch = self.shared.pop_batch(self.shared.config.batch_size);
            if batch.is_empty() {
                break;
            }
            self.deliver_owned(batch).await;
        }
        if !self.deadline_passed() {
            self.replay(usize::MAX, true, None).await;
        }
        if let Some(spool) = &self.shared.spool {
            spool.close();
        }
        let timed_out = self.deadline_passed();
        ShutdownReport::new(self.shared.counters.snapshot(), timed_out)
    }

    pub(super) fn deadline_passed(&self) -> bool {
        self.deadline.borrow().is_some_and(|d| Instant::now() >= d)
    }

    fn sync_spool(&self) {
        if let Some(spool) = &self.shared.spool {
            if let Err(e) = spool.sync() {
                tracing::error!(error = %e, "activity spool could not be synced to disk");
            }
        }
    }

    /// The sink is known to be down: it is probed on a backoff schedule,
    /// callers append to the spool from now on, and what waits in memory
    /// goes there too.
    pub(super) fn enter_outage(&mut self) {
        self.health.go_down(self.shared.config.max_backoff);
        self.shared.sink_down.store(true, Release);
        self.spill_queue();
    }

    /// Moves the in-memory queue to the spool. A batch the spool refuses
    /// goes back to the queue.
    fn spill_queue(&self) {
        let shared = &self.shared;
        loop {
            let batch = shared.pop_batch(shared.config.batch_size);
            if batch.is_empty() {
                return;
            }
            if shared.append_to_spool(&batch).is_ok() {
                self.settle(Source::Memory, batch.len(), &shared.counters.spilled_in);
            } else {
                shared.requeue(batch);
                return;
            }
        }
    }

    /// Hands `records` the logger gives up on to the dead-letter hook.
    pub(super) fn dead_letter(&self, records: &[Activity], error: &crate::SinkError, what: &str) {
        match &self.shared.config.dead_letter {
            Some(hook) => records.iter().for_each(|a| hook(a, error)),
            None => {
                for a in records {
                    tracing::error!(id = %a.id, activity_type = %a.activity_type, error = %error, "activity {what}: it was not written");
                }
            }
        }
    }
}
