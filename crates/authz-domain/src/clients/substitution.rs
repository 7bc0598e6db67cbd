//! Safe substitution (RFC 7591 §3.2.1): the server may register values other than those requested
//! and report them in the response. [`Substitutions`] collects what a parse changed, so that the
//! audit trail can say so; [`RegistrationPolicy::substitution`](crate::clients::RegistrationPolicy)
//! turns the whole behaviour off (every substitutable case is then refused, as before).
//!
//! The rule: substitute when the client's evident intent survives and the response tells it what
//! was registered; refuse when intent cannot survive or the request is unsafe. Which cases are
//! which is decided by the parse functions in `metadata.rs` (`parse_auth_method`,
//! `parse_grant_types`, `parse_response_types`, `parse_scope`), and tabulated in `docs/api.md`.

use std::fmt;

/// One change the server made to a request: the member and what was done, in words
/// (`grant_types: added "refresh_token" (MCP profile)`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Substitution {
    /// The metadata member that was changed.
    pub member: &'static str,
    /// What was changed, quoting the values as sent.
    pub change: String,
}

impl fmt::Display for Substitution {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.member, self.change)
    }
}

/// The substitutions of one parse, and whether any are allowed at all.
#[derive(Debug)]
pub(crate) struct Substitutions {
    enabled: bool,
    made: Vec<Substitution>,
}

impl Substitutions {
    /// A collector; with `enabled = false` every [`Substitutions::make`] refuses.
    pub(crate) fn new(enabled: bool) -> Self {
        Self {
            enabled,
            made: Vec::new(),
        }
    }

    /// Whether substitution is on.
    pub(crate) fn enabled(&self) -> bool {
        self.enabled
    }

    /// Records a substitution of `member` and returns `true`, or returns `false` (substitution
    /// off: the caller refuses instead).
    pub(crate) fn make(&mut self, member: &'static str, change: impl Into<String>) -> bool {
        if self.enabled {
            self.made.push(Substitution {
                member,
                change: change.into(),
            });
        }
        self.enabled
    }

    /// Everything substituted, in the order it happened.
    pub(crate) fn into_vec(self) -> Vec<Substitution> {
        self.made
    }
}

/// The audit detail suffix for `substitutions` (empty when there are none).
pub(crate) fn audit_detail(substitutions: &[Substitution]) -> String {
    if substitutions.is_empty() {
        String::new()
    } else {
        format!(
            "; substituted: {}",
            substitutions
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("; ")
        )
    }
}
