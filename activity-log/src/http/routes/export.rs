//! `GET /activities/export`: streamed as the store reads it.

use super::ApiState;
use crate::http::extract::Reader;
use crate::http::params::{self, ExportParams, FilterParams, Params};
use crate::http::responses::{BadQuery, ReadForbidden, ReadLimited, Unauthorized};
use crate::http::Problem;
use crate::query::ExportFormat;
use axum::body::Body;
use axum::extract::{RawQuery, State};
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use futures_util::StreamExt;
use std::sync::Arc;
use tokio::io::AsyncWriteExt;
use tokio_util::io::ReaderStream;

/// How much of an export may wait between the store and the connection.
const PIPE_BYTES: usize = 64 * 1024;

/// Exports the matching activities as CSV, a JSON array or NDJSON. The
/// body is streamed (chunked) while the store is read: the export is never
/// held in memory whole. A store error midway aborts the body, so a client
/// never mistakes a cut export for a complete one.
#[utoipa::path(
    get, path = "/activities/export", tag = "activities",
    params(FilterParams, ExportParams),
    responses(
        (status = 200, description = "The export, as an attachment",
            content(
                (String = "text/csv"),
                (Vec<crate::Activity> = "application/json"),
                (String = "application/x-ndjson"),
            )),
        BadQuery,
        Unauthorized,
        ReadForbidden,
        ReadLimited,
    ),
    security(("bearer" = []))
)]
pub(crate) async fn export(
    State(state): State<Arc<ApiState>>,
    Reader(principal): Reader,
    RawQuery(query): RawQuery,
) -> Result<Response, Problem> {
    let mut p = Params::parse(query.as_deref());
    let order = params::order(&mut p)?;
    let filter = params::filter(&mut p, &principal)?.order(order);
    let format = params::format(&mut p)?;
    p.finish()?;

    let (mut writer, reader) = tokio::io::duplex(PIPE_BYTES);
    let (done_tx, done_rx) = tokio::sync::oneshot::channel();
    let store = Arc::clone(&state.api.store);
    tokio::spawn(async move {
        let result = store.export(&filter, format, &mut writer).await;
        let result = match result {
            Ok(_) => writer.shutdown().await.map_err(crate::query::QueryError::from),
            Err(e) => Err(e),
        };
        if let Err(e) = &result {
            tracing::warn!(error = %e, "activity export ended early");
        }
        let _ = done_tx.send(result);
    });
    // The pipe's end is a clean end only if the export said so.
    let outcome = futures_util::stream::once(async move {
        match done_rx.await {
            Ok(Ok(())) => None,
            _ => Some(Err(std::io::Error::other("the export ended early"))),
        }
    })
    .filter_map(std::future::ready);
    let body = Body::from_stream(ReaderStream::new(reader).chain(outcome));

    let extension = match format {
        ExportFormat::Csv => "csv",
        ExportFormat::Json => "json",
        _ => "ndjson",
    };
    let filename =
        format!("attachment; filename=\"activities-{}.{extension}\"", chrono::Utc::now().format("%Y%m%dT%H%M%SZ"));
    let mut response = body.into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(format.content_type()));
    if let Ok(v) = HeaderValue::from_str(&filename) {
        headers.insert(header::CONTENT_DISPOSITION, v);
    }
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(response)
}
