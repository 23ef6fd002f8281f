//! Delivering one batch: write it, retry transient errors with backoff,
//! split it around permanently bad records, and notice an outage within
//! `spill_after` whatever the sink does (fails at once, fails slowly, or
//! never answers).

use super::stats::Counters;
use super::worker::Worker;
use crate::{Activity, SinkError};
use std::ops::Range;
use std::sync::atomic::{AtomicU64, Ordering::Release};
use std::time::Instant;
use tokio::sync::watch;

/// Where a batch came from.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Source {
    /// Popped from the in-memory queue: counted in `in_flight`.
    Memory,
    /// Read from the spool: counted in `spooled` until it leaves.
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

impl Worker {
    /// Delivers a batch from the queue, handing it over by value to sinks
    /// that prefer it (no copy); falls back to [`deliver`](Self::deliver).
    pub(super) async fn deliver_owned(&mut self, batch: Vec<Activity>) {
        if !self.sink.prefers_owned() || self.health.down || self.deadline.borrow().is_some() {
            self.deliver(&batch, Source::Memory).await;
            return;
        }
        let n = batch.len();
        match self.sink.write_owned(batch).await {
            Ok(()) => {
                self.sink_answered();
                self.settle(Source::Memory, n, &self.shared.counters.written);
            }
            Err((_, batch)) => {
                self.deliver(&batch, Source::Memory).await;
            }
        }
    }

    /// Moves `n` delivered activities from where they were (`source`) to
    /// `to`, as one step for snapshots.
    pub(super) fn settle(&self, source: Source, n: usize, to: &AtomicU64) {
        self.shared.counters.transfer(|c| {
            Counters::add(to, n);
            match source {
                Source::Memory => Counters::sub(&c.in_flight, n),
                Source::Spool => Counters::add(&c.spilled_out, n),
            }
        });
    }

    /// Writes one batch, splitting it around permanently bad records.
    /// Returns how many records (a prefix of `batch`) are done — written,
    /// quarantined, failed or spilled; less than `batch.len()` only for a
    /// spool replay that met a transient failure.
    pub(super) async fn deliver(&mut self, batch: &[Activity], source: Source) -> usize {
        let shared = self.shared.clone();
        let counters = &shared.counters;
        if source == Source::Memory {
            // What is in flight is what the worker holds, counted from the batch itself.
            counters.transfer(|c| c.in_flight.store(batch.len() as u64, Release));
            if self.health.down && shared.append_to_spool(batch).is_ok() {
                self.settle(source, batch.len(), &counters.spilled_in);
                return batch.len();
            }
        }
        let mut todo: Vec<Range<usize>> = Vec::with_capacity(8);
        todo.push(0..batch.len());
        while let Some(range) = todo.pop() {
            let part = &batch[range.clone()];
            match self.write_retrying(part, source).await {
                Ok(()) => self.settle(source, part.len(), &counters.written),
                Err(WriteError::GaveUp(_)) if source == Source::Spool => return range.start,
                Err(WriteError::GaveUp(e)) => {
                    if shared.append_to_spool(part).is_ok() {
                        self.settle(source, part.len(), &counters.spilled_in);
                    } else {
                        self.settle(source, part.len(), &counters.failed);
                        self.dead_letter(part, &e, "failed");
                    }
                }
                Err(WriteError::Permanent(e)) if part.len() == 1 => {
                    self.settle(source, 1, &counters.quarantined);
                    self.dead_letter(part, &e, "quarantined");
                }
                Err(WriteError::Permanent(e)) => match e.record().filter(|&i| i < part.len()) {
                    Some(i) => {
                        let bad = range.start + i;
                        self.settle(source, 1, &counters.quarantined);
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

    async fn write_retrying(&mut self, part: &[Activity], source: Source) -> Result<(), WriteError> {
        if part.is_empty() {
            return Ok(());
        }
        let shared = self.shared.clone();
        let config = &shared.config;
        let spill_after = config.spill.as_ref().map(|s| s.after);
        let mut backoff = config.initial_backoff;
        let mut attempt: u32 = 0;
        loop {
            let attempt_started = Instant::now();
            let Some(result) = self.attempt(part, attempt_started).await else {
                return Err(WriteError::GaveUp(SinkError::transient(
                    "the shutdown deadline passed before the sink answered",
                )));
            };
            let error = match result {
                Ok(()) => {
                    self.sink_answered();
                    return Ok(());
                }
                Err(e) if !e.is_transient() => {
                    self.sink_answered();
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
                    self.enter_outage();
                }
                return Err(WriteError::GaveUp(error));
            }
            Counters::add(&shared.counters.retried, 1);
            if attempt == 1 || attempt.is_power_of_two() {
                tracing::warn!(sink = self.sink.name(), attempt, error = %error, "activity sink write failed; retrying");
            }
            // Never sleep past the moment the outage is due: it is detected on time.
            let mut pause = backoff.mul_f64(0.5 + fastrand::f64());
            if let Some(after) = spill_after {
                pause = pause.min(after.saturating_sub(failing_for));
            }
            tokio::select! {
                () = tokio::time::sleep(pause) => {}
                () = wait_deadline(self.deadline.clone()) => {}
            }
            backoff = (backoff * 2).min(config.max_backoff);
        }
    }

    /// One write of `part`, abandoned after `write_timeout` (the sink is
    /// idempotent by id, so a retry is safe even if it landed) or, with a
    /// spool, once the sink has been failing or this write unanswered for
    /// `spill_after`: the outage begins then, whatever the driver does.
    /// `None`: the shutdown deadline passed.
    async fn attempt(&self, part: &[Activity], started: Instant) -> Option<Result<(), SinkError>> {
        let config = &self.shared.config;
        let outage_at = match (&config.spill, self.health.down) {
            (Some(spill), false) => Some(self.health.failing_since.unwrap_or(started) + spill.after),
            _ => None,
        };
        let outage = tokio::time::sleep_until(tokio::time::Instant::from_std(outage_at.unwrap_or(started)));
        tokio::select! {
            biased;
            result = self.sink.write_batch(part) => Some(result),
            () = tokio::time::sleep(config.write_timeout) => Some(Err(SinkError::transient(format!(
                "the sink did not answer within the write timeout ({:?}); the write was abandoned",
                config.write_timeout
            )))),
            () = outage, if outage_at.is_some() => Some(Err(SinkError::transient(
                "the sink did not answer within spill_after; the write was abandoned"
            ))),
            () = wait_deadline(self.deadline.clone()) => None,
        }
    }

    /// The sink answered (success or a permanent refusal): it is up.
    fn sink_answered(&mut self) {
        self.health.recovered();
        self.shared.sink_down.store(false, Release);
    }
}

/// Resolves when the shutdown deadline (once set) passes.
pub(super) async fn wait_deadline(mut deadline: watch::Receiver<Option<Instant>>) {
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
