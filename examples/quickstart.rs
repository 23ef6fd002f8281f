//! Quickstart: a durable, queryable activity log in a SQLite file.
//!
//! ```text
//! cargo run --example quickstart [path/to/activity.db]
//! ```
//!
//! Logs a few dozen activities of a voice/chat agent backend (agents,
//! calls, chats, connectors, logins) for two tenants, then queries,
//! aggregates and exports them.

use activity_log::query::{ActivityFilter, ActivityStore, Bucket, ExportFormat, PageRequest, StatsRequest};
use activity_log::sqlite::SqliteSink;
use activity_log::{Activity, ActivityContext, ActivityLogger, Actor, Outcome, Severity, Target};
use serde_json::json;
use std::error::Error;
use std::path::PathBuf;
use std::time::Duration;

#[tokio::main]
async fn main() -> Result<(), Box<dyn Error>> {
    let path = std::env::args_os()
        .nth(1)
        .map(PathBuf::from)
        .unwrap_or_else(|| std::env::temp_dir().join("activity-log-quickstart.db"));
    // Start fresh on each run (the log itself is append-only).
    for suffix in ["", "-wal", "-shm"] {
        let mut file = path.clone().into_os_string();
        file.push(suffix);
        let _ = std::fs::remove_file(file);
    }
    println!("SQLite file: {}", path.display());

    // 1. Connect (creates the file, applies the schema) and start a logger.
    let store = SqliteSink::connect(&format!("sqlite://{}", path.display())).await?;
    let logger = ActivityLogger::builder().sink(store.clone()).batch_timeout(Duration::from_millis(50)).build()?;

    // 2. Log what a backend does, each request inside its context.
    for (tenant, agent, ip) in [("acme", "agent-7", "203.0.113.9"), ("globex", "agent-3", "198.51.100.23")] {
        let ctx = ActivityContext::new()
            .actor(Actor::user(agent).with_name("Ada Lovelace"))
            .tenant(tenant)
            .ip(ip)
            .user_agent("Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5)");
        ctx.scope(simulate_backend(&logger, tenant, agent)).await;
    }

    // 3. Wait until everything queued is in the file.
    logger.flush().await?;

    // A filtered query: acme's calls of the last 24 hours, newest first.
    let calls = ActivityFilter::new()
        .tenant("acme")
        .activity_types(["call_created", "call_updated", "call_ended", "call_failed"])
        .last_hours(24);
    let page = store.query(&calls, &PageRequest::first(10).with_total()).await?;
    println!("\nacme's calls in the last 24 h ({} in total):", page.total.unwrap_or_default());
    for a in &page.items {
        let target = a.target.as_ref().map(|t| format!("{}:{}", t.kind, t.id.as_deref().unwrap_or("-")));
        println!(
            "  {}  {:<13} {:<12} {:<8} {}",
            a.occurred_at.format("%H:%M:%S%.3f"),
            a.activity_type,
            target.unwrap_or_default(),
            a.outcome,
            a.description.as_deref().unwrap_or("")
        );
    }

    // Statistics for one tenant.
    let stats = store.stats(&ActivityFilter::new().tenant("acme"), &StatsRequest::new().bucket(Bucket::Hour)).await?;
    println!("\nacme stats: {} activities", stats.total);
    println!("  by type:        {:?}", stats.by_type);
    println!("  by target kind: {:?}", stats.by_target_kind);
    println!("  by outcome:     {:?}", stats.by_outcome);
    println!("  top actors:     {:?}", stats.top_actors);
    for (hour, n) in &stats.histogram {
        println!("  {} {n}", hour.format("%Y-%m-%d %H:00"));
    }

    // A CSV export (streamed; here into memory), first lines only.
    let mut csv = Vec::new();
    let rows = store.export(&ActivityFilter::new().tenant("globex"), ExportFormat::Csv, &mut csv).await?;
    println!("\nglobex CSV export ({rows} rows), first lines:");
    for line in String::from_utf8_lossy(&csv).lines().take(4) {
        println!("  {line}");
    }

    let report = logger.shutdown(Duration::from_secs(5)).await;
    println!(
        "\nlogger: {} logged, {} written, nothing lost: {}",
        report.stats.logged,
        report.stats.written,
        report.is_complete()
    );
    store.close().await;
    Ok(())
}

/// One tenant's morning: agents set up, connectors added, calls and chats.
async fn simulate_backend(logger: &ActivityLogger, tenant: &str, agent_id: &str) {
    logger.log_async(Activity::login(Actor::user(agent_id)).meta("method", "sso"));
    logger.log_async(Activity::login_failed("intruder@example.com", "invalid password"));

    let agent = format!("{tenant}-sales-bot");
    logger.log_async(
        Activity::new("agent_created")
            .target("agent", &agent)
            .target_name("Sales voice agent")
            .description("Voice agent created from the 'Outbound sales' template")
            .meta("voice", "alloy")
            .meta("language", "en-US"),
    );
    logger.log_async(
        Activity::data_change(
            "agent_updated",
            Target::new("agent", &agent),
            &json!({"greeting": "Hello!", "max_call_minutes": 10}),
            &json!({"greeting": "Hi, this is Ava from Acme, how can I help?", "max_call_minutes": 15}),
        )
        .description("Greeting and call limit changed"),
    );
    logger.log_async(Activity::new("chat_agent_activated").target("chat_agent", "support-bot").meta("channel", "web"));

    logger.log_async(
        Activity::new("connector_added")
            .target("connector", "google-calendar")
            .description("Google Calendar connection initiated")
            .meta("scopes", json!(["calendar.events"])),
    );
    logger.log_async(Activity::new("connector_updated").target("connector", "google-calendar").change(
        "sync_interval_minutes",
        60,
        15,
    ));
    logger.log_async(
        Activity::new("connector_deleted")
            .target("connector", "legacy-crm")
            .outcome(Outcome::Denied)
            .severity(Severity::Warning)
            .error("only admins may delete connectors"),
    );

    for call in 1..=6 {
        let call_id = format!("call-{tenant}-{call}");
        let request = format!("req-{tenant}-{call}");
        logger.log_async(
            Activity::new("call_created")
                .target("call", &call_id)
                .request_id(&request)
                .description(format!("Web call created, customer \"+1 555 01{call:02}\""))
                .meta("direction", if call % 2 == 0 { "outbound" } else { "inbound" })
                .meta("queue", "sales"),
        );
        logger.log_async(
            Activity::new("call_updated")
                .target("call", &call_id)
                .actor(Actor::service("telephony-webhook"))
                .request_id(&request)
                .change("status", "ringing", "in_progress"),
        );
        if call == 4 {
            logger.log_async(
                Activity::new("call_failed")
                    .target("call", &call_id)
                    .request_id(&request)
                    .error("SIP 503: carrier unavailable")
                    .severity(Severity::Error)
                    .duration(Duration::from_millis(2_300)),
            );
        } else {
            logger.log_async(
                Activity::new("call_ended")
                    .target("call", &call_id)
                    .request_id(&request)
                    .description("Call ended by customer")
                    .duration(Duration::from_secs(60 + call * 37))
                    .meta("sentiment", "positive"),
            );
        }
    }

    for chat in 1..=3 {
        let chat_id = format!("chat-{tenant}-{chat}");
        logger.log_async(Activity::new("chat_created").target("chat", &chat_id).meta("channel", "web"));
        for _ in 0..2 {
            logger.log_async(Activity::new("chat_message_sent").target("chat", &chat_id).meta("role", "assistant"));
        }
        logger.log_async(Activity::new("chat_ended").target("chat", &chat_id).description("Chat ended; rating 5/5"));
    }
}
