//! [`RefreshTokenRepository`] in memory, for tests and embedders: one mutex stands in for the
//! database transaction and the family's row lock.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};

use super::refresh::{
    RefreshDecider, RefreshDecision, RefreshFamily, RefreshTokenRecord, RefreshTokenRepository,
    RefreshWrite,
};
use crate::credentials::TokenDigest;
use crate::error::RepositoryError;

#[derive(Debug, Default)]
struct State {
    families: HashMap<String, RefreshFamily>,
    tokens: HashMap<[u8; 32], RefreshTokenRecord>,
}

/// Refresh token families in memory.
#[derive(Debug, Default)]
pub struct InMemoryRefreshTokens(Mutex<State>);

impl InMemoryRefreshTokens {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The family with this id, for tests.
    pub fn family(&self, family_id: &str) -> Option<RefreshFamily> {
        self.state().families.get(family_id).cloned()
    }
}

impl RefreshTokenRepository for InMemoryRefreshTokens {
    fn create_family(
        &self,
        family: &RefreshFamily,
        first: Option<&RefreshTokenRecord>,
    ) -> Result<(), RepositoryError> {
        let mut state = self.state();
        if state.families.contains_key(&family.family_id) {
            return Err(RepositoryError::Conflict(format!(
                "family {}",
                family.family_id
            )));
        }
        state
            .families
            .insert(family.family_id.clone(), family.clone());
        if let Some(first) = first {
            state.tokens.insert(*first.digest.as_bytes(), first.clone());
        }
        Ok(())
    }

    fn refresh(
        &self,
        digest: &TokenDigest,
        decide: &mut RefreshDecider<'_>,
    ) -> Result<(RefreshDecision, Option<RefreshFamily>), RepositoryError> {
        let mut state = self.state();
        let found = state
            .tokens
            .get(digest.as_bytes())
            .cloned()
            .and_then(|t| state.families.get(&t.family_id).cloned().map(|f| (t, f)));
        let Some((token, family)) = found else {
            let (decision, _) = decide(None);
            return Ok((decision, None));
        };
        let (decision, write) = decide(Some((&token, &family)));
        match write {
            RefreshWrite::Nothing => {}
            RefreshWrite::Rotate { at, successor } => {
                if let Some(t) = state.tokens.get_mut(digest.as_bytes()) {
                    t.rotated_at.get_or_insert(at);
                }
                state.tokens.insert(*successor.digest.as_bytes(), successor);
            }
            RefreshWrite::RevokeFamily { at } => {
                if let Some(f) = state.families.get_mut(&family.family_id) {
                    f.revoked_at.get_or_insert(at);
                }
            }
        }
        Ok((decision, Some(family)))
    }

    fn find(
        &self,
        digest: &TokenDigest,
    ) -> Result<Option<(RefreshTokenRecord, RefreshFamily)>, RepositoryError> {
        let state = self.state();
        Ok(state.tokens.get(digest.as_bytes()).and_then(|t| {
            state
                .families
                .get(&t.family_id)
                .map(|f| (t.clone(), f.clone()))
        }))
    }

    fn revoke_family(&self, family_id: &str, at: i64) -> Result<bool, RepositoryError> {
        let mut state = self.state();
        Ok(match state.families.get_mut(family_id) {
            Some(f) => {
                f.revoked_at.get_or_insert(at);
                true
            }
            None => false,
        })
    }

    fn family_is_active(&self, family_id: &str, now: i64) -> Result<bool, RepositoryError> {
        let state = self.state();
        Ok(state
            .families
            .get(family_id)
            .is_some_and(|f| f.revoked_at.is_none() && f.expires_at > now))
    }

    fn revoke_client_families(&self, client_id: &str, at: i64) -> Result<u64, RepositoryError> {
        let mut state = self.state();
        let mut n = 0;
        for f in state.families.values_mut() {
            if f.client_id == client_id && f.revoked_at.is_none() {
                f.revoked_at = Some(at);
                n += 1;
            }
        }
        Ok(n)
    }

    fn revoke_user_families(&self, user_id: &str, at: i64) -> Result<u64, RepositoryError> {
        let mut state = self.state();
        let mut n = 0;
        for f in state.families.values_mut() {
            if f.user_id == user_id && f.revoked_at.is_none() {
                f.revoked_at = Some(at);
                n += 1;
            }
        }
        Ok(n)
    }

    fn purge(&self, before: i64) -> Result<u64, RepositoryError> {
        let mut state = self.state();
        let gone: Vec<String> = state
            .families
            .values()
            .filter(|f| f.expires_at < before || f.revoked_at.is_some_and(|r| r < before))
            .map(|f| f.family_id.clone())
            .collect();
        for id in &gone {
            state.families.remove(id);
        }
        state.tokens.retain(|_, t| !gone.contains(&t.family_id));
        Ok(gone.len() as u64)
    }
}
