//! Storage errors. `authz-storage` reports [`StorageError`] from its own API (connecting,
//! migrating) and maps every failure inside a repository to the domain's
//! [`RepositoryError`](authz_domain::error::RepositoryError), which the use cases
//! understand. Messages may contain database detail: they are for the log, never for a client.

use authz_domain::error::RepositoryError;
use diesel::result::{DatabaseErrorKind, Error as DieselError};

/// A failure to open, configure or migrate the database.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    /// `database.url` is not one this server understands.
    #[error("database.url: {0}")]
    InvalidUrl(String),
    /// The database could not be reached or opened.
    #[error("cannot connect to the database: {0}")]
    Connect(String),
    /// The pool could not hand out a connection in time.
    #[error("no database connection available: {0}")]
    Pool(#[from] r2d2::Error),
    /// A query failed.
    #[error("database error: {0}")]
    Query(#[from] DieselError),
    /// Applying or reverting migrations failed.
    #[error("migration failed: {0}")]
    Migration(String),
    /// Every recent attempt to connect failed: the server is down or unreachable.
    #[error("the database is unreachable: {0}")]
    Unreachable(String),
    /// The database was closed (the process is exiting); no connection is opened any more.
    #[error("the database is closed")]
    Closed,
    /// Creating the SQLite file's folder failed.
    #[error("cannot create the database folder {path}: {source}")]
    Folder {
        /// The folder.
        path: String,
        /// Why.
        source: std::io::Error,
    },
}

impl StorageError {
    /// Whether this is an SQLite refusal to write a file opened read-only (permissions, a
    /// read-only mount, an immutable file).
    pub fn is_read_only(&self) -> bool {
        matches!(self, Self::Query(DieselError::DatabaseError(_, info)) if info.message().contains("readonly database"))
    }
}

pub(crate) fn repo_err(e: StorageError) -> RepositoryError {
    match e {
        StorageError::Pool(e) => RepositoryError::Unavailable(e.to_string()),
        e @ (StorageError::Unreachable(_) | StorageError::Closed) => {
            RepositoryError::Unavailable(e.to_string())
        }
        StorageError::Query(e) => diesel_err(e),
        other => RepositoryError::Other(other.to_string()),
    }
}

pub(crate) fn diesel_err(e: DieselError) -> RepositoryError {
    match &e {
        DieselError::DatabaseError(DatabaseErrorKind::UniqueViolation, _) => {
            RepositoryError::Conflict(e.to_string())
        }
        DieselError::DatabaseError(
            DatabaseErrorKind::ClosedConnection | DatabaseErrorKind::UnableToSendCommand,
            _,
        ) => RepositoryError::Unavailable(e.to_string()),
        // SQLite reports lock timeouts, a vanished file and a read-only one as unknown errors;
        // PostgreSQL going away mid-query arrives as one too.
        DieselError::DatabaseError(_, info)
            if info.message().contains("database is locked")
                || info.message().contains("disk I/O error") =>
        {
            RepositoryError::Unavailable(e.to_string())
        }
        _ if crate::database::connection_lost(&e) => RepositoryError::Unavailable(e.to_string()),
        _ => RepositoryError::Other(e.to_string()),
    }
}
