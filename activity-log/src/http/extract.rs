//! Extractors: the principal with a permission checked and its rate limit
//! taken, and a strict JSON body.

use super::api::ApiState;
use super::{Principal, Problem};
use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{header, StatusCode};
use serde::de::DeserializeOwned;
use std::sync::Arc;

/// Which permission and which rate limit an endpoint needs.
#[derive(Clone, Copy)]
pub(crate) enum Need {
    Read,
    Ingest,
    Admin,
}

pub(crate) async fn principal(state: &ApiState, parts: &Parts, need: Need) -> Result<Principal, Problem> {
    let principal = match (&state.api.viewer, super::bearer_token(parts)) {
        (Some(viewer), Ok(token)) if super::ViewerTokens::is_viewer_token(token) => viewer.tokens.verify(token)?,
        _ => state.api.auth.authenticate(parts).await?,
    };
    let (allowed, what) = match need {
        Need::Read => (principal.permissions.read, "read activities"),
        Need::Ingest => (principal.permissions.ingest, "ingest activities"),
        Need::Admin => (principal.permissions.admin, "administer the activity log"),
    };
    if !allowed {
        return Err(Problem::forbidden(format!("this principal may not {what}")));
    }
    match need {
        Need::Read => state.reads.check(&principal.id)?,
        Need::Ingest | Need::Admin => state.writes.check(&principal.id)?,
    }
    Ok(principal)
}

macro_rules! principal_extractor {
    ($name:ident, $need:expr, $doc:literal) => {
        #[doc = $doc]
        pub(crate) struct $name(pub(crate) Principal);

        impl FromRequestParts<Arc<ApiState>> for $name {
            type Rejection = Problem;

            async fn from_request_parts(parts: &mut Parts, state: &Arc<ApiState>) -> Result<Self, Problem> {
                principal(state, parts, $need).await.map($name)
            }
        }
    };
}

principal_extractor!(Reader, Need::Read, "A principal that may read, within its read rate limit.");
principal_extractor!(Ingester, Need::Ingest, "A principal that may ingest, within its write rate limit.");
principal_extractor!(Admin, Need::Admin, "A principal that may administer, within its write rate limit.");

/// A JSON body: `application/json` (else 415), at most the configured size
/// (else 413), well-formed (else 400) and of the expected shape (else 422
/// naming the field).
pub(crate) struct JsonBody(pub(crate) serde_json::Value);

impl FromRequest<Arc<ApiState>> for JsonBody {
    type Rejection = Problem;

    async fn from_request(req: Request, state: &Arc<ApiState>) -> Result<Self, Problem> {
        let is_json = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .map(|m| {
                let m = m.trim().to_ascii_lowercase();
                m == "application/json" || (m.starts_with("application/") && m.ends_with("+json"))
            })
            .unwrap_or(false);
        if !is_json {
            return Err(Problem::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "send the body as `Content-Type: application/json`",
            ));
        }
        let limit = state.api.max_body_bytes;
        let bytes = match axum::body::to_bytes(req.into_body(), limit).await {
            Ok(b) => b,
            Err(_) => {
                return Err(Problem::new(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    format!("the body is larger than {limit} bytes"),
                ))
            }
        };
        parse_json(&bytes).map(JsonBody)
    }
}

fn parse_json(bytes: &Bytes) -> Result<serde_json::Value, Problem> {
    serde_json::from_slice(bytes).map_err(|e| {
        Problem::new(StatusCode::BAD_REQUEST, format!("malformed JSON at line {} column {}", e.line(), e.column()))
    })
}

/// Deserialises `value` into `T`, naming the field at fault (prefixed with
/// `prefix`, such as `[3]`) in a 422.
pub(crate) fn shape<T: DeserializeOwned>(value: serde_json::Value, prefix: &str) -> Result<T, Problem> {
    serde_path_to_error::deserialize(value).map_err(|e| {
        let path = e.path().to_string();
        let field = match (prefix.is_empty(), path.as_str()) {
            (_, ".") => prefix.to_owned(),
            (true, p) => p.to_owned(),
            (false, p) => format!("{prefix}.{p}"),
        };
        // serde's "invalid type: string \"x\", expected ..." would echo the
        // value given: keep only what was expected.
        let message = e.into_inner().to_string();
        let detail = match message.split_once(", expected ") {
            Some((_, expected)) => format!("expected {expected}"),
            None => message,
        };
        Problem::bad_field(if field.is_empty() { "body".to_owned() } else { field }, detail)
    })
}
