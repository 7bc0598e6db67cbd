//! The client port: what registration, administration and the token endpoint need from the
//! storage of clients. `authz-storage` implements it with diesel;
//! [`crate::memory::InMemoryClientRepository`] implements it for tests.

use std::fmt::Debug;

use crate::audit::AuditEvent;
use crate::clients::{Client, RegistrationTokenRecord, TokenLookup, TokenRotation};
use crate::credentials::TokenDigest;
use crate::error::RepositoryError;

/// Storage of clients, their registration access tokens and the audit records of changes.
///
/// Every method is one transaction: it either happens completely or not at all. Methods that
/// change a client write their audit event in the same transaction.
pub trait ClientRepository: Send + Sync + Debug {
    /// Stores a new client with its first registration access token.
    /// Fails with [`RepositoryError::Conflict`] if the client id exists or ever existed.
    fn create(
        &self,
        client: &Client,
        token: &RegistrationTokenRecord,
        audit: &AuditEvent,
    ) -> Result<(), RepositoryError>;

    /// The client with this id, if it exists.
    fn find(&self, client_id: &str) -> Result<Option<Client>, RepositoryError>;

    /// The token with this digest (revoked or not), with its client, read in one statement so a
    /// concurrent delete is seen either entirely or not at all.
    fn find_by_token(&self, digest: &TokenDigest) -> Result<Option<TokenLookup>, RepositoryError>;

    /// Replaces the stored client (found by `client.client_id`) if its stored revision is still
    /// `client.revision` (the stored one becomes `client.revision + 1`) and `presented`, when
    /// given, is still an unrevoked token of it; with `rotation`, revokes `presented` and stores
    /// the new token. [`RepositoryError::NotFound`] if the client is gone,
    /// [`RepositoryError::Stale`] if it changed since it was read, [`RepositoryError::Conflict`]
    /// if the presented token was revoked meanwhile (a concurrent rotation won).
    fn update(
        &self,
        client: &Client,
        presented: Option<&TokenDigest>,
        rotation: Option<&TokenRotation>,
        audit: &AuditEvent,
    ) -> Result<(), RepositoryError>;

    /// Deletes the client, its tokens and its secret, keeping its id from ever being reissued,
    /// provided that `presented` (when given) is still an unrevoked token of it and the client is
    /// not locked (a self-delete). [`RepositoryError::NotFound`] if it is already gone,
    /// [`RepositoryError::Stale`] if it was locked since the caller read it.
    fn delete(
        &self,
        client_id: &str,
        presented: Option<&TokenDigest>,
        audit: &AuditEvent,
    ) -> Result<(), RepositoryError>;

    /// Revokes a token (idempotent), recording `audit`.
    fn revoke_token(&self, digest: &TokenDigest, audit: &AuditEvent)
        -> Result<(), RepositoryError>;

    /// Locks or unlocks self-management. [`RepositoryError::NotFound`] if the client is gone.
    fn set_locked(
        &self,
        client_id: &str,
        locked: bool,
        audit: &AuditEvent,
    ) -> Result<(), RepositoryError>;
}
