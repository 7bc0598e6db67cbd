//! Row type of `signing_keys`.

use authz_domain::error::RepositoryError;
use authz_domain::keys::{EncryptedPrivateKey, SigningAlgorithm, SigningKeyRecord};
use diesel::prelude::*;

use crate::schema::signing_keys;

#[derive(Debug, Insertable, Queryable, Selectable)]
#[diesel(table_name = signing_keys)]
#[diesel(treat_none_as_default_value = false)]
pub(crate) struct SigningKeyRow {
    pub kid: String,
    pub algorithm: String,
    pub public_jwk: String,
    pub encrypted_private_key: Vec<u8>,
    pub created_at: i64,
    pub activates_at: i64,
    pub retired_at: Option<i64>,
    pub remove_after: Option<i64>,
}

impl SigningKeyRow {
    pub(crate) fn from_record(r: &SigningKeyRecord) -> Self {
        Self {
            kid: r.kid.clone(),
            algorithm: r.algorithm.as_str().to_owned(),
            public_jwk: r.public_jwk.clone(),
            encrypted_private_key: r.encrypted_private_key.as_bytes().to_vec(),
            created_at: r.created_at,
            activates_at: r.activates_at,
            retired_at: r.retired_at,
            remove_after: r.remove_after,
        }
    }

    /// The record; [`RepositoryError::Other`] if the stored algorithm or ciphertext is not one
    /// the domain accepts (the message names the kid, never key material).
    pub(crate) fn into_record(self) -> Result<SigningKeyRecord, RepositoryError> {
        let algorithm = SigningAlgorithm::parse(&self.algorithm)
            .map_err(|e| RepositoryError::Other(format!("stored signing key {}: {e}", self.kid)))?;
        let encrypted_private_key = EncryptedPrivateKey::from_bytes(self.encrypted_private_key)
            .map_err(|e| RepositoryError::Other(format!("stored signing key {}: {e}", self.kid)))?;
        Ok(SigningKeyRecord {
            kid: self.kid,
            algorithm,
            public_jwk: self.public_jwk,
            encrypted_private_key,
            created_at: self.created_at,
            activates_at: self.activates_at,
            retired_at: self.retired_at,
            remove_after: self.remove_after,
        })
    }
}
