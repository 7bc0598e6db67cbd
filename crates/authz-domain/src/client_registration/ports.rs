//! Ports: what the registration use cases need from storage. `authz-storage` implements them
//! with diesel; [`super::memory::InMemoryClientRepository`] implements them for tests.

use std::fmt::Debug;

use super::audit::AuditEvent;
use super::client::{Client, RegistrationTokenRecord, TokenLookup, TokenRotation};
use super::error::RepositoryError;
use crate::credentials::TokenDigest;

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

    /// Replaces the stored client (found by `client.client_id`), provided that `presented` is still
    /// an unrevoked token of it; with `rotation`, revokes `presented` and stores the new token.
    /// [`RepositoryError::NotFound`] if the client is gone, [`RepositoryError::Conflict`] if the
    /// presented token was revoked meanwhile (a concurrent rotation won).
    fn update(
        &self,
        client: &Client,
        presented: &TokenDigest,
        rotation: Option<&TokenRotation>,
        audit: &AuditEvent,
    ) -> Result<(), RepositoryError>;

    /// Deletes the client, its tokens and its secret, keeping its id from ever being reissued,
    /// provided that `presented` (when given) is still an unrevoked token of it.
    /// [`RepositoryError::NotFound`] if it is already gone.
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

/// Where audit events that accompany no change (reads, refused attempts) are written. Events of
/// changes go through [`ClientRepository`], in the change's own transaction.
pub trait AuditLog: Send + Sync + Debug {
    /// Records `event`. An implementation may write it shortly after returning (batched with
    /// others), so that reads and refusals never cost a commit each.
    fn record(&self, event: AuditEvent) -> Result<(), RepositoryError>;
}
