//! Public JSON Web Keys (RFC 7517), their thumbprints (RFC 7638) and the JWK Set a server
//! publishes at `/jwks.json`.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use jsonwebtoken::DecodingKey;
use serde::{Deserialize, Serialize};

use super::{KeyError, SigningAlgorithm};

/// The public half of a signing key as a JWK (RFC 7517 §4, RFC 7518 §6, RFC 8037 §2).
///
/// Only public members exist in this type: `d`, `p`, `q` and the other private members of a
/// JWK are not fields, so they can neither be published nor read back (deserialising ignores
/// them). Members are base64url without padding.
///
/// | `kty` | `crv` | members |
/// |---|---|---|
/// | `EC` | `P-256` | `x`, `y` (32 bytes each) |
/// | `OKP` | `Ed25519` | `x` (32 bytes) |
/// | `RSA` | – | `n` (modulus), `e` (exponent), big-endian without leading zeros |
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PublicJwk {
    /// Key type: `EC`, `OKP` or `RSA`.
    pub kty: String,
    /// Curve: `P-256` or `Ed25519`; absent for RSA.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub crv: Option<String>,
    /// EC x coordinate, or the Ed25519 public key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub x: Option<String>,
    /// EC y coordinate.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub y: Option<String>,
    /// RSA modulus.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub n: Option<String>,
    /// RSA public exponent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub e: Option<String>,
    /// The JWS algorithm the key is used with (RFC 7517 §4.4).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alg: Option<String>,
    /// Intended use (RFC 7517 §4.2): `sig` for every key this server makes.
    #[serde(rename = "use", default, skip_serializing_if = "Option::is_none")]
    pub use_: Option<String>,
    /// Key id: this server uses the RFC 7638 thumbprint ([`PublicJwk::thumbprint`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kid: Option<String>,
}

fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

fn required<'a>(member: &'a Option<String>, name: &str, kty: &str) -> Result<&'a str, KeyError> {
    member
        .as_deref()
        .ok_or_else(|| KeyError::InvalidJwk(format!("a {kty} key needs \"{name}\"")))
}

impl PublicJwk {
    fn new(kty: &str, alg: SigningAlgorithm) -> Self {
        Self {
            kty: kty.to_owned(),
            crv: None,
            x: None,
            y: None,
            n: None,
            e: None,
            alg: Some(alg.as_str().to_owned()),
            use_: Some("sig".to_owned()),
            kid: None,
        }
    }

    /// A P-256 key from its uncompressed point (`0x04 ‖ x ‖ y`, 65 bytes).
    pub(crate) fn p256(point: &[u8]) -> Result<Self, KeyError> {
        if point.len() != 65 || point[0] != 4 {
            return Err(KeyError::InvalidJwk(
                "a P-256 public key is an uncompressed point of 65 bytes".into(),
            ));
        }
        let mut jwk = Self::new("EC", SigningAlgorithm::ES256);
        jwk.crv = Some("P-256".into());
        jwk.x = Some(b64(&point[1..33]));
        jwk.y = Some(b64(&point[33..]));
        jwk.with_thumbprint()
    }

    /// An Ed25519 key from its 32 public bytes.
    pub(crate) fn ed25519(public: &[u8]) -> Result<Self, KeyError> {
        let mut jwk = Self::new("OKP", SigningAlgorithm::EdDSA);
        jwk.crv = Some("Ed25519".into());
        jwk.x = Some(b64(public));
        jwk.with_thumbprint()
    }

    /// An RSA key from its big-endian modulus and exponent.
    pub(crate) fn rsa(modulus: &[u8], exponent: &[u8]) -> Result<Self, KeyError> {
        let strip = |b: &[u8]| -> Vec<u8> {
            let start = b.iter().position(|&x| x != 0).unwrap_or(b.len());
            b[start..].to_vec()
        };
        let mut jwk = Self::new("RSA", SigningAlgorithm::RS256);
        jwk.n = Some(b64(&strip(modulus)));
        jwk.e = Some(b64(&strip(exponent)));
        jwk.with_thumbprint()
    }

    fn with_thumbprint(mut self) -> Result<Self, KeyError> {
        self.kid = Some(self.thumbprint()?);
        Ok(self)
    }

    /// The RFC 7638 thumbprint: base64url (no padding) of the SHA-256 of the required members
    /// in lexicographic order without whitespace (§3.2): `{"crv","kty","x","y"}` for EC,
    /// `{"crv","kty","x"}` for OKP, `{"e","kty","n"}` for RSA. 43 characters.
    /// [`KeyError::InvalidJwk`] if a required member is missing or the key type is unknown.
    pub fn thumbprint(&self) -> Result<String, KeyError> {
        let s = |v: &str| serde_json::Value::String(v.to_owned()).to_string();
        let canonical = match self.kty.as_str() {
            "EC" => format!(
                r#"{{"crv":{},"kty":"EC","x":{},"y":{}}}"#,
                s(required(&self.crv, "crv", "EC")?),
                s(required(&self.x, "x", "EC")?),
                s(required(&self.y, "y", "EC")?)
            ),
            "OKP" => format!(
                r#"{{"crv":{},"kty":"OKP","x":{}}}"#,
                s(required(&self.crv, "crv", "OKP")?),
                s(required(&self.x, "x", "OKP")?)
            ),
            "RSA" => format!(
                r#"{{"e":{},"kty":"RSA","n":{}}}"#,
                s(required(&self.e, "e", "RSA")?),
                s(required(&self.n, "n", "RSA")?)
            ),
            other => {
                return Err(KeyError::InvalidJwk(format!(
                    "unsupported key type {:?}",
                    other.chars().take(16).collect::<String>()
                )))
            }
        };
        Ok(b64(ring::digest::digest(
            &ring::digest::SHA256,
            canonical.as_bytes(),
        )
        .as_ref()))
    }

    /// The algorithm this key verifies: its `alg` when present, else the one its type implies
    /// (`EC`/`P-256` → ES256, `OKP`/`Ed25519` → EdDSA, `RSA` → RS256). `None` for anything
    /// else, including a key whose `alg` is not one of [`SigningAlgorithm::ALL`].
    pub fn algorithm(&self) -> Option<SigningAlgorithm> {
        let implied = match (self.kty.as_str(), self.crv.as_deref()) {
            ("EC", Some("P-256")) => SigningAlgorithm::ES256,
            ("OKP", Some("Ed25519")) => SigningAlgorithm::EdDSA,
            ("RSA", None) => SigningAlgorithm::RS256,
            _ => return None,
        };
        match self.alg.as_deref() {
            None => Some(implied),
            Some(alg) => SigningAlgorithm::parse(alg).ok().filter(|a| *a == implied),
        }
    }

    /// A verification key for this JWK. [`KeyError::InvalidJwk`] if the key type, curve or
    /// members are not those of a supported algorithm.
    pub(crate) fn decoding_key(&self) -> Result<(SigningAlgorithm, DecodingKey), KeyError> {
        let algorithm = self.algorithm().ok_or_else(|| {
            KeyError::InvalidJwk(format!(
                "kty {:?} / crv {:?} / alg {:?} is not ES256, EdDSA or RS256",
                self.kty, self.crv, self.alg
            ))
        })?;
        let bad = |e: jsonwebtoken::errors::Error| KeyError::InvalidJwk(e.to_string());
        let key = match algorithm {
            SigningAlgorithm::ES256 => DecodingKey::from_ec_components(
                required(&self.x, "x", "EC")?,
                required(&self.y, "y", "EC")?,
            )
            .map_err(bad)?,
            SigningAlgorithm::EdDSA => {
                DecodingKey::from_ed_components(required(&self.x, "x", "OKP")?).map_err(bad)?
            }
            SigningAlgorithm::RS256 => DecodingKey::from_rsa_components(
                required(&self.n, "n", "RSA")?,
                required(&self.e, "e", "RSA")?,
            )
            .map_err(bad)?,
        };
        Ok((algorithm, key))
    }

    /// The JWK as compact JSON text (how [`super::SigningKeyRecord::public_jwk`] stores it).
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }

    /// A JWK from JSON text. Private members, if any, are dropped.
    /// [`KeyError::InvalidJwk`] if the text is not a JSON object with a string `kty`.
    pub fn from_json(text: &str) -> Result<Self, KeyError> {
        serde_json::from_str(text).map_err(|e| KeyError::InvalidJwk(e.to_string()))
    }
}

/// A JWK Set (RFC 7517 §5): serialises to `{"keys":[…]}` with public members only.
///
/// ```
/// use authz_domain::keys::JwkSet;
/// let set = JwkSet::from_json(r#"{"keys":[{"kty":"OKP","crv":"Ed25519",
///     "x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo","d":"nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A"}]}"#)?;
/// assert_eq!(set.keys.len(), 1);
/// assert!(!set.to_json().contains("\"d\"")); // a private member is never carried
/// # Ok::<(), authz_domain::keys::KeyError>(())
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct JwkSet {
    /// The keys, newest first when built by [`super::KeyRing::jwk_set`].
    pub keys: Vec<PublicJwk>,
}

impl JwkSet {
    /// The key whose `kid` is `kid`.
    pub fn find(&self, kid: &str) -> Option<&PublicJwk> {
        self.keys.iter().find(|k| k.kid.as_deref() == Some(kid))
    }

    /// The set as compact JSON text: `{"keys":[…]}`.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_else(|_| r#"{"keys":[]}"#.to_owned())
    }

    /// A set from JSON text (a `/jwks.json` document). [`KeyError::InvalidJwk`] if it is not
    /// an object with a `keys` array of objects with a string `kty`.
    pub fn from_json(text: &str) -> Result<Self, KeyError> {
        serde_json::from_str(text).map_err(|e| KeyError::InvalidJwk(e.to_string()))
    }
}
