//! Every accepted activity is accounted for: written + dropped + quarantined
//! + failed + queued == logged.

use activity_log::{Activity, ActivityLogger, OverflowPolicy, Stats};
use activity_log_tests::sinks::SlowSink;
use std::time::Duration;

const THREADS: usize = 4;
const PER_THREAD: usize = 100_000;

fn assert_identity(s: &Stats) {
    assert_eq!(s.written + s.dropped + s.quarantined + s.failed + s.queued, s.logged, "{s:?}");
}

fn produce(logger: &ActivityLogger) {
    let handles: Vec<_> = (0..THREADS)
        .map(|t| {
            let logger = logger.clone();
            std::thread::spawn(move || {
                for i in 0..PER_THREAD {
                    logger.log_async(Activity::new("call_created").target("call", i).tenant(format!("t{t}")));
                }
            })
        })
        .collect();
    for h in handles {
        h.join().expect("producer thread");
    }
}

fn slow_logger(policy: OverflowPolicy) -> (ActivityLogger, SlowSink) {
    let sink = SlowSink { inner: Default::default(), delay: Duration::from_millis(1) };
    let logger =
        ActivityLogger::builder().sink(sink.clone()).queue_capacity(1_000).batch_size(256).overflow(policy).build();
    (logger, sink)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn all_activities_accounted_for_under_drop_newest() {
    let (logger, sink) = slow_logger(OverflowPolicy::DropNewest);
    let producer = logger.clone();
    let sampler = {
        let logger = logger.clone();
        tokio::spawn(async move {
            for _ in 0..50 {
                assert_identity(&logger.stats());
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
        })
    };
    tokio::task::spawn_blocking(move || produce(&producer)).await.expect("producers");
    logger.flush().await.expect("flush");
    sampler.await.expect("sampler");

    let s = logger.stats();
    assert_eq!(s.logged, (THREADS * PER_THREAD) as u64);
    assert_eq!(s.written + s.dropped, (THREADS * PER_THREAD) as u64, "{s:?}");
    assert!(s.dropped > 0, "the slow sink and small queue must overflow: {s:?}");
    assert_eq!(s.queued, 0);
    assert_eq!(sink.inner.len() as u64, s.written);
    assert_identity(&s);
    let report = logger.shutdown(Duration::from_secs(5)).await;
    assert_eq!(report.unwritten, s.dropped);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wait_policy_writes_everything() {
    let (logger, sink) = slow_logger(OverflowPolicy::Wait);
    let producer = logger.clone();
    tokio::task::spawn_blocking(move || produce(&producer)).await.expect("producers");
    logger.flush().await.expect("flush");
    let s = logger.stats();
    assert_eq!((s.written, s.dropped), ((THREADS * PER_THREAD) as u64, 0), "{s:?}");
    assert_eq!(sink.inner.len(), THREADS * PER_THREAD);
}

#[tokio::test]
async fn async_log_waits_for_room_under_any_policy() {
    let (logger, sink) = slow_logger(OverflowPolicy::DropNewest);
    let tasks: Vec<_> = (0..4)
        .map(|t| {
            let logger = logger.clone();
            tokio::spawn(async move {
                for i in 0..5_000 {
                    logger
                        .log(Activity::new("chat_message").target("chat", i).tenant(format!("t{t}")))
                        .await
                        .expect("log");
                }
            })
        })
        .collect();
    for t in tasks {
        t.await.expect("task");
    }
    logger.flush().await.expect("flush");
    assert_eq!(sink.inner.len(), 20_000);
    assert_eq!(logger.stats().dropped, 0);
}

#[tokio::test]
async fn queue_is_bounded_by_bytes() {
    let sink = SlowSink { inner: Default::default(), delay: Duration::from_millis(200) };
    let logger = ActivityLogger::builder().sink(sink.clone()).queue_max_bytes(50_000).batch_size(10_000).build();
    let big = "x".repeat(4_000);
    let mut dropped = 0;
    for _ in 0..100 {
        if logger.try_log_async(Activity::new("note").description(big.clone())).is_err() {
            dropped += 1;
        }
    }
    assert!(dropped >= 70, "a 50 kB queue cannot hold 100 x 4 kB activities: {dropped} dropped");
    logger.flush().await.expect("flush");
    let s = logger.stats();
    assert_eq!(s.dropped, dropped);
    assert_eq!(s.written + s.dropped, 100);
}
