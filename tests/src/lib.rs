//! Cross-crate integration tests for activity-log, and the sinks and
//! helpers they share (in [`sinks`]).

pub mod child;
pub mod conformance;
#[cfg(feature = "postgres")]
pub mod pg;
#[cfg(feature = "postgres")]
pub mod private_pg;
#[cfg(feature = "redis")]
pub mod private_redis;
pub mod sinks;
pub mod tamper;

use activity_log::Stats;

/// Asserts the accounting identity at rest (nothing being logged at the
/// instant of the snapshot): every accepted activity is in exactly one
/// place, `written + dropped + quarantined + failed + spooled + queued ==
/// logged + recovered`.
#[track_caller]
pub fn assert_identity(s: &Stats) {
    assert_identity_while_logging(s, 0);
}

/// The identity for a snapshot taken while up to `callers` threads were
/// inside `log_async`: each of them may have counted an activity as logged
/// and not yet as placed, so the places may be short by at most `callers`,
/// and never over.
#[track_caller]
pub fn assert_identity_while_logging(s: &Stats, callers: u64) {
    let logged = s.logged + s.recovered;
    assert!(
        s.accounted() <= logged && logged - s.accounted() <= callers,
        "accounting identity broken: places sum to {} for {logged} accepted ({callers} callers logging): {s:?}",
        s.accounted()
    );
}
