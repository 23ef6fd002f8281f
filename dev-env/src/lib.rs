//! The environment the workspace's tests, benchmarks and examples read,
//! read in one place so that they cannot drift apart:
//!
//! - `DATABASE_URL`: the PostgreSQL server to use;
//! - `CI`: `true` (or `1`) on CI, where a missing or unreachable server is a
//!   failure and [`CI_DATABASE_URL`] is the default; elsewhere the
//!   PostgreSQL tests, benchmarks and example print why they are skipped.
//!
//! No dependencies: connecting is the caller's business; this crate only
//! says which server, and whether failing to reach it fails the run.
//!
//! ```
//! match dev_env::postgres() {
//!     dev_env::Postgres::Use(url) => assert!(url.starts_with("postgres")),
//!     dev_env::Postgres::Skip(why) => println!("PostgreSQL skipped ({why}): {}", dev_env::HOW_TO_RUN),
//! }
//! ```

#![warn(missing_docs)]

use std::fmt::Display;

/// The server CI starts (`.ci/run`), used under `CI=true` when
/// `DATABASE_URL` is not set.
pub const CI_DATABASE_URL: &str = "postgres://postgres@127.0.0.1:5432/test";

/// How to run what was skipped.
pub const HOW_TO_RUN: &str = "set DATABASE_URL=postgres://postgres@127.0.0.1:5432/test \
     (or CI=true, which also makes an unreachable server fail) to run it";

/// Whether this is a CI run (`CI` is `true` or `1`, in any case).
pub fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v.eq_ignore_ascii_case("true") || v == "1")
}

/// Which PostgreSQL server to use, if any.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Postgres {
    /// Connect to this URL.
    Use(String),
    /// No server is configured (and this is not CI): skip, saying why.
    Skip(&'static str),
}

/// `DATABASE_URL` when set and not empty, else [`CI_DATABASE_URL`] under
/// CI, else [`Postgres::Skip`].
pub fn postgres() -> Postgres {
    match std::env::var("DATABASE_URL") {
        Ok(url) if !url.trim().is_empty() => Postgres::Use(url),
        _ if in_ci() => Postgres::Use(CI_DATABASE_URL.to_owned()),
        _ => Postgres::Skip("DATABASE_URL is not set"),
    }
}

/// [`postgres`] as an `Option`: the URL, or `None` to skip.
pub fn database_url() -> Option<String> {
    match postgres() {
        Postgres::Use(url) => Some(url),
        Postgres::Skip(_) => None,
    }
}

/// Connecting to the server failed: under CI that fails the run (this
/// panics, naming `what` and the error); elsewhere it returns the reason to
/// print before skipping.
///
/// ```
/// let why = std::panic::catch_unwind(|| dev_env::unreachable("the tests", "connection refused"));
/// if !dev_env::in_ci() {
///     assert_eq!(why.unwrap(), "cannot connect: connection refused");
/// }
/// ```
#[track_caller]
pub fn unreachable(what: &str, error: impl Display) -> String {
    assert!(!in_ci(), "CI=true but PostgreSQL at DATABASE_URL is unreachable for {what}: {error}");
    format!("cannot connect: {error}")
}

#[cfg(test)]
mod tests {
    use super::*;

    // One test: the environment is process-wide.
    #[test]
    fn reads_database_url_and_ci() {
        let saved = (std::env::var("DATABASE_URL").ok(), std::env::var("CI").ok());
        std::env::remove_var("DATABASE_URL");
        std::env::remove_var("CI");
        assert_eq!(postgres(), Postgres::Skip("DATABASE_URL is not set"));
        assert_eq!(unreachable("x", "refused"), "cannot connect: refused");
        std::env::set_var("CI", "true");
        assert_eq!(postgres(), Postgres::Use(CI_DATABASE_URL.to_owned()));
        assert!(std::panic::catch_unwind(|| unreachable("x", "refused")).is_err());
        std::env::set_var("DATABASE_URL", "postgres://u@h/db");
        assert_eq!(database_url().as_deref(), Some("postgres://u@h/db"));
        std::env::set_var("CI", "1");
        assert!(in_ci());
        std::env::set_var("CI", "false");
        std::env::set_var("DATABASE_URL", "");
        assert_eq!(database_url(), None);
        for (name, value) in [("DATABASE_URL", saved.0), ("CI", saved.1)] {
            match value {
                Some(v) => std::env::set_var(name, v),
                None => std::env::remove_var(name),
            }
        }
    }
}
