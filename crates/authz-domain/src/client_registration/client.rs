//! The registered client as stored, and the records written with it.

use super::metadata::ClientMetadata;
use crate::credentials::TokenDigest;

/// How a client came to exist.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientOrigin {
    /// Through open Dynamic Client Registration (RFC 7591).
    Dynamic,
    /// Created by an administrator.
    Admin,
}

impl ClientOrigin {
    /// The stored form.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Dynamic => "dynamic",
            Self::Admin => "admin",
        }
    }

    /// Reads the stored form; unknown values read as `Dynamic`.
    pub fn from_stored(s: &str) -> Self {
        if s == "admin" {
            Self::Admin
        } else {
            Self::Dynamic
        }
    }
}

/// A registered client. Holds the secret only as its Argon2id hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Client {
    /// The server-issued identifier.
    pub client_id: String,
    /// Registered metadata, defaults applied.
    pub metadata: ClientMetadata,
    /// Argon2id PHC string of the client secret, for confidential clients.
    pub secret_hash: Option<String>,
    /// When the secret expires (Unix seconds); `0` never. Meaningless without a secret.
    pub secret_expires_at: i64,
    /// When the client id was issued (Unix seconds).
    pub issued_at: i64,
    /// When the registration last changed (Unix seconds).
    pub updated_at: i64,
    /// How the client was created.
    pub origin: ClientOrigin,
    /// An administrator locked self-management: `PUT` and `DELETE` answer 403.
    pub is_locked: bool,
}

/// A registration access token as stored: its digest, never the token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegistrationTokenRecord {
    /// SHA-256 of the token.
    pub digest: TokenDigest,
    /// The client it manages.
    pub client_id: String,
    /// When it was issued (Unix seconds).
    pub issued_at: i64,
    /// When it stops working (Unix seconds); `None` never.
    pub expires_at: Option<i64>,
}

/// A registration access token as found by its digest, with its client if that still exists.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenLookup {
    /// The token record.
    pub token: RegistrationTokenRecord,
    /// When it was revoked, if it was.
    pub revoked_at: Option<i64>,
    /// Its client; `None` if the client no longer exists.
    pub client: Option<Client>,
}

/// Replacing the presented registration access token with a new one, in the same transaction as
/// the change that rotates it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenRotation {
    /// The token to revoke.
    pub revoke: crate::credentials::TokenDigest,
    /// The token that replaces it.
    pub issue: RegistrationTokenRecord,
}
