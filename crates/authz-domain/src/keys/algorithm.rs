//! The JWS algorithms this server signs with (RFC 7518 §3.1, RFC 8037 §3.1).

use std::fmt;
use std::str::FromStr;

use super::KeyError;

/// A signature algorithm for access tokens, by its JOSE name.
///
/// ```
/// use authz_domain::keys::SigningAlgorithm;
/// assert_eq!(SigningAlgorithm::default(), SigningAlgorithm::ES256);
/// assert_eq!(SigningAlgorithm::parse("EdDSA")?, SigningAlgorithm::EdDSA);
/// assert_eq!(SigningAlgorithm::RS256.as_str(), "RS256");
/// assert!(SigningAlgorithm::parse("HS256").is_err()); // shared secrets are never signing keys
/// # Ok::<(), authz_domain::keys::KeyError>(())
/// ```
#[allow(clippy::upper_case_acronyms)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum SigningAlgorithm {
    /// ECDSA over P-256 with SHA-256 (RFC 7518 §3.4), JWK `kty: "EC"`, `crv: "P-256"`. The default.
    #[default]
    ES256,
    /// Ed25519 (RFC 8037 §3.1), JWK `kty: "OKP"`, `crv: "Ed25519"`.
    EdDSA,
    /// RSASSA-PKCS1-v1_5 with SHA-256 (RFC 7518 §3.3), JWK `kty: "RSA"`, at least 2048 bits.
    RS256,
}

impl SigningAlgorithm {
    /// Every algorithm, the default first.
    pub const ALL: &'static [Self] = &[Self::ES256, Self::EdDSA, Self::RS256];

    /// The algorithm named exactly (case-sensitive, as in a JWS `alg` header) by `name`.
    /// [`KeyError::UnsupportedAlgorithm`] for anything else, `none` and `HS256` included.
    pub fn parse(name: &str) -> Result<Self, KeyError> {
        Self::ALL
            .iter()
            .copied()
            .find(|a| a.as_str() == name)
            .ok_or_else(|| KeyError::UnsupportedAlgorithm(name.chars().take(32).collect()))
    }

    /// The JOSE name: `ES256`, `EdDSA` or `RS256`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::ES256 => "ES256",
            Self::EdDSA => "EdDSA",
            Self::RS256 => "RS256",
        }
    }

    /// The same algorithm in `jsonwebtoken`'s terms.
    pub(crate) fn jwt(self) -> jsonwebtoken::Algorithm {
        match self {
            Self::ES256 => jsonwebtoken::Algorithm::ES256,
            Self::EdDSA => jsonwebtoken::Algorithm::EdDSA,
            Self::RS256 => jsonwebtoken::Algorithm::RS256,
        }
    }
}

impl FromStr for SigningAlgorithm {
    type Err = KeyError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl fmt::Display for SigningAlgorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
