//! The cost of the hash chain, in one run on the same machine: activities
//! written through the logger into PostgreSQL and SQLite with chaining on
//! and off (fresh, identical tables; runs interleaved), and verification
//! speed (rows re-hashed and checked per second) on the chained tables.
//!
//! `cargo bench -p activity-log-benches --bench chain_write` prints
//! `BENCH pg_chain_eps=... pg_plain_eps=... chain_ratio=...`,
//! `BENCH sqlite_chain_eps=... sqlite_plain_eps=... sqlite_chain_ratio=...` and
//! `BENCH fresh_verify_rows_per_s=... sqlite_fresh_verify_rows_per_s=...`:
//! verification straight after the write, which on PostgreSQL also pays
//! for setting the new rows' hint bits. Verification speed on settled
//! rows, as an auditor meets them, is `chain_verify`'s
//! `BENCH verify_rows_per_s=...`.
//! Without `--bench` it runs a small smoke version; without `DATABASE_URL`
//! the PostgreSQL half says so and is skipped.

#[path = "pg_common.rs"]
mod pg_common;

use activity_log::integrity::{ChainedStore, CheckpointSigner};
use activity_log::postgres::PostgresSink;
use activity_log::sqlite::SqliteSink;
use activity_log::{Activity, ActivityLogger, Sink};
use activity_log_benches::{eps, log_all_and_flush};
use pg_common::{activities, database_url, Scratch};
use std::time::Instant;

fn logger(sink: impl Sink + 'static, n: usize) -> ActivityLogger {
    ActivityLogger::builder()
        .sink(sink)
        .batch_size(8192)
        .queue_capacity(n + 1)
        .queue_max_bytes(1 << 30)
        .build()
        .expect("logger builds")
}

/// Verifies every chain of `store` against a fresh checkpoint of its head;
/// returns rows verified per second.
async fn verify_all(store: &dyn ChainedStore, expected_rows: usize) -> f64 {
    let signer = CheckpointSigner::generate().expect("key");
    let mut checkpoints = Vec::new();
    for tenant in store.chains().await.expect("chains") {
        checkpoints.push(store.checkpoint(tenant.as_deref(), &signer).await.expect("checkpoint"));
    }
    let start = Instant::now();
    let mut rows = 0;
    for c in &checkpoints {
        let report = store.verify(c.tenant.as_deref(), c).await.expect("verify");
        assert!(report.is_intact(), "{report}");
        rows += report.intact as usize;
    }
    let took = start.elapsed();
    assert_eq!(rows, expected_rows);
    eps(rows, took)
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

async fn postgres(url: &str, n: usize, runs: u64) -> (f64, f64, f64) {
    let (mut chain, mut plain, mut verify) = (Vec::new(), Vec::new(), Vec::new());
    for run in 0..runs {
        let rows: Vec<Activity> = activities(n, run);
        for chained in [run % 2 == 0, run % 2 != 0] {
            let scratch = Scratch::create(url, if chained { "chain" } else { "plain" }).await;
            let store = scratch.sink(PostgresSink::builder().chaining(chained)).await;
            let rate = log_all_and_flush(logger(store.clone(), n), &rows).await;
            if chained {
                chain.push(rate);
                verify.push(verify_all(&store, n).await);
            } else {
                plain.push(rate);
            }
            store.close().await;
            scratch.drop_now().await;
        }
        println!("pg run {run}: chained {:.0}/s, plain {:.0}/s", chain[run as usize], plain[run as usize]);
    }
    (median(&mut chain), median(&mut plain), median(&mut verify))
}

async fn sqlite(n: usize, runs: u64) -> (f64, f64, f64) {
    let (mut chain, mut plain, mut verify) = (Vec::new(), Vec::new(), Vec::new());
    for run in 0..runs {
        let rows: Vec<Activity> = activities(n, run);
        for chained in [run % 2 == 0, run % 2 != 0] {
            let dir = tempfile::tempdir().expect("tempdir");
            let url = format!("sqlite://{}", dir.path().join("bench.db").display());
            let store = SqliteSink::connect(&url).await.expect("connect").with_chaining(chained);
            let rate = log_all_and_flush(logger(store.clone(), n), &rows).await;
            if chained {
                chain.push(rate);
                verify.push(verify_all(&store, n).await);
            } else {
                plain.push(rate);
            }
            store.close().await;
        }
        println!("sqlite run {run}: chained {:.0}/s, plain {:.0}/s", chain[run as usize], plain[run as usize]);
    }
    (median(&mut chain), median(&mut plain), median(&mut verify))
}

fn main() {
    let full = std::env::args().any(|a| a == "--bench");
    let (n, runs) = if full { (200_000, 3) } else { (2_000, 1) };
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime");
    runtime.block_on(async {
        let (chain, plain, sqlite_verify) = sqlite(n, runs).await;
        println!(
            "BENCH sqlite_chain_eps={chain:.0} sqlite_plain_eps={plain:.0} sqlite_chain_ratio={:.3}",
            chain / plain
        );
        let Some(url) = database_url() else {
            println!("chain_write: PostgreSQL half skipped; {}", dev_env::HOW_TO_RUN);
            println!("BENCH sqlite_fresh_verify_rows_per_s={sqlite_verify:.0}");
            return;
        };
        let (chain, plain, verify) = postgres(&url, n, runs).await;
        println!("BENCH pg_chain_eps={chain:.0} pg_plain_eps={plain:.0} chain_ratio={:.3}", chain / plain);
        println!("BENCH fresh_verify_rows_per_s={verify:.0} sqlite_fresh_verify_rows_per_s={sqlite_verify:.0}");
    });
}
