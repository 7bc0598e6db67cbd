//! Proof Key for Code Exchange (RFC 7636), `S256` only (OAuth 2.1 §4.1.1, RFC 9700 §2.1.1).
//!
//! The authorization request commits to a [`CodeChallenge`]; the token request proves possession
//! with a [`CodeVerifier`]; [`CodeChallenge::verify`] compares `BASE64URL(SHA256(verifier))` with
//! the challenge in constant time.

use std::fmt;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use subtle::ConstantTimeEq;

use crate::client_registration::CodeChallengeMethod;

/// Characters in an `S256` code challenge: the unpadded base64url encoding of 32 bytes.
pub const CODE_CHALLENGE_CHARS: usize = 43;
/// Fewest characters in a code verifier (RFC 7636 §4.1).
pub const MIN_VERIFIER_CHARS: usize = 43;
/// Most characters in a code verifier (RFC 7636 §4.1).
pub const MAX_VERIFIER_CHARS: usize = 128;

/// Why a challenge or verifier was refused. The message names the parameter and what is
/// accepted; it is safe to show to the client (it never repeats a verifier).
///
/// At `/authorize` it becomes `invalid_request` (contract §2); at `/token` a malformed verifier is
/// `invalid_request` too (RFC 6749 §5.2: a malformed parameter), while a well-formed verifier that
/// does not match is `invalid_grant` (RFC 7636 §4.6).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct PkceError(pub String);

/// An `S256` code challenge (RFC 7636 §4.2): the SHA-256 digest of the client's verifier,
/// received as exactly 43 base64url characters and kept both as sent and decoded.
///
/// ```
/// use authz_domain::authorization::{CodeChallenge, CodeVerifier};
/// // RFC 7636 Appendix B.
/// let challenge = CodeChallenge::parse(
///     Some("E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"),
///     Some("S256"),
/// ).unwrap();
/// let verifier = CodeVerifier::parse("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk").unwrap();
/// assert!(challenge.verify(&verifier));
/// // No method means `plain`, which is refused.
/// assert!(CodeChallenge::parse(Some("E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"), None).is_err());
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct CodeChallenge {
    text: String,
    digest: [u8; 32],
}

impl CodeChallenge {
    /// Parses the `code_challenge` and `code_challenge_method` parameters of an authorization
    /// request. `None` means the parameter was absent (or empty: RFC 6749 §3.1).
    ///
    /// Errors: the challenge is missing; the method is absent (RFC 7636 §4.3: that means
    /// `plain`), `plain`, or anything but `S256` (case-sensitive); the challenge is not exactly 43
    /// base64url characters, or not the canonical encoding of 32 bytes.
    pub fn parse(challenge: Option<&str>, method: Option<&str>) -> Result<Self, PkceError> {
        let Some(challenge) = challenge else {
            return Err(PkceError(
                "code_challenge is required (PKCE with S256, RFC 7636)".into(),
            ));
        };
        match method {
            Some(m) if CodeChallengeMethod::from_wire(m) == Some(CodeChallengeMethod::S256) => {}
            None => {
                return Err(PkceError(
                    "code_challenge_method is missing, which means plain; only S256 is supported"
                        .into(),
                ))
            }
            Some("plain") => {
                return Err(PkceError(
                    "code_challenge_method plain is not allowed; use S256".into(),
                ))
            }
            Some(_) => {
                return Err(PkceError(
                    "code_challenge_method is not supported; use S256".into(),
                ))
            }
        }
        Self::from_text(challenge)
    }

    /// A challenge read back from storage (always `S256`), checked like a fresh one.
    pub fn from_stored(text: &str) -> Result<Self, PkceError> {
        Self::from_text(text)
    }

    fn from_text(text: &str) -> Result<Self, PkceError> {
        let chars = text.chars().count();
        if chars != CODE_CHALLENGE_CHARS || !text.bytes().all(is_base64url_byte) {
            return Err(PkceError(format!(
                "code_challenge must be exactly {CODE_CHALLENGE_CHARS} base64url characters (A-Z, a-z, 0-9, '-', '_'), the unpadded BASE64URL(SHA256(code_verifier)); got {chars} characters{}",
                if text.bytes().all(is_base64url_byte) { "" } else { " including others" }
            )));
        }
        let decoded = URL_SAFE_NO_PAD.decode(text).map_err(|_| {
            PkceError(
                "code_challenge is not the canonical base64url encoding of a SHA-256 digest".into(),
            )
        })?;
        let digest = <[u8; 32]>::try_from(decoded.as_slice()).map_err(|_| {
            PkceError("code_challenge does not encode a 32-byte SHA-256 digest".into())
        })?;
        Ok(Self {
            text: text.to_owned(),
            digest,
        })
    }

    /// The challenge exactly as sent (43 characters).
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The method: always `S256`.
    pub fn method(&self) -> CodeChallengeMethod {
        CodeChallengeMethod::S256
    }

    /// Whether `BASE64URL(SHA256(verifier))` equals this challenge (RFC 7636 §4.6), compared in
    /// constant time.
    pub fn verify(&self, verifier: &CodeVerifier) -> bool {
        let computed = ring::digest::digest(&ring::digest::SHA256, verifier.0.as_bytes());
        computed.as_ref().ct_eq(&self.digest).into()
    }
}

impl fmt::Debug for CodeChallenge {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CodeChallenge({})", self.text)
    }
}

/// A PKCE code verifier (RFC 7636 §4.1): 43 to 128 characters of `[A-Za-z0-9-._~]`.
/// Its `Debug` output is redacted: a verifier is the secret half of the proof.
#[derive(Clone, PartialEq, Eq)]
pub struct CodeVerifier(String);

impl CodeVerifier {
    /// Parses the `code_verifier` parameter of a token request. Errors name the length or the
    /// first illegal character's position, never the verifier itself.
    pub fn parse(raw: &str) -> Result<Self, PkceError> {
        let chars = raw.chars().count();
        if !(MIN_VERIFIER_CHARS..=MAX_VERIFIER_CHARS).contains(&chars) {
            return Err(PkceError(format!(
                "code_verifier must be {MIN_VERIFIER_CHARS} to {MAX_VERIFIER_CHARS} characters; got {chars}"
            )));
        }
        if let Some(pos) = raw.chars().position(|c| !is_unreserved(c)) {
            return Err(PkceError(format!(
                "code_verifier may only contain A-Z, a-z, 0-9, '-', '.', '_' and '~'; character {} is not one of them",
                pos + 1
            )));
        }
        Ok(Self(raw.to_owned()))
    }
}

impl fmt::Debug for CodeVerifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("CodeVerifier([REDACTED])")
    }
}

fn is_base64url_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'-' || b == b'_'
}

fn is_unreserved(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_' | '~')
}

#[cfg(test)]
mod tests {
    use super::*;

    const RFC_VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
    const RFC_CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

    fn challenge() -> CodeChallenge {
        CodeChallenge::parse(Some(RFC_CHALLENGE), Some("S256")).expect("valid challenge")
    }

    #[test]
    fn the_rfc_7636_appendix_b_vector_verifies() {
        let verifier = CodeVerifier::parse(RFC_VERIFIER).expect("valid verifier");
        assert!(challenge().verify(&verifier));
        assert_eq!(challenge().as_str(), RFC_CHALLENGE);
    }

    #[test]
    fn another_verifier_does_not_verify() {
        let other = CodeVerifier::parse(&"a".repeat(43)).expect("valid verifier");
        assert!(!challenge().verify(&other));
    }

    #[test]
    fn a_missing_method_means_plain_and_is_refused() {
        let err = CodeChallenge::parse(Some(RFC_CHALLENGE), None).expect_err("refused");
        assert!(err.0.contains("plain"), "{err}");
    }

    #[test]
    fn plain_and_lowercase_s256_are_refused() {
        assert!(CodeChallenge::parse(Some(RFC_CHALLENGE), Some("plain")).is_err());
        assert!(CodeChallenge::parse(Some(RFC_CHALLENGE), Some("s256")).is_err());
    }

    #[test]
    fn a_missing_challenge_is_refused() {
        let err = CodeChallenge::parse(None, Some("S256")).expect_err("refused");
        assert!(err.0.contains("required"), "{err}");
    }

    #[test]
    fn a_challenge_of_42_or_44_characters_is_refused() {
        assert!(CodeChallenge::parse(Some(&RFC_CHALLENGE[..42]), Some("S256")).is_err());
        let long = format!("{RFC_CHALLENGE}A");
        assert!(CodeChallenge::parse(Some(&long), Some("S256")).is_err());
    }

    #[test]
    fn a_challenge_with_padding_or_standard_base64_characters_is_refused() {
        let plus = RFC_CHALLENGE.replace('-', "+");
        assert!(CodeChallenge::parse(Some(&plus), Some("S256")).is_err());
        let padded = format!("{}=", &RFC_CHALLENGE[..42]);
        assert!(CodeChallenge::parse(Some(&padded), Some("S256")).is_err());
    }

    #[test]
    fn a_challenge_whose_last_character_carries_stray_bits_is_refused() {
        // 'N' sets bits beyond the 256 a SHA-256 digest has.
        let stray = format!("{}N", &RFC_CHALLENGE[..42]);
        let err = CodeChallenge::parse(Some(&stray), Some("S256")).expect_err("refused");
        assert!(err.0.contains("canonical"), "{err}");
    }

    #[test]
    fn verifiers_of_43_and_128_characters_are_accepted() {
        assert!(CodeVerifier::parse(&"a".repeat(43)).is_ok());
        assert!(CodeVerifier::parse(&"Az09-._~".repeat(16)).is_ok());
    }

    #[test]
    fn a_verifier_of_42_characters_is_refused() {
        let err = CodeVerifier::parse(&"a".repeat(42)).expect_err("refused");
        assert!(err.0.contains("got 42"), "{err}");
    }

    #[test]
    fn a_verifier_of_129_characters_is_refused() {
        assert!(CodeVerifier::parse(&"a".repeat(129)).is_err());
    }

    #[test]
    fn a_verifier_with_illegal_characters_is_refused() {
        for bad in ['+', '/', '=', ' ', '%', 'é'] {
            let raw = format!("{}{bad}", "a".repeat(50));
            let err = CodeVerifier::parse(&raw).expect_err("refused");
            assert!(err.0.contains("character 51"), "{bad}: {err}");
        }
    }

    #[test]
    fn verifier_debug_output_is_redacted() {
        let verifier = CodeVerifier::parse(RFC_VERIFIER).expect("valid verifier");
        assert!(!format!("{verifier:?}").contains(RFC_VERIFIER));
    }
}
