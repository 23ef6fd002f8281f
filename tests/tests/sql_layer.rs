//! What the shared SQL layer guarantees on both SQL stores, beyond the
//! conformance suite: a stored value this crate never writes is corrupt
//! for the stats exactly as for reads (never counted as a success), and a
//! database migrated by a newer version of the crate is refused on
//! connect with a clear error.

use activity_log::postgres::PostgresSink;
use activity_log::query::{ActivityFilter, ActivityStore, PageRequest, StatsRequest};
use activity_log::sqlite::SqliteSink;
use activity_log::{Activity, DatabaseErrorKind, Error, Sink};
use activity_log_tests::pg::TestSchema;

fn batch() -> Vec<Activity> {
    (0..3).map(|i| Activity::new("login").tenant("acme").target("user", i).build().expect("valid")).collect()
}

/// Stats and reads both refuse the row, naming the column, not the value.
async fn corrupt_outcome_is_refused_everywhere(store: &dyn ActivityStore) {
    let acme = ActivityFilter::new().tenant("acme");
    let stats = store.stats(&acme, &StatsRequest::new()).await.expect_err("stats refuse the row");
    let read = store.query(&acme, &PageRequest::first(10)).await.expect_err("reads refuse the row");
    for err in [stats.to_string(), read.to_string()] {
        assert!(err.contains("`outcome`"), "{err}");
        assert!(!err.contains("maybe"), "the value is not echoed: {err}");
    }
}

fn assert_newer_schema_refused(result: Result<impl Sized, Error>) {
    match result {
        Err(Error::Database(db)) => {
            assert_eq!(db.kind(), DatabaseErrorKind::Schema, "{db}");
            assert!(db.to_string().contains("version 99"), "{db}");
        }
        Err(other) => panic!("expected a schema error, got {other}"),
        Ok(_) => panic!("a newer schema must be refused"),
    }
}

#[tokio::test]
async fn sqlite_an_unknown_outcome_is_corrupt_for_stats_and_reads() {
    let dir = tempfile::tempdir().expect("temp dir");
    let url = format!("sqlite://{}", dir.path().join("activity.db").display());
    let store = SqliteSink::connect(&url).await.expect("connect");
    store.write_batch(&batch()).await.expect("write");
    sqlx::query(
        "INSERT INTO activities (id, occurred_at, tenant, activity_type, outcome, severity) \
         VALUES (x'00112233445566778899aabbccddeeff', 1, 'acme', 'login', 'maybe', 'info')",
    )
    .execute(store.writer_pool())
    .await
    .expect("a row written by something else");
    corrupt_outcome_is_refused_everywhere(&store).await;
}

#[tokio::test]
async fn sqlite_a_newer_schema_is_refused() {
    let dir = tempfile::tempdir().expect("temp dir");
    let url = format!("sqlite://{}", dir.path().join("activity.db").display());
    let store = SqliteSink::connect(&url).await.expect("connect");
    sqlx::query("INSERT INTO activity_log_migrations (version, description, applied_at) VALUES (99, 'future', 0)")
        .execute(store.writer_pool())
        .await
        .expect("a newer crate's migration");
    store.close().await;
    assert_newer_schema_refused(SqliteSink::connect(&url).await);
}

#[tokio::test]
async fn sqlite_in_memory_works_for_tests() {
    let store = SqliteSink::connect("sqlite::memory:").await.expect("connect");
    store.write_batch(&batch()).await.expect("write");
    assert_eq!(store.count(&ActivityFilter::new().tenant("acme")).await.expect("count"), 3);
}

#[tokio::test]
async fn postgres_an_unknown_outcome_is_corrupt_for_stats_and_reads() {
    let Some(schema) = TestSchema::create("corrupt_outcome").await else { return };
    let store = schema.sink().await;
    store.write_batch(&batch()).await.expect("write");
    sqlx::query(
        "INSERT INTO activities (id, occurred_at, tenant, activity_type, outcome, severity) \
         VALUES (gen_random_uuid(), now(), 'acme', 'login', 'maybe', 'info')",
    )
    .execute(store.pool())
    .await
    .expect("a row written by something else");
    corrupt_outcome_is_refused_everywhere(&store).await;
}

#[tokio::test]
async fn postgres_a_newer_schema_is_refused() {
    let Some(schema) = TestSchema::create("newer_schema").await else { return };
    let store = schema.sink().await;
    sqlx::query("INSERT INTO activity_log_migrations (version, description) VALUES (99, 'future')")
        .execute(store.pool())
        .await
        .expect("a newer crate's migration");
    store.close().await;
    assert_newer_schema_refused(PostgresSink::builder().connect_with(schema.options()).await);
}
