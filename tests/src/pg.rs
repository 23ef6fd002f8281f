//! PostgreSQL test schemas: each test works in a schema of its own, made
//! fresh and dropped at the end (also when the test panics), so tests run
//! in parallel and leave nothing behind.
//!
//! The server comes from `DATABASE_URL`, read by [`dev_env`]: with `CI=true`
//! it defaults to [`dev_env::CI_DATABASE_URL`] and an unreachable server
//! fails the test; without CI and without a reachable server the tests are
//! skipped, saying so once.

use activity_log::postgres::{PostgresSink, PostgresSinkBuilder};
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::{ConnectOptions, Connection, Executor, PgConnection};
use std::io::Write;
use std::str::FromStr;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

/// Says once per test binary why the PostgreSQL tests are skipped (written
/// to stderr directly, so the test harness does not capture it).
fn skip(why: &str) {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let _ = writeln!(std::io::stderr(), "PostgreSQL tests skipped ({why}): {}", dev_env::HOW_TO_RUN);
    });
}

/// A fresh schema for one test, dropped when this is dropped.
#[derive(Debug)]
pub struct TestSchema {
    /// The schema's name.
    pub name: String,
    base: PgConnectOptions,
}

impl TestSchema {
    /// Creates a uniquely named schema, or returns `None` (after saying
    /// why) when no server is configured or reachable outside CI.
    pub async fn create(label: &str) -> Option<Self> {
        let url = match dev_env::postgres() {
            dev_env::Postgres::Use(url) => url,
            dev_env::Postgres::Skip(why) => {
                skip(why);
                return None;
            }
        };
        let base = PgConnectOptions::from_str(&url).expect("DATABASE_URL is a valid postgres:// URL");
        let mut conn = match tokio::time::timeout(Duration::from_secs(10), base.connect()).await {
            Ok(Ok(conn)) => conn,
            Ok(Err(e)) => {
                skip(&dev_env::unreachable("the PostgreSQL tests", e));
                return None;
            }
            Err(_) => {
                skip(&dev_env::unreachable("the PostgreSQL tests", "connecting timed out after 10 s"));
                return None;
            }
        };
        static SEQ: AtomicU32 = AtomicU32::new(0);
        let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default().as_nanos();
        let label: String = label.chars().filter(|c| c.is_ascii_alphanumeric() || *c == '_').take(30).collect();
        let name =
            format!("al_{label}_{}_{}_{}", std::process::id(), SEQ.fetch_add(1, Ordering::Relaxed), nanos % 1_000_000)
                .to_lowercase();
        conn.execute(format!("CREATE SCHEMA \"{name}\"").as_str()).await.expect("create the test schema");
        let _ = conn.close().await;
        Some(Self { name, base })
    }

    /// Connect options whose `search_path` is this schema (and whose
    /// `application_name` is its name, to find the test's connections).
    pub fn options(&self) -> PgConnectOptions {
        self.base.clone().options([("search_path", self.name.as_str())]).application_name(&self.name)
    }

    /// A connection outside the schema's pools, e.g. to terminate them.
    pub async fn admin(&self) -> PgConnection {
        self.base.connect().await.expect("connect")
    }

    /// A small pool in this schema.
    pub async fn pool(&self) -> PgPool {
        PgPoolOptions::new().max_connections(3).connect_with(self.options()).await.expect("connect to the test schema")
    }

    /// A sink in this schema, configured by `builder`.
    pub async fn sink_with(&self, builder: PostgresSinkBuilder) -> PostgresSink {
        builder.reader_connections(3).connect_with(self.options()).await.expect("PostgresSink connects and migrates")
    }

    /// A sink in this schema with the default settings.
    pub async fn sink(&self) -> PostgresSink {
        self.sink_with(PostgresSink::builder()).await
    }
}

impl Drop for TestSchema {
    /// Drops the schema from a thread of its own (drop cannot await, and
    /// may run inside a runtime or while unwinding).
    fn drop(&mut self) {
        let base = self.base.clone();
        let sql = format!("DROP SCHEMA IF EXISTS \"{}\" CASCADE", self.name);
        let done = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().ok()?;
            runtime.block_on(async move {
                let mut conn: PgConnection = base.connect().await.ok()?;
                // Wait out connections of the test still closing.
                conn.execute("SET lock_timeout = '30s'").await.ok()?;
                conn.execute(sql.as_str()).await.ok()?;
                conn.close().await.ok()
            })
        })
        .join();
        if !matches!(done, Ok(Some(()))) {
            let _ = writeln!(std::io::stderr(), "warning: could not drop test schema {}", self.name);
        }
    }
}
