//! Redaction of secrets before an activity leaves the caller.
//!
//! Applied by the logger to every activity it accepts, before it is queued,
//! so a secret never reaches the queue, a subscriber or a store.

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

/// Replaces sensitive values in `metadata` and `changes`.
///
/// Keys matching the configured fragments (case-insensitive, at any depth)
/// have their values replaced by [`REDACTED`]; string values that look like
/// credentials (`Bearer ...`/`Basic ...` headers, JWTs) are masked wherever
/// they appear.
///
/// ```
/// use activity_log::{Activity, Redactor};
/// # use serde_json::json;
/// let mut a = Activity::new("user_created")
///     .metadata(json!({"user": {"Password": "hunter2", "name": "ann"}, "auth": "Bearer abc.def"}))
///     .build()?;
/// Redactor::default().redact(&mut a);
/// assert_eq!(a.metadata["user"]["Password"], "[REDACTED]");
/// assert_eq!(a.metadata["user"]["name"], "ann");
/// assert_eq!(a.metadata["auth"], "Bearer [REDACTED]");
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

    /// Whether to mask bearer tokens and JWTs found in values (default: yes).
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
        let buf = &mut String::with_capacity(32);
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
            Value::String(s) if self.mask_credentials => {
                if let Some(masked) = mask_credential(s) {
                    *s = masked;
                }
            }
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

/// Masks `Bearer`/`Basic`/`Token` credentials and JWTs; `None` when `s`
/// looks like neither.
fn mask_credential(s: &str) -> Option<String> {
    let trimmed = s.trim();
    for scheme in ["bearer ", "basic ", "token "] {
        if trimmed.len() > scheme.len()
            && trimmed.is_char_boundary(scheme.len())
            && trimmed[..scheme.len()].eq_ignore_ascii_case(scheme)
        {
            return Some(format!("{}{REDACTED}", &trimmed[..scheme.len()]));
        }
    }
    if looks_like_jwt(trimmed) {
        return Some(REDACTED.to_owned());
    }
    None
}

fn looks_like_jwt(s: &str) -> bool {
    let is_b64url = |part: &str| {
        !part.is_empty() && part.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'=')
    };
    let mut parts = s.split('.');
    match (parts.next(), parts.next(), parts.next(), parts.next()) {
        (Some(h), Some(p), Some(sig), None) => {
            h.starts_with("eyJ") && is_b64url(h) && is_b64url(p) && (sig.is_empty() || is_b64url(sig))
        }
        _ => false,
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
    fn custom_keys_and_disabled() {
        let r = Redactor::new(["ssn"]).with_keys(["Date_Of_Birth"]);
        assert!(r.is_sensitive_key("dateOfBirth"));
        assert!(!r.is_sensitive_key("password"));
        assert!(!Redactor::disabled().is_sensitive_key("password"));
    }
}
