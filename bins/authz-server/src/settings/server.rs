//! `[server]`: where to listen and the issuer URL.

use garde::Validate;
use serde::{Deserialize, Serialize};

use super::validators::*;

/// `[server]`.
#[derive(Debug, Deserialize, Serialize, Validate)]
#[serde(deny_unknown_fields)]
pub struct ServerSettings {
    /// Listen address, `host:port`.
    #[garde(custom(socket_addr))]
    pub bind: String,
    /// The issuer URL.
    #[garde(custom(base_url))]
    pub public_base_url: String,
    /// `service_documentation`; empty means `{public_base_url}/docs`.
    #[garde(custom(optional_url))]
    pub service_documentation: String,
    /// HTTP workers; 0 means one per core.
    #[garde(range(max = 256))]
    pub workers: usize,
    /// Blocking threads per worker (database work and Argon2 hashing).
    #[garde(range(min = 1, max = 512))]
    pub blocking_threads: usize,
    /// Grace period for requests in flight at shutdown.
    #[garde(range(max = 3600))]
    pub shutdown_timeout_secs: u64,
    /// How long a client may take to send its request head.
    #[garde(range(min = 100, max = 600_000))]
    pub client_request_timeout_ms: u64,
    /// Most requests in progress at once; beyond, 503 at once (0: no bound).
    #[garde(range(max = 1_000_000))]
    pub max_requests_in_flight: usize,
}
