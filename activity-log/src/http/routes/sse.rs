//! `GET /activities/stream`: the live tail as Server-Sent Events.

use super::tail::{resume_point, tail, TailEvent};
use super::ApiState;
use crate::http::extract::Reader;
use crate::http::params::{self, FilterParams, Params};
use crate::http::Problem;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use futures_util::StreamExt;
use std::sync::Arc;
use std::time::Duration;

/// A live tail of the matching activities as Server-Sent Events: `event:
/// activity` with the activity as JSON and an `id`; `event: lagged` with
/// `{"missed": n}` when the client fell behind (the server keeps a bounded
/// buffer per client, never more). Reconnect with `Last-Event-ID` (or
/// `last_event_id=`) to resume from the store without a gap.
#[utoipa::path(
    get, path = "/activities/stream", tag = "activities",
    params(FilterParams,
        ("last_event_id" = Option<String>, Query, min_length = 1, description = "Resume after this event id (as the `Last-Event-ID` header)"),
        ("Last-Event-ID" = Option<String>, Header, description = "Resume after this event id")),
    responses(
        (status = 200, description = "An endless event stream: `activity`, `lagged` and `error` events", content_type = "text/event-stream"),
        (status = 400, description = "A query parameter is unknown or invalid", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No or bad credentials", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Another tenant, or no read permission", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "Over the read rate limit", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "No live source is configured", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub(crate) async fn stream(
    State(state): State<Arc<ApiState>>,
    Reader(principal): Reader,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Result<Response, Problem> {
    let (filter, resume) = tail_request(&principal, query.as_deref(), &headers)?;
    let rx = state.subscribe().ok_or_else(no_feed)?;
    let events = tail(state, filter, rx, resume).map(|event| {
        Ok::<_, std::convert::Infallible>(match event {
            TailEvent::Activity { event_id, activity } => Event::default()
                .event("activity")
                .id(event_id)
                .json_data(&activity)
                .unwrap_or_else(|_| Event::default().event("error").data("could not encode an activity")),
            TailEvent::Lagged(n) => Event::default().event("lagged").data(format!("{{\"missed\":{n}}}")),
            TailEvent::Failed(e) => Event::default().event("error").data(e),
        })
    });
    Ok(Sse::new(events).keep_alive(KeepAlive::new().interval(Duration::from_secs(15))).into_response())
}

/// The filter and resume point of a stream request.
pub(super) fn tail_request(
    principal: &crate::http::Principal,
    query: Option<&str>,
    headers: &HeaderMap,
) -> Result<(crate::query::ActivityFilter, Option<crate::query::Cursor>), Problem> {
    let mut p = Params::parse(query);
    let filter = params::filter(&mut p, principal)?;
    let from_query = params::take_one(&mut p, "last_event_id")?;
    p.finish()?;
    let from_header = headers.get("last-event-id").and_then(|v| v.to_str().ok()).map(str::to_owned);
    let resume =
        match from_query.or(from_header) {
            None => None,
            Some(text) => Some(resume_point(&text).ok_or_else(|| {
                Problem::bad_parameter("last_event_id", "the last event id is not one this stream sent")
            })?),
        };
    Ok((filter, resume))
}

pub(super) fn no_feed() -> Problem {
    Problem::new(StatusCode::SERVICE_UNAVAILABLE, "no live source is configured for this server")
}
