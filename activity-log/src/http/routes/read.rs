//! `GET /activities`, `GET /activities/{id}`, `GET /activities/stats`.

use super::ApiState;
use crate::http::extract::Reader;
use crate::http::model::{ActivityPage, StatsBody};
use crate::http::params::{self, FilterParams, PageParams, Params, StatsParams};
use crate::http::responses::{BadQuery, ReadForbidden, ReadLimited, StoreDown, Unauthorized};
use crate::http::Problem;
use crate::Activity;
use axum::extract::{Path, RawQuery, State};
use axum::Json;
use std::sync::Arc;
use uuid::Uuid;

/// Lists activities, newest first by default.
#[utoipa::path(
    get, path = "/activities", tag = "activities",
    params(FilterParams, PageParams),
    responses(
        (status = 200, description = "One page of activities", body = ActivityPage),
        BadQuery,
        Unauthorized,
        ReadForbidden,
        ReadLimited,
        StoreDown,
    ),
    security(("bearer" = []))
)]
pub(crate) async fn list(
    State(state): State<Arc<ApiState>>,
    Reader(principal): Reader,
    RawQuery(query): RawQuery,
) -> Result<Json<ActivityPage>, Problem> {
    let mut p = Params::parse(query.as_deref());
    let order = params::order(&mut p)?;
    let filter = params::filter(&mut p, &principal)?.order(order);
    let page = params::page(&mut p, order)?;
    p.finish()?;
    Ok(Json(state.api.store.query(&filter, &page).await?.into()))
}

/// One activity by id.
#[utoipa::path(
    get, path = "/activities/{id}", tag = "activities",
    params(("id" = Uuid, Path, description = "The activity's id")),
    responses(
        (status = 200, description = "The activity", body = Activity),
        (status = 400, description = "The id is not a UUID, or a query parameter was given", body = Problem, content_type = "application/problem+json"),
        Unauthorized,
        (status = 403, description = "No read permission", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such activity in the principal's tenant", body = Problem, content_type = "application/problem+json"),
        ReadLimited,
        StoreDown,
    ),
    security(("bearer" = []))
)]
pub(crate) async fn get_one(
    State(state): State<Arc<ApiState>>,
    Reader(principal): Reader,
    Path(id): Path<String>,
    RawQuery(query): RawQuery,
) -> Result<Json<Activity>, Problem> {
    Params::parse(query.as_deref()).finish()?;
    let id = Uuid::try_parse(&id).map_err(|_| Problem::bad_parameter("id", "`id` must be a UUID"))?;
    let found = state.api.store.get(id, principal.tenant_id()).await?;
    let visible = |a: &Activity| {
        principal.actor.as_deref().map_or(true, |own| a.actor.as_ref().and_then(|x| x.id.as_deref()) == Some(own))
    };
    match found {
        Some(a) if visible(&a) => Ok(Json(a)),
        _ => Err(Problem::not_found("no activity with this id")),
    }
}

/// Exact counts over the matching activities: by type, target kind and
/// outcome, top actors, and a histogram.
#[utoipa::path(
    get, path = "/activities/stats", tag = "activities",
    params(FilterParams, StatsParams),
    responses(
        (status = 200, description = "The statistics", body = StatsBody),
        BadQuery,
        Unauthorized,
        ReadForbidden,
        ReadLimited,
        StoreDown,
    ),
    security(("bearer" = []))
)]
pub(crate) async fn stats(
    State(state): State<Arc<ApiState>>,
    Reader(principal): Reader,
    RawQuery(query): RawQuery,
) -> Result<Json<StatsBody>, Problem> {
    let mut p = Params::parse(query.as_deref());
    let filter = params::filter(&mut p, &principal)?;
    let request = params::stats(&mut p)?;
    p.finish()?;
    Ok(Json(state.api.store.stats(&filter, &request).await?.into()))
}
