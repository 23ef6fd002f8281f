//! PostgreSQL query latency through the store API on 1,000,000 rows
//! (30 days; `tenant-00` holds half of them, ten other tenants 50,000
//! each), seeded in SQL, each figure next to the same SQL run directly:
//! latest 50 of a tenant; tenant + type + 7 days; a tenant's stats over
//! 24 h; a page of 50 at depth 10,000 by cursor (as in `sqlite_query`);
//! a page of 200 there by cursor and by offset; and the
//! keyset depth curve (pages of 200 at depth 0, 1,000, 10,000 and 100,000
//! of `tenant-00`), measured first right after the bulk load, before any
//! ANALYZE, then after it. Last, the same curve right after a bulk load of
//! the same shape written through the sink into partitions that were
//! analyzed while they held a few hundred rows (as autovacuum does to a
//! young table), before autovacuum analyzes them again:
//! `BENCH pg_q_loaded_cursor_depth{0,1k,10k,100k}_ms=...`. Also checks
//! with `EXPLAIN` that the tenant + time query is served by an index.
//!
//! "Raw" is the database's own limit: the same SQL text and bound values
//! on a dedicated connection, prepared once and planned with the actual
//! values each time (`plan_cache_mode = force_custom_plan`), one round
//! trip per execution, rows fetched but not decoded into activities.
//!
//! `cargo bench -p activity-log-benches --bench pg_query` prints
//! `BENCH pg_q_latest50_ms=... pg_q_latest50_raw_ms=...`, likewise
//! `pg_q_tenant_type_7d`, `pg_q_stats_24h`, `pg_q_cursor_page` (50 rows)
//! and `pg_q_cursor_page200`, then `pg_q_offset_page_ms` (200 rows), and
//! the depth curves
//! `BENCH pg_q_fresh_cursor_depth{0,1k,10k,100k}_ms=...` (before ANALYZE)
//! and `BENCH pg_q_cursor_depth{0,1k,10k,100k}_ms=...` (after), medians.
//! Without `--bench` it runs on 20,000 rows; without `DATABASE_URL` it
//! says so and exits.

#[path = "pg_common.rs"]
mod pg_common;

use activity_log::postgres::PostgresSink;
use activity_log::query::{ActivityFilter, ActivityStore, Cursor, PageRequest, StatsRequest};
use activity_log::{Activity, Actor, Outcome, Sink};
use chrono::{DateTime, Duration as ChronoDuration, Utc};
use pg_common::{database_url, Scratch};
use sqlx::postgres::PgConnection;
use sqlx::{ConnectOptions, Executor, Row};
use std::future::Future;
use std::time::Instant;

/// The store's select list (`PgDialect::COLUMNS`), for the raw queries.
const COLUMNS: &str = "id, occurred_at, tenant, activity_type, target_kind, target_id, target_name, \
     actor_kind, actor_id, actor_name, outcome, error, severity, description, metadata::text AS metadata, \
     changes::text AS changes, COALESCE(ip_text, host(ip)) AS ip, user_agent, request_id, trace_id, \
     duration_us, tags::text AS tags";

/// The store's statistics query for tenant + since, for the raw figure.
const STATS: &str = "SELECT GROUPING(activity_type, target_kind, outcome, actor_id, bucket) AS g, activity_type, \
     target_kind, outcome, actor_id, bucket, count(*) AS n FROM (SELECT activity_type, target_kind, outcome, \
     actor_id, date_bin(INTERVAL '1 hour', occurred_at, TIMESTAMPTZ '1970-01-01 00:00:00+00') AS bucket \
     FROM activities WHERE tenant = $1 AND occurred_at >= $2) AS matching \
     GROUP BY GROUPING SETS ((activity_type), (target_kind), (outcome), (actor_id), (bucket)) ORDER BY g, bucket";

/// The median of `runs` timings of `f`, in milliseconds, after a warm-up.
async fn median_ms<F, Fut>(runs: usize, mut f: F) -> f64
where
    F: FnMut() -> Fut,
    Fut: Future<Output = ()>,
{
    f().await;
    let mut ms: Vec<f64> = Vec::with_capacity(runs);
    for _ in 0..runs {
        let start = Instant::now();
        f().await;
        ms.push(start.elapsed().as_secs_f64() * 1000.0);
    }
    ms.sort_by(f64::total_cmp);
    ms[ms.len() / 2]
}

/// Runs `sql` with `binds` on the raw connection; returns how many rows.
async fn raw(conn: &mut PgConnection, sql: &str, tenant: &str, times: &[DateTime<Utc>], more: Raw<'_>) -> usize {
    let mut q = sqlx::query(sql).bind(tenant);
    for t in times {
        q = q.bind(*t);
    }
    q = match more {
        Raw::None => q,
        Raw::Text(s) => q.bind(s),
        Raw::Id(id) => q.bind(id),
    };
    q.fetch_all(conn).await.expect("raw query").len()
}

/// The last bound value of a raw query, after the tenant and the times.
#[derive(Clone, Copy)]
enum Raw<'a> {
    None,
    Text(&'a str),
    Id(activity_log::Uuid),
}

/// The cursor of the row at `depth` (0: the first page) of `filter`.
async fn cursor_at(store: &PostgresSink, filter: &ActivityFilter, depth: u64) -> Option<Cursor> {
    if depth == 0 {
        return None;
    }
    let page = store.query(filter, &PageRequest::first(1).offset(depth - 1)).await.expect("row at depth");
    Some(Cursor::after(&page.items[0], filter.order))
}

/// Pages of 200 at each depth, through the API.
async fn depth_curve(store: &PostgresSink, filter: &ActivityFilter, depths: &[u64], runs: usize) -> Vec<f64> {
    let mut out = Vec::new();
    for &depth in depths {
        let request = match cursor_at(store, filter, depth).await {
            Some(c) => PageRequest::first(200).after(c),
            None => PageRequest::first(200),
        };
        out.push(
            median_ms(runs, || async {
                let page = store.query(filter, &request).await.expect("cursor page");
                assert_eq!(page.items.len(), 200);
            })
            .await,
        );
    }
    out
}

fn curve_line(prefix: &str, depths: &[u64], ms: &[f64]) -> String {
    let name = |d: u64| match d {
        0 => "0".to_owned(),
        d if d % 1000 == 0 => format!("{}k", d / 1000),
        d => d.to_string(),
    };
    let parts: Vec<String> =
        depths.iter().zip(ms).map(|(d, ms)| format!("{prefix}_cursor_depth{}_ms={ms:.2}", name(*d))).collect();
    format!("BENCH {}", parts.join(" "))
}

/// Activity `g` of the bulk load: the SQL seed's shape, built in Rust.
fn generated(g: u64, rows: u64, now: DateTime<Utc>) -> Activity {
    let tenant = if g.is_multiple_of(2) { "tenant-00".to_owned() } else { format!("tenant-{:02}", g % 20) };
    let micros = (g as f64 * 2_592_000_000_000.0 / rows as f64) as i64;
    let mut b = Activity::new(format!("type_{}", g % 12))
        .tenant(tenant)
        .target("call", g % 5000)
        .actor(Actor::user(format!("agent-{}", g % 50)))
        .occurred_at(now - ChronoDuration::microseconds(micros))
        .description("Inbound call routed to queue Sales")
        .meta("queue", "sales")
        .meta("attempt", g % 3)
        .ip("203.0.113.9")
        .user_agent("Mozilla/5.0")
        .request_id(format!("req-{g}"));
    if g.is_multiple_of(10) {
        b = b.outcome(Outcome::Failure);
    }
    b.build().expect("valid")
}

/// The depth curve right after `rows` activities are written through the
/// sink into partitions analyzed while they held 500 rows of another
/// tenant.
async fn after_bulk_load(url: &str, rows: u64, depths: &[u64], runs: usize) -> Vec<f64> {
    let scratch = Scratch::create(url, "load").await;
    let store = scratch.sink(PostgresSink::builder()).await;
    let now = Utc::now();
    let young: Vec<Activity> = (0..500)
        .map(|i| {
            let at = now - ChronoDuration::days(i % 30) - ChronoDuration::seconds(i);
            Activity::new("type_0").tenant("other").occurred_at(at).build().expect("valid")
        })
        .collect();
    store.write_batch(&young).await.expect("young rows");
    store.pool().execute("ANALYZE activities").await.expect("analyze");
    let start = Instant::now();
    let mut g = 1;
    while g <= rows {
        let end = (g + 8192).min(rows + 1);
        let batch: Vec<Activity> = (g..end).map(|g| generated(g, rows, now)).collect();
        store.write_batch(&batch).await.expect("bulk load");
        g = end;
    }
    println!("loaded {rows} rows through the sink in {:.1} s", start.elapsed().as_secs_f64());
    let big = ActivityFilter::new().tenant("tenant-00");
    let curve = depth_curve(&store, &big, depths, runs).await;
    store.close().await;
    scratch.drop_now().await;
    curve
}

fn main() {
    let Some(url) = database_url() else {
        println!("pg_query: skipped; {}", dev_env::HOW_TO_RUN);
        return;
    };
    let full = std::env::args().any(|a| a == "--bench");
    let rows: i64 = if full { 1_000_000 } else { 20_000 };
    let runs = if full { 101 } else { 5 };
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime");
    runtime.block_on(async {
        let scratch = Scratch::create(&url, "query").await;
        let store = scratch.sink(PostgresSink::builder()).await;
        let pool = store.pool();
        let start = Instant::now();
        pg_common::seed_sql(pool, rows).await;
        println!("seeded {rows} rows in {:.1} s", start.elapsed().as_secs_f64());

        // Right after the bulk load: no statistics yet (autovacuum has not
        // run ANALYZE).
        let big = ActivityFilter::new().tenant("tenant-00");
        let depths: Vec<u64> =
            [0, 1_000, 10_000, 100_000].into_iter().filter(|d| *d + 200 <= rows as u64 / 2).collect();
        let fresh = depth_curve(&store, &big, &depths, runs.min(21)).await;
        println!("{}", curve_line("pg_q_fresh", &depths, &fresh));

        pool.execute("ANALYZE activities").await.expect("analyze");
        let explain = sqlx::query(
            "EXPLAIN SELECT * FROM activities WHERE tenant = 'tenant-07' \
             AND occurred_at >= now() - INTERVAL '7 days' ORDER BY occurred_at DESC, id DESC LIMIT 51",
        )
        .fetch_all(pool)
        .await
        .expect("explain");
        let plan: Vec<String> = explain.iter().map(|r| r.get::<String, _>(0)).collect();
        let indexed = plan.iter().any(|l| l.contains("Index"));
        println!("tenant + time plan (index used: {indexed}):\n  {}", plan.join("\n  "));
        assert!(indexed, "the tenant + time query must use an index");

        let conn = scratch.options().options([("plan_cache_mode", "force_custom_plan")]).connect().await.expect("raw");
        let conn = tokio::sync::Mutex::new(conn);
        let t = "tenant-07";
        let tenant = ActivityFilter::new().tenant(t);
        let latest = median_ms(runs, || async {
            let page = store.query(&tenant, &PageRequest::first(50)).await.expect("latest");
            assert_eq!(page.items.len(), 50);
        })
        .await;
        let latest_sql = format!(
            "SELECT {COLUMNS} FROM activities WHERE 1 = 1 AND tenant = $1 ORDER BY occurred_at DESC, id DESC LIMIT 51"
        );
        let latest_raw = median_ms(runs, || async {
            assert_eq!(raw(&mut *conn.lock().await, &latest_sql, t, &[], Raw::None).await, 51);
        })
        .await;
        // Where the difference goes: the same raw query on a connection of
        // the store's read pool (acquire, and sqlx's test ping when the
        // connection goes back), rows still not decoded.
        let latest_pooled = median_ms(runs, || async {
            let mut pooled = pool.acquire().await.expect("pooled connection");
            assert_eq!(raw(&mut pooled, &latest_sql, t, &[], Raw::None).await, 51);
        })
        .await;
        println!(
            "latest 50: raw {latest_raw:.3} ms, through the read pool {latest_pooled:.3} ms, \
             through the API (pool + decoding) {latest:.3} ms"
        );

        let since = Utc::now() - ChronoDuration::days(7);
        let typed = tenant.clone().activity_type("type_7").since(since);
        let tenant_type = median_ms(runs, || async {
            store.query(&typed, &PageRequest::first(50)).await.expect("tenant + type");
        })
        .await;
        let typed_sql = format!(
            "SELECT {COLUMNS} FROM activities WHERE 1 = 1 AND tenant = $1 AND activity_type = $3 \
             AND occurred_at >= $2 ORDER BY occurred_at DESC, id DESC LIMIT 51"
        );
        let tenant_type_raw = median_ms(runs, || async {
            raw(&mut *conn.lock().await, &typed_sql, t, &[since], Raw::Text("type_7")).await;
        })
        .await;

        let day_start = Utc::now() - ChronoDuration::hours(24);
        let day = tenant.clone().since(day_start);
        let stats = median_ms(runs, || async {
            let s = store.stats(&day, &StatsRequest::new()).await.expect("stats");
            assert!(s.total > 0);
        })
        .await;
        let stats_raw = median_ms(runs, || async {
            assert!(raw(&mut *conn.lock().await, STATS, t, &[day_start], Raw::None).await > 0);
        })
        .await;

        let depth = (rows as u64 / 20 / 5).min(10_000);
        let cursor = cursor_at(&store, &tenant, depth).await.expect("cursor");
        let by_cursor_of = |limit: u32| {
            let (store, tenant) = (&store, &tenant);
            median_ms(runs, move || async move {
                let page = store.query(tenant, &PageRequest::first(limit).after(cursor)).await.expect("cursor page");
                assert_eq!(page.items.len(), limit as usize);
            })
        };
        let by_cursor = by_cursor_of(50).await;
        let by_cursor200 = by_cursor_of(200).await;
        let cursor_sql = |limit: u32| {
            format!(
                "SELECT {COLUMNS} FROM activities WHERE 1 = 1 AND tenant = $1 AND (occurred_at, id) < ($2, $3) \
                 ORDER BY occurred_at DESC, id DESC LIMIT {}",
                limit + 1
            )
        };
        let (cursor_sql50, cursor_sql200) = (cursor_sql(50), cursor_sql(200));
        let by_cursor_raw_of = |sql: &'static str, rows: usize| {
            let conn = &conn;
            median_ms(runs, move || async move {
                let n = raw(&mut *conn.lock().await, sql, t, &[cursor.occurred_at()], Raw::Id(cursor.id())).await;
                assert_eq!(n, rows);
            })
        };
        let by_cursor_raw = by_cursor_raw_of(cursor_sql50.leak(), 51).await;
        let by_cursor200_raw = by_cursor_raw_of(cursor_sql200.leak(), 201).await;
        let by_offset = median_ms(runs.min(21), || async {
            let page = store.query(&tenant, &PageRequest::first(200).offset(depth)).await.expect("offset page");
            assert_eq!(page.items.len(), 200);
        })
        .await;
        let ratio = |api: f64, raw: f64| api / raw;
        println!(
            "BENCH pg_q_latest50_ms={latest:.2} pg_q_latest50_raw_ms={latest_raw:.2} \
             pg_q_tenant_type_7d_ms={tenant_type:.2} pg_q_tenant_type_7d_raw_ms={tenant_type_raw:.2} \
             pg_q_stats_24h_ms={stats:.2} pg_q_stats_24h_raw_ms={stats_raw:.2} \
             pg_q_cursor_page_ms={by_cursor:.2} pg_q_cursor_page_raw_ms={by_cursor_raw:.2} \
             pg_q_cursor_page200_ms={by_cursor200:.2} pg_q_cursor_page200_raw_ms={by_cursor200_raw:.2} \
             pg_q_offset_page_ms={by_offset:.2} depth={depth}"
        );
        println!(
            "api/raw: latest50 {:.2}x, tenant_type_7d {:.2}x, stats_24h {:.2}x, cursor_page {:.2}x, cursor_page200 {:.2}x",
            ratio(latest, latest_raw),
            ratio(tenant_type, tenant_type_raw),
            ratio(stats, stats_raw),
            ratio(by_cursor, by_cursor_raw),
            ratio(by_cursor200, by_cursor200_raw)
        );

        let analyzed = depth_curve(&store, &big, &depths, runs.min(21)).await;
        println!("{}", curve_line("pg_q", &depths, &analyzed));
        store.close().await;
        scratch.drop_now().await;

        let loaded = after_bulk_load(&url, rows as u64, &depths, runs.min(21)).await;
        println!("{}", curve_line("pg_q_loaded", &depths, &loaded));
    });
}
