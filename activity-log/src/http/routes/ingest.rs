//! `POST /activities`: ingest from other services.

use super::ApiState;
use crate::http::extract::{shape, Ingester, JsonBody};
use crate::http::model::{IngestActivity, IngestReceipt};
use crate::http::responses::{Unauthorized, WriteLimited};
use crate::http::{Principal, Problem};
use crate::{Activity, Error};
use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::Json;
use serde_json::Value;
use std::sync::Arc;
use std::time::Duration;

/// Accepts one activity or an array of them, validated with the library's
/// own rules; a request is accepted whole or refused whole. They go
/// through the server's logger like its own activities (batching, spill,
/// accounting): `202` means queued, not yet stored. The tenant is the
/// principal's: naming another is a `403`.
#[utoipa::path(
    post, path = "/activities", tag = "activities",
    request_body(content = IngestActivity, description = "One activity, or an array of them", content_type = "application/json"),
    responses(
        (status = 202, description = "Accepted and queued", body = IngestReceipt),
        (status = 400, description = "Malformed JSON, or a query parameter was given", body = Problem, content_type = "application/problem+json"),
        Unauthorized,
        (status = 403, description = "Another tenant, or no ingest permission", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "The body or the batch is too large", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "The body is not application/json", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "An activity is invalid (the field is named)", body = Problem, content_type = "application/problem+json"),
        WriteLimited,
        (status = 503, description = "The logger is not accepting activities", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub(crate) async fn ingest(
    State(state): State<Arc<ApiState>>,
    Ingester(principal): Ingester,
    RawQuery(query): RawQuery,
    JsonBody(body): JsonBody,
) -> Result<(StatusCode, Json<IngestReceipt>), Problem> {
    crate::http::params::Params::parse(query.as_deref()).finish()?;
    let items = match body {
        Value::Array(items) => items.into_iter().enumerate().map(|(i, v)| (format!("[{i}]"), v)).collect(),
        single => vec![(String::new(), single)],
    };
    if items.is_empty() {
        return Err(Problem::bad_field("body", "the array holds no activities"));
    }
    if items.len() > state.api.max_batch {
        return Err(Problem::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("{} activities in one request; the limit is {}", items.len(), state.api.max_batch),
        ));
    }
    let activities = items
        .into_iter()
        .map(|(at, value)| accept(&principal, &at, shape::<IngestActivity>(value, &at)?))
        .collect::<Result<Vec<_>, Problem>>()?;
    let logger = state.logger().ok_or_else(|| unavailable("no activity logger is installed on this server"))?;
    let mut ids = Vec::with_capacity(activities.len());
    for activity in activities {
        match logger.try_log_async(activity) {
            Ok(id) => ids.push(id),
            Err(Error::Invalid(e)) => return Err(Problem::bad_field(e.field().to_owned(), e.to_string())),
            Err(e) => {
                return Err(unavailable(&format!(
                    "{e}; the first {} activities of this request were accepted",
                    ids.len()
                )))
            }
        }
    }
    Ok((StatusCode::ACCEPTED, Json(IngestReceipt { accepted: ids.len(), ids })))
}

/// Fills in and checks one activity: the principal's tenant, valid fields.
fn accept(principal: &Principal, at: &str, item: IngestActivity) -> Result<Activity, Problem> {
    let mut activity = item.into_activity().map_err(|e| {
        let field = if at.is_empty() { e.field().to_owned() } else { format!("{at}.{}", e.field()) };
        Problem::bad_field(field, e.to_string())
    })?;
    if let Some(own) = principal.tenant_id() {
        match activity.tenant.as_deref() {
            Some(named) if named != own => {
                return Err(Problem::forbidden("this principal may ingest only into its own tenant"));
            }
            _ => activity.tenant = Some(own.to_owned()),
        }
    }
    Ok(activity)
}

fn unavailable(detail: &str) -> Problem {
    Problem::retry_later(StatusCode::SERVICE_UNAVAILABLE, Duration::from_secs(1), detail)
}
