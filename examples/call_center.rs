//! The call-centre API of the FastAPI service this library replaces, in
//! axum: agents, calls and connectors, whose create/update/delete handlers
//! call `#[log_activity]` functions. The `ActivityLayer` fills each
//! request's context (request id, client ip, user agent, trace id, and the
//! agent and tenant of the bearer token); the activity router is nested
//! under `/api/activity`.
//!
//! ```sh
//! cargo run -p activity-log-examples --example call_center    # serves 127.0.0.1:3000
//! ```
//!
//! SQLite (a file in the system's temp dir) by default; PostgreSQL when
//! `DATABASE_URL` is set. `PORT` changes the port. Two tenants' tokens are
//! printed at start.

use activity_log::http::{
    ActivityApi, ActivityLayer, Authenticate, Identify, Identity, Principal, RateLimits, StaticTokens,
};
use activity_log::query::ActivityStore;
use activity_log::{log_activity, ActivityLogger, Actor, Sink, Target};
use axum::extract::{Path, State};
use axum::http::request::Parts;
use axum::http::StatusCode;
use axum::routing::{get, put};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

/// The demo's bearer tokens: the app's own API and the activity router
/// accept the same ones.
fn tokens() -> StaticTokens {
    StaticTokens::new()
        .token("acme-agent-token", Principal::tenant("agent-7", "acme").read().ingest())
        .token("globex-agent-token", Principal::tenant("agent-9", "globex").read().ingest())
        .token("ops-admin-token", Principal::all_tenants("ops").read().ingest().admin())
}

/// The layer's identifier: the agent and tenant of the bearer token.
struct BearerIdentity(StaticTokens);

impl Identify for BearerIdentity {
    async fn identify(&self, parts: &Parts) -> Identity {
        match self.0.authenticate(parts).await {
            Ok(p) => {
                let identity = Identity::anonymous().actor(Actor::user(p.id.clone()));
                match p.tenant_id() {
                    Some(t) => identity.tenant(t),
                    None => identity,
                }
            }
            Err(_) => Identity::anonymous(),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Agent {
    id: u64,
    name: String,
    status: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Call {
    id: u64,
    caller: String,
    queue: String,
    agent_id: Option<u64>,
    status: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Connector {
    id: u64,
    kind: String,
    name: String,
}

#[derive(Debug, Deserialize)]
struct NewAgent {
    name: String,
}

#[derive(Debug, Deserialize)]
struct AgentUpdate {
    status: String,
}

#[derive(Debug, Deserialize)]
struct NewCall {
    caller: String,
    queue: String,
}

#[derive(Debug, Deserialize)]
struct CallUpdate {
    agent_id: Option<u64>,
    status: Option<String>,
}

#[derive(Debug, Deserialize)]
struct NewConnector {
    kind: String,
    name: String,
    /// A credential: never recorded, because the attribute records only
    /// what it is told to.
    #[allow(dead_code)]
    api_key: String,
}

/// The business data, per tenant (a real service keeps it in its database).
#[derive(Default)]
struct Db {
    next_id: AtomicU64,
    agents: Mutex<BTreeMap<(String, u64), Agent>>,
    calls: Mutex<BTreeMap<(String, u64), Call>>,
    connectors: Mutex<BTreeMap<(String, u64), Connector>>,
}

#[derive(Debug)]
enum AppError {
    NotFound(&'static str, u64),
    Unauthorized,
}

impl std::fmt::Display for AppError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            AppError::NotFound(what, id) => write!(f, "{what} {id} not found"),
            AppError::Unauthorized => f.write_str("send `Authorization: Bearer <token>`"),
        }
    }
}

impl std::error::Error for AppError {}

impl axum::response::IntoResponse for AppError {
    fn into_response(self) -> axum::response::Response {
        let status = match self {
            AppError::NotFound(..) => StatusCode::NOT_FOUND,
            AppError::Unauthorized => StatusCode::UNAUTHORIZED,
        };
        (status, Json(serde_json::json!({ "detail": self.to_string() }))).into_response()
    }
}

/// The tenant of the request, from the context the layer filled.
fn tenant() -> Result<String, AppError> {
    activity_log::ActivityContext::current().and_then(|c| c.tenant.clone()).ok_or(AppError::Unauthorized)
}

impl Db {
    fn id(&self) -> u64 {
        self.next_id.fetch_add(1, Ordering::Relaxed) + 1
    }

    #[log_activity(type = "agent_created", target = "agent", id = ret.id, metadata(name = ret.name))]
    fn create_agent(&self, new: NewAgent) -> Result<Agent, AppError> {
        let agent = Agent { id: self.id(), name: new.name, status: "offline".into() };
        self.agents.lock().unwrap().insert((tenant()?, agent.id), agent.clone());
        Ok(agent)
    }

    #[log_activity(type = "agent_status_changed", target = "agent", id = id, metadata(status = ret.status))]
    fn update_agent(&self, id: u64, update: AgentUpdate) -> Result<Agent, AppError> {
        let mut agents = self.agents.lock().unwrap();
        let agent = agents.get_mut(&(tenant()?, id)).ok_or(AppError::NotFound("agent", id))?;
        agent.status = update.status;
        Ok(agent.clone())
    }

    #[log_activity(type = "agent_deleted", target = "agent", id = id, severity = "warning")]
    fn delete_agent(&self, id: u64) -> Result<(), AppError> {
        self.agents.lock().unwrap().remove(&(tenant()?, id)).map(drop).ok_or(AppError::NotFound("agent", id))
    }

    #[log_activity(type = "call_created", target = "call", id = ret.id, metadata(queue = ret.queue))]
    async fn create_call(&self, new: NewCall) -> Result<Call, AppError> {
        let call =
            Call { id: self.id(), caller: new.caller, queue: new.queue, agent_id: None, status: "ringing".into() };
        self.calls.lock().unwrap().insert((tenant()?, call.id), call.clone());
        Ok(call)
    }

    #[log_activity(type = "call_updated", target = "call", id = id)]
    async fn update_call(&self, id: u64, update: CallUpdate) -> Result<Call, AppError> {
        let mut calls = self.calls.lock().unwrap();
        let call = calls.get_mut(&(tenant()?, id)).ok_or(AppError::NotFound("call", id))?;
        let before = call.clone();
        if let Some(agent) = update.agent_id {
            call.agent_id = Some(agent);
        }
        if let Some(status) = update.status {
            call.status = status;
        }
        // A data change with its before/after diff, logged by hand.
        activity_log::log_async(
            activity_log::Activity::data_change(
                "call_record_changed",
                Target::new("call", id.to_string()),
                &before,
                &*call,
            )
            .description("call record changed"),
        );
        Ok(call.clone())
    }

    #[log_activity(type = "call_deleted", target = "call", id = id, severity = "warning")]
    async fn delete_call(&self, id: u64) -> Result<(), AppError> {
        self.calls.lock().unwrap().remove(&(tenant()?, id)).map(drop).ok_or(AppError::NotFound("call", id))
    }

    #[log_activity(type = "connector_created", target = "connector", id = ret.id, metadata(kind = ret.kind))]
    async fn create_connector(&self, new: NewConnector) -> Result<Connector, AppError> {
        let c = Connector { id: self.id(), kind: new.kind, name: new.name };
        self.connectors.lock().unwrap().insert((tenant()?, c.id), c.clone());
        Ok(c)
    }

    #[log_activity(type = "connector_deleted", target = "connector", id = id, severity = "warning")]
    async fn delete_connector(&self, id: u64) -> Result<(), AppError> {
        self.connectors.lock().unwrap().remove(&(tenant()?, id)).map(drop).ok_or(AppError::NotFound("connector", id))
    }

    fn list<T: Clone>(map: &Mutex<BTreeMap<(String, u64), T>>) -> Result<Vec<T>, AppError> {
        let t = tenant()?;
        Ok(map.lock().unwrap().iter().filter(|((tt, _), _)| *tt == t).map(|(_, v)| v.clone()).collect())
    }
}

type AppState = State<Arc<Db>>;

async fn list_agents(State(db): AppState) -> Result<Json<Vec<Agent>>, AppError> {
    Db::list(&db.agents).map(Json)
}
async fn create_agent(State(db): AppState, Json(new): Json<NewAgent>) -> Result<(StatusCode, Json<Agent>), AppError> {
    db.create_agent(new).map(|a| (StatusCode::CREATED, Json(a)))
}
async fn update_agent(
    State(db): AppState,
    Path(id): Path<u64>,
    Json(u): Json<AgentUpdate>,
) -> Result<Json<Agent>, AppError> {
    db.update_agent(id, u).map(Json)
}
async fn delete_agent(State(db): AppState, Path(id): Path<u64>) -> Result<StatusCode, AppError> {
    db.delete_agent(id).map(|()| StatusCode::NO_CONTENT)
}
async fn list_calls(State(db): AppState) -> Result<Json<Vec<Call>>, AppError> {
    Db::list(&db.calls).map(Json)
}
async fn create_call(State(db): AppState, Json(new): Json<NewCall>) -> Result<(StatusCode, Json<Call>), AppError> {
    db.create_call(new).await.map(|c| (StatusCode::CREATED, Json(c)))
}
async fn update_call(
    State(db): AppState,
    Path(id): Path<u64>,
    Json(u): Json<CallUpdate>,
) -> Result<Json<Call>, AppError> {
    db.update_call(id, u).await.map(Json)
}
async fn delete_call(State(db): AppState, Path(id): Path<u64>) -> Result<StatusCode, AppError> {
    db.delete_call(id).await.map(|()| StatusCode::NO_CONTENT)
}
async fn list_connectors(State(db): AppState) -> Result<Json<Vec<Connector>>, AppError> {
    Db::list(&db.connectors).map(Json)
}
async fn create_connector(
    State(db): AppState,
    Json(new): Json<NewConnector>,
) -> Result<(StatusCode, Json<Connector>), AppError> {
    db.create_connector(new).await.map(|c| (StatusCode::CREATED, Json(c)))
}
async fn delete_connector(State(db): AppState, Path(id): Path<u64>) -> Result<StatusCode, AppError> {
    db.delete_connector(id).await.map(|()| StatusCode::NO_CONTENT)
}

/// The store: PostgreSQL when `DATABASE_URL` is set, else a SQLite file.
async fn store() -> Result<(Arc<dyn ActivityStore>, Box<dyn Sink>), Box<dyn std::error::Error>> {
    #[cfg(feature = "postgres")]
    if let Ok(url) = std::env::var("DATABASE_URL") {
        let pg = activity_log::postgres::PostgresSink::connect(&url).await?;
        println!("activity store: PostgreSQL");
        return Ok((Arc::new(pg.clone()), Box::new(pg)));
    }
    let path = std::env::temp_dir().join("activity-log-call-center.db");
    let sqlite = activity_log::sqlite::SqliteSink::connect(&format!("sqlite://{}", path.display())).await?;
    println!("activity store: SQLite at {}", path.display());
    Ok((Arc::new(sqlite.clone()), Box::new(sqlite)))
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let (store, sink) = store().await?;
    let logger = ActivityLogger::builder().sink(sink).build()?;
    activity_log::set_global(logger.clone())?;

    let layer = ActivityLayer::builder()
        .identify(BearerIdentity(tokens()))
        .record_requests(true)
        .skip_route("/health")
        .logger(logger.clone())
        .build()?;
    // RATE_LIMIT=n: n reads and n writes a minute per principal (default
    // 200 reads, 100 writes).
    let limits = match std::env::var("RATE_LIMIT").ok().and_then(|n| n.parse().ok()) {
        Some(n) => RateLimits::new(n, n),
        None => RateLimits::default(),
    };
    let activity =
        ActivityApi::from_arcs(store, Arc::new(tokens())).logger(logger.clone()).rate_limits(limits).router();
    let app = Router::new()
        .route("/api/agents", get(list_agents).post(create_agent))
        .route("/api/agents/{id}", put(update_agent).delete(delete_agent))
        .route("/api/calls", get(list_calls).post(create_call))
        .route("/api/calls/{id}", put(update_call).delete(delete_call))
        .route("/api/connectors", get(list_connectors).post(create_connector))
        .route("/api/connectors/{id}", axum::routing::delete(delete_connector))
        .route("/health", get(|| async { "ok" }))
        .with_state(Arc::new(Db::default()))
        .nest("/api/activity", activity)
        .layer(layer);

    let port: u16 = std::env::var("PORT").ok().and_then(|p| p.parse().ok()).unwrap_or(3000);
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
    println!("call centre API on http://{}", listener.local_addr()?);
    println!("  tenant acme:   Authorization: Bearer acme-agent-token");
    println!("  tenant globex: Authorization: Bearer globex-agent-token");
    println!("  operator:      Authorization: Bearer ops-admin-token (every tenant, retention)");
    axum::serve(listener, app.into_make_service_with_connect_info::<SocketAddr>())
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await?;
    let report = logger.shutdown(std::time::Duration::from_secs(5)).await;
    println!("shut down: {} activities written, {} unwritten", report.stats.written, report.unwritten);
    Ok(())
}
