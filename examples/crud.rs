//! A call-centre CRUD layer whose operations are recorded with
//! `#[log_activity]`: agents and calls, created, updated and deleted, with
//! the acting agent, tenant and request taken from the ambient context.
//!
//! Run with `cargo run -p activity-log-examples --example crud`; test with
//! `cargo test -p activity-log-examples --example crud`.

use activity_log::query::{ActivityFilter, ActivityStore, Order, PageRequest};
use activity_log::sqlite::SqliteSink;
use activity_log::{log_activity, ActivityContext, ActivityLogger, Actor};
use std::collections::BTreeMap;
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Duration;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum AgentStatus {
    Offline,
    Available,
    OnCall,
}

impl AgentStatus {
    fn as_str(self) -> &'static str {
        match self {
            AgentStatus::Offline => "offline",
            AgentStatus::Available => "available",
            AgentStatus::OnCall => "on_call",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
struct Agent {
    id: u64,
    name: String,
    status: AgentStatus,
}

#[derive(Debug, Clone, PartialEq)]
struct Call {
    id: u64,
    caller: String,
    queue: String,
    agent_id: Option<u64>,
    ended: bool,
}

/// What a client sends to create a call. `pin` is a secret: it is never
/// recorded, because the attribute records only what it is told to.
struct CallCreate {
    caller: String,
    queue: String,
    pin: String,
}

#[derive(Debug, PartialEq)]
enum CrudError {
    AgentNotFound(u64),
    CallNotFound(u64),
    AgentUnavailable(u64),
    Invalid(&'static str),
}

impl fmt::Display for CrudError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CrudError::AgentNotFound(id) => write!(f, "agent {id} not found"),
            CrudError::CallNotFound(id) => write!(f, "call {id} not found"),
            CrudError::AgentUnavailable(id) => write!(f, "agent {id} is not available"),
            CrudError::Invalid(why) => write!(f, "invalid request: {why}"),
        }
    }
}

impl std::error::Error for CrudError {}

type CrudResult<T> = Result<T, CrudError>;

/// The data store: in memory here; a real service would use its database.
#[derive(Default)]
struct CallCenter {
    agents: Mutex<BTreeMap<u64, Agent>>,
    calls: Mutex<BTreeMap<u64, Call>>,
    next_id: AtomicU64,
}

impl CallCenter {
    fn next_id(&self) -> u64 {
        self.next_id.fetch_add(1, Ordering::Relaxed) + 1
    }

    #[log_activity(type = "agent_created", target = "agent", id = ret.id, name = ret.name)]
    async fn create_agent(&self, name: &str) -> CrudResult<Agent> {
        if name.trim().is_empty() {
            return Err(CrudError::Invalid("an agent needs a name"));
        }
        let agent = Agent { id: self.next_id(), name: name.to_owned(), status: AgentStatus::Offline };
        self.agents.lock().unwrap().insert(agent.id, agent.clone());
        Ok(agent)
    }

    #[log_activity(
        type = "agent_status_changed",
        target = "agent",
        id = agent_id,
        metadata(status = status.as_str())
    )]
    async fn set_agent_status(&self, agent_id: u64, status: AgentStatus) -> CrudResult<()> {
        let mut agents = self.agents.lock().unwrap();
        let agent = agents.get_mut(&agent_id).ok_or(CrudError::AgentNotFound(agent_id))?;
        agent.status = status;
        Ok(())
    }

    #[log_activity(
        type = "call_created",
        target = "call",
        id = ret.id,
        description = "New call record created",
        metadata(queue = data.queue)
    )]
    async fn create_call(&self, data: CallCreate) -> CrudResult<Call> {
        if data.pin.len() != 4 {
            return Err(CrudError::Invalid("the PIN must have 4 digits"));
        }
        let call = Call { id: self.next_id(), caller: data.caller, queue: data.queue, agent_id: None, ended: false };
        self.calls.lock().unwrap().insert(call.id, call.clone());
        Ok(call)
    }

    #[log_activity(type = "call_assigned", target = "call", id = call_id, metadata(agent_id))]
    async fn assign_call(&self, call_id: u64, agent_id: u64) -> CrudResult<Call> {
        let mut agents = self.agents.lock().unwrap();
        let agent = agents.get_mut(&agent_id).ok_or(CrudError::AgentNotFound(agent_id))?;
        if agent.status != AgentStatus::Available {
            return Err(CrudError::AgentUnavailable(agent_id));
        }
        let mut calls = self.calls.lock().unwrap();
        let call = calls.get_mut(&call_id).ok_or(CrudError::CallNotFound(call_id))?;
        call.agent_id = Some(agent_id);
        agent.status = AgentStatus::OnCall;
        Ok(call.clone())
    }

    #[log_activity(type = "call_ended", target = "call", id = call_id, description = "Call {call_id} ended: {reason}")]
    async fn end_call(&self, call_id: u64, reason: &str) -> CrudResult<()> {
        let mut calls = self.calls.lock().unwrap();
        let call = calls.get_mut(&call_id).ok_or(CrudError::CallNotFound(call_id))?;
        call.ended = true;
        Ok(())
    }

    #[log_activity(type = "call_deleted", target = "call", id = call_id, severity = "warning")]
    fn delete_call(&self, call_id: u64) -> CrudResult<Call> {
        self.calls.lock().unwrap().remove(&call_id).ok_or(CrudError::CallNotFound(call_id))
    }
}

/// One request's worth of work, as a handler would do it.
async fn handle_shift(center: &CallCenter) -> Result<(), CrudError> {
    let ada = center.create_agent("Ada").await?;
    center.set_agent_status(ada.id, AgentStatus::Available).await?;
    let call = center
        .create_call(CallCreate { caller: "+44 20 7946 0000".into(), queue: "sales".into(), pin: "1234".into() })
        .await?;
    center.assign_call(call.id, ada.id).await?;
    center.end_call(call.id, "resolved").await?;

    // Two failures: a call that does not exist, and a bad request.
    if let Err(e) = center.end_call(999, "hung up").await {
        println!("(expected) end_call failed: {e}");
    }
    let bad = CallCreate { caller: "+1 555 0100".into(), queue: "support".into(), pin: "12".into() };
    if let Err(e) = center.create_call(bad).await {
        println!("(expected) create_call failed: {e}");
    }
    center.delete_call(call.id)?;
    Ok(())
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    // The embedded store: a SQLite file (created, with its schema, on connect).
    let path = std::env::temp_dir().join("activity-log-crud.db");
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
    }
    let store = SqliteSink::connect(&format!("sqlite://{}", path.display())).await?;
    let logger = ActivityLogger::builder().sink(store.clone()).build()?;
    activity_log::set_global(logger.clone())?;

    let center = CallCenter::default();
    // Usually set per request by a middleware.
    let request = ActivityContext::new()
        .actor(Actor::user("supervisor-3").with_name("Grace"))
        .tenant("acme")
        .ip("203.0.113.9")
        .user_agent("crud-example/1.0")
        .request_id("req-0001");
    request.scope(handle_shift(&center)).await?;

    logger.flush().await?;
    let recorded =
        store.query(&ActivityFilter::new().tenant("acme").order(Order::OldestFirst), &PageRequest::first(100)).await?;
    println!("\nrecorded {} activities in {}:", recorded.items.len(), path.display());
    for a in recorded.items {
        let target = a.target.as_ref().map(|t| {
            format!(
                "{}:{}{}",
                t.kind,
                t.id.as_deref().unwrap_or("-"),
                t.name.as_deref().map(|n| format!(" ({n})")).unwrap_or_default()
            )
        });
        println!(
            "  {:<22} {:<8} target={:<18} actor={} tenant={} took={:?}{}{}{}",
            a.activity_type,
            a.outcome,
            target.unwrap_or_else(|| "-".into()),
            a.actor.as_ref().and_then(|x| x.id.as_deref()).unwrap_or("-"),
            a.tenant.as_deref().unwrap_or("-"),
            a.duration.unwrap_or_default(),
            a.error.as_deref().map(|e| format!(" error={e:?}")).unwrap_or_default(),
            a.description.as_deref().map(|d| format!(" description={d:?}")).unwrap_or_default(),
            if a.metadata.is_empty() {
                String::new()
            } else {
                format!(" metadata={}", serde_json::Value::Object(a.metadata.clone()))
            },
        );
    }

    let report = logger.shutdown(Duration::from_secs(5)).await;
    println!("\nshutdown: {} unwritten", report.unwritten);
    Ok(())
}

/// How to test your own annotated code: run it under a scoped in-memory
/// logger, then assert on what it recorded. Scopes are per task, so tests
/// can run in parallel without seeing each other's activities.
#[cfg(test)]
mod tests {
    use super::*;
    use activity_log::Outcome;

    #[tokio::test]
    async fn ending_a_missing_call_is_recorded_as_a_failure() {
        let (logger, sink) = ActivityLogger::in_memory();
        let center = CallCenter::default();
        let ctx = ActivityContext::new().actor(Actor::user("agent-7")).tenant("acme");

        let result = logger.scope(ctx.scope(center.end_call(41, "hung up"))).await;

        assert_eq!(result, Err(CrudError::CallNotFound(41)));
        logger.flush().await.unwrap();
        let ended = sink.assert_logged("call_ended");
        assert_eq!(ended.outcome, Outcome::Failure);
        assert_eq!(ended.error.as_deref(), Some("call 41 not found"));
        assert_eq!(ended.target.unwrap().id.as_deref(), Some("41"));
        assert_eq!(ended.description.as_deref(), Some("Call 41 ended: hung up"));
        assert_eq!(ended.actor.unwrap().id.as_deref(), Some("agent-7"));
        assert_eq!(ended.tenant.as_deref(), Some("acme"));
    }

    #[tokio::test]
    async fn a_shift_records_every_operation_and_never_the_pin() {
        let (logger, sink) = ActivityLogger::in_memory();
        let center = CallCenter::default();
        logger.scope(handle_shift(&center)).await.unwrap();
        logger.flush().await.unwrap();

        let types: Vec<_> = sink.activities().iter().map(|a| (a.activity_type.clone(), a.outcome)).collect();
        assert_eq!(
            types,
            [
                ("agent_created".to_owned(), Outcome::Success),
                ("agent_status_changed".to_owned(), Outcome::Success),
                ("call_created".to_owned(), Outcome::Success),
                ("call_assigned".to_owned(), Outcome::Success),
                ("call_ended".to_owned(), Outcome::Success),
                ("call_ended".to_owned(), Outcome::Failure),
                ("call_created".to_owned(), Outcome::Failure),
                ("call_deleted".to_owned(), Outcome::Success),
            ]
        );
        let created = sink.of_type("call_created");
        assert_eq!(created[0].metadata["queue"], "sales");
        assert_eq!(created[1].error.as_deref(), Some("invalid request: the PIN must have 4 digits"));
        assert!(sink.activities().iter().all(|a| !serde_json::to_string(a).unwrap().contains("1234")));
    }
}
