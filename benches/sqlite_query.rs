//! SQLite query latency on 1,000,000 activities (3 tenants, 16 types,
//! 90 days): the latest 50 of a tenant; tenant + type + last 7 days; stats
//! of a tenant over 24 hours; page 200 (depth 9,950) by cursor and by
//! offset; each next to the same SQL run directly; and the keyset depth
//! curve (pages of 50 at depth 0, 1,000, 10,000 and 100,000), first right
//! after the bulk load, before ANALYZE, then after it.
//!
//! "Raw" is the database's own limit through the same driver: the same SQL
//! and bound values on a dedicated connection, prepared once, rows fetched
//! but not decoded into activities.
//!
//! `cargo bench -p activity-log-benches --bench sqlite_query` prints
//! `BENCH sqlite_q_latest50_ms=... sqlite_q_latest50_raw_ms=...`, likewise
//! `sqlite_q_tenant_type_7d`, `sqlite_q_stats_24h` and
//! `sqlite_q_cursor_page`, then `sqlite_q_page200_offset_ms`, and the
//! depth curves `BENCH sqlite_q_fresh_cursor_depth{0,1k,10k,100k}_ms=...`
//! (before ANALYZE) and `BENCH sqlite_q_cursor_depth{0,1k,10k,100k}_ms=...`
//! (after), medians; then runs the queries under criterion. The file is
//! seeded afresh on every run (in the target directory). Without
//! `--bench` (e.g. under `cargo test --all-targets`) it runs a small smoke
//! version.

use activity_log::query::{ActivityFilter, ActivityStore, Cursor, PageRequest, StatsRequest};
use activity_log::sqlite::SqliteSink;
use chrono::{Duration as ChronoDuration, Utc};
use criterion::Criterion;
use sqlx::sqlite::SqliteConnection;
use sqlx::Connection;
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
}

/// The store's select list (`SqliteDialect::COLUMNS`), for the raw queries.
const COLUMNS: &str = "id, occurred_at, tenant, activity_type, target_kind, target_id, target_name, \
     actor_kind, actor_id, actor_name, outcome, error, severity, description, description_folded, metadata, \
     changes, ip, user_agent, request_id, trace_id, duration_us, tags";

/// A value bound by a raw query.
#[derive(Clone)]
enum Bind {
    Text(&'static str),
    Int(i64),
    Bytes(Vec<u8>),
}

/// Runs `sql` with `binds` on the raw connection; returns how many rows.
async fn raw(conn: &mut SqliteConnection, sql: &str, binds: &[Bind]) -> usize {
    let mut q = sqlx::query(sql);
    for b in binds {
        q = match b {
            Bind::Text(s) => q.bind(*s),
            Bind::Int(i) => q.bind(*i),
            Bind::Bytes(v) => q.bind(v.clone()),
        };
    }
    q.fetch_all(conn).await.expect("raw query").len()
}

/// Pages of 50 at each depth of `filter`, through the API.
fn depth_curve(
    runtime: &tokio::runtime::Runtime,
    store: &SqliteSink,
    filter: &ActivityFilter,
    depths: &[u64],
    runs: usize,
) -> Vec<f64> {
    depths
        .iter()
        .map(|&depth| {
            let request = runtime.block_on(async {
                if depth == 0 {
                    return PageRequest::first(50);
                }
                let at = store.query(filter, &PageRequest::first(1).offset(depth - 1)).await.expect("row at depth");
                PageRequest::first(50).after(Cursor::after(&at.items[0], filter.order))
            });
            let samples = (0..runs)
                .map(|_| {
                    let start = Instant::now();
                    runtime.block_on(async {
                        assert_eq!(store.query(filter, &request).await.expect("page").items.len(), 50);
                    });
                    start.elapsed()
                })
                .collect();
            median_ms(samples)
        })
        .collect()
}

fn curve_line(prefix: &str, depths: &[u64], ms: &[f64]) -> String {
    let name = |d: u64| if d == 0 { "0".to_owned() } else { format!("{}k", d / 1000) };
    let parts: Vec<String> =
        depths.iter().zip(ms).map(|(d, ms)| format!("{prefix}_cursor_depth{}_ms={ms:.3}", name(*d))).collect();
    format!("BENCH {}", parts.join(" "))
}

fn median_ms(mut samples: Vec<Duration>) -> f64 {
    samples.sort();
    samples[samples.len() / 2].as_secs_f64() * 1000.0
}

fn main() {
    let full = std::env::args().any(|a| a == "--bench");
    let rows: i64 = if full { 1_000_000 } else { 40_000 };
    let path = target_dir().join(format!("activity-log-bench-query-v4-{rows}.db"));
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
    }
    let url = format!("sqlite://{}", path.display());
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime");
    let store = runtime.block_on(async {
        let store = SqliteSink::connect(&url).await.expect("connect");
        let start = Instant::now();
        seed(&store, rows).await;
        println!("{rows} rows ready in {:.1} s ({})", start.elapsed().as_secs_f64(), path.display());
        store
    });
    let runs = if full { 51 } else { 3 };

    // Right after the bulk load, before ANALYZE.
    let latest = ActivityFilter::new().tenant("tenant-1");
    let depths: Vec<u64> = [0, 1_000, 10_000, 100_000].into_iter().filter(|d| *d + 50 <= rows as u64 / 3).collect();
    let fresh = depth_curve(&runtime, &store, &latest, &depths, runs);
    println!("{}", curve_line("sqlite_q_fresh", &depths, &fresh));
    runtime.block_on(async { sqlx::raw_sql("ANALYZE").execute(store.writer_pool()).await.expect("analyze") });

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

    // The same SQL on a dedicated connection.
    let mut conn = runtime.block_on(SqliteConnection::connect(&url)).expect("raw connection");
    let mut time_raw = |sql: &str, binds: Vec<Bind>, at_least: usize| {
        median_ms(
            (0..runs)
                .map(|_| {
                    let start = Instant::now();
                    let n = runtime.block_on(raw(&mut conn, sql, &binds));
                    assert!(n >= at_least);
                    start.elapsed()
                })
                .collect(),
        )
    };
    let order = " ORDER BY occurred_at DESC, id DESC LIMIT 51";
    let r_latest = time_raw(
        &format!("SELECT {COLUMNS} FROM activities WHERE 1 = 1 AND tenant = ?{order}"),
        vec![Bind::Text("tenant-1")],
        51,
    );
    let week_since = week.since.expect("since").timestamp_micros();
    let r_week = time_raw(
        &format!("SELECT {COLUMNS} FROM activities WHERE 1 = 1 AND tenant = ? AND activity_type = ? AND occurred_at >= ?{order}"),
        vec![Bind::Text("tenant-1"), Bind::Text("call_created"), Bind::Int(week_since)],
        1,
    );
    let day_since = day.since.expect("since").timestamp_micros();
    let stats_binds = vec![Bind::Text("tenant-1"), Bind::Int(day_since)];
    let r_stats = time_raw(RAW_STATS_1, stats_binds.clone(), 1)
        + time_raw(RAW_STATS_2, vec![Bind::Text("tenant-1"), Bind::Int(day_since), Bind::Int(10)], 1)
        + time_raw(RAW_STATS_3, [vec![Bind::Int(3_600_000_000), Bind::Int(3_600_000_000)], stats_binds].concat(), 1);
    let r_cursor = time_raw(
        &format!("SELECT {COLUMNS} FROM activities WHERE 1 = 1 AND tenant = ? AND (occurred_at, id) < (?, ?){order}"),
        vec![
            Bind::Text("tenant-1"),
            Bind::Int(cursor.occurred_at_micros()),
            Bind::Bytes(cursor.id().as_bytes().to_vec()),
        ],
        51,
    );
    println!(
        "BENCH sqlite_q_latest50_ms={q_latest:.3} sqlite_q_latest50_raw_ms={r_latest:.3} \
         sqlite_q_tenant_type_7d_ms={q_week:.3} sqlite_q_tenant_type_7d_raw_ms={r_week:.3} \
         sqlite_q_stats_24h_ms={q_stats:.3} sqlite_q_stats_24h_raw_ms={r_stats:.3} \
         sqlite_q_cursor_page_ms={q_cursor:.3} sqlite_q_cursor_page_raw_ms={r_cursor:.3} \
         sqlite_q_page200_cursor_ms={q_cursor:.3} sqlite_q_page200_offset_ms={q_offset:.3}"
    );
    println!(
        "api/raw: latest50 {:.2}x, tenant_type_7d {:.2}x, stats_24h {:.2}x, cursor_page {:.2}x",
        q_latest / r_latest,
        q_week / r_week,
        q_stats / r_stats,
        q_cursor / r_cursor
    );
    let analyzed = depth_curve(&runtime, &store, &latest, &depths, runs);
    println!("{}", curve_line("sqlite_q", &depths, &analyzed));

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

/// The store's three statistics statements for tenant + since (the raw
/// figure is their sum).
const RAW_STATS_1: &str = "SELECT activity_type, target_kind, outcome, COUNT(*) FROM activities WHERE 1 = 1 \
     AND tenant = ? AND occurred_at >= ? GROUP BY +activity_type, +target_kind, +outcome";
const RAW_STATS_2: &str = "SELECT +actor_id AS actor, COUNT(*) AS n FROM activities WHERE 1 = 1 AND tenant = ? \
     AND occurred_at >= ? AND actor_id IS NOT NULL GROUP BY actor ORDER BY n DESC, actor ASC LIMIT ?";
const RAW_STATS_3: &str = "SELECT (occurred_at / ?) * ? AS bucket, COUNT(*) FROM activities WHERE 1 = 1 \
     AND tenant = ? AND occurred_at >= ? GROUP BY bucket";

/// Where the seeded file is kept.
fn target_dir() -> PathBuf {
    let dir = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target"));
    std::fs::create_dir_all(&dir).expect("target dir");
    dir
}
