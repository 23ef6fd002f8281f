//! The drainer's counters.

use serde::{Deserialize, Serialize};

/// What a [`StreamDrainer`](super::StreamDrainer) did, counted exactly:
/// each entry it got (read new, re-read from its own pending list, or
/// claimed from another consumer) is in exactly one place,
///
/// `read + redelivered + claimed == acknowledged + acked_elsewhere + released + in_hand`,
///
/// and a snapshot (taken under one lock) always balances.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct DrainerStats {
    /// New entries read (`XREADGROUP >`).
    pub read: u64,
    /// Entries of this consumer's own pending list read again (after a
    /// reconnect, or by a restarted drainer of the same name).
    pub redelivered: u64,
    /// Entries claimed from other consumers (`XAUTOCLAIM`).
    pub claimed: u64,
    /// Activities the store acknowledged (counted per write; a write
    /// repeated after a lost acknowledgement counts again, the store
    /// keeps it once).
    pub written: u64,
    /// Store writes that failed transiently and were retried.
    pub retried: u64,
    /// Entries this drainer retired with `XACK` (written or
    /// dead-lettered).
    pub acknowledged: u64,
    /// Entries this drainer processed that another consumer had already
    /// acknowledged (it claimed them while this one was slow).
    pub acked_elsewhere: u64,
    /// Entries moved to the dead-letter stream (the store rejected them
    /// permanently, or they held no activity). Included in `acknowledged`.
    pub dead_lettered: u64,
    /// Entries given back unacknowledged (Redis failed mid-step, or the
    /// drainer stopped): they stay pending for the group.
    pub released: u64,
    /// Entries held right now: read, not yet acknowledged or released.
    pub in_hand: u64,
    /// Entries removed from the streams by this drainer's trims.
    pub trimmed: u64,
    /// Pending entries found deleted from the stream (by someone else's
    /// trim) before anyone acknowledged them: lost before the store.
    pub vanished: u64,
    /// Redis commands that failed (each followed by a reconnect and retry).
    pub redis_errors: u64,
}

impl DrainerStats {
    /// Adds up the counters of several drainers.
    pub fn sum<'a>(all: impl IntoIterator<Item = &'a DrainerStats>) -> DrainerStats {
        all.into_iter().fold(DrainerStats::default(), |a, b| DrainerStats {
            read: a.read + b.read,
            redelivered: a.redelivered + b.redelivered,
            claimed: a.claimed + b.claimed,
            written: a.written + b.written,
            retried: a.retried + b.retried,
            acknowledged: a.acknowledged + b.acknowledged,
            acked_elsewhere: a.acked_elsewhere + b.acked_elsewhere,
            dead_lettered: a.dead_lettered + b.dead_lettered,
            released: a.released + b.released,
            in_hand: a.in_hand + b.in_hand,
            trimmed: a.trimmed + b.trimmed,
            vanished: a.vanished + b.vanished,
            redis_errors: a.redis_errors + b.redis_errors,
        })
    }

    /// Whether the identity in the type's docs holds.
    pub fn balances(&self) -> bool {
        self.read + self.redelivered + self.claimed
            == self.acknowledged + self.acked_elsewhere + self.released + self.in_hand
    }
}
