//! In-memory [`UserRepository`], [`SessionRepository`], [`ConsentRepository`] and [`AuditLog`],
//! for tests and for embedders trying the rules out. Every method holds one lock for its whole
//! duration, so each is atomic.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Mutex, MutexGuard};

use super::consent::ConsentRecord;
use super::ports::{ConsentRepository, SessionRepository, UserRepository};
use super::session::Session;
use super::user::{User, UserPage, UserQuery};
use super::values::{UserId, Username};
use crate::client_registration::{AuditEvent, AuditLog, RepositoryError};
use crate::credentials::TokenDigest;

#[derive(Debug, Default)]
struct State {
    users: BTreeMap<UserId, User>,
    sessions: HashMap<TokenDigest, Session>,
    consents: Vec<ConsentRecord>,
    audit: Vec<AuditEvent>,
}

impl State {
    fn user_mut(&mut self, id: &UserId) -> Result<&mut User, RepositoryError> {
        self.users
            .get_mut(id)
            .ok_or_else(|| RepositoryError::NotFound(format!("user {id}")))
    }

    fn end_sessions_of(&mut self, id: &UserId) -> u64 {
        let before = self.sessions.len();
        self.sessions.retain(|_, s| &s.user_id != id);
        (before - self.sessions.len()) as u64
    }
}

/// Users, sessions, consents and their audit events kept in one mutex-protected state.
#[derive(Debug, Default)]
pub struct InMemoryUserStore(Mutex<State>);

impl InMemoryUserStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Every audit event recorded, oldest first.
    pub fn audit_events(&self) -> Vec<AuditEvent> {
        self.state().audit.clone()
    }

    /// The stored sessions of a user.
    pub fn sessions_of(&self, id: &UserId) -> Vec<Session> {
        self.state()
            .sessions
            .values()
            .filter(|s| &s.user_id == id)
            .cloned()
            .collect()
    }

    /// How many sessions are stored.
    pub fn session_count(&self) -> usize {
        self.state().sessions.len()
    }
}

impl UserRepository for InMemoryUserStore {
    fn create(&self, user: &User, audit: &AuditEvent) -> Result<(), RepositoryError> {
        let mut state = self.state();
        if state.users.contains_key(&user.id)
            || state
                .users
                .values()
                .any(|u| u.username.key() == user.username.key())
        {
            return Err(RepositoryError::Conflict(format!(
                "username {:?} is taken",
                user.username.as_str()
            )));
        }
        state.users.insert(user.id.clone(), user.clone());
        state.audit.push(audit.clone());
        Ok(())
    }

    fn find(&self, id: &UserId) -> Result<Option<User>, RepositoryError> {
        Ok(self.state().users.get(id).cloned())
    }

    fn find_by_username(&self, username: &Username) -> Result<Option<User>, RepositoryError> {
        Ok(self
            .state()
            .users
            .values()
            .find(|u| u.username.key() == username.key())
            .cloned())
    }

    fn list(&self, query: &UserQuery) -> Result<UserPage, RepositoryError> {
        let state = self.state();
        let mut users: Vec<&User> = state.users.values().collect();
        users.sort_by(|a, b| a.username.key().cmp(b.username.key()));
        let offset = usize::try_from(query.offset()).unwrap_or(usize::MAX);
        let per_page = usize::try_from(query.per_page).unwrap_or(usize::MAX);
        Ok(UserPage {
            total: users.len() as u64,
            users: users
                .into_iter()
                .skip(offset)
                .take(per_page)
                .cloned()
                .collect(),
        })
    }

    fn set_disabled(
        &self,
        id: &UserId,
        disabled: bool,
        audit: &AuditEvent,
    ) -> Result<(), RepositoryError> {
        let mut state = self.state();
        let user = state.user_mut(id)?;
        user.is_disabled = disabled;
        user.updated_at = audit.occurred_at;
        if disabled {
            state.end_sessions_of(id);
        }
        state.audit.push(audit.clone());
        Ok(())
    }

    fn set_password_hash(
        &self,
        id: &UserId,
        password_hash: &str,
        audit: &AuditEvent,
    ) -> Result<(), RepositoryError> {
        let mut state = self.state();
        let user = state.user_mut(id)?;
        password_hash.clone_into(&mut user.password_hash);
        user.updated_at = audit.occurred_at;
        user.password_changed_at = audit.occurred_at;
        state.end_sessions_of(id);
        state.audit.push(audit.clone());
        Ok(())
    }
}

impl SessionRepository for InMemoryUserStore {
    fn insert(
        &self,
        session: &Session,
        replacing: Option<&TokenDigest>,
        audit: &AuditEvent,
    ) -> Result<(), RepositoryError> {
        let mut state = self.state();
        if state
            .users
            .get(&session.user_id)
            .is_none_or(|u| u.is_disabled)
        {
            return Err(RepositoryError::NotFound(format!(
                "user {} is disabled or gone",
                session.user_id
            )));
        }
        if state.sessions.contains_key(&session.digest) {
            return Err(RepositoryError::Conflict("session digest exists".into()));
        }
        if let Some(old) = replacing {
            state.sessions.remove(old);
        }
        state.sessions.insert(session.digest, session.clone());
        state.audit.push(audit.clone());
        Ok(())
    }

    fn find(&self, digest: &TokenDigest) -> Result<Option<Session>, RepositoryError> {
        Ok(self.state().sessions.get(digest).cloned())
    }

    fn touch(
        &self,
        digest: &TokenDigest,
        last_seen_at: i64,
        idle_expires_at: i64,
    ) -> Result<(), RepositoryError> {
        let mut state = self.state();
        let session = state
            .sessions
            .get_mut(digest)
            .ok_or_else(|| RepositoryError::NotFound("session".into()))?;
        session.last_seen_at = last_seen_at;
        session.idle_expires_at = idle_expires_at;
        Ok(())
    }

    fn delete(
        &self,
        digest: &TokenDigest,
        audit: Option<&AuditEvent>,
    ) -> Result<(), RepositoryError> {
        let mut state = self.state();
        state.sessions.remove(digest);
        if let Some(audit) = audit {
            state.audit.push(audit.clone());
        }
        Ok(())
    }

    fn delete_for_user(&self, user_id: &UserId) -> Result<u64, RepositoryError> {
        Ok(self.state().end_sessions_of(user_id))
    }

    fn delete_expired(&self, now: i64) -> Result<u64, RepositoryError> {
        let mut state = self.state();
        let before = state.sessions.len();
        state.sessions.retain(|_, s| s.is_valid_at(now));
        Ok((before - state.sessions.len()) as u64)
    }
}

impl ConsentRepository for InMemoryUserStore {
    fn find(
        &self,
        user_id: &UserId,
        client_id: &str,
    ) -> Result<Vec<ConsentRecord>, RepositoryError> {
        Ok(self
            .state()
            .consents
            .iter()
            .filter(|c| &c.user_id == user_id && c.client_id == client_id)
            .cloned()
            .collect())
    }

    fn upsert(&self, record: &ConsentRecord, audit: &AuditEvent) -> Result<(), RepositoryError> {
        let mut state = self.state();
        match state.consents.iter_mut().find(|c| {
            c.user_id == record.user_id
                && c.client_id == record.client_id
                && c.scope == record.scope
                && c.resources == record.resources
        }) {
            Some(existing) => existing.granted_at = record.granted_at,
            None => state.consents.push(record.clone()),
        }
        state.audit.push(audit.clone());
        Ok(())
    }

    fn delete_for_user(
        &self,
        user_id: &UserId,
        audit: &AuditEvent,
    ) -> Result<u64, RepositoryError> {
        let mut state = self.state();
        let before = state.consents.len();
        state.consents.retain(|c| &c.user_id != user_id);
        let removed = (before - state.consents.len()) as u64;
        state.audit.push(audit.clone());
        Ok(removed)
    }

    fn delete_for_client(&self, client_id: &str) -> Result<u64, RepositoryError> {
        let mut state = self.state();
        let before = state.consents.len();
        state.consents.retain(|c| c.client_id != client_id);
        Ok((before - state.consents.len()) as u64)
    }
}

impl AuditLog for InMemoryUserStore {
    fn record(&self, event: AuditEvent) -> Result<(), RepositoryError> {
        self.state().audit.push(event);
        Ok(())
    }
}
