//! Row types of `pending_authorizations` and `authorization_codes`.

use authz_domain::authorization::{
    AuthorizationCodeRecord, AuthorizationRequest, CodeChallenge, PendingAuthorization,
    ResourceIndicator, ScopeSet,
};
use authz_domain::credentials::TokenDigest;
use authz_domain::error::RepositoryError;
use diesel::prelude::*;

use crate::schema::{authorization_codes, pending_authorizations};

fn digest(bytes: &[u8], what: &str) -> Result<TokenDigest, RepositoryError> {
    TokenDigest::from_slice(bytes)
        .ok_or_else(|| RepositoryError::Other(format!("a stored {what} digest is not 32 bytes")))
}

#[derive(Debug, Insertable, Queryable, Selectable)]
#[diesel(table_name = pending_authorizations)]
#[diesel(treat_none_as_default_value = false)]
pub(crate) struct PendingRow {
    pub id_digest: Vec<u8>,
    pub request: String,
    pub created_at: i64,
    pub expires_at: i64,
    pub user_id: Option<String>,
    pub auth_time: Option<i64>,
    pub csrf_key: Vec<u8>,
}

impl PendingRow {
    pub(crate) fn from_pending(p: &PendingAuthorization) -> Result<Self, RepositoryError> {
        let request = serde_json::to_string(&p.request).map_err(|e| {
            RepositoryError::Other(format!("cannot serialise an authorization request: {e}"))
        })?;
        Ok(Self {
            id_digest: p.id_digest.as_bytes().to_vec(),
            request,
            created_at: p.created_at,
            expires_at: p.expires_at,
            user_id: p.user_id.clone(),
            auth_time: p.auth_time,
            csrf_key: p.csrf_key.to_vec(),
        })
    }

    pub(crate) fn into_pending(self) -> Result<PendingAuthorization, RepositoryError> {
        let request: AuthorizationRequest = serde_json::from_str(&self.request).map_err(|e| {
            RepositoryError::Other(format!(
                "a stored authorization request does not parse: {e}"
            ))
        })?;
        let csrf_key = <[u8; 32]>::try_from(self.csrf_key.as_slice()).map_err(|_| {
            RepositoryError::Other("a stored pending-request CSRF key is not 32 bytes".into())
        })?;
        Ok(PendingAuthorization {
            id_digest: digest(&self.id_digest, "pending-request id")?,
            request,
            created_at: self.created_at,
            expires_at: self.expires_at,
            user_id: self.user_id,
            auth_time: self.auth_time,
            csrf_key,
        })
    }
}

#[derive(Debug, Insertable, Queryable, Selectable)]
#[diesel(table_name = authorization_codes)]
#[diesel(treat_none_as_default_value = false)]
pub(crate) struct CodeRow {
    pub digest: Vec<u8>,
    pub client_id: String,
    pub redirect_uri: Option<String>,
    pub code_challenge: String,
    pub scope: String,
    pub resources: String,
    pub user_id: String,
    pub auth_time: i64,
    pub issued_at: i64,
    pub expires_at: i64,
    pub family_id: String,
    pub used_at: Option<i64>,
}

impl CodeRow {
    pub(crate) fn from_record(r: &AuthorizationCodeRecord) -> Self {
        Self {
            digest: r.digest.as_bytes().to_vec(),
            client_id: r.client_id.clone(),
            redirect_uri: r.redirect_uri.clone(),
            code_challenge: r.code_challenge.as_str().to_owned(),
            scope: r.scope.to_scope_string(),
            // Canonical resource URIs hold no space; the granted order is kept.
            resources: r
                .resources
                .iter()
                .map(ResourceIndicator::as_str)
                .collect::<Vec<_>>()
                .join(" "),
            user_id: r.user_id.clone(),
            auth_time: r.auth_time,
            issued_at: r.issued_at,
            expires_at: r.expires_at,
            family_id: r.family_id.clone(),
            used_at: r.used_at,
        }
    }

    pub(crate) fn into_record(self) -> Result<AuthorizationCodeRecord, RepositoryError> {
        let code_challenge = CodeChallenge::from_stored(&self.code_challenge).map_err(|e| {
            RepositoryError::Other(format!("a stored code challenge is invalid: {e}"))
        })?;
        let resources = self
            .resources
            .split(' ')
            .filter(|r| !r.is_empty())
            .map(|r| {
                ResourceIndicator::parse(r).map_err(|e| {
                    RepositoryError::Other(format!("a stored resource is invalid: {e}"))
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(AuthorizationCodeRecord {
            digest: digest(&self.digest, "authorization code")?,
            client_id: self.client_id,
            redirect_uri: self.redirect_uri,
            code_challenge,
            scope: ScopeSet::from(self.scope),
            resources,
            user_id: self.user_id,
            auth_time: self.auth_time,
            issued_at: self.issued_at,
            expires_at: self.expires_at,
            family_id: self.family_id,
            used_at: self.used_at,
        })
    }
}
