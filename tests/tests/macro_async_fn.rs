//! `#[log_activity]` on async functions: outcome, id from an argument or
//! from `ret`, `?` and early `return`, options (`name`, `description`,
//! `metadata`, `severity`, `actor`, `tenant`, `logger`, `on`), and functions
//! returning `Pin<Box<dyn Future>>` built with `Box::pin(async move { .. })`.

use activity_log::{log_activity, Activity, ActivityContext, ActivityLogger, Actor, ActorKind, Outcome, Severity};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

#[derive(Debug, Clone, PartialEq)]
struct Call {
    id: u64,
    caller: String,
    status: &'static str,
}

#[derive(Debug, PartialEq)]
struct DbError(String);

impl std::fmt::Display for DbError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "database error: {}", self.0)
    }
}

struct CallCreate {
    caller: String,
    password: String,
}

async fn yield_once() {
    tokio::task::yield_now().await;
}

#[log_activity(
    type = "call_created",
    target = "call",
    id = ret.id,
    name = ret.caller,
    description = "New call record created",
    metadata(status = ret.status)
)]
async fn create_call(data: CallCreate) -> Result<Call, DbError> {
    yield_once().await;
    if data.caller.is_empty() {
        return Err(DbError("caller is required".into()));
    }
    let _ = data.password;
    Ok(Call { id: 42, caller: data.caller, status: "ringing" })
}

async fn find(id: u64) -> Result<Call, DbError> {
    yield_once().await;
    match id {
        42 => Ok(Call { id, caller: "Ada".into(), status: "ringing" }),
        _ => Err(DbError(format!("no call {id}"))),
    }
}

#[log_activity(type = "call_updated", target = "call", id = id, description = "Call {id} set to {status:?}", metadata(status))]
async fn update_status(id: u64, status: &'static str) -> Result<Call, DbError> {
    let mut call = find(id).await?;
    call.status = status;
    Ok(call)
}

#[log_activity(type = "report_exported", severity = "warning", actor = Actor::service("exporter"), tenant = tenant)]
async fn export(tenant: &str) -> usize {
    yield_once().await;
    tenant.len()
}

#[log_activity(type = "call_listened", target = "call", id = id, on = "failure")]
async fn listen_failures_only(id: u64) -> Result<(), DbError> {
    find(id).await.map(drop)
}

#[log_activity(type = "call_seen", target = "call", id = id, on = "success")]
async fn seen_successes_only(id: u64) -> Result<(), DbError> {
    find(id).await.map(drop)
}

#[log_activity(type = "audit_checked", logger = logger)]
async fn with_explicit_logger(logger: &ActivityLogger) {
    yield_once().await;
}

#[log_activity(type = "audit_checked_arc", logger = logger)]
async fn with_arc_logger(logger: Arc<ActivityLogger>) {}

#[log_activity(type = "call_ended", target = "call", id = id)]
fn end_call(id: u64) -> Pin<Box<dyn Future<Output = Result<u64, DbError>> + Send>> {
    Box::pin(async move {
        yield_once().await;
        let call = find(id).await?;
        Ok(call.id)
    })
}

#[log_activity(type = "countdown", target = "counter", id = n)]
fn countdown(n: u32) -> Pin<Box<dyn Future<Output = u32> + Send>> {
    Box::pin(async move {
        if n == 0 {
            return 0;
        }
        countdown(n - 1).await + 1
    })
}

async fn run<F: Future>(fut: F) -> (F::Output, Vec<Activity>) {
    let (logger, sink) = ActivityLogger::in_memory();
    let out = logger.scope(fut).await;
    logger.flush().await.unwrap();
    (out, sink.activities())
}

fn target(a: &Activity) -> (Option<&str>, Option<&str>, Option<&str>) {
    match &a.target {
        Some(t) => (Some(t.kind.as_str()), t.id.as_deref(), t.name.as_deref()),
        None => (None, None, None),
    }
}

#[tokio::test]
async fn success_records_ret_values_and_ambient_context() {
    let ctx = ActivityContext::new().actor(Actor::user("agent-7")).tenant("acme").user_agent("ua/1").request_id("r-9");
    let data = CallCreate { caller: "Ada".into(), password: "hunter2".into() };
    let (call, all) = run(ctx.scope(create_call(data))).await;
    assert_eq!(call.unwrap().id, 42);
    assert_eq!(all.len(), 1);
    let a = &all[0];
    assert_eq!(a.activity_type, "call_created");
    assert_eq!(target(a), (Some("call"), Some("42"), Some("Ada")));
    assert_eq!((a.outcome, a.error.as_deref()), (Outcome::Success, None));
    assert_eq!(a.description.as_deref(), Some("New call record created"));
    assert_eq!(a.metadata.len(), 1);
    assert_eq!(a.metadata["status"], "ringing");
    assert!(a.duration.unwrap() > Duration::ZERO);
    assert_eq!(a.actor.as_ref().and_then(|x| x.id.as_deref()), Some("agent-7"));
    assert_eq!(a.tenant.as_deref(), Some("acme"));
    assert_eq!(a.user_agent.as_deref(), Some("ua/1"));
    assert_eq!(a.request_id.as_deref(), Some("r-9"));
    assert!(!serde_json::to_string(a).unwrap().contains("hunter2"), "arguments are not recorded");
}

#[tokio::test]
async fn early_return_records_failure_and_skips_ret_values() {
    let (out, all) = run(create_call(CallCreate { caller: String::new(), password: String::new() })).await;
    assert_eq!(out, Err(DbError("caller is required".into())));
    let a = &all[0];
    assert_eq!((a.outcome, a.error.as_deref()), (Outcome::Failure, Some("database error: caller is required")));
    assert_eq!(target(a), (Some("call"), None, None));
    assert!(a.metadata.is_empty());
}

#[tokio::test]
async fn question_mark_failure_keeps_the_argument_id_and_interpolated_description() {
    let (out, all) = run(async { (update_status(42, "answered").await, update_status(7, "answered").await) }).await;
    assert_eq!(out.0.unwrap().status, "answered");
    assert!(out.1.is_err());
    let [ok, failed] = <[Activity; 2]>::try_from(all).unwrap();
    assert_eq!((ok.outcome, target(&ok).1), (Outcome::Success, Some("42")));
    assert_eq!(ok.description.as_deref(), Some("Call 42 set to \"answered\""));
    assert_eq!(ok.metadata["status"], "answered");
    assert_eq!((failed.outcome, target(&failed).1), (Outcome::Failure, Some("7")));
    assert_eq!(failed.error.as_deref(), Some("database error: no call 7"));
    assert_eq!(failed.description.as_deref(), Some("Call 7 set to \"answered\""));
}

#[tokio::test]
async fn actor_tenant_and_severity_override_the_context() {
    let ctx = ActivityContext::new().actor(Actor::user("agent-7")).tenant("acme").ip("10.0.0.1");
    let (len, all) = run(ctx.scope(export("globex"))).await;
    assert_eq!(len, 6);
    let a = &all[0];
    assert_eq!(a.actor.as_ref().map(|x| (x.kind, x.id.as_deref())), Some((ActorKind::Service, Some("exporter"))));
    assert_eq!(a.tenant.as_deref(), Some("globex"));
    assert_eq!(a.ip.as_deref(), Some("10.0.0.1"), "fields not overridden still come from the context");
    assert_eq!(a.severity, Severity::Warning);
    assert!(a.target.is_none());
}

#[tokio::test]
async fn on_failure_and_on_success_filter_outcomes() {
    let (_, all) = run(async {
        let _ = listen_failures_only(42).await;
        let _ = listen_failures_only(1).await;
        let _ = seen_successes_only(42).await;
        let _ = seen_successes_only(1).await;
    })
    .await;
    let got: Vec<_> = all.iter().map(|a| (a.activity_type.as_str(), a.outcome, target(a).1)).collect();
    assert_eq!(got, [("call_listened", Outcome::Failure, Some("1")), ("call_seen", Outcome::Success, Some("42"))]);
}

#[tokio::test]
async fn logger_option_logs_to_that_handle_not_the_scoped_one() {
    let (mine, my_sink) = ActivityLogger::in_memory();
    let arc = Arc::new(mine.clone());
    let (_, scoped) = run(async {
        with_explicit_logger(&mine).await;
        with_arc_logger(arc).await;
    })
    .await;
    mine.flush().await.unwrap();
    assert!(scoped.is_empty());
    my_sink.assert_logged("audit_checked");
    my_sink.assert_logged("audit_checked_arc");
}

#[tokio::test]
async fn box_pin_async_move_bodies_are_instrumented_inside_the_future() {
    let (out, all) = run(async { (end_call(42).await, end_call(3).await) }).await;
    assert_eq!(out.0, Ok(42));
    assert!(out.1.is_err());
    assert_eq!(
        (all[0].activity_type.as_str(), all[0].outcome, target(&all[0]).1),
        ("call_ended", Outcome::Success, Some("42"))
    );
    assert_eq!(all[1].error.as_deref(), Some("database error: no call 3"));
    assert!(all.iter().all(|a| a.duration.unwrap() > Duration::ZERO));
}

#[tokio::test]
async fn recursion_logs_once_per_call_innermost_first() {
    let (out, all) = run(countdown(3)).await;
    assert_eq!(out, 3);
    let ids: Vec<_> = all.iter().map(|a| target(a).1.unwrap().to_owned()).collect();
    assert_eq!(ids, ["0", "1", "2", "3"]);
}

#[test]
fn a_future_logs_when_it_completes_not_when_it_is_created() {
    let (logger, sink) = ActivityLogger::in_memory();
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let fut = logger.scope(update_status(42, "held"));
    rt.block_on(async {
        logger.flush().await.unwrap();
        assert!(sink.is_empty());
        fut.await.unwrap();
        logger.flush().await.unwrap();
    });
    assert_eq!(sink.len(), 1);
}
