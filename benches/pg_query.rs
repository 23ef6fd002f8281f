//! PostgreSQL query latency through the store API on 1,000,000 rows
//! (20 tenants, 30 days), seeded in SQL: latest 50 of a tenant; tenant +
//! type + 7 days; a tenant's stats over 24 h; a page of 200 at depth
//! 10,000 by cursor and by offset. Also checks with `EXPLAIN` that the
//! tenant + time query is served by an index.
//!
//! `cargo bench -p activity-log-benches --bench pg_query` prints
//! `BENCH pg_q_latest50_ms=... pg_q_tenant_type_7d_ms=... pg_q_stats_24h_ms=... pg_q_cursor_page_ms=... pg_q_offset_page_ms=...`
//! (medians). Without `--bench` it runs on 20,000 rows; without
//! `DATABASE_URL` it says so and exits.

#[path = "pg_common.rs"]
mod pg_common;

use activity_log::postgres::PostgresSink;
use activity_log::query::{ActivityFilter, ActivityStore, PageRequest, StatsRequest};
use chrono::Duration as ChronoDuration;
use pg_common::{database_url, Scratch};
use sqlx::{Executor, Row};
use std::future::Future;
use std::time::Instant;

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

fn main() {
    let Some(url) = database_url() else {
        println!("pg_query: skipped; {}", dev_env::HOW_TO_RUN);
        return;
    };
    let full = std::env::args().any(|a| a == "--bench");
    let rows: i64 = if full { 1_000_000 } else { 20_000 };
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime");
    runtime.block_on(async {
        let scratch = Scratch::create(&url, "query").await;
        let store = scratch.sink(PostgresSink::builder()).await;
        let pool = store.pool();
        let start = Instant::now();
        sqlx::query(
            "INSERT INTO activities (id, occurred_at, tenant, activity_type, target_kind, target_id, actor_kind, \
             actor_id, outcome, severity, description, description_folded, metadata, ip, user_agent, request_id) \
             SELECT gen_random_uuid(), now() - (g * (2592000.0 / $1)) * INTERVAL '1 second', \
             'tenant-' || lpad((g % 20)::text, 2, '0'), 'type_' || (g % 12), 'call', (g % 5000)::text, 'user', \
             'agent-' || (g % 50), CASE WHEN g % 10 = 0 THEN 'failure' ELSE 'success' END, 'info', \
             'Inbound call routed to queue Sales', 'inbound call routed to queue sales', \
             jsonb_build_object('queue', 'sales', 'attempt', g % 3), '203.0.113.9', 'Mozilla/5.0', 'req-' || g \
             FROM generate_series(1, $1) AS g",
        )
        .bind(rows)
        .execute(pool)
        .await
        .expect("seed");
        pool.execute("ANALYZE activities").await.expect("analyze");
        println!("seeded {rows} rows in {:.1} s", start.elapsed().as_secs_f64());

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

        let tenant = ActivityFilter::new().tenant("tenant-07");
        let latest = median_ms(21, || async {
            let page = store.query(&tenant, &PageRequest::first(50)).await.expect("latest");
            assert_eq!(page.items.len(), 50);
        })
        .await;
        let since = chrono::Utc::now() - ChronoDuration::days(7);
        let typed = tenant.clone().activity_type("type_7").since(since);
        let tenant_type = median_ms(21, || async {
            store.query(&typed, &PageRequest::first(50)).await.expect("tenant + type");
        })
        .await;
        let day = tenant.clone().since(chrono::Utc::now() - ChronoDuration::hours(24));
        let stats = median_ms(21, || async {
            let s = store.stats(&day, &StatsRequest::new()).await.expect("stats");
            assert!(s.total > 0);
        })
        .await;
        let depth = (rows as u64 / 20 / 5).min(10_000);
        let before = store.query(&tenant, &PageRequest::first(1).offset(depth - 1)).await.expect("row at depth");
        let cursor = activity_log::query::Cursor::after(&before.items[0], tenant.order);
        let by_cursor = median_ms(21, || async {
            let page = store.query(&tenant, &PageRequest::first(200).after(cursor)).await.expect("cursor page");
            assert_eq!(page.items.len(), 200);
        })
        .await;
        let by_offset = median_ms(21, || async {
            let page = store.query(&tenant, &PageRequest::first(200).offset(depth)).await.expect("offset page");
            assert_eq!(page.items.len(), 200);
        })
        .await;
        println!(
            "BENCH pg_q_latest50_ms={latest:.2} pg_q_tenant_type_7d_ms={tenant_type:.2} pg_q_stats_24h_ms={stats:.2} \
             pg_q_cursor_page_ms={by_cursor:.2} pg_q_offset_page_ms={by_offset:.2} depth={depth}"
        );
        store.close().await;
        scratch.drop_now().await;
    });
}
