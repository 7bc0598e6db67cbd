//! Remembered consents (authorization contract §3): what a user allowed a client, per scope set
//! and resource set.

use std::collections::BTreeSet;

use super::values::UserId;
use crate::client_registration::{RepositoryError, Scope};

/// A consent a user gave a client: every scope token and every resource (RFC 8707 resource
/// indicator) in it was allowed together at `granted_at`.
///
/// Scope tokens and resources are kept as sorted sets, so the order of a request never matters
/// and equal grants are stored once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsentRecord {
    /// Who allowed.
    pub user_id: UserId,
    /// Which client.
    pub client_id: String,
    /// The allowed scope tokens (RFC 6749 §3.3), sorted, without duplicates.
    pub scope: BTreeSet<String>,
    /// The allowed resources (absolute URIs, RFC 8707 §2), sorted, without duplicates.
    pub resources: BTreeSet<String>,
    /// When (Unix seconds).
    pub granted_at: i64,
}

/// The scope tokens of an optional [`Scope`] as a set (empty when no scope was requested).
pub fn scope_set(scope: Option<&Scope>) -> BTreeSet<String> {
    scope
        .map(|s| s.tokens().map(str::to_owned).collect())
        .unwrap_or_default()
}

impl ConsentRecord {
    /// Whether this record covers a request for `scope` and `resources`: same user and client
    /// (the caller's lookup), and both requested sets are subsets of the granted ones.
    ///
    /// ```
    /// use std::collections::BTreeSet;
    /// use authz_domain::users::{ConsentRecord, UserId};
    /// let set = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<BTreeSet<_>>();
    /// let granted = ConsentRecord {
    ///     user_id: UserId::from_stored("u"),
    ///     client_id: "c".into(),
    ///     scope: set(&["read", "write"]),
    ///     resources: set(&["https://api.example.com/"]),
    ///     granted_at: 0,
    /// };
    /// assert!(granted.covers(&set(&["read"]), &set(&["https://api.example.com/"])));
    /// assert!(!granted.covers(&set(&["admin"]), &set(&[])));
    /// ```
    pub fn covers(&self, scope: &BTreeSet<String>, resources: &BTreeSet<String>) -> bool {
        scope.is_subset(&self.scope) && resources.is_subset(&self.resources)
    }

    /// The scope in stored form: the tokens, sorted, separated by single spaces (scope tokens
    /// never contain a space); empty for no scope.
    pub fn scope_text(&self) -> String {
        join_set(&self.scope, " ")
    }

    /// The resources in stored form: a JSON array of strings, sorted.
    pub fn resources_text(&self) -> String {
        serde_json::Value::from(self.resources.iter().cloned().collect::<Vec<_>>()).to_string()
    }

    /// Rebuilds the sets from [`scope_text`](Self::scope_text) and
    /// [`resources_text`](Self::resources_text).
    ///
    /// # Errors
    /// [`RepositoryError::Other`] when the stored resources are not a JSON array of strings.
    pub fn parse_stored(
        scope: &str,
        resources: &str,
    ) -> Result<(BTreeSet<String>, BTreeSet<String>), RepositoryError> {
        let scope = scope
            .split(' ')
            .filter(|t| !t.is_empty())
            .map(str::to_owned)
            .collect();
        let resources: Vec<String> = serde_json::from_str(resources).map_err(|e| {
            RepositoryError::Other(format!("stored consent resources are unreadable: {e}"))
        })?;
        Ok((scope, resources.into_iter().collect()))
    }
}

fn join_set(set: &BTreeSet<String>, sep: &str) -> String {
    set.iter().map(String::as_str).collect::<Vec<_>>().join(sep)
}
