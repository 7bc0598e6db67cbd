//! Row types of `refresh_families` and `refresh_tokens`.

use std::collections::BTreeSet;

use authz_domain::credentials::TokenDigest;
use authz_domain::error::RepositoryError;
use authz_domain::token::{RefreshFamily, RefreshTokenRecord};
use diesel::prelude::*;

use crate::schema::{refresh_families, refresh_tokens};

/// A set as its sorted items separated by single spaces (scope tokens and resource URIs hold no
/// space).
fn join(set: &BTreeSet<String>) -> String {
    set.iter().map(String::as_str).collect::<Vec<_>>().join(" ")
}

fn split(text: &str) -> BTreeSet<String> {
    text.split(' ')
        .filter(|t| !t.is_empty())
        .map(str::to_owned)
        .collect()
}

#[derive(Debug, Insertable, Queryable, Selectable)]
#[diesel(table_name = refresh_families)]
#[diesel(treat_none_as_default_value = false)]
pub(crate) struct FamilyRow {
    pub family_id: String,
    pub client_id: String,
    pub user_id: String,
    pub scope: String,
    pub resources: String,
    pub auth_time: i64,
    pub created_at: i64,
    pub expires_at: i64,
    pub revoked_at: Option<i64>,
}

impl FamilyRow {
    pub(crate) fn from_family(f: &RefreshFamily) -> Self {
        Self {
            family_id: f.family_id.clone(),
            client_id: f.client_id.clone(),
            user_id: f.user_id.clone(),
            scope: join(&f.scope),
            resources: join(&f.resources),
            auth_time: f.auth_time,
            created_at: f.created_at,
            expires_at: f.expires_at,
            revoked_at: f.revoked_at,
        }
    }

    pub(crate) fn into_family(self) -> RefreshFamily {
        RefreshFamily {
            scope: split(&self.scope),
            resources: split(&self.resources),
            family_id: self.family_id,
            client_id: self.client_id,
            user_id: self.user_id,
            auth_time: self.auth_time,
            created_at: self.created_at,
            expires_at: self.expires_at,
            revoked_at: self.revoked_at,
        }
    }
}

#[derive(Debug, Insertable, Queryable, Selectable)]
#[diesel(table_name = refresh_tokens)]
#[diesel(treat_none_as_default_value = false)]
pub(crate) struct RefreshTokenRow {
    pub token_digest: Vec<u8>,
    pub family_id: String,
    pub issued_at: i64,
    pub expires_at: i64,
    pub rotated_at: Option<i64>,
}

impl RefreshTokenRow {
    pub(crate) fn from_record(r: &RefreshTokenRecord) -> Self {
        Self {
            token_digest: r.digest.as_bytes().to_vec(),
            family_id: r.family_id.clone(),
            issued_at: r.issued_at,
            expires_at: r.expires_at,
            rotated_at: r.rotated_at,
        }
    }

    pub(crate) fn into_record(self) -> Result<RefreshTokenRecord, RepositoryError> {
        let digest = TokenDigest::from_slice(&self.token_digest).ok_or_else(|| {
            RepositoryError::Other("a stored refresh token digest is not 32 bytes".into())
        })?;
        Ok(RefreshTokenRecord {
            digest,
            family_id: self.family_id,
            issued_at: self.issued_at,
            expires_at: self.expires_at,
            rotated_at: self.rotated_at,
        })
    }
}
