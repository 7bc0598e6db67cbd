//! `[keys]`: the algorithm of signing keys, rotation timing, and the key-encryption key that
//! protects private keys at rest.

use garde::Validate;
use secrecy::SecretString;
use serde::{Deserialize, Serialize};

/// `[keys]`.
#[derive(Debug, Deserialize, Serialize, Validate)]
#[serde(deny_unknown_fields)]
pub struct KeySettings {
    /// `ES256` (default), `EdDSA` or `RS256`: the algorithm of new signing keys.
    #[garde(custom(signing_algorithm))]
    pub algorithm: String,
    /// How long a rotated-in key is published before it signs, in seconds (longer than the
    /// `/jwks.json` cache lifetime).
    #[garde(range(min = 60, max = 2_592_000))]
    pub publish_ahead_secs: u64,
    /// How often each instance re-reads the keys from the database, in seconds.
    #[garde(range(min = 5, max = 3600))]
    pub reload_interval_secs: u64,
    /// The key-encryption key, 32 bytes in base64url. Prefer the file or an environment
    /// variable (`AUTHZ__KEYS__KEY_ENCRYPTION_KEY`) to a value in a config file.
    #[serde(default, skip_serializing)]
    #[garde(skip)]
    pub key_encryption_key: Option<SecretString>,
    /// A file holding the key-encryption key. Empty: `authz.kek` beside the SQLite database
    /// (created with mode 0600 on first start); required with PostgreSQL unless
    /// `key_encryption_key` is set.
    #[garde(skip)]
    pub key_encryption_key_file: String,
}

fn signing_algorithm(value: &str, _: &()) -> garde::Result {
    authz_domain::keys::SigningAlgorithm::parse(value)
        .map(|_| ())
        .map_err(|_| garde::Error::new("expected ES256, EdDSA or RS256"))
}
