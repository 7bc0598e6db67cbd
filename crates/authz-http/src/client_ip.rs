//! The client's IP address: the one place that decides which address a request came from.
//!
//! The address is the socket peer's, unless the peer is one of `server.trusted_proxies`: then the
//! forwarding headers are read, `Forwarded` (RFC 7239) if present, else `X-Forwarded-For`, from
//! the right (the hop nearest to us) to the left, skipping every trusted proxy; the first
//! untrusted address is the client. Headers from an untrusted peer are ignored, so nobody can
//! choose their own address by sending a header. An entry that is not an address (`unknown`, an
//! obfuscated identifier, garbage) stops the walk at the last trusted hop: the request is then
//! attributed to that proxy, never to a value the client could have written.
//!
//! [`crate::rate_limit::limit`] computes the address once per request and stores it as the
//! [`ClientIp`] request extension; everything else (rate limits, the audit trail's
//! `remote_addr`) reads it with [`client_ip`].

use std::net::IpAddr;
use std::str::FromStr;

use actix_web::dev::ServiceRequest;
use actix_web::http::header::{HeaderMap, HeaderName};
use actix_web::{HttpMessage, HttpRequest};

/// The client's address as decided by this module, stored as a request extension.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ClientIp(pub IpAddr);

/// One `server.trusted_proxies` entry: an address or a CIDR block.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Network {
    address: IpAddr,
    prefix: u8,
}

impl Network {
    fn contains(&self, ip: IpAddr) -> bool {
        match (self.address, canonical(ip)) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                let mask = u32::MAX
                    .checked_shl(32 - u32::from(self.prefix))
                    .unwrap_or(0);
                u32::from(net) & mask == u32::from(ip) & mask
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.prefix))
                    .unwrap_or(0);
                u128::from(net) & mask == u128::from(ip) & mask
            }
            _ => false,
        }
    }
}

/// IPv4-mapped IPv6 addresses (`::ffff:192.0.2.1`, what a dual-stack socket reports) as IPv4.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(IpAddr::V6(v6), IpAddr::V4),
        v4 => v4,
    }
}

/// The proxies whose forwarding headers are believed (`server.trusted_proxies`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrustedProxies(Vec<Network>);

impl TrustedProxies {
    /// Parses addresses (`10.0.0.7`, `::1`) and CIDR blocks (`10.0.0.0/8`, `fd00::/8`).
    ///
    /// # Errors
    /// The first entry that is neither, with what is expected.
    pub fn parse<S: AsRef<str>>(entries: &[S]) -> Result<Self, String> {
        entries
            .iter()
            .map(|entry| {
                let entry = entry.as_ref().trim();
                let bad = || {
                    format!(
                        "{entry:?} is neither an IP address nor a CIDR block (like 10.0.0.0/8 or fd00::/8)"
                    )
                };
                let (address, prefix) = match entry.split_once('/') {
                    Some((a, p)) => (a, Some(p)),
                    None => (entry, None),
                };
                let address = canonical(IpAddr::from_str(address).map_err(|_| bad())?);
                let max = if address.is_ipv4() { 32 } else { 128 };
                let prefix = match prefix {
                    None => max,
                    Some(p) => p.parse::<u8>().ok().filter(|p| *p <= max).ok_or_else(bad)?,
                };
                Ok(Network { address, prefix })
            })
            .collect::<Result<Vec<_>, String>>()
            .map(Self)
    }

    /// No proxy is trusted: the socket peer is always the client.
    pub fn none() -> Self {
        Self::default()
    }

    /// Whether `ip` is a trusted proxy.
    pub fn contains(&self, ip: IpAddr) -> bool {
        self.0.iter().any(|n| n.contains(ip))
    }

    /// Whether no proxy is trusted.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// The client's address given the socket `peer` and the request `headers` (see the module
/// documentation). `None` only when there is no peer address (a Unix socket, a test request).
pub fn resolve(
    peer: Option<IpAddr>,
    headers: &HeaderMap,
    trusted: &TrustedProxies,
) -> Option<IpAddr> {
    let mut client = canonical(peer?);
    if !trusted.contains(client) {
        return Some(client);
    }
    let forwarded = forwarded_for(headers);
    let hops = match forwarded {
        Some(hops) => hops,
        None => x_forwarded_for(headers),
    };
    for hop in hops.iter().rev() {
        match hop {
            Some(ip) => {
                client = canonical(*ip);
                if !trusted.contains(client) {
                    return Some(client);
                }
            }
            // Not an address: attribute the request to the last trusted hop.
            None => return Some(client),
        }
    }
    Some(client)
}

/// The `for=` values of every `Forwarded` header, in order; `None` when there is no such header.
fn forwarded_for(headers: &HeaderMap) -> Option<Vec<Option<IpAddr>>> {
    let mut values = headers
        .get_all(HeaderName::from_static("forwarded"))
        .peekable();
    values.peek()?;
    let mut hops = Vec::new();
    for value in values {
        let Ok(value) = value.to_str() else {
            hops.push(None);
            continue;
        };
        for element in value.split(',') {
            let node = element.split(';').find_map(|pair| {
                let (name, value) = pair.trim().split_once('=')?;
                name.trim()
                    .eq_ignore_ascii_case("for")
                    .then(|| value.trim().trim_matches('"'))
            });
            // An element without `for=` says nothing about the client: skip it.
            if let Some(node) = node {
                hops.push(parse_node(node));
            }
        }
    }
    Some(hops)
}

/// The entries of every `X-Forwarded-For` header, in order.
fn x_forwarded_for(headers: &HeaderMap) -> Vec<Option<IpAddr>> {
    let mut hops = Vec::new();
    for value in headers.get_all(HeaderName::from_static("x-forwarded-for")) {
        match value.to_str() {
            Ok(value) => hops.extend(
                value
                    .split(',')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(parse_node),
            ),
            Err(_) => hops.push(None),
        }
    }
    hops
}

/// `192.0.2.1`, `192.0.2.1:4711`, `2001:db8::1`, `[2001:db8::1]`, `[2001:db8::1]:4711`.
fn parse_node(node: &str) -> Option<IpAddr> {
    if let Some(rest) = node.strip_prefix('[') {
        let (address, _) = rest.split_once(']')?;
        return IpAddr::from_str(address).ok();
    }
    if let Ok(ip) = IpAddr::from_str(node) {
        return Some(ip);
    }
    let (address, port) = node.rsplit_once(':')?;
    port.parse::<u16>().ok()?;
    std::net::Ipv4Addr::from_str(address).ok().map(IpAddr::V4)
}

/// Resolves the client address of `req` and stores it as its [`ClientIp`] extension.
pub(crate) fn remember(req: &ServiceRequest, trusted: &TrustedProxies) -> Option<IpAddr> {
    let ip = resolve(req.peer_addr().map(|a| a.ip()), req.headers(), trusted);
    if let Some(ip) = ip {
        req.extensions_mut().insert(ClientIp(ip));
    }
    ip
}

/// The client's address of `req`: the [`ClientIp`] extension, or else the socket peer (a request
/// that did not pass through [`crate::rate_limit::limit`], as in unit tests).
pub fn client_ip(req: &HttpRequest) -> Option<IpAddr> {
    req.extensions()
        .get::<ClientIp>()
        .map(|c| c.0)
        .or_else(|| req.peer_addr().map(|a| canonical(a.ip())))
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::http::header::HeaderValue;

    fn ip(s: &str) -> IpAddr {
        s.parse().expect("address")
    }

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(
                HeaderName::from_static(name),
                HeaderValue::from_str(value).expect("value"),
            );
        }
        map
    }

    #[test]
    fn headers_from_an_untrusted_peer_are_ignored() {
        let trusted = TrustedProxies::parse(&["10.0.0.0/8"]).expect("parses");
        let h = headers(&[
            ("x-forwarded-for", "203.0.113.9"),
            ("forwarded", "for=198.51.100.1"),
        ]);
        assert_eq!(
            resolve(Some(ip("192.0.2.1")), &h, &trusted),
            Some(ip("192.0.2.1"))
        );
        // Nothing trusted: the peer, whatever the headers say.
        assert_eq!(
            resolve(Some(ip("10.0.0.1")), &h, &TrustedProxies::none()),
            Some(ip("10.0.0.1"))
        );
    }

    #[test]
    fn the_rightmost_untrusted_hop_is_the_client() {
        let trusted = TrustedProxies::parse(&["10.0.0.0/8", "192.0.2.7"]).expect("parses");
        // The client prepended a lie; the proxies appended the truth on the right.
        let h = headers(&[("x-forwarded-for", "1.2.3.4, 203.0.113.9, 192.0.2.7")]);
        assert_eq!(
            resolve(Some(ip("10.1.2.3")), &h, &trusted),
            Some(ip("203.0.113.9"))
        );
        // Several header lines are one list, in order.
        let h = headers(&[
            ("x-forwarded-for", "1.2.3.4"),
            ("x-forwarded-for", "203.0.113.9:5555"),
        ]);
        assert_eq!(
            resolve(Some(ip("10.1.2.3")), &h, &trusted),
            Some(ip("203.0.113.9"))
        );
        // Every hop trusted: the leftmost.
        let h = headers(&[("x-forwarded-for", "10.9.9.9, 192.0.2.7")]);
        assert_eq!(
            resolve(Some(ip("10.1.2.3")), &h, &trusted),
            Some(ip("10.9.9.9"))
        );
        // No header: the proxy itself.
        assert_eq!(
            resolve(Some(ip("10.1.2.3")), &HeaderMap::new(), &trusted),
            Some(ip("10.1.2.3"))
        );
    }

    #[test]
    fn forwarded_wins_over_x_forwarded_for_and_understands_its_syntax() {
        let trusted = TrustedProxies::parse(&["127.0.0.1", "::1"]).expect("parses");
        let h = headers(&[
            ("x-forwarded-for", "1.2.3.4"),
            (
                "forwarded",
                "for=192.0.2.60;proto=http;by=203.0.113.43, For=\"[2001:db8:cafe::17]:4711\"",
            ),
        ]);
        assert_eq!(
            resolve(Some(ip("::1")), &h, &trusted),
            Some(ip("2001:db8:cafe::17"))
        );
        let h = headers(&[("forwarded", "for=\"192.0.2.43:47011\"")]);
        assert_eq!(
            resolve(Some(ip("127.0.0.1")), &h, &trusted),
            Some(ip("192.0.2.43"))
        );
    }

    #[test]
    fn an_entry_that_is_no_address_stops_at_the_last_trusted_hop() {
        let trusted = TrustedProxies::parse(&["10.0.0.0/8"]).expect("parses");
        for value in ["for=unknown", "for=_hidden", "for=\"not an address\""] {
            let h = headers(&[("forwarded", value)]);
            assert_eq!(
                resolve(Some(ip("10.0.0.2")), &h, &trusted),
                Some(ip("10.0.0.2")),
                "{value}"
            );
        }
        let h = headers(&[("x-forwarded-for", "203.0.113.9, garbage")]);
        assert_eq!(
            resolve(Some(ip("10.0.0.2")), &h, &trusted),
            Some(ip("10.0.0.2"))
        );
    }

    #[test]
    fn mapped_ipv4_peers_match_ipv4_blocks() {
        let trusted = TrustedProxies::parse(&["127.0.0.0/8"]).expect("parses");
        let h = headers(&[("x-forwarded-for", "203.0.113.9")]);
        assert_eq!(
            resolve(Some(ip("::ffff:127.0.0.1")), &h, &trusted),
            Some(ip("203.0.113.9"))
        );
        assert_eq!(
            resolve(Some(ip("::ffff:192.0.2.1")), &HeaderMap::new(), &trusted),
            Some(ip("192.0.2.1"))
        );
    }

    #[test]
    fn bad_entries_are_named() {
        for bad in ["10.0.0.0/33", "fd00::/129", "example.com", "10.0.0/8", ""] {
            let e = TrustedProxies::parse(&[bad]).expect_err(bad);
            assert!(e.contains(&format!("{bad:?}")), "{e}");
        }
        let all = TrustedProxies::parse(&["0.0.0.0/0", "::/0"]).expect("parses");
        assert!(all.contains(ip("203.0.113.9")) && all.contains(ip("2001:db8::1")));
    }
}
