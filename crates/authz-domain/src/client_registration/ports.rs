//! Ports: what the registration use cases need from storage. `authz-storage` implements them
//! with diesel; [`super::memory::InMemoryClientRepository`] implements them for tests.

use std::fmt::Debug;

use super::admin::{AdminToken, AuditPage, AuditQuery, ClientPage, ClientQuery};
use super::audit::AuditEvent;
use super::client::{Client, PreviousSecret, RegistrationTokenRecord, TokenLookup, TokenRotation};
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

/// Where audit events that accompany no change (reads, refused attempts) are written. Events of
/// changes go through [`ClientRepository`], in the change's own transaction.
pub trait AuditLog: Send + Sync + Debug {
    /// Records `event`. An implementation may write it shortly after returning (batched with
    /// others), so that reads and refusals never cost a commit each.
    fn record(&self, event: AuditEvent) -> Result<(), RepositoryError>;
}

/// What the administration API needs beyond [`ClientRepository`]: listing, searching, usage,
/// the audit trail, and the narrow credential changes an administrator makes.
pub trait ClientAdministration: Send + Sync + Debug {
    /// A page of clients matching `query`, with the number of all matches.
    fn search(&self, query: &ClientQuery) -> Result<ClientPage, RepositoryError>;

    /// When the client last used its registration access token successfully (Unix seconds).
    fn last_used(&self, client_id: &str) -> Result<Option<i64>, RepositoryError>;

    /// A page of audit events, newest first.
    fn audit_events(&self, query: &AuditQuery) -> Result<AuditPage, RepositoryError>;

    /// Replaces the client's secret (hash and expiry), keeping `previous` verifying for its grace
    /// period, if the stored revision is still `expected_revision`.
    /// [`RepositoryError::NotFound`] / [`RepositoryError::Stale`] as for updates.
    fn rotate_secret(
        &self,
        client_id: &str,
        expected_revision: i64,
        secret_hash: &str,
        secret_expires_at: i64,
        previous: Option<&PreviousSecret>,
        audit: &AuditEvent,
    ) -> Result<(), RepositoryError>;

    /// Revokes every live registration access token of the client and stores `token`.
    /// [`RepositoryError::NotFound`] if the client is gone.
    fn reissue_token(
        &self,
        token: &RegistrationTokenRecord,
        audit: &AuditEvent,
    ) -> Result<(), RepositoryError>;
}

/// Storage of administrator tokens (digests only).
pub trait AdminTokenRepository: Send + Sync + Debug {
    /// Stores a new token. [`RepositoryError::Conflict`] if the name was ever used.
    fn create_admin_token(
        &self,
        token: &AdminToken,
        audit: &AuditEvent,
    ) -> Result<(), RepositoryError>;

    /// The token with this digest (revoked or not).
    fn find_admin_token(&self, digest: &TokenDigest)
        -> Result<Option<AdminToken>, RepositoryError>;

    /// Every token, revoked ones included, oldest first.
    fn list_admin_tokens(&self) -> Result<Vec<AdminToken>, RepositoryError>;

    /// Revokes the token named `name` at `audit.occurred_at` (idempotent).
    /// [`RepositoryError::NotFound`] if there is no such token.
    fn revoke_admin_token(&self, name: &str, audit: &AuditEvent) -> Result<(), RepositoryError>;
}
