//! [`DieselSigningKeys`]: the domain's [`SigningKeyRepository`] over the `signing_keys` table.
//!
//! Every instance of the server reads the same records, so they all sign with and publish the
//! same keys. Private keys are stored as the domain encrypted them (AES-256-GCM under the
//! key-encryption key); this module never sees them in clear.

mod models;

use authz_domain::error::RepositoryError;
use authz_domain::keys::{SigningKeyRecord, SigningKeyRepository};
use diesel::prelude::*;

use self::models::SigningKeyRow;
use crate::clients::TxError;
use crate::database::Database;
use crate::error::repo_err;
use crate::schema::signing_keys;

/// Signing-key records over a [`Database`]; implements [`SigningKeyRepository`].
///
/// Errors: a duplicate `kid` on insert is [`RepositoryError::Conflict`]; retiring an unknown
/// `kid` is [`RepositoryError::NotFound`]; an unreachable database is
/// [`RepositoryError::Unavailable`]; a stored record the domain cannot read (unknown algorithm,
/// malformed ciphertext) is [`RepositoryError::Other`].
#[derive(Debug, Clone)]
pub struct DieselSigningKeys {
    db: Database,
}

impl DieselSigningKeys {
    /// A store over `db`.
    pub fn new(db: Database) -> Self {
        Self { db }
    }
}

impl SigningKeyRepository for DieselSigningKeys {
    fn list(&self) -> Result<Vec<SigningKeyRecord>, RepositoryError> {
        let rows = self
            .db
            .read(|conn| {
                signing_keys::table
                    .order((signing_keys::created_at.asc(), signing_keys::kid.asc()))
                    .select(SigningKeyRow::as_select())
                    .load(conn)
            })
            .map_err(repo_err)?;
        rows.into_iter().map(SigningKeyRow::into_record).collect()
    }

    fn insert(&self, record: &SigningKeyRecord) -> Result<(), RepositoryError> {
        let row = SigningKeyRow::from_record(record);
        self.db
            .write(|conn| {
                diesel::insert_into(signing_keys::table)
                    .values(&row)
                    .execute(conn)?;
                Ok::<_, TxError>(())
            })
            .map_err(Into::into)
    }

    fn retire(&self, kid: &str, retired_at: i64, remove_after: i64) -> Result<(), RepositoryError> {
        self.db
            .write(|conn| {
                let n = diesel::update(signing_keys::table.find(kid))
                    .set((
                        signing_keys::retired_at.eq(retired_at),
                        signing_keys::remove_after.eq(remove_after),
                    ))
                    .execute(conn)?;
                if n == 0 {
                    return Err(TxError::Refused(RepositoryError::NotFound(format!(
                        "signing key {kid}"
                    ))));
                }
                Ok(())
            })
            .map_err(Into::into)
    }
}
