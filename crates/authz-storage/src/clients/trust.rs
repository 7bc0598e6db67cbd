//! Registration trust over diesel: initial access tokens (RFC 7591 §3) and the registration that
//! spends one, and stale-client expiry.

use authz_domain::audit::AuditEvent;
use authz_domain::clients::{Client, RegistrationTokenRecord};
use authz_domain::credentials::TokenDigest;
use authz_domain::error::RepositoryError;
use authz_domain::registration::{
    InitialAccessPolicy, InitialAccessToken, InitialAccessTokenStore, StaleClientStore,
    StaleCutoffs,
};
use diesel::prelude::*;

use super::models::{NewClientRow, NewTokenRow};
use super::repository::{
    delete_client_rows, insert_audit, insert_client, DieselClientRepository, TxError,
};
use crate::database::native;
use crate::error::repo_err;
use crate::schema::{client_activity, clients, initial_access_tokens as iat};

#[derive(Debug, Queryable, Selectable, Insertable)]
#[diesel(table_name = iat)]
#[diesel(treat_none_as_default_value = false)]
struct InitialAccessTokenRow {
    id: String,
    token_digest: Vec<u8>,
    description: Option<String>,
    created_by: String,
    created_at: i64,
    expires_at: i64,
    max_uses: Option<i64>,
    uses_remaining: Option<i64>,
    policy: Option<String>,
    revoked_at: Option<i64>,
}

fn to_i64(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

impl InitialAccessTokenRow {
    fn from_token(t: &InitialAccessToken) -> Result<Self, RepositoryError> {
        Ok(Self {
            id: t.id.clone(),
            token_digest: t.digest.as_bytes().to_vec(),
            description: t.description.clone(),
            created_by: t.created_by.clone(),
            created_at: t.created_at,
            expires_at: t.expires_at,
            max_uses: t.max_uses.map(to_i64),
            uses_remaining: t.uses_remaining.map(to_i64),
            policy: if t.policy.is_empty() {
                None
            } else {
                Some(serde_json::to_string(&t.policy).map_err(|e| {
                    RepositoryError::Other(format!("serialising a token policy: {e}"))
                })?)
            },
            revoked_at: t.revoked_at,
        })
    }

    fn into_token(self) -> Result<InitialAccessToken, RepositoryError> {
        let digest = TokenDigest::from_slice(&self.token_digest).ok_or_else(|| {
            RepositoryError::Other("a stored initial access token digest is not 32 bytes".into())
        })?;
        let policy = match &self.policy {
            None => InitialAccessPolicy::default(),
            Some(json) => serde_json::from_str(json).map_err(|e| {
                RepositoryError::Other(format!(
                    "initial access token {}: stored policy: {e}",
                    self.id
                ))
            })?,
        };
        Ok(InitialAccessToken {
            id: self.id,
            digest,
            description: self.description,
            created_by: self.created_by,
            created_at: self.created_at,
            expires_at: self.expires_at,
            max_uses: self.max_uses.map(|n| u64::try_from(n).unwrap_or(0)),
            uses_remaining: self.uses_remaining.map(|n| u64::try_from(n).unwrap_or(0)),
            policy,
            revoked_at: self.revoked_at,
        })
    }
}

impl InitialAccessTokenStore for DieselClientRepository {
    fn create_initial_access_token(
        &self,
        token: &InitialAccessToken,
        audit: &AuditEvent,
    ) -> Result<(), RepositoryError> {
        let row = InitialAccessTokenRow::from_token(token)?;
        self.db
            .write(|conn| {
                diesel::insert_into(iat::table).values(&row).execute(conn)?;
                insert_audit(conn, audit)
            })
            .map_err(|e: TxError| e.into())
    }

    fn find_initial_access_token(
        &self,
        digest: &TokenDigest,
    ) -> Result<Option<InitialAccessToken>, RepositoryError> {
        let row = self
            .db
            .read(|conn| {
                // Every registration with a token runs this: on a cached native statement.
                native!(conn, |c| iat::table
                    .filter(iat::token_digest.eq(digest.as_bytes().as_slice()))
                    .select(InitialAccessTokenRow::as_select())
                    .first(c)
                    .optional())
            })
            .map_err(repo_err)?;
        row.map(InitialAccessTokenRow::into_token).transpose()
    }

    fn list_initial_access_tokens(&self) -> Result<Vec<InitialAccessToken>, RepositoryError> {
        self.db
            .read(|conn| {
                iat::table
                    .order((iat::created_at.desc(), iat::id.asc()))
                    .select(InitialAccessTokenRow::as_select())
                    .load(conn)
            })
            .map_err(repo_err)?
            .into_iter()
            .map(InitialAccessTokenRow::into_token)
            .collect()
    }

    fn revoke_initial_access_token(
        &self,
        id: &str,
        audit: &AuditEvent,
    ) -> Result<(), RepositoryError> {
        self.db
            .write(|conn| {
                let exists: i64 = iat::table.find(id).count().get_result(conn)?;
                if exists == 0 {
                    return Err(TxError::Refused(RepositoryError::NotFound(format!(
                        "initial access token {id}"
                    ))));
                }
                diesel::update(iat::table.find(id).filter(iat::revoked_at.is_null()))
                    .set(iat::revoked_at.eq(audit.occurred_at))
                    .execute(conn)?;
                insert_audit(conn, audit)
            })
            .map_err(Into::into)
    }

    fn create_client_spending(
        &self,
        token_id: &str,
        client: &Client,
        token: &RegistrationTokenRecord,
        audit: &AuditEvent,
    ) -> Result<(), RepositoryError> {
        let row = NewClientRow::from_client(client)?;
        let token_row = NewTokenRow::from_record(token);
        let now = audit.occurred_at;
        self.db
            .write(|conn| {
                // One conditional statement spends a use: concurrent registrations queue on the
                // row (PostgreSQL) or the write lock (SQLite), and the last use goes to one.
                let spent = native!(&mut *conn, |c| diesel::update(
                    iat::table
                        .find(token_id)
                        .filter(iat::revoked_at.is_null())
                        .filter(iat::expires_at.gt(now))
                        .filter(iat::uses_remaining.is_null().or(iat::uses_remaining.gt(0)))
                )
                .set(iat::uses_remaining.eq(iat::uses_remaining - 1))
                .execute(c))?;
                if spent == 0 {
                    return Err(TxError::Refused(RepositoryError::Stale(format!(
                        "initial access token {token_id} is no longer usable"
                    ))));
                }
                insert_client(conn, &row, &token_row)?;
                native!(&mut *conn, |c| diesel::insert_into(client_activity::table)
                    .values((
                        client_activity::client_id.eq(&client.client_id),
                        client_activity::initial_access_token_id.eq(token_id),
                    ))
                    .execute(c))?;
                insert_audit(conn, audit)
            })
            .map_err(Into::into)
    }
}

/// `origin = 'dynamic'` and stale under `cutoffs`, over `clients LEFT JOIN client_activity`.
macro_rules! stale_filter {
    ($query:expr, $cutoffs:expr) => {{
        let never = $cutoffs.never_used_issued_before.unwrap_or(i64::MIN);
        let unused = $cutoffs.last_used_before.unwrap_or(i64::MIN);
        $query.filter(clients::origin.eq("dynamic")).filter(
            client_activity::last_used_at
                .is_null()
                .and(
                    clients::issued_at
                        .lt(never)
                        .or(clients::issued_at.lt(unused)),
                )
                .or(client_activity::last_used_at.lt(unused)),
        )
    }};
}

impl StaleClientStore for DieselClientRepository {
    fn stale_clients(
        &self,
        cutoffs: &StaleCutoffs,
        limit: u32,
    ) -> Result<Vec<(String, Option<i64>)>, RepositoryError> {
        self.db
            .read(|conn| {
                stale_filter!(clients::table.left_join(client_activity::table), cutoffs)
                    .select((clients::client_id, client_activity::last_used_at.nullable()))
                    .limit(i64::from(limit))
                    .load::<(String, Option<i64>)>(conn)
            })
            .map_err(repo_err)
    }

    fn delete_if_stale(
        &self,
        client_id: &str,
        cutoffs: &StaleCutoffs,
        audit: &AuditEvent,
    ) -> Result<bool, RepositoryError> {
        self.db
            .write(|conn| {
                // Lock the row, then check it is still stale on committed state: a client used
                // since it was listed keeps its registration.
                let locked = diesel::update(clients::table.find(client_id))
                    .set(clients::updated_at.eq(clients::updated_at))
                    .execute(conn)?;
                if locked == 0 {
                    return Ok(false);
                }
                let still: i64 = stale_filter!(
                    clients::table
                        .left_join(client_activity::table)
                        .filter(clients::client_id.eq(client_id)),
                    cutoffs
                )
                .count()
                .get_result(conn)?;
                if still == 0 {
                    return Ok(false);
                }
                diesel::delete(
                    client_activity::table.filter(client_activity::client_id.eq(client_id)),
                )
                .execute(conn)?;
                delete_client_rows(conn, client_id, audit.occurred_at)?;
                insert_audit(conn, audit)?;
                Ok(true)
            })
            .map_err(|e: TxError| e.into())
    }
}
