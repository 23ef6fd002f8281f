//! `#[must_use]`, doc comments, visibility and inner attributes survive.
#![deny(unused_must_use, missing_docs)]

use activity_log::log_activity;

/// A documented function.
#[must_use]
#[log_activity(type = "answered")]
pub fn answer() -> u32 {
    #![allow(clippy::let_and_return)]
    let x = 42;
    x
}

fn main() {
    let _ = answer();
}
