//! Wiring `/health/ready` to the database, and the warning at start when it is not ready (an
//! SQLite file the process can only read: every write would answer 503).

use std::sync::Arc;
use std::time::Duration;

use authz_http::health::{NotReady, ReadinessProbe};
use authz_storage::{Database, StorageError};

/// The probe of `database`; it gives up after the connect timeout plus a second.
pub fn probe(database: &Database, connect_timeout: Duration) -> ReadinessProbe {
    let database = database.clone();
    ReadinessProbe {
        check: Arc::new(move || {
            database
                .check_ready()
                .map_err(|e| (classify(&e), e.to_string()))
        }),
        timeout: connect_timeout + Duration::from_secs(1),
    }
}

/// Logs a warning when the database is not ready at start. Serving goes on: reads may work, and
/// the service recovers by itself once the database is back or writable again.
pub fn warn_if_not_ready(database: &Database) {
    if let Err(e) = database.check_ready() {
        match classify(&e) {
            NotReady::ReadOnly => tracing::warn!(
                error = %e,
                "the database is read-only: every write will answer 503 until the file (and its folder) are writable again; GET /health/ready reports it"
            ),
            NotReady::Unreachable => tracing::warn!(
                error = %e,
                "the database is not answering: requests will answer 503 until it does; GET /health/ready reports it"
            ),
        }
    }
}

fn classify(e: &StorageError) -> NotReady {
    if e.is_read_only() {
        NotReady::ReadOnly
    } else {
        NotReady::Unreachable
    }
}
