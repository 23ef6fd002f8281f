//! Errors as RFC 9457 problem details (`application/problem+json`).

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use std::time::Duration;

/// The media type of every error the router returns.
pub const PROBLEM_JSON: &str = "application/problem+json";

/// An RFC 9457 problem: what went wrong, for a machine (`status`, `type`)
/// and a person (`title`, `detail`), and which query parameter or body
/// field was at fault.
///
/// ```json
/// {"type":"about:blank","title":"Bad Request","status":400,
///  "detail":"unknown query parameter `typ`","parameter":"typ"}
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[non_exhaustive]
pub struct Problem {
    /// A URI naming the kind of problem; `about:blank` when the status says
    /// it all.
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// The HTTP status phrase.
    pub title: &'static str,
    /// The HTTP status code.
    pub status: u16,
    /// What exactly was wrong, for a person.
    pub detail: String,
    /// The query parameter at fault, if one was.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parameter: Option<String>,
    /// The body field at fault, if one was (`[3].metadata` for the fourth
    /// activity of an array).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// How long to wait before retrying (429 and 503), in seconds; also sent
    /// as `Retry-After`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retry_after: Option<u32>,
}

impl Problem {
    /// A problem with `status` and a detail for a person.
    pub fn new(status: StatusCode, detail: impl Into<String>) -> Self {
        Self {
            kind: "about:blank",
            title: status.canonical_reason().unwrap_or("Error"),
            status: status.as_u16(),
            detail: detail.into(),
            parameter: None,
            field: None,
            retry_after: None,
        }
    }

    /// 400: a query parameter was wrong.
    pub fn bad_parameter(parameter: impl Into<String>, detail: impl Into<String>) -> Self {
        Self { parameter: Some(parameter.into()), ..Self::new(StatusCode::BAD_REQUEST, detail) }
    }

    /// 422: a body field was wrong.
    pub fn bad_field(field: impl Into<String>, detail: impl Into<String>) -> Self {
        Self { field: Some(field.into()), ..Self::new(StatusCode::UNPROCESSABLE_ENTITY, detail) }
    }

    /// 401: no or bad credentials.
    pub fn unauthorized(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, detail)
    }

    /// 403: the principal may not do this.
    pub fn forbidden(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, detail)
    }

    /// 404.
    pub fn not_found(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, detail)
    }

    /// 429 or 503 with a retry delay.
    pub fn retry_later(status: StatusCode, after: Duration, detail: impl Into<String>) -> Self {
        let secs = after.as_secs() + u64::from(after.subsec_nanos() > 0);
        let secs = u32::try_from(secs).unwrap_or(u32::MAX).max(1);
        Self { retry_after: Some(secs), ..Self::new(status, detail) }
    }

    /// The status as a [`StatusCode`].
    pub fn status_code(&self) -> StatusCode {
        StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}: {}", self.status, self.title, self.detail)
    }
}

impl std::error::Error for Problem {}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        let body = serde_json::to_vec(&self).unwrap_or_default();
        let mut response = (self.status_code(), body).into_response();
        let headers = response.headers_mut();
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON));
        if let Some(secs) = self.retry_after {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        if self.status == 401 {
            headers.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        response
    }
}

impl From<crate::query::QueryError> for Problem {
    fn from(error: crate::query::QueryError) -> Self {
        use crate::query::QueryError;
        match error {
            QueryError::PageSize { .. } => Self::bad_parameter("limit", error.to_string()),
            QueryError::InvalidCursor => Self::bad_parameter("cursor", error.to_string()),
            other => {
                tracing::error!(error = %other, "activity store query failed");
                if other.is_transient() {
                    Self::retry_later(
                        StatusCode::SERVICE_UNAVAILABLE,
                        Duration::from_secs(1),
                        "the activity store is unavailable; retry shortly",
                    )
                } else {
                    Self::new(StatusCode::INTERNAL_SERVER_ERROR, "the activity store could not be read")
                }
            }
        }
    }
}
