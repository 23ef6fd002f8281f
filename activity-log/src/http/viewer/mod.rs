//! The log viewer: a page served by the activity router at `{mount}/ui`,
//! and the viewer tokens it uses.
//!
//! The page is plain HTML, CSS and JavaScript modules embedded in the
//! crate (nothing is fetched from elsewhere, nothing needs building). It
//! reads its token from the URL fragment (`#token=...`, which browsers never
//! send to a server), and sends it as `Authorization: Bearer` on every
//! request to the router's own endpoints. Its filters live in the URL's
//! query, so a view can be bookmarked; the token stays in the fragment.

mod page;
mod token;

pub(crate) use page::routes;
pub use token::{ViewerTokenError, ViewerTokens, MAX_VIEWER_TTL, MIN_SECRET_BYTES, VIEWER_TOKEN_PREFIX};

use axum::http::HeaderValue;
use std::fmt;

/// The viewer page's configuration: the [`ViewerTokens`] it accepts and
/// which sites may embed it in a frame (none by default).
///
/// ```
/// use activity_log::http::{Viewer, ViewerTokens};
///
/// let tokens = ViewerTokens::new(b"a 32-byte or longer random secret!")?;
/// let viewer = Viewer::new(tokens).frame_ancestors(["https://app.example.com"])?;
/// # let _ = viewer;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub struct Viewer {
    pub(crate) tokens: ViewerTokens,
    pub(crate) csp: HeaderValue,
    pub(crate) framable: bool,
}

/// A `frame-ancestors` source that is not an origin such as
/// `https://app.example.com`, `https://*.example.com` or `'self'`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("frame ancestor #{index} is not an origin (`https://app.example.com`, `https://*.example.com`) or `'self'`")]
pub struct InvalidFrameAncestor {
    /// Its position in the list given, from 0.
    pub index: usize,
}

impl Viewer {
    /// The page, accepting `tokens`, embeddable by no other site.
    pub fn new(tokens: ViewerTokens) -> Self {
        Self { tokens, csp: csp("'none'"), framable: false }
    }

    /// Lets these origins show the page in a frame (the CSP's
    /// `frame-ancestors`); replaces an earlier list.
    pub fn frame_ancestors<I, S>(mut self, sources: I) -> Result<Self, InvalidFrameAncestor>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let mut list = Vec::new();
        for (index, source) in sources.into_iter().enumerate() {
            let source = source.as_ref();
            if !valid_source(source) {
                return Err(InvalidFrameAncestor { index });
            }
            list.push(source.to_owned());
        }
        self.framable = !list.is_empty();
        self.csp = csp(&if list.is_empty() { "'none'".to_owned() } else { list.join(" ") });
        Ok(self)
    }

    /// The page's `Content-Security-Policy`.
    pub fn content_security_policy(&self) -> &str {
        self.csp.to_str().unwrap_or_default()
    }
}

impl From<ViewerTokens> for Viewer {
    fn from(tokens: ViewerTokens) -> Self {
        Self::new(tokens)
    }
}

impl fmt::Debug for Viewer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Viewer").field("content_security_policy", &self.content_security_policy()).finish()
    }
}

/// The page runs only its own scripts and styles, talks only to its own
/// origin, and builds no HTML from strings (Trusted Types with no policy
/// makes `innerHTML` and friends throw).
fn csp(frame_ancestors: &str) -> HeaderValue {
    let policy = format!(
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; \
         base-uri 'none'; form-action 'none'; frame-ancestors {frame_ancestors}; \
         require-trusted-types-for 'script'; trusted-types 'none'"
    );
    // Every part is ASCII checked by `valid_source`.
    HeaderValue::from_str(&policy).unwrap_or_else(|_| HeaderValue::from_static("default-src 'none'"))
}

/// `'self'`, or `scheme://host[:port]` with an optional leading `*.` in the
/// host: nothing that could end the directive or add another.
fn valid_source(source: &str) -> bool {
    if source == "'self'" {
        return true;
    }
    let Some((scheme, rest)) = source.split_once("://") else { return false };
    let scheme_ok = !scheme.is_empty() && scheme.chars().all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c));
    let host = rest.strip_prefix("*.").unwrap_or(rest);
    let host_ok = !host.is_empty()
        && !host.starts_with(['.', ':'])
        && host.chars().all(|c| c.is_ascii_alphanumeric() || "-.:[]".contains(c));
    scheme_ok && host_ok
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frame_ancestor_sources() {
        for ok in ["'self'", "https://app.example.com", "https://*.example.com", "http://localhost:8080"] {
            assert!(valid_source(ok), "{ok}");
        }
        for bad in
            ["", "*", "app.example.com", "https://a.com; script-src *", "https://", "'unsafe-inline'", "https://a b"]
        {
            assert!(!valid_source(bad), "{bad}");
        }
    }
}
