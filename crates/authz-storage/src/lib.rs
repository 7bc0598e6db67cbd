//! # authz-storage
//!
//! Diesel storage for the authorization server over SQLite or PostgreSQL, chosen by the URL
//! (`sqlite://PATH`, `postgres://…`). One schema serves both backends; migrations are embedded per
//! backend and run by [`Database::migrate`]. Repositories implement the ports that
//! `authz-domain` declares; every write that touches more than one row is one transaction.

mod audit;
mod authorization;
pub mod clients;
mod database;
mod error;
mod idempotency;
mod keys;
pub mod schema;
#[cfg(feature = "test-support")]
pub mod test_support;
mod throttle;
mod tokens;
pub mod users;

pub use audit::DieselAuditLog;
pub use authorization::DieselAuthorizationStore;
pub use database::{
    redact_url, Backend, Database, DatabaseOptions, DbConnection, SqliteSynchronous,
};
pub use error::StorageError;
pub use idempotency::DieselIdempotencyStore;
pub use keys::DieselSigningKeys;
pub use throttle::DieselSignInThrottle;
pub use tokens::DieselTokenStore;
pub use users::DieselUserStore;
