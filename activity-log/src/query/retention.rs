//! Retention: deleting activities older than a horizon, as a call and as a
//! background task.

use super::ActivityStore;
use crate::Sink;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;

/// The retention horizon the systems this crate replaces use: 90 days.
pub const DEFAULT_RETENTION: Duration = Duration::from_secs(90 * 24 * 3600);

/// How many rows a store deletes per chunk (per transaction), so that
/// writers are never locked out for long.
pub const RETENTION_CHUNK: u32 = 5_000;

/// A background task that calls
/// [`ActivityStore::delete_older_than`] every `interval` (first right after
/// it starts), on its own thread; stopped by [`stop`](Self::stop) (which waits
/// for it) or when dropped (which does not).
///
/// Usually started by
/// [`ActivityLoggerBuilder::retention`](crate::ActivityLoggerBuilder::retention).
///
/// ```
/// use activity_log::query::RetentionTask;
/// use activity_log::MemorySink;
/// use std::sync::Arc;
/// use std::time::Duration;
///
/// let task = RetentionTask::start(Arc::new(MemorySink::new()), Duration::from_secs(30 * 86_400), Duration::from_secs(3600));
/// task.stop();
/// ```
#[derive(Debug)]
pub struct RetentionTask {
    stop: watch::Sender<bool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl RetentionTask {
    /// Starts deleting activities of every tenant older than `max_age`
    /// from `store`, every `interval`. Errors are reported through
    /// `tracing` and retried at the next tick.
    pub fn start(store: Arc<dyn ActivityStore>, max_age: Duration, interval: Duration) -> Self {
        let (stop, mut stopped) = watch::channel(false);
        let interval = interval.max(Duration::from_millis(10));
        let thread = std::thread::Builder::new().name("activity-log-retention".into()).spawn(move || {
            let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
                Ok(r) => r,
                Err(e) => {
                    tracing::error!(error = %e, "activity retention could not start its runtime; nothing will expire");
                    return;
                }
            };
            runtime.block_on(async move {
                loop {
                    match store.delete_older_than(max_age, None).await {
                        Ok(0) => {}
                        Ok(n) => tracing::info!(deleted = n, store = store.name(), "activity retention"),
                        Err(e) => tracing::warn!(error = %e, store = store.name(), "activity retention failed; retrying at the next interval"),
                    }
                    tokio::select! {
                        _ = tokio::time::sleep(interval) => {}
                        _ = stopped.wait_for(|s| *s) => return,
                    }
                }
            });
        });
        match thread {
            Ok(t) => Self { stop, thread: Some(t) },
            Err(e) => {
                tracing::error!(error = %e, "activity retention could not start its thread; nothing will expire");
                Self { stop, thread: None }
            }
        }
    }

    /// Stops the task, waiting for a deletion in progress to finish.
    pub fn stop(mut self) {
        self.shutdown();
    }

    fn shutdown(&mut self) {
        let _ = self.stop.send(true);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for RetentionTask {
    /// Signals the task to stop without waiting for it.
    fn drop(&mut self) {
        let _ = self.stop.send(true);
    }
}

/// A sink that owns a retention task, so that the task lives exactly as
/// long as the logger's worker.
pub(crate) struct RetainingSink {
    pub(crate) sink: Box<dyn Sink>,
    pub(crate) task: RetentionTask,
}

crate::sink::forward_sink!(impl for RetainingSink => |this| this.sink);

impl Drop for RetainingSink {
    fn drop(&mut self) {
        let _ = self.task.stop.send(true);
    }
}
