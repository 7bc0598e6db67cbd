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
    /// The issuer URL, normalised as it is read (see [`normalise_base_url`]): every URL the
    /// server hands out (the issuer, the endpoints, `registration_client_uri`, `iss`) is built
    /// from this one value.
    #[serde(deserialize_with = "normalised_base_url")]
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
    /// How long a request body may take to arrive in full, from the end of its head; past it the
    /// request is answered 408 and the connection closed (slow-client protection).
    #[garde(range(min = 1, max = 3600))]
    pub body_read_timeout_secs: u64,
    /// Open connections at most, over all workers; past it the server stops accepting until one
    /// closes (new ones wait in the listen backlog). 0: derived from the file-descriptor limit.
    #[garde(range(max = 1_000_000))]
    pub max_connections: usize,
    /// Most requests in progress at once; beyond, 503 at once (0: no bound).
    #[garde(range(max = 1_000_000))]
    pub max_requests_in_flight: usize,
    /// Proxies (addresses or CIDR blocks) whose `Forwarded` / `X-Forwarded-For` name the client;
    /// empty: the socket peer is the client (authz-http's `client_ip`).
    #[garde(custom(super::validators::trusted_proxies))]
    #[serde(default)]
    pub trusted_proxies: Vec<String>,
}

/// The one normalisation of `server.public_base_url`: the URL in its RFC 3986 §6.2.2 normal form
/// (lower-case scheme and host, no default port), without a trailing `/`, so that the issuer
/// compares exactly (RFC 8414 §3.3) and `{issuer}/token` never holds `//`.
/// `http://127.0.0.1:8080/` → `http://127.0.0.1:8080`; `https://Auth.example.com:443/tenant/` →
/// `https://auth.example.com/tenant`. A value that does not parse is kept as it is, for the
/// validator to report.
pub fn normalise_base_url(raw: &str) -> String {
    let Ok(url) = url::Url::parse(raw.trim()) else {
        return raw.to_owned();
    };
    if url.query().is_some() || url.fragment().is_some() || url.cannot_be_a_base() {
        return url.to_string();
    }
    url.as_str().trim_end_matches('/').to_owned()
}

fn normalised_base_url<'de, D: serde::Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    String::deserialize(d).map(|raw| normalise_base_url(&raw))
}

#[cfg(test)]
mod tests {
    use super::normalise_base_url;

    #[test]
    fn the_base_url_loses_its_trailing_slash_and_takes_its_normal_form() {
        for (raw, normal) in [
            ("http://127.0.0.1:8080/", "http://127.0.0.1:8080"),
            ("http://127.0.0.1:8080", "http://127.0.0.1:8080"),
            (
                "https://auth.example.com/tenant/",
                "https://auth.example.com/tenant",
            ),
            (
                "https://auth.example.com/tenant//",
                "https://auth.example.com/tenant",
            ),
            ("HTTPS://Auth.Example.COM:443/", "https://auth.example.com"),
            ("http://localhost:80/a/b", "http://localhost/a/b"),
            (" https://auth.example.com/ ", "https://auth.example.com"),
        ] {
            assert_eq!(normalise_base_url(raw), normal, "{raw}");
        }
        // Left for the validator to refuse, as sent.
        assert_eq!(normalise_base_url("not a url/"), "not a url/");
        assert_eq!(
            normalise_base_url("https://a.example/?q=1"),
            "https://a.example/?q=1"
        );
    }
}
