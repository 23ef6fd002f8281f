//! `POST /activities/retention`: delete what is older than N days.

use super::ApiState;
use crate::http::extract::{shape, Admin, JsonBody};
use crate::http::model::{RetentionRequest, RetentionResult};
use crate::http::params::Params;
use crate::http::responses::{StoreDown, Unauthorized, WriteLimited};
use crate::http::Problem;
use crate::query::ActivityFilter;
use axum::extract::{RawQuery, State};
use axum::Json;
use chrono::Utc;
use std::sync::Arc;

/// Deletes the activities older than `older_than_days` (of the admin's
/// tenant, or for an all-tenants admin of `tenant` or of every tenant);
/// with `dry_run`, only counts them.
#[utoipa::path(
    post, path = "/activities/retention", tag = "admin",
    request_body(content = RetentionRequest, content_type = "application/json"),
    responses(
        (status = 200, description = "What was (or would be) deleted", body = RetentionResult),
        (status = 400, description = "Malformed JSON, or a query parameter was given", body = Problem, content_type = "application/problem+json"),
        Unauthorized,
        (status = 403, description = "Not an admin, or another tenant", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "The body is too large", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "The body is not application/json", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A field is invalid (named)", body = Problem, content_type = "application/problem+json"),
        WriteLimited,
        StoreDown,
    ),
    security(("bearer" = []))
)]
pub(crate) async fn retention(
    State(state): State<Arc<ApiState>>,
    Admin(principal): Admin,
    RawQuery(query): RawQuery,
    JsonBody(body): JsonBody,
) -> Result<Json<RetentionResult>, Problem> {
    Params::parse(query.as_deref()).finish()?;
    let request: RetentionRequest = shape(body, "")?;
    if !(1..=36_500).contains(&request.older_than_days) {
        return Err(Problem::bad_field("older_than_days", "`older_than_days` must be 1 to 36500"));
    }
    let tenant = match (principal.tenant_id(), request.tenant) {
        (Some(own), Some(named)) if named != own => {
            return Err(Problem::forbidden("this principal may administer only its own tenant"));
        }
        (Some(own), _) => Some(own.to_owned()),
        (None, named) => named,
    };
    let cutoff = Utc::now() - chrono::Duration::days(request.older_than_days.into());
    let store = &state.api.store;
    let count = if request.dry_run {
        let mut filter = ActivityFilter::new().until(cutoff);
        filter.tenant = tenant;
        store.count(&filter).await?
    } else {
        store.delete_before(cutoff, tenant.as_deref()).await?
    };
    Ok(Json(RetentionResult { dry_run: request.dry_run, cutoff, count }))
}
