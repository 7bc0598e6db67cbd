//! `[users]`: local user accounts: the rules for new passwords and the lifetimes of sign-in
//! sessions.

use authz_domain::users::{PasswordPolicy, SessionPolicy};
use garde::Validate;
use serde::{Deserialize, Serialize};

/// The longest password limit accepted, in characters: long enough for any passphrase or
/// password manager, short enough that hashing stays cheap.
const MAX_PASSWORD_LIMIT: usize = 4096;

/// `[users]`.
#[derive(Debug, Deserialize, Serialize, Validate)]
#[serde(deny_unknown_fields)]
pub struct UsersSettings {
    /// Fewest characters of a new password (Unicode scalar values).
    #[garde(range(min = 1, max = 4096))]
    pub password_min_chars: usize,
    /// Most characters of a new password; longer ones never sign in either.
    #[garde(range(min = 8, max = 4096))]
    pub password_max_chars: usize,
    /// A session unused this long ends, in seconds.
    #[garde(range(min = 60, max = 2_592_000))]
    pub session_idle_lifetime_secs: i64,
    /// A session ends this long after sign-in, however busy, in seconds.
    #[garde(range(min = 60, max = 31_622_400))]
    pub session_absolute_lifetime_secs: i64,
}

impl UsersSettings {
    /// The rules for new passwords.
    pub fn password_policy(&self) -> PasswordPolicy {
        PasswordPolicy {
            min_chars: self.password_min_chars,
            max_chars: self.password_max_chars.min(MAX_PASSWORD_LIMIT),
        }
    }

    /// The session lifetimes (the touch interval keeps the domain's default).
    pub fn session_policy(&self) -> SessionPolicy {
        SessionPolicy {
            idle_lifetime_secs: self.session_idle_lifetime_secs,
            absolute_lifetime_secs: self.session_absolute_lifetime_secs,
            ..SessionPolicy::default()
        }
    }

    /// Problems across keys, each as `key = value: what is expected`.
    pub(super) fn problems(&self) -> Vec<String> {
        let mut problems = Vec::new();
        if self.password_min_chars > self.password_max_chars {
            problems.push(format!(
                "users.password_min_chars = {}: must not exceed users.password_max_chars ({})",
                self.password_min_chars, self.password_max_chars
            ));
        }
        if self.session_idle_lifetime_secs > self.session_absolute_lifetime_secs {
            problems.push(format!(
                "users.session_idle_lifetime_secs = {}: must not exceed users.session_absolute_lifetime_secs ({})",
                self.session_idle_lifetime_secs, self.session_absolute_lifetime_secs
            ));
        }
        problems
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::settings::{Settings, Sources};

    #[test]
    fn the_shipped_defaults_are_the_domain_defaults() {
        let settings = Settings::load(&Sources::default()).expect("the embedded defaults load");
        assert_eq!(settings.users.password_policy(), PasswordPolicy::default());
        assert_eq!(settings.users.session_policy(), SessionPolicy::default());
    }

    #[test]
    fn crossed_limits_are_named() {
        let settings = UsersSettings {
            password_min_chars: 64,
            password_max_chars: 32,
            session_idle_lifetime_secs: 7200,
            session_absolute_lifetime_secs: 3600,
        };
        let problems = settings.problems();
        assert_eq!(problems.len(), 2, "{problems:?}");
        assert!(problems[0].starts_with("users.password_min_chars = 64: "));
        assert!(problems[1].starts_with("users.session_idle_lifetime_secs = 7200: "));
    }
}
