//! Row types of `users`, `sessions` and `consents`.

use authz_domain::client_registration::RepositoryError;
use authz_domain::credentials::TokenDigest;
use authz_domain::users::{ConsentRecord, Session, User, UserId, Username};
use diesel::prelude::*;

use crate::schema::{consents, sessions, users};

#[derive(Debug, Insertable, Queryable, Selectable)]
#[diesel(table_name = users)]
#[diesel(treat_none_as_default_value = false)]
pub(crate) struct UserRow {
    pub id: String,
    pub username: String,
    pub username_key: String,
    pub display_name: Option<String>,
    pub password_hash: String,
    pub is_disabled: bool,
    pub created_at: i64,
    pub updated_at: i64,
    pub password_changed_at: i64,
}

impl UserRow {
    pub(crate) fn from_user(u: &User) -> Self {
        Self {
            id: u.id.as_str().to_owned(),
            username: u.username.as_str().to_owned(),
            username_key: u.username.key().to_owned(),
            display_name: u.display_name.clone(),
            password_hash: u.password_hash.clone(),
            is_disabled: u.is_disabled,
            created_at: u.created_at,
            updated_at: u.updated_at,
            password_changed_at: u.password_changed_at,
        }
    }

    pub(crate) fn into_user(self) -> User {
        User {
            id: UserId::from_stored(self.id),
            username: Username::from_stored(self.username, self.username_key),
            display_name: self.display_name,
            password_hash: self.password_hash,
            is_disabled: self.is_disabled,
            created_at: self.created_at,
            updated_at: self.updated_at,
            password_changed_at: self.password_changed_at,
        }
    }
}

#[derive(Debug, Insertable, Queryable, Selectable)]
#[diesel(table_name = sessions)]
pub(crate) struct SessionRow {
    pub digest: Vec<u8>,
    pub user_id: String,
    pub auth_time: i64,
    pub created_at: i64,
    pub last_seen_at: i64,
    pub idle_expires_at: i64,
    pub absolute_expires_at: i64,
}

impl SessionRow {
    pub(crate) fn from_session(s: &Session) -> Self {
        Self {
            digest: s.digest.as_bytes().to_vec(),
            user_id: s.user_id.as_str().to_owned(),
            auth_time: s.auth_time,
            created_at: s.created_at,
            last_seen_at: s.last_seen_at,
            idle_expires_at: s.idle_expires_at,
            absolute_expires_at: s.absolute_expires_at,
        }
    }

    pub(crate) fn into_session(self) -> Result<Session, RepositoryError> {
        let digest = TokenDigest::from_slice(&self.digest).ok_or_else(|| {
            RepositoryError::Other("a stored session digest is not 32 bytes".into())
        })?;
        Ok(Session {
            digest,
            user_id: UserId::from_stored(self.user_id),
            auth_time: self.auth_time,
            created_at: self.created_at,
            last_seen_at: self.last_seen_at,
            idle_expires_at: self.idle_expires_at,
            absolute_expires_at: self.absolute_expires_at,
        })
    }
}

#[derive(Debug, Insertable, Queryable, Selectable)]
#[diesel(table_name = consents)]
pub(crate) struct ConsentRow {
    pub user_id: String,
    pub client_id: String,
    pub scope: String,
    pub resources: String,
    pub granted_at: i64,
}

impl ConsentRow {
    pub(crate) fn from_record(r: &ConsentRecord) -> Self {
        Self {
            user_id: r.user_id.as_str().to_owned(),
            client_id: r.client_id.clone(),
            scope: r.scope_text(),
            resources: r.resources_text(),
            granted_at: r.granted_at,
        }
    }

    pub(crate) fn into_record(self) -> Result<ConsentRecord, RepositoryError> {
        let (scope, resources) = ConsentRecord::parse_stored(&self.scope, &self.resources)?;
        Ok(ConsentRecord {
            user_id: UserId::from_stored(self.user_id),
            client_id: self.client_id,
            scope,
            resources,
            granted_at: self.granted_at,
        })
    }
}
