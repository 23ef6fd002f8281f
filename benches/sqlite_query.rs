//! SQLite query latency on 1,000,000 activities (3 tenants, 16 types,
//! 90 days): the latest 50 of a tenant; tenant + type + last 7 days; stats
//! of a tenant over 24 hours; page 200 by cursor and by offset.
//!
//! `cargo bench -p activity-log-benches --bench sqlite_query` prints
//! `BENCH sqlite_q_latest50_ms=... sqlite_q_tenant_type_7d_ms=...
//! sqlite_q_stats_24h_ms=... sqlite_q_page200_cursor_ms=...
//! sqlite_q_page200_offset_ms=...` (medians), then runs the same queries
//! under criterion. The seeded file is kept in the target directory and
//! reused by later runs. Without `--bench` (e.g. under
//! `cargo test --all-targets`) it runs a small smoke version.

use activity_log::query::{ActivityFilter, ActivityStore, Cursor, PageRequest, StatsRequest};
use activity_log::sqlite::SqliteSink;
use chrono::{Duration as ChronoDuration, Utc};
use criterion::Criterion;
use std::path::PathBuf;
use std::time::{Duration, Instant};

const TYPES: [(&str, &str); 16] = [
    ("agent_created", "agent"),
    ("agent_updated", "agent"),
    ("agent_deleted", "agent"),
    ("chat_agent_activated", "chat_agent"),
    ("chat_agent_deactivated", "chat_agent"),
    ("call_created", "call"),
    ("call_updated", "call"),
    ("call_ended", "call"),
    ("chat_created", "chat"),
    ("chat_message_sent", "chat"),
    ("chat_ended", "chat"),
    ("connector_added", "connector"),
    ("connector_updated", "connector"),
    ("connector_deleted", "connector"),
    ("user_login", "session"),
    ("user_login_failed", "session"),
];

/// Fills the table in SQLite itself (a recursive CTE inside one
/// transaction): the fastest bulk load, with the real schema, indexes and
/// triggers. Rows arrive in time order (with up to a second of jitter), as
/// an activity log's do.
async fn seed(store: &SqliteSink, rows: i64) {
    let pool = store.writer_pool();
    let have: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM activities").fetch_one(pool).await.expect("count");
    if have >= rows {
        return;
    }
    let types = TYPES.iter().map(|(t, k)| format!("('{t}', '{k}')")).collect::<Vec<_>>().join(", ");
    let now = Utc::now().timestamp_micros();
    let span = ChronoDuration::days(90).num_microseconds().unwrap_or(i64::MAX);
    let sql = format!(
        "WITH RECURSIVE
           types(n, activity_type, target_kind) AS (
             SELECT row_number() OVER () - 1, column1, column2 FROM (VALUES {types})),
           seq(i) AS (SELECT {have} UNION ALL SELECT i + 1 FROM seq WHERE i + 1 < {rows})
         INSERT INTO activities (id, occurred_at, tenant, activity_type, target_kind, target_id, actor_kind,
             actor_id, outcome, error, severity, description, description_folded, metadata, ip, request_id)
         SELECT randomblob(16), {now} - {span} + i * ({span} / {rows}) + abs(random() % 1000000), 'tenant-' || (i % 3),
             t.activity_type,
             t.target_kind, CAST(abs(random() % 5000) AS TEXT), 'user', 'agent-' || abs(random() % 200),
             CASE WHEN i % 10 = 0 THEN 'failure' ELSE 'success' END,
             CASE WHEN i % 10 = 0 THEN 'upstream timed out' END,
             CASE WHEN i % 10 = 0 THEN 'error' ELSE 'info' END,
             'Inbound call from +1 555 0100 routed to queue Sales',
             'inbound call from +1 555 0100 routed to queue sales',
             '{{\"queue\":\"sales\",\"attempt\":' || (i % 3 + 1) || '}}', '203.0.113.9', 'req-' || (i / 3)
         FROM seq JOIN types t ON t.n = (i * 7) % 16"
    );
    let mut tx = pool.begin_with("BEGIN IMMEDIATE").await.expect("begin");
    sqlx::raw_sql(&sql).execute(&mut *tx).await.expect("seed");
    tx.commit().await.expect("commit");
    sqlx::raw_sql("ANALYZE").execute(pool).await.expect("analyze");
}

fn median_ms(mut samples: Vec<Duration>) -> f64 {
    samples.sort();
    samples[samples.len() / 2].as_secs_f64() * 1000.0
}

fn main() {
    let full = std::env::args().any(|a| a == "--bench");
    let rows: i64 = if full { 1_000_000 } else { 40_000 };
    let path = target_dir().join(format!("activity-log-bench-query-v3-{rows}.db"));
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime");
    let store = runtime.block_on(async {
        let store = SqliteSink::connect(&format!("sqlite://{}", path.display())).await.expect("connect");
        let start = Instant::now();
        seed(&store, rows).await;
        println!("{rows} rows ready in {:.1} s ({})", start.elapsed().as_secs_f64(), path.display());
        store
    });

    let latest = ActivityFilter::new().tenant("tenant-1");
    let week = ActivityFilter::new().tenant("tenant-1").activity_type("call_created").last_hours(7 * 24);
    let day = ActivityFilter::new().tenant("tenant-1").last_hours(24);
    let page50 = PageRequest::first(50);
    // The cursor of page 200 (rows 9,950..), found by walking there once.
    let cursor: Cursor = runtime.block_on(async {
        let mut request = page50;
        let mut cursor = None;
        for _ in 0..199 {
            let page = store.query(&latest, &request).await.expect("page");
            cursor = page.next_cursor;
            request = page50.after(cursor.expect("enough rows for 200 pages"));
        }
        cursor.expect("cursor")
    });

    let runs = if full { 50 } else { 3 };
    let measure = |f: &dyn Fn() -> Duration| median_ms((0..runs).map(|_| f()).collect());
    let time = |fut: std::pin::Pin<Box<dyn std::future::Future<Output = ()> + '_>>| {
        let start = Instant::now();
        runtime.block_on(fut);
        start.elapsed()
    };
    let q_latest = measure(&|| {
        time(Box::pin(async {
            assert_eq!(store.query(&latest, &page50).await.expect("latest").items.len(), 50);
        }))
    });
    let q_week = measure(&|| {
        time(Box::pin(async {
            assert!(!store.query(&week, &page50).await.expect("week").items.is_empty());
        }))
    });
    let q_stats = measure(&|| {
        time(Box::pin(async {
            assert!(store.stats(&day, &StatsRequest::new()).await.expect("stats").total > 0);
        }))
    });
    let q_cursor = measure(&|| {
        time(Box::pin(async {
            assert_eq!(store.query(&latest, &page50.after(cursor)).await.expect("cursor").items.len(), 50);
        }))
    });
    let q_offset = measure(&|| {
        time(Box::pin(async {
            assert_eq!(store.query(&latest, &page50.offset(199 * 50)).await.expect("offset").items.len(), 50);
        }))
    });
    println!(
        "BENCH sqlite_q_latest50_ms={q_latest:.3} sqlite_q_tenant_type_7d_ms={q_week:.3} sqlite_q_stats_24h_ms={q_stats:.3} sqlite_q_page200_cursor_ms={q_cursor:.3} sqlite_q_page200_offset_ms={q_offset:.3}"
    );

    if full {
        let stats_request = StatsRequest::new();
        let by_cursor = page50.after(cursor);
        let by_offset = page50.offset(199 * 50);
        let mut c = Criterion::default().sample_size(20).measurement_time(Duration::from_secs(3)).configure_from_args();
        c.bench_function("sqlite_latest50", |b| b.to_async(&runtime).iter(|| store.query(&latest, &page50)));
        c.bench_function("sqlite_tenant_type_7d", |b| b.to_async(&runtime).iter(|| store.query(&week, &page50)));
        c.bench_function("sqlite_stats_24h", |b| b.to_async(&runtime).iter(|| store.stats(&day, &stats_request)));
        c.bench_function("sqlite_page200_cursor", |b| b.to_async(&runtime).iter(|| store.query(&latest, &by_cursor)));
        c.bench_function("sqlite_page200_offset", |b| b.to_async(&runtime).iter(|| store.query(&latest, &by_offset)));
        c.final_summary();
    }
    runtime.block_on(store.close());
}

/// Where the seeded file is kept between runs.
fn target_dir() -> PathBuf {
    let dir = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target"));
    std::fs::create_dir_all(&dir).expect("target dir");
    dir
}
