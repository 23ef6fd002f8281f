//! The background retention task started from the logger builder.

use activity_log::query::{ActivityFilter, ActivityStore, RetentionTask};
use activity_log::{Activity, ActivityLogger, MemorySink, Sink};
use chrono::{Duration as ChronoDuration, Utc};
use std::sync::Arc;
use std::time::Duration;

fn aged(days: i64) -> Activity {
    Activity::new("call_created")
        .tenant("acme")
        .occurred_at(Utc::now() - ChronoDuration::days(days))
        .build()
        .expect("valid")
}

async fn wait_for_count(store: &MemorySink, count: u64) -> bool {
    for _ in 0..200 {
        if store.count(&ActivityFilter::new()).await.expect("count") == count {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    false
}

#[tokio::test]
async fn the_logger_builder_starts_retention_and_it_expires_old_rows() {
    let store = MemorySink::new();
    store.write_batch(&[aged(100), aged(91), aged(89), aged(1)]).await.expect("seed");
    let logger = ActivityLogger::builder()
        .sink(store.clone())
        .retention(store.clone(), Duration::from_secs(90 * 86_400), Duration::from_millis(20))
        .build()
        .expect("logger builds");
    assert!(wait_for_count(&store, 2).await, "the first run deletes the two rows older than 90 days");
    // Later runs expire rows that age past the horizon in between.
    store.write_batch(&[aged(95)]).await.expect("write");
    assert!(wait_for_count(&store, 2).await, "a later run deletes a newly old row");
    logger.log_async(Activity::new("call_ended").tenant("acme"));
    logger.flush().await.expect("flush");
    assert_eq!(store.count(&ActivityFilter::new()).await.expect("count"), 3);
    logger.shutdown(Duration::from_secs(5)).await;
}

#[tokio::test]
async fn a_stopped_task_deletes_nothing_more() {
    let store = MemorySink::new();
    let task = RetentionTask::start(Arc::new(store.clone()), Duration::from_secs(86_400), Duration::from_millis(10));
    assert!(wait_for_count(&store, 0).await);
    task.stop();
    store.write_batch(&[aged(10)]).await.expect("write");
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(store.count(&ActivityFilter::new()).await.expect("count"), 1);
}
