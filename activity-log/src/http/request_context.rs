//! The context fields read from a request's head.

use super::client_ip::TrustedProxies;
use super::request_id::{request_id, REQUEST_ID_HEADER};
use super::traceparent::trace_id;
use crate::ip_text::ip_string;
use crate::limits::MAX_USER_AGENT_LEN;
use crate::ActivityContext;
use axum::extract::ConnectInfo;
use http::request::Parts;
use http::{header::USER_AGENT, HeaderMap, HeaderValue};
use std::net::SocketAddr;

/// The context for a request (request id, client ip, user agent, trace id)
/// and the request id to echo. The request's `x-request-id` is set to the
/// id in use, so the inner service sees the same one.
pub(crate) fn request_context(parts: &mut Parts, proxies: &TrustedProxies) -> (ActivityContext, HeaderValue) {
    let (id_value, id_text) = request_id(&parts.headers);
    // Already the request's one value when the client's id was kept.
    if !parts.headers.get_all(REQUEST_ID_HEADER).iter().eq(std::iter::once(&id_value)) {
        parts.headers.insert(REQUEST_ID_HEADER, id_value.clone());
    }
    let mut ctx = ActivityContext::new();
    ctx.request_id = Some(id_text);
    ctx.ip = parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(peer)| ip_string(proxies.client_ip(peer.ip(), &parts.headers)));
    ctx.user_agent = user_agent(&parts.headers);
    ctx.trace_id = trace_id(&parts.headers);
    (ctx, id_value)
}

/// The `User-Agent`, cut to [`MAX_USER_AGENT_LEN`] bytes (at a character
/// boundary) so that it never makes an activity invalid; bytes that are
/// not UTF-8 become U+FFFD.
fn user_agent(headers: &HeaderMap) -> Option<String> {
    let value = headers.get(USER_AGENT)?;
    // Visible ASCII (the usual case) needs no replacement.
    let text = match value.to_str() {
        Ok(ascii) => std::borrow::Cow::Borrowed(ascii),
        Err(_) => String::from_utf8_lossy(value.as_bytes()),
    };
    let mut end = text.len().min(MAX_USER_AGENT_LEN);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    (end > 0).then(|| text[..end].to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_agents_are_bounded_and_never_invalid() {
        let mut h = HeaderMap::new();
        assert_eq!(user_agent(&h), None);
        h.insert(USER_AGENT, HeaderValue::from_static("curl/8.5"));
        assert_eq!(user_agent(&h).as_deref(), Some("curl/8.5"));
        let long = format!("x{}", "\u{e9}".repeat(MAX_USER_AGENT_LEN));
        h.insert(USER_AGENT, HeaderValue::from_bytes(long.as_bytes()).unwrap());
        let ua = user_agent(&h).unwrap();
        assert!(ua.len() <= MAX_USER_AGENT_LEN && ua.len() >= MAX_USER_AGENT_LEN - 1);
        h.insert(USER_AGENT, HeaderValue::from_bytes(b"bad \xff byte").unwrap());
        assert_eq!(user_agent(&h).as_deref(), Some("bad \u{fffd} byte"));
    }
}
