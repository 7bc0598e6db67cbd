//! Row types: what is inserted and what is read back.

use std::borrow::Cow;

use authz_domain::administration::{AdminScopes, AdminToken, StoredAuditEvent};
use authz_domain::audit::AuditEvent;
use authz_domain::clients::{
    Client, ClientMetadata, ClientOrigin, ClientSettings, PreviousSecret, RegistrationTokenRecord,
};
use authz_domain::credentials::TokenDigest;
use authz_domain::error::RepositoryError;
use diesel::prelude::*;

use crate::schema::{admin_tokens, audit_events, clients, registration_access_tokens};

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
    pub revision: i64,
    pub settings: Option<String>,
    pub previous_secret_hash: Option<&'a str>,
    pub previous_secret_valid_until: Option<i64>,
    pub search_text: String,
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
            revision: client.revision,
            // Default settings are stored as NULL, so a dynamically registered client costs
            // nothing extra.
            settings: if client.settings == ClientSettings::default() {
                None
            } else {
                Some(
                    serde_json::to_string(&client.settings).map_err(|e| {
                        RepositoryError::Other(format!("serialising settings: {e}"))
                    })?,
                )
            },
            previous_secret_hash: client.previous_secret.as_ref().map(|p| p.hash.as_str()),
            previous_secret_valid_until: client.previous_secret.as_ref().map(|p| p.valid_until),
            search_text: client.search_text(),
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
    pub revision: i64,
    pub settings: Option<String>,
    pub previous_secret_hash: Option<String>,
    pub previous_secret_valid_until: Option<i64>,
}

impl ClientRow {
    pub(crate) fn into_client(self) -> Result<Client, RepositoryError> {
        let metadata: ClientMetadata = serde_json::from_str(&self.metadata).map_err(|e| {
            RepositoryError::Other(format!(
                "client {}: stored metadata is unreadable: {e}",
                self.client_id
            ))
        })?;
        let settings = match &self.settings {
            None => ClientSettings::default(),
            Some(json) => serde_json::from_str(json).map_err(|e| {
                RepositoryError::Other(format!(
                    "client {}: stored settings are unreadable: {e}",
                    self.client_id
                ))
            })?,
        };
        let previous_secret = match (self.previous_secret_hash, self.previous_secret_valid_until) {
            (Some(hash), Some(valid_until)) => Some(PreviousSecret { hash, valid_until }),
            _ => None,
        };
        Ok(Client {
            client_id: self.client_id,
            metadata,
            secret_hash: self.secret_hash,
            secret_expires_at: self.secret_expires_at,
            issued_at: self.issued_at,
            updated_at: self.updated_at,
            origin: ClientOrigin::from_stored(&self.origin),
            is_locked: self.is_locked,
            settings,
            previous_secret,
            revision: self.revision,
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
// NULL rather than DEFAULT for absent values: the statement text never varies, so SQLite reuses
// one prepared statement for every row, and PostgreSQL's multi-row INSERTs stay valid.
#[diesel(treat_none_as_default_value = false)]
pub(crate) struct NewAuditRow<'a> {
    pub occurred_at: i64,
    pub action: &'a str,
    pub succeeded: bool,
    pub client_id: Option<Cow<'a, str>>,
    pub actor: Cow<'a, str>,
    pub detail: Option<Cow<'a, str>>,
    pub remote_addr: Option<Cow<'a, str>>,
    pub user_agent: Option<Cow<'a, str>>,
    pub request_id: Option<Cow<'a, str>>,
    pub repeat_count: i64,
}

impl<'a> NewAuditRow<'a> {
    /// The row for `e`, every text made storable (see [`storable`]).
    pub(crate) fn from_event(e: &'a AuditEvent) -> Self {
        let text = |v: &'a Option<String>| v.as_deref().map(storable);
        Self {
            occurred_at: e.occurred_at,
            action: e.action.as_str(),
            succeeded: e.succeeded,
            client_id: text(&e.client_id),
            actor: storable(&e.actor),
            detail: text(&e.detail),
            remote_addr: text(&e.context.remote_addr),
            user_agent: text(&e.context.user_agent),
            request_id: text(&e.context.request_id),
            repeat_count: 1,
        }
    }

    /// The row for `e` standing for `count` refusals (see `RefusalAggregator`).
    pub(crate) fn counted(e: &'a AuditEvent, count: u64) -> Self {
        Self {
            repeat_count: i64::try_from(count).unwrap_or(i64::MAX),
            ..Self::from_event(e)
        }
    }
}

/// Audit text as both backends can store it: PostgreSQL `text` cannot hold NUL, so each NUL is
/// written as the two characters `\0` (what a request sent stays readable, and a record never
/// fails for it); and at most [`MAX_AUDIT_TEXT`] characters, since refused requests may quote
/// anything.
pub(crate) fn storable(s: &str) -> Cow<'_, str> {
    let too_long = s.len() > MAX_AUDIT_TEXT && s.chars().nth(MAX_AUDIT_TEXT).is_some();
    if !too_long && !s.contains('\0') {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len().min(MAX_AUDIT_TEXT * 4) + 4);
    for (i, c) in s.chars().enumerate() {
        if i == MAX_AUDIT_TEXT {
            out.push('…');
            break;
        }
        match c {
            '\0' => out.push_str("\\0"),
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

/// The most characters of one audit text field.
pub(crate) const MAX_AUDIT_TEXT: usize = 2048;

#[derive(Debug, Queryable, Selectable)]
#[diesel(table_name = audit_events)]
pub(crate) struct AuditRow {
    pub id: i64,
    pub occurred_at: i64,
    pub action: String,
    pub succeeded: bool,
    pub client_id: Option<String>,
    pub actor: String,
    pub detail: Option<String>,
    pub remote_addr: Option<String>,
    pub user_agent: Option<String>,
    pub request_id: Option<String>,
    pub repeat_count: i64,
}

impl From<AuditRow> for StoredAuditEvent {
    fn from(r: AuditRow) -> Self {
        Self {
            id: r.id,
            occurred_at: r.occurred_at,
            action: r.action,
            succeeded: r.succeeded,
            client_id: r.client_id,
            actor: r.actor,
            detail: r.detail,
            remote_addr: r.remote_addr,
            user_agent: r.user_agent,
            request_id: r.request_id,
            repeat_count: r.repeat_count,
        }
    }
}

#[derive(Debug, Insertable, Queryable, Selectable)]
#[diesel(table_name = admin_tokens)]
#[diesel(treat_none_as_default_value = false)]
pub(crate) struct AdminTokenRow {
    pub name: String,
    pub token_digest: Vec<u8>,
    pub scopes: String,
    pub created_at: i64,
    pub expires_at: Option<i64>,
    pub revoked_at: Option<i64>,
}

impl AdminTokenRow {
    pub(crate) fn from_token(t: &AdminToken) -> Self {
        Self {
            name: t.name.clone(),
            token_digest: t.digest.as_bytes().to_vec(),
            scopes: t.scopes.to_string(),
            created_at: t.created_at,
            expires_at: t.expires_at,
            revoked_at: t.revoked_at,
        }
    }

    pub(crate) fn into_token(self) -> Result<AdminToken, RepositoryError> {
        let digest = TokenDigest::from_slice(&self.token_digest).ok_or_else(|| {
            RepositoryError::Other("a stored admin token digest is not 32 bytes".into())
        })?;
        let scopes = AdminScopes::parse(&self.scopes).map_err(|e| {
            RepositoryError::Other(format!("admin token {}: stored scopes: {e}", self.name))
        })?;
        Ok(AdminToken {
            name: self.name,
            digest,
            scopes,
            created_at: self.created_at,
            expires_at: self.expires_at,
            revoked_at: self.revoked_at,
        })
    }
}
