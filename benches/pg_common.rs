//! Shared by the PostgreSQL benchmarks: the server, a scratch schema, and
//! realistic rows. Included with `#[path]` (benches are single files).

#![allow(dead_code)] // each benchmark uses part of it

use activity_log::postgres::{PostgresSink, PostgresSinkBuilder};
use activity_log::{Activity, Actor, Outcome, Severity};
use chrono::{Duration as ChronoDuration, Utc};
use sqlx::postgres::{PgConnectOptions, PgPool};
use sqlx::{ConnectOptions, Connection, Executor};
use std::str::FromStr;

/// `DATABASE_URL`, or CI's server under `CI=true`; `None` says to skip.
pub use dev_env::database_url;

/// A scratch schema, dropped by [`Scratch::drop_now`].
pub struct Scratch {
    pub name: String,
    base: PgConnectOptions,
}

impl Scratch {
    pub async fn create(url: &str, label: &str) -> Self {
        let base = PgConnectOptions::from_str(url).expect("DATABASE_URL is a postgres:// URL");
        let name = format!("al_bench_{label}_{}", std::process::id());
        let mut conn = base.connect().await.expect("connect to DATABASE_URL");
        conn.execute(format!("DROP SCHEMA IF EXISTS {name} CASCADE; CREATE SCHEMA {name}").as_str())
            .await
            .expect("create the bench schema");
        let _ = conn.close().await;
        Self { name, base }
    }

    pub fn options(&self) -> PgConnectOptions {
        self.base.clone().options([("search_path", self.name.as_str())])
    }

    /// A migrated sink in the schema, with today's partitions.
    pub async fn sink(&self, builder: PostgresSinkBuilder) -> PostgresSink {
        let sink = builder.connect_with(self.options()).await.expect("PostgresSink connects");
        sink.create_partitions(Utc::now() - ChronoDuration::days(40), Utc::now()).await.expect("partitions");
        sink
    }

    pub async fn drop_now(self) {
        let mut conn = self.base.connect().await.expect("connect");
        conn.execute(format!("DROP SCHEMA IF EXISTS {} CASCADE", self.name).as_str()).await.expect("drop schema");
        let _ = conn.close().await;
    }
}

/// `n` realistic activities of a voice/chat agent backend (about 330
/// bytes each as a row), over the last day.
pub fn activities(n: usize, seed: u64) -> Vec<Activity> {
    let mut rng = fastrand::Rng::with_seed(seed);
    let now = Utc::now();
    let types = [
        ("call_created", "call"),
        ("call_ended", "call"),
        ("chat_message_sent", "chat"),
        ("agent_updated", "agent"),
        ("connector_added", "connector"),
        ("user_login", "session"),
    ];
    (0..n)
        .map(|i| {
            let (t, kind) = types[rng.usize(..types.len())];
            let mut b = Activity::new(t)
                .tenant(format!("tenant-{:02}", rng.u8(0..20)))
                .target(kind, rng.u32(1..100_000))
                .actor(Actor::user(format!("agent-{}", rng.u8(1..50))).with_name("Ada Lovelace"))
                .occurred_at(now - ChronoDuration::milliseconds(rng.i64(0..86_400_000)))
                .description("Inbound call from +1 555 0100 routed to queue Sales")
                .meta("queue", ["sales", "support", "billing"][rng.usize(..3)])
                .meta("attempt", rng.u8(1..4))
                .ip(format!("203.0.113.{}", rng.u8(1..255)))
                .user_agent("Mozilla/5.0 (X11; Linux x86_64)")
                .request_id(format!("req-{}", i / 3))
                .duration(std::time::Duration::from_micros(rng.u64(100..2_000_000)));
            if rng.u8(0..10) == 0 {
                b = b.outcome(Outcome::Failure).error("upstream timed out").severity(Severity::Error);
            }
            b.build().expect("valid")
        })
        .collect()
}

/// Writes `rows` synthetic activities over the last 30 days straight in SQL
/// (`tenant-00` holds half of them, nineteen other tenants the rest).
pub async fn seed_sql(pool: &PgPool, rows: i64) {
    sqlx::query(
        "INSERT INTO activities (id, occurred_at, tenant, activity_type, target_kind, target_id, actor_kind, \
         actor_id, outcome, severity, description, description_folded, metadata, ip, user_agent, request_id) \
         SELECT gen_random_uuid(), now() - (g * (2592000.0 / $1)) * INTERVAL '1 second', \
         CASE WHEN g % 2 = 0 THEN 'tenant-00' ELSE 'tenant-' || lpad((g % 20)::text, 2, '0') END, \
         'type_' || (g % 12), 'call', (g % 5000)::text, 'user', \
         'agent-' || (g % 50), CASE WHEN g % 10 = 0 THEN 'failure' ELSE 'success' END, 'info', \
         'Inbound call routed to queue Sales', 'inbound call routed to queue sales', \
         jsonb_build_object('queue', 'sales', 'attempt', g % 3), '203.0.113.9', 'Mozilla/5.0', 'req-' || g \
         FROM generate_series(1, $1) AS g",
    )
    .bind(rows)
    .execute(pool)
    .await
    .expect("seed");
}
