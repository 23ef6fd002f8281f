//! Ambient context is task-local: concurrent tasks never see each other's.

use activity_log::{Activity, ActivityContext, ActivityLogger, Actor};
use std::collections::HashSet;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn thousand_concurrent_tasks_each_see_only_their_actor() {
    let (logger, sink) = ActivityLogger::in_memory();
    let mut tasks = Vec::new();
    for n in 0..1_000 {
        let ctx = ActivityContext::new().actor(Actor::user(format!("user-{n}"))).tenant(format!("tenant-{}", n % 7));
        let logger = logger.clone();
        tasks.push(tokio::spawn(logger.clone().scope(ctx.scope(async move {
            for step in 0..3 {
                // Yield so that tasks interleave on the worker threads.
                tokio::task::yield_now().await;
                activity_log::log_async(Activity::new("agent_status_changed").meta("task", n).meta("step", step));
            }
        }))));
    }
    for t in tasks {
        t.await.expect("task");
    }
    logger.flush().await.expect("flush");
    let all = sink.activities();
    assert_eq!(all.len(), 3_000);
    let mut seen = HashSet::new();
    for a in all {
        let n = a.metadata["task"].as_u64().expect("task number");
        assert_eq!(a.actor.and_then(|x| x.id), Some(format!("user-{n}")));
        assert_eq!(a.tenant, Some(format!("tenant-{}", n % 7)));
        seen.insert(n);
    }
    assert_eq!(seen.len(), 1_000);
}

#[tokio::test]
async fn explicit_fields_win_and_nested_scopes_override_field_by_field() {
    let (logger, sink) = ActivityLogger::in_memory();
    let outer = ActivityContext::new().actor(Actor::user("outer")).tenant("acme").ip("10.0.0.1").user_agent("curl/8");
    outer
        .scope(async {
            ActivityContext::new()
                .ip("10.0.0.2")
                .request_id("req-9")
                .scope(async {
                    logger.log_async(Activity::new("a"));
                    logger.log_async(Activity::new("b").actor(Actor::system()).tenant("other"));
                    assert_eq!(ActivityContext::current().and_then(|c| c.request_id).as_deref(), Some("req-9"));
                })
                .await;
            logger.log_async(Activity::new("c"));
        })
        .await;
    logger.log_async(Activity::new("d"));
    logger.flush().await.expect("flush");

    let a = sink.assert_logged("a");
    assert_eq!(a.actor.and_then(|x| x.id).as_deref(), Some("outer"));
    assert_eq!((a.tenant.as_deref(), a.ip.as_deref()), (Some("acme"), Some("10.0.0.2")));
    assert_eq!((a.user_agent.as_deref(), a.request_id.as_deref()), (Some("curl/8"), Some("req-9")));
    let b = sink.assert_logged("b");
    assert_eq!(b.actor, Some(Actor::system()));
    assert_eq!(b.tenant.as_deref(), Some("other"));
    let c = sink.assert_logged("c");
    assert_eq!((c.ip.as_deref(), c.request_id), (Some("10.0.0.1"), None));
    let d = sink.assert_logged("d");
    assert_eq!((d.actor, d.tenant), (None, None));
}

#[test]
fn sync_scopes_for_threads() {
    let (logger, sink) = ActivityLogger::in_memory();
    logger.sync_scope(|| {
        ActivityContext::new().actor(Actor::service("billing")).sync_scope(|| {
            activity_log::log_async(Activity::new("invoice_sent"));
        })
    });
    let rt = tokio::runtime::Builder::new_current_thread().build().expect("runtime");
    rt.block_on(logger.flush()).expect("flush");
    let a = sink.assert_logged("invoice_sent");
    assert_eq!(a.actor, Some(Actor::service("billing")));
}

#[tokio::test]
async fn scoped_loggers_capture_separately() {
    let (first, first_sink) = ActivityLogger::in_memory();
    let (second, second_sink) = ActivityLogger::in_memory();
    let a = first.scope(async { activity_log::try_log_async(Activity::new("one")) });
    let b = second.scope(async { activity_log::try_log_async(Activity::new("two")) });
    let (a, b) = tokio::join!(a, b);
    assert!(a.is_ok() && b.is_ok());
    first.flush().await.expect("flush");
    second.flush().await.expect("flush");
    first_sink.assert_logged("one");
    first_sink.assert_not_logged("two");
    second_sink.assert_logged("two");
}
