//! [`IdempotencyStore`] over diesel: `idempotency_records`, one row per (scope, key) lookup.

use authz_domain::error::RepositoryError;
use authz_domain::registration::{IdempotencyRecord, IdempotencyStore};
use diesel::prelude::*;

use crate::database::{native, Database};
use crate::error::{diesel_err, repo_err, StorageError};
use crate::schema::idempotency_records as records;

/// The domain's [`IdempotencyStore`] over a [`Database`].
#[derive(Debug, Clone)]
pub struct DieselIdempotencyStore {
    db: Database,
}

impl DieselIdempotencyStore {
    /// A store over `db`.
    pub fn new(db: Database) -> Self {
        Self { db }
    }
}

#[derive(Debug, Queryable, Selectable)]
#[diesel(table_name = records)]
struct RecordRow {
    lookup: Vec<u8>,
    fingerprint: Vec<u8>,
    created_at: i64,
    expires_at: i64,
    status: Option<i64>,
    sealed_response: Option<Vec<u8>>,
}

fn digest(bytes: &[u8], what: &str) -> Result<[u8; 32], RepositoryError> {
    bytes
        .try_into()
        .map_err(|_| RepositoryError::Other(format!("a stored idempotency {what} is not 32 bytes")))
}

impl RecordRow {
    fn into_record(self) -> Result<IdempotencyRecord, RepositoryError> {
        let response = match (self.status, self.sealed_response) {
            (Some(status), Some(sealed)) => Some((
                u16::try_from(status).map_err(|_| {
                    RepositoryError::Other("a stored idempotency status is out of range".into())
                })?,
                sealed,
            )),
            _ => None,
        };
        Ok(IdempotencyRecord {
            lookup: digest(&self.lookup, "lookup")?,
            fingerprint: digest(&self.fingerprint, "fingerprint")?,
            created_at: self.created_at,
            expires_at: self.expires_at,
            response,
        })
    }
}

/// Why `begin` stopped: a row in the way, or a failure.
enum BeginError {
    Db(diesel::result::Error),
    Storage(StorageError),
}

impl From<diesel::result::Error> for BeginError {
    fn from(e: diesel::result::Error) -> Self {
        Self::Db(e)
    }
}

impl From<StorageError> for BeginError {
    fn from(e: StorageError) -> Self {
        Self::Storage(e)
    }
}

impl IdempotencyStore for DieselIdempotencyStore {
    fn begin(
        &self,
        record: &IdempotencyRecord,
        now: i64,
    ) -> Result<Option<IdempotencyRecord>, RepositoryError> {
        let result = self.db.write(|conn| {
            let existing: Option<RecordRow> = native!(&mut *conn, |c| records::table
                .find(record.lookup.as_slice())
                .select(RecordRow::as_select())
                .first(c)
                .optional())?;
            if let Some(row) = existing {
                if row.expires_at > now {
                    return Ok(Some(row));
                }
                // Expired (a finished window, or an in-flight request that died): the key is new.
                diesel::delete(records::table.find(record.lookup.as_slice())).execute(conn)?;
            }
            // The primary key decides between concurrent first uses (PostgreSQL; SQLite writers
            // are serialised): the loser's insert fails and it answers "in flight".
            native!(&mut *conn, |c| diesel::insert_into(records::table)
                .values((
                    records::lookup.eq(record.lookup.as_slice()),
                    records::fingerprint.eq(record.fingerprint.as_slice()),
                    records::created_at.eq(record.created_at),
                    records::expires_at.eq(record.expires_at),
                    records::status.eq(None::<i64>),
                    records::sealed_response.eq(None::<Vec<u8>>),
                ))
                .execute(c))?;
            Ok::<_, BeginError>(None)
        });
        match result {
            Ok(None) => Ok(None),
            Ok(Some(row)) => row.into_record().map(Some),
            Err(BeginError::Db(diesel::result::Error::DatabaseError(
                diesel::result::DatabaseErrorKind::UniqueViolation,
                _,
            ))) => Ok(Some(IdempotencyRecord {
                response: None,
                ..record.clone()
            })),
            Err(BeginError::Db(e)) => Err(diesel_err(e)),
            Err(BeginError::Storage(e)) => Err(repo_err(e)),
        }
    }

    fn complete(
        &self,
        lookup: &[u8; 32],
        status: u16,
        sealed: &[u8],
        expires_at: i64,
    ) -> Result<(), RepositoryError> {
        self.db
            .write(|conn| {
                diesel::update(records::table.find(lookup.as_slice()))
                    .set((
                        records::status.eq(Some(i64::from(status))),
                        records::sealed_response.eq(Some(sealed)),
                        records::expires_at.eq(expires_at),
                    ))
                    .execute(conn)
                    .map_err(StorageError::from)
            })
            .map_err(repo_err)?;
        Ok(())
    }

    fn release(&self, lookup: &[u8; 32]) -> Result<(), RepositoryError> {
        self.db
            .write(|conn| {
                diesel::delete(
                    records::table
                        .find(lookup.as_slice())
                        .filter(records::status.is_null()),
                )
                .execute(conn)
                .map_err(StorageError::from)
            })
            .map_err(repo_err)?;
        Ok(())
    }

    fn purge_expired(&self, now: i64, limit: u32) -> Result<u64, RepositoryError> {
        let deleted = self
            .db
            .write(|conn| {
                // A bounded batch on the expiry index, so one purge never holds the write lock
                // for long.
                let expired: Vec<Vec<u8>> = records::table
                    .filter(records::expires_at.le(now))
                    .select(records::lookup)
                    .limit(i64::from(limit))
                    .load(conn)?;
                if expired.is_empty() {
                    return Ok(0);
                }
                diesel::delete(records::table.filter(records::lookup.eq_any(&expired)))
                    .execute(conn)
                    .map_err(StorageError::from)
            })
            .map_err(repo_err)?;
        Ok(u64::try_from(deleted).unwrap_or(0))
    }
}
