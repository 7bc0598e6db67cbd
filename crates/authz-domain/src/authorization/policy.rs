//! [`AuthorizationPolicy`]: the knobs of the authorization endpoint (configuration section
//! `authorization`), and [`ScopeSet`], a granted or requested scope as a set.

use std::collections::BTreeSet;
use std::fmt;

use serde::{Deserialize, Serialize};

use super::resource::ResourceIndicator;
use crate::client_registration::{PolicyError, Scope};

/// One scope the server offers, with the sentence the consent page shows for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScopeDefinition {
    /// The scope token (RFC 6749 §3.3).
    pub name: String,
    /// What granting it allows, in words for the user.
    pub description: String,
}

/// What the authorization endpoint accepts, and how long its state lives.
///
/// ```
/// use authz_domain::authorization::{AuthorizationPolicy, ResourceIndicator, ScopeDefinition};
/// use authz_domain::client_registration::Scope;
/// let policy = AuthorizationPolicy {
///     scopes: Some(vec![ScopeDefinition { name: "mcp:tools".into(), description: "Use your tools".into() }]),
///     default_scope: Scope::parse("mcp:tools").unwrap(),
///     resources: Some(vec![ResourceIndicator::parse("https://mcp.example.com/mcp").unwrap()]),
///     default_resource: Some(ResourceIndicator::parse("https://mcp.example.com/mcp").unwrap()),
///     ..AuthorizationPolicy::default()
/// };
/// policy.validate().unwrap();
/// assert_eq!(policy.scope_description("mcp:tools"), Some("Use your tools"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthorizationPolicy {
    /// The scopes offered (`scopes_supported` in metadata), with their descriptions. `None`: any
    /// well-formed scope token is accepted (still limited by the client's registered scope).
    pub scopes: Option<Vec<ScopeDefinition>>,
    /// The scope granted when the request has none and the client registered none.
    pub default_scope: Option<Scope>,
    /// `authorization.resources`: when set, the only resources tokens may be issued for
    /// (canonical forms). `None`: any absolute URI without a fragment.
    pub resources: Option<Vec<ResourceIndicator>>,
    /// The resource a request without `resource` is for; `None`: no resource (the token's
    /// audience is then the issuer, contract §6).
    pub default_resource: Option<ResourceIndicator>,
    /// The longest `state` accepted, in bytes. A longer one is `invalid_request` (and is not
    /// echoed). Default 2048.
    pub max_state_bytes: usize,
    /// `authorization.request_lifetime_secs`: how long a pending request waits for sign-in and
    /// consent, in seconds. Default 600.
    pub request_lifetime_secs: u64,
    /// `authorization.code_lifetime_secs`: how long an authorization code may be exchanged, in
    /// seconds. Default 60.
    pub code_lifetime_secs: u64,
}

impl Default for AuthorizationPolicy {
    fn default() -> Self {
        Self {
            scopes: None,
            default_scope: None,
            resources: None,
            default_resource: None,
            max_state_bytes: 2048,
            request_lifetime_secs: 600,
            code_lifetime_secs: 60,
        }
    }
}

impl AuthorizationPolicy {
    /// Checks that the knobs agree: the default scope is among the offered scopes, the default
    /// resource is in the allow-list, lifetimes and the state limit are positive. The error names
    /// the knob.
    pub fn validate(&self) -> Result<(), PolicyError> {
        let fail = |msg: String| Err(PolicyError(msg));
        if let (Some(default), Some(_)) = (&self.default_scope, &self.scopes) {
            if let Some(bad) = default.tokens().find(|t| !self.allows_scope(t)) {
                return fail(format!(
                    "authorization.default_scope: {bad} is not one of authorization.scopes"
                ));
            }
        }
        if let Some(default) = &self.default_resource {
            if !self.allows_resource(default) {
                return fail(format!(
                    "authorization.default_resource: {default} is not one of authorization.resources"
                ));
            }
        }
        if self.max_state_bytes == 0 {
            return fail("authorization.max_state_bytes: must be at least 1".into());
        }
        if self.request_lifetime_secs == 0 {
            return fail("authorization.request_lifetime_secs: must be at least 1".into());
        }
        if self.code_lifetime_secs == 0 {
            return fail("authorization.code_lifetime_secs: must be at least 1".into());
        }
        Ok(())
    }

    /// Whether the scope token `name` is offered.
    pub fn allows_scope(&self, name: &str) -> bool {
        self.scopes
            .as_ref()
            .is_none_or(|s| s.iter().any(|d| d.name == name))
    }

    /// The consent page's sentence for a scope token, when configured.
    pub fn scope_description(&self, name: &str) -> Option<&str> {
        self.scopes
            .as_ref()?
            .iter()
            .find(|d| d.name == name)
            .map(|d| d.description.as_str())
    }

    /// Whether tokens may be issued for `resource` (compared in canonical form).
    pub fn allows_resource(&self, resource: &ResourceIndicator) -> bool {
        self.resources
            .as_ref()
            .is_none_or(|list| list.contains(resource))
    }
}

/// A scope as a set of tokens: order and duplicates do not matter. Displayed (and stored) as the
/// tokens in sorted order separated by single spaces; empty means no scope.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(from = "String", into = "String")]
pub struct ScopeSet(BTreeSet<String>);

impl ScopeSet {
    /// The empty set.
    pub fn empty() -> Self {
        Self::default()
    }

    /// Whether no scope token is in the set.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Whether `token` is in the set.
    pub fn contains(&self, token: &str) -> bool {
        self.0.contains(token)
    }

    /// Whether every token of `self` is in `other`.
    pub fn is_subset(&self, other: &Self) -> bool {
        self.0.is_subset(&other.0)
    }

    /// The tokens, sorted.
    pub fn tokens(&self) -> impl Iterator<Item = &str> {
        self.0.iter().map(String::as_str)
    }

    /// The set as an OAuth scope string (sorted tokens, single spaces; empty for no scope).
    pub fn to_scope_string(&self) -> String {
        self.tokens().collect::<Vec<_>>().join(" ")
    }
}

impl From<&Scope> for ScopeSet {
    fn from(scope: &Scope) -> Self {
        Self(scope.tokens().map(str::to_owned).collect())
    }
}

impl From<String> for ScopeSet {
    /// Reads a stored scope string (tokens separated by spaces; empty for none).
    fn from(value: String) -> Self {
        Self(
            value
                .split(' ')
                .filter(|t| !t.is_empty())
                .map(str::to_owned)
                .collect(),
        )
    }
}

impl From<ScopeSet> for String {
    fn from(value: ScopeSet) -> Self {
        value.to_scope_string()
    }
}

impl FromIterator<String> for ScopeSet {
    fn from_iter<I: IntoIterator<Item = String>>(iter: I) -> Self {
        Self(iter.into_iter().collect())
    }
}

impl fmt::Display for ScopeSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_scope_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_policy_is_valid_with_the_contract_lifetimes() {
        let policy = AuthorizationPolicy::default();
        policy.validate().expect("valid");
        assert_eq!(policy.request_lifetime_secs, 600);
        assert_eq!(policy.code_lifetime_secs, 60);
    }

    #[test]
    fn a_default_scope_outside_the_offered_scopes_is_refused() {
        let policy = AuthorizationPolicy {
            scopes: Some(vec![ScopeDefinition {
                name: "read".into(),
                description: "Read".into(),
            }]),
            default_scope: Scope::parse("write").expect("scope"),
            ..AuthorizationPolicy::default()
        };
        let err = policy.validate().expect_err("refused");
        assert!(err.0.starts_with("authorization.default_scope"), "{err}");
    }

    #[test]
    fn a_default_resource_outside_the_allow_list_is_refused() {
        let policy = AuthorizationPolicy {
            resources: Some(vec![
                ResourceIndicator::parse("https://a.example/mcp").expect("resource")
            ]),
            default_resource: Some(ResourceIndicator::parse("https://b.example/mcp").expect("r")),
            ..AuthorizationPolicy::default()
        };
        assert!(policy.validate().is_err());
    }

    #[test]
    fn scope_sets_ignore_order_and_duplicates() {
        let a = ScopeSet::from(&Scope::parse("b a b").expect("ok").expect("some"));
        let b = ScopeSet::from("a b".to_owned());
        assert_eq!(a, b);
        assert_eq!(a.to_scope_string(), "a b");
        assert!(ScopeSet::from(String::new()).is_empty());
    }
}
