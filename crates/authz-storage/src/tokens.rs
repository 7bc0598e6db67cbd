//! [`DieselTokenStore`]: the domain's [`RefreshTokenRepository`] and
//! [`AccessTokenRevocationRepository`] over `refresh_families`, `refresh_tokens` and
//! `revoked_access_tokens`.
//!
//! A refresh runs in one transaction that first locks its family's row (PostgreSQL:
//! `SELECT … FOR UPDATE`; SQLite: writers are serialised by [`Database::write`]) and only then
//! reads the presented token, so refreshes of one family queue and each sees the rotations
//! committed before it: two racing requests can never both rotate the same token.

mod models;

use authz_domain::credentials::TokenDigest;
use authz_domain::error::RepositoryError;
use authz_domain::token::{
    AccessTokenRevocationRepository, RefreshDecider, RefreshDecision, RefreshFamily,
    RefreshTokenRecord, RefreshTokenRepository, RefreshWrite,
};
use diesel::prelude::*;
use diesel::result::{DatabaseErrorKind, Error as DieselError};

use self::models::{FamilyRow, RefreshTokenRow};
use crate::clients::TxError;
use crate::database::{native, Database, DbConnection};
use crate::error::repo_err;
use crate::schema::{
    refresh_families as families, refresh_tokens as tokens, revoked_access_tokens,
};

fn to_u64(n: usize) -> u64 {
    u64::try_from(n).unwrap_or(u64::MAX)
}

fn refused(e: RepositoryError) -> TxError {
    TxError::Refused(e)
}

/// Reads the family row and, on PostgreSQL, locks it until the transaction ends. SQLite needs no
/// row lock: every transaction that writes runs under [`Database::write`]'s writer lock.
fn lock_family(conn: &mut DbConnection, family_id: &str) -> QueryResult<Option<FamilyRow>> {
    match conn {
        DbConnection::Pg(c) => families::table
            .find(family_id)
            .select(FamilyRow::as_select())
            .for_update()
            .first(c)
            .optional(),
        DbConnection::Sqlite(c) => families::table
            .find(family_id)
            .select(FamilyRow::as_select())
            .first(c)
            .optional(),
    }
}

/// Refresh families and their tokens, and revoked access-token ids, over a [`Database`];
/// implements [`RefreshTokenRepository`] and [`AccessTokenRevocationRepository`].
///
/// Errors: a family whose client does not exist (deleted meanwhile) is
/// [`RepositoryError::NotFound`]; an existing family id or token digest is
/// [`RepositoryError::Conflict`]; an unreachable database is [`RepositoryError::Unavailable`];
/// a stored row the domain cannot read back, or a [`RefreshWrite`] that does not fit the token
/// it was decided for, is [`RepositoryError::Other`] (and writes nothing).
#[derive(Debug, Clone)]
pub struct DieselTokenStore {
    db: Database,
}

impl DieselTokenStore {
    /// A store over `db`.
    pub fn new(db: Database) -> Self {
        Self { db }
    }
}

impl RefreshTokenRepository for DieselTokenStore {
    fn create_family(
        &self,
        family: &RefreshFamily,
        first: Option<&RefreshTokenRecord>,
    ) -> Result<(), RepositoryError> {
        if first.is_some_and(|first| first.family_id != family.family_id) {
            return Err(RepositoryError::Other(
                "the first refresh token names another family".into(),
            ));
        }
        let family_row = FamilyRow::from_family(family);
        let token_row = first.map(RefreshTokenRow::from_record);
        self.db
            .write(|conn| {
                // Every code exchange runs this: on cached native statements (see `native!`).
                native!(&mut *conn, |c| diesel::insert_into(families::table)
                    .values(&family_row)
                    .execute(c))?;
                if let Some(token_row) = &token_row {
                    native!(conn, |c| diesel::insert_into(tokens::table)
                        .values(token_row)
                        .execute(c))?;
                }
                Ok::<_, TxError>(())
            })
            .map_err(|e| match e {
                // The client was deleted after the code was issued (families reference it).
                TxError::Db(DieselError::DatabaseError(
                    DatabaseErrorKind::ForeignKeyViolation,
                    _,
                )) => RepositoryError::NotFound(format!("client {}", family.client_id)),
                other => other.into(),
            })
    }

    fn refresh(
        &self,
        digest: &TokenDigest,
        decide: &mut RefreshDecider<'_>,
    ) -> Result<(RefreshDecision, Option<RefreshFamily>), RepositoryError> {
        let key = digest.as_bytes().as_slice();
        self.db
            .write(|conn| {
                let family_id: Option<String> = native!(&mut *conn, |c| tokens::table
                    .find(key)
                    .select(tokens::family_id)
                    .first(c)
                    .optional())?;
                // Lock the family first, then read the token again: a rotation of this token that
                // committed while we waited for the lock is seen.
                let family = match family_id {
                    Some(id) => lock_family(conn, &id)?,
                    None => None,
                };
                let token = match family {
                    Some(_) => native!(&mut *conn, |c| tokens::table
                        .find(key)
                        .select(RefreshTokenRow::as_select())
                        .first(c)
                        .optional())?,
                    None => None,
                };
                let (Some(family), Some(token)) = (family, token) else {
                    // Unknown, or deleted with its family while we waited.
                    let (decision, write) = decide(None);
                    if write != RefreshWrite::Nothing {
                        return Err(refused(RepositoryError::Other(
                            "a refresh of an unknown token cannot write".into(),
                        )));
                    }
                    return Ok((decision, None));
                };
                let token = token.into_record().map_err(refused)?;
                let family = family.into_family();
                let (decision, write) = decide(Some((&token, &family)));
                match write {
                    RefreshWrite::Nothing => {}
                    RefreshWrite::Rotate { at, successor } => {
                        if successor.family_id != family.family_id {
                            return Err(refused(RepositoryError::Other(
                                "a successor refresh token must stay in its family".into(),
                            )));
                        }
                        // `rotated_at = COALESCE(rotated_at, at)`: a token rotated before (and
                        // presented again within the grace window) keeps its first rotation time.
                        native!(&mut *conn, |c| diesel::update(
                            tokens::table.find(key).filter(tokens::rotated_at.is_null())
                        )
                        .set(tokens::rotated_at.eq(at))
                        .execute(c))?;
                        let row = RefreshTokenRow::from_record(&successor);
                        native!(&mut *conn, |c| diesel::insert_into(tokens::table)
                            .values(&row)
                            .execute(c))?;
                    }
                    RefreshWrite::RevokeFamily { at } => {
                        diesel::update(
                            families::table
                                .find(&family.family_id)
                                .filter(families::revoked_at.is_null()),
                        )
                        .set(families::revoked_at.eq(at))
                        .execute(conn)?;
                    }
                }
                Ok((decision, Some(family)))
            })
            .map_err(Into::into)
    }

    fn find(
        &self,
        digest: &TokenDigest,
    ) -> Result<Option<(RefreshTokenRecord, RefreshFamily)>, RepositoryError> {
        let row = self
            .db
            .read(|conn| {
                // Every introspection and revocation of a refresh token runs this.
                native!(conn, |c| tokens::table
                    .inner_join(families::table)
                    .filter(tokens::token_digest.eq(digest.as_bytes().as_slice()))
                    .select((RefreshTokenRow::as_select(), FamilyRow::as_select()))
                    .first::<(RefreshTokenRow, FamilyRow)>(c)
                    .optional())
            })
            .map_err(repo_err)?;
        row.map(|(token, family)| Ok((token.into_record()?, family.into_family())))
            .transpose()
    }

    fn revoke_family(&self, family_id: &str, at: i64) -> Result<bool, RepositoryError> {
        self.db
            .write(|conn| {
                let n = diesel::update(
                    families::table
                        .find(family_id)
                        .filter(families::revoked_at.is_null()),
                )
                .set(families::revoked_at.eq(at))
                .execute(conn)?;
                if n == 1 {
                    return Ok(true);
                }
                // Already revoked (idempotent) or no such family.
                let exists: i64 = families::table.find(family_id).count().get_result(conn)?;
                Ok::<_, TxError>(exists > 0)
            })
            .map_err(Into::into)
    }

    fn family_is_active(&self, family_id: &str, now: i64) -> Result<bool, RepositoryError> {
        // Every introspection of an access token runs this: on a cached native statement.
        self.db
            .read(|conn| {
                native!(conn, |c| families::table
                    .find(family_id)
                    .filter(families::revoked_at.is_null())
                    .filter(families::expires_at.gt(now))
                    .select(families::family_id)
                    .first::<String>(c)
                    .optional())
            })
            .map(|found| found.is_some())
            .map_err(repo_err)
    }

    fn revoke_client_families(&self, client_id: &str, at: i64) -> Result<u64, RepositoryError> {
        self.db
            .write(|conn| {
                let n = diesel::update(
                    families::table
                        .filter(families::client_id.eq(client_id))
                        .filter(families::revoked_at.is_null())
                        .filter(families::expires_at.gt(at)),
                )
                .set(families::revoked_at.eq(at))
                .execute(conn)?;
                Ok::<_, TxError>(to_u64(n))
            })
            .map_err(Into::into)
    }

    fn revoke_user_families(&self, user_id: &str, at: i64) -> Result<u64, RepositoryError> {
        self.db
            .write(|conn| {
                let n = diesel::update(
                    families::table
                        .filter(families::user_id.eq(user_id))
                        .filter(families::revoked_at.is_null())
                        .filter(families::expires_at.gt(at)),
                )
                .set(families::revoked_at.eq(at))
                .execute(conn)?;
                Ok::<_, TxError>(to_u64(n))
            })
            .map_err(Into::into)
    }

    fn purge(&self, before: i64) -> Result<u64, RepositoryError> {
        self.db
            .write(|conn| {
                // Their tokens go with them (ON DELETE CASCADE).
                let n = diesel::delete(
                    families::table.filter(
                        families::expires_at
                            .lt(before)
                            .or(families::revoked_at.lt(before)),
                    ),
                )
                .execute(conn)?;
                Ok::<_, TxError>(to_u64(n))
            })
            .map_err(Into::into)
    }
}

impl AccessTokenRevocationRepository for DieselTokenStore {
    fn revoke(&self, jti: &str, expires_at: i64) -> Result<(), RepositoryError> {
        self.db
            .write(|conn| {
                // Idempotent on both engines: a second revocation of one jti changes nothing.
                native!(conn, |c| diesel::insert_into(revoked_access_tokens::table)
                    .values((
                        revoked_access_tokens::jti.eq(jti),
                        revoked_access_tokens::expires_at.eq(expires_at),
                    ))
                    .on_conflict(revoked_access_tokens::jti)
                    .do_nothing()
                    .execute(c))?;
                Ok::<_, TxError>(())
            })
            .map_err(Into::into)
    }

    fn is_revoked(&self, jti: &str) -> Result<bool, RepositoryError> {
        // Every introspection of an access token runs this: on a cached native statement.
        self.db
            .read(|conn| {
                native!(conn, |c| revoked_access_tokens::table
                    .find(jti)
                    .select(revoked_access_tokens::expires_at)
                    .first::<i64>(c)
                    .optional())
            })
            .map(|found| found.is_some())
            .map_err(repo_err)
    }

    fn purge_expired(&self, now: i64) -> Result<u64, RepositoryError> {
        self.db
            .write(|conn| {
                let n = diesel::delete(
                    revoked_access_tokens::table.filter(revoked_access_tokens::expires_at.lt(now)),
                )
                .execute(conn)?;
                Ok::<_, TxError>(to_u64(n))
            })
            .map_err(Into::into)
    }
}
