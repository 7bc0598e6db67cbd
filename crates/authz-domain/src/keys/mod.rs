//! Signing keys for access tokens (authorization contract §6): generation, the public JWK Set
//! (RFC 7517) with RFC 7638 thumbprints as `kid`, encryption at rest (AES-256-GCM), and the
//! rotation rules.
//!
//! * [`SigningAlgorithm`]: ES256 (default), EdDSA, RS256.
//! * [`SigningKey`]: a decrypted key; generated ([`SigningKey::generate`]) or imported from
//!   PKCS#8 PEM ([`SigningKey::from_pkcs8_pem`]).
//! * [`PublicJwk`], [`JwkSet`]: what `/jwks.json` serves, public members only.
//! * [`KeyEncryptionKey`], [`EncryptedPrivateKey`]: private keys at rest.
//! * [`SigningKeyRecord`], [`KeyPolicy`], [`KeyRing`]: the stored record, the timing rules, and
//!   the in-memory ring that picks the signing key and the published set.
//! * [`SigningKeyRepository`], [`InMemorySigningKeyRepository`], [`KeyService`]: the port and the
//!   use cases (first key, rotation, retirement), audited.
//!
//! RS256 keys are generated with aws-lc-rs, which jsonwebtoken already signs with: ring
//! cannot generate RSA keys, and the `rsa` crate is affected by RUSTSEC-2023-0071 in every
//! version. Operators may import their own RSA key instead.

mod algorithm;
mod encryption;
mod jwk;
mod lifecycle;
mod service;
mod shared;
mod signing_key;

pub use algorithm::SigningAlgorithm;
pub use encryption::{EncryptedPrivateKey, KeyEncryptionKey};
pub use jwk::{JwkSet, PublicJwk};
pub use lifecycle::{KeyPolicy, KeyRing, SigningKeyRecord, DEFAULT_LEEWAY_SECS};
pub use service::{InMemorySigningKeyRepository, KeyService, SigningKeyRepository, SYSTEM_ACTOR};
pub use shared::{LoadedRing, SharedKeyRing};
pub use signing_key::{SigningKey, MIN_RSA_BITS};

use crate::client_registration::RepositoryError;
use crate::credentials::CredentialError;

/// Why a key could not be made, opened, used or changed. Messages never contain key material.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// An algorithm name other than `ES256`, `EdDSA`, `RS256` (the name, truncated).
    #[error("unsupported signing algorithm {0:?}: expected ES256, EdDSA or RS256")]
    UnsupportedAlgorithm(String),
    /// The random source failed.
    #[error("the system random number generator failed")]
    Random,
    /// The crypto library could not generate a key.
    #[error("key generation failed: {0}")]
    Generation(String),
    /// A supplied private key is not usable for its algorithm.
    #[error("invalid private key: {0}")]
    InvalidPrivateKey(String),
    /// A JWK or JWK Set is malformed or of an unsupported type.
    #[error("invalid JWK: {0}")]
    InvalidJwk(String),
    /// The key-encryption key text is not 32 bytes of base64/base64url.
    #[error("invalid key-encryption key: {0}")]
    InvalidKek(String),
    /// Encrypting a private key failed.
    #[error("encrypting the private key failed")]
    Encryption,
    /// A private key did not decrypt: the key-encryption key is not the one it was encrypted
    /// with, or the stored bytes were altered.
    #[error(
        "the private key of signing key {kid} does not decrypt: wrong key-encryption key, or the \
         stored key was altered"
    )]
    Decryption {
        /// The key that did not open.
        kid: String,
    },
    /// The stored ciphertext is not in the [`EncryptedPrivateKey`] layout.
    #[error("malformed encrypted private key: {0}")]
    MalformedCiphertext(String),
    /// A record decrypted but does not describe the key it holds.
    #[error("signing key record {kid} is inconsistent: {reason}")]
    InvalidRecord {
        /// The record's kid.
        kid: String,
        /// What does not match.
        reason: String,
    },
    /// No key with this kid.
    #[error("no signing key {0}")]
    UnknownKey(String),
    /// The key no longer signs.
    #[error("signing key {0} is already retired")]
    AlreadyRetired(String),
    /// Retiring the key would leave nothing to sign with.
    #[error(
        "signing key {0} is the only key that can sign now: rotate first, and retire it once the \
         new key is active"
    )]
    LastSigningKey(String),
    /// Storage failed.
    #[error(transparent)]
    Repository(#[from] RepositoryError),
}

impl From<CredentialError> for KeyError {
    fn from(_: CredentialError) -> Self {
        Self::Random
    }
}

#[cfg(test)]
mod tests;
