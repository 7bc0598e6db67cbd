//! Ports: what the registration use cases need from storage. `authz-storage` implements them
//! with diesel; [`super::memory::InMemoryClientRepository`] implements them for tests.

use std::fmt::Debug;

use super::client::{Client, RegistrationTokenRecord};
use super::error::RepositoryError;

/// Storage of clients and their registration access tokens.
///
/// Every method is one transaction: it either happens completely or not at all.
pub trait ClientRepository: Send + Sync + Debug {
    /// Stores a new client together with its first registration access token.
    /// Fails with [`RepositoryError::Conflict`] if the client id exists (or ever existed).
    fn create(
        &self,
        client: &Client,
        token: &RegistrationTokenRecord,
    ) -> Result<(), RepositoryError>;

    /// The client with this id, if it exists.
    fn find(&self, client_id: &str) -> Result<Option<Client>, RepositoryError>;
}
