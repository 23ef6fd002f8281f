//! Viewer tokens: short-lived, signed, read-only, one tenant (and
//! optionally one actor).

use crate::http::{bearer_token, AuthError, Authenticate, Principal};
use async_trait::async_trait;
use axum::http::request::Parts;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::time::Duration;

/// Every viewer token starts with this: the router tells a viewer token
/// from the host's own credentials by it (and secret scanners can too).
pub const VIEWER_TOKEN_PREFIX: &str = "alv1_";

/// The longest a viewer token may live: 24 hours.
pub const MAX_VIEWER_TTL: Duration = Duration::from_secs(24 * 60 * 60);

/// The shortest secret [`ViewerTokens::new`] accepts: 32 bytes (256 bits,
/// HMAC-SHA-256's own strength).
pub const MIN_SECRET_BYTES: usize = 32;

/// The audience every viewer token carries, so that no other JWT signed
/// with the same secret passes for one.
const AUDIENCE: &str = "activity-log:viewer";

/// What a viewer token says. There is no permission field: a viewer token
/// can only ever read.
#[derive(Serialize, Deserialize)]
struct ViewerClaims {
    /// A random token id (the principal's rate-limit key).
    sub: String,
    aud: String,
    iat: u64,
    exp: u64,
    tenant: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    actor: Option<String>,
}

/// A viewer token could not be minted, or the secret is unusable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ViewerTokenError {
    /// The signing secret is shorter than [`MIN_SECRET_BYTES`].
    #[error("the viewer token secret is {0} bytes; use at least {MIN_SECRET_BYTES} random bytes")]
    SecretTooShort(usize),
    /// The tenant is empty.
    #[error("a viewer token needs a non-empty tenant")]
    EmptyTenant,
    /// The actor is `Some("")`.
    #[error("a viewer token's actor, when given, must not be empty")]
    EmptyActor,
    /// The lifetime is zero or longer than [`MAX_VIEWER_TTL`].
    #[error("a viewer token's lifetime must be from 1 second to 24 hours")]
    BadTtl,
    /// Signing failed.
    #[error("could not sign the viewer token: {0}")]
    Signing(String),
}

/// Mints and checks viewer tokens: signed (HS256) with a secret only the
/// server knows, read-only, confined to one tenant and optionally one
/// actor, expiring within [`MAX_VIEWER_TTL`].
///
/// The host app mints one per page view (after its own login check) and
/// hands it to the page in the URL fragment, which browsers never send to
/// a server: `{mount}/ui#token=...`. The router (given these tokens with
/// [`ActivityApi::viewer`](crate::http::ActivityApi::viewer)) accepts them
/// for reads only, forced to their tenant and actor, whatever the query
/// says.
///
/// ```
/// use activity_log::http::ViewerTokens;
/// use std::time::Duration;
///
/// let tokens = ViewerTokens::new(b"a 32-byte or longer random secret!")?;
/// let token = tokens.mint("acme", None, Duration::from_secs(15 * 60))?;
/// let link = format!("/api/activity/ui#token={token}");
/// let principal = tokens.verify(&token)?;
/// assert_eq!(principal.tenant_id(), Some("acme"));
/// assert!(principal.permissions.read && !principal.permissions.ingest && !principal.permissions.admin);
/// # let _ = link;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub struct ViewerTokens {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
}

impl ViewerTokens {
    /// Tokens signed with `secret` (at least [`MIN_SECRET_BYTES`] random
    /// bytes; keep it out of the page and out of your repository).
    pub fn new(secret: impl AsRef<[u8]>) -> Result<Self, ViewerTokenError> {
        let secret = secret.as_ref();
        if secret.len() < MIN_SECRET_BYTES {
            return Err(ViewerTokenError::SecretTooShort(secret.len()));
        }
        let mut validation = Validation::new(Algorithm::HS256);
        // One server usually mints and checks: no grace after expiry.
        validation.leeway = 0;
        validation.set_audience(&[AUDIENCE]);
        validation.set_required_spec_claims(&["exp", "sub", "aud"]);
        Ok(Self { encoding: EncodingKey::from_secret(secret), decoding: DecodingKey::from_secret(secret), validation })
    }

    /// A token for reading `tenant`'s activities (only `actor`'s, when
    /// given), valid for `ttl` (1 second to [`MAX_VIEWER_TTL`]).
    pub fn mint(&self, tenant: &str, actor: Option<&str>, ttl: Duration) -> Result<String, ViewerTokenError> {
        if tenant.is_empty() {
            return Err(ViewerTokenError::EmptyTenant);
        }
        if actor == Some("") {
            return Err(ViewerTokenError::EmptyActor);
        }
        if ttl.as_secs() == 0 || ttl > MAX_VIEWER_TTL {
            return Err(ViewerTokenError::BadTtl);
        }
        let now = jsonwebtoken::get_current_timestamp();
        let claims = ViewerClaims {
            sub: format!("{:016x}", fastrand::u64(..)),
            aud: AUDIENCE.to_owned(),
            iat: now,
            exp: now + ttl.as_secs(),
            tenant: tenant.to_owned(),
            actor: actor.map(str::to_owned),
        };
        let jwt = jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)
            .map_err(|e| ViewerTokenError::Signing(e.to_string()))?;
        Ok(format!("{VIEWER_TOKEN_PREFIX}{jwt}"))
    }

    /// Whether `token` has the viewer token form (not whether it is valid).
    pub fn is_viewer_token(token: &str) -> bool {
        token.starts_with(VIEWER_TOKEN_PREFIX)
    }

    /// The principal of a valid token: read-only, its tenant, its actor if
    /// it names one. Refused when expired, tampered with, signed with
    /// another secret, or not a viewer token.
    pub fn verify(&self, token: &str) -> Result<Principal, AuthError> {
        use jsonwebtoken::errors::ErrorKind;
        let jwt =
            token.strip_prefix(VIEWER_TOKEN_PREFIX).ok_or_else(|| AuthError::Invalid("not a viewer token".into()))?;
        let data = jsonwebtoken::decode::<ViewerClaims>(jwt, &self.decoding, &self.validation).map_err(|e| {
            AuthError::Invalid(
                match e.kind() {
                    ErrorKind::ExpiredSignature => "the viewer token has expired; reload the page from the app",
                    ErrorKind::InvalidSignature => "the viewer token's signature does not verify",
                    ErrorKind::InvalidAudience => "the token is not a viewer token",
                    ErrorKind::InvalidAlgorithm => "the viewer token is signed with another algorithm",
                    _ => "the viewer token is malformed",
                }
                .into(),
            )
        })?;
        let claims = data.claims;
        if claims.tenant.is_empty() || claims.actor.as_deref() == Some("") {
            return Err(AuthError::Invalid("the viewer token names no tenant".into()));
        }
        let mut principal = Principal::tenant(format!("viewer:{}", claims.sub), claims.tenant).read();
        principal.actor = claims.actor;
        Ok(principal)
    }
}

impl fmt::Debug for ViewerTokens {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Never the secret.
        f.debug_struct("ViewerTokens").finish_non_exhaustive()
    }
}

/// Viewer tokens alone as an [`Authenticate`]: for a router that serves
/// only viewers. (With [`ActivityApi::viewer`](crate::http::ActivityApi::viewer)
/// they are accepted next to the host's own authentication.)
#[async_trait]
impl Authenticate for ViewerTokens {
    async fn authenticate(&self, parts: &Parts) -> Result<Principal, AuthError> {
        self.verify(bearer_token(parts)?)
    }
}
