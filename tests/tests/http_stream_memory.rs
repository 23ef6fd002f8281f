//! A slow live-tail client costs the server bounded memory. Its own test
//! binary, because it measures the process's resident memory, which any
//! test running beside it would disturb.

mod support;

use activity_log::Activity;
use std::time::Duration;
use support::http_server::{ws_connect, ws_next, Server, SseReader};

fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:").map(|v| v.trim().trim_end_matches(" kB").trim().parse().unwrap()))
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_stream_client_is_told_it_lagged_and_server_memory_stays_bounded() {
    let s = Server::start(|a| a).await;
    let mut slow = SseReader::new(s.get("acme-token", "/activities/stream").await);
    let mut ws = ws_connect(&s, "acme-token", "").await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    // Bursts of 10,000 activities of 4 KiB (40 MB each): far more than the
    // socket buffers hold, so the clients, which do not read, fall behind.
    // Bounded means nothing grows with the volume a slow client misses: once
    // two bursts have warmed the caches (the store's page cache alone is
    // 32 MiB per connection), two more (80 MB) cost under 16 MB. A per-client
    // backlog would cost the whole 80.
    let text = "x".repeat(4096);
    let log_burst = || {
        let (logger, text) = (s.logger.clone(), text.clone());
        async move {
            for i in 0..10_000 {
                logger.log_async(Activity::new("bulk").tenant("acme").description(&text).meta("i", i));
                if i % 1000 == 999 {
                    logger.flush().await.unwrap();
                }
            }
            logger.flush().await.unwrap();
        }
    };
    log_burst().await;
    log_burst().await;
    let warm = rss_kib();
    log_burst().await;
    log_burst().await;
    let grown_mb = rss_kib().saturating_sub(warm) / 1024;
    assert!(grown_mb < 16, "server memory grew by {grown_mb} MB over two more 40 MB bursts the clients did not read");
    let mut lagged = false;
    for _ in 0..10_000 {
        let (event, _, _) = slow.next().await;
        if event == "lagged" {
            lagged = true;
            break;
        }
    }
    assert!(lagged, "the SSE client was never told it lagged");
    let mut ws_lagged = false;
    for _ in 0..10_000 {
        if ws_next(&mut ws).await["type"] == "lagged" {
            ws_lagged = true;
            break;
        }
    }
    assert!(ws_lagged, "the WebSocket client was never told it lagged");
}
