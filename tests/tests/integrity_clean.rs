//! No false alarms: a chained log written through the logger into a
//! PostgreSQL server that goes down mid-run (the logger spills to its
//! spool and replays it when the server is back) and whose writer
//! connections are killed again and again (lost acknowledgements, retried
//! batches) verifies intact, every record in its place.
//!
//! CI runs 40,000 records; `cargo test -p activity-log-tests --test
//! integrity_clean -- --ignored` runs the 1,000,000-record version.

use activity_log::integrity::{ChainedStore, CheckpointSigner};
use activity_log::postgres::PostgresSink;
use activity_log::{Activity, ActivityLogger};
use activity_log_tests::private_pg::PrivatePostgres;
use std::time::{Duration, Instant};

const WRITER: &str = "chain-clean-writer";
const TENANTS: u64 = 20;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_clean_log_through_an_outage_and_killed_connections_verifies() {
    clean_run(40_000).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "1,000,000 records: minutes; run with --ignored"]
async fn a_clean_log_of_a_million_records_verifies() {
    clean_run(1_000_000).await;
}

async fn clean_run(n: u64) {
    let Some(pg) = PrivatePostgres::create("chain_clean").await else { return };
    let store = PostgresSink::builder()
        .chaining(true)
        .reader_connections(2)
        .acquire_timeout(Duration::from_secs(1))
        .connect_with(pg.options().application_name(WRITER))
        .await
        .expect("connect");
    let spool = tempfile::tempdir().expect("tempdir");
    let logger = ActivityLogger::builder()
        .sink(store.clone())
        .spill_dir(spool.path())
        .batch_size(2_000)
        .queue_capacity(50_000)
        .build()
        .expect("logger");
    let log = |from: u64, to: u64| {
        for i in from..to {
            logger.log_async(
                Activity::new("call_created")
                    .tenant(format!("tenant-{:02}", i % TENANTS))
                    .target("call", i)
                    .meta("queue", "sales")
                    .meta("score", i as f64 / 7.0),
            );
        }
    };
    let quarter = n / 4;
    log(0, quarter);
    logger.flush().await.expect("flush");

    // The server goes down: the logger spills, and replays when it is back.
    pg.stop().await;
    log(quarter, 2 * quarter);
    let down = Instant::now();
    while logger.stats().spooled == 0 && down.elapsed() < Duration::from_secs(20) {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(logger.stats().spooled > 0, "the outage spilled to the spool: {:?}", logger.stats());
    pg.start().await;

    // Writer connections killed every few milliseconds meanwhile.
    let killer = pg.kill_connections(WRITER).await;
    log(2 * quarter, 3 * quarter);
    tokio::time::sleep(Duration::from_secs(2)).await;
    let killed = killer.stop().await;
    log(3 * quarter, n);
    logger.flush().await.expect("flush");
    let stats = logger.stats();
    assert_eq!((stats.written, stats.lost()), (n, 0), "{stats:?}");
    println!("clean run: {n} records, {killed} connections killed, {stats:?}");

    let signer = CheckpointSigner::generate().expect("key");
    let mut total = 0;
    let started = Instant::now();
    for tenant in store.chains().await.expect("chains") {
        let c = store.checkpoint(tenant.as_deref(), &signer).await.expect("checkpoint");
        let report = store.verify(tenant.as_deref(), &c).await.expect("verify");
        assert!(report.is_intact(), "false alarm: {report}");
        total += report.intact;
    }
    assert_eq!(total, n, "every record is in exactly one chain position");
    println!("verified {total} records in {:?}", started.elapsed());
    logger.shutdown(Duration::from_secs(10)).await;
    store.close().await;
}
