//! `[limits]` and `[argon2]`: request size limits and the password hash cost.

use garde::Validate;
use serde::{Deserialize, Serialize};

/// `[limits]`.
#[derive(Debug, Deserialize, Serialize, Validate)]
#[serde(deny_unknown_fields)]
pub struct LimitSettings {
    /// Largest JSON body.
    #[garde(range(min = 1024, max = 16_777_216))]
    pub max_body_bytes: usize,
    /// Most redirect URIs per client.
    #[garde(range(min = 1, max = 1000))]
    pub max_redirect_uris: usize,
    /// Longest URI.
    #[garde(range(min = 64, max = 65_536))]
    pub max_uri_length: usize,
    /// Longest client name, in characters.
    #[garde(range(min = 1, max = 10_000))]
    pub max_client_name_chars: usize,
    /// Most contacts.
    #[garde(range(max = 1000))]
    pub max_contacts: usize,
    /// Most space-separated values in a client's registered `scope`.
    #[garde(range(min = 1, max = 1000))]
    pub max_scopes: usize,
    /// Largest `jwks` a client may register, in bytes of compact JSON.
    #[garde(range(min = 1024, max = 1_048_576))]
    pub max_jwks_bytes: usize,
}

/// `[argon2]`.
#[derive(Debug, Deserialize, Serialize, Validate)]
#[serde(deny_unknown_fields)]
pub struct Argon2Config {
    /// Memory cost in KiB.
    #[garde(range(min = 8, max = 4_194_304))]
    pub memory_kib: u32,
    /// Passes.
    #[garde(range(min = 1, max = 100))]
    pub iterations: u32,
    /// Lanes.
    #[garde(range(min = 1, max = 64))]
    pub parallelism: u32,
    /// Hashes at once; 0 means one per core.
    #[garde(range(max = 1024))]
    pub max_concurrent_hashes: usize,
}
