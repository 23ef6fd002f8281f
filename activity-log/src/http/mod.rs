//! HTTP (feature `axum`): [`ActivityLayer`] fills the ambient
//! [`ActivityContext`](crate::ActivityContext) from every request, and an axum
//! [`Router`](axum::Router) serves the log.
//!
//! The router ([`ActivityApi`], or [`router`] with the defaults):
//!
//! | method and path | what |
//! |---|---|
//! | `GET /activities` | a page of activities: filters, `limit` (1–1000), `cursor` or `offset`, `total=true` |
//! | `GET /activities/{id}` | one activity |
//! | `GET /activities/stats` | counts by type, target kind and outcome, top actors, a histogram |
//! | `GET /activities/export?format=csv\|json\|ndjson` | streamed export |
//! | `GET /activities/stream` | live tail, Server-Sent Events, `Last-Event-ID` resume |
//! | `GET /activities/ws` | the same over WebSocket |
//! | `POST /activities` | ingest one activity or an array (permission `ingest`) |
//! | `POST /activities/retention` | delete older than N days, or count in a dry run (permission `admin`) |
//! | `GET /openapi.json` | the OpenAPI 3.1 document |
//! | `GET /ui` | the log viewer page, with [`ActivityApi::viewer`] ([`ViewerTokens`]) |
//!
//! Every read is confined to the principal's tenant ([`TenantScope`]);
//! errors are RFC 9457 [`Problem`]s naming the parameter or field; an
//! unknown query parameter is a 400, so a typo never widens a query.
//!
//! ```no_run
//! use activity_log::http::{ActivityApi, Principal, StaticTokens};
//! use activity_log::ActivityLogger;
//!
//! # #[tokio::main] async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let (logger, store) = ActivityLogger::in_memory();
//! let auth = StaticTokens::new().token("acme-secret", Principal::tenant("acme-app", "acme").read());
//! let app = axum::Router::new().nest("/api/activity", ActivityApi::new(store, auth).logger(logger).router());
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:3000").await?;
//! axum::serve(listener, app).await?;
//! # Ok(()) }
//! ```

mod api;
mod api_request;
mod auth;
mod client_ip;
mod extract;
mod identify;
mod layer;
mod layer_service;
mod live;
mod model;
mod openapi;
mod params;
mod problem;
mod rate_limit;
mod request_context;
mod request_id;
mod responses;
mod routes;
mod traceparent;
mod viewer;

pub use api::{router, ActivityApi, DEFAULT_LIVE_BUFFER, DEFAULT_MAX_BATCH, DEFAULT_MAX_BODY_BYTES};
pub use api_request::UNMATCHED_ROUTE;
pub use auth::{
    bearer_token, AuthError, Authenticate, JwtAuth, JwtClaims, JwtError, Permissions, Principal, StaticTokens,
    TenantScope,
};
pub use client_ip::ProxyHeader;
pub use identify::{identify_fn, Identify, IdentifyFn, Identity};
pub use layer::{ActivityLayer, ActivityLayerBuilder, LayerError};
pub use layer_service::{ActivityService, ResponseFuture};
pub use live::LiveFeed;
pub use model::{
    ActivityPage, ActorCount, BucketCount, IngestActivity, IngestReceipt, RetentionRequest, RetentionResult, StatsBody,
};
pub use openapi::openapi;
pub use params::{
    BucketParam, ExportParams, FilterParams, FormatParam, OrderParam, OutcomeParam, PageParams, SeverityParam,
    StatsParams,
};
pub use problem::{Problem, PROBLEM_JSON};
pub use rate_limit::RateLimits;
pub use request_id::{MAX_REQUEST_ID_LEN, REQUEST_ID_HEADER};
pub use viewer::{
    InvalidFrameAncestor, Viewer, ViewerTokenError, ViewerTokens, MAX_VIEWER_TTL, MIN_SECRET_BYTES, VIEWER_TOKEN_PREFIX,
};
