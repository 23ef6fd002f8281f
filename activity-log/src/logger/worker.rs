//! The background worker: drains the queue in batches, writes them to the
//! sink, retries transient errors, splits batches around bad records.

use super::queue::Shared;
use super::stats::{Counters, ShutdownReport};
use crate::{Activity, Sink, SinkError};
use std::ops::Range;
use std::sync::atomic::Ordering::Release;
use std::sync::Arc;
use tokio::sync::{mpsc, oneshot, watch};
use tokio::time::{Instant, MissedTickBehavior};

pub(crate) enum Control {
    Flush(oneshot::Sender<()>),
    Shutdown(oneshot::Sender<ShutdownReport>),
}

pub(crate) struct Worker {
    pub(crate) shared: Arc<Shared>,
    pub(crate) sink: Box<dyn Sink>,
    pub(crate) control: mpsc::UnboundedReceiver<Control>,
    /// The shutdown deadline, once a shutdown started.
    pub(crate) deadline: watch::Receiver<Option<std::time::Instant>>,
}

/// Why a write was given up.
enum WriteError {
    /// The sink refused the batch permanently.
    Permanent(SinkError),
    /// Transient errors exhausted the retries, or the deadline passed.
    GaveUp(SinkError),
}

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
                _ = ticker.tick() => self.drain_ready().await,
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
            self.deliver(&batch).await;
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
            self.deliver(&batch).await;
        }
        let timed_out = self.deadline_passed();
        ShutdownReport::new(self.shared.counters.snapshot(), timed_out)
    }

    fn deadline_passed(&self) -> bool {
        self.deadline.borrow().is_some_and(|d| std::time::Instant::now() >= d)
    }

    /// Writes one batch, splitting it around permanently bad records.
    async fn deliver(&self, batch: &[Activity]) {
        let counters = &self.shared.counters;
        let mut todo: Vec<Range<usize>> = Vec::with_capacity(8);
        todo.push(0..batch.len());
        while let Some(range) = todo.pop() {
            let part = &batch[range.clone()];
            match self.write_retrying(part).await {
                Ok(()) => Counters::add(&counters.written, part.len()),
                Err(WriteError::GaveUp(e)) => {
                    Counters::add(&counters.failed, part.len());
                    self.dead_letter(part, &e, "failed");
                }
                Err(WriteError::Permanent(e)) if part.len() == 1 => {
                    Counters::add(&counters.quarantined, 1);
                    self.dead_letter(part, &e, "quarantined");
                }
                Err(WriteError::Permanent(e)) => match e.record().filter(|&i| i < part.len()) {
                    Some(i) => {
                        let bad = range.start + i;
                        Counters::add(&counters.quarantined, 1);
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
    }

    async fn write_retrying(&self, part: &[Activity]) -> Result<(), WriteError> {
        if part.is_empty() {
            return Ok(());
        }
        let config = &self.shared.config;
        let mut backoff = config.initial_backoff;
        let mut attempt: u32 = 0;
        loop {
            let result = tokio::select! {
                result = self.sink.write_batch(part) => result,
                () = wait_deadline(self.deadline.clone()) => {
                    return Err(WriteError::GaveUp(SinkError::transient("the shutdown deadline passed before the sink answered")));
                }
            };
            let error = match result {
                Ok(()) => return Ok(()),
                Err(e) if !e.is_transient() => return Err(WriteError::Permanent(e)),
                Err(e) => e,
            };
            attempt += 1;
            if config.max_retries.is_some_and(|max| attempt > max) || self.deadline_passed() {
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

/// Resolves when the shutdown deadline (once set) passes.
async fn wait_deadline(mut deadline: watch::Receiver<Option<std::time::Instant>>) {
    loop {
        let current = *deadline.borrow_and_update();
        if let Some(at) = current {
            tokio::time::sleep_until(Instant::from_std(at)).await;
            return;
        }
        if deadline.changed().await.is_err() {
            std::future::pending::<()>().await;
        }
    }
}
