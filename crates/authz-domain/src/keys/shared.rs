//! The key ring every request signs and verifies with, replaced whole when keys change.

use std::sync::{Arc, RwLock};

use super::{KeyError, KeyRing};
use crate::token::AccessTokenVerifier;

/// The current [`KeyRing`] and an [`AccessTokenVerifier`] over its published keys (any
/// audience), shared by every worker. Readers take a cheap `Arc` clone; [`SharedKeyRing::replace`]
/// swaps both at once after a rotation or a periodic reload from storage, so every instance of a
/// cluster converges on the keys in the database.
#[derive(Debug)]
pub struct SharedKeyRing {
    issuer: String,
    current: RwLock<Arc<LoadedRing>>,
}

/// A ring with the verifier built from it (building one parses every public key, so it is done
/// once per reload, not per request).
#[derive(Debug)]
pub struct LoadedRing {
    /// The keys.
    pub ring: KeyRing,
    /// Verifies this server's tokens for any audience; `None` when no key is published.
    pub verifier: Option<AccessTokenVerifier>,
}

impl SharedKeyRing {
    /// Shares `ring` for tokens issued by `issuer`, as published at `now`.
    pub fn new(issuer: impl Into<String>, ring: KeyRing, now: i64) -> Result<Self, KeyError> {
        let issuer = issuer.into();
        let loaded = Self::load(&issuer, ring, now)?;
        Ok(Self {
            issuer,
            current: RwLock::new(Arc::new(loaded)),
        })
    }

    fn load(issuer: &str, ring: KeyRing, now: i64) -> Result<LoadedRing, KeyError> {
        let published = ring.jwk_set(now);
        let verifier = if published.keys.is_empty() {
            None
        } else {
            // Tokens are checked against this server's own clock: no leeway.
            Some(AccessTokenVerifier::for_any_audience(&published, issuer)?.with_leeway(0))
        };
        Ok(LoadedRing { ring, verifier })
    }

    /// The ring in force.
    pub fn current(&self) -> Arc<LoadedRing> {
        self.current
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Puts `ring` in force, as published at `now`.
    pub fn replace(&self, ring: KeyRing, now: i64) -> Result<(), KeyError> {
        let loaded = Arc::new(Self::load(&self.issuer, ring, now)?);
        *self.current.write().unwrap_or_else(|e| e.into_inner()) = loaded;
        Ok(())
    }
}
