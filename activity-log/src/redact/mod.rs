//! Redaction of secrets before an activity leaves the caller.
//!
//! Applied by the logger to every activity it accepts, before it is queued,
//! so a secret never reaches the queue, a subscriber or a store.

mod text;

use crate::Activity;
use aho_corasick::AhoCorasick;
use serde_json::{Map, Value};

/// What a redacted value is replaced with.
pub const REDACTED: &str = "[REDACTED]";

/// The key fragments redacted by default. A key is redacted when, lower-cased
/// and with `-`, `_` and `.` removed, it contains one of them.
pub const DEFAULT_SENSITIVE_KEYS: &[&str] = &[
    "password",
    "passwd",
    "secret",
    "token",
    "authorization",
    "cookie",
    "apikey",
    "privatekey",
    "credential",
    "sessionid",
    "creditcard",
    "cardnumber",
    "cvv",
    "ssn",
];

/// Replaces secrets in an activity before it is queued.
///
/// **By key.** In `metadata` (at any depth) and `changes` (by field name), a
/// value whose key, lower-cased and with `-`, `_`, `.` and spaces removed,
/// contains one of the configured fragments ([`DEFAULT_SENSITIVE_KEYS`]
/// unless changed) is replaced by [`REDACTED`] whatever it holds.
///
/// **Inside text.** Every other string — in `metadata` and `changes` at any
/// depth, the `description`, the `error` text and the tags — is scanned for
/// credentials wherever they stand in it (a raw HTTP request, a `curl`
/// command line, a connection string, a log line), and only the secret part
/// is replaced by [`REDACTED`]:
///
/// | shape | example | becomes |
/// |---|---|---|
/// | `Authorization:` / `Proxy-Authorization:` header line | `Authorization: Bearer abc123` | `Authorization: Bearer [REDACTED]` (the scheme word is kept; the value runs to the end of the line, or to the closing quote when the header itself stands in quotes, as in `curl -H '...'`) |
/// | `Cookie:` / `Set-Cookie:` header line | `Cookie: sid=a1; theme=dark` | `Cookie: [REDACTED]` |
/// | a value that is `Bearer` and one word | `Bearer abc` | `Bearer [REDACTED]` |
/// | `Bearer` / `Basic` / `Token` followed by a credential-shaped word¹ anywhere | `sent Basic dXNlcjpwYXNz to it` | `sent Basic [REDACTED] to it` |
/// | a JSON Web Token anywhere (`eyJ…` header of 10+ characters, `.`, payload, optional `.signature`; five-part JWE too) | `jwt=eyJhbGciOi….eyJzdWIi….Sfl…` | `jwt=[REDACTED]` |
/// | `name=value` and `name: value` (query strings, form bodies, JSON or YAML text, log lines), quoted or not, where the name contains `password`, `passwd`, `passphrase`, `secret`, `token`, `apikey`/`api_key`/`api-key`, `access_key`, `private_key`, `credential(s)`, `signature`, `sessionid`/`session_id` — also with a `_`, `-`, `.` or camelCase tail (`client_secret`, `secret_key`, `passwordHash`) | `?user=ann&password=hunter2&x=1` | `?user=ann&password=[REDACTED]&x=1` (a value runs to a space, `&`, `;`, `,`, a quote, a closing bracket or `#`, or to its closing quote; an auth scheme in front is kept: `token: Bearer [REDACTED]`) |
/// | the short names `pass`, `pwd`, `auth`, only as a word of their own and only with `=` | `pwd=hunter2` | `pwd=[REDACTED]` |
/// | the password of a URL's userinfo | `postgres://app:s3cret@db:5432/x` | `postgres://app:[REDACTED]@db:5432/x` |
/// | Stripe `sk_live_`, `sk_test_`, `rk_live_`, `rk_test_`, `whsec_` keys | `sk_live_4eC39HqLyjWDarjtT1zdp7dc` | `sk_live_[REDACTED]` |
/// | GitHub `ghp_`, `gho_`, `ghu_`, `ghs_`, `ghr_`, `github_pat_`; GitLab `glpat-` | `ghp_16C7e42F292c6912E7710c838347Ae178B4a` | `ghp_[REDACTED]` |
/// | Slack `xoxb-`, `xoxp-`, `xoxa-`, `xoxr-`, `xoxs-` | `xoxb-123456789012-abcdef` | `xoxb-[REDACTED]` |
/// | AWS access key ids `AKIA…`/`ASIA…` (exactly 16 upper-case letters or digits after) | `AKIAIOSFODNN7EXAMPLE` | `AKIA[REDACTED]` |
/// | Google API keys `AIza…`, npm `npm_…`, PyPI `pypi-…`, and `sk-…` keys (20+ characters holding a digit) | `AIzaSyA…` | `AIza[REDACTED]` |
///
/// ¹ *Credential-shaped*: 8 or more token characters (`A-Z a-z 0-9 - . _ ~ + / =`)
/// holding a digit, a symbol, or an upper-case letter after the first — so
/// "Basic authentication is enabled" or "the token expired" stay as they
/// are. A name such as `token` is only taken for a key when `=` or `:`
/// follows it; names and prefixes must start a word (or, for the long
/// names, may end one: `csrftoken=`). Matching ignores ASCII case, except
/// for `eyJ`, `AKIA`, `ASIA`, `AIza` and `sk-`.
///
/// The scan is one left-to-right pass over each string (an Aho-Corasick
/// search for the anchors above, then a forward scan over each candidate),
/// linear in the length of the text. A replaced value may be longer than the
/// secret it hides (`pwd=x` becomes `pwd=[REDACTED]`). Anything not in the
/// table is left alone: add keys with [`with_keys`](Self::with_keys), or
/// turn the text scan off with [`mask_credentials(false)`](Self::mask_credentials).
///
/// ```
/// use activity_log::{Activity, Redactor};
/// # use serde_json::json;
/// let request = "POST /hooks HTTP/1.1\r\nHost: example.com\r\nAuthorization: Bearer abc123\r\n\r\n{}";
/// let mut a = Activity::new("webhook_received")
///     .metadata(json!({"user": {"Password": "hunter2", "name": "ann"}, "auth": "Bearer abc.def", "raw": request}))
///     .description("curl -H 'Authorization: Basic dXNlcjpwYXNz' 'https://api.example.com/x?api_key=k3y&page=2'")
///     .build()?;
/// Redactor::default().redact(&mut a);
/// assert_eq!(a.metadata["user"]["Password"], "[REDACTED]");
/// assert_eq!(a.metadata["user"]["name"], "ann");
/// assert_eq!(a.metadata["auth"], "Bearer [REDACTED]");
/// assert_eq!(
///     a.metadata["raw"],
///     "POST /hooks HTTP/1.1\r\nHost: example.com\r\nAuthorization: Bearer [REDACTED]\r\n\r\n{}"
/// );
/// assert_eq!(
///     a.description.as_deref(),
///     Some("curl -H 'Authorization: Basic [REDACTED]' 'https://api.example.com/x?api_key=[REDACTED]&page=2'")
/// );
/// # Ok::<(), activity_log::ValidationError>(())
/// ```
#[derive(Debug, Clone)]
pub struct Redactor {
    fragments: Vec<String>,
    /// All fragments in one automaton: one pass over a key instead of one
    /// substring search per fragment.
    matcher: Option<AhoCorasick>,
    mask_credentials: bool,
}

impl Default for Redactor {
    fn default() -> Self {
        Self::new(DEFAULT_SENSITIVE_KEYS.iter().copied())
    }
}

impl Redactor {
    /// A redactor for the given key fragments (matched as described above),
    /// that also masks credential-looking values.
    pub fn new<I, S>(fragments: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        Self { fragments: Vec::new(), matcher: None, mask_credentials: true }.with_keys(fragments)
    }

    /// A redactor that changes nothing.
    pub fn disabled() -> Self {
        Self { fragments: Vec::new(), matcher: None, mask_credentials: false }
    }

    /// Adds key fragments to the set.
    pub fn with_keys<I, S>(mut self, fragments: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        self.fragments.extend(fragments.into_iter().map(|f| normalize(f.as_ref())).filter(|f| !f.is_empty()));
        self.matcher = if self.fragments.is_empty() {
            None
        } else {
            // Building can only fail for automata far larger than a list of
            // key names; without one, nothing is matched and a warning says so.
            AhoCorasick::builder()
                .ascii_case_insensitive(true)
                .build(&self.fragments)
                .inspect_err(|e| tracing::error!(error = %e, "redaction keys could not be compiled"))
                .ok()
        };
        self
    }

    /// Whether to scan strings for credentials (the table above) and mask
    /// them (default: yes). Keys are redacted either way.
    pub fn mask_credentials(mut self, on: bool) -> Self {
        self.mask_credentials = on;
        self
    }

    /// Whether `key` names a sensitive value.
    pub fn is_sensitive_key(&self, key: &str) -> bool {
        self.is_sensitive(key, &mut String::new())
    }

    /// [`is_sensitive_key`](Self::is_sensitive_key) with a reusable buffer:
    /// this runs for every key of every activity.
    fn is_sensitive(&self, key: &str, buf: &mut String) -> bool {
        let Some(matcher) = &self.matcher else { return false };
        if key.bytes().any(is_separator) || !key.is_ascii() {
            buf.clear();
            buf.extend(normalized_chars(key));
            matcher.is_match(buf.as_str())
        } else {
            matcher.is_match(key)
        }
    }

    /// Redacts `activity` in place.
    pub fn redact(&self, activity: &mut Activity) {
        if self.matcher.is_none() && !self.mask_credentials {
            return;
        }
        // Allocated only for a key that needs normalising.
        let buf = &mut String::new();
        if self.mask_credentials {
            let texts =
                activity.description.iter_mut().chain(activity.error.iter_mut()).chain(activity.tags.iter_mut());
            for text in texts {
                mask_in_place(text);
            }
        }
        self.redact_map(&mut activity.metadata, buf);
        for (field, change) in activity.changes.iter_mut() {
            if self.is_sensitive(field, buf) {
                change.before = redacted_unless_null(&change.before);
                change.after = redacted_unless_null(&change.after);
            } else {
                self.redact_value(&mut change.before, buf);
                self.redact_value(&mut change.after, buf);
            }
        }
    }

    fn redact_map(&self, map: &mut Map<String, Value>, buf: &mut String) {
        for (key, value) in map.iter_mut() {
            if self.is_sensitive(key, buf) {
                *value = Value::String(REDACTED.to_owned());
            } else {
                self.redact_value(value, buf);
            }
        }
    }

    fn redact_value(&self, value: &mut Value, buf: &mut String) {
        match value {
            Value::Object(map) => self.redact_map(map, buf),
            Value::Array(items) => items.iter_mut().for_each(|v| self.redact_value(v, buf)),
            Value::String(s) if self.mask_credentials => mask_in_place(s),
            _ => {}
        }
    }
}

fn redacted_unless_null(v: &Value) -> Value {
    if v.is_null() {
        Value::Null
    } else {
        Value::String(REDACTED.to_owned())
    }
}

fn normalize(key: &str) -> String {
    normalized_chars(key).collect()
}

fn normalized_chars(key: &str) -> impl Iterator<Item = char> + '_ {
    key.chars().filter(|c| !c.is_ascii() || !is_separator(*c as u8)).flat_map(char::to_lowercase)
}

fn is_separator(b: u8) -> bool {
    matches!(b, b'-' | b'_' | b'.' | b' ')
}

/// Replaces the credentials inside `s` (see [`Redactor`]).
fn mask_in_place(s: &mut String) {
    if let Some(masked) = text::mask(s) {
        *s = masked;
    }
}

/// `s` with the credentials inside it replaced by [`REDACTED`], as the
/// [`Redactor`] does to every string it does not redact whole.
///
/// ```
/// use activity_log::redact_text;
/// assert_eq!(redact_text("postgres://app:s3cret@db/x"), "postgres://app:[REDACTED]@db/x");
/// assert_eq!(redact_text("the token expired"), "the token expired");
/// ```
pub fn redact_text(s: &str) -> std::borrow::Cow<'_, str> {
    match text::mask(s) {
        Some(masked) => std::borrow::Cow::Owned(masked),
        None => std::borrow::Cow::Borrowed(s),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn redacted(metadata: Value) -> Value {
        let mut a = Activity::new("t").metadata(metadata).build().unwrap();
        Redactor::default().redact(&mut a);
        Value::Object(a.metadata)
    }

    #[test]
    fn keys_at_any_depth_case_insensitive() {
        let out = redacted(json!({
            "PASSWORD": "x", "api-key": "k", "X-Api-Key": "k", "access_token": "t",
            "nested": [{"Set-Cookie": "c", "ok": 1}], "Authorization": {"deep": "still redacted"},
            "username": "ann"
        }));
        assert_eq!(out["PASSWORD"], REDACTED);
        assert_eq!(out["api-key"], REDACTED);
        assert_eq!(out["X-Api-Key"], REDACTED);
        assert_eq!(out["access_token"], REDACTED);
        assert_eq!(out["nested"][0]["Set-Cookie"], REDACTED);
        assert_eq!(out["nested"][0]["ok"], 1);
        assert_eq!(out["Authorization"], REDACTED);
        assert_eq!(out["username"], "ann");
    }

    #[test]
    fn credential_values_masked() {
        let jwt = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjMifQ.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c";
        let out = redacted(json!({"h": "bearer abc", "j": jwt, "list": [jwt], "plain": "hello.world.x"}));
        assert_eq!(out["h"], "bearer [REDACTED]");
        assert_eq!(out["j"], REDACTED);
        assert_eq!(out["list"][0], REDACTED);
        assert_eq!(out["plain"], "hello.world.x");
    }

    #[test]
    fn changes_redacted_by_field_name() {
        let mut a = Activity::new("user_updated")
            .change("password", "old", "new")
            .change("name", "a", "b")
            .change("api_token", Value::Null, "tok")
            .build()
            .unwrap();
        Redactor::default().redact(&mut a);
        assert_eq!(a.changes["password"].before, REDACTED);
        assert_eq!(a.changes["password"].after, REDACTED);
        assert_eq!(a.changes["name"].after, "b");
        assert_eq!(a.changes["api_token"].before, Value::Null);
    }

    #[test]
    fn credentials_inside_every_text_field() {
        let mut a = Activity::new("webhook_failed")
            .description("retrying POST https://hooks:s3cret@example.com/in")
            .error("upstream said 401 to Authorization: Bearer abc123")
            .tag("ghp_16C7e42F292c6912E7710c838347Ae178B4a")
            .meta("request", json!(["GET /x?token=t0k&page=1 HTTP/1.1"]))
            .change("note", "plain", "password=hunter2")
            .build()
            .unwrap();
        Redactor::default().redact(&mut a);
        assert_eq!(a.description.as_deref(), Some("retrying POST https://hooks:[REDACTED]@example.com/in"));
        assert_eq!(a.error.as_deref(), Some("upstream said 401 to Authorization: Bearer [REDACTED]"));
        assert_eq!(a.tags, ["ghp_[REDACTED]"]);
        assert_eq!(a.metadata["request"][0], "GET /x?token=[REDACTED]&page=1 HTTP/1.1");
        assert_eq!(a.changes["note"].before, "plain");
        assert_eq!(a.changes["note"].after, "password=[REDACTED]");

        let mut b = Activity::new("t").description("password=hunter2").build().unwrap();
        Redactor::default().mask_credentials(false).redact(&mut b);
        assert_eq!(b.description.as_deref(), Some("password=hunter2"));
    }

    #[test]
    fn custom_keys_and_disabled() {
        let r = Redactor::new(["ssn"]).with_keys(["Date_Of_Birth"]);
        assert!(r.is_sensitive_key("dateOfBirth"));
        assert!(!r.is_sensitive_key("password"));
        assert!(!Redactor::disabled().is_sensitive_key("password"));
    }
}
