//! Feature `postgres-rustls`: the PostgreSQL store over TLS.
//!
//! Needs a server with TLS on (Debian's cluster has `ssl = on` with its
//! snakeoil certificate; `sslmode=require` encrypts without checking the
//! certificate). A server with TLS off skips the test, saying so: that is
//! the server's configuration, not this crate's.

use activity_log::query::{ActivityFilter, ActivityStore, PageRequest};
use activity_log::{Activity, Sink};
use activity_log_tests::pg::TestSchema;
use sqlx::postgres::PgSslMode;
use sqlx::Row;
use std::io::Write;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_store_works_over_tls_with_sslmode_require() {
    let Some(schema) = TestSchema::create("tls").await else { return };
    let plain = schema.pool().await;
    let ssl: String = sqlx::query_scalar("SHOW ssl").fetch_one(&plain).await.expect("SHOW ssl");
    if ssl != "on" {
        let _ = writeln!(std::io::stderr(), "TLS test skipped: the server at DATABASE_URL has ssl = {ssl}");
        return;
    }

    let store = activity_log::postgres::PostgresSink::builder()
        .connect_with(schema.options().ssl_mode(PgSslMode::Require))
        .await
        .expect("connects over TLS with sslmode=require");
    let row = sqlx::query("SELECT ssl, version FROM pg_stat_ssl WHERE pid = pg_backend_pid()")
        .fetch_one(store.pool())
        .await
        .expect("pg_stat_ssl");
    assert!(row.get::<bool, _>("ssl"), "the store's connections are encrypted");
    assert!(row.get::<Option<String>, _>("version").is_some_and(|v| v.starts_with("TLS")));

    let a = Activity::new("call_created").tenant("acme").build().expect("valid");
    store.write_batch(std::slice::from_ref(&a)).await.expect("write over TLS");
    let page = store.query(&ActivityFilter::new().tenant("acme"), &PageRequest::first(10)).await.expect("query");
    assert_eq!(page.items, [a]);
}

#[test]
fn an_sslmode_require_url_parses() {
    let options: sqlx::postgres::PgConnectOptions =
        "postgres://app@db.example.com:5432/app?sslmode=require".parse().expect("a URL with sslmode");
    assert!(matches!(options.get_ssl_mode(), PgSslMode::Require));
}
