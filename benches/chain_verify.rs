//! Verification speed alone: 200,000 realistic activities in 20 tenants'
//! chains, written once straight through the sink (chaining on) into
//! PostgreSQL and SQLite, then every chain verified against a fresh
//! checkpoint: once unmeasured (the first read of freshly written rows
//! also sets their hint bits on PostgreSQL and fills the page caches; an
//! auditor verifies rows at rest), then five times; the median rate is
//! reported.
//!
//! `cargo bench -p activity-log-benches --bench chain_verify` prints
//! `BENCH verify_rows_per_s=... sqlite_verify_rows_per_s=...`
//! (`chain_write` reports verification straight after its writes as
//! `fresh_verify_rows_per_s`). Without
//! `--bench` it runs a small smoke version; without `DATABASE_URL` the
//! PostgreSQL half is skipped.

#[path = "pg_common.rs"]
mod pg_common;

use activity_log::integrity::{ChainedStore, CheckpointSigner};
use activity_log::postgres::PostgresSink;
use activity_log::sqlite::SqliteSink;
use activity_log::{Activity, Sink};
use activity_log_benches::eps;
use pg_common::{activities, database_url, Scratch};
use std::time::Instant;

const RUNS: usize = 5;

/// Writes `rows` through `sink` in batches of 8,192.
async fn fill(sink: &dyn Sink, rows: &[Activity]) {
    for batch in rows.chunks(8_192) {
        sink.write_batch(batch).await.expect("write");
    }
}

/// Verifies every chain of `store` against a fresh checkpoint of its head,
/// once unmeasured and then `RUNS` times; returns the median rows verified
/// per second.
async fn verify_all(store: &dyn ChainedStore, expected_rows: usize) -> f64 {
    let signer = CheckpointSigner::generate().expect("key");
    let mut checkpoints = Vec::new();
    for tenant in store.chains().await.expect("chains") {
        checkpoints.push(store.checkpoint(tenant.as_deref(), &signer).await.expect("checkpoint"));
    }
    let mut rates = Vec::new();
    for run in 0..=RUNS {
        let start = Instant::now();
        let mut rows = 0;
        for c in &checkpoints {
            let report = store.verify(c.tenant.as_deref(), c).await.expect("verify");
            assert!(report.is_intact(), "{report}");
            rows += report.intact as usize;
        }
        assert_eq!(rows, expected_rows);
        if run > 0 {
            rates.push(eps(rows, start.elapsed()));
        }
    }
    rates.sort_by(f64::total_cmp);
    println!("verify runs: {rates:.0?} rows/s");
    rates[rates.len() / 2]
}

fn main() {
    let full = std::env::args().any(|a| a == "--bench");
    let n = if full { 200_000 } else { 2_000 };
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime");
    runtime.block_on(async {
        let rows = activities(n, 7);
        let dir = tempfile::tempdir().expect("tempdir");
        let url = format!("sqlite://{}", dir.path().join("bench.db").display());
        let store = SqliteSink::connect(&url).await.expect("connect").with_chaining(true);
        fill(&store, &rows).await;
        let sqlite = verify_all(&store, n).await;
        store.close().await;
        let Some(url) = database_url() else {
            println!("chain_verify: PostgreSQL half skipped; {}", dev_env::HOW_TO_RUN);
            println!("BENCH sqlite_verify_rows_per_s={sqlite:.0}");
            return;
        };
        let scratch = Scratch::create(&url, "verify").await;
        let store = scratch.sink(PostgresSink::builder().chaining(true)).await;
        fill(&store, &rows).await;
        let pg = verify_all(&store, n).await;
        store.close().await;
        scratch.drop_now().await;
        println!("BENCH verify_rows_per_s={pg:.0} sqlite_verify_rows_per_s={sqlite:.0}");
    });
}
