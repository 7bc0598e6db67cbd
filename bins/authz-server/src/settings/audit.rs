//! `[audit]`: how long the audit trail is kept.

use garde::Validate;
use serde::{Deserialize, Serialize};

/// `[audit]`.
#[derive(Debug, Deserialize, Serialize, Validate)]
#[serde(deny_unknown_fields)]
pub struct AuditSettings {
    /// Records older than this many days are deleted by the maintenance thread; `0` keeps
    /// every record forever.
    #[garde(range(max = 36_500))]
    pub retention_days: u32,
    /// Repeated refusals of one kind from one source within this many seconds are counted into
    /// one record (after the first, written at once); `0` writes one record per refusal.
    #[garde(range(max = 86_400))]
    pub aggregate_window_secs: u64,
}
