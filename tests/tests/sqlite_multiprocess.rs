//! Several processes opening one brand-new SQLite file at the same moment:
//! every `SqliteSink::connect` succeeds (switching a new file into WAL mode
//! and its first migration take locks the busy timeout does not wait on;
//! connect retries them with backoff) and every process can write.
//!
//! The test binary runs itself as the child processes: with
//! `ACTIVITY_LOG_CHILD_DB` set, [`child`] connects, writes one activity
//! and exits; the parent spawns four at once, round after round, each
//! round on a fresh file.

use activity_log::query::{ActivityFilter, ActivityStore};
use activity_log::sqlite::SqliteSink;
use activity_log::{Activity, Sink};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

const CHILD_DB: &str = "ACTIVITY_LOG_CHILD_DB";
const CHILD_START_AT_MS: &str = "ACTIVITY_LOG_CHILD_START_AT_MS";
const PROCESSES: usize = 4;
const ROUNDS: usize = 60;

fn now_ms() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64)
}

/// The child's work (a no-op unless run as a child): wait for the common
/// start time, connect, write one activity.
#[tokio::test]
async fn child() {
    let Ok(path) = std::env::var(CHILD_DB) else { return };
    let start_at: u64 = std::env::var(CHILD_START_AT_MS).ok().and_then(|v| v.parse().ok()).unwrap_or(0);
    if let Some(wait) = start_at.checked_sub(now_ms()) {
        std::thread::sleep(Duration::from_millis(wait));
    }
    let store = match SqliteSink::connect(&format!("sqlite://{path}")).await {
        Ok(store) => store,
        Err(e) => panic!("connect failed: {e}"),
    };
    let activity = Activity::new("process_started").tenant("acme").build().expect("a valid activity");
    store.write_batch(&[activity]).await.expect("write");
    store.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn four_processes_connecting_to_a_new_file_at_once_all_succeed() {
    if std::env::var(CHILD_DB).is_ok() {
        return;
    }
    let exe = std::env::current_exe().expect("the test binary");
    let started = Instant::now();
    let mut failures = Vec::new();
    for round in 0..ROUNDS {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("activity.db");
        // Far enough ahead that every child has started and waits.
        let start_at = now_ms() + 150;
        let children: Vec<_> = (0..PROCESSES)
            .map(|_| {
                Command::new(&exe)
                    .args(["--exact", "child", "--nocapture", "--test-threads", "1"])
                    .env(CHILD_DB, &path)
                    .env(CHILD_START_AT_MS, start_at.to_string())
                    .stdout(Stdio::piped())
                    .stderr(Stdio::piped())
                    .spawn()
                    .expect("spawn a child")
            })
            .collect();
        let failed_before = failures.len();
        for child in children {
            let out = child.wait_with_output().expect("wait for a child");
            if !out.status.success() {
                let stderr = String::from_utf8_lossy(&out.stderr);
                // The panic's message is the line after "panicked at".
                let why = stderr.lines().skip_while(|l| !l.contains("panicked")).nth(1).unwrap_or("");
                failures.push(format!("round {round}: {} {why}", out.status));
            }
        }
        let store = SqliteSink::connect(&format!("sqlite://{}", path.display())).await.expect("connect");
        let rows = store.count(&ActivityFilter::new()).await.expect("count");
        store.close().await;
        if failures.len() == failed_before {
            assert_eq!(rows, PROCESSES as u64, "round {round}: every process wrote its row");
        }
    }
    println!(
        "sqlite_multiprocess: {ROUNDS} rounds x {PROCESSES} processes on fresh files in {:?}; {} failed",
        started.elapsed(),
        failures.len()
    );
    assert!(
        failures.is_empty(),
        "{} of {ROUNDS} rounds had a failed process:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
