//! SQLite write throughput: 200,000 activities through the logger into a
//! file database (WAL, synchronous=NORMAL), against two baselines on the
//! same table in the same run: one autocommit `INSERT` per row (what
//! hand-written activity services do; a 20,000-row sample), and the
//! fastest raw batched insert we could write (the best of several
//! statement and transaction sizes).
//!
//! `cargo bench -p activity-log-benches --bench sqlite_write` prints
//! `BENCH sqlite_logger_eps=... sqlite_row_insert_eps=... sqlite_raw_batch_eps=... ratio_vs_raw=...`.
//! Without `--bench` (e.g. under `cargo test --all-targets`) it runs a
//! small smoke version.

use activity_log::sqlite::SqliteSink;
use activity_log::{Activity, ActivityLogger, Actor, Outcome};
use activity_log_benches::{eps, log_all_and_flush};
use chrono::{Duration as ChronoDuration, Utc};
use sqlx::{QueryBuilder, Sqlite, SqlitePool};
use std::time::Instant;

const COLUMNS: &str = "id, occurred_at, tenant, activity_type, target_kind, target_id, target_name, actor_kind, \
     actor_id, actor_name, outcome, error, severity, description, description_folded, metadata, changes, ip, \
     user_agent, request_id, trace_id, duration_us, tags";

fn activities(n: usize) -> Vec<Activity> {
    let mut rng = fastrand::Rng::with_seed(42);
    let now = Utc::now();
    let types = ["call_created", "call_ended", "chat_message_sent", "agent_updated", "connector_added", "user_login"];
    (0..n)
        .map(|i| {
            let t = types[rng.usize(..types.len())];
            let mut b = Activity::new(t)
                .tenant(["acme", "globex", "initech"][i % 3])
                .target(t.split('_').next().unwrap_or("call"), rng.u32(1..100_000))
                .actor(Actor::user(format!("agent-{}", rng.u8(1..50))))
                .occurred_at(now - ChronoDuration::milliseconds(rng.i64(0..86_400_000)))
                .description("Inbound call from +1 555 0100 routed to queue Sales")
                .meta("queue", "sales")
                .meta("attempt", rng.u8(1..4))
                .ip("203.0.113.9")
                .request_id(format!("req-{}", i / 3));
            if rng.u8(0..10) == 0 {
                b = b.outcome(Outcome::Failure).error("upstream timed out");
            }
            b.build().expect("valid")
        })
        .collect()
}

async fn fresh(dir: &std::path::Path, name: &str) -> SqliteSink {
    let url = format!("sqlite://{}", dir.join(name).display());
    SqliteSink::connect(&url).await.expect("connect")
}

/// The logger, as an application uses it: log_async, then flush.
async fn through_logger(dir: &std::path::Path, rows: &[Activity], batch: usize, trial: usize) -> f64 {
    let store = fresh(dir, &format!("logger-{batch}-{trial}.db")).await;
    let builder = ActivityLogger::builder().sink(store.clone()).queue_capacity(rows.len() + 1);
    // 0: the default batch size.
    let builder = if batch == 0 { builder } else { builder.batch_size(batch) };
    let logger = builder.build().expect("logger builds");
    let rate = log_all_and_flush(logger, rows).await;
    store.close().await;
    rate
}

/// Binds one activity's columns the way any hand-written insert would.
fn push_row<'a>(b: &mut sqlx::query_builder::Separated<'_, 'a, Sqlite, &'static str>, a: &'a Activity) {
    let target = a.target.as_ref();
    let actor = a.actor.as_ref();
    let json = |empty: bool, s: String| if empty { None } else { Some(s) };
    b.push_bind(&a.id.as_bytes()[..])
        .push_bind(a.occurred_at.timestamp_micros())
        .push_bind(a.tenant.as_deref())
        .push_bind(a.activity_type.as_str())
        .push_bind(target.map(|t| t.kind.as_str()))
        .push_bind(target.and_then(|t| t.id.as_deref()))
        .push_bind(target.and_then(|t| t.name.as_deref()))
        .push_bind(actor.map(|x| x.kind.as_str()))
        .push_bind(actor.and_then(|x| x.id.as_deref()))
        .push_bind(actor.and_then(|x| x.name.as_deref()))
        .push_bind(a.outcome.as_str())
        .push_bind(a.error.as_deref())
        .push_bind(a.severity.as_str())
        .push_bind(a.description.as_deref())
        .push_bind(a.description.as_deref().map(str::to_lowercase))
        .push_bind(json(a.metadata.is_empty(), serde_json::to_string(&a.metadata).unwrap_or_default()))
        .push_bind(json(a.changes.is_empty(), serde_json::to_string(&a.changes).unwrap_or_default()))
        .push_bind(a.ip.as_deref())
        .push_bind(a.user_agent.as_deref())
        .push_bind(a.request_id.as_deref())
        .push_bind(a.trace_id.as_deref())
        .push_bind(a.duration.map(|d| d.as_micros() as i64))
        .push_bind(json(a.tags.is_empty(), serde_json::to_string(&a.tags).unwrap_or_default()));
}

/// One autocommit INSERT per row.
async fn row_by_row(pool: &SqlitePool, rows: &[Activity]) -> f64 {
    let start = Instant::now();
    for a in rows {
        let mut qb: QueryBuilder<'_, Sqlite> =
            QueryBuilder::new(format!("INSERT INTO activities ({COLUMNS}) VALUES ("));
        push_row(&mut qb.separated(", "), a);
        qb.push(")");
        qb.build().execute(pool).await.expect("insert");
    }
    eps(rows.len(), start.elapsed())
}

/// Multi-row INSERTs of `per_statement` rows, `per_tx` rows per transaction.
async fn raw_batched(pool: &SqlitePool, rows: &[Activity], per_statement: usize, per_tx: usize) -> f64 {
    let start = Instant::now();
    for tx_rows in rows.chunks(per_tx) {
        let mut tx = pool.begin_with("BEGIN IMMEDIATE").await.expect("begin");
        for chunk in tx_rows.chunks(per_statement) {
            let mut qb: QueryBuilder<'_, Sqlite> = QueryBuilder::new(format!("INSERT INTO activities ({COLUMNS}) "));
            qb.push_values(chunk, |mut b, a| push_row(&mut b, a));
            qb.build().execute(&mut *tx).await.expect("insert");
        }
        tx.commit().await.expect("commit");
    }
    eps(rows.len(), start.elapsed())
}

fn main() {
    let full = std::env::args().any(|a| a == "--bench");
    let (n_logger, n_row) = if full { (200_000, 20_000) } else { (2_000, 200) };
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime");
    runtime.block_on(async {
        let dir = tempfile_dir();
        let rows = activities(n_logger);

        let raw_store = fresh(&dir, "row.db").await;
        let row_eps = row_by_row(raw_store.writer_pool(), &rows[..n_row]).await;
        raw_store.close().await;

        // Raw and logger runs alternate, the same number of times each, and
        // the best of each is reported, so that load from other processes
        // hits both alike.
        let mut raw_best = 0f64;
        let mut logger_best = 0f64;
        let trials = if full { 2 } else { 1 };
        for trial in 0..trials {
            for (per_statement, per_tx) in [(256, 10_000), (1_024, 10_000)] {
                let store = fresh(&dir, &format!("raw-{per_statement}-{per_tx}-{trial}.db")).await;
                let r = raw_batched(store.writer_pool(), &rows, per_statement, per_tx).await;
                println!("raw batched: {per_statement} rows/statement, {per_tx} rows/transaction: {r:.0} rows/s");
                raw_best = raw_best.max(r);
                store.close().await;
            }
            for batch in [10_000, 5_000] {
                let r = through_logger(&dir, &rows, batch, trial).await;
                println!("logger: batch_size {batch}: {r:.0} activities/s");
                logger_best = logger_best.max(r);
            }
        }
        // The logger as a newcomer gets it, with the default batch size.
        let default_eps = through_logger(&dir, &rows, 0, trials).await;
        println!("logger: default batch size: {default_eps:.0} activities/s");
        println!(
            "BENCH sqlite_logger_eps={logger_best:.0} sqlite_row_insert_eps={row_eps:.0} sqlite_raw_batch_eps={raw_best:.0} ratio_vs_raw={:.3} sqlite_logger_default_batch_eps={default_eps:.0}",
            logger_best / raw_best
        );
        let _ = std::fs::remove_dir_all(&dir);
    });
}

/// A scratch directory on disk (not tmpfs when `ACTIVITY_LOG_BENCH_DIR`
/// points elsewhere).
fn tempfile_dir() -> std::path::PathBuf {
    let base = std::env::var_os("ACTIVITY_LOG_BENCH_DIR").map(Into::into).unwrap_or_else(std::env::temp_dir);
    let dir = base.join(format!("activity-log-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("bench dir");
    dir
}
