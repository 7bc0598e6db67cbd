//! Ports of the administration use cases: what they need from storage beyond
//! [`ClientRepository`](crate::clients::ClientRepository).

use std::fmt::Debug;

use crate::administration::{AdminToken, AuditPage, AuditQuery, ClientPage, ClientQuery};
use crate::audit::AuditEvent;
use crate::clients::{PreviousSecret, RegistrationTokenRecord};
use crate::credentials::TokenDigest;
use crate::error::RepositoryError;

/// What the administration API needs beyond [`ClientRepository`](crate::clients::ClientRepository): listing, searching, usage,
/// the audit trail, and the narrow credential changes an administrator makes.
pub trait ClientAdministration: Send + Sync + Debug {
    /// A page of clients matching `query`, with the number of all matches.
    fn search(&self, query: &ClientQuery) -> Result<ClientPage, RepositoryError>;

    /// When the client last authenticated (Unix seconds): `clients.last_used_at`, kept by
    /// [`UsageRecorder`](crate::clients::UsageRecorder).
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

/// Ends the grants made to a client whose secret an administrator rotated away (a leak, a
/// departing integration): it authorizes again with the new secret. The token module implements
/// it ([`crate::token::GrantRevocation`]).
pub trait ClientGrants: Send + Sync + Debug {
    /// Revokes every live grant of `client_id`; returns how many.
    fn revoke_client_grants(&self, client_id: &str) -> Result<u64, RepositoryError>;
}
