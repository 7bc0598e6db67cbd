//! Row types: what is inserted and what is read back.

use authz_domain::client_registration::{Client, ClientMetadata, ClientOrigin, RepositoryError};
use diesel::prelude::*;

use crate::schema::{clients, registration_access_tokens};

#[derive(Debug, Insertable)]
#[diesel(table_name = clients)]
pub(crate) struct NewClientRow<'a> {
    pub client_id: &'a str,
    pub client_name: Option<&'a str>,
    pub token_endpoint_auth_method: &'a str,
    pub secret_hash: Option<&'a str>,
    pub secret_expires_at: i64,
    pub metadata: String,
    pub origin: &'a str,
    pub issued_at: i64,
    pub updated_at: i64,
}

impl<'a> NewClientRow<'a> {
    pub(crate) fn from_client(client: &'a Client) -> Result<Self, RepositoryError> {
        Ok(Self {
            client_id: &client.client_id,
            client_name: client.metadata.client_name.as_deref(),
            token_endpoint_auth_method: client.metadata.token_endpoint_auth_method.as_str(),
            secret_hash: client.secret_hash.as_deref(),
            secret_expires_at: client.secret_expires_at,
            metadata: serde_json::to_string(&client.metadata)
                .map_err(|e| RepositoryError::Other(format!("serialising metadata: {e}")))?,
            origin: client.origin.as_str(),
            issued_at: client.issued_at,
            updated_at: client.updated_at,
        })
    }
}

#[derive(Debug, Queryable, Selectable)]
#[diesel(table_name = clients)]
pub(crate) struct ClientRow {
    pub client_id: String,
    pub secret_hash: Option<String>,
    pub secret_expires_at: i64,
    pub metadata: String,
    pub origin: String,
    pub issued_at: i64,
    pub updated_at: i64,
}

impl ClientRow {
    pub(crate) fn into_client(self) -> Result<Client, RepositoryError> {
        let metadata: ClientMetadata = serde_json::from_str(&self.metadata).map_err(|e| {
            RepositoryError::Other(format!(
                "client {}: stored metadata is unreadable: {e}",
                self.client_id
            ))
        })?;
        Ok(Client {
            client_id: self.client_id,
            metadata,
            secret_hash: self.secret_hash,
            secret_expires_at: self.secret_expires_at,
            issued_at: self.issued_at,
            updated_at: self.updated_at,
            origin: ClientOrigin::from_stored(&self.origin),
        })
    }
}

#[derive(Debug, Insertable)]
#[diesel(table_name = registration_access_tokens)]
pub(crate) struct NewTokenRow<'a> {
    pub token_digest: &'a [u8],
    pub client_id: &'a str,
    pub issued_at: i64,
    pub expires_at: Option<i64>,
}
