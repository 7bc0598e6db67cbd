//! Row types: what is inserted and what is read back.

use authz_domain::client_registration::{
    AuditEvent, Client, ClientMetadata, ClientOrigin, RegistrationTokenRecord, RepositoryError,
};
use authz_domain::credentials::TokenDigest;
use diesel::prelude::*;

use crate::schema::{audit_events, clients, registration_access_tokens};

#[derive(Debug, Insertable)]
#[diesel(table_name = clients)]
// NULL rather than DEFAULT for absent values: the SQL text then never varies, so diesel reuses
// one prepared statement instead of preparing a new one per insert.
#[diesel(treat_none_as_default_value = false)]
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
    pub is_locked: bool,
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
            is_locked: client.is_locked,
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
    pub is_locked: bool,
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
            is_locked: self.is_locked,
        })
    }
}

#[derive(Debug, Insertable)]
#[diesel(table_name = registration_access_tokens)]
#[diesel(treat_none_as_default_value = false)]
pub(crate) struct NewTokenRow<'a> {
    pub token_digest: &'a [u8],
    pub client_id: &'a str,
    pub issued_at: i64,
    pub expires_at: Option<i64>,
}

impl<'a> NewTokenRow<'a> {
    pub(crate) fn from_record(record: &'a RegistrationTokenRecord) -> Self {
        Self {
            token_digest: record.digest.as_bytes(),
            client_id: &record.client_id,
            issued_at: record.issued_at,
            expires_at: record.expires_at,
        }
    }
}

#[derive(Debug, Queryable, Selectable)]
#[diesel(table_name = registration_access_tokens)]
pub(crate) struct TokenRow {
    pub token_digest: Vec<u8>,
    pub client_id: String,
    pub issued_at: i64,
    pub expires_at: Option<i64>,
    pub revoked_at: Option<i64>,
}

impl TokenRow {
    pub(crate) fn into_record(
        self,
    ) -> Result<(RegistrationTokenRecord, Option<i64>), RepositoryError> {
        let digest = TokenDigest::from_slice(&self.token_digest).ok_or_else(|| {
            RepositoryError::Other("a stored token digest is not 32 bytes".into())
        })?;
        Ok((
            RegistrationTokenRecord {
                digest,
                client_id: self.client_id,
                issued_at: self.issued_at,
                expires_at: self.expires_at,
            },
            self.revoked_at,
        ))
    }
}

#[derive(Debug, Insertable)]
#[diesel(table_name = audit_events)]
// NULL rather than DEFAULT for absent values, so SQLite accepts multi-row INSERTs and the
// statement text never varies.
#[diesel(treat_none_as_default_value = false)]
pub(crate) struct NewAuditRow<'a> {
    pub occurred_at: i64,
    pub action: &'a str,
    pub succeeded: bool,
    pub client_id: Option<&'a str>,
    pub actor: &'a str,
    pub detail: Option<&'a str>,
    pub remote_addr: Option<&'a str>,
    pub user_agent: Option<&'a str>,
    pub request_id: Option<&'a str>,
}

impl<'a> NewAuditRow<'a> {
    pub(crate) fn from_event(e: &'a AuditEvent) -> Self {
        Self {
            occurred_at: e.occurred_at,
            action: e.action.as_str(),
            succeeded: e.succeeded,
            client_id: e.client_id.as_deref(),
            actor: &e.actor,
            detail: e.detail.as_deref(),
            remote_addr: e.context.remote_addr.as_deref(),
            user_agent: e.context.user_agent.as_deref(),
            request_id: e.context.request_id.as_deref(),
        }
    }
}
