//! Every accepted activity is accounted for (`written + dropped +
//! quarantined + failed + queued == logged`), each term counted where it
//! happens, so that a lost activity shows.

use activity_log::{Activity, ActivityLogger, OverflowPolicy};
use activity_log_tests::sinks::SlowSink;
use activity_log_tests::{assert_identity, assert_identity_while_logging};
use std::time::Duration;

const THREADS: usize = 4;
const PER_THREAD: usize = 100_000;

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
    let logger = ActivityLogger::builder()
        .sink(sink.clone())
        .queue_capacity(1_000)
        .batch_size(256)
        .overflow(policy)
        .build()
        .expect("logger builds");
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
                assert_identity_while_logging(&logger.stats(), THREADS as u64);
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
    let logger = ActivityLogger::builder()
        .sink(sink.clone())
        .queue_max_bytes(50_000)
        .batch_size(10_000)
        .build()
        .expect("logger builds");
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

/// A sink that, handed a batch by value, gives it back one activity short
/// with an error (a bug that loses an activity), and takes borrowed batches.
#[derive(Debug, Default, Clone)]
struct LosesOneSink {
    inner: activity_log::MemorySink,
}

#[activity_log::async_trait]
impl activity_log::Sink for LosesOneSink {
    async fn write_batch(&self, batch: &[Activity]) -> Result<(), activity_log::SinkError> {
        self.inner.write_batch(batch).await
    }

    fn prefers_owned(&self) -> bool {
        true
    }

    async fn write_owned(&self, mut batch: Vec<Activity>) -> Result<(), (activity_log::SinkError, Vec<Activity>)> {
        batch.pop();
        Err((activity_log::SinkError::transient("try again"), batch))
    }
}

/// The identity is a real check: an activity lost inside the delivery path
/// (here by a sink that gives back a shorter batch) unbalances it, where a
/// `queued` derived from the other counters would have hidden the loss.
#[tokio::test]
async fn a_lost_activity_breaks_the_identity() {
    let sink = LosesOneSink::default();
    let logger = ActivityLogger::builder().sink(sink.clone()).batch_size(100).build().expect("logger builds");
    for i in 0..100 {
        logger.log_async(Activity::new("call_created").target("call", i));
    }
    logger.flush().await.expect("flush");
    let s = logger.stats();
    assert_eq!((s.logged, s.written, s.queued), (100, 99, 0), "{s:?}");
    assert_eq!(sink.inner.len(), 99);
    assert_eq!(s.accounted(), s.logged - 1, "the lost activity is missing from the identity: {s:?}");
    let caught = std::panic::catch_unwind(|| assert_identity(&s));
    assert!(caught.is_err(), "assert_identity must fail on a lost activity");
}

/// With the default builder (no spill directory), a burst of 100,000
/// activities logged as fast as one thread can is kept whole.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_of_100k_with_the_defaults_is_kept() {
    let sink = activity_log::MemorySink::new();
    let logger = ActivityLogger::builder().sink(sink.clone()).build().expect("logger builds");
    let started = std::time::Instant::now();
    for i in 0..100_000 {
        logger.log_async(Activity::new("call_created").tenant("acme").target("call", i).description("Inbound call"));
    }
    let took = started.elapsed();
    logger.flush().await.expect("flush");
    let s = logger.stats();
    println!("burst of 100,000 logged in {took:?}: {s:?}");
    assert_eq!((s.written, s.dropped), (100_000, 0), "{s:?}");
    assert_eq!(sink.len(), 100_000);
    assert_identity(&s);
}
