//! Logging inside the caller's transaction: a rollback leaves no row, a
//! commit exactly one (chained), and a crash between the business write
//! and the commit leaves neither, on SQLite and PostgreSQL.

use activity_log::integrity::{ChainedStore, CheckpointSigner};
use activity_log::postgres::PostgresSink;
use activity_log::sqlite::SqliteSink;
use activity_log::{log_in, Activity, ActivityContext, Actor};
use activity_log_tests::child::{write_synced, TestChild};
use activity_log_tests::pg::TestSchema;
use sqlx::{Acquire, Executor, Row};
use std::time::Duration;

const CHILD_DB: &str = "ACTIVITY_LOG_TEST_LOG_IN_DB";

async fn sqlite_store(dir: &std::path::Path) -> SqliteSink {
    let url = format!("sqlite://{}", dir.join("app.db").display());
    let store = SqliteSink::connect(&url).await.expect("connect").with_chaining(true);
    store
        .writer_pool()
        .execute("CREATE TABLE IF NOT EXISTS plans (account TEXT PRIMARY KEY, plan TEXT NOT NULL)")
        .await
        .expect("business table");
    store
}

async fn counts(pool: &sqlx::SqlitePool) -> (i64, i64) {
    let a: i64 = sqlx::query("SELECT count(*) FROM activities").fetch_one(pool).await.expect("count").get(0);
    let p: i64 = sqlx::query("SELECT count(*) FROM plans").fetch_one(pool).await.expect("count").get(0);
    (a, p)
}

#[tokio::test]
async fn sqlite_rollback_leaves_nothing_and_commit_exactly_one_chained_row() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = sqlite_store(dir.path()).await;
    let pool = store.writer_pool().clone();

    let mut tx = pool.begin().await.expect("begin");
    tx.execute("INSERT INTO plans VALUES ('a', 'pro')").await.expect("business write");
    log_in(&mut *tx, Activity::new("plan_changed").tenant("acme")).await.expect("log in tx");
    tx.rollback().await.expect("rollback");
    assert_eq!(counts(&pool).await, (0, 0));
    assert_eq!(store.chain_head(Some("acme")).await.expect("head").position, 0, "the chain did not move");

    // Context filled and secrets redacted, as for log_async.
    let ctx = ActivityContext::new().actor(Actor::user("u-1")).ip("203.0.113.9");
    let id = ctx
        .scope(async {
            let mut tx = pool.begin().await.expect("begin");
            tx.execute("INSERT INTO plans VALUES ('a', 'pro')").await.expect("business write");
            let id = log_in(&mut *tx, Activity::new("plan_changed").tenant("acme").meta("password", "hunter2"))
                .await
                .expect("log in tx");
            // Logged twice in the same transaction: still one row.
            let again = store_get(&mut tx, id).await;
            assert_eq!(again, 1);
            tx.commit().await.expect("commit");
            id
        })
        .await;
    assert_eq!(counts(&pool).await, (1, 1));
    let stored = activity_log::query::ActivityStore::get(&store, id, None).await.expect("get").expect("stored");
    assert_eq!(stored.actor.and_then(|a| a.id).as_deref(), Some("u-1"));
    assert_eq!(stored.ip.as_deref(), Some("203.0.113.9"));
    assert_eq!(stored.metadata["password"], activity_log::REDACTED);

    let signer = CheckpointSigner::generate().expect("key");
    let c = store.checkpoint(Some("acme"), &signer).await.expect("checkpoint");
    assert_eq!(c.position, 1);
    let report = store.verify(Some("acme"), &c).await.expect("verify");
    assert!(report.is_intact(), "{report}");
    store.close().await;
}

/// Logs the same activity again in `tx`; returns the number of its rows.
async fn store_get(tx: &mut sqlx::Transaction<'_, sqlx::Sqlite>, id: activity_log::Uuid) -> i64 {
    let conn = tx.acquire().await.expect("connection");
    let row = sqlx::query("SELECT chain_seq FROM activities WHERE id = ?1")
        .bind(id.as_bytes().to_vec())
        .fetch_one(&mut *conn)
        .await
        .expect("row");
    let seq: i64 = row.get(0);
    let mut copy = Activity::new("plan_changed").tenant("acme").build().expect("valid");
    copy.id = id;
    log_in(&mut *conn, copy).await.expect("replayed in tx");
    let n: i64 = sqlx::query("SELECT count(*) FROM activities").fetch_one(&mut *conn).await.expect("count").get(0);
    assert_eq!(seq, 1);
    n
}

/// Not a test on its own: the child process that the crash test kills
/// between the business write and the commit.
#[tokio::test]
async fn child_process_crashing_before_commit() {
    let Ok(dir) = std::env::var(CHILD_DB) else { return };
    let dir = std::path::PathBuf::from(dir);
    let store = sqlite_store(&dir).await;
    let mut tx = store.writer_pool().begin().await.expect("begin");
    tx.execute("INSERT INTO plans VALUES ('a', 'pro')").await.expect("business write");
    log_in(&mut *tx, Activity::new("plan_changed").tenant("acme")).await.expect("log in tx");
    write_synced(&dir.join("ready"), "written, not committed");
    tokio::time::sleep(Duration::from_secs(60)).await;
    tx.commit().await.expect("never reached");
}

#[tokio::test]
async fn sqlite_a_crash_before_commit_leaves_neither() {
    let dir = tempfile::tempdir().expect("tempdir");
    drop(sqlite_store(dir.path()).await);
    let mut child = TestChild::spawn("child_process_crashing_before_commit", [(CHILD_DB, dir.path())]);
    child.wait_for_file(&dir.path().join("ready"), Duration::from_secs(60)).await;
    child.kill();
    let store = sqlite_store(dir.path()).await;
    assert_eq!(counts(store.writer_pool()).await, (0, 0));
    assert_eq!(store.chain_head(Some("acme")).await.expect("head").position, 0);
    store.close().await;
}

#[tokio::test]
async fn postgres_rollback_commit_and_a_killed_connection() {
    let Some(schema) = TestSchema::create("log_in").await else { return };
    let store = schema.sink_with(PostgresSink::builder().chaining(true)).await;
    let pool = schema.pool().await;
    pool.execute("CREATE TABLE plans (account text PRIMARY KEY, plan text NOT NULL)").await.expect("table");
    let count = |sql: &'static str| {
        let pool = pool.clone();
        async move { sqlx::query(sql).fetch_one(&pool).await.expect("count").get::<i64, _>(0) }
    };

    let mut tx = pool.begin().await.expect("begin");
    tx.execute("INSERT INTO plans VALUES ('a', 'pro')").await.expect("business write");
    log_in(&mut *tx, Activity::new("plan_changed").tenant("acme")).await.expect("log in tx");
    tx.rollback().await.expect("rollback");
    assert_eq!(count("SELECT count(*) FROM activities").await, 0);

    // The connection dies between the business write and the commit.
    let mut tx = pool.begin().await.expect("begin");
    tx.execute("INSERT INTO plans VALUES ('b', 'pro')").await.expect("business write");
    log_in(&mut *tx, Activity::new("plan_changed").tenant("acme")).await.expect("log in tx");
    let pid: i32 = sqlx::query("SELECT pg_backend_pid()").fetch_one(&mut *tx).await.expect("pid").get(0);
    let mut admin = schema.admin().await;
    sqlx::query("SELECT pg_terminate_backend($1)").bind(pid).execute(&mut admin).await.expect("kill");
    assert!(tx.commit().await.is_err(), "the commit cannot succeed on a killed connection");
    assert_eq!(count("SELECT count(*) FROM activities").await, 0);
    assert_eq!(count("SELECT count(*) FROM plans").await, 0);

    let mut tx = pool.begin().await.expect("begin");
    tx.execute("INSERT INTO plans VALUES ('c', 'pro')").await.expect("business write");
    log_in(&mut *tx, Activity::new("plan_changed").tenant("acme")).await.expect("log in tx");
    tx.commit().await.expect("commit");
    assert_eq!(count("SELECT count(*) FROM activities").await, 1);
    assert_eq!(count("SELECT count(*) FROM plans").await, 1);

    let signer = CheckpointSigner::generate().expect("key");
    let c = store.checkpoint(Some("acme"), &signer).await.expect("checkpoint");
    assert_eq!(c.position, 1, "rolled back and killed writes took no position");
    assert!(store.verify(Some("acme"), &c).await.expect("verify").is_intact());
    store.close().await;
}
