//! The process-wide logger and the task-local override.

use crate::logger::report_refusal;
use crate::{ActivityLogger, Error, IntoActivity, Result};
use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::OnceLock;
use uuid::Uuid;

static GLOBAL: OnceLock<ActivityLogger> = OnceLock::new();
static UNLOGGED: AtomicU64 = AtomicU64::new(0);
static WARNED_NO_LOGGER: AtomicBool = AtomicBool::new(false);

tokio::task_local! {
    static SCOPED: ActivityLogger;
}

/// Installs the logger used by the free functions [`log_async`] and [`log`]
/// and by `#[log_activity]`. It can be installed once per process; tests
/// should use [`ActivityLogger::scope`] instead.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let (logger, sink) = activity_log::ActivityLogger::in_memory();
/// activity_log::set_global(logger.clone()).expect("installed once");
/// activity_log::log_async(activity_log::Activity::new("system_startup"));
/// logger.flush().await.unwrap();
/// assert_eq!(sink.len(), 1);
/// # }
/// ```
pub fn set_global(logger: ActivityLogger) -> Result<()> {
    GLOBAL.set(logger).map_err(|_| Error::GlobalAlreadySet)
}

/// Runs `f` with the logger in effect: the innermost
/// [`ActivityLogger::scope`], else the global one.
pub fn with_current<R>(f: impl FnOnce(Option<&ActivityLogger>) -> R) -> R {
    let mut f = Some(f);
    match SCOPED.try_with(|logger| f.take().map(|f| f(Some(logger)))) {
        Ok(Some(r)) => r,
        // `try_with` runs its closure only when it returns `Ok`.
        _ => match f.take() {
            Some(f) => f(GLOBAL.get()),
            None => unreachable!("the scoped closure ran"),
        },
    }
}

/// The logger in effect (scoped, else global), if any.
pub fn current() -> Option<ActivityLogger> {
    with_current(|l| l.cloned())
}

/// Logs through the logger in effect; see [`ActivityLogger::log_async`].
///
/// With no logger installed the activity is counted (see
/// [`unlogged_count`]) and a warning is emitted once.
pub fn log_async(activity: impl IntoActivity) {
    with_current(|logger| match logger {
        Some(logger) => logger.log_async(activity),
        None => no_logger(),
    })
}

/// [`log_async`] for an activity whose context fields are already filled
/// (the HTTP layer's).
#[cfg(feature = "axum")]
pub(crate) fn log_async_filled(activity: crate::Activity) {
    with_current(|logger| match logger {
        Some(logger) => logger.log_async_filled(activity),
        None => no_logger(),
    })
}

/// Like [`log_async`] but returns the id or the reason for refusal.
pub fn try_log_async(activity: impl IntoActivity) -> Result<Uuid> {
    with_current(|logger| match logger {
        Some(logger) => logger.try_log_async(activity),
        None => {
            no_logger();
            Err(Error::NoLogger)
        }
    })
}

/// Logs through the logger in effect, waiting for room in its queue; see
/// [`ActivityLogger::log`].
pub async fn log(activity: impl IntoActivity) -> Result<Uuid> {
    match current() {
        Some(logger) => logger.log(activity).await,
        None => {
            no_logger();
            Err(Error::NoLogger)
        }
    }
}

/// How many activities were logged through the free functions while no
/// logger was installed.
pub fn unlogged_count() -> u64 {
    UNLOGGED.load(Relaxed)
}

fn no_logger() {
    UNLOGGED.fetch_add(1, Relaxed);
    if !WARNED_NO_LOGGER.swap(true, Relaxed) {
        report_refusal(&Error::NoLogger);
    }
}

impl ActivityLogger {
    /// Runs `fut` with this logger in effect for the free functions and
    /// `#[log_activity]`, overriding the global one. Parallel tests each
    /// capture their own activities this way.
    ///
    /// ```
    /// use activity_log::{Activity, ActivityLogger};
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let (logger, sink) = ActivityLogger::in_memory();
    /// logger.scope(async { activity_log::log_async(Activity::new("cache_clear")) }).await;
    /// logger.flush().await.unwrap();
    /// sink.assert_logged("cache_clear");
    /// # }
    /// ```
    pub fn scope<F: Future>(&self, fut: F) -> impl Future<Output = F::Output> {
        SCOPED.scope(self.clone(), fut)
    }

    /// [`scope`](Self::scope) for synchronous code.
    pub fn sync_scope<R>(&self, f: impl FnOnce() -> R) -> R {
        SCOPED.sync_scope(self.clone(), f)
    }
}
