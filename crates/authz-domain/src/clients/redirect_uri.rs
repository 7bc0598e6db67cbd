//! Redirect URIs (RFC 6749 §3.1.2, RFC 8252 §7, OAuth 2.1 §2.3) and the other URIs in client
//! metadata.
//!
//! A URI is checked on its parsed form but kept exactly as the client sent it, because the
//! authorization endpoint will compare redirect URIs by simple string comparison.

use std::net::{Ipv4Addr, Ipv6Addr};

use serde::{Deserialize, Serialize};
use url::{Host, Url};

use super::uri_agreement::check_agreement;
use crate::values::truncate;

/// Schemes refused whatever the policy says: they execute code, read local files, or are not
/// places an authorization response can be delivered to.
const NEVER_ALLOWED_SCHEMES: &[&str] = &[
    "javascript",
    "data",
    "vbscript",
    "file",
    "blob",
    "about",
    "view-source",
    "filesystem",
];

/// Registered network schemes that are not private-use schemes (RFC 8252 §7.1) and cannot carry an
/// authorization response either.
const NETWORK_SCHEMES: &[&str] = &[
    "ftp", "ftps", "sftp", "ws", "wss", "mailto", "tel", "sms", "ldap", "ldaps", "ssh", "telnet",
    "gopher", "news", "nntp", "irc", "ircs", "git", "svn", "rtsp", "sip", "sips", "xmpp", "urn",
];

/// How redirect URIs are judged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RedirectUriPolicy {
    /// Allow private-use URI schemes for native apps (`com.example.app:/cb`, `cursor://…`).
    pub allow_private_use_schemes: bool,
    /// Allow plain `http` on hosts other than loopback. Off by default: the code would travel in clear.
    pub allow_http_non_loopback: bool,
    /// The most redirect URIs one client may register.
    pub max_uris: usize,
    /// The longest redirect URI, in bytes.
    pub max_uri_length: usize,
}

impl Default for RedirectUriPolicy {
    fn default() -> Self {
        Self {
            allow_private_use_schemes: true,
            allow_http_non_loopback: false,
            max_uris: 20,
            max_uri_length: 2000,
        }
    }
}

/// The kind of redirect URI, as RFC 8252 distinguishes them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RedirectUriKind {
    /// `https` on any host.
    Https,
    /// `http` on `localhost`, `127.0.0.1` or `[::1]` (any port).
    Loopback,
    /// `http` on another host, only where the policy allows it.
    InsecureHttp,
    /// A private-use scheme of a native app.
    PrivateUse,
}

/// A redirect URI that passed every rule. Parse, don't validate: holding one is proof.
///
/// ```
/// use authz_domain::client_registration::{RedirectUri, RedirectUriKind, RedirectUriPolicy};
/// let policy = RedirectUriPolicy::default();
/// let uri = RedirectUri::parse("http://127.0.0.1:33418/", &policy).unwrap();
/// assert_eq!(uri.kind(), RedirectUriKind::Loopback);
/// assert!(RedirectUri::parse("http://localhost.evil.com/cb", &policy).is_err());
/// assert!(RedirectUri::parse("https://app.example.com/cb#frag", &policy).is_err());
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct RedirectUri(String);

impl RedirectUri {
    /// Checks `raw` against `policy`. The error text says what is wrong and what is accepted, without
    /// the field name (the caller prefixes `redirect_uris[i]: `).
    pub fn parse(raw: &str, policy: &RedirectUriPolicy) -> Result<Self, String> {
        let url = parse_absolute(raw, policy.max_uri_length)?;
        let scheme = url.scheme();
        if matches!(scheme, "http" | "https") && raw_host(raw).is_empty() {
            return Err(format!(
                "an {scheme} URI needs a host after \"{scheme}://\""
            ));
        }
        if NEVER_ALLOWED_SCHEMES.contains(&scheme) {
            return Err(format!("scheme {scheme:?} is never allowed"));
        }
        let kind = match scheme {
            "https" => RedirectUriKind::Https,
            "http" if is_loopback(&url) && is_literal_loopback(raw) => RedirectUriKind::Loopback,
            "http" if policy.allow_http_non_loopback => RedirectUriKind::InsecureHttp,
            "http" => {
                return Err(format!(
                    "http is only allowed on a loopback host (localhost, 127.0.0.1 or [::1]), not on {:?}; use https",
                    url.host_str().unwrap_or_default()
                ))
            }
            _ if NETWORK_SCHEMES.contains(&scheme) || !policy.allow_private_use_schemes => {
                return Err(format!(
                    "scheme {scheme:?} is not allowed; use https, http on a loopback host{}",
                    if policy.allow_private_use_schemes {
                        ", or a private-use scheme"
                    } else {
                        ""
                    }
                ))
            }
            _ => RedirectUriKind::PrivateUse,
        };
        if matches!(kind, RedirectUriKind::Https | RedirectUriKind::InsecureHttp)
            && url.host_str().is_none_or(str::is_empty)
        {
            return Err("an https URI needs a host".into());
        }
        check_agreement(raw, &url)?;
        if kind == RedirectUriKind::PrivateUse {
            check_private_use(scheme, &url)?;
        }
        let uri = Self(raw.to_owned());
        debug_assert_eq!(uri.kind(), kind);
        Ok(uri)
    }

    /// The URI exactly as registered.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// What kind of redirect URI this is.
    pub fn kind(&self) -> RedirectUriKind {
        match Url::parse(&self.0) {
            Ok(url) if url.scheme() == "https" => RedirectUriKind::Https,
            Ok(url) if url.scheme() == "http" && is_loopback(&url) => RedirectUriKind::Loopback,
            Ok(url) if url.scheme() == "http" => RedirectUriKind::InsecureHttp,
            _ => RedirectUriKind::PrivateUse,
        }
    }
}

/// A web page or document URI in metadata (`client_uri`, `logo_uri`, `tos_uri`, `policy_uri`,
/// `jwks_uri`): `https`, or `http` on a loopback host when `allow_loopback_http`.
pub(crate) fn parse_web_uri(
    raw: &str,
    max_len: usize,
    allow_loopback_http: bool,
) -> Result<String, String> {
    let url = parse_absolute(raw, max_len)?;
    match url.scheme() {
        "https" if !raw_host(raw).is_empty() => {
            check_agreement(raw, &url)?;
            Ok(raw.to_owned())
        }
        "http" if allow_loopback_http && is_loopback(&url) && is_literal_loopback(raw) => {
            check_agreement(raw, &url)?;
            Ok(raw.to_owned())
        }
        other if allow_loopback_http => Err(format!(
            "scheme {other:?} is not allowed; use https (or http on a loopback host)"
        )),
        other => Err(format!("scheme {other:?} is not allowed; use https")),
    }
}

/// A private-use redirect URI (RFC 8252 §7.1) must say where it goes: a host after `//`
/// (`cursor://anysphere.cursor-mcp/oauth/callback`) or a path from the root with at least one
/// non-empty segment (`com.example.app:/oauth2redirect`). `x:`, `x:/` and an opaque `a:b` name
/// nothing an app can claim; a one-letter scheme is a Windows drive letter (`c:/callback`).
fn check_private_use(scheme: &str, url: &Url) -> Result<(), String> {
    let has_host = url.host_str().is_some_and(|h| !h.is_empty());
    let has_path = url.path().starts_with('/') && url.path().split('/').any(|s| !s.is_empty());
    if !has_host && !has_path {
        return Err(format!(
            "a private-use redirect URI needs a host or a path after \"{scheme}:\" (RFC 8252 §7.1), e.g. {scheme}:/callback or {scheme}://host/callback"
        ));
    }
    if scheme.len() < 2 {
        return Err(format!(
            "the one-letter scheme {scheme:?} reads as a Windows drive letter; a private-use scheme is the app's reverse domain name (RFC 8252 §7.1), e.g. com.example.app:/callback"
        ));
    }
    Ok(())
}

/// Syntax shared by every URI in metadata.
fn parse_absolute(raw: &str, max_len: usize) -> Result<Url, String> {
    if raw.is_empty() {
        return Err("must not be empty".into());
    }
    if raw.len() > max_len {
        return Err(format!(
            "{} bytes is longer than the {max_len} allowed",
            raw.len()
        ));
    }
    // The URL parser silently strips tabs and newlines; refuse them (and every other control or
    // space) before it sees the string, so the registered value is the one that was checked.
    if let Some(bad) = raw.chars().find(|c| c.is_whitespace() || c.is_control()) {
        return Err(format!(
            "contains the character U+{:04X}; spaces and control characters must be percent-encoded",
            u32::from(bad)
        ));
    }
    if raw.contains('*') {
        return Err("wildcards ('*') are not allowed; register every URI in full".into());
    }
    if raw.contains('#') {
        return Err("must not contain a fragment ('#')".into());
    }
    let url = Url::parse(raw)
        .map_err(|e| format!("{:?} is not an absolute URI ({e})", truncate(raw, 100)))?;
    if !url.username().is_empty() || url.password().is_some() {
        return Err("must not contain user information ('user:password@')".into());
    }
    Ok(url)
}

/// The host exactly as written in `raw` (between `://` and the port, path, query or fragment).
fn raw_host(raw: &str) -> &str {
    let Some((_, rest)) = raw.split_once("://") else {
        return "";
    };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let host_port = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    if host_port.starts_with('[') {
        host_port.split_inclusive(']').next().unwrap_or_default()
    } else {
        host_port.split(':').next().unwrap_or_default()
    }
}

/// Whether the host is written as one of the three loopback spellings, not as a numeric variant
/// (`2130706433`, `0x7f.1`) that the URL parser would normalise to 127.0.0.1: the registered URI
/// must be the string clients will send.
fn is_literal_loopback(raw: &str) -> bool {
    let host = raw_host(raw);
    host.eq_ignore_ascii_case("localhost") || host == "127.0.0.1" || host == "[::1]"
}

/// Loopback as RFC 8252 §7.3 and §8.3 define it: the name `localhost` or the literal addresses
/// `127.0.0.1` and `::1`. `localhost.evil.com` or `127.0.0.1.nip.io` are ordinary domains.
fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(Host::Domain(d)) => d == "localhost",
        Some(Host::Ipv4(ip)) => ip == Ipv4Addr::LOCALHOST,
        Some(Host::Ipv6(ip)) => ip == Ipv6Addr::LOCALHOST,
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(raw: &str) -> Result<RedirectUri, String> {
        RedirectUri::parse(raw, &RedirectUriPolicy::default())
    }

    #[test]
    fn https_on_any_host_is_accepted() {
        let uri = parse("https://app.example.com/callback?x=1").expect("accepted");
        assert_eq!(uri.kind(), RedirectUriKind::Https);
    }

    #[test]
    fn loopback_http_is_accepted_with_or_without_port() {
        for raw in [
            "http://127.0.0.1/",
            "http://127.0.0.1:33418/",
            "http://localhost:53682/callback",
            "http://LOCALHOST:3000/cb",
            "http://[::1]:8080/cb",
            "http://[::1]/",
        ] {
            assert_eq!(
                parse(raw).expect(raw).kind(),
                RedirectUriKind::Loopback,
                "{raw}"
            );
        }
    }

    #[test]
    fn uris_are_kept_exactly_as_sent() {
        let raw = "HTTPS://App.Example.com/CB";
        assert_eq!(parse(raw).expect("accepted").as_str(), raw);
    }

    #[test]
    fn lookalike_loopback_hosts_are_not_loopback() {
        for raw in [
            "http://2130706433/cb",
            "http://0x7f.0.0.1/cb",
            "http://127.1/cb",
            "http://[0:0:0:0:0:0:0:1]/cb",
            "http://localhost.evil.com/",
            "http://127.0.0.1.nip.io/",
            "http://localhost./cb",
            "http://[::ffff:127.0.0.1]/cb",
            "http://127.0.0.2/cb",
            "http://example.com/cb",
        ] {
            let err = parse(raw).expect_err(raw);
            assert!(err.contains("loopback"), "{raw}: {err}");
        }
    }

    #[test]
    fn ipv6_loopback_without_brackets_is_not_a_uri() {
        assert!(parse("http://::1/cb").is_err());
        assert!(parse("http://::1:8080/cb").is_err());
    }

    #[test]
    fn fragment_in_redirect_uri_is_rejected() {
        assert!(parse("https://a.example/cb#x")
            .expect_err("refused")
            .contains("fragment"));
        assert!(parse("https://a.example/cb#").is_err());
    }

    #[test]
    fn wildcards_are_rejected() {
        assert!(parse("https://*.example.com/cb")
            .expect_err("refused")
            .contains("wildcard"));
        assert!(parse("https://a.example.com/*").is_err());
    }

    #[test]
    fn dangerous_schemes_are_always_rejected() {
        for raw in [
            "javascript:alert(1)",
            "data:text/html,x",
            "vbscript:x",
            "file:///etc/passwd",
            "blob:https://a.example/x",
            "about:blank",
            "JavaScript:alert(1)",
        ] {
            assert!(
                parse(raw).expect_err(raw).contains("never allowed"),
                "{raw}"
            );
        }
    }

    #[test]
    fn ftp_names_what_is_accepted() {
        let err = parse("ftp://example.com/cb").expect_err("refused");
        assert_eq!(
            err,
            "scheme \"ftp\" is not allowed; use https, http on a loopback host, or a private-use scheme"
        );
    }

    #[test]
    fn private_use_schemes_follow_the_policy() {
        for raw in [
            "com.example.app:/oauth2redirect",
            "cursor://anysphere.cursor-mcp/oauth/callback",
            "vscode://vscode.github-authentication/did-authenticate",
        ] {
            assert_eq!(parse(raw).expect(raw).kind(), RedirectUriKind::PrivateUse);
        }
        let strict = RedirectUriPolicy {
            allow_private_use_schemes: false,
            ..RedirectUriPolicy::default()
        };
        assert!(RedirectUri::parse("cursor://x/cb", &strict).is_err());
    }

    #[test]
    fn private_use_uris_with_nothing_after_the_scheme_are_refused() {
        for raw in [
            "x:",
            "a:b",
            "com.example.app:",
            "com.example.app:/",
            "myapp:cb",
            "c:/callback",
            "cursor://",
        ] {
            let err = parse(raw).expect_err(raw);
            assert!(
                err.contains("needs a host or a path") || err.contains("drive letter"),
                "{raw}: {err}"
            );
        }
        parse("myapp:///callback").expect("a path from the root is enough");
    }

    #[test]
    fn uris_that_parsers_read_differently_are_refused() {
        for (raw, says) in [
            ("https://evil.example\\@good.example/", "backslash"),
            ("https://:@host.example/", "user information"),
            ("https://a..example/", "empty label"),
            ("https://-a.example/", "starts or ends with '-'"),
            ("https:evil.example/cb", "needs a host"),
            ("https://a.example/x/../cb", "'..'"),
            (
                "cursor://anysphere..cursor-mcp/oauth/callback",
                "empty label",
            ),
        ] {
            let err = parse(raw).expect_err(raw);
            assert!(err.contains(says), "{raw}: {err}");
        }
        for raw in [
            "https://-a.example/",
            "https://a..example/",
            "https://:@host.example/",
        ] {
            assert!(parse_web_uri(raw, 2000, true).is_err(), "{raw}");
        }
    }

    #[test]
    fn plain_http_elsewhere_only_when_allowed() {
        let lax = RedirectUriPolicy {
            allow_http_non_loopback: true,
            ..RedirectUriPolicy::default()
        };
        let uri = RedirectUri::parse("http://intranet.example/cb", &lax).expect("allowed");
        assert_eq!(uri.kind(), RedirectUriKind::InsecureHttp);
    }

    #[test]
    fn web_uris_need_a_written_host() {
        assert!(parse("https:///cb")
            .expect_err("refused")
            .contains("needs a host"));
        assert!(parse("http:///cb").is_err());
        assert!(parse_web_uri("https:///x", 2000, true).is_err());
    }

    #[test]
    fn relative_and_empty_uris_are_rejected() {
        assert!(parse("/callback").is_err());
        assert!(parse("").is_err());
        assert!(parse("callback").is_err());
    }

    #[test]
    fn userinfo_is_rejected() {
        assert!(parse("https://user:pw@app.example/cb").is_err());
        assert!(parse("https://user@app.example/cb").is_err());
    }

    #[test]
    fn embedded_whitespace_and_controls_are_rejected() {
        assert!(parse("https://exa\nmple.com/cb").is_err());
        assert!(parse("https://example.com/c b").is_err());
        assert!(parse("https://example.com/\tcb").is_err());
    }

    #[test]
    fn idn_hosts_are_accepted_as_sent() {
        let raw = "https://bücher.example/cb";
        assert_eq!(parse(raw).expect("accepted").as_str(), raw);
    }

    #[test]
    fn length_is_capped() {
        let long = format!("https://a.example/{}", "x".repeat(2000));
        assert!(parse(&long).expect_err("refused").contains("longer"));
    }

    #[test]
    fn web_uris_need_https_or_loopback_http() {
        assert!(parse_web_uri("https://example.com", 2000, true).is_ok());
        assert!(parse_web_uri("http://localhost:3000/", 2000, true).is_ok());
        assert!(parse_web_uri("http://localhost:3000/", 2000, false).is_err());
        assert!(parse_web_uri("http://example.com", 2000, true).is_err());
        assert!(parse_web_uri("cursor://x", 2000, true).is_err());
    }
}
