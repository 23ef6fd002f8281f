//! The store conformance suite against [`SqliteSink`] on real files, and
//! the SQLite-only guarantees: append-only rows, concurrent writers and
//! readers never seeing "database is locked", migrations on connect.

use activity_log::query::{ActivityFilter, ActivityStore};
use activity_log::sqlite::{SqliteSink, SCHEMA_VERSION};
use activity_log::{Activity, ActivityLogger, Sink};
use activity_log_tests::conformance::{make_dataset, Subject};
use std::sync::Arc;
use std::time::Duration;

fn url(dir: &tempfile::TempDir) -> String {
    format!("sqlite://{}", dir.path().join("activity.db").display())
}

async fn sqlite_store() -> Subject {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = SqliteSink::connect(&url(&dir)).await.expect("connect");
    Subject::new(Arc::new(store)).keep(dir)
}

activity_log_tests::conformance_suite!(sqlite_store);

#[tokio::test]
async fn connect_creates_the_file_in_wal_mode_and_migrates_once() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = SqliteSink::connect(&url(&dir)).await.expect("connect");
    assert!(dir.path().join("activity.db").exists());
    let mode: String = sqlx::query_scalar("PRAGMA journal_mode").fetch_one(store.writer_pool()).await.expect("pragma");
    assert_eq!(mode, "wal");
    let sync: i64 = sqlx::query_scalar("PRAGMA synchronous").fetch_one(store.writer_pool()).await.expect("pragma");
    assert_eq!(sync, 1, "synchronous=NORMAL");
    store.close().await;
    // Connecting again (another process, a restart) applies nothing twice.
    let again = SqliteSink::connect(&url(&dir)).await.expect("reconnect");
    let versions: Vec<i64> = sqlx::query_scalar("SELECT version FROM activity_log_migrations ORDER BY version")
        .fetch_all(again.writer_pool())
        .await
        .expect("migrations");
    assert_eq!(versions, (1..=SCHEMA_VERSION).collect::<Vec<_>>());
}

#[tokio::test]
async fn rows_are_append_only_outside_retention() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = SqliteSink::connect(&url(&dir)).await.expect("connect");
    let data = make_dataset(100);
    store.write_batch(&data.activities).await.expect("write");
    let pool = store.writer_pool();
    for sql in [
        "UPDATE activities SET description = 'tampered'",
        "UPDATE activities SET tenant = 'evil' WHERE rowid = 1",
        "DELETE FROM activities",
        "DELETE FROM activities WHERE rowid = 1",
    ] {
        let err = sqlx::query(sql).execute(pool).await.expect_err(sql);
        assert!(err.to_string().contains("append-only"), "{sql}: {err}");
    }
    // REPLACE would delete the old row without the delete trigger: the
    // insert is skipped instead.
    sqlx::query(
        "INSERT OR REPLACE INTO activities (id, occurred_at, activity_type, outcome, severity, description) \
         SELECT id, occurred_at, activity_type, outcome, severity, 'tampered' FROM activities",
    )
    .execute(pool)
    .await
    .expect("skipped");
    let first = &data.activities[0];
    assert_eq!(store.get(first.id, None).await.expect("get").as_ref(), Some(first), "REPLACE changed a row");
    // The gate is closed again after a retention call.
    let cutoff = data.base - chrono::Duration::days(30);
    let expected = data.activities.iter().filter(|a| a.occurred_at < cutoff).count() as u64;
    assert_eq!(store.delete_before(cutoff, None).await.expect("retention"), expected);
    assert!(sqlx::query("DELETE FROM activities").execute(pool).await.is_err(), "gate left open");
    let open: i64 = sqlx::query_scalar("SELECT open FROM activity_retention_gate").fetch_one(pool).await.expect("gate");
    assert_eq!(open, 0);
    let left = store.count(&ActivityFilter::new()).await.expect("count");
    assert_eq!(left, data.activities.len() as u64 - expected);
    assert!(data.activities.iter().all(|a| a.description.as_deref() != Some("tampered")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_writers_and_readers_never_see_a_locked_database() {
    let dir = tempfile::tempdir().expect("temp dir");
    // Two stores on one file: like two processes, each with its own writer.
    let a = SqliteSink::connect(&url(&dir)).await.expect("connect a");
    let b = SqliteSink::connect(&url(&dir)).await.expect("connect b");
    let failures = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let mut loggers = Vec::new();
    for store in [a.clone(), b.clone()] {
        let failures = failures.clone();
        let logger = ActivityLogger::builder()
            .sink(store)
            .batch_size(200)
            .dead_letter(move |_, _| {
                failures.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            })
            .build()
            .expect("logger builds");
        loggers.push(logger);
    }
    let reader = {
        let a = a.clone();
        tokio::spawn(async move {
            for _ in 0..50 {
                a.count(&ActivityFilter::new().tenant("acme")).await.expect("a read never fails");
                a.query(&ActivityFilter::new(), &Default::default()).await.expect("a read never fails");
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
        })
    };
    let retention = {
        let b = b.clone();
        tokio::spawn(async move {
            for _ in 0..10 {
                b.delete_older_than(Duration::from_secs(3600), None).await.expect("retention never fails");
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        })
    };
    for i in 0..5000 {
        loggers[i % 2].log_async(Activity::new("chat_message_sent").tenant("acme").target("chat", i));
    }
    for logger in &loggers {
        logger.flush().await.expect("flush");
    }
    reader.await.expect("reader");
    retention.await.expect("retention");
    let stats: Vec<_> = loggers.iter().map(ActivityLogger::stats).collect();
    assert_eq!(failures.load(std::sync::atomic::Ordering::Relaxed), 0, "no batch failed: {stats:?}");
    assert_eq!(a.count(&ActivityFilter::new()).await.expect("count"), 5000);
}
