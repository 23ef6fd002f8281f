//! `GET /activities/stream`: the live tail as Server-Sent Events.

use super::relay::sse_error;
use super::tail::{resume_point, tail, TailEvent};
use super::ApiState;
use crate::http::extract::Reader;
use crate::http::params::{self, FilterParams, Params};
use crate::http::responses::{BadQuery, ReadForbidden, ReadLimited, Unauthorized};
use crate::http::Problem;
use axum::body::{Body, Bytes};
use axum::extract::{RawQuery, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use futures_util::{Stream, StreamExt};
use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{ready, Context, Poll};
use std::time::Duration;
use tokio::time::{Instant, Sleep};

/// How long a quiet stream waits before it sends a comment, so proxies
/// and clients keep the connection.
const KEEP_ALIVE: Duration = Duration::from_secs(15);

/// The most events written to the socket at once: whatever is ready, up
/// to this, goes out in one write.
pub(super) const WRITE_BATCH: usize = 256;

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
        BadQuery,
        Unauthorized,
        ReadForbidden,
        ReadLimited,
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
    let chunks = tail(state, filter, rx, resume).ready_chunks(WRITE_BATCH).map(|events| frames(&events));
    let headers = [(header::CONTENT_TYPE, "text/event-stream"), (header::CACHE_CONTROL, "no-cache")];
    Ok((headers, Body::from_stream(KeepAlive::new(chunks))).into_response())
}

/// Events ready together, as one chunk.
fn frames(events: &[TailEvent]) -> Bytes {
    if let [one] = events {
        return frame(one);
    }
    let mut chunk = Vec::new();
    for event in events {
        chunk.extend_from_slice(&frame(event));
    }
    chunk.into()
}

/// One event as Server-Sent Events.
fn frame(event: &TailEvent) -> Bytes {
    match event {
        TailEvent::Activity(e) => e.sse_frame(),
        TailEvent::Lagged(n) => format!("event: lagged\ndata: {{\"missed\":{n}}}\n\n").into(),
        TailEvent::Failed(e) => sse_error(e),
    }
}

pin_project_lite::pin_project! {
    /// The event chunks, with a comment after [`KEEP_ALIVE`] of quiet.
    struct KeepAlive<S> {
        #[pin]
        chunks: S,
        #[pin]
        quiet: Sleep,
    }
}

impl<S> KeepAlive<S> {
    fn new(chunks: S) -> Self {
        Self { chunks, quiet: tokio::time::sleep(KEEP_ALIVE) }
    }
}

impl<S: Stream<Item = Bytes>> Stream for KeepAlive<S> {
    type Item = Result<Bytes, Infallible>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let mut this = self.project();
        let chunk = match this.chunks.poll_next(cx) {
            Poll::Ready(chunk) => chunk,
            Poll::Pending => {
                ready!(this.quiet.as_mut().poll(cx));
                Some(Bytes::from_static(b": keep-alive\n\n"))
            }
        };
        this.quiet.reset(Instant::now() + KEEP_ALIVE);
        Poll::Ready(chunk.map(Ok))
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn a_quiet_stream_gets_a_comment_and_events_pass_through() {
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel::<Bytes>();
        let chunks = futures_util::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|b| (b, rx)) });
        let mut stream = std::pin::pin!(KeepAlive::new(chunks));
        tx.send(Bytes::from_static(b"event: activity\n\n")).expect("sent");
        assert_eq!(stream.next().await.expect("an item").expect("infallible"), "event: activity\n\n");
        let started = Instant::now();
        let comment = stream.next().await.expect("an item").expect("infallible");
        assert_eq!((comment, started.elapsed()), (Bytes::from_static(b": keep-alive\n\n"), KEEP_ALIVE));
        drop(tx);
        assert!(stream.next().await.is_none(), "the stream ends with its events");
    }

    #[test]
    fn events_ready_together_make_one_chunk() {
        let chunk = frames(&[TailEvent::Lagged(3), TailEvent::Failed("store down".into())]);
        assert_eq!(&chunk[..], b"event: lagged\ndata: {\"missed\":3}\n\nevent: error\ndata: store down\n\n");
    }
}
