//! A permanently bad record is quarantined; the rest of its batch is written.

use activity_log::{Activity, ActivityLogger};
use activity_log_tests::sinks::PoisonSink;
use std::sync::{Arc, Mutex};

async fn poison_in_batch_of_500(name_record: bool) {
    let sink = PoisonSink { inner: Default::default(), name_record };
    let quarantined = Arc::new(Mutex::new(Vec::new()));
    let q = quarantined.clone();
    let logger = ActivityLogger::builder()
        .sink(sink.clone())
        .batch_size(500)
        .queue_capacity(10_000)
        .dead_letter(move |a, e| q.lock().expect("lock").push((a.activity_type.clone(), e.is_transient())))
        .build()
        .expect("logger builds");
    for i in 0..500 {
        let ty = if i == 317 { "poison" } else { "call_created" };
        logger.log_async(Activity::new(ty).target("call", i));
    }
    logger.flush().await.expect("flush");
    let s = logger.stats();
    assert_eq!((s.written, s.quarantined, s.failed, s.retried), (499, 1, 0, 0), "{s:?}");
    assert_eq!(*quarantined.lock().expect("lock"), vec![("poison".to_owned(), false)]);

    // The queue keeps moving.
    for i in 0..2_000 {
        logger.log_async(Activity::new("call_updated").target("call", i));
    }
    logger.flush().await.expect("flush");
    assert_eq!(sink.inner.len(), 2_499);
    assert_eq!(logger.stats().queued, 0);
}

#[tokio::test]
async fn poison_record_found_by_bisection() {
    poison_in_batch_of_500(false).await;
}

#[tokio::test]
async fn poison_record_named_by_the_sink() {
    poison_in_batch_of_500(true).await;
}
