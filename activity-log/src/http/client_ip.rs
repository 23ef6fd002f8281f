//! The client's address: the peer, or what trusted proxies say the client
//! was.
//!
//! A `Forwarded` or `X-Forwarded-For` header is text any client can send,
//! so it is read only when the peer (the TCP connection's other end) is one
//! of the configured trusted proxies. The chain is then walked from the
//! right (the hop nearest to this server) skipping trusted hops: the first
//! untrusted address is the client. Entries to its left were written by the
//! client or by proxies nobody vouches for, and are never used.

use http::{HeaderMap, HeaderName};
use ipnet::IpNet;
use std::net::{IpAddr, SocketAddr};

/// Which header the trusted proxies in front of this service write the
/// client's address to.
///
/// Only one is read: a proxy that appends to `X-Forwarded-For` passes a
/// client's own `Forwarded` header through untouched, so reading both would
/// let a client forge its address.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum ProxyHeader {
    /// `X-Forwarded-For: client, proxy1, proxy2` (nginx, HAProxy, most load
    /// balancers). The default.
    #[default]
    XForwardedFor,
    /// RFC 7239 `Forwarded: for=client;proto=https, for="[2001:db8::1]:4711"`.
    Forwarded,
}

impl ProxyHeader {
    fn name(self) -> HeaderName {
        match self {
            ProxyHeader::XForwardedFor => HeaderName::from_static("x-forwarded-for"),
            ProxyHeader::Forwarded => http::header::FORWARDED,
        }
    }
}

/// The trusted proxies and the header they write.
#[derive(Debug, Clone, Default)]
pub(crate) struct TrustedProxies {
    nets: Vec<IpNet>,
    header: ProxyHeader,
}

impl TrustedProxies {
    pub(crate) fn new(nets: Vec<IpNet>, header: ProxyHeader) -> Self {
        Self { nets, header }
    }

    fn trusts(&self, ip: IpAddr) -> bool {
        self.nets.iter().any(|net| net.contains(&ip))
    }

    /// The client's address for a request from `peer` with `headers`.
    ///
    /// When an entry cannot be read (`unknown`, an obfuscated identifier,
    /// bytes that are not an address), the walk stops there and the last
    /// address reached, a trusted hop, is the answer.
    pub(crate) fn client_ip(&self, peer: IpAddr, headers: &HeaderMap) -> IpAddr {
        let mut client = peer.to_canonical();
        if self.nets.is_empty() || !self.trusts(client) {
            return client;
        }
        // Several header lines form one list, in order.
        for line in headers.get_all(self.header.name()).iter().rev() {
            let Ok(text) = line.to_str() else { return client };
            for entry in text.rsplit(',') {
                let address = match self.header {
                    ProxyHeader::XForwardedFor => parse_address(entry),
                    ProxyHeader::Forwarded => forwarded_for(entry).and_then(parse_address),
                };
                let Some(address) = address else { return client };
                client = address.to_canonical();
                if !self.trusts(client) {
                    return client;
                }
            }
        }
        client
    }
}

/// The `for=` value of one `Forwarded` element, unquoted.
fn forwarded_for(element: &str) -> Option<&str> {
    element.split(';').find_map(|pair| {
        let (key, value) = pair.split_once('=')?;
        key.trim().eq_ignore_ascii_case("for").then(|| value.trim().trim_matches('"'))
    })
}

/// An address with or without a port: `192.0.2.1`, `192.0.2.1:8080`,
/// `2001:db8::1`, `[2001:db8::1]`, `[2001:db8::1]:4711`.
fn parse_address(text: &str) -> Option<IpAddr> {
    let text = text.trim();
    if let Ok(ip) = text.parse::<IpAddr>() {
        return Some(ip);
    }
    if let Ok(socket) = text.parse::<SocketAddr>() {
        return Some(socket.ip());
    }
    text.strip_prefix('[')?.strip_suffix(']')?.parse::<IpAddr>().ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    fn proxies(nets: &[&str], header: ProxyHeader) -> TrustedProxies {
        TrustedProxies::new(nets.iter().map(|n| n.parse().unwrap()).collect(), header)
    }

    fn headers(name: &str, values: &[&str]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for v in values {
            h.append(HeaderName::from_bytes(name.as_bytes()).unwrap(), HeaderValue::from_str(v).unwrap());
        }
        h
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn untrusted_peers_headers_are_ignored() {
        let p = proxies(&["10.0.0.0/8"], ProxyHeader::XForwardedFor);
        let h = headers("x-forwarded-for", &["1.2.3.4"]);
        assert_eq!(p.client_ip(ip("203.0.113.7"), &h), ip("203.0.113.7"));
        let none = TrustedProxies::default();
        assert_eq!(none.client_ip(ip("127.0.0.1"), &h), ip("127.0.0.1"));
    }

    #[test]
    fn the_chain_is_walked_from_the_right_skipping_trusted_hops() {
        let p = proxies(&["10.0.0.0/8", "192.168.1.1/32"], ProxyHeader::XForwardedFor);
        // The client forged "6.6.6.6"; the first proxy appended its real address.
        let h = headers("x-forwarded-for", &["6.6.6.6, 198.51.100.2", "10.1.1.1"]);
        assert_eq!(p.client_ip(ip("192.168.1.1"), &h), ip("198.51.100.2"));
        // Every hop trusted: the leftmost.
        let h = headers("x-forwarded-for", &["10.0.0.9 , 10.0.0.8"]);
        assert_eq!(p.client_ip(ip("10.0.0.1"), &h), ip("10.0.0.9"));
        // Unreadable entry: the last trusted hop reached.
        let h = headers("x-forwarded-for", &["6.6.6.6, unknown, 10.0.0.8"]);
        assert_eq!(p.client_ip(ip("10.0.0.1"), &h), ip("10.0.0.8"));
        // No header from a trusted peer: the peer.
        assert_eq!(p.client_ip(ip("10.0.0.1"), &HeaderMap::new()), ip("10.0.0.1"));
    }

    #[test]
    fn ports_brackets_and_mapped_addresses() {
        let p = proxies(&["::1/128", "127.0.0.0/8"], ProxyHeader::XForwardedFor);
        let h = headers("x-forwarded-for", &["[2001:db8::7]:4711"]);
        assert_eq!(p.client_ip(ip("::1"), &h), ip("2001:db8::7"));
        let h = headers("x-forwarded-for", &["192.0.2.5:8080"]);
        assert_eq!(p.client_ip(ip("::ffff:127.0.0.1"), &h), ip("192.0.2.5"));
        let h = headers("x-forwarded-for", &["::ffff:192.0.2.6"]);
        assert_eq!(p.client_ip(ip("127.0.0.1"), &h), ip("192.0.2.6"));
    }

    #[test]
    fn forwarded_is_read_only_when_chosen() {
        let fwd = proxies(&["127.0.0.1/32"], ProxyHeader::Forwarded);
        let xff = proxies(&["127.0.0.1/32"], ProxyHeader::XForwardedFor);
        let h = headers("forwarded", &[r#"for=192.0.2.60;proto=http, For="[2001:db8:cafe::17]:4711";by=127.0.0.1"#]);
        assert_eq!(fwd.client_ip(ip("127.0.0.1"), &h), ip("2001:db8:cafe::17"));
        assert_eq!(xff.client_ip(ip("127.0.0.1"), &h), ip("127.0.0.1"));
        let h = headers("forwarded", &["proto=https"]);
        assert_eq!(fwd.client_ip(ip("127.0.0.1"), &h), ip("127.0.0.1"));
    }
}
