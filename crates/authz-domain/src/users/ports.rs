//! Ports: what the user, session and consent use cases need from storage. `authz-storage`
//! implements them with diesel; [`super::memory::InMemoryUserStore`] implements them for tests.
//!
//! Like [`ClientRepository`](crate::client_registration::ClientRepository), every method is one
//! transaction, and every method that changes something writes its audit event in that same
//! transaction.

use std::fmt::Debug;

use super::consent::ConsentRecord;
use super::session::Session;
use super::user::{User, UserPage, UserQuery};
use super::values::{UserId, Username};
use crate::client_registration::{AuditEvent, RepositoryError};
use crate::credentials::TokenDigest;

/// Storage of user accounts.
pub trait UserRepository: Send + Sync + Debug {
    /// Stores a new user. [`RepositoryError::Conflict`] when another user has the same
    /// [`Username::key`] (or, improbably, the same id); nothing is written then.
    fn create(&self, user: &User, audit: &AuditEvent) -> Result<(), RepositoryError>;

    /// The user with this id.
    fn find(&self, id: &UserId) -> Result<Option<User>, RepositoryError>;

    /// The user whose [`Username::key`] equals `username.key()`.
    fn find_by_username(&self, username: &Username) -> Result<Option<User>, RepositoryError>;

    /// A page of users ordered by username key, with the number of all users.
    fn list(&self, query: &UserQuery) -> Result<UserPage, RepositoryError>;

    /// Disables or enables the user (`updated_at` = `audit.occurred_at`). Disabling also deletes
    /// every session of the user, in the same transaction. [`RepositoryError::NotFound`] if there
    /// is no such user.
    fn set_disabled(
        &self,
        id: &UserId,
        disabled: bool,
        audit: &AuditEvent,
    ) -> Result<(), RepositoryError>;

    /// Replaces the password hash (`updated_at` and `password_changed_at` =
    /// `audit.occurred_at`) and deletes every session of the user, in the same transaction.
    /// [`RepositoryError::NotFound`] if there is no such user.
    fn set_password_hash(
        &self,
        id: &UserId,
        password_hash: &str,
        audit: &AuditEvent,
    ) -> Result<(), RepositoryError>;
}

/// Storage of sessions, by the SHA-256 digest of their cookie value.
pub trait SessionRepository: Send + Sync + Debug {
    /// Stores a new session, first deleting `replacing` (the session the browser held before
    /// signing in) when given. [`RepositoryError::NotFound`] when the user is disabled or gone at
    /// that moment (checked in the same transaction, so a concurrent disable cannot leave a
    /// session behind); nothing is written then.
    fn insert(
        &self,
        session: &Session,
        replacing: Option<&TokenDigest>,
        audit: &AuditEvent,
    ) -> Result<(), RepositoryError>;

    /// The session with this digest (expired or not).
    fn find(&self, digest: &TokenDigest) -> Result<Option<Session>, RepositoryError>;

    /// Records a use: sets `last_seen_at` and `idle_expires_at`. No audit event.
    /// [`RepositoryError::NotFound`] if the session is gone.
    fn touch(
        &self,
        digest: &TokenDigest,
        last_seen_at: i64,
        idle_expires_at: i64,
    ) -> Result<(), RepositoryError>;

    /// Deletes one session (idempotent), recording `audit` when given.
    fn delete(
        &self,
        digest: &TokenDigest,
        audit: Option<&AuditEvent>,
    ) -> Result<(), RepositoryError>;

    /// Deletes every session of the user; returns how many there were.
    fn delete_for_user(&self, user_id: &UserId) -> Result<u64, RepositoryError>;

    /// Deletes every session that has expired at `now` (idle or absolute); returns how many.
    fn delete_expired(&self, now: i64) -> Result<u64, RepositoryError>;
}

/// Storage of remembered consents.
pub trait ConsentRepository: Send + Sync + Debug {
    /// Every consent `user_id` gave `client_id`.
    fn find(
        &self,
        user_id: &UserId,
        client_id: &str,
    ) -> Result<Vec<ConsentRecord>, RepositoryError>;

    /// Stores `record`; a record with the same user, client, scope set and resource set has its
    /// `granted_at` replaced. Records `audit` in the same transaction.
    fn upsert(&self, record: &ConsentRecord, audit: &AuditEvent) -> Result<(), RepositoryError>;

    /// Deletes every consent of the user, recording `audit`; returns how many there were.
    fn delete_for_user(&self, user_id: &UserId, audit: &AuditEvent)
        -> Result<u64, RepositoryError>;

    /// Deletes every consent given to the client (when it is deleted); returns how many.
    fn delete_for_client(&self, client_id: &str) -> Result<u64, RepositoryError>;
}

/// Ends the grants (refresh token families, and with them their access tokens for
/// introspection) of a user whose account is disabled, so that enabling it again does not revive
/// them. The token module implements it ([`crate::token::GrantRevocation`]).
pub trait UserGrants: Send + Sync + Debug {
    /// Revokes every live grant of `user_id`; returns how many.
    fn revoke_user_grants(&self, user_id: &str) -> Result<u64, RepositoryError>;
}
