//! Revoked access tokens (RFC 7009 §2): a JWT cannot be recalled, so its `jti` is remembered as
//! revoked until the token expires, and introspection (RFC 7662) answers `active: false` for it.

use std::collections::HashMap;
use std::fmt::Debug;
use std::sync::Mutex;

use crate::error::RepositoryError;

/// Storage of revoked access token ids.
pub trait AccessTokenRevocationRepository: Send + Sync + Debug {
    /// Remembers `jti` as revoked until `expires_at` (Unix seconds), the token's own expiry.
    /// Idempotent.
    fn revoke(&self, jti: &str, expires_at: i64) -> Result<(), RepositoryError>;

    /// Whether `jti` was revoked.
    fn is_revoked(&self, jti: &str) -> Result<bool, RepositoryError>;

    /// Forgets revocations of tokens that expired before `now`; returns how many.
    fn purge_expired(&self, now: i64) -> Result<u64, RepositoryError>;
}

/// [`AccessTokenRevocationRepository`] in memory, for tests and embedders.
#[derive(Debug, Default)]
pub struct InMemoryAccessTokenRevocations(Mutex<HashMap<String, i64>>);

impl InMemoryAccessTokenRevocations {
    /// An empty set.
    pub fn new() -> Self {
        Self::default()
    }
}

impl AccessTokenRevocationRepository for InMemoryAccessTokenRevocations {
    fn revoke(&self, jti: &str, expires_at: i64) -> Result<(), RepositoryError> {
        let mut map = self.0.lock().unwrap_or_else(|e| e.into_inner());
        map.insert(jti.to_owned(), expires_at);
        Ok(())
    }

    fn is_revoked(&self, jti: &str) -> Result<bool, RepositoryError> {
        let map = self.0.lock().unwrap_or_else(|e| e.into_inner());
        Ok(map.contains_key(jti))
    }

    fn purge_expired(&self, now: i64) -> Result<u64, RepositoryError> {
        let mut map = self.0.lock().unwrap_or_else(|e| e.into_inner());
        let before = map.len();
        map.retain(|_, expires| *expires >= now);
        Ok((before - map.len()) as u64)
    }
}
