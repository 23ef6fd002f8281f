//! `#[log_activity(..., tx = <param>)]`: the activity is written in the
//! transaction the function takes, so it commits and rolls back with the
//! function's change (SQLite and PostgreSQL).

use activity_log::log_activity;
use activity_log::postgres::PostgresSink;
use activity_log::query::{ActivityFilter, ActivityStore};
use activity_log::sqlite::SqliteSink;
use activity_log::Outcome;
use activity_log_tests::pg::TestSchema;
use sqlx::{Executor, Row};

#[log_activity(type = "plan_changed", target = "account", id = account, tenant = "acme", tx = tx)]
async fn change_plan(
    tx: &mut sqlx::Transaction<'_, sqlx::Sqlite>,
    account: &str,
    plan: &str,
) -> Result<u64, sqlx::Error> {
    let done = sqlx::query("INSERT INTO plans (account, plan) VALUES (?1, ?2)")
        .bind(account)
        .bind(plan)
        .execute(&mut **tx)
        .await?;
    Ok(done.rows_affected())
}

#[log_activity(type = "plan_changed", target = "account", id = account, tenant = "acme", tx = conn)]
async fn change_plan_pg(conn: &mut sqlx::PgConnection, account: &str) -> Result<(), sqlx::Error> {
    sqlx::query("INSERT INTO plans (account) VALUES ($1)").bind(account).execute(&mut *conn).await?;
    Ok(())
}

#[tokio::test]
async fn sqlite_the_activity_commits_and_rolls_back_with_the_change() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = SqliteSink::connect(&format!("sqlite://{}", dir.path().join("m.db").display()))
        .await
        .expect("connect")
        .with_chaining(true);
    let pool = store.writer_pool().clone();
    pool.execute("CREATE TABLE plans (account TEXT PRIMARY KEY, plan TEXT NOT NULL)").await.expect("table");

    let mut tx = pool.begin().await.expect("begin");
    assert_eq!(change_plan(&mut tx, "a-1", "pro").await.expect("change"), 1, "the value is returned untouched");
    tx.rollback().await.expect("rollback");
    assert_eq!(store.count(&ActivityFilter::new()).await.expect("count"), 0);

    let mut tx = pool.begin().await.expect("begin");
    change_plan(&mut tx, "a-1", "pro").await.expect("change");
    // A failing call is recorded as a failure, in the same transaction.
    change_plan(&mut tx, "a-1", "again").await.expect_err("duplicate account");
    tx.commit().await.expect("commit");
    let page = store
        .query(&ActivityFilter::new().tenant("acme"), &activity_log::query::PageRequest::first(10))
        .await
        .expect("query");
    assert_eq!(page.items.len(), 2);
    assert!(page.items.iter().all(|a| a.target.as_ref().and_then(|t| t.id.as_deref()) == Some("a-1")));
    assert_eq!(page.items.iter().filter(|a| a.outcome == Outcome::Failure).count(), 1);
    let seqs: Vec<i64> = sqlx::query("SELECT chain_seq FROM activities ORDER BY chain_seq")
        .fetch_all(&pool)
        .await
        .expect("seqs")
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(seqs, [1, 2], "chained, rolled-back calls took no position");
    store.close().await;
}

#[tokio::test]
async fn postgres_the_activity_commits_and_rolls_back_with_the_change() {
    let Some(schema) = TestSchema::create("macro_tx").await else { return };
    let store = schema.sink_with(PostgresSink::builder().chaining(true)).await;
    let pool = schema.pool().await;
    pool.execute("CREATE TABLE plans (account text PRIMARY KEY)").await.expect("table");

    let mut tx = pool.begin().await.expect("begin");
    change_plan_pg(&mut tx, "a-1").await.expect("change");
    tx.rollback().await.expect("rollback");
    assert_eq!(store.count(&ActivityFilter::new()).await.expect("count"), 0);

    let mut tx = pool.begin().await.expect("begin");
    change_plan_pg(&mut tx, "a-1").await.expect("change");
    tx.commit().await.expect("commit");
    assert_eq!(store.count(&ActivityFilter::new().tenant("acme")).await.expect("count"), 1);
    store.close().await;
}
