//! Shared pieces of the benchmarks: a typical activity, and the median
//! timing used by the `BENCH ...` summary lines.

use activity_log::{Activity, ActivityBuilder, Actor};
use std::time::Instant;

/// A typical activity: about 300 bytes with a small metadata object.
pub fn typical(i: u64) -> ActivityBuilder {
    Activity::new("call_created")
        .tenant("sub_abc123")
        .target("call", i)
        .actor(Actor::user("agent-7").with_name("Ada Lovelace"))
        .description("Inbound call routed to the sales queue")
        .meta("queue", "sales")
        .meta("direction", "inbound")
        .meta("ring_ms", 1250)
        .ip("203.0.113.9")
        .user_agent("call-center-api/2.4")
        .request_id("req-6f1c2b")
}

/// Times `samples` blocks of `per_sample` calls of `f` and returns the median
/// nanoseconds per call.
pub fn median_ns_per_call(samples: usize, per_sample: u64, mut f: impl FnMut(u64)) -> f64 {
    let mut times: Vec<f64> = (0..samples)
        .map(|s| {
            let start = Instant::now();
            for i in 0..per_sample {
                f(s as u64 * per_sample + i);
            }
            start.elapsed().as_nanos() as f64 / per_sample as f64
        })
        .collect();
    times.sort_by(f64::total_cmp);
    times[times.len() / 2]
}

/// Events per second.
pub fn eps(events: usize, took: std::time::Duration) -> f64 {
    events as f64 / took.as_secs_f64()
}

/// Logs a copy of every activity of `rows` through `logger`, flushes, checks
/// that every one was written, shuts the logger down and returns the rate
/// in activities per second (shutdown not timed).
pub async fn log_all_and_flush(logger: activity_log::ActivityLogger, rows: &[activity_log::Activity]) -> f64 {
    let start = Instant::now();
    for a in rows {
        logger.log_async(a.clone());
    }
    logger.flush().await.expect("flush");
    let took = start.elapsed();
    let stats = logger.stats();
    assert_eq!(stats.written, rows.len() as u64, "every activity written: {stats:?}");
    logger.shutdown(std::time::Duration::from_secs(10)).await;
    eps(rows.len(), took)
}
