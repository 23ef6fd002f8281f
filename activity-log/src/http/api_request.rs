//! The optional `api_request` activity recorded for each request.

use crate::context::fill_from_shared;
use crate::{Activity, ActivityContext, ActivityLogger};
use axum::extract::MatchedPath;
use http::request::Parts;
use http::Method;
use std::sync::Arc;
use std::time::Instant;

/// The route recorded when the request carries no [`MatchedPath`] (the
/// layer wraps a whole router rather than its routes, a fallback answered,
/// or the service is not axum's): the raw path may hold ids and is never
/// recorded.
pub const UNMATCHED_ROUTE: &str = "(unmatched)";

/// A predicate choosing the requests that are not recorded.
pub(crate) type SkipWhen = Arc<dyn Fn(&Parts) -> bool + Send + Sync>;

/// What to record and where.
#[derive(Clone)]
pub(crate) struct Recording {
    pub(crate) skip_routes: Vec<Box<str>>,
    pub(crate) skip_when: Option<SkipWhen>,
    pub(crate) logger: Option<ActivityLogger>,
}

impl std::fmt::Debug for Recording {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Recording")
            .field("skip_routes", &self.skip_routes)
            .field("skip_when", &self.skip_when.as_ref().map(|_| "Fn(&Parts) -> bool"))
            .field("logger", &self.logger.as_ref().map(|_| "ActivityLogger"))
            .finish()
    }
}

/// A request being recorded: what is known before the response.
#[derive(Debug)]
pub(crate) struct Pending {
    method: Method,
    route: Option<MatchedPath>,
    start: Instant,
}

impl Recording {
    /// Starts recording the request whose head is `parts`, unless it is
    /// skipped: its route (or, without one, its path) is one of the skipped
    /// routes, or the predicate says so.
    pub(crate) fn start(&self, parts: &Parts, start: Instant) -> Option<Pending> {
        let route = parts.extensions.get::<MatchedPath>();
        let path = route.map_or(parts.uri.path(), MatchedPath::as_str);
        if self.skip_routes.iter().any(|skip| **skip == *path) {
            return None;
        }
        if self.skip_when.as_ref().is_some_and(|skip| skip(parts)) {
            return None;
        }
        Some(Pending { method: parts.method.clone(), route: route.cloned(), start })
    }

    /// Logs the `api_request` activity, filled from the request's `ctx`
    /// (its id, ip, actor...), through the configured logger or else the
    /// one in effect. The request is over: its context's values are taken
    /// rather than copied when nothing else holds it.
    pub(crate) fn finish(&self, pending: Pending, status: u16, ctx: &mut Arc<ActivityContext>) {
        let route = pending.route.as_ref().map_or(UNMATCHED_ROUTE, MatchedPath::as_str);
        let mut activity =
            Activity::api_request_record(pending.method.as_str(), route, status, pending.start.elapsed());
        fill_from_shared(&mut activity, ctx);
        match &self.logger {
            Some(logger) => logger.log_async_filled(activity),
            None => crate::global::log_async_filled(activity),
        }
    }
}
