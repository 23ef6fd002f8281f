//! Credentials inside free text, found in one left-to-right pass.
//!
//! An Aho-Corasick automaton finds *anchors* (`authorization`, `password`,
//! `bearer `, `eyJ`, `://`, `sk_live_`, ...); each anchor's rule then looks
//! at the bytes right before it (a word boundary) and scans forward over the
//! value it introduces. An accepted value is replaced and the search goes on
//! after it; a refused anchor costs a bounded look-around, or a scan over a
//! run of bytes in which no other anchor of the same rule can start (its
//! boundary test fails there). So the work is linear in the length of the
//! text, whatever it holds: no backtracking.
//!
//! The table of what is masked is in the docs of
//! [`Redactor`](crate::Redactor); the tests below hold one case per row.

use super::REDACTED;
use aho_corasick::{AhoCorasick, Input, MatchKind};
use std::sync::OnceLock;

/// What an anchor introduces.
#[derive(Debug, Clone, Copy)]
enum Rule {
    /// `name=value` or `name: value` (quoted or not): the value is masked.
    /// `short` names (`pass`, `pwd`, `auth`) must start a word and take only
    /// `=`; `scheme` names (`token`) are also auth schemes (`Token abc123`).
    Key { short: bool, scheme: bool },
    /// `Authorization:`/`Cookie:` header lines: the value up to the end of
    /// the line (or a closing quote); an auth scheme word in front is kept.
    Header { keep_scheme: bool },
    /// `Bearer xyz`/`Basic xyz`: a credential-shaped word after the scheme.
    /// `whole`: a value that is just the scheme and one word is a header
    /// value, and the word is masked whatever it looks like.
    Scheme { whole: bool },
    /// `eyJ...`: a JSON Web Token (three or more dot-separated base64url parts).
    Jwt,
    /// `scheme://user:password@host`: the password.
    Userinfo,
    /// A provider's key prefix: the key after the prefix.
    Provider(Provider),
}

/// The shape of a provider key after its prefix.
#[derive(Debug, Clone, Copy)]
struct Provider {
    /// The prefix must match in case (`AKIA`, `AIza`); the others are
    /// matched ignoring ASCII case.
    exact_case: bool,
    /// Only `A-Z0-9` (AWS ids), else base64url letters (`A-Za-z0-9_-`).
    upper_alnum: bool,
    /// Fewest bytes after the prefix.
    min: usize,
    /// Whether the body must hold a digit (for the generic `sk-`).
    digit: bool,
}

const fn key(short: bool) -> Rule {
    Rule::Key { short, scheme: false }
}

const fn provider(min: usize) -> Rule {
    Rule::Provider(Provider { exact_case: false, upper_alnum: false, min, digit: false })
}

/// Every anchor, matched ignoring ASCII case, leftmost-longest.
const ANCHORS: &[(&str, Rule)] = &[
    // Header lines.
    ("authorization", Rule::Header { keep_scheme: true }),
    ("cookie", Rule::Header { keep_scheme: false }),
    // name=value / name: value
    ("password", key(false)),
    ("passwd", key(false)),
    ("passphrase", key(false)),
    ("secret", key(false)),
    ("token", Rule::Key { short: false, scheme: true }),
    ("apikey", key(false)),
    ("api_key", key(false)),
    ("api-key", key(false)),
    ("access_key", key(false)),
    ("accesskey", key(false)),
    ("private_key", key(false)),
    ("privatekey", key(false)),
    ("credential", key(false)),
    ("credentials", key(false)),
    ("signature", key(false)),
    ("sessionid", key(false)),
    ("session_id", key(false)),
    ("pass", key(true)),
    ("pwd", key(true)),
    ("auth", key(true)),
    // Auth schemes in running text.
    ("bearer ", Rule::Scheme { whole: true }),
    ("basic ", Rule::Scheme { whole: false }),
    // Tokens with a recognisable shape.
    ("eyj", Rule::Jwt),
    ("://", Rule::Userinfo),
    ("sk_live_", provider(10)),
    ("sk_test_", provider(10)),
    ("rk_live_", provider(10)),
    ("rk_test_", provider(10)),
    ("whsec_", provider(16)),
    ("ghp_", provider(20)),
    ("gho_", provider(20)),
    ("ghu_", provider(20)),
    ("ghs_", provider(20)),
    ("ghr_", provider(20)),
    ("github_pat_", provider(20)),
    ("glpat-", provider(20)),
    ("xoxb-", provider(10)),
    ("xoxp-", provider(10)),
    ("xoxa-", provider(10)),
    ("xoxr-", provider(10)),
    ("xoxs-", provider(10)),
    ("npm_", provider(30)),
    ("pypi-", provider(50)),
    ("sk-", Rule::Provider(Provider { exact_case: true, upper_alnum: false, min: 20, digit: true })),
    ("AKIA", Rule::Provider(Provider { exact_case: true, upper_alnum: true, min: 16, digit: false })),
    ("ASIA", Rule::Provider(Provider { exact_case: true, upper_alnum: true, min: 16, digit: false })),
    ("AIza", Rule::Provider(Provider { exact_case: true, upper_alnum: false, min: 35, digit: false })),
];

/// The anchors in one automaton, built once. `None` only if building failed,
/// which a fixed list of 50 short words cannot make happen; then nothing is
/// masked in text and an error says so.
fn automaton() -> Option<&'static AhoCorasick> {
    static AUTOMATON: OnceLock<Option<AhoCorasick>> = OnceLock::new();
    AUTOMATON
        .get_or_init(|| {
            AhoCorasick::builder()
                .ascii_case_insensitive(true)
                .match_kind(MatchKind::LeftmostLongest)
                .build(ANCHORS.iter().map(|(anchor, _)| anchor))
                .inspect_err(|e| tracing::error!(error = %e, "credential anchors could not be compiled"))
                .ok()
        })
        .as_ref()
}

/// What an accepted anchor does: mask `mask` (a byte range), if any, and go
/// on searching at `resume`.
struct Step {
    mask: Option<(usize, usize)>,
    resume: usize,
}

/// Passes over a text whose masking still changes it: see [`mask`].
const MAX_PASSES: usize = 8;

/// `s` with every credential found replaced by [`REDACTED`]; `None` when
/// nothing was found (the common case allocates nothing).
///
/// A masked text is masked again until nothing changes (at most
/// [`MAX_PASSES`] times), so that masking is idempotent: a mask can make a
/// rule apply that did not before (`Bearer token="x` becomes a whole
/// `Bearer <word>` header value once `x` is masked).
pub(super) fn mask(s: &str) -> Option<String> {
    let mut out = mask_once(s)?;
    for _ in 1..MAX_PASSES {
        match mask_once(&out) {
            Some(again) => out = again,
            None => break,
        }
    }
    Some(out)
}

/// One left-to-right pass of [`mask`].
fn mask_once(s: &str) -> Option<String> {
    if !may_hold_secret(s.as_bytes()) {
        return None;
    }
    let ac = automaton()?;
    let b = s.as_bytes();
    let mut out: Option<String> = None;
    let mut copied = 0;
    let mut pos = 0;
    while pos < b.len() {
        let Some(m) = ac.find(Input::new(s).span(pos..b.len())) else { break };
        let (anchor, rule) = ANCHORS[m.pattern().as_usize()];
        match apply(anchor, rule, b, m.start(), m.end()) {
            Some(step) => {
                if let Some((from, to)) = step.mask {
                    let secret = s.get(from..to).unwrap_or(REDACTED);
                    if from >= copied && secret != REDACTED {
                        if let Some(before) = s.get(copied..from) {
                            let out = out.get_or_insert_with(|| String::with_capacity(s.len() + REDACTED.len()));
                            out.push_str(before);
                            out.push_str(REDACTED);
                            copied = to;
                        }
                    }
                }
                pos = step.resume.max(m.start() + 1);
            }
            // Another anchor may start inside this one (`auth` in
            // `authpassword=`): look again one byte further.
            None => pos = m.start() + 1,
        }
    }
    let mut out = out?;
    out.push_str(s.get(copied..).unwrap_or_default());
    Some(out)
}

/// A quick test before the search, for the many short values (`sales`,
/// `inbound`, ids) a record holds: every rule needs a separator (`=`, `:`,
/// a space after a scheme), a `.` (JWTs), a `_` or `-` (provider prefixes),
/// or else is a 20-byte-or-longer AWS or Google key.
fn may_hold_secret(b: &[u8]) -> bool {
    b.len() >= 20 || b.iter().any(|c| matches!(c, b'=' | b':' | b' ' | b'.' | b'_' | b'-'))
}

fn apply(anchor: &str, rule: Rule, b: &[u8], start: usize, end: usize) -> Option<Step> {
    match rule {
        Rule::Key { short, scheme } => {
            key_value(b, start, end, short).or_else(|| if scheme { scheme_word(b, start, end, false) } else { None })
        }
        Rule::Header { keep_scheme } => header(b, start, end, keep_scheme),
        Rule::Scheme { whole } => scheme_word(b, start, end, whole),
        Rule::Jwt => jwt(b, start),
        Rule::Userinfo => userinfo(b, end),
        Rule::Provider(p) => provider_key(anchor, b, start, end, p),
    }
}

fn is_b64url(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'-' || c == b'_'
}

fn is_token68(c: u8) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, b'-' | b'.' | b'_' | b'~' | b'+' | b'/' | b'=')
}

/// The end of the run of bytes satisfying `f` from `i`.
fn run(b: &[u8], mut i: usize, f: impl Fn(u8) -> bool) -> usize {
    while i < b.len() && f(b[i]) {
        i += 1;
    }
    i
}

/// Skips at most `max` spaces or tabs.
fn spaces(b: &[u8], mut i: usize, max: usize) -> usize {
    let stop = (i + max).min(b.len());
    while i < stop && matches!(b[i], b' ' | b'\t') {
        i += 1;
    }
    i
}

/// Whether a word starts at `start`: the text starts there, or the byte
/// before is not a letter or digit, or the word starts a camelCase part
/// (`userPassword`).
fn word_start(b: &[u8], start: usize) -> bool {
    match start.checked_sub(1).map(|i| b[i]) {
        None => true,
        Some(prev) if !prev.is_ascii_alphanumeric() => true,
        Some(prev) => !prev.is_ascii_uppercase() && b[start].is_ascii_uppercase(),
    }
}

/// After a key name at `end`: a `_`/`-`/`.`/camelCase tail (`secret_key`,
/// `passwordHash`), a closing quote and spaces; returns the index of the
/// separator.
fn key_separator(b: &[u8], end: usize) -> usize {
    let mut i = end;
    if i < b.len() && (matches!(b[i], b'_' | b'-' | b'.') || b[i].is_ascii_uppercase()) {
        let stop = (i + 32).min(b.len());
        while i < stop && (is_b64url(b[i]) || b[i] == b'.') {
            i += 1;
        }
    }
    if i < b.len() && matches!(b[i], b'"' | b'\'') {
        i += 1;
    }
    spaces(b, i, 4)
}

/// `name=value`, `name: value`, `"name": "value"`.
fn key_value(b: &[u8], start: usize, end: usize, short: bool) -> Option<Step> {
    if short && !word_start(b, start) {
        return None;
    }
    let sep = key_separator(b, end);
    match b.get(sep) {
        Some(b'=') => {}
        Some(b':') if !short && !b[sep..].starts_with(b"://") => {}
        _ => return None,
    }
    value(b, sep + 1, None)
}

/// `Authorization: Bearer abc`, `Cookie: a=b; c=d`, or the same as a key.
fn header(b: &[u8], start: usize, end: usize, keep_scheme: bool) -> Option<Step> {
    let sep = key_separator(b, end);
    match b.get(sep) {
        Some(b':') if !b[sep..].starts_with(b"://") => {
            // A header written inside quotes (`curl -H 'Authorization: ..'`)
            // ends at the closing quote; one on a line of its own (a raw
            // request) at the end of the line, quotes included.
            let name_start = start
                - b[start.saturating_sub(32)..start]
                    .iter()
                    .rev()
                    .take_while(|c| c.is_ascii_alphanumeric() || **c == b'-')
                    .count();
            let quote = name_start.checked_sub(1).map(|i| b[i]).filter(|c| matches!(c, b'"' | b'\''));
            let step = value(b, sep + 1, Some(quote))?;
            match (keep_scheme, step.mask) {
                (true, Some((from, to))) => {
                    // `Bearer `, `Basic `, `Digest `...: keep the scheme word.
                    let word = run(b, from, |c| c.is_ascii_alphanumeric() || c == b'-');
                    let from = if word > from && word - from <= 20 && b.get(word) == Some(&b' ') {
                        spaces(b, word, 4)
                    } else {
                        from
                    };
                    Some(Step { mask: (from < to).then_some((from, to)), resume: step.resume })
                }
                _ => Some(step),
            }
        }
        Some(b'=') => value(b, sep + 1, None),
        _ => None,
    }
}

/// The value after a separator at `i`: quoted (to the closing quote, on
/// this line), a header value (`header_line: Some(quote)`: to the end of
/// the line, or to `quote` when the header itself stands in quotes), or a
/// plain value (to a space or a delimiter of query strings, cookies, JSON
/// and markup). An empty value or one opening a JSON object or array is
/// refused.
fn value(b: &[u8], i: usize, header_line: Option<Option<u8>>) -> Option<Step> {
    let i = spaces(b, i, 8);
    let (from, to, resume) = match b.get(i) {
        Some(&q @ (b'"' | b'\'')) => {
            let mut j = i + 1;
            while j < b.len() && b[j] != q && b[j] != b'\r' && b[j] != b'\n' {
                j += if b[j] == b'\\' && j + 1 < b.len() && b[j + 1].is_ascii() { 2 } else { 1 };
            }
            let j = j.min(b.len());
            (i + 1, j, j)
        }
        Some(b'{' | b'[') | None => return None,
        Some(_) if header_line.is_some() => {
            let quote = header_line.flatten();
            let j = run(b, i, |c| c != b'\r' && c != b'\n' && Some(c) != quote);
            let mut to = j;
            while to > i && matches!(b[to - 1], b' ' | b'\t') {
                to -= 1;
            }
            (i, to, j)
        }
        Some(_) => {
            let plain = |c: u8| {
                !(c.is_ascii_whitespace()
                    || matches!(c, b'&' | b';' | b',' | b'"' | b'\'' | b'<' | b'>' | b')' | b']' | b'}' | b'#'))
            };
            let j = run(b, i, plain);
            // `token: Bearer abc`: keep the scheme, mask the word after it.
            let scheme = SCHEMES.iter().any(|s| b[i..j].eq_ignore_ascii_case(s.as_bytes()));
            let after = spaces(b, j, 4);
            if scheme && after > j && matches!(b.get(after), Some(b'[' | b'{')) {
                return None; // `Bearer [REDACTED]`: masked already
            }
            if scheme && after > j && b.get(after).is_some_and(|&c| plain(c)) {
                let k = run(b, after, plain);
                (after, k, k)
            } else {
                (i, j, j)
            }
        }
    };
    (from < to).then_some(Step { mask: Some((from, to)), resume })
}

/// Auth scheme words kept in front of a masked value.
const SCHEMES: [&str; 4] = ["bearer", "basic", "token", "digest"];

/// Whether `word` looks like a credential rather than a word of prose: a
/// digit, a symbol of base64/token68, or an upper-case letter after the
/// first.
fn credential_shaped(word: &[u8]) -> bool {
    word.len() >= 8
        && word.iter().enumerate().any(|(i, &c)| {
            c.is_ascii_digit()
                || matches!(c, b'-' | b'.' | b'_' | b'~' | b'+' | b'/' | b'=')
                || (i > 0 && c.is_ascii_uppercase())
        })
}

/// `Bearer xyz` / `Basic xyz` / `Token xyz`; `end` is just past the scheme
/// word or its space.
fn scheme_word(b: &[u8], start: usize, end: usize, whole: bool) -> Option<Step> {
    if !word_start(b, start) {
        return None;
    }
    let from = match b.get(end.checked_sub(1)?) {
        Some(b' ') => end,
        _ if b.get(end) == Some(&b' ') => end + 1,
        _ => return None,
    };
    if whole && b[..start].iter().all(u8::is_ascii_whitespace) {
        // The whole value is `Bearer <one word>`: an auth header's value,
        // masked whatever the word looks like.
        let j = run(b, from, |c| !c.is_ascii_whitespace());
        if j > from && b[j..].iter().all(u8::is_ascii_whitespace) {
            return Some(Step { mask: Some((from, j)), resume: j });
        }
    }
    let mut to = run(b, from, is_token68);
    while to > from && b[to - 1] == b'.' {
        to -= 1; // the full stop of a sentence
    }
    credential_shaped(&b[from..to]).then_some(Step { mask: Some((from, to)), resume: to })
}

/// `eyJ<header>.<payload>.<signature>`, also unsigned (empty signature) and
/// JWE (five parts).
fn jwt(b: &[u8], start: usize) -> Option<Step> {
    if !b[start..].starts_with(b"eyJ") {
        return None;
    }
    if start > 0 && (is_b64url(b[start - 1]) || b[start - 1] == b'.') {
        return None;
    }
    let header_end = run(b, start, is_b64url);
    if header_end - start < 10 || b.get(header_end) != Some(&b'.') {
        return None;
    }
    let payload_end = run(b, header_end + 1, is_b64url);
    if payload_end - header_end - 1 < 2 {
        return None;
    }
    let mut end = payload_end;
    for _ in 0..3 {
        if b.get(end) != Some(&b'.') {
            break;
        }
        let part_end = run(b, end + 1, is_b64url);
        if part_end == end + 1 {
            break;
        }
        end = part_end;
    }
    Some(Step { mask: Some((start, end)), resume: end })
}

/// `scheme://user:password@host`: the password (between the first `:` and
/// the last `@` of the authority).
fn userinfo(b: &[u8], end: usize) -> Option<Step> {
    let authority_end = run(b, end, |c| {
        !(c.is_ascii_whitespace() || matches!(c, b'/' | b'?' | b'#' | b'"' | b'\'' | b'<' | b'>' | b'\\'))
    });
    let authority = &b[end..authority_end];
    let at = end + authority.iter().rposition(|&c| c == b'@')?;
    let colon = end + authority.iter().position(|&c| c == b':')?;
    (colon < at).then_some(Step { mask: (colon + 1 < at).then_some((colon + 1, at)), resume: at })
}

/// A provider's key: the prefix is kept, the rest masked.
fn provider_key(anchor: &str, b: &[u8], start: usize, end: usize, p: Provider) -> Option<Step> {
    if p.exact_case && &b[start..end] != anchor.as_bytes() {
        return None;
    }
    if start > 0 && is_b64url(b[start - 1]) {
        return None;
    }
    let to = if p.upper_alnum {
        let to = run(b, end, |c| c.is_ascii_uppercase() || c.is_ascii_digit());
        if to - end != p.min || b.get(to).is_some_and(|c| c.is_ascii_alphanumeric()) {
            return None;
        }
        to
    } else {
        let to = run(b, end, is_b64url);
        if to - end < p.min || (p.digit && !b[end..to].iter().any(u8::is_ascii_digit)) {
            return None;
        }
        to
    };
    Some(Step { mask: Some((end, to)), resume: to })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn m(s: &str) -> String {
        mask(s).unwrap_or_else(|| s.to_owned())
    }

    const JWT: &str = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjMifQ.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c";

    #[test]
    fn raw_http_request_authorization_header() {
        let raw = "POST /hooks HTTP/1.1\r\nHost: example.com\r\nAuthorization: Bearer abc.def-123\r\nContent-Type: application/json\r\n\r\n{\"a\":1}";
        assert_eq!(
            m(raw),
            "POST /hooks HTTP/1.1\r\nHost: example.com\r\nAuthorization: Bearer [REDACTED]\r\nContent-Type: application/json\r\n\r\n{\"a\":1}"
        );
        assert_eq!(m("proxy-authorization: Basic dXNlcjpwYXNz\nnext"), "proxy-authorization: Basic [REDACTED]\nnext");
        assert_eq!(
            m("Authorization: Digest username=\"a\", response=\"6629fae\"\r\n"),
            "Authorization: Digest [REDACTED]\r\n"
        );
        assert_eq!(m("x 'Authorization: Digest username=\"a\"' y"), "x 'Authorization: Digest [REDACTED]' y");
        assert_eq!(m("Authorization:opaque-credential"), "Authorization:[REDACTED]");
    }

    #[test]
    fn curl_command_lines() {
        assert_eq!(
            m("curl -H 'Authorization: Bearer abc' -H \"X-Api-Key: k3y-123\" https://api.example.com"),
            "curl -H 'Authorization: Bearer [REDACTED]' -H \"X-Api-Key: [REDACTED]\" https://api.example.com"
        );
        assert_eq!(m("curl -u ann:s3cret https://x"), "curl -u ann:s3cret https://x");
        // not a shape we know
    }

    #[test]
    fn cookies() {
        assert_eq!(m("Cookie: sid=a1b2; theme=dark\r\nAccept: */*"), "Cookie: [REDACTED]\r\nAccept: */*");
        assert_eq!(m("Set-Cookie: id=a3fWa; Max-Age=2592000"), "Set-Cookie: [REDACTED]");
        assert_eq!(m("cookies are tasty"), "cookies are tasty");
    }

    #[test]
    fn bearer_and_basic_mid_text() {
        assert_eq!(m("bearer abc"), "bearer [REDACTED]");
        assert_eq!(m("  Bearer abc\r\n"), "  Bearer [REDACTED]\r\n");
        assert_eq!(m("Bearer abc def"), "Bearer abc def");
        assert_eq!(m("called with Bearer abcDEF123ghi, failed"), "called with Bearer [REDACTED], failed");
        assert_eq!(m("sent Basic dXNlcjpwYXNz."), "sent Basic [REDACTED].");
        assert_eq!(m("Token 9f8e7d6c5b4a"), "Token [REDACTED]");
        assert_eq!(m("got token ghx-123456789"), "got token [REDACTED]");
    }

    #[test]
    fn jwts_anywhere() {
        assert_eq!(m(JWT), REDACTED);
        assert_eq!(m(&format!("redirect to /cb?x=1#{JWT} now")), "redirect to /cb?x=1#[REDACTED] now");
        assert_eq!(m(&format!("{JWT}.")), "[REDACTED].");
        let unsigned = "eyJhbGciOiJub25lIn0.eyJzdWIiOiIxIn0.";
        assert_eq!(m(unsigned), "[REDACTED].");
        let jwe = format!("{JWT}.abc.def");
        assert_eq!(m(&jwe), REDACTED);
    }

    #[test]
    fn query_strings_and_form_bodies() {
        assert_eq!(m("GET /x?user=ann&password=hunter2&page=2"), "GET /x?user=ann&password=[REDACTED]&page=2");
        assert_eq!(
            m("grant_type=refresh&refresh_token=r1&client_secret=s2"),
            "grant_type=refresh&refresh_token=[REDACTED]&client_secret=[REDACTED]"
        );
        assert_eq!(
            m("api_key=abc;apiKey=def, API-KEY = ghi"),
            "api_key=[REDACTED];apiKey=[REDACTED], API-KEY = [REDACTED]"
        );
        assert_eq!(
            m("secret_key=a passwordHash=b csrftoken=c"),
            "secret_key=[REDACTED] passwordHash=[REDACTED] csrftoken=[REDACTED]"
        );
        assert_eq!(m("token: Bearer abc123 ok"), "token: Bearer [REDACTED] ok");
        assert_eq!(m("auth=Basic dXNlcjpwYXNz&x=1"), "auth=Basic [REDACTED]&x=1");
        assert_eq!(m("password=basic"), "password=[REDACTED]");
        assert_eq!(m("user=bob&pass=x&pwd=y&auth=z"), "user=bob&pass=[REDACTED]&pwd=[REDACTED]&auth=[REDACTED]");
        assert_eq!(
            m("X-Amz-Credential=AK%2F1&X-Amz-Signature=fe5f80f7"),
            "X-Amz-Credential=[REDACTED]&X-Amz-Signature=[REDACTED]"
        );
    }

    #[test]
    fn json_and_yaml_text() {
        assert_eq!(
            m(r#"{"user":"ann","password":"hun\"ter2","n":1}"#),
            r#"{"user":"ann","password":"[REDACTED]","n":1}"#
        );
        assert_eq!(m("db:\n  password: 'p@ss w0rd'\n  host: x"), "db:\n  password: '[REDACTED]'\n  host: x");
        assert_eq!(m(r#"{"token": {"kind": "x"}}"#), r#"{"token": {"kind": "x"}}"#);
    }

    #[test]
    fn url_userinfo() {
        assert_eq!(m("postgres://user:pass@host:5432/db"), "postgres://user:[REDACTED]@host:5432/db");
        assert_eq!(m("connect redis://:s3cret@cache:6379 failed"), "connect redis://:[REDACTED]@cache:6379 failed");
        assert_eq!(m("amqp://u:p@ss@mq/vhost"), "amqp://u:[REDACTED]@mq/vhost");
        assert_eq!(m("https://ann@example.com/x"), "https://ann@example.com/x");
        assert_eq!(m("https://example.com:8443/a@b"), "https://example.com:8443/a@b");
    }

    #[test]
    fn provider_keys() {
        for (key, masked) in [
            ("sk_live_4eC39HqLyjWDarjtT1zdp7dc", "sk_live_[REDACTED]"),
            ("sk_test_4eC39HqLyjWDarjtT1zdp7dc", "sk_test_[REDACTED]"),
            ("rk_live_51H8abcdEFGH", "rk_live_[REDACTED]"),
            ("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "whsec_[REDACTED]"),
            ("ghp_16C7e42F292c6912E7710c838347Ae178B4a", "ghp_[REDACTED]"),
            ("gho_16C7e42F292c6912E7710c838347Ae178B4a", "gho_[REDACTED]"),
            ("github_pat_11ABCDEFG0123456789_abcdefghijkl", "github_pat_[REDACTED]"),
            ("glpat-xxxxxxxxxxxxxxxxxxxx", "glpat-[REDACTED]"),
            ("xoxb-123456789012-1234567890123-abcdef", "xoxb-[REDACTED]"),
            ("xoxp-123456789012-abcdef", "xoxp-[REDACTED]"),
            ("AKIAIOSFODNN7EXAMPLE", "AKIA[REDACTED]"),
            ("ASIAIOSFODNN7EXAMPLE", "ASIA[REDACTED]"),
            ("AIzaSyA1234567890abcdefghijklmnopqrstuv", "AIza[REDACTED]"),
            ("npm_abcdefghijklmnopqrstuvwxyz0123456789", "npm_[REDACTED]"),
            ("sk-proj-abc123def456ghi789jkl", "sk-[REDACTED]"),
        ] {
            assert_eq!(m(&format!("key {key} used")), format!("key {masked} used"), "{key}");
        }
    }

    #[test]
    fn the_quick_test_lets_the_shortest_secrets_through() {
        for (secret, masked) in [
            ("pwd=x", "pwd=[REDACTED]"),
            ("token:abc", "token:[REDACTED]"),
            ("Bearer abc", "Bearer [REDACTED]"),
            ("x://u:p@h", "x://u:[REDACTED]@h"),
            ("eyJhbGciOiJ9.eyJz", "[REDACTED]"),
            ("AKIAIOSFODNN7EXAMPLE", "AKIA[REDACTED]"),
            ("xoxb-1234567890", "xoxb-[REDACTED]"),
        ] {
            assert_eq!(m(secret), masked, "{secret}");
        }
        assert!(!may_hold_secret(b"sales"));
        assert!(!may_hold_secret(b"inbound"));
    }

    #[test]
    fn ordinary_text_left_alone() {
        for s in [
            "the token expired; request a new token",
            "Basic authentication is enabled for this tenant",
            "Bearer tokens are described in RFC 6750",
            "password reset requested by ann",
            "passwords must be 12 characters",
            "compass=north bypass=1 oauth=none",
            "secretary: Jane",
            "eyJ is how a JWT starts",
            "hello.world.x",
            "see https://example.com/path?page=2&sort=desc",
            "AKIA is an AWS prefix; AKIAshort",
            "sk_live_ alone, ghp_short, sk-learn",
            "Session ended at 10:00, author: ann",
            "",
        ] {
            assert_eq!(mask(s), None, "{s}");
        }
    }

    #[test]
    fn already_redacted_text_is_not_copied() {
        for s in [
            "password=[REDACTED]",
            "Authorization: Bearer [REDACTED]",
            "postgres://u:[REDACTED]@h",
            "sk_live_[REDACTED]",
        ] {
            assert_eq!(mask(s), None, "{s}");
        }
    }

    #[test]
    fn masking_until_nothing_changes_makes_it_idempotent() {
        // Found by proptest: in each, masking once made a text that
        // masked further.
        for s in ["token.sk_live_tokenBearer =sk_live_", "Bearer token=\" eyJ"] {
            let once = m(s);
            assert_ne!(once, s);
            assert_eq!(mask(&once), None, "{s} -> {once}");
        }
    }

    #[test]
    fn multibyte_text_around_secrets() {
        assert_eq!(m("é password=ü€x ü"), "é password=[REDACTED] ü");
        assert_eq!(m("Authorization: Bearer 🔑🔑\r\n"), "Authorization: Bearer [REDACTED]\r\n");
    }

    #[test]
    fn adversarial_inputs_stay_linear() {
        // Each would be quadratic with a naive rescan; here each is one pass.
        for unit in ["eyJ", "token", "://", "Bearer ", "sk-", "AKIA", "password=", "a.", "@:"] {
            let s = unit.repeat(200_000 / unit.len());
            let started = std::time::Instant::now();
            let _ = mask(&s);
            assert!(started.elapsed() < std::time::Duration::from_secs(5), "{unit}");
        }
    }

    /// Secrets of every shape, to embed in random text.
    fn secret() -> impl Strategy<Value = (String, String)> {
        let body = "[A-Za-z0-9]{24}";
        prop_oneof![
            body.prop_map(|s| (format!("Authorization: Bearer {s}"), s)),
            body.prop_map(|s| (format!("?password={s}&x"), s)),
            body.prop_map(|s| (format!("\"client_secret\": \"{s}\""), s)),
            body.prop_map(|s| (format!(" postgres://app:{s}@db/x"), s)),
            body.prop_map(|s| (format!(" sk_live_{s}"), s)),
            body.prop_map(|s| (format!(" ghp_{s}"), s)),
            "[A-Z0-9]{16}".prop_map(|s| (format!(" AKIA{s} "), s)),
            (body, body).prop_map(|(a, b)| (format!(" eyJ{a}.{b}.sig"), format!("eyJ{a}"))),
        ]
    }

    proptest! {
        #[test]
        fn never_panics_and_is_idempotent(s in any::<String>()) {
            let once = m(&s);
            prop_assert_eq!(mask(&once), None);
        }

        #[test]
        fn never_panics_on_anchor_soup(parts in proptest::collection::vec(prop_oneof![
            Just("eyJ"), Just("."), Just("token"), Just("="), Just(":"), Just("://"), Just("@"), Just(" "),
            Just("Bearer "), Just("\""), Just("'"), Just("\r\n"), Just("sk_live_"), Just("AKIA"), Just("é"), Just("x1Y")
        ], 0..64)) {
            let s: String = parts.concat();
            let once = m(&s);
            prop_assert_eq!(mask(&once), None);
        }

        #[test]
        fn secrets_never_survive((text, secret) in secret(), before in ".{0,40}", after in "[ \r\n&;,]{1}.{0,40}") {
            let s = format!("{before}{text}{after}");
            let out = m(&s);
            prop_assert!(!out.contains(&secret), "{:?} -> {:?}", s, out);
            prop_assert!(out.len() <= s.len() + (REDACTED.len() - 1) * out.matches(REDACTED).count());
        }
    }
}
