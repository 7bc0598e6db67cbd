//! In-memory [`ClientRepository`] and [`AuditLog`], for tests and for embedders trying the rules
//! out. Every method holds one lock for its whole duration, so each is atomic.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Mutex, MutexGuard};

use super::audit::AuditEvent;
use super::client::{Client, RegistrationTokenRecord, TokenLookup, TokenRotation};
use super::error::RepositoryError;
use super::ports::{AuditLog, ClientRepository};
use crate::credentials::TokenDigest;

#[derive(Debug, Default)]
struct State {
    clients: BTreeMap<String, Client>,
    tokens: Vec<(RegistrationTokenRecord, Option<i64>)>,
    ever_issued: BTreeSet<String>,
    audit: Vec<AuditEvent>,
}

impl State {
    fn token_is_live(&self, digest: &TokenDigest, client_id: &str) -> bool {
        self.tokens.iter().any(|(t, revoked)| {
            t.digest.ct_eq(digest) && t.client_id == client_id && revoked.is_none()
        })
    }
}

/// Clients kept in a mutex-protected map.
#[derive(Debug, Default)]
pub struct InMemoryClientRepository(Mutex<State>);

impl InMemoryClientRepository {
    /// An empty repository.
    pub fn new() -> Self {
        Self::default()
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// How many clients are stored.
    pub fn len(&self) -> usize {
        self.state().clients.len()
    }

    /// Whether no client is stored.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The stored registration access tokens of a client, with their revocation time.
    pub fn tokens_of(&self, client_id: &str) -> Vec<(RegistrationTokenRecord, Option<i64>)> {
        self.state()
            .tokens
            .iter()
            .filter(|(t, _)| t.client_id == client_id)
            .cloned()
            .collect()
    }

    /// Every audit event recorded, oldest first.
    pub fn audit_events(&self) -> Vec<AuditEvent> {
        self.state().audit.clone()
    }
}

impl ClientRepository for InMemoryClientRepository {
    fn create(
        &self,
        client: &Client,
        token: &RegistrationTokenRecord,
        audit: &AuditEvent,
    ) -> Result<(), RepositoryError> {
        let mut state = self.state();
        if !state.ever_issued.insert(client.client_id.clone()) {
            return Err(RepositoryError::Conflict(format!(
                "client id {:?} already issued",
                client.client_id
            )));
        }
        state
            .clients
            .insert(client.client_id.clone(), client.clone());
        state.tokens.push((token.clone(), None));
        state.audit.push(audit.clone());
        Ok(())
    }

    fn find(&self, client_id: &str) -> Result<Option<Client>, RepositoryError> {
        Ok(self.state().clients.get(client_id).cloned())
    }

    fn find_by_token(&self, digest: &TokenDigest) -> Result<Option<TokenLookup>, RepositoryError> {
        let state = self.state();
        Ok(state
            .tokens
            .iter()
            .find(|(t, _)| t.digest.ct_eq(digest))
            .map(|(t, revoked)| TokenLookup {
                token: t.clone(),
                revoked_at: *revoked,
                client: state.clients.get(&t.client_id).cloned(),
            }))
    }

    fn update(
        &self,
        client: &Client,
        presented: &TokenDigest,
        rotation: Option<&TokenRotation>,
        audit: &AuditEvent,
    ) -> Result<(), RepositoryError> {
        let mut state = self.state();
        if !state.clients.contains_key(&client.client_id) {
            return Err(RepositoryError::NotFound(client.client_id.clone()));
        }
        if !state.token_is_live(presented, &client.client_id) {
            return Err(RepositoryError::Conflict(
                "the presented token was revoked".into(),
            ));
        }
        if let Some(rotation) = rotation {
            for (t, revoked) in state.tokens.iter_mut() {
                if t.digest.ct_eq(&rotation.revoke) && revoked.is_none() {
                    *revoked = Some(rotation.issue.issued_at);
                }
            }
            state.tokens.push((rotation.issue.clone(), None));
        }
        state
            .clients
            .insert(client.client_id.clone(), client.clone());
        state.audit.push(audit.clone());
        Ok(())
    }

    fn delete(
        &self,
        client_id: &str,
        presented: Option<&TokenDigest>,
        audit: &AuditEvent,
    ) -> Result<(), RepositoryError> {
        let mut state = self.state();
        if !state.clients.contains_key(client_id) {
            return Err(RepositoryError::NotFound(client_id.to_owned()));
        }
        if presented.is_some_and(|p| !state.token_is_live(p, client_id)) {
            return Err(RepositoryError::Conflict(
                "the presented token was revoked".into(),
            ));
        }
        state.clients.remove(client_id);
        state.tokens.retain(|(t, _)| t.client_id != client_id);
        state.audit.push(audit.clone());
        Ok(())
    }

    fn revoke_token(
        &self,
        digest: &TokenDigest,
        audit: &AuditEvent,
    ) -> Result<(), RepositoryError> {
        let mut state = self.state();
        for (t, revoked) in state.tokens.iter_mut() {
            if t.digest.ct_eq(digest) && revoked.is_none() {
                *revoked = Some(audit.occurred_at);
            }
        }
        state.audit.push(audit.clone());
        Ok(())
    }

    fn set_locked(
        &self,
        client_id: &str,
        locked: bool,
        audit: &AuditEvent,
    ) -> Result<(), RepositoryError> {
        let mut state = self.state();
        let client = state
            .clients
            .get_mut(client_id)
            .ok_or_else(|| RepositoryError::NotFound(client_id.to_owned()))?;
        client.is_locked = locked;
        state.audit.push(audit.clone());
        Ok(())
    }
}

impl AuditLog for InMemoryClientRepository {
    fn record(&self, event: AuditEvent) -> Result<(), RepositoryError> {
        self.state().audit.push(event);
        Ok(())
    }
}
