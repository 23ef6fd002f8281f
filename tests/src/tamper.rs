//! The tamper suite's plan, shared by the SQLite and PostgreSQL tests:
//! random tamperings of a chained log, each in its own tenant's chain,
//! the position verification must name for each, and the suite's steps
//! that do not depend on the database.

use activity_log::integrity::{ChainedStore, Checkpoint, CheckpointSigner};
use activity_log::{Activity, ActivityLogger, Actor, Sink};
use std::collections::BTreeMap;
use std::time::Duration;

/// The columns a field edit may change: every column of the record, and
/// the stored chain hash.
pub const EDITABLE: &[&str] = &[
    "activity_type",
    "tenant",
    "target_kind",
    "target_id",
    "target_name",
    "actor_kind",
    "actor_id",
    "actor_name",
    "outcome",
    "error",
    "severity",
    "description",
    "changes",
    "ip",
    "user_agent",
    "request_id",
    "trace_id",
    "duration_us",
    "tags",
    "occurred_at",
    "id",
    "chain_hash",
];

/// One tampering of one tenant's chain of `n` records.
#[derive(Debug, Clone, Copy)]
pub enum Tamper {
    /// One column of the record at `position` changed.
    Edit { position: u64, column: &'static str },
    /// One key inside the metadata of the record at `position` changed.
    MetadataKey { position: u64 },
    /// The record at `position` deleted.
    Delete { position: u64 },
    /// A forged record inserted at `position` (with a correctly computed
    /// chain hash when `well_hashed`).
    Forge { position: u64, well_hashed: bool },
    /// The chain positions of two records swapped.
    Swap { first: u64, second: u64 },
    /// Every record from `position` on deleted.
    Truncate { position: u64 },
    /// The chain position of the record at `position` moved past the end.
    Reposition { position: u64 },
}

impl Tamper {
    /// A random tampering of a chain of `n` records.
    pub fn random(rng: &mut fastrand::Rng, n: u64) -> Self {
        let position = rng.u64(1..=n);
        match rng.u8(0..10) {
            0..=3 => Tamper::Edit { position, column: EDITABLE[rng.usize(..EDITABLE.len())] },
            4 => Tamper::MetadataKey { position },
            5 => Tamper::Delete { position },
            6 => Tamper::Forge { position, well_hashed: rng.bool() },
            7 => {
                let other = rng.u64(1..=n);
                let (first, second) = if other == position { (position, position % n + 1) } else { (position, other) };
                Tamper::Swap { first: first.min(second), second: first.max(second) }
            }
            8 => Tamper::Truncate { position },
            _ => Tamper::Reposition { position },
        }
    }

    /// The first position verification must report broken.
    pub fn expected(&self) -> u64 {
        match *self {
            Tamper::Edit { position, .. }
            | Tamper::MetadataKey { position }
            | Tamper::Delete { position }
            | Tamper::Forge { position, .. }
            | Tamper::Truncate { position }
            | Tamper::Reposition { position } => position,
            Tamper::Swap { first, .. } => first,
        }
    }
}

/// The `i`-th record of a test chain for `tenant`: every field set, with
/// metadata holding `queue`.
pub fn record(tenant: &str, i: usize) -> Activity {
    let mut b = Activity::new(["call_created", "user_login", "agent_updated"][i % 3])
        .tenant(tenant)
        .target("call", i)
        .actor(Actor::user(format!("agent-{}", i % 7)).with_name("Ada Lovelace"))
        .description(format!("Inbound call {i} routed to Sales"))
        .meta("queue", "sales")
        .meta("attempt", i % 4)
        .meta("score", 0.5 + i as f64)
        .ip("203.0.113.9")
        .user_agent("curl/8")
        .request_id(format!("req-{i}"))
        .trace_id("4bf92f3577b34da6a3ce929d0e0e4736")
        .duration(std::time::Duration::from_micros(1234 + i as u64))
        .tag("inbound");
    if i.is_multiple_of(5) {
        b = b.change("plan", "free", serde_json::json!({"name": "pro", "seats": 3}));
    }
    b.build().expect("a valid record")
}

/// Tenants of the suite, each with its own chain and one tampering.
pub const TENANTS: usize = 1_000;

/// Records per tenant's chain.
pub const PER_TENANT: usize = 20;

/// The name of tenant `i`.
pub fn tenant(i: usize) -> String {
    format!("tenant-{i:04}")
}

/// Writes the suite's log into `store` as two application instances would
/// at once: half of it through a logger on `store`, the other half
/// directly into `other` (a second sink on the same database), then every
/// record again into `other` as an idempotent replay.
pub async fn write_log<S: Sink + Clone>(store: S, other: S) {
    let logger = ActivityLogger::builder().sink(store).batch_size(2_000).build().expect("logger");
    let records: Vec<Activity> =
        (0..PER_TENANT).flat_map(|i| (0..TENANTS).map(move |t| record(&tenant(t), i))).collect();
    let (mine, theirs) = records.split_at(records.len() / 2);
    let replay = async {
        for chunk in theirs.chunks(1_500) {
            other.write_batch(chunk).await.expect("second writer's batch");
        }
        // Idempotent replays: the same records again, and some of the
        // first writer's too.
        for chunk in records.chunks(3_000) {
            other.write_batch(chunk).await.expect("replayed batch");
        }
    };
    let log = async {
        for a in mine {
            logger.log_async(a.clone());
        }
        logger.flush().await.expect("flush");
    };
    tokio::join!(replay, log);
    logger.shutdown(Duration::from_secs(10)).await;
}

/// Signs a checkpoint of every tenant's chain, exports and reads it back,
/// and checks that the clean log verifies against it with no false alarm.
pub async fn checkpoints_of_a_clean_log(store: &impl ChainedStore) -> BTreeMap<usize, Checkpoint> {
    let signer = CheckpointSigner::generate().expect("key");
    let mut checkpoints = BTreeMap::new();
    for t in 0..TENANTS {
        let c = store.checkpoint(Some(&tenant(t)), &signer).await.expect("checkpoint");
        assert_eq!(c.position, PER_TENANT as u64, "replays did not advance the chain");
        let c = Checkpoint::from_json(&c.to_json()).expect("exported checkpoint reads back");
        checkpoints.insert(t, c);
    }
    for (t, c) in &checkpoints {
        let report = store.verify(Some(&tenant(*t)), c).await.expect("verify");
        assert!(report.is_intact(), "false alarm: {report}");
        assert_eq!(report.intact, PER_TENANT as u64);
    }
    checkpoints
}

/// One random tampering per tenant (seeded, so a failure reproduces).
pub fn plan() -> BTreeMap<usize, Tamper> {
    let mut rng = fastrand::Rng::with_seed(13);
    (0..TENANTS).map(|t| (t, Tamper::random(&mut rng, PER_TENANT as u64))).collect()
}

/// Checks that verification against each tenant's checkpoint finds the
/// tampering of `plan` at the position it was made.
pub async fn assert_every_tampering_found(
    store: &impl ChainedStore,
    checkpoints: &BTreeMap<usize, Checkpoint>,
    plan: &BTreeMap<usize, Tamper>,
) {
    for (t, tamper) in plan {
        let report = store.verify(Some(&tenant(*t)), &checkpoints[t]).await.expect("verify");
        let found = report.first_break.as_ref().map(|b| b.position);
        assert_eq!(found, Some(tamper.expected()), "{tamper:?}: {report}");
    }
}
