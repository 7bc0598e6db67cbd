//! An in-memory [`ClientRepository`], for tests and for embedders trying the rules out.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Mutex;

use super::client::{Client, RegistrationTokenRecord};
use super::error::RepositoryError;
use super::ports::ClientRepository;

#[derive(Debug, Default)]
struct State {
    clients: BTreeMap<String, Client>,
    tokens: Vec<RegistrationTokenRecord>,
    ever_issued: BTreeSet<String>,
}

/// Clients kept in a mutex-protected map; every method is atomic.
#[derive(Debug, Default)]
pub struct InMemoryClientRepository(Mutex<State>);

impl InMemoryClientRepository {
    /// An empty repository.
    pub fn new() -> Self {
        Self::default()
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
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

    /// The stored registration access token records of a client.
    pub fn tokens_of(&self, client_id: &str) -> Vec<RegistrationTokenRecord> {
        self.state()
            .tokens
            .iter()
            .filter(|t| t.client_id == client_id)
            .cloned()
            .collect()
    }
}

impl ClientRepository for InMemoryClientRepository {
    fn create(
        &self,
        client: &Client,
        token: &RegistrationTokenRecord,
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
        state.tokens.push(token.clone());
        Ok(())
    }

    fn find(&self, client_id: &str) -> Result<Option<Client>, RepositoryError> {
        Ok(self.state().clients.get(client_id).cloned())
    }
}
