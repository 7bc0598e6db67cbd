//! [`DieselAuthorizationStore`]: the domain's [`PendingAuthorizationRepository`] and
//! [`AuthorizationCodeRepository`] over the `pending_authorizations` and `authorization_codes`
//! tables.
//!
//! A code exchange is one conditional `UPDATE … SET used_at = now WHERE digest = ? AND used_at
//! IS NULL AND expires_at > now`: the database lets exactly one of two concurrent exchanges
//! change the row (PostgreSQL re-checks the condition after the first commits; SQLite writers
//! are serialised), and its row count decides who got [`ConsumeOutcome::Fresh`].

mod models;

use authz_domain::authorization::{
    AuthorizationCodeRecord, AuthorizationCodeRepository, ConsumeOutcome, PendingAuthorization,
    PendingAuthorizationRepository,
};
use authz_domain::credentials::TokenDigest;
use authz_domain::error::RepositoryError;
use diesel::prelude::*;

use self::models::{CodeRow, PendingRow};
use crate::clients::TxError;
use crate::database::{native, Database};
use crate::error::repo_err;
use crate::schema::{authorization_codes as codes, pending_authorizations as pending};

fn to_u64(n: usize) -> u64 {
    u64::try_from(n).unwrap_or(u64::MAX)
}

/// Pending authorization requests and authorization codes over a [`Database`]; implements
/// [`PendingAuthorizationRepository`] and [`AuthorizationCodeRepository`].
///
/// Errors: inserting an existing digest is [`RepositoryError::Conflict`]; attaching a user to a
/// request that is gone is [`RepositoryError::NotFound`]; an unreachable database is
/// [`RepositoryError::Unavailable`]; a stored row the domain cannot read back is
/// [`RepositoryError::Other`].
#[derive(Debug, Clone)]
pub struct DieselAuthorizationStore {
    db: Database,
}

impl DieselAuthorizationStore {
    /// A store over `db`.
    pub fn new(db: Database) -> Self {
        Self { db }
    }
}

impl PendingAuthorizationRepository for DieselAuthorizationStore {
    fn insert(&self, request: &PendingAuthorization) -> Result<(), RepositoryError> {
        let row = PendingRow::from_pending(request)?;
        self.db
            .write(|conn| {
                // Every /authorize that reaches the sign-in page runs this.
                native!(conn, |c| diesel::insert_into(pending::table)
                    .values(&row)
                    .execute(c))?;
                Ok::<_, TxError>(())
            })
            .map_err(Into::into)
    }

    fn find(&self, digest: &TokenDigest) -> Result<Option<PendingAuthorization>, RepositoryError> {
        let row = self
            .db
            .read(|conn| {
                native!(conn, |c| pending::table
                    .find(digest.as_bytes().as_slice())
                    .select(PendingRow::as_select())
                    .first(c)
                    .optional())
            })
            .map_err(repo_err)?;
        row.map(PendingRow::into_pending).transpose()
    }

    fn attach_user(
        &self,
        digest: &TokenDigest,
        user_id: &str,
        auth_time: i64,
    ) -> Result<(), RepositoryError> {
        self.db
            .write(|conn| {
                let n = diesel::update(pending::table.find(digest.as_bytes().as_slice()))
                    .set((
                        pending::user_id.eq(user_id),
                        pending::auth_time.eq(auth_time),
                    ))
                    .execute(conn)?;
                if n == 0 {
                    return Err(TxError::Refused(RepositoryError::NotFound(
                        "pending request".into(),
                    )));
                }
                Ok(())
            })
            .map_err(Into::into)
    }

    fn delete(&self, digest: &TokenDigest) -> Result<bool, RepositoryError> {
        self.db
            .write(|conn| {
                // Of two concurrent approvals or denials only one deletes the row.
                let n = native!(conn, |c| diesel::delete(
                    pending::table.find(digest.as_bytes().as_slice())
                )
                .execute(c))?;
                Ok::<_, TxError>(n == 1)
            })
            .map_err(Into::into)
    }

    fn delete_expired(&self, now: i64) -> Result<u64, RepositoryError> {
        self.db
            .write(|conn| {
                // A request is expired from `expires_at` on (`PendingAuthorization::is_expired`).
                let n = diesel::delete(pending::table.filter(pending::expires_at.le(now)))
                    .execute(conn)?;
                Ok::<_, TxError>(to_u64(n))
            })
            .map_err(Into::into)
    }
}

impl AuthorizationCodeRepository for DieselAuthorizationStore {
    fn insert(&self, record: &AuthorizationCodeRecord) -> Result<(), RepositoryError> {
        let row = CodeRow::from_record(record);
        self.db
            .write(|conn| {
                native!(conn, |c| diesel::insert_into(codes::table)
                    .values(&row)
                    .execute(c))?;
                Ok::<_, TxError>(())
            })
            .map_err(Into::into)
    }

    fn consume(&self, digest: &TokenDigest, now: i64) -> Result<ConsumeOutcome, RepositoryError> {
        let key = digest.as_bytes().as_slice();
        let (marked, row) = self
            .db
            .write(|conn| {
                // The row count decides: only one exchange can turn `used_at` from NULL to `now`;
                // an expired unused code is not marked (it stays `Expired`, not `AlreadyUsed`).
                let marked = native!(&mut *conn, |c| diesel::update(
                    codes::table
                        .find(key)
                        .filter(codes::used_at.is_null())
                        .filter(codes::expires_at.gt(now))
                )
                .set(codes::used_at.eq(now))
                .execute(c))?;
                let row = native!(conn, |c| codes::table
                    .find(key)
                    .select(CodeRow::as_select())
                    .first(c)
                    .optional())?;
                Ok::<_, TxError>((marked == 1, row))
            })
            .map_err(RepositoryError::from)?;
        let Some(row) = row else {
            return Ok(ConsumeOutcome::Unknown);
        };
        let record = row.into_record()?;
        Ok(if marked {
            ConsumeOutcome::Fresh(record)
        } else if record.used_at.is_some() {
            ConsumeOutcome::AlreadyUsed(record)
        } else {
            ConsumeOutcome::Expired(record)
        })
    }

    fn delete_expired(&self, before: i64) -> Result<u64, RepositoryError> {
        self.db
            .write(|conn| {
                let n = diesel::delete(codes::table.filter(codes::expires_at.lt(before)))
                    .execute(conn)?;
                Ok::<_, TxError>(to_u64(n))
            })
            .map_err(Into::into)
    }
}
