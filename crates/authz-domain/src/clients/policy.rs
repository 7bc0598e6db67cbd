//! [`RegistrationPolicy`]: every knob of registration, built in code by an embedder or from
//! configuration by the server.

use crate::clients::RedirectUriPolicy;
use crate::clients::SoftwareStatementPolicy;
use crate::credentials::{Argon2Settings, MIN_SECRET_BYTES};
use crate::values::{GrantType, Scope, TokenEndpointAuthMethod};

/// Lifetimes and rotation of the credentials issued at registration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CredentialPolicy {
    /// Random bytes in a client secret; never below 32 (256 bits).
    pub secret_bytes: usize,
    /// Seconds a client secret stays valid; `0` means it never expires
    /// (`client_secret_expires_at` is then `0`).
    pub secret_lifetime_secs: u64,
    /// Seconds a registration access token stays valid; `0` means no expiry.
    pub registration_token_lifetime_secs: u64,
    /// Issue a new registration access token on every successful update (RFC 7592 §2.2 allows it).
    pub rotate_registration_token_on_update: bool,
    /// Issue a new registration access token on every successful read.
    pub rotate_registration_token_on_read: bool,
    /// Argon2id cost for client secrets.
    pub argon2: Argon2Settings,
}

impl Default for CredentialPolicy {
    fn default() -> Self {
        Self {
            secret_bytes: MIN_SECRET_BYTES,
            secret_lifetime_secs: 0,
            registration_token_lifetime_secs: 90 * 24 * 3600,
            rotate_registration_token_on_update: true,
            rotate_registration_token_on_read: false,
            argon2: Argon2Settings::default(),
        }
    }
}

/// What open registration accepts. [`Default`] is the MCP authorization profile.
///
/// ```
/// use authz_domain::client_registration::{GrantType, RegistrationPolicy, Scope};
/// let policy = RegistrationPolicy {
///     allowed_scopes: Some(vec!["mcp:tools".into(), "mcp:resources".into()]),
///     default_scope: Scope::parse("mcp:tools").unwrap(),
///     ..RegistrationPolicy::default()
/// };
/// policy.validate().unwrap();
/// assert!(policy.allowed_grant_types.contains(&GrantType::RefreshToken));
/// ```
#[derive(Debug, Clone)]
pub struct RegistrationPolicy {
    /// MCP profile: `grant_types` must hold both `authorization_code` and `refresh_token`
    /// (and is defaulted to them).
    pub mcp_profile: bool,
    /// Grant types a client may register. `implicit` and `password` do not exist here.
    pub allowed_grant_types: Vec<GrantType>,
    /// Token endpoint authentication methods a client may register.
    pub allowed_auth_methods: Vec<TokenEndpointAuthMethod>,
    /// Redirect URI rules.
    pub redirect_uris: RedirectUriPolicy,
    /// The longest `client_name` (in characters).
    pub max_client_name_chars: usize,
    /// The most `contacts`.
    pub max_contacts: usize,
    /// The most space-separated tokens in `scope`.
    pub max_scopes: usize,
    /// The largest `jwks`, in bytes of compact JSON.
    pub max_jwks_bytes: usize,
    /// The longest free-text value such as `software_id` (in characters).
    pub max_text_chars: usize,
    /// The most language-tagged variants (`client_name#fr`, …) one client may register.
    pub max_localized_values: usize,
    /// Registered when the client asks for no scope.
    pub default_scope: Option<Scope>,
    /// When set, the only scope tokens a client may register.
    pub allowed_scopes: Option<Vec<String>>,
    /// Software statements (RFC 7591 §2.3).
    pub software_statements: SoftwareStatementPolicy,
    /// Credential lifetimes and rotation.
    pub credentials: CredentialPolicy,
    /// Safe substitution (RFC 7591 §3.2.1): register the nearest supported values instead of
    /// refusing when the client's intent survives (a missing `refresh_token` added, unsupported
    /// extra grants and unknown scope tokens dropped, an auth method the policy does not allow
    /// replaced). `false`: every such request is refused.
    pub substitution: bool,
}

impl Default for RegistrationPolicy {
    fn default() -> Self {
        Self {
            mcp_profile: true,
            allowed_grant_types: vec![GrantType::AuthorizationCode, GrantType::RefreshToken],
            allowed_auth_methods: TokenEndpointAuthMethod::ALL.to_vec(),
            redirect_uris: RedirectUriPolicy::default(),
            max_client_name_chars: 200,
            max_contacts: 10,
            max_scopes: 50,
            max_jwks_bytes: 16_384,
            max_text_chars: 255,
            max_localized_values: 32,
            default_scope: None,
            allowed_scopes: None,
            software_statements: SoftwareStatementPolicy::default(),
            credentials: CredentialPolicy::default(),
            substitution: true,
        }
    }
}

/// A policy that cannot work, with the knob at fault named.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct PolicyError(pub String);

impl RegistrationPolicy {
    /// Checks that the knobs agree with each other.
    pub fn validate(&self) -> Result<(), PolicyError> {
        let fail = |msg: String| Err(PolicyError(msg));
        if self.allowed_grant_types.is_empty() {
            return fail("allowed_grant_types: must not be empty".into());
        }
        if self.mcp_profile
            && !(self
                .allowed_grant_types
                .contains(&GrantType::AuthorizationCode)
                && self.allowed_grant_types.contains(&GrantType::RefreshToken))
        {
            return fail(
                "allowed_grant_types: the MCP profile needs both authorization_code and refresh_token"
                    .into(),
            );
        }
        if self.allowed_auth_methods.is_empty() {
            return fail("allowed_auth_methods: must not be empty".into());
        }
        if self.credentials.secret_bytes < MIN_SECRET_BYTES {
            return fail(format!(
                "secret_bytes: {} is below the minimum of {MIN_SECRET_BYTES} (256 bits)",
                self.credentials.secret_bytes
            ));
        }
        if self.redirect_uris.max_uris == 0 || self.redirect_uris.max_uri_length < 16 {
            return fail(
                "redirect uri limits: max_uris must be at least 1 and max_uri_length at least 16"
                    .into(),
            );
        }
        if let (Some(default), Some(allowed)) = (&self.default_scope, &self.allowed_scopes) {
            if let Some(token) = default.tokens().find(|t| !allowed.iter().any(|a| a == t)) {
                return fail(format!(
                    "default_scope: {token:?} is not one of allowed_scopes"
                ));
            }
        }
        if let Some(allowed) = &self.allowed_scopes {
            for token in allowed {
                if Scope::parse(token)
                    .ok()
                    .flatten()
                    .map(|s| s.as_str() == token)
                    != Some(true)
                {
                    return fail(format!(
                        "allowed_scopes: {token:?} is not a single scope token"
                    ));
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_policy_is_valid() {
        RegistrationPolicy::default().validate().expect("valid");
    }

    #[test]
    fn a_secret_below_256_bits_is_refused() {
        let mut policy = RegistrationPolicy::default();
        policy.credentials.secret_bytes = 16;
        assert!(policy
            .validate()
            .expect_err("refused")
            .0
            .contains("secret_bytes"));
    }

    #[test]
    fn mcp_profile_needs_both_grants_allowed() {
        let policy = RegistrationPolicy {
            allowed_grant_types: vec![GrantType::AuthorizationCode],
            ..RegistrationPolicy::default()
        };
        assert!(policy.validate().is_err());
    }

    #[test]
    fn default_scope_must_be_allowed() {
        let policy = RegistrationPolicy {
            allowed_scopes: Some(vec!["a".into()]),
            default_scope: Scope::parse("a b").expect("ok"),
            ..RegistrationPolicy::default()
        };
        assert!(policy.validate().expect_err("refused").0.contains("\"b\""));
    }
}
