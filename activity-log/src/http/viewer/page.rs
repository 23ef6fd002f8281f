//! `GET /ui` and `GET /ui/{asset}`: the page and its embedded assets, each
//! with the viewer's Content-Security-Policy.

use super::Viewer;
use crate::http::api::ApiState;
use crate::http::Problem;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use std::sync::Arc;

/// One embedded file.
struct Asset {
    name: &'static str,
    content_type: &'static str,
    body: &'static [u8],
}

macro_rules! assets {
    ($($name:literal => $type:expr),* $(,)?) => {
        &[$(Asset { name: $name, content_type: $type, body: include_bytes!(concat!("assets/", $name)) }),*]
    };
}

const JS: &str = "text/javascript; charset=utf-8";

/// Everything the page loads; `index.html` is served at `/ui` itself.
static ASSETS: &[Asset] = assets! {
    "index.html" => "text/html; charset=utf-8",
    "viewer.css" => "text/css; charset=utf-8",
    "main.js" => JS,
    "api.js" => JS,
    "dom.js" => JS,
    "filters.js" => JS,
    "format.js" => JS,
    "table.js" => JS,
    "detail.js" => JS,
    "diff.js" => JS,
    "stats.js" => JS,
    "live.js" => JS,
};

/// The page's routes, added to the activity router when a viewer is
/// configured. They need no credentials: the page holds no data, and every
/// request it makes carries the viewer token.
pub(crate) fn routes(router: Router<Arc<ApiState>>) -> Router<Arc<ApiState>> {
    router
        .route("/ui", get(index))
        // `/ui/` would resolve the page's relative asset paths one level
        // too deep: send it to `/ui` (the fragment, and so the token, is
        // kept by the browser).
        .route("/ui/", get(|| async { (StatusCode::PERMANENT_REDIRECT, [(header::LOCATION, "../ui")]) }))
        .route("/ui/{file}", get(asset))
}

async fn index(State(state): State<Arc<ApiState>>, headers: HeaderMap) -> Response {
    serve(&state, &ASSETS[0], &headers)
}

async fn asset(State(state): State<Arc<ApiState>>, Path(file): Path<String>, headers: HeaderMap) -> Response {
    match ASSETS.iter().skip(1).find(|a| a.name == file) {
        Some(asset) => serve(&state, asset, &headers),
        None => Problem::not_found("no such viewer asset").into_response(),
    }
}

fn serve(state: &ApiState, asset: &Asset, request: &HeaderMap) -> Response {
    let Some(viewer) = state.api.viewer.as_deref() else {
        return Problem::not_found("no such endpoint").into_response();
    };
    let etag = format!("\"{:08x}\"", crc32fast::hash(asset.body));
    let fresh = request.get(header::IF_NONE_MATCH).and_then(|v| v.to_str().ok()).is_some_and(|v| {
        v.split(',').any(|tag| {
            let tag = tag.trim();
            tag == etag || tag.strip_prefix("W/") == Some(&etag)
        })
    });
    let mut response = if fresh { StatusCode::NOT_MODIFIED.into_response() } else { asset.body.into_response() };
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(asset.content_type));
    if let Ok(v) = HeaderValue::from_str(&etag) {
        headers.insert(header::ETAG, v);
    }
    security_headers(viewer, headers);
    response
}

/// The headers every viewer response carries.
fn security_headers(viewer: &Viewer, headers: &mut HeaderMap) {
    headers.insert(header::CONTENT_SECURITY_POLICY, viewer.csp.clone());
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    headers.insert("cross-origin-resource-policy", HeaderValue::from_static("same-origin"));
    if !viewer.framable {
        headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    }
}
