//! Static bearer tokens, configured by the host app.

use super::{bearer_token, AuthError, Authenticate, Principal};
use async_trait::async_trait;
use axum::http::request::Parts;
use std::collections::HashMap;
use std::fmt;

/// A fixed table of bearer tokens, each acting as one [`Principal`]:
/// service-to-service ingest keys, an operator's token.
///
/// ```
/// use activity_log::http::{Principal, StaticTokens};
///
/// let auth = StaticTokens::new()
///     .token("acme-reader-secret", Principal::tenant("acme-dashboard", "acme").read())
///     .token("ops-secret", Principal::all_tenants("ops").read().admin());
/// assert_eq!(auth.len(), 2);
/// ```
#[derive(Clone, Default)]
pub struct StaticTokens {
    tokens: HashMap<String, Principal>,
}

impl StaticTokens {
    /// No tokens: every request is refused.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a token (replacing an earlier one with the same text).
    pub fn token(mut self, token: impl Into<String>, principal: Principal) -> Self {
        self.tokens.insert(token.into(), principal);
        self
    }

    /// How many tokens there are.
    pub fn len(&self) -> usize {
        self.tokens.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.tokens.is_empty()
    }
}

impl fmt::Debug for StaticTokens {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Never the tokens themselves.
        f.debug_struct("StaticTokens").field("principals", &self.tokens.values().collect::<Vec<_>>()).finish()
    }
}

#[async_trait]
impl Authenticate for StaticTokens {
    async fn authenticate(&self, parts: &Parts) -> Result<Principal, AuthError> {
        let token = bearer_token(parts)?;
        self.tokens.get(token).cloned().ok_or_else(|| AuthError::Invalid("unknown bearer token".into()))
    }
}
