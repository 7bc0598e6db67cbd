//! `[registration]`: open registration policy and software statements.

use authz_domain::credentials::MIN_SECRET_BYTES;
use secrecy::SecretString;

use garde::Validate;
use serde::{Deserialize, Serialize};

use super::validators::*;

/// `[registration]`.
#[derive(Debug, Deserialize, Serialize, Validate)]
#[serde(deny_unknown_fields)]
pub struct RegistrationSettings {
    /// `false`: `/register` answers 404.
    #[garde(skip)]
    pub enabled: bool,
    /// MCP authorization profile.
    #[garde(skip)]
    pub mcp_profile: bool,
    /// Safe substitution (RFC 7591 §3.2.1): register the nearest supported values instead of
    /// refusing a request whose intent survives; `false` refuses every such request.
    #[garde(skip)]
    pub substitution: bool,
    /// Grant types clients may register.
    #[garde(length(min = 1), inner(custom(grant_type)))]
    pub allowed_grant_types: Vec<String>,
    /// Token endpoint auth methods clients may register.
    #[garde(length(min = 1), inner(custom(auth_method)))]
    pub allowed_auth_methods: Vec<String>,
    /// Private-use redirect URI schemes for native apps.
    #[garde(skip)]
    pub allow_private_use_schemes: bool,
    /// Plain http redirect URIs on non-loopback hosts.
    #[garde(skip)]
    pub allow_http_non_loopback: bool,
    /// Scope registered when a client asks for none.
    #[garde(custom(scope_string))]
    pub default_scope: String,
    /// The only scope tokens clients may register; empty means any.
    #[garde(inner(custom(scope_token)))]
    pub allowed_scopes: Vec<String>,
    /// Random bytes in a client secret.
    #[garde(range(min = MIN_SECRET_BYTES, max = 512))]
    pub secret_bytes: usize,
    /// Client secret lifetime; 0 never expires.
    #[garde(skip)]
    pub secret_lifetime_secs: u64,
    /// Registration access token lifetime; 0 never expires.
    #[garde(skip)]
    pub registration_token_lifetime_secs: u64,
    /// Rotate the registration access token on update.
    #[garde(skip)]
    pub rotate_registration_token_on_update: bool,
    /// Rotate the registration access token on read.
    #[garde(skip)]
    pub rotate_registration_token_on_read: bool,
    /// `[registration.software_statement]`.
    #[garde(dive)]
    pub software_statement: SoftwareStatementSettings,
    /// `"open"`, or `"initial_access_token"`: only holders of an initial access token register.
    #[garde(custom(super::registration_trust::registration_mode))]
    pub mode: String,
    /// Fewest seconds between two writes of one client's `last_used_at` (1 to 86,400).
    #[garde(range(min = 1, max = 86_400))]
    pub last_used_interval_secs: u64,
    /// `[registration.idempotency]`.
    #[garde(dive)]
    pub idempotency: super::registration_trust::IdempotencySettings,
    /// `[registration.expiry]`.
    #[garde(dive)]
    pub expiry: super::registration_trust::ExpirySettings,
}

/// `[registration.software_statement]`.
#[derive(Debug, Deserialize, Serialize, Validate)]
#[serde(deny_unknown_fields)]
pub struct SoftwareStatementSettings {
    /// Refuse registrations without a statement.
    #[garde(skip)]
    pub required: bool,
    /// Issuers whose statements are accepted.
    #[garde(dive)]
    pub trusted_issuers: Vec<TrustedIssuerSettings>,
}

/// One `[[registration.software_statement.trusted_issuers]]`.
#[derive(Debug, Deserialize, Serialize, Validate)]
#[serde(deny_unknown_fields)]
pub struct TrustedIssuerSettings {
    /// The `iss` its statements carry.
    #[garde(length(min = 1))]
    pub issuer: String,
    /// `RS256`, `RS384`, `RS512`, `PS256`, `PS384`, `PS512`, `ES256`, `ES384`, `EdDSA`, `HS256`, `HS384`, `HS512`.
    #[garde(custom(jwt_algorithm))]
    pub algorithm: String,
    /// PEM public key, for the asymmetric algorithms.
    #[serde(default)]
    #[garde(skip)]
    pub public_key_pem: Option<String>,
    /// Shared secret, for the HS algorithms.
    #[serde(default, skip_serializing)]
    #[garde(skip)]
    pub hmac_secret: Option<SecretString>,
}
