//! IP addresses as text, without the formatting machinery for IPv4 (the
//! usual case): the HTTP layer writes one for every request.

use std::net::IpAddr;

/// The longest IPv4 address in text: `255.255.255.255`.
pub(crate) const IPV4_LEN: usize = 15;

/// Writes `octets` as an IPv4 address is printed (the decimal bytes joined
/// by dots, as `Ipv4Addr`'s `Display` and PostgreSQL's `host()` do) at the
/// start of `out`; returns the length.
pub(crate) fn ipv4_text(octets: [u8; 4], out: &mut [u8; IPV4_LEN]) -> usize {
    let mut len = 0;
    for (i, octet) in octets.into_iter().enumerate() {
        if i > 0 {
            out[len] = b'.';
            len += 1;
        }
        if octet >= 100 {
            out[len] = b'0' + octet / 100;
            len += 1;
        }
        if octet >= 10 {
            out[len] = b'0' + octet / 10 % 10;
            len += 1;
        }
        out[len] = b'0' + octet % 10;
        len += 1;
    }
    len
}

/// `ip` as its `Display` prints it.
#[cfg_attr(not(feature = "axum"), allow(dead_code))]
pub(crate) fn ip_string(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => {
            let mut out = [0; IPV4_LEN];
            let len = ipv4_text(v4.octets(), &mut out);
            // Digits and dots only.
            out[..len].iter().map(|&b| char::from(b)).collect()
        }
        IpAddr::V6(v6) => v6.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    #[test]
    fn ipv4_text_is_the_decimal_bytes() {
        let mut rng = fastrand::Rng::with_seed(3);
        for _ in 0..10_000 {
            let octets = [rng.u8(..), rng.u8(..), rng.u8(..), rng.u8(..)];
            let mut out = [0; IPV4_LEN];
            let len = ipv4_text(octets, &mut out);
            assert_eq!(&out[..len], Ipv4Addr::from(octets).to_string().as_bytes());
        }
    }

    #[test]
    fn ip_strings_are_as_displayed() {
        for ip in ["0.0.0.0", "255.255.255.255", "10.0.0.7", "::1", "2001:db8::8a2e:370:7334", "::ffff:1.2.3.4"] {
            let ip: IpAddr = ip.parse().unwrap();
            assert_eq!(ip_string(ip), ip.to_string());
        }
    }
}
