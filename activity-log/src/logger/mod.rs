//! The logger handle: validates, fills from context, redacts and enqueues;
//! a worker thread writes batches to the sink.

mod builder;
mod config;
mod deliver;
mod health;
mod queue;
mod replay;
mod stats;
mod subscribers;
mod worker;

pub use builder::ActivityLoggerBuilder;
pub use config::{DeadLetterHook, Durability, OverflowPolicy};
pub use stats::{ShutdownReport, Stats};

use crate::context::fill_from_current;
use crate::spool::{Recovered, Spool};
use crate::{validate, Activity, Error, IntoActivity, MemorySink, Result, Sink};
use config::Config;
use queue::{Queued, Shared};
use stats::Counters;
use std::sync::atomic::{AtomicBool, Ordering::*};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{broadcast, mpsc, oneshot, watch};
use uuid::Uuid;
use worker::{Control, Worker};

/// A cheap-to-clone handle to a running activity logger.
///
/// `log_async` validates the activity, fills it from the ambient
/// [`ActivityContext`](crate::ActivityContext), redacts it and enqueues it;
/// it never awaits, never blocks under the default policy, and never
/// panics. A worker thread writes queued activities to the sink in batches.
///
/// ```
/// use activity_log::{Activity, ActivityLogger, Actor};
/// use std::time::Duration;
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> activity_log::Result<()> {
/// let (logger, sink) = ActivityLogger::in_memory();
/// logger.log_async(Activity::new("call_created").target("call", "42").actor(Actor::user("agent-7")));
/// logger.flush().await?;
/// assert_eq!(sink.activities().len(), 1);
///
/// let report = logger.shutdown(Duration::from_secs(5)).await;
/// assert!(report.is_complete());
/// # Ok(()) }
/// ```
///
/// Dropping the last handle without `shutdown` writes what is queued
/// (waiting up to the builder's `drop_timeout`) and reports through
/// `tracing` what could not be written.
#[derive(Clone)]
pub struct ActivityLogger {
    handle: Arc<Handle>,
}

struct Handle {
    shared: Arc<Shared>,
    control: mpsc::UnboundedSender<Control>,
    deadline: watch::Sender<Option<std::time::Instant>>,
    thread: Mutex<Option<std::thread::JoinHandle<()>>>,
    shut_down: AtomicBool,
}

impl std::fmt::Debug for ActivityLogger {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ActivityLogger").field("stats", &self.stats()).finish_non_exhaustive()
    }
}

impl ActivityLogger {
    /// Configures a logger.
    pub fn builder() -> ActivityLoggerBuilder {
        ActivityLoggerBuilder::default()
    }

    /// A logger writing into a fresh [`MemorySink`], and the sink: for tests.
    pub fn in_memory() -> (Self, MemorySink) {
        let sink = MemorySink::new();
        (Self::start(Config::default(), Box::new(sink.clone()), None), sink)
    }

    pub(crate) fn start(config: Config, sink: Box<dyn Sink>, spool: Option<(Spool, Recovered)>) -> Self {
        let (spool, recovered) = match spool {
            Some((spool, recovered)) => (Some(spool), recovered.records),
            None => (None, 0),
        };
        let shared = Arc::new(Shared::new(config, spool));
        Counters::add(&shared.counters.recovered, recovered as usize);
        Counters::add(&shared.counters.spilled_in, recovered as usize);
        let (control_tx, control_rx) = mpsc::unbounded_channel();
        let (deadline_tx, deadline_rx) = watch::channel(None);
        let worker = Worker {
            shared: shared.clone(),
            sink,
            control: control_rx,
            deadline: deadline_rx,
            health: Default::default(),
        };
        let thread = std::thread::Builder::new().name("activity-log-worker".into()).spawn(move || {
            match tokio::runtime::Builder::new_current_thread().enable_all().build() {
                Ok(runtime) => runtime.block_on(worker.run()),
                Err(e) => {
                    worker.shared.closed.store(true, Release);
                    tracing::error!(error = %e, "activity logger could not start its runtime; activities will be rejected");
                }
            }
        });
        let thread = match thread {
            Ok(t) => Some(t),
            Err(e) => {
                shared.closed.store(true, Release);
                tracing::error!(error = %e, "activity logger could not start its worker thread; activities will be rejected");
                None
            }
        };
        Self {
            handle: Arc::new(Handle {
                shared,
                control: control_tx,
                deadline: deadline_tx,
                thread: Mutex::new(thread),
                shut_down: AtomicBool::new(false),
            }),
        }
    }

    fn shared(&self) -> &Shared {
        &self.handle.shared
    }

    /// Validates, fills from context (with `from_context`) and redacts.
    fn accept(&self, item: impl IntoActivity, from_context: bool) -> Result<Queued> {
        let shared = self.shared();
        if shared.closed.load(Acquire) {
            Counters::add(&shared.counters.rejected, 1);
            return Err(Error::Closed);
        }
        // Step by step rather than through closures: an activity is large,
        // and each move through a `Result` is a copy.
        let mut activity = match item.into_activity() {
            Ok(activity) => activity,
            Err(e) => return Err(self.refuse(e)),
        };
        if from_context {
            fill_from_current(&mut activity);
        }
        let bytes = match validate(&activity) {
            Ok(bytes) => bytes,
            Err(e) => return Err(self.refuse(e)),
        };
        shared.config.redactor.redact(&mut activity);
        Counters::add(&shared.counters.logged, 1);
        shared.subscribers.send(&activity);
        Ok(Queued { activity, bytes })
    }

    /// Counts an invalid activity as rejected.
    fn refuse(&self, e: crate::ValidationError) -> Error {
        Counters::add(&self.shared().counters.rejected, 1);
        Error::Invalid(e)
    }

    /// Validates, fills from context and redacts, as for the queue, for a
    /// write that does not go through it ([`log_in`](crate::log_in)).
    #[cfg_attr(not(any(feature = "sqlite", feature = "postgres")), allow(dead_code))]
    pub(crate) fn prepare(&self, item: impl IntoActivity) -> Result<Activity> {
        prepare(item, &self.shared().config.redactor)
    }

    /// Logs an activity in the background: validates it, fills it from the
    /// ambient context, redacts it and enqueues it, then returns at once.
    ///
    /// Never awaits and never panics. An invalid activity is refused (counted
    /// in [`Stats::rejected`] and reported through `tracing`); use
    /// [`try_log_async`](Self::try_log_async) to get the error instead.
    pub fn log_async(&self, activity: impl IntoActivity) {
        if let Err(e) = self.try_log_async(activity) {
            report_refusal(&e);
        }
    }

    /// Like [`log_async`](Self::log_async), but says what happened: the id
    /// of the queued activity, or why it was refused.
    pub fn try_log_async(&self, activity: impl IntoActivity) -> Result<Uuid> {
        self.enqueue(activity, true)
    }

    /// [`log_async`](Self::log_async) for an activity whose context fields
    /// are already filled (the HTTP layer's): the ambient context is not
    /// read.
    #[cfg(feature = "axum")]
    pub(crate) fn log_async_filled(&self, activity: Activity) {
        if let Err(e) = self.enqueue(activity, false) {
            report_refusal(&e);
        }
    }

    fn enqueue(&self, activity: impl IntoActivity, from_context: bool) -> Result<Uuid> {
        let item = self.accept(activity, from_context)?;
        let id = item.activity.id;
        self.shared().push_with_policy(item)?;
        Ok(id)
    }

    /// Logs an activity, waiting (asynchronously) for room in the queue if
    /// it is full, whatever the overflow policy.
    pub async fn log(&self, activity: impl IntoActivity) -> Result<Uuid> {
        let item = self.accept(activity, true)?;
        let id = item.activity.id;
        self.shared().push_async(item).await?;
        Ok(id)
    }

    /// Resolves when every activity logged before this call is written, or
    /// accounted for as dropped, quarantined or failed.
    pub async fn flush(&self) -> Result<()> {
        let (tx, rx) = oneshot::channel();
        self.handle.control.send(Control::Flush(tx)).map_err(|_| Error::Closed)?;
        rx.await.map_err(|_| Error::Closed)
    }

    /// Stops accepting activities, writes what is queued (for at most
    /// `timeout`), stops the worker and reports what could not be written.
    ///
    /// Safe on current-thread and multi-thread runtimes; calling it again
    /// (or from another handle) returns the final counters at once.
    pub async fn shutdown(&self, timeout: Duration) -> ShutdownReport {
        match self.handle.begin_shutdown(timeout) {
            Some(rx) => match rx.await {
                Ok(report) => report,
                Err(_) => ShutdownReport::new(self.stats(), true),
            },
            None => ShutdownReport::new(self.stats(), false),
        }
    }

    /// A snapshot of the counters.
    pub fn stats(&self) -> Stats {
        self.shared().counters.snapshot()
    }

    /// A live tail: every activity accepted from now on (after redaction).
    /// A subscriber that falls behind by more than the builder's
    /// `subscriber_capacity` gets `RecvError::Lagged(n)` and misses `n`
    /// activities; it never slows logging.
    pub fn subscribe(&self) -> broadcast::Receiver<crate::Activity> {
        self.shared().subscribers.subscribe()
    }
}

impl Handle {
    fn begin_shutdown(&self, timeout: Duration) -> Option<oneshot::Receiver<ShutdownReport>> {
        if self.shut_down.swap(true, AcqRel) {
            return None;
        }
        self.shared.closed.store(true, Release);
        let _ = self.deadline.send(Some(std::time::Instant::now() + timeout));
        let (tx, rx) = oneshot::channel();
        self.control.send(Control::Shutdown(tx)).ok()?;
        Some(rx)
    }
}

impl Drop for Handle {
    fn drop(&mut self) {
        let timeout = self.shared.config.drop_timeout;
        let rx = self.begin_shutdown(timeout);
        // The worker has its own runtime and honours the deadline, so joining
        // it is bounded and cannot deadlock the caller's runtime. Joined also
        // after an explicit shutdown: its spool is released when it is gone.
        if let Some(thread) = self.thread.lock().unwrap_or_else(|e| e.into_inner()).take() {
            let _ = thread.join();
        }
        let Some(mut rx) = rx else { return };
        match rx.try_recv() {
            Ok(report) if report.is_complete() => {}
            Ok(report) => tracing::error!(
                unwritten = report.unwritten,
                dropped = report.stats.dropped,
                failed = report.stats.failed,
                quarantined = report.stats.quarantined,
                "activity logger dropped without shutdown: some activities could not be written"
            ),
            Err(_) => tracing::error!("activity logger dropped without shutdown and its worker did not report"),
        }
    }
}

/// Reports an activity `log_async` refused, once per kind of reason for
/// full queues (counted elsewhere), every time for invalid activities.
pub(crate) fn report_refusal(error: &Error) {
    static WARNED_CLOSED: AtomicBool = AtomicBool::new(false);
    match error {
        Error::QueueFull => {} // warned once and counted by the queue
        Error::Closed => {
            if !WARNED_CLOSED.swap(true, Relaxed) {
                tracing::warn!("activity logged after the logger was shut down: refused (counted in stats().rejected)");
            }
        }
        other => tracing::warn!(error = %other, "activity refused"),
    }
}

/// Validates `item`, fills it from the ambient context and redacts it with
/// `redactor`.
#[cfg_attr(not(any(feature = "sqlite", feature = "postgres")), allow(dead_code))]
pub(crate) fn prepare(item: impl IntoActivity, redactor: &crate::Redactor) -> Result<Activity> {
    let mut activity = item.into_activity()?;
    fill_from_current(&mut activity);
    validate(&activity)?;
    redactor.redact(&mut activity);
    Ok(activity)
}
