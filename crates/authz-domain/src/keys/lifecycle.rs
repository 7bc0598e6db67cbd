//! The life of a signing key, as pure rules over its stored record (contract §6):
//!
//! ```text
//! created_at ── published in the JWK Set ─────────────────────────────────────── remove_after
//!      └── activates_at ── signs (the newest active key does) ── retired_at ──┘
//!          (created_at + publish_ahead_secs)       remove_after = retired_at + max token lifetime + leeway
//! ```
//!
//! A key is in the JWK Set from its creation, so verifiers that cache the set have seen it
//! before the first token it signs reaches them; it stays there after retirement until every
//! token it signed has expired.

use std::sync::Arc;

use super::{
    EncryptedPrivateKey, JwkSet, KeyEncryptionKey, KeyError, SigningAlgorithm, SigningKey,
};
use crate::credentials::RandomSource;

/// Clock skew tolerated when checking `exp` and `nbf`, in seconds.
pub const DEFAULT_LEEWAY_SECS: i64 = 60;

/// The timing knobs of key rotation, in seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeyPolicy {
    /// The algorithm of new keys.
    pub algorithm: SigningAlgorithm,
    /// How long a rotated-in key is published before it signs (`keys.publish_ahead_secs`). Keep
    /// it longer than the `Cache-Control: max-age` of `/jwks.json`. Default 3600.
    pub publish_ahead_secs: i64,
    /// The longest access-token lifetime any client may get. Default 3600.
    pub max_access_token_lifetime_secs: i64,
    /// Clock skew verifiers tolerate on `exp`. Default [`DEFAULT_LEEWAY_SECS`].
    pub clock_leeway_secs: i64,
}

impl Default for KeyPolicy {
    fn default() -> Self {
        Self {
            algorithm: SigningAlgorithm::ES256,
            publish_ahead_secs: 3600,
            max_access_token_lifetime_secs: 3600,
            clock_leeway_secs: DEFAULT_LEEWAY_SECS,
        }
    }
}

impl KeyPolicy {
    /// When a key retired at `retired_at` leaves the JWK Set: once the last token it may have
    /// signed has expired, leeway included.
    pub fn remove_after(&self, retired_at: i64) -> i64 {
        retired_at
            .saturating_add(self.max_access_token_lifetime_secs.max(0))
            .saturating_add(self.clock_leeway_secs.max(0))
    }
}

/// A signing key as stored: public parts in clear, the private key encrypted. Times are Unix
/// seconds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SigningKeyRecord {
    /// RFC 7638 thumbprint of the public key; unique.
    pub kid: String,
    /// What it signs with.
    pub algorithm: SigningAlgorithm,
    /// The public JWK as JSON text ([`super::PublicJwk::to_json`]).
    pub public_jwk: String,
    /// The PKCS#8 private key under the key-encryption key, bound to `kid`.
    pub encrypted_private_key: EncryptedPrivateKey,
    /// When it was made, and published.
    pub created_at: i64,
    /// From when it may sign.
    pub activates_at: i64,
    /// From when it no longer signs; `None` while it is current.
    pub retired_at: Option<i64>,
    /// From when it is no longer published; set with `retired_at`.
    pub remove_after: Option<i64>,
}

impl SigningKeyRecord {
    /// The record of a new key made at `now`, encrypted under `kek`: published at once and
    /// signing from `activates_at` (`now` for the very first key, `now + publish_ahead_secs` for
    /// a rotation).
    pub fn seal(
        key: &SigningKey,
        kek: &KeyEncryptionKey,
        rng: &dyn RandomSource,
        now: i64,
        activates_at: i64,
    ) -> Result<Self, KeyError> {
        Ok(Self {
            kid: key.kid().to_owned(),
            algorithm: key.algorithm(),
            public_jwk: key.public_jwk().to_json(),
            encrypted_private_key: kek.encrypt(key.kid(), key.pkcs8_der(), rng)?,
            created_at: now,
            activates_at: activates_at.max(now),
            retired_at: None,
            remove_after: None,
        })
    }

    /// Whether it signs at `now`: activated and not retired.
    pub fn signs_at(&self, now: i64) -> bool {
        self.activates_at <= now && self.retired_at.is_none_or(|r| now < r)
    }

    /// Whether it is in the JWK Set at `now`: until `remove_after`.
    pub fn published_at(&self, now: i64) -> bool {
        self.remove_after.is_none_or(|r| now < r)
    }

    /// Whether it has no retirement yet, or one still to come after `now`.
    pub fn is_current(&self, now: i64) -> bool {
        self.retired_at.is_none_or(|r| now < r)
    }

    /// The `(retired_at, remove_after)` of retiring it at `at` under `policy`.
    pub fn retirement(at: i64, policy: &KeyPolicy) -> (i64, i64) {
        (at, policy.remove_after(at))
    }

    /// Decrypts the private key with `kek` and checks it is the key the record describes.
    /// [`KeyError::Decryption`] for a wrong key-encryption key or altered bytes,
    /// [`KeyError::InvalidRecord`] if the decrypted key does not match `kid`/`algorithm`.
    pub fn open(&self, kek: &KeyEncryptionKey) -> Result<SigningKey, KeyError> {
        use secrecy::ExposeSecret as _;
        let der = kek.decrypt(&self.kid, &self.encrypted_private_key)?;
        let key = SigningKey::from_pkcs8_der(self.algorithm, der.expose_secret().to_vec())
            .map_err(|e| KeyError::InvalidRecord {
                kid: self.kid.clone(),
                reason: e.to_string(),
            })?;
        if key.kid() != self.kid {
            return Err(KeyError::InvalidRecord {
                kid: self.kid.clone(),
                reason: "the private key does not match the kid".into(),
            });
        }
        Ok(key)
    }
}

/// One key of a [`KeyRing`]: the decrypted key with its schedule.
#[derive(Debug, Clone)]
struct RingKey {
    key: SigningKey,
    created_at: i64,
    activates_at: i64,
    retired_at: Option<i64>,
    remove_after: Option<i64>,
}

/// The decrypted keys in memory: which one signs, which ones are published. Cheap to clone
/// (the keys are shared).
#[derive(Debug, Clone, Default)]
pub struct KeyRing {
    keys: Arc<Vec<RingKey>>,
}

impl KeyRing {
    /// Decrypts every record with `kek`. Fails on the first record that does not open
    /// ([`KeyError::Decryption`]: most likely the wrong key-encryption key).
    pub fn load(records: &[SigningKeyRecord], kek: &KeyEncryptionKey) -> Result<Self, KeyError> {
        let keys = records
            .iter()
            .map(|r| {
                Ok(RingKey {
                    key: r.open(kek)?,
                    created_at: r.created_at,
                    activates_at: r.activates_at,
                    retired_at: r.retired_at,
                    remove_after: r.remove_after,
                })
            })
            .collect::<Result<Vec<_>, KeyError>>()?;
        Ok(Self {
            keys: Arc::new(keys),
        })
    }

    /// A ring of one key that signs and is published at any time: for embedders and tests
    /// that manage no rotation.
    pub fn single(key: SigningKey) -> Self {
        Self {
            keys: Arc::new(vec![RingKey {
                key,
                created_at: i64::MIN,
                activates_at: i64::MIN,
                retired_at: None,
                remove_after: None,
            }]),
        }
    }

    /// The key that signs at `now`: the most recently activated one that is active and not
    /// retired. `None` if there is none (no key yet, or every key retired).
    pub fn signing_key(&self, now: i64) -> Option<&SigningKey> {
        self.keys
            .iter()
            .filter(|k| k.activates_at <= now && k.retired_at.is_none_or(|r| now < r))
            .max_by_key(|k| (k.activates_at, k.created_at))
            .map(|k| &k.key)
    }

    /// The JWK Set to publish at `now`: every key not past its `remove_after`, including keys
    /// not active yet and retired ones, newest first. Public members only.
    pub fn jwk_set(&self, now: i64) -> JwkSet {
        let mut published: Vec<&RingKey> = self
            .keys
            .iter()
            .filter(|k| k.remove_after.is_none_or(|r| now < r))
            .collect();
        published.sort_by_key(|k| std::cmp::Reverse((k.created_at, k.activates_at)));
        JwkSet {
            keys: published
                .iter()
                .map(|k| k.key.public_jwk().clone())
                .collect(),
        }
    }

    /// The key with this `kid`, whatever its state.
    pub fn get(&self, kid: &str) -> Option<&SigningKey> {
        self.keys.iter().map(|k| &k.key).find(|k| k.kid() == kid)
    }

    /// The number of keys, published or not.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// Whether the ring holds no key.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }
}
