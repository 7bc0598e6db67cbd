//! [`DieselClientRepository`]: clients, registration access tokens and their audit records in SQL.

use authz_domain::audit::AuditEvent;
use authz_domain::clients::{
    Client, ClientRepository, RegistrationTokenRecord, TokenLookup, TokenRotation,
};
use authz_domain::credentials::TokenDigest;
use authz_domain::error::RepositoryError;
use diesel::prelude::*;

use super::models::{ClientRow, NewAuditRow, NewClientRow, NewTokenRow, TokenRow};
use crate::database::{native, Database, DbConnection};
use crate::error::{diesel_err, repo_err, StorageError};
use crate::schema::{
    audit_events, client_activity, clients, consents, deleted_clients,
    registration_access_tokens as tokens,
};

/// Why a transaction stopped; every variant rolls it back.
#[derive(Debug)]
pub(crate) enum TxError {
    Db(diesel::result::Error),
    Storage(StorageError),
    Refused(RepositoryError),
}

impl From<diesel::result::Error> for TxError {
    fn from(e: diesel::result::Error) -> Self {
        Self::Db(e)
    }
}

impl From<StorageError> for TxError {
    fn from(e: StorageError) -> Self {
        Self::Storage(e)
    }
}

impl From<TxError> for RepositoryError {
    fn from(e: TxError) -> Self {
        match e {
            TxError::Db(e) => diesel_err(e),
            TxError::Storage(e) => repo_err(e),
            TxError::Refused(e) => e,
        }
    }
}

pub(crate) fn insert_audit(conn: &mut DbConnection, event: &AuditEvent) -> Result<(), TxError> {
    let row = NewAuditRow::from_event(event);
    native!(conn, |c| diesel::insert_into(audit_events::table)
        .values(&row)
        .execute(c))?;
    Ok(())
}

/// Inserts a new client and its first registration access token, refusing an id ever issued
/// before; part of the caller's transaction.
pub(crate) fn insert_client(
    conn: &mut DbConnection,
    row: &NewClientRow<'_>,
    token_row: &NewTokenRow<'_>,
) -> Result<(), TxError> {
    // Every registration runs these: on cached native statements (see `native!`).
    let tombstones: i64 = native!(&mut *conn, |c| deleted_clients::table
        .filter(deleted_clients::client_id.eq(row.client_id))
        .count()
        .get_result(c))?;
    if tombstones > 0 {
        return Err(revoked("the client id was issued before"));
    }
    native!(&mut *conn, |c| diesel::insert_into(clients::table)
        .values(row)
        .execute(c))?;
    native!(&mut *conn, |c| diesel::insert_into(tokens::table)
        .values(token_row)
        .execute(c))?;
    Ok(())
}

/// Deletes a client's tokens, consents and row (grants go by cascade) and keeps its id from
/// being reissued; part of the caller's transaction, which has locked the row.
pub(crate) fn delete_client_rows(
    conn: &mut DbConnection,
    client_id: &str,
    at: i64,
) -> Result<(), TxError> {
    diesel::delete(tokens::table.filter(tokens::client_id.eq(client_id))).execute(conn)?;
    // Remembered consents go with the client, in this transaction (`consents` has no foreign
    // key to `clients`).
    diesel::delete(consents::table.filter(consents::client_id.eq(client_id))).execute(conn)?;
    diesel::delete(client_activity::table.find(client_id)).execute(conn)?;
    diesel::delete(clients::table.find(client_id)).execute(conn)?;
    diesel::insert_into(deleted_clients::table)
        .values((
            deleted_clients::client_id.eq(client_id),
            deleted_clients::deleted_at.eq(at),
        ))
        .execute(conn)?;
    Ok(())
}

/// Whether `digest` is an unrevoked token of `client_id` (expiry was checked when it was presented).
fn token_is_live(
    conn: &mut DbConnection,
    digest: &TokenDigest,
    client_id: &str,
) -> Result<bool, TxError> {
    let n: i64 = tokens::table
        .filter(tokens::token_digest.eq(digest.as_bytes().as_slice()))
        .filter(tokens::client_id.eq(client_id))
        .filter(tokens::revoked_at.is_null())
        .count()
        .get_result(conn)?;
    Ok(n == 1)
}

pub(crate) fn revoked(reason: &str) -> TxError {
    TxError::Refused(RepositoryError::Conflict(reason.into()))
}

pub(crate) fn gone(client_id: &str) -> TxError {
    TxError::Refused(RepositoryError::NotFound(format!("client {client_id}")))
}

/// Why a revision-checked update changed nothing: the client is gone, or it moved on.
pub(crate) fn missing_or_stale(conn: &mut DbConnection, client_id: &str) -> TxError {
    let exists = clients::table
        .find(client_id)
        .count()
        .get_result::<i64>(conn);
    match exists {
        Ok(0) => gone(client_id),
        Ok(_) => TxError::Refused(RepositoryError::Stale(format!("client {client_id}"))),
        Err(e) => TxError::Db(e),
    }
}

/// The domain's [`ClientRepository`] over a [`Database`].
#[derive(Debug, Clone)]
pub struct DieselClientRepository {
    pub(crate) db: Database,
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
        audit: &AuditEvent,
    ) -> Result<(), RepositoryError> {
        let row = NewClientRow::from_client(client)?;
        let token_row = NewTokenRow::from_record(token);
        self.db
            .write(|conn| {
                insert_client(conn, &row, &token_row)?;
                insert_audit(conn, audit)
            })
            .map_err(Into::into)
    }

    fn find(&self, client_id: &str) -> Result<Option<Client>, RepositoryError> {
        let row = self
            .db
            .read(|conn| {
                // Every token, introspection and revocation request runs this (client
                // authentication): on a cached native statement (see `native!`).
                native!(conn, |c| clients::table
                    .find(client_id)
                    .select(ClientRow::as_select())
                    .first(c)
                    .optional())
            })
            .map_err(repo_err)?;
        row.map(ClientRow::into_client).transpose()
    }

    fn find_by_token(&self, digest: &TokenDigest) -> Result<Option<TokenLookup>, RepositoryError> {
        // One statement: a concurrent delete is seen entirely or not at all.
        let row = self
            .db
            .read(|conn| {
                // The hottest query of all (every RFC 7592 request): run it natively.
                native!(conn, |c| tokens::table
                    .left_join(clients::table)
                    .filter(tokens::token_digest.eq(digest.as_bytes().as_slice()))
                    .select((TokenRow::as_select(), Option::<ClientRow>::as_select()))
                    .first::<(TokenRow, Option<ClientRow>)>(c)
                    .optional())
            })
            .map_err(repo_err)?;
        let Some((token, client)) = row else {
            return Ok(None);
        };
        let (token, revoked_at) = token.into_record()?;
        Ok(Some(TokenLookup {
            token,
            revoked_at,
            client: client.map(ClientRow::into_client).transpose()?,
        }))
    }

    fn update(
        &self,
        client: &Client,
        presented: Option<&TokenDigest>,
        rotation: Option<&TokenRotation>,
        audit: &AuditEvent,
    ) -> Result<(), RepositoryError> {
        let row = NewClientRow::from_client(client)?;
        self.db
            .write(|conn| {
                // Updating the row first also locks it (PostgreSQL), so concurrent changes of one
                // client queue here and each later statement sees the winner's commit. The
                // revision check refuses a change computed from a state that is no longer current.
                let updated = diesel::update(
                    clients::table
                        .find(&client.client_id)
                        .filter(clients::revision.eq(client.revision)),
                )
                .set((
                    clients::client_name.eq(row.client_name),
                    clients::token_endpoint_auth_method.eq(row.token_endpoint_auth_method),
                    clients::secret_hash.eq(row.secret_hash),
                    clients::secret_expires_at.eq(row.secret_expires_at),
                    clients::metadata.eq(&row.metadata),
                    clients::updated_at.eq(row.updated_at),
                    clients::is_locked.eq(row.is_locked),
                    clients::settings.eq(&row.settings),
                    clients::previous_secret_hash.eq(row.previous_secret_hash),
                    clients::previous_secret_valid_until.eq(row.previous_secret_valid_until),
                    clients::search_text.eq(&row.search_text),
                    clients::revision.eq(clients::revision + 1),
                ))
                .execute(conn)?;
                if updated == 0 {
                    return Err(missing_or_stale(conn, &client.client_id));
                }
                match rotation {
                    Some(rotation) => {
                        let revoked_now = diesel::update(
                            tokens::table
                                .filter(
                                    tokens::token_digest.eq(rotation.revoke.as_bytes().as_slice()),
                                )
                                .filter(tokens::client_id.eq(&client.client_id))
                                .filter(tokens::revoked_at.is_null()),
                        )
                        .set(tokens::revoked_at.eq(rotation.issue.issued_at))
                        .execute(conn)?;
                        if revoked_now != 1 {
                            return Err(revoked(
                                "the presented token was revoked by a concurrent change",
                            ));
                        }
                        diesel::insert_into(tokens::table)
                            .values(NewTokenRow::from_record(&rotation.issue))
                            .execute(conn)?;
                    }
                    None => {
                        if let Some(presented) = presented {
                            if !token_is_live(conn, presented, &client.client_id)? {
                                return Err(revoked(
                                    "the presented token was revoked by a concurrent change",
                                ));
                            }
                        }
                    }
                }
                insert_audit(conn, audit)
            })
            .map_err(Into::into)
    }

    fn delete(
        &self,
        client_id: &str,
        presented: Option<&TokenDigest>,
        audit: &AuditEvent,
    ) -> Result<(), RepositoryError> {
        self.db
            .write(|conn| {
                // Lock the row first (see `update`), then check the token against committed state.
                let touched = diesel::update(clients::table.find(client_id))
                    .set(clients::updated_at.eq(clients::updated_at))
                    .execute(conn)?;
                if touched == 0 {
                    return Err(gone(client_id));
                }
                if let Some(digest) = presented {
                    if !token_is_live(conn, digest, client_id)? {
                        return Err(revoked(
                            "the presented token was revoked by a concurrent change",
                        ));
                    }
                    // Locked since the caller checked: let it check again (and refuse).
                    let locked: bool = clients::table
                        .find(client_id)
                        .select(clients::is_locked)
                        .first(conn)?;
                    if locked {
                        return Err(TxError::Refused(RepositoryError::Stale(format!(
                            "client {client_id} was locked"
                        ))));
                    }
                }
                delete_client_rows(conn, client_id, audit.occurred_at)?;
                insert_audit(conn, audit)
            })
            .map_err(Into::into)
    }

    fn revoke_token(
        &self,
        digest: &TokenDigest,
        audit: &AuditEvent,
    ) -> Result<(), RepositoryError> {
        self.db
            .write(|conn| {
                diesel::update(
                    tokens::table
                        .filter(tokens::token_digest.eq(digest.as_bytes().as_slice()))
                        .filter(tokens::revoked_at.is_null()),
                )
                .set(tokens::revoked_at.eq(audit.occurred_at))
                .execute(conn)?;
                insert_audit(conn, audit)
            })
            .map_err(Into::into)
    }

    fn set_locked(
        &self,
        client_id: &str,
        locked: bool,
        audit: &AuditEvent,
    ) -> Result<(), RepositoryError> {
        self.db
            .write(|conn| {
                let n = diesel::update(clients::table.find(client_id))
                    .set((
                        clients::is_locked.eq(locked),
                        clients::updated_at.eq(audit.occurred_at),
                        clients::revision.eq(clients::revision + 1),
                    ))
                    .execute(conn)?;
                if n == 0 {
                    return Err(gone(client_id));
                }
                insert_audit(conn, audit)
            })
            .map_err(Into::into)
    }
}
