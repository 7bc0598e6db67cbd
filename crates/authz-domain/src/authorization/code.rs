//! Authorization codes (contract §4, RFC 6749 §4.1.2 and §10.5): 256 random bits behind a
//! recognisable prefix, stored as SHA-256 digests, single use, short-lived, and bound to
//! everything the token request must match.

use std::collections::HashMap;
use std::fmt::Debug;
use std::sync::{Mutex, MutexGuard};

use super::pkce::{CodeChallenge, CodeVerifier};
use super::policy::ScopeSet;
use super::resource::ResourceIndicator;
use crate::client_registration::RepositoryError;
use crate::credentials::TokenDigest;

/// Prefix of authorization codes, so a leaked one is recognisable by secret scanners.
pub const AUTHORIZATION_CODE_PREFIX: &str = "ac_";

/// An authorization code as stored: its digest and what it was issued for, never the code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthorizationCodeRecord {
    /// SHA-256 of the code.
    pub digest: TokenDigest,
    /// The client it was issued to; only that client may exchange it.
    pub client_id: String,
    /// The `redirect_uri` sent with the authorization request, `None` when none was sent. When
    /// set, the token request must carry the identical string (RFC 6749 §4.1.3).
    pub redirect_uri: Option<String>,
    /// The PKCE challenge the token request's verifier must satisfy.
    pub code_challenge: CodeChallenge,
    /// The granted scope.
    pub scope: ScopeSet,
    /// The granted resources (canonical), possibly empty.
    pub resources: Vec<ResourceIndicator>,
    /// The user who authorized (the tokens' `sub`).
    pub user_id: String,
    /// When that user authenticated (Unix seconds), the tokens' `auth_time`.
    pub auth_time: i64,
    /// When the code was issued (Unix seconds).
    pub issued_at: i64,
    /// When it stops being exchangeable (Unix seconds): `issued_at + code_lifetime_secs`.
    pub expires_at: i64,
    /// The token family every token issued from this code (and refreshed from those) belongs
    /// to; a replayed code revokes the family (RFC 6749 §4.1.2). 128 random bits, base64url.
    pub family_id: String,
    /// When it was exchanged, once it was.
    pub used_at: Option<i64>,
}

/// Why a code exchange does not match the code's bindings: always `invalid_grant` (RFC 6749
/// §5.2, RFC 7636 §4.6). The message is safe to send.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct CodeMismatch(pub &'static str);

impl AuthorizationCodeRecord {
    /// Whether the code lapsed at `now`.
    pub fn is_expired(&self, now: i64) -> bool {
        now >= self.expires_at
    }

    /// Checks a token request against the code's bindings (contract §5): the authenticated
    /// client, the `redirect_uri` (required and identical when one was sent to `/authorize`,
    /// absent or identical otherwise) and the PKCE verifier.
    pub fn check_exchange(
        &self,
        client_id: &str,
        redirect_uri: Option<&str>,
        verifier: &CodeVerifier,
    ) -> Result<(), CodeMismatch> {
        if self.client_id != client_id {
            return Err(CodeMismatch("the code was not issued to this client"));
        }
        match (&self.redirect_uri, redirect_uri) {
            (Some(expected), Some(sent)) if expected == sent => {}
            (Some(_), None) => {
                return Err(CodeMismatch(
                    "redirect_uri is required: it was sent with the authorization request",
                ))
            }
            (Some(_), Some(_)) | (None, Some(_)) => {
                return Err(CodeMismatch(
                    "redirect_uri differs from the one of the authorization request",
                ))
            }
            (None, None) => {}
        }
        if !self.code_challenge.verify(verifier) {
            return Err(CodeMismatch(
                "code_verifier does not match the code_challenge",
            ));
        }
        Ok(())
    }
}

/// What presenting a code found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConsumeOutcome {
    /// First use within its lifetime; the code is now marked used.
    Fresh(AuthorizationCodeRecord),
    /// Presented before (whether or not it has expired since): a replay. The caller refuses
    /// with `invalid_grant`, revokes every token of `family_id` and audits `CodeReplayed`.
    AlreadyUsed(AuthorizationCodeRecord),
    /// Never used but past its lifetime: refused with `invalid_grant`; nothing to revoke.
    Expired(AuthorizationCodeRecord),
    /// No such code (never issued, or purged).
    Unknown,
}

/// Storage of authorization codes. Every method is atomic.
pub trait AuthorizationCodeRepository: Send + Sync + Debug {
    /// Stores a new code. [`RepositoryError::Conflict`] if the digest exists.
    fn insert(&self, record: &AuthorizationCodeRecord) -> Result<(), RepositoryError>;

    /// Finds the code and marks it used at `now` in one atomic step, so two concurrent
    /// exchanges cannot both see [`ConsumeOutcome::Fresh`]. A used code stays
    /// [`ConsumeOutcome::AlreadyUsed`] until purged, even after it expired; an expired unused one
    /// is [`ConsumeOutcome::Expired`] and stays unused.
    fn consume(&self, digest: &TokenDigest, now: i64) -> Result<ConsumeOutcome, RepositoryError>;

    /// Deletes codes that expired before `before` (pass `now - retention` to keep used codes
    /// around long enough to detect replays); returns how many.
    fn delete_expired(&self, before: i64) -> Result<u64, RepositoryError>;
}

/// [`AuthorizationCodeRepository`] in a mutex-protected map, for tests and embedders.
#[derive(Debug, Default)]
pub struct InMemoryAuthorizationCodes(Mutex<HashMap<[u8; 32], AuthorizationCodeRecord>>);

impl InMemoryAuthorizationCodes {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    fn map(&self) -> MutexGuard<'_, HashMap<[u8; 32], AuthorizationCodeRecord>> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// How many codes are stored.
    pub fn len(&self) -> usize {
        self.map().len()
    }

    /// Whether none is stored.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl AuthorizationCodeRepository for InMemoryAuthorizationCodes {
    fn insert(&self, record: &AuthorizationCodeRecord) -> Result<(), RepositoryError> {
        let mut map = self.map();
        let key = *record.digest.as_bytes();
        if map.contains_key(&key) {
            return Err(RepositoryError::Conflict(
                "authorization code exists".into(),
            ));
        }
        map.insert(key, record.clone());
        Ok(())
    }

    fn consume(&self, digest: &TokenDigest, now: i64) -> Result<ConsumeOutcome, RepositoryError> {
        let mut map = self.map();
        let Some(record) = map.get_mut(digest.as_bytes()) else {
            return Ok(ConsumeOutcome::Unknown);
        };
        if record.used_at.is_some() {
            return Ok(ConsumeOutcome::AlreadyUsed(record.clone()));
        }
        if record.is_expired(now) {
            return Ok(ConsumeOutcome::Expired(record.clone()));
        }
        record.used_at = Some(now);
        Ok(ConsumeOutcome::Fresh(record.clone()))
    }

    fn delete_expired(&self, before: i64) -> Result<u64, RepositoryError> {
        let mut map = self.map();
        let count = map.len();
        map.retain(|_, r| r.expires_at >= before);
        Ok((count - map.len()) as u64)
    }
}
