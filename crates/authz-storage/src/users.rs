//! [`DieselUserStore`]: the domain's [`UserRepository`], [`SessionRepository`] and
//! [`ConsentRepository`] over the `users`, `sessions` and `consents` tables.
//!
//! Like the client repository, every change runs in [`Database::write`] (one transaction) with
//! its audit row; a unique violation (a taken username key) becomes
//! [`RepositoryError::Conflict`].

mod models;

use authz_domain::client_registration::{AuditEvent, RepositoryError};
use authz_domain::credentials::TokenDigest;
use authz_domain::users::{
    ConsentRecord, ConsentRepository, Session, SessionRepository, User, UserId, UserPage,
    UserQuery, UserRepository, Username,
};
use diesel::prelude::*;
use diesel::upsert::excluded;

use self::models::{ConsentRow, SessionRow, UserRow};
use crate::clients::{insert_audit, TxError};
use crate::database::{native, Database};
use crate::error::repo_err;
use crate::schema::{consents, sessions, users};

fn to_i64(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

fn to_u64(n: usize) -> u64 {
    u64::try_from(n).unwrap_or(u64::MAX)
}

fn no_user(id: &UserId) -> TxError {
    TxError::Refused(RepositoryError::NotFound(format!("user {id}")))
}

/// Users, sessions and consents over a [`Database`].
#[derive(Debug, Clone)]
pub struct DieselUserStore {
    db: Database,
}

impl DieselUserStore {
    /// A store over `db`.
    pub fn new(db: Database) -> Self {
        Self { db }
    }
}

impl UserRepository for DieselUserStore {
    fn create(&self, user: &User, audit: &AuditEvent) -> Result<(), RepositoryError> {
        let row = UserRow::from_user(user);
        self.db
            .write(|conn| {
                diesel::insert_into(users::table)
                    .values(&row)
                    .execute(conn)?;
                insert_audit(conn, audit)
            })
            .map_err(Into::into)
    }

    fn find(&self, id: &UserId) -> Result<Option<User>, RepositoryError> {
        self.db
            .read(|conn| {
                // Every refresh and introspection checks the user: a cached native statement.
                native!(conn, |c| users::table
                    .find(id.as_str())
                    .select(UserRow::as_select())
                    .first(c)
                    .optional())
            })
            .map(|row| row.map(UserRow::into_user))
            .map_err(repo_err)
    }

    fn find_by_username(&self, username: &Username) -> Result<Option<User>, RepositoryError> {
        // Every sign-in runs this: on a cached native statement (see `native!`).
        self.db
            .read(|conn| {
                native!(conn, |c| users::table
                    .filter(users::username_key.eq(username.key()))
                    .select(UserRow::as_select())
                    .first(c)
                    .optional())
            })
            .map(|row| row.map(UserRow::into_user))
            .map_err(repo_err)
    }

    fn list(&self, query: &UserQuery) -> Result<UserPage, RepositoryError> {
        let (total, rows) = self
            .db
            .read(|conn| {
                let total: i64 = users::table.count().get_result(conn)?;
                // Ordered on the unique index of username_key.
                let rows: Vec<UserRow> = users::table
                    .order(users::username_key.asc())
                    .limit(to_i64(query.per_page))
                    .offset(to_i64(query.offset()))
                    .select(UserRow::as_select())
                    .load(conn)?;
                Ok((total, rows))
            })
            .map_err(repo_err)?;
        Ok(UserPage {
            users: rows.into_iter().map(UserRow::into_user).collect(),
            total: u64::try_from(total).unwrap_or(0),
        })
    }

    fn set_disabled(
        &self,
        id: &UserId,
        disabled: bool,
        audit: &AuditEvent,
    ) -> Result<(), RepositoryError> {
        self.db
            .write(|conn| {
                // Updating the user first locks its row (PostgreSQL): a concurrent sign-in's
                // session insert, which locks it too, then sees the user disabled.
                let n = diesel::update(users::table.find(id.as_str()))
                    .set((
                        users::is_disabled.eq(disabled),
                        users::updated_at.eq(audit.occurred_at),
                    ))
                    .execute(conn)?;
                if n == 0 {
                    return Err(no_user(id));
                }
                if disabled {
                    diesel::delete(sessions::table.filter(sessions::user_id.eq(id.as_str())))
                        .execute(conn)?;
                }
                insert_audit(conn, audit)
            })
            .map_err(Into::into)
    }

    fn set_password_hash(
        &self,
        id: &UserId,
        password_hash: &str,
        audit: &AuditEvent,
    ) -> Result<(), RepositoryError> {
        self.db
            .write(|conn| {
                let n = diesel::update(users::table.find(id.as_str()))
                    .set((
                        users::password_hash.eq(password_hash),
                        users::updated_at.eq(audit.occurred_at),
                        users::password_changed_at.eq(audit.occurred_at),
                    ))
                    .execute(conn)?;
                if n == 0 {
                    return Err(no_user(id));
                }
                diesel::delete(sessions::table.filter(sessions::user_id.eq(id.as_str())))
                    .execute(conn)?;
                insert_audit(conn, audit)
            })
            .map_err(Into::into)
    }
}

impl SessionRepository for DieselUserStore {
    fn insert(
        &self,
        session: &Session,
        replacing: Option<&TokenDigest>,
        audit: &AuditEvent,
    ) -> Result<(), RepositoryError> {
        let row = SessionRow::from_session(session);
        self.db
            .write(|conn| {
                // Lock the user's row while checking it is enabled (a no-op update): a concurrent
                // disable either commits first (and this sees it) or waits for this commit (and
                // then deletes this session).
                let enabled = diesel::update(
                    users::table
                        .find(session.user_id.as_str())
                        .filter(users::is_disabled.eq(false)),
                )
                .set(users::updated_at.eq(users::updated_at))
                .execute(conn)?;
                if enabled == 0 {
                    return Err(TxError::Refused(RepositoryError::NotFound(format!(
                        "user {} is disabled or gone",
                        session.user_id
                    ))));
                }
                if let Some(old) = replacing {
                    diesel::delete(sessions::table.find(old.as_bytes().as_slice()))
                        .execute(conn)?;
                }
                diesel::insert_into(sessions::table)
                    .values(&row)
                    .execute(conn)?;
                insert_audit(conn, audit)
            })
            .map_err(Into::into)
    }

    fn find(&self, digest: &TokenDigest) -> Result<Option<Session>, RepositoryError> {
        // Every interactive request runs this: on a cached native statement.
        let row = self
            .db
            .read(|conn| {
                native!(conn, |c| sessions::table
                    .find(digest.as_bytes().as_slice())
                    .select(SessionRow::as_select())
                    .first(c)
                    .optional())
            })
            .map_err(repo_err)?;
        row.map(SessionRow::into_session).transpose()
    }

    fn touch(
        &self,
        digest: &TokenDigest,
        last_seen_at: i64,
        idle_expires_at: i64,
    ) -> Result<(), RepositoryError> {
        self.db
            .write(|conn| {
                let n = diesel::update(sessions::table.find(digest.as_bytes().as_slice()))
                    .set((
                        sessions::last_seen_at.eq(last_seen_at),
                        sessions::idle_expires_at.eq(idle_expires_at),
                    ))
                    .execute(conn)?;
                if n == 0 {
                    return Err(TxError::Refused(RepositoryError::NotFound(
                        "session".into(),
                    )));
                }
                Ok(())
            })
            .map_err(Into::into)
    }

    fn delete(
        &self,
        digest: &TokenDigest,
        audit: Option<&AuditEvent>,
    ) -> Result<(), RepositoryError> {
        self.db
            .write(|conn| {
                diesel::delete(sessions::table.find(digest.as_bytes().as_slice())).execute(conn)?;
                match audit {
                    Some(audit) => insert_audit(conn, audit),
                    None => Ok(()),
                }
            })
            .map_err(Into::into)
    }

    fn delete_for_user(&self, user_id: &UserId) -> Result<u64, RepositoryError> {
        self.db
            .write(|conn| {
                Ok::<_, TxError>(to_u64(
                    diesel::delete(sessions::table.filter(sessions::user_id.eq(user_id.as_str())))
                        .execute(conn)?,
                ))
            })
            .map_err(Into::into)
    }

    fn delete_expired(&self, now: i64) -> Result<u64, RepositoryError> {
        self.db
            .write(|conn| {
                Ok::<_, TxError>(to_u64(
                    diesel::delete(
                        sessions::table.filter(
                            sessions::absolute_expires_at
                                .le(now)
                                .or(sessions::idle_expires_at.le(now)),
                        ),
                    )
                    .execute(conn)?,
                ))
            })
            .map_err(Into::into)
    }
}

impl ConsentRepository for DieselUserStore {
    fn find(
        &self,
        user_id: &UserId,
        client_id: &str,
    ) -> Result<Vec<ConsentRecord>, RepositoryError> {
        let rows = self
            .db
            .read(|conn| {
                consents::table
                    .filter(consents::user_id.eq(user_id.as_str()))
                    .filter(consents::client_id.eq(client_id))
                    .select(ConsentRow::as_select())
                    .load(conn)
            })
            .map_err(repo_err)?;
        rows.into_iter().map(ConsentRow::into_record).collect()
    }

    fn upsert(&self, record: &ConsentRecord, audit: &AuditEvent) -> Result<(), RepositoryError> {
        let row = ConsentRow::from_record(record);
        self.db
            .write(|conn| {
                // One statement on both engines (INSERT … ON CONFLICT … DO UPDATE), so two
                // concurrent grants of the same sets never fail.
                native!(&mut *conn, |c| diesel::insert_into(consents::table)
                    .values(&row)
                    .on_conflict((
                        consents::user_id,
                        consents::client_id,
                        consents::scope,
                        consents::resources,
                    ))
                    .do_update()
                    .set(consents::granted_at.eq(excluded(consents::granted_at)))
                    .execute(c))?;
                insert_audit(conn, audit)
            })
            .map_err(Into::into)
    }

    fn delete_for_user(
        &self,
        user_id: &UserId,
        audit: &AuditEvent,
    ) -> Result<u64, RepositoryError> {
        self.db
            .write(|conn| {
                let n =
                    diesel::delete(consents::table.filter(consents::user_id.eq(user_id.as_str())))
                        .execute(conn)?;
                insert_audit(conn, audit)?;
                Ok::<_, TxError>(to_u64(n))
            })
            .map_err(Into::into)
    }

    fn delete_for_client(&self, client_id: &str) -> Result<u64, RepositoryError> {
        self.db
            .write(|conn| {
                Ok::<_, TxError>(to_u64(
                    diesel::delete(consents::table.filter(consents::client_id.eq(client_id)))
                        .execute(conn)?,
                ))
            })
            .map_err(Into::into)
    }
}
