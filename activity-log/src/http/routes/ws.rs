//! `GET /activities/ws`: the live tail over WebSocket.

use super::sse::{no_feed, tail_request, WRITE_BATCH};
use super::tail::{tail, TailEvent};
use super::ApiState;
use crate::http::extract::Reader;
use crate::http::params::FilterParams;
use crate::http::responses::{ReadForbidden, ReadLimited, Unauthorized};
use crate::http::Problem;
use axum::extract::ws::{Message, Utf8Bytes, WebSocket, WebSocketUpgrade};
use axum::extract::{RawQuery, State};
use axum::http::HeaderMap;
use axum::response::Response;
use futures_util::{SinkExt, StreamExt};
use std::sync::Arc;

/// The live tail over WebSocket: one JSON text message per event,
/// `{"type":"activity","id":..,"activity":{..}}`, `{"type":"lagged","missed":n}`
/// or `{"type":"error","detail":..}`. Resume with `last_event_id=`.
#[utoipa::path(
    get, path = "/activities/ws", tag = "activities",
    params(FilterParams,
        ("last_event_id" = Option<String>, Query, min_length = 1, description = "Resume after this event id")),
    responses(
        (status = 101, description = "Switching to the WebSocket protocol"),
        (status = 400, description = "Not a WebSocket upgrade, or a query parameter is unknown or invalid", body = Problem, content_type = "application/problem+json"),
        Unauthorized,
        ReadForbidden,
        ReadLimited,
        (status = 503, description = "No live source is configured", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub(crate) async fn stream_ws(
    State(state): State<Arc<ApiState>>,
    Reader(principal): Reader,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
    upgrade: Result<WebSocketUpgrade, axum::extract::ws::rejection::WebSocketUpgradeRejection>,
) -> Result<Response, Problem> {
    let (filter, resume) = tail_request(&principal, query.as_deref(), &headers)?;
    let upgrade = upgrade.map_err(|e| Problem::new(axum::http::StatusCode::BAD_REQUEST, e.body_text()))?;
    let rx = state.subscribe().ok_or_else(no_feed)?;
    Ok(upgrade.on_upgrade(move |socket| serve(socket, tail(state, filter, rx, resume))))
}

async fn serve(socket: WebSocket, events: impl futures_util::Stream<Item = TailEvent> + Send) {
    let (mut tx, mut rx) = socket.split();
    // Whatever is ready goes out in one write.
    let mut events = std::pin::pin!(events.ready_chunks(WRITE_BATCH));
    loop {
        tokio::select! {
            batch = events.next() => {
                let Some(batch) = batch else { break };
                for event in batch {
                    if tx.feed(Message::Text(text(event))).await.is_err() {
                        return;
                    }
                }
                if tx.flush().await.is_err() {
                    break;
                }
            }
            incoming = rx.next() => match incoming {
                Some(Ok(Message::Close(_))) | None | Some(Err(_)) => break,
                Some(Ok(_)) => {}
            }
        }
    }
}

/// One event as a WebSocket message's text.
fn text(event: TailEvent) -> Utf8Bytes {
    match event {
        TailEvent::Activity(e) => e.ws_text(),
        TailEvent::Lagged(n) => serde_json::json!({"type": "lagged", "missed": n}).to_string().into(),
        TailEvent::Failed(e) => serde_json::json!({"type": "error", "detail": e}).to_string().into(),
    }
}
