//! The pending authorization request, kept server-side while the user signs in and consents
//! (contract §2): only its random id travels through the pages, never the parameters.

use std::collections::HashMap;
use std::fmt::Debug;
use std::sync::{Mutex, MutexGuard};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use ring::hmac;
use subtle::ConstantTimeEq;

use super::request::AuthorizationRequest;
use crate::client_registration::RepositoryError;
use crate::credentials::TokenDigest;

/// Prefix of pending-request ids, so one is recognisable in a URL or a log.
pub const PENDING_ID_PREFIX: &str = "ar_";

/// An authorization request waiting for the user (contract §2).
///
/// Its id is 256 random bits (`ar_` + 43 base64url characters) handed to the browser once and
/// stored only as [`TokenDigest`]. Forms of the sign-in and consent pages carry
/// [`PendingAuthorization::csrf_token`], bound to this request and to the browser's session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingAuthorization {
    /// SHA-256 of the id.
    pub id_digest: TokenDigest,
    /// The validated request.
    pub request: AuthorizationRequest,
    /// When it was received (Unix seconds).
    pub created_at: i64,
    /// When it lapses (Unix seconds): `created_at + request_lifetime_secs`.
    pub expires_at: i64,
    /// The user who signed in for it, once one did.
    pub user_id: Option<String>,
    /// When that user authenticated (Unix seconds), for `auth_time` and `prompt=login`.
    pub auth_time: Option<i64>,
    /// A random key (256 bits) from which the CSRF tokens of this request's forms are derived.
    /// Server-side only; never sent.
    pub csrf_key: [u8; 32],
}

impl PendingAuthorization {
    /// Whether the request lapsed at `now` (its lifetime is inclusive of `expires_at - 1`).
    pub fn is_expired(&self, now: i64) -> bool {
        now >= self.expires_at
    }

    /// The CSRF token for this request's forms shown to the browser holding `session` (the
    /// digest of its session cookie, or of a pre-sign-in cookie): base64url HMAC-SHA-256 of the
    /// session under [`PendingAuthorization::csrf_key`], 43 characters. An attacker who starts
    /// their own request learns a token for their own session only.
    pub fn csrf_token(&self, session: &TokenDigest) -> String {
        let key = hmac::Key::new(hmac::HMAC_SHA256, &self.csrf_key);
        URL_SAFE_NO_PAD.encode(hmac::sign(&key, session.as_bytes()).as_ref())
    }

    /// Whether `presented` is [`PendingAuthorization::csrf_token`] for `session` (constant time).
    pub fn verify_csrf(&self, session: &TokenDigest, presented: &str) -> bool {
        let expected = self.csrf_token(session);
        expected.as_bytes().ct_eq(presented.as_bytes()).into()
    }
}

/// Storage of pending authorization requests. Every method is atomic.
pub trait PendingAuthorizationRepository: Send + Sync + Debug {
    /// Stores a new pending request. [`RepositoryError::Conflict`] if the digest exists.
    fn insert(&self, pending: &PendingAuthorization) -> Result<(), RepositoryError>;

    /// The pending request with this id digest, expired or not (the caller judges expiry).
    fn find(&self, digest: &TokenDigest) -> Result<Option<PendingAuthorization>, RepositoryError>;

    /// Records who signed in for the request and when.
    /// [`RepositoryError::NotFound`] if it is gone.
    fn attach_user(
        &self,
        digest: &TokenDigest,
        user_id: &str,
        auth_time: i64,
    ) -> Result<(), RepositoryError>;

    /// Deletes the request; `true` if this call deleted it, `false` if it was already gone (a
    /// concurrent approval or denial won: the caller must not proceed).
    fn delete(&self, digest: &TokenDigest) -> Result<bool, RepositoryError>;

    /// Deletes every request that lapsed before `now`; returns how many (housekeeping).
    fn delete_expired(&self, now: i64) -> Result<u64, RepositoryError>;
}

/// [`PendingAuthorizationRepository`] in a mutex-protected map, for tests and embedders.
#[derive(Debug, Default)]
pub struct InMemoryPendingAuthorizations(Mutex<HashMap<[u8; 32], PendingAuthorization>>);

impl InMemoryPendingAuthorizations {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    fn map(&self) -> MutexGuard<'_, HashMap<[u8; 32], PendingAuthorization>> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// How many requests are stored.
    pub fn len(&self) -> usize {
        self.map().len()
    }

    /// Whether none is stored.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl PendingAuthorizationRepository for InMemoryPendingAuthorizations {
    fn insert(&self, pending: &PendingAuthorization) -> Result<(), RepositoryError> {
        let mut map = self.map();
        let key = *pending.id_digest.as_bytes();
        if map.contains_key(&key) {
            return Err(RepositoryError::Conflict(
                "pending request id exists".into(),
            ));
        }
        map.insert(key, pending.clone());
        Ok(())
    }

    fn find(&self, digest: &TokenDigest) -> Result<Option<PendingAuthorization>, RepositoryError> {
        Ok(self.map().get(digest.as_bytes()).cloned())
    }

    fn attach_user(
        &self,
        digest: &TokenDigest,
        user_id: &str,
        auth_time: i64,
    ) -> Result<(), RepositoryError> {
        let mut map = self.map();
        let pending = map
            .get_mut(digest.as_bytes())
            .ok_or_else(|| RepositoryError::NotFound("pending request".into()))?;
        pending.user_id = Some(user_id.to_owned());
        pending.auth_time = Some(auth_time);
        Ok(())
    }

    fn delete(&self, digest: &TokenDigest) -> Result<bool, RepositoryError> {
        Ok(self.map().remove(digest.as_bytes()).is_some())
    }

    fn delete_expired(&self, now: i64) -> Result<u64, RepositoryError> {
        let mut map = self.map();
        let before = map.len();
        map.retain(|_, p| !p.is_expired(now));
        Ok((before - map.len()) as u64)
    }
}
