//! Resource indicators (RFC 8707): the protected resource a token is for, which becomes the
//! access token's `aud`.

use std::fmt;

use serde::{Deserialize, Serialize};
use url::Url;

/// The longest resource indicator accepted, in bytes.
pub const MAX_RESOURCE_BYTES: usize = 2000;

/// Why a `resource` value was refused; the message is safe to show and becomes
/// `invalid_target` (RFC 8707 §2).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ResourceError(pub String);

/// A resource indicator in canonical form (RFC 8707 §2): an absolute URI without a fragment.
///
/// The only normalisation is the one the MCP authorization specification asks for: a trailing
/// `/` that is the whole path is dropped, so `https://mcp.example.com/` and
/// `https://mcp.example.com` are the same resource. Everything else (case, ports, paths, query)
/// is kept exactly as sent and compared as a string.
///
/// ```
/// use authz_domain::authorization::ResourceIndicator;
/// let a = ResourceIndicator::parse("https://mcp.example.com/").unwrap();
/// let b = ResourceIndicator::parse("https://mcp.example.com").unwrap();
/// assert_eq!(a, b);
/// assert_eq!(a.as_str(), "https://mcp.example.com");
/// assert_ne!(ResourceIndicator::parse("https://mcp.example.com/mcp/").unwrap().as_str(), "https://mcp.example.com/mcp");
/// assert!(ResourceIndicator::parse("/mcp").is_err());
/// assert!(ResourceIndicator::parse("https://mcp.example.com/#x").is_err());
/// ```
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ResourceIndicator(String);

impl ResourceIndicator {
    /// Parses a `resource` value (or a configured resource) into its canonical form.
    ///
    /// Errors: empty, longer than [`MAX_RESOURCE_BYTES`], containing spaces or control
    /// characters, a fragment (even an empty `#`), or not an absolute URI.
    pub fn parse(raw: &str) -> Result<Self, ResourceError> {
        if raw.is_empty() {
            return Err(ResourceError("resource must not be empty".into()));
        }
        if raw.len() > MAX_RESOURCE_BYTES {
            return Err(ResourceError(format!(
                "resource is {} bytes; at most {MAX_RESOURCE_BYTES} allowed",
                raw.len()
            )));
        }
        // The URL parser silently drops tabs and newlines; refuse them before it sees them.
        if raw.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(ResourceError(
                "resource contains spaces or control characters; percent-encode them".into(),
            ));
        }
        if raw.contains('#') {
            return Err(ResourceError(
                "resource must not contain a fragment ('#') (RFC 8707 section 2)".into(),
            ));
        }
        // An absolute URI is made of RFC 3986 characters only; anything else (non-ASCII, '<',
        // '"', '{', '|', '^', '`', '\\') would reach the token's aud in a form the resource
        // server may compare differently.
        if let Some(bad) = raw.chars().find(|c| !is_uri_char(*c)) {
            return Err(ResourceError(format!(
                "resource contains {:?}, which a URI cannot hold (RFC 3986 section 2); percent-encode it",
                bad.escape_default().to_string()
            )));
        }
        if Url::parse(raw).is_err() {
            return Err(ResourceError(
                "resource must be an absolute URI such as https://mcp.example.com/mcp (RFC 8707 section 2)"
                    .into(),
            ));
        }
        Ok(Self(canonical(raw)))
    }

    /// The canonical form, for storage, comparison and the token's `aud`.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Drops the `/` of an empty path (`scheme://authority/` or `scheme://authority/?query`).
fn canonical(raw: &str) -> String {
    let Some(scheme_end) = raw.find("://") else {
        return raw.to_owned();
    };
    let after = &raw[scheme_end + 3..];
    let authority_len = after.find(['/', '?']).unwrap_or(after.len());
    let rest = &after[authority_len..];
    if rest == "/" || rest.starts_with("/?") {
        let mut out = String::with_capacity(raw.len() - 1);
        out.push_str(&raw[..scheme_end + 3 + authority_len]);
        out.push_str(&rest[1..]);
        out
    } else {
        raw.to_owned()
    }
}

impl TryFrom<String> for ResourceIndicator {
    type Error = ResourceError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<ResourceIndicator> for String {
    fn from(value: ResourceIndicator) -> Self {
        value.0
    }
}

impl fmt::Debug for ResourceIndicator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ResourceIndicator({})", self.0)
    }
}

impl fmt::Display for ResourceIndicator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn canon(raw: &str) -> String {
        ResourceIndicator::parse(raw)
            .expect("valid resource")
            .as_str()
            .to_owned()
    }

    #[test]
    fn a_trailing_slash_on_an_empty_path_is_the_same_resource() {
        assert_eq!(canon("https://mcp.example.com/"), "https://mcp.example.com");
        assert_eq!(canon("https://mcp.example.com"), "https://mcp.example.com");
        assert_eq!(
            canon("https://mcp.example.com:8443/"),
            "https://mcp.example.com:8443"
        );
        assert_eq!(
            canon("https://mcp.example.com/?tenant=a"),
            "https://mcp.example.com?tenant=a"
        );
    }

    #[test]
    fn nothing_else_is_normalised() {
        assert_eq!(
            canon("https://mcp.example.com/mcp/"),
            "https://mcp.example.com/mcp/"
        );
        assert_eq!(canon("HTTPS://MCP.Example.com/"), "HTTPS://MCP.Example.com");
        assert_ne!(
            canon("https://mcp.example.com/MCP"),
            canon("https://mcp.example.com/mcp")
        );
        assert_eq!(canon("urn:example:resource"), "urn:example:resource");
    }

    #[test]
    fn a_relative_uri_is_refused() {
        for raw in ["/mcp", "mcp.example.com", "//mcp.example.com/", ""] {
            assert!(ResourceIndicator::parse(raw).is_err(), "{raw}");
        }
    }

    #[test]
    fn a_fragment_is_refused_even_when_empty() {
        assert!(ResourceIndicator::parse("https://mcp.example.com/#").is_err());
        let err = ResourceIndicator::parse("https://mcp.example.com/mcp#x").expect_err("refused");
        assert!(err.0.contains("fragment"), "{err}");
    }

    #[test]
    fn whitespace_and_controls_are_refused() {
        assert!(ResourceIndicator::parse("https://mcp.exa\tmple.com/").is_err());
        assert!(ResourceIndicator::parse("https://mcp.example.com/ x").is_err());
    }

    #[test]
    fn resources_round_trip_through_serde_in_canonical_form() {
        let r = ResourceIndicator::parse("https://mcp.example.com/").expect("valid");
        let json = serde_json::to_string(&r).expect("serialise");
        assert_eq!(json, "\"https://mcp.example.com\"");
        let back: ResourceIndicator = serde_json::from_str(&json).expect("deserialise");
        assert_eq!(back, r);
        assert!(serde_json::from_str::<ResourceIndicator>("\"/relative\"").is_err());
    }
}

/// RFC 3986 §2: unreserved, reserved and '%'.
fn is_uri_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || "-._~:/?#[]@!$&'()*+,;=%".contains(c)
}

#[cfg(test)]
mod uri_char_tests {
    use super::ResourceIndicator;

    #[test]
    fn characters_a_uri_cannot_hold_are_refused() {
        for bad in [
            "https://x.example/<script>",
            "https://a.example/\u{FFFD}",
            "https://a.example/a\"b",
            "https://a.example/{x}",
        ] {
            assert!(ResourceIndicator::parse(bad).is_err(), "{bad}");
        }
        assert!(ResourceIndicator::parse("https://a.example/%3Cscript%3E?x=1&y=2").is_ok());
    }
}
