//! The activity router over loopback HTTP, each figure next to a baseline
//! measured in the same run:
//!
//! - `GET /activities?limit=50` for one tenant of a 1,000,000-row
//!   PostgreSQL store (seeded in SQL as in `pg_query`), sequential over one
//!   keep-alive connection: `BENCH http_latest50_p50_ms=... http_latest50_p99_ms=...`,
//!   against the same page read from the store directly
//!   (`http_latest50_store_p50_ms`).
//! - `GET /activities/export?format=csv` of all 1,000,000 rows, read and
//!   counted by the client as it streams: `BENCH http_export_rows_per_s=...
//!   http_export_rss_mb=...` (the process's peak RSS growth while
//!   exporting, sampled every 20 ms), against the store's own export into
//!   `tokio::io::sink()` (`http_export_store_rows_per_s`).
//! - Live tail: 100 SSE clients of one tenant while 10,000 activities/s are
//!   logged for 3 s: `BENCH http_tail_p99_ms=... http_tail_p50_ms=...
//!   http_tail_delivered=...` (share of the events every client received).
//!
//! `cargo bench -p activity-log-benches --bench http_api`; without
//! `--bench`, 20,000 rows and a short tail. Needs `DATABASE_URL`.

#[path = "pg_common.rs"]
mod pg_common;

use activity_log::http::{ActivityApi, Principal, RateLimits, StaticTokens};
use activity_log::postgres::PostgresSink;
use activity_log::query::{ActivityFilter, ActivityStore, ExportFormat, PageRequest};
use activity_log::{Activity, ActivityLogger, NullSink};
use futures_util::StreamExt;
use pg_common::{database_url, Scratch};
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::time::{Duration, Instant};

fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines().find_map(|l| {
                l.strip_prefix("VmRSS:").and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            })
        })
        .unwrap_or(0)
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

fn tokens() -> StaticTokens {
    StaticTokens::new()
        .token("t00", Principal::tenant("t00", "tenant-00").read())
        .token("ops", Principal::all_tenants("ops").read())
}

async fn serve(app: axum::Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move { axum::serve(listener, app).await.expect("serve") });
    format!("http://{addr}/api/activity")
}

fn main() {
    let Some(url) = database_url() else {
        println!("http_api: skipped; {}", dev_env::HOW_TO_RUN);
        return;
    };
    let full = std::env::args().any(|a| a == "--bench");
    let rows: i64 = if full { 1_000_000 } else { 20_000 };
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime");
    runtime.block_on(async {
        let scratch = Scratch::create(&url, "http").await;
        let store = scratch.sink(PostgresSink::builder()).await;
        let start = Instant::now();
        pg_common::seed_sql(store.pool(), rows).await;
        sqlx::query("ANALYZE activities").execute(store.pool()).await.expect("analyze");
        println!("seeded {rows} rows in {:.1} s", start.elapsed().as_secs_f64());

        let (logger, _) = ActivityLogger::builder()
            .sink(NullSink)
            .subscriber_capacity(4096)
            .build()
            .map(|l| (l, ()))
            .expect("logger");
        let api = ActivityApi::new(store.clone(), tokens()).logger(logger.clone()).rate_limits(RateLimits::unlimited());
        let base = serve(axum::Router::new().nest("/api/activity", api.router())).await;
        let client = reqwest::Client::new();

        // Latest 50 of a tenant: store directly, then over HTTP.
        let runs = if full { 1000 } else { 50 };
        let filter = ActivityFilter::new().tenant("tenant-00");
        let mut direct = Vec::with_capacity(runs);
        let mut http = Vec::with_capacity(runs);
        for i in 0..runs + 20 {
            let t = Instant::now();
            let page = store.query(&filter, &PageRequest::first(50)).await.expect("query");
            assert_eq!(page.items.len(), 50);
            let d = t.elapsed().as_secs_f64() * 1000.0;
            let t = Instant::now();
            let body = client
                .get(format!("{base}/activities?limit=50"))
                .bearer_auth("t00")
                .send()
                .await
                .expect("GET")
                .bytes()
                .await
                .expect("body");
            assert!(body.len() > 1000);
            let h = t.elapsed().as_secs_f64() * 1000.0;
            if i >= 20 {
                direct.push(d);
                http.push(h);
            }
        }
        direct.sort_by(f64::total_cmp);
        http.sort_by(f64::total_cmp);
        println!(
            "BENCH http_latest50_p50_ms={:.3} http_latest50_p99_ms={:.3} http_latest50_store_p50_ms={:.3}",
            percentile(&http, 0.5),
            percentile(&http, 0.99),
            percentile(&direct, 0.5)
        );

        // Export: the store into a sink, then over HTTP with peak RSS.
        let t = Instant::now();
        let n = store.export(&ActivityFilter::new(), ExportFormat::Csv, &mut tokio::io::sink()).await.expect("export");
        let store_rps = n as f64 / t.elapsed().as_secs_f64();
        let before = rss_kib();
        let peak = Arc::new(AtomicU64::new(before));
        let sampling = {
            let peak = Arc::clone(&peak);
            tokio::spawn(async move {
                loop {
                    peak.fetch_max(rss_kib(), Relaxed);
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
            })
        };
        let t = Instant::now();
        let response =
            client.get(format!("{base}/activities/export?format=csv")).bearer_auth("ops").send().await.expect("export");
        let mut stream = response.bytes_stream();
        let mut lines = 0u64;
        while let Some(chunk) = stream.next().await {
            lines += chunk.expect("chunk").iter().filter(|b| **b == b'\n').count() as u64;
        }
        let secs = t.elapsed().as_secs_f64();
        sampling.abort();
        let exported = lines.saturating_sub(1); // the header row; descriptions hold no line breaks
        assert_eq!(exported, rows as u64, "every row exported");
        println!(
            "BENCH http_export_rows_per_s={:.0} http_export_rss_mb={:.1} http_export_store_rows_per_s={store_rps:.0}",
            exported as f64 / secs,
            peak.load(Relaxed).saturating_sub(before) as f64 / 1024.0
        );

        // Live tail: 100 SSE clients at 1,000 and at 10,000 activities/s.
        let seconds = if full { 3 } else { 1 };
        tail(&base, &client, &logger, 100, 1_000, seconds, "http_tail_1k").await;
        tail(&base, &client, &logger, 100, 10_000, seconds, "http_tail").await;
        let _ = logger.shutdown(Duration::from_secs(5)).await;
        store.close().await;
        scratch.drop_now().await;
    });
}

/// The live tail: `clients` SSE clients of one tenant while `rate`
/// activities a second are logged for `seconds`; prints p50/p99 delivery
/// latency and the share delivered, as `BENCH {label}_...`.
async fn tail(
    base: &str,
    client: &reqwest::Client,
    logger: &ActivityLogger,
    clients: usize,
    rate: u64,
    seconds: u64,
    label: &str,
) {
    let origin = Instant::now();
    let latencies = Arc::new(std::sync::Mutex::new(Vec::<f64>::new()));
    let received = Arc::new(AtomicU64::new(0));
    let mut tasks = Vec::new();
    for _ in 0..clients {
        let response = client.get(format!("{base}/activities/stream")).bearer_auth("t00").send().await.expect("stream");
        assert_eq!(response.status(), 200, "the stream opens");
        let (latencies, received) = (Arc::clone(&latencies), Arc::clone(&received));
        tasks.push(tokio::spawn(async move {
            let mut stream = response.bytes_stream();
            let mut buf = Vec::new();
            let mut mine = 0u64;
            while let Some(chunk) = stream.next().await {
                let Ok(chunk) = chunk else {
                    eprintln!("tail client: {chunk:?}");
                    break;
                };
                buf.extend_from_slice(&chunk);
                // Every whole event in the buffer (each carries one
                // `sent_ns`), then the rest kept.
                let now = origin.elapsed().as_nanos() as u64;
                let whole = memchr::memmem::rfind(&buf, b"\n\n").map_or(0, |end| end + 2);
                let got: Vec<f64> = memchr::memmem::find_iter(&buf[..whole], b"\"sent_ns\":")
                    .filter_map(|at| {
                        let digits = &buf[at + 10..];
                        let len = digits.iter().take_while(|b| b.is_ascii_digit()).count();
                        let sent: u64 = std::str::from_utf8(&digits[..len]).ok()?.parse().ok()?;
                        Some(now.saturating_sub(sent) as f64 / 1e6)
                    })
                    .collect();
                buf.drain(..whole);
                mine += got.len() as u64;
                received.fetch_add(got.len() as u64, Relaxed);
                latencies.lock().expect("latencies").extend(got);
                if mine >= rate * seconds {
                    break;
                }
            }
        }));
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let total = rate * seconds;
    let tick = Duration::from_millis(10);
    let per_tick = rate / 100;
    let mut next = Instant::now();
    for i in 0..total / per_tick {
        for j in 0..per_tick {
            let sent = origin.elapsed().as_nanos() as u64;
            logger
                .log_async(Activity::new("tail").tenant("tenant-00").meta("sent_ns", sent).meta("n", i * per_tick + j));
        }
        next += tick;
        tokio::time::sleep_until(next.into()).await;
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    for t in &tasks {
        t.abort();
    }
    for t in tasks {
        let _ = t.await;
    }
    let mut l = std::mem::take(&mut *latencies.lock().expect("latencies"));
    l.sort_by(f64::total_cmp);
    let delivered = received.load(Relaxed) as f64 / (total * clients as u64) as f64;
    if l.is_empty() {
        println!("BENCH {label}_p99_ms=NaN {label}_delivered=0 (no client received anything)");
    } else {
        println!(
            "BENCH {label}_p99_ms={:.1} {label}_p50_ms={:.1} {label}_delivered={delivered:.3}",
            percentile(&l, 0.99),
            percentile(&l, 0.5)
        );
    }
}
