//! PostgreSQL: the production store, shared by every instance of a service.
//!
//! ```text
//! DATABASE_URL=postgres://postgres@127.0.0.1:5432/test cargo run --example postgres
//! ```
//!
//! Connects (applying the schema migrations and creating the monthly
//! partitions ahead), logs the activities of a voice/chat agent backend
//! (agents, calls, chats, connectors, logins) for two tenants through the
//! non-blocking logger, then queries, aggregates and exports them. Rows are
//! append-only, so each run adds to the last; pass `?options=-c%20search_path%3Dmyschema`
//! in the URL to use another schema.

use activity_log::postgres::PostgresSink;
use activity_log::query::{ActivityFilter, ActivityStore, Bucket, ExportFormat, PageRequest, StatsRequest};
use activity_log::{Activity, ActivityContext, ActivityLogger, Actor, Outcome, Severity, Target};
use serde_json::json;
use std::error::Error;
use std::time::Duration;

#[tokio::main]
async fn main() -> Result<(), Box<dyn Error>> {
    let url = match dev_env::postgres() {
        dev_env::Postgres::Use(url) => url,
        dev_env::Postgres::Skip(why) => {
            println!("{why}: nothing to do.");
            println!("Run: DATABASE_URL=postgres://postgres@127.0.0.1:5432/test cargo run --example postgres");
            return Ok(());
        }
    };

    // 1. Connect (migrations run under an advisory lock) and start a logger.
    let store = match PostgresSink::connect(&url).await {
        Ok(store) => store,
        Err(e) => {
            println!("nothing to do: {}", dev_env::unreachable("the postgres example", e));
            return Ok(());
        }
    };
    let logger = ActivityLogger::builder().sink(store.clone()).batch_timeout(Duration::from_millis(50)).build()?;
    let run = format!("run-{}", std::process::id());

    // 2. Each request inside its context: actor, tenant, ip, request id.
    for (tenant, agent, ip) in [("acme", "agent-7", "203.0.113.9"), ("globex", "agent-3", "2001:db8::23")] {
        for request in 0..5 {
            let ctx = ActivityContext::new()
                .actor(Actor::user(agent).with_name("Ada Lovelace"))
                .tenant(tenant)
                .ip(ip)
                .user_agent("Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5)")
                .request_id(format!("{run}-{tenant}-{request}"));
            ctx.scope(async { backend_request(&logger, tenant, request) }).await;
        }
    }
    logger.flush().await?;

    // 3. A query: acme's calls of the last hour, newest first.
    let calls = ActivityFilter::new().tenant("acme").activity_types(["call_created", "call_ended"]).last_hours(1);
    let page = store.query(&calls, &PageRequest::first(5).with_total()).await?;
    println!("acme's calls in the last hour ({} in total), latest 5:", page.total.unwrap_or_default());
    for a in &page.items {
        let target = a.target.as_ref().map(|t| format!("{}:{}", t.kind, t.id.as_deref().unwrap_or("-")));
        println!(
            "  {}  {:<13} {:<10} {:<8} {}",
            a.occurred_at.format("%H:%M:%S%.3f"),
            a.activity_type,
            target.unwrap_or_default(),
            a.outcome,
            a.description.as_deref().unwrap_or("")
        );
    }
    if let Some(cursor) = page.next_cursor {
        println!("  next page: PageRequest::first(5).after_str(Some(\"{cursor}\"))");
    }

    // 4. Statistics for one tenant over the last 24 hours.
    let day = ActivityFilter::new().tenant("acme").last_hours(24);
    let stats = store.stats(&day, &StatsRequest::new().top_actors(3).bucket(Bucket::Hour)).await?;
    println!("\nacme, last 24 h: {} activities", stats.total);
    println!("  by type:    {:?}", stats.by_type);
    println!("  by outcome: {:?}", stats.by_outcome);
    println!("  top actors: {:?}", stats.top_actors);

    // 5. A CSV export (streamed; here into memory), first lines only.
    let mut csv = Vec::new();
    let this_run = ActivityFilter::new().tenant("globex").request_id(format!("{run}-globex-0"));
    let rows = store.export(&this_run, ExportFormat::Csv, &mut csv).await?;
    println!("\nglobex CSV export of one request ({rows} rows), first lines:");
    for line in String::from_utf8_lossy(&csv).lines().take(3) {
        println!("  {line}");
    }

    let report = logger.shutdown(Duration::from_secs(5)).await;
    println!(
        "\nlogger: {} logged, {} written, complete: {}",
        report.stats.logged,
        report.stats.written,
        report.is_complete()
    );
    store.close().await;
    Ok(())
}

/// What one backend request logs: an agent change, a call, a chat, a
/// connector, with the occasional failure.
fn backend_request(logger: &ActivityLogger, tenant: &str, request: u32) {
    let agent = format!("{tenant}-sales-bot");
    match request % 5 {
        0 => logger.log_async(
            Activity::data_change(
                "agent_updated",
                Target::new("agent", &agent),
                &json!({"greeting": "Hello!", "max_call_minutes": 10}),
                &json!({"greeting": "Hi, how can I help?", "max_call_minutes": 15}),
            )
            .description("Greeting and call limit changed"),
        ),
        1 => logger.log_async(
            Activity::new("connector_added")
                .target("connector", "google-calendar")
                .description("Google Calendar connector connected")
                .meta("scopes", json!(["calendar.read", "calendar.write"])),
        ),
        2 => logger.log_async(
            Activity::new("chat_ended")
                .target("chat", 9000 + request)
                .description("Chat ended by customer; rating 5/5")
                .meta("messages", 14),
        ),
        _ => {
            let call = 4200 + request;
            logger.log_async(
                Activity::new("call_created")
                    .target("call", call)
                    .description("Inbound call from +1 555 0100, queue Sales")
                    .meta("queue", "sales")
                    .tag("voice"),
            );
            let ended = Activity::new("call_ended").target("call", call).duration(Duration::from_secs(95));
            logger.log_async(if request == 4 {
                ended.outcome(Outcome::Failure).severity(Severity::Error).error("carrier hung up")
            } else {
                ended.description("Call completed, routed to voicemail")
            });
        }
    }
}
