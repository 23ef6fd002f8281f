//! The background worker: drains the queue in batches, writes them to the
//! sink, retries transient errors, splits batches around bad records, and —
//! with a spill directory — moves batches to the on-disk spool while the
//! sink is down and replays them when it is back.

use super::queue::Shared;
use super::stats::{Counters, ShutdownReport};
use crate::{Activity, Sink, SinkError};
use std::ops::Range;
use std::path::PathBuf;
use std::sync::atomic::Ordering::Release;
use std::sync::Arc;
use std::time::{Duration, Instant};
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

/// What the worker knows of the sink's health (used with a spool).
#[derive(Debug, Default)]
pub(crate) struct Health {
    /// When the current run of failures began.
    failing_since: Option<Instant>,
    /// The sink is considered down: batches go to the spool untried.
    down: bool,
    /// When to try the sink again while it is down.
    next_probe: Option<Instant>,
    probe_backoff: Duration,
    /// Progress through the oldest spool segment: (its path, records done).
    replay_pos: Option<(PathBuf, usize)>,
}

/// Where a batch came from.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Source {
    Queue,
    Spool,
}

/// Why a write was given up.
enum WriteError {
    /// The sink refused the batch permanently.
    Permanent(SinkError),
    /// Transient errors exhausted the retries or the patience, or the
    /// deadline passed.
    GaveUp(SinkError),
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
                        // Everything logged before the flush call is in the
                        // queue now; draining that many covers it.
                        let n = self.shared.len();
                        self.drain(n).await;
                        self.replay(usize::MAX, true).await;
                        self.sync_spool();
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
                _ = self.shared.batch_ready.notified() => self.drain_ready().await,
                _ = ticker.tick() => {
                    self.drain_ready().await;
                    self.replay(REPLAY_BATCHES_PER_WAKE, false).await;
                    self.sync_spool();
                }
            }
        }
    }

    /// Drains what is queued now, in batches; if a full batch built up
    /// meanwhile, wakes itself again (after looking at control messages).
    async fn drain_ready(&mut self) {
        let n = self.shared.len();
        self.drain(n).await;
        if self.shared.len() >= self.shared.config.batch_size {
            self.shared.batch_ready.notify_one();
        }
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

    /// Delivers a batch from the queue, handing it over by value to sinks
    /// that prefer it (no copy); falls back to [`deliver`](Self::deliver).
    async fn deliver_owned(&mut self, batch: Vec<Activity>) {
        if !self.sink.prefers_owned() || self.health.down || self.deadline.borrow().is_some() {
            self.deliver(&batch, Source::Queue).await;
            return;
        }
        let n = batch.len();
        match self.sink.write_owned(batch).await {
            Ok(()) => {
                self.health.recovered();
                Counters::add(&self.shared.counters.written, n);
            }
            Err((_, batch)) => {
                self.deliver(&batch, Source::Queue).await;
            }
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
            self.replay(usize::MAX, true).await;
        }
        self.sync_spool();
        let timed_out = self.deadline_passed();
        ShutdownReport::new(self.shared.counters.snapshot(), timed_out)
    }

    fn deadline_passed(&self) -> bool {
        self.deadline.borrow().is_some_and(|d| Instant::now() >= d)
    }

    fn sync_spool(&self) {
        if let Some(spool) = &self.shared.spool {
            if let Err(e) = spool.sync() {
                tracing::error!(error = %e, "activity spool could not be synced to disk");
            }
        }
    }

    /// Writes one batch, splitting it around permanently bad records.
    /// Returns how many records (a prefix of `batch`) are done — written,
    /// quarantined, failed or spilled; less than `batch.len()` only for a
    /// spool replay that met a transient failure.
    async fn deliver(&mut self, batch: &[Activity], source: Source) -> usize {
        let shared = self.shared.clone();
        let counters = &shared.counters;
        let from_spool = |n: usize| {
            if source == Source::Spool {
                Counters::add(&counters.spilled_out, n);
            }
        };
        if source == Source::Queue && self.health.down && shared.spill(batch).is_ok() {
            return batch.len();
        }
        let mut todo: Vec<Range<usize>> = Vec::with_capacity(8);
        todo.push(0..batch.len());
        while let Some(range) = todo.pop() {
            let part = &batch[range.clone()];
            match self.write_retrying(part, source).await {
                Ok(()) => {
                    Counters::add(&counters.written, part.len());
                    from_spool(part.len());
                }
                Err(WriteError::GaveUp(_)) if source == Source::Spool => return range.start,
                Err(WriteError::GaveUp(e)) => {
                    if shared.spill(part).is_err() {
                        Counters::add(&counters.failed, part.len());
                        self.dead_letter(part, &e, "failed");
                    }
                }
                Err(WriteError::Permanent(e)) if part.len() == 1 => {
                    Counters::add(&counters.quarantined, 1);
                    from_spool(1);
                    self.dead_letter(part, &e, "quarantined");
                }
                Err(WriteError::Permanent(e)) => match e.record().filter(|&i| i < part.len()) {
                    Some(i) => {
                        let bad = range.start + i;
                        Counters::add(&counters.quarantined, 1);
                        from_spool(1);
                        self.dead_letter(&batch[bad..=bad], &e, "quarantined");
                        // Later ranges are pushed first: the stack pops in order.
                        todo.push(bad + 1..range.end);
                        todo.push(range.start..bad);
                    }
                    None => {
                        let mid = range.start + part.len() / 2;
                        todo.push(mid..range.end);
                        todo.push(range.start..mid);
                    }
                },
            }
        }
        batch.len()
    }

    /// Replays up to `max_batches` batches from the spool, oldest first,
    /// while the sink takes them. While the sink is down, one probe batch is
    /// tried, on a backoff schedule unless `now` (flush and shutdown try at
    /// once).
    async fn replay(&mut self, max_batches: usize, now: bool) {
        let shared = self.shared.clone();
        let Some(spool) = shared.spool.as_ref() else { return };
        let mut budget = max_batches;
        while budget > 0 && !spool.is_empty() && !self.deadline_passed() {
            if !now && self.health.down && self.health.next_probe.is_some_and(|at| Instant::now() < at) {
                return;
            }
            let segment = match spool.oldest() {
                Ok(Some(segment)) => segment,
                Ok(None) => return,
                Err(e) => {
                    tracing::error!(error = %e, "activity spool could not be read");
                    return;
                }
            };
            let mut done = match &self.health.replay_pos {
                Some((path, done)) if *path == segment.path() => *done,
                _ => 0,
            };
            let batch_size = self.shared.config.batch_size;
            while done < segment.activities.len() && budget > 0 {
                let end = (done + batch_size).min(segment.activities.len());
                let delivered = self.deliver(&segment.activities[done..end], Source::Spool).await;
                let failed = done + delivered < end;
                done += delivered;
                budget -= 1;
                if failed {
                    break;
                }
            }
            if done < segment.activities.len() {
                self.health.replay_pos = Some((segment.path().to_owned(), done));
                return;
            }
            if segment.corrupt {
                tracing::warn!(
                    segment = %segment.path().display(),
                    "activity spool segment ended in a torn or corrupt record; it was skipped"
                );
                Counters::add(&self.shared.counters.corrupt, 1);
            }
            self.health.replay_pos = None;
            if let Err(e) = spool.remove(&segment) {
                tracing::error!(error = %e, "replayed activity spool segment could not be deleted");
                return;
            }
        }
    }

    async fn write_retrying(&mut self, part: &[Activity], source: Source) -> Result<(), WriteError> {
        if part.is_empty() {
            return Ok(());
        }
        let config = &self.shared.config;
        let spill_after = config.spill.as_ref().map(|s| s.after);
        let mut backoff = config.initial_backoff;
        let mut attempt: u32 = 0;
        loop {
            let attempt_started = Instant::now();
            let result = tokio::select! {
                result = self.sink.write_batch(part) => result,
                () = wait_deadline(self.deadline.clone()) => {
                    return Err(WriteError::GaveUp(SinkError::transient("the shutdown deadline passed before the sink answered")));
                }
            };
            let error = match result {
                Ok(()) => {
                    self.health.recovered();
                    return Ok(());
                }
                Err(e) if !e.is_transient() => {
                    self.health.recovered();
                    return Err(WriteError::Permanent(e));
                }
                Err(e) => e,
            };
            // A failure counts from the start of the attempt: a sink that takes
            // seconds to say "down" (a connect timeout) has been down as long.
            let failing_for = self.health.failed(attempt_started, config.initial_backoff);
            attempt += 1;
            let patience_out = spill_after.is_some_and(|after| failing_for >= after);
            if source == Source::Spool
                || patience_out
                || config.max_retries.is_some_and(|max| attempt > max)
                || self.deadline_passed()
            {
                if spill_after.is_some() && (patience_out || source == Source::Spool) {
                    self.health.go_down(config.max_backoff);
                }
                return Err(WriteError::GaveUp(error));
            }
            Counters::add(&self.shared.counters.retried, 1);
            if attempt == 1 || attempt.is_power_of_two() {
                tracing::warn!(sink = self.sink.name(), attempt, error = %error, "activity sink write failed; retrying");
            }
            let jittered = backoff.mul_f64(0.5 + fastrand::f64());
            tokio::select! {
                () = tokio::time::sleep(jittered) => {}
                () = wait_deadline(self.deadline.clone()) => {}
            }
            backoff = (backoff * 2).min(config.max_backoff);
        }
    }

    fn dead_letter(&self, records: &[Activity], error: &SinkError, what: &str) {
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

impl Health {
    /// Notes a failed attempt that began at `attempt_started`; returns how
    /// long the sink has been failing.
    fn failed(&mut self, attempt_started: Instant, initial_backoff: Duration) -> Duration {
        if self.probe_backoff.is_zero() {
            self.probe_backoff = initial_backoff.max(Duration::from_millis(10));
        }
        self.failing_since.get_or_insert(attempt_started).elapsed()
    }

    /// The sink answered: leave the down state.
    fn recovered(&mut self) {
        if self.down {
            tracing::info!("activity sink recovered; replaying the spool");
        }
        self.failing_since = None;
        self.down = false;
        self.next_probe = None;
        self.probe_backoff = Duration::ZERO;
    }

    /// The sink is down: spill without trying, probe on a backoff schedule.
    fn go_down(&mut self, max_backoff: Duration) {
        if !self.down {
            tracing::warn!("activity sink is down; spilling activities to disk until it recovers");
        }
        self.down = true;
        self.next_probe = Some(Instant::now() + self.probe_backoff);
        self.probe_backoff = (self.probe_backoff * 2).min(max_backoff);
    }
}

/// Resolves when the shutdown deadline (once set) passes.
async fn wait_deadline(mut deadline: watch::Receiver<Option<Instant>>) {
    loop {
        let current = *deadline.borrow_and_update();
        if let Some(at) = current {
            tokio::time::sleep_until(tokio::time::Instant::from_std(at)).await;
            return;
        }
        if deadline.changed().await.is_err() {
            std::future::pending::<()>().await;
        }
    }
}
