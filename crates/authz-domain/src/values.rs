//! Small metadata value types, each valid by construction.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::error::RegistrationError;

macro_rules! wire_enum {
    ($(#[$meta:meta])* $name:ident { $($(#[$vmeta:meta])* $variant:ident => $wire:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        pub enum $name {
            $($(#[$vmeta])* #[serde(rename = $wire)] $variant),+
        }

        impl $name {
            /// Every value, in declaration order.
            pub const ALL: &'static [Self] = &[$(Self::$variant),+];

            /// The value as it appears on the wire.
            pub fn as_str(self) -> &'static str {
                match self { $(Self::$variant => $wire),+ }
            }

            /// The value for a wire string, if it is one of ours.
            pub fn from_wire(s: &str) -> Option<Self> {
                match s { $($wire => Some(Self::$variant),)+ _ => None }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

wire_enum!(
    /// An OAuth 2.0 grant type this server can register.
    GrantType {
        /// RFC 6749 §4.1.
        AuthorizationCode => "authorization_code",
        /// RFC 6749 §6.
        RefreshToken => "refresh_token",
        /// RFC 6749 §4.4; confidential clients only.
        ClientCredentials => "client_credentials",
    }
);

wire_enum!(
    /// An OAuth 2.0 response type. Only `code`: the implicit flow is never offered.
    ResponseType {
        /// RFC 6749 §4.1.1.
        Code => "code",
    }
);

wire_enum!(
    /// How a client authenticates at the token endpoint (RFC 7591 §2).
    TokenEndpointAuthMethod {
        /// A public client: no secret.
        None => "none",
        /// HTTP Basic with the client secret.
        ClientSecretBasic => "client_secret_basic",
        /// The client secret in the request body.
        ClientSecretPost => "client_secret_post",
    }
);

impl TokenEndpointAuthMethod {
    /// Whether this method needs a client secret.
    pub fn uses_secret(self) -> bool {
        !matches!(self, Self::None)
    }
}

wire_enum!(
    /// The PKCE code challenge method a client commits to. Only `S256`.
    CodeChallengeMethod {
        /// RFC 7636 §4.2.
        S256 => "S256",
    }
);

wire_enum!(
    /// OpenID Connect `application_type`; stored and echoed, never used to refuse redirect URIs.
    ApplicationType {
        /// A web application.
        Web => "web",
        /// A native application.
        Native => "native",
    }
);

/// Grant types refused whatever the policy says, with the reason given to the client.
pub(crate) fn forbidden_grant_reason(value: &str) -> Option<&'static str> {
    match value {
        "implicit" => Some("the implicit grant is insecure and never allowed (use authorization_code with PKCE)"),
        "password" => Some("the resource owner password grant is insecure and never allowed (use authorization_code with PKCE)"),
        _ => None,
    }
}

/// An OAuth scope value: space-separated scope tokens of RFC 6749 §3.3 characters, without
/// duplicates, order kept.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Scope(String);

impl Scope {
    /// Parses a scope string; `Ok(None)` for an empty or all-blank string (no scope requested).
    ///
    /// ```
    /// use authz_domain::client_registration::Scope;
    /// let scope = Scope::parse("read  write read").unwrap().unwrap();
    /// assert_eq!(scope.as_str(), "read write");
    /// assert!(Scope::parse("").unwrap().is_none());
    /// assert!(Scope::parse("bad\"quote").is_err());
    /// ```
    pub fn parse(raw: &str) -> Result<Option<Self>, String> {
        let mut tokens: Vec<&str> = Vec::new();
        for token in raw.split(' ').filter(|t| !t.is_empty()) {
            if let Some(bad) = token.chars().find(|c| !is_scope_char(*c)) {
                return Err(format!(
                    "scope token {:?} contains {:?}; scope tokens are printable ASCII without spaces, '\"' or '\\' (RFC 6749 §3.3), separated by single spaces",
                    truncate(token, 64),
                    bad
                ));
            }
            if !tokens.contains(&token) {
                tokens.push(token);
            }
        }
        if tokens.is_empty() {
            Ok(None)
        } else {
            Ok(Some(Self(tokens.join(" "))))
        }
    }

    /// The scope string.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The individual scope tokens.
    pub fn tokens(&self) -> impl Iterator<Item = &str> {
        self.0.split(' ')
    }
}

fn is_scope_char(c: char) -> bool {
    matches!(c, '\x21' | '\x23'..='\x5b' | '\x5d'..='\x7e')
}

/// Shortens a value for quoting in an error message (by characters, never inside one).
pub(crate) fn truncate(s: &str, max_chars: usize) -> String {
    if s.chars().count() <= max_chars {
        s.to_owned()
    } else {
        let mut out: String = s.chars().take(max_chars).collect();
        out.push('…');
        out
    }
}

/// Whether `c` must never appear in human-readable metadata: control characters (C0, DEL, C1),
/// and the bidirectional embedding, override and isolate controls that let a name display as
/// something other than what it is (CVE-2021-42574 "Trojan Source").
pub(crate) fn is_forbidden_text_char(c: char) -> bool {
    c.is_control()
        || matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
        || matches!(c, '\u{2028}' | '\u{2029}' | '\u{FEFF}')
}

/// Validates a human-readable string field; `Ok(None)` for the empty string.
pub(crate) fn parse_text(
    field: &str,
    value: &str,
    max_chars: usize,
) -> Result<Option<String>, RegistrationError> {
    if value.is_empty() {
        return Ok(None);
    }
    if let Some(bad) = value.chars().find(|c| is_forbidden_text_char(*c)) {
        return Err(RegistrationError::metadata(format!(
            "{field}: contains the control or bidirectional-override character U+{:04X}; use plain text",
            u32::from(bad)
        )));
    }
    let chars = value.chars().count();
    if chars > max_chars {
        return Err(RegistrationError::metadata(format!(
            "{field}: {chars} characters is longer than the {max_chars} allowed"
        )));
    }
    Ok(Some(value.to_owned()))
}

/// Whether `tag` is a well-formed BCP 47 language tag as far as RFC 7591 §2.2 needs: alphanumeric
/// subtags of 1 to 8 characters separated by hyphens, the first alphabetic.
pub(crate) fn is_language_tag(tag: &str) -> bool {
    let mut subtags = tag.split('-');
    let first_ok = subtags
        .next()
        .is_some_and(|s| (1..=8).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_alphabetic()));
    first_ok
        && subtags
            .all(|s| (1..=8).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_alphanumeric()))
        && tag.len() <= 64
}

/// Validates an e-mail address for `contacts`: `local@domain`, no spaces or controls, the domain
/// holding a dot or being a single label, at most 254 characters (RFC 5321 §4.5.3.1.3).
pub(crate) fn is_email(value: &str) -> bool {
    if value.len() > 254 || value.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return false;
    }
    let Some((local, domain)) = value.rsplit_once('@') else {
        return false;
    };
    !local.is_empty()
        && local.len() <= 64
        && !local.contains('@')
        && !domain.is_empty()
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !domain.contains("..")
        && domain.chars().all(|c| {
            c.is_alphanumeric() || c == '-' || c == '.' || c == '[' || c == ']' || c == ':'
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scope_tokens_are_deduplicated_in_order() {
        let s = Scope::parse("b a b  c").expect("ok").expect("some");
        assert_eq!(s.as_str(), "b a c");
        assert_eq!(s.tokens().collect::<Vec<_>>(), ["b", "a", "c"]);
    }

    #[test]
    fn scope_with_backslash_or_quote_or_non_ascii_is_rejected() {
        assert!(Scope::parse("a\\b").is_err());
        assert!(Scope::parse("\"x\"").is_err());
        assert!(Scope::parse("lecture écriture").is_err());
        assert!(Scope::parse("tab\there").is_err());
    }

    #[test]
    fn blank_scope_means_none() {
        assert_eq!(Scope::parse("   ").expect("ok"), None);
    }

    #[test]
    fn language_tags_follow_bcp47_shape() {
        for ok in ["fr", "ja-Jpan-JP", "en-US", "zh-Hant-TW", "de-CH-1996"] {
            assert!(is_language_tag(ok), "{ok}");
        }
        for bad in ["", "-fr", "fr-", "f r", "toolongtag", "1a", "fr--CA", "é"] {
            assert!(!is_language_tag(bad), "{bad}");
        }
    }

    #[test]
    fn bidi_override_in_text_is_rejected() {
        let err = parse_text("client_name", "Good\u{202E}live", 200).expect_err("refused");
        assert!(err.to_string().contains("U+202E"));
        assert!(parse_text("client_name", "a\u{0007}b", 200).is_err());
        assert!(parse_text("client_name", "line\nbreak", 200).is_err());
    }

    #[test]
    fn text_length_counts_characters_not_bytes() {
        let name = "日".repeat(200);
        assert!(parse_text("client_name", &name, 200).is_ok());
        assert!(parse_text("client_name", &format!("{name}x"), 200).is_err());
    }

    #[test]
    fn right_to_left_names_are_fine() {
        assert!(parse_text("client_name", "تطبيق", 200).is_ok());
    }

    #[test]
    fn emails_are_checked_for_shape() {
        for ok in [
            "ops@example.com",
            "a.b+c@sub.example.org",
            "x@localhost",
            "jürgen@bücher.de",
        ] {
            assert!(is_email(ok), "{ok}");
        }
        for bad in [
            "",
            "no-at",
            "@example.com",
            "a@",
            "a b@example.com",
            "a@.com",
            "a@b..c",
            "a@b.",
            "a\n@b.c",
        ] {
            assert!(!is_email(bad), "{bad}");
        }
    }
}
