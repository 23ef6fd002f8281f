//! The OpenAPI 3.1 document of the router, generated from the handlers'
//! annotations (utoipa), served at `/openapi.json`.

use super::model::{
    ActivityPage, ActorCount, BucketCount, IngestActivity, IngestReceipt, RetentionRequest, RetentionResult, StatsBody,
};
use super::params::{BucketParam, FormatParam, OrderParam, OutcomeParam, SeverityParam};
use super::routes::*;
use super::Problem;
use crate::{Activity, Actor, ActorKind, Change, Outcome, Severity, Target};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

#[derive(OpenApi)]
#[openapi(
    info(title = "activity-log", description = "Who did what to which resource, when, from where and with what outcome."),
    paths(list, get_one, stats, export, stream, stream_ws, ingest, retention),
    components(schemas(
        Activity, Actor, ActorKind, Target, Change, Outcome, Severity, ActivityPage, StatsBody, ActorCount,
        BucketCount, IngestActivity, IngestReceipt, RetentionRequest, RetentionResult, Problem, OrderParam,
        OutcomeParam, SeverityParam, FormatParam, BucketParam
    )),
    modifiers(&Bearer),
    tags((name = "activities", description = "The log"), (name = "admin", description = "Retention"))
)]
struct ApiDoc;

struct Bearer;

impl Modify for Bearer {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

/// The router's OpenAPI 3.1 document (paths relative to where the router
/// is nested).
///
/// ```
/// let doc = activity_log::http::openapi();
/// assert!(doc.paths.paths.contains_key("/activities"));
/// ```
pub fn openapi() -> utoipa::openapi::OpenApi {
    ApiDoc::openapi()
}
