//! The request id: the client's `x-request-id` when it is sane, else a new
//! UUIDv7.

use http::{HeaderMap, HeaderName, HeaderValue};
use uuid::Uuid;

/// The header a request id is read from and echoed back in.
pub const REQUEST_ID_HEADER: HeaderName = HeaderName::from_static("x-request-id");

/// Longest `x-request-id` taken from a client, in bytes; a longer one is
/// replaced by a new id.
pub const MAX_REQUEST_ID_LEN: usize = 128;

/// The request id for `headers`: the first `x-request-id` value if it is
/// 1 to [`MAX_REQUEST_ID_LEN`] bytes of visible ASCII (no spaces, no control
/// or non-ASCII bytes), else a new UUIDv7. Returned as the header value to
/// echo and as the text for the context.
pub(crate) fn request_id(headers: &HeaderMap) -> (HeaderValue, String) {
    if let Some(value) = headers.get(&REQUEST_ID_HEADER) {
        if is_sane(value.as_bytes()) {
            // Visible ASCII is valid UTF-8.
            let text = String::from_utf8_lossy(value.as_bytes()).into_owned();
            return (value.clone(), text);
        }
    }
    generated()
}

/// A new UUIDv7 request id.
fn generated() -> (HeaderValue, String) {
    let mut buf = Uuid::encode_buffer();
    let text: &str = crate::uuid_v7::now().hyphenated().encode_lower(&mut buf);
    // A hyphenated UUID is always a valid header value.
    let value = HeaderValue::from_str(text).unwrap_or_else(|_| HeaderValue::from_static("invalid-request-id"));
    (value, text.to_owned())
}

fn is_sane(bytes: &[u8]) -> bool {
    (1..=MAX_REQUEST_ID_LEN).contains(&bytes.len()) && bytes.iter().all(|b| (0x21..=0x7e).contains(b))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with(value: &[u8]) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(REQUEST_ID_HEADER, HeaderValue::from_bytes(value).unwrap());
        h
    }

    #[test]
    fn sane_ids_are_kept() {
        let (value, text) = request_id(&with(b"req-42_abc.DEF"));
        assert_eq!((value.to_str().unwrap(), text.as_str()), ("req-42_abc.DEF", "req-42_abc.DEF"));
    }

    #[test]
    fn missing_or_insane_ids_are_replaced_by_a_uuid_v7() {
        let too_long = vec![b'a'; MAX_REQUEST_ID_LEN + 1];
        for headers in [HeaderMap::new(), with(b"has space"), with(b""), with("caf\u{e9}".as_bytes()), with(&too_long)]
        {
            let (value, text) = request_id(&headers);
            let id = Uuid::parse_str(&text).unwrap();
            assert_eq!(id.get_version_num(), 7);
            assert_eq!(value.to_str().unwrap(), text);
        }
        let longest = vec![b'a'; MAX_REQUEST_ID_LEN];
        assert_eq!(request_id(&with(&longest)).1.len(), MAX_REQUEST_ID_LEN);
    }
}
