//! JWT access tokens (RFC 9068): the claims, signing with the key ring, and verification.
//!
//! ```
//! use std::sync::Arc;
//! use authz_domain::clock::{Clock, SystemClock};
//! use authz_domain::credentials::SystemRandomSource;
//! use authz_domain::keys::{KeyRing, SigningAlgorithm, SigningKey};
//! use authz_domain::token::{AccessTokenClaims, AccessTokenError, AccessTokenVerifier};
//!
//! // The authorization server signs…
//! let key = SigningKey::generate(SigningAlgorithm::ES256, &SystemRandomSource::new())?;
//! let ring = KeyRing::single(key);
//! let now = SystemClock.now();
//! let claims = AccessTokenClaims {
//!     iss: "https://auth.example.com".into(),
//!     sub: "user-42".into(),
//!     aud: vec!["https://mcp.example.com".into()],
//!     client_id: "s6BhdRkqt3".into(),
//!     scope: "files:read files:write".into(),
//!     iat: now,
//!     exp: now + 3600,
//!     jti: "5f0a6a1c-2f5e-4c1b-9f4a-2f5d0c8f1e77".into(),
//!     auth_time: Some(now - 30),
//!     grant_id: None,
//! };
//! let token = ring.sign_access_token(&claims)?;
//!
//! // …a resource server verifies, with the published JWK Set (the JSON of /jwks.json).
//! let jwks = ring.jwk_set(now).to_json();
//! let verifier = AccessTokenVerifier::from_jwks_json(
//!     &jwks, "https://auth.example.com", "https://mcp.example.com")?;
//! assert_eq!(verifier.verify(&token)?, claims);
//!
//! let elsewhere = AccessTokenVerifier::from_jwks_json(
//!     &jwks, "https://auth.example.com", "https://other.example.com")?;
//! assert!(matches!(elsewhere.verify(&token), Err(AccessTokenError::WrongAudience { .. })));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use jsonwebtoken::{DecodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::clock::{Clock, SystemClock};
use crate::keys::{JwkSet, KeyError, KeyRing, SigningAlgorithm, DEFAULT_LEEWAY_SECS};

/// The JWS `typ` of an access token (RFC 9068 §2.1).
pub const ACCESS_TOKEN_TYPE: &str = "at+jwt";

/// The claims of an access token (RFC 9068 §2.2). Times are Unix seconds.
///
/// On the wire `aud` is a string when it holds one value and an array otherwise, `scope` is
/// omitted when empty and `auth_time` when absent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessTokenClaims {
    /// The issuer: the server's public base URL.
    pub iss: String,
    /// The subject: the user id, or the `client_id` for client credentials.
    pub sub: String,
    /// The audiences: the resources (RFC 8707), else the configured default resource, else the
    /// issuer. Never empty in a token this server issues.
    #[serde(with = "audience")]
    pub aud: Vec<String>,
    /// The client the token was issued to.
    pub client_id: String,
    /// Granted scope values separated by single spaces (RFC 6749 §3.3); `""` when none.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub scope: String,
    /// Issued at.
    pub iat: i64,
    /// Expires at.
    pub exp: i64,
    /// Unique token id, for revocation by `jti`.
    pub jti: String,
    /// When the user authenticated (OpenID Connect Core §2); absent for client credentials.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth_time: Option<i64>,
    /// The refresh token family (the grant) this token was issued under; absent for client
    /// credentials. Not a registered claim: introspection uses it to report every token of a
    /// revoked family inactive at once (RFC 7009 §2.1 lets revoking a refresh token revoke the
    /// access tokens of the same grant). It names no person.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grant_id: Option<String>,
}

mod audience {
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    #[derive(Deserialize)]
    #[serde(untagged)]
    enum OneOrMany {
        One(String),
        Many(Vec<String>),
    }

    pub(super) fn serialize<S: Serializer>(aud: &[String], s: S) -> Result<S::Ok, S::Error> {
        match aud {
            [one] => one.serialize(s),
            many => many.serialize(s),
        }
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
        Ok(match OneOrMany::deserialize(d)? {
            OneOrMany::One(one) => vec![one],
            OneOrMany::Many(many) => many,
        })
    }
}

/// Why an access token could not be signed, or which check refused it.
#[derive(Debug, thiserror::Error)]
pub enum AccessTokenError {
    /// No key signs at the token's `iat` (none created yet, or all retired).
    #[error("no signing key is active")]
    NoSigningKey,
    /// The crypto library failed to sign.
    #[error("signing failed: {0}")]
    Signing(String),
    /// Not three base64url parts with JSON header and claims.
    #[error("malformed token: {0}")]
    Malformed(String),
    /// The header's `alg` is not ES256, EdDSA or RS256 (`none` and `HS256` included).
    #[error("algorithm {0:?} is not accepted: only ES256, EdDSA and RS256")]
    UnsupportedAlgorithm(String),
    /// The header's `typ` is not `at+jwt` (RFC 9068 §4).
    #[error("typ {0:?} is not \"at+jwt\"")]
    WrongType(Option<String>),
    /// The header has no `kid`.
    #[error("the header has no kid")]
    MissingKeyId,
    /// No key of the JWK Set has the header's `kid`.
    #[error("no key {0:?} in the JWK Set")]
    UnknownKey(String),
    /// The key with that `kid` is for another algorithm than the header's.
    #[error("key {kid:?} is for {key}, the token says {token}")]
    AlgorithmMismatch {
        /// The key.
        kid: String,
        /// The key's algorithm.
        key: SigningAlgorithm,
        /// The header's algorithm.
        token: SigningAlgorithm,
    },
    /// The signature does not verify with the key.
    #[error("the signature does not verify")]
    BadSignature,
    /// `iss` is not the expected issuer.
    #[error("issuer {found:?} is not {expected:?}")]
    WrongIssuer {
        /// What the verifier expects.
        expected: String,
        /// What the token says (`""` when absent).
        found: String,
    },
    /// `aud` does not contain the expected audience.
    #[error("the token is not for audience {expected:?}")]
    WrongAudience {
        /// What the verifier expects.
        expected: String,
    },
    /// `exp` (plus leeway) has passed.
    #[error("expired at {exp}")]
    Expired {
        /// The token's `exp`.
        exp: i64,
    },
    /// `nbf` (minus leeway) is still to come.
    #[error("not valid before {nbf}")]
    NotYetValid {
        /// The token's `nbf`.
        nbf: i64,
    },
    /// A required claim is missing or of the wrong type.
    #[error("invalid claims: {0}")]
    InvalidClaims(String),
}

impl KeyRing {
    /// Signs `claims` as an RFC 9068 access token: JWS compact serialization with header
    /// `{"typ":"at+jwt","alg":…,"kid":…}`, signed by the key that signs at `claims.iat`
    /// ([`KeyRing::signing_key`]). [`AccessTokenError::NoSigningKey`] when there is none.
    pub fn sign_access_token(
        &self,
        claims: &AccessTokenClaims,
    ) -> Result<String, AccessTokenError> {
        let key = self
            .signing_key(claims.iat)
            .ok_or(AccessTokenError::NoSigningKey)?;
        let mut header = Header::new(key.algorithm().jwt());
        header.typ = Some(ACCESS_TOKEN_TYPE.to_owned());
        header.kid = Some(key.kid().to_owned());
        jsonwebtoken::encode(&header, claims, key.encoding_key())
            .map_err(|e| AccessTokenError::Signing(e.to_string()))
    }
}

/// Verifies access tokens for one resource server: built from the issuer's JWK Set, the
/// expected issuer and this resource's audience.
///
/// Checks, in order: the header's `alg` is ES256, EdDSA or RS256; `typ` is `at+jwt`
/// (or `application/at+jwt`, RFC 9068 §4); `kid` names a key of the set made for that algorithm;
/// the signature; `iss`; `aud` contains the audience; `exp` and `nbf` with a leeway
/// ([`DEFAULT_LEEWAY_SECS`] unless changed); then the claims' shape. The first failure is the
/// error.
#[derive(Clone)]
pub struct AccessTokenVerifier {
    keys: HashMap<String, (SigningAlgorithm, DecodingKey)>,
    issuer: String,
    /// `None`: any audience (the authorization server's own introspection).
    audience: Option<String>,
    leeway_secs: i64,
    clock: Arc<dyn Clock>,
}

impl fmt::Debug for AccessTokenVerifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AccessTokenVerifier")
            .field("kids", &self.keys.keys().collect::<Vec<_>>())
            .field("issuer", &self.issuer)
            .field("audience", &self.audience)
            .field("leeway_secs", &self.leeway_secs)
            .finish_non_exhaustive()
    }
}

impl AccessTokenVerifier {
    /// A verifier over the keys of `jwks` that have a `kid` and are ES256, EdDSA or RS256 keys
    /// (others, such as `oct` keys, are skipped). [`KeyError::InvalidJwk`] if no key is usable,
    /// or a usable-looking key has bad members.
    pub fn new(
        jwks: &JwkSet,
        issuer: impl Into<String>,
        audience: impl Into<String>,
    ) -> Result<Self, KeyError> {
        let mut keys = HashMap::new();
        for jwk in &jwks.keys {
            let (Some(kid), Some(_)) = (jwk.kid.as_ref(), jwk.algorithm()) else {
                continue;
            };
            keys.insert(kid.clone(), jwk.decoding_key()?);
        }
        if keys.is_empty() {
            return Err(KeyError::InvalidJwk(
                "the JWK Set has no ES256, EdDSA or RS256 key with a kid".into(),
            ));
        }
        Ok(Self {
            keys,
            issuer: issuer.into(),
            audience: Some(audience.into()),
            leeway_secs: DEFAULT_LEEWAY_SECS,
            clock: Arc::new(SystemClock),
        })
    }

    /// A verifier that accepts any audience: for the authorization server itself, which
    /// introspects tokens issued for every resource (RFC 7662). Resource servers use
    /// [`AccessTokenVerifier::new`], which checks that the token is meant for them.
    pub fn for_any_audience(jwks: &JwkSet, issuer: impl Into<String>) -> Result<Self, KeyError> {
        let mut verifier = Self::new(jwks, issuer, "")?;
        verifier.audience = None;
        Ok(verifier)
    }

    /// [`AccessTokenVerifier::new`] over a JWK Set's JSON text (a `/jwks.json` document).
    pub fn from_jwks_json(
        jwks: &str,
        issuer: impl Into<String>,
        audience: impl Into<String>,
    ) -> Result<Self, KeyError> {
        Self::new(&JwkSet::from_json(jwks)?, issuer, audience)
    }

    /// Tolerates `seconds` of clock skew on `exp` and `nbf` (negative values count as 0).
    pub fn with_leeway(mut self, seconds: i64) -> Self {
        self.leeway_secs = seconds.max(0);
        self
    }

    /// Reads the time from `clock` instead of the system clock.
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// The claims of `token` if it passes every check; otherwise the first check that failed.
    pub fn verify(&self, token: &str) -> Result<AccessTokenClaims, AccessTokenError> {
        let header = unverified_header(token)?;
        let alg = match header.get("alg") {
            Some(Value::String(alg)) => alg.as_str(),
            _ => return Err(AccessTokenError::Malformed("the header has no alg".into())),
        };
        let algorithm = SigningAlgorithm::parse(alg)
            .map_err(|_| AccessTokenError::UnsupportedAlgorithm(alg.chars().take(32).collect()))?;
        match header.get("typ") {
            Some(Value::String(typ))
                if typ.eq_ignore_ascii_case(ACCESS_TOKEN_TYPE)
                    || typ.eq_ignore_ascii_case("application/at+jwt") => {}
            Some(Value::String(typ)) => {
                return Err(AccessTokenError::WrongType(Some(
                    typ.chars().take(64).collect(),
                )))
            }
            _ => return Err(AccessTokenError::WrongType(None)),
        }
        let kid = match header.get("kid") {
            Some(Value::String(kid)) => kid,
            _ => return Err(AccessTokenError::MissingKeyId),
        };
        let (key_algorithm, key) = self
            .keys
            .get(kid)
            .ok_or_else(|| AccessTokenError::UnknownKey(kid.chars().take(64).collect()))?;
        if *key_algorithm != algorithm {
            return Err(AccessTokenError::AlgorithmMismatch {
                kid: kid.clone(),
                key: *key_algorithm,
                token: algorithm,
            });
        }

        let mut validation = Validation::new(algorithm.jwt());
        validation.required_spec_claims.clear();
        validation.validate_exp = false; // checked below against the injected clock
        validation.validate_nbf = false;
        validation.validate_aud = false;
        let claims = jsonwebtoken::decode::<Map<String, Value>>(token, key, &validation)
            .map_err(|e| match e.kind() {
                jsonwebtoken::errors::ErrorKind::InvalidSignature => AccessTokenError::BadSignature,
                _ => AccessTokenError::Malformed(e.to_string()),
            })?
            .claims;

        let found = claims.get("iss").and_then(Value::as_str).unwrap_or("");
        if found != self.issuer {
            return Err(AccessTokenError::WrongIssuer {
                expected: self.issuer.clone(),
                found: found.chars().take(256).collect(),
            });
        }
        if let Some(audience) = &self.audience {
            let for_us = match claims.get("aud") {
                Some(Value::String(aud)) => aud == audience,
                Some(Value::Array(auds)) => auds.iter().any(|a| a.as_str() == Some(audience)),
                _ => false,
            };
            if !for_us {
                return Err(AccessTokenError::WrongAudience {
                    expected: audience.clone(),
                });
            }
        }
        let now = self.clock.now();
        let Some(exp) = claims.get("exp").and_then(Value::as_i64) else {
            return Err(AccessTokenError::InvalidClaims(
                "exp is required and must be an integer".into(),
            ));
        };
        if now >= exp.saturating_add(self.leeway_secs) {
            return Err(AccessTokenError::Expired { exp });
        }
        match claims.get("nbf") {
            None => {}
            Some(nbf) => match nbf.as_i64() {
                Some(nbf) if nbf.saturating_sub(self.leeway_secs) <= now => {}
                Some(nbf) => return Err(AccessTokenError::NotYetValid { nbf }),
                None => {
                    return Err(AccessTokenError::InvalidClaims(
                        "nbf must be an integer".into(),
                    ))
                }
            },
        }
        serde_json::from_value(Value::Object(claims))
            .map_err(|e| AccessTokenError::InvalidClaims(e.to_string()))
    }
}

/// The JOSE header, read before verification only to choose the checks and the key.
fn unverified_header(token: &str) -> Result<Map<String, Value>, AccessTokenError> {
    let mut parts = token.split('.');
    let (Some(header), Some(_), Some(_), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(AccessTokenError::Malformed(
            "not three dot-separated parts".into(),
        ));
    };
    let bytes = URL_SAFE_NO_PAD
        .decode(header)
        .map_err(|_| AccessTokenError::Malformed("the header is not base64url".into()))?;
    serde_json::from_slice(&bytes)
        .map_err(|_| AccessTokenError::Malformed("the header is not a JSON object".into()))
}
