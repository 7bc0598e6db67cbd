//! The stored user account and what a successful authentication yields.

use super::error::UserError;
use super::values::{UserId, Username};

/// A local user account (authorization contract §3).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    /// Stable opaque id; the `sub` of the user's tokens.
    pub id: UserId,
    /// The sign-in name; unique by its case-folded [`Username::key`].
    pub username: Username,
    /// A name to show instead of the username, if any.
    pub display_name: Option<String>,
    /// Argon2id PHC string of the password (never the password).
    pub password_hash: String,
    /// A disabled user cannot sign in and has no sessions.
    pub is_disabled: bool,
    /// When the account was created (Unix seconds).
    pub created_at: i64,
    /// When the account last changed (Unix seconds).
    pub updated_at: i64,
    /// When the password was last set (Unix seconds).
    pub password_changed_at: i64,
}

/// Who an [`Authenticator`](super::Authenticator) vouched for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthenticatedUser {
    /// The local user id (the `sub`).
    pub user_id: UserId,
    /// The username.
    pub username: Username,
    /// The display name, if any.
    pub display_name: Option<String>,
}

impl From<&User> for AuthenticatedUser {
    fn from(user: &User) -> Self {
        Self {
            user_id: user.id.clone(),
            username: user.username.clone(),
            display_name: user.display_name.clone(),
        }
    }
}

/// The most users on one page.
pub const MAX_USERS_PER_PAGE: u64 = 100;

/// One page of the user listing, ordered by [`Username::key`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UserQuery {
    /// Page number, from 1.
    pub page: u64,
    /// Page size, 1 to [`MAX_USERS_PER_PAGE`].
    pub per_page: u64,
}

impl UserQuery {
    /// A checked query.
    ///
    /// # Errors
    /// [`UserError::InvalidQuery`] when `page` is 0 or above a million, or `per_page` is outside
    /// 1..=[`MAX_USERS_PER_PAGE`].
    pub fn new(page: u64, per_page: u64) -> Result<Self, UserError> {
        if !(1..=1_000_000).contains(&page) {
            return Err(UserError::InvalidQuery(format!(
                "page {page}: pages are numbered from 1 to 1000000"
            )));
        }
        if !(1..=MAX_USERS_PER_PAGE).contains(&per_page) {
            return Err(UserError::InvalidQuery(format!(
                "per_page {per_page}: from 1 to {MAX_USERS_PER_PAGE}"
            )));
        }
        Ok(Self { page, per_page })
    }

    /// How many users come before this page.
    pub fn offset(&self) -> u64 {
        (self.page - 1).saturating_mul(self.per_page)
    }
}

impl Default for UserQuery {
    fn default() -> Self {
        Self {
            page: 1,
            per_page: 20,
        }
    }
}

/// A page of users with the number of all users.
#[derive(Debug, Clone)]
pub struct UserPage {
    /// This page's users, by username key.
    pub users: Vec<User>,
    /// How many users exist.
    pub total: u64,
}
