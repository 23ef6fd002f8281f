//! The tamper suite's plan, shared by the SQLite and PostgreSQL tests:
//! random tamperings of a chained log, each in its own tenant's chain,
//! and the position verification must name for each.

use activity_log::{Activity, Actor};

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
