//! The Redis Streams transport, in one run against the same PostgreSQL:
//!
//! - end to end: `log_async` on an instance → `RedisStreamSink` → stream →
//!   1, 2 and 4 `StreamDrainer`s → PostgreSQL, timed until every activity
//!   is acknowledged; against the logger writing to PostgreSQL directly
//!   (`redis_e2e_eps` is the best of the drainer counts, named in
//!   `redis_e2e_drainers`);
//! - the producer's cost: `log_async` with the Redis sink against the
//!   memory sink (the sink runs on the logger's worker, which shares the
//!   two cores with the caller);
//! - Redis appends per second through one sink (1,000-activity batches).
//!
//! `cargo bench -p activity-log-benches --bench redis_e2e` prints
//! `BENCH redis_e2e_eps=... direct_pg_eps=... ratio=... redis_e2e_drainers=...`,
//! `BENCH redis_e2e_d1_eps=... redis_e2e_d2_eps=... redis_e2e_d4_eps=...`,
//! `BENCH redis_log_async_ns=... memory_log_async_ns=... log_async_ratio=...` and
//! `BENCH redis_appends_per_s=...`. Redis comes from `REDIS_URL` (default
//! `redis://127.0.0.1:6379`; streams named after the process, deleted
//! after), PostgreSQL from `DATABASE_URL`. Without `--bench` it runs a
//! small smoke version; without either server it says so and exits.

#[path = "pg_common.rs"]
mod pg_common;

use activity_log::postgres::PostgresSink;
use activity_log::redis::{DrainerStats, RedisStreamSink, StreamDrainer, StreamLayout};
use activity_log::{Activity, ActivityLogger, MemorySink, Sink};
use activity_log_benches::{eps, log_all_and_flush, median_ns_per_call};
use pg_common::{activities, database_url, Scratch};
use std::time::{Duration, Instant};

fn logger(sink: impl Sink, capacity: usize) -> ActivityLogger {
    ActivityLogger::builder()
        .sink(sink)
        .batch_size(1_000)
        .queue_capacity(capacity + 1)
        .queue_max_bytes(1 << 30)
        .build()
        .expect("logger builds")
}

fn layout(label: &str) -> StreamLayout {
    StreamLayout::new(format!("al-bench-{}-{label}", std::process::id()))
}

/// Deletes a layout's streams (and dead-letter stream).
async fn delete_streams(redis_url: &str, layout: &StreamLayout) {
    let client = redis::Client::open(redis_url).expect("a Redis URL");
    let mut conn = client.get_multiplexed_async_connection().await.expect("connect to Redis");
    let mut keys = layout.keys().to_vec();
    keys.push(layout.dead_letter_key());
    let _: () = redis::cmd("DEL").arg(keys).query_async(&mut conn).await.expect("DEL");
}

/// Logs `rows` through a Redis sink while `drainers` drainers move them into
/// a fresh schema; activities per second until all are acknowledged.
async fn end_to_end(pg_url: &str, redis_url: &str, rows: &[Activity], drainers: usize) -> f64 {
    let scratch = Scratch::create(pg_url, &format!("redis_d{drainers}")).await;
    let layout = layout(&format!("d{drainers}"));
    let mut handles = Vec::new();
    for i in 0..drainers {
        let store = scratch.sink(PostgresSink::builder().reader_connections(1)).await;
        let drainer = StreamDrainer::builder()
            .layout(layout.clone())
            .consumer(format!("d{i}"))
            .block(Duration::from_millis(100))
            .build(redis_url, store)
            .expect("drainer builds");
        handles.push(drainer.spawn());
    }
    let sink = RedisStreamSink::builder().layout(layout.clone()).build(redis_url).expect("sink builds");
    let producer = logger(sink, rows.len());
    let start = Instant::now();
    for a in rows {
        producer.log_async(a.clone());
    }
    loop {
        let acked = DrainerStats::sum(&handles.iter().map(|h| h.stats()).collect::<Vec<_>>()).acknowledged;
        if acked >= rows.len() as u64 {
            break;
        }
        assert!(start.elapsed() < Duration::from_secs(600), "not drained in 10 minutes: {acked} of {}", rows.len());
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    let took = start.elapsed();
    let produced = producer.stats();
    assert_eq!(produced.written, rows.len() as u64, "{produced:?}");
    producer.shutdown(Duration::from_secs(10)).await;
    let mut stats = Vec::new();
    for h in handles {
        stats.push(h.shutdown().await);
    }
    let sum = DrainerStats::sum(&stats);
    assert_eq!((sum.acknowledged, sum.dead_lettered), (rows.len() as u64, 0), "{sum:?}");
    delete_streams(redis_url, &layout).await;
    scratch.drop_now().await;
    eps(rows.len(), took)
}

/// Median ns per `log_async` of a prebuilt activity's clone.
fn log_async_cost(sink: impl Sink, rows: &[Activity], samples: usize) -> (f64, ActivityLogger) {
    let per_sample = rows.len() as u64;
    let logger = logger(sink, rows.len() * samples);
    let ns = median_ns_per_call(samples, per_sample, |i| logger.log_async(rows[(i % per_sample) as usize].clone()));
    (ns, logger)
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let full = std::env::args().any(|a| a == "--bench");
    let Some(pg_url) = database_url() else {
        println!("redis_e2e: skipped, no DATABASE_URL (CI=true uses CI's server)");
        return;
    };
    let redis_url = std::env::var("REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into());
    let reachable = match redis::Client::open(redis_url.as_str()) {
        Ok(client) => tokio::time::timeout(Duration::from_secs(2), client.get_multiplexed_async_connection())
            .await
            .is_ok_and(|c| c.is_ok()),
        Err(_) => false,
    };
    if !reachable {
        println!("redis_e2e: skipped, no Redis at REDIS_URL (default redis://127.0.0.1:6379)");
        return;
    }
    let n = if full { 100_000 } else { 5_000 };
    let rows = activities(n, 14);

    let direct = {
        let scratch = Scratch::create(&pg_url, "redis_direct").await;
        let store = scratch.sink(PostgresSink::builder().reader_connections(1)).await;
        let rate = log_all_and_flush(logger(store, n), &rows).await;
        scratch.drop_now().await;
        rate
    };
    let mut scaling = Vec::new();
    for drainers in [1, 2, 4] {
        scaling.push((drainers, end_to_end(&pg_url, &redis_url, &rows, drainers).await));
    }
    let (best_drainers, best) = scaling.iter().copied().fold((0, 0.0), |a, b| if b.1 > a.1 { b } else { a });
    println!(
        "BENCH redis_e2e_eps={best:.0} direct_pg_eps={direct:.0} ratio={:.2} redis_e2e_drainers={best_drainers}",
        best / direct
    );
    println!(
        "BENCH {}",
        scaling.iter().map(|(d, r)| format!("redis_e2e_d{d}_eps={r:.0}")).collect::<Vec<_>>().join(" ")
    );

    // The producer's side.
    let samples = if full { 11 } else { 3 };
    let memory = MemorySink::new();
    let (memory_ns, memory_logger) = log_async_cost(memory, &rows[..n.min(20_000)], samples);
    memory_logger.flush().await.expect("flush");
    memory_logger.shutdown(Duration::from_secs(10)).await;
    let cost_layout = layout("cost");
    let sink = RedisStreamSink::builder().layout(cost_layout.clone()).build(&redis_url).expect("sink builds");
    let (redis_ns, redis_logger) = log_async_cost(sink, &rows[..n.min(20_000)], samples);
    redis_logger.flush().await.expect("flush");
    redis_logger.shutdown(Duration::from_secs(10)).await;
    delete_streams(&redis_url, &cost_layout).await;
    println!(
        "BENCH redis_log_async_ns={redis_ns:.0} memory_log_async_ns={memory_ns:.0} log_async_ratio={:.2}",
        redis_ns / memory_ns
    );

    let appends_layout = layout("appends");
    let sink = RedisStreamSink::builder().layout(appends_layout.clone()).build(&redis_url).expect("sink builds");
    let start = Instant::now();
    for batch in rows.chunks(1_000) {
        sink.write_batch(batch).await.expect("appended");
    }
    let appends = eps(n, start.elapsed());
    assert_eq!(sink.stats().appended, n as u64);
    delete_streams(&redis_url, &appends_layout).await;
    println!("BENCH redis_appends_per_s={appends:.0}");
}
