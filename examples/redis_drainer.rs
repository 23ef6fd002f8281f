//! A drainer as a small binary of its own: reads the activities that
//! application instances append to Redis (through `RedisStreamSink`) and
//! writes them into PostgreSQL, as one member of the `activity-log`
//! consumer group. Run as many as the store's write rate calls for.
//!
//! ```text
//! REDIS_URL=redis://127.0.0.1:6379 DATABASE_URL=postgres://postgres@127.0.0.1:5432/test \
//!     STREAM=activity-log PARTITIONS=1 CONSUMER=drainer-1 \
//!     cargo run -p activity-log-examples --example redis_drainer --features redis
//! ```
//!
//! It runs until Ctrl-C, then prints its counters as JSON. Give each
//! process a stable `CONSUMER` name (e.g. the pod's) so that a restarted
//! drainer resumes its pending entries at once; others claim them after
//! 30 s otherwise.

use activity_log::postgres::PostgresSink;
use activity_log::redis::{StreamDrainer, StreamLayout};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let var = |name: &str, default: &str| std::env::var(name).unwrap_or_else(|_| default.to_owned());
    let Some(database_url) = dev_env::database_url() else {
        eprintln!("set DATABASE_URL (postgres://...) to say where the activities go");
        std::process::exit(2);
    };
    let partitions: u32 = var("PARTITIONS", "1").parse().map_err(|_| "PARTITIONS must be a number")?;
    let layout = StreamLayout::new(var("STREAM", "activity-log")).partitions(partitions);
    let consumer = var("CONSUMER", &format!("drainer-{}", std::process::id()));

    let store = PostgresSink::connect(&database_url).await?;
    let drainer = StreamDrainer::builder()
        .layout(layout)
        .consumer(consumer)
        .build(&var("REDIS_URL", "redis://127.0.0.1:6379"), store)?;
    eprintln!("draining as consumer {}; Ctrl-C stops", drainer.consumer());
    let stats = drainer
        .run(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await;
    println!("{}", serde_json::to_string(&stats)?);
    Ok(())
}
