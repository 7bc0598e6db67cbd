//! `[authorization]`: the authorization endpoint — offered scopes with the sentences the consent
//! page shows, resources (MCP servers) tokens may be issued for, and lifetimes.

use garde::Validate;
use serde::{Deserialize, Serialize};

use super::validators::*;

/// `[authorization]`.
#[derive(Debug, Deserialize, Serialize, Validate)]
#[serde(deny_unknown_fields)]
pub struct AuthorizationSettings {
    /// The scopes offered, each with its consent-page description. Empty: any well-formed
    /// scope token (limited by the client's registered scope).
    #[garde(dive)]
    pub scopes: Vec<ScopeSettings>,
    /// Scope granted when neither the request nor the client's registration names one.
    #[garde(custom(scope_string))]
    pub default_scope: String,
    /// The only resources (RFC 8707) tokens may be issued for. Empty: any absolute URI.
    #[garde(skip)]
    pub resources: Vec<String>,
    /// The resource of a request without `resource`; empty: none (the audience is the issuer).
    #[garde(skip)]
    pub default_resource: String,
    /// How long a pending request waits for sign-in and consent, in seconds.
    #[garde(range(min = 30, max = 86_400))]
    pub request_lifetime_secs: u64,
    /// How long an authorization code may be exchanged, in seconds.
    #[garde(range(min = 10, max = 600))]
    pub code_lifetime_secs: u64,
    /// The longest `state` accepted, in bytes.
    #[garde(range(min = 64, max = 8192))]
    pub max_state_bytes: usize,
}

/// One `[[authorization.scopes]]`.
#[derive(Debug, Deserialize, Serialize, Validate)]
#[serde(deny_unknown_fields)]
pub struct ScopeSettings {
    /// The scope token.
    #[garde(custom(scope_token))]
    pub name: String,
    /// What granting it allows, in words for the user.
    #[garde(length(min = 1, max = 500))]
    pub description: String,
}
