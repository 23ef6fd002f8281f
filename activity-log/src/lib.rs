//! # activity-log
//!
//! Activity logging and audit trails for Rust services: record *who did
//! what to which resource, when, from where and with what outcome*, written
//! in the background without slowing requests.
//!
//! ```
//! use activity_log::{Activity, ActivityContext, ActivityLogger, Actor};
//! use std::time::Duration;
//!
//! # #[tokio::main(flavor = "current_thread")] async fn main() -> activity_log::Result<()> {
//! let (logger, sink) = ActivityLogger::in_memory(); // or ActivityLogger::builder().sink(s).build()
//!
//! // Per-request context, usually set by a middleware.
//! let ctx = ActivityContext::new().actor(Actor::user("agent-7")).tenant("acme").ip("203.0.113.9");
//! ctx.scope(async {
//!     logger.log_async(Activity::new("call_created").target("call", 42).description("Inbound call"));
//! }).await;
//!
//! logger.flush().await?;
//! let call = sink.assert_logged("call_created");
//! assert_eq!(call.tenant.as_deref(), Some("acme"));
//!
//! let report = logger.shutdown(Duration::from_secs(5)).await;
//! assert_eq!(report.unwritten, 0);
//! # Ok(()) }
//! ```
//!
//! The pieces:
//! - [`Activity`] — the record, built with [`Activity::new`] and validated
//!   against documented [`limits`].
//! - [`ActivityContext`] — ambient actor, tenant, ip, user agent and request
//!   id, task-local.
//! - [`ActivityLogger`] — the non-blocking handle: a bounded queue and a
//!   worker thread that writes batches to a [`Sink`], with retries and
//!   quarantine of bad records; [`log_async`] and [`set_global`] for the
//!   process-wide logger.
//! - [`MemorySink`] — for tests; [`FanoutSink`] — several sinks at once.
//! - [`Redactor`] — secrets are masked before an activity is queued: by
//!   key, and credentials inside any text (the table in its docs).
//! - [`query`] — one read API on every store: filters, pages, statistics,
//!   exports, retention.
//!
//! ## Features
//!
//! | feature | what it adds |
//! |---|---|
//! | `macros` (default) | `#[log_activity]` |
//! | `sqlite` | [`sqlite::SqliteSink`]: the embedded store |
//! | `postgres` | [`postgres::PostgresSink`]: the production store |
//! | `postgres-rustls` | `postgres` over TLS, with rustls and the Mozilla root certificates |
//! | `axum` | [`http`]: a tower layer filling the context from requests, and an axum router serving the log (query, stats, export, live tail, ingest, retention, viewer page) |
//! | `redis` | [`redis`]: Redis Streams between many app instances and the store, and a live feed spanning them |
//!
//! With `postgres-rustls`, TLS is asked for in the URL: `sslmode=require`
//! encrypts, `sslmode=verify-full` also checks the server's certificate and
//! host name (`sslrootcert=/path/ca.pem` for a private CA). Without the
//! feature, a URL asking for TLS fails to connect.
//!
//! ```no_run
//! # #[cfg(feature = "postgres")]
//! # async fn connect() -> Result<(), Box<dyn std::error::Error>> {
//! use activity_log::postgres::PostgresSink;
//!
//! let store = PostgresSink::connect("postgres://app:secret@db.example.com:5432/app?sslmode=require").await?;
//! # let _ = store; Ok(()) }
//! ```

#![cfg_attr(docsrs, feature(doc_cfg))]
#![warn(missing_docs)]
#![cfg_attr(not(test), warn(clippy::unwrap_used))]

#[doc(hidden)]
#[path = "macro_support.rs"]
pub mod __macro_support;
mod activity;
mod context;
mod error;
mod global;
#[cfg(feature = "axum")]
#[cfg_attr(docsrs, doc(cfg(feature = "axum")))]
pub mod http;
pub mod integrity;
#[cfg(any(feature = "axum", feature = "postgres"))]
mod ip_text;
mod logger;
#[cfg(feature = "postgres")]
#[cfg_attr(docsrs, doc(cfg(feature = "postgres")))]
pub mod postgres;
pub mod query;
mod redact;
#[cfg(feature = "redis")]
#[cfg_attr(docsrs, doc(cfg(feature = "redis")))]
pub mod redis;
mod sink;
mod spool;
#[cfg(any(feature = "sqlite", feature = "postgres"))]
mod sql;
#[cfg(feature = "sqlite")]
#[cfg_attr(docsrs, doc(cfg(feature = "sqlite")))]
pub mod sqlite;
#[cfg(any(feature = "sqlite", feature = "postgres"))]
mod transaction;
mod uuid_v7;

pub use activity::{
    limits, Activity, ActivityBuilder, Actor, ActorKind, Change, IntoActivity, Outcome, Severity, Target,
    ValidationError,
};
pub use context::ActivityContext;
pub use error::{DatabaseError, DatabaseErrorKind, Error, Result};
pub use global::{current, log, log_async, set_global, try_log_async, unlogged_count, with_current};
pub use logger::{
    ActivityLogger, ActivityLoggerBuilder, DeadLetterHook, Durability, OverflowPolicy, ShutdownReport, Stats,
};
pub use redact::{redact_text, Redactor, DEFAULT_SENSITIVE_KEYS, REDACTED};
pub use sink::{FanoutSink, MemorySink, NullSink, Sink, SinkError, SinkErrorKind};
#[cfg(any(feature = "sqlite", feature = "postgres"))]
#[cfg_attr(docsrs, doc(cfg(any(feature = "sqlite", feature = "postgres"))))]
pub use transaction::{log_in, InTransaction};

pub(crate) use activity::validate;

/// Re-exported so that sinks can be written without depending on
/// `async-trait` directly.
pub use async_trait::async_trait;

/// Re-exported: the id type of [`Activity::id`].
pub use uuid::Uuid;

#[cfg(feature = "macros")]
#[cfg_attr(docsrs, doc(cfg(feature = "macros")))]
pub use activity_log_macros::*;

/// The README's examples, compiled and run as doc-tests.
#[cfg(doctest)]
#[doc = include_str!("../../README.md")]
pub struct ReadmeDoctests;
