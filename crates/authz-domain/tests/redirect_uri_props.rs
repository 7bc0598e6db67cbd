//! Property tests for redirect URI parsing: whatever the input, the parser never panics, and what
//! it accepts always satisfies the registration contract.

use authz_domain::client_registration::{RedirectUri, RedirectUriKind, RedirectUriPolicy};
use proptest::prelude::*;
use url::{Host, Url};

fn policy() -> RedirectUriPolicy {
    RedirectUriPolicy::default()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn parsing_never_panics_and_accepted_uris_obey_the_rules(raw in "\\PC{0,80}") {
        if let Ok(uri) = RedirectUri::parse(&raw, &policy()) {
            prop_assert_eq!(uri.as_str(), raw.as_str());
            prop_assert!(!raw.contains('#'));
            prop_assert!(!raw.contains('*'));
            prop_assert!(!raw.contains('\\'));
            let url = Url::parse(&raw).expect("accepted URIs parse");
            prop_assert!(url.username().is_empty() && url.password().is_none());
            if let Some(Host::Domain(name)) = url.host() {
                prop_assert!(name.split('.').all(|l| !l.is_empty() && l.len() <= 63 && !l.starts_with('-') && !l.ends_with('-')), "{}", raw);
            }
            prop_assert!(!["javascript", "data", "vbscript", "file", "blob", "about", "ftp"].contains(&url.scheme()));
            if url.scheme() == "http" {
                let loopback = matches!(url.host(), Some(Host::Domain("localhost")))
                    || url.host() == Some(Host::Ipv4("127.0.0.1".parse().expect("ip")))
                    || url.host() == Some(Host::Ipv6("::1".parse().expect("ip")));
                prop_assert!(loopback, "http accepted on a non-loopback host: {}", raw);
            }
        }
    }

    #[test]
    fn uri_shaped_inputs_never_panic(
        scheme in "(https?|HTTPS?|ftp|javascript|com\\.example\\.app|cursor|file|data)",
        host in "(localhost|127\\.0\\.0\\.1|\\[::1\\]|::1|[a-z]{1,10}\\.[a-z]{2,5}|localhost\\.[a-z]{3}|127\\.0\\.0\\.1\\.nip\\.io|xn--[a-z0-9]{1,8}\\.example|bücher\\.example)",
        port in proptest::option::of(0u32..70000),
        path in "(/[a-zA-Z0-9._~%!$&'()*+,;=:@-]{0,12}){0,3}",
        tail in "(\\?[a-z=&]{0,10})?(#[a-z]{0,5})?",
    ) {
        let raw = match port {
            Some(p) => format!("{scheme}://{host}:{p}{path}{tail}"),
            None => format!("{scheme}://{host}{path}{tail}"),
        };
        if let Ok(uri) = RedirectUri::parse(&raw, &policy()) {
            prop_assert!(!tail.contains('#'));
            if uri.kind() == RedirectUriKind::Loopback {
                prop_assert!(scheme.eq_ignore_ascii_case("http"));
                prop_assert!(["localhost", "127.0.0.1", "[::1]"].contains(&host.as_str()));
            }
        }
    }

    #[test]
    fn every_https_uri_on_a_plain_host_is_accepted(
        // Not "xn--" (punycode must decode), no label ending in '-' (not a host name).
        host in "[a-w]([a-z0-9-]{0,19}[a-z0-9])?\\.(com|org|example|dev)",
        // No "." or ".." segment: parsers disagree on those.
        path in "(/[a-zA-Z0-9_~-][a-zA-Z0-9._~-]{0,11}){0,4}",
        port in proptest::option::of(1u16..),
    ) {
        let raw = match port {
            Some(p) => format!("https://{host}:{p}{path}"),
            None => format!("https://{host}{path}"),
        };
        let uri = RedirectUri::parse(&raw, &policy()).map_err(|e| TestCaseError::fail(format!("{raw}: {e}")))?;
        prop_assert_eq!(uri.kind(), RedirectUriKind::Https);
    }

    #[test]
    fn every_loopback_port_is_accepted(port in 1u16.., host in "(localhost|127\\.0\\.0\\.1|\\[::1\\])") {
        let raw = format!("http://{host}:{port}/callback");
        let uri = RedirectUri::parse(&raw, &policy()).map_err(|e| TestCaseError::fail(format!("{raw}: {e}")))?;
        prop_assert_eq!(uri.kind(), RedirectUriKind::Loopback);
    }
}
