//! Authentication behind a port: the local password check today, an upstream OpenID provider
//! later (authorization contract §3).

use std::fmt::{self, Debug};
use std::sync::Arc;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use secrecy::{ExposeSecret, SecretString};

use super::error::SignInError;
use super::ports::UserRepository;
use super::user::AuthenticatedUser;
use super::values::{PasswordPolicy, Username};
use crate::credentials::{CredentialError, RandomSource, SecretHasher};

/// Checks a username and a password and says whose they are.
///
/// Implementations must answer [`SignInError::InvalidCredentials`] alike for an unknown user, a
/// wrong password and a disabled account, after the same amount of work.
pub trait Authenticator: Send + Sync + Debug {
    /// The user `username` and `password` belong to.
    ///
    /// # Errors
    /// [`SignInError::InvalidCredentials`] for every refusal; the other variants when storage
    /// or hashing failed.
    fn authenticate(
        &self,
        username: &str,
        password: &SecretString,
    ) -> Result<AuthenticatedUser, SignInError>;
}

/// Local accounts: Argon2id password hashes in a [`UserRepository`].
///
/// When no usable account matches (unknown or unparsable username), the password is verified
/// against a dummy Argon2id hash computed once, at construction, with the same hasher and
/// parameters as real passwords, so the answer costs one Argon2id verification in every case.
/// A disabled account's password is verified too before it is refused.
#[derive(Clone)]
pub struct LocalAuthenticator {
    users: Arc<dyn UserRepository>,
    hasher: SecretHasher,
    policy: PasswordPolicy,
    dummy_hash: String,
}

impl Debug for LocalAuthenticator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LocalAuthenticator")
            .field("users", &self.users)
            .field("hasher", &self.hasher)
            .field("policy", &self.policy)
            .finish_non_exhaustive()
    }
}

impl LocalAuthenticator {
    /// An authenticator over `users`. Passwords longer than `policy.max_chars` never match
    /// (and cost the same as any other refusal).
    ///
    /// # Errors
    /// When the random source or Argon2 fails while computing the dummy hash.
    pub fn new(
        users: Arc<dyn UserRepository>,
        hasher: SecretHasher,
        rng: &dyn RandomSource,
        policy: PasswordPolicy,
    ) -> Result<Self, CredentialError> {
        let mut bytes = [0u8; 32];
        rng.fill(&mut bytes)?;
        let dummy = SecretString::from(URL_SAFE_NO_PAD.encode(bytes));
        let dummy_hash = hasher.hash(&dummy, rng)?;
        Ok(Self {
            users,
            hasher,
            policy,
            dummy_hash,
        })
    }

    /// The dummy PHC string verified when no account matches.
    #[cfg(test)]
    pub(crate) fn dummy_hash(&self) -> &str {
        &self.dummy_hash
    }
}

impl Authenticator for LocalAuthenticator {
    fn authenticate(
        &self,
        username: &str,
        password: &SecretString,
    ) -> Result<AuthenticatedUser, SignInError> {
        let password = password.expose_secret();
        let acceptable = password.chars().count() <= self.policy.max_chars;
        let user = match Username::parse(username) {
            Ok(name) => self.users.find_by_username(&name)?,
            Err(_) => None,
        };
        match user {
            Some(user) if acceptable => {
                let matches = self.hasher.verify(password, &user.password_hash);
                if matches && !user.is_disabled {
                    Ok(AuthenticatedUser::from(&user))
                } else {
                    Err(SignInError::InvalidCredentials)
                }
            }
            _ => {
                // Same work as a real check; an over-long password is not hashed in full.
                let attempt = if acceptable { password } else { "" };
                let _ = self.hasher.verify(attempt, &self.dummy_hash);
                Err(SignInError::InvalidCredentials)
            }
        }
    }
}
