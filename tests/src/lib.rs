//! Cross-crate integration tests for activity-log, and the sinks and
//! helpers they share (in [`sinks`]).

pub mod conformance;
#[cfg(feature = "postgres")]
pub mod pg;
#[cfg(feature = "postgres")]
pub mod private_pg;
pub mod sinks;
