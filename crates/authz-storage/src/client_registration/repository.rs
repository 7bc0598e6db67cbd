//! [`DieselClientRepository`]: clients and registration access tokens in SQL.

use authz_domain::client_registration::{
    Client, ClientRepository, RegistrationTokenRecord, RepositoryError,
};
use diesel::prelude::*;

use super::models::{ClientRow, NewClientRow, NewTokenRow};
use crate::database::Database;
use crate::error::repo_err;
use crate::schema::{clients, registration_access_tokens};

/// The domain's [`ClientRepository`] over a [`Database`].
#[derive(Debug, Clone)]
pub struct DieselClientRepository {
    db: Database,
}

impl DieselClientRepository {
    /// A repository over `db`.
    pub fn new(db: Database) -> Self {
        Self { db }
    }
}

impl ClientRepository for DieselClientRepository {
    fn create(
        &self,
        client: &Client,
        token: &RegistrationTokenRecord,
    ) -> Result<(), RepositoryError> {
        let row = NewClientRow::from_client(client)?;
        let token_row = NewTokenRow {
            token_digest: token.digest.as_bytes(),
            client_id: &token.client_id,
            issued_at: token.issued_at,
            expires_at: token.expires_at,
        };
        self.db
            .write(|conn| {
                diesel::insert_into(clients::table)
                    .values(&row)
                    .execute(conn)?;
                diesel::insert_into(registration_access_tokens::table)
                    .values(&token_row)
                    .execute(conn)?;
                Ok(())
            })
            .map_err(repo_err)
    }

    fn find(&self, client_id: &str) -> Result<Option<Client>, RepositoryError> {
        let row = self
            .db
            .read(|conn| {
                clients::table
                    .find(client_id)
                    .select(ClientRow::as_select())
                    .first(conn)
                    .optional()
            })
            .map_err(repo_err)?;
        row.map(ClientRow::into_client).transpose()
    }
}
