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
    /// Proxies (addresses or CIDR blocks) whose `Forwarded` / `X-Forwarded-For` name the client;
    /// empty: the socket peer is the client (authz-http's `client_ip`).
    #[garde(custom(super::validators::trusted_proxies))]
    #[serde(default)]
    pub trusted_proxies: Vec<String>,
}
