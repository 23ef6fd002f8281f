//! `#[log_activity]` on synchronous free functions: outcome, error text,
//! target id from an argument or from the returned value, `?` and early
//! `return`, non-`Result` and `()` returns, type aliases, destructuring.

use activity_log::{log_activity, ActivityContext, ActivityLogger, Actor, MemorySink, Outcome, Severity};
use std::fmt;

#[derive(Debug, Clone, PartialEq)]
struct Call {
    id: u64,
    queue: String,
}

#[derive(Debug, PartialEq)]
enum StoreError {
    NotFound(u64),
    Invalid(&'static str),
}

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StoreError::NotFound(id) => write!(f, "call {id} not found"),
            StoreError::Invalid(why) => write!(f, "invalid call: {why}"),
        }
    }
}

impl From<std::num::ParseIntError> for StoreError {
    fn from(_: std::num::ParseIntError) -> Self {
        StoreError::Invalid("not a number")
    }
}

#[derive(Default)]
struct Store {
    calls: Vec<Call>,
    next: u64,
}

type StoreResult<T> = Result<T, StoreError>;

#[log_activity(type = "call_created", target = "call", id = ret.id, description = "New call record created")]
fn create_call(store: &mut Store, queue: &str) -> Result<Call, StoreError> {
    if queue.is_empty() {
        return Err(StoreError::Invalid("empty queue"));
    }
    store.next += 1;
    let call = Call { id: store.next, queue: queue.to_owned() };
    store.calls.push(call.clone());
    Ok(call)
}

#[log_activity(type = "call_deleted", target = "call", id = call_id, description = "Call {call_id} deleted")]
fn delete_call(store: &mut Store, call_id: u64) -> StoreResult<()> {
    let at = store.calls.iter().position(|c| c.id == call_id).ok_or(StoreError::NotFound(call_id))?;
    store.calls.remove(at);
    Ok(())
}

#[log_activity(type = "call_parsed", target = "call", id = raw)]
fn parse_id(raw: &str) -> Result<u64, StoreError> {
    let id: u64 = raw.trim().parse()?;
    Ok(id)
}

#[log_activity(type = "calls_counted", metadata(count = ret))]
fn count(store: &Store) -> usize {
    store.calls.len()
}

#[log_activity(type = "cache_cleared", severity = "warning")]
fn clear_cache() {}

#[log_activity(type = "call_moved", target = "call", id = id, metadata(from, to))]
fn move_call((id, from): (u64, &str), Call { queue: to, .. }: Call) -> String {
    format!("{id}: {from} -> {to}")
}

/// Not `Display`: the `Debug` text is recorded.
#[derive(Debug)]
struct Opaque;

#[log_activity(type = "opaque_failed")]
fn opaque() -> Result<(), Opaque> {
    Err(Opaque)
}

fn flushed(logger: &ActivityLogger, sink: &MemorySink) -> Vec<activity_log::Activity> {
    tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(logger.flush()).unwrap();
    sink.activities()
}

fn target_id(a: &activity_log::Activity) -> Option<&str> {
    a.target.as_ref().and_then(|t| t.id.as_deref())
}

#[test]
fn success_records_type_target_id_from_ret_duration_and_context() {
    let (logger, sink) = ActivityLogger::in_memory();
    let mut store = Store::default();
    let ctx = ActivityContext::new().actor(Actor::user("agent-7")).tenant("acme").ip("203.0.113.9").request_id("r-1");
    let call = logger.sync_scope(|| ctx.sync_scope(|| create_call(&mut store, "sales"))).unwrap();
    assert_eq!(call, Call { id: 1, queue: "sales".into() });

    let all = flushed(&logger, &sink);
    assert_eq!(all.len(), 1);
    let a = &all[0];
    assert_eq!(a.activity_type, "call_created");
    assert_eq!(a.target.as_ref().map(|t| t.kind.as_str()), Some("call"));
    assert_eq!(target_id(a), Some("1"));
    assert_eq!(a.outcome, Outcome::Success);
    assert_eq!(a.error, None);
    assert_eq!(a.description.as_deref(), Some("New call record created"));
    assert!(a.duration.is_some_and(|d| d > std::time::Duration::ZERO));
    assert_eq!(a.actor.as_ref().and_then(|x| x.id.as_deref()), Some("agent-7"));
    assert_eq!(a.tenant.as_deref(), Some("acme"));
    assert_eq!(a.ip.as_deref(), Some("203.0.113.9"));
    assert_eq!(a.request_id.as_deref(), Some("r-1"));
    assert!(a.metadata.is_empty(), "arguments are not recorded unless named");
}

#[test]
fn early_return_is_a_failure_without_ret_values() {
    let (logger, sink) = ActivityLogger::in_memory();
    let mut store = Store::default();
    let err = logger.sync_scope(|| create_call(&mut store, "")).unwrap_err();
    assert_eq!(err, StoreError::Invalid("empty queue"));
    let a = &flushed(&logger, &sink)[0];
    assert_eq!(a.outcome, Outcome::Failure);
    assert_eq!(a.error.as_deref(), Some("invalid call: empty queue"));
    assert_eq!(a.target.as_ref().map(|t| (t.kind.as_str(), t.id.as_deref())), Some(("call", None)));
}

#[test]
fn question_mark_through_a_type_alias_is_a_failure_with_the_argument_id() {
    let (logger, sink) = ActivityLogger::in_memory();
    let mut store = Store::default();
    logger.sync_scope(|| {
        create_call(&mut store, "sales").unwrap();
        assert_eq!(delete_call(&mut store, 1), Ok(()));
        assert_eq!(delete_call(&mut store, 1), Err(StoreError::NotFound(1)));
    });
    let deleted = sink_of(&flushed(&logger, &sink), "call_deleted");
    assert_eq!(deleted.len(), 2);
    assert_eq!((deleted[0].outcome, target_id(&deleted[0])), (Outcome::Success, Some("1")));
    assert_eq!(deleted[0].description.as_deref(), Some("Call 1 deleted"));
    assert_eq!((deleted[1].outcome, target_id(&deleted[1])), (Outcome::Failure, Some("1")));
    assert_eq!(deleted[1].error.as_deref(), Some("call 1 not found"));
}

fn sink_of(all: &[activity_log::Activity], ty: &str) -> Vec<activity_log::Activity> {
    all.iter().filter(|a| a.activity_type == ty).cloned().collect()
}

#[test]
fn question_mark_converts_the_error_with_from() {
    let (logger, sink) = ActivityLogger::in_memory();
    logger.sync_scope(|| {
        assert_eq!(parse_id(" 12 "), Ok(12));
        assert_eq!(parse_id("x"), Err(StoreError::Invalid("not a number")));
    });
    let all = flushed(&logger, &sink);
    assert_eq!((all[0].outcome, target_id(&all[0])), (Outcome::Success, Some(" 12 ")));
    assert_eq!(all[1].error.as_deref(), Some("invalid call: not a number"));
}

#[test]
fn non_result_values_and_unit_are_successes() {
    let (logger, sink) = ActivityLogger::in_memory();
    let store = Store { calls: vec![Call { id: 1, queue: "a".into() }], next: 1 };
    logger.sync_scope(|| {
        assert_eq!(count(&store), 1);
        clear_cache();
    });
    let all = flushed(&logger, &sink);
    assert_eq!(all[0].metadata["count"], 1);
    assert_eq!(all[0].outcome, Outcome::Success);
    assert_eq!((all[1].activity_type.as_str(), all[1].severity), ("cache_cleared", Severity::Warning));
    assert!(all[1].target.is_none());
}

#[test]
fn destructured_parameters_can_be_named() {
    let (logger, sink) = ActivityLogger::in_memory();
    let moved = logger.sync_scope(|| move_call((5, "sales"), Call { id: 5, queue: "support".into() }));
    assert_eq!(moved, "5: sales -> support");
    let a = &flushed(&logger, &sink)[0];
    assert_eq!(target_id(a), Some("5"));
    assert_eq!((a.metadata["from"].as_str(), a.metadata["to"].as_str()), (Some("sales"), Some("support")));
}

#[test]
fn an_error_without_display_records_its_debug_text() {
    let (logger, sink) = ActivityLogger::in_memory();
    assert!(logger.sync_scope(opaque).is_err());
    let a = &flushed(&logger, &sink)[0];
    assert_eq!((a.outcome, a.error.as_deref()), (Outcome::Failure, Some("Opaque")));
}
