//! 100 concurrent tasks, each with its own context, calling annotated
//! functions on a multi-threaded runtime: every activity carries the
//! context of the task that made it.

use activity_log::{log_activity, ActivityContext, ActivityLogger, Actor, Outcome};
use std::collections::BTreeSet;
use std::time::Duration;

#[derive(Debug)]
struct Busy(u32);

impl std::fmt::Display for Busy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "line {} is busy", self.0)
    }
}

#[log_activity(type = "call_placed", target = "call", id = n, metadata(line = n % 7))]
async fn place_call(n: u32) -> Result<u32, Busy> {
    // Hop threads between the start and the end of the body.
    for _ in 0..3 {
        tokio::task::yield_now().await;
    }
    tokio::time::sleep(Duration::from_millis(u64::from(n % 5))).await;
    if n.is_multiple_of(10) {
        return Err(Busy(n));
    }
    Ok(n)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn hundred_tasks_with_different_contexts() {
    let (logger, sink) = ActivityLogger::in_memory();
    let tasks: Vec<_> = (0..100u32)
        .map(|n| {
            let ctx = ActivityContext::new()
                .actor(Actor::user(format!("agent-{n}")))
                .tenant(format!("tenant-{}", n % 3))
                .request_id(format!("req-{n}"));
            tokio::spawn(logger.scope(ctx.scope(place_call(n))))
        })
        .collect();
    for (n, task) in tasks.into_iter().enumerate() {
        let out = task.await.unwrap();
        assert_eq!(out.is_ok(), n % 10 != 0);
    }
    logger.flush().await.unwrap();

    let all = sink.of_type("call_placed");
    assert_eq!(all.len(), 100);
    let mut seen = BTreeSet::new();
    for a in &all {
        let n: u32 = a.target.as_ref().and_then(|t| t.id.as_deref()).unwrap().parse().unwrap();
        assert!(seen.insert(n), "one activity per call");
        let agent = format!("agent-{n}");
        assert_eq!(a.actor.as_ref().and_then(|x| x.id.as_deref()), Some(agent.as_str()));
        assert_eq!(a.tenant.as_deref(), Some(format!("tenant-{}", n % 3).as_str()));
        assert_eq!(a.request_id.as_deref(), Some(format!("req-{n}").as_str()));
        assert_eq!(a.metadata["line"], n % 7);
        assert!(a.duration.unwrap() > Duration::ZERO);
        if n.is_multiple_of(10) {
            assert_eq!((a.outcome, a.error.clone()), (Outcome::Failure, Some(format!("line {n} is busy"))));
        } else {
            assert_eq!((a.outcome, a.error.as_deref()), (Outcome::Success, None));
        }
    }
}
