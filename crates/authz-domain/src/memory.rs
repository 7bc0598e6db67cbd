//! In-memory [`ClientRepository`] and [`AuditLog`], for tests and for embedders trying the rules
//! out. Every method holds one lock for its whole duration, so each is atomic.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Mutex, MutexGuard};

use crate::administration::{
    AdminToken, AuditPage, AuditQuery, ClientPage, ClientQuery, ClientSort, StoredAuditEvent,
};
use crate::administration::{AdminTokenRepository, ClientAdministration};
use crate::audit::AuditEvent;
use crate::audit::AuditLog;
use crate::clients::ClientRepository;
use crate::clients::{Client, PreviousSecret, RegistrationTokenRecord, TokenLookup, TokenRotation};
use crate::credentials::TokenDigest;
use crate::error::RepositoryError;

#[derive(Debug, Default)]
struct State {
    clients: BTreeMap<String, Client>,
    tokens: Vec<(RegistrationTokenRecord, Option<i64>)>,
    ever_issued: BTreeSet<String>,
    audit: Vec<AuditEvent>,
    admin_tokens: Vec<AdminToken>,
}

impl State {
    /// The client to change, if it is still at `revision`.
    fn current(&mut self, client_id: &str, revision: i64) -> Result<&mut Client, RepositoryError> {
        let client = self
            .clients
            .get_mut(client_id)
            .ok_or_else(|| RepositoryError::NotFound(client_id.to_owned()))?;
        if client.revision != revision {
            return Err(RepositoryError::Stale(client_id.to_owned()));
        }
        Ok(client)
    }

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
        presented: Option<&TokenDigest>,
        rotation: Option<&TokenRotation>,
        audit: &AuditEvent,
    ) -> Result<(), RepositoryError> {
        let mut state = self.state();
        state.current(&client.client_id, client.revision)?;
        if presented.is_some_and(|p| !state.token_is_live(p, &client.client_id)) {
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
        let mut stored = client.clone();
        stored.revision += 1;
        state.clients.insert(client.client_id.clone(), stored);
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
        if presented.is_some() && state.clients.get(client_id).is_some_and(|c| c.is_locked) {
            return Err(RepositoryError::Stale(client_id.to_owned()));
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
        client.updated_at = audit.occurred_at;
        client.revision += 1;
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

impl ClientAdministration for InMemoryClientRepository {
    fn search(&self, query: &ClientQuery) -> Result<ClientPage, RepositoryError> {
        let state = self.state();
        let mut matches: Vec<&Client> = state
            .clients
            .values()
            .filter(|c| {
                query
                    .search
                    .as_deref()
                    .is_none_or(|q| c.search_text().contains(q))
            })
            .collect();
        match query.sort {
            ClientSort::NewestFirst => matches
                .sort_by(|a, b| (b.issued_at, &b.client_id).cmp(&(a.issued_at, &a.client_id))),
            ClientSort::OldestFirst => matches
                .sort_by(|a, b| (a.issued_at, &a.client_id).cmp(&(b.issued_at, &b.client_id))),
            ClientSort::ClientIdAsc => matches.sort_by(|a, b| a.client_id.cmp(&b.client_id)),
            ClientSort::ClientIdDesc => matches.sort_by(|a, b| b.client_id.cmp(&a.client_id)),
        }
        let total = matches.len() as u64;
        let offset = usize::try_from(query.offset()).unwrap_or(usize::MAX);
        let per_page = usize::try_from(query.per_page).unwrap_or(usize::MAX);
        Ok(ClientPage {
            clients: matches
                .into_iter()
                .skip(offset)
                .take(per_page)
                .cloned()
                .collect(),
            total,
        })
    }

    fn last_used(&self, client_id: &str) -> Result<Option<i64>, RepositoryError> {
        Ok(self
            .state()
            .audit
            .iter()
            .rev()
            .find(|e| {
                e.client_id.as_deref() == Some(client_id) && e.actor == "client" && e.succeeded
            })
            .map(|e| e.occurred_at))
    }

    fn audit_events(&self, query: &AuditQuery) -> Result<AuditPage, RepositoryError> {
        let state = self.state();
        let offset = usize::try_from(query.offset()).unwrap_or(usize::MAX);
        let per_page = usize::try_from(query.per_page).unwrap_or(usize::MAX);
        let mut events: Vec<StoredAuditEvent> = state
            .audit
            .iter()
            .enumerate()
            .rev()
            .filter(|(_, e)| {
                query
                    .client_id
                    .as_deref()
                    .is_none_or(|c| e.client_id.as_deref() == Some(c))
                    && query.action.is_none_or(|a| e.action == a)
                    && query.since.is_none_or(|t| e.occurred_at >= t)
                    && query.until.is_none_or(|t| e.occurred_at < t)
            })
            .skip(offset)
            .take(per_page.saturating_add(1))
            .map(|(i, e)| StoredAuditEvent {
                id: i64::try_from(i).unwrap_or(i64::MAX) + 1,
                occurred_at: e.occurred_at,
                action: e.action.as_str().to_owned(),
                succeeded: e.succeeded,
                client_id: e.client_id.clone(),
                actor: e.actor.clone(),
                detail: e.detail.clone(),
                remote_addr: e.context.remote_addr.clone(),
                user_agent: e.context.user_agent.clone(),
                request_id: e.context.request_id.clone(),
                repeat_count: 1,
            })
            .collect();
        let has_more = events.len() > per_page;
        events.truncate(per_page);
        Ok(AuditPage { events, has_more })
    }

    fn rotate_secret(
        &self,
        client_id: &str,
        expected_revision: i64,
        secret_hash: &str,
        secret_expires_at: i64,
        previous: Option<&PreviousSecret>,
        audit: &AuditEvent,
    ) -> Result<(), RepositoryError> {
        let mut state = self.state();
        let client = state.current(client_id, expected_revision)?;
        client.secret_hash = Some(secret_hash.to_owned());
        client.secret_expires_at = secret_expires_at;
        client.previous_secret = previous.cloned();
        client.updated_at = audit.occurred_at;
        client.revision += 1;
        state.audit.push(audit.clone());
        Ok(())
    }

    fn reissue_token(
        &self,
        token: &RegistrationTokenRecord,
        audit: &AuditEvent,
    ) -> Result<(), RepositoryError> {
        let mut state = self.state();
        if !state.clients.contains_key(&token.client_id) {
            return Err(RepositoryError::NotFound(token.client_id.clone()));
        }
        for (t, revoked) in state.tokens.iter_mut() {
            if t.client_id == token.client_id && revoked.is_none() {
                *revoked = Some(token.issued_at);
            }
        }
        state.tokens.push((token.clone(), None));
        state.audit.push(audit.clone());
        Ok(())
    }
}

impl AdminTokenRepository for InMemoryClientRepository {
    fn create_admin_token(
        &self,
        token: &AdminToken,
        audit: &AuditEvent,
    ) -> Result<(), RepositoryError> {
        let mut state = self.state();
        if state.admin_tokens.iter().any(|t| t.name == token.name) {
            return Err(RepositoryError::Conflict(token.name.clone()));
        }
        state.admin_tokens.push(token.clone());
        state.audit.push(audit.clone());
        Ok(())
    }

    fn find_admin_token(
        &self,
        digest: &TokenDigest,
    ) -> Result<Option<AdminToken>, RepositoryError> {
        Ok(self
            .state()
            .admin_tokens
            .iter()
            .find(|t| t.digest.ct_eq(digest))
            .cloned())
    }

    fn list_admin_tokens(&self) -> Result<Vec<AdminToken>, RepositoryError> {
        Ok(self.state().admin_tokens.clone())
    }

    fn revoke_admin_token(&self, name: &str, audit: &AuditEvent) -> Result<(), RepositoryError> {
        let mut state = self.state();
        let token = state
            .admin_tokens
            .iter_mut()
            .find(|t| t.name == name)
            .ok_or_else(|| RepositoryError::NotFound(name.to_owned()))?;
        token.revoked_at.get_or_insert(audit.occurred_at);
        state.audit.push(audit.clone());
        Ok(())
    }
}
