//! The server the viewer's browser tests drive: the activity router with
//! the viewer, over a SQLite file in a temporary directory (or PostgreSQL
//! with `--database-url`), seeded with activities in two tenants.
//!
//! ```text
//! viewer-test-server [--rows N] [--bulk-rows N] [--database-url URL]
//! ```
//!
//! It prints one JSON line on stdout, then serves until its stdin closes:
//!
//! ```json
//! {"api":"http://127.0.0.1:PORT/api/activity","ui":"http://127.0.0.1:PORT/api/activity/ui",
//!  "tenants":{"acme":{"viewer":"alv1_...","ingest":"...","rows":3000},"globex":{...}},
//!  "bulk":{"viewer":"alv1_...","rows":N}}
//! ```
//!
//! `acme` and `globex` hold `--rows` activities each (default 3000) over the
//! last 30 days, among them data changes with before/after values and, in
//! `acme`, one whose description is an HTML payload. `--bulk-rows` adds a
//! third tenant, `bulk`, of that many rows, for the first-rows timing.

use activity_log::http::{ActivityApi, Principal, RateLimits, StaticTokens, ViewerTokens};
use activity_log::query::ActivityStore;
use activity_log::{Activity, ActivityLogger, Actor, Outcome, Severity, Sink};
use chrono::{Duration as Span, Utc};
use serde_json::json;
use std::error::Error;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::AsyncReadExt;

const TENANTS: [&str; 2] = ["acme", "globex"];
const TYPES: [&str; 6] =
    ["call_created", "call_ended", "user_login", "record_updated", "invoice_paid", "settings_changed"];
/// The description of `acme`'s script-injection probe.
const XSS: &str = "<img src=x onerror=alert(1)><script>alert(2)</script>";

struct Options {
    rows: usize,
    bulk_rows: usize,
    database_url: Option<String>,
}

fn options() -> Result<Options, String> {
    let mut o = Options { rows: 3000, bulk_rows: 0, database_url: None };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = || args.next().ok_or_else(|| format!("{arg} needs a value"));
        match arg.as_str() {
            "--rows" => o.rows = value()?.parse().map_err(|_| "--rows must be a whole number")?,
            "--bulk-rows" => o.bulk_rows = value()?.parse().map_err(|_| "--bulk-rows must be a whole number")?,
            "--database-url" => o.database_url = Some(value()?),
            other => return Err(format!("unknown argument {other}")),
        }
    }
    Ok(o)
}

/// The `i`-th of `n` activities of `tenant`: newest first, spread over 30
/// days, a mix of types, actors, outcomes and severities.
fn activity(tenant: &str, i: usize, n: usize) -> Result<Activity, Box<dyn Error>> {
    let at = Utc::now() - Span::seconds(60) - Span::milliseconds((i as i64) * (30 * 86_400_000 / n.max(1) as i64));
    let kind = TYPES[i % TYPES.len()];
    let mut b = Activity::new(kind)
        .tenant(tenant)
        .occurred_at(at)
        .actor(Actor::user(format!("{tenant}-user-{}", i % 7)).with_name(format!("{} user {}", tenant, i % 7)))
        .target(if kind.starts_with("call") { "call" } else { "record" }, i)
        .description(format!("{tenant} activity {i}: {kind}"))
        .request_id(format!("req-{tenant}-{i}"))
        .ip("203.0.113.7")
        .meta("seq", i)
        .meta("tenant_label", format!("{tenant} label"))
        .duration(Duration::from_micros(1500 + (i as u64 % 900) * 10));
    b = match i % 11 {
        3 => b.outcome(Outcome::Failure).error("upstream timed out").severity(Severity::Error),
        7 => b.denied("not allowed").severity(Severity::Warning),
        _ => b,
    };
    if kind == "record_updated" {
        b = b
            .change("status", "open", "closed")
            .change("owner", json!({"id": 7, "name": "Ann"}), json!({"id": 9, "name": "Bob"}))
            .change("priority", i % 5, (i + 1) % 5);
    }
    Ok(b.build()?)
}

async fn seed(store: &dyn Sink, tenant: &str, n: usize) -> Result<(), Box<dyn Error>> {
    let mut batch = Vec::with_capacity(1000);
    for i in 0..n {
        batch.push(activity(tenant, i, n)?);
        if batch.len() == 1000 {
            store.write_batch(&batch).await?;
            batch.clear();
        }
    }
    if tenant == "acme" {
        batch.push(
            Activity::new("comment_added")
                .tenant(tenant)
                .occurred_at(Utc::now() - Span::seconds(30))
                .actor(Actor::user("mallory").with_name("<b>Mallory</b>"))
                .target("comment", "<svg onload=alert(3)>")
                .description(XSS)
                .meta("html", "<iframe src=javascript:alert(4)>")
                .build()?,
        );
    }
    if !batch.is_empty() {
        store.write_batch(&batch).await?;
    }
    Ok(())
}

fn random_secret() -> String {
    (0..4).map(|_| format!("{:016x}", fastrand::u64(..))).collect()
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn Error>> {
    let o = options()?;
    let dir = tempfile::tempdir()?;
    let (sink, store): (Arc<dyn Sink>, Arc<dyn ActivityStore>) = match &o.database_url {
        #[cfg(feature = "postgres")]
        Some(url) => {
            let pg = activity_log::postgres::PostgresSink::connect(url).await?;
            (Arc::new(pg.clone()), Arc::new(pg))
        }
        #[cfg(not(feature = "postgres"))]
        Some(_) => return Err("built without the `postgres` feature".into()),
        None => {
            let url = format!("sqlite://{}", dir.path().join("activity.db").display());
            let sqlite = activity_log::sqlite::SqliteSink::connect(&url).await?;
            (Arc::new(sqlite.clone()), Arc::new(sqlite))
        }
    };
    let started = Instant::now();
    for t in TENANTS {
        seed(sink.as_ref(), t, o.rows).await?;
    }
    if o.bulk_rows > 0 {
        seed(sink.as_ref(), "bulk", o.bulk_rows).await?;
    }
    eprintln!("seeded in {:.1} s", started.elapsed().as_secs_f64());

    let logger = ActivityLogger::builder().sink(Arc::clone(&sink)).batch_timeout(Duration::from_millis(5)).build()?;
    let viewer = ViewerTokens::new(random_secret())?;
    let mut auth = StaticTokens::new();
    let mut tenants = serde_json::Map::new();
    for t in TENANTS {
        let ingest = random_secret();
        auth = auth.token(ingest.clone(), Principal::tenant(format!("{t}-ingest"), t).ingest());
        let token = viewer.mint(t, None, Duration::from_secs(3600))?;
        let rows = o.rows + usize::from(t == "acme");
        tenants.insert(t.to_owned(), json!({"viewer": token, "ingest": ingest, "rows": rows}));
    }
    let api = ActivityApi::from_arcs(store, Arc::new(auth))
        .logger(logger.clone())
        .rate_limits(RateLimits::unlimited())
        .viewer(viewer.clone());
    let app = axum::Router::new().nest("/api/activity", api.router());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let base = format!("http://{}/api/activity", listener.local_addr()?);
    let mut out = json!({"api": base, "ui": format!("{base}/ui"), "tenants": tenants});
    if o.bulk_rows > 0 {
        out["bulk"] = json!({"viewer": viewer.mint("bulk", None, Duration::from_secs(3600))?, "rows": o.bulk_rows});
    }
    println!("{out}");

    let server = tokio::spawn(async move { axum::serve(listener, app).await });
    // Serve until the test closes our stdin (or goes away).
    let mut sink_buf = Vec::new();
    let _ = tokio::io::stdin().read_to_end(&mut sink_buf).await;
    server.abort();
    logger.shutdown(Duration::from_secs(5)).await;
    drop(dir);
    Ok(())
}
