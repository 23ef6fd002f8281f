//! Retention keeps a chain verifiable: it removes exactly the old records,
//! cuts the chain at its longest removed prefix (keeping the hash there),
//! and notes a record written late (older than the cutoff but after newer
//! ones) so that verification steps over it; a checkpoint taken before
//! retention still verifies, one whose position was cut says so.

use activity_log::integrity::{BreakKind, ChainedStore, CheckpointSigner};
use activity_log::postgres::PostgresSink;
use activity_log::query::{ActivityFilter, ActivityStore};
use activity_log::sqlite::SqliteSink;
use activity_log::{Activity, Sink};
use activity_log_tests::pg::TestSchema;
use chrono::{Duration as Days, Utc};

/// 10 old records, 5 new ones, 1 old one written late, 5 new ones.
fn records() -> Vec<Activity> {
    let old = Utc::now() - Days::days(40);
    let new = Utc::now() - Days::hours(1);
    let at = |t, i| Activity::new("x").tenant("acme").target("t", i).occurred_at(t).build().expect("valid");
    let mut v: Vec<Activity> = (0..10).map(|i| at(old, i)).collect();
    v.extend((10..15).map(|i| at(new, i)));
    v.push(at(old, 15));
    v.extend((16..21).map(|i| at(new, i)));
    v
}

async fn check<S: Sink + ActivityStore + ChainedStore>(store: &S) {
    let signer = CheckpointSigner::generate().expect("key");
    for chunk in records().chunks(4) {
        store.write_batch(chunk).await.expect("write");
    }
    let early = store.checkpoint(Some("acme"), &signer).await.expect("checkpoint");
    assert_eq!(early.position, 21);
    let mut first_five = early.clone();
    first_five.position = 5;
    let deleted = store.delete_before(Utc::now() - Days::days(30), None).await.expect("retention");
    assert_eq!(deleted, 11, "exactly the old records, the late one too");
    assert_eq!(store.count(&ActivityFilter::new()).await.expect("count"), 10);

    let report = store.verify(Some("acme"), &early).await.expect("verify");
    assert!(report.is_intact(), "{report}");
    assert_eq!((report.from, report.intact, report.expired), (11, 10, 1));

    // A checkpoint of a position retention removed cannot be checked.
    let old =
        signer.sign(Some("acme"), activity_log::integrity::ChainHead { position: 5, hash: early.head }, Utc::now());
    let report = store.verify(Some("acme"), &old).await.expect("verify");
    assert_eq!(report.first_break.map(|b| b.kind), Some(BreakKind::BeforeRetentionCut));

    // Retention again: nothing is old; the chain still verifies.
    let deleted = store.delete_before(Utc::now() - Days::days(30), None).await.expect("retention");
    assert_eq!(deleted, 0);
    let report = store.verify(Some("acme"), &early).await.expect("verify");
    assert!(report.is_intact(), "{report}");
}

#[tokio::test]
async fn sqlite_retention_keeps_the_chain_verifiable() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = SqliteSink::connect(&format!("sqlite://{}", dir.path().join("r.db").display()))
        .await
        .expect("connect")
        .with_chaining(true);
    check(&store).await;
    store.close().await;
}

#[tokio::test]
async fn postgres_retention_keeps_the_chain_verifiable() {
    let Some(schema) = TestSchema::create("chain_retention").await else { return };
    let store = schema.sink_with(PostgresSink::builder().chaining(true)).await;
    store.create_partitions(Utc::now() - Days::days(45), Utc::now()).await.expect("partitions");
    check(&store).await;
    store.close().await;
}
