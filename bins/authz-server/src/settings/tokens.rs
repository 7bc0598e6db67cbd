//! `[tokens]`: access token lifetime, refresh token families, and the memory of verified client
//! secrets.

use garde::Validate;
use serde::{Deserialize, Serialize};

/// `[tokens]`.
#[derive(Debug, Deserialize, Serialize, Validate)]
#[serde(deny_unknown_fields)]
pub struct TokenSettings {
    /// Access token lifetime for clients an administrator gave no lifetime, in seconds.
    #[garde(range(min = 60, max = 86_400))]
    pub access_token_lifetime_secs: u64,
    /// How long a rotated-out refresh token still yields a fresh pair (duplicate refreshes real
    /// clients send), in seconds; after it, a replay revokes the family.
    #[garde(range(max = 300))]
    pub refresh_reuse_grace_secs: u64,
    /// Absolute lifetime of a refresh token family from the code exchange, in seconds; 0: none.
    #[garde(range(max = 31_622_400))]
    pub refresh_family_lifetime_secs: u64,
    /// How long a successful client-secret verification is remembered (keyed digest, never the
    /// secret), in seconds; 0 verifies Argon2id on every call.
    #[garde(range(max = 3600))]
    pub verified_secret_cache_secs: u64,
}
