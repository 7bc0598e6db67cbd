//! [`DieselSignInThrottle`]: the domain's [`SignInThrottleRepository`] over `sign_in_throttle`.
//!
//! An update runs in one transaction: it makes sure the row exists (`INSERT … ON CONFLICT DO
//! NOTHING`), reads it (PostgreSQL: `SELECT … FOR UPDATE`; SQLite: writers are serialised by
//! [`Database::write`]) and writes the new state, so failures counted by several instances at
//! once are all counted.

use authz_domain::credentials::TokenDigest;
use authz_domain::error::RepositoryError;
use authz_domain::users::{SignInThrottleRepository, ThrottleState};
use diesel::prelude::*;

use crate::clients::TxError;
use crate::database::{native, Database, DbConnection};
use crate::error::repo_err;
use crate::schema::sign_in_throttle as throttle;

/// One row.
#[derive(Debug, Queryable, Selectable, Insertable)]
#[diesel(table_name = throttle)]
struct ThrottleRow {
    key_digest: Vec<u8>,
    failures: i64,
    last_failure_at: i64,
    locked_until: i64,
    last_locked_at: i64,
}

impl ThrottleRow {
    fn state(&self) -> ThrottleState {
        ThrottleState {
            failures: u32::try_from(self.failures.max(0)).unwrap_or(u32::MAX),
            last_failure_at: self.last_failure_at,
            locked_until: self.locked_until,
            last_locked_at: self.last_locked_at,
        }
    }

    fn new(key: &TokenDigest, state: &ThrottleState) -> Self {
        Self {
            key_digest: key.as_bytes().to_vec(),
            failures: i64::from(state.failures),
            last_failure_at: state.last_failure_at,
            locked_until: state.locked_until,
            last_locked_at: state.last_locked_at,
        }
    }
}

/// Sign-in throttle state over a [`Database`].
#[derive(Debug, Clone)]
pub struct DieselSignInThrottle {
    db: Database,
}

impl DieselSignInThrottle {
    /// A store over `db`.
    pub fn new(db: Database) -> Self {
        Self { db }
    }
}

fn lock_row(conn: &mut DbConnection, key: &[u8]) -> QueryResult<Option<ThrottleRow>> {
    match conn {
        DbConnection::Pg(c) => throttle::table
            .find(key)
            .select(ThrottleRow::as_select())
            .for_update()
            .first(c)
            .optional(),
        DbConnection::Sqlite(c) => throttle::table
            .find(key)
            .select(ThrottleRow::as_select())
            .first(c)
            .optional(),
    }
}

impl SignInThrottleRepository for DieselSignInThrottle {
    fn find(&self, key: &TokenDigest) -> Result<Option<ThrottleState>, RepositoryError> {
        self.db
            .read(|conn| {
                throttle::table
                    .find(key.as_bytes().as_slice())
                    .select(ThrottleRow::as_select())
                    .first(conn)
                    .optional()
            })
            .map(|row| row.map(|r| r.state()))
            .map_err(repo_err)
    }

    fn update(
        &self,
        key: &TokenDigest,
        update: &dyn Fn(Option<ThrottleState>) -> ThrottleState,
    ) -> Result<ThrottleState, RepositoryError> {
        let bytes = key.as_bytes().as_slice();
        self.db
            .write(|conn| {
                // A placeholder row to lock; `failures = 0, last_failure_at = 0` reads as "no
                // state" below.
                let placeholder = ThrottleRow::new(key, &ThrottleState::default());
                native!(conn, |c| diesel::insert_into(throttle::table)
                    .values(&placeholder)
                    .on_conflict_do_nothing()
                    .execute(c))?;
                let current = lock_row(conn, bytes)?
                    .map(|r| r.state())
                    .filter(|s| *s != ThrottleState::default());
                let next = update(current);
                let row = ThrottleRow::new(key, &next);
                diesel::update(throttle::table.find(bytes))
                    .set((
                        throttle::failures.eq(row.failures),
                        throttle::last_failure_at.eq(row.last_failure_at),
                        throttle::locked_until.eq(row.locked_until),
                        throttle::last_locked_at.eq(row.last_locked_at),
                    ))
                    .execute(conn)?;
                Ok::<_, TxError>(next)
            })
            .map_err(Into::into)
    }

    fn clear(&self, key: &TokenDigest) -> Result<(), RepositoryError> {
        self.db
            .write(|conn| {
                diesel::delete(throttle::table.find(key.as_bytes().as_slice())).execute(conn)?;
                Ok::<_, TxError>(())
            })
            .map_err(Into::into)
    }

    fn purge(&self, before: i64) -> Result<u64, RepositoryError> {
        self.db
            .write(|conn| {
                let n = diesel::delete(
                    throttle::table.filter(
                        throttle::last_failure_at
                            .lt(before)
                            .and(throttle::locked_until.lt(before))
                            .and(throttle::last_locked_at.lt(before)),
                    ),
                )
                .execute(conn)?;
                Ok::<_, TxError>(u64::try_from(n).unwrap_or(u64::MAX))
            })
            .map_err(Into::into)
    }
}
