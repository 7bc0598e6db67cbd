//! `[database]`: the URL, the pool and SQLite durability.

use garde::Validate;
use serde::{Deserialize, Serialize};

use super::validators::*;

/// `[database]`.
#[derive(Debug, Deserialize, Serialize, Validate)]
#[serde(deny_unknown_fields)]
pub struct DatabaseSettings {
    /// `sqlite://PATH` or `postgres://…`.
    #[garde(custom(database_url))]
    #[serde(serialize_with = "redacted_url")]
    pub url: String,
    /// Most open connections.
    #[garde(range(min = 1, max = 1024))]
    pub pool_size: u32,
    /// Apply migrations when serving starts.
    #[garde(skip)]
    pub migrate_on_start: bool,
    /// How long a request waits for a connection.
    #[garde(range(min = 1, max = 300))]
    pub connect_timeout_secs: u64,
    /// `normal` or `full`.
    #[garde(skip)]
    pub sqlite_synchronous: SqliteSynchronousSetting,
    /// SQLite lock wait.
    #[garde(range(max = 600_000))]
    pub sqlite_busy_timeout_ms: u64,
}

/// `database.sqlite_synchronous`.
#[derive(Debug, Clone, Copy, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum SqliteSynchronousSetting {
    /// WAL + NORMAL.
    Normal,
    /// WAL + FULL.
    Full,
}

pub(super) fn redacted_url<S: serde::Serializer>(url: &str, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&authz_storage::redact_url(url))
}

impl super::Settings {
    /// The connections the server can use at once: one per blocking thread
    /// (`workers × server.blocking_threads`) and one for the audit writer.
    /// `database.pool_size` below it makes requests wait for connections.
    pub fn connections_wanted(&self) -> usize {
        self.worker_count() * self.server.blocking_threads + 1
    }
}
