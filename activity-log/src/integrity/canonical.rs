//! The canonical bytes of an activity, for hashing: see [`canonical_bytes`].

use crate::{Activity, Change};
#[cfg(any(feature = "sqlite", feature = "postgres"))]
use serde_json::value::RawValue;
use serde_json::{Map, Number, Value};
use std::cmp::Ordering;
use std::collections::BTreeMap;
use std::io::Write as _;

/// The canonical bytes of an activity: RFC 8785 (JSON Canonicalization
/// Scheme) JSON of the logical record, so that a hash never depends on how
/// a database renders it (`jsonb` re-orders keys and re-formats numbers;
/// SQLite keeps text as given).
///
/// The record is one JSON object with the keys `activity_type`, `actor`
/// (`{id, kind, name}` or `null`), `changes` (`{field: {after, before}}`),
/// `description`, `duration_us`, `error`, `id` (hyphenated lower-case),
/// `ip`, `metadata`, `occurred_at` (microseconds since the Unix epoch),
/// `outcome`, `request_id`, `severity`, `tags`, `target` (`{id, kind,
/// name}` or `null`), `tenant`, `trace_id` and `user_agent`; absent values
/// are `null`, empty metadata and changes `{}`, empty tags `[]`. Object
/// keys are sorted by UTF-16 code units, strings are escaped as
/// ECMAScript's `JSON.stringify` does, numbers are written as
/// ECMAScript's `Number.prototype.toString` (integers that fit 64 bits
/// exactly, as they are stored), all without white space.
///
/// ```
/// use activity_log::integrity::canonical_bytes;
/// use activity_log::Activity;
///
/// let a = Activity::new("login").tenant("acme").meta("b", 1.0).meta("a", "x").build()?;
/// let text = String::from_utf8(canonical_bytes(&a)).unwrap();
/// assert!(text.starts_with(r#"{"activity_type":"login","actor":null,"changes":{}"#));
/// assert!(text.contains(r#""metadata":{"a":"x","b":1}"#));
/// # Ok::<(), activity_log::ValidationError>(())
/// ```
pub fn canonical_bytes(activity: &Activity) -> Vec<u8> {
    let mut out = Vec::with_capacity(512);
    write_canonical(activity, &mut out);
    out
}

/// Appends the canonical bytes of `a` to `out`.
pub(crate) fn write_canonical(a: &Activity, out: &mut Vec<u8>) {
    // (The SQL stores' verification writes the same bytes straight from a
    // row: `sql::decode::canonical`. A change here changes it too.)
    out.extend_from_slice(br#"{"activity_type":"#);
    string(out, &a.activity_type);
    out.extend_from_slice(br#","actor":"#);
    match &a.actor {
        None => null(out),
        Some(actor) => {
            out.extend_from_slice(br#"{"id":"#);
            opt(out, actor.id.as_deref());
            out.extend_from_slice(br#","kind":"#);
            string(out, actor.kind.as_str());
            out.extend_from_slice(br#","name":"#);
            opt(out, actor.name.as_deref());
            out.push(b'}');
        }
    }
    out.extend_from_slice(br#","changes":"#);
    changes(out, &a.changes);
    out.extend_from_slice(br#","description":"#);
    opt(out, a.description.as_deref());
    out.extend_from_slice(br#","duration_us":"#);
    match a.duration {
        None => null(out),
        Some(d) => integer(out, i64::try_from(d.as_micros()).unwrap_or(i64::MAX)),
    }
    out.extend_from_slice(br#","error":"#);
    opt(out, a.error.as_deref());
    out.extend_from_slice(br#","id":""#);
    out.extend_from_slice(a.id.hyphenated().encode_lower(&mut uuid::Uuid::encode_buffer()).as_bytes());
    out.extend_from_slice(br#"","ip":"#);
    opt(out, a.ip.as_deref());
    out.extend_from_slice(br#","metadata":"#);
    object(out, &a.metadata);
    out.extend_from_slice(br#","occurred_at":"#);
    integer(out, a.occurred_at.timestamp_micros());
    out.extend_from_slice(br#","outcome":"#);
    string(out, a.outcome.as_str());
    out.extend_from_slice(br#","request_id":"#);
    opt(out, a.request_id.as_deref());
    out.extend_from_slice(br#","severity":"#);
    string(out, a.severity.as_str());
    out.extend_from_slice(br#","tags":["#);
    for (i, tag) in a.tags.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        string(out, tag);
    }
    out.extend_from_slice(br#"],"target":"#);
    match &a.target {
        None => null(out),
        Some(t) => {
            out.extend_from_slice(br#"{"id":"#);
            opt(out, t.id.as_deref());
            out.extend_from_slice(br#","kind":"#);
            string(out, &t.kind);
            out.extend_from_slice(br#","name":"#);
            opt(out, t.name.as_deref());
            out.push(b'}');
        }
    }
    out.extend_from_slice(br#","tenant":"#);
    opt(out, a.tenant.as_deref());
    out.extend_from_slice(br#","trace_id":"#);
    opt(out, a.trace_id.as_deref());
    out.extend_from_slice(br#","user_agent":"#);
    opt(out, a.user_agent.as_deref());
    out.push(b'}');
}

/// `{field: {"after": ..., "before": ...}}`, fields in UTF-16 order.
pub(crate) fn changes(out: &mut Vec<u8>, changes: &BTreeMap<String, Change>) {
    out.push(b'{');
    // BTreeMap order is by UTF-8 bytes; JCS wants UTF-16 code units.
    let mut fields: Vec<_> = changes.iter().collect();
    fields.sort_by(|x, y| utf16_cmp(x.0, y.0));
    for (i, (field, change)) in fields.into_iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        string(out, field);
        out.extend_from_slice(br#":{"after":"#);
        value(out, &change.after);
        out.extend_from_slice(br#","before":"#);
        value(out, &change.before);
        out.push(b'}');
    }
    out.push(b'}');
}

pub(crate) fn null(out: &mut Vec<u8>) {
    out.extend_from_slice(b"null");
}

pub(crate) fn integer(out: &mut Vec<u8>, n: i64) {
    let mut buffer = itoa_buffer();
    out.extend_from_slice(format_i64(&mut buffer, n));
}

/// Room for the longest `i64`.
fn itoa_buffer() -> [u8; 20] {
    [0; 20]
}

/// `n` in decimal, written at the end of `buffer` (no allocation, no
/// formatting machinery: this runs for every record verified).
fn format_i64(buffer: &mut [u8; 20], n: i64) -> &[u8] {
    let mut at = buffer.len();
    let mut m = n.unsigned_abs();
    loop {
        at -= 1;
        buffer[at] = b'0' + (m % 10) as u8;
        m /= 10;
        if m == 0 {
            break;
        }
    }
    if n < 0 {
        at -= 1;
        buffer[at] = b'-';
    }
    &buffer[at..]
}

pub(crate) fn opt(out: &mut Vec<u8>, s: Option<&str>) {
    match s {
        None => null(out),
        Some(s) => string(out, s),
    }
}

/// A JSON string as ECMAScript's `JSON.stringify` writes it.
pub(crate) fn string(out: &mut Vec<u8>, s: &str) {
    out.push(b'"');
    let bytes = s.as_bytes();
    // Most strings need no escape: one scan without branches (which the
    // compiler vectorises), one copy.
    if !bytes.iter().fold(false, |any, &b| any | (b < 0x20) | (b == b'"') | (b == b'\\')) {
        out.extend_from_slice(bytes);
        out.push(b'"');
        return;
    }
    let mut start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        let escape: &[u8] = match b {
            b'"' => b"\\\"",
            b'\\' => b"\\\\",
            0x08 => b"\\b",
            0x0c => b"\\f",
            b'\n' => b"\\n",
            b'\r' => b"\\r",
            b'\t' => b"\\t",
            0..=0x1f => b"",
            _ => continue,
        };
        out.extend_from_slice(&bytes[start..i]);
        if escape.is_empty() {
            let _ = write!(out, "\\u{b:04x}");
        } else {
            out.extend_from_slice(escape);
        }
        start = i + 1;
    }
    out.extend_from_slice(&bytes[start..]);
    out.push(b'"');
}

/// Orders strings by their UTF-16 code units (RFC 8785 section 3.2.3).
fn utf16_cmp(a: &str, b: &str) -> Ordering {
    if a.is_ascii() && b.is_ascii() {
        return a.cmp(b);
    }
    a.encode_utf16().cmp(b.encode_utf16())
}

pub(crate) fn object(out: &mut Vec<u8>, map: &Map<String, Value>) {
    out.push(b'{');
    let mut entries: Vec<_> = map.iter().collect();
    entries.sort_by(|x, y| utf16_cmp(x.0, y.0));
    for (i, (key, v)) in entries.into_iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        string(out, key);
        out.push(b':');
        value(out, v);
    }
    out.push(b'}');
}

/// Writes the JSON object `text` as [`object`] writes it once parsed, when
/// the object is flat and plain (what metadata usually is): keys ASCII
/// and without escapes, values strings without escapes, integers in
/// their shortest decimal form, `true`, `false` or `null`. Each of those
/// is then written as it appears in `text` (the keys sorted), without
/// building owned values. Returns `false`, `out` as it was, for any other
/// text: the caller parses it in full.
#[cfg(any(feature = "sqlite", feature = "postgres"))]
pub(crate) fn plain_object(out: &mut Vec<u8>, text: &str) -> bool {
    // Borrowed keys: one with an escape fails here.
    let Ok(map) = serde_json::from_str::<BTreeMap<&str, &RawValue>>(text) else { return false };
    let start = out.len();
    out.push(b'{');
    for (i, (key, raw)) in map.into_iter().enumerate() {
        // ASCII keys: byte order (the map's) is UTF-16 order.
        if !key.is_ascii() || !plain_value(out, key, raw.get(), i > 0) {
            out.truncate(start);
            return false;
        }
    }
    out.push(b'}');
    true
}

/// Writes `"key":raw` (after a comma when `comma`) if `raw` is a plain
/// value ([`plain_object`]), written as [`value`] would write it parsed.
#[cfg(any(feature = "sqlite", feature = "postgres"))]
fn plain_value(out: &mut Vec<u8>, key: &str, raw: &str, comma: bool) -> bool {
    let bytes = raw.as_bytes();
    let plain = match bytes.first() {
        // A string without escapes holds no quote, backslash or control
        // character: [`string`] writes it as it is.
        Some(b'"') => !bytes.contains(&b'\\'),
        // `true`, `false`, `null` (the text parsed as JSON).
        Some(b't' | b'f' | b'n') => true,
        // An integer written as [`integer`] writes it (no leading zero,
        // no `-0`, no fraction or exponent), within 64 bits.
        Some(b'-' | b'0'..=b'9') => raw.parse::<i64>().is_ok_and(|n| format_i64(&mut itoa_buffer(), n) == bytes),
        _ => false,
    };
    if plain {
        if comma {
            out.push(b',');
        }
        string(out, key);
        out.push(b':');
        out.extend_from_slice(bytes);
    }
    plain
}

fn value(out: &mut Vec<u8>, v: &Value) {
    match v {
        Value::Null => null(out),
        Value::Bool(true) => out.extend_from_slice(b"true"),
        Value::Bool(false) => out.extend_from_slice(b"false"),
        Value::Number(n) => number(out, n),
        Value::String(s) => string(out, s),
        Value::Array(items) => {
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                value(out, item);
            }
            out.push(b']');
        }
        Value::Object(map) => object(out, map),
    }
}

/// A number as ECMAScript writes a double (serde_json parses with its
/// `float_roundtrip` feature, so that a double written and read back is
/// the same double); integers that fit 64 bits
/// exactly (as `jsonb` and SQLite keep them). An integral double below
/// 10^21 prints the same digits either way, so `3`, `3.0` and `3e0` all
/// become `3`, whichever way a database gave them back.
fn number(out: &mut Vec<u8>, n: &Number) {
    if let Some(i) = n.as_i64() {
        integer(out, i);
    } else if let Some(u) = n.as_u64() {
        let _ = write!(out, "{u}");
    } else if let Some(f) = n.as_f64() {
        let mut buffer = ryu_js::Buffer::new();
        out.extend_from_slice(buffer.format(f).as_bytes());
    } else {
        null(out);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Activity, Actor, Change};
    use serde_json::json;

    fn text(a: &Activity) -> String {
        String::from_utf8(canonical_bytes(a)).expect("utf-8")
    }

    #[test]
    fn strings_are_escaped_as_json_stringify_does() {
        let mut out = Vec::new();
        string(&mut out, "a\"b\\c\n\u{1}\u{7f}é\u{2028}");
        assert_eq!(String::from_utf8(out).expect("utf-8"), "\"a\\\"b\\\\c\\n\\u0001\u{7f}é\u{2028}\"");
    }

    #[test]
    fn numbers_are_written_as_ecmascript_does() {
        let cases = [
            (json!(1.0), "1"),
            (json!(-0.0), "0"),
            (json!(0.1), "0.1"),
            (json!(1e21), "1e+21"),
            (json!(1e20), "100000000000000000000"),
            (json!(1.5e-7), "1.5e-7"),
            (json!(u64::MAX), "18446744073709551615"),
            (json!(-42), "-42"),
        ];
        for (v, expected) in cases {
            let mut out = Vec::new();
            value(&mut out, &v);
            assert_eq!(String::from_utf8(out).expect("utf-8"), expected, "{v}");
        }
    }

    #[test]
    fn doubles_read_back_from_their_json_give_the_same_bytes() {
        let mut rng = fastrand::Rng::with_seed(7);
        for i in 0..20_000 {
            let f = f64::from_bits(rng.u64(..));
            let f = if f.is_finite() { f } else { i as f64 / 7.0 };
            let v = json!(f);
            let back: Value = serde_json::from_str(&serde_json::to_string(&v).expect("json")).expect("parse");
            let (mut a, mut b) = (Vec::new(), Vec::new());
            value(&mut a, &v);
            value(&mut b, &back);
            assert_eq!(a, b, "{f:e}");
        }
    }

    #[cfg(any(feature = "sqlite", feature = "postgres"))]
    /// A random JSON value: mostly what metadata holds, sometimes what
    /// the plain path must refuse (escapes, floats, nesting).
    fn random_value(rng: &mut fastrand::Rng, depth: u32) -> Value {
        let texts = ["sales", "", "a\"b", "back\\slash", "tab\t", "\u{1}", "école", "\u{1F600}", "\u{FB01}", "x y"];
        match rng.u8(..12) {
            0 | 1 => Value::String(texts[rng.usize(..texts.len())].to_owned()),
            2 => json!(rng.i64(..)),
            3 => json!(rng.u64(..)),
            4 => json!(rng.i64(-1000..1000)),
            5 => json!(f64::from(rng.i32(..)) / 8.0),
            6 => json!(rng.bool()),
            7 => Value::Null,
            8 if depth < 2 => Value::Array((0..rng.usize(..3)).map(|_| random_value(rng, depth + 1)).collect()),
            9 if depth < 2 => random_object(rng, depth + 1),
            _ => json!(rng.u8(..)),
        }
    }

    #[cfg(any(feature = "sqlite", feature = "postgres"))]
    fn random_object(rng: &mut fastrand::Rng, depth: u32) -> Value {
        let keys = ["queue", "attempt", "a", "b", "ab", "Z", "é", "\u{1F600}", "\u{FB01}", "k\"ey", "n"];
        let mut map = Map::new();
        for _ in 0..rng.usize(..6) {
            map.insert(keys[rng.usize(..keys.len())].to_owned(), random_value(rng, depth));
        }
        Value::Object(map)
    }

    #[test]
    #[cfg(any(feature = "sqlite", feature = "postgres"))]
    fn plain_objects_are_written_as_parsed_ones_and_others_left_alone() {
        let mut rng = fastrand::Rng::with_seed(11);
        let mut plain = 0;
        for i in 0..20_000 {
            let v = random_object(&mut rng, 0);
            let compact = serde_json::to_string(&v).expect("json");
            // As jsonb prints it: a space after each colon and comma.
            let spaced = compact.replace("\":", "\": ").replace(",\"", ", \"");
            let mut text = if i % 2 == 0 { compact } else { spaced };
            // Numbers as other writers may give them.
            match i % 7 {
                0 => text = text.replace(":1", ":01"),
                1 => text = text.replace(":0", ":-0"),
                2 => text = text.replace(":2", ":2.0"),
                3 => text = text.replace(":3", ":3e0"),
                _ => {}
            }
            let Ok(parsed) = serde_json::from_str::<Map<String, Value>>(&text) else { continue };
            let mut expected = b"x".to_vec();
            object(&mut expected, &parsed);
            let mut out = b"x".to_vec();
            if plain_object(&mut out, &text) {
                plain += 1;
                assert_eq!(String::from_utf8_lossy(&out), String::from_utf8_lossy(&expected), "{text}");
            } else {
                assert_eq!(out, b"x", "{text}");
            }
        }
        // Most flat ones take the plain path.
        assert!(plain > 2_000, "{plain}");
        let mut out = Vec::new();
        assert!(plain_object(&mut out, r#"{"queue": "sales", "attempt": 2, "on": true, "x": null}"#));
        assert_eq!(out, br#"{"attempt":2,"on":true,"queue":"sales","x":null}"#);
        for refused in
            [r#"{"a": 1.5}"#, r#"{"a": "\n"}"#, r#"{"\u00e9": 1}"#, r#"{"é": 1}"#, r#"{"a": [1]}"#, "[1]", "{"]
        {
            let mut out = Vec::new();
            assert!(!plain_object(&mut out, refused) && out.is_empty(), "{refused}");
        }
    }

    #[test]
    fn integers_are_written_in_decimal() {
        for n in [0, 7, -7, 10, 1_234_567_890, i64::MAX, i64::MIN, 1_700_000_000_000_000] {
            let mut out = Vec::new();
            integer(&mut out, n);
            assert_eq!(String::from_utf8(out).expect("utf-8"), n.to_string());
        }
    }

    #[test]
    fn keys_sort_by_utf16_code_units() {
        // U+FB01 sorts after U+1F600 in UTF-8 but before it in UTF-16.
        let mut out = Vec::new();
        let v = json!({"\u{1F600}": 1, "\u{FB01}": 2, "b": 3, "a": 4});
        value(&mut out, &v);
        assert_eq!(String::from_utf8(out).expect("utf-8"), "{\"a\":4,\"b\":3,\"\u{1F600}\":1,\"\u{FB01}\":2}");
    }

    #[test]
    fn reformatted_json_gives_the_same_bytes() {
        let a = Activity::new("x")
            .meta("n", 3.0)
            .meta("list", json!([1, {"z": 1, "y": 2.50}]))
            .change("plan", json!("free"), json!({"b": 1e2, "a": null}))
            .build()
            .expect("valid");
        let mut b = a.clone();
        // What jsonb gives back: other key order, numbers re-formatted.
        b.metadata = serde_json::from_str(r#"{"list": [1, {"y": 2.5, "z": 1}], "n": 3.0}"#).expect("json");
        b.changes.insert("plan".into(), Change::new(json!("free"), json!({"a": null, "b": 100})));
        assert_eq!(text(&a), text(&b));
    }

    #[test]
    fn every_field_is_covered() {
        let a = Activity::new("t")
            .tenant("acme")
            .actor(Actor::user("u").with_name("User"))
            .target("call", 1)
            .description("d")
            .ip("203.0.113.9")
            .user_agent("ua")
            .request_id("r")
            .trace_id("tr")
            .error("e")
            .tag("x")
            .duration(std::time::Duration::from_micros(7))
            .build()
            .expect("valid");
        let t = text(&a);
        let parsed: Value = serde_json::from_str(&t).expect("canonical bytes are JSON");
        assert_eq!(parsed["actor"]["name"], "User");
        assert_eq!(parsed["duration_us"], 7);
        assert_eq!(parsed["occurred_at"], a.occurred_at.timestamp_micros());
        assert_eq!(parsed.as_object().map(Map::len), Some(18));
    }
}
