//! Cross-crate integration tests for activity-log, and the sinks and
//! helpers they share (in [`sinks`]).

pub mod conformance;
#[cfg(feature = "postgres")]
pub mod pg;
pub mod sinks;
