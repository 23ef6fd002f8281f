//! flush() and shutdown() on both runtime flavours, a sink that never
//! recovers, and dropping the last handle without shutdown.

use activity_log::{Activity, ActivityLogger, MemorySink};
use activity_log_tests::sinks::{DownSink, FlakySink, SlowSink};
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::time::{Duration, Instant};

async fn flush_is_a_barrier() {
    let sink = SlowSink { inner: MemorySink::new(), delay: Duration::from_millis(5) };
    let logger = ActivityLogger::builder().sink(sink.clone()).batch_size(64).build().expect("logger builds");
    for round in 1..=5 {
        for i in 0..1_000 {
            logger.log_async(Activity::new("agent_status_changed").target("agent", i));
        }
        logger.flush().await.expect("flush");
        assert_eq!(sink.inner.len(), round * 1_000, "everything logged before flush() is written");
    }
    let report = logger.shutdown(Duration::from_secs(5)).await;
    assert!(report.is_complete(), "{report:?}");
    assert!(!report.timed_out);
    assert_eq!(report.stats.written, 5_000);
}

#[tokio::test(flavor = "current_thread")]
async fn flush_barrier_current_thread() {
    flush_is_a_barrier().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn flush_barrier_multi_thread() {
    flush_is_a_barrier().await;
}

#[test]
fn flush_and_shutdown_outside_any_runtime_via_block_on() {
    let (logger, sink) = ActivityLogger::in_memory();
    logger.log_async(Activity::new("system_startup"));
    let rt = tokio::runtime::Builder::new_current_thread().build().expect("runtime without time driver");
    rt.block_on(logger.flush()).expect("flush");
    assert_eq!(sink.len(), 1);
    let report = rt.block_on(logger.shutdown(Duration::from_secs(1)));
    assert!(report.is_complete());
}

async fn shutdown_with_dead_sink_is_bounded() {
    let down = Arc::new(DownSink::default());
    let logger =
        ActivityLogger::builder().sink(down.clone()).max_retries(None).batch_size(100).build().expect("logger builds");
    for i in 0..1_234 {
        logger.log_async(Activity::new("call_ended").target("call", i));
    }
    let timeout = Duration::from_millis(500);
    let started = Instant::now();
    let report = logger.shutdown(timeout).await;
    let took = started.elapsed();
    assert!(took < timeout + Duration::from_millis(500), "shutdown took {took:?}");
    assert!(report.timed_out);
    assert_eq!(report.unwritten, 1_234);
    assert_eq!(report.stats.failed, 1_234);
    assert_eq!(report.stats.written, 0);
    assert!(down.attempts.load(Relaxed) > 1, "the sink was retried");
    // Logging after shutdown is refused and counted, never panics.
    assert!(logger.try_log_async(Activity::new("late")).is_err());
    logger.log_async(Activity::new("late"));
    assert_eq!(logger.stats().rejected, 2);
    assert!(logger.flush().await.is_err());
    let again = logger.shutdown(timeout).await;
    assert_eq!(again.unwritten, 1_234);
}

#[tokio::test(flavor = "current_thread")]
async fn shutdown_dead_sink_current_thread() {
    shutdown_with_dead_sink_is_bounded().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_dead_sink_multi_thread() {
    shutdown_with_dead_sink_is_bounded().await;
}

#[tokio::test]
async fn transient_errors_are_retried_until_written() {
    let sink = Arc::new(FlakySink::default());
    sink.failures.store(3, Relaxed);
    let logger = ActivityLogger::builder()
        .sink(sink.clone())
        .backoff(Duration::from_millis(1), Duration::from_millis(5))
        .build()
        .expect("logger builds");
    for i in 0..10 {
        logger.log_async(Activity::new("lead_created").target("lead", i));
    }
    logger.flush().await.expect("flush");
    let s = logger.stats();
    assert_eq!((s.written, s.retried, s.failed), (10, 3, 0), "{s:?}");
    assert_eq!(sink.inner.len(), 10);
}

#[tokio::test]
async fn retry_limit_sends_batch_to_dead_letter_hook() {
    let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
    let hook_seen = seen.clone();
    let logger = ActivityLogger::builder()
        .sink(DownSink::default())
        .max_retries(Some(2))
        .backoff(Duration::from_millis(1), Duration::from_millis(2))
        .dead_letter(move |a, e| hook_seen.lock().expect("lock").push((a.id, e.is_transient())))
        .build()
        .expect("logger builds");
    let id = logger.try_log_async(Activity::new("user_login")).expect("queued");
    logger.flush().await.expect("flush");
    let s = logger.stats();
    assert_eq!((s.failed, s.retried, s.queued), (1, 2, 0), "{s:?}");
    assert_eq!(*seen.lock().expect("lock"), vec![(id, true)]);
}

#[test]
fn dropping_the_last_handle_writes_what_is_queued() {
    let sink = SlowSink { inner: MemorySink::new(), delay: Duration::from_millis(20) };
    {
        let logger = ActivityLogger::builder().sink(sink.clone()).batch_size(100).build().expect("logger builds");
        for i in 0..1_000 {
            logger.log_async(Activity::new("chat_closed").target("chat", i));
        }
        let clone = logger.clone();
        drop(logger);
        clone.log_async(Activity::new("chat_closed").target("chat", 1_000));
    }
    assert_eq!(sink.inner.len(), 1_001, "drop flushed the queue before returning");
}

#[tokio::test]
async fn subscribers_see_accepted_activities_and_lag_without_slowing_logging() {
    let logger = ActivityLogger::builder().subscriber_capacity(16).build().expect("logger builds");
    let mut live = logger.subscribe();
    logger.log_async(Activity::new("connector_added").meta("password", "hunter2"));
    let first = live.recv().await.expect("first");
    assert_eq!(first.activity_type, "connector_added");
    assert_eq!(first.metadata["password"], "[REDACTED]", "subscribers only see redacted activities");

    let mut slow = logger.subscribe();
    for i in 0..100 {
        logger.log_async(Activity::new("call_created").target("call", i));
    }
    match slow.recv().await {
        Err(tokio::sync::broadcast::error::RecvError::Lagged(n)) => assert_eq!(n, 84),
        other => panic!("expected a lag notice, got {other:?}"),
    }
    logger.flush().await.expect("flush");
    assert_eq!(logger.stats().written, 101);
}
