//! PostgreSQL-only guarantees: append-only rows, migrations from several
//! instances at once, the logger writing from its own runtime, surviving
//! killed connections, never starving the host's pool, invalid input
//! stopped before the database, ips kept as given, retention dropping
//! whole partitions, indexes serving tenant + time, and partitions the
//! writer filled analyzed.

use activity_log::postgres::{Partitioning, PostgresSink, SCHEMA_VERSION};
use activity_log::query::{ActivityFilter, ActivityStore, PageRequest};
use activity_log::{Activity, ActivityLogger, Error, Sink, ValidationError};
use activity_log_tests::conformance::make_dataset;
use activity_log_tests::pg::TestSchema;
use chrono::{DateTime, Duration, TimeZone, Utc};
use serde_json::json;
use sqlx::{Executor, Row};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn update_delete_and_truncate_are_refused_outside_retention() {
    let Some(schema) = TestSchema::create("append_only").await else { return };
    let store = schema.sink().await;
    let data = make_dataset(200);
    store.write_batch(&data.activities).await.expect("write");
    let partition: String = sqlx::query_scalar("SELECT tableoid::regclass::text FROM activities LIMIT 1")
        .fetch_one(store.pool())
        .await
        .expect("a partition holding rows");
    for sql in [
        "UPDATE activities SET description = 'tampered'".to_owned(),
        "UPDATE activities SET tenant = 'evil' WHERE tenant = 'acme'".to_owned(),
        "DELETE FROM activities".to_owned(),
        "DELETE FROM activities WHERE tenant = 'acme'".to_owned(),
        "TRUNCATE activities".to_owned(),
        format!("TRUNCATE {partition}"),
        format!("DELETE FROM {partition}"),
        format!("UPDATE {partition} SET error = NULL"),
    ] {
        let err = sqlx::query(&sql).execute(store.pool()).await.expect_err(&sql);
        assert!(err.to_string().contains("append-only"), "{sql}: {err}");
    }
    // Retention may delete, and leaves the gate closed for everyone else.
    let cutoff = data.base - Duration::days(30);
    let old = data.activities.iter().filter(|a| a.occurred_at < cutoff).count() as u64;
    assert_eq!(store.delete_before(cutoff, Some("acme")).await.expect("retention") > 0, old > 0);
    assert!(sqlx::query("DELETE FROM activities").execute(store.pool()).await.is_err(), "gate left open");
    let tampered: i64 = sqlx::query_scalar("SELECT count(*) FROM activities WHERE description = 'tampered'")
        .fetch_one(store.pool())
        .await
        .expect("count");
    assert_eq!(tampered, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn migrations_apply_once_when_instances_start_together() {
    let Some(schema) = TestSchema::create("migrate").await else { return };
    let options = schema.options();
    let starts = (0..4).map(|_| {
        let options = options.clone();
        tokio::spawn(async move { PostgresSink::builder().reader_connections(1).connect_with(options).await })
    });
    for start in starts.collect::<Vec<_>>() {
        start.await.expect("task").expect("every instance connects");
    }
    let pool = schema.pool().await;
    let versions: Vec<i64> = sqlx::query_scalar("SELECT version FROM activity_log_migrations ORDER BY version")
        .fetch_all(&pool)
        .await
        .expect("versions");
    assert_eq!(versions, (1..=SCHEMA_VERSION).collect::<Vec<_>>());
    // The current partition and the ones ahead exist.
    let partitions: i64 =
        sqlx::query_scalar("SELECT count(*) FROM activity_log_partitions").fetch_one(&pool).await.expect("count");
    assert_eq!(partitions, 3);
}

/// The logger's worker runs its own runtime: the writer's connections must
/// work there, whatever runtime made the sink.
async fn log_through_the_logger(label: &str) {
    let Some(schema) = TestSchema::create(label).await else { return };
    let store = schema.sink().await;
    let failures = Arc::new(AtomicU64::new(0));
    let counted = failures.clone();
    let logger = ActivityLogger::builder()
        .sink(store.clone())
        .batch_size(1000)
        .dead_letter(move |_, _| {
            counted.fetch_add(1, Ordering::Relaxed);
        })
        .build()
        .expect("logger builds");
    for i in 0..5000 {
        logger.log_async(Activity::new("chat_message_sent").tenant("acme").target("chat", i % 50));
    }
    logger.flush().await.expect("flush");
    let report = logger.shutdown(std::time::Duration::from_secs(30)).await;
    assert!(report.is_complete(), "{report:?}");
    assert_eq!(failures.load(Ordering::Relaxed), 0);
    assert_eq!(store.count(&ActivityFilter::new().tenant("acme")).await.expect("count"), 5000);
}

#[tokio::test(flavor = "current_thread")]
async fn the_logger_writes_from_its_own_runtime_current_thread() {
    log_through_the_logger("logger_ct").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_logger_writes_from_its_own_runtime_multi_thread() {
    log_through_the_logger("logger_mt").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_connections_are_retried_on_fresh_ones() {
    let Some(schema) = TestSchema::create("killed").await else { return };
    let store = schema.sink().await;
    let logger = ActivityLogger::builder().sink(store.clone()).batch_size(500).build().expect("logger builds");
    let mut admin = schema.admin().await;
    for round in 0..3 {
        for i in 0..1000 {
            logger.log_async(Activity::new("call_created").tenant("acme").target("call", round * 1000 + i));
        }
        logger.flush().await.expect("flush");
        // Every connection of the sink dies, as in a server restart.
        let killed: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM (SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
             WHERE application_name = $1 AND pid <> pg_backend_pid()) AS t",
        )
        .bind(&schema.name)
        .fetch_one(&mut admin)
        .await
        .expect("terminate");
        assert!(killed > 0, "round {round}: the sink had connections");
    }
    for i in 0..1000 {
        logger.log_async(Activity::new("call_ended").tenant("acme").target("call", i));
    }
    logger.flush().await.expect("flush");
    let stats = logger.stats();
    assert_eq!((stats.failed, stats.quarantined), (0, 0), "{stats:?}");
    let n = store.count(&ActivityFilter::new().tenant("acme")).await.expect("reads reconnect too");
    assert_eq!(n, 4000);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_writer_never_takes_the_host_pools_connections() {
    let Some(schema) = TestSchema::create("host_pool").await else { return };
    let host = sqlx::postgres::PgPoolOptions::new()
        .max_connections(1)
        .acquire_timeout(std::time::Duration::from_millis(500))
        .connect_with(schema.options())
        .await
        .expect("host pool");
    let store = PostgresSink::from_pool(host.clone()).await.expect("from_pool");
    // The application holds its only connection while the logger writes.
    let held = host.acquire().await.expect("the host's connection");
    let logger = ActivityLogger::builder().sink(store.clone()).batch_size(1000).build().expect("logger builds");
    for i in 0..4000 {
        logger.log_async(Activity::new("agent_updated").tenant("acme").target("agent", i));
    }
    logger.flush().await.expect("flush");
    assert_eq!(logger.stats().written, 4000);
    let mut admin = schema.admin().await;
    let connections: i64 = sqlx::query_scalar("SELECT count(*) FROM pg_stat_activity WHERE application_name = $1")
        .bind(&schema.name)
        .fetch_one(&mut admin)
        .await
        .expect("count");
    assert!(connections <= 3, "host 1 + writer at most 2, found {connections}");
    drop(held);
    assert_eq!(store.count(&ActivityFilter::new()).await.expect("count"), 4000);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn input_postgres_would_refuse_never_reaches_it_as_a_failed_batch() {
    let Some(schema) = TestSchema::create("bad_input").await else { return };
    let store = schema.sink().await;
    let logger = ActivityLogger::builder().sink(store.clone()).build().expect("logger builds");
    let year = |y: i32| Utc.with_ymd_and_hms(y, 1, 1, 0, 0, 0).single().expect("a date");
    let bad = [
        ("NUL in text", Activity::new("login").description("a\0b")),
        ("NUL in an id", Activity::new("login").tenant("ac\0me")),
        ("NUL in a metadata value", Activity::new("login").meta("note", "\u{0000}")),
        ("NUL in a metadata key", Activity::new("login").meta("no\u{0000}te", 1)),
        ("NUL nested in metadata", Activity::new("login").meta("nested", json!({"a": ["x\u{0000}"]}))),
        ("NUL in a change", Activity::new("login").change("name", "a\0", "b")),
        ("year 10000", Activity::new("login").occurred_at(year(9999) + Duration::days(366))),
        ("year 1969", Activity::new("login").occurred_at(year(1969))),
    ];
    for (what, builder) in bad {
        match logger.try_log_async(builder) {
            Err(Error::Invalid(e)) => {
                assert!(
                    matches!(e, ValidationError::NulByte { .. } | ValidationError::TimestampOutOfRange),
                    "{what}: {e}"
                )
            }
            other => panic!("{what}: expected a validation error, got {other:?}"),
        }
    }
    // The edges of the range are accepted and stored exactly.
    let edges = [year(1970), year(9999) + Duration::days(364) + Duration::microseconds(86_400_000_000 - 1)];
    let mut ids = Vec::new();
    for at in edges {
        ids.push(logger.try_log_async(Activity::new("login").tenant("acme").occurred_at(at)).expect("valid"));
    }
    logger.flush().await.expect("flush");
    let stats = logger.stats();
    assert_eq!((stats.written, stats.failed, stats.quarantined), (2, 0, 0), "{stats:?}");
    for (id, at) in ids.into_iter().zip(edges) {
        assert_eq!(store.get(id, Some("acme")).await.expect("get").expect("stored").occurred_at, at);
    }
    // A record changed after it was built, written directly: the error is
    // permanent and names it, so the logger would quarantine only it.
    let mut batch: Vec<Activity> = make_dataset(10).activities;
    batch[6].description = Some("bad\0byte".into());
    let err = store.write_batch(&batch).await.expect_err("Postgres refuses NUL");
    assert!(!err.is_transient());
    assert_eq!(err.record(), Some(6));
    assert_eq!(store.count(&ActivityFilter::new()).await.expect("count"), 2, "nothing of the batch was written");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ips_are_inet_when_they_parse_and_kept_as_given_otherwise() {
    let Some(schema) = TestSchema::create("ips").await else { return };
    let store = schema.sink().await;
    let ips =
        ["203.0.113.9", "2001:db8::1", "2001:DB8:0::1", "::ffff:1.2.3.4", "not-an-ip", "10.0.0.1/8", "fe80::1%eth0"];
    let batch: Vec<Activity> =
        ips.iter().map(|ip| Activity::new("login").tenant("acme").ip(*ip).build().expect("valid")).collect();
    store.write_batch(&batch).await.expect("no ip is refused");
    for a in &batch {
        assert_eq!(store.get(a.id, None).await.expect("get").as_ref(), Some(a), "kept as given");
    }
    let rows = sqlx::query("SELECT host(ip) AS inet, ip_text FROM activities ORDER BY id")
        .fetch_all(store.pool())
        .await
        .expect("rows");
    let got: Vec<(Option<String>, Option<String>)> = rows.iter().map(|r| (r.get("inet"), r.get("ip_text"))).collect();
    let expect = |inet: Option<&str>, text: Option<&str>| (inet.map(str::to_owned), text.map(str::to_owned));
    assert_eq!(
        got,
        [
            expect(Some("203.0.113.9"), None),
            expect(Some("2001:db8::1"), None),
            expect(Some("2001:db8::1"), Some("2001:DB8:0::1")),
            expect(Some("::ffff:1.2.3.4"), None),
            expect(None, Some("not-an-ip")),
            expect(None, Some("10.0.0.1/8")),
            expect(None, Some("fe80::1%eth0")),
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retention_drops_whole_partitions_and_deletes_rows_only_at_the_edge() {
    let Some(schema) = TestSchema::create("retention").await else { return };
    let store = schema.sink_with(PostgresSink::builder().partitioning(Partitioning::Daily)).await;
    let today = Partitioning::Daily.start_of(Utc::now());
    // 24 activities per day over the last 10 days, hourly.
    let batch: Vec<Activity> = (0..240)
        .map(|h| {
            let tenant = if h % 2 == 0 { "acme" } else { "globex" };
            Activity::new("call_created").tenant(tenant).occurred_at(today - Duration::hours(h)).build().expect("ok")
        })
        .collect();
    store.write_batch(&batch).await.expect("write");
    let partitions = |pool| async move {
        let names: Vec<String> = sqlx::query_scalar(
            "SELECT c.relname::text FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid \
             WHERE i.inhparent = 'activities'::regclass ORDER BY 1",
        )
        .fetch_all(pool)
        .await
        .expect("partitions");
        names
    };
    let before = partitions(store.pool()).await;
    assert!(before.len() >= 11, "a partition per day: {before:?}");
    // The cutoff falls mid-day, five days ago.
    let cutoff: DateTime<Utc> = today - Duration::days(5) + Duration::hours(12);
    let old = batch.iter().filter(|a| a.occurred_at < cutoff).count() as u64;
    assert_eq!(store.delete_before(cutoff, None).await.expect("retention"), old);
    let after = partitions(store.pool()).await;
    let edge = Partitioning::Daily.table_name(Partitioning::Daily.start_of(cutoff));
    assert!(after.contains(&edge), "the edge partition stays");
    for day in 6..=10 {
        let name = Partitioning::Daily.table_name(today - Duration::days(day));
        assert!(before.contains(&name) && !after.contains(&name), "{name} dropped whole");
    }
    let left = store.count(&ActivityFilter::new()).await.expect("count");
    assert_eq!(left, batch.len() as u64 - old);
    // Late rows for a dropped day get their partition back.
    let late = Activity::new("call_created").tenant("acme").occurred_at(today - Duration::days(8)).build().expect("ok");
    store.write_batch(std::slice::from_ref(&late)).await.expect("late write");
    assert_eq!(store.get(late.id, Some("acme")).await.expect("get"), Some(late));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tenant_and_time_queries_use_an_index() {
    let Some(schema) = TestSchema::create("explain").await else { return };
    let store = schema.sink().await;
    let pool = store.pool();
    store.create_partitions(Utc::now() - Duration::days(40), Utc::now()).await.expect("partitions");
    // 60,000 rows over 30 days, 20 tenants, seeded in SQL.
    pool.execute(
        "INSERT INTO activities (id, occurred_at, tenant, activity_type, outcome, severity) \
         SELECT gen_random_uuid(), now() - (g % 43200) * INTERVAL '1 minute', 'tenant-' || (g % 20), \
         'type_' || (g % 12), 'success', 'info' FROM generate_series(1, 60000) AS g",
    )
    .await
    .expect("seed");
    pool.execute("ANALYZE activities").await.expect("analyze");
    let plans = [
        "SELECT * FROM activities WHERE tenant = 'tenant-3' ORDER BY occurred_at DESC, id DESC LIMIT 51",
        "SELECT * FROM activities WHERE tenant = 'tenant-3' AND activity_type = 'type_5' \
         AND occurred_at >= now() - INTERVAL '7 days' ORDER BY occurred_at DESC, id DESC LIMIT 51",
        "SELECT count(*) FROM activities WHERE tenant = 'tenant-3' AND occurred_at >= now() - INTERVAL '1 day'",
    ];
    for sql in plans {
        let rows = sqlx::query(&format!("EXPLAIN {sql}")).fetch_all(pool).await.expect("explain");
        let plan: Vec<String> = rows.iter().map(|r| r.get::<String, _>(0)).collect();
        // Empty partitions ahead of time may be scanned: they cost nothing.
        let scans_rows = |line: &String| line.contains("Seq Scan") && !line.contains("cost=0.00..0.00");
        assert!(plan.iter().any(|l| l.contains("Index")) && !plan.iter().any(scans_rows), "{sql}\n{}", plan.join("\n"));
    }
    let page = store.query(&ActivityFilter::new().tenant("tenant-3"), &PageRequest::first(50)).await.expect("query");
    assert_eq!(page.items.len(), 50);
}

/// Right after a bulk load, the planner must not be left with statistics
/// of a nearly empty partition: the writer has a partition it filled
/// substantially analyzed, in the background.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_partition_filled_by_the_writer_is_analyzed() {
    let Some(schema) = TestSchema::create("analyze_filled").await else { return };
    let store = schema.sink().await;
    let now = Utc::now();
    let partition = Partitioning::Monthly.table_name(Partitioning::Monthly.start_of(now));
    let analyzed = || async {
        let count: Option<i64> =
            sqlx::query_scalar("SELECT analyze_count FROM pg_stat_user_tables WHERE relname = $1 AND schemaname = $2")
                .bind(&partition)
                .bind(&schema.name)
                .fetch_optional(store.pool())
                .await
                .expect("statistics of the partition");
        count.unwrap_or(0)
    };
    let rows = |n: i64| -> Vec<Activity> {
        (0..n)
            .map(|i| {
                Activity::new("call_created")
                    .tenant("acme")
                    .occurred_at(now - Duration::milliseconds(i))
                    .build()
                    .expect("valid")
            })
            .collect()
    };
    store.write_batch(&rows(2_000)).await.expect("write");
    assert_eq!(analyzed().await, 0, "a few rows are left to autovacuum");
    store.write_batch(&rows(10_000)).await.expect("write");
    // The statistics collector reports with a delay.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while analyzed().await == 0 {
        assert!(std::time::Instant::now() < deadline, "{partition} was not analyzed");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}
