//! Errors of the user, session and consent use cases.

use crate::client_registration::RepositoryError;
use crate::credentials::CredentialError;

/// The one message for every refused sign-in (authorization contract §3: "wrong password and
/// unknown user get the same message").
pub const INVALID_CREDENTIALS_MESSAGE: &str = "the username or the password is wrong";

/// Why a user operation was refused or failed.
#[derive(Debug, thiserror::Error)]
pub enum UserError {
    /// The username is empty, too long, or holds a forbidden character.
    #[error("{0}")]
    InvalidUsername(String),
    /// The display name is too long or holds a forbidden character.
    #[error("{0}")]
    InvalidDisplayName(String),
    /// The new password does not satisfy the [`PasswordPolicy`](super::PasswordPolicy).
    #[error("{0}")]
    InvalidPassword(String),
    /// Another account has the same username after case folding.
    #[error("the username {0:?} is taken")]
    UsernameTaken(String),
    /// No user has this id.
    #[error("no user {0}")]
    NotFound(String),
    /// A listing parameter is out of range.
    #[error("{0}")]
    InvalidQuery(String),
    /// Storage failed; nothing was changed.
    #[error(transparent)]
    Repository(#[from] RepositoryError),
    /// Randomness or hashing failed; nothing was changed.
    #[error(transparent)]
    Credential(#[from] CredentialError),
}

impl UserError {
    /// Whether the caller is at fault (a 4xx), as opposed to the server (a 5xx).
    pub fn is_client_error(&self) -> bool {
        !matches!(self, Self::Repository(_) | Self::Credential(_))
    }
}

/// Why a sign-in failed. An unknown username, a wrong password and a disabled account are all
/// [`SignInError::InvalidCredentials`]: the caller cannot tell them apart, by answer or by time.
#[derive(Debug, thiserror::Error)]
pub enum SignInError {
    /// Unknown user, wrong password or disabled account ([`INVALID_CREDENTIALS_MESSAGE`]).
    #[error("{}", INVALID_CREDENTIALS_MESSAGE)]
    InvalidCredentials,
    /// Too many recent failures for this account or this client address: the password was not
    /// checked. The same for every account name, existing or not.
    #[error("too many failed sign-ins; try again in {retry_after_secs} s")]
    Throttled {
        /// Seconds until an attempt is allowed again.
        retry_after_secs: u64,
        /// Whether this is a lock (rather than a short slow-down).
        locked: bool,
    },
    /// Storage failed.
    #[error(transparent)]
    Repository(#[from] RepositoryError),
    /// Randomness or hashing failed.
    #[error(transparent)]
    Credential(#[from] CredentialError),
}
