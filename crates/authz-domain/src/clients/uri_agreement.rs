//! One meaning for every parser: a URI in client metadata is accepted only when a WHATWG URL
//! parser (browsers, the `url` crate, Node's `URL`) and a strict RFC 3986 parser (RFC 3987 for
//! non-ASCII text: `iri-string`) read the same scheme, user information (none), host, port, path
//! and query from it, and when its host is a valid host name or IP literal.
//!
//! Why: the authorization server checks a redirect URI with one parser and the browser or native
//! app that follows it uses another. `https://evil.example\@good.example/` is
//! `evil.example` to WHATWG (the backslash is a path separator there) but not a URI at all to RFC
//! 3986, and a lenient RFC-style parser reads `good.example`; `https:evil.example` has a host for
//! WHATWG and none for RFC 3986; `/a/../b` is `/b` for one and `/a/../b` for the other. Whatever two
//! parsers could read differently is refused rather than normalised, so the string registered is
//! the string every party sees.
//!
//! The rules, in order (each error names what is wrong and what is accepted):
//! 1. no backslash anywhere (WHATWG reads it as `/` in `http`/`https`, RFC 3986 refuses it);
//! 2. the whole string is an absolute URI under RFC 3986 (RFC 3987 for non-ASCII characters);
//! 3. no user information at all, not even an empty one (`https://:@host/`);
//! 4. both parsers find an authority or neither does, with the same host (IP literals compared
//!    as addresses, names after IDNA mapping) written without percent-encoding, and the same port;
//!    an IPv4 address must be in dotted decimal (`127.1` or `2130706433` read as an address by
//!    one parser are names to the other); an empty port (`host:`) is refused;
//! 5. the same path and query once percent-decoding is undone (dot segments `.`/`..`, which WHATWG
//!    removes and RFC 3986 keeps until resolution, therefore differ and are refused);
//! 6. a host name is a valid DNS name: labels of 1 to 63 letters, digits and hyphens, neither
//!    starting nor ending with a hyphen, no empty label (`a..example`, a trailing `.`), at most
//!    253 characters in all (IDNs are checked in their ASCII form).

use std::net::Ipv6Addr;

use iri_string::types::IriAbsoluteStr;
use url::{Host, Url};

use crate::values::truncate;

/// Checks that `raw`, already parsed by WHATWG as `url`, reads the same under RFC 3986 and that
/// its host is valid (see the module documentation). The error has no field name.
pub(crate) fn check_agreement(raw: &str, url: &Url) -> Result<(), String> {
    if raw.contains('\\') {
        return Err(
            "contains a backslash ('\\'), which browsers read as '/' and RFC 3986 refuses; percent-encode it as %5C"
                .into(),
        );
    }
    let rfc = IriAbsoluteStr::new(raw).map_err(|_| {
        format!(
            "{:?} is not a valid URI under RFC 3986 (characters such as '\"', '<', '>', '{{', '}}', '|', '^', '`' or a '[' outside an IPv6 address must be percent-encoded)",
            truncate(raw, 100)
        )
    })?;
    if !rfc.scheme_str().eq_ignore_ascii_case(url.scheme()) {
        return Err(differ("the scheme", rfc.scheme_str(), url.scheme()));
    }
    let authority = rfc.authority_components();
    if authority.as_ref().is_some_and(|a| a.userinfo().is_some()) {
        return Err("must not contain user information (anything before an '@' in the authority, even empty, as in \"https://:@host/\")".into());
    }
    match (&authority, url.host()) {
        (None, None) => {}
        (None, Some(host)) => {
            return Err(format!(
                "browsers read the host {:?} where RFC 3986 reads none; write \"{}://{}/…\"",
                host.to_string(),
                url.scheme(),
                host
            ))
        }
        (Some(a), None) => {
            if !a.host().is_empty() {
                return Err(differ("the host", a.host(), "no host"));
            }
        }
        (Some(a), Some(host)) => {
            same_host(a.host(), &host, url)?;
            same_port(a.port(), url)?;
        }
    }
    let special = matches!(url.scheme(), "http" | "https");
    let rfc_path = if rfc.path_str().is_empty() && special {
        "/"
    } else {
        rfc.path_str()
    };
    if percent_decoded(rfc_path) != percent_decoded(url.path()) {
        if has_dot_segment(rfc_path) {
            return Err(format!(
                "the path {:?} has '.' or '..' segments, which some parsers remove and others keep; register the path without them",
                truncate(rfc_path, 100)
            ));
        }
        return Err(differ("the path", rfc_path, url.path()));
    }
    let rfc_query = rfc.query_str().map(percent_decoded);
    if rfc_query != url.query().map(percent_decoded) {
        return Err(differ(
            "the query",
            rfc.query_str().unwrap_or("no query"),
            url.query().unwrap_or("no query"),
        ));
    }
    if let Some(Host::Domain(name)) = url.host() {
        valid_host_name(name)?;
    }
    Ok(())
}

fn differ(what: &str, rfc: &str, whatwg: &str) -> String {
    format!(
        "parsers disagree on {what}: RFC 3986 reads {:?}, browsers (WHATWG URL) read {:?}; register a URI that every parser reads the same way",
        truncate(rfc, 100),
        truncate(whatwg, 100)
    )
}

/// The host as RFC 3986 wrote it (`written`) against the host WHATWG found.
fn same_host(written: &str, host: &Host<&str>, url: &Url) -> Result<(), String> {
    if written.contains('%') {
        return Err(format!(
            "the host {:?} is percent-encoded; write it plainly",
            truncate(written, 100)
        ));
    }
    let agrees = match host {
        Host::Ipv4(ip) => {
            if written != ip.to_string() {
                return Err(format!(
                    "the host {:?} is read as the IPv4 address {ip} by browsers and as a name by RFC 3986; write addresses in dotted decimal ({ip})",
                    truncate(written, 100)
                ));
            }
            true
        }
        Host::Ipv6(ip) => written
            .strip_prefix('[')
            .and_then(|w| w.strip_suffix(']'))
            .and_then(|w| w.parse::<Ipv6Addr>().ok())
            .is_some_and(|w| w == *ip),
        // `http`/`https` hosts are names mapped through IDNA (lower case, punycode); other
        // schemes keep their host as written.
        Host::Domain(name) if matches!(url.scheme(), "http" | "https") => {
            matches!(Host::parse(written), Ok(Host::Domain(ref mapped)) if mapped == name)
        }
        Host::Domain(name) => written == *name,
    };
    if agrees {
        Ok(())
    } else {
        Err(differ("the host", written, &host.to_string()))
    }
}

fn same_port(written: Option<&str>, url: &Url) -> Result<(), String> {
    let Some(written) = written else {
        return match url.port() {
            None => Ok(()),
            Some(port) => Err(differ("the port", "no port", &port.to_string())),
        };
    };
    if written.is_empty() {
        return Err("an empty port (':' with no number after the host) is read differently by parsers; omit the ':'".into());
    }
    let number = written.parse::<u32>().ok();
    match (number, url.port_or_known_default()) {
        (Some(n), Some(port)) if n == u32::from(port) => Ok(()),
        (_, port) => Err(differ(
            "the port",
            written,
            &port.map_or("no port".into(), |p| p.to_string()),
        )),
    }
}

/// Percent-decoding undone, as bytes (`%41` and `A` are the same character to both parsers;
/// RFC 3987 text and its percent-encoded UTF-8 likewise).
fn percent_decoded(s: &str) -> Vec<u8> {
    percent_encoding::percent_decode_str(s).collect()
}

fn has_dot_segment(path: &str) -> bool {
    path.split('/').any(|segment| {
        let decoded = percent_decoded(segment);
        decoded == b"." || decoded == b".."
    })
}

/// A host name as DNS allows it (RFC 1123 §2.1, RFC 1035 §2.3.4), in ASCII form.
pub(crate) fn valid_host_name(name: &str) -> Result<(), String> {
    let shown = truncate(name, 100);
    if name.len() > 253 {
        return Err(format!(
            "the host name {shown:?} has {} characters; at most 253 are allowed",
            name.len()
        ));
    }
    for label in name.split('.') {
        let problem = if label.is_empty() {
            Some("an empty label (two dots in a row, or a leading or trailing dot)".to_owned())
        } else if label.len() > 63 {
            Some(format!(
                "the label {:?} is longer than 63 characters",
                truncate(label, 70)
            ))
        } else if let Some(bad) = label
            .chars()
            .find(|c| !(c.is_ascii_alphanumeric() || *c == '-'))
        {
            Some(format!(
                "the character {bad:?} (only letters, digits and '-' are allowed in a label)"
            ))
        } else if label.starts_with('-') || label.ends_with('-') {
            Some(format!("the label {label:?} starts or ends with '-'"))
        } else {
            None
        };
        if let Some(problem) = problem {
            return Err(format!("the host name {shown:?} is not valid: {problem}"));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(raw: &str) -> Result<(), String> {
        let url = Url::parse(raw).map_err(|e| e.to_string())?;
        check_agreement(raw, &url)
    }

    #[test]
    fn a_backslash_before_the_at_sign_is_refused() {
        // WHATWG: host evil.example; an RFC-style reading: user info "evil.example\", host good.example.
        let raw = "https://evil.example\\@good.example/";
        assert_eq!(
            Url::parse(raw).expect("WHATWG accepts it").host_str(),
            Some("evil.example")
        );
        assert!(check(raw).expect_err("refused").contains("backslash"));
    }

    #[test]
    fn empty_user_information_is_refused() {
        for raw in [
            "https://:@host.example/",
            "https://@host.example/",
            "cursor://:@host/cb",
        ] {
            assert!(
                check(raw).expect_err(raw).contains("user information"),
                "{raw}"
            );
        }
    }

    #[test]
    fn invalid_host_names_are_refused() {
        for (raw, says) in [
            ("https://a..example/", "empty label"),
            ("https://-a.example/", "starts or ends with '-'"),
            ("https://a-.example/", "starts or ends with '-'"),
            ("https://example.com./cb", "empty label"),
            ("https://a_b.example/", "only letters, digits and '-'"),
            ("cursor://a..b/cb", "empty label"),
        ] {
            let err = check(raw).expect_err(raw);
            assert!(err.contains(says), "{raw}: {err}");
        }
        let long_label = format!("https://{}.example/", "a".repeat(64));
        assert!(check(&long_label).expect_err("refused").contains("63"));
        let long_name = format!("https://{}example/", "abcdefghi.".repeat(25));
        assert!(check(&long_name).expect_err("refused").contains("253"));
    }

    #[test]
    fn a_host_only_one_parser_sees_is_refused() {
        // WHATWG reads https:evil.example as https://evil.example/; RFC 3986 reads a path.
        let err = check("https:evil.example/cb").expect_err("refused");
        assert!(err.contains("where RFC 3986 reads none"), "{err}");
        assert!(check("https:/evil.example/cb").is_err());
    }

    #[test]
    fn ipv4_written_other_than_in_dotted_decimal_is_refused() {
        for raw in [
            "https://2130706433/",
            "https://0x7f.0.0.1/",
            "https://127.1/",
            "https://010.0.0.1/",
        ] {
            let err = check(raw).expect_err(raw);
            assert!(err.contains("dotted decimal"), "{raw}: {err}");
        }
        check("https://192.0.2.1/cb").expect("dotted decimal");
        check("https://[2001:db8::1]:8443/cb").expect("IPv6 literal");
        check("https://[2001:DB8:0:0::1]/cb").expect("IPv6 literal, any spelling");
    }

    #[test]
    fn dot_segments_and_percent_encoded_hosts_are_refused() {
        for raw in [
            "https://a.example/x/../cb",
            "https://a.example/./cb",
            "https://a.example/x/%2e%2E/cb",
            "cursor://host/a/../b",
        ] {
            let err = check(raw).expect_err(raw);
            assert!(err.contains("'..'"), "{raw}: {err}");
        }
        assert!(check("https://exa%6Dple.com/")
            .expect_err("refused")
            .contains("percent-encoded"));
    }

    #[test]
    fn characters_rfc_3986_refuses_are_refused() {
        for raw in [
            "https://a.example/c|b",
            "https://a.example/{x}",
            "https://a.example/`",
            "https://a.example/c\"b",
        ] {
            assert!(check(raw).expect_err(raw).contains("RFC 3986"), "{raw}");
        }
    }

    #[test]
    fn an_empty_port_is_refused_and_ports_are_compared_as_numbers() {
        assert!(check("https://a.example:/cb")
            .expect_err("refused")
            .contains("empty port"));
        check("https://a.example:443/cb").expect("default port written out");
        check("http://127.0.0.1:33418/cb").expect("port");
    }

    #[test]
    fn what_real_clients_send_reads_the_same_everywhere() {
        for raw in [
            "https://claude.ai/api/mcp/auth_callback",
            "http://localhost:53682/callback",
            "http://127.0.0.1:61234/oauth_callback",
            "http://[::1]:8080/cb",
            "cursor://anysphere.cursor-mcp/oauth/callback",
            "vscode://vscode.github-authentication/did-authenticate",
            "com.example.app:/oauth2redirect",
            "HTTPS://App.Example.com/CB",
            "https://bücher.example/cb",
            "https://a.example/cb?x=1&y=%20z",
            "https://a.example",
        ] {
            check(raw).unwrap_or_else(|e| panic!("{raw}: {e}"));
        }
    }
}
