//! PostgreSQL write throughput, in one run on the same server and table
//! shape (partitioned, primary key + the sink's secondary indexes):
//! (a) 200,000 activities through the logger end to end, (b) one
//! autocommit `INSERT` per row (what hand-written activity services do; a
//! 20,000-row sample), (c) a raw `COPY` of the same rows, the database's
//! practical limit.
//!
//! `cargo bench -p activity-log-benches --bench pg_write` prints
//! `BENCH pg_logger_eps=... pg_row_insert_eps=... pg_copy_eps=... ratio_vs_copy=... ratio_vs_row=...`.
//! Without `--bench` it runs a small smoke version; without `DATABASE_URL`
//! it says so and exits.

#[path = "pg_common.rs"]
mod pg_common;

use activity_log::postgres::PostgresSink;
use activity_log::{Activity, ActivityLogger};
use activity_log_benches::{eps, log_all_and_flush};
use chrono::SecondsFormat;
use pg_common::{activities, database_url, Scratch};
use sqlx::PgPool;
use std::time::Instant;

const COLUMNS: &str = "id, occurred_at, tenant, activity_type, target_kind, target_id, target_name, actor_kind, \
     actor_id, actor_name, outcome, error, severity, description, description_folded, metadata, changes, ip, \
     ip_text, user_agent, request_id, trace_id, duration_us, tags";

/// (a) The logger, as an application uses it: log_async, then flush.
async fn through_logger(store: &PostgresSink, rows: &[Activity], batch: usize) -> f64 {
    let logger = ActivityLogger::builder()
        .sink(store.clone())
        .batch_size(batch)
        .queue_capacity(rows.len() + 1)
        .queue_max_bytes(1 << 30)
        .build()
        .expect("logger builds");
    log_all_and_flush(logger, rows).await
}

fn opt(v: Option<&str>) -> Option<String> {
    v.map(str::to_owned)
}

/// (b) One autocommit INSERT per row.
async fn row_by_row(pool: &PgPool, rows: &[Activity]) -> f64 {
    let sql = format!(
        "INSERT INTO activities ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, \
         $15, $16::jsonb, $17::jsonb, $18::inet, $19, $20, $21, $22, $23, $24::jsonb)"
    );
    let mut conn = pool.acquire().await.expect("connection");
    let start = Instant::now();
    for a in rows {
        let target = a.target.as_ref();
        let actor = a.actor.as_ref();
        sqlx::query(&sql)
            .bind(a.id)
            .bind(a.occurred_at)
            .bind(a.tenant.as_deref())
            .bind(&a.activity_type)
            .bind(target.map(|t| t.kind.as_str()))
            .bind(target.and_then(|t| t.id.as_deref()))
            .bind(target.and_then(|t| t.name.as_deref()))
            .bind(actor.map(|x| x.kind.as_str()))
            .bind(actor.and_then(|x| opt(x.id.as_deref())))
            .bind(actor.and_then(|x| opt(x.name.as_deref())))
            .bind(a.outcome.as_str())
            .bind(a.error.as_deref())
            .bind(a.severity.as_str())
            .bind(a.description.as_deref())
            .bind(a.description.as_deref().map(str::to_lowercase))
            .bind(serde_json::to_string(&a.metadata).ok())
            .bind(Option::<String>::None)
            .bind(a.ip.as_deref())
            .bind(Option::<String>::None)
            .bind(a.user_agent.as_deref())
            .bind(a.request_id.as_deref())
            .bind(a.trace_id.as_deref())
            .bind(a.duration.map(|d| d.as_micros() as i64))
            .bind(Option::<String>::None)
            .execute(&mut *conn)
            .await
            .expect("insert");
    }
    eps(rows.len(), start.elapsed())
}

/// Appends a COPY text field (escaped; `\N` for NULL).
fn field(out: &mut String, v: Option<&str>) {
    match v {
        None => out.push_str("\\N"),
        Some(s) => {
            for c in s.chars() {
                match c {
                    '\\' => out.push_str("\\\\"),
                    '\t' => out.push_str("\\t"),
                    '\n' => out.push_str("\\n"),
                    '\r' => out.push_str("\\r"),
                    c => out.push(c),
                }
            }
        }
    }
    out.push('\t');
}

/// The rows in COPY text format, built before timing.
fn copy_text(rows: &[Activity]) -> String {
    let mut out = String::with_capacity(rows.len() * 400);
    for a in rows {
        let target = a.target.as_ref();
        let actor = a.actor.as_ref();
        let meta = serde_json::to_string(&a.metadata).ok();
        let folded = a.description.as_deref().map(str::to_lowercase);
        let duration = a.duration.map(|d| d.as_micros().to_string());
        field(&mut out, Some(&a.id.to_string()));
        field(&mut out, Some(&a.occurred_at.to_rfc3339_opts(SecondsFormat::Micros, true)));
        field(&mut out, a.tenant.as_deref());
        field(&mut out, Some(&a.activity_type));
        field(&mut out, target.map(|t| t.kind.as_str()));
        field(&mut out, target.and_then(|t| t.id.as_deref()));
        field(&mut out, target.and_then(|t| t.name.as_deref()));
        field(&mut out, actor.map(|x| x.kind.as_str()));
        field(&mut out, actor.and_then(|x| x.id.as_deref()));
        field(&mut out, actor.and_then(|x| x.name.as_deref()));
        field(&mut out, Some(a.outcome.as_str()));
        field(&mut out, a.error.as_deref());
        field(&mut out, Some(a.severity.as_str()));
        field(&mut out, a.description.as_deref());
        field(&mut out, folded.as_deref());
        field(&mut out, meta.as_deref());
        field(&mut out, None);
        field(&mut out, a.ip.as_deref());
        field(&mut out, None);
        field(&mut out, a.user_agent.as_deref());
        field(&mut out, a.request_id.as_deref());
        field(&mut out, a.trace_id.as_deref());
        field(&mut out, duration.as_deref());
        field(&mut out, None);
        out.pop();
        out.push('\n');
    }
    out
}

/// (c) A raw COPY of the rows on one connection.
async fn raw_copy(pool: &PgPool, rows: &[Activity]) -> f64 {
    let text = copy_text(rows);
    let mut conn = pool.acquire().await.expect("connection");
    let start = Instant::now();
    let mut copy = conn.copy_in_raw(&format!("COPY activities ({COLUMNS}) FROM STDIN")).await.expect("copy");
    for chunk in text.as_bytes().chunks(1 << 20) {
        copy.send(chunk).await.expect("copy data");
    }
    let n = copy.finish().await.expect("copy finish");
    assert_eq!(n, rows.len() as u64);
    eps(rows.len(), start.elapsed())
}

fn main() {
    let Some(url) = database_url() else {
        println!("pg_write: skipped; {}", dev_env::HOW_TO_RUN);
        return;
    };
    let full = std::env::args().any(|a| a == "--bench");
    let (n, n_row, runs) = if full { (200_000, 20_000, 3) } else { (2_000, 200, 1) };
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime");
    runtime.block_on(async {
        let (mut logger_runs, mut copy_runs) = (Vec::new(), Vec::new());
        let mut row_eps = 0.0;
        for run in 0..runs {
            let rows = activities(n, run);
            // Each method into a fresh, identical table.
            if run == 0 {
                let scratch = Scratch::create(&url, "row").await;
                let store = scratch.sink(PostgresSink::builder()).await;
                row_eps = row_by_row(store.pool(), &rows[..n_row]).await;
                store.close().await;
                scratch.drop_now().await;
            }
            let scratch = Scratch::create(&url, "copy").await;
            let store = scratch.sink(PostgresSink::builder()).await;
            copy_runs.push(raw_copy(store.pool(), &rows).await);
            store.close().await;
            scratch.drop_now().await;

            let scratch = Scratch::create(&url, "logger").await;
            let store = scratch.sink(PostgresSink::builder()).await;
            logger_runs.push(through_logger(&store, &rows, 8192).await);
            store.close().await;
            scratch.drop_now().await;
            println!(
                "run {run}: logger {:.0}/s, copy {:.0}/s, row-by-row {row_eps:.0}/s",
                logger_runs[run as usize], copy_runs[run as usize]
            );
        }
        let median = |v: &mut Vec<f64>| {
            v.sort_by(f64::total_cmp);
            v[v.len() / 2]
        };
        let (logger, copy) = (median(&mut logger_runs), median(&mut copy_runs));
        println!(
            "BENCH pg_logger_eps={logger:.0} pg_row_insert_eps={row_eps:.0} pg_copy_eps={copy:.0} \
             ratio_vs_copy={:.3} ratio_vs_row={:.1}",
            logger / copy,
            logger / row_eps
        );
    });
}
