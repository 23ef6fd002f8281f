//! An outage is noticed within `spill_after` whatever the sink does — fail
//! at once, fail slowly, or never answer — and from then on nothing waits in
//! memory: the queue moves to the spool and new activities go there
//! directly. A write that outlives `write_timeout` is abandoned and retried.

use activity_log::{async_trait, Activity, ActivityLogger, MemorySink, Sink, SinkError};
use activity_log_tests::assert_identity;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// While `hung`, a write never answers (like a database that accepted the
/// connection and went silent); otherwise it writes to `inner`.
#[derive(Debug, Default)]
struct HangingSink {
    hung: AtomicBool,
    attempts: AtomicU64,
    inner: MemorySink,
}

#[async_trait]
impl Sink for HangingSink {
    async fn write_batch(&self, batch: &[Activity]) -> Result<(), SinkError> {
        self.attempts.fetch_add(1, Relaxed);
        if self.hung.load(Relaxed) {
            std::future::pending::<()>().await;
        }
        self.inner.write_batch(batch).await
    }
}

/// Waits until `done(stats)` holds, failing after `limit`; returns how long it took.
async fn wait_until(logger: &ActivityLogger, limit: Duration, done: impl Fn(&activity_log::Stats) -> bool) -> Duration {
    let started = Instant::now();
    loop {
        let s = logger.stats();
        if done(&s) {
            return started.elapsed();
        }
        assert!(started.elapsed() < limit, "not within {limit:?}: {s:?}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sink_that_never_answers_is_an_outage_after_spill_after() {
    let dir = tempfile::tempdir().expect("tempdir");
    let sink = Arc::new(HangingSink::default());
    sink.hung.store(true, Relaxed);
    let logger = ActivityLogger::builder()
        .sink(sink.clone())
        .spill_dir(dir.path())
        .spill_after(Duration::from_millis(300))
        .write_timeout(Duration::from_secs(2))
        .batch_size(100)
        .batch_timeout(Duration::from_millis(20))
        .build()
        .expect("logger builds");
    for i in 0..1_000 {
        logger.log_async(Activity::new("call_created").target("call", i));
    }
    // Once the write has been unanswered for spill_after, it is abandoned
    // and nothing waits in memory any more: its batch and the queue are spooled.
    let took = wait_until(&logger, Duration::from_secs(2), |s| s.spooled == 1_000).await;
    println!("a silent sink: 1,000 activities in the spool after {took:?} (spill_after 300 ms)");
    assert!(took >= Duration::from_millis(250), "spilled before spill_after: {took:?}");
    assert_eq!(logger.stats().queued, 0);

    // New activities go straight to the spool.
    for i in 1_000..1_500 {
        logger.log_async(Activity::new("call_created").target("call", i));
    }
    let s = logger.stats();
    assert!(s.queued == 0 && s.spooled == 1_500, "{s:?}");

    // Probes of the silent sink are abandoned after write_timeout; once the
    // sink answers again everything is written, each activity once.
    sink.hung.store(false, Relaxed);
    wait_until(&logger, Duration::from_secs(10), |s| s.written == 1_500).await;
    logger.flush().await.expect("flush");
    let s = logger.stats();
    assert_eq!((s.written, s.queued, s.spooled, s.lost()), (1_500, 0, 0, 0), "{s:?}");
    assert_identity(&s);
    assert!(sink.attempts.load(Relaxed) >= 2, "the silent write was tried again");
    let ids: std::collections::HashSet<_> = sink.inner.activities().iter().map(|a| a.id).collect();
    assert_eq!(ids.len(), 1_500);
}

#[tokio::test]
async fn a_silent_write_without_a_spool_is_abandoned_after_write_timeout_and_retried() {
    let sink = Arc::new(HangingSink::default());
    sink.hung.store(true, Relaxed);
    let logger = ActivityLogger::builder()
        .sink(sink.clone())
        .write_timeout(Duration::from_millis(100))
        .backoff(Duration::from_millis(10), Duration::from_millis(10))
        .build()
        .expect("logger builds");
    logger.log_async(Activity::new("call_created"));
    let started = Instant::now();
    while sink.attempts.load(Relaxed) < 3 {
        assert!(started.elapsed() < Duration::from_secs(2), "the silent write was not abandoned");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(logger.stats().retried >= 2);
    sink.hung.store(false, Relaxed);
    logger.flush().await.expect("flush");
    assert_eq!(logger.stats().written, 1);
}
