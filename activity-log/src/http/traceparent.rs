//! The W3C Trace Context `traceparent` header: the trace id, validated.

use http::{HeaderMap, HeaderName};

/// The W3C Trace Context header (a constant: looking a header up by a
/// `&str` parses and hashes the name on every request).
const TRACEPARENT: HeaderName = HeaderName::from_static("traceparent");

/// The trace id of a valid `traceparent` header
/// (`version-traceid-parentid-flags`, lowercase hex): a version other than
/// `ff`, a 32-hex non-zero trace id, a 16-hex non-zero parent id and 2-hex
/// flags. Version `00` must be exactly that long; a later version may carry
/// more fields after a `-`. Anything else is ignored (`None`), as the
/// specification asks.
pub(crate) fn trace_id(headers: &HeaderMap) -> Option<String> {
    let mut values = headers.get_all(&TRACEPARENT).iter();
    let value = values.next()?;
    if values.next().is_some() {
        // Several traceparent headers: which one is meant is unknowable.
        return None;
    }
    parse(value.as_bytes()).map(str::to_owned)
}

fn parse(bytes: &[u8]) -> Option<&str> {
    const LEN: usize = 55;
    let head = bytes.get(..LEN)?;
    if !head.is_ascii() {
        return None;
    }
    // ASCII, so every index below is a character boundary.
    let text = std::str::from_utf8(head).ok()?;
    let (version, trace, parent, flags) = (&text[0..2], &text[3..35], &text[36..52], &text[53..55]);
    let dashes = [2, 35, 52].iter().all(|&i| bytes[i] == b'-');
    let valid = dashes
        && is_hex(version)
        && version != "ff"
        && is_hex(trace)
        && !is_zero(trace)
        && is_hex(parent)
        && !is_zero(parent)
        && is_hex(flags);
    let tail_ok = match (version, bytes.len()) {
        (_, LEN) => true,
        ("00", _) => false,
        (_, _) => bytes[LEN] == b'-',
    };
    (valid && tail_ok).then_some(trace)
}

fn is_hex(s: &str) -> bool {
    s.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

fn is_zero(s: &str) -> bool {
    s.bytes().all(|b| b == b'0')
}

#[cfg(test)]
mod tests {
    use super::parse;

    const TRACE: &str = "4bf92f3577b34da6a3ce929d0e0e4736";

    #[test]
    fn valid_headers_give_the_trace_id() {
        assert_eq!(parse(format!("00-{TRACE}-00f067aa0ba902b7-01").as_bytes()), Some(TRACE));
        assert_eq!(parse(format!("01-{TRACE}-00f067aa0ba902b7-00-extra").as_bytes()), Some(TRACE));
    }

    #[test]
    fn invalid_headers_are_ignored() {
        for bad in [
            format!("ff-{TRACE}-00f067aa0ba902b7-01"),
            format!("00-{}-00f067aa0ba902b7-01", "0".repeat(32)),
            format!("00-{TRACE}-0000000000000000-01"),
            format!("00-{}-00f067aa0ba902b7-01", TRACE.to_uppercase()),
            format!("00-{TRACE}-00f067aa0ba902b7-01-extra"),
            format!("01-{TRACE}-00f067aa0ba902b7-01extra"),
            format!("00_{TRACE}-00f067aa0ba902b7-01"),
            format!("00-{TRACE}-00f067aa0ba902b7-0"),
            "00-zz".to_owned(),
            String::new(),
        ] {
            assert_eq!(parse(bad.as_bytes()), None, "{bad}");
        }
        // Multi-byte characters must not panic the slicing.
        assert_eq!(parse("00-\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}-00f067aa0ba902b7-01x".as_bytes()), None);
    }
}
