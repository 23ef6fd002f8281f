//! Who is asking: the [`Authenticate`] trait the host app implements, and
//! two implementations, [`StaticTokens`] and [`JwtAuth`].

mod jwt;
mod principal;
mod tokens;

pub use jwt::{JwtAuth, JwtClaims, JwtError};
pub use principal::{Permissions, Principal, TenantScope};
pub use tokens::StaticTokens;

use super::Problem;
use async_trait::async_trait;
use axum::http::request::Parts;
use std::sync::Arc;

/// Turns a request's parts (headers, URI, extensions) into a [`Principal`],
/// or refuses it.
///
/// Implement it over your own sessions or API keys; return
/// [`AuthError::Missing`] or [`AuthError::Invalid`] (401) when the request
/// carries no usable credentials.
///
/// ```
/// use activity_log::http::{AuthError, Authenticate, Principal};
/// use axum::http::request::Parts;
///
/// struct ApiKeys;
///
/// #[activity_log::async_trait]
/// impl Authenticate for ApiKeys {
///     async fn authenticate(&self, parts: &Parts) -> Result<Principal, AuthError> {
///         match parts.headers.get("x-api-key").and_then(|v| v.to_str().ok()) {
///             Some("k-acme") => Ok(Principal::tenant("svc-acme", "acme").read().ingest()),
///             Some(_) => Err(AuthError::Invalid("unknown API key".into())),
///             None => Err(AuthError::Missing),
///         }
///     }
/// }
/// ```
#[async_trait]
pub trait Authenticate: Send + Sync + 'static {
    /// The principal making the request.
    async fn authenticate(&self, parts: &Parts) -> Result<Principal, AuthError>;
}

#[async_trait]
impl<A: Authenticate + ?Sized> Authenticate for Arc<A> {
    async fn authenticate(&self, parts: &Parts) -> Result<Principal, AuthError> {
        (**self).authenticate(parts).await
    }
}

#[async_trait]
impl<A: Authenticate + ?Sized> Authenticate for Box<A> {
    async fn authenticate(&self, parts: &Parts) -> Result<Principal, AuthError> {
        (**self).authenticate(parts).await
    }
}

/// Why a request was not authenticated: a `401` with
/// `WWW-Authenticate: Bearer`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AuthError {
    /// The request carries no credentials.
    #[error("credentials are required: send `Authorization: Bearer <token>`")]
    Missing,
    /// The credentials were refused; the reason is for the client (never the
    /// token itself).
    #[error("credentials refused: {0}")]
    Invalid(String),
}

impl From<AuthError> for Problem {
    fn from(error: AuthError) -> Self {
        Problem::unauthorized(error.to_string())
    }
}

/// The bearer token of an `Authorization` header, if there is one.
pub fn bearer_token(parts: &Parts) -> Result<&str, AuthError> {
    let value = parts.headers.get(axum::http::header::AUTHORIZATION).ok_or(AuthError::Missing)?;
    let value = value.to_str().map_err(|_| AuthError::Invalid("the Authorization header is not ASCII".into()))?;
    let (scheme, token) =
        value.split_once(' ').ok_or_else(|| AuthError::Invalid("expected `Authorization: Bearer <token>`".into()))?;
    if !scheme.eq_ignore_ascii_case("bearer") || token.trim().is_empty() {
        return Err(AuthError::Invalid("expected `Authorization: Bearer <token>`".into()));
    }
    Ok(token.trim())
}
