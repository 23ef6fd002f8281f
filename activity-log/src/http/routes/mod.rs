//! The routes of the activity router.

mod export;
mod ingest;
mod read;
mod relay;
mod retention;
mod sse;
mod tail;
mod ws;

use super::api::ApiState;
use super::Problem;
use axum::routing::{get, post};
use axum::{Json, Router};
use std::sync::Arc;

pub(crate) use export::__path_export;
pub(crate) use ingest::__path_ingest;
pub(crate) use read::{__path_get_one, __path_list, __path_stats};
pub(crate) use relay::{Relay, Relayed};
pub(crate) use retention::__path_retention;
pub(crate) use sse::__path_stream;
pub(crate) use ws::__path_stream_ws;

pub(crate) fn router(state: Arc<ApiState>) -> Router {
    let router = Router::new()
        .route("/activities", get(read::list).post(ingest::ingest))
        .route("/activities/stats", get(read::stats))
        .route("/activities/export", get(export::export))
        .route("/activities/stream", get(sse::stream))
        .route("/activities/ws", get(ws::stream_ws))
        .route("/activities/retention", post(retention::retention))
        .route("/activities/{id}", get(read::get_one))
        .route("/openapi.json", get(|| async { Json(super::openapi()) }));
    let router = if state.api.viewer.is_some() { super::viewer::routes(router) } else { router };
    router
        .fallback(|| async { Problem::not_found("no such endpoint") })
        .method_not_allowed_fallback(|| async {
            Problem::new(axum::http::StatusCode::METHOD_NOT_ALLOWED, "this endpoint does not take that method")
        })
        .with_state(state)
}
