//! What the worker knows of the sink's health (used with a spool).

use std::time::{Duration, Instant};

#[derive(Debug, Default)]
pub(crate) struct Health {
    /// When the current run of failures began.
    pub(crate) failing_since: Option<Instant>,
    /// The sink is considered down: batches go to the spool untried.
    pub(crate) down: bool,
    /// When to try the sink again while it is down.
    next_probe: Option<Instant>,
    probe_backoff: Duration,
}

impl Health {
    /// Notes a failed attempt that began at `attempt_started`; returns how
    /// long the sink has been failing.
    pub(crate) fn failed(&mut self, attempt_started: Instant, initial_backoff: Duration) -> Duration {
        if self.probe_backoff.is_zero() {
            self.probe_backoff = initial_backoff.max(Duration::from_millis(10));
        }
        self.failing_since.get_or_insert(attempt_started).elapsed()
    }

    /// The sink answered: leave the down state.
    pub(crate) fn recovered(&mut self) {
        if self.down {
            tracing::info!("activity sink recovered; replaying the spool");
        }
        self.failing_since = None;
        self.down = false;
        self.next_probe = None;
        self.probe_backoff = Duration::ZERO;
    }

    /// The sink is down: spill without trying, probe on a backoff schedule.
    pub(crate) fn go_down(&mut self, max_backoff: Duration) {
        if !self.down {
            tracing::warn!("activity sink is down; spilling activities to disk until it recovers");
        }
        self.down = true;
        self.next_probe = Some(Instant::now() + self.probe_backoff);
        self.probe_backoff = (self.probe_backoff * 2).min(max_backoff);
    }

    /// Whether a probe of a down sink must wait.
    pub(crate) fn probe_later(&self) -> bool {
        self.down && self.next_probe.is_some_and(|at| Instant::now() < at)
    }
}
