//! JSON Web Tokens (HS256 and RS256) via `jsonwebtoken`.

use super::{bearer_token, AuthError, Authenticate, Principal, TenantScope};
use async_trait::async_trait;
use axum::http::request::Parts;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use std::fmt;

/// The claims [`JwtAuth`] reads (and [`JwtAuth::mint`] writes).
///
/// - `sub`: the principal's id (its rate-limit key);
/// - `tenant`: the one tenant it may see; absent only with the
///   `activity:all_tenants` scope;
/// - `scope`: space-separated grants, `activity:read`, `activity:ingest`,
///   `activity:admin`, `activity:all_tenants`;
/// - `actor`: optionally, only this actor's activities;
/// - `exp` (required, seconds since the epoch), `aud`, `iss`: checked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct JwtClaims {
    /// The principal's id.
    pub sub: String,
    /// Expiry, seconds since the Unix epoch.
    pub exp: u64,
    /// The tenant.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tenant: Option<String>,
    /// Space-separated grants.
    #[serde(default)]
    pub scope: String,
    /// Only this actor's activities.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub actor: Option<String>,
    /// The audience.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aud: Option<String>,
    /// The issuer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iss: Option<String>,
}

impl JwtClaims {
    /// Claims for `sub` in `tenant` expiring `ttl` from now, with no grants.
    pub fn new(sub: impl Into<String>, tenant: Option<String>, ttl: std::time::Duration) -> Self {
        let now = jsonwebtoken::get_current_timestamp();
        Self {
            sub: sub.into(),
            exp: now + ttl.as_secs(),
            tenant,
            scope: String::new(),
            actor: None,
            aud: None,
            iss: None,
        }
    }

    /// Adds a space-separated grant such as `activity:read`.
    pub fn grant(mut self, scope: &str) -> Self {
        if !self.scope.is_empty() {
            self.scope.push(' ');
        }
        self.scope.push_str(scope);
        self
    }

    /// Confines the token to one actor's activities.
    pub fn actor(mut self, actor: impl Into<String>) -> Self {
        self.actor = Some(actor.into());
        self
    }

    /// Sets the audience.
    pub fn audience(mut self, aud: impl Into<String>) -> Self {
        self.aud = Some(aud.into());
        self
    }

    fn into_principal(self) -> Result<Principal, AuthError> {
        let grants: Vec<&str> = self.scope.split_ascii_whitespace().collect();
        let scope = match (self.tenant, grants.contains(&"activity:all_tenants")) {
            (Some(t), _) if !t.is_empty() => TenantScope::Tenant(t),
            (_, true) => TenantScope::AllTenants,
            _ => return Err(AuthError::Invalid("the token names no tenant".into())),
        };
        let mut principal = Principal { id: self.sub, scope, permissions: Default::default(), actor: self.actor };
        principal.permissions.read = grants.contains(&"activity:read");
        principal.permissions.ingest = grants.contains(&"activity:ingest");
        principal.permissions.admin = grants.contains(&"activity:admin");
        Ok(principal)
    }
}

/// Bearer JWTs signed with HS256 (a shared secret) or RS256 (an RSA public
/// key), with expiry and optional audience and issuer checks; the claims
/// are [`JwtClaims`].
///
/// ```
/// use activity_log::http::{JwtAuth, JwtClaims};
/// use std::time::Duration;
///
/// let auth = JwtAuth::hs256(b"a long random secret").audience("activity-api");
/// let token = auth.mint(&JwtClaims::new("svc-billing", Some("acme".into()), Duration::from_secs(600))
///     .grant("activity:read").audience("activity-api"))?;
/// assert_eq!(token.split('.').count(), 3);
/// # Ok::<(), activity_log::http::JwtError>(())
/// ```
#[derive(Clone)]
pub struct JwtAuth {
    decoding: DecodingKey,
    encoding: Option<EncodingKey>,
    validation: Validation,
}

/// A JWT key or token could not be used.
#[derive(Debug, thiserror::Error)]
#[error("JWT: {0}")]
pub struct JwtError(#[from] jsonwebtoken::errors::Error);

impl JwtAuth {
    /// Tokens signed with HS256 and `secret` (which also lets
    /// [`mint`](Self::mint) sign them).
    pub fn hs256(secret: &[u8]) -> Self {
        Self {
            decoding: DecodingKey::from_secret(secret),
            encoding: Some(EncodingKey::from_secret(secret)),
            validation: Self::validation(Algorithm::HS256),
        }
    }

    /// Tokens signed with RS256, checked with the RSA public key in
    /// `public_key_pem`.
    pub fn rs256_pem(public_key_pem: &[u8]) -> Result<Self, JwtError> {
        Ok(Self {
            decoding: DecodingKey::from_rsa_pem(public_key_pem)?,
            encoding: None,
            validation: Self::validation(Algorithm::RS256),
        })
    }

    fn validation(algorithm: Algorithm) -> Validation {
        let mut v = Validation::new(algorithm);
        v.leeway = 30;
        v.validate_aud = false;
        v.set_required_spec_claims(&["exp", "sub"]);
        v
    }

    /// Requires the `aud` claim to be `audience`.
    pub fn audience(mut self, audience: &str) -> Self {
        self.validation.set_audience(&[audience]);
        self.validation.validate_aud = true;
        self
    }

    /// Requires the `iss` claim to be `issuer`.
    pub fn issuer(mut self, issuer: &str) -> Self {
        self.validation.set_issuer(&[issuer]);
        self
    }

    /// Signs `claims` (HS256 only: RS256 tokens come from your identity
    /// provider).
    pub fn mint(&self, claims: &JwtClaims) -> Result<String, JwtError> {
        let key = self.encoding.as_ref().ok_or(JwtError(jsonwebtoken::errors::ErrorKind::InvalidAlgorithm.into()))?;
        Ok(jsonwebtoken::encode(&Header::new(self.validation.algorithms[0]), claims, key)?)
    }

    /// The principal of a token.
    pub fn principal(&self, token: &str) -> Result<Principal, AuthError> {
        use jsonwebtoken::errors::ErrorKind;
        let data = jsonwebtoken::decode::<JwtClaims>(token, &self.decoding, &self.validation).map_err(|e| {
            AuthError::Invalid(
                match e.kind() {
                    ErrorKind::ExpiredSignature => "the token has expired",
                    ErrorKind::InvalidAudience => "the token is for another audience",
                    ErrorKind::InvalidIssuer => "the token is from another issuer",
                    ErrorKind::InvalidSignature => "the token's signature does not verify",
                    ErrorKind::InvalidAlgorithm => "the token is signed with another algorithm",
                    ErrorKind::MissingRequiredClaim(_) => "the token lacks a required claim (exp, sub)",
                    _ => "the token is malformed",
                }
                .into(),
            )
        })?;
        data.claims.into_principal()
    }
}

impl fmt::Debug for JwtAuth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JwtAuth").field("algorithms", &self.validation.algorithms).finish_non_exhaustive()
    }
}

#[async_trait]
impl Authenticate for JwtAuth {
    async fn authenticate(&self, parts: &Parts) -> Result<Principal, AuthError> {
        self.principal(bearer_token(parts)?)
    }
}
